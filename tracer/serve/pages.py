"""The pages of ``tracer serve``, from the templates and style sheet of ``-f html``.

A student's page shows their variant's statement as ``questions.html`` does (the same
macro, the network drawn inline, MathML), one field per question, each answer's verdict
in words, and in practice the worked solution's steps one at a time. The instructor's page
shows the class, what to re-teach, the exports and each variant's worked solution (the
``-f html`` page). The views are built here; the templates (``templates/serve_*.html.j2``)
only place them, and the page environment escapes every string they write.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup

from tracer.keys import Key, NameError_
from tracer.core.solution import LookupError_
from tracer.render.document import DocumentBuilder, environment, equation_mathml, printer_for, render
from tracer.render.quiz import KEY_DIGITS, LETTERS, variant_page
from tracer.serve.marking import Marking
from tracer.teach.grade import KeyEntry, Mark, StudentResult
from tracer.teach.tally import VERDICTS, QuestionTally

#: a variant's statement, as questions.html shows it (the macro of the question sheet)
_STATEMENT = '{% from "_quiz_statement.html.j2" import statement %}{{ statement(v) }}'
#: what each verdict is called on a page, beside its mark (never colour alone)
BADGES = {"right": "✓ right", "habit": "✓ accepted", "carried": "→ carried", "digits": "≈ too few digits", "wrong": "✗ wrong", "invalid": "✗ not a number", "blank": ""}


def verdict_text(mark: Mark, given: dict[str, tuple[int, str]]) -> str:
    """Why a verdict (beside its badge): the tolerance it is within, which of the student's answers
    it is carried from, which mistake it is. ``given``: each quantity's question and answer."""
    if mark.verdict == "right":
        return f"{mark.reason[:1].upper()}{mark.reason[1:]}." if mark.reason else ""
    if mark.verdict == "habit":
        return "The true value truncated instead of rounded: round the last digit."
    if mark.verdict == "carried":
        question, answer = given.get(mark.culprit or "", (0, ""))
        where = f"your answer to question {question} ({answer})" if question else f"your {mark.culprit}"
        return (f"Wrong only because of {where}, which is wrong: worked from your own numbers, this step is right "
                "(the error is carried forward).")
    if mark.verdict in ("wrong", "invalid", "digits"):
        return f"{mark.reason[:1].upper()}{mark.reason[1:]}."
    return ""


@dataclass
class QuestionView:
    number: int
    name: str  # the quantity's canonical name
    label: str  # its symbol, LaTeX
    label_html: Markup  # and as MathML
    options: list[dict]
    given: str = ""
    verdict: str = "blank"
    badge: str = ""
    message: str = ""
    credit: float = 0.0
    hints_shown: int = 0
    hints_total: int = 0
    hints: list[Markup] = field(default_factory=list)


def marks_json(result: StudentResult) -> dict:
    """What the page's script shows after an answer: every question's verdict (a later one may be
    carried from this one), in words."""
    given = {m.quantity: (m.question, m.given) for m in result.marks}
    return {
        "marks": [{"question": m.question, "verdict": m.verdict, "badge": BADGES[m.verdict], "message": verdict_text(m, given),
                   "given": m.given} for m in result.marks],
        "total": _credit(result.total),
        "out_of": result.out_of,
    }


def _credit(value: float) -> str:
    return f"{value:g}"


def _when(at: datetime | None) -> str:
    return at.strftime("%d %b %H:%M:%S") if at is not None else ""


