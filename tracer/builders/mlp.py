"""The symbolic graph: a symbol for every quantity and each node's local equation.

Knows no numbers (beyond the problem's shape) and no notation: symbols are named by
their canonical names (``W2[1,1]``, ``a2[1]``) and a theme maps those names to the
notation of a source text when a document is rendered.

Local equations, as the texts write them:

* pre-activation ``z_l[j] = Σ_i W_l[j,i] · a_{l-1}[i] + b_l[j]`` (``a_0`` is the input ``x``);
* activation ``a_l[j] = f(z_l[j])`` (softmax: ``a_L[m] = e^{z_L[m]} / Σ_k e^{z_L[k]}``);
* loss term ``loss[k] = E(a_L[k], y[k])``; sample loss ``loss = Σ_k loss[k]`` (or the mean).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy as sp

from tracer.core import activations

from tracer.core import losses
from tracer.core.keys import Quantity, format_quantity
from tracer.spec import Problem


def symbol(q: Quantity) -> sp.Symbol:
    """The SymPy symbol of a quantity (sample-free: the same symbol in every sample)."""
    return sp.Symbol(format_quantity(Quantity(q.base, q.layer, q.index, None, q.after)), real=True)


def x(i: int) -> Quantity:
    return Quantity("x", None, (i,))


def y(k: int) -> Quantity:
    return Quantity("y", None, (k,))


def z(l: int, j: int) -> Quantity:
    return Quantity("z", l, (j,))


def a(l: int, j: int) -> Quantity:
    """The activation of unit j of layer l; layer 0 is the input."""
    return x(j) if l == 0 else Quantity("a", l, (j,))


def W(l: int, j: int, i: int) -> Quantity:
    return Quantity("W", l, (j, i))


def loss_term(k: int) -> Quantity:
    return Quantity("loss", None, (k,))


LOSS = Quantity("loss")


@dataclass(frozen=True)
class Layer:
    number: int
    units: int
    fan_in: int
    activation: activations.Activation | activations.Softmax
    bias: str  # "unit" | "shared" | "none"
    trainable_bias: bool

    def bias_of(self, j: int) -> Quantity | None:
        if self.bias == "none":
            return None
        if self.bias == "shared":
            return Quantity("b", self.number, ())
        return Quantity("b", self.number, (j,))

    @property
    def is_softmax(self) -> bool:
        return isinstance(self.activation, activations.Softmax)


class Network:
    """The shape of the computation graph of a problem, with every local equation."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.loss = losses.make(problem.loss)
        self.layers: list[Layer] = []
        fan_in = problem.inputs
        for number, spec in enumerate(problem.layers, start=1):
            bias = "none" if spec.bias is None else ("shared" if spec.shared_bias else "unit")
            act = activations.make(spec.activation, problem.relu_derivative_at_zero)
            self.layers.append(Layer(number, spec.units, fan_in, act, bias, spec.trainable_bias))
            fan_in = spec.units

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def outputs(self) -> int:
        return self.layers[-1].units

    def layer(self, l: int) -> Layer:
        return self.layers[l - 1]

    # -- local equations ---------------------------------------------------------
    def affine_terms(self, l: int, j: int) -> list[tuple[Quantity, Quantity]]:
        """The (weight, input) pairs of ``z_l[j]``, in the order the texts write them."""
        return [(W(l, j, i), a(l - 1, i)) for i in range(1, self.layer(l).fan_in + 1)]

    def pre_activation_equation(self, l: int, j: int) -> sp.Expr:
        terms = [sp.Mul(symbol(w), symbol(inp), evaluate=False) for w, inp in self.affine_terms(l, j)]
        b = self.layer(l).bias_of(j)
        if b is not None:
            terms.append(symbol(b))
        return sp.Add(*terms, evaluate=False)

    def activation_equation(self, l: int, j: int) -> sp.Expr:
        layer = self.layer(l)
        if layer.is_softmax:
            zs = [symbol(z(l, k)) for k in range(1, layer.units + 1)]
            return layer.activation.expr(zs, j - 1)  # type: ignore[call-arg]
        return layer.activation.expr(symbol(z(l, j)))  # type: ignore[call-arg]

    def loss_term_equation(self, k: int) -> sp.Expr:
        return self.loss.term(symbol(a(self.depth, k)), symbol(y(k)))

    def sample_loss_equation(self) -> sp.Expr:
        terms = [symbol(loss_term(k)) for k in range(1, self.outputs + 1)]
        total = sp.Add(*terms, evaluate=False) if len(terms) > 1 else terms[0]
        if self.loss.outputs == "mean" and len(terms) > 1:
            return sp.Mul(sp.Rational(1, len(terms)), total, evaluate=False)
        return total

    @cached_property
    def parameter_names(self) -> list[str]:
        return self.problem.parameter_names()


# ---------------------------------------------------------------------------
# The affine equation's local derivatives, derived once by SymPy on a generic
# term and instantiated per weight: ∂(w·u + rest)/∂w = u, ∂/∂u = w, ∂/∂b = 1.
# ---------------------------------------------------------------------------

_w, _u, _b, _rest = sp.symbols("w u b rest", real=True)
_AFFINE = _w * _u + _b + _rest


@lru_cache(maxsize=None)
def affine_derivative(wrt: str) -> sp.Expr:
    """SymPy's derivative of a generic weighted sum w.r.t. a weight, an input or the bias."""
    return sp.diff(_AFFINE, {"weight": _w, "input": _u, "bias": _b}[wrt])


def affine_local_derivative(wrt: str, weight: Quantity, inp: Quantity | None) -> sp.Expr:
    """Instantiate the generic derivative for one weight/input pair of a real equation."""
    mapping = {_w: symbol(weight)}
    if inp is not None:
        mapping[_u] = symbol(inp)
    return affine_derivative(wrt).xreplace(mapping)
