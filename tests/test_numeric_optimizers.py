"""The optimizers of torch.optim in NumPy (tracer.numeric.optimizers), checked as worked examples.

The worked case: θ₀ = (1, −2) on f(θ) = θ₁² + 3θ₂², so g = (2θ₁, 6θ₂), with η = 0.1 (0.01 for
RMSprop, whose first step would otherwise land θ₁ on 0 up to ε). Each test writes out the
arithmetic of the first two steps in plain Python floats, independently of the module, and
compares to 1e-15 relative. Then the known properties (Adam's first step is η·sign(g),
momentum's v₁ = g, Nesterov's look-ahead), a per-parameter learning rate, purity, the
defaults, the refusals, and agreement with torch.optim itself (torch is a test dependency: a
missing torch skips these on a developer's machine and fails them under CI).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pytest import approx

from conftest import import_torch

from tracer.numeric.optimizers import (
    DEFAULT_EPS,
    STATE_NAMES,
    Hyper,
    initial_state,
    run,
    update,
)

REL = 1e-15
THETA0 = [1.0, -2.0]


def gradient(theta):
    """∇(θ₁² + 3θ₂²) = (2θ₁, 6θ₂)."""
    return np.array([2.0 * theta[0], 6.0 * theta[1]])


def exactly(expected):
    return approx(expected, rel=REL, abs=0.0)


def two_steps(hyper: Hyper, rate: float):
    """θ₁, state₁, shown₁, θ₂, state₂, shown₂ of the worked case, by the module."""
    theta0 = np.array(THETA0)
    theta1, state1, shown1 = update(hyper, theta0, gradient(theta0), initial_state(hyper, 2), 1, rate)
    theta2, state2, shown2 = update(hyper, theta1, gradient(theta1), state1, 2, rate)
    return theta1, state1, shown1, theta2, state2, shown2


# ---------------------------------------------------------------------------
# Two steps of each optimizer, by hand
# ---------------------------------------------------------------------------


def test_sgd_two_steps():
    eta = 0.1
    # step 1: g = (2·1, 6·(−2)) = (2, −12)
    a1 = 1.0 - eta * 2.0  # 0.8
    b1 = -2.0 - eta * (-12.0)  # −0.8
    # step 2: g = (2·0.8, 6·(−0.8)) = (1.6, −4.8)
    ga, gb = 2.0 * a1, 6.0 * b1
    a2 = a1 - eta * ga  # 0.64
    b2 = b1 - eta * gb  # −0.32

    theta1, state1, shown1, theta2, state2, shown2 = two_steps(Hyper("sgd"), eta)
    assert theta1.tolist() == exactly([a1, b1]) and theta1.tolist() == approx([0.8, -0.8], rel=1e-15)
    assert theta2.tolist() == exactly([a2, b2]) and theta2.tolist() == approx([0.64, -0.32], rel=1e-15)
    assert shown1["step"].tolist() == exactly([eta * 2.0, eta * -12.0])
    assert state1 == {} and state2 == {} and set(shown2) == {"step"}


def test_momentum_two_steps():
    eta, mu = 0.1, 0.9
    # step 1: v₁ = μ·0 + g = (2, −12); θ₁ = θ₀ − η v₁
    va1, vb1 = mu * 0.0 + 2.0, mu * 0.0 + (-12.0)
    a1, b1 = 1.0 - eta * va1, -2.0 - eta * vb1  # (0.8, −0.8)
    # step 2: g = (1.6, −4.8); v₂ = μ v₁ + g = (3.4, −15.6); θ₂ = θ₁ − η v₂
    ga, gb = 2.0 * a1, 6.0 * b1
    va2, vb2 = mu * va1 + ga, mu * vb1 + gb
    a2, b2 = a1 - eta * va2, b1 - eta * vb2  # (0.46, 0.76)

    theta1, state1, shown1, theta2, state2, shown2 = two_steps(Hyper("momentum"), eta)
    assert state1["v"].tolist() == exactly([va1, vb1])
    assert theta1.tolist() == exactly([a1, b1])
    assert state2["v"].tolist() == exactly([va2, vb2]) and state2["v"].tolist() == approx([3.4, -15.6], rel=1e-15)
    assert theta2.tolist() == exactly([a2, b2]) and theta2.tolist() == approx([0.46, 0.76], rel=1e-15)
    assert shown2["step"].tolist() == exactly([eta * va2, eta * vb2])
    assert "g_nesterov" not in shown1


def test_nesterov_two_steps():
    eta, mu = 0.1, 0.9
    # step 1: v₁ = g = (2, −12); g + μ v₁ = (3.8, −22.8); θ₁ = θ₀ − η (g + μ v₁)
    va1, vb1 = 2.0, -12.0
    na1, nb1 = 2.0 + mu * va1, -12.0 + mu * vb1
    a1, b1 = 1.0 - eta * na1, -2.0 - eta * nb1  # (0.62, 0.28)
    # step 2: g = (1.24, 1.68); v₂ = μ v₁ + g = (3.04, −9.12); g + μ v₂ = (3.976, −6.528)
    ga, gb = 2.0 * a1, 6.0 * b1
    va2, vb2 = mu * va1 + ga, mu * vb1 + gb
    na2, nb2 = ga + mu * va2, gb + mu * vb2
    a2, b2 = a1 - eta * na2, b1 - eta * nb2  # (0.2224, 0.9328)

    theta1, state1, shown1, theta2, state2, shown2 = two_steps(Hyper("momentum", nesterov=True), eta)
    assert state1["v"].tolist() == exactly([va1, vb1])
    assert shown1["g_nesterov"].tolist() == exactly([na1, nb1])
    assert theta1.tolist() == exactly([a1, b1]) and theta1.tolist() == approx([0.62, 0.28], rel=1e-14)
    assert state2["v"].tolist() == exactly([va2, vb2])
    assert shown2["g_nesterov"].tolist() == exactly([na2, nb2]) and shown2["g_nesterov"].tolist() == approx([3.976, -6.528], rel=1e-14)
    assert theta2.tolist() == exactly([a2, b2]) and theta2.tolist() == approx([0.2224, 0.9328], rel=1e-14)


def test_adagrad_two_steps():
    eta, eps = 0.1, 1e-10
    # step 1: G₁ = 0 + g² = (4, 144); θ₁ = θ₀ − η g / (√G₁ + ε) ≈ (0.9, −1.9)
    Ga1, Gb1 = 0.0 + 2.0**2, 0.0 + (-12.0) ** 2
    a1 = 1.0 - eta * 2.0 / (math.sqrt(Ga1) + eps)
    b1 = -2.0 - eta * (-12.0) / (math.sqrt(Gb1) + eps)
    # step 2: g ≈ (1.8, −11.4); G₂ = G₁ + g² ≈ (7.24, 273.96)
    ga, gb = 2.0 * a1, 6.0 * b1
    Ga2, Gb2 = Ga1 + ga**2, Gb1 + gb**2
    a2 = a1 - eta * ga / (math.sqrt(Ga2) + eps)
    b2 = b1 - eta * gb / (math.sqrt(Gb2) + eps)

    theta1, state1, _, theta2, state2, shown2 = two_steps(Hyper("adagrad"), eta)
    assert state1["G"].tolist() == exactly([4.0, 144.0])
    assert theta1.tolist() == exactly([a1, b1]) and theta1.tolist() == approx([0.9, -1.9], abs=1e-10)
    assert state2["G"].tolist() == exactly([Ga2, Gb2]) and state2["G"].tolist() == approx([7.24, 273.96], abs=1e-8)
    assert theta2.tolist() == exactly([a2, b2])
    assert theta2.tolist() == approx([0.9 - 0.18 / math.sqrt(7.24), -1.9 + 1.14 / math.sqrt(273.96)], abs=1e-8)
    assert shown2["step"].tolist() == exactly([eta * ga / (math.sqrt(Ga2) + eps), eta * gb / (math.sqrt(Gb2) + eps)])


def test_rmsprop_two_steps():
    eta, alpha, eps = 0.01, 0.99, 1e-8
    # step 1: s₁ = α·0 + (1−α) g² = (0.04, 1.44); √s₁ = (0.2, 1.2); the step is η·g/√s₁ = 10 η·sign(g)
    sa1 = alpha * 0.0 + (1.0 - alpha) * 2.0**2
    sb1 = alpha * 0.0 + (1.0 - alpha) * (-12.0) ** 2
    a1 = 1.0 - eta * 2.0 / (math.sqrt(sa1) + eps)
    b1 = -2.0 - eta * (-12.0) / (math.sqrt(sb1) + eps)
    # step 2: g ≈ (1.8, −11.4); s₂ = α s₁ + (1−α) g²
    ga, gb = 2.0 * a1, 6.0 * b1
    sa2 = alpha * sa1 + (1.0 - alpha) * ga**2
    sb2 = alpha * sb1 + (1.0 - alpha) * gb**2
    a2 = a1 - eta * ga / (math.sqrt(sa2) + eps)
    b2 = b1 - eta * gb / (math.sqrt(sb2) + eps)

    theta1, state1, _, theta2, state2, _ = two_steps(Hyper("rmsprop"), eta)
    assert state1["s"].tolist() == exactly([sa1, sb1]) and state1["s"].tolist() == approx([0.04, 1.44], rel=1e-14)
    assert theta1.tolist() == exactly([a1, b1]) and theta1.tolist() == approx([0.9, -1.9], abs=1e-7)
    assert state2["s"].tolist() == exactly([sa2, sb2])
    assert state2["s"].tolist() == approx([0.99 * 0.04 + 0.01 * 1.8**2, 0.99 * 1.44 + 0.01 * 11.4**2], rel=1e-7)
    assert theta2.tolist() == exactly([a2, b2])


def test_adam_two_steps():
    eta, beta1, beta2, eps = 0.1, 0.9, 0.999, 1e-8
    # step 1: m₁ = (1−β₁) g, v₁ = (1−β₂) g²; m̂₁ = m₁/(1−β₁) = g, v̂₁ = v₁/(1−β₂) = g²
    ma1, mb1 = beta1 * 0.0 + (1.0 - beta1) * 2.0, beta1 * 0.0 + (1.0 - beta1) * (-12.0)
    va1, vb1 = beta2 * 0.0 + (1.0 - beta2) * 2.0**2, beta2 * 0.0 + (1.0 - beta2) * (-12.0) ** 2
    mha1, mhb1 = ma1 / (1.0 - beta1**1), mb1 / (1.0 - beta1**1)
    vha1, vhb1 = va1 / (1.0 - beta2**1), vb1 / (1.0 - beta2**1)
    a1 = 1.0 - eta * mha1 / (math.sqrt(vha1) + eps)
    b1 = -2.0 - eta * mhb1 / (math.sqrt(vhb1) + eps)
    # step 2: g ≈ (1.8, −11.4); bias corrections 1 − β₁² = 0.19 and 1 − β₂² = 0.001999
    ga, gb = 2.0 * a1, 6.0 * b1
    ma2, mb2 = beta1 * ma1 + (1.0 - beta1) * ga, beta1 * mb1 + (1.0 - beta1) * gb
    va2, vb2 = beta2 * va1 + (1.0 - beta2) * ga**2, beta2 * vb1 + (1.0 - beta2) * gb**2
    mha2, mhb2 = ma2 / (1.0 - beta1**2), mb2 / (1.0 - beta1**2)
    vha2, vhb2 = va2 / (1.0 - beta2**2), vb2 / (1.0 - beta2**2)
    a2 = a1 - eta * mha2 / (math.sqrt(vha2) + eps)
    b2 = b1 - eta * mhb2 / (math.sqrt(vhb2) + eps)

    theta1, state1, shown1, theta2, state2, shown2 = two_steps(Hyper("adam"), eta)
    assert state1["m"].tolist() == exactly([ma1, mb1]) and state1["v"].tolist() == exactly([va1, vb1])
    assert shown1["m_hat"].tolist() == exactly([mha1, mhb1]) and shown1["m_hat"].tolist() == approx([2.0, -12.0], rel=1e-14)
    assert shown1["v_hat"].tolist() == exactly([vha1, vhb1]) and shown1["v_hat"].tolist() == approx([4.0, 144.0], rel=1e-12)
    assert theta1.tolist() == exactly([a1, b1]) and theta1.tolist() == approx([0.9, -1.9], abs=1e-9)
    assert state2["m"].tolist() == exactly([ma2, mb2]) and state2["v"].tolist() == exactly([va2, vb2])
    assert shown2["m_hat"].tolist() == exactly([mha2, mhb2]) and shown2["v_hat"].tolist() == exactly([vha2, vhb2])
    # m̂₂ = (0.9·0.2 + 0.1·1.8)/0.19 = 0.36/0.19, v̂₂ = (0.999·0.004 + 0.001·3.24)/0.001999 for θ₁
    assert shown2["m_hat"][0] == approx(0.36 / 0.19, rel=1e-8)
    assert shown2["v_hat"][0] == approx((0.999 * 0.004 + 0.001 * 3.24) / 0.001999, rel=1e-8)
    assert theta2.tolist() == exactly([a2, b2])
    assert shown2["step"].tolist() == exactly([eta * mha2 / (math.sqrt(vha2) + eps), eta * mhb2 / (math.sqrt(vhb2) + eps)])


# ---------------------------------------------------------------------------
# Known properties
# ---------------------------------------------------------------------------


def test_adams_first_step_moves_every_parameter_by_the_rate_times_the_sign_of_its_gradient():
    """m̂₁ = g and v̂₁ = g², so the first step is η g / (|g| + ε) ≈ η·sign(g), whatever |g|."""
    hyper = Hyper("adam")
    theta = np.array([0.5, -3.0, 7.0, 0.0])
    grad = np.array([1e-3, -50.0, 4e4, -2.5])
    after, _, shown = update(hyper, theta, grad, initial_state(hyper, 4), 1, 0.01)
    assert shown["m_hat"] == approx(grad, rel=1e-14)
    assert shown["v_hat"] == approx(grad**2, rel=1e-12)
    assert shown["step"] == approx(0.01 * grad / (np.abs(grad) + 1e-8), rel=1e-12)
    assert shown["step"] == approx(0.01 * np.sign(grad), rel=1e-5)  # the ε matters only at |g| ≈ 1e-3
    assert after == approx(theta - 0.01 * np.sign(grad), rel=1e-5, abs=1e-7)


def test_momentum_v1_is_the_gradient():
    """torch's buffer is the gradient itself at step 1 (no (1 − μ) factor), for any μ."""
    grad = np.array([0.3, -1.7, 4.0])
    for beta in (0.0, 0.5, 0.9, 0.99):
        hyper = Hyper("momentum", beta=beta)
        _, state, shown = update(hyper, np.zeros(3), grad, initial_state(hyper, 3), 1, 0.1)
        assert state["v"].tolist() == grad.tolist()
        assert shown["step"].tolist() == (0.1 * grad).tolist()


