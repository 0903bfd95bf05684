"""What a layer kind provides: the protocol every module of ``tracer/layers/`` follows, and the
parameter block through which a problem sees a layer's parameters without knowing its kind.

A kind is one object registered in :mod:`tracer.kinds` under the ``type:`` names it answers.
Its spec side (here) reads one ``network.layers`` entry into the layer's spec, writes it back,
describes it and lists its parameters; its graph side (``build``), its display data and its
mistakes join it in later steps of issue 28 (plan §5.2).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any, Protocol, Sequence

from pydantic import BaseModel

from tracer.keys import Quantity
from tracer.spec.network import ReadContext
from tracer.spec.problem import LayerSpec

#: the training features a network's kinds may support; tracer.spec refuses a file that asks for
#: one that a layer's kind does not (``runs``: epochs and batches; ``sequential``: order:
#: sequential; ``update`` and ``track``: training.update/track; ``penalty``: loss.regularization;
#: ``optimizer``: training.optimizer)
FEATURES = frozenset({"runs", "sequential", "update", "track", "penalty", "optimizer"})


@dataclass(frozen=True, eq=False)
class ParameterBlock:
    """One block of a layer's parameters (a weight matrix ``W2``, a kernel bank, a bias vector)
    as the problem sees it: the keys in row-major order over ``shape``, the values as the layer
    keeps them (``rows``, one tuple after another, row-major over ``shape`` together), whether
    gradient descent changes them and whether ``loss.regularization`` penalises them.

    ``shape`` is also how JSON nests the values (:meth:`json_shaped`): a dense ``W`` (units,
    inputs) one row per unit, a conv2d ``W`` (filters, channels, rows, columns) as the file
    writes a kernel, a bias (units,) a list, a shared bias () one number."""

    role: str  # the key's letter: "W", "U", "b"
    layer: int
    shape: tuple[int, ...]
    rows: tuple[tuple[float, ...], ...]
    trainable: bool = True
    penalised: bool = True

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def keys(self) -> list[Quantity]:
        """``W2[1,1], W2[1,2], …``: one key per value, row-major over :attr:`shape`."""
        return [Quantity(self.role, self.layer, index) for index in itertools.product(*(range(1, n + 1) for n in self.shape))]

    def json_shaped(self, values: Sequence[float]) -> Any:
        """``values`` (:attr:`size` of them, in key order) nested as :attr:`shape` says: one number
        for a shape (), a list for (n,), a list of rows for (m, n), and so on."""
        if not self.shape:
            return values[0]

        def nest(flat: Sequence[float], shape: tuple[int, ...]) -> list:
            if len(shape) == 1:
                return list(flat)
            step = math.prod(shape[1:])
            return [nest(flat[k * step:(k + 1) * step], shape[1:]) for k in range(shape[0])]

        return nest(values, self.shape)


def rows_of(flat: Sequence[float], count: int, width: int) -> tuple[tuple[float, ...], ...]:
    """``count`` rows of ``width`` numbers from the front of ``flat`` (what :meth:`LayerKind.with_values` reads)."""
    return tuple(tuple(float(v) for v in flat[j * width:(j + 1) * width]) for j in range(count))


def weights_then_bias(layer: LayerSpec, flat: Sequence[float]) -> LayerSpec:
    """``layer`` with its weights (row by row) and then its bias (if any) read from the front of ``flat``:
    the :meth:`LayerKind.with_values` of every kind whose parameters are one weight matrix and a bias."""
    width = len(layer.weights[0])
    n = len(layer.weights) * width
    bias = None if layer.bias is None else tuple(float(v) for v in flat[n:n + len(layer.bias)])
    return replace(layer, weights=rows_of(flat, len(layer.weights), width), bias=bias)


class LayerKind(Protocol):
    """A kind of layer: everything particular to it, one module (plan §5.2, the spec side)."""

    names: tuple[str, ...]  # the `type:` values it answers ("maxpool2d", "avgpool2d")
    Model: type[BaseModel]  # the strict pydantic model of one network.layers entry (the JSON Schema's branch)
    noun: str  # "convolution layer": how a document names a layer of the kind
    themes: tuple[str, ...]  # the notations that can name its quantities
    supports: frozenset[str]  # the training FEATURES it is built for; the file is refused the others

    def read(self, model: BaseModel, below: tuple[int, ...], at: ReadContext) -> LayerSpec:
        """The layer of the entry ``model`` reading a signal of shape ``below``, every check beyond
        pydantic's made (fan-in, kernel fits, stride tiles); a refusal is ``at.fail(path, message)``."""
        ...

    def to_mapping(self, layer: LayerSpec) -> dict[str, Any]:
        """The entry as the file writes it (``read`` of it gives ``layer`` again)."""
        ...

    def describe(self, layer: LayerSpec) -> str:
        """``conv2d, 2 filters 3×3, stride 2, padding 1, tanh → 2×3×3`` (``tracer validate``)."""
        ...

    def parameters(self, layer: LayerSpec, l: int) -> tuple[ParameterBlock, ...]:
        """The layer's parameters as layer ``l`` of the network, block by block in file order (weights, then the bias)."""
        ...

    def with_values(self, layer: LayerSpec, flat: Sequence[float]) -> LayerSpec:
        """The layer with every parameter replaced: ``flat`` in the order of :meth:`parameters`' keys."""
        ...
