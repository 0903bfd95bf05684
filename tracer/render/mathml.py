"""The LaTeX of a document's view, typeset as MathML for the web page (``-f html``).

Browsers render MathML natively (MathML Core: Chromium, Firefox, Safari), so the page
needs no MathJax and no network. The LaTeX converted is the one the ``tex`` and ``md``
paths print — the project's own printers — turned into MathML by **latex2mathml**;
SymPy's MathML printer would bypass those printers (themes, bracketed negative operands,
chains kept in order). latex2mathml knows no ``aligned`` environment, so an equation's
rows (``lhs = … `` then ``= …``) are converted cell by cell and set in an ``mtable`` here.

What latex2mathml cannot convert — an exception, a command it passes through as text
(``<mi>\\foo</mi>``), an alignment ``&`` left over, anything that is not well-formed
MathML of the elements below — raises :class:`NotConverted`; the page then shows that
equation in the text printer's rendering (marked ``class="fallback"``, counted in the tests).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Iterable, Sequence

import latex2mathml.converter
from markupsafe import Markup, escape

#: the MathML elements a page may contain: latex2mathml's output is parsed and refused when it has
#: any other (its ``\\text{…}`` is not escaped: ``\\text{<b>}`` would otherwise reach the page)
ELEMENTS = frozenset(
    "math mrow mi mn mo mtext msub msup msubsup mfrac msqrt mroot mover munder munderover "
    "mtable mtr mtd mspace mstyle menclose mpadded mphantom".split()
)
MATHML_NS = "http://www.w3.org/1998/Math/MathML"
_NS = "{" + MATHML_NS + "}"
ET.register_namespace("", MATHML_NS)
_COMMAND = re.compile(r"\\[A-Za-z]+")
#: what makes a line of math taller than a line: a fence around it stretches
_TALL = frozenset(f"{_NS}{name}" for name in ("mfrac", "mtable", "munder", "mover", "munderover", "msqrt", "mroot"))
_OUTER = re.compile(r"^<math[^>]*>(.*)</math>$", re.S)


class NotConverted(ValueError):
    """latex2mathml could not convert a piece of LaTeX faithfully."""


def fragment(latex: str) -> str:
    """The MathML content (without ``<math>``) of one piece of LaTeX, checked."""
    try:
        converted = latex2mathml.converter.convert(latex)
    except Exception as err:  # the converter's own errors (unbalanced braces, \left without \right …)
        raise NotConverted(f"{type(err).__name__}: {latex[:80]}") from None
    root = _checked(converted, latex)
    for fenced in root.iter():  # \left( … \right): a fence hugs what it encloses, as TeX sets it
        fences = [child for child in fenced if child.tag == f"{_NS}mo" and child.get("fence") == "true"]
        if not fences:
            continue
        # Chromium sets a stretchy fence around one line of math a space apart from it, "( −4 )":
        # a fence stretches only around something taller than a line (a fraction, a matrix, a sum's limits)
        tall = any(e.tag in _TALL and "true" not in (e.get("accent"), e.get("accentunder"))  # a hat over ŷ is no taller than y
                   for child in fenced if child not in fences for e in child.iter())
        for mo in fences:
            mo.set("lspace", "0")
            mo.set("rspace", "0")
            if not tall:
                mo.set("stretchy", "false")
    for row in root.iter():  # a sign after "=" or "(" is a prefix, set close to its number: = −4, (−4)
        children = list(row)
        for k, child in enumerate(children):
            if child.tag == f"{_NS}mo" and child.text in ("\u2212", "-", "+") and k > 0:
                before = children[k - 1]
                if before.tag == f"{_NS}mo" and before.get("form") != "postfix" and before.text not in (")", "]", "|"):
                    child.set("form", "prefix")
    _scripts(root)
    _decimal_commas(root)
    _primes(root)
    match = _OUTER.match(ET.tostring(root, encoding="unicode"))
    assert match is not None, converted
    return match.group(1)


#: how many arguments each script and fraction element takes (MathML: base and script(s))
ARITY = {f"{_NS}{name}": n for name, n in (("msup", 2), ("msub", 2), ("mfrac", 2), ("mroot", 2), ("munder", 2), ("mover", 2),
                                           ("msubsup", 3), ("munderover", 3))}


def _scripts(root: ET.Element) -> None:
    r"""A script on a fenced group — ``\begin{pmatrix}…\end{pmatrix}^{\top}`` — comes from latex2mathml
    as ``msup`` with the fence, the table, the fence and the script as four children: invalid,
    and Chromium then sets the ⊤ beside the matrix, not raised, and the entries at script size.
    The children before the scripts are the base: gathered into one ``mrow``."""
    for element in root.iter():
        arity = ARITY.get(element.tag)
        if arity is None or len(element) <= arity:
            continue
        children = list(element)
        extra = len(children) - arity + 1
        base = ET.Element(f"{_NS}mrow")
        for child in children[:extra]:
            element.remove(child)
            base.append(child)
        element.insert(0, base)


def _decimal_commas(root: ET.Element) -> None:
    """``0{,}5`` (a decimal comma: German, Spanish) comes from latex2mathml as ``<mn>0</mn><mrow><mo>,</mo></mrow>
    <mn>5</mn>``: a comma operator, with space after it, between two numbers. It is one number: ``<mn>0,5</mn>``."""
    for parent in root.iter():
        k = 0
        while k + 2 < len(parent):
            a, comma, b = parent[k], parent[k + 1], parent[k + 2]
            # only the braced comma, {,}: a bare one separates indices (x_{1,2})
            inner = comma[0] if comma.tag == f"{_NS}mrow" and len(comma) == 1 else None
            if (a.tag == f"{_NS}mn" and b.tag == f"{_NS}mn" and inner is not None and inner.tag == f"{_NS}mo"
                    and (inner.text or "").strip() == ","):
                a.text = (a.text or "") + "," + (b.text or "")
                a.tail = b.tail
                parent.remove(comma)
                parent.remove(b)
                continue
            k += 1


def _primes(root: ET.Element) -> None:
    """``f'`` is ``<msup><mi>f</mi><mi>′</mi></msup>`` from latex2mathml: the prime, a raised glyph
    already, raised once more (an accent over the f). Set it beside its base, as TeX's f′ looks."""
    for parent in root.iter():
        for k, child in reversed(list(enumerate(parent))):  # from the end: an insertion moves what follows
            if child.tag != f"{_NS}msup" or len(child) != 2:
                continue
            script = child[1]
            while script.tag == f"{_NS}mrow" and len(script) == 1:
                script = script[0]
            if script.tag in (f"{_NS}mi", f"{_NS}mo") and (script.text or "").strip() in ("\u2032", "\u2033") and not len(script):
                prime = ET.Element(f"{_NS}mo", {"lspace": "0", "rspace": "0"})
                prime.text = script.text.strip()
                prime.tail = child.tail
                base = child[0]
                base.tail = None
                parent.remove(child)
                parent.insert(k, prime)
                parent.insert(k, base)


