"""The typical mistakes of a backpropagation by hand, each computed by really making it.

A wrong option of a multiple-choice question must be a number a student gets by a
real slip, not a random neighbour of the right answer. Each mistake here either
replays the engine's own steps with one step evaluated the wrong way
(:func:`tracer.replay.replay`), or solves a modified problem again:

* ``no_activation_derivative`` — the chain without the activation's derivative
  ∂a/∂z (σ′ taken as 1);
* ``forgot_path`` — a hidden unit's ∂loss/∂a sums over the units it feeds; the
  last path of that sum is forgotten;
* ``added_gradient`` — the update adds η·∂loss/∂θ instead of subtracting it;
* ``pre_activation`` — the pre-activation z used where the activation a belongs
  (in σ′ = a(1 − a) and as the input of the next layer's weight);
* ``wrong_log_base`` — the cross-entropy with another logarithm (ln ↔ log10);
* ``dropped_half`` — the squared error without its factor ½.

A mistake that does not apply to a quantity (or gives the right number) yields None.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from typing import Callable

from tracer.core.derive import solve
from tracer.core.keys import Partial, Quantity
from tracer.core.solution import Expression, Solution, Step, Sum, Update
from tracer.teach.replay import Inputs, evaluate, replay


@dataclass(frozen=True)
class Mistake:
    key: str
    explanation: str  # what the wrong option encodes (shown in the solution key)


MISTAKES: dict[str, Mistake] = {
    m.key: m
    for m in (
        Mistake("no_activation_derivative", "drops the activation's derivative factor ∂a/∂z from the chain rule"),
        Mistake("forgot_path", "forgets one path of the sum over the units a hidden unit feeds (∂loss/∂a of a hidden unit)"),
        Mistake("added_gradient", "adds the gradient in the update (θ + η·∂loss/∂θ) instead of subtracting it"),
        Mistake("pre_activation", "uses the pre-activation z where the activation a belongs (in the activation's derivative and as the next weight's input)"),
        Mistake("wrong_log_base", "uses the wrong base of the logarithm in the cross-entropy"),
        Mistake("dropped_half", "drops the factor in front of the squared error (½)"),
    )
}


@dataclass(frozen=True)
class WrongValue:
    mistake: Mistake
    value: float


def _is_activation_derivative(t) -> bool:
    return isinstance(t, Partial) and t.of.kind == "a" and t.wrt.kind == "z"


def _patch_no_activation_derivative(step: Step, inputs: Inputs):
    if step.kind == "local" and _is_activation_derivative(step.target):
        return 1.0 if step.target.of.index == step.target.wrt.index else 0.0
    return None


def _patch_forgot_path(step: Step, inputs: Inputs):
    t = step.target
    if (
        isinstance(step.form, Sum)
        and isinstance(t, Partial)
        and t.of.is_total_loss
        and t.wrt.kind == "a"
        and len(step.form.terms) >= 2
    ):
        shortened = dataclasses.replace(step, form=dataclasses.replace(step.form, terms=step.form.terms[:-1], vanishing=()))
        return evaluate(shortened, inputs)
    return None


def _patch_added_gradient(step: Step, inputs: Inputs):
    if isinstance(step.form, Update):
        return inputs(step.form.parameter) + step.form.rate * inputs(step.form.gradient)
    return None


def _pre_activation_patch(solution: Solution):
    def patch(step: Step, inputs: Inputs):
        t = step.target
        if step.kind != "local" or not isinstance(step.form, Expression) or not isinstance(t, Partial):
            return None
        if not (_is_activation_derivative(t) or (t.of.kind == "z" and t.wrt.kind == "W")):
            return None
        changed = {}
        for b in step.form.bindings:
            if isinstance(b.target, Quantity) and b.target.kind == "a" and isinstance(b.ref, Quantity):
                z = replace(b.ref, kind="z")  # the pre-activation of the same unit, sample and step
                if z in solution.index:
                    changed[b.ref] = inputs.changed.get(z, solution.index[z].value)
        if not changed:
            return None
        merged = dict(inputs.changed)
        merged.update(changed)
        return evaluate(step, Inputs(merged))

    return patch


def _resolved(solution: Solution, change: Callable) -> Solution | None:
    problem = change(solution.problem)
    if problem is None:
        return None
    try:
        return solve(problem, derived_steps=min(3, max(1, len(solution.steps))), verify=False)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


def _other_log(problem):
    if problem.loss.kind not in ("cross_entropy", "binary_cross_entropy"):
        return None
    other = "log10" if problem.loss.log == "ln" else "ln"
    return dataclasses.replace(problem, loss=dataclasses.replace(problem.loss, log=other))


def _without_half(problem):
    if problem.loss.kind != "mse" or problem.loss.factor != 0.5:
        return None
    return dataclasses.replace(problem, loss=dataclasses.replace(problem.loss, factor=1.0))


class MistakenSolutions:
    """The worlds of every mistake for one solution, computed once and asked many times."""

    def __init__(self, solution: Solution):
        self.solution = solution
        self.replayed: dict[str, dict[str, float]] = {
            "no_activation_derivative": replay(solution, patch=_patch_no_activation_derivative),
            "forgot_path": replay(solution, patch=_patch_forgot_path),
            "added_gradient": replay(solution, patch=_patch_added_gradient),
            "pre_activation": replay(solution, patch=_pre_activation_patch(solution)),
        }
        self.resolved: dict[str, Solution | None] = {
            "wrong_log_base": _resolved(solution, _other_log),
            "dropped_half": _resolved(solution, _without_half),
        }

    def wrong_values(self, name: str) -> list[WrongValue]:
        """Every mistake's value of a quantity (a canonical or theme name), where it differs."""
        truth = self.solution.value(name)
        step = self.solution.step(name)
        out: list[WrongValue] = []
        for key, values in self.replayed.items():
            if step.id in values and values[step.id] != truth:
                out.append(WrongValue(MISTAKES[key], values[step.id]))
        for key, other in self.resolved.items():
            if other is None:
                continue
            wrong = other.value(name)
            if wrong != truth:
                out.append(WrongValue(MISTAKES[key], wrong))
        return out
