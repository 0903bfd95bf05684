"""The worked solution: the engine's passes, written out the way the texts write them.

:func:`solve` builds the problem's graph (:mod:`tracer.layers.network`, :mod:`tracer.layers.equations`), runs the sweeps of
:mod:`tracer.core.sweep` for every training step, and hands the numbers to a
:class:`Writer`, the display policy, which turns them into steps:

* forward, node by node in topological order: ``symbolic = substituted = value``;
* backward, from the loss, every node's gradient as the chain rule gives it —
  a node with one consumer extends its consumer's chain (Mazur's
  ``∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5``: a chain through
  single-consumer nodes is written in full), a node with several consumers is a sum
  over every path (``∂E/∂out_h1 = Σ_j ∂E/∂net_oj · ∂net_oj/∂out_h1``, the softmax's
  coupling ``∂L/∂z_j = Σ_m ∂L/∂a_m · ∂a_m/∂z_j``), a term of a sum (a loss term) is
  differentiated through (``∂E_total/∂out_o1 = −(target_o1 − out_o1)``); each local
  derivative is its own step, written just before the gradient that uses it (once per
  training step where it is the same in every sample: ``∂z/∂a = w``);
* several samples: each sample's loss differentiated on its own, then the gradients of
  the total loss as their sum (or mean); sequential order: a layer's update right after
  its gradients, and the layer below it through the updated weights; several steps;
  the closing forward pass with the final parameters.

Nothing here knows about layers beyond the section a family's builder gave it, nor
formats anything. Numbers are the sweep's; a step only points at them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import Protocol

import numpy as np
import sympy as sp

from tracer import keys, kinds
from tracer.core import clipping as clipping_
from tracer.core import functions, gates, optimizers, schedules, sweep
from tracer.core.exact import Settler, decimal
from tracer.core.exact import evaluate as exact_evaluate
from tracer.core import verify as verification
from tracer.core.functions import ARG, OUT, WeightedSum
from tracer.core.graph import Family, Graph
from tracer.keys import END, LOSS, LOSS_AFTER, Key, Partial, Quantity
from tracer.core.solution import (
    FeatureMaps,
    RecurrentArrays,
    Affine,
    Binding,
    Chain,
    Derivations,
    Expression,
    Factor,
    GraphNode,
    GraphSolution,
    GraphStep,
    LayerArrays,
    ScheduleStatement,
    Section,
    Solution,
    Step,
    Sum,
    TrainingStep,
    Update,
)
from tracer.layers import equations, perceptron
from tracer.layers.network import Network
from tracer.layers.network import build as build_network
from tracer.numeric import mlp as numeric
from tracer.numeric import training
from tracer.spec import GraphProblem, OptimizerSpec, Problem, ScheduleSpec

#: training steps written out in full by default; later ones are numbers only
DEFAULT_DERIVED_STEPS = 3
#: a long run keeps one entry per step in ``Solution.steps`` up to this many full-batch steps;
#: beyond (or with batches) only the derived ones, and ``Solution.run`` has the recorded losses
NUMERIC_STEP_ENTRIES = 100
#: samples × parameters beyond which nothing is derived (the run is NumPy's only)
SYMBOLIC_LIMIT = 30_000
#: a weighted sum of more terms than this is not shown as the equation it differentiates (--detail full)
SHOWN_EQUATION_TERMS = 8

UPDATED_NOTE = "with the weight already updated (sequential order)"


@dataclass(frozen=True, eq=False)
class Optimizing:
    """One training step's optimizer (SPEC.md §9): its equations' values for every parameter node."""

    spec: OptimizerSpec
    t: int  # the step number its equations read (Adam's bias correction)
    before: dict[str, np.ndarray]  # (N,) per state: its value before the step (0 before the first)
    computed: dict[str, np.ndarray]  # (N,) per equation's target (states after, m_hat, v_hat, theta)
    schedule: "ScheduleSpec | None" = None  # training.schedule: this step's rate is its equation's
    base: float = 0.0  # the file's learning rate the schedule starts from (torch's base_lr)
    n: int = 0  # scheduler steps before this update (torch's last_epoch)

    def descend(self, trained: np.ndarray, rates: np.ndarray, values: np.ndarray):
        """The update rule a reverse sweep calls per parameter family: fills :attr:`computed`."""

        def descend(nodes: np.ndarray, gradient: np.ndarray) -> np.ndarray:
            old = values[0, nodes]
            out = optimizers.apply(self.spec, old, gradient, {k: v[nodes] for k, v in self.before.items()}, self.t, rates[nodes])
            for target, value in out.items():
                self.computed.setdefault(target, np.zeros(values.shape[1]))[nodes] = np.where(trained[nodes], value, 0.0)
            return np.where(trained[nodes], out[optimizers.AFTER], old)

        return descend

    @property
    def scheduled(self) -> bool:
        """Whether the rate of this step comes from a learning-rate schedule (SPEC.md §9)."""
        return self.schedule is not None

    def state_after(self) -> dict[str, np.ndarray]:
        """The states the next step starts from."""
        return {name: self.computed[name] for name in optimizers.rule(self.spec).states}


@lru_cache(maxsize=None)
def symbol(key: Quantity) -> sp.Symbol:
    """The SymPy symbol of a quantity in an equation: named by its canonical name, without
    sample, step or update mark (``a2[1]``, ``W2[1,1]``); the value bound to it says which."""
    return sp.Symbol(str(key.plain()), real=True)


def renamed(expression: sp.Expr, names: dict) -> sp.Expr:
    """A textbook form over the generic symbols, written in the quantities' own symbols exactly as
    it was built (no re-evaluation: ``−(y − o)`` stays as the texts write it, not ``o − y``)."""
    with sp.evaluate(False):
        return expression.xreplace(names)


# ---------------------------------------------------------------------------
# solve
# ---------------------------------------------------------------------------


def solve(problem: Problem, *, derived_steps: int = DEFAULT_DERIVED_STEPS, verify: bool = True) -> Solution:
    """The whole worked solution of a problem: every training step, the loss after, the verification.

    ``verify=False`` skips the comparison with the NumPy pass (replays and quiz mistakes
    solve many variants that the caller checks otherwise).
    """
    if isinstance(problem, GraphProblem):
        return solve_graph(problem, derived_steps=derived_steps, verify=verify)  # type: ignore[return-value]
    network = build_network(problem)
    # a network with conv2d or pooling layers always takes its numbers from the graph engine
    # (the NumPy twin of tracer.numeric.layers checks them; steps are written only when read)
    symbolic = problem.layered or len(problem.data) * len(problem.parameter_keys) <= SYMBOLIC_LIMIT
    if not symbolic:
        derived_steps = 0
    run = training.run(problem) if not problem.layered and training.is_long(problem, derived_steps) else None
    batched = run is not None and run.batch_size < len(problem.data)
    keep_numeric = run is None or (not batched and problem.training.steps <= NUMERIC_STEP_ENTRIES)
    rate = problem.training.learning_rate
    trained = np.zeros(network.graph.size, dtype=bool)
    trained[network.parameter_nodes] = problem.trained_mask
    rates = np.zeros(network.graph.size)
    rates[network.parameter_nodes] = problem.rate_vector
    optimizer = problem.training.optimizer
    parameters = np.array(problem.parameter_vector(), dtype=float)
    # the optimizer's state per graph node (too large to write out: per parameter, in problem order),
    # zero or training.state's
    state = _network_starting_state(problem, network.parameter_nodes if symbolic else None,
                                    network.graph.size if symbolic else len(parameters), parameters, rates if symbolic else np.array(problem.rate_vector))
    taken = problem.training.state.step
    origin = 0  # the training step whose written-out update made the parameters' current values (0: none)
    steps: list[TrainingStep] = []
    passes: list[tuple[TrainingStep, tuple, sweep.Pass]] = []
    for number in range(1, problem.training.steps + 1):
        if number <= derived_steps:
            batch = _batch_of(run, number) if batched else None
            data = problem.data if batch is None else tuple(problem.data[i - 1] for i in batch)
        elif keep_numeric:
            batch, data = None, problem.data
        else:
            break
        derived = number <= derived_steps
        if not symbolic:  # too large to write out: the NumPy engine's step (the engine's arrays would be samples × nodes)
            step, state = _numeric_step(problem.with_parameter_vector(parameters), number, state, taken)
            steps.append(_with_rate(step, problem))
            parameters = np.array(list(step.params_after.values()), dtype=float)
            continue
        optimizing = Optimizing(optimizer, taken + number, state, {}, problem.training.schedule, problem.training.learning_rate,
                                problem.scheduler_steps(number))
        step, engine = _training_step(network, data, parameters, number, origin, trained, scheduled_rates(problem, rates, number),
                                      derived, batch, optimizing)
        state = optimizing.state_after()
        step = _with_rate(step, problem)
        steps.append(step)
        passes.append((step, data, engine))
        parameters = engine.after[network.parameter_nodes]
        origin = number if derived else 0  # a step not written out: its values are numbers, not an update shown
    if run is not None and not keep_numeric:
        origin = 0
        parameters = np.array([run.final[k] for k in problem.parameter_keys], dtype=float)
    final = problem.with_parameter_vector(parameters)
    closing_engine = None
    if symbolic:
        values = sweep.forward(network.graph, network.leaves(problem.data, parameters))
        closing_engine = values
        loss_after = _total(network, values)
        closing_writer = Writer(network, problem.data, values, None, END, origin, trained, rates)
    else:
        loss_after = run.last.loss if run is not None else numeric.forward_loss(final)
        closing_writer = None
    solution = Solution(
        problem=problem,
        steps=tuple(steps),
        loss_after=loss_after,
        final=final,
        notes=tuple(_notes(network, problem, passes, symbolic, batched, derived_steps)) + _starting_state_notes(problem.training.state, problem.training.steps),
        run=run,
        perceptron=perceptron.analyse(network, final),
        closing_writer=closing_writer,
        explain=partial(_derivations, network),
        engine=verification.Engine(network, tuple((s.number, data, p) for s, data, p in passes), closing_engine),
        schedule=_schedule_statement(problem.training.schedule),
    )
    if verify:
        solution = solution.with_verification(verification.verify(solution))
    return solution


def solve_graph(problem: GraphProblem, *, derived_steps: int = DEFAULT_DERIVED_STEPS, verify: bool = True) -> GraphSolution:
    """A graph problem (SPEC.md §7): the forward pass node by node, the backward pass from the
    output to every node (inputs included), and with training each update of the trained
    leaves and the output after. A value or a local derivative that is not a number at the
    given values (1/0, log 0) is bad input: :class:`~tracer.spec.SpecError` naming the equation."""
    system: equations.System = kinds.form("equations").build(problem)  # type: ignore[attr-defined]
    graph = system.graph
    trained = np.zeros(graph.size, dtype=bool)
    trained[system.parameter_nodes] = True
    rate = problem.training.learning_rate
    count = problem.training.steps if problem.training.parameters else 0
    names = [graph.key(n) for n in range(graph.size)]
    values_now = dict(problem.values)
    steps: list[GraphStep] = []
    passes = []
    origin = 0
    optimizer = problem.training.optimizer
    rates = np.full(graph.size, rate)
    state = _graph_starting_state(system, problem, rates)
    for number in range(1, max(count, 1) + 1):
        values = sweep.forward(graph, system.leaves(values_now))
        system.undefined(values, step=number if count else 0)
        optimizing = Optimizing(optimizer, problem.training.state.step + number, state, {})
        descend = optimizing.descend(trained, rates, values)
        engine = sweep.reverse(graph, values, np.ones(1), descend if count else None)
        system.undefined(values, engine.local, step=number if count else 0)
        if count:
            state = optimizing.state_after()
        derived = number <= derived_steps or (count == 0 and derived_steps > 0)
        writer = Writer(system, (), values, engine, number, origin, trained, rate, optimizing if count else None)
        gradient = engine.adjoint[0].copy()
        gradient[graph.output] = 1.0
        after = {names[n]: float(engine.after[n]) for n in system.parameter_nodes} if count else {}
        shown = optimizers.rule(optimizer).shown if count else ()
        states = {name: {names[n].name: float(optimizing.computed[name][n]) for n in system.parameter_nodes} for name in shown}
        steps.append(GraphStep(number, derived, dict(zip(names, values[0].tolist())), dict(zip(names, gradient.tolist())),
                               after, float(values[0, graph.output]), writer, states))
        passes.append((number, values, engine))
        values_now.update({key.name: v for key, v in after.items()})
        origin = number if derived else 0
    final = problem.with_values(values_now)
    closing_writer, values_after, closing = None, None, None
    if count:
        closing = sweep.forward(graph, system.leaves(values_now))
        system.undefined(closing, step=-1)
        closing_writer = Writer(system, (), closing, None, END, origin, trained, rate)
        values_after = dict(zip(names, closing[0].tolist()))
    solution = GraphSolution(
        problem=problem,
        nodes=_graph_nodes(system),
        steps=tuple(steps),
        trained=bool(count),
        final=final,
        values_after=values_after,
        notes=tuple(_graph_notes(system, [p for p, s in zip(passes, steps) if s.derived])) + _starting_state_notes(problem.training.state, count),
        closing_writer=closing_writer,
        engine=verification.GraphEngine(system, tuple(passes), closing),
    )
    if verify:
        solution = solution.with_verification(verification.verify_graph(solution))
    return solution


def _network_starting_state(problem: Problem, nodes: np.ndarray | None, size: int, parameters: np.ndarray,
                            rates: np.ndarray) -> dict[str, np.ndarray]:
    """The optimizer's state before the first step, per graph node (``nodes``: each parameter's) or per
    parameter: ``training.state`` where given, 0 elsewhere (heavy-ball's previous iterate turned into v)."""
    where = np.arange(len(parameters)) if nodes is None else np.asarray(nodes)
    theta = np.zeros(size)
    theta[where] = parameters
    position = {str(key): k for k, key in enumerate(problem.parameter_keys)}
    given = {}
    for name, _ in problem.training.state.values:
        array = theta.copy() if name == "previous" else np.zeros(size)
        for parameter, value in problem.training.state.of(name).items():
            array[where[position[parameter]]] = value
        given[name] = array
    safe = np.where(rates > 0, rates, 1.0)  # a node that is no parameter has no rate (and no state)
    return optimizers.starting_state(problem.training.optimizer, given, theta, safe)


def _starting_state_notes(state, steps: int) -> tuple[str, ...]:
    """What ``training.state`` gave, said once: the steps already taken (Adam's t) and heavy-ball's
    previous iterate, with the velocity it stands for."""
    if not steps or not state.given:
        return ()
    notes = []
    if state.previous:
        given = ", ".join(f"{name}₋ = {value:g}".replace("= -", "= −") for name, value in state.previous.items())  # a minus sign, not a hyphen
        notes.append(f"the previous iterate is given (training.state.previous: {given}): heavy-ball momentum "
                     "θ' = θ − η·g + β·(θ − θ₋) is torch.optim.SGD's v = β·v₀ + g, θ' = θ − η·v with the velocity "
                     "v₀ = (θ₋ − θ)/η the previous update left (a parameter not given: θ₋ = θ, v₀ = 0)")
    others = [name for name, _ in state.values if name != "previous"]
    if others:
        notes.append(f"the optimizer starts from the state given in training.state ({', '.join(others)}; 0 where not given), not from torch's zeros")
    if state.step:
        notes.append(f"{state.step} steps were taken before (training.state.step): the first update here reads t = {state.step + 1}")
    return tuple(notes)


def _graph_starting_state(system: equations.System, problem: GraphProblem, rates: np.ndarray) -> dict[str, np.ndarray]:
    """The optimizer's state per graph node before the first step: ``training.state`` at the
    trained leaves (heavy-ball's previous iterate turned into v, :func:`optimizers.starting_state`), 0 elsewhere."""
    size = system.graph.size
    theta = np.zeros(size)
    for name, value in problem.values:
        theta[system.number[name]] = value
    given = {}
    for name, _ in problem.training.state.values:
        array = theta.copy() if name == "previous" else np.zeros(size)
        for leaf, value in problem.training.state.of(name).items():
            array[system.number[leaf]] = value
        given[name] = array
    return optimizers.starting_state(problem.training.optimizer, given, theta, rates)


def _graph_nodes(system: equations.System) -> tuple[GraphNode, ...]:
    out = []
    for node in system.nodes:
        key = keys.node(node.name)
        if node.equation is None:
            out.append(GraphNode(key, None, (), "leaf"))
            continue
        op = system.graph.family_of(node.number).op
        constant, signs = None, ()
        if isinstance(op, gates.Add):
            signs = op.signs
        if isinstance(op, gates.Scale):
            constant = float(op.factor)
        elif isinstance(op, gates.Power):
            constant = float(op.exponent)
        elif isinstance(op, gates.Add) and op.constant != 0:
            constant = float(op.constant)
        out.append(GraphNode(key, system.problem.equations[node.equation].text, tuple(keys.node(a) for a in node.arguments),
                             gates.kind_of(op), constant, signs))  # type: ignore[arg-type]
    return tuple(out)


def _graph_notes(system: equations.System, passes) -> list[str]:
    """The conventions met at a kink (ReLU at 0, a tie of max, |u| at 0) in a written-out pass."""
    notes: list[str] = []
    for node in system.nodes:
        if node.equation is None:
            continue
        family = system.graph.family_of(node.number)
        op = family.op
        note = op.kink_note()
        if not note or note in notes:
            continue
        if any(family.start in engine.kinks for _number, _values, engine in passes):  # met exactly, in decimals
            notes.append(f"{system.problem.equations[node.equation].text}: {note}")
    return notes


def _schedule_statement(spec: ScheduleSpec | None) -> ScheduleStatement | None:
    """What the document states once of ``training.schedule``: the torch call and every stretch's equation."""
    if spec is None:
        return None
    return ScheduleStatement(schedules.title(spec), tuple((stretch, phase.expression) for stretch, phase in schedules.phases(spec)),
                             schedules.BASE, schedules.N, schedules.K, dict(schedules.HYPER))


def _with_rate(step: TrainingStep, problem: Problem) -> TrainingStep:
    """The step with the rate ``training.schedule`` gave its update (unchanged without a schedule)."""
    schedule = problem.training.schedule
    if schedule is None:
        return step
    return replace(step, learning_rate=schedules.rate(schedule, problem.training.learning_rate, problem.scheduler_steps(step.number)))


def scheduled_rates(problem: Problem, rates: np.ndarray, number: int) -> np.ndarray:
    """The rates of update ``number`` (per node, or per parameter): each base rate (the file's, or a
    layer's own) as ``training.schedule`` sets it after the scheduler steps before that update."""
    schedule = problem.training.schedule
    if schedule is None:
        return rates
    n = problem.scheduler_steps(number)
    out = np.array(rates, dtype=float)
    for base in set(np.asarray(rates, dtype=float).tolist()) - {0.0}:
        out[np.asarray(rates) == base] = schedules.rate(schedule, base, n)
    return out


def _numeric_step(problem: Problem, number: int, state: dict[str, np.ndarray], taken: int = 0) -> tuple[TrainingStep, dict[str, np.ndarray]]:
    """A training step of a problem too large to write out: the NumPy engine's numbers only (an
    optimizer's update from its equations, :mod:`tracer.core.optimizers`, on those gradients)."""
    result = numeric.evaluate(problem)
    keys_ = problem.parameter_keys
    spec = problem.training.optimizer
    clip = problem.training.clip
    if spec.plain and len(set(problem.rate_vector)) == 1 and clip is None and problem.training.schedule is None:
        after = numeric.step(problem).parameters()
    else:
        theta = np.array(problem.parameter_vector())
        gradient = np.array([float(result.grads[k]) for k in keys_])
        trained = np.array(problem.trained_mask)
        if clip is not None:  # too large to derive: the clamp is decided by the doubles (their decimals)
            gradient = clipping_.clip(clip, gradient, np.flatnonzero(trained), lambda n: decimal(gradient[n])).clipped
        values = optimizers.apply(spec, theta, gradient, state, taken + number, scheduled_rates(problem, np.array(problem.rate_vector), number))
        after = dict(zip(keys_, np.where(trained, values[optimizers.AFTER], theta).tolist()))
        state = {k: np.where(trained, values[k], state[k]) for k in state}
    records = tuple(
        {"sample": s, "layers": [{"z": z.tolist(), "a": a.tolist()} for z, a in zip(sample.z, sample.a)], "loss": float(sample.loss)}
        for s, sample in enumerate(result.samples, 1)
    )
    return TrainingStep(
        number=number,
        derived=False,
        loss=float(result.loss),
        params_before=problem.parameters(),
        gradients=dict(zip(keys_, (float(result.grads[k]) for k in keys_))),
        params_after=after,
        forward=records,
    ), state


def _batch_of(run, number: int) -> tuple[int, ...]:
    """The samples (1-based) of update ``number`` of a batched run (logged for the first few)."""
    logged = {u.number: u.batch for u in run.first_updates}
    if number not in logged:
        raise ValueError(f"update {number} of a batched run cannot be written out (only the first {len(logged)} are logged)")
    return logged[number]


def _weights(network: Network, samples: int) -> np.ndarray:
    return np.full(samples, 1.0 / samples if network.samples_combine == "mean" else 1.0)


def _penalty(problem) -> functions.Penalty | None:
    loss = getattr(problem, "loss", None)
    return functions.Penalty(loss.l2, loss.l1) if loss is not None and loss.regularized else None


def _total(network: Network, values: np.ndarray) -> float:
    """The total loss: the samples' losses combined, plus loss.regularization's penalty."""
    losses = values[:, network.graph.output]
    total = float(losses.sum() / len(losses)) if network.samples_combine == "mean" else float(losses.sum())
    penalty = _penalty(network.problem)
    return total + penalty.value(values[0, network.weight_nodes]) if penalty is not None else total


def _training_step(network: Network, data, parameters, number, origin, trained, rates, derived, batch, optimizing: Optimizing):
    graph = network.graph
    values = sweep.forward(graph, network.leaves(data, parameters))
    sequential = network.problem.training.order == "sequential"
    descend = optimizing.descend(trained, rates, values)
    penalty = _penalty(network.problem)
    extra = None
    if penalty is not None:  # λ·w, a term of each weight's gradient (at the weights before the step)
        extra = np.zeros(graph.size)
        extra[network.weight_nodes] = penalty.gradient(values[0, network.weight_nodes])
    clip = network.problem.training.clip
    # training.clip: every gradient first (the norm is over all of them), then the optimizer on the clipped ones
    engine = sweep.reverse(graph, values, _weights(network, len(data)), None if clip else descend, sequential=sequential, penalty=extra)
    nodes = network.parameter_nodes
    keys_ = network.problem.parameter_keys
    clipping = None
    if clip is not None:
        clipping = clipping_.clip(clip, engine.gradient, nodes[trained[nodes]], _exact_gradients(network, values, len(data)))
        after = values[0].copy()
        after[nodes] = descend(nodes, clipping.clipped[nodes])
        engine = replace(engine, after=after)
    writer = Writer(network, data, values, engine, number, origin, trained, rates, optimizing, batch, clipping)
    shown = optimizers.rule(optimizing.spec).shown
    state = {name: {key: float(optimizing.computed[name][n]) for key, n, t in zip(keys_, nodes, trained[nodes]) if t} for name in shown}
    step = TrainingStep(
        number=number,
        derived=derived,
        loss=_total(network, values),
        params_before=dict(zip(keys_, values[0, nodes].tolist())),
        gradients=dict(zip(keys_, engine.gradient[nodes].tolist())),
        params_after=dict(zip(keys_, engine.after[nodes].tolist())),
        forward=_records(network, values, batch),
        batch=batch,
        optimizer_state=state,
        penalty=None if penalty is None else penalty.value(values[0, network.weight_nodes]),
        clip=None if clipping is None else _clip_record(clipping, keys_, nodes, trained),
        writer=writer,
        arrays=partial(_layer_arrays, network, values, engine, trained, rates, extra, optimizing, clipping),
        maps=partial(_feature_maps, network, values, engine) if network.problem.layered else None,
        recurrences=partial(_recurrent_arrays, network, values, engine) if network.problem.layered else None,
    )
    return step, engine


def _exact_gradients(network: Network, values: np.ndarray, samples: int):
    """A parameter's gradient of the total loss exactly, from the decimals (:mod:`tracer.core.exact`):
    the samples' exact adjoints combined as the loss combines them, plus the penalty's term. Asked
    only where gradient clipping decides at its clamp's edge (one exact pass shared by the nodes)."""
    settler = Settler(network.graph, values)
    penalty = _penalty(network.problem)
    weights = set(int(n) for n in network.weight_nodes)

    def gradient(node: int) -> sp.Expr:
        total = sp.Add(*(settler.exact_adjoint(s, node, network.graph.output) for s in range(samples)))
        if network.samples_combine == "mean":
            total = total / samples
        if penalty is not None and node in weights:
            w = sp.Symbol("w", real=True)
            at = {w: decimal(values[0, node]), **{sym: decimal(v) for sym, v in penalty.coefficients().items()}}
            total = total + exact_evaluate(penalty.derivative(w), at)
        return total

    return gradient


def _clip_record(clipping: clipping_.Clipping, keys_, nodes: np.ndarray, trained: np.ndarray) -> dict:
    """A step's clipping as JSON writes it (SPEC.md §9): the mode and threshold, the norm and the factor
    (norm), and each trained parameter's gradient after clipping."""
    spec = clipping.spec
    record: dict = {"mode": spec.mode, spec.mode if spec.mode == "value" else "max_norm": spec.threshold}
    if spec.mode == "norm":
        record.update(norm_squared=clipping.square, norm=clipping.norm, clip_coef=clipping.coef, factor=clipping.factor)
    record["clipped"] = {key: float(clipping.clipped[n]) for key, n, t in zip(keys_, nodes, trained[nodes]) if t}
    return record


def _feature_maps(network: Network, values: np.ndarray, engine: sweep.Pass) -> tuple[FeatureMaps, ...]:
    """Each conv2d and pooling layer's grids in the first sample, as the engine computed them."""
    problem = network.problem
    out = []
    reads = "x"
    source = network.graph.family("x", None, len(problem.input_shape or (1,)))
    for l, layer in enumerate(problem.layers, start=1):
        z, a = network.families_of(l)
        if layer.kind == "dense" and not layer.per_step and z is not None and a is not None:
            W = network.graph.family("W", l, 2)
            out.append(FeatureMaps(
                layer=l, kind="dense", reads=reads, inputs=values[0, source.ids].reshape(1, -1),
                z=values[0, z.ids].reshape(1, -1), a=values[0, a.ids].reshape(1, -1), delta=engine.adjoint[0, z.ids].reshape(1, -1),
                input_gradient=None if reads == "x" else engine.adjoint[0, source.ids].reshape(1, -1),
                kernel=values[0, W.ids].reshape(W.shape), kernel_gradient=engine.gradient[W.ids].reshape(W.shape),
            ))
        if layer.kind not in ("conv2d", "maxpool2d", "avgpool2d"):
            if a is not None:
                source, reads = a, f"a{l}"
            continue
        assert a is not None
        kernel = kernel_gradient = None
        if layer.kind == "conv2d":
            W = network.graph.family("W", l, 4)
            kernel, kernel_gradient = values[0, W.ids].reshape(W.shape), engine.gradient[W.ids].reshape(W.shape)
        out.append(FeatureMaps(
            layer=l, kind=layer.kind, reads=reads,
            inputs=values[0, source.ids].reshape(layer.in_shape),
            z=None if z is None else values[0, z.ids].reshape(z.shape),
            a=values[0, a.ids].reshape(a.shape),
            delta=engine.adjoint[0, (z or a).ids].reshape(a.shape),
            input_gradient=None if reads == "x" else engine.adjoint[0, source.ids].reshape(layer.in_shape),
            kernel=kernel, kernel_gradient=kernel_gradient, stride=layer.stride, padding=layer.padding,
            dilation=layer.dilation, window=layer.kernel, ceil_mode=layer.ceil_mode, unread=_unread(layer),
        ))
        source, reads = a, f"a{l}"
    return tuple(out)


def _unread(layer) -> tuple[int, int]:
    """How many of the last rows and columns of a conv or pooling layer's input no window reads
    (the floor of the output length leaves them): their gradient through this layer is 0."""
    out = []
    for n, k, s, p, d, o in zip(layer.in_shape[1:], layer.kernel, layer.stride, layer.padding, layer.dilation, layer.out_shape[1:]):
        last = (o - 1) * s + d * (k - 1) - p  # the last input position the last window reads
        out.append(max(0, n - 1 - last))
    return (out[0], out[1])


def _recurrent_arrays(network: Network, values: np.ndarray, engine: sweep.Pass) -> tuple[RecurrentArrays, ...]:
    """Each rnn layer step by step, as the engine computed it, with the textbook's sums over the
    steps made from the engine's arrays: W_aboveᵀ δ_above,t, Uᵀ δ_{t+1}, Σ_t δ_t x_tᵀ,
    Σ_t δ_t h_{t−1}ᵀ, Σ_t δ_t (verify checks them against the engine's own adjoints and gradients)."""
    problem, graph = network.problem, network.graph
    weight = 1.0 / values.shape[0] if network.samples_combine == "mean" else 1.0
    out = []
    for l, layer in enumerate(problem.layers, start=1):
        if layer.kind != "rnn":
            continue
        steps, n = layer.in_shape
        states = graph.stepped("a", l)  # h_0 … h_T
        zs = graph.stepped("z", l)
        state_ids = np.stack([f.ids for f in states])  # (T + 1, units)
        z_ids = np.stack([f.ids for f in zs])
        if l == 1:
            x = graph.family("x", None, 2)
            input_ids = x.ids.reshape(steps, n)
        else:
            input_ids = np.stack([f.ids for f in graph.stepped("a", l - 1)[1:]])
        slope = np.stack([engine.local[f.start][:, :, 0] for f in states[1:]], axis=1)  # (S, T, units)
        W = graph.family("W", l, 2)
        U = graph.family("U", l, 2)
        b = network.bias(l) if layer.bias is not None else None
        upper = problem.layers[l]  # the last layer is dense: an rnn always has a layer above
        above_W = graph.family("W", l + 1, 2)
        m = upper.units
        every = layer.returns == "sequence"
        delta_above = np.zeros((values.shape[0], steps, m))
        if every:
            delta_above[:] = np.stack([engine.adjoint[:, f.ids] for f in graph.stepped("z", l + 1)], axis=1)
        else:
            z_top, _ = network.families_of(l + 1)
            assert z_top is not None
            delta_above[:, -1] = engine.adjoint[:, z_top.ids]
        weights_above = values[0, above_W.ids].reshape(above_W.shape)
        recurrent = values[0, U.ids].reshape(U.shape)
        delta = engine.adjoint[:, z_ids]  # (S, T, units)
        through = np.zeros_like(delta)
        through[:, :-1] = np.einsum("stk,kj->stj", delta[:, 1:], recurrent)
        inputs = values[:, input_ids]
        h = values[:, state_ids]
        weight_terms = np.einsum("stj,sti->stji", delta, inputs)
        recurrent_terms = np.einsum("stj,stk->stjk", delta, h[:, :-1])
        out.append(RecurrentArrays(
            layer=l, activation=layer.activation.name, reads="x" if l == 1 else f"a{l - 1}", above=l + 1, above_every_step=every,
            inputs=inputs, states=h, z=values[:, z_ids], slope=slope, dloss_da=engine.adjoint[:, state_ids[1:]], delta=delta,
            delta_above=delta_above, from_above=np.einsum("stm,mj->stj", delta_above, weights_above), through_next=through,
            weights=values[0, W.ids].reshape(W.shape), recurrent=recurrent, bias=None if b is None else values[0, b.ids],
            weights_above=weights_above, weight_terms=weight_terms, recurrent_terms=recurrent_terms,
            weight_sum=weight * weight_terms.sum(axis=(0, 1)), recurrent_sum=weight * recurrent_terms.sum(axis=(0, 1)),
            bias_sum=None if b is None else weight * delta.sum(axis=(0, 1)),
            weight_gradient=engine.gradient[W.ids].reshape(W.shape), recurrent_gradient=engine.gradient[U.ids].reshape(U.shape),
            bias_gradient=None if b is None else engine.gradient[b.ids],
        ))
    return tuple(out)


def _records(network: Network, values: np.ndarray, batch: tuple[int, ...] | None = None) -> tuple[dict, ...]:
    """Each sample's forward pass layer by layer, as JSON writes it (SPEC.md §5); a batch's samples
    numbered as in the data."""
    graph = network.graph
    out = []
    for s in range(values.shape[0]):
        layers = []
        for l in range(1, network.depth + 1):
            z, a, shape = network.layer_nodes(l)
            entry = {}
            if z is not None:
                entry["z"] = values[s, z].reshape(shape).tolist()
            if a is not None:
                entry["a"] = values[s, a].reshape(shape).tolist()
            layers.append(entry)
        out.append({"sample": batch[s] if batch else s + 1, "layers": layers, "loss": float(values[s, graph.output])})
    return tuple(out)


def _layer_arrays(network: Network, values: np.ndarray, engine: sweep.Pass, trained: np.ndarray, rates: np.ndarray,
                  penalty: np.ndarray | None, optimizing: Optimizing, clipping: clipping_.Clipping | None = None) -> tuple[LayerArrays, ...]:
    """The matrix form's data: each layer's vectors and matrices, as the engine computed them."""
    graph = network.graph
    out = []
    previous = graph.family("x")
    for l, spec in enumerate(network.problem.layers, start=1):
        W, z, a = graph.family("W", l, 2), graph.family("z", l), graph.family("a", l)
        b = network.bias(l) if spec.bias is not None else None
        local = engine.local[a.start]
        slope = local[:, :, :] if a.positions is not None else local[:, :, 0]
        shape = (spec.units, spec.inputs)
        out.append(
            LayerArrays(
                number=l,
                activation=spec.activation.name,
                units=spec.units,
                inputs=values[:, previous.ids],
                z=values[:, z.ids],
                a=values[:, a.ids],
                dloss_da=engine.adjoint[:, a.ids],
                dloss_dz=engine.adjoint[:, z.ids],
                slope=slope,
                weights=values[0, W.ids].reshape(shape),
                bias=None if b is None else values[0, b.ids],
                weight_gradients=engine.adjoint[:, W.ids].reshape((-1,) + shape),
                bias_gradients=None if b is None else engine.adjoint[:, b.ids],
                weight_gradient=engine.gradient[W.ids].reshape(shape),
                bias_gradient=None if b is None else engine.gradient[b.ids],
                weights_after=engine.after[W.ids].reshape(shape),
                bias_after=None if b is None else engine.after[b.ids],
                trained_weights=trained[W.ids].reshape(shape),
                trained_bias=None if b is None else trained[b.ids],
                rate=float(rates[W.ids[0]]),
                penalty_gradient=None if penalty is None else penalty[W.ids].reshape(shape),
                weight_states={k: v[W.ids].reshape(shape) for k, v in optimizing.computed.items() if k != optimizers.AFTER}
                if not optimizing.spec.plain else {},
                bias_states={k: v[b.ids] for k, v in optimizing.computed.items() if k != optimizers.AFTER}
                if (b is not None and not optimizing.spec.plain) else {},
                weight_clipped=None if clipping is None else clipping.clipped[W.ids].reshape(shape),
                bias_clipped=None if (clipping is None or b is None) else clipping.clipped[b.ids],
            )
        )
        previous = a
    return tuple(out)


def _derivations(network: Network) -> Derivations:
    activations = []
    loss = ()
    for op, layers in network.operations:
        if not layers:
            loss = op.derivation()
            continue
        cases = op.derivation()
        if cases:
            units = network.problem.layers[layers[0] - 1].units
            activations.append((op.name, layers, units, cases))
    return Derivations(tuple(activations), loss)


def _notes(network: Network, problem: Problem, passes, symbolic: bool, batched: bool, derived_steps: int) -> list[str]:
    notes = []
    graph = network.graph
    for l in range(1, network.depth + 1):
        z, a = network.families_of(l)
        if a is None:
            continue
        op = a.op
        assert op is not None
        note = op.kink_note()
        # a kink or a tie met exactly in the decimals (tracer.core.exact), in a written-out step
        starts = [f.start for f in graph.stepped("a", l)[1:]] or [a.start]  # a recurrent layer: every time step
        if note and any(step.derived and any(k in engine.kinks for k in starts) for step, _data, engine in passes):
            notes.append(note)
        if isinstance(op, functions.Pool):
            continue
        if isinstance(op, functions.Step):
            notes.append(
                f"layer {l} uses the step (threshold) activation: its derivative is 0 wherever it exists, "
                "so no gradient flows through it and backpropagation cannot train the weights before it"
            )
    for family in graph.families:  # a loss with a kink (the hinge's 1 − y·o = 0), met exactly in the decimals
        if isinstance(family.op, functions.LossTerm) and family.op.kink_note():
            if any(step.derived and family.start in engine.kinks for step, _data, engine in passes):
                notes.append(family.op.kink_note())
    if not symbolic:
        notes.append(
            f"{len(problem.data)} samples × {len(problem.parameter_keys)} parameters is too large to write out: "
            "every number below comes from the NumPy engine (tracer.numeric.training)"
        )
    if batched and derived_steps:
        for step, _data, _engine in passes:
            if step.batch:
                notes.append(f"update {step.number} is written out on its batch: sample(s) {', '.join(map(str, step.batch))} of the data")
    return notes


# ---------------------------------------------------------------------------
# The display policy
# ---------------------------------------------------------------------------


class Layout(Protocol):
    """What the display policy asks of a builder's graph (a layered network's
    :class:`~tracer.layers.network.Network`, a graph problem's
    :class:`~tracer.layers.equations.System`)."""

    graph: Graph
    problem: Problem | GraphProblem
    depth: int  # the backward pass's sections (a network's layers; a graph problem has one)
    samples_combine: str  # "sum" | "mean"
    sequential: bool  # a layer's update right after its gradients (Mazur's order)
    objective: Quantity  # what the gradients are of: the total loss, a graph's output
    seeded: bool  # the backward pass opens with ∂objective/∂objective = 1

    def section_title(self, layer: int) -> str: ...

    def backward_families(self, layer: int) -> list[Family]: ...


class Writer:
    """Writes one training step (``engine`` given) or the closing forward pass (``engine`` None)
    from the engine's numbers: the whole document in order (:meth:`sections`), or one step by
    its key (:meth:`step`) with only what that step needs. Every step is made once."""

    def __init__(self, network: Layout, data, values: np.ndarray, engine: sweep.Pass | None, number: keys.Step,
                 origin: int, trained: np.ndarray, rate: "float | np.ndarray", optimizing: Optimizing | None = None,
                 numbers: tuple[int, ...] | None = None, clipping: clipping_.Clipping | None = None):
        self.network = network
        #: each row's sample number as the problem's table numbers it (a mini-batch's second update: 3, 4)
        self.numbers = tuple(range(1, values.shape[0] + 1)) if numbers is None else tuple(numbers)
        self.graph = network.graph
        self.data = data
        self.values = values
        self.engine = engine
        self.number = number
        self.origin = origin
        self.trained = trained
        self.rate = rate  # one for every parameter, or per node (a layer's own learning rate)
        #: training.clip: the gradients the optimizer reads are the clipped ones (so even plain
        #: gradient descent is written as its rule, θ' = θ − η·g̃); plain gradient descent at a scheduled
        #: rate is written as the optimizer sgd, its η that of the step
        self.clipping = clipping
        self.optimizing = None if optimizing is None or (optimizing.spec.plain and clipping is None and not optimizing.scheduled) else optimizing
        self._clip_steps: dict[Key, Step] = {}
        self._states: dict[int, tuple[Step, ...]] = {}
        self._ranks: dict[Key, tuple] = {}  # each key's place in the document, worked out once
        self.samples = values.shape[0]
        # loss.regularization: the penalty is a term of the total loss that is no sample's, so the
        # samples' losses and gradients are named by sample (#1) and combined, as with several
        self.penalty = _penalty(network.problem) if network.objective == LOSS else None
        self.combine = self.samples > 1 or self.penalty is not None
        self._penalty_step: Step | None = None
        self._penalty_gradient: dict[int, Step] = {}
        self.problem = network.problem
        self.sequential = network.sequential
        self.objective = network.objective
        self._forward: dict[tuple[int, int], Step] = {}
        self._local: dict[tuple[int, int, int], Step] = {}
        self._local_by_key: dict[Key, Step] = {}
        self._gradient: dict[tuple[int, int], Step] = {}
        self._combined: dict[int, Step] = {}
        self._update: dict[int, Step] = {}
        self._rate_step: Step | None = None
        self._total: Step | None = None
        self._seed: Step | None = None
        self._place: dict[int, tuple[int, int]] = {}  # family start → (section layer, rank in it)
        for layer in range(1, network.depth + 1):
            for rank, family in enumerate(network.backward_families(layer)):
                self._place[family.start] = (layer, rank)

    # -- keys and factors -------------------------------------------------------------
    def tag(self, s: int) -> int | None:
        return self.numbers[s] if self.combine else None

    def key(self, node: int, s: int) -> Quantity:
        return self.graph.key(node, self.tag(s), self.number)

    def loss_key(self, s: int) -> Quantity:
        if self.number == END and not self.combine and self.objective == LOSS:
            return LOSS_AFTER
        return self.key(self.graph.output, s)

    def given(self, node: int, s: int, updated: bool = False) -> Factor:
        """The value of a node as an argument: a computed node's step, a given number, or a
        parameter (named as the update that produced it, if one did)."""
        family = self.graph.family_of(node)
        if family.op is not None:
            key = self.loss_key(s) if node == self.graph.output else self.key(node, s)
            return Factor(key, float(self.values[s, node]), key)
        if family.shared:
            if updated:  # sequential order: updated earlier in this very step
                key = family.key(node).updated().at_step(self.number)
                return Factor(key, float(self.engine.after[node]), key)
            if self.origin and self.trained[node]:  # the value an update wrote out: name it so (w5⁺)
                made = family.key(node).updated().at_step(self.origin)
                return Factor(made, float(self.values[s, node]), made)
            return Factor(family.key(node), float(self.values[s, node]), None)
        return Factor(family.key(node, self.tag(s)), float(self.values[s, node]), None)

    @staticmethod
    def factor(step: Step) -> Factor:
        return Factor(step.key, step.value, step.key)

    def partial(self, of: Quantity, node: int, s: int | None) -> Partial:
        return Partial(of.plain(), self.graph.key(node).plain(), None if s is None else self.tag(s), self.number)

    # -- the steps, each made once ----------------------------------------------------------
    def forward(self, node: int, s: int) -> Step:
        """A node's equation: symbolic = substituted = value."""
        made = self._forward.get((node, s))
        if made is not None:
            return made
        family = self.graph.family_of(node)
        row = node - family.start
        args = family.args[row]
        key = self.loss_key(s) if node == self.graph.output else self.key(node, s)
        value = float(self.values[s, node])
        op = family.op
        if isinstance(op, WeightedSum):
            n = op.terms
            terms = tuple((self.given(int(args[i]), s), self.given(int(args[n + i]), s)) for i in range(n))
            bias = self.given(int(args[2 * n]), s) if op.bias else None
            step = Step(key, Affine(terms, bias), value, "forward")
        else:
            position = int(family.positions[row]) if family.positions is not None else 0
            symbols = [symbol(self.graph.key(int(a))) for a in args]
            kind = "activation" if family.kind == "a" else ("loss" if family.stage == "loss" else "forward")
            step = Step(key, Expression(op.expression(symbols, position), self._bindings(args, s, symbols)), value, kind)
        self._forward[(node, s)] = step
        return step

    def _bindings(self, args, s: int, symbols) -> tuple[Binding, ...]:
        seen: dict[int, Binding] = {}
        for k, a in enumerate(args):
            a = int(a)
            if a not in seen:
                factor = self.given(a, s)
                seen[a] = Binding(symbols[k], factor.target, factor.value, factor.ref)
        return tuple(seen.values())

    def total(self) -> Step:
        """The total loss of several samples: their sum (or mean)."""
        if self._total is None:
            terms = tuple(Chain((self.factor(self.forward(self.graph.output, s)),)) for s in range(self.samples))
            mean = self.network.samples_combine == "mean" and self.samples > 1
            key = LOSS_AFTER if self.number == END else LOSS.at_step(self.number)
            extra = (Chain((self.factor(self.penalty_step()),)),) if self.penalty is not None else ()
            self._total = Step(key, Sum(terms, 1 / self.samples if mean else None, f"mean over {self.samples} samples" if mean else "", extra=extra),
                               _total(self.network, self.values), "loss")
        return self._total

    def local(self, consumer: int, slot: int, s: int) -> Step:
        """∂consumer/∂(its argument at ``slot``), in its textbook form, for sample s (made once per
        training step where it is the same in every sample: ∂z/∂a = w)."""
        made = self._local.get((consumer, slot, s))
        if made is None:
            made = self._local_step(consumer, slot, s)
            made = self._local_by_key.setdefault(made.key, made)
            self._local[(consumer, slot, s)] = made
        return made

    def _local_step(self, consumer: int, slot: int, s: int) -> Step:
        family = self.graph.family_of(consumer)
        row = consumer - family.start
        args = [int(a) for a in family.args[row]]
        position = int(family.positions[row]) if family.positions is not None else 0
        op = family.op
        argument_is_parameter = bool(self.graph.shared[args[slot]])
        updated = self.engine.updated_within

        def is_updated(node: int) -> bool:
            return not argument_is_parameter and self.graph.family_of(node).start in updated

        functions.check_textbook_form(op)  # a derivative is printed only as SymPy derived it (once per kind)
        textbook = op.textbook(slot, position)
        free = textbook.free_symbols
        outputs = self._outputs(family, row)
        names = {ARG[slot]: symbol(self.graph.key(args[slot]))}
        present = [k for k in range(len(args)) if ARG[k] in free]
        names.update({ARG[k]: symbol(self.graph.key(args[k])) for k in present})
        names.update({OUT[m]: symbol(self.graph.key(node)) for m, node in outputs.items() if OUT[m] in free})
        bindings: list[Binding] = []
        seen: set[int] = set()
        note = ""
        for k in present:
            a = args[k]
            if a not in seen:
                seen.add(a)
                factor = self.given(a, s, updated=is_updated(a))
                bindings.append(Binding(names[ARG[k]], factor.target, factor.value, factor.ref))
                if is_updated(a):
                    note = UPDATED_NOTE
        own = position if family.positions is not None else 0
        for m in sorted(outputs, key=lambda m: (m != own, m)):
            node = outputs[m]
            if OUT[m] in free and node not in seen:
                seen.add(node)
                factor = self.given(node, s)
                bindings.append(Binding(names[OUT[m]], factor.target, factor.value, factor.ref))
        shown_equation = not (isinstance(op, WeightedSum) and op.terms > SHOWN_EQUATION_TERMS)
        if shown_equation:  # the whole local equation, each of its symbols named
            names.update({ARG[k]: symbol(self.graph.key(a)) for k, a in enumerate(args)})
        form = Expression(
            renamed(textbook, names),
            tuple(bindings),
            derivation=op.derived(slot, position).xreplace(names),
            local_equation=op.expression([names[ARG[k]] for k in range(len(args))], position) if shown_equation else None,
            wrt=names[ARG[slot]],
            names=tuple((symbol(self.graph.key(a)), self.graph.key(a).plain()) for a in dict.fromkeys(args)) if shown_equation else (),
        )
        sample_free = bool(bindings) and all(self.graph.shared[self.graph.node_of(b.target.plain())] for b in bindings)
        # the output's own equation, differentiated w.r.t. a node other nodes use too: its local
        # derivative is not the gradient ∂f/∂x, and is named apart (df/dx|local)
        apart = consumer == self.graph.output and len(self.graph.consumers_of(args[slot])) > 1
        key = Partial(self.graph.key(consumer).plain(), self.graph.key(args[slot]).plain(), None if sample_free else self.tag(s), self.number, apart)
        value = float(self.engine.local[family.start][s, row, slot])
        if family.kind == "node" and not note:
            note = gates.rule_of(op, slot)  # how the gate passes the gradient back (CS231n's add, multiply, max …)
        return Step(key, form, value, "local", note)

    def _outputs(self, family: Family, row: int) -> dict[int, int]:
        """The outputs of a node's group the textbook form may use, by position (OUT[m])."""
        if family.positions is None:
            return {0: family.start + row}
        return {int(p): family.start + k for k, p in enumerate(family.positions)}

    def has_gradient(self, node: int) -> bool:
        """Does the document write ∂loss/∂node (every node but the loss itself, the constants
        — inputs, targets — and the terms differentiated through)?"""
        family = self.graph.family_of(node)
        if node == self.graph.output or family.fused or family.constant:
            return False
        return family.op is not None or family.shared

    def gradient(self, node: int, s: int) -> Step:
        """∂(sample s's loss)/∂node, by the chain rule through its consumers."""
        made = self._gradient.get((node, s))
        if made is not None:
            return made
        family = self.graph.family_of(node)
        users = self.graph.consumers_of(node)
        key = self.partial(self.objective, node, s)
        value = float(self.engine.adjoint[s, node])
        kind = "gradient" if family.shared else "backward"
        if len(users) == 1 and self.graph.family_of(users[0][0]).fused:
            step = Step(key, self._through_term(node, users[0], s), value, "local")
        elif len(users) == 1 and users[0][0] == self.graph.output:
            step = self.local(users[0][0], users[0][1], s)  # used by the output only: its gradient is the local derivative
        elif len(users) == 1:
            consumer, slot = users[0]
            upstream = self.gradient(consumer, s)
            local = self.local(consumer, slot, s)
            if isinstance(upstream.form, Chain):
                factors = upstream.form.factors + (self.factor(local),)
            else:
                factors = (self.factor(upstream), self.factor(local))
            step = Step(key, Chain(factors), value, kind)
        else:
            terms = tuple(
                Chain((self.factor(self.local(c, slot, s)),)) if c == self.graph.output
                else Chain((self.factor(self.gradient(c, s)), self.factor(self.local(c, slot, s))))
                for c, slot in users
            )
            vanishing = tuple(any(f.value == 0.0 for f in t.factors) for t in terms)
            step = Step(key, Sum(terms, None, "", vanishing), value, kind, self._unread(family) if not users else "")
        shortcut = self._shortcut(node, s, value)
        if shortcut is not None:
            step = replace(step, shortcut=shortcut[0], note=shortcut[1])
        self._gradient[(node, s)] = step
        return step

    def _unread(self, family: Family) -> str:
        """Why a node that nothing reads has gradient 0: the windows of the conv or pooling layer
        above, whose output size is rounded down (torch's floor), leave it out."""
        layers = self.network.problem.layers
        above = 0 if family.kind == "x" else (family.layer or 0)
        if family.kind in ("x", "a") and above < len(layers) and layers[above].kind in ("conv2d", "maxpool2d", "avgpool2d"):
            return (f"no window of layer {above + 1} ({layers[above].kind}) reads it (its output size is rounded down, as "
                    "torch does): nothing depends on it")
        return "nothing computed from it reaches the loss"

    #: (output activation, loss) whose ∂loss/∂z_j the texts shorten to a_j − y_j (natural log, outputs summed)
    SHORTCUTS = {("softmax", "cross_entropy"): "softmax with cross-entropy", ("sigmoid", "binary_cross_entropy"): "sigmoid with binary cross-entropy"}

    def _shortcut(self, node: int, s: int, value: float) -> tuple[Expression, str] | None:
        """∂loss/∂z_j of the output layer written again as the texts shorten it, a_j − y_j, after the
        chain (not instead of it): for softmax with cross-entropy and sigmoid with binary
        cross-entropy, each in natural logarithms with the outputs' terms summed (else (a − y)/K or
        (a − y)/ln 10, which the texts do not write). None elsewhere, and where the two numbers
        differ beyond rounding (they never should: then the chain alone is written)."""
        problem = self.problem
        if not isinstance(problem, Problem) or self.objective != LOSS or problem.target_steps:
            return None
        loss, last = problem.loss, problem.layers[-1]
        what = self.SHORTCUTS.get((last.activation.name, loss.kind))
        if what is None or loss.log != "ln" or loss.outputs != "sum":
            return None
        family = self.graph.family_of(node)
        if family.kind != "z" or family.layer != len(problem.layers) or family.op is None:
            return None
        j = node - family.start
        activation = next((c for c, _slot in self.graph.consumers_of(node)
                           if (self.graph.family_of(c).positions is None or int(self.graph.family_of(c).positions[c - self.graph.family_of(c).start]) == j)), None)
        if activation is None:
            return None
        users = self.graph.consumers_of(activation)
        if len(users) != 1 or not self.graph.family_of(users[0][0]).fused:
            return None
        term = users[0][0]
        term_family = self.graph.family_of(term)
        o, y = (int(a) for a in term_family.args[term - term_family.start])
        if o != activation:
            return None
        difference = float(self.values[s, o]) - float(self.values[s, y])
        if abs(difference - value) > 1e-12 * max(1.0, abs(value)):
            return None
        symbols = [symbol(self.graph.key(o)), symbol(self.graph.key(y))]
        form = Expression(sp.Add(symbols[0], -symbols[1], evaluate=False), self._bindings([o, y], s, symbols))
        return form, f"{what}: the shortcut ∂loss/∂z = a − y gives the same number"

    def _through_term(self, node: int, use: tuple[int, int], s: int) -> Expression:
        """∂loss/∂v where v's only use is a term of a sum (a loss term of the sample's loss): the
        derivative of the whole sum, written as the texts do (``−(y − o)``, ``−y/o``)."""
        term, slot = use
        term_family = self.graph.family_of(term)
        (total, term_slot), = self.graph.consumers_of(term)
        total_family = self.graph.family_of(total)
        functions.check_textbook_form(term_family.op)
        functions.check_textbook_form(total_family.op)
        term_args = [int(a) for a in term_family.args[term - term_family.start]]
        total_args = [int(a) for a in total_family.args[total - total_family.start]]
        names = {ARG[k]: symbol(self.graph.key(a)) for k, a in enumerate(term_args)}
        inner = term_family.op.textbook(slot)
        outer = total_family.op.textbook(term_slot)
        symbolic = renamed(inner, names)
        derivation = term_family.op.derived(slot).xreplace(names)
        if outer != 1:
            symbolic = sp.Mul(outer, symbolic, evaluate=False)
            derivation = outer * derivation
        equations = [term_family.op.expression([symbol(self.graph.key(int(a))) for a in term_family.args[t - term_family.start]])
                     for t in total_args]
        free = inner.free_symbols
        bindings = []
        for k, a in enumerate(term_args):
            if ARG[k] in free:
                factor = self.given(a, s)
                bindings.append(Binding(names[ARG[k]], factor.target, factor.value, factor.ref))
        everything = dict.fromkeys(int(a) for t in total_args for a in term_family.args[t - term_family.start])
        return Expression(symbolic, tuple(bindings), derivation=derivation,
                          local_equation=total_family.op.expression(equations), wrt=names[ARG[slot]],
                          names=tuple((symbol(self.graph.key(a)), self.graph.key(a).plain()) for a in everything))

    def seed(self) -> Step:
        """∂f/∂f = 1: where a graph's backward pass starts."""
        if self._seed is None:
            key = Partial(self.objective, self.objective, None, self.number)
            self._seed = Step(key, Expression(sp.Integer(1), ()), 1.0, "backward", "the gradient of the output with respect to itself")
        return self._seed

    def combined(self, node: int) -> Step:
        """∂loss/∂θ of the total loss: the per-sample gradients summed (or averaged)."""
        made = self._combined.get(node)
        if made is None:
            mean = self.network.samples_combine == "mean" and self.samples > 1
            terms = tuple(Chain((self.factor(self.gradient(node, s)),)) for s in range(self.samples))
            extra = (Chain((self.factor(self.penalty_gradient(node)),)),) if self.penalized(node) else ()
            made = Step(self.partial(self.objective, node, None), Sum(terms, 1 / self.samples if mean else None,
                        f"mean over {self.samples} samples" if mean else "", extra=extra), float(self.engine.gradient[node]), "gradient")
            self._combined[node] = made
        return made

    # -- loss.regularization ----------------------------------------------------------------
    def penalized(self, node: int) -> bool:
        return self.penalty is not None and bool(self._weight_mask[node])

    @property
    def _weight_mask(self) -> np.ndarray:
        mask = np.zeros(self.graph.size, dtype=bool)
        mask[self.network.weight_nodes] = True  # type: ignore[attr-defined]
        return mask

    def penalty_step(self) -> Step:
        """``penalty = (λ/2)·(w₁² + w₂² + …) + λ₁·(|w₁| + …)`` over every weight, at this step's values."""
        if self._penalty_step is None:
            assert self.penalty is not None
            nodes = [int(n) for n in self.network.weight_nodes]  # type: ignore[attr-defined]
            symbols = [sp.Symbol(f"w{k}", real=True) for k in range(len(nodes))]
            bindings = [Binding(sym, *self._binding(node)) for sym, node in zip(symbols, nodes)]
            bindings += [Binding(sym, keys.hyper("l2" if sym == functions.L2 else "l1"), value, None)
                         for sym, value in self.penalty.coefficients().items()]
            value = self.penalty.value(self.values[0, nodes])
            self._penalty_step = Step(keys.PENALTY.at_step(self.number), Expression(self.penalty.expression(symbols), tuple(bindings)), value, "loss")
        return self._penalty_step

    def _binding(self, node: int) -> tuple[Key, float, Key | None]:
        given = self.given(node, 0)
        return given.target, given.value, given.ref

    def penalty_gradient(self, node: int) -> Step:
        """``∂penalty/∂w = λ·w (+ λ₁·sign(w))``: SymPy's derivative of the weight's penalty term."""
        made = self._penalty_gradient.get(node)
        if made is None:
            assert self.penalty is not None
            w = sp.Symbol("w", real=True)
            expression = self.penalty.derivative(w)
            bindings = [Binding(w, *self._binding(node))]
            bindings += [Binding(sym, keys.hyper("l2" if sym == functions.L2 else "l1"), value, None)
                         for sym, value in self.penalty.coefficients().items() if sym in expression.free_symbols]
            value = float(self.penalty.gradient(self.values[0, [node]])[0])
            key = Partial(keys.PENALTY, self.graph.family_of(node).key(node), None, self.number)
            made = Step(key, Expression(expression, tuple(bindings), derivation=expression, local_equation=self.penalty.term(w), wrt=w), value, "gradient")
            self._penalty_gradient[node] = made
        return made

    def total_gradient(self, node: int) -> Step:
        return self.combined(node) if self.combine else self.gradient(node, 0)

    def rate_of(self, node: int) -> float:
        return float(self.rate[node]) if np.ndim(self.rate) else float(self.rate)

    def update(self, node: int) -> Step:
        """θ' = θ − η · ∂loss/∂θ of a trained parameter (an optimizer's: its last equation)."""
        made = self._update.get(node)
        if made is None:
            if self.optimizing is not None:
                return self.optimizer_steps(node)[-1]
            family = self.graph.family_of(node)
            key = family.key(node).updated().at_step(self.number)
            form = Update(self.given(node, 0), self.rate_of(node), self.factor(self.total_gradient(node)))
            made = Step(key, form, float(self.engine.after[node]), "update")
            self._update[node] = made
        return made

    def optimizer_steps(self, node: int) -> tuple[Step, ...]:
        """A parameter's optimizer equations in order (the states, Adam's corrected moments, θ'),
        each symbolic = substituted = value, the state of the step before referred back to."""
        made = self._states.get(node)
        if made is not None:
            return made
        assert self.optimizing is not None
        o = self.optimizing
        rule = optimizers.rule(o.spec)
        parameter = self.graph.family_of(node).key(node)
        gradient = self.factor(self.clipped(node) if self.clipping is not None else self.total_gradient(node))
        hyper = optimizers.hyperparameters(o.spec)
        bound: dict[sp.Symbol, tuple[Key, float, Key | None]] = {
            optimizers.THETA: (self.given(node, 0).target, self.given(node, 0).value, self.given(node, 0).ref),
            optimizers.GRAD: (gradient.target, gradient.value, gradient.ref),
            optimizers.RATE: ((keys.hyper("lr", self.number), self.rate_of(node), keys.hyper("lr", self.number)) if o.scheduled
                              else (keys.hyper("eta"), self.rate_of(node), None)),
            optimizers.T: (keys.hyper("t", self.number), float(o.t), None),
        }
        for name, value in hyper.items():
            bound[optimizers.HYPER[name]] = (keys.hyper(name), value, None)
        for name in rule.states:  # the state of the step before: zero (or training.state) at the first, else that step's
            before = parameter.state(name, self.number - 1)
            bound[optimizers.previous(name)] = (before, float(o.before[name][node]), before if self.number > 1 else None)
        steps: list[Step] = []
        for equation in rule.equations:
            symbols = sorted(equation.expression.free_symbols, key=lambda x: x.name)
            bindings = tuple(Binding(sym, *bound[sym]) for sym in symbols)
            value = float(o.computed[equation.target][node])
            if equation.target == optimizers.AFTER:
                key = parameter.updated().at_step(self.number)
                value = float(self.engine.after[node])
            else:
                key = parameter.state(equation.target, self.number)
                symbol = optimizers.STATE[equation.target]
                bound[symbol] = (key, value, key)
            steps.append(Step(key, Expression(equation.expression, bindings), value, "update"))
        made = tuple(steps)
        self._states[node] = made
        self._update[node] = made[-1]
        return made

    # -- training.clip ------------------------------------------------------------------------
    def clip_square(self) -> Step:
        """‖g‖² = (∂loss/∂θ₁)² + (∂loss/∂θ₂)² + … over every trained parameter (clip_grad_norm_'s total norm, squared)."""
        key = keys.GRAD_NORM_SQ.at_step(self.number)
        made = self._clip_steps.get(key)
        if made is None:
            assert self.clipping is not None and self.clipping.square is not None
            nodes = [int(n) for n in self.network.parameter_nodes if self.trained[int(n)]]  # type: ignore[attr-defined]
            symbols = [sp.Symbol(f"g{k}", real=True) for k in range(len(nodes))]
            bindings = []
            for sym, node in zip(symbols, nodes):
                factor = self.factor(self.total_gradient(node))
                bindings.append(Binding(sym, factor.target, factor.value, factor.ref))
            made = Step(key, Expression(clipping_.square_expression(symbols), tuple(bindings)), self.clipping.square, "gradient")
            self._clip_steps[key] = made
        return made

    def clip_norm(self) -> Step:
        """‖g‖ = √(‖g‖²), the total norm of clip_grad_norm_."""
        key = keys.GRAD_NORM.at_step(self.number)
        made = self._clip_steps.get(key)
        if made is None:
            assert self.clipping is not None and self.clipping.norm is not None
            square = self.factor(self.clip_square())
            made = Step(key, Expression(clipping_.norm_expression(), (Binding(clipping_.SQUARE, square.target, square.value, square.ref),)),
                        self.clipping.norm, "gradient")
            self._clip_steps[key] = made
        return made

    def clip_coef(self) -> Step:
        """clip_coef = max_norm/(‖g‖ + 10⁻⁶), torch's; whether it is below 1 is decided exactly."""
        key = keys.CLIP_COEF.at_step(self.number)
        made = self._clip_steps.get(key)
        if made is None:
            assert self.clipping is not None and self.clipping.coef is not None
            norm = self.factor(self.clip_norm())
            bindings = (Binding(clipping_.MAX_NORM, keys.hyper("max_norm"), self.clipping.spec.threshold, None),
                        Binding(clipping_.NORM, norm.target, norm.value, norm.ref))
            if self.clipping.scaled:
                note = "below 1: every gradient is multiplied by it"
            else:
                note = "at least 1, as the norm plus 1e-6 is within the max norm: every gradient stays as it is"
            made = Step(key, Expression(clipping_.coef_expression(), bindings), self.clipping.coef, "gradient", note)
            self._clip_steps[key] = made
        return made

    def clipped(self, node: int) -> Step:
        """g̃ of a trained parameter: min(clip_coef, 1)·∂loss/∂θ (norm), or min(max(∂loss/∂θ, −c), c) (value)."""
        key = self.graph.family_of(node).key(node).state("clipped", self.number)
        made = self._clip_steps.get(key)
        if made is None:
            c = self.clipping
            assert c is not None
            gradient = self.factor(self.total_gradient(node))
            bindings = [Binding(clipping_.GRAD, gradient.target, gradient.value, gradient.ref)]
            note = ""
            if c.spec.mode == "norm":
                coef = self.factor(self.clip_coef())
                bindings.insert(0, Binding(clipping_.COEF, coef.target, coef.value, coef.ref))
            else:
                bindings.append(Binding(clipping_.CLIP_VALUE, keys.hyper("clip_value"), c.spec.threshold, None))
                side = (c.clamped or {}).get(node)
                note = "" if side is None else ("above the clip value: clamped to it" if side > 0 else "below minus the clip value: clamped to it")
            made = Step(key, Expression(clipping_.clipped_expression(c.spec.mode), tuple(bindings)),
                        float(c.clipped[node]), "gradient", note)
            self._clip_steps[key] = made
        return made

    def clip_section(self) -> Section:
        """The clipping of this step's gradients, before the optimizer reads them."""
        c = self.clipping
        assert c is not None
        nodes = [int(n) for n in self.network.parameter_nodes if self.trained[int(n)]]  # type: ignore[attr-defined]
        head = (self.clip_square(), self.clip_norm(), self.clip_coef()) if c.spec.mode == "norm" else ()
        # a section title is set as it is in every format (no _ for LaTeX): the torch function is in the problem's line
        title = f"Gradient clipping by {c.spec.mode} ({c.spec.described().replace('_', ' ')})"
        return Section("gradients", title, head + tuple(self.clipped(n) for n in nodes))

    def rate_step(self) -> Step:
        """The learning rate of this update as ``training.schedule`` sets it: the schedule's equation
        for the scheduler steps n before it, ``η_3 = η·γ^⌊n/s⌋ = 0.1 × 0.5^⌊2/2⌋ = 0.05``."""
        made = self._rate_step
        if made is None:
            o = self.optimizing
            assert o is not None and o.schedule is not None
            phase = schedules.phase(o.schedule, o.n)
            values = schedules.bound(o.schedule, o.base, o.n)
            targets = {schedules.BASE: keys.hyper("eta"), schedules.N: keys.hyper("n_sched", self.number),
                       schedules.K: keys.hyper("k_decays", self.number), **{schedules.HYPER[name]: keys.hyper(name) for name in schedules.HYPER}}
            symbols = sorted(phase.expression.free_symbols, key=lambda x: x.name)
            bindings = tuple(Binding(sym, targets[sym], values[sym.name], None) for sym in symbols)
            value = schedules.rate(o.schedule, o.base, o.n)
            made = self._rate_step = Step(keys.hyper("lr", self.number), Expression(phase.expression, bindings), value, "update")
        return made

    def made(self) -> int:
        """How many distinct steps have been written so far."""
        return (len(self._forward) + len(self._local_by_key) + len(self._gradient) + len(self._combined) + len(self._update)
                + (self._total is not None) + (self._seed is not None))

    # -- one step by its key -----------------------------------------------------------------
    def step(self, key: Key) -> Step | None:
        """The step that computes ``key`` in this training step (None: there is none)."""
        if isinstance(key, Quantity):
            return self._quantity_step(key)
        if key.step != self.number or self.engine is None:
            return None
        if key.of.kind == "penalty":
            try:
                node = self.graph.node_of(key.wrt)
            except KeyError:
                return None
            return self.penalty_gradient(node) if self.penalized(node) and key.sample is None else None
        try:
            wrt = self.graph.node_of(key.wrt)
            of = None if (key.of == self.objective and not key.local) else self.graph.node_of(key.of)
        except KeyError:
            return None
        s = self._sample(key.sample)
        if of is None:  # ∂loss/∂node
            if wrt == self.graph.output and self.network.seeded:
                return self.seed()
            if not self.has_gradient(wrt):
                return None
            if key.sample is None and self.combine:
                return self.combined(wrt) if self.graph.family_of(wrt).shared else None
            return None if s is None else self.gradient(wrt, s)
        if s is None:
            if key.sample is not None:
                return None
            s = 0  # a local derivative the same in every sample (∂z/∂a = w)
        family = self.graph.family_of(of)  # ∂consumer/∂argument
        if family.op is None:
            return None
        args = [int(a) for a in family.args[of - family.start]]
        if wrt not in args:
            return None
        step = self.local(of, args.index(wrt), s)
        return step if step.key == key else None

    def _quantity_step(self, key: Quantity) -> Step | None:
        if key == LOSS_AFTER:
            if self.number != END:
                return None
            return self.total() if self.combine else self.forward(self.graph.output, 0)
        if key.kind == "hyper" and key.name == "lr":
            scheduled = self.optimizing is not None and self.optimizing.scheduled and self.engine is not None
            return self.rate_step() if scheduled and key.step == self.number else None
        if key.is_state:
            if self.optimizing is None or key.step != self.number or self.engine is None:
                return None
            try:
                node = self.graph.node_of(key.parameter)
            except KeyError:
                return None
            if not self.trained[node]:
                return None
            if key.kind == "clipped":
                return self.clipped(node) if self.clipping is not None else None
            return next((step for step in self.optimizer_steps(node) if step.key == key), None)
        if key.step != self.number:
            return None
        if key.after:
            if self.engine is None or key.sample is not None:
                return None
            try:
                node = self.graph.node_of(key.plain())
            except KeyError:
                return None
            return self.update(node) if self.trained[node] else None
        if key.is_total_loss and self.combine:
            return self.total()
        if key.kind == "penalty":
            return self.penalty_step() if self.penalty is not None else None
        if key.kind in ("grad_norm_sq", "grad_norm", "clip_coef"):
            if self.clipping is None or self.clipping.spec.mode != "norm" or self.engine is None:
                return None
            return {"grad_norm_sq": self.clip_square, "grad_norm": self.clip_norm, "clip_coef": self.clip_coef}[key.kind]()
        try:
            node = self.graph.node_of(key)
        except KeyError:
            return None
        if self.graph.family_of(node).op is None:
            return None  # a given number: no step
        s = self._sample(key.sample)
        return None if s is None else self.forward(node, s)

    def _sample(self, sample: int | None) -> int | None:
        """A key's sample as an index (None: the key names no sample where there are several)."""
        if not self.combine:
            return 0 if sample is None else None
        return self.numbers.index(sample) if sample in self.numbers else None

    # -- the document ---------------------------------------------------------------------------
    def rank(self, key: Key) -> tuple:
        """Where the step of ``key`` stands in this training step's document (worked out once per key)."""
        found = self._ranks.get(key)
        if found is None:
            found = self._ranks[key] = self._rank(key)
        return found

    def _rank(self, key: Key) -> tuple:
        step = self.step(key)
        if step is None:
            return (9,)
        if isinstance(key, Quantity):
            if key.kind == "hyper":
                return (4, -1)  # the scheduled rate: before every parameter's update
            if key.is_state:
                node = self.graph.node_of(key.parameter)
                if key.kind == "clipped":  # the clipping section, before the update's
                    return (4, -1, 2, node)
                return (4, node, [s.key for s in self.optimizer_steps(node)].index(key))
            if key.kind in ("grad_norm_sq", "grad_norm", "clip_coef"):
                return (4, -1, ("grad_norm_sq", "grad_norm", "clip_coef").index(key.kind) - 3)
            if key.after:
                node = self.graph.node_of(key.plain())
                layer = self._place[self.graph.family_of(node).start][0]
                return (3, -layer, 2, node) if self.sequential else (4, node, 99)
            if (key == LOSS_AFTER or key.is_total_loss) and self.combine:
                return (2,)
            if key.kind == "penalty":
                return (1, self.samples)  # after every sample's loss, before the total
            node = self.graph.output if key == LOSS_AFTER else self.graph.node_of(key)
            family = self.graph.family_of(node)
            s = self._sample(key.sample) or 0
            return (0 if family.stage == "forward" else 1, s, self.graph.families.index(family), node)
        s = 0 if key.sample is None else (self._sample(key.sample) or 0)
        if key.of.kind == "penalty":
            node = self.graph.node_of(key.wrt)
            return (3, -self._place[self.graph.family_of(node).start][0], 1, node, 0)
        if key.of == self.objective and not key.local:
            node = self.graph.node_of(key.wrt)
            if node == self.graph.output:
                return (3, -self.network.depth, -1)  # the seed, ∂f/∂f = 1
            layer, place = self._place[self.graph.family_of(node).start]
            if key.sample is None and self.combine:
                return (3, -layer, 1, node, 1)
            return (3, -layer, 0, s, place, node, 1)
        argument = self.graph.node_of(key.wrt)  # a local derivative: just before the first gradient that uses it
        user = argument if self.has_gradient(argument) else self.graph.node_of(key.of)
        layer, place = self._place[self.graph.family_of(user).start]
        return (3, -layer, 0, s, place, user, 0, self.graph.node_of(key.of))

    def forward_sections(self, kind: str, title: str) -> list[Section]:
        families = [f for f in self.graph.operations() if f.stage == "forward"]
        return [Section(kind, title, tuple(self.forward(int(n), s) for f in families for n in f.ids), sample=self.tag(s))
                for s in range(self.samples)]

    def loss_section(self, kind: str, title: str) -> Section:
        families = [f for f in self.graph.operations() if f.stage == "loss"]
        steps = [self.forward(int(n), s) for s in range(self.samples) for f in families for n in f.ids]
        if self.penalty is not None:
            steps.append(self.penalty_step())
        if self.combine:
            steps.append(self.total())
        return Section(kind, title, tuple(steps))

    def backward_sections(self) -> list[Section]:
        """Per layer from the output down: the backward pass (sample by sample, each local
        derivative just before the first gradient that uses it), the gradients of the total
        loss (several samples), the update (sequential order)."""
        sections: list[Section] = []
        written: set[Key] = set()
        for layer in range(self.network.depth, 0, -1):
            families = self.network.backward_families(layer)
            parameters = [f for f in families if f.op is None and f.shared]
            steps: list[Step] = []
            if self.network.seeded and layer == self.network.depth:
                steps.append(self.seed())
            for s in range(self.samples):
                for family in families:
                    for node in family.ids:
                        gradient = self.gradient(int(node), s)
                        for consumer, slot in self.graph.consumers_of(int(node)):
                            if self.graph.family_of(consumer).fused:
                                continue
                            local = self.local(consumer, slot, s)
                            if local.key not in written:
                                written.add(local.key)
                                steps.append(local)
                        if gradient.key not in written:
                            written.add(gradient.key)
                            steps.append(gradient)
            sections.append(Section("backward", f"Backward pass: {self.network.section_title(layer)}", tuple(steps), layer=layer))
            if self.combine:
                combined = tuple(step for f in parameters for n in f.ids
                                 for step in ((self.penalty_gradient(int(n)),) if self.penalized(int(n)) else ()) + (self.combined(int(n)),))
                sections.append(Section("gradients", f"Gradients of the total loss: layer {layer}", combined, layer=layer))
            if self.sequential:
                sections.append(Section("update", f"Update: layer {layer}", self._updates(parameters), layer=layer))
        if not self.sequential:
            if self.clipping is not None:
                sections.append(self.clip_section())
            parameters = [f for f in self.graph.families if f.op is None and f.shared]
            title = "Gradient-descent update" if self.optimizing is None else f"Update: {optimizers.rule(self.optimizing.spec).title}"
            sections.append(Section("update", title, self._updates(parameters)))
        return sections

    def _updates(self, parameters: list[Family]) -> tuple[Step, ...]:
        nodes = [int(n) for f in parameters for n in f.ids if self.trained[int(n)]]
        if self.optimizing is not None:
            rate = (self.rate_step(),) if self.optimizing.scheduled and nodes else ()
            return rate + tuple(step for n in nodes for step in self.optimizer_steps(n))
        return tuple(self.update(n) for n in nodes)

    def sections(self) -> tuple[Section, ...]:
        """The whole document of this training step (or of the final forward pass)."""
        graph_problem = self.objective != LOSS
        if self.number == END:
            what = "values" if graph_problem else "parameters"
            title = f"Forward pass with the updated {what}" if self.problem.training.steps else "Forward pass (no training step)"
            closing = tuple(self.forward_sections("forward_after", title))
            return closing if graph_problem else closing + (self.loss_section("loss_after", "Loss after the update"),)
        sections = self.forward_sections("forward", "Forward pass")
        if not graph_problem:
            sections.append(self.loss_section("loss", "Loss"))
        sections.extend(self.backward_sections())
        return tuple(sections)
