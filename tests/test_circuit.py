"""The circuit diagram (tracer/render/circuit.py), on CS231n's "Backpropagation, Intuitions" circuits.

Each circuit is built by hand as the engine's caller would build it: ready strings for the
names, gate symbols, values and gradients. The tests check what a reader relies on — every
wire labelled, the value above and the gradient below, inputs on the left, the output wire
leaving to the right, a gate's arguments entering top to bottom, a fan-out as one stem that
branches, nothing overlapping by the layout's own estimate — and compile the TikZ.
"""

from __future__ import annotations

import random
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import needs
from tracer.render.circuit import CircuitEdge, CircuitNode, layout, svg, tikz


def leaf(node_id: str, tex: str, text: str, value: str, gradient: str) -> CircuitNode:
    return CircuitNode(node_id, tex, text, None, None, value, gradient)


def gate(node_id: str, symbol_tex: str, symbol_text: str, value: str, gradient: str, output: bool = False) -> CircuitNode:
    return CircuitNode(node_id, node_id, node_id, symbol_tex, symbol_text, value, gradient, output)


E = CircuitEdge

#: f(x, y, z) = (x + y) z at x = −2, y = 5, z = −4: q = x + y, f = q z
CS231N = (
    [
        leaf("x", "x", "x", "-2.00", "-4.00"),
        leaf("y", "y", "y", "5.00", "-4.00"),
        leaf("z", "z", "z", "-4.00", "3.00"),
        gate("q", "+", "+", "3.00", "-4.00"),
        gate("f", r"\times", "×", "-12.00", "1.00", output=True),
    ],
    [E("x", "q", 0), E("y", "q", 1), E("q", "f", 0), E("z", "f", 1)],
)

#: CS231n's sigmoid neuron f = 1 / (1 + exp(−(w0 x0 + w1 x1 + w2))), gate by gate
SIGMOID = (
    [
        leaf("w0", "w_{0}", "w₀", "2.00", "-0.20"),
        leaf("x0", "x_{0}", "x₀", "-1.00", "0.39"),
        leaf("w1", "w_{1}", "w₁", "-3.00", "-0.39"),
        leaf("x1", "x_{1}", "x₁", "-2.00", "-0.59"),
        leaf("w2", "w_{2}", "w₂", "-3.00", "0.20"),
        gate("a", r"\times", "×", "-2.00", "0.20"),
        gate("b", r"\times", "×", "6.00", "0.20"),
        gate("c", "+", "+", "4.00", "0.20"),
        gate("d", "+", "+", "1.00", "0.20"),
        gate("g", r"\cdot(-1)", "·(−1)", "-1.00", "-0.20"),
        gate("h", r"\exp", "exp", "0.37", "-0.53"),
        gate("k", "+1", "+1", "1.37", "-0.53"),
        gate("f", "1/x", "1/x", "0.73", "1.00", output=True),
    ],
    [
        E("w0", "a", 0), E("x0", "a", 1), E("w1", "b", 0), E("x1", "b", 1),
        E("a", "c", 0), E("b", "c", 1), E("c", "d", 0), E("w2", "d", 1),
        E("d", "g", 0), E("g", "h", 0), E("h", "k", 0), E("k", "f", 0),
    ],
)

#: a fan-out: y feeds p = x y and s = y², f = p + s; y's gradient 8 = x + 2y is the sum of both paths
FANOUT = (
    [
        leaf("x", "x", "x", "2", "3"),
        leaf("y", "y", "y", "3", "8"),
        gate("p", r"\times", "×", "6", "1"),
        gate("s", "x^{2}", "x²", "9", "1"),
        gate("f", "+", "+", "15", "1", output=True),
    ],
    [E("x", "p", 0), E("y", "p", 1), E("y", "s", 0), E("p", "f", 0), E("s", "f", 1)],
)

