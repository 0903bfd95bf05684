"""The independent NumPy twin of SPEC.md §8: dense, conv2d, maxpool2d, avgpool2d, flatten and rnn
layers, mixed freely, with every loss of SPEC.md §1.

Like :mod:`tracer.numeric.mlp` it is a second opinion on every number the SymPy engine
prints, so it shares no code with that engine, nor with :mod:`tracer.numeric.mlp` (two
NumPy passes that agree on a dense network are then two opinions, not one): it reads the
problem file's *raw mapping* (what ``yaml.safe_load`` gives), imports nothing of ``tracer``
and no SymPy, and writes every backward rule out by hand (and its own exact arithmetic, for a
kink or a tie within rounding: :func:`_exact_forward`). :func:`finite_differences` is a
third opinion that knows no chain rule.

The signal between two layers is one of three kinds, and each layer says which it takes:

``image``     ``(channels, height, width)``: the input of ``network.input``, conv and pool outputs
``vector``    ``(n,)``: the input of ``network.inputs``, flatten, dense, ``rnn`` with ``outputs: last``
``sequence``  ``(T, n)``: the input when the network has an ``rnn`` layer (``x`` is a list of
              time steps), ``rnn`` with ``outputs: sequence``; a dense layer applied to a
              sequence applies at every time step with the same weights

Conventions (the same as :mod:`tracer.numeric.mlp` where both apply):

- Layers are numbered from 1 in the order of ``network.layers``, pooling and flatten
  included; the parameters are ``W{l}`` (weights), ``b{l}`` (bias), ``U{l}`` (an rnn's
  ``recurrent``), each an array shaped as SPEC.md §5 reports it: dense ``W`` (units, inputs)
  — one row per unit even when the file wrote ``weights_layout: input_major`` — and ``b``
  (units,), or a 0-d array for a ``shared_bias``; conv ``W`` (filters, channels, kh, kw)
  and ``b`` (filters,); rnn ``W`` (units, inputs), ``U`` (units, units), ``b`` (units,).
  A ``bias`` written as one number starts every unit (filter) there; an omitted bias is none.
- conv2d is cross-correlation, as frameworks compute it:
  ``z[f,i,j] = b[f] + Σ_c Σ_u Σ_v W[f,c,u,v] · xp[c, i·s_h + u, j·s_w + v]`` with ``xp`` the
  input zero-padded by ``padding`` on every side; with ``dilation`` d the kernel entry (u, v)
  reads ``xp[c, i·s_h + u·d_h, j·s_w + v·d_w]`` (torch's F.conv2d). ``kernel_size``, ``stride``
  (1), ``padding`` (0) and ``dilation`` (1) are a number or a ``[rows, columns]`` pair.
- Pooling (torch's F.max_pool2d / F.avg_pool2d): ``stride`` defaults to ``size``; ``padding``
  (at most half the window) is −∞ for max (never the maximum) and 0 for average, counted in
  the divisor (``count_include_pad=True``); ``dilation`` for max only; ``ceil_mode``. Windows
  may overlap (stride < size); their gradients then add up.
- **The output length** (torch's): ``floor((H + 2p − d·(k − 1) − 1) / s) + 1``, the window's
  span ``d·(k − 1) + 1`` at most ``H + 2p``; with ``ceil_mode`` the ceiling, less one if the
  last window would start past the input and its left padding. A floor leaves the last rows or
  columns unread (gradient 0); a ceil window reaching past the padded input holds what lies
  inside it, and an average divides by the count of its positions inside the padded input
  (torch's ``pool_size``). Anything else is a ValueError naming the layer.
- maxpool2d sends the whole gradient of a window to its arg-max; **on a tie, to the first
  maximal element in row-major order within the window** (``np.argmax`` of the flattened
  window), as torch and NumPy do. avgpool2d shares it equally, ``1/(kh·kw)`` each.
- flatten is channel-major, row-major: ``torch.flatten`` of ``[C][H][W]``, ``index = (c·H + i)·W + j``.
- rnn: ``z_t = W x_t + U h_{t−1} + b``, ``h_t = f(z_t)``, ``f`` tanh unless ``activation`` says
  otherwise, ``h_0`` = ``initial_state`` (zeros; a number or one per unit; not a
  parameter). ``outputs: last`` (the default) passes ``h_T`` up; ``outputs: sequence``
  passes every ``h_t``, the layers above apply at every step, ``y`` has one target per
  step (a list of T targets, or of T numbers when the output has one unit; ``label`` a
  list of T class indices), and a sample's loss is the sum over the time steps of the
  per-step loss (its terms combined by ``loss.outputs``). Every sample's sequence must
  have the same length T (a ValueError otherwise).
- Activations, their kinks and the losses are those of SPEC.md §1: at ``z = 0`` relu,
  leaky_relu and elu take the slope ``relu_derivative_at_zero`` says (1: the right-hand
  slope 1; 0, the default: the left-hand one); softmax only in the last layer, a dense
  one (applied per time step on a sequence). ``0 · log 0 = 0``; nothing is clipped, so a
  log of 0 is ``inf`` and a bad problem shows a bad number. ``label: k`` is the one-hot
  target of class ``k`` (0-based), as in ``data:`` of SPEC.md §1.

The public functions take the mapping and return fresh arrays: :func:`parameters`,
:func:`forward` (one sample's :class:`Pass`), :func:`backward` (one sample's
:class:`SampleBackward`), :func:`loss`, :func:`gradients`, :func:`finite_differences`,
:func:`descend` and :func:`with_parameters`. Each accepts the mapping or a :class:`Network`
that :func:`network` read once from it (for a large network, reading costs more than a pass).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np

# ---------------------------------------------------------------------------
# The public results
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pass:
    """One sample's forward pass; index 0 of ``z`` and ``a`` is layer 1.

    Shapes: conv ``(F, H', W')``; pool ``(C, H', W')``; flatten ``(n,)``; dense ``(units,)``,
    or ``(T, units)`` on a sequence; rnn ``(T, units)``, ``a`` being the states ``h_1 … h_T``
    (also with ``outputs: last``, which passes only ``h_T`` up). A layer without an
    activation (pool, flatten) has ``z`` = ``a``.
    """

    z: tuple[np.ndarray, ...]  # pre-activations per layer
    a: tuple[np.ndarray, ...]  # activations per layer
    output: np.ndarray  # what the loss sees: (K,), or (T, K) for a sequence
    target: np.ndarray  # y, shaped like output (a label made one-hot)
    loss_terms: np.ndarray  # per-output loss terms, shaped like output
    loss: float  # this sample's loss


@dataclass(frozen=True)
class SampleBackward:
    """One sample's backward pass: derivatives of *this sample's* loss, shaped like what they differentiate.

    For an rnn, ``dloss_da[l][t]`` is the total ∂loss_s/∂h_t (from the layers above at step t
    and from h_{t+1} through U), and ``dloss_dz[l][t] = f'(z_t) ⊙ dloss_da[l][t]``.
    """

    dloss_da: tuple[np.ndarray, ...]
    dloss_dz: tuple[np.ndarray, ...]
    d_input: np.ndarray  # ∂loss_s/∂x, shaped like the sample's x
    grads: dict[str, np.ndarray]  # ∂loss_s/∂θ for every parameter


# ---------------------------------------------------------------------------
# Activations: each owns its forward rule and its local derivative
# ---------------------------------------------------------------------------

ACTIVATION_ALIASES = {"linear": "identity", "logistic": "sigmoid", "swish": "silu"}
ALPHA_DEFAULTS = {"leaky_relu": 0.01, "elu": 1.0}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))  # two exact rewritings of 1/(1+e^{-z}) that never overflow
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


@dataclass(frozen=True)
class Elementwise:
    """``a = f(z)`` entry by entry; ``∂loss/∂z = f'(z) ⊙ ∂loss/∂a``."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    slope: Callable[[np.ndarray, np.ndarray], np.ndarray]  # f'(z), given z and a = f(z)
    alpha: float = 0.0  # leaky_relu's and elu's parameter (for the exact pass)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        if z.dtype == object:  # the exact pass: Fractions
            return _exact_map(lambda v: _exact_activation(self.name, self.alpha, v), z)
        return self.forward(z)

    def backward(self, z: np.ndarray, a: np.ndarray, dloss_da: np.ndarray) -> np.ndarray:
        return self.slope(z, a) * dloss_da


