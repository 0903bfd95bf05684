"""``tracer quiz`` and ``tracer check``: argument parsing, files, exit codes, nothing else."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import click

from tracer.cli.common import (
    PDF_ENGINES,
    json_text,
    load_problem,
    on_error,
    refuse_overwriting_inputs,
    solve_problem,
    warn_unsettable,
    write_file,
)
from tracer.export.moodle import graph_moodle, moodle
from tracer.export.qti import canvas, graph_canvas
from tracer.render import graph_quiz
from tracer.render.document import RenderError, compile_pdf
from tracer.render.document import pdf_engine as pdf_engine_for
from tracer.render.quiz import (
    Finisher,
    SetInfo,
    answers_csv,
    answers_key,
    figures,
    key,
    sheet,
)
from tracer.spec import GraphProblem, SpecError
from tracer.spec.models import LANGUAGES
from tracer.teach.check import MIN_DIGITS, load_claim_set, report_json, report_text
from tracer.teach.claims import with_training
from tracer.teach.check import check as run_check
from tracer.teach.quiz import generate, parse_spec, stderr_progress

QUIZ_FORMATS = ("md", "tex", "pdf", "html", "csv", "moodle", "qti", "key-answers")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--count", "-n", type=click.IntRange(1, 100000), default=10, show_default=True, help="Number of variants.")
@click.option("--seed", "-s", type=int, default=1, show_default=True, help="Random seed: the same seed gives the same set.")
@click.option("-o", "--output", "out", type=click.Path(file_okay=False), default="quiz", show_default=True, help="Directory for the files.")
@click.option("--formats", default="md,tex,csv,moodle,qti,key-answers", show_default=True,
              help="Comma-separated: md, tex, pdf (compiles the tex; needs TeX), html (the sheet and the key as web pages), csv (answer key), moodle (Moodle XML), "
                   "qti (Canvas QTI 1.2 zip), key-answers (the answers-only key, md and tex).")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None, help="Worker processes (default: every core).")
@click.option("--pdf-engine", type=click.Choice(PDF_ENGINES), default="auto", show_default=True,
              help="pdf: the LaTeX engine; auto: XeLaTeX when the text has a script pdflatex cannot set, else pdflatex.")
@click.option("--language", type=click.Choice(LANGUAGES), default=None,
              help="The sheets' language (default: the file's `language:`, else en): en, zh, es, de; de and es write a decimal comma.")
def quiz(file: str, count: int, seed: int, out: str, formats: str, jobs: int | None, pdf_engine: str = "auto", language: str | None = None) -> None:
    """A randomised problem set: question sheet, solution key, answers-only key, CSV answer key, Moodle XML, Canvas QTI.

    The problem file's `randomize:` block says which values vary over what grid and which
    quantities are asked (README, "Homework sets"). Every variant passes the fairness
    guards (no pre-activation at a ReLU kink, no saturated sigmoid/softmax, the loss
    decreases, distinct variants). The same FILE, --count and --seed give the same set.
    A graph problem (SPEC §7) varies its leaves (`x: uniform(-5, 5, step=1)`, `values:`
    for every leaf) and asks every leaf's gradient unless `ask:` says otherwise.
    Each answer's tolerance is the rounding of a hand calculation that carries every
    intermediate to `digits:` significant digits, propagated through the steps; with
    `options: 0` every question is open (numerical), else multiple choice where the
    mistakes give enough distinct wrong numbers.

    \b
    Files written to DIR (-o):
      questions.md / questions.tex   the question sheet (for students: no file, path or seed on it);
                                     network-N.svg beside the md: variant N's network
      key.md / key.tex               the solution key (the teacher's: file, seed and the command
                                     that regenerates the set): answers, each wrong option's mistake,
                                     the worked solution of every variant
      key-answers.md / .tex          the answers only: per variant answer, tolerance, choice
      answers.csv                    one row per question
      moodle.xml                     one question per quantity (multiple choice or numerical),
                                     a category per variant and question kind (Moodle XML)
      canvas.zip                     the same questions as Canvas QTI 1.2 (Import → QTI .zip)
      questions.pdf / key.pdf        with --formats ...,pdf
      questions.html / key.html      with --formats ...,html: web pages (MathML, the networks inline)
    \b
    Example:
      tracer quiz examples/mazur.yaml --count 30 --seed 1 -o hw3
    """
    wanted = [f.strip() for f in formats.split(",") if f.strip()]
    for f in wanted:
        if f not in QUIZ_FORMATS:
            on_error(f"--formats: one of {', '.join(QUIZ_FORMATS)} expected, got {f!r}", 2)
    directory = Path(out)
    if directory.exists() and not directory.is_dir():
        on_error(f"-o {out}: a file, not a folder; give the folder the quiz's files go to", 2)
    refuse_overwriting_inputs(_written_by_quiz(directory, wanted, count), [file])
    problem = load_problem(file)
    if language is not None:  # the variants are drawn from the problem: each carries the language to its worker
        problem = dataclasses.replace(problem, language=language)
    try:
        spec = parse_spec(problem)
    except SpecError as err:
        on_error(str(err), 2)
    graph = isinstance(problem, GraphProblem)
    started = time.perf_counter()
    try:
        documents = tuple(f for f, wanted_by in (("md", ("md",)), ("tex", ("tex", "pdf")), ("html", ("html",))) if any(w in wanted for w in wanted_by))
        finish = Finisher(spec.digits, documents, graph_quiz.finish_variant if graph else None)
        variants = generate(problem, count, seed, finish=finish, jobs=jobs, progress=stderr_progress)
    except SpecError as err:
        on_error(str(err), 2)
    info = SetInfo(file=file, seed=seed, count=count, spec=spec, title=problem.title, language=problem.language)
    directory = Path(out)
    written: list[Path] = []

    def write(name: str, data: str | bytes) -> None:
        written.append(write_file(directory / name, data, announce=False))  # atomically; DIR created when missing

    if "md" in wanted:
        write("questions.md", sheet(variants, info, "md"))
        for name, figure in figures(variants).items():  # the sheet's network figures, beside it
            write(name, figure)
        write("key.md", key(variants, info, "md"))
    if "tex" in wanted or "pdf" in wanted:
        write("questions.tex", sheet(variants, info, "tex"))
        write("key.tex", key(variants, info, "tex"))
    if "html" in wanted:
        write("questions.html", sheet(variants, info, "html"))
        write("key.html", key(variants, info, "html"))
    if "key-answers" in wanted:
        write("key-answers.md", answers_key(variants, info, "md"))
        write("key-answers.tex", answers_key(variants, info, "tex"))
    if "csv" in wanted:
        write("answers.csv", answers_csv(variants, info))
    if "moodle" in wanted:
        write("moodle.xml", (graph_moodle if graph else moodle)(variants, info))
    if "qti" in wanted:
        write("canvas.zip", (graph_canvas if graph else canvas)(variants, info))
    elapsed = time.perf_counter() - started
    if "tex" in wanted or "pdf" in wanted:
        engine = pdf_engine_for((directory / "key.tex").read_text(encoding="utf-8"), pdf_engine) if "pdf" in wanted else None
        warn_unsettable(problem, file, engine)
    if "pdf" in wanted:
        for stem in ("questions", "key"):
            try:
                written.append(compile_pdf((directory / f"{stem}.tex").read_text(encoding="utf-8"), directory / f"{stem}.pdf", engine))
            except RenderError as err:
                on_error(str(err), err.code)
    click.echo(f"{count} variants of {file} (seed {seed}) in {elapsed:.1f} s: " + ", ".join(str(p) for p in written), err=True)


def _written_by_quiz(directory: Path, wanted: list[str], count: int) -> list[Path]:
    """Every file ``tracer quiz --formats … -o DIR`` may write (checked against the input first)."""
    svgs = tuple(f"network-{n}.svg" for n in range(1, count + 1))  # the md sheet's, one per variant (a network's)
    names = {"md": ("questions.md", "key.md", *svgs), "tex": ("questions.tex", "key.tex"), "html": ("questions.html", "key.html"),
             "pdf": ("questions.tex", "key.tex", "questions.pdf", "key.pdf", "questions.log", "key.log"),
             "key-answers": ("key-answers.md", "key-answers.tex"), "csv": ("answers.csv",), "moodle": ("moodle.xml",), "qti": ("canvas.zip",)}
    return [directory / name for f in wanted for name in names[f]]


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("claims", type=click.Path(dir_okay=False))
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--min-digits", type=click.IntRange(1, 30), default=MIN_DIGITS, show_default=True,
              help="Significant digits a claim must give (an exact value is always enough).")
def check(file: str, claims: str, fmt: str, min_digits: int) -> None:
    """Mark claimed numbers: right, habit (truncated), carried (error carried forward), wrong.

    CLAIMS is a YAML mapping of quantity names (canonical, or the theme's: dE_total/dw5,
    w5+) to numbers, written as printed: `0.2910` claims four decimals (quote it or not).
    Also accepted: `a2[1]@end` (the forward pass with the updated parameters), expressions
    of names (`loss - loss_after`, `-eta*dloss/dW2[1,1]`, `dloss/dz2[2] * dz2[2]/da1[1]`),
    vectors and matrices (`"W2'": [[0.359, 0.409], [0.511, 0.561]]`, judged entry by
    entry). Each claim is judged against the truth and against the claimant's own earlier
    numbers: only the step where a slip happens is WRONG. A `training:` mapping (steps,
    order, learning_rate) makes the claims about another run. An entry that cannot be read
    is reported on its line (INVALID) and the rest judged. Exit 1 when a claim is carried,
    wrong or invalid; 2 when the file is not a mapping of claims or no claim can be judged.

    \b
    Example:
      tracer check examples/mazur.yaml examples/errata/mazur.yaml
    """
    problem = load_problem(file)
    try:
        parsed = load_claim_set(claims)
    except SpecError as err:
        on_error(str(err), 2)
    try:
        problem = with_training(problem, parsed.training, claims)
    except SpecError as err:
        on_error(str(err), 2)
    solution = solve_problem(problem, 3)
    checker = run_check(solution, parsed.claims, claims, min_digits=min_digits)
    if not checker.judged:
        first = checker.verdicts[0]
        on_error(f"{claims}: {first.claim.name}: {first.reason}", 2)
    if fmt == "json":
        click.echo(json_text(report_json(checker), claims))
    else:
        run = f" (training: {', '.join(f'{k} {v}' for k, v in parsed.training.items())})" if parsed.training else ""
        click.echo(report_text(checker, file + run, claims), nl=False)
    raise SystemExit(1 if checker.wrong else 0)
