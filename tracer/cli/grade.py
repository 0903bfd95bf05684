"""``tracer grade``: argument parsing, files, exit codes, nothing else."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import click

from tracer.cli.common import on_error, refuse_overwriting_inputs, write_file
from tracer.render.document import environment
from tracer.spec import SpecError
from tracer.teach.grade import VERDICTS, Policy, feedback_md, marks_csv
from tracer.teach.grade import grade as run_grade
from tracer.teach.tally import report as class_report
from tracer.teach.tally import report_md


def feedback_names(students: list[str]) -> list[str]:
    """One file name per student, ``ID.md`` made safe (letters, digits, ``._-``), and distinct:
    ``a b`` and ``a_b`` would both be ``a_b.md``, so the second is ``a_b-2.md`` (no page replaces another)."""
    taken: set[str] = set()
    out = []
    for student in students:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", student).strip("._")[:100] or "student"
        name, n = stem, 1
        while name.lower() in taken:  # case-insensitive: a and A are one file on macOS and Windows
            n += 1
            name = f"{stem}-{n}"
        taken.add(name.lower())
        out.append(f"{name}.md")
    return out


@click.command()
@click.argument("quizdir", type=click.Path(file_okay=False))
@click.argument("answers", type=click.Path(dir_okay=False))
@click.option("--problem", "problem_file", type=click.Path(dir_okay=False), default=None,
              help="The quiz's problem file, when it is not where the key says (answers.csv's file column).")
@click.option("--carried", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Credit for an answer that is wrong only because of the student's own earlier wrong answer.")
@click.option("--digits-credit", "digits_credit", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Credit for an answer that would be accepted but has fewer significant digits than the sheet asks.")
@click.option("--report", is_flag=True, default=False,
              help="Also write report.md and report.html: per question, how many answers got each verdict and which mistakes the wrong ones made.")
@click.option("-o", "--output", "out", type=click.Path(file_okay=False), default=None,
              help="Directory for marks.csv and the feedback pages (default: QUIZDIR/grades).")
def grade(quizdir: str, answers: str, problem_file: str | None, carried: float, digits_credit: float, report: bool, out: str | None) -> None:
    """Mark a class's answers to a quiz the way a teacher marks.

    QUIZDIR is a directory made by `tracer quiz` (its answers.csv is the key); ANSWERS is a
    CSV with one row per student: id, variant, then one column per question (q1, q2, … or
    the quantities' names; a multiple-choice answer may be its letter). Each answer is right
    within the tolerance of a hand calculation carried to the sheet's digits; otherwise it
    is judged on the student's own numbers: habit (truncated), carried (right from the
    student's own earlier wrong answer: partial credit), wrong (the slip is in this step);
    digits (accepted but for too few significant digits: partial credit).

    \b
    Writes to the output directory:
      marks.csv           one row per student: the credit and verdict per question, the total
      feedback/ID.md      one page per student naming the step where it went wrong
      report.md, .html    with --report: per question, the verdicts and the mistakes (what to re-teach)
    \b
    Example:
      tracer quiz examples/mazur.yaml --count 30 --seed 1 -o hw3
      tracer grade hw3 class.csv
    """
    directory = Path(out) if out else Path(quizdir) / "grades"
    if directory.exists() and not directory.is_dir():
        on_error(f"-o {directory}: a file, not a folder; give the folder marks.csv and the feedback go to", 2)
    inputs = [answers, Path(quizdir) / "answers.csv", problem_file]
    reports = [directory / "report.md", directory / "report.html"] if report else []
    refuse_overwriting_inputs([directory / "marks.csv"] + reports, inputs)
    try:
        results = run_grade(quizdir, answers, problem_file, Policy(carried=carried, digits=digits_credit))
    except SpecError as err:
        on_error(str(err), 2)
    pages = feedback_names([r.student for r in results])
    refuse_overwriting_inputs([directory / "feedback" / page for page in pages], inputs)
    write_file(directory / "marks.csv", marks_csv(results), announce=False)  # atomically, the folders created
    for r, page in zip(results, pages):
        write_file(directory / "feedback" / page, feedback_md(r), announce=False)
    if report:  # beside marks.csv, not among the pages: a student may be called "report"
        found = class_report(results)
        write_file(directory / "report.md", report_md(found), announce=False)
        page = environment("page").get_template("grade_report.html.j2").render(title="Quiz", report=found)
        write_file(directory / "report.html", page, announce=False)
    verdicts = Counter(m.verdict for r in results for m in r.marks)
    mean = sum(r.total for r in results) / len(results) if results else 0.0
    out_of = results[0].out_of if results else 0
    shown = ", ".join(f"{verdicts[k]} {k}" for k in VERDICTS if verdicts[k])
    click.echo(f"{len(results)} students graded: mean {mean:.2f} of {out_of}; answers: {shown or 'none'}; "
               f"{directory / 'marks.csv'}{', report.md, report.html' if report else ''} and {len(results)} feedback pages in {directory / 'feedback'}", err=True)
