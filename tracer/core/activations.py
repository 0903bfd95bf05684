"""Activation functions: each owns its SymPy expression, its textbook derivative and a NumPy twin.

The engine never hard-codes a derivative. For every activation it differentiates
the *local equation* ``a = f(z)`` with SymPy, then recognises the result as the
textbook form (σ(1−σ), 1−tanh², p_i(δ_ij − p_j), …) by checking that the two agree
(:func:`check_textbook_form`, run once per activation and cached). The textbook form
is what the worked solution shows and what is evaluated, because it is the form the
source texts use ("out_o1 (1 − out_o1)").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import sympy as sp

from tracer.spec import ActivationSpec


@dataclass(frozen=True)
class Activation:
    """One elementwise activation ``a = f(z)``."""

    name: str
    params: tuple[tuple[str, float], ...] = ()
    relu_at_zero: int = 0  # derivative convention at the kink (SPEC.md §1)

    # -- SymPy ------------------------------------------------------------------
    def expr(self, z: sp.Expr) -> sp.Expr:
        """The forward local equation's right-hand side f(z)."""
        alpha = self._alpha()
        return {
            "identity": lambda: z,
            "sigmoid": lambda: 1 / (1 + sp.exp(-z)),
            "tanh": lambda: sp.tanh(z),
            "relu": lambda: sp.Max(0, z),
            "leaky_relu": lambda: sp.Piecewise((z, z >= 0), (alpha * z, True)),
            "elu": lambda: sp.Piecewise((z, z >= 0), (alpha * (sp.exp(z) - 1), True)),
            "softplus": lambda: sp.log(1 + sp.exp(z)),
            "arctan": lambda: sp.atan(z),
            "step": lambda: sp.Piecewise((1, z >= 0), (0, True)),
        }[self.name]()

    def textbook(self, z: sp.Symbol, a: sp.Symbol) -> sp.Expr:
        """f'(z) written the way the texts write it, in terms of the output ``a`` where they do."""
        alpha = self._alpha()
        at0_one = self.relu_at_zero == 1
        kink = (z >= 0) if at0_one else (z > 0)
        return {
            "identity": lambda: sp.Integer(1),
            "sigmoid": lambda: sp.Mul(a, (1 - a), evaluate=False),
            "tanh": lambda: 1 - a**2,
            "relu": lambda: sp.Piecewise((1, kink), (0, True)),
            "leaky_relu": lambda: sp.Piecewise((1, kink), (alpha, True)),
            "elu": lambda: sp.Piecewise((1, kink), (a + alpha, True)),
            "softplus": lambda: 1 / (1 + sp.exp(-z)),
            "arctan": lambda: 1 / (1 + z**2),
            "step": lambda: sp.Integer(0),
        }[self.name]()

    @property
    def has_kink(self) -> bool:
        return self.name in ("relu", "leaky_relu", "elu")

    def kink_note(self) -> str:
        if not self.has_kink:
            return ""
        value = {"relu": self.relu_at_zero, "leaky_relu": 1 if self.relu_at_zero else self._alpha(), "elu": 1 if self.relu_at_zero else 1}[self.name]
        return f"{self.name}'(0) is undefined; this solution uses the convention {self.name}'(0) = {value:g}"

    # -- numbers ---------------------------------------------------------------
    def value(self, z: float) -> float:
        return _forward_fn(self)(z)

    def derivative_value(self, z: float, a: float) -> float:
        return _textbook_fn(self)(z, a)

    # -- NumPy twin (used by the property tests and by quiz screening) ---------
    def numpy(self, z: np.ndarray) -> np.ndarray:
        alpha = self._alpha()
        return {
            "identity": lambda: z,
            "sigmoid": lambda: 1 / (1 + np.exp(-z)),
            "tanh": lambda: np.tanh(z),
            "relu": lambda: np.maximum(z, 0.0),
            "leaky_relu": lambda: np.where(z >= 0, z, alpha * z),
            "elu": lambda: np.where(z >= 0, z, alpha * (np.exp(np.minimum(z, 0)) - 1)),
            "softplus": lambda: np.logaddexp(0, z),
            "arctan": lambda: np.arctan(z),
            "step": lambda: (z >= 0).astype(float),
        }[self.name]()

    def _alpha(self) -> float:
        return dict(self.params).get("alpha", 0.0)


