"""`tracer descend --optimizer`: momentum, Nesterov, AdaGrad, RMSprop, Adam on f = x², by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
import pytest
import sympy as sp
from click.testing import CliRunner
from pytest import approx

from tracer.calculus.descent import descend
from tracer.cli.calculus import descend as descend_command
from tracer.spec import OptimizerSpec

cli = click.Group(commands=[descend_command])
x = sp.Symbol("x")
BASE = ["descend", "x^2", "--start", "x=-4", "--lr", "0.1", "--steps", "3"]


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_momentum_two_steps_by_hand():
    d = descend(x**2, {x: -4}, 0.1, 2, optimizer=OptimizerSpec("momentum", beta=0.9))
    assert d.iterates[1].quantity("v")[0] == approx(-8)  # v1 = 0.9·0 + (−8)
    assert d.iterates[1].point[0] == approx(-3.2)  # x1 = −4 − 0.1·(−8)
    assert d.iterates[2].quantity("v")[0] == approx(0.9 * -8 + -6.4)  # −13.6
    assert d.iterates[2].point[0] == approx(-3.2 + 1.36)  # −1.84


def test_nesterov_first_step():
    d = descend(x**2, {x: -4}, 0.1, 1, optimizer=OptimizerSpec("momentum", nesterov=True))
    assert d.iterates[1].point[0] == approx(-4 - 0.1 * (-8 + 0.9 * -8))  # −2.48


def test_adam_first_step_moves_by_lr_times_sign():
    d = descend(x**2, {x: -4}, 0.1, 1, optimizer=OptimizerSpec("adam"))
    assert d.iterates[1].point[0] == approx(-3.9, abs=1e-9)
    assert d.iterates[1].quantity("m_hat")[0] == approx(-8)
    assert d.iterates[1].quantity("v_hat")[0] == approx(64)


def test_adagrad_two_steps_by_hand():
    d = descend(x**2, {x: -4}, 0.1, 2, optimizer=OptimizerSpec("adagrad"))
    x1 = -4 + 0.1 * 8 / (8 + 1e-10)  # G1 = 64
    assert d.iterates[1].point[0] == approx(x1, abs=1e-12)
    g2 = 2 * x1
    G2 = 64 + g2**2
    assert d.iterates[2].quantity("G")[0] == approx(G2)
    assert d.iterates[2].point[0] == approx(x1 - 0.1 * g2 / (math.sqrt(G2) + 1e-10), abs=1e-12)


def test_rmsprop_two_steps_by_hand():
    d = descend(x**2, {x: -4}, 0.1, 2, optimizer=OptimizerSpec("rmsprop"))
    s1 = 0.01 * 64  # (1 − 0.99)·(−8)²
    x1 = -4 + 0.1 * 8 / (math.sqrt(s1) + 1e-8)  # ≈ −3
    assert d.iterates[1].quantity("s")[0] == approx(0.64)
    assert d.iterates[1].point[0] == approx(x1, abs=1e-12)
    g2 = 2 * x1
    s2 = 0.99 * s1 + 0.01 * g2**2
    assert d.iterates[2].quantity("s")[0] == approx(s2)
    assert d.iterates[2].point[0] == approx(x1 - 0.1 * g2 / (math.sqrt(s2) + 1e-8), abs=1e-12)


SGD_BEFORE = """gradient descent on f(x) = x^2
learning rate α = 0.1, 3 steps from x = −4
df/dx = 2·x

x₁ = x₀ − α·f'(x₀) = −4 − 0.1 × (−8) = −3.2
x₂ = x₁ − α·f'(x₁) = −3.2 − 0.1 × (−6.4) = −2.56
x₃ = x₂ − α·f'(x₂) = −2.56 − 0.1 × (−5.12) = −2.048

k       x         f   df/dx
0      −4        16      −8
1    −3.2     10.24    −6.4
2   −2.56    6.5536   −5.12
3  −2.048  4.194304  −4.096

