"""A whole vector or matrix as a view writes it (``W^{[2]}``, ``\\delta^{[l]}``, ``h^{[1]}_{t}``,
``a^{(1)}``), and the operators between them (f, f′, ⊙, ᵀ, ∂) in each dialect.

The matrix form, the δ form, the feature-map grids, backpropagation through time and the unrolled
circuit write a layer's family as one symbol: its letter and the layer's mark. How a view marks
the layer is a :class:`BlockForm` — the matrix form and the grids in brackets (``W^{[2]}``, plain
``W2``), the δ form of source 004 in parentheses with the layer's number (``W^{(2)}``, plain
``W(2)``), the unrolled circuit in brackets with a plain superscript (``h^{[1]}_{3}``, plain
``h¹₃``). :func:`block_symbol` is the one writer of these symbols; :class:`~tracer.notation.Theme`
asks it by default (``Theme.block``), so a theme may write its blocks its own way.

A state at a time step is ``h`` (``h^{[l]}_{t}``: the layer's mark before the time, as
backpropagation-through-time slides write it); a feature map's channel and a kernel's filter and
channel are subscripts before the two spatial colons (``a_{1,:,:}^{[2]}``, ``w_{1,2,:,:}^{[2]}``);
the gradient of the loss with respect to a layer's ``z`` is ``δ``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from tracer.keys import Block
from tracer.notation.symbol import DELTA, SCRIPT_L, Glyph, Symbol

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(frozen=True)
class BlockForm:
    """How one kind of view marks a block's layer and time step, and which loss it differentiates.

    ``layer`` writes the layer's mark in LaTeX and ``layer_plain`` in plain text (``"[2]"`` and
    ``"2"``); ``time_plain`` a time step in plain text (LaTeX writes it as it is); ``loss`` is the
    loss the view's gradients are of when it does not take the theme's own (None: the theme's)."""

    name: str
    layer: Callable[[int], str]
    layer_plain: Callable[[int], str]
    time_plain: Callable[[int | str], str] = str
    loss: Glyph | None = None


#: the matrix form (``z^{[l]} = W^{[l]} a^{[l-1]} + b^{[l]}``): the theme's loss
MATRIX = BlockForm("matrix", lambda l: f"[{l}]", str)
#: the feature-map grids and backpropagation through time: ``∂J`` (the grids' own loss, whatever the theme)
GRID = BlockForm("grid", lambda l: f"[{l}]", str, loss=Glyph("J", "J"))
#: the δ form beside the scalar chain (source 004's ``δ^{(l)}``, layers by number): ``∂\mathcal{L}``
DELTA_FORM = BlockForm("delta", lambda l: f"({l})", lambda l: f"({l})", loss=SCRIPT_L)
#: the unrolled circuit: ``h^{[1]}_{3}``, plain ``h¹₃``
CIRCUIT = BlockForm("circuit", lambda l: f"[{l}]", lambda l: str(l).translate(_SUPERSCRIPT),
                    lambda t: str(t).translate(_SUBSCRIPT))

FORMS = {form.name: form for form in (MATRIX, GRID, DELTA_FORM, CIRCUIT)}

#: a block's letter by its kind (a gradient of the loss with respect to ``z`` is δ)
LETTERS: dict[str, str | Glyph] = {"W": "W", "U": "U", "b": "b", "z": "z", "a": "a", "x": "x", "y": "y"}


def block_symbol(b: Block, form: BlockForm = MATRIX, *, time: int | str | None = None) -> Symbol:
    """The symbol of a whole family in ``form``: ``W^{[2]}``, ``\\delta^{[2]}`` (``b.of`` the loss,
    ``b.kind`` z), ``a^{(1)}`` (the δ form), ``h^{[1]}_{t}`` (``time``: a state at a time step,
    ``t``, ``t-1`` or a number), ``w_{1,2,:,:}^{[2]}`` (``b.lead``: a kernel's filter and channel),
    ``x_{1,:,:}`` (an image's channel). Its plain spelling is :meth:`Symbol.compact`."""
    if b.of is not None:
        if b.kind != "z":
            raise ValueError(f"{b}: only the gradient of the loss with respect to z has a block symbol (δ)")
        letter: str | Glyph = DELTA
    elif time is not None and b.kind == "a":
        letter = "h"
    elif b.lead and b.kind == "W":
        letter = "w"  # a kernel's slice is written as its entries are
    else:
        letter = LETTERS.get(b.kind, b.kind)
    mark = () if b.layer is None else (Glyph(form.layer(b.layer), form.layer_plain(b.layer)),)
    if time is not None:
        return Symbol(letter, (Glyph(str(time), form.time_plain(time)),), mark, sup_first=True)
    if b.lead:
        return Symbol(letter, b.lead + (":", ":"), mark)
    return Symbol(letter, (), mark)


def layer_symbol(letter: str | Glyph, layer: int, form: BlockForm = MATRIX) -> Symbol:
    """A layer's own operator or matrix that is no key's family, marked as ``form`` marks a layer:
    the softmax Jacobian ``J^{[L]}``, an rnn cell's ``\\tanh^{[1]}`` in a stack."""
    return Symbol(letter, (), (Glyph(form.layer(layer), form.layer_plain(layer)),))


#: the operators between blocks, per dialect: (LaTeX, plain)
OPERATORS: dict[str, tuple[str, str]] = {
    "activation": ("f", "f"),  # f(z): the layer's activation, elementwise
    "slope": ("f'", "f'"),  # f′(z): its derivative, elementwise
    "hadamard": (r"\odot", "⊙"),  # the elementwise product
    "transpose": (r"^{\top}", "ᵀ"),  # written after its operand
    "partial": (r"\partial", "∂"),
    "times": (r"\times", "×"),
    # a convolution layer's: the valid cross-correlation ⋆, the full convolution ⊛, the kernel turned by 180°
    "cross_correlation": (r"\star", "⋆"),
    "full_convolution": (r"\circledast", "⊛"),
    "rot180": (r"\operatorname{rot}_{180}", "rot180"),
}


def operator(name: str, dialect: str = "latex") -> str:
    """An operator's spelling in ``dialect`` (``latex`` or ``text``): ``hadamard`` → ``\\odot`` / ``⊙``,
    ``transpose`` → ``^{\\top}`` / ``ᵀ``, ``slope`` → ``f'``, ``partial`` → ``\\partial`` / ``∂``."""
    latex, plain = OPERATORS[name]
    return latex if dialect == "latex" else plain


def with_time(symbol: Symbol, time: int | str, form: BlockForm = MATRIX) -> Symbol:
    """A block's symbol at a time step (``z^{[2]}_{t}``: the layer's mark first, then the time)."""
    return replace(symbol, sub=symbol.sub + (Glyph(str(time), form.time_plain(time)),), sup_first=True)
