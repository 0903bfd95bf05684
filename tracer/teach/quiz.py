"""Randomised problem sets: the ``randomize:`` block, the fairness guards, the variants.

A problem file's ``randomize:`` block says which values vary over what grid::

    randomize:
      weights: uniform(-1, 1, step=0.05)   # every weight
      W2[1,1]: [0.4, 0.5, 0.6]             # one parameter (later keys override earlier ones)
      inputs: uniform(0, 1, step=0.1)
      learning_rate: [0.1, 0.5, 1]
      ask: ["dloss/dW1[1,1]", "W2[1,1]'", "loss_after"]
      digits: 4                            # significant digits asked (and carried: the tolerance)
      options: 4                           # choices of a multiple-choice question; 0: open (numerical) answers
      guards: {kink: 0.05, min_derivative: 0.01, loss_decreases: true}

The grid grammar (``uniform(lo, hi, step=s)``, a list of numbers, or one number) is
parsed here by a regular expression: nothing a user writes is evaluated.

A graph problem's block (SPEC.md §7) names its leaves instead (``x: uniform(-5, 5,
step=1)``, ``y: [1, 2]``; ``values`` for every leaf; ``learning_rate`` when it is
trained); ``ask`` defaults to the gradient of the output with respect to every leaf. A
draw whose values leave an equation without a number (1/0, log 0) is unfair and drawn
again.

A variant is fair when (the guards) no pre-activation of a ReLU/step layer is within
``kink`` of the kink, no sigmoid/tanh/softmax derivative is below ``min_derivative``
(saturated: vanishing at the printed digits), the loss decreases after the update
(visibly at the digits asked), every quantity asked is non-zero, and it differs
from every earlier variant. A graph's guards are its gates': no argument of relu/abs
within ``kink`` of 0 (nor the two of max/min of each other), no sigmoid/tanh gate
saturated, with training the output decreasing. Variant k of seed S is drawn from its
own random stream (``Random("S:k:attempt")``), so a set is reproducible and can be
built in parallel.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import random
import re
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable

import numpy as np

from tracer import bounds
from tracer import keys
from tracer.core.derive import solve
from tracer.keys import NameError_, Quantity
from tracer.core.solution import GraphSolution, LookupError_
from tracer.numbers import fmt
from tracer.spec import GraphProblem, Problem, SpecError
from tracer.teach.mistakes import MistakenSolutions
from tracer.teach.rounding import Allowance, allowances

GROUPS = ("weights", "biases", "inputs", "targets", "learning_rate")
GRAPH_GROUPS = ("values", "learning_rate")  # a graph problem's: every leaf; the rate (when trained)
SETTINGS = ("ask", "digits", "options", "guards", "attempts")
SATURATING = ("sigmoid", "tanh", "softmax")
KINKED = ("relu", "leaky_relu", "step")
KINKED_GATES = {"relu": 1, "abs": 1, "max": 2, "min": 2}  # a graph's gates with a kink: their arguments
DEFAULT_ASK = ("loss",)
#: draws per variant at most (each one solves the problem: ~50 ms for Mazur's; 10,000 is minutes)
MAX_ATTEMPTS = 10_000

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_UNIFORM = re.compile(
    rf"^\s*uniform\s*\(\s*(?P<lo>{_NUMBER})\s*,\s*(?P<hi>{_NUMBER})\s*(?:,\s*step\s*=\s*(?P<step>{_NUMBER})\s*)?\)\s*$"
)


@dataclass(frozen=True)
class Grid:
    values: tuple[float, ...]
    text: str


@dataclass(frozen=True)
class Guards:
    kink: float = 0.05
    min_derivative: float = 0.01
    loss_decreases: bool = True


@dataclass(frozen=True)
class QuizSpec:
    vary: tuple[tuple[str, Grid], ...]  # (selector, grid), applied in order
    ask: tuple[str, ...]
    digits: int = 4
    options: int = 4
    guards: Guards = Guards()
    attempts: int = 100


# ---------------------------------------------------------------------------
# The randomize: block
# ---------------------------------------------------------------------------


def parse_grid(value: Any, source: str, where: str) -> Grid:
    """``uniform(-1, 1, step=0.05)``, a list of numbers, or one number → the grid's values."""

    def number(v: Any, at: str) -> Decimal:
        """A value of the grid: a finite double, as every number of a problem file is (tracer.bounds)."""
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SpecError(source, at, f"a number expected, got {_shown(v)}")
        exact = bounds.finite_decimal(repr(v) if isinstance(v, float) else str(v))
        if exact is None:
            raise SpecError(source, at, f"{bounds.DOUBLE_EXPECTED} expected, got {_shown(v)}")
        return exact

    if isinstance(value, list):
        if not value:
            raise SpecError(source, where, "a non-empty list of numbers expected")
        return Grid(tuple(float(number(v, f"{where}[{k}]")) for k, v in enumerate(value)), repr(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Grid((float(number(value, where)),), repr(value))
    if not isinstance(value, str):
        raise SpecError(source, where, f"uniform(lo, hi, step=s), a list of numbers or a number expected, got {_shown(value)}")
    m = _UNIFORM.match(value)
    if not m:
        raise SpecError(source, where, f"uniform(lo, hi, step=s), a list of numbers or a number expected, got {_shown(value)}")
    given = [bounds.finite_decimal(m[k]) if m[k] else Decimal("0.01") for k in ("lo", "hi", "step")]
    if any(v is None for v in given):
        raise SpecError(source, where, f"numbers double precision holds expected ({bounds.DOUBLE_EXPECTED}), got {_shown(value)}")
    lo, hi, step = given
    if not lo < hi:
        raise SpecError(source, where, f"uniform(lo, hi, ...) needs lo < hi, got {_shown(value)}")
    if step <= 0:
        raise SpecError(source, where, f"step must be positive, got {_shown(value)}")
    if (hi - lo) / 100000 > step:  # measured before any grid point is made, in exact decimals
        raise SpecError(source, where, f"at most 100000 grid points, got {value}")
    count = (hi - lo) / step
    if count != count.to_integral_value():
        raise SpecError(source, where, f"(hi - lo) must be a whole number of steps, got {_shown(value)}")
    if count > 100000:
        raise SpecError(source, where, f"at most 100000 grid points, got {int(count) + 1}")
    return Grid(tuple(float(lo + k * step) for k in range(int(count) + 1)), value)


def _shown(value: Any) -> str:
    """A value as a message quotes it: at most 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…'"


def parse_spec(problem: Problem | GraphProblem) -> QuizSpec:
    """Validate a problem's ``randomize:`` block (errors name the field)."""
    source, raw = problem.source, problem.randomize
    if raw is None:
        raise SpecError(source, "randomize", "required for tracer quiz (which values vary, over what grid); see README")
    if isinstance(problem, GraphProblem):
        return _parse_graph_spec(problem)
    if problem.training.state.given:  # the sheet states the optimizer from zero (m₀ = v₀ = 0)
        raise SpecError(source, "training.state", "tracer quiz states the optimizer from torch's zeros: a given starting state is not on its sheet yet")
    vary: list[tuple[str, Grid]] = []
    settings: dict[str, Any] = {}
    slots = set(problem.parameter_keys)
    for key, value in raw.items():
        where = f"randomize.{key}"
        if key in SETTINGS:
            settings[key] = value
            continue
        if key not in GROUPS and not _is_slot(str(key)):
            raise SpecError(
                source, where, "unknown key; expected weights, biases, inputs, targets, learning_rate, a layer (W2, b1), "
                "a name (W2[1,1], x[1], y[1]#2) or ask, digits, options, guards, attempts"
            )
        if key not in GROUPS:
            _check_slot(problem, key, where, slots)
        vary.append((key, parse_grid(value, source, where)))
    if not vary:
        raise SpecError(source, "randomize", "nothing varies: give at least one of weights, biases, inputs, targets, learning_rate")
    spec = _with_settings(source, tuple(vary), settings, list(DEFAULT_ASK))
    _check_ask(problem, spec)
    return spec


def _parse_graph_spec(problem: GraphProblem) -> QuizSpec:
    """A graph problem's block (SPEC.md §7): its leaves vary (one by name, or all as ``values``),
    and the learning rate when it is trained; asked by default: the gradient of every leaf."""
    source, raw = problem.source, problem.randomize
    if _is_trained(problem) and (not problem.training.optimizer.plain or problem.training.state.given):
        # the sheet states the update x' = x − η·∂f/∂x: an optimizer's equations are not on it yet
        raise SpecError(source, "training.optimizer", "tracer quiz on a graph problem takes plain gradient descent (sgd, no state) for now: "
                        "the sheet states x' = x − η·∂f/∂x")
    leaves = [name for name, _ in problem.values]
    listed = ", ".join(leaves)
    equations = {e.name: e.text for e in problem.equations}
    vary: list[tuple[str, Grid]] = []
    settings: dict[str, Any] = {}
    for key, value in raw.items():
        key = str(key)
        where = f"randomize.{key}"
        if key in SETTINGS:
            settings[key] = value
            continue
        if key in equations:
            raise SpecError(source, where, f"{key} is computed by its equation ({equations[key]}), it cannot vary; the leaves are {listed}")
        if key == "learning_rate" and not _is_trained(problem):
            raise SpecError(source, where, "the graph is not trained (no training.parameters with steps >= 1): no learning rate to vary")
        if key not in leaves and key not in GRAPH_GROUPS:
            raise SpecError(source, where, f"unknown key; expected a leaf ({listed}), values, learning_rate or ask, digits, options, guards, attempts")
        vary.append((key, parse_grid(value, source, where)))
    if not vary:
        raise SpecError(source, "randomize", f"nothing varies: give at least one leaf ({listed}), values or learning_rate")
    spec = _with_settings(source, tuple(vary), settings, [f"d{problem.output}/d{leaf}" for leaf in leaves])
    _check_ask(problem, spec)
    return spec


def _is_trained(problem: GraphProblem) -> bool:
    return bool(problem.training.parameters) and problem.training.steps >= 1


def _with_settings(source: str, vary: tuple[tuple[str, Grid], ...], settings: dict[str, Any], default_ask: list[str]) -> QuizSpec:
    """The settings of a block (ask, digits, options, attempts, guards), each checked and named."""
    ask = settings.get("ask", default_ask)
    if not isinstance(ask, list) or not ask or not all(isinstance(a, str) for a in ask):
        raise SpecError(source, "randomize.ask", f"a non-empty list of quantity names expected, got {ask!r}")
    digits = settings.get("digits", 4)
    if isinstance(digits, bool) or not isinstance(digits, int) or not 2 <= digits <= 12:
        raise SpecError(source, "randomize.digits", f"a whole number from 2 to 12 expected, got {digits!r}")
    options = settings.get("options", 4)
    if isinstance(options, bool) or not isinstance(options, int) or not (options == 0 or 2 <= options <= 8):
        raise SpecError(source, "randomize.options", f"0 (open answers) or a whole number from 2 to 8 expected, got {options!r}")
    attempts = settings.get("attempts", 100)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS:
        raise SpecError(source, "randomize.attempts", f"a whole number from 1 to {MAX_ATTEMPTS:,} expected, got {_shown(attempts)}")
    guards_raw = settings.get("guards", {}) or {}
    if not isinstance(guards_raw, dict):
        raise SpecError(source, "randomize.guards", "a mapping expected (kink, min_derivative, loss_decreases)")
    guards = Guards()
    for gk, gv in guards_raw.items():
        at = f"randomize.guards.{gk}"
        if gk in ("kink", "min_derivative"):
            if isinstance(gv, bool) or not isinstance(gv, (int, float)) or gv < 0:
                raise SpecError(source, at, f"a non-negative number expected, got {gv!r}")
            guards = dataclasses.replace(guards, **{gk: float(gv)})
        elif gk == "loss_decreases":
            if not isinstance(gv, bool):
                raise SpecError(source, at, f"true or false expected, got {gv!r}")
            guards = dataclasses.replace(guards, loss_decreases=gv)
        else:
            raise SpecError(source, at, "unknown key; expected kink, min_derivative or loss_decreases")
    return QuizSpec(vary, tuple(ask), digits, options, guards, attempts)


def _check_ask(problem: Problem, spec: QuizSpec) -> None:
    solution = solve(problem, derived_steps=min(3, max(1, problem.training.steps)), verify=False)  # as the variants are solved
    for k, name in enumerate(spec.ask):
        try:
            solution.value(name)
        except (NameError_, LookupError_) as err:
            raise SpecError(problem.source, f"randomize.ask[{k}]", str(err)) from None


def _is_slot(text: str) -> bool:
    """A layer's parameters (``W2``), one parameter, or an input or target (of one sample)."""
    block = keys.parse_block(text)
    if block is not None and block.is_parameters:
        return True
    try:
        key = keys.parse(text)
    except keys.NameError_:
        return False
    return isinstance(key, Quantity) and (key.is_parameter or key.kind in ("x", "y")) and not key.after and key.step == 1 \
        and (key.sample is None or key.kind in ("x", "y"))


def _check_slot(problem: Problem, selector: str, where: str, parameters: set) -> None:
    """A named slot of ``randomize:`` (``W2``, ``W2[1,1]``, ``x[1]``, ``y[1]#2``) that exists."""
    block = keys.parse_block(selector)
    key = None if block is not None and block.is_parameters else keys.parse_quantity(selector)
    if key is None or key.is_parameter:
        if not slots_of(problem, selector):
            raise SpecError(problem.source, where, f"no such parameter or layer (parameters: {', '.join(map(str, sorted(parameters)[:6]))}, …)")
        return
    size = problem.inputs if key.kind == "x" else problem.layers[-1].units
    if not 1 <= key.index[0] <= size:
        raise SpecError(problem.source, where, f"index from 1 to {size} expected, got {key.index[0]}")
    if key.sample is not None and not 1 <= key.sample <= len(problem.data):
        raise SpecError(problem.source, where, f"sample from 1 to {len(problem.data)} expected, got {key.sample}")


#: a varied value's key: a parameter, an input or target of one sample (x[1]#2), a graph's leaf
#: (``keys.node("x")``), or the learning rate (:data:`RATE`)
Slot = Quantity
#: the slot of ``randomize.learning_rate``: the rate η of the update
RATE = keys.hyper("eta")


def slots_of(problem: Problem | GraphProblem, selector: str) -> list[Slot]:
    """The varied slots a selector names: parameters, ``x[i]#s``, ``y[k]#s``, ``learning_rate``;
    a graph's leaves (``values``: every one)."""
    if selector == "learning_rate":
        return [RATE]
    if isinstance(problem, GraphProblem):
        if selector == "values":
            return [keys.node(name) for name, _ in problem.values]
        return [keys.node(selector)]
    params = problem.parameter_keys
    samples = range(1, len(problem.data) + 1)
    if selector == "weights":
        return [k for k in params if k.kind in ("W", "U")]
    if selector == "biases":
        return [k for k in params if k.kind == "b"]
    if selector == "inputs":
        return [keys.x(i, s) for s in samples for i in range(1, problem.inputs + 1)]
    if selector == "targets":
        return [keys.y(k, s) for s in samples for k in range(1, problem.layers[-1].units + 1)]
    block = keys.parse_block(selector)
    if block is not None and block.is_parameters:
        return [k for k in params if (k.kind, k.layer) == (block.kind, block.layer)]
    key = keys.parse_quantity(selector)
    if key.kind in ("x", "y"):
        return [key] if key.sample is not None else [key.of_sample(s) for s in samples]
    return [key] if key in params else []


# ---------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------


def draw(problem: Problem | GraphProblem, spec: QuizSpec, rng: random.Random) -> dict[Slot, float]:
    values: dict[Slot, float] = {}
    for selector, grid in spec.vary:
        for slot in slots_of(problem, selector):
            values[slot] = rng.choice(grid.values)
    return values


def apply(problem: Problem | GraphProblem, values: dict[Slot, float]) -> Problem | GraphProblem:
    """The problem with the drawn values in place (``values`` keyed by :data:`Slot`: keys only)."""
    for slot in values:
        if not isinstance(slot, Quantity):
            raise TypeError(f"a slot is a key, not {slot!r}; parse names with tracer.keys.parse (a graph's leaf: tracer.keys.node)")
    if isinstance(problem, GraphProblem):
        out = problem.with_values({k.name: v for k, v in values.items() if k.kind == "node"})
        if RATE in values:
            out = dataclasses.replace(out, training=dataclasses.replace(out.training, learning_rate=values[RATE]))
        return out
    params = {k: v for k, v in values.items() if k.is_parameter}
    out = problem.with_parameters(params)
    data = list(out.data)
    for slot, v in values.items():
        if slot.kind in ("x", "y"):
            sample = data[slot.sample - 1]
            vector = list(sample.x if slot.kind == "x" else sample.y)
            vector[slot.index[0] - 1] = v
            data[slot.sample - 1] = dataclasses.replace(sample, **{slot.kind: tuple(vector)}, **({"label": None} if slot.kind == "y" else {}))
    out = dataclasses.replace(out, data=tuple(data))
    if RATE in values:
        out = dataclasses.replace(out, training=dataclasses.replace(out.training, learning_rate=values[RATE]))
    return out


@dataclass
class Option:
    value: float
    text: str  # the value at the digits asked
    mistake: str | None  # None: the right answer
    explanation: str


@dataclass
class Question:
    name: str  # as asked (canonical or theme)
    canonical: str
    value: float
    answer: str  # the value at the digits asked
    tolerance: str  # what a hand calculation carrying the digits asked may be off by (tracer.teach.rounding)
    options: list[Option]  # shuffled; empty for open answers (options: 0) or when fewer than two distinct wrong values exist
    correct: int  # index of the right option
    allowance: Allowance | None = None  # where the tolerance comes from; None: a given number (half a unit)

    @property
    def kind(self) -> str:
        """How the question is asked: ``multichoice`` (it has options) or ``numerical`` (open)."""
        return "multichoice" if self.options else "numerical"


@dataclass
class Variant:
    number: int
    attempt: int
    values: dict[Slot, float]  # the drawn value of every varied slot
    problem: Problem | GraphProblem
    questions: list[Question]
    loss: float  # a graph problem's: its output
    loss_after: float
    documents: dict[str, Any] = field(default_factory=dict)  # rendered fragments (filled by a finisher)
    solution: Any = None  # the worked solution (dropped before a variant leaves a worker)

    def key(self) -> tuple:
        return tuple(sorted(self.values.items()))


def positions(variants: list[Variant]) -> list[list[tuple[Variant, Question]]]:
    """The questions by position: the k-th list holds the k-th question of every variant that has
    one (an LMS gives each student one of them: a Canvas question group, a Moodle random question)."""
    out: list[list[tuple[Variant, Question]]] = []
    for variant in variants:
        for k, question in enumerate(variant.questions):
            if k == len(out):
                out.append([])
            out[k].append((variant, question))
    return out


class Unfair(Exception):
    """A drawn variant fails a guard; the message says which."""


def tolerance(value: float, digits: int) -> str:
    """Half a unit of the last significant digit, as a plain decimal string (the tolerance of
    a given number; a computed one's is :func:`tracer.teach.rounding.allowances`')."""
    if value == 0:
        return format(Decimal(5).scaleb(-digits - 1), "f")
    exponent = math.floor(math.log10(abs(float(fmt(value, digits).replace("−", "-")))))
    return format(Decimal(5).scaleb(exponent - digits), "f")


def plain(value: float, digits: int) -> str:
    """The number at ``digits`` significant digits in ASCII (CSV, Moodle, the options), its trailing
    zeros kept: the right answer 0.2000 is as long as the wrong 0.2023 (a short one gives itself away)."""
    return fmt(value, digits, zeros=True).replace("−", "-")


def _pool_tie(solution, l: int, kink: float) -> bool:
    """Is a max-pooling window's maximum within ``kink`` of its runner-up (the routing in doubt)?"""
    below = solution.steps[0].forward[0]["layers"][l - 2]["a"] if l >= 2 else None
    if below is None:
        return False
    layer = solution.problem.layers[l - 1]
    maps = np.asarray(below, dtype=float)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = layer.kernel, layer.stride, layer.padding, layer.dilation
    _, rows, cols = layer.out_shape
    padded = np.pad(maps, ((0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)  # max-pool's padding: never the largest
    padded = np.pad(padded, ((0, 0), (0, sh + dh * kh), (0, sw + dw * kw)), constant_values=-np.inf)  # ceil_mode's last window
    for i in range(rows):
        for j in range(cols):
            cut = padded[:, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            window = np.sort(cut.reshape(maps.shape[0], -1), axis=1)
            if window.shape[1] > 1 and np.any(np.isfinite(window[:, -2]) & (window[:, -1] - window[:, -2] < kink)):
                return True
    return False


def check_guards(solution, spec: QuizSpec) -> None:
    problem = solution.problem
    g = spec.guards
    if solution.verification is not None and not solution.verification.ok:
        raise Unfair("verification mismatch")
    if isinstance(solution, GraphSolution):
        _check_graph_guards(solution, spec)
        return
    forward = solution.steps[0].forward
    for sample in forward:
        for l, layer in enumerate(sample["layers"]):
            act = problem.layers[l].activation.name
            if act in KINKED and "z" in layer:
                for z in np.ravel(layer["z"]):  # a feature map's or a sequence's nested lists too
                    if abs(z) < g.kink:
                        raise Unfair(f"a pre-activation within {g.kink:g} of the {act} kink")
            if problem.layers[l].kind == "maxpool2d" and _pool_tie(solution, l + 1, g.kink):
                raise Unfair(f"a max-pooling window whose two largest inputs are within {g.kink:g}")
            if act in SATURATING and "a" in layer:
                for a in np.ravel(layer["a"]):
                    slope = 1 - a * a if act == "tanh" else a * (1 - a)
                    if slope < g.min_derivative:
                        raise Unfair(f"a saturated {act} (derivative below {g.min_derivative:g})")
    if g.loss_decreases:
        before, after = solution.steps[0].loss, solution.loss_after
        if not after < before or fmt(after, spec.digits) == fmt(before, spec.digits):
            raise Unfair("the loss does not decrease visibly after the update")


def _check_graph_guards(solution: GraphSolution, spec: QuizSpec) -> None:
    """A graph's guards: no argument of a relu/abs gate within ``kink`` of 0, nor the two of a
    max/min gate within ``kink`` of each other (the gradient would turn on a rounding); no
    sigmoid/tanh gate saturated; with training, the output decreases visibly."""
    g = spec.guards
    for graph_step in solution.steps:
        values = graph_step.values
        for node in solution.nodes:
            arguments = [values[a] for a in node.arguments]
            if KINKED_GATES.get(node.gate) == len(arguments):
                gap = abs(arguments[0]) if len(arguments) == 1 else abs(arguments[0] - arguments[1])
                if gap < g.kink:
                    raise Unfair(f"an argument within {g.kink:g} of the {node.gate} kink ({node.equation})")
            if node.gate in ("sigmoid", "tanh"):
                a = values[node.key]
                slope = 1 - a * a if node.gate == "tanh" else a * (1 - a)
                if slope < g.min_derivative:
                    raise Unfair(f"a saturated {node.gate} (derivative below {g.min_derivative:g})")
    if g.loss_decreases and solution.trained and solution.output_after is not None:
        before, after = solution.steps[0].output, solution.output_after
        if not after < before or fmt(after, spec.digits) == fmt(before, spec.digits):
            raise Unfair("the output does not decrease visibly after the update")


def _outputs(solution) -> tuple[float, float]:
    """What a variant records: the loss before and after (a graph's output; after = before untrained)."""
    if isinstance(solution, GraphSolution):
        before = solution.steps[0].output
        return before, solution.output_after if solution.output_after is not None else before
    return solution.steps[0].loss, solution.loss_after


def build_variant(problem: Problem | GraphProblem, spec: QuizSpec, seed: int, number: int, attempt: int) -> Variant:
    """One candidate variant (raises :class:`Unfair` when a guard fails)."""
    rng = random.Random(f"{seed}:{number}:{attempt}")
    values = draw(problem, spec, rng)
    try:
        varied = apply(problem, values)
        solution = solve(varied, derived_steps=min(3, max(1, varied.training.steps)))
    except (SpecError, ValueError, ZeroDivisionError, OverflowError) as err:
        raise Unfair(f"not computable ({err})") from None
    check_guards(solution, spec)
    for name in spec.ask:  # before the worlds of the mistakes, which cost twice the solve
        if abs(solution.value(name)) < 1e-9:
            raise Unfair(f"{name} is zero")
    try:  # the worlds of the mistakes and of the hand roundings must be computable too
        mistaken = MistakenSolutions(solution)
        asked = {name: asked_step(solution, name) for name in spec.ask}
        allowed = allowances(solution, [s for s in asked.values() if s is not None], spec.digits)
    except (ValueError, ZeroDivisionError, OverflowError) as err:
        raise Unfair(f"not computable by hand ({err})") from None
    questions = []
    for name in spec.ask:
        truth = solution.value(name)
        answer = plain(truth, spec.digits)
        step = asked[name]
        canonical = str(step.id) if step is not None else _canonical(solution, name)
        allowance = allowed.get(step.id) if step is not None else None
        tol = decimal_text(allowance.tolerance) if allowance is not None else tolerance(truth, spec.digits)
        options = [Option(truth, answer, None, "the right answer")]
        seen = {answer}
        for wrong in mistaken.wrong_values(name) if spec.options else ():
            text = plain(wrong.value, spec.digits)
            if text in seen or not math.isfinite(wrong.value) or abs(wrong.value - truth) <= float(tol):
                continue  # a mistake that rounding alone could give is no wrong option
            seen.add(text)
            options.append(Option(wrong.value, text, wrong.mistake.key, wrong.mistake.explanation))
            if len(options) == spec.options:
                break
        if len(options) < 3:
            options = []
        else:
            rng.shuffle(options)
        correct = next((k for k, o in enumerate(options) if o.mistake is None), -1)
        questions.append(Question(name, canonical, truth, answer, tol, options, correct, allowance))
    return Variant(number, attempt, values, varied, questions, *_outputs(solution), solution=solution)


def asked_step(solution, name: str):
    """The step whose value is the quantity asked; None for a given number or a value the
    solution does not derive (a later training step's: the NumPy engine's only)."""
    try:
        step = solution.step(name)
    except (NameError_, LookupError_):
        return None
    return step if math.isclose(step.value, solution.value(name), rel_tol=1e-12, abs_tol=1e-15) else None


def _canonical(solution, name: str) -> str:
    try:
        return str(solution.step(name).id)
    except (NameError_, LookupError_):  # a given number asked: no step
        return name


def decimal_text(value: float) -> str:
    """A tolerance as a plain decimal (no exponent): 1.2e-05 → ``0.000012``."""
    return format(Decimal(repr(value)), "f")


def find_variant(problem: Problem, spec: QuizSpec, seed: int, number: int, start: int = 0, finish: Callable | None = None) -> Variant:
    """The first fair attempt of variant ``number`` from attempt ``start`` on."""
    reasons: dict[str, int] = {}
    for attempt in range(start, start + spec.attempts):
        try:
            variant = build_variant(problem, spec, seed, number, attempt)
        except Unfair as why:
            reason = str(why).split(" (")[0]
            reasons[reason] = reasons.get(reason, 0) + 1
            continue
        if finish is not None:
            finish(variant)
        return variant
    common = max(reasons, key=reasons.get) if reasons else "?"
    raise SpecError(
        problem.source, "randomize",
        f"no fair variant in {spec.attempts} draws (variant {number}; most often: {common}); widen the grids or relax randomize.guards",
    )


# -- a set, in parallel --------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(problem: Problem, spec: QuizSpec, seed: int, finish: Callable | None) -> None:
    _WORKER.update(problem=problem, spec=spec, seed=seed, finish=finish)


def _work(number: int) -> Variant:
    w = _WORKER
    variant = find_variant(w["problem"], w["spec"], w["seed"], number, 0, w["finish"])
    variant.solution = None  # heavy (SymPy); the parent needs only the numbers and documents
    return variant


def generate(
    problem: Problem,
    count: int,
    seed: int,
    *,
    finish: Callable | None = None,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Variant]:
    """``count`` distinct fair variants, reproducible for a seed; ``finish(variant)`` runs in
    the worker (e.g. renders the variant's documents). Uses every core for large sets."""
    spec = parse_spec(problem)
    possible = distinct_variants(problem, spec)
    if count > possible:
        raise SpecError(problem.source, "randomize",
                        f"{count:,} distinct variants asked (--count), but the grids allow only {possible:,}; widen the grids or ask fewer")
    jobs = jobs or os.cpu_count() or 1
    numbers = list(range(1, count + 1))
    variants: list[Variant]
    if jobs <= 1 or count < 8:
        variants = []
        for n in numbers:
            variants.append(find_variant(problem, spec, seed, n, 0, finish))
            if progress:
                progress(len(variants), count)
    else:
        ctx = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
        results: dict[int, Variant] = {}
        with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker, initargs=(problem, spec, seed, finish)) as pool:
            for variant in pool.map(_work, numbers, chunksize=max(1, min(16, count // (4 * jobs)))):
                results[variant.number] = variant
                if progress:
                    progress(len(results), count)
        variants = [results[n] for n in numbers]
    # distinct: a variant equal to an earlier one draws again, in order (deterministic)
    seen: set = set()
    for k, variant in enumerate(variants):
        redraws = 0
        while variant.key() in seen:
            redraws += 1
            if redraws > spec.attempts:  # the fair variants left are all taken: stop, do not draw forever
                raise SpecError(problem.source, "randomize",
                                f"no distinct fair variant {variant.number} in {spec.attempts} draws ({len(seen):,} found); widen the grids or relax randomize.guards")
            variant = find_variant(problem, spec, seed, variant.number, variant.attempt + 1, finish)
        variants[k] = variant
        seen.add(variant.key())
    return variants


def distinct_variants(problem: Problem | GraphProblem, spec: QuizSpec) -> int:
    """How many different variants the grids can make (each varied value one of its grid's)."""
    slots: dict = {}
    for selector, grid in spec.vary:
        for slot in slots_of(problem, selector):
            slots[slot] = len(set(grid.values))  # a later selector overrides an earlier one
    return math.prod(slots.values()) if slots else 1


def stderr_progress(done: int, total: int) -> None:
    """At most ~20 reports: one line redrawn on a terminal, separate lines in a log."""
    if done == total or done % max(1, total // 20) == 0:
        if sys.stderr.isatty():
            sys.stderr.write(f"\rtracer quiz: {done}/{total} variants" + ("\n" if done == total else ""))
        else:
            sys.stderr.write(f"tracer quiz: {done}/{total} variants\n")
        sys.stderr.flush()
