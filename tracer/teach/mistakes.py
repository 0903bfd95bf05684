"""The typical mistakes of a backpropagation by hand, each computed by really making it.

A wrong option of a multiple-choice question must be a number a student gets by a
real slip, not a random neighbour of the right answer. Each mistake here either
replays the engine's own steps with one step evaluated the wrong way
(:func:`tracer.replay.replay`), or solves a modified problem again:

* ``no_activation_derivative`` — the chain without the activation's derivative
  ∂a/∂z (σ′ taken as 1);
* ``forgot_path`` — a hidden unit's ∂loss/∂a sums over the units it feeds; the
  last path of that sum is forgotten;
* ``added_gradient`` — the update adds η·∂loss/∂θ instead of subtracting it;
* ``pre_activation`` — the pre-activation z used where the activation a belongs
  (in σ′ = a(1 − a) and as the input of the next layer's weight);
* ``wrong_log_base`` — the cross-entropy with another logarithm (ln ↔ log10);
* ``dropped_half`` — the squared error without its factor ½.

A graph problem's (SPEC.md §7) are its gates' (CS231n's "add distributes, multiply
swaps"), each a local derivative evaluated the wrong way and the pass replayed:

* ``multiply_not_swapped`` — ∂(a·b)/∂a taken as a, not b (the inputs not swapped);
* ``forgot_fan_out_path`` — a node used by several others: the last use left out of
  the sum of its gradient;
* ``lost_minus_sign`` — ∂(x − y)/∂y taken as +1, not −1;
* ``add_as_multiply`` — ∂(a + b)/∂a taken as b: the add gate swapped like a multiply;
* ``dropped_constant_factor`` — ∂(k·v)/∂v taken as 1, not k;
* ``no_activation_derivative`` (a sigmoid/tanh gate's σ′ taken as 1) and
  ``added_gradient`` as above.

A network with conv2d, pooling or rnn layers (SPEC.md §8) adds the slips of those layers:

* ``kernel_not_flipped`` — ∂z[f,i,j]/∂a[c,p,q] taken as the kernel weight at the
  180°-rotated offset (∂loss/∂a as a cross-correlation with W, not with rot180(W));
* ``pooled_to_every_input`` — ∂(max of a window)/∂(each input) taken as 1 for every input;
* ``forgot_time_step`` — a state's ∂loss/∂a[t,j] without its terms through z[t+1,·].

An optimizer's update (SPEC.md §9) adds the slips of its equations:

* ``no_bias_correction`` — Adam's m̂ and v̂ taken as m and v (1 − βᵗ forgotten);
* ``gradient_not_squared`` — the second moment (Adam's v, RMSprop's s, AdaGrad's G)
  accumulated from g instead of g²;
* ``momentum_after_step`` — the parameter moved by the velocity of the step before
  (θ' = θ − η·v_{t−1}), the velocity updated only after the step.

A mistake that does not apply to a quantity (or gives the right number) yields None.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, replace
from typing import Callable

import sympy as sp

from tracer.core import optimizers
from tracer.core.derive import solve
from tracer.keys import Key, NameError_, Partial, Quantity
from tracer.core.solution import (
    Expression,
    GraphNode,
    GraphSolution,
    LookupError_,
    Solution,
    Step,
    Sum,
    Update,
)
from tracer.teach.replay import Inputs, evaluate, expression_value, key_of, replay


@dataclass(frozen=True)
class Mistake:
    key: str
    explanation: str  # what the wrong option encodes (shown in the solution key)


MISTAKES: dict[str, Mistake] = {
    m.key: m
    for m in (
        Mistake("no_activation_derivative", "drops the activation's derivative factor ∂a/∂z from the chain rule"),
        Mistake("forgot_path", "forgets one path of the sum over the units a hidden unit feeds (∂loss/∂a of a hidden unit)"),
        Mistake("added_gradient", "adds the gradient in the update (θ + η·∂loss/∂θ) instead of subtracting it"),
        Mistake("pre_activation", "uses the pre-activation z where the activation a belongs (in the activation's derivative and as the next weight's input)"),
        Mistake("wrong_log_base", "uses the wrong base of the logarithm in the cross-entropy"),
        Mistake("dropped_half", "drops the factor in front of the squared error (½)"),
        Mistake("multiply_not_swapped", "does not swap the inputs of a multiply gate: takes ∂(a·b)/∂a as a instead of b"),
        Mistake("forgot_fan_out_path", "forgets one use of a node used several times (one term of the sum over its uses)"),
        Mistake("lost_minus_sign", "loses the minus sign of a subtraction: takes ∂(x − y)/∂y as +1 instead of −1"),
        Mistake("add_as_multiply", "swaps the inputs of an add gate as if it multiplied: takes ∂(a + b)/∂a as b instead of 1"),
        Mistake("dropped_constant_factor", "drops the constant factor of a scale gate: takes ∂(k·v)/∂v as 1 instead of k"),
        Mistake("kernel_not_flipped", "does not rotate the kernel by 180° in ∂loss/∂(the layer's input): uses W[f,c,k+1−m,k+1−n] for W[f,c,m,n]"),
        Mistake("pooled_to_every_input", "sends a max-pooling window's gradient to every input of the window, not only to its largest"),
        Mistake("forgot_time_step", "forgets a state's contribution through the next time step (∂loss/∂h_t without the path through U to h_{t+1})"),
        Mistake("no_bias_correction", "forgets Adam's bias correction: takes m̂ = m and v̂ = v instead of dividing by 1 − βᵗ"),
        Mistake("gradient_not_squared", "accumulates the gradient g instead of its square g² in the second moment (Adam's v, RMSprop's s, AdaGrad's G)"),
        Mistake("momentum_after_step", "moves the parameter by the velocity of the step before (θ − η·v_{t−1}) and updates the velocity only after the step"),
    )
}


@dataclass(frozen=True)
class WrongValue:
    mistake: Mistake
    value: float


def _is_activation_derivative(t) -> bool:
    return isinstance(t, Partial) and t.of.kind == "a" and t.wrt.kind == "z"


def _patch_no_activation_derivative(step: Step, inputs: Inputs):
    if step.kind == "local" and _is_activation_derivative(step.target):
        return 1.0 if step.target.of.index == step.target.wrt.index else 0.0
    return None


def _patch_forgot_path(step: Step, inputs: Inputs):
    t = step.target
    if (
        isinstance(step.form, Sum)
        and isinstance(t, Partial)
        and t.of.is_total_loss
        and t.wrt.kind == "a"
        and len(step.form.terms) >= 2
    ):
        shortened = dataclasses.replace(step, form=dataclasses.replace(step.form, terms=step.form.terms[:-1], vanishing=()))
        return evaluate(shortened, inputs)
    return None


def _layer_patches(solution: Solution) -> dict[str, Callable]:
    """The slips of conv2d, max-pooling and rnn layers, as patches of the local steps and sums."""
    problem = solution.problem
    layers = problem.layers

    def kind_of(q: Quantity) -> str:
        return layers[q.layer - 1].kind if q.layer is not None and 1 <= q.layer <= len(layers) else ""

    def kernel_not_flipped(step: Step, inputs: Inputs):
        t = step.target
        if step.kind != "local" or not isinstance(t, Partial) or t.of.kind != "z" or t.wrt.kind != "a" or kind_of(t.of) != "conv2d":
            return None
        layer = layers[t.of.layer - 1]
        (f, i, j), (c, p, q) = t.of.index, t.wrt.index
        (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation
        m, n = (p - 1 - (i - 1) * sh + ph) // dh + 1, (q - 1 - (j - 1) * sw + pw) // dw + 1  # the kernel entry (1-based)
        kh, kw = layer.kernel
        ts = solution.steps[(t.step if isinstance(t.step, int) else 1) - 1]
        return ts.params_before[Quantity("W", t.of.layer, (f, c, kh + 1 - m, kw + 1 - n))]

    def pooled_to_every_input(step: Step, inputs: Inputs):
        t = step.target
        if step.kind == "local" and isinstance(t, Partial) and t.of.kind == "a" and t.wrt.kind == "a" and kind_of(t.of) == "maxpool2d":
            return 1.0
        return None

    def forgot_time_step(step: Step, inputs: Inputs):
        t = step.target
        if not (isinstance(step.form, Sum) and isinstance(t, Partial) and t.of.is_total_loss and t.wrt.kind == "a" and kind_of(t.wrt) == "rnn"):
            return None
        later = t.wrt.index[0] + 1

        def through_next_step(chain) -> bool:
            return any(isinstance(f.target, Partial) and f.target.of.kind == "z" and f.target.of.layer == t.wrt.layer
                       and f.target.of.index[0] == later for f in chain.factors)

        kept = tuple(term for term in step.form.terms if not through_next_step(term))
        if len(kept) == len(step.form.terms):
            return None
        shortened = dataclasses.replace(step, form=dataclasses.replace(step.form, terms=kept, vanishing=()))
        return evaluate(shortened, inputs) if kept else 0.0

    return {"kernel_not_flipped": kernel_not_flipped, "pooled_to_every_input": pooled_to_every_input, "forgot_time_step": forgot_time_step}


def _optimizer_patches(solution: Solution) -> dict[str, Callable]:
    """The slips of an optimizer's equations, each an equation of the update evaluated the wrong way."""

    def values(step: Step, inputs: Inputs) -> dict:
        return {b.symbol: inputs.binding(b) for b in step.form.bindings}  # type: ignore[union-attr]

    def is_state(step: Step, *kinds: str) -> bool:
        return isinstance(step.key, Quantity) and step.key.kind in kinds and isinstance(step.form, Expression)

    def no_bias_correction(step: Step, inputs: Inputs):
        if is_state(step, "m_hat", "v_hat"):
            return values(step, inputs)[optimizers.STATE["m" if step.key.kind == "m_hat" else "v"]]  # type: ignore[union-attr]
        return None

    def gradient_not_squared(step: Step, inputs: Inputs):
        if not is_state(step, "v", "s", "G"):
            return None
        squared = sp.Pow(optimizers.GRAD, 2, evaluate=False)
        form = step.form
        if squared not in form.symbolic.atoms(sp.Pow):  # type: ignore[union-attr]
            return None  # momentum's velocity has no square
        wrong = dataclasses.replace(form, symbolic=form.symbolic.xreplace({squared: optimizers.GRAD}))  # type: ignore[union-attr, arg-type]
        return expression_value(wrong, values(step, inputs))

    def momentum_after_step(step: Step, inputs: Inputs):
        if not (isinstance(step.key, Quantity) and step.key.after and isinstance(step.form, Expression)):
            return None
        v, before = optimizers.STATE["v"], optimizers.previous("v")
        symbols = {b.symbol for b in step.form.bindings}
        if v not in symbols or before in symbols or optimizers.HYPER["beta1"] in symbols:
            return None  # not momentum's θ' = θ − η·v
        previous = next((b for b in step.form.bindings if b.symbol == v), None)
        state = previous.target  # v(θ)@t: the velocity of the step before is v(θ)@(t − 1)
        earlier = replace(state, step=state.step - 1)  # type: ignore[union-attr, operator]
        known = dict(values(step, inputs))
        if earlier.step == 0:  # type: ignore[union-attr]
            known[v] = 0.0  # the velocity starts at zero
        else:
            known[v] = inputs.changed.get(earlier, solution.index[earlier].value if earlier in solution.index else math.nan)
        return expression_value(step.form, known)

    return {"no_bias_correction": no_bias_correction, "gradient_not_squared": gradient_not_squared, "momentum_after_step": momentum_after_step}