@dataclass(frozen=True)
class Softmax:
    """``a_m = e^{z_m} / Σ_k e^{z_k}`` over the last axis (per time step on a sequence).

    Backward without building the Jacobian: ∂loss/∂z_j = Σ_m g_m a_m (δ_mj − a_j) = a_j (g_j − Σ_m g_m a_m).
    """

    name: str = "softmax"

    def __call__(self, z: np.ndarray) -> np.ndarray:
        if z.dtype == object:
            return _exact_softmax(z)
        e = np.exp(z - np.max(z, axis=-1, keepdims=True))  # the shift changes nothing but overflow
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, z: np.ndarray, a: np.ndarray, dloss_da: np.ndarray) -> np.ndarray:
        return a * (dloss_da - np.sum(dloss_da * a, axis=-1, keepdims=True))


def _activation(value: Any, relu_derivative_at_zero: int, where: str) -> Elementwise | Softmax:
    """The activation ``value`` names (``"tanh"`` or ``{name: leaky_relu, alpha: 0.1}``)."""
    if isinstance(value, Mapping):
        unknown = set(value) - {"name", "alpha"}
        if unknown or "name" not in value:
            raise ValueError(f"{where}: an activation mapping has name and (leaky_relu, elu) alpha, got {sorted(value)}")
        name, alpha = value["name"], value.get("alpha")
    else:
        name, alpha = value, None
    name = ACTIVATION_ALIASES.get(name, name)
    if alpha is not None and name not in ALPHA_DEFAULTS:
        raise ValueError(f"{where}: activation {name} takes no parameter alpha")
    if name == "softmax":
        return Softmax()
    alpha = float(ALPHA_DEFAULTS.get(name, 0.0) if alpha is None else _number(alpha, where))

    def right(z: np.ndarray) -> np.ndarray:  # where the slope-1 branch applies; z = 0 by the convention
        return z >= 0 if relu_derivative_at_zero == 1 else z > 0

    rules: dict[str, tuple[Callable, Callable]] = {
        "identity": (lambda z: z.copy(), lambda z, a: np.ones_like(z)),
        "sigmoid": (_sigmoid, lambda z, a: np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))) ** 2),
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
    if name not in rules:
        raise ValueError(f"{where}: unknown activation {name!r} (one of {', '.join(sorted(rules))}, softmax)")
    forward, slope = rules[name]
    return Elementwise(name, forward, slope, alpha)


# ---------------------------------------------------------------------------
# Losses: per-output terms and their derivatives
# ---------------------------------------------------------------------------

LN_OF_BASE = {"ln": 1.0, "log10": math.log(10), "log2": math.log(2)}


