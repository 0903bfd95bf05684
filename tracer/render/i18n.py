"""The documents' and sheets' fixed words in the reader's language: ``language: en|zh|es|de`` in
the problem file, or ``--language``.

The words are gettext messages: in the templates ``_("Forward pass")`` (Jinja's i18n extension,
installed in every environment by :func:`tracer.render.document.environment`), here and in the
renderers the same calls. The catalogs are Babel's ``.po`` files, one per language, in
``tracer/locale/<language>/LC_MESSAGES/tracer.po``, compiled in memory by Babel when a language
is first asked for; English is the messages themselves. Names, numbers and the math are the same
in every language, except that German and Spanish write a decimal comma (0,5: ``{,}`` in LaTeX,
so that TeX sets no space after it).

Section titles are made by the engine in English (``Backward pass: hidden layer 1``); each is
read back here against its pattern and written in the language (:func:`title`).
"""

from __future__ import annotations

import functools
import io
import re
from gettext import NullTranslations
from pathlib import Path
from typing import Callable

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from markupsafe import Markup

LANGUAGES = ("en", "zh", "es", "de")
#: the languages that write a decimal comma
DECIMAL_COMMA = frozenset({"es", "de"})
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "tracer"


@functools.lru_cache(maxsize=None)
def translations(language: str):
    """The language's catalog as ``gettext`` translations (English: the messages themselves)."""
    if language not in LANGUAGES:
        raise ValueError(f"language: one of {', '.join(LANGUAGES)} expected, got {language!r}")
    if language == "en":
        return NullTranslations()
    with open(LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as po:
        catalog = read_po(po, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def gettext(language: str) -> Callable[..., str]:
    """``_(message, **values)``: the message in the language, its ``%(name)s`` filled in."""
    t = translations(language)

    def _(message: str, **values) -> str:
        text = t.gettext(message)
        return text % values if values else text

    return _


def gettext_markup(language: str) -> Callable[..., Markup]:
    """``_`` of the web page: the message (ours, trusted) as markup, each value escaped unless it is
    markup already (MathML from the ``math`` filter)."""
    t = translations(language)

    def _(message: str, **values) -> Markup:
        return Markup(t.gettext(message)) % values if values else Markup(t.gettext(message))

    return _


def decimal_comma(language: str) -> bool:
    return language in DECIMAL_COMMA


#: the engine's section titles: (pattern, message); a placeholder takes the matched group
_TITLES: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(p), m) for p, m in (
    (r"^Forward pass$", "Forward pass"),
    (r"^Loss$", "Loss"),
    (r"^Loss after the update$", "Loss after the update"),
    (r"^Forward pass \(no training step\)$", "Forward pass (no training step)"),
    (r"^Forward pass with the updated parameters$", "Forward pass with the updated parameters"),
    (r"^Forward pass with the updated (?P<what>.+)$", "Forward pass with the updated %(what)s"),
    (r"^Forward pass with the final parameters$", "Forward pass with the final parameters"),
    (r"^Backward pass: output layer$", "Backward pass: output layer"),
    (r"^Backward pass: hidden layer (?P<layer>\d+)$", "Backward pass: hidden layer %(layer)s"),
    (r"^Backward pass: convolution layer (?P<layer>\d+)$", "Backward pass: convolution layer %(layer)s"),
    (r"^Backward pass: max-pooling layer (?P<layer>\d+)$", "Backward pass: max-pooling layer %(layer)s"),
    (r"^Backward pass: average-pooling layer (?P<layer>\d+)$", "Backward pass: average-pooling layer %(layer)s"),
    (r"^Backward pass: flatten layer (?P<layer>\d+)$", "Backward pass: flatten layer %(layer)s"),
    (r"^Backward pass: recurrent layer (?P<layer>\d+)$", "Backward pass: recurrent layer %(layer)s"),
    (r"^Backward pass: from (?P<output>\S+) back to every node$", "Backward pass: from %(output)s back to every node"),
    (r"^Gradients of the total loss: layer (?P<layer>\d+)$", "Gradients of the total loss: layer %(layer)s"),
    (r"^Update: layer (?P<layer>\d+)$", "Update: layer %(layer)s"),
    (r"^Gradient-descent update$", "Gradient-descent update"),
    (r"^Update: (?P<rule>.+)$", "Update: %(rule)s"),
    (r"^Training step (?P<step>\d+)$", "Training step %(step)s"),
    (r"^Forward pass, matrix form(?P<sample>.*)$", "Forward pass, matrix form%(sample)s"),
))
_SAMPLE = re.compile(r"^(?P<title>.*) \(sample (?P<sample>\d+)\)$")


def title(text: str, language: str) -> str:
    """A section title of the engine's, in the language (a title no pattern knows stays as it is)."""
    if language == "en":
        return text
    _ = gettext(language)
    sample = _SAMPLE.match(text)
    if sample:
        return _("%(title)s (sample %(sample)s)", title=title(sample.group("title"), language), sample=sample.group("sample"))
    for pattern, message in _TITLES:
        found = pattern.match(text)
        if found:
            return _(message, **found.groupdict())
    return text


#: the messages of this module and of the renderers' Python code (the templates' are read from them)
PYTHON_MESSAGES = tuple(m for _, m in _TITLES) + (
    "%(title)s (sample %(sample)s)",
    # values the views pass through _(): how a loss combines, the update order, a matrix's "trained"
    "sum", "mean", "simultaneous", "sequential", "yes", "no", "partly",
    # the opening line of a non-English document (tracer.render.document.localized_description)
    "layer %(number)s: %(text)s",
    "a %(sizes)s network (%(layers)s); %(params)s parameters, %(trained)s trained; loss %(kind)s; samples: %(samples)s; "
    "learning rate %(rate)s; steps: %(steps)s",
)
