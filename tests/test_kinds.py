"""The registry of layer kinds (tracer/kinds.py): a `type:` is answered by its kind's module.

The reader of a problem file names no kind: it asks tracer.kinds for the entry's `type:`, and
the kind reads, writes back, describes and lists the parameters of its layer. A kind registered
from here (the toy `scale`, a = c·x) is read like a shipped one — and gone when the block ends.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import pytest

from tracer import keys, kinds
from tracer.export.as_json import group_parameters
from tracer.keys import Quantity
from tracer.layers.conv2d import ConvLayerModel
from tracer.layers.dense import DenseLayerModel
from tracer.layers.flatten import FlattenLayerModel
from tracer.layers.kind import ParameterBlock
from tracer.layers.pooling import Pooling, PoolLayerModel
from tracer.layers.rnn import RecurrentLayerModel
from tracer.spec import SpecError, from_mapping, json_schema, loads, to_mapping
from tracer.spec.models import Number, _Strict
from tracer.spec.problem import ActivationSpec, LayerSpec

SHIPPED_NAMES = ("dense", "conv2d", "maxpool2d", "avgpool2d", "flatten", "rnn")

CONV = """title: t
network:
  input: {channels: 1, height: 3, width: 3}
  layers:
    - {type: %s, filters: 1, kernel_size: 2, weights: [[[[1, 0], [0, 1]]]], bias: [0.5]}
    - {type: flatten}
    - {units: 1, activation: sigmoid, weights: [[0.1, 0.2, 0.3, 0.4]], bias: [0]}
loss: {kind: mse}
data: [{x: [[[1, 2, 3], [4, 5, 6], [7, 8, 9]]], y: [1]}]
training: {learning_rate: 0.1}
"""


def test_the_shipped_kinds_answer_the_names_of_the_file_format_in_its_order():
    assert kinds.names() == SHIPPED_NAMES
    assert [type(kind).__name__ for kind in kinds.layers()] == ["Dense", "Conv2d", "Pooling", "Flatten", "Rnn"]
    pooling = kinds.layer("maxpool2d")
    assert isinstance(pooling, Pooling) and kinds.layer("avgpool2d") is pooling
    assert kinds.layer("dense").Model is DenseLayerModel


def test_an_unknown_type_names_every_known_one():
    with pytest.raises(kinds.UnknownKind) as err:
        kinds.layer("conv3d")
    assert str(err.value) == "unknown layer kind 'conv3d': one of dense, conv2d, maxpool2d, avgpool2d, flatten, rnn expected"
    with pytest.raises(kinds.UnknownKind):
        kinds.layer(["conv2d"])  # YAML read a list: not a name, and no TypeError


def test_a_file_with_an_unknown_type_is_refused_in_one_line_as_before():
    with pytest.raises(SpecError) as err:
        loads(CONV % "conv3d", "t.yaml")
    assert str(err.value) == "t.yaml: network.layers[0].type: one of dense, conv2d, maxpool2d, avgpool2d, flatten, rnn expected, got 'conv3d'"


def test_a_registered_kind_reads_its_entry():
    problem = loads(CONV % "conv2d", "t.yaml")
    conv = problem.layers[0]
    assert (conv.kind, conv.in_shape, conv.out_shape, conv.weights, conv.bias) == ("conv2d", (1, 3, 3), (1, 2, 2), ((1.0, 0.0, 0.0, 1.0),), (0.5,))
    blocks = problem.parameter_blocks
    assert [(b.role, b.layer, b.shape, b.penalised) for b in blocks] == [
        ("W", 1, (1, 1, 2, 2), True), ("b", 1, (1,), False), ("W", 3, (1, 4), True), ("b", 3, (1,), False)]
    assert [str(key) for key in problem.parameter_keys[:4]] == ["W1[1,1,1,1]", "W1[1,1,1,2]", "W1[1,1,2,1]", "W1[1,1,2,2]"]
    assert group_parameters(problem, problem.parameters()) == {"W1": [[[[1.0, 0.0], [0.0, 1.0]]]], "b1": [0.5],
                                                               "W3": [[0.1, 0.2, 0.3, 0.4]], "b3": [0.0]}


def test_the_schema_offers_the_kinds_models_in_registration_order():
    network = json_schema()["$defs"]["_LayeredNetworkSchema"]
    branches = [ref["$ref"].rsplit("/", 1)[-1] for ref in network["properties"]["layers"]["items"]["anyOf"]]
    assert branches == [m.__name__ for m in (DenseLayerModel, ConvLayerModel, PoolLayerModel, FlattenLayerModel, RecurrentLayerModel)]
    assert branches == ["DenseLayerModel", "ConvLayerModel", "PoolLayerModel", "FlattenLayerModel", "RecurrentLayerModel"]


def test_a_parameter_block_nests_its_values_as_json_writes_them():
    kernels = ParameterBlock("W", 2, (2, 1, 2, 2), ((1, 2, 3, 4), (5, 6, 7, 8)))
    assert kernels.size == 8
    assert kernels.json_shaped(list(range(1, 9))) == [[[[1, 2], [3, 4]]], [[[5, 6], [7, 8]]]]
    assert [str(k) for k in kernels.keys()][:3] == ["W2[1,1,1,1]", "W2[1,1,1,2]", "W2[1,1,2,1]"]
    shared = ParameterBlock("b", 1, (), ((0.35,),), penalised=False)
    assert (shared.size, shared.json_shaped([0.35]), [str(k) for k in shared.keys()]) == (1, 0.35, ["b1"])


# ---------------------------------------------------------------------------
# A kind registered from the test suite: scale, a = c·x with one trainable c (plan §5.7)
# ---------------------------------------------------------------------------


class ScaleModel(_Strict):
    type: Literal["scale"]
    c: Number


class Scale:
    names = ("scale",)
    Model = ScaleModel
    noun = "scale layer"
    themes = ("bracket", "delta")
    supports = frozenset({"optimizer"})
    quantities = (keys.QuantityKind("c", "parameter", (0,)),)

    def read(self, model, below, at):  # c kept as the superset LayerSpec's one weight (S5a)
        return LayerSpec(units=below[0], activation=ActivationSpec("identity"), weights=((float(model.c),),), bias=None,
                         kind="scale", in_shape=below, out_shape=below)

    def to_mapping(self, layer):
        return {"type": "scale", "c": layer.weights[0][0]}

    def describe(self, layer):
        return f"scale by c = {layer.weights[0][0]:g}"

    def parameters(self, layer, l):
        return (ParameterBlock("c", l, (), layer.weights, penalised=False),)

    def with_values(self, layer, flat):
        return replace(layer, weights=((float(flat[0]),),))


SCALED = """title: scaled
notation: bracket
network:
  inputs: 2
  layers:
    - {units: 2, activation: sigmoid, weights: [[0.15, 0.2], [0.25, 0.3]], bias: [0.35, 0.35]}
    - {type: scale, c: 1.5}
    - {units: 1, activation: sigmoid, weights: [[0.4, 0.45]], bias: 0.6}
