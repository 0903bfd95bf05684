"""The four notation themes, name by name, as a student reads them.

Each theme gives the parts of a symbol (letter, subscript, superscript); the base class
adds the marks of a sample and of the update and writes LaTeX, plain labels and the
source's plain names from those parts. A word is upright (``\\mathrm{net}``, and
``\\text{total}`` in a script), a single letter and a unit label (``h1``) math italic.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tracer import solve
from tracer.keys import LOSS, LOSS_AFTER, Partial, W, a, b, loss, loss_term, parse, x, y, z
from tracer.notation import THEMES, NamesView, Symbol, theme
from tracer.notation.symbol import DELTA, HAT_Y, SCRIPT_L
from tracer.render import step_printer
from tracer.core.solution import GraphSolution
from tracer.render.document import diagram_view, printer_for, render
from tracer.render.graph import render_graph
from tracer.spec import load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.yaml") if "errata" not in p.parts)
NETWORKS = [p for p in EXAMPLES if not p.stem.startswith("graph_")]  # a graph's nodes keep their own names: no themes

MAZUR = load(ROOT / "examples" / "mazur.yaml")  # 2-2-2, one bias per layer, one sample
BLOG = load(ROOT / "examples" / "relu_softmax_3class.yaml")  # 2-2-3, a bias per unit, three samples
DEEP = load(ROOT / "examples" / "deep_sigmoid.yaml")  # 2-3-3-2: three layers


def names(theme_name: str, problem) -> dict[str, str]:
    """Every kind of quantity of ``problem`` in the theme's LaTeX, by canonical name."""
    t = theme(theme_name, problem)
    keys = {
        "x[1]": x(1),
        "y[2]": y(2),
        "z1[2]": z(1, 2),
        "a1[2]": a(1, 2),
        "z2[1]": z(2, 1),
        "a2[1]": a(2, 1),
        "W1[1,2]": W(1, 1, 2),
        "W2[1,2]": W(2, 1, 2),
        "b1": b(1),
        "b2[1]": b(2, 1),
        "loss": LOSS,
        "loss[2]": loss_term(2),
        "loss_after": LOSS_AFTER,
        "W2[1,2]'": W(2, 1, 2).updated(),
        "b2'": b(2).updated(),
        "b2[1]'": b(2, 1).updated(),
        "x[1]#2": x(1, 2),
        "y[1]#2": y(1, 2),
        "z1[2]#3": z(1, 2, 3),
        "a2[1]#2": a(2, 1, 2),
        "loss#2": loss(2),
        "loss[1]#2": loss_term(1, 2),
    }
    return {name: t.quantity(key) for name, key in keys.items()}


# ---------------------------------------------------------------------------
# The parts, and the one writer of them
# ---------------------------------------------------------------------------


def test_a_word_is_upright_a_letter_and_a_unit_label_italic():
    assert Symbol("net", "h1").latex() == r"\mathrm{net}_{h1}"
    assert Symbol("E", "total").latex() == r"E_{\text{total}}"
    assert Symbol("CE", (), "total").latex() == r"\mathrm{CE}^{\text{total}}"
    assert Symbol("N", 1, "input").latex() == r"N_{1}^{\text{input}}"
    assert Symbol("w", 5).latex() == "w_{5}"
    assert Symbol(HAT_Y, 1).latex() == r"\hat{y}_{1}"
    assert Symbol(DELTA, 1, "(K)").latex() == r"\delta_{1}^{(K)}"


def test_pieces_are_joined_by_commas_and_symbols_nest():
    assert Symbol("w", (2, 1), "[2]").latex() == "w_{2,1}^{[2]}"
    assert Symbol("w", (Symbol("N", 1), Symbol("O", 1))).latex() == "w_{N_{1},O_{1}}"
    assert Symbol("N", 1, ("input", Symbol("sample", 2))).latex() == r"N_{1}^{\text{input},\text{sample}_{2}}"


