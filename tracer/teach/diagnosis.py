"""Which mistake a wrong step is: each usual slip of a backpropagation by hand made again on
the claimant's own inputs, and compared with the claim at its digits.

A step is judged ``wrong`` (:mod:`tracer.teach.check`) when neither the truth nor its form
evaluated from the claimant's earlier numbers gives the claim. Here its form is evaluated
the wrong ways a person goes wrong — the update's sign, a factor of the chain left out (an
activation's derivative, the ½ of the squared error), a path of a sum forgotten, another
sample's number, the samples' mean taken as their sum, another base of the logarithm, the
"softmax" as O/ΣO, the sign convention δ = −∂E/∂net, the other update order, one training
step short, the mistakes of :mod:`tracer.teach.mistakes` — and the first that gives the
claim is named. A diagnosis is a courtesy: it never changes a verdict.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterator

import sympy as sp

from tracer.core.derive import solve
from tracer.keys import Partial, Quantity
from tracer.numbers import DEFAULT_DIGITS
from tracer.core.solution import Chain, Expression, Solution, Step, Sum, Update
from tracer.teach.mistakes import MistakenSolutions
from tracer.teach.replay import Inputs, evaluate, expression_value
from tracer.teach.digits import as_claim, follows, is_right, rounded_like, significant_digits, unit_of

_LOG_SCALE = {"ln": 1.0, "log10": 1 / math.log(10), "log2": 1 / math.log(2)}
_LOG_NAME = {"ln": "the natural logarithm", "log10": "log10", "log2": "log2"}


@dataclass(frozen=True)
class WrongStep:
    """A wrong step as the diagnoses see it: the claim, and the step's inputs as the claimant had them."""

    step: Step
    text: str  # the claimed number as written
    inputs: Inputs  # the claimant's values of what the step substitutes (the engine's where not claimed)
    own: float  # the step's form evaluated from those inputs
    tolerance: Decimal | None = None  # a hand calculation's allowance (tracer grade: the question's), None: the claim's digits only

    def fits(self, value: float) -> bool:
        """Is the claim this value — at its digits (rounded or truncated), or within the allowance of
        a hand calculation, whose rounding a mistake made by hand carries too?"""
        if follows(value, self.text):
            return True
        return self.tolerance is not None and math.isfinite(value) and abs(Decimal(self.text) - Decimal(value)) <= self.tolerance


def _partial_name(key) -> str:
    return f"∂{key.of}/∂{key.wrt}" if isinstance(key, Partial) else str(key)


