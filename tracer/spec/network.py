"""A network problem file (``network:``) read into a :class:`~tracer.spec.problem.Problem`.

pydantic (:mod:`tracer.spec.models`) has checked each part's types and keys; here are the checks
that need more than one field. Each entry of ``network.layers`` is read by its kind — found
through the registry :mod:`tracer.kinds` by its ``type:`` (dense without one), never named here:
the kind's model validates the entry and the kind's ``read`` checks it against what the layers
below pass on (a dense layer's weights against its fan-in, a kernel against the feature map, an
rnn against the sequence), given a :class:`ReadContext`. Here remain the samples' inputs and
targets, a log loss only on outputs in (0, 1), the training features and notations every layer's
kind supports, and the size of the network (:data:`MAX_PARAMETERS`, :data:`MAX_LAYER_PRODUCTS`).
Each refusal is one :class:`~tracer.spec.errors.SpecError` naming the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from tracer import initializers, kinds
from tracer.datasets import generate
from tracer.spec.errors import SpecError, _quoted, _validated
from tracer.spec.models import (
    ACTIVATION_ALIASES,
    ACTIVATION_PARAMETERS,
    NOTATIONS,
    LayeredNetworkModel,
    LayeredProblemModel,
    LayeredSampleModel,
    ProblemModel,
    SampleModel,
    WeightInitModel,
)
from tracer.spec.problem import ActivationSpec, DatasetSpec, LayerSpec, Problem, Sample, TrainingSpec
from tracer.spec.training import _check_run, _clip, _layered_steps, _loss, _optimizer, _parameters, _schedule, _starting_state, _steps

#: the largest network: 1,000,000 weights and biases (a 999-999-1 network, one sample, one step:
#: 28 s and 1.7 GB on a loaded two-core machine; a 300-300-1 network, 90,601 parameters: 5 s)
MAX_PARAMETERS = 1_000_000
#: the products (multiply-adds and window inputs) of one sample of a network with conv, pooling or rnn layers
MAX_LAYER_PRODUCTS = 5_000_000


@dataclass(frozen=True)
class ReadContext:
    """Where a layer kind reads its entry (``kind.read(model, below, at)``): its place in
    ``network.layers``, the layers read below it, the samples' time steps, and how to refuse."""

    source: str
    index: int  # the entry's position in network.layers, from 0
    count: int  # the entries of network.layers
    below: tuple[LayerSpec, ...] = ()  # the layers read before it, bottom up
    steps: int = 0  # the time steps of every sample's sequence (0: the input is no sequence)
    image: bool = False  # network.input: the network reads an image
    shaped: bool = True  # False: a plain dense file (network.inputs and untyped entries), whose layers carry no shapes

    @property
    def where(self) -> str:
        return f"network.layers[{self.index}]"

    @property
    def last(self) -> bool:
        return self.index == self.count - 1

    @property
    def per_step(self) -> int:
        """The time steps at which a layer here applies: above a layer that passes on every state
        of a sequence (an rnn with outputs: sequence, or a layer applied per step above one); 0 else."""
        if not self.below:
            return 0
        top = self.below[-1]
        return top.per_step or (self.steps if top.returns == "sequence" else 0)

    def fail(self, path: str, message: str) -> SpecError:
        return SpecError(self.source, path, message)


# ---------------------------------------------------------------------------
# A dense network (SPEC.md §1)
# ---------------------------------------------------------------------------


def _build(model: ProblemModel, source: str) -> Problem:
    def fail(path: str, message: str) -> SpecError:
        return SpecError(source, path, message)

    net = model.network
    layers = _read_layers(net.layers, (net.inputs,), source, shaped=False)
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
        _check_hinge_targets(loss.kind, y, where, fail)
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
            clip=_clip(model.training, fail),
            schedule=_schedule(model.training, fail),
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
    _check_own_rates(problem, fail)
    update = None if model.training.update == "all" else _parameters(problem, model.training.update, "training.update", fail)
    track = _parameters(problem, model.training.track, "training.track", fail)
    problem = replace(problem, training=replace(problem.training, update=update, track=track))
    return replace(problem, training=replace(problem.training, state=_starting_state(problem, model.training, fail)))


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
# A network with conv2d, pooling, flatten and rnn layers (SPEC.md §8)
# ---------------------------------------------------------------------------