def _patch_added_gradient(step: Step, inputs: Inputs):
    if isinstance(step.form, Update):
        return inputs(step.form.parameter) + step.form.rate * inputs(step.form.gradient)
    return None


def _pre_activation_patch(solution: Solution):
    def patch(step: Step, inputs: Inputs):
        t = step.target
        if step.kind != "local" or not isinstance(step.form, Expression) or not isinstance(t, Partial):
            return None
        if not (_is_activation_derivative(t) or (t.of.kind == "z" and t.wrt.kind == "W")):
            return None
        changed = {}
        for b in step.form.bindings:
            if isinstance(b.target, Quantity) and b.target.kind == "a" and isinstance(b.ref, Quantity):
                z = replace(b.ref, kind="z")  # the pre-activation of the same unit, sample and step
                if z in solution.index:
                    changed[b.ref] = inputs.changed.get(z, solution.index[z].value)
        if not changed:
            return None
        merged = dict(inputs.changed)
        merged.update(changed)
        return evaluate(step, Inputs(merged))

    return patch


def _resolved(solution: Solution, change: Callable) -> Solution | None:
    problem = change(solution.problem)
    if problem is None:
        return None
    try:
        return solve(problem, derived_steps=min(3, max(1, len(solution.steps))), verify=False)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


def _other_log(problem):
    if problem.loss.kind not in ("cross_entropy", "binary_cross_entropy"):
        return None
    other = "log10" if problem.loss.log == "ln" else "ln"
    return dataclasses.replace(problem, loss=dataclasses.replace(problem.loss, log=other))


