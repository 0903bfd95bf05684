"""What every command shares: the one-line error and the library calls that can fail.

Exit codes (docs/spec.md §6): 0 success; 1 a verification mismatch or wrong claims;
2 bad input (one line naming the file, the field and what was expected);
3 a missing optional tool. Each helper here maps one library failure to its code,
so that a command reads as: load, solve, render, write.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import NoReturn

import click

from tracer import keys
from tracer.core.derive import solve
from tracer.core.solution import Solution
from tracer.files import FileRefused, overwritten_input, write_atomically
from tracer.render.user_text import PDF_ENGINES, describe_unsettable, no_engine_sets, unsettable  # noqa: F401 (PDF_ENGINES: the commands' choice)
from tracer.spec import Problem, SpecError, load
from tracer.spec.errors import one_line

#: the problem files `tracer new` copies: tracer/examples in a wheel, else the source tree's
_PACKAGED_EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
_SOURCE_EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def on_error(message: str, code: int = 2, command: str | None = None) -> NoReturn:
    """One line on stderr, then exit: never a traceback for a user's mistake.

    ``tracer: hw3.yaml: network.layers[1].weights: …``; with ``command``, the
    command's own prefix: ``tracer diff: EXPR: unknown function 'foo' at column 3``.
    """
    prefix = f"tracer {command}" if command else "tracer"
    click.echo(one_line(f"{prefix}: {message}", 299), err=True)  # one line, under 300 characters, whatever the cause
    sys.exit(code)


def json_text(data, source: str) -> str:
    """``data`` as JSON, never with NaN or Infinity (not JSON; a strict reader fails on them): a
    number that is not finite has been refused as bad input before this, so one here is exit 2."""
    try:
        return json.dumps(data, indent=1, allow_nan=False)
    except ValueError:
        on_error(f"{source}: the result holds a number that is not finite (no JSON for it); use smaller numbers", 2)


def examples_dir() -> Path:
    return _PACKAGED_EXAMPLES if _PACKAGED_EXAMPLES.is_dir() else _SOURCE_EXAMPLES


def load_problem(path: str | Path) -> Problem:
    """The problem file, or exit 2 with the library's one-line message."""
    try:
        return load(path)
    except SpecError as err:
        on_error(str(err), 2)


def solve_problem(problem: Problem, derived_steps: int) -> Solution:
    """The verified solution; exit 2 when the numbers cannot be computed, 1 when verification fails."""
    try:
        solution = solve(problem, derived_steps=derived_steps)
    except SpecError as err:  # a graph's equations read as a whole: a name, a cycle, 1/0 at the given values
        on_error(str(err), 2)
    except (ValueError, ZeroDivisionError, OverflowError) as err:
        cause = "a number out of range" if isinstance(err, (ZeroDivisionError, OverflowError)) else str(err)
        on_error(f"{problem.source}: the computation failed ({cause}){_largest_input(problem)}; use smaller numbers", 2)
    failed = verification_failure(problem, solution) or non_finite_result(problem, solution) or saturated_result(problem, solution)
    if failed is not None:
        on_error(*failed)
    return solution


def non_finite_result(problem, solution) -> tuple[str, int] | None:
    """A verified solution whose numbers are not all finite (both passes agree: a learning rate
    that overshoots to a loss of inf after the step) is not a result: exit 2 naming the first
    such quantity, never a document or JSON with inf in it."""
    several = len(solution.steps) > 1
    for name, value, updated in _reported_numbers(solution, several):
        if isinstance(value, float) and not math.isfinite(value):
            rate = getattr(getattr(problem, "training", None), "learning_rate", None)
            if updated and isinstance(rate, float):  # the given numbers gave a finite step; the step overshot
                return f"{problem.source}: the computation is not finite: {name} is {value}; training.learning_rate {rate:g} may overshoot", 2
            return f"{problem.source}: the computation is not finite: {name} is {value}{_largest_input(problem)}; use smaller numbers", 2
    return None


def _made_by_an_update(quantity: str) -> bool:
    """Was the quantity (a mismatch's name) computed from parameters an update made: of training
    step 2 or later, after the training, or a parameter after its update?"""
    try:
        key = keys.parse(quantity)
    except keys.NameError_:
        return False
    step = getattr(key, "step", 1)
    return (getattr(key, "kind", None) == "loss_after" or step == keys.END or (isinstance(step, int) and step > 1)
            or bool(getattr(key, "after", False)))


