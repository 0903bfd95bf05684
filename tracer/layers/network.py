"""A layered dense network as a graph of local equations (SPEC.md §1).

For one sample, as the texts write them:

* the inputs ``x[i]`` and targets ``y[k]`` (constants), the weights ``Wl[j,i]`` and biases
  ``bl[j]`` (or ``bl``, shared by the layer): the leaves;
* ``zl[j] = Σ_i Wl[j,i] · a(l−1)[i] + bl[j]`` (``a0`` is the input ``x``): a weighted sum;
* ``al[j] = f(zl[j])``, or for a softmax ``aL[m] = e^{zL[m]} / Σ_k e^{zL[k]}``;
* ``loss[k] = E(aL[k], y[k])``, one output's term — a term of the sample's loss, so its
  gradient is taken through it (``∂loss/∂aL[k]`` is written from the whole sum, as
  Mazur's ``∂E_total/∂out_o1 = −(target_o1 − out_o1)``);
* ``loss = loss[1] + … + loss[K]`` (or their mean).

The samples' losses combine into the total loss by ``loss.samples`` (sum or mean): the
engine differentiates each sample's loss on its own and combines the gradients, as
the texts do. Nothing here derives, evaluates or formats. The nodes are numbered in the order
the families are added (:class:`~tracer.layers.kind.GraphBuilder`): x, y, the padding zero, the
layers from the first, the loss terms, the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from tracer import keys
from tracer.core import functions
from tracer.core.functions import Operation
from tracer.core.graph import Family, Graph
from tracer.layers.kind import GraphBuilder
from tracer.spec import Problem, Sample


@dataclass(frozen=True, eq=False)
class Network:
    """A problem's network as a graph; the layout of its data on the graph's nodes."""

    problem: Problem
    graph: Graph

    @property
    def depth(self) -> int:
        return len(self.problem.layers)

    @property
    def samples_combine(self) -> str:
        """How the samples' losses combine into the total loss: ``sum`` or ``mean``."""
        return self.problem.loss.samples

    def _rank(self, l: int) -> int:
        """The length of a layer's node index: 3 for a feature map (filter/channel, row, column),
        2 for a recurrent layer's states (time step, unit)."""
        layer = self.problem.layers[l - 1]
        return 3 if layer.kind in ("conv2d", "maxpool2d", "avgpool2d") else 2 if self._stepped(l) else 1

    def _stepped(self, l: int) -> bool:
        """Is the layer one family per time step (an rnn, a dense layer above outputs: sequence)?"""
        layer = self.problem.layers[l - 1]
        return layer.kind == "rnn" or bool(layer.per_step)

    def layer_nodes(self, l: int) -> tuple[np.ndarray | None, np.ndarray | None, tuple[int, ...]]:
        """A layer's z and a nodes (None where it has none) and their shape — a recurrent layer's
        over every time step, (T, units), its initial state aside."""
        layer = self.problem.layers[l - 1]
        if self._stepped(l):
            states = self.graph.stepped("a", l)[1 if layer.kind == "rnn" else 0:]  # an rnn's initial state aside
            z = np.concatenate([f.ids for f in self.graph.stepped("z", l)])
            return z, np.concatenate([f.ids for f in states]), (len(states), layer.units)
        zf, af = self.families_of(l)
        shape = af.shape if af is not None else ()
        return (None if zf is None else zf.ids), (None if af is None else af.ids), shape

    def families_of(self, l: int) -> tuple[Family | None, Family | None]:
        """A layer's pre-activations and activations (a pooling layer has no z, flatten neither;
        a recurrent layer: those of its last time step)."""
        kind = self.problem.layers[l - 1].kind
        if kind == "flatten":
            return None, None
        if self._stepped(l):
            return self.graph.stepped("z", l)[-1], self.graph.stepped("a", l)[-1]
        a = self.graph.family("a", l, self._rank(l))
        return (None if kind in ("maxpool2d", "avgpool2d") else self.graph.family("z", l, self._rank(l))), a

    def activation(self, l: int) -> Operation:
        if self._stepped(l):
            return self.graph.stepped("a", l)[-1].op  # type: ignore[return-value]
        op = self.graph.family("a", l, self._rank(l)).op
        assert op is not None
        return op

    @cached_property
    def operations(self) -> tuple[tuple[Operation, tuple[int, ...]], ...]:
        """Each distinct activation (and pooling) with the layers that use it, then the loss term (layer 0)."""
        seen: dict[Operation, list[int]] = {}
        for l in range(1, self.depth + 1):
            if self.problem.layers[l - 1].kind != "flatten":
                seen.setdefault(self.activation(l), []).append(l)
        term = self.graph.family("loss", None, 2 if self.problem.target_steps else 1).op
        assert term is not None
        return tuple((op, tuple(layers)) for op, layers in seen.items()) + ((term, ()),)

    @cached_property
    def parameter_nodes(self) -> np.ndarray:
        """The node of every parameter, in the problem's order (``Problem.parameter_keys``)."""
        parts = []
        for l in range(1, self.depth + 1):
            kind = self.problem.layers[l - 1].kind
            if kind not in ("dense", "conv2d", "rnn"):
                continue
            parts.append(self.graph.family("W", l, 4 if kind == "conv2d" else 2).ids)
            if kind == "rnn":
                parts.append(self.graph.family("U", l, 2).ids)
            if self.problem.layers[l - 1].bias is not None:
                parts.append(self.bias(l).ids)
        return np.concatenate(parts)

    @cached_property
    def weight_nodes(self) -> np.ndarray:
        """The node of every weight (W and U, not the biases): what loss.regularization penalises."""
        nodes = self.parameter_nodes
        return nodes[np.array(self.problem.weight_mask, dtype=bool)]

    def bias(self, l: int) -> Family:
        rank = 0 if self.problem.layers[l - 1].shared_bias else 1
        return self.graph.family("b", l, rank)

    def leaves(self, data: tuple[Sample, ...], parameters: np.ndarray) -> np.ndarray:
        """(samples × nodes): every sample's inputs and targets, every parameter; 0 elsewhere."""
        values = np.zeros((len(data), self.graph.size))
        x = self.graph.family("x", None, len(self.problem.input_shape or (1,)))
        y = self.graph.family("y", None, 2 if self.problem.target_steps else 1)
        values[:, x.start : x.stop] = np.array([s.x for s in data], dtype=float)
        values[:, y.start : y.stop] = np.array([s.y for s in data], dtype=float)
        values[:, self.parameter_nodes] = parameters
        for l, layer in enumerate(self.problem.layers, start=1):
            if layer.kind == "rnn":  # the state before the first step
                values[:, self.graph.stepped("a", l)[0].ids] = layer.initial_state
        return values

    def section_title(self, layer: int) -> str:
        if layer == self.depth:
            return "output layer"
        kind = self.problem.layers[layer - 1].kind
        named = {"conv2d": "convolution layer", "maxpool2d": "max-pooling layer", "avgpool2d": "average-pooling layer",
                 "flatten": "flatten layer", "rnn": "recurrent layer"}
        return f"{named.get(kind, 'hidden layer')} {layer}"

    # -- what the display policy asks of a builder (tracer.core.derive.Layout) ---------
    objective = keys.LOSS  # the gradients are of the total loss
    seeded = False  # the backward pass starts at the loss terms (∂loss/∂loss = 1 is not written)

    @property
    def sequential(self) -> bool:
        return self.problem.training.order == "sequential"

    def backward_families(self, layer: int) -> list[Family]:
        """A layer's families in the order its backward section writes them: the computed ones
        from the output down, then its parameters."""
        families = self.graph.families
        computed = [f for f in reversed(families) if f.op is not None and f.section == layer and not f.fused]
        return computed + [f for f in families if f.op is None and f.section == layer and f.shared]


