"""Gradient descent on a function of a few variables, as data; nothing here formats.

:func:`descend` runs gradient descent on an expression: the gradient is derived
once (``sympy.diff``) and compiled into plain-float closures by :func:`compile_float`
(no ``lambdify``, no ``exec``), then iterated; a run that overflows or keeps growing
is flagged.

With an optimizer other than plain gradient descent (SPEC.md §9: momentum, Nesterov,
AdaGrad, RMSprop, Adam, as torch.optim defines them) each update is the optimizer's own
local equations (:mod:`tracer.core.optimizers`), evaluated with ``optimizers.apply``;
every quantity they compute is kept on the iterate it leads to, and each update is
checked against the independent NumPy twin (:func:`tracer.numeric.optimizers.update`):
a disagreement raises :class:`OptimizerMismatch`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from tracer.calculus.budget import check_time, time_limit
from tracer.calculus.derivatives import _check_size, expression_size, real_steps
from tracer.core import optimizers
from tracer.numeric import optimizers as twin
from tracer.spec import OptimizerSpec
from tracer.spec.optimizer_state import OptimizerState

#: plain gradient descent, θ_{k+1} = θ_k − α ∇f(θ_k): the default
SGD = OptimizerSpec()


class OptimizerMismatch(Exception):
    """An optimizer step computed from its equations disagrees with the NumPy twin."""


def _safe(fn: Callable[..., float]) -> Callable[..., float]:
    def wrapped(*args: float) -> float:
        try:
            value = fn(*args)
        except OverflowError:
            return math.inf
        except (ValueError, ZeroDivisionError):
            return math.nan
        if isinstance(value, complex):
            return math.nan
        return value

    return wrapped


def _pow(base: float, exponent: float) -> float:
    if base == 0 and exponent < 0:
        return math.inf
    return math.pow(base, exponent)


def _heaviside(x: float, at_zero: float = 0.5) -> float:
    return 1.0 if x > 0 else (0.0 if x < 0 else at_zero)


_FLOAT_FUNCTIONS: dict[type, Callable[..., float]] = {
    sp.exp: math.exp,
    sp.log: lambda u: math.log(u) if u > 0 else (-math.inf if u == 0 else math.nan),
    sp.sin: math.sin,
    sp.cos: math.cos,
    sp.tan: math.tan,
    sp.sec: lambda u: 1 / math.cos(u),
    sp.csc: lambda u: 1 / math.sin(u),
    sp.cot: lambda u: 1 / math.tan(u),
    sp.asin: math.asin,
    sp.acos: math.acos,
    sp.atan: math.atan,
    sp.sinh: math.sinh,
    sp.cosh: math.cosh,
    sp.tanh: math.tanh,
    sp.Abs: abs,
    sp.sign: lambda u: float((u > 0) - (u < 0)),
    sp.Heaviside: _heaviside,
    sp.Max: max,
    sp.Min: min,
}


def compile_float(expr: sp.Expr, variables: Sequence[sp.Symbol]) -> Callable[[Sequence[float]], float]:
    """``expr`` as a plain-float function of ``variables`` (a point is a sequence in that order).

    Built once as nested closures over the SymPy tree — no code generation, so no
    ``exec`` — and safe: overflow gives ±inf, a domain error gives NaN.
    """
    index = {v: k for k, v in enumerate(variables)}

    def build(e: sp.Expr) -> Callable[[Sequence[float]], float]:
        if e.is_Symbol:
            if e not in index:
                raise ValueError(f"no value for {e.name}")
            k = index[e]
            return lambda p: p[k]
        if e.is_number:
            try:
                c = complex(sp.N(e, 20))
            except (TypeError, ValueError):
                c = complex(math.nan)
            constant = c.real if abs(c.imag) == 0 else math.nan
            return lambda p: constant
        if e.is_Add:
            terms = [build(a) for a in e.args]
            return lambda p: sum(t(p) for t in terms)
        if e.is_Mul:
            factors = [build(a) for a in e.args]

            def product(p):
                out = 1.0
                for f in factors:
                    out *= f(p)
                return out

            return product
        if e.is_Pow:
            base, exponent = build(e.args[0]), build(e.args[1])
            safe_pow = _safe(_pow)
            if e.args[1] == sp.Rational(1, 2):
                root = _safe(math.sqrt)
                return lambda p: root(base(p))
            return lambda p: safe_pow(base(p), exponent(p))
        fn = _FLOAT_FUNCTIONS.get(type(e))
        if fn is None:
            raise ValueError(f"cannot evaluate {type(e).__name__} numerically")
        args = [build(a) for a in e.args]
        safe_fn = _safe(fn)
        return lambda p: safe_fn(*[a(p) for a in args])

    return build(expr)


@dataclass(frozen=True)
class Iterate:
    """θ_k with f(θ_k) and ∇f(θ_k); the update θ_{k+1} = θ_k − α ∇f(θ_k) gives the next one."""

    step: int
    point: tuple[float, ...]
    value: float
    gradient: tuple[float, ...]
    #: the optimizer's quantities, per variable: the state after the update that led here (the
    #: zero state at step 0) and the corrected moments (``m_hat``, ``v_hat``); empty for plain descent
    state: tuple[tuple[str, tuple[float, ...]], ...] = ()

    def quantity(self, name: str) -> tuple[float, ...]:
        """The value per variable of the optimizer quantity ``name`` (``v``, ``m_hat``, …)."""
        return dict(self.state)[name]

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in (*self.point, self.value, *self.gradient))


@dataclass(frozen=True)
class Descent:
    function: sp.Expr
    variables: tuple[sp.Symbol, ...]
    gradient: tuple[sp.Expr, ...]  # ∂f/∂v per variable, derived once
    learning_rate: float
    requested_steps: int
    iterates: tuple[Iterate, ...]  # θ_0 … θ_N (fewer when it stopped early)
    stopped_at: int | None = None  # the step whose iterate left the floating-point range
    growing_from: int | None = None  # the value rose at every step from this one to the end
    name: str | None = None
    optimizer: OptimizerSpec = SGD
    #: the state the optimizer starts from (``--state``): given values, the steps already taken,
    #: heavy-ball's previous iterate (whose velocity is the first iterate's ``v``)
    start_state: OptimizerState = OptimizerState()

    @property
    def taken(self) -> int:
        """Steps the optimizer took before θ₀ (``--state step=…``): update k reads t = taken + k."""
        return self.start_state.step

    @property
    def previous(self) -> tuple[float, ...] | None:
        """Heavy-ball's previous iterate θ₋₁ per variable (θ₀ where not given), if ``--state`` gave one."""
        given = self.start_state.previous
        if not given:
            return None
        return tuple(given.get(v.name, p) for v, p in zip(self.variables, self.iterates[0].point))

    @property
    def rule(self) -> optimizers.Rule:
        """The optimizer's equations (plain descent: θ' = θ − η·g)."""
        return optimizers.rule(self.optimizer)

    @property
    def hyperparameters(self) -> dict[str, float]:
        return optimizers.hyperparameters(self.optimizer)

    @property
    def diverged(self) -> bool:
        """Non-finite numbers, or a value that rose at every step since ``growing_from``."""
        return self.stopped_at is not None or self.growing_from is not None

    @property
    def final(self) -> Iterate:
        return self.iterates[-1]

    def update(self, k: int) -> tuple[Iterate, Iterate]:
        """The iterates before and after update k (1-based): θ_k = θ_{k−1} − α ∇f(θ_{k−1})."""
        return self.iterates[k - 1], self.iterates[k]


