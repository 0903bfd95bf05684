"""A Canvas quiz: IMS QTI 1.2 in a zip (Canvas: Settings → Import Course Content → QTI .zip file).

Written with :mod:`xml.etree.ElementTree` rather than through text2qti (BSD-3, maintained,
the house's first choice): text2qti writes a numerical answer's bounds with four decimal
places (``f'{min:.4f}'``) and refuses any accepted value below 1e-4 in magnitude, so a
tolerance of ±0.000012 around 0.002306 would become the range [0.0023, 0.0023] and a
gradient of 3.5e-05 could not be asked at all. The structure follows what text2qti and
Canvas's own exports write:

* ``imsmanifest.xml`` — one ``imsqti_xmlv1p2`` resource, the assessment file, which depends on
  a ``learning-application-resource``, the quiz's settings;
* ``<id>/assessment_meta.xml`` — Canvas's quiz settings (title, description, one attempt,
  points, unpublished), read by Canvas's ``QuizMetadataConverter`` from the file
  ``<assessment ident>/assessment_meta.xml`` that such a resource names;
* ``<id>/<id>.xml`` — ``questestinterop/assessment/section[root_section]`` and in it one
  question group per question position: a ``section`` with ``selection_ordering`` picking 1
  (``selection_number``) at 1 point (``points_per_item``), holding that position's item of
  every variant, so that each student is given one variant of each question (Canvas's
  importer: the QTIMigrationTool turns ``selection_number`` into QTI 2's
  ``selection select="1"``, and ``AssessmentTestConverter.process_section`` into a
  ``question_group`` with ``pick_count`` 1; a section without it would be flattened into the
  quiz, every student answering every variant). An ``item`` per asked quantity:
  ``multiple_choice_question`` (``response_lid`` with a
  ``response_label`` per option, the right one scored 100, each wrong option's feedback
  naming its mistake) or ``numerical_question`` (``response_str``/``render_fib
  fibtype="Decimal"``, scored 100 for the exact answer or any value from answer − tolerance
  to answer + tolerance, the bounds written as exact decimals).

Question text is HTML; formulas are ``\\( … \\)``, which Canvas renders with MathJax.
Identifiers are derived from the set (file, seed, variant, question), so the same set gives
the same zip, byte for byte; no text a student sees names the file or the seed (the item
titles, which Canvas shows only to the teacher, name variant and question). Nothing here
computes: numbers arrive as strings.
"""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal
from typing import Callable

from tracer.export import lms
from tracer.export.xml_text import xml_safe
from tracer.render.quiz import DEFAULT_TITLE, SetInfo
from tracer.teach.quiz import Question, Variant, positions

QTI_NS = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
CP_NS = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
CANVAS_NS = "http://canvas.instructure.com/xsd/cccv1p0"
#: the manifest type of the resource that carries ``assessment_meta.xml`` (Canvas matches its end)
META_TYPE = "associatedcontent/imscc_xmlv1p1/learning-application-resource"
LETTERS = "abcdefgh"
#: every zip member's timestamp (a reproducible file)
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def identifier(*parts: object) -> str:
    return "g" + hashlib.sha256(":".join(map(str, parts)).encode("utf-8")).hexdigest()[:32]


def _field(parent: ET.Element, label: str, entry: str) -> None:
    f = ET.SubElement(parent, "qtimetadatafield")
    ET.SubElement(f, "fieldlabel").text = label
    ET.SubElement(f, "fieldentry").text = entry


def _material(parent: ET.Element, html_text: str) -> None:
    ET.SubElement(ET.SubElement(parent, "material"), "mattext", {"texttype": "text/html"}).text = html_text


def _feedback(item: ET.Element, ident: str, html_text: str) -> None:
    fb = ET.SubElement(item, "itemfeedback", {"ident": ident})
    _material(ET.SubElement(fb, "flow_mat"), html_text)


def _item(ident: str, title: str, kind: str, answer_ids: str) -> tuple[ET.Element, ET.Element]:
    item = ET.Element("item", {"ident": ident, "title": title})
    meta = ET.SubElement(ET.SubElement(item, "itemmetadata"), "qtimetadata")
    _field(meta, "question_type", kind)
    _field(meta, "points_possible", "1")
    _field(meta, "original_answer_ids", answer_ids)
    _field(meta, "assessment_question_identifierref", ident + "_q")
    return item, ET.SubElement(item, "presentation")


def _scoring(item: ET.Element) -> ET.Element:
    processing = ET.SubElement(item, "resprocessing")
    ET.SubElement(ET.SubElement(processing, "outcomes"), "decvar",
                  {"maxvalue": "100", "minvalue": "0", "varname": "SCORE", "vartype": "Decimal"})
    return processing


