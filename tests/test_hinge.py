"""The binary hinge loss max(0, 1 − y·o), y = ±1: its terms, its derivative by cases, the kink
y·o = 1 decided in the decimals with the subgradient 0 there (the convention stated in the
document, torch's relu), its NumPy twin and torch (examples/hinge_svm.yaml)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from pytest import approx

from conftest import ROOT, import_torch
from tracer import load, loads
from tracer.core import functions as F
from tracer.core.derive import solve
from tracer.numeric import mlp as numeric
from tracer.spec import SpecError

torch = import_torch()

EXAMPLE = ROOT / "examples" / "hinge_svm.yaml"


@pytest.fixture(scope="module")
def example():
    return solve(load(EXAMPLE), verify=True)


def test_each_sample_pays_what_is_left_of_its_margin(example):
    """o = w·x + b = 1, 1, −0.125, 1.25 for y = 1, −1, 1, 1: max(0, 1 − y·o) = 0, 2, 1.125, 0."""
    assert [example.value(f"a1[1]#{s}") for s in (1, 2, 3, 4)] == [1.0, 1.0, -0.125, 1.25]
    assert [example.value(f"loss#{s}") for s in (1, 2, 3, 4)] == [0.0, 2.0, 1.125, 0.0]
    assert example.value("loss") == 3.125


def test_the_slope_is_minus_y_inside_the_margin_and_0_outside_and_on_the_kink(example):
    step = example.step("dloss#3/da1[1]")
    assert str(step.form.symbolic) == "Piecewise((-y[1], a1[1]*y[1] < 1), (0, True))"
    assert [example.value(f"dloss#{s}/da1[1]") for s in (1, 2, 3, 4)] == [0.0, 1.0, -1.0, 0.0]


def test_the_gradient_adds_the_samples_inside_the_margin(example):
    """∂loss/∂W1 = 1·[2, −1] + (−1)·[−1, 0.5] = [3, −1.5]; ∂loss/∂b1 = 1 − 1 = 0; η = 0.1."""
    assert example.value("dloss/dW1[1,1]") == 3.0
    assert example.value("dloss/dW1[1,2]") == -1.5
    assert example.value("dloss/db1[1]") == 0.0
    assert example.value("W1[1,1]'") == approx(0.5 - 0.1 * 3.0, abs=1e-15)
    assert example.value("W1[1,2]'") == approx(0.25 + 0.1 * 1.5, abs=1e-15)
    # after the step: margins 1 − 0.85, 1 + 0.25, 1 − 0.25 and none: 0.15 + 1.25 + 0.75
    assert example.value("loss_after") == approx(2.15, abs=1e-14)


def test_the_example_states_its_convention_and_is_verified(example):
    assert any("subgradient 0" in note and "1 − y·o = 0" in note for note in example.notes)
    assert example.verification.ok and example.verification.max_abs_diff == 0.0


def test_a_kink_in_the_decimals_is_a_kink_whatever_the_doubles_say():
    """0.3·1 + 0.6·1 + 0.1 is 1 in decimals (0.9999999999999999 in doubles, inside the margin by
    1.1e−16): the hinge is at its kink, loss 0 and subgradient 0 — in the engine and in its twin."""
    problem = loads(textwrap.dedent("""
        network:
          inputs: 2
          layers:
            - {units: 1, activation: identity, weights: [[0.3, 0.6]], bias: 0.1}
        loss: {kind: hinge}
        data:
          - {x: [1, 1], y: [1]}
        training: {learning_rate: 0.5, steps: 1}
    """))
    assert 0.3 * 1 + 0.6 * 1 + 0.1 < 1.0  # the doubles
    solution = solve(problem, verify=True)
    assert solution.value("dloss/da1[1]") == 0.0
    assert solution.value("dloss/dW1[1,1]") == 0.0
    assert solution.verification.ok
    twin = numeric.evaluate(problem)
    assert twin.loss == 0.0 and list(twin.grads.values()) == [0.0, 0.0, 0.0]
    assert any("subgradient 0" in note for note in solution.notes)


def test_the_convention_is_torchs_relu_not_its_clamp():
    """At y·o = 1 exactly, torch.relu(1 − y·o) passes 0 back (ours); torch.clamp(·, min=0) passes −y."""
    o = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    torch.relu(1 - 1.0 * o).sum().backward()
    assert o.grad.tolist() == [0.0]
    o.grad = None
    torch.clamp(1 - 1.0 * o, min=0).sum().backward()
    assert o.grad.tolist() == [-1.0]
    op = F.Hinge()
    assert op.local(np.array([[1.0, 1.0], [-1.0, -1.0]]), np.zeros(2)).tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_the_example_agrees_with_torch():
    """The example's loss and gradients from torch's autograd through relu(1 − y·(Wx + b))."""
    problem = load(EXAMPLE)
    W = torch.tensor([[0.5, 0.25]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.25], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([s.x for s in problem.data], dtype=torch.float64)
    y = torch.tensor([s.y for s in problem.data], dtype=torch.float64)
    loss = torch.relu(1 - y * (x @ W.T + b)).sum()
    loss.backward()
    solution = solve(problem, verify=False)
    assert solution.value("loss") == approx(loss.item(), abs=1e-12)
    assert [solution.value("dloss/dW1[1,1]"), solution.value("dloss/dW1[1,2]")] == approx(W.grad[0].tolist(), abs=1e-12)
    assert solution.value("dloss/db1[1]") == approx(float(b.grad[0]), abs=1e-12)


def test_the_twin_computes_the_terms_and_slopes_by_its_own_rule():
    loss = numeric.Loss("hinge")
    o = np.array([[1.0, 0.3, -2.0, 1.0]])
    y = np.array([[1.0, -1.0, 1.0, -1.0]])
    assert loss.terms(o, y).tolist() == [[0.0, 1.3, 3.0, 2.0]]
    assert loss.term_derivatives(o, y).tolist() == [[0.0, 1.0, -1.0, 1.0]]
    engine = F.Hinge().local(np.stack([o[0], y[0]], axis=1), np.zeros(4))[:, 0]
    assert engine.tolist() == [0.0, 1.0, -1.0, 1.0]


def test_a_wrong_hinge_derivative_is_refused():
    class Wrong(F.Hinge):  # −y everywhere: the kink and the flat side forgotten
        def textbook(self, wrt, position=0):
            return -F.ARG[1] if wrt == 0 else -F.ARG[0]

    with pytest.raises(F.TextbookFormError):
        F.check_textbook_form(Wrong())


def test_a_target_that_is_not_a_side_is_refused_in_one_line():
    text = textwrap.dedent("""
        network:
          inputs: 1
          layers:
            - {units: 1, activation: identity, weights: [[0.5]]}
        loss: {kind: hinge}
        data:
          - {x: [1], y: [0]}
        training: {learning_rate: 0.1}
    """)
    with pytest.raises(SpecError, match=r"data\[0\]\.y\[0\].*−1 or 1 expected for the hinge loss.*got 0"):
        loads(text)


def test_the_command_refuses_a_probability_as_a_hinge_target(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8").replace("{x: [1, 1], y: [1]}", "{x: [1, 1], y: [0.5]}"), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "tracer", "solve", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "−1 or 1 expected for the hinge loss" in done.stderr
    assert "Traceback" not in done.stderr
