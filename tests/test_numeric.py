"""The independent NumPy pass: Mazur's published numbers, gradients against finite
differences on random networks, the softmax Jacobian, and the sequential order."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pytest import approx

from conftest import K
from tracer.numeric import mlp as numeric
from tracer.spec import from_mapping, load

# ---------------------------------------------------------------------------
# Mazur's example (examples/mazur.yaml)
# ---------------------------------------------------------------------------


@pytest.fixture
def mazur(examples):
    return load(examples / "mazur.yaml")


def with_training(problem, **changes):
    return dataclasses.replace(problem, training=dataclasses.replace(problem.training, **changes))


def test_mazur_forward_pass_and_loss(mazur):
    result = numeric.evaluate(mazur)
    sample = result.samples[0]
    assert sample.z[0] == approx([0.3775, 0.3925], abs=1e-12)  # net_h1, net_h2
    assert sample.a[0] == approx([0.593269992, 0.596884378], abs=5e-10)  # out_h1, out_h2
    assert sample.a[1] == approx([0.75136507, 0.772928465], abs=5e-9)  # out_o1, out_o2
    assert sample.loss_terms == approx([0.274811083, 0.023560026], abs=5e-10)  # E_o1, E_o2
    assert result.loss == approx(0.2983711088, abs=1e-10)  # E_total


def test_mazur_gradients(mazur):
    grads = numeric.evaluate(mazur).grads
    assert grads[K("W2[1,1]")] == approx(0.082167041, abs=5e-10)  # ∂E/∂w5
    assert grads[K("W1[1,1]")] == approx(0.000438568, abs=5e-10)  # ∂E/∂w1
    assert set(grads) == set(mazur.parameter_keys)  # b1, b2 reported although not trained


def test_mazur_one_step(mazur):
    after = numeric.step(mazur)
    assert after.parameters()[K("W2[1,1]")] == approx(0.35891648, abs=5e-9)  # w5+
    assert after.parameters()[K("b1")] == 0.35 and after.parameters()[K("b2")] == 0.60  # trainable_bias: false
    assert numeric.evaluate(after).loss == approx(0.2910277737, abs=1e-10)
    sequential = numeric.step(with_training(mazur, order="sequential"))
    assert numeric.evaluate(sequential).loss == approx(0.2910279239, abs=1e-10)  # Mazur's 0.291027924


def test_mazur_ten_thousand_steps(mazur):
    passes = numeric.train(mazur, steps=10_000)
    assert len(passes) == 10_001
    assert passes[0].loss == approx(0.2983711088, abs=1e-10)
    assert passes[-1].loss == approx(3.510187783e-05, abs=1e-13)

    passes = numeric.train(with_training(mazur, order="sequential"), steps=10_000)
    assert passes[-1].loss == approx(3.5084786e-05, abs=1e-12)
    assert passes[-1].samples[0].a[-1] == approx([0.01591220, 0.98406573], abs=5e-9)


def test_train_defaults_to_training_steps(mazur):
    passes = numeric.train(with_training(mazur, steps=3))
    assert len(passes) == 4
    assert passes[1].loss == approx(numeric.evaluate(numeric.step(mazur)).loss, abs=1e-15)
    assert len(numeric.train(mazur, steps=0)) == 1


# ---------------------------------------------------------------------------
# Gradients = central finite differences, on random networks
# ---------------------------------------------------------------------------

ELEMENTWISE = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "arctan"]
KINKED = ("relu", "leaky_relu", "elu")


def random_activation(draw, choices):
    name = draw(st.sampled_from(choices))
    if name in ("leaky_relu", "elu") and draw(st.booleans()):
        return {"name": name, "alpha": draw(st.sampled_from([0.01, 0.1, 0.3, 1.0, 1.7]))}
    return name


@st.composite
def random_problems(draw):
    """A random network of depth 1–4 and widths 1–4 with every activation, loss and option."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["mse", "cross_entropy", "binary_cross_entropy"]))
    depth = draw(st.integers(1, 4))
    sizes = [draw(st.integers(1, 4)) for _ in range(depth + 1)]
    output = {
        "mse": ELEMENTWISE + ["softmax"],
        "cross_entropy": ["softmax", "sigmoid"],  # outputs must lie in (0, 1)
        "binary_cross_entropy": ["sigmoid"],
    }[kind]
    layers = []
    for l in range(1, depth + 1):
        layer = {
            "units": sizes[l],
            "activation": random_activation(draw, output if l == depth else ELEMENTWISE),
            "weights": rng.uniform(-1.5, 1.5, (sizes[l], sizes[l - 1])).tolist(),
        }
        bias = draw(st.sampled_from(["none", "shared", "per unit", "one number"]))
        if bias == "shared":
            layer.update(bias=float(rng.uniform(-1, 1)), shared_bias=True)
        elif bias == "per unit":
            layer["bias"] = rng.uniform(-1, 1, sizes[l]).tolist()
        elif bias == "one number":
            layer["bias"] = float(rng.uniform(-1, 1))
        if "bias" in layer and draw(st.booleans()):
            layer["trainable_bias"] = False
        layers.append(layer)
    data = []
    for _ in range(draw(st.integers(1, 3))):
        sample = {"x": rng.uniform(-2, 2, sizes[0]).tolist()}
        if kind == "mse":
            sample["y"] = rng.uniform(-1, 1, sizes[-1]).tolist()
        elif kind == "cross_entropy" and draw(st.booleans()):
            sample["label"] = int(rng.integers(sizes[-1]))
        else:
            y = rng.uniform(0, 1, sizes[-1])
            if kind == "cross_entropy" and draw(st.booleans()):
                y = y / y.sum()  # a probability vector (any y in [0, 1] is accepted)
            sample["y"] = y.tolist()
        data.append(sample)
    loss = {
        "kind": kind,
        "outputs": draw(st.sampled_from(["sum", "mean"])),
        "samples": draw(st.sampled_from(["sum", "mean"])),
    }
    if kind == "mse":
        loss["factor"] = draw(st.sampled_from([0.5, 1.0, 2.0]))
    else:
        loss["log"] = draw(st.sampled_from(["ln", "log10", "log2"]))
    return from_mapping(
        {
            "network": {"inputs": sizes[0], "layers": layers, "relu_derivative_at_zero": draw(st.sampled_from([0, 1]))},
            "loss": loss,
            "data": data,
            "training": {"learning_rate": 0.1},
        },
        "random",
    )


