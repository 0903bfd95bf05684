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
the texts do. Nothing here derives, evaluates or formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from tracer.core import functions, keys
from tracer.core.functions import Operation
from tracer.core.graph import Family, Graph
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

    def activation(self, l: int) -> Operation:
        op = self.graph.family("a", l).op
        assert op is not None
        return op

    @cached_property
    def operations(self) -> tuple[tuple[Operation, tuple[int, ...]], ...]:
        """Each distinct activation with the layers that use it, then the loss term (layer 0)."""
        seen: dict[Operation, list[int]] = {}
        for l in range(1, self.depth + 1):
            seen.setdefault(self.activation(l), []).append(l)
        term = self.graph.family("loss", None, 1).op
        assert term is not None
        return tuple((op, tuple(layers)) for op, layers in seen.items()) + ((term, ()),)

    @cached_property
    def parameter_nodes(self) -> np.ndarray:
        """The node of every parameter, in the problem's order (``Problem.parameter_keys``)."""
        parts = []
        for l in range(1, self.depth + 1):
            parts.append(self.graph.family("W", l, 2).ids)
            if self.problem.layers[l - 1].bias is not None:
                parts.append(self.bias(l).ids)
        return np.concatenate(parts)

    def bias(self, l: int) -> Family:
        rank = 0 if self.problem.layers[l - 1].shared_bias else 1
        return self.graph.family("b", l, rank)

    def leaves(self, data: tuple[Sample, ...], parameters: np.ndarray) -> np.ndarray:
        """(samples × nodes): every sample's inputs and targets, every parameter; 0 elsewhere."""
        values = np.zeros((len(data), self.graph.size))
        x, y = self.graph.family("x"), self.graph.family("y")
        values[:, x.start : x.stop] = np.array([s.x for s in data], dtype=float)
        values[:, y.start : y.stop] = np.array([s.y for s in data], dtype=float)
        values[:, self.parameter_nodes] = parameters
        return values

    def section_title(self, layer: int) -> str:
        return "output layer" if layer == self.depth else f"hidden layer {layer}"

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
    families: list[Family] = []
    start = 0

    def add(kind: str, layer: int | None, shape: tuple[int, ...], stage, **more) -> Family:
        nonlocal start
        family = Family(kind, layer, shape, start, stage, **more)
        families.append(family)
        start = family.stop
        return family

    outputs = problem.layers[-1].units
    x = add("x", None, (problem.inputs,), "input", constant=True)
    y = add("y", None, (outputs,), "input", constant=True)
    previous = x
    for l, spec in enumerate(problem.layers, start=1):
        W = add("W", l, (spec.units, spec.inputs), "parameter", shared=True, section=l)
        b = None
        if spec.bias is not None:
            b = add("b", l, () if spec.shared_bias else (spec.units,), "parameter", shared=True, section=l)
        units = np.arange(spec.units)
        args = [W.start + units[:, None] * spec.inputs + np.arange(spec.inputs)[None, :]]
        args.append(np.broadcast_to(previous.ids, (spec.units, spec.inputs)))
        if b is not None:
            args.append((b.start + (units if b.shape else np.zeros_like(units)))[:, None])
        z = add("z", l, (spec.units,), "forward", op=functions.WeightedSum(spec.inputs, b is not None),
                args=np.concatenate(args, axis=1), section=l)
        op = functions.activation(spec.activation, problem.relu_derivative_at_zero, spec.units)
        if isinstance(op, functions.Softmax):
            a = add("a", l, (spec.units,), "forward", op=op, args=np.broadcast_to(z.ids, (spec.units, spec.units)).copy(),
                    positions=units, section=l)
        else:
            a = add("a", l, (spec.units,), "forward", op=op, args=z.ids[:, None], section=l)
        previous = a
    term = functions.loss_term(problem.loss)
    terms = add("loss", None, (outputs,), "loss", op=term, args=np.stack([previous.ids, y.ids], axis=1), fused=True)
    total = functions.Total(outputs, problem.loss.outputs == "mean")
    loss = add("loss", None, (), "loss", op=total, args=terms.ids[None, :])
    return Network(problem, Graph(tuple(families), loss.start))
