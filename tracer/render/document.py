"""Turn a solution into a document: a view model of ready strings, laid out by Jinja.

The view model is built here with :mod:`tracer.latex` (the one formatting code);
templates only lay it out. Equations are numbered in reading order and a step that
uses an earlier one says so ("from (12)"). Formats: ``text`` (Unicode, terminal),
``md`` (Markdown with ``$$`` display math for MathJax/GitHub), ``tex`` (a LaTeX
handout), ``pdf`` (the handout compiled by latexmk, without shell escape), ``html`` (one
self-contained page: the LaTeX typeset as MathML by :mod:`tracer.render.mathml`).
"""

from __future__ import annotations

import functools
from urllib.parse import quote

import shutil
import subprocess
import tempfile
from itertools import product
from pathlib import Path
from typing import Iterable

import jinja2
from markupsafe import Markup

from tracer import notation as themes
from tracer.notation import graph as graph_names
from tracer.notation import optimizer as optimizer_letters
from tracer import keys
from tracer.core import optimizers
from tracer.keys import Key, Quantity
from tracer.core.solution import Expression, Section, Solution, Step, dependencies, refs_of
from tracer.render.feature_maps import feature_map_views
from tracer.render.recurrent import recurrent_views
from tracer.render.unrolled import recurrent_stack, unrolled_layout
from tracer.files import FileRefused, write_atomically
from tracer.spec import Problem
from tracer.render import circuit
from tracer.render import derivations as derivation_views_
from tracer.render import conv_figure, edge_labels, extensions, i18n, mathml, matrix, network
from tracer.numbers import DEFAULT_DIGITS, fmt
from tracer.render.step_printer import Printer, escape_markdown, escape_tex, substituted_parts, symbolic_parts, tex_width, yaml_quoted
from tracer.render.user_text import PDF_ENGINES, escape_markdown_text, escape_mathjax_html, unicode_engine_needed  # noqa: F401
from tracer.render.views import LINE_EM, TAG_EM, EquationView, SectionView, StepView


class RenderError(RuntimeError):
    """A document could not be produced (e.g. LaTeX failed); ``code`` is the exit code."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def template_dir() -> Path:
    """Installed wheels carry the templates inside the package; a source tree has them at the top."""
    packaged = Path(__file__).resolve().parent.parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.parent / "templates"


def environment(kind: str, language: str = "en") -> jinja2.Environment:
    """One Jinja environment per kind and language, built once: it caches its compiled templates, so
    a quiz key of 1,000 solutions compiles each template once, not 1,000 times. Its ``_`` is the
    language's gettext (:mod:`tracer.render.i18n`): ``_("Forward pass")``, ``_("Training step %(step)s", step=2)``."""
    return _environment(kind, language)


@functools.lru_cache(maxsize=None)
def _environment(kind: str, language: str) -> jinja2.Environment:
    env = _plain_environment(kind)
    env.globals["_"] = i18n.gettext_markup(language) if kind == "page" else i18n.gettext(language)
    env.globals["language"] = language
    # a list of numbers written with decimal commas is separated by semicolons (0,05; 0,1), rows by slashes
    env.globals["list_sep"] = "; " if i18n.decimal_comma(language) else ", "
    env.globals["row_sep"] = " / " if i18n.decimal_comma(language) else "; "
    return env


