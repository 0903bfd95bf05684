"""The operations of a graph problem's equations: CS231n's gates, and any other equation.

A graph problem (SPEC.md §7) writes each node as a local equation, ``q = x + y``,
``f = q*z``, ``s = sigmoid(d)``. :func:`operation_of` reads the right-hand side and
returns the operation it is, one small class each, as :mod:`tracer.core.functions`
has them for layers — its forward rule and its local derivative side by side:

* :class:`Add` — ``x + y (+ c)``: passes the gradient on unchanged (a subtracted input
  gets it with its sign flipped);
* :class:`Multiply` — ``x·y``: swaps its inputs (the gradient on x is y times the gradient
  on the output);
* :class:`Scale` — ``c·x``: scales the gradient by the constant;
* :class:`Maximum`, :class:`Minimum` — ``max(x, y)``: routes the gradient to the larger
  (smaller) input; ``max(0, x)`` is the ReLU of :mod:`tracer.core.functions`;
* the activations of :mod:`tracer.core.functions` (σ, tanh, ReLU, softplus, arctan), whose
  derivatives the texts write in their outputs (σ(1 − σ), 1 − tanh²);
* :class:`Exp`, :class:`Log`, :class:`Power` (``1/x``, ``x²``, ``√x``), :class:`Absolute`,
  :class:`Sine`, :class:`Cosine`;
* :class:`Equation` — anything else (``3(a + bc)``): its derivative is SymPy's, of the
  equation itself, with the other arguments held fixed.

Arguments are the equation's names in order of first appearance (``ARG[0], ARG[1], …``).
Each gate says, in :attr:`rule`, how it passes the gradient back, as CS231n explains the
gates; the documents print that sentence beside the local derivative.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Sequence

import numpy as np
import sympy as sp

from tracer.core.functions import (ARG, ENGINE_PRECISION, OUT, Arctan, NotReal, Operation, ReLU, Sigmoid, Softplus, Tanh, array_function,
                                  error_bound, exact_value, real_derivative, with_sigmoid)


class Gate(Operation):
    """What every gate adds to an operation: its kind and the sentence saying how it passes the gradient."""

    kind: ClassVar[str] = "equation"
    arity: int = 1

    @property
    def rule(self) -> str:
        return ""

    def rule_for(self, slot: int) -> str:
        """The rule as it applies to argument ``slot`` (a subtracted input: the sign flips)."""
        return self.rule


@dataclass(frozen=True)
class Add(Gate):
    """``±u0 ± u1 … + c``."""

    signs: tuple[int, ...]
    constant: sp.Rational = sp.Integer(0)
    kind: ClassVar[str] = "add"
    name: ClassVar[str] = "add gate"

    @property
    def arity(self) -> int:  # type: ignore[override]
        return len(self.signs)

    @property
    def rule(self) -> str:
        return "add gate: passes the gradient on unchanged"

    def rule_for(self, slot: int) -> str:
        if self.signs[slot] < 0:
            return "subtraction: passes the gradient on with its sign flipped"
        return self.rule

    def expression(self, args, position=0):
        terms = [a if s > 0 else -a for s, a in zip(self.signs, args)]
        if self.constant != 0:
            terms.append(self.constant)
        return sp.Add(*terms, evaluate=False) if len(terms) > 1 else terms[0]

    def textbook(self, wrt, position=0):
        return sp.Integer(self.signs[wrt])

    cancels: ClassVar[bool] = True

    def magnitude(self, values):
        return np.sum(np.abs(values), axis=-1) + abs(float(self.constant))

    def forward(self, values, positions=None):
        return values @ np.asarray(self.signs, dtype=float) + float(self.constant)

    def local(self, values, outputs, positions=None):
        return np.broadcast_to(np.asarray(self.signs, dtype=float), values.shape).copy()


@dataclass(frozen=True)
class Multiply(Gate):
    """``u0·u1``."""

    arity: int = 2
    kind: ClassVar[str] = "multiply"
    name: ClassVar[str] = "multiply gate"

    @property
    def rule(self) -> str:
        return "multiply gate: the local gradient is the other input (the inputs swap)"

    def expression(self, args, position=0):
        return sp.Mul(args[0], args[1], evaluate=False)

    def textbook(self, wrt, position=0):
        return ARG[1 - wrt]

    def forward(self, values, positions=None):
        return values[..., 0] * values[..., 1]

    def local(self, values, outputs, positions=None):
        return values[..., ::-1].copy()


@dataclass(frozen=True)
class Scale(Gate):
    """``c·u0``: a constant factor (CS231n's ``*−1`` gate)."""

    factor: sp.Rational
    kind: ClassVar[str] = "scale"
    name: ClassVar[str] = "constant factor"

    @property
    def rule(self) -> str:
        return "constant factor: scales the gradient by the constant"

    def expression(self, args, position=0):
        return -args[0] if self.factor == -1 else sp.Mul(self.factor, args[0], evaluate=False)

    def textbook(self, wrt, position=0):
        return self.factor

    def forward(self, values, positions=None):
        return float(self.factor) * values[..., 0]

    def local(self, values, outputs, positions=None):
        return np.full(values.shape, float(self.factor))


@dataclass(frozen=True)
class Maximum(Gate):
    """``max(u0, u1)``: routes the gradient to the larger input; at a tie, half to each
    (SymPy's derivative H(u0 − u1) with H(0) = ½, as torch.maximum splits it)."""

    arity: int = 2
    kind: ClassVar[str] = "max"
    name: ClassVar[str] = "max gate"
    larger: ClassVar[bool] = True

    @property
    def rule(self) -> str:
        return f"{self.kind} gate: routes the gradient to the {'larger' if self.larger else 'smaller'} input"

    def expression(self, args, position=0):
        return (sp.Max if self.larger else sp.Min)(args[0], args[1])

    def textbook(self, wrt, position=0):
        mine, other = ARG[wrt], ARG[1 - wrt]
        wins = mine > other if self.larger else mine < other
        loses = mine < other if self.larger else mine > other
        return sp.Piecewise((1, wins), (0, loses), (sp.Rational(1, 2), True))

    def decisions(self):
        return (ARG[0] - ARG[1],)

    def forward(self, values, positions=None):
        return (np.maximum if self.larger else np.minimum)(values[..., 0], values[..., 1])

    def local(self, values, outputs, positions=None):
        a, b = values[..., 0], values[..., 1]
        first = np.where(a == b, 0.5, np.where((a > b) if self.larger else (a < b), 1.0, 0.0))
        return np.stack([first, 1.0 - first], axis=-1)

    def kink_note(self) -> str:
        return f"at a tie the {self.kind} gate's derivative is undefined; this solution gives half the gradient to each input"


@dataclass(frozen=True)
class Minimum(Maximum):
    kind: ClassVar[str] = "min"
    name: ClassVar[str] = "min gate"
    larger: ClassVar[bool] = False


@dataclass(frozen=True)
class Exp(Gate):
    kind: ClassVar[str] = "exp"
    name: ClassVar[str] = "exp gate"

    @property
    def rule(self) -> str:
        return "exp gate: the local gradient is its own output, exp(u)"

    def expression(self, args, position=0):
        return sp.exp(args[0])

    def textbook(self, wrt, position=0):
        return sp.exp(ARG[0])

    def forward(self, values, positions=None):
        return np.exp(values[..., 0])

    def local(self, values, outputs, positions=None):
        return np.exp(values)


@dataclass(frozen=True)
class Log(Gate):
    kind: ClassVar[str] = "log"
    name: ClassVar[str] = "log gate"

    @property
    def rule(self) -> str:
        return "log gate: the local gradient is 1/u"

    def expression(self, args, position=0):
        return sp.log(args[0])

    def textbook(self, wrt, position=0):
        return 1 / ARG[0]

    def forward(self, values, positions=None):
        return np.log(values[..., 0])

    def local(self, values, outputs, positions=None):
        return 1.0 / values


@dataclass(frozen=True)
class Power(Gate):
    """``u^n`` for a constant n: ``1/u`` (n = −1), ``u²``, ``√u`` (n = ½)."""

    exponent: sp.Rational
    kind: ClassVar[str] = "power"
    name: ClassVar[str] = "power"

    @property
    def rule(self) -> str:
        if self.exponent == -1:
            return "1/x gate: the local gradient is −1 over the square of its input"
        return "power rule: the exponent comes down as a factor and drops by one"

    def expression(self, args, position=0):
        return sp.Pow(args[0], self.exponent)

    def textbook(self, wrt, position=0):
        n = self.exponent
        if n == -1:
            return -1 / ARG[0] ** 2
        if n == sp.Rational(1, 2):
            return 1 / (2 * sp.sqrt(ARG[0]))
        return sp.Mul(n, ARG[0] ** (n - 1), evaluate=False) if n != 2 else sp.Mul(2, ARG[0], evaluate=False)

    def forward(self, values, positions=None):
        return np.power(values[..., 0], float(self.exponent))

    def local(self, values, outputs, positions=None):
        n = float(self.exponent)
        return n * np.power(values, n - 1)


@dataclass(frozen=True)
class Absolute(Gate):
    kind: ClassVar[str] = "abs"
    name: ClassVar[str] = "absolute value"

    @property
    def rule(self) -> str:
        return "absolute value: passes the gradient on with the sign of u"

    def expression(self, args, position=0):
        return sp.Abs(args[0])

    def textbook(self, wrt, position=0):
        return sp.sign(ARG[0])

    def decisions(self):
        return (ARG[0],)

    def forward(self, values, positions=None):
        return np.abs(values[..., 0])

    def local(self, values, outputs, positions=None):
        return np.sign(values)

    def kink_note(self) -> str:
        return "|u|'(0) is undefined; this solution uses the convention sign(0) = 0"


@dataclass(frozen=True)
class Sine(Gate):
    kind: ClassVar[str] = "sin"
    name: ClassVar[str] = "sine"

    @property
    def rule(self) -> str:
        return "sine: the local gradient is cos u"

    def expression(self, args, position=0):
        return sp.sin(args[0])

    def textbook(self, wrt, position=0):
        return sp.cos(ARG[0])

    def forward(self, values, positions=None):
        return np.sin(values[..., 0])

    def local(self, values, outputs, positions=None):
        return np.cos(values)


@dataclass(frozen=True)
class Cosine(Gate):
    kind: ClassVar[str] = "cos"
    name: ClassVar[str] = "cosine"

    @property
    def rule(self) -> str:
        return "cosine: the local gradient is −sin u"

    def expression(self, args, position=0):
        return sp.cos(args[0])

    def textbook(self, wrt, position=0):
        return -sp.sin(ARG[0])

    def forward(self, values, positions=None):
        return np.cos(values[..., 0])

    def local(self, values, outputs, positions=None):
        return -np.sin(values)


@dataclass(frozen=True)
class Equation(Gate):
    """Any other local equation: ``body`` over ``ARG[:arity]``; its local derivative w.r.t. each
    argument is SymPy's, the other arguments held fixed (``∂/∂a 3(a + bc) = 3``)."""

    body: sp.Expr
    arity: int = 1
    written: sp.Expr | None = None  # the right-hand side as the file writes it (3(a + bc), not 3a + 3bc)
    relu_at_zero: int = 0  # relu'(0) of a relu inside the equation (graph.relu_derivative_at_zero)
    kind: ClassVar[str] = "equation"
    name: ClassVar[str] = "equation"
    cancels: ClassVar[bool] = True
    derivative_cancels: ClassVar[bool] = True

    @property
    def rule(self) -> str:
        return ""

    def decisions(self):
        return _branches(self.body, self.arity, self.relu_at_zero)

    def magnitude(self, values):
        """The size of the terms the value is made of: the equation with every sum's terms taken
        by their absolute values (u0·tanh(u1) is its own size — a product of small numbers cancels
        nothing; (a + b − c)·k is (|a| + |b| + |c|)·|k|)."""
        return _sized(_absolute(self.body), self.arity, values)

    def derivative_magnitudes(self, values):
        return np.stack([_sized(_absolute(self.textbook(k)), self.arity, values) for k in range(self.arity)], axis=-1)

    def kink_note(self) -> str:
        notes = []
        if any(_is_relu(m) for m in self.body.atoms(sp.Max)):
            notes.append(f"relu'(0) is undefined; this solution uses the convention relu'(0) = {self.relu_at_zero} (H(0) = {self.relu_at_zero})")
        if any(not _is_relu(m) for m in self.body.atoms(sp.Max, sp.Min)):
            notes.append("at a tie of max or min the derivative is undefined; this solution gives half the gradient to each input (H(0) = 1/2)")
        if self.body.has(sp.Abs):
            notes.append("|u|'(0) is undefined; this solution uses the convention sign(0) = 0")
        return "; ".join(notes)

    def expression(self, args, position=0):
        with sp.evaluate(False):
            return (self.body if self.written is None else self.written).xreplace(dict(zip(ARG[: self.arity], args)))

    def textbook(self, wrt, position=0):
        return _derivative(self.body, wrt, self.relu_at_zero)

    def derived(self, wrt, position=0):
        return _derivative(self.body, wrt, self.relu_at_zero)

    def forward(self, values, positions=None):
        return _evaluated(self._forward, self.body, values)

    def local(self, values, outputs, positions=None):
        return np.stack([_evaluated(f, _derivative(self.body, k, self.relu_at_zero), values) for k, f in enumerate(self._locals)], axis=-1)

    @property
    def _forward(self):
        return _compiled(self.body, self.arity)

    @property
    def _locals(self):
        return tuple(_compiled(_derivative(self.body, k, self.relu_at_zero), self.arity) for k in range(self.arity))


def _evaluated(function, expr: sp.Expr, values: np.ndarray) -> np.ndarray:
    """``expr`` (an equation's right-hand side, or a local derivative) at every row of ``values``,
    in double precision where it can be; where a part of it overflows, divides by zero or has no
    real value (NumPy's floating-point errors, raised), computed again exactly entry by entry."""
    columns = [values[..., k] for k in range(values.shape[-1])]
    shape = values.shape[:-1]
    try:
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            out = np.broadcast_to(np.asarray(function(*columns), dtype=float), shape).copy()
    except FloatingPointError:
        return _exactly_where_overflowed(np.full(shape, np.nan), expr, values)
    arity = values.shape[-1]
    for index in zip(*np.nonzero(np.isfinite(out))):  # where double precision may be off by more than 1e−12: exactly
        if error_bound(expr, ARG[:arity], values[index]) > ENGINE_PRECISION * abs(out[index]):
            out[index] = np.nan
    return _exactly_where_overflowed(out, expr, values)


def _exactly_where_overflowed(out: np.ndarray, expr: sp.Expr, values: np.ndarray) -> np.ndarray:
    """``out`` (an equation's values, or a local derivative's), each entry that double precision
    could not give (inf or nan from finite arguments, or 0 from an exponential's underflow)
    computed again exactly: an overflow inside an expression whose value is finite (softplus(y⁴)
    at y = 10.24 is 10995.1; e^x/(1 + e^x)² at x = 710 is 4.5e−309; a term ln 2/ln(a^(a^e)) at
    a = 100, 5.6e−7, is not the 0 of ln 2/inf) is no reason to refuse it, nor to answer it
    wrong. A part with no real value stays nan."""
    bad = ~np.isfinite(out)
    if expr.has(sp.exp):  # e^x/(1 + e^x)² at x = 710 is 4.5e−309 (subnormal), not the 0 that inf/inf² rounds to
        bad |= out == 0.0
    if not bad.any():
        return out
    arity = values.shape[-1]
    for index in zip(*np.nonzero(bad & np.all(np.isfinite(values), axis=-1))):
        point = values[index]
        try:
            out[index] = exact_value(expr, {ARG[k]: float(point[k]) for k in range(arity)})
        except NotReal:
            out[index] = np.nan
    return out


@lru_cache(maxsize=None)
def _absolute(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every sum's terms by their absolute values: the size its rounding is relative to."""
    if not expr.args or expr.is_Atom:
        return expr
    args = [_absolute(a) for a in expr.args]
    if expr.is_Add:
        return sp.Add(*[sp.Abs(a) for a in args])
    if isinstance(expr, (sp.Piecewise, sp.Heaviside, sp.sign)) or expr.is_Relational or isinstance(expr, sp.logic.boolalg.Boolean):
        return expr
    return expr.func(*args)


def _sized(expr: sp.Expr, arity: int, values: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        columns = [values[..., k] for k in range(arity)]
        size = np.abs(np.broadcast_to(np.asarray(_compiled(expr, arity)(*columns), dtype=float), values.shape[:-1]))
    return np.where(np.isfinite(size), size, 0.0)


def _is_relu(m: sp.Basic) -> bool:
    """Is a max the relu of the file (max(0, u), as ``relu(u)`` is read)?"""
    return isinstance(m, sp.Max) and len(m.args) == 2 and sp.Integer(0) in m.args


@lru_cache(maxsize=None)
def _derivative(body: sp.Expr, wrt: int, relu_at_zero: int = 0) -> sp.Expr:
    """∂body/∂u_wrt on the real line (|u|′ = sign(u)·u′: a graph's values are real or refused),
    common factors taken out as a hand calculation leaves them: ∂/∂z of (z + xy)²·σ(w) is
    2(z + xy)·σ(w), not (2z + 2xy)·σ(w)."""
    derivative = real_derivative(body, ARG[wrt])
    factored = sp.factor_terms(derivative)
    if sp.count_ops(factored) <= sp.count_ops(derivative):
        derivative = factored
    return relu_convention(derivative, body, relu_at_zero)


def relu_convention(derivative: sp.Expr, body: sp.Expr, relu_at_zero: int) -> sp.Expr:
    """A derivative of ``body`` with each relu of ``body`` taking the problem's convention at its kink:
    d/du max(0, u) is SymPy's H(u), with H(0) = ½; here H(u, relu'(0)). (A max of two variables
    keeps H(0) = ½: half the gradient to each input at a tie.)"""
    steps = {sp.Heaviside(u): sp.Heaviside(u, relu_at_zero) for m in body.atoms(sp.Max) if _is_relu(m)
             for u in m.args if u != 0}
    return derivative.xreplace(steps) if steps else derivative


def branch_quantities(expr: sp.Expr) -> list[sp.Expr]:
    """The quantities whose sign picks a branch anywhere in an expression: the arguments of its
    Heaviside steps, signs and absolute values, the differences of a max's or min's arguments, the
    two sides of a comparison."""
    out: list[sp.Expr] = []
    for part in sp.preorder_traversal(expr):
        if isinstance(part, (sp.Heaviside, sp.sign, sp.Abs)):
            out.append(part.args[0])
        elif isinstance(part, (sp.Max, sp.Min)):  # max(0, u): u itself
            out.extend(b if a == 0 else a if b == 0 else a - b for i, a in enumerate(part.args) for b in part.args[i + 1:])
        elif isinstance(part, sp.core.relational.Relational):
            out.append(part.lhs - part.rhs)
    return out


@lru_cache(maxsize=None)
def _branches(body: sp.Expr, arity: int, relu_at_zero: int) -> tuple[sp.Expr, ...]:
    found: list[sp.Expr] = []
    for expr in (body, *(_derivative(body, k, relu_at_zero) for k in range(arity))):
        for q in branch_quantities(expr):
            if q not in found:
                found.append(q)
    return tuple(found)


@lru_cache(maxsize=None)
def _compiled(expr: sp.Expr, arity: int):
    return array_function(expr, ARG[:arity])


# ---------------------------------------------------------------------------
# Reading an equation
# ---------------------------------------------------------------------------


def operation_of(body: sp.Expr, arity: int, *, relu_at_zero: int = 0, written: sp.Expr | None = None) -> Operation:
    """The operation an equation's right-hand side is (over ``ARG[:arity]``): a gate where it is
    one, else an :class:`Equation` (shown as ``written``, computed as ``body``)."""
    args = ARG[:arity]
    if body.is_Add:
        constant = sum((t for t in body.args if t.is_number), sp.Integer(0))
        terms = [t for t in body.args if not t.is_number]
        signs = _signs(terms, args)
        if signs is not None:
            return Add(signs, constant)
    if body.is_Mul and arity == 2 and len(body.args) == 2 and tuple(body.args) in ((args[0], args[1]), (args[1], args[0])):
        return Multiply()
    if arity == 1:
        u = args[0]
        coefficient, rest = body.as_coeff_Mul()
        if rest == u and coefficient.is_Rational and coefficient not in (0, 1):
            return Scale(coefficient)
        if body == Sigmoid().f(u):
            return Sigmoid()
        if body == sp.tanh(u):
            return Tanh()
        if body == sp.Max(0, u):
            return ReLU(relu_at_zero)
        if body == Softplus().f(u):
            return Softplus()
        if body == sp.atan(u):
            return Arctan()
        if body == sp.exp(u):
            return Exp()
        if body == sp.log(u):
            return Log()
        if body.is_Pow and body.base == u and body.exp.is_Rational and body.exp not in (0, 1):
            return Power(body.exp)
        if body == sp.Abs(u):
            return Absolute()
        if body == sp.sin(u):
            return Sine()
        if body == sp.cos(u):
            return Cosine()
    if arity == 2 and body in (sp.Max(args[0], args[1]),):
        return Maximum()
    if arity == 2 and body in (sp.Min(args[0], args[1]),):
        return Minimum()
    # a sigmoid inside an equation stays σ(u), with the textbook derivative σ(1 − σ)
    return Equation(with_sigmoid(body), arity, None if written is None else with_sigmoid(written), relu_at_zero)


def _signs(terms: Sequence[sp.Expr], args: Sequence[sp.Symbol]) -> tuple[int, ...] | None:
    """±1 per argument when the terms are exactly ±u0, ±u1, … (each argument once)."""
    signs: dict[sp.Symbol, int] = {}
    for term in terms:
        if term.is_Symbol:
            signs[term] = 1
        elif term.is_Mul and len(term.args) == 2 and term.args[0] == -1 and term.args[1].is_Symbol:
            signs[term.args[1]] = -1
        else:
            return None
    if len(signs) != len(terms) or set(signs) != set(args):
        return None
    return tuple(signs[a] for a in args)


#: the layers' activations met as gates of an equation, and how they pass the gradient back
_ACTIVATION_RULES = {
    "sigmoid": "sigmoid gate: the local gradient is σ(1 − σ), in its own output",
    "tanh": "tanh gate: the local gradient is 1 minus the square of its own output",
    "relu": "ReLU gate: passes the gradient where its input is positive, blocks it elsewhere",
    "softplus": "softplus gate: the local gradient is the sigmoid of its input",
    "arctan": "arctan: the local gradient is 1/(1 + u²)",
}


def kind_of(op: Operation) -> str:
    """The gate an operation is (``add``, ``multiply``, ``sigmoid``, …; ``equation`` for any other)."""
    if isinstance(op, Gate):
        return op.kind
    return op.name if op.name in _ACTIVATION_RULES else "equation"


def rule_of(op: Operation, slot: int) -> str:
    """How the operation passes the gradient back to argument ``slot`` ("" for a plain equation)."""
    if isinstance(op, Gate):
        return op.rule_for(slot)
    return _ACTIVATION_RULES.get(op.name, "")
