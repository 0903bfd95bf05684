"""The only math → string code: the printing of a step's forms (numbers through :mod:`tracer.numbers`).

Two dialects share one structure: ``text`` (Unicode, for the terminal) and ``latex``
(for Markdown+MathJax and the .tex handout). A :class:`Printer` is configured with a
notation theme (which names the symbols) and a number of significant digits; the
project's printers (:mod:`tracer.render.sympy_printers`, SymPy printer subclasses) do the
expressions, given the names of the symbols from the theme. Substituted numbers are
printed by replacing each symbol with a :class:`~tracer.render.sympy_printers.SubstitutedNumber`,
an atom that prints as the rounded number and is bracketed by precedence where an
operator needs it — so nothing is evaluated while it is shown.
"""

from __future__ import annotations

from dataclasses import replace
from functools import singledispatch

import sympy as sp

from tracer.keys import Partial, Quantity
from tracer.core.solution import Affine, Chain, Expression, Step, Sum, Update
from tracer.notation.base import canonical, plain_optimizer_name
from tracer.notation.view import NamesView
from tracer.render.sympy_printers import LatexPrinter, SubstitutedNumber, TextPrinter
from tracer.numbers import DEFAULT_DIGITS, fmt, fmt_operand
from tracer.render.user_text import escape_markdown, escape_tex  # noqa: F401 (the renderers' names for them)


def decimal_comma(text: str, dialect: str) -> str:
    """A formatted number with a decimal comma (German, Spanish): ``0,5``; in LaTeX ``0{,}5``, so
    that TeX sets no space after the comma as it would after a punctuation mark."""
    return text.replace(".", "{,}" if dialect == "latex" else ",")