def away_from_kinks(problem, result) -> bool:
    """Central differences straddle a kink only if some |z| is within ~h of it."""
    return all(
        np.all(np.abs(z) > 1e-3)
        for s in result.samples
        for layer, z in zip(problem.layers, s.z)
        if layer.activation.name in KINKED
    )


def well_conditioned(problem, result) -> bool:
    """A cross-entropy of an output o within 1e-2 of 0 or 1 rounds to eps/o or eps/(1 − o): central
    differences (÷ 2h) then lose the digits we compare, while the analytic gradient does not."""
    if problem.loss.kind == "mse":
        return True
    return all(np.all((s.a[-1] > 1e-2) & (s.a[-1] < 1 - 1e-2)) for s in result.samples)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_problems())
def test_gradients_equal_finite_differences(problem):
    result = numeric.evaluate(problem)
    assume(math.isfinite(result.loss) and away_from_kinks(problem, result) and well_conditioned(problem, result))
    fd = numeric.finite_differences(problem)
    assert set(result.grads) == set(fd) == set(problem.parameter_keys)
    # central differences round off about eps·|loss|/h ≈ 2e-10·|loss|: the absolute bound scales with it
    rounding = 1e-8 * max(1.0, abs(result.loss))
    for name, g in result.grads.items():
        assert g == approx(fd[name], rel=1e-6, abs=rounding), name


@settings(max_examples=100, deadline=None)
@given(random_problems())
def test_samples_combine_into_the_total(problem):
    """loss and gradients of the data set are the per-sample ones summed (or averaged)."""
    result = numeric.evaluate(problem)
    assume(math.isfinite(result.loss))
    weight = 1.0 if problem.loss.samples == "sum" else 1.0 / len(problem.data)
    assert result.loss == approx(weight * sum(s.loss for s in result.samples), rel=1e-12, abs=1e-15)
    for name, g in result.grads.items():
        assert g == approx(weight * sum(s.grads[name] for s in result.samples), rel=1e-12, abs=1e-15)
    for s in result.samples:
        combine = np.sum if problem.loss.outputs == "sum" else np.mean
        assert s.loss == approx(float(combine(s.loss_terms)), rel=1e-12, abs=1e-15)


@settings(max_examples=100, deadline=None)
@given(random_problems())
def test_step_moves_trained_parameters_against_the_gradient(problem):
    result = numeric.evaluate(problem)
    assume(math.isfinite(result.loss))
    before, after = problem.parameters(), numeric.step(problem).parameters()
    trained = set(problem.trained_keys)
    for name in problem.parameter_keys:
        if name in trained:
            assert after[name] == approx(before[name] - 0.1 * result.grads[name], rel=1e-12, abs=1e-15)
        else:
            assert after[name] == before[name]


