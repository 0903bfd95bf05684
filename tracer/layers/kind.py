"""What a layer kind provides: the protocol every module of ``tracer/layers/`` follows, and the
parameter block through which a problem sees a layer's parameters without knowing its kind.

A kind is one object registered in :mod:`tracer.kinds` under the ``type:`` names it answers.
Its spec side (here) reads one ``network.layers`` entry into the layer's spec, writes it back,
describes it and lists its parameters; its graph side (``build``) adds the layer's families to
the network's graph through a :class:`GraphBuilder` and says what it built (:class:`Built`); its
display data and its mistakes join it in later steps of issue 28 (plan §5.2).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any, Protocol, Sequence

import numpy as np
from pydantic import BaseModel

from tracer.core.graph import Family, Graph, Stage
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


class GraphBuilder:
    """A graph under construction: each family added starts where the one before it stopped, so
    the order of the calls is the numbering of the nodes (the order every stored graph and every
    document relies on). A kind's ``build`` adds its layer's families through it.

    ``relu_at_zero`` is the problem's slope of relu at 0 (``relu_derivative_at_zero``), which the
    activations a kind makes need; ``zero`` is the constant leaf a padded position of a window
    reads (None when no layer pads)."""

    def __init__(self, relu_at_zero: int = 0):
        self.relu_at_zero = relu_at_zero
        self.zero: Family | None = None
        self.families: list[Family] = []
        self.start = 0

    def add(self, kind: str, layer: int | None, shape: tuple[int, ...], stage: Stage, **more: Any) -> Family:
        """The next family, numbered from the first free node."""
        family = Family(kind, layer, shape, self.start, stage, **more)
        self.families.append(family)
        self.start = family.stop
        return family

    def leaf(self, kind: str, layer: int | None, shape: tuple[int, ...], **more: Any) -> Family:
        """A constant leaf: inputs, targets, the padding zero, an rnn's initial state."""
        return self.add(kind, layer, shape, "input", constant=True, **more)

    def parameter(self, kind: str, layer: int, shape: tuple[int, ...]) -> Family:
        """A block of parameters (one value for every sample), shown in its layer's sections."""
        return self.add(kind, layer, shape, "parameter", shared=True, section=layer)

    def family(self, kind: str, layer: int, shape: tuple[int, ...], op: Any, args: np.ndarray, **more: Any) -> Family:
        """Computed nodes of a layer's forward pass: ``op`` of each row of ``args`` (node ids)."""
        return self.add(kind, layer, shape, "forward", op=op, args=args, section=layer, **more)

    def graph(self, output: Family) -> Graph:
        """The finished graph, whose output is ``output``'s first node."""
        return Graph(tuple(self.families), output.start)


@dataclass(frozen=True, eq=False)
class Built:
    """What a layer added to the graph, as the layer above it and the network read it.

    ``families`` is what the next layer reads: one family (a vector, a feature map), or, when
    ``sequence``, one family per time step (an rnn with ``outputs: sequence``); ``shape`` is the
    shape of what passes on (of one time step for a sequence). The network reads the rest: the
    pre-activations ``z`` and activations ``a`` (one family each, or one per time step when
    ``stepped``; none for flatten, no ``z`` for pooling), the ``parameters`` in the order of the
    kind's :meth:`LayerKind.parameters` blocks, and the ``constants`` the kind's ``leaves`` fills
    (an rnn's initial state)."""

    layer: int
    families: tuple[Family, ...]
    shape: tuple[int, ...]
    z: tuple[Family, ...] = ()
    a: tuple[Family, ...] = ()
    parameters: tuple[Family, ...] = ()
    constants: tuple[Family, ...] = ()
    stepped: bool = False
    sequence: bool = False

    @property
    def ids(self) -> np.ndarray:
        """The nodes passed on, in order (every time step's, one after another, for a sequence)."""
        return np.concatenate([f.ids for f in self.families])

    @property
    def size(self) -> int:
        return sum(f.size for f in self.families)


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
        pydantic's made (fan-in, kernel fits the padded input); a refusal is ``at.fail(path, message)``."""
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

    def title(self, layer: LayerSpec) -> str:
        """How a section title names the layer when it is not the output layer ("hidden layer",
        "max-pooling layer"); the network adds its number."""
        ...

    def build(self, layer: LayerSpec, l: int, below: Built, g: GraphBuilder) -> Built:
        """Layer ``l``'s families added to ``g`` (parameters first, then its forward pass) on the
        nodes ``below`` passes on; what the next layer reads."""
        ...

    def leaves(self, layer: LayerSpec, built: Built, data: Sequence[Any]) -> dict[Family, np.ndarray]:
        """The values of the constant leaves the layer added (an rnn's initial state), for every sample."""
        ...
