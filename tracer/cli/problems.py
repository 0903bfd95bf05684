"""The commands on a problem file: ``solve``, ``ask``, ``validate``, ``new``, ``schema``.

Argument parsing, the library calls, exit codes (docs/spec.md §6); nothing else.
"""

from __future__ import annotations

import dataclasses

import json
import math
from pathlib import Path

import click

from tracer.cli.common import (
    PDF_ENGINES,
    examples_dir,
    json_text,
    load_problem,
    on_error,
    format_for,
    refuse_contradicting_suffix,
    refuse_overwriting_inputs,
    solve_problem,
    warn_unsettable,
    write_file,
    write_output,
)
from tracer.core import derive
from tracer.keys import NameError_, split_step
from tracer.core.solution import LookupError_
from tracer.export.as_json import solution_json
from tracer.notation import theme_of_name
from tracer.numbers import DEFAULT_DIGITS
from tracer.spec import GraphProblem, SpecError, json_schema, load
from tracer.spec.models import LANGUAGES

FORMATS_SOLVE = ["text", "md", "tex", "pdf", "html", "json"]
FORMATS_ASK = ["text", "md", "tex", "html", "json"]
NOTATIONS = ["mazur", "bracket", "neuron", "delta"]


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS_SOLVE), default=None,
              help="Default: the format -o's suffix names (.md, .tex, .pdf, .html, .json), else text. text (terminal), md (Markdown + MathJax), tex (LaTeX handout), pdf (compiled handout; without -o, FILE's name with .pdf in the current folder), html (one self-contained page, math as MathML, nothing fetched), json (docs/spec.md §5).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="Write to this file instead of stdout (for pdf: default FILE.pdf here).")
@click.option("--notation", type=click.Choice(NOTATIONS), help="Naming theme (default: the file's `notation:` for md/tex/pdf, canonical names for text; in text a theme gives the source's plain names where it has them: Mazur's w5, out_h1, E_total).")
@click.option("--detail", type=click.Choice(["brief", "standard", "full"]), default="standard", show_default=True,
              help="brief: values only; standard: each factor symbolic, substituted, valued; full: also each local derivative's derivation.")
@click.option("--digits", type=click.IntRange(2, 17), default=DEFAULT_DIGITS, show_default=True, help="Significant digits shown (full precision is carried).")
@click.option("--derived-steps", type=click.IntRange(0, None), default=3, show_default=True,
              help="Training steps written out in full; later ones come from the NumPy engine (JSON says which).")
@click.option("--form", type=click.Choice(["scalar", "matrix"]), default=None,
              help="scalar: one equation per number (default up to 200 parameters); matrix: the layer-by-layer δ form (md/tex/pdf).")
@click.option("--only", help='Keep only what these gradients need, comma-separated: "W2,b2" or "dloss/dW1[1,1]".')
@click.option("--pdf-engine", type=click.Choice(PDF_ENGINES), default="auto", show_default=True,
              help="-f pdf: the LaTeX engine; auto: XeLaTeX when the text has a script pdflatex cannot set (Chinese, Arabic, accented Greek), else pdflatex.")
@click.option("--language", type=click.Choice(LANGUAGES), default=None,
              help="The document's language (default: the file's `language:`, else en): en, zh, es, de; de and es write a decimal comma.")
