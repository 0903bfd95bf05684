"""The NumPy twin of SPEC.md §8 (tracer.numeric.layers): convolutions checked by hand and by an
im2col written here, pooling routes, the two identities of a conv layer's backward pass
(rotated-kernel full convolution, valid cross-correlation with δ), gradients against
finite differences for each kind of network, the refusals, and agreement with
tracer.numeric.mlp on the dense examples."""

from __future__ import annotations

import ast
import copy
import math
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from pytest import approx

from tracer.numeric import layers

# ---------------------------------------------------------------------------
# Building problem mappings (as yaml.safe_load gives them)
# ---------------------------------------------------------------------------


def problem(network: dict, data: list[dict], **loss) -> dict:
    return {"network": network, "data": data, "loss": {"kind": "mse", **loss}, "training": {"learning_rate": 0.1}}


def image(channels: int, height: int, width: int) -> dict:
    return {"channels": channels, "height": height, "width": width}


def random_list(rng, *shape, scale=1.0):
    return (scale * rng.normal(size=shape)).tolist()


def assert_matches_finite_differences(mapping: dict, rtol: float = 1e-6, atol: float = 1e-9) -> None:
    analytic = layers.gradients(mapping)
    numeric = layers.finite_differences(mapping)
    assert list(analytic) == list(numeric)
    for key in analytic:
        assert analytic[key].shape == numeric[key].shape, key
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=rtol, atol=atol, err_msg=key)


# ---------------------------------------------------------------------------
# (1) One 2×2 filter over a 4×4 image, by hand; pooling routes
# ---------------------------------------------------------------------------

X_4x4 = [[1.0, 2.0, 3.0, 0.0],
         [0.0, 1.0, 2.0, 3.0],
         [3.0, 0.0, 1.0, 2.0],
         [2.0, 3.0, 0.0, 1.0]]
KERNEL = [[1.0, 0.5],
          [0.0, -1.0]]


def one_filter(**conv) -> dict:
    network = {
        "input": image(1, 4, 4),
        "layers": [
            {"type": "conv2d", "filters": 1, "kernel_size": 2, "activation": "identity", "weights": [[KERNEL]], "bias": 0.25, **conv},
            {"type": "flatten"},
            {"units": 1, "activation": "identity", "weights": [[1.0] * 9]},
        ],
    }
    return problem(network, [{"x": [X_4x4], "y": [0.0]}])


def test_one_filter_by_hand():
    result = layers.forward(one_filter(), 0)
    z = result.z[0]
    assert z.shape == (1, 3, 3)
    # z[0,0] = 1·1 + 0.5·2 + 0·0 + (−1)·1 + 0.25 = 1.25
    assert z[0, 0, 0] == approx(1.25, abs=1e-15)
    # z[1,2] = 1·2 + 0.5·3 + 0·1 + (−1)·2 + 0.25 = 1.75 (row 1, column 2: the window x[1:3, 2:4])
    assert z[0, 1, 2] == approx(1.75, abs=1e-15)
    # z[2,0] = 1·3 + 0.5·0 + 0·2 + (−1)·3 + 0.25 = 0.25
    assert z[0, 2, 0] == approx(0.25, abs=1e-15)
    assert result.a[1].shape == (9,)  # flatten: row-major, so a2[2·3 + 0] = z[2,0]
    assert result.a[1][6] == approx(0.25, abs=1e-15)


def test_flatten_is_channel_major_then_row_major():
    x = [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]  # [channel][row][column]
    mapping = problem({"input": image(2, 2, 2), "layers": [{"type": "flatten"}, {"units": 1, "activation": "identity", "weights": [[1.0] * 8]}]},
                      [{"x": x, "y": [0.0]}])
    assert layers.forward(mapping, 0).a[0].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]


def pooled(kind: str, x: list, **pool) -> dict:
    """pool 2×2 → flatten → the identity (4 units): with y = 0 and ½(y − o)², ∂loss/∂(pooled value) is the value itself."""
    eye = np.eye(4).tolist()
    network = {"input": image(1, 4, 4), "layers": [{"type": kind, "size": 2, **pool}, {"type": "flatten"},
                                                    {"units": 4, "activation": "identity", "weights": eye}]}
    return problem(network, [{"x": [x], "y": [0.0] * 4}])


