"""Branch decisions as a hand calculation makes them: in exact arithmetic from the file's decimals.

A ReLU at ``z = 0.1·1 + 0.2·1 − 0.3`` is at its kink: a student computes z = 0 and takes the
convention relu'(0) = 0. Double precision computes 5.55e−17 and would take the slope 1. A
max-pooling window holding ``0.3 + 0.4`` and ``0.7`` holds a tie; doubles see 0.7000000000000001
against 0.7 and route the gradient to the second. This module makes those decisions — and the
values a cancellation leaves at exactly 0 — the way the hand calculation does:

* every number of the problem is the decimal it is written with: the shortest decimal that
  reads back as its double (``0.1`` is 1/10, not 0.1000000000000000055…); a later step's
  parameters are the doubles the update produced, read the same way;
* a node's exact value is its operation's own SymPy equation over its arguments' exact values
  (:class:`Exact`, on demand, only for the nodes a decision needs);
* a branch (a Heaviside step, a sign, a max or min, a piecewise case, a comparison) is decided
  by the exact sign of its deciding quantity (:func:`sign`: a rational is exact; past a
  transcendental function (σ, tanh, exp, log) a node's value is carried to 80 digits. A
  cancellation of carried digits is settled to an exact 0 where it happens, relative to what
  cancelled: a sum below 10⁻⁵⁰ of its largest term, a function with a root away from 0 (sin,
  cos, tan, cot, log, acos) of a carried argument u below 10⁻⁵⁰·|u·f′(u)| (sin π in 80 digits),
  a difference deciding a tie below 10⁻⁵⁰ of the larger side.
  A carried value's own sign is then its sign, however small: |1e−300|/tanh(1) is 1.31e−300,
  not 0 (an absolute floor of 10⁻⁵⁰ called it 0, and a student's 1.31e−300 a mistake).

The engine (:mod:`tracer.core.sweep`) computes in doubles and asks a :class:`Settler` for each
family: the rows whose value lies within rounding of 0 (a sum that may cancel) or whose
deciding quantity lies within rounding of a kink or a tie are recomputed exactly and replaced
by the nearest double of the exact result. A deciding quantity that is *on* its kink as a
double (z = 0.0, two equal maxima) needs no recomputation: every value upstream has been
settled this way, so a 0.0 is an exact 0 and the doubles decide as the decimals do. Elsewhere the
doubles are already what a hand calculation gives to every printed digit, and nothing is
recomputed, so a problem without kinks, ties or cancellations pays one vectorised comparison
per family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from tracer.core.functions import ARG, OUT, Operation, Phi, phi, sigmoid
from tracer.core.graph import Graph

#: digits of the numerical evaluation that decides the sign of an irrational quantity
DIGITS = 60
#: digits a node's value keeps past a transcendental function (an irrational value is carried as
#: a Float of this precision, not as the tree of its ancestors: that tree doubles at every node
#: that reads its argument twice, n = tanh(m·w) + relu(m), and a chain of 60 would never end)
CARRIED = DIGITS + 20
#: a cancellation of carried values that leaves less than this fraction of what cancelled is a 0
#: that DIGITS digits cannot tell from one (relative: a value of 1e−300 is not a cancellation)
ZERO = sp.Float(10) ** (-(DIGITS - 10))


#: a value SymPy's evalf gives to fewer bits than this (30 digits) has no sure digit: it is 0
PRECISE_BITS = 100


def decimal(x: float) -> sp.Rational:
    """The decimal a double is written with, exactly: 0.1 → 1/10, 3 → 3, 1e-30 → 10⁻³⁰ (±inf and nan:
    SymPy's own, which no decision reads as a number)."""
    x = float(x)
    if not math.isfinite(x):
        return sp.oo if x > 0 else -sp.oo if x < 0 else sp.nan
    return sp.Rational(repr(x))


class Beyond(ArithmeticError):
    """An exact value that is not a real number within reach: complex (asin of 51.3, a root of a
    negative number), undefined (1/0, SymPy's zoo and nan), or a power whose binary exponent
    passes ±10⁸ (3.939^(10^308) as an exact rational would never finish; as carried digits its
    exponent alone is fine, but 0.06^(10^7200) is not). No decision can be made from it: the
    doubles stand where it was asked for (:class:`Settler`), and the graph's own checks refuse a
    value that is not a real number (``tracer.layers.equations``)."""


#: a value whose binary exponent is beyond this is beyond exact evaluation (:class:`Beyond`): it is inf
#: as a double, and what it feeds (e^u of it) would take arbitrary precision minutes
MAX_BITS = 10**8
#: a value below 2^(−MIN_BITS) is beyond it too: 0 as a double; one above is carried (3.939^(−10^308)
#: = 2^(−2·10^308) times 10^308 is a gradient of 0, its exponent a 1,024-bit integer), but the
#: exponent of 0.06^(10^7200) alone takes minutes of squarings
MIN_BITS = 2**1100


def _real(value: sp.Basic) -> sp.Basic:
    """``value`` if it is a real number (or a truth value), else :class:`Beyond`."""
    if not isinstance(value, sp.Expr) or value.is_Rational or value.is_Float:
        return value
    if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo, sp.I) or value.is_extended_real is False:
        raise Beyond(value)
    return value


