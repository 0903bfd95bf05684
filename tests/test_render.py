"""Documents: numbers formatted once, LaTeX that compiles without overfull boxes in every
theme, Markdown that a real renderer accepts, problem-file text escaped, printed numbers
equal to the engine's verified values."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tracer import load, loads, solve
from tracer.latex import fmt, fmt_operand
from tracer.notation import THEMES
from tracer.render import compile_pdf, render

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))
HAS_TEX = shutil.which("pdflatex") is not None
latex = pytest.mark.skipif(not HAS_TEX, reason="no TeX engine (scripts/install-tex.sh installs one)")


def test_number_format_has_no_float_noise():
    assert fmt(0.1 + 0.2) == "0.3"
    assert fmt(0.082167041, 9) == "0.082167041"
    assert fmt(-0.0) == "0"
    assert fmt(3.5102e-05, 5) == "3.5102e−05"
    assert fmt(3.5102e-05, 5, "latex") == r"3.5102 \times 10^{-5}"
    assert fmt(1234.5, 3) == "1235" or fmt(1234.5, 3) == "1234"
    assert fmt(2.0) == "2"


def test_negative_operands_are_parenthesised():
    assert fmt_operand(-2.5) == "(−2.5)"
    assert fmt_operand(-2.5, dialect="latex") == r"\left(-2.5\right)"
    assert fmt_operand(0.04) == "0.04"


def test_substituted_negative_numbers_in_parentheses():
    sol = solve(load("examples/mazur.yaml"))
    text = render(sol, "text")
    assert "0.5 − 0.5 × (−0.0226025405) = 0.51130127" in text


def _equation_values(text: str) -> dict[int, str]:
    """Equation number → the value printed at the end of its text line."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^\((\d+)\) .* = ([^ =]+?)(?:   \[from .*\])?(?:   \(.*\))?$", line)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


def test_printed_numbers_equal_the_verified_values():
    sol = solve(load("examples/mazur.yaml"))
    assert sol.verification.ok
    text = render(sol, "text", digits=9)
    printed = _equation_values(text)
    steps = [s for s in sol.all_steps()]
    assert len(printed) == len(steps)
    for k, step in enumerate(steps, 1):
        value = float(printed[k].replace("−", "-"))
        assert value == pytest.approx(step.value, rel=5e-9, abs=1e-12), (k, step.id)


def test_markdown_blocks_balanced_and_numbered():
    for path in EXAMPLES:
        md = render(solve(load(path)), "md")
        assert md.count("$$") % 2 == 0, path
        tags = re.findall(r"\\tag\{(\d+)\}", md)
        assert [int(t) for t in tags] == list(range(1, len(tags) + 1)), path


@pytest.mark.skipif(shutil.which("pandoc") is None, reason="pandoc not installed (scripts/install-tex.sh)")
def test_markdown_renders_with_pandoc_mathjax(tmp_path):
    md = render(solve(load("examples/mazur.yaml")), "md", notation="mazur")
    path = tmp_path / "mazur.md"
    path.write_text(md)
    html = subprocess.run(["pandoc", "-f", "markdown", "-t", "html", "--mathjax", str(path)], capture_output=True, text=True, check=True).stdout
    blocks = md.count("$$") // 2
    assert html.count('class="math display"') == blocks
    assert "$$" not in html.replace("\\[", "")  # every $$ was recognised as math
    assert "out_{o1}" in html


HOSTILE = """
title: '\\input{/etc/passwd} \\write18{touch /tmp/pwned} $x$ & 100% #1 ~ ^ _ { }'
network:
  inputs: 1
  layers:
    - {units: 1, activation: sigmoid, weights: [[0.5]]}
loss: {kind: mse}
data: [{x: [1.0], y: [0.2]}]
training: {learning_rate: 0.1}
"""


def test_title_is_escaped_in_latex_and_markdown():
    sol = solve(loads(HOSTILE, "hostile.yaml"))
    tex = render(sol, "tex")
    assert r"\input{/etc" not in tex and r"\write18{" not in tex
    assert r"\textbackslash{}input\{/etc/passwd\}" in tex
    md = render(sol, "md")
    assert "\\input{" not in md.split("\n", 2)[0]


@latex
def test_hostile_title_compiles_as_text(tmp_path):
    sol = solve(loads(HOSTILE, "hostile.yaml"))
    pdf = compile_pdf(render(sol, "tex"), tmp_path / "hostile.pdf")
    assert pdf.exists() and not Path("/tmp/pwned").exists()
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout if shutil.which("pdftotext") else ""
    if text:
        assert "input{/etc/passwd}" in text.replace("\n", " ")


def _overfull(log: str) -> list[float]:
    return [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]


@latex
@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_compiles_in_every_theme(path, tmp_path):
    sol = solve(load(path))
    for theme in THEMES:
        pdf = compile_pdf(render(sol, "tex", notation=theme), tmp_path / f"{path.stem}-{theme}.pdf")
        log = pdf.with_suffix(".log").read_text(errors="replace")
        wide = [w for w in _overfull(log) if w > 1.0]
        assert not wide, f"{path.stem} / {theme}: overfull hbox {wide}"


@latex
def test_matrix_form_compiles(tmp_path):
    sol = solve(load("examples/mazur.yaml"))
    pdf = compile_pdf(render(sol, "tex", form="matrix"), tmp_path / "matrix.pdf")
    assert not [w for w in _overfull(pdf.with_suffix(".log").read_text()) if w > 1.0]
