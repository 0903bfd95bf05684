"""Re-evaluate a solution's steps, in order, after changing some of them.

A worked solution is a dataflow graph: every step says which earlier steps (and
which given numbers) it substitutes. Replaying it with a changed value — or with a
step evaluated the wrong way — recomputes exactly what depends on the change, by
each step's own form (weighted sum, expression, chain, sum, update). This is how
:mod:`tracer.mistakes` *makes* a mistake (drop a factor, forget a path, add the
gradient) and how :mod:`tracer.check` recomputes a step from a text's numbers.

Nothing here formats; the only arithmetic is the evaluation of the forms the
engine already wrote down.
"""

from __future__ import annotations

import math
from decimal import Context, Decimal, localcontext
from functools import singledispatch
from typing import Callable, Mapping

import sympy as sp

from tracer.keys import Key
from tracer.core.solution import Affine, Chain, Expression, Factor, Solution, Step, Sum, Update, substituted

#: a patch may evaluate one step differently: (step, inputs) -> value, or None for the usual way
Patch = Callable[[Step, "Inputs"], "float | None"]


def key_of(factor_ref: Key | None, target: Key) -> Key:
    """The key of a value in a replay: the step it comes from, or the given number itself."""
    return factor_ref if factor_ref is not None else target


class Inputs:
    """The values a step substitutes, as changed so far (falls back to the engine's)."""

    def __init__(self, changed: Mapping[Key, float]):
        self.changed = changed

    def __call__(self, factor: Factor) -> float:
        return self.changed.get(key_of(factor.ref, factor.target), factor.value)

    def binding(self, binding) -> float:
        return self.changed.get(key_of(binding.ref, binding.target), binding.value)


def evaluate(step: Step, inputs: Inputs) -> float:
    """A step's value from its form with the given inputs (the engine's way)."""
    return _value(step.form, inputs)


@singledispatch
def _value(form, inputs: Inputs) -> float:
    raise TypeError(f"cannot evaluate a {type(form).__name__}")


@_value.register
def _(form: Affine, inputs: Inputs) -> float:
    total = sum(inputs(w) * inputs(a) for w, a in form.terms)
    return total + (inputs(form.bias) if form.bias is not None else 0.0)


@_value.register
def _(form: Chain, inputs: Inputs) -> float:
    return math.prod(inputs(f) for f in form.factors)


@_value.register
def _(form: Sum, inputs: Inputs) -> float:
    total = sum(math.prod(inputs(f) for f in term.factors) for term in form.terms)
    extra = sum(math.prod(inputs(f) for f in term.factors) for term in form.extra)
    return (total * form.scale if form.scale is not None else total) + extra


@_value.register
def _(form: Update, inputs: Inputs) -> float:
    return inputs(form.parameter) - form.rate * inputs(form.gradient)


@_value.register
def _(form: Expression, inputs: Inputs) -> float:
    return expression_value(form, {b.symbol: inputs.binding(b) for b in form.bindings})


_LAMBDAS: dict = {}


def expression_value(form: Expression, values: Mapping[sp.Symbol, float]) -> float:
    symbols = tuple(b.symbol for b in form.bindings)
    key = (form.symbolic, symbols)
    fn = _LAMBDAS.get(key)
    if fn is None:
        fn = sp.lambdify(symbols, form.symbolic, modules="math")
        _LAMBDAS[key] = fn
    return float(fn(*(values[s] for s in symbols)))


def inputs_of(step: Step) -> list[Key]:
    """The keys (of steps or of given numbers) a step substitutes."""
    return [key_of(f.ref, f.target) for f in substituted(step.form)]


