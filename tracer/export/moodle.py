"""A Moodle XML quiz (Question bank → Import → Moodle XML format) from quiz variants.

Categories per variant and per question kind (Moodle's ``<question type="category">``: every
question after it goes into that category, created on import as a path of nested
categories): ``$course$/top/<title> (<file>, seed <S>)/variant 0001/multichoice`` and
``…/variant 0001/numerical``. One question per asked quantity: ``multichoice`` when it
has options (its wrong options' feedback names the mistake), else ``numerical`` (the
answer at the digits asked, its tolerance the variant's own: the rounding of a hand
calculation propagated through the steps, :mod:`tracer.teach.rounding`). A ``/`` in a
category's name is written ``//`` (Moodle's escape; it would start a subcategory).
Built with :mod:`xml.etree.ElementTree`, so every text is escaped by the writer.
The question text is HTML; formulas use MathJax's ``\\( … \\)`` (Moodle's MathJax filter).
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from typing import Callable

from tracer.export.xml_text import xml_safe
from tracer.teach.quiz import Question, Variant


def _text(parent: ET.Element, tag: str, text: str, fmt: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag, {"format": fmt} if fmt else {})
    ET.SubElement(el, "text").text = text
    return el


def _common(q: ET.Element, name: str, body_html: str, feedback_html: str) -> None:
    _text(q, "name", name)
    _text(q, "questiontext", body_html, "html")
    _text(q, "generalfeedback", feedback_html, "html")
    ET.SubElement(q, "defaultgrade").text = "1.0000000"
    ET.SubElement(q, "penalty").text = "0.3333333"
    ET.SubElement(q, "hidden").text = "0"


def numerical(name: str, body_html: str, question: Question, feedback_html: str = "") -> ET.Element:
    q = ET.Element("question", {"type": "numerical"})
    _common(q, name, body_html, feedback_html)
    answer = ET.SubElement(q, "answer", {"fraction": "100", "format": "moodle_auto_format"})
    ET.SubElement(answer, "text").text = question.answer
    ET.SubElement(answer, "tolerance").text = question.tolerance
    _text(answer, "feedback", "Right.", "html")
    ET.SubElement(q, "unitgradingtype").text = "0"
    ET.SubElement(q, "unitpenalty").text = "0.1000000"
    ET.SubElement(q, "showunits").text = "3"
    ET.SubElement(q, "unitsleft").text = "0"
    return q


def multichoice(name: str, body_html: str, question: Question, feedback_html: str = "") -> ET.Element:
    q = ET.Element("question", {"type": "multichoice"})
    _common(q, name, body_html, feedback_html)
    ET.SubElement(q, "single").text = "true"
    ET.SubElement(q, "shuffleanswers").text = "true"
    ET.SubElement(q, "answernumbering").text = "abc"
    _text(q, "correctfeedback", "Your answer is correct.", "html")
    _text(q, "partiallycorrectfeedback", "Your answer is partially correct.", "html")
    _text(q, "incorrectfeedback", "Your answer is incorrect.", "html")
    for option in question.options:
        answer = ET.SubElement(q, "answer", {"fraction": "100" if option.mistake is None else "0", "format": "html"})
        ET.SubElement(answer, "text").text = option.text
        why = "Right." if option.mistake is None else f"This option {html.escape(option.explanation)}."
        _text(answer, "feedback", why, "html")
    return q


def category(path: str, info: str = "") -> ET.Element:
    q = ET.Element("question", {"type": "category"})
    cat = ET.SubElement(q, "category")
    ET.SubElement(cat, "text").text = path
    _text(q, "info", info, "html")
    return q


def segment(name: str) -> str:
    """A category name as one segment of a Moodle category path (``/`` doubled)."""
    return " ".join(name.split()).replace("/", "//")


def variant_category(root: str, variant: Variant, kind: str) -> str:
    return f"{root}/variant {variant.number:04d}/{kind}"


def quiz_xml(
    variants: list[Variant],
    *,
    category_root: str,
    statement_html: Callable[[Variant], str],
    ask_html: Callable[[Variant, Question], str],
    label: Callable[[Variant, Question], str],
) -> str:
    """The whole quiz as a string (UTF-8 XML declaration included). ``category_root`` is a
    Moodle category path whose segments are already :func:`segment`-escaped."""
    root = ET.Element("quiz")
    for variant in variants:
        statement = statement_html(variant)
        numbered = list(enumerate(variant.questions, start=1))
        for kind, build in (("multichoice", multichoice), ("numerical", numerical)):
            chosen = [(k, q) for k, q in numbered if q.kind == kind]
            if not chosen:
                continue
            root.append(category(variant_category(category_root, variant, kind), f"Variant {variant.number}: {kind} questions"))
            for k, question in chosen:
                body = statement + ask_html(variant, question)
                name = f"v{variant.number:04d} q{k} {label(variant, question)}"
                root.append(build(name, body, question, f"Answer: {question.answer}"))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml_safe(ET.tostring(root, encoding="unicode")) + "\n"