# ---------------------------------------------------------------------------
# Local derivatives
# ---------------------------------------------------------------------------


def one_layer(activation, weights, bias, x, y, relu_at_zero=0, loss=None):
    if loss and loss["kind"] != "mse" and activation not in ("sigmoid", "softmax"):
        # a log loss over outputs that can be 0 is refused by the loader (issue 16); the twin's own
        # handling of log 0 is tested on the problem the loader would have made
        import dataclasses

        problem = one_layer("sigmoid", weights, bias, x, y, relu_at_zero, loss)
        layer = dataclasses.replace(problem.layers[0], activation=dataclasses.replace(problem.layers[0].activation, name=activation))
        return dataclasses.replace(problem, layers=(layer,))
    return from_mapping(
        {
            "network": {
                "inputs": len(x),
                "layers": [{"units": len(weights), "activation": activation, "weights": weights, "bias": bias}],
                "relu_derivative_at_zero": relu_at_zero,
            },
            "loss": loss or {"kind": "mse"},
            "data": [{"x": x, "y": y}],
            "training": {"learning_rate": 0.1},
        }
    )


@pytest.mark.parametrize("z", [[0.3, -1.2, 2.0], [5.0, 0.0, -40.0], [0.1]])
def test_softmax_jacobian_equals_finite_differences(z):
    """∂a_m/∂z_j = ∂a_m/∂b_j (z_j = … + b_j): the Jacobian by perturbing each bias."""
    n = len(z)
    problem = one_layer("softmax", [[0.0]] * n, z, [1.0], [1.0 / n] * n)
    jacobian = numeric.evaluate(problem).samples[0].da_dz[0]
    assert jacobian.shape == (n, n)
    h = 1e-6
    for j in range(n):
        plus = numeric.evaluate(problem.with_parameters({f"b1[{j + 1}]": z[j] + h})).samples[0].a[0]
        minus = numeric.evaluate(problem.with_parameters({f"b1[{j + 1}]": z[j] - h})).samples[0].a[0]
        assert jacobian[:, j] == approx((plus - minus) / (2 * h), abs=1e-9)
    p = numeric.evaluate(problem).samples[0].a[0]
    assert jacobian == approx(np.diag(p) - np.outer(p, p), abs=1e-15)  # p_m (δ_mj − p_j)


@pytest.mark.parametrize(
    "activation, at_zero, expected",
    [
        ("relu", 0, 0.0),
        ("relu", 1, 1.0),
        ({"name": "leaky_relu", "alpha": 0.2}, 0, 0.2),
        ({"name": "leaky_relu", "alpha": 0.2}, 1, 1.0),
        ({"name": "elu", "alpha": 0.5}, 0, 0.5),
        ({"name": "elu", "alpha": 0.5}, 1, 1.0),
        ("step", 0, 0.0),
    ],
)
def test_derivative_at_the_kink_follows_the_convention(activation, at_zero, expected):
    problem = one_layer(activation, [[1.0]], 0.0, [0.0], [1.0], relu_at_zero=at_zero)
    sample = numeric.evaluate(problem).samples[0]
    assert sample.z[0][0] == 0.0
    assert sample.da_dz[0][0] == expected


def test_step_passes_values_but_no_gradient():
    problem = one_layer("step", [[1.0], [-1.0]], 0.0, [0.0], [0.0, 0.0])
    sample = numeric.evaluate(problem).samples[0]
    assert list(sample.a[0]) == [1.0, 1.0]  # step(0) = 1
    assert all(g == 0.0 for g in sample.grads.values())


@pytest.mark.parametrize("log, scale", [("ln", 1.0), ("log10", 1 / math.log(10)), ("log2", 1 / math.log(2))])
def test_cross_entropy_log_base(log, scale):
    problem = one_layer("softmax", [[0.4], [0.1]], 0.0, [1.0], [0.0, 1.0], loss={"kind": "cross_entropy", "log": log})
    o = numeric.evaluate(problem).samples[0].a[0]
    assert numeric.evaluate(problem).loss == approx(-math.log(o[1]) * scale, rel=1e-14)


def test_log_of_zero_is_infinite_not_clipped():
    """An output of exactly 0 under a target of 1 costs inf; under a target of 0 nothing (0 · log 0 = 0)."""
    problem = one_layer("identity", [[0.0], [0.0]], [0.0, 1.0], [1.0], [1.0, 0.0], loss={"kind": "cross_entropy"})
    sample = numeric.evaluate(problem).samples[0]
    assert sample.loss_terms[0] == math.inf
    assert sample.loss_terms[1] == 0.0
    assert sample.loss == math.inf
    bce = one_layer("identity", [[0.0], [0.0]], [0.0, 1.0], [1.0], [0.0, 1.0], loss={"kind": "binary_cross_entropy"})
    assert list(numeric.evaluate(bce).samples[0].loss_terms) == [0.0, 0.0]


