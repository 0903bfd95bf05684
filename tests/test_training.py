"""Training runs (tracer.training): batches, epochs, records, and Mazur's 10,000 steps."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pytest import approx

from conftest import K
from tracer.numeric import mlp as numeric

from tracer.numeric import training
from tracer.cli import cli
from tracer.core.derive import solve
from tracer.spec import from_mapping, load

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def batch_modes(batch_size: int, **training_changes):
    raw = yaml.safe_load((EXAMPLES / "batch_modes.yaml").read_text())
    raw["training"]["batch_size"] = batch_size
    raw["training"].update(training_changes)
    return from_mapping(raw)


# ---------------------------------------------------------------------------
# Batch, mini-batch, SGD: the first two updates of each, by hand
# ---------------------------------------------------------------------------

X = [1.0, 2.0, 3.0, 4.0]
Y = [3.0, 5.0, 7.0, 9.0]
RATE = 0.05


def by_hand(w: float, b: float, batch: list[int]) -> tuple[float, float]:
    """One update of o = w x + b on loss 1/2 (y − o)², averaged over the batch (0-based samples)."""
    dw = db = 0.0
    for k in batch:
        error = Y[k] - (w * X[k] + b)  # y − o
        dw += -error * X[k]  # ∂/∂w of 1/2 (y − o)²
        db += -error
    dw, db = dw / len(batch), db / len(batch)
    return w - RATE * dw, b - RATE * db


def test_full_batch_first_two_updates_by_hand():
    w1, b1 = by_hand(0.5, 0.0, [0, 1, 2, 3])
    assert (w1, b1) == approx((1.1875, 0.2375))  # 0.5 + 0.05 × 13.75, 0 + 0.05 × 4.75
    w2, b2 = by_hand(w1, b1, [0, 1, 2, 3])
    run = training.run(batch_modes(4))
    assert run.mode == "full batch" and run.batches_per_epoch == 1
    assert [u.batch for u in run.first_updates[:2]] == [(1, 2, 3, 4), (1, 2, 3, 4)]
    assert run.first_updates[0].params_after == approx({K("W1[1,1]"): w1, K("b1[1]"): b1}, abs=1e-15)
    assert run.first_updates[1].params_after == approx({K("W1[1,1]"): w2, K("b1[1]"): b2}, abs=1e-15)


def test_mini_batch_first_two_updates_by_hand():
    w1, b1 = by_hand(0.5, 0.0, [0, 1])
    assert (w1, b1) == approx((0.7625, 0.1625))  # errors 2.5, 4: 0.5 + 0.05 × (2.5 + 8)/2
    w2, b2 = by_hand(w1, b1, [2, 3])
    run = training.run(batch_modes(2))
    assert run.mode == "mini-batch" and run.batches_per_epoch == 2
    assert [u.batch for u in run.first_updates[:2]] == [(1, 2), (3, 4)]
    assert run.first_updates[0].params_after == approx({K("W1[1,1]"): w1, K("b1[1]"): b1}, abs=1e-15)
    assert run.first_updates[1].params_after == approx({K("W1[1,1]"): w2, K("b1[1]"): b2}, abs=1e-15)


def test_sgd_first_two_updates_by_hand():
    w1, b1 = by_hand(0.5, 0.0, [0])
    assert (w1, b1) == approx((0.625, 0.125))  # error 2.5: 0.5 + 0.05 × 2.5 × 1
    w2, b2 = by_hand(w1, b1, [1])
    assert (w2, b2) == approx((0.9875, 0.30625))
    run = training.run(batch_modes(1))
    assert run.mode == "stochastic (SGD)" and run.batches_per_epoch == 4
    assert run.first_updates[0].params_after == approx({K("W1[1,1]"): w1, K("b1[1]"): b1}, abs=1e-15)
    assert run.first_updates[1].params_after == approx({K("W1[1,1]"): w2, K("b1[1]"): b2}, abs=1e-15)


def test_a_runs_batch_loss_with_a_penalty_is_the_loss_before_the_update():
    """o = 0.5 x₁ + 1.0 x₂, samples (1, 0) → 0 and (0, 1) → 0, an L1 penalty 0.01, SGD one
    sample at a time with η 0.1. Update 1 on sample 1: loss ½(0.5 − 0)² + 0.01·(|0.5| + |1|)
    = 0.125 + 0.015 = 0.14, as the written-out step says. The run reported 0.13948: the
    sample's loss before the update plus the penalty after it (0.01·(0.449 + 0.999))."""
    problem = from_mapping({
        "network": {"inputs": 2, "layers": [{"units": 1, "activation": "identity", "weights": [[0.5, 1.0]], "bias": [0.0]}]},
        "loss": {"kind": "mse", "factor": 0.5, "regularization": {"l1": 0.01}},
        "data": [{"x": [1.0, 0.0], "y": [0.0]}, {"x": [0.0, 1.0], "y": [0.0]}],
        "training": {"learning_rate": 0.1, "batch_size": 1, "epochs": 2},
    })
    run = training.run(problem)
    assert run.first_updates[0].batch_loss == approx(0.14, abs=1e-15)
    assert run.first_updates[0].params_after == approx({K("W1[1,1]"): 0.449, K("W1[1,2]"): 0.999, K("b1[1]"): -0.05}, abs=1e-15)
    # update 2 on sample 2 from there: ½(0.999 − 0.05 − 0)² + 0.01·(0.449 + 0.999)
    assert run.first_updates[1].batch_loss == approx(0.5 * 0.949**2 + 0.01 * (0.449 + 0.999), abs=1e-15)
    solution = solve(problem)
    assert [s.loss for s in solution.steps[:2]] == approx([u.batch_loss for u in run.first_updates[:2]], abs=1e-15)


