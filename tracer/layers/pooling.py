"""The pooling layers (SPEC.md §8): max or average over each window of each channel, with no
parameters. One kind answers both ``maxpool2d`` and ``avgpool2d``, as torch's ``max_pool2d`` and
``avg_pool2d`` define them: ``size``, ``stride`` (default: the size), ``padding`` and (max only)
``dilation`` each a number or [rows, columns]; ``ceil_mode`` rounds the output length up.

A max-pool's padding is −∞ (torch's): a padded position is never the maximum, and the window is
written over the inputs it holds. An average pool's padding is 0 and counts in the divisor
(torch's ``count_include_pad=True``, the default): ``(a + b + 0 + 0)/4``. A ceil-mode window that
reaches past the padded input holds only what lies inside it, and an average divides by that
count, as torch does. A window of fewer entries than the kernel has is one node whose
``position`` (in its family) is how many it holds.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Sequence

import numpy as np
from pydantic import Field

from tracer.core import functions
from tracer.core.graph import Family
from tracer.layers.kind import Built, GraphBuilder, ParameterBlock
from tracer.layers.windows import Pair, PaddingPair, dimension, image_below, pair, positions, shown, written
from tracer.spec.models import _Strict
from tracer.spec.network import ReadContext
from tracer.spec.problem import ActivationSpec, LayerSpec


class PoolLayerModel(_Strict):
    type: Literal["maxpool2d", "avgpool2d"]
    size: Pair = Field(description="k (square) or [rows, columns]")
    stride: Pair | None = Field(None, description="default: the size")
    padding: PaddingPair = Field(0, description="at most half the window; max: −∞, avg: zeros counted in the divisor (torch's count_include_pad=True)")
    dilation: Pair = Field(1, description="maxpool2d only: the gap between the entries a window reads (torch's dilation)")
    ceil_mode: bool = Field(False, description="round the output length up (the last window starting inside the input or its left padding), as torch")


class Pooling:
    names = ("maxpool2d", "avgpool2d")
    Model = PoolLayerModel
    noun = "pooling layer"
    themes = ("bracket", "delta")
    supports = frozenset({"optimizer"})

    def read(self, lm: PoolLayerModel, below: tuple[int, ...], at: ReadContext) -> LayerSpec:
        channels, height, width = image_below(lm.type, below, at)
        size, padding, dilation = pair(lm.size), pair(lm.padding), pair(lm.dilation)
        stride = size if lm.stride is None else pair(lm.stride)
        if lm.type == "avgpool2d" and dilation != (1, 1):
            raise at.fail(f"{at.where}.dilation", "avgpool2d takes no dilation (torch's avg_pool2d has none); maxpool2d does")
        rows, cols = (dimension(n, size[i], stride[i], padding[i], dilation[i], lm.ceil_mode, at.where, at.fail, "size", pooling=True).length()
                      for i, n in enumerate((height, width)))
        out = (channels, rows, cols)
        return LayerSpec(units=math.prod(out), activation=ActivationSpec("identity"), weights=(), bias=None, kind=lm.type,
                         in_shape=below, out_shape=out, kernel=size, stride=stride, padding=padding, dilation=dilation, ceil_mode=lm.ceil_mode)

    def to_mapping(self, layer: LayerSpec) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": layer.kind, "size": written(layer.kernel), "stride": written(layer.stride)}
        if layer.padding != (0, 0):
            entry["padding"] = written(layer.padding)
        if layer.dilation != (1, 1):
            entry["dilation"] = written(layer.dilation)
        if layer.ceil_mode:
            entry["ceil_mode"] = True
        return entry

    def describe(self, layer: LayerSpec) -> str:
        return f"{layer.kind} {layer.kernel[0]}×{layer.kernel[1]}, {geometry(layer)} → {'×'.join(map(str, layer.out_shape))}"

    def parameters(self, layer: LayerSpec, l: int) -> tuple[ParameterBlock, ...]:
        return ()

    def with_values(self, layer: LayerSpec, flat: Sequence[float]) -> LayerSpec:
        return layer

    def title(self, layer: LayerSpec) -> str:
        return "max-pooling layer" if layer.kind == "maxpool2d" else "average-pooling layer"

    def build(self, layer: LayerSpec, l: int, below: Built, g: GraphBuilder) -> Built:
        """a[c,i,j]: the maximum or the mean of channel c's window at (i, j). A window the padding
        or ceil_mode cuts (a max-pool's padded entries, anything past the padded input) lists the
        inputs it holds first and reads the constant zero in its other slots, which its equation
        (of as many terms as its position says) leaves out."""
        channels, height, width = layer.in_shape
        _, rows, cols = layer.out_shape
        terms = layer.kernel[0] * layer.kernel[1]
        windows = positions(layer).reshape(rows * cols, terms)
        mode = "max" if layer.kind == "maxpool2d" else "mean"
        held = windows >= 0 if mode == "max" else windows >= -1  # avg: a padded zero counts, past the padded input not
        counts = held.sum(axis=1)
        base = below.families[0].start
        zero = -1 if g.zero is None else g.zero.start
        order = np.argsort(~held, axis=1, kind="stable")  # the entries it holds first, row by row
        reads = np.take_along_axis(np.where(windows >= 0, windows, -1), order, axis=1)
        slots = np.take_along_axis(held, order, axis=1)
        args = np.concatenate([np.where(slots & (reads >= 0), base + c * height * width + reads, zero) for c in range(channels)], axis=0)
        ragged = bool(np.any(counts < terms))
        a = g.family("a", l, (channels, rows, cols), functions.Pool(terms, mode), args,
                     positions=np.tile(counts, channels) if ragged else None)
        return Built(l, (a,), layer.out_shape, a=(a,))

    def leaves(self, layer: LayerSpec, built: Built, data: Sequence[Any]) -> dict[Family, np.ndarray]:
        return {}


def geometry(layer: LayerSpec) -> str:
    """``stride 2`` and whatever else is not torch's default: ``, padding 1, dilation (1, 2), ceil_mode``."""
    parts = [f"stride {shown(layer.stride)}"]
    if layer.padding != (0, 0):
        parts.append(f"padding {shown(layer.padding)}")
    if layer.dilation != (1, 1):
        parts.append(f"dilation {shown(layer.dilation)}")
    if layer.ceil_mode:
        parts.append("ceil_mode")
    return ", ".join(parts)
