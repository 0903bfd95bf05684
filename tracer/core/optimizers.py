"""Each optimizer as its local equations: the state updates and the parameter update.

An optimizer (SPEC.md §9) turns a parameter θ, its gradient g = ∂loss/∂θ and its state
from the step before into the state after and θ'. Each line is one local equation whose
right-hand side is a SymPy expression over the symbols below, exactly torch.optim's
definition with the state starting at zero:

===========  ==========================================================================
sgd          θ' = θ − η·g
momentum     v = β·v₋ + g;  θ' = θ − η·v           (Nesterov: θ' = θ − η·(g + β·v))
adagrad      G = G₋ + g²;   θ' = θ − η·g/(√G + ε)
rmsprop      s = α·s₋ + (1 − α)·g²;  θ' = θ − η·g/(√s + ε)
adam         m = β₁·m₋ + (1 − β₁)·g;  v = β₂·v₋ + (1 − β₂)·g²;
             m̂ = m/(1 − β₁ᵗ);  v̂ = v/(1 − β₂ᵗ);  θ' = θ − η·m̂/(√v̂ + ε)
adamw        Adam's m, v, m̂, v̂;  θ' = θ − η·λ·θ − η·m̂/(√v̂ + ε)   (decoupled: torch.optim.AdamW)
===========  ==========================================================================

``weight_decay`` λ > 0 on the others is torch's coupled decay: every g above reads g + λ·θ
(torch adds λ·θ to the gradient before the rule), written out where g stands so that each
equation shows the decay term with its numbers.

(``v₋`` is the state of the step before: :func:`previous`.) The numbers come from the
same expressions, turned into NumPy functions once per optimizer and evaluated for every
parameter at once, so what is printed is what is computed; :mod:`tracer.numeric.optimizers`
is the independent check. Nothing here knows about networks, names or formatting.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import sympy as sp

from tracer.spec import OptimizerSpec

THETA, GRAD, RATE, T = sp.symbols("theta g eta t", real=True)
#: the hyperparameters' symbols, by the name the problem file gives them
HYPER = {name: sp.Symbol(name, real=True, positive=True) for name in ("beta", "alpha", "beta1", "beta2", "eps", "weight_decay")}
#: the symbols of the state quantities after the step, by name (``m_hat``, ``v_hat``: Adam's corrected moments)
STATE = {name: sp.Symbol(name, real=True) for name in ("v", "G", "s", "m", "m_hat", "v_hat")}
#: the parameter after the update (the last equation's target)
AFTER = "theta"


def previous(name: str) -> sp.Symbol:
    """The symbol of state ``name`` of the step before (``v₋``)."""
    return sp.Symbol(f"{name}_prev", real=True)


@dataclass(frozen=True)
class Equation:
    """``target = expression``: a state (carried to the next step), a corrected moment, or θ'."""

    target: str
    expression: sp.Expr
    carried: bool  # the next step reads it as its previous state


@dataclass(frozen=True)
class Rule:
    """One optimizer: its equations in order, what they read, and how the document names it."""

    name: str
    title: str  # what the document says it is (torch.optim's class and arguments)
    hyper: tuple[str, ...]  # the hyperparameters its equations use
    equations: tuple[Equation, ...]

    @property
    def states(self) -> tuple[str, ...]:
        """The states carried from step to step (zero before the first)."""
        return tuple(e.target for e in self.equations if e.carried)

    @property
    def shown(self) -> tuple[str, ...]:
        """Every quantity the equations compute before θ': the states and the corrected moments."""
        return tuple(e.target for e in self.equations if e.target != AFTER)


def _add(*terms: sp.Expr) -> sp.Expr:
    return sp.Add(*terms, evaluate=False)


def _mul(*factors: sp.Expr) -> sp.Expr:
    return sp.Mul(*factors, evaluate=False)