def test_the_three_modes_take_different_trajectories():
    runs = {b: training.run(batch_modes(b)) for b in (4, 2, 1)}
    assert [runs[b].updates for b in (4, 2, 1)] == [20, 40, 80]  # 20 epochs × 1, 2, 4 batches
    finals = [runs[b].last.tracked[K("W1[1,1]")] for b in (4, 2, 1)]
    assert len(set(finals)) == 3
    # more updates per epoch: lower loss after the same 20 epochs on this problem
    assert runs[1].last.loss < runs[2].last.loss < runs[4].last.loss
    assert all(r.records[0].loss == approx(12.6875) for r in runs.values())  # same start


def test_full_batch_run_equals_numeric_train():
    problem = batch_modes(4)
    passes = numeric.train(problem, 20)
    run = training.run(problem, record_every=1)
    assert [r.loss for r in run.records] == approx([p.loss for p in passes], rel=1e-12)


def test_shuffle_is_seeded():
    a = training.run(batch_modes(1, shuffle=True, seed=3))
    b = training.run(batch_modes(1, shuffle=True, seed=3))
    c = training.run(batch_modes(1, shuffle=True, seed=4))
    assert [u.batch for u in a.first_updates] == [u.batch for u in b.first_updates]
    assert a.final == b.final
    assert a.final != c.final or [u.batch for u in a.first_updates] != [u.batch for u in c.first_updates]


def test_solve_writes_out_the_first_batches_and_verifies_them():
    sol = solve(batch_modes(2))
    assert [ts.batch for ts in sol.steps] == [(1, 2), (3, 4), (1, 2)]
    assert sol.verification.ok
    assert sol.value("W1[1,1]'@1") == approx(0.7625)
    assert sol.value("loss_after") == approx(sol.run.last.loss, rel=1e-12)
    assert any("update 1 is written out on its batch" in n for n in sol.notes)


# ---------------------------------------------------------------------------
# Mazur × 10,000 (examples/mazur.yaml): 3.5102e-05 is simultaneous order's
# ---------------------------------------------------------------------------


