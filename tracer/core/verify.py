"""Every value of a solution against the independent NumPy pass, and the gradients
against central finite differences.

The result is a :class:`~tracer.solution.Verification` that every document prints
(how many quantities, the largest difference) and that makes the CLI exit 1 with the
quantity named when anything disagrees.
"""

from __future__ import annotations

import dataclasses
import math

from tracer.numeric import mlp as numeric
from tracer.core.keys import Quantity
from tracer.core.solution import Mismatch, Solution, Step, TrainingStep, Verification
from tracer.spec import layer_of

#: agreement demanded of the two engines: they do the same arithmetic in another order
RELATIVE = 1e-9
#: finite differences (central, h = 1e-6) are accurate to about this, relative to the gradient's scale
FD_RELATIVE = 1e-5
#: finite differences cost two passes per parameter: skip them beyond this many parameters
FD_MAX_PARAMETERS = 2000


class _Checker:
    def __init__(self) -> None:
        self.count = 0
        self.max_diff = 0.0
        self.mismatches: list[Mismatch] = []

    def check(self, name: str, engine: float, reference: float, against: str = "numpy", tol: float = RELATIVE) -> None:
        self.count += against == "numpy"
        if math.isinf(engine) and math.isinf(reference) and (engine > 0) == (reference > 0):
            return
        diff = abs(engine - reference)
        if not math.isfinite(diff):
            self.mismatches.append(Mismatch(name, engine, reference, against))
            return
        if against == "numpy":
            self.max_diff = max(self.max_diff, diff)
        if diff > tol * max(1.0, abs(reference)):
            self.mismatches.append(Mismatch(name, engine, reference, against))


def verify(solution: Solution) -> Verification:
    checker = _Checker()
    problem = solution.problem
    for training_step in solution.steps:
        before = problem.with_parameters(training_step.params_before)  # type: ignore[attr-defined]
        if training_step.batch is not None:  # a mini-batch/SGD update: checked on its own samples
            before = dataclasses.replace(before, data=tuple(problem.data[i - 1] for i in training_step.batch))  # type: ignore[attr-defined]
        reference = numeric.evaluate(before)
        after = numeric.step(before).parameters()
        if training_step.derived:
            _check_training_step(checker, training_step, reference, after, before, numeric.step_gradients(before))
        else:
            checker.check(f"loss@{training_step.number}", training_step.loss, reference.loss)
    final = numeric.evaluate(solution.final)  # type: ignore[arg-type]
    for step in (s for section in solution.closing for s in section.steps):
        _check_step(checker, step, final, None, solution.final, sequential=False)

    fd_count, fd_max = 0, 0.0
    if solution.steps and len(problem.parameter_names()) <= FD_MAX_PARAMETERS:  # type: ignore[attr-defined]
        first = solution.steps[0]
        before = problem.with_parameters(first.params_before)  # type: ignore[attr-defined]
        if first.batch is not None:
            before = dataclasses.replace(before, data=tuple(problem.data[i - 1] for i in first.batch))  # type: ignore[attr-defined]
        if not _near_kink(numeric.evaluate(before), before):
            fd = numeric.finite_differences(before)
            sequential = problem.training.order == "sequential"  # type: ignore[attr-defined]
            last = len(problem.layers)  # type: ignore[attr-defined]
            for name, g in first.gradients.items():
                if sequential and layer_of(name) < last:
                    continue  # taken through updated weights: not the loss's gradient (checked by numpy's step)
                fd_count += 1
                scale = max(1.0, abs(g), max(abs(v) for v in first.gradients.values()))
                fd_max = max(fd_max, abs(g - fd[name]))
                checker.check(f"dloss/d{name}", g, fd[name], "finite differences", FD_RELATIVE * scale)
    return Verification(checker.count, checker.max_diff, fd_count, fd_max, tuple(checker.mismatches))


def _near_kink(reference: numeric.Pass, problem) -> bool:
    """Finite differences are meaningless within h of a ReLU/step kink."""
    for s in reference.samples:
        for layer, z in zip(problem.layers, s.z):
            if layer.activation.name in ("relu", "leaky_relu", "elu", "step") and any(abs(v) < 1e-4 for v in z):
                return True
    return False


def _check_training_step(checker: _Checker, ts: TrainingStep, reference: numeric.Pass, after: dict[str, float], problem, step_gradients: dict[str, float]) -> None:
    """``step_gradients``: what numpy's step subtracts (in sequential order a hidden layer's
    go through the updated weights above it; in simultaneous order they are the gradients)."""
    sequential = problem.training.order == "sequential"
    for step in ts.steps():
        _check_step(checker, step, reference, after, problem, sequential)
    for name, g in ts.gradients.items():
        checker.check(f"dloss/d{name}", g, step_gradients[name])
    for name, v in ts.params_after.items():
        checker.check(f"{name}'", v, after[name])


def _check_step(checker: _Checker, step: Step, reference: numeric.Pass, after: dict[str, float] | None, problem, sequential: bool) -> None:
    t = step.target
    s = (step.sample or 1) - 1
    sample = reference.samples[s]
    name = step.id
    if isinstance(t, Quantity):
        if t.base == "z":
            checker.check(name, step.value, sample.z[t.layer - 1][t.index[0] - 1])
        elif t.base == "a":
            checker.check(name, step.value, sample.a[t.layer - 1][t.index[0] - 1])
        elif t.base == "loss" and t.index:
            checker.check(name, step.value, sample.loss_terms[t.index[0] - 1])
        elif t.base == "loss" or t.base == "loss_after":
            checker.check(name, step.value, sample.loss if (step.sample is not None) else reference.loss)
        elif t.after and after is not None:
            checker.check(name, step.value, after[str(Quantity(t.base, t.layer, t.index))])
        return
    of, wrt = t.of, t.wrt
    last = len(problem.layers)
    if of.base == "loss" and wrt.base in ("a", "z"):
        if sequential and wrt.layer < last:
            return  # uses weights already updated: checked through the updates it produces
        table = sample.dloss_da if wrt.base == "a" else sample.dloss_dz
        checker.check(name, step.value, table[wrt.layer - 1][wrt.index[0] - 1])
    elif of.base == "loss" and wrt.is_parameter:
        if sequential and wrt.layer < last:
            return
        grads = sample.grads if step.sample is not None else reference.grads
        checker.check(name, step.value, grads[str(wrt)])
    elif of.base == "a" and wrt.base == "z":
        jac = sample.da_dz[of.layer - 1]
        m, j = of.index[0] - 1, wrt.index[0] - 1
        checker.check(name, step.value, float(jac[m, j]) if getattr(jac, "ndim", 1) == 2 else (float(jac[m]) if m == j else 0.0))
    elif of.base == "z" and wrt.base == "W":
        i = wrt.index[1] - 1
        inputs = problem.data[s].x if of.layer == 1 else sample.a[of.layer - 2]
        checker.check(name, step.value, float(inputs[i]))
    elif of.base == "z" and wrt.base == "b":
        checker.check(name, step.value, 1.0)
    elif of.base == "z" and wrt.base in ("a", "x"):
        w = f"W{of.layer}[{of.index[0]},{wrt.index[0]}]"
        uses_new = "updated" in step.note
        checker.check(name, step.value, (after or {}).get(w) if uses_new else problem.parameters()[w])
