"""Every shipped example loads, says what it is, and encodes its source text's numbering."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import K
from tracer import load

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: layer sizes (inputs first) of every shipped example
SIZES = {
    "mazur": "2-2-2",
    "gelu_silu": "2-2-2-1",
    "hinge_svm": "2-1",
    "relu_softmax_3class": "2-2-3",
    "zhu_example1": "2-2-1",
    "zhu_example2": "1-1-1",
    "zhu_quiz1_2": "1-1-1",
    "zhu_quiz1_3": "1-1-1",
    "yeum_3333": "3-3-3-3",
    "deep_sigmoid": "2-3-3-2",
    "tanh_regression": "1-3-1",
    "xor": "2-2-1",
    "batch_modes": "1-1",
    "perceptron_and": "2-1",
    "perceptron_or": "2-1",
    "perceptron_nand": "2-1",
    "perceptron_nor": "2-1",
    "perceptron_xor": "2-2-1",
    "mazur_adam": "2-2-2",
    "optimizer_momentum": "2-1",
    "optimizer_nesterov": "2-1",
    "optimizer_adagrad": "2-1",
    "optimizer_rmsprop": "2-1",
    "optimizer_adam": "2-1",
    "optimizer_adamw": "2-1",
    "clip_norm": "2-2-1",
    "clip_value": "2-2-1",
    "schedule_step": "2-1",
    "regularization_l2": "2-1",
}

#: the graph examples (SPEC §7): their computed nodes, in the file's order
GRAPHS = {
    "graph_cs231n": ("q", "f"),
    "graph_heavy_ball": ("f",),
    "graph_sigmoid_neuron": ("a", "b", "c", "d", "g", "h", "k", "f"),
    "graph_ng": ("u", "v", "J"),
    "graph_chain_rule": ("y1", "y2"),
    "graph_logistic": ("z", "p", "L"),
    "graph_fan_out": ("p", "s", "f"),
    "graph_micrograd": ("x1w1", "x2w2", "x1w1x2w2", "n", "o"),
}

#: networks with conv2d and pooling layers (SPEC §8): input shape, layer kinds
LAYERED = {
    "conv_maxpool": ((1, 4, 4), ("conv2d", "maxpool2d", "flatten", "dense"), "a network on a 1×4×4 input"),
    "conv_stride_padding": ((2, 5, 5), ("conv2d", "avgpool2d", "flatten", "dense"), "a network on a 2×5×5 input"),
    "pool_floor": ((1, 7, 7), ("conv2d", "maxpool2d", "flatten", "dense"), "conv2d, 1 filter 2×2, stride 2, padding 0, relu → 1×3×3; layer 2: maxpool2d 2×2, stride 2 → 1×1×1"),
    "pool_ceil_padding": ((1, 5, 5), ("conv2d", "maxpool2d", "avgpool2d", "flatten", "dense"),
                          "maxpool2d 2×2, stride 2, padding 1, ceil_mode → 1×3×3; layer 3: avgpool2d 2×2, stride 2, ceil_mode → 1×2×2"),
    "conv_rect_dilation": ((1, 5, 5), ("conv2d", "maxpool2d", "flatten", "dense"),
                           "conv2d, 1 filter 2×2, stride (1, 2), padding (0, 1), dilation (2, 1), relu → 1×3×3; layer 2: maxpool2d 2×2, stride 1, dilation (1, 2) → 1×2×1"),
    "rnn_many_to_one": ((3, 1), ("rnn", "dense"), "a network on a sequence (3 steps × 1) input"),
    "rnn_sequence": ((3, 1), ("rnn", "dense"), "every state passed on; layer 2: 1 × identity at every time step"),
    "rnn_stacked": ((3, 1), ("rnn", "rnn", "dense"), "every state passed on; layer 2: rnn, 2 × tanh over 3 time steps, the last state passed on"),
}

EVERY = sorted(p.stem for p in EXAMPLES.glob("*.yaml"))
SHIPPED = [name for name in EVERY if name in SIZES]


def test_every_example_is_listed_here():
    assert EVERY == sorted(list(SIZES) + list(GRAPHS) + list(LAYERED))


@pytest.mark.parametrize("name", sorted(LAYERED))
def test_layered_example_loads_and_describes_its_layers(name):
    problem = load(EXAMPLES / f"{name}.yaml")
    shape, kinds, described = LAYERED[name]
    assert problem.input_shape == shape and tuple(layer.kind for layer in problem.layers) == kinds
    assert described in problem.describe()


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_graph_example_loads_and_describes_its_nodes(name):
    problem = load(EXAMPLES / f"{name}.yaml")
    assert problem.nodes == GRAPHS[name]
    assert problem.title
    assert f"a computational graph of {len(GRAPHS[name])} equation" in problem.describe()  # "1 equation", "2 equations"
    assert "-" not in problem.describe().split("; leaves ")[1].split(";")[0].replace("e-", "")  # −2 with a minus sign


def test_a_negative_leaf_is_described_with_a_minus_sign():
    assert "leaves x = −2, y = 5, z = −4; output f" in load(EXAMPLES / "graph_cs231n.yaml").describe()


@pytest.mark.parametrize("name", SHIPPED)
def test_example_loads_and_describes_its_layers(name):
    problem = load(EXAMPLES / f"{name}.yaml")
    description = problem.describe()
    assert f"a {SIZES[name]} network" in description
    assert problem.title
    assert "-".join(str(n) for n in [problem.inputs] + [layer.units for layer in problem.layers]) == SIZES[name]


@pytest.mark.parametrize("name", EVERY)
def test_example_begins_by_citing_its_source(name):
    first = (EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(("# Source: seed 00", "# Source: CS231n", "# Source: Andrew Ng", "# Source: Andrej Karpathy", "# Ours")), first


def test_mazur_numbering():
    problem = load(EXAMPLES / "mazur.yaml")
    assert problem.parameters()[K("W1[1,2]")] == 0.20  # w2 joins i2 to h1
    assert problem.parameters()[K("W1[2,1]")] == 0.25  # w3 joins i1 to h2
    assert problem.trainable() == [f"W{l}[{j},{i}]" for l in (1, 2) for j in (1, 2) for i in (1, 2)]
    assert problem.training.order == "simultaneous"


def test_relu_softmax_trains_b_O1_only_and_uses_x2_0_37():
    problem = load(EXAMPLES / "relu_softmax_3class.yaml")
    assert problem.trainable() == ["b2[1]"]
    assert problem.data[2].x == (0.5, 0.37)
    assert [s.y for s in problem.data] == [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]


def test_zhu_weights_join_node_i_to_node_j():
    problem = load(EXAMPLES / "zhu_example1.yaml")
    assert problem.parameters()[K("W1[1,2]")] == 1.5  # w^{[1]}_{2,1}: x2 -> h1
    assert problem.parameters()[K("W1[2,1]")] == 2.3  # w^{[1]}_{1,2}: x1 -> h2
    assert all(layer.bias is None for layer in problem.layers)


def test_zhu_means_over_samples():
    for name in ("zhu_example2", "zhu_quiz1_3"):
        problem = load(EXAMPLES / f"{name}.yaml")
        assert problem.loss.samples == "mean" and problem.loss.factor == 0.5


def test_yeum_matrices_are_input_major():
    problem = load(EXAMPLES / "yeum_3333.yaml")
    assert problem.layers[0].weights[0] == (0.1, 0.3, 0.4)  # W_{i1 j1}, W_{i2 j1}, W_{i3 j1}
    assert problem.layers[2].weights[1] == (0.4, 0.7, 0.2)  # W_{k1 l2}, W_{k2 l2}, W_{k3 l2}
    assert problem.loss.kind == "binary_cross_entropy" and problem.loss.log == "log10"
