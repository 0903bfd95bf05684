"""The documents of a quiz: question sheet, solution key (Markdown, LaTeX, HTML), CSV answer key
(the Moodle XML and Canvas QTI files are :mod:`tracer.export`'s, from these fragments). Numbers
reach the templates already formatted (by :mod:`tracer.numbers`'s ``fmt`` through a
:class:`~tracer.render.step_printer.Printer`, or as the variant's answer strings); text from the
problem file is escaped for the target format.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Callable

from markupsafe import Markup

from tracer import notation
from tracer.keys import NameError_
from tracer.spec import Problem
from tracer.render import i18n
from tracer.render.step_printer import decimal_comma, escape_markdown, escape_tex
from tracer.teach.mistakes import MISTAKES
from tracer import keys
from tracer.teach.quiz import QuizSpec, Variant, decimal_text
from tracer.teach.rounding import round_up
from tracer.render import network
from tracer.render.document import diagram_view, environment, optimizer_view, printer_for, render, schedule_view, statement_view

LETTERS = "abcdefgh"
#: significant digits of the worked solutions in the key
KEY_DIGITS = 6
#: a set's title when the problem file has none (never the file's name: students see the title)
DEFAULT_TITLE = "Backpropagation"


@dataclass(frozen=True)
class SetInfo:
    file: str
    seed: int
    count: int
    spec: QuizSpec
    title: str
    language: str = "en"  # the sheets' fixed words and decimal sign (tracer.render.i18n); the LMS files' numbers keep their point

    @property
    def command(self) -> str:
        return f"tracer quiz {self.file} --count {self.count} --seed {self.seed}"


def quantity_label(problem: Problem, name: str, dialect: str = "latex") -> str:
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
    if "html" in formats:  # the worked solution as the web page's content, its ids apart from the other variants'
        variant.documents["html"] = render(solution, "html", digits=max(digits, KEY_DIGITS), anchor=variant_anchor(variant))
    variant.documents["labels_tex"] = [quantity_label(solution.problem, q.name) for q in variant.questions]  # type: ignore[assignment]
    variant.documents["statement_md"] = variant_statement(variant, "md")
    variant.documents["statement_tex"] = variant_statement(variant, "tex")
    variant.documents["statement_html"] = variant_statement(variant, "html")
    # the network as the worked solutions draw it (the same view: TikZ in the tex, the web page's SVG in md and html)
    diagram = diagram_view(solution, printer_for(solution.problem, "latex", None, 9))
    variant.documents["diagram"] = diagram
    if diagram is not None:
        variant.documents["diagram_svg"] = '<?xml version="1.0" encoding="UTF-8"?>\n' + str(network.svg(diagram, standalone=True)) + "\n"
    variant.documents["schedule"] = schedule_view(solution, printer_for(solution.problem, "latex", None, 9))
    variant.solution = None  # the key is rendered; do not ship the solution back


def variant_page(variant: Variant, solution) -> dict:
    """One variant as a web page shows it (``tracer serve``'s student page): the statement of
    ``questions.html`` (its view and network figure, ids apart from other variants') and each
    question's symbol in LaTeX."""
    diagram = diagram_view(solution, printer_for(solution.problem, "latex", None, 9))
    return {
        "number": variant.number,
        "statement": variant_statement(variant, "html"),
        "diagram_svg": network.svg(diagram, id_prefix=f"v{variant.number}network") if diagram is not None else "",
        "labels": [quantity_label(variant.problem, q.name) for q in variant.questions],
    }


def variant_anchor(variant: Variant) -> str:
    """The start of every id of a variant's worked solution in the html key: ``v3-`` (``#v3-eq-12``)."""
    return f"v{variant.number}-"


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
    """A solution document inside the key: without its front matter (the key has the page's), its
    headings one level (two #) lower."""
    md = re.sub(r"\A---\n.*?\n---\n\n?", "", md, count=1, flags=re.S)
    return re.sub(r"^(#{1,4}) ", lambda m: "##" + m.group(1) + " ", md, flags=re.M)


def _tex_parts(tex: str) -> tuple[str, str]:
    head, sep, rest = tex.partition(r"\begin{document}")
    body, sep2, _ = rest.partition(r"\end{document}")
    if not sep or not sep2:
        return "", ""
    preamble = "\n".join(line for line in head.splitlines() if not line.startswith((r"\title", r"\author", r"\date", r"\documentclass")))
    body = body.replace(r"\maketitle", "")
    return body, preamble


def variant_statement(variant: Variant, fmt_: str) -> dict:
    language = getattr(variant.problem, "language", "en")
    printer = printer_for(variant.problem, "latex", None, 9, language)
    escape = {"tex": escape_tex, "md": escape_markdown}.get(fmt_, lambda text: text)  # html: the page environment escapes
    view = statement_view(variant.problem, printer, escape, language, fmt_)
    view["learning_rate"] = printer.number(variant.problem.training.learning_rate)
    view["rate"] = printer.names.rate
    view["matrices"], view["parameters"] = parameter_blocks(variant.problem, printer)
    return view


#: a layer's weights are shown as a matrix when it has more entries than this
MATRIX_ENTRIES = 4


def parameter_blocks(problem: Problem, printer) -> tuple[list[dict], list[dict]]:
    """A dense layer's weights with more than :data:`MATRIX_ENTRIES` entries as a matrix (its
    entries' names beside their values: shorter than a row per weight); every other
    parameter as a row of the table (name, value, trained)."""
    params = problem.parameters()
    trained = set(problem.trained_keys)
    as_matrix: set = set()
    matrices = []
    if not problem.layered:
        for l, layer in enumerate(problem.layers, 1):
            if layer.units * layer.inputs <= MATRIX_ENTRIES:
                continue
            grid = [[keys.W(l, j, i) for i in range(1, layer.inputs + 1)] for j in range(1, layer.units + 1)]
            as_matrix.update(k for row in grid for k in row)
            flags = {k in trained for row in grid for k in row}
            matrices.append({
                "name": printer.names.block(keys.Block("W", l)).latex(),
                "symbols": _pmatrix([[printer.target(k) for k in row] for row in grid]),
                # not "values": a template's m.values is the dict's method (it printed <built-in method values …>)
                "numbers": _pmatrix([[printer.number(params[k]) for k in row] for row in grid]),
                "trained": "yes" if flags == {True} else "no" if flags == {False} else "partly",
            })
    rows = [{"name": printer.target(k), "value": printer.number(v), "trained": k in trained} for k, v in params.items() if k not in as_matrix]
    return matrices, rows


def _pmatrix(cells: list[list[str]]) -> str:
    return r"\begin{pmatrix}" + r" \\ ".join(" & ".join(row) for row in cells) + r"\end{pmatrix}"


def _question_views(variant: Variant, info: SetInfo, fmt_: str = "md") -> list[dict]:
    esc = escape_tex if fmt_ == "tex" else (lambda text: text)
    labels = variant.documents.get("labels_tex") or [quantity_label(variant.problem, q.name) for q in variant.questions]
    comma = i18n.decimal_comma(info.language)

    def number(text: str) -> str:  # German and Spanish sheets: 0,1648 (the LMS files keep the point their importers read)
        return decimal_comma(text, "latex" if fmt_ == "tex" else "text") if comma else text

    out = []
    for k, (q, label) in enumerate(zip(variant.questions, labels), start=1):
        out.append(
            {
                "number": k,
                "name": esc(q.name),
                "label": label,
                "answer": number(q.answer),
                "tolerance": number(q.tolerance),
                "kind": q.kind,
                # where the tolerance comes from (the key says it): the spread of the rounded
                # hand calculations, the first-order bound, one unit of the answer's digit
                "spread": decimal_text(round_up(q.allowance.spread)) if q.allowance else "",
                "bound": decimal_text(round_up(q.allowance.bound)) if q.allowance and q.allowance.bound is not None else "",
                "final": decimal_text(q.allowance.final) if q.allowance else q.tolerance,
                "options": [
                    {
                        "letter": LETTERS[i],
                        "text": number(o.text),
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
        "statement": variant.documents.get(f"statement_{fmt_}") or variant_statement(variant, fmt_),
        "questions": _question_views(variant, info, fmt_),
        "solution_md": variant.documents.get("md", ""),
        "solution_tex": variant.documents.get("tex_body", ""),
        "solution_html": Markup(variant.documents.get("html", "")),  # rendered by the page environment, escaped there
        "anchor": variant_anchor(variant),
        "diagram": variant.documents.get("diagram"),
        # md: the network's SVG in a file beside the sheet (GitHub shows no inline <svg>; pandoc and GitHub show an image)
        "diagram_file": figure_name(variant) if variant.documents.get("diagram_svg") else "",
    }


def figure_name(variant: Variant) -> str:
    """The file, beside the Markdown sheet, of a variant's network figure."""
    return f"network-{variant.number}.svg"


def figures(variants: list[Variant]) -> dict[str, str]:
    """The Markdown sheet's figures: file name → SVG text, one per variant that has a diagram."""
    return {figure_name(v): v.documents["diagram_svg"] for v in variants if v.documents.get("diagram_svg")}


def _context(variants: list[Variant], info: SetInfo, fmt_: str) -> dict:
    esc = {"tex": escape_tex, "md": escape_markdown}.get(fmt_, lambda text: text)  # html: the page environment escapes
    return {
        "title": esc(info.title or DEFAULT_TITLE),
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
        "schedule": _schedule(variants, fmt_),
    }


def _schedule(variants: list[Variant], fmt_: str) -> dict | None:
    """The set's learning-rate schedule (every variant has the problem's), as the solutions state it."""
    view = variants[0].documents.get("schedule") if variants else None
    if view is not None and fmt_ == "tex":
        view = {**view, "title": escape_tex(view["title"])}
    return view


def _optimizer(variants: list[Variant]) -> dict | None:
    problem = variants[0].problem if variants else None
    if not isinstance(problem, Problem):
        return None
    return optimizer_view(problem, printer_for(problem, "latex", None, 9))


def _html_context(variants: list[Variant], info: SetInfo) -> dict:
    """The web page's context: the network of each variant drawn inline (its ids apart from the others')."""
    context = _context(variants, info, "html")
    for view in context["variants"]:
        diagram = view["diagram"]
        view["diagram_svg"] = network.svg(diagram, id_prefix=f"v{view['number']}network") if diagram is not None else ""
    return context


def sheet(variants: list[Variant], info: SetInfo, fmt_: str) -> str:
    if fmt_ == "html":
        return environment("page", info.language).get_template("quiz_sheet.html.j2").render(**_html_context(variants, info))
    ext = "md" if fmt_ == "md" else "tex"
    return environment(ext, info.language).get_template(f"quiz_sheet.{ext}.j2").render(**_context(variants, info, fmt_))


def key(variants: list[Variant], info: SetInfo, fmt_: str) -> str:
    if fmt_ == "html":
        return environment("page").get_template("quiz_key.html.j2").render(**_html_context(variants, info))
    ext = "md" if fmt_ == "md" else "tex"
    return environment(ext).get_template(f"quiz_key.{ext}.j2").render(**_context(variants, info, fmt_))


def answers_key(variants: list[Variant], info: SetInfo, fmt_: str) -> str:
    """The answers-only key: per variant each question's answer, tolerance and right option."""
    ext = "md" if fmt_ == "md" else "tex"
    return environment(ext).get_template(f"quiz_answers.{ext}.j2").render(**_context(variants, info, fmt_))


def answers_csv(variants: list[Variant], info: SetInfo) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "seed", "variant", "question", "quantity", "canonical", "kind", "answer", "tolerance", "value", "choice", "options"])
    for v in variants:
        for k, q in enumerate(v.questions, start=1):
            options = " ".join(f"{LETTERS[i]}={o.text}" for i, o in enumerate(q.options))
            writer.writerow([info.file, info.seed, v.number, k, q.name, q.canonical, q.kind, q.answer, q.tolerance, repr(q.value), LETTERS[q.correct] if q.options else "", options])
    return out.getvalue()
