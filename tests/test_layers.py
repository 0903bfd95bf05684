"""Convolution, pooling and flatten layers (SPEC.md §8) on the generic engine: the examples'
numbers by hand, the textbook identities of a convolution's backward pass (∂L/∂K = x ⋆ δ,
∂L/∂a = δ padded ⋆ rot180(K)), max-pooling's routing, bad input named by its field, and random
networks against the independent twin and finite differences."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracer import load, solve
from tracer.cli import cli
from tracer.numeric import layers as twin
from tracer.render.document import render
from tracer.spec import SpecError, from_mapping, loads, to_mapping

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output
    return result.output


def values(solution, family: str, shape: tuple[int, ...]) -> np.ndarray:
    """A layer's nodes (``a1``, ``z1``) as an array, by asking the solution for each name."""
    out = np.zeros(shape)
    for index in np.ndindex(shape):
        out[index] = solution.value(f"{family}[{','.join(str(i + 1) for i in index)}]")
    return out


# ---------------------------------------------------------------------------
# The 4×4 example, by hand
# ---------------------------------------------------------------------------

X = np.array([[1, 0, 2, 1], [0, 1, 3, 0], [2, 1, 0, 1], [1, 3, 1, 2]], dtype=float)
K = np.array([[0.5, -0.25], [0.3, 0.6]])


def test_each_feature_map_value_is_its_sum_of_products():
    solution = solve(load(EXAMPLES / "conv_maxpool.yaml"))
    assert solution.verification.ok
    by_hand = np.array([[np.sum(X[i:i + 2, j:j + 2] * K) + 0.1 for j in range(3)] for i in range(3)])
    assert values(solution, "z1", (1, 3, 3))[0] == pytest.approx(by_hand, abs=1e-15)
    assert solution.value("z1[1,1,1]") == pytest.approx(0.5 * 1 - 0.25 * 0 + 0.3 * 0 + 0.6 * 1 + 0.1, abs=1e-15)
    out = run("solve", str(EXAMPLES / "conv_maxpool.yaml"))
    assert ("(1) z1[1,1,1] = W1[1,1,1,1] · x[1,1,1] + W1[1,1,1,2] · x[1,1,2] + W1[1,1,2,1] · x[1,2,1] + W1[1,1,2,2] · x[1,2,2] + b1[1]"
            " = 0.5 × 1 + (−0.25) × 0 + 0.3 × 0 + 0.6 × 1 + 0.1 = 1.2") in out


def test_max_pooling_takes_the_largest_and_routes_the_gradient_back_to_it():
    solution = solve(load(EXAMPLES / "conv_maxpool.yaml"))
    a1 = values(solution, "a1", (1, 3, 3))[0]
    pooled = values(solution, "a2", (1, 2, 2))[0]
    assert pooled == pytest.approx(np.array([[a1[i:i + 2, j:j + 2].max() for j in range(2)] for i in range(2)]), abs=0)
    assert pooled == pytest.approx(np.array([[1.7, 2.2], [2.95, 2.2]]), abs=1e-15)
    delta = values(solution, "dloss/da2", (1, 2, 2))[0]
    # a1[1,2,3] = 2.2 is the largest of two overlapping windows: it gets both their gradients
    assert solution.value("dloss/da1[1,2,3]") == pytest.approx(delta[0, 1] + delta[1, 1], abs=1e-15)
    assert solution.value("dloss/da1[1,1,2]") == pytest.approx(delta[0, 0], abs=1e-15)  # 1.7 wins window (1,1)
    assert solution.value("dloss/da1[1,2,2]") == 0  # 0.15 wins no window
    assert solution.value("dloss/da1[1,3,1]") == pytest.approx(delta[1, 0], abs=1e-15)


def test_the_published_shape_of_the_numbers():
    """The loss and one update, against a softmax over the pooled values computed here."""
    solution = solve(load(EXAMPLES / "conv_maxpool.yaml"))
    pooled = np.array([1.7, 2.2, 2.95, 2.2])
    z = np.array([[0.2, -0.3, 0.4, 0.1], [-0.1, 0.3, -0.2, 0.2]]) @ pooled + [0.0, 0.1]
    p = np.exp(z) / np.exp(z).sum()
    assert solution.value("loss") == pytest.approx(-math.log(p[0]), rel=1e-14)
    assert solution.value("dloss/dz4[1]") == pytest.approx(p[0] - 1, rel=1e-13)
    assert solution.value("dloss/dW4[2,3]") == pytest.approx(p[1] * 2.95, rel=1e-13)
    assert solution.value("W1[1,1,1,1]'") == pytest.approx(0.5 - 0.1 * solution.value("dloss/dW1[1,1,1,1]"), rel=1e-15)
    assert solution.value("loss_after") < solution.value("loss")


def test_a_kernel_gradient_is_the_valid_cross_correlation_of_the_input_with_delta():
    solution = solve(load(EXAMPLES / "conv_maxpool.yaml"))
    delta = values(solution, "dloss/dz1", (1, 3, 3))[0]
    expected = np.array([[np.sum(X[m:m + 3, n:n + 3] * delta) for n in range(2)] for m in range(2)])
    assert values(solution, "dloss/dW1", (1, 1, 2, 2))[0, 0] == pytest.approx(expected, abs=1e-14)
    assert solution.value("dloss/db1[1]") == pytest.approx(delta.sum(), abs=1e-15)
    out = run("ask", str(EXAMPLES / "conv_maxpool.yaml"), "dloss/dW1[1,1,2,2]")
    assert "∂loss/∂W1[1,1,2,2] = ∂loss/∂z1[1,1,1] · ∂z1[1,1,1]/∂W1[1,1,2,2] + ∂loss/∂z1[1,1,2] · ∂z1[1,1,2]/∂W1[1,1,2,2] + " in out
    assert "(87) ∂z1[1,1,2]/∂W1[1,1,2,2] = x[1,2,3] = 3" in out


TWO_CONVS = {
    "network": {
        "input": {"channels": 1, "height": 5, "width": 5},
        "layers": [
            {"type": "conv2d", "filters": 1, "kernel_size": 3, "activation": "identity",
             "weights": [[[[0.2, -0.1, 0.3], [0.0, 0.4, -0.2], [0.1, 0.2, -0.3]]]], "bias": [0.05]},
            {"type": "conv2d", "filters": 1, "kernel_size": 2, "activation": "tanh",
             "weights": [[[[0.7, -0.4], [0.25, 0.6]]]], "bias": [-0.1]},
            {"type": "flatten"},
            {"units": 1, "activation": "sigmoid", "weights": [[0.5, -0.3, 0.8, 0.2]], "bias": [0.0]},
        ],
    },
    "loss": {"kind": "mse"},
    "data": [{"x": [[[0.1, 0.7, 0.3, 0.9, 0.2], [0.5, 0.2, 0.8, 0.1, 0.6], [0.9, 0.4, 0.0, 0.7, 0.3],
                     [0.2, 0.8, 0.6, 0.3, 0.5], [0.7, 0.1, 0.4, 0.9, 0.0]]], "y": [1.0]}],
    "training": {"learning_rate": 0.1, "steps": 1},
}