def _power_bits(base: sp.Expr, exponent: sp.Expr) -> float:
    """exponent · log₂|base|: the binary exponent of base^exponent, estimated from the sizes."""
    if base.is_zero or exponent.is_zero:
        return 0.0
    b = mpmath.mpf(base.p) / base.q if base.is_Rational else mpmath.mpf(base._mpf_)
    p = mpmath.mpf(exponent.p) / exponent.q if exponent.is_Rational else mpmath.mpf(exponent._mpf_)
    with mpmath.workdps(15):
        return float(p * mpmath.log(abs(b), 2))


#: an exact rational power whose numerator and denominator together would pass this many bits is taken in
#: CARRIED digits instead: (1 + 2·10⁻¹⁵⁴)^(10¹⁵⁴) is e² ≈ 7.39 (its binary exponent 2.9), but as a fraction its
#: numerator alone has 10¹⁵⁶ digits, and raising it never finished
EXACT_POWER_BITS = 2**16


def _rational_power_bits(base: sp.Rational, exponent: sp.Integer) -> int:
    """The bits of base^exponent's numerator and denominator, written exactly."""
    return abs(int(exponent)) * (abs(int(base.p)).bit_length() + int(base.q).bit_length())


def _power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    """base^exponent of exact (or carried) numbers, exactly where that is cheap, else in CARRIED
    digits; :class:`Beyond` past 2^(±MAX_BITS)."""
    numbers = (base.is_Rational or base.is_Float) and (exponent.is_Rational or exponent.is_Float)
    if not numbers:
        return base**exponent
    if base.is_zero:  # 0^p: 0 for p > 0, 1 for p = 0, a division by zero for p < 0
        if exponent.is_negative:
            raise Beyond(sp.Pow(base, exponent, evaluate=False))
        return sp.Integer(0) if exponent.is_positive else sp.Integer(1)
    bits = _power_bits(base, exponent)
    if not -MIN_BITS <= bits <= MAX_BITS:
        raise Beyond(sp.Pow(base, exponent, evaluate=False))
    if exponent.is_Integer and (base.is_Float or _rational_power_bits(base, exponent) <= EXACT_POWER_BITS):
        return base**exponent
    if base.is_negative and not exponent.is_Integer:
        raise Beyond(sp.Pow(base, exponent, evaluate=False))  # no real value
    with mpmath.workdps(CARRIED):
        b = mpmath.mpf(base.p) / base.q if base.is_Rational else mpmath.mpf(base._mpf_)
        p = mpmath.mpf(exponent.p) / exponent.q if exponent.is_Rational else mpmath.mpf(exponent._mpf_)
        return sp.Float(b**p, CARRIED)


