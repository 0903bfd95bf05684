"""Gradient clipping (``training.clip``) as torch clips ``.grad`` between ``loss.backward()`` and
``optimizer.step()``:

* ``{norm: max_norm}`` is ``torch.nn.utils.clip_grad_norm_(params, max_norm)``: ‖g‖ over every trained
  parameter's gradient, clip_coef = max_norm/(‖g‖ + 10⁻⁶), every gradient × min(clip_coef, 1);
* ``{value: c}`` is ``torch.nn.utils.clip_grad_value_(params, c)``: each gradient clamped to [−c, c].

The optimizer reads the clipped gradient g̃, so a coupled weight decay is added after clipping
(g̃ + λ·θ). Here: the shipped examples worked by hand, the clamp decided in decimals at its edge,
the twin on its own, the refusals, and a few steps of dense, conv and rnn networks against
torch.nn.utils + torch.optim to 1e-12 (tests/test_torch.py's comparison of every JSON number).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from pytest import approx

from conftest import import_torch, needs

import tracer
from tracer import answers, keys
from tracer.cli import cli
from tracer.export.as_json import solution_json
from tracer.numeric import clipping as twin
from tracer.spec import SpecError, from_mapping

torch = import_torch()
from test_torch import _probe_problem, compare, load_generated  # noqa: E402  (torch first: CI must have it)

ROOT = Path(__file__).resolve().parent.parent
NORM_EXAMPLE = ROOT / "examples" / "clip_norm.yaml"
VALUE_EXAMPLE = ROOT / "examples" / "clip_value.yaml"


def _raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


# -- the shipped examples, by hand -------------------------------------------------------------

def test_clip_norm_example_step_one_by_hand():
    """z1 = (0, 0.9), a1 = (0, tanh 0.9), o = −0.5·tanh(0.9) + 0.2 = −0.158148935, δ = o − 3 = −3.15814894.
    The nine gradients are δ·(0.6·(1, 2, 1), −0.5·(1 − tanh²0.9)·(1, 2, 1), a1[1] = 0, a1[2], 1);
    ‖g‖ = 6.33892921, clip_coef = 1/(6.33892921 + 10⁻⁶) = 0.157755326 < 1, so every gradient is scaled:
    g̃(W1[1,1]) = 0.157755326 × (−1.89488936) = −0.298928888, and momentum's v₁ = g̃, W' = 0.5 − 0.1·v₁."""
    t = math.tanh(0.9)
    delta = -0.5 * t + 0.2 - 3.0
    hidden = [delta * 0.6, delta * -0.5 * (1 - t * t)]
    g = [hidden[0] * 1, hidden[0] * 2, hidden[1] * 1, hidden[1] * 2, hidden[0], hidden[1], 0.0, delta * t, delta]
    norm = math.sqrt(sum(v * v for v in g))
    assert norm == approx(6.33892921, abs=5e-9)
    coef = 1.0 / (norm + 1e-6)
    assert coef == approx(0.157755326, abs=5e-10)
    solution = tracer.solve(tracer.load(NORM_EXAMPLE))
    clip = solution.steps[0].clip
    assert clip["norm"] == approx(norm, abs=1e-14) and clip["clip_coef"] == approx(coef, abs=1e-15)
    assert clip["factor"] == clip["clip_coef"]
    W111 = keys.parse("W1[1,1]")
    assert clip["clipped"][W111] == approx(coef * g[0], abs=1e-15) == approx(-0.298928888, abs=5e-10)
    assert solution.steps[0].params_after[W111] == approx(0.5 - 0.1 * coef * g[0], abs=1e-15) == approx(0.529892889, abs=5e-10)
    assert solution.verification.ok


def test_clip_norm_example_writes_the_norm_the_factor_and_the_clipped_gradients():
    text = answers.render(tracer.solve(tracer.load(NORM_EXAMPLE)), "text")
    assert "gradients clipped by norm (torch.nn.utils.clip_grad_norm_, max_norm 1)" in text  # the problem's line
    assert "Gradient clipping by norm (max norm 1)\n" in text
    assert ("(38) grad_norm_sq = (∂loss/∂W1[1,1])^2 + (∂loss/∂W1[1,2])^2 + (∂loss/∂W1[2,1])^2 + (∂loss/∂W1[2,2])^2 + "
            "(∂loss/∂b1[1])^2 + (∂loss/∂b1[2])^2 + (∂loss/∂W2[1,1])^2 + (∂loss/∂W2[1,2])^2 + (∂loss/∂b2[1])^2 = "
            "(−1.89488936)^2 + (−3.78977872)^2 + 0.768878773^2 + 1.53775755^2 + (−1.89488936)^2 + 0.768878773^2 + 0^2 + "
            "(−2.26217536)^2 + (−3.15814894)^2 = 40.1820236") in text
    assert "(39) grad_norm = √(grad_norm_sq) = √(40.1820236) = 6.33892921   [from (38)]" in text
    assert ("(40) clip_coef = max_norm/(grad_norm + 10^(−6)) = 1/(6.33892921 + 10^(−6)) = 0.157755326   [from (39)]   "
            "(below 1: every gradient is multiplied by it)") in text
    assert "(41) g̃₁(W1[1,1]) = min(1, clip_coef)·∂loss/∂W1[1,1] = min(1, 0.157755326) × (−1.89488936) = −0.298928888   [from (27), (40)]" in text
    # the optimizer reads g̃, referred back to its equation
    assert "(50) v₁(W1[1,1]) = β·v₀(W1[1,1]) + g̃₁(W1[1,1]) = 0.9 × 0 + (−0.298928888) = −0.298928888   [from (41)]" in text
    assert "  v_t = β·v_(t−1) + g̃" in text  # the optimizer stated on the clipped gradient


def test_clip_value_example_clamps_and_the_weight_decay_comes_after():
    """δ = o − 2.5 = −1.26978405: ∂loss/∂b2[1] = δ is below −0.5, clamped to −0.5; Adam with λ = 0.01 then
    reads g̃ + λ·θ = −0.5 + 0.01 × 0.6 = −0.494, m₁ = 0.1 × (−0.494) = −0.0494 (torch: clip, then step)."""
    solution = tracer.solve(tracer.load(VALUE_EXAMPLE))
    b2 = keys.parse("b2[1]")
    assert solution.steps[0].gradients[b2] == approx(-1.26978405, abs=5e-9)
    assert solution.steps[0].clip["clipped"][b2] == -0.5
    assert solution.steps[0].optimizer_state["m"][b2] == approx(0.1 * (-0.5 + 0.01 * 0.6), abs=1e-16)
    text = answers.render(solution, "text")
    assert ("(46) g̃₁(b2[1]) = min(clip_value, max(∂loss/∂b2[1], −clip_value)) = min(0.5, max(−1.26978405, −0.5)) = −0.5   "
            "[from (17)]   (below minus the clip value: clamped to it)") in text
    assert "m₁(b2[1]) = β₁·m₀(b2[1]) + (1 − β₁)·(g̃₁(b2[1]) + λ·b2[1]) = 0.9 × 0 + (1 − 0.9) × (−0.5 + 0.01 × 0.6) = −0.0494" in text
    # a gradient inside [−0.5, 0.5] is left as it is
    W111 = keys.parse("W1[1,1]")
    assert solution.steps[0].clip["clipped"][W111] == solution.steps[0].gradients[W111] == approx(-0.104376405, abs=5e-10)
    assert solution.verification.ok


def test_json_and_ask_name_the_clipping_quantities():
    solution = tracer.solve(tracer.load(NORM_EXAMPLE))
    out = solution_json(solution)
    clip = out["steps"][1]["clip"]
    assert clip["mode"] == "norm" and clip["max_norm"] == 1.0
    assert clip["norm"] == approx(5.83927177, abs=5e-9) and clip["clip_coef"] == approx(0.171254202, abs=5e-10)
    assert clip["clipped"]["b2"] == [approx(-0.506734958, abs=5e-10)]
    assert tracer.ask(solution, "grad_norm@2").value == approx(5.83927177, abs=5e-9)
    assert tracer.ask(solution, "grad_norm_sq@1").value == approx(40.1820236, abs=5e-7)
    assert clip["norm_squared"] == approx(34.0970948, abs=5e-7)
    assert tracer.ask(solution, "clip_coef@1").value == approx(0.157755326, abs=5e-10)
    assert tracer.ask(solution, "clipped(W2[1,2])@2").value == approx(-0.344063997, abs=5e-10)


# -- the clamp's edge, decided in decimals -------------------------------------------------------

def _edge_problem(clip: dict) -> dict:
    """One linear unit, o = 0.1·0.75 − 1 = −0.925, y = 0.1: ∂loss/∂b = o − y = −1.025 and
    ∂loss/∂w = 0.75·(−1.025) = −0.76875, so ‖g‖ = 1.25 × 1.025 = 1.28125 exactly in decimals;
    the doubles give ∂loss/∂b = −1.0250000000000001."""
    return {"network": {"inputs": 1, "layers": [{"units": 1, "activation": "identity", "weights": [[0.1]], "bias": [-1.0]}]},
            "loss": {"kind": "mse", "factor": 0.5}, "data": [{"x": [0.75], "y": [0.1]}],
            "training": {"learning_rate": 0.1, "steps": 1, "clip": clip}}


def test_a_norm_at_max_norm_minus_1e6_is_not_scaled():
    """max_norm = 1.281251 = ‖g‖ + 10⁻⁶ exactly: clip_coef = 1, min(clip_coef, 1) = 1, nothing scaled —
    though the doubles' norm, 1.2812500000000002, gives clip_coef 0.9999999999999998."""
    solution = tracer.solve(from_mapping(_edge_problem({"norm": 1.281251})))
    step = solution.steps[0]
    g = np.array(list(step.gradients.values()))
    assert 1.281251 / (float(np.linalg.norm(g)) + 1e-6) < 1.0  # what the doubles alone would decide
    assert step.clip["factor"] == 1.0
    assert step.clip["clipped"] == step.gradients
    text = answers.render(solution, "text")
    assert ("(14) clip_coef = max_norm/(grad_norm + 10^(−6)) = 1.281251/(1.28125 + 10^(−6)) = 1   [from (13)]   "
            "(at least 1, as the norm plus 1e-6 is within the max norm: every gradient stays as it is)") in text
    assert solution.verification.ok


