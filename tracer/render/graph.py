"""A graph problem's document (SPEC.md §7): a view model of ready strings, laid out by Jinja.

The document reads as CS231n's notes do: the equations and the given values, the
circuit (each wire with its value above and its gradient below), the forward pass
node by node (symbolic = substituted = value), the backward pass from ∂f/∂f = 1 to
every node — each local derivative from its own equation, with the rule of its gate,
a node used twice as the sum over its uses — a table of every value and gradient, and
with training each update and the output after. Nothing here computes: the numbers are
the solution's, the equations its steps'; this module only turns them into strings.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from tracer.keys import Quantity
from tracer.core.solution import GraphNode, GraphSolution, Step
from tracer.notation import graph as graph_names
from tracer.render import circuit
from tracer.render.document import DocumentBuilder, environment, equation_mathml, plain_equation, svg_id, verification_view
from tracer.numbers import DEFAULT_DIGITS
from tracer.render.step_printer import Printer, escape_markdown, escape_tex, yaml_quoted
from tracer.render.user_text import escape_markdown_text
from tracer.render.views import StepView

#: a circuit with more nodes than this is not drawn (the table has every number)
CIRCUIT_NODES = 40
#: significant digits on the circuit's wires (the table below it has every number in full)
CIRCUIT_DIGITS = 4


def printer(dialect: str, digits: int) -> Printer:
    return Printer(dialect, graph_names.names_view(dialect), digits)


def _gate(node: GraphNode, p: Printer) -> tuple[str, str] | tuple[None, None]:
    """The gate's symbol in the circuit, (LaTeX, plain text), as CS231n labels its gates."""
    kind, c = node.gate, node.constant
    number = (lambda v: p.number(v)) if c is not None else None
    if kind == "leaf":
        return None, None
    if kind == "add":
        sign_tex = "+" if all(s > 0 for s in node.signs) else ("-" if len(node.signs) == 2 and node.signs[0] > 0 else r"\pm")
        sign_text = {"-": "−", r"\pm": "±"}.get(sign_tex, sign_tex)
        if c is not None:
            constant = p.number(abs(c))
            joiner = "+" if c > 0 else "-"
            return (rf"{joiner}{constant}", f"{'+' if c > 0 else '−'}{constant}") if len(node.signs) == 1 else (sign_tex, sign_text)
        return sign_tex, sign_text
    if kind == "multiply":
        return r"\times", "×"
    if kind == "scale" and number is not None:
        shown = p.operand(c) if p.dialect == "latex" else fmt_text_operand(c, p)
        return rf"\times{shown}", f"×{fmt_text_operand(c, p)}"
    if kind == "power" and c is not None:
        if c == -1:
            return r"1/x", "1/x"
        if c == 0.5:
            return r"\sqrt{\cdot}", "√"
        exponent = p.number(c)
        integer = exponent != "" and all(ch in "0123456789−-" for ch in exponent)
        # plain text (the SVG's gate): an integer exponent raised, x², x⁻³; x^1.5 stays as written
        return rf"x^{{{exponent}}}", f"x{exponent.translate(_SUPERSCRIPT)}" if integer else f"x^{exponent}"
    symbols = {
        "max": (r"\max", "max"), "min": (r"\min", "min"), "sigmoid": (r"\sigma", "σ"), "tanh": (r"\tanh", "tanh"),
        "relu": (r"\mathrm{ReLU}", "ReLU"), "softplus": (r"\mathrm{softplus}", "softplus"), "arctan": (r"\arctan", "arctan"),
        "exp": (r"\exp", "exp"), "log": (r"\log", "log"), "abs": (r"|\cdot|", "|·|"), "sin": (r"\sin", "sin"), "cos": (r"\cos", "cos"),
    }
    if kind in symbols:
        return symbols[kind]
    names = printer("latex", p.digits).names
    return names.quantity(node.key), node.key.name  # a compound equation: the gate is named by its node  # type: ignore[operator]


#: an integer exponent in plain text, raised: x², x⁻¹
_SUPERSCRIPT = str.maketrans("0123456789−-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁻")