def mazur(order: str, steps: int = 10_000):
    p = load(EXAMPLES / "mazur.yaml")
    return dataclasses.replace(p, training=dataclasses.replace(p.training, order=order, steps=steps))


def test_mazur_10000_steps_error_per_order():
    sol = solve(mazur("simultaneous"))  # timed in benchmarks/training.py, not here
    assert sol.loss_after == approx(3.5102e-05, abs=5e-10)  # the figure: simultaneous order
    assert sol.loss_after == approx(3.5101877830e-05, rel=1e-9)
    assert sol.verification.ok
    assert len(sol.steps) == 3 and all(ts.derived for ts in sol.steps)
    sequential = training.run(mazur("sequential"))
    assert sequential.last.loss == approx(3.5084786296e-05, rel=1e-9)  # the text's outputs' order
    assert sequential.last.loss != approx(3.5102e-05, abs=5e-10)
    one_short = training.run(mazur("simultaneous", 9_999))
    assert one_short.last.loss == approx(3.51085e-05, abs=5e-11)  # the text's printed 0.0000351085


def test_mazur_json_keeps_steps_short_and_has_the_run():
    result = CliRunner().invoke(cli, ["solve", str(EXAMPLES / "mazur.yaml"), "-f", "json"])
    assert result.exit_code == 0
    # one step: no run
    assert "run" not in json.loads(result.output)


# ---------------------------------------------------------------------------
# Bad input: one line naming the file and the field, exit 2
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, field",
    [
        ({"training": {"learning_rate": 0.1, "epochs": 2, "batch_size": 5}}, "training.batch_size"),
        ({"training": {"learning_rate": 0.1, "epochs": 2, "steps": 3}}, "training.epochs"),
        ({"training": {"learning_rate": 0.1, "track": ["W9[1,1]"]}}, "training.track[0]"),
        ({"dataset": {"name": "spirals", "n": 100}}, "dataset.name"),
        ({"dataset": {"name": "moons", "n": 100}}, "dataset"),  # with data: both given
    ],
)
def test_bad_training_input_names_the_field(tmp_path, change, field):
    raw = yaml.safe_load((EXAMPLES / "batch_modes.yaml").read_text())
    raw.update(change)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(cli, ["solve", str(path)])
    assert result.exit_code == 2
    message = result.output.strip() if result.output else ""
    assert f"bad.yaml: {field}" in message
    assert len(message.splitlines()) == 1


# ---------------------------------------------------------------------------
# Source 004 §7.9: the moons example (fewer epochs here; the full run is the example)
# ---------------------------------------------------------------------------


def moons(epochs: int):
    p = load(EXAMPLES / "runs" / "moons.yaml")
    return dataclasses.replace(p, training=dataclasses.replace(p.training, epochs=epochs, steps=epochs * len(p.data)))


def test_moons_example_is_the_texts_setting():
    p = load(EXAMPLES / "runs" / "moons.yaml")
    assert [layer.units for layer in p.layers] == [25, 50, 25, 2]
    assert all(layer.activation.name == "sigmoid" and not layer.trainable_bias for layer in p.layers)
    assert (len(p.data), len(p.test_data)) == (1400, 600)
    t = p.training
    assert (t.learning_rate, t.epochs, t.batch_size, t.record_every, t.steps) == (0.01, 1000, 1, 10, 1_400_000)


def test_moons_example_cites_its_source_and_is_listed():
    # examples/runs/ holds runs too long for the per-example loops of the other tests
    text = (EXAMPLES / "runs" / "moons.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Source: seed 004")
    assert "`runs/moons.yaml`" in (EXAMPLES / "README.md").read_text(encoding="utf-8")