def _without_half(problem):
    if problem.loss.kind != "mse" or problem.loss.factor != 0.5:
        return None
    return dataclasses.replace(problem, loss=dataclasses.replace(problem.loss, factor=1.0))


# -- a graph problem's mistakes: one gate's local derivative the wrong way ------------------


def _local_gate(nodes: dict[Quantity, GraphNode], step: Step) -> tuple[GraphNode, int] | None:
    """The gate (of the graph's ``nodes``) a local-derivative step differentiates, and the slot of its argument."""
    t = step.target
    if step.kind != "local" or not isinstance(t, Partial):
        return None
    node = nodes.get(t.of.plain())
    wrt = t.wrt.plain()
    if node is None or wrt not in node.arguments:
        return None
    return node, node.arguments.index(wrt)


def _graph_values(solution: GraphSolution) -> Callable[[Quantity, Inputs, object], float]:
    """A name's value at a training step as a replay sees it: the step that computes it (a
    node's forward step, a trained leaf's update), else the engine's number."""
    sources: dict[tuple[object, Quantity], Key] = {}
    for step in solution.all_steps():
        if step.kind != "forward":
            continue
        sources.setdefault((step.key.step, step.key.plain()), step.id)
        for b in step.form.bindings if isinstance(step.form, Expression) else ():
            sources.setdefault((step.key.step, b.target.plain()), key_of(b.ref, b.target))

    def value(name: Quantity, inputs: Inputs, at) -> float:
        engine = solution.steps[at - 1].values[name]
        key = sources.get((at, name))
        return engine if key is None else inputs.changed.get(key, engine)

    return value


