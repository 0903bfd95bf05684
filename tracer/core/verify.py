"""The one place where numbers are compared: every value of a solution against the independent
NumPy pass (:mod:`tracer.numeric`), the gradients against central finite differences.

Every number a step shows is read from the engine's arrays (:mod:`tracer.core.sweep`),
so checking the arrays checks every step: each node's value, each local derivative,
each gradient per sample and of the total loss, the update — and the training step's
own tables (``gradients``, ``params_after``), which documents and JSON print. The
result is a :class:`~tracer.core.solution.Verification` that every document prints
(how many values, the largest difference) and that makes the CLI exit 1 with the
quantity named when anything disagrees. The δ form of the first written-out step (the
NumPy δ law, shown equal to the scalar chain) is computed here too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import math

import numpy as np
import sympy as sp

from tracer import keys
from tracer.core import exact, functions, gates
from tracer.core.functions import real_derivative
from tracer.keys import LOSS, LOSS_AFTER, Partial, Quantity
from tracer.layers import perceptron
from tracer.layers.network import Network
from tracer.spec import to_mapping
from tracer.core.solution import DeltaForm, DeltaRow, GraphSolution, Mismatch, Skipped, Solution, Verification
from tracer.core.sweep import Pass
from tracer.numeric import graph as graph_numeric
from tracer.numeric import layers as layers_numeric
from tracer.numeric import mlp as numeric
from tracer.numeric import clipping as clipping_numeric
from tracer.numeric import optimizers as optimizers_numeric
from tracer.numeric import schedules as schedules_numeric

#: agreement demanded of the two engines: they do the same arithmetic in another order
RELATIVE = 1e-9
#: finite differences (central, h = 1e-6) are accurate to about this, relative to the gradient's scale
FD_RELATIVE = 1e-5
#: the step of central differences (relative to the value moved, at least this)
FD_STEP = 1e-6


def _magnitude(solution) -> float:
    """The largest finite value of the first pass (every node: inputs, weighted sums, outputs).
    A loss of 1 computed from weighted sums of 2e9 (a bias of 2^31 under a softmax, which
    cancels it) carries their rounding, ε·2e9, not ε·1: finite differences see that noise."""
    engine = getattr(solution, "engine", None)
    if engine is None or not engine.passes:
        return 0.0
    return _largest_finite(engine.passes[0][2].values)


def _largest_finite(values) -> float:
    """max |v| over the finite values (0 when there is none)."""
    values = np.abs(np.asarray(values, dtype=float))
    return float(values[np.isfinite(values)].max(initial=0.0))


def fd_noise(loss: float, h: float) -> float:
    """What a central difference of step h cannot resolve: the loss's own rounding, ε·|L|, over 2h,
    with room (a loss of 4.6e18 leaves no digit for a gradient of 3e7 at h = 1e-6)."""
    return 16 * np.finfo(float).eps * abs(loss) / (2 * h) if math.isfinite(loss) else math.inf
#: finite differences cost two passes per parameter: skip them beyond this many parameters
FD_MAX_PARAMETERS = 2000
#: the δ form is written for layers up to this width (wider ones: ``--form matrix``)
DELTA_MAX_UNITS = 8


@dataclass(frozen=True, eq=False)
class Engine:
    """The engine's arrays behind a solution: the passes of its training steps (number, the
    samples it ran on, the pass) and the values of the closing forward pass."""

    network: Network
    passes: tuple[tuple[int, tuple, Pass], ...]
    closing: np.ndarray | None


class _Checker:
    def __init__(self) -> None:
        self.count = 0
        self.max_diff = 0.0
        self.mismatches: list[Mismatch] = []
        self.skipped: list[Skipped] = []

    def scalar(self, name: str, engine: float, reference: float, against: str = "numpy", tol: float = RELATIVE) -> None:
        self.array(lambda k: name, np.array([engine]), np.array([reference]), against, tol)

    def array(self, name: Callable[[int], str], engine, reference, against: str = "numpy", tol: float = RELATIVE) -> None:
        engine = np.asarray(engine, dtype=float).ravel()
        reference = np.asarray(reference, dtype=float).ravel()
        assert engine.shape == reference.shape, (name(0), engine.shape, reference.shape)
        if against != "finite differences":
            self.count += engine.size
        with np.errstate(invalid="ignore"):
            same_infinity = np.isinf(engine) & np.isinf(reference) & (np.sign(engine) == np.sign(reference))
            diff = np.where(same_infinity, 0.0, np.abs(engine - reference))
        finite = np.isfinite(diff)
        if against == "numpy" and finite.any():
            self.max_diff = max(self.max_diff, float(diff[finite].max()))
        with np.errstate(over="ignore"):  # a tolerance times a value near the double limit is inf: nothing is bad by it
            bad = ~finite | (diff > tol * np.maximum(1.0, np.abs(np.where(np.isfinite(reference), reference, 0.0))))
        for k in np.flatnonzero(bad):
            self.mismatches.append(Mismatch(name(int(k)), float(engine[k]), float(reference[k]), against))


class _TwinOptimizer:
    """The independent optimizer (:mod:`tracer.numeric.optimizers`) run alongside the steps: its
    own state from zero, fed the twin's gradients; checks each step's θ' and its states."""

    def __init__(self, problem) -> None:
        o = problem.training.optimizer
        self.hyper = optimizers_numeric.Hyper(o.name, o.beta, o.nesterov, o.alpha, o.beta1, o.beta2, o.eps, o.weight_decay)
        self.keys = problem.parameter_keys
        self.trained = np.array(problem.trained_mask)
        self.rates = np.array(problem.rate_vector)
        # training.state, read by the twin itself (heavy-ball's previous iterate into torch's buffer)
        given = problem.training.state
        names = [str(k) for k in self.keys]
        start = optimizers_numeric.starting_state(self.hyper, {n: given.of(n) for n, _ in given.values},
                                                  dict(zip(names, problem.parameter_vector())), dict(zip(names, self.rates.tolist())))
        self.state = {n: np.array([per[p] for p in names]) for n, per in start.items()}
        self.taken = given.step  # steps taken before the file's first: update k reads t = taken + k
        self.problem = problem
        self.clip = problem.training.clip  # training.clip: the gradients clipped before the rule reads them
        self.clipped: clipping_numeric.Clipped | None = None  # the last step's clipping

    @property
    def needed(self) -> bool:
        """Not plain gradient descent at a constant rate (which the twins' own step checks, each layer
        at its own rate); a schedule's rates are the twin's own (:mod:`tracer.numeric.schedules`)."""
        return self.hyper.name != "sgd" or self.hyper.decay > 0.0 or self.clip is not None or self.problem.training.schedule is not None

    def advance(self, before: dict, gradients: dict, t: int) -> tuple[dict, dict]:
        """Update ``t`` from the parameters ``before`` with ``gradients`` (both by key): θ' by key,
        and every state and intermediate as arrays in parameter order."""
        theta = np.array([before[k] for k in self.keys])
        g = np.array([gradients[k] for k in self.keys])
        if self.clip is not None:
            self.clipped = clipping_numeric.clip(self.clip.mode, self.clip.threshold, g, self.trained)
            g = self.clipped.gradients
        rates = schedules_numeric.rate_of_update(self.problem, self.rates, t)
        after, state, shown = optimizers_numeric.update(self.hyper, theta, g, self.state, self.taken + t, rates)
        after = np.where(self.trained, after, theta)
        self.state = {k: np.where(self.trained, v, self.state[k]) for k, v in state.items()}
        return dict(zip(self.keys, after.tolist())), {**state, **shown}

    def step(self, checker: "_Checker", ts, gradients: dict) -> dict:
        """θ' of every parameter by the twin (and the states checked); ``gradients`` by key."""
        after, twin = self.advance(ts.params_before, gradients, ts.number)
        index = {k: i for i, k in enumerate(self.keys)}
        if ts.clip is not None and self.clipped is not None:  # the norm, clip_coef and every clipped gradient
            if ts.clip["mode"] == "norm":
                checker.scalar(str(keys.GRAD_NORM_SQ.at_step(ts.number)), ts.clip["norm_squared"], self.clipped.norm**2)
                checker.scalar(str(keys.GRAD_NORM.at_step(ts.number)), ts.clip["norm"], self.clipped.norm)
                checker.scalar(str(keys.CLIP_COEF.at_step(ts.number)), ts.clip["clip_coef"], self.clipped.coef)
            clipped = ts.clip["clipped"]
            checker.array(lambda i: str(list(clipped)[i].state("clipped", ts.number)), list(clipped.values()),
                          [float(self.clipped.gradients[index[k]]) for k in clipped])
        for name, values in ts.optimizer_state.items():
            checker.array(lambda i, name=name, values=values: str(list(values)[i].state(name, ts.number)),
                          list(values.values()), [float(twin[name][index[k]]) for k in values])
        return after


