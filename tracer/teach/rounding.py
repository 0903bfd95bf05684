"""How far a hand-worked answer can fall from the truth: the rounding of every
intermediate, propagated through the steps.

A student who carries every intermediate to the sheet's ``digits`` significant digits
does not get the engine's answer rounded: each rounding travels on through the steps
that use it (a rounded σ(z) feeds the δ, the δ the gradient, the gradient the update,
the update the loss after). The tolerance of a question is derived here, not guessed,
by replaying the solution (:func:`tracer.teach.replay.replay`) in the worlds of a
student who rounds:

* **every intermediate rounded** to ``digits`` — half-even, half-up and truncated
  (toward zero) — and the answer computed from those rounded numbers, in the engine's
  one-line forms and by hand (:mod:`tracer.teach.hand`: a gradient as the rounded δ times
  the rest, a softmax from its rounded exponentials and their rounded sum): the *spread*
  is the largest distance of such an answer from the truth;
* **the first-order bound**: a change of one unit of the last carried digit in each
  step that needs rounding (not one exact at those digits when computed from rounded
  inputs: a given weight as ∂z/∂a, a ReLU's derivative 1, δ times that 1), replayed on its own through what depends on it, gives that
  step's weight in the answer; Σ |weight| · (one unit) bounds any mix of roundings and truncations (to
  first order), and carrying more digits only shrinks it. Skipped for solutions with
  more than :data:`BOUND_STEPS` steps (one replay per step), where the spread alone counts.
  A step worked by hand rounds more on the way (the δ it reuses, each e^z and Σe^z): one
  unit of each such value, carried by its weight in the step and the step's weight in the
  answer, is added to the bound.

The tolerance is the larger of the two plus one unit of the answer's own last digit
(the final rounding or truncation: a truncated answer is accepted as a habit, SPEC.md §10), written with two significant digits rounded *up*. Nothing here
formats for a reader; the arithmetic is the replay's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Iterable

from tracer.core.solution import Expression
from tracer.keys import Key
from tracer.teach.hand import by_hand, delta_forms, worked
from tracer.teach.replay import Inputs, evaluate, replay

#: the roundings a hand calculation uses (truncation: toward zero)
MODES = {"half-even": ROUND_HALF_EVEN, "half-up": ROUND_HALF_UP, "truncated": ROUND_DOWN}
#: above this many steps the first-order bound (a replay per step) is not computed
BOUND_STEPS = 400
#: how a step is worked: the engine's one-line forms, or by hand (tracer.teach.hand)
METHODS = ("one line", "by hand")


@dataclass(frozen=True)
class Allowance:
    """What a question accepts, and where it comes from (all as plain numbers)."""

    tolerance: float  # spread-or-bound + one unit of the answer's last digit, 2 digits rounded up
    spread: float  # the largest |answer − truth| with every intermediate rounded (any mode)
    bound: float | None  # the first-order bound of any mix of roundings; None: not computed
    final: float  # one unit of the answer's last digit (it may be rounded or truncated)
    worst_mode: str | None  # the rounding that gives the spread
    worst_method: str | None = None  # the method (:data:`METHODS`) that gives the spread


def unit(value: float, digits: int) -> float:
    """One unit of the ``digits``-th significant digit of ``value`` (0 for 0)."""
    if value == 0 or not math.isfinite(value):
        return 0.0
    return 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)


def round_to(value: float, digits: int, mode: str = "half-even") -> float:
    """``value`` at ``digits`` significant digits, by one of :data:`MODES` (exact decimal arithmetic)."""
    if value == 0 or not math.isfinite(value):
        return value
    exact = Decimal(repr(value))
    return float(exact.quantize(Decimal(1).scaleb(exact.adjusted() - digits + 1), rounding=MODES[mode]))


def half_unit(value: float, digits: int) -> float:
    """Half a unit of the last digit of ``value`` *as printed* at ``digits`` (0.09996 → 0.1000)."""
    shown = round_to(value, digits)
    return 0.5 * unit(shown if shown else value, digits)


def rounded_world(solution, digits: int, mode: str, method: str = "one line", deltas=None) -> dict[Key, float]:
    """Every step's value when each is computed from the rounded earlier ones and then
    rounded itself (the student who carries ``digits`` digits), in the engine's one-line
    forms or ``method="by hand"`` (the δ form, sub-expressions written down rounded;
    ``deltas``: :func:`tracer.teach.hand.delta_forms` of the solution, found if not given)."""
    deltas = delta_forms(solution) if deltas is None and method != "one line" else deltas
    return replay(solution, patch=lambda step, inputs: round_to(_worked(step, inputs, digits, mode, method, deltas), digits, mode))


def _worked(step, inputs: Inputs, digits: int, mode: str, method: str, deltas) -> float:
    """A step's value from ``inputs`` by ``method``, before its own rounding."""
    if method == "one line":
        return evaluate(step, inputs)
    return by_hand(step, inputs, deltas, lambda v: round_to(v, digits, mode))