def sample_curve(descent: Descent, lo: float, hi: float, samples: int = 200) -> list[tuple[float, float]]:
    """(θ, f(θ)) at ``samples`` evenly spaced θ in [lo, hi], for plotting a one-variable descent."""
    if len(descent.variables) != 1:
        raise ValueError("a curve needs a function of one variable")
    f = compile_float(descent.function, descent.variables)
    n = max(samples, 2)
    xs = [lo + (hi - lo) * k / (n - 1) for k in range(n)]
    return [(x, f((x,))) for x in xs]


def sample_grid(descent: Descent, x_range: tuple[float, float], y_range: tuple[float, float], samples: int = 48) -> list[list[float]]:
    """f(x, y) on a ``samples`` × ``samples`` grid over the ranges (row k: y = y_k), for the contour
    lines of a two-variable descent's plot; a value that cannot be computed is nan."""
    if len(descent.variables) != 2:
        raise ValueError("contour lines need a function of two variables")
    f = compile_float(descent.function, descent.variables)
    n = max(samples, 2)
    xs = [x_range[0] + (x_range[1] - x_range[0]) * k / (n - 1) for k in range(n)]
    ys = [y_range[0] + (y_range[1] - y_range[0]) * k / (n - 1) for k in range(n)]
    grid = []
    for y in ys:
        row = []
        for x in xs:
            try:
                value = float(f((x, y)))
            except (ValueError, ZeroDivisionError, OverflowError):
                value = math.nan
            row.append(value if math.isfinite(value) else math.nan)
        grid.append(row)
    return grid


#: gradient descent evaluates the expression and its gradient once per step (no steps printed)
DESCEND_MAX_NODES = 2000
DESCEND_MAX_DEPTH = 100
DESCEND_MAX_FACTORS = 64
DESCEND_MAX_GRADIENT_NODES = 20_000

#: seconds the symbolic part of `descend` may take (the gradient, derived and compiled once)
DESCEND_SECONDS = 1.5

#: a run counts as diverging when its value rose at this many consecutive steps up to the end
GROWING_STEPS = 3


