"""Graph problems evaluated in NumPy: the independent check of the SymPy graph path.

A graph problem (SPEC §7) is a list of local equations, ``q = x + y``, ``f = q * z``.
The SymPy side parses them with :mod:`tracer.calculus.expression` and derives every
gradient symbolically. This module computes the same numbers a second way and shares
no code with that path: it has its own tokenizer and recursive-descent parser (for the
same language: see ``tracer/calculus/expression.py`` for the conventions, ``-x^2 =
-(x^2)``, ``2^3^2 = 2^9``, ``1/2x = x/2``, ``x(1 - x)``, ``e^x``, ``|u|`` …), its own
topological order and float64 arithmetic, and its gradients are central finite
differences rather than derivatives. Two engines that agree are unlikely to share a
mistake. It imports only the standard library and NumPy.

User text is never evaluated as Python: each equation is compiled into a short postfix
program (push a number, push a name's value, apply an operation from the allow-list
:data:`FUNCTIONS`) and run by a loop, so evaluation does not recurse either. Values may
be NumPy arrays (they broadcast); scalars come back as Python floats.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from typing import Callable, Literal, Mapping, Sequence, Union

import numpy as np

#: deepest nesting of brackets, signs, exponents and calls (as on the SymPy side)
MAX_DEPTH = 200

#: a value of a leaf or node: a float, or an array when evaluating many points at once
Value = Union[float, np.ndarray]


class GraphSyntaxError(ValueError):
    """Equations that cannot be read: bad text, a name defined twice, a cycle."""


# ---------------------------------------------------------------------------
# Operations: the allow-list, each with its float64 rule
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    name: str
    arity: tuple[int, ...]  # accepted numbers of arguments
    apply: Callable[..., np.ndarray]


def _sigmoid(u):
    return np.exp(-np.logaddexp(0.0, -u))  # 1/(1 + e^-u) = e^-softplus(-u): no overflow either way


def _log(u, base=None):
    return np.log(u) if base is None else np.log(u) / np.log(base)


FUNCTIONS: dict[str, Operation] = {
    op.name: op
    for op in [
        Operation("exp", (1,), np.exp),
        Operation("ln", (1,), np.log),
        Operation("log", (1, 2), _log),
        Operation("log10", (1,), np.log10),
        Operation("log2", (1,), np.log2),
        Operation("sqrt", (1,), np.sqrt),
        Operation("sin", (1,), np.sin),
        Operation("cos", (1,), np.cos),
        Operation("tan", (1,), np.tan),
        Operation("sec", (1,), lambda u: 1.0 / np.cos(u)),
        Operation("csc", (1,), lambda u: 1.0 / np.sin(u)),
        Operation("cot", (1,), lambda u: np.cos(u) / np.sin(u)),
        Operation("asin", (1,), np.arcsin),
        Operation("arcsin", (1,), np.arcsin),
        Operation("acos", (1,), np.arccos),
        Operation("arccos", (1,), np.arccos),
        Operation("atan", (1,), np.arctan),
        Operation("arctan", (1,), np.arctan),
        Operation("sinh", (1,), np.sinh),
        Operation("cosh", (1,), np.cosh),
        Operation("tanh", (1,), np.tanh),
        Operation("sigmoid", (1,), _sigmoid),
        Operation("softplus", (1,), lambda u: np.logaddexp(0.0, u)),
        Operation("relu", (1,), lambda u: np.maximum(0.0, u)),
        Operation("max", (2,), np.maximum),
        Operation("min", (2,), np.minimum),
        Operation("abs", (1,), np.abs),
    ]
}

OPERATORS: dict[str, Operation] = {
    "+": Operation("+", (2,), np.add),
    "-": Operation("-", (2,), np.subtract),
    "*": Operation("*", (2,), np.multiply),
    "/": Operation("/", (2,), np.divide),
    "^": Operation("^", (2,), np.power),
    "neg": Operation("neg", (1,), np.negative),
}

CONSTANTS: dict[str, float] = {"pi": math.pi, "π": math.pi, "e": math.e}


# ---------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: Literal["number", "name", "op", "end"]
    text: str
    column: int  # 1-based


_LETTER = "A-Za-z_\u0370-\u03ff"  # Greek names (θ, π) are letters, as on the SymPy side
_TOKEN = re.compile(
    rf"(?P<space>[ \t\r\n]+)"
    rf"|(?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    rf"|(?P<name>[{_LETTER}][{_LETTER}0-9]*)"
    rf"|(?P<op>\*\*|[-+*/^()\[\],|=])"
    rf"|(?P<sign>[−–·⋅×∗÷²³√])"
)
#: signs printed in the texts → the tokens they stand for
_SIGNS: dict[str, tuple[tuple[str, str], ...]] = {
    "−": (("op", "-"),), "–": (("op", "-"),), "÷": (("op", "/"),),
    "·": (("op", "*"),), "⋅": (("op", "*"),), "×": (("op", "*"),), "∗": (("op", "*"),),
    "²": (("op", "^"), ("number", "2")), "³": (("op", "^"), ("number", "3")),
    "√": (("name", "sqrt"),),
}


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise GraphSyntaxError(f"unexpected character {text[position]!r} at column {position + 1}")
        kind, piece, column = match.lastgroup, match.group(), position + 1
        if kind == "sign":
            tokens.extend(Token(k, t, column) for k, t in _SIGNS[piece])  # type: ignore[arg-type]
        elif kind != "space":
            tokens.append(Token(kind, piece, column))  # type: ignore[arg-type]
        position = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


# ---------------------------------------------------------------------------
# The compiled form: a postfix program
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Push:
    number: float


@dataclass(frozen=True)
class Load:
    name: str


@dataclass(frozen=True)
class Apply:
    operation: Operation
    arity: int


Instruction = Union[Push, Load, Apply]


@dataclass(frozen=True)
class Expression:
    """One right-hand side, compiled: ``x + y*2`` is ``Load x, Load y, Push 2, Apply *, Apply +``."""

    text: str
    code: tuple[Instruction, ...]
    names: tuple[str, ...]  # the variables it reads, in order of first appearance

    def evaluate(self, known: Mapping[str, Value]) -> Value:
        stack: list = []
        for instruction in self.code:
            if isinstance(instruction, Push):
                stack.append(np.float64(instruction.number))
            elif isinstance(instruction, Load):
                stack.append(known[instruction.name])
            else:
                arguments = stack[len(stack) - instruction.arity:]
                del stack[len(stack) - instruction.arity:]
                result = instruction.operation.apply(*arguments)
                # a part that double precision cannot give (e^710 = inf, ln 0 = −inf, 1/0) makes no finite
                # value: what is built on it is nan here (ln 2/ln(a^(a^e)) at a = 100 is 5.6e−7, not ln 2/inf = 0)
                finite = np.isfinite(arguments[0])
                for a in arguments[1:]:
                    finite = finite & np.isfinite(a)
                built_on_nothing = ~finite & np.isfinite(result)
                stack.append(np.where(built_on_nothing, np.nan, result) if np.ndim(result) else
                             (np.float64(np.nan) if built_on_nothing else result))
        (result,) = stack
        return result

    def evaluate_with_bound(self, known: Mapping[str, float], bounds: Mapping[str, float]) -> tuple[float, float]:
        """The value (as :meth:`evaluate`, scalars only) and a bound on its error: a running error
        analysis (Wilkinson's) of this very sequence of double-precision operations, each one's
        rounding and its arguments' errors carried forward by the operation's own slope. ``bounds``
        gives the names' errors (a leaf's: 0). (x + 1e308) − 1e308 is 0 here with an error of
        4.4e292: what this evaluation says about x there is nothing."""
        stack: list[tuple[float, float]] = []
        with np.errstate(all="ignore"):
            value = self.evaluate(known)
            for instruction in self.code:
                if isinstance(instruction, Push):
                    stack.append((instruction.number, ROUNDING * abs(instruction.number)))
                elif isinstance(instruction, Load):
                    stack.append((float(known[instruction.name]), float(bounds.get(instruction.name, 0.0))))
                else:
                    arguments = stack[len(stack) - instruction.arity:]
                    del stack[len(stack) - instruction.arity:]
                    stack.append(_bounded(instruction.operation.name, arguments, instruction.operation.apply))
        ((_, bound),) = stack
        return value, (bound if math.isfinite(float(value)) else math.inf)


# ---------------------------------------------------------------------------
# Error bounds: each operation's rounding, and its slope carrying its arguments' errors
# ---------------------------------------------------------------------------

#: the unit roundoff of double precision, and what a library function may add (a few of them)
ROUNDING = 2.0**-53
_LIBRARY = 4 * ROUNDING

#: |f′(a)| of each function of one argument, from its argument a and its value r
_SLOPES: dict[str, Callable[[float, float], float]] = {
    "exp": lambda a, r: abs(r),
    "ln": lambda a, r: 1 / abs(a), "log": lambda a, r: 1 / abs(a),
    "log10": lambda a, r: 1 / (abs(a) * math.log(10)), "log2": lambda a, r: 1 / (abs(a) * math.log(2)),
    "sqrt": lambda a, r: 1 / (2 * abs(r)),
    "sin": lambda a, r: abs(math.cos(a)), "cos": lambda a, r: abs(math.sin(a)), "tan": lambda a, r: 1 + r * r,
    "sec": lambda a, r: abs(r * math.tan(a)), "csc": lambda a, r: abs(r / math.tan(a)), "cot": lambda a, r: 1 + r * r,
    "asin": lambda a, r: 1 / math.sqrt(max(0.0, 1 - a * a)), "arcsin": lambda a, r: 1 / math.sqrt(max(0.0, 1 - a * a)),
    "acos": lambda a, r: 1 / math.sqrt(max(0.0, 1 - a * a)), "arccos": lambda a, r: 1 / math.sqrt(max(0.0, 1 - a * a)),
    "atan": lambda a, r: 1 / (1 + a * a), "arctan": lambda a, r: 1 / (1 + a * a),
    "sinh": lambda a, r: math.cosh(a) if abs(a) < 710 else math.inf, "cosh": lambda a, r: abs(math.sinh(a)) if abs(a) < 710 else math.inf,
    "tanh": lambda a, r: 1 - r * r,
    "sigmoid": lambda a, r: r * (1 - r), "softplus": lambda a, r: float(_sigmoid(a)),
    "relu": lambda a, r: 1.0, "abs": lambda a, r: 1.0, "neg": lambda a, r: 1.0,
}


#: the poles of the periodic functions: π/2 + kπ (tan, sec) and kπ (cot, csc)
_POLES = {"tan": math.pi / 2, "sec": math.pi / 2, "cot": 0.0, "csc": 0.0}


def _crosses(name: str, a: float, error: float) -> bool:
    """Is an edge of the function's domain, or a pole, within ``error`` of a? Then nothing bounds it."""
    if name in ("ln", "log", "log10", "log2", "sqrt"):
        return a - error <= 0 if name != "sqrt" else (a - error < 0 and error > 0)
    if name in ("asin", "arcsin", "acos", "arccos"):
        return abs(a) + error >= 1 and error > 0
    if name in _POLES and error:
        nearest = _POLES[name] + math.pi * round((a - _POLES[name]) / math.pi)
        return abs(a - nearest) <= error + 4 * ROUNDING * abs(a)
    return False


