"""A safe parser for ordinary math: text in, SymPy objects out, no code evaluated.

``2x^2``, ``x**2``, ``(2x^2 - 1)^3``, ``[2(x+2)^2 - 1]^2``, ``e^x``, ``exp(-x)``,
``ln(x)``, ``log10(x)``, ``sqrt(x)``, ``sigmoid(x)``, ``relu(x)``, ``max(0, x)``,
``x y`` … are read by a tokeniser with an allow-list and a recursive-descent
parser that builds the SymPy tree directly (``sympy.Add``, ``sympy.Mul``,
``sympy.Pow``, ``sympy.exp`` …). User text never reaches ``eval``, ``exec``,
``sympify`` or ``parse_expr``: a name is a SymPy ``Symbol`` or one of the known
functions and constants below, and anything else is refused with an
:class:`ExpressionError` that names the token and its (1-based) column.

Why not ``sympy.parse_expr``: it calls ``eval`` on a transformed version of the
text, so ``__import__('os').system(…)`` is one transformation bug away from
running. Here there is no path from text to Python evaluation at all.

Reading conventions (the ones a student expects, stated once):

* ``^`` and ``**`` are powers, right-associative: ``2^3^2 = 2^9``; ``-x^2 = -(x^2)``.
* Implicit multiplication binds like ``*`` and is read left to right:
  ``2x``, ``2(x+1)``, ``(x+1)(x-1)``, ``x y``, ``2 sin(x)``; ``1/2x = x/2``.
  A number may not follow without an operator (``2 3`` and ``x 2`` are refused).
* A multi-letter name is one variable: ``theta``, ``x1``, ``w_2``, ``xw`` (write
  ``x w`` or ``x*w`` for a product). A single letter followed by ``(`` multiplies
  (``x(1 - x)``); a longer unknown name followed by ``(`` is an unknown function.
* ``e`` is Euler's number (``e^x = exp(x)``) unless ``e_is_variable=True``;
  ``pi`` and ``π`` are π. ``2e-3`` is the number 0.002 (scientific notation).
* ``log`` and ``ln`` are the natural logarithm, ``log10``, ``log2``, and
  ``log(x, b)`` the logarithm to base ``b``.
* Numbers are exact rationals (``0.1`` is 1/10), so derivatives carry no float noise.
* ``[ ]`` are brackets like ``( )``; ``−``, ``·``, ``×``, ``÷``, ``²``, ``³`` as printed
  in the texts are accepted, and so are ``|u|`` (``abs(u)``) and ``√(u)`` (``sqrt(u)``) as
  `tracer diff` prints them: what it prints can be read back.

A *program* (:func:`parse_program`) adds an optional name for the function and
definitions of intermediate variables, for the multivariable chain rule:
``z = x^2 + e^y; x = 2t + 1; y = t^2``.
"""

from __future__ import annotations

import dataclasses

import re
import sys
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Callable

import mpmath
import sympy as sp

from tracer.calculus import values

#: longest accepted text (characters)
MAX_LENGTH = 10_000
#: deepest nesting of brackets, signs and exponents
MAX_DEPTH = 200
#: largest |exponent| of a power with a numeric exponent
MAX_EXPONENT = 1000
#: largest exact number built while parsing (bits of numerator + denominator)
MAX_NUMBER_BITS = 100_000
#: longest number literal (characters) and largest |decimal exponent| in one
MAX_NUMBER_LENGTH = 60
MAX_DECIMAL_EXPONENT = 300
#: a constant that is not a plain number (``pi^1000``, ``exp(40)``, ``asin(1/2)``) must be real and
#: within 10^±MAX_CONSTANT_EXPONENT: ``asin(3)`` is complex and ``sinh(cosh(10))`` ≈ 10^4782, and
#: SymPy, asked whether such a value is positive or comparable, expands or evaluates it for minutes
MAX_CONSTANT_EXPONENT = 1000
#: most powers with a variable exponent stacked in one another:
#: ``x^x^x^x^x`` is 4; 150 of them took SymPy's assumptions seconds just to build
MAX_TOWER = 8


