"""One small class per operation: its local equation, its textbook derivative, its numbers.

Every node of a graph computes its value from its arguments by one *operation*. As in
micrograd, an operation owns its forward rule and its derivative side by side:

* ``expression(args, position)`` — the right-hand side of the local equation in SymPy
  (``1/(1 + e^{−z})``, ``Σ w·u + b``, ``e^{z_m}/Σ_k e^{z_k}``, ``½(y − o)²``);
* ``textbook(wrt, position)`` — its derivative w.r.t. argument ``wrt`` written as the
  texts write it (``a(1 − a)``, ``1 − a²``, ``a_m(δ_mj − a_j)``, ``−(y − o)``), over the
  generic symbols :data:`ARG` (the arguments) and :data:`OUT` (the outputs of the
  node's group: ``OUT[0]`` is the node itself for an elementwise operation);
* ``derived(wrt, position)`` — SymPy's own derivative of the local equation, before it
  is recognised as the textbook form; :func:`check_textbook_form` proves the two equal,
  once per operation kind, so that no derivative is ever printed that was not derived;
* ``forward(values, positions)`` and ``local(values, outputs, positions)`` — the same two
  rules on NumPy arrays, vectorised over every node of a layer (``values[..., i]`` is
  argument ``i``): the engine's numbers come from these, with no SymPy at all (a
  784-32-10 network's JSON needs none), and :func:`check_textbook_form` proves them
  equal to the printed forms whenever a form is printed;
* ``kink_note()`` — the convention at a kink (ReLU at 0), read off the derivative itself;
* ``derivation()`` — the rule-by-rule derivation shown by ``--detail full``.

Adding an activation or a loss touches one class here (and its independent NumPy twin
in :mod:`tracer.numeric`). Nothing here knows about graphs, layers or names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, ClassVar, Sequence

import mpmath
import numpy as np
import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from tracer.spec import ActivationSpec, LossSpec


def _reciprocal_is_extended_real(self):
    return self._reciprocal_of(self.args[0]).is_extended_real


# SymPy 1.14: sec and csc answer "is it real?" with their reciprocal's private
# _eval_is_extended_real(), but cos(acos(u)) evaluates to u, a Symbol, which has none: the
# equation as written, sec(acos(u)) (kept unevaluated), raised AttributeError on any assumption
# query (σ of it: the graphs fuzz target). The public property asks the same question of any expression.
# (SymPy reads the handlers into each class's _prop_handler when the class is made: replaced there too.)
for _cls in (sp.sec, sp.csc):
    _cls._eval_is_extended_real = _reciprocal_is_extended_real
    _cls._prop_handler["extended_real"] = _reciprocal_is_extended_real

class _Symbols:
    """The generic symbols ``u0, u1, …`` (or ``o0, o1, …``), made when first asked for: a
    weighted sum of 784 inputs has 1,569 arguments."""

    def __init__(self, letter: str):
        self.letter = letter
        self.made: list[sp.Symbol] = []

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self[k] for k in range(i.stop)[i])
        while len(self.made) <= i:
            self.made.append(sp.Symbol(f"{self.letter}{len(self.made)}", real=True))
        return self.made[i]


#: the generic symbols of a local equation: its arguments u0, u1, … and its group's outputs o0, o1, …
ARG = _Symbols("u")
OUT = _Symbols("o")
#: the symbols the texts use for a unit's pre-activation and activation (``--detail full``)
Z, A = sp.symbols("z a", real=True)

LOG_BASE = {"ln": sp.E, "log10": sp.Integer(10), "log2": sp.Integer(2)}
LN_OF_BASE = {"ln": 1.0, "log10": math.log(10), "log2": math.log(2)}


def _nice(x: float) -> sp.Expr:
    """A user's constant as an exact rational when it is one (0.5 → 1/2), else a Float."""
    r = sp.nsimplify(x, rational=True)
    return r if (isinstance(r, sp.Rational) and r.q <= 1000) else sp.Float(x)


def _calculus() -> Any:
    """The rule-by-rule derivations of :mod:`tracer.calculus` (``--detail full``)."""
    # start-up: the calculus engine loads only when a derivation is shown — the numbers, the
    # textbook forms and their checks need none of it
    from tracer.calculus import derivatives

    return derivatives


