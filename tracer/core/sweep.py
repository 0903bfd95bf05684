"""The engine's numbers: a forward sweep and a reverse sweep over any graph, vectorised.

Forward: each family in topological order is evaluated by its operation, for every
node and every sample at once (``values[:, family]`` from ``values[:, family.args]``).

Reverse, from each sample's loss (``adjoint[s, output] = 1``), the chain rule:

    ∂loss_s/∂v = Σ over the consumers c of v:  ∂loss_s/∂c · ∂c/∂v

with every local derivative ∂c/∂v given by c's operation (its textbook form, evaluated
for the whole family) and kept, because the worked solution shows each one. A
parameter (shared by the samples) collects one gradient per sample; the gradient of
the total loss combines them (``weights``: 1 each for a sum, 1/S for a mean).

Sequential order (``descend`` given): as soon as a parameter family has all its
gradient, it is updated, and the local derivatives of the remaining arguments of the
equations that use it are taken at the updated value — the hidden layer's δ goes
through the output layer's new weights, which is what reproduces Mazur's published
0.291027924.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from tracer.core.exact import Settler
from tracer.core.graph import Graph

#: (node ids of a parameter family, their combined gradient) → their values after the update
Descend = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class Pass:
    """Every number of one forward and backward pass at one parameter point."""

    values: np.ndarray = field(repr=False)  # (S, N): each node's value in each sample
    adjoint: np.ndarray = field(repr=False)  # (S, N): ∂(sample s's loss)/∂node
    local: dict[int, np.ndarray] = field(repr=False)  # family start → (S, size, arity): ∂node/∂argument as used
    gradient: np.ndarray = field(repr=False)  # (N,): the total loss's gradient (the samples combined; parameters only)
    after: np.ndarray = field(repr=False)  # (N,): the parameters after the update (= before where none is made)
    updated_within: frozenset[int] = frozenset()  # starts of the parameter families updated during the pass (sequential)
    #: family start → (S, size): the nodes whose branch was decided exactly at its kink or tie (ReLU at z = 0 in
    #: decimals, a max-pooling window with two equal maxima), where the documented convention applied
    kinks: dict[int, np.ndarray] = field(default_factory=dict, repr=False)


def _quiet() -> np.errstate:
    """An inf or nan is the report (an output of 0 under a log, an overflow), not a warning."""
    return np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore")


def forward(graph: Graph, leaves: np.ndarray) -> np.ndarray:
    """``leaves``: (S, N) with every leaf filled in; returns every node's value.

    A value within rounding of a cancellation to 0 or of a kink (a weighted sum of 0.1, 0.2 and
    −0.3; a max of two inputs equal in decimals) is the double nearest its exact value, from
    the leaves' decimals (:mod:`tracer.core.exact`): 0, not 5.55e−17."""
    values = leaves.copy()
    settler = Settler(graph, values)
    with _quiet():
        for family in graph.operations():
            values[:, family.start : family.stop] = family.op.forward(values[:, family.args], family.positions)
            settler.values_of(family)
    return values


#: a sum within this many units of rounding (of the sum of its terms' sizes) of zero is zero
ROUNDING = 4 * np.finfo(float).eps


def _scatter(adjoint: np.ndarray, size: np.ndarray, args: np.ndarray, contributions: np.ndarray) -> None:
    """Add each contribution to its argument's adjoint, and its size to the argument's ``size``
    (the sum of the absolute values of its terms, which bounds the rounding of the sum)."""
    flat = args.ravel()
    counts = np.bincount(flat, minlength=adjoint.shape[1])  # a sum of n terms rounds by up to (n − 1)·ε·Σ|term|
    for s in range(adjoint.shape[0]):
        adjoint[s] += np.bincount(flat, weights=contributions[s].ravel(), minlength=adjoint.shape[1])
        size[s] += np.bincount(flat, weights=np.abs(contributions[s]).ravel(), minlength=adjoint.shape[1]) * np.maximum(counts, 1)


def _rounded(values: np.ndarray, size: np.ndarray) -> np.ndarray:
    """A sum of terms that cancel to within its own rounding is exactly zero: the softmax's shared
    bias gradient Σ_k (p_k − y_k) is 0, not −5.55e−17."""
    with np.errstate(invalid="ignore"):
        # an infinite sum is no rounding (its size is infinite too): it stays what it is; nor is a finite
        # one whose size overflowed (terms of ±1e308: −1e308 + 1e308·0 is −1e308, not noise around 0)
        return np.where(np.isfinite(values) & np.isfinite(size) & (np.abs(values) <= ROUNDING * size), 0.0, values)


#: an adjoint whose rounding bound exceeds this much of it is computed again exactly: a tenth of what
#: verification allows (1e−9), and far above ENGINE_PRECISION's 1e−12, because the bound is the worst
#: case (n − 1)·4ε·Σ|term| — a conv bias's 64 terms cancelling to a thirtieth of their size reach 1e−12
#: without losing a printed digit, and an exact reverse pass costs the sample's whole exact forward pass
ADJOINT_PRECISION = 1e-10