def _checked(converted: str, latex: str) -> ET.Element:
    try:
        root = ET.fromstring(converted)
    except ET.ParseError:
        raise NotConverted(f"not well-formed MathML: {latex[:80]}") from None
    for element in root.iter():
        name = element.tag.removeprefix(_NS)
        if name not in ELEMENTS:
            raise NotConverted(f"<{name}> in the MathML of {latex[:80]}")
        for text in (element.text, element.tail):
            if text and (_COMMAND.search(text) or "&" in text):
                raise NotConverted(f"{text.strip()!r} left unconverted in {latex[:80]}")
    return root


def inline(latex: str) -> Markup:
    """Inline math: ``<math>…</math>``."""
    return Markup(f"<math>{fragment(latex)}</math>")


def display(latex: str) -> Markup:
    return Markup(f'<math display="block">{fragment(latex)}</math>')


def aligned(rows: Iterable[Sequence[str]]) -> Markup:
    """LaTeX's ``aligned``: rows of (right-aligned cell, left-aligned cell), as ``lhs &= rhs``
    would set them; an empty first cell continues the row before."""
    out = []
    for row in rows:
        cells = []
        for k, cell in enumerate(row):
            align = "right" if k % 2 == 0 else "left"
            cells.append(f'<mtd columnalign="{align}">{fragment(cell) if cell else ""}</mtd>')
        out.append(f"<mtr>{''.join(cells)}</mtr>")
    return Markup(f'<math display="block"><mtable displaystyle="true">{"".join(out)}</mtable></math>')


def equation_rows(eq) -> list[tuple[str, str]]:
    """A numbered equation's rows as its LaTeX layout breaks them (:func:`tracer.render.document.layout`):
    ``lhs = symbolic`` then ``= substituted``, ``= value``; a broken sum's continuation indented;
    then the ``--detail full`` derivation lines. The references ("from (3)") are links beside it."""
    rows: list[tuple[str, str]] = []
    for k, (lead, math) in enumerate(eq.rows):
        if k == 0:
            rows.append((eq.lhs, f"= {math}"))
        elif lead == "=":
            rows.append(("", f"= {math}"))
        else:
            rows.append(("", rf"\quad {math}"))
    rows.extend(("", rf"\quad {line}") for line in eq.derivation)
    return rows


