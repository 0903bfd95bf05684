"""A Moodle XML quiz (Question bank → Import → Moodle XML format) from quiz variants.

One category per set (``$course$/top/backprop-tracer/<file> seed <S>``); per variant and
asked quantity a ``numerical`` question (the answer at the digits asked, its tolerance
half a unit of the last digit) and, where the mistakes give enough distinct wrong
numbers, a ``multichoice`` question whose wrong options carry the mistake as feedback.
Built with :mod:`xml.etree.ElementTree`, so every text is escaped by the writer.
The question text is HTML; formulas use MathJax's ``\\( … \\)`` (Moodle's MathJax filter).
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from typing import Callable

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


def category(path: str) -> ET.Element:
    q = ET.Element("question", {"type": "category"})
    cat = ET.SubElement(q, "category")
    ET.SubElement(cat, "text").text = path
    return q


def quiz_xml(
    variants: list[Variant],
    *,
    category_path: str,
    statement_html: Callable[[Variant], str],
    ask_html: Callable[[Variant, Question], str],
    label: Callable[[Variant, Question], str],
) -> str:
    """The whole quiz as a string (UTF-8 XML declaration included)."""
    root = ET.Element("quiz")
    root.append(category(category_path))
    for variant in variants:
        statement = statement_html(variant)
        for k, question in enumerate(variant.questions, start=1):
            body = statement + ask_html(variant, question)
            base = f"v{variant.number:04d} q{k} {label(variant, question)}"
            root.append(numerical(base, body, question, f"Answer: {question.answer}"))
            if question.options:
                root.append(multichoice(base + " (choice)", body, question, f"Answer: {question.answer}"))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