@dataclass(frozen=True)
class Softmax:
    """The vector activation ``a_m = e^{z_m} / Σ_k e^{z_k}`` of an output layer."""

    name: str = "softmax"
    params: tuple = ()
    relu_at_zero: int = 0
    has_kink: bool = False

    def expr(self, zs: list[sp.Symbol], m: int) -> sp.Expr:
        return sp.exp(zs[m]) / sp.Add(*[sp.exp(z) for z in zs], evaluate=False)

    def textbook(self, a_m: sp.Symbol, a_j: sp.Symbol, same: bool) -> sp.Expr:
        """∂a_m/∂z_j = a_m (1 − a_j) when m = j, −a_m a_j otherwise (source 004 §7.4.2)."""
        if same:
            return sp.Mul(a_m, (1 - a_m), evaluate=False)
        return sp.Mul(-1, a_m, a_j, evaluate=False)

    def values(self, zs: list[float]) -> list[float]:
        top = max(zs)
        exps = [math.exp(z - top) for z in zs]
        total = sum(exps)
        return [e / total for e in exps]

    def derivative_value(self, a_m: float, a_j: float, same: bool) -> float:
        return a_m * (1 - a_m) if same else -a_m * a_j

    def numpy(self, z: np.ndarray) -> np.ndarray:
        e = np.exp(z - np.max(z))
        return e / e.sum()

    def kink_note(self) -> str:
        return ""


def make(spec: ActivationSpec, relu_at_zero: int = 0) -> Activation | Softmax:
    if spec.name == "softmax":
        return Softmax()
    return Activation(spec.name, spec.params, relu_at_zero)


# ---------------------------------------------------------------------------
# Derivation by SymPy, recognised as the textbook form (once per activation).
# ---------------------------------------------------------------------------

Z, A = sp.symbols("z a", real=True)


@lru_cache(maxsize=None)
def local_derivative(act: Activation) -> sp.Expr:
    """``d f(z)/dz`` exactly as SymPy differentiates the local equation (before recognition)."""
    return sp.diff(act.expr(Z), Z)


@lru_cache(maxsize=None)
def check_textbook_form(act: Activation | Softmax) -> bool:
    """Is the textbook form really the derivative of the local equation?

    Checked symbolically where SymPy can (smooth functions), and at points on both
    sides of the kink for the piecewise ones. Raises AssertionError if not: the
    engine must never print a derivative it did not derive.
    """
    if isinstance(act, Softmax):
        zs = list(sp.symbols("z1:4", real=True))
        for m in range(3):
            for j in range(3):
                derived = sp.diff(act.expr(zs, m), zs[j])
                ps = [act.expr(zs, k) for k in range(3)]
                textbook = act.textbook(ps[m], ps[j], m == j)
                assert sp.simplify(derived - textbook) == 0, (m, j)
        return True
    derived = local_derivative(act)
    textbook = act.textbook(Z, A).subs(A, act.expr(Z))
    if act.name in ("relu", "leaky_relu", "elu", "step"):
        for point in (-2.5, -0.3, 0.7, 3.1):
            d = derived.subs(Z, point)
            d = d.rewrite(sp.Piecewise) if d.has(sp.Heaviside) else d
            assert abs(float(d.doit()) - float(textbook.subs(Z, point))) < 1e-12, (act.name, point)
        return True
    assert sp.simplify((derived - textbook).rewrite(sp.exp)) == 0, act.name
    return True


@lru_cache(maxsize=None)
def _forward_fn(act: Activation) -> Callable[[float], float]:
    alpha = act._alpha()
    table: dict[str, Callable[[float], float]] = {
        "identity": lambda z: z,
        "sigmoid": lambda z: 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z)),
        "tanh": math.tanh,
        "relu": lambda z: max(0.0, z),
        "leaky_relu": lambda z: z if z >= 0 else alpha * z,
        "elu": lambda z: z if z >= 0 else alpha * math.expm1(z),
        "softplus": lambda z: math.log1p(math.exp(-abs(z))) + max(z, 0.0),
        "arctan": math.atan,
        "step": lambda z: 1.0 if z >= 0 else 0.0,
    }
    return table[act.name]


@lru_cache(maxsize=None)
def _textbook_fn(act: Activation) -> Callable[[float, float], float]:
    """The textbook form as a function of (z, a): lambdified once, evaluated per unit."""
    check_textbook_form(act)
    form = act.textbook(Z, A)
    if isinstance(form, sp.Piecewise):
        # evaluate piecewise conditions exactly (lambdify would too, but keep it plain)
        pieces = [(sp.lambdify((Z, A), e, "math"), sp.lambdify((Z,), c, "math") if c is not sp.true else None) for e, c in form.args]

        def piecewise(z: float, a: float) -> float:
            for value, cond in pieces:
                if cond is None or cond(z):
                    return float(value(z, a))
            raise ValueError("no piece matched")

        return piecewise
    fn = sp.lambdify((Z, A), form, "math")
    return lambda z, a: float(fn(z, a))