def test_a_norm_just_above_the_edge_and_one_at_max_norm_are_scaled():
    """max_norm = 1.28125 (‖g‖ itself): clip_coef = 1.28125/(1.28125 + 10⁻⁶) = 0.99999922, as torch scales it."""
    for max_norm in (1.28125, 1.2812509):
        step = tracer.solve(from_mapping(_edge_problem({"norm": max_norm}))).steps[0]
        assert step.clip["factor"] == approx(max_norm / (1.28125 + 1e-6), abs=1e-15)
        assert step.clip["factor"] < 1.0
    step = tracer.solve(from_mapping(_edge_problem({"norm": 1.28125}))).steps[0]
    assert step.clip["factor"] == approx(0.99999921951280, abs=1e-13)


def test_a_gradient_at_the_clip_value_is_within_it():
    """clip_value = 1.025 = |∂loss/∂b| in decimals: within [−c, c], not clamped (the doubles' −1.0250000000000001
    is beyond it); its clipped value is the decimal's double, −1.025."""
    solution = tracer.solve(from_mapping(_edge_problem({"value": 1.025})))
    step = solution.steps[0]
    b = keys.parse("b1[1]")
    assert abs(step.gradients[b]) > 1.025  # what the doubles alone would decide
    assert step.clip["clipped"][b] == -1.025
    text = answers.render(solution, "text")
    assert "(13) g̃₁(b1[1]) = min(clip_value, max(∂loss/∂b1[1], −clip_value)) = min(1.025, max(−1.025, −1.025)) = −1.025   [from (11)]\n" in text
    assert "clamped" not in text  # neither gradient is beyond 1.025
    assert solution.verification.ok


