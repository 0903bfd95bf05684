"""A computational graph written as equations (SPEC.md §7) as a graph of local equations.

``q = x + y``, ``f = q * z``: each equation is read by the safe parser of ``tracer
diff`` (:mod:`tracer.calculus.expression`: one parser, one way to write math) and
becomes one node whose operation is the gate it is (:mod:`tracer.core.gates`); every
name no equation defines is a leaf, whose value the file gives. Here the graph is
checked as a whole — a name without an equation or a value, a cycle — and every
fault is reported as the one-line :class:`~tracer.spec.SpecError` naming the
equation (``graph.equations[1]: f = q*w: w has no value …``).

Unlike a layered network, every node is its own family (one node, one equation),
every leaf gets a gradient (inputs included: CS231n asks for ∂f/∂x), and there is one
"sample". Nothing here derives, evaluates or formats. The module is the kind of the graph
problem's equations (plan D7), registered in :mod:`tracer.kinds` under ``"equations"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import sympy as sp

from tracer.calculus.expression import CONSTANTS, FUNCTIONS, ExpressionError, parse_program, tokenize
from tracer import keys
from tracer.core.functions import ANGLE_LIMIT, ARG, PERIODIC, NonFinite, NotReal, Operation, array_function, exact_value
from tracer.core.gates import Equation, operation_of
from tracer.core.graph import Family, Graph
from tracer.keys import Quantity
from tracer.spec import GraphProblem, SpecError


@dataclass(frozen=True)
class Node:
    """One name of the graph: a leaf (``equation`` None) or a node computed by its equation."""

    name: str
    number: int  # the graph's node number
    equation: int | None  # its index in graph.equations (None: a leaf)
    arguments: tuple[str, ...] = ()  # the names its equation uses, in order of first appearance
    body: sp.Expr | None = None  # the right-hand side as computed, over ARG[0], ARG[1], … (its arguments)
    written: sp.Expr | None = None  # the right-hand side as the file writes it, over ARG (√x² is not x: x < 0 has no √x)
    op: Operation | None = None  # the operation its equation is

    @cached_property
    def expression(self) -> sp.Expr | None:
        """The right-hand side over the names' own symbols (built when asked: SymPy's Max of
        real symbols costs milliseconds, and a 1,000-node graph needs it only for messages)."""
        if self.body is None:
            return None
        return self.body.xreplace({ARG[i]: sp.Symbol(a, real=True) for i, a in enumerate(self.arguments)})


@dataclass(frozen=True, eq=False)
class System:
    """A graph problem's graph, and what the display policy needs to know of it."""

    problem: GraphProblem
    graph: Graph
    nodes: tuple[Node, ...]  # by node number: the leaves first (in order of first use), then topological
    backward: tuple[int, ...]  # the nodes in the order the backward pass writes their gradients

    # -- what the display policy asks of a builder (tracer.core.derive.Layout) ---------
    depth = 1
    samples_combine = "sum"
    sequential = False
    seeded = True  # the backward pass opens with ∂f/∂f = 1

    @property
    def objective(self) -> Quantity:
        """What the gradients are of: the output node."""
        return keys.node(self.problem.output)

    def section_title(self, layer: int) -> str:
        return f"from {self.problem.output} back to every node"

    def backward_families(self, layer: int) -> list[Family]:
        return [self.graph.family_of(n) for n in self.backward]

    # -- the nodes -----------------------------------------------------------------
    @cached_property
    def number(self) -> dict[str, int]:
        return {node.name: node.number for node in self.nodes}

    @property
    def output(self) -> int:
        return self.graph.output

    @cached_property
    def parameter_nodes(self) -> np.ndarray:
        """The trained leaves, in the file's order (``training.parameters``)."""
        return np.array([self.number[name] for name in self.problem.training.parameters], dtype=int)

    def leaves(self, values: dict[str, float] | tuple[tuple[str, float], ...]) -> np.ndarray:
        """(1 × nodes): every leaf's value; 0 elsewhere (the sweep computes the rest)."""
        given = dict(values)
        row = np.zeros((1, self.graph.size))
        for node in self.nodes:
            if node.equation is None:
                row[0, node.number] = given[node.name]
        return row

    def undefined(self, values: np.ndarray, local: dict[int, np.ndarray] | None = None, *, step: int = 0) -> None:
        """Raise the one-line error for the first node (in topological order) whose value — or,
        given the local derivatives, whose local derivative — is not a finite number, or whose
        equation as written has a part with no real value there (√x² and e^(ln x) at x < 0:
        SymPy writes both as x). ``step``: the training step whose values these are (0: the
        values as given, −1: after the training); past the first, the training moved them there."""
        trained = self.problem.training
        moved = step >= 2 or step < 0
        for node in self.nodes:
            if node.equation is None:
                continue
            equation = self.problem.equations[node.equation]
            where = f"graph.equations[{node.equation}]"
            arguments = ", ".join(f"{a} = {values[0, self.number[a]]:g}" for a in node.arguments)
            at = ("at the given values" if not moved else
                  "after the training" if step < 0 else f"at the values of training step {step}") + (f" ({arguments})" if arguments else "")
            cause = (f"; the training moved {', '.join(self.problem.training.parameters)} there: training.learning_rate "
                     f"{trained.learning_rate:g} may be too large") if moved else ""
            value = values[0, node.number]
            point = values[0, [self.number[a] for a in node.arguments]]
            angle = _angle_fault(node, point)
            if angle is not None:
                raise SpecError(self.problem.source, where, f"{equation.text}: {angle} {at}{cause}")
            if not np.isfinite(value):
                raise SpecError(self.problem.source, where, f"{equation.text}: {_why_undefined(node, point)} {at}{cause}")
            fault = _domain_fault(node, point)
            if fault is not None:
                raise SpecError(self.problem.source, where, f"{equation.text}: {fault} {at}{cause}")
            if local is not None:
                derivative = local[node.number][0, 0]
                for slot, d in enumerate(derivative):
                    if not np.isfinite(d):
                        raise SpecError(
                            self.problem.source, where,
                            f"{equation.text}: ∂{node.name}/∂{node.arguments[slot]} is not defined {at}; "
                            f"the gradient cannot pass through this node there{cause}",
                        )


