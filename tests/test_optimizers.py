"""Optimizers (SPEC.md §9): each example's first two steps recomputed by hand, Mazur with Adam,
a layer's own learning rate, the document and the JSON, and random networks against an
independent implementation.

The hand computations below write each optimizer's arithmetic out in plain floats, from
torch.optim's definitions (state starting at zero), for the one linear unit of
``examples/optimizer_*.yaml``: z = w1·x1 + w2·x2 + b, x = (1, 2), y = 1, loss ½(y − z)²,
so ∂loss/∂w = (z − y)·x and ∂loss/∂b = z − y.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pytest import approx

from conftest import K, needs
from tracer.core import derive
from tracer.keys import parse
from tracer.numeric import mlp as numeric
from tracer.numeric import optimizers as twin
from tracer.render.document import render
from tracer.spec import SpecError, from_mapping, load, loads, to_mapping

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
X, Y, RATE = (1.0, 2.0), 1.0, 0.1
START = [0.5, -0.25, 0.1]  # w1, w2, b


def _gradient(theta: list[float]) -> list[float]:
    w1, w2, b = theta
    e = w1 * X[0] + w2 * X[1] + b - Y
    return [e * X[0], e * X[1], e]


def _solved(name: str):
    return derive.solve(load(EXAMPLES / f"optimizer_{name}.yaml"))


def _after(solution, step: int) -> list[float]:
    p = solution.steps[step - 1].params_after
    return [p[K("W1[1,1]")], p[K("W1[1,2]")], p[K("b1[1]")]]


def _state(solution, step: int, name: str) -> list[float]:
    s = solution.steps[step - 1].optimizer_state[name]
    return [s[K("W1[1,1]")], s[K("W1[1,2]")], s[K("b1[1]")]]


def test_momentum_by_hand():
    sol = _solved("momentum")
    g1 = _gradient(START)
    assert g1 == approx([-0.9, -1.8, -0.9], rel=1e-15)
    v1 = [0.9 * 0 + g for g in g1]  # v₁ = β·0 + g = g (torch's first buffer)
    t1 = [t - RATE * v for t, v in zip(START, v1)]
    assert t1 == approx([0.59, -0.07, 0.19], rel=1e-14)
    g2 = _gradient(t1)
    v2 = [0.9 * v + g for v, g in zip(v1, g2)]
    t2 = [t - RATE * v for t, v in zip(t1, v2)]
    assert _state(sol, 1, "v") == approx(v1, rel=1e-15) and _after(sol, 1) == approx(t1, rel=1e-15)
    assert _state(sol, 2, "v") == approx(v2, rel=1e-15) and _after(sol, 2) == approx(t2, rel=1e-15)
    assert t2 == approx([0.707, 0.164, 0.307], rel=1e-12)


def test_nesterov_by_hand():
    sol = _solved("nesterov")
    g1 = _gradient(START)
    v1 = g1
    t1 = [t - RATE * (g + 0.9 * v) for t, g, v in zip(START, g1, v1)]  # θ − η(g + βv)
    g2 = _gradient(t1)
    v2 = [0.9 * v + g for v, g in zip(v1, g2)]
    t2 = [t - RATE * (g + 0.9 * v) for t, g, v in zip(t1, g2, v2)]
    assert _after(sol, 1) == approx(t1, rel=1e-15) and t1 == approx([0.671, 0.092, 0.271], rel=1e-12)
    assert _after(sol, 2) == approx(t2, rel=1e-15) and _state(sol, 2, "v") == approx(v2, rel=1e-15)


def test_adagrad_by_hand():
    sol = _solved("adagrad")
    eps = 1e-10
    g1 = _gradient(START)
    G1 = [g * g for g in g1]
    t1 = [t - RATE * g / (math.sqrt(G) + eps) for t, g, G in zip(START, g1, G1)]
    g2 = _gradient(t1)
    G2 = [G + g * g for G, g in zip(G1, g2)]
    t2 = [t - RATE * g / (math.sqrt(G) + eps) for t, g, G in zip(t1, g2, G2)]
    assert _state(sol, 1, "G") == approx(G1, rel=1e-15) and _after(sol, 1) == approx(t1, rel=1e-15)
    assert _state(sol, 2, "G") == approx(G2, rel=1e-15) and _after(sol, 2) == approx(t2, rel=1e-15)
    assert t1 == approx([0.6, -0.15, 0.2], rel=1e-9)  # the first step is η·sign(g)


def test_rmsprop_by_hand():
    sol = _solved("rmsprop")
    alpha, eps = 0.9, 1e-8
    g1 = _gradient(START)
    s1 = [(1 - alpha) * g * g for g in g1]
    t1 = [t - RATE * g / (math.sqrt(s) + eps) for t, g, s in zip(START, g1, s1)]
    g2 = _gradient(t1)
    s2 = [alpha * s + (1 - alpha) * g * g for s, g in zip(s1, g2)]
    t2 = [t - RATE * g / (math.sqrt(s) + eps) for t, g, s in zip(t1, g2, s2)]
    assert _state(sol, 1, "s") == approx(s1, rel=1e-15) and _after(sol, 1) == approx(t1, rel=1e-15)
    assert _state(sol, 2, "s") == approx(s2, rel=1e-15) and _after(sol, 2) == approx(t2, rel=1e-15)
    assert t1[0] == approx(0.5 + 0.1 / math.sqrt(0.1), rel=1e-7)  # g/√((1−α)g²) = sign(g)/√0.1


def test_adam_by_hand():
    sol = _solved("adam")
    b1, b2, eps = 0.9, 0.999, 1e-8
    theta, m, v = list(START), [0.0] * 3, [0.0] * 3
    for t in (1, 2):
        g = _gradient(theta)
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
        m_hat = [mi / (1 - b1**t) for mi in m]
        v_hat = [vi / (1 - b2**t) for vi in v]
        theta = [th - RATE * mh / (math.sqrt(vh) + eps) for th, mh, vh in zip(theta, m_hat, v_hat)]
        assert _state(sol, t, "m") == approx(m, rel=1e-15)
        assert _state(sol, t, "v") == approx(v, rel=1e-15)
        assert _state(sol, t, "m_hat") == approx(m_hat, rel=1e-15)
        assert _state(sol, t, "v_hat") == approx(v_hat, rel=1e-15)
        assert _after(sol, t) == approx(theta, rel=1e-15)
        if t == 1:
            assert theta == approx([0.6, -0.15, 0.2], rel=1e-7)  # m̂₁ = g, v̂₁ = g²: a step of η·sign(g)
    assert sol.verification.ok


def test_mazur_with_adam_moves_w5_by_eta_then_carries_the_state():
    sol = derive.solve(load(EXAMPLES / "mazur_adam.yaml"))
    g = 0.0821670406  # Mazur's ∂E_total/∂w5
    first = sol.steps[0]
    assert first.gradients[K("W2[1,1]")] == approx(g, abs=5e-11)
    assert first.params_after[K("W2[1,1]")] == approx(0.4 - 0.5 * g / (g + 1e-8), rel=1e-9)  # ≈ −0.1
    assert first.optimizer_state["m"][K("W2[1,1]")] == approx(0.1 * g, abs=5e-12)
    assert first.optimizer_state["v"][K("W2[1,1]")] == approx(0.001 * g * g, rel=1e-9)
    # step 2 from the step-1 state and step 2's own gradient
    second = sol.steps[1]
    g2 = second.gradients[K("W2[1,1]")]
    m2 = 0.9 * first.optimizer_state["m"][K("W2[1,1]")] + 0.1 * g2
    v2 = 0.999 * first.optimizer_state["v"][K("W2[1,1]")] + 0.001 * g2 * g2
    expected = first.params_after[K("W2[1,1]")] - 0.5 * (m2 / (1 - 0.81)) / (math.sqrt(v2 / (1 - 0.999**2)) + 1e-8)
    assert second.params_after[K("W2[1,1]")] == approx(expected, rel=1e-14)
    assert [ts.loss for ts in sol.steps] == approx([0.298371109, 0.198480466, 0.115953687], abs=5e-10)
    assert sol.loss_after == approx(0.0565919977, abs=5e-11)
    assert sol.verification.ok and sol.verification.quantities > 300


def test_the_document_states_the_optimizer_and_writes_every_equation():
    sol = _solved("adam")
    text = render(sol, "text")
    assert "Optimizer: Adam (torch.optim.Adam)" in text
    assert "m̂_t = m_t/(1 − β₁^t)" in text
    # step 2 reads the state of step 1, which step 1 wrote out
    line = next(l for l in text.splitlines() if l.split(" ", 1)[-1].startswith("m₂(W1[1,1]) ="))
    assert "β₁·m₁(W1[1,1]) + (1 − β₁)·∂loss/∂W1[1,1] = 0.9 × (−0.09) + (1 − 0.9) ×" in line
    assert "[from (" in line
    v_line = next(l for l in text.splitlines() if l.split(" ", 1)[-1].startswith("v₁(W1[1,1]) ="))
    assert "(∂loss/∂W1[1,1])^2" in v_line and "(−0.9)^2" in v_line
    tex = render(sol, "tex")
    assert r"\hat{m}_{t} &= \frac{m_{t}}{1 - \beta_1^{t}}" in tex
    assert r"\left(\frac{\partial J}{\partial w_{1,1}^{[1]}}\right)^{2}" in tex


def test_the_json_has_each_steps_optimizer_state(tmp_path):
    out = subprocess.run([sys.executable, "-m", "tracer", "solve", str(EXAMPLES / "optimizer_momentum.yaml"), "-f", "json"],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    first = data["steps"][0]["optimizer"]
    assert first["name"] == "momentum"
    assert first["state"]["v"]["W1"] == [approx([-0.9, -1.8], rel=1e-15)]
    assert data["steps"][1]["optimizer"]["state"]["v"]["b1"] == approx([0.9 * -0.9 + (0.59 - 0.14 + 0.19 - 1.0)], rel=1e-12)


def test_ask_for_a_state_gives_its_equation():
    out = subprocess.run([sys.executable, "-m", "tracer", "ask", str(EXAMPLES / "optimizer_adam.yaml"), "m_hat(W1[1,1])@2"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "m̂₂(W1[1,1]) = m₂(W1[1,1])/(1 − β₁^t)" in out.stdout


def test_state_names_parse_and_print():
    key = parse("m_hat(W2[1,1])@2")
    assert str(key) == "m_hat(W2[1,1])@2" and key.parameter == parse("W2[1,1]") and key.step == 2
    assert str(parse("v(b1)@0")) == "v(b1)@0"
    with pytest.raises(ValueError):
        parse("x[1]@0")


def test_a_layers_own_learning_rate():
    text = (EXAMPLES / "mazur.yaml").read_text(encoding="utf-8").replace("      bias: 0.35", "      bias: 0.35\n      learning_rate: 0.1", 1)
    problem = loads(text, "mazur.yaml")
    sol = derive.solve(problem)
    step = sol.steps[0]
    for key, g in step.gradients.items():
        if key not in problem.trained_keys:
            continue
        rate = 0.1 if key.layer == 1 else 0.5
        assert step.params_after[key] == approx(step.params_before[key] - rate * g, rel=1e-15)
    assert step.params_after[K("W2[1,1]")] == approx(0.35891648, abs=5e-9)  # Mazur's w5⁺, at η = 0.5
    assert sol.verification.ok
    assert from_mapping(to_mapping(problem)).layers[0].learning_rate == 0.1


def test_ten_thousand_adam_steps_agree_with_the_written_out_steps():
    text = (EXAMPLES / "mazur_adam.yaml").read_text(encoding="utf-8").replace("steps: 3", "steps: 10000")
    sol = derive.solve(loads(text, "mazur_adam.yaml"))
    assert sol.run is not None and sol.run.updates == 10000
    assert sol.verification.ok  # the run's first updates = the engine's written-out Adam steps
    assert sol.steps[2].params_after[K("W2[1,1]")] == approx(derive.solve(load(EXAMPLES / "mazur_adam.yaml")).steps[2].params_after[K("W2[1,1]")], rel=1e-15)
    assert sol.run.last.loss < 1e-20


@pytest.mark.parametrize(
    ("optimizer", "message"),
    [
        ("{name: momentum, beta: 1.5}", "training.optimizer.beta: must be less than 1"),
        ("{name: adam, beta: 0.9}", "unknown key 'beta'"),
        ("{name: nadam}", "one of 'sgd', 'momentum', 'adagrad', 'rmsprop', 'adam' or 'adamw' expected"),
        ("nadam", "training.optimizer"),
        ("{name: rmsprop, eps: 0}", "training.optimizer.eps: must be greater than 0"),
    ],
)
def test_a_bad_optimizer_is_refused_naming_the_field(optimizer, message):
    text = (EXAMPLES / "optimizer_adam.yaml").read_text(encoding="utf-8").replace("optimizer: adam", f"optimizer: {optimizer}")
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        loads(text, "o.yaml")


def test_sequential_order_is_plain_gradient_descent():
    text = (EXAMPLES / "optimizer_adam.yaml").read_text(encoding="utf-8").replace("  steps: 2", "  steps: 2\n  order: sequential")
    with pytest.raises(SpecError, match="training.order: sequential order is plain gradient descent"):
        loads(text, "o.yaml")


def test_exponent_floats_are_numbers():
    text = (EXAMPLES / "optimizer_adam.yaml").read_text(encoding="utf-8").replace("optimizer: adam", "optimizer: {name: adam, eps: 1e-6}")
    text = text.replace("learning_rate: 0.1", "learning_rate: 1e-1")
    problem = loads(text, "o.yaml")
    assert problem.training.learning_rate == 0.1 and problem.training.optimizer.eps == 1e-6
    assert from_mapping(to_mapping(problem)).training == problem.training


# -- random networks against the independent implementation -----------------------------

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


def _network(draw_sizes, rng, optimizer: str, activation: str) -> dict:
    sizes = draw_sizes
    layers = []
    for l in range(1, len(sizes)):
        layers.append({"units": sizes[l], "activation": activation if l < len(sizes) - 1 else "sigmoid",
                       "weights": rng.uniform(-1, 1, (sizes[l], sizes[l - 1])).round(3).tolist(),
                       "bias": rng.uniform(-0.5, 0.5, sizes[l]).round(3).tolist()})
    spec = {"sgd": "sgd", "momentum": {"name": "momentum", "beta": 0.8}, "nesterov": {"name": "momentum", "beta": 0.7, "nesterov": True},
            "adagrad": "adagrad", "rmsprop": {"name": "rmsprop", "alpha": 0.95}, "adam": {"name": "adam", "beta1": 0.85, "beta2": 0.99}}[optimizer]
    return {"network": {"inputs": sizes[0], "layers": layers}, "loss": {"kind": "mse", "samples": "mean"},
            "data": [{"x": rng.uniform(-1, 1, sizes[0]).round(3).tolist(), "y": rng.uniform(0, 1, sizes[-1]).round(3).tolist()} for _ in range(3)],
            "training": {"learning_rate": 0.3, "steps": 5, "optimizer": spec}}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(1, 3), min_size=2, max_size=4), seed=st.integers(0, 2**16), activation=st.sampled_from(["sigmoid", "tanh"]))
def test_five_steps_agree_with_an_independent_implementation(optimizer, sizes, seed, activation):
    problem = from_mapping(_network(sizes, np.random.default_rng(seed), optimizer, activation))
    solution = derive.solve(problem, verify=False)
    o = problem.training.optimizer
    hyper = twin.Hyper(o.name, o.beta, o.nesterov, o.alpha, o.beta1, o.beta2, o.eps)
    keys_ = problem.parameter_keys
    theta = np.array(problem.parameter_vector())
    state = twin.initial_state(hyper, theta.shape)
    for t in range(1, 6):
        gradients = numeric.step_gradients(problem.with_parameter_vector(theta.tolist()))
        theta, state, _ = twin.update(hyper, theta, np.array([gradients[k] for k in keys_]), state, t, 0.3)
        engine = np.array([solution.steps[t - 1].params_after[k] for k in keys_])
        assert np.allclose(engine, theta, rtol=1e-12, atol=1e-12), (t, engine - theta)


# -- loss.regularization -----------------------------------------------------------------


def test_an_l2_penalty_by_hand():
    sol = derive.solve(load(EXAMPLES / "regularization_l2.yaml"))
    lam = 0.1
    w1, w2, b = START
    e = w1 * X[0] + w2 * X[1] + b - Y  # z − y = −0.9
    penalty = lam / 2 * (w1**2 + w2**2)
    step = sol.steps[0]
    assert step.penalty == approx(penalty, rel=1e-15) and penalty == approx(0.015625, rel=1e-15)
    assert step.loss == approx(0.5 * e**2 + penalty, rel=1e-15)
    assert step.gradients[K("W1[1,1]")] == approx(e * X[0] + lam * w1, rel=1e-15)  # −0.85
    assert step.gradients[K("W1[1,2]")] == approx(e * X[1] + lam * w2, rel=1e-15)  # −1.825
    assert step.gradients[K("b1[1]")] == approx(e, rel=1e-15)  # the bias is not penalised
    assert step.params_after[K("W1[1,1]")] == approx(0.585, rel=1e-15)
    assert step.params_after[K("W1[1,2]")] == approx(-0.0675, rel=1e-14)
    assert sol.verification.ok and sol.verification.finite_difference_checked == 3
    text = render(sol, "text")
    assert "penalty = λ_L2·(W1[1,1]^2 + W1[1,2]^2)/2 = 0.1 × (0.5^2 + (−0.25)^2)/2 = 0.015625" in text
    assert "loss = loss#1 + penalty = 0.405 + 0.015625 = 0.420625" in text
    assert "∂loss/∂W1[1,1] = ∂loss#1/∂W1[1,1] + ∂penalty/∂W1[1,1] = (−0.9) + 0.05 = −0.85" in text


def test_a_single_samples_quantities_are_found_by_name_beside_a_penalty():
    """With a penalty one sample's quantities are written with their sample (z1[1]#1, loss#1),
    and `tracer ask`'s names find them with or without it: z1[1] = 0.5 × 1 + (−0.25) × 2 + 0.1
    = 0.1; ∂loss/∂z1[1] = z − y = −0.9; ∂loss#1/∂W1[1,1] = −0.9 × 1; the total ∂loss/∂W1[1,1]
    = −0.9 + 0.1 × 0.5 = −0.85. Before, each was "no such quantity in this solution"."""
    sol = derive.solve(load(EXAMPLES / "regularization_l2.yaml"))
    assert sol.value("z1[1]") == approx(0.1, rel=1e-15) and sol.value("z1[1]#1") == sol.value("z1[1]")
    assert sol.value("a1[1]#1") == approx(0.1, rel=1e-15)
    assert sol.value("dloss/dz1[1]") == approx(-0.9, rel=1e-15) == sol.value("dloss/dz1[1]#1")
    assert sol.value("dloss/dW1[1,1]#1") == approx(-0.9 * 1.0, rel=1e-15)  # the sample's, x[1] = 1
    assert sol.value("dloss/dW1[1,1]") == approx(-0.85, rel=1e-15)  # the total: the penalty's 0.05 added
    assert sol.value("loss") == approx(0.420625, rel=1e-15) and sol.value("loss#1") == approx(0.405, rel=1e-15)
    # the closing pass: W1' = (0.585, −0.0675), b1' = 0.19: z = 0.585 × 1 − 0.0675 × 2 + 0.19 = 0.64
    assert sol.value("z1[1]@end") == approx(0.64, rel=1e-14)
    assert sol.value("a1[1]#1@end") == sol.value("z1[1]@end")
    with pytest.raises(LookupError, match="there is 1 sample"):
        sol.value("z1[1]#2")


def test_l1_and_l2_with_the_mean_over_samples_and_adam():
    text = (EXAMPLES / "mazur.yaml").read_text(encoding="utf-8").replace("loss:\n", "loss:\n  regularization: {l2: 0.01, l1: 0.001}\n  samples: mean\n", 1)
    text = text.replace("  - x: [0.05, 0.10]\n    y: [0.01, 0.99]", "  - x: [0.05, 0.10]\n    y: [0.01, 0.99]\n  - x: [0.3, -0.2]\n    y: [0.5, 0.2]")
    text = text.replace("  order: simultaneous", "  order: simultaneous\n  optimizer: adam").replace("steps: 1", "steps: 2")
    problem = loads(text, "m.yaml")
    sol = derive.solve(problem)
    assert sol.verification.ok
    first = derive.solve(problem.with_parameters({}), verify=False).steps[0]
    w5 = problem.parameters()[parse("W2[1,1]")]
    data = numeric.evaluate(problem)  # the twin's gradient already holds the penalty: take it out by hand
    per_sample = [s.grads[K("W2[1,1]")] for s in data.samples]
    assert first.gradients[K("W2[1,1]")] == approx(sum(per_sample) / 2 + 0.01 * w5 + 0.001 * 1.0, rel=1e-14)
    weights = [v for k, v in problem.parameters().items() if k.kind == "W"]
    assert first.penalty == approx(0.005 * sum(w * w for w in weights) + 0.001 * sum(abs(w) for w in weights), rel=1e-15)
    tex = render(sol, "tex")
    assert r"\frac{1}{2}" in tex or "mean" in tex
    assert "sign" in tex


def test_a_penalty_on_a_conv_network_is_refused_for_now():
    text = (EXAMPLES / "conv_maxpool.yaml").read_text(encoding="utf-8").replace("loss: {kind: cross_entropy}", "loss: {kind: cross_entropy, regularization: {l2: 0.1}}", 1)
    with pytest.raises(SpecError, match="loss.regularization: a penalty on the weights is built for dense networks only"):
        loads(text, "c.yaml")


def test_a_long_run_with_a_penalty_agrees_with_the_written_out_steps():
    text = (EXAMPLES / "regularization_l2.yaml").read_text(encoding="utf-8").replace("steps: 1", "steps: 5000")
    sol = derive.solve(loads(text, "r.yaml"))
    assert sol.run is not None and sol.verification.ok
    # the minimum of ½(w·x + b − y)² + (λ/2)|w|² is not the unpenalised fit: |w| stays small
    w = np.array([sol.run.final[K("W1[1,1]")], sol.run.final[K("W1[1,2]")]])
    b = sol.run.final[K("b1[1]")]
    e = w @ np.array(X) + b - Y
    assert np.allclose(e * np.array(X) + 0.1 * w, 0, atol=1e-4)  # ∂loss/∂w → 0
    assert e == approx(0.0, abs=1e-4) and np.allclose(w, 0, atol=1e-3)  # the bias, not penalised, closes the error; w decays to 0


# -- quiz mistakes made for real ----------------------------------------------------------


def test_the_optimizers_mistakes_are_made_for_real():
    from tracer.teach.mistakes import MistakenSolutions

    adam = derive.solve(load(EXAMPLES / "optimizer_adam.yaml"))
    wrong = {w.mistake.key: w.value for w in MistakenSolutions(adam).wrong_values("m_hat(W1[1,1])")}
    m1 = adam.steps[0].optimizer_state["m"][K("W1[1,1]")]
    assert wrong["no_bias_correction"] == approx(m1, rel=1e-15)  # m̂ taken as m = 0.1·g = −0.09
    first = {w.mistake.key: w.value for w in MistakenSolutions(adam).wrong_values("v_hat(W1[1,1])")}
    assert first["gradient_not_squared"] == approx(-0.9, rel=1e-12)  # (1 − β₂)·g / (1 − β₂) = g
    momentum = derive.solve(load(EXAMPLES / "optimizer_momentum.yaml"))
    after = {w.mistake.key: w.value for w in MistakenSolutions(momentum).wrong_values("W1[1,1]'@2")}
    # the velocity of the step before: step 1 moves by v₀ = 0 (θ stays 0.5), step 2 by v₁ = g₁ = −0.9
    assert after["momentum_after_step"] == approx(0.5 - 0.1 * -0.9, rel=1e-15)


def test_a_quiz_on_an_optimizer_states_its_equations(tmp_path):
    text = (EXAMPLES / "optimizer_adam.yaml").read_text(encoding="utf-8") + (
        "randomize:\n  weights: [-0.5, -0.25, 0.25, 0.5]\n  ask: [\"m_hat(W1[1,1])@2\", \"W1[1,1]'@2\"]\n  digits: 4\n  options: 3\n")
    path = tmp_path / "q.yaml"
    path.write_text(text, encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "tracer", "quiz", str(path), "--count", "3", "--seed", "1", "-o", str(tmp_path / "q")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    sheet = (tmp_path / "q" / "questions.md").read_text(encoding="utf-8")
    assert "The update is Adam (torch.optim.Adam)" in sheet and r"\hat{m}_{t} = \frac{m_{t}}{1 - \beta_1^{t}}" in sheet
    assert "2 simultaneous adam (beta1 0.9, beta2 0.999, eps 1e-08) steps" in sheet
    key = (tmp_path / "q" / "key.md").read_text(encoding="utf-8")
    assert "`no_bias_correction`" in key


@needs("latexmk")
def test_three_written_out_adam_steps_compile_without_overfull_boxes(tmp_path):
    from tracer.render.document import compile_pdf

    sol = derive.solve(load(EXAMPLES / "mazur_adam.yaml"))
    for notation in ("mazur", "bracket"):
        pdf = compile_pdf(render(sol, "tex", notation=notation), tmp_path / f"adam-{notation}.pdf")
        log = pdf.with_suffix(".log").read_text(errors="replace")
        assert "Overfull" not in log, notation


def test_check_judges_optimizer_states_and_names_the_mistake(tmp_path):
    claims = tmp_path / "claims.yaml"
    claims.write_text('"m(W1[1,1])@1": -0.09\n"v_hat(W1[1,1])@1": 0.81\n"m_hat(W1[1,1])@2": -0.04451\n', encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "tracer", "check", str(EXAMPLES / "optimizer_adam.yaml"), str(claims)],
                         capture_output=True, text=True)
    assert out.returncode == 1, out.stderr
    assert "3 claims: 2 right, 0 habit, 0 carried, 1 wrong" in out.stdout
    assert "it matches the mistake that forgets Adam's bias correction" in out.stdout


@pytest.mark.parametrize("name", ["conv_maxpool", "rnn_sequence", "rnn_stacked"])
def test_conv_and_rnn_networks_take_an_optimizer(name):
    text = (EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8")
    text = text.replace("steps: 1}", "steps: 2, optimizer: {name: momentum, beta: 0.5}}")
    problem = loads(text, f"{name}.yaml")
    assert problem.training.optimizer.name == "momentum"
    sol = derive.solve(problem)
    assert sol.verification.ok
    first, second = sol.steps
    for key, g in first.gradients.items():  # v₁ = g, θ₁ = θ₀ − η·g
        if key in problem.trained_keys:
            assert first.optimizer_state["v"][key] == approx(g, rel=1e-15, abs=1e-300)
    for key, g in second.gradients.items():  # v₂ = β·v₁ + g₂
        if key in problem.trained_keys:
            v2 = 0.5 * first.optimizer_state["v"][key] + g
            assert second.params_after[key] == approx(first.params_after[key] - problem.rate_vector[0] * v2, rel=1e-13, abs=1e-15)


def test_the_matrix_form_writes_the_optimizer_elementwise_and_the_penalty():
    sol = derive.solve(load(EXAMPLES / "mazur_adam.yaml"))
    md = render(sol, "md", form="matrix")
    assert "Update: Adam (torch.optim.Adam), elementwise" in md
    assert r"\hat{m}_{t}\left(W^{[2]}\right) &= \frac{m_{t}\left(W^{[2]}\right)}{1 - \beta_1^{t}}" in md
    assert "W^{[2]} - 0.5" not in md  # no plain gradient-descent update is written for Adam
    w5 = sol.steps[0].params_after[K("W2[1,1]")]
    assert f"{w5:.9g}".replace("-", "−")[:8].replace("−", "-") in md.replace("−", "-")
    text = (EXAMPLES / "mazur.yaml").read_text(encoding="utf-8").replace("loss:\n", "loss:\n  regularization: {l2: 0.01}\n", 1)
    md = render(derive.solve(loads(text, "m.yaml")), "md", form="matrix")
    assert r"\frac{\partial \Omega}{\partial W^{[2]}} &= \lambda_{L2} W^{[2]}" in md
    assert r"\delta^{[2]} \left(a^{[1]}\right)^{\top} + \frac{\partial \Omega}{\partial W^{[2]}}" in md
    assert "0.0861670406" in md  # 0.0821670406 + 0.01 × 0.4