def test_the_gradient_of_a_feature_map_is_the_full_convolution_with_the_rotated_kernel():
    """∂L/∂a1 = δ2 zero-padded by k − 1, cross-correlated with rot180(K2): why the kernel is rotated."""
    solution = solve(from_mapping(TWO_CONVS))
    assert solution.verification.ok
    delta = values(solution, "dloss/dz2", (1, 2, 2))[0]
    kernel = np.array([[0.7, -0.4], [0.25, 0.6]])
    padded = np.pad(delta, 1)
    rotated = np.rot90(kernel, 2)
    expected = np.array([[np.sum(padded[i:i + 2, j:j + 2] * rotated) for j in range(3)] for i in range(3)])
    assert values(solution, "dloss/da1", (1, 3, 3))[0] == pytest.approx(expected, abs=1e-15)


def test_stride_padding_and_average_pooling():
    solution = solve(load(EXAMPLES / "conv_stride_padding.yaml"))
    assert solution.verification.ok
    raw = yaml.safe_load((EXAMPLES / "conv_stride_padding.yaml").read_text(encoding="utf-8"))
    x = np.pad(np.array(raw["data"][0]["x"]), ((0, 0), (1, 1), (1, 1)))
    kernels = np.array(raw["network"]["layers"][0]["weights"])
    z = np.array([[[np.sum(x[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3] * kernels[f]) + [0.05, -0.05][f] for j in range(3)]
                   for i in range(3)] for f in range(2)])
    assert values(solution, "z1", (2, 3, 3)) == pytest.approx(z, abs=1e-15)
    assert values(solution, "a2", (2, 1, 1)).ravel() == pytest.approx(np.tanh(z).mean(axis=(1, 2)), abs=1e-15)
    # average pooling shares the gradient: each of the nine inputs gets a ninth
    share = solution.value("dloss/da2[1,1,1]") / 9
    assert values(solution, "dloss/da1", (2, 3, 3))[0] == pytest.approx(np.full((3, 3), share), abs=1e-16)
    out = run("solve", str(EXAMPLES / "conv_stride_padding.yaml"))
    assert "(1) z1[1,1,1] = W1[1,1,1,1] · 0 + W1[1,1,1,2] · 0" in out  # the padding reads zeros
    assert "∂a2[1,1,1]/∂a1[1,1,1] = 1/9" in out


def test_json_keeps_each_parameters_shape():
    out = json.loads(run("solve", str(EXAMPLES / "conv_stride_padding.yaml"), "-f", "json"))
    step = out["steps"][0]
    assert np.array(step["gradients"]["W1"]).shape == (2, 2, 3, 3)
    assert np.array(step["params_after"]["W4"]).shape == (1, 2)
    assert "W2" not in step["gradients"] and "W3" not in step["gradients"]  # pooling and flatten have none
    layers = step["forward"][0]["layers"]
    assert np.array(layers[0]["z"]).shape == (2, 3, 3) and np.array(layers[1]["a"]).shape == (2, 1, 1)
    assert layers[2] == {} and out["verification"]["mismatches"] == []


def test_the_problem_round_trips_through_its_mapping():
    for name in ("conv_maxpool", "conv_stride_padding"):
        problem = load(EXAMPLES / f"{name}.yaml")
        assert from_mapping(to_mapping(problem), problem.source) == problem


# ---------------------------------------------------------------------------
# Bad input: one line naming the field
# ---------------------------------------------------------------------------


def _with(change) -> dict:
    raw = yaml.safe_load((EXAMPLES / "conv_maxpool.yaml").read_text(encoding="utf-8"))
    change(raw)
    return raw


BAD = [
    (lambda r: r["network"]["layers"][0].update(kernel_size=5, weights=[[[[0.0] * 5] * 5]]),
     "network.layers[0].kernel_size: kernel_size 5 is larger than the padded input (4 + 2·0 = 4)"),
    (lambda r: r["network"]["layers"][1].update(padding=2),
     "network.layers[1].padding: padding 2 is more than half the window (size 2): at most 1, as torch"),
    (lambda r: r["network"]["layers"][0].update(dilation=0),
     "network.layers[0].dilation: a whole number ≥ 1 or [rows, columns] of them expected, got 0"),
    (lambda r: r["network"]["layers"][0].update(dilation=4),
     "network.layers[0].kernel_size: kernel_size 2 with dilation 4 spans 5, which is larger than the padded input (4 + 2·0 = 4)"),
    (lambda r: r["network"]["layers"][0].update(stride=[1, 2, 3]),
     "network.layers[0].stride: a whole number ≥ 1 or [rows, columns] of them expected, got [1, 2, 3]"),
    (lambda r: r["network"]["layers"][1].update(padding=[0, -1]),
     "network.layers[1].padding: a whole number ≥ 0 or [rows, columns] of them expected, got [0, -1]"),
    (lambda r: r["network"]["layers"][1].update(type="avgpool2d", dilation=2),
     "network.layers[1].dilation: avgpool2d takes no dilation (torch's avg_pool2d has none); maxpool2d does"),
    (lambda r: r["network"]["layers"][1].update(ceil_mode="yes"),
     "network.layers[1].ceil_mode: "),
    (lambda r: r["network"]["layers"][0].update(kernel_size=[2, 3]),
     "network.layers[0].weights[0][0]: a 2×3 kernel expected (kernel_size), got a row of 2"),
    (lambda r: r["network"]["layers"].pop(2),
     "network.layers[2]: a dense layer needs a flat input; the layer below gives 1×2×2: put a flatten layer before it"),
    (lambda r: r["data"][0].update(x=[[[1, 0, 2, 1], [0, 1, 3, 0], [2, 1, 0, 1]]]),
     "data[0].x[0]: a 4×4 nested list expected ([channel][row][column]), got 3 entries"),
    (lambda r: r["data"][0].update(x=[1, 0, 2]),
     "data[0].x: a 1×4×4 nested list expected ([channel][row][column]), got 3 entries"),
    (lambda r: r["network"]["layers"][0].update(weights=[[[[0.5, -0.25]]]]),
     "network.layers[0].weights[0][0]: a 2×2 kernel expected (kernel_size), got 1 rows"),
    (lambda r: r["network"]["layers"][0].update(filters=2),
     "network.layers[0].weights: 2 kernels expected (filters), got 1"),
    (lambda r: r["network"]["layers"][0].update(type="conv3d"),
     "network.layers[0].type: one of dense, conv2d, maxpool2d, avgpool2d, flatten, rnn expected, got 'conv3d'"),
    (lambda r: r["network"]["layers"][0].update(kernal_size=2),
     "network.layers[0].kernal_size: unknown key 'kernal_size'"),
    (lambda r: r["network"]["layers"].pop(),
     "network.layers[2]: the last layer must be dense"),
    (lambda r: (r["data"][0].pop("label"), r["data"][0].update(y=[[1], [0]])),
     "data[0].y[0]: a number expected, got [1]"),
    (lambda r: r["network"].update(inputs=16),
     "network.input: give input: {channels, height, width} (an image) or inputs: n, not both"),
]


@pytest.mark.parametrize("change,message", BAD, ids=[m.split(":")[0] + str(k) for k, (_, m) in enumerate(BAD)])
def test_bad_layers_exit_2_naming_the_field(change, message, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_with(change)), encoding="utf-8")
    out = run("solve", str(path), code=2)
    assert message in out, out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1
    with pytest.raises(SpecError):
        from_mapping(_with(change))