def _why_undefined(node: Node, point: np.ndarray) -> str:
    """What went wrong in an equation (as written) at its arguments' values: a division by zero,
    the logarithm of a number ≤ 0, a root of a negative number, …; or a value beyond double
    precision's range."""
    assert node.written is not None
    try:
        exact_value(node.written, {ARG[k]: float(v) for k, v in enumerate(point)})
    except NotReal as err:
        return str(err)
    return "a value beyond double precision's range (±1.8e308)"


#: what a hand calculation calls each periodic function
_PERIODIC_NAMES = {sp.sin: "sine", sp.cos: "cosine", sp.tan: "tangent", sp.sec: "secant", sp.csc: "cosecant", sp.cot: "cotangent"}


@lru_cache(maxsize=None)
def _angles(written: sp.Expr, arity: int) -> tuple[tuple[type, object], ...]:
    """Every sin, cos, tan, sec, csc, cot in the equation as written, innermost first, with its
    argument as a NumPy function of the equation's arguments."""
    return tuple((part.func, array_function(part.args[0], ARG[:arity]))
                 for part in sp.postorder_traversal(written) if isinstance(part, PERIODIC))


def _angle_fault(node: Node, point: np.ndarray) -> str | None:
    """Why the equation takes a periodic function of an angle a double cannot carry (None when it
    does not): an argument beyond ±10⁶ (:data:`~tracer.core.functions.ANGLE_LIMIT`), where the
    decimal the file gives and its double — which differ by up to |u|·2^−53 — no longer give the
    same printed sine. An argument that is not finite is left to the other refusals."""
    if node.written is None:
        return None
    for function, argument in _angles(node.written, len(node.arguments)):
        with np.errstate(all="ignore"):
            try:
                u = float(np.asarray(argument(*[float(v) for v in point])))
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                continue
        if math.isfinite(u) and abs(u) > ANGLE_LIMIT:
            return f"the {_PERIODIC_NAMES[function]} of an angle beyond ±10⁶ ({u:g}), which double precision cannot carry,"
    return None


@lru_cache(maxsize=None)
def _restricted(written: sp.Expr) -> bool:
    """Has the equation as written a part with a restricted domain — a logarithm, a root or a
    negative power, asin, acos, a tangent's pole, an exponential that overflows? Only then can
    SymPy's form of it (√x² is x) be defined where the text is not."""
    for part in sp.preorder_traversal(written):
        if isinstance(part, (sp.log, sp.asin, sp.acos, sp.tan, sp.sec, sp.csc, sp.cot, sp.exp, sp.sinh, sp.cosh)):
            return True
        if part.is_Pow and not (part.exp.is_Integer and part.exp >= 0):
            return True
    return False


@lru_cache(maxsize=None)
def _strict(written: sp.Expr, arity: int):
    return array_function(written, ARG[:arity], strict=True)