def _x_log(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x · ln y with 0 · ln y = 0 (an absent class costs nothing)."""
    return np.where(x == 0, 0.0, x * np.log(y))


def _x_over(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x / y with 0 / y = 0: the derivative of the term 0 · ln y."""
    return np.where(x == 0, 0.0, x / y)


@dataclass(frozen=True)
class Loss:
    """A sample's loss: per-output terms ℓ(o_k, y_k), summed or averaged over the outputs
    (``outputs``), and on a sequence summed over the time steps."""

    kind: str
    factor: float
    log: str
    outputs: str

    def terms(self, o: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.kind == "mse":
            return self.factor * (y - o) ** 2
        if self.kind == "hinge":  # max(0, 1 − y·o), y = ±1
            return np.maximum(0.0, 1 - y * o)
        if self.kind == "cross_entropy":
            return -_x_log(y, o) / LN_OF_BASE[self.log]
        return -(_x_log(y, o) + _x_log(1 - y, 1 - o)) / LN_OF_BASE[self.log]

    def sample_loss(self, terms: np.ndarray) -> float:
        per_step = terms.sum(axis=-1) if self.outputs == "sum" else terms.mean(axis=-1)
        return float(np.sum(per_step))  # one step for a vector; the steps summed for a sequence

    def derivative(self, o: np.ndarray, y: np.ndarray) -> np.ndarray:
        """∂loss_s/∂o: each term's own derivative, over K when the outputs are averaged."""
        if self.kind == "mse":
            d = -2 * self.factor * (y - o)
        elif self.kind == "hinge":  # −y inside the margin (y·o < 1); 0 beyond it and at the kink (subgradient 0)
            d = np.where(y * o < 1, -y, 0.0)
        elif self.kind == "cross_entropy":
            d = -_x_over(y, o) / LN_OF_BASE[self.log]
        else:
            d = -(_x_over(y, o) - _x_over(1 - y, 1 - o)) / LN_OF_BASE[self.log]
        return d if self.outputs == "sum" else d / o.shape[-1]


# ---------------------------------------------------------------------------
# Reading numbers and shapes from the mapping
# ---------------------------------------------------------------------------


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: a number expected, got {value!r}")
    return float(value)


def _count(value: Any, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{where}: a whole number ≥ {minimum} expected, got {value!r}")
    return value


def _pair(value: Any, where: str, minimum: int = 1) -> tuple[int, int]:
    """A size written as one number (square) or ``[rows, columns]``."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{where}: a number or [rows, columns] expected, got {value!r}")
        return _count(value[0], where, minimum), _count(value[1], where, minimum)
    n = _count(value, where, minimum)
    return n, n


def _array(value: Any, where: str) -> np.ndarray:
    """A nested list of numbers as a float array (ragged lists, strings and booleans refused)."""
    try:
        raw = np.asarray(value)
    except ValueError:
        raise ValueError(f"{where}: a rectangular nested list of numbers expected (rows of unequal length)") from None
    if raw.dtype.kind not in "iuf" or raw.dtype == object:
        raise ValueError(f"{where}: numbers expected, got {value!r}"[:300])
    return raw.astype(float)


def _shaped(value: Any, shape: tuple[int, ...], where: str, what: str) -> np.ndarray:
    array = _array(value, where)
    if array.shape != shape:
        raise ValueError(f"{where}: shape {_dims(shape)} expected ({what}), got {_dims(array.shape)}")
    return array


def _bias(value: Any, count: int, where: str, shared: bool = False) -> np.ndarray | None:
    """None (no bias), one start value per unit, or (shared) a single parameter as a 0-d array."""
    if value is None:
        if shared:
            raise ValueError(f"{where}: missing, but shared_bias is true (a shared bias needs a value)")
        return None
    if shared:
        if isinstance(value, list):
            if len(value) != 1:
                raise ValueError(f"{where}: one number expected (shared_bias is true), got {len(value)}")
            value = value[0]
        return np.array(_number(value, where))
    if isinstance(value, list):
        return _shaped(value, (count,), where, "one per unit")
    return np.full(count, _number(value, where))


def _dims(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


# ---------------------------------------------------------------------------
# The signal between layers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Signal:
    kind: str  # "image" (C, H, W) | "vector" (n,) | "sequence" (T, n)
    shape: tuple[int, ...]

    def describe(self) -> str:
        return f"{'an' if self.kind == 'image' else 'a'} {self.kind} of shape {_dims(self.shape)}"


# ---------------------------------------------------------------------------
# The layers: each owns its forward rule and its backward rule
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _LayerBackward:
    dloss_da: np.ndarray
    dloss_dz: np.ndarray
    dloss_dx: np.ndarray  # ∂loss/∂(the layer's input)
    grads: dict[str, np.ndarray]  # by role: "W", "b", "U"


@dataclass(frozen=True)
class Dense:
    """``z = W x + b``, ``a = f(z)``; on a sequence the same W, b at every time step."""

    number: int
    activation: Elementwise | Softmax
    shared_bias: bool

    def forward(self, p: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = x @ p["W"].T  # (n,) → (units,), or (T, n) → (T, units)
        if "b" in p:
            z = z + p["b"]  # a shared bias (0-d) feeds every unit
        return z, self.activation(z)

    def backward(self, p, x, z, a, dloss_da) -> _LayerBackward:
        dz = self.activation.backward(z, a, dloss_da)
        rows = dz.reshape(-1, dz.shape[-1])  # one row per time step (one row for a vector)
        inputs = x.reshape(-1, x.shape[-1])
        grads = {"W": rows.T @ inputs}  # ∂z_j/∂W[j,i] = x_i, summed over the steps
        if "b" in p:
            grads["b"] = np.array(rows.sum()) if self.shared_bias else rows.sum(axis=0)
        return _LayerBackward(dloss_da, dz, dz @ p["W"], grads)

    def output(self, a: np.ndarray) -> np.ndarray:
        return a


@dataclass(frozen=True)
class Conv2d:
    """Cross-correlation of the zero-padded input with each filter, plus the filter's bias.

    The sum over the kernel offsets (u, v) is the written loop; for one offset the products
    over every output position and channel are one NumPy slice, ``xp[:, u·d_h::s_h, v·d_w::s_w]``
    cut to the output's size: the input pixels that W[:, :, u, v] multiplies (a floor leaves
    the padded input's last rows or columns in no slice).
    """

    number: int
    activation: Elementwise
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_hw: tuple[int, int]
    dilation: tuple[int, int] = (1, 1)

    def _padded(self, x: np.ndarray) -> np.ndarray:
        (ph, pw) = self.padding
        return np.pad(x, ((0, 0), (ph, ph), (pw, pw)))

    def _seen_by(self, u: int, v: int) -> tuple[slice, slice]:
        """The rows and columns of the padded input that kernel entry (u, v) meets, output position by position."""
        (sh, sw), (oh, ow), (dh, dw) = self.stride, self.out_hw, self.dilation
        return slice(u * dh, u * dh + sh * (oh - 1) + 1, sh), slice(v * dw, v * dw + sw * (ow - 1) + 1, sw)

    def forward(self, p, x):
        xp = self._padded(x)
        w = p["W"]
        z = np.zeros((w.shape[0], *self.out_hw), dtype=xp.dtype if xp.dtype == object else float)
        for u in range(self.kernel[0]):
            for v in range(self.kernel[1]):
                rows, cols = self._seen_by(u, v)
                z += np.einsum("fc,cij->fij", w[:, :, u, v], xp[:, rows, cols])
        if "b" in p:
            z += p["b"][:, None, None]
        return z, self.activation(z)

    def backward(self, p, x, z, a, dloss_da):
        dz = self.activation.backward(z, a, dloss_da)
        xp = self._padded(x)
        w = p["W"]
        dw = np.zeros_like(w)
        dxp = np.zeros_like(xp)
        for u in range(self.kernel[0]):
            for v in range(self.kernel[1]):
                rows, cols = self._seen_by(u, v)
                dw[:, :, u, v] = np.einsum("fij,cij->fc", dz, xp[:, rows, cols])  # ∂z[f,i,j]/∂W[f,c,u,v] = xp[c, i·s+u·d, j·s+v·d]
                dxp[:, rows, cols] += np.einsum("fc,fij->cij", w[:, :, u, v], dz)  # and ∂z[f,i,j]/∂xp[…] = W[f,c,u,v]
        (ph, pw), (h, wd) = self.padding, x.shape[1:]
        grads = {"W": dw}
        if "b" in p:
            grads["b"] = dz.sum(axis=(1, 2))
        return _LayerBackward(dloss_da, dz, dxp[:, ph : ph + h, pw : pw + wd], grads)

    def output(self, a):
        return a


@dataclass(frozen=True)
class Pool2d:
    """Max or average over each window, channel by channel; no parameters.

    A window is the input positions ``i·s_h − p_h + u·d_h`` (rows) by ``j·s_w − p_w + v·d_w``
    (columns), u < kh, v < kw. Max: over those inside the input (padding is −∞); its gradient
    goes to the arg-max, on a tie to the FIRST maximal element in row-major order within the
    window. Average: the sum of those inside the input divided by torch's ``pool_size``, the
    number of the window's positions inside the padded input (padding counts, a ceil_mode
    overhang does not); each input gets 1/pool_size of the window's gradient.
    """

    number: int
    mode: str  # "max" | "avg"
    size: tuple[int, int]
    stride: tuple[int, int]
    out_hw: tuple[int, int]
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)

    def _windows(self, height: int, width: int):
        """(i, j, the input rows, the input columns, the divisor) of every window, the rows and
        columns those inside the input, in order."""
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.size, self.stride, self.padding, self.dilation
        for i in range(self.out_hw[0]):
            for j in range(self.out_hw[1]):
                r0, c0 = i * sh - ph, j * sw - pw
                rows = [r for r in range(r0, r0 + dh * (kh - 1) + 1, dh) if 0 <= r < height]
                cols = [c for c in range(c0, c0 + dw * (kw - 1) + 1, dw) if 0 <= c < width]
                divisor = (min(r0 + kh, height + ph) - r0) * (min(c0 + kw, width + pw) - c0)  # avg (no dilation)
                yield i, j, np.array(rows), np.array(cols), divisor

    def forward(self, p, x):
        a = np.zeros((x.shape[0], *self.out_hw), dtype=x.dtype if x.dtype == object else float)
        for i, j, rows, cols, divisor in self._windows(*x.shape[1:]):
            window = x[:, rows][:, :, cols].reshape(x.shape[0], -1)  # per channel, row-major
            a[:, i, j] = window.max(axis=1) if self.mode == "max" else window.sum(axis=1) / divisor
        return a, a

    def backward(self, p, x, z, a, dloss_da):
        channels = np.arange(x.shape[0])
        dx = np.zeros_like(x)
        for i, j, rows, cols, divisor in self._windows(*x.shape[1:]):
            g = dloss_da[:, i, j]
            if self.mode == "max":
                first = np.argmax(x[:, rows][:, :, cols].reshape(x.shape[0], -1), axis=1)  # first maximum, row-major
                dx[channels, rows[first // len(cols)], cols[first % len(cols)]] += g
            else:
                dx[np.ix_(channels, rows, cols)] += g[:, None, None] / divisor
        return _LayerBackward(dloss_da, dloss_da, dx, {})

    def output(self, a):
        return a


@dataclass(frozen=True)
class Flatten:
    """``[C][H][W]`` → one vector, channel-major and row-major (C order, as torch.flatten)."""

    number: int

    def forward(self, p, x):
        a = x.reshape(-1).copy()
        return a, a

    def backward(self, p, x, z, a, dloss_da):
        return _LayerBackward(dloss_da, dloss_da, dloss_da.reshape(x.shape), {})

    def output(self, a):
        return a


@dataclass(frozen=True)
class Recurrent:
    """``z_t = W x_t + U h_{t−1} + b``, ``h_t = f(z_t)``, t = 1 … T; back-propagation through time."""

    number: int
    activation: Elementwise
    initial_state: np.ndarray  # h_0, (units,)
    sequence: bool  # outputs: sequence (every h_t goes up) or last (h_T only)

    def forward(self, p, x):
        steps, units = x.shape[0], self.initial_state.size
        kind = x.dtype if x.dtype == object else float
        z, h = np.zeros((steps, units), dtype=kind), np.zeros((steps, units), dtype=kind)
        previous = _decimals(self.initial_state) if kind == object else self.initial_state
        for t in range(steps):
            z[t] = p["W"] @ x[t] + p["U"] @ previous
            if "b" in p:
                z[t] += p["b"]
            h[t] = self.activation(z[t])
            previous = h[t]
        return z, h

    def backward(self, p, x, z, a, dloss_dout):
        """``dloss_dout``: ∂loss/∂(what went up): (T, units) for a sequence, (units,) for the last state."""
        steps = x.shape[0]
        from_above = dloss_dout if self.sequence else np.zeros_like(a)
        if not self.sequence:
            from_above[-1] = dloss_dout
        dh, dz, dx = np.zeros_like(a), np.zeros_like(z), np.zeros_like(x)
        grads = {"W": np.zeros_like(p["W"]), "U": np.zeros_like(p["U"])}
        if "b" in p:
            grads["b"] = np.zeros_like(p["b"])
        through_u = np.zeros(a.shape[1])  # ∂loss/∂h_t via h_{t+1} (none after the last step)
        for t in reversed(range(steps)):
            dh[t] = from_above[t] + through_u
            dz[t] = self.activation.backward(z[t], a[t], dh[t])
            previous = a[t - 1] if t > 0 else self.initial_state
            grads["W"] += np.outer(dz[t], x[t])
            grads["U"] += np.outer(dz[t], previous)
            if "b" in p:
                grads["b"] += dz[t]
            dx[t] = p["W"].T @ dz[t]
            through_u = p["U"].T @ dz[t]
        return _LayerBackward(dh, dz, dx, grads)

    def output(self, a):
        return a if self.sequence else a[-1]


Layer = Dense | Conv2d | Pool2d | Flatten | Recurrent

# ---------------------------------------------------------------------------
# The network: the layers (structure) apart from the parameters (what training changes)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Network:
    """A problem mapping read once: layers, their starting parameters, the data and the loss."""

    layers: tuple[Layer, ...]
    parameters: dict[str, np.ndarray]  # "W1", "b1", "U2", … in layer order
    trainable: dict[str, np.ndarray]  # per parameter, True where a descent step changes it
    input: Signal
    xs: tuple[np.ndarray, ...]
    ys: tuple[np.ndarray, ...]
    loss: Loss
    samples: str  # "sum" | "mean"
    learning_rate: float | None
    steps: int
    rates: dict[str, float] = field(default_factory=dict)  # a layer's own learning rate, per parameter ("W1", "b1"), where it has one


KINDS = ("dense", "conv2d", "maxpool2d", "avgpool2d", "flatten", "rnn")
_LAYER_KEYS = {
    "dense": {"type", "units", "activation", "weights", "weights_layout", "bias", "shared_bias", "trainable_bias", "learning_rate"},
    "conv2d": {"type", "filters", "kernel_size", "stride", "padding", "dilation", "activation", "weights", "bias", "trainable_bias", "learning_rate"},
    "maxpool2d": {"type", "size", "stride", "padding", "dilation", "ceil_mode"},
    "avgpool2d": {"type", "size", "stride", "padding", "ceil_mode"},
    "flatten": {"type"},
    "rnn": {"type", "units", "activation", "weights", "recurrent", "bias", "initial_state", "outputs", "trainable_bias", "learning_rate"},
}


def _fitted(size: int, kernel: int, stride: int, padding: int, where: str, what: str, dilation: int = 1, ceil: bool = False) -> int:
    """The output length of a window sliding over ``size`` (the rule of the module docstring)."""
    span, reach = size + 2 * padding, dilation * (kernel - 1) + 1
    if reach > span:
        spanning = f" (spanning {reach} with dilation {dilation})" if dilation > 1 else ""
        raise ValueError(f"{where}: the {what} {kernel}{spanning} is larger than the padded input {span} ({size} + 2·{padding})")
    if not ceil:
        return (span - reach) // stride + 1
    out = math.ceil((span - reach) / stride) + 1
    return out - 1 if (out - 1) * stride >= size + padding else out


def _read_layer(raw: Any, index: int, signal: Signal, rdz: int, last: bool):
    """One entry of network.layers → (layer, its parameters by role, trainable bias?, the signal it gives)."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"network.layers[{index}]: a mapping expected, got {raw!r}")
    kind = raw.get("type", "dense")
    number = index + 1
    where = f"network.layers[{index}] (layer {number}, {kind})"
    if kind not in KINDS:
        raise ValueError(f"network.layers[{index}].type: one of {', '.join(KINDS)} expected, got {kind!r}")
    unknown = sorted(set(raw) - _LAYER_KEYS[kind])
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} for a {kind} layer")

    def field(name: str) -> str:
        return f"network.layers[{index}].{name} (layer {number}, {kind})"

    def needs(name: str):
        if name not in raw:
            raise ValueError(f"{field(name)}: required, missing")
        return raw[name]

    def takes(expected: str) -> None:
        if signal.kind != expected and not (expected == "vector" and signal.kind == "sequence"):
            hint = "; put a flatten layer between" if signal.kind == "image" and expected == "vector" else ""
            raise ValueError(f"{where}: needs {'an' if expected == 'image' else 'a'} {expected} input, got {signal.describe()}{hint}")

    def act(default: str | None = None):
        value = raw.get("activation", default)
        f = _activation(needs("activation") if value is None else value, rdz, field("activation"))
        if isinstance(f, Softmax) and not (kind == "dense" and last):
            raise ValueError(f"{field('activation')}: softmax is only allowed in the last layer, a dense one")
        return f

    trainable_bias = bool(raw.get("trainable_bias", True))
    if kind == "dense":
        takes("vector")
        units, fan_in = _count(needs("units"), field("units")), signal.shape[-1]
        layout = raw.get("weights_layout", "unit_major")
        if layout == "input_major":  # the transposed matrix, one row per input (x · W texts)
            w = _shaped(needs("weights"), (fan_in, units), field("weights"), "inputs × units, weights_layout input_major").T.copy()
        elif layout == "unit_major":
            w = _shaped(needs("weights"), (units, fan_in), field("weights"), "units × inputs, one row per unit")
        else:
            raise ValueError(f"{field('weights_layout')}: unit_major or input_major expected, got {layout!r}")
        shared = bool(raw.get("shared_bias", False))
        params = {"W": w, "b": _bias(raw.get("bias"), units, field("bias"), shared)}
        layer = Dense(number, act(), shared)
        out = Signal(signal.kind, (*signal.shape[:-1], units))
    elif kind == "conv2d":
        takes("image")
        channels, height, width = signal.shape
        filters = _count(needs("filters"), field("filters"))
        kernel = _pair(needs("kernel_size"), field("kernel_size"))
        stride = _pair(raw.get("stride", 1), field("stride"))
        padding = _pair(raw.get("padding", 0), field("padding"), minimum=0)
        dilation = _pair(raw.get("dilation", 1), field("dilation"))
        out_hw = (
            _fitted(height, kernel[0], stride[0], padding[0], where, "kernel height", dilation[0]),
            _fitted(width, kernel[1], stride[1], padding[1], where, "kernel width", dilation[1]),
        )
        w = _shaped(needs("weights"), (filters, channels, *kernel), field("weights"), "[filter][channel][row][column]")
        params = {"W": w, "b": _bias(raw.get("bias"), filters, field("bias"))}
        layer = Conv2d(number, act(), kernel, stride, padding, out_hw, dilation)
        out = Signal("image", (filters, *out_hw))
    elif kind in ("maxpool2d", "avgpool2d"):
        takes("image")
        channels, height, width = signal.shape
        size = _pair(needs("size"), field("size"))
        stride = _pair(raw.get("stride", raw["size"]), field("stride"))
        padding = _pair(raw.get("padding", 0), field("padding"), minimum=0)
        dilation = _pair(raw.get("dilation", 1), field("dilation"))
        ceil = raw.get("ceil_mode", False)
        if not isinstance(ceil, bool):
            raise ValueError(f"{field('ceil_mode')}: true or false expected, got {ceil!r}")
        if any(2 * p > k for p, k in zip(padding, size)):
            raise ValueError(f"{field('padding')}: at most half the window {size} expected, got {padding}")
        out_hw = (
            _fitted(height, size[0], stride[0], padding[0], where, "window height", dilation[0], ceil),
            _fitted(width, size[1], stride[1], padding[1], where, "window width", dilation[1], ceil),
        )
        params = {}
        layer = Pool2d(number, kind[:3], size, stride, out_hw, padding, dilation)
        out = Signal("image", (channels, *out_hw))
    elif kind == "flatten":
        takes("image")
        params = {}
        layer = Flatten(number)
        out = Signal("vector", (int(np.prod(signal.shape)),))
    else:  # rnn
        if signal.kind != "sequence":
            raise ValueError(f"{where}: needs a sequence input, got {signal.describe()}")
        units, fan_in = _count(needs("units"), field("units")), signal.shape[-1]
        outputs = raw.get("outputs", "last")
        if outputs not in ("last", "sequence"):
            raise ValueError(f"{field('outputs')}: last or sequence expected, got {outputs!r}")
        params = {
            "W": _shaped(needs("weights"), (units, fan_in), field("weights"), "units × inputs, one row per unit"),
            "U": _shaped(needs("recurrent"), (units, units), field("recurrent"), "units × units, one row per unit"),
            "b": _bias(raw.get("bias"), units, field("bias")),
        }
        start = raw.get("initial_state", 0.0)
        h0 = _shaped(start, (units,), field("initial_state"), "one per unit") if isinstance(start, list) else np.full(units, _number(start, field("initial_state")))
        layer = Recurrent(number, act("tanh"), h0, outputs == "sequence")
        out = Signal("sequence", (signal.shape[0], units)) if outputs == "sequence" else Signal("vector", (units,))
    params = {role: value for role, value in params.items() if value is not None}
    return layer, params, trainable_bias, out


def _read_input(network: Mapping, has_rnn: bool) -> tuple[str, int | tuple[int, int, int]]:
    if ("input" in network) == ("inputs" in network):
        raise ValueError("network: give exactly one of inputs (a number) or input ({channels, height, width})")
    if "input" in network:
        image = network["input"]
        if not isinstance(image, Mapping) or set(image) != {"channels", "height", "width"}:
            raise ValueError(f"network.input: {{channels, height, width}} expected, got {image!r}")
        if has_rnn:
            raise ValueError("network.input: an rnn needs a sequence input (network.inputs), not an image")
        return "image", tuple(_count(image[k], f"network.input.{k}") for k in ("channels", "height", "width"))
    return ("sequence" if has_rnn else "vector"), _count(network["inputs"], "network.inputs")


def _read_sample(raw: Any, s: int, kind: str, width, steps: int | None) -> np.ndarray:
    where = f"data[{s}].x"
    if not isinstance(raw, Mapping) or "x" not in raw:
        raise ValueError(f"data[{s}]: a mapping with x expected")
    x = _array(raw["x"], where)
    if kind == "image":
        if x.shape != width:
            raise ValueError(f"{where}: shape {_dims(width)} expected ([channel][row][column] of network.input), got {_dims(x.shape)}")
    elif kind == "vector":
        if x.shape != (width,):
            raise ValueError(f"{where}: {width} numbers expected (network.inputs), got shape {_dims(x.shape)}")
    else:
        if x.ndim != 2 or x.shape[1] != width or x.shape[0] < 1:
            raise ValueError(f"{where}: a list of time steps of {width} numbers each expected (network.inputs), got shape {_dims(x.shape)}")
        if steps is not None and x.shape[0] != steps:
            raise ValueError(f"{where}: {x.shape[0]} time steps, but data[0] has {steps} (every sequence must have the same length)")
    return x


def _read_target(raw: Mapping, s: int, out: Signal) -> np.ndarray:
    k = out.shape[-1]
    if ("y" in raw) == ("label" in raw):
        raise ValueError(f"data[{s}]: give exactly one of y (a target) or label (a class index)")
    if "label" in raw:
        labels = raw["label"]
        if out.kind == "sequence":
            if not isinstance(labels, list) or len(labels) != out.shape[0]:
                raise ValueError(f"data[{s}].label: {out.shape[0]} class indices expected (one per time step), got {labels!r}")
        else:
            labels = [labels]
        rows = []
        for label in labels:
            if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < k:
                raise ValueError(f"data[{s}].label: a class index from 0 to {k - 1} expected (output units), got {label!r}")
            rows.append(np.eye(k)[label])
        return np.array(rows) if out.kind == "sequence" else rows[0]
    y = _array(raw["y"], f"data[{s}].y")
    if out.kind == "sequence" and k == 1 and y.shape == (out.shape[0],):
        y = y[:, None]  # one number per time step for a one-unit output
    if y.shape != out.shape:
        what = "one target per time step, each of the output layer's units" if out.kind == "sequence" else "units of the output layer"
        raise ValueError(f"data[{s}].y: shape {_dims(out.shape)} expected ({what}), got {_dims(y.shape)}")
    return y


def _read_loss(raw: Any) -> tuple[Loss, str]:
    if not isinstance(raw, Mapping) or "kind" not in raw:
        raise ValueError("loss: a mapping with kind expected")
    allowed = {"kind": ("mse", "cross_entropy", "binary_cross_entropy", "hinge"), "outputs": ("sum", "mean"), "samples": ("sum", "mean"), "log": tuple(LN_OF_BASE)}
    defaults = {"outputs": "sum", "samples": "sum", "log": "ln"}
    values = {}
    for key, choices in allowed.items():
        values[key] = raw.get(key, defaults.get(key))
        if values[key] not in choices:
            raise ValueError(f"loss.{key}: one of {', '.join(choices)} expected, got {values[key]!r}")
    factor = _number(raw.get("factor", 0.5), "loss.factor")
    return Loss(values["kind"], factor, values["log"], values["outputs"]), values["samples"]


_NAME = re.compile(r"^([WbU])(\d+)(?:\[(\d+(?:,\d+)*)\])?$")


def _update_mask(update: Any, parameters: dict[str, np.ndarray], trainable: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``training.update``: "all", or canonical names (``W1``, ``b2[1]``, ``W1[1,1,2,3]``, 1-based) of what is trained."""
    if update in (None, "all"):
        return trainable
    if not isinstance(update, list):
        raise ValueError(f"training.update: all or a list of parameter names expected, got {update!r}")
    chosen = {key: np.zeros(value.shape, dtype=bool) for key, value in parameters.items()}
    for name in update:
        match = _NAME.match(str(name))
        if not match or f"{match[1]}{match[2]}" not in parameters:
            raise ValueError(f"training.update: no parameter {name!r}")
        key = f"{match[1]}{match[2]}"
        if match[3] is None:
            chosen[key][...] = True
            continue
        index = tuple(int(i) - 1 for i in match[3].split(","))
        if len(index) != chosen[key].ndim or not all(0 <= i < n for i, n in zip(index, chosen[key].shape)):
            raise ValueError(f"training.update: no parameter {name!r} (the shape of {key} is {_dims(chosen[key].shape)})")
        chosen[key][index] = True
    return {key: chosen[key] & trainable[key] for key in parameters}


def network(mapping: Mapping) -> Network:
    """Read (and check) a problem mapping once; every public function accepts the result too."""
    if isinstance(mapping, Network):
        return mapping
    if not isinstance(mapping, Mapping) or not isinstance(mapping.get("network"), Mapping):
        raise ValueError("network: required, missing (a problem mapping as yaml.safe_load gives it)")
    net = mapping["network"]
    raw_layers = net.get("layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        raise ValueError("network.layers: a non-empty list expected")
    rdz = net.get("relu_derivative_at_zero", 0)
    if rdz not in (0, 1) or isinstance(rdz, bool):
        raise ValueError(f"network.relu_derivative_at_zero: 0 or 1 expected, got {rdz!r}")
    has_rnn = any(isinstance(r, Mapping) and r.get("type") == "rnn" for r in raw_layers)
    kind, width = _read_input(net, has_rnn)

    data = mapping.get("data")
    if not isinstance(data, list) or not data:
        raise ValueError("data: a non-empty list of samples expected (a generated dataset: is not read here)")
    xs: list[np.ndarray] = []
    for s, raw in enumerate(data):
        xs.append(_read_sample(raw, s, kind, width, xs[0].shape[0] if xs and kind == "sequence" else None))
    signal = Signal(kind, width if kind == "image" else (xs[0].shape[0], width) if kind == "sequence" else (width,))

    layers, parameters, trainable, rates = [], {}, {}, {}
    for index, raw in enumerate(raw_layers):
        layer, params, trainable_bias, signal = _read_layer(raw, index, signal, rdz, index == len(raw_layers) - 1)
        layers.append(layer)
        own = raw.get("learning_rate")
        for role in ("W", "U", "b"):
            if role in params:
                key = f"{role}{index + 1}"
                parameters[key] = params[role]
                trainable[key] = np.full(params[role].shape, role != "b" or trainable_bias)
                if own is not None:
                    rates[key] = _number(own, f"network.layers[{index}].learning_rate")
    if signal.kind == "image":
        raise ValueError(f"network.layers[{len(raw_layers) - 1}]: the network ends with {signal.describe()}; end with flatten and dense layers")

    loss, samples = _read_loss(mapping.get("loss"))
    ys = tuple(_read_target(raw, s, signal) for s, raw in enumerate(data))
    training = mapping.get("training") or {}
    rate = training.get("learning_rate")
    return Network(
        layers=tuple(layers),
        parameters=parameters,
        trainable=_update_mask(training.get("update"), parameters, trainable),
        input=Signal(kind, xs[0].shape),
        xs=tuple(xs),
        ys=ys,
        loss=loss,
        samples=samples,
        learning_rate=None if rate is None else _number(rate, "training.learning_rate"),
        steps=1 if training.get("steps") is None else _count(training["steps"], "training.steps", minimum=0),
        rates=rates,
    )


# ---------------------------------------------------------------------------
# Forward and backward, one sample at a time
# ---------------------------------------------------------------------------


def _roles(parameters: dict[str, np.ndarray], number: int) -> dict[str, np.ndarray]:
    return {key[0]: value for key, value in parameters.items() if key[1:] == str(number)}


def _forward(net: Network, parameters: dict[str, np.ndarray], s: int) -> tuple[list[np.ndarray], Pass]:
    """The pass of sample ``s``; also the input of every layer (what its backward rule needs).

    When a pre-activation lies within rounding of 0 or a max-pooling window's two largest inputs
    within rounding of each other, the sample's pass is the exact one (:func:`_exact_forward`)
    rounded to doubles: a kink or a tie in decimals is one here too."""
    inputs, zs, as_ = [], [], []
    signal = net.xs[s]
    for layer in net.layers:
        p = _roles(parameters, layer.number)
        if _near_tie(layer, signal):
            return _exact_forward(net, parameters, s)
        inputs.append(signal)
        z, a = layer.forward(p, signal)
        if _near_zero(layer, p, signal, z):
            return _exact_forward(net, parameters, s)
        zs.append(z)
        as_.append(a)
        signal = layer.output(a)
    if net.loss.kind == "hinge" and _near_margin(signal, net.ys[s]):
        return _exact_forward(net, parameters, s)  # the hinge's kink y·o = 1 decided in decimals
    terms = net.loss.terms(signal, net.ys[s])
    return inputs, Pass(tuple(zs), tuple(as_), signal, net.ys[s], terms, net.loss.sample_loss(terms))


def _near_margin(o: np.ndarray, y: np.ndarray) -> bool:
    """Is an output within rounding of the hinge's kink y·o = 1 but not on it as a double?"""
    with np.errstate(all="ignore"):
        gap = np.abs(1 - y * o)
        return bool(np.any((gap > 0) & (gap <= NEAR * np.maximum(1.0, np.abs(o)))))


def _near_tie(layer: Layer, signal: np.ndarray) -> bool:
    """Does a max-pooling window hold two largest inputs within rounding of each other?"""
    if not isinstance(layer, Pool2d) or layer.mode != "max":
        return False
    for _, _, rows, cols, _ in layer._windows(*signal.shape[1:]):
        window = signal[:, rows][:, :, cols].reshape(signal.shape[0], -1)
        top = window.max(axis=1, keepdims=True)
        gaps = top - window
        # equal doubles tie, and np.argmax takes the first either way: only an input within rounding of
        # the largest but not equal to it as a double (0.39999999999999997 beside 0.4) needs the decimals
        if np.any((gaps > 0) & (gaps <= NEAR * np.abs(top))):  # relative, as rounding is
            return True
    return False


def _near_zero(layer: Layer, p: dict[str, np.ndarray], signal: np.ndarray, z: np.ndarray) -> bool:
    """Is a pre-activation within rounding of 0 (within 1e-9 of the size of its terms) under an
    activation with a branch there (relu, leaky_relu, elu, step), or — under any activation — a
    cancellation of terms beyond 1e5 (:data:`tracer.numeric.exact.LARGE`), where the decimals the
    engine reads and the doubles differ by more than verification allows?"""
    if not isinstance(layer, (Dense, Conv2d, Recurrent)):
        return False
    kinked = layer.activation.name in _KINKED
    if not kinked and not any(np.any(np.abs(value) > 1.0) for value in p.values()) and not np.any(np.abs(signal) > 1.0):
        return False  # small terms: the doubles are the decimals to every digit verification reads
    with np.errstate(all="ignore"):
        size, _ = layer.forward({key: np.abs(value) for key, value in p.items()}, np.abs(signal))
        finite = all(np.all(np.isfinite(value)) for value in p.values()) and bool(np.all(np.isfinite(signal)))
        if not finite:
            return False  # an inf among the terms has no decimal: the doubles stand
        near = (size > 0) & (np.abs(z) <= NEAR * size)
        if not kinked:  # no branch: only where large terms make the decimals and the doubles differ (numeric.exact.LARGE)
            near &= ~(size <= LARGE)
        return bool(np.any(near))


def _exact_forward(net: Network, parameters: dict[str, np.ndarray], s: int) -> tuple[list[np.ndarray], Pass]:
    """Sample ``s``'s pass in exact arithmetic from the decimals, each value then rounded to the
    nearest double: every number is the Fraction of the decimal its double is written with (0.1 is
    1/10), the layers' own forward rules run on object arrays of them, and a transcendental
    activation (σ, tanh, elu, softplus, arctan, softmax) is evaluated by mpmath to 60 digits —
    after which a pre-activation below 10⁻⁴⁵ of its terms' size counts as 0 (a cancellation), and
    any other value below 10⁻⁴⁵ too (the doubles it gives; every decision reads the exact values)."""
    signal = _decimals(net.xs[s])
    p_exact = {key: _decimals(value) for key, value in parameters.items()}
    inputs, zs, as_ = [], [], []
    inexact = False  # past a transcendental function: "0" is below 10⁻⁴⁵ (of the terms, for a sum)
    for layer in net.layers:
        inputs.append(_doubles(signal, inexact))
        z, a = layer.forward(_roles(p_exact, layer.number), signal)
        if inexact and isinstance(layer, (Dense, Conv2d, Recurrent)):  # a sum: 0 relative to its terms (tanh(1e−300)·1 is no 0)
            zs.append(_doubles(z, inexact, _term_sizes(layer, _roles(p_exact, layer.number), signal, a)))
        else:
            zs.append(_doubles(z, inexact))
        activation = getattr(layer, "activation", None)
        inexact = inexact or (activation is not None and activation.name not in _RATIONAL)
        as_.append(_doubles(a, inexact))
        signal = layer.output(a)
    output = _doubles(signal, inexact)
    terms = net.loss.terms(output, net.ys[s])
    return inputs, Pass(tuple(zs), tuple(as_), output, net.ys[s], terms, net.loss.sample_loss(terms))


#: a double within this fraction of the size of its terms may be a rounded exact 0 (or tie)
NEAR = 1e-9
#: see tracer.numeric.exact.LARGE (the same bound)
LARGE = 1e5
#: activations whose value is a rational function of z (exact in Fractions)
_RATIONAL = {"identity", "relu", "leaky_relu", "step"}
#: activations with a branch at z = 0
_KINKED = {"relu", "leaky_relu", "elu", "step"}


def _decimals(values: np.ndarray) -> np.ndarray:
    """Doubles as an object array of the decimals they are written with (repr: 0.1 → 1/10)."""
    out = np.empty(np.shape(values), dtype=object)
    for index, v in np.ndenumerate(np.asarray(values, dtype=float)):
        out[index] = Fraction(repr(float(v))) if math.isfinite(v) else float(v)  # inf has no decimal: it stays inf
    return out


def _term_sizes(layer: Dense | Conv2d | Recurrent, p: dict[str, np.ndarray], x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Σ|w·u| + |b| of each pre-activation of the exact pass (``a``: its states, for a recurrent layer)."""
    p = {key: np.abs(value) for key, value in p.items()}
    if isinstance(layer, Recurrent):
        sizes = np.empty(a.shape, dtype=object)
        previous = np.abs(_decimals(layer.initial_state))
        for t in range(x.shape[0]):
            sizes[t] = p["W"] @ np.abs(x[t]) + p["U"] @ previous + (p["b"] if "b" in p else 0)
            previous = np.abs(a[t])
        return sizes
    linear = dataclasses.replace(layer, activation=Elementwise("identity", lambda z: z, lambda z, a: np.ones_like(z)))
    size, _ = linear.forward(p, np.abs(x))
    return np.broadcast_to(size, np.shape(size))


def _doubles(values: np.ndarray, inexact: bool, size: np.ndarray | None = None) -> np.ndarray:
    """The nearest doubles; past a transcendental function a value below 10⁻⁴⁵ (of ``size``, its
    terms' size, where given) is 0."""
    out = np.empty(values.shape)
    for index, v in np.ndenumerate(values):
        floor = Fraction(1, 10**45) if size is None else Fraction(1, 10**45) * size[index]
        out[index] = 0.0 if (abs(v) <= floor if inexact else v == 0) else _double(v)
    return out


def _double(v) -> float:
    """The nearest double, ±inf beyond ±1.8e308 (as the doubles' own pass overflows)."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _exact_map(fn: Callable, z: np.ndarray) -> np.ndarray:
    out = np.empty(z.shape, dtype=object)
    for index, v in np.ndenumerate(z):
        out[index] = fn(v)
    return out


def _sixty(fn: Callable, v: Fraction) -> Fraction:
    """fn(v) by mpmath to 60 digits, as the Fraction of that binary number."""
    with mpmath.workdps(60):
        return binary_fraction(fn(mpmath.mpf(v.numerator) / v.denominator))


def binary_fraction(value: mpmath.mpf) -> Fraction:
    """An mpmath number as the Fraction of its binary value, sign included (``man_exp`` drops it:
    tanh(−2) came out +0.964); below 2⁻¹¹⁰⁰ it is 0, beyond 2¹¹⁰⁰ an OverflowError (e^(−1e300) took
    minutes as 2^(−1.4e300)). The twin's own copy of tracer.numeric.exact's: it imports nothing of tracer."""
    sign, mantissa, exponent, bits = value._mpf_
    if not mantissa or exponent + bits < -1100:
        return Fraction(0)
    if exponent + bits > 1100:
        raise OverflowError("beyond double precision's range")
    return (-1 if sign else 1) * Fraction(int(mantissa)) * Fraction(2) ** int(exponent)


def _exact_activation(name: str, alpha: float, z: Fraction) -> Fraction:
    a = Fraction(repr(alpha))
    rules: dict[str, Callable[[], Fraction]] = {
        "identity": lambda: z,
        "relu": lambda: z if z > 0 else Fraction(0),
        "leaky_relu": lambda: z if z >= 0 else a * z,
        "step": lambda: Fraction(1 if z >= 0 else 0),
        "elu": lambda: z if z >= 0 else a * (_sixty(mpmath.exp, z) - 1),
        "sigmoid": lambda: _sixty(lambda u: 1 / (1 + mpmath.exp(-u)), z),
        "tanh": lambda: _sixty(mpmath.tanh, z),
        "softplus": lambda: _sixty(lambda u: mpmath.log(1 + mpmath.exp(u)), z),
        "arctan": lambda: _sixty(mpmath.atan, z),
        "gelu": lambda: _sixty(lambda u: u * mpmath.ncdf(u), z),
        "gelu_tanh": lambda: _sixty(lambda u: u / 2 * (1 + mpmath.tanh(mpmath.sqrt(2 / mpmath.pi) * (u + mpmath.mpf("0.044715") * u**3))), z),
        "silu": lambda: _sixty(lambda u: u / (1 + mpmath.exp(-u)), z),
    }
    return rules[name]()


#: the largest double: a pre-activation beyond it is ±inf in the doubles' pass
_LARGEST = Fraction(float(np.finfo(float).max))


def _exact_softmax(z: np.ndarray) -> np.ndarray:
    """The softmax of each row, to 60 digits; a row with a pre-activation beyond ±1.8e308 is not
    finite (nan), as in the doubles' pass, where that pre-activation is ±inf and e^(z − max z) is
    e^(inf − inf): the engine's convention, so that both passes call it an overshoot."""
    out = np.empty(z.shape, dtype=object)
    for index in np.ndindex(z.shape[:-1]):
        if any(not isinstance(v, Fraction) or abs(v) > _LARGEST for v in z[index]):
            out[index] = [math.nan] * len(z[index])
            continue
        with mpmath.workdps(60):
            e = [mpmath.exp(mpmath.mpf(v.numerator) / v.denominator) for v in z[index]]
            total = mpmath.fsum(e)
            out[index] = [binary_fraction(v / total) for v in e]
    return out


def _backward(net: Network, parameters: dict[str, np.ndarray], s: int) -> tuple[Pass, SampleBackward]:
    inputs, fwd = _forward(net, parameters, s)
    depth = len(net.layers)
    dloss_da: list = [None] * depth
    dloss_dz: list = [None] * depth
    grads: dict[str, np.ndarray] = {}
    d_out = net.loss.derivative(fwd.output, fwd.target)  # ∂loss_s/∂(what the last layer passed up)
    for l in reversed(range(depth)):
        layer = net.layers[l]
        back = layer.backward(_roles(parameters, layer.number), inputs[l], fwd.z[l], fwd.a[l], d_out)
        dloss_da[l], dloss_dz[l] = back.dloss_da, back.dloss_dz
        grads.update({f"{role}{layer.number}": g for role, g in back.grads.items()})
        d_out = back.dloss_dx
    ordered = {key: grads[key] for key in parameters}
    return fwd, SampleBackward(tuple(dloss_da), tuple(dloss_dz), d_out, ordered)


def _sample_weight(net: Network) -> float:
    return 1.0 if net.samples == "sum" else 1.0 / len(net.xs)


def _loss(net: Network, parameters: dict[str, np.ndarray]) -> float:
    return _sample_weight(net) * sum(_forward(net, parameters, s)[1].loss for s in range(len(net.xs)))


def _gradients(net: Network, parameters: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    total = {key: np.zeros_like(value) for key, value in parameters.items()}
    for s in range(len(net.xs)):
        for key, g in _backward(net, parameters, s)[1].grads.items():
            total[key] += g
    weight = _sample_weight(net)
    return {key: weight * g for key, g in total.items()}


# ---------------------------------------------------------------------------
# The public functions
# ---------------------------------------------------------------------------


def _quiet(fn):
    """An inf or nan is itself the report (a log of 0, an overflow); NumPy's warnings would only repeat it."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
            return fn(*args, **kwargs)

    return wrapper


def _sample(net: Network, sample_index: int) -> int:
    if not 0 <= sample_index < len(net.xs):
        raise IndexError(f"sample index {sample_index}: the data has samples 0 to {len(net.xs) - 1}")
    return sample_index


def parameters(mapping: Mapping | Network) -> dict[str, np.ndarray]:
    """The file's parameters as arrays (``W1``, ``b1``, ``U2`` …), shaped as :func:`gradients`."""
    return {key: value.copy() for key, value in network(mapping).parameters.items()}


@_quiet
def forward(mapping: Mapping | Network, sample_index: int) -> Pass:
    """The forward pass of one sample (0-based index into ``data``)."""
    net = network(mapping)
    return _forward(net, net.parameters, _sample(net, sample_index))[1]


@_quiet
def backward(mapping: Mapping | Network, sample_index: int) -> SampleBackward:
    """The backward pass of one sample: ∂loss_s/∂(every a, z, x and parameter)."""
    net = network(mapping)
    return _backward(net, net.parameters, _sample(net, sample_index))[1]


@_quiet
def loss(mapping: Mapping | Network) -> float:
    """The total loss: the samples' losses summed, or averaged (``loss.samples: mean``)."""
    net = network(mapping)
    return _loss(net, net.parameters)


@_quiet
def gradients(mapping: Mapping | Network) -> dict[str, np.ndarray]:
    """∂(total loss)/∂θ for every parameter, by the backward rules of the layers (no differencing)."""
    net = network(mapping)
    return _gradients(net, net.parameters)


@_quiet
def finite_differences(mapping: Mapping | Network, step: float = 1e-6) -> dict[str, np.ndarray]:
    """(loss(θ + h) − loss(θ − h)) / 2h for every parameter entry: a check that knows no chain rule."""
    net = network(mapping)
    out = {}
    for key, value in net.parameters.items():
        g = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            sides = []
            for sign in (+1, -1):
                shifted = value.copy()
                shifted[index] += sign * step
                sides.append(_loss(net, {**net.parameters, key: shifted}))
            g[index] = (sides[0] - sides[1]) / (2 * step)
        out[key] = g
    return out


@_quiet
def descend(mapping: Mapping | Network, learning_rate: float | None = None, steps: int | None = None) -> dict[str, np.ndarray]:
    """The parameters after ``steps`` plain full-batch steps θ ← θ − η ∂L/∂θ (every gradient at the old θ).

    ``learning_rate`` and ``steps`` default to the file's ``training``; a layer's own
    ``learning_rate`` is its parameters' η; parameters left out by ``training.update`` or
    ``trainable_bias: false`` stay exactly as they were.
    """
    net = network(mapping)
    rate = net.learning_rate if learning_rate is None else learning_rate
    if rate is None:
        raise ValueError("training.learning_rate: required, missing (or pass learning_rate)")
    theta = parameters(net)
    for _ in range(net.steps if steps is None else steps):
        grads = _gradients(net, theta)
        theta = {key: np.where(net.trainable[key], value - net.rates.get(key, rate) * grads[key], value) for key, value in theta.items()}
    return theta


def with_parameters(mapping: Mapping, values: Mapping[str, np.ndarray]) -> dict:
    """A copy of the mapping with the given parameters written back in the file's own layout
    (``input_major`` transposed again, a shared bias as one number)."""
    out = copy.deepcopy(dict(mapping))
    layers = out["network"]["layers"]
    for key, value in values.items():
        role, number = key[0], int(key[1:])
        raw = layers[number - 1]
        array = np.asarray(value, dtype=float)
        if role == "W" and raw.get("weights_layout") == "input_major":
            array = array.T
        field = {"W": "weights", "U": "recurrent", "b": "bias"}[role]
        raw[field] = array.tolist()
    return out
