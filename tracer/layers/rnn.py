"""The recurrent layer (SPEC.md §8): z[t] = W x[t] + U a[t−1] + b, a[t] = f(z[t]) over the time
steps of a sequence; its last state passes on (``outputs: last``) or every state (``sequence``).

The spec side of the kind: the entry's model, its reading (the first layer, on the input
sequence, or stacked directly on an rnn that passes on every state), its writing back, its
description and its parameters: W (units × inputs), U (units × units), then b.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal, Sequence, Union

import numpy as np
from pydantic import Field

from tracer.core import functions
from tracer.core.graph import Family
from tracer.layers.dense import _activation_mapping
from tracer.layers.kind import Built, GraphBuilder, ParameterBlock, rows_of
from tracer.spec.models import ACTIVATION_ALIASES, ACTIVATIONS, ActivationModel, BiasInitModel, Number, WeightInitModel, _Strict
from tracer.spec.network import ReadContext, drawn, hidden_activation, own_rate
from tracer.spec.problem import LayerSpec


class RecurrentLayerModel(_Strict):
    type: Literal["rnn"]
    units: int = Field(gt=0)
    activation: Union[Literal[ACTIVATIONS + tuple(ACTIVATION_ALIASES)], ActivationModel] = "tanh"  # type: ignore[valid-type]
    weights: list[list[Number]] | WeightInitModel = Field(description="input → state, one row per unit, or {init: xavier | he | uniform, seed: S}")
    recurrent: list[list[Number]] | WeightInitModel = Field(description="state → state, one row per unit: recurrent[j][k] joins unit k of the step before to unit j, or {init: …, seed: S}")
    bias: list[Number] | BiasInitModel | None = None
    initial_state: list[Number] | None = Field(None, description="the state before the first step (zeros)")
    outputs: Literal["last", "sequence"] = "last"
    trainable_bias: bool = True
    learning_rate: Number | None = Field(None, gt=0, description="this layer's own learning rate (default: training.learning_rate)")


class Rnn:
    names = ("rnn",)
    Model = RecurrentLayerModel
    noun = "recurrent layer"
    themes = ("bracket", "delta")
    supports = frozenset({"optimizer"})

    def read(self, lm: RecurrentLayerModel, below: tuple[int, ...], at: ReadContext) -> LayerSpec:
        """``x[t]`` is the input's step t (the first layer), or, stacked, the states of the rnn
        below at step t."""
        where, fail = at.where, at.fail
        top = at.below[-1] if at.below else None
        stacked = top is not None and top.kind == "rnn" and top.returns == "sequence"
        if at.image or not (at.index == 0 or stacked):
            raise fail(where, "an rnn layer reads a sequence: it must be the first layer, with network.inputs (numbers per time step), "
                              "or stand directly above an rnn with outputs: sequence")
        inputs, steps = below[0], at.steps
        reads = f"units of layer {at.index}" if stacked else "network.inputs"
        activation = hidden_activation(lm.activation, where, fail)
        blocks = {}
        for name, rows, width in (("weights", lm.weights, inputs), ("recurrent", lm.recurrent, lm.units)):
            blocks[name] = drawn(rows, (lm.units, width), width, lm.units, f"{where}.{name}", fail) if isinstance(rows, WeightInitModel) else rows
        bias = [0.0] * lm.units if isinstance(lm.bias, BiasInitModel) else lm.bias
        for name, width, what in (("weights", inputs, reads), ("recurrent", lm.units, "units")):
            rows = blocks[name]
            if len(rows) != lm.units:
                raise fail(f"{where}.{name}", f"{lm.units} rows expected (units), got {len(rows)}")
            for r, row in enumerate(rows):
                if len(row) != width:
                    raise fail(f"{where}.{name}[{r}]", f"{width} numbers expected ({what}), got {len(row)}")
        for name, values in (("bias", bias), ("initial_state", lm.initial_state)):
            if values is not None and len(values) != lm.units:
                raise fail(f"{where}.{name}", f"{lm.units} numbers expected (one per unit), got {len(values)}")
        return LayerSpec(
            units=lm.units, activation=activation, weights=tuple(tuple(map(float, r)) for r in blocks["weights"]),
            bias=None if bias is None else tuple(map(float, bias)), trainable_bias=lm.trainable_bias, kind="rnn",
            in_shape=(steps, inputs), out_shape=(lm.units,), recurrent=tuple(tuple(map(float, r)) for r in blocks["recurrent"]),
            initial_state=tuple(map(float, lm.initial_state)) if lm.initial_state is not None else (0.0,) * lm.units,
            returns=lm.outputs, learning_rate=own_rate(lm.learning_rate),
        )

    def to_mapping(self, layer: LayerSpec) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "rnn", "units": layer.units, "activation": _activation_mapping(layer), "weights": [list(r) for r in layer.weights],
                                 "recurrent": [list(r) for r in layer.recurrent], "initial_state": list(layer.initial_state),
                                 "trainable_bias": layer.trainable_bias, "outputs": layer.returns}
        if layer.bias is not None:
            entry["bias"] = list(layer.bias)
        if layer.learning_rate is not None:
            entry["learning_rate"] = layer.learning_rate
        return entry

    def describe(self, layer: LayerSpec) -> str:
        passed = "every state passed on" if layer.returns == "sequence" else "the last state passed on"
        return f"rnn, {layer.units} × {layer.activation.name} over {layer.in_shape[0]} time steps, {passed}"

    def parameters(self, layer: LayerSpec, l: int) -> tuple[ParameterBlock, ...]:
        blocks = [ParameterBlock("W", l, (layer.units, len(layer.weights[0])), layer.weights),
                  ParameterBlock("U", l, (layer.units, layer.units), layer.recurrent)]
        if layer.bias is not None:
            blocks.append(ParameterBlock("b", l, (len(layer.bias),), (layer.bias,), trainable=layer.trainable_bias, penalised=False))
        return tuple(blocks)

    def with_values(self, layer: LayerSpec, flat: Sequence[float]) -> LayerSpec:
        width, units = len(layer.weights[0]), layer.units
        w, u = units * width, units * units
        bias = None if layer.bias is None else tuple(float(v) for v in flat[w + u:w + u + len(layer.bias)])
        return replace(layer, weights=rows_of(flat, units, width), recurrent=rows_of(flat[w:], units, units), bias=bias)

    def title(self, layer: LayerSpec) -> str:
        return self.noun

    def build(self, layer: LayerSpec, l: int, below: Built, g: GraphBuilder) -> Built:
        """The layer unrolled in time: per step t, ``z[t,j] = Σ_i W[j,i] x[t,i] + Σ_k U[j,k] a[t−1,k] + b[j]``
        and ``a[t,j] = f(z[t,j])``, each step a family of its own (it reads the one before); the
        initial state ``a[0,j]`` is a constant leaf. ``x`` is the input (T × n, step-major) or,
        for an rnn stacked on one with outputs: sequence, the states of the layer below, one
        family per step. Passes on the last step's states, or with outputs: sequence every step's."""
        steps, n = layer.in_shape

        def reads(t: int) -> np.ndarray:
            if below.sequence:
                return below.families[t].ids
            return below.families[0].start + t * n + np.arange(n)

        units = layer.units
        W = g.parameter("W", l, (units, n))
        U = g.parameter("U", l, (units, units))
        b = g.parameter("b", l, (units,)) if layer.bias is not None else None
        initial = state = g.leaf("a", l, (1, units), section=l, offset=(-1, 0))
        rows = np.arange(units)[:, None]
        weights = np.concatenate([W.start + rows * n + np.arange(n)[None, :], U.start + rows * units + np.arange(units)[None, :]], axis=1)
        op = functions.activation(layer.activation, g.relu_at_zero, units)
        zs: list[Family] = []
        states: list[Family] = []
        for t in range(steps):
            inputs = np.broadcast_to(np.concatenate([reads(t), state.ids]), (units, n + units))
            args = [weights, inputs] + ([b.start + rows] if b is not None else [])
            z = g.family("z", l, (1, units), functions.WeightedSum(n + units, b is not None), np.concatenate(args, axis=1), offset=(t, 0))
            state = g.family("a", l, (1, units), op, z.ids[:, None], offset=(t, 0))
            zs.append(z)
            states.append(state)
        sequence = layer.returns == "sequence"
        return Built(l, tuple(states) if sequence else (state,), (units,), z=tuple(zs), a=tuple(states),
                     parameters=(W, U) if b is None else (W, U, b), constants=(initial,), stepped=True, sequence=sequence)

    def leaves(self, layer: LayerSpec, built: Built, data: Sequence[Any]) -> dict[Family, np.ndarray]:
        """The state before the first step, the same for every sample."""
        return {built.constants[0]: np.array(layer.initial_state, dtype=float)}
