"""The JSON form of a solution (SPEC.md §5): full double precision, the file's layout.

Numbers only: nothing here prints math (``tracer ask -f json``, whose steps carry their
printed form, is :mod:`tracer.export.answer`).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from tracer import keys
from tracer.core.solution import GraphSolution, Solution
from tracer.spec import Problem


def group_parameters(problem: Problem, flat: Mapping[keys.Quantity, float]) -> dict[str, Any]:
    """``{W1[1,1]: …}`` → ``{"W1": [[…]], "b1": […] | number}``: each parameter block of a layer
    nested as its kind shapes it (``ParameterBlock.json_shaped``): a dense W one row per unit, a
    conv2d W [filter][channel][row][column] as the file writes a kernel, a shared bias one number."""
    values = [flat[key] for key in problem.parameter_keys]
    out: dict[str, Any] = {}
    k = 0
    for block in problem.parameter_blocks:
        out[str(keys.Block(block.role, block.layer))] = block.json_shaped(values[k:k + block.size])
        k += block.size
    return out


def _names(values: Mapping[keys.Quantity, float]) -> dict[str, float]:
    return {str(key): value for key, value in values.items()}



def json_number(x: float) -> float | str:
    """JSON has no infinities: write them as strings rather than invalid JSON."""
    return x if math.isfinite(x) else ("Infinity" if x > 0 else "-Infinity" if x < 0 else "NaN")


def _verification_json(v) -> dict[str, Any]:
    return {
        "quantities": v.quantities,
        "max_abs_diff": v.max_abs_diff,
        "finite_differences": {"gradients": v.finite_difference_checked, "max_abs_diff": v.finite_difference_max_diff,
                               "skipped": [{"names": list(s.names), "reason": s.reason} for s in v.skipped]},
        "mismatches": [m.quantity for m in v.mismatches],
    }


def graph_json(solution: GraphSolution) -> dict[str, Any]:
    """A graph problem (SPEC.md §7): every name's value and ∂output/∂name at the given values;
    with training, one entry per step (its values, gradients, the trained leaves after) and
    the values after."""

    def named(values: Mapping[keys.Quantity, float]) -> dict[str, float | str]:
        return {str(key): json_number(value) for key, value in values.items()}

    first = solution.steps[0]
    out: dict[str, Any] = {
        "title": solution.problem.title,
        "output": solution.problem.output,
        "values": named(first.values),
        "gradients": named(first.gradients),
    }
    if solution.trained:
        out["steps"] = [
            {"number": gs.number, "derived": gs.derived, "values": named(gs.values), "gradients": named(gs.gradients),
             "params_after": named(gs.params_after), "output": json_number(gs.output),
             **({"optimizer": {"name": solution.problem.training.optimizer.name,
                               "state": {k: {leaf: json_number(v) for leaf, v in per.items()} for k, per in gs.optimizer_state.items()}}}
                if gs.optimizer_state else {})}
            for gs in solution.steps
        ]
        assert solution.values_after is not None
        out["values_after"] = named(solution.values_after)
        out["output_after"] = json_number(solution.values_after[solution.output])
    if solution.verification is not None:
        out["verification"] = _verification_json(solution.verification)
    if solution.notes:
        out["notes"] = list(solution.notes)
    return out


def _optimizer_json(problem: Problem, state: Mapping[str, Mapping[keys.Quantity, float]]) -> dict[str, Any]:
    """A step's optimizer quantities after it (SPEC.md §9), each grouped like the parameters; a
    parameter that is not trained keeps its state at 0."""
    return {"name": problem.training.optimizer.name,
            "state": {name: group_parameters(problem, {k: json_number(values.get(k, 0.0)) for k in problem.parameter_keys})
                      for name, values in state.items()}}


def _clip_json(problem: Problem, clip: Mapping[str, Any]) -> dict[str, Any]:
    """A step's gradient clipping (SPEC.md §9): the mode and threshold, the norm, clip_coef and the factor
    (by norm), and the gradients after clipping grouped like the parameters — what the optimizer read, as
    torch's ``.grad`` after clip_grad_norm_/clip_grad_value_ (0 for a parameter that is not trained)."""
    out = {k: (json_number(v) if isinstance(v, float) else v) for k, v in clip.items() if k != "clipped"}
    out["clipped"] = group_parameters(problem, {k: json_number(clip["clipped"].get(k, 0.0)) for k in problem.parameter_keys})
    return out


def solution_json(solution: Solution | GraphSolution) -> dict[str, Any]:
    if isinstance(solution, GraphSolution):
        return graph_json(solution)
    problem = solution.problem
    steps = []
    for ts in solution.steps:
        steps.append(
            {
                "number": ts.number,
                "derived": ts.derived,
                "forward": list(ts.forward),
                "loss": json_number(ts.loss),
                "gradients": group_parameters(problem, ts.gradients),
                "params_after": group_parameters(problem, ts.params_after),
                **({"batch": list(ts.batch)} if getattr(ts, "batch", None) else {}),
                **({"optimizer": _optimizer_json(problem, ts.optimizer_state)} if ts.optimizer_state else {}),
                **({"penalty": json_number(ts.penalty)} if ts.penalty is not None else {}),
                **({"clip": _clip_json(problem, ts.clip)} if ts.clip is not None else {}),
                **({"learning_rate": json_number(ts.learning_rate)} if ts.learning_rate is not None else {}),
            }
        )
    v = solution.verification
    out: dict[str, Any] = {
        "title": getattr(problem, "title", ""),
        "steps": steps,
        "loss_after": json_number(solution.loss_after),
        "derived_steps": [ts.number for ts in solution.steps if ts.derived],
    }
    if v is not None:
        out["verification"] = _verification_json(v)
    if solution.notes:
        out["notes"] = list(solution.notes)
    run = getattr(solution, "run", None)
    if run is not None:
        out["run"] = run_json(run)
    return out


def run_json(run) -> dict[str, Any]:
    """A training run (tracer.training): the setting, the first updates in full, one record per
    recorded epoch (or step). ``steps`` of a long run lists only the written-out steps (and, for a
    full-batch run of at most 100 steps, every step); the losses of all the others are here."""

    def maybe(x: float | None) -> float | str | None:
        return None if x is None else json_number(x)

    return {
        "mode": run.mode,
        "unit": run.unit,
        "batch_size": run.batch_size,
        "batches_per_epoch": run.batches_per_epoch,
        "epochs": run.epochs,
        "updates": run.updates,
        "seconds": run.seconds,
        "first_updates": [
            {"number": u.number, "epoch": u.epoch, "batch": list(u.batch), "batch_loss": maybe(u.batch_loss), "params_after": _names(u.params_after)}
            for u in run.first_updates
        ],
        "records": [
            {
                "epoch": r.epoch,
                "updates": r.updates,
                "loss": maybe(r.loss),
                "accuracy": r.accuracy,
                "test_loss": maybe(r.test_loss),
                "test_accuracy": r.test_accuracy,
                **({"tracked": _names(r.tracked)} if r.tracked else {}),
            }
            for r in run.records
        ],
        "final": _names(run.final),
    }
