"""Every printed step as a careful hand calculation writes it (issue 25, items 4–8 and 11–14): a
rounding difference is not a result, each step's parameters have a symbol of their own, a
mini-batch's samples keep the numbers of the problem's table, λ is not two things at once, a
`<` in prose is a `<` in the PDF, an expression may begin with a minus sign, and a quiz's options
carry every significant digit the sheet asks for."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import tracer
from tracer.cli import cli
from tracer.render.document import render
from tracer.spec import from_mapping, load

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _text(path: str, *, notation: str | None = None, fmt: str = "text", **changes) -> str:
    problem = load(EXAMPLES / path)
    return render(tracer.solve(problem), fmt, notation=notation)


# ---------------------------------------------------------------------------
# Item 4: a rounding difference is printed as one (two significant digits)
# ---------------------------------------------------------------------------


def test_the_delta_form_prints_its_difference_as_a_rounding_not_a_result():
    text = _text("mazur.yaml")
    # was "2.77555756e−17", nine digits of float noise presented like a result
    assert "Largest difference between the δ form (NumPy) and the scalar chain (SymPy): 2.8e−17." in text
    assert not re.search(r"difference \d\.\d{4,}e", text)