def test_a_prime_belongs_to_the_letter():
    assert Symbol("b", Symbol("O", 1), prime=True).latex() == "b'_{O_{1}}"
    # with a superscript as well, w'^{(K)} would be a double superscript
    assert Symbol("w", "12", "(K)", prime=True).latex() == "{w'}_{12}^{(K)}"
    assert Symbol(SCRIPT_L, prime=True).latex() == r"\mathcal{L}'"


def test_plain_labels_are_written_from_the_parts():
    assert Symbol("out", "h1").plain() == "out_h1"
    assert Symbol("w", 5).plain() == "w_5"
    assert Symbol(HAT_Y, 1).plain() == "ŷ_1"
    assert Symbol("w", (2, 1), "[2]").plain() == "w_2,1^[2]"
    assert Symbol("w", (Symbol("N", 1), Symbol("O", 1))).plain() == "w_N_1,O_1"
    assert Symbol(SCRIPT_L, 1).plain() == "L_1"


def test_the_parts_of_a_theme():
    mazur, bracket = theme("mazur", MAZUR), theme("bracket", MAZUR)
    assert mazur.parts(z(2, 1)) == Symbol("net", "o1")
    assert mazur.parts(z(1, 1)) == Symbol("net", "h1")
    assert mazur.parts(W(2, 1, 1)) == Symbol("w", "5")
    assert bracket.parts(W(2, 1, 2)) == Symbol("w", ("2", "1"), "[2]")
    # the marks are the base class's business, not the parts'
    assert mazur.parts(a(1, 1, 2)) == mazur.parts(a(1, 1))
    assert mazur.symbol(a(1, 1, 2)) == Symbol("out", "h1", "(2)")


# ---------------------------------------------------------------------------
# Every theme, every kind of quantity: the exact LaTeX
# ---------------------------------------------------------------------------


def test_mazur_names():
    assert names("mazur", MAZUR) == {
        "x[1]": "i_{1}",
        "y[2]": r"\mathrm{target}_{o2}",
        "z1[2]": r"\mathrm{net}_{h2}",
        "a1[2]": r"\mathrm{out}_{h2}",
        "z2[1]": r"\mathrm{net}_{o1}",
        "a2[1]": r"\mathrm{out}_{o1}",
        "W1[1,2]": "w_{2}",
        "W2[1,2]": "w_{6}",
        "b1": "b_{1}",
        "b2[1]": "b_{o1}",
        "loss": r"E_{\text{total}}",
        "loss[2]": "E_{o2}",
        "loss_after": r"E_{\text{total}}^{+}",
        "W2[1,2]'": "w_{6}^{+}",
        "b2'": "b_{2}^{+}",
        "b2[1]'": "b_{o1}^{+}",
        "x[1]#2": "i_{1}^{(2)}",
        "y[1]#2": r"\mathrm{target}_{o1}^{(2)}",
        "z1[2]#3": r"\mathrm{net}_{h2}^{(3)}",
        "a2[1]#2": r"\mathrm{out}_{o1}^{(2)}",
        "loss#2": r"E_{\text{total}}^{(2)}",
        "loss[1]#2": "E_{o1}^{(2)}",
    }


def test_mazur_names_a_deeper_network_layer_by_layer():
    t = theme("mazur", DEEP)
    assert t.quantity(z(1, 2)) == r"\mathrm{net}_{h12}"
    assert t.quantity(a(2, 3)) == r"\mathrm{out}_{h23}"
    assert t.quantity(z(3, 1)) == r"\mathrm{net}_{o1}"
    assert t.quantity(W(3, 2, 3)) == "w_{21}"  # 6 + 9 weights before layer 3, then unit 2's third
    assert t.quantity(b(2, 1)) == "b_{h21}"