class Printer:
    def __init__(self, dialect: str = "text", names: NamesView | None = None, digits: int = DEFAULT_DIGITS, comma: bool = False):
        self.dialect = dialect
        self.digits = digits
        if names is None:
            names = canonical_names(dialect)
        self.names = names
        self.comma = comma  # a decimal comma (tracer.render.i18n.decimal_comma)

    # -- numbers ---------------------------------------------------------------------
    def number(self, value: float) -> str:
        text = fmt(value, self.digits, self.dialect)
        return decimal_comma(text, self.dialect) if self.comma else text

    def operand(self, value: float) -> str:
        text = fmt_operand(value, self.digits, self.dialect)
        return decimal_comma(text, self.dialect) if self.comma else text

    # -- names ---------------------------------------------------------------------
    def target(self, t: Quantity | Partial) -> str:
        if isinstance(t, Partial):
            own = self.names.partial(t) if self.names.partial else None  # type: ignore[operator]
            if own:
                return own
            of = self.names.quantity(_with_sample(t.of, t.sample))  # type: ignore[operator]
            wrt = self.names.quantity(t.wrt)  # type: ignore[operator]
            if self.dialect == "latex":
                fraction = rf"\frac{{\partial {of}}}{{\partial {wrt}}}"
                return rf"\left.{fraction}\right|_{{\text{{local}}}}" if t.local else fraction
            return f"∂{of}/∂{wrt}|local" if t.local else f"∂{of}/∂{wrt}"
        return self.names.quantity(t)  # type: ignore[operator]

    def _symbol_names(self, bindings, expression: sp.Expr | None = None) -> dict:
        """Each bound symbol's name: its quantity as the theme writes it, sample included
        (``max(0, z1[1]#1)``, in the bracket theme ``e^{z_{1,(2)}^{[2]}}``) — a formula of sample 2 is about sample 2.
        A partial (an optimizer's gradient) is bracketed where it is raised to a power: (∂loss/∂w)²."""
        powered = {p.base for p in expression.atoms(sp.Pow)} if expression is not None else set()
        names = {}
        for b in bindings:
            name = self.target(b.target)
            if isinstance(b.target, Partial) and b.symbol in powered:
                name = rf"\left({name}\right)" if self.dialect == "latex" else f"({name})"
            names[b.symbol] = name
        return names

    # -- expressions -------------------------------------------------------------------
    def _printer(self, symbol_names: dict, numbers: bool) -> TextPrinter | LatexPrinter:
        """The dialect's printer: terms as built (``order="none"``); products with ``·``/``\\cdot``
        between symbols and ``×``/``\\times`` between substituted numbers."""
        settings = {"symbol_names": symbol_names, "order": "none", "number": self.number}
        if self.dialect == "latex":
            return LatexPrinter({**settings, "mul_symbol": "times" if numbers else "dot"})
        mul = f" {self.names.times} " if numbers else "·"
        return TextPrinter({**settings, "mul_symbol": mul, "exp": "function", "log": "log"})

    def expression(self, expr: sp.Expr, symbol_names: dict | None = None) -> str:
        return self._printer(symbol_names or {}, numbers=False).doprint(expr)

    def substituted_expression(self, expr: sp.Expr, values: dict[sp.Symbol, float]) -> str:
        numbers = {sym: SubstitutedNumber(v) for sym, v in values.items()}
        with sp.evaluate(False):
            replaced = _signs_folded(expr.xreplace(numbers))
        return self._printer({}, numbers=True).doprint(replaced)

    # -- the three layers of a step: symbolic = substituted = value ---------------------
    # Each returns the terms of a sum as separate parts, so that a renderer can break a
    # long sum across lines (the parts after the first start with their operator). One
    # function per form (:func:`symbolic_parts`, :func:`substituted_parts`).
    def symbolic_parts(self, step: Step) -> list[str]:
        return symbolic_parts(step.form, self)

    def substituted_parts(self, step: Step) -> list[str]:
        return substituted_parts(step.form, self)

    def symbolic(self, step: Step) -> str:
        return " ".join(self.symbolic_parts(step))

    def substituted(self, step: Step) -> str:
        return " ".join(self.substituted_parts(step))

    def _chain_symbolic(self, chain: Chain) -> str:
        return self._product([self.target(f.target) for f in chain.factors])

    def _product(self, parts: list[str], numbers: bool = False) -> str:
        if self.dialect == "latex":
            sep = r" \times " if numbers else r" \cdot "
        else:
            sep = f" {self.names.times} " if numbers else f" {self.names.dot} "
        return sep.join(parts)

    @staticmethod
    def _terms(parts: list[str]) -> list[str]:
        return parts[:1] + [f"+ {p}" for p in parts[1:]]

    def _scaled(self, parts: list[str], scale: float | None) -> list[str]:
        """``(1/n)(a + b + …)``, the brackets opening on the first part and closing on the last."""
        if scale is None or not parts:
            return parts
        n = round(1 / scale)
        if self.dialect == "latex":
            opening, left, right = rf"\frac{{1}}{{{n}}}", r"\bigl(", r"\bigr)"
        else:
            opening, left, right = f"(1/{n})·", "(", ")"
        out = list(parts)
        out[0] = f"{opening}{left}{out[0]}"
        out[-1] = f"{out[-1]}{right}"
        return out


# ---------------------------------------------------------------------------
# A step's form, symbolic and substituted: one function per form
# ---------------------------------------------------------------------------


@singledispatch
def symbolic_parts(form, p: Printer) -> list[str]:
    """The symbolic layer of a step of this form, as the terms of its sum (``w_5 · out_h1``, ``+ b_2``)."""
    raise TypeError(f"no symbolic layer for a form of type {type(form).__name__}")


@symbolic_parts.register(Affine)
def _affine_symbolic(form: Affine, p: Printer) -> list[str]:
    parts = [p._product([p.target(w.target), p.target(i.target)]) for w, i in form.terms]
    if form.bias is not None:
        parts.append(p.target(form.bias.target))
    return p._terms(parts)


@symbolic_parts.register(Expression)
def _expression_symbolic(form: Expression, p: Printer) -> list[str]:
    return [p.expression(form.symbolic, p._symbol_names(form.bindings, form.symbolic))]


@symbolic_parts.register(Chain)
def _chain_symbolic(form: Chain, p: Printer) -> list[str]:
    return [p._chain_symbolic(form)]