# ---------------------------------------------------------------------------
# Sequential order
# ---------------------------------------------------------------------------


def two_samples():
    return from_mapping(
        {
            "network": {
                "inputs": 2,
                "layers": [
                    {"units": 3, "activation": "tanh", "weights": [[0.1, -0.4], [0.7, 0.2], [-0.3, 0.5]], "bias": [0.1, 0.0, -0.2]},
                    {"units": 2, "activation": "sigmoid", "weights": [[0.3, -0.6, 0.9], [0.5, 0.4, -0.8]], "bias": 0.2, "shared_bias": True},
                ],
            },
            "loss": {"kind": "mse", "samples": "mean"},
            "data": [{"x": [0.5, -1.0], "y": [0.1, 0.9]}, {"x": [-0.3, 0.8], "y": [0.8, 0.2]}],
            "training": {"learning_rate": 0.7, "order": "sequential"},
        }
    )


@pytest.mark.parametrize("problem", ["mazur", "two_samples"])
def test_sequential_changes_hidden_updates_only(problem, request):
    sequential = request.getfixturevalue("mazur") if problem == "mazur" else two_samples()
    sequential = with_training(sequential, order="sequential")
    simultaneous = with_training(sequential, order="simultaneous")
    seq, sim = numeric.step(sequential).parameters(), numeric.step(simultaneous).parameters()
    for name in sequential.trained_keys:
        if name.layer == 2:
            assert seq[name] == sim[name], name
        else:
            assert seq[name] != sim[name], name


def test_sequential_hidden_delta_uses_the_updated_weights_above():
    """δ1_s = f'(z1_s) ⊙ (W2_newᵀ δ2_s) per sample, combined over the samples like the gradients."""
    problem = two_samples()
    result = numeric.evaluate(problem)
    w2_new = np.array(numeric.step(problem).with_parameters({}).layers[1].weights)
    w1 = np.array(problem.layers[0].weights)
    gradient = np.zeros_like(w1)
    for sample, data in zip(result.samples, problem.data):
        delta1 = sample.da_dz[0] * (w2_new.T @ sample.dloss_dz[1])
        gradient += np.outer(delta1, data.x) / len(problem.data)
    w1_new = np.array(numeric.step(problem).layers[0].weights)
    assert w1_new == approx(w1 - 0.7 * gradient, abs=1e-15)
    step_grads = numeric.step_gradients(problem)
    assert [step_grads[K(f"W1[{j},{i}]")] for j in (1, 2, 3) for i in (1, 2)] == approx(gradient.ravel(), abs=1e-15)


def test_sequential_equals_simultaneous_when_the_layer_above_is_fixed():
    problem = with_training(two_samples(), update=(K("W1[1,1]"), K("W1[2,2]"), K("b1[3]")))
    sequential = numeric.step(problem).parameters()
    simultaneous = numeric.step(with_training(problem, order="simultaneous")).parameters()
    assert sequential == simultaneous
    assert numeric.step_gradients(problem) == numeric.evaluate(problem).grads


def test_numeric_does_not_import_the_symbolic_engine():
    source = (numeric.__file__ and open(numeric.__file__, encoding="utf-8").read()) or ""
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not any("sympy" in line for line in imports)
    # tracer.numeric: the twins' own exact arithmetic (tracer.numeric.exact: fractions and mpmath, no SymPy)
    # tracer.keys: the typed keys its results are keyed by (rank 1, below the engine)
    assert all(line.split()[1] in ("__future__", "functools", "math", "dataclasses", "typing", "numpy", "tracer.keys", "tracer.spec", "tracer.numeric")
               for line in imports)
    exact_source = open(numeric.__file__.replace("mlp.py", "exact.py"), encoding="utf-8").read()
    assert not any("sympy" in line or "tracer.core" in line for line in exact_source.splitlines() if line.startswith(("import ", "from ")))


def test_fixed_parameters_stay_even_when_the_gradient_is_not_finite():
    problem = one_layer("identity", [[0.0], [0.0]], [0.0, 1.0], [1.0], [1.0, 0.0], loss={"kind": "cross_entropy"})
    problem = with_training(problem, update=(K("W1[2,1]"),))
    assert numeric.evaluate(problem).grads[K("W1[1,1]")] == -math.inf  # −y/o at o = 0
    after = numeric.step(problem).parameters()
    assert after[K("W1[1,1]")] == 0.0 and after[K("b1[1]")] == 0.0