class Operation:
    """What every operation provides; see the module docstring."""

    name: ClassVar[str] = ""
    #: derivatives that are 0 or 1 everywhere are not written as steps of their own
    elementwise: ClassVar[bool] = False

    def expression(self, args: Sequence[sp.Expr], position: int = 0) -> sp.Expr:
        raise NotImplementedError

    def textbook(self, wrt: int, position: int = 0) -> sp.Expr:
        raise NotImplementedError

    def derived(self, wrt: int, position: int = 0) -> sp.Expr:
        """SymPy's derivative of the local equation (over ARG), before recognition."""
        return _derived(self, wrt, position)

    def forward(self, values: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def local(self, values: np.ndarray, outputs: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def kink_note(self) -> str:
        return ""

    def check(self) -> None:
        """Prove the textbook form is SymPy's derivative of the local equation, and the engine's
        local numbers the printed form's, at fixed irregular probes (:func:`check_textbook_form`
        calls it once per operation kind); raise :class:`TextbookFormError` if not. Any operation
        (a graph problem's gate or equation): :func:`_check_any`; the kinds that need other probes
        say so themselves."""
        _check_any(self)

    def derivation(self) -> tuple[tuple[str, Any], ...]:
        """``--detail full``: the rule-by-rule derivation of the derivative, per case (a softmax has
        two: ``"same"`` unit and ``"other"`` unit; elsewhere one, ``""``); () where the texts state
        the derivative by cases (ReLU) or it is 1."""
        return ()

    # -- exact decisions (tracer.core.exact): where doubles may differ from the hand calculation --

    #: the value is a sum whose terms may cancel to exactly 0 (a weighted sum, an add gate, an equation)
    cancels: ClassVar[bool] = False
    #: a local derivative is itself an expression that may cancel to exactly 0 (an equation's)
    derivative_cancels: ClassVar[bool] = False

    def decisions(self) -> tuple[sp.Expr, ...]:
        """The quantities (over ARG) whose sign picks a branch of the value or of a local derivative:
        ReLU's z, max's u0 − u1, |u|'s u. At 0 the documented convention applies (:meth:`kink_note`)."""
        return ()

    def cancellations(self) -> tuple[sp.Expr, ...]:
        """Differences (over ARG) that may cancel to exactly 0 and are printed: a squared error's y − o."""
        return ()

    def magnitude(self, values: np.ndarray) -> np.ndarray:
        """Per row, the size of the terms the value is made of (its rounding is a few ε of this)."""
        return np.max(np.abs(values), axis=-1, initial=0.0)

    def kink_distance(self, values: np.ndarray, floor: float = 1.0, positions: np.ndarray | None = None) -> np.ndarray | None:
        """Per row, the distance of the nearest decision from its kink or tie, relative to the size of
        the arguments (at least ``floor``: 1 for a finite difference's reach, which moves a parameter
        by 10⁻⁶ whatever its size; the smallest double for rounding, which is relative); None for an
        operation without branches."""
        decisions = _compiled(self.decisions(), getattr(self, "arity", 1))
        if not decisions:
            return None
        scale = np.maximum(floor, np.max(np.abs(values), axis=-1, initial=0.0))
        columns = [values[..., k] for k in range(values.shape[-1])]
        with np.errstate(all="ignore"):
            distances = [np.abs(np.broadcast_to(np.asarray(q(*columns), dtype=float), scale.shape)) / scale for q in decisions]
        return np.min(distances, axis=0)

    def near(self, values: np.ndarray, outputs: np.ndarray, derivative: np.ndarray | None = None,
             positions: np.ndarray | None = None) -> np.ndarray | None:
        """Rows (shaped like ``outputs``) within rounding of a kink, a tie or a cancellation: there the
        doubles may differ from the exact decimals at a branch or a printed digit, and the engine
        recomputes them exactly (:mod:`tracer.core.exact`); None where no row can be."""
        distance = self.kink_distance(values, TINY)  # rounding is relative: 1e-20 against 3e-20 is no tie
        cancellations = _compiled(self.cancellations(), getattr(self, "arity", 1))
        if distance is None and not (cancellations or self.cancels or (derivative is not None and self.derivative_cancels)):
            return None
        size = self.magnitude(values)
        scale = size
        # within rounding of a kink or tie, but not on it as doubles: on it (z = 0.0, two equal inputs), the
        # doubles already decide as the decimals do — every 0.0 and every value upstream was settled exactly
        rows = np.zeros(outputs.shape, dtype=bool) if distance is None else np.broadcast_to((distance <= NEAR) & (distance > 0), outputs.shape).copy()
        with np.errstate(all="ignore"):
            columns = [values[..., k] for k in range(values.shape[-1])]
            for quantity in cancellations:
                rows |= np.abs(np.broadcast_to(np.asarray(quantity(*columns), dtype=float), outputs.shape)) <= NEAR * scale
            if self.cancels:
                rows |= (size > 0) & (np.abs(outputs) <= NEAR * size)
            if derivative is not None and self.derivative_cancels:
                sizes = self.derivative_magnitudes(values)
                rows |= np.any((sizes > 0) & (np.abs(derivative) <= NEAR * sizes), axis=-1)
        return rows

    def derivative_magnitudes(self, values: np.ndarray) -> np.ndarray:
        """Per row and argument, the size of the terms a local derivative is made of (an equation's)."""
        return np.broadcast_to(self.magnitude(values)[..., None], values.shape)

    def at_kink(self, arguments: Sequence[sp.Expr], sign: Callable[[sp.Expr], int],
                evaluate: Callable[[sp.Expr, dict], sp.Expr] | None = None, position: int = 0) -> bool:
        """Is a decision exactly at its kink or tie, given the exact arguments and an exact ``sign``?
        ``evaluate(q, bindings)``: how a decision is evaluated at them (tracer.core.exact's, which
        carries digits where SymPy's own substitution would raise 3939/1000 to the power 10^308 exactly)."""
        bindings = dict(zip(ARG, arguments))
        return any(sign(q.xreplace(bindings) if evaluate is None else evaluate(q, bindings)) == 0 for q in self.decisions())


#: a quantity within this fraction of the size of its terms is within reach of their rounding: it is
#: recomputed exactly (a generous bound: a false alarm costs an exact evaluation)
NEAR = 1e-9
#: the smallest normal double: the floor of a relative scale (all-zero arguments)
TINY = float(np.finfo(float).tiny)


@lru_cache(maxsize=None)
def _compiled(quantities: tuple[sp.Expr, ...], arity: int) -> tuple[Callable, ...]:
    """An operation's decisions (or cancellations) as functions of its argument columns."""
    return tuple(array_function(q, ARG[:arity]) for q in quantities)


@lru_cache(maxsize=None)
def _derived(op: Operation, wrt: int, position: int) -> sp.Expr:
    arity = getattr(op, "arity", 1)
    return sp.diff(op.expression(ARG[:arity], position), ARG[wrt])


# ---------------------------------------------------------------------------
# Elementwise activations a = f(z): one argument (z), one output (a)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation(Operation):
    """``a = f(z)`` unit by unit. ``at_zero`` is the convention at a kink (SPEC.md §1)."""

    at_zero: int = 0
    arity: ClassVar[int] = 1
    elementwise: ClassVar[bool] = True
    #: the derivative is written in terms of the output a (σ(1 − σ) = a(1 − a)) where the texts do
    kinked: ClassVar[bool] = False

    def check(self) -> None:
        """The textbook slope (its output written as f(z)) against SymPy's, and at the kink too: the
        convention the numbers use at z = 0 is the printed one."""
        textbook = self.textbook().xreplace({OUT[0]: self.f(ARG[0])})
        if not _same(self.derived(0), textbook, (ARG[0],), (_PROBES,)):
            raise TextbookFormError(self, 0)
        z = np.concatenate([_PROBES, [0.0]])
        a = self.forward(z[:, None])
        printed = np.broadcast_to(np.asarray(array_function(self.textbook(), (ARG[0], OUT[0]))(z, a), dtype=float), z.shape)
        if not np.allclose(self.local(z[:, None], a)[:, 0], printed, rtol=1e-12, atol=1e-15):
            raise TextbookFormError(self, 0, "the engine's local numbers are not the printed form's")

    def f(self, z: sp.Expr) -> sp.Expr:
        raise NotImplementedError

    def slope(self, z: sp.Symbol, a: sp.Symbol) -> sp.Expr:
        """f'(z) as the texts write it, over z and the output a."""
        raise NotImplementedError

    def expression(self, args: Sequence[sp.Expr], position: int = 0) -> sp.Expr:
        return self.f(args[0])

    def textbook(self, wrt: int = 0, position: int = 0) -> sp.Expr:
        return self.slope(ARG[0], OUT[0])

    def decisions(self) -> tuple[sp.Expr, ...]:
        return (ARG[0],) if self.kinked else ()

    def right_of_kink(self, z: sp.Expr) -> sp.Basic:
        """Where the right-hand slope applies: z > 0, or z ≥ 0 with the convention f'(0) = 1."""
        return z >= 0 if self.at_zero == 1 else z > 0

    def kink_note(self) -> str:
        if not self.kinked:
            return ""
        at_zero = float(self.local(np.zeros((1, 1)), np.asarray([float(self.f(sp.Integer(0)))]))[0, 0])
        return f"{self.name}'(0) is undefined; this solution uses the convention {self.name}'(0) = {at_zero:g}"

    def local(self, values: np.ndarray, outputs: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.broadcast_to(self.slope_numpy(values[..., 0], outputs), outputs.shape)[..., None].astype(float)

    def slope_numpy(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """f'(z) on arrays: the same rule as :meth:`slope` (checked equal where it is printed)."""
        raise NotImplementedError

    def right_numpy(self, z: np.ndarray) -> np.ndarray:
        return z >= 0 if self.at_zero == 1 else z > 0

    def derivation(self) -> tuple[tuple[str, Any], ...]:
        x = sp.Symbol("x", real=True)
        return (("", _calculus().derive(self.f(x), x, name="f")),)


class sigmoid(sp.Function):
    """σ(u) = 1/(1 + e^{−u}) kept as one function where an equation writes it (``f = sigmoid(w)·v``):
    printed σ(w), its derivative SymPy's own through :meth:`fdiff` — σ(u)·(1 − σ(u)), the textbook
    form — rather than e^{−u}/(1 + e^{−u})² (issue 25, item 9)."""

    @classmethod
    def eval(cls, u):
        if u.is_zero:
            return sp.Rational(1, 2)
        return None

    def fdiff(self, argindex=1):
        return self * (1 - self)

    def _eval_rewrite_as_exp(self, u, **kwargs):
        return 1 / (1 + sp.exp(-u))

    def _eval_evalf(self, prec):
        return (1 / (1 + sp.exp(-self.args[0])))._eval_evalf(prec)

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real

    def _eval_is_positive(self):
        return True if self.args[0].is_extended_real else None


class Phi(sp.Function):
    """Φ(u) = ½(1 + erf(u/√2)), the standard normal distribution function, kept as one function as
    the texts write GELU(z) = z·Φ(z): printed Φ(z); its derivative SymPy's own of the erf form,
    e^{−u²/2}/√(2π) — the density φ(u), written φ in the textbook form (:class:`phi`)."""

    @classmethod
    def eval(cls, u):
        if u.is_zero:
            return sp.Rational(1, 2)
        return None

    def fdiff(self, argindex=1):
        u = self.args[0]
        return sp.diff(self.rewrite(sp.erf), u)  # SymPy differentiates ½(1 + erf(u/√2)): e^{−u²/2}/√(2π)

    def _eval_rewrite_as_erf(self, u, **kwargs):
        return (1 + sp.erf(u / sp.sqrt(2))) / 2

    def _eval_evalf(self, prec):
        return self.rewrite(sp.erf)._eval_evalf(prec)

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real

    def _eval_is_positive(self):
        return True if self.args[0].is_extended_real else None


class phi(sp.Function):
    """φ(u) = e^{−u²/2}/√(2π), the standard normal density, printed φ(u) where a textbook form
    writes it (GELU′(z) = Φ(z) + z·φ(z))."""

    @classmethod
    def eval(cls, u):
        if u.is_zero:
            return 1 / sp.sqrt(2 * sp.pi)
        return None

    def fdiff(self, argindex=1):
        return sp.diff(self.rewrite(sp.exp), self.args[0])

    def _eval_rewrite_as_exp(self, u, **kwargs):
        return sp.exp(-u**2 / 2) / sp.sqrt(2 * sp.pi)

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real

    def _eval_is_positive(self):
        return True if self.args[0].is_extended_real else None


_SQRT2 = math.sqrt(2.0)


def _numpy_Phi(u):
    """Φ(u) = ½ erfc(−u/√2): erfc keeps Φ's small left tail (½(1 + erf) would cancel to 0)."""
    return np.vectorize(lambda x: 0.5 * math.erfc(-x / _SQRT2), otypes=[float])(u)


def _numpy_phi(u):
    return np.exp(-np.square(u) / 2) / math.sqrt(2 * math.pi)


def with_sigmoid(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every 1/(1 + e^{−u}) written as σ(u) (:class:`sigmoid`)."""

    def is_sigmoid(e) -> bool:
        if not (e.is_Pow and e.exp == -1 and e.base.is_Add and len(e.base.args) == 2 and sp.Integer(1) in e.base.args):
            return False
        other = [a for a in e.base.args if a != 1][0]
        return isinstance(other, sp.exp)

    def as_sigmoid(e):
        other = [a for a in e.base.args if a != 1][0]
        return sigmoid(-other.args[0])

    return expr.replace(is_sigmoid, as_sigmoid) if expr.has(sp.exp) else expr


def _numpy_sigmoid(u):
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(u))  # both branches exact rewritings of 1/(1 + e^{−u}); neither overflows
    return np.where(np.asarray(u) >= 0, 1 / (1 + e), e / (1 + e))


def _variadic(pairwise: Callable) -> Callable:
    """max/min of any number of arguments, from NumPy's pairwise maximum/minimum."""

    def apply(*args):
        out = args[0]
        for a in args[1:]:
            out = pairwise(out, a)
        return out

    return apply


_ARRAY_FUNCTIONS: dict[type, Callable] = {
    sp.exp: np.exp, sp.log: np.log, sp.tanh: np.tanh, sp.atan: np.arctan,
    sp.sin: np.sin, sp.cos: np.cos, sp.tan: np.tan, sp.sinh: np.sinh, sp.cosh: np.cosh,
    sp.asin: np.arcsin, sp.acos: np.arccos,
    sp.sec: lambda x: 1 / np.cos(x), sp.csc: lambda x: 1 / np.sin(x), sp.cot: lambda x: 1 / np.tan(x),
    sp.Abs: np.abs, sp.sign: np.sign, sp.Max: _variadic(np.maximum), sp.Min: _variadic(np.minimum),
    sp.And: _variadic(np.logical_and), sp.Or: _variadic(np.logical_or),
    # H(0) is SymPy's ½ unless the expression says otherwise (Heaviside(x, 0))
    sp.Heaviside: lambda x, at_zero=0.5: np.heaviside(x, at_zero),
    # SymPy writes |e^u| as e^(re u) when it cannot prove u real: on the real line re u = u, im u = 0
    sp.re: np.real, sp.im: np.zeros_like, sp.conjugate: lambda x: x, sp.atan2: np.arctan2,
    # and arg(u) (from the derivative of a logarithm of |u|): 0 for u > 0, π for u < 0 on the real line
    sp.arg: lambda x: np.where(x < 0, np.pi, np.where(x > 0, 0.0, np.nan)),
    sigmoid: _numpy_sigmoid, Phi: _numpy_Phi, phi: _numpy_phi,
    sp.erf: np.vectorize(math.erf, otypes=[float]), sp.erfc: np.vectorize(math.erfc, otypes=[float]),
}
_RELATIONS: dict[type, Callable] = {
    sp.StrictGreaterThan: np.greater, sp.GreaterThan: np.greater_equal,
    sp.StrictLessThan: np.less, sp.LessThan: np.less_equal,
    sp.Equality: np.equal, sp.Unequality: np.not_equal,
}


class NonFinite(ArithmeticError):
    """A value inside an expression evaluated in double precision is not a finite number."""


def _apply(e: sp.Basic) -> Callable[[list], Any]:
    """How one node of a SymPy tree combines its arguments' values (NumPy arrays or floats)."""
    if e.is_Add:
        return lambda vs: sum(vs)
    if e.is_Mul:
        def product(vs):
            out = vs[0]
            for v in vs[1:]:
                out = out * v
            return out

        return product
    if e.is_Pow:
        return lambda vs: np.power(vs[0], vs[1])
    if isinstance(e, sp.log) and len(e.args) == 2:  # log(u, b) as written: ln u / ln b
        return lambda vs: np.log(vs[0]) / np.log(vs[1])
    if type(e) in _RELATIONS:
        relation = _RELATIONS[type(e)]
        return lambda vs: relation(vs[0], vs[1])
    fn = _ARRAY_FUNCTIONS[type(e)]
    return lambda vs: fn(*vs)


def array_function(expr: sp.Expr, variables: Sequence[sp.Symbol], *, strict: bool = False) -> Callable[..., np.ndarray]:
    """A textbook form as a function of NumPy arrays (one per variable), built once as closures
    over the SymPy tree (no code generation): what the engine evaluates is what is printed.

    ``strict``: raise :class:`NonFinite` (with the sub-expression) as soon as any part of the
    expression, innermost first, is not a finite number — ``exp(log(x))`` at x = 0 is finite
    as a whole, but ln 0 is not a number."""
    index = {v: k for k, v in enumerate(variables)}

    def checked(e: sp.Basic, f: Callable) -> Callable:
        if not strict:
            return f

        def g(xs):
            value = f(xs)
            if not np.all(np.isfinite(value)):
                raise NonFinite(e)
            return value

        return g

    def build(e: sp.Basic) -> Callable:
        if e.is_Symbol:
            k = index[e]
            return lambda xs: xs[k]
        if e is sp.true:
            return lambda xs: True
        if e.is_number:
            try:
                constant = float(e)
            except TypeError:  # a constant that is not real (SymPy's −i·√(e^a) of √(−e^a)): no number on the real line
                constant = math.nan
            return lambda xs: constant
        if isinstance(e, sp.Piecewise):
            pieces = [(build(value), build(condition)) for value, condition in e.args]

            def cases(xs):
                shape = np.shape(xs[0])
                return np.select([np.broadcast_to(c(xs), shape) for _, c in pieces], [np.broadcast_to(v(xs), shape) for v, _ in pieces], np.nan)

            return checked(e, cases)
        args = [build(a) for a in e.args]
        rule = _apply(e)
        return checked(e, lambda xs: rule([a(xs) for a in args]))

    tree = build(expr)
    return lambda *values: tree(values)


#: significant digits of the exact evaluation that decides what double precision cannot
EXACT_DIGITS = 40


class NotReal(ValueError):
    """A part of an expression has no real value at the point (``str(err)`` says which and why)."""


def exact_value(expr: sp.Expr, at: dict) -> float:
    """``expr`` at the point ``at`` (symbol → float), evaluated part by part in SymPy's
    arbitrary-precision floats, which have no overflow: ln(1 + e^10995.1) is 10995.1, and
    −e^710/(1 + e^710)² is −4.5e−309, where double precision gives inf and nan. The result is
    a float (±inf when the value itself lies beyond double precision).

    Each part carries a bound on its error (Wilkinson's running error analysis, as
    :func:`error_bound` does for doubles, at the working precision's unit): a part whose value
    its error could move by more than 10⁻²⁰ of itself is computed again with twice the digits —
    40, 80, …, 1,280. ln((1 + 2·10⁻¹⁵⁴)^(10¹⁵⁴)) is 0 at 40 digits, where 1 + 2·10⁻¹⁵⁴ rounds to
    1 and that rounding, raised to 10¹⁵⁴, is all of the power; at 320 digits it is 2. A part
    within its error of 0 is 0 when that error is below 10⁻⁵⁰ of its terms (x − x; the convention of
    :mod:`tracer.core.exact`), and computed again otherwise: (1 + 10⁻⁴⁵) − 1 is 10⁻⁴⁵.

    :class:`NotReal`, naming the innermost part, when a part has no real value: a division by
    zero, the logarithm of a number ≤ 0, a root of a negative number, asin(2) — every part
    as written, so √x² at x = −2 is refused though SymPy writes it x; :class:`Unsettled` (a
    NotReal) when 1,280 digits do not settle it."""
    digits = EXACT_DIGITS
    while True:
        try:
            value, _ = _exact(expr, at, digits)
        except _Beyond:
            return math.inf
        except _Negligible as err:
            if err.part == expr:  # the value itself is below 2^(−2^1100): as a double, 0
                return 0.0
            raise NotReal(str(err)) from None
        except _Imprecise:
            if digits >= MOST_DIGITS:
                raise Unsettled() from None
            digits *= 2
            continue
        return float(value) if isinstance(value, sp.Expr) else float(bool(value))


#: the most digits :func:`exact_value` works with (it starts at :data:`EXACT_DIGITS` and doubles)
MOST_DIGITS = 1280
#: a part's error bound relative to its value beyond which it is computed again with more digits
_SETTLED = mpmath.mpf("1e-20")
#: a part within its error of 0 is 0 when that error is below this much of its terms (the
#: relative zero of :mod:`tracer.core.exact`)
_ZERO = mpmath.mpf("1e-50")


class _Imprecise(ArithmeticError):
    """A part whose rounding at the working precision may have moved it beyond use: more digits."""


class Unsettled(NotReal):
    """A value whose rounding is amplified beyond every digit even at :data:`MOST_DIGITS` digits."""

    def __init__(self):
        super().__init__(f"a value whose rounding is amplified beyond every digit even at {MOST_DIGITS:,} digits")


class _Negligible(ArithmeticError):
    """A part below 2^(−2^1100) (0.06^sinh(cot 710) = 2^(−4·10^7200)): as a double it is 0, but exact
    arithmetic cannot carry it on to what it feeds (its exponent alone would take minutes)."""

    def __init__(self, part: sp.Basic):
        self.part = part
        super().__init__("a part too small for exact arithmetic (below 2^(−2^1100)), which what it feeds cannot be computed from")


class _Beyond(ArithmeticError):
    """A part beyond any use: a value whose exponent overflows arbitrary precision itself (2^(e^(10^308))),
    or a sine of a number beyond 1e300 (which double precision cannot locate within its period)."""


#: the periodic functions (an angle beyond :data:`ANGLE_LIMIT` is refused by the graph builder)
PERIODIC = (sp.sin, sp.cos, sp.tan, sp.sec, sp.csc, sp.cot)


def _exact(e: sp.Basic, at: dict, digits: int):
    """(value, error bound) of ``e`` at ``digits`` digits; :class:`_Imprecise` when a part's
    rounding may have moved it beyond use (see :func:`exact_value`)."""
    if e.is_Symbol:
        return sp.Float(at[e], digits), _NO_ERROR  # a double: exact in any precision above 53 bits
    if e.is_Rational:
        return e, _NO_ERROR
    if isinstance(e, sp.Expr) and e.is_number and not e.free_symbols:
        value = _settled(e.evalf(digits))
        _require_real(e, value, ())
        return value, _unit(digits) * abs(_mpf(value))
    pairs = [_exact(a, at, digits) for a in e.args]
    args = [v for v, _ in pairs]
    if isinstance(e, PERIODIC) and isinstance(args[0], sp.Float) and abs(args[0]) > 1e300:
        raise _Beyond(e)
    size = _astronomical(e, args)
    if size:
        raise _Beyond(e) if size > 0 else _Negligible(e)
    try:
        value = e.func(*args)
        if isinstance(e, ExprCondPair):  # a piece and its condition: the piece's error
            return value, pairs[0][1]
        if not isinstance(value, sp.Expr):  # a condition of a Piecewise: true or false
            _decided(e, pairs)
            return value, _NO_ERROR
        value = _settled(value.evalf(digits))
    except (OverflowError, MemoryError):
        raise _Beyond(e) from None
    _require_real(e, value, args)
    if _bits(value) > _MAX_BITS:
        raise _Beyond(e)
    with mpmath.workprec(_prec(digits) + 10):
        error = _error_of(e, _mpf(value), [(_mpf(v) if isinstance(v, sp.Expr) else v, b) for v, b in pairs], digits)
        error = _settled_error(e, _mpf(value), error, [_mpf(v) for v, _ in pairs if isinstance(v, sp.Expr)])
    return (sp.Integer(0), _NO_ERROR) if error is None else (value, error)


_NO_ERROR = mpmath.mpf(0)


def _prec(digits: int) -> int:
    return int(digits * 3.33) + 4


def _unit(digits: int):
    """The rounding unit of SymPy's floats of ``digits`` digits (relative), with a margin of 4."""
    return mpmath.ldexp(mpmath.mpf(4), -_prec(digits))


def _mpf(value):
    """An exact part's value as an mpmath number (a Float's own; a Rational's quotient)."""
    if isinstance(value, sp.Float):
        return mpmath.mpf(value._mpf_)
    if isinstance(value, sp.Rational):
        return mpmath.mpf(value.p) / value.q
    if isinstance(value, sp.Expr) and value.is_number:
        return mpmath.mpf(sp.Float(value, 30)._mpf_)
    return mpmath.mpf(float(bool(value)))


def _settled_error(e: sp.Basic, value, error, terms: list):
    """``error`` when it leaves ``value`` known to 10⁻²⁰ of itself; None when it leaves it a relative
    zero (within 10⁻⁵⁰ of the terms it came from: x − x, ln u at u = 1 ± 10⁻⁶⁰), which is then 0
    exactly, as :mod:`tracer.core.exact` settles a cancellation; :class:`_Imprecise` otherwise."""
    if not error or error <= _SETTLED * abs(value):
        return error
    if error >= abs(value) and not e.is_Mul and not e.is_Pow and error <= _ZERO * max([abs(t) for t in terms] + [abs(value)]):
        return None
    raise _Imprecise(e)


def _decided(relation: sp.Basic, pairs: list) -> None:
    """A comparison of two parts is decided when their difference is beyond their errors (or both
    are exact, or their difference is a relative zero); :class:`_Imprecise` otherwise."""
    if len(pairs) != 2 or not all(isinstance(v, sp.Expr) for v, _ in pairs):
        return
    (a, ea), (b, eb) = pairs
    error = ea + eb
    if not error:
        return
    x, y = _mpf(a), _mpf(b)
    gap = abs(x - y)
    if gap > error or error <= _ZERO * max(abs(x), abs(y)):
        return
    raise _Imprecise(relation)


@lru_cache(maxsize=None)
def _mp_slopes(function: type, arity: int) -> tuple[Callable, ...]:
    """∂f/∂(argument k) of a function as mpmath functions (SymPy's derivatives, once per function)."""
    xs = sp.symbols(f"x0:{arity}", real=True)
    return tuple(sp.lambdify(xs, real_derivative(function(*xs), x), modules="mpmath") for x in xs)


def _error_of(e: sp.Basic, value, pairs: list, digits: int):
    """The error bound of one part from its arguments' (value, error) pairs: its own rounding and
    its arguments' errors carried by its slopes (taken at the worst of a ± its error)."""
    unit = _unit(digits)
    values = [v for v, _ in pairs]
    errors = [b for _, b in pairs]
    if isinstance(e, sp.Piecewise):  # the first piece whose condition holds (each decided, or more digits)
        for pair, error in pairs:
            if pair.cond is sp.true:
                return error
        return max(errors)
    if e.is_Add:
        total, rounding = mpmath.mpf(0), mpmath.mpf(0)
        for v in values:
            total += v
            rounding += abs(total)
        return sum(errors) + unit * rounding
    if e.is_Mul:
        v, b = values[0], errors[0]
        for w, c in zip(values[1:], errors[1:]):
            v, b = v * w, abs(v) * c + abs(w) * b + b * c + unit * abs(v * w)
        return b
    if not any(errors):
        return unit * abs(value)
    if e.is_Pow:
        (a, p), (ea, ep) = values, errors
        if ea and (a - ea <= 0 <= a + ea) and not (p == int(p) and p >= 0):
            raise _Imprecise(e)  # a root or a negative power whose base may cross 0
        slope = _NO_ERROR
        if ea:
            try:
                slope = max(abs(p * mpmath.power(x, p - 1)) for x in (a - ea, a, a + ea) if x)
            except (ValueError, ZeroDivisionError):
                raise _Imprecise(e) from None
            if isinstance(slope, mpmath.mpc):
                raise _Imprecise(e)
        moved = abs(value * mpmath.log(abs(a))) * ep if ep and a else _NO_ERROR
        return slope * ea + moved + unit * abs(value)
    if isinstance(e, (sp.Max, sp.Min)):
        return max(errors)
    if isinstance(e, (sp.Abs, sp.re, sp.conjugate)):
        return errors[0]
    if isinstance(e, sp.im):
        return _NO_ERROR
    if isinstance(e, (sp.Heaviside, sp.sign)):
        a, ea = values[0], errors[0]
        if abs(a) > ea or ea <= _ZERO * abs(a) or not a:
            return _NO_ERROR  # decided (a settled 0 is 0: H(0), sign 0)
        raise _Imprecise(e)
    try:
        slopes = _mp_slopes(e.func, len(values))
    except (TypeError, ValueError, AttributeError):
        raise _Imprecise(e) from None
    total = _NO_ERROR
    for k, (a, ea) in enumerate(zip(values, errors)):
        if not ea:
            continue
        point = list(values)
        worst = _NO_ERROR
        for x in (a - ea, a, a + ea):
            point[k] = x
            try:
                s = slopes[k](*point)
            except (ValueError, ZeroDivisionError, TypeError):
                raise _Imprecise(e) from None
            if isinstance(s, mpmath.mpc) or not mpmath.isfinite(s):
                raise _Imprecise(e)
            worst = max(worst, abs(s))
        total += worst * ea
    return total + 2 * unit * abs(value)


#: a value beyond 2^(10^8) (~10^(3·10^7)) is beyond any use: the exact evaluation stops there (the
#: exponential of 4e10, a trained sinh(b), would take arbitrary precision minutes and gigabytes;
#: 100^(100^e) = 10^540000 on its way to a logarithm is computed in a millisecond)
_MAX_BITS = 10**8


#: a value below 2^(−_MIN_BITS) is beyond use too (:class:`_Negligible`); one above is carried: 3.939^(−10^308)
#: = 2^(−2·10^308) times 10^308 is a gradient of 0 (its exponent a 1,024-bit integer), but the exponent of
#: 0.06^(10^7200) alone takes minutes of squarings
_MIN_BITS = 2**1100


def _bits(value) -> int:
    """The binary magnitude of an exact value (its exponent plus its mantissa's bits; 0 for others)."""
    mpf = getattr(value, "_mpf_", None)
    return mpf[2] + mpf[3] if mpf is not None and mpf[1] else 0


def _astronomical(e: sp.Basic, args: list) -> int:
    """Would e's value be beyond 2^(10^8) (1), or below 2^(−2^1100) (−1), before it is computed (else
    0)? e^u, sinh u, cosh u for |u| ≥ 2^26 (e^u small for u < 0); b^p for p·log₂|b| > 10^8 or
    < −2^1100."""
    if isinstance(e, (sp.exp, sp.sinh, sp.cosh)) and isinstance(args[0], sp.Float):
        if _bits(args[0]) <= 26:  # |u| < 2^26 = 6.7e7
            return 0
        return -1 if isinstance(e, sp.exp) and args[0] < 0 else 1  # (its argument's reduction alone would take minutes)
    if e.is_Pow and all(isinstance(a, (sp.Float, sp.Rational)) for a in args):
        base, power = args
        if base.is_zero or power.is_zero:
            return 0
        with mpmath.workdps(15):  # the product of a double's size and a double passes 1.8e308: in mpmath
            b = mpmath.mpf(base.p) / base.q if base.is_Rational else mpmath.mpf(base._mpf_)
            p = mpmath.mpf(power.p) / power.q if power.is_Rational else mpmath.mpf(power._mpf_)
            bits = p * mpmath.log(abs(b), 2)
        return 1 if bits > _MAX_BITS else -1 if bits < -_MIN_BITS else 0
    return 0


def _settled(value: sp.Expr) -> sp.Expr:
    """A value evalf could give no digit of (tan π: ``-0.e-191``, a Float of precision 1) is 0: it
    cannot be compared (max, min) or signed otherwise."""
    return sp.Integer(0) if isinstance(value, sp.Float) and value._prec <= 1 else value


def _require_real(e: sp.Basic, value: sp.Expr, args: list) -> None:
    if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or value.is_real is not True:
        raise NotReal(_why_not_real(e, args))


def _why_not_real(e: sp.Basic, args: list) -> str:
    """Why a part of an expression has no real value, in the words of a hand calculation."""
    if e.is_Pow and len(args) == 2:
        base, exponent = args
        if base.is_zero and exponent.is_negative:
            return "a division by zero"
        if base.is_negative:
            return "the square root of a negative number" if exponent == sp.Rational(1, 2) else "a negative number to a non-integer power"
    if isinstance(e, sp.log):
        return "the logarithm of a number ≤ 0"
    if isinstance(e, (sp.asin, sp.acos)):
        return f"the inverse {'sine' if isinstance(e, sp.asin) else 'cosine'} of a number outside [−1, 1]"
    return "not defined"


# ---------------------------------------------------------------------------
# How far a double-precision evaluation may stray: running error analysis
# ---------------------------------------------------------------------------

#: the unit roundoff of double precision; a library function (exp, sin, …) may be off by a few of them
ROUND = 2.0**-53
_LIBRARY = 4 * ROUND
#: an equation whose double-precision evaluation may be off by more than this (relative) is computed exactly
ENGINE_PRECISION = 1e-12

#: the largest |u| of which sin, cos, tan, sec, csc or cot is taken (beyond it: refused). A given number is
#: read as its decimal by the exact passes and as its double by NumPy and the engine's sweeps; the two differ by
#: up to |u|·2^−53, and a value computed in doubles carries a few such roundings. The angle sin u sees is
#: then off by that much, and sin′ = cos is up to 1: at |u| ≤ 10^6 by at most 10^6·2^−53 = 1.1e−10 — a fifth
#: of half a unit of the 9th printed digit of a value in [0.1, 1] (5e−10), so the decimal and the double
#: give the same printed sine; at 10^8 the 8th digit is already theirs to disagree on, and at 1e154 (its
#: double is 10^154 − 2.3e137) the two sines are unrelated, as are the branches (max, min, |u|) decided on
#: them and a difference quotient whose step 1e148 spans 10^147 periods.
ANGLE_LIMIT = 1e6

_X = sp.Symbol("x", real=True)


@lru_cache(maxsize=None)
def _slope_of(function: type) -> Callable:
    """f′ of a function of one argument, as a NumPy function (SymPy's derivative, once per function)."""
    return array_function(real_derivative(function(_X), _X), (_X,))


def _pole_within(e: sp.Basic, a: float, error: float) -> bool:
    """Is a pole of tan, sec (π/2 + kπ) or cot, csc (kπ) within ``error`` of a?"""
    if not error:  # an exact argument (a given number) is never a pole: no double is π/2 + kπ
        return False
    offset = math.pi / 2 if isinstance(e, (sp.tan, sp.sec)) else 0.0
    nearest = offset + math.pi * round((a - offset) / math.pi)
    return abs(a - nearest) <= error + 4 * ROUND * abs(a)


def error_bound(expr: sp.Expr, variables: Sequence[sp.Symbol], values: Sequence[float]) -> float:
    """A bound on the error of ``expr`` evaluated in double precision at ``values`` (of
    ``variables``) the way :func:`array_function` evaluates it: Wilkinson's running error analysis
    — each operation's own rounding, and its arguments' errors carried by its slope (taken at the
    worst of a ± its error). inf where the evaluation can say nothing: a pole, a domain edge or a
    kink within reach. ln(1 + e^u) at u = −8.5 is off by 5.5e−13 relative (1 + 2e−4 rounds); raised
    to −2.708 and fed to tan at 1e10, off by 0.015: such a value is computed again exactly
    (:func:`exact_value`). Built once per expression as closures, as :func:`array_function` is."""
    try:
        with np.errstate(all="ignore"):
            return float(_bound_function(expr, tuple(variables))(tuple(float(v) for v in values))[1])
    except (TypeError, ValueError, KeyError, ZeroDivisionError, OverflowError):
        return math.inf


@lru_cache(maxsize=4096)
def _bound_function(expr: sp.Expr, variables: tuple) -> Callable:
    index = {v: k for k, v in enumerate(variables)}
    inf = math.inf

    def build(e: sp.Basic) -> Callable:
        if e.is_Symbol:
            k = index[e]
            return lambda xs: (xs[k], 0.0)
        if e is sp.true or e is sp.false:
            truth = float(e is sp.true)
            return lambda xs: (truth, 0.0)
        if e.is_number:
            try:
                constant = float(e)
            except TypeError:
                return lambda xs: (math.nan, inf)
            error = 0.0 if e.is_Integer else ROUND * abs(constant)
            return lambda xs: (constant, error)
        if isinstance(e, sp.Piecewise):
            pieces = [(build(piece), build(condition)) for piece, condition in e.args]

            def cases(xs):
                for piece, condition in pieces:
                    if condition(xs)[0]:
                        return piece(xs)
                return math.nan, inf

            return cases
        args = [build(a) for a in e.args]
        rule = _apply(e)
        combine = _combination(e)

        def node(xs):
            pairs = [a(xs) for a in args]
            values = [v for v, _ in pairs]
            value = float(rule(values))
            errors = [b for _, b in pairs]
            if not (math.isfinite(value) and all(map(math.isfinite, values)) and all(map(math.isfinite, errors))):
                return value, (0.0 if combine is None else inf)
            return value, (0.0 if combine is None else combine(value, values, errors))

        return node

    return build(expr)


def _combination(e: sp.Basic) -> Callable | None:
    """How one node's error follows from its arguments' (value, values, errors) → error; None for a
    relation or a condition (true or false: no error)."""
    if type(e) in _RELATIONS or isinstance(e, (sp.And, sp.Or)):
        return None
    if e.is_Add:
        def add(value, values, errors):
            total, rounding = 0.0, 0.0
            for v in values:
                total += v
                rounding += abs(total)
            return sum(errors) + ROUND * rounding
        return add
    if e.is_Mul:
        def mul(value, values, errors):
            v, b = values[0], errors[0]
            for w, c in zip(values[1:], errors[1:]):
                v, b = v * w, abs(v) * c + abs(w) * b + b * c + ROUND * abs(v * w)
            return b
        return mul
    if e.is_Pow:
        def power(value, values, errors):
            (a, p), (ea, ep) = values, errors
            integral = float(p).is_integer() and ep == 0
            if (a - ea <= 0 < a + ea or a <= 0) and not (integral and p >= 0) and (ea or ep or a == 0):
                return math.inf  # a root or a negative power whose base may cross 0
            near = [x for x in (a - ea, a, a + ea) if x != 0]
            slope = max(abs(p * np.power(x, p - 1)) for x in near) if near else 0.0
            moved = abs(value * math.log(abs(a))) * ep if ep and a > 0 else (math.inf if ep else 0.0)
            return slope * ea + moved + _LIBRARY * abs(value)
        return power
    if isinstance(e, sp.log) and len(e.args) == 2:
        def log_base(value, values, errors):
            (a, b), (ea, eb) = values, errors
            if ea >= abs(a) or eb >= abs(b) or a - ea <= 0 or b - eb <= 0 or b == 1:
                return math.inf
            return (ea / abs(a) + abs(value) * eb / abs(b)) / abs(math.log(b)) + _LIBRARY * abs(value)
        return log_base
    if isinstance(e, (sp.Max, sp.Min)):
        return lambda value, values, errors: max(errors)
    if isinstance(e, (sp.Abs, sp.re, sp.conjugate)):
        return lambda value, values, errors: errors[0]
    if isinstance(e, sp.im):
        return lambda value, values, errors: 0.0
    if isinstance(e, (sp.Heaviside, sp.sign)):  # a kink within reach: either side
        return lambda value, values, errors: 0.0 if abs(values[0]) > errors[0] or (values[0] == 0 and errors[0] == 0) else 2.0
    slope_of = _slope_of(type(e))
    logarithm = isinstance(e, sp.log)
    periodic = isinstance(e, (sp.tan, sp.sec, sp.cot, sp.csc))

    def function(value, values, errors):
        a, ea = values[0], errors[0]
        if logarithm and a - ea <= 0:
            return math.inf
        if periodic and _pole_within(e, a, ea):
            return math.inf
        slopes = [abs(float(slope_of(x))) for x in ((a - ea, a, a + ea) if ea else (a,))]
        if not all(map(math.isfinite, slopes)):
            return math.inf
        return max(slopes) * ea + _LIBRARY * abs(value) + ROUND * abs(value)

    return function


class _RealAbs(sp.Function):
    """|u| for a u that is real where it is evaluated: its derivative is sign(u)·u′ (on the real
    line), where SymPy's |u|′ for a u it cannot prove real (√x, x^t, asin x) goes through
    re, im and atan2 of a complex u."""

    def fdiff(self, argindex=1):
        return sp.sign(self.args[0])


def real_derivative(expr: sp.Expr, wrt: sp.Symbol) -> sp.Expr:
    """∂expr/∂wrt on the real line: SymPy's derivative, with |u|′ = sign(u)·u′ for every u (an
    expression evaluated only where each of its parts is real; sign(0) = 0)."""
    if expr.has(sp.re, sp.im):  # SymPy's |e^u| = e^(re u) for a u it cannot prove real: on the real line, u
        expr = expr.replace(sp.re, lambda u: u).replace(sp.im, lambda u: sp.Integer(0))
    if not expr.has(sp.Abs):
        return sp.diff(expr, wrt)
    return sp.diff(expr.replace(sp.Abs, _RealAbs), wrt).replace(_RealAbs, sp.Abs)


@dataclass(frozen=True)
class Identity(Activation):
    name: ClassVar[str] = "identity"

    def f(self, z):
        return z

    def slope(self, z, a):
        return sp.Integer(1)

    def slope_numpy(self, z, a):
        return np.ones_like(z)

    def forward(self, values, positions=None):
        return values[..., 0].copy()

    def derivation(self):
        return ()


@dataclass(frozen=True)
class Sigmoid(Activation):
    name: ClassVar[str] = "sigmoid"

    def f(self, z):
        return 1 / (1 + sp.exp(-z))

    def slope(self, z, a):
        return sp.Mul(a, 1 - a, evaluate=False)

    def slope_numpy(self, z, a):
        return a * (1 - a)

    def forward(self, values, positions=None):
        z = values[..., 0]
        with np.errstate(over="ignore"):
            e = np.exp(-np.abs(z))  # both branches are exact rewritings of 1/(1 + e^{−z}); neither overflows
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))

    def derivation(self):
        return (("", _calculus().derive_sigmoid()),)


@dataclass(frozen=True)
class Tanh(Activation):
    name: ClassVar[str] = "tanh"

    def f(self, z):
        return sp.tanh(z)

    def slope(self, z, a):
        return 1 - a**2

    def slope_numpy(self, z, a):
        return 1 - a**2

    def forward(self, values, positions=None):
        return np.tanh(values[..., 0])

    def derivation(self):
        return (("", _calculus().derive_tanh()),)


@dataclass(frozen=True)
class ReLU(Activation):
    name: ClassVar[str] = "relu"
    kinked: ClassVar[bool] = True

    def f(self, z):
        return sp.Max(0, z)

    def slope(self, z, a):
        return sp.Piecewise((1, self.right_of_kink(z)), (0, True))

    def slope_numpy(self, z, a):
        return np.where(self.right_numpy(z), 1.0, 0.0)

    def forward(self, values, positions=None):
        z = values[..., 0]
        return np.where(z > 0, z, 0.0)

    def derivation(self):
        return ()  # a derivative by cases, stated with its convention at the kink in the steps


@dataclass(frozen=True)
class LeakyReLU(Activation):
    alpha: float = 0.01
    name: ClassVar[str] = "leaky_relu"
    kinked: ClassVar[bool] = True

    def f(self, z):
        return sp.Piecewise((z, z >= 0), (_nice(self.alpha) * z, True))

    def slope(self, z, a):
        return sp.Piecewise((1, self.right_of_kink(z)), (_nice(self.alpha), True))

    def slope_numpy(self, z, a):
        return np.where(self.right_numpy(z), 1.0, self.alpha)

    def forward(self, values, positions=None):
        z = values[..., 0]
        return np.where(z >= 0, z, self.alpha * z)

    def derivation(self):
        return ()


@dataclass(frozen=True)
class ELU(Activation):
    alpha: float = 1.0
    name: ClassVar[str] = "elu"
    kinked: ClassVar[bool] = True

    def f(self, z):
        return sp.Piecewise((z, z >= 0), (_nice(self.alpha) * (sp.exp(z) - 1), True))

    def slope(self, z, a):
        return sp.Piecewise((1, self.right_of_kink(z)), (a + _nice(self.alpha), True))

    def slope_numpy(self, z, a):
        return np.where(self.right_numpy(z), 1.0, a + self.alpha)

    def forward(self, values, positions=None):
        z = values[..., 0]
        return np.where(z >= 0, z, self.alpha * np.expm1(np.minimum(z, 0)))

    def derivation(self):
        return ()


@dataclass(frozen=True)
class Softplus(Activation):
    name: ClassVar[str] = "softplus"

    def f(self, z):
        return sp.log(1 + sp.exp(z))

    def slope(self, z, a):
        return 1 / (1 + sp.exp(-z))

    def slope_numpy(self, z, a):
        return 1 / (1 + np.exp(-z))

    def forward(self, values, positions=None):
        return np.logaddexp(0, values[..., 0])


@dataclass(frozen=True)
class Arctan(Activation):
    name: ClassVar[str] = "arctan"

    def f(self, z):
        return sp.atan(z)

    def slope(self, z, a):
        return 1 / (1 + z**2)

    def slope_numpy(self, z, a):
        return 1 / (1 + z**2)

    def forward(self, values, positions=None):
        return np.arctan(values[..., 0])


@dataclass(frozen=True)
class GELU(Activation):
    """GELU(z) = z·Φ(z) = ½z(1 + erf(z/√2)) (Hendrycks and Gimpel; torch's ``GELU(approximate='none')``),
    with the derivative as the texts write it, GELU′(z) = Φ(z) + z·φ(z); SymPy's derivative of the
    erf form is what the check compares it with."""

    name: ClassVar[str] = "gelu"

    def f(self, z):
        return sp.Mul(z, Phi(z), evaluate=False)

    def slope(self, z, a):
        return sp.Add(Phi(z), sp.Mul(z, phi(z), evaluate=False), evaluate=False)

    def derived(self, wrt=0, position=0):
        return sp.diff(self.f(ARG[0]).rewrite(sp.erf), ARG[0])  # from ½z(1 + erf(z/√2)), not Φ's own rule

    def slope_numpy(self, z, a):
        return _numpy_Phi(z) + z * _numpy_phi(z)

    def forward(self, values, positions=None):
        z = values[..., 0]
        return z * _numpy_Phi(z)

    def derivation(self):
        return ()  # Φ and φ are the normal distribution's: the texts state Φ′ = φ


#: GELU's tanh approximation: √(2/π) and the cubic's coefficient 0.044715 (torch's kBeta and kKappa)
GELU_TANH_CUBIC = 0.044715


@dataclass(frozen=True)
class GELUTanh(Activation):
    """torch's ``GELU(approximate='tanh')``: ½z(1 + tanh(√(2/π)(z + 0.044715z³))), differentiated as
    written (the product rule, then tanh′ = 1 − tanh²)."""

    name: ClassVar[str] = "gelu_tanh"

    @staticmethod
    def root():
        return sp.Pow(2 / sp.pi, sp.Rational(1, 2), evaluate=False)  # √(2/π), as the texts write it

    def inner(self, z):
        return sp.Mul(self.root(), sp.Add(z, sp.Mul(sp.Float(GELU_TANH_CUBIC), z**3, evaluate=False), evaluate=False),
                      evaluate=False)

    def f(self, z):
        return sp.Mul(sp.Rational(1, 2), z, sp.Add(1, sp.tanh(self.inner(z)), evaluate=False), evaluate=False)

    def slope(self, z, a):
        t = sp.tanh(self.inner(z))
        half = sp.Rational(1, 2)
        return sp.Add(sp.Mul(half, sp.Add(1, t, evaluate=False), evaluate=False),
                      sp.Mul(half, z, sp.Add(1, -t**2, evaluate=False), self.root(),
                             sp.Add(1, sp.Mul(sp.Float(3 * GELU_TANH_CUBIC), z**2, evaluate=False), evaluate=False), evaluate=False),
                      evaluate=False)

    def slope_numpy(self, z, a):
        k = math.sqrt(2 / math.pi)
        t = np.tanh(k * (z + GELU_TANH_CUBIC * z**3))
        return 0.5 * (1 + t) + 0.5 * z * (1 - t**2) * k * (1 + 3 * GELU_TANH_CUBIC * z**2)

    def forward(self, values, positions=None):
        z = values[..., 0]
        return 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + GELU_TANH_CUBIC * z**3)))

    def derivation(self):
        return ()


