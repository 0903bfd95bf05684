"""The pooling layers (SPEC.md §8): max or average over each window of each channel, with no
parameters. One kind answers both ``maxpool2d`` and ``avgpool2d``.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Sequence

import numpy as np
from pydantic import Field

from tracer.core import functions
from tracer.core.graph import Family
from tracer.layers.kind import Built, GraphBuilder, ParameterBlock
from tracer.layers.windows import image_below, positions, window
from tracer.spec.models import _Strict
from tracer.spec.network import ReadContext
from tracer.spec.problem import ActivationSpec, LayerSpec


class PoolLayerModel(_Strict):
    type: Literal["maxpool2d", "avgpool2d"]
    size: int = Field(gt=0)
    stride: int | None = Field(None, gt=0, description="default: the size")


class Pooling:
    names = ("maxpool2d", "avgpool2d")
    Model = PoolLayerModel
    noun = "pooling layer"
    themes = ("bracket", "delta")
    supports = frozenset({"optimizer"})

    def read(self, lm: PoolLayerModel, below: tuple[int, ...], at: ReadContext) -> LayerSpec:
        channels, height, width = image_below(lm.type, below, at)
        stride = lm.stride or lm.size
        rows = window(height, lm.size, stride, 0, f"{at.where}.size", at.fail, "size")
        cols = window(width, lm.size, stride, 0, f"{at.where}.size", at.fail, "size")
        out = (channels, rows, cols)
        return LayerSpec(units=math.prod(out), activation=ActivationSpec("identity"), weights=(), bias=None, kind=lm.type,
                         in_shape=below, out_shape=out, kernel=lm.size, stride=stride)

    def to_mapping(self, layer: LayerSpec) -> dict[str, Any]:
        return {"type": layer.kind, "size": layer.kernel, "stride": layer.stride}

    def describe(self, layer: LayerSpec) -> str:
        return f"{layer.kind} {layer.kernel}×{layer.kernel}, stride {layer.stride} → {'×'.join(map(str, layer.out_shape))}"

    def parameters(self, layer: LayerSpec, l: int) -> tuple[ParameterBlock, ...]:
        return ()

    def with_values(self, layer: LayerSpec, flat: Sequence[float]) -> LayerSpec:
        return layer

    def title(self, layer: LayerSpec) -> str:
        return "max-pooling layer" if layer.kind == "maxpool2d" else "average-pooling layer"

    def build(self, layer: LayerSpec, l: int, below: Built, g: GraphBuilder) -> Built:
        """a[c,i,j]: the maximum or the mean of channel c's window at (i, j)."""
        channels, height, width = layer.in_shape
        _, rows, cols = layer.out_shape
        k = layer.kernel
        windows = positions(layer).reshape(rows * cols, k * k)
        base = below.families[0].start
        args = np.concatenate([base + c * height * width + windows for c in range(channels)], axis=0)
        a = g.family("a", l, (channels, rows, cols), functions.Pool(k * k, "max" if layer.kind == "maxpool2d" else "mean"), args)
        return Built(l, (a,), layer.out_shape, a=(a,))

    def leaves(self, layer: LayerSpec, built: Built, data: Sequence[Any]) -> dict[Family, np.ndarray]:
        return {}
