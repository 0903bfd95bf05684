"""The twins' exact decisions: a kink or a tie judged from the decimals, as a hand calculation does.

The NumPy twins compute in doubles. Where a pre-activation lies within rounding of 0 (a ReLU's
kink: ``0.1·1 + 0.2·1 − 0.3`` is 5.55e−17 in doubles, 0 in decimals) or two inputs of a
max-pooling window lie within rounding of each other (``0.3 + 0.4`` against ``0.7``), the twin
recomputes the sample exactly and replaces those doubles by the nearest double of the exact
value, so that the branch taken — relu'(0) by the problem's convention, the first of two equal
maxima — is the one a student takes. This is the twins' own arithmetic, sharing nothing with the
SymPy engine's (:mod:`tracer.core.exact`): numbers are :class:`fractions.Fraction`, each the
decimal its double is written with (the shortest one that reads back as it); a sigmoid, tanh,
exp, log or arctan is evaluated by mpmath to 60 digits (and kept as the Fraction of that binary
value), after which a sum is "exactly 0" below 10⁻⁴⁵ of its largest term (a cancellation of
60-digit values; a small value is a number: tanh(1e−300)·1 is 1e−300, not 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Sequence

import mpmath
import numpy as np

#: a double within this fraction of the size of its terms may be a rounded exact 0 (or tie)
NEAR = 1e-9
#: digits of a transcendental function's value in the exact pass
DIGITS = 60
#: past a transcendental function, a sum below this fraction of its largest term is a 0 that 60 digits
#: cannot tell from one (relative: what cancelled sets the scale)
ZERO = Fraction(1, 10**45)

#: activations whose value is a rational function of z (exact in Fractions)
RATIONAL = {"identity", "linear", "relu", "leaky_relu", "step"}
#: activations with a branch at z = 0: only their pre-activations are settled (elsewhere a z within
#: rounding of 0 decides nothing, and the double is as good as the decimal to every printed digit)
KINKED = {"relu", "leaky_relu", "elu", "step"}
#: terms this large (Σ|w·u| + |b|) can make a cancellation's doubles and its decimals differ by more
#: than verification allows (each operand's double is within 1.1e−16 of its decimal: 3.3e−16 of the
#: terms in all, against 1e−9 of max(1, |z|)): then a layer without a branch is settled too, as the
#: engine settles every cancellation (a training rate of 1e308 leaves weights ±1e308 whose sum
#: 1.0604756e299 in decimals is 1.0604755780050757e299 in doubles)
LARGE = 1e5


def large_terms(inputs: np.ndarray, weights: np.ndarray, bias: np.ndarray | None) -> bool:
    """Could a pre-activation's terms reach :data:`LARGE` (a bound, no second product)?"""
    with np.errstate(all="ignore"):
        size = float(np.max(np.abs(inputs), initial=0.0)) * float(np.max(np.sum(np.abs(weights), axis=1), initial=0.0))
        if bias is not None:
            size += float(np.max(np.abs(bias), initial=0.0))
    return not size <= LARGE  # nan or inf: large too


def decimal(x: float) -> Fraction:
    """The decimal a double is written with: 0.1 → 1/10 (not 3602879701896397/2^55); ±inf has none
    and is refused (ValueError, as a computation out of range)."""
    if not math.isfinite(x):
        raise ValueError(f"{x} has no decimal value")
    return Fraction(repr(float(x)))


def _fraction(value: mpmath.mpf) -> Fraction:
    """An mpmath number as the Fraction of its binary value, sign included (``man_exp`` drops it:
    tanh(−2) came out +0.964)."""
    return binary_fraction(value)


def binary_fraction(value: mpmath.mpf) -> Fraction:
    """An mpmath number as the Fraction of its binary value, sign included; one below 2⁻¹¹⁰⁰ (far
    under the smallest double) is 0, one beyond 2¹¹⁰⁰ is an OverflowError (e^(−1e300) took minutes
    as 2^(−1.4e300))."""
    sign, mantissa, exponent, bits = value._mpf_
    if not mantissa:
        return Fraction(0)
    if exponent + bits < -1100:
        return Fraction(0)
    if exponent + bits > 1100:
        raise OverflowError("beyond double precision's range")
    return (-1 if sign else 1) * Fraction(int(mantissa)) * Fraction(2) ** int(exponent)


def _transcendental(fn: Callable, *args: Fraction) -> Fraction:
    with mpmath.workdps(DIGITS):
        return _fraction(fn(*(mpmath.mpf(a.numerator) / a.denominator for a in args)))


def activate(name: str, alpha: float, z: Fraction) -> Fraction:
    """f(z) of one unit in exact (or 60-digit) arithmetic."""
    if name in ("identity", "linear"):
        return z
    if name == "relu":
        return z if z > 0 else Fraction(0)
    if name == "leaky_relu":
        return z if z >= 0 else decimal(alpha) * z
    if name == "step":
        return Fraction(1) if z >= 0 else Fraction(0)
    if name == "elu":
        return z if z >= 0 else decimal(alpha) * (_transcendental(mpmath.exp, z) - 1)
    if name in ("sigmoid", "logistic"):
        return _transcendental(lambda u: 1 / (1 + mpmath.exp(-u)), z)
    if name == "tanh":
        return _transcendental(mpmath.tanh, z)
    if name == "softplus":
        return _transcendental(lambda u: mpmath.log(1 + mpmath.exp(u)), z)
    if name == "arctan":
        return _transcendental(mpmath.atan, z)
    if name == "gelu":
        return _transcendental(lambda u: u * mpmath.ncdf(u), z)
    if name == "gelu_tanh":
        return _transcendental(lambda u: u / 2 * (1 + mpmath.tanh(mpmath.sqrt(2 / mpmath.pi) * (u + mpmath.mpf("0.044715") * u**3))), z)
    if name in ("silu", "swish"):
        return _transcendental(lambda u: u / (1 + mpmath.exp(-u)), z)
    raise ValueError(f"no exact rule for the activation {name!r}")


