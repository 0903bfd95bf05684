"""The Canvas export is a QTI 1.2 zip that Canvas's importer reads: a manifest naming one
imsqti_xmlv1p2 resource and the quiz's settings (assessment_meta.xml), the assessment with a
question group per question position (pick 1: each student one variant of each) and an item per
asked quantity and variant — a multiple_choice_question (response_lid, one option scored 100) or a
numerical_question (render_fib Decimal, scored 100 from answer − tolerance to answer +
tolerance). Opened and parsed here with zipfile and ElementTree, and re-imported by
``lms_readers.read_canvas``, which follows Canvas's importer step by step."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracer import load
from tracer.cli import cli
from tracer.export.qti import canvas
from tracer.render.quiz import SetInfo
from tracer.teach.quiz import generate, parse_spec, positions

from lms_readers import read_canvas

ROOT = Path(__file__).resolve().parent.parent
MAZUR = ROOT / "examples" / "mazur.yaml"
Q = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"


def open_zip(data: bytes):
    zf = zipfile.ZipFile(__import__("io").BytesIO(data))
    manifest = ET.fromstring(zf.read("imsmanifest.xml"))
    resource = manifest.find(f"{CP}resources/{CP}resource")
    assert resource.get("type") == "imsqti_xmlv1p2"
    href = resource.find(f"{CP}file").get("href")
    return ET.fromstring(zf.read(href))


def field(item, label):
    for f in item.iter(f"{Q}qtimetadatafield"):
        if f.find(f"{Q}fieldlabel").text == label:
            return f.find(f"{Q}fieldentry").text


@pytest.fixture(scope="module")
def mixed():
    """Mazur's set, and the same with options: 0 (open answers)."""
    problem = load(MAZUR)
    out = {}
    for options in (4, 0):
        p = dataclasses.replace(problem, randomize={**problem.randomize, "options": options})
        variants = generate(p, 3, seed=1, jobs=1)
        out[options] = (variants, canvas(variants, SetInfo("examples/mazur.yaml", 1, 3, parse_spec(p), p.title)))
    return out


def test_assessment_groups_and_items(mixed):
    variants, data = mixed[4]
    root = open_zip(data)
    assert root.tag == f"{Q}questestinterop"
    assessment = root.find(f"{Q}assessment")
    assert assessment.get("title") == "A step-by-step backpropagation example (Mazur)"
    (top,) = assessment.findall(f"{Q}section")
    groups = top.findall(f"{Q}section")
    asked = variants[0].questions
    assert [g.get("title") for g in groups] == [f"Question {k} ({q.name})" for k, q in enumerate(asked, 1)]
    for k, group in enumerate(groups, start=1):
        assert group.findtext(f"{Q}selection_ordering/{Q}selection/{Q}selection_number") == "1"
        items = group.findall(f"{Q}item")
        assert [i.get("title") for i in items] == [f"v{v.number:04d} q{k} {v.questions[k - 1].name}" for v in variants]
    idents = [i.get("ident") for i in root.iter(f"{Q}item")]
    assert len(set(idents)) == len(idents) == 12


def test_canvas_gives_each_student_one_variant_of_each_question(mixed):
    """Re-imported as Canvas does: one question group per position, each picking 1 of the 3
    variants at 1 point, no question outside a group (on main every section was flattened into
    the quiz: 12 questions for every student), and the quiz's settings from assessment_meta.xml."""
    variants, data = mixed[4]
    quiz = read_canvas(data)
    assert quiz.loose == []
    assert [(g.pick_count, g.question_points, len(g.questions)) for g in quiz.groups] == [(1, 1.0, 3)] * 4
    for k, group in enumerate(quiz.groups):
        assert [q.title for q in group.questions] == [f"v{v.number:04d} q{k + 1} {v.questions[k].name}" for v in variants]
        for question, v in zip(group.questions, variants):
            asked = v.questions[k]
            assert question.kind == ("multiple_choice_question" if asked.options else "numerical_question")
            assert [html for _, html in question.choices] == [o.text for o in asked.options]
            assert dict(question.choices)[question.correct] == asked.options[asked.correct].text
    assert quiz.settings["title"] == "A step-by-step backpropagation example (Mazur)"
    assert quiz.settings["points_possible"] == "4.0" and quiz.settings["allowed_attempts"] == "1"
    assert quiz.settings["quiz_type"] == "assignment" and quiz.settings["available"] == "false"
    assert "one of 3 variants" in quiz.settings["description"]


