"""Keys are keys: a key prints as its canonical name but never equals it (ARCHITECTURE, "names
parsed once at the boundary"). A name that travels where a key should then fails where it is
used, instead of matching by accident or silently matching nothing."""

import dataclasses

import pytest

from tracer import keys
from tracer.spec import SpecError, TrainingSpec, from_mapping, load

from conftest import EXAMPLES


def test_a_key_prints_as_its_name_but_never_equals_it():
    w = keys.W(1, 1, 1)
    assert str(w) == "W1[1,1]"
    assert w != "W1[1,1]" and "W1[1,1]" != w
    assert not (w == "W1[1,1]")
    assert keys.node("x") != "x"
    assert keys.parse("dloss/dW2[1,1]") != "dloss/dW2[1,1]"


def test_a_dict_keyed_by_names_finds_no_key_and_the_other_way_round():
    assert {"W1[1,1]": 1}.get(keys.W(1, 1, 1)) is None
    assert {keys.W(1, 1, 1): 1}.get("W1[1,1]") is None
    assert "W1[1,1]" not in {keys.W(1, 1, 1)}
    assert "W1[1,1]" not in [keys.W(1, 1, 1)]


def test_keys_equal_keys_of_the_same_name_and_hash_as_the_name():
    assert keys.parse("W1[1,1]") == keys.W(1, 1, 1)
    assert {keys.W(1, 1, 1): 1}[keys.parse("W1[1,1]")] == 1
    assert hash(keys.W(1, 1, 1)) == hash("W1[1,1]")  # unchanged: the text's hash


def test_two_kinds_that_print_alike_are_two_keys():
    # a graph's leaf named eta is not the learning rate η (a quiz varies both: teach.quiz.RATE)
    assert str(keys.node("eta")) == str(keys.hyper("eta")) == "eta"
    assert keys.node("eta") != keys.hyper("eta")
    assert len({keys.node("eta"): 1, keys.hyper("eta"): 2}) == 2


def test_keys_sort_among_themselves_by_name_and_not_with_names():
    assert sorted([keys.b(1), keys.W(1, 1, 1)]) == [keys.W(1, 1, 1), keys.b(1)]  # "W1[1,1]" < "b1"
    assert sorted([keys.parse("dloss/dW2[1,1]"), keys.a(1, 1)]) == [keys.a(1, 1), keys.parse("dloss/dW2[1,1]")]
    with pytest.raises(TypeError):
        sorted([keys.W(1, 1, 1), "x"])
    with pytest.raises(TypeError):
        keys.W(1, 1, 1) < "x"  # noqa: B015


def test_training_update_and_track_take_keys_not_names():
    with pytest.raises(TypeError, match=r"TrainingSpec.update: 'W1\[1,1\]': keys expected; parse names with tracer.keys.parse"):
        TrainingSpec(update=("W1[1,1]",))
    with pytest.raises(TypeError, match=r"TrainingSpec.track: 'b1\[1\]': keys expected"):
        TrainingSpec(track=(keys.W(1, 1, 1), "b1[1]"))
    # parsed, they train only what they name: Mazur's w5 alone
    mazur = load(EXAMPLES / "mazur.yaml")
    only_w5 = dataclasses.replace(mazur, training=dataclasses.replace(mazur.training, update=(keys.parse("W2[1,1]"),)))
    assert only_w5.trained_keys == (keys.W(2, 1, 1),)


# ---------------------------------------------------------------------------
# One parser: a graph problem's names are read by keys.parse(text, nodes=…)
# ---------------------------------------------------------------------------

def _graph_file(equations: list[str], values: dict, output: str) -> dict:
    return {"graph": {"equations": equations, "values": values, "output": output}}


