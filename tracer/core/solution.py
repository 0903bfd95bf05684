"""The data model of a worked solution — frozen and typed — and its query API. Nothing here formats.

A :class:`Solution` is a tuple of training steps (:class:`TrainingStep`); each holds
sections (forward per sample, loss, backward per layer, gradients of the total loss,
update) of :class:`Step` s, and the closing sections (the forward pass and the loss
with the final parameters). A step computes one quantity — its ``key`` — by one *form*:

* :class:`Affine` — ``z = Σ w·a + b``: the weighted sum of a pre-activation;
* :class:`Expression` — a SymPy right-hand side with values bound to its symbols
  (an activation, a loss term, a local derivative in textbook form);
* :class:`Chain` — a product of earlier partials (the chain rule);
* :class:`Sum` — a sum of chains (every path; or every sample), optionally scaled;
* :class:`Update` — ``θ' = θ − η · ∂loss/∂θ``.

Each form carries the values it substitutes and the keys of the steps they come from,
so that a renderer can write "= 0.74136507 × 0.186815602 × 0.593269992, from (4)"
without recomputing anything, and replay, mistakes and check can follow a number
back to where it went wrong. The sections of a step are written when first asked for
(a 784-32-10 network has 100,000 of them; its JSON needs none).

Names a user types are read here once, at the boundary (:meth:`Solution.value`,
:meth:`Solution.step`): canonical names (:mod:`tracer.keys`) or a theme's
(``dE_total/dw5``, ``w5+``; :mod:`tracer.notation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Callable, Iterator, Literal, Mapping, Protocol, Union

import numpy as np
import sympy as sp

from tracer import notation
from tracer import keys
from tracer.keys import END, Key, NameError_, Partial, Quantity
from tracer.layers.views import Perceptron
from tracer.spec import GraphProblem, Problem

StepKind = Literal["forward", "activation", "loss", "local", "backward", "gradient", "update"]
SectionKind = Literal["forward", "loss", "backward", "gradients", "update", "forward_after", "loss_after"]


class LookupError_(KeyError):
    """A name that parses but names nothing in this solution; ``str()`` says why."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


# ---------------------------------------------------------------------------
# Forms
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    """One value a form substitutes: what it is, its value, and the step that computed it."""

    target: Key
    value: float
    ref: Key | None  # the step that computed it (None: a given number)


@dataclass(frozen=True)
class Binding:
    """A symbol of an expression and the value substituted for it."""

    symbol: sp.Symbol
    target: Key
    value: float
    ref: Key | None


@dataclass(frozen=True)
class Affine:
    terms: tuple[tuple[Factor, Factor], ...]  # (weight, input) pairs
    bias: Factor | None


@dataclass(frozen=True)
class Expression:
    symbolic: sp.Expr
    bindings: tuple[Binding, ...]
    derivation: sp.Expr | None = None  # SymPy's own derivative of the local equation (before recognition)
    local_equation: sp.Expr | None = None  # the equation that was differentiated (right-hand side)
    wrt: sp.Symbol | None = None
    #: what every symbol of the local equation stands for (the bound ones and the others)
    names: tuple[tuple[sp.Symbol, Quantity], ...] = ()


@dataclass(frozen=True)
class Chain:
    factors: tuple[Factor, ...]


@dataclass(frozen=True)
class Sum:
    terms: tuple[Chain, ...]
    scale: float | None = None  # e.g. 1/3 for samples: mean
    scale_reason: str = ""  # "mean over 3 samples"
    vanishing: tuple[bool, ...] = ()  # terms with a factor exactly 0 (e.g. y_k = 0 in a cross-entropy)
    #: terms added after the scale, belonging to no sample: loss.regularization's penalty (in the
    #: total loss) and its λ·w (in a weight's gradient)
    extra: tuple[Chain, ...] = ()


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
        return [f for term in form.terms + form.extra for f in term.factors]
    return [form.parameter, form.gradient]


def refs_of(form: Form) -> list[Key]:
    """The keys of the steps whose values a form substitutes."""
    return [f.ref for f in substituted(form) if f.ref is not None]


@dataclass(frozen=True)
class Step:
    key: Key
    form: Form
    value: float
    kind: StepKind
    note: str = ""
    #: the textbook shortcut written after the chain, the same number (softmax + cross-entropy:
    #: ∂loss/∂z_j = a_j − y_j); None where the texts use none
    shortcut: "Expression | None" = None

    @property
    def id(self) -> Key:
        """The step's key; it prints as its canonical name (``dz2[1]/da1[1]@2``), and equals only keys."""
        return self.key

    @property
    def target(self) -> Key:
        return self.key

    @property
    def sample(self) -> int | None:
        return self.key.sample


