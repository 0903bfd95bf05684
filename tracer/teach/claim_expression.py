"""Claims that are arithmetic of quantity names: ``loss - loss_after``, ``W2[1,1]' - W2[1,1]``,
``-eta*dloss/dW2[1,1]``, ``dloss/dz2[2] * dz2[2]/da1[1]`` (a text's partial product).

A small recursive-descent parser over names, numbers, ``+ - * / ^`` (``−``, ``×``, ``·``,
``**`` too) and brackets, with named limits; nothing is evaluated as Python. A name is the
longest name the caller's reader scans (:func:`tracer.keys.scan`, a theme's plain names:
:func:`tracer.notation.scan_name`) that the caller's ``is_name`` accepts and that ends where an
operator, a bracket, a space or the end begins — so ``dloss/dW2[1,1]`` is one name and
``a2[1]/a2[2]`` a quotient of two, and ``w5+ - w5`` reads the theme's ``w5+``. Each name is
parsed to its key once, by the caller (:meth:`Solution.resolve`), never here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

#: the longest claim expression read, and how deep its brackets may nest
MAX_LENGTH = 500
MAX_DEPTH = 40

_OPERATORS = {"+": "+", "-": "-", "−": "-", "*": "*", "×": "*", "·": "*", "/": "/", "^": "^"}
_BOUNDARY = set(_OPERATORS) | set("() \t")
#: the caller's reader: where the longest name that starts at a position of a text ends (None: no name)
Scan = Callable[[str, int], "int | None"]


class ExpressionError(ValueError):
    """A claim that is not an expression of names; the message says where."""


@dataclass(frozen=True)
class Name:
    text: str


@dataclass(frozen=True)
class Number:
    text: str


@dataclass(frozen=True)
class Negate:
    operand: "Node"


@dataclass(frozen=True)
class Binary:
    operator: str  # + - * / ^
    left: "Node"
    right: "Node"


Node = Union[Name, Number, Negate, Binary]
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 4}


#: what a name a reader scans is cut at, in an error message
_NOT_IN_A_NAME = set(_OPERATORS) - {"+", "/"} | set(" \t")


def _tokens(text: str, scan: Scan, is_name: Callable[[str], bool]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t":
            i += 1
        elif text.startswith("**", i):
            out.append(("op", "^"))
            i += 2
        elif c in _OPERATORS:
            out.append(("op", _OPERATORS[c]))
            i += 1
        elif c in "()":
            out.append((c, c))
            i += 1
        elif c.isdigit() or c == ".":
            j = i
            while j < n and (text[j].isdigit() or text[j] == "."):
                j += 1
            if j < n and text[j] in "eE" and (text[j + 1 : j + 2].isdigit() or (text[j + 1 : j + 2] in ("+", "-") and text[j + 2 : j + 3].isdigit())):
                j += 2
                while j < n and text[j].isdigit():
                    j += 1
            number = text[i:j]
            if number.count(".") > 1 or number == ".":
                raise ExpressionError(f"{number!r} is not a number")
            out.append(("number", number))
            i = j
        else:
            limit = n
            while (j := scan(text[:limit], i)) is not None:  # the longest name that ends at a boundary
                if (j == n or text[j] in _BOUNDARY) and is_name(text[i:j]):
                    out.append(("name", text[i:j]))
                    i = j
                    break
                limit = j - 1
            else:
                if not (c.isalpha() or c == "_"):
                    raise ExpressionError(f"unexpected {c!r} at character {i + 1}")
                end = i
                while end < n and text[end] not in _NOT_IN_A_NAME:
                    end += 1
                raise ExpressionError(f"{text[i:end]!r} is not a quantity of this problem")
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = tokens
        self.at = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ExpressionError("the expression ends too early")
        self.at += 1
        return token

    def sum(self) -> Node:
        node = self.product()
        while (t := self.peek()) is not None and t[0] == "op" and t[1] in "+-":
            self.take()
            node = Binary(t[1], node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while (t := self.peek()) is not None and t[0] == "op" and t[1] in "*/":
            self.take()
            node = Binary(t[1], node, self.unary())
        return node

    def unary(self) -> Node:
        t = self.peek()
        if t is not None and t[0] == "op" and t[1] in "+-":
            self.take()
            operand = self.unary()
            return Negate(operand) if t[1] == "-" else operand
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        t = self.peek()
        if t is not None and t == ("op", "^"):
            self.take()
            return Binary("^", base, self.unary())
        return base

    def atom(self) -> Node:
        kind, text = self.take()
        if kind == "number":
            return Number(text)
        if kind == "name":
            return Name(text)
        if kind == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ExpressionError(f"brackets nested more than {MAX_DEPTH} deep")
            node = self.sum()
            if self.take()[0] != ")":
                raise ExpressionError("')' expected")
            self.depth -= 1
            return node
        raise ExpressionError(f"a name, a number or '(' expected, got {text!r}")


def parse(text: str, scan: Scan, is_name: Callable[[str], bool]) -> Node:
    """The expression tree of a claim's name; the caller's reader ``scan`` finds the longest name
    at a position, ``is_name`` says which of them are quantities of the problem."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters")
    parser = _Parser(_tokens(text, scan, is_name))
    node = parser.sum()
    if parser.peek() is not None:
        raise ExpressionError(f"an operator expected before {parser.peek()[1]!r}")  # type: ignore[index]
    return node


def names(node: Node) -> list[str]:
    """The names an expression uses, in the order written."""
    if isinstance(node, Name):
        return [node.text]
    if isinstance(node, Number):
        return []
    if isinstance(node, Negate):
        return names(node.operand)
    return names(node.left) + names(node.right)


def evaluate(node: Node, value: Callable[[str], float]) -> float:
    """The expression's value, each name's value given by ``value``."""
    if isinstance(node, Name):
        return value(node.text)
    if isinstance(node, Number):
        return float(node.text)
    if isinstance(node, Negate):
        return -evaluate(node.operand, value)
    left, right = evaluate(node.left, value), evaluate(node.right, value)
    if node.operator == "+":
        return left + right
    if node.operator == "-":
        return left - right
    if node.operator == "*":
        return left * right
    if node.operator == "/":
        return left / right
    return left**right


def printed(node: Node, spell: Callable[[str], str], parent: int = 0) -> str:
    """The expression written again, each name as ``spell`` spells it (canonical names)."""
    if isinstance(node, Name):
        return spell(node.text)
    if isinstance(node, Number):
        return node.text
    if isinstance(node, Negate):
        inner = printed(node.operand, spell, 3)
        return f"-{inner}" if parent < 3 else f"(-{inner})"
    own = _PRECEDENCE[node.operator]
    right_parent = own + (1 if node.operator in "-/" else 0)
    out = f"{printed(node.left, spell, own)} {node.operator} {printed(node.right, spell, right_parent)}"
    return f"({out})" if own < parent else out


def is_product_of_names(node: Node) -> bool:
    if isinstance(node, Name):
        return True
    return isinstance(node, Binary) and node.operator == "*" and is_product_of_names(node.left) and is_product_of_names(node.right)