def build(problem: Problem) -> Network:
    """The graph of a layered network: leaves, then each layer's z and a, then the loss."""
    g = GraphBuilder(problem.relu_derivative_at_zero)
    outputs = problem.layers[-1].units
    steps = problem.target_steps  # outputs: sequence — a target, an output and a loss term per time step
    x = g.leaf("x", None, problem.input_shape or (problem.inputs,))
    y = g.leaf("y", None, (steps, outputs) if steps else (outputs,))
    if any(layer.padding for layer in problem.layers):
        g.zero = g.leaf("zero", None, ())  # what a padded position reads
    previous: Family | list[Family] = x
    for l, spec in enumerate(problem.layers, start=1):
        if spec.kind == "flatten":
            continue  # the next layer reads the feature map's nodes in their (channel, row, column) order
        if spec.kind in ("conv2d", "maxpool2d", "avgpool2d"):
            previous = _spatial(g, spec, l, previous)  # type: ignore[arg-type]
            continue
        if spec.kind == "rnn":
            previous = _recurrent(g, spec, l, previous)
            continue
        W = g.parameter("W", l, (spec.units, spec.inputs))
        b = None
        if spec.bias is not None:
            b = g.parameter("b", l, () if spec.shared_bias else (spec.units,))
        reads = previous if isinstance(previous, list) else [previous]
        made = [_dense(g, spec, l, W, b, source, (t, 0) if isinstance(previous, list) else ())
                for t, source in enumerate(reads)]
        previous = made if isinstance(previous, list) else made[0]
    term = functions.loss_term(problem.loss)
    if isinstance(previous, list):  # a term per output per time step; the steps add up, each step's
        # terms summed or averaged over the outputs (loss.outputs): Σ_t (1/K) Σ_k loss[t,k] for mean
        pairs = np.stack([np.concatenate([f.ids for f in previous]), y.ids], axis=1)
        terms = g.add("loss", None, (steps, outputs), "loss", op=term, args=pairs, fused=True)
        total = functions.Total(steps * outputs, problem.loss.outputs == "mean", groups=steps)
    else:
        terms = g.add("loss", None, (outputs,), "loss", op=term, args=np.stack([previous.ids, y.ids], axis=1), fused=True)
        total = functions.Total(outputs, problem.loss.outputs == "mean")
    loss = g.add("loss", None, (), "loss", op=total, args=terms.ids[None, :])
    return Network(problem, g.graph(loss))


