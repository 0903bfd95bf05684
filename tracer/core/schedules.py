"""A learning-rate schedule as the local equation of each update's rate (SPEC.md §9).

torch.optim.lr_scheduler's schedules in their closed forms (``_get_closed_form_lr``), with η the
file's ``learning_rate`` (torch's ``base_lr``, a layer's own rate where it has one) and n the
number of ``scheduler.step()`` calls before the update (torch's ``last_epoch``; update t reads
n = t − 1, or the epochs finished before it with ``per: epoch``):

===========  ========================================  =====================================
step         η_t = η·γ^⌊n/s⌋                           StepLR(step_size=s, gamma=γ)
multistep    η_t = η·γ^k, k = milestones ≤ n          MultiStepLR(milestones, gamma=γ)
exponential  η_t = η·γ^n                               ExponentialLR(gamma=γ)
cosine       η_t = η_min + (η − η_min)·(1 + cos(π·n/T))/2   CosineAnnealingLR(T_max=T, eta_min)
linear       η_t = η·(f₀ + (f₁ − f₀)·n/N) for n < N, η·f₁ after   LinearLR(start_factor=f₀, end_factor=f₁, total_iters=N)
===========  ========================================  =====================================

With ``warmup: w`` the rate first rises linearly, η_t = η·(f_w + (1 − f_w)·n/w) for n < w, and
the schedule then starts afresh with n − w steps: torch's
``SequentialLR([LinearLR(start_factor=f_w, end_factor=1, total_iters=w), schedule], milestones=[w])``.

torch's own ``scheduler.step()`` computes the same rates by their chainable forms (the rate of
the step before times a factor), equal to these up to rounding (about 1e−16 relative).
:mod:`tracer.numeric.schedules` is the independent check. Nothing here knows about networks,
names or formatting.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import sympy as sp

from tracer.core.optimizers import _add, _minus, _mul, _over  # the unevaluated builders the equations share
from tracer.spec import ScheduleSpec

#: the file's rate (torch's base_lr), the scheduler steps before the update (last_epoch), the
#: decays MultiStepLR has made by then
BASE, N, K = sp.Symbol("eta", positive=True), sp.Symbol("n_sched", integer=True, nonnegative=True), sp.Symbol("k_decays", integer=True, nonnegative=True)
#: the schedule's constants, by the names the problem file gives them
HYPER = {name: sp.Symbol(name, positive=True) for name in ("gamma", "step_size", "T_max", "eta_min", "start_factor",
                                                            "end_factor", "total_iters", "warmup", "warmup_factor")}


@dataclass(frozen=True)
class Phase:
    """The rate's equation in one stretch of the schedule, and what it reads."""

    expression: sp.Expr
    constants: tuple[str, ...]  # the schedule's fields the expression reads (HYPER)


@lru_cache(maxsize=None)
def _phase(name: str, warm: bool, stretch: str) -> Phase:
    """The equation of ``stretch`` ("warmup", "main", "flat": LinearLR after its total_iters)."""
    one = sp.Integer(1)
    H = HYPER
    if stretch == "warmup":
        return Phase(_mul(BASE, _add(H["warmup_factor"], _mul(_minus(one, H["warmup_factor"]), _over(N, H["warmup"])))),
                     ("warmup_factor", "warmup"))
    n = _minus(N, H["warmup"]) if warm else N  # the schedule starts afresh after the warm-up
    extra = ("warmup",) if warm else ()
    if name == "step":
        return Phase(_mul(BASE, sp.Pow(H["gamma"], sp.floor(_over(n, H["step_size"]), evaluate=False), evaluate=False)), ("gamma", "step_size") + extra)
    if name == "multistep":
        return Phase(_mul(BASE, sp.Pow(H["gamma"], K, evaluate=False)), ("gamma",))
    if name == "exponential":
        return Phase(_mul(BASE, sp.Pow(H["gamma"], n, evaluate=False)), ("gamma",) + extra)
    if name == "cosine":
        wave = _add(one, sp.cos(_over(_mul(sp.pi, n), H["T_max"]), evaluate=False))
        return Phase(_add(H["eta_min"], _over(_mul(_minus(BASE, H["eta_min"]), wave), sp.Integer(2))), ("eta_min", "T_max") + extra)
    if name == "linear":
        if stretch == "flat":
            return Phase(_mul(BASE, H["end_factor"]), ("end_factor",))
        rise = _mul(_minus(H["end_factor"], H["start_factor"]), _over(n, H["total_iters"]))
        return Phase(_mul(BASE, _add(H["start_factor"], rise)), ("start_factor", "end_factor", "total_iters") + extra)
    raise ValueError(f"no schedule {name!r}")


