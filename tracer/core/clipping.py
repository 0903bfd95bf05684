"""Gradient clipping (``training.clip``, SPEC.md §9), as torch clips ``.grad`` before ``optimizer.step()``.

``norm`` is ``torch.nn.utils.clip_grad_norm_(params, max_norm)`` (norm_type 2) over every trained
parameter at once::

    ‖g‖ = √(Σ g²)     clip_coef = max_norm/(‖g‖ + 10⁻⁶)     g̃ = min(clip_coef, 1)·g

(torch's ``_clip_grads_with_norm_``: the 10⁻⁶ is added to the norm, and the coefficient clamped at 1,
so a norm exactly at max_norm is still scaled, by max_norm/(max_norm + 10⁻⁶)). ``value`` is
``torch.nn.utils.clip_grad_value_(params, clip_value)``: ``g̃ = min(max(g, −c), c)``, each gradient
on its own.

The decisions are a hand calculation's (:mod:`tracer.core.exact`): where the doubles lie within
rounding of the clamp — a gradient at ±c, or ‖g‖ + 10⁻⁶ at max_norm — the gradients are taken
exactly from the file's decimals and the comparison is made in exact arithmetic. Nothing here
formats; the optimizer's rule reads the clipped gradients (:mod:`tracer.core.optimizers`), so a
weight decay is added after clipping, as torch's ``optimizer.step()`` adds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from tracer.core.exact import Beyond, carried, compare, decimal, to_float
from tracer.spec import ClipSpec

#: the 1e-6 torch adds to the norm (``clip_coef = max_norm / (total_norm + 1e-6)``), exactly
TINY = sp.Rational(1, 10**6)
#: how close (relative) the doubles must come to the clamp for the decision to be made exactly:
#: far above the rounding of any gradient the engine keeps (ADJOINT_PRECISION is 1e−10)
NEAR = 1e-9

#: the symbols of the clipping's equations
GRAD, SQUARE, NORM, COEF, MAX_NORM, CLIP_VALUE = sp.symbols("g grad_norm_sq grad_norm clip_coef max_norm clip_value", real=True)


@dataclass(frozen=True, eq=False)
class Clipping:
    """One step's clipping: the gradients the optimizer reads, and (norm) the norm and the factor."""

    spec: ClipSpec
    clipped: np.ndarray  # (N,) per graph node: the gradient after clipping (the gradient itself where not trained)
    norm: float | None = None  # ‖g‖ over the trained parameters (norm mode)
    square: float | None = None  # ‖g‖² = Σ g², what the norm is the root of (norm mode)
    coef: float | None = None  # max_norm/(‖g‖ + 10⁻⁶) (norm mode)
    factor: float = 1.0  # min(clip_coef, 1), decided exactly (norm mode)
    #: value mode: per clipped node, −1 (raised to −c), +1 (lowered to c); absent: within [−c, c]
    clamped: dict[int, int] | None = None
    exact: bool = False  # a decision was at the clamp's edge in doubles and was made exactly

    @property
    def scaled(self) -> bool:
        """Norm mode: the gradients were scaled (clip_coef < 1)."""
        return self.factor != 1.0


def square_expression(gradients: list[sp.Symbol]) -> sp.Expr:
    """‖g‖² = g₁² + g₂² + …, as written (a sum: a long one breaks across lines)."""
    return sp.Add(*(sp.Pow(g, 2, evaluate=False) for g in gradients), evaluate=False)


def norm_expression() -> sp.Expr:
    """‖g‖ = √(‖g‖²)."""
    return sp.sqrt(SQUARE, evaluate=False)


def coef_expression() -> sp.Expr:
    """clip_coef = max_norm/(‖g‖ + 10⁻⁶)."""
    tiny = sp.Pow(sp.Integer(10), sp.Integer(-6), evaluate=False)
    return sp.Mul(MAX_NORM, sp.Pow(sp.Add(NORM, tiny, evaluate=False), -1, evaluate=False), evaluate=False)


def clipped_expression(mode: str) -> sp.Expr:
    """g̃ = min(clip_coef, 1)·g (norm), or min(max(g, −c), c) (value: torch's clamp)."""
    if mode == "norm":
        return sp.Mul(sp.Min(COEF, sp.Integer(1), evaluate=False), GRAD, evaluate=False)
    return sp.Min(sp.Max(GRAD, sp.Mul(sp.Integer(-1), CLIP_VALUE, evaluate=False), evaluate=False), CLIP_VALUE, evaluate=False)


def clip(spec: ClipSpec, gradient: np.ndarray, nodes: np.ndarray, exact_gradient: Callable[[int], sp.Expr]) -> Clipping:
    """Clip the gradients of the trained parameter ``nodes`` (graph node ids); ``exact_gradient(node)``:
    a node's gradient exactly from the decimals, asked only for a decision at the clamp's edge."""
    g = gradient[nodes]
    clipped = gradient.copy()
    if spec.mode == "value":
        c = spec.threshold
        out = np.clip(g, -c, c)
        clamped = {int(n): (1 if v > c else -1) for n, v in zip(nodes, g) if abs(v) > c}
        exact = False
        for k in np.flatnonzero(np.abs(np.abs(g) - c) <= NEAR * c):
            node = int(nodes[k])
            try:
                value = exact_gradient(node)
            except Beyond:  # no exact value within reach (tracer.core.exact): the doubles decide, as they stand
                continue
            exact = True
            if compare(abs(value), decimal(c)) > 0:  # beyond c in decimals: clamped
                out[k] = c if value > 0 else -c
                clamped[node] = 1 if value > 0 else -1
            else:  # within [−c, c], at its edge at most: the gradient itself, as the decimals give it
                out[k] = to_float(value)
                clamped.pop(node, None)
        clipped[nodes] = out
        return Clipping(spec, clipped, clamped=clamped, exact=exact)
    m = spec.threshold
    square = float(np.sum(g * g))
    norm = float(np.sqrt(square))
    with np.errstate(divide="ignore", over="ignore"):
        coef = m / (norm + 1e-6)
    edge = m - 1e-6  # clip_coef ≥ 1 exactly where ‖g‖ ≤ max_norm − 10⁻⁶
    exact = bool(abs(norm - edge) <= NEAR * m)
    within = norm <= edge
    if exact:  # at the edge in doubles: Σ g² against (max_norm − 10⁻⁶)² from the decimals
        limit = decimal(m) - TINY
        try:
            squares = carried(sp.Add(*(exact_gradient(int(n)) ** 2 for n in nodes)))
            within = limit >= 0 and compare(squares, limit**2) <= 0
        except Beyond:  # no exact value within reach: the doubles' decision stands
            exact = False
    factor = 1.0 if within else min(coef, 1.0)
    clipped[nodes] = g * factor
    return Clipping(spec, clipped, norm, square, coef, factor, exact=exact)