def _not_swapped_patch(solution: GraphSolution):
    nodes = {n.key: n for n in solution.nodes}
    value_of = _graph_values(solution)

    def patch(step: Step, inputs: Inputs):
        found = _local_gate(nodes, step)
        if found is None or found[0].gate != "multiply" or len(found[0].arguments) != 2:
            return None
        node, slot = found
        return value_of(node.arguments[slot], inputs, step.key.step)  # a, where the other input b belongs

    return patch


def _lost_sign_patch(solution: GraphSolution):
    nodes = {n.key: n for n in solution.nodes}

    def patch(step: Step, inputs: Inputs):
        found = _local_gate(nodes, step)
        if found is None or found[0].gate != "add" or found[0].signs[found[1]] > 0:
            return None
        return -evaluate(step, inputs)

    return patch


def _add_as_multiply_patch(solution: GraphSolution):
    nodes = {n.key: n for n in solution.nodes}
    value_of = _graph_values(solution)

    def patch(step: Step, inputs: Inputs):
        found = _local_gate(nodes, step)
        if found is None:
            return None
        node, slot = found
        if node.gate != "add" or len(node.arguments) != 2 or node.constant is not None or any(s < 0 for s in node.signs):
            return None
        return value_of(node.arguments[1 - slot], inputs, step.key.step)  # b, as if the gate were a·b

    return patch


def _dropped_constant_patch(solution: GraphSolution):
    nodes = {n.key: n for n in solution.nodes}

    def patch(step: Step, inputs: Inputs):
        found = _local_gate(nodes, step)
        return 1.0 if found is not None and found[0].gate == "scale" else None

    return patch


def _graph_activation_patch(solution: GraphSolution):
    nodes = {n.key: n for n in solution.nodes}

    def patch(step: Step, inputs: Inputs):
        found = _local_gate(nodes, step)
        return 1.0 if found is not None and found[0].gate in ("sigmoid", "tanh") else None

    return patch


