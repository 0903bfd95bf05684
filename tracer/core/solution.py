"""The data model of a worked solution. Renderers only read it; nothing here formats.

A :class:`Solution` is a list of training steps (:class:`TrainingStep`); each holds
sections (forward per sample, loss, backward, update, …) of :class:`Step` s. A step
computes one quantity (its ``target``) by one *form*:

* :class:`Affine` — ``z = Σ w·a + b``: the weighted sum of a pre-activation;
* :class:`Expression` — a SymPy right-hand side with the values bound to its symbols
  (an activation, a loss term, a local derivative in textbook form);
* :class:`Chain` — a product of earlier partials (the chain rule);
* :class:`Sum` — a sum of chains (every path; or every sample), optionally scaled;
* :class:`Update` — ``θ' = θ − η · ∂loss/∂θ``.

Each form carries the values it substitutes and the ids of the steps they come
from, so a renderer can write "= 0.74136507 × 0.186815602 × 0.593269992, from (4)"
without recomputing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Union

import sympy as sp

from tracer.core.keys import Partial, Quantity

Target = Union[Quantity, Partial]


@dataclass(frozen=True)
class Factor:
    """One factor of a chain: a quantity or partial, its value, and the step that computed it."""

    target: Target
    value: float
    ref: str | None  # id of the step that computed it (None: a given number)


@dataclass(frozen=True)
class Binding:
    symbol: sp.Symbol
    target: Target
    value: float
    ref: str | None


@dataclass(frozen=True)
class Affine:
    terms: tuple[tuple[Factor, Factor], ...]  # (weight, input) pairs
    bias: Factor | None


@dataclass(frozen=True)
class Expression:
    symbolic: sp.Expr
    bindings: tuple[Binding, ...]
    derivation: sp.Expr | None = None  # SymPy's raw derivative of the local equation (before recognition)
    local_equation: sp.Expr | None = None  # the equation that was differentiated (right-hand side)
    wrt: sp.Symbol | None = None


@dataclass(frozen=True)
class Chain:
    factors: tuple[Factor, ...]


@dataclass(frozen=True)
class Sum:
    terms: tuple[Chain, ...]
    scale: float | None = None  # e.g. 1/3 for samples: mean
    scale_reason: str = ""  # "mean over 3 samples"
    vanishing: tuple[bool, ...] = ()  # terms with a factor exactly 0 (e.g. y_k = 0 in a cross-entropy)


@dataclass(frozen=True)
class Update:
    parameter: Factor  # the old value
    rate: float
    gradient: Factor


Form = Union[Affine, Expression, Chain, Sum, Update]


def substituted(form: Form) -> list[Union[Factor, Binding]]:
    """Every value a form substitutes, in the order it writes them (each knows the step it
    comes from): what references, replays and checks of a step walk over."""
    if isinstance(form, Affine):
        return [f for pair in form.terms for f in pair] + ([form.bias] if form.bias else [])
    if isinstance(form, Expression):
        return list(form.bindings)
    if isinstance(form, Chain):
        return list(form.factors)
    if isinstance(form, Sum):
        return [f for term in form.terms for f in term.factors]
    if isinstance(form, Update):
        return [form.parameter, form.gradient]
    return []


@dataclass(frozen=True)
class Step:
    id: str
    target: Target
    form: Form
    value: float
    kind: str  # forward | activation | loss | local | backward | gradient | update
    sample: int | None = None
    note: str = ""


@dataclass
class Section:
    kind: str  # forward | loss | backward | gradients | update | forward_after | loss_after
    title: str
    steps: list[Step] = field(default_factory=list)
    sample: int | None = None
    layer: int | None = None


@dataclass
class TrainingStep:
    number: int  # 1-based
    derived: bool  # carries full derivations (else: numbers from the NumPy engine only)
    sections: list[Section]
    loss: float
    params_before: dict[str, float]
    gradients: dict[str, float]
    params_after: dict[str, float]
    forward: list[dict]  # per sample: {"sample", "layers": [{"z": [...], "a": [...]}], "loss"}
    batch: tuple[int, ...] | None = None  # the samples (1-based) of a mini-batch/SGD update; None = all

    def steps(self) -> Iterator[Step]:
        for section in self.sections:
            yield from section.steps


@dataclass(frozen=True)
class Mismatch:
    quantity: str
    engine: float
    reference: float
    against: str  # "numpy" | "finite differences"


@dataclass(frozen=True)
class Verification:
    quantities: int  # values checked against the NumPy pass
    max_abs_diff: float
    finite_difference_checked: int
    finite_difference_max_diff: float
    mismatches: tuple[Mismatch, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.mismatches


@dataclass
class Solution:
    problem: object  # tracer.spec.Problem
    steps: list[TrainingStep]
    loss_after: float
    closing: list[Section]  # the forward pass and loss with the final parameters
    index: dict[str, Step]  # every step of every derived training step and of the closing, by id
    final: object  # the problem with the final parameters
    verification: Verification | None = None
    notes: list[str] = field(default_factory=list)  # conventions met (relu'(0)), warnings
    run: object | None = None  # tracer.training.Run of a long run (losses per recorded epoch), else None

    @property
    def samples(self) -> int:
        return len(self.problem.data)  # type: ignore[attr-defined]

    def all_steps(self) -> Iterator[Step]:
        for training_step in self.steps:
            yield from training_step.steps()
        for section in self.closing:
            yield from section.steps

    # The lookup API (tracer ask, tracer check, tests) lives in tracer.lookup so that
    # name resolution (themes, aliases) stays out of the data model.
    def value(self, name: str) -> float:
        from tracer.core.lookup import value

        return value(self, name)

    def step(self, name: str) -> Step:
        from tracer.core.lookup import find_step

        return find_step(self, name)
