"""The matrix form of an rnn layer: backpropagation through time as a textbook writes it, step
by step with column vectors —

    z_t = W x_t + U h_{t−1} + b,   h_t = f(z_t)
    δ_t = f'(z_t) ⊙ (W_aboveᵀ δ_above,t + Uᵀ δ_{t+1})
    ∂J/∂W = Σ_t δ_t x_tᵀ,   ∂J/∂U = Σ_t δ_t h_{t−1}ᵀ,   ∂J/∂b = Σ_t δ_t

— each first symbolic, then with numbers, then its value. Views only: every number is the
solution's (:class:`~tracer.core.solution.RecurrentArrays`, made in derive from the engine's
arrays and checked by verify); this module formats them, in LaTeX (the matrix form is written
to md, tex and pdf).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracer import keys
from tracer.core.solution import RecurrentArrays, Solution
from tracer.keys import Block
from tracer.notation import blocks
from tracer.render.feature_maps import DIGITS, grid_cells
from tracer.render.step_printer import Printer

#: a line of numbers substituted holds at most this many matrix columns side by side (4 digits
#: and a sign each: ten overflow the page); a wider line is left out (the symbolic line and the
#: value stay), as are the terms of a Σ_t wider than that
ACROSS = 9


def _bmatrix(values: np.ndarray, p: Printer) -> str:
    rows = grid_cells(np.atleast_2d(values), p)
    return r"\begin{bmatrix} " + r" \\ ".join(" & ".join(r) for r in rows) + r" \end{bmatrix}"


def _column(values: np.ndarray, p: Printer) -> str:
    return _bmatrix(np.asarray(values, dtype=float).reshape(-1, 1), p)


def recurrent_views(solution: Solution, p: Printer) -> list[dict[str, Any]]:
    """Per rnn layer: a title, a note, and rows ``{lhs, rule, substituted, grid}`` — the forward
    pass step by step, the BPTT recursion from the last step down, the gradients as sums over the
    steps (sample 1; with several samples the sums run over the samples too)."""
    if not solution.steps or not solution.steps[0].derived:
        return []
    p = Printer("latex", p.names, min(p.digits, DIGITS))
    samples = len(solution.problem.data)
    return [_layer(r, p, samples, solution.problem.loss.samples) for r in solution.steps[0].recurrent_layers]


def _layer(r: RecurrentArrays, p: Printer, samples: int, combine: str) -> dict[str, Any]:
    l, T = r.layer, r.steps
    units, n = r.weights.shape
    rows: list[dict[str, Any]] = []

    def row(lhs: str, rule: str, grid: np.ndarray, substituted: str = "") -> None:
        rows.append({"lhs": lhs, "rule": rule, "substituted": substituted,
                     "grid": grid_cells(np.atleast_2d(grid) if grid.ndim == 2 else grid.reshape(-1, 1), p)})

    names, form = p.names, blocks.GRID

    def up(kind: str, layer: int) -> str:
        """A layer's whole matrix or vector: ``W^{[1]}``, ``z^{[2]}``."""
        return names.block(Block(kind, layer), form).latex()

    W, U, b = up("W", l), up("U", l), up("b", l)
    Wa = up("W", r.above)

    def h(t: int | str) -> str:
        return names.block(Block("a", l), form, time=t).latex()

    def x(t: int | str) -> str:
        return names.block(Block("x", None) if r.reads == "x" else Block("a", l - 1), form, time=t).latex()

    def z(t: int | str, layer: int = l) -> str:
        return blocks.with_time(names.block(Block("z", layer), form), t, form).latex()

    def delta(t: int | str | None, layer: int = l) -> str:
        symbol = names.block(Block("z", layer, of=keys.LOSS), form)
        return (symbol if t is None else blocks.with_time(symbol, t, form)).latex()

    # δ of the layer above: per step when it reads every state, else once (it reads h_T)
    top = (lambda t: delta(t, r.above)) if r.above_every_step else (lambda t: delta(None, r.above))

    def grad(of: str) -> str:
        d = names.operator("partial")
        assert form.loss is not None
        return rf"\frac{{{d} {form.loss.latex}}}{{{d} {of}}}"

    T_ = names.operator("transpose")
    odot, slope = " " + names.operator("hadamard") + " ", names.operator("slope")
    s = 0  # the first sample's numbers
    row(W, "", r.weights)
    row(U, "", r.recurrent)
    if r.bias is not None:
        row(b, "", r.bias)
    row(h(0), "", r.states[s, 0])
    name = r.activation.replace("_", r"\_")
    for t in range(1, T + 1):
        bias = f" + {b}" if r.bias is not None else ""
        numbers = (f"{_bmatrix(r.weights, p)} {_column(r.inputs[s, t - 1], p)} + {_bmatrix(r.recurrent, p)} {_column(r.states[s, t - 1], p)}"
                   + (f" + {_column(r.bias, p)}" if r.bias is not None else ""))
        row(z(t), f"{W} {x(t)} + {U} {h(t - 1)}{bias}", r.z[s, t - 1], numbers if n + units + 3 <= ACROSS else "")
        row(h(t), rf"\mathrm{{{name}}}\left({z(t)}\right)", r.states[s, t])
    for t in range(T, 0, -1):
        reads_here = r.above_every_step or t == T
        nxt = t < T
        if reads_here:
            row(top(t), grad(z(t, r.above) if r.above_every_step else up("z", r.above)), r.delta_above[s, t - 1])
        parts, numbers = [], []
        if reads_here:
            parts.append(rf"\left({Wa}\right){T_} {top(t)}")
            numbers.append(_column(r.from_above[s, t - 1], p))
        if nxt:
            parts.append(rf"\left({U}\right){T_} {delta(t + 1)}")
            numbers.append(_column(r.through_next[s, t - 1], p))
        inner = " + ".join(parts)
        substituted = _column(r.slope[s, t - 1], p) + odot + (r"\left(" + " + ".join(numbers) + r"\right)" if len(numbers) > 1 else numbers[0])
        rule = rf"{slope}\left({z(t)}\right){odot}" + (rf"\left({inner}\right)" if len(parts) > 1 else inner)
        row(delta(t), rule, r.delta[s, t - 1], substituted)
    one = samples == 1
    over = "" if one else ((r"\frac{1}{%d}\sum_{s} " % samples) if combine == "mean" else r"\sum_{s} ")

    def total(lhs: str, rule: str, terms: np.ndarray, value: np.ndarray) -> None:
        columns = terms.shape[2] if terms.ndim == 3 else 1
        written = one and T * (columns + 1) <= ACROSS
        shown = " + ".join((_bmatrix(terms[t], p) if terms.ndim == 3 else _column(terms[t], p)) for t in range(T)) if written else ""
        row(lhs, over + rule, value, shown)

    total(grad(W), rf"\sum_{{t=1}}^{{{T}}} {delta('t')} \left({x('t')}\right){T_}", r.weight_terms[s], r.weight_sum)
    total(grad(U), rf"\sum_{{t=1}}^{{{T}}} {delta('t')} \left({h('t-1')}\right){T_}", r.recurrent_terms[s], r.recurrent_sum)
    if r.bias_sum is not None:
        total(grad(b), rf"\sum_{{t=1}}^{{{T}}} {delta('t')}", r.delta[s], r.bias_sum)
    reads = "$x_t$ the input at step $t$" if r.reads == "x" else f"its input at step $t$ is $h^{{[{l - 1}]}}_t$, the state of layer {l - 1}"
    above = (f"layer {r.above} reads every state" if r.above_every_step else f"layer {r.above} reads the last state only")
    note = (rf"column vectors; $h^{{[{l}]}}_t$ is the state at step $t$ ($h^{{[{l}]}}_0$ the initial one), {reads}; {above}, "
            rf"so ${delta(None, r.above)}$ enters " + ("at every step" if r.above_every_step else f"at step {T} only")
            + f"; the sums over the steps are checked equal to the gradients the update uses; {p.digits} significant digits")
    if samples > 1:
        note += "; the vectors are sample 1's, the gradients sum over the samples"
    return {"title": f"Layer {l} (recurrent) in matrix form: backpropagation through time, sample 1", "note": note, "rows": rows}