@symbolic_parts.register(Sum)
def _sum_symbolic(form: Sum, p: Printer) -> list[str]:
    extra = [f"+ {p._chain_symbolic(t)}" for t in form.extra]
    return p._scaled(p._terms([p._chain_symbolic(t) for t in form.terms]), form.scale) + extra


@symbolic_parts.register(Update)
def _update_symbolic(form: Update, p: Printer) -> list[str]:
    minus, dot = ("-", r"\cdot") if p.dialect == "latex" else ("−", "·")
    return [f"{p.target(form.parameter.target)} {minus} {p.names.rate} {dot} {p.target(form.gradient.target)}"]


@singledispatch
def substituted_parts(form, p: Printer) -> list[str]:
    """The substituted layer of a step of this form: its numbers in place of its symbols, rounded to
    the printer's digits, nothing evaluated (``0.4 × 0.593269992 + 0.6``)."""
    raise TypeError(f"no substituted layer for a form of type {type(form).__name__}")


@substituted_parts.register(Affine)
def _affine_substituted(form: Affine, p: Printer) -> list[str]:
    parts = [p._product([p.operand(w.value), p.operand(i.value)], numbers=True) for w, i in form.terms]
    if form.bias is not None:
        parts.append(p.operand(form.bias.value))
    return p._terms(parts)


@substituted_parts.register(Expression)
def _expression_substituted(form: Expression, p: Printer) -> list[str]:
    if not form.bindings:
        return []
    return [p.substituted_expression(form.symbolic, {b.symbol: b.value for b in form.bindings})]


@substituted_parts.register(Chain)
def _chain_substituted(form: Chain, p: Printer) -> list[str]:
    return [p._product([p.operand(f.value) for f in form.factors], numbers=True)]


@substituted_parts.register(Sum)
def _sum_substituted(form: Sum, p: Printer) -> list[str]:
    terms = [p._product([p.operand(f.value) for f in t.factors], numbers=True) for t in form.terms]
    extra = [f"+ {p._product([p.operand(f.value) for f in t.factors], numbers=True)}" for t in form.extra]
    return p._scaled(p._terms(terms), form.scale) + extra


@substituted_parts.register(Update)
def _update_substituted(form: Update, p: Printer) -> list[str]:
    minus = "-" if p.dialect == "latex" else "−"
    return [f"{p.operand(form.parameter.value)} {minus} {p.operand(form.rate)} {p.names.times} {p.operand(form.gradient.value)}"]


def _with_sample(q: Quantity, sample: int | None) -> Quantity:
    if sample is None or q.sample is not None:
        return q
    return replace(q, sample=sample)


def _signs_folded(expr: sp.Basic, in_sum: bool = False) -> sp.Basic:
    """A minus in front of a substituted number taken into it, as a hand calculation writes it:
    −z at z = −0.2 is 0.2 (not −(−0.2)), at z = 0 it is 0 (not −0), −y·log(o) at y = 0 is
    0 × log(o) (not −0 × log(o)), and −d alone at d = 1 is the number −1 (so that ``g = −d = −1``
    does not repeat itself as ``= −1 = −1``). A minus before a positive number among other
    factors stays an operator (−1 × log(0.5)), and so does the minus of a lone number in a sum
    (1 − 0.6, x − (−0.2), as every substituted sum is written)."""
    if not expr.args or isinstance(expr, SubstitutedNumber):
        return expr
    args = [_signs_folded(a, expr.is_Add) for a in expr.args]
    if expr.is_Mul and args[0] == -1:
        numbers = [k for k, a in enumerate(args[1:], start=1) if isinstance(a, SubstitutedNumber)]
        alone = len(args) == 2
        if numbers and ((alone and not in_sum) or (not alone and args[numbers[0]].value <= 0)):
            k = numbers[0]
            rest = [SubstitutedNumber(-args[k].value) if j == k else a for j, a in enumerate(args) if j != 0]
            return rest[0] if len(rest) == 1 else sp.Mul(*rest, evaluate=False)
    return expr.func(*args, evaluate=False) if isinstance(expr, (sp.Add, sp.Mul, sp.Pow)) else expr.func(*args)