def descend(
    expr: sp.Expr,
    start: Mapping[sp.Symbol, float],
    lr: float,
    steps: int,
    *,
    name: str | None = None,
    optimizer: OptimizerSpec = SGD,
    state: OptimizerState = OptimizerState(),
) -> Descent:
    """Gradient descent θ_{k+1} = θ_k − lr · ∇f(θ_k) from ``start`` for ``steps`` updates,
    or ``optimizer``'s update (its state starting at zero, or at ``state``, by variable name;
    update k reads t = ``state.step`` + k).

    ``start`` fixes the variables and their order; every free symbol of ``expr``
    needs a start value. Stops early (``stopped_at``) when a number overflows.
    Raises :class:`OptimizerMismatch` when an optimizer step disagrees with the NumPy twin.
    """
    variables = tuple(start)
    _check_size(expr, DESCEND_MAX_DEPTH, DESCEND_MAX_NODES, DESCEND_MAX_FACTORS, "for gradient descent")
    missing = expr.free_symbols - set(variables)
    if missing:
        raise ValueError(f"no start value for {', '.join(sorted(s.name for s in missing))}")
    if steps < 0:
        raise ValueError("steps must be >= 0")
    with time_limit(DESCEND_SECONDS, "to derive the gradient"):
        with real_steps():
            gradient = tuple(sp.diff(expr, v) for v in variables)
        for v, g in zip(variables, gradient):
            check_time()
            if expression_size(g).nodes > DESCEND_MAX_GRADIENT_NODES:
                raise ValueError(f"the gradient ∂/∂{v.name} is too large to evaluate step by step (more than {DESCEND_MAX_GRADIENT_NODES} terms and operations)")
        f = compile_float(expr, variables)
        grads = [compile_float(g, variables) for g in gradient]
        shown_gradient = tuple(sp.factor_terms(g) if expression_size(g).nodes <= 400 else g for g in gradient)
    rate = float(lr)
    point = tuple(float(start[v]) for v in variables)
    iterates: list[Iterate] = []
    stopped_at = None
    plain = optimizer.plain
    if state.given and plain:
        raise ValueError("plain gradient descent keeps no state")
    given = {name: np.array([per.get(v.name, p if name == "previous" else 0.0) for v, p in zip(variables, point)])
             for name, per in ((n, state.of(n)) for n, _ in state.values)}
    start_state = state
    state = {} if plain else optimizers.starting_state(optimizer, given, np.array(point), rate)
    # the twin's own starting state, from the same given numbers (tracer.numeric.optimizers)
    twin_state = {} if plain else _twin_start(optimizer, start_state, variables, point, rate)
    shown: tuple[tuple[str, tuple[float, ...]], ...] = tuple((n, tuple(float(v) for v in a)) for n, a in state.items())
    for k in range(steps + 1):
        value = f(point)
        grad = tuple(g(point) for g in grads)
        current = Iterate(k, point, value, grad, shown)
        iterates.append(current)
        if not current.finite:
            stopped_at = k
            break
        if k == steps:
            break
        if plain:
            point = tuple(p - rate * g for p, g in zip(point, grad))
            continue
        values, twin_state = _optimizer_step(optimizer, np.array(point), np.array(grad), state, start_state.step + k + 1, rate, twin_state)
        state = {n: values[n] for n in optimizers.rule(optimizer).states}
        point = tuple(float(v) for v in values[optimizers.AFTER])
        shown = tuple((n, tuple(float(v) for v in values[n])) for n in optimizers.rule(optimizer).shown)
    growing_from = None
    values = [it.value for it in iterates if math.isfinite(it.value)]
    rises = 0
    for a, b in zip(reversed(values[:-1]), reversed(values[1:])):
        if b > a:
            rises += 1
        else:
            break
    if rises >= GROWING_STEPS:
        growing_from = len(values) - 1 - rises
    return Descent(
        expr,
        variables,
        shown_gradient,
        rate,
        steps,
        tuple(iterates),
        stopped_at,
        growing_from,
        name,
        optimizer,
        start_state,
    )


def _hyper(spec: OptimizerSpec) -> twin.Hyper:
    return twin.Hyper(spec.name, spec.beta, spec.nesterov, spec.alpha, spec.beta1, spec.beta2, spec.epsilon, spec.weight_decay)


def _twin_start(spec: OptimizerSpec, state: OptimizerState, variables, point, rate: float) -> dict[str, np.ndarray]:
    """The twin's state before the first update, made by the twin from the given numbers."""
    names = [v.name for v in variables]
    start = twin.starting_state(_hyper(spec), {n: state.of(n) for n, _ in state.values}, dict(zip(names, point)), rate)
    return {n: np.array([per[v] for v in names]) for n, per in start.items()}


def _optimizer_step(spec: OptimizerSpec, theta: np.ndarray, gradient: np.ndarray, state: dict[str, np.ndarray], t: int,
                    rate: float, twin_state: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Step ``t`` from the optimizer's equations, checked against the NumPy twin (which carries its
    own state, from its own reading of the starting state): the values, and the twin's state after."""
    values = optimizers.apply(spec, theta, gradient, state, t, rate)
    with np.errstate(all="ignore"):
        after, new, intermediates = twin.update(_hyper(spec), theta, gradient, twin_state, t, rate)
    expected = {optimizers.AFTER: after, **new, **{k: v for k, v in intermediates.items() if k in values}}
    for name, value in expected.items():
        if name not in values or not np.allclose(values[name], value, rtol=1e-9, atol=1e-12, equal_nan=True):
            raise OptimizerMismatch(
                f"{spec.name} step {t}: {name} is {values.get(name)} from its equations but {value} from the NumPy twin"
            )
    return values, new