def verify(solution: Solution) -> Verification:
    if solution.problem.layered:
        return verify_layers(solution)
    engine: Engine = solution.engine
    network = engine.network
    problem = solution.problem
    checker = _Checker()
    delta = None
    by_number = {number: (data, p) for number, data, p in engine.passes}
    twin = _TwinOptimizer(problem)
    for ts in solution.steps:
        if ts.number not in by_number:  # a step of a problem too large to write out: the NumPy engine's own numbers
            checker.scalar(str(LOSS.at_step(ts.number)), ts.loss, numeric.evaluate(solution.problem.with_parameter_vector(list(ts.params_before.values()))).loss)
            continue
        data, p = by_number[ts.number]
        before = replace(problem.with_parameter_vector(list(ts.params_before.values())), data=data)
        reference = numeric.evaluate(before)
        subtracted = numeric.step_gradients(before)
        # the twin optimizer takes the engine's gradients (checked against NumPy's just below): an adaptive
        # step g/(√G + ε) magnifies the rounding of a gradient that is exactly 0 (a shared softmax bias's
        # Σ(p − y)) into a step of η; fed the same g, the two optimizers must agree to rounding
        after = twin.step(checker, ts, ts.gradients) if twin.needed else numeric.step(before).parameters()
        _check_pass(checker, network, p, reference, before, after, ts.number)
        checker.array(lambda k, ts=ts: str(Partial(LOSS, list(ts.gradients)[k], None, ts.number)), list(ts.gradients.values()),
                      _in_order(subtracted, ts.gradients))
        checker.array(lambda k, ts=ts: str(list(ts.params_after)[k].updated().at_step(ts.number)), list(ts.params_after.values()),
                      _in_order(after, ts.params_after))
        checker.scalar(str(LOSS.at_step(ts.number)), ts.loss, reference.loss)
        if delta is None and ts.derived:
            delta = _delta_form(network, p, reference, before, ts.number)
    if engine.closing is not None:
        final = numeric.evaluate(solution.final)
        _check_values(checker, network, engine.closing, final, "end")
        checker.scalar(str(LOSS_AFTER), solution.loss_after, final.loss)
    if solution.perceptron is not None:
        probe = replace(solution.final, data=perceptron.probe(solution.final))
        reference = numeric.evaluate(probe)
        for row, sample in zip(solution.perceptron.rows, reference.samples):
            for l, (z, a) in enumerate(zip(row.z, row.a), start=1):
                checker.array(lambda k, l=l: f"{keys.z(l, k + 1)} of the truth table", z, sample.z[l - 1])
                checker.array(lambda k, l=l: f"{keys.a(l, k + 1)} of the truth table", a, sample.a[l - 1])
    fd_count, fd_max = _finite_differences(checker, solution)
    if solution.run is not None:
        _check_run(checker, solution)
    return Verification(checker.count, checker.max_diff, fd_count, fd_max, tuple(checker.mismatches), delta, tuple(checker.skipped))


def _in_order(reference: dict, like: dict) -> list[float]:
    """``reference``'s values in the order of ``like``'s keys (both are the problem's parameter order)."""
    if list(reference) == list(like):  # the same key objects, in the same order: no lookups
        return list(reference.values())
    return [reference[key] for key in like]


def _names(family, sample: int | None, step, partial_of: Quantity | None = None) -> Callable[[int], str]:
    """The name of element k of a family's array (for a mismatch message)."""
    def name(k: int) -> str:
        key = family.key(family.start + k, sample, step)
        return str(key) if partial_of is None else str(Partial(partial_of, key.plain(), sample, step))
    return name


def _local_names(graph, family, sample: int | None, step, slots: slice) -> Callable[[int], str]:
    """The name of element k of ``local[s, :, slots]`` of a family: ∂node/∂argument."""
    width = len(range(family.args.shape[1])[slots])

    def name(k: int) -> str:
        row, column = divmod(k, width)
        argument = int(family.args[row, slots.start + column])
        return str(Partial(family.key(family.start + row).plain(), graph.key(argument).plain(), sample, step))
    return name


def _check_values(checker: _Checker, network: Network, values: np.ndarray, reference, step) -> None:
    graph = network.graph
    S = values.shape[0]
    for s, sample in enumerate(reference.samples):
        tag = s + 1 if S > 1 else None
        for l in range(1, network.depth + 1):
            for kind, ref in (("z", sample.z[l - 1]), ("a", sample.a[l - 1])):
                family = graph.family(kind, l)
                checker.array(_names(family, tag, step), values[s, family.ids], ref)
        terms = graph.family("loss", None, 1)
        checker.array(_names(terms, tag, step), values[s, terms.ids], sample.loss_terms)
        checker.scalar(str(graph.key(graph.output, tag, step)), values[s, graph.output], sample.loss)