def _domain_fault(node: Node, point: np.ndarray) -> str | None:
    """Why an equation whose value is finite has, as written, a part with no real value (None
    when it has none): its every part evaluated in double precision, and where one is not
    finite, exactly (an overflow inside, e^710/e^710, is no fault)."""
    if node.written is None or not isinstance(node.op, Equation) or not _restricted(node.written):
        return None
    with np.errstate(all="ignore"):
        try:
            _strict(node.written, len(node.arguments))(*[float(v) for v in point])
            return None
        except NonFinite:
            pass
    try:
        exact_value(node.written, {ARG[k]: float(v) for k, v in enumerate(point)})
    except NotReal as err:
        return str(err)
    return None


def build(problem: GraphProblem) -> System:
    """The problem's graph; :class:`SpecError` naming the equation when it cannot be one."""
    source = problem.source
    e_is_variable = "e" in problem.names  # a node or leaf called e: then e is not Euler's number
    # name → (its equation's index, the operation, its arguments); equations of one shape
    # (the same text but for the names) are parsed and classified once
    parsed: dict[str, tuple[int, Operation, sp.Expr, tuple[str, ...], sp.Expr]] = {}
    shapes: dict[tuple, tuple[Operation, sp.Expr, sp.Expr]] = {}
    for k, equation in enumerate(problem.equations):
        shape, names = _shape(equation.expression, e_is_variable)
        if shape is not None and shape in shapes:
            op, body, written_here = shapes[shape]
            parsed[equation.name] = (k, op, body, names, written_here)
            continue
        arguments, body, written = _read(problem, k, e_is_variable)
        with sp.evaluate(False):  # the written form keeps the file's order of terms and factors
            written_here = written.xreplace({sp.Symbol(a, real=True): ARG[i] for i, a in enumerate(arguments)})
        op = operation_of(body, len(arguments), relu_at_zero=problem.relu_derivative_at_zero, written=written_here)
        if shape is not None and names == arguments:
            shapes[shape] = (op, body, written_here)
        parsed[equation.name] = (k, op, body, arguments, written_here)
    given = dict(problem.values)
    for name, (k, _, _, arguments, _) in parsed.items():
        for a in arguments:
            if a not in parsed and a not in given:
                raise SpecError(source, f"graph.equations[{k}]",
                                f"{problem.equations[k].text}: {a} has no equation and no value (give it one under graph.values)")
    used = {a for (_, _, _, arguments, _) in parsed.values() for a in arguments}
    for name in given:
        if name not in used:
            raise SpecError(source, f"graph.values.{name}", f"no equation uses {name}")
    order = _topological(problem, parsed)
    leaves: list[str] = []
    for name in order:
        for a in parsed[name][3]:
            if a not in parsed and a not in leaves:
                leaves.append(a)
    leaves.sort(key=lambda a: [n for n, _ in problem.values].index(a))  # the file's order of the values
    names = leaves + order
    number = {name: n for n, name in enumerate(names)}
    nodes: list[Node] = []
    families: list[Family] = []
    for name in leaves:
        nodes.append(Node(name, number[name], None))
        families.append(Family("node", None, (), number[name], "input", shared=True, section=1, name=name))
    for name in order:
        k, op, body, arguments, written = parsed[name]
        args = np.array([[number[a] for a in arguments]], dtype=int).reshape(1, len(arguments))
        nodes.append(Node(name, number[name], k, arguments, body, written, op))
        families.append(Family("node", None, (), number[name], "forward", op=op, args=args, section=1, name=name))
    graph = Graph(tuple(families), number[problem.output])
    return System(problem, graph, tuple(nodes), _backward_order(graph, names, problem))


def _read(problem: GraphProblem, k: int, e_is_variable: bool) -> tuple[tuple[str, ...], sp.Expr, sp.Expr]:
    """One equation parsed: its arguments (the names as written, in order of first appearance:
    x − x is still an equation of x, its local derivative 0), the right-hand side as computed
    over ARG[0], ARG[1], …, and as written over the names."""
    equation = problem.equations[k]
    where = f"graph.equations[{k}]"
    try:
        program = parse_program(equation.expression, e_is_variable=e_is_variable, written=False)
        with sp.evaluate(False):  # the same text, as written, for the forward step
            written = parse_program(equation.expression, e_is_variable=e_is_variable, written=False).expression
    except ExpressionError as err:
        raise SpecError(problem.source, where, f"{equation.text}: {err}") from None
    if program.definitions or program.name is not None:
        raise SpecError(problem.source, where, f"{equation.text}: one equation per entry (no ';' or second '=')")
    free = written.free_symbols
    arguments = tuple(v.name for v in program.variables if v in free)
    if not arguments:
        raise SpecError(problem.source, where, f"{equation.text}: uses no name; a number is a leaf: give {equation.name} under graph.values")
    body = program.expression.xreplace({sp.Symbol(a, real=True): ARG[i] for i, a in enumerate(arguments)})
    return arguments, body, written