@dataclass(frozen=True)
class SiLU(Activation):
    """SiLU (swish) z·σ(z) (torch's ``SiLU``), with the derivative as the texts write it,
    σ(z)(1 + z(1 − σ(z))); SymPy's derivative of z/(1 + e^{−z}) is what the check compares it with."""

    name: ClassVar[str] = "silu"

    def f(self, z):
        return sp.Mul(z, sigmoid(z), evaluate=False)

    def slope(self, z, a):
        s = sigmoid(z)
        return sp.Mul(s, sp.Add(1, sp.Mul(z, sp.Add(1, -s, evaluate=False), evaluate=False), evaluate=False), evaluate=False)

    def derived(self, wrt=0, position=0):
        return sp.diff(ARG[0] / (1 + sp.exp(-ARG[0])), ARG[0])  # from the exponential, not σ's own rule

    def slope_numpy(self, z, a):
        s = _numpy_sigmoid(z)
        return s * (1 + z * (1 - s))

    def forward(self, values, positions=None):
        z = values[..., 0]
        return z * _numpy_sigmoid(z)

    def derivation(self):
        return ()


@dataclass(frozen=True)
class Step(Activation):
    """The threshold unit: forward only; its derivative is 0 wherever it exists."""

    name: ClassVar[str] = "step"

    def f(self, z):
        return sp.Piecewise((1, z >= 0), (0, True))

    def slope(self, z, a):
        return sp.Integer(0)

    def slope_numpy(self, z, a):
        return np.zeros_like(z)

    def decisions(self):
        return (ARG[0],)  # the value itself: 1 from z = 0 on

    def forward(self, values, positions=None):
        return np.where(values[..., 0] >= 0, 1.0, 0.0)

    def derivation(self):
        return ()

    def kink_note(self) -> str:
        return ""


