"""A Moodle XML quiz (Question bank → Import → Moodle XML format) from quiz variants.

Categories per question position (Moodle's ``<question type="category">``: every question
after it goes into that category, created on import as a path of nested categories):
``$course$/top/<title> (<file>, seed <S>)/question 01 (dloss//dW2[1,1])`` holds the first question of
every variant, and with them one ``random`` question that draws from that category (its
question text ``0``: not from subcategories) — a quiz made of the random questions gives each
student one variant of every question (in Moodle's quiz editor: Add → a random question,
from that category, does the same). One question per asked quantity and variant:
``multichoice`` when it has options (its wrong options' feedback names the mistake), else
``numerical`` (the answer at the digits asked, its tolerance the variant's own: the rounding
of a hand calculation propagated through the steps, :mod:`tracer.teach.rounding`).

The category path and question names are the teacher's (the question bank); a student sees
the question text, which names neither the file nor the seed. A ``/`` in a category's name
is written ``//`` (Moodle's escape; it would start a subcategory); a name is cut to
:data:`CATEGORY_NAME` characters (the length of Moodle's ``question_categories.name``).
Text is written as Moodle's own export writes it (``qformat_xml::xml_escape``): in a CDATA
section when it holds markup, so Moodle's reader (``xmlize``, which trims each piece of
character data it is given) keeps every space of the HTML. The question text is HTML;
formulas use MathJax's ``\\( … \\)`` (Moodle's MathJax filter).
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Callable
from xml.sax.saxutils import escape, quoteattr

from tracer.export import lms
from tracer.export.xml_text import xml_safe
from tracer.render.quiz import SetInfo
from tracer.teach.quiz import Question, Variant, positions

#: the most characters a Moodle question category's name may have (``question_categories.name``, char 255)
CATEGORY_NAME = 255


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


def segment(name: str, limit: int = CATEGORY_NAME) -> str:
    """A category name as one segment of a Moodle category path: at most ``limit`` characters
    (a longer one cut, ending in "…"), then each ``/`` doubled (Moodle's escape)."""
    name = " ".join(name.split())
    if len(name) > limit:
        name = name[: limit - 1].rstrip() + "…"
    return name.replace("/", "//")


def random_question(name: str) -> ET.Element:
    """Moodle's random question: on import it lands in the current category and draws one
    question of it per attempt (question text ``0``: that category only, no subcategories)."""
    q = ET.Element("question", {"type": "random"})
    _text(q, "name", name)
    _text(q, "questiontext", "0", "html")
    _text(q, "generalfeedback", "", "html")
    ET.SubElement(q, "defaultgrade").text = "1.0000000"
    ET.SubElement(q, "penalty").text = "0.0000000"
    ET.SubElement(q, "hidden").text = "0"
    return q


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
    statements: dict[int, str] = {}
    asked_at = positions(variants)
    width = max(2, len(str(len(asked_at))))
    for k, asked in enumerate(asked_at, start=1):
        first = asked[0][1]
        path = f"{category_root}/{segment(f'question {k:0{width}d} ({label(asked[0][0], first)})')}"
        root.append(category(path, f"Question {k}: one variant per student, {len(asked)} variants"))
        for variant, question in asked:
            if variant.number not in statements:
                statements[variant.number] = statement_html(variant)
            build = multichoice if question.kind == "multichoice" else numerical
            name = f"v{variant.number:04d} q{k} {label(variant, question)}"
            root.append(build(name, statements[variant.number] + ask_html(variant, question), question, f"Answer: {question.answer}"))
        root.append(random_question(f"Random question {k}"))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _serialize(root) + "\n"


def _serialize(element: ET.Element, depth: int = 0) -> str:
    """``element`` as indented XML, each ``<text>`` that holds markup in a CDATA section (as
    Moodle's ``qformat_xml::writetext`` writes it), every character one XML may carry."""
    pad = "  " * depth
    attributes = "".join(f" {k}={quoteattr(xml_safe(v))}" for k, v in element.attrib.items())
    children = list(element)
    text = xml_safe(element.text or "")
    if not children:
        if element.tag == "text" and escape(text, {'"': "&quot;"}) != text:
            body = "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"
        else:
            body = escape(text)
        return f"{pad}<{element.tag}{attributes}>{body}</{element.tag}>"
    inner = "\n".join(_serialize(child, depth + 1) for child in children)
    return f"{pad}<{element.tag}{attributes}>\n{inner}\n{pad}</{element.tag}>"


def moodle(variants: list[Variant], info: SetInfo) -> str:
    """The Moodle XML of a network quiz: per variant its statement, then each question."""
    return _quiz(variants, info, lms.network_texts(info))


def graph_moodle(variants: list[Variant], info: SetInfo) -> str:
    """The Moodle XML of a graph quiz: per variant the equations and values, then each question."""
    return _quiz(variants, info, lms.graph_texts(info))


def _quiz(variants: list[Variant], info: SetInfo, texts: lms.Texts) -> str:
    statement_html, ask_html = texts
    return quiz_xml(
        variants,
        category_root=category_root(info),
        statement_html=statement_html,
        ask_html=ask_html,
        label=lambda variant, question: question.name,
    )


def category_root(info: SetInfo) -> str:
    """``$course$/top/<title> (<file>, seed <S>)``: the set's category (the teacher's question
    bank: the file and seed tell sets apart); the questions' categories are below it. The title
    is cut so that the name keeps within Moodle's 255 characters with its file and seed."""
    suffix = f"({Path(info.file).name}, seed {info.seed})"
    title = " ".join((info.title or Path(info.file).stem).split())
    room = CATEGORY_NAME - len(suffix) - 1
    if room < 20:  # a file name too long to keep beside the title: the title alone
        return f"$course$/top/{segment(title)}"
    return f"$course$/top/{segment(title, room)} {segment(suffix)}"
