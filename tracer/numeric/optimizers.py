"""The update rules of torch.optim, in NumPy: the independent check of the optimizer steps
that a worked solution writes out.

A worked solution that trains with Adam or momentum shows, for each parameter, the state
the optimizer carries (the velocity, the running averages) and the step it takes. This
module computes the same numbers with NumPy alone — no SymPy, nothing of ``tracer.core`` —
from the pseudo-code on torch.optim's documentation pages (SGD, Adagrad, RMSprop, Adam),
so that a slip on the symbolic side cannot be copied into its check.

Every state array starts at zero and step ``t`` counts from 1, as in torch. Only the
plain form of each optimizer is here, with torch's defaults and its ``weight_decay``: no
dampening, no ``lr_decay``, ``initial_accumulator_value = 0``, RMSprop neither centred nor
with momentum, Adam without AMSGrad, never ``maximize``. With ``η`` the learning rate
and ``g`` the gradient at the current ``θ``:

``sgd``
    ``θ ← θ − η g``
``momentum`` (``torch.optim.SGD(momentum=μ)``, dampening 0)
    ``v ← μ v + g`` (so ``v₁ = g``, torch's momentum buffer), ``θ ← θ − η v``;
    with ``nesterov``: ``θ ← θ − η (g + μ v)``, with the new ``v``
``adagrad`` (eps ``1e-10``)
    ``G ← G + g²``, ``θ ← θ − η g / (√G + ε)``
``rmsprop`` (α ``0.99``, eps ``1e-8``)
    ``s ← α s + (1 − α) g²``, ``θ ← θ − η g / (√s + ε)``
``adam`` (β₁ ``0.9``, β₂ ``0.999``, eps ``1e-8``)
    ``m ← β₁ m + (1 − β₁) g``, ``v ← β₂ v + (1 − β₂) g²``, ``m̂ = m / (1 − β₁ᵗ)``,
    ``v̂ = v / (1 − β₂ᵗ)``, ``θ ← θ − η m̂ / (√v̂ + ε)``

``adamw`` (torch.optim.AdamW: β₁ ``0.9``, β₂ ``0.999``, eps ``1e-8``, weight_decay ``0.01``)
    ``θ ← θ (1 − η λ)`` first (decoupled), then Adam's step on that θ
``weight_decay`` λ on the others (torch's coupled decay, default 0)
    ``g ← g + λ θ`` before the rule

ε is added *after* the square root in all three adaptive rules, as torch's pages write it
(TensorFlow puts it elsewhere). The learning rate may be an array broadcast against ``θ``:
a layer may carry its own rate.

:func:`update` is pure: it returns θ after the step, the new state and the intermediates a
worked solution shows (``step``, the amount subtracted from θ, for every optimizer; Adam's
``m_hat`` and ``v_hat``; Nesterov's ``g_nesterov``), and never writes into its inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: per optimizer, the arrays of state it carries from one step to the next
STATE_NAMES: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("v",),
    "adagrad": ("G",),
    "rmsprop": ("s",),
    "adam": ("m", "v"),
    "adamw": ("m", "v"),
}

#: torch's default ε of each optimizer that has one (Adagrad's is smaller than the others')
DEFAULT_EPS: dict[str, float] = {"adagrad": 1e-10, "rmsprop": 1e-8, "adam": 1e-8, "adamw": 1e-8}


@dataclass(frozen=True)
class Hyper:
    """An optimizer by name, with its hyperparameters; the defaults are torch.optim's.

    Only the fields of the named optimizer matter: ``beta``/``nesterov`` for momentum,
    ``alpha`` for RMSprop, ``beta1``/``beta2`` for Adam, ``eps`` for the three adaptive ones.
    """

    name: str  # "sgd" | "momentum" | "adagrad" | "rmsprop" | "adam"
    beta: float = 0.9  # momentum μ
    nesterov: bool = False  # momentum only
    alpha: float = 0.99  # rmsprop's smoothing constant
    beta1: float = 0.9  # adam
    beta2: float = 0.999  # adam
    eps: float | None = None  # None: the optimizer's default (DEFAULT_EPS)
    weight_decay: float | None = None  # None: torch's default (adamw 0.01, the others 0)

    def __post_init__(self) -> None:
        if self.name not in STATE_NAMES:
            raise ValueError(f"unknown optimizer {self.name!r}: expected one of {', '.join(STATE_NAMES)}")
        if self.nesterov and self.name != "momentum":
            raise ValueError(f"nesterov applies to the momentum optimizer, not to {self.name!r}")
        if not 0.0 <= self.beta < 1.0:
            raise ValueError(f"momentum beta must lie in [0, 1), got {self.beta}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"rmsprop alpha must lie in [0, 1], got {self.alpha}")
        for label, value in (("beta1", self.beta1), ("beta2", self.beta2)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"adam {label} must lie in [0, 1), got {value}")
        if self.eps is not None and not self.eps >= 0.0:
            raise ValueError(f"eps must be ≥ 0, got {self.eps}")
        if self.weight_decay is not None and not self.weight_decay >= 0.0:
            raise ValueError(f"weight_decay must be ≥ 0, got {self.weight_decay}")

    @property
    def epsilon(self) -> float:
        """The ε in use: ``eps`` if given, else the optimizer's torch default (0 for those without one)."""
        return self.eps if self.eps is not None else DEFAULT_EPS.get(self.name, 0.0)

    @property
    def decay(self) -> float:
        """The λ in use: ``weight_decay`` if given, else torch's default (AdamW 0.01, the others 0)."""
        return self.weight_decay if self.weight_decay is not None else (0.01 if self.name == "adamw" else 0.0)


