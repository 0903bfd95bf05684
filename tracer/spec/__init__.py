"""Read and validate a problem file (SPEC.md §1) into plain frozen dataclasses.

One module per concern, each importing only those listed before it:

- :mod:`~tracer.spec.errors` — the one-line :class:`SpecError` (file, field, what was expected)
  and pydantic's errors translated into it;
- :mod:`~tracer.spec.problem` — the validated network problem: :class:`Problem` and its parts;
- :mod:`~tracer.spec.models` — the file format as strict pydantic models, and its vocabularies;
- :mod:`~tracer.spec.training` — the training block (updates, optimizer, loss) and a run's bounds;
- :mod:`~tracer.spec.network` — a ``network:`` file read into a :class:`Problem`: each entry of
  ``network.layers`` by its kind (the registry :mod:`tracer.kinds`, filled by ``tracer/layers/``:
  this package names no kind and imports none), and the checks across fields (samples, sizes);
- :mod:`~tracer.spec.graph` — a ``graph:`` file: :class:`GraphProblem`, its models, read and written;
- :mod:`~tracer.spec.mapping` — a file's mapping to a problem (the three forms told apart) and back;
- :mod:`~tracer.spec.yaml_text` — a file's text read as YAML (:func:`load`, :func:`loads`);
- :mod:`~tracer.spec.schema` — the shipped JSON Schema.

Every refusal is one :class:`SpecError` whose message names the file, the field and what was
expected, e.g. ``hw3.yaml: network.layers[1].weights: 2 rows expected (units), got 3``.
Nothing here knows about SymPy, NumPy (but through the seeded tracer.datasets and
tracer.initializers) or templates. The names below are the package's public API.
"""

from tracer.spec.errors import SpecError
from tracer.spec.graph import GraphProblem
from tracer.spec.mapping import from_mapping, to_mapping
from tracer.spec.problem import ActivationSpec, ClipSpec, DatasetSpec, LayerSpec, LossSpec, OptimizerSpec, Problem, Sample, ScheduleSpec, TrainingSpec
from tracer.spec.schema import json_schema
from tracer.spec.yaml_text import load, loads

__all__ = ["ActivationSpec", "ClipSpec", "DatasetSpec", "GraphProblem", "LayerSpec", "LossSpec", "OptimizerSpec", "Problem", "Sample",
           "ScheduleSpec", "SpecError", "TrainingSpec", "from_mapping", "json_schema", "load", "loads", "to_mapping"]
