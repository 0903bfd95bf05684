"""The Moodle XML quiz has the structure Moodle's importer reads (Question bank → Import →
Moodle XML; qformat_xml): <quiz> of <question type="category|numerical|multichoice">; a
category question sets the category of the questions after it (a path, "/" between
levels); each numerical answer with fraction 100, its text and tolerance; choice answers
with one fraction-100 option and feedback naming the mistake of each wrong one. No Moodle
XML schema or validator is published on PyPI, so the required elements per question type
are checked here, after parsing with ElementTree as Moodle's importer parses it."""

from __future__ import annotations

import dataclasses

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracer import load
from tracer.cli import cli
from tracer.teach.quiz import generate, parse_spec, tolerance
from tracer.render.quiz import SetInfo, moodle

ROOT = Path(__file__).resolve().parent.parent
MAZUR = ROOT / "examples" / "mazur.yaml"


@pytest.fixture(scope="module")
def quiz():
    problem = load(MAZUR)
    variants = generate(problem, 3, seed=1, jobs=1)
    info = SetInfo(str(MAZUR.relative_to(ROOT)), 1, 3, parse_spec(problem), problem.title)
    text = moodle(variants, info)
    return variants, text, ET.fromstring(text.encode("utf-8"))


#: what Moodle's importer needs of each question type (qformat_xml::import_<type>)
REQUIRED = {
    "category": ["category/text"],
    "multichoice": ["name/text", "questiontext/text", "defaultgrade", "penalty", "single", "shuffleanswers", "answer/text", "answer/feedback/text"],
    "numerical": ["name/text", "questiontext/text", "defaultgrade", "penalty", "answer/text", "answer/tolerance"],
}
ROOT_CATEGORY = "$course$/top/A step-by-step backpropagation example (Mazur) (mazur.yaml, seed 1)"


def categorised(root) -> dict[str, list]:
    """Each question under the category Moodle files it in (the last category question before it)."""
    out: dict[str, list] = {}
    current = None
    for q in root.findall("question"):
        if q.get("type") == "category":
            current = q.find("category/text").text
            out.setdefault(current, [])
        else:
            assert current is not None, "a question before any category"
            out[current].append(q)
    return out


def test_root_and_categories_per_variant_and_kind(quiz):
    variants, text, root = quiz
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert root.tag == "quiz"
    assert root[0].get("type") == "category"
    groups = categorised(root)
    expected = {}
    for v in variants:
        for k, q in enumerate(v.questions, start=1):
            expected.setdefault(f"{ROOT_CATEGORY}/variant {v.number:04d}/{q.kind}", []).append(f"v{v.number:04d} q{k} {q.name}")
    assert {path: [q.find("name/text").text for q in qs] for path, qs in groups.items()} == expected
    for path, qs in groups.items():
        assert {q.get("type") for q in qs} == {path.rsplit("/", 1)[1]}


def test_one_question_per_quantity(quiz):
    variants, _, root = quiz
    questions = [q for q in root.findall("question") if q.get("type") != "category"]
    assert len(questions) == sum(len(v.questions) for v in variants) == 12
    names = [q.find("name/text").text for q in questions]
    assert len(set(names)) == len(names)


def test_every_question_type_has_what_the_importer_needs(quiz):
    _, _, root = quiz
    for q in root.findall("question"):
        for path in REQUIRED[q.get("type")]:
            assert q.find(path) is not None, (q.get("type"), path)
        if q.get("type") != "category":
            assert q.find("questiontext").get("format") == "html"
            assert float(q.find("defaultgrade").text) == 1.0


def test_every_question_has_the_required_elements(quiz):
    _, _, root = quiz
    for q in root.findall("question"):
        if q.get("type") == "category":
            continue
        assert q.find("name/text").text
        assert q.find("questiontext").get("format") == "html"
        assert "seed 1" in q.find("questiontext/text").text
        assert q.find("defaultgrade") is not None and q.find("penalty") is not None


def test_numerical_answers_carry_value_and_their_own_tolerance(tmp_path):
    problem = dataclasses.replace(load(MAZUR), randomize={**load(MAZUR).randomize, "options": 0})
    variants = generate(problem, 3, seed=1, jobs=1)
    info = SetInfo("examples/mazur.yaml", 1, 3, parse_spec(problem), problem.title)
    root = ET.fromstring(moodle(variants, info).encode("utf-8"))
    numerical = root.findall("question[@type='numerical']")
    assert not root.findall("question[@type='multichoice']")  # options: 0: open answers only
    expected = [q for v in variants for q in v.questions]
    assert len(numerical) == len(expected) == 12
    for element, question in zip(numerical, expected):
        answers = element.findall("answer")
        assert len(answers) == 1 and answers[0].get("fraction") == "100"
        value = float(answers[0].find("text").text)
        tol = float(answers[0].find("tolerance").text)
        assert value == float(question.answer)
        assert tol == question.allowance.tolerance  # the propagated rounding, not half a unit
        assert tol > float(tolerance(question.value, 4))
        assert abs(value - question.value) <= tol
        assert f"within ±{question.tolerance} are accepted" in element.find("questiontext/text").text


def test_a_slash_in_the_title_stays_one_category_level():
    problem = dataclasses.replace(load(MAZUR), title="Homework 3/4")
    variants = generate(problem, 1, seed=1, jobs=1)
    root = ET.fromstring(moodle(variants, SetInfo("m.yaml", 1, 1, parse_spec(problem), problem.title)).encode("utf-8"))
    paths = [q.find("category/text").text for q in root.findall("question[@type='category']")]
    assert paths and all(p.startswith("$course$/top/Homework 3//4 (m.yaml, seed 1)/variant 0001/") for p in paths)


def test_multichoice_has_one_right_option_and_explained_wrong_ones(quiz):
    _, _, root = quiz
    choices = root.findall("question[@type='multichoice']")
    assert choices
    for element in choices:
        assert element.find("single").text == "true"
        answers = element.findall("answer")
        fractions = [a.get("fraction") for a in answers]
        assert fractions.count("100") == 1 and fractions.count("0") == len(answers) - 1
        for a in answers:
            float(a.find("text").text)
            feedback = a.find("feedback/text").text
            assert feedback == "Right." if a.get("fraction") == "100" else feedback.startswith("This option ")


def test_cli_writes_a_parseable_moodle_file(tmp_path):
    result = CliRunner().invoke(cli, ["quiz", str(MAZUR), "--count", "2", "-o", str(tmp_path), "--formats", "moodle", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    root = ET.parse(tmp_path / "moodle.xml").getroot()
    assert root.tag == "quiz" and len([q for q in root.findall("question") if q.get("type") != "category"]) == 8
