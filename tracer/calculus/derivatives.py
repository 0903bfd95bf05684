"""Derivatives rule by rule, and gradient descent — as data; nothing here formats.

:func:`derive` differentiates an expression the way source 001's chain-rule pages
do: it names the rule that applies to the outermost operation (sum, constant
multiple, power, product, quotient, chain with its outer and inner function,
exp/log/trig/hyperbolic), applies it, and recurses into the pieces. The result is
a tree of :class:`RuleStep` s whose root's ``result`` is the derivative as the
rules assembled it; :class:`Derivation` adds the simplified form and *checks it
against* ``sympy.diff`` — a derivation that disagrees with SymPy raises
:class:`DerivationMismatch` instead of being shown.

:func:`multivariable_chain` is source 004 §7.6's form (``dz/dt = ∂z/∂x·dx/dt +
∂z/∂y·dy/dt``); :func:`derive_sigmoid`, :func:`derive_tanh` and
:func:`derive_softmax` end in the textbook forms σ(1−σ), 1−tanh², p_i(δ_ij − p_j)
(source 004 §7.3, §7.4.2) and are what ``solve --detail full`` reuses.

:func:`descend` runs gradient descent on an expression: the gradient is derived
once (``sympy.diff``) and compiled into plain-float closures (no ``lambdify``, no
``exec``), then iterated; a run that overflows or keeps growing is flagged.
"""

from __future__ import annotations

import dataclasses
import math
import random
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Sequence

import mpmath
import sympy as sp

from tracer.calculus import values
from tracer.calculus.budget import WorkLimitExceeded, check_time, time_limit
from tracer.calculus.expression import ExpressionError, Program

# Rule names (what the renderer prints, and what JSON's "rule" holds).
CONSTANT = "constant"
VARIABLE = "variable"
SUM = "sum"
CONSTANT_MULTIPLE = "constant multiple"
POWER = "power"
PRODUCT = "product"
QUOTIENT = "quotient"
CHAIN = "chain"
EXPONENTIAL = "exponential"  # a^x
GENERAL_POWER = "general power"  # f(x)^g(x)
MULTIVARIABLE_CHAIN = "multivariable chain"
SUBSTITUTION = "substitution"
ALGEBRA = "algebra"
FROM_TABLE = "derivative"  # a function SymPy knows and this module has no rule for

#: simplification tries SymPy's ``simplify`` only below this size (it is slow and
#: sometimes trades e^x for cosh; the candidates are compared by size anyway)
SIMPLIFY_MAX_OPS = 30


class DerivationMismatch(AssertionError):
    """The rules produced something SymPy does not agree with: a bug, never shown to a user."""


# ---------------------------------------------------------------------------
# The data
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleStep:
    """One application of a rule: ``d/d(wrt) expression = result``.

    ``combination`` is the middle layer (handcalcs' "substituted"): an unevaluated
    expression showing how the substeps' results combine, e.g. ``3(2x²−1)² · 4x``
    for a chain rule, before SymPy multiplies it out into ``result``.
    ``parts`` names the pieces a rule needs: ``("outer", u³)``, ``("inner", 2x²−1)``,
    ``("u", u)`` for a chain; ``("constant", 2)`` for a constant multiple;
    ``("n", 3)`` for a power; ``("x", 2t+1)`` for a multivariable chain's definitions.
    """

    rule: str
    expression: sp.Expr
    wrt: sp.Symbol
    result: sp.Expr
    combination: sp.Expr | None = None
    parts: tuple[tuple[str | sp.Expr, sp.Expr], ...] = ()  # a role name, or a symbol and what it stands for
    substeps: tuple["RuleStep", ...] = ()
    partial: bool = False  # ∂ rather than d (other variables held constant)
    note: str | None = None  # words only (e.g. "does not depend on w")
    shown: sp.Expr | None = None  # ``expression`` as the user typed it (unevaluated), where it is a part of it

    def part(self, role: str) -> sp.Expr | None:
        for name, value in self.parts:
            if name == role:
                return value
        return None

    def walk(self, depth: int = 0) -> Iterator[tuple[int, "RuleStep"]]:
        """Pre-order: a rule, then the derivations it needs (as the texts read)."""
        yield depth, self
        for sub in self.substeps:
            yield from sub.walk(depth + 1)


@dataclass(frozen=True)
class Derivation:
    """A derivative with its rule-by-rule derivation, checked against ``sympy.diff``."""

    function: sp.Expr  # what was differentiated (for a multivariable chain: the outer function)
    wrt: sp.Symbol
    root: RuleStep
    # The simplified derivative, in the form it is shown: it may hold a number outside a
    # sum unevaluated (8·(x + 2), which SymPy would multiply out to 8x + 16), so compare
    # it with `same_function` or `sympy.simplify`, not `==`.
    result: sp.Expr
    reference: sp.Expr  # sympy.diff of the fully substituted function: what result was checked against
    name: str | None = None  # the function's name (``L`` in ``L = x w^2 + b^2``)
    partial: bool = False
    rewrites: tuple[RuleStep, ...] = ()  # algebra after the rules, in order (to σ(1 − σ), to the substituted form)
    textbook: sp.Expr | None = None  # the final textbook form, when it differs from ``result``
    definitions: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()  # what the symbols of ``textbook``/``rewrites`` stand for
    variables: tuple[sp.Symbol, ...] = ()  # the function's variables in the order the user wrote them
    written: sp.Expr | None = None  # the function as the user typed it (unevaluated: x·w² + b², not b² + w²·x)

    @property
    def raw(self) -> sp.Expr:
        return self.root.result

    def steps(self) -> Iterator[tuple[int, RuleStep]]:
        yield from self.root.walk()
        for rewrite in self.rewrites:
            yield 0, rewrite

    def value_at(self, point: Mapping[sp.Symbol, sp.Expr | float]) -> complex | float | None:
        return evaluate(self.result, point)


# ---------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------

U_NAMES = ("u", "v", "g", "h", "q", "s")


def _fresh(expr: sp.Expr, wrt: sp.Symbol) -> sp.Symbol:
    """The inner function's name for a chain rule: ``u`` unless the expression uses it."""
    taken = {s.name for s in expr.free_symbols} | {wrt.name}
    for name in U_NAMES:
        if name not in taken:
            return sp.Symbol(name, real=True)
    k = 1
    while f"u{k}" in taken:
        k += 1
    return sp.Symbol(f"u{k}", real=True)


def _tidy(expr: sp.Expr) -> sp.Expr:
    """Undo SymPy's automatic ``2(x + 2) → 2x + 4``: keep a common number outside a sum.

    Only for display; the value is unchanged (``2·(x + 2)`` is held unevaluated).
    """
    if expr.is_Add:
        content, primitive = expr.as_content_primitive()
        if content != 1 and primitive.is_Add:
            return sp.Mul(content, primitive, evaluate=False)
    return expr


def _tidy_product(expr: sp.Expr) -> sp.Expr:
    """A product with its numbers gathered in front: 4(x + 2)(4(x + 2)² − 2) → 8(x + 2)(2(x + 2)² − 1)."""
    return _normal_sign(sp.factor_terms(expr)) if expr.is_Mul else _tidy(expr)


def _normal_sign(expr: sp.Expr) -> sp.Expr:
    """−2w(−b − wx + y) → 2w(b + wx − y): a negative coefficient absorbed by a sum factor."""
    if not expr.is_Mul:
        return expr
    coeff, factors = expr.as_coeff_mul()
    if coeff >= 0:
        return expr
    for k, f in enumerate(factors):
        if f.is_Add and f.could_extract_minus_sign():
            flipped = list(factors)
            flipped[k] = -f
            return sp.Mul(-coeff, *flipped)
    return expr


