"""Loss functions: each owns its per-output SymPy term, the textbook derivative and a NumPy twin.

A sample's loss is built from per-output terms ``E_k`` (Mazur's E_o1, E_o2), combined
by ``outputs: sum|mean``; the total loss combines samples by ``samples: sum|mean``.
The derivative ``∂E/∂o_k`` is obtained by differentiating the term with SymPy and
recognised as the textbook form (``−(y − o)``, ``−y/o``, …), checked once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import sympy as sp

from tracer.spec import LossSpec

LOG_BASE = {"ln": sp.E, "log10": sp.Integer(10), "log2": sp.Integer(2)}


def _nice(x: float) -> sp.Expr:
    """A user's constant as an exact rational when it is one (0.5 → 1/2), else a Float."""
    r = sp.nsimplify(x, rational=True)
    return r if (isinstance(r, sp.Rational) and r.q <= 1000) else sp.Float(x)


@dataclass(frozen=True)
class Loss:
    kind: str
    factor: float = 0.5
    log: str = "ln"
    outputs: str = "sum"
    samples: str = "sum"

    # -- SymPy ------------------------------------------------------------------
    def log_of(self, x: sp.Expr) -> sp.Expr:
        base = LOG_BASE[self.log]
        return sp.log(x) if base is sp.E else sp.log(x, base)

    def term(self, o: sp.Symbol, y: sp.Symbol) -> sp.Expr:
        """The per-output term E_k of one sample."""
        if self.kind == "mse":
            return _nice(self.factor) * (y - o) ** 2
        if self.kind == "cross_entropy":
            return -y * self.log_of(o)
        return -(y * self.log_of(o) + (1 - y) * self.log_of(1 - o))

    def textbook(self, o: sp.Symbol, y: sp.Symbol) -> sp.Expr:
        """∂E_k/∂o_k as the texts write it."""
        scale = 1 if self.log == "ln" else 1 / sp.log(LOG_BASE[self.log])
        if self.kind == "mse":
            c = 2 * _nice(self.factor)
            return sp.Mul(-1, y - o, evaluate=False) if c == 1 else sp.Mul(-c, y - o, evaluate=False)
        if self.kind == "cross_entropy":
            core = sp.Mul(-1, y / o, evaluate=False)
        else:
            core = sp.Mul(-1, sp.Add(y / o, -(1 - y) / (1 - o), evaluate=False), evaluate=False)
        return core if scale == 1 else sp.Mul(scale, core, evaluate=False)

    @property
    def output_scale(self) -> float:
        """1/K for ``outputs: mean`` is applied when the terms are combined, not inside a term."""
        return 1.0

    # -- numbers ---------------------------------------------------------------
    def term_value(self, o: float, y: float) -> float:
        return _term_fn(self)(o, y)

    def derivative_value(self, o: float, y: float) -> float:
        return _textbook_fn(self)(o, y)

    # -- NumPy twin ------------------------------------------------------------
    def numpy_terms(self, o: np.ndarray, y: np.ndarray) -> np.ndarray:
        ln_base = {"ln": 1.0, "log10": math.log(10), "log2": math.log(2)}[self.log]
        with np.errstate(divide="ignore"):
            if self.kind == "mse":
                return self.factor * (y - o) ** 2
            if self.kind == "cross_entropy":
                return -y * np.log(o) / ln_base
            return -(y * np.log(o) + (1 - y) * np.log(1 - o)) / ln_base


def make(spec: LossSpec) -> Loss:
    return Loss(spec.kind, spec.factor, spec.log, spec.outputs, spec.samples)


O, Y = sp.symbols("o y", positive=True)


@lru_cache(maxsize=None)
def local_derivative(loss: Loss) -> sp.Expr:
    """``∂E_k/∂o_k`` exactly as SymPy differentiates the term."""
    return sp.diff(loss.term(O, Y), O)


@lru_cache(maxsize=None)
def check_textbook_form(loss: Loss) -> bool:
    assert sp.simplify(local_derivative(loss) - loss.textbook(O, Y)) == 0, loss
    return True


def _safe_log(x: float, log: str) -> float:
    if x <= 0:
        return -math.inf
    return {"ln": math.log, "log10": math.log10, "log2": math.log2}[log](x)


@lru_cache(maxsize=None)
def _term_fn(loss: Loss) -> Callable[[float, float], float]:
    if loss.kind == "mse":
        return lambda o, y: loss.factor * (y - o) ** 2

    def xlogx(t: float, p: float) -> float:  # 0 · log 0 = 0, as the texts treat absent classes
        return 0.0 if t == 0 else t * _safe_log(p, loss.log)

    if loss.kind == "cross_entropy":
        return lambda o, y: -xlogx(y, o)
    return lambda o, y: -(xlogx(y, o) + xlogx(1 - y, 1 - o))


@lru_cache(maxsize=None)
def _textbook_fn(loss: Loss) -> Callable[[float, float], float]:
    check_textbook_form(loss)
    ln_base = {"ln": 1.0, "log10": math.log(10), "log2": math.log(2)}[loss.log]
    if loss.kind == "mse":
        return lambda o, y: -2 * loss.factor * (y - o)
    if loss.kind == "cross_entropy":
        return lambda o, y: (-(y / o) if y else -0.0) / ln_base

    def bce(o: float, y: float) -> float:
        first = y / o if y else 0.0
        second = (1 - y) / (1 - o) if (1 - y) else 0.0
        return -(first - second) / ln_base

    return bce