def canonical_names(dialect: str) -> NamesView:
    """Canonical names (SPEC.md §2): the theme-free notation of the terminal. A document shows
    one training step per section, so a quantity is named without its step (``z1[1]``, not
    ``z1[1]@2``), as the themes name it."""

    def quantity(q: Quantity) -> str:
        if q.is_state or q.kind == "hyper":
            return plain_optimizer_name(q, str(q.parameter) if q.is_state else "", "η")
        return canonical(q)

    return NamesView(quantity=quantity, loss_name="loss", rate="η")


def yaml_quoted(text: str) -> str:
    """A YAML double-quoted scalar of ``text`` (a Markdown title block's ``title:``): ``\\`` and
    ``"`` escaped, control characters written as ``\\xNN``, so no title ends the block early."""
    out = ['"']
    for ch in str(text):
        if ch in '\\"':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


# ---------------------------------------------------------------------------
# Width of typeset math (to break long equations before LaTeX runs off the page)
# ---------------------------------------------------------------------------

#: widths in em of Computer Modern math at display size (approximate; spacing included)
_CHAR_EM = {".": 0.28, ",": 0.45, "(": 0.39, ")": 0.39, "[": 0.28, "]": 0.28, "=": 1.34, "+": 1.22,
            "-": 1.22, "'": 0.3, "|": 0.28, "/": 0.5, " ": 0.0, "&": 0.0, "~": 0.33, "!": 0.28, ":": 0.56}
_COMMAND_EM = {"qquad": 2.0, "quad": 1.0, ",": 0.17, ";": 0.28, "!": -0.17, " ": 0.33, "cdot": 0.72,
               "times": 1.22, "partial": 0.57, "left": 0.0, "right": 0.0, "bigl": 0.0, "bigr": 0.0,
               "notag": 0.0, "odot": 1.22, "max": 1.7, "min": 2.4, "log": 1.4, "ln": 1.0, "exp": 1.6,
               "tanh": 2.2, "cdots": 1.5, "ldots": 1.5, "vdots": 0.5, "ddots": 1.2, "infty": 1.0,
               "eta": 0.5, "lambda": 0.58, "delta": 0.45, "sigma": 0.57, "top": 0.78, "prime": 0.3}
_SIZE = {"footnotesize": 0.8, "small": 0.9, "tiny": 0.5, "scriptsize": 0.7}
#: Computer Modern math italic (cmmi) letter widths in em
_LETTER_EM = dict(zip(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    [0.53, 0.43, 0.43, 0.52, 0.47, 0.49, 0.48, 0.58, 0.35, 0.41, 0.52, 0.30, 0.88, 0.60, 0.49, 0.50,
     0.45, 0.45, 0.47, 0.36, 0.57, 0.49, 0.72, 0.57, 0.49, 0.47,
     0.75, 0.76, 0.72, 0.83, 0.74, 0.64, 0.79, 0.83, 0.44, 0.56, 0.85, 0.68, 0.97, 0.80, 0.76, 0.64,
     0.79, 0.76, 0.61, 0.58, 0.68, 0.58, 0.94, 0.83, 0.58, 0.68],
))


def tex_width(tex: str) -> float:
    """An estimate, in em, of how wide LaTeX typesets a piece of display math.

    Good to about ten per cent for what this package prints (names with sub- and
    superscripts, fractions, numbers, ``\\text``): enough to decide where a long sum
    must break so that no line runs into the margin. The test suite compiles every
    example and fails on an overfull box, which keeps this estimate honest.
    """
    width, _ = _width(tex, 0, 1.0, text=False)
    return width


