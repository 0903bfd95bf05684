"""What a Jupyter notebook shows of a result as ``text/latex``: a LaTeX fragment, not a document.

A notebook typesets ``text/latex`` with MathJax: display math (``$$ … $$``, ``\\[ … \\]``,
``align*``) is typeset, the rest shown as text, and a preamble (``\\documentclass``,
``\\usepackage``, TikZ, ``tabular``) would show raw. So a fragment is the document's
equations, numbered as in the document — each a
``$$ \\begin{aligned} … \\end{aligned} \\tag{n} $$`` block (the Markdown document writes its number
in the math and its anchor before it, which MathJax alone would show raw) — with the section titles as
plain lines between them. The view models are the documents' own (:mod:`tracer.render.document`,
:mod:`tracer.render.graph`, :mod:`tracer.render.calculus`); nothing is computed here.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import sympy as sp

from tracer.calculus.derivatives import Derivation
from tracer.calculus.descent import Descent
from tracer.core.solution import GraphSolution, Solution, Step
from tracer.render import matrix
from tracer.render.calculus import _descent_tex_body, diff_tex
from tracer.render.document import DocumentBuilder, _step_title, environment, printer_for
from tracer.render.graph import printer as graph_printer
from tracer.numbers import DEFAULT_DIGITS
from tracer.render.step_printer import Printer, escape_tex

#: above this many parameters a solution is shown in matrix (δ) form, as `tracer solve -f md` does
SCALAR_LIMIT = 200


def markdown_fragment(md: str) -> str:
    """A Markdown document as a notebook shows it: without the front matter pandoc reads
    (``---`` / ``pagetitle: …`` / ``---``, which a notebook shows as a rule and a line of text)."""
    return re.sub(r"\A---\n.*?\n---\n\n?", "", md, count=1, flags=re.S)


def wide(solution: Solution | GraphSolution) -> bool:
    """Too many parameters for one equation per number (`tracer solve`'s default for md/tex)."""
    return isinstance(solution, Solution) and len(solution.problem.parameter_keys) > SCALAR_LIMIT and not solution.problem.layered


def _fragment(groups: list, quantity: str = "", value: str = "") -> str:
    return environment("text").get_template("notebook.latex.j2").render(groups=groups, quantity=quantity, value=value)


def solution_latex(solution: Solution | GraphSolution, *, notation: str | None = None, digits: int = DEFAULT_DIGITS, detail: str = "standard") -> str:
    """A solution's equations: every section of every written-out step, then the closing pass."""
    if isinstance(solution, GraphSolution):
        printer = graph_printer("latex", digits)
    else:
        printer = printer_for(solution.problem, "latex", notation, digits)
    builder = DocumentBuilder(solution, printer, detail)  # type: ignore[arg-type]
    groups: list = []
    if wide(solution):
        sections = matrix.MatrixBuilder(solution, Printer("latex", printer.names, digits)).sections()  # type: ignore[arg-type]
        groups = [(section.title, section.equations) for section in sections]
        return _fragment(groups)
    several = len(solution.steps) > 1
    for ts in solution.steps:
        if not ts.derived:
            continue
        for section in builder.sections(ts.sections):
            groups.append((f"Training step {ts.number}: {section.title}" if several else section.title, section.equations))
    for section in builder.sections(solution.closing):
        groups.append((section.title, section.equations))
    return _fragment(groups)


def steps_latex(solution: Solution | GraphSolution, steps: Sequence[Step], value: float, quantity: str, *, notation: str | None = None,
                digits: int = DEFAULT_DIGITS) -> str:
    """`tracer ask`'s answer: the steps a quantity needs, then the quantity's value."""
    printer = graph_printer("latex", digits) if isinstance(solution, GraphSolution) else printer_for(solution.problem, "latex", notation, digits)
    builder = DocumentBuilder(solution, printer)  # type: ignore[arg-type]
    groups: list = []
    for step in steps:
        title = _step_title(step.key.step)
        if not groups or groups[-1][0] != title:
            groups.append((title, []))
        groups[-1][1].append(builder.equation(step))
    if len(groups) == 1:
        groups = [("", groups[0][1])]
    name = r"\mathrm{" + escape_tex(quantity) + "}"
    return _fragment(groups, name, printer.number(value))


def diff_latex(derivations: Sequence[Derivation], point: Mapping[sp.Symbol, sp.Expr] | None = None, digits: int = DEFAULT_DIGITS) -> str:
    """`tracer diff -f tex` is already a fragment MathJax typesets (``\\[ … \\]``, ``align*``)."""
    return diff_tex(derivations, point, digits)


def descent_latex(descent: Descent, digits: int = DEFAULT_DIGITS, written: int = 3, every: int = 1) -> str:
    """The function, its gradient, the first updates and the iterates as an ``array`` (not a
    ``tabular``, which MathJax does not typeset), without the pgfplots figure."""
    header, updates, table = _descent_tex_body(descent, digits, written, every)
    out = ["$$", r"\begin{gathered}", " \\\\\n".join(header), r"\end{gathered}", "$$"]
    if updates:
        out += ["$$", r"\begin{aligned}", " \\\\\n".join(updates), r"\end{aligned}", "$$"]
    cells = [[cell.strip("$") for cell in row] for row in table]
    out += ["$$", r"\begin{array}{" + "r" * len(cells[0]) + "}", " & ".join(cells[0]) + r" \\ \hline"]
    out += [" & ".join(row) + r" \\" for row in cells[1:]]
    out += [r"\end{array}", "$$"]
    return "\n".join(out) + "\n"