# ---------------------------------------------------------------------------
# The softmax: output m of K, from all K pre-activations
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Softmax(Operation):
    """``a_m = e^{z_m} / Σ_k e^{z_k}``: every output depends on every pre-activation of the layer."""

    arity: int = 3
    name: ClassVar[str] = "softmax"

    def check(self) -> None:
        """Checked for three outputs: the same unit, and another unit on either side (both branches)."""
        probe = Softmax(3)
        outputs = {OUT[k]: probe.expression(ARG[:3], k) for k in range(3)}
        columns = (_PROBES, np.roll(_PROBES, 5), np.roll(_PROBES, 11))
        for m, j in ((0, 0), (0, 1), (2, 1)):
            if not _same(probe.derived(j, m), probe.textbook(j, m).xreplace(outputs), ARG[:3], columns):
                raise TextbookFormError(self, j, f"of output {m + 1}")

    def expression(self, args, position=0):
        return sp.exp(args[position]) / sp.Add(*[sp.exp(z) for z in args], evaluate=False)

    def textbook(self, wrt, position=0):
        """∂a_m/∂z_j = a_m (1 − a_m) when m = j, −a_m a_j otherwise."""
        if wrt == position:
            return sp.Mul(OUT[position], 1 - OUT[position], evaluate=False)
        return sp.Mul(-1, OUT[position], OUT[wrt], evaluate=False)

    def forward(self, values, positions=None):
        shifted = values - np.max(values, axis=-1, keepdims=True)  # shifting by the max cannot change a, only avoid overflow
        e = np.exp(shifted)
        p = e / e.sum(axis=-1, keepdims=True)
        return np.take_along_axis(p, _column(positions, p), axis=-1)[..., 0]

    def local(self, values, outputs, positions=None):
        """``outputs[..., n]`` are this group's outputs, node n being output ``positions[n]``: the
        softmax's every output is needed for ``−a_m a_j``."""
        order = np.argsort(positions)
        a = outputs[..., order]  # a[..., k] = output k of the softmax
        own = a[..., positions]  # (..., n): a_m of node n
        eye = (positions[:, None] == np.arange(self.arity)[None, :]).astype(float)  # δ_mj
        return own[..., :, None] * (eye - a[..., None, :])

    def derivation(self):
        n = min(self.arity, 3)  # a sum of more exponentials reads the same and runs off the page
        if n == 1:
            return (("same", _calculus().derive_softmax(1, 1, 1)),)
        return (("same", _calculus().derive_softmax(1, 1, n)), ("other", _calculus().derive_softmax(1, 2, n)))


