"""An independent NumPy forward/backward pass: the cross-check of the SymPy engine.

Every number of a worked solution is derived symbolically in :mod:`tracer.derive`.
This module computes the same numbers a second way, with matrices and no SymPy,
sharing no code with the symbolic path (it imports nothing from ``tracer`` but the
validated :class:`~tracer.spec.Problem`). Two engines that agree are unlikely to
share a mistake; :func:`finite_differences` is a third, engine-free opinion on the
gradients.

The pass is vectorised over the samples: layer ``l`` turns the activations of all
samples ``A`` (samples × inputs) into ``Z = A Wᵀ + b`` and ``f(Z)``. Each activation
and each loss owns its forward rule *and* its local derivative (micrograd's way);
the engine only composes them by the chain rule:

    ∂loss_s/∂z_l = f_l'(z_l) ⊙ ∂loss_s/∂a_l          (a Jacobian product for softmax)
    ∂loss_s/∂a_{l-1} = W_lᵀ ∂loss_s/∂z_l
    ∂loss_s/∂W_l[j,i] = ∂loss_s/∂z_l[j] · a_{l-1}[i],  ∂loss_s/∂b_l[j] = ∂loss_s/∂z_l[j]

Numbers are never clipped: the log of 0 is ``inf`` and a log of a negative output
is ``nan``, so that a bad problem shows up as a bad number rather than a plausible
one. The single convention is the texts' ``0 · log 0 = 0``: a target of exactly 0
contributes nothing to a cross-entropy, whatever its output.
"""

from __future__ import annotations

import math
import functools
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from tracer.keys import Quantity
from tracer.numeric import exact
from tracer.spec import ActivationSpec, Problem

# ---------------------------------------------------------------------------
# The public results
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SamplePass:
    """The forward and backward pass of one sample (layer index 0 = layer 1)."""

    z: list[np.ndarray]  # pre-activations, shape (units,)
    a: list[np.ndarray]  # activations, shape (units,)
    loss_terms: np.ndarray  # per-output loss terms, before loss.outputs combines them
    loss: float  # this sample's loss
    dloss_da: list[np.ndarray]  # ∂loss_s/∂a per layer
    dloss_dz: list[np.ndarray]  # ∂loss_s/∂z per layer
    da_dz: list[np.ndarray]  # f'(z) (the diagonal) per layer; softmax: the full J[m, j] = ∂a_m/∂z_j
    grads: dict[Quantity, float]  # ∂loss_s/∂θ for every parameter, by its key


@dataclass(frozen=True)
class Pass:
    """The whole data set at one parameter point."""

    samples: list[SamplePass]
    loss: float  # the per-sample losses combined per loss.samples
    grads: dict[Quantity, float]  # gradient of the combined loss, every parameter (trained or not), by its key


# ---------------------------------------------------------------------------
# Activations: each knows its forward rule and its local derivative
# ---------------------------------------------------------------------------


class Elementwise:
    """``a_j = f(z_j)`` unit by unit: its Jacobian is diagonal, kept as the vector f'(z)."""

    def __init__(self, name: str, forward: Callable, derivative: Callable, alpha: float = 0.0):
        self.name = name
        self.forward = forward
        self.derivative = derivative  # f'(z), given z and a = f(z)
        self.alpha = alpha  # leaky_relu's and elu's parameter (for the exact pass)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.forward(z)

    def local_derivative(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return self.derivative(z, a)

    def backward(self, local: np.ndarray, dloss_da: np.ndarray) -> np.ndarray:
        """∂loss/∂z_j = f'(z_j) · ∂loss/∂a_j."""
        return local * dloss_da


class Softmax:
    """``a_m = e^{z_m} / Σ_k e^{z_k}``: every output depends on every z, so the Jacobian is full."""

    name = "softmax"

    def __call__(self, z: np.ndarray) -> np.ndarray:
        e = np.exp(z - np.max(z, axis=-1, keepdims=True))  # shifting by the max cannot change a, only avoid overflow
        return e / e.sum(axis=-1, keepdims=True)

    def local_derivative(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """J[m, j] = ∂a_m/∂z_j = a_m (δ_mj − a_j), one matrix per sample."""
        eye = np.eye(a.shape[-1])
        return a[..., :, None] * (eye - a[..., None, :])

    def backward(self, local: np.ndarray, dloss_da: np.ndarray) -> np.ndarray:
        """∂loss/∂z_j = Σ_m ∂loss/∂a_m · J[m, j]."""
        return np.einsum("...m,...mj->...j", dloss_da, local)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))  # never overflows; both branches are exact rewritings of 1/(1+e^{-z})
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))

