"""The text of an LMS question (Moodle XML, Canvas QTI): the variant's statement, then what is asked.

The same HTML for both: formulas in MathJax's ``\\( … \\)`` (both typeset it), text from the
problem file escaped. A network variant's statement is its layers, parameters and samples
(:func:`tracer.render.quiz.variant_statement`'s view), a graph variant's its equations and its
leaves' drawn values (:func:`tracer.render.graph_quiz.statement`'s, made in the worker). Nothing
here computes: the numbers arrive formatted.
"""

from __future__ import annotations

import html
from typing import Callable

from tracer.render.document import environment
from tracer.render.quiz import DEFAULT_TITLE, SetInfo, quantity_label, variant_statement
from tracer.render.graph_quiz import label as graph_label
from tracer.render.user_text import escape_mathjax_html
from tracer.teach.quiz import Question, Variant

#: (statement_html(variant), ask_html(variant, question)): what :func:`tracer.export.moodle.quiz_xml`
#: and :func:`tracer.export.qti.qti_zip` put into each question
Texts = tuple[Callable[[Variant], str], Callable[[Variant, Question], str]]


def network_texts(info: SetInfo) -> Texts:
    """A network question's text: the variant's statement, then what is asked."""
    env = environment("html")

    def statement_html(variant: Variant) -> str:
        template = env.from_string(_STATEMENT_HTML)
        return template.render(s=variant_statement(variant, "md"), title=escape_mathjax_html(info.title or DEFAULT_TITLE), number=variant.number, esc=html.escape)

    def ask(variant: Variant, question) -> str:
        return ask_html(quantity_label(variant.problem, question.name), question, info.spec.digits)

    return statement_html, ask


def graph_texts(info: SetInfo) -> Texts:
    """A graph question's text: per variant the equations and values, then what is asked."""

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

    def ask(variant: Variant, question: Question) -> str:
        return ask_html(graph_label(variant.problem, question.name), question, info.spec.digits)

    return statement_html, ask


def ask_html(label: str, question, digits: int) -> str:
    """What a question asks, in HTML: the quantity, the digits to carry, what is accepted."""
    accepted = f" Answers within ±{question.tolerance} are accepted." if question.kind == "numerical" else ""
    return (
        f"<p>Compute \\({html.escape(label)}\\) (<code>{html.escape(question.name)}</code>) to {digits} significant "
        f"digits, carrying every intermediate to at least {digits} significant digits.{accepted}</p>"
    )


_STATEMENT_HTML = """<p><b>{{ title }}</b> — variant {{ number }}</p>
{% for m in s.matrices %}<p>\\[ {{ esc(m.name) }} = {{ esc(m.symbols) }} = {{ esc(m.numbers) }} \\] (trained: {{ m.trained }})</p>
{% endfor %}{% if s.parameters %}<table border="1"><tr><th>parameter</th><th>value</th><th>trained</th></tr>
{% for row in s.parameters %}<tr><td>\\({{ esc(row.name) }}\\)</td><td>{{ row.value }}</td><td>{{ "yes" if row.trained else "no" }}</td></tr>
{% endfor %}</table>{% endif %}
<table border="1"><tr><th>sample</th><th>inputs</th><th>targets</th></tr>
{% for x in s.samples %}<tr><td>{{ x.number }}</td><td>{{ x.x | join(", ") }}</td><td>{{ x.y | join(", ") }}</td></tr>
{% endfor %}</table>
<p>Layers: {% for l in s.layers %}{{ l.described }}{% if not loop.last %}; {% endif %}{% endfor %}; loss {{ s.loss_kind }} ({{ s.loss_detail }}); learning rate \\({{ s.rate }} = {{ s.learning_rate }}\\); {{ s.steps }} {{ s.order }} {{ s.update_rule }} step(s).</p>
"""
