"""The training block of a problem file read: updates (steps, or epochs × batches), the optimizer,
the loss, the parameters named in ``update:`` and ``track:``, and the bounds of a run.

A run is bounded so that a file cannot ask for more than a machine does in a few minutes:
:data:`MAX_UPDATES` updates, :data:`MAX_RUN_WORK` multiply-adds, :data:`MAX_RECORDS` recorded
losses, and fewer steps where each is a full pass of the engine (:data:`MAX_LAYERED_STEPS`,
:data:`MAX_GRAPH_STEPS`).
"""

from __future__ import annotations

from dataclasses import replace

from tracer import keys
from tracer.keys import Quantity
from tracer.spec.errors import SpecError, _quoted
from tracer.spec.models import LossModel, ProblemModel, TrainingModel
from tracer.spec.optimizer_state import OptimizerState, StateError, read_state
from tracer.spec.problem import ClipSpec, LossSpec, OptimizerSpec, Problem, ScheduleSpec

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


def _layered_steps(t: "TrainingModel", fail) -> int:
    steps = 1 if t.steps is None else t.steps
    if steps > MAX_LAYERED_STEPS:
        raise fail("training.steps", f"{steps:,} steps is too many for a network with conv2d, pooling or rnn layers (at most {MAX_LAYERED_STEPS:,}: each is a full pass of the engine)")
    return steps


def _loss(model: LossModel) -> LossSpec:
    r = model.regularization
    return LossSpec(model.kind, float(model.factor), model.outputs, model.samples, model.log,
                    l2=float(r.l2 or 0.0) if r else 0.0, l1=float(r.l1 or 0.0) if r else 0.0)


def _optimizer(t: TrainingModel, fail) -> OptimizerSpec:
    """``training.optimizer``: a name (torch's defaults) or a mapping with its hyperparameters."""
    o = t.optimizer
    if isinstance(o, str):
        spec = OptimizerSpec(o)
        if o in ("adagrad", "rmsprop", "adam", "adamw"):
            spec = replace(spec, eps=spec.epsilon)
        spec = replace(spec, weight_decay=spec.decay)  # torch's default: adamw 0.01, the others 0
    else:
        spec = OptimizerSpec(o.name, **{k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                                         for k, v in o.model_dump().items() if k != "name"})
    if not spec.plain and t.order == "sequential":
        what = "weight_decay" if spec.name == "sgd" else f"optimizer {spec.name}"
        raise fail("training.order", f"sequential order is plain gradient descent (Mazur's); with {what} the update is simultaneous")
    return spec


def _clip(t: TrainingModel, fail) -> ClipSpec | None:
    """``training.clip``: ``{norm: max_norm}`` (clip_grad_norm_) or ``{value: clip_value}`` (clip_grad_value_), one of them."""
    c = t.clip
    if c is None:
        return None
    if (c.norm is None) == (c.value is None):
        got = "both" if c.norm is not None else "neither"
        raise fail("training.clip", f"one of norm: (torch's clip_grad_norm_ max_norm) or value: (clip_grad_value_) expected, got {got}")
    if t.order == "sequential":
        raise fail("training.clip", "clipping needs every gradient before the update: it is for simultaneous order, not sequential")
    return ClipSpec("norm", float(c.norm)) if c.norm is not None else ClipSpec("value", float(c.value))  # type: ignore[arg-type]


def _schedule(t: TrainingModel, fail) -> ScheduleSpec | None:
    """``training.schedule``: each schedule's own fields required or refused, milestones increasing."""
    m = t.schedule
    if m is None:
        return None
    where = "training.schedule"
    if t.order == "sequential":
        raise fail("training.order", "sequential order is plain gradient descent at one rate (Mazur's); a schedule needs order: simultaneous")
    own = set(ScheduleSpec.FIELDS[m.name])
    given = {k for k in m.model_fields_set if k not in ("name", "warmup", "warmup_factor", "per")}
    for name in sorted(given - own):
        raise fail(f"{where}.{name}", f"not a field of the {m.name} schedule (it takes {', '.join(ScheduleSpec.FIELDS[m.name])})")
    if m.name == "step" and m.step_size is None:
        raise fail(f"{where}.step_size", "required by the step schedule (StepLR's step_size), missing")
    if m.name == "multistep":
        if m.milestones is None:
            raise fail(f"{where}.milestones", "required by the multistep schedule (MultiStepLR's milestones), missing")
        for k, (a, b) in enumerate(zip(m.milestones, m.milestones[1:]), 1):
            if b <= a:
                raise fail(f"{where}.milestones[{k}]", f"milestones must increase, got {b} after {a}")
        if m.milestones[0] < 1:
            raise fail(f"{where}.milestones[0]", f"a milestone ≥ 1 expected, got {m.milestones[0]}")
    if m.name == "exponential" and m.gamma is None:
        raise fail(f"{where}.gamma", "required by the exponential schedule (ExponentialLR's gamma), missing")
    if m.name == "cosine" and m.T_max is None:
        raise fail(f"{where}.T_max", "required by the cosine schedule (CosineAnnealingLR's T_max), missing")
    if "warmup_factor" in m.model_fields_set and m.warmup is None:
        raise fail(f"{where}.warmup_factor", "a warm-up's start factor needs warmup: (its scheduler steps)")
    return ScheduleSpec(m.name, step_size=m.step_size or 1, milestones=tuple(m.milestones or ()),
                        gamma=0.1 if m.gamma is None else float(m.gamma), T_max=m.T_max or 1, eta_min=float(m.eta_min),
                        start_factor=float(m.start_factor), end_factor=float(m.end_factor), total_iters=m.total_iters,
                        warmup=m.warmup or 0, warmup_factor=float(m.warmup_factor), per=m.per)


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


def _starting_state(problem: Problem, t: TrainingModel, fail) -> OptimizerState:
    """``training.state``: the optimizer's starting state, by the trained parameters' canonical names."""
    if t.state is None:
        return OptimizerState()
    if t.order == "sequential":
        raise fail("training.state", "sequential order is plain gradient descent (Mazur's): no optimizer state")

    def canonical(name: str) -> str | None:
        try:
            return str(keys.parse(name))
        except keys.NameError_:
            return None

    o = problem.training.optimizer
    try:
        return read_state(t.state, o.name, o.nesterov, problem.trainable(), parameter=canonical)
    except StateError as err:
        raise fail(err.field, err.message) from None


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
