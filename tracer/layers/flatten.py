"""The flatten layer (SPEC.md §8): an image or feature map passed on as one vector, channel by
channel, row by row; no parameters, no families of its own."""

from __future__ import annotations

from typing import Any, Literal, Sequence

import numpy as np

from tracer.core.graph import Family
from tracer.layers.kind import Built, GraphBuilder, ParameterBlock
from tracer.layers.windows import image_below
from tracer.spec.models import _Strict
from tracer.spec.network import ReadContext
from tracer.spec.problem import ActivationSpec, LayerSpec


class FlattenLayerModel(_Strict):
    type: Literal["flatten"]


class Flatten:
    names = ("flatten",)
    Model = FlattenLayerModel
    noun = "flatten layer"
    themes = ("bracket", "delta")
    supports = frozenset({"optimizer"})

    def read(self, lm: FlattenLayerModel, below: tuple[int, ...], at: ReadContext) -> LayerSpec:
        channels, height, width = image_below(lm.type, below, at)
        out = (channels * height * width,)
        return LayerSpec(units=out[0], activation=ActivationSpec("identity"), weights=(), bias=None, kind="flatten",
                         in_shape=below, out_shape=out)

    def to_mapping(self, layer: LayerSpec) -> dict[str, Any]:
        return {"type": "flatten"}

    def describe(self, layer: LayerSpec) -> str:
        return f"flatten → {layer.outputs}"

    def parameters(self, layer: LayerSpec, l: int) -> tuple[ParameterBlock, ...]:
        return ()

    def with_values(self, layer: LayerSpec, flat: Sequence[float]) -> LayerSpec:
        return layer

    def title(self, layer: LayerSpec) -> str:
        return self.noun

    def build(self, layer: LayerSpec, l: int, below: Built, g: GraphBuilder) -> Built:
        """No families: the next layer reads the feature map's nodes in their (channel, row, column) order."""
        return Built(l, below.families, layer.out_shape)

    def leaves(self, layer: LayerSpec, built: Built, data: Sequence[Any]) -> dict[Family, np.ndarray]:
        return {}
