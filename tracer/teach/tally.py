"""What to re-teach: a class's marks counted per question, verdict and mistake.

A ``wrong`` mark's reason (:mod:`tracer.teach.check`) says which mistake the step is, as
:mod:`tracer.teach.diagnosis` names it, then what the student's own inputs give::

    the activation's derivative ∂a2[1]/∂z2[1] is left out of the chain; its inputs give 0.0652 (…)

:func:`mistake` keeps the first part, the same words for every student who made that
mistake (the numbers a few diagnoses quote — which digit, from which value — left out), so
that :func:`tally` can count them per question: the instructor's "what to re-teach".
It never changes a verdict.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tracer.teach.grade import VERDICTS, Mark, StudentResult  # VERDICTS: the columns of a tally (tracer serve)

#: where the diagnosis ends and the student's own value begins (check.Checker._reason)
_OWN_VALUE = "; its inputs give"
#: the diagnoses that quote numbers of one student's work, by how they start → one name for all
_QUOTING = (
    ("the slip is in this step", "not diagnosed (the slip is in this step)"),
    ("it gives only", "too few significant digits"),
    ("the update starts from", "the update starts from another parameter's value"),
    ("another convention: δ = −∂E/∂net", "another convention: δ = −∂E/∂net"),
    ("it is the value of sample", "the value of another sample"),
    ("the samples are summed where the loss takes their mean", "the samples summed where the loss takes their mean"),
    ("the sample's share of the mean", "the sample's share of the mean"),
    ("divided by the", "divided by n where the loss sums over the samples"),
    ("the decimal point is moved", "the decimal point moved"),
    ("it is off by one unit in the last digit", "off by one unit in the last digit"),
    ("two digits are swapped", "two digits swapped"),
    ("one digit is wrong", "one digit wrong"),
)


def mistake(mark: Mark) -> str:
    """The mistake of a ``wrong`` mark in words that do not depend on the student's numbers ("" otherwise)."""
    if mark.verdict != "wrong":
        return ""
    head = mark.reason.split(_OWN_VALUE, 1)[0].strip()
    for start, name in _QUOTING:
        if head.startswith(start):
            return name
    return head or "not diagnosed (the slip is in this step)"


@dataclass
class QuestionTally:
    question: int
    quantity: str
    verdicts: Counter = field(default_factory=Counter)  # verdict → how many answers
    mistakes: Counter = field(default_factory=Counter)  # a wrong answer's mistake → how many

    def count(self, verdict: str) -> int:
        return self.verdicts[verdict]


def tally(results: list[StudentResult]) -> list[QuestionTally]:
    """Per question (in order): how many answers got each verdict, and each mistake of the wrong ones."""
    out: dict[int, QuestionTally] = {}
    for result in results:
        for m in result.marks:
            row = out.setdefault(m.question, QuestionTally(m.question, m.quantity))
            row.verdicts[m.verdict] += 1
            if m.verdict == "wrong":
                row.mistakes[mistake(m)] += 1
    return [out[q] for q in sorted(out)]


@dataclass(frozen=True)
class Report:
    """What ``tracer grade --report`` shows (Markdown and HTML alike): the verdict columns any answer
    got, and per question its counts and its wrong answers' mistakes, most frequent first."""

    students: int
    verdicts: tuple[str, ...]
    rows: tuple[tuple[int, str, tuple[int, ...], tuple[tuple[str, int], ...]], ...]  # question, quantity, counts, mistakes


def report(results: list[StudentResult]) -> Report:
    tallies = tally(results)
    shown = tuple(v for v in VERDICTS if any(t.count(v) for t in tallies)) or ("right",)
    rows = tuple((t.question, t.quantity, tuple(t.count(v) for v in shown), tuple(t.mistakes.most_common())) for t in tallies)
    return Report(len(results), shown, rows)


def report_md(found: Report, title: str = "") -> str:
    """The instructor's report as Markdown (``report.md``): what to re-teach."""
    lines = [f"# {title or 'Quiz'}: what the class got wrong", "", f"{found.students} students.", "",
             "| # | quantity | " + " | ".join(found.verdicts) + " |", "| --- | --- | " + " | ".join("---" for _ in found.verdicts) + " |"]
    for question, quantity, counts, _ in found.rows:
        lines.append(f"| {question} | `{quantity}` | " + " | ".join(str(c) for c in counts) + " |")
    for question, quantity, counts, mistakes in found.rows:
        if not mistakes:
            continue
        lines += ["", f"## Question {question} (`{quantity}`): {sum(n for _, n in mistakes)} wrong", ""]
        lines += [f"- {count} × {name}" for name, count in mistakes]
    return "\n".join(lines) + "\n"