@dataclass(frozen=True)
class Section:
    kind: SectionKind
    title: str
    steps: tuple[Step, ...]
    sample: int | None = None
    layer: int | None = None


# ---------------------------------------------------------------------------
# Training steps, the matrix (δ) view, runs, the verification
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LayerArrays:
    """One layer of one pass as arrays, for the matrix form (values of the engine; samples first)."""

    number: int
    activation: str
    units: int
    inputs: np.ndarray  # (S, fan_in): the layer's input a^{[l−1]} (x for layer 1)
    z: np.ndarray  # (S, units)
    a: np.ndarray
    dloss_da: np.ndarray
    dloss_dz: np.ndarray  # δ
    slope: np.ndarray  # (S, units) f'(z); softmax: (S, units, units) ∂a_m/∂z_j
    weights: np.ndarray  # (units, fan_in)
    bias: np.ndarray | None  # (units,), (1,) shared, or None
    weight_gradients: np.ndarray  # (S, units, fan_in): per sample
    bias_gradients: np.ndarray | None  # (S, units) or (S, 1)
    weight_gradient: np.ndarray  # the total loss's (units, fan_in)
    bias_gradient: np.ndarray | None
    weights_after: np.ndarray
    bias_after: np.ndarray | None
    trained_weights: np.ndarray  # (units, fan_in) bool
    trained_bias: np.ndarray | None
    rate: float = 0.0  # the layer's learning rate
    penalty_gradient: np.ndarray | None = None  # (units, fan_in): loss.regularization's λ·W (+ λ₁·sign W)
    #: an optimizer's quantities after the step (SPEC.md §9), per equation target (``m``, ``m_hat``, …)
    weight_states: dict = field(default_factory=dict)
    bias_states: dict = field(default_factory=dict)
    #: training.clip: the gradients after clipping, which the optimizer read (None: no clipping)
    weight_clipped: np.ndarray | None = None  # (units, fan_in)
    bias_clipped: np.ndarray | None = None


class StepWriter(Protocol):
    """What writes one training step's steps (or the final forward pass's), on demand: the whole
    document in order, one step by its key, and where a step stands in the document."""

    def sections(self) -> tuple[Section, ...]: ...

    def step(self, key: Key) -> Step | None: ...

    def rank(self, key: Key) -> tuple: ...


@dataclass(frozen=True, eq=False)
class TrainingStep:
    number: int  # 1-based
    derived: bool  # written out in full (else: numbers only, not shown step by step)
    loss: float
    params_before: dict[Quantity, float]
    gradients: dict[Quantity, float]  # of the total loss: what the step subtracts (times η)
    params_after: dict[Quantity, float]
    #: per sample, as JSON writes it: {"sample", "layers": [{"z": [...], "a": [...]}], "loss"}
    forward: tuple[dict[str, Any], ...]
    batch: tuple[int, ...] | None = None  # the samples (1-based) of a mini-batch/SGD update; None = all
    #: an optimizer's quantities after the step (SPEC.md §9), per name (``m``, ``v``, ``m_hat``, …)
    #: per trained parameter; empty for plain gradient descent
    optimizer_state: dict[str, dict[Quantity, float]] = field(default_factory=dict)
    penalty: float | None = None  # loss.regularization's term of the loss (included in ``loss``)
    #: training.clip (SPEC.md §9): {"mode", "max_norm" | "value", "norm", "clip_coef", "factor" (norm mode),
    #: "clipped": {parameter: its gradient after clipping, which the optimizer read}}
    clip: dict[str, Any] | None = None
    learning_rate: float | None = None  # training.schedule: the rate of this update (of training.learning_rate)
    writer: StepWriter | None = field(default=None, repr=False, compare=False)
    arrays: Callable[[], tuple[LayerArrays, ...]] | None = field(default=None, repr=False, compare=False)
    maps: Callable[[], tuple[FeatureMaps, ...]] | None = field(default=None, repr=False, compare=False)
    recurrences: Callable[[], tuple["RecurrentArrays", ...]] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def feature_maps(self) -> tuple[FeatureMaps, ...]:
        """The conv2d and pooling layers as grids (a network without them: none)."""
        return self.maps() if self.maps is not None else ()

    @cached_property
    def recurrent_layers(self) -> tuple["RecurrentArrays", ...]:
        """The rnn layers step by step, for the matrix form (a network without them: none)."""
        return self.recurrences() if self.recurrences is not None else ()

    @cached_property
    def sections(self) -> tuple[Section, ...]:
        return self.writer.sections() if (self.derived and self.writer is not None) else ()

    @cached_property
    def layers(self) -> tuple[LayerArrays, ...]:
        return self.arrays() if self.arrays is not None else ()

    def steps(self) -> Iterator[Step]:
        for section in self.sections:
            yield from section.steps