def _unevaluated_mul(*factors: sp.Expr) -> sp.Expr:
    factors = tuple(f for f in factors if f != 1) or (sp.Integer(1),)
    return factors[0] if len(factors) == 1 else sp.Mul(*factors, evaluate=False)


#: f'(u) for the functions a rule is named after: the table of source 004 §7.2.1 and 001
_TABLE: dict[type, tuple[str, Callable[[sp.Expr], sp.Expr]]] = {
    sp.exp: ("exp", lambda u: sp.exp(u)),
    sp.log: ("log", lambda u: 1 / u),
    sp.sin: ("sin", lambda u: sp.cos(u)),
    sp.cos: ("cos", lambda u: -sp.sin(u)),
    sp.tan: ("tan", lambda u: sp.tan(u) ** 2 + 1),
    sp.sec: ("sec", lambda u: sp.tan(u) * sp.sec(u)),
    sp.csc: ("csc", lambda u: -sp.cot(u) * sp.csc(u)),
    sp.cot: ("cot", lambda u: -sp.cot(u) ** 2 - 1),
    sp.asin: ("asin", lambda u: 1 / sp.sqrt(1 - u**2)),
    sp.acos: ("acos", lambda u: -1 / sp.sqrt(1 - u**2)),
    sp.atan: ("atan", lambda u: 1 / (u**2 + 1)),
    sp.sinh: ("sinh", lambda u: sp.cosh(u)),
    sp.cosh: ("cosh", lambda u: sp.sinh(u)),
    sp.tanh: ("tanh", lambda u: 1 - sp.tanh(u) ** 2),
    sp.Abs: ("abs", lambda u: sp.sign(u)),
}


def _is_reciprocal(factor: sp.Expr) -> bool:
    return factor.is_Pow and factor.exp.is_Number and factor.exp < 0


def rule_step(expr: sp.Expr, wrt: sp.Symbol, partial: bool = False) -> RuleStep:
    """The derivation tree of ``d expr / d wrt`` (other symbols are constants)."""
    check_time()
    if not isinstance(expr, sp.Basic):  # a plain number from a caller (never text)
        expr = sp.Rational(expr)
    if not expr.has(wrt):
        note = f"does not depend on {wrt.name}" if expr.free_symbols else None
        return RuleStep(CONSTANT, expr, wrt, sp.Integer(0), partial=partial, note=note)
    if expr == wrt:
        return RuleStep(VARIABLE, expr, wrt, sp.Integer(1), partial=partial)
    if expr.is_Add:
        subs = tuple(rule_step(term, wrt, partial) for term in expr.args)
        nonzero = [s.result for s in subs if s.result != 0]
        combination = sp.Add(*nonzero, evaluate=False) if len(nonzero) > 1 else None
        return RuleStep(SUM, expr, wrt, _tidy(sp.Add(*[s.result for s in subs])), combination, substeps=subs, partial=partial)
    if expr.is_Mul:
        return _mul_step(expr, wrt, partial)
    if expr.is_Pow:
        return _pow_step(expr, wrt, partial)
    if isinstance(expr, sp.Max) and len(expr.args) == 2 and 0 in expr.args:
        inner = expr.args[1] if expr.args[0] == 0 else expr.args[0]
        return _function_step(expr, inner, wrt, partial, "relu", lambda u: sp.Heaviside(u), lambda u: sp.Max(0, u))
    if isinstance(expr, sp.Abs) and expr.args[0].is_extended_real is not True:
        # |u| with u possibly complex (ln x for x < 0): not sign(u)·u'; SymPy's derivative
        return RuleStep(FROM_TABLE, expr, wrt, sp.diff(expr, wrt), partial=partial, note="abs of a possibly complex argument: SymPy's derivative")
    if type(expr) in _TABLE and len(expr.args) == 1:
        name, derivative = _TABLE[type(expr)]
        return _function_step(expr, expr.args[0], wrt, partial, name, derivative, expr.func)
    return RuleStep(FROM_TABLE, expr, wrt, sp.diff(expr, wrt), partial=partial, note=f"{type(expr).__name__}: SymPy's derivative")


def _function_step(expr, inner, wrt, partial, name, derivative, build) -> RuleStep:
    """f(x) by its table entry, or f(g(x)) by the chain rule with outer f and inner g."""
    if inner == wrt:
        return RuleStep(name, expr, wrt, derivative(wrt), partial=partial)
    return _chain(expr, build, inner, wrt, partial)


def _chain(expr: sp.Expr, outer_of: Callable[[sp.Expr], sp.Expr], inner: sp.Expr, wrt: sp.Symbol, partial: bool) -> RuleStep:
    """d/dx g(h(x)) = g'(h(x)) · h'(x): outer g(u), inner u = h(x) (source 001's Outer/Inner)."""
    u = _fresh(expr, wrt)
    outer = outer_of(u)
    outer_step = rule_step(outer, u)
    inner_step = rule_step(inner, wrt, partial)
    outer_at_inner = outer_step.result.xreplace({u: inner})
    with sp.evaluate(False):  # show g'(h(x)) as g' with h substituted, not multiplied out
        shown = outer_step.result.xreplace({u: inner})
    result = _tidy_product(outer_at_inner * inner_step.result)
    return RuleStep(
        CHAIN,
        expr,
        wrt,
        result,
        _unevaluated_mul(shown, inner_step.result),
        parts=(("outer", outer), ("inner", inner), ("u", u)),
        substeps=(outer_step, inner_step),
        partial=partial,
    )


def _mul_step(expr: sp.Expr, wrt: sp.Symbol, partial: bool) -> RuleStep:
    constants = [a for a in expr.args if not a.has(wrt)]
    # in the order the product is printed: sin(x)·cos(x) has left sin(x), though SymPy keeps cos(x) first
    depending = [a for a in expr.as_ordered_factors() if a.has(wrt)]
    if constants:
        c = sp.Mul(*constants)
        g = sp.Mul(*depending)
        inner = rule_step(g, wrt, partial)
        return RuleStep(
            CONSTANT_MULTIPLE,
            expr,
            wrt,
            _tidy_product(c * inner.result),
            _unevaluated_mul(c, inner.result) if inner.result != 1 and c != -1 else None,
            parts=(("constant", c),),
            substeps=(inner,),
            partial=partial,
        )
    numerator = [a for a in depending if not _is_reciprocal(a)]
    denominator = [1 / a for a in depending if _is_reciprocal(a)]
    if numerator and denominator:
        return quotient_step(sp.Mul(*numerator), sp.Mul(*denominator), wrt, partial, expr)
    left, right = depending[0], sp.Mul(*depending[1:])
    ls, rs = rule_step(left, wrt, partial), rule_step(right, wrt, partial)
    result = _tidy(ls.result * right + left * rs.result)
    combination = sp.Add(_unevaluated_mul(ls.result, right), _unevaluated_mul(left, rs.result), evaluate=False)
    return RuleStep(PRODUCT, expr, wrt, result, combination, parts=(("left", left), ("right", right)), substeps=(ls, rs), partial=partial)


def quotient_step(f: sp.Expr, g: sp.Expr, wrt: sp.Symbol, partial: bool = False, expression: sp.Expr | None = None) -> RuleStep:
    """(f/g)' = (f'g − fg')/g² (source 004 §7.2.2)."""
    fs, gs = rule_step(f, wrt, partial), rule_step(g, wrt, partial)
    result = (fs.result * g - f * gs.result) / g**2
    with sp.evaluate(False):
        top = sp.Add(_unevaluated_mul(fs.result, g), sp.Mul(-1, _unevaluated_mul(f, gs.result)))
        combination = sp.Mul(top, sp.Pow(sp.Pow(g, 2), -1))
    return RuleStep(
        QUOTIENT,
        expression if expression is not None else f / g,
        wrt,
        result,
        combination,
        parts=(("numerator", f), ("denominator", g)),
        substeps=(fs, gs),
        partial=partial,
    )