def _reported_numbers(solution, several: bool):
    """(name, value, after an update?) of every number a solution reports, step by step, then
    after the training."""
    for step in solution.steps:
        at = f" after training step {step.number}" if several else ""
        moved = step.number > 1  # its inputs were made by an update
        for field in ("loss", "output"):
            if isinstance(getattr(step, field, None), float):
                yield field + at, getattr(step, field), moved
        for field in ("values", "gradients"):
            yield from ((f"{k}{at}", v, moved) for k, v in (getattr(step, field, None) or {}).items())
        yield from ((f"{k}{at}", v, True) for k, v in (getattr(step, "params_after", None) or {}).items())
        for state, per in (getattr(step, "optimizer_state", None) or {}).items():
            yield from ((f"{state}({k}){at}", v, True) for k, v in per.items())
    trained = bool(solution.steps) and any(getattr(step, "params_after", None) for step in solution.steps)
    if isinstance(getattr(solution, "loss_after", None), float):  # steps: 0 — the given numbers' own pass: no update made it
        yield "loss_after", solution.loss_after, trained
    yield from ((f"{k} after training", v, True) for k, v in (getattr(solution, "values_after", None) or {}).items())


def saturated_result(problem: Problem, solution: Solution) -> tuple[str, int] | None:
    """A verified, finite solution on a unit within :data:`SATURATED_WHEN_AGREED` of 1 or −1: both
    passes agree, but 1 − a has fewer correct digits than are printed (exit 2, the input's)."""
    if solution.verification is None or not solution.verification.ok:
        return None
    saturated = _saturated_output(problem, solution, SATURATED_WHEN_AGREED, near_zero=False)
    return (saturated, 2) if saturated is not None else None


def verification_failure(problem: Problem, solution: Solution) -> tuple[str, int] | None:
    """None for a verified solution; else the message and exit code: 2 when both passes agree
    a quantity is not a number (the input cannot be computed, not our bug), 1 when they differ."""
    v = solution.verification
    if v is None or v.ok:
        return None
    first = v.mismatches[0]
    undefined = next((m for m in v.mismatches if not (math.isfinite(m.engine) or math.isfinite(m.reference))), None)
    if undefined is not None:
        value = "nan" if math.isnan(undefined.engine) else ("inf" if undefined.engine > 0 else "-inf")
        rate = getattr(getattr(problem, "training", None), "learning_rate", None)
        if isinstance(rate, float) and _made_by_an_update(undefined.quantity):  # the given numbers gave a finite step; an update overshot
            return (f"{problem.source}: the computation is not finite: {undefined.quantity} is {value} in both the engine and NumPy; "
                    f"training.learning_rate {rate:g} may overshoot", 2)
        return (f"{problem.source}: the computation is not finite: {undefined.quantity} is {value} in both the engine and NumPy"
                f"{_largest_input(problem)}; use smaller numbers", 2)
    saturated = _saturated_output(problem, solution)
    if saturated is not None:
        return saturated, 2
    overflowed = next((m for m in v.mismatches if math.isfinite(m.engine) and not math.isfinite(m.reference)), None)
    if overflowed is not None and hasattr(problem, "equations"):
        # a graph's engine computes a part that overflows (e^710/e^710) exactly where double precision
        # cannot; its twin evaluates the equations as written in doubles, and cannot follow: not checkable
        return (f"{problem.source}: {overflowed.quantity} cannot be checked: NumPy's evaluation of the equations as written in double "
                f"precision overflows or loses every digit there, where the engine computes {overflowed.engine:g} exactly; "
                "use smaller numbers"), 2
    return (f"{problem.source}: verification failed for {first.quantity}: engine {first.engine!r}, "
            f"{first.against} {first.reference!r} ({len(v.mismatches)} mismatch(es))", 1)


#: a unit this close to where its activation saturates keeps fewer than 10 correct digits of 1 − a
#: (ε/1e−6 = 2e−10): the two passes, which take 1 − a from a and from z, may then differ by more than
#: verification's 1e−9
SATURATION_WINDOW = 1e-6
#: closer than this, 1 − a keeps fewer than 7 correct digits (ε/1e−9 = 2e−7) even when the two passes
#: agree (both take it from the same a): the 9 printed digits of a(1 − a), of ln(1 − a), and of every
#: gradient through them could not all be right — refused as the input, agreement or not
SATURATED_WHEN_AGREED = 1e-9


