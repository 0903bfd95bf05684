"""Weight decay as torch.optim defines it: ``weight_decay`` λ on sgd, momentum, Nesterov, AdaGrad,
RMSprop and Adam is the coupled g ← g + λ·θ before the rule; ``adamw`` is torch.optim.AdamW's
decoupled θ ← θ − η·λ·θ, then Adam's step (λ 0.01 by default, torch's).

Each optimizer's three steps of a small network against torch.optim to 1e-12 are in
tests/test_torch.py (``test_every_optimizer_and_training_option_agrees_with_torch``, the
weight-decay cases of OPTIMIZERS); here: the update worked by hand, the NumPy twin against
torch.optim directly, ``tracer descend --weight-decay``, and the refusals.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
import sympy as sp
import yaml
from click.testing import CliRunner
from pytest import approx

from conftest import import_torch

import tracer
from tracer import answers
from tracer.calculus.descent import descend
from tracer.cli.calculus import descend as descend_command
from tracer.numeric import optimizers as twin
from tracer.spec import OptimizerSpec, from_mapping

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "optimizer_adamw.yaml"
x = sp.Symbol("x")


# -- the shipped example, by hand --------------------------------------------------------

def test_adamw_example_first_update_by_hand():
    """w = 0.5, g = −0.9, η = 0.1, λ = 0.1: m̂ = −0.9, v̂ = 0.81, so
    w' = 0.5 − 0.1·0.1·0.5 − 0.1·(−0.9)/(0.9 + 1e−8) = 0.495 + 0.0999999989 = 0.5949999989."""
    solution = tracer.solve(tracer.load(EXAMPLE))
    after = list(solution.steps[0].params_after.values())
    assert after[0] == approx(0.5 - 0.005 + 0.09 / (0.9 + 1e-8), abs=1e-15)  # W1[1,1]
    assert after[0] == approx(0.5949999989, abs=5e-11)
    assert after[1] == approx(-0.25 + 0.0025 + 0.18 / (1.8 + 1e-8), abs=1e-15)  # W1[1,2]: −0.1475000011
    assert after[2] == approx(0.1 - 0.001 + 0.09 / (0.9 + 1e-8), abs=1e-15)  # b1[1]: 0.1989999989
    assert solution.verification.ok


def test_adamw_example_writes_the_decay_term_with_its_numbers():
    text = answers.render(tracer.solve(tracer.load(EXAMPLE)), "text")
    assert "θ' = θ − η·λ·θ − (η·m̂_t)/(√(v̂_t) + ε)" in text
    assert "with β₁ = 0.9, β₂ = 0.999, ε = 1e−08, λ = 0.1." in text
    assert ("W1[1,1]' = W1[1,1] − η·λ·W1[1,1] − (η·m̂₁(W1[1,1]))/(√(v̂₁(W1[1,1])) + ε) = "
            "0.5 − 0.1 × 0.1 × 0.5 − (0.1 × (−0.9))/(√(0.81) + 1e−08) = 0.594999999") in text


def _with(**changes):
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["training"].update(changes)
    return from_mapping(raw)


def test_coupled_decay_on_momentum_is_written_inside_the_gradient():
    """v₁ = 0.9·0 + (g + λ·w) = −0.9 + 0.1·0.5 = −0.85; w' = 0.5 − 0.1·(−0.85) = 0.585."""
    solution = tracer.solve(_with(optimizer={"name": "momentum", "beta": 0.9, "weight_decay": 0.1}))
    text = answers.render(solution, "text")
    assert "v₁(W1[1,1]) = β·v₀(W1[1,1]) + (∂loss/∂W1[1,1] + λ·W1[1,1]) = 0.9 × 0 + (−0.9 + 0.1 × 0.5) = −0.85" in text
    assert list(solution.steps[0].params_after.values())[0] == approx(0.585, abs=1e-15)
    assert solution.verification.ok


def test_the_learning_rate_is_eta_where_lambda_is_the_weight_decay():
    """The bracket theme writes the rate λ (as for plain Adam); with weight decay λ is the decay's,
    so the rate is η."""
    adam = answers.render(tracer.solve(_with(optimizer={"name": "adam"})), "tex")
    assert "learning rate $\\lambda = 0.1$" in adam
    tex = answers.render(tracer.solve(tracer.load(EXAMPLE)), "tex")
    assert "learning rate $\\eta = 0.1$" in tex
    assert "\\theta' &= \\theta - \\eta \\cdot \\lambda \\cdot \\theta - \\frac{\\eta \\cdot \\hat{m}_{t}}{\\sqrt{\\hat{v}_{t}} + \\varepsilon}" in tex


# -- the NumPy twin against torch.optim ----------------------------------------------------

CASES = [("sgd", {}, "SGD", {}), ("momentum", {"beta": 0.8}, "SGD", {"momentum": 0.8}),
         ("momentum", {"beta": 0.9, "nesterov": True}, "SGD", {"momentum": 0.9, "nesterov": True}),
         ("adagrad", {"eps": 1e-6}, "Adagrad", {"eps": 1e-6}), ("rmsprop", {"alpha": 0.9}, "RMSprop", {"alpha": 0.9}),
         ("adam", {"beta1": 0.8, "beta2": 0.99}, "Adam", {"betas": (0.8, 0.99)}),
         ("adamw", {"beta1": 0.8, "beta2": 0.99}, "AdamW", {"betas": (0.8, 0.99)})]


