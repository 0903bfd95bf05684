"""Every string of `tracer diff` and `tracer descend`: text, Markdown, LaTeX, JSON, SVG, pgfplots.

The math (:mod:`tracer.calculus`) hands over derivations and descents as data;
this module only writes them. Numbers go through :func:`tracer.numbers.fmt`,
the project's one number formatter (significant digits, no float noise, Unicode
minus in text). Expressions go through the project's printers
(:mod:`tracer.render.sympy_printers`, subclasses of SymPy's own: precedence decides the
brackets, nothing is edited after printing): ``text_math`` for the terminal and
``tex_math`` for LaTeX/MathJax, each in two configurations — a result in SymPy's
order with a positive term first, and a rule's combination *as built* (its terms
and factors in their order, each factor that is a sum or product in brackets).

``render_diff`` and ``render_descent`` are the two entry points.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import sympy as sp
from sympy.printing.precedence import PRECEDENCE, precedence

from tracer.calculus import derivatives as calc
from tracer.calculus.derivatives import Derivation, RuleStep
from tracer.calculus.descent import Descent, sample_curve, sample_grid
from tracer.core import optimizers
from tracer.notation import optimizer as letters
from tracer.spec import OptimizerSpec

#: plain gradient descent (a run's header and table without its optimizer)
SGD_SPEC = OptimizerSpec()
from tracer.render.sympy_printers import LatexPrinter, SubstitutedNumber, TextPrinter
from tracer.render import plot_axes
from tracer.numbers import DEFAULT_DIGITS, fmt
from tracer.render.step_printer import escape_tex

FORMATS = ("text", "md", "tex", "json")

GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ", "eta": "η",
    "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
    "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
}
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


# ---------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------


def _greek_names(expr: sp.Basic) -> dict:
    """Terminal names of the symbols spelled as Greek letters (``sigma`` → ``σ``); others print as named."""
    return {s: GREEK[s.name] for s in expr.atoms(sp.Symbol) if s.name in GREEK}


def text_math(expr: sp.Expr, as_built: bool = False, digits: int = DEFAULT_DIGITS) -> str:
    """``12·x·(2·x^2 − 1)^2``, ``e^(−x)``, ``ln(x)``, ``|x|``, ``H(x)``, ``√(x)``, Greek letters."""
    settings = {"symbol_names": _greek_names(expr), "number": lambda v: fmt(v, digits)}
    if as_built:
        settings.update(as_built=True, order="none")
    else:
        settings.update(leading_positive=True)
    return TextPrinter(settings).doprint(expr)


_TEX_SETTINGS = {"ln_notation": True, "number": lambda v: fmt(v, 9, "latex")}
_TEX = LatexPrinter({**_TEX_SETTINGS, "leading_positive": True})
_TEX_AS_BUILT = LatexPrinter({**_TEX_SETTINGS, "as_built": True, "order": "none"})


def tex_math(expr: sp.Expr, as_built: bool = False) -> str:
    return (_TEX_AS_BUILT if as_built else _TEX).doprint(expr)


def _name_text(name: str) -> str:
    return GREEK.get(name, name)


def _name_tex(name: str) -> str:
    return tex_math(sp.Symbol(name))


def _update(before: float, rate: float, gradient: float) -> sp.Expr:
    """``θ − α·g`` with the numbers in: ``−4 − 0.1 × (−8)`` (nothing computed)."""
    with sp.evaluate(False):
        return sp.Add(SubstitutedNumber(before), sp.Mul(-1, sp.Mul(SubstitutedNumber(rate), SubstitutedNumber(gradient))))


def _numbers_text(expr: sp.Expr, digits: int) -> str:
    return TextPrinter({"number": lambda v: fmt(v, digits), "order": "none", "mul_symbol": " × "}).doprint(expr)


def _numbers_tex(expr: sp.Expr, digits: int) -> str:
    return LatexPrinter({"number": lambda v: fmt(v, digits, "latex"), "order": "none", "mul_symbol": "times"}).doprint(expr)


# ---------------------------------------------------------------------------
# Shared vocabulary
# ---------------------------------------------------------------------------

RULE_LABELS = {
    calc.CONSTANT: "constant",
    calc.VARIABLE: "variable",
    calc.ALGEBRA: "algebra",
    calc.SUBSTITUTION: "substitution",
    calc.FROM_TABLE: "derivative table",
}


def rule_label(rule: str) -> str:
    """``chain`` → ``chain rule``; ``tanh`` → ``tanh rule``; ``constant`` stays."""
    return RULE_LABELS.get(rule, f"{rule} rule")


def _needs_brackets(expr: sp.Expr) -> bool:
    """Does ``d/dx`` applied to this expression need brackets? Anything binding no tighter
    than a product (a sum, a product, a negative number), and a power printed as a fraction."""
    reciprocal = expr.is_Pow and expr.exp.is_Number and expr.exp.is_extended_negative
    return precedence(expr) <= PRECEDENCE["Mul"] or bool(reciprocal)


def _value_text(value, digits: int, dialect: str = "text") -> str:
    if value is None:
        return "undefined" if dialect == "text" else r"\text{undefined}"
    if isinstance(value, complex):
        return "not real" if dialect == "text" else r"\text{not real}"
    return fmt(value, digits, dialect)


def _json_number(value) -> float | None:
    if value is None or isinstance(value, complex):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _kink_note(derivation: Derivation, point: Mapping[sp.Symbol, sp.Expr] | None) -> str | None:
    """At a kink of max/|·| the derivative does not exist; say so, and which convention was used."""
    if not point:
        return None
    if calc.at_kink(derivation.result, point):
        return "the point is a kink (the argument of max/relu/abs is 0): the derivative does not exist there; the value uses H(0) = 1/2 and sign(0) = 0"
    return None


# ---------------------------------------------------------------------------
# diff: text
# ---------------------------------------------------------------------------


class _DiffWriter:
    """Walks a derivation once; ``math``/``op``/``name`` are the dialect's spellings."""

    def __init__(self, dialect: str):
        self.dialect = dialect  # "text" | "tex"

    def math(self, expr: sp.Expr, as_built: bool = False) -> str:
        return text_math(expr, as_built) if self.dialect == "text" else tex_math(expr, as_built)

    def given(self, value: sp.Expr) -> str:
        """A value the user gave (``--at w=0.5``) as a decimal where it is one: 0.5, not 1/2."""
        if value.is_Rational and not value.is_Integer and set(sp.factorint(value.q)) <= {2, 5}:
            digits = max(sp.multiplicity(2, value.q), sp.multiplicity(5, value.q))
            text = f"{value.p * 10**digits // value.q}"  # exact: q divides 10^digits
            sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
            body = body.rjust(digits + 1, "0")
            decimal = f"{sign}{body[:-digits]}.{body[-digits:]}".rstrip("0").rstrip(".")
            return decimal.replace("-", "−") if self.dialect == "text" else decimal
        return self.math(value)

    def name(self, symbol: sp.Symbol | str) -> str:
        s = symbol if isinstance(symbol, str) else symbol.name
        return _name_text(s) if self.dialect == "text" else _name_tex(s)

    def d(self, partial: bool) -> str:
        if self.dialect == "text":
            return "∂" if partial else "d"
        return r"\partial" if partial else "d"

    def operator(self, wrt: sp.Symbol, partial: bool) -> str:
        d = self.d(partial)
        if self.dialect == "text":
            return f"{d}/{d}{self.name(wrt)}"
        return rf"\frac{{{d}}}{{{d} {self.name(wrt)}}}"

    def ratio(self, top: str, wrt: sp.Symbol | str, partial: bool) -> str:
        d = self.d(partial)
        if self.dialect == "text":
            space = " " if len(top) > 1 and top.isalpha() else ""
            return f"{d}{space}{top}/{d}{self.name(wrt)}"
        return rf"\frac{{{d} {top}}}{{{d} {self.name(wrt)}}}"

    def bracketed(self, expr: sp.Expr, as_built: bool = False) -> str:
        inner = self.math(expr, as_built)
        if not _needs_brackets(expr):
            return inner
        return f"({inner})" if self.dialect == "text" else rf"\left({inner}\right)"

    def equation(self, step: RuleStep, lhs: str | None = None) -> list[str]:
        """The sides of a step's equation: d/dx expr [= combination] = result."""
        shown = step.expression if step.shown is None else step.shown  # as the user typed it, where it is a part of it
        sides = [lhs or f"{self.operator(step.wrt, step.partial)} {self.bracketed(shown, step.shown is not None)}"]
        result = self.math(step.result)
        combination = step.combination
        if combination is not None and combination.is_Add and _canonical_equal(combination, step.result):
            combination = None  # a sum of the terms' derivatives that adds up as it stands
        if combination is not None:
            shown = self.math(combination, as_built=True)
            if shown != result:
                sides.append(shown)
        sides.append(result)
        return sides

    def piece(self, expr: sp.Expr) -> str:
        """Math after a word (``constant −1``): in LaTeX a group, so that its minus is a sign, not an operator."""
        return self.math(expr) if self.dialect == "text" else f"{{{self.math(expr)}}}"

    def word(self, text: str) -> str:
        """Words among math: as they are in text, ``\\text{…}`` in LaTeX."""
        return text if self.dialect == "text" else rf"\text{{{_tex_escape(text)}}}"

    def pieces(self, step: RuleStep, function_name: str) -> str:
        """What a rule names: the chain rule's outer and inner function, a constant, a note.

        In text the pieces of one rule are joined by ``, `` (``numerator x − 2, denominator
        x + 2``) and the chain rule's two by ``; `` (``outer u^3; inner u = 2·x^2 − 1``).
        """
        out = []
        pair = ";" if self.dialect == "text" and step.rule == calc.CHAIN else ","
        space = " " if self.dialect == "text" else r"\ "
        if step.rule == calc.CHAIN:
            u = step.part("u")
            out.append(f"{self.word('outer')}{space}{self.piece(step.part('outer'))}")
            out.append(f"{self.word('inner')}{space}{self.math(u)} = {self.math(step.part('inner'))}")
        elif step.rule == calc.CONSTANT_MULTIPLE:
            out.append(f"{self.word('constant')}{space}{self.piece(step.part('constant'))}")
        elif step.rule == calc.QUOTIENT:
            out.append(f"{self.word('numerator')}{space}{self.piece(step.part('numerator'))}")
            out.append(f"{self.word('denominator')}{space}{self.piece(step.part('denominator'))}")
        elif step.rule == calc.PRODUCT:
            out.append(f"{self.word('left')}{space}{self.piece(step.part('left'))}")
            out.append(f"{self.word('right')}{space}{self.piece(step.part('right'))}")
        elif step.rule in (calc.MULTIVARIABLE_CHAIN, calc.SUBSTITUTION):
            out.append((", " if self.dialect == "text" else r",\ ").join(f"{self.math(k)} = {self.math(v)}" for k, v in step.parts))
        if step.note and step.rule != calc.ALGEBRA:
            out.append(self.word(step.note))
        if step.rule in (calc.CHAIN, calc.QUOTIENT, calc.PRODUCT):
            first = f"{out[0]}{pair} {out[1]}" if self.dialect == "text" else rf"{out[0]};\ {out[1]}"
            out = [first] + out[2:]
        return ("; " if self.dialect == "text" else r";\ ").join(out)

    def algebra_note(self, step: RuleStep) -> str:
        words = step.note or ""
        math_parts = []
        for key, value in step.parts:
            if isinstance(key, str):
                math_parts.append(self.math(value))
            else:
                math_parts.append(f"{self.math(key)} = {self.math(value)}")
        if self.dialect == "text":
            return " ".join([words, ", ".join(math_parts)]).strip()
        pieces = ([self.word(words)] if words else []) + ([r",\ ".join(math_parts)] if math_parts else [])
        return r"\ ".join(pieces)

    def labels(self, derivation: Derivation, function_name: str) -> dict[int, str]:
        """Names for the sub-derivations of a multivariable chain: ∂z/∂x, dx/dt."""
        root = derivation.root
        out: dict[int, str] = {}
        if root.rule != calc.MULTIVARIABLE_CHAIN:
            return out
        by_expr = {v: k for k, v in root.parts}
        for sub in root.substeps:
            if sub.wrt != root.wrt:
                out[id(sub)] = self.ratio(self.name(function_name), sub.wrt, True)
            elif sub.expression in by_expr and sub.expression is not root.expression:
                out[id(sub)] = self.ratio(self.name(by_expr[sub.expression]), root.wrt, sub.partial)
            else:
                out[id(sub)] = self.ratio(self.name(function_name), root.wrt, True)
        return out

    def chain_formula(self, derivation: Derivation, function_name: str) -> str:
        """dz/dt = ∂z/∂x·dx/dt + ∂z/∂y·dy/dt (+ ∂z/∂t)."""
        root = derivation.root
        z = self.name(function_name)
        dot = "·" if self.dialect == "text" else r" \cdot "
        terms = [f"{self.ratio(z, v, True)}{dot}{self.ratio(self.name(v), root.wrt, False)}" for v, _ in root.parts if root.expression.has(v)]
        if root.expression.has(root.wrt):
            terms.append(self.ratio(z, root.wrt, True))
        return " + ".join(terms)


