"""The dense layer (SPEC.md §1): z = W a + b, a = f(z) — one row of weights per unit.

The spec side of the kind: the entry's model, its reading against the fan-in, its writing back,
its description and its parameters (W unit by unit, then b: one per unit, or one the layer
shares). A dense layer is the only kind of a plain dense file (``network.inputs`` and entries
without ``type:``); in a network with other kinds it also applies at every time step above an
rnn with ``outputs: sequence``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal, Sequence

import numpy as np

from tracer.core import functions
from tracer.core.graph import Family
from tracer.layers.kind import Built, GraphBuilder, ParameterBlock, weights_then_bias
from tracer.spec.models import BiasInitModel, LayerModel, WeightInitModel
from tracer.spec.network import MAX_PARAMETERS, ReadContext, drawn, own_rate, read_activation
from tracer.spec.problem import LayerSpec


class DenseLayerModel(LayerModel):
    type: Literal["dense"] = "dense"


class Dense:
    names = ("dense",)
    Model = DenseLayerModel
    noun = "dense layer"
    themes = ("mazur", "bracket", "neuron", "delta")
    supports = frozenset({"runs", "sequential", "update", "track", "penalty", "optimizer"})

    def read(self, lm: LayerModel, below: tuple[int, ...], at: ReadContext) -> LayerSpec:
        """One dense layer of the file, checked against its fan-in ``below``."""
        where, idx, fail = at.where, at.index, at.fail
        if at.shaped and len(below) != 1:
            raise fail(where, f"a dense layer needs a flat input; the layer below gives {'×'.join(map(str, below))}: put a flatten layer before it")
        fan_in = below[0]
        try:
            activation = read_activation(lm.activation)
        except ValueError as err:
            raise fail(f"{where}.activation", str(err)) from None
        if activation.name == "softmax" and not at.last:
            raise fail(f"{where}.activation", "softmax is only allowed in the output layer (the last layer)")
        if lm.units * fan_in > MAX_PARAMETERS:  # before a drawn initialisation allocates it
            raise fail(where, f"{lm.units:,} units × {fan_in:,} inputs = {lm.units * fan_in:,} weights is too large a network "
                              f"(at most {MAX_PARAMETERS:,} parameters)")
        if isinstance(lm.weights, WeightInitModel):  # drawn one row per unit, whatever the layout
            values = drawn(lm.weights, (lm.units, fan_in), fan_in, lm.units, f"{where}.weights", fail)
            rows = [list(map(float, r)) for r in (zip(*values) if lm.weights_layout == "input_major" else values)]
        else:
            rows = [list(map(float, r)) for r in lm.weights]
        if lm.weights_layout == "input_major":
            if len(rows) != fan_in:
                raise fail(f"{where}.weights", f"{fan_in} rows expected (inputs, weights_layout input_major), got {len(rows)}")
            for r, row in enumerate(rows):
                if len(row) != lm.units:
                    raise fail(f"{where}.weights[{r}]", f"{lm.units} numbers expected (units), got {len(row)}")
            rows = [list(col) for col in zip(*rows)]
        else:
            if len(rows) != lm.units:
                raise fail(f"{where}.weights", f"{lm.units} rows expected (units), got {len(rows)}")
            for r, row in enumerate(rows):
                if len(row) != fan_in:
                    what = "inputs" if idx == 0 else f"units of layer {idx}"
                    raise fail(f"{where}.weights[{r}]", f"{fan_in} numbers expected ({what}), got {len(row)}")
        bias: tuple[float, ...] | None
        if isinstance(lm.bias, BiasInitModel):  # zeros
            bias = (0.0,) if lm.shared_bias else (0.0,) * lm.units
        elif lm.bias is None:
            bias = None
            if lm.shared_bias:
                raise fail(f"{where}.shared_bias", "needs a bias (the layer has none)")
        elif isinstance(lm.bias, list):
            if lm.shared_bias:
                if len(lm.bias) != 1:
                    raise fail(f"{where}.bias", "one number expected (shared_bias is true)")
                bias = (float(lm.bias[0]),)
            else:
                if len(lm.bias) != lm.units:
                    raise fail(f"{where}.bias", f"{lm.units} numbers expected (one per unit), got {len(lm.bias)}")
                bias = tuple(map(float, lm.bias))
        else:
            bias = (float(lm.bias),) if lm.shared_bias else (float(lm.bias),) * lm.units
        layer = LayerSpec(
            units=lm.units,
            activation=activation,
            weights=tuple(tuple(r) for r in rows),
            bias=bias,
            shared_bias=lm.shared_bias,
            trainable_bias=lm.trainable_bias,
            weights_layout=lm.weights_layout,
            learning_rate=own_rate(lm.learning_rate),
        )
        if at.shaped:  # in a network with other kinds: its shapes, and the time steps it applies at
            layer = replace(layer, in_shape=below, out_shape=(layer.units,), per_step=at.per_step)
        return layer

    def to_mapping(self, layer: LayerSpec) -> dict[str, Any]:
        """The entry as its file wrote it: a plain dense file's (no ``type:``, the weights in the
        file's layout), or, for a layer of a network with other kinds (it has shapes), with ``type: dense``."""
        activation = _activation_mapping(layer)
        if layer.in_shape:
            entry: dict[str, Any] = {"type": "dense", "units": layer.units, "activation": activation, "weights": [list(r) for r in layer.weights],
                                     "trainable_bias": layer.trainable_bias, "shared_bias": layer.shared_bias}
            if layer.bias is not None:
                entry["bias"] = list(layer.bias)
        else:
            entry = {"units": layer.units, "activation": activation, "weights": [list(row) for row in layer.weights]}
            if layer.weights_layout == "input_major":  # as the file wrote it: one row per input
                entry["weights"] = [list(column) for column in zip(*layer.weights)]
                entry["weights_layout"] = "input_major"
            if layer.bias is not None:
                entry["bias"] = list(layer.bias)
                entry["shared_bias"] = layer.shared_bias
            entry["trainable_bias"] = layer.trainable_bias
        if layer.learning_rate is not None:
            entry["learning_rate"] = layer.learning_rate
        return entry

    def describe(self, layer: LayerSpec) -> str:
        return f"{layer.units} × {layer.activation.name}" + (" at every time step" if layer.per_step else "")

    def parameters(self, layer: LayerSpec, l: int) -> tuple[ParameterBlock, ...]:
        blocks = [ParameterBlock("W", l, (layer.units, len(layer.weights[0])), layer.weights)]
        if layer.bias is not None:
            shape = () if layer.shared_bias else (len(layer.bias),)
            blocks.append(ParameterBlock("b", l, shape, (layer.bias,), trainable=layer.trainable_bias, penalised=False))
        return tuple(blocks)

    def with_values(self, layer: LayerSpec, flat: Sequence[float]) -> LayerSpec:
        return weights_then_bias(layer, flat)

    def title(self, layer: LayerSpec) -> str:
        return "hidden layer"

    def build(self, layer: LayerSpec, l: int, below: Built, g: GraphBuilder) -> Built:
        """W and b, then z and a on the nodes below — at every time step of a sequence below
        (one z and a family per step, offset (t, 0), the same weights at every step)."""
        W = g.parameter("W", l, (layer.units, layer.inputs))
        b = None if layer.bias is None else g.parameter("b", l, () if layer.shared_bias else (layer.units,))
        parameters = (W,) if b is None else (W, b)
        if below.sequence:
            made = [_forward(g, layer, l, W, b, source.ids, (t, 0)) for t, source in enumerate(below.families)]
        else:
            made = [_forward(g, layer, l, W, b, below.ids, ())]
        z, a = tuple(m[0] for m in made), tuple(m[1] for m in made)
        return Built(l, a, (layer.units,), z=z, a=a, parameters=parameters, stepped=below.sequence, sequence=below.sequence)

    def leaves(self, layer: LayerSpec, built: Built, data: Sequence[Any]) -> dict[Family, np.ndarray]:
        return {}