after 3 steps: x = −2.048, f = 4.194304
"""


def test_sgd_output_unchanged():
    assert run(*BASE).output == SGD_BEFORE
    assert run(*BASE, "--optimizer", "sgd").output == SGD_BEFORE


def test_momentum_written_out():
    result = run(*BASE, "--optimizer", "momentum", "--beta", "0.9")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "optimizer: SGD with momentum (torch.optim.SGD), β = 0.9, v₀ = 0" in out
    assert "  v_t = β·v_(t−1) + g_t" in out
    assert "g₁ = f'(x₀) = −8" in out
    assert "v₁ = β·v₀ + g₁ = 0.9 × 0 + (−8) = −8" in out
    assert "x₁ = x₀ − α·v₁ = −4 − 0.1 × (−8) = −3.2" in out
    assert "v₂ = β·v₁ + g₂ = 0.9 × (−8) + (−6.4) = −13.6" in out
    assert "x₂ = x₁ − α·v₂ = −3.2 − 0.1 × (−13.6) = −1.84" in out


def test_adam_written_out_with_bias_correction():
    out = run(*BASE, "--optimizer", "adam").output
    assert "m̂₁ = m₁/(1 − β₁^1) = (−0.8)/(1 − 0.9^1) = −8" in out
    assert "x₁ = x₀ − (α·m̂₁)/(√(v̂₁) + ε) = −4 − (0.1 × (−8))/(√(64) + 1e−08) = −3.9" in out


def test_json_has_each_iterates_state():
    data = json.loads(run(*BASE, "--optimizer", "momentum", "-f", "json").output)
    assert data["optimizer"]["name"] == "momentum"
    assert data["optimizer"]["hyperparameters"] == {"beta": 0.9}
    assert data["iterates"][0]["state"] == {"v": {"x": 0.0}}
    assert data["iterates"][2]["state"]["v"]["x"] == approx(-13.6)
    assert data["iterates"][2]["point"]["x"] == approx(-1.84)


@pytest.mark.parametrize("fmt", ["md", "tex"])
def test_md_and_tex_state_the_optimizer(fmt):
    out = run(*BASE, "--optimizer", "adam", "-f", fmt).output
    assert "Adam (torch.optim.Adam)" in out
    assert r"\hat{m}_{1}" in out and r"\beta_1" in out


def test_comparison_table(tmp_path: Path):
    svg = tmp_path / "paths.svg"
    result = run(*BASE, "--optimizer", "sgd,momentum,adam", "--plot", str(svg))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("k "))
    assert header.split() == ["k", "f", "(sgd)", "x", "(sgd)", "f", "(momentum)", "x", "(momentum)", "f", "(adam)", "x", "(adam)"]
    row = lines[lines.index(header) + 2].split()  # k = 1
    assert row == ["1", "10.24", "−3.2", "10.24", "−3.2", "15.21", "−3.9"]
    assert lines.index("— sgd —") < lines.index("— momentum —") < lines.index("— adam —")
    assert "momentum: after 3 steps: x = −0.248, f = 0.061504" in lines
    figure = svg.read_text()
    assert figure.count("<polyline") == 4  # the curve and one path per optimizer
    data = json.loads(run(*BASE, "--optimizer", "sgd,momentum,adam", "-f", "json").output)
    assert [r["optimizer"]["name"] for r in data["runs"]] == ["sgd", "momentum", "adam"]
    assert data["runs"][1]["iterates"][1]["point"]["x"] == approx(-3.2)
    tex = tmp_path / "paths.tex"
    run(*BASE, "--optimizer", "sgd,adam", "--plot", str(tex))
    assert tex.read_text().count(r"\addlegendentry") == 2


@pytest.mark.parametrize(
    "args, line",
    [
        (["--optimizer", "lbfgs"], "tracer descend: --optimizer: unknown optimizer 'lbfgs' (one of sgd, momentum, adagrad, rmsprop, adam, adamw)"),
        (["--optimizer", "momentum", "--beta", "1.5"], "tracer descend: --beta: must lie in [0, 1), got 1.5"),
        (["--optimizer", "adam", "--beta", "0.9"], "tracer descend: --beta: applies to momentum, not to adam"),
        (["--optimizer", "adam", "--eps", "0"], "tracer descend: --eps: must lie in (0, ∞), got 0"),
        (["--nesterov"], "tracer descend: --nesterov: applies to momentum, not to sgd"),
        (["--optimizer", "momentum,momentum"], "tracer descend: --optimizer: an optimizer is named twice"),
    ],
)
def test_bad_optimizer_input_is_one_line_and_exit_2(args, line):
    result = CliRunner(mix_stderr=False).invoke(cli, BASE + args) if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else CliRunner().invoke(cli, BASE + args)
    assert result.exit_code == 2
    assert result.stderr.strip() == line
    assert "Traceback" not in result.output


def test_a_step_that_disagrees_with_the_numpy_twin_exits_1(monkeypatch):
    from tracer.calculus import descent as module

    real = module.twin.update
    monkeypatch.setattr(module.twin, "update", lambda *a: (real(*a)[0] + 1.0, *real(*a)[1:]))
    result = run(*BASE, "--optimizer", "momentum")
    assert result.exit_code == 1
    assert "verification failed" in result.stderr
