"""The Moodle XML quiz has the structure Moodle's importer reads (Question bank → Import →
Moodle XML): <quiz> of <question type="category|numerical|multichoice">, each numerical
answer with fraction 100, its text and tolerance; choice answers with one fraction-100
option and feedback naming the mistake of each wrong one."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracer import load
from tracer.cli import cli
from tracer.teach.quiz import generate, parse_spec
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


def test_root_and_category(quiz):
    _, text, root = quiz
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert root.tag == "quiz"
    first = root[0]
    assert first.tag == "question" and first.get("type") == "category"
    assert first.find("category/text").text == "$course$/top/backprop-tracer/mazur seed 1"
    assert {q.get("type") for q in root} == {"category", "numerical", "multichoice"}


def test_every_question_has_the_required_elements(quiz):
    _, _, root = quiz
    for q in root.findall("question"):
        if q.get("type") == "category":
            continue
        assert q.find("name/text").text
        assert q.find("questiontext").get("format") == "html"
        assert "seed 1" in q.find("questiontext/text").text
        assert q.find("defaultgrade") is not None and q.find("penalty") is not None


def test_numerical_answers_carry_value_and_tolerance(quiz):
    variants, _, root = quiz
    numerical = root.findall("question[@type='numerical']")
    expected = [q for v in variants for q in v.questions]
    assert len(numerical) == len(expected) == 12
    for element, question in zip(numerical, expected):
        answers = element.findall("answer")
        assert len(answers) == 1 and answers[0].get("fraction") == "100"
        value = float(answers[0].find("text").text)
        tol = float(answers[0].find("tolerance").text)
        assert value == float(question.answer)
        assert abs(value - question.value) <= tol  # the true value is accepted
        assert tol == pytest.approx(0.5 * 10 ** (int(f"{question.value:e}".split("e")[1]) - 3))  # 4 significant digits


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
    assert root.tag == "quiz" and len(root.findall("question[@type='numerical']")) == 8