@pytest.mark.parametrize("name, ours, theirs, options", CASES, ids=[c[0] + ("-nesterov" if "nesterov" in c[1] else "") for c in CASES])
def test_the_twin_takes_torchs_three_steps_with_weight_decay(name, ours, theirs, options):
    """θ = (0.5, −1.5, 2), the gradient of Σ θ³/3 − θ (g = θ² − 1), λ = 0.3, η = 0.1: three steps,
    θ and every state equal to torch.optim's to 1e-12."""
    torch = import_torch()
    theta0 = np.array([0.5, -1.5, 2.0])
    hyper = twin.Hyper(name, weight_decay=0.3, **ours)
    p = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    optimizer = getattr(torch.optim, theirs)([p], lr=0.1, weight_decay=0.3, **options)
    theta, state = theta0.copy(), twin.initial_state(hyper, 3)
    for t in (1, 2, 3):
        theta, state, _ = twin.update(hyper, theta, theta**2 - 1, state, t, 0.1)
        p.grad = (p.detach() ** 2 - 1).clone()
        optimizer.step()
        assert np.max(np.abs(theta - p.detach().numpy())) <= 1e-12
    # the decay moved θ: the same steps without it end elsewhere
    plain = twin.run(twin.Hyper(name, weight_decay=0.0, **ours), theta0, lambda th: th**2 - 1, 3, 0.1)[-1][0]
    assert np.max(np.abs(plain - theta)) > 1e-3


def test_adamw_default_weight_decay_is_torchs():
    assert twin.Hyper("adamw").decay == 0.01
    assert OptimizerSpec("adamw").decay == 0.01
    assert OptimizerSpec("adam").decay == 0.0
    assert tracer.load(EXAMPLE).training.optimizer.decay == 0.1


# -- tracer descend ----------------------------------------------------------------------

cli = click.Group(commands=[descend_command])


def test_descend_adamw_first_step_by_hand():
    """f = x², x₀ = 1, η = 0.1, λ = 0.5: g = 2, m̂ = 2, v̂ = 4, x₁ = 1 − 0.05 − 0.2/(2 + 1e−8) = 0.85."""
    d = descend(x**2, {x: 1}, 0.1, 2, optimizer=OptimizerSpec("adamw", weight_decay=0.5))
    assert d.iterates[1].point[0] == approx(1 - 0.05 - 0.2 / (2 + 1e-8), abs=1e-15)
    assert d.iterates[1].point[0] == approx(0.85, abs=1e-8)


def test_descend_sgd_weight_decay_by_hand():
    """x₁ = 1 − 0.1·(2 + 0.1·1) = 0.79; x₂ = 0.79 − 0.1·(1.58 + 0.079) = 0.6241."""
    result = CliRunner().invoke(cli, ["descend", "x^2", "--start", "x=1", "--lr", "0.1", "--steps", "2", "--weight-decay", "0.1"])
    assert result.exit_code == 0, result.output
    assert "x₁ = x₀ − α·(g₁ + λ·x₀) = 1 − 0.1 × (2 + 0.1 × 1) = 0.79" in result.output
    d = descend(x**2, {x: 1}, 0.1, 2, optimizer=OptimizerSpec("sgd", weight_decay=0.1))
    assert d.iterates[2].point[0] == approx(0.6241, abs=1e-15)


@pytest.mark.parametrize("value", ["-1", "nan", "two"])
def test_descend_refuses_a_bad_weight_decay(value):
    result = CliRunner().invoke(cli, ["descend", "x^2", "--start", "x=1", "--lr", "0.1", "--steps", "2", "--weight-decay", value])
    assert result.exit_code == 2
    assert "--weight-decay" in result.output and len(result.output.strip().splitlines()) == 1


# -- refusals in a problem file ------------------------------------------------------------

@pytest.mark.parametrize("optimizer, field, expected", [
    ("{name: adamw, weight_decay: -0.1}", "training.optimizer.weight_decay", "must be at least 0.0, got -0.1"),
    ("{name: sgd, weight_decay: -1}", "training.optimizer.weight_decay", "must be at least 0.0, got -1"),
    ("{name: adam, weight_decay: '0.1'}", "training.optimizer.weight_decay", "a number expected"),
    ("{name: adamw, nesterov: true}", "training.optimizer.nesterov", "unknown key"),
])
def test_a_bad_weight_decay_is_refused_in_one_line(tmp_path, optimizer, field, expected):
    text = EXAMPLE.read_text().replace("optimizer: {name: adamw, weight_decay: 0.1}", f"optimizer: {optimizer}")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = subprocess.run([sys.executable, "-m", "tracer", "solve", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{field}: " in lines[0] and expected in lines[0], result.stderr


def test_weight_decay_outside_the_optimizer_is_refused(tmp_path):
    text = EXAMPLE.read_text().replace("  optimizer: {name: adamw, weight_decay: 0.1}", "  weight_decay: 0.1")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = subprocess.run([sys.executable, "-m", "tracer", "solve", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "training.weight_decay" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_sequential_order_with_weight_decay_is_refused(tmp_path):
    text = EXAMPLE.read_text().replace("optimizer: {name: adamw, weight_decay: 0.1}", "optimizer: {name: sgd, weight_decay: 0.1}\n  order: sequential")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = subprocess.run([sys.executable, "-m", "tracer", "solve", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "training.order: sequential order is plain gradient descent (Mazur's); with weight_decay the update is simultaneous" in result.stderr
