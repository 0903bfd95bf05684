"""Notation themes: canonical names → the symbols of each source text (SPEC.md §3).

A theme says what each quantity is called as the parts of a symbol (letter, subscript,
superscript: :class:`Symbol`); the base class adds the marks of a sample and of the
update and writes the symbol in LaTeX (for documents), as a plain label (for figures)
and, where a source text has plain names of its own (Mazur's ``w5``, ``out_h1``,
``E_total``), as those names, which ``tracer ask`` accepts. Themes know nothing about
the math and nothing about the renderer: :class:`NamesView`, what a printer needs from
a theme, is defined here.
"""

from __future__ import annotations

import re

from tracer import keys
from tracer.keys import Key, Partial, Quantity
from tracer.notation.base import Theme
from tracer.notation.bracket import BracketTheme
from tracer.notation.delta import DeltaTheme
from tracer.notation.mazur import MazurTheme
from tracer.notation.neuron import NeuronTheme
from tracer.notation.symbol import Glyph, Symbol
from tracer.notation.view import NamesView

THEMES: dict[str, type[Theme]] = {
    "bracket": BracketTheme,
    "mazur": MazurTheme,
    "neuron": NeuronTheme,
    "delta": DeltaTheme,
}


def theme(name: str, problem) -> Theme:
    return THEMES[name](problem)


def parse_theme_name(text: str, problem) -> Quantity | Partial | None:
    """A theme's plain name (``dE_total/dw5``, ``out_h1``, ``w5+``) as a canonical target, or None."""
    found = _theme_parsing(text, problem)
    return found[1] if found else None


def theme_of_name(text: str, problem) -> str | None:
    """The theme whose plain names ``text`` is written in (the file's own first), or None."""
    found = _theme_parsing(text, problem)
    return found[0] if found else None


def parse_name(text: str, problem) -> Key:
    """A name a user typed — canonical (``dloss/dW2[1,1]``, ``a2[1]#2@end``) or a theme's
    (``dE_total/dw5@2``, ``w5+``) — as its key: the one boundary parser of names.
    Raises :class:`~tracer.keys.NameError_` (with the canonical grammar's message)."""
    body, step = keys.split_step(text)
    try:
        target: Key = keys.parse(body)
    except keys.NameError_ as canonical_error:
        found = parse_theme_name(body, problem)
        if found is None:
            raise canonical_error from None
        target = found
    return target if step is None else (keys.LOSS_AFTER if (step == keys.END and isinstance(target, Quantity) and target.is_total_loss) else target.at_step(step))


#: the shape of a theme's plain name :func:`scan_name` tries: ``w5``, ``w5+``, ``dE_total/dw5``,
#: ``out_h1#2``, ``…@2``
_THEME_SHAPE = re.compile(r"(?:d[A-Za-z_]\w*[+']?/d[A-Za-z_]\w*[+']?|[A-Za-z_]\w*[+']?)(?:\#\d+)?(?:@(?:\d+|end))?", re.ASCII)


def scan_name(text: str, start: int, problem) -> tuple[Key, int] | None:
    """The longest name a user may type for a layered problem that starts at ``start`` in
    ``text``: canonical (:func:`tracer.keys.scan`) or a theme's plain name (``w5+``,
    ``dE_total/dw5``), as (its key, where it ends); None if none starts there."""
    found = keys.scan(text, start)
    shape = _THEME_SHAPE.match(text, start)
    if shape is not None:
        for end in range(shape.end(), found[1] if found else start, -1):  # only what is longer than the canonical one
            try:
                return parse_name(text[start:end], problem), end
            except keys.NameError_:
                continue
    return found


#: the themes that read names, per problem (by identity: hashing a million-parameter problem per
#: name would cost more than the table), so each builds its table of plain names once
_READERS: dict[tuple[type[Theme], int], Theme] = {}
_READERS_MAX = 256


def _reader(cls: type[Theme], problem) -> Theme:
    found = _READERS.get((cls, id(problem)))
    if found is None or found.problem is not problem:
        if len(_READERS) >= _READERS_MAX:
            _READERS.clear()
        found = _READERS[(cls, id(problem))] = cls(problem)
    return found


def _theme_parsing(text: str, problem) -> tuple[str, Quantity | Partial] | None:
    for cls in (THEMES[problem.notation],) + tuple(THEMES.values()):
        target = _reader(cls, problem).parse_ascii(text)
        if target is not None:
            return cls.name, target
    return None


__all__ = ["THEMES", "Glyph", "NamesView", "Symbol", "Theme", "theme", "parse_name", "parse_theme_name", "theme_of_name"]
