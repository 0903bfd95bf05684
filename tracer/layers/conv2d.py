"""The convolution layer (SPEC.md §8): each filter's kernel cross-correlated with the image or
feature map below (stride, zero padding, dilation; each a number or [rows, columns], as
torch.nn.functional.conv2d), plus its bias, through the activation.

The spec side of the kind: the entry's model, its reading (the kernel must fit the padded input;
the output length is torch's floor, so a stride that does not tile the input leaves its last rows
or columns unread), its writing back, its description and its parameters — W kept one row
per filter, the kernel flattened channel by channel, row by row ([c][m][n]), and one bias per filter.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence, Union

import numpy as np
from pydantic import Field

from tracer.core import functions
from tracer.core.graph import Family
from tracer.layers.dense import _activation_mapping
from tracer.layers.kind import Built, GraphBuilder, ParameterBlock, weights_then_bias
from tracer.layers.windows import Pair, PaddingPair, dimension, image_below, pair, positions, shown, written
from tracer.spec.models import ACTIVATION_ALIASES, ACTIVATIONS, ActivationModel, BiasInitModel, Number, WeightInitModel, _Strict
from tracer.spec.network import ReadContext, drawn, hidden_activation, own_rate
from tracer.spec.problem import LayerSpec, _count


class ConvLayerModel(_Strict):
    type: Literal["conv2d"]
    filters: int = Field(gt=0)
    kernel_size: Pair = Field(description="k (square) or [rows, columns]")
    stride: Pair = Field(1, description="s or [rows, columns]; the output length is floor((n + 2p − d·(k − 1) − 1)/s) + 1, as torch")
    padding: PaddingPair = Field(0, description="zeros on both sides: p or [rows, columns]")
    dilation: Pair = Field(1, description="the gap between the entries a kernel reads: d or [rows, columns] (torch's dilation)")
    activation: Union[Literal[ACTIVATIONS + tuple(ACTIVATION_ALIASES)], ActivationModel] = "identity"  # type: ignore[valid-type]
    weights: list[list[list[list[Number]]]] | WeightInitModel = Field(description="[filter][channel][row][column], or {init: xavier | he | uniform, seed: S}")
    bias: list[Number] | BiasInitModel | None = Field(None, description="one per filter, {init: zeros}, or omitted (no bias)")
    trainable_bias: bool = True
    learning_rate: Number | None = Field(None, gt=0, description="this layer's own learning rate (default: training.learning_rate)")


class Conv2d:
    names = ("conv2d",)
    Model = ConvLayerModel
    noun = "convolution layer"
    themes = ("bracket", "delta")
    supports = frozenset({"optimizer"})

    def read(self, lm: ConvLayerModel, below: tuple[int, ...], at: ReadContext) -> LayerSpec:
        channels, height, width = image_below(lm.type, below, at)
        where, fail = at.where, at.fail
        activation = hidden_activation(lm.activation, where, fail)
        size, stride, padding, dilation = pair(lm.kernel_size), pair(lm.stride), pair(lm.padding), pair(lm.dilation)
        rows, cols = (dimension(n, size[i], stride[i], padding[i], dilation[i], False, where, fail, "kernel_size").length()
                      for i, n in enumerate((height, width)))
        kh, kw = size
        kernels = lm.weights
        if isinstance(kernels, WeightInitModel):  # torch's fans of a kernel: channels·kh·kw, filters·kh·kw
            kernels = drawn(kernels, (lm.filters, channels, kh, kw), channels * kh * kw, lm.filters * kh * kw, f"{where}.weights", fail)
        if len(kernels) != lm.filters:
            raise fail(f"{where}.weights", f"{lm.filters} kernels expected (filters), got {len(kernels)}")
        flat: list[tuple[float, ...]] = []
        for f, kernel in enumerate(kernels):
            if len(kernel) != channels:
                raise fail(f"{where}.weights[{f}]", f"{channels} channels expected (the input's), got {len(kernel)}")
            row: list[float] = []
            for c, plane in enumerate(kernel):
                if len(plane) != kh or any(len(r) != kw for r in plane):
                    got = f"{len(plane)} rows" if len(plane) != kh else f"a row of {next(len(r) for r in plane if len(r) != kw)}"
                    raise fail(f"{where}.weights[{f}][{c}]", f"a {kh}×{kw} kernel expected (kernel_size), got {got}")
                row.extend(float(v) for r in plane for v in r)
            flat.append(tuple(row))
        bias = None
        if isinstance(lm.bias, BiasInitModel):
            bias = (0.0,) * lm.filters
        elif lm.bias is not None:
            if len(lm.bias) != lm.filters:
                raise fail(f"{where}.bias", f"{lm.filters} numbers expected (one per filter), got {len(lm.bias)}")
            bias = tuple(map(float, lm.bias))
        return LayerSpec(units=lm.filters, activation=activation, weights=tuple(flat), bias=bias,
                         trainable_bias=lm.trainable_bias, kind="conv2d", in_shape=below, out_shape=(lm.filters, rows, cols),
                         kernel=size, stride=stride, padding=padding, dilation=dilation, learning_rate=own_rate(lm.learning_rate))

    def to_mapping(self, layer: LayerSpec) -> dict[str, Any]:
        """The entry with its kernels [filter][channel][row][column], as the file writes them."""
        c, (kh, kw) = layer.in_shape[0], layer.kernel
        kernels = [[[list(row[(ch * kh + m) * kw:(ch * kh + m + 1) * kw]) for m in range(kh)] for ch in range(c)] for row in layer.weights]
        entry: dict[str, Any] = {"type": "conv2d", "filters": layer.units, "kernel_size": written(layer.kernel), "stride": written(layer.stride),
                                 "padding": written(layer.padding)}
        if layer.dilation != (1, 1):
            entry["dilation"] = written(layer.dilation)
        entry.update({"activation": _activation_mapping(layer), "weights": kernels, "trainable_bias": layer.trainable_bias})
        if layer.bias is not None:
            entry["bias"] = list(layer.bias)
        if layer.learning_rate is not None:
            entry["learning_rate"] = layer.learning_rate
        return entry

    def describe(self, layer: LayerSpec) -> str:
        dilation = f", dilation {shown(layer.dilation)}" if layer.dilation != (1, 1) else ""
        return (f"conv2d, {_count(layer.units, 'filter')} {layer.kernel[0]}×{layer.kernel[1]}, stride {shown(layer.stride)}, "
                f"padding {shown(layer.padding)}{dilation}, {layer.activation.name} → {'×'.join(map(str, layer.out_shape))}")

    def parameters(self, layer: LayerSpec, l: int) -> tuple[ParameterBlock, ...]:
        """W as (filters, channels, rows, columns) — each filter's row of weights is its kernel
        flattened [c][m][n] — then one bias per filter."""
        blocks = [ParameterBlock("W", l, (layer.units, layer.in_shape[0], *layer.kernel), layer.weights)]
        if layer.bias is not None:
            blocks.append(ParameterBlock("b", l, (len(layer.bias),), (layer.bias,), trainable=layer.trainable_bias, penalised=False))
        return tuple(blocks)

    def with_values(self, layer: LayerSpec, flat: Sequence[float]) -> LayerSpec:
        return weights_then_bias(layer, flat)

    def title(self, layer: LayerSpec) -> str:
        return self.noun

    def build(self, layer: LayerSpec, l: int, below: Built, g: GraphBuilder) -> Built:
        """Kernels W and biases b, the pre-activations z[f,i,j] — a weighted sum over the window
        of every channel, channel by channel, the window row by row (the kernel's order), a padded
        position reading the constant zero — and the activations a[f,i,j]."""
        channels, height, width = layer.in_shape
        _, rows, cols = layer.out_shape
        (kh, kw), filters = layer.kernel, layer.units
        plane = positions(layer)  # (rows, cols, kh, kw): flat position in one channel, −1 padding
        W = g.parameter("W", l, (filters, channels, kh, kw))
        b = g.parameter("b", l, (filters,)) if layer.bias is not None else None
        terms = channels * kh * kw
        reads = plane[:, :, None, :, :] + (np.arange(channels) * height * width)[None, None, :, None, None]
        padded = np.broadcast_to(plane[:, :, None, :, :] < 0, reads.shape)
        inputs = np.where(padded, -1 if g.zero is None else g.zero.start, below.families[0].start + reads).reshape(rows * cols, terms)
        per_filter = []
        for f in range(filters):
            weights = np.broadcast_to(W.start + f * terms + np.arange(terms), (rows * cols, terms))
            part = [weights, inputs]
            if b is not None:
                part.append(np.full((rows * cols, 1), b.start + f))
            per_filter.append(np.concatenate(part, axis=1))
        z = g.family("z", l, (filters, rows, cols), functions.WeightedSum(terms, b is not None), np.concatenate(per_filter, axis=0))
        op = functions.activation(layer.activation, g.relu_at_zero, filters)
        a = g.family("a", l, (filters, rows, cols), op, z.ids[:, None])
        return Built(l, (a,), layer.out_shape, z=(z,), a=(a,), parameters=(W,) if b is None else (W, b))

    def leaves(self, layer: LayerSpec, built: Built, data: Sequence[Any]) -> dict[Family, np.ndarray]:
        return {}
