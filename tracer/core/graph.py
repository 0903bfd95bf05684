"""The graph of local equations: nodes, the equation each computes, topological order, consumers.

A problem becomes a graph (a builder makes it): one node per quantity of one sample
— an input, a target, a parameter, a pre-activation, an activation, a loss term, the
sample's loss — each computed from its arguments by one operation of
:mod:`tracer.core.functions` (a leaf has none). Nodes are numbered 0…N−1; nodes that
share one local equation (a layer's pre-activations) form a :class:`Family`, a
contiguous block of numbers shaped like their index space, so that the engine can
evaluate a whole family with one NumPy call.

The graph is the same for every sample and every training step: a sample's numbers
are a row of an (samples × N) array, and a parameter (``shared``) has the same value in
every row. Nothing here holds numbers or knows about notation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator, Literal

import numpy as np

from tracer.core.functions import Operation
from tracer.keys import Quantity, Step

Stage = Literal["input", "parameter", "forward", "loss"]


@dataclass(frozen=True, eq=False)
class Family:
    """Nodes of one kind that share one local equation: a contiguous block of node numbers.

    Node ``start + k`` is the element of index ``np.unravel_index(k, shape)``; its key has
    that index plus one (units, inputs and outputs are numbered from 1).
    """

    kind: str
    layer: int | None
    shape: tuple[int, ...]
    start: int
    stage: Stage
    op: Operation | None = None  # None: a leaf
    args: np.ndarray | None = field(default=None, repr=False)  # (size, arity): each node's arguments, in equation order
    positions: np.ndarray | None = field(default=None, repr=False)  # a vector operation (softmax): which output each node is
    shared: bool = False  # one value for every sample (a parameter)
    constant: bool = False  # a leaf whose gradient is not asked for (inputs, targets)
    fused: bool = False  # a term of its consumer's equation: differentiated through, no gradient of its own
    section: int | None = None  # the layer whose sections show this family's steps
    name: str = ""  # a graph problem's node: its name (kind "node", one node per family)
    #: added to the index of every node: one time step of a recurrent layer is a family of its
    #: own (it depends on the step before), shaped (1, units) at offset (t − 1, 0): z1[t, j]
    offset: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=int)) if self.shape else 1

    @property
    def stop(self) -> int:
        return self.start + self.size

    @property
    def ids(self) -> np.ndarray:
        return np.arange(self.start, self.stop)

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    def index_of(self, node: int) -> tuple[int, ...]:
        """The 1-based index of a node of this family (its key's index)."""
        if not self.shape:
            return ()
        index = tuple(int(i) + 1 for i in np.unravel_index(node - self.start, self.shape))
        return tuple(i + o for i, o in zip(index, self.offset)) if self.offset else index

    def node(self, index: tuple[int, ...]) -> int:
        """The node number of a 1-based index (raises IndexError outside the family)."""
        if self.offset:
            index = tuple(i - o for i, o in zip(index, self.offset))
        if len(index) != len(self.shape) or any(not 1 <= i <= n for i, n in zip(index, self.shape)):
            raise IndexError(index)
        if not self.shape:
            return self.start
        return self.start + int(np.ravel_multi_index(tuple(i - 1 for i in index), self.shape))

    def key(self, node: int, sample: int | None = None, step: Step = 1) -> Quantity:
        """The key of a node in one sample (``None``: untagged) of one training step."""
        return Quantity(self.kind, self.layer, self.index_of(node), None if self.shared else sample, False, step, self.name)


@dataclass(frozen=True, eq=False)
class Graph:
    """Families in topological order (leaves first); ``output`` is the node differentiated."""

    families: tuple[Family, ...]
    output: int

    @property
    def size(self) -> int:
        return self.families[-1].stop if self.families else 0

    @cached_property
    def _starts(self) -> np.ndarray:
        return np.array([f.start for f in self.families])

    def family_of(self, node: int) -> Family:
        return self.families[int(np.searchsorted(self._starts, node, side="right")) - 1]

    @cached_property
    def _by_kind(self) -> dict[tuple[str, int | None, int, str], Family]:
        return {(f.kind, f.layer, len(f.shape), f.name): f for f in self.families if not f.offset}

    @cached_property
    def _stepped(self) -> dict[tuple[str, int | None, int], list[Family]]:
        """The families of one kind that a recurrent layer splits by time step."""
        out: dict[tuple[str, int | None, int], list[Family]] = {}
        for f in self.families:
            if f.offset:
                out.setdefault((f.kind, f.layer, len(f.shape)), []).append(f)
        return out

    def stepped(self, kind: str, layer: int, rank: int = 2) -> list[Family]:
        """A recurrent layer's families of one kind, one per time step (the initial state first)."""
        return self._stepped.get((kind, layer, rank), [])

    def family(self, kind: str, layer: int | None = None, rank: int = 1, name: str = "") -> Family:
        """The family of a kind: ``rank`` is the length of its keys' index (W: 2; a shared bias and
        the sample's loss: 0; loss terms: 1); a graph problem's node by its ``name``."""
        return self._by_kind[(kind, layer, rank, name)]

    def has(self, kind: str, layer: int | None = None, rank: int = 1) -> bool:
        return (kind, layer, rank, "") in self._by_kind

    def node_of(self, key: Quantity) -> int:
        """The node of a key (its sample, step and after-mark aside); KeyError if there is none."""
        family = self._by_kind.get((key.kind, key.layer, len(key.index), key.name))
        for stepped in self._stepped.get((key.kind, key.layer, len(key.index)), []):
            if key.index and stepped.offset[0] + 1 == key.index[0]:
                family = stepped
        if family is None:
            raise KeyError(str(key))
        try:
            return family.node(key.index)
        except IndexError:
            raise KeyError(str(key)) from None

    def key(self, node: int, sample: int | None = None, step: Step = 1) -> Quantity:
        return self.family_of(node).key(node, sample, step)

    def operations(self) -> Iterator[Family]:
        """The families that compute (not leaves), in topological order."""
        return (f for f in self.families if f.op is not None)

    @cached_property
    def shared(self) -> np.ndarray:
        """Per node: is it shared by every sample (a parameter)?"""
        mask = np.zeros(self.size, dtype=bool)
        for f in self.families:
            if f.shared:
                mask[f.start : f.stop] = True
        return mask

    @cached_property
    def consumers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Who uses each node, as CSR arrays: for node v, ``nodes[offsets[v]:offsets[v+1]]`` are
        the nodes whose equations use v, ``slots[…]`` the argument position v has there
        (in the order the consumers are numbered)."""
        users, used, slots = [], [], []
        for f in self.operations():
            rows, arity = f.args.shape
            users.append(np.repeat(f.ids, arity))
            used.append(f.args.ravel())
            slots.append(np.tile(np.arange(arity), rows))
        if not users:
            empty = np.zeros(0, dtype=int)
            return np.zeros(self.size + 1, dtype=int), empty, empty
        users_a, used_a, slots_a = np.concatenate(users), np.concatenate(used), np.concatenate(slots)
        order = np.lexsort((users_a, used_a))
        counts = np.bincount(used_a, minlength=self.size)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        return offsets, users_a[order], slots_a[order]

    def consumers_of(self, node: int) -> list[tuple[int, int]]:
        """(consumer node, argument slot) of every equation that uses ``node``."""
        offsets, nodes, slots = self.consumers
        lo, hi = offsets[node], offsets[node + 1]
        return list(zip(nodes[lo:hi].tolist(), slots[lo:hi].tolist()))

    @cached_property
    def last_consumer(self) -> dict[int, int]:
        """Per leaf family (by start): the index in ``families`` of the earliest family that uses it
        — in a reverse sweep, the last one to add to its gradient."""
        out: dict[int, int] = {}
        family_of_node = np.repeat(np.arange(len(self.families)), [f.size for f in self.families])
        leaf = np.array([f.op is None for f in self.families])
        for position, f in enumerate(self.families):
            if f.op is None:
                continue
            for used in np.unique(family_of_node[f.args]):
                if leaf[used]:
                    out.setdefault(self.families[used].start, position)
        return out
