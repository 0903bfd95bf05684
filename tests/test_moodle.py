"""The Moodle XML quiz has the structure Moodle's importer reads (Question bank → Import →
Moodle XML; qformat_xml): <quiz> of <question type="category|numerical|multichoice">; a
category question sets the category of the questions after it (a path, "/" between
levels): one per question position, holding that question of every variant and a random
question drawing from it (each student one variant); each numerical answer with fraction 100,
its text and tolerance; choice answers with one fraction-100 option and feedback naming the
mistake of each wrong one. No Moodle XML schema or validator is published on PyPI, so the
required elements per question type are checked here, and ``lms_readers.read_moodle`` reads the
file as qformat_xml does (libxml2 in 4,096-byte pieces, whitespace-only character data dropped,
texts trimmed, categories split at "/")."""

from __future__ import annotations

import dataclasses

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracer import load
from tracer.cli import cli
from tracer.teach.quiz import generate, parse_spec, positions, tolerance
from tracer.export.moodle import moodle
from tracer.render.quiz import SetInfo

from lms_readers import read_moodle, split_category_path

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
    "random": ["name/text", "questiontext/text"],
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


def test_root_and_categories_per_question_position(quiz):
    variants, text, root = quiz
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert root.tag == "quiz"
    assert root[0].get("type") == "category"
    groups = categorised(root)
    expected = {}
    for k, q in enumerate(variants[0].questions, start=1):
        names = [f"v{v.number:04d} q{k} {v.questions[k - 1].name}" for v in variants]
        expected[f"{ROOT_CATEGORY}/question {k:02d} ({q.name.replace('/', '//')})"] = names + [f"Random question {k}"]
    assert {path: [q.find("name/text").text for q in qs] for path, qs in groups.items()} == expected


def test_moodle_import_gives_each_student_one_variant_of_each_question(quiz):
    """Read as Moodle's import reads it: every question of position k in the category of position
    k, beside one random question that draws from that category (on main the categories were per
    variant: a quiz had to take every variant's questions, or the teacher built the draw by hand)."""
    variants, text, _ = quiz
    imported = read_moodle(text.encode("utf-8"))
    by_category: dict = {}
    for q in imported:
        by_category.setdefault(q.category, []).append(q)
    assert len(by_category) == len(variants[0].questions) == 4
    for k, (path, questions) in enumerate(by_category.items(), start=1):
        assert path[:3] == ("$course$", "top", "A step-by-step backpropagation example (Mazur) (mazur.yaml, seed 1)")
        assert path[3] == f"question {k:02d} ({variants[0].questions[k - 1].name})"  # "//" read back as "/"
        drawn = [q for q in questions if q.qtype == "random"]
        assert len(drawn) == 1 and drawn[0].text == "0"  # from this category only, not its subcategories
        asked = [q for q in questions if q.qtype != "random"]
        assert [q.name for q in asked] == [f"v{v.number:04d} q{k} {v.questions[k - 1].name}" for v in variants]
        for q, v in zip(asked, variants):
            right = [a for a in q.answers if a["fraction"] == 1.0]
            assert len(right) == 1 and right[0]["text"] == v.questions[k - 1].answer


def test_question_text_reaches_moodle_whole(quiz):
    """Moodle's reader drops a piece of character data that is only whitespace: text written as
    entities came out as "…(Mazur)</b>— variant 1" with its lines run together. In CDATA, as
    Moodle's own export writes it, what Moodle stores is exactly the HTML written."""
    _, text, root = quiz
    imported = [q for q in read_moodle(text.encode("utf-8")) if q.qtype != "random"]
    written = [q.find("questiontext/text").text.strip() for q in root.findall("question") if q.get("type") in ("numerical", "multichoice")]
    assert [q.text for q in imported] == written
    assert "</b> — variant 1</p>\n<table" in imported[0].text
    assert "<![CDATA[<p><b>" in text


def test_category_names_fit_moodles_255_characters():
    title = "Homework / week 3: " + "backpropagation through a very long network title " * 8
    problem = dataclasses.replace(load(MAZUR), title=title.strip())
    variants = generate(problem, 1, seed=1, jobs=1)
    text = moodle(variants, SetInfo("m.yaml", 1, 1, parse_spec(problem), problem.title))
    paths = {q.category for q in read_moodle(text.encode("utf-8"))}
    assert paths
    for path in paths:
        assert all(len(name) <= 255 for name in path)
        assert path[2].endswith("… (m.yaml, seed 1)") and path[2].startswith("Homework / week 3: backpropagation")


def test_one_question_per_quantity(quiz):
    variants, _, root = quiz
    questions = [q for q in root.findall("question") if q.get("type") not in ("category", "random")]
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
        if q.get("type") in ("category", "random"):
            continue
        assert q.find("name/text").text
        assert q.find("questiontext").get("format") == "html"
        assert "seed" not in q.find("questiontext/text").text and "mazur.yaml" not in q.find("questiontext/text").text
        assert q.find("defaultgrade") is not None and q.find("penalty") is not None


def test_numerical_answers_carry_value_and_their_own_tolerance(tmp_path):
    problem = dataclasses.replace(load(MAZUR), randomize={**load(MAZUR).randomize, "options": 0})
    variants = generate(problem, 3, seed=1, jobs=1)
    info = SetInfo("examples/mazur.yaml", 1, 3, parse_spec(problem), problem.title)
    root = ET.fromstring(moodle(variants, info).encode("utf-8"))
    numerical = root.findall("question[@type='numerical']")
    assert not root.findall("question[@type='multichoice']")  # options: 0: open answers only
    expected = [q for asked in positions(variants) for _, q in asked]
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
    assert paths and all(p.startswith("$course$/top/Homework 3//4 (m.yaml, seed 1)/question 0") for p in paths)
    assert {split_category_path(p)[2] for p in paths} == {"Homework 3/4 (m.yaml, seed 1)"}


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
    assert root.tag == "quiz" and len([q for q in root.findall("question") if q.get("type") not in ("category", "random")]) == 8
