"""The math printers: one SymPy printer subclass per dialect, text and LaTeX.

Every expression the project shows — a worked solution's equations, a derivative
rule by rule, a gradient-descent update — is printed by :class:`TextPrinter` or
:class:`LatexPrinter`. Both are SymPy's own printers customised the way SymPy
customises them (STYLE.md): one ``_print_<Type>`` method per kind of node, and
brackets decided by precedence through ``parenthesize`` — never by editing a
printed string. Sums and products are taken apart structurally (a minus sign is
read off the leading coefficient, never off the printed text) and nothing is
evaluated while it is printed, so an expression built unevaluated — the middle
layer of a rule, ``(x + 2) − (x − 2)`` — is shown exactly as built.

A number substituted into an expression (handcalcs' middle layer) is a
:class:`SubstitutedNumber`: an atom that carries the float. Its precedence is that
of a sum when it is negative, so it is bracketed exactly where an operator needs it
— ``0.04 × (−2.5)``, ``(−0.3)^2``, ``0.01 − (−0.3)``, ``−(0.01 − 0.75)`` — and
nowhere else: ``max(0, −0.576)``, ``exp(−0.9632)``, ``e^{-0.9632}``, ``−0.29``.
The digits are the caller's: both printers take the project's one number formatter
(:func:`tracer.numbers.fmt`) as their ``number`` setting.

Settings beyond SymPy's own (both dialects):

``symbol_names``
    symbol → how it is written (text: a symbol not in the mapping prints its name);
``number``
    ``float → str``, the formatter of substituted numbers and floats;
``as_built``
    a sum or product SymPy would not have built (a rule's combination) keeps its
    order and shows its grouping; one SymPy would build prints in SymPy's order;
``leading_positive``
    a sum starts with a positive term where it has one (``y − o``, not ``−o + y``).

Text only: ``mul_symbol`` (``"·"``, or ``" × "`` between substituted numbers),
``exp`` (``"power"``: ``e^x``; ``"function"``: ``exp(x)``) and ``log``
(``"ln"`` or ``"log"``).
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter as SympyLatexPrinter
from sympy.printing.precedence import PRECEDENCE, precedence, precedence_traditional
from sympy.printing.str import StrPrinter

ADD, MUL, POW, ATOM = PRECEDENCE["Add"], PRECEDENCE["Mul"], PRECEDENCE["Pow"], PRECEDENCE["Atom"]


class SubstitutedNumber(sp.Dummy):
    """A number written into an expression in place of a symbol; nothing is computed with it.

    A :class:`~sympy.Dummy` (every substitution is its own atom, and SymPy treats it
    as it treats any symbol: ``max(0, n)``, ``n > 0`` and ``e^n`` stay unevaluated)
    that carries the value. Negative, it has the precedence of a sum (a minus sign
    is an operator); otherwise that of an atom.
    """

    def __new__(cls, value: float) -> "SubstitutedNumber":
        atom = super().__new__(cls, "n")
        atom.value = float(value)
        return atom

    @property
    def precedence(self) -> int:
        return ADD if self.value < 0 else ATOM


# ---------------------------------------------------------------------------
# Taking sums and products apart (structure only: nothing is evaluated)
# ---------------------------------------------------------------------------


def _is_negative_number(expr: sp.Expr) -> bool:
    """A SymPy number below zero (a substituted number is an atom, never a coefficient)."""
    return bool(expr.is_Number and expr.is_extended_negative)


def _negative_term(term: sp.Expr) -> bool:
    """Is this term of a sum written with a minus: a negative number, or a product led by one?"""
    return _is_negative_number(term) or bool(term.is_Mul and term.args and _is_negative_number(term.args[0]))


def _negated(term: sp.Expr) -> sp.Expr:
    """``−term`` built without evaluating: ``−(−1·(x − 2))`` is ``x − 2``, and ``−(−2·(x + 2))``
    is ``2·(x + 2)`` (SymPy's own negation would multiply that out to ``2x + 4``)."""
    if term.is_Number:
        return -term
    coefficient, rest = term.args[0], term.args[1:]
    if coefficient == -1:
        return rest[0] if len(rest) == 1 else sp.Mul(*rest, evaluate=False)
    return sp.Mul(-coefficient, *rest, evaluate=False)


def _is_reciprocal(factor: sp.Expr) -> bool:
    """A power with a negative exponent (``x^(−2)``, ``y^(−e)``): it is written below a fraction bar."""
    return bool(factor.is_Pow and factor.exp.as_coeff_Mul()[0].is_extended_negative)


def _canonical(expr: sp.Expr) -> bool:
    """Is this sum or product as SymPy builds it (same arguments, same order)?"""
    try:
        return expr.func(*expr.args).args == expr.args
    except (TypeError, ValueError):  # pragma: no cover - defensive
        return False


def _usual_order(expr: sp.Expr) -> bool:
    """Print an as-built sum in SymPy's usual order?

    Yes when SymPy built it (canonical, with canonical terms) — unless that order
    would start with a minus where the built one does not (``σ − σ²``, not ``−σ² + σ``).
    """
    if not _canonical(expr) or any((a.is_Add or a.is_Mul) and not _canonical(a) for a in expr.args):
        return False
    usual = expr.as_ordered_terms()
    return not (_negative_term(usual[0]) and not _negative_term(expr.args[0]))


def _leading_positive(terms: list) -> list:
    """The textbook order of a sum: a positive term first (y − o, not −o + y)."""
    if not terms or not _negative_term(terms[0]):
        return terms
    for k, term in enumerate(terms):
        if not _negative_term(term):
            return [term] + terms[:k] + terms[k + 1 :]
    return terms


def _fraction(factors: list, built: bool) -> tuple[list, list]:
    """Numerator and denominator factors of a product, in order: ``x^(−2)`` goes below the
    line, and so does the ``q`` of a rational unless the product is shown as built
    (``(1/2)·(2·(o − y))``: a rule's constant stays a factor)."""
    numerator, denominator = [], []
    for f in factors:
        if _is_reciprocal(f):
            denominator.append(f.base if f.exp == -1 else sp.Pow(f.base, _negated(f.exp), evaluate=False))
        elif f.is_Rational and not f.is_Integer and not built:
            if f.p != 1:
                numerator.append(sp.Integer(f.p))
            denominator.append(sp.Integer(f.q))
        else:
            numerator.append(f)
    return numerator, denominator


def _textbook_pairs(factors: list) -> list:
    """σ(u) before 1 − σ(u), as the texts write σ′ = σ(1 − σ) (SymPy orders the sum first)."""
    for k, f in enumerate(factors):
        if f.is_Add and len(f.args) == 2 and sp.Integer(1) in f.args:
            other = [a for a in f.args if a != 1][0]
            partner = -other
            if type(partner).__name__ == "sigmoid" and partner in factors[k + 1:]:
                rest = [g for g in factors if g is not f]
                at = rest.index(partner)
                return _textbook_pairs(rest[: at + 1] + [f] + rest[at + 1 :])
    return factors


def _starts_with_digit(expr: sp.Expr) -> bool:
    """Does this factor print starting with a digit (then LaTeX needs a visible ``\\cdot`` before it)?"""
    if isinstance(expr, SubstitutedNumber):
        return expr.value >= 0
    if expr.is_Number:
        return not expr.is_extended_negative
    if expr.is_Pow:
        return _starts_with_digit(expr.base)
    return False


class _Arithmetic:
    """Sums, products and powers for both dialects; a dialect gives the spellings.

    A dialect defines ``_bracket(text)``, ``_minus_term`` (between terms),
    ``_unary_minus`` (in front), ``_times(factor, built)`` (the sign before a factor)
    and ``_divided(top, bottom, numerator, denominator)`` (a fraction of the printed
    factors; the factors themselves decide whether it needs brackets).
    """

    def _print_SubstitutedNumber(self, expr) -> str:
        return self._number(expr.value)

    def _number(self, value: float) -> str:
        number = self._settings["number"]
        if number is None:
            raise TypeError("printing a number needs the 'number' setting (the project's formatter, fmt)")
        return number(value)

    def _print_Float(self, expr) -> str:
        return self._number(float(expr))

    _settings: dict

    # -- precedence: SymPy's, with the atoms this project adds -----------------------
    def _precedence(self, item) -> int:
        if isinstance(item, SubstitutedNumber):
            return item.precedence
        if isinstance(item, (sp.Abs, sp.Piecewise)):
            return ATOM  # |…| and a bracketed case list delimit themselves
        if self._as_fraction(item):
            return MUL  # x^(−1) is written 1/x: a quotient, (1/x)^2 and a/(1/x)
        return self._sympy_precedence(item)

    def _as_fraction(self, item) -> bool:
        """Is this power written as a fraction (``1/x``) rather than with its exponent?"""
        return _is_reciprocal(item)

    def _sympy_precedence(self, item) -> int:
        return precedence(item)

    def _parenthesized(self, item, level: int, strict: bool = False) -> str:
        value = self._precedence(item)
        if value < level or (not strict and value <= level):
            return self._bracket(self._print(item))
        return self._print(item)

    # -- sums ---------------------------------------------------------------------------
    def _terms(self, expr: sp.Expr, order=None) -> list:
        if self._settings.get("as_built"):
            terms = expr.as_ordered_terms() if _usual_order(expr) else list(expr.args)
            # a constant sum such as the exponent e − 1 of (x^e)′: SymPy orders −1 before e
            return _leading_positive(terms) if all(t.is_number for t in terms) else terms
        terms = list(self._as_ordered_terms(expr, order=order))
        return _leading_positive(terms) if self._settings.get("leading_positive") else terms

    def _print_Add(self, expr, order=None) -> str:
        out = []
        for k, term in enumerate(self._terms(expr, order)):
            negative = _negative_term(term)
            shown = _negated(term) if negative else term
            signed = negative or k > 0
            value = self._precedence(shown)
            # a sum inside a sum is shown as built; after a sign, a negative operand is bracketed
            if shown.is_Add or value < ADD or (signed and value <= ADD):
                text = self._bracket(self._print(shown))
            elif negative and _is_reciprocal(shown):
                text = self._print_Mul(shown)  # − 1/x^4, as −1·x^(−4) is written
            else:
                text = self._print(shown)
            if k == 0:
                out.append(f"{self._unary_minus}{text}" if negative else text)
            else:
                out.append(f" {self._minus_term if negative else '+'} {text}")
        return "".join(out)

    # -- products -------------------------------------------------------------------------
    def _factors(self, expr: sp.Expr) -> list:
        if not expr.is_Mul:
            return [expr]
        if self._settings.get("as_built") or self._settings.get("order") in ("none", "old"):
            return _textbook_pairs(list(expr.args))
        return _textbook_pairs(list(expr.as_ordered_factors()))

    def _print_Mul(self, expr) -> str:
        factors = self._factors(expr)
        sign = ""
        if len(factors) > 1 and _is_negative_number(factors[0]):
            sign = self._unary_minus
            factors = ([-factors[0]] if factors[0] != -1 else []) + factors[1:]
        built = bool(self._settings.get("as_built") and expr.is_Mul and not _canonical(expr))
        numerator, denominator = _fraction(factors, built)
        if not denominator:
            if len(numerator) == 1:  # after a minus only a sum (or a negative number) needs brackets: −a·b
                return sign + self._parenthesized(numerator[0], MUL, strict=bool(sign))
            return sign + self._product(numerator, built)
        top = self._product(numerator, built) if numerator else "1"
        bottom = self._product(denominator, built)
        return sign + self._divided(top, bottom, numerator, denominator)

    def _product(self, factors: list, built: bool) -> str:
        """Factors joined by the dialect's sign; a lone factor as it is (its context brackets it)."""
        if len(factors) == 1:
            return self._print(factors[0])
        out = self._parenthesized(factors[0], MUL)
        for f in factors[1:]:
            out += self._times(f, built) + self._parenthesized(f, MUL)
        return out


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------

_RELATIONS = {"==": "=", "!=": "≠", ">=": "≥", "<=": "≤", ">": ">", "<": "<"}


class TextPrinter(_Arithmetic, StrPrinter):
    """Terminal math: ``12·x·(2·x^2 − 1)^2``, ``max(0, z1[1]#1)``, ``0.04 × (−2.5)``,
    ``(1 if z1[1] > 0, else 0)``; Unicode minus, never ``**``, ``Max(`` or ``Piecewise(``."""

    _default_settings: dict[str, Any] = {
        **StrPrinter._default_settings,
        "symbol_names": {},
        "number": None,
        "as_built": False,
        "leading_positive": False,
        "mul_symbol": "·",
        "exp": "power",
        "log": "ln",
    }

    _minus_term = "−"
    _unary_minus = "−"

    def _bracket(self, text: str) -> str:
        return f"({text})"

    def _times(self, factor, built: bool) -> str:
        return self._settings["mul_symbol"]

    def _divided(self, top: str, bottom: str, numerator: list, denominator: list) -> str:
        if len(numerator) == 1 and self._precedence(numerator[0]) <= MUL:
            top = self._bracket(top)  # a sum, a product as built or a negative number over something
        if len(denominator) > 1 or self._precedence(denominator[0]) <= MUL:
            bottom = self._bracket(bottom)
        return f"{top}/{bottom}"

    def parenthesize(self, item, level, strict=False) -> str:
        return self._parenthesized(item, level, strict)

    def _as_fraction(self, item) -> bool:
        return bool(item.is_Pow and item.exp in (-1, -sp.S.Half))  # x^(−3) keeps its exponent

    def _sympy_precedence(self, item) -> int:
        if isinstance(item, sp.exp) and self._settings["exp"] == "power":
            return POW  # e^x is a power: (e^x)^2, not e^x^2
        return precedence(item)

    # -- atoms -------------------------------------------------------------------------
    def _print_Symbol(self, expr) -> str:
        return self._settings["symbol_names"].get(expr, expr.name)


    def _print_Integer(self, expr) -> str:
        return f"−{-expr.p}" if expr.p < 0 else str(expr.p)

    def _print_Rational(self, expr) -> str:
        if expr.q == 1:
            return self._print_Integer(expr)
        return f"{'−' if expr.p < 0 else ''}{abs(expr.p)}/{expr.q}"

    def _print_Exp1(self, expr) -> str:
        return "e"

    def _print_Pi(self, expr) -> str:
        return "π"

    def _print_Infinity(self, expr) -> str:
        return "∞"

    def _print_NegativeInfinity(self, expr) -> str:
        return "−∞"

    # -- powers and functions ---------------------------------------------------------
    def _exponent(self, exponent) -> str:
        """An exponent is bare when it is an atom (``x^2``, ``e^x``), bracketed otherwise (``e^(−x)``)."""
        text = self._print(exponent)
        return text if self._precedence(exponent) >= ATOM or isinstance(exponent, sp.floor) else self._bracket(text)

    def _print_Pow(self, expr, rational=False) -> str:
        base, exponent = expr.args
        if exponent == sp.S.Half:
            return f"√({self._print(base)})"
        if exponent in (-1, -sp.S.Half):
            return self._print_Mul(expr)  # 1/x, 1/√(x)
        if isinstance(base, SubstitutedNumber) and "e" in self._print(base):  # 1.5e+15 is 1.5 × 10^15: (1.5e+15)^20
            return f"{self._bracket(self._print(base))}^{self._exponent(exponent)}"
        return f"{self._parenthesized(base, POW)}^{self._exponent(exponent)}"

    def _print_exp(self, expr) -> str:
        if self._settings["exp"] == "function":
            return f"exp({self._print(expr.args[0])})"
        return f"e^{self._exponent(expr.args[0])}"

    def _print_log(self, expr) -> str:
        if len(expr.args) == 2:  # log(u, b) as the file writes it (kept unevaluated): the base is shown
            u, base = expr.args
            if base in (2, 10):
                return f"log{int(base)}({self._print(u)})"
            return f"log({self._print(u)}, {self._print(base)})"
        return f"{self._settings['log']}({self._print(expr.args[0])})"

    def _print_Abs(self, expr) -> str:
        return f"|{self._print(expr.args[0])}|"

    def _print_floor(self, expr) -> str:  # a step schedule's ⌊n/s⌋, bracketed already
        return f"⌊{self._print(expr.args[0])}⌋"

    def _print_Heaviside(self, expr) -> str:
        return f"H({self._print(expr.args[0])})"

    def _print_sigmoid(self, expr) -> str:
        return f"σ({self._print(expr.args[0])})"

    def _print_Phi(self, expr) -> str:  # GELU's Φ(z), the standard normal distribution function
        return f"Φ({self._print(expr.args[0])})"

    def _print_phi(self, expr) -> str:  # and its density φ(z)
        return f"φ({self._print(expr.args[0])})"

    def _print_Max(self, expr) -> str:  # relu: max(0, z), as the texts write it
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def _print_Min(self, expr) -> str:
        return f"min({', '.join(self._print(a) for a in expr.args)})"

    def _print_Piecewise(self, expr) -> str:
        """``(1 if z > 0, else 0)``: each value with its condition, the last one's ``else``."""
        pieces = []
        for value, condition in expr.args:
            if condition == sp.true:
                pieces.append(f"else {self._print(value)}" if pieces else self._print(value))
            else:
                pieces.append(f"{self._print(value)} if {self._print(condition)}")
        return pieces[0] if len(pieces) == 1 else f"({', '.join(pieces)})"

    # -- conditions -------------------------------------------------------------------
    def _print_Relational(self, expr) -> str:
        level = PRECEDENCE["Relational"]
        return f"{self._parenthesized(expr.lhs, level)} {_RELATIONS[expr.rel_op]} {self._parenthesized(expr.rhs, level)}"

    def _print_And(self, expr) -> str:
        return " and ".join(self._parenthesized(a, PRECEDENCE["And"]) for a in expr.args)

    def _print_Or(self, expr) -> str:
        return " or ".join(self._parenthesized(a, PRECEDENCE["Or"]) for a in expr.args)

    def _print_BooleanTrue(self, expr) -> str:
        return "true"

    def _print_BooleanFalse(self, expr) -> str:
        return "false"


# ---------------------------------------------------------------------------
# LaTeX
# ---------------------------------------------------------------------------


class LatexPrinter(_Arithmetic, SympyLatexPrinter):
    """LaTeX math for Markdown (MathJax) and .tex: SymPy's spellings (``\\frac``, ``e^{…}``,
    ``\\begin{cases}``), brackets by precedence, ``\\left(-2.5\\right)`` for a bracketed
    negative number. The spacing around ``+``, ``-``, ``\\cdot`` and ``\\times`` at the
    top level is what :func:`tracer.render.document.layout` breaks long lines at."""

    _default_settings: dict[str, Any] = {
        **SympyLatexPrinter._default_settings,
        "number": None,
        "as_built": False,
        "leading_positive": False,
    }

    _minus_term = "-"
    _unary_minus = "- "

    def _bracket(self, text: str) -> str:
        return rf"\left({text}\right)"

    def _times(self, factor, built: bool) -> str:
        if self._settings["mul_symbol"] is None and (built or _starts_with_digit(factor)):
            return r" \cdot "  # the factors of a rule's combination, or a number after a factor
        return self._settings["mul_symbol_latex"]

    def _divided(self, top: str, bottom: str, numerator: list, denominator: list) -> str:
        return rf"\frac{{{top}}}{{{bottom}}}"

    def parenthesize(self, item, level, is_neg=False, strict=False) -> str:
        return self._parenthesized(item, level, strict)

    def _sympy_precedence(self, item) -> int:
        return precedence_traditional(item)

    def _precedence(self, item) -> int:
        if isinstance(item, SubstitutedNumber) and item.value >= 0 and r"\times" in self._number(item.value):
            return MUL  # 3.5 \times 10^{-5} is a product
        if isinstance(item, sp.Piecewise):
            return MUL - 1  # a case list in a product is bracketed
        return super()._precedence(item)

    # -- atoms ---------------------------------------------------------------------------

    # -- powers and functions ---------------------------------------------------------
    def _print_Pow(self, expr) -> str:
        base, exponent = expr.args
        if exponent.is_Rational and abs(exponent.p) == 1 and exponent.q == 2:
            root = rf"\sqrt{{{self._print(base)}}}"
            return rf"\frac{{1}}{{{root}}}" if exponent.is_negative else root
        if _is_reciprocal(expr):
            return self._print_Mul(expr)  # \frac{1}{x^{2}}
        if isinstance(base, SubstitutedNumber):
            return rf"{self._parenthesized(base, POW)}^{{{self._print(exponent)}}}"
        if base.is_Symbol and self._print(base).startswith(r"\left("):  # a name bracketed already: (∂J/∂w)²
            return rf"{self._print(base)}^{{{self._print(exponent)}}}"
        if base.is_Symbol and "'" in self._print(base) and "^" not in self._print(base):  # w'_{1}: a group, or w'^{2} is a double superscript
            return rf"{{{self._print(base)}}}^{{{self._print(exponent)}}}"
        return super()._print_Pow(expr)

    def _print_log(self, expr, exp=None) -> str:
        r"""log(u, b) as the file writes it (kept unevaluated): ``\log_{b}``; SymPy's own drops the base."""
        if len(expr.args) != 2:
            return super()._print_log(expr, exp)
        u, base = expr.args
        text = rf"\log_{{{self._print(base)}}}\left({self._print(u)}\right)"
        return rf"{text}^{{{exp}}}" if exp else text

    def _print_Abs(self, expr, exp=None) -> str:
        text = rf"\left\lvert {self._print(expr.args[0])} \right\rvert"
        return rf"{text}^{{{exp}}}" if exp else text

    def _print_Heaviside(self, expr, exp=None) -> str:
        text = rf"H\left({self._print(expr.args[0])}\right)"
        return rf"{text}^{{{exp}}}" if exp else text

    def _print_sigmoid(self, expr, exp=None) -> str:
        text = rf"\sigma\left({self._print(expr.args[0])}\right)"
        return rf"{text}^{{{exp}}}" if exp else text

    def _print_Phi(self, expr, exp=None) -> str:
        text = rf"\Phi\left({self._print(expr.args[0])}\right)"
        return rf"{text}^{{{exp}}}" if exp else text

    def _print_phi(self, expr, exp=None) -> str:
        text = rf"\varphi\left({self._print(expr.args[0])}\right)"
        return rf"{text}^{{{exp}}}" if exp else text

    def _print_Max(self, expr, exp=None) -> str:
        """``\\max\\left(0, z\\right)``, the arguments in their order (SymPy's LaTeX sorts them)."""
        text = r"\max\left(" + ", ".join(self._print(a) for a in expr.args) + r"\right)"
        return rf"{text}^{{{exp}}}" if exp else text

    def _print_Min(self, expr, exp=None) -> str:
        text = r"\min\left(" + ", ".join(self._print(a) for a in expr.args) + r"\right)"
        return rf"{text}^{{{exp}}}" if exp else text


def printer(dialect: str, **settings) -> TextPrinter | LatexPrinter:
    """The printer of a dialect (``"text"`` or ``"latex"``) with these settings."""
    if dialect == "text":
        return TextPrinter(settings)
    return LatexPrinter(settings)