def _slope(name: str, apply: Callable, a: float, error: float) -> float:
    """The largest |f′| over a ± its error (a slope that grows towards a pole is not taken at the
    point alone): f′ at a, a − e and a + e; inf where a pole or a domain edge is within reach."""
    if _crosses(name, a, error):
        return math.inf
    worst = 0.0
    for x in (a, a - error, a + error) if error else (a,):
        try:
            slope = _SLOPES[name](x, float(apply(x)))
        except (ValueError, ZeroDivisionError, OverflowError):
            return math.inf
        if not math.isfinite(slope):
            return math.inf
        worst = max(worst, abs(slope))
    return worst


def _bounded(name: str, arguments: list[tuple[float, float]], apply: Callable) -> tuple[float, float]:
    """One operation on (value, error) pairs: its value and the error bound of the result (inf where
    the bound's own arithmetic fails: an underflow to 0 in a denominator)."""
    try:
        return _bounded_op(name, arguments, apply)
    except (ValueError, ZeroDivisionError, OverflowError):
        return float(apply(*[float(v) for v, _ in arguments])), math.inf


def _bounded_op(name: str, arguments: list[tuple[float, float]], apply: Callable) -> tuple[float, float]:
    values = [float(v) for v, _ in arguments]
    errors = [float(e) for _, e in arguments]
    result = float(apply(*values))
    if not (math.isfinite(result) and all(math.isfinite(v) for v in values) and all(math.isfinite(e) for e in errors)):
        return result, math.inf
    own = ROUNDING * abs(result)
    if name in ("+", "-"):
        return result, errors[0] + errors[1] + own
    if name == "*":
        (a, b), (ea, eb) = values, errors
        return result, abs(a) * eb + abs(b) * ea + ea * eb + own
    if name == "/":
        (a, b), (ea, eb) = values, errors
        if eb >= abs(b):
            return result, math.inf
        return result, (abs(a) * eb + abs(b) * ea) / (abs(b) * (abs(b) - eb)) + own
    if name == "^":
        (a, b), (ea, eb) = values, errors
        if eb and a <= 0:
            return result, math.inf  # a negative base's power moves off the real line with its exponent
        near = [x for x in (a - ea, a, a + ea) if x != 0 or b >= 1]
        try:
            slope = max(abs(b * x ** (b - 1)) for x in near) if near else math.inf
            moved = abs(result * math.log(abs(a))) * eb if eb else 0.0
        except (ValueError, ZeroDivisionError, OverflowError):
            return result, math.inf
        return result, slope * ea + moved + _LIBRARY * abs(result)
    if name in ("max", "min"):
        return result, max(errors)
    if name == "log" and len(values) == 2:  # ln a / ln b
        (a, b), (ea, eb) = values, errors
        if ea >= abs(a) or eb >= abs(b) or b == 1:
            return result, math.inf
        return result, (ea / abs(a) + abs(result) * eb / abs(b)) / abs(math.log(b)) + _LIBRARY * abs(result)
    return result, _slope(name, apply, values[0], errors[0]) * errors[0] + _LIBRARY * abs(result)