def sign(expr: sp.Expr) -> int:
    """The exact sign of a real number given exactly (−1, 0 or 1).

    A rational is its own answer. Otherwise SymPy evaluates it to :data:`DIGITS` digits with
    guaranteed relative accuracy: a value it can give to 30 digits or more has the sign of those
    digits, however small (e^−700 − e^−701 is 6.2e−305); one it cannot — an exact 0 comes back as
    ``0.e-190`` with 1 bit of precision — is 0. (No simplification: proving a composed derivative 0
    that way took minutes, and with the integers of 1e308 read exactly, SymPy looked for primes.)"""
    expr = sp.sympify(expr)
    if expr.is_Rational:
        return int(sp.sign(expr))
    if expr is sp.nan or (expr.is_Float and expr != expr):  # no number: no sign (no branch can be decided from it)
        raise Beyond(expr)
    if expr.is_Float:  # carried past a transcendental function; a cancellation was settled where it happened
        return 0 if expr == 0 else (1 if expr > 0 else -1)
    if expr.is_zero:
        return 0
    value = expr.evalf(DIGITS)
    if value is sp.nan or value.has(sp.I, sp.zoo):
        raise Beyond(expr)
    if not value.is_Number or value == 0:
        return 0
    if value.is_Float and value._prec < PRECISE_BITS:  # no correct digit: a cancellation to 0
        return 0
    return 1 if value > 0 else -1


def _step(value: int, at_zero: sp.Expr) -> sp.Expr:
    return sp.Integer(1) if value > 0 else sp.Integer(0) if value < 0 else at_zero


def _compare(a: sp.Expr, b: sp.Expr) -> int:
    """The sign of a − b; a carried difference below :data:`ZERO` of the larger side is a tie
    (tanh(1) against 2σ(2) − 1, carried by two routes)."""
    difference = a - b
    if difference.is_Float and difference != 0 and (a.is_Float or b.is_Float):
        if abs(difference) <= ZERO * max(abs(a), abs(b)):
            return 0
    return sign(difference)


def compare(a: sp.Expr, b: sp.Expr) -> int:
    """The exact sign of a − b (−1, 0, 1) of two numbers given exactly or carried: a tie is 0 (a
    carried difference below :data:`ZERO` of the larger side included). Gradient clipping's clamp
    decides by it (:mod:`tracer.core.clipping`)."""
    return _compare(sp.sympify(a), sp.sympify(b))


def _settled(value: sp.Expr, scale: sp.Expr) -> sp.Expr:
    """A carried ``value`` that is below :data:`ZERO` of ``scale`` (what cancelled to it) is an exact 0."""
    if value.is_Float and value != 0 and (scale is sp.oo or abs(value) <= ZERO * abs(scale)):
        return sp.Integer(0)
    return value


#: the functions with a root away from 0, and |u·f′(u)|: how much of a carried argument's relative
#: error reaches f(u) (sin u near π: |π·cos π| = π, so sin of a carried π is 0 below 10⁻⁵⁰·π; near 0
#: sin u ≈ u keeps its own digits, and a function without such a root cancels nothing)
_CONDITION = {
    sp.sin: lambda u: abs(u * mpmath.cos(u)),
    sp.cos: lambda u: abs(u * mpmath.sin(u)),
    sp.tan: lambda u: abs(u) * (1 + mpmath.tan(u) ** 2),
    sp.cot: lambda u: abs(u) * (1 + mpmath.cot(u) ** 2) if u else mpmath.inf,
    sp.log: lambda u: mpmath.mpf(1),
    sp.acos: lambda u: abs(u) / mpmath.sqrt(1 - u**2) if abs(u) < 1 else mpmath.inf,
}


def _extreme(args: list[sp.Expr], larger: bool) -> sp.Expr:
    best = args[0]
    for a in args[1:]:
        s = _compare(a, best)
        if (s > 0) if larger else (s < 0):
            best = a
    return best


def _truth(relation: sp.Basic) -> bool:
    s = _compare(relation.lhs, relation.rhs)
    return {sp.StrictGreaterThan: s > 0, sp.GreaterThan: s >= 0, sp.StrictLessThan: s < 0, sp.LessThan: s <= 0,
            sp.Equality: s == 0, sp.Unequality: s != 0}[type(relation)]