def test_bracket_names():
    assert names("bracket", BLOG) == {
        "x[1]": "x_{1}",
        "y[2]": "y_{2}",
        "z1[2]": "z_{2}^{[1]}",
        "a1[2]": "h_{2}",  # one hidden layer: h_j
        "z2[1]": "z_{1}^{[2]}",
        "a2[1]": r"\hat{y}_{1}",
        "W1[1,2]": "w_{2,1}^{[1]}",  # from node 2 to node 1
        "W2[1,2]": "w_{2,1}^{[2]}",
        "b1": "b^{[1]}",
        "b2[1]": "b_{1}^{[2]}",
        "loss": "J",
        "loss[2]": "J_{2}",
        "loss_after": "J^{+}",
        "W2[1,2]'": r"w_{2,1,\text{new}}^{[2]}",
        "b2'": r"b_{\text{new}}^{[2]}",
        "b2[1]'": r"b_{1,\text{new}}^{[2]}",
        "x[1]#2": "x_{1,(2)}",
        "y[1]#2": "y_{1,(2)}",
        "z1[2]#3": "z_{2,(3)}^{[1]}",
        "a2[1]#2": r"\hat{y}_{1,(2)}",
        "loss#2": "J_{(2)}",
        "loss[1]#2": "J_{1,(2)}",
    }
    deep = theme("bracket", DEEP)
    assert deep.quantity(a(2, 1)) == "a_{1}^{[2]}" and deep.quantity(a(2, 1, 2)) == "a_{1,(2)}^{[2]}"


def test_neuron_names():
    assert names("neuron", BLOG) == {
        "x[1]": "x_{1}",
        "y[2]": r"\mathrm{Act}_{2}",
        "z1[2]": r"N_{2}^{\text{input}}",
        "a1[2]": r"N_{2}^{\text{output}}",
        "z2[1]": r"O_{1}^{\text{input}}",
        "a2[1]": r"\mathrm{Pred}_{1}",
        "W1[1,2]": "w_{2,N_{1}}",
        "W2[1,2]": "w_{N_{2},O_{1}}",
        "b1": "b_{1}",
        "b2[1]": "b_{O_{1}}",
        "loss": r"\mathrm{CE}^{\text{total}}",
        "loss[2]": r"\mathrm{CE}_{2}",
        "loss_after": r"{\mathrm{CE}'}^{\text{total}}",
        "W2[1,2]'": "w'_{N_{2},O_{1}}",
        "b2'": "b'_{2}",
        "b2[1]'": "b'_{O_{1}}",
        "x[1]#2": r"x_{1}^{\text{sample}_{2}}",
        "y[1]#2": r"\mathrm{Act}_{1}^{\text{sample}_{2}}",
        "z1[2]#3": r"N_{2}^{\text{input},\text{sample}_{3}}",
        "a2[1]#2": r"\mathrm{Pred}_{1}^{\text{sample}_{2}}",
        "loss#2": r"\mathrm{CE}^{\text{sample}_{2}}",  # one sample's loss in place of the total
        "loss[1]#2": r"\mathrm{CE}_{1}^{\text{sample}_{2}}",
    }
    deep = theme("neuron", DEEP)
    assert deep.quantity(W(2, 1, 2)) == "w_{N_{1,2},N_{2,1}}"
    assert deep.quantity(W(3, 2, 3)) == "w_{N_{2,3},O_{2}}"


def test_delta_names():
    assert names("delta", BLOG) == {
        "x[1]": "x_{1}",
        "y[2]": "t_{2}",
        "z1[2]": "z_{2}^{(J)}",
        "a1[2]": "o_{2}^{(J)}",
        "z2[1]": "z_{1}^{(K)}",
        "a2[1]": "o_{1}^{(K)}",
        "W1[1,2]": "w_{21}^{(J)}",  # from unit 2 to unit 1
        "W2[1,2]": "w_{21}^{(K)}",
        "b1": "b^{(J)}",
        "b2[1]": "b_{1}^{(K)}",
        "loss": r"\mathcal{L}",
        "loss[2]": r"\mathcal{L}_{2}",
        "loss_after": r"\mathcal{L}'",
        "W2[1,2]'": "{w'}_{21}^{(K)}",
        "b2'": "{b'}^{(K)}",
        "b2[1]'": "{b'}_{1}^{(K)}",
        "x[1]#2": "x_{1}^{(2)}",
        "y[1]#2": "t_{1}^{(2)}",
        "z1[2]#3": "z_{2}^{(J),(3)}",
        "a2[1]#2": "o_{1}^{(K),(2)}",
        "loss#2": r"\mathcal{L}^{(2)}",
        "loss[1]#2": r"\mathcal{L}_{1}^{(2)}",
    }
    deep = theme("delta", DEEP)
    assert [deep.quantity(z(l, 1)) for l in (1, 2, 3)] == ["z_{1}^{(I)}", "z_{1}^{(J)}", "z_{1}^{(K)}"]