def _forgot_fan_out_patch(solution: GraphSolution):
    output = solution.output

    def patch(step: Step, inputs: Inputs):
        t = step.target
        if isinstance(step.form, Sum) and isinstance(t, Partial) and t.of.plain() == output and len(step.form.terms) >= 2:
            shortened = dataclasses.replace(step, form=dataclasses.replace(step.form, terms=step.form.terms[:-1], vanishing=()))
            return evaluate(shortened, inputs)
        return None

    return patch


class MistakenSolutions:
    """The worlds of every mistake for one solution, computed once and asked many times."""

    def __init__(self, solution: Solution | GraphSolution):
        self.solution = solution
        if isinstance(solution, GraphSolution):
            self.replayed = {
                "multiply_not_swapped": replay(solution, patch=_not_swapped_patch(solution), undefined_as_nan=True),  # type: ignore[arg-type]
                "forgot_fan_out_path": replay(solution, patch=_forgot_fan_out_patch(solution), undefined_as_nan=True),  # type: ignore[arg-type]
                "lost_minus_sign": replay(solution, patch=_lost_sign_patch(solution), undefined_as_nan=True),  # type: ignore[arg-type]
                "add_as_multiply": replay(solution, patch=_add_as_multiply_patch(solution), undefined_as_nan=True),  # type: ignore[arg-type]
                "dropped_constant_factor": replay(solution, patch=_dropped_constant_patch(solution), undefined_as_nan=True),  # type: ignore[arg-type]
                "no_activation_derivative": replay(solution, patch=_graph_activation_patch(solution), undefined_as_nan=True),  # type: ignore[arg-type]
                "added_gradient": replay(solution, patch=_patch_added_gradient, undefined_as_nan=True),  # type: ignore[arg-type]
            }
            self.resolved = {}
            return
        # a mistake's world may leave the domain (a softmax of huge numbers): NaN there, for the
        # layered networks whose worlds are wide; the dense ones keep raising (their tests say so)
        wide = solution.problem.layered
        self.replayed: dict[str, dict[str, float]] = {}
        if wide:  # the slips of its own layers first: the wrong options a quiz takes before the others
            for key, patch in _layer_patches(solution).items():
                self.replayed[key] = replay(solution, patch=patch, undefined_as_nan=True)
        if not solution.problem.training.optimizer.plain:
            for key, patch in _optimizer_patches(solution).items():
                self.replayed[key] = replay(solution, patch=patch, undefined_as_nan=True)
        self.replayed.update({
            "no_activation_derivative": replay(solution, patch=_patch_no_activation_derivative, undefined_as_nan=wide),
            "forgot_path": replay(solution, patch=_patch_forgot_path, undefined_as_nan=wide),
            "added_gradient": replay(solution, patch=_patch_added_gradient, undefined_as_nan=wide),
            "pre_activation": replay(solution, patch=_pre_activation_patch(solution), undefined_as_nan=wide),
        })
        self.resolved: dict[str, Solution | None] = {
            "wrong_log_base": _resolved(solution, _other_log),
            "dropped_half": _resolved(solution, _without_half),
        }

    def wrong_values(self, name: str) -> list[WrongValue]:
        """Every mistake's value of a quantity (a canonical or theme name), where it differs."""
        truth = self.solution.value(name)
        try:
            step = self._step_of(name, truth)
        except (NameError_, LookupError_):  # a given number (a graph's leaf): no step to get wrong
            return []
        if step is None:
            return []
        out: list[WrongValue] = []
        for key, values in self.replayed.items():
            if step.id in values and values[step.id] != truth and math.isfinite(values[step.id]):  # NaN: no value in that world
                out.append(WrongValue(MISTAKES[key], values[step.id]))
        for key, other in self.resolved.items():
            if other is None:
                continue
            wrong = other.value(name)
            if wrong != truth:
                out.append(WrongValue(MISTAKES[key], wrong))
        return out

    def _step_of(self, name: str, truth: float) -> Step | None:
        """The step whose value is the quantity asked (``x'``: the last update, as
        :meth:`GraphSolution.value` reads it); None when that step is not written out."""
        step = self.solution.step(name)
        return step if math.isclose(step.value, truth, rel_tol=1e-12, abs_tol=1e-15) else None