def equation(eq) -> Markup:
    return aligned(equation_rows(eq))


def split_equation(latex: str) -> tuple[str, str]:
    """``lhs = rhs`` (an optimizer's rule as the view states it) as the two cells of a row."""
    lhs, _, rhs = latex.partition("=")
    return lhs.strip(), f"= {rhs.strip()}"


def text_fallback(text: str) -> Markup:
    """What the page shows where MathML could not be made: the text printer's rendering."""
    return Markup(f'<span class="fallback">{escape(text)}</span>')


# -- the filters of the page environment (-f html): each typesets one kind of view item, falling back to
# its LaTeX as text (marked, counted in the tests) where latex2mathml cannot --------------------


def _or_fallback(make, latex_of_it: str) -> Markup:
    try:
        return make()
    except NotConverted:
        return text_fallback(latex_of_it)


def math_filter(latex) -> Markup:
    """``{{ name | math }}``: inline math."""
    latex = str(latex)
    return _or_fallback(lambda: inline(latex), latex)


def rules_filter(equations: list[str]) -> Markup:
    """An optimizer's rules, ``lhs = rhs`` each, aligned at their ``=``."""
    return _or_fallback(lambda: aligned(split_equation(e) for e in equations), "; ".join(equations))


def derivation_filter(d) -> Markup:
    """A derivation view's rows (lead, math, reason): ``lhs = …``, ``= …``, ``where …``, a reason."""
    rows = []
    for k, (lead, math, reason) in enumerate(d.rows):
        tail = rf" \quad {reason}" if reason else ""
        if k == 0:
            rows.append((d.lhs, f"= {math}{tail}"))
        elif lead == "where":
            rows.append(("", rf"\qquad \text{{where }} {math}{tail}"))
        elif lead == "reason":
            rows.append(("", rf"\qquad {math}{tail}"))
        else:
            rows.append(("", f"= {math}{tail}"))
    return _or_fallback(lambda: aligned(rows), " ".join(cell for row in rows for cell in row))


def feature_map_filter(row) -> Markup:
    """A feature map's row: ``lhs = rule = substituted = [grid]``, one line each."""
    grid = r"\begin{bmatrix} " + r" \\ ".join(" & ".join(cells) for cells in row["grid"]) + r" \end{bmatrix}"
    rows = [(row["lhs"], f"= {part}") for part in (row.get("rule"), row.get("substituted"), grid) if part]
    rows = [rows[0]] + [("", cell) for _, cell in rows[1:]]
    return _or_fallback(lambda: aligned(rows), " ".join(cell for r in rows for cell in r))


def delta_row_filter(row) -> Markup:
    """A δ-form row: ``lhs = symbolic = substituted = value``, one line each."""
    parts = [p for p in (row["symbolic"], row["substituted"], row["value"]) if p]
    rows = [(row["lhs"], f"= {parts[0]}")] + [("", f"= {p}") for p in parts[1:]]
    return _or_fallback(lambda: aligned(rows), " ".join(cell for r in rows for cell in r))


_INLINE = re.compile(r"(\$[^$]+\$)")


def prose_filter(text: str) -> Markup:
    """A view's sentence with ``$…$`` inline math in it (a feature map's note): text escaped, math typeset."""
    out = []
    for k, piece in enumerate(_INLINE.split(str(text))):
        out.append(math_filter(piece[1:-1]) if k % 2 else escape(piece))
    return Markup("".join(out))


def sides_filter(equations: list[dict]) -> Markup:
    """Equations given as their two sides ``{"lhs", "rhs"}`` (a graph problem's), aligned at ``=``."""
    rows = [(e["lhs"], f"= {e['rhs']}") for e in equations]
    return _or_fallback(lambda: aligned(rows), "; ".join(f"{a} {b}" for a, b in rows))


FILTERS = {"math": math_filter, "prose": prose_filter, "rules": rules_filter, "sides": sides_filter, "derivation": derivation_filter,
           "feature_map": feature_map_filter, "delta_row": delta_row_filter}


__all__ = ["FILTERS", "NotConverted", "fragment", "inline", "display", "aligned", "equation", "equation_rows", "split_equation", "text_fallback"]