def test_nesterov_differs_from_momentum_from_step_1():
    theta0, grad = np.array(THETA0), gradient(np.array(THETA0))
    plain, _, _ = update(Hyper("momentum"), theta0, grad, {"v": np.zeros(2)}, 1, 0.1)
    ahead, _, shown = update(Hyper("momentum", nesterov=True), theta0, grad, {"v": np.zeros(2)}, 1, 0.1)
    assert plain.tolist() == exactly([0.8, -0.8])
    assert ahead.tolist() == exactly([1.0 - 0.1 * 3.8, -2.0 + 0.1 * 22.8])  # g + μ g = 1.9 g
    assert shown["g_nesterov"].tolist() == exactly((1.9 * grad).tolist())
    assert not np.allclose(plain, ahead)


@pytest.mark.parametrize(
    "hyper",
    [Hyper("sgd"), Hyper("momentum"), Hyper("momentum", nesterov=True), Hyper("adagrad"), Hyper("rmsprop"), Hyper("adam")],
    ids=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"],
)
def test_a_rate_array_applies_per_parameter(hyper):
    """Two steps with rates (0.1, 0.01) give, parameter by parameter, the runs with each rate alone."""
    rates = np.array([0.1, 0.01])
    together = run(hyper, np.array(THETA0), gradient, 2, rates)
    alone = [run(hyper, np.array(THETA0), gradient, 2, rate) for rate in rates]
    for t in range(2):
        for i in range(2):  # the objective is separable: parameter i never sees the other
            assert together[t][0][i] == alone[i][t][0][i]
            for name in STATE_NAMES[hyper.name]:
                assert together[t][1][name][i] == alone[i][t][1][name][i]