def _minus(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    return _add(a, _mul(sp.Integer(-1), b))


def _over(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    return _mul(a, sp.Pow(b, -1, evaluate=False))


def rule(spec: OptimizerSpec) -> Rule:
    """The equations of ``spec``'s optimizer."""
    return _rule(spec.name, spec.nesterov, _decays(spec))


def _decays(spec: OptimizerSpec) -> bool:
    """Whether the equations carry the weight decay λ (AdamW always; the others when λ > 0)."""
    return spec.name == "adamw" or spec.decay > 0.0


def _titled(title: str, decay: bool) -> str:
    # "weight decay", not torch's weight_decay: a title is set as it is in every format (LaTeX has no bare _)
    return title[:-1] + ", weight decay)" if decay else title


@lru_cache(maxsize=None)
def _rule(name: str, nesterov: bool, decay: bool = False) -> Rule:
    v, G, s, m = STATE["v"], STATE["G"], STATE["s"], STATE["m"]
    beta, alpha, beta1, beta2, eps, lam = (HYPER[k] for k in ("beta", "alpha", "beta1", "beta2", "eps", "weight_decay"))
    one = sp.Integer(1)
    coupled = decay and name != "adamw"
    # torch's coupled weight decay: the rule reads g + λ·θ wherever it reads g
    g = _add(GRAD, _mul(lam, THETA)) if coupled else GRAD
    extra = ("weight_decay",) if decay else ()
    if name == "sgd":
        return Rule(name, _titled("gradient descent (torch.optim.SGD)", coupled), extra, (Equation(AFTER, _minus(THETA, _mul(RATE, g)), False),))
    if name == "momentum":
        step = _add(g, _mul(beta, v)) if nesterov else v
        title = "SGD with Nesterov momentum (torch.optim.SGD, nesterov=True)" if nesterov else "SGD with momentum (torch.optim.SGD)"
        return Rule(name, _titled(title, coupled), ("beta",) + extra, (
            Equation("v", _add(_mul(beta, previous("v")), g), True),
            Equation(AFTER, _minus(THETA, _mul(RATE, step)), False),
        ))
    if name == "adagrad":
        return Rule(name, _titled("AdaGrad (torch.optim.Adagrad)", coupled), ("eps",) + extra, (
            Equation("G", _add(previous("G"), sp.Pow(g, 2, evaluate=False)), True),
            Equation(AFTER, _minus(THETA, _over(_mul(RATE, g), _add(sp.sqrt(G, evaluate=False), eps))), False),
        ))
    if name == "rmsprop":
        return Rule(name, _titled("RMSprop (torch.optim.RMSprop)", coupled), ("alpha", "eps") + extra, (
            Equation("s", _add(_mul(alpha, previous("s")), _mul(_minus(one, alpha), sp.Pow(g, 2, evaluate=False))), True),
            Equation(AFTER, _minus(THETA, _over(_mul(RATE, g), _add(sp.sqrt(s, evaluate=False), eps))), False),
        ))
    if name in ("adam", "adamw"):
        adam_step = _over(_mul(RATE, STATE["m_hat"]), _add(sp.sqrt(STATE["v_hat"], evaluate=False), eps))
        if name == "adamw":  # decoupled: θ shrinks by η·λ·θ, then Adam's step (torch.optim.AdamW)
            title, after = "AdamW (torch.optim.AdamW)", _add(THETA, _mul(sp.Integer(-1), RATE, lam, THETA), _mul(sp.Integer(-1), adam_step))
        else:
            title, after = _titled("Adam (torch.optim.Adam)", coupled), _minus(THETA, adam_step)
        return Rule(name, title, ("beta1", "beta2", "eps") + extra, (
            Equation("m", _add(_mul(beta1, previous("m")), _mul(_minus(one, beta1), g)), True),
            Equation("v", _add(_mul(beta2, previous("v")), _mul(_minus(one, beta2), sp.Pow(g, 2, evaluate=False))), True),
            Equation("m_hat", _over(m, _minus(one, sp.Pow(beta1, T, evaluate=False))), False),
            Equation("v_hat", _over(v, _minus(one, sp.Pow(beta2, T, evaluate=False))), False),
            Equation(AFTER, after, False),
        ))
    raise ValueError(f"no optimizer {name!r}")


def hyperparameters(spec: OptimizerSpec) -> dict[str, float]:
    """The values of the hyperparameters the optimizer's equations use (torch's defaults filled in)."""
    values = {"beta": spec.beta, "alpha": spec.alpha, "beta1": spec.beta1, "beta2": spec.beta2, "eps": spec.epsilon,
              "weight_decay": spec.decay}
    return {k: values[k] for k in rule(spec).hyper}


@lru_cache(maxsize=None)
def _compiled(name: str, nesterov: bool, decay: bool = False) -> tuple[tuple[str, tuple[str, ...], Callable], ...]:
    """Each equation as a NumPy function of its symbols' names (made once per optimizer)."""
    out = []
    for equation in _rule(name, nesterov, decay).equations:
        symbols = sorted(equation.expression.free_symbols, key=lambda s: s.name)
        out.append((equation.target, tuple(s.name for s in symbols), sp.lambdify(symbols, equation.expression, "numpy")))
    return tuple(out)


def initial_state(spec: OptimizerSpec, size: int) -> dict[str, np.ndarray]:
    """Every state at zero, as torch.optim starts it."""
    return {name: np.zeros(size) for name in rule(spec).states}


#: heavy-ball momentum's previous iterate θ_{k−1} (``training.state.previous``)
PREVIOUS_ITERATE = sp.Symbol("theta_prev", real=True)
#: the velocity the previous update left behind: θ_k = θ_{k−1} − η·v_k, so v_k = (θ_{k−1} − θ_k)/η, and
#: torch's v_{k+1} = β·v_k + g, θ_{k+1} = θ_k − η·v_{k+1} is θ_k − η·g + β·(θ_k − θ_{k−1}): heavy ball
VELOCITY_FROM_PREVIOUS = Equation("v", _over(_minus(PREVIOUS_ITERATE, THETA), RATE), False)


def velocity_from_previous(theta: np.ndarray, previous: np.ndarray, rate: np.ndarray | float) -> np.ndarray:
    """v_k = (θ_{k−1} − θ_k)/η of every parameter: :data:`VELOCITY_FROM_PREVIOUS`, evaluated."""
    function = sp.lambdify([PREVIOUS_ITERATE, THETA, RATE], VELOCITY_FROM_PREVIOUS.expression, "numpy")
    return np.broadcast_to(np.asarray(function(previous, theta, rate), dtype=float), np.shape(theta)).copy()


def starting_state(spec: OptimizerSpec, given: dict[str, np.ndarray], theta: np.ndarray, rate: np.ndarray | float) -> dict[str, np.ndarray]:
    """The state before the file's first step: ``given`` per state letter (arrays shaped like
    ``theta``, zero where nothing was given), ``previous`` (heavy-ball's θ_{k−1}, ``theta`` where
    nothing was given) turned into momentum's v by :data:`VELOCITY_FROM_PREVIOUS`."""
    state = initial_state(spec, np.size(theta))
    for name, values in given.items():
        if name == "previous":
            state["v"] = velocity_from_previous(theta, values, rate)
        elif name in state:
            state[name] = np.array(values, dtype=float)
    return state


def apply(spec: OptimizerSpec, theta: np.ndarray, gradient: np.ndarray, state: dict[str, np.ndarray], t: int,
          rate: np.ndarray | float) -> dict[str, np.ndarray]:
    """Step ``t`` (1-based) for every parameter at once: the value of every equation's target
    (the states after, the corrected moments, ``theta`` the parameters after)."""
    env: dict[str, np.ndarray | float] = {"theta": theta, "g": gradient, "eta": rate, "t": float(t)}
    env.update(hyperparameters(spec))
    env.update({f"{k}_prev": v for k, v in state.items()})
    out: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for target, names, function in _compiled(spec.name, spec.nesterov, _decays(spec)):
            value = np.broadcast_to(np.asarray(function(*(env[n] for n in names)), dtype=float), np.shape(theta)).copy()
            env[target] = value
            out[target] = value
    return out
