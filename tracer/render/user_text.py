"""Text from a problem file (a title, a file name) made inert for each kind of output.

* :func:`escape_tex` — for LaTeX compiled by pdflatex (the one engine of ``-f pdf``): the
  special characters as text (``\\input{…}`` prints as text), and every character pdflatex
  cannot set from its ``utf8`` input alone written so that it can: Greek letters and the
  common mathematical signs as their math commands (θ → ``\\ensuremath{\\theta}``), Latin
  letters with accents as accent commands (é → ``\\'{e}``), typographic punctuation as
  LaTeX's ligatures (– → ``--``). What is left — CJK, other scripts, emoji, control
  characters — is written as its code point, ``[U+5B66]`` in typewriter type, and
  :func:`unsettable` lists it so the command can say so (docs/documents.md, "Unicode").
* :func:`escape_markdown` — for Markdown read by GitHub, pandoc and MathJax: Markdown's
  punctuation escaped, and ``\\`` and ``$`` each in a ``<span>`` of its own.
* :func:`escape_mathjax_html` — for HTML that a MathJax or KaTeX filter will scan (Moodle,
  Canvas, the web page): HTML-escaped, and ``\\`` and ``$`` each in a ``<span>``.

Why a ``<span>``: MathJax and KaTeX's auto-render find their delimiters (``\\(…\\)``,
``\\[…\\]``, ``$$…$$``, ``$…$``, ``\\begin{…}``) inside one text node; an element boundary
between ``\\`` and ``(`` leaves no delimiter to find, and the page reads (and copies) the
same. An HTML entity would not do: the browser decodes it before MathJax looks.
"""

from __future__ import annotations

import unicodedata

from markupsafe import Markup, escape

_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "\t": " ",
    "\n": " ",
    "\r": " ",
}