def test_options_a_conv_network_does_not_take_exit_2():
    out = run("solve", str(EXAMPLES / "conv_maxpool.yaml"), "--form", "matrix", "-f", "text", code=2)
    assert "--form matrix: md, tex or pdf" in out
    run("solve", str(EXAMPLES / "conv_maxpool.yaml"), "--notation", "mazur", code=2)
    out = run("ask", str(EXAMPLES / "conv_maxpool.yaml"), "x[1,5,1]", code=2)
    assert "index out of range" in out


def test_a_wrong_number_of_the_engine_is_a_mismatch(monkeypatch):
    original = twin.forward

    def shifted(mapping, sample):
        out = original(mapping, sample)
        z = list(out.z)
        z[0] = z[0] + 1e-6
        return type(out)(tuple(z), out.a, out.output, out.target, out.loss_terms, out.loss)

    monkeypatch.setattr(twin, "forward", shifted)
    solution = solve(load(EXAMPLES / "conv_maxpool.yaml"))
    assert not solution.verification.ok
    assert solution.verification.mismatches[0].quantity.startswith("z1[1,1,1]")


# ---------------------------------------------------------------------------
# Random conv/pool networks
# ---------------------------------------------------------------------------


@st.composite
def conv_networks(draw):
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    channels = draw(st.integers(1, 2))
    size = draw(st.sampled_from([4, 5, 6]))
    k = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 1))
    span = size + 2 * padding - k
    stride = draw(st.sampled_from([s for s in (1, 2) if span % s == 0]))
    out = span // stride + 1
    filters = draw(st.integers(1, 2))
    layers = [{"type": "conv2d", "filters": filters, "kernel_size": k, "stride": stride, "padding": padding,
               "activation": draw(st.sampled_from(["tanh", "sigmoid", "identity", "softplus"])),
               "weights": rng.normal(0, 0.5, (filters, channels, k, k)).round(3).tolist(),
               "bias": rng.normal(0, 0.1, filters).round(3).tolist()}]
    if out >= 2 and draw(st.booleans()):
        pool = draw(st.sampled_from([p for p in (1, 2) if (out - p) % p == 0 or p == 1] or [1]))
        layers.append({"type": draw(st.sampled_from(["maxpool2d", "avgpool2d"])), "size": pool, "stride": 1})
        out = out - pool + 1
    layers.append({"type": "flatten"})
    units = draw(st.integers(1, 3))
    width = filters * out * out
    layers.append({"units": units, "activation": "softmax" if units > 1 else "sigmoid",
                   "weights": rng.normal(0, 0.5, (units, width)).round(3).tolist(), "bias": [0.0] * units})
    loss = {"kind": "cross_entropy"} if units > 1 else {"kind": "mse"}
    target = {"label": int(rng.integers(units))} if units > 1 else {"y": [0.8]}
    return {
        "network": {"input": {"channels": channels, "height": size, "width": size}, "layers": layers},
        "loss": loss,
        "data": [{"x": rng.uniform(-1, 1, (channels, size, size)).round(3).tolist(), **target}],
        "training": {"learning_rate": 0.1, "steps": 1},
    }


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(conv_networks())
def test_random_conv_networks_agree_with_the_twin_and_finite_differences(mapping):
    solution = solve(from_mapping(mapping))
    assert solution.verification.ok, solution.verification.mismatches[:3]
    fd = twin.finite_differences(mapping)
    for key, gradient in solution.steps[0].gradients.items():
        array = fd[f"W{key.layer}" if key.kind == "W" else f"b{key.layer}"]
        reference = array[tuple(i - 1 for i in key.index)] if key.index else float(array)
        assert gradient == pytest.approx(reference, rel=1e-6, abs=1e-8), key


# ---------------------------------------------------------------------------
# A recurrent layer, many-to-one: backpropagation through time
# ---------------------------------------------------------------------------

RNN = EXAMPLES / "rnn_many_to_one.yaml"
W_IN = np.array([[0.5], [-0.3]])
U = np.array([[0.1, -0.4], [0.6, 0.2]])
B = np.array([0.0, 0.1])
XS = [1.0, 0.5, -1.0]


def _states() -> list[np.ndarray]:
    h = [np.zeros(2)]
    for x in XS:
        h.append(np.tanh(W_IN[:, 0] * x + U @ h[-1] + B))
    return h


def test_the_forward_pass_step_by_step_from_the_initial_state():
    solution = solve(load(RNN))
    assert solution.verification.ok
    h = _states()
    for t in (1, 2, 3):
        assert [solution.value(f"a1[{t},{j}]") for j in (1, 2)] == pytest.approx(h[t].tolist(), abs=1e-15)
    assert solution.value("a1[0,1]") == 0.0  # the initial state
    out = 1 / (1 + math.exp(-(0.8 * h[3][0] - 0.5 * h[3][1] + 0.2)))
    assert solution.value("a2[1]") == pytest.approx(out, rel=1e-14)
    text = run("solve", str(RNN))
    assert "(1) z1[1,1] = W1[1,1] · x[1,1] + U1[1,1] · a1[0,1] + U1[1,2] · a1[0,2] + b1[1] = 0.5 × 1 + 0.1 × 0 + (−0.4) × 0 + 0 = 0.5" in text


def test_backpropagation_through_time_sums_each_shared_weight_over_the_steps():
    """δ_t = ∂L/∂z1[t] = f'(z_t) ⊙ (Uᵀ δ_{t+1} + the output's share at the last step), and
    ∂L/∂U = Σ_t δ_t h_{t−1}ᵀ, ∂L/∂W = Σ_t δ_t x_tᵀ — computed here, against the document's numbers."""
    solution = solve(load(RNN))
    h = _states()
    out = 1 / (1 + math.exp(-(0.8 * h[3][0] - 0.5 * h[3][1] + 0.2)))
    top = -(1.0 - out) * out * (1 - out) * np.array([0.8, -0.5])  # ∂L/∂h_3 from the output
    deltas = {}
    upstream = top
    for t in (3, 2, 1):
        deltas[t] = (1 - h[t] ** 2) * upstream
        upstream = U.T @ deltas[t]
    for t in (1, 2, 3):
        assert [solution.value(f"dloss/dz1[{t},{j}]") for j in (1, 2)] == pytest.approx(deltas[t].tolist(), rel=1e-12)
    dU = sum(np.outer(deltas[t], h[t - 1]) for t in (1, 2, 3))
    dW = sum(np.outer(deltas[t], [XS[t - 1]]) for t in (1, 2, 3))
    assert values(solution, "dloss/dU1", (2, 2)) == pytest.approx(dU, rel=1e-12, abs=1e-15)
    assert values(solution, "dloss/dW1", (2, 1)) == pytest.approx(dW, rel=1e-12)
    text = run("ask", str(RNN), "dloss/dU1[1,2]")
    assert ("∂loss/∂U1[1,2] = ∂loss/∂z1[1,1] · ∂z1[1,1]/∂U1[1,2] + ∂loss/∂z1[2,1] · ∂z1[2,1]/∂U1[1,2] + "
            "∂loss/∂z1[3,1] · ∂z1[3,1]/∂U1[1,2]") in text
    # a state between two steps gets its gradient from the next step only (many-to-one)
    assert "∂loss/∂a1[2,1] = ∂loss/∂z1[3,1] · ∂z1[3,1]/∂a1[2,1] + ∂loss/∂z1[3,2] · ∂z1[3,2]/∂a1[2,1]" in run("solve", str(RNN))


