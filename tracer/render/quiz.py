"""The documents of a quiz: question sheet, solution key (Markdown, LaTeX), CSV answer key,
Moodle XML. Numbers reach the templates already formatted (by :mod:`tracer.latex`'s
``fmt`` through a :class:`~tracer.latex.Printer`, or as the variant's answer strings);
text from the problem file is escaped for the target format.
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tracer import notation
from tracer.core.keys import NameError_
from tracer.spec import Problem
from tracer.export.moodle import quiz_xml
from tracer.render.printing import escape_markdown, escape_tex
from tracer.teach.mistakes import MISTAKES
from tracer.teach.quiz import QuizSpec, Variant
from tracer.render.document import environment, optimizer_view, printer_for, render, statement_view

LETTERS = "abcdefgh"
#: significant digits of the worked solutions in the key
KEY_DIGITS = 6


@dataclass(frozen=True)
class SetInfo:
    file: str
    seed: int
    count: int
    spec: QuizSpec
    title: str

    @property
    def command(self) -> str:
        return f"tracer quiz {self.file} --count {self.count} --seed {self.seed}"


def _label(problem: Problem, name: str, dialect: str = "latex") -> str:
    """A quantity's symbol in the problem's own notation (LaTeX)."""
    printer = printer_for(problem, dialect, None, 9)
    try:
        target = notation.parse_name(name, problem)
    except NameError_:
        return name
    return printer.target(target)


def finish_variant(variant: Variant, digits: int, formats: tuple[str, ...] = ("md", "tex")) -> None:
    """Runs in the worker: the variant's worked solution in md and/or tex (for the key)."""
    solution = variant.solution
    if "md" in formats:
        variant.documents["md"] = _demote_markdown(render(solution, "md", digits=max(digits, KEY_DIGITS)))
    if "tex" in formats:
        tex = render(solution, "tex", digits=max(digits, KEY_DIGITS))
        variant.documents["tex_body"], variant.documents["tex_preamble"] = _tex_parts(tex)
    variant.documents["labels_tex"] = [_label(solution.problem, q.name) for q in variant.questions]  # type: ignore[assignment]
    variant.documents["statement_md"] = _statement(variant, "md")
    variant.documents["statement_tex"] = _statement(variant, "tex")
    variant.solution = None  # the key is rendered; do not ship the solution back


class Finisher:
    """A picklable ``finish`` for :func:`tracer.quiz.generate`: ``finish`` renders one variant
    (a network's :func:`finish_variant`, or a graph's, :func:`tracer.render.graph_quiz.finish_variant`)."""

    def __init__(self, digits: int, formats: tuple[str, ...] = ("md", "tex"), finish: Callable | None = None):
        self.digits = digits
        self.formats = formats
        self.finish = finish or finish_variant

    def __call__(self, variant: Variant) -> None:
        self.finish(variant, self.digits, self.formats)


def _demote_markdown(md: str) -> str:
    """A solution document inside the key: its headings one level (two #) lower."""
    return re.sub(r"^(#{1,4}) ", lambda m: "##" + m.group(1) + " ", md, flags=re.M)


def _tex_parts(tex: str) -> tuple[str, str]:
    head, sep, rest = tex.partition(r"\begin{document}")
    body, sep2, _ = rest.partition(r"\end{document}")
    if not sep or not sep2:
        return "", ""
    preamble = "\n".join(line for line in head.splitlines() if not line.startswith((r"\title", r"\author", r"\date", r"\documentclass")))
    body = body.replace(r"\maketitle", "")
    return body, preamble


def _statement(variant: Variant, fmt_: str) -> dict:
    printer = printer_for(variant.problem, "latex", None, 9)
    view = statement_view(variant.problem, printer, escape_tex if fmt_ == "tex" else escape_markdown)
    view["learning_rate"] = printer.number(variant.problem.training.learning_rate)
    view["rate"] = printer.names.rate
    return view


def _question_views(variant: Variant, info: SetInfo, fmt_: str = "md") -> list[dict]:
    esc = escape_tex if fmt_ == "tex" else (lambda text: text)
    labels = variant.documents.get("labels_tex") or [_label(variant.problem, q.name) for q in variant.questions]
    out = []
    for k, (q, label) in enumerate(zip(variant.questions, labels), start=1):
        out.append(
            {
                "number": k,
                "name": esc(q.name),
                "label": label,
                "answer": q.answer,
                "tolerance": q.tolerance,
                "options": [
                    {
                        "letter": LETTERS[i],
                        "text": o.text,
                        "right": o.mistake is None,
                        "mistake": o.mistake or "",
                        "explanation": esc(o.explanation),
                    }
                    for i, o in enumerate(q.options)
                ],
                "correct": LETTERS[q.correct] if q.options else "",
            }
        )
    return out


