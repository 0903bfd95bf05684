"""``--detail full``: each local derivative the solution uses, derived once, rule by rule.

The derivations are :mod:`tracer.calculus`'s (the engine of ``tracer diff``), not a
second differentiator: :func:`~tracer.calculus.derive_sigmoid`,
:func:`~tracer.calculus.derive_tanh` and :func:`~tracer.calculus.derive_softmax` end in
the textbook forms σ(1−σ), 1−tanh², p_i(1−p_i) and −p_i p_j (source 004 §7.3, source
000 eq. 14, the quotient rule named); any other activation and the loss term go
through :func:`~tracer.calculus.derive`. Each derivation is checked against
``sympy.diff`` by :mod:`tracer.calculus` before it is shown.

A derivation is laid out the way the texts write it: the function, then one row per
rule or algebra step with the reason in words, ending in the textbook form; the
sub-derivations a rule needs (the numerator's and denominator's derivatives of a
quotient) are shown indented under it. Variables are the texts' generic ones (x for
an elementwise activation, z_1 … z_n and p_i for a softmax, o and y for a loss term);
the introduction of each says which quantities of the network they stand for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tracer.calculus import derivatives as calc
from tracer.render.step_printer import tex_width
from tracer.render.views import LINE_EM
from tracer.render.calculus import _DiffWriter, rule_label


@dataclass
class DerivationView:
    title: str  # "The sigmoid", "The loss term"
    intro: str  # plain words (escaped by the caller) saying what it is used for
    lhs: str  # dσ/dx
    #: (lead, math, reason): lead "=" continues the derivation, "where" shows a sub-derivation
    #: a rule needs; reason in words (the rule's name, the algebra done)
    rows: list[tuple[str, str, str]] = field(default_factory=list)


def derivation_views(solution, dialect: str) -> list[DerivationView]:
    """One derivation per activation kind and for the loss term, in the order the network uses them.

    ``dialect`` is ``"tex"`` (LaTeX math for .tex and Markdown) or ``"text"``. The derivations
    are the solution's own (:attr:`tracer.core.solution.Solution.derivations`), made by each
    operation of :mod:`tracer.core.functions` with :mod:`tracer.calculus`.
    """
    derivations = solution.derivations
    if derivations is None:
        return []
    w = _DiffWriter(dialect)
    depth = len(solution.problem.layers)
    out: list[DerivationView] = []
    for name, layers, units, cases in derivations.activations:
        where = _layers_words(list(layers), depth)
        if name == "softmax":
            n = min(units, 3)
            written = f"written for {n} outputs (with {units} the sum has {units} terms), " if n < units else ""
            for case, d in cases:
                i, j = (1, 1) if case == "same" else (1, 2)
                label = "same unit, i = j" if case == "same" else "another unit, i ≠ j"
                out.append(_view(d, w, f"The softmax ({label})", f"the softmax of {where}: p_i is output i, z_j the pre-activation of unit j; {written}shown for i = {i}, j = {j}, the other pairs alike", d.name or "p"))
            continue
        (_case, d), = cases
        if name == "sigmoid":
            out.append(_view(d, w, "The sigmoid", f"the activation of {where}: x is a unit's pre-activation, σ its output", "σ"))
        elif name == "tanh":
            out.append(_view(d, w, "The tanh", f"the activation of {where}: x is a unit's pre-activation, tanh(x) its output", "tanh"))
        else:
            out.append(_view(d, w, f"The {name.replace('_', ' ')}", f"the activation of {where}: x is a unit's pre-activation, f(x) its output", "f"))
    for _case, d in derivations.loss:
        out.append(_view(d, w, "The loss term", "one output's loss term: o is the output, y its target", "E"))
    return out


def _layers_words(layers: list[int], depth: int) -> str:
    names = ["the output layer" if l == depth else f"hidden layer {l}" for l in layers]
    return " and ".join(names)


def _reason(w: _DiffWriter, label: str, detail: str = "") -> str:
    """The reason of a row in words (math inside it in the dialect's spelling)."""
    if not label and not detail:
        return ""
    if w.dialect == "text":
        return f"{label}: {detail}" if detail and label else (label or detail)
    if not label:
        return rf"\text{{(}}{detail}\text{{)}}"
    words = rf"\text{{({label}}}"
    return words + (rf"\text{{: }}{detail}\text{{)}}" if detail else r"\text{)}")


def _view(d: calc.Derivation, w: _DiffWriter, title: str, intro: str, name: str) -> DerivationView:
    shown = {"σ": r"\sigma" if w.dialect == "tex" else "σ", "tanh": r"\tanh" if w.dialect == "tex" else "tanh"}.get(name, w.name(name))
    view = DerivationView(title, intro, w.ratio(shown, d.wrt, d.partial))
    root = d.root
    view.rows.append(("=", f"{w.operator(d.wrt, d.partial)} {w.bracketed(d.function)}", ""))
    sides = w.equation(root)[1:]
    for k, side in enumerate(sides):
        view.rows.append(("=", side, _reason(w, rule_label(root.rule), w.pieces(root, name)) if k == 0 else ""))
        if k == 0:
            for sub in root.substeps:
                if sub.rule in (calc.CONSTANT, calc.VARIABLE):
                    continue
                view.rows.append(("where", " = ".join(w.equation(sub)), _reason(w, rule_label(sub.rule))))
    for rewrite in d.rewrites:
        view.rows.append(("=", w.math(rewrite.result, as_built=True), _reason(w, "", w.algebra_note(rewrite))))
    if d.textbook is None:
        final = w.math(d.result)
        if view.rows[-1][1] != final:
            view.rows.append(("=", final, _reason(w, "simplified")))
    if w.dialect == "tex":
        view.rows = _laid_out(view.lhs, view.rows)
    return view


def _laid_out(lhs: str, rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """A reason too long to stand beside its row goes on a row of its own, before it."""
    column = tex_width(lhs)
    out = []
    for lead, math, reason in rows:
        indent = 2.0 if lead == "where" else 0.0
        if reason and column + 1.4 + indent + tex_width(math) + 1.0 + tex_width(reason) > LINE_EM:
            out.append(("reason", reason, ""))
            reason = ""
        out.append((lead, math, reason))
    return out
