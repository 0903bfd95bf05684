"""Read and validate a problem file (SPEC.md §1) into plain frozen dataclasses.

Pydantic (strict mode, ``extra="forbid"``) checks types and keys; the checks that
need more than one field (shapes, label ranges, softmax placement) are done here by
hand. Every error becomes one :class:`SpecError` whose message names the file, the
field and what was expected, e.g.
``hw3.yaml: network.layers[1].weights: 2 rows expected (units), got 3``.

Nothing here knows about SymPy, NumPy or templates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Sequence, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tracer import bounds, initializers
from tracer import keys
from tracer.datasets import generate
from tracer.files import STDIN, FileRefused, read_text
from tracer.keys import Quantity

ACTIVATIONS = (
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "softplus",
    "arctan",
    "step",
    "softmax",
)
ACTIVATION_ALIASES = {"linear": "identity", "logistic": "sigmoid"}
#: parameters an activation accepts, with their defaults
ACTIVATION_PARAMETERS = {"leaky_relu": {"alpha": 0.01}, "elu": {"alpha": 1.0}}
NOTATIONS = ("mazur", "bracket", "neuron", "delta")


class SpecError(ValueError):
    """A problem file is not valid. ``str(err)`` is the one-line message for the user."""

    def __init__(self, source: str, field_path: str, message: str):
        self.source = source
        self.field = field_path
        self.message = message
        rest = one_line(f"{field_path}: {message}" if field_path else message, 10**6)
        where = f"{_fitted(source, MAX_MESSAGE - len(rest) - 2)}: " if source else ""
        super().__init__(one_line(f"{where}{rest}"))


def _fitted(source: str, room: int) -> str:
    """A long path shortened in its middle to ``room`` characters (its file name kept whole), so that
    the field and the hint after it stay in a message of at most MAX_MESSAGE characters."""
    source = one_line(source, 10**6)
    if len(source) <= room:
        return source
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    keep = max(room - len(name) - 2, 0)
    return (source[:keep] + "…/" + name) if keep else "…/" + name


#: the longest message a problem file is refused with (SPEC §6: one line naming the file, the field and
#: what was expected; with the command's "tracer: " it stays under 300 characters)
MAX_MESSAGE = 280


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` as one line of at most ``limit`` characters: line breaks and control characters
    become spaces, a longer text is cut with ``...`` (a 100 kB value quoted in a message)."""
    text = " ".join("".join(" " if not ch.isprintable() else ch for ch in text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unprintable(text: str) -> tuple[int, str] | None:
    """The first character of ``text`` that no document may carry, with its position: a control
    character (tab and line breaks included: a title is one line), half of a surrogate pair (not
    a character: YAML's ``"\\ud83d"``), or U+FFFE/U+FFFF (not allowed in XML)."""
    for i, ch in enumerate(text):
        code = ord(ch)
        if code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
            return i, ch
    return None


def _refuse_unprintable_title(raw: dict, source: str) -> None:
    """A title is one line of printable text: a control character would make an ill-formed
    Moodle XML or QTI file and break the Markdown heading, so it is refused here, for every output."""
    title = raw.get("title")
    if isinstance(title, str):
        found = unprintable(title)
        if found is not None:
            i, ch = found
            what = "half of a surrogate pair" if 0xD800 <= ord(ch) <= 0xDFFF else "a control character"
            raise SpecError(source, "title", f"{what} (U+{ord(ch):04X}) at character {i + 1}; a title is one line of "
                                             "printable text (Greek, CJK and emoji are fine, written as themselves)")


# ---------------------------------------------------------------------------
# The validated problem: plain frozen dataclasses.
# ---------------------------------------------------------------------------


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
    kernel: int = 0  # conv2d: kernel_size; pooling: size
    stride: int = 1
    padding: int = 0
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
            return self.in_shape[0] * self.kernel * self.kernel
        if self.kind == "rnn":
            return len(self.weights[0])
        return math.prod(self.in_shape)

    @property
    def weight_count(self) -> int:
        """The weights of the layer (an rnn's W, then U) before its bias, in parameter order."""
        count = len(self.weights) * len(self.weights[0]) if self.weights else 0
        return count + len(self.recurrent) * len(self.recurrent[0]) if self.recurrent else count

    @property
    def outputs(self) -> int:
        """How many numbers the layer passes on."""
        return math.prod(self.out_shape) if self.out_shape else self.units

    def weight_keys(self, l: int) -> list[Quantity]:
        """The layer's weights, row by row (a conv2d kernel's [filter, channel, row, column])."""
        if self.kind == "conv2d":
            c, k = self.in_shape[0], self.kernel
            return [Quantity("W", l, (f, ch, m, n)) for f in range(1, self.units + 1) for ch in range(1, c + 1)
                    for m in range(1, k + 1) for n in range(1, k + 1)]
        if self.kind == "rnn":
            n = len(self.weights[0])
            return ([keys.W(l, j, i) for j in range(1, self.units + 1) for i in range(1, n + 1)]
                    + [Quantity("U", l, (j, k)) for j in range(1, self.units + 1) for k in range(1, self.units + 1)])
        if self.kind != "dense":
            return []
        return [keys.W(l, j, i) for j in range(1, self.units + 1) for i in range(1, self.inputs + 1)]

    def bias_keys(self, l: int) -> list[Quantity]:
        if self.bias is None:
            return []
        return [keys.b(l)] if self.shared_bias else [keys.b(l, j) for j in range(1, len(self.bias) + 1)]


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


#: the optimizers of SPEC.md §9, as torch.optim defines them
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer and its hyperparameters (torch.optim's defaults)."""

    name: str = "sgd"
    beta: float = 0.9  # momentum
    nesterov: bool = False
    alpha: float = 0.99  # rmsprop
    beta1: float = 0.9  # adam
    beta2: float = 0.999
    eps: float | None = None  # None: the optimizer's default (adagrad 1e-10; rmsprop, adam 1e-8)

    @property
    def epsilon(self) -> float:
        return self.eps if self.eps is not None else (1e-10 if self.name == "adagrad" else 1e-8)

    @property
    def plain(self) -> bool:
        """Plain gradient descent (θ' = θ − η·g, no state)."""
        return self.name == "sgd"

    def described(self) -> str:
        """``adam (beta1 0.9, beta2 0.999, eps 1e-08)``: the optimizer as a problem line says it (in the
        file's own words, which every format can print)."""
        values = {"momentum": [("beta", self.beta)] + ([("Nesterov", None)] if self.nesterov else []),
                  "adagrad": [("eps", self.epsilon)], "rmsprop": [("alpha", self.alpha), ("eps", self.epsilon)],
                  "adam": [("beta1", self.beta1), ("beta2", self.beta2), ("eps", self.epsilon)]}.get(self.name, [])
        inner = ", ".join(k if v is None else f"{k} {v:g}" for k, v in values)
        return self.name + (f" ({inner})" if inner else "")

    def to_mapping(self) -> "str | dict[str, Any]":
        if self.plain:
            return "sgd"
        keys_ = {"momentum": ("beta", "nesterov"), "adagrad": ("eps",), "rmsprop": ("alpha", "eps"), "adam": ("beta1", "beta2", "eps")}[self.name]
        out: dict[str, Any] = {"name": self.name}
        for key in keys_:
            out[key] = self.epsilon if key == "eps" else getattr(self, key)
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
    @property
    def parameter_keys(self) -> tuple[Quantity, ...]:
        """Every parameter in a fixed order: per layer the weights row by row, then the bias."""
        if self.layered:
            return _layer_keys(self.layers)
        return _parameter_keys(tuple((layer.units, layer.inputs, layer.bias is not None, layer.shared_bias) for layer in self.layers))

    def parameter_names(self) -> list[str]:
        """The parameters' canonical names (``W2[1,1]``, ``b2``), in :attr:`parameter_keys` order."""
        return [str(key) for key in self.parameter_keys]

    def parameter_vector(self) -> list[float]:
        """Every parameter's value, in :attr:`parameter_keys` order."""
        values: list[float] = []
        for layer in self.layers:
            for row in layer.weights + layer.recurrent:
                values.extend(row)
            if layer.bias is not None:
                values.extend(layer.bias)
        return values

    def parameters(self) -> dict[Quantity, float]:
        return dict(zip(self.parameter_keys, self.parameter_vector()))

    @cached_property
    def trained_mask(self) -> tuple[bool, ...]:
        """Per parameter (:attr:`parameter_keys` order): does a gradient-descent step change it?"""
        mask: list[bool] = []
        for layer in self.layers:
            mask.extend([True] * layer.weight_count)
            if layer.bias is not None:
                mask.extend([layer.trainable_bias] * len(layer.bias))
        if self.training.update is not None:
            update = set(self.training.update)
            mask = [trained and key in update for key, trained in zip(self.parameter_keys, mask)]
        return tuple(mask)

    @cached_property
    def rate_vector(self) -> tuple[float, ...]:
        """Per parameter (:attr:`parameter_keys` order): its learning rate (its layer's own, or
        ``training.learning_rate``)."""
        rates: list[float] = []
        for layer in self.layers:
            rate = self.training.learning_rate if layer.learning_rate is None else layer.learning_rate
            rates.extend([rate] * (layer.weight_count + (len(layer.bias) if layer.bias is not None else 0)))
        return tuple(rates)

    @cached_property
    def weight_mask(self) -> tuple[bool, ...]:
        """Per parameter (:attr:`parameter_keys` order): is it a weight (W, U: penalised by
        ``loss.regularization``) rather than a bias?"""
        mask: list[bool] = []
        for layer in self.layers:
            mask.extend([True] * layer.weight_count + [False] * (len(layer.bias) if layer.bias is not None else 0))
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
        if self.layered or len(wanted) * 4 >= len(self.parameter_keys):  # most of them: one pass in key order (the keys are cached)
            return self.with_parameter_vector([wanted.get(k, v) for k, v in zip(self.parameter_keys, self.parameter_vector())])
        layers = []
        for l, layer in enumerate(self.layers, start=1):
            weights = tuple(
                tuple(wanted.get(keys.W(l, j, i), w) for i, w in enumerate(row, start=1))
                for j, row in enumerate(layer.weights, start=1)
            )
            bias = layer.bias
            if bias is not None:
                if layer.shared_bias:
                    bias = (wanted.get(keys.b(l), bias[0]),)
                else:
                    bias = tuple(wanted.get(keys.b(l, j), b) for j, b in enumerate(bias, start=1))
            layers.append(replace(layer, weights=weights, bias=bias))
        return replace(self, layers=tuple(layers))

    def with_parameter_vector(self, values: Sequence[float]) -> "Problem":
        """The same problem with every parameter replaced, in :attr:`parameter_keys` order."""
        layers, k = [], 0
        for layer in self.layers:
            n = layer.weight_count
            width = len(layer.weights[0]) if layer.weights else 0
            flat = values[k : k + n]
            k += n
            weights = tuple(tuple(float(v) for v in flat[j * width : (j + 1) * width]) for j in range(len(layer.weights)))
            if layer.recurrent:
                rest, units = flat[len(layer.weights) * width :], len(layer.recurrent)
                layer = replace(layer, recurrent=tuple(tuple(float(v) for v in rest[j * units : (j + 1) * units]) for j in range(units)))
            bias = layer.bias
            if bias is not None:
                bias = tuple(float(v) for v in values[k : k + len(bias)])
                k += len(bias)
            layers.append(replace(layer, weights=weights, bias=bias))
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
        loss = kind + (f" (factor {self.loss.factor:g})" if self.loss.kind == "mse" else f" ({self.loss.log})")
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
        if self.layers[0].kind == "rnn":
            shape = f"sequence ({self.input_shape[0]} steps × {self.input_shape[1]})"  # type: ignore[index]
        parts = []
        for l, layer in enumerate(self.layers, 1):
            if layer.kind == "conv2d":
                parts.append(f"layer {l}: conv2d, {_count(layer.units, 'filter')} {layer.kernel}×{layer.kernel}, stride {layer.stride}, "
                             f"padding {layer.padding}, {layer.activation.name} → {'×'.join(map(str, layer.out_shape))}")
            elif layer.kind in ("maxpool2d", "avgpool2d"):
                parts.append(f"layer {l}: {layer.kind} {layer.kernel}×{layer.kernel}, stride {layer.stride} → {'×'.join(map(str, layer.out_shape))}")
            elif layer.kind == "flatten":
                parts.append(f"layer {l}: flatten → {layer.outputs}")
            elif layer.kind == "rnn":
                passed = "every state passed on" if layer.returns == "sequence" else "the last state passed on"
                parts.append(f"layer {l}: rnn, {layer.units} × {layer.activation.name} over {layer.in_shape[0]} time steps, {passed}")
            else:
                parts.append(f"layer {l}: {layer.units} × {layer.activation.name}" + (" at every time step" if layer.per_step else ""))
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


@dataclass(frozen=True)
class EquationSpec:
    """One local equation of a graph problem, as its file writes it: ``name = expression``."""

    name: str
    expression: str  # the right-hand side, unparsed (tracer.builders.equations reads it)
    text: str  # the whole line, for messages


@dataclass(frozen=True)
class GraphTrainingSpec:
    parameters: tuple[str, ...] = ()  # the leaves gradient descent changes
    learning_rate: float = 0.1
    steps: int = 0


@dataclass(frozen=True)
class GraphProblem:
    """A computational graph written as equations (SPEC.md §7): its equations, the value of
    every leaf, the node differentiated. The equations are read (and checked: names, cycles,
    values) by :mod:`tracer.builders.equations`; here only their shape."""

    equations: tuple[EquationSpec, ...]
    values: tuple[tuple[str, float], ...]  # every leaf, in the file's order
    output: str
    training: GraphTrainingSpec = GraphTrainingSpec()
    title: str = ""
    relu_derivative_at_zero: int = 0
    source: str = ""
    language: str = "en"
    randomize: Any = field(default=None, compare=False, hash=False)  # raw `randomize:` block (tracer quiz)

    @property
    def notation(self) -> str:
        return "graph"  # the nodes' own names: no theme renames them

    @property
    def nodes(self) -> tuple[str, ...]:
        """The computed nodes, in the file's order."""
        return tuple(e.name for e in self.equations)

    @property
    def names(self) -> frozenset[str]:
        """Every name of the graph: its nodes and its leaves."""
        return frozenset(self.nodes) | frozenset(name for name, _ in self.values)

    def value_of(self, name: str) -> float:
        return dict(self.values)[name]

    def with_values(self, values: Mapping[str, float]) -> "GraphProblem":
        """The same graph with some leaves' values replaced (training steps, quiz variants)."""
        return replace(self, values=tuple((name, float(values.get(name, v))) for name, v in self.values))

    def describe(self) -> str:
        trained = self.training.parameters
        training = (
            f"; gradient descent on {', '.join(trained)}: learning rate {self.training.learning_rate:g}, {_count(self.training.steps, 'step')}"
            if trained and self.training.steps else "; no training"
        )
        return (
            f"{self.title or '(untitled)'}: a computational graph of {_count(len(self.equations), 'equation')}; "
            f"leaves {', '.join(f'{n} = {_signed(v)}' for n, v in self.values)}; output {self.output}{training}"
        )


def _signed(value: float) -> str:
    """A number in prose as the documents print it: −2 with a minus sign, not a hyphen (1e-05 keeps its exponent's)."""
    text = f"{value:g}"
    return "−" + text[1:] if text.startswith("-") else text


@lru_cache(maxsize=64)
def _parameter_keys(shape: tuple[tuple[int, int, bool, bool], ...]) -> tuple[Quantity, ...]:
    """The parameter keys of a network of this shape (made once: a 784-32-10 network has 25,450)."""
    out: list[Quantity] = []
    for l, (units, inputs, bias, shared) in enumerate(shape, start=1):
        out.extend(keys.W(l, j, i) for j in range(1, units + 1) for i in range(1, inputs + 1))
        if bias:
            out.extend([keys.b(l)] if shared else [keys.b(l, j) for j in range(1, units + 1)])
    return tuple(out)


def _layer_keys(layers: tuple[LayerSpec, ...]) -> tuple[Quantity, ...]:
    out: list[Quantity] = []
    for l, layer in enumerate(layers, start=1):
        out.extend(layer.weight_keys(l))
        out.extend(layer.bias_keys(l))
    return tuple(out)


def _count(n: int, noun: str) -> str:
    """``1 sample``, ``3 samples``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# ---------------------------------------------------------------------------
# The file format: pydantic models (strict; unknown keys refused). These also
# produce the shipped JSON Schema (schema/problem.schema.json).
# ---------------------------------------------------------------------------

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
    kind: Literal["mse", "cross_entropy", "binary_cross_entropy"]
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


class MomentumModel(_Strict):
    name: Literal["momentum"]
    beta: Number = Field(0.9, ge=0, lt=1, description="the momentum μ: v ← βv + g, θ ← θ − ηv (torch.optim.SGD)")
    nesterov: bool = False


class AdagradModel(_Strict):
    name: Literal["adagrad"]
    eps: Number = Field(1e-10, gt=0)


class RMSpropModel(_Strict):
    name: Literal["rmsprop"]
    alpha: Number = Field(0.99, ge=0, lt=1)
    eps: Number = Field(1e-8, gt=0)


class AdamModel(_Strict):
    name: Literal["adam"]
    beta1: Number = Field(0.9, ge=0, lt=1)
    beta2: Number = Field(0.999, ge=0, lt=1)
    eps: Number = Field(1e-8, gt=0)


OptimizerModel = Annotated[Union[SgdModel, MomentumModel, AdagradModel, RMSpropModel, AdamModel], Field(discriminator="name")]


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
    optimizer: Union[Literal[OPTIMIZERS], OptimizerModel] = Field("sgd", description="sgd (default), momentum, adagrad, rmsprop, adam, or a mapping with name: and its hyperparameters")  # type: ignore[valid-type]


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


class InputShapeModel(_Strict):
    channels: int = Field(gt=0)
    height: int = Field(gt=0)
    width: int = Field(gt=0)


class DenseLayerModel(LayerModel):
    type: Literal["dense"] = "dense"


class ConvLayerModel(_Strict):
    type: Literal["conv2d"]
    filters: int = Field(gt=0)
    kernel_size: int = Field(gt=0)
    stride: int = Field(1, gt=0)
    padding: int = Field(0, ge=0)
    activation: Union[Literal[ACTIVATIONS + tuple(ACTIVATION_ALIASES)], ActivationModel] = "identity"  # type: ignore[valid-type]
    weights: list[list[list[list[Number]]]] | WeightInitModel = Field(description="[filter][channel][row][column], or {init: xavier | he | uniform, seed: S}")
    bias: list[Number] | BiasInitModel | None = Field(None, description="one per filter, {init: zeros}, or omitted (no bias)")
    trainable_bias: bool = True
    learning_rate: Number | None = Field(None, gt=0, description="this layer's own learning rate (default: training.learning_rate)")


class PoolLayerModel(_Strict):
    type: Literal["maxpool2d", "avgpool2d"]
    size: int = Field(gt=0)
    stride: int | None = Field(None, gt=0, description="default: the size")


class FlattenLayerModel(_Strict):
    type: Literal["flatten"]


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


LAYER_MODELS: dict[str, type[_Strict]] = {
    "dense": DenseLayerModel, "conv2d": ConvLayerModel, "maxpool2d": PoolLayerModel, "avgpool2d": PoolLayerModel,
    "flatten": FlattenLayerModel, "rnn": RecurrentLayerModel,
}


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


class _LayeredNetworkSchema(LayeredNetworkModel):
    """For the JSON Schema only: each layer one of the kinds (the loader reads them one by one)."""

    layers: list[Union[DenseLayerModel, ConvLayerModel, PoolLayerModel, FlattenLayerModel, RecurrentLayerModel]] = Field(min_length=1)  # type: ignore[assignment]


class _LayeredSchema(LayeredProblemModel):
    network: _LayeredNetworkSchema  # type: ignore[assignment]


class GraphModel(_Strict):
    equations: list[str] = Field(min_length=1, description="one local equation each: NAME = EXPR (the parser of tracer diff)")
    values: dict[str, Number] = Field(description="the value of every leaf (a name no equation defines)")
    output: str = Field(description="the node differentiated: d output / d every other node")
    relu_derivative_at_zero: Literal[0, 1] = 0


class GraphTrainingModel(_Strict):
    parameters: list[str] = Field(min_length=1, description="the leaves gradient descent changes")
    learning_rate: Number = Field(gt=0)
    steps: int = Field(1, ge=0)


class GraphProblemModel(_Strict):
    title: str = ""
    language: Literal[LANGUAGES] = "en"  # type: ignore[valid-type]
    graph: GraphModel
    training: GraphTrainingModel | None = None
    randomize: dict[str, Any] | None = Field(None, description="quiz variants (tracer quiz)")


def json_schema() -> dict[str, Any]:
    """One schema for both kinds of problem file: a network (``network:``) or a graph (``graph:``)."""
    definitions: dict[str, Any] = {}
    forms = []
    for name, model in (("NetworkProblem", ProblemModel), ("LayeredProblem", _LayeredSchema), ("GraphProblem", GraphProblemModel)):
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


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def load(path: str | Path) -> Problem:
    """Read a problem file (``-``: the standard input, named ``<stdin>`` in messages); raise
    :class:`SpecError` (one line, names the field) when it is wrong."""
    source = "<stdin>" if str(path) == STDIN else str(path)
    try:  # a FIFO, a device or a directory refused before a byte is read (tracer.files)
        text = read_text(path, MAX_TEXT)
    except FileRefused as err:
        raise SpecError(source, "", str(err)) from None
    return loads(text, source)


#: YAML 1.2's floats without a decimal point (``1e-3``, ``2E+5``), which YAML 1.1 (PyYAML)
#: reads as strings — every user writes a learning rate or an ε so
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


#: the limits of what a problem file may be: its size, how deeply its lists and mappings nest, how
#: many values its aliases repeat (tracer.bounds: one bound for every input path)
MAX_TEXT = bounds.MAX_TEXT
MAX_DEPTH = bounds.MAX_DEPTH


def _Refused(mark, message: str) -> bounds.Refused:
    return bounds.Refused(message, mark)


def _plain_composer(base: type) -> dict:
    """For the pure-Python loader: no explicit tag (``!!int``, ``!!timestamp``, ``!x``) — a value is
    read as YAML's own plain scalars, never as what a tag asks for — and no nesting deeper
    than :data:`MAX_DEPTH`; and (both loaders) no key twice in one mapping."""

    def construct_mapping(self, node, deep=False):  # the C loader's constructor is Python too: both refuse a key twice
        seen: dict = {}
        for key_node, _ in getattr(node, "value", ()):
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if key_node.value in seen:
                raise _Refused(key_node.start_mark, f"the key {key_node.value[:40]!r} is given twice in one mapping "
                                                    f"(first on line {seen[key_node.value] + 1}); YAML would keep only the last")
            seen[key_node.value] = key_node.start_mark.line
        return base.construct_mapping(self, node, deep)

    if not hasattr(base, "compose_node") or base.__name__.startswith("C"):
        return {"construct_mapping": construct_mapping}

    def compose_node(self, parent, index):
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and not isinstance(event, yaml.AliasEvent):
            raise _Refused(event.start_mark, f"YAML tags such as {tag.replace('tag:yaml.org,2002:', '!!')} are not read; write the value plainly")
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
            return base.compose_node(self, parent, index)
        finally:
            self._depth -= 1

    return {"compose_node": compose_node, "construct_mapping": construct_mapping}


def _too_deep(raw: Any) -> bool:
    """Do lists and mappings nest deeper than :data:`MAX_DEPTH`? (:class:`bounds.Refused` when
    aliases repeat too many values: no loader would give a line for that.)"""
    try:
        bounds.measure_values(raw)
    except bounds.Refused as err:
        if err.message.startswith("nested"):
            return True
        raise
    return False


@lru_cache(maxsize=None)
def _with_exponent_floats(base: type) -> type:
    loader = type(f"{base.__name__}WithExponents", (base,), _plain_composer(base))
    loader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))  # type: ignore[attr-defined]
    loader.add_constructor("tag:yaml.org,2002:int", _bounded_int)  # type: ignore[attr-defined]
    return loader


#: the largest integer a problem file may write (a count, a seed, a weight written without a point)
MAX_INTEGER = bounds.MAX_INTEGER


def _bounded_int(loader, node) -> int:
    """YAML's int, at most :data:`MAX_INTEGER` in size: ``0x1F999…`` (hex has no digit limit)
    would otherwise be a 200-digit integer that no field can use and no message can quote."""
    value = yaml.SafeLoader.construct_yaml_int(loader, node)
    if abs(value) > MAX_INTEGER:
        raise _Refused(node.start_mark, f"an integer beyond 10^18 ({node.value[:20]}…) is not read; write a number of that size as a float (1e18)")
    return value




def loads(text: str, source: str = "<string>") -> Problem:
    # libyaml (yaml.CSafeLoader, where PyYAML was built with it) reads the 25,450 numbers
    # of a 784-32-10 file in ~0.12 s, PyYAML's pure-Python SafeLoader in ~0.75 s. The
    # pure-Python loader stays the reference: it reads every text libyaml refuses or fails
    # on (so its result or its error message is the answer), and every text on which the
    # two parsers could disagree (tests/test_yaml_loading.py compares them).
    def alike(text: str) -> bool:
        """No tab and no byte-order mark; no tag (!), block scalar (| >) or "?" but in a comment."""
        if "\t" in text or "\ufeff" in text:
            return False
        for line in text.splitlines():  # every YAML line break, and more
            if any(ch in line for ch in "!|>?"):
                k = line.find("#")
                while k > 0 and line[k - 1] != " ":
                    k = line.find("#", k + 1)
                code = line if k < 0 or "'" in line[:k] or '"' in line[:k] else line[:k]
                if any(ch in code for ch in "!|>?"):
                    return False
        return True

    fast = getattr(yaml, "CSafeLoader", None)
    fast = None if fast is None else _with_exponent_floats(fast)
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise SpecError(source, "", f"{len(text):,} characters is too large a problem file (at most {MAX_TEXT:,})")
    if fast is not None and isinstance(text, str) and alike(text):
        try:
            raw = yaml.load(text, Loader=fast)
        except Exception:  # whatever libyaml made of it, the reference loader below decides
            pass
        else:
            try:
                deep = _too_deep(raw)
            except bounds.Refused as err:  # aliases repeating too much: measured, not walked
                raise SpecError(source, "", err.message) from None
            if not deep:  # too deep: the reference loader refuses it, with its line
                return from_mapping(raw, source)
    try:
        raw = yaml.load(text, Loader=_with_exponent_floats(yaml.SafeLoader))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise SpecError(source, "", f"YAML syntax error: {where}{problem}") from None
    except bounds.Refused as err:
        raise SpecError(source, "", f"{err.where()}{err.message}") from None
    except RecursionError:
        raise SpecError(source, "", f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as err:  # a scalar YAML cannot make a value of
        raise SpecError(source, "", f"a YAML value that cannot be read ({str(err)[:80]})") from None
    try:
        bounds.measure_values(raw)
    except bounds.Refused as err:
        raise SpecError(source, "", err.message) from None
    return from_mapping(raw, source)


def from_mapping(raw: Any, source: str = "<mapping>") -> "Problem | GraphProblem":
    if not isinstance(raw, dict):
        raise SpecError(source, "", "expected a mapping with keys network, loss, data, training (or graph)")
    _refuse_unprintable_title(raw, source)
    if "graph" in raw:
        return _graph_problem(raw, source)
    if _is_layered(raw):
        return _layered_problem(raw, source)
    try:
        model = ProblemModel.model_validate(raw)
    except ValidationError as err:
        raise _translate(err, source) from None
    return _build(model, source)


#: the products (multiply-adds and window inputs) of one sample of a network with conv, pooling or rnn layers
MAX_LAYER_PRODUCTS = 5_000_000


def _check_size(layers: list[LayerSpec], steps: int, fail) -> None:
    """Every product of a worked solution is an argument of the engine's graph: bounded, so that a
    file cannot ask for more memory than a machine has (a 1×28×28 conv network: ~70,000)."""
    def arguments(layer: LayerSpec) -> int:  # what one output of the layer reads
        if layer.kind in ("maxpool2d", "avgpool2d"):
            return layer.kernel * layer.kernel
        if layer.kind == "rnn":
            return layer.in_shape[0] * (layer.inputs + layer.units + 1)  # every time step
        return layer.inputs + 1

    products = max(1, steps) * sum(math.prod(layer.out_shape) * arguments(layer) for layer in layers if layer.kind != "flatten")
    if products > MAX_LAYER_PRODUCTS:
        where = f"network.layers[{len(layers) - 1}]"
        raise fail(where, f"{products:,} products per sample is too large to work out (at most {MAX_LAYER_PRODUCTS:,}); "
                          "use a smaller image, fewer filters or fewer time steps")


def _is_layered(raw: dict) -> bool:
    """A network with an image input or a layer of another kind than dense (SPEC.md §8)."""
    net = raw.get("network")
    if not isinstance(net, dict):
        return False
    layers = net.get("layers")
    typed = isinstance(layers, list) and any(isinstance(l, dict) and l.get("type", "dense") != "dense" for l in layers)
    return "input" in net or typed


def _validated(model: type[_Strict], raw: Any, source: str, where: str) -> Any:
    """A part of the file validated on its own; errors name it from the file's root."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        inner = _translate(err, source)
        path = where + ("." + inner.field if inner.field and not inner.field.startswith("[") else inner.field or "")
        raise SpecError(source, path, inner.message) from None


def _window(size: int, kernel: int, stride: int, padding: int, where: str, fail, what: str) -> int:
    """The output length of a window sliding over ``size`` (+ padding on both sides): the kernel
    must fit, and the stride must land exactly on the last position."""
    padded = size + 2 * padding
    if kernel > padded:
        raise fail(where, f"{what} {kernel} is larger than the padded input ({size} + 2·{padding} = {padded})")
    if (padded - kernel) % stride:
        raise fail(where, f"stride {stride} does not fit: (input {size} + 2·padding {padding} − {what} {kernel}) = {padded - kernel} "
                          f"is not a multiple of {stride}")
    return (padded - kernel) // stride + 1


def _layered_problem(raw: dict, source: str) -> Problem:
    """A network with conv2d, pooling and flatten layers among dense ones (SPEC.md §8)."""
    def fail(path: str, message: str) -> SpecError:
        return SpecError(source, path, message)

    raw = {**raw, "network": {**raw["network"]}}
    model = _validated(LayeredProblemModel, raw, source, "")
    net = model.network
    if (net.input is None) == (net.inputs is None):
        raise fail("network.input", "give input: {channels, height, width} (an image) or inputs: n, not both")
    shape: tuple[int, ...] = (net.input.channels, net.input.height, net.input.width) if net.input else (net.inputs,)  # type: ignore[union-attr]
    if model.loss.regularization is not None:
        raise fail("loss.regularization", "a penalty on the weights is built for dense networks only, for now (not with conv2d, pooling or rnn layers)")
    steps = _sequence_length(net, model.data, fail)
    per_step = 0  # above an rnn with outputs: sequence, dense layers apply at every time step
    layers: list[LayerSpec] = []
    for idx, entry in enumerate(net.layers):
        where = f"network.layers[{idx}]"
        _check_size(layers, steps, fail)  # before reading a layer that a huge one below would make huge too
        if not isinstance(entry, dict):
            raise fail(where, f"a mapping expected (units, activation, weights, … or type: conv2d, …), got {type(entry).__name__}")
        kind = entry.get("type", "dense")
        if not isinstance(kind, str) or kind not in LAYER_MODELS:
            raise fail(f"{where}.type", f"one of {', '.join(LAYER_MODELS)} expected, got {_quoted(kind)}")
        lm = _validated(LAYER_MODELS[kind], {**entry, "type": kind}, source, where)
        if kind == "dense":
            if len(shape) != 1:
                raise fail(where, f"a dense layer needs a flat input; the layer below gives {'×'.join(map(str, shape))}: put a flatten layer before it")
            layer = _dense_layer(lm, idx, len(net.layers), shape[0], where, fail)
            layers.append(replace(layer, in_shape=shape, out_shape=(layer.units,), per_step=per_step))
            shape = (layer.units,)
            continue
        if kind == "rnn":  # the first layer (on the input sequence), or stacked on an rnn's states
            below = layers[-1] if layers else None
            stacked = below is not None and below.kind == "rnn" and below.returns == "sequence"
            if net.input is not None or not (idx == 0 or stacked):
                raise fail(where, "an rnn layer reads a sequence: it must be the first layer, with network.inputs (numbers per time step), "
                                  "or stand directly above an rnn with outputs: sequence")
            layers.append(_recurrent_layer(lm, shape[0], steps, where, fail, f"units of layer {idx}" if stacked else "network.inputs"))
            shape = (lm.units,)
            per_step = steps if lm.outputs == "sequence" else 0
            continue
        if per_step:
            raise fail(where, f"above an rnn with outputs: sequence only dense layers are built (they apply at every time step), got {kind}")
        if len(shape) != 3:
            raise fail(where, f"{kind} needs an image or feature map (channels × height × width), got a flat input of {shape[0]}")
        channels, height, width = shape
        if kind == "flatten":
            out = (channels * height * width,)
            layers.append(LayerSpec(units=out[0], activation=ActivationSpec("identity"), weights=(), bias=None, kind=kind,
                                    in_shape=shape, out_shape=out))
            shape = out
            continue
        if kind in ("maxpool2d", "avgpool2d"):
            stride = lm.stride or lm.size
            rows = _window(height, lm.size, stride, 0, f"{where}.size", fail, "size")
            cols = _window(width, lm.size, stride, 0, f"{where}.size", fail, "size")
            out = (channels, rows, cols)
            layers.append(LayerSpec(units=math.prod(out), activation=ActivationSpec("identity"), weights=(), bias=None, kind=kind,
                                    in_shape=shape, out_shape=out, kernel=lm.size, stride=stride))
            shape = out
            continue
        activation = _hidden_activation(lm.activation, where, fail)
        k = lm.kernel_size
        rows = _window(height, k, lm.stride, lm.padding, f"{where}.kernel_size", fail, "kernel_size")
        cols = _window(width, k, lm.stride, lm.padding, f"{where}.kernel_size", fail, "kernel_size")
        kernels = lm.weights
        if isinstance(kernels, WeightInitModel):  # torch's fans of a kernel: channels·k², filters·k²
            kernels = _drawn(kernels, (lm.filters, channels, k, k), channels * k * k, lm.filters * k * k, f"{where}.weights", fail)
        if len(kernels) != lm.filters:
            raise fail(f"{where}.weights", f"{lm.filters} kernels expected (filters), got {len(kernels)}")
        flat: list[tuple[float, ...]] = []
        for f, kernel in enumerate(kernels):
            if len(kernel) != channels:
                raise fail(f"{where}.weights[{f}]", f"{channels} channels expected (the input's), got {len(kernel)}")
            row: list[float] = []
            for c, plane in enumerate(kernel):
                if len(plane) != k or any(len(r) != k for r in plane):
                    raise fail(f"{where}.weights[{f}][{c}]", f"a {k}×{k} kernel expected (kernel_size), got {len(plane)} rows")
                row.extend(float(v) for r in plane for v in r)
            flat.append(tuple(row))
        bias = None
        if isinstance(lm.bias, BiasInitModel):
            bias = (0.0,) * lm.filters
        elif lm.bias is not None:
            if len(lm.bias) != lm.filters:
                raise fail(f"{where}.bias", f"{lm.filters} numbers expected (one per filter), got {len(lm.bias)}")
            bias = tuple(map(float, lm.bias))
        out = (lm.filters, rows, cols)
        layers.append(LayerSpec(units=lm.filters, activation=activation, weights=tuple(flat), bias=bias,
                                trainable_bias=lm.trainable_bias, kind=kind, in_shape=shape, out_shape=out,
                                kernel=k, stride=lm.stride, padding=lm.padding, learning_rate=_rate(lm.learning_rate)))
        shape = out
    _check_size(layers, steps, fail)
    if layers[-1].kind != "dense":
        raise fail(f"network.layers[{len(layers) - 1}]", "the last layer must be dense (the loss compares its outputs with the targets)")
    _check_log_loss(model.loss.kind, layers, fail)
    _check_parameters(layers, fail)

    n_out = layers[-1].units
    first = (net.input.channels, net.input.height, net.input.width) if net.input else (net.inputs,)  # type: ignore[union-attr]
    if steps:
        first = (steps, net.inputs)  # type: ignore[assignment]
    samples = []
    for s_, sm in enumerate(model.data):
        where = f"data[{s_}]"
        x = _nested(sm.x, first, f"{where}.x", fail)
        if per_step:
            if (sm.y is None) == (sm.label is None):
                raise fail(where, "give exactly one of y (a target vector) or label (a class index)")
            samples.append(Sample(x, _step_targets(sm, per_step, n_out, where, fail), None))
            continue
        samples.append(Sample(x, _targets(sm, n_out, where, fail), sm.label))
    loss = model.loss
    t = model.training
    if t.epochs is not None or t.batch_size is not None or t.update != "all" or t.order != "simultaneous" or t.track:
        raise fail("training", "a network with conv2d or pooling layers takes learning_rate and steps (epochs, batches, update, order, track: dense networks only, for now)")
    return Problem(
        inputs=math.prod(first),
        layers=tuple(layers),
        loss=_loss(loss),
        data=tuple(samples),
        training=TrainingSpec(learning_rate=float(t.learning_rate), steps=_layered_steps(t, fail),
                              optimizer=_optimizer(t, fail)),
        title=model.title,
        language=model.language,
        notation=_layered_notation(model.notation, fail),
        relu_derivative_at_zero=net.relu_derivative_at_zero,
        source=source,
        randomize=model.randomize,
        input_shape=first if (net.input or steps) else None,
        target_steps=per_step,
    )


def _targets(sm: "SampleModel | LayeredSampleModel", outputs: int, where: str, fail) -> tuple[float, ...]:
    """One sample's targets: ``y`` (one number per output unit) or ``label`` (a class index, one-hot)."""
    if (sm.y is None) == (sm.label is None):
        raise fail(where, "give exactly one of y (a target vector) or label (a class index)")
    if sm.label is not None:
        if sm.label >= outputs:
            raise fail(f"{where}.label", f"a class index from 0 to {outputs - 1} expected (output units), got {sm.label}")
        return tuple(1.0 if k == sm.label else 0.0 for k in range(outputs))
    assert sm.y is not None
    if len(sm.y) != outputs:
        raise fail(f"{where}.y", f"{outputs} numbers expected (units of the output layer), got {len(sm.y)}")
    for k, v in enumerate(sm.y):  # a layered file's y is read loosely (a sequence's is nested)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise fail(f"{where}.y[{k}]", f"a number expected, got {_quoted(v)}")
    return tuple(map(float, sm.y))


def _step_targets(sm: "LayeredSampleModel", steps: int, outputs: int, where: str, fail) -> tuple[float, ...]:
    """One target per time step (outputs: sequence): ``y`` a list of T targets (T numbers for one
    output), or ``label`` a list of T class indices; kept flat, step by step."""
    if sm.label is not None:
        raise fail(f"{where}.label", f"with outputs: sequence give y: one target per time step ({steps}), or label as a list")
    rows = list(sm.y or [])
    if len(rows) != steps:
        raise fail(f"{where}.y", f"{steps} targets expected (one per time step), got {len(rows)}")
    flat: list[float] = []
    for t, row in enumerate(rows):
        row = row if isinstance(row, list) else [row]
        if len(row) != outputs or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row):
            raise fail(f"{where}.y[{t}]", f"{outputs} numbers expected (units of the output layer), got {_quoted(row)}")
        flat.extend(float(v) for v in row)
    return tuple(flat)


def _sequence_length(net: "LayeredNetworkModel", data: list, fail) -> int:
    """The time steps of every sample's sequence (0: no rnn layer); all samples alike."""
    if not any(entry.get("type") == "rnn" for entry in net.layers):
        return 0
    lengths = {len(sm.x) for sm in data}
    if len(lengths) != 1:
        raise fail("data", f"every sample's sequence must have the same number of time steps, got {sorted(lengths)}")
    return lengths.pop()


def _hidden_activation(model, where: str, fail) -> ActivationSpec:
    """The activation of a conv2d or rnn layer: any but softmax (a dense output layer's)."""
    try:
        activation = _activation(model)
    except ValueError as err:
        raise fail(f"{where}.activation", str(err)) from None
    if activation.name == "softmax":
        raise fail(f"{where}.activation", "softmax is only allowed in a dense output layer")
    return activation


def _recurrent_layer(lm: "RecurrentLayerModel", inputs: int, steps: int, where: str, fail, reads: str = "network.inputs") -> LayerSpec:
    """An rnn layer: z[t] = W x[t] + U a[t−1] + b, a[t] = f(z[t]); its last state passes on (or
    every state). ``x[t]`` is the input's step t, or (stacked) the states of the rnn below at step
    t; ``reads`` names where its width comes from."""
    activation = _hidden_activation(lm.activation, where, fail)
    blocks = {}
    for name, rows, width in (("weights", lm.weights, inputs), ("recurrent", lm.recurrent, lm.units)):
        blocks[name] = _drawn(rows, (lm.units, width), width, lm.units, f"{where}.{name}", fail) if isinstance(rows, WeightInitModel) else rows
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
        returns=lm.outputs, learning_rate=_rate(lm.learning_rate),
    )


def _nested(value: Any, shape: tuple[int, ...], where: str, fail) -> tuple[float, ...]:
    """``x`` of one sample: a flat list of numbers, or [channel][row][column] for an image;
    kept flat, channel-major and row-major."""
    def flatten(v: Any, dims: tuple[int, ...], path: str) -> list[float]:
        if not dims:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise fail(path, f"a number expected, got {_quoted(v)}")
            return [float(v)]
        if not isinstance(v, list) or len(v) != dims[0]:
            got = f"{len(v)} entries" if isinstance(v, list) else repr(v)
            if len(shape) == 3:
                raise fail(path, f"a {'×'.join(map(str, dims))} nested list expected ([channel][row][column]), got {got}")
            if len(shape) == 2 and len(dims) == 2:
                raise fail(path, f"{dims[0]} time steps of {dims[1]} numbers expected, got {got}")
            raise fail(path, f"{dims[0]} numbers expected (network.inputs), got {got}")
        out: list[float] = []
        for k, part in enumerate(v):
            out.extend(flatten(part, dims[1:], f"{path}[{k}]"))
        return out

    return tuple(flatten(value, shape, where))


#: pydantic's names of a union's branches (``int``, ``list[float]``, ``literal['sgd']``,
#: ``function-after[…]``, ``ActivationModel``): parts of an error's location, not keys of the file
_BRANCH_TAG = re.compile(r"^(?:int|float|str|bool|none|list|dict|union|tagged-union|function-[a-z]+|literal|[A-Z][A-Za-z]*Model)(?:\[.*\])?$", re.S)


def _field_path(loc: tuple[Any, ...], key_last: bool = False) -> str:
    """The dotted path of an error's location (``network.layers[0].weights``), without pydantic's
    union-branch tags. With ``key_last`` (an unknown key) the last part is the file's own key,
    kept whatever it is called (``int``, ``integer``, ``literally``)."""
    out = ""
    for n, part in enumerate(loc):
        if n and str(loc[n - 1]).startswith("tagged-union["):
            continue  # the branch's discriminator value (``adam`` of optimizer: {name: adam}), not a key
        if isinstance(part, int):
            out += f"[{part}]"
        elif key_last and n == len(loc) - 1:
            out += ("." if out else "") + str(part)
        elif not _BRANCH_TAG.match(str(part)):
            out += ("." if out else "") + str(part)
    return out


_EXPECT = {
    "float_type": "a number expected",
    "finite_number": "a finite number expected",
    "int_type": "a whole number expected",
    "bool_type": "true or false expected",
    "string_type": "a string expected",
    "list_type": "a list expected",
    "missing": "required, missing",
    "extra_forbidden": "unknown key",
    "too_short": "must not be empty",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "model_type": "a mapping expected",
    "dict_type": "a mapping expected",
}


def _translate(err: ValidationError, source: str) -> SpecError:
    errors = err.errors()
    # Prefer the error of the deepest location: for unions it names the real culprit.
    first = max(errors, key=lambda e: len(_field_path(e["loc"])))
    if any(e["type"] == "extra_forbidden" for e in errors):
        first = next(e for e in errors if e["type"] == "extra_forbidden")
    kind = first["type"]
    got = first.get("input")
    if kind == "extra_forbidden":
        parent = _field_path(first["loc"][:-1])
        key = _quoted(first["loc"][-1], 60)
        return SpecError(source, _field_path(first["loc"], key_last=True)[:120], f"unknown key {key}" + (f" in {parent}" if parent else ""))
    path = _field_path(first["loc"])
    if kind == "literal_error":
        expected = first.get("ctx", {}).get("expected", "")
        message = f"one of {expected} expected, got {_quoted(got)}"
    elif kind in _EXPECT:
        message = _EXPECT[kind].format(**first.get("ctx", {}))
        if kind != "missing" and got is not None and not isinstance(got, (dict, list)):
            message += f", got {_quoted(got)}"
    else:
        message = first["msg"]
    return SpecError(source, path, message)


def _quoted(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters: a message quotes what was written, not 100 kB of it."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _activation(value: Any) -> ActivationSpec:
    if isinstance(value, str):
        name, alpha = value, None
    else:
        name, alpha = value.name, value.alpha
    name = ACTIVATION_ALIASES.get(name, name)
    defaults = ACTIVATION_PARAMETERS.get(name, {})
    if alpha is not None and "alpha" not in defaults:
        raise ValueError(f"activation {name} takes no parameter alpha")
    params = tuple((k, float(alpha if (k == "alpha" and alpha is not None) else v)) for k, v in defaults.items())
    return ActivationSpec(name, params)


def _dense_layer(lm: "LayerModel", idx: int, count: int, fan_in: int, where: str, fail) -> LayerSpec:
    """One dense layer of the file (the ``idx``-th of ``count``), checked against its fan-in."""
    try:
        activation = _activation(lm.activation)
    except ValueError as err:
        raise fail(f"{where}.activation", str(err)) from None
    if activation.name == "softmax" and idx != count - 1:
        raise fail(f"{where}.activation", "softmax is only allowed in the output layer (the last layer)")
    if lm.units * fan_in > MAX_PARAMETERS:  # before a drawn initialisation allocates it
        raise fail(where, f"{lm.units:,} units × {fan_in:,} inputs = {lm.units * fan_in:,} weights is too large a network "
                          f"(at most {MAX_PARAMETERS:,} parameters)")
    if isinstance(lm.weights, WeightInitModel):  # drawn one row per unit, whatever the layout
        drawn = _drawn(lm.weights, (lm.units, fan_in), fan_in, lm.units, f"{where}.weights", fail)
        rows = [list(map(float, r)) for r in (zip(*drawn) if lm.weights_layout == "input_major" else drawn)]
    else:
        rows = [list(map(float, r)) for r in lm.weights]
    if lm.weights_layout == "input_major":
        if len(rows) != fan_in:
            raise fail(f"{where}.weights", f"{fan_in} rows expected (inputs, weights_layout input_major), got {len(rows)}")
        for r, row in enumerate(rows):
            if len(row) != lm.units:
                raise fail(f"{where}.weights[{r}]", f"{lm.units} numbers expected (units), got {len(row)}")
        rows = [list(col) for col in zip(*rows)]
    else:
        if len(rows) != lm.units:
            raise fail(f"{where}.weights", f"{lm.units} rows expected (units), got {len(rows)}")
        for r, row in enumerate(rows):
            if len(row) != fan_in:
                what = "inputs" if idx == 0 else f"units of layer {idx}"
                raise fail(f"{where}.weights[{r}]", f"{fan_in} numbers expected ({what}), got {len(row)}")
    bias: tuple[float, ...] | None
    if isinstance(lm.bias, BiasInitModel):  # zeros
        bias = (0.0,) if lm.shared_bias else (0.0,) * lm.units
    elif lm.bias is None:
        bias = None
        if lm.shared_bias:
            raise fail(f"{where}.shared_bias", "needs a bias (the layer has none)")
    elif isinstance(lm.bias, list):
        if lm.shared_bias:
            if len(lm.bias) != 1:
                raise fail(f"{where}.bias", "one number expected (shared_bias is true)")
            bias = (float(lm.bias[0]),)
        else:
            if len(lm.bias) != lm.units:
                raise fail(f"{where}.bias", f"{lm.units} numbers expected (one per unit), got {len(lm.bias)}")
            bias = tuple(map(float, lm.bias))
    else:
        bias = (float(lm.bias),) if lm.shared_bias else (float(lm.bias),) * lm.units
    return LayerSpec(
        units=lm.units,
        activation=activation,
        weights=tuple(tuple(r) for r in rows),
        bias=bias,
        shared_bias=lm.shared_bias,
        trainable_bias=lm.trainable_bias,
        weights_layout=lm.weights_layout,
        learning_rate=_rate(lm.learning_rate),
    )


def _drawn(model: WeightInitModel, shape: tuple[int, ...], fan_in: int, fan_out: int, where: str, fail) -> list[Any]:
    """A weights block drawn from its seed (tracer.initializers), its options checked."""
    if model.init != "uniform" and (model.low is not None or model.high is not None):
        raise fail(f"{where}.{'low' if model.low is not None else 'high'}", f"only for init: uniform, not {model.init}")
    low = 0.0 if model.low is None else float(model.low)
    high = 1.0 if model.high is None else float(model.high)
    if not low < high:
        raise fail(f"{where}.high", f"must be greater than low ({low:g}), got {high:g}")
    return initializers.draw(model.init, model.seed, shape, fan_in, fan_out, low, high)


def _layered_steps(t: "TrainingModel", fail) -> int:
    steps = 1 if t.steps is None else t.steps
    if steps > MAX_LAYERED_STEPS:
        raise fail("training.steps", f"{steps:,} steps is too many for a network with conv2d, pooling or rnn layers (at most {MAX_LAYERED_STEPS:,}: each is a full pass of the engine)")
    return steps


def _layered_notation(notation: str, fail) -> str:
    """conv, pooling and rnn layers are written in the bracket or the δ notation (the other
    themes name the units of one dense network: Mazur's w5, the neuron theme's N_1)."""
    if notation not in ("bracket", "delta"):
        raise fail("notation", f"bracket or delta for a network with conv2d, pooling or rnn layers, got {_quoted(notation)}")
    return notation


def _rate(value: "float | None") -> float | None:
    return None if value is None else float(value)



#: the output activations whose every value lies in (0, 1), where a log loss can be taken
_PROBABILITY_OUTPUTS = ("sigmoid", "softmax")


def _check_parameters(layers, fail) -> None:
    """At most :data:`MAX_PARAMETERS` weights and biases in the whole network."""
    total = sum(len(layer.weights) * (len(layer.weights[0]) if layer.weights else 0) + (len(layer.bias) if layer.bias else 0) for layer in layers)
    if total > MAX_PARAMETERS:
        raise fail("network", f"{total:,} weights and biases is too large a network (at most {MAX_PARAMETERS:,} parameters)")


def _check_log_loss(kind: str, layers, fail) -> None:
    """Cross-entropy takes the logarithm of each output (binary cross-entropy of 1 − output as
    well): an output layer that can give 0, 1 or a number outside (0, 1) makes the loss
    undefined, so it is refused here rather than reported as a non-finite loss later."""
    last = layers[-1].activation.name
    if kind in ("cross_entropy", "binary_cross_entropy") and last not in _PROBABILITY_OUTPUTS:
        raise fail(f"network.layers[{len(layers) - 1}].activation",
                   f"{kind} takes the logarithm of each output, so the last layer must give numbers in (0, 1): sigmoid or softmax expected, got {last}")

def _loss(model: LossModel) -> LossSpec:
    r = model.regularization
    return LossSpec(model.kind, float(model.factor), model.outputs, model.samples, model.log,
                    l2=float(r.l2 or 0.0) if r else 0.0, l1=float(r.l1 or 0.0) if r else 0.0)


def _optimizer(t: TrainingModel, fail) -> OptimizerSpec:
    """``training.optimizer``: a name (torch's defaults) or a mapping with its hyperparameters."""
    o = t.optimizer
    if isinstance(o, str):
        spec = OptimizerSpec(o)
        if o in ("adagrad", "rmsprop", "adam"):
            spec = replace(spec, eps=spec.epsilon)
    else:
        spec = OptimizerSpec(o.name, **{k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                                         for k, v in o.model_dump().items() if k != "name"})
    if not spec.plain and t.order == "sequential":
        raise fail("training.order", f"sequential order is plain gradient descent (Mazur's); with optimizer {spec.name} the update is simultaneous")
    return spec


def _build(model: ProblemModel, source: str) -> Problem:
    def fail(path: str, message: str) -> SpecError:
        return SpecError(source, path, message)

    net = model.network
    layers: list[LayerSpec] = []
    fan_in = net.inputs
    for idx, lm in enumerate(net.layers):
        where = f"network.layers[{idx}]"
        layers.append(_dense_layer(lm, idx, len(net.layers), fan_in, where, fail))
        fan_in = lm.units

    _check_parameters(layers, fail)
    n_out = layers[-1].units
    loss = model.loss
    _check_log_loss(loss.kind, layers, fail)
    samples = []
    generated = _generated(model, source, n_out) if model.dataset is not None else None
    if generated is None and model.data is None:
        raise fail("data", "required, missing (or give dataset: to generate the samples)")
    for s, sm in enumerate(model.data or []):
        where = f"data[{s}]"
        if len(sm.x) != net.inputs:
            raise fail(f"{where}.x", f"{net.inputs} numbers expected (network.inputs), got {len(sm.x)}")
        y = _targets(sm, n_out, where, fail)
        if loss.kind in ("cross_entropy", "binary_cross_entropy"):
            for k, t in enumerate(y):
                if not 0.0 <= t <= 1.0:
                    raise fail(f"{where}.y[{k}]", f"a target between 0 and 1 expected for {loss.kind}, got {t:g}")
        samples.append(Sample(tuple(map(float, sm.x)), y, sm.label))

    problem = Problem(
        inputs=net.inputs,
        layers=tuple(layers),
        loss=_loss(loss),
        data=tuple(samples),
        training=TrainingSpec(
            learning_rate=float(model.training.learning_rate),
            steps=_steps(model, source, len(generated[0]) if generated else len(samples)),
            update=None,
            order=model.training.order,
            epochs=model.training.epochs,
            batch_size=model.training.batch_size,
            shuffle=model.training.shuffle,
            seed=model.training.seed,
            record_every=model.training.record_every,
            optimizer=_optimizer(model.training, fail),
        ),
        title=model.title,
        language=model.language,
        notation=model.notation,
        relu_derivative_at_zero=net.relu_derivative_at_zero,
        source=source,
        randomize=model.randomize,
    )
    if generated is not None:
        problem = replace(problem, data=generated[0], test_data=generated[1], dataset=generated[2])
    if model.training.order == "sequential":
        for idx, layer in enumerate(layers):
            if layer.learning_rate is not None:
                raise fail(f"network.layers[{idx}].learning_rate", "a layer's own learning rate needs order: simultaneous (sequential order is Mazur's plain gradient descent at one rate)")
    _check_run(problem, source)
    update = None if model.training.update == "all" else _parameters(problem, model.training.update, "training.update", fail)
    track = _parameters(problem, model.training.track, "training.track", fail)
    return replace(problem, training=replace(problem.training, update=update, track=track))


#: an equation's left-hand side and a leaf's name: an identifier (Greek letters allowed)
#: a node's name: Latin or Greek letters (the 24 of the alphabet, capital and small, and ϑ ϕ ϖ ϵ ς:
#: each has a LaTeX symbol, tracer.notation.graph), digits, _ — no accented or other letter
#: (pdflatex could not set it in math)
_NAME = re.compile(r"^[A-Za-z\u0391-\u03a1\u03a3-\u03a9\u03b1-\u03c9\u03d1\u03d5\u03d6\u03f5][A-Za-z\u0391-\u03a1\u03a3-\u03a9\u03b1-\u03c9\u03d1\u03d5\u03d6\u03f50-9_]*$")


def _graph_problem(raw: dict, source: str) -> GraphProblem:
    """A ``graph:`` file: its shape here (each equation ``NAME = EXPR``, names, values, the
    output a node, trained leaves with values); what the expressions say is read by
    :mod:`tracer.builders.equations`, which reports in the same one-line form."""
    if "network" in raw:
        raise SpecError(source, "graph", "give network (a layered network) or graph (equations), not both")
    try:
        model = GraphProblemModel.model_validate(raw)
    except ValidationError as err:
        raise _translate(err, source) from None
    graph = model.graph
    equations: list[EquationSpec] = []
    defined: dict[str, int] = {}
    for k, text in enumerate(graph.equations):
        where = f"graph.equations[{k}]"
        name, eq, expression = text.partition("=")
        name = name.strip()
        if not eq or "=" in expression:
            raise SpecError(source, where, f"one equation NAME = EXPR expected, got {_quoted(text)}")
        if not _NAME.match(name) or name.startswith("_"):
            raise SpecError(source, where, f"the left-hand side must be a name (Latin or Greek letters, digits, _), got {_quoted(name)}")
        if not expression.strip():
            raise SpecError(source, where, f"an expression expected after '{name} ='")
        if name in defined:
            raise SpecError(source, where, f"{name} is defined twice (also by graph.equations[{defined[name]}])")
        defined[name] = k
        equations.append(EquationSpec(name, expression.strip(), text.strip()))
    values: list[tuple[str, float]] = []
    for name, value in graph.values.items():
        if not _NAME.match(name) or name.startswith("_"):
            raise SpecError(source, f"graph.values.{name}", "a name expected (Latin or Greek letters, digits, _)")
        if name in defined:
            raise SpecError(source, f"graph.values.{name}", f"{name} is computed by graph.equations[{defined[name]}]; only leaves have values")
        if not math.isfinite(value):
            raise SpecError(source, f"graph.values.{name}", f"a finite number expected, got {_quoted(value)}")
        values.append((name, float(value)))
    if graph.output not in defined:
        known = "a leaf" if graph.output in graph.values else "not defined"
        raise SpecError(source, "graph.output", f"the output must be a node computed by an equation; {_quoted(graph.output)} is {known} (nodes: {', '.join(defined)})")
    training = GraphTrainingSpec()
    if model.training is not None:
        t = model.training
        for k, name in enumerate(t.parameters):
            if name not in graph.values:
                raise SpecError(source, f"training.parameters[{k}]", f"a leaf with a value expected (leaves: {', '.join(graph.values)}), got {_quoted(name)}")
        if len(set(t.parameters)) != len(t.parameters):
            raise SpecError(source, "training.parameters", "a leaf is named twice")
        if t.steps > MAX_GRAPH_STEPS:
            raise SpecError(source, "training.steps", f"{t.steps:,} steps is too many for a graph problem (at most {MAX_GRAPH_STEPS:,}: each one evaluates every equation)")
        training = GraphTrainingSpec(tuple(t.parameters), float(t.learning_rate), t.steps)
    return GraphProblem(
        equations=tuple(equations),
        values=tuple(values),
        output=graph.output,
        training=training,
        title=model.title,
        language=model.language,
        relu_derivative_at_zero=graph.relu_derivative_at_zero,
        source=source,
        randomize=model.randomize,
    )


def _layered_mapping(problem: Problem) -> dict[str, Any]:
    """A network with conv2d and pooling layers as its file writes it (kernels [f][c][m][n], x [c][i][j])."""
    layers: list[dict[str, Any]] = []
    for layer in problem.layers:
        activation: Any = layer.activation.name
        if layer.activation.params:
            activation = {"name": layer.activation.name, **dict(layer.activation.params)}
        if layer.kind == "conv2d":
            c, k = layer.in_shape[0], layer.kernel
            kernels = [[[list(row[(ch * k + m) * k:(ch * k + m + 1) * k]) for m in range(k)] for ch in range(c)] for row in layer.weights]
            entry: dict[str, Any] = {"type": "conv2d", "filters": layer.units, "kernel_size": k, "stride": layer.stride,
                                     "padding": layer.padding, "activation": activation, "weights": kernels,
                                     "trainable_bias": layer.trainable_bias}
            if layer.bias is not None:
                entry["bias"] = list(layer.bias)
        elif layer.kind in ("maxpool2d", "avgpool2d"):
            entry = {"type": layer.kind, "size": layer.kernel, "stride": layer.stride}
        elif layer.kind == "flatten":
            entry = {"type": "flatten"}
        elif layer.kind == "rnn":
            entry = {"type": "rnn", "units": layer.units, "activation": activation, "weights": [list(r) for r in layer.weights],
                     "recurrent": [list(r) for r in layer.recurrent], "initial_state": list(layer.initial_state),
                     "trainable_bias": layer.trainable_bias, "outputs": layer.returns}
            if layer.bias is not None:
                entry["bias"] = list(layer.bias)
        else:
            entry = {"type": "dense", "units": layer.units, "activation": activation, "weights": [list(r) for r in layer.weights],
                     "trainable_bias": layer.trainable_bias, "shared_bias": layer.shared_bias}
            if layer.bias is not None:
                entry["bias"] = list(layer.bias)
        if layer.learning_rate is not None:
            entry["learning_rate"] = layer.learning_rate
        layers.append(entry)
    network: dict[str, Any] = {"layers": layers, "relu_derivative_at_zero": problem.relu_derivative_at_zero}
    sequence = problem.layers[0].kind == "rnn"
    if sequence:
        network["inputs"] = problem.input_shape[1]  # type: ignore[index]
    elif problem.input_shape:
        c, h, w = problem.input_shape
        network["input"] = {"channels": c, "height": h, "width": w}
    else:
        network["inputs"] = problem.inputs

    def x_of(sample: Sample) -> list:
        if not problem.input_shape:
            return list(sample.x)
        if sequence:
            steps, n = problem.input_shape
            return [list(sample.x[t * n:(t + 1) * n]) for t in range(steps)]
        _, h, w = problem.input_shape
        flat = list(sample.x)
        return [[flat[(c * h + i) * w:(c * h + i + 1) * w] for i in range(h)] for c in range(problem.input_shape[0])]

    def y_of(sample: Sample) -> list:
        if not problem.target_steps:
            return list(sample.y)
        k = len(sample.y) // problem.target_steps
        return [list(sample.y[t * k:(t + 1) * k]) for t in range(problem.target_steps)]

    loss = problem.loss
    out: dict[str, Any] = {
        "title": problem.title,
        **({"language": problem.language} if problem.language != "en" else {}),
        "network": network,
        "loss": _loss_mapping(loss),
        "data": [{"x": x_of(s), **({"label": s.label} if s.label is not None else {"y": y_of(s)})} for s in problem.data],
        "training": {"learning_rate": problem.training.learning_rate, "steps": problem.training.steps,
                     "optimizer": problem.training.optimizer.to_mapping()},
    }
    if problem.randomize is not None:
        out["randomize"] = problem.randomize
    return out


def _graph_mapping(problem: GraphProblem) -> dict[str, Any]:
    graph: dict[str, Any] = {
        "equations": [e.text for e in problem.equations],
        "values": dict(problem.values),
        "output": problem.output,
    }
    if problem.relu_derivative_at_zero:
        graph["relu_derivative_at_zero"] = problem.relu_derivative_at_zero
    out: dict[str, Any] = {"title": problem.title, **({"language": problem.language} if problem.language != "en" else {}), "graph": graph}
    t = problem.training
    if t.parameters:
        out["training"] = {"parameters": list(t.parameters), "learning_rate": t.learning_rate, "steps": t.steps}
    if problem.randomize is not None:
        out["randomize"] = problem.randomize
    return out


def _parameters(problem: Problem, names: list[str], field: str, fail) -> tuple[Quantity, ...]:
    """Parameter names of the problem file, read once into keys (``W2[1,1]``, ``b2``)."""
    if not names:
        return ()
    known = set(problem.parameter_keys)
    out = []
    for k, name in enumerate(names):
        try:
            key = keys.parse(name)
        except keys.NameError_:
            key = None
        if key not in known:
            example = ", ".join(str(q) for q in sorted(known)[:4])
            raise fail(f"{field}[{k}]", f"a parameter name expected (e.g. {example}), got {_quoted(name)}")
        out.append(key)
    return tuple(out)


#: the largest network: 1,000,000 weights and biases (a 999-999-1 network, one sample, one step:
#: 28 s and 1.7 GB on a loaded two-core machine; a 300-300-1 network, 90,601 parameters: 5 s)
MAX_PARAMETERS = 1_000_000
#: the largest run a file may ask for: updates, and multiply-adds (updates × samples per update ×
#: parameters, about what a laptop does in a few minutes; the moons run of source 004 is 3.8e9)
MAX_UPDATES = 10_000_000
MAX_RUN_WORK = 50_000_000_000
#: recorded losses of a run (its loss curve, its table): epochs (or steps) / record_every
MAX_RECORDS = 10_000
#: training steps of a network with conv2d, pooling or rnn layers (each one a full pass of the engine)
MAX_LAYERED_STEPS = 1_000
#: gradient-descent steps on a graph problem's leaves
MAX_GRAPH_STEPS = 1_000


def _check_run(problem: "Problem", source: str) -> None:
    t = problem.training
    where = "training.epochs" if t.epochs is not None else "training.steps"
    if t.steps > MAX_UPDATES:
        raise SpecError(source, where, f"{t.steps:,} updates is too long a run (at most {MAX_UPDATES:,})")
    periods = t.epochs if t.epochs is not None else t.steps
    if t.record_every is not None and periods // t.record_every > MAX_RECORDS:
        unit = "epochs" if t.epochs is not None else "steps"
        raise SpecError(source, "training.record_every", f"{periods // t.record_every:,} recorded losses ({periods:,} {unit}, one every {t.record_every:,}) "
                        f"is too many (at most {MAX_RECORDS:,}): record_every ≥ {-(-periods // MAX_RECORDS):,}")
    work = t.steps * min(t.batch_size or len(problem.data), len(problem.data)) * max(1, len(problem.parameter_keys))
    if work > MAX_RUN_WORK:
        raise SpecError(source, where, f"{t.steps:,} updates of {len(problem.parameter_keys):,} parameters on "
                        f"{min(t.batch_size or len(problem.data), len(problem.data)):,} samples each is {work:.1e} multiply-adds, "
                        f"too long a run (at most {MAX_RUN_WORK:.0e}); train fewer steps or a smaller network")


def _steps(model: ProblemModel, source: str, samples: int) -> int:
    """Updates of the run: ``steps`` (default 1), or ``epochs`` × batches per epoch."""
    training = model.training
    batch = training.batch_size
    if batch is not None and batch > samples:
        raise SpecError(source, "training.batch_size", f"at most {samples} expected (the number of training samples), got {batch}")
    if training.epochs is None:
        return 1 if training.steps is None else training.steps
    if training.steps is not None:
        raise SpecError(source, "training.epochs", "give steps or epochs, not both")
    per_epoch = -(-samples // (batch or samples))
    return training.epochs * per_epoch


def _generated(model: ProblemModel, source: str, n_out: int) -> tuple[tuple[Sample, ...], tuple[Sample, ...], DatasetSpec]:
    """The samples of ``dataset:`` (tracer.datasets, NumPy, seeded), split into training and test."""
    if model.data is not None:
        raise SpecError(source, "dataset", "give data or dataset, not both")
    ds = model.dataset
    assert ds is not None
    if model.network.inputs != 2:
        raise SpecError(source, "dataset.name", f"{ds.name} has 2 features: network.inputs must be 2, got {model.network.inputs}")
    spec = DatasetSpec(ds.name, ds.n, float(ds.noise), ds.seed, float(ds.test_fraction), float(ds.factor))
    train, test = generate(spec)
    if min(len(train), len(test) if spec.test_fraction > 0 else 1) < 1:
        raise SpecError(source, "dataset.test_fraction", f"leaves no training or no test sample of {ds.n}")

    def sample(x, label) -> Sample:
        y = (float(label),) if n_out == 1 else tuple(1.0 if k == label else 0.0 for k in range(n_out))
        return Sample(tuple(float(v) for v in x), y, None if n_out == 1 else int(label))

    return tuple(sample(x, c) for x, c in train), tuple(sample(x, c) for x, c in test), spec


# ---------------------------------------------------------------------------
# Back to the file format
# ---------------------------------------------------------------------------


def _loss_mapping(loss: LossSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": loss.kind, "factor": loss.factor, "outputs": loss.outputs, "samples": loss.samples, "log": loss.log}
    if loss.regularized:
        out["regularization"] = {k: v for k, v in (("l2", loss.l2), ("l1", loss.l1)) if v}
    return out


def to_mapping(problem: "Problem | GraphProblem") -> dict[str, Any]:
    """The problem as the mapping of a problem file: ``from_mapping(to_mapping(p)) == p``.

    Weights are written in the layout the file used; a generated data set
    is written as its ``dataset:`` block (the generator is seeded), a quiz's
    ``randomize:`` block is kept as it was read.
    """
    if isinstance(problem, GraphProblem):
        return _graph_mapping(problem)
    if problem.layered:
        return _layered_mapping(problem)
    layers = []
    for layer in problem.layers:
        activation: Any = layer.activation.name
        if layer.activation.params:
            activation = {"name": layer.activation.name, **dict(layer.activation.params)}
        entry: dict[str, Any] = {"units": layer.units, "activation": activation, "weights": [list(row) for row in layer.weights]}
        if layer.weights_layout == "input_major":  # as the file wrote it: one row per input
            entry["weights"] = [list(column) for column in zip(*layer.weights)]
            entry["weights_layout"] = "input_major"
        if layer.bias is not None:
            entry["bias"] = list(layer.bias)
            entry["shared_bias"] = layer.shared_bias
        entry["trainable_bias"] = layer.trainable_bias
        if layer.learning_rate is not None:
            entry["learning_rate"] = layer.learning_rate
        layers.append(entry)
    loss = problem.loss
    t = problem.training
    training: dict[str, Any] = {"learning_rate": t.learning_rate, "order": t.order, "optimizer": t.optimizer.to_mapping()}
    if t.epochs is None:
        training["steps"] = t.steps
    else:
        training["epochs"] = t.epochs
    if t.update is not None:
        training["update"] = [str(key) for key in t.update]
    for key in ("batch_size", "record_every"):
        if getattr(t, key) is not None:
            training[key] = getattr(t, key)
    if t.shuffle:
        training["shuffle"] = True
    if t.seed:
        training["seed"] = t.seed
    if t.track:
        training["track"] = [str(key) for key in t.track]
    out: dict[str, Any] = {
        "title": problem.title,
        "notation": problem.notation,
        **({"language": problem.language} if problem.language != "en" else {}),
        "network": {"inputs": problem.inputs, "layers": layers, "relu_derivative_at_zero": problem.relu_derivative_at_zero},
        "loss": _loss_mapping(loss),
        "training": training,
    }
    if problem.dataset is not None:
        d = problem.dataset
        out["dataset"] = {"name": d.name, "n": d.n, "noise": d.noise, "seed": d.seed, "test_fraction": d.test_fraction, "factor": d.factor}
    else:
        out["data"] = [{"x": list(s.x), **({"label": s.label} if s.label is not None else {"y": list(s.y)})} for s in problem.data]
    if problem.randomize is not None:
        out["randomize"] = problem.randomize
    return out
