"""The ways a student works a step by hand that the engine's one-line forms do not write.

The engine writes a weight's gradient as one chain, ∂loss/∂a2 · ∂a2/∂z2 · ∂z2/∂W2, and a
softmax output as one expression, e^z₁/(e^z₁ + e^z₂ + e^z₃). A student with a calculator and
a sheet of paper works them otherwise, and writes down — rounded — what they compute on the way:

* **the δ form** (Mazur, Nielsen, every course's "error term"): the chain's first factors are a
  quantity already written down, δ = ∂loss/∂z2, and the gradient is that rounded δ times the
  rest, δ · a1. :func:`delta_forms` finds, for every chain step, the longest earlier chain step
  whose factors begin it;
* **sub-expressions written down**: e^z₁, e^z₂, e^z₃ each rounded, their sum rounded, then the
  quotient; 1 + e^(−z) rounded before 1/(…). :func:`worked` evaluates an expression that way,
  every function value, sum and power written down with ``write`` (a rounding), the quotient
  a/b read as one division.

:mod:`tracer.teach.rounding` replays a solution in these ways as well as the engine's, so a
question's tolerance covers the honest hand methods, not only the tool's own. Nothing here
formats; the only arithmetic is the evaluation of the forms the engine wrote down.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import sympy as sp

from tracer.core.solution import Chain, Expression, Factor, Solution, Step
from tracer.keys import Key
from tracer.teach.replay import Inputs, evaluate, key_of

#: ``write(value)``: what the student writes down for a value computed on the way (a rounding)
Write = Callable[[float], float]


def delta_forms(solution: Solution) -> dict[Key, tuple[Key, tuple[Factor, ...]]]:
    """For each chain step worked in δ form: (the earlier chain step its first factors make, the
    remaining factors). ∂loss/∂W2[1,1] = ∂loss/∂a2[1] · ∂a2[1]/∂z2[1] · ∂z2[1]/∂W2[1,1] →
    (∂loss/∂z2[1], (∂z2[1]/∂W2[1,1],)): δ₂ · a1."""
    written: dict[tuple[Key, ...], Key] = {}
    out: dict[Key, tuple[Key, tuple[Factor, ...]]] = {}
    for step in solution.all_steps():
        form = step.form
        if not isinstance(form, Chain):
            continue
        factors = tuple(key_of(f.ref, f.target) for f in form.factors)
        for k in range(len(factors) - 1, 1, -1):  # a prefix of one factor is that factor itself
            earlier = written.get(factors[:k])
            if earlier is not None:
                out[step.id] = (earlier, form.factors[k:])
                break
        written.setdefault(factors, step.id)
    return out


def by_hand(step: Step, inputs: Inputs, deltas: Mapping[Key, tuple[Key, tuple[Factor, ...]]], write: Write) -> float:
    """The step's value as a hand calculation gets it from ``inputs``: a chain in δ form (from the δ
    as written), an expression with its sub-expressions written down, anything else as the engine."""
    form = step.form
    if step.id in deltas:
        delta, rest = deltas[step.id]
        if delta in inputs.changed:
            return inputs.changed[delta] * math.prod(inputs(f) for f in rest)
    if isinstance(form, Expression):
        values = {b.symbol: inputs.binding(b) for b in form.bindings}
        try:
            return worked(form.symbolic, values, write)
        except Exception:  # noqa: BLE001 — any form the walk cannot take is worked as the engine works it
            pass  # a form the calculator walk does not know (or leaves the domain): the engine's way
    return evaluate(step, inputs)


def worked(expr: sp.Expr, values: Mapping[sp.Symbol, float], write: Write) -> float:
    """``expr`` evaluated node by node, each function value, sum and power that feeds another
    operation written down (``write``) before it is used; a/b is one division. The root is not
    written (the caller rounds the step's value)."""
    return _node(expr, values, write, root=True)


def _node(expr: sp.Expr, values: Mapping[sp.Symbol, float], write: Write, root: bool = False) -> float:
    if expr.is_Symbol:
        return float(values[expr])
    if expr.is_Number:
        return float(expr)
    if isinstance(expr, sp.Mul):
        if root and sum(1 for arg in expr.args if not arg.is_Atom) == 1:
            # −y·ln a: one value times given numbers, written once, as the step's own value
            return math.prod(_node(arg, values, write) for arg in expr.args)
        product = 1.0
        for arg in expr.args:
            if isinstance(arg, sp.Pow) and arg.exp == -1:
                product /= _noted(arg.base, values, write)  # a/b: one division of what is written
            else:
                product *= _noted(arg, values, write)
        return product
    if isinstance(expr, sp.Add):
        return math.fsum(_noted(arg, values, write) for arg in expr.args)
    if isinstance(expr, sp.Pow) or expr.func in _WALKED:
        args = [_noted(arg, values, write) for arg in expr.args]
        return _function(expr.func, len(args))(*args)
    # a piecewise form, a step function, max/min: one value, as the engine computes it
    symbols = tuple(sorted(expr.free_symbols, key=str))
    return float(_whole(expr, symbols)(*(values[x] for x in symbols)))


def _noted(expr: sp.Expr, values: Mapping[sp.Symbol, float], write: Write) -> float:
    """A sub-expression's value as the student writes it down before using it."""
    value = _node(expr, values, write)
    return write(value) if _written(expr) else value


def _written(expr: sp.Expr) -> bool:
    """Does a student write this sub-expression down before using it? A function value (e^z,
    ln a) and a sum of such values (Σ e^z) — not a given number, its negative, or 1 + e^(−z),
    which a calculator carries straight into the division."""
    if expr.func in _WALKED:
        return True
    if isinstance(expr, sp.Add):
        return sum(1 for arg in expr.args if not arg.is_Atom) >= 2
    return False


#: the functions a calculator has a key for: their arguments are worked (and written down) first
_WALKED = frozenset({sp.exp, sp.log, sp.tanh, sp.sinh, sp.cosh, sp.sin, sp.cos, sp.tan, sp.atan, sp.asin, sp.acos, sp.erf})
_FUNCTIONS: dict = {}
_WHOLE: dict = {}


def _whole(expr: sp.Expr, symbols: tuple):
    key = (expr, symbols)
    fn = _WHOLE.get(key)
    if fn is None:
        fn = sp.lambdify(symbols, expr, modules="math")
        _WHOLE[key] = fn
    return fn


def _function(func, arity: int):
    """``func`` of ``arity`` plain floats (exp, log, tanh, Max, a power …), made once."""
    key = (func, arity)
    fn = _FUNCTIONS.get(key)
    if fn is None:
        dummies = sp.symbols(f"u0:{arity}", real=True)
        fn = sp.lambdify(dummies, func(*dummies), modules="math")
        _FUNCTIONS[key] = fn
    return fn