def _check_pass(checker: _Checker, network: Network, p: Pass, reference, problem, after: dict, step: int) -> None:
    graph = network.graph
    sequential = problem.training.order == "sequential"
    L = network.depth
    S = p.values.shape[0]
    _check_values(checker, network, p.values, reference, step)
    positions = _parameter_slices(network)
    per_sample = [np.array(_in_order(sample.grads, dict.fromkeys(network.problem.parameter_keys))) for sample in reference.samples]
    for s, sample in enumerate(reference.samples):
        tag = s + 1 if S > 1 else None
        for l in range(L, 0, -1):
            through_updated = sequential and l < L  # taken through updated weights: checked by the step's own numbers
            z, a, W = graph.family("z", l), graph.family("a", l), graph.family("W", l, 2)
            if not through_updated:
                checker.array(_names(a, tag, step, LOSS), p.adjoint[s, a.ids], sample.dloss_da[l - 1])
                checker.array(_names(z, tag, step, LOSS), p.adjoint[s, z.ids], sample.dloss_dz[l - 1])
                grads = per_sample[s]
                checker.array(_names(W, tag, step, LOSS), p.adjoint[s, W.ids], grads[positions[W.start]])
                if problem.layers[l - 1].bias is not None:
                    b = network.bias(l)
                    checker.array(_names(b, tag, step, LOSS), p.adjoint[s, b.ids], grads[positions[b.start]])
            # ∂a/∂z: f'(z) unit by unit, or the softmax's full Jacobian
            local = p.local[a.start]
            jacobian = np.asarray(sample.da_dz[l - 1])
            if a.positions is not None:
                checker.array(_local_names(graph, a, tag, step, slice(0, None)), local[s], jacobian[a.positions])
            else:
                checker.array(_local_names(graph, a, tag, step, slice(0, 1)), local[s, :, 0], jacobian if jacobian.ndim == 1 else np.diag(jacobian))
            # ∂z/∂W = the layer's input, ∂z/∂a = the weight (updated first in sequential order), ∂z/∂b = 1
            units, fan_in = problem.layers[l - 1].units, problem.layers[l - 1].inputs
            inputs = np.asarray(problem.data[s].x if l == 1 else sample.a[l - 2], dtype=float)
            local = p.local[z.start]
            checker.array(_local_names(graph, z, tag, step, slice(0, fan_in)), local[s, :, :fan_in], np.broadcast_to(inputs, (units, fan_in)))
            weights = np.array(problem.layers[l - 1].weights, dtype=float)
            if sequential and W.start in p.updated_within:  # the hidden δ goes through the updated weights
                weights = np.array([after[key] for key in _keys(W)], dtype=float).reshape(units, fan_in)
            checker.array(_local_names(graph, z, tag, step, slice(fan_in, 2 * fan_in)), local[s, :, fan_in : 2 * fan_in], weights)
            if problem.layers[l - 1].bias is not None:
                checker.array(_local_names(graph, z, tag, step, slice(2 * fan_in, 2 * fan_in + 1)), local[s, :, 2 * fan_in], np.ones(units))


def _keys(family) -> list[Quantity]:
    return [family.key(int(n)) for n in family.ids]


def _parameter_slices(network: Network) -> dict[int, slice]:
    """Where each parameter family (by its first node) lies in the problem's parameter order."""
    out, k = {}, 0
    for l, layer in enumerate(network.problem.layers, start=1):
        families = [network.graph.family("W", l, 2)] + ([network.bias(l)] if layer.bias is not None else [])
        for family in families:
            out[family.start] = slice(k, k + family.size)
            k += family.size
    return out


def _finite_differences(checker: _Checker, solution: Solution) -> tuple[int, float]:
    problem = solution.problem
    if not solution.steps or len(problem.parameter_keys) > FD_MAX_PARAMETERS:
        return 0, 0.0
    first = solution.steps[0]
    if not solution.engine.passes:
        return 0, 0.0
    data = solution.engine.passes[0][1]
    before = replace(problem.with_parameter_vector(list(first.params_before.values())), data=data)
    network = solution.engine.network
    skipped = _fd_skips(network.graph, solution.engine.passes[0][2].values, set(network.parameter_nodes.tolist()))
    not_checked = {name for s in skipped for name in s.names}
    fd = numeric.finite_differences(before)
    sequential = problem.training.order == "sequential"
    last = len(problem.layers)
    count, worst = 0, 0.0
    scale = max([1.0] + [abs(v) for v in first.gradients.values()])
    magnitude = _magnitude(solution)
    checker.skipped.extend(skipped)
    for key, g in first.gradients.items():
        if str(key) in not_checked:
            continue  # within a difference's reach of a kink or a tie: said in the document (Verification.skipped)
        if sequential and key.layer < last:
            continue  # taken through updated weights: not the loss's gradient (checked by numpy's step)
        noise = fd_noise(max(abs(first.loss), magnitude), 1e-6)  # numeric.finite_differences' step
        if noise > 0.01 * max(scale, abs(g)):
            continue  # the loss is too large for a difference of step h to see this gradient: no check, not counted
        count += 1
        worst = max(worst, abs(g - fd[key]))
        checker.scalar(str(Partial(LOSS, key)), g, fd[key], "finite differences", max(FD_RELATIVE * max(scale, abs(g)), noise))
    return count, worst


def _check_run(checker: _Checker, solution: Solution) -> None:
    """The run (NumPy, lean loop) against the written-out steps: the same parameters after each
    derived update, and the same final loss as the closing pass."""
    run = solution.run
    problem = solution.problem
    steps = {ts.number: ts for ts in solution.steps}
    for update in run.first_updates:
        ts = steps.get(update.number)
        if ts is not None and ts.derived:
            keys = list(ts.params_after)  # one array per update (a 90,000-parameter network: one call, not 90,000)
            checker.array(lambda k, keys=keys, n=update.number: str(keys[k].updated().at_step(n)),
                          [ts.params_after[k] for k in keys], [update.params_after[k] for k in keys], "training run")
    before = problem.parameters()
    twin = _TwinOptimizer(problem)
    for update in run.first_updates:
        batch = replace(problem, data=tuple(problem.data[i - 1] for i in update.batch)).with_parameters(before)
        after = twin.advance(before, numeric.step_gradients(batch), update.number)[0] if twin.needed else numeric.step(batch).parameters()
        keys = list(update.params_after)
        checker.array(lambda k, keys=keys, n=update.number: f"{keys[k].updated().at_step(n)} (training run)",
                      [update.params_after[k] for k in keys], [after[k] for k in keys], "training run")
        before = update.params_after
    final = problem.with_parameters(run.final)
    checker.scalar("loss at the end of the run", run.last.loss, numeric.forward_loss(final), "training run")
    if solution.closing:
        checker.scalar(str(LOSS_AFTER), solution.loss_after, run.last.loss, "training run")