class ExpressionError(ValueError):
    """Bad input: ``message`` names the token, ``column`` (1-based) says where."""

    def __init__(self, message: str, column: int | None = None, hint: str | None = None):
        self.message = message
        self.column = column
        self.hint = hint
        text = f"{message} at column {column}" if column is not None else message
        super().__init__(f"{text}; {hint}" if hint else text)


# ---------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # "number" | "name" | "op" | "bad" (a character not allowed) | "end"
    text: str
    column: int  # 1-based


_LETTER = "A-Za-z_\u0370-\u03ff"
_NUMBER_RE = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NAME_RE = re.compile(rf"[{_LETTER}][{_LETTER}0-9]*")
_OPERATORS = ("**", "^", "+", "-", "*", "/", "(", ")", "[", "]", ",", ";", "=", "|")
#: characters printed in the texts, read as their ASCII operator
_TYPOGRAPHIC = {"−": "-", "–": "-", "·": "*", "⋅": "*", "×": "*", "∗": "*", "÷": "/"}
_SUPERSCRIPTS = {"²": "2", "³": "3"}
#: function signs printed in the texts, read as the function's name
_FUNCTION_SIGNS = {"√": "sqrt"}
_SPACE = " \t\r\n"


def _shown(ch: str) -> str:
    """A character as a message shows it: printable as itself, otherwise escaped."""
    return ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; refuse anything not on the allow-list."""
    if not isinstance(text, str):
        raise ExpressionError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression too long ({len(text)} characters; at most {MAX_LENGTH})", MAX_LENGTH + 1)
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        column = i + 1
        if ch in _SPACE:
            i += 1
            continue
        if ch in _SUPERSCRIPTS:
            tokens.append(Token("op", "^", column))
            tokens.append(Token("number", _SUPERSCRIPTS[ch], column))
            i += 1
            continue
        if ("0" <= ch <= "9") or (ch == "." and i + 1 < n and "0" <= text[i + 1] <= "9"):
            m = _NUMBER_RE.match(text, i)
            assert m is not None
            tokens.append(Token("number", m.group(), column))
            i = m.end()
            continue
        m = _NAME_RE.match(text, i)
        if m:
            tokens.append(Token("name", m.group(), column))
            i = m.end()
            continue
        if ch in _FUNCTION_SIGNS:
            tokens.append(Token("name", _FUNCTION_SIGNS[ch], column))
            i += 1
            continue
        if ch in _TYPOGRAPHIC:
            tokens.append(Token("op", _TYPOGRAPHIC[ch], column))
            i += 1
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, column))
                i += len(op)
                break
        else:
            # Not refused here but where the parser reaches it, so that the first
            # error in reading order is the one reported (`__import__(` is an unknown
            # function before its quote is an unexpected character).
            tokens.append(Token("bad", ch, column))
            return tokens
    tokens.append(Token("end", "", n + 1))
    return tokens


# ---------------------------------------------------------------------------
# Known functions and constants (the allow-list)
# ---------------------------------------------------------------------------


def _sigmoid(u: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-u))


def _log(u: sp.Expr, base: sp.Expr | None = None) -> sp.Expr:
    return sp.log(u) if base is None else sp.log(u, base)


@dataclass(frozen=True)
class KnownFunction:
    name: str
    arity: tuple[int, ...]  # accepted numbers of arguments
    build: Callable[..., sp.Expr]
    meaning: str  # for `tracer diff --help` and error messages


FUNCTIONS: dict[str, KnownFunction] = {
    f.name: f
    for f in [
        KnownFunction("exp", (1,), sp.exp, "e^u"),
        KnownFunction("ln", (1,), sp.log, "natural logarithm"),
        KnownFunction("log", (1, 2), _log, "natural logarithm; log(u, b) to base b"),
        KnownFunction("log10", (1,), lambda u: sp.log(u, 10), "logarithm to base 10"),
        KnownFunction("log2", (1,), lambda u: sp.log(u, 2), "logarithm to base 2"),
        KnownFunction("sqrt", (1,), sp.sqrt, "square root"),
        KnownFunction("sin", (1,), sp.sin, "sine"),
        KnownFunction("cos", (1,), sp.cos, "cosine"),
        KnownFunction("tan", (1,), sp.tan, "tangent"),
        KnownFunction("sec", (1,), sp.sec, "secant"),
        KnownFunction("csc", (1,), sp.csc, "cosecant"),
        KnownFunction("cot", (1,), sp.cot, "cotangent"),
        KnownFunction("asin", (1,), sp.asin, "inverse sine"),
        KnownFunction("acos", (1,), sp.acos, "inverse cosine"),
        KnownFunction("atan", (1,), sp.atan, "inverse tangent"),
        KnownFunction("arcsin", (1,), sp.asin, "inverse sine"),
        KnownFunction("arccos", (1,), sp.acos, "inverse cosine"),
        KnownFunction("arctan", (1,), sp.atan, "inverse tangent"),
        KnownFunction("sinh", (1,), sp.sinh, "hyperbolic sine"),
        KnownFunction("cosh", (1,), sp.cosh, "hyperbolic cosine"),
        KnownFunction("tanh", (1,), sp.tanh, "hyperbolic tangent"),
        KnownFunction("sigmoid", (1,), _sigmoid, "1/(1 + e^(-u))"),
        KnownFunction("softplus", (1,), lambda u: sp.log(1 + sp.exp(u)), "ln(1 + e^u)"),
        KnownFunction("relu", (1,), lambda u: sp.Max(0, u), "max(0, u)"),
        KnownFunction("max", (2,), sp.Max, "the larger of two"),
        KnownFunction("min", (2,), sp.Min, "the smaller of two"),
        KnownFunction("abs", (1,), sp.Abs, "absolute value"),
    ]
}

CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "π": sp.pi, "e": sp.E}

_UNDEFINED = frozenset({sp.zoo, sp.nan, sp.oo, -sp.oo})


def _symbol(name: str) -> sp.Symbol:
    """Every variable is real: |x|' = sign(x) and max(0, x)' = H(x), as on paper."""
    return sp.Symbol(name, real=True)


# ---------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------

_OPEN = {"(": ")", "[": "]"}
_CLOSE = {")", "]"}


@dataclass(frozen=True)
class Program:
    """What :func:`parse_program` reads: ``[name =] expression (; name = expression)*``."""

    expression: sp.Expr
    name: str | None  # the function's own name (``z`` in ``z = x^2 + e^y``), if given
    definitions: tuple[tuple[sp.Symbol, sp.Expr], ...]  # intermediate variables, in order
    variables: tuple[sp.Symbol, ...]  # every variable, in order of first appearance
    #: the expression as typed, unevaluated (x·w² + b² keeps its order; None with definitions, or
    #: when it cannot be read that way): what tracer diff shows, and the order of its sum rule's parts
    written: sp.Expr | None = None

    def substituted(self) -> sp.Expr:
        """The expression with every definition substituted (a function of the outer variables)."""
        expr = self.expression
        for symbol, definition in reversed(self.definitions):
            expr = expr.xreplace({symbol: definition})
        return expr

    def free_variables(self) -> tuple[sp.Symbol, ...]:
        """The variables the substituted expression depends on, in order of first appearance."""
        free = self.substituted().free_symbols
        return tuple(v for v in self.variables if v in free)


class _Parser:
    def __init__(self, text: str, e_is_variable: bool):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.constants = dict(CONSTANTS)
        if e_is_variable:
            del self.constants["e"]
        self.variables: dict[str, sp.Symbol] = {}  # insertion order = first appearance
        # per node built: is it a constant (no variable), how high a tower of variable exponents
        self.constant: dict[sp.Basic, bool] = {}
        self.tower: dict[sp.Basic, int] = {}
        self.constant_values: tuple[dict, dict] = ({}, {})  # the numeric check's memos (two precisions)

    # -- token access ---------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.pos + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def at(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def unexpected(self, tok: Token | None = None, expected: str = "") -> ExpressionError:
        tok = tok or self.tok
        hint = f"expected {expected}" if expected else None
        if tok.kind == "end":
            return ExpressionError("unexpected end of expression", tok.column, hint)
        if tok.kind == "bad":
            return ExpressionError(f"unexpected character '{_shown(tok.text)}'", tok.column)
        return ExpressionError(f"unexpected '{tok.text}'", tok.column, hint)

    # -- grammar ----------------------------------------------------------------
    def program(self) -> Program:
        name = None
        if self.tok.kind == "name" and self.peek().kind == "op" and self.peek().text == "=":
            name = self.defined_name()
        expression = self.expression(0)
        definitions: list[tuple[sp.Symbol, sp.Expr]] = []
        while self.at(";"):
            self.advance()
            if self.tok.kind == "end":  # a trailing ';' is harmless
                break
            if not (self.tok.kind == "name" and self.peek().kind == "op" and self.peek().text == "="):
                raise self.unexpected(expected="a definition 'name = expression' after ';'")
            column = self.tok.column
            name_ = self.defined_name()
            symbol = self.variables.setdefault(name_, _symbol(name_))
            if any(symbol == s for s, _ in definitions):
                raise ExpressionError(f"'{symbol.name}' is defined twice", column)
            definitions.append((symbol, self.expression(0)))
        if self.tok.kind != "end":
            if self.at(*_CLOSE):
                raise ExpressionError(f"unmatched '{self.tok.text}'", self.tok.column)
            raise self.unexpected(expected="an operator")
        if name is not None and any(s.name == name for s, _ in definitions):
            raise ExpressionError(f"'{name}' names the function and is also defined", 1)
        if name is not None and any(name in {f.name for f in d.free_symbols} for _, d in definitions):
            raise ExpressionError(f"a definition uses '{name}', the name of the function itself", 1)
        # a definition may use variables, but not another defined name (one level of chain)
        defined = {s for s, _ in definitions}
        for symbol, definition in definitions:
            inner = definition.free_symbols & defined
            if inner:
                other = sorted(s.name for s in inner)[0]
                raise ExpressionError(f"definition of '{symbol.name}' uses '{other}', which is defined too; substitute it")
        variables = tuple(self.variables.values())
        return Program(expression, name, tuple(definitions), variables)

    def defined_name(self) -> str:
        tok = self.advance()
        if tok.text in FUNCTIONS or tok.text in self.constants:
            raise ExpressionError(f"cannot define '{tok.text}': it is a function or constant", tok.column)
        self._check_name(tok)
        self.advance()  # '='
        return tok.text

    def expression(self, depth: int) -> sp.Expr:
        """sum := product (('+' | '-') product)*  — built as one n-ary Add (linear time)."""
        first = self.tok
        terms = [self.product(depth)]
        while self.at("+", "-"):
            op = self.advance()
            right = self.product(depth)
            terms.append(right if op.text == "+" else -right)
        if len(terms) == 1:
            return terms[0]
        return self.checked(sp.Add(*terms), first)

    def product(self, depth: int) -> sp.Expr:
        """product := unary (('*' | '/') unary | implicit-operand)*  — left to right, one n-ary Mul.

        ``a/b*c`` is ``(a/b)·c``: a divisor is one operand, so collecting the factors
        (with divisors as reciprocals) and multiplying once is the same as folding.
        """
        first = self.tok
        factors = [self.unary(depth)]
        while True:
            if self.at("*", "/"):
                op = self.advance()
                right = self.unary(depth)
                if op.text == "*":
                    factors.append(right)
                else:
                    if right == 0:
                        raise ExpressionError("division by zero", op.column)
                    factors.append(self.checked(sp.Pow(right, -1), op))
            elif self.tok.kind == "name" or self.at(*_OPEN):
                factors.append(self.power(depth))  # implicit multiplication: 2x^2 = 2·(x^2)
            elif self.tok.kind == "number":
                raise ExpressionError(f"missing operator before '{self.tok.text}'", self.tok.column)
            elif self.tok.kind == "bad":
                raise self.unexpected()
            else:
                break
            if len(factors) % 32 == 0:  # keep exact numbers in check as they grow
                factors = [self.checked(sp.Mul(*factors), first)]
        if len(factors) == 1:
            return factors[0]
        return self.checked(sp.Mul(*factors), first)

    def unary(self, depth: int) -> sp.Expr:
        """unary := ('+' | '-') unary | power"""
        if self.at("+", "-"):
            op = self.advance()
            operand = self.unary(self.deeper(depth, op))
            return -operand if op.text == "-" else operand
        return self.power(depth)

    def power(self, depth: int) -> sp.Expr:
        """power := atom (('^' | '**') unary)?   — right-associative through unary"""
        base = self.atom(depth)
        if self.at("^", "**"):
            op = self.advance()
            exponent = self.unary(self.deeper(depth, op))
            return self.raise_to(base, exponent, op)
        return base

    def atom(self, depth: int) -> sp.Expr:
        tok = self.tok
        if tok.kind == "number":
            self.advance()
            return self.number(tok)
        if tok.kind == "name":
            return self.name(depth)
        if self.at(*_OPEN):
            opening = self.advance()
            if self.at(*_CLOSE):
                raise ExpressionError(f"empty brackets '{opening.text}{self.tok.text}'", opening.column)
            inner = self.expression(self.deeper(depth, opening))
            self.close(opening)
            return inner
        if self.at("|"):
            return self.absolute_value(depth)
        if self.at(*_CLOSE):
            raise ExpressionError(f"unmatched '{tok.text}'", tok.column)
        raise self.unexpected(expected="a number, a variable, a function or '('")

    def absolute_value(self, depth: int) -> sp.Expr:
        """``|u|``: a bar where an operand is expected opens, one where an operator is expected closes."""
        opening = self.advance()
        inner = self.expression(self.deeper(depth, opening))
        if not self.at("|"):
            if self.tok.kind == "end":
                raise ExpressionError("'|' is never closed", opening.column)
            raise self.unexpected(expected="'|'")
        self.advance()
        return self.checked(sp.Abs(inner), opening, what="|…|")

    def close(self, opening: Token) -> None:
        want = _OPEN[opening.text]
        if self.at(want):
            self.advance()
            return
        if self.at(*_CLOSE):
            raise ExpressionError(f"'{self.tok.text}' does not match '{opening.text}'", self.tok.column, f"expected '{want}' to close the '{opening.text}' of column {opening.column}")
        if self.tok.kind == "end":
            raise ExpressionError(f"'{opening.text}' is never closed", opening.column)
        raise self.unexpected(expected=f"'{want}'")

    def name(self, depth: int) -> sp.Expr:
        tok = self.advance()
        word = tok.text
        followed_by_call = self.at("(")
        if word in FUNCTIONS:
            if not followed_by_call:
                raise ExpressionError(f"function '{word}' needs its argument in parentheses", tok.column, f"write {word}(…)")
            return self.call(FUNCTIONS[word], tok, depth)
        if word in self.constants:
            return self.constants[word]
        if followed_by_call and len(word) > 1:
            raise ExpressionError(f"unknown function '{word}'", tok.column)
        self._check_name(tok)
        if word not in self.variables:
            self.variables[word] = _symbol(word)
        return self.variables[word]

    def call(self, function: KnownFunction, tok: Token, depth: int) -> sp.Expr:
        opening = self.advance()  # '('
        inner_depth = self.deeper(depth, opening)
        args: list[sp.Expr] = []
        if not self.at(")"):
            args.append(self.expression(inner_depth))
            while self.at(","):
                self.advance()
                args.append(self.expression(inner_depth))
        self.close(opening)
        if len(args) not in function.arity:
            want = " or ".join(str(k) for k in function.arity)
            raise ExpressionError(f"function '{function.name}' takes {want} argument{'s' if function.arity != (1,) else ''}, got {len(args)}", tok.column)
        try:
            value = function.build(*args)
        except (ValueError, TypeError, ArithmeticError, AttributeError) as err:  # e.g. max of values that cannot be compared
            raise ExpressionError(f"{function.name}(…) cannot be formed: {err}", tok.column) from None
        return self.checked(value, tok, what=f"{function.name}(…)")

    # -- numbers and guards -----------------------------------------------------
    def number(self, tok: Token) -> sp.Expr:
        if len(tok.text) > MAX_NUMBER_LENGTH:
            raise ExpressionError(f"number '{tok.text[:20]}…' is too long (at most {MAX_NUMBER_LENGTH} characters)", tok.column)
        try:
            value = Decimal(tok.text)
        except InvalidOperation:  # pragma: no cover - the regex admits only valid literals
            raise ExpressionError(f"bad number '{tok.text}'", tok.column) from None
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and abs(exponent) > MAX_DECIMAL_EXPONENT + MAX_NUMBER_LENGTH:
            raise ExpressionError(f"number '{tok.text}' is out of range", tok.column)
        if value != 0 and abs(value.adjusted()) > MAX_DECIMAL_EXPONENT:
            raise ExpressionError(f"number '{tok.text}' is out of range (at most 1e{MAX_DECIMAL_EXPONENT})", tok.column)
        numerator, denominator = value.as_integer_ratio()
        return sp.Rational(numerator, denominator)

    def raise_to(self, base: sp.Expr, exponent: sp.Expr, op: Token) -> sp.Expr:
        if exponent.is_Number:
            if abs(exponent) > MAX_EXPONENT:
                shown = str(exponent) if len(str(exponent)) <= 24 else f"{str(exponent)[:12]}…"
                raise ExpressionError(f"exponent {shown} is too large (at most {MAX_EXPONENT})", op.column)
            if base.is_Rational and exponent.is_Rational:
                bits = (abs(base.p).bit_length() + base.q.bit_length()) * abs(exponent.p)
                if bits > MAX_NUMBER_BITS:
                    raise ExpressionError("number too large", op.column)
        if base == 0 and (exponent.is_negative or exponent == 0):
            raise ExpressionError("0 to a power that is not positive is undefined", op.column)
        variable_exponent = not self.is_constant(exponent)
        if base == 0 and variable_exponent:
            # 0^y is 0 for y > 0 and undefined for y ≤ 0; its derivative 0^y·ln 0 nowhere defined
            raise ExpressionError("a power of 0 with a variable exponent has no derivative (it would be 0^u·ln 0, and ln 0 is undefined)", op.column)
        if variable_exponent and self.is_constant(base) and self.negative_constant(base):
            # (−3)^y is real only at some rational y (an integer, or an odd denominator), and its
            # derivative (−3)^y·ln(−3) is nowhere real
            raise ExpressionError("a negative number to a variable power has no real derivative (it would need the logarithm of a negative number)", op.column)
        if variable_exponent:
            height = 1 + max(self.tower_height(base), self.tower_height(exponent))
            if height > MAX_TOWER:
                raise ExpressionError(f"too many powers with a variable exponent stacked (more than {MAX_TOWER})", op.column)
        if base.is_Add and exponent.is_Integer and abs(exponent) > 1 and not self.is_constant(base):
            # SymPy would leave (sum with variables)^n as it is, but only after asking the
            # assumptions system about the whole sum — quadratic in the nesting of
            # ((x + 1)^2 + 1)^2…; build the same node directly.
            return sp.Pow(base, exponent, evaluate=False)
        return self.checked(sp.Pow(base, exponent), op, what="the power")

    def checked(self, value: sp.Expr, tok: Token, what: str = "") -> sp.Expr:
        """Refuse a value that is undefined (1/0, log(0)), an exact number grown too large, or a
        constant that is not real or out of range (asin(3), sinh(cosh(10)))."""
        # Operands were checked when they were built, so an undefined value can only
        # appear here or among the new node's own arguments (zoo·x): no full traversal.
        if value in _UNDEFINED or any(arg in _UNDEFINED for arg in value.args):
            if what and what != "the power":
                raise ExpressionError(f"{what} is undefined here", tok.column)
            raise ExpressionError("undefined value (division by zero)", tok.column)
        if value.is_Rational:
            if (value.p.bit_length() + value.q.bit_length()) > MAX_NUMBER_BITS:
                raise ExpressionError("number too large", tok.column)
        elif self.is_constant(value):
            self.check_constant(value, tok, what or "the value")
        return value

    def check_constant(self, value: sp.Expr, tok: Token, what: str) -> None:
        """A constant is computed (30 and 60 digits, mpmath): it must be real and within 10^±MAX_CONSTANT_EXPONENT."""
        try:
            try:
                number = values.estimate(value, {}, self.constant_values, limit=MAX_CONSTANT_EXPONENT, digits=(30, 60))
            except values.Undefined:  # or 0 only up to rounding: log(1 − tanh(80)²)
                number = values.estimate(value, {}, limit=MAX_CONSTANT_EXPONENT, digits=(80, 160))
        except values.OutOfRange:
            raise ExpressionError(f"{what} is out of range (a constant beyond 10^±{MAX_CONSTANT_EXPONENT})", tok.column) from None
        except values.Undefined:
            raise ExpressionError(f"{what} is undefined here", tok.column) from None
        except values.Unsupported:  # pragma: no cover - every function of the allow-list is known
            return
        noise = 10 * number.error if mpmath.isfinite(number.error) else 0
        if number.imag > noise + number.magnitude * mpmath.mpf(10) ** -50:
            raise ExpressionError(f"{what} is not a real number", tok.column)

    def negative_constant(self, value: sp.Expr) -> bool:
        """Is the constant ``value`` (checked real when it was built) below 0? −3 at once; sec(2) computed."""
        if value.is_Number:
            return bool(value < 0)
        try:
            return values.estimate(value, {}, self.constant_values, limit=MAX_CONSTANT_EXPONENT, digits=(30, 60)).value < 0
        except (values.Undefined, values.OutOfRange, values.Unsupported):  # 0 up to rounding, or not computable: not known negative
            return False

    def is_constant(self, expr: sp.Expr) -> bool:
        """No variable anywhere in ``expr`` (remembered per node: the tree is walked once)."""
        return _fold(expr, self.constant, lambda leaf: not leaf.is_Symbol, lambda node, below: all(below))

    def tower_height(self, expr: sp.Expr) -> int:
        """Most powers with a variable exponent nested in ``expr`` (e^u is not counted: sigmoids nest)."""
        return _fold(expr, self.tower, lambda leaf: 0,
                     lambda node, below: max(below) + (1 if node.is_Pow and not self.is_constant(node.exp) else 0))

    def deeper(self, depth: int, tok: Token) -> int:
        if depth + 1 > MAX_DEPTH:
            raise ExpressionError(f"expression nested too deeply (more than {MAX_DEPTH} levels)", tok.column)
        return depth + 1

    @staticmethod
    def _check_name(tok: Token) -> None:
        if tok.text.startswith("_") or "__" in tok.text:
            raise ExpressionError(f"unknown name '{tok.text}'", tok.column)


def _fold(expr: sp.Expr, memo: dict, leaf, combine):
    """A property of ``expr`` computed children first, without recursion, every node's result
    kept in ``memo`` (shared across calls: each node of the tree is visited once): ``leaf(node)``
    for a node without arguments, ``combine(node, [results of its arguments])`` otherwise."""
    known = memo.get(expr)
    if known is not None:
        return known
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in memo:
            continue
        if not node.args:
            memo[node] = leaf(node)
        elif ready:
            memo[node] = combine(node, [memo[a] for a in node.args])
        else:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in memo)
    return memo[expr]


#: Python frames the parser may use per level of nesting (sum → product → unary → power → atom)
_FRAMES_PER_LEVEL = 8


def _check_nesting(tokens: list[Token]) -> None:
    """Refuse brackets nested deeper than MAX_DEPTH before any recursion starts."""
    depth = 0
    for tok in tokens:
        if tok.kind == "op" and tok.text in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                raise ExpressionError(f"expression nested too deeply (more than {MAX_DEPTH} levels of brackets)", tok.column)
        elif tok.kind == "op" and tok.text in _CLOSE:
            depth = max(depth - 1, 0)


def parse_program(text: str, *, e_is_variable: bool = False, written: bool = True) -> Program:
    """Read ``[name =] expression (; name = expression)*``; see the module docstring. ``written``:
    also keep the expression as typed (:attr:`Program.written`; a graph's builder reads that itself)."""
    parser = _Parser(text, e_is_variable)
    _check_nesting(parser.tokens)
    # Nesting is bounded (MAX_DEPTH), so the recursion is too; make room for it.
    needed = MAX_DEPTH * _FRAMES_PER_LEVEL + 500
    previous = sys.getrecursionlimit()
    if previous < needed:
        sys.setrecursionlimit(needed)
    try:
        program = parser.program()
        if written and not program.definitions and sp.core.parameters.global_parameters.evaluate is not False:
            try:
                with sp.evaluate(False):  # the same text once more, every sum and product as typed
                    written = _Parser(text, e_is_variable).program().expression
                if _only_reordered(written, program.expression):
                    program = dataclasses.replace(program, written=written)
            except (ExpressionError, TypeError, ValueError, ArithmeticError):
                pass
        return program
    finally:
        if previous < needed:
            sys.setrecursionlimit(previous)


def _evaluated(expr: sp.Expr) -> sp.Expr:
    if not expr.args:
        return expr
    return expr.func(*[_evaluated(a) for a in expr.args])


def _only_reordered(written: sp.Expr, expression: sp.Expr) -> bool:
    """Is the unevaluated form the same expression, its sums and products only in another order?
    (Not so where evaluation rewrites a function: log(x, 2) is ln(x)/ln(2).)"""
    if _evaluated(written) != expression:
        return False
    for part in sp.preorder_traversal(written):
        if isinstance(part, sp.Function) and not isinstance(part, (sp.Max, sp.Min)) and _evaluated(part).func is not part.func:
            return False
        if isinstance(part, sp.Function) and len(part.args) != len(_evaluated(part).args):
            return False
    return True


def parse(text: str, *, e_is_variable: bool = False) -> sp.Expr:
    """Read one expression (no definitions) into a SymPy expression."""
    program = parse_program(text, e_is_variable=e_is_variable)
    if program.definitions:
        raise ExpressionError("definitions ('; name = …') are not allowed here")
    return program.expression


def parse_number(text: str) -> sp.Expr:
    """A constant expression (``-4``, ``0.1``, ``pi/2``, ``1e-3``): no variables allowed."""
    expr = parse(text)
    if expr.free_symbols:
        name = sorted(s.name for s in expr.free_symbols)[0]
        column = text.find(name) + 1 if name in text else None
        raise ExpressionError(f"a number was expected, not the variable '{name}'", column)
    return expr


def parse_assignments(text: str) -> dict[str, sp.Expr]:
    """``x=1,y=-2`` (or ``x=1; y=2``) → {'x': 1, 'y': -2}; values are constant expressions.

    Commas inside brackets belong to the value (``x=max(1,2)``).
    """
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"too long ({len(text)} characters; at most {MAX_LENGTH})")
    pieces: list[tuple[str, int]] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch in ",;" and depth == 0:
            pieces.append((text[start:i], start))
            start = i + 1
    pieces.append((text[start:], start))
    out: dict[str, sp.Expr] = {}
    for piece, offset in pieces:
        if not piece.strip():
            continue
        name, eq, value = piece.partition("=")
        column = offset + len(piece) - len(piece.lstrip()) + 1
        if not eq:
            raise ExpressionError(f"expected name=value, got '{piece.strip()}'", column)
        name = name.strip()
        if not _NAME_RE.fullmatch(name) or name.startswith("_"):
            raise ExpressionError(f"'{name}' is not a variable name", column)
        if name in out:
            raise ExpressionError(f"'{name}' is given twice", column)
        try:
            out[name] = parse_number(value)
        except ExpressionError as err:
            shift = offset + piece.index("=") + 1  # columns of the value inside the whole text
            raise ExpressionError(err.message, None if err.column is None else err.column + shift) from None
    if not out:
        raise ExpressionError("expected name=value")
    return out