def test_a_node_name_is_one_definition_greek_letters_latex_can_set():
    assert keys.NODE_NAME.match("θ1") and keys.NODE_NAME.match("w_2") and keys.NODE_NAME.match("ϑ")
    assert not keys.NODE_NAME.match("é") and not keys.NODE_NAME.match("Ϙ") and not keys.NODE_NAME.match("_u")
    # the spec reads a graph's names with it: θ is a leaf, é is refused in one line
    problem = from_mapping(_graph_file(["f = θ * x"], {"θ": 0.5, "x": 2}, "f"), "g.yaml")
    assert keys.parse("df/dθ", nodes=problem.names) == keys.Partial(keys.node("f"), keys.node("θ"))
    with pytest.raises(SpecError, match=r"g.yaml: graph.values.é: a name expected"):
        from_mapping(_graph_file(["f = 2 * x"], {"é": 0.5, "x": 2}, "f"), "g.yaml")


def test_parse_with_nodes_reads_a_graph_problems_names():
    nodes = {"f", "q", "x"}
    assert keys.parse("df/dx", nodes=nodes) == keys.Partial(keys.node("f"), keys.node("x"))
    assert keys.parse("∂f/∂x", nodes=nodes) == keys.parse("df/dx", nodes=nodes)
    assert keys.parse("df/dx|local", nodes=nodes).local
    assert keys.parse("x'@2", nodes=nodes) == keys.Quantity("node", after=True, step=2, name="x")
    assert keys.parse("q@end", nodes=nodes).step == keys.END
    with pytest.raises(keys.NameError_, match=r"'dg/dx': 'g' is not a node of this graph \(nodes: f, q, x\)"):
        keys.parse("dg/dx", nodes=nodes)
    # without nodes, the same text is a layered network's name or nothing
    with pytest.raises(keys.NameError_, match="is not a quantity name"):
        keys.parse("df/dx")


# ---------------------------------------------------------------------------
# Open kinds: a kind registered from outside prints and parses as the built-ins do
# ---------------------------------------------------------------------------

@pytest.fixture
def scale_kind():
    """A parameter kind ``c`` (one factor per unit: ``c2[1]``), registered for one test."""
    keys.register_kind(keys.QuantityKind("c", "parameter", (1,)))
    try:
        yield
    finally:
        keys.unregister_kind("c")


def test_a_registered_kinds_names_round_trip(scale_kind):
    c = keys.Quantity("c", 2, (1,))
    assert str(c) == "c2[1]" and keys.parse("c2[1]") == c and c.is_parameter
    assert keys.parse("dloss/dc2[1]#3") == keys.Partial(keys.LOSS, c, sample=3)
    assert keys.parse("c2[1]'@2") == c.updated().at_step(2)
    assert str(keys.parse("m(c2[1])@2")) == "m(c2[1])@2" and keys.parse("m(c2[1])@2").parameter == c
    with pytest.raises(keys.NameError_, match=r"'c2\[1,1\]': c takes 1 indices, got 2"):
        keys.parse("c2[1,1]")


def test_an_unregistered_kind_has_no_names_and_the_built_ins_stay(scale_kind):
    keys.unregister_kind("c")
    try:
        with pytest.raises(keys.NameError_, match="is not a quantity name"):
            keys.parse("c2[1]")
        with pytest.raises(ValueError, match="built-in"):
            keys.unregister_kind("W")
        with pytest.raises(ValueError, match="registered already"):
            keys.register_kind(keys.QuantityKind("W", "parameter", (2,)))
        with pytest.raises(ValueError, match="letters and _"):
            keys.register_kind(keys.QuantityKind("eta", "parameter", (1,)))  # a hyperparameter's name
    finally:
        keys.register_kind(keys.QuantityKind("c", "parameter", (1,)))  # the fixture removes it


def test_the_built_in_kinds_are_registered_and_the_role_says_what_is_trained():
    assert [keys.parse(n).is_parameter for n in ("W2[1,1]", "U1[1,2]", "b2", "a2[1]", "x[1]", "loss")] == [True] * 3 + [False] * 3
    assert keys.parse("m_hat(W2[1,1])@3").is_state and not keys.parse("W2[1,1]").is_state
    with pytest.raises(keys.NameError_, match=r"only parameters \(W…, U…, b…\) have a value after the update"):
        keys.parse("a2[1]'")