def _canonical_equal(unevaluated: sp.Expr, evaluated: sp.Expr) -> bool:
    try:
        return unevaluated.func(*unevaluated.args) == evaluated
    except (TypeError, ValueError):  # pragma: no cover - defensive
        return False


def _tex_escape(text: str) -> str:
    return escape_tex(text)


def _function_header(derivation: Derivation, writer: _DiffWriter, function_name: str) -> str:
    variables = derivation.variables or tuple(sorted(derivation.function.free_symbols, key=lambda s: s.name))
    args = ", ".join(writer.name(v) for v in variables)
    shown_name = writer.name(function_name)
    head = f"{shown_name}({args})" if args else shown_name
    root = derivation.root
    if root.rule == calc.MULTIVARIABLE_CHAIN:
        defs = ", ".join(f"{writer.math(k)} = {writer.math(v)}" for k, v in root.parts)
        sep = "; " if writer.dialect == "text" else r",\quad "
        return f"{shown_name} = {writer.math(root.expression)}{sep}{defs}"
    if derivation.written is not None:
        return f"{head} = {writer.math(derivation.written, as_built=True)}"  # as typed: x·w² + b²
    return f"{head} = {writer.math(derivation.function)}"


def derivation_text_lines(derivation: Derivation, function_name: str | None = None) -> list[str]:
    """One derivation as terminal lines: the rule tree (indented), the algebra, the result.

    Reusable on its own, e.g. by ``solve --detail full`` for σ' (:func:`tracer.calculus.derive_sigmoid`).
    """
    w = _DiffWriter("text")
    function_name = function_name or derivation.name or "f"
    target = w.ratio(w.name(function_name), derivation.wrt, derivation.partial)
    lines = [f"{target}:"]
    labels = w.labels(derivation, function_name)
    for depth, step in derivation.root.walk():
        indent = "  " * (depth + 1)
        if step.rule == calc.MULTIVARIABLE_CHAIN:
            sides = [target, w.chain_formula(derivation, function_name), *w.equation(step)[1:]]
        else:
            sides = w.equation(step)
        label = labels.get(id(step))
        prefix = f"{label}: " if label else ""
        line = f"{indent}{prefix}{rule_label(step.rule)}: {' = '.join(sides)}"
        pieces = w.pieces(step, function_name)
        if pieces:
            line += f"   [{pieces}]"
        lines.append(line)
    for rewrite in derivation.rewrites:
        lines.append(f"  {rule_label(rewrite.rule)}: = {w.math(rewrite.result, as_built=True)}   [{w.algebra_note(rewrite) or w.pieces(rewrite, function_name)}]")
    lines.append(f"{target} = {w.math(derivation.result)}")
    if derivation.textbook is not None and derivation.textbook != derivation.result:
        where = ", ".join(f"{w.math(k)} = {w.math(v)}" for k, v in derivation.definitions)
        lines.append(f"textbook form: {target} = {w.math(derivation.textbook)}" + (f"   with {where}" if where else ""))
    return lines


def diff_text(derivations: Sequence[Derivation], point: Mapping[sp.Symbol, sp.Expr] | None = None, digits: int = DEFAULT_DIGITS) -> str:
    w = _DiffWriter("text")
    first = derivations[0]
    function_name = first.name or "f"
    lines: list[str] = [_function_header(first, w, function_name)]
    for derivation in derivations:
        lines.append("")
        lines.extend(derivation_text_lines(derivation, function_name))
        if point:
            target = w.ratio(w.name(function_name), derivation.wrt, derivation.partial)
            value = derivation.value_at(point)
            at = ", ".join(f"{w.name(s)} = {w.given(v)}" for s, v in point.items())
            lines.append(f"at {at}: {target} = {_value_text(value, digits)}")
            note = _kink_note(derivation, point)
            if note:
                lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# diff: Markdown and LaTeX (to move onto the shared templates)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffRow:
    """One row of a derivation, as the LaTeX, the Markdown and the web page write it: a rule's
    ``lhs = rhs``, an algebra step continuing the row before (no lhs), the result, the textbook form."""

    kind: str  # "rule" | "rewrite" | "result" | "textbook"
    depth: int
    lhs: str  # LaTeX; "" for a rewrite
    rhs: str  # LaTeX after "="
    reason: str  # the rule's name in words ("chain rule")
    detail: str  # LaTeX: what the rule names (outer and inner function, a constant), or ""
    reason_tex: str  # the LaTeX column: \text{chain rule}\ (…)
    uses: tuple[int, ...]  # the rows (indices) whose results this one combines


