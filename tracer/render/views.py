"""The view models of documents: ready strings laid out by the templates (no math, no numbers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: the text width of the LaTeX handout in em (A4, 2 cm margins, 11 pt: 483 pt / 11 pt),
#: less a little for the estimate's error; Markdown uses the same layout
LINE_EM = 40.5
#: an equation number ``(12)`` and the space before it
TAG_EM = 3.2


@dataclass
class EquationView:
    number: int
    lhs: str
    symbolic: list[str]  # lines (a long sum is broken across lines)
    substituted: list[str]
    value: str
    refs: list[int]
    note: str = ""
    derivation: list[str] = field(default_factory=list)
    id: str = ""
    inline: bool = False  # short enough for one line: lhs = symbolic = substituted = value
    #: the LaTeX layout: rows of (lead, math); lead "=" starts a new step of the equation,
    #: "+" continues a broken sum or product (indented); the first row follows the lhs
    rows: list[tuple[str, str]] = field(default_factory=list)
    #: references too many for the last row: on rows of their own, each list one row
    ref_rows: list[list[int]] = field(default_factory=list)
    parts: tuple[list[str], list[str]] = field(default_factory=lambda: ([], []))
    #: the textbook shortcut after the value, its symbolic and substituted layers (``a_j − y_j``,
    #: ``0.15 − 1``), written ``= a − y = 0.15 − 1 = value`` on a row of its own; [] where there is none
    shortcut: list[str] = field(default_factory=list)


@dataclass
class SectionView:
    title: str
    equations: list[EquationView]


@dataclass
class StepView:
    number: int
    derived: bool
    sections: list[SectionView]
    loss: str


@dataclass(frozen=True)
class PageEquation:
    """A numbered equation of a web page whose math is made apart (``mathml[number]``): a
    derivation's rule, a descent's update. ``reason`` is ready Markup (words, inline MathML)
    beside it; ``indent`` its depth in a rule tree."""

    number: int
    refs: tuple[int, ...] = ()
    note: str = ""
    reason: Any = ""
    indent: int = 0