# ---------------------------------------------------------------------------
# The parser: recursive descent, emitting postfix code as it goes
# ---------------------------------------------------------------------------

_CLOSING = {"(": ")", "[": "]"}


class _Parser:
    """sum := product (('+'|'-') product)*;  product := unary (('*'|'/') unary | power)*;
    unary := ('+'|'-') unary | power;  power := atom (('^'|'**') unary)?;
    atom := number | name | function '(' sum (',' sum)* ')' | '(' sum ')' | '[' sum ']' | '|' sum '|'
    """

    def __init__(self, tokens: list[Token], constants: Mapping[str, float]):
        self.tokens = tokens
        self.position = 0
        self.constants = constants
        self.code: list[Instruction] = []
        self.names: dict[str, None] = {}  # an ordered set

    @property
    def token(self) -> Token:
        return self.tokens[self.position]

    def take(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def at(self, *texts: str) -> bool:
        return self.token.kind == "op" and self.token.text in texts

    def fail(self, message: str, token: Token | None = None) -> GraphSyntaxError:
        return GraphSyntaxError(f"{message} at column {(token or self.token).column}")

    def unexpected(self) -> GraphSyntaxError:
        if self.token.kind == "end":
            return self.fail("unexpected end of expression")
        return self.fail(f"unexpected '{self.token.text}'")

    def emit(self, operator: str) -> None:
        self.code.append(Apply(OPERATORS[operator], OPERATORS[operator].arity[0]))

    def deeper(self, depth: int, token: Token) -> int:
        if depth >= MAX_DEPTH:
            raise self.fail(f"expression nested too deeply (more than {MAX_DEPTH} levels)", token)
        return depth + 1

    def sum(self, depth: int) -> None:
        self.product(depth)
        while self.at("+", "-"):
            operator = self.take().text
            self.product(depth)
            self.emit(operator)

    def product(self, depth: int) -> None:
        self.unary(depth)
        while True:
            if self.at("*", "/"):
                operator = self.take().text
                self.unary(depth)
                self.emit(operator)
            elif self.token.kind == "name" or self.at("(", "["):
                self.power(depth)  # implicit multiplication: 2x^2 = 2·(x^2), x(1 - x), 2 sin(x)
                self.emit("*")
            elif self.token.kind == "number":
                raise self.fail(f"missing operator before '{self.token.text}'")
            else:
                return

    def unary(self, depth: int) -> None:
        if self.at("+", "-"):
            sign = self.take()
            self.unary(self.deeper(depth, sign))
            if sign.text == "-":
                self.emit("neg")
        else:
            self.power(depth)

    def power(self, depth: int) -> None:
        self.atom(depth)
        if self.at("^", "**"):
            operator = self.take()
            self.unary(self.deeper(depth, operator))  # right-associative: 2^3^2 = 2^9, and 2^-1
            self.emit("^")

    def atom(self, depth: int) -> None:
        token = self.token
        if token.kind == "number":
            self.take()
            self.code.append(Push(float(token.text)))
        elif token.kind == "name":
            self.take()
            self.name(token, depth)
        elif self.at("(", "["):
            self.take()
            if self.at(")", "]"):
                raise self.fail(f"empty brackets '{token.text}{self.token.text}'", token)
            self.sum(self.deeper(depth, token))
            self.close(token)
        elif self.at("|"):
            self.take()
            self.sum(self.deeper(depth, token))
            if not self.at("|"):
                raise self.fail("'|' is never closed", token) if self.token.kind == "end" else self.unexpected()
            self.take()
            self.code.append(Apply(FUNCTIONS["abs"], 1))
        elif self.at(")", "]"):
            raise self.fail(f"unmatched '{token.text}'")
        else:
            raise self.unexpected()

    def close(self, opening: Token) -> None:
        if self.at(_CLOSING[opening.text]):
            self.take()
        elif self.token.kind == "end":
            raise self.fail(f"'{opening.text}' is never closed", opening)
        else:
            raise self.fail(f"expected '{_CLOSING[opening.text]}' (for column {opening.column}), got '{self.token.text}'")

    def name(self, token: Token, depth: int) -> None:
        word = token.text
        if word in FUNCTIONS:
            if not self.at("("):
                raise self.fail(f"function '{word}' needs its argument in parentheses", token)
            self.call(FUNCTIONS[word], token, depth)
        elif word in self.constants:
            self.code.append(Push(self.constants[word]))
        elif len(word) > 1 and self.at("("):
            raise self.fail(f"unknown function '{word}'", token)
        elif word.startswith("_") or "__" in word:
            raise self.fail(f"unknown name '{word}'", token)
        else:  # a variable; a single letter before '(' is one too, and multiplies: x(1 - x)
            self.code.append(Load(word))
            self.names.setdefault(word)

    def call(self, function: Operation, token: Token, depth: int) -> None:
        opening = self.take()
        inner = self.deeper(depth, opening)
        count = 0
        if not self.at(")"):
            self.sum(inner)
            count = 1
            while self.at(","):
                self.take()
                self.sum(inner)
                count += 1
        self.close(opening)
        if count not in function.arity:
            wanted = " or ".join(map(str, function.arity))
            raise self.fail(f"function '{function.name}' takes {wanted} argument(s), got {count}", token)
        self.code.append(Apply(function, count))


def _parse_equation(text: str, constants: Mapping[str, float]) -> tuple[str, Expression]:
    """``NAME = EXPR`` → (NAME, the compiled EXPR)."""
    if not isinstance(text, str):
        raise GraphSyntaxError(f"an equation is text, not {type(text).__name__}")
    parser = _Parser(tokenize(text), constants)
    target = parser.take()
    if target.kind != "name" or not parser.at("="):
        raise GraphSyntaxError("expected 'name = expression'")
    if target.text in FUNCTIONS or target.text in constants:
        raise parser.fail(f"cannot define '{target.text}': it is a function or constant", target)
    if target.text.startswith("_") or "__" in target.text:
        raise parser.fail(f"'{target.text}' is not a name", target)
    parser.take()
    previous = sys.getrecursionlimit()  # at most a few frames per level of nesting, bounded by MAX_DEPTH
    sys.setrecursionlimit(previous + 8 * MAX_DEPTH)
    try:
        parser.sum(0)
    finally:
        sys.setrecursionlimit(previous)
    if parser.token.kind != "end":
        raise parser.fail(f"unmatched '{parser.token.text}'") if parser.at(")", "]") else parser.unexpected()
    right = text[text.index("=") + 1:].strip()
    return target.text, Expression(right, tuple(parser.code), tuple(parser.names))


# ---------------------------------------------------------------------------
# The graph
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Equation:
    name: str
    expression: Expression
    text: str  # as written
    number: int  # its 1-based place in the list given


@dataclass(frozen=True)
class DescentStep:
    """One step of gradient descent: p⁺ = p − rate · ∂output/∂p for each parameter p."""

    step: int  # 1-based
    values_before: Mapping[str, Value]  # every leaf and node before the update
    gradient: Mapping[str, Value]  # ∂output/∂p at those values (finite differences)
    parameters_after: Mapping[str, Value]
    output_after: Value


def _topological_order(equations: Sequence[Equation]) -> list[Equation]:
    """Every equation after the equations it reads; otherwise in the order given (iterative DFS)."""
    by_name = {eq.name: eq for eq in equations}
    order: list[Equation] = []
    finished: set[str] = set()
    for root in equations:
        if root.name in finished:
            continue
        path = [root.name]  # the equations being visited, each reading the next
        on_path = {root.name}
        pending = [iter(root.expression.names)]
        while path:
            for name in pending[-1]:
                if name not in by_name or name in finished:
                    continue
                if name in on_path:
                    cycle = " → ".join(path[path.index(name):] + [name])
                    raise GraphSyntaxError(f"cycle: {cycle} (equation {by_name[name].number}: '{by_name[name].text}')")
                path.append(name)
                on_path.add(name)
                pending.append(iter(by_name[name].expression.names))
                break
            else:
                done = path.pop()
                on_path.discard(done)
                pending.pop()
                finished.add(done)
                order.append(by_name[done])
    return order


def _plain(value: Value) -> Value:
    return float(value) if np.ndim(value) == 0 else np.asarray(value)


@dataclass(frozen=True)
class NumericGraph:
    equations: tuple[Equation, ...]  # in topological order
    nodes: tuple[str, ...]  # computed nodes, in topological order
    leaves: tuple[str, ...]  # names used but not defined, in order of first appearance

    @classmethod
    def compile(cls, equations: Sequence[str], *, e_is_variable: bool = False) -> NumericGraph:
        """Read ``NAME = EXPR`` equations (in any order); a name no equation defines is a leaf."""
        constants = {k: v for k, v in CONSTANTS.items() if not (e_is_variable and k == "e")}
        if isinstance(equations, str):
            raise GraphSyntaxError("expected a list of equations, got one string")
        read: list[Equation] = []
        for number, text in enumerate(equations, start=1):
            try:
                name, expression = _parse_equation(text, constants)
            except GraphSyntaxError as error:
                raise GraphSyntaxError(f"equation {number} '{text}': {error}") from None
            if any(eq.name == name for eq in read):
                raise GraphSyntaxError(f"equation {number} '{text}': '{name}' is defined twice")
            read.append(Equation(name, expression, text, number))
        defined = {eq.name for eq in read}
        leaves = dict.fromkeys(n for eq in read for n in eq.expression.names if n not in defined)
        ordered = tuple(_topological_order(read))
        return cls(ordered, tuple(eq.name for eq in ordered), tuple(leaves))

    def evaluate(self, values: Mapping[str, Value], override: Mapping[str, Value] | None = None) -> dict[str, Value]:
        """Every leaf and node's value. ``override`` pins a node (or a leaf) to a value, its own
        equation ignored and everything downstream recomputed (finite differences of an interior node)."""
        override = override or {}
        self._check_names(values, override)
        known: dict[str, Value] = {}
        with np.errstate(all="ignore"):  # log(0) = -inf and sqrt(-1) = nan are answers here, not warnings
            for leaf in self.leaves:
                known[leaf] = np.asarray(override[leaf] if leaf in override else values[leaf], dtype=np.float64)
            for equation in self.equations:
                if equation.name in override:
                    known[equation.name] = np.asarray(override[equation.name], dtype=np.float64)
                else:
                    known[equation.name] = equation.expression.evaluate(known)
        return {name: _plain(known[name]) for name in self.leaves + self.nodes}

    def evaluate_with_bounds(self, values: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
        """Every leaf's and node's value, and a bound on its error in this evaluation (running error
        analysis, each equation's every operation; a leaf is exact): how far double precision lets
        this evaluation stray from the equations' exact value. inf where it can say nothing."""
        self._check_names(values, {})
        known: dict[str, float] = {leaf: float(values[leaf]) for leaf in self.leaves}
        bounds: dict[str, float] = {leaf: 0.0 for leaf in self.leaves}
        for equation in self.equations:
            value, bound = equation.expression.evaluate_with_bound(known, bounds)
            known[equation.name], bounds[equation.name] = float(value), bound
        return known, bounds

    def finite_differences(
        self, values: Mapping[str, Value], output: str, *, step: float = 1e-6, with_respect_to: Sequence[str] | None = None
    ) -> dict[str, Value]:
        """∂output/∂v by central differences for every leaf and node v (or those named): v is
        pinned to v ± h, h = step · max(1, |v|), and everything downstream recomputed. The
        output's own entry is 1.0; NaN where the output is not finite at a perturbed point."""
        self._require(output)
        base = self.evaluate(values)
        names = list(with_respect_to if with_respect_to is not None else self.leaves + self.nodes)
        for name in names:
            self._require(name)
        moved = [name for name in names if name != output]
        if all(np.ndim(base[name]) == 0 for name in base):
            slopes = self._batched_differences(values, base, moved, output, step)
        else:
            slopes = {name: self._one_difference(values, base, name, output, step) for name in moved}
        return {name: 1.0 if name == output else slopes[name] for name in names}

    def _one_difference(self, values, base, name: str, output: str, step: float) -> Value:
        v = np.asarray(base[name], dtype=np.float64)
        h = step * np.maximum(1.0, np.abs(v))
        with np.errstate(all="ignore"):
            up, down = v + h, v - h
            f_up = np.asarray(self.evaluate(values, {name: up})[output])
            f_down = np.asarray(self.evaluate(values, {name: down})[output])
            slope = (f_up - f_down) / (up - down)  # the step actually taken, after rounding
        return _plain(np.where(np.isfinite(f_up) & np.isfinite(f_down), slope, np.nan))

    def _batched_differences(self, values, base, moved: Sequence[str], output: str, step: float) -> dict[str, Value]:
        """All perturbations in one pass: row i moves ``moved[i]`` up, row M + i moves it down, and
        each equation is evaluated once on the 2M rows (a 1,000-node graph: 1,000 vector
        evaluations, not 2,000 passes of 1,000)."""
        count = len(moved)
        if count == 0:
            return {}
        pins: dict[str, tuple[int, float, float]] = {}
        for row, name in enumerate(moved):
            v = float(base[name])
            h = step * max(1.0, abs(v))
            pins[name] = (row, v + h, v - h)
        known: dict[str, np.ndarray] = {}

        def pinned(name: str, column: np.ndarray) -> np.ndarray:
            if name in pins:
                row, up, down = pins[name]
                column = np.array(np.broadcast_to(column, (2 * count,)), dtype=np.float64)
                column[row], column[count + row] = up, down
            return column

        with np.errstate(all="ignore"):
            for leaf in self.leaves:
                known[leaf] = pinned(leaf, np.full(2 * count, float(values[leaf])))
            for equation in self.equations:
                known[equation.name] = pinned(equation.name, np.broadcast_to(equation.expression.evaluate(known), (2 * count,)))
            f = known[output]
            result: dict[str, Value] = {}
            for name, (row, up, down) in pins.items():
                f_up, f_down = f[row], f[count + row]
                ok = np.isfinite(f_up) and np.isfinite(f_down)
                result[name] = float((f_up - f_down) / (up - down)) if ok else math.nan
        return result

    def descend(self, values: Mapping[str, Value], output: str, parameters: Sequence[str], rate: float, steps: int) -> list[DescentStep]:
        """Gradient descent on the named leaves with the finite-difference gradient."""
        self._require(output)
        for name in parameters:
            if name not in self.leaves:
                raise ValueError(f"parameter '{name}' is not a leaf of the graph")
        current = dict(values)
        history: list[DescentStep] = []
        for number in range(1, steps + 1):
            before = self.evaluate(current)
            gradient = self.finite_differences(current, output, with_respect_to=parameters)
            after = {p: _plain(before[p] - rate * np.asarray(gradient[p])) for p in parameters}
            current.update(after)
            history.append(DescentStep(number, before, gradient, after, self.evaluate(current)[output]))
        return history

    def _require(self, name: str) -> None:
        if name not in self.leaves and name not in self.nodes:
            raise ValueError(f"'{name}' is neither a leaf nor a node of the graph")

    def _check_names(self, values: Mapping[str, Value], override: Mapping[str, Value]) -> None:
        for name in override:
            self._require(name)
        for name in values:
            if name in self.nodes:
                raise ValueError(f"'{name}' is computed by its equation; pin it with override instead")
            if name not in self.leaves:
                raise ValueError(f"a value is given for '{name}', which no equation uses")
        missing = [leaf for leaf in self.leaves if leaf not in values and leaf not in override]
        if missing:
            raise ValueError(f"no value for the leaf/leaves {', '.join(missing)}")
