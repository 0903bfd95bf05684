"""A network as a graph of local equations (SPEC.md §1, §8): each layer's kind adds its
families (:meth:`tracer.layers.kind.LayerKind.build`); the network adds the leaves and the loss.

For one sample of a dense network, as the texts write them:

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

from tracer import keys, kinds
from tracer.core import functions
from tracer.core.functions import Operation
from tracer.core.graph import Family, Graph
from tracer.layers import windows
from tracer.layers.kind import Built, GraphBuilder
from tracer.spec import Problem, Sample


@dataclass(frozen=True, eq=False)
class Network:
    """A problem's network as a graph; the layout of its data on the graph's nodes. ``built`` is
    what each layer's kind built (:class:`~tracer.layers.kind.Built`), layer 1 first; ``x`` and
    ``y`` are the inputs' and targets' leaves."""

    problem: Problem
    graph: Graph
    built: tuple[Built, ...]
    x: Family
    y: Family

    @property
    def depth(self) -> int:
        return len(self.problem.layers)

    @property
    def samples_combine(self) -> str:
        """How the samples' losses combine into the total loss: ``sum`` or ``mean``."""
        return self.problem.loss.samples

    def layer_nodes(self, l: int) -> tuple[np.ndarray | None, np.ndarray | None, tuple[int, ...]]:
        """A layer's z and a nodes (None where it has none) and their shape — a recurrent layer's
        over every time step, (T, units), its initial state aside."""
        built = self.built[l - 1]
        if built.stepped:
            z = np.concatenate([f.ids for f in built.z])
            return z, np.concatenate([f.ids for f in built.a]), (len(built.a), built.a[0].size)
        zf, af = self.families_of(l)
        shape = af.shape if af is not None else ()
        return (None if zf is None else zf.ids), (None if af is None else af.ids), shape

    def families_of(self, l: int) -> tuple[Family | None, Family | None]:
        """A layer's pre-activations and activations (a pooling layer has no z, flatten neither;
        a recurrent layer: those of its last time step)."""
        built = self.built[l - 1]
        return (built.z[-1] if built.z else None), (built.a[-1] if built.a else None)

    def activation(self, l: int) -> Operation:
        op = self.built[l - 1].a[-1].op
        assert op is not None
        return op

    @cached_property
    def operations(self) -> tuple[tuple[Operation, tuple[int, ...]], ...]:
        """Each distinct activation (and pooling) with the layers that use it, then the loss term (layer 0)."""
        seen: dict[Operation, list[int]] = {}
        for l, built in enumerate(self.built, start=1):
            if built.a:  # flatten computes nothing
                seen.setdefault(self.activation(l), []).append(l)
        term = self.graph.family("loss", None, 2 if self.problem.target_steps else 1).op
        assert term is not None
        return tuple((op, tuple(layers)) for op, layers in seen.items()) + ((term, ()),)

    @cached_property
    def parameter_nodes(self) -> np.ndarray:
        """The node of every parameter, in the problem's order (``Problem.parameter_keys``)."""
        return np.concatenate([f.ids for built in self.built for f in built.parameters])

    @cached_property
    def weight_nodes(self) -> np.ndarray:
        """The node of every weight (W and U, not the biases): what loss.regularization penalises."""
        nodes = self.parameter_nodes
        return nodes[np.array(self.problem.weight_mask, dtype=bool)]

    def bias(self, l: int) -> Family:
        return next(f for f in self.built[l - 1].parameters if f.kind == "b")

    def leaves(self, data: tuple[Sample, ...], parameters: np.ndarray) -> np.ndarray:
        """(samples × nodes): every sample's inputs and targets, every parameter, the layers'
        constant leaves (an rnn's initial state); 0 elsewhere."""
        values = np.zeros((len(data), self.graph.size))
        values[:, self.x.start : self.x.stop] = np.array([s.x for s in data], dtype=float)
        values[:, self.y.start : self.y.stop] = np.array([s.y for s in data], dtype=float)
        values[:, self.parameter_nodes] = parameters
        for layer, built in zip(self.problem.layers, self.built):
            for family, value in kinds.layer(layer.kind).leaves(layer, built, data).items():
                values[:, family.ids] = value
        return values

    def section_title(self, layer: int) -> str:
        if layer == self.depth:
            return "output layer"
        spec = self.problem.layers[layer - 1]
        return f"{kinds.layer(spec.kind).title(spec)} {layer}"

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
    """The graph of a layered network: leaves, then each layer's families as its kind builds
    them, then the loss terms and the loss."""
    g = GraphBuilder(problem.relu_derivative_at_zero)
    outputs = problem.layers[-1].units
    steps = problem.target_steps  # outputs: sequence — a target, an output and a loss term per time step
    x = g.leaf("x", None, problem.input_shape or (problem.inputs,))
    y = g.leaf("y", None, (steps, outputs) if steps else (outputs,))
    if any(windows.reads_outside(layer) for layer in problem.layers):
        g.zero = g.leaf("zero", None, ())  # what a padded position reads (and a cut pooling window's unused slots)
    below = Built(0, (x,), x.shape)
    built = []
    for l, layer in enumerate(problem.layers, start=1):
        below = kinds.layer(layer.kind).build(layer, l, below, g)
        built.append(below)
    term = functions.loss_term(problem.loss)
    if below.sequence:  # a term per output per time step; the steps add up, each step's
        # terms summed or averaged over the outputs (loss.outputs): Σ_t (1/K) Σ_k loss[t,k] for mean
        pairs = np.stack([below.ids, y.ids], axis=1)
        terms = g.add("loss", None, (steps, outputs), "loss", op=term, args=pairs, fused=True)
        total = functions.Total(steps * outputs, problem.loss.outputs == "mean", groups=steps)
    else:
        terms = g.add("loss", None, (outputs,), "loss", op=term, args=np.stack([below.ids, y.ids], axis=1), fused=True)
        total = functions.Total(outputs, problem.loss.outputs == "mean")
    loss = g.add("loss", None, (), "loss", op=total, args=terms.ids[None, :])
    return Network(problem, g.graph(loss), tuple(built), x, y)