def initial_state(hyper: Hyper, shape: int | tuple[int, ...]) -> dict[str, np.ndarray]:
    """The state before step 1: every array of the optimizer zero, shaped like θ."""
    return {name: np.zeros(shape, dtype=float) for name in STATE_NAMES[hyper.name]}


def starting_state(hyper: Hyper, given: dict[str, dict[str, float]], theta: dict[str, float], rate: dict[str, float] | float) -> dict[str, dict[str, float]]:
    """The state before the first update from what a problem gives (``training.state``), by
    parameter name: a state not given is 0; momentum's ``previous`` iterate θ_{k−1} becomes torch's
    ``momentum_buffer`` v = (θ_{k−1} − θ_k)/η, the velocity of an update θ_k = θ_{k−1} − η v at
    the same rate (heavy ball: θ_{k+1} = θ_k − η g + μ (θ_k − θ_{k−1}) = θ_k − η (μ v + g))."""
    out: dict[str, dict[str, float]] = {name: {p: 0.0 for p in theta} for name in STATE_NAMES[hyper.name]}
    for name, per in given.items():
        if name == "previous":
            if hyper.name != "momentum" or hyper.nesterov:
                raise ValueError("a previous iterate gives plain (heavy-ball) momentum's velocity only")
            for p, before in per.items():
                eta = rate[p] if isinstance(rate, dict) else rate
                out["v"][p] = (before - theta[p]) / eta
            continue
        if name not in out:
            raise ValueError(f"{hyper.name} carries no state {name!r}")
        for p, value in per.items():
            if name in ("G", "s") or (name == "v" and hyper.name in ("adam", "adamw")):
                if value < 0:
                    raise ValueError(f"{name} of {p} is a sum of squares, got {value}")
            out[name][p] = float(value)
    return out