def multiple_choice(ident: str, title: str, body_html: str, question: Question) -> ET.Element:
    ids = [f"{ident}_{LETTERS[k]}" for k in range(len(question.options))]
    item, presentation = _item(ident, title, "multiple_choice_question", ",".join(ids))
    _material(presentation, body_html)
    choices = ET.SubElement(ET.SubElement(presentation, "response_lid", {"ident": "response1", "rcardinality": "Single"}), "render_choice")
    for option_id, option in zip(ids, question.options):
        _material(ET.SubElement(choices, "response_label", {"ident": option_id}), option.text)
    processing = _scoring(item)
    for option_id, option in zip(ids, question.options):
        if option.mistake is not None:
            condition = ET.SubElement(processing, "respcondition", {"continue": "Yes"})
            ET.SubElement(ET.SubElement(condition, "conditionvar"), "varequal", {"respident": "response1"}).text = option_id
            ET.SubElement(condition, "displayfeedback", {"feedbacktype": "Response", "linkrefid": f"{option_id}_fb"})
    right = ET.SubElement(processing, "respcondition", {"continue": "No"})
    ET.SubElement(ET.SubElement(right, "conditionvar"), "varequal", {"respident": "response1"}).text = ids[question.correct]
    ET.SubElement(right, "setvar", {"action": "Set", "varname": "SCORE"}).text = "100"
    for option_id, option in zip(ids, question.options):
        if option.mistake is not None:
            _feedback(item, f"{option_id}_fb", f"<p>This option {option.explanation}.</p>")
    return item


def numerical(ident: str, title: str, body_html: str, question: Question) -> ET.Element:
    item, presentation = _item(ident, title, "numerical_question", "")
    _material(presentation, body_html)
    fib = ET.SubElement(ET.SubElement(presentation, "response_str", {"ident": "response1", "rcardinality": "Single"}),
                        "render_fib", {"fibtype": "Decimal"})
    ET.SubElement(fib, "response_label", {"ident": "answer1"})
    answer, tol = Decimal(question.answer), Decimal(question.tolerance)
    processing = _scoring(item)
    right = ET.SubElement(processing, "respcondition", {"continue": "No"})
    either = ET.SubElement(ET.SubElement(right, "conditionvar"), "or")
    ET.SubElement(either, "varequal", {"respident": "response1"}).text = question.answer
    within = ET.SubElement(either, "and")
    ET.SubElement(within, "vargte", {"respident": "response1"}).text = format(answer - tol, "f")
    ET.SubElement(within, "varlte", {"respident": "response1"}).text = format(answer + tol, "f")
    ET.SubElement(right, "setvar", {"action": "Set", "varname": "SCORE"}).text = "100"
    return item


def _group(parent: ET.Element, ident: str, title: str, pick: int = 1, points: int = 1) -> ET.Element:
    """A question group (Canvas): a section from which each student is given ``pick`` items."""
    section = ET.SubElement(parent, "section", {"ident": ident, "title": title})
    selection = ET.SubElement(ET.SubElement(section, "selection_ordering"), "selection")
    ET.SubElement(selection, "selection_number").text = str(pick)
    ET.SubElement(ET.SubElement(selection, "selection_extension"), "points_per_item").text = str(points)
    return section


def assessment_xml(
    variants: list[Variant],
    *,
    set_id: str,
    title: str,
    statement_html: Callable[[Variant], str],
    ask_html: Callable[[Variant, Question], str],
    label: Callable[[Variant, Question], str],
    group_title: Callable[[int, Question], str] = lambda k, q: f"Question {k}",
) -> str:
    root = ET.Element("questestinterop", {"xmlns": QTI_NS})
    assessment = ET.SubElement(root, "assessment", {"ident": set_id, "title": title})
    meta = ET.SubElement(assessment, "qtimetadata")
    _field(meta, "cc_maxattempts", "1")
    top = ET.SubElement(assessment, "section", {"ident": "root_section"})
    statements: dict[int, str] = {}
    for k, asked in enumerate(positions(variants), start=1):
        group = _group(top, identifier(set_id, "group", k), group_title(k, asked[0][1]))
        for variant, question in asked:
            if variant.number not in statements:
                statements[variant.number] = statement_html(variant)
            ident = identifier(set_id, variant.number, k)
            name = f"v{variant.number:04d} q{k} {label(variant, question)}"
            build = multiple_choice if question.kind == "multichoice" else numerical
            group.append(build(ident, name, statements[variant.number] + ask_html(variant, question), question))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml_safe(ET.tostring(root, encoding="unicode")) + "\n"