def test_an_rnn_round_trips_and_its_json_has_u():
    problem = load(RNN)
    assert from_mapping(to_mapping(problem), problem.source) == problem
    out = json.loads(run("solve", str(RNN), "-f", "json"))
    step = out["steps"][0]
    assert list(step["gradients"]) == ["W1", "U1", "b1", "W2", "b2"]
    assert np.array(step["gradients"]["U1"]).shape == (2, 2)
    assert np.array(step["forward"][0]["layers"][0]["a"]).shape == (3, 2)


RNN_BAD = [
    (lambda r: r["data"].append({"x": [[1.0], [0.5]], "y": [0.0]}),
     "data: every sample's sequence must have the same number of time steps, got [2, 3]"),
    (lambda r: r["data"][0].update(x=[[1.0, 2.0], [0.5], [-1.0]]), "data[0].x[0]: 1 numbers expected (network.inputs), got 2 entries"),
    (lambda r: r["network"]["layers"][0].update(outputs="sequence"), "data[0].y: 3 targets expected (one per time step), got 1"),
    (lambda r: r["network"]["layers"][0].update(recurrent=[[0.1, -0.4]]), "network.layers[0].recurrent: 2 rows expected (units), got 1"),
    (lambda r: r["network"]["layers"].insert(0, {"units": 1, "activation": "tanh", "weights": [[1.0]]}),
     "network.layers[1]: an rnn layer reads a sequence: it must be the first layer, with network.inputs (numbers per time step), "
     "or stand directly above an rnn with outputs: sequence"),
    (lambda r: r["network"]["layers"].insert(1, dict(r["network"]["layers"][0])),  # on the last state only
     "network.layers[1]: an rnn layer reads a sequence: it must be the first layer"),
]


@pytest.mark.parametrize("change,message", RNN_BAD, ids=[str(k) for k in range(len(RNN_BAD))])
def test_bad_rnn_exits_2_naming_the_field(change, message, tmp_path):
    raw = yaml.safe_load(RNN.read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = run("solve", str(path), code=2)
    assert message in out, out
    assert "Traceback" not in out


@st.composite
def rnn_networks(draw):
    """One rnn layer or two stacked, many-to-one or a loss at every step (its outputs summed or
    averaged per step), into a dense output."""
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    units, inputs, steps = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 4))
    outputs = draw(st.integers(1, 2))
    stacked, sequence = draw(st.booleans()), draw(st.booleans())

    def cell(units: int, fan_in: int, returns: str) -> dict:
        return {"type": "rnn", "units": units, "activation": draw(st.sampled_from(["tanh", "sigmoid", "identity"])),
                "weights": rng.normal(0, 0.6, (units, fan_in)).round(3).tolist(),
                "recurrent": rng.normal(0, 0.6, (units, units)).round(3).tolist(),
                "bias": rng.normal(0, 0.1, units).round(3).tolist(),
                "initial_state": rng.normal(0, 0.3, units).round(3).tolist(), "outputs": returns}

    layers = [cell(units, inputs, "sequence" if stacked or sequence else "last")]
    if stacked:
        upper = draw(st.integers(1, 3))
        layers.append(cell(upper, units, "sequence" if sequence else "last"))
        units = upper
    layers.append({"units": outputs, "activation": "softmax" if outputs > 1 else "sigmoid",
                   "weights": rng.normal(0, 0.6, (outputs, units)).round(3).tolist(), "bias": [0.0] * outputs})
    loss = {"kind": "cross_entropy"} if outputs > 1 else {"kind": "mse"}
    loss["outputs"] = draw(st.sampled_from(["sum", "mean"]))

    def target() -> dict:
        if not sequence:
            return {"label": 1} if outputs > 1 else {"y": [0.3]}
        if outputs > 1:
            return {"y": [np.eye(outputs)[int(rng.integers(outputs))].tolist() for _ in range(steps)]}
        return {"y": rng.uniform(0, 1, (steps, 1)).round(3).tolist()}

    return {
        "network": {"inputs": inputs, "layers": layers},
        "loss": loss,
        "data": [{"x": rng.uniform(-1, 1, (steps, inputs)).round(3).tolist(), **target()} for _ in range(draw(st.integers(1, 2)))],
        "training": {"learning_rate": 0.1, "steps": 1},
    }


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(rnn_networks())
def test_random_rnns_agree_with_the_twin_and_finite_differences(mapping):
    solution = solve(from_mapping(mapping))
    assert solution.verification.ok, solution.verification.mismatches[:3]
    fd = twin.finite_differences(mapping)
    for key, gradient in solution.steps[0].gradients.items():
        array = fd[f"{key.kind}{key.layer}"]
        reference = array[tuple(i - 1 for i in key.index)] if key.index else float(array)
        assert gradient == pytest.approx(reference, rel=1e-6, abs=1e-8), key


def test_the_random_rnns_cover_stacks_sequences_and_the_mean():
    """The property test above sees what it claims to: stacked layers, a loss at every step, mean."""
    seen = set()

    @settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(rnn_networks())
    def collect(mapping):
        layers = mapping["network"]["layers"]
        seen.add((sum(l.get("type") == "rnn" for l in layers), layers[-2]["outputs"], mapping["loss"]["outputs"]))

    collect()
    assert {n for n, _, _ in seen} == {1, 2} and {o for _, o, _ in seen} == {"last", "sequence"}
    assert (2, "sequence", "mean") in seen or (1, "sequence", "mean") in seen


SEQUENCE = EXAMPLES / "rnn_sequence.yaml"


def test_a_loss_at_every_step_sends_each_state_two_gradients():
    """∂L/∂h_t = W2ᵀ (o_t − y_t) + Uᵀ δ_{t+1}: from its own step's output and from the next step."""
    solution = solve(load(SEQUENCE))
    assert solution.verification.ok
    h = _states()
    W2, targets = np.array([0.8, -0.5]), [0.5, 0.0, -0.5]
    outs = [W2 @ h[t] + 0.2 for t in (1, 2, 3)]
    assert [solution.value(f"a2[{t},1]") for t in (1, 2, 3)] == pytest.approx(outs, abs=1e-15)
    assert solution.value("loss") == pytest.approx(sum((o - y) ** 2 / 2 for o, y in zip(outs, targets)), rel=1e-14)
    deltas, upstream = {}, np.zeros(2)
    for t in (3, 2, 1):
        upstream = upstream + W2 * (outs[t - 1] - targets[t - 1])
        deltas[t] = (1 - h[t] ** 2) * upstream
        assert [solution.value(f"dloss/da1[{t},{j}]") for j in (1, 2)] == pytest.approx(upstream.tolist(), rel=1e-12)
        upstream = U.T @ deltas[t]
    dW2 = sum((outs[t - 1] - targets[t - 1]) * h[t] for t in (1, 2, 3))
    assert [solution.value(f"dloss/dW2[1,{j}]") for j in (1, 2)] == pytest.approx(dW2.tolist(), rel=1e-12)
    assert solution.value("y[3,1]") == -0.5 and solution.value("loss[2,1]") == pytest.approx(outs[1] ** 2 / 2, rel=1e-13)
    out = run("solve", str(SEQUENCE))
    assert "∂loss/∂a1[2,1] = ∂loss/∂z1[3,1] · ∂z1[3,1]/∂a1[2,1] + ∂loss/∂z1[3,2] · ∂z1[3,2]/∂a1[2,1] + ∂loss/∂z2[2,1] · ∂z2[2,1]/∂a1[2,1]" in out
    problem = load(SEQUENCE)
    assert from_mapping(to_mapping(problem), problem.source) == problem