# ---------------------------------------------------------------------------
# Blocks: a whole family (W2, b1, a2#2@end, dloss/dW2, a recurrent state a1[3,:])
# ---------------------------------------------------------------------------

def test_a_block_names_a_family_and_gives_its_entries():
    w2 = keys.parse_block("W2")
    assert w2 == keys.Block("W", 2) and str(w2) == "W2" and w2.is_parameters
    assert w2.entry(1, 2) == keys.W(2, 1, 2)
    assert w2.keys((2, 2)) == [keys.W(2, 1, 1), keys.W(2, 1, 2), keys.W(2, 2, 1), keys.W(2, 2, 2)]
    assert keys.parse_block("b2").entry() == keys.b(2)  # a shared bias: the family's one entry
    assert keys.parse_block("U1").is_parameters


def test_parse_block_reads_after_sample_step_and_gradients():
    after = keys.parse_block("W2'")
    assert after == keys.Block("W", 2, after=True) and str(after) == "W2'" and not after.is_parameters
    assert str(after.entry(1, 1)) == "W2[1,1]'"
    assert [str(k) for k in keys.parse_block("a2#2@end").keys((2,))] == ["a2[1]#2@end", "a2[2]#2@end"]
    gradient = keys.parse_block("dloss#2/dW2")
    assert str(gradient) == "dloss/dW2#2" and gradient.entry(2, 1) == keys.parse("dloss/dW2[2,1]#2")
    state = keys.parse_block("a1[3,:]")  # a recurrent layer's state at time step 3
    assert state == keys.Block("a", 1, (3,)) and state.entry(2) == keys.Quantity("a", 1, (3, 2))


def test_parse_block_is_none_for_what_names_no_family():
    assert [keys.parse_block(t) for t in ("W2[1,1]", "w5", "penalty", "a2'", "loss_after", "m(W2)", "x2")] == [None] * 7


# ---------------------------------------------------------------------------
# scan: the longest name at a position (a claim's expression is tokenized with it)
# ---------------------------------------------------------------------------

def test_scan_finds_the_longest_canonical_name_where_the_grammar_ends_it():
    assert keys.scan("a2[1]/a2[2]", 0) == (keys.a(2, 1), 5)  # a quotient's numerator, not a partial
    assert keys.scan("a2[1]/a2[2]", 6) == (keys.a(2, 2), 11)
    assert keys.scan("dloss/dW2[1,1]*2", 0) == (keys.parse("dloss/dW2[1,1]"), 14)  # one partial
    assert keys.scan("loss - loss_after", 7) == (keys.LOSS_AFTER, 17)
    assert keys.scan("W2[1,1]'@2 - W2[1,1]", 0) == (keys.W(2, 1, 1).updated().at_step(2), 10)
    assert keys.scan("w5+ - w5", 0) is None and keys.scan("2*a2[1]", 0) is None
    assert keys.scan("∂f/∂θ*2", 0, nodes={"f", "θ"}) == (keys.parse("df/dθ", nodes={"f", "θ"}), 5)


def test_scan_through_the_mazur_reader_reads_its_plain_names():
    from tracer.notation import scan_name

    mazur = load(EXAMPLES / "mazur.yaml")
    assert scan_name("w5+ - w5", 0, mazur) == (keys.W(2, 1, 1).updated(), 3)  # Mazur's w5+ is W2[1,1]'
    assert scan_name("w5+ - w5", 6, mazur) == (keys.W(2, 1, 1), 8)
    assert scan_name("dE_total/dw5*2", 0, mazur) == (keys.parse("dloss/dW2[1,1]"), 12)
    assert scan_name("a2[1]/a2[2]", 0, mazur) == (keys.a(2, 1), 5)  # canonical names still
