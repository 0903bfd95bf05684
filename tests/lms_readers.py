"""Readers of the quiz files that follow what the two LMS importers do, step by step, so that the
tests see the quiz a teacher gets after importing (not only well-formed XML).

Canvas (``canvas.zip``, QTI 1.2). Canvas runs Instructure's QTIMigrationTool (``lib/imsqtiv1.py``)
to turn QTI 1.2 into QTI 2, then ``Qti::AssessmentTestConverter`` (canvas-lms,
``gems/plugins/qti_exporter``) on the result, then ``QuizMetadataConverter`` for the settings:

* the manifest's ``imsqti_xmlv1p2`` resource names the assessment file;
* a ``selection_ordering`` on the assessment itself is ignored ("selection/ordering on assessment
  not supported"); on a section, ``selection/selection_number`` becomes QTI 2's
  ``<selection select="N">`` and ``selection_extension/points_per_item`` goes along;
* ``process_section``: a section with a ``select`` becomes a ``question_group`` with ``pick_count``
  N whose questions are the section's items; the items of a section without one go into the quiz
  itself (the whole quiz's list, even when the section sits inside a group); a section marked
  ``visible="true"`` adds a text-only question with its title;
* ``post_process_assessments``: each ``learning-application-resource`` of the manifest whose file
  is ``<assessment ident>/assessment_meta.xml`` sets the quiz's title, description, points,
  attempts, … from that file.

Moodle (``moodle.xml``). ``qformat_xml::readquestions`` parses with ``xmlize`` (Moodle's
``core_xml_parser``: PHP's libxml2-based parser fed 4,096 bytes at a time, each piece of character
data that is only whitespace DROPPED, the rest concatenated); ``getpath(…, true)`` trims a text;
``import_question`` dispatches on the type; ``qformat_default::importprocess`` files each question in
the category of the last ``category`` question before it, whose path ``split_category_path`` splits
at a single ``/`` (``//`` is a ``/`` in a name). lxml's parser is libxml2 too, and hands its
character data to a target in the same pieces PHP's handler receives, so the dropping is the same.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal

from lxml import etree

QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"
CANVAS = "{http://canvas.instructure.com/xsd/cccv1p0}"
ASSESSMENT_META = "assessment_meta.xml"


# ---------------------------------------------------------------------------
# Canvas
# ---------------------------------------------------------------------------


@dataclass
class CanvasQuestion:
    ident: str
    title: str
    kind: str  # question_type: multiple_choice_question, numerical_question, text_only_question
    text: str
    points: float
    choices: list[tuple[str, str]] = field(default_factory=list)  # (ident, html) of each option
    correct: str | None = None  # the option scored 100
    bounds: tuple[Decimal, Decimal] | None = None  # a numerical answer's accepted range
    exact: str | None = None


@dataclass
class CanvasGroup:
    ident: str
    title: str
    pick_count: int
    question_points: float
    questions: list[CanvasQuestion]


@dataclass
class CanvasQuiz:
    ident: str
    title: str
    entries: list  # CanvasQuestion | CanvasGroup, in the quiz's order
    settings: dict[str, str]  # from assessment_meta.xml ({} when the zip has none)

    @property
    def groups(self) -> list[CanvasGroup]:
        return [e for e in self.entries if isinstance(e, CanvasGroup)]

    @property
    def loose(self) -> list[CanvasQuestion]:
        """Questions every student answers (not in a group)."""
        return [e for e in self.entries if isinstance(e, CanvasQuestion)]


def _qti_field(item: ET.Element, label: str) -> str | None:
    for f in item.iter(f"{QTI}qtimetadatafield"):
        if (f.findtext(f"{QTI}fieldlabel") or "").strip() == label:
            return (f.findtext(f"{QTI}fieldentry") or "").strip()
    return None


def _canvas_item(item: ET.Element) -> CanvasQuestion:
    kind = _qti_field(item, "question_type") or ""
    text = item.findtext(f"{QTI}presentation/{QTI}material/{QTI}mattext") or ""
    q = CanvasQuestion(item.get("ident", ""), item.get("title", ""), kind, text, float(_qti_field(item, "points_possible") or 1))
    lid = item.find(f"{QTI}presentation/{QTI}response_lid")
    if lid is not None:
        q.choices = [(label.get("ident", ""), label.findtext(f"{QTI}material/{QTI}mattext") or "")
                     for label in lid.iter(f"{QTI}response_label")]
    for condition in item.iter(f"{QTI}respcondition"):
        setvar = condition.find(f"{QTI}setvar")
        if setvar is None or (setvar.text or "").strip() != "100":
            continue
        var = condition.find(f"{QTI}conditionvar")
        if kind == "multiple_choice_question":
            q.correct = (var.findtext(f"{QTI}varequal") or "").strip()
        elif kind == "numerical_question":
            low, high = var.find(f".//{QTI}vargte"), var.find(f".//{QTI}varlte")
            q.exact = var.findtext(f".//{QTI}varequal")
            if low is not None and high is not None:
                q.bounds = (Decimal(low.text.strip()), Decimal(high.text.strip()))
    return q


def _selection(section: ET.Element) -> tuple[int | None, float | None]:
    """What the QTIMigrationTool keeps of a section's selection_ordering: (select, points_per_item)."""
    ordering = section.find(f"{QTI}selection_ordering")
    if ordering is None:
        return None, None
    selection = ordering.find(f"{QTI}selection")
    if selection is None:
        return None, None
    number = (selection.findtext(f"{QTI}selection_number") or "").strip()
    points = (selection.findtext(f"{QTI}selection_extension/{QTI}points_per_item") or "").strip()
    pick = int(number) if re.fullmatch(r"\d+", number) else None  # AssessmentTestConverter.parse_pick_count
    return pick, (float(points) if points else None)