class Pages:
    """The pages of one quiz; each variant's figure, steps and worked solution made once."""

    def __init__(self, marking: Marking, title: str, digits: int):
        self.marking = marking
        self.title = title or "Backpropagation"
        self.digits = digits
        self.env = environment("page")
        self._variants: dict[int, dict] = {}
        self._steps: dict[tuple[int, int], list[Markup]] = {}
        self._needed_steps: dict[tuple[int, int], list] = {}
        self._solutions: dict[int, str] = {}
        self._lock = threading.Lock()

    # -- what is made once per variant ---------------------------------------------------------
    def variant(self, number: int) -> dict:
        """The variant's view (render.quiz.variant_page), with its statement and the questions' symbols
        rendered once: the same HTML for every student of the variant."""
        with self._lock:
            found = self._variants.get(number)
        if found is not None:
            return found
        page = variant_page(self.marking.variant(number), self.marking.solution(number))
        page["statement_html"] = Markup(self.env.from_string(_STATEMENT).render(v=page))
        page["labels_html"] = [self.env.filters["math"](label) for label in page["labels"]]
        with self._lock:
            return self._variants.setdefault(number, page)

    def warm(self, number: int) -> None:
        """A variant's page and its questions' steps made now, not when its first student arrives."""
        self.variant(number)
        for question in range(1, len(self.marking.questions(number)) + 1):
            self.needed(number, question)

    def needed(self, variant: int, question: int) -> list:
        """The worked solution's steps that question needs beyond those the questions before it
        need (all of them when it needs no other), in the solution's order: what "show the next
        step" reveals, one at a time."""
        with self._lock:
            found = self._needed_steps.get((variant, question))
        if found is not None:
            return found
        solution = self.marking.solution(variant)
        entries = self.marking.questions(variant)
        needed = self._needed(solution, entries[question - 1].quantity)
        earlier: set[Key] = set()
        for other in entries[: question - 1]:
            earlier.update(step.id for step in self._needed(solution, other.quantity))
        found = [step for step in needed if step.id not in earlier] or needed
        with self._lock:
            return self._needed_steps.setdefault((variant, question), found)

    def steps(self, variant: int, question: int) -> list[Markup]:
        """:meth:`needed`, each step an equation of the page (as ``tracer ask`` shows them), made when
        a student first asks for one."""
        with self._lock:
            found = self._steps.get((variant, question))
        if found is not None:
            return found
        solution = self.marking.solution(variant)
        builder = DocumentBuilder(solution, printer_for(solution.problem, "latex", None, KEY_DIGITS))
        equations = [builder.equation(step) for step in self.needed(variant, question)]
        mathml = equation_mathml(equations, lambda: {})
        macro = self.env.get_template("_equation.html.j2").module.equation  # type: ignore[attr-defined]
        found = [Markup(macro(eq, mathml, f"q{question}-")) for eq in equations]
        with self._lock:
            return self._steps.setdefault((variant, question), found)

    @staticmethod
    def _needed(solution, quantity: str) -> list:
        try:
            return solution.dependencies(solution.step(quantity))
        except (NameError_, LookupError_):  # a given number has no steps: nothing to reveal
            return []

    def worked_solution(self, variant: int) -> str:
        """The variant's whole worked solution, the ``-f html`` page (the instructor's)."""
        with self._lock:
            if variant not in self._solutions:
                self._solutions[variant] = render(self.marking.solution(variant), "html", digits=max(self.digits, KEY_DIGITS))
            return self._solutions[variant]

    # -- the student's page --------------------------------------------------------------------
    def questions(self, variant: int, result: StudentResult | None, hints: dict[int, int], show_hints: bool) -> list[QuestionView]:
        page = self.variant(variant)
        entries: list[KeyEntry] = self.marking.questions(variant)
        marks = {m.question: m for m in result.marks} if result is not None else {}
        given = {m.quantity: (m.question, m.given) for m in marks.values()}
        out = []
        for entry, label, label_html in zip(entries, page["labels"], page["labels_html"]):
            options = [{"letter": letter, "text": entry.options[letter]} for letter in LETTERS if letter in entry.options]
            view = QuestionView(entry.question, entry.quantity, label, label_html, options)
            m = marks.get(entry.question)
            if m is not None:
                view.given, view.verdict, view.badge, view.credit = m.given, m.verdict, BADGES[m.verdict], m.credit
                view.message = verdict_text(m, given)
            if show_hints:
                view.hints_total = len(self.needed(variant, entry.question))
                view.hints_shown = min(hints.get(entry.question, 0), view.hints_total)
                view.hints = self.steps(variant, entry.question)[: view.hints_shown] if view.hints_shown else []
            out.append(view)
        return out

    def student(self, **context) -> str:
        return self.env.get_template("serve_student.html.j2").render(title=self.title, digits=self.digits, **context)

    def start(self, **context) -> str:
        return self.env.get_template("serve_start.html.j2").render(title=self.title, **context)

    # -- the instructor's page -----------------------------------------------------------------
    def class_rows(self, rows: list[tuple[str, str, int, int, StudentResult, datetime | None, int]]) -> list[dict]:
        """The class table's rows: (who, name, attempt, variant, result, last answer, steps shown)."""
        out = []
        for who, name, attempt, variant, result, last, hints in rows:
            out.append({
                "who": who, "name": name, "attempt": attempt, "variant": variant,
                "marks": [{"verdict": m.verdict, "badge": BADGES[m.verdict] or "—", "given": m.given} for m in result.marks],
                "total": _credit(result.total), "out_of": result.out_of, "last": _when(last), "hints": hints,
            })
        return out

    def tally_view(self, tallies: list[QuestionTally]) -> list[dict]:
        return [{"question": t.question, "quantity": t.quantity, "counts": [(v, t.count(v)) for v in VERDICTS],
                 "mistakes": t.mistakes.most_common()} for t in tallies]

    def instructor(self, **context) -> str:
        return self.env.get_template("serve_instructor.html.j2").render(title=self.title, verdicts=VERDICTS, **context)

    def class_table(self, **context) -> str:
        return self.env.get_template("_serve_class.html.j2").render(verdicts=VERDICTS, **context)

    def error(self, status: int, message: str) -> str:
        return self.env.get_template("serve_error.html.j2").render(status=status, message=message)


__all__ = ["BADGES", "Pages", "QuestionView", "marks_json", "verdict_text"]