def replay(
    solution: Solution, changed: Mapping[Key, float] | None = None, patch: Patch | None = None, *, undefined_as_nan: bool = False
) -> dict[Key, float]:
    """Every step's value after the changes: ``changed`` fixes values (by step id or given
    name); ``patch`` may evaluate any step its own (wrong) way. Steps that depend on
    nothing changed keep the engine's value. With ``undefined_as_nan`` a step that has no
    value in the changed world (log of a negative, 1/0: a mistake's world may leave the
    domain) is NaN, and so is every step it feeds; otherwise the error is raised."""
    values: dict[str, float] = dict(changed or {})
    fixed = set(values)
    for step in solution.all_steps():
        if step.id in fixed:
            continue
        inputs = Inputs(values)
        try:
            patched = patch(step, inputs) if patch is not None else None
            if patched is not None:
                values[step.id] = patched
            elif any(k in values for k in inputs_of(step)):
                values[step.id] = evaluate(step, inputs)
        except (ValueError, ZeroDivisionError, OverflowError):
            if not undefined_as_nan:
                raise
            values[step.id] = math.nan
    return values


# ---------------------------------------------------------------------------
# Exact decimal arithmetic: where a rounding tie is decided
# ---------------------------------------------------------------------------

#: how far up the steps an exact evaluation goes before it gives up (None: not exact)
EXACT_DEPTH = 60
_PRECISION = Context(prec=60)


def _decimal_of(value: float) -> Decimal:
    """A given number as the problem file wrote it (the shortest decimal of the float)."""
    return Decimal(repr(float(value)))


def _rational_decimal(value: sp.Rational) -> Decimal:
    with localcontext(_PRECISION):
        return Decimal(int(value.p)) / Decimal(int(value.q))


def exact_value(solution: Solution, step: Step, fixed: Mapping[Key, Decimal] | None = None) -> Decimal | None:
    """A step's value in exact decimal arithmetic, from ``fixed`` decimals (a claimant's numbers,
    by step id), the given numbers as written, and the steps above computed exactly the same
    way; None where a form is not rational (exp, log, tanh) at these inputs."""
    memo: dict[Key, Decimal | None] = {}
    fixed = fixed or {}

    def value_of(ref: Key | None, target: Key, given: float, depth: int) -> Decimal | None:
        key = key_of(ref, target)
        if key in fixed:
            return fixed[key]
        if ref is None or ref not in solution.index:
            return _decimal_of(given)
        return of_step(solution.index[ref], depth + 1)

    def of_step(current: Step, depth: int) -> Decimal | None:
        if current.id in memo:
            return memo[current.id]
        if depth > EXACT_DEPTH:
            return None
        result = _exact_form(current.form, lambda f: value_of(f.ref, f.target, f.value, depth))
        memo[current.id] = result
        return result

    return of_step(step, 0)


def _exact_form(form, value) -> Decimal | None:
    with localcontext(_PRECISION):
        if isinstance(form, Affine):
            parts = [(value(w), value(a)) for w, a in form.terms]
            bias = value(form.bias) if form.bias is not None else Decimal(0)
            if bias is None or any(w is None or a is None for w, a in parts):
                return None
            return sum((w * a for w, a in parts), Decimal(0)) + bias
        if isinstance(form, Chain):
            factors = [value(f) for f in form.factors]
            return None if any(f is None for f in factors) else math.prod(factors, start=Decimal(1))
        if isinstance(form, Sum):
            def total(terms) -> Decimal | None:
                products = [math.prod((value(f) for f in t.factors), start=Decimal(1)) if all(value(f) is not None for f in t.factors) else None for t in terms]
                return None if any(p is None for p in products) else sum(products, Decimal(0))
            main, extra = total(form.terms), total(form.extra)
            if main is None or extra is None:
                return None
            return (main * _decimal_of(form.scale) if form.scale is not None else main) + extra
        if isinstance(form, Update):
            old, gradient = value(form.parameter), value(form.gradient)
            return None if old is None or gradient is None else old - _decimal_of(form.rate) * gradient
        if isinstance(form, Expression):
            values = {b.symbol: value(b) for b in form.bindings}
            if any(v is None for v in values.values()):
                return None
            result = form.symbolic.xreplace({s: sp.Rational(str(v)) for s, v in values.items()})
            return _rational_decimal(result) if isinstance(result, sp.Rational) else None
    return None