class Diagnoser:
    """The diagnoses of one solution; the mistakes' worlds and the other runs computed once, lazily."""

    def __init__(self, solution: Solution):
        self.solution = solution
        self._mistaken: MistakenSolutions | None = None
        self._runs: dict = {}

    def diagnose(self, wrong: WrongStep, name: str) -> str:
        for diagnosis in (self._update_sign, self._update_start, self._convention, self._softmax_as_ratio, self._dropped_factor,
                          self._half, self._forgot_path, self._mean_or_sum, self._wrong_sample, self._log_base):
            try:
                found = diagnosis(wrong)
            except Exception:  # a diagnosis is a courtesy (a graph problem has no layers, no loss): never let it hide the verdict
                found = None
            if found:
                return found
        return self._other_run(wrong, name) or self._made_mistake(wrong, name) or digit_slip(wrong.own, wrong.text)

    # -- the update -----------------------------------------------------------------------
    def _update_sign(self, w: WrongStep) -> str | None:
        form = w.step.form
        if isinstance(form, Update) and w.fits(w.inputs(form.parameter) + form.rate * w.inputs(form.gradient)):
            return "the update adds the gradient instead of subtracting it (θ + η·∂loss/∂θ)"
        return None

    def _update_start(self, w: WrongStep) -> str | None:
        form = w.step.form
        if not isinstance(form, Update):
            return None
        start = float(w.text) + form.rate * w.inputs(form.gradient)
        param = form.parameter.target
        written = as_claim(start, w.text)
        same = [str(n) for n, v in self.solution.problem.parameters().items() if str(n) != str(param.plain()) and is_right(v, written)]  # type: ignore[attr-defined]
        if same:
            return f"the update starts from {written} (the value of {same[0]}), but {param.plain()} was {_plain(w.inputs(form.parameter))}"
        return None

    # -- signs and conventions --------------------------------------------------------------
    def _convention(self, w: WrongStep) -> str | None:
        key = w.step.key
        if not isinstance(key, Partial) or not w.fits(-w.own):
            return None
        if key.of.kind == "loss" and key.wrt.kind == "z":
            return f"another convention: δ = −∂E/∂net (the claim is −∂loss/∂{key.wrt}; by this name it is {as_claim(w.own, w.text)})"
        return f"the sign is the wrong way round (the claim is −{_partial_name(key)})"

    def _softmax_as_ratio(self, w: WrongStep) -> str | None:
        form = w.step.form
        if w.step.kind not in ("forward", "activation") or not isinstance(form, Expression) or not form.symbolic.has(sp.exp):
            return None
        key = w.step.key
        layers = self.solution.problem.layers  # type: ignore[attr-defined]
        if not (isinstance(key, Quantity) and key.kind == "a" and key.layer and layers[key.layer - 1].activation.name == "softmax"):
            return None
        ratio = dataclasses.replace(form, symbolic=form.symbolic.replace(sp.exp, lambda arg: arg))
        if w.fits(expression_value(ratio, {b.symbol: w.inputs.binding(b) for b in form.bindings})):
            return "softmax computed as O/ΣO: the pre-activations divided by their sum, without the exponentials"
        return None

    # -- a factor or a path left out ---------------------------------------------------------
    def _dropped_factor(self, w: WrongStep) -> str | None:
        form = w.step.form
        if not isinstance(form, Chain) or len(form.factors) < 2:
            return None
        for k, factor in enumerate(form.factors):
            rest = math.prod(w.inputs(f) for i, f in enumerate(form.factors) if i != k)
            if w.fits(rest) and not w.fits(w.own):
                t = factor.target
                if isinstance(t, Partial) and t.of.kind == "a" and t.wrt.kind == "z":
                    return f"the activation's derivative {_partial_name(t)} is left out of the chain"
                return f"the factor {_partial_name(t)} is left out of the chain"
        return None

    def _half(self, w: WrongStep) -> str | None:
        loss = self.solution.problem.loss  # type: ignore[attr-defined]
        if loss.kind != "mse":
            return None
        if loss.factor == 0.5 and w.fits(2 * w.own):
            return "the ½ of the squared error is left out (twice the value)"
        if loss.factor == 1.0 and w.fits(w.own / 2):
            return "a factor ½ that this loss does not have (half the value)"
        return None

    def _forgot_path(self, w: WrongStep) -> str | None:
        form = w.step.form
        if not isinstance(form, Sum) or len(form.terms) < 2:
            return None
        for k, term in enumerate(form.terms):
            kept = dataclasses.replace(form, terms=form.terms[:k] + form.terms[k + 1:], vanishing=())
            if w.fits(evaluate(dataclasses.replace(w.step, form=kept), w.inputs)):
                first = term.factors[0].target
                through = first.wrt if isinstance(first, Partial) else first
                return f"a path is forgotten: the term through {through} is left out of the sum"
        return None

    # -- samples -----------------------------------------------------------------------------
    def _mean_or_sum(self, w: WrongStep) -> str | None:
        n = self.solution.samples
        mode = self.solution.problem.loss.samples  # type: ignore[attr-defined]
        if n < 2:
            return None
        key = w.step.key
        own_sample = getattr(key, "sample", None)
        if w.fits(w.own * n):
            return f"the samples are summed where the loss takes their mean ({n} × the value)" if mode == "mean" else f"{n} × the value"
        if w.fits(w.own / n):
            if own_sample is not None and mode == "mean":
                return (f"the sample's share of the mean (1/{n} of it) where this name is the derivative of sample "
                        f"{own_sample}'s own loss")
            return f"divided by the {n} samples where the loss sums over them" if mode == "sum" else f"1/{n} of the value"
        return None

    def _wrong_sample(self, w: WrongStep) -> str | None:
        key = w.step.key
        sample = getattr(key, "sample", None)
        if sample is None:
            return None
        for other in range(1, self.solution.samples + 1):
            if other == sample:
                continue
            candidate = key.of_sample(other)
            if candidate in self.solution.index and w.fits(self.solution.index[candidate].value):
                return f"it is the value of sample {other} ({candidate}), not of sample {sample}"
        return None

    def _log_base(self, w: WrongStep) -> str | None:
        loss = self.solution.problem.loss  # type: ignore[attr-defined]
        if loss.kind not in ("cross_entropy", "binary_cross_entropy"):
            return None
        for base, scale in _LOG_SCALE.items():
            if base != loss.log and w.fits(w.own * scale / _LOG_SCALE[loss.log]):
                return f"the logarithm taken as {_LOG_NAME[base]} where the loss uses {_LOG_NAME[loss.log]}"
        return None

    # -- the problem run another way; the mistakes made for real -------------------------------
    def _other_run(self, w: WrongStep, name: str) -> str:
        if not hasattr(self.solution.problem.training, "order"):  # a graph problem: one way to train
            return ""
        for other, label in self._alternative_runs():
            try:
                value = other.value(name)
                if not math.isclose(value, w.step.value, rel_tol=1e-12, abs_tol=1e-15) and w.fits(value):  # the same value: no other run
                    return f"it is the value of {label}"
            except Exception:  # the quantity is not in that run (a step it does not have)
                continue
        return ""

    def _made_mistake(self, w: WrongStep, name: str) -> str:
        if name.endswith("@end"):
            return ""
        try:
            if self._mistaken is None:
                self._mistaken = MistakenSolutions(self.solution)
            for wrong in self._mistaken.wrong_values(name):
                if not math.isclose(wrong.value, w.step.value, rel_tol=1e-12, abs_tol=1e-15) and w.fits(wrong.value):
                    return f"it matches the mistake that {wrong.mistake.explanation}"
        except Exception:  # a diagnosis is a courtesy; never let it hide the verdict
            return ""
        return ""

    def _alternative_runs(self) -> Iterator[tuple[Solution, str]]:
        """The same problem trained another way (the other update order; one step short), lazily."""
        problem = self.solution.problem
        training = problem.training  # type: ignore[attr-defined]
        other = "sequential" if training.order == "simultaneous" else "simultaneous"
        plain = training.optimizer.plain and len(set(problem.rate_vector)) == 1  # type: ignore[attr-defined]
        orders = (training.order, other) if plain else (training.order,)
        runs = [(dict(order=other), f"the {other} update order (training.order: {other})")] if plain else []
        if training.steps > 1:
            for order in orders:
                runs.append((dict(order=order, steps=training.steps - 1), f"{training.steps - 1} training steps in {order} order, one step short"))
        for change, label in runs:
            key = tuple(sorted(change.items()))
            if key not in self._runs:
                changed = dataclasses.replace(problem, training=dataclasses.replace(training, **change))  # type: ignore[arg-type]
                self._runs[key] = _run_another_way(changed)
            if self._runs[key] is not None:
                yield self._runs[key], label