def test_partials_delta_names_its_own_and_the_others_leave_them_to_the_printer():
    delta = theme("delta", BLOG)
    assert delta.partial(parse("dloss/dz2[1]")) == r"\delta_{1}^{(K)}"
    assert delta.partial(parse("dloss/dz1[2]#2")) == r"\delta_{2}^{(J),(2)}"
    assert delta.partial(parse("dloss/dW2[1,1]")) is None
    assert delta.partial(parse("dloss[1]/dz2[1]")) is None  # a loss term's: not δ
    for name in ("bracket", "mazur", "neuron"):
        assert theme(name, BLOG).partial(parse("dloss/dz2[1]")) is None


def test_the_printer_writes_a_partial_from_the_theme_names():
    printer = printer_for(MAZUR, "latex", "mazur", 9)
    assert printer.target(parse("dloss/dW2[1,1]")) == r"\frac{\partial E_{\text{total}}}{\partial w_{5}}"
    assert printer.target(parse("da2[1]/dz2[1]")) == r"\frac{\partial \mathrm{out}_{o1}}{\partial \mathrm{net}_{o1}}"
    neuron = printer_for(BLOG, "latex", "neuron", 9)
    assert neuron.target(parse("dloss/db2[1]")) == r"\frac{\partial \mathrm{CE}^{\text{total}}}{\partial b_{O_{1}}}"
    delta = printer_for(MAZUR, "latex", "delta", 9)
    assert delta.target(parse("dloss/dz2[1]")) == r"\delta_{1}^{(K)}"


def test_loss_and_rate_of_each_theme():
    expected = {
        "bracket": ("J", r"\lambda", "λ"),
        "mazur": (r"E_{\text{total}}", r"\eta", "η"),
        "neuron": (r"\mathrm{CE}^{\text{total}}", "r", "r"),
        "delta": (r"\mathcal{L}", r"\eta", "η"),
    }
    for name, (loss_name, rate, text_rate) in expected.items():
        t = theme(name, BLOG)
        view = t.names_view()
        assert (view.loss_name, view.rate) == (loss_name, rate), name
        assert t.text_names_view().rate == text_rate, name


# ---------------------------------------------------------------------------
# Plain labels (figures) and the source's plain names (tracer ask, check)
# ---------------------------------------------------------------------------


def test_plain_labels_of_each_theme():
    assert [theme("mazur", MAZUR).label(q) for q in (x(1), a(1, 1), a(2, 2), W(2, 1, 1), b(1))] == ["i_1", "out_h1", "out_o2", "w_5", "b_1"]
    assert [theme("bracket", BLOG).label(q) for q in (a(1, 1), a(2, 1), W(2, 1, 2))] == ["h_1", "ŷ_1", "w_2,1^[2]"]
    assert [theme("neuron", BLOG).label(q) for q in (a(1, 1), a(2, 1), W(2, 1, 2), b(2, 1))] == ["N_1^output", "Pred_1", "w_N_2,O_1", "b_O_1"]
    assert [theme("delta", BLOG).label(q) for q in (a(1, 1), W(2, 1, 2), LOSS)] == ["o_1^(J)", "w_21^(K)", "L"]


