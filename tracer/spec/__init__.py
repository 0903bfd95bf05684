"""Read and validate a problem file (SPEC.md §1) into plain frozen dataclasses."""

from tracer.spec.problem import (
    ActivationSpec,
    DatasetSpec,
    GraphProblem,
    LayerSpec,
    LossSpec,
    OptimizerSpec,
    Problem,
    Sample,
    TrainingSpec,
    from_mapping,
    json_schema,
    to_mapping,
)
from tracer.spec.errors import SpecError, one_line, unprintable
from tracer.spec.models import ACTIVATION_PARAMETERS, ACTIVATIONS, LANGUAGES, OPTIMIZERS
from tracer.spec.yaml_text import MAX_TEXT, load, loads