def _pow_step(expr: sp.Expr, wrt: sp.Symbol, partial: bool) -> RuleStep:
    base, exponent = expr.args
    if not exponent.has(wrt):
        if base == wrt:
            return RuleStep(
                POWER,
                expr,
                wrt,
                exponent * wrt ** (exponent - 1),
                _unevaluated_mul(exponent, sp.Pow(wrt, exponent - 1, evaluate=False)) if exponent != 2 else None,
                parts=(("n", exponent),),
                partial=partial,
            )
        return _chain(expr, lambda u: u**exponent, base, wrt, partial)
    if not base.has(wrt):
        if exponent == wrt:
            return RuleStep(EXPONENTIAL, expr, wrt, expr * sp.log(base), _unevaluated_mul(expr, sp.log(base)), parts=(("a", base),), partial=partial)
        return _chain(expr, lambda u: base**u, exponent, wrt, partial)
    # f^g = e^(g ln f): (f^g)' = f^g (g' ln f + g f'/f)
    bs, es = rule_step(base, wrt, partial), rule_step(exponent, wrt, partial)
    result = expr * (es.result * sp.log(base) + exponent * bs.result / base)
    with sp.evaluate(False):
        combination = sp.Mul(expr, sp.Add(sp.Mul(es.result, sp.log(base)), sp.Mul(exponent, bs.result, sp.Pow(base, -1))))
    return RuleStep(GENERAL_POWER, expr, wrt, result, combination, parts=(("base", base), ("exponent", exponent)), substeps=(bs, es), partial=partial)


# ---------------------------------------------------------------------------
# Checking and simplifying
# ---------------------------------------------------------------------------


def _degree_bound(expr: sp.Expr, generators: bool = False) -> float:
    """An upper bound on the polynomial degree of ``expr`` (inf when it is not a polynomial-like tree).

    ``((x + 1)^2 + 1)^2`` nested k times has degree 2^k although every exponent is 2:
    expanding or factoring it is what must be avoided. With ``generators``, anything
    else (``max(0, x − 3)``, ``e^x``, ``√x``) counts as one more variable — the degree of
    ``expr`` as a rational function of those, which is what :func:`sympy.cancel` works with.
    """
    memo: dict = {}

    def bound(e: sp.Expr) -> float:
        if e in memo:
            return memo[e]
        if e.is_Symbol:
            value: float = 1
        elif e.is_number:
            value = 0
        elif e.is_Add:
            value = max(bound(a) for a in e.args)
        elif e.is_Mul:
            value = sum(bound(a) for a in e.args)
        elif e.is_Pow and e.exp.is_Integer:
            value = bound(e.base) * abs(int(e.exp))
        else:
            value = 1 if generators else math.inf
        memo[e] = value
        return value

    return bound(expr)


#: largest degree (bound) that may be expanded or factored
EXPAND_MAX_DEGREE = 12


def _probe_points(symbols: Sequence[sp.Symbol], count: int = 6) -> list[dict]:
    """Fixed, irregular points: ``count`` of mixed sign, then positive, negative and small ones, interleaved.

    The positive ones are where logarithms, roots and real powers of a variable are
    defined, the negative ones where those of −x are (x/max(0, −x), sqrt(−x)), the small
    ones (|v| < 1) where a high power (y^1000) is still a modest number; none is near 0
    or a simple rational (kinks of max/abs sit there). Interleaved, so that the first
    few points already cover every kind.
    """
    rng = random.Random(20240611)
    kinds = [
        lambda: rng.uniform(-2.9, 2.9) + 1 / 7,
        lambda: rng.uniform(0.2, 2.9) + 1 / 7,
        lambda: -rng.uniform(0.2, 2.9) - 1 / 7,
        lambda: rng.choice((-1, 1)) * (rng.uniform(0.2, 0.8) + 1 / 7),
    ]
    return [{s: kind() for s in symbols} for _ in range(count) for kind in kinds]


def _wide_points(symbols: Sequence[sp.Symbol], count: int = 6) -> list[dict]:
    """Further points, of magnitude 3 to 12 and both signs: where ``x/max(0, x − 3)`` is defined."""
    rng = random.Random(20240612)
    return [{s: rng.choice((-1, 1)) * (rng.uniform(3.0, 12.0) + 1 / 7) for s in symbols} for _ in range(3 * count)]


def _dense_points(symbols: Sequence[sp.Symbol]) -> list[dict]:
    """A last batch, tried only when the others gave fewer than three points of evidence: a grid of
    spacing 0.1 over (−3.2, 3.2) and small values of both signs down to 0.003, off every simple
    rational. Where a function is defined on a sliver only (asin(√(2^y·y)) for 0 ≤ y ≤ 0.64), a
    dozen of these fall inside. With several variables, each point takes its coordinates from
    that list at random."""
    line = [-3.2 + 0.1 * k + 0.0137 for k in range(64)]
    line += [sign * 0.3 * 10 ** (-k / 4) * (1 + 1 / 97) for k in range(8) for sign in (1, -1)]
    if len(symbols) == 1:
        return [{symbols[0]: v} for v in line]
    rng = random.Random(20240613)
    return [{s: rng.choice(line) for s in symbols} for _ in range(len(line))]


def _every_point(symbols: Sequence[sp.Symbol]) -> list[dict]:
    """Every probe point, in the order tried: fixed, wide, then dense."""
    return _probe_points(symbols) + _wide_points(symbols) + _dense_points(symbols)


def _numeric(expr: sp.Expr, point: dict) -> values.Estimate | None:
    """The value at ``point`` with its rounding error (:func:`values.estimate`), or None where it has
    none worth comparing: undefined, beyond 10^±100000 on the way, or built of an unknown function."""
    try:
        return values.estimate(expr, point)
    except (values.Undefined, values.OutOfRange, values.Unsupported):
        return None


#: a probe counts as evidence of equality when both values are known to this relative error
PROBE_EVIDENCE = mpmath.mpf("1e-12")
#: agreeing probe points that settle equality (all of the first batch unless this many agree first)
PROBE_ENOUGH = 8


#: the precision pairs (digits) of a probe, tried in turn while a point is too ill-conditioned to
#: tell: 1 − tanh²(80) is 1e−69, all rounding at 40 digits, eleven true digits at 80, fine at 160
PROBE_DIGITS = ((40, 80), (80, 160), (160, 320))


def _branch_at(expr: sp.Expr, point: dict) -> sp.Expr:
    """``expr`` with each piecewise part replaced by its branch at ``point`` (x/|x| for x ≠ 0 of
    ``Piecewise((0, Eq(x, 0)), (x/|x|, True))``): the evaluator reads numbers, not conditions."""
    if not expr.has(sp.Piecewise):
        return expr

    def branch(piecewise: sp.Piecewise) -> sp.Expr:
        for value, condition in piecewise.args:
            decided = condition if condition in (sp.true, sp.false) else condition.subs(point)
            if decided == sp.true:
                return value
            if decided != sp.false:
                raise values.Unsupported("a condition not decided at the point")
        raise values.Undefined("no branch of a piecewise function holds")

    return expr.replace(lambda e: isinstance(e, sp.Piecewise), branch)