def allowances(solution, steps: Iterable, digits: int) -> dict[Key, Allowance]:
    """The allowance of each asked step (its answer computed from rounded intermediates,
    the answer itself then rounded as the sheet asks)."""
    asked = list(steps)
    all_steps = list(solution.all_steps())
    deltas = delta_forms(solution)
    worlds = {(mode, method): rounded_world(solution, digits, mode, method, deltas) for method in METHODS for mode in MODES}
    spread: dict[Key, tuple[float, str | None, str | None]] = {s.id: (0.0, None, None) for s in asked}
    for (mode, method), values in worlds.items():
        for s in asked:
            # from the rounded inputs; the final rounding is `final`
            answer = _worked(s, Inputs(values), digits, mode, method, deltas)
            gap = abs(answer - s.value)
            if gap > spread[s.id][0]:
                spread[s.id] = (gap, mode, method)
    bound: dict[Key, float] | None = None
    if len(all_steps) <= BOUND_STEPS:
        bound = {s.id: 0.0 for s in asked}
        hand = _hand_units(deltas, all_steps, digits)
        for step in all_steps:
            du = unit(step.value, digits)
            extra = hand.get(step.id, 0.0)  # what working the step by hand rounds on the way
            if extra and any(s.id == step.id for s in asked):
                bound[step.id] += extra
            if du == 0 or all(_exact(step, values, digits) for values in worlds.values()):
                continue  # exact at the digits carried, from rounded inputs too (∂z/∂a = a given weight, a ReLU's 1, δ·1): nothing to round
            changed = replay(solution, {step.id: step.value + du})
            for s in asked:
                if s.id == step.id:
                    continue  # the answer's own rounding (or truncation) is the final unit
                bound[s.id] += abs(changed.get(s.id, s.value) - s.value) * (1.0 + extra / du)
    out = {}
    for s in asked:
        gap, mode, method = spread[s.id]
        first_order = bound[s.id] if bound is not None else None
        final = 2 * half_unit(s.value, digits)  # rounded: half a unit; truncated (a habit, accepted): a whole one
        total = max(gap, first_order or 0.0) + final
        out[s.id] = Allowance(round_up(total), gap, first_order, final, mode, method)
    return out


def _hand_units(deltas, all_steps, digits: int) -> dict[Key, float]:
    """For each step a hand calculation works with more roundings than the engine's form (the δ
    it reuses; each e^z and Σe^z of a softmax written down): the first-order move of the step's
    value when each of them is one unit of its last carried digit off. A single value on the way
    (a sigmoid's e^(−z)) is not counted here: the spread replays it written down."""
    index = {s.id: s for s in all_steps}
    out: dict[Key, float] = {}
    for step in all_steps:
        if step.id in deltas:
            delta, rest = deltas[step.id]
            written = index[delta].value if delta in index else 0.0
            if round_to(written, digits) != written:  # a δ exact at the digits carried (∂J/∂u = 3) rounds nothing
                out[step.id] = unit(written, digits) * math.prod(abs(f.value) for f in rest)
        elif isinstance(step.form, Expression):
            values = {b.symbol: b.value for b in step.form.bindings}
            try:
                base = worked(step.form.symbolic, values, lambda v: v)
                noted: list[float] = []
                worked(step.form.symbolic, values, lambda v: noted.append(v) or v)
                if len(noted) < 2:
                    continue  # one value on the way (a sigmoid's e^(−z)): the calculator carries it on; the spread replays it written
                total = 0.0
                for k, v in enumerate(noted):
                    du = unit(v, digits)
                    if du == 0 or round_to(v, digits) == v:
                        continue  # e^0 = 1: exact at the digits carried
                    count = iter(range(len(noted)))
                    bumped = worked(step.form.symbolic, values, lambda w, k=k, du=du, count=count: w + du if next(count) == k else w)
                    total += abs(bumped - base)
                if total:
                    out[step.id] = total
            except Exception:  # noqa: BLE001 — any form the walk cannot take is worked as the engine works it
                pass
    return out


def _exact(step, values, digits: int) -> bool:
    """Does the step, computed from the rounded earlier steps, need no rounding itself?"""
    value = evaluate(step, Inputs(values))
    return round_to(value, digits) == value


def round_up(value: float, digits: int = 2) -> float:
    """``value`` rounded up to ``digits`` significant digits (a tolerance never shrinks)."""
    if value == 0:
        return 0.0
    exact = Decimal(repr(value))
    return float(exact.quantize(Decimal(1).scaleb(exact.adjusted() - digits + 1), rounding=ROUND_CEILING))