@dataclass(frozen=True, eq=False)
class FeatureMaps:
    """One conv2d or pooling layer of one pass as grids, for the feature-map section (the
    engine's values, first sample): what it reads, what it makes, and their gradients."""

    layer: int
    kind: str  # conv2d | maxpool2d | avgpool2d
    reads: str  # the name of its input: "x" or "a1"
    inputs: np.ndarray  # (C, H, W)
    z: np.ndarray | None  # (F, H', W'): a conv layer's pre-activations
    a: np.ndarray  # (F or C, H', W')
    delta: np.ndarray  # ∂loss/∂z (conv) or ∂loss/∂a (pooling), shaped like z / a
    input_gradient: np.ndarray | None  # ∂loss/∂(what it reads), (C, H, W); None for the image
    kernel: np.ndarray | None = None  # (F, C, kh, kw)
    kernel_gradient: np.ndarray | None = None  # ∂loss/∂W, (F, C, kh, kw): the samples combined
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    window: tuple[int, int] = (0, 0)  # the kernel's or pooling window's (rows, columns)
    ceil_mode: bool = False
    unread: tuple[int, int] = (0, 0)  # the last rows and columns of the input no window reads (floor): gradient 0


@dataclass(frozen=True, eq=False)
class RecurrentArrays:
    """One rnn layer of one pass, step by step, for the matrix form: the engine's numbers (samples
    first), and the sums the textbook writes, made from them in derive and checked equal to the
    engine's gradients in verify:

        δ_t = f'(z_t) ⊙ (W_aboveᵀ δ_above,t + Uᵀ δ_{t+1}),
        ∂J/∂W = Σ_t δ_t x_tᵀ,   ∂J/∂U = Σ_t δ_t h_{t−1}ᵀ,   ∂J/∂b = Σ_t δ_t."""

    layer: int
    activation: str
    reads: str  # "x", or "a{l−1}": the states of the rnn below
    above: int  # the layer that reads the states
    above_every_step: bool  # it reads every state (outputs: sequence), or only the last
    inputs: np.ndarray  # (S, T, n): x_t, or the states of the rnn below
    states: np.ndarray  # (S, T + 1, units): h_0 … h_T
    z: np.ndarray  # (S, T, units)
    slope: np.ndarray  # (S, T, units): f'(z_t), the engine's local derivatives
    dloss_da: np.ndarray  # (S, T, units): the engine's ∂J/∂h_t
    delta: np.ndarray  # (S, T, units): the engine's δ_t = ∂J/∂z_t
    delta_above: np.ndarray  # (S, T, m): δ of the layer above at step t (0 where it reads no state)
    from_above: np.ndarray  # (S, T, units): W_aboveᵀ δ_above,t
    through_next: np.ndarray  # (S, T, units): Uᵀ δ_{t+1} (0 at the last step)
    weights: np.ndarray  # (units, n)
    recurrent: np.ndarray  # (units, units)
    bias: np.ndarray | None  # (units,)
    weights_above: np.ndarray  # (m, units)
    weight_terms: np.ndarray  # (S, T, units, n): δ_t x_tᵀ
    recurrent_terms: np.ndarray  # (S, T, units, units): δ_t h_{t−1}ᵀ
    weight_sum: np.ndarray  # (units, n): Σ_t δ_t x_tᵀ, the samples combined as the loss combines them
    recurrent_sum: np.ndarray  # (units, units)
    bias_sum: np.ndarray | None  # (units,): Σ_t δ_t
    weight_gradient: np.ndarray  # the engine's ∂J/∂W (what the update subtracts)
    recurrent_gradient: np.ndarray
    bias_gradient: np.ndarray | None

    @property
    def steps(self) -> int:
        return self.z.shape[1]