_GREEK = dict(zip(
    "αβγδεζηθικλμνξπρστυφχψωϑϕϖϵςΓΔΘΛΞΠΣΥΦΨΩ",
    # as unicode-math pairs them: ε U+03B5 is \varepsilon and ϵ U+03F5 \epsilon; φ U+03C6 is \varphi, ϕ U+03D5 \phi
    ["alpha", "beta", "gamma", "delta", "varepsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu",
     "xi", "pi", "rho", "sigma", "tau", "upsilon", "varphi", "chi", "psi", "omega", "vartheta", "phi", "varpi",
     "epsilon", "varsigma", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"],
))
#: capital Greek letters that look like Latin ones: set as upright Latin in math
_GREEK_LATIN = dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΧο", "ABEZHIKMNOPTXo"))
_MATH = {
    "×": r"\times", "·": r"\cdot", "⋅": r"\cdot", "−": "-", "±": r"\pm", "∓": r"\mp", "÷": r"\div",
    "≤": r"\leq", "≥": r"\geq", "≠": r"\neq", "≈": r"\approx", "≡": r"\equiv", "∼": r"\sim", "≃": r"\simeq",
    "∝": r"\propto", "∞": r"\infty", "∂": r"\partial", "∇": r"\nabla", "∑": r"\sum", "∏": r"\prod",
    "∫": r"\int", "√": r"\surd", "∈": r"\in", "∉": r"\notin", "∀": r"\forall", "∃": r"\exists",
    "∅": r"\emptyset", "∩": r"\cap", "∪": r"\cup", "⊂": r"\subset", "⊆": r"\subseteq", "⊃": r"\supset",
    "⊇": r"\supseteq", "∧": r"\wedge", "∨": r"\vee", "¬": r"\neg", "→": r"\rightarrow", "←": r"\leftarrow",
    "↔": r"\leftrightarrow", "⇒": r"\Rightarrow", "⇐": r"\Leftarrow", "⇔": r"\Leftrightarrow", "↦": r"\mapsto",
    "↑": r"\uparrow", "↓": r"\downarrow", "∘": r"\circ", "⊙": r"\odot", "⊗": r"\otimes", "⊕": r"\oplus",
    "⊤": r"\top", "⊥": r"\bot", "′": r"\prime", "″": r"\prime\prime", "⟨": r"\langle", "⟩": r"\rangle",
    "‖": r"\|", "ℝ": r"\mathbb{R}", "ℕ": r"\mathbb{N}", "ℤ": r"\mathbb{Z}", "ℚ": r"\mathbb{Q}", "ℂ": r"\mathbb{C}",
    "ℓ": r"\ell", "ℏ": r"\hbar", "°": r"^{\circ}", "¹": "^{1}", "²": "^{2}", "³": "^{3}", "⁴": "^{4}",
    "⁻": "^{-}", "⁺": "^{+}", "ⁿ": "^{n}", "₀": "_{0}", "₁": "_{1}", "₂": "_{2}", "₃": "_{3}", "µ": r"\mu",
    "½": r"\tfrac{1}{2}", "¼": r"\tfrac{1}{4}", "¾": r"\tfrac{3}{4}", "∗": "*", "⋯": r"\cdots", "∣": r"\mid",
    "⌊": r"\lfloor", "⌋": r"\rfloor", "⌈": r"\lceil", "⌉": r"\rceil", "∎": r"\blacksquare", "★": r"\bigstar",
}
_TEXT = {
    "\u00a0": "~", "–": "--", "—": "---", "‘": "`", "’": "'", "‚": ",", "“": "``", "”": "''", "„": ",,",
    "«": r"\guillemotleft{}", "»": r"\guillemotright{}", "…": r"\ldots{}", "•": r"\textbullet{}",
    "§": r"\S{}", "¶": r"\P{}", "©": r"\textcopyright{}", "®": r"\textregistered{}", "™": r"\texttrademark{}",
    "†": r"\dag{}", "‡": r"\ddag{}", "ß": r"\ss{}", "æ": r"\ae{}", "Æ": r"\AE{}", "œ": r"\oe{}", "Œ": r"\OE{}",
    "ø": r"\o{}", "Ø": r"\O{}", "å": r"\aa{}", "Å": r"\AA{}", "ł": r"\l{}", "Ł": r"\L{}", "ı": r"\i{}",
    "¡": r"\textexclamdown{}", "¿": r"\textquestiondown{}", "£": r"\pounds{}", "€": "EUR", "\u200b": "",
    "\u2009": r"\,", "\u202f": r"\,", "\u2002": r"\enspace{}", "\u2003": r"\quad{}",
}
#: combining accents (after NFD) and the text accent command that sets each over a Latin letter
_ACCENTS = {"\u0301": "'", "\u0300": "`", "\u0302": "^", "\u0308": '"', "\u0303": "~", "\u0304": "=",
            "\u0306": "u", "\u030c": "v", "\u0307": ".", "\u030b": "H", "\u030a": "r", "\u0327": "c",
            "\u0323": "d", "\u0331": "b"}


def _tex_char(ch: str) -> str | None:
    """``ch`` as pdflatex can set it, or None when it cannot."""
    if ch in _TEX_SPECIAL:
        return _TEX_SPECIAL[ch]
    if " " <= ch <= "~":
        return ch
    if ch in _TEXT:
        return _TEXT[ch]
    if ch in _GREEK:
        return rf"\ensuremath{{\{_GREEK[ch]}}}"
    if ch in _GREEK_LATIN:
        return rf"\ensuremath{{\mathrm{{{_GREEK_LATIN[ch]}}}}}"
    if ch in _MATH:
        return rf"\ensuremath{{{_MATH[ch]}}}"
    parts = unicodedata.normalize("NFD", ch)
    if len(parts) > 1 and ("a" <= parts[0].lower() <= "z" or parts[0] in _GREEK):  # é, ñ, ř, ά: a letter and its accents
        base = _tex_char(parts[0])
        if base is not None and all(mark in _ACCENTS for mark in parts[1:]):
            if parts[0] in "ij" and parts[1] in "\u0301\u0300\u0302\u0308\u0303\u0304\u0306\u030c":
                base = r"\i" if parts[0] == "i" else r"\j"  # the dotless letter under an accent
            if parts[0] in _GREEK:
                return base  # Greek tonos and the like: the letter (math has no Greek accents)
            for mark in parts[1:]:
                base = rf"\{_ACCENTS[mark]}{{{base}}}"
            return base
    return None


def escape_tex(text: str) -> str:
    """Text from a problem file made inert for LaTeX, every character settable by pdflatex
    (see the module's docstring); what cannot be set is written ``[U+XXXX]`` in typewriter."""
    out = []
    for ch in str(text):
        tex = _tex_char(ch)
        out.append(tex if tex is not None else rf"\texttt{{[U+{ord(ch):04X}]}}")
    return "".join(out)


def unsettable(text: str) -> list[str]:
    """The distinct characters of ``text`` that :func:`escape_tex` writes as code points, in order."""
    seen: dict[str, None] = {}
    for ch in str(text):
        if _tex_char(ch) is None:
            seen.setdefault(ch)
    return list(seen)


def describe_unsettable(chars: list[str], limit: int = 8) -> str:
    """``反 (U+53CD), 🚀 (U+1F680)``: printable characters shown, control characters by code point only."""
    shown = [(f"{ch} " if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else "") + f"(U+{ord(ch):04X})" for ch in chars[:limit]]
    return ", ".join(shown) + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


def escape_markdown(text: str) -> str:
    """Text from a problem file made inert for Markdown, and for MathJax/KaTeX after it: Markdown's
    punctuation backslash-escaped; ``\\`` and ``$`` each in a ``<span>`` (no math delimiter forms)."""
    out = []
    for ch in str(text):
        if ch in "\\$":
            out.append(f"<span>\\{ch}</span>")
        elif ch in "`*_{}[]<>#+!|~&":  # (parentheses are literal once [ and ] are escaped)
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def escape_markdown_text(text: str) -> str:
    """Text from a problem file made inert for Markdown where no MathJax reads it (pandoc's page
    title, ``pagetitle:``, which pandoc writes into ``<title>`` as text): every punctuation mark
    Markdown reads backslash-escaped, ``\\`` and ``$`` too (a ``<span>`` would be shown as text there)."""
    return "".join("\\" + ch if ch in "\\$`*_{}[]<>#+!|~&" else ch for ch in str(text))


def escape_mathjax_html(text: str) -> Markup:
    """Text for HTML that MathJax or KaTeX scans: escaped, ``\\`` and ``$`` each in a ``<span>``."""
    return Markup("".join(f"<span>{ch}</span>" if ch in "\\$" else str(escape(ch)) for ch in str(text)))
