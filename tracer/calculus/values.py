"""The value of a SymPy expression at a point, in bounded mpmath arithmetic; nothing here formats.

Why not ``sympy.N(expr.xreplace(point))``: substituting numbers makes SymPy evaluate
the whole tree as it rebuilds it (``exp(exp(2^1000))`` recursed until the stack ran
out), and ``evalf`` raises its precision until it is satisfied, which for a tower
``x^x^x^x`` or ``sec(y^1000)`` is never. Here every node is computed once, at a
fixed precision, by mpmath, in an explicit stack (no recursion), and a number beyond
10^±``limit`` (decimal exponent) stops the evaluation at once (:class:`OutOfRange`),
so the work is bounded by the size of the tree.

:func:`value` is one evaluation; :func:`estimate` two, at two precisions, whose
difference bounds the rounding error of the lower one — what lets
:func:`tracer.calculus.derivatives.same_function` tell a disagreement from noise and
:func:`tracer.calculus.derivatives.evaluate` tell a tiny value from a true zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import mpmath
import sympy as sp

from tracer.calculus.budget import check_time

#: decimal exponent beyond which a value counts as out of range while probing
PROBE_LIMIT = 100_000


class Undefined(ArithmeticError):
    """The expression has no value at the point (1/0, log 0, max of a non-real value)."""


class OutOfRange(ArithmeticError):
    """A value on the way is beyond 10^±limit: too large (or small) to be worth computing."""


class Unsupported(TypeError):
    """A node this evaluator does not know (a SymPy function outside the tool's vocabulary)."""


Number = mpmath.mpf | mpmath.mpc


def _real(ctx: mpmath.MPContext, v) -> mpmath.mpf:
    """``v`` as a real number (an imaginary part within rounding of 0 dropped), or Undefined
    (a comparison of a non-real value)."""
    if isinstance(v, ctx.mpc):
        if abs(v.imag) > _zero_tolerance(ctx) * (1 + abs(v.real)):
            raise Undefined("not real")
        return v.real
    return v


def _zero_tolerance(ctx: mpmath.MPContext):
    """Below this, an argument of a kink (max, |·|, H, sign) is 0 up to rounding."""
    return ctx.mpf(10) ** (-(3 * ctx.dps) // 4)


def _heaviside(ctx, u, h0=None):
    u = _real(ctx, u)
    if abs(u) <= _zero_tolerance(ctx):
        return ctx.mpf(0.5) if h0 is None else _real(ctx, h0)
    return ctx.mpf(1) if u > 0 else ctx.mpf(0)


def _sign(ctx, u):
    if abs(u) <= _zero_tolerance(ctx):
        return ctx.mpf(0)
    if isinstance(u, ctx.mpc) and u.imag != 0:
        return u / abs(u)  # SymPy's sign of a complex number
    u = _real(ctx, u)
    return ctx.mpf(1) if u > 0 else ctx.mpf(-1)


def _extreme(pick: Callable) -> Callable:
    def fn(ctx, *args):
        return pick(_real(ctx, a) for a in args)

    return fn


def _div(ctx, a, b):
    if b == 0:
        raise Undefined("division by zero")
    return a / b


def _log(ctx, u, base=None):
    if u == 0 or (base is not None and (base == 0 or base == 1)):
        raise Undefined("log of 0")
    return ctx.log(u) if base is None else ctx.log(u) / ctx.log(base)


def _bounded_exp(ctx, u, limit: int):
    if _real_part(ctx, u) > 2.31 * limit:  # e^(2.31·limit) > 10^limit: do not compute it
        raise OutOfRange("exp")
    return ctx.exp(u)


def _real_part(ctx, u):
    return u.real if isinstance(u, ctx.mpc) else u


def _hyperbolic(name: str) -> Callable:
    def fn(ctx, u, limit):
        if abs(_real_part(ctx, u)) > 2.31 * limit:
            raise OutOfRange(name)
        return getattr(ctx, name)(u)

    return fn


#: one mpmath function per SymPy function class; those marked with ``limit`` take it
_FUNCTIONS: dict[type, Callable] = {
    sp.log: _log,
    sp.sin: lambda ctx, u: ctx.sin(u),
    sp.cos: lambda ctx, u: ctx.cos(u),
    sp.tan: lambda ctx, u: ctx.tan(u),
    sp.sec: lambda ctx, u: _div(ctx, 1, ctx.cos(u)),
    sp.csc: lambda ctx, u: _div(ctx, 1, ctx.sin(u)),
    sp.cot: lambda ctx, u: _div(ctx, ctx.cos(u), ctx.sin(u)),
    sp.asin: lambda ctx, u: ctx.asin(u),
    sp.acos: lambda ctx, u: ctx.acos(u),
    sp.atan: lambda ctx, u: ctx.atan(u),
    sp.acot: lambda ctx, u: ctx.acot(u),
    sp.tanh: lambda ctx, u: ctx.tanh(u),
    sp.coth: lambda ctx, u: _div(ctx, 1, ctx.tanh(u)),
    sp.asinh: lambda ctx, u: ctx.asinh(u),
    sp.acosh: lambda ctx, u: ctx.acosh(u),
    sp.atanh: lambda ctx, u: ctx.atanh(u),
    sp.Abs: lambda ctx, u: abs(u),
    sp.sign: _sign,
    sp.Heaviside: _heaviside,
    sp.Max: _extreme(max),
    sp.Min: _extreme(min),
    sp.re: lambda ctx, u: _real_part(ctx, u),
    sp.im: lambda ctx, u: u.imag if isinstance(u, ctx.mpc) else ctx.mpf(0),
    sp.arg: lambda ctx, u: ctx.arg(u),
    sp.conjugate: lambda ctx, u: ctx.conj(u),
    sp.atan2: lambda ctx, y, x: ctx.atan2(_real(ctx, y), _real(ctx, x)),
}
_LIMITED: dict[type, Callable] = {sp.exp: _bounded_exp, sp.sinh: _hyperbolic("sinh"), sp.cosh: _hyperbolic("cosh")}


def _power(ctx, base, exponent, limit: int):
    if base == 0:
        if _real_part(ctx, exponent) > 0:
            return ctx.mpf(0)
        if exponent == 0:
            return ctx.mpf(1)  # SymPy's 0^0 = 1
        raise Undefined("0 to a power that is not positive")
    size = (exponent * ctx.log(abs(base))).real if isinstance(exponent, ctx.mpc) else exponent * ctx.log(abs(base))
    if abs(size) > 2.31 * limit:  # |base^exponent| beyond 10^±limit (up to a factor e^(π·|Im exponent|))
        raise OutOfRange("power")
    if isinstance(exponent, ctx.mpf) and exponent == ctx.floor(exponent):
        return base ** int(exponent)  # by repeated squaring, and real for a negative base
    return ctx.power(base, exponent)


def _leaf(ctx, node: sp.Basic, point: Mapping[sp.Symbol, object]):
    if node.is_Symbol:
        if node not in point:
            raise ValueError(f"no value for {node.name}")
        given = point[node]
        if isinstance(given, sp.Basic) and given.args:  # a constant expression given as the value (pi/2)
            return value(given, {}, ctx.dps)
        return given if isinstance(given, (ctx.mpf, ctx.mpc)) else _number(ctx, given)
    return _number(ctx, node)


def _number(ctx, node):
    if isinstance(node, (int, float)):
        return ctx.mpf(node)
    if isinstance(node, (mpmath.mpf, mpmath.mpc)):
        return ctx.mpmathify(node)
    if node.is_Integer:
        return ctx.mpf(int(node))
    if node.is_Rational:
        return ctx.mpf(int(node.p)) / int(node.q)
    if node.is_Float:
        return ctx.make_mpf(node._mpf_)
    if node is sp.I:
        return ctx.mpc(0, 1)
    if node in (sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise Undefined(str(node))
    if node.is_NumberSymbol:
        return ctx.make_mpf(node._as_mpf_val(ctx.prec + 10))
    raise Unsupported(type(node).__name__)


_CONTEXTS: dict[int, mpmath.MPContext] = {}


def _context(dps: int) -> mpmath.MPContext:
    """One mpmath context per precision, never changed once made (so shared safely between
    threads); values from one context are only ever combined with values from the same."""
    ctx = _CONTEXTS.get(dps)
    if ctx is None:
        ctx = mpmath.MPContext()
        ctx.dps = dps
        ctx = _CONTEXTS.setdefault(dps, ctx)
    return ctx


def value(expr: sp.Expr, point: Mapping[sp.Symbol, object], dps: int, limit: int = PROBE_LIMIT,
          memo: dict | None = None) -> Number:
    """``expr`` at ``point`` with ``dps`` digits; raises Undefined, OutOfRange or Unsupported.

    ``memo`` (a dict kept by the caller for one point and one precision) shares the
    values of common subexpressions between calls: the two forms compared by
    ``same_function`` have most of their nodes in common.
    """
    ctx = _context(dps)
    memo = {} if memo is None else memo
    huge = ctx.mpf(10) ** limit
    tiny = 1 / huge
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    steps = 0
    while stack:
        node, ready = stack.pop()
        if node in memo:
            continue
        if not ready and node.args and not node.is_Number:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in memo)
            continue
        steps += 1
        if steps % 256 == 0:
            check_time()
        result = _node(ctx, node, point, memo, limit)
        if node.is_Add and _cancelled(ctx, result, [memo[a] for a in node.args]):
            memo.setdefault(CANCELLED, set()).add(node)
        magnitude = abs(result)
        if not ctx.isfinite(result):
            raise Undefined("not finite")
        if magnitude > huge or (magnitude != 0 and magnitude < tiny):
            raise OutOfRange(type(node).__name__)
        memo[node] = result
    return memo[expr]


#: the memo's entry of the sums that cancelled (to within a few units of their precision) there
CANCELLED = "cancelled sums"


def _cancelled(ctx, total, terms: list) -> bool:
    """Did a sum cancel to within a few units of its precision (of its largest term)? Then its value is
    rounding, at any number of digits that cancels it as completely (1 − σ(u) at u = 700 is 0 at 40
    and at 80 digits, where it is 1e−304): the two precisions' difference says nothing of its error."""
    largest = max((abs(t) for t in terms), default=0)
    return bool(largest) and abs(total) <= largest * ctx.mpf(10) ** (5 - ctx.dps)


def _node(ctx, node, point, memo, limit):
    if not node.args or node.is_Number:
        return _leaf(ctx, node, point)
    args = [memo[a] for a in node.args]
    try:
        if node.is_Add:
            return ctx.fsum(args)
        if node.is_Mul:
            out = args[0]
            for a in args[1:]:
                out = out * a
            return out
        if node.is_Pow:
            return _power(ctx, args[0], args[1], limit)
        kind = type(node)
        if kind in _LIMITED:
            return _LIMITED[kind](ctx, *args, limit)
        if kind in _FUNCTIONS:
            return _FUNCTIONS[kind](ctx, *args)
        if isinstance(node, sp.Function) and not isinstance(node, sp.core.function.AppliedUndef):
            return _by_sympy(ctx, node, args)
    except ZeroDivisionError:
        raise Undefined("division by zero") from None
    except (ValueError, OverflowError) as err:
        raise Undefined(str(err)) from None
    raise Unsupported(type(node).__name__)


def _by_sympy(ctx, node: sp.Function, args: list):
    """A function outside the table: SymPy's evalf of it at these (already computed) arguments."""
    check_time()
    numbers = [sp.Float(a.real, ctx.dps) + sp.I * sp.Float(a.imag, ctx.dps) if isinstance(a, ctx.mpc) else sp.Float(a, ctx.dps) for a in args]
    result = node.func(*numbers).evalf(ctx.dps)
    if not result.is_number or result.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise Undefined(type(node).__name__)
    re_, im_ = result.as_real_imag()
    if not (re_.is_Number and im_.is_Number):
        raise Unsupported(type(node).__name__)  # SymPy could not decide it there
    return ctx.mpc(_number(ctx, re_), _number(ctx, im_)) if im_ != 0 else _number(ctx, re_)


@dataclass(frozen=True)
class Estimate:
    """A value and a bound on its rounding error (the difference of two precisions)."""

    value: Number
    error: mpmath.mpf

    @property
    def magnitude(self):
        return abs(self.value)

    @property
    def imag(self):
        return abs(self.value.imag) if hasattr(self.value, "imag") else 0

    @property
    def real(self):
        return self.value.real if hasattr(self.value, "real") else self.value


#: the two precisions of an estimate (digits): the lower one's error is measured by the higher
LOW_DIGITS, HIGH_DIGITS = 40, 80


def estimate(expr: sp.Expr, point: Mapping[sp.Symbol, object], memos: tuple[dict, dict] | None = None,
             limit: int = PROBE_LIMIT, digits: tuple[int, int] = (LOW_DIGITS, HIGH_DIGITS)) -> Estimate:
    """``expr`` at ``point`` at two precisions: the higher value, and |high − low| as its error bound
    — infinite where a sum inside it cancels to within a few units of the higher precision (both
    precisions may round it to the same 0).

    Undefined (or out of range) at the higher precision raises; at the lower one only, the
    error is infinite: 1 − tanh(80)² is exactly 0 at 30 digits, and its log undefined there.
    """
    memos = memos or ({}, {})
    high = value(expr, point, digits[1], limit, memos[1])
    try:
        low = value(expr, point, digits[0], limit, memos[0])
    except (Undefined, OutOfRange):
        return Estimate(high, mpmath.inf)
    if any(expr.has(total) for total in memos[1].get(CANCELLED, ())):  # a sum inside cancelled at the higher precision too
        return Estimate(high, mpmath.inf)
    return Estimate(high, abs(high - low))