def _delta_form(network: Network, p: Pass, reference, problem, number: int) -> DeltaForm | None:
    """The δ law of one pass by NumPy — δ^(L) = f'(z) ⊙ ∂L/∂a, δ^(l) = f'(z) ⊙ (W^(l+1)ᵀ δ^(l+1)),
    ∂L/∂W^(l) = δ^(l) a^(l−1)ᵀ — and how far each vector is from the scalar chain's values."""
    if problem.training.order == "sequential":
        return None  # its hidden δ go through updated weights: not the δ law of one pass
    if max([problem.inputs] + [layer.units for layer in problem.layers]) > DELTA_MAX_UNITS:
        return None
    graph = network.graph
    S = p.values.shape[0]
    samples = []
    worst = 0.0
    for s, sample in enumerate(reference.samples):
        tag = s + 1 if S > 1 else None
        rows = []
        for l in range(network.depth, 0, -1):
            layer = problem.layers[l - 1]
            z, W = graph.family("z", l), graph.family("W", l, 2)
            delta = np.asarray(sample.dloss_dz[l - 1], dtype=float)
            local = np.asarray(sample.da_dz[l - 1])
            softmax = local.ndim == 2
            chain = p.adjoint[s, z.ids]
            diff = float(np.max(np.abs(delta - chain))) if delta.size else 0.0
            worst = max(worst, diff)
            inputs = tuple(float(v) for v in (problem.data[s].x if l == 1 else sample.a[l - 2]))
            upstream = tuple(float(v) for v in sample.dloss_da[l - 1])
            output = l == network.depth
            rows.append(DeltaRow(l, "delta", softmax, output, (tuple(delta.tolist()),), tuple(delta.tolist()),
                                 () if softmax else tuple(local.tolist()), upstream, inputs,
                                 tuple(Partial(LOSS, k.plain(), tag, number) for k in _keys(z)), diff))
            grads = np.array([[sample.grads[k] for k in row] for row in np.array(_keys(W), dtype=object).reshape(layer.units, layer.inputs)])
            chain_grads = p.adjoint[s, W.ids].reshape(layer.units, layer.inputs)
            g_diff = float(np.max(np.abs(grads - chain_grads)))
            worst = max(worst, g_diff)
            rows.append(DeltaRow(l, "weights", softmax, output, tuple(tuple(r) for r in grads.tolist()), tuple(delta.tolist()), (),
                                 upstream, inputs, tuple(Partial(LOSS, k.plain(), tag, number) for k in _keys(W)), g_diff))
        samples.append((tag, tuple(rows)))
    return DeltaForm(number, tuple(samples), worst)



# ---------------------------------------------------------------------------
# Finite differences near a kink or a tie: which gradients they cannot check
# ---------------------------------------------------------------------------

#: a decision this close to its kink or tie (relative to its arguments, at least 1) is within reach of
#: a central difference: a step of h = 1e-6 in a parameter, carried by the chain's factors, can cross it
FD_REACH = 1e-4


def _kinked_nodes(graph, values: np.ndarray) -> list[int]:
    """The nodes (in any sample) whose branch lies within :data:`FD_REACH` of its kink or tie."""
    out: list[int] = []
    for family in graph.operations():
        distance = family.op.kink_distance(values[:, family.args], positions=family.positions)
        if distance is not None:
            out.extend((family.start + np.flatnonzero(np.any(distance < FD_REACH, axis=0))).tolist())
    return out


def _ancestors(graph, nodes) -> set[int]:
    """Every node the given ones are computed from, the given ones included."""
    seen: set[int] = set()
    pending = [int(n) for n in nodes]
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        family = graph.family_of(node)
        if family.op is not None:
            pending.extend(int(a) for a in family.args[node - family.start])
    return seen


#: up to this many kinks or ties within reach are each named with the gradients they hold back
KINKS_NAMED = 20


def _deciding_args(graph, node: int) -> list[int]:
    """The arguments of a node that its decisions read (a relu's z; not the k of relu(a)·k)."""
    family = graph.family_of(node)
    args = [int(a) for a in family.args[node - family.start]]
    deciding = {s for q in family.op.decisions() for s in q.free_symbols}
    return [a for slot, a in enumerate(args) if functions.ARG[slot] in deciding] if deciding else args


def _marked_upstream(graph, nodes: list[int]) -> set[int]:
    """Every node the given ones' deciding arguments are computed from, in one reverse sweep."""
    marked = np.zeros(graph.size, dtype=bool)
    for node in nodes:
        marked[_deciding_args(graph, node)] = True
    for family in reversed(graph.families):
        if family.op is None:
            continue
        rows = marked[family.start : family.stop]
        if rows.any():
            marked[np.unique(family.args[rows])] = True
    return set(np.flatnonzero(marked).tolist())


def _kink_text(graph, values: np.ndarray, node: int) -> str:
    """Which kink or tie a node's branch is near, in words (with the value deciding it)."""
    family = graph.family_of(node)
    op, row = family.op, node - family.start
    args = family.args[row]
    if isinstance(op, functions.Pool):
        return f"two largest inputs of the max-pooling window of {graph.key(node)} equal or within 1e-4"
    if isinstance(op, functions.Activation):
        z = float(values[np.argmin(np.abs(values[:, args[0]])), args[0]])
        return f"{op.name}'s kink at {graph.key(int(args[0]))} = {z:.3g}"
    if isinstance(op, gates.Maximum):
        return f"{graph.key(node)} = {op.kind}({', '.join(str(graph.key(int(a))) for a in args)}) at or near a tie"
    if isinstance(op, gates.Absolute):
        return f"{graph.key(node)} = |{graph.key(int(args[0]))}| at or near 0"
    decisions = op.decisions()
    if decisions:  # an equation: the quantity nearest its kink, in the names of the graph
        names = {functions.ARG[i]: sp.Symbol(str(graph.key(int(a))), real=True) for i, a in enumerate(args)}
        row_values = values[:, args]
        with np.errstate(all="ignore"):
            distances = [float(np.min(np.abs(functions.array_function(q, functions.ARG[: len(args)])(*row_values.T)))) for q in decisions]
        q = decisions[int(np.argmin(distances))]
        return f"a kink inside the equation of {graph.key(node)}, where {q.xreplace(names)} = {min(distances):.3g}"
    return f"a kink of {graph.key(node)}"


def _fd_skips(graph, values: np.ndarray, candidates: set[int], step: int | None = None) -> list[Skipped]:
    """The gradients (of ``candidates``: the parameters, or a graph's every name) that central
    differences cannot check: those of everything a kinked node is computed from (moving any of
    them by h moves the deciding quantity across the kink), one :class:`Skipped` per kink."""
    claimed: set[int] = set()
    out: list[Skipped] = []
    kinked = _kinked_nodes(graph, values)
    if len(kinked) > KINKS_NAMED:  # many (a feature map of exact zeros): one sweep, one summary
        upstream = _marked_upstream(graph, kinked) & candidates
        names = tuple(str(graph.key(n)) for n in sorted(upstream))
        shown = "; ".join(_kink_text(graph, values, n) for n in kinked[:3])
        suffix = f" (step {step})" if step is not None else ""
        return [Skipped(names, f"{len(kinked)} kinks or ties within reach, among them {shown}, …{suffix}")] if names else []
    for node in kinked:
        upstream = _ancestors(graph, _deciding_args(graph, node)) & candidates
        names = tuple(str(graph.key(n)) for n in sorted(upstream - claimed))
        claimed |= upstream
        if names:
            reason = _kink_text(graph, values, node) + (f" (step {step})" if step is not None else "")
            out.append(Skipped(names, reason))
    return out


