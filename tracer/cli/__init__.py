"""The commands of SPEC.md §4: argument parsing, exit codes, nothing else.

Exit codes (SPEC.md §6): 0 success; 1 a verification mismatch or wrong claims;
2 bad input (one line naming the file, the field and what was expected);
3 a missing optional tool.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import NoReturn

import click

from tracer import __version__

FORMATS_SOLVE = ["text", "md", "tex", "pdf", "json"]
FORMATS_ASK = ["text", "md", "tex", "json"]
NOTATIONS = ["mazur", "bracket", "neuron", "delta"]


def on_error(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit: never a traceback for a user's mistake."""
    click.echo(f"tracer: {message}", err=True)
    sys.exit(code)


def examples_dir() -> Path:
    packaged = Path(__file__).resolve().parent.parent / "examples"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent.parent / "examples"


def _load(path: str):
    from tracer.spec import SpecError, load

    try:
        return load(path)
    except SpecError as err:
        on_error(str(err), 2)


def _solve(problem, derived_steps: int):
    from tracer.core.derive import solve

    try:
        solution = solve(problem, derived_steps=derived_steps)
    except (ValueError, ZeroDivisionError, OverflowError) as err:
        on_error(f"{problem.source}: the computation failed: {err}", 2)
    v = solution.verification
    if v is not None and not v.ok:
        first = v.mismatches[0]
        on_error(
            f"{problem.source}: verification failed for {first.quantity}: engine {first.engine!r}, "
            f"{first.against} {first.reference!r} ({len(v.mismatches)} mismatch(es))",
            1,
        )
    return solution


def _write(text: str, out: str | None) -> None:
    if out is None or out == "-":
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as err:
        on_error(f"{out}: cannot write ({err.strerror})", 2)
    click.echo(f"wrote {out}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracer")
def cli() -> None:
    """Step-by-step, verified worked solutions of backpropagation.

    A problem file (YAML) describes a small network, its data, its loss and the
    training; `tracer solve` writes out the forward pass, every partial derivative
    by the chain rule (factor by factor, symbolic, then with numbers), the updates
    and the loss after, and checks every number against an independent NumPy pass.

    \b
    Start with a shipped example:
      tracer new mazur -o mazur.yaml
      tracer solve mazur.yaml
      tracer ask mazur.yaml "dloss/dW2[1,1]"
    """


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS_SOLVE), default="text", show_default=True,
              help="text (terminal), md (Markdown + MathJax), tex (LaTeX handout), pdf (compiled handout; without -o, FILE's name with .pdf in the current folder), json (SPEC.md §5).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="Write to this file instead of stdout (for pdf: default FILE.pdf here).")
@click.option("--notation", type=click.Choice(NOTATIONS), help="Naming theme (default: the file's `notation:` for md/tex/pdf, canonical names for text; in text a theme gives the source's plain names where it has them: Mazur's w5, out_h1, E_total).")
@click.option("--detail", type=click.Choice(["brief", "standard", "full"]), default="standard", show_default=True,
              help="brief: values only; standard: each factor symbolic, substituted, valued; full: also each local derivative's derivation.")
@click.option("--digits", type=click.IntRange(2, 17), default=9, show_default=True, help="Significant digits shown (full precision is carried).")
@click.option("--derived-steps", type=click.IntRange(0, None), default=3, show_default=True,
              help="Training steps written out in full; later ones come from the NumPy engine (JSON says which).")
@click.option("--form", type=click.Choice(["scalar", "matrix"]), default=None,
              help="scalar: one equation per number (default up to 200 parameters); matrix: the layer-by-layer δ form (md/tex/pdf).")