def assessment_meta_xml(set_id: str, title: str, description_html: str, points: int) -> str:
    """Canvas's quiz settings: a graded quiz (one attempt, the points of one question per
    position), unpublished until the teacher publishes it, answers shown after the attempt."""
    root = ET.Element("quiz", {"identifier": set_id, "xmlns": CANVAS_NS})
    settings = {
        "title": title,
        "description": description_html,
        "shuffle_answers": "false",  # the options are shuffled once, per variant, as the key lists them
        "scoring_policy": "keep_highest",
        "quiz_type": "assignment",
        "points_possible": f"{points:.1f}",
        "allowed_attempts": "1",
        "show_correct_answers": "true",
        "one_question_at_a_time": "false",
        "cant_go_back": "false",
        "available": "false",
    }
    for tag, text in settings.items():
        ET.SubElement(root, tag).text = text
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml_safe(ET.tostring(root, encoding="unicode")) + "\n"


def manifest_xml(set_id: str, title: str) -> str:
    root = ET.Element("manifest", {"identifier": set_id + "_manifest", "xmlns": CP_NS})
    metadata = ET.SubElement(root, "metadata")
    ET.SubElement(metadata, "schema").text = "IMS Content"
    ET.SubElement(metadata, "schemaversion").text = "1.1.3"
    ET.SubElement(root, "organizations")
    resources = ET.SubElement(root, "resources")
    resource = ET.SubElement(resources, "resource", {"identifier": set_id, "type": "imsqti_xmlv1p2"})
    ET.SubElement(resource, "file", {"href": f"{set_id}/{set_id}.xml"})
    ET.SubElement(resource, "dependency", {"identifierref": set_id + "_meta"})
    settings = ET.SubElement(resources, "resource", {"identifier": set_id + "_meta", "type": META_TYPE, "href": f"{set_id}/assessment_meta.xml"})
    ET.SubElement(settings, "file", {"href": f"{set_id}/assessment_meta.xml"})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml_safe(ET.tostring(root, encoding="unicode")) + "\n"


def qti_zip(variants: list[Variant], *, set_key: str, title: str, statement_html, ask_html, label,
            description_html: str = "", group_title: Callable[[int, Question], str] | None = None) -> bytes:
    """The Canvas zip (bytes): the manifest, the quiz's settings and the assessment; ``set_key``
    names the set (file and seed) and so fixes every identifier."""
    set_id = identifier(set_key)
    count = len(positions(variants))
    members = {
        "imsmanifest.xml": manifest_xml(set_id, title),
        f"{set_id}/assessment_meta.xml": assessment_meta_xml(set_id, title, description_html, count),
        f"{set_id}/{set_id}.xml": assessment_xml(variants, set_id=set_id, title=title, statement_html=statement_html, ask_html=ask_html,
                                                 label=label, **({"group_title": group_title} if group_title else {})),
    }
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(zipfile.ZipInfo(name, ZIP_DATE), text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
    return stream.getvalue()


def canvas(variants: list[Variant], info: SetInfo) -> bytes:
    """The Canvas QTI 1.2 zip of a network quiz: a question group per question position, each
    student given one variant of each."""
    return _zip(variants, info, lms.network_texts(info))


def graph_canvas(variants: list[Variant], info: SetInfo) -> bytes:
    """The Canvas QTI 1.2 zip of a graph quiz."""
    return _zip(variants, info, lms.graph_texts(info))


def _zip(variants: list[Variant], info: SetInfo, texts: lms.Texts) -> bytes:
    statement_html, ask_html = texts
    return qti_zip(variants, set_key=f"{info.file}:{info.seed}:{info.count}", title=info.title or DEFAULT_TITLE,
                   statement_html=statement_html, ask_html=ask_html, label=lambda variant, question: question.name,
                   description_html=quiz_description(variants, info), group_title=question_group_title)


def question_group_title(k: int, question) -> str:
    """A Canvas question group's title (the teacher's quiz editor): the position and what it asks."""
    return f"Question {k} ({question.name})"


def quiz_description(variants: list[Variant], info: SetInfo) -> str:
    """The quiz's description (students read it): how it is drawn and what is accepted."""
    count = len(variants[0].questions) if variants else 0
    return (f"<p>{count} questions; each student is given one of {len(variants)} variants of each. Give every answer to "
            f"{info.spec.digits} significant digits, carrying every intermediate to at least {info.spec.digits}.</p>")