# ---------------------------------------------------------------------------
# Graph problems (SPEC.md §7)
# ---------------------------------------------------------------------------

#: graphs up to this many nodes are also checked against SymPy's derivative of the whole
#: composed expression, and every local derivative against finite differences of its node
GRAPH_SYMBOLIC_NODES = 40


@dataclass(frozen=True, eq=False)
class GraphEngine:
    """The engine's arrays behind a graph solution: each step's pass (number, values, pass) and
    the values of the closing pass (with training)."""

    system: Any
    passes: tuple[tuple[int, np.ndarray, Pass], ...]
    closing: np.ndarray | None


def verify_graph(solution: GraphSolution) -> Verification:
    """Every value, gradient and update of a graph solution against the independent NumPy
    evaluator of the same equations (:mod:`tracer.numeric.graph`): its values, its central
    finite differences of the output w.r.t. every node, of every node w.r.t. its arguments
    (the local derivatives), and for small graphs SymPy's derivative of the composed function."""
    problem = solution.problem
    engine: GraphEngine = solution.engine
    system = engine.system
    graph = system.graph
    twin = graph_numeric.NumericGraph.compile([e.text for e in problem.equations], e_is_variable="e" in problem.names)
    checker = _Checker()
    names = [graph.key(n) for n in range(graph.size)]
    fd_count, fd_worst = 0, 0.0
    values_now = dict(problem.values)
    symbolic = _composed_gradients(system) if graph.size <= GRAPH_SYMBOLIC_NODES else None
    # the optimizer's update (sgd: θ − η·g), by the NumPy twin from its own reading of training.state
    o, rate = problem.training.optimizer, problem.training.learning_rate
    hyper = optimizers_numeric.Hyper(o.name, o.beta, o.nesterov, o.alpha, o.beta1, o.beta2, o.eps, o.weight_decay)
    given = problem.training.state
    start = optimizers_numeric.starting_state(hyper, {n: given.of(n) for n, _ in given.values},
                                              {n: problem.value_of(n) for n in problem.training.parameters}, rate)
    twin_state = {n: np.array([per[p] for p in problem.training.parameters]) for n, per in start.items()}
    for (number, values, sweep_pass), gs in zip(engine.passes, solution.steps):
        _check_graph_values(checker, twin, names, values[0], values_now, number)
        skipped = _fd_skips(graph, values, set(range(graph.size)), number if len(engine.passes) > 1 else None)
        checker.skipped.extend(skipped)
        not_checked = {name for s in skipped for name in s.names}  # within a difference's reach of a kink or a tie: said in the document
        kinked = {int(n) for n in _kinked_nodes(graph, values)}
        fd = twin.finite_differences(values_now, problem.output)
        gradient = np.array([gs.gradients[k] for k in names])
        scale = max([1.0] + [abs(g) for g in gradient])
        trusted: set[str] = set()  # the nodes whose difference quotient is evidence (seen past the rounding, converged, no kink within reach)
        rough: set[str] = set()
        bounds: dict[str, float] = {}  # the twin's own error bound of each node (small graphs)
        if graph.size <= GRAPH_SYMBOLIC_NODES:
            bounds = twin.evaluate_with_bounds(values_now)[1]
            count, worst, rough = _local_differences(checker, system, twin, values_now, sweep_pass, number, bounds, kinked)
            fd_count, fd_worst = fd_count + count, max(fd_worst, worst)
        magnitude = _largest_finite(values[0])  # s = y^20 = 3.5e9: f carries ε·3.5e9
        finer = twin.finite_differences(values_now, problem.output, step=FD_STEP / 10)
        for k, key in enumerate(names):
            if str(key) in not_checked:
                continue
            h = FD_STEP * max(1.0, abs(float(values[0][k])))
            noise = max(fd_noise(magnitude, h), bounds.get(problem.output, 0.0) / h)  # (x + 1e308) − 1e308: the output's own error
            if noise > 0.01 * max(scale, abs(gradient[k])):
                continue  # a difference of step h cannot see this gradient past the output's rounding: not counted
            if not _converged(fd[str(key)], finer[str(key)]):
                continue  # tan(x) at x = 1e6, csc near its pole: the quotient moves with h, so it is no derivative there
            if rough & _downstream(system, str(key)):
                continue  # a node on its way to the output is not smooth at the scale of its step: no derivative to see
            trusted.add(str(key))
            fd_count += 1
            fd_worst = max(fd_worst, abs(gradient[k] - fd[str(key)]))
            checker.scalar(str(Partial(solution.output, key, None, number)), gradient[k], fd[str(key)],
                           "finite differences", max(FD_RELATIVE * max(scale, abs(gradient[k])), noise))
        if symbolic is not None:  # at the leaves' decimals, every branch decided exactly (tracer.core.exact)
            at = {sp.Symbol(name, real=True): exact.decimal(value) for name, value in values_now.items()}
            for name, derivative in symbolic.items():
                reference, tol = _symbolic_reference(derivative, at, values_now, on_a_kink=bool(kinked))
                checker.scalar(str(Partial(solution.output, keys.node(name), None, number)), gs.gradients[keys.node(name)], reference, "sympy", tol)
        if gs.params_after:
            leaves = list(problem.training.parameters)
            theta = np.array([values_now[n] for n in leaves])
            t = problem.training.state.step + number
            g = np.array([gs.gradients[keys.node(n)] for n in leaves])
            after, new_state, intermediates = optimizers_numeric.update(hyper, theta, g, twin_state, t, rate)
            for name, per in gs.optimizer_state.items():  # v, m, m_hat, …: each against the twin's
                reference = {**new_state, **intermediates}[name]
                checker.array(lambda k, name=name: str(keys.node(leaves[k]).state(name, number)),
                              [per[n] for n in leaves], [float(r) for r in reference])
            # a step linear in g (sgd, momentum) is also seen through the difference quotients
            fd_after = (optimizers_numeric.update(hyper, theta, np.array([fd[n] for n in leaves]), twin_state, t, rate)[0]
                        if hyper.name in ("sgd", "momentum") else None)
            twin_state = new_state
            for k, name in enumerate(leaves):
                key = keys.node(name)
                value = gs.params_after[key]
                checker.scalar(str(key.updated().at_step(number)), value, float(after[k]))
                if fd_after is not None and name in trusted:
                    checker.scalar(str(key.updated().at_step(number)), value, float(fd_after[k]), "finite differences",
                                   (1.0 + hyper.beta) * FD_RELATIVE * rate * max(scale, 1.0))
        values_now.update({key.name: v for key, v in gs.params_after.items()})
    if engine.closing is not None:
        _check_graph_values(checker, twin, names, engine.closing[0], values_now, keys.END)
    return Verification(checker.count, checker.max_diff, fd_count, fd_worst, tuple(checker.mismatches), skipped=tuple(checker.skipped))


