"""Text from a problem file (a title, a file name) made inert for each kind of output.

* :func:`escape_tex` — for LaTeX that every engine compiles (pdflatex, xelatex, lualatex; the
  preamble ``_unicode.tex.j2`` tells them apart with ``iftex``): the special characters as text
  (``\\input{…}`` prints as text), and every character pdflatex can set from its ``utf8`` input
  written so that it can: Greek letters and the common mathematical signs as their math
  commands (θ → ``\\ensuremath{\\theta}``), Latin letters with accents as accent commands
  (é → ``\\'{e}``), typographic punctuation as LaTeX's ligatures (– → ``--``). A run of a
  script pdflatex cannot set — Chinese, Japanese, Korean, Arabic, Hebrew, Cyrillic, Greek
  words with their accents — is written ``\\tracertext{cjk}{学习}{[U+5B66][U+4E60]}``: XeLaTeX
  and LuaLaTeX set the text itself in a font of its script (Noto; Arabic and Hebrew right to
  left), pdflatex the fallback, its code points in typewriter type (a Greek word: its letters
  without accents). :func:`unsettable` lists what pdflatex cannot set, so that ``-f pdf``
  chooses XeLaTeX for it (``--pdf-engine auto``) or, told to use pdflatex, says so. What no
  engine here sets — emoji, other scripts, control characters — is its code point in every
  engine (docs/documents.md, "Unicode").
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
    "⁻": "^{-}", "⁺": "^{+}", "ⁿ": "^{n}", "₀": "_{0}", "₁": "_{1}", "₂": "_{2}", "₃": "_{3}", "₋": "_{-}", "µ": r"\mu",
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
                return None  # Greek tonos and the like: no accent on a math letter (a Unicode engine sets the word)
            for mark in parts[1:]:
                base = rf"\{_ACCENTS[mark]}{{{base}}}"
            return base
    return None


#: the scripts a Unicode engine sets (the preamble has a font for each), by code point range
_SCRIPTS = (
    ("cjk", ((0x2E80, 0x2FDF), (0x3000, 0x303F), (0x3040, 0x30FF), (0x3100, 0x312F), (0x3130, 0x318F), (0x31A0, 0x31FF),
             (0x3200, 0x33FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA960, 0xA97F), (0xAC00, 0xD7FF), (0xF900, 0xFAFF),
             (0xFE30, 0xFE4F), (0xFF00, 0xFFEF), (0x20000, 0x2FA1F))),
    ("arabic", ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))),
    ("hebrew", ((0x0590, 0x05FF), (0xFB1D, 0xFB4F))),
    ("greek", ((0x0370, 0x03FF), (0x1F00, 0x1FFF))),
    ("cyrillic", ((0x0400, 0x052F),)),
)


def script_of(ch: str) -> str | None:
    code = ord(ch)
    return next((name for name, ranges in _SCRIPTS for low, high in ranges if low <= code <= high), None)


def _greek_accented(ch: str) -> bool:
    """ά, ῷ: a Greek letter with an accent or breathing (pdflatex's math letters have none)."""
    return script_of(ch) == "greek" and (len(unicodedata.normalize("NFD", ch)) > 1 or ch not in _GREEK and ch not in _GREEK_LATIN)


def _runs(text: str):
    """``text`` as (script, run) pieces: a run of one script that pdflatex cannot set (script
    named), or a piece it can (script None). A Greek word is one run when a letter of it has an
    accent (άλφα), else its letters are math symbols (θ, η)."""
    text = str(text)
    i = 0
    while i < len(text):
        script = script_of(text[i])
        j = i + 1
        while j < len(text) and (script_of(text[j]) == script or (script in ("cjk", "arabic", "hebrew") and text[j] == " "
                                                                       and j + 1 < len(text) and script_of(text[j + 1]) == script)):
            j += 1
        run = text[i:j]
        if script == "greek" and not any(_greek_accented(ch) for ch in run):
            script = None
        if script is None or (script == "cyrillic" and all(_tex_char(ch) is not None for ch in run)):
            yield None, run
        else:
            yield script, run
        i = j


def _code_points(run: str) -> str:
    return "".join(" " if ch == " " else f"[U+{ord(ch):04X}]" for ch in run)


def escape_tex(text: str) -> str:
    """Text from a problem file made inert for LaTeX, set by any engine (see the module's
    docstring); a script pdflatex cannot set is ``\\tracertext{script}{text}{fallback}``, what
    no engine sets ``[U+XXXX]`` in typewriter."""
    out = []
    for script, run in _runs(text):
        if script is not None:
            fallback = "".join(_tex_char(ch) or f"[U+{ord(ch):04X}]" for ch in unicodedata.normalize("NFD", run)
                               if unicodedata.category(ch) != "Mn") if script == "greek" else _code_points(run)
            body = "".join(ch if not unicodedata.category(ch).startswith("C") else "" for ch in run)
            out.append(rf"\tracertext{{{script}}}{{{body}}}{{{fallback}}}")
            continue
        for ch in run:
            tex = _tex_char(ch)
            out.append(tex if tex is not None else rf"\texttt{{[U+{ord(ch):04X}]}}")
    return "".join(out)


def unsettable(text: str) -> list[str]:
    """The distinct characters of ``text`` that pdflatex cannot set as they are (an accented Greek
    letter, a Chinese one, an emoji), in order."""
    seen: dict[str, None] = {}
    for script, run in _runs(text):
        for ch in run:
            if (script is not None and ch != " ") or _tex_char(ch) is None:
                if script != "greek" or _greek_accented(ch):
                    seen.setdefault(ch)
    return list(seen)


#: the LaTeX engines of ``-f pdf`` (``auto``: :func:`unicode_engine_needed` decides)
PDF_ENGINES = ("auto", "pdflatex", "xelatex", "lualatex")


def unicode_engine_needed(tex: str) -> bool:
    """Does a LaTeX text hold a script only XeLaTeX and LuaLaTeX set: :func:`escape_tex`'s runs, or the
    words of a document in Chinese (its fixed words come from the catalog as they are)?"""
    return r"\tracertext{" in tex or any(script_of(ch) in ("cjk", "arabic", "hebrew", "cyrillic") for ch in tex)


def no_engine_sets(text: str) -> list[str]:
    """The distinct characters of ``text`` that no engine here sets (emoji, scripts without a font)."""
    seen: dict[str, None] = {}
    for script, run in _runs(text):
        if script is None:
            for ch in run:
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
