"""`tracer diff` and `tracer descend`: argument parsing and exit codes, nothing else.

The math is :mod:`tracer.calculus`, every string is :mod:`tracer.render.calculus`.
Bad input (an expression the safe parser refuses, a bad ``--at``) prints one line
to stderr — ``tracer diff: EXPR: unknown function 'foo' at column 3`` — and exits
with code 2 (docs/spec.md §6); a derivation that disagrees with ``sympy.diff`` exits 1.
Refused the same way (exit 2): work beyond the time budget (``SECONDS``: parsing,
deriving, evaluating at ``--at`` and writing out), which a short hostile input could
otherwise make last minutes, and a point where the derivative is undefined, not real
or outside double precision's range.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NoReturn

import click

from tracer.calculus.budget import WorkLimitExceeded, time_limit
from tracer.calculus.derivatives import DerivationMismatch, OutOfDoubleRange, derive_program, evaluate, values_at
from tracer.calculus.descent import OptimizerMismatch, descend as run_descent
from tracer.calculus.expression import ExpressionError, parse_assignments, parse_number, parse_program
from tracer.cli.common import format_for, on_error, refuse_contradicting_suffix, write_output
from tracer.files import FileRefused, write_atomically
from tracer.numbers import DEFAULT_DIGITS
from tracer.render.calculus import descents_pgfplots, descents_svg, render_descents, render_diff
from tracer.render.calculus_page import descent_page, diff_page
from tracer.spec import OptimizerSpec
from tracer.spec.models import OPTIMIZERS
from tracer.spec.optimizer_state import OptimizerState, StateError, read_state

#: the output formats of both commands (text, Markdown, LaTeX, JSON: docs/spec.md §5; a web page)
FORMATS = ("text", "md", "tex", "json", "html")

#: seconds a whole `tracer diff` may take (parsing, deriving, evaluating, writing), and the symbolic
#: part of `tracer descend` (parsing, the gradient): beyond it, exit 2 (budget.time_limit)
SECONDS = 2.5

#: --steps above this are refused (a run is one float evaluation per step, but the table is printed)
MAX_STEPS = 100_000

_EXPR_HELP = """\b
EXPR is ordinary math, read by a safe parser (no code is evaluated):
  2x^2, x**2, (2x^2 - 1)^3, [2(x+2)^2 - 1]^2, x y, 2(x+1), e^x, exp(-x),
  ln(x), log(x) (natural), log10(x), log2(x), sqrt(x), sin, cos, tan, sinh,
  cosh, tanh, sigmoid(x), softplus(x), relu(x) = max(0, x), abs(x), pi.
A name and definitions for the multivariable chain rule:
  "z = x^2 + e^y; x = 2t + 1; y = t^2"
"""


def fail(command: str, where: str, message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit: ``tracer diff: EXPR: <message>``; never a traceback."""
    on_error(f"{where}: {message}", code, command)


def _program(command: str, text: str, e_is_variable: bool):
    try:
        return parse_program(text, e_is_variable=e_is_variable)
    except ExpressionError as err:
        fail(command, "EXPR", str(err))
    except RecursionError:
        fail(command, "EXPR", "expression nested too deeply")


def _assignments(command: str, option: str, text: str, symbols: dict, require: tuple) -> dict:
    """``x=1,y=2`` → {x: 1, y: 2} over the expression's own symbols; every required one present."""
    try:
        given = parse_assignments(text)
    except ExpressionError as err:
        fail(command, option, str(err))
    known = ", ".join(s.name for s in require) or "none"
    out: dict = {}
    for name, value in given.items():
        if name not in symbols or symbols[name] not in require:
            fail(command, option, f"'{name}' is not a variable of the expression (variables: {known})")
        out[symbols[name]] = value
    missing = [s.name for s in require if s not in out]
    if missing:
        fail(command, option, f"no value for {', '.join(missing)} (variables: {known})")
    return {s: out[s] for s in require}