def solve(file: str, fmt: str, out: str | None, notation: str | None, detail: str, digits: int, derived_steps: int, form: str | None, only: str | None,
          pdf_engine: str = "auto", language: str | None = None) -> None:
    """Solve a problem file: forward pass, loss, every gradient by the chain rule, updates, loss after.

    \b
    Examples:
      tracer solve examples/mazur.yaml
      tracer solve examples/mazur.yaml -f pdf                 (writes mazur.pdf here)
      tracer solve hw3.yaml -f pdf --pdf-engine lualatex
      tracer solve examples/relu_softmax_3class.yaml -f md --notation neuron -o blog.md
      tracer solve examples/mazur.yaml -f html -o mazur.html
      tracer solve examples/mazur.yaml -f json -o mazur.json
      tracer solve examples/mazur.yaml --detail full --digits 6
    """
    fmt = format_for(fmt, out, FORMATS_SOLVE)
    if fmt == "pdf" and not out:
        out = Path(file).with_suffix(".pdf").name  # hw3.yaml → ./hw3.pdf, as `latex hw3.tex` would
    refuse_overwriting_inputs(_written_by_solve(out, fmt), [file])
    refuse_contradicting_suffix(out, fmt)
    problem = load_problem(file)
    if language is not None:
        problem = dataclasses.replace(problem, language=language)
    solution = solve_problem(problem, derived_steps)
    if fmt == "tex":
        warn_unsettable(problem)  # (-f pdf: when it is compiled)
    if fmt == "json":
        write_output(json_text(solution_json(solution), file), out)  # never NaN or Infinity
        return
    if isinstance(problem, GraphProblem):
        _solve_graph(solution, fmt, out, detail, digits, notation, form, only, pdf_engine)
        return
    # start-up: the renderers (Jinja2, the printers, the diff writer) load only when a document
    # is asked for — `solve -f json` of a small network would spend a third of its time on them
    from tracer.render.document import network_figure, render
    from tracer.render.extensions import curve_files

    if problem.layered:  # conv2d, pooling and rnn layers: in the bracket notation; matrix: their feature maps
        if notation not in (None, "bracket", "delta"):
            on_error(f"{file}: --notation {notation}: not for a network with conv2d, pooling or rnn layers (bracket or delta; "
                     f"{notation}'s names are those of one dense network)", 2)
        if fmt == "text" and form == "matrix":
            on_error(f"{file}: --form matrix: md, tex or pdf (the text format writes the scalar form)", 2)
        wide = sum(math.prod(layer.out_shape) for layer in problem.layers) > 2000
        form = form or ("matrix" if wide and fmt in ("md", "tex", "pdf", "html") else "scalar")
    if form is None:
        wide = len(problem.parameter_keys) > 200 and fmt in ("md", "tex", "pdf", "html") and not only
        form = "matrix" if wide and (solution.steps or not solution.run) else "scalar"  # a run with no written-out step: its table and curves
    options = dict(notation=notation, detail=detail, digits=digits, form=form, only=only.split(",") if only else None)
    figure = None  # md written to a file: the network's figure as OUT.network.svg beside it (to stdout: inline)
    if fmt == "md" and out and out != "-":
        figure = (Path(out).with_suffix(".network.svg"), network_figure(solution, notation=notation, digits=digits))
        if figure[1] is not None:
            options["diagram_file"] = figure[0].name
    try:
        if fmt == "pdf":
            tex = render(solution, "tex", **options)
        else:
            text = render(solution, fmt, **options)
    except (NameError_, LookupError_, ValueError) as err:
        on_error(f"{file}: --only: {err}", 2)
    if fmt == "pdf":
        _compile(tex, out, problem, pdf_engine)  # type: ignore[arg-type]
        return
    write_output(text, out)
    if figure is not None and figure[1] is not None:
        write_file(figure[0], figure[1])
    if fmt == "md" and out and out != "-" and getattr(solution, "run", None) is not None:
        for path, svg in curve_files(solution, Path(out)):  # the run's curves as files beside the Markdown
            write_file(path, svg)


def _written_by_solve(out: str | None, fmt: str) -> list[Path]:
    """Every file ``tracer solve -f FMT -o OUT`` may write: OUT, and beside it a PDF's LaTeX and
    log, a Markdown document's figures (checked against the inputs before anything is written)."""
    if out is None or out == "-":
        return []
    path = Path(out)
    if fmt == "pdf":
        return [path, path.with_suffix(".tex"), path.with_suffix(".log")]
    if fmt == "md":
        return [path] + [path.with_suffix(suffix) for suffix in (".network.svg", ".circuit.svg", ".loss.svg", ".accuracy.svg")]
    return [path]


def _compile(tex: str, out: str, problem, engine: str = "auto") -> None:
    """``-f pdf``: the LaTeX compiled beside OUT with the engine asked for (auto: XeLaTeX when the
    text needs it); a warning names the characters of the problem's own text (title, file name)
    that the PDF shows as code points."""
    # start-up: the renderers load only when a document is asked for
    from tracer.render.document import RenderError, compile_pdf, pdf_engine

    engine = pdf_engine(tex, engine)
    warn_unsettable(problem, engine=engine)
    try:
        pdf = compile_pdf(tex, Path(out), engine)
    except RenderError as err:
        on_error(str(err), err.code)
    click.echo(f"wrote {pdf} (and {pdf.with_suffix('.tex')}, {pdf.with_suffix('.log')})", err=True)