#: erf from the standard library, element by element (SciPy is no dependency)
_erf = np.vectorize(math.erf, otypes=[float])


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Φ(z) = ½(1 + erf(z/√2)), as torch's exact GELU computes it."""
    return 0.5 * (1 + _erf(z / math.sqrt(2)))


def _normal_pdf(z: np.ndarray) -> np.ndarray:
    """φ(z) = e^{−z²/2}/√(2π)."""
    return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _gelu_tanh(z: np.ndarray) -> np.ndarray:
    """torch's GELU(approximate='tanh'): ½z(1 + tanh(√(2/π)(z + 0.044715z³)))."""
    return 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))


def _gelu_tanh_slope(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Its derivative from z (the product rule, tanh′ = 1 − t²): ½(1 + t) + ½z(1 − t²)·√(2/π)(1 + 3·0.044715z²)."""
    k = math.sqrt(2 / math.pi)
    t = np.tanh(k * (z + 0.044715 * z**3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * k * (1 + 3 * 0.044715 * z * z)


def _sigmoid_slope(z: np.ndarray) -> np.ndarray:
    """σ'(z) = e^{-|z|} / (1 + e^{-|z|})², computed from z, not as σ(1 − σ): a second route, and
    accurate where σ rounds to 1."""
    e = np.exp(-np.abs(z))
    return e / (1 + e) ** 2


def activation(spec: ActivationSpec, relu_derivative_at_zero: int = 0) -> Elementwise | Softmax:
    """The NumPy activation of a layer.

    At a kink (relu, leaky_relu, elu at z = 0) the derivative follows the problem's
    ``relu_derivative_at_zero``: 1 takes the right-hand slope (1), 0 the left-hand one
    (0 for relu, alpha for leaky_relu and elu).
    """
    if spec.name == "softmax":
        return Softmax()
    alpha = dict(spec.params).get("alpha", 0.0)

    def right(z: np.ndarray) -> np.ndarray:  # where the slope-1 branch's derivative applies
        return z >= 0 if relu_derivative_at_zero == 1 else z > 0

    rules: dict[str, tuple[Callable, Callable]] = {
        "identity": (lambda z: z.copy(), lambda z, a: np.ones_like(z)),
        "sigmoid": (_sigmoid, lambda z, a: _sigmoid_slope(z)),
        "tanh": (np.tanh, lambda z, a: 1 - a**2),
        "relu": (lambda z: np.where(z > 0, z, 0.0), lambda z, a: np.where(right(z), 1.0, 0.0)),
        "leaky_relu": (lambda z: np.where(z >= 0, z, alpha * z), lambda z, a: np.where(right(z), 1.0, alpha)),
        "elu": (
            lambda z: np.where(z >= 0, z, alpha * np.expm1(np.minimum(z, 0))),
            lambda z, a: np.where(right(z), 1.0, alpha * np.exp(np.minimum(z, 0))),
        ),
        "softplus": (lambda z: np.logaddexp(0, z), lambda z, a: _sigmoid(z)),
        "arctan": (np.arctan, lambda z, a: 1 / (1 + z**2)),
        "gelu": (lambda z: z * _normal_cdf(z), lambda z, a: _normal_cdf(z) + z * _normal_pdf(z)),
        "gelu_tanh": (_gelu_tanh, _gelu_tanh_slope),
        # silu′ by another route than the engine's σ(1 + z(1 − σ)): a + σ(z)(1 − a), the same number
        "silu": (lambda z: z * _sigmoid(z), lambda z, a: a + _sigmoid(z) * (1 - a)),
        "step": (lambda z: np.where(z >= 0, 1.0, 0.0), lambda z, a: np.zeros_like(z)),
    }
    forward, derivative = rules[spec.name]
    return Elementwise(spec.name, forward, derivative, alpha)


# ---------------------------------------------------------------------------
# Losses: per-output terms and their derivatives, then how they combine
# ---------------------------------------------------------------------------


def _x_log(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x · ln y, with 0 · ln y = 0 (an absent class costs nothing); ln 0 stays −inf otherwise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(y))


def _x_over(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x / y, with 0 / y = 0: the derivative of the term 0 · ln y."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x / y)


LN_OF_BASE = {"ln": 1.0, "log10": math.log(10), "log2": math.log(2)}


@dataclass(frozen=True)
class Loss:
    """One sample's loss: per-output terms ℓ_k(o_k, y_k) combined by sum or mean."""

    kind: str
    factor: float = 0.5
    log: str = "ln"
    outputs: str = "sum"

    def terms(self, o: np.ndarray, y: np.ndarray, complement: np.ndarray | None = None) -> np.ndarray:
        """ℓ_k; ``complement`` is 1 − o computed without cancellation (σ(−z) for a sigmoid
        output, where o rounds towards 1 and 1 − o keeps few correct digits)."""
        if self.kind == "mse":
            return self.factor * (y - o) ** 2
        if self.kind == "hinge":  # max(0, 1 − y·o), y = ±1
            return np.maximum(0.0, 1 - y * o)
        ln_base = LN_OF_BASE[self.log]
        if self.kind == "cross_entropy":
            return -_x_log(y, o) / ln_base
        return -(_x_log(y, o) + _x_log(1 - y, 1 - o if complement is None else complement)) / ln_base

    def term_derivatives(self, o: np.ndarray, y: np.ndarray, complement: np.ndarray | None = None) -> np.ndarray:
        """∂ℓ_k/∂o_k (each term depends on its own output only)."""
        if self.kind == "mse":
            return -2 * self.factor * (y - o)
        if self.kind == "hinge":  # −y inside the margin (y·o < 1); 0 beyond it and at the kink y·o = 1 (subgradient 0)
            return np.where(y * o < 1, -y, 0.0)
        ln_base = LN_OF_BASE[self.log]
        if self.kind == "cross_entropy":
            return -_x_over(y, o) / ln_base
        return -(_x_over(y, o) - _x_over(1 - y, 1 - o if complement is None else complement)) / ln_base

    def sample_loss(self, terms: np.ndarray) -> np.ndarray:
        return _combine(terms, self.outputs)

    def derivative(self, o: np.ndarray, y: np.ndarray, complement: np.ndarray | None = None) -> np.ndarray:
        """∂loss_s/∂o_k: the term's derivative, divided by the number of outputs when they are averaged."""
        return self.term_derivatives(o, y, complement) * _weight(self.outputs, o.shape[-1])


def _combine(values: np.ndarray, how: str) -> np.ndarray:
    """Sum or mean over the last axis."""
    return values.sum(axis=-1) if how == "sum" else values.mean(axis=-1)


def _weight(how: str, count: int) -> float:
    """d(combined)/d(each part): 1 for a sum, 1/count for a mean."""
    return 1.0 if how == "sum" else 1.0 / count


# ---------------------------------------------------------------------------
# The network as arrays
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layer:
    weights: np.ndarray  # (units, inputs), one row per unit as in the problem file
    bias: np.ndarray | None  # (units,), or (1,) for a shared bias, or None


@dataclass(frozen=True)
class _Gradient:
    """∂loss/∂(a layer's parameters), shaped like the layer (per sample: a leading sample axis)."""

    weights: np.ndarray
    bias: np.ndarray | None

    def combined(self, weight: float) -> "_Gradient":
        """The gradient of the combined loss: the per-sample ones summed, times 1 or 1/S."""
        bias = None if self.bias is None else weight * self.bias.sum(axis=0)
        return _Gradient(weight * self.weights.sum(axis=0), bias)


@dataclass(frozen=True)
class _Network:
    """A problem as arrays, plus what stays fixed during training (data, loss, names, masks)."""

    layers: tuple[_Layer, ...]
    activations: tuple[Elementwise | Softmax, ...]
    loss: Loss
    samples_how: str
    x: np.ndarray  # (samples, inputs)
    y: np.ndarray  # (samples, outputs)
    names: tuple[Quantity, ...]  # the parameters' keys (Problem.parameter_keys), in the order of _flatten
    trainable: tuple[_Layer, ...] | None  # True where a parameter is trained, False where it stays fixed
    learning_rate: float
    order: str
    rates: tuple[float, ...] = ()  # per layer: its own learning rate, or training.learning_rate (SPEC.md §9)
    l2: float = 0.0  # loss.regularization: (l2/2)·Σ W² + l1·Σ |W| over the weights, added once
    l1: float = 0.0

    def penalty(self, layers) -> float:
        if not (self.l2 or self.l1):
            return 0.0
        return float(sum(self.l2 / 2 * np.sum(layer.weights ** 2) + self.l1 * np.sum(np.abs(layer.weights)) for layer in layers))

    @staticmethod
    def of(problem: Problem, training: bool = False) -> "_Network":
        """The arrays of a problem; with ``training``, also which parameters a step may change
        (left out otherwise: for a large network, asking the problem costs more than the pass)."""
        layers = [
            _Layer(np.array(spec.weights, dtype=float), None if spec.bias is None else np.array(spec.bias, dtype=float))
            for spec in problem.layers
        ]
        masks = None
        if training:
            mask = np.array(problem.trained_mask, dtype=bool)
            masks = tuple(_Layer(m.weights.astype(bool), None if m.bias is None else m.bias.astype(bool)) for m in _unflatten(mask, layers))
        return _Network(
            layers=tuple(layers),
            activations=tuple(activation(spec.activation, problem.relu_derivative_at_zero) for spec in problem.layers),
            loss=Loss(problem.loss.kind, problem.loss.factor, problem.loss.log, problem.loss.outputs),
            samples_how=problem.loss.samples,
            x=np.array([s.x for s in problem.data], dtype=float),
            y=np.array([s.y for s in problem.data], dtype=float),
            names=problem.parameter_keys,
            trainable=masks,
            learning_rate=problem.training.learning_rate,
            order=problem.training.order,
            rates=tuple(problem.training.learning_rate if spec.learning_rate is None else spec.learning_rate for spec in problem.layers),
            l2=problem.loss.l2,
            l1=problem.loss.l1,
        )

    def with_layers(self, layers) -> "_Network":
        return replace(self, layers=tuple(layers))

    def values(self) -> dict[Quantity, float]:
        return dict(zip(self.names, _flatten(self.layers).tolist()))


def _flatten(layers) -> np.ndarray:
    """Every parameter (or gradient) in Problem.parameter_names() order: per layer the weights
    row by row, then the bias."""
    parts = []
    for layer in layers:
        parts.append(layer.weights.ravel())
        if layer.bias is not None:
            parts.append(np.ravel(layer.bias))
    return np.concatenate(parts)


def _unflatten(values: np.ndarray, like) -> list[_Layer]:
    layers, k = [], 0
    for layer in like:
        n = layer.weights.size
        weights = values[k : k + n].reshape(layer.weights.shape)
        k += n
        bias = None
        if layer.bias is not None:
            bias = values[k : k + layer.bias.size].copy()
            k += layer.bias.size
        layers.append(_Layer(weights.copy(), bias))
    return layers


# ---------------------------------------------------------------------------
# Forward and backward, all samples at once
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Forward:
    z: list[np.ndarray]  # per layer, (samples, units)
    a: list[np.ndarray]
    local: list[np.ndarray]  # f'(z): (samples, units), or (samples, units, units) for softmax
    loss_terms: np.ndarray  # (samples, outputs)
    sample_losses: np.ndarray  # (samples,)
    loss: float


def _complement(net: _Network, z: np.ndarray) -> np.ndarray | None:
    """1 − a of a sigmoid output layer as σ(−z), exact where a itself rounds to 1."""
    return _sigmoid(-z) if getattr(net.activations[-1], "name", "") == "sigmoid" else None


def _forward(net: _Network, exact_kinks: bool = True) -> _Forward:
    """Every layer for every sample at once; a pre-activation within rounding of 0 is the double
    of its exact decimal value (:mod:`tracer.numeric.exact`: relu'(0), step(0) as a hand
    calculation takes them). ``exact_kinks=False``: doubles only (a finite difference's moved
    point, where no decision is read and the loss is all that is kept)."""
    zs, as_, local = [], [], []
    a = net.x
    samples: dict[int, exact.DenseSample] = {}

    def exact_pass(s: int) -> exact.DenseSample:
        if s not in samples:
            samples[s] = exact.DenseSample(net.x[s], [layer.weights for layer in net.layers], [layer.bias for layer in net.layers],
                                           [(f.name, getattr(f, "alpha", 0.0)) for f in net.activations])
        return samples[s]

    for l, (layer, f) in enumerate(zip(net.layers, net.activations)):
        z = a @ layer.weights.T
        if layer.bias is not None:
            z = z + layer.bias  # a shared bias (shape (1,)) broadcasts over the units
        if exact_kinks and (f.name in exact.KINKED or exact.large_terms(a, layer.weights, layer.bias)):
            z = exact.settle_dense(z, a, layer.weights, layer.bias, exact_pass, l)
        a = f(z)
        zs.append(z)
        as_.append(a)
        local.append(f.local_derivative(z, a))
    if exact_kinks and net.loss.kind == "hinge":  # the kink y·o = 1 decided in the decimals, as relu's z = 0
        a = _settle_margin(a, net.y, exact_pass, len(net.layers) - 1)
        as_[-1] = a
    terms = net.loss.terms(a, net.y, _complement(net, zs[-1]))
    sample_losses = net.loss.sample_loss(terms)
    return _Forward(zs, as_, local, terms, sample_losses, float(_combine(sample_losses, net.samples_how)) + net.penalty(net.layers))


def _settle_margin(o: np.ndarray, y: np.ndarray, exact_pass: Callable[[int], exact.DenseSample], last: int) -> np.ndarray:
    """The outputs within rounding of the hinge's kink y·o = 1 (but not on it as doubles) replaced
    by the doubles of their exact values: 0.3 + 0.6 + 0.1 is 0.9999999999999999 in doubles, 1 in
    decimals, where the hinge has its kink (subgradient 0) rather than the slope −y."""
    with np.errstate(all="ignore"):
        gap = np.abs(1 - y * o)
        near = (gap > 0) & (gap <= exact.NEAR * np.maximum(1.0, np.abs(o)))
    if not near.any():
        return o
    o = o.copy()
    for s, k in zip(*np.nonzero(near)):
        sample = exact_pass(int(s))
        sample.pre_activation(last)
        o[s, k] = float(sample.a[last][k])
    return o


@dataclass(frozen=True)
class _Backward:
    dloss_da: list[np.ndarray]  # per layer, (samples, units): ∂loss_s/∂a
    dloss_dz: list[np.ndarray]
    per_sample: list[_Gradient]  # per layer: ∂loss_s/∂θ with a leading sample axis
    combined: list[_Gradient]  # per layer: ∂(combined loss)/∂θ
    layers: list[_Layer]  # the parameters after the descent (the old ones when there was none)


def _backward(net: _Network, fwd: _Forward, descend: Callable[[int, _Gradient], _Layer] | None = None) -> _Backward:
    """The chain rule from the output layer down.

    With ``descend`` (sequential order) a layer's parameters are replaced as soon as
    its gradient is known, and the δ of the layer below is propagated through the
    replaced weights; without it, every δ uses the old weights.
    """
    depth = len(net.layers)
    layers = list(net.layers)
    dloss_da: list = [None] * depth
    dloss_dz: list = [None] * depth
    per_sample: list = [None] * depth
    combined: list = [None] * depth
    sample_weight = _weight(net.samples_how, net.x.shape[0])
    dloss_da[-1] = net.loss.derivative(fwd.a[-1], net.y, _complement(net, fwd.z[-1]))
    for l in reversed(range(depth)):
        dloss_dz[l] = net.activations[l].backward(fwd.local[l], dloss_da[l])
        inputs = fwd.a[l - 1] if l > 0 else net.x
        per_sample[l] = _parameter_gradient(layers[l], dloss_dz[l], inputs)
        combined[l] = per_sample[l].combined(sample_weight)
        if net.l2 or net.l1:  # the penalty's own term of each weight's gradient (not the biases')
            w = net.layers[l].weights
            combined[l] = _Gradient(combined[l].weights + net.l2 * w + net.l1 * np.sign(w), combined[l].bias)
        if descend is not None:
            layers[l] = descend(l, combined[l])
        if l > 0:
            dloss_da[l - 1] = dloss_dz[l] @ layers[l].weights
    return _Backward(dloss_da, dloss_dz, per_sample, combined, layers)


def _parameter_gradient(layer: _Layer, dloss_dz: np.ndarray, inputs: np.ndarray) -> _Gradient:
    """∂z_j/∂W[j,i] = a_i and ∂z_j/∂b_j = 1; a shared bias feeds every unit, so its δ's add up.

    A bias of one value is a shared one (with a single unit, sharing changes nothing).
    """
    weights = dloss_dz[:, :, None] * inputs[:, None, :]
    if layer.bias is None:
        bias = None
    elif layer.bias.size == 1:
        bias = cancelled_sum(dloss_dz, axis=1)
    else:
        bias = dloss_dz
    return _Gradient(weights, bias)


#: a sum within this many units of rounding (of the sum of its terms' sizes, times their count) of 0 is 0
CANCELLATION = 4 * np.finfo(float).eps


def cancelled_sum(terms: np.ndarray, axis: int) -> np.ndarray:
    """Σ terms along ``axis`` (kept as a dimension of 1), exactly 0 where the terms cancel to within
    the sum's own rounding: a softmax's shared bias gradient Σ_k (p_k − y_k) is 0, not −5.55e−17 —
    which an adaptive optimizer's g/(√G + ε) would turn into a step of η."""
    total = terms.sum(axis=axis, keepdims=True)
    size = np.abs(terms).sum(axis=axis, keepdims=True) * terms.shape[axis]
    return np.where(np.isfinite(total) & np.isfinite(size) & (np.abs(total) <= CANCELLATION * size), 0.0, total)


def _descended(net: _Network, l: int, gradient: _Gradient) -> _Layer:
    """θ ← θ − η · ∂loss/∂θ for the trained parameters of layer l, η the layer's own rate where it
    has one; the others stay (exactly, even when their gradient is inf or nan)."""
    assert net.trainable is not None, "built without training=True"
    layer, mask, rate = net.layers[l], net.trainable[l], net.rates[l]
    weights = np.where(mask.weights, layer.weights - rate * gradient.weights, layer.weights)
    bias = None if layer.bias is None else np.where(mask.bias, layer.bias - rate * gradient.bias, layer.bias)
    return _Layer(weights, bias)


def _of_sample(gradients: list[_Gradient], s: int) -> list[_Layer]:
    return [_Layer(g.weights[s], None if g.bias is None else g.bias[s]) for g in gradients]


def _as_pass(net: _Network, fwd: _Forward, back: _Backward) -> Pass:
    """Split the batched arrays into the public per-sample records, with named gradients."""
    samples = []
    for s in range(net.x.shape[0]):
        flat = _flatten(_of_sample(back.per_sample, s))
        samples.append(
            SamplePass(
                z=[z[s] for z in fwd.z],
                a=[a[s] for a in fwd.a],
                loss_terms=fwd.loss_terms[s],
                loss=float(fwd.sample_losses[s]),
                dloss_da=[d[s] for d in back.dloss_da],
                dloss_dz=[d[s] for d in back.dloss_dz],
                da_dz=[d[s] for d in fwd.local],
                grads=dict(zip(net.names, flat.tolist())),
            )
        )
    grads = dict(zip(net.names, _flatten(back.combined).tolist()))
    return Pass(samples, fwd.loss, grads)


def _step(net: _Network, fwd: _Forward, back: _Backward) -> _Network:
    """One gradient-descent step from a pass at the old parameters (``back`` = its plain backward)."""
    if net.order == "sequential":
        return net.with_layers(_backward(net, fwd, lambda l, g: _descended(net, l, g)).layers)
    return net.with_layers(_descended(net, l, g) for l, g in enumerate(back.combined))


# ---------------------------------------------------------------------------
# The public functions
# ---------------------------------------------------------------------------


def _quiet(fn):
    """An inf or nan in the results is the report (an output of 0 under a log, an overflow);
    NumPy's RuntimeWarnings would only repeat it on stderr, so they are silenced here."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
            return fn(*args, **kwargs)

    return wrapper


@_quiet
def evaluate(problem: Problem) -> Pass:
    """Forward pass, loss and every gradient at the problem's parameters."""
    net = _Network.of(problem)
    fwd = _forward(net)
    return _as_pass(net, fwd, _backward(net, fwd))


@_quiet
def forward_loss(problem: Problem) -> float:
    """The loss only (no backward pass, no per-sample records): cheap for large data sets."""
    return _forward(_Network.of(problem)).loss


@_quiet
def step(problem: Problem) -> Problem:
    """The problem after one gradient-descent step (``training.learning_rate``, ``training.order``).

    Only ``problem.trainable()`` change. In sequential order the forward values are
    the old ones, but each hidden layer's δ goes through the already updated weights
    above it (this is what Mazur's published numbers do).
    """
    net = _Network.of(problem, training=True)
    fwd = _forward(net)
    return problem.with_parameter_vector(_flatten(_step(net, fwd, _backward(net, fwd)).layers).tolist())


@_quiet
def step_gradients(problem: Problem) -> dict[Quantity, float]:
    """The gradients one step actually subtracts (divided by nothing: θ' = θ − η · these).

    In simultaneous order they are ``evaluate(problem).grads``. In sequential order a
    hidden layer's are taken through the updated weights above it, so they differ
    from the true gradient; this is what a sequential worked solution shows.
    """
    net = _Network.of(problem, training=True)
    fwd = _forward(net)
    descend = (lambda l, g: _descended(net, l, g)) if net.order == "sequential" else None
    return dict(zip(net.names, _flatten(_backward(net, fwd, descend).combined).tolist()))


@_quiet
def train(problem: Problem, steps: int | None = None) -> list[Pass]:
    """The pass at the start of each step, then the pass at the final parameters (steps + 1 passes).

    Works on the arrays throughout (no Problem is rebuilt between steps), so that
    Mazur's 10,000 steps take a fraction of a second.
    """
    steps = problem.training.steps if steps is None else steps
    net = _Network.of(problem, training=True)
    passes = []
    for k in range(steps + 1):
        fwd = _forward(net)
        back = _backward(net, fwd)
        passes.append(_as_pass(net, fwd, back))
        if k < steps:
            net = _step(net, fwd, back)
    return passes


@_quiet
def finite_differences(problem: Problem, h: float = 1e-6) -> dict[Quantity, float]:
    """(loss(θ + h) − loss(θ − h)) / 2h for every parameter: a check that knows no chain rule."""
    net = _Network.of(problem)
    theta = _flatten(net.layers)
    out = {}
    for k, name in enumerate(net.names):
        losses = []
        for sign in (+1, -1):
            shifted = theta.copy()
            shifted[k] += sign * h
            losses.append(_forward(net.with_layers(_unflatten(shifted, net.layers)), exact_kinks=False).loss)
        out[name] = (losses[0] - losses[1]) / (2 * h)
    return out