def _process_section(section: ET.Element, quiz: list, into: list) -> None:
    """``AssessmentTestConverter.process_section`` on the converted section."""
    pick, points = _selection(section)
    questions = quiz
    group = None
    if pick is not None:
        group = CanvasGroup(section.get("ident", ""), section.get("title", ""), pick, points or 1.0, [])
        questions = group.questions
    if (section.get("visible") or "").lower() == "true" and section.get("title"):
        quiz.append(CanvasQuestion("", "", "text_only_question", section.get("title", ""), 0.0))
    for child in section:
        if child.tag == f"{QTI}section":
            _process_section(child, quiz, questions)
        elif child.tag == f"{QTI}item":
            questions.append(_canvas_item(child))
    if group is not None and group.questions:
        quiz.append(group)


def read_canvas(data: bytes) -> CanvasQuiz:
    """The quiz Canvas makes of ``canvas.zip`` (see the module's docstring)."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    manifest = ET.fromstring(zf.read("imsmanifest.xml"))
    resources = manifest.findall(f"{CP}resources/{CP}resource")
    qti = [r for r in resources if r.get("type") == "imsqti_xmlv1p2"]
    assert len(qti) == 1, "one assessment resource"
    root = ET.fromstring(zf.read(qti[0].find(f"{CP}file").get("href")))
    assessment = root.find(f"{QTI}assessment")
    entries: list = []
    for child in assessment:
        if child.tag == f"{QTI}section":
            _process_section(child, entries, entries)
        elif child.tag == f"{QTI}item":
            entries.append(_canvas_item(child))
    ident = assessment.get("ident", "")
    settings: dict[str, str] = {}
    for resource in resources:
        if not (resource.get("type") or "").endswith("learning-application-resource"):
            continue
        for f in resource.findall(f"{CP}file"):
            href = f.get("href", "")
            if href.endswith(ASSESSMENT_META) and href == f"{ident}/{ASSESSMENT_META}":
                meta = ET.fromstring(zf.read(href))
                settings = {child.tag.replace(CANVAS, ""): (child.text or "") for child in meta}
    return CanvasQuiz(ident, settings.get("title") or assessment.get("title", ""), entries, settings)


# ---------------------------------------------------------------------------
# Moodle
# ---------------------------------------------------------------------------


@dataclass
class MoodleQuestion:
    qtype: str
    name: str
    text: str
    category: tuple[str, ...]  # the category path, one name per level
    answers: list[dict] = field(default_factory=list)  # text, fraction, feedback, tolerance


class _Xmlize:
    """``core_xml_parser`` as a libxml2 target: nested {tag: [{"@": attrs, "#": …}]} with the text
    of a leaf element, each whitespace-only piece of character data dropped."""

    def __init__(self):
        self.stack: list[dict] = [{"#": {}, "text": []}]

    def start(self, tag, attrib):
        node = {"@": dict(attrib), "#": {}, "text": []}
        self.stack[-1]["#"].setdefault(tag, []).append(node)
        self.stack.append(node)

    def end(self, tag):
        self.stack.pop()

    def data(self, piece):
        if piece == "0" or piece.strip() != "":
            self.stack[-1]["text"].append(piece)

    def close(self):
        return self.stack[0]


def xmlize(data: bytes) -> dict:
    parser = etree.XMLParser(target=_Xmlize(), resolve_entities=False)
    data = data.strip()
    for i in range(0, len(data), 4096):
        parser.feed(data[i:i + 4096])
    return parser.close()


def _getpath(node: dict, *path: str, default: str = "") -> str:
    """``qformat_xml::getpath(…, istext=true)``: the text at the path, trimmed."""
    for tag in path:
        children = node["#"].get(tag)
        if not children:
            return default
        node = children[0]
    return "".join(node["text"]).strip()


def split_category_path(path: str) -> tuple[str, ...]:
    return tuple(name.replace("//", "/").strip() for name in re.split(r"(?<!/)/(?!/)", path))


def read_moodle(data: bytes) -> list[MoodleQuestion]:
    """The questions Moodle's import makes of ``moodle.xml``, each with its category path."""
    tree = xmlize(data)
    quiz = tree["#"]["quiz"][0]
    out: list[MoodleQuestion] = []
    category: tuple[str, ...] = ()
    for q in quiz["#"].get("question", []):
        qtype = q["@"].get("type")
        if qtype == "category":
            category = split_category_path(_getpath(q, "category", "text"))
            continue
        question = MoodleQuestion(qtype, _getpath(q, "name", "text"), _getpath(q, "questiontext", "text"), category)
        for answer in q["#"].get("answer", []):
            question.answers.append({
                "text": _getpath(answer, "text"),
                "fraction": float(answer["@"].get("fraction", "0")) / 100,
                "feedback": _getpath(answer, "feedback", "text"),
                "tolerance": _getpath(answer, "tolerance", default="0"),
            })
        out.append(question)
    return out