# -- the twin on its own -------------------------------------------------------------------------

def test_the_twin_clips_as_torch_does():
    g = np.array([0.3, -0.4, 1.2, 0.0])
    trained = np.array([True, True, False, True])
    clipped = twin.by_norm(g, 0.25, trained)
    assert clipped.norm == approx(0.5, abs=1e-16)
    assert clipped.coef == approx(0.25 / 0.500001, abs=1e-16)
    assert clipped.gradients.tolist() == approx([0.3 * 0.25 / 0.500001, -0.4 * 0.25 / 0.500001, 1.2, 0.0], abs=1e-16)
    tensors = [torch.tensor([0.3, -0.4, 0.0], dtype=torch.float64, requires_grad=True)]
    tensors[0].grad = torch.tensor([0.3, -0.4, 0.0], dtype=torch.float64)
    total = torch.nn.utils.clip_grad_norm_(tensors, 0.25)
    assert float(total) == approx(clipped.norm, abs=1e-15)
    assert tensors[0].grad.tolist() == approx(clipped.gradients[[0, 1, 3]].tolist(), abs=1e-15)
    assert twin.by_value(g, 0.35, trained).gradients.tolist() == [0.3, -0.35, 1.2, 0.0]
    assert twin.by_norm(g, 10.0).factor == 1.0