#: nine significant digits, a max and a σ gate, a leaf used twice and a wire that skips columns
LONG_LABELS = (
    [
        leaf("x", "x", "x", "-0.196611933", "12.3456789"),
        leaf("y", "y", "y", "3.14159265", "-0.000123456789"),
        leaf("z", "z", "z", "2.5", "0"),
        leaf("w", "w", "w", "-1.5", "-7.25843019"),
        gate("a", r"\times", "×", "-0.617655411", "-1.5"),
        gate("b", r"\max", "max", "2.5", "0.158973342"),
        gate("c", r"\sigma", "σ", "0.924141820", "-0.294922013"),
        gate("d", r"\times", "×", "-0.181697014", "-1.5"),
        gate("e", "+", "+", "-0.799352425", "-1.5"),
        gate("f", r"\times", "×", "1.19902864", "1.00", output=True),
    ],
    [
        E("x", "a", 0), E("y", "a", 1), E("a", "b", 0), E("z", "b", 1), E("b", "c", 0),
        E("c", "d", 0), E("x", "d", 1), E("d", "e", 0), E("a", "e", 1), E("e", "f", 0), E("w", "f", 1),
    ],
)

CIRCUITS = {"cs231n": CS231N, "sigmoid": SIGMOID, "fanout": FANOUT, "long_labels": LONG_LABELS}


@pytest.fixture(params=sorted(CIRCUITS))
def circuit(request):
    nodes, edges = CIRCUITS[request.param]
    return nodes, edges, layout(nodes, edges)


def labels_of(placed, kind):
    return {lab.node_id: lab for lab in placed.labels if lab.kind == kind}


def stem_of(placed, node_id):
    return next(w for w in placed.wires if w.source == node_id and w.target is None)


# ---------------------------------------------------------------------------
# What the reader sees
# ---------------------------------------------------------------------------


def test_every_wire_carries_its_value_above_and_its_gradient_below(circuit):
    nodes, _, placed = circuit
    values, gradients = labels_of(placed, "value"), labels_of(placed, "gradient")
    for node in nodes:
        (x0, y0), (x1, y1) = stem_of(placed, node.id).points
        assert y0 == y1 and x0 < x1, "a stem is level and runs left to right"
        value, gradient = values[node.id], gradients[node.id]
        assert (value.text, gradient.text) == (node.value, node.gradient)
        assert value.box.bottom >= y0 and gradient.box.top <= y0, f"{node.id}: value above, gradient below"
        for label in (value, gradient):
            assert x0 <= label.box.left and label.box.right <= x1, f"{node.id}: its labels stay on its own stem"


def test_the_cs231n_circuit_reads_left_to_right():
    placed = layout(*CS231N)
    assert [p.node.id for p in placed.nodes if p.column == 0] == ["x", "y"]
    assert placed.node("q").column == 1 and placed.node("f").column == 2
    # z stands just left of the gate it feeds, below q: its wire is as short as q's
    assert placed.node("z").column == 1 and placed.node("z").y < placed.node("q").y
    inputs = labels_of(placed, "input")
    assert sorted(inputs) == ["x", "y", "z"]
    for node_id, name in inputs.items():
        assert name.box.right <= stem_of(placed, node_id).points[0][0], "an input's name at the left end of its wire"
    out = stem_of(placed, "f")
    assert out.arrow and out.points[-1][0] == max(x for w in placed.wires for x, _ in w.points)
    assert labels_of(placed, "gradient")["f"].text == "1.00"
    assert labels_of(placed, "output")["f"].box.left > out.points[-1][0]


def test_a_gates_inputs_enter_in_slot_order_from_the_top(circuit):
    _, edges, placed = circuit
    by_target: dict[str, list] = {}
    for wire in placed.wires:
        if wire.target is not None:
            by_target.setdefault(wire.target, []).append(wire)
    assert sorted((w.source, w.target, w.slot) for ws in by_target.values() for w in ws) == sorted((e.source, e.target, e.slot) for e in edges)
    for target, wires in by_target.items():
        ends = [w.points[-1] for w in sorted(wires, key=lambda w: w.slot)]
        assert [y for _, y in ends] == sorted((y for _, y in ends), reverse=True), f"{target}: slot 0 enters at the top"
        centre = placed.node(target)
        for x, y in ends:
            assert x < centre.x and abs(((x - centre.x) ** 2 + (y - centre.y) ** 2) ** 0.5 - placed.radius) < 0.01, "on the circle's left"
        assert all(w.arrow for w in wires)