def softmax(z: Sequence[Fraction]) -> list[Fraction]:
    with mpmath.workdps(DIGITS):
        e = [mpmath.exp(mpmath.mpf(v.numerator) / v.denominator) for v in z]
        total = mpmath.fsum(e)
        return [_fraction(v / total) for v in e]


def is_zero(value: Fraction, inexact: bool, scale: Fraction) -> bool:
    """Is ``value`` 0: exactly, or — a sum of 60-digit terms as large as ``scale`` — below 10⁻⁴⁵ of them?"""
    return abs(value) <= ZERO * scale if inexact else value == 0


def to_float(value: Fraction, inexact: bool, scale: Fraction) -> float:
    """The double nearest an exact sum (0.0 for an exact 0, or a 60-digit one below 10⁻⁴⁵ of its terms'
    ``scale``; ±inf beyond ±1.8e308, as the doubles' own pass overflows)."""
    if is_zero(value, inexact, scale):
        return 0.0
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def exact_array(values: np.ndarray) -> np.ndarray:
    """An array of doubles as an object array of their decimals."""
    out = np.empty(np.shape(values), dtype=object)
    for index, v in np.ndenumerate(np.asarray(values, dtype=float)):
        out[index] = decimal(v)
    return out


def activate_array(name: str, alpha: float, z: np.ndarray) -> np.ndarray:
    """f(z) entry by entry on an object array (softmax over the last axis)."""
    if name == "softmax":
        out = np.empty(z.shape, dtype=object)
        for index in np.ndindex(z.shape[:-1]):
            out[index] = softmax(list(z[index]))
        return out
    out = np.empty(z.shape, dtype=object)
    for index, v in np.ndenumerate(z):
        out[index] = activate(name, alpha, v)
    return out


# ---------------------------------------------------------------------------
# Dense networks (tracer.numeric.mlp, tracer.numeric.training)
# ---------------------------------------------------------------------------


@dataclass
class DenseSample:
    """The exact forward pass of one sample through dense layers, layer by layer when asked."""

    x: np.ndarray  # (inputs,) doubles
    weights: Sequence[np.ndarray]  # per layer (units, inputs)
    biases: Sequence[np.ndarray | None]
    activations: Sequence[tuple[str, float]]  # (name, alpha) per layer
    z: list[list[Fraction]] = field(default_factory=list)
    a: list[list[Fraction]] = field(default_factory=list)
    #: per layer and unit, the largest |term| of the pre-activation's sum (what a cancellation is measured against)
    scale: list[list[Fraction]] = field(default_factory=list)

    def inexact(self, layer: int) -> bool:
        """Has a transcendental function been applied before layer ``layer``'s pre-activation?"""
        return any(name not in RATIONAL for name, _ in self.activations[:layer])

    def pre_activation(self, layer: int) -> list[Fraction]:
        while len(self.z) <= layer:
            l = len(self.z)
            inputs = self.a[-1] if self.a else [decimal(v) for v in self.x]
            weights = self.weights[l]
            bias = self.biases[l]
            z, scale = [], []
            for j in range(weights.shape[0]):
                terms = [decimal(w) * u for w, u in zip(weights[j], inputs)]
                if bias is not None:
                    terms.append(decimal(bias[0] if np.size(bias) == 1 else bias[j]))
                z.append(sum(terms, Fraction(0)))
                scale.append(max((abs(t) for t in terms), default=Fraction(0)))
            name, alpha = self.activations[l]
            self.z.append(z)
            self.scale.append(scale)
            self.a.append(softmax(z) if name == "softmax" else [activate(name, alpha, v) for v in z])
        return self.z[layer]


def settle_dense(z: np.ndarray, inputs: np.ndarray, weights: np.ndarray, bias: np.ndarray | None,
                 exact: Callable[[int], DenseSample], layer: int) -> np.ndarray:
    """``z = inputs @ weightsᵀ + bias`` (samples × units) with every entry within rounding of 0
    replaced by the double of its exact value (``exact(s)``: sample s's exact pass)."""
    with np.errstate(all="ignore"):
        # a bound on Σ_i |w_ji·u_i| + |b_j| that costs no second product (a long run's every update)
        size = np.max(np.abs(inputs), axis=1, initial=0.0)[:, None] * np.sum(np.abs(weights), axis=1)[None, :]
        if bias is not None:
            size = size + np.abs(bias)
        near = (size > 0) & (np.abs(z) <= NEAR * size)
        # an inf among the terms has no decimal: the doubles stand
        near &= np.all(np.isfinite(inputs), axis=1)[:, None] & np.all(np.isfinite(weights), axis=1)[None, :]
        if bias is not None:
            near &= np.broadcast_to(np.isfinite(bias), near.shape)
    if not near.any():
        return z
    z = z.copy()
    for s, j in zip(*np.nonzero(near)):
        sample = exact(int(s))
        z[s, j] = to_float(sample.pre_activation(layer)[j], sample.inexact(layer), sample.scale[layer][j])
    return z