def diff_rows(derivation: Derivation, w: _DiffWriter, function_name: str) -> tuple[list[DiffRow], str]:
    """A derivation's rows in reading order (a rule, then the rules it needs), and the target ∂f/∂x."""
    target = w.ratio(w.name(function_name), derivation.wrt, derivation.partial)
    labels = w.labels(derivation, function_name)
    walked = list(derivation.root.walk())
    index = {id(step): k for k, (_, step) in enumerate(walked)}
    rows: list[DiffRow] = []
    for depth, step in walked:
        if step.rule == calc.MULTIVARIABLE_CHAIN:
            sides = [target, w.chain_formula(derivation, function_name), *w.equation(step)[1:]]
        else:
            sides = w.equation(step)
        label = labels.get(id(step))
        pieces = w.pieces(step, function_name)
        reason_tex = rf"\text{{{_tex_escape(rule_label(step.rule))}}}" + (rf"\ ({pieces})" if pieces else "")
        lhs = f"{label + ' = ' if label else ''}{sides[0]}"
        rows.append(DiffRow("rule", depth, lhs, " = ".join(sides[1:]), rule_label(step.rule), pieces, reason_tex,
                            tuple(index[id(s)] for s in step.substeps)))
    for rewrite in derivation.rewrites:
        note = w.algebra_note(rewrite) or w.pieces(rewrite, function_name)
        rows.append(DiffRow("rewrite", 1, "", w.math(rewrite.result, as_built=True), rule_label(rewrite.rule), note,
                            rf"\text{{{_tex_escape(rule_label(rewrite.rule))}}}\ ({note})", (len(rows) - 1 if rows[-1].kind == "rewrite" else 0,)))
    last = len(rows) - 1 if rows[-1].kind == "rewrite" else 0
    rows.append(DiffRow("result", 0, target, w.math(derivation.result), "result", "", r"\text{result}", (last,)))
    if derivation.textbook is not None and derivation.textbook != derivation.result:
        where = r",\ ".join(f"{w.math(k)} = {w.math(v)}" for k, v in derivation.definitions)
        rows.append(DiffRow("textbook", 0, target, w.math(derivation.textbook), "textbook form", where,
                            r"\text{textbook form}" + (rf"\ ({where})" if where else ""), (len(rows) - 1,)))
    return rows, target


def _diff_tex_lines(derivation: Derivation, w: _DiffWriter, function_name: str) -> tuple[list[str], str]:
    """Rows of an ``align*``, flush left and indented by depth: ``&\\quad lhs = rhs && \\text{rule}``."""
    rows, target = diff_rows(derivation, w, function_name)
    lines = []
    for row in rows:
        if row.kind == "rule":
            indent = r"\quad " * row.depth
            lines.append(rf"&{indent}{row.lhs} = {row.rhs} && {row.reason_tex}")
        elif row.kind == "rewrite":
            lines.append(rf"&\quad = {row.rhs} && {row.reason_tex}")
        else:
            lines.append(rf"&{row.lhs} = {row.rhs} && {row.reason_tex}")
    return lines, target


def _point_tex(point: Mapping[sp.Symbol, sp.Expr], w: _DiffWriter) -> str:
    return r",\ ".join(f"{w.name(s)} = {w.given(v)}" for s, v in point.items())