def _dense(g: GraphBuilder, spec, l: int, W: Family, b: Family | None, previous: Family, offset: tuple[int, ...]) -> Family:
    """A dense layer's z and a on ``previous`` (at one time step, ``offset`` (t, 0), above an rnn
    with outputs: sequence — the same weights at every step)."""
    shape = (1, spec.units) if offset else (spec.units,)
    units = np.arange(spec.units)
    args = [W.start + units[:, None] * spec.inputs + np.arange(spec.inputs)[None, :]]
    args.append(np.broadcast_to(previous.ids, (spec.units, spec.inputs)))
    if b is not None:
        args.append((b.start + (units if b.shape else np.zeros_like(units)))[:, None])
    z = g.add("z", l, shape, "forward", op=functions.WeightedSum(spec.inputs, b is not None),
            args=np.concatenate(args, axis=1), section=l, offset=offset)
    op = functions.activation(spec.activation, g.relu_at_zero, spec.units)
    if isinstance(op, functions.Softmax):
        return g.add("a", l, shape, "forward", op=op, args=np.broadcast_to(z.ids, (spec.units, spec.units)).copy(),
                   positions=units, section=l, offset=offset)
    return g.add("a", l, shape, "forward", op=op, args=z.ids[:, None], section=l, offset=offset)


def _windows(spec, previous_shape: tuple[int, int, int]) -> np.ndarray:
    """(rows, cols, k, k) → the (row, column) of the input each window position reads, −1 in the padding."""
    _, height, width = previous_shape
    k, s, p = spec.kernel, spec.stride, spec.padding
    _, rows, cols = spec.out_shape
    r = (np.arange(rows) * s)[:, None, None, None] + np.arange(k)[None, None, :, None] - p
    c = (np.arange(cols) * s)[None, :, None, None] + np.arange(k)[None, None, None, :] - p
    r, c = np.broadcast_arrays(r, c)
    inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
    return np.where(inside, r * width + c, -1)


