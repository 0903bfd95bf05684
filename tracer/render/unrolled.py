"""A recurrent layer unrolled in time, drawn as a circuit (:mod:`tracer.render.circuit`): the
inputs x_t and the initial state h_0 on the left, one rnn cell per time step reading x_t and
h_{t−1}, and the output layer reading the last state (or every state, with outputs: sequence).
Each wire carries its vector of values above and its vector of gradients ∂J/∂· below — the
picture of backpropagation through time. Formatting only: the numbers are the engine's
(the first sample of the first training step).
"""

from __future__ import annotations

from tracer.core.keys import Partial, Quantity
from tracer.core.solution import Solution
from tracer.render import circuit
from tracer.render.printing import Printer

#: significant digits on the wires (the equations have every number in full)
DIGITS = 3
#: time steps drawn at most (a longer sequence: its equations only)
MAX_STEPS = 8
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _vector(values: list[float], p: Printer, latex: bool) -> str:
    inner = ", ".join(p.number(v) for v in values)
    return rf"({inner})" if latex else f"({inner})"


def unrolled_layout(solution: Solution) -> circuit.CircuitLayout | None:
    """The unrolled circuit of a network whose first layer is an rnn (None otherwise, or too long)."""
    problem = solution.problem
    if not getattr(problem, "layered", False) or problem.layers[0].kind != "rnn" or not solution.steps:
        return None
    layer = problem.layers[0]
    steps, n = layer.in_shape
    if steps > MAX_STEPS:
        return None
    latex, text = Printer("latex", digits=DIGITS), Printer("text", digits=DIGITS)
    units = layer.units
    sample = 1 if len(problem.data) > 1 else None

    def values(kind: str, t: int, count: int, gradient: bool) -> list[float]:
        out = []
        for j in range(1, count + 1):
            q = Quantity(kind, None if kind == "x" else 1, (t, j), sample if kind != "x" else None)
            if gradient:
                out.append(solution.value(Partial(Quantity("loss"), q.without_sample(), sample)) if kind != "x" else 0.0)
            else:
                out.append(solution.value(Quantity(kind, None, (t, j)) if kind == "x" else Quantity("a", 1, (t, j), sample)))
        return out

    def node(id_: str, tex: str, plain: str, gate: tuple[str, str] | None, vals: list[float], grads: list[float] | None,
             output: bool = False) -> circuit.CircuitNode:
        return circuit.CircuitNode(
            id=id_, name_tex=tex, name_text=plain, gate_tex=None if gate is None else gate[0],
            gate_text=None if gate is None else gate[1], value=_vector(vals, latex, True),
            gradient="" if grads is None else _vector(grads, latex, True), is_output=output)

    act = layer.activation.name
    symbol = {"tanh": (r"\tanh", "tanh"), "sigmoid": (r"\sigma", "σ"), "relu": ("ReLU", "ReLU")}.get(act, (act, act))
    nodes = [node("h0", "h_{0}", "h₀", None, list(layer.initial_state), None)]
    edges = []
    for t in range(1, steps + 1):
        nodes.append(node(f"x{t}", f"x_{{{t}}}", f"x{str(t).translate(_SUB)}", None, values("x", t, n, False), None))
        nodes.append(node(f"h{t}", f"h_{{{t}}}", f"h{str(t).translate(_SUB)}", symbol, values("a", t, units, False), values("a", t, units, True),
                          output=(t == steps and layer.returns == "last")))
        edges.append(circuit.CircuitEdge(f"x{t}", f"h{t}", 0))
        edges.append(circuit.CircuitEdge(f"h{t - 1}", f"h{t}", 1))
    return circuit.layout(nodes, edges, max_nodes=3 * MAX_STEPS + 2)