def _settle_cancelled(settler: Settler, graph: Graph, ids: slice, adjoint: np.ndarray, size: np.ndarray) -> None:
    """Adjoints whose sum cancelled beyond what double precision keeps (its rounding bound, the terms'
    size × ROUNDING, above ADJOINT_PRECISION of it) are computed again exactly (:meth:`Settler.adjoints_of`)."""
    part, scale = adjoint[:, ids], size[:, ids]
    with np.errstate(invalid="ignore", over="ignore"):
        rows = np.isfinite(part) & np.isfinite(scale) & (part != 0) & (ROUNDING * scale > ADJOINT_PRECISION * np.abs(part))
    if rows.any():
        settler.adjoints_of(ids, adjoint, rows, ROUNDING * scale, graph.output)


def reverse(graph: Graph, values: np.ndarray, weights: np.ndarray, descend: Descend | None = None, *, sequential: bool = False,
            penalty: np.ndarray | None = None) -> Pass:
    """The chain rule from each sample's loss back to every node, and the update.

    ``weights`` (S,): how the samples' losses combine into the total loss. ``descend``:
    the update rule of the parameters (None: no update, ``after`` = the old values).
    ``penalty`` (N,): a term of the total loss's gradient that is no sample's (loss.regularization's
    λ·w), added to the combined gradient.
    """
    S, N = values.shape
    adjoint = np.zeros((S, N))
    size = np.zeros((S, N))  # per node: Σ |term| of its adjoint's sum
    adjoint[:, graph.output] = 1.0
    current = values.copy()  # the arguments as the backward pass sees them (sequential: updated parameters)
    gradient = np.zeros(N)
    after = values[0].copy()
    local: dict[int, np.ndarray] = {}
    updated: set[int] = set()
    leaves_done = graph.last_consumer
    families = graph.families
    settler = Settler(graph, values)
    with _quiet():
        for position in range(len(families) - 1, -1, -1):
            family = families[position]
            if family.op is None:
                continue
            ids = slice(family.start, family.stop)
            outputs = values[:, ids]
            derivative = settler.local_of(family, family.op.local(values[:, family.args], outputs, family.positions))
            adjoint[:, ids] = _rounded(adjoint[:, ids], size[:, ids])  # final now: every consumer has added to it
            if not sequential:
                _settle_cancelled(settler, graph, ids, adjoint, size)
            upstream = adjoint[:, ids][..., None]
            if not sequential:
                _scatter(adjoint, size, family.args, upstream * derivative)
                local[family.start] = derivative
                continue
            shared = graph.shared[family.args]  # parameter arguments: their gradient at the old values
            _scatter(adjoint, size, family.args, np.where(shared, upstream * derivative, 0.0))
            for leaf in families:
                if leaf.op is None and leaf.shared and leaves_done.get(leaf.start) == position:
                    _finish(leaf, adjoint, size, weights, gradient, after, current, descend, penalty)
                    updated.add(leaf.start)
            through = settler.local_of(family, family.op.local(current[:, family.args], outputs, family.positions))
            derivative = np.where(shared, derivative, through)
            _scatter(adjoint, size, family.args, np.where(shared, 0.0, upstream * derivative))
            local[family.start] = derivative
    if not sequential:
        with _quiet():  # a size of terms of ±1e308 overflows: it only says no rounding can be judged
            for leaf in families:
                if leaf.op is None and leaf.shared:
                    ids = slice(leaf.start, leaf.stop)
                    adjoint[:, ids] = _rounded(adjoint[:, ids], size[:, ids])
                    _settle_cancelled(settler, graph, ids, adjoint, size)
                    _finish(leaf, adjoint, size, weights, gradient, after, current, descend, penalty)
    for family in families:  # the leaves' own gradients (inputs, targets) are final too
        if family.op is None and not family.shared:
            ids = slice(family.start, family.stop)
            adjoint[:, ids] = _rounded(adjoint[:, ids], size[:, ids])
            if not sequential:
                _settle_cancelled(settler, graph, ids, adjoint, size)
    return Pass(values, adjoint, local, gradient, after, frozenset(updated) if sequential else frozenset(), settler.met)


def _finish(leaf, adjoint, size, weights, gradient, after, current, descend, penalty=None) -> None:
    """A parameter family's gradient is complete: combine the samples, update."""
    ids = slice(leaf.start, leaf.stop)
    adjoint[:, ids] = _rounded(adjoint[:, ids], size[:, ids])
    total = _rounded(adjoint[:, ids].sum(axis=0), np.abs(adjoint[:, ids]).sum(axis=0) * adjoint.shape[0] + size[:, ids].sum(axis=0))
    combined = total if np.all(weights == 1.0) else total * weights[0]
    if penalty is not None:
        combined = combined + penalty[ids]
    gradient[ids] = combined
    if descend is not None:
        after[ids] = descend(np.arange(leaf.start, leaf.stop), combined)
        current[:, ids] = after[ids]