def _column(positions: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Index array picking, for node n, its own output ``positions[n]`` from the last axis of p."""
    return np.broadcast_to(positions.reshape((1,) * (p.ndim - 2) + (-1, 1)), p.shape[:-1] + (1,))


# ---------------------------------------------------------------------------
# The weighted sum z = Σ_i w_i u_i + b
# ---------------------------------------------------------------------------

_w, _u, _b, _rest = sp.symbols("w u b rest", real=True)


@dataclass(frozen=True)
class WeightedSum(Operation):
    """``z = w_1 u_1 + … + w_n u_n (+ b)``. Arguments: the n weights, the n inputs, the bias."""

    terms: int
    bias: bool = True
    name: ClassVar[str] = "weighted sum"

    def check(self) -> None:
        """Nothing to prove: the weighted sum's derivative is SymPy's own generic one."""

    @property
    def arity(self) -> int:
        return 2 * self.terms + (1 if self.bias else 0)

    def role(self, slot: int) -> tuple[str, int]:
        """(``weight`` | ``input`` | ``bias``, term) of an argument slot."""
        if slot < self.terms:
            return "weight", slot
        if slot < 2 * self.terms:
            return "input", slot - self.terms
        return "bias", 0

    def expression(self, args, position=0):
        terms = [sp.Mul(args[i], args[self.terms + i], evaluate=False) for i in range(self.terms)]
        if self.bias:
            terms.append(args[2 * self.terms])
        return sp.Add(*terms, evaluate=False)

    def textbook(self, wrt, position=0):
        """Derived once, on a generic term ``w·u + b + rest``: ∂/∂w = u, ∂/∂u = w, ∂/∂b = 1."""
        role, i = self.role(wrt)
        generic = _generic_sum_derivative(role)
        return generic.xreplace({_u: ARG[self.terms + i], _w: ARG[i]})

    def derived(self, wrt, position=0):
        return self.textbook(wrt, position)  # the generic derivative is SymPy's own (see _generic_sum_derivative)

    def forward(self, values, positions=None):
        n = self.terms
        total = np.einsum("...i,...i->...", values[..., :n], values[..., n : 2 * n])
        return total + values[..., 2 * n] if self.bias else total

    cancels: ClassVar[bool] = True

    def magnitude(self, values):
        """Σ |w_i·u_i| + |b|: what the rounding of the sum is a few ε of."""
        n = self.terms
        size = np.einsum("...i,...i->...", np.abs(values[..., :n]), np.abs(values[..., n : 2 * n]))
        return size + np.abs(values[..., 2 * n]) if self.bias else size

    def local(self, values, outputs, positions=None):
        n = self.terms
        parts = [values[..., n : 2 * n], values[..., :n]]
        if self.bias:
            parts.append(np.ones(values.shape[:-1] + (1,)))
        return np.concatenate(parts, axis=-1)


@dataclass(frozen=True)
class Pool(Operation):
    """A pooling window (SPEC.md §8): ``max`` of its n inputs (the gradient goes to the largest;
    at a tie to the first, row by row) or their ``mean`` (the gradient shared equally).

    A window that padding or ceil_mode cuts holds fewer inputs than the kernel has entries: its
    node's ``position`` is how many (its equation is over its first ``position`` arguments; the
    other slots read the constant zero and count for nothing, derivative 0). Position 0 (a
    family without positions): every slot."""

    terms: int
    mode: str = "max"  # max | mean

    @property
    def arity(self) -> int:
        return self.terms

    @property
    def name(self) -> str:  # type: ignore[override]
        return "max-pooling" if self.mode == "max" else "average pooling"

    def held(self, position: int) -> int:
        """How many inputs a window of this position holds."""
        return position or self.terms

    def expression(self, args, position=0):
        n = self.held(position)
        if self.mode == "max":
            return sp.Max(*args[:n])
        return sp.Add(*args[:n]) / n

    def textbook(self, wrt, position=0):
        n = self.held(position)
        if wrt >= n:
            return sp.Integer(0)
        if self.mode == "mean":
            return sp.Rational(1, n)
        u = ARG[:n]
        wins = [u[wrt] > u[j] for j in range(wrt)] + [u[wrt] >= u[j] for j in range(wrt + 1, n)]
        return sp.Piecewise((1, sp.And(*wins)), (0, True))

    def _mask(self, values: np.ndarray, positions: np.ndarray | None) -> np.ndarray | None:
        """(..., nodes, terms): True in the slots each node's window holds; None when all do."""
        if positions is None:
            return None
        held = np.where(positions > 0, positions, self.terms)
        return np.broadcast_to(np.arange(self.terms) < held[:, None], values.shape)

    def forward(self, values, positions=None):
        mask = self._mask(values, positions)
        if mask is None:
            return values.max(axis=-1) if self.mode == "max" else values.mean(axis=-1)
        if self.mode == "max":
            return np.where(mask, values, -np.inf).max(axis=-1)
        return np.where(mask, values, 0.0).sum(axis=-1) / mask.sum(axis=-1)

    def local(self, values, outputs, positions=None):
        mask = self._mask(values, positions)
        if self.mode == "mean":
            if mask is None:
                return np.full(values.shape, 1.0 / self.terms)
            return mask / mask.sum(axis=-1, keepdims=True)
        first = (values if mask is None else np.where(mask, values, -np.inf)).argmax(axis=-1)  # the first maximal input, row by row
        return (np.arange(self.terms) == first[..., None]).astype(float)

    def kink_note(self) -> str:
        if self.mode != "max":
            return ""
        return ("at a tie in a max-pooling window (equal in the exact decimals) the maximum has no derivative; this solution "
                "sends the gradient to the first maximal input, row by row, as PyTorch's max_pool2d does")

    def kink_distance(self, values, floor: float = 1.0, positions=None):
        """Per window, the gap between its two largest inputs (relative to the largest, at least ``floor``)."""
        if self.mode != "max" or self.terms < 2:
            return None
        mask = self._mask(values, positions)
        top = np.sort(values if mask is None else np.where(mask, values, -np.inf), axis=-1)
        with np.errstate(invalid="ignore"):
            return (top[..., -1] - top[..., -2]) / np.maximum(floor, np.abs(top[..., -1]))  # one input: inf, no tie

    def near(self, values, outputs, derivative=None, positions=None):
        """Windows with an input within rounding of the largest but not equal to it as a double: a
        tie in decimals? (Inputs equal as doubles tie, and the first takes the gradient either way;
        but 0.39999999999999997 beside two 0.4 may be a third 0.4, and the first of all.)"""
        if self.mode != "max" or self.terms < 2:
            return None
        mask = self._mask(values, positions)
        if mask is not None:
            values = np.where(mask, values, -np.inf)
        top = values.max(axis=-1, keepdims=True)
        gaps = top - values
        with np.errstate(invalid="ignore"):
            return np.any((gaps > 0) & (gaps <= NEAR * np.maximum(TINY, np.abs(top))), axis=-1)

    def at_kink(self, arguments, sign, evaluate=None, position=0):
        if self.mode != "max":
            return False
        arguments = arguments[: self.held(position)]
        best = arguments[0]
        for a in arguments[1:]:
            if sign(a - best) > 0:
                best = a
        return sum(1 for a in arguments if sign(a - best) == 0) > 1