SEQUENCE_MEAN = {
    "title": "Two outputs at every step, their terms averaged",
    "network": {"inputs": 1, "layers": [
        {"type": "rnn", "units": 2, "weights": [[0.5], [-0.3]], "recurrent": [[0.1, -0.4], [0.6, 0.2]],
         "bias": [0.0, 0.1], "outputs": "sequence"},
        {"units": 2, "activation": "identity", "weights": [[0.8, -0.5], [0.3, 0.4]], "bias": [0.2, -0.1]}]},
    "loss": {"kind": "mse", "factor": 0.5, "outputs": "mean"},
    "data": [{"x": [[1.0], [0.5], [-1.0]], "y": [[0.5, 0.1], [0.0, 0.2], [-0.5, 0.3]]}],
    "training": {"learning_rate": 0.2, "steps": 1},
}


def test_a_sequence_loss_averages_each_steps_outputs_and_sums_the_steps():
    """loss = Σ_t (1/K) Σ_k ½(y[t,k] − o[t,k])², K = 2: each step's two terms averaged, the steps
    added (not divided by T as well); ∂loss/∂o[t,k] = (o − y)/K, and BPTT as before."""
    solution = solve(from_mapping(SEQUENCE_MEAN))
    assert solution.verification.ok
    h = _states()
    W2, b2 = np.array([[0.8, -0.5], [0.3, 0.4]]), np.array([0.2, -0.1])
    targets = np.array([[0.5, 0.1], [0.0, 0.2], [-0.5, 0.3]])
    outs = np.array([W2 @ h[t] + b2 for t in (1, 2, 3)])
    by_hand = sum(sum((outs[t, k] - targets[t, k]) ** 2 / 2 for k in range(2)) / 2 for t in range(3))
    assert solution.value("loss") == pytest.approx(by_hand, rel=1e-14)
    assert solution.value("loss") == pytest.approx(0.079733465, abs=1e-9)
    assert solution.value("dloss/da2[3,2]") == pytest.approx((outs[2, 1] - targets[2, 1]) / 2, rel=1e-13)
    deltas, upstream = {}, np.zeros(2)
    for t in (3, 2, 1):
        upstream = upstream + W2.T @ ((outs[t - 1] - targets[t - 1]) / 2)
        deltas[t] = (1 - h[t] ** 2) * upstream
        upstream = U.T @ deltas[t]
    dU = sum(np.outer(deltas[t], h[t - 1]) for t in (1, 2, 3))
    assert values(solution, "dloss/dU1", (2, 2)) == pytest.approx(dU, rel=1e-12)
    fd = twin.finite_differences(SEQUENCE_MEAN)
    assert values(solution, "dloss/dW2", (2, 2)) == pytest.approx(fd["W2"], rel=1e-7)
    assert values(solution, "dloss/dU1", (2, 2)) == pytest.approx(fd["U1"], rel=1e-6)
    text = render_text(SEQUENCE_MEAN)
    assert ("loss = (loss[1,1] + loss[1,2])/2 + (loss[2,1] + loss[2,2])/2 + (loss[3,1] + loss[3,2])/2 = "
            "(0.0141761456 + 0.00984414693)/2 + ") in text
    assert "∂loss/∂a2[3,2] = (−(y[3,2] − a2[3,2]))/2 = " in text
    assert "averaged over the outputs of each time step, the steps summed" in solution.problem.describe()
    assert from_mapping(to_mapping(solution.problem)) == solution.problem


def render_text(mapping: dict) -> str:
    from tracer.render.document import render

    return render(solve(from_mapping(mapping)), "text")


SEQUENCE_BAD = [
    (lambda r: r["data"][0].update(y=[[0.5], [0.0]]), "data[0].y: 3 targets expected (one per time step), got 2"),
    (lambda r: r["data"][0].update(y=[[0.5, 1.0], [0.0], [1.0]]), "data[0].y[0]: 1 numbers expected (units of the output layer)"),
    (lambda r: r["network"]["layers"].insert(1, {"type": "flatten"}), "network.layers[1]: above an rnn with outputs: sequence only dense layers"),
]


@pytest.mark.parametrize("change,message", SEQUENCE_BAD, ids=[str(k) for k in range(len(SEQUENCE_BAD))])
def test_bad_sequences_exit_2_naming_the_field(change, message, tmp_path):
    raw = yaml.safe_load(SEQUENCE.read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = run("solve", str(path), code=2)
    assert message in out, out


# ---------------------------------------------------------------------------
# The slips of these layers, made for real (tracer quiz's wrong options)
# ---------------------------------------------------------------------------


def _wrong(solution, name: str, mistake: str) -> float:
    from tracer.teach.mistakes import MistakenSolutions

    values = {w.mistake.key: w.value for w in MistakenSolutions(solution).wrong_values(name)}
    return values[mistake]


def test_the_gradient_sent_to_every_pooled_input():
    """Each 2×2 window's δ to all four of its inputs (ReLU open everywhere): db1 = 4 · Σ δ2."""
    solution = solve(load(EXAMPLES / "conv_maxpool.yaml"))
    delta = values(solution, "dloss/da2", (1, 2, 2))
    assert np.all(values(solution, "z1", (1, 3, 3)) > 0)
    assert _wrong(solution, "dloss/db1[1]", "pooled_to_every_input") == pytest.approx(4 * delta.sum(), rel=1e-12)


def test_the_kernel_not_flipped():
    """∂loss/∂a1 = δ2 ⊛ W2 instead of δ2 ⊛ rot180(W2) (a1 is the identity of z1)."""
    solution = solve(from_mapping(TWO_CONVS))
    delta = np.pad(values(solution, "dloss/dz2", (1, 2, 2))[0], 1)
    kernel = np.array([[0.7, -0.4], [0.25, 0.6]])
    unflipped = np.array([[np.sum(delta[i:i + 2, j:j + 2] * kernel) for j in range(3)] for i in range(3)])
    assert _wrong(solution, "dloss/da1[1,2,2]", "kernel_not_flipped") == pytest.approx(unflipped[1, 1], rel=1e-12)
    x = np.array(TWO_CONVS["data"][0]["x"][0])
    assert _wrong(solution, "dloss/dW1[1,1,1,2]", "kernel_not_flipped") == pytest.approx(np.sum(x[0:3, 1:4] * unflipped), rel=1e-12)
    # (the bias's gradient sums the whole map, which flipping does not change: no such wrong option)
    from tracer.teach.mistakes import MistakenSolutions
    assert "kernel_not_flipped" not in {w.mistake.key for w in MistakenSolutions(solution).wrong_values("dloss/db1[1]")}


def test_a_time_step_forgotten():
    """Without the path through U, each state keeps only its own step's output: with a loss at
    every step db1[j] = Σ_t (1 − h_t²)·W2[j]·(o_t − y_t); many-to-one, only the last step counts."""
    h = _states()
    W2, targets = np.array([0.8, -0.5]), [0.5, 0.0, -0.5]
    outs = [W2 @ h[t] + 0.2 for t in (1, 2, 3)]
    solution = solve(load(SEQUENCE))
    expected = sum((1 - h[t] ** 2) * W2 * (outs[t - 1] - targets[t - 1]) for t in (1, 2, 3))
    assert _wrong(solution, "dloss/db1[1]", "forgot_time_step") == pytest.approx(expected[0], rel=1e-12)
    many_to_one = solve(load(RNN))
    last = many_to_one.value("dloss/dz1[3,2]")
    assert _wrong(many_to_one, "dloss/db1[2]", "forgot_time_step") == pytest.approx(last, rel=1e-12)


def test_a_quiz_of_a_conv_network_gives_its_whole_image_and_its_slips(tmp_path):
    raw = yaml.safe_load((EXAMPLES / "conv_maxpool.yaml").read_text(encoding="utf-8"))
    raw["randomize"] = {"weights": "uniform(-1, 1, step=0.25)", "ask": ["loss", "dloss/db1[1]"], "digits": 4}
    path = tmp_path / "quiz.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    run("quiz", str(path), "--count", "2", "-o", str(tmp_path / "set"), "--formats", "md,csv", "--jobs", "1")
    sheet = (tmp_path / "set" / "questions.md").read_text(encoding="utf-8")
    assert "conv2d: 1 filter 2×2, stride 1, padding 0, relu; maxpool2d 2×2, stride 1; flatten; 2 × softmax" in sheet
    assert "| 1 | 1, 0, 2, 1; 0, 1, 3, 0; 2, 1, 0, 1; 1, 3, 1, 2 | 1, 0 |" in sheet  # the image, row by row
    assert "pooled_to_every_input" in (tmp_path / "set" / "key.md").read_text(encoding="utf-8")


def test_a_network_too_large_to_work_out_is_refused_before_it_is_built():
    raw = {"network": {"input": {"channels": 1, "height": 600, "width": 600}, "layers": [
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "weights": [[[[0.1] * 3] * 3]] * 8},
        {"type": "flatten"}, {"units": 1, "activation": "sigmoid", "weights": [[0.0]]}]},
        "loss": {"kind": "mse"}, "data": [{"x": [[[0.0]]], "y": [0.0]}], "training": {"learning_rate": 0.1}}
    with pytest.raises(SpecError, match=r"network.layers\[0\]: 28,608,320 products per sample is too large to work out"):
        from_mapping(raw)