def test_the_diagram_labels_are_built_from_the_parts():
    sol = solve(BLOG)
    neuron = diagram_view(sol, printer_for(sol.problem, "latex", "neuron", 9))
    assert [n["label"] for n in neuron["nodes"]] == ["x_{1}", "x_{2}", "N_{1}", "N_{2}", r"\mathrm{Pred}_{1}", r"\mathrm{Pred}_{2}", r"\mathrm{Pred}_{3}"]
    assert neuron["edges"][0]["label"] == "w_{1,N_{1}}"  # N_1^output: the unit, N_1
    mazur = diagram_view(solve(MAZUR), printer_for(MAZUR, "latex", "mazur", 9))
    assert [n["label"] for n in mazur["nodes"]][:2] == ["i_{1}", "i_{2}"] and mazur["nodes"][2]["label"] == r"\mathrm{out}_{h1}"
    assert [e["label"] for e in mazur["edges"]][4:] == ["w_{5}", "w_{6}", "w_{7}", "w_{8}"]
    assert mazur["biases"][0]["lines"] == ["b_{1} = 0.35"]


def test_mazur_plain_names():
    t = theme("mazur", MAZUR)
    assert [t.ascii(q) for q in (x(1), y(1), z(1, 1), a(2, 1), W(2, 1, 1), b(1), loss_term(1), LOSS)] == [
        "i1", "target_o1", "net_h1", "out_o1", "w5", "b1", "E_o1", "E_total",
    ]
    assert t.ascii(W(2, 1, 1).updated()) == "w5+"
    assert t.ascii(a(1, 1, 2)) == "out_h1#2"
    assert t.ascii(parse("dloss/dW2[1,1]")) == "dE_total/dw5"
    assert t.ascii(LOSS_AFTER) is None  # Mazur has no plain name for it
    assert theme("mazur", BLOG).ascii(b(2, 1)) == "b_o1"
    text = t.text_names_view()
    assert [text.quantity(q) for q in (W(2, 1, 1).updated(), a(1, 1, 2), LOSS_AFTER)] == ["w5⁺", "out_h1#2", "loss_after"]
    assert text.loss_name == "E_total"


def test_only_mazur_has_plain_names():
    for name in ("bracket", "neuron", "delta"):
        t = theme(name, BLOG)
        assert all(t.ascii(q) is None for q in t.every_quantity()), name
        assert t.parse_ascii("w5") is None
        assert t.text_names_view().quantity(W(2, 1, 1)) == "W2[1,1]"  # canonical where the source has no plain names


def _every_key(t):
    """Every quantity of the problem, of the first two samples, after the update, and the
    partial of the loss with respect to it."""
    for q in t.every_quantity():
        yield q
        if q.is_parameter:
            yield q.updated()
        else:
            for s in range(1, min(t.samples, 2) + 1):
                yield replace(q, sample=s)
        if q != LOSS:
            yield Partial(LOSS, q)
            yield Partial(LOSS, q, 1)


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_plain_names_round_trip(path):
    t = theme("mazur", load(path))
    seen = set()
    for key in _every_key(t):
        name = t.ascii(key)
        assert name is not None, key
        assert t.parse_ascii(name) == key, (name, key)
        seen.add(name.lower())
    assert len(seen) == len(set(_every_key(t)))  # no two quantities share a name


# ---------------------------------------------------------------------------
# Layers: naming does not depend on rendering; documents do not cite our numbering
# ---------------------------------------------------------------------------


def test_names_view_lives_with_the_themes():
    assert step_printer.NamesView is NamesView
    code = "import sys, tracer.notation; print(sorted(m for m in sys.modules if m.startswith('tracer.render')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def test_every_theme_is_built_from_parts():
    """No theme writes LaTeX itself: ``quantity`` is the base class's, for every theme."""
    for cls in THEMES.values():
        assert "quantity" not in vars(cls) and "partial" not in vars(cls), cls.name


@pytest.mark.parametrize("path", [p for p in EXAMPLES if "runs" not in p.parts], ids=lambda p: p.stem)
def test_documents_do_not_cite_our_source_numbering(path):
    sol = solve(load(path))
    for fmt_ in ("text", "md", "tex"):
        detail = "full" if fmt_ == "md" else "standard"
        document = render_graph(sol, fmt_, detail=detail) if isinstance(sol, GraphSolution) else render(sol, fmt_, detail=detail)
        found = re.search(r"\bsources? 0\d\d", document, re.I)
        assert found is None, (fmt_, document[max(found.start() - 60, 0) : found.end() + 20])