TIES = [[5.0, 5.0, 0.0, 3.0],   # window (0,0): 5 and 5 tie → the first, (0,0)
        [1.0, 2.0, 3.0, 1.0],   # window (0,1): 3 and 3 tie → the first in row-major order, (0,3)
        [4.0, 0.0, 1.0, 2.0],   # window (1,0): 4 at (2,0)
        [0.0, 1.0, 9.0, 2.0]]   # window (1,1): 9 at (3,2)


def test_maxpool_routes_to_the_first_maximum():
    mapping = pooled("maxpool2d", TIES)
    assert layers.forward(mapping, 0).a[0][0].tolist() == [[5.0, 3.0], [4.0, 9.0]]
    d_input = layers.backward(mapping, 0).d_input[0]
    expected = np.zeros((4, 4))
    expected[0, 0], expected[0, 3], expected[2, 0], expected[3, 2] = 5.0, 3.0, 4.0, 9.0
    assert d_input.tolist() == expected.tolist()


def test_maxpool_overlapping_windows_add_up():
    x = [[0.0, 0.0, 0.0, 0.0], [0.0, 7.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    eye = np.eye(9).tolist()  # 2×2 windows, stride 1: 3×3 outputs; the 7 is the max of four of them
    network = {"input": image(1, 4, 4), "layers": [{"type": "maxpool2d", "size": 2, "stride": 1}, {"type": "flatten"},
                                                    {"units": 9, "activation": "identity", "weights": eye}]}
    mapping = problem(network, [{"x": [x], "y": [0.0] * 9}])
    assert layers.forward(mapping, 0).a[0][0].tolist() == [[7.0, 7.0, 0.0], [7.0, 7.0, 0.0], [0.0, 0.0, 1.0]]
    d_input = layers.backward(mapping, 0).d_input[0]
    assert d_input[1, 1] == 28.0  # 4 windows × 7
    assert d_input[3, 3] == 1.0
    assert d_input[0, 0] == 0.0  # the all-zero windows send theirs to their first element: (0,2), (2,0)…
    assert d_input.sum() == 29.0


def test_avgpool_shares_equally():
    mapping = pooled("avgpool2d", TIES)
    means = [[13 / 4, 7 / 4], [5 / 4, 14 / 4]]
    assert layers.forward(mapping, 0).a[0][0] == approx(np.array(means), abs=1e-15)
    d_input = layers.backward(mapping, 0).d_input[0]
    assert d_input[0, 0] == d_input[1, 1] == approx(13 / 16)  # ∂loss/∂mean = the mean; each of 4 gets a quarter
    assert d_input[3, 3] == approx(14 / 16)


def test_relu_derivative_at_zero_in_a_conv_layer():
    """With bias −1, z[0,0] = 1.25 − 1.25 = 0 exactly: its ∂loss/∂z is 0 (left slope, the default) or ∂loss/∂a (right slope)."""
    slopes = {}
    for rdz in (0, 1):
        mapping = one_filter(activation="relu", bias=-1.0)
        mapping["network"]["relu_derivative_at_zero"] = rdz
        back = layers.backward(mapping, 0)
        assert layers.forward(mapping, 0).z[0][0, 0, 0] == 0.0
        slopes[rdz] = back.dloss_dz[0][0, 0, 0] / back.dloss_da[0][0, 0, 0]
    assert slopes == {0: 0.0, 1: 1.0}


# ---------------------------------------------------------------------------
# (2) Two channels, stride 2, padding 1, against an im2col written here
# ---------------------------------------------------------------------------


def im2col_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Every window of the padded input as one row, each filter as one column: z = cols · Wᵀ + b."""
    channels, height, width = x.shape
    filters, _, k, _ = w.shape
    padded = np.zeros((channels, height + 2 * padding, width + 2 * padding))
    padded[:, padding : padding + height, padding : padding + width] = x
    out_h = (height + 2 * padding - k) // stride + 1
    out_w = (width + 2 * padding - k) // stride + 1
    cols = []
    for i in range(out_h):
        for j in range(out_w):
            cols.append([padded[c, i * stride + u, j * stride + v] for c in range(channels) for u in range(k) for v in range(k)])
    z = np.array(cols) @ w.reshape(filters, -1).T + b
    return z.T.reshape(filters, out_h, out_w)


def strided(rng, activation="identity") -> dict:
    network = {
        "input": image(2, 5, 5),
        "layers": [
            {"type": "conv2d", "filters": 3, "kernel_size": 3, "stride": 2, "padding": 1, "activation": activation,
             "weights": random_list(rng, 3, 2, 3, 3), "bias": random_list(rng, 3)},
            {"type": "flatten"},
            {"units": 2, "activation": "sigmoid", "weights": random_list(rng, 2, 27, scale=0.3), "bias": [0.1, -0.2]},
        ],
    }
    return problem(network, [{"x": random_list(rng, 2, 5, 5), "y": [0.2, 0.7]}, {"x": random_list(rng, 2, 5, 5), "y": [0.9, 0.1]}])


def test_two_channels_stride_2_padding_1_against_im2col():
    mapping = strided(np.random.default_rng(2))
    conv = mapping["network"]["layers"][0]
    for s, sample in enumerate(mapping["data"]):
        z = layers.forward(mapping, s).z[0]
        assert z.shape == (3, 3, 3)  # (5 + 2 − 3) / 2 + 1 = 3
        reference = im2col_conv(np.array(sample["x"]), np.array(conv["weights"]), np.array(conv["bias"]), stride=2, padding=1)
        np.testing.assert_allclose(z, reference, rtol=0, atol=1e-13)


def test_rectangular_kernel_stride_and_padding_against_im2col_transposed():
    """[rows, columns] pairs: a 2×3 kernel, stride (1, 2), padding (0, 1), checked on the transposed problem."""
    rng = np.random.default_rng(7)
    x, w = rng.normal(size=(1, 4, 5)), rng.normal(size=(1, 1, 2, 3))
    network = {"input": image(1, 4, 5), "layers": [
        {"type": "conv2d", "filters": 1, "kernel_size": [2, 3], "stride": [1, 2], "padding": [0, 1], "activation": "identity",
         "weights": w.tolist()}, {"type": "flatten"}, {"units": 1, "activation": "identity", "weights": [[1.0] * 9]}]}
    z = layers.forward(problem(network, [{"x": x.tolist(), "y": [0.0]}]), 0).z[0]
    assert z.shape == (1, 3, 3)
    for i in range(3):
        for j in range(3):
            padded = np.pad(x[0], ((0, 0), (1, 1)))
            assert z[0, i, j] == approx(float(np.sum(padded[i : i + 2, 2 * j : 2 * j + 3] * w[0, 0])), abs=1e-13)


# ---------------------------------------------------------------------------
# (3) Analytic gradients against finite differences
# ---------------------------------------------------------------------------


def conv_classifier(rng, loss: dict | None = None, activation="relu", pool="maxpool2d", rdz=0) -> dict:
    """conv (2 filters 3×3 on 2×6×6) → activation → pool 2×2 → flatten → dense softmax 3."""
    network = {
        "input": image(2, 6, 6),
        "relu_derivative_at_zero": rdz,
        "layers": [
            {"type": "conv2d", "filters": 2, "kernel_size": 3, "activation": activation,
             "weights": random_list(rng, 2, 2, 3, 3, scale=0.5), "bias": random_list(rng, 2)},
            {"type": pool, "size": 2},
            {"type": "flatten"},
            {"units": 3, "activation": "softmax", "weights": random_list(rng, 3, 8), "bias": random_list(rng, 3)},
        ],
    }
    data = [{"x": random_list(rng, 2, 6, 6), "label": k} for k in (0, 2, 1)]
    mapping = problem(network, data)
    mapping["loss"] = loss or {"kind": "cross_entropy"}
    return mapping


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conv_relu_maxpool_flatten_softmax_gradients(seed):
    mapping = conv_classifier(np.random.default_rng(seed))
    grads = layers.gradients(mapping)
    assert {key: g.shape for key, g in grads.items()} == {"W1": (2, 2, 3, 3), "b1": (2,), "W4": (3, 8), "b4": (3,)}
    assert_matches_finite_differences(mapping)


@pytest.mark.parametrize(
    "loss, activation, pool",
    [
        ({"kind": "cross_entropy", "log": "log2", "samples": "mean"}, "tanh", "avgpool2d"),
        ({"kind": "mse", "factor": 1.0, "outputs": "mean"}, "sigmoid", "maxpool2d"),
        ({"kind": "binary_cross_entropy", "log": "log10", "outputs": "mean", "samples": "mean"}, {"name": "leaky_relu", "alpha": 0.1}, "avgpool2d"),
        ({"kind": "mse"}, "elu", "maxpool2d"),
    ],
)
def test_every_loss_and_activation_through_a_conv_network(loss, activation, pool):
    assert_matches_finite_differences(conv_classifier(np.random.default_rng(5), loss, activation, pool))


def test_strided_padded_conv_gradients():
    assert_matches_finite_differences(strided(np.random.default_rng(3), activation="softplus"))


def rnn_network(rng, units: int, inputs: int, steps: int, outputs: str, above: list[dict], samples: int = 2, **rnn) -> dict:
    layer = {"type": "rnn", "units": units, "outputs": outputs, "weights": random_list(rng, units, inputs),
             "recurrent": random_list(rng, units, units, scale=0.7), "bias": random_list(rng, units), **rnn}
    data = [{"x": random_list(rng, steps, inputs)} for _ in range(samples)]
    return problem({"inputs": inputs, "layers": [layer, *above]}, data)


def test_rnn_many_to_one_tanh_then_dense():
    rng = np.random.default_rng(11)
    mapping = rnn_network(rng, 3, 2, 4, "last", [{"units": 2, "activation": "sigmoid", "weights": random_list(rng, 2, 3), "bias": 0.1}],
                          initial_state=[0.1, -0.2, 0.3])
    for sample in mapping["data"]:
        sample["y"] = [0.3, 0.8]
    result = layers.forward(mapping, 0)
    assert result.z[0].shape == result.a[0].shape == (4, 3)
    assert result.a[1].shape == result.output.shape == (2,)
    assert {key: g.shape for key, g in layers.gradients(mapping).items()} == {"W1": (3, 2), "U1": (3, 3), "b1": (3,), "W2": (2, 3), "b2": (2,)}
    assert_matches_finite_differences(mapping)


def test_rnn_sequence_outputs_loss_at_every_step():
    rng = np.random.default_rng(12)
    mapping = rnn_network(rng, 2, 2, 3, "sequence", [{"units": 1, "activation": "identity", "weights": random_list(rng, 1, 2), "bias": [0.2]}],
                          activation="sigmoid")
    mapping["data"][0]["y"] = [[0.5], [-0.5], [1.0]]
    mapping["data"][1]["y"] = [0.1, 0.2, 0.3]  # one number per step (the output has one unit)
    result = layers.forward(mapping, 0)
    assert result.a[0].shape == (3, 2) and result.output.shape == (3, 1)
    assert result.loss == approx(float(np.sum(0.5 * (result.target - result.output) ** 2)), rel=1e-15)
    assert_matches_finite_differences(mapping)


def test_rnn_sequence_into_softmax_with_labels_per_step():
    rng = np.random.default_rng(13)
    mapping = rnn_network(rng, 2, 3, 3, "sequence", [{"units": 3, "activation": "softmax", "weights": random_list(rng, 3, 2)}],
                          activation="relu")
    mapping["loss"] = {"kind": "cross_entropy", "samples": "mean"}
    mapping["data"][0]["label"] = [0, 2, 1]
    mapping["data"][1]["label"] = [1, 1, 0]
    assert layers.forward(mapping, 1).target.tolist() == [[0, 1, 0], [0, 1, 0], [1, 0, 0]]
    assert_matches_finite_differences(mapping)


def test_stacked_rnns_and_a_dense_layer_per_step():
    """dense per step (tanh) → rnn (sequence) → rnn (last) → dense: every layer kind of a sequence network at once."""
    rng = np.random.default_rng(14)
    network = {"inputs": 2, "layers": [
        {"units": 3, "activation": "tanh", "weights": random_list(rng, 3, 2), "bias": 0.1, "shared_bias": True},
        {"type": "rnn", "units": 2, "outputs": "sequence", "weights": random_list(rng, 2, 3), "recurrent": random_list(rng, 2, 2)},
        {"type": "rnn", "units": 2, "weights": random_list(rng, 2, 2), "recurrent": random_list(rng, 2, 2), "bias": 0.0},
        {"units": 1, "activation": "identity", "weights": random_list(rng, 1, 2)},
    ]}
    mapping = problem(network, [{"x": random_list(rng, 4, 2), "y": [0.5]}])
    assert layers.forward(mapping, 0).a[0].shape == (4, 3)
    assert layers.gradients(mapping)["b1"].shape == ()  # a shared bias: one number
    assert_matches_finite_differences(mapping)


def test_rnn_by_hand():
    """One unit: h_t = tanh(0.5 x_t − h_{t−1} + 0.1), o_t = 2 h_t, loss Σ_t ½ (y_t − o_t)²."""
    network = {"inputs": 1, "layers": [
        {"type": "rnn", "units": 1, "outputs": "sequence", "weights": [[0.5]], "recurrent": [[-1.0]], "bias": 0.1},
        {"units": 1, "activation": "identity", "weights": [[2.0]]}]}
    mapping = problem(network, [{"x": [[1.0], [2.0], [0.0]], "y": [0.5, -0.5, 0.0]}])
    h1 = math.tanh(0.5 * 1 + 0.1)
    h2 = math.tanh(0.5 * 2 - h1 + 0.1)
    h3 = math.tanh(0.5 * 0 - h2 + 0.1)
    result = layers.forward(mapping, 0)
    assert result.a[0][:, 0] == approx([h1, h2, h3], rel=1e-15)
    expected = 0.5 * (0.5 - 2 * h1) ** 2 + 0.5 * (-0.5 - 2 * h2) ** 2 + 0.5 * (0 - 2 * h3) ** 2
    assert layers.loss(mapping) == approx(expected, rel=1e-15)
    # ∂loss/∂W2 = Σ_t (o_t − y_t) h_t
    assert layers.gradients(mapping)["W2"][0, 0] == approx((2 * h1 - 0.5) * h1 + (2 * h2 + 0.5) * h2 + (2 * h3) * h3, rel=1e-14)


# ---------------------------------------------------------------------------
# (4), (5) The two identities of a conv layer's backward pass
# ---------------------------------------------------------------------------


def conv_only(rng, channels=2, filters=3, size=5, k=3) -> dict:
    network = {"input": image(channels, size, size), "layers": [
        {"type": "conv2d", "filters": filters, "kernel_size": k, "activation": "tanh", "weights": random_list(rng, filters, channels, k, k)},
        {"type": "flatten"},
        {"units": 2, "activation": "identity", "weights": random_list(rng, 2, filters * (size - k + 1) ** 2)}]}
    return problem(network, [{"x": random_list(rng, channels, size, size), "y": [0.3, -0.1]}])


def test_input_gradient_is_the_full_convolution_with_the_rotated_kernel():
    rng = np.random.default_rng(21)
    mapping = conv_only(rng)
    kernel = np.array(mapping["network"]["layers"][0]["weights"])
    back = layers.backward(mapping, 0)
    delta = back.dloss_dz[0]  # (filters, 3, 3)
    k = kernel.shape[-1]
    expected = np.zeros((2, 5, 5))
    for f in range(kernel.shape[0]):
        padded = np.pad(delta[f], k - 1)  # "full": δ surrounded by k − 1 zeros
        for c in range(kernel.shape[1]):
            rotated = np.rot90(kernel[f, c], 2)  # 180°
            for i in range(5):
                for j in range(5):
                    expected[c, i, j] += np.sum(padded[i : i + k, j : j + k] * rotated)
    np.testing.assert_allclose(back.d_input, expected, rtol=0, atol=1e-13)


def test_kernel_gradient_is_the_valid_cross_correlation_of_input_and_delta():
    rng = np.random.default_rng(22)
    mapping = conv_only(rng)
    x = np.array(mapping["data"][0]["x"])
    delta = layers.backward(mapping, 0).dloss_dz[0]
    n = delta.shape[-1]
    expected = np.zeros((3, 2, 3, 3))
    for f in range(3):
        for c in range(2):
            for u in range(3):
                for v in range(3):
                    expected[f, c, u, v] = np.sum(x[c, u : u + n, v : v + n] * delta[f])
    np.testing.assert_allclose(layers.gradients(mapping)["W1"], expected, rtol=0, atol=1e-13)


# ---------------------------------------------------------------------------
# (6) Refusals: a message that names the place
# ---------------------------------------------------------------------------


def refused(mapping: dict, *fragments: str) -> None:
    with pytest.raises(ValueError) as err:
        layers.loss(mapping)
    for fragment in fragments:
        assert fragment in str(err.value), str(err.value)


def test_kernel_larger_than_the_padded_input():
    mapping = one_filter(kernel_size=5, weights=[[[[0.0] * 5] * 5]])
    refused(mapping, "network.layers[0]", "layer 1, conv2d", "kernel height 5 is larger than the padded input 4")


def test_padding_makes_a_large_kernel_fit():
    mapping = one_filter(kernel_size=5, padding=1, weights=[[[[0.1] * 5] * 5]])
    mapping["network"]["layers"][2]["weights"] = [[1.0] * 4]  # (4 + 2 − 5) + 1 = 2: a 2×2 output
    assert layers.forward(mapping, 0).z[0].shape == (1, 2, 2)


def test_a_stride_that_does_not_tile_the_input_takes_the_floor():
    # (4 + 2·0 − 2) = 2 rows left for the window to move, stride 3: floor(2/3) + 1 = 1 window, as
    # torch's F.conv2d; rows and columns 3 and 4 are read by no window, their gradient 0
    mapping = one_filter(stride=3)
    mapping["network"]["layers"][2]["weights"] = [[1.0]]
    z = layers.forward(mapping, 0).z[0]
    assert z.shape == (1, 1, 1)
    assert z[0, 0, 0] == pytest.approx(1 * 1.0 + 2 * 0.5 + 0 * 0.0 + 1 * (-1.0) + 0.25)  # 1.25
    grads = layers.gradients(mapping)
    assert grads["W1"][0, 0].ravel().tolist() == pytest.approx([1.25 * 1, 1.25 * 2, 1.25 * 0, 1.25 * 1])
    d_input = layers.backward(mapping, 0).d_input[0]
    assert d_input[2:, :].tolist() == [[0.0] * 4] * 2 and d_input[:, 2:].tolist() == [[0.0] * 2] * 4
    mapping = pooled("maxpool2d", TIES, size=3)  # (4 − 3) = 1, stride 3: one window, rows and columns 1–3
    mapping["network"]["layers"][2].update(units=1, weights=[[1.0]])
    mapping["data"][0]["y"] = [0.0]
    assert layers.forward(mapping, 0).a[0].tolist() == [[[5.0]]]
    d_input = layers.backward(mapping, 0).d_input[0]
    assert d_input[0, 0] == 5.0 and np.count_nonzero(d_input) == 1


def test_dense_after_a_pool_needs_a_flatten():
    mapping = pooled("maxpool2d", TIES)
    del mapping["network"]["layers"][1]
    refused(mapping, "network.layers[1]", "layer 2, dense", "needs a vector input, got an image of shape (1, 2, 2)", "flatten")


def test_conv_after_flatten_and_rnn_on_a_vector():
    mapping = one_filter()
    mapping["network"]["layers"].insert(0, {"type": "flatten"})
    refused(mapping, "network.layers[1]", "layer 2, conv2d", "needs an image input")
    mapping = problem({"inputs": 1, "layers": [{"type": "rnn", "units": 1, "weights": [[1.0]], "recurrent": [[0.0]]},
                                               {"type": "rnn", "units": 1, "weights": [[1.0]], "recurrent": [[0.0]]}]},
                      [{"x": [[1.0]], "y": [0.0]}])
    refused(mapping, "network.layers[1]", "layer 2, rnn", "needs a sequence input, got a vector")


def test_weights_of_the_wrong_shape_name_the_layer():
    mapping = one_filter(weights=[[KERNEL, KERNEL]])  # two channels for a one-channel input
    refused(mapping, "network.layers[0].weights", "layer 1, conv2d", "(1, 1, 2, 2) expected", "got (1, 2, 2, 2)")
    mapping = one_filter()
    mapping["network"]["layers"][2]["weights"] = [[1.0] * 8]
    refused(mapping, "network.layers[2].weights", "layer 3, dense", "(1, 9) expected")
    mapping = rnn_network(np.random.default_rng(0), 2, 2, 3, "last", [{"units": 1, "activation": "identity", "weights": [[1.0, 1.0]]}],
                          recurrent=[[1.0, 0.0]])
    refused(mapping, "network.layers[0].recurrent", "layer 1, rnn", "(2, 2) expected")


def test_x_of_the_wrong_shape():
    mapping = one_filter()
    mapping["data"][0]["x"] = X_4x4  # [row][column]: the channel level is missing
    refused(mapping, "data[0].x", "(1, 4, 4) expected", "got (4, 4)")
    mapping["data"][0]["x"] = [[[1.0, 2.0], [3.0]]]
    refused(mapping, "data[0].x", "rectangular")


def test_sequences_of_different_lengths_and_targets_per_step():
    rng = np.random.default_rng(1)
    mapping = rnn_network(rng, 2, 2, 3, "sequence", [{"units": 1, "activation": "identity", "weights": [[1.0, 1.0]]}])
    mapping["data"][0]["y"] = [0.0, 0.0, 0.0]
    mapping["data"][1]["y"] = [0.0, 0.0, 0.0]
    layers.loss(mapping)
    short = copy.deepcopy(mapping)
    short["data"][1]["x"] = short["data"][1]["x"][:2]
    refused(short, "data[1].x", "2 time steps, but data[0] has 3")
    mapping["data"][1]["y"] = [0.0, 0.0]
    refused(mapping, "data[1].y", "(3, 1) expected", "one target per time step")
    mapping["data"][1]["y"] = [[0.0, 1.0]] * 3
    refused(mapping, "data[1].y", "got (3, 2)")


def test_softmax_outside_the_last_layer_and_a_network_ending_in_an_image():
    mapping = conv_classifier(np.random.default_rng(0), activation="softmax")
    refused(mapping, "network.layers[0].activation", "layer 1, conv2d", "softmax is only allowed in the last layer")
    mapping = one_filter()
    del mapping["network"]["layers"][1:]
    refused(mapping, "ends with an image of shape (1, 3, 3)")


def test_unknown_keys_and_labels_out_of_range():
    mapping = one_filter(strides=2)
    refused(mapping, "network.layers[0]", "unknown key 'strides'")
    mapping = conv_classifier(np.random.default_rng(0))
    mapping["data"][0]["label"] = 3
    refused(mapping, "data[0].label", "from 0 to 2")


# ---------------------------------------------------------------------------
# (7) Dense-only problems: the same numbers as tracer.numeric.mlp
# ---------------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DENSE_EXAMPLES = ["mazur", "xor", "relu_softmax_3class", "yeum_3333", "deep_sigmoid", "tanh_regression", "batch_modes", "zhu_example2"]


def as_array_names(grads: dict[str, np.ndarray]) -> dict[str, float]:
    """``W2`` (units, inputs) → ``W2[j,i]`` floats; a shared bias is its own name, ``b2``."""
    out = {}
    for key, g in grads.items():
        if g.ndim == 0:
            out[key] = float(g)
        for index in np.ndindex(g.shape):
            if index:
                out[f"{key}[{','.join(str(i + 1) for i in index)}]"] = float(g[index])
    return out


@pytest.mark.parametrize("name", DENSE_EXAMPLES)
def test_dense_examples_agree_with_the_mlp_pass(name):
    from tracer.numeric import mlp
    from tracer.spec import load

    path = EXAMPLES / f"{name}.yaml"
    mapping = yaml.safe_load(path.read_text())
    reference = mlp.evaluate(load(path))
    assert layers.loss(mapping) == approx(reference.loss, rel=1e-13, abs=1e-15)
    ours = as_array_names(layers.gradients(mapping))
    theirs = {str(k): v for k, v in reference.grads.items()}
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        assert ours[key] == approx(value, rel=1e-11, abs=1e-14), key
    for s, sample in enumerate(reference.samples):
        mine = layers.forward(mapping, s)
        for l in range(len(sample.a)):
            np.testing.assert_allclose(mine.z[l], sample.z[l], rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(mine.a[l], sample.a[l], rtol=1e-13, atol=1e-15)


def test_mazur_by_the_numbers_and_one_step():
    from tracer.numeric import mlp
    from tracer.spec import load

    mapping = yaml.safe_load((EXAMPLES / "mazur.yaml").read_text())
    assert layers.loss(mapping) == approx(0.2983711088, abs=1e-10)  # E_total
    grads = layers.gradients(mapping)
    assert grads["W2"][0, 0] == approx(0.082167041, abs=5e-10)  # ∂E/∂w5
    assert grads["W1"][0, 0] == approx(0.000438568, abs=5e-10)  # ∂E/∂w1
    assert grads["b1"].shape == ()  # shared
    after = layers.descend(mapping)  # η = 0.5, one step; trainable_bias: false keeps b1, b2
    assert after["W2"][0, 0] == approx(0.35891648, abs=5e-9)  # w5+
    assert float(after["b1"]) == 0.35 and float(after["b2"]) == 0.60
    assert layers.loss(layers.with_parameters(mapping, after)) == approx(0.2910277737, abs=1e-10)
    stepped = mlp.step(load(EXAMPLES / "mazur.yaml")).parameters()
    assert as_array_names(after) == approx({str(k): v for k, v in stepped.items()}, rel=1e-13)


def test_input_major_weights_are_read_transposed_and_written_back():
    rng = np.random.default_rng(4)
    w = rng.normal(size=(3, 2))  # units × inputs
    unit_major = problem({"inputs": 2, "layers": [{"units": 3, "activation": "sigmoid", "weights": w.tolist(), "bias": 0.1}]},
                         [{"x": [0.3, -0.4], "y": [0.1, 0.5, 0.9]}])
    input_major = copy.deepcopy(unit_major)
    input_major["network"]["layers"][0].update(weights=w.T.tolist(), weights_layout="input_major")
    assert layers.loss(input_major) == layers.loss(unit_major)
    assert layers.gradients(input_major)["W1"].shape == (3, 2)  # reported one row per unit
    written = layers.with_parameters(input_major, layers.descend(input_major, 0.5, 2))
    assert np.array(written["network"]["layers"][0]["weights"]).shape == (2, 3)
    assert layers.loss(written) < layers.loss(input_major)


# ---------------------------------------------------------------------------
# Training, speed, independence
# ---------------------------------------------------------------------------


def test_descent_lowers_the_loss_of_a_conv_network():
    mapping = conv_classifier(np.random.default_rng(9))
    after = layers.descend(mapping, learning_rate=0.05, steps=5)
    assert layers.loss(layers.with_parameters(mapping, after)) < layers.loss(mapping)


def test_training_update_trains_only_the_named_parameters():
    mapping = conv_classifier(np.random.default_rng(9))
    mapping["training"]["update"] = ["W1[1,2,3,1]", "b4"]
    before, after = layers.parameters(mapping), layers.descend(mapping, learning_rate=0.1, steps=1)
    changed = {key: np.argwhere(before[key] != after[key]).tolist() for key in before}
    assert changed == {"W1": [[0, 1, 2, 0]], "b1": [], "W4": [], "b4": [[0], [1], [2]]}


def test_mnist_sized_network_is_fast():
    """1×28×28 → conv 8 3×3 relu → maxpool 2 → flatten → dense softmax 10: 13,610 parameters."""
    rng = np.random.default_rng(0)
    network = {"input": image(1, 28, 28), "layers": [
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "activation": "relu", "weights": random_list(rng, 8, 1, 3, 3, scale=0.3), "bias": 0.1},
        {"type": "maxpool2d", "size": 2}, {"type": "flatten"},
        {"units": 10, "activation": "softmax", "weights": random_list(rng, 10, 1352, scale=0.05), "bias": 0.0}]}
    mapping = problem(network, [{"x": rng.random((1, 28, 28)).tolist(), "label": 3}], kind="cross_entropy")
    start = time.process_time()
    grads = layers.gradients(mapping)
    assert time.process_time() - start < 2.0
    assert sum(g.size for g in grads.values()) == 13_610
    # a spot check of the largest layer by differences, a few entries only
    net = layers.network(mapping)
    for key, index in [("W1", (3, 0, 1, 2)), ("b1", (5,)), ("W4", (3, 700)), ("b4", (9,))]:
        shifted = [layers.parameters(net) for _ in range(2)]
        shifted[0][key][index] += 1e-6
        shifted[1][key][index] -= 1e-6
        difference = (layers.loss(layers.with_parameters(mapping, shifted[0])) - layers.loss(layers.with_parameters(mapping, shifted[1]))) / 2e-6
        assert grads[key][index] == approx(difference, rel=1e-6, abs=1e-9)


def test_the_twin_imports_nothing_of_tracer_and_no_sympy():
    source = Path(layers.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." if node.level else node.module.split(".")[0])
    # fractions and mpmath: its own exact pass, for a kink or a tie within rounding (decimals, 60-digit σ/tanh)
    assert imported <= {"__future__", "collections", "copy", "dataclasses", "fractions", "functools", "math", "re", "typing", "numpy",
                        "mpmath"}, imported


def test_a_mapping_is_not_changed():
    mapping = conv_classifier(np.random.default_rng(0))
    kept = copy.deepcopy(mapping)
    layers.descend(mapping, 0.1, 2)
    layers.with_parameters(mapping, layers.parameters(mapping))
    assert mapping == kept