def _shape(text: str, e_is_variable: bool) -> tuple[tuple | None, tuple[str, ...]]:
    """The equation's tokens with each name replaced by its place among the names (``n5 + n3``
    and ``q + z`` have one shape), and the names in order of first appearance; (None, ()) when
    the text is not plainly one shape of names (a bad character, a name the parser refuses, a
    one-letter name before '(' — which multiplies: x(1 − x)): the parser then reads it alone."""
    try:
        tokens = tokenize(text)
    except ExpressionError:
        return None, ()
    constants = {c for c in CONSTANTS if not (e_is_variable and c == "e")}
    names: dict[str, int] = {}
    shape: list[tuple[str, str | int]] = []
    for k, token in enumerate(tokens):
        if token.kind == "bad":
            return None, ()
        if token.kind == "name" and token.text not in FUNCTIONS and token.text not in constants:
            following = tokens[k + 1] if k + 1 < len(tokens) else None
            if token.text.startswith("_") or "__" in token.text or (following is not None and following.kind == "op" and following.text == "("):
                return None, ()
            shape.append(("name", names.setdefault(token.text, len(names))))
        else:
            shape.append((token.kind, token.text))
    return tuple(shape), tuple(names)


def _topological(problem: GraphProblem, parsed: dict) -> list[str]:
    """The computed nodes so that every equation comes after the nodes it uses (the file's order
    where it allows); a cycle is reported with the equations that make it."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    order: list[str] = []
    for start in parsed:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        state[start] = 1
        path.append(start)
        while stack:
            name, i = stack[-1]
            arguments = [a for a in parsed[name][3] if a in parsed]
            if i < len(arguments):
                stack[-1] = (name, i + 1)
                nxt = arguments[i]
                if state.get(nxt) == 1:
                    cycle = path[path.index(nxt):] + [nxt]
                    k = parsed[cycle[0]][0]
                    steps = "; ".join(f"{problem.equations[parsed[a][0]].text}" for a in cycle[:-1])
                    raise SpecError(problem.source, f"graph.equations[{k}]",
                                    f"a cycle: {' → uses '.join(cycle)} ({steps}); a graph's equations must not depend on themselves")
                if not state.get(nxt):
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, 0))
            else:
                stack.pop()
                path.pop()
                state[name] = 2
                order.append(name)
    return order


def _backward_order(graph: Graph, names: list[str], problem: GraphProblem) -> tuple[int, ...]:
    """The nodes whose gradients the backward pass writes, in waves from the output: a node
    once every node that uses it is done, each wave in the order the file first names them
    (CS231n's order: ∂f/∂q and ∂f/∂z, then ∂f/∂x and ∂f/∂y)."""
    reading: dict[str, int] = {}
    for equation in problem.equations:
        for token in [equation.name] + _names_in(equation.expression):
            reading.setdefault(token, len(reading))
    pending = {n: len(graph.consumers_of(n)) for n in range(graph.size)}
    wave = [graph.output]
    done: list[int] = []
    while wave:
        following: list[int] = []
        for n in wave:
            family = graph.family_of(n)
            if family.op is None:
                continue
            for a in dict.fromkeys(int(v) for v in family.args[0]):
                pending[a] -= sum(1 for user, _ in graph.consumers_of(a) if user == n)
                if pending[a] == 0:
                    following.append(a)
        following.sort(key=lambda n: reading.get(names[n], len(reading)))
        done.extend(following)
        wave = following
    return tuple(done)


def _names_in(text: str) -> list[str]:
    """The names in an expression's text, in order (for the reading order only)."""
    out, word = [], ""
    for ch in text + " ":
        if ch.isalnum() or ch == "_" or "\u0370" <= ch <= "\u03ff":
            word += ch
        else:
            if word and not word[0].isdigit():
                out.append(word)
            word = ""
    return out


class Equations:
    """The kind of a ``graph:`` file's equations: its graph is :func:`build`'s."""

    names = ("equations",)

    def build(self, problem: GraphProblem) -> System:
        return build(problem)
