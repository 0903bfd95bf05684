"""The names of a graph problem's nodes, typeset: the file's own names, written well.

A graph problem names its nodes itself (``x``, ``q``, ``w0``, ``dot``, ``theta``); no
theme renames them. In LaTeX a name is split into its parts the way a reader writes
it by hand:

* trailing digits are a subscript: ``w0`` → w₀, ``x12`` → x₁₂;
* ``_`` starts a subscript: ``w_2`` → w₂, ``E_total`` → E_total (a word upright);
* a Greek letter's name is the letter: ``alpha`` → α, ``theta1`` → θ₁, ``Sigma`` → Σ;
* any other word of two letters or more is upright: ``dot`` → \\mathrm{dot}, ``out_1``;
* a leaf after the update is primed (``x'``, as in the canonical names).

In plain text (the terminal) a name is printed as the file writes it.
"""

from __future__ import annotations

import re

from tracer.keys import Quantity
from tracer.notation.base import HYPER_SYMBOLS, STATE_LETTERS, plain_optimizer_name, updates
from tracer.notation.symbol import Glyph, Symbol, marks
from tracer.notation.view import NamesView

_GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau upsilon phi chi psi omega"
).split()
_GREEK_CAPITAL = {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}
_PLAIN_GREEK = dict(zip(_GREEK, "αβγδεζηθικλμνξπρστυφχψω"))
_PLAIN_GREEK.update({"Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ",
                     "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω"})
_SPLIT = re.compile(r"^(?P<stem>.*?[^\d_])(?P<digits>\d+)$")


#: a Greek letter written as itself (``θ = w * x``): its LaTeX command (the loader allows these
#: letters only); the capitals that look Latin are set as Latin capitals
_GREEK_COMMAND = {letter: "\\" + name for name, letter in _PLAIN_GREEK.items()}
# as unicode-math pairs letters and commands: ε U+03B5 is \varepsilon, ϵ U+03F5 \epsilon; φ U+03C6 \varphi, ϕ U+03D5 \phi
_GREEK_COMMAND.update({"ε": r"\varepsilon", "ϵ": r"\epsilon", "φ": r"\varphi", "ϕ": r"\phi",
                       "ϑ": r"\vartheta", "ϖ": r"\varpi", "ς": r"\varsigma"})
_GREEK_COMMAND.update(dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΧο", "ABEZHIKMNOPTXo")))


def _letter(word: str) -> str | Glyph:
    if word in _PLAIN_GREEK and (word in _GREEK or word in _GREEK_CAPITAL):
        return Glyph("\\" + word, _PLAIN_GREEK[word])
    if any(ch in _GREEK_COMMAND for ch in word):  # θ → \theta; a word with Greek in it upright, letter by letter
        if len(word) == 1:
            return Glyph(_GREEK_COMMAND[word], word)
        return Glyph(r"\mathrm{" + "".join(f"{{{_GREEK_COMMAND[ch]}}}" if ch in _GREEK_COMMAND else ch for ch in word) + "}", word)
    return word


def node_symbol(name: str) -> Symbol:
    """A node's name as the parts of its symbol (``w0`` → w with subscript 0)."""
    stem, _, sub = name.partition("_")
    if sub:
        return Symbol(_letter(stem), (_letter(sub),))
    m = _SPLIT.match(name)
    if m:
        return Symbol(_letter(m.group("stem")), (m.group("digits"),))
    return Symbol(_letter(name))


def quantity_symbol(q: Quantity) -> Symbol:
    if q.is_state:  # an optimizer's state of a trained leaf after step t: v_{x, 1}, as a network's m_{w_5, 2}
        return Symbol(STATE_LETTERS[q.kind], (quantity_symbol(q.parameter), str(q.step)))
    if q.kind == "hyper":  # β, η, t: the optimizer's symbols, as in every theme
        return Symbol(Glyph(r"\eta", "η")) if q.name == "eta" else HYPER_SYMBOLS[q.name]
    symbol = node_symbol(q.name)
    return symbol.primed(updates(q)) if q.after else symbol


def _plain(q: Quantity) -> str:
    if q.is_state or q.kind == "hyper":
        return plain_optimizer_name(q, q.parameter.name if q.is_state else "", "η")
    return q.name + (marks("'", updates(q)) if q.after else "")


def names_view(dialect: str) -> NamesView:
    """What a printer needs to name a graph problem's nodes in ``text`` or ``latex``."""
    if dialect == "latex":
        return NamesView(quantity=lambda q: quantity_symbol(q).latex(), loss_name="f", rate=r"\eta",
                         times=r"\times", dot=r"\cdot", symbol=quantity_symbol)
    return NamesView(quantity=_plain, loss_name="f", rate="η")