def test_the_rnn_is_drawn_unrolled_with_each_states_values_and_gradients():
    from tracer.render.document import render

    solution = solve(load(RNN))
    md = render(solution, "md")
    assert "### The recurrent layer unrolled in time" in md and "<svg" in md
    h1 = [solution.value(f"a1[1,{j}]") for j in (1, 2)]
    g1 = [solution.value(f"dloss/da1[1,{j}]") for j in (1, 2)]
    assert f"({h1[0]:.3f}, −{abs(h1[1]):.3f})" in md  # h_1 = (0.462, −0.197) on its wire
    assert f"({g1[0]:.3g}, {g1[1]:.3g})" in md  # and ∂J/∂h_1 under it
    assert r"\begin{tikzpicture}" in render(solution, "tex")
    assert "unrolled" not in render(solve(load(EXAMPLES / "conv_maxpool.yaml")), "md")



def test_the_matrix_form_is_the_feature_maps_without_an_equation_per_number():
    md = run("solve", str(EXAMPLES / "conv_maxpool.yaml"), "--form", "matrix", "-f", "md")
    assert "Layer 1 (convolution) as feature maps" in md and '<a id="eq-1">' not in md and "\\qquad (1)" not in md
    assert "x_{1,:,:} \\star \\frac{\\partial J}{\\partial z_{1,:,:}^{[1]}}" in md


@pytest.mark.skipif(not __import__("shutil").which("pdflatex"), reason="needs pdflatex")
def test_an_mnist_sized_network_in_matrix_form_compiles(tmp_path):
    """1×28×28 → 8 filters 3×3 → 2×2 max-pooling → dense 10 (13,610 parameters): its feature maps
    elided to their corners, the document without an overfull box."""
    from tracer.render.document import compile_pdf, render

    rng = np.random.default_rng(0)
    mapping = {
        "network": {"input": {"channels": 1, "height": 28, "width": 28}, "layers": [
            {"type": "conv2d", "filters": 8, "kernel_size": 3, "activation": "relu",
             "weights": rng.uniform(-0.3, 0.3, (8, 1, 3, 3)).tolist(), "bias": [0.01] * 8},
            {"type": "maxpool2d", "size": 2}, {"type": "flatten"},
            {"units": 10, "activation": "softmax", "weights": rng.uniform(-0.05, 0.05, (10, 8 * 13 * 13)).tolist(), "bias": [0.0] * 10}]},
        "loss": {"kind": "cross_entropy"}, "data": [{"x": rng.uniform(0, 1, (1, 28, 28)).tolist(), "label": 3}],
        "training": {"learning_rate": 0.1, "steps": 1},
    }
    solution = solve(from_mapping(mapping))
    assert solution.verification.ok and len(solution.problem.parameter_keys) == 13_610
    tex = render(solution, "tex", form="matrix")
    assert "\\cdots" in tex and "\\ddots" in tex  # 26×26 maps shown by their corners
    pdf = compile_pdf(tex, tmp_path / "mnist.pdf")
    assert "Overfull" not in pdf.with_suffix(".log").read_text(errors="replace")


def test_the_dense_layer_above_the_maps_in_delta_form():
    solution = solve(load(EXAMPLES / "conv_maxpool.yaml"))
    out = run("solve", str(EXAMPLES / "conv_maxpool.yaml"))
    assert "Layer 4 (dense) in matrix form, sample 1" in out and "dloss/dW4 = δ4 · a2ᵀ =" in out
    delta = np.array([solution.value(f"dloss/dz4[{k}]") for k in (1, 2)])
    pooled = np.array([solution.value(f"a2[1,{i},{j}]") for i in (1, 2) for j in (1, 2)])
    assert values(solution, "dloss/dW4", (2, 4)) == pytest.approx(np.outer(delta, pooled), rel=1e-13)


# ---------------------------------------------------------------------------
# Two rnn layers stacked: the upper one reads the lower one's states step by step
# ---------------------------------------------------------------------------

STACKED = EXAMPLES / "rnn_stacked.yaml"
W2_IN = np.array([[0.7, -0.2], [0.4, 0.6]])
U2 = np.array([[0.3, 0.1], [-0.5, 0.2]])
B2 = np.array([0.05, -0.05])
W3, B3 = np.array([0.8, -0.5]), 0.2


def _stacked_pass(W1=W_IN[:, 0], U1=U, b1=B, W2=W2_IN, U2_=U2, b2=B2, W3_=W3, b3=B3):
    """The example's forward pass by hand: h1_t = tanh(W1 x_t + U1 h1_{t−1} + b1),
    h2_t = tanh(W2 h1_t + U2 h2_{t−1} + b2), o = σ(W3 h2_3 + b3), loss = ½ (1 − o)²."""
    h1, h2 = [np.zeros(2)], [np.zeros(2)]
    for x in XS:
        h1.append(np.tanh(W1 * x + U1 @ h1[-1] + b1))
        h2.append(np.tanh(W2 @ h1[-1] + U2_ @ h2[-1] + b2))
    o = 1 / (1 + math.exp(-(W3_ @ h2[3] + b3)))
    return h1, h2, o, 0.5 * (1.0 - o) ** 2