def fmt_text_operand(value: float, p: Printer) -> str:
    text = Printer("text", digits=p.digits).number(value)
    return f"({text})" if text.startswith("−") else text


def circuit_view(solution: GraphSolution, digits: int) -> circuit.CircuitLayout | None:
    """The circuit of the pass at the given values: every wire's value and gradient."""
    if len(solution.nodes) > CIRCUIT_NODES:
        return None
    latex, text = printer("latex", digits), Printer("text", digits=digits)
    first = solution.steps[0]
    ids = {node.key: f"n{k}" for k, node in enumerate(solution.nodes)}
    nodes, edges = [], []
    for node in solution.nodes:
        gate_tex, gate_text = _gate(node, latex)
        nodes.append(circuit.CircuitNode(
            id=ids[node.key],
            name_tex=latex.target(node.key),
            name_text=_subscripted(node.key),
            gate_tex=gate_tex,
            gate_text=gate_text if gate_tex is None else _gate(node, text)[1],
            value=latex.number(first.values[node.key]),
            gradient=latex.number(first.gradients[node.key]),
            is_output=node.key == solution.output,
        ))
        for slot, argument in enumerate(node.arguments):
            edges.append(circuit.CircuitEdge(ids[argument], ids[node.key], slot))
    return circuit.layout(nodes, edges, max_nodes=CIRCUIT_NODES)


_SUBSCRIPT_DIGITS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _subscripted(key: Quantity) -> str:
    """A name for the SVG's plain text: trailing digits as subscripts (``w0`` → w₀), Greek as Greek."""
    symbol = graph_names.node_symbol(key.name)
    letter = symbol.plain().split("_")[0]
    sub = "".join(str(p) if isinstance(p, str) else p.plain for p in symbol.sub)  # type: ignore[union-attr]
    if sub.isdigit():
        return letter + sub.translate(_SUBSCRIPT_DIGITS)
    return letter + (f"_{sub}" if sub else "")


def _table(solution: GraphSolution, p: Printer) -> list[dict[str, Any]]:
    """Every name of the graph at the given values: value and ∂output/∂name (CS231n's wires)."""
    first = solution.steps[0]
    rows = []
    for node in solution.nodes:
        rows.append({
            "name": p.target(node.key),
            "equation": node.equation is not None,
            "value": p.number(first.values[node.key]),
            "gradient": p.number(first.gradients[node.key]),
            "trained": node.key.name in solution.problem.training.parameters and solution.trained,
        })
    return rows


def equation_lines(solution: GraphSolution, p: Printer, escape) -> list[dict[str, str]]:
    """The problem's equations as printed math, each as its two sides ``{"lhs", "rhs"}`` (from
    the written-out pass; else the right-hand side as the file writes it, escaped)."""
    out = []
    for node in solution.nodes:
        if node.equation is None:
            continue
        step: Step | None = solution.index.get(node.key)
        rhs = p.symbolic(step) if step is not None else escape(node.equation.split("=", 1)[1].strip())
        out.append({"lhs": p.target(node.key), "rhs": rhs})
    return out


