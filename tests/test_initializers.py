"""Seeded initial weights (``weights: {init: xavier | he | uniform, seed: S}``): the draws are
torch.nn.init's definitions from numpy.random.default_rng(seed), reproducible, written into
the document's problem table and into ``to_mapping`` (so a solved file keeps its numbers)."""

import math

import numpy as np
import pytest

import tracer
from tracer.render.document import render
from tracer.spec import SpecError, from_mapping, loads, to_mapping


def _dense(inputs, layers, data=None):
    return {
        "network": {"inputs": inputs, "layers": layers},
        "loss": {"kind": "mse"},
        "data": data or [{"x": [0.5] * inputs, "y": [0.0] * layers[-1]["units"]}],
        "training": {"learning_rate": 0.1},
    }


def _weights(problem, layer=0):
    return np.array(problem.layers[layer].weights)


def test_xavier_is_glorot_uniform_within_its_bound_and_reproducible():
    raw = _dense(300, [{"units": 200, "activation": "tanh", "weights": {"init": "xavier", "seed": 1}, "bias": {"init": "zeros"}},
                       {"units": 1, "activation": "identity", "weights": {"init": "xavier", "seed": 2}}])
    w = _weights(from_mapping(raw))
    bound = math.sqrt(6 / (300 + 200))  # 0.109544512
    assert w.shape == (200, 300)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.999 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)  # the std of U(−a, a)
    assert np.array_equal(w, np.random.default_rng(1).uniform(-bound, bound, (200, 300)))
    assert np.array_equal(w, _weights(from_mapping(raw)))  # the same file, the same numbers
    assert from_mapping(raw).layers[0].bias == (0.0,) * 200


def test_he_is_kaiming_normal_with_std_sqrt_2_over_fan_in():
    raw = _dense(400, [{"units": 250, "activation": "relu", "weights": {"init": "he", "seed": 7}, "bias": 0.1}])
    w = _weights(from_mapping(raw))
    assert w.mean() == pytest.approx(0, abs=0.003)
    assert w.std() == pytest.approx(math.sqrt(2 / 400), rel=0.01)  # 0.0707106781
    assert np.array_equal(w, np.random.default_rng(7).normal(0, math.sqrt(2 / 400), (250, 400)))
    assert w[0, 0] == pytest.approx(np.random.default_rng(7).normal(0, math.sqrt(2 / 400)), abs=0)


def test_uniform_takes_torch_defaults_or_its_bounds():
    w = _weights(from_mapping(_dense(3, [{"units": 2, "activation": "sigmoid", "weights": {"init": "uniform", "seed": 0}}])))
    assert ((0 <= w) & (w < 1)).all()
    w = _weights(from_mapping(_dense(50, [{"units": 40, "activation": "sigmoid", "weights": {"init": "uniform", "seed": 0, "low": -0.5, "high": 0.5}}])))
    assert ((-0.5 <= w) & (w < 0.5)).all() and w.min() < -0.49 and w.max() > 0.49


def test_a_seed_changes_the_numbers_and_another_layer_keeps_its_own():
    first = {"units": 2, "activation": "sigmoid", "weights": {"init": "xavier", "seed": 1}}
    a = from_mapping(_dense(2, [first, {"units": 2, "activation": "sigmoid", "weights": {"init": "xavier", "seed": 5}}]))
    b = from_mapping(_dense(2, [first, {"units": 2, "activation": "sigmoid", "weights": {"init": "xavier", "seed": 6}}]))
    assert a.layers[0].weights == b.layers[0].weights
    assert a.layers[1].weights != b.layers[1].weights


def test_to_mapping_writes_the_drawn_numbers():
    problem = from_mapping(_dense(2, [{"units": 2, "activation": "sigmoid", "weights": {"init": "he", "seed": 3}, "bias": {"init": "zeros"}},
                                      {"units": 1, "activation": "sigmoid", "weights": {"init": "xavier", "seed": 4}, "bias": 0.2}]))
    mapping = to_mapping(problem)
    assert mapping["network"]["layers"][0]["weights"] == [list(r) for r in problem.layers[0].weights]
    assert mapping["network"]["layers"][0]["bias"] == [0.0, 0.0]
    assert from_mapping(mapping) == problem


