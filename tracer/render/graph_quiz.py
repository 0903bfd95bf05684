"""The documents of a graph problem's quiz (SPEC.md §7): what differs from a network's.

A graph variant's statement is its equations and its leaves' drawn values (a network's
is layers, parameters and samples); its names are the nodes' own (``dJ/db`` printed
∂J/∂b), and its worked solution is :func:`tracer.render.graph.render_graph`'s document.
The sheet, the key and the CSV are :mod:`tracer.render.quiz`'s, fed these fragments
(the templates show ``statement.graph`` in its own branch); the Moodle statement is
written here. Nothing here computes: the numbers are the variant's solution's.
"""

from __future__ import annotations

import html
from typing import Any

from tracer import keys
from tracer.keys import NameError_
from tracer.core.solution import GraphSolution
from tracer.export.moodle import quiz_xml
from tracer.export.qti import qti_zip
from tracer.render.graph import equation_lines, printer, render_graph
from tracer.render.printing import escape_markdown, escape_tex
from tracer.render.user_text import escape_mathjax_html
from tracer.render.quiz import DEFAULT_TITLE, KEY_DIGITS, SetInfo, _demote_markdown, _tex_parts, canvas_description, group_title, moodle_ask_html, moodle_category_root, variant_anchor
from tracer.spec import GraphProblem
from tracer.teach.quiz import Question, Variant


def label(problem: GraphProblem, name: str) -> str:
    """A quantity's symbol (LaTeX): ``dJ/db`` → ``\\frac{\\partial J}{\\partial b}``; a later pass's
    marked with it (``J@end`` → ``J|_end``, ``dJ/db@2`` → ``∂J/∂b|_step 2``)."""
    try:
        target = keys.parse_in_graph(name, problem.names)
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


def _lms_html(info: SetInfo):
    """A graph question's text (Moodle, Canvas): per variant the equations and values, then what is asked."""

    def statement_html(variant: Variant) -> str:
        s = variant.documents["statement_md"]
        equations = "".join(f"<li>\\({html.escape(eq['lhs'] + ' = ' + eq['rhs'])}\\)</li>" for eq in s["equations"])
        leaves = ", ".join(f"\\({html.escape(leaf['name'])} = {leaf['value']}\\)" for leaf in s["leaves"])
        training = ""
        if s["trained"]:
            names = ", ".join(f"\\({html.escape(leaf['name'])}\\)" for leaf in s["leaves"] if leaf["trained"])
            training = (f"<p>Gradient descent on {names}: learning rate \\({s['rate']} = {s['learning_rate']}\\), "
                        f"{s['steps']} step(s); a primed name is the value after the last step.</p>")
        return (
            f"<p><b>{escape_mathjax_html(info.title or DEFAULT_TITLE)}</b> — variant {variant.number}</p>"
            f"<p>The graph:</p><ul>{equations}</ul><p>Given {leaves}; differentiated: \\({html.escape(s['output'])}\\).</p>{training}"
        )

    def ask_html(variant: Variant, question: Question) -> str:
        return moodle_ask_html(label(variant.problem, question.name), question, info.spec.digits)

    return statement_html, ask_html


def moodle(variants: list[Variant], info: SetInfo) -> str:
    """The Moodle XML of a graph quiz: per variant the equations and values, then each question."""
    statement_html, ask_html = _lms_html(info)
    return quiz_xml(
        variants,
        category_root=moodle_category_root(info),
        statement_html=statement_html,
        ask_html=ask_html,
        label=lambda variant, question: question.name,
    )


def canvas(variants: list[Variant], info: SetInfo) -> bytes:
    """The Canvas QTI 1.2 zip of a graph quiz."""
    statement_html, ask_html = _lms_html(info)
    return qti_zip(variants, set_key=f"{info.file}:{info.seed}:{info.count}", title=info.title or DEFAULT_TITLE,
                   statement_html=statement_html, ask_html=ask_html, label=lambda variant, question: question.name,
                   description_html=canvas_description(variants, info), group_title=group_title)
