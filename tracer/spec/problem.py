"""The validated network problem: plain frozen dataclasses (:class:`Problem` and its parts).

What a problem file says, once read and checked (:mod:`tracer.spec.network`): the layers with
their weights, the loss, the samples, the training. :class:`Problem` answers questions about its
parameters — their keys in a fixed order, their values, which are trained and at what rate —
and makes changed copies of itself (training steps, quiz variants). Nothing here knows about
SymPy, NumPy, templates or how the file was written.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any, Mapping, Sequence

from tracer import keys, kinds
from tracer.keys import Quantity
from tracer.spec.optimizer_state import OptimizerState


@dataclass(frozen=True)
class ActivationSpec:
    name: str
    params: tuple[tuple[str, float], ...] = ()

    def param(self, key: str) -> float:
        return dict(self.params)[key]


@dataclass(frozen=True)
class LayerSpec:
    units: int
    activation: ActivationSpec
    weights: tuple[tuple[float, ...], ...]  # one row per unit: weights[j][i] joins input i to unit j
    bias: tuple[float, ...] | None  # one per unit, or a single value when shared; None = no bias
    shared_bias: bool = False
    trainable_bias: bool = True
    weights_layout: str = "unit_major"  # how the file wrote it; output keeps our layout
    # SPEC.md §8: the layer kinds beyond dense. A conv2d layer keeps one row of weights per
    # filter (its kernel flattened channel by channel, row by row: [c][m][n]) and one bias per
    # filter; a pooling or flatten layer has no parameters
    kind: str = "dense"  # dense | conv2d | maxpool2d | avgpool2d | flatten
    in_shape: tuple[int, ...] = ()  # (channels, height, width) of an image or feature map; () for dense
    out_shape: tuple[int, ...] = ()
    # (rows, columns) each, as torch's conv2d / max_pool2d / avg_pool2d take them; a file's one
    # number is the square pair
    kernel: tuple[int, int] = (0, 0)  # conv2d: kernel_size; pooling: size
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)  # conv2d and avgpool2d: zeros; maxpool2d: −∞ (never the maximum)
    dilation: tuple[int, int] = (1, 1)  # conv2d, maxpool2d: the gap between the entries a window reads
    ceil_mode: bool = False  # pooling: the output length rounded up (torch's ceil_mode), else down
    # rnn: the state-to-state weights (one row per unit: recurrent[j][k] joins state unit k of
    # the step before to unit j) and the state before the first step
    recurrent: tuple[tuple[float, ...], ...] = ()
    initial_state: tuple[float, ...] = ()
    returns: str = "last"  # rnn (outputs:): last | sequence (every state passes on; the layers above apply at every step)
    per_step: int = 0  # a dense layer above an rnn with outputs: sequence: applied at each of this many time steps
    learning_rate: float | None = None  # the layer's own learning rate (SPEC.md §9); None: training.learning_rate

    @property
    def inputs(self) -> int:
        if self.kind == "dense":
            return len(self.weights[0])
        if self.kind == "conv2d":
            return self.in_shape[0] * self.kernel[0] * self.kernel[1]
        if self.kind == "rnn":
            return len(self.weights[0])
        return math.prod(self.in_shape)

    @property
    def outputs(self) -> int:
        """How many numbers the layer passes on."""
        return math.prod(self.out_shape) if self.out_shape else self.units


@dataclass(frozen=True)
class LossSpec:
    kind: str = "mse"
    factor: float = 0.5
    outputs: str = "sum"
    samples: str = "sum"
    log: str = "ln"
    # SPEC.md §9: a penalty on the weights (not the biases) added to the loss once:
    # (λ₂/2)·Σ w² and λ₁·Σ |w|
    l2: float = 0.0
    l1: float = 0.0

    @property
    def regularized(self) -> bool:
        return bool(self.l2 or self.l1)


@dataclass(frozen=True)
class Sample:
    x: tuple[float, ...]
    y: tuple[float, ...]
    label: int | None = None


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer and its hyperparameters (torch.optim's defaults)."""

    name: str = "sgd"
    beta: float = 0.9  # momentum
    nesterov: bool = False
    alpha: float = 0.99  # rmsprop
    beta1: float = 0.9  # adam
    beta2: float = 0.999
    eps: float | None = None  # None: the optimizer's default (adagrad 1e-10; rmsprop, adam, adamw 1e-8)
    weight_decay: float | None = None  # None: the optimizer's default (adamw 0.01, as torch; the others 0)

    @property
    def epsilon(self) -> float:
        return self.eps if self.eps is not None else (1e-10 if self.name == "adagrad" else 1e-8)

    @property
    def decay(self) -> float:
        """The weight decay λ in use: torch's coupled g + λθ, or AdamW's decoupled θ − ηλθ (torch's default 0.01)."""
        return self.weight_decay if self.weight_decay is not None else (0.01 if self.name == "adamw" else 0.0)

    @property
    def plain(self) -> bool:
        """Plain gradient descent (θ' = θ − η·g, no state, no weight decay)."""
        return self.name == "sgd" and self.decay == 0.0

    def described(self) -> str:
        """``adam (beta1 0.9, beta2 0.999, eps 1e-08)``: the optimizer as a problem line says it (in the
        file's own words, which every format can print)."""
        values = {"momentum": [("beta", self.beta)] + ([("Nesterov", None)] if self.nesterov else []),
                  "adagrad": [("eps", self.epsilon)], "rmsprop": [("alpha", self.alpha), ("eps", self.epsilon)],
                  "adam": [("beta1", self.beta1), ("beta2", self.beta2), ("eps", self.epsilon)],
                  "adamw": [("beta1", self.beta1), ("beta2", self.beta2), ("eps", self.epsilon)]}.get(self.name, [])
        if self.decay or self.name == "adamw":
            values = values + [("weight_decay", self.decay)]
        inner = ", ".join(k if v is None else f"{k} {v:g}" for k, v in values)
        return self.name + (f" ({inner})" if inner else "")

    def to_mapping(self) -> "str | dict[str, Any]":
        if self.plain:
            return "sgd"
        keys_ = {"sgd": (), "momentum": ("beta", "nesterov"), "adagrad": ("eps",), "rmsprop": ("alpha", "eps"), "adam": ("beta1", "beta2", "eps"),
                 "adamw": ("beta1", "beta2", "eps")}[self.name]
        out: dict[str, Any] = {"name": self.name}
        for key in keys_:
            out[key] = self.epsilon if key == "eps" else getattr(self, key)
        if self.decay or self.name == "adamw":
            out["weight_decay"] = self.decay
        return out