def test_a_rate_per_row_broadcasts_over_a_matrix():
    hyper = Hyper("sgd")
    theta, grad = np.ones((2, 3)), np.full((2, 3), 2.0)
    after, _, _ = update(hyper, theta, grad, {}, 1, np.array([[0.1], [0.5]]))
    assert after.tolist() == [[0.8, 0.8, 0.8], [0.0, 0.0, 0.0]]


# ---------------------------------------------------------------------------
# Purity and SGD, generated (hypothesis)
# ---------------------------------------------------------------------------

FINITE = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
SHAPES = hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)
HYPERS = st.sampled_from(
    [Hyper("sgd"), Hyper("momentum", beta=0.5), Hyper("momentum", nesterov=True), Hyper("adagrad"), Hyper("rmsprop", alpha=0.9), Hyper("adam")]
)


@st.composite
def cases(draw):
    hyper = draw(HYPERS)
    shape = draw(SHAPES)
    theta = draw(hnp.arrays(float, shape, elements=FINITE))
    grad = draw(hnp.arrays(float, shape, elements=FINITE))
    state = {name: np.abs(draw(hnp.arrays(float, shape, elements=FINITE))) for name in STATE_NAMES[hyper.name]}
    if hyper.name == "adam":  # the first moment may be negative
        state["m"] = -state["m"] if draw(st.booleans()) else state["m"]
    rate = draw(st.one_of(st.floats(0.0, 1.0), hnp.arrays(float, shape, elements=st.floats(0.0, 1.0))))
    t = draw(st.integers(1, 50))
    return hyper, theta, grad, state, t, rate


