"""The file format: what a problem file may say, as pydantic models (strict; unknown keys refused).

Strict mode reads ints and floats, never strings or booleans; ``extra="forbid"`` refuses a key
the format does not know. The models also produce the shipped JSON Schema
(schema/problem.schema.json, :mod:`tracer.spec.schema`). A model's class name ends in ``Model``:
pydantic names a union's branch by it in an error's location, and :mod:`tracer.spec.errors`
drops such names from the field path it reports. The vocabularies of the format (activations,
notations, languages, optimizers) are here too. Nothing here builds the validated problem.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from tracer import initializers

ACTIVATIONS = (
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "softplus",
    "arctan",
    "gelu",
    "gelu_tanh",
    "silu",
    "step",
    "softmax",
)
ACTIVATION_ALIASES = {"linear": "identity", "logistic": "sigmoid", "swish": "silu"}
#: parameters an activation accepts, with their defaults
ACTIVATION_PARAMETERS = {"leaky_relu": {"alpha": 0.01}, "elu": {"alpha": 1.0}}
NOTATIONS = ("mazur", "bracket", "neuron", "delta")


#: the optimizers of SPEC.md §9, as torch.optim defines them
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw")


#: strict mode: ints and floats, never strings or booleans; finite (``.inf``, ``.nan`` and a
#: ``1e309`` that overflows to infinity are refused where they are written)
Number = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ActivationModel(_Strict):
    name: Literal[ACTIVATIONS + tuple(ACTIVATION_ALIASES)]  # type: ignore[valid-type]
    alpha: Number | None = Field(None, description="slope/scale for leaky_relu (0.01) and elu (1.0)")


class WeightInitModel(_Strict):
    """Seeded initial weights instead of the matrix (tracer/initializers.py: torch.nn.init's definitions)."""

    init: Literal[tuple(initializers.INITS)] = Field(description="xavier: U(-a, a), a = sqrt(6/(fan_in+fan_out)) (xavier_uniform_); "  # type: ignore[valid-type]
                                                   "he: N(0, 2/fan_in) (kaiming_normal_); uniform: U(low, high) (uniform_)")
    seed: int = Field(ge=0, description="the seed of numpy.random.default_rng")
    low: Number | None = Field(None, description="uniform only: the lower bound (default 0)")
    high: Number | None = Field(None, description="uniform only: the upper bound (default 1)")


class BiasInitModel(_Strict):
    init: Literal["zeros"] = Field(description="every bias starts at 0")


class LayerModel(_Strict):
    units: int = Field(gt=0, description="number of units of this layer")
    activation: Union[Literal[ACTIVATIONS + tuple(ACTIVATION_ALIASES)], ActivationModel]  # type: ignore[valid-type]
    weights: list[list[Number]] | WeightInitModel = Field(
        description="one row per unit: weights[j][i] joins input i to unit j (see weights_layout), "
                    "or {init: xavier | he | uniform, seed: S} to draw them"
    )
    weights_layout: Literal["unit_major", "input_major"] = "unit_major"
    bias: Number | list[Number] | BiasInitModel | None = Field(
        None, description="one number (every unit starts there), a list (one per unit), {init: zeros}, or omitted (no bias)"
    )
    shared_bias: bool = False
    trainable_bias: bool = True
    learning_rate: Number | None = Field(None, gt=0, description="this layer's own learning rate (default: training.learning_rate)")


class NetworkModel(_Strict):
    inputs: int = Field(gt=0)
    layers: list[LayerModel] = Field(min_length=1)
    relu_derivative_at_zero: Literal[0, 1] = 0


class LossModel(_Strict):
    kind: Literal["mse", "cross_entropy", "binary_cross_entropy", "hinge"] = Field(
        description="hinge: max(0, 1 − y·o) per output, targets −1 or 1 (the binary SVM loss)")
    factor: Number = Field(0.5, gt=0, description="mse: the factor before (y − o)² (0.5 or 1; a negative one would climb the error)")
    outputs: Literal["sum", "mean"] = "sum"
    samples: Literal["sum", "mean"] = "sum"
    log: Literal["ln", "log10", "log2"] = "ln"
    regularization: RegularizationModel | None = None


class RegularizationModel(_Strict):
    l2: Number | None = Field(None, ge=0, description="adds (λ/2)·Σ w² over the weights (not the biases) to the loss")
    l1: Number | None = Field(None, ge=0, description="adds λ·Σ |w| over the weights to the loss")


class SampleModel(_Strict):
    x: list[Number] = Field(min_length=1)
    y: list[Number] | None = None
    label: int | None = Field(None, ge=0)


class SgdModel(_Strict):
    name: Literal["sgd"]
    weight_decay: Number = Field(0.0, ge=0, description="torch's coupled weight decay λ: g ← g + λθ before the rule")


class MomentumModel(_Strict):
    name: Literal["momentum"]
    beta: Number = Field(0.9, ge=0, lt=1, description="the momentum μ: v ← βv + g, θ ← θ − ηv (torch.optim.SGD)")
    nesterov: bool = False
    weight_decay: Number = Field(0.0, ge=0, description="torch's coupled weight decay λ: g ← g + λθ before the rule")


class AdagradModel(_Strict):
    name: Literal["adagrad"]
    eps: Number = Field(1e-10, gt=0)
    weight_decay: Number = Field(0.0, ge=0, description="torch's coupled weight decay λ: g ← g + λθ before the rule")


class RMSpropModel(_Strict):
    name: Literal["rmsprop"]
    alpha: Number = Field(0.99, ge=0, lt=1)
    eps: Number = Field(1e-8, gt=0)
    weight_decay: Number = Field(0.0, ge=0, description="torch's coupled weight decay λ: g ← g + λθ before the rule")


class AdamModel(_Strict):
    name: Literal["adam"]
    beta1: Number = Field(0.9, ge=0, lt=1)
    beta2: Number = Field(0.999, ge=0, lt=1)
    eps: Number = Field(1e-8, gt=0)
    weight_decay: Number = Field(0.0, ge=0, description="torch's coupled weight decay λ: g ← g + λθ before the rule")


class AdamWModel(_Strict):
    name: Literal["adamw"]
    beta1: Number = Field(0.9, ge=0, lt=1)
    beta2: Number = Field(0.999, ge=0, lt=1)
    eps: Number = Field(1e-8, gt=0)
    weight_decay: Number = Field(0.01, ge=0, description="torch.optim.AdamW's decoupled decay λ (default 0.01, torch's): θ ← θ − ηλθ, then Adam's step")


OptimizerModel = Annotated[Union[SgdModel, MomentumModel, AdagradModel, RMSpropModel, AdamModel, AdamWModel], Field(discriminator="name")]


class ClipModel(_Strict):
    """training.clip: one of the two (torch.nn.utils.clip_grad_norm_ or clip_grad_value_)."""

    norm: Number | None = Field(None, gt=0, description="max_norm of torch.nn.utils.clip_grad_norm_: every gradient × min(max_norm/(‖g‖ + 1e-6), 1), ‖g‖ the L2 norm over every trained parameter")
    value: Number | None = Field(None, gt=0, description="clip_value of torch.nn.utils.clip_grad_value_: every gradient clamped to [−clip_value, clip_value]")


#: the learning-rate schedules of SPEC.md §9, as torch.optim.lr_scheduler defines them
SCHEDULES = ("step", "multistep", "exponential", "cosine", "linear")


class ScheduleModel(_Strict):
    """``training.schedule``: the learning rate of each update, torch.optim.lr_scheduler's closed forms."""

    name: Literal[SCHEDULES] = Field(description="step (StepLR), multistep (MultiStepLR), exponential (ExponentialLR), cosine (CosineAnnealingLR), linear (LinearLR)")  # type: ignore[valid-type]
    step_size: int | None = Field(None, ge=1, description="step: decay every step_size scheduler steps")
    milestones: list[int] | None = Field(None, min_length=1, description="multistep: the scheduler steps at which the rate is multiplied by gamma (increasing)")
    gamma: Number | None = Field(None, gt=0, description="step, multistep, exponential: the factor of each decay (torch's default 0.1 for step and multistep)")
    T_max: int | None = Field(None, ge=1, description="cosine: the scheduler steps of half a cosine period")
    eta_min: Number = Field(0.0, ge=0, description="cosine: the smallest rate")
    start_factor: Number = Field(1.0 / 3.0, gt=0, le=1, description="linear: the factor of the first rate (torch's default 1/3)")
    end_factor: Number = Field(1.0, ge=0, le=1, description="linear: the factor after total_iters scheduler steps")
    total_iters: int = Field(5, ge=1, description="linear: the scheduler steps of the linear change (torch's default 5)")
    warmup: int | None = Field(None, ge=1, description="a linear warm-up of this many scheduler steps first (SequentialLR of LinearLR and this schedule)")
    warmup_factor: Number = Field(1.0 / 3.0, gt=0, le=1, description="the warm-up's start_factor (torch's LinearLR default 1/3)")
    per: Literal["step", "epoch"] = Field("step", description="scheduler.step() after every update (step) or after every epoch")


class TrainingModel(_Strict):
    learning_rate: Number = Field(gt=0)
    steps: int | None = Field(None, ge=0, description="gradient-descent updates (default 1); or give epochs")
    update: Literal["all"] | list[str] = "all"
    order: Literal["simultaneous", "sequential"] = "simultaneous"
    epochs: int | None = Field(None, ge=1, description="passes over the data (instead of steps)")
    batch_size: int | None = Field(None, ge=1, description="samples per update: omitted = full batch, 1 = SGD")
    shuffle: bool = Field(False, description="reshuffle the samples before every epoch (seeded by seed)")
    seed: int = 0
    record_every: int | None = Field(None, ge=1, description="epochs (or steps) between recorded losses")
    track: list[str] = Field(default_factory=list, description="parameters whose values the run records")
    optimizer: Union[Literal[OPTIMIZERS], OptimizerModel] = Field("sgd", description="sgd (default), momentum, adagrad, rmsprop, adam, adamw, or a mapping with name: and its hyperparameters")  # type: ignore[valid-type]
    state: dict[str, Any] | None = Field(None, description="the optimizer's starting state per parameter instead of torch's zeros: {v: {W2[1,1]: 0.1}}, {previous: {…}} (heavy ball), {m: …, v: …, step: 3}")
    clip: ClipModel | None = Field(None, description="gradient clipping before the optimizer's step: {norm: max_norm} or {value: clip_value}")
    schedule: ScheduleModel | None = Field(None, description="a learning-rate schedule (torch.optim.lr_scheduler): the rate of each update")


class DatasetModel(_Strict):
    name: Literal["moons", "xor", "circles"]
    n: int = Field(gt=3, le=1_000_000, description="number of samples generated (before the test split)")
    noise: Number = Field(0.0, ge=0)
    seed: int = 0
    test_fraction: Number = Field(0.0, ge=0, lt=1, description="share held out for the test accuracy")
    factor: Number = Field(0.5, gt=0, lt=1, description="circles only: inner radius / outer radius")


#: the languages of the documents' and sheets' fixed words (gettext catalogs: tracer/locale)
LANGUAGES = ("en", "zh", "es", "de")


class ProblemModel(_Strict):
    title: str = ""
    notation: Literal[NOTATIONS] = "bracket"  # type: ignore[valid-type]
    language: Literal[LANGUAGES] = Field("en", description="the documents' language: en, zh, es or de (--language overrides it)")  # type: ignore[valid-type]
    network: NetworkModel
    loss: LossModel
    data: list[SampleModel] | None = Field(None, min_length=1)
    dataset: DatasetModel | None = Field(None, description="generated data instead of data (tracer.datasets)")
    training: TrainingModel
    randomize: dict[str, Any] | None = Field(
        None, description="quiz variants (tracer quiz): which values vary over what grid, the guards, the quantities asked"
    )


# -- SPEC.md §8: layer kinds beyond dense ------------------------------------------------
# (each entry of network.layers is validated by its kind's model: tracer/layers/<kind>.py, found
# through the registry tracer.kinds)


class InputShapeModel(_Strict):
    channels: int = Field(gt=0)
    height: int = Field(gt=0)
    width: int = Field(gt=0)


class LayeredNetworkModel(_Strict):
    input: InputShapeModel | None = Field(None, description="an image input: x is [channel][row][column]")
    inputs: int | None = Field(None, gt=0)
    layers: list[dict[str, Any]] = Field(min_length=1, description="each with type: dense (default), conv2d, maxpool2d, avgpool2d, flatten")
    relu_derivative_at_zero: Literal[0, 1] = 0


class LayeredSampleModel(_Strict):
    x: list[Any] = Field(min_length=1)
    y: list[Any] | None = None
    label: int | None = Field(None, ge=0)


class LayeredProblemModel(_Strict):
    title: str = ""
    notation: Literal[NOTATIONS] = "bracket"  # type: ignore[valid-type]
    language: Literal[LANGUAGES] = "en"  # type: ignore[valid-type]
    network: LayeredNetworkModel
    loss: LossModel
    data: list[LayeredSampleModel] = Field(min_length=1)
    training: TrainingModel
    randomize: dict[str, Any] | None = None