def test_the_document_lists_the_drawn_values():
    problem = from_mapping(_dense(2, [{"units": 2, "activation": "sigmoid", "weights": {"init": "xavier", "seed": 1}, "bias": {"init": "zeros"}},
                                      {"units": 1, "activation": "sigmoid", "weights": {"init": "xavier", "seed": 2}}]))
    w = problem.layers[0].weights[0][0]
    assert w == pytest.approx(np.random.default_rng(1).uniform(-math.sqrt(6 / 4), math.sqrt(6 / 4)), abs=0)
    md = render(tracer.solve(problem), "md")
    assert f"{w:.9g}"[:8] in md.split("## The problem")[1].split("##")[0]  # in the parameter table


def test_conv_and_rnn_blocks_are_drawn_with_torch_fans():
    conv = {
        "network": {"input": {"channels": 2, "height": 4, "width": 4}, "layers": [
            {"type": "conv2d", "filters": 3, "kernel_size": 3, "weights": {"init": "xavier", "seed": 1}, "bias": {"init": "zeros"}},
            {"type": "flatten"}, {"type": "dense", "units": 1, "activation": "identity", "weights": {"init": "he", "seed": 2}}]},
        "loss": {"kind": "mse"}, "data": [{"x": [[[0.1] * 4] * 4] * 2, "y": [1.0]}], "training": {"learning_rate": 0.1},
    }
    p = from_mapping(conv)
    bound = math.sqrt(6 / (2 * 9 + 3 * 9))
    assert np.array_equal(np.array(p.layers[0].weights), np.random.default_rng(1).uniform(-bound, bound, (3, 2, 3, 3)).reshape(3, 18))
    assert p.layers[0].bias == (0.0, 0.0, 0.0)
    rnn = {
        "network": {"inputs": 2, "layers": [
            {"type": "rnn", "units": 3, "weights": {"init": "xavier", "seed": 1}, "recurrent": {"init": "he", "seed": 2}, "bias": {"init": "zeros"}},
            {"type": "dense", "units": 1, "activation": "identity", "weights": [[0.1, 0.2, 0.3]]}]},
        "loss": {"kind": "mse"}, "data": [{"x": [[1, 0], [0, 1]], "y": [1.0]}], "training": {"learning_rate": 0.1},
    }
    p = from_mapping(rnn)
    assert np.array_equal(np.array(p.layers[0].recurrent), np.random.default_rng(2).normal(0, math.sqrt(2 / 3), (3, 3)))
    assert tracer.solve(p).verification.ok


@pytest.mark.parametrize("weights, field, message", [
    ({"init": "glorot", "seed": 1}, "network.layers[0].weights.init", "one of 'xavier', 'he' or 'uniform' expected, got 'glorot'"),
    ({"init": "he"}, "network.layers[0].weights.seed", "required, missing"),
    ({"init": "he", "seed": 1, "low": -1}, "network.layers[0].weights.low", "only for init: uniform, not he"),
    ({"init": "uniform", "seed": 1, "low": 1, "high": 0}, "network.layers[0].weights.high", "must be greater than low (1), got 0"),
    ({"init": "xavier", "seed": 1, "gain": 2}, "network.layers[0].weights.gain", "unknown key 'gain' in network.layers[0].weights"),
])
def test_bad_init_blocks_name_their_field(weights, field, message):
    with pytest.raises(SpecError) as err:
        from_mapping(_dense(2, [{"units": 1, "activation": "sigmoid", "weights": weights}]), "hw.yaml")
    assert (err.value.field, err.value.message) == (field, message)
    assert str(err.value) == f"hw.yaml: {field}: {message}"


def test_a_784_32_10_network_is_a_ten_line_file():
    pixels = ", ".join(f"{(i * 37 % 100) / 100:g}" for i in range(784))
    text = f"""title: A 784-32-10 network, initial weights drawn
network:
  inputs: 784
  layers:
    - {{units: 32, activation: relu, weights: {{init: he, seed: 1}}, bias: {{init: zeros}}}}
    - {{units: 10, activation: softmax, weights: {{init: xavier, seed: 2}}, bias: 0}}
loss: {{kind: cross_entropy}}
data:
  - {{x: [{pixels}], label: 3}}
training: {{learning_rate: 0.1}}
"""
    assert len(text.splitlines()) == 10
    problem = loads(text, "mnist.yaml")
    assert len(problem.parameter_keys) == 784 * 32 + 32 + 32 * 10 + 10 == 25450
    assert np.array(problem.layers[0].weights).std() == pytest.approx(math.sqrt(2 / 784), rel=0.02)
    solution = tracer.solve(problem, derived_steps=1)
    assert solution.verification.ok
    assert solution.value("W1[1,1]") == problem.layers[0].weights[0][0]