# -- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("clip, message", [
    ({"norm": 0}, "training.clip.norm: must be greater than 0.0, got 0"),
    ({"value": -0.5}, "training.clip.value: must be greater than 0.0, got -0.5"),
    ({"norm": "big"}, "training.clip.norm: a number expected"),
    ({"norm": 1.0, "value": 0.5}, "training.clip: one of norm: (torch's clip_grad_norm_ max_norm) or value: (clip_grad_value_) expected, got both"),
    ({}, "training.clip: one of norm: (torch's clip_grad_norm_ max_norm) or value: (clip_grad_value_) expected, got neither"),
    ({"max_norm": 1.0}, "training.clip.max_norm: unknown key 'max_norm' in training.clip"),
])
def test_bad_clip_values_are_refused_naming_the_field(tmp_path, clip, message):
    raw = _raw(NORM_EXAMPLE)
    raw["training"]["clip"] = clip
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(cli, ["solve", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_clipping_in_sequential_order_is_refused():
    raw = _raw(NORM_EXAMPLE)
    raw["training"].update(order="sequential", optimizer="sgd")
    with pytest.raises(SpecError, match="training.clip: clipping needs every gradient before the update"):
        from_mapping(raw)


def test_a_clipped_problem_survives_its_mapping():
    problem = tracer.load(VALUE_EXAMPLE)
    assert from_mapping(tracer.spec.to_mapping(problem)).training.clip == problem.training.clip


# -- against torch.nn.utils + torch.optim --------------------------------------------------------

@pytest.mark.parametrize("clip", [{"norm": 0.3}, {"norm": 50.0}, {"value": 0.05}])
@pytest.mark.parametrize("optimizer", ["sgd", {"name": "momentum", "beta": 0.9, "weight_decay": 0.1}, {"name": "adam", "weight_decay": 0.05},
                                       {"name": "adamw", "weight_decay": 0.1}, "rmsprop"],
                         ids=lambda o: o if isinstance(o, str) else f"{o['name']}-wd")
def test_dense_networks_clip_as_torch_does(clip, optimizer):
    """Three steps of a 2-3-2 network (mean over samples, an L2 penalty, an update list) against torch's
    clip_grad_norm_/clip_grad_value_ then torch.optim's step: every value, gradient, g̃, the norm, the state."""
    raw = _probe_problem("tanh", loss={"kind": "mse", "samples": "mean", "regularization": {"l2": 0.05}},
                         training={"learning_rate": 0.1, "steps": 3, "optimizer": optimizer, "clip": clip,
                                   "update": ["W1[1,1]", "W1[3,2]", "b1[2]", "W2[2,3]", "b2[1]"]})
    problem = load_generated(raw)
    assert compare(problem) > 0


@pytest.mark.parametrize("example, clip", [("conv_maxpool.yaml", {"norm": 0.1}), ("rnn_many_to_one.yaml", {"value": 0.02}),
                                           ("rnn_sequence.yaml", {"norm": 0.05})])
def test_conv_and_rnn_networks_clip_as_torch_does(example, clip):
    raw = _raw(ROOT / "examples" / example)
    raw["training"].update(clip=clip, steps=2, optimizer={"name": "momentum", "beta": 0.9})
    problem = load_generated(raw)
    solution = tracer.solve(problem)
    step = solution.steps[0]
    assert any(step.clip["clipped"][k] != step.gradients[k] for k in step.clip["clipped"])  # the clipping did clip
    assert compare(problem, solution, solution_json(solution)) > 0


def test_a_long_run_clips_every_update_as_torch_does():
    """Twelve SGD updates in mini-batches of 2: the lean NumPy run clips each, as the written-out ones."""
    raw = _probe_problem("sigmoid", training={"learning_rate": 0.5, "epochs": 4, "batch_size": 2, "clip": {"norm": 0.05},
                                              "optimizer": {"name": "adam"}})
    problem = load_generated(raw)
    solution = tracer.solve(problem)
    assert solution.run is not None and solution.verification.ok
    assert compare(problem, solution, solution_json(solution)) > 0


# -- the PDF --------------------------------------------------------------------------------------

@pytest.mark.latex
@needs("pdflatex")
@pytest.mark.parametrize("example", [NORM_EXAMPLE, VALUE_EXAMPLE], ids=lambda p: p.stem)
def test_the_clipping_examples_compile_to_pdf(tmp_path, example):
    """Every title and note of the clipping is set by LaTeX as it is, and so is the title of an optimizer with a
    coupled weight decay (clip_value.yaml's Adam), which once read 'weight_decay)' and stopped pdflatex."""
    out = tmp_path / f"{example.stem}.pdf"
    result = CliRunner().invoke(cli, ["solve", str(example), "-f", "pdf", "--pdf-engine", "pdflatex", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    log = (tmp_path / f"{example.stem}.log")
    assert not log.exists() or "Missing character" not in log.read_text(encoding="utf-8", errors="replace")
