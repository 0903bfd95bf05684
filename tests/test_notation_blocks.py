"""Whole vectors and matrices, the operators between them and an optimizer's letters, as the themes
give them to the views (the matrix form, the δ form, the feature-map grids, backpropagation through
time, the unrolled circuit), in LaTeX and in plain text.

Every theme writes a block as the views wrote it by hand before (``W^{[2]}`` whatever the theme), so
the documents are unchanged; a theme may now write its blocks its own way by overriding
``Theme.block``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tracer import keys
from tracer.keys import LOSS, Block, Quantity
from tracer.notation import THEMES, Symbol, base, theme
from tracer.notation import blocks
from tracer.notation import optimizer as letters
from tracer.render.step_printer import Printer
from tracer.spec import load

ROOT = Path(__file__).resolve().parent.parent
MAZUR = load(ROOT / "examples" / "mazur.yaml")


def both(symbol: Symbol) -> tuple[str, str]:
    return symbol.latex(), symbol.compact()


@pytest.mark.parametrize("name", sorted(THEMES))
def test_the_matrix_form_writes_a_layer_in_brackets_in_every_theme(name):
    t = theme(name, MAZUR)
    assert both(t.block(Block("W", 2))) == ("W^{[2]}", "W2")
    assert both(t.block(Block("b", 1))) == ("b^{[1]}", "b1")
    assert both(t.block(Block("z", 2))) == ("z^{[2]}", "z2")
    assert both(t.block(Block("a", 1))) == ("a^{[1]}", "a1")
    assert both(t.block(Block("x", None))) == ("x", "x")
    # the gradient of the loss with respect to a layer's z is δ
    assert both(t.block(Block("z", 2, of=LOSS))) == (r"\delta^{[2]}", "δ2")


def test_the_delta_form_writes_the_layer_number_in_parentheses():
    t = theme("delta", MAZUR)  # the δ theme letters its layers K, J, …; the δ form of the views numbers them
    assert both(t.block(Block("W", 2), blocks.DELTA_FORM)) == ("W^{(2)}", "W(2)")
    assert both(t.block(Block("a", 1), blocks.DELTA_FORM)) == ("a^{(1)}", "a(1)")
    assert both(t.block(Block("z", 1, of=LOSS), blocks.DELTA_FORM)) == (r"\delta^{(1)}", "δ(1)")
    assert both(blocks.layer_symbol("J", 2, blocks.DELTA_FORM)) == ("J^{(2)}", "J(2)")  # the softmax Jacobian
    assert blocks.DELTA_FORM.loss is not None and blocks.DELTA_FORM.loss.latex == r"\mathcal{L}"


def test_a_state_at_a_time_step_is_h_with_the_layer_before_the_time():
    t = theme("bracket", MAZUR)
    assert t.block(Block("a", 1), blocks.GRID, time="t").latex() == "h^{[1]}_{t}"
    assert t.block(Block("a", 2), blocks.GRID, time="t-1").latex() == "h^{[2]}_{t-1}"
    assert t.block(Block("x", None), blocks.GRID, time=3).latex() == "x_{3}"
    assert blocks.with_time(t.block(Block("z", 1, of=LOSS), blocks.GRID), 4).latex() == r"\delta^{[1]}_{4}"
    # the unrolled circuit: the same in LaTeX, superscript layer and subscript time in plain text
    assert both(t.block(Block("a", 1), blocks.CIRCUIT, time=3)) == ("h^{[1]}_{3}", "h¹₃")
    assert both(t.block(Block("a", None), blocks.CIRCUIT, time=0)) == ("h_{0}", "h₀")
    assert both(t.block(Block("x", None), blocks.CIRCUIT, time=2)) == ("x_{2}", "x₂")


def test_a_feature_map_and_a_kernel_slice_keep_their_spatial_colons():
    t = theme("bracket", MAZUR)
    assert t.block(Block("W", 2, lead=(1, 3)), blocks.GRID).latex() == "w_{1,3,:,:}^{[2]}"
    assert t.block(Block("a", 1, lead=(2,)), blocks.GRID).latex() == "a_{2,:,:}^{[1]}"
    assert t.block(Block("x", None, lead=(1,)), blocks.GRID).latex() == "x_{1,:,:}"
    assert t.block(Block("b", 2), blocks.GRID).with_sub(1).latex() == "b_{1}^{[2]}"  # one filter's bias


def test_only_the_gradient_with_respect_to_z_is_a_block_symbol():
    with pytest.raises(ValueError, match="only the gradient of the loss with respect to z"):
        blocks.block_symbol(Block("W", 2, of=LOSS))


@pytest.mark.parametrize("name, latex, text", [
    ("activation", "f", "f"),
    ("slope", "f'", "f'"),
    ("hadamard", r"\odot", "⊙"),
    ("transpose", r"^{\top}", "ᵀ"),
    ("partial", r"\partial", "∂"),
    ("times", r"\times", "×"),
    ("cross_correlation", r"\star", "⋆"),
    ("full_convolution", r"\circledast", "⊛"),
    ("rot180", r"\operatorname{rot}_{180}", "rot180"),
])
def test_an_operator_in_each_dialect(name, latex, text):
    for theme_name in THEMES:
        t = theme(theme_name, MAZUR)
        assert t.operator(name, "latex") == latex
        assert t.operator(name, "text") == text


def test_a_printer_without_a_theme_writes_the_same_blocks():
    """The canonical names (``tracer solve`` in text) have no theme: the default writer answers."""
    names = Printer("text").names
    assert names.block(Block("W", 2), blocks.DELTA_FORM).compact() == "W(2)"
    assert names.operator("hadamard", "text") == "⊙"
    themed = Printer("latex", theme("mazur", MAZUR).names_view()).names
    assert themed.block(Block("z", 1, of=LOSS)).latex() == r"\delta^{[1]}"


def test_a_theme_may_write_its_blocks_its_own_way():
    class Parenthesised(type(theme("bracket", MAZUR))):
        def block(self, b, form=blocks.MATRIX, *, time=None):
            return blocks.block_symbol(b, blocks.DELTA_FORM, time=time)

    names = Parenthesised(MAZUR).names_view()
    assert names.block(Block("W", 2)).latex() == "W^{(2)}"


# ---------------------------------------------------------------------------
# The one table of an optimizer's letters
# ---------------------------------------------------------------------------


def test_an_optimizer_s_letters_in_each_dialect():
    assert letters.state_letter("m_hat", "latex") == r"\hat{m}"
    assert letters.state_letter("m_hat", "text") == "m̂"
    assert letters.state_letter("G", "latex") == "G"
    assert letters.hyper_name("beta1", "latex") == r"\beta_1"
    assert letters.hyper_name("beta2", "text") == "β₂"
    assert letters.hyper_name("eps", "latex") == r"\varepsilon"


def test_the_calculus_pages_write_rmsprop_s_alpha_as_rho():
    """α is the learning rate on the calculus pages, so torch's ``alpha`` is ρ there; the network
    documents (whose rate is the theme's η, λ or r) keep α."""
    assert letters.hyper_name("alpha", "latex") == r"\alpha"
    assert letters.hyper_name("alpha", "text") == "α"
    assert letters.hyper_name("alpha", "latex", page="calculus") == r"\rho"
    assert letters.hyper_name("alpha", "text", page="calculus") == "ρ"
    assert letters.hyper_name("beta", "text", page="calculus") == "β"  # no page spelling of its own


def test_a_theme_writes_an_optimizer_s_quantities_from_the_same_table():
    t = theme("mazur", MAZUR)
    assert t.quantity(keys.hyper("beta1")) == r"\beta_{1}"
    assert t.quantity(keys.hyper("l2")) == r"\lambda_{L2}"
    state = keys.W(2, 1, 1).state("m_hat", 2)
    assert t.quantity(state) == r"\hat{m}_{w_{5},2}"
    assert t.text_names_view().quantity(state) == "m̂₂(w5)"


# ---------------------------------------------------------------------------
# A kind no theme has a rule for: written from its symbol spec
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:  # what kinds.SymbolSpec will be (plan-v3 §5.1): any object with these four attributes
    letter: str
    plain: str = ""
    layer: str = "sup"
    index: str = "sub"


@pytest.fixture
def scale_kind():
    keys.register_kind(keys.QuantityKind("c", "parameter", (0, 1)))
    try:
        yield
    finally:
        keys.unregister_kind("c")


def test_a_registered_kind_is_written_from_its_symbol_spec(scale_kind):
    t = theme("bracket", MAZUR)
    c = Quantity("c", 2, (1,))
    assert t.registered_parts(c, Spec("c")).latex() == "c_{1}^{[2]}"
    assert t.registered_parts(c, Spec(r"\mu", "μ")).plain() == "μ_1^[2]"
    assert t.registered_parts(c, Spec("c", layer="none", index="none")).latex() == "c"


def test_symbol_falls_back_on_the_registry_for_a_kind_it_does_not_know(scale_kind, monkeypatch):
    monkeypatch.setattr(base, "registered_symbol", lambda kind: Spec(r"\gamma", "γ") if kind == "c" else None)
    for name in THEMES:
        assert theme(name, MAZUR).quantity(Quantity("c", 2, (1,))) == r"\gamma_{1}^{[2]}"
    # the marks of the update and of a sample are the theme's own, as for any quantity
    assert theme("mazur", MAZUR).quantity(Quantity("c", 2, (1,)).updated()) == r"\gamma_{1}^{[2],+}"
    assert theme("bracket", MAZUR).quantity(Quantity("c", 2, (1,)).updated()) == r"\gamma_{1,\text{new}}^{[2]}"
    # a kind every theme knows never asks the registry
    assert theme("mazur", MAZUR).quantity(keys.W(2, 1, 1)) == "w_{5}"


def test_a_registered_kind_has_a_plain_name_where_the_theme_has_plain_names(scale_kind, monkeypatch):
    """Mazur's theme names its quantities plainly (w5, out_h1): a registered kind written without a
    layer mark has a plain name too (c1); with one (c_{1}^{[2]}) the terminal keeps the canonical c2[1]."""
    specs = {"c": Spec("c", layer="none")}
    monkeypatch.setattr(base, "registered_symbol", lambda kind: specs.get(kind))
    mazur = theme("mazur", MAZUR)
    assert mazur.ascii(Quantity("c", 2, (1,))) == "c1"
    specs["c"] = Spec("c")
    assert mazur.ascii(Quantity("c", 2, (1,))) is None
    assert mazur.text_names_view().quantity(Quantity("c", 2, (1,))) == "c2[1]"


def test_a_kind_in_the_registry_gives_its_symbol_to_every_theme():
    """The two halves of issue 28 joined (S5's registry, S11's fallback): a kind registered with
    ``symbols`` — here a toy 'gain' layer with one parameter γ per unit — is written by every theme
    from that spec, without an edit under tracer/; and it is gone again after the block."""
    from tracer import kinds

    class Gain:
        names = ("gain",)
        quantities = (keys.QuantityKind("g", "parameter", (1,)),)
        symbols = {"g": Spec(r"\gamma", "γ")}

    with kinds.registered(Gain()):
        assert base.registered_symbol("g").letter == r"\gamma"
        for name in THEMES:
            assert theme(name, MAZUR).quantity(Quantity("g", 2, (1,))) == r"\gamma_{1}^{[2]}"
    assert base.registered_symbol("g") is None