def test_the_sigmoid_chain_runs_straight():
    placed = layout(*SIGMOID)
    chain = ["d", "g", "h", "k", "f"]
    assert [placed.node(n).column for n in chain] == [3, 4, 5, 6, 7]
    assert len({placed.node(n).y for n in chain}) == 1
    gates = {p.node.id: p.node.gate_tex for p in placed.nodes if p.is_gate}
    assert gates["g"] == r"\cdot(-1)" and gates["f"] == "1/x"
    assert placed.node("w2").column == 2, "w2 just left of d, the gate it feeds"
    # a and b each sit between their two inputs
    for gate_id, (top, bottom) in {"a": ("w0", "x0"), "b": ("w1", "x1"), "c": ("a", "b")}.items():
        assert placed.node(bottom).y < placed.node(gate_id).y < placed.node(top).y


def test_a_fan_out_is_one_stem_that_branches():
    placed = layout(*FANOUT)
    assert sum(1 for lab in placed.labels if lab.node_id == "y" and lab.kind == "gradient") == 1
    assert labels_of(placed, "gradient")["y"].text == "8"
    stem = stem_of(placed, "y")
    assert stem.points[-1] in placed.branches and len(placed.branches) == 1
    branches = [w for w in placed.wires if w.source == "y" and w.target is not None]
    assert sorted(w.target for w in branches) == ["p", "s"]
    assert all(w.points[0] == stem.points[-1] for w in branches)


def test_a_wire_that_skips_columns_passes_no_gate():
    placed = layout(*LONG_LABELS)
    skip = next(w for w in placed.wires if (w.source, w.target) == ("x", "d"))
    assert placed.node("d").column - placed.node("x").column > 1
    assert len(skip.points) > 2
    assert not [c for c in placed.collisions() if "crosses" in c]


def test_nothing_overlaps_by_the_layouts_own_estimate(circuit):
    *_, placed = circuit
    assert placed.collisions() == []
    for lab in placed.labels:
        b = lab.box
        assert 0 <= b.left < b.right <= placed.extent.right and 0 <= b.bottom < b.top <= placed.extent.top


def test_columns_are_wide_enough_for_nine_digits():
    placed = layout(*LONG_LABELS)
    longest = labels_of(placed, "gradient")["y"]  # "-0.000123456789"
    assert longest.box.right - longest.box.left > 2.0  # cm: ~0.55 em a character at 8 pt
    (x0, _), (x1, _) = stem_of(placed, "y").points
    assert x1 - x0 >= longest.box.right - longest.box.left


def test_random_circuits_stay_clean():
    """Made-up circuits of up to 30 nodes, with fan-outs and wires skipping columns: no overlap,
    no wire through a gate or a label."""
    rng = random.Random(7)
    numbers = ["-0.196611933", "2", "3.5", "-12.00", "0.000123456789", "1.00"]
    symbols = [("+", "+"), (r"\times", "×"), (r"\max", "max"), (r"\exp", "exp"), (r"\cdot(-1)", "·(−1)"), (r"\sigma", "σ")]
    for _ in range(40):
        nodes = [leaf(f"l{i}", f"l_{{{i}}}", f"l{i}", rng.choice(numbers), rng.choice(numbers)) for i in range(rng.randint(1, 6))]
        edges = []
        for j in range(rng.randint(1, 24)):
            sources = [rng.choice(nodes).id for _ in range(rng.choice([1, 2, 2, 3]))]
            symbol = rng.choice(symbols)
            nodes.append(CircuitNode(f"g{j}", f"g_{{{j}}}", f"g{j}", *symbol, rng.choice(numbers), rng.choice(numbers)))
            edges += [E(source, f"g{j}", slot) for slot, source in enumerate(sources)]
        nodes[-1] = CircuitNode(*[getattr(nodes[-1], f) for f in ("id", "name_tex", "name_text", "gate_tex", "gate_text", "value", "gradient")], True)
        placed = layout(nodes, edges)
        assert placed.collisions() == [], [(n.id, n.gate_text) for n in nodes]


# ---------------------------------------------------------------------------
# The caller's contract
# ---------------------------------------------------------------------------


def test_none_beyond_max_nodes():
    nodes, edges = SIGMOID
    assert layout(nodes, edges, max_nodes=len(nodes) - 1) is None
    assert layout(nodes, edges, max_nodes=len(nodes)) is not None
    assert layout([], []) is None


def test_the_output_is_deterministic(circuit):
    nodes, edges, placed = circuit
    again = layout(nodes, list(reversed(edges)))
    assert again == placed
    assert tikz(again) == tikz(placed) and svg(again) == svg(placed)