def _variant_view(variant: Variant, info: SetInfo, fmt_: str) -> dict:
    return {
        "number": variant.number,
        "statement": variant.documents.get(f"statement_{fmt_}") or _statement(variant, fmt_),
        "questions": _question_views(variant, info, fmt_),
        "solution_md": variant.documents.get("md", ""),
        "solution_tex": variant.documents.get("tex_body", ""),
    }


def _context(variants: list[Variant], info: SetInfo, fmt_: str) -> dict:
    esc = escape_tex if fmt_ == "tex" else escape_markdown
    return {
        "title": esc(info.title or "Backpropagation"),
        "file": esc(info.file),
        "seed": info.seed,
        "count": info.count,
        "digits": info.spec.digits,
        "command": esc(info.command),
        "variants": [_variant_view(v, info, fmt_) for v in variants],
        "preamble": next((v.documents.get("tex_preamble", "") for v in variants if v.documents.get("tex_preamble")), ""),
        "mistakes": [{"key": m.key, "explanation": m.explanation} for m in MISTAKES.values()],
        # the set's optimizer (every variant has the problem's): its equations, as the solutions state them
        "optimizer": _optimizer(variants),
    }


def _optimizer(variants: list[Variant]) -> dict | None:
    problem = variants[0].problem if variants else None
    if not isinstance(problem, Problem):
        return None
    return optimizer_view(problem, printer_for(problem, "latex", None, 9))


def sheet(variants: list[Variant], info: SetInfo, fmt_: str) -> str:
    ext = "md" if fmt_ == "md" else "tex"
    return environment(ext).get_template(f"quiz_sheet.{ext}.j2").render(**_context(variants, info, fmt_))


def key(variants: list[Variant], info: SetInfo, fmt_: str) -> str:
    ext = "md" if fmt_ == "md" else "tex"
    return environment(ext).get_template(f"quiz_key.{ext}.j2").render(**_context(variants, info, fmt_))


def answers_csv(variants: list[Variant], info: SetInfo) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "seed", "variant", "question", "quantity", "canonical", "answer", "tolerance", "value", "choice", "options"])
    for v in variants:
        for k, q in enumerate(v.questions, start=1):
            options = " ".join(f"{LETTERS[i]}={o.text}" for i, o in enumerate(q.options))
            writer.writerow([info.file, info.seed, v.number, k, q.name, q.canonical, q.answer, q.tolerance, repr(q.value), LETTERS[q.correct] if q.options else "", options])
    return out.getvalue()


def moodle(variants: list[Variant], info: SetInfo) -> str:
    env = environment("html")

    def statement_html(variant: Variant) -> str:
        template = env.from_string(_STATEMENT_HTML)
        return template.render(s=_statement(variant, "md"), title=html.escape(info.title), file=html.escape(info.file), seed=info.seed, number=variant.number, esc=html.escape)

    def ask_html(variant: Variant, question) -> str:
        label = _label(variant.problem, question.name)
        return (
            f"<p>Compute \\({html.escape(label)}\\) (<code>{html.escape(question.name)}</code>) "
            f"to {info.spec.digits} significant digits.</p>"
        )

    def label(variant: Variant, question) -> str:
        return question.name

    stem = Path(info.file).stem
    return quiz_xml(
        variants,
        category_path=f"$course$/top/backprop-tracer/{stem} seed {info.seed}",
        statement_html=statement_html,
        ask_html=ask_html,
        label=label,
    )


_STATEMENT_HTML = """<p><b>{{ title }}</b> — variant {{ number }} (file {{ file }}, seed {{ seed }})</p>
<table border="1"><tr><th>parameter</th><th>value</th><th>trained</th></tr>
{% for row in s.parameters %}<tr><td>\\({{ esc(row.name) }}\\)</td><td>{{ row.value }}</td><td>{{ "yes" if row.trained else "no" }}</td></tr>
{% endfor %}</table>
<table border="1"><tr><th>sample</th><th>inputs</th><th>targets</th></tr>
{% for x in s.samples %}<tr><td>{{ x.number }}</td><td>{{ x.x | join(", ") }}</td><td>{{ x.y | join(", ") }}</td></tr>
{% endfor %}</table>
<p>Layers: {% for l in s.layers %}{{ l.described }}{% if not loop.last %}; {% endif %}{% endfor %}; loss {{ s.loss_kind }} ({{ s.loss_detail }}); learning rate \\({{ s.rate }} = {{ s.learning_rate }}\\); {{ s.steps }} {{ s.order }} {{ s.update_rule }} step(s).</p>
"""