def _group(tex: str, i: int) -> tuple[str, int]:
    """The content of the brace group (or single token) starting at ``i``, and the index after it."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        return "", i
    if tex[i] == "{":
        depth, j = 0, i
        while j < len(tex):
            if tex[j] == "\\":
                j += 2
                continue
            if tex[j] == "{":
                depth += 1
            elif tex[j] == "}":
                depth -= 1
                if depth == 0:
                    return tex[i + 1 : j], j + 1
            j += 1
        return tex[i + 1 :], len(tex)
    if tex[i] == "\\":
        j = i + 1
        while j < len(tex) and tex[j].isalpha():
            j += 1
        return tex[i : max(j, i + 2)], max(j, i + 2)
    return tex[i], i + 1


def _width(tex: str, i: int, scale: float, text: bool) -> tuple[float, int]:
    total = 0.0
    last_script = 0.0  # a subscript and a superscript on the same base overlap
    while i < len(tex):
        ch = tex[i]
        script = 0.0
        if ch in "_^":
            content, i = _group(tex, i + 1)
            w = tex_width_scaled(content, scale * 0.73, text) + 0.05 * scale
            if last_script:
                total += max(0.0, w - last_script)
                last_script = 0.0
            else:
                total += w
                last_script = w
            continue
        if ch == "{":
            content, i = _group(tex, i)
            total += tex_width_scaled(content, scale, text)
        elif ch == "}":
            i += 1
        elif ch == "\\":
            j = i + 1
            while j < len(tex) and tex[j].isalpha():
                j += 1
            name = tex[i + 1 : j] if j > i + 1 else tex[i + 1 : i + 2]
            i = j if j > i + 1 else i + 2
            if name == "frac":
                num, i = _group(tex, i)
                den, i = _group(tex, i)
                total += max(tex_width_scaled(num, scale, text), tex_width_scaled(den, scale, text)) + 0.25 * scale
            elif name in ("text", "mathrm", "mathit", "textbf", "emph", "operatorname"):
                content, i = _group(tex, i)
                total += tex_width_scaled(content, scale, text=name != "mathit" and name != "mathrm" or text)
            elif name in ("hat", "bar", "tilde", "vec", "mathcal", "mathbf", "boldsymbol", "mathsf", "ensuremath"):
                content, i = _group(tex, i)
                total += tex_width_scaled(content, scale, text)
            elif name in ("tag", "label", "hspace", "vspace"):
                _, i = _group(tex, i)
            elif name in _SIZE:
                scale *= _SIZE[name] / (1.0 if scale >= 1.0 else 1.0)
            elif name == "\\":
                if i < len(tex) and tex[i] == "[":
                    i = tex.index("]", i) + 1 if "]" in tex[i:] else len(tex)
            elif name in ("{", "}", "$", "&", "#", "%", "_"):
                total += 0.5 * scale
            elif name == "left":
                # delimiters around a displayed fraction grow: each about 0.87 em, not the 0.39 of "("
                total += (_TALL_DELIMITERS_EM if "\\frac" in tex[i:_matching_right(tex, i)] else 0.0) * scale
            else:
                total += _COMMAND_EM.get(name, 0.6) * scale
        elif text:
            total += (0.33 if ch == " " else 0.28 if ch in ".,;:()'" else 0.5 if not ch.isupper() else 0.72) * scale
            i += 1
        else:
            if ch.isdigit():
                total += 0.5 * scale
            elif ch in _LETTER_EM:
                total += _LETTER_EM[ch] * scale
            elif ch in _CHAR_EM:
                total += _CHAR_EM[ch] * (scale if ch not in "=+-" or scale >= 1.0 else scale * 0.75)
            else:
                total += 0.6 * scale
            i += 1
        if ch not in "_^":
            last_script = 0.0 if not script else last_script
    return total, i


#: what a pair of \\left( … \\right) delimiters around a fraction adds to the two plain ones (measured:
#: (∂L/∂w)² is 51.5pt at 11pt, the plain-paren estimate 41.2pt)
_TALL_DELIMITERS_EM = 0.96


def _matching_right(tex: str, i: int) -> int:
    """The index of the ``\\right`` that closes the ``\\left`` just read (the end if none)."""
    depth = 1
    while i < len(tex):
        if tex.startswith("\\left", i):
            depth += 1
            i += 5
        elif tex.startswith("\\right", i):
            depth -= 1
            if depth == 0:
                return i
            i += 6
        else:
            i += 1
    return len(tex)


def tex_width_scaled(tex: str, scale: float, text: bool = False) -> float:
    return _width(tex, 0, scale, text)[0]
