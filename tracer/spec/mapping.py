"""A problem file's mapping (what YAML read) to a validated problem, and a problem back to the
mapping of its file: ``from_mapping(to_mapping(p)) == p``.

:func:`from_mapping` tells the three forms apart — a graph (:mod:`tracer.spec.graph`), a network
with layers of other kinds than dense, a dense network (:mod:`tracer.spec.network`) — and hands
the mapping to its reader; :func:`to_mapping` writes each form back as its file would.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from tracer import kinds
from tracer.spec.errors import SpecError, _refuse_unprintable_title, _translate
from tracer.spec.graph import GraphProblem, _graph_mapping, _graph_problem
from tracer.spec.models import ProblemModel
from tracer.spec.network import _build, _is_layered, _layered_problem
from tracer.spec.problem import LossSpec, Problem, Sample


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


# ---------------------------------------------------------------------------
# Back to the file format
# ---------------------------------------------------------------------------


def _layered_mapping(problem: Problem) -> dict[str, Any]:
    """A network with conv2d and pooling layers as its file writes it (kernels [f][c][m][n], x [c][i][j])."""
    layers = [kinds.layer(layer.kind).to_mapping(layer) for layer in problem.layers]
    network: dict[str, Any] = {"layers": layers, "relu_derivative_at_zero": problem.relu_derivative_at_zero}
    sequence = bool(problem.input_shape) and len(problem.input_shape) == 2  # (time steps, numbers per step)
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
                     "optimizer": problem.training.optimizer.to_mapping(),
                     **({"state": problem.training.state.to_mapping()} if problem.training.state.given else {}),
                     **({"clip": problem.training.clip.to_mapping()} if problem.training.clip is not None else {}),
                     **({"schedule": problem.training.schedule.to_mapping()} if problem.training.schedule is not None else {})},
    }
    if problem.randomize is not None:
        out["randomize"] = problem.randomize
    return out


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
    layers = [kinds.layer(layer.kind).to_mapping(layer) for layer in problem.layers]
    loss = problem.loss
    t = problem.training
    training: dict[str, Any] = {"learning_rate": t.learning_rate, "order": t.order, "optimizer": t.optimizer.to_mapping()}
    if t.state.given:
        training["state"] = t.state.to_mapping()
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
    if t.clip is not None:
        training["clip"] = t.clip.to_mapping()
    if t.schedule is not None:
        training["schedule"] = t.schedule.to_mapping()
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