@dataclass(frozen=True)
class Mismatch:
    quantity: str
    engine: float
    reference: float
    against: str  # "numpy" | "finite differences" | "training run"


@dataclass(frozen=True)
class Skipped:
    """Gradients that central finite differences do not check, and why: a difference of step h
    around a point within h of a kink or a tie straddles it (ReLU at z = 0, two equal maxima) and
    measures neither one-sided slope."""

    names: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class DeltaRow:
    """One equation of the δ form: a layer's δ or its weight gradient, from the NumPy δ law,
    and how far it is from the scalar chain's steps (``equals``)."""

    layer: int
    what: Literal["delta", "weights"]
    softmax: bool
    output: bool  # the output layer (its δ from ∂L/∂a; a hidden one's from the layer above)
    values: tuple[tuple[float, ...], ...]  # a vector as one row; a matrix row by row
    delta: tuple[float, ...]  # the layer's δ
    slope: tuple[float, ...]  # f'(z) (empty for a softmax)
    upstream: tuple[float, ...]  # ∂L/∂a = (W^{(l+1)})ᵀ δ^{(l+1)}
    inputs: tuple[float, ...]  # a^{(l−1)} (x for layer 1)
    equals: tuple[Key, ...]  # the scalar steps it equals
    difference: float | None  # largest difference from them (None: not all written out)


@dataclass(frozen=True)
class DeltaForm:
    step: int
    samples: tuple[tuple[int | None, tuple[DeltaRow, ...]], ...]
    difference: float


@dataclass(frozen=True)
class Verification:
    quantities: int  # values checked against the NumPy pass
    max_abs_diff: float
    finite_difference_checked: int
    finite_difference_max_diff: float
    mismatches: tuple[Mismatch, ...] = ()
    delta: DeltaForm | None = None  # the δ law of the first written-out step, shown equal to the chain
    skipped: tuple[Skipped, ...] = ()  # gradients left out of the finite differences, near a kink or a tie

    @property
    def ok(self) -> bool:
        return not self.mismatches


@dataclass(frozen=True)
class Derivations:
    """``--detail full``: each distinct operation's derivation, with the layers that use it."""

    activations: tuple[tuple[str, tuple[int, ...], int, tuple[tuple[str, Any], ...]], ...]  # (name, layers, units, cases)
    loss: tuple[tuple[str, Any], ...]


# ---------------------------------------------------------------------------
# The solution
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleStatement:
    """``training.schedule`` as the document states it once (made by the engine, printed by the
    renderer): the torch call it is, and the rate's equation in each stretch of the schedule."""

    title: str  # torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    phases: tuple[tuple[str, sp.Expr], ...]  # ("warmup" | "main" | "flat", η_t's expression)
    base: sp.Symbol  # η, the file's rate (torch's base_lr)
    n: sp.Symbol  # the scheduler steps before the update (torch's last_epoch)
    k: sp.Symbol  # MultiStepLR's decays so far
    constants: dict[str, sp.Symbol]  # the schedule's fields, by the file's names


