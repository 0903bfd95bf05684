"""The documents of a graph problem's quiz (SPEC.md §7): what differs from a network's.

A graph variant's statement is its equations and its leaves' drawn values (a network's
is layers, parameters and samples); its names are the nodes' own (``dJ/db`` printed
∂J/∂b), and its worked solution is :func:`tracer.render.graph.render_graph`'s document.
The sheet, the key and the CSV are :mod:`tracer.render.quiz`'s, fed these fragments
(the templates show ``statement.graph`` in its own branch); the Moodle and Canvas question
text is :mod:`tracer.export.lms`'s. Nothing here computes: the numbers are the variant's solution's.
"""

from __future__ import annotations

from typing import Any

from tracer import keys
from tracer.keys import NameError_
from tracer.core.solution import GraphSolution
from tracer.render.graph import equation_lines, printer, render_graph
from tracer.render.step_printer import escape_markdown, escape_tex
from tracer.render.quiz import KEY_DIGITS, _demote_markdown, _tex_parts, variant_anchor
from tracer.spec import GraphProblem
from tracer.teach.quiz import Variant


def label(problem: GraphProblem, name: str) -> str:
    """A quantity's symbol (LaTeX): ``dJ/db`` → ``\\frac{\\partial J}{\\partial b}``; a later pass's
    marked with it (``J@end`` → ``J|_end``, ``dJ/db@2`` → ``∂J/∂b|_step 2``)."""
    try:
        target = keys.parse(name, nodes=problem.names)
    except NameError_:
        return name
    symbol = printer("latex", 9).target(target)
    step = keys.split_step(name)[1]
    if step == keys.END:
        return rf"\left.{symbol}\right|_{{\mathrm{{end}}}}"
    if isinstance(step, int) and step > 1:
        return rf"\left.{symbol}\right|_{{\mathrm{{step}}\ {step}}}"
    return symbol


def statement(solution: GraphSolution, fmt_: str) -> dict[str, Any]:
    """The graph a variant asks about: its equations (as the worked solution prints them),
    the leaves' values, the output and, with training, the rate, the steps, the trained leaves."""
    p = printer("latex", 9)
    # html: an equation as the file writes it (not derived) is inert LaTeX text, typeset as MathML (as on the solution page)
    escape = {"tex": escape_tex, "md": escape_markdown}.get(fmt_, lambda text: rf"\text{{{escape_tex(text)}}}")
    problem = solution.problem
    first = solution.steps[0]
    trained = set(problem.training.parameters) if solution.trained else set()
    equations = equation_lines(solution, p, escape)
    return {
        "graph": True,
        "equations": equations,
        "leaves": [{"name": p.target(n.key), "value": p.number(first.values[n.key]), "trained": n.key.name in trained}
                   for n in solution.nodes if n.is_leaf],
        "output": p.target(solution.output),
        "output_name": problem.output,  # an identifier: shown as it is (in `dJ/dx`)
        "trained": solution.trained,
        "rate": p.names.rate,
        "learning_rate": p.number(problem.training.learning_rate),
        "steps": problem.training.steps if solution.trained else 0,
    }


def finish_variant(variant: Variant, digits: int, formats: tuple[str, ...] = ("md", "tex")) -> None:
    """Runs in the worker: the variant's worked solution (md and/or tex), labels, statements."""
    solution = variant.solution
    shown = max(digits, KEY_DIGITS)
    if "md" in formats:
        variant.documents["md"] = _demote_markdown(render_graph(solution, "md", digits=shown))
    if "tex" in formats:
        variant.documents["tex_body"], variant.documents["tex_preamble"] = _tex_parts(render_graph(solution, "tex", digits=shown))
    if "html" in formats:
        variant.documents["html"] = render_graph(solution, "html", digits=shown, anchor=variant_anchor(variant))
    variant.documents["labels_tex"] = [label(solution.problem, q.name) for q in variant.questions]
    variant.documents["statement_md"] = statement(solution, "md")
    variant.documents["statement_tex"] = statement(solution, "tex")
    variant.documents["statement_html"] = statement(solution, "html")
    variant.solution = None  # the key is rendered; do not ship the solution back
