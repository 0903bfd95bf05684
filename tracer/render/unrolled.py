"""A recurrent layer unrolled in time, drawn as a circuit (:mod:`tracer.render.circuit`): the
inputs x_t and the initial state h_0 on the left, one rnn cell per time step reading x_t and
h_{t−1}, and the output layer reading the last state (or every state, with outputs: sequence).
Each wire carries its vector of values above and its vector of gradients ∂J/∂· below — the
picture of backpropagation through time. Formatting only: the numbers are the engine's
(the first sample of the first training step).
"""

from __future__ import annotations

from tracer import notation as themes
from tracer.keys import Block, Partial, Quantity
from tracer.notation import blocks
from tracer.notation.symbol import Glyph, Symbol
from tracer.core.solution import Solution
from tracer.render import circuit
from tracer.render.step_printer import Printer

#: significant digits on the wires (the equations have every number in full)
DIGITS = 3
#: time steps drawn at most (a longer sequence: its equations only)
MAX_STEPS = 8
#: an rnn cell's activation as the circuit writes it (another: its name as it is)
CELLS = {"tanh": Glyph(r"\tanh", "tanh"), "sigmoid": Glyph(r"\sigma", "σ"), "relu": Glyph("ReLU", "ReLU")}


def _vector(values: list[float], p: Printer, latex: bool) -> str:
    inner = ", ".join(p.number(v) for v in values)
    return rf"({inner})" if latex else f"({inner})"


def recurrent_stack(problem) -> int:
    """How many rnn layers stand at the bottom of the network, each on the states of the one below
    (0: the first layer is not an rnn)."""
    if not getattr(problem, "layered", False):
        return 0
    count = 0
    for layer in problem.layers:
        if layer.kind != "rnn":
            break
        count += 1
    return count


def unrolled_layout(solution: Solution) -> circuit.CircuitLayout | None:
    """The unrolled circuit of a network whose first layer is an rnn (None otherwise, or too long):
    one row of cells per rnn layer of the stack, the cell of layer l at step t reading the state
    below it (x_t for the first layer) and its own state one step before."""
    problem = solution.problem
    depth = recurrent_stack(problem)
    if not depth or not solution.steps:
        return None
    stack = problem.layers[:depth]
    steps, n = stack[0].in_shape
    if steps > MAX_STEPS:
        return None
    latex = Printer("latex", digits=DIGITS)
    sample = 1 if len(problem.data) > 1 else None

    def values(kind: str, layer: int | None, t: int, count: int, gradient: bool) -> list[float]:
        out = []
        for j in range(1, count + 1):
            if kind == "x":
                out.append(0.0 if gradient else solution.value(Quantity("x", None, (t, j), sample)))
            elif gradient:
                out.append(solution.value(Partial(Quantity("loss"), Quantity("a", layer, (t, j)), sample)))
            else:
                out.append(solution.value(Quantity("a", layer, (t, j), sample)))
        return out

    def node(id_: str, tex: str, plain: str, gate: tuple[str, str] | None, vals: list[float], grads: list[float] | None,
             output: bool = False) -> circuit.CircuitNode:
        return circuit.CircuitNode(
            id=id_, name_tex=tex, name_text=plain, gate_tex=None if gate is None else gate[0],
            gate_text=None if gate is None else gate[1], value=_vector(vals, latex, True),
            gradient="" if grads is None else _vector(grads, latex, True), is_output=output)

    names = themes.theme(problem.notation, problem) if problem.notation in themes.THEMES else None
    block = names.block if names is not None else blocks.block_symbol

    def state(l: int, t: int) -> tuple[str, str, str]:
        """A state's id, LaTeX and plain name: h_t for one layer, h^{[l]}_t in a stack."""
        symbol = block(Block("a", l if depth > 1 else None), blocks.CIRCUIT, time=t)
        return (f"h{t}" if depth == 1 else f"h{l}s{t}"), symbol.latex(), symbol.compact()

    nodes, edges = [], []
    for l, layer in enumerate(stack, start=1):
        act = layer.activation.name
        letter = CELLS.get(act, Glyph(act, act))
        # in a stack each cell says its layer: tanh^{[1]}, tanh¹
        cell = blocks.layer_symbol(letter, l, blocks.CIRCUIT) if depth > 1 else Symbol(letter)
        symbol = (cell.latex(), cell.compact())
        first, tex, plain = state(l, 0)
        nodes.append(node(first, tex, plain, None, list(layer.initial_state), None))
        for t in range(1, steps + 1):
            if l == 1:
                x = block(Block("x", None), blocks.CIRCUIT, time=t)
                nodes.append(node(f"x{t}", x.latex(), x.compact(), None, values("x", None, t, n, False), None))
            below = f"x{t}" if l == 1 else state(l - 1, t)[0]
            id_, tex, plain = state(l, t)
            nodes.append(node(id_, tex, plain, symbol, values("a", l, t, layer.units, False), values("a", l, t, layer.units, True),
                              output=(l == depth and t == steps and layer.returns == "last")))
            edges.append(circuit.CircuitEdge(below, id_, 0))
            edges.append(circuit.CircuitEdge(state(l, t - 1)[0], id_, 1))
    return circuit.layout(nodes, edges, max_nodes=(2 * depth + 1) * MAX_STEPS + 2 * depth)