@settings(max_examples=200, deadline=None)
@given(cases())
def test_update_never_writes_to_its_inputs_and_subtracts_its_step(case):
    hyper, theta, grad, state, t, rate = case
    before = (theta.copy(), grad.copy(), {k: v.copy() for k, v in state.items()}, np.copy(rate))
    after, new_state, shown = update(hyper, theta, grad, state, t, rate)
    assert np.array_equal(theta, before[0]) and np.array_equal(grad, before[1])
    assert state.keys() == before[2].keys() and all(np.array_equal(state[k], before[2][k]) for k in state)
    assert np.array_equal(rate, before[3])
    assert after.shape == theta.shape and shown["step"].shape == theta.shape
    assert np.array_equal(after, theta - shown["step"])
    assert set(new_state) == set(STATE_NAMES[hyper.name])
    for array in new_state.values():  # fresh arrays, not views of the inputs
        assert not any(np.shares_memory(array, a) for a in (theta, grad, *state.values()))
    assert not np.shares_memory(after, theta)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(float, SHAPES, elements=FINITE).flatmap(
    lambda theta: st.tuples(st.just(theta), hnp.arrays(float, theta.shape, elements=FINITE), st.floats(0.0, 1.0), st.integers(1, 100))
))
def test_sgd_is_theta_minus_rate_times_gradient(case):
    theta, grad, rate, t = case
    after, state, shown = update(Hyper("sgd"), theta, grad, {}, t, rate)
    assert np.array_equal(after, theta - rate * grad)
    assert state == {} and np.array_equal(shown["step"], rate * grad)


