"""The web pages (``-f html``) of `tracer diff` and `tracer descend`: one self-contained page each,
the solution page's head, stylesheet and numbered equations (:mod:`tracer.render.mathml`).

The rows are :mod:`tracer.render.calculus`'s — the LaTeX its Markdown and handout print — numbered
here in reading order: a derivation's every rule, algebra step and result, a descent's every
written-out update. A row that combines others links to them ("from (3), (4)"): a rule to the
rules it needs, an update to the gradient and states it reads and to the step before. Nothing is
computed here; every number is the derivation's or the descent's, printed by ``render.calculus``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

import sympy as sp
from markupsafe import Markup, escape

from tracer.calculus.derivatives import Derivation
from tracer.calculus.descent import Descent
from tracer.numbers import DEFAULT_DIGITS, fmt
from tracer.render import calculus as c
from tracer.render import mathml
from tracer.render.document import environment
from tracer.render.views import PageEquation


def _typeset(rows: list[tuple[str, str]]) -> Markup:
    """An equation's rows (lhs, ``= rhs``) as MathML; its LaTeX as text where latex2mathml cannot (marked)."""
    try:
        return mathml.aligned(rows)
    except mathml.NotConverted:
        return mathml.text_fallback("  ".join(f"{a} {b}" for a, b in rows))


def _inline(latex: str) -> Markup:
    return mathml.math_filter(latex)


# ---------------------------------------------------------------------------
# diff
# ---------------------------------------------------------------------------


def _reason(row: c.DiffRow) -> Markup:
    """``chain rule (outer u³; inner u = 2x² − 1)``: the rule's name in words, what it names in MathML."""
    words = escape(row.reason)
    return Markup(f"{words} ({_inline(row.detail)})") if row.detail else Markup(words)


def diff_page(derivations: Sequence[Derivation], point: Mapping[sp.Symbol, sp.Expr] | None = None, digits: int = DEFAULT_DIGITS) -> str:
    """`tracer diff -f html`: the function, then per derivative its rules, numbered, each linked to
    the rules it combines; the result; its value at ``--at``."""
    w = c._DiffWriter("tex")
    text = c._DiffWriter("text")
    function_name = derivations[0].name or "f"
    header = c._function_header(derivations[0], w, function_name)
    sections = []
    typeset: dict[int, Markup] = {}
    number = 0
    for derivation in derivations:
        rows, target = c.diff_rows(derivation, w, function_name)
        first = number + 1
        equations = []
        for row in rows:
            number += 1
            lhs = row.lhs or target  # an algebra step continues the derivative
            typeset[number] = _typeset([(lhs, f"= {row.rhs}")])
            equations.append(PageEquation(number, tuple(first + u for u in row.uses), reason=_reason(row), indent=min(row.depth, 4)))
        value = None
        if point:
            number += 1
            at = c._point_tex(point, w)
            typeset[number] = _typeset([(rf"\left.{target}\right|_{{{at}}}", f"= {c._value_text(derivation.value_at(point), digits, 'latex')}")])
            value = PageEquation(number, (first + _result_index(rows),), reason=Markup(f"at {_inline(at)}"))
        sections.append({"wrt": w.name(derivation.wrt), "equations": equations + ([value] if value else []), "note": c._kink_note(derivation, point)})
    title = c._function_header(derivations[0], text, function_name)
    return environment("page").get_template("diff.html.j2").render(title=title, header=header, sections=sections, mathml=typeset)


def _result_index(rows: list[c.DiffRow]) -> int:
    return next(k for k, row in enumerate(rows) if row.kind == "result")


# ---------------------------------------------------------------------------
# descend
# ---------------------------------------------------------------------------


def _run_view(descent: Descent, digits: int, written: int, start: int, typeset: dict[int, Markup]) -> tuple[list[PageEquation], int]:
    """One run's written-out updates, numbered from ``start + 1``; each linked to the rows it reads."""
    rows = c.plain_update_rows(descent, digits, written) if descent.optimizer.plain else c.optimizer_update_rows(descent, "latex", digits, written)
    numbers: dict[tuple, int] = {}
    equations = []
    number = start
    for row in rows:
        number += 1
        numbers[row.key] = number
        typeset[number] = _typeset([(row.lhs, f"= {row.rhs}")])
        refs = sorted({numbers[key] for key in row.uses if key in numbers})
        equations.append(PageEquation(number, tuple(refs)))
    return equations, number


def _capitalized(sentence: str) -> str:
    """``gradient descent (torch.optim.SGD)`` → ``Gradient descent (torch.optim.SGD)`` (Jinja's capitalize lowers the rest)."""
    return sentence[:1].upper() + sentence[1:]


def _table(rows: list[list[str]]) -> dict:
    """A table of LaTeX cells (``$…$``) as ready Markup: the header, then the rows."""
    cells = [[mathml.prose_filter(cell) for cell in row] for row in rows]
    return {"header": cells[0], "rows": cells[1:]}


def descent_page(descents: Sequence[Descent], digits: int = DEFAULT_DIGITS, written: int = 3, every: int = 1) -> str:
    """`tracer descend -f html`: the function and its gradient, each optimizer's rule and its first
    updates (numbered, linked), the iterates' table and the path as inline SVG (one or two variables)."""
    first = descents[0]
    header, _, table = c._descent_tex_body(replace(first, optimizer=c.SGD_SPEC), digits, 0, every)
    typeset: dict[int, Markup] = {}
    runs = []
    number = 0
    for d in descents:
        equations, number = _run_view(d, digits, written, number, typeset)
        runs.append({
            "title": c._label(d),
            "sentence": _capitalized(c._optimizer_sentence(d, digits)[len(", optimizer "):] if not d.optimizer.plain else c._tex_escape(d.rule.title)),
            "rules": c._optimizer_statement(d, "latex", digits) if not d.optimizer.plain else [],
            "equations": equations,
            "note": c._descent_note(d, digits, "latex"),
        })
    if len(descents) > 1:
        table = c._comparison_table(descents, digits, every, "latex")
    else:
        table = c._descent_tex_body(first, digits, 0, every)[2]
    plot = Markup(c.descents_svg(descents)) if len(first.variables) <= 2 else ""
    name = c._name_text(first.name or "f")
    args = ", ".join(c._name_text(v.name) for v in first.variables)
    start = r",\ ".join(rf"{c._name_tex(v.name)}_{{0}} = {fmt(p, digits, 'latex')}" for v, p in zip(first.variables, first.iterates[0].point))
    return environment("page").get_template("descend.html.j2").render(
        title=f"Gradient descent on {name}({args}) = {c.text_math(first.function)}",
        function=header[0],
        header=header,
        rate=fmt(first.learning_rate, digits, "latex"),
        steps=first.requested_steps,
        start=start,
        runs=runs,
        table=_table(table),
        plot=plot,
        mathml=typeset,
    )


__all__ = ["diff_page", "descent_page"]