def phase(spec: ScheduleSpec, n: int) -> Phase:
    """The equation of the rate after ``n`` scheduler steps."""
    if n < spec.warmup:
        return _phase(spec.name, True, "warmup")
    m = n - spec.warmup
    stretch = "flat" if spec.name == "linear" and m >= spec.total_iters else "main"
    return _phase(spec.name, spec.warmup > 0, stretch)


def decays(spec: ScheduleSpec, n: int) -> int:
    """MultiStepLR's k: the milestones the schedule has passed after ``n`` scheduler steps."""
    return bisect.bisect_right(spec.milestones, n - spec.warmup)


def constants(spec: ScheduleSpec) -> dict[str, float]:
    """The value of every constant a phase may read."""
    return {name: float(getattr(spec, name)) for name in HYPER}


@lru_cache(maxsize=None)
def _compiled(expression: sp.Expr) -> tuple[tuple[str, ...], Callable]:
    symbols = sorted(expression.free_symbols, key=lambda s: s.name)
    return tuple(s.name for s in symbols), sp.lambdify(symbols, expression, "math")


def bound(spec: ScheduleSpec, base: float, n: int) -> dict[str, float]:
    """The values of a phase's symbols, by name: η, n, k and the constants."""
    return {"eta": float(base), "n_sched": float(n), "k_decays": float(decays(spec, n)), **constants(spec)}


def rate(spec: ScheduleSpec, base: float, n: int) -> float:
    """The learning rate after ``n`` scheduler steps, from the file's rate ``base``: the value of
    the phase's own expression (what the document prints is what is computed)."""
    names, function = _compiled(phase(spec, n).expression)
    env = bound(spec, base, n)
    return float(function(*(env[name] for name in names)))


def title(spec: ScheduleSpec) -> str:
    """The torch call the schedule is (what the document says it is): ``StepLR(optimizer, step_size=2,
    gamma=0.5)``, inside ``SequentialLR`` with a warm-up, ``stepped once per update`` or ``per epoch``."""
    torch_names = {"step": "StepLR", "multistep": "MultiStepLR", "exponential": "ExponentialLR", "cosine": "CosineAnnealingLR",
                   "linear": "LinearLR"}
    arguments = []
    for name in ScheduleSpec.FIELDS[spec.name]:
        value = getattr(spec, name)
        arguments.append(f"{name}={list(value) if isinstance(value, tuple) else format(value, '.12g')}")
    call = f"{torch_names[spec.name]}(optimizer, {', '.join(arguments)})"
    if spec.warmup:
        call = (f"SequentialLR(optimizer, [LinearLR(optimizer, start_factor={spec.warmup_factor:.12g}, end_factor=1, "
                f"total_iters={spec.warmup}), {call}], milestones=[{spec.warmup}])")
    return f"torch.optim.lr_scheduler.{call}"


def phases(spec: ScheduleSpec) -> tuple[tuple[str, Phase], ...]:
    """Every stretch of the schedule with its equation, in order: (``warmup`` | ``main`` | ``flat``, phase)."""
    out = []
    if spec.warmup:
        out.append(("warmup", _phase(spec.name, True, "warmup")))
    out.append(("main", _phase(spec.name, spec.warmup > 0, "main")))
    if spec.name == "linear":
        out.append(("flat", _phase(spec.name, spec.warmup > 0, "flat")))
    return tuple(out)