def _is_layered(raw: dict) -> bool:
    """A network with an image input or a layer of another kind than dense (SPEC.md §8)."""
    net = raw.get("network")
    if not isinstance(net, dict):
        return False
    layers = net.get("layers")
    typed = isinstance(layers, list) and any(isinstance(l, dict) and l.get("type", "dense") != "dense" for l in layers)
    return "input" in net or typed


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
    if model.loss.regularization is not None and "penalty" not in _supported(net):
        raise fail("loss.regularization", "a penalty on the weights is built for dense networks only, for now (not with conv2d, pooling or rnn layers)")
    steps = _sequence_length(net, model.data, fail)
    layers = _read_layers(net.layers, shape, source, steps=steps, image=net.input is not None)
    _check_size(layers, steps, fail)
    if layers[-1].kind != "dense":
        raise fail(f"network.layers[{len(layers) - 1}]", "the last layer must be dense (the loss compares its outputs with the targets)")
    _check_log_loss(model.loss.kind, layers, fail)
    _check_parameters(layers, fail)
    per_step = layers[-1].per_step  # above an rnn with outputs: sequence, the output layer applies at every time step

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
            samples.append(Sample(x, _check_hinge_targets(model.loss.kind, _step_targets(sm, per_step, n_out, where, fail), where, fail), None))
            continue
        samples.append(Sample(x, _check_hinge_targets(model.loss.kind, _targets(sm, n_out, where, fail), where, fail), sm.label))
    loss = model.loss
    t = model.training
    asked = {"runs": t.epochs is not None or t.batch_size is not None, "update": t.update != "all",
             "sequential": t.order != "simultaneous", "track": bool(t.track)}
    if any(wanted and feature not in _supported(net) for feature, wanted in asked.items()):
        raise fail("training", "a network with conv2d or pooling layers takes learning_rate and steps (epochs, batches, update, order, track: dense networks only, for now)")
    problem = Problem(
        inputs=math.prod(first),
        layers=tuple(layers),
        loss=_loss(loss),
        data=tuple(samples),
        training=TrainingSpec(learning_rate=float(t.learning_rate), steps=_layered_steps(t, fail),
                              optimizer=_optimizer(t, fail), clip=_clip(t, fail), schedule=_schedule(t, fail)),
        title=model.title,
        language=model.language,
        notation=_layered_notation(model.notation, layers, fail),
        relu_derivative_at_zero=net.relu_derivative_at_zero,
        source=source,
        randomize=model.randomize,
        input_shape=first if (net.input or steps) else None,
        target_steps=per_step,
    )
    problem = replace(problem, training=replace(problem.training, state=_starting_state(problem, t, fail)))
    _check_own_rates(problem, fail)
    return problem


def _check_own_rates(problem: Problem, fail) -> None:
    """A schedule writes one rate per update: a layer's own learning rate is not scheduled (yet)."""
    if problem.training.schedule is None:
        return
    for idx, layer in enumerate(problem.layers):
        if layer.learning_rate is not None:
            raise fail(f"network.layers[{idx}].learning_rate", "a layer's own learning rate is not taken with training.schedule (one scheduled rate per update)")


def _sequence_length(net: "LayeredNetworkModel", data: list, fail) -> int:
    """The time steps of every sample's sequence (0: no rnn layer); all samples alike."""
    if not any(entry.get("type") == "rnn" for entry in net.layers):
        return 0
    lengths = {len(sm.x) for sm in data}
    if len(lengths) != 1:
        raise fail("data", f"every sample's sequence must have the same number of time steps, got {sorted(lengths)}")
    return lengths.pop()


def _layered_notation(notation: str, layers: list[LayerSpec], fail) -> str:
    """The notations every layer's kind can be written in (conv, pooling and rnn layers: the bracket
    or the δ notation; the other themes name the units of one dense network: Mazur's w5, the
    neuron theme's N_1)."""
    themes = [name for name in NOTATIONS if all(name in kinds.layer(layer.kind).themes for layer in layers)]
    if notation not in themes:
        raise fail("notation", f"{' or '.join(themes)} for a network with conv2d, pooling or rnn layers, got {_quoted(notation)}")
    return notation


def _supported(net: LayeredNetworkModel) -> frozenset[str]:
    """The training features (tracer.layers.kind.FEATURES) that every layer's kind supports. An
    entry whose type: no kind answers supports none (it is refused by name when it is read); an
    image input only the optimizer (the layers that read it, conv2d, pooling, flatten, no more)."""
    if net.input is not None:
        return frozenset({"optimizer"})
    out: frozenset[str] | None = None
    for entry in net.layers:
        try:
            supports = kinds.layer(entry.get("type", "dense")).supports
        except kinds.UnknownKind:
            supports = frozenset()
        out = supports if out is None else out & supports
    return out or frozenset()


def _read_layers(entries: list[Any], shape: tuple[int, ...], source: str, *, steps: int = 0, image: bool = False,
                 shaped: bool = True) -> list[LayerSpec]:
    """Each entry of ``network.layers`` read by its kind (:mod:`tracer.kinds`), bottom up: the
    shape a layer passes on is the next one's input. The entries of a plain dense file
    (``network.inputs``, no ``type:``) come validated by pydantic as a whole (:class:`ProblemModel`)
    and carry no shapes; a network's with other kinds is each validated by its kind's model."""
    layers: list[LayerSpec] = []
    for idx, entry in enumerate(entries):
        at = ReadContext(source, idx, len(entries), tuple(layers), steps, image, shaped)
        if shaped:
            _check_size(layers, steps, at.fail)  # before reading a layer that a huge one below would make huge too
            if not isinstance(entry, dict):
                raise at.fail(at.where, f"a mapping expected (units, activation, weights, … or type: conv2d, …), got {type(entry).__name__}")
            name = entry.get("type", "dense")
            try:
                kind = kinds.layer(name)
            except kinds.UnknownKind:
                raise at.fail(f"{at.where}.type", f"one of {', '.join(kinds.names())} expected, got {_quoted(name)}") from None
            model = _validated(kind.Model, {**entry, "type": name}, source, at.where)
        else:
            kind, model = kinds.layer("dense"), entry
        layer = kind.read(model, shape, at)
        layers.append(layer)
        shape = layer.out_shape if shaped else (layer.units,)
    return layers