@lru_cache(maxsize=None)
def _generic_sum_derivative(role: str) -> sp.Expr:
    return sp.diff(_w * _u + _b + _rest, {"weight": _w, "input": _u, "bias": _b}[role])


# ---------------------------------------------------------------------------
# Losses: one output's term E(o, y), and how terms (and samples) combine
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LossTerm(Operation):
    """One output's loss term ``E(o, y)``: arguments (output o, target y)."""

    log: str = "ln"
    arity: ClassVar[int] = 2

    def check(self) -> None:
        """With respect to the output and the target, at outputs inside (0, 1)."""
        columns = (_UNIT_PROBES, np.roll(_UNIT_PROBES, 4))
        values = np.stack(columns, axis=1)
        local = self.local(values, self.forward(values))
        for wrt in (0, 1):
            if not _same(self.derived(wrt), self.textbook(wrt), ARG[:2], columns):
                raise TextbookFormError(self, wrt)
            if not np.allclose(local[:, wrt], array_function(self.textbook(wrt), ARG[:2])(*columns), rtol=1e-12):
                raise TextbookFormError(self, wrt, "the engine's local numbers are not the printed form's")

    def term(self, o: sp.Expr, y: sp.Expr) -> sp.Expr:
        raise NotImplementedError

    def log_of(self, x: sp.Expr) -> sp.Expr:
        base = LOG_BASE[self.log]
        return sp.log(x) if base is sp.E else sp.log(x, base)

    def expression(self, args, position=0):
        return self.term(args[0], args[1])

    def scale(self) -> sp.Expr:
        return sp.Integer(1) if self.log == "ln" else 1 / sp.log(LOG_BASE[self.log])

    def derivation(self):
        o, y = sp.symbols("o y", positive=True)
        return (("", _calculus().derive(self.term(o, y), o, name="E", partial=True)),)