# ---------------------------------------------------------------------------
# Defaults, state, run, refusals
# ---------------------------------------------------------------------------


def test_the_defaults_are_torchs():
    """torch.optim: SGD(momentum, dampening=0, nesterov=False), Adagrad(eps=1e-10),
    RMSprop(alpha=0.99, eps=1e-8), Adam(betas=(0.9, 0.999), eps=1e-8)."""
    assert Hyper("adam").beta1 == 0.9 and Hyper("adam").beta2 == 0.999
    assert Hyper("rmsprop").alpha == 0.99
    assert Hyper("momentum").nesterov is False
    assert {name: Hyper(name).epsilon for name in STATE_NAMES} == {
        "sgd": 0.0, "momentum": 0.0, "adagrad": 1e-10, "rmsprop": 1e-8, "adam": 1e-8, "adamw": 1e-8
    }
    assert DEFAULT_EPS == {"adagrad": 1e-10, "rmsprop": 1e-8, "adam": 1e-8, "adamw": 1e-8}
    # weight_decay: 0 (none) but AdamW's 0.01 (torch.optim.AdamW's default)
    assert {name: Hyper(name).decay for name in STATE_NAMES} == {
        "sgd": 0.0, "momentum": 0.0, "adagrad": 0.0, "rmsprop": 0.0, "adam": 0.0, "adamw": 0.01
    }
    assert Hyper("adam", eps=1e-6).epsilon == 1e-6 and Hyper("adagrad", eps=0.0).epsilon == 0.0