def _check_graph_values(checker: _Checker, twin, names, engine_values: np.ndarray, values_now: dict, step) -> None:
    """Every node's value against the twin's evaluation of the equations as written — to the twin's
    own error bound where the demanded agreement (1e−9) is beyond it: the engine takes SymPy's
    form of an equation ((x + y) − y is x), the twin the text's ((1 + 1e308) − 1e308 is 0, with an
    error bound of 1e292), and cot(|a|/sec a) at a = −6.7e11 moves by 1e−3 with one rounding of its
    argument. The bounds are computed only for a pass where some value is off by more than 1e−9."""
    reference = twin.evaluate(values_now)
    expected = np.array([reference[str(k)] for k in names], dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        off = ~np.isfinite(engine_values) | ~np.isfinite(expected) | (np.abs(engine_values - expected) > RELATIVE * np.maximum(1.0, np.abs(expected)))
    if not off.any():
        checker.array(lambda k: str(names[k].at_step(step)), engine_values, expected)
        return
    _, bounds = twin.evaluate_with_bounds(values_now)
    for k, key in enumerate(names):
        bound = bounds.get(str(key), 0.0)
        reference = float(expected[k])
        if off[k] and not math.isfinite(bound):
            reference = math.nan  # the twin's double precision says nothing there (tan beside a pole, an overflow): not checkable
        tol = max(RELATIVE, 2 * bound / max(1.0, abs(reference))) if math.isfinite(reference) and math.isfinite(bound) else RELATIVE
        checker.scalar(str(key.at_step(step)), float(engine_values[k]), reference, "numpy", tol)


def _converged(coarse: float, fine: float) -> bool:
    """Do central differences of step h and h/10 agree, relative to their own size? Where they do
    not, the quotient still moves with the step — a function that varies faster than h can see (tan
    at 1e6, csc beside its pole, tan at 1e154 where h = 1e148 spans 10^147 periods and the quotients
    are O(1)/h), or rounding that the smaller step magnifies — and is no evidence about the
    derivative either way (not checked, not counted)."""
    return math.isfinite(coarse) and math.isfinite(fine) and abs(coarse - fine) <= FD_RELATIVE * max(abs(coarse), abs(fine))


#: the leaves moved by this many units of rounding (relative) to see how far double precision reaches
PERTURBATION = 16 * float(np.finfo(float).eps)


def _symbolic_reference(derivative: sp.Expr, at: dict, values: dict, on_a_kink: bool) -> tuple[float, float]:
    """SymPy's derivative at the leaves' decimals, every branch decided exactly (``at``:
    :func:`exact.decimal` of each value), and the tolerance to hold the engine to: 1e−9, or the
    reach of double precision there (:func:`_exact_and_spread`) where that is wider — except
    where a branch is within reach of its kink, where moving the leaves would cross it."""
    try:
        reference = exact.to_float(exact.evaluate(derivative, at))
    except (TypeError, ValueError, OverflowError, ZeroDivisionError, exact.Beyond):  # a part beyond 2^(±10⁸) in decimals: at the doubles
        reference = None
    if on_a_kink and reference is not None:
        return reference, RELATIVE
    thirty, spread = _exact_and_spread(derivative, values)
    if reference is None or not math.isfinite(reference):
        reference = thirty
    return reference, max(RELATIVE, 4 * spread / max(1.0, abs(reference)))


def _exact_and_spread(derivative: sp.Expr, values: dict) -> tuple[float, float]:
    """SymPy's derivative at the point (30 digits), and how much it moves when each leaf moves by a
    few units of its own rounding (alternately up and down, then the other way): the reach of
    double precision there. cos(b³)·3b² at b³ = 2.7e10 moves by 1e−4 relative — no engine working
    in doubles can be asked for 9 digits of it; at ordinary points the spread is ~1e−15."""
    at = {sp.Symbol(name, real=True): sp.Float(value, 30) for name, value in values.items()}
    try:
        exact = float(derivative.xreplace(at).evalf(30))
    except TypeError:  # not a real number at the doubles either: no reference (a mismatch, unless the engine says so too)
        return math.nan, 0.0
    spread = 0.0
    for sign in (1, -1):
        moved = {symbol: sp.Float(float(v) * (1 + sign * (-1) ** k * PERTURBATION), 30) for k, (symbol, v) in enumerate(at.items())}
        try:
            shifted = float(derivative.xreplace(moved).evalf(30))
        except (TypeError, ValueError, OverflowError):  # complex or undefined next to the point: no reach to measure
            continue
        spread = max(spread, abs(shifted - exact)) if math.isfinite(shifted) else math.inf
    return exact, spread


def _downstream(system, name: str) -> set[str]:
    """The nodes computed from ``name``, directly or through others."""
    consumers: dict[str, list[str]] = {}
    for node in system.nodes:
        for a in node.arguments:
            consumers.setdefault(a, []).append(node.name)
    seen: set[str] = set()
    stack = list(consumers.get(name, ()))
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(consumers.get(n, ()))
    return seen


def _local_differences(checker: _Checker, system, twin, values: dict, sweep_pass: Pass, number: int,
                       bounds: dict[str, float], kinked: set[int] = frozenset()) -> tuple[int, float, set[str]]:  # type: ignore[assignment]
    """Every local derivative ∂node/∂argument — the factors the documents print in the chains —
    against central differences of the node alone: its arguments pinned to their values, the
    one differentiated moved by ±h. Also the nodes that are not smooth at the scale of their
    step (the quotients of h and h/10 disagree): a difference of the output through them is no
    evidence either (tan(csc w) at w = −1e308 adds 1.36 to −1e308: the output's difference
    never sees it, and says 1 for a derivative of 13.3). Not at a node within a difference's
    reach of its kink."""
    count, worst = 0, 0.0
    rough: set[str] = set()
    current = twin.evaluate(values)
    for node in system.nodes:
        if node.equation is None or node.number in kinked:
            continue
        local = sweep_pass.local[node.number][0, 0]
        pinned = {a: current[a] for a in node.arguments}
        for slot, argument in enumerate(node.arguments):
            h = FD_STEP * max(1.0, abs(pinned[argument]))
            up = twin.evaluate(values, {**pinned, argument: pinned[argument] + h})[node.name]
            down = twin.evaluate(values, {**pinned, argument: pinned[argument] - h})[node.name]
            reference = (up - down) / (2 * h)
            # f = p + s with s = 3.5e9: moving p by h is lost in f's rounding; (x + 1e308) − 1e308: in its error
            noise = max(fd_noise(max(abs(up), abs(down)), h), bounds.get(node.name, 0.0) / h)
            if noise > 0.01 * max(1.0, abs(reference)):
                continue
            finer_up = twin.evaluate(values, {**pinned, argument: pinned[argument] + h / 10})[node.name]
            finer_down = twin.evaluate(values, {**pinned, argument: pinned[argument] - h / 10})[node.name]
            if not _converged(reference, (finer_up - finer_down) / (h / 5)):
                rough.add(node.name)
                continue  # the quotient moves with the step here: no evidence about the derivative
            count += 1
            worst = max(worst, abs(local[slot] - reference))
            checker.scalar(f"d{node.name}/d{argument}@{number}", float(local[slot]), reference, "finite differences",
                           max(FD_RELATIVE * max(1.0, abs(reference)), noise))
    return count, worst, rough


def _composed_gradients(system) -> dict[str, sp.Expr] | None:
    """SymPy's derivative of the output as one composed expression of the leaves, per leaf."""
    expression: dict[str, sp.Expr] = {}
    for node in system.nodes:
        if node.equation is None:
            continue
        assert node.expression is not None
        expression[node.name] = node.expression.xreplace({sp.Symbol(a, real=True): expression[a] for a in node.arguments if a in expression})
    output = expression[system.problem.output]
    leaves = [n.name for n in system.nodes if n.equation is None]
    at_zero = system.problem.relu_derivative_at_zero  # |u|′ = sign(u)·u′: the values are real
    return {name: gates.relu_convention(real_derivative(output, sp.Symbol(name, real=True)), output, at_zero) for name in leaves}


#: finite differences of a network with conv2d or pooling layers: at most this many parameters
#: (spread over every layer) are moved, each costing two passes of the twin
LAYER_FD_PARAMETERS = 60


def verify_layers(solution: Solution) -> Verification:
    """A network with conv2d, pooling and flatten layers (SPEC.md §8) against the independent twin
    of :mod:`tracer.numeric.layers` (direct loops, its own reading of the file): every layer's
    z and a per sample and step, each sample's loss, every gradient and update, the closing
    pass, and central differences of the loss for parameters spread over every layer."""
    engine: Engine = solution.engine
    network = engine.network
    problem = solution.problem
    checker = _Checker()
    by_number = {number: (data, p) for number, data, p in engine.passes}
    first_mapping = None
    twin = _TwinOptimizer(problem)
    for ts in solution.steps:
        if ts.number not in by_number:
            continue
        data, p = by_number[ts.number]
        before = replace(problem.with_parameter_vector(list(ts.params_before.values())), data=data)
        mapping = to_mapping(before)
        first_mapping = first_mapping or mapping
        _check_layer_values(checker, network, p.values, mapping, ts.number)
        gradients = _flat(layers_numeric.gradients(mapping), problem)
        checker.array(lambda k, ts=ts: str(Partial(LOSS, list(ts.gradients)[k], None, ts.number)), list(ts.gradients.values()),
                      [gradients[key] for key in ts.gradients])
        if twin.needed:
            after = twin.step(checker, ts, ts.gradients)  # the engine's gradients, checked just above (see verify)
        else:
            after = _flat(layers_numeric.descend(mapping, problem.training.learning_rate, 1), problem)
        checker.array(lambda k, ts=ts: str(list(ts.params_after)[k].updated().at_step(ts.number)), list(ts.params_after.values()),
                      [after[key] for key in ts.params_after])
        checker.scalar(str(LOSS.at_step(ts.number)), ts.loss, layers_numeric.loss(mapping))
        _check_conv_identities(checker, network, p, ts.number)
        _check_recurrences(checker, ts)
    if engine.closing is not None:
        final = to_mapping(solution.final)
        _check_layer_values(checker, network, engine.closing, final, keys.END)
        checker.scalar(str(LOSS_AFTER), solution.loss_after, layers_numeric.loss(final))
    fd_count, fd_max = _layer_differences(checker, solution, first_mapping)
    return Verification(checker.count, checker.max_diff, fd_count, fd_max, tuple(checker.mismatches), skipped=tuple(checker.skipped))


def _twin_slots(problem) -> dict[Quantity, tuple[str, int]]:
    """Where each parameter key sits in the layer twin's arrays: (``W1``, its flat index), in the
    problem's parameter order (as :func:`_flat` reads them)."""
    slots: list[tuple[str, int]] = []
    for l, layer in enumerate(problem.layers, start=1):
        if layer.kind not in ("dense", "conv2d", "rnn"):
            continue
        counts = [(f"W{l}", None)] + ([(f"U{l}", None)] if layer.kind == "rnn" else []) + ([(f"b{l}", None)] if layer.bias is not None else [])
        for name, _ in counts:
            slots.extend((name, k) for k in range(_twin_size(problem, l, name[0])))
    return dict(zip(problem.parameter_keys, slots))


def _twin_size(problem, l: int, role: str) -> int:
    """How many entries parameter array ``role`` of layer ``l`` has (counted from the problem's keys)."""
    return sum(1 for key in problem.parameter_keys if key.layer == l and key.kind == role)


def _flat(arrays: dict[str, np.ndarray], problem) -> dict[Quantity, float]:
    """The twin's arrays (``W1`` of shape (F, C, k, k), ``b1`` …) as numbers by parameter key: both
    run row-major, the problem's parameter order."""
    values: list[float] = []
    for l, layer in enumerate(problem.layers, start=1):
        if layer.kind not in ("dense", "conv2d", "rnn"):
            continue
        values.extend(np.asarray(arrays[f"W{l}"], dtype=float).ravel().tolist())
        if layer.kind == "rnn":
            values.extend(np.asarray(arrays[f"U{l}"], dtype=float).ravel().tolist())
        if layer.bias is not None:
            values.extend(np.atleast_1d(np.asarray(arrays[f"b{l}"], dtype=float)).ravel().tolist())
    return dict(zip(problem.parameter_keys, values))


def _check_layer_values(checker: _Checker, network: Network, values: np.ndarray, mapping: dict, step) -> None:
    for s in range(values.shape[0]):
        reference = layers_numeric.forward(mapping, s)
        for l in range(1, network.depth + 1):
            z, a, _ = network.layer_nodes(l)
            for ids, arrays in ((z, reference.z), (a, reference.a)):
                if ids is None:
                    continue
                checker.array(lambda k, ids=ids, s=s: str(network.graph.key(int(ids[k]), s + 1, step)), values[s, ids],
                              np.asarray(arrays[l - 1], dtype=float).ravel())
        checker.scalar(str(keys.loss(s + 1).at_step(step)), values[s, network.graph.output], reference.loss)


def _layer_differences(checker: _Checker, solution: Solution, mapping: dict | None) -> tuple[int, float]:
    if mapping is None or not solution.steps:
        return 0, 0.0
    problem = solution.problem
    first = solution.steps[0]
    keys_ = list(first.gradients)
    chosen = keys_ if len(keys_) <= LAYER_FD_PARAMETERS else [keys_[int(i)] for i in np.linspace(0, len(keys_) - 1, LAYER_FD_PARAMETERS)]
    before = problem.with_parameter_vector(list(first.params_before.values()))
    engine: Engine = solution.engine
    if not engine.passes:
        return 0, 0.0
    network = engine.network
    skipped = _fd_skips(network.graph, engine.passes[0][2].values, set(network.parameter_nodes.tolist()))
    checker.skipped.extend(skipped)
    not_checked = {name for s in skipped for name in s.names}
    chosen = [key for key in chosen if str(key) not in not_checked]
    scale = max([1.0] + [abs(v) for v in first.gradients.values()])
    magnitude = _magnitude(solution)
    count, worst = 0, 0.0
    # the twin reads the problem once; each difference moves one entry of its arrays (rebuilding the
    # problem for each moved parameter built every parameter's key: 1.7 million for a 28×28 conv net)
    twin = layers_numeric.network(to_mapping(before))
    slots = _twin_slots(problem)
    for key in chosen:
        value = first.params_before[key]
        h = FD_STEP * max(1.0, abs(value))
        name, entry = slots[key]
        sides = []
        for sign in (1, -1):
            moved = twin.parameters[name].copy()
            moved.flat[entry] = value + sign * h
            sides.append(layers_numeric.loss(replace(twin, parameters={**twin.parameters, name: moved})))
        fd = (sides[0] - sides[1]) / (2 * h)
        g = first.gradients[key]
        noise = fd_noise(max(abs(sides[0]), abs(sides[1]), magnitude), h)
        if noise > 0.01 * max(scale, abs(g)):
            continue  # the loss is too large for a difference of step h to see this gradient: no check, not counted
        count += 1
        worst = max(worst, abs(g - fd))
        checker.scalar(str(Partial(LOSS, key)), g, fd, "finite differences", max(FD_RELATIVE * max(scale, abs(g)), noise))
    return count, worst


def _check_conv_identities(checker: _Checker, network: Network, p: Pass, number: int) -> None:
    """The matrix-form identities the feature-map section states, from the engine's own arrays:
    ∂J/∂W[f,c] = Σ_samples xp[c] ⋆ δ[f] (strided: δ[f,i,j] · xp[c, i·s + m, j·s + n]) and
    ∂J/∂(input)[c] = Σ_f δ[f] scattered back through W[f,c] (the full convolution with the
    rotated kernel, for stride 1), the padding cropped."""
    problem = network.problem
    weights = 1.0 / p.values.shape[0] if network.samples_combine == "mean" else 1.0
    source = network.graph.family("x", None, len(problem.input_shape or (1,)))
    for l, layer in enumerate(problem.layers, start=1):
        z, a = network.families_of(l)
        if layer.kind == "dense" and not layer.per_step and z is not None:  # the matrix form's ∂J/∂W = δ aᵀ
            W = network.graph.family("W", l, 2)
            outer = weights * np.einsum("sj,si->ji", p.adjoint[:, z.ids], p.values[:, source.ids])
            checker.array(lambda k_, l=l: f"dloss/dW{l} = δ{l} aᵀ (element {k_ + 1})@{number}", p.gradient[W.ids], outer.ravel())
        if layer.kind != "conv2d":
            if a is not None:
                source = a
            continue
        assert z is not None and a is not None
        W = network.graph.family("W", l, 4)
        kernel = p.values[0, W.ids].reshape(W.shape)
        channels, height, width = layer.in_shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = layer.kernel, layer.stride, layer.padding, layer.dilation
        _, rows, cols = layer.out_shape
        inputs = np.pad(p.values[:, source.ids].reshape((-1,) + layer.in_shape), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        delta = p.adjoint[:, z.ids].reshape((-1,) + z.shape)
        expected = np.zeros(W.shape)
        back = np.zeros(inputs.shape)
        for m in range(kh):
            for n in range(kw):
                seen = (slice(m * dh, m * dh + sh * (rows - 1) + 1, sh), slice(n * dw, n * dw + sw * (cols - 1) + 1, sw))
                window = inputs[(slice(None), slice(None)) + seen]  # (S, C, rows, cols)
                expected[:, :, m, n] = weights * np.einsum("sfij,scij->fc", delta, window)
                back[(slice(None), slice(None)) + seen] += np.einsum("sfij,fc->scij", delta, kernel[:, :, m, n])
        checker.array(lambda k_, l=l: f"dloss/dW{l} = x ⋆ δ{l} (element {k_ + 1})@{number}", p.gradient[W.ids], expected.ravel())
        if source.kind != "x":
            cropped = back[:, :, ph:ph + height, pw:pw + width]
            checker.array(lambda k_, l=l: f"dloss/da{l - 1} = δ{l} ⊛ rot180(W{l}) (element {k_ + 1})@{number}",
                          p.adjoint[:, source.ids], cropped.reshape(cropped.shape[0], -1))
        source = a


def _check_recurrences(checker: _Checker, ts) -> None:
    """The matrix form of an rnn layer, made in derive from the engine's arrays, against the
    engine's own numbers: W_aboveᵀ δ_above,t + Uᵀ δ_{t+1} = ∂J/∂h_t, f'(z_t) ⊙ (…) = δ_t, and
    Σ_t δ_t x_tᵀ, Σ_t δ_t h_{t−1}ᵀ, Σ_t δ_t = the gradients the update subtracts."""
    for r in ts.recurrent_layers:
        l, number = r.layer, ts.number
        total = r.from_above + r.through_next
        checker.array(lambda k, l=l: f"dloss/da{l}[t] = W{l + 1}ᵀ δ{l + 1}[t] + U{l}ᵀ δ{l}[t+1] (element {k + 1})@{number}",
                      total.reshape(total.shape[0], -1), r.dloss_da.reshape(total.shape[0], -1))
        recursion = r.slope * total
        checker.array(lambda k, l=l: f"δ{l}[t] = f'(z{l}[t]) ⊙ (…) (element {k + 1})@{number}",
                      recursion.reshape(recursion.shape[0], -1), r.delta.reshape(recursion.shape[0], -1))
        checker.array(lambda k, l=l: f"dloss/dW{l} = Σ_t δ{l}[t] x[t]ᵀ (element {k + 1})@{number}", r.weight_gradient.ravel(), r.weight_sum.ravel())
        checker.array(lambda k, l=l: f"dloss/dU{l} = Σ_t δ{l}[t] h{l}[t−1]ᵀ (element {k + 1})@{number}",
                      r.recurrent_gradient.ravel(), r.recurrent_sum.ravel())
        if r.bias_sum is not None and r.bias_gradient is not None:
            checker.array(lambda k, l=l: f"dloss/db{l} = Σ_t δ{l}[t] (element {k + 1})@{number}", r.bias_gradient.ravel(), r.bias_sum.ravel())