def render_graph(solution: GraphSolution, fmt: str, *, detail: str = "standard", digits: int = DEFAULT_DIGITS, anchor: str | None = None) -> str:
    """A graph problem's whole document in ``text``, ``md``, ``tex`` or ``html``; ``anchor`` (html):
    the page's content only, every id starting with it (one variant of a quiz key)."""
    dialect = "text" if fmt == "text" else "latex"
    p = printer(dialect, digits)
    # html: the environment escapes every string; only an equation the file writes (not derived)
    # is made inert LaTeX text, typeset by the page as MathML
    escape = {"text": lambda s: s, "md": escape_markdown, "tex": escape_tex, "html": lambda s: s}[fmt]
    builder = DocumentBuilder(solution, p, detail)  # type: ignore[arg-type]
    steps = [StepView(gs.number, gs.derived, builder.sections(gs.sections) if gs.derived else [], p.number(gs.output))
             for gs in solution.steps]
    closing = builder.sections(solution.closing)
    output = solution.output
    problem = solution.problem
    view: dict[str, Any] = {
        "title": escape(problem.title or "A computational graph, step by step"),
        "description": escape(problem.describe()),
        "title_yaml": yaml_quoted(escape_markdown_text(problem.title or "A computational graph, step by step")),  # md: the page's name
        "notes": [escape(n) for n in solution.notes],
        "graph_equations": equation_lines(solution, p, (lambda s: rf"\text{{{escape_tex(s)}}}") if fmt == "html" else escape),
        "leaves": [{"name": p.target(n.key), "value": p.number(solution.steps[0].values[n.key])}
                   for n in solution.nodes if n.is_leaf],
        "output": p.target(output),
        "steps": steps,
        "closing": closing,
        "table": _table(solution, p),
        "trained": solution.trained,
        "parameters": [p.target(n.key) for n in solution.nodes if n.key.name in problem.training.parameters],
        "rate": p.names.rate,
        "learning_rate": p.number(problem.training.learning_rate),
        "output_before": p.number(solution.steps[0].output),
        "output_after": p.number(solution.output_after) if solution.output_after is not None else "",
        "change": _change(solution),
        "numeric_steps": [(gs.number, p.number(gs.output)) for gs in solution.steps if not gs.derived],
        "verification": verification_view(solution, digits, dialect),  # type: ignore[arg-type]
        "digits": digits,
        "source": escape(problem.source),
    }
    if view["verification"].get("done"):
        view["verification"]["fd_skipped"] = [escape(s) for s in view["verification"]["fd_skipped"]]
    if fmt in ("md", "tex"):
        layout = circuit_view(solution, min(digits, CIRCUIT_DIGITS))
        view["circuit_digits"] = min(digits, CIRCUIT_DIGITS)
        view["circuit_tikz"] = circuit.tikz(layout) if (layout is not None and fmt == "tex") else ""
        view["circuit_svg"] = circuit.svg(layout) if (layout is not None and fmt == "md") else ""
    if fmt == "html":
        layout = circuit_view(solution, min(digits, CIRCUIT_DIGITS))
        view["circuit_digits"] = min(digits, CIRCUIT_DIGITS)
        view["circuit_svg"] = Markup(circuit.svg(layout, id_prefix=f"{svg_id(anchor)}circuit")) if layout is not None else ""
        equations = [eq for step in steps for section in step.sections for eq in section.equations]
        equations += [eq for section in closing for eq in section.equations]
        view["mathml"] = equation_mathml(equations, lambda: _text_equations(solution, detail, digits))
        if anchor is not None:
            return environment("page").get_template("_graph_body.html.j2").render(**view, anchor=anchor)
        return environment("page").get_template("graph.html.j2").render(**view)
    template = {"text": "graph.txt.j2", "md": "graph.md.j2", "tex": "graph.tex.j2"}[fmt]
    return environment("tex" if fmt == "tex" else "text").get_template(template).render(**view)


def _text_equations(solution: GraphSolution, detail: str, digits: int) -> dict[int, str]:
    """The text printer's rendering of each numbered equation (the page's fallback), numbered alike."""
    builder = DocumentBuilder(solution, printer("text", digits), detail)  # type: ignore[arg-type]
    sections = [s for gs in solution.steps if gs.derived for s in builder.sections(gs.sections)] + builder.sections(solution.closing)
    return {eq.number: plain_equation(eq) for section in sections for eq in section.equations}


def circuit_svg(solution: GraphSolution, digits: int = DEFAULT_DIGITS) -> str | None:
    """The circuit as a standalone SVG file's text (beside a Markdown document), or None when not drawn."""
    layout = circuit_view(solution, min(digits, CIRCUIT_DIGITS))
    return None if layout is None else circuit.svg(layout)


def _change(solution: GraphSolution) -> str:
    if not solution.trained or solution.output_after is None:
        return "no_step"
    before, after = solution.steps[0].output, solution.output_after
    return "decreased" if after < before else ("unchanged" if after == before else "increased")