def diff_markdown(derivations: Sequence[Derivation], point: Mapping[sp.Symbol, sp.Expr] | None = None, digits: int = DEFAULT_DIGITS) -> str:
    w = _DiffWriter("tex")
    function_name = derivations[0].name or "f"
    out = [f"$$ {_function_header(derivations[0], w, function_name)} $$", ""]
    for derivation in derivations:
        rows, target = _diff_tex_lines(derivation, w, function_name)
        out.append("$$")
        out.append(r"\begin{aligned}")
        out.append(" \\\\\n".join(rows))
        out.append(r"\end{aligned}")
        out.append("$$")
        out.append("")
        if point:
            value = derivation.value_at(point)
            out.append(f"At ${_point_tex(point, w)}$: ${target} = {_value_text(value, digits, 'latex')}$")
            note = _kink_note(derivation, point)
            if note:
                out.append("")
                out.append(f"*Note: {note}.*")
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def diff_tex(derivations: Sequence[Derivation], point: Mapping[sp.Symbol, sp.Expr] | None = None, digits: int = DEFAULT_DIGITS) -> str:
    w = _DiffWriter("tex")
    function_name = derivations[0].name or "f"
    out = [r"\[ " + _function_header(derivations[0], w, function_name) + r" \]"]
    for derivation in derivations:
        rows, target = _diff_tex_lines(derivation, w, function_name)
        out.append(r"\begin{align*}")
        out.append(" \\\\\n".join(rows))
        out.append(r"\end{align*}")
        if point:
            value = derivation.value_at(point)
            out.append(rf"At ${_point_tex(point, w)}$: ${target} = {_value_text(value, digits, 'latex')}$.")
            note = _kink_note(derivation, point)
            if note:
                out.append(rf"\emph{{Note: {_tex_escape(note)}.}}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# diff: JSON (SPEC.md §5)
# ---------------------------------------------------------------------------


def _step_json(depth: int, step: RuleStep) -> dict:
    out: dict = {"rule": step.rule, "expression": str(step.expression), "result": str(step.result)}
    out["wrt"] = step.wrt.name
    out["depth"] = depth
    if step.combination is not None:
        out["combination"] = str(step.combination)
    if step.parts:
        out["parts"] = {str(k): str(v) for k, v in step.parts}
    if step.note:
        out["note"] = step.note
    return out


def derivation_json(derivation: Derivation, point: Mapping[sp.Symbol, sp.Expr] | None = None) -> dict:
    """``{"expression", "wrt", "derivative", "steps": [{"rule", "expression", "result", …}], "value"}``."""
    out: dict = {
        "expression": str(derivation.function),
        "wrt": derivation.wrt.name,
        "derivative": str(derivation.result),
        "steps": [_step_json(depth, step) for depth, step in derivation.steps()],
    }
    if derivation.name:
        out["name"] = derivation.name
    out["latex"] = tex_math(derivation.result)
    if derivation.textbook is not None:
        out["textbook"] = str(derivation.textbook)
    if point:
        value = derivation.value_at(point)
        out["value"] = _json_number(value)
        out["at"] = {s.name: _json_number(calc.evaluate(v, {})) for s, v in point.items()}
        if value is None or isinstance(value, complex):
            out["value_note"] = "undefined at this point" if value is None else "not real at this point"
    return out


def diff_json(derivations: Sequence[Derivation], point: Mapping[sp.Symbol, sp.Expr] | None = None) -> dict:
    """One derivative: SPEC.md §5's object. Several (partials): ``{"expression", "partials": [...]}``."""
    if len(derivations) == 1:
        return derivation_json(derivations[0], point)
    return {
        "expression": str(derivations[0].function),
        "wrt": [d.wrt.name for d in derivations],
        "partials": [derivation_json(d, point) for d in derivations],
    }


def render_diff(derivations: Sequence[Derivation], fmt_: str, point: Mapping[sp.Symbol, sp.Expr] | None = None, digits: int = DEFAULT_DIGITS) -> str:
    if fmt_ == "json":
        return json.dumps(diff_json(derivations, point), indent=1, ensure_ascii=False) + "\n"
    if fmt_ == "md":
        return diff_markdown(derivations, point, digits)
    if fmt_ == "tex":
        return diff_tex(derivations, point, digits)
    return diff_text(derivations, point, digits)


# ---------------------------------------------------------------------------
# descend
# ---------------------------------------------------------------------------


def _descent_note(descent: Descent, digits: int, dialect: str = "text") -> str | None:
    """Why a run is flagged, in words; ``dialect="latex"`` puts the math in ``$…$``."""
    latex = dialect == "latex"
    rate = fmt(descent.learning_rate, digits, dialect)
    alpha = rf"$\alpha = {rate}$" if latex else f"α = {rate}"
    if descent.stopped_at is not None:
        return (
            f"diverged: the numbers left the floating-point range at step {descent.stopped_at} "
            f"(stopped there); the learning rate {alpha} is too large"
        )
    if descent.growing_from is not None:
        k = descent.growing_from
        first, last = fmt(descent.iterates[k].value, digits, dialect), fmt(descent.final.value, digits, dialect)
        span = f"${first} \\to {last}$" if latex else f"{first} → {last}"
        return f"diverging: the value rises at every step from step {k} on ({span}); the learning rate {alpha} is too large"
    return None


def _rows(descent: Descent, every: int) -> list[int]:
    last = len(descent.iterates) - 1
    return [k for k in range(last + 1) if k % every == 0 or k == last]


def _text_intro(descent: Descent, digits: int) -> list[str]:
    name = _name_text(descent.name or "f")
    names = [_name_text(v.name) for v in descent.variables]
    args = ", ".join(names)
    lines = [
        f"gradient descent on {name}({args}) = {text_math(descent.function)}",
        f"learning rate α = {fmt(descent.learning_rate, digits)}, {descent.requested_steps} steps from "
        + ", ".join(f"{n} = {fmt(p, digits)}" for n, p in zip(names, descent.iterates[0].point)),
    ]
    one = len(names) == 1
    for v, g in zip(names, descent.gradient):
        d = "d" if one else "∂"
        lines.append(f"{d}{name}/{d}{v} = {text_math(g)}")
    lines.append("")
    return lines


# The optimizer's equations (tracer.core.optimizers), printed by the project's printers with
# names given per step: θ_{k−1} → x₀, g → g₁, v₋ → v₀, v → v₁; the numbers substituted
# unevaluated (SubstitutedNumber), each value read from the descent's iterates.

#: the options that set them
_HYPER_OPTIONS = {"beta": "--beta", "alpha": "--alpha", "beta1": "--beta1", "beta2": "--beta2", "eps": "--eps"}


def _hyper(name: str, latex: bool) -> str:
    """A hyperparameter as these pages write it (the one table, :mod:`tracer.notation.optimizer`): RMSprop's α
    (torch's name) is written ρ here, since α is the learning rate on these pages."""
    return letters.hyper_name(name, "latex" if latex else "text", page="calculus")


def _state(name: str, latex: bool) -> str:
    return letters.state_letter(name, "latex" if latex else "text")


def _indexed(letter: str, index: str, variable: str | None, latex: bool) -> str:
    """``v₁`` / ``v_{1}``; with several variables ``v₁[x]`` / ``v_{x,1}``."""
    if latex:
        return f"{letter}_{{{variable},{index}}}" if variable else f"{letter}_{{{index}}}"
    sub = index.translate(_SUBSCRIPT) if index.isdigit() else f"_({index})" if len(index) > 1 else f"_{index}"
    return f"{letter}{sub}" + (f"[{variable}]" if variable else "")


def _optimizer_symbols(descent: Descent, latex: bool, variable: str, tag: str | None, before: str, after: str) -> dict:
    """The names of the equations' symbols for one variable and one step (``before`` → ``after``)."""
    rate = r"\alpha" if latex else "α"
    names: dict = {optimizers.THETA: _indexed(variable, before, None, latex), optimizers.GRAD: _indexed("g", after, tag, latex),
                   optimizers.RATE: rate, optimizers.T: "t"}
    for key in letters.HYPERPARAMETERS:
        names[optimizers.HYPER[key]] = _hyper(key, latex)
    for key in letters.STATES:
        names[optimizers.STATE[key]] = _indexed(_state(key, latex), after, tag, latex)
        names[optimizers.previous(key)] = _indexed(_state(key, latex), before, tag, latex)
    return names


def _symbolic(expr: sp.Expr, names: dict, latex: bool) -> str:
    if latex:
        return LatexPrinter({**_TEX_SETTINGS, "as_built": True, "order": "none", "symbol_names": names}).doprint(expr)
    return TextPrinter({"symbol_names": names, "as_built": True, "order": "none"}).doprint(expr)


def _lhs(target: str, names: dict, variable_after: str) -> str:
    return variable_after if target == optimizers.AFTER else names[optimizers.STATE[target]]


def _optimizer_statement(descent: Descent, dialect: str, digits: int) -> list[str]:
    """The optimizer once: its name and hyperparameters, then its equations at step t (text lines,
    or LaTeX rows with ``&=``)."""
    latex = dialect == "latex"
    one = len(descent.variables) == 1
    variable = (_name_tex if latex else _name_text)(descent.variables[0].name) if one else (r"\theta" if latex else "θ")
    name = (_name_tex if latex else _name_text)(descent.name or "f")
    names = _optimizer_symbols(descent, latex, variable, None, "t-1" if latex else "t−1", "t")
    rule = descent.rule
    hyper = [f"{_hyper(k, latex)} = {fmt(v, digits, dialect)}" for k, v in descent.hyperparameters.items()]
    zeros = _starting_values(descent, latex, digits)
    before = names[optimizers.THETA]
    if latex:
        d = "" if one else r"\partial "
        gradient = rf"{name}'({before})" if one else rf"\nabla {name}({before})"
        rows = [rf"g_{{t}} = {gradient}"]
        rows += [rf"{_lhs(e.target, names, _indexed(variable, 't', None, True))} = {_symbolic(e.expression, names, True)}" for e in rule.equations]
        return rows + _heavy_ball_rows(descent, True, digits)
    gradient = f"{name}'({before})" if one else f"∂{name}/∂θ({before})"
    lines = [f"optimizer: {rule.title}" + "".join(f", {h}" for h in hyper + zeros)]
    if not one:
        lines.append("  for each variable θ of " + ", ".join(_name_text(v.name) for v in descent.variables))
    lines.append(f"  g_t = {gradient}")
    lines += [f"  {_lhs(e.target, names, _indexed(variable, 't', None, False))} = {_symbolic(e.expression, names, False)}" for e in rule.equations]
    heavy = _heavy_ball_rows(descent, False, digits)
    if heavy:
        lines.append("  heavy ball θ_t = θ_(t−1) − α·g_t + β·(θ_(t−1) − θ_(t−2)) from the previous iterate θ₋₁: v₀ = (θ₋₁ − θ₀)/α")
        lines += [f"  {row}" for row in heavy]
    return lines


def _starting_values(descent: Descent, latex: bool, digits: int) -> list[str]:
    """The state before the first update: ``v₀ = 0`` (torch's zeros), or the given values
    (``v₀[x] = 2``) and the steps already taken (``--state``)."""
    dialect = "latex" if latex else "text"
    one = len(descent.variables) == 1
    start = descent.iterates[0]
    given = {n for n, _ in descent.start_state.values} | ({"v"} if descent.start_state.previous else set())
    out: list[str] = []
    for n in descent.rule.states:
        if n not in given:
            out.append(f"{_indexed(_state(n, latex), '0', None, latex)} = 0")
            continue
        for v, value in zip(descent.variables, start.quantity(n)):
            tag = None if one else (_name_tex if latex else _name_text)(v.name)
            out.append(f"{_indexed(_state(n, latex), '0', tag, latex)} = {fmt(value, digits, dialect)}")
    if descent.taken:
        out.append(f"{descent.taken} steps taken before (t = {descent.taken + 1} at the first update)" if not latex
                   else rf"\text{{{descent.taken} steps taken before}}")
    return out


def _heavy_ball_rows(descent: Descent, latex: bool, digits: int) -> list[str]:
    """v₀ from heavy-ball's previous iterate, per variable: ``v₀[x] = (x₋₁ − x₀)/α = (1.2 − 1)/0.1 = 2``."""
    previous = descent.previous
    if previous is None:
        return []
    dialect = "latex" if latex else "text"
    spell = _name_tex if latex else _name_text
    one = len(descent.variables) == 1
    numbers = _numbers_tex if latex else _numbers_text
    start = descent.iterates[0]
    rows = []
    for i, v in enumerate(descent.variables):
        name = spell(v.name)
        names = {optimizers.PREVIOUS_ITERATE: _indexed(name, "-1" if latex else "₋₁", None, latex) if latex else f"{name}₋₁",
                 optimizers.THETA: _indexed(name, "0", None, latex), optimizers.RATE: r"\alpha" if latex else "α"}
        values = {optimizers.PREVIOUS_ITERATE: previous[i], optimizers.THETA: start.point[i], optimizers.RATE: descent.learning_rate}
        expression = optimizers.VELOCITY_FROM_PREVIOUS.expression
        with sp.evaluate(False):
            substituted = expression.xreplace({sym: SubstitutedNumber(values[sym]) for sym in expression.free_symbols})
        lhs = _indexed(_state("v", latex), "0", None if one else name, latex)
        rows.append(f"{lhs} = {_symbolic(expression, names, latex)} = {numbers(substituted, digits)} = {fmt(start.quantity('v')[i], digits, dialect)}")
    return rows


def _optimizer_sentence(descent: Descent, digits: int) -> str:
    """``, optimizer Adam (torch.optim.Adam), $\\beta_1 = 0.9$, …`` (nothing for plain descent)."""
    if descent.optimizer.plain:
        return ""
    hyper = [f"${_hyper(k, True)} = {fmt(v, digits, 'latex')}$" for k, v in descent.hyperparameters.items()]
    zeros = [f"${z}$" for z in _starting_values(descent, True, digits)]
    return f", optimizer {_tex_escape(descent.rule.title)}" + "".join(f", {h}" for h in hyper + zeros)


@dataclass(frozen=True)
class UpdateRow:
    """One written-out update equation of a descent: ``lhs = rhs`` (rhs: symbolic = substituted = value).
    ``key`` names what it computes — ``("g", k, i)`` the gradient, ``(state, k, i)`` an optimizer's state,
    ``("theta", k, i)`` the variable after update k — and ``uses`` the keys of the rows it reads."""

    step: int
    variable: int
    key: tuple
    lhs: str
    rhs: str
    uses: tuple[tuple, ...] = ()


def _reads(expression: sp.Expr, k: int, i: int) -> tuple[tuple, ...]:
    """The rows an optimizer's equation reads at update k: this step's gradient and states, the last step's states and variable."""
    out: list[tuple] = []
    for sym in sorted(expression.free_symbols, key=lambda s: s.name):
        if sym == optimizers.GRAD:
            out.append(("g", k, i))
        elif sym == optimizers.THETA and k > 1:
            out.append((optimizers.AFTER, k - 1, i))
        for n in letters.STATES:
            if sym == optimizers.STATE[n]:
                out.append((n, k, i))
            elif sym == optimizers.previous(n) and k > 1:
                out.append((n, k - 1, i))
    return tuple(out)


def optimizer_update_rows(descent: Descent, dialect: str, digits: int, written: int) -> list[UpdateRow]:
    """Each of the first ``written`` updates, per variable: the gradient, then every equation
    symbolic = substituted = value."""
    latex = dialect == "latex"
    one = len(descent.variables) == 1
    spell = _name_tex if latex else _name_text
    name = spell(descent.name or "f")
    variables = [spell(v.name) for v in descent.variables]
    hyper = descent.hyperparameters
    rule = descent.rule
    numbers = _numbers_tex if latex else _numbers_text
    rows: list[UpdateRow] = []
    for k in range(1, min(written, len(descent.iterates) - 1) + 1):
        before, after = descent.update(k)
        at = ", ".join(_indexed(v, str(k - 1), None, latex) for v in variables)
        point = tuple((optimizers.AFTER, k - 1, j) for j in range(len(variables))) if k > 1 else ()
        for i, v in enumerate(variables):
            tag = None if one else v
            names = _optimizer_symbols(descent, latex, v, tag, str(k - 1), str(k))
            names[optimizers.T] = str(descent.taken + k)
            values: dict = {optimizers.THETA: before.point[i], optimizers.GRAD: before.gradient[i],
                            optimizers.RATE: descent.learning_rate, optimizers.T: float(descent.taken + k)}
            values.update({optimizers.HYPER[h]: value for h, value in hyper.items()})
            values.update({optimizers.previous(n): before.quantity(n)[i] for n in rule.states})
            values.update({optimizers.STATE[n]: after.quantity(n)[i] for n in rule.shown})
            if latex:
                gradient = rf"{name}'({at})" if one else rf"\frac{{\partial {name}}}{{\partial {v}}}({at})"
            else:
                gradient = f"{name}'({at})" if one else f"∂{name}/∂{v}({at})"
            rows.append(UpdateRow(k, i, ("g", k, i), names[optimizers.GRAD], f"{gradient} = {fmt(before.gradient[i], digits, dialect)}", point))
            for e in rule.equations:
                with sp.evaluate(False):
                    substituted = e.expression.xreplace({sym: SubstitutedNumber(values[sym]) for sym in e.expression.free_symbols})
                value = after.point[i] if e.target == optimizers.AFTER else after.quantity(e.target)[i]
                lhs = _lhs(e.target, names, _indexed(v, str(k), None, latex))
                rows.append(UpdateRow(k, i, (e.target, k, i), lhs, f"{_symbolic(e.expression, names, latex)} = {numbers(substituted, digits)} = {fmt(value, digits, dialect)}",
                                      _reads(e.expression, k, i)))
    return rows


def _optimizer_updates(descent: Descent, dialect: str, digits: int, written: int) -> list[str]:
    """:func:`optimizer_update_rows` as text lines (a blank line between updates) or LaTeX rows with ``&=``."""
    latex = dialect == "latex"
    eq = "&=" if latex else "="
    lines: list[str] = []
    for row in optimizer_update_rows(descent, dialect, digits, written):
        if lines and not latex and row.variable == 0 and row.key[0] == "g":
            lines.append("")
        lines.append(f"{row.lhs} {eq} {row.rhs}")
    return lines


def plain_update_rows(descent: Descent, digits: int, written: int) -> list[UpdateRow]:
    """Plain gradient descent's first ``written`` updates in LaTeX: ``x_{1} = x_{0} − α·f'(x_{0}) = … = …``."""
    name = _name_tex(descent.name or "f")
    names = [_name_tex(v.name) for v in descent.variables]
    one = len(names) == 1
    rows = []
    for k in range(1, min(written, len(descent.iterates) - 1) + 1):
        before, after = descent.update(k)
        at = ", ".join(f"{n}_{{{k - 1}}}" for n in names)
        point = tuple((optimizers.AFTER, k - 1, j) for j in range(len(names))) if k > 1 else ()
        for i, v in enumerate(names):
            grad = rf"{name}'({at})" if one else rf"\frac{{\partial {name}}}{{\partial {v}}}({at})"
            rows.append(UpdateRow(k, i, (optimizers.AFTER, k, i), f"{v}_{{{k}}}",
                                  rf"{v}_{{{k - 1}}} - \alpha \cdot {grad} = "
                                  rf"{_numbers_tex(_update(before.point[i], descent.learning_rate, before.gradient[i]), digits)} = {fmt(after.point[i], digits, 'latex')}",
                                  point))
    return rows


def _text_plain_updates(descent: Descent, digits: int, written: int) -> list[str]:
    name = _name_text(descent.name or "f")
    names = [_name_text(v.name) for v in descent.variables]
    one = len(names) == 1
    lines: list[str] = []
    for k in range(1, min(written, len(descent.iterates) - 1) + 1):
        before, after = descent.update(k)
        sub_prev, sub_k = str(k - 1).translate(_SUBSCRIPT), str(k).translate(_SUBSCRIPT)
        at = ", ".join(f"{n}{sub_prev}" for n in names)
        for i, v in enumerate(names):
            d = "d" if one else "∂"
            grad_name = f"{name}'({at})" if one else f"{d}{name}/{d}{v}({at})"
            lines.append(
                f"{v}{sub_k} = {v}{sub_prev} − α·{grad_name} = "
                f"{_numbers_text(_update(before.point[i], descent.learning_rate, before.gradient[i]), digits)} = {fmt(after.point[i], digits)}"
            )
    return lines


def descent_text(descent: Descent, digits: int = DEFAULT_DIGITS, written: int = 3, every: int = 1) -> str:
    name = _name_text(descent.name or "f")
    names = [_name_text(v.name) for v in descent.variables]
    one = len(names) == 1
    lines = _text_intro(descent, digits)
    if descent.optimizer.plain:
        lines += _text_plain_updates(descent, digits, written)
    else:
        lines += _optimizer_statement(descent, "text", digits) + [""]
        lines += _optimizer_updates(descent, "text", digits, written)
    if written and len(descent.iterates) > 1:
        lines.append("")
    header = ["k", *names, name, *([f"d{name}/d{n}" for n in names] if one else [f"∂{name}/∂{n}" for n in names])]
    table = [header]
    for k in _rows(descent, every):
        it = descent.iterates[k]
        table.append([str(it.step), *[fmt(p, digits) for p in it.point], fmt(it.value, digits), *[fmt(g, digits) for g in it.gradient]])
    widths = [max(len(row[c]) for row in table) for c in range(len(header))]
    for row in table:
        lines.append("  ".join(cell.rjust(width) for cell, width in zip(row, widths)).rstrip())
    note = _descent_note(descent, digits)
    final = descent.final
    lines.append("")
    lines.append(
        f"after {final.step} steps: " + ", ".join(f"{n} = {fmt(p, digits)}" for n, p in zip(names, final.point)) + f", {name} = {fmt(final.value, digits)}"
    )
    if note:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def _descent_tex_body(descent: Descent, digits: int, written: int, every: int) -> tuple[list[str], list[str], list[list[str]]]:
    name = _name_tex(descent.name or "f")
    names = [_name_tex(v.name) for v in descent.variables]
    one = len(names) == 1
    d = "d" if one else r"\partial "
    header = [
        rf"{name}({', '.join(names)}) = {tex_math(descent.function)}",
        *[rf"\frac{{{d} {name}}}{{{d} {v}}} = {tex_math(g)}" for v, g in zip(names, descent.gradient)],
    ]
    updates = []
    if not descent.optimizer.plain:
        header += _optimizer_statement(descent, "latex", digits)
        updates = _optimizer_updates(descent, "latex", digits, written)
        written = 0
    updates += [f"{row.lhs} &= {row.rhs}" for row in plain_update_rows(descent, digits, written)]
    rows = [[f"${k}$"] + [f"${fmt(p, digits, 'latex')}$" for p in descent.iterates[k].point] + [f"${fmt(descent.iterates[k].value, digits, 'latex')}$"] + [f"${fmt(g, digits, 'latex')}$" for g in descent.iterates[k].gradient] for k in _rows(descent, every)]
    titles = ["$k$", *[f"${n}$" for n in names], f"${name}$", *[rf"$\frac{{{d} {name}}}{{{d} {n}}}$" for n in names]]
    return header, updates, [titles, *rows]


def descent_markdown(descent: Descent, digits: int = DEFAULT_DIGITS, written: int = 3, every: int = 1) -> str:
    header, updates, table = _descent_tex_body(descent, digits, written, every)
    out = [f"Gradient descent, learning rate $\\alpha = {fmt(descent.learning_rate, digits, 'latex')}$, {descent.requested_steps} steps{_optimizer_sentence(descent, digits)}.", ""]
    out += ["$$", r"\begin{aligned}", " \\\\\n".join(header), r"\end{aligned}", "$$", ""]
    if updates:
        out += ["$$", r"\begin{aligned}", " \\\\\n".join(updates), r"\end{aligned}", "$$", ""]
    out.append("| " + " | ".join(table[0]) + " |")
    out.append("|" + "|".join("---:" for _ in table[0]) + "|")
    for row in table[1:]:
        out.append("| " + " | ".join(row) + " |")
    note = _descent_note(descent, digits)
    if note:
        out += ["", f"**Note:** {note}."]
    return "\n".join(out) + "\n"


def descent_tex(descent: Descent, digits: int = DEFAULT_DIGITS, written: int = 3, every: int = 1) -> str:
    header, updates, table = _descent_tex_body(descent, digits, written, every)
    out = [] if descent.optimizer.plain else [f"Optimizer{_optimizer_sentence(descent, digits)[1:]}.", ""]
    out += [r"\begin{align*}", " \\\\\n".join(header), r"\end{align*}"]
    if updates:
        out += [r"\begin{align*}", " \\\\\n".join(updates), r"\end{align*}"]
    out.append(r"\begin{center}")
    out.append(r"\begin{tabular}{" + "r" * len(table[0]) + "}")
    out.append(r"\toprule")
    out.append(" & ".join(table[0]) + r" \\")
    out.append(r"\midrule")
    for row in table[1:]:
        out.append(" & ".join(row) + r" \\")
    out.append(r"\bottomrule")
    out.append(r"\end{tabular}")
    out.append(r"\end{center}")
    note = _descent_note(descent, digits, "latex")
    if note:
        out.append(rf"\emph{{Note: {note}.}}")
    out += ["", r"\begin{center}", descent_pgfplots(descent), r"\end{center}"]
    return "\n".join(out) + "\n"


def descent_json(descent: Descent) -> dict:
    """SPEC.md §5: ``{"iterates": [{"point": {"x": -4.0}, "value": 16.0, "gradient": {"x": -8.0}}]}`` and more."""
    names = [v.name for v in descent.variables]
    return {
        "expression": str(descent.function),
        "variables": names,
        "gradient_expression": {n: str(g) for n, g in zip(names, descent.gradient)},
        "learning_rate": descent.learning_rate,
        "steps": descent.requested_steps,
        "iterates": [
            {
                "step": it.step,
                "point": {n: _json_number(p) for n, p in zip(names, it.point)},
                "value": _json_number(it.value),
                "gradient": {n: _json_number(g) for n, g in zip(names, it.gradient)},
            }
            for it in descent.iterates
        ],
        "diverged": descent.diverged,
        "stopped_at": descent.stopped_at,
        "growing_from": descent.growing_from,
        "note": _descent_note(descent, 9),
    } if descent.optimizer.plain else _with_optimizer(descent)


def _with_optimizer(descent: Descent) -> dict:
    """The JSON of an optimizer's run: its equations and hyperparameters, and each iterate's state."""
    plain = descent_json(replace(descent, optimizer=SGD_SPEC))
    names = [v.name for v in descent.variables]
    rule = descent.rule
    plain["optimizer"] = {
        "name": descent.optimizer.name,
        "nesterov": descent.optimizer.nesterov,
        "title": rule.title,
        "hyperparameters": descent.hyperparameters,
        "equations": {e.target: str(e.expression) for e in rule.equations},
    }
    if descent.start_state.given:
        plain["optimizer"]["start_state"] = descent.start_state.to_mapping()
    for entry, it in zip(plain["iterates"], descent.iterates):
        entry["state"] = {n: {v: _json_number(x) for v, x in zip(names, values)} for n, values in it.state}
    return plain


def descents_json(descents: Sequence[Descent]) -> dict:
    """Several optimizers from one start: the function once, then one run each."""
    first = descents[0]
    names = [v.name for v in first.variables]
    return {
        "expression": str(first.function),
        "variables": names,
        "gradient_expression": {n: str(g) for n, g in zip(names, first.gradient)},
        "learning_rate": first.learning_rate,
        "steps": first.requested_steps,
        "optimizers": [d.optimizer.name for d in descents],
        "runs": [_with_optimizer(d) if not d.optimizer.plain else {**descent_json(d), "optimizer": {"name": "sgd", "nesterov": False,
                 "title": d.rule.title, "hyperparameters": {}, "equations": {e.target: str(e.expression) for e in d.rule.equations}}}
                 for d in descents],
    }


def _label(descent: Descent) -> str:
    """``momentum`` / ``momentum (Nesterov)``: a run's name in a comparison."""
    return descent.optimizer.name + (" (Nesterov)" if descent.optimizer.nesterov else "")


def _comparison_table(descents: Sequence[Descent], digits: int, every: int, dialect: str) -> list[list[str]]:
    """One row per step: f and the point under each optimizer (blank once a run has stopped)."""
    latex = dialect == "latex"
    spell = _name_tex if latex else _name_text
    name = spell(descents[0].name or "f")
    variables = [spell(v.name) for v in descents[0].variables]
    wrap = (lambda t: f"${t}$") if latex else (lambda t: t)
    header = [wrap("k")]
    for d in descents:
        label = _tex_escape(_label(d)) if latex else _label(d)
        header += [f"{wrap(name)} ({label})", *[f"{wrap(v)} ({label})" for v in variables]]
    last = max(len(d.iterates) for d in descents) - 1
    rows = [header]
    for k in range(last + 1):
        if not (k % every == 0 or k == last):
            continue
        row = [wrap(str(k))]
        for d in descents:
            if k < len(d.iterates):
                it = d.iterates[k]
                row += [wrap(fmt(it.value, digits, dialect)), *[wrap(fmt(p, digits, dialect)) for p in it.point]]
            else:
                row += [""] * (1 + len(variables))
        rows.append(row)
    return rows


def descents_text(descents: Sequence[Descent], digits: int = DEFAULT_DIGITS, written: int = 3, every: int = 1) -> str:
    first = descents[0]
    names = [_name_text(v.name) for v in first.variables]
    name = _name_text(first.name or "f")
    lines = _text_intro(first, digits)
    lines[1] += ", optimizers " + ", ".join(_label(d) for d in descents)
    for d in descents:
        lines.append(f"— {_label(d)} —")
        if d.optimizer.plain:
            lines.append(f"optimizer: {d.rule.title}")
            lines += _text_plain_updates(d, digits, written)
        else:
            lines += _optimizer_statement(d, "text", digits) + [""]
            lines += _optimizer_updates(d, "text", digits, written)
        lines.append("")
    table = _comparison_table(descents, digits, every, "text")
    widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]
    for row in table:
        lines.append("  ".join(cell.rjust(width) for cell, width in zip(row, widths)).rstrip())
    lines.append("")
    for d in descents:
        final = d.final
        lines.append(f"{_label(d)}: after {final.step} steps: " + ", ".join(f"{n} = {fmt(p, digits)}" for n, p in zip(names, final.point))
                     + f", {name} = {fmt(final.value, digits)}")
        note = _descent_note(d, digits)
        if note:
            lines.append(f"  note: {note}")
    return "\n".join(lines) + "\n"