def _forward(g: GraphBuilder, layer: LayerSpec, l: int, W: Family, b: Family | None, inputs: np.ndarray,
             offset: tuple[int, ...]) -> tuple[Family, Family]:
    """A dense layer's z and a on the nodes ``inputs`` (at one time step, ``offset`` (t, 0), above
    an rnn with outputs: sequence)."""
    shape = (1, layer.units) if offset else (layer.units,)
    units = np.arange(layer.units)
    args = [W.start + units[:, None] * layer.inputs + np.arange(layer.inputs)[None, :]]
    args.append(np.broadcast_to(inputs, (layer.units, layer.inputs)))
    if b is not None:
        args.append((b.start + (units if b.shape else np.zeros_like(units)))[:, None])
    z = g.family("z", l, shape, functions.WeightedSum(layer.inputs, b is not None), np.concatenate(args, axis=1), offset=offset)
    op = functions.activation(layer.activation, g.relu_at_zero, layer.units)
    if isinstance(op, functions.Softmax):
        return z, g.family("a", l, shape, op, np.broadcast_to(z.ids, (layer.units, layer.units)).copy(), positions=units, offset=offset)
    return z, g.family("a", l, shape, op, z.ids[:, None], offset=offset)


def _activation_mapping(layer: LayerSpec) -> Any:
    """The activation as the file writes it: its name, or a mapping with its parameters (leaky_relu's alpha)."""
    if layer.activation.params:
        return {"name": layer.activation.name, **dict(layer.activation.params)}
    return layer.activation.name
