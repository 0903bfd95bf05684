"""The one call into the marking of ``tracer grade``, and the exports equal to its files.

:class:`Marking` holds a :class:`tracer.teach.grade.Grader` (the quiz set made again from
its key, each variant solved once) and marks an attempt's latest answers exactly as
``tracer grade`` marks one row of a class's CSV: :meth:`Marking.mark` builds that row and
calls :meth:`Grader.grade`. Nothing of the judging is here. So the exports are
``tracer grade``'s by construction — :meth:`Marking.marks_csv` is
:func:`tracer.teach.grade.marks_csv` of the rows that :meth:`Marking.answers_csv` writes,
and ``tracer grade QUIZDIR answers.csv`` gives the same file (tests/test_serve.py).

A lock serialises the marking: the solutions are written lazily and shared, and the work
is Python's (one core per process whatever the threads).
"""

from __future__ import annotations

import csv
import hashlib
import io
import threading
from pathlib import Path

from tracer.bounds import MAX_TEXT
from tracer.core.solution import Solution
from tracer.files import FileRefused, read_bytes
from tracer.serve.storage import MarkRow
from tracer.spec import SpecError
from tracer.teach.grade import Grader, KeyEntry, Mark, Policy, Row, StudentResult, marks_csv
from tracer.teach.tally import QuestionTally, mistake, tally


class Marking:
    def __init__(self, quizdir: str | Path, problem_file: str | None = None, carried: float = 0.5):
        key_file = Path(quizdir) / "answers.csv"
        try:
            self.digest = hashlib.sha256(read_bytes(key_file, MAX_TEXT)).hexdigest()
        except FileRefused as err:
            raise SpecError(str(key_file), "", f"{err}; make it with tracer quiz … --formats csv") from None
        self.grader = Grader(quizdir, problem_file, Policy(carried=carried))
        self.key = self.grader.key
        self.problem_file = problem_file or self.key.file
        self._lock = threading.Lock()

    @property
    def variants(self) -> int:
        return self.key.variants

    def questions(self, variant: int) -> list[KeyEntry]:
        return self.key.questions(variant)

    def variant(self, number: int):
        """The quiz's variant ``number`` (:class:`tracer.teach.quiz.Variant`: its problem and questions)."""
        return self.grader.variants[number]

    def solution(self, variant: int) -> Solution:
        with self._lock:
            return self.grader.solution(variant)

    def warm(self, variant: int) -> None:
        """The variant's solution and diagnoses made now (a wrong answer of each question marked for
        nobody), so that its first student's first wrong answer waits for neither."""
        self.mark("(warm-up)", variant, {entry.question: "987654321" for entry in self.questions(variant)})

    def mark(self, student: str, variant: int, answers: dict[int, str]) -> StudentResult:
        """``tracer grade``'s marking of one row: ``student``, ``variant``, the answers by question."""
        with self._lock:
            return self.grader.grade(Row(student, variant, dict(answers), 0))

    def rows(self, result: StudentResult) -> list[MarkRow]:
        """A marking as the database keeps it (one row per question answered or blank)."""
        return [MarkRow(m.question, m.given, m.verdict, m.credit, m.reason, m.culprit, mistake(m)) for m in result.marks]

    def mark_rows(self, student: str, variant: int, answers: dict[int, str]) -> list[MarkRow]:
        return self.rows(self.mark(student, variant, answers))

    # -- the exports: tracer grade's files ----------------------------------------------------
    def results(self, rows: list[tuple[str, int, dict[int, str]]]) -> list[StudentResult]:
        return [self.mark(student, variant, answers) for student, variant, answers in rows]

    def marks_csv(self, rows: list[tuple[str, int, dict[int, str]]]) -> str:
        """``marks.csv`` as ``tracer grade QUIZDIR`` writes it for :meth:`answers_csv` of the same rows."""
        return marks_csv(self.results(rows))

    def answers_csv(self, rows: list[tuple[str, int, dict[int, str]]]) -> str:
        """The class's answers as ``tracer grade`` reads them: id, variant, q1, q2, …"""
        questions = max((len(self.questions(v)) for _, v, _ in rows), default=len(self.questions(1)))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "variant"] + [f"q{k}" for k in range(1, questions + 1)])
        for student, variant, answers in rows:
            writer.writerow([student, variant] + [answers.get(k, "") for k in range(1, questions + 1)])
        return out.getvalue()

    # -- what is stored, read back -------------------------------------------------------
    def stored(self, student: str, variant: int, marks: dict[int, MarkRow]) -> StudentResult:
        """A stored marking as the result it was made from (a question not marked yet: blank)."""
        result = StudentResult(student, variant)
        for entry in self.questions(variant):
            m = marks.get(entry.question)
            if m is None:
                result.marks.append(Mark(entry.question, entry.quantity, "", "blank", 0.0, entry.answer, "no answer"))
            else:
                result.marks.append(Mark(entry.question, entry.quantity, m.answer, m.verdict, m.credit, entry.answer, m.reason, m.culprit))
        return result

    def tally(self, results: list[StudentResult]) -> list[QuestionTally]:
        """Per question, how many answers got each verdict and each mistake (:mod:`tracer.teach.tally`)."""
        return tally(results)