def _compare_at(a: sp.Expr, b: sp.Expr, point: dict) -> bool | None:
    """True (equal here, to well within the rounding), False (different beyond any rounding), or
    None (no evidence: undefined here, or too ill-conditioned at this point to tell)."""
    memos: dict[int, dict] = {}  # per precision: a and b share their subexpressions, and so do the pairs
    try:
        a, b = _branch_at(a, point), _branch_at(b, point)
    except (values.Undefined, values.Unsupported):
        return None
    for low, high in PROBE_DIGITS:
        pair = (memos.setdefault(low, {}), memos.setdefault(high, {}))
        try:
            va = values.estimate(a, point, pair, digits=(low, high))
            vb = values.estimate(b, point, pair, digits=(low, high))
        except (values.Undefined, values.OutOfRange, values.Unsupported):
            return None
        scale = max(va.magnitude, vb.magnitude)
        noise = va.error + vb.error
        difference = abs(va.value - vb.value)
        if difference > 100 * noise + scale * mpmath.mpf("1e-30"):
            return False
        if scale == 0 or noise <= PROBE_EVIDENCE * scale:
            return True
        check_time()
    return None


def same_function(a: sp.Expr, b: sp.Expr) -> bool:
    """Are ``a`` and ``b`` the same function? Structurally, at probe points, or algebraically.

    The rules mirror SymPy's, so most derivations agree structurally. Otherwise the two
    are evaluated at fixed irregular points (:func:`values.estimate`: 40 and 80 digits,
    the difference of the two being the rounding error), a difference beyond the
    rounding anywhere being a mismatch and PROBE_ENOUGH points agreeing well within it
    settling equality; at wider points if fewer than three of those were evidence
    (``x/max(0, x − 3)``), then on a dense grid (``asin(√(2^y·y))``, defined for 0 ≤ y ≤ 0.64),
    then with the steps H(u) and sign(u) as variables of their own. Only then is algebra tried, ``expand``/``simplify`` only where
    they cannot blow up, under the time budget (:func:`budget.check_time`).
    """
    if a == b:
        return True
    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    agreeing = 0
    for points in (_probe_points(symbols), _wide_points(symbols), _dense_points(symbols)):  # each only if too few were evidence
        for point in points:
            check_time()
            verdict = _compare_at(a, b, point)
            if verdict is False:
                return False
            if verdict:
                agreeing += 1
                if agreeing >= PROBE_ENOUGH:
                    return True
        if agreeing >= 3:
            return True
    steps = _steps_as_symbols(a, b)
    if steps is not None and same_function(*steps):
        return True
    check_time()
    difference = a - b
    if difference == 0:
        return True
    ops = sp.count_ops(difference)
    if ops < 200 and sp.powsimp(difference) == 0:
        return True  # x^(e^10 − 1)·e^10 and x^(e^10)·e^10/x: too large at every probe, equal as powers
    check_time()
    if ops < 200 and b != 0 and sp.powsimp(a / b) == 1:
        return True  # (c·x)^(e − 1)·c and (c·x)^e/x, c = e^(e^π): e^(−(c·x)^e) is beyond range at every probe
    check_time()
    if ops < 200 and b != 0 and _degree_bound(a / b, generators=True) <= EXPAND_MAX_DEGREE and sp.cancel(a / b) == 1:
        return True  # σ(u)(1 − σ(u))·u′ and e^(−u)·u′/(1 + e^(−u))² with u = (x^π)^x: out of range at every probe
    check_time()
    if ops < 60 and _degree_bound(difference, generators=True) <= EXPAND_MAX_DEGREE:
        if sp.cancel(difference) == 0:
            return True  # x/max(0, x/10 − 1) is undefined at the probes; as a fraction in max(…) it is 0
    check_time()
    if ops < 200 and _degree_bound(difference) <= EXPAND_MAX_DEGREE:
        if sp.expand(difference) == 0:
            return True
        check_time()
        if ops < 40:
            try:
                return sp.simplify(difference) == 0
            except (RecursionError, ValueError, TypeError):  # pragma: no cover - SymPy internals
                return False
    return False