def test_moons_weights_are_the_documented_draw():
    import numpy as np

    p = load(EXAMPLES / "runs" / "moons.yaml")
    rng = np.random.default_rng(3)
    for layer in p.layers:
        weights = rng.standard_normal((layer.units, layer.inputs)) * np.sqrt(1 / layer.units)
        bias = rng.random(layer.units) * 0.1
        assert np.array_equal(np.array(layer.weights), weights)
        assert np.array_equal(np.array(layer.bias), bias)


@pytest.mark.slow
def test_moons_short_run_learns_and_reports_accuracy():
    run = training.run(moons(40), record_every=10)
    assert [r.epoch for r in run.records] == [0, 10, 20, 30, 40]
    assert run.records[-1].loss < 0.5 * run.records[0].loss
    assert run.records[0].test_accuracy < 0.6 < 0.8 < run.records[-1].test_accuracy  # near chance → the linear plateau
    assert run.classification and run.updates == 40 * 1400


def test_run_renders_table_and_curves_in_every_format(tmp_path):
    sol = solve(moons(2))
    # nothing is derived (1400 × 2702), but the run's first updates are checked against numeric.step
    assert sol.verification.ok and sol.verification.quantities == 3 * 2702 + 1
    from tracer.render.document import render

    md = render(sol, "md")
    assert "## Training run: stochastic (SGD), 2800 updates" in md
    assert md.count("<svg") == 2  # loss and accuracy
    assert "| epoch | updates | loss | accuracy | test loss | test accuracy |" in md
    tex = render(sol, "tex")
    assert r"\begin{axis}" in tex and r"\addplot" in tex
    text = render(sol, "text")
    assert "Training run: stochastic (SGD), 2800 updates" in text
    data = __import__("tracer.export.as_json", fromlist=["solution_json"]).solution_json(sol)
    assert data["steps"] == [] and data["run"]["records"][-1]["epoch"] == 2
    assert data["run"]["records"][-1]["test_accuracy"] == sol.run.last.test_accuracy


def test_delta_form_is_shown_equal_to_the_scalar_chain():
    from tracer.render.document import render

    sol = solve(load(EXAMPLES / "mazur.yaml"))
    text = render(sol, "text")
    assert "The δ form of step 1, equal to the scalar chain above" in text
    assert "δ(2) = f'(z(2)) ⊙ ∂L/∂a(2) = [0.186815602, 0.175510053] ⊙ [0.74136507, −0.217071535] = [0.138498562, −0.0380982365]" in text
    assert "∂L/∂W(2) = δ(2) a(1)ᵀ" in text and "[0.0821670406, 0.0826676278; −0.0226025405, −0.0227402422]" in text
    from tracer.render.extensions import delta_view
    from tracer.render.step_printer import Printer

    builder_numbers = {step.id: k for k, step in enumerate(sol.all_steps(), 1)}
    view = delta_view(sol, Printer("text"), builder_numbers, False)
    assert all(row["diff"] is not None for s in view["samples"] for row in s["rows"])
    assert float(view["max_diff"].replace("−", "-")) < 1e-15  # NumPy's δ law = SymPy's scalar chain
    for s in view["samples"]:
        for row in s["rows"]:
            assert row["equals"]  # each δ vector names the scalar equations it equals


def test_markdown_output_writes_the_curves_beside_it(tmp_path):
    out = tmp_path / "run.md"
    result = CliRunner().invoke(cli, ["solve", str(EXAMPLES / "batch_modes.yaml"), "-f", "md", "-o", str(out)])
    assert result.exit_code == 0, result.output
    svg = (tmp_path / "run.loss.svg").read_text()
    assert svg.startswith("<svg") and "<polyline" in svg and svg.strip() in out.read_text()
    assert not (tmp_path / "run.accuracy.svg").exists()  # regression: no accuracy
    data = json.loads(CliRunner().invoke(cli, ["solve", str(EXAMPLES / "batch_modes.yaml"), "-f", "json"]).output)
    assert [s["batch"] for s in data["steps"]] == [[1, 2], [3, 4], [1, 2]]