@dataclass(frozen=True)
class SquaredError(LossTerm):
    factor: float = 0.5
    name: ClassVar[str] = "mse"

    def term(self, o, y):
        return _nice(self.factor) * (y - o) ** 2

    def textbook(self, wrt, position=0):
        o, y = ARG[0], ARG[1]
        c = 2 * _nice(self.factor)
        sign = 1 if wrt == 1 else -1
        return sp.Mul(sign, y - o, evaluate=False) if c == 1 else sp.Mul(sign * c, y - o, evaluate=False)

    def cancellations(self):
        return (ARG[1] - ARG[0],)  # y − o: an output equal to its target in decimals is an error of 0

    def forward(self, values, positions=None):
        o, y = values[..., 0], values[..., 1]
        return self.factor * (y - o) ** 2

    def local(self, values, outputs, positions=None):
        o, y = values[..., 0], values[..., 1]
        d = -2 * self.factor * (y - o)
        return np.stack([d, -d], axis=-1)


def _x_log(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x · ln y with 0 · ln y = 0 (an absent class costs nothing), as the texts treat it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(y))


def _x_over(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x / y with 0 / y = 0: the derivative of the term 0 · ln y."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x / y)


@dataclass(frozen=True)
class CrossEntropy(LossTerm):
    name: ClassVar[str] = "cross_entropy"

    def term(self, o, y):
        return -y * self.log_of(o)

    def textbook(self, wrt, position=0):
        o, y = ARG[0], ARG[1]
        core = sp.Mul(-1, y / o, evaluate=False) if wrt == 0 else sp.Mul(-1, self.log_of(o), evaluate=False)
        scale = self.scale() if wrt == 0 else 1
        return core if scale == 1 else sp.Mul(scale, core, evaluate=False)

    def forward(self, values, positions=None):
        o, y = values[..., 0], values[..., 1]
        return -_x_log(y, o) / LN_OF_BASE[self.log]

    def local(self, values, outputs, positions=None):
        o, y = values[..., 0], values[..., 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.stack([-_x_over(y, o) / LN_OF_BASE[self.log], -np.log(o) / LN_OF_BASE[self.log]], axis=-1)


@dataclass(frozen=True)
class BinaryCrossEntropy(LossTerm):
    name: ClassVar[str] = "binary_cross_entropy"

    def term(self, o, y):
        return -(y * self.log_of(o) + (1 - y) * self.log_of(1 - o))

    def textbook(self, wrt, position=0):
        o, y = ARG[0], ARG[1]
        if wrt == 1:
            return sp.Mul(-1, self.log_of(o) - self.log_of(1 - o), evaluate=False)
        # −(y/o − (1 − y)/(1 − o)), built unevaluated: SymPy's own −(1 − y)/(1 − o) is (−1 + y)/(1 − o)
        one_minus_y, one_minus_o = sp.Add(1, -y, evaluate=False), sp.Add(1, -o, evaluate=False)
        second = sp.Mul(one_minus_y, sp.Pow(one_minus_o, -1, evaluate=False), evaluate=False)
        core = sp.Mul(-1, sp.Add(sp.Mul(y, sp.Pow(o, -1, evaluate=False), evaluate=False), sp.Mul(-1, second, evaluate=False),
                                 evaluate=False), evaluate=False)
        scale = self.scale()
        return core if scale == 1 else sp.Mul(scale, core, evaluate=False)

    def forward(self, values, positions=None):
        o, y = values[..., 0], values[..., 1]
        return -(_x_log(y, o) + _x_log(1 - y, 1 - o)) / LN_OF_BASE[self.log]

    def local(self, values, outputs, positions=None):
        o, y = values[..., 0], values[..., 1]
        d_o = -(_x_over(y, o) - _x_over(1 - y, 1 - o)) / LN_OF_BASE[self.log]
        with np.errstate(divide="ignore", invalid="ignore"):
            d_y = -(np.log(o) - np.log(1 - o)) / LN_OF_BASE[self.log]
        return np.stack([d_o, d_y], axis=-1)


@dataclass(frozen=True)
class Hinge(LossTerm):
    """The binary hinge loss of one output, ``max(0, 1 − y·o)`` with a target y ∈ {−1, 1}.

    Its derivative by cases: ∂/∂o = −y where the margin 1 − y·o is positive, 0 where it is
    negative; at the kink (1 − y·o = 0 in the file's decimals, decided exactly: :meth:`decisions`)
    the subgradient 0 — the convention of CS231n's indicator 1(margin > 0) and of torch's
    autograd through relu(1 − y·o) (torch.clamp(·, min=0) would give −y there)."""

    name: ClassVar[str] = "hinge"

    def check(self) -> None:
        """Against SymPy's derivative of max(0, 1 − y·o), at irregular outputs and y = ±1: both branches."""
        o = np.concatenate([_PROBES, _PROBES])
        y = np.concatenate([np.ones_like(_PROBES), -np.ones_like(_PROBES)])
        values = np.stack([o, y], axis=1)
        local = self.local(values, self.forward(values))
        for wrt in (0, 1):
            if not _same(self.derived(wrt), self.textbook(wrt), ARG[:2], (o, y)):
                raise TextbookFormError(self, wrt)
            if not np.allclose(local[:, wrt], array_function(self.textbook(wrt), ARG[:2])(o, y), rtol=1e-12):
                raise TextbookFormError(self, wrt, "the engine's local numbers are not the printed form's")

    def term(self, o, y):
        return sp.Max(0, sp.Add(1, -sp.Mul(y, o, evaluate=False), evaluate=False))

    def margin(self, o, y):
        return sp.Add(1, -sp.Mul(y, o, evaluate=False), evaluate=False)

    def textbook(self, wrt, position=0):
        o, y = ARG[0], ARG[1]
        slope = -y if wrt == 0 else -o
        return sp.Piecewise((slope, sp.StrictGreaterThan(self.margin(o, y), 0, evaluate=False)), (0, True))

    def decisions(self):
        return (self.margin(ARG[0], ARG[1]),)

    def kink_note(self) -> str:
        return ("the hinge loss max(0, 1 − y·o) has no derivative where 1 − y·o = 0; this solution uses the "
                "subgradient 0 there (1 − y·o > 0 is the case with slope −y: CS231n's indicator, torch's relu)")

    def forward(self, values, positions=None):
        o, y = values[..., 0], values[..., 1]
        return np.maximum(0.0, 1 - y * o)

    def local(self, values, outputs, positions=None):
        o, y = values[..., 0], values[..., 1]
        active = (1 - y * o) > 0
        return np.stack([np.where(active, -y, 0.0), np.where(active, -o, 0.0)], axis=-1)

    def derivation(self):
        return ()  # a derivative by cases, its convention at the kink stated in the notes


@dataclass(frozen=True)
class Total(Operation):
    """``s = u_1 + … + u_n`` (``mean``: ``(1/n)(u_1 + … + u_n)``): loss terms into a sample's loss.

    ``groups``: the terms come in that many equal runs (the time steps of a sequence, each run
    one step's K outputs); with ``mean`` each run is averaged and the runs are summed,
    ``s = (1/K)(u_1 + … + u_K) + (1/K)(u_{K+1} + … + u_{2K}) + …`` — the loss of a sequence,
    whose steps always add up (SPEC.md §8)."""

    arity: int = 2
    mean: bool = False
    groups: int = 1
    name: ClassVar[str] = "sum"

    def check(self) -> None:
        columns = tuple(np.roll(_PROBES, k) for k in range(self.arity))
        for wrt in range(self.arity):
            if not _same(self.derived(wrt), self.textbook(wrt), ARG[: self.arity], columns):
                raise TextbookFormError(self, wrt)

    @property
    def run(self) -> int:
        """How many terms one mean is taken over (1: a plain sum)."""
        return self.arity // self.groups if self.mean else 1

    def expression(self, args, position=0):
        if self.run == 1:
            return sp.Add(*args, evaluate=False) if len(args) > 1 else args[0]
        share = sp.Rational(1, self.run)
        runs = [sp.Mul(share, sp.Add(*args[g * self.run:(g + 1) * self.run], evaluate=False), evaluate=False)
                for g in range(self.groups)]
        return sp.Add(*runs, evaluate=False) if len(runs) > 1 else runs[0]

    def textbook(self, wrt, position=0):
        return sp.Rational(1, self.run) if self.run > 1 else sp.Integer(1)

    def forward(self, values, positions=None):
        if self.run == 1:
            return values.sum(axis=-1)
        runs = values.reshape(*values.shape[:-1], self.groups, self.run)
        return runs.mean(axis=-1).sum(axis=-1)

    def local(self, values, outputs, positions=None):
        return np.full(values.shape, 1.0 / self.run)


# ---------------------------------------------------------------------------
# The registry, and the check that every textbook form is the derivative
# ---------------------------------------------------------------------------

ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus, Arctan, GELU, GELUTanh, SiLU, Step)
}
LOSSES: dict[str, type[LossTerm]] = {cls.name: cls for cls in (SquaredError, CrossEntropy, BinaryCrossEntropy, Hinge)}