def _steps_as_symbols(a: sp.Expr, b: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """``a`` and ``b`` with each step H(u) and sign(u) a variable of its own, or None if they have none.

    relu(asin((2·y)^e))' is 0 or asin's derivative, by H(asin((2·y)^e)): defined only for
    0 ≤ y ≤ ½, where no probe point need fall, and with a step no algebra can cancel. Two
    derivatives whose steps are pairwise the same functions (compared by :func:`same_function`,
    so H(asin((9 − 3·y)^π)) matches H(asin((3·(3 − y))^π))) are equal when they are equal as
    functions of the steps' values, taken as free variables: then they agree on every branch.
    Steps of ``b`` that match none of ``a``, or steps in only one, leave the question to algebra (None).
    """
    kinds = (sp.Heaviside, sp.sign)
    steps_a = sorted(a.atoms(*kinds), key=sp.default_sort_key)
    steps_b = sorted(b.atoms(*kinds), key=sp.default_sort_key)
    if not steps_a or not steps_b:
        return None
    names = {step: sp.Dummy(f"step{i}", real=True) for i, step in enumerate(steps_a)}
    renamed_b = {}
    for step in steps_b:
        twin = next((s for s in steps_a if type(s) is type(step) and same_function(s.args[0], step.args[0])), None)
        if twin is None:
            return None
        renamed_b[step] = names[twin]
    # nested steps (relu(relu(x))): the outer step's argument holds the inner one; replace as whole atoms
    return a.xreplace(names), b.xreplace(renamed_b)


def _size(expr: sp.Expr) -> tuple[int, int]:
    return (sp.count_ops(expr), len(sp.srepr(expr)))


def simplest(raw: sp.Expr, reference: sp.Expr) -> sp.Expr:
    """The form to show as the result: the rules' own, unless another is clearly shorter.

    Candidates: as the rules built it (with common factors taken out), as
    ``sympy.diff`` built it, and — for small expressions — factored or simplified
    (a ``simplify`` that brings in functions the derivative did not have, like
    cosh for e^x, is not taken). Another form wins only when at most 80 % the size:
    the rules' form is the one the derivation leads to.
    """
    check_time()
    own = min([raw, sp.factor_terms(raw), _normal_sign(sp.factor_terms(raw))], key=_size)
    candidates = [reference, sp.factor_terms(reference)]
    functions = {type(f) for f in raw.atoms(sp.Function)}
    check_time()
    if sp.count_ops(raw) <= SIMPLIFY_MAX_OPS and _degree_bound(raw) <= EXPAND_MAX_DEGREE:
        if raw.is_polynomial() and not raw.atoms(sp.Function):
            candidates.append(sp.factor(raw))
        else:
            simplified = sp.simplify(raw)
            if {type(f) for f in simplified.atoms(sp.Function)} <= functions:
                candidates.append(simplified)
    best = min(candidates, key=_size)
    own_size, best_size = _size(own), _size(best)
    return best if best_size[0] < 0.8 * own_size[0] or (best_size[0] < own_size[0] and best_size[1] < 0.8 * own_size[1]) else own


# ---------------------------------------------------------------------------
# Public derivations
# ---------------------------------------------------------------------------


def _defined_somewhere(reference: sp.Expr, wrt: sp.Symbol) -> None:
    """Refuse (ExpressionError) a derivative that SymPy reduces to ∞ or ∞·0 as a whole: asin(|x|/x),
    whose inner function is ±1, where asin′ is infinite; √(max(0, −√y/3)), which is √0 wherever it
    is defined. The rules' form is then no value at any point either, and nothing can check it."""
    if reference.has(sp.nan, sp.zoo):
        raise ExpressionError(
            f"the derivative with respect to {wrt.name} has no value anywhere: wherever the expression is defined, "
            "a factor of the chain rule is infinite (such as asin′ at ±1 or √′ at 0)")


#: central difference quotients for :func:`_agrees_with_difference_quotients`: a step of 10^-25 at
#: 90 digits leaves a truncation error ~h²·f‴ (10^-50) and a rounding error ~10^-90/h (10^-65)
QUOTIENT_STEP = sp.Rational(1, 10**25)
QUOTIENT_DIGITS = 90


def _agrees_with_difference_quotients(result: sp.Expr, expr: sp.Expr, wrt: sp.Symbol) -> bool:
    """The rules' result against difference quotients of the expression itself, where SymPy's own
    form has no value at any probe point: relu(log(tanh(e^(e − y))))^e is 0^e = 0 for every y, and
    sympy.diff divides by max(0, …), 0 everywhere, while the rules' form is defined (and 0). At
    least three points where both are defined and agree to 1e-10 relative, none disagreeing."""
    symbols = sorted(expr.free_symbols | result.free_symbols, key=lambda s: s.name)
    agreeing = 0
    for point in _probe_points(symbols) + _dense_points(symbols):
        check_time()
        exact = {s: sp.Rational(v) for s, v in point.items()}
        try:
            claimed = values.estimate(result, point)
            up = values.value(expr, {**exact, wrt: exact[wrt] + QUOTIENT_STEP}, QUOTIENT_DIGITS)
            down = values.value(expr, {**exact, wrt: exact[wrt] - QUOTIENT_STEP}, QUOTIENT_DIGITS)
        except (values.Undefined, values.OutOfRange, values.Unsupported):
            continue
        if claimed.imag or getattr(up, "imag", 0) or getattr(down, "imag", 0):
            continue
        if claimed.error > PROBE_EVIDENCE * claimed.magnitude:
            continue  # too ill-conditioned here to be evidence
        quotient = (up - down) / (2 * mpmath.mpf(QUOTIENT_STEP.p) / QUOTIENT_STEP.q)
        scale = max(abs(quotient), claimed.magnitude)
        if abs(quotient - claimed.value) > mpmath.mpf("1e-10") * scale:
            return False
        agreeing += 1
        if agreeing >= PROBE_ENOUGH:
            break
    return agreeing >= 3


def _nowhere_defined(reference: sp.Expr) -> bool:
    """Has ``reference`` no value at any probe point (fixed, wide or dense)?"""
    symbols = sorted(reference.free_symbols, key=lambda s: s.name)
    for point in _every_point(symbols):
        check_time()
        if _numeric(reference, point) is not None:
            return False
    return True


def _checked(derivation_result: sp.Expr, reference: sp.Expr, what: str, expr: sp.Expr | None = None, wrt: sp.Symbol | None = None) -> None:
    """Equal to SymPy's derivative, or — where SymPy's form has no value anywhere the probes go —
    to difference quotients of ``expr`` itself."""
    if same_function(derivation_result, reference):
        return
    if expr is not None and _nowhere_defined(reference) and _agrees_with_difference_quotients(derivation_result, expr, wrt):
        return
    raise DerivationMismatch(f"{what}: rules gave {derivation_result}, sympy.diff gives {reference}")


def derive(expr: sp.Expr, wrt: sp.Symbol, *, name: str | None = None, partial: bool | None = None) -> Derivation:
    """``d expr / d wrt`` rule by rule; the result simplified and checked equal to ``sympy.diff``.

    ``partial`` (default: other variables are present) writes ∂ instead of d.
    """
    if partial is None:
        partial = bool(expr.free_symbols - {wrt})
    root = rule_step(expr, wrt, partial)
    check_time()
    reference = sp.diff(expr, wrt)
    _defined_somewhere(reference, wrt)
    _checked(root.result, reference, f"d/d{wrt.name} {expr}", expr, wrt)
    result = simplest(root.result, reference)
    derivation = Derivation(expr, wrt, root, result, reference, name=name, partial=partial)
    return _textbook_algebra(derivation, expr)


#: the texts' name for the logistic function in a derivative's textbook form
SIGMA = sp.Symbol("sigma", positive=True)


def _textbook_algebra(derivation: Derivation, expr: sp.Expr) -> Derivation:
    """The last steps a textbook takes after the rules, each a checked algebra step:

    * a quotient whose numerator multiplies out shorter is written so:
      ((2x)(x − 1) − (x² + 1))/(x − 1)² = (x² − 2x − 1)/(x − 1)² ("expand the numerator");
    * a derivative of an expression in σ(u) = 1/(1 + e^{−u}) is written in σ where that is
      shorter: (ln σ(x))′ = e^{−x}/(1 + e^{−x}) = 1 − σ ("substitute σ = …")."""
    result = derivation.result
    try:
        check_time()
        numerator, denominator = sp.fraction(result)
        if denominator != 1 and not numerator.is_Atom:
            expanded = sp.expand(numerator)
            if expanded.is_polynomial() and not expanded.atoms(sp.Function) and sp.count_ops(expanded) < sp.count_ops(numerator):
                with sp.evaluate(False):
                    tidy = sp.Mul(expanded, sp.Pow(denominator, -1))
                step = _algebra(result, tidy, derivation.wrt, "expand the numerator")
                return _with_rewrites(derivation, [step], tidy, ())
        sigmoids = {e for e in expr.atoms(sp.Pow) if _logistic_argument(e) is not None}
        if len(sigmoids) == 1:
            (logistic,) = sigmoids
            u = _logistic_argument(logistic)
            in_sigma = result.xreplace({logistic: SIGMA}).subs(sp.exp(-u), (1 - SIGMA) / SIGMA)
            check_time()
            textbook = _positive_lead(sp.factor(sp.simplify(in_sigma)))
            if not textbook.has(sp.exp) and SIGMA in textbook.free_symbols and sp.count_ops(textbook) < sp.count_ops(result):
                step = _algebra(result, textbook, derivation.wrt, "substitute", ((SIGMA, logistic),))
                return _with_rewrites(derivation, [step], textbook, ((SIGMA, logistic),))
    except DerivationMismatch:
        raise
    except (TypeError, ValueError, sp.PolynomialError):
        pass
    return derivation


def _positive_lead(expr: sp.Expr) -> sp.Expr:
    """−2σ(σ − 1) → 2σ(1 − σ): a product's minus taken into a sum factor that then has fewer
    negative terms, written with its positive term first."""
    if not expr.is_Mul:
        return expr
    coeff, factors = expr.as_coeff_mul()
    if coeff >= 0:
        return expr
    for k, f in enumerate(factors):
        if f.is_Add:
            negatives = sum(1 for t in f.args if t.could_extract_minus_sign())
            if negatives * 2 >= len(f.args):
                terms = sorted(sp.Add.make_args(-f), key=lambda t: t.could_extract_minus_sign())
                flipped = list(factors)
                flipped[k] = sp.Add(*terms, evaluate=False)
                return sp.Mul(*([-coeff] if coeff != -1 else []), *flipped, evaluate=False)
    return expr


def _logistic_argument(e: sp.Expr) -> sp.Expr | None:
    """u when ``e`` is 1/(1 + e^{−u}); else None."""
    if e.is_Pow and e.exp == -1 and e.base.is_Add and len(e.base.args) == 2 and sp.Integer(1) in e.base.args:
        other = [a for a in e.base.args if a != 1][0]
        if isinstance(other, sp.exp):
            return -other.args[0]
    return None


def multivariable_chain(
    outer: sp.Expr,
    substitutions: Mapping[sp.Symbol, sp.Expr] | Sequence[tuple[sp.Symbol, sp.Expr]],
    wrt: sp.Symbol,
    *,
    name: str | None = None,
) -> Derivation:
    """``z = f(x, y)``, ``x = g(t)``, ``y = h(t)``: dz/dt = ∂z/∂x·dx/dt + ∂z/∂y·dy/dt (source 004 §7.6).

    A direct dependence of ``f`` on ``t`` adds the term ∂z/∂t. The steps are: one
    partial derivation per intermediate variable, one derivation of each definition,
    the combination in the intermediate variables (``2x·2 + e^y·2t``), then the
    substitution (``2(2t + 1)·2 + e^{t²}·2t``) and the simplified result.
    """
    pairs = tuple(substitutions.items()) if isinstance(substitutions, Mapping) else tuple(substitutions)
    mapping = dict(pairs)
    used = [(v, g) for v, g in pairs if outer.has(v)]
    substeps: list[RuleStep] = []
    terms_symbolic: list[sp.Expr] = []
    terms_evaluated: list[sp.Expr] = []
    for v, g in used:
        outer_partial = rule_step(outer, v, partial=True)
        inner = rule_step(g, wrt, partial=bool(g.free_symbols - {wrt}))
        substeps.extend([outer_partial, inner])
        terms_symbolic.append(_unevaluated_mul(outer_partial.result, inner.result))
        terms_evaluated.append(outer_partial.result * inner.result)
    if outer.has(wrt):
        direct = rule_step(outer, wrt, partial=True)
        substeps.append(direct)
        terms_symbolic.append(direct.result)
        terms_evaluated.append(direct.result)
    combination = sp.Add(*terms_symbolic, evaluate=False) if len(terms_symbolic) > 1 else (terms_symbolic[0] if terms_symbolic else sp.Integer(0))
    in_intermediates = _tidy(sp.Add(*terms_evaluated))
    raw = _tidy(in_intermediates.xreplace(mapping))
    root = RuleStep(
        MULTIVARIABLE_CHAIN,
        outer,
        wrt,
        in_intermediates,
        combination,
        parts=tuple(pairs),
        substeps=tuple(substeps),
        partial=False,
    )
    with sp.evaluate(False):
        substituted = combination.xreplace(mapping)
    substitution = RuleStep(SUBSTITUTION, combination, wrt, substituted, parts=tuple(pairs))
    full = outer.xreplace(mapping)
    check_time()
    reference = sp.diff(full, wrt)
    _defined_somewhere(reference, wrt)
    _checked(raw, reference, f"d/d{wrt.name} {full}", full, wrt)
    result = simplest(raw, reference)
    return Derivation(full, wrt, root, result, reference, name=name, partial=False, rewrites=(substitution,), definitions=pairs)


#: A step-by-step derivation prints every subexpression and its derivative, so its
#: length grows with the square of the nesting (a chain of k functions has k steps,
#: each as long as the chain). Beyond these sizes the derivation is unreadable and
#: slow to build; `tracer diff` refuses it (exit 2) rather than work for minutes.
DERIVE_MAX_DEPTH = 32
DERIVE_MAX_NODES = 300
DERIVE_MAX_FACTORS = 16


@dataclass(frozen=True)
class Size:
    nodes: int  # subexpressions, counted as printed (with repetition)
    depth: int  # longest path from the root to a leaf
    factors: int  # most factors in one product


def expression_size(expr: sp.Expr) -> Size:
    """Measured without recursion (a deep tree must not exhaust the stack while being refused)."""
    nodes = depth = factors = 0
    stack = [(expr, 1)]
    while stack:
        node, level = stack.pop()
        nodes += 1
        depth = max(depth, level)
        if node.is_Mul:
            factors = max(factors, len(node.args))
        stack.extend((arg, level + 1) for arg in node.args)
    return Size(nodes, depth, factors)


def _check_size(expr: sp.Expr, depth: int, nodes: int, factors: int, purpose: str) -> None:
    size = expression_size(expr)
    if size.depth > depth:
        raise ExpressionError(f"expression too deeply nested {purpose} (depth {size.depth}; at most {depth})")
    if size.nodes > nodes:
        raise ExpressionError(f"expression too large {purpose} ({size.nodes} terms and operations; at most {nodes})")
    if size.factors > factors:
        raise ExpressionError(f"product of {size.factors} factors is too long {purpose} (at most {factors})")


def check_derivable(expr: sp.Expr) -> None:
    """Refuse (ExpressionError) an expression too large to derive step by step; see DERIVE_MAX_*."""
    _check_size(expr, DERIVE_MAX_DEPTH, DERIVE_MAX_NODES, DERIVE_MAX_FACTORS, "to derive step by step")


def check_real_somewhere(expr: sp.Expr) -> bool:
    """Refuse (ExpressionError) an expression that is real for no real value of its variables:
    √(−1 − x²), log(−e^x), asin(e^x + 1). Its derivative is complex wherever it exists
    (i·x/√(x² + 1)), which is no answer to a question about real functions. The proof is SymPy's
    (``is_extended_real`` False, for real variables), asked only when no probe point (fixed, wide
    or dense) gave a real value: asin(100·(x − 1)), real on a sliver between the grid's points,
    is one SymPy cannot settle, and it is answered as before. Returns whether a probe point
    gave a real value (or none could be computed with the functions known here)."""
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    for point in _every_point(symbols):
        check_time()
        try:
            found = values.estimate(expr, point)
        except (values.Undefined, values.OutOfRange):
            continue
        except values.Unsupported:
            return True
        if found.imag <= found.error:
            return True
    if expr.is_extended_real is False:
        names = ", ".join(s.name for s in symbols)
        raise ExpressionError(
            f"the expression is not real for any real value of {names}: its derivative would be complex "
            "(a square root or logarithm of a negative number, or asin/acos of a value beyond ±1)")
    return False


def _textbook_activation(expr: sp.Expr, v: sp.Symbol) -> Derivation | None:
    """σ(v) and tanh(v) alone are derived as source 004 §7.3 does, ending in σ(1 − σ) and
    1 − tanh²; anything else (σ(2v), v·σ(v)) by the ordinary rules."""
    if expr == 1 / (1 + sp.exp(-v)):
        return derive_sigmoid(v)
    if expr == sp.tanh(v):
        return derive_tanh(v)
    return None


#: seconds one `derive_program` may take: the size limits above bound what is derived, this
#: bounds how long SymPy may take over it (budget.time_limit; exceeded → WorkLimitExceeded)
DERIVE_SECONDS = 1.5


#: the refusal of a max, relu or abs whose argument is complex for every real value of the variables
NOWHERE_REAL = "relu, max or abs of a value that is not real for any value of the variables has no derivative (its step would need the sign of a complex number)"


@contextmanager
def real_steps() -> Iterator[None]:
    """SymPy's H(u) and sign(u) raise a ValueError for an argument it knows to be complex for every
    real value of the variables (relu(asin(exp(softplus(x + e)))/x), whose asin takes
    e^(x+e) + 1 > 1): that one becomes the refusal NOWHERE_REAL (ExpressionError); any other
    error (a WorkLimitExceeded among them) passes as it is."""
    try:
        yield
    except ValueError as err:
        if "defined only for Real" not in str(err):
            raise
        raise ExpressionError(NOWHERE_REAL) from None


def derive_program(program: Program, wrt: Sequence[str] | None = None, *, seconds: float | None = DERIVE_SECONDS) -> tuple[Derivation, ...]:
    """What ``tracer diff`` computes: one derivation per requested variable.

    Without ``wrt``: every variable of the (substituted) expression, in order of
    first appearance — partial derivatives when there are several. Raises
    :class:`WorkLimitExceeded` after ``seconds`` (None: no limit of its own).
    """
    try:
        with time_limit(seconds, "to differentiate step by step"), real_steps():
            return _derive_program(program, wrt)
    except WorkLimitExceeded:
        # An interrupted assumption query leaves its fact stored as "unknown" on a cached
        # object (sympy.core.assumptions._ask): forget every cached object, so that later
        # derivations in this process are not built on such a half-asked one.
        sp.core.cache.clear_cache()
        raise


def _derive_program(program: Program, wrt: Sequence[str] | None) -> tuple[Derivation, ...]:
    variables = program.free_variables()
    by_name = {v.name: v for v in program.variables}
    defined = {s.name: d for s, d in program.definitions}
    substituted = program.substituted()
    check_derivable(substituted)
    real_somewhere = check_real_somewhere(substituted)
    if wrt:
        targets = []
        for name_ in wrt:
            if name_ in defined and by_name[name_] not in variables:
                # z = −x; x = 10 with respect to x: x is a name for its definition, not a variable
                known = ", ".join(v.name for v in variables) or "none"
                shown = str(defined[name_]) if len(str(defined[name_])) <= 40 else f"{str(defined[name_])[:37]}…"
                raise ExpressionError(f"'{name_}' is defined ({name_} = {shown}), so it is not a variable to differentiate with respect to (variables: {known})")
            if name_ not in by_name or (variables and by_name[name_] not in variables):
                known = ", ".join(v.name for v in variables) or "none"
                raise ExpressionError(f"'{name_}' does not occur in the expression (variables: {known})")
            targets.append(by_name[name_])
    else:
        if not variables:
            raise ExpressionError("the expression has no variable to differentiate with respect to")
        targets = list(variables)
    partial = len(variables) > 1
    out = []
    for v in targets:
        if program.definitions and any(program.expression.has(s) for s, _ in program.definitions):
            derivation = multivariable_chain(program.expression, program.definitions, v, name=program.name)
        elif not partial and (textbook := _textbook_activation(substituted, v)) is not None:
            derivation = textbook  # σ(1 − σ), 1 − tanh² (§7.3)
        else:
            derivation = derive(substituted, v, name=program.name, partial=partial)
        if not real_somewhere and derivation.result.has(sp.I):
            # x·√(−1 − y²): real where x = 0 only, so SymPy cannot call it nowhere real
            raise ExpressionError(
                f"the derivative with respect to {v.name} is not real (it has the imaginary unit i), "
                "and the expression is real at no point tried")
        if program.written is not None and not program.definitions:
            derivation = as_written(derivation, program.written)
        out.append(dataclasses.replace(derivation, variables=variables))
    return tuple(out)


def _evaluated(expr: sp.Expr) -> sp.Expr:
    """An unevaluated tree (as typed) evaluated as SymPy builds it."""
    if not expr.args:
        return expr
    return expr.func(*[_evaluated(a) for a in expr.args])


def as_written(derivation: Derivation, written: sp.Expr) -> Derivation:
    """The derivation shown in the user's order: the function as typed (x·w² + b², not b² + w²·x),
    every sum or product the rules meet that is a part of it as typed, and the sum rule's parts in
    the order of the typed terms (the rules themselves run on SymPy's form, unchanged)."""
    table: dict[sp.Expr, sp.Expr] = {}
    for part in sp.preorder_traversal(written):
        if part.is_Add or part.is_Mul:
            table.setdefault(_evaluated(part), part)
    return dataclasses.replace(derivation, root=_in_written_order(derivation.root, table), written=written)


def _in_written_order(step: RuleStep, table: dict[sp.Expr, sp.Expr]) -> RuleStep:
    substeps = tuple(_in_written_order(s, table) for s in step.substeps)
    shown = table.get(step.expression)
    combination = step.combination
    if step.rule == SUM and shown is not None and shown.is_Add:
        typed = [_evaluated(t) for t in shown.args]
        places = [typed.index(s.expression) if s.expression in typed else None for s in substeps]
        if None not in places and len(set(places)) == len(places):
            substeps = tuple(s for _, s in sorted(zip(places, substeps), key=lambda pair: pair[0]))
            nonzero = [s.result for s in substeps if s.result != 0]
            combination = sp.Add(*nonzero, evaluate=False) if len(nonzero) > 1 else None
    return dataclasses.replace(step, substeps=substeps, shown=shown, combination=combination)


# ---------------------------------------------------------------------------
# Textbook derivations of activation derivatives (reused by `solve --detail full`)
# ---------------------------------------------------------------------------


def _algebra(before: sp.Expr, after: sp.Expr, wrt: sp.Symbol, note: str, parts: tuple = ()) -> RuleStep:
    """An algebra step; ``note`` is words ("split the fraction"), the math it names is in ``parts``."""
    return RuleStep(ALGEBRA, before, wrt, after, parts=parts, note=note)


def _with_rewrites(derivation: Derivation, rewrites: Sequence[RuleStep], textbook: sp.Expr, definitions) -> Derivation:
    """Attach algebra steps after checking that every one of them is still the derivative."""
    mapping = dict(definitions)
    for step in rewrites:
        with sp.evaluate(True):
            value = step.result.xreplace(mapping).doit()
        _checked(value, derivation.reference, f"rewrite '{step.note}'")
    # without definitions the textbook form is itself a function of x (1 − tanh²x): the result
    result = textbook if not definitions else derivation.raw
    return dataclasses.replace(derivation, result=result, rewrites=tuple(rewrites), textbook=textbook, definitions=tuple(definitions))


def derive_sigmoid(x: sp.Symbol | None = None, sigma: sp.Symbol | None = None) -> Derivation:
    """σ(x) = 1/(1 + e^{−x}) ⇒ σ' = e^{−x}/(1 + e^{−x})² = … = σ(1 − σ) (source 004 §7.3.1)."""
    x = x if x is not None else sp.Symbol("x", real=True)
    sigma = sigma if sigma is not None else sp.Symbol("sigma", real=True)
    d = 1 + sp.exp(-x)
    derivation = derive(1 / d, x, name="sigma")
    with sp.evaluate(False):
        over_d2 = sp.Pow(sp.Pow(d, 2), -1)
        added = sp.Mul(sp.Add(d, -1), over_d2)
        split = sp.Add(sp.Mul(d, over_d2), sp.Mul(-1, over_d2))
        cancelled = sp.Add(sp.Pow(d, -1), sp.Mul(-1, sp.Pow(sp.Pow(d, -1), 2)))
        substituted = sp.Add(sigma, sp.Mul(-1, sp.Pow(sigma, 2)))
        textbook = sp.Mul(sigma, sp.Add(1, sp.Mul(-1, sigma)))
    steps = [
        _algebra(derivation.raw, added, x, "add and subtract 1 in the numerator"),
        _algebra(added, split, x, "split the fraction"),
        _algebra(split, cancelled, x, "cancel"),
        _algebra(cancelled, substituted, x, "substitute", ((sigma, 1 / d),)),
        _algebra(substituted, textbook, x, "factor out", (("factor", sigma),)),
    ]
    return _with_rewrites(derivation, steps, textbook, ((sigma, 1 / d),))


def derive_tanh(x: sp.Symbol | None = None) -> Derivation:
    """tanh(x) = (e^x − e^{−x})/(e^x + e^{−x}) by the quotient rule ⇒ 1 − tanh²(x) (source 004 §7.3.4)."""
    x = x if x is not None else sp.Symbol("x", real=True)
    f = sp.exp(x) - sp.exp(-x)
    g = sp.exp(x) + sp.exp(-x)
    derivation = derive(f / g, x, name="tanh")
    with sp.evaluate(False):
        split = sp.Add(1, sp.Mul(-1, sp.Mul(sp.Pow(f, 2), sp.Pow(sp.Pow(g, 2), -1))))
        squared = sp.Add(1, sp.Mul(-1, sp.Pow(sp.Mul(f, sp.Pow(g, -1)), 2)))
        textbook = sp.Add(1, sp.Mul(-1, sp.Pow(sp.tanh(x), 2)))
    steps = [
        _algebra(derivation.raw, split, x, "split the fraction"),
        _algebra(split, squared, x, "write as one square"),
        _algebra(squared, textbook, x, "substitute", ((sp.tanh(x), f / g),)),
    ]
    return _with_rewrites(derivation, steps, textbook, ())


def derive_softmax(i: int, j: int, n: int = 3, z: Sequence[sp.Symbol] | None = None) -> Derivation:
    """∂p_i/∂z_j of p_i = e^{z_i}/Σ_k e^{z_k} by the quotient rule (source 004 §7.4.2).

    Ends in p_i(1 − p_i) when i = j and −p_i p_j when i ≠ j (indices 1-based).
    """
    if not (1 <= i <= n and 1 <= j <= n):
        raise ValueError(f"indices must be in 1..{n}, got i={i}, j={j}")
    zs = list(z) if z is not None else [sp.Symbol(f"z{k}", real=True) for k in range(1, n + 1)]
    total = sp.Add(*[sp.exp(zk) for zk in zs])
    zi, zj = zs[i - 1], zs[j - 1]
    p_i = sp.Symbol(f"p{i}", real=True)
    p_j = sp.Symbol(f"p{j}", real=True)
    expression = sp.exp(zi) / total
    root = quotient_step(sp.exp(zi), total, zj, partial=True, expression=expression)
    reference = sp.diff(expression, zj)
    _checked(root.result, reference, f"d p{i}/d z{j}")
    derivation = Derivation(expression, zj, root, simplest(root.result, reference), reference, name=f"p{i}", partial=True)
    with sp.evaluate(False):
        ei, ej = sp.exp(zi), sp.exp(zj)
        if i == j:
            split = sp.Mul(sp.Mul(ei, sp.Pow(total, -1)), sp.Mul(sp.Add(total, sp.Mul(-1, ei)), sp.Pow(total, -1)))
            ones = sp.Mul(sp.Mul(ei, sp.Pow(total, -1)), sp.Add(1, sp.Mul(-1, sp.Mul(ei, sp.Pow(total, -1)))))
            textbook = sp.Mul(p_i, sp.Add(1, sp.Mul(-1, p_i)))
            definitions = ((p_i, ei / total),)
            steps = [
                _algebra(root.result, split, zj, "split the fraction"),
                _algebra(split, ones, zj, "divide the second factor"),
                _algebra(ones, textbook, zj, "substitute", definitions),
            ]
        else:
            split = sp.Mul(-1, sp.Mul(ei, sp.Pow(total, -1)), sp.Mul(ej, sp.Pow(total, -1)))
            textbook = sp.Mul(-1, p_i, p_j)
            definitions = ((p_i, ei / total), (p_j, ej / total))
            steps = [
                _algebra(root.result, split, zj, "split the fraction"),
                _algebra(split, textbook, zj, "substitute", definitions),
            ]
    return _with_rewrites(derivation, steps, textbook, definitions)


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------


class OutOfDoubleRange(ValueError):
    """A value exists but no double-precision number holds it (beyond ~1.8e308, or below ~2.2e-308)."""


#: the largest and smallest positive normal doubles
DOUBLE_MAX, DOUBLE_MIN = sys.float_info.max, sys.float_info.min


def evaluate(expr: sp.Expr, point: Mapping[sp.Symbol, sp.Expr | float]) -> float | complex | None:
    """The value of ``expr`` at ``point``: a float, a complex (not real there), or None (undefined).

    Computed by :func:`values.estimate` (30 and 60 digits, bounded: no SymPy evaluation of
    the substituted tree); a part that is zero up to the rounding is 0 (``sin(π)``, an
    imaginary part that cancels). A symbol without a value raises ``ValueError`` naming it;
    a value no double can hold raises :class:`OutOfDoubleRange`.
    """
    if not isinstance(expr, sp.Basic):  # a plain number from a caller (never text)
        expr = sp.Rational(expr) if isinstance(expr, int) else sp.Float(expr)
    missing = expr.free_symbols - set(point)
    if missing:
        raise ValueError(f"no value for {', '.join(sorted(s.name for s in missing))}")
    try:
        for digits in ((30, 60),) + PROBE_DIGITS[1:]:  # more digits while the value is within its rounding of 0
            number = values.estimate(expr, dict(point), digits=digits)
            if number.magnitude > 10 * number.error:
                break
            check_time()
    except values.Undefined:
        return None
    except values.OutOfRange:
        raise OutOfDoubleRange("its value is outside the range of double precision") from None
    except values.Unsupported:  # a function outside the tool's vocabulary (from sympy.diff): SymPy's own
        return _evaluate_by_sympy(expr, point)
    real, imag = number.real, number.imag
    noise = 10 * number.error if mpmath.isfinite(number.error) else 0  # infinite: defined at the higher precision only
    real = 0 if abs(real) <= noise else real
    imag = 0 if imag <= noise + number.magnitude * mpmath.mpf(10) ** -25 else number.value.imag
    for part in (real, imag):
        if part != 0 and not (DOUBLE_MIN <= abs(part) <= DOUBLE_MAX):
            raise OutOfDoubleRange(f"its value {mpmath.nstr(part, 6)} is outside the range of double precision")
    if imag != 0:
        return complex(float(real), float(imag))
    return float(real)


def _evaluate_by_sympy(expr: sp.Expr, point: Mapping[sp.Symbol, sp.Expr | float]) -> float | complex | None:
    check_time()
    exact = {s: (sp.Rational(v) if isinstance(v, (int, float)) else v) for s, v in point.items()}
    number = sp.N(expr.xreplace(exact), 30)
    if number.has(sp.zoo, sp.nan, sp.oo, -sp.oo) or not number.is_number:
        return None
    z = complex(number)
    return z if abs(z.imag) > 1e-25 * max(1.0, abs(z.real)) else z.real


def at_kink(expr: sp.Expr, point: Mapping[sp.Symbol, sp.Expr | float]) -> bool:
    """Is ``point`` a kink of ``expr``: the argument of a Heaviside step or a sign 0 there (up to rounding)?"""
    for node in expr.atoms(sp.Heaviside, sp.sign):
        try:
            arg = values.estimate(node.args[0], dict(point), digits=(30, 60))
        except (values.Undefined, values.OutOfRange, values.Unsupported):
            continue
        if arg.magnitude <= 10 * arg.error:
            return True
    return False


def _why_undefined(expr: sp.Expr, point: Mapping[sp.Symbol, sp.Expr | float]) -> str:
    try:
        values.estimate(expr, dict(point), digits=(30, 60))
    except values.Undefined as err:
        return str(err)
    except (values.OutOfRange, values.Unsupported):  # pragma: no cover - evaluate said undefined
        pass
    return "no value"


def values_at(derivations: Sequence[Derivation], point: Mapping[sp.Symbol, sp.Expr], where: str | None = None) -> tuple[float, ...]:
    """The value of each derivative at ``point`` — ``tracer diff --at``'s numbers — or an
    ExpressionError saying why there is none: a coordinate or a value beyond double
    precision's range, a derivative undefined (1/x at 0, a power of 0) or not real there.
    ``where`` is the point as the user wrote it, for the messages."""
    for symbol, given in point.items():
        try:
            coordinate = evaluate(given, {})
        except OutOfDoubleRange:
            raise ExpressionError(f"the value of {symbol.name} is outside the range of double precision (magnitudes 2.2e-308 to 1.8e308)") from None
        if not isinstance(coordinate, float):
            raise ExpressionError(f"the value of {symbol.name} is not a real number")
    at = where or ", ".join(f"{s.name} = {v}" for s, v in point.items())
    at = at if len(at) <= 60 else f"{at[:57]}…"  # a message stays one short line
    out = []
    for derivation in derivations:
        what = f"the derivative with respect to {derivation.wrt.name}"
        try:
            value = derivation.value_at(point)
        except OutOfDoubleRange:
            raise ExpressionError(f"{what} at {at} is outside the range of double precision (magnitudes 2.2e-308 to 1.8e308)") from None
        if value is None:
            raise ExpressionError(f"{what} is undefined at {at} ({_why_undefined(derivation.result, point)})")
        if isinstance(value, complex):
            raise ExpressionError(f"{what} is not real at {at}")
        out.append(value)
    return tuple(out)