def _solve_graph(solution, fmt: str, out: str | None, detail: str, digits: int, notation: str | None, form: str | None, only: str | None,
                 pdf_engine: str = "auto") -> None:
    """A graph problem's document; its circuit as an SVG beside a Markdown file."""
    for option, given in (("--notation", notation), ("--form", form), ("--only", only)):
        if given:
            on_error(f"{solution.problem.source}: {option}: not for a graph problem (its nodes keep their own names)", 2)
    # start-up: the renderers load only when a document is asked for
    from tracer.render.graph import circuit_svg, render_graph

    if fmt == "pdf":
        _compile(render_graph(solution, "tex", detail=detail, digits=digits), out, solution.problem, pdf_engine)  # type: ignore[arg-type]
        return
    write_output(render_graph(solution, fmt, detail=detail, digits=digits), out)
    if fmt == "md" and out and out != "-":
        svg = circuit_svg(solution, digits)
        if svg is not None:
            write_file(Path(out).with_suffix(".circuit.svg"), svg + "\n")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("quantity")
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS_ASK), default="text", show_default=True)
@click.option("--notation", type=click.Choice(NOTATIONS), help="Naming theme (default: the theme QUANTITY is written in, else the file's for md/tex and canonical names for text).")
@click.option("--digits", type=click.IntRange(2, 17), default=DEFAULT_DIGITS, show_default=True)
def ask(file: str, quantity: str, fmt: str, notation: str | None, digits: int) -> None:
    """One quantity, with only the steps it needs.

    \b
    QUANTITY is a canonical name (docs/spec.md §2) or a theme's name:
      dloss/dW1[1,1]     gradient of the total loss
      dloss#2/dW1[1,1]   gradient of sample 2's loss
      a2[1]#2            activation of unit 1 of layer 2, sample 2
      W2[1,1]'           a parameter after the update;  loss_after
      dloss/dz2[1]@2     a quantity of training step 2
      dE_total/dw5, w5+, out_h1   (mazur theme names)
    """
    problem = load_problem(file)
    solution = solve_problem(problem, 3)
    try:
        number = solution.value(quantity)
    except (NameError_, LookupError_) as err:
        on_error(f"{file}: {err}", 2)
    try:
        step = solution.step(quantity)
    except (NameError_, LookupError_):
        step = None  # a given number (an input, a parameter): no derivation
    # start-up: as for solve, the renderers load only here, after the answer is known
    from tracer.export.answer import ask_json
    from tracer.render.document import render_steps

    if fmt == "json":
        click.echo(json_text(ask_json(solution, quantity, number, step), file))
        return
    steps = solution.dependencies(step) if step is not None else []
    if notation is None and not isinstance(problem, GraphProblem):  # asked in a source's own names (dE_total/dw5): answered in them
        notation = theme_of_name(split_step(quantity)[0], problem)
    click.echo(render_steps(solution, steps, number, quantity, fmt, notation=notation, digits=digits), nl=False)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
def validate(file: str) -> None:
    """Check a problem file and say what it describes (exit 2 with the field named if it is wrong)."""
    problem = load_problem(file)
    if isinstance(problem, GraphProblem):
        try:  # its equations read and evaluated at the given values (1/0 is bad input too)
            derive.solve(problem, derived_steps=0, verify=False)
        except SpecError as err:
            on_error(str(err), 2)
    click.echo(f"{file}: valid")
    click.echo(problem.describe())


def shipped_examples() -> list[str]:
    """The names of the shipped examples (``tracer new NAME``)."""
    return sorted(p.stem for p in examples_dir().glob("*.yaml"))


def complete_example(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of ``tracer new <TAB>``: the shipped examples starting with what is typed."""
    return [name for name in shipped_examples() if name.startswith(incomplete)]


@click.command()
@click.argument("name", required=False, shell_complete=complete_example)
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="Where to write the new problem file.")
@click.option("--list", "list_", is_flag=True, help="List the shipped examples.")
def new(name: str | None, out: str | None, list_: bool) -> None:
    """Start a problem file from a shipped example (`tracer new mazur -o hw.yaml`)."""
    shipped = shipped_examples()
    if list_ or name is None:
        for stem in shipped:
            click.echo(f"{stem:24s} {load(examples_dir() / f'{stem}.yaml').title}")
        return
    if name not in shipped:
        on_error(f"no shipped example {name!r}; choose one of: {', '.join(shipped)}", 2)
    target = Path(out or f"{name}.yaml")
    if target.exists() or target.is_symlink():
        on_error(f"{target}: exists already; choose another -o or remove it", 2)
    write_file(target, (examples_dir() / f"{name}.yaml").read_bytes(), announce=False)
    click.echo(f"wrote {target} (from the {name} example); solve it with: tracer solve {target}")


@click.command()
def schema() -> None:
    """Print the JSON Schema of the problem file (for editors)."""
    click.echo(json.dumps(json_schema(), indent=2))