@pytest.mark.parametrize(
    "nodes, edges, message",
    [
        ([leaf("a b", "a", "a", "1", "1")], [], "not [A-Za-z0-9]+"),
        ([leaf("a", "a", "a", "1", "1"), leaf("a", "a", "a", "1", "1")], [], "used twice"),
        ([leaf("a", "a", "a", "1", "1")], [E("a", "nowhere", 0)], "no node"),
        ([leaf("a", "a", "a", "1", "1"), leaf("b", "b", "b", "1", "1")], [E("a", "b", 0)], "is a leaf"),
        ([leaf("a", "a", "a", "1", "1"), gate("g", "+", "+", "2", "1")], [E("a", "g", 0), E("a", "g", 0)], "slot 0"),
        ([gate("g", "+", "+", "1", "1"), gate("h", "+", "+", "1", "1")], [E("g", "h", 0), E("h", "g", 0)], "cycle"),
    ],
)
def test_bad_input_is_refused(nodes, edges, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        layout(nodes, edges)


def test_a_square_is_one_stem_into_both_ports():
    placed = layout([leaf("x", "x", "x", "3", "6"), gate("f", r"\times", "×", "9", "1", output=True)], [E("x", "f", 0), E("x", "f", 1)])
    assert placed.collisions() == []
    ends = sorted(w.points[-1][1] for w in placed.wires if w.target == "f")
    assert len(ends) == 2 and ends[0] < ends[1]


# ---------------------------------------------------------------------------
# The two drawings
# ---------------------------------------------------------------------------


def test_tikz_is_plain_tikz_with_math_labels():
    text = tikz(layout(*CS231N))
    assert text.startswith(r"\begin{tikzpicture}") and text.rstrip().endswith(r"\end{tikzpicture}")
    assert r"\usetikzlibrary" not in text and r"\textcolor" not in text
    assert "text=green!45!black" in text and "text=red!75!black" in text
    assert r"{$-12.00$}" in text and r"{$\times$}" in text and r"{$x$}" in text
    assert text.count(r"\node[value]") == 5 and text.count(r"\node[gradient]") == 5
    assert text.count(r"\draw[->]") == 5  # four arguments and the output wire


def test_svg_is_well_formed_and_escapes_what_users_write():
    nodes, edges = CS231N
    nasty = [leaf("x", "x", 'a<b & "c"', "-2.00", "-4.00"), *nodes[1:]]
    text = svg(layout(nasty, edges))
    root = ET.fromstring(text)  # well-formed XML
    assert root.tag.endswith("svg") and root.get("viewBox", "").startswith("0 0 ")
    assert "a&lt;b &amp; &quot;c&quot;" in text and 'a<b' not in text
    assert any(e.tag.endswith("marker") for e in root.iter())
    fills = {e.get("fill") for e in root.iter() if e.tag.endswith("text")}
    assert {"#007300", "#bf0000"} <= fills
    texts = [e.text for e in root.iter() if e.tag.endswith("text")]
    assert "−12.00" in texts and 'a<b & "c"' in texts  # a minus sign, as TeX prints it
    with pytest.raises(ValueError):
        svg(layout(*CS231N), id_prefix="a b")


def test_svg_ids_can_be_kept_apart():
    placed = layout(*FANOUT)
    assert 'id="one-arrow"' in svg(placed, id_prefix="one") and 'url(#one-arrow)' in svg(placed, id_prefix="one")


@pytest.mark.latex
@needs("pdflatex")
def test_the_tikz_compiles(tmp_path):
    pictures = "\n\n".join(tikz(layout(nodes, edges)) for nodes, edges in CIRCUITS.values())
    document = "\\documentclass{article}\n\\usepackage{amsmath}\n\\usepackage{tikz}\n\\begin{document}\n" + pictures + "\\end{document}\n"
    (tmp_path / "circuits.tex").write_text(document, encoding="utf-8")
    result = subprocess.run(
        ["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "circuits.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "circuits.pdf").read_bytes().startswith(b"%PDF")
    log = (tmp_path / "circuits.log").read_text(encoding="utf-8", errors="replace")
    assert "Missing character" not in log and "Undefined control sequence" not in log
