"""The textbook shortcut written after the chain, not instead of it: softmax with cross-entropy and
sigmoid with binary cross-entropy give ∂loss/∂z_j = a_j − y_j (issue 29)."""

from __future__ import annotations

from pytest import approx

from conftest import ROOT
from tracer import load
from tracer.core.derive import solve
from tracer.core.solution import Sum
from tracer.render import document


def test_softmax_with_cross_entropy_is_a_minus_y_after_the_full_sum():
    solution = solve(load(ROOT / "examples" / "relu_softmax_3class.yaml"), verify=False)
    step = solution.step("dloss#1/dz2[1]")
    assert isinstance(step.form, Sum) and len(step.form.terms) == 3  # the chain through every softmax output stays
    assert str(step.shortcut.symbolic) == "a2[1] - y[1]"
    a, y = (b.value for b in step.shortcut.bindings)
    assert (a, y) == (approx(0.150878988, abs=5e-10), 1.0)
    assert step.value == approx(a - y, abs=1e-15) == approx(-0.849121012, abs=5e-10)
    assert "shortcut" in step.note


def test_the_document_writes_it_beside_the_chain():
    text = document.render(solve(load(ROOT / "examples" / "relu_softmax_3class.yaml")), "text")
    line = next(l for l in text.splitlines() if l.startswith("(50) "))
    assert "= −0.849121012 = a2[1]#1 − y[1]#1 = 0.150878988 − 1 = −0.849121012" in line
    assert line.index("(−6.62782813) × 0.128114519") < line.index("a2[1]#1 − y[1]#1")  # after the chain


def test_sigmoid_with_binary_cross_entropy_is_a_minus_y():
    solution = solve(load(ROOT / "examples" / "xor.yaml"), verify=False)
    step = solution.step("dloss#2/dz2[1]")
    a, y = (b.value for b in step.shortcut.bindings)
    assert y == 1.0 and step.value == approx(a - y, abs=1e-15) == approx(-0.442945505, abs=5e-10)


def test_no_shortcut_where_the_texts_write_none():
    """Squared error (the chain is already −(y − a)·1), log10 (a − y over ln 10), a hidden layer."""
    for name, key in (("mazur", "dloss/dz2[1]"), ("yeum_3333", "dloss/dz3[1]"), ("relu_softmax_3class", "dloss#1/dz1[1]")):
        solution = solve(load(ROOT / "examples" / f"{name}.yaml"), verify=False)
        assert solution.step(key).shortcut is None, name
