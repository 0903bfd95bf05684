"""A graph problem (``graph:``, SPEC.md §7): a computational graph written as equations — its
validated form (:class:`GraphProblem`), its file format, its reading and its writing back.

Here only the shape of the file is checked: each equation ``NAME = EXPR``, the names, every
leaf's value, the output a computed node, the trained leaves. What the expressions say is read
(and checked: cycles, unknown names) by :mod:`tracer.layers.equations`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Mapping, Union

from pydantic import Field, ValidationError

from tracer import keys
from tracer.spec.errors import SpecError, _quoted, _translate
from tracer.spec.models import LANGUAGES, OPTIMIZERS, Number, OptimizerModel, _Strict
from tracer.spec.optimizer_state import OptimizerState, StateError, read_state
from tracer.spec.problem import OptimizerSpec, _count
from tracer.spec.training import MAX_GRAPH_STEPS

@dataclass(frozen=True)
class EquationSpec:
    """One local equation of a graph problem, as its file writes it: ``name = expression``."""

    name: str
    expression: str  # the right-hand side, unparsed (tracer.layers.equations reads it)
    text: str  # the whole line, for messages


@dataclass(frozen=True)
class GraphTrainingSpec:
    parameters: tuple[str, ...] = ()  # the leaves gradient descent changes
    learning_rate: float = 0.1
    steps: int = 0
    optimizer: OptimizerSpec = OptimizerSpec()  # torch.optim's rules (tracer.core.optimizers), as a network's
    state: OptimizerState = OptimizerState()  # the optimizer's starting state (training.state), by leaf name


@dataclass(frozen=True)
class GraphProblem:
    """A computational graph written as equations (SPEC.md §7): its equations, the value of
    every leaf, the node differentiated. The equations are read (and checked: names, cycles,
    values) by :mod:`tracer.layers.equations`; here only their shape."""

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
        optimizer = self.training.optimizer
        how = "gradient descent" if optimizer.plain else optimizer.described()
        training = (
            f"; {how} on {', '.join(trained)}: learning rate {self.training.learning_rate:g}, {_count(self.training.steps, 'step')}"
            + (", from a given state" if self.training.state.given else "")
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


class GraphModel(_Strict):
    equations: list[str] = Field(min_length=1, description="one local equation each: NAME = EXPR (the parser of tracer diff)")
    values: dict[str, Number] = Field(description="the value of every leaf (a name no equation defines)")
    output: str = Field(description="the node differentiated: d output / d every other node")
    relu_derivative_at_zero: Literal[0, 1] = 0


class GraphTrainingModel(_Strict):
    parameters: list[str] = Field(min_length=1, description="the leaves gradient descent changes")
    learning_rate: Number = Field(gt=0)
    steps: int = Field(1, ge=0)
    optimizer: Union[Literal[OPTIMIZERS], OptimizerModel] = Field("sgd", description="sgd (default), momentum, adagrad, rmsprop, adam, adamw, or a mapping with name: and its hyperparameters (as a network's training.optimizer)")  # type: ignore[valid-type]
    state: dict[str, Any] | None = Field(None, description="the optimizer's starting state per leaf: {v: {x: 0.1}}, {previous: {x: 1.2}} (heavy ball), {m: …, v: …, step: 3}")


class GraphProblemModel(_Strict):
    title: str = ""
    language: Literal[LANGUAGES] = "en"  # type: ignore[valid-type]
    graph: GraphModel
    training: GraphTrainingModel | None = None
    randomize: dict[str, Any] | None = Field(None, description="quiz variants (tracer quiz)")


def _graph_problem(raw: dict, source: str) -> GraphProblem:
    """A ``graph:`` file: its shape here (each equation ``NAME = EXPR``, names, values, the
    output a node, trained leaves with values); what the expressions say is read by
    :mod:`tracer.layers.equations`, which reports in the same one-line form."""
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
        if not keys.NODE_NAME.match(name) or name.startswith("_"):
            raise SpecError(source, where, f"the left-hand side must be a name (Latin or Greek letters, digits, _), got {_quoted(name)}")
        if not expression.strip():
            raise SpecError(source, where, f"an expression expected after '{name} ='")
        if name in defined:
            raise SpecError(source, where, f"{name} is defined twice (also by graph.equations[{defined[name]}])")
        defined[name] = k
        equations.append(EquationSpec(name, expression.strip(), text.strip()))
    values: list[tuple[str, float]] = []
    for name, value in graph.values.items():
        if not keys.NODE_NAME.match(name) or name.startswith("_"):
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
        optimizer = _optimizer(t)
        try:
            state = read_state(t.state, optimizer.name, optimizer.nesterov, list(t.parameters))
        except StateError as err:
            raise SpecError(source, err.field, err.message) from None
        training = GraphTrainingSpec(tuple(t.parameters), float(t.learning_rate), t.steps, optimizer, state)
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


def _optimizer(t: GraphTrainingModel) -> OptimizerSpec:
    """``training.optimizer`` of a graph problem: as a network's (torch's defaults filled in)."""
    o = t.optimizer
    if isinstance(o, str):
        spec = OptimizerSpec(o)
        return replace(spec, eps=spec.epsilon if o in ("adagrad", "rmsprop", "adam", "adamw") else None, weight_decay=spec.decay)
    return OptimizerSpec(o.name, **{k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                                    for k, v in o.model_dump().items() if k != "name"})


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
        if not t.optimizer.plain:
            out["training"]["optimizer"] = t.optimizer.to_mapping()
        if t.state.given:
            out["training"]["state"] = t.state.to_mapping()
    if problem.randomize is not None:
        out["randomize"] = problem.randomize
    return out