def update(
    hyper: Hyper,
    theta: np.ndarray,
    grad: np.ndarray,
    state: dict[str, np.ndarray],
    t: int,
    rate: np.ndarray | float,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Step ``t`` (1-based) of the optimizer: ``(θ after, the new state, the intermediates)``.

    ``θ after = θ − intermediates["step"]``. Nothing passed in is written to.
    """
    theta = np.asarray(theta, dtype=float)
    grad = np.asarray(grad, dtype=float)
    rate = np.asarray(rate, dtype=float)
    _check(hyper, theta, grad, state, t, rate)
    old = {name: np.asarray(state[name], dtype=float) for name in STATE_NAMES[hyper.name]}
    eps = hyper.epsilon
    new: dict[str, np.ndarray] = {}
    shown: dict[str, np.ndarray] = {}

    start = theta
    if hyper.name == "adamw":  # decoupled (torch.optim.AdamW): θ ← θ (1 − η λ), then Adam's step
        theta = theta * (1.0 - rate * hyper.decay)
    elif hyper.decay:  # coupled (torch's other optimizers): g ← g + λ θ
        grad = grad + hyper.decay * theta
    if hyper.name == "sgd":
        step = rate * grad
    elif hyper.name == "momentum":
        new["v"] = hyper.beta * old["v"] + grad
        if hyper.nesterov:
            shown["g_nesterov"] = grad + hyper.beta * new["v"]
            step = rate * shown["g_nesterov"]
        else:
            step = rate * new["v"]
    elif hyper.name == "adagrad":
        new["G"] = old["G"] + grad**2
        step = rate * grad / (np.sqrt(new["G"]) + eps)
    elif hyper.name == "rmsprop":
        new["s"] = hyper.alpha * old["s"] + (1.0 - hyper.alpha) * grad**2
        step = rate * grad / (np.sqrt(new["s"]) + eps)
    else:  # adam, adamw
        new["m"] = hyper.beta1 * old["m"] + (1.0 - hyper.beta1) * grad
        new["v"] = hyper.beta2 * old["v"] + (1.0 - hyper.beta2) * grad**2
        shown["m_hat"] = new["m"] / (1.0 - hyper.beta1**t)
        shown["v_hat"] = new["v"] / (1.0 - hyper.beta2**t)
        step = rate * shown["m_hat"] / (np.sqrt(shown["v_hat"]) + eps)

    if hyper.name == "adamw":
        after = np.broadcast_to(theta - step, start.shape).copy()
        shown["step"] = start - after  # the decay and Adam's step together
        return after, new, shown
    shown["step"] = np.broadcast_to(step, theta.shape).copy()
    return theta - shown["step"], new, shown


def run(
    hyper: Hyper,
    theta0: np.ndarray,
    gradient: Callable[[np.ndarray], np.ndarray],
    steps: int,
    rate: np.ndarray | float,
) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """``steps`` updates from ``theta0``, the gradient taken afresh at each θ: θ and the state after each."""
    if steps < 0:
        raise ValueError(f"steps must be ≥ 0, got {steps}")
    theta = np.array(theta0, dtype=float)
    state = initial_state(hyper, theta.shape)
    history: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
    for t in range(1, steps + 1):
        theta, state, _ = update(hyper, theta, gradient(theta.copy()), state, t, rate)
        history.append((theta, state))
    return history


def _check(hyper: Hyper, theta: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray], t: int, rate: np.ndarray) -> None:
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1:
        raise ValueError(f"the step number t counts from 1, got {t!r}")
    if grad.shape != theta.shape:
        raise ValueError(f"the gradient has shape {grad.shape}, the parameters {theta.shape}")
    try:
        fits = np.broadcast_shapes(rate.shape, theta.shape) == theta.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"a learning rate of shape {rate.shape} does not apply to parameters of shape {theta.shape}")
    expected = set(STATE_NAMES[hyper.name])
    if set(state) != expected:
        raise ValueError(f"{hyper.name} carries the state {sorted(expected)}, got {sorted(state)}")
    for name in expected:
        if np.shape(state[name]) != theta.shape:
            raise ValueError(f"state {name!r} has shape {np.shape(state[name])}, the parameters {theta.shape}")