#: each optimizer option: the optimizers that read it, and the range of its value
_HYPER_OPTIONS = {
    "beta": (("momentum",), "[0, 1)"),
    "alpha": (("rmsprop",), "[0, 1)"),
    "beta1": (("adam", "adamw"), "[0, 1)"),
    "beta2": (("adam", "adamw"), "[0, 1)"),
    "eps": (("adagrad", "rmsprop", "adam", "adamw"), "(0, ∞)"),
    "weight_decay": (("sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"), "[0, ∞)"),
}


def _optimizer_specs(names: str, given: dict[str, str | None], nesterov: bool) -> list[OptimizerSpec]:
    """``--optimizer sgd,momentum`` and its options → one spec per optimizer (torch's defaults for the rest)."""
    chosen = [n.strip().lower() for n in names.split(",") if n.strip()]
    if not chosen:
        fail("descend", "--optimizer", f"no optimizer given (one of {', '.join(OPTIMIZERS)})")
    for n in chosen:
        if n not in OPTIMIZERS:
            fail("descend", "--optimizer", f"unknown optimizer '{n}' (one of {', '.join(OPTIMIZERS)})")
    if len(set(chosen)) < len(chosen):
        fail("descend", "--optimizer", "an optimizer is named twice")
    values: dict[str, float] = {}
    for key, text in given.items():
        if text is None:
            continue
        users, span = _HYPER_OPTIONS[key]
        option = "--" + key.replace("_", "-")
        if not set(users) & set(chosen):
            fail("descend", option, f"applies to {' and '.join(users)}, not to {', '.join(chosen)}")
        try:
            value = float(parse_number(text))
        except ExpressionError as err:
            fail("descend", option, str(err))
        except (TypeError, ValueError):
            fail("descend", option, f"'{text}' is not a real number")
        inside = value > 0 if key == "eps" else value >= 0 if key == "weight_decay" else 0 <= value < 1
        if not (math.isfinite(value) and inside):
            fail("descend", option, f"must lie in {span}, got {text}")
        values[key] = value
    if nesterov and "momentum" not in chosen:
        fail("descend", "--nesterov", f"applies to momentum, not to {', '.join(chosen)}")
    specs = []
    for n in chosen:
        own = {k: v for k, v in values.items() if n in _HYPER_OPTIONS[k][0]}
        spec = OptimizerSpec(n, nesterov=nesterov and n == "momentum", **own)
        specs.append(spec)
    return specs


def _start_state(given: tuple[str, ...], specs: list[OptimizerSpec], variables) -> OptimizerState:
    """``--state v:x=0.5,y=-1 --state step=3`` → the optimizer's starting state (one optimizer only)."""
    if not given:
        return OptimizerState()
    if len(specs) != 1:
        fail("descend", "--state", f"gives one optimizer's starting state; {len(specs)} optimizers are compared")
    spec = specs[0]
    raw: dict = {}
    for text in given:
        name, colon, rest = text.partition(":")
        name = name.strip()
        if not colon:
            key, eq, count = text.partition("=")
            if key.strip() != "step" or not eq:
                fail("descend", "--state", f"NAME:x=…,y=… (a state per variable) or step=N expected, got '{text.strip()}'")
            try:
                raw["step"] = int(count.strip())
            except ValueError:
                fail("descend", "--state.step", f"a whole number of steps already taken (0, 1, 2, …) expected, got '{count.strip()}'")
            continue
        if name in raw:
            fail("descend", f"--state.{name}", "given twice")
        try:
            values = parse_assignments(rest)
        except ExpressionError as err:
            fail("descend", f"--state.{name}", str(err))
        per = {}
        for variable, value in values.items():
            try:
                per[variable] = float(evaluate(value, {}))
            except (OutOfDoubleRange, TypeError, ValueError):
                fail("descend", f"--state.{name}.{variable}", "a real number in double precision expected")
        raw[name] = per
    try:
        return read_state(raw, spec.name, spec.nesterov, [v.name for v in variables], "--state")
    except StateError as err:
        fail("descend", err.field, err.message)


_SETTINGS = {"help_option_names": ["-h", "--help"]}


