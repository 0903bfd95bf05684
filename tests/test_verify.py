"""Several training steps, in both update orders, verify cleanly against the NumPy pass;
and a wrong number is caught."""

from dataclasses import replace
from pathlib import Path

import pytest
from pytest import approx

from conftest import K
from tracer.numeric import mlp as numeric
from tracer.core.derive import solve
from tracer.spec import load

MAZUR = Path(__file__).resolve().parent.parent / "examples" / "mazur.yaml"


def mazur(order: str, steps: int):
    problem = load(MAZUR)
    return replace(problem, training=replace(problem.training, order=order, steps=steps))


@pytest.mark.parametrize("order", ["simultaneous", "sequential"])
def test_three_derived_steps_verify(order):
    solution = solve(mazur(order, 3), derived_steps=3)
    assert solution.verification.ok, solution.verification.mismatches[:3]
    assert solution.verification.quantities > 200
    # the loss after three steps agrees with the NumPy engine's own training run
    assert solution.loss_after == approx(numeric.train(mazur(order, 3))[-1].loss, rel=1e-12)


def test_step_two_uses_step_one_weights_without_calling_them_sequential():
    solution = solve(mazur("simultaneous", 2), derived_steps=2)
    step = solution.index["dz2[1]/da1[1]@2"]
    assert step.value == approx(0.4 - 0.5 * 0.0821670406, abs=1e-10)  # W2[1,1] after step 1
    assert "sequential" not in step.note


def test_sequential_reproduces_mazurs_published_loss_after_one_step():
    solution = solve(mazur("sequential", 1))
    assert solution.verification.ok
    assert round(solution.loss_after, 9) == 0.291027924  # source 002, Mazur


def test_a_wrong_engine_number_is_a_mismatch():
    from tracer.core.verify import verify

    solution = solve(mazur("simultaneous", 1))
    ts = solution.steps[0]
    ts.gradients[K("W2[1,1]")] += 1e-6
    report = verify(solution)
    assert not report.ok
    assert [m.quantity for m in report.mismatches][:1] == ["dloss/dW2[1,1]"]
