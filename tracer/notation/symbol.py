"""The parts of a quantity's symbol, and the one writer of them as LaTeX and as plain text.

A theme says what a quantity is called as a :class:`Symbol`: a letter, the pieces of
its subscript and the pieces of its superscript (Mazur's ``net_{h1}`` is
``Symbol("net", "h1")``, the bracket theme's ``w^{[2]}_{2,1}`` is
``Symbol("w", ("2", "1"), "[2]")``). The marks of a sample and of "after the update"
are added to the parts, never to a written string; :meth:`Symbol.latex` and
:meth:`Symbol.plain` are the only code that writes a symbol out.

How a piece is typeset follows what it is, not where it comes from:

- a word (two letters or more: ``net``, ``Pred``, ``CE``, ``total``, ``input``) is upright:
  ``\\mathrm{net}`` as the letter, ``\\text{total}`` in a sub- or superscript;
- a single letter is math italic (``w``, ``E``, ``z``), as are the letters of a unit
  label (``h1``, ``o2``: the sources set ``net_{h1}``) and numbers and marks (``5``,
  ``[2]``, ``(K)``, ``(1)``, ``+``), which are written as they are;
- a :class:`Glyph` (``\\hat{y}``, ``\\delta``, ``\\mathcal{L}``) has a LaTeX spelling and a
  plain one of its own;
- a nested :class:`Symbol` (the neuron theme's ``w_{N_1,O_1}``) is written the same way,
  a word in it upright as ``\\text{…}``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Union


@dataclass(frozen=True)
class Glyph:
    """A letter spelt by a LaTeX command: how it is typeset and how it is written in plain text."""

    latex: str
    plain: str


HAT_Y = Glyph(r"\hat{y}", "ŷ")
SCRIPT_L = Glyph(r"\mathcal{L}", "L")
DELTA = Glyph(r"\delta", "δ")
ETA = Glyph(r"\eta", "η")
LAMBDA = Glyph(r"\lambda", "λ")

Piece = Union[str, Glyph, "Symbol"]

#: a parameter after its t-th update carries its theme's mark t times (w⁺, w⁺⁺, w⁺⁺⁺) up to this
#: many updates; later ones carry it once with the number (w^{+(4)}): every written-out step's
#: parameters have a symbol of their own, so no update reads ``w⁺ = w⁺ − η·…``
MARKED = 3


def marks(mark: str, times: int) -> str:
    """``+`` → ``+``, ``++``, ``+++``, ``+(4)``: the mark of a parameter after update ``times``."""
    return mark * times if times <= MARKED else f"{mark}({times})"


def _pieces(value) -> tuple[Piece, ...]:
    """``"h1"`` → ``("h1",)``, ``5`` → ``("5",)``, ``""``/``None`` → ``()``; a tuple piece by piece."""
    if value is None or value == "" or value == ():
        return ()
    if isinstance(value, tuple):
        return tuple(str(p) if isinstance(p, int) else p for p in value)
    return (str(value) if isinstance(value, int) else value,)


@dataclass(frozen=True)
class Symbol:
    """A letter with the pieces of its subscript and its superscript (each list written
    with commas between its pieces, ``w_{2,1}``), and a prime (``w'``)."""

    letter: str | Glyph
    sub: tuple[Piece, ...] = ()
    sup: tuple[Piece, ...] = ()
    prime: int = 0  # how many primes (w', w'' after two updates)
    #: the superscript before the subscript: a block at a time step, ``h^{[1]}_{t}`` (the layer's
    #: mark belongs to the letter, the time step to the pair)
    sup_first: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "sub", _pieces(self.sub))
        object.__setattr__(self, "sup", _pieces(self.sup))

    # -- building ---------------------------------------------------------------------
    def with_sub(self, *pieces: Piece) -> "Symbol":
        return replace(self, sub=self.sub + _pieces(pieces))

    def with_sup(self, *pieces: Piece) -> "Symbol":
        return replace(self, sup=self.sup + _pieces(pieces))

    def primed(self, times: int = 1) -> "Symbol":
        """w' (``times`` primes: w'' for a parameter after its second update; from the fourth, w'^{(4)})."""
        if times > MARKED:
            return replace(self, prime=1).with_sup(f"({times})")
        return replace(self, prime=times)

    def without_sup(self) -> "Symbol":
        """The letter and its subscript only: a unit as a figure names it (``N_1`` for ``N_1^{input}``)."""
        return replace(self, sup=())

    # -- writing ----------------------------------------------------------------------
    def latex(self, in_script: bool = False) -> str:
        """``\\mathrm{net}_{h1}``, ``E_{\\text{total}}``, ``w_{2,1}^{[2]}``, ``{w'}_{12}^{(K)}``."""
        text = _letter_latex(self.letter, in_script)
        if self.prime:
            text += "'" * int(self.prime)
            if self.sup:  # w'^{(K)} would be a double superscript: the prime belongs to the letter
                text = "{" + text + "}"
        sub = "_{" + ",".join(_piece_latex(p) for p in self.sub) + "}" if self.sub else ""
        sup = "^{" + ",".join(_piece_latex(p) for p in self.sup) + "}" if self.sup else ""
        return text + (sup + sub if self.sup_first else sub + sup)

    def plain(self) -> str:
        """The symbol in plain text, for a label outside math (a Mermaid figure): ``out_h1``,
        ``w_2,1^[2]``, ``ŷ_1``, ``w_N_1,O_1``."""
        text = _piece_plain(self.letter) + "'" * int(self.prime)
        if self.sub:
            text += "_" + ",".join(_piece_plain(p) for p in self.sub)
        if self.sup:
            text += "^" + ",".join(_piece_plain(p) for p in self.sup)
        return text

    def compact(self) -> str:
        """The symbol run together in plain text, as a view's blocks are written in a terminal: the
        letter, the superscript's pieces, then the subscript's (``W2``, ``δ(2)``, ``h¹₃``): a block's
        marks are spelt for this (:mod:`tracer.notation.blocks`)."""
        return (_piece_plain(self.letter) + "'" * int(self.prime) + "".join(_piece_plain(p) for p in self.sup)
                + "".join(_piece_plain(p) for p in self.sub))


def is_word(text: str) -> bool:
    """Two letters or more and nothing else (``net``, ``total``): set upright, as a word."""
    return len(text) > 1 and text.isascii() and text.isalpha()


def _letter_latex(letter: str | Glyph, in_script: bool) -> str:
    if isinstance(letter, Glyph):
        return letter.latex
    if is_word(letter):
        return rf"\text{{{letter}}}" if in_script else rf"\mathrm{{{letter}}}"
    return letter


def _piece_latex(piece: Piece) -> str:
    if isinstance(piece, Symbol):
        return piece.latex(in_script=True)
    return _letter_latex(piece, in_script=True)


def _piece_plain(piece: Piece) -> str:
    if isinstance(piece, Symbol):
        return piece.plain()
    if isinstance(piece, Glyph):
        return piece.plain
    return piece