loss: {kind: mse}
data: [{x: [0.05, 0.1], y: [0.01]}]
training: {learning_rate: 0.5}
"""


def test_a_kind_registered_by_a_test_is_read_written_and_described_and_gone_after():
    with kinds.registered(Scale()):
        assert kinds.names() == SHIPPED_NAMES + ("scale",)
        problem = loads(SCALED, "scaled.yaml")
        assert [layer.kind for layer in problem.layers] == ["dense", "scale", "dense"]
        assert [str(key) for key in problem.parameter_keys] == ["W1[1,1]", "W1[1,2]", "W1[2,1]", "W1[2,2]", "b1[1]", "b1[2]",
                                                                "c2", "W3[1,1]", "W3[1,2]", "b3[1]"]
        assert problem.parameters()[keys.parse("c2")] == 1.5
        assert problem.weight_mask == (True,) * 4 + (False,) * 2 + (False,) + (True,) * 2 + (False,)
        assert problem.with_parameters({Quantity("c", 2): 2.0}).layers[1].weights == ((2.0,),)
        assert from_mapping(to_mapping(problem), problem.source) == problem
        assert "layer 2: scale by c = 1.5" in problem.describe()
        assert "ScaleModel" in json_schema()["$defs"]
        with pytest.raises(SpecError) as err:  # a kind that supports no runs refuses them, as conv2d does
            loads(SCALED.replace("learning_rate: 0.5}", "learning_rate: 0.5, epochs: 2}"), "scaled.yaml")
        assert str(err.value).startswith("scaled.yaml: training: a network with conv2d or pooling layers takes learning_rate and steps")
    assert kinds.names() == SHIPPED_NAMES
    assert "ScaleModel" not in json_schema()["$defs"]
    with pytest.raises(keys.NameError_):
        keys.parse("c2")
    with pytest.raises(SpecError) as err:
        loads(SCALED, "scaled.yaml")
    assert str(err.value) == "scaled.yaml: network.layers[1].type: one of dense, conv2d, maxpool2d, avgpool2d, flatten, rnn expected, got 'scale'"


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="layer kind dense is registered already"):
        kinds.register(kinds.layer("dense"))
    assert kinds.names() == SHIPPED_NAMES


# ---------------------------------------------------------------------------
# The graph side: each kind builds its layer's families (plan §6 S6)
# ---------------------------------------------------------------------------


def test_each_kind_builds_its_families_and_says_what_it_built():
    """conv_maxpool: x (16 nodes) and y (2), then the conv layer's W (4) and b (1), its z and a
    (3×3 each), the pooling's a (2×2), nothing for flatten, the dense layer's W, b, z, a."""
    from tracer import load
    from tracer.layers.network import build

    network = build(load("examples/conv_maxpool.yaml"))
    conv, pool, flatten, dense = network.built
    assert [(f.kind, f.start, f.shape) for f in conv.parameters] == [("W", 18, (1, 1, 2, 2)), ("b", 22, (1,))]
    assert [(f.kind, f.start, f.shape) for f in conv.z + conv.a] == [("z", 23, (1, 3, 3)), ("a", 32, (1, 3, 3))]
    assert (pool.z, [(f.kind, f.start, f.shape) for f in pool.a], pool.parameters) == ((), [("a", 41, (1, 2, 2))], ())
    assert flatten.families == pool.families and (flatten.z, flatten.a, flatten.shape) == ((), (), (4,))
    assert flatten.ids.tolist() == [41, 42, 43, 44]  # the dense layer reads the pooled map, channel by channel, row by row
    assert [f.start for f in dense.parameters] == [45, 53] and network.parameter_nodes.tolist() == [18, 19, 20, 21, 22] + list(range(45, 55))
    assert [network.section_title(l) for l in (1, 2, 3, 4)] == ["convolution layer 1", "max-pooling layer 2", "flatten layer 3", "output layer"]


def test_an_rnn_builds_one_family_per_time_step_and_fills_its_initial_state():
    """rnn_sequence: 3 time steps of 2 units, every state passed on to a dense layer applied at every step."""
    from tracer import load
    from tracer.layers.network import build

    problem = load("examples/rnn_sequence.yaml")
    problem = replace(problem, layers=(replace(problem.layers[0], initial_state=(0.5, -0.25)),) + problem.layers[1:])
    network = build(problem)
    rnn, dense = network.built
    assert (rnn.stepped, rnn.sequence, dense.stepped, dense.sequence) == (True, True, True, True)
    assert [(f.start, f.offset) for f in rnn.families] == [(18, (0, 0)), (22, (1, 0)), (26, (2, 0))]
    assert [(f.start, f.offset, f.constant) for f in rnn.constants] == [(14, (-1, 0), True)]
    z, a, shape = network.layer_nodes(1)
    assert (z.tolist(), a.tolist(), shape) == ([16, 17, 20, 21, 24, 25], [18, 19, 22, 23, 26, 27], (3, 2))
    values = network.leaves(problem.data, problem.parameter_vector())
    assert values[:, 14:16].tolist() == [[0.5, -0.25]] * len(problem.data)  # a0, the state before the first step


def test_the_graph_problems_equations_are_the_registered_form_equations():
    """CS231n's f = (x + y)·z: the leaves x, y, z in the file's order, then q and f; the backward
    pass writes ∂f/∂z, ∂f/∂q, then ∂f/∂x and ∂f/∂y."""
    from tracer import load
    from tracer.layers.equations import Equations

    kind = kinds.form("equations")
    assert isinstance(kind, Equations)
    system = kind.build(load("examples/graph_cs231n.yaml"))
    assert [(n.name, n.number, n.equation) for n in system.nodes] == [("x", 0, None), ("y", 1, None), ("z", 2, None), ("q", 3, 0), ("f", 4, 1)]
    assert (system.graph.output, system.backward) == (4, (3, 2, 0, 1))