def evaluate(expr: sp.Basic, bindings: dict, memo: dict | None = None) -> sp.Basic:
    """``expr`` with its symbols bound to exact numbers, every branch decided exactly: Heaviside
    (H(0) as the expression says, ½ by default), sign, |u|, max, min, a comparison, a piecewise
    case, and, or. Everything else is SymPy's own evaluation of the exact arguments, kept exact
    while it is rational and carried in :data:`CARRIED` digits once it is not (as a node's value
    is: inside an equation too, ``acos(cos(-10^308))`` is the number, never a tree SymPy tries
    to simplify). A part that is not a real number, or a power beyond 2^(±10⁸), is
    :class:`Beyond`. (A shared subexpression is evaluated once: a composed function's derivative
    repeats its parts.)"""
    if expr in bindings:
        return bindings[expr]
    if expr.is_Atom:
        return expr
    memo = {} if memo is None else memo
    if expr in memo:
        return memo[expr]
    memo[expr] = out = _evaluated_node(expr, bindings, memo)
    return out


def _evaluated_node(expr: sp.Basic, bindings: dict, memo: dict) -> sp.Basic:
    if isinstance(expr, sp.Piecewise):
        for value, condition in expr.args:
            if condition is sp.true or bool(evaluate(condition, bindings, memo)):
                return evaluate(value, bindings, memo)
        return sp.nan
    args = [evaluate(a, bindings, memo) for a in expr.args]
    if isinstance(expr, sp.Heaviside):
        return _step(sign(args[0]), args[1] if len(args) > 1 else sp.Rational(1, 2))
    if isinstance(expr, sp.sign):
        return sp.Integer(sign(args[0]))
    if isinstance(expr, sp.Abs):
        return args[0] * sign(args[0])
    if isinstance(expr, (sp.Max, sp.Min)):
        return _extreme(args, isinstance(expr, sp.Max))
    if isinstance(expr, sp.core.relational.Relational):
        return sp.true if _truth(expr.func(*args, evaluate=False)) else sp.false
    if isinstance(expr, sp.And):
        return sp.true if all(bool(a) for a in args) else sp.false
    if isinstance(expr, sp.Or):
        return sp.true if any(bool(a) for a in args) else sp.false
    if isinstance(expr, sp.Not):
        return sp.false if bool(args[0]) else sp.true
    if expr.is_Pow:
        return carried(_real(_power(args[0], args[1])))
    if isinstance(expr, (sp.exp, sp.sinh, sp.cosh)) and args[0].is_number and abs(args[0]) > MAX_BITS:
        raise Beyond(expr)  # as in _mp
    try:
        value = expr.func(*args)
    except (TypeError, AttributeError, ZeroDivisionError) as err:  # SymPy could not compare or evaluate it
        raise Beyond(expr) from err
    value = carried(_real(value))
    if expr.is_Add and any(a.is_Float for a in args):  # carried terms that cancel: settled here, relative to them
        return _settled(value, max(abs(a) for a in args if a.is_number))
    if type(expr) in _CONDITION and args[0].is_Float:  # sin of a carried π: a cancellation inside the function
        with mpmath.workdps(CARRIED):
            scale = _CONDITION[type(expr)](mpmath.mpf(args[0]._mpf_))
        return _settled(value, sp.Float(scale, CARRIED) if mpmath.isfinite(scale) else sp.oo)
    return value


def carried(expr: sp.Expr) -> sp.Expr:
    """A node's exact value as it is kept: a rational as it is, anything else as a Float of
    :data:`CARRIED` digits (σ(3/10) is 0.574442516811659…, to 80 digits); :class:`Beyond` for
    one that is not a real number."""
    if not isinstance(expr, sp.Expr) or expr.is_Rational or expr.is_Float or not expr.is_number:
        return expr
    try:
        value = expr.evalf(CARRIED)
    except (TypeError, AttributeError, ZeroDivisionError, ValueError) as err:
        raise Beyond(expr) from err
    if value.is_Float and (value == 0 or value._prec < PRECISE_BITS):  # no sure digit: an exact 0 (as sign says)
        return sp.Integer(0)
    if not value.is_Float:
        if value.is_Rational:
            return value
        raise Beyond(expr)
    return sp.Float(value, CARRIED)