def _descents_tex_parts(descents: Sequence[Descent], digits: int, written: int, every: int) -> tuple[list[str], list[tuple[str, list[str], list[str]]], list[list[str]]]:
    """The function and its gradient; per optimizer its sentence, its equations and its updates; the table."""
    header, _, _ = _descent_tex_body(replace(descents[0], optimizer=SGD_SPEC), digits, 0, every)
    runs = []
    for d in descents:
        if d.optimizer.plain:
            _, updates, _ = _descent_tex_body(d, digits, written, every)
            runs.append((f"{_tex_escape(d.rule.title)}", [], updates))
        else:
            runs.append((_optimizer_sentence(d, digits)[len(", optimizer "):], _optimizer_statement(d, "latex", digits),
                         _optimizer_updates(d, "latex", digits, written)))
    return header, runs, _comparison_table(descents, digits, every, "latex")


def descents_markdown(descents: Sequence[Descent], digits: int = DEFAULT_DIGITS, written: int = 3, every: int = 1) -> str:
    header, runs, table = _descents_tex_parts(descents, digits, written, every)
    first = descents[0]
    out = [f"Gradient descent, learning rate $\\alpha = {fmt(first.learning_rate, digits, 'latex')}$, {first.requested_steps} steps, "
           f"optimizers {', '.join(_label(d) for d in descents)}.", ""]
    out += ["$$", r"\begin{aligned}", " \\\\\n".join(header), r"\end{aligned}", "$$", ""]
    for sentence, statement, updates in runs:
        out += [f"**{sentence}**", ""]
        for block in (statement, updates):
            if block:
                out += ["$$", r"\begin{aligned}", " \\\\\n".join(block), r"\end{aligned}", "$$", ""]
    out.append("| " + " | ".join(table[0]) + " |")
    out.append("|" + "|".join("---:" for _ in table[0]) + "|")
    for row in table[1:]:
        out.append("| " + " | ".join(row) + " |")
    for d in descents:
        note = _descent_note(d, digits)
        if note:
            out += ["", f"**Note ({_label(d)}):** {note}."]
    return "\n".join(out) + "\n"