class ExpressionCommand(click.Command):
    """A command whose EXPR may begin with a minus sign: ``tracer diff "-sigmoid(a)"`` is the
    expression −sigmoid(a), not the options ``-s -i -g -m -o "id(a)"`` (which wrote a file named
    ``id(a)``). The first word that is neither an option's name (``-f``, ``--wrt``, ``--at=…``)
    nor the value after one is EXPR, whatever its first character; it is passed after ``--``, so
    that Click reads none of it as options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            return super().parse_args(ctx, args)
        takes_value = {}
        for param in self.params:
            if isinstance(param, click.Option):
                for name in param.opts + param.secondary_opts:
                    takes_value[name] = not param.is_flag and not param.count
        rest = list(args)
        k = 0
        while k < len(rest):
            word = rest[k]
            if word in takes_value or word in ctx.help_option_names:
                k += 2 if takes_value.get(word) else 1
                continue
            if word.startswith("--") and word.split("=", 1)[0] in takes_value:
                k += 1
                continue
            expression = rest.pop(k)  # the first word that is no option: EXPR, even "-x^2"
            return super().parse_args(ctx, rest + ["--", expression])
        return super().parse_args(ctx, args)


@click.command("diff", cls=ExpressionCommand, epilog=_EXPR_HELP, context_settings=_SETTINGS)
@click.argument("expr")
@click.option("--wrt", multiple=True, metavar="VAR", help="Differentiate with respect to VAR (repeat, or VAR,VAR). Default: every variable (partials when several).")
@click.option("--at", "at", metavar="x=1,y=2", help="Also evaluate the derivative at this point.")
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default=None, help="Default: the format -o's suffix names, else text. text (terminal), md (Markdown + MathJax), tex (LaTeX), json (docs/spec.md §5), html (one self-contained page, MathML).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@click.option("--digits", type=click.IntRange(2, 17), default=DEFAULT_DIGITS, show_default=True, help="Significant digits of the value.")
@click.option("--e-variable", is_flag=True, help="Read e as a variable, not Euler's number.")
def diff(expr: str, wrt: tuple[str, ...], at: str | None, fmt: str, out: str | None, digits: int, e_variable: bool) -> None:
    """Step-by-step derivative of EXPR, naming each rule.

    \b
    Examples:
      tracer diff "(2x^2 - 1)^3" --at x=1
      tracer diff "L = x w^2 + b^2" --wrt w,b
      tracer diff "z = x^2 + e^y; x = 2t + 1; y = t^2" --wrt t
      tracer diff "sigmoid(x)" -f json
    """
    fmt = format_for(fmt, out, FORMATS)
    refuse_contradicting_suffix(out, fmt, "diff")
    try:
        with time_limit(SECONDS, "to differentiate and write out"):
            text = _diff(expr, wrt, at, fmt, digits, e_variable)
    except WorkLimitExceeded as err:
        fail("diff", "EXPR", str(err))
    write_output(text, out, "diff")


def _diff(expr: str, wrt: tuple[str, ...], at: str | None, fmt: str, digits: int, e_variable: bool) -> str:
    """The document `tracer diff` writes, or exit 2 (1 when the derivation fails its check)."""
    program = _program("diff", expr, e_variable)
    names = [n.strip() for item in wrt for n in item.split(",") if n.strip()]
    try:
        derivations = derive_program(program, names or None)
    except ExpressionError as err:
        fail("diff", "--wrt" if names else "EXPR", str(err))
    except DerivationMismatch as err:
        fail("diff", "EXPR", f"verification failed: {err}", 1)
    except RecursionError:
        fail("diff", "EXPR", "expression nested too deeply to differentiate")
    point = None
    if at is not None:
        symbols = {v.name: v for v in program.variables}
        point = _assignments("diff", "--at", at, symbols, program.free_variables())
        try:
            values_at(derivations, point, at.strip())
        except ExpressionError as err:
            fail("diff", "--at", str(err))
    try:
        return diff_page(derivations, point, digits) if fmt == "html" else render_diff(derivations, fmt, point, digits)
    except WorkLimitExceeded:
        raise
    except (ValueError, TypeError, OverflowError) as err:
        fail("diff", "--at" if point else "EXPR", f"cannot evaluate: {err}")


@click.command("descend", cls=ExpressionCommand, epilog=_EXPR_HELP, context_settings=_SETTINGS)
@click.argument("expr")
@click.option("--start", required=True, metavar="x=-4[,y=0]", help="The starting point: a value for every variable.")
@click.option("--lr", required=True, metavar="RATE", help="Learning rate α (a positive number, e.g. 0.1 or 1e-2).")
@click.option("--steps", required=True, type=click.IntRange(0, MAX_STEPS), help="Number of updates.")
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default=None, help="Default: the format -o's suffix names, else text. text, md, tex (with a pgfplots figure), json (docs/spec.md §5) or html (one self-contained page, the plot inline as SVG).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Also draw the path: FILE.svg (SVG) or FILE.tex (pgfplots).")
@click.option("--show", "written", type=click.IntRange(0, None), default=3, show_default=True, help="Updates written out in full (θ₁ = θ₀ − α·f'(θ₀) = …).")
@click.option("--every", type=click.IntRange(1, None), default=1, show_default=True, help="Table: every K-th iterate (and the last).")
@click.option("--digits", type=click.IntRange(2, 17), default=DEFAULT_DIGITS, show_default=True, help="Significant digits shown.")
@click.option("--e-variable", is_flag=True, help="Read e as a variable, not Euler's number.")
@click.option("--optimizer", "optimizer", default="sgd", show_default=True, metavar="NAME[,NAME]",
              help="sgd, momentum, adagrad, rmsprop, adam or adamw (torch.optim's update rules); several, comma-separated, are compared from the same start.")
@click.option("--beta", metavar="B", help="momentum: v = β·v + g (default 0.9).")
@click.option("--nesterov", is_flag=True, help="momentum: Nesterov's form.")
@click.option("--alpha", metavar="A", help="rmsprop: the smoothing constant (torch's alpha, default 0.99; written ρ).")
@click.option("--beta1", metavar="B1", help="adam, adamw: the first moment's decay (default 0.9).")
@click.option("--beta2", metavar="B2", help="adam, adamw: the second moment's decay (default 0.999).")
@click.option("--eps", metavar="EPS", help="adagrad, rmsprop, adam, adamw: ε added to the root (defaults 1e-10, 1e-8, 1e-8, 1e-8).")
@click.option("--weight-decay", "weight_decay", metavar="L",
              help="weight decay λ: torch's coupled g + λ·θ (every optimizer but adamw, default 0); adamw's decoupled θ − η·λ·θ (default 0.01, torch's).")
@click.option("--state", "state", multiple=True, metavar="NAME:x=…[,y=…] | step=N",
              help="The optimizer's starting state instead of torch's zeros (repeat for several): momentum v (torch's momentum_buffer) "
                   "or previous, the iterate before --start (heavy ball: v₀ = (θ₋₁ − θ₀)/α); adagrad G (sum); rmsprop s (square_avg); "
                   "adam, adamw m, v (exp_avg, exp_avg_sq) and step=N, the steps already taken (the first update reads t = N + 1). "
                   "A variable not given starts at 0 (previous: at its start value).")
def descend(expr: str, start: str, lr: str, steps: int, fmt: str, out: str | None, plot: str | None, written: int, every: int, digits: int,
            e_variable: bool, optimizer: str, beta: str | None, nesterov: bool, alpha: str | None, beta1: str | None, beta2: str | None,
            eps: str | None, weight_decay: str | None, state: tuple[str, ...]) -> None:
    """Gradient descent on EXPR: one row per iterate, the first updates written out.

    \b
    Examples:
      tracer descend "theta^2" --start theta=-4 --lr 0.1 --steps 3
      tracer descend "theta^2" --start theta=-4 --lr 1.5 --steps 3      (diverges)
      tracer descend "(x^2 + y - 11)^2 + (x + y^2 - 7)^2" --start x=4,y=0 --lr 0.01 --steps 200 --every 20 --plot path.svg
      tracer descend "x^2" --start x=-4 --lr 0.1 --steps 3 --optimizer momentum --beta 0.9
      tracer descend "x^2" --start x=-4 --lr 0.1 --steps 20 --optimizer sgd,momentum,adam --show 2 --plot paths.svg
      tracer descend "x^2 + x y + 2y^2" --start x=1,y=1 --lr 0.1 --steps 1 --optimizer momentum --beta 0.5 --state previous:x=1.5,y=2
        (heavy ball from the current iterate x=1, y=1 and the previous one x=1.5, y=2)
    """
    fmt = format_for(fmt, out, FORMATS)
    refuse_contradicting_suffix(out, fmt, "descend")
    try:
        with time_limit(SECONDS, "to read the expression"):
            program = _program("descend", expr, e_variable)
    except WorkLimitExceeded as err:
        fail("descend", "EXPR", str(err))
    function = program.substituted()
    variables = program.free_variables()
    symbols = {v.name: v for v in program.variables}
    if not variables:
        fail("descend", "EXPR", "the expression has no variable to descend on")
    point = _assignments("descend", "--start", start, symbols, variables)
    try:
        rate = float(parse_number(lr))
    except ExpressionError as err:
        fail("descend", "--lr", str(err))
    except (TypeError, ValueError):
        fail("descend", "--lr", f"'{lr}' is not a real number")
    if not (math.isfinite(rate) and rate > 0):
        fail("descend", "--lr", f"the learning rate must be a positive number, got {lr}")
    specs = _optimizer_specs(optimizer, {"beta": beta, "alpha": alpha, "beta1": beta1, "beta2": beta2, "eps": eps,
                                       "weight_decay": weight_decay}, nesterov)
    if plot is not None and Path(plot).suffix.lower() not in (".svg", ".tex", ".pgf"):
        fail("descend", "--plot", f"{plot}: use a .svg file (SVG) or a .tex file (pgfplots)")
    if plot is not None and len(variables) > 2:
        fail("descend", "--plot", "a plot needs a function of one or two variables")
    start_values = {}
    for v, value in point.items():
        try:
            start_values[v] = evaluate(value, {})  # the nearest float
        except OutOfDoubleRange:
            fail("descend", "--start", f"the value of {v.name} is outside the range of double precision (magnitudes 2.2e-308 to 1.8e308)")
        if not isinstance(start_values[v], float):
            fail("descend", "--start", "every start value must be a real number")
    start_state = _start_state(state, specs, variables)
    if start_state.given and specs[0].plain:
        fail("descend", "--state", "plain gradient descent (sgd) keeps no state: give --optimizer momentum, adagrad, rmsprop, adam or adamw")
    try:
        descents = [run_descent(function, start_values, rate, steps, name=program.name, optimizer=spec, state=start_state) for spec in specs]
    except OptimizerMismatch as err:
        fail("descend", "--optimizer", f"verification failed: {err}", 1)
    except ValueError as err:  # WorkLimitExceeded too
        fail("descend", "EXPR", str(err))
    except RecursionError:
        fail("descend", "EXPR", "expression nested too deeply")
    if any(d.stopped_at == 0 for d in descents):
        # not a learning rate too large: there is no finite number to start from
        fail("descend", "--start", f"the function or its gradient at {start.strip()} cannot be computed in double precision (a value on the way is undefined or beyond its range)")
    page = descent_page(descents, digits, written, every) if fmt == "html" else render_descents(descents, fmt, digits, written, every)
    write_output(page, out, "descend")
    if plot is not None:
        figure = descents_svg(descents) if Path(plot).suffix.lower() == ".svg" else descents_pgfplots(descents) + "\n"
        try:  # whole or not at all: a temporary file, then a rename (tracer.files)
            write_atomically(plot, figure)
        except FileRefused as err:
            fail("descend", "--plot", f"{plot}: {err}")
        click.echo(f"wrote {plot}", err=True)