def to_float(expr: sp.Expr) -> float:
    """The double nearest an exact number (0 stays exactly 0; ±inf past double precision's range)."""
    if expr.is_Rational:
        return float(expr)
    _real(expr)
    if sign(expr) == 0:
        return 0.0
    return float(expr.evalf(30))


# ---------------------------------------------------------------------------
# A carried value's node, in 80 digits (mpmath: SymPy's own Floats build a tree per node)
# ---------------------------------------------------------------------------

_MP_FUNCTIONS: dict[type, object] = {
    sp.exp: mpmath.exp, sp.log: mpmath.log, sp.tanh: mpmath.tanh, sp.atan: mpmath.atan, sp.sin: mpmath.sin,
    sp.cos: mpmath.cos, sp.tan: mpmath.tan, sp.sinh: mpmath.sinh, sp.cosh: mpmath.cosh, sp.asin: mpmath.asin,
    sp.acos: mpmath.acos, sp.sec: mpmath.sec, sp.csc: mpmath.csc, sp.cot: mpmath.cot,
    sigmoid: lambda u: 1 / (1 + mpmath.exp(-u)), Phi: mpmath.ncdf, phi: mpmath.npdf, sp.erf: mpmath.erf,
}


_MP_ZERO = mpmath.mpf(10) ** (-(DIGITS - 10))


def _mp_sign(v) -> int:
    """A carried value's sign (a cancellation was settled to 0 where it happened: :func:`_mp`)."""
    return (v > 0) - (v < 0)


def _mp_compare(a, b, exact: set) -> int:
    """The sign of a − b: exactly between two exact rationals (1e−300 against 0 is no tie); a
    carried difference below 10⁻⁵⁰ of the larger side is a tie."""
    if a in exact and b in exact:
        return (a > b) - (a < b)
    difference = a - b
    if abs(difference) <= _MP_ZERO * max(abs(a), abs(b)):
        return 0
    return _mp_sign(difference)