def test_a_stacked_rnn_reads_the_states_below_at_each_step():
    solution = solve(load(STACKED))
    assert solution.verification.ok
    h1, h2, o, loss = _stacked_pass()
    for t in (1, 2, 3):
        assert [solution.value(f"a1[{t},{j}]") for j in (1, 2)] == pytest.approx(h1[t].tolist(), abs=1e-15)
        assert [solution.value(f"a2[{t},{j}]") for j in (1, 2)] == pytest.approx(h2[t].tolist(), abs=1e-15)
    assert solution.value("a2[0,2]") == 0.0  # the upper layer's initial state
    assert solution.value("a3[1]") == pytest.approx(o, rel=1e-14)
    assert solution.value("loss") == pytest.approx(loss, rel=1e-13)
    assert solution.value("a2[3,1]") == pytest.approx(-0.289561283, abs=1e-9)
    text = run("solve", str(STACKED))
    assert ("z2[1,1] = W2[1,1] · a1[1,1] + W2[1,2] · a1[1,2] + U2[1,1] · a2[0,1] + U2[1,2] · a2[0,2] + b2[1] = "
            "0.7 × 0.462117157 + (−0.2) × (−0.19737532) + 0.3 × 0 + 0.1 × 0 + 0.05 = 0.412957074") in text
    # a lower state gets its gradient from its next step (U1) and from the layer above (W2)
    assert ("∂loss/∂a1[2,1] = ∂loss/∂z1[3,1] · ∂z1[3,1]/∂a1[2,1] + ∂loss/∂z1[3,2] · ∂z1[3,2]/∂a1[2,1] + "
            "∂loss/∂z2[2,1] · ∂z2[2,1]/∂a1[2,1] + ∂loss/∂z2[2,2] · ∂z2[2,2]/∂a1[2,1] = ") in text
    assert "layer 2: rnn, 2 × tanh over 3 time steps, the last state passed on" in text


def test_backpropagation_through_a_stack_by_hand_and_by_finite_differences():
    """δ2_t = f'(z2_t) ⊙ (U2ᵀ δ2_{t+1} + the output's share at t = 3), δ1_t = f'(z1_t) ⊙ (W2ᵀ δ2_t +
    U1ᵀ δ1_{t+1}); ∂L/∂U2 = Σ_t δ2_t h2_{t−1}ᵀ, ∂L/∂W2 = Σ_t δ2_t h1_tᵀ, ∂L/∂U1 = Σ_t δ1_t h1_{t−1}ᵀ —
    and every gradient against central differences of the hand-written pass."""
    solution = solve(load(STACKED))
    h1, h2, o, _ = _stacked_pass()
    d2, d1 = {}, {}
    upstream = -(1.0 - o) * o * (1 - o) * W3
    for t in (3, 2, 1):
        d2[t] = (1 - h2[t] ** 2) * upstream
        upstream = U2.T @ d2[t]
    upstream = np.zeros(2)
    for t in (3, 2, 1):
        d1[t] = (1 - h1[t] ** 2) * (W2_IN.T @ d2[t] + upstream)
        upstream = U.T @ d1[t]
    for t in (1, 2, 3):
        assert [solution.value(f"dloss/dz2[{t},{j}]") for j in (1, 2)] == pytest.approx(d2[t].tolist(), rel=1e-12)
        assert [solution.value(f"dloss/dz1[{t},{j}]") for j in (1, 2)] == pytest.approx(d1[t].tolist(), rel=1e-12)
    assert values(solution, "dloss/dU2", (2, 2)) == pytest.approx(sum(np.outer(d2[t], h2[t - 1]) for t in (1, 2, 3)), rel=1e-12)
    assert values(solution, "dloss/dW2", (2, 2)) == pytest.approx(sum(np.outer(d2[t], h1[t]) for t in (1, 2, 3)), rel=1e-12)
    assert values(solution, "dloss/dU1", (2, 2)) == pytest.approx(sum(np.outer(d1[t], h1[t - 1]) for t in (1, 2, 3)), rel=1e-12)
    params = {"W1": W_IN[:, 0], "U1": U, "b1": B, "W2": W2_IN, "U2_": U2, "b2": B2, "W3_": W3}
    for name, value in params.items():
        for index in np.ndindex(value.shape):
            sides = []
            for sign in (1, -1):
                moved = value.copy()
                moved[index] += sign * 1e-6
                sides.append(_stacked_pass(**{**params, name: moved})[3])
            key = f"dloss/d{name.rstrip('_')}[{','.join(str(i + 1) for i in index)}{',1' if name == 'W1' else ''}]"
            if name == "W3_":
                key = f"dloss/dW3[1,{index[0] + 1}]"
            assert solution.value(key) == pytest.approx((sides[0] - sides[1]) / 2e-6, rel=1e-6, abs=1e-10), key


def test_a_stack_in_json_and_drawn_as_two_rows_of_cells():
    from tracer.render.document import render
    from tracer.render.unrolled import unrolled_layout

    out = json.loads(run("solve", str(STACKED), "-f", "json"))
    step = out["steps"][0]
    assert list(step["gradients"]) == ["W1", "U1", "b1", "W2", "U2", "b2", "W3", "b3"]
    assert np.array(step["gradients"]["U2"]).shape == (2, 2) and np.array(step["gradients"]["W2"]).shape == (2, 2)
    assert np.array(step["forward"][0]["layers"][1]["a"]) == pytest.approx(np.array(_stacked_pass()[1][1:]), abs=1e-15)
    solution = solve(load(STACKED))
    layout = unrolled_layout(solution)
    assert layout is not None and layout.collisions() == []
    cells = {p.node.id: p for p in layout.nodes if p.is_gate}
    assert sorted(cells) == ["h1s1", "h1s2", "h1s3", "h2s1", "h2s2", "h2s3"]
    assert all(cells[f"h2s{t}"].column == cells[f"h1s{t}"].column + 1 for t in (1, 2, 3))  # a cell reads the one below
    md = render(solution, "md")
    assert "### The recurrent layers unrolled in time" in md
    h2 = [solution.value(f"a2[3,{j}]") for j in (1, 2)]
    assert f"(−{abs(h2[0]):.2f}, −{abs(h2[1]):.3g})" in md  # h2_3 = (−0.29, −0.0827) on the output wire
    problem = load(STACKED)
    assert from_mapping(to_mapping(problem), problem.source) == problem


STACKED_BAD = [
    (lambda r: r["network"]["layers"][1].update(weights=[[0.7], [0.4]]),
     "network.layers[1].weights[0]: 2 numbers expected (units of layer 1), got 1"),
    (lambda r: r["network"]["layers"][0].update(outputs="last"),
     "network.layers[1]: an rnn layer reads a sequence: it must be the first layer, with network.inputs (numbers per time step), "
     "or stand directly above an rnn with outputs: sequence"),
    (lambda r: r["network"]["layers"].insert(1, {"units": 2, "activation": "tanh", "weights": [[1.0, 0.0], [0.0, 1.0]]}),
     "network.layers[2]: an rnn layer reads a sequence: it must be the first layer"),
    (lambda r: r["network"]["layers"][1].update(outputs="sequence"), "data[0].y: 3 targets expected (one per time step), got 1"),
]