def _spatial(g: GraphBuilder, spec, l: int, previous: Family) -> Family:
    """A conv2d layer (kernels W, biases b, pre-activations z[f,i,j] as weighted sums over the
    window of every channel, activations a[f,i,j]) or a pooling layer (a[c,i,j] over one
    channel's window); returns the family the next layer reads."""
    channels, height, width = spec.in_shape
    _, rows, cols = spec.out_shape
    k = spec.kernel
    plane = _windows(spec, (channels, height, width))  # (rows, cols, k, k): flat position in one channel, −1 padding
    base = previous.start
    if spec.kind == "conv2d":
        filters = spec.units
        W = g.parameter("W", l, (filters, channels, k, k))
        b = g.parameter("b", l, (filters,)) if spec.bias is not None else None
        terms = channels * k * k
        # inputs of position (i, j): channel by channel, the window row by row — the kernel's order
        reads = plane[:, :, None, :, :] + (np.arange(channels) * height * width)[None, None, :, None, None]
        padded = np.broadcast_to(plane[:, :, None, :, :] < 0, reads.shape)
        inputs = np.where(padded, -1 if g.zero is None else g.zero.start, base + reads).reshape(rows * cols, terms)
        per_filter = []
        for f in range(filters):
            weights = np.broadcast_to(W.start + f * terms + np.arange(terms), (rows * cols, terms))
            part = [weights, inputs]
            if b is not None:
                part.append(np.full((rows * cols, 1), b.start + f))
            per_filter.append(np.concatenate(part, axis=1))
        z = g.add("z", l, (filters, rows, cols), "forward", op=functions.WeightedSum(terms, b is not None),
                args=np.concatenate(per_filter, axis=0), section=l)
        op = functions.activation(spec.activation, g.relu_at_zero, filters)
        return g.add("a", l, (filters, rows, cols), "forward", op=op, args=z.ids[:, None], section=l)
    windows = plane.reshape(rows * cols, k * k)
    args = np.concatenate([base + c * height * width + windows for c in range(channels)], axis=0)
    op = functions.Pool(k * k, "max" if spec.kind == "maxpool2d" else "mean")
    return g.add("a", l, (channels, rows, cols), "forward", op=op, args=args, section=l)


def _recurrent(g: GraphBuilder, spec, l: int, sequence: "Family | list[Family]") -> "Family | list[Family]":
    """An rnn layer unrolled in time: per step t, ``z[t,j] = Σ_i W[j,i] x[t,i] + Σ_k U[j,k] a[t−1,k] + b[j]``
    and ``a[t,j] = f(z[t,j])``, each step a family of its own (it reads the one before); the
    initial state ``a[0,j]`` is a constant. ``sequence`` is the input ``x`` (T × n, step-major) or,
    for an rnn stacked on one with outputs: sequence, the states of the layer below, one family
    per step: then ``x[t,i]`` is ``a(l−1)[t,i]``. Returns the last step's states (what passes on),
    or with outputs: sequence every step's."""
    steps, n = spec.in_shape

    def reads(t: int) -> np.ndarray:
        if isinstance(sequence, list):
            return sequence[t].ids
        return sequence.start + t * n + np.arange(n)

    units = spec.units
    W = g.parameter("W", l, (units, n))
    U = g.parameter("U", l, (units, units))
    b = g.parameter("b", l, (units,)) if spec.bias is not None else None
    state = g.leaf("a", l, (1, units), section=l, offset=(-1, 0))
    rows = np.arange(units)[:, None]
    weights = np.concatenate([W.start + rows * n + np.arange(n)[None, :], U.start + rows * units + np.arange(units)[None, :]], axis=1)
    op = functions.activation(spec.activation, g.relu_at_zero, units)
    states: list[Family] = []
    for t in range(steps):
        inputs = np.broadcast_to(np.concatenate([reads(t), state.ids]), (units, n + units))
        args = [weights, inputs] + ([b.start + rows] if b is not None else [])
        z = g.add("z", l, (1, units), "forward", op=functions.WeightedSum(n + units, b is not None),
                args=np.concatenate(args, axis=1), section=l, offset=(t, 0))
        state = g.add("a", l, (1, units), "forward", op=op, args=z.ids[:, None], section=l, offset=(t, 0))
        states.append(state)
    return states if spec.returns == "sequence" else state