def _plain_environment(kind: str) -> jinja2.Environment:
    common = dict(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    if kind == "page":  # the web page (-f html), autoescaped: text from a problem file is inert; MathML and SVG come as Markup
        # every string a template writes is escaped, and its \ and $ each in a <span>, so that a
        # MathJax or KaTeX the page is shown under finds no delimiter in a title (`\(x\)`, `$$`)
        env = jinja2.Environment(**{**common, "autoescape": True, "finalize": _inert_in_page})
        env.filters.update(mathml.FILTERS)
        env.filters["plain"] = lambda text: Markup.escape(text)  # <title>: text only, no element allowed
        return env
    if kind == "tex":
        return jinja2.Environment(
            block_start_string=r"\BLOCK{",
            block_end_string="}",
            variable_start_string=r"\VAR{",
            variable_end_string="}",
            comment_start_string=r"\#{",
            comment_end_string="}",
            line_statement_prefix="%%",
            line_comment_prefix="%#",
            **common,
        )
    return jinja2.Environment(**common)


def _inert_in_page(value):
    return escape_mathjax_html(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def printer_for(problem: Problem, dialect: str, notation: str | None, digits: int, language: str = "en") -> Printer:
    """Text: canonical names unless a theme is asked for (then the source's plain names where
    it has them); LaTeX: the theme asked for, or the file's. ``language``: German and Spanish
    write a decimal comma."""
    comma = i18n.decimal_comma(language)
    if problem.notation == "graph":  # a graph problem's nodes keep their own names
        return Printer(dialect, graph_names.names_view(dialect), digits, comma)
    if dialect == "text" and notation is None:
        return Printer("text", digits=digits, comma=comma)
    if dialect == "text":
        return Printer("text", themes.theme(notation, problem).text_names_view(), digits, comma)
    name = notation or problem.notation
    return Printer("latex", themes.theme(name, problem).names_view(), digits, comma)


class DocumentBuilder:
    """The view model of a solution. ``scalar``: write its steps (False: the matrix form replaces
    them); ``keep``: only these steps (``--only``), without the closing pass."""

    def __init__(self, solution: Solution, printer: Printer, detail: str = "standard", *, scalar: bool = True, keep: set[Key] | None = None,
                 language: str = "en"):
        self.language = language
        self.solution = solution
        self.p = printer
        self.detail = detail
        self.scalar = scalar
        self.keep = keep
        self.numbers: dict[str, int] = {}
        self.latex = printer.dialect == "latex"
        # the plain-text rendering measures an equation's width (fractions print narrower)
        self.measure = Printer("text", digits=printer.digits) if self.latex else None

    def equation(self, step: Step) -> EquationView:
        number = len(self.numbers) + 1
        self.numbers[step.id] = number
        refs = sorted({self.numbers[r] for r in refs_of(step.form) if r in self.numbers})
        value = self.p.number(step.value)
        symbolic: list[str] = []
        substituted: list[str] = []
        if self.detail != "brief":
            symbolic = self.p.symbolic_parts(step)
            substituted = self.p.substituted_parts(step)
            if symbolic == [value]:
                symbolic = []
            if substituted in ([value], symbolic):
                substituted = []
        derivation: list[str] = []
        form = step.form
        if self.detail == "full" and isinstance(form, Expression) and form.derivation is not None and form.wrt is not None:
            derivation = self.derivation_lines(step)
        shortcut = [" ".join(symbolic_parts(step.shortcut, self.p)), " ".join(substituted_parts(step.shortcut, self.p))] \
            if step.shortcut is not None and self.detail != "brief" else []
        eq = EquationView(number, self.p.target(step.target), [], [], value, refs, step.note, derivation, step.id, parts=(symbolic, substituted),
                          shortcut=shortcut)
        if self.latex:
            layout(eq, tex_width(eq.lhs))
        else:
            eq.symbolic = [" ".join(symbolic)] if symbolic else []
            eq.substituted = [" ".join(substituted)] if substituted else []
        return eq

    def derivations(self) -> list:
        """``--detail full``: each activation's and the loss term's derivative, derived once (tracer.calculus)."""
        if self.detail != "full":
            return []
        return derivation_views_.derivation_views(self.solution, "tex" if self.latex else "text")

    def derivation_lines(self, step: Step) -> list[str]:
        """The local equation and SymPy's derivative of it, before it is written in textbook form."""
        form = step.form
        assert isinstance(form, Expression) and form.wrt is not None
        if form.local_equation is None:  # a weighted sum too long to write whole (a wide layer, a kernel's window)
            return []
        # the quantities of the step's own sample, as the step writes them (y[2]#1, not y[2])
        sample = step.key.sample
        names = {symbol: self.p.names.quantity(key if key.is_parameter else key.of_sample(sample)) for symbol, key in form.names}  # type: ignore[operator]
        names.update({b.symbol: self.p.names.quantity(b.target) for b in form.bindings})  # type: ignore[operator]
        wrt = names[form.wrt]
        lines: list[str] = []
        if form.local_equation is not None:
            eq = self.p.expression(form.local_equation, names)
            result = self.p.expression(form.derivation, names)
            if self.latex:
                head = rf"\text{{derived: }} \frac{{\partial}}{{\partial {wrt}}}\bigl({eq}\bigr)"
                lines = _split_wide(f"{head} = {result}", LINE_EM - 6.0)
                if max(tex_width(line) for line in lines) > LINE_EM - 6.0:  # break at the "=" too
                    lines = _split_wide(head, LINE_EM - 6.0) + _split_wide(f"= {result}", LINE_EM - 6.0)
            else:
                lines.append(f"d/d{wrt} ({eq}) = {result}")
        return lines

    def sections(self, sections: Iterable[Section]) -> list[SectionView]:
        out = []
        for section in sections:
            title = section.title
            if section.sample is not None:
                title += f" (sample {section.sample})"
            title = i18n.title(title, self.language)
            shown = [step for step in section.steps if self.keep is None or step.key in self.keep]
            if not shown:
                continue
            equations = [self.equation(step) for step in shown]
            if self.latex and equations:
                # one align* per section: its first column is as wide as the widest lhs
                column = max(tex_width(eq.lhs) for eq in equations)
                for eq in equations:
                    layout(eq, column)
            out.append(SectionView(title, equations))
        return out

    def build(self) -> dict:
        sol = self.solution
        steps = []
        for ts in sol.steps:
            written = ts.derived and self.scalar
            steps.append(StepView(ts.number, ts.derived, self.sections(ts.sections) if written else [], self.p.number(ts.loss)))
        closing = self.sections(sol.closing) if (self.scalar and self.keep is None) else []
        first_loss = sol.steps[0].loss if sol.steps else (sol.run.records[0].loss if sol.run else sol.loss_after)  # type: ignore[attr-defined]
        return {
            "title": getattr(sol.problem, "title", "") or "Backpropagation, step by step",  # escaped per format in render()
            "description": sol.problem.describe(),  # type: ignore[attr-defined]
            "notes": list(sol.notes),
            "steps": steps,
            "feature_maps": feature_map_views(sol, self.p) if (self.scalar and self.keep is None and isinstance(sol, Solution)) else [],
            "unrolled": unrolled_layout(sol) if (self.keep is None and isinstance(sol, Solution)) else None,
            "unrolled_title": "The recurrent layers unrolled in time" if recurrent_stack(sol.problem) > 1 else "The recurrent layer unrolled in time",
            "closing": closing,
            "loss_before": self.p.number(first_loss),
            "loss_after": self.p.number(sol.loss_after),
            "loss_change": _loss_change(sol, first_loss),
            "verification": verification_view(sol, self.p.digits, self.p.dialect),
            "digits": self.p.digits,
            "rate": self.p.names.rate,
            "learning_rate": self.p.number(sol.problem.training.learning_rate),  # type: ignore[attr-defined]
            "numeric_steps": [(ts.number, self.p.number(ts.loss)) for ts in sol.steps if not ts.derived],
            "derivations": self.derivations(),
            "extensions": _extension_view(sol, self.p, self.numbers),  # δ form, training run, perceptron (issue 6)
            "optimizer": optimizer_view(sol.problem, self.p) if isinstance(sol, Solution) else None,
            "schedule": schedule_view(sol, self.p) if isinstance(sol, Solution) else None,
        }


def localized_description(problem: Problem, printer: Printer, language: str) -> str:
    """The document's opening line in the language: the network, its parameters, loss, data and
    training, as :meth:`tracer.spec.Problem.describe` says them in English."""
    _ = i18n.gettext(language)
    sizes = "-".join(str(n) for n in [problem.inputs] + [layer.units for layer in problem.layers])
    layers = ", ".join(_("layer %(number)s: %(text)s", number=l, text=_layer_text(layer)) for l, layer in enumerate(problem.layers, 1))
    message = "a %(sizes)s network (%(layers)s); %(params)s parameters, %(trained)s trained; loss %(kind)s; samples: %(samples)s; learning rate %(rate)s; steps: %(steps)s"
    text = _(message, sizes=sizes, layers=layers, params=len(problem.parameter_keys),
             trained=len(problem.trained_keys), kind=problem.loss.kind.replace("_", " "), samples=len(problem.data),
             rate=printer.number(problem.training.learning_rate).replace("{,}", ","), steps=problem.training.steps)
    return (f"{problem.title}: " if problem.title else "") + text


def optimizer_view(problem: Problem, printer: Printer) -> dict | None:
    """The optimizer's equations as the document states them once (θ, g = ∂loss/∂θ, the state of
    the step before ``m_{t−1}``, after ``m_t``), with its hyperparameters; None for plain
    gradient descent."""
    spec = problem.training.optimizer
    if spec.plain:
        return None
    rule = optimizers.rule(spec)
    latex = printer.dialect == "latex"
    theme_rate = printer.names.rate
    dialect = "latex" if latex else "text"
    letters = {name: optimizer_letters.state_letter(name, dialect) for name in optimizers.STATE}
    theta = optimizer_letters.THETA.latex if latex else optimizer_letters.THETA.plain  # any parameter: θ
    # training.clip: the rule reads the clipped gradient g̃
    gradient = optimizer_letters.state_letter("clipped", dialect) if problem.training.clip is not None else "g"
    names: dict = {optimizers.THETA: theta, optimizers.GRAD: gradient, optimizers.RATE: theme_rate, optimizers.T: "t"}
    if problem.training.schedule is not None:  # the rate of step t, as the schedule sets it
        names[optimizers.RATE] = f"{theme_rate}_{{t}}" if latex else f"{theme_rate}_t"
    for name in optimizer_letters.HYPERPARAMETERS:
        names[optimizers.HYPER[name]] = optimizer_letters.hyper_name(name, dialect)
    for name, letter in letters.items():
        names[optimizers.STATE[name]] = f"{letter}_{{t}}" if latex else f"{letter}_t"
        names[optimizers.previous(name)] = f"{letter}_{{t-1}}" if latex else f"{letter}_(t−1)"
    equations = []
    for equation in rule.equations:
        lhs = f"{theta}'" if equation.target == optimizers.AFTER else names[optimizers.STATE[equation.target]]
        equations.append(f"{lhs} = {printer.expression(equation.expression, names)}")
    values = []
    for name, value in optimizers.hyperparameters(spec).items():
        values.append(f"{optimizer_letters.hyper_name(name, dialect)} = {printer.number(value)}")
    states = [f"{letters[n]}_{{0}}" if latex else f"{letters[n]}_0" for n in rule.states]
    return {"title": rule.title, "equations": equations, "hyper": values, "states": states, "loss": printer.names.loss_name}


def schedule_view(solution: Solution, printer: Printer) -> dict | None:
    """``training.schedule`` as the document states it once (the engine's statement of it): the torch
    call, the rate η_t of update t in each stretch of the schedule (n the scheduler steps before the
    update), its constants; None without a schedule."""
    problem, statement = solution.problem, getattr(solution, "schedule", None)  # a graph problem's: none
    if statement is None:
        return None
    spec = problem.training.schedule
    latex = printer.dialect == "latex"
    dialect = "latex" if latex else "text"
    rate = printer.names.rate
    names: dict = {statement.base: rate, statement.n: "n", statement.k: "k"}
    for name, symbol in statement.constants.items():
        names[symbol] = (rf"{rate}_{{\min}}" if latex else f"{rate}_min") if name == "eta_min" else optimizer_letters.schedule_letter(name, dialect)
    lhs = f"{rate}_{{t}}" if latex else f"{rate}_t"
    le, ge = (r"\le", r"\ge") if latex else ("≤", "≥")
    w = names[statement.constants["warmup"]]
    total = names[statement.constants["total_iters"]]
    if spec.warmup:
        when = {"warmup": f"n < {w}", "main": f"{w} {le} n < {w} + {total}" if spec.name == "linear" else f"{w} {le} n",
                "flat": f"n {ge} {w} + {total}"}
    else:
        when = {"main": f"n < {total}" if spec.name == "linear" else "", "flat": f"n {ge} {total}"}
    equations = []
    for stretch, expression in statement.phases:
        text = f"{lhs} = {printer.expression(expression, names)}"
        condition = when[stretch]
        equations.append(text + (((r"\quad\text{for } " if latex else "  for ") + condition) if condition else ""))
    if spec.name == "multistep":
        milestones = ", ".join(str(m) for m in spec.milestones)
        shifted = (f"n - {w}" if latex else f"n − {w}") if spec.warmup else "n"
        equations.append(rf"k = \#\{{\text{{milestones}} \le {shifted}\}},\ \text{{milestones }} {milestones}" if latex
                         else f"k = the number of milestones ≤ {shifted} (milestones {milestones})")
    shown = {"step": ("step_size", "gamma"), "multistep": ("gamma",), "exponential": ("gamma",), "cosine": ("T_max", "eta_min"),
             "linear": ("start_factor", "end_factor", "total_iters")}[spec.name] + (("warmup", "warmup_factor") if spec.warmup else ())
    values = [f"{rate} = {printer.number(problem.training.learning_rate)}"]
    values += [f"{names[statement.constants[name]]} = {printer.number(float(getattr(spec, name)))}" for name in shown]
    n_is = ("t - 1" if latex else "t − 1") if spec.per == "step" else "the epochs finished before update t"
    if latex and spec.per != "step":
        n_is = r"\text{the epochs finished before update } t"
    return {"title": statement.title, "equations": equations, "hyper": values, "n": f"n = {n_is}", "per": spec.per}


def layout(eq: EquationView, lhs_column: float, line: float = LINE_EM) -> None:
    """Break an equation into rows that fit the page: ``lhs = symbolic = substituted = value``.

    Each layer (symbolic, substituted, value) joins the row before it when it fits, else
    starts a new row ``= …``; a layer too long for one row breaks between the terms of
    its sum (or the factors of a product), the continuation indented. Widths are
    estimated with :func:`tracer.latex.tex_width`; ``lhs_column`` is the width of the
    alignment's first column (the widest lhs of the block).
    """
    budget = line - lhs_column - 1.4  # "=" and its spacing
    refs = ("\\qquad \\text{\\footnotesize from " + ", ".join(f"({r})" for r in eq.refs) + "}") if eq.refs else ""
    closing = tex_width(refs) + TAG_EM
    if closing > budget:  # references too many for any row (a kernel weight's sum over positions): rows of their own
        eq.ref_rows = _ref_rows(eq.refs, budget - TAG_EM)
        closing = TAG_EM
    rows: list[list] = []  # [lead, text, width]
    symbolic, substituted = eq.parts
    layers = [p for p in (symbolic, substituted) if p] + [[eq.value]]
    # the textbook shortcut after the chain: = a − y = 0.15 − 1 = value, from a row of its own
    fresh = len(layers) if eq.shortcut else -1
    layers += [[part] for part in eq.shortcut] + ([[eq.value]] if eq.shortcut else [])
    for k, parts in enumerate(layers):
        last = k == len(layers) - 1
        pieces: list[str] = []
        for part in parts:
            pieces.extend(_split_wide(part, budget - 1.0))
        whole = " ".join(pieces)
        width = tex_width(whole)
        extra = closing if last else 0.0
        if rows and k != fresh and rows[-1][2] + 1.4 + width + extra <= budget:
            rows[-1][1] += " = " + whole
            rows[-1][2] += 1.4 + width
            continue
        if width + extra <= budget or len(pieces) == 1:
            rows.append(["=", whole, width])
            continue
        rows.append(["=", pieces[0], tex_width(pieces[0])])
        for piece in pieces[1:]:
            w = tex_width(piece)
            if rows[-1][2] + w + (closing if last and piece is pieces[-1] else 0.0) <= budget - (1.0 if rows[-1][0] == "+" else 0.0):
                rows[-1][1] += " " + piece
                rows[-1][2] += w
            else:
                rows.append(["+", piece, w])
    eq.rows = [(lead, text) for lead, text, _ in rows]
    eq.inline = len(rows) == 1
    # the three layers, for templates that show them whole (and for tests)
    eq.symbolic = [" ".join(symbolic)] if symbolic else []
    eq.substituted = [" ".join(substituted)] if substituted else []


def _ref_rows(refs: list[int], budget: float) -> list[list[int]]:
    """References grouped into rows that fit ``budget`` (as they print: ``from (12), (14), …``)."""
    rows: list[list[int]] = [[]]
    for r in refs:
        row = rows[-1] + [r]
        text = "\\qquad \\text{\\footnotesize from " + ", ".join(f"({k})" for k in row) + ",}"
        if rows[-1] and tex_width(text) > budget:
            rows.append([r])
        else:
            rows[-1] = row
    return rows


def _split_wide(part: str, budget: float) -> list[str]:
    """A piece of math too wide for a row, split before its top-level ``+``, ``-``, ``\\cdot``
    or ``\\times`` (never inside braces, a ``\\left…\\right`` pair or an environment: a
    row break inside ``\\begin{cases}…\\end{cases}`` is a LaTeX error)."""
    if tex_width(part) <= budget:
        return [part]
    cuts = []
    depth = 0
    i = 0
    while i < len(part):
        if part.startswith("\\begin{", i) or part.startswith("\\end{", i):
            depth += 1 if part[i + 1] == "b" else -1
            i = part.index("}", i) + 1  # the environment's name: its braces are not counted twice
            continue
        if part.startswith("\\left", i):
            depth += 1
            i += 5
            continue
        if part.startswith("\\right", i):
            depth -= 1
            i += 6
            continue
        ch = part[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and i > 0 and part[i - 1] == " ":
            for op in ("+ ", "- ", "\\cdot ", "\\times "):
                if part.startswith(op, i):
                    cuts.append(i)
                    break
        i += 1
    if not cuts:
        return [part]
    pieces = []
    start = 0
    for cut in cuts:
        pieces.append(part[start:cut].strip())
        start = cut
    pieces.append(part[start:].strip())
    # re-join neighbours while they fit, so that a product breaks only where it must
    out = [pieces[0]]
    for piece in pieces[1:]:
        if tex_width(out[-1] + " " + piece) <= budget:
            out[-1] += " " + piece
        else:
            out.append(piece)
    return out


def _extension_view(sol: Solution, printer: Printer, numbers: dict[Key, int]) -> dict:
    return extensions.extension_view(sol, printer, numbers)


def _loss_change(sol: Solution, first_loss: float) -> str:
    """What the closing sentence says: no_step (steps: 0), decreased, unchanged or increased."""
    if not sol.steps and getattr(sol, "run", None) is None:
        return "no_step"
    if sol.loss_after < first_loss:
        return "decreased"
    return "unchanged" if sol.loss_after == first_loss else "increased"


def verification_view(sol: Solution, digits: int, dialect: str = "text") -> dict:
    v = sol.verification
    if v is None:
        return {"done": False}
    return {
        "done": True,
        "ok": v.ok,
        "quantities": v.quantities,
        "max_abs_diff": fmt(v.max_abs_diff, 2, dialect),
        "fd_checked": v.finite_difference_checked,
        "fd_max_diff": fmt(v.finite_difference_max_diff, 2, dialect),
        "mismatches": [f"{m.quantity}: engine {m.engine!r}, {m.against} {m.reference!r}" for m in v.mismatches],
        "fd_skipped": [f"{_listed(s.names)} ({s.reason})" for s in getattr(v, "skipped", ())],
        "digits": digits,
    }


def _listed(names, shown: int = 8) -> str:
    """``W1[1,1], W1[1,2], b1[1]``; a long list cut after ``shown`` names, with the count."""
    if len(names) <= shown:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f", … ({len(names)} in all)"


# ---------------------------------------------------------------------------
# The problem statement: parameters, data, the network drawn.
# ---------------------------------------------------------------------------


def statement_view(problem: Problem, printer: Printer, escape, language: str = "en", fmt_: str = "tex") -> dict:
    """The problem as a document states it. ``fmt_``: where its numbers stand — the samples are text
    in md and html (math in tex), the parameters' values text in md (math in tex, MathML in html) —
    so that a decimal comma is written for text (0,5) or for TeX's math (0{,}5)."""
    _ = i18n.gettext(language)

    def text(value: float) -> str:
        return printer.number(value).replace("{,}", ",")

    value_of = text if fmt_ == "md" else printer.number
    sample_number = text if fmt_ in ("md", "html") else printer.number
    params = problem.parameters()  # type: ignore[attr-defined]
    trainable = set(problem.trained_keys)
    rows = []
    for key, value in params.items():
        rows.append({"name": printer.target(key), "value": value_of(value), "trained": key in trainable})
    samples = []
    ellipsis = r"\ldots" if escape is escape_tex else "…"
    data = list(enumerate(problem.data, 1))  # type: ignore[attr-defined]
    shown = data if len(data) <= SAMPLE_ROWS else data[:SAMPLE_HEAD] + data[-SAMPLE_TAIL:]
    for s, sample in shown:
        if s == len(data) - SAMPLE_TAIL + 1 and len(shown) < len(data):
            samples.append({"number": ellipsis, "x": [ellipsis], "y": [ellipsis], "label": None, "x_rows": None})
        samples.append(
            {
                "number": s,
                # an image or a sequence is the problem itself (a quiz sheet must give all of it): shown whole up to 100
                "x": _elided([sample_number(v) for v in sample.x], ellipsis, 100 if problem.layered else 8),  # type: ignore[attr-defined]
                "y": _elided([sample_number(v) for v in sample.y], ellipsis),
                "label": sample.label,
                # an image row by row (each channel's rows in turn), a sequence step by step
                "x_rows": _rows([sample_number(v) for v in sample.x], problem) if problem.layered else None,  # type: ignore[attr-defined]
            }
        )
    layers = []
    for l, layer in enumerate(problem.layers, 1):  # type: ignore[attr-defined]
        layers.append({"number": l, "units": layer.units, "activation": layer.activation.name, "described": _layer_text(layer)})
    loss = problem.loss  # type: ignore[attr-defined]
    return {
        "parameters": rows,
        "samples": samples,
        "inputs": problem.inputs,  # type: ignore[attr-defined]
        "outputs": problem.layers[-1].units,  # type: ignore[attr-defined]
        "layers": layers,
        "loss_kind": loss.kind.replace("_", " "),
        "loss_detail": (_("factor %(factor)s", factor=text(loss.factor)) if loss.kind == "mse" else
                        _("margin 1") if loss.kind == "hinge" else _("log %(log)s", log=loss.log))
        + _(", outputs %(outputs)s, samples %(samples)s", outputs=_(loss.outputs), samples=_(loss.samples))
        + "".join(_(", %(name)s penalty %(value)s on the weights", name=name, value=text(value))
                  for name, value in (("L2", loss.l2), ("L1", loss.l1)) if value),
        # what a step does: plain gradient descent or the optimizer (named as the solution states it)
        "update_rule": ((_("gradient-descent") if problem.training.optimizer.plain else problem.training.optimizer.described())  # type: ignore[attr-defined]
                        + (f" (schedule {escape(problem.training.schedule.described())})" if problem.training.schedule is not None else "")),  # type: ignore[attr-defined]
        "samples_total": len(data),
        "samples_hidden": len(data) - len(shown),
        "order": _(problem.training.order),  # type: ignore[attr-defined] (simultaneous, sequential)
        "steps": problem.training.steps,  # type: ignore[attr-defined]
        "input_names": [printer.target(key) for key in _input_keys(problem)],
        "target_names": [printer.target(key) for key in _target_keys(problem)],
    }


def _rows(values: list[str], problem) -> list[list[str]] | None:
    """A sample's x in the rows of its shape (up to 100 numbers; None: shown as a list)."""
    shape = problem.input_shape
    if not shape or len(values) > 100:
        return None
    width = shape[-1]
    return [values[k:k + width] for k in range(0, len(values), width)]


def _input_keys(problem) -> list[Quantity]:
    """The inputs in the order a sample lists them: x[1], x[2] …; an image's x[c,i,j], a sequence's x[t,i]."""
    shape = problem.input_shape or (problem.inputs,)
    return [Quantity("x", None, tuple(i + 1 for i in index)) for index in product(*(range(n) for n in shape))]


def _target_keys(problem) -> list[Quantity]:
    outputs = problem.layers[-1].units
    shape = (problem.target_steps, outputs) if problem.target_steps else (outputs,)
    return [Quantity("y", None, tuple(i + 1 for i in index)) for index in product(*(range(n) for n in shape))]


def _layer_text(layer) -> str:
    """A layer as a problem statement lists it: ``3 × sigmoid``, ``conv2d: 2 filters 3×3, stride 2, padding 1, tanh``."""
    def pair(value: tuple[int, int]) -> str:  # 2, or (1, 2) as torch prints a pair
        return str(value[0]) if value[0] == value[1] else f"({value[0]}, {value[1]})"

    more = "".join([f", dilation {pair(layer.dilation)}" if layer.dilation != (1, 1) else "", ", ceil_mode" if layer.ceil_mode else ""])
    if layer.kind == "conv2d":
        return (f"conv2d: {layer.units} filter{'s' if layer.units > 1 else ''} {layer.kernel[0]}×{layer.kernel[1]}, "
                f"stride {pair(layer.stride)}, padding {pair(layer.padding)}{more}, {layer.activation.name}")
    if layer.kind in ("maxpool2d", "avgpool2d"):
        padding = f", padding {pair(layer.padding)}" if layer.padding != (0, 0) else ""
        return f"{layer.kind} {layer.kernel[0]}×{layer.kernel[1]}, stride {pair(layer.stride)}{padding}{more}"
    if layer.kind == "flatten":
        return "flatten"
    if layer.kind == "rnn":
        return f"rnn: {layer.units} × {layer.activation.name}, outputs {layer.returns}"
    return f"{layer.units} × {layer.activation.name}" + (" at every time step" if layer.per_step else "")


#: a data set longer than SAMPLE_ROWS is shown as its first SAMPLE_HEAD and last SAMPLE_TAIL samples
SAMPLE_ROWS, SAMPLE_HEAD, SAMPLE_TAIL = 24, 10, 2


def _elided(values: list[str], ellipsis: str, show: int = 8) -> list[str]:
    """A long vector (784 pixels) as its first three entries, an ellipsis and the last."""
    if len(values) <= show:
        return values
    return values[:3] + [ellipsis] + values[-1:]


def diagram_view(solution: Solution, printer: Printer, max_units: int = 8) -> dict | None:
    """Node positions and labelled edges for the figure (TikZ, or the web page's SVG); None when too wide.

    As source 002's figure: inputs on the left, a column per layer, each unit named in
    the theme's notation, each weight's name and value on its edge (near its start,
    along it, so that crossing edges keep their labels apart), the biases under their
    layer. Edge labels are left out beyond 18 edges (the parameter table has them).
    """
    problem = solution.problem
    if problem.layered:  # type: ignore[attr-defined]
        return None  # a dense network's figure: conv, pooling and recurrent layers are shown as feature maps and equations
    sizes = [problem.inputs] + [layer.units for layer in problem.layers]  # type: ignore[attr-defined]
    if max(sizes) > max_units:
        return None
    params = problem.parameters()  # type: ignore[attr-defined]
    dense = any(sizes[l] * sizes[l - 1] > 4 for l in range(1, len(sizes)))  # more edges: longer, to keep labels apart
    step_x = min(6.5 if dense else 5.2, 15.0 / max(len(sizes) - 1, 1))
    step_y = {1: 2.0, 2: 2.6, 3: 2.3, 4: 1.9}.get(max(sizes), 1.5)  # 2 × 2: room beside the crossing edges for their labels
    nodes, edges, biases = [], [], []
    symbol = printer.names.symbol
    assert symbol is not None, "a diagram names its units in a theme's notation"
    for l, n in enumerate(sizes):
        for j in range(1, n + 1):
            unit = symbol(keys.a(l, j))
            if tex_width(unit.latex()) > 2.6 and unit.sup:
                unit = unit.without_sup()  # N_1^{output} → N_1: the unit, as the neuron theme's figure names it
            y = step_y * ((n - 1) / 2 - (j - 1))  # unit 1 on top, each layer centred
            nodes.append({"id": f"n{l}_{j}", "x": round(step_x * l, 3), "y": round(y, 3), "label": unit.latex()})
        if l == 0:
            continue
        layer = problem.layers[l - 1]  # type: ignore[attr-defined]
        if layer.bias is not None:
            names = [keys.b(l)] if layer.shared_bias else [keys.b(l, j) for j in range(1, n + 1)]
            if len(names) <= 3:
                lines = [f"{printer.target(b)} = {printer.number(params[b])}" for b in names]
                biases.append({"x": round(step_x * l, 3), "y": round(-step_y * (n - 1) / 2 - 0.75, 3), "lines": lines})
    count = sum(sizes[l] * sizes[l - 1] for l in range(1, len(sizes)))
    for l in range(1, len(sizes)):
        for j in range(1, sizes[l] + 1):
            for i in range(1, sizes[l - 1] + 1):
                name = keys.W(l, j, i)
                weight = symbol(name)
                rise = ((sizes[l - 1] - 1) / 2 - (i - 1)) * -1 + ((sizes[l] - 1) / 2 - (j - 1))  # target y − source y, in rows
                edges.append(
                    {
                        "source": f"n{l - 1}_{i}",
                        "target": f"n{l}_{j}",
                        "label": weight.latex(),
                        "value": printer.number(params[name]),
                        # a level edge has its label in the middle; a slanted one near its start,
                        # on the side away from the edges it crosses
                        "pos": _label_pos(i, j, sizes[l - 1], sizes[l], rise),
                        # (TikZ's sloped "above" of an edge going down lies under it): in a 2×2 layer
                        # both slanted labels sit under their edges; elsewhere a pair arriving at one
                        # unit is split, the upper edge's label over it, the lower one's under it
                        "side": ("above" if rise < 0 else "below") if sizes[l - 1] == sizes[l] == 2 and abs(rise) > 1e-9
                        else "above" if abs(rise) < 1e-9 or i - 1 < sizes[l - 1] / 2 else "below",
                    }
                )
    if count <= 18:  # each label beside its edge, clear of the other edges, the units and the other labels
        where = {n["id"]: (n["x"], n["y"]) for n in nodes}
        widths = [edge_labels.label_width(tex_width(f"{e['label']} = {e['value']}")) for e in edges]
        for edge, (pos, side) in zip(edges, edge_labels.place(where, edges, widths)):
            edge["pos"], edge["side"] = pos, side
    return {"nodes": nodes, "edges": edges, "biases": biases, "labelled": count <= 18, "width": step_x * (len(sizes) - 1),
            "gap": f"{edge_labels.GAP * 28.45:.1f}pt"}


def _label_pos(i: int, j: int, sources: int, targets: int, rise: float) -> float:
    """Where along edge i → j its label goes, so that labels of crossing edges stay apart.

    Level edges: the middle. Between two 2-unit layers (Mazur's figure): the slanted
    edges near their start, the second one further along. Otherwise near the target,
    where the edges into each unit arrive one above the other in source order.
    """
    if sources == targets == 2:
        if abs(rise) < 1e-9:
            return 0.7  # past the slanted edges' labels
        return 0.3
    if abs(rise) < 1e-9:
        return 0.5
    return 0.78  # near the target: the edges into one unit arrive in order, their labels stacked


# ---------------------------------------------------------------------------


def render(
    solution: Solution,
    fmt_: str,
    *,
    notation: str | None = None,
    detail: str = "standard",
    digits: int = DEFAULT_DIGITS,
    form: str = "scalar",
    only: list[str] | None = None,
    diagram_file: str | None = None,
    anchor: str | None = None,
    language: str | None = None,
) -> str:
    """A whole document in ``text``, ``md``, ``tex`` or ``html``.

    ``diagram_file`` (md): the network's figure is that SVG file beside the document
    (:func:`network_figure` writes it), referenced by its name; without it the SVG is inline.
    ``form="matrix"`` writes the layer-by-layer matrix (δ) form instead of one equation
    per scalar; ``only`` keeps, of the scalar form, just what the named parameters'
    gradients and updates need (``["W2", "b2"]`` or ``["dloss/dW1[1,1]"]``).
    ``anchor`` (html): not a page but its content, every id starting with it (``"v3-"``): one
    variant's worked solution in a quiz key. ``language`` (default: the problem file's): the fixed
    words' (:mod:`tracer.render.i18n`).
    """
    keep = _kept(solution, only) if only else None
    lang = language or getattr(solution.problem, "language", "en")
    _ = i18n.gettext(lang)
    if fmt_ == "text":
        printer = printer_for(solution.problem, "text", notation, digits, lang)
        view = DocumentBuilder(solution, printer, detail, keep=keep, language=lang).build()
        return environment("text", lang).get_template("solution.txt.j2").render(**view)
    printer = printer_for(solution.problem, "latex", notation, digits, lang)
    if form == "matrix" and getattr(solution.problem, "layered", False):
        # conv, pooling and rnn layers in matrix form: their feature maps as (elided) grids, with
        # ∂J/∂W = x ⋆ δ and ∂J/∂a = δ ⊛ rot180(W); an rnn step by step, δ_t = f'(z_t) ⊙ (…); no
        # equation per scalar
        view = DocumentBuilder(solution, printer, detail, scalar=False, language=lang).build()
        view["steps"], view["closing"] = [], []
        view["feature_maps"] = recurrent_views(solution, printer) + feature_map_views(solution, printer)  # the rnn layers stand lowest
    elif form == "matrix":
        view = DocumentBuilder(solution, printer, detail, scalar=False, language=lang).build()
        builder = matrix.MatrixBuilder(solution, Printer("latex", printer.names, digits, printer.comma))
        view["steps"] = [StepView(1, True, builder.sections(), printer.number(solution.steps[0].loss if solution.steps else solution.loss_after))]
        view["closing"] = [SectionView(_("Loss after the update"), [EquationView(builder.number + 1, printer.target(keys.LOSS_AFTER), [], [], printer.number(solution.loss_after), [], rows=[("=", printer.number(solution.loss_after))])])]
    else:
        view = DocumentBuilder(solution, printer, detail, keep=keep, language=lang).build()
    if lang != "en" and isinstance(solution.problem, Problem):
        view["description"] = localized_description(solution.problem, printer, lang)
    if fmt_ in ("md", "tex"):
        escape = escape_markdown if fmt_ == "md" else escape_tex  # text from the problem file is inert in the document
        view["title_yaml"] = yaml_quoted(escape_markdown_text(view["title"]))  # the page's name, which pandoc reads as Markdown
        view["title"] = escape(view["title"])
        view["description"] = escape(view["description"])
        view["notes"] = [escape(n) for n in view["notes"]]
        if view.get("schedule") and fmt_ == "tex":  # md: a code span, written as it is (our own words and numbers)
            view["schedule"] = {**view["schedule"], "title": escape(view["schedule"]["title"])}
        perceptron_ = view["extensions"].get("perceptron")
        if perceptron_ is not None:  # prose: "0 for z < 0" is "0 for z ¡ 0" in LaTeX's text font unless escaped
            perceptron_["explanation"] = escape(perceptron_["explanation"])
        if view["verification"].get("done"):
            view["verification"]["fd_skipped"] = [escape(s) for s in view["verification"]["fd_skipped"]]
        _escape_derivations(view, escape)
        view["statement"] = statement_view(solution.problem, printer, escape, lang, fmt_)
        diagram = diagram_view(solution, printer)
        convolution = conv_figure.conv_figure_view(solution, printer) if diagram is None and isinstance(solution, Solution) else None
        view["convolution"] = convolution if fmt_ == "tex" else None
        view["diagram_caption"] = escape(convolution["caption"]) if convolution else ""
        view["diagram"] = diagram if fmt_ == "tex" else None  # md: the html page's SVG, not a Mermaid block
        view["diagram_file"] = quote(diagram_file) if (diagram_file and diagram is not None and fmt_ == "md") else ""
        view["diagram_svg"] = network.svg(diagram, standalone=True) if (diagram is not None and fmt_ == "md" and not diagram_file) else ""
        if convolution is not None and fmt_ == "md":
            view["diagram_svg"] = conv_figure.svg(convolution)
        layout = view.pop("unrolled", None)
        view["unrolled_tikz"] = circuit.tikz(layout) if (layout is not None and fmt_ == "tex") else ""
        view["unrolled_svg"] = circuit.svg(layout, id_prefix="unrolled") if (layout is not None and fmt_ == "md") else ""
        view["source"] = escape(getattr(solution.problem, "source", ""))
        return environment(fmt_, lang).get_template(f"solution.{fmt_}.j2").render(**view)
    if fmt_ == "html":  # not escaped here: the page environment escapes every string it writes
        view["statement"] = statement_view(solution.problem, printer, lambda s: s, lang, "html")
        diagram = diagram_view(solution, printer)
        ids = svg_id(anchor)
        view["diagram_svg"] = network.svg(diagram, id_prefix=f"{ids}network") if diagram is not None else ""
        convolution = conv_figure.conv_figure_view(solution, printer) if diagram is None and isinstance(solution, Solution) else None
        view["diagram_caption"] = convolution["caption"] if convolution else ""
        if convolution is not None:
            view["diagram_svg"] = conv_figure.svg(convolution)
        layout_ = view.pop("unrolled", None)
        view["unrolled_svg"] = Markup(circuit.svg(layout_, id_prefix=f"{ids}unrolled")) if layout_ is not None else ""
        view["mathml"] = equation_mathml(_equations(view), lambda: _text_equations(solution, detail, digits, keep, form))
        if anchor is not None:
            return environment("page", lang).get_template("_solution_body.html.j2").render(**view, anchor=anchor)
        return environment("page", lang).get_template("solution.html.j2").render(**view)
    raise ValueError(f"unknown format {fmt_!r}")


def svg_id(anchor: str | None) -> str:
    """The start of an inline SVG's ids (its arrowhead's) for a page's content with ids starting
    with ``anchor``: ``"v3-"`` → ``"v3"`` (SVG ids here are [A-Za-z0-9]+)."""
    return "".join(ch for ch in (anchor or "") if ch.isascii() and ch.isalnum())


def network_figure(solution: Solution, *, notation: str | None = None, digits: int = DEFAULT_DIGITS) -> str | None:
    """The network's figure as an SVG file's text (the Markdown document's ``OUT.network.svg``:
    the web page's drawing), or None when the document has no diagram."""
    diagram = diagram_view(solution, printer_for(solution.problem, "latex", notation, digits))
    if diagram is None:
        return None
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + str(network.svg(diagram, standalone=True)) + "\n"


def _equations(view: dict) -> list[EquationView]:
    """The numbered equations of a view, in reading order."""
    sections = [section for step in view["steps"] for section in step.sections] + list(view["closing"])
    return [eq for section in sections for eq in section.equations]


def _text_equations(solution: Solution, detail: str, digits: int, keep: set[Key] | None, form: str) -> dict[int, str]:
    """The text printer's rendering of each numbered equation: what the page shows where MathML
    could not be made (the same steps, numbered alike)."""
    if form == "matrix":
        return {}
    view = DocumentBuilder(solution, Printer("text", digits=digits), detail, keep=keep).build()
    return {eq.number: plain_equation(eq) for eq in _equations(view)}


def plain_equation(eq: EquationView) -> str:
    """``lhs = symbolic = substituted = value`` on one line, as the text document writes it."""
    return " = ".join([eq.lhs, *eq.symbolic, *eq.substituted, eq.value])


def equation_mathml(equations: list[EquationView], plain) -> dict[int, Markup]:
    """Each numbered equation as MathML; where latex2mathml cannot, the text rendering
    (``plain()``: number → text, made only when needed) marked as a fallback."""
    out: dict[int, Markup] = {}
    texts: dict[int, str] | None = None
    for eq in equations:
        try:
            out[eq.number] = mathml.equation(eq)
        except mathml.NotConverted:
            if texts is None:
                texts = plain()
            out[eq.number] = mathml.text_fallback(texts.get(eq.number) or plain_equation(eq))
    return out


def _escape_derivations(view: dict, escape) -> None:
    for derivation in view.get("derivations", []):
        derivation.title = escape(derivation.title)
        derivation.intro = escape(derivation.intro)


def _kept(solution: Solution, only: list[str]) -> set[Key]:
    """The steps that the named gradients and updates need (``--only W2,b2`` or ``dloss/dW1[1,1]``)."""
    wanted: list[Step] = []
    for item in _rejoined(only):
        block = keys.parse_block(item)
        matched = [k for k in solution.problem.parameter_keys
                   if block is not None and block.is_parameters and (k.kind, k.layer) == (block.kind, block.layer)]
        if not matched:
            wanted.append(solution.step(item))  # a quantity: dloss/dW1[1,1], a2[1], W2[1,1]'
            continue
        for key in matched:
            wanted.append(solution.step(keys.Partial(keys.LOSS, key)))
            if key.updated() in solution.index:
                wanted.append(solution.index[key.updated()])
    keep: set[Key] = set()
    for step in wanted:
        keep.update(s.key for s in dependencies(solution, step))
    return keep


def _rejoined(items: list[str]) -> list[str]:
    """``--only`` split on every comma: put ``dloss/dW1[1`` and ``1]`` back together."""
    out: list[str] = []
    for item in items:
        if out and out[-1].count("[") > out[-1].count("]"):
            out[-1] += "," + item
        else:
            out.append(item)
    return [item.strip() for item in out if item.strip()]


def render_text(solution: Solution, detail: str = "standard", digits: int = DEFAULT_DIGITS) -> str:
    return render(solution, "text", detail=detail, digits=digits)


def render_steps(solution: Solution, steps: list[Step], value: float, quantity: str, fmt_: str = "text", *, notation: str | None = None, digits: int = DEFAULT_DIGITS, detail: str = "standard") -> str:  # noqa: E501
    """``tracer ask``: only the steps a quantity needs (``html``: a small page of its own)."""
    dialect = "text" if fmt_ == "text" else "latex"
    printer = printer_for(solution.problem, dialect, notation, digits)
    builder = DocumentBuilder(solution, printer, detail)
    groups: list[tuple[str, list[EquationView]]] = []
    for step in steps:  # the steps a quantity needs may span training steps and the final forward pass
        title = _step_title(step.key.step)
        if not groups or groups[-1][0] != title:
            groups.append((title, []))
        groups[-1][1].append(builder.equation(step))
    if len(groups) == 1:
        groups = [("", groups[0][1])]  # one training step: no headings
    if fmt_ == "html":  # one small page, the solution page's head, equations and MathML; the environment escapes
        def plain() -> dict[int, str]:
            text = DocumentBuilder(solution, printer_for(solution.problem, "text", None, digits), detail)
            return {eq.number: plain_equation(eq) for eq in (text.equation(step) for step in steps)}

        equations = [eq for _, group in groups for eq in group]
        title = getattr(solution.problem, "title", "") or "Backpropagation, step by step"
        return environment("page").get_template("ask.html.j2").render(
            quantity=quantity, title=title, groups=groups, value=printer.number(value), mathml=equation_mathml(equations, plain)
        )
    name = quantity if fmt_ == "text" else (escape_tex(quantity) if fmt_ == "tex" else escape_markdown(quantity))
    return environment("tex" if fmt_ == "tex" else "text").get_template(f"ask.{ 'txt' if fmt_ == 'text' else fmt_ }.j2").render(
        quantity=name, groups=groups, value=printer.number(value)
    )


def _step_title(step: keys.Step) -> str:
    return "Forward pass with the final parameters" if step == keys.END else f"Training step {step}"


# ---------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------

#: what to install for a PDF, on the systems people have (a pip user has no scripts/ folder)
TEX_INSTALL_HINT = (
    "no LaTeX engine found (pdflatex, with latexmk); install TeX Live — Debian/Ubuntu: sudo apt-get install "
    "texlive-latex-base texlive-latex-recommended texlive-pictures latexmk; macOS: brew install --cask mactex-no-gui; "
    "Windows: MiKTeX or TeX Live"
)
#: what a Unicode engine needs besides: the engine, xeCJK and the Noto fonts of the scripts
UNICODE_INSTALL_HINT = (
    "no {engine} found, which this text needs (a script pdflatex cannot set); Debian/Ubuntu: sudo apt-get install "
    "texlive-xetex texlive-luatex texlive-lang-cjk fonts-noto-core fonts-noto-cjk; macOS: MacTeX has them; or --pdf-engine pdflatex "
    "(the text's code points instead)"
)
_LATEXMK_FLAG = {"pdflatex": "-pdf", "xelatex": "-xelatex", "lualatex": "-lualatex"}


def pdf_engine(tex: str, asked: str = "auto") -> str:
    """The engine a document is compiled with: the one asked for, or (``auto``) XeLaTeX when its
    text holds a script only a Unicode engine sets (:func:`tracer.render.user_text.unicode_engine_needed`),
    else pdflatex."""
    if asked != "auto":
        return asked
    return "xelatex" if unicode_engine_needed(tex) else "pdflatex"


def compile_pdf(tex: str, out_pdf: Path, engine: str = "auto") -> Path:
    """Compile a .tex (written beside the PDF) with latexmk and the engine (:func:`pdf_engine`),
    never with shell escape. The .tex is the same for every engine (``_unicode.tex.j2``).

    Every file is written whole (:func:`tracer.files.write_atomically`): ``NAME.tex`` first,
    then ``NAME.pdf`` and ``NAME.log`` from the build folder. When LaTeX fails, the log is
    still kept as ``NAME.log`` and the message names it; an older ``NAME.pdf`` stays as it was.
    """
    engine = pdf_engine(tex, engine)
    latexmk, pdflatex = shutil.which("latexmk"), shutil.which(engine)
    if not pdflatex:
        if engine == "pdflatex" or not shutil.which("pdflatex"):
            raise RenderError(TEX_INSTALL_HINT, 3)
        raise RenderError(UNICODE_INSTALL_HINT.format(engine=engine), 3)
    out_pdf = Path(out_pdf)
    tex_path, log_path = out_pdf.with_suffix(".tex"), out_pdf.with_suffix(".log")
    try:
        write_atomically(tex_path, tex)
    except FileRefused as err:
        raise RenderError(f"{tex_path}: {err}", 2) from None
    with tempfile.TemporaryDirectory(prefix="tracer-tex-") as build:
        if latexmk:
            cmd = [latexmk, _LATEXMK_FLAG[engine], "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", f"-outdir={build}", str(tex_path.resolve())]
        else:
            cmd = [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", f"-output-directory={build}", str(tex_path.resolve())]
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=build)
        except subprocess.TimeoutExpired:
            raise RenderError("LaTeX did not finish within 300 s") from None
        built = Path(build) / (tex_path.stem + ".pdf")
        log = Path(build) / (tex_path.stem + ".log")
        log_text = log.read_bytes() if log.exists() else result.stdout.encode("utf-8", "replace")
        try:
            write_atomically(log_path, log_text)
            kept = f" (the log: {log_path})"
        except FileRefused:
            kept = ""
        if result.returncode != 0 or not built.exists():
            first = _first_latex_error(log_text.decode("utf-8", "replace"))
            raise RenderError(f"LaTeX failed on {tex_path}: {first}{kept}")
        try:
            write_atomically(out_pdf, built.read_bytes())
        except FileRefused as err:
            raise RenderError(f"{out_pdf}: {err}", 2) from None
    return out_pdf


def _first_latex_error(log: str) -> str:
    for line in log.splitlines():
        if line.startswith("!"):
            first = " ".join(line[1:].split())
            return first if len(first) <= 160 else first[:157] + "..."
    return "no error line in the log"