def test_the_state_starts_at_zero_with_the_names_of_each_optimizer():
    assert STATE_NAMES == {"sgd": (), "momentum": ("v",), "adagrad": ("G",), "rmsprop": ("s",), "adam": ("m", "v"), "adamw": ("m", "v")}
    for name, names in STATE_NAMES.items():
        state = initial_state(Hyper(name), (2, 3))
        assert tuple(state) == names
        assert all(array.shape == (2, 3) and not array.any() for array in state.values())


def test_run_is_update_repeated_with_the_gradient_at_each_theta():
    hyper = Hyper("adam")
    history = run(hyper, THETA0, gradient, 3, 0.1)
    theta, state = np.array(THETA0), initial_state(hyper, 2)
    assert len(history) == 3
    for t, (theta_after, state_after) in enumerate(history, start=1):
        theta, state, _ = update(hyper, theta, gradient(theta), state, t, 0.1)
        assert theta_after.tolist() == theta.tolist()
        assert {k: v.tolist() for k, v in state_after.items()} == {k: v.tolist() for k, v in state.items()}
    assert run(hyper, THETA0, gradient, 0, 0.1) == []


def test_the_loss_goes_down_for_every_optimizer():
    def loss(theta):
        return theta[0] ** 2 + 3 * theta[1] ** 2

    for name, rate in (("sgd", 0.1), ("momentum", 0.05), ("adagrad", 0.5), ("rmsprop", 0.05), ("adam", 0.1)):
        history = run(Hyper(name), THETA0, gradient, 20, rate)
        assert loss(history[-1][0]) < loss(np.array(THETA0)) / 10, name


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Hyper("nadam"), "unknown optimizer 'nadam'"),
        (lambda: Hyper("adamw", weight_decay=-0.1), "weight_decay must be ≥ 0, got -0.1"),
        (lambda: Hyper("adam", nesterov=True), "nesterov applies to the momentum optimizer"),
        (lambda: Hyper("momentum", beta=1.0), "momentum beta must lie in"),
        (lambda: Hyper("adam", beta2=1.0), "adam beta2 must lie in"),
        (lambda: Hyper("rmsprop", eps=-1e-8), "eps must be"),
        (lambda: update(Hyper("sgd"), np.zeros(2), np.zeros(2), {}, 0, 0.1), "counts from 1"),
        (lambda: update(Hyper("sgd"), np.zeros(2), np.zeros(3), {}, 1, 0.1), "the gradient has shape"),
        (lambda: update(Hyper("sgd"), np.zeros(2), np.zeros(2), {}, 1, np.ones(3)), "does not apply"),
        (lambda: update(Hyper("adam"), np.zeros(2), np.zeros(2), {"m": np.zeros(2)}, 1, 0.1), "carries the state"),
        (lambda: update(Hyper("momentum"), np.zeros(2), np.zeros(2), {"v": np.zeros(3)}, 1, 0.1), "state 'v' has shape"),
        (lambda: run(Hyper("sgd"), THETA0, gradient, -1, 0.1), "steps must be"),
    ],
)
def test_refusals_say_what_is_wrong(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---------------------------------------------------------------------------
# Against torch.optim itself (skipped on a developer's machine without torch; never under CI)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hyper", "kind", "options"),
    [
        (Hyper("sgd"), "SGD", {"lr": 0.1}),
        (Hyper("momentum", beta=0.8), "SGD", {"lr": 0.05, "momentum": 0.8}),
        (Hyper("momentum", nesterov=True), "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
        (Hyper("adagrad"), "Adagrad", {"lr": 0.1}),
        (Hyper("rmsprop"), "RMSprop", {"lr": 0.01}),
        (Hyper("adam"), "Adam", {"lr": 0.01}),
    ],
    ids=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"],
)
def test_five_steps_agree_with_torch_optim(hyper, kind, options):
    torch = import_torch()
    rng = np.random.default_rng(20261)
    theta0, target = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))

    def grad_of(theta):  # ∇ Σ (θ⁴/4 − target·θ): the gradient changes with θ
        return theta**3 - target

    ours = run(hyper, theta0, grad_of, 5, options["lr"])
    parameter = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    optimizer = getattr(torch.optim, kind)([parameter], **options)
    for theta_after, _ in ours:
        parameter.grad = torch.from_numpy(grad_of(parameter.detach().numpy().copy()))
        optimizer.step()
        assert parameter.detach().numpy() == approx(theta_after, rel=1e-12, abs=1e-12)