def _mp(expr: sp.Basic, bindings: dict, exact: set):
    """``expr`` at mpf arguments, its branches decided as :func:`sign` decides a carried value's.
    ``exact``: the mpf values that are exact rationals (the file's decimals, the equation's
    constants, a sum of them: its sign is right); any other value is carried, and a cancellation
    of carried values is settled to 0 where it happens."""
    if expr in bindings:
        return bindings[expr]
    if expr.is_Number:
        if expr.is_Rational:
            value = mpmath.mpf(expr.p) / expr.q
            exact.add(value)
            return value
        return mpmath.mpf(str(expr))
    if expr is sp.E:
        return mpmath.e
    if expr is sp.pi:
        return mpmath.pi
    if isinstance(expr, sp.Piecewise):
        for value, condition in expr.args:
            if condition is sp.true or _mp(condition, bindings, exact):
                return _mp(value, bindings, exact)
        raise ValueError("no case of the piecewise expression holds")
    if expr is sp.true or expr is sp.false:
        return bool(expr)
    args = [_mp(a, bindings, exact) for a in expr.args]
    if expr.is_Add:
        total = mpmath.fsum(args)
        if all(a in exact for a in args):
            exact.add(total)  # correctly rounded: its sign is the exact sum's
        elif abs(total) <= _MP_ZERO * max(abs(a) for a in args):
            return mpmath.mpf(0)
        return total
    if expr.is_Mul:
        out = mpmath.mpf(1)
        for a in args:
            out *= a
        return out
    if expr.is_Pow:
        base, exponent = args
        if base and exponent and not -MIN_BITS <= exponent * mpmath.log(abs(base), 2) <= MAX_BITS:
            raise Beyond(expr)  # 0.06^(10^7200): its binary exponent alone would take minutes of squarings
        return base**exponent
    if isinstance(expr, (sp.exp, sp.sinh, sp.cosh)) and abs(args[0]) > MAX_BITS:
        raise Beyond(expr)  # e^u beyond 2^(±10⁸): inf or 0 as a double, and its argument's reduction would take minutes
    if isinstance(expr, sp.core.relational.Relational):
        s = _mp_compare(args[0], args[1], exact)
        return {sp.StrictGreaterThan: s > 0, sp.GreaterThan: s >= 0, sp.StrictLessThan: s < 0, sp.LessThan: s <= 0,
                sp.Equality: s == 0, sp.Unequality: s != 0}[type(expr)]
    if isinstance(expr, sp.And):
        return all(args)
    if isinstance(expr, sp.Or):
        return any(args)
    if isinstance(expr, sp.Heaviside):
        s = _mp_sign(args[0])
        return mpmath.mpf(1) if s > 0 else mpmath.mpf(0) if s < 0 else (args[1] if len(args) > 1 else mpmath.mpf(1) / 2)
    if isinstance(expr, sp.sign):
        return mpmath.mpf(_mp_sign(args[0]))
    if isinstance(expr, sp.Abs):
        return abs(args[0])
    if isinstance(expr, (sp.Max, sp.Min)):
        best = args[0]
        for a in args[1:]:
            s = _mp_compare(a, best, exact)
            if (s > 0) if isinstance(expr, sp.Max) else (s < 0):
                best = a
        return best
    value = _MP_FUNCTIONS[type(expr)](*args)
    if type(expr) in _CONDITION and args[0] not in exact:  # sin of a carried π: a cancellation inside the function
        scale = _CONDITION[type(expr)](args[0])
        if not mpmath.isfinite(scale) or abs(value) <= _MP_ZERO * scale:
            return mpmath.mpf(0)
    return value


def _in_digits(equation: sp.Expr, arguments: list[sp.Expr] | dict) -> sp.Expr:
    """A node's value (or local derivative) from arguments one of which is carried (a Float): by
    mpmath, to 80 digits. ``arguments``: in ARG order, or bound by symbol."""
    bindings = arguments if isinstance(arguments, dict) else dict(zip(ARG, arguments))
    with mpmath.workdps(CARRIED):
        values = {k: (mpmath.mpf(a.p) / a.q if a.is_Rational else mpmath.mpf(a._mpf_)) for k, a in bindings.items()}
        exact = {values[k] for k, a in bindings.items() if a.is_Rational}
        try:
            result = _mp(equation, values, exact)
        except (KeyError, ValueError, ZeroDivisionError, TypeError, AttributeError):
            return carried(evaluate(equation, bindings))  # a form mpmath is not told about: SymPy's way
        if isinstance(result, mpmath.mpc) or not mpmath.isfinite(result):
            return carried(evaluate(equation, bindings))
        return sp.Float(result, CARRIED)


# ---------------------------------------------------------------------------
# Exact values of a sweep's nodes, on demand
# ---------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _equation(op: Operation, position: int) -> sp.Expr:
    return op.expression(ARG[: op.arity], position)


@lru_cache(maxsize=None)
def _derivative(op: Operation, wrt: int, position: int) -> sp.Expr:
    return op.textbook(wrt, position)