def _saturated_output(problem, solution, window: float = SATURATION_WINDOW, near_zero: bool = True) -> str | None:
    """A unit within :data:`SATURATION_WINDOW` of where its activation saturates (a sigmoid's 0 or
    1, a tanh's ±1) when the two passes disagree: 1 − a, and with it the slope a(1 − a) or 1 − a²
    and a log loss's ln(1 − a), keeps few correct digits in double precision. The step-by-step
    values (which take a as it is written) and NumPy's (which take 1 − a from z) then differ: the
    input, not our bug. ``near_zero=False``: only the edges ±1 (a near 0 keeps its digits; 1 − a
    loses them), as :func:`saturated_result` asks whatever the passes say. Looked for in every pass: each training step's, then the one after training
    (for a forward-only problem, ``steps: 0``, that is the given numbers' own)."""
    if getattr(problem, "layered", True) or not hasattr(problem, "layers"):
        return None
    edges = {"sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0)}
    last = len(problem.layers)
    saturating = [(l, layer.activation.name) for l, layer in reversed(list(enumerate(problem.layers, start=1)))  # the output first: the loss
                  if layer.activation.name in edges and (layer.activation.name != "softmax" or l == last)]
    if not saturating:
        return None
    trained = bool(solution.steps)
    several = len(problem.data) > 1

    def found(a: float, name: "str | keys.Quantity", l: int, kind: str, moved: bool) -> str | None:
        edge = next((e for e in edges[kind] if abs(a - e) < window and (near_zero or e != 0.0)), None)
        if edge is None:
            return None
        what = (f"the {problem.loss.kind} loss's logarithm of it" if l == last and problem.loss.kind in ("cross_entropy", "binary_cross_entropy") else
                "its slope " + ("1 − a²" if kind == "tanh" else "a(1 − a)"))
        cause = (f"; the training moved it there: training.learning_rate {problem.training.learning_rate:g} may be too large" if moved
                 else f"{_largest_input(problem)}; use smaller weights or biases")
        return (f"{problem.source}: the unit {name} = {a!r} is saturated (within {window:g} of {edge:g}): "
                f"{what} keeps few correct digits{cause}")

    looked = 0
    for step in solution.steps:  # each pass the run wrote down, in order
        at = f"@{step.number}" if len(solution.steps) > 1 else ""
        for entry in step.forward:
            sample = entry["sample"]  # the table's number, a mini-batch's too (issue 25)
            for l, kind in saturating:
                for j, a in enumerate(entry["layers"][l - 1]["a"], start=1):
                    looked += 1
                    name = f"{keys.a(l, j).of_sample(sample if several else None)}{at}"
                    message = found(a, name, l, kind, step.number > 1)
                    if message is not None:
                        return message
            if looked > 20_000:
                return None
    if not getattr(solution, "closing", ()) and trained:
        return None
    for l, kind in saturating:  # the pass after the training (steps: 0 — the only pass)
        for j in range(1, problem.layers[l - 1].units + 1):
            for s in range(1, len(problem.data) + 1):
                name = keys.a(l, j).of_sample(s if several else None).at_step(keys.END)
                try:
                    a = solution.value(name)
                except Exception:  # noqa: BLE001 - a name the solution does not hold: nothing to say
                    return None
                message = found(a, name, l, kind, trained)
                if message is not None:
                    return message
                looked += 1
                if looked > 20_000:
                    return None
    return None


def _largest_input(problem) -> str:
    """``, from W2[1,1] = 1e+308`` — the given number of largest size, the likely cause of an overflow."""
    values: list[tuple[str, float]] = []
    if hasattr(problem, "parameters"):
        values += [(str(k), v) for k, v in problem.parameters().items()]
    for s, sample in enumerate(getattr(problem, "data", ()), start=1):
        values += [(f"data[{s - 1}].x[{i}]", v) for i, v in enumerate(sample.x)] + [(f"data[{s - 1}].y[{i}]", v) for i, v in enumerate(sample.y)]
    if hasattr(problem, "values") and isinstance(problem.values, dict):
        values += list(problem.values.items())
    values = [(n, float(v)) for n, v in values if isinstance(v, (int, float))]
    if not values:
        return ""
    name, value = max(values, key=lambda nv: abs(nv[1]) if math.isfinite(nv[1]) else math.inf)
    return f" (the largest given number: {name} = {value:g})"


#: the file names each output format is written under; a name with another format's suffix
#: (``-f pdf -o x.tex``, ``-f json -o x.md``) or a problem file's (``.yaml``) is refused
SUFFIXES = {"text": (".txt",), "md": (".md", ".markdown"), "tex": (".tex",), "pdf": (".pdf",),
            "html": (".html", ".htm"), "json": (".json",)}
_INPUT_SUFFIXES = (".yaml", ".yml")


def refuse_contradicting_suffix(out: str | None, fmt: str, command: str | None = None) -> None:
    """Exit 2 when ``-o``'s suffix is another format's (or a problem file's). A PDF must be
    named ``.pdf``: its LaTeX source is written beside it under the same stem, ``.tex``."""
    if out is None or out == "-":
        if fmt == "pdf" and out == "-":
            on_error("-o -: a PDF is not written to stdout; give -o NAME.pdf", 2, command)
        return
    suffix = Path(out).suffix.lower()
    if fmt == "pdf":
        if suffix != ".pdf":
            on_error(f"-o {out}: -f pdf writes NAME.pdf (and its LaTeX as NAME.tex beside it); "
                     f"give -o {Path(out).with_suffix('.pdf')}" + (f" or -f {_format_of(suffix)}" if _format_of(suffix) else ""), 2, command)
        return
    owner = _format_of(suffix)
    if suffix in _INPUT_SUFFIXES:
        on_error(f"-o {out}: a {suffix} name for -f {fmt}, but no format writes YAML; give a {SUFFIXES[fmt][0]} name", 2, command)
    if owner is not None and owner != fmt:
        on_error(f"-o {out}: a {suffix} name contradicts -f {fmt}; give a {SUFFIXES[fmt][0]} name, or -f {owner}", 2, command)


def format_for(fmt: str | None, out: str | None, allowed) -> str:
    """``-f``, or when it is not given the format ``-o``'s suffix names (``-o notes.md``: md, as
    pandoc reads it), else text."""
    if fmt is not None:
        return fmt
    named = _format_of(Path(out).suffix.lower()) if out and out != "-" else None
    return named if named in allowed else "text"


def _format_of(suffix: str) -> str | None:
    return next((fmt for fmt, suffixes in SUFFIXES.items() if suffix in suffixes), None)


def refuse_overwriting_inputs(outputs, inputs, command: str | None = None) -> None:
    """Exit 2 when a file about to be written is one of the inputs (the same path, a symbolic
    or hard link to it): ``tracer solve in.yaml -o in.yaml`` would replace the problem file."""
    clash = overwritten_input([o for o in outputs if o is not None], [i for i in inputs if i is not None])
    if clash is not None:
        out, given = clash
        same = "" if str(out) == str(given) else " (the same file)"
        on_error(f"-o {out}: that is the input file {given}{same}; writing there would replace it — choose another output name", 2, command)


def warn_unsettable(problem, file: str | None = None, engine: str | None = None) -> None:
    """One warning line on stderr for each text of the problem's own that reaches LaTeX (its title,
    its file name) with characters the PDF cannot show as they are: those no engine here sets
    (emoji, a script without a font), and — when ``engine`` is pdflatex, or for ``-f tex``
    (``engine`` None) — those only XeLaTeX and LuaLaTeX set (CJK, Arabic, accented Greek)."""
    where = getattr(problem, "source", "") or file
    for field, text in (("title", getattr(problem, "title", "")), ("file name", file or getattr(problem, "source", ""))):
        chars = unsettable(text)
        never = no_engine_sets(text)
        scripts = [ch for ch in chars if ch not in never]
        if scripts and engine in (None, "pdflatex"):
            advice = "compile it with xelatex or lualatex to set them" if engine is None else "--pdf-engine xelatex (or auto) sets them"
            click.echo(f"tracer: warning: {where}: {field}: pdflatex cannot set {describe_unsettable(scripts, 5)}; "
                       f"it shows their code points; {advice}", err=True)
        if never:
            click.echo(f"tracer: warning: {where}: {field}: no font here sets {describe_unsettable(never, 5)}; "
                       f"the PDF shows each as [U+XXXX] (md and html keep them)", err=True)


def write_file(path: str | Path, data: str | bytes, command: str | None = None, announce: bool = True) -> Path:
    """``data`` written to ``path`` atomically (tracer.files): a temporary file beside it, then
    renamed over it, so an interrupted run leaves the old file whole; missing folders are
    created. Exit 2 with ``tracer: PATH: cannot write (…)`` when it cannot be written."""
    try:
        created = [str(p) for p in _missing_folders(Path(path))]
        write_atomically(path, data)
    except FileRefused as err:
        on_error(f"-o: {path}: {err}" if command else f"{path}: {err}", 2, command)
    if announce:
        click.echo(f"wrote {path}" + (f" (created the folder {created[-1]})" if created else ""), err=True)
    return Path(path)


def _missing_folders(path: Path) -> list[Path]:
    """The folders above ``path`` that do not exist yet, outermost first (what writing will create)."""
    missing = []
    for parent in path.parents:
        if parent.exists() or parent == parent.parent:
            break
        missing.append(parent)
    return missing[::-1]


def write_output(text: str, out: str | None, command: str | None = None) -> None:
    """``text`` to stdout (no ``-o`` or ``-o -``) or to the file ``out``; exit 2 when it cannot be written.

    On stdout a final newline is added only when ``text`` lacks one. The file is written
    atomically and its missing folders created (:func:`write_file`). The message of a
    failed write is ``tracer: OUT: cannot write (…)``, or with ``command``
    ``tracer diff: -o: OUT: cannot write (…)``.
    """
    if out is None or out == "-":
        click.echo(text, nl=not text.endswith("\n"))
        return
    write_file(out, text, command)