# ---------------------------------------------------------------------------
# What every layer kind reads alike: its activation, drawn weights, its own learning rate
# ---------------------------------------------------------------------------


def read_activation(value: Any) -> ActivationSpec:
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


def hidden_activation(model, where: str, fail) -> ActivationSpec:
    """The activation of a conv2d or rnn layer: any but softmax (a dense output layer's)."""
    try:
        activation = read_activation(model)
    except ValueError as err:
        raise fail(f"{where}.activation", str(err)) from None
    if activation.name == "softmax":
        raise fail(f"{where}.activation", "softmax is only allowed in a dense output layer")
    return activation


def drawn(model: WeightInitModel, shape: tuple[int, ...], fan_in: int, fan_out: int, where: str, fail) -> list[Any]:
    """A weights block drawn from its seed (tracer.initializers), its options checked."""
    if model.init != "uniform" and (model.low is not None or model.high is not None):
        raise fail(f"{where}.{'low' if model.low is not None else 'high'}", f"only for init: uniform, not {model.init}")
    low = 0.0 if model.low is None else float(model.low)
    high = 1.0 if model.high is None else float(model.high)
    if not low < high:
        raise fail(f"{where}.high", f"must be greater than low ({low:g}), got {high:g}")
    return initializers.draw(model.init, model.seed, shape, fan_in, fan_out, low, high)


def own_rate(value: "float | None") -> float | None:
    return None if value is None else float(value)


# ---------------------------------------------------------------------------
# A sample's inputs and targets
# ---------------------------------------------------------------------------


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


def _check_hinge_targets(kind: str, y: tuple[float, ...], where: str, fail) -> tuple[float, ...]:
    """The hinge loss max(0, 1 − y·o) reads its target as a side, −1 or 1 (a label's one-hot 0 is none)."""
    if kind == "hinge":
        for k, t in enumerate(y):
            if t not in (-1.0, 1.0):
                raise fail(f"{where}.y[{k}]", f"a target −1 or 1 expected for the hinge loss (the side of the margin), got {t:g}")
    return y


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


# ---------------------------------------------------------------------------
# Checks across the layers
# ---------------------------------------------------------------------------


def _check_size(layers: list[LayerSpec], steps: int, fail) -> None:
    """Every product of a worked solution is an argument of the engine's graph: bounded, so that a
    file cannot ask for more memory than a machine has (a 1×28×28 conv network: ~70,000)."""
    def arguments(layer: LayerSpec) -> int:  # what one output of the layer reads
        if layer.kind in ("maxpool2d", "avgpool2d"):
            return layer.kernel[0] * layer.kernel[1]
        if layer.kind == "rnn":
            return layer.in_shape[0] * (layer.inputs + layer.units + 1)  # every time step
        return layer.inputs + 1

    products = max(1, steps) * sum(math.prod(layer.out_shape) * arguments(layer) for layer in layers if layer.kind != "flatten")
    if products > MAX_LAYER_PRODUCTS:
        where = f"network.layers[{len(layers) - 1}]"
        raise fail(where, f"{products:,} products per sample is too large to work out (at most {MAX_LAYER_PRODUCTS:,}); "
                          "use a smaller image, fewer filters or fewer time steps")


def _check_parameters(layers, fail) -> None:
    """At most :data:`MAX_PARAMETERS` weights and biases in the whole network."""
    total = sum(len(layer.weights) * (len(layer.weights[0]) if layer.weights else 0) + (len(layer.bias) if layer.bias else 0) for layer in layers)
    if total > MAX_PARAMETERS:
        raise fail("network", f"{total:,} weights and biases is too large a network (at most {MAX_PARAMETERS:,} parameters)")


#: the output activations whose every value lies in (0, 1), where a log loss can be taken
_PROBABILITY_OUTPUTS = ("sigmoid", "softmax")


def _check_log_loss(kind: str, layers, fail) -> None:
    """Cross-entropy takes the logarithm of each output (binary cross-entropy of 1 − output as
    well): an output layer that can give 0, 1 or a number outside (0, 1) makes the loss
    undefined, so it is refused here rather than reported as a non-finite loss later."""
    last = layers[-1].activation.name
    if kind in ("cross_entropy", "binary_cross_entropy") and last not in _PROBABILITY_OUTPUTS:
        raise fail(f"network.layers[{len(layers) - 1}].activation",
                   f"{kind} takes the logarithm of each output, so the last layer must give numbers in (0, 1): sigmoid or softmax expected, got {last}")