def descents_tex(descents: Sequence[Descent], digits: int = DEFAULT_DIGITS, written: int = 3, every: int = 1) -> str:
    header, runs, table = _descents_tex_parts(descents, digits, written, every)
    out = [r"\begin{align*}", " \\\\\n".join(header), r"\end{align*}"]
    for sentence, statement, updates in runs:
        out += ["", rf"\paragraph{{{sentence}}}"]
        for block in (statement, updates):
            if block:
                out += [r"\begin{align*}", " \\\\\n".join(block), r"\end{align*}"]
    out += ["", r"\begin{center}", r"\begin{tabular}{" + "r" * len(table[0]) + "}", r"\toprule", " & ".join(table[0]) + r" \\", r"\midrule"]
    out += [" & ".join(row) + r" \\" for row in table[1:]]
    out += [r"\bottomrule", r"\end{tabular}", r"\end{center}"]
    for d in descents:
        note = _descent_note(d, digits, "latex")
        if note:
            out.append(rf"\emph{{Note ({_tex_escape(_label(d))}): {note}.}}")
    out += ["", r"\begin{center}", descents_pgfplots(descents), r"\end{center}"]
    return "\n".join(out) + "\n"


def render_descents(descents: Sequence[Descent], fmt_: str, digits: int = DEFAULT_DIGITS, written: int = 3, every: int = 1) -> str:
    """One run as :func:`render_descent` writes it; several optimizers one after another, then compared."""
    if len(descents) == 1:
        return render_descent(descents[0], fmt_, digits, written, every)
    if fmt_ == "json":
        return json.dumps(descents_json(descents), indent=1, ensure_ascii=False) + "\n"
    if fmt_ == "md":
        return descents_markdown(descents, digits, written, every)
    if fmt_ == "tex":
        return descents_tex(descents, digits, written, every)
    return descents_text(descents, digits, written, every)