@click.option("--only", help='Keep only what these gradients need, comma-separated: "W2,b2" or "dloss/dW1[1,1]".')
def solve(file: str, fmt: str, out: str | None, notation: str | None, detail: str, digits: int, derived_steps: int, form: str | None, only: str | None) -> None:
    """Solve a problem file: forward pass, loss, every gradient by the chain rule, updates, loss after.

    \b
    Examples:
      tracer solve examples/mazur.yaml
      tracer solve examples/mazur.yaml -f pdf                 (writes mazur.pdf here)
      tracer solve examples/relu_softmax_3class.yaml -f md --notation neuron -o blog.md
      tracer solve examples/mazur.yaml -f json -o mazur.json
      tracer solve examples/mazur.yaml --detail full --digits 6
    """
    problem = _load(file)
    if fmt == "pdf" and not out:
        out = Path(file).with_suffix(".pdf").name  # hw3.yaml → ./hw3.pdf, as `latex hw3.tex` would
    solution = _solve(problem, derived_steps)
    if fmt == "json":
        from tracer.export.as_json import solution_json

        _write(json.dumps(solution_json(solution), indent=1), out)
        return
    from tracer.core.solution import LookupError_
    from tracer.core.keys import NameError_
    from tracer.render.document import RenderError, compile_pdf, render

    if form is None:
        wide = len(problem.parameter_keys) > 200 and fmt in ("md", "tex", "pdf") and not only
        form = "matrix" if wide and (solution.steps or not solution.run) else "scalar"  # a run with no written-out step: its table and curves
    options = dict(notation=notation, detail=detail, digits=digits, form=form, only=only.split(",") if only else None)
    try:
        if fmt == "pdf":
            tex = render(solution, "tex", **options)
        else:
            text = render(solution, fmt, **options)
    except (NameError_, LookupError_, ValueError) as err:
        on_error(f"{file}: --only: {err}", 2)
    if fmt == "pdf":
        try:
            pdf = compile_pdf(tex, Path(out))  # type: ignore[arg-type]
        except RenderError as err:
            on_error(str(err), err.code)
        click.echo(f"wrote {pdf} (and {pdf.with_suffix('.tex')})", err=True)
        return
    _write(text, out)
    if fmt == "md" and out and out != "-" and getattr(solution, "run", None) is not None:
        from tracer.render.extensions import write_curves

        for path in write_curves(solution, Path(out)):  # the run's curves as files beside the Markdown
            click.echo(f"wrote {path}", err=True)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("quantity")
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS_ASK), default="text", show_default=True)
@click.option("--notation", type=click.Choice(NOTATIONS), help="Naming theme (default: the theme QUANTITY is written in, else the file's for md/tex and canonical names for text).")
@click.option("--digits", type=click.IntRange(2, 17), default=9, show_default=True)
def ask(file: str, quantity: str, fmt: str, notation: str | None, digits: int) -> None:
    """One quantity, with only the steps it needs.

    \b
    QUANTITY is a canonical name (SPEC.md §2) or a theme's name:
      dloss/dW1[1,1]     gradient of the total loss
      dloss#2/dW1[1,1]   gradient of sample 2's loss
      a2[1]#2            activation of unit 1 of layer 2, sample 2
      W2[1,1]'           a parameter after the update;  loss_after
      dloss/dz2[1]@2     a quantity of training step 2
      dE_total/dw5, w5+, out_h1   (mazur theme names)
    """
    from tracer.core.solution import LookupError_
    from tracer.core.keys import NameError_

    problem = _load(file)
    solution = _solve(problem, 3)
    try:
        number = solution.value(quantity)
    except (NameError_, LookupError_) as err:
        on_error(f"{file}: {err}", 2)
    try:
        step = solution.step(quantity)
    except (NameError_, LookupError_):
        step = None  # a given number (an input, a parameter): no derivation
    if fmt == "json":
        from tracer.export.as_json import ask_json

        click.echo(json.dumps(ask_json(solution, quantity, number, step), indent=1))
        return
    from tracer.render.document import render_steps

    steps = solution.dependencies(step) if step is not None else []
    if notation is None:  # asked in a source's own names (dE_total/dw5): answered in them
        from tracer.core.keys import split_step
        from tracer.notation import theme_of_name

        notation = theme_of_name(split_step(quantity)[0], problem)
    click.echo(render_steps(solution, steps, number, quantity, fmt, notation=notation, digits=digits), nl=False)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
def validate(file: str) -> None:
    """Check a problem file and say what it describes (exit 2 with the field named if it is wrong)."""
    problem = _load(file)
    click.echo(f"{file}: valid")
    click.echo(problem.describe())


@cli.command()
@click.argument("name", required=False)
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="Where to write the new problem file.")
@click.option("--list", "list_", is_flag=True, help="List the shipped examples.")
def new(name: str | None, out: str | None, list_: bool) -> None:
    """Start a problem file from a shipped example (`tracer new mazur -o hw.yaml`)."""
    shipped = sorted(p.stem for p in examples_dir().glob("*.yaml"))
    if list_ or name is None:
        from tracer.spec import load

        for stem in shipped:
            click.echo(f"{stem:24s} {load(examples_dir() / f'{stem}.yaml').title}")
        return
    if name not in shipped:
        on_error(f"no shipped example {name!r}; choose one of: {', '.join(shipped)}", 2)
    target = Path(out or f"{name}.yaml")
    if target.exists():
        on_error(f"{target}: exists already; choose another -o or remove it", 2)
    shutil.copyfile(examples_dir() / f"{name}.yaml", target)
    click.echo(f"wrote {target} (from the {name} example); solve it with: tracer solve {target}")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the problem file (for editors)."""
    from tracer.spec import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


def _register_optional() -> None:
    from tracer.cli.quiz import check, quiz  # issue 5: homework sets and answer checking

    cli.add_command(quiz)
    cli.add_command(check)
    try:
        from tracer.cli.calculus import descend, diff
    except ImportError:
        return
    cli.add_command(diff)
    cli.add_command(descend)


_register_optional()


def main() -> None:
    cli(prog_name="tracer")


if __name__ == "__main__":
    main()