@dataclass(eq=False)
class Exact:
    """The exact value of any node of one forward sweep (sample by sample), from the leaves'
    decimals through each operation's equation; computed when first asked for, then kept."""

    graph: Graph
    values: np.ndarray  # (S, N): the sweep's doubles (only the leaves are read)
    known: dict[tuple[int, int], sp.Expr] = field(default_factory=dict)

    def value(self, s: int, node: int) -> sp.Expr:
        pending = [node]
        while pending:  # iteratively, arguments first: a chain of 1,000 equations is no recursion
            current = pending[-1]
            if (s, current) in self.known:
                pending.pop()
                continue
            family = self.graph.family_of(current)
            if family.op is None:
                self.known[(s, current)] = decimal(self.values[s, current])
                pending.pop()
                continue
            row = current - family.start
            missing = [int(a) for a in family.args[row] if (s, int(a)) not in self.known]
            if missing:
                pending.extend(missing)
                continue
            pending.pop()
            position = 0 if family.positions is None else int(family.positions[row])
            arguments = [self.known[(s, int(a))] for a in family.args[row]]
            equation = _equation(family.op, position)
            if any(a.is_Float for a in arguments):  # inexact already: 80 digits by mpmath, as a carried value is kept
                self.known[(s, current)] = _in_digits(equation, arguments)
            else:
                self.known[(s, current)] = carried(evaluate(equation, dict(zip(ARG, arguments))))
        return self.known[(s, node)]

    def local(self, s: int, node: int, wrt: int) -> sp.Expr:
        """∂node/∂(its argument ``wrt``), exactly: the printed textbook form, decided exactly."""
        family = self.graph.family_of(node)
        row = node - family.start
        position = 0 if family.positions is None else int(family.positions[row])
        bindings = {ARG[i]: self.value(s, int(a)) for i, a in enumerate(family.args[row])}
        bindings[OUT[position]] = self.value(s, node)
        if family.positions is not None:  # a softmax's −a_m·a_j reads its group's other outputs too
            for other in _group(family, row):
                bindings.setdefault(OUT[int(family.positions[other])], self.value(s, family.start + other))
        if any(v.is_Float for v in bindings.values()):  # inexact already: 80 digits by mpmath
            return _in_digits(_derivative(family.op, wrt, position), bindings)
        return evaluate(_derivative(family.op, wrt, position), bindings)


def _group(family, row: int) -> np.ndarray:
    """The rows of a family of grouped outputs (a softmax's) that share ``row``'s arguments: its group."""
    return np.nonzero(np.all(family.args == family.args[row], axis=1))[0]


# ---------------------------------------------------------------------------
# What the sweep calls
# ---------------------------------------------------------------------------


#: the exact values of the last sweep, kept for the reverse sweep over the same array (the exact value
#: of one node deep in a graph of 1,000 equations reads every node before it: computed once, not twice)
_LAST: list[tuple[np.ndarray, Exact]] = []


def _shared(graph: Graph, values: np.ndarray) -> Exact:
    for kept_values, kept in _LAST:
        if kept_values is values and kept.graph is graph:
            return kept
    made = Exact(graph, values)
    _LAST[:] = [(values, made)]
    return made


def _finite_rows(args: np.ndarray, shape: tuple) -> np.ndarray:
    """Rows (shaped like a family's outputs) whose every argument is finite."""
    with np.errstate(invalid="ignore"):
        return np.broadcast_to(np.all(np.isfinite(args), axis=-1), shape)