@dataclass(frozen=True, eq=False)
class Solution:
    problem: Problem
    steps: tuple[TrainingStep, ...]
    loss_after: float
    final: Problem  # the problem with the final parameters
    notes: tuple[str, ...] = ()  # conventions met (relu'(0)), warnings
    run: Any = None  # tracer.numeric.training.Run of a long run (losses per recorded epoch), else None
    verification: Verification | None = None
    perceptron: Perceptron | None = None
    closing_writer: StepWriter | None = field(default=None, repr=False, compare=False)
    explain: Callable[[], Derivations] | None = field(default=None, repr=False, compare=False)
    engine: Any = field(default=None, repr=False, compare=False)  # the passes' arrays, for the verification
    schedule: ScheduleStatement | None = None  # training.schedule's statement (None: a constant rate)

    @cached_property
    def closing(self) -> tuple[Section, ...]:
        """The forward pass and the loss with the final parameters."""
        return self.closing_writer.sections() if self.closing_writer is not None else ()

    @cached_property
    def derivations(self) -> Derivations | None:
        return self.explain() if self.explain is not None else None

    @property
    def samples(self) -> int:
        return len(self.problem.data)

    def with_verification(self, verification: Verification) -> "Solution":
        solved = replace(self, verification=verification)
        for name in ("closing", "derivations"):  # what was written already need not be written again
            if name in self.__dict__:
                solved.__dict__[name] = self.__dict__[name]
        return solved

    def all_steps(self) -> Iterator[Step]:
        for training_step in self.steps:
            yield from training_step.steps()
        for section in self.closing:
            yield from section.steps

    @cached_property
    def index(self) -> "StepIndex":
        """Every step of every derived training step and of the closing, by key (a canonical name is
        parsed: ``index["dz2[1]/da1[1]@2"]`` finds it too); a step is written when asked for."""
        return StepIndex(self)

    def writer_of(self, key: Key) -> StepWriter | None:
        if key == keys.LOSS_AFTER or key.step == END:
            return self.closing_writer
        if isinstance(key.step, int) and 1 <= key.step <= len(self.steps):
            ts = self.steps[key.step - 1]
            return ts.writer if ts.derived else None
        return None

    def rank(self, step: Step) -> tuple:
        """Where a step stands in the document (training steps in order, then the final pass)."""
        order = len(self.steps) + 1 if (step.key == keys.LOSS_AFTER or step.key.step == END) else step.key.step
        writer = self.writer_of(step.key)
        return (order,) + (writer.rank(step.key) if writer is not None else ())

    # -- the query API: names read once, at the boundary ------------------------------
    def resolve(self, text: str | Key) -> tuple[Key, keys.Step | None]:
        """A canonical or theme name (or a key) as (key, the training step it names: None when no ``@``)."""
        if isinstance(text, (Quantity, Partial)):
            number: keys.Step | None = None if text.step == 1 else text.step
            target: Key = text
        else:
            number = keys.split_step(text)[1]
            target = notation.parse_name(text, self.problem)
        if target != keys.LOSS_AFTER:
            target = target.at_step(1)  # the step is answered apart: ``number``
        if number is not None and number != END and not 1 <= number <= max(1, len(self.steps)):
            raise LookupError_(f"{text}: {_there_are(len(self.steps), 'training step')}")
        return self._normalised(target), number

    def _normalised(self, target: Key) -> Key:
        many = self.samples > 1
        # with a penalty the total loss is more than any sample's, so even a single sample's
        # quantities are named by sample (z1[1]#1, loss#1: derive.Writer.combine); a name
        # without one means that sample
        named_by_sample = many or getattr(self.problem.loss, "regularized", False)

        def fix(sample: int | None, named: object) -> int | None:
            if sample is not None and not 1 <= sample <= self.samples:
                raise LookupError_(f"{named}: {_there_are(self.samples, 'sample')}")
            return sample if named_by_sample else None

        if not many and named_by_sample and _needs_sample(target):
            target = _with_sample(target)
        if isinstance(target, Partial):
            return Partial(target.of.of_sample(fix(target.of.sample, target)), target.wrt.of_sample(fix(target.wrt.sample, target)),
                           fix(target.sample, target))
        return target.of_sample(fix(target.sample, target))

    def step(self, text: str | Key) -> Step:
        """The step that computes a named quantity (``dloss/dW2[1,1]``, ``a2[1]#2@end``, ``w5+``)."""
        target, number = self.resolve(text)
        return self._step_for(target, number, text)

    def _step_for(self, target: Key, number: keys.Step | None, text: str) -> Step:
        if isinstance(target, Quantity) and target.kind == "loss_after":
            if keys.LOSS_AFTER in self.index:
                return self.index[keys.LOSS_AFTER]
            raise LookupError_(f"{text}: the loss after the run comes from the NumPy engine only (no derivation)")
        at = _step_named(target, number, len(self.steps))
        candidates = [target.at_step(at)]
        if isinstance(target, Partial) and target.sample is not None:
            candidates.append(target.without_sample().at_step(at))  # sample-free local derivatives (∂z/∂a = W)
        for candidate in candidates:
            if candidate in self.index:
                return self.index[candidate]
        if isinstance(target, Quantity) and target.after and self.steps:
            last = number if isinstance(number, int) else len(self.steps)
            if self.steps[last - 1].derived and target.at_step(last) not in self.index:
                raise LookupError_(f"{text}: this parameter is not trained (it keeps its value)")
        if self.samples > 1 and _needs_sample(target):
            raise LookupError_(f"{text}: there are {self.samples} samples; name one, e.g. {_with_sample(target)}")
        if isinstance(number, int) and number <= len(self.steps) and not self.steps[number - 1].derived:
            raise LookupError_(f"{text}: training step {number} was computed by the NumPy engine only (no derivation)")
        if number == END and not self.closing:
            raise LookupError_(f"{text}: the forward pass with the final parameters is not written out for this problem")
        raise LookupError_(f"{text}: no such quantity in this solution")

    def value(self, text: str | Key) -> float:
        """The value of a named quantity: a step's, a given number's, or a parameter's."""
        target, number = self.resolve(text)
        if isinstance(target, Quantity):
            if target.kind in ("x", "y"):
                if target.sample is None and self.samples > 1:
                    raise LookupError_(f"{text}: there are {self.samples} samples; name one, e.g. {_with_sample(target)}")
                sample = self.problem.data[(target.sample or 1) - 1]
                vector = sample.x if target.kind == "x" else sample.y
                shape = self.problem.input_shape if target.kind == "x" and self.problem.input_shape else (len(vector),)
                if target.kind == "y" and self.problem.target_steps:  # one target per time step
                    shape = (self.problem.target_steps, len(vector) // self.problem.target_steps)
                if len(target.index) != len(shape) or not all(1 <= i <= n for i, n in zip(target.index, shape)):
                    wanted = "[" + ",".join(f"1…{n}" for n in shape) + "]"
                    raise LookupError_(f"{text}: index out of range ({target.kind}{wanted})")
                return vector[int(np.ravel_multi_index(tuple(i - 1 for i in target.index), shape))]
            if target.kind == "a" and len(target.index) == 2 and target.index[0] == 0 and target.layer is not None \
                    and 1 <= target.layer <= len(self.problem.layers) and self.problem.layers[target.layer - 1].kind == "rnn":
                state = self.problem.layers[target.layer - 1].initial_state  # a recurrent layer's given initial state
                if not 1 <= target.index[1] <= len(state):
                    raise LookupError_(f"{text}: index out of range (1 to {len(state)})")
                return state[target.index[1] - 1]
            if target.is_parameter and number != END:
                plain = target.plain()
                if target.after:
                    params = self.steps[number - 1].params_after if isinstance(number, int) else self.final.parameters()
                else:
                    params = self.steps[(number or 1) - 1].params_before if self.steps else self.problem.parameters()
                if plain not in params:
                    raise LookupError_(f"{text}: no such parameter (parameters: {', '.join(str(k) for k in list(params)[:6])}, …)")
                return params[plain]
            if target.is_total_loss and isinstance(number, int):
                return self.steps[number - 1].loss
        if (
            isinstance(target, Partial)
            and target.of.is_total_loss
            and target.wrt.is_parameter
            and target.sample is None
            and isinstance(number, int)
            and not self.steps[number - 1].derived
        ):
            return self.steps[number - 1].gradients[target.wrt]
        return self._step_for(target, number, text).value

    def dependencies(self, step: Step) -> list[Step]:
        return dependencies(self, step)

    def parse_key(self, text: str) -> Key:
        """A canonical name as its key (the index's own lookups by name)."""
        return keys.parse(text)


def dependencies(solution: Solution, step: Step) -> list[Step]:
    """The steps a step needs (itself last), in the order a reader meets them (each written only
    now: a 784-32-10 network's gradient of one weight needs a few hundred of its 100,000 steps)."""
    seen: dict[Key, Step] = {}
    stack = [step]
    while stack:
        current = stack.pop()
        if current.key in seen:
            continue
        seen[current.key] = current
        for ref in refs_of(current.form):
            if ref not in seen:
                found = solution.index.get(ref)
                if found is not None:
                    stack.append(found)
    return sorted(seen.values(), key=solution.rank)


class StepIndex(Mapping[Key, Step]):
    """A solution's steps by key, each written by its training step's writer when first asked for;
    iterating it writes them all, in document order. A canonical name finds its step too."""

    def __init__(self, solution: Solution):
        self.solution = solution
        self._found: dict[Key, Step | None] = {}  # a key's step (or None), looked up once

    def __getitem__(self, key: Key | str) -> Step:
        found = self.get(key)
        if found is None:
            raise KeyError(str(key))
        return found

    def get(self, key, default=None):
        if isinstance(key, str):
            try:
                key = self.solution.parse_key(key)
            except NameError_:
                return default
        try:
            step = self._found[key]
        except KeyError:
            writer = self.solution.writer_of(key)
            step = self._found[key] = writer.step(key) if writer is not None else None
        except TypeError:  # not a key at all
            return default
        return default if step is None else step

    def __contains__(self, key: object) -> bool:
        return isinstance(key, (str, Quantity, Partial)) and self.get(key) is not None

    def __iter__(self) -> Iterator[Key]:
        return (step.key for step in self.solution.all_steps())

    def __len__(self) -> int:
        return sum(1 for _ in self.solution.all_steps())


def _there_are(n: int, noun: str) -> str:
    return f"there is 1 {noun}" if n == 1 else f"there are {n} {noun}s"


def _needs_sample(target: Key) -> bool:
    if isinstance(target, Partial):
        return target.sample is None and not (target.of.is_total_loss and target.wrt.is_parameter)
    return target.sample is None and (target.kind in ("z", "a", "x", "y") or (target.kind == "loss" and bool(target.index)))


def _with_sample(target: Key) -> Key:
    return target.of_sample(1)


# ---------------------------------------------------------------------------
# A graph problem's solution (SPEC.md §7)
# ---------------------------------------------------------------------------

GateKind = Literal["leaf", "add", "multiply", "scale", "max", "min", "sigmoid", "tanh", "relu", "softplus", "arctan",
                   "exp", "log", "power", "abs", "sin", "cos", "equation"]


@dataclass(frozen=True)
class GraphNode:
    """One name of a graph problem as its documents show it: its equation and the gate it is."""

    key: Quantity
    equation: str | None  # "q = x + y" as the file writes it (None: a leaf)
    arguments: tuple[Quantity, ...]  # the names its equation uses, in order of first appearance
    gate: GateKind
    constant: float | None = None  # the gate's number: the factor of a scale gate, the exponent of a power, what an add gate adds
    signs: tuple[int, ...] = ()  # an add gate: +1 or −1 per argument (x − y: (1, −1))

    @property
    def is_leaf(self) -> bool:
        return self.equation is None


@dataclass(frozen=True, eq=False)
class GraphStep:
    """One pass over a graph (with training: one gradient-descent step) and its numbers."""

    number: int  # 1-based
    derived: bool  # written out in full
    values: dict[Quantity, float]  # every name: the leaves and the nodes
    gradients: dict[Quantity, float]  # ∂output/∂ every name (the output's own: 1)
    params_after: dict[Quantity, float]  # the trained leaves after the update (empty without training)
    output: float
    writer: StepWriter | None = field(default=None, repr=False, compare=False)
    #: an optimizer's quantities after the step, per trained leaf by name (``v``, Adam's ``m``, ``v``,
    #: ``m_hat``, ``v_hat``); empty for plain gradient descent
    optimizer_state: dict[str, dict[str, float]] = field(default_factory=dict)

    @cached_property
    def sections(self) -> tuple[Section, ...]:
        return self.writer.sections() if (self.derived and self.writer is not None) else ()

    def steps(self) -> Iterator[Step]:
        for section in self.sections:
            yield from section.steps


@dataclass(frozen=True, eq=False)
class GraphSolution:
    """The worked solution of a graph problem: the forward pass node by node, the backward pass
    from the output to every node, and (with training) each update and the value after."""

    problem: GraphProblem
    nodes: tuple[GraphNode, ...]  # the leaves (the file's order), then the nodes in topological order
    steps: tuple[GraphStep, ...]  # at least one: the pass at the given values
    trained: bool  # gradient descent on some leaves (training.parameters, steps ≥ 1)
    final: GraphProblem  # the problem with the final values of the trained leaves
    values_after: dict[Quantity, float] | None = None  # with training: every name at the final values
    notes: tuple[str, ...] = ()
    verification: Verification | None = None
    closing_writer: StepWriter | None = field(default=None, repr=False, compare=False)
    engine: Any = field(default=None, repr=False, compare=False)

    @property
    def output(self) -> Quantity:
        return keys.node(self.problem.output)

    @property
    def output_after(self) -> float | None:
        return None if self.values_after is None else self.values_after[self.output]

    @property
    def samples(self) -> int:
        return 1

    @cached_property
    def closing(self) -> tuple[Section, ...]:
        return self.closing_writer.sections() if self.closing_writer is not None else ()

    def with_verification(self, verification: Verification) -> "GraphSolution":
        solved = replace(self, verification=verification)
        if "closing" in self.__dict__:
            solved.__dict__["closing"] = self.__dict__["closing"]
        return solved

    def all_steps(self) -> Iterator[Step]:
        for graph_step in self.steps:
            yield from graph_step.steps()
        for section in self.closing:
            yield from section.steps

    @cached_property
    def index(self) -> StepIndex:
        return StepIndex(self)  # type: ignore[arg-type]

    def writer_of(self, key: Key) -> StepWriter | None:
        if key.step == END:
            return self.closing_writer
        if isinstance(key.step, int) and 1 <= key.step <= len(self.steps):
            gs = self.steps[key.step - 1]
            return gs.writer if gs.derived else None
        return None

    def rank(self, step: Step) -> tuple:
        order = len(self.steps) + 1 if step.key.step == END else step.key.step
        writer = self.writer_of(step.key)
        return (order,) + (writer.rank(step.key) if writer is not None else ())

    def parse_key(self, text: str) -> Key:
        return keys.parse(text, nodes=self.problem.names)

    # -- the query API: names read once, at the boundary ------------------------------
    def resolve(self, text: str | Key) -> tuple[Key, keys.Step | None]:
        """A name (``df/dx``, ``q``, ``x'``, ``…@2``, ``…@end``) as (key, the step it names: None
        when no ``@``)."""
        if isinstance(text, (Quantity, Partial)):
            target: Key = text
            number: keys.Step | None = None if text.step == 1 else text.step
        else:
            target = self.parse_key(text)
            number = keys.split_step(text)[1]
        target = target.at_step(1)
        count = len(self.steps) if self.trained else 0
        if isinstance(number, int) and not 1 <= number <= max(1, count):
            raise LookupError_(f"{text}: {_there_are(count, 'training step')}")
        if number == END and not self.trained:
            raise LookupError_(f"{text}: there is no training step, so no pass with updated values")
        return target, number

    def step(self, text: str | Key) -> Step:
        target, number = self.resolve(text)
        at = _step_named(target, number, len(self.steps) if self.trained else 1)
        found = self.index.get(target.at_step(at))
        if found is not None:
            return found
        if isinstance(target, Quantity) and not target.after and self.node(target).is_leaf:
            raise LookupError_(f"{text}: a leaf; its value is given (no equation computes it)")
        if isinstance(target, Quantity) and target.after and target.plain() not in self.steps[0].params_after:
            raise LookupError_(f"{text}: {target.name} is not trained (training.parameters)")
        if isinstance(number, int) and not self.steps[number - 1].derived:
            raise LookupError_(f"{text}: step {number} is computed, not written out (--derived-steps)")
        raise LookupError_(f"{text}: no such quantity in this solution")

    def node(self, key: Quantity) -> GraphNode:
        for node in self.nodes:
            if node.key == key.plain():
                return node
        raise LookupError_(f"{key}: not a name of this graph")

    def value(self, text: str | Key) -> float:
        """The value of a name: a node's or a leaf's, a gradient, a leaf after the update."""
        target, number = self.resolve(text)
        if isinstance(target, Quantity) and target.is_state:  # v(x)@2: an optimizer's state after step 2
            if not isinstance(number, int) and number is not None:
                raise LookupError_(f"{text}: an optimizer's state belongs to a training step (@1, @2, …)")
            per = self.steps[(number or 1) - 1].optimizer_state.get(target.kind, {})
            if target.parameter.name not in per:
                raise LookupError_(f"{text}: no such optimizer state (training.optimizer, training.parameters)")
            return per[target.parameter.name]
        if isinstance(target, Quantity):
            plain = target.plain()
            if target.after:
                at = number if isinstance(number, int) else len(self.steps)
                after = self.steps[at - 1].params_after
                if plain not in after:
                    raise LookupError_(f"{text}: {plain} is not trained (training.parameters)")
                return after[plain]
            if number == END:
                assert self.values_after is not None
                return self.values_after[plain]
            return self.steps[(number or 1) - 1].values[plain]
        if target.local or target.of != self.output:
            return self.step(text).value
        if number == END:
            raise LookupError_(f"{text}: gradients belong to a training step (@1, @2, …), not to the final pass")
        return self.steps[(number or 1) - 1].gradients[target.wrt]

    def dependencies(self, step: Step) -> list[Step]:
        return dependencies(self, step)  # type: ignore[arg-type]


def _step_named(target: Key, number: keys.Step | None, steps: int) -> keys.Step:
    """The step a name without ``@`` means: the first — but a parameter after the update
    (``W2[1,1]'``, ``x'``) is the one after the last step, as :meth:`value` reads it."""
    if number is not None:
        return number
    if isinstance(target, Quantity) and target.after:
        return max(1, steps)
    return 1