def activation(spec: ActivationSpec, at_zero: int = 0, units: int = 1) -> Operation:
    """The operation of a layer's activation (a softmax over ``units`` outputs)."""
    if spec.name == "softmax":
        return Softmax(units)
    cls = ACTIVATIONS[spec.name]
    params = dict(spec.params)
    return cls(at_zero, **params) if params else cls(at_zero)


def loss_term(spec: LossSpec) -> LossTerm:
    if spec.kind == "mse":
        return SquaredError(log=spec.log, factor=spec.factor)
    return LOSSES[spec.kind](log=spec.log)


#: fixed, irregular probe points (none near 0, where kinks sit, nor a simple rational)
_PROBES = np.array([-2.731, -2.117, -1.642, -1.209, -0.873, -0.517, -0.312, -0.163, 0.147,
                    0.291, 0.538, 0.811, 1.173, 1.526, 1.904, 2.262, 2.618, 2.947])
#: for a loss term: outputs and targets inside (0, 1)
_UNIT_PROBES = np.array([0.037, 0.113, 0.191, 0.262, 0.347, 0.419, 0.503, 0.587, 0.661, 0.739, 0.817, 0.893, 0.961])


def _same(derived: sp.Expr, textbook: sp.Expr, symbols: Sequence[sp.Symbol], columns: Sequence[np.ndarray]) -> bool:
    """Do two expressions agree at the probe points (double precision, relative 1e-9)?"""
    with np.errstate(all="ignore"):
        a = np.broadcast_to(np.asarray(array_function(derived, symbols)(*columns), dtype=float), np.shape(columns[0]))
        b = np.broadcast_to(np.asarray(array_function(textbook, symbols)(*columns), dtype=float), np.shape(columns[0]))
    return bool(np.all(np.isfinite(a)) and np.allclose(a, b, rtol=1e-9, atol=1e-12))


class TextbookFormError(ArithmeticError):
    """An operation's textbook derivative is not SymPy's derivative of its local equation (or the
    engine's numbers are not the printed form's): the engine never prints a derivative it did not
    derive, so this is a defect of the operation's class, never of the user's input."""

    def __init__(self, op: Operation, wrt: int, what: str = ""):
        self.op, self.wrt = op, wrt
        detail = what or "the textbook form is not SymPy's derivative of the local equation"
        super().__init__(f"{op!r}, derivative with respect to argument {wrt + 1}: {detail}")


@lru_cache(maxsize=None)
def check_textbook_form(op: Operation) -> bool:
    """Is the textbook form really SymPy's derivative of the local equation?

    SymPy differentiates the local equation; the textbook form (with its outputs written
    as the equation they stand for) must agree with that derivative at eighteen fixed
    irregular points on both sides of 0 (a kink's convention at 0 itself is stated, not
    derived); the softmax is checked for three outputs, a loss term inside (0, 1): each
    operation's :meth:`Operation.check`. Raises :class:`TextbookFormError` if not; checked
    once per operation kind (the cache).
    """
    op.check()
    return True


#: for an equation defined on positive numbers only (log, √, 1/u): probes inside (0.05, 3)
_POSITIVE_PROBES = np.abs(_PROBES) + 0.05


def _check_any(op: Operation) -> None:
    """Any other operation (a graph problem's gate or equation): its textbook form — its output
    written as the equation it stands for — against SymPy's derivative, and the engine's local
    numbers against the printed form, at the probes where the equation is defined (positive
    probes where it is not defined at the signed ones)."""
    arity = getattr(op, "arity", 1)
    symbols = ARG[:arity]
    body = op.expression(symbols)
    for probes in (_PROBES, _POSITIVE_PROBES):
        columns = tuple(np.roll(probes, 5 * k) for k in range(arity))
        with np.errstate(all="ignore"):
            values = np.stack(columns, axis=-1)
            outputs = op.forward(values)
        if np.count_nonzero(np.isfinite(outputs)) >= len(probes) // 2:
            break
    defined = np.isfinite(outputs)
    with np.errstate(all="ignore"):
        local = op.local(values, outputs)
    for wrt in range(arity):
        textbook = op.textbook(wrt)
        with np.errstate(all="ignore"):
            derived = np.broadcast_to(np.asarray(array_function(op.derived(wrt), symbols)(*columns), dtype=float), defined.shape)
            printed = np.broadcast_to(np.asarray(array_function(textbook, symbols + (OUT[0],))(*columns, outputs), dtype=float), defined.shape)
            recognised = np.broadcast_to(
                np.asarray(array_function(textbook.xreplace({OUT[0]: body}), symbols)(*columns), dtype=float), defined.shape)
        where = defined & np.isfinite(derived)
        if not np.allclose(recognised[where], derived[where], rtol=1e-9, atol=1e-12):
            raise TextbookFormError(op, wrt)
        if not np.allclose(local[..., wrt][where], printed[where], rtol=1e-12, atol=1e-15):
            raise TextbookFormError(op, wrt, "the engine's local numbers are not the printed form's")


# ---------------------------------------------------------------------------
# The penalty of loss.regularization (SPEC.md §9)
# ---------------------------------------------------------------------------

#: the penalty's coefficients as symbols (λ₂ of the L2 term, λ₁ of the L1 term)
L2, L1 = sp.symbols("lambda_l2 lambda_l1", positive=True)
_W = sp.Symbol("w", real=True)


@dataclass(frozen=True)
class Penalty:
    """``(λ₂/2)·Σ w² + λ₁·Σ |w|`` over the weights (not the biases), added once to the loss.

    Its local equation per weight, ``(λ₂/2)·w² + λ₁·|w|``, is differentiated by SymPy once:
    ``λ₂·w + λ₁·sign(w)`` — the term each weight's gradient gets (at w = 0 the L1 part is 0,
    as torch's ``sign``)."""

    l2: float
    l1: float

    def term(self, w: sp.Expr) -> sp.Expr:
        parts = []
        if self.l2:
            parts.append(sp.Mul(sp.Rational(1, 2), L2, sp.Pow(w, 2, evaluate=False), evaluate=False))
        if self.l1:
            parts.append(sp.Mul(L1, sp.Abs(w), evaluate=False))
        return sp.Add(*parts, evaluate=False) if len(parts) > 1 else parts[0]

    def expression(self, weights: Sequence[sp.Symbol]) -> sp.Expr:
        """The whole penalty over ``weights``: ``(λ₂/2)·(w₁² + w₂² + …) + λ₁·(|w₁| + …)``."""
        parts = []
        if self.l2:
            parts.append(sp.Mul(sp.Rational(1, 2), L2, sp.Add(*(sp.Pow(w, 2, evaluate=False) for w in weights), evaluate=False), evaluate=False))
        if self.l1:
            parts.append(sp.Mul(L1, sp.Add(*(sp.Abs(w) for w in weights), evaluate=False), evaluate=False))
        return sp.Add(*parts, evaluate=False) if len(parts) > 1 else parts[0]

    def derivative(self, w: sp.Symbol) -> sp.Expr:
        """SymPy's derivative of the one-weight term with respect to ``w``."""
        return _penalty_derivative(self.l2 != 0, self.l1 != 0).xreplace({_W: w})

    def coefficients(self) -> dict[sp.Symbol, float]:
        return {symbol: value for symbol, value in ((L2, self.l2), (L1, self.l1)) if value}

    def value(self, weights: np.ndarray) -> float:
        return float(self.l2 / 2 * np.sum(weights * weights) + self.l1 * np.sum(np.abs(weights)))

    def gradient(self, weights: np.ndarray) -> np.ndarray:
        return self.l2 * weights + self.l1 * np.sign(weights)


@lru_cache(maxsize=None)
def _penalty_derivative(l2: bool, l1: bool) -> sp.Expr:
    derived = sp.diff(Penalty(1.0 if l2 else 0.0, 1.0 if l1 else 0.0).term(_W).doit(), _W)
    # as the texts write it: the coefficient first (λ·w + λ₁·sign(w)), the L2 term first
    terms = sorted(sp.Add.make_args(derived), key=lambda t: L1 in t.free_symbols)
    ordered = [sp.Mul(*sorted(sp.Mul.make_args(t), key=lambda f: f not in (L2, L1)), evaluate=False) for t in terms]
    assert sp.simplify(sp.Add(*ordered) - derived) == 0
    return sp.Add(*ordered, evaluate=False) if len(ordered) > 1 else ordered[0]