class Settler:
    """The exact corrections of one sweep: made (and the exact values computed) only where needed."""

    def __init__(self, graph: Graph, values: np.ndarray):
        self.graph = graph
        self.values = values
        self._exact: Exact | None = None
        #: family start → (S, size) rows where a decision met its kink or tie exactly
        self.met: dict[int, np.ndarray] = {}
        #: sample → node → ∂output/∂node exactly (where a cancelling adjoint asked for it)
        self.adjoints: dict[int, dict[int, sp.Expr]] = {}

    @property
    def exact(self) -> Exact:
        if self._exact is None:
            self._exact = _shared(self.graph, self.values)
        return self._exact

    def values_of(self, family) -> None:
        """Replace the family's values that a cancellation or a kink may have blurred by the
        doubles nearest their exact values."""
        op = family.op
        args = self.values[:, family.args]
        outputs = self.values[:, family.start : family.stop]
        rows = op.near(args, outputs, positions=family.positions)
        if rows is None or not rows.any():
            return
        rows = rows & _finite_rows(args, outputs.shape)  # an overflowed argument (inf) has no decimal: the doubles stand
        if not rows.any():
            return
        for s, k in zip(*np.nonzero(rows)):
            try:
                self.values[s, family.start + k] = to_float(self.exact.value(int(s), family.start + int(k)))
            except Beyond:  # not a real number, or beyond 2^(±10⁸), in decimals: the doubles stand (and are judged)
                continue

    def local_of(self, family, derivative: np.ndarray) -> np.ndarray:
        """``derivative`` (S, size, arity) with the rows near a kink, a tie or a cancellation
        replaced by the exact local derivatives (the printed form, decided exactly)."""
        op = family.op
        args = self.values[:, family.args]
        outputs = self.values[:, family.start : family.stop]
        rows = op.near(args, outputs, derivative, positions=family.positions)
        if rows is not None:
            rows = rows & _finite_rows(args, outputs.shape)
        distance = op.kink_distance(args, positions=family.positions)
        # on a kink or tie as doubles (z = 0.0, two equal maxima): met, and decided by the doubles as by the decimals
        met = np.zeros(outputs.shape, dtype=bool) if distance is None else np.broadcast_to(distance == 0, outputs.shape).copy()
        if rows is not None and rows.any():
            derivative = derivative.copy()
            for s, k in zip(*np.nonzero(rows)):
                node = family.start + int(k)
                try:
                    exact = [to_float(self.exact.local(int(s), node, wrt)) for wrt in range(derivative.shape[-1])]
                    position = 0 if family.positions is None else int(family.positions[int(k)])
                    kink = op.at_kink(self.exact_arguments(int(s), node), sign, evaluate, position=position)
                except Beyond:  # as in values_of: the doubles stand
                    continue
                derivative[s, k] = exact
                met[s, k] = met[s, k] or kink
        if met.any():
            self.met[family.start] = met
        return derivative

    def adjoints_of(self, ids: slice, adjoint: np.ndarray, rows: np.ndarray, bound: np.ndarray, output: int) -> None:
        """Replace the adjoints (∂output/∂node, final) of the nodes ``ids`` at ``rows`` — where their
        sum cancelled beyond what double precision keeps — by the doubles nearest their exact values:
        ∂n5/∂t = t/(2·n5) through n0 plus −t/(2·n5) through n3, ±4.2e7 each, is −1.10685e−5, which the
        doubles keep to an ulp of 4.2e7 (−1.10716e−5). ``bound`` (shaped like the rows): the rounding
        bound of each sum; an exact value farther than a few of them from the double is no correction
        of its rounding but a disagreement of the two passes, and the doubles stand (verification judges)."""
        for s, k in zip(*np.nonzero(rows)):
            node = ids.start + int(k)
            try:
                exact = to_float(self.exact_adjoint(int(s), node, output))
            except Beyond:  # as in values_of: the doubles stand (and are judged)
                continue
            if abs(exact - adjoint[s, node]) <= 4 * bound[s, k]:
                adjoint[s, node] = exact

    def exact_adjoint(self, s: int, node: int, output: int) -> sp.Expr:
        """∂output/∂node of sample ``s`` exactly: Σ over the node's consumers c of ∂output/∂c · ∂c/∂node,
        every factor from the leaves' decimals (the printed local derivatives, decided exactly)."""
        known = self.adjoints.setdefault(s, {output: sp.Integer(1)})
        pending = [node]
        while pending:  # iteratively, consumers first: a chain of 1,000 equations is no recursion
            current = pending[-1]
            if current in known:
                pending.pop()
                continue
            users = self.graph.consumers_of(current)
            missing = [c for c, _ in users if c not in known]
            if missing:
                pending.extend(missing)
                continue
            pending.pop()
            total = sp.Integer(0)
            for c, slot in users:
                if known[c] != 0:
                    total += known[c] * self.exact.local(s, c, slot)
            total = carried(total)
            if not (isinstance(total, sp.Expr) and total.is_number):  # a local form this pass cannot bind: the doubles stand
                raise Beyond(total)
            known[current] = total
        return known[node]

    def exact_arguments(self, s: int, node: int) -> list[sp.Expr]:
        family = self.graph.family_of(node)
        return [self.exact.value(s, int(a)) for a in family.args[node - family.start]]