@dataclass(frozen=True)
class ClipSpec:
    """``training.clip`` (SPEC.md §9): the gradients clipped before the optimizer's step, as torch does —
    ``norm``: torch.nn.utils.clip_grad_norm_(params, threshold) over every trained parameter's gradient;
    ``value``: torch.nn.utils.clip_grad_value_(params, threshold)."""

    mode: str  # "norm" | "value"
    threshold: float  # max_norm, or clip_value

    def described(self) -> str:
        """``max_norm 1.281251`` / ``clip_value 0.5``: the threshold as the file wrote it (its shortest decimal)."""
        return f"{'max_norm' if self.mode == 'norm' else 'clip_value'} {self.threshold!r}".replace(".0 ", " ").removesuffix(".0")

    def to_mapping(self) -> dict[str, float]:
        return {self.mode: self.threshold}


@dataclass(frozen=True)
class ScheduleSpec:
    """``training.schedule`` (SPEC.md §9): torch.optim.lr_scheduler's schedule of the learning rate,
    read; :mod:`tracer.core.schedules` and :mod:`tracer.numeric.schedules` each compute it."""

    name: str  # step | multistep | exponential | cosine | linear
    step_size: int = 1  # step
    milestones: tuple[int, ...] = ()  # multistep (increasing)
    gamma: float = 0.1  # step, multistep, exponential
    T_max: int = 1  # cosine
    eta_min: float = 0.0  # cosine
    start_factor: float = 1.0 / 3.0  # linear
    end_factor: float = 1.0
    total_iters: int = 5
    warmup: int = 0  # scheduler steps of a linear warm-up before the schedule (0: none)
    warmup_factor: float = 1.0 / 3.0
    per: str = "step"  # scheduler.step() after every update, or after every epoch

    #: each schedule's own fields, in the file's words
    FIELDS = {"step": ("step_size", "gamma"), "multistep": ("milestones", "gamma"), "exponential": ("gamma",),
              "cosine": ("T_max", "eta_min"), "linear": ("start_factor", "end_factor", "total_iters")}

    def described(self) -> str:
        """``step (step_size 2, gamma 0.5)``, with the warm-up and ``per epoch`` where given."""
        parts = []
        for name in self.FIELDS[self.name]:
            value = getattr(self, name)
            parts.append(f"{name} {', '.join(str(m) for m in value) if isinstance(value, tuple) else format(value, 'g')}")
        if self.warmup:
            parts.append(f"warmup {self.warmup} from factor {self.warmup_factor:g}")
        if self.per == "epoch":
            parts.append("per epoch")
        return f"{self.name} ({', '.join(parts)})"

    def to_mapping(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        for name in self.FIELDS[self.name]:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        if self.warmup:
            out["warmup"] = self.warmup
            out["warmup_factor"] = self.warmup_factor
        if self.per != "step":
            out["per"] = self.per
        return out


@dataclass(frozen=True)
class TrainingSpec:
    learning_rate: float = 0.1
    steps: int = 1
    update: tuple[Quantity, ...] | None = None  # None = every parameter
    order: str = "simultaneous"
    # training runs (tracer.training): steps counts updates; with epochs, steps = epochs × batches
    epochs: int | None = None  # None: `steps` updates (full batch: one epoch each)
    batch_size: int | None = None  # None: full batch; 1: stochastic (SGD); else mini-batch
    shuffle: bool = False  # reshuffle the samples before every epoch (seeded)
    seed: int = 0
    record_every: int | None = None  # epochs (or steps) between recorded losses; None: automatic
    track: tuple[Quantity, ...] = ()  # parameters whose values the run records
    optimizer: OptimizerSpec = OptimizerSpec()
    state: OptimizerState = OptimizerState()  # training.state: the optimizer's starting state, by parameter name
    clip: ClipSpec | None = None  # training.clip: the gradients clipped before the optimizer's step
    schedule: ScheduleSpec | None = None  # None: the same learning rate at every update

    def __post_init__(self) -> None:
        # a name here would never equal a key (tracer.keys): the parameter would silently not train
        for field_name in ("update", "track"):
            for key in getattr(self, field_name) or ():
                if not isinstance(key, Quantity):
                    raise TypeError(f"TrainingSpec.{field_name}: {key!r}: keys expected; parse names with tracer.keys.parse")


@dataclass(frozen=True)
class DatasetSpec:
    """A generated data set (tracer.datasets), recorded so that documents can say what it was."""

    name: str
    n: int
    noise: float = 0.0
    seed: int = 0
    test_fraction: float = 0.0
    factor: float = 0.5


@dataclass(frozen=True)
class Problem:
    inputs: int
    layers: tuple[LayerSpec, ...]
    loss: LossSpec
    data: tuple[Sample, ...]
    training: TrainingSpec
    title: str = ""
    notation: str = "bracket"
    relu_derivative_at_zero: int = 0
    source: str = ""
    language: str = "en"  # the documents' fixed words (tracer.render.i18n); names and numbers are the same in every one
    test_data: tuple[Sample, ...] = ()  # held-out samples (dataset.test_fraction): accuracy only
    dataset: DatasetSpec | None = None
    randomize: Any = field(default=None, compare=False, hash=False)  # raw `randomize:` block; tracer.quiz reads it
    input_shape: tuple[int, ...] | None = None  # an image input (channels, height, width); x is kept flat, channel-major
    target_steps: int = 0  # outputs: sequence: y has one target per time step (kept flat, step-major)

    @property
    def layered(self) -> bool:
        """Has the network a layer other than dense (SPEC.md §8)?"""
        return any(layer.kind != "dense" for layer in self.layers)

    # -- the parameters, by their keys (SPEC.md §2) -------------------------------
    # each layer's kind (tracer.kinds) lists its parameters as blocks (W, U, b); the problem reads
    # the blocks and never the kinds' fields

    @cached_property
    def parameter_blocks(self) -> tuple[Any, ...]:
        """Every layer's parameter blocks (tracer.layers.kind.ParameterBlock), layer by layer, in file order."""
        return tuple(block for l, layer in enumerate(self.layers, start=1) for block in kinds.layer(layer.kind).parameters(layer, l))

    @property
    def parameter_keys(self) -> tuple[Quantity, ...]:
        """Every parameter in a fixed order: per layer the weights row by row, then the bias."""
        return _parameter_keys(tuple((block.role, block.layer, block.shape) for block in self.parameter_blocks))

    def parameter_names(self) -> list[str]:
        """The parameters' canonical names (``W2[1,1]``, ``b2``), in :attr:`parameter_keys` order."""
        return [str(key) for key in self.parameter_keys]

    def parameter_vector(self) -> list[float]:
        """Every parameter's value, in :attr:`parameter_keys` order."""
        values: list[float] = []
        for block in self.parameter_blocks:
            for row in block.rows:
                values.extend(row)
        return values

    def parameters(self) -> dict[Quantity, float]:
        return dict(zip(self.parameter_keys, self.parameter_vector()))

    @cached_property
    def trained_mask(self) -> tuple[bool, ...]:
        """Per parameter (:attr:`parameter_keys` order): does a gradient-descent step change it?"""
        mask: list[bool] = []
        for block in self.parameter_blocks:
            mask.extend([block.trainable] * block.size)
        if self.training.update is not None:
            update = set(self.training.update)
            mask = [trained and key in update for key, trained in zip(self.parameter_keys, mask)]
        return tuple(mask)

    @cached_property
    def rate_vector(self) -> tuple[float, ...]:
        """Per parameter (:attr:`parameter_keys` order): its learning rate (its layer's own, or
        ``training.learning_rate``)."""
        rates: list[float] = []
        for block in self.parameter_blocks:
            own = self.layers[block.layer - 1].learning_rate
            rates.extend([self.training.learning_rate if own is None else own] * block.size)
        return tuple(rates)

    def scheduler_steps(self, update: int) -> int:
        """How many times torch's ``scheduler.step()`` has run before update ``update`` (1-based): the
        ``last_epoch`` whose rate that update uses — ``update − 1`` with ``per: step``, the epochs
        finished before it with ``per: epoch`` (0 without a schedule)."""
        schedule = self.training.schedule
        if schedule is None:
            return 0
        if schedule.per == "step":
            return update - 1
        per_epoch = -(-len(self.data) // (self.training.batch_size or len(self.data)))
        return (update - 1) // per_epoch

    @cached_property
    def weight_mask(self) -> tuple[bool, ...]:
        """Per parameter (:attr:`parameter_keys` order): is it a weight (W, U: penalised by
        ``loss.regularization``) rather than a bias?"""
        mask: list[bool] = []
        for block in self.parameter_blocks:
            mask.extend([block.penalised] * block.size)
        return tuple(mask)

    def describe_training(self) -> str:
        """``learning rate 0.5, 1 step, simultaneous updates`` with the optimizer, the layers' own
        rates and the penalty where there are any."""
        t = self.training
        text = f"learning rate {t.learning_rate:g}"
        own = [f"layer {l} {layer.learning_rate:g}" for l, layer in enumerate(self.layers, 1) if layer.learning_rate is not None]
        if own:
            text += f" ({', '.join(own)})"
        if not t.optimizer.plain:
            text += f", optimizer {t.optimizer.described()}"
        if t.clip is not None:
            how = "clip_grad_norm_" if t.clip.mode == "norm" else "clip_grad_value_"
            text += f", gradients clipped by {t.clip.mode} (torch.nn.utils.{how}, {t.clip.described()})"
        if t.schedule is not None:
            text += f", schedule {t.schedule.described()}"
        return text

    @cached_property
    def trained_keys(self) -> tuple[Quantity, ...]:
        """The parameters a gradient-descent step changes (``training.update`` and ``trainable_bias``)."""
        return tuple(key for key, trained in zip(self.parameter_keys, self.trained_mask) if trained)

    def trainable(self) -> list[str]:
        """The names of the parameters a gradient-descent step changes."""
        return [str(key) for key in self.trained_keys]

    def with_parameters(self, values: Mapping[Quantity | str, float]) -> "Problem":
        """The same problem with some parameters replaced (used for steps, quizzes, checks);
        ``values`` may be keyed by keys or by canonical names."""
        if not values:
            return self
        wanted = {keys.parse_quantity(str(k)) if isinstance(k, str) else k: v for k, v in values.items()}
        vector = self.parameter_vector()
        position = _positions(self.parameter_keys)
        for key, value in wanted.items():
            k = position.get(key)
            if k is not None:  # a key the problem has not is ignored
                vector[k] = value
        return self.with_parameter_vector(vector)

    def with_parameter_vector(self, values: Sequence[float]) -> "Problem":
        """The same problem with every parameter replaced, in :attr:`parameter_keys` order."""
        layers, k = [], 0
        blocks = self.parameter_blocks
        for l, layer in enumerate(self.layers, start=1):
            n = sum(block.size for block in blocks if block.layer == l)
            layers.append(kinds.layer(layer.kind).with_values(layer, values[k:k + n]) if n else layer)
            k += n
        return replace(self, layers=tuple(layers))

    def describe(self) -> str:
        """A short human description (``tracer validate``)."""
        if self.layered:
            return self._describe_layers()
        sizes = "-".join(str(n) for n in [self.inputs] + [layer.units for layer in self.layers])
        acts = ", ".join(
            f"layer {l}: {layer.units} × {layer.activation.name}" for l, layer in enumerate(self.layers, 1)
        )
        kind = self.loss.kind.replace("_", " ")  # binary cross entropy, as a reader writes it
        loss = kind + (f" (factor {self.loss.factor:g})" if self.loss.kind == "mse" else "" if self.loss.kind == "hinge" else f" ({self.loss.log})")
        return (
            f"{self.title or '(untitled)'}: a {sizes} network ({acts}); "
            f"{_count(len(self.parameter_keys), 'parameter')}, {len(self.trained_keys)} trained; "
            f"loss {loss}, outputs {self.loss.outputs}, samples {self.loss.samples}{self._describe_penalty()}; "
            f"{_count(len(self.data), 'sample')}; {self.describe_training()}, "
            f"{_count(self.training.steps, 'step')}, {self.training.order} updates"
            + self._describe_run()
        )

    def _describe_penalty(self) -> str:
        parts = [f"L2 λ {self.loss.l2:g}"] if self.loss.l2 else []
        parts += [f"L1 λ {self.loss.l1:g}"] if self.loss.l1 else []
        return f", penalty {' + '.join(parts)} on the weights" if parts else ""

    def _describe_layers(self) -> str:
        shape = "×".join(map(str, self.input_shape)) if self.input_shape else str(self.inputs)
        if self.input_shape and len(self.input_shape) == 2:  # (time steps, numbers per step)
            shape = f"sequence ({self.input_shape[0]} steps × {self.input_shape[1]})"  # type: ignore[index]
        parts = [f"layer {l}: {kinds.layer(layer.kind).describe(layer)}" for l, layer in enumerate(self.layers, 1)]
        kind = self.loss.kind.replace("_", " ")
        if self.loss.outputs == "mean":
            kind += ", averaged over the outputs" + (" of each time step, the steps summed" if self.target_steps else "")
        return (
            f"{self.title or '(untitled)'}: a network on a {shape} input ({'; '.join(parts)}); "
            f"{_count(len(self.parameter_keys), 'parameter')}, {len(self.trained_keys)} trained; loss {kind}{self._describe_penalty()}; "
            f"{_count(len(self.data), 'sample')}; {self.describe_training()}, {_count(self.training.steps, 'step')}"
        )

    def _describe_run(self) -> str:
        t, parts = self.training, []
        if self.dataset is not None:
            d = self.dataset
            parts.append(f"data: {d.name} (n {d.n}, noise {d.noise:g}, seed {d.seed}), {len(self.test_data)} held out for testing")
        if t.epochs is not None:
            parts.append(_count(t.epochs, "epoch"))
        if t.batch_size is not None and t.batch_size < len(self.data):
            kind = "stochastic (SGD)" if t.batch_size == 1 else "mini-batch"
            parts.append(f"{kind}, batch size {t.batch_size}" + (f", shuffled (seed {t.seed})" if t.shuffle else ""))
        return "".join(f"; {p}" for p in parts)


@lru_cache(maxsize=64)
def _parameter_keys(blocks: tuple[tuple[str, int, tuple[int, ...]], ...]) -> tuple[Quantity, ...]:
    """The parameter keys of blocks of these (role, layer, shape)s, in order (made once: a
    784-32-10 network has 25,450)."""
    out: list[Quantity] = []
    for role, l, shape in blocks:
        out.extend(Quantity(role, l, index) for index in itertools.product(*(range(1, n + 1) for n in shape)))
    return tuple(out)


@lru_cache(maxsize=16)
def _positions(parameter_keys: tuple[Quantity, ...]) -> dict[Quantity, int]:
    """Each key's position in :attr:`Problem.parameter_keys` (made once per shape of network)."""
    return {key: k for k, key in enumerate(parameter_keys)}


def _count(n: int, noun: str) -> str:
    """``1 sample``, ``3 samples``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
