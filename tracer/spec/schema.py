"""The shipped JSON Schema of a problem file (schema/problem.schema.json): one schema for the
three forms — a dense network, a network with other layer kinds, a graph — made from their
pydantic models (:mod:`tracer.spec.models`, :mod:`tracer.spec.graph`).
"""

from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, Field

from tracer import kinds
from tracer.spec.graph import GraphProblemModel
from tracer.spec.models import LayeredNetworkModel, LayeredProblemModel, ProblemModel


def _layered_schema() -> type[BaseModel]:
    """For the JSON Schema only: a network whose each layer is one of the registered kinds' models,
    in registration order (the loader reads the entries one by one, each by its kind)."""
    models = tuple(kind.Model for kind in kinds.layers())

    class _LayeredNetworkSchema(LayeredNetworkModel):
        """For the JSON Schema only: each layer one of the kinds (the loader reads them one by one)."""

        layers: list[Union[models]] = Field(min_length=1)  # type: ignore[assignment,valid-type]

    class _LayeredSchema(LayeredProblemModel):
        network: _LayeredNetworkSchema  # type: ignore[assignment]

    return _LayeredSchema


def json_schema() -> dict[str, Any]:
    """One schema for both kinds of problem file: a network (``network:``) or a graph (``graph:``)."""
    definitions: dict[str, Any] = {}
    forms = []
    for name, model in (("NetworkProblem", ProblemModel), ("LayeredProblem", _layered_schema()), ("GraphProblem", GraphProblemModel)):
        schema = model.model_json_schema()
        for key, value in schema.pop("$defs", {}).items():
            assert definitions.get(key, value) == value, f"two schemas define {key} differently"
            definitions[key] = value
        schema["title"] = name
        definitions[name] = schema
        forms.append({"$ref": f"#/$defs/{name}"})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "backprop-tracer problem file",
        "description": "a dense network (network:, data:, loss:), a network with conv2d/pooling/flatten layers "
                       "(network.input or layers with type:), or a computational graph written as equations (graph:)",
        "anyOf": forms,
        "$defs": definitions,
    }