def render_descent(descent: Descent, fmt_: str, digits: int = DEFAULT_DIGITS, written: int = 3, every: int = 1) -> str:
    if fmt_ == "json":
        return json.dumps(descent_json(descent), indent=1, ensure_ascii=False) + "\n"
    if fmt_ == "md":
        return descent_markdown(descent, digits, written, every)
    if fmt_ == "tex":
        return descent_tex(descent, digits, written, every)
    return descent_text(descent, digits, written, every)


# ---------------------------------------------------------------------------
# Plots: hand-written SVG and pgfplots
# ---------------------------------------------------------------------------

SVG_WIDTH, SVG_HEIGHT, SVG_MARGIN, SVG_LEFT = 640, 480, 56, 88


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _finite_points(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(a, b) for a, b in points if math.isfinite(a) and math.isfinite(b)]


def _range(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        pad = max(1.0, abs(hi) * 0.1)
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.08
    return lo - pad, hi + pad


def plot_data(descent: Descent, samples: int = 200) -> dict:
    """What a plot shows: the path (1-D: (θ, f(θ)); 2-D: (x, y)) and, for 1-D, the curve under it."""
    if len(descent.variables) == 1:
        path = _finite_points([(it.point[0], it.value) for it in descent.iterates])
        if not path:
            return {"path": [], "curve": [], "labels": ("", "")}
        lo, hi = _range([p[0] for p in path])
        span = hi - lo
        curve = sample_curve(descent, lo - 0.15 * span, hi + 0.15 * span, samples)
        return {"path": path, "curve": _finite_points(curve), "labels": (descent.variables[0].name, descent.name or "f")}
    if len(descent.variables) == 2:
        path = _finite_points([(it.point[0], it.point[1]) for it in descent.iterates])
        return {"path": path, "curve": [], "labels": (descent.variables[0].name, descent.variables[1].name)}
    raise ValueError("a plot needs a function of one or two variables")


#: the room right of the plot for a legend (several optimizers): outside the paths
LEGEND_WIDTH = 150
#: grid points per side for a two-variable function's contour lines
CONTOUR_SAMPLES = 48


def _contour_lines(descent: Descent, x_range: tuple[float, float], y_range: tuple[float, float], path: list) -> list:
    """The level lines of a two-variable function over the plot's ranges: (level, segments)."""
    grid = sample_grid(descent, x_range, y_range, CONTOUR_SAMPLES)
    n = len(grid)
    xs = [x_range[0] + (x_range[1] - x_range[0]) * k / (n - 1) for k in range(n)]
    ys = [y_range[0] + (y_range[1] - y_range[0]) * k / (n - 1) for k in range(n)]
    return [(level, plot_axes.contours(grid, xs, ys, level)) for level in plot_axes.contour_levels(grid, [])]


def _svg_frame(title: str, everything: list, curve: list, xlabel: str, ylabel: str, *, legend: bool = False, surface: Descent | None = None):
    """The frame both plots of a descent share: the title, the axes scaled to ``everything`` with
    round ticks (1, 2 or 5 × 10^k apart), their labels, the curve f(θ) — or, for two variables
    (``surface``), the function's level lines under the path — and room for a legend right of the
    axes (``legend``), outside the paths; then (the lines so far, sx, sy) for the path(s) to be
    drawn on it. With no finite point: the whole (empty) SVG as a string."""
    w, h, m, left = SVG_WIDTH, SVG_HEIGHT, SVG_MARGIN, SVG_LEFT
    full = w + (LEGEND_WIDTH if legend else 0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{full}" height="{h}" viewBox="0 0 {full} {h}" font-family="sans-serif" font-size="12">',
        f'<rect x="0" y="0" width="{full}" height="{h}" fill="white"/>',
    ]
    out.append(f'<text x="{w / 2:.1f}" y="24" text-anchor="middle" font-size="14">{_xml(title)}</text>')
    if not everything:
        out.append(f'<text x="{w / 2:.1f}" y="{h / 2:.1f}" text-anchor="middle">no finite points to plot</text>')
        out.append("</svg>")
        return "\n".join(out) + "\n"
    x0, x1 = _range([p[0] for p in everything])
    y0, y1 = _range([p[1] for p in everything])

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (w - left - m)

    def sy(y: float) -> float:
        return h - m - (y - y0) / (y1 - y0) * (h - 2 * m)

    if surface is not None:
        for _, segments in _contour_lines(surface, (x0, x1), (y0, y1), everything):
            if segments:
                d = " ".join(f"M{sx(a):.1f},{sy(b):.1f}L{sx(c):.1f},{sy(e):.1f}" for (a, b), (c, e) in segments)
                out.append(f'<path d="{d}" fill="none" stroke="#c9c9c9" stroke-width="0.9" class="contour"/>')
    out.append(f'<rect x="{left}" y="{m}" width="{w - left - m}" height="{h - 2 * m}" fill="none" stroke="#444"/>')
    for values, horizontal in ((plot_axes.ticks(x0, x1), True), (plot_axes.ticks(y0, y1), False)):
        step = values[1] - values[0] if len(values) > 1 else 1.0
        for value in values:
            text = _xml(plot_axes.tick_text(value, step))
            if horizontal:
                out.append(f'<line x1="{sx(value):.1f}" y1="{h - m}" x2="{sx(value):.1f}" y2="{h - m + 5}" stroke="#444"/>')
                out.append(f'<text x="{sx(value):.1f}" y="{h - m + 18}" text-anchor="middle" class="tick">{text}</text>')
            else:
                out.append(f'<line x1="{left - 5}" y1="{sy(value):.1f}" x2="{left}" y2="{sy(value):.1f}" stroke="#444"/>')
                out.append(f'<text x="{left - 8}" y="{sy(value) + 4:.1f}" text-anchor="end" class="tick">{text}</text>')
    out.append(f'<text x="{left + (w - left - m) / 2:.1f}" y="{h - 16}" text-anchor="middle">{_xml(_name_text(xlabel))}</text>')
    out.append(f'<text x="16" y="{h / 2:.1f}" text-anchor="middle" transform="rotate(-90 16 {h / 2:.1f})">{_xml(_name_text(ylabel))}</text>')
    if curve:
        pts = " ".join(f"{sx(a):.2f},{sy(b):.2f}" for a, b in curve)
        out.append(f'<polyline points="{pts}" fill="none" stroke="#999" stroke-width="1.5"/>')
    return out, sx, sy


def descent_svg(descent: Descent) -> str:
    """The path of the iterates: over the curve f(θ) for one variable, over the function's level lines in the (x, y) plane for two."""
    data = plot_data(descent)
    path, curve = data["path"], data["curve"]
    xlabel, ylabel = data["labels"]
    frame = _svg_frame(f"{_name_text(descent.name or 'f')} = {text_math(descent.function)}, α = {fmt(descent.learning_rate, 6)}, {len(descent.iterates) - 1} steps",
                       path + curve, curve, xlabel, ylabel, surface=descent if len(descent.variables) == 2 else None)
    if isinstance(frame, str):
        return frame
    out, sx, sy = frame
    if path:
        pts = " ".join(f"{sx(a):.2f},{sy(b):.2f}" for a, b in path)
        out.append(f'<polyline points="{pts}" fill="none" stroke="#1f5fbf" stroke-width="1.5"/>')
        for k, (a, b) in enumerate(path):
            colour = "#2a9d3a" if k == 0 else ("#c0392b" if k == len(path) - 1 else "#1f5fbf")
            out.append(f'<circle cx="{sx(a):.2f}" cy="{sy(b):.2f}" r="{4 if k in (0, len(path) - 1) else 2.5}" fill="{colour}"/>')
        (a0, b0), (a1, b1) = path[0], path[-1]
        out.append(f'<text x="{sx(a0) + 6:.1f}" y="{sy(b0) - 6:.1f}" fill="#2a9d3a">start</text>')
        if len(path) > 1:
            out.append(f'<text x="{sx(a1) + 6:.1f}" y="{sy(b1) - 6:.1f}" fill="#c0392b">end</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _coordinates(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"({a:.8g},{b:.8g})" for a, b in points)


def _pgf_contours(descent: Descent, points: list) -> tuple[str, list[str]]:
    """For a two-variable descent: the axis's fixed ranges and the level lines as one pgfplots plot
    (segments apart: ``unbounded coords=jump`` at each ``(nan,nan)``)."""
    if len(descent.variables) != 2 or not points:
        return "", []
    (x0, x1), (y0, y1) = _range([p[0] for p in points]), _range([p[1] for p in points])
    coordinates = []
    for _, segments in _contour_lines(descent, (x0, x1), (y0, y1), points):
        for (a, b), (c, d) in segments:
            coordinates.append(f"({a:.5g},{b:.5g}) ({c:.5g},{d:.5g}) (nan,nan)")
    limits = f", xmin={x0:.6g}, xmax={x1:.6g}, ymin={y0:.6g}, ymax={y1:.6g}"
    lines = [r"\addplot[gray!45, no markers, thin, forget plot, unbounded coords=jump] coordinates {" + " ".join(coordinates) + "};"] if coordinates else []
    return limits, lines


def descent_pgfplots(descent: Descent) -> str:
    """The same plot as a pgfplots ``tikzpicture`` (needs ``\\usepackage{pgfplots}``): pgfplots' own
    round ticks; for two variables the function's level lines under the path."""
    data = plot_data(descent)
    xlabel, ylabel = data["labels"]
    limits, lines = _pgf_contours(descent, data["path"])
    out = [
        r"\begin{tikzpicture}",
        rf"\begin{{axis}}[width=0.8\linewidth, xlabel={{${_name_tex(xlabel)}$}}, ylabel={{${_name_tex(ylabel)}$}}{limits}]",
        *lines,
    ]
    if data["curve"]:
        out.append(r"\addplot[gray, no markers, thick] coordinates {" + _coordinates(data["curve"]) + "};")
    if data["path"]:
        out.append(r"\addplot[blue, mark=*, mark size=1.5pt] coordinates {" + _coordinates(data["path"]) + "};")
    out.append(r"\end{axis}")
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)


#: one colour per optimizer's path (SVG, pgfplots)
PATH_COLOURS = (("#1f5fbf", "blue"), ("#c0392b", "red"), ("#2a9d3a", "green!60!black"), ("#8e44ad", "violet"), ("#d35400", "orange"),
                ("#16a085", "teal"))


def comparison_plot_data(descents: Sequence[Descent], samples: int = 200) -> dict:
    """One path per optimizer (as :func:`plot_data`) and, for one variable, the curve under all of them."""
    paths = [plot_data(d, 2)["path"] for d in descents]
    labels = plot_data(descents[0], 2)["labels"]
    curve: list[tuple[float, float]] = []
    xs = [p[0] for path in paths for p in path]
    if len(descents[0].variables) == 1 and xs:
        lo, hi = _range(xs)
        span = hi - lo
        curve = _finite_points(sample_curve(descents[0], lo - 0.15 * span, hi + 0.15 * span, samples))
    return {"paths": paths, "curve": curve, "labels": labels}


def descents_svg(descents: Sequence[Descent]) -> str:
    """The paths of several optimizers from one start in one SVG, with a legend (one run: :func:`descent_svg`)."""
    if len(descents) == 1:
        return descent_svg(descents[0])
    data = comparison_plot_data(descents)
    paths, curve = data["paths"], data["curve"]
    xlabel, ylabel = data["labels"]
    everything = [p for path in paths for p in path] + curve
    m = SVG_MARGIN
    first = descents[0]
    frame = _svg_frame(f"{_name_text(first.name or 'f')} = {text_math(first.function)}, α = {fmt(first.learning_rate, 6)}, {first.requested_steps} steps",
                       everything, curve, xlabel, ylabel, legend=True, surface=first if len(first.variables) == 2 else None)
    if isinstance(frame, str):
        return frame
    out, sx, sy = frame
    for n, (d, path) in enumerate(zip(descents, paths)):
        colour = PATH_COLOURS[n % len(PATH_COLOURS)][0]
        if path:
            pts = " ".join(f"{sx(a):.2f},{sy(b):.2f}" for a, b in path)
            out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
            out += [f'<circle cx="{sx(a):.2f}" cy="{sy(b):.2f}" r="2.5" fill="{colour}"/>' for a, b in path]
        # the legend right of the axes: never over a path
        lx, ly = SVG_WIDTH - m + 14, m + 16 + 18 * n
        out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 20}" y2="{ly - 4}" stroke="{colour}" stroke-width="2" class="legend"/>')
        out.append(f'<text x="{lx + 26}" y="{ly}" fill="{colour}" class="legend">{_xml(_label(d))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def descents_pgfplots(descents: Sequence[Descent]) -> str:
    """The comparison plot as a pgfplots ``tikzpicture`` with a legend (one run: :func:`descent_pgfplots`)."""
    if len(descents) == 1:
        return descent_pgfplots(descents[0])
    data = comparison_plot_data(descents)
    xlabel, ylabel = data["labels"]
    limits, lines = _pgf_contours(descents[0], [p for path in data["paths"] for p in path])
    out = [
        r"\begin{tikzpicture}",
        rf"\begin{{axis}}[width=0.8\linewidth, xlabel={{${_name_tex(xlabel)}$}}, ylabel={{${_name_tex(ylabel)}$}}, legend pos=outer north east{limits}]",
        *lines,
    ]
    if data["curve"]:
        out.append(r"\addplot[gray, no markers, thick, forget plot] coordinates {" + _coordinates(data["curve"]) + "};")
    for n, (d, path) in enumerate(zip(descents, data["paths"])):
        colour = PATH_COLOURS[n % len(PATH_COLOURS)][1]
        out.append(rf"\addplot[{colour}, mark=*, mark size=1.5pt] coordinates {{" + _coordinates(path) + "};")
        out.append(rf"\addlegendentry{{{_tex_escape(_label(d))}}}")
    out.append(r"\end{axis}")
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)