@pytest.mark.parametrize("change,message", STACKED_BAD, ids=[str(k) for k in range(len(STACKED_BAD))])
def test_bad_stacks_exit_2_naming_the_field(change, message, tmp_path):
    raw = yaml.safe_load(STACKED.read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = run("solve", str(path), code=2)
    assert message in out, out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1


# ---------------------------------------------------------------------------
# The rnn layer in the matrix form: BPTT step by step with column vectors
# ---------------------------------------------------------------------------


def test_the_rnn_in_matrix_form_writes_bptt_with_numbers():
    """δ_t = f'(z_t) ⊙ (W2ᵀ δ2_t + Uᵀ δ_{t+1}) and ∂J/∂U = Σ_t δ_t h_{t−1}ᵀ, with the numbers computed
    here by hand (rnn_sequence), and the sums equal to the gradients the update uses."""
    from tracer.render.document import render

    solution = solve(load(SEQUENCE))
    h = _states()
    W2, targets = np.array([0.8, -0.5]), [0.5, 0.0, -0.5]
    outs = [W2 @ h[t] + 0.2 for t in (1, 2, 3)]
    deltas, through = {}, {4: np.zeros(2)}
    for t in (3, 2, 1):
        deltas[t] = (1 - h[t] ** 2) * (W2 * (outs[t - 1] - targets[t - 1]) + through[t + 1])
        through[t] = U.T @ deltas[t]
    (r,) = solution.steps[0].recurrent_layers
    assert r.delta[0] == pytest.approx(np.array([deltas[t] for t in (1, 2, 3)]), rel=1e-12)
    assert r.through_next[0, 1] == pytest.approx(U.T @ deltas[3], rel=1e-12)
    assert r.from_above[0, 1] == pytest.approx(W2 * outs[1], rel=1e-12)
    dU = sum(np.outer(deltas[t], h[t - 1]) for t in (1, 2, 3))
    assert r.recurrent_sum == pytest.approx(dU, rel=1e-12) and r.recurrent_gradient == pytest.approx(dU, rel=1e-12)
    assert r.weight_sum[:, 0] == pytest.approx(sum(deltas[t] * XS[t - 1] for t in (1, 2, 3)), rel=1e-12)
    md = render(solution, "md", form="matrix")
    assert "### Layer 1 (recurrent) in matrix form: backpropagation through time, sample 1" in md
    assert (r"\delta^{[1]}_{2} = f'\left(z^{[1]}_{2}\right) \odot \left(\left(W^{[2]}\right)^{\top} \delta^{[2]}_{2} + "
            r"\left(U^{[1]}\right)^{\top} \delta^{[1]}_{3}\right) = \begin{bmatrix} 0.8715 \\ 0.9655 \end{bmatrix} \odot "
            r"\left(\begin{bmatrix} 0.3152 \\ -0.197 \end{bmatrix} + \begin{bmatrix} -0.002816 \\ -0.006195 \end{bmatrix}\right) = "
            r"\begin{bmatrix} 0.2722 \\ -0.1962 \end{bmatrix}") in md
    assert (r"\frac{\partial J}{\partial U^{[1]}} = \sum_{t=1}^{3} \delta^{[1]}_{t} \left(h^{[1]}_{t-1}\right)^{\top} = "
            r"\begin{bmatrix} 0 & 0 \\ 0 & 0 \end{bmatrix} + ") in md
    assert r"\begin{bmatrix} 0.1302 & -0.05148 \\ -0.09307 & 0.03748 \end{bmatrix}" in md  # dU to 4 digits
    assert f"{dU[0, 0]:.4g}" == "0.1302"
    # the last state only feeds the output (many-to-one): δ of the dense layer enters at the last step only
    many = render(solve(load(RNN)), "md", form="matrix")
    assert r"\delta^{[1]}_{2} = f'\left(z^{[1]}_{2}\right) \odot \left(U^{[1]}\right)^{\top} \delta^{[1]}_{3} = " in many
    assert r"\delta^{[1]}_{3} = f'\left(z^{[1]}_{3}\right) \odot \left(W^{[2]}\right)^{\top} \delta^{[2]} = " in many


def test_a_wrong_bptt_sum_is_a_mismatch(monkeypatch):
    """The matrix form's sums are checked against the engine's gradients: one made wrong is caught."""
    from tracer.core import derive

    original = derive._recurrent_arrays

    def wrong(*args):
        out = original(*args)
        from dataclasses import replace
        return tuple(replace(r, recurrent_sum=r.recurrent_sum + 1e-6) for r in out)

    monkeypatch.setattr(derive, "_recurrent_arrays", wrong)
    solution = solve(load(SEQUENCE))
    assert not solution.verification.ok
    assert solution.verification.mismatches[0].quantity.startswith("dloss/dU1 = Σ_t δ1[t] h1[t−1]ᵀ")


@pytest.mark.skipif(not __import__("shutil").which("pdflatex"), reason="needs pdflatex")
@pytest.mark.parametrize("name", ["rnn_sequence", "rnn_many_to_one", "rnn_stacked"])
def test_the_rnn_matrix_form_compiles_without_an_overfull_box(name, tmp_path):
    from tracer.render.document import compile_pdf, render

    tex = render(solve(load(EXAMPLES / f"{name}.yaml")), "tex", form="matrix")
    assert r"\odot" in tex and "(recurrent) in matrix form" in tex
    pdf = compile_pdf(tex, tmp_path / f"{name}.pdf")
    assert "Overfull" not in pdf.with_suffix(".log").read_text(errors="replace")


def test_the_delta_notation_writes_feature_maps_and_states():
    conv = solve(load(EXAMPLES / "conv_maxpool.yaml"))
    tex = render(conv, "tex", notation="delta")
    assert r"\delta_{1}^{(K)} &= \frac{\partial \mathcal{L}}" in tex  # the output layer's ∂L/∂z is δ
    assert r"z_{1,1,1}^{(I)}" in tex or r"z_{1,1,1}^{(" in tex  # a feature map's (filter, row, column)
    rnn = solve(load(EXAMPLES / "rnn_sequence.yaml"))
    tex = render(rnn, "tex", notation="delta")
    assert r"u_{21}^{(J)}" in tex or r"u_{2,1}^{(J)}" in tex  # U1[1,2]: from state unit 2 to unit 1, as w_{ij}
    assert r"o_{3,1}^{(J)}" in tex  # the state of unit 1 at step 3


def test_a_theme_of_one_dense_network_is_refused_for_layers(tmp_path):
    text = (EXAMPLES / "conv_maxpool.yaml").read_text(encoding="utf-8").replace("title:", "notation: mazur\ntitle:", 1)
    with pytest.raises(SpecError, match="notation: bracket or delta for a network with conv2d, pooling or rnn layers, got 'mazur'"):
        loads(text, "c.yaml")
    assert loads(text.replace("notation: mazur", "notation: delta"), "c.yaml").notation == "delta"


def test_a_feature_map_note_sets_its_greater_than_sign_in_math():
    """"with stride > 1 …" in LaTeX's text font prints "stride ¿ 1": the note's ">" is set in math."""
    from tracer.render.document import render

    tex = render(solve(Path(__file__).resolve().parent.parent / "examples" / "conv_stride_padding.yaml"), "tex")
    assert "with stride $>$ 1 the gradients are the sums over positions written above" in tex
    assert "stride > 1" not in tex
