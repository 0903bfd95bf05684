"""Gradient clipping in NumPy: the independent check of ``training.clip`` (SPEC.md §9).

From torch's own definitions (``torch/nn/utils/clip_grad.py``), nothing of ``tracer.core``:

``clip_grad_norm_(params, max_norm)`` (norm_type 2)
    ``total_norm = ‖(‖g_1‖, ‖g_2‖, …)‖`` — the L2 norm of every gradient together;
    ``clip_coef = max_norm / (total_norm + 1e-6)``; every gradient multiplied by
    ``min(clip_coef, 1)`` (torch clamps the coefficient at 1.0 and always multiplies).
``clip_grad_value_(params, clip_value)``
    every gradient clamped to ``[−clip_value, clip_value]``.

Torch clips the ``.grad`` of the parameters it is given, before ``optimizer.step()``: a weight
decay the optimizer adds (``g + λθ``) comes after the clipping. Only the trained parameters'
gradients take part (``trained``); the others are returned unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Clipped:
    """The gradients after clipping, and (by norm) the total norm, torch's clip_coef and the factor used."""

    gradients: np.ndarray
    norm: float | None = None
    coef: float | None = None
    factor: float | None = None


def by_norm(gradients: np.ndarray, max_norm: float, trained: np.ndarray | None = None) -> Clipped:
    """torch.nn.utils.clip_grad_norm_ over the ``trained`` entries of ``gradients``."""
    g = np.asarray(gradients, dtype=float)
    mask = np.ones(g.shape, dtype=bool) if trained is None else np.asarray(trained, dtype=bool)
    total = float(np.linalg.norm(g[mask]))
    coef = max_norm / (total + 1e-6)
    factor = min(coef, 1.0)
    return Clipped(np.where(mask, g * factor, g), total, coef, factor)


def by_value(gradients: np.ndarray, clip_value: float, trained: np.ndarray | None = None) -> Clipped:
    """torch.nn.utils.clip_grad_value_ on the ``trained`` entries of ``gradients``."""
    g = np.asarray(gradients, dtype=float)
    mask = np.ones(g.shape, dtype=bool) if trained is None else np.asarray(trained, dtype=bool)
    return Clipped(np.where(mask, np.minimum(np.maximum(g, -clip_value), clip_value), g))


def clip(mode: str, threshold: float, gradients: np.ndarray, trained: np.ndarray | None = None) -> Clipped:
    """``mode`` "norm" (:func:`by_norm`) or "value" (:func:`by_value`)."""
    if mode == "norm":
        return by_norm(gradients, threshold, trained)
    if mode == "value":
        return by_value(gradients, threshold, trained)
    raise ValueError(f"clipping by 'norm' or 'value', not {mode!r}")