def test_canvas_numerical_group_accepts_each_variants_range(mixed):
    variants, data = mixed[0]
    quiz = read_canvas(data)
    for k, group in enumerate(quiz.groups):
        for question, v in zip(group.questions, variants):
            asked = v.questions[k]
            assert question.kind == "numerical_question"
            low, high = question.bounds
            assert low == Decimal(asked.answer) - Decimal(asked.tolerance) and high == Decimal(asked.answer) + Decimal(asked.tolerance)
            assert low <= Decimal(repr(asked.value)) <= high


def test_multiple_choice_items_score_the_right_option(mixed):
    variants, data = mixed[4]
    items = open_zip(data).iter(f"{Q}item")
    questions = [q for asked in positions(variants) for _, q in asked]  # in the zip's order: by position, then variant
    for item, q in zip(items, questions):
        assert field(item, "question_type") == ("multiple_choice_question" if q.options else "numerical_question")
        if not q.options:
            continue
        lid = item.find(f"{Q}presentation/{Q}response_lid")
        labels = lid.findall(f"{Q}render_choice/{Q}response_label")
        assert [l.find(f"{Q}material/{Q}mattext").text for l in labels] == [o.text for o in q.options]
        scored = [c for c in item.iter(f"{Q}respcondition") if c.find(f"{Q}setvar") is not None]
        assert len(scored) == 1 and scored[0].find(f"{Q}setvar").text == "100"
        right = scored[0].find(f"{Q}conditionvar/{Q}varequal").text
        assert right == labels[q.correct].get("ident")
        feedback = {f.get("ident"): f.find(f".//{Q}mattext").text for f in item.findall(f"{Q}itemfeedback")}
        for label, option in zip(labels, q.options):
            if option.mistake:
                assert feedback[label.get("ident") + "_fb"] == f"<p>This option {option.explanation}.</p>"


def test_numerical_items_accept_the_tolerance_exactly(mixed):
    variants, data = mixed[0]
    questions = [q for asked in positions(variants) for _, q in asked]
    items = list(open_zip(data).iter(f"{Q}item"))
    assert len(items) == len(questions) == 12
    for item, q in zip(items, questions):
        assert field(item, "question_type") == "numerical_question"
        assert item.find(f"{Q}presentation/{Q}response_str/{Q}render_fib").get("fibtype") == "Decimal"
        condition = item.find(f"{Q}resprocessing/{Q}respcondition/{Q}conditionvar/{Q}or")
        assert condition.find(f"{Q}varequal").text == q.answer
        low = Decimal(condition.find(f"{Q}and/{Q}vargte").text)
        high = Decimal(condition.find(f"{Q}and/{Q}varlte").text)
        assert low == Decimal(q.answer) - Decimal(q.tolerance) and high == Decimal(q.answer) + Decimal(q.tolerance)
        assert low <= Decimal(repr(q.value)) <= high
        text = item.find(f"{Q}presentation/{Q}material/{Q}mattext").text
        assert "variant" in text and f"±{q.tolerance}" in text and "\\(" in text


def test_cli_writes_a_reproducible_canvas_zip(tmp_path):
    runner = CliRunner()
    for out in ("a", "b"):
        result = runner.invoke(cli, ["quiz", str(MAZUR), "--count", "2", "-o", str(tmp_path / out), "--formats", "qti", "--jobs", "1"])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "canvas.zip").read_bytes() == (tmp_path / "b" / "canvas.zip").read_bytes()
    root = open_zip((tmp_path / "a" / "canvas.zip").read_bytes())
    assert len(list(root.iter(f"{Q}item"))) == 8
    assert "qti" in runner.invoke(cli, ["quiz", "--help"]).output


def test_text_from_the_problem_file_is_escaped_in_the_qti(tmp_path):
    problem = dataclasses.replace(load(MAZUR), title="Evil <b>&</b>")
    variants = generate(problem, 1, seed=1, jobs=1)
    root = open_zip(canvas(variants, SetInfo("m.yaml", 1, 1, parse_spec(problem), problem.title)))
    assert root.find(f"{Q}assessment").get("title") == "Evil <b>&</b>"  # an attribute, escaped by the writer
    text = next(root.iter(f"{Q}mattext")).text
    assert "<b>&amp;</b>" not in text and "Evil &lt;b&gt;&amp;&lt;/b&gt;" in text