_OTHER_RUNS: dict = {}  # problem → its solution: `tracer grade` asks the same runs of every student's answers


def _run_another_way(changed) -> Solution | None:
    """The problem trained another way, solved once per process (problems are frozen and
    hashable); None when that run cannot be computed."""
    try:
        return _OTHER_RUNS[changed]
    except KeyError:
        pass
    try:
        solution = solve(changed, derived_steps=min(3, changed.training.steps), verify=False)
    except (ValueError, ZeroDivisionError, OverflowError):
        solution = None
    if len(_OTHER_RUNS) >= 16:
        _OTHER_RUNS.pop(next(iter(_OTHER_RUNS)))
    _OTHER_RUNS[changed] = solution
    return solution


#: how far a moved decimal point is looked for (places either way)
POINT_MOVES = 3


def digit_slip(own: float, text: str) -> str:
    """A slip of the pen against the value the inputs give: the decimal point moved, the last
    digit, two digits swapped (across the point too: 1.2249 written 2.1249), one digit wrong."""
    moved = _moved_point(own, text)
    if moved:
        return moved
    should = as_claim(own, text)
    claimed = text.lstrip("-")
    if abs(rounded_like(own, text) - rounded_like(float(text), text)) == unit_of(text):
        return "it is off by one unit in the last digit"
    bare = should.lstrip("-")
    if len(bare) == len(claimed) and (own < 0) == text.startswith("-") and bare.find(".") == claimed.find("."):
        digits_should, digits_claimed = bare.replace(".", ""), claimed.replace(".", "")
        differ = [i for i, (a, b) in enumerate(zip(digits_should, digits_claimed)) if a != b]
        if (len(differ) == 2 and differ[1] == differ[0] + 1 and digits_should[differ[0]] == digits_claimed[differ[1]]
                and digits_should[differ[1]] == digits_claimed[differ[0]]):
            return f"two digits are swapped ({_with_point(bare, differ)} written {_with_point(claimed, differ)})"
        if len(differ) == 1:
            return f"one digit is wrong ({digits_should[differ[0]]} written {digits_claimed[differ[0]]})"
    return ""


def _with_point(text: str, differ: list[int]) -> str:
    """The two swapped digits as written, with the decimal point when it stands between them."""
    digits = [k for k, c in enumerate(text) if c != "."]
    first, second = digits[differ[0]], digits[differ[1]]
    return text[first:second + 1]


def _moved_point(own: float, text: str) -> str:
    """The claim is the value with its decimal point moved: the same digits, 10, 100 or 1000 times
    larger or smaller (3.615 written 36.15 or 0.3615; not 6.315, which has other digits)."""
    if own == 0 or not math.isfinite(own) or significant_digits(text) < 2:  # one digit: too little to tell
        return ""
    exact = Decimal(own)
    for places in range(1, POINT_MOVES + 1):
        for sign in (1, -1):
            shifted = exact.scaleb(sign * places)
            if follows(shifted, text) and not follows(exact, text):
                way = "right" if sign > 0 else "left"
                return (f"the decimal point is moved {places} place{'s' if places > 1 else ''} to the {way} "
                        f"({as_claim(exact, _unit_of_shifted(text, sign * places))} written {text})")
    return ""


def _unit_of_shifted(text: str, places: int) -> str:
    """The claim's last digit moved back ``places``: the digits the value shows with the point where it belongs."""
    exponent = Decimal(text).as_tuple().exponent - places
    return format(Decimal(1).scaleb(exponent), "f") if exponent < 0 else "1"


def _plain(value: float, digits: int = DEFAULT_DIGITS) -> str:
    return format(float(f"{value:.{digits}g}"), "g") if math.isfinite(value) else str(value)

