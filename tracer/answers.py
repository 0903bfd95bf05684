"""The Python API's answers besides a solution, and how every result displays itself in Jupyter.

``tracer.ask(problem, "dE_total/dw5")`` → an :class:`Answer` (the quantity with only the
steps it needs), ``tracer.diff("(2x^2-1)^3", at={"x": 1})`` → a :class:`Derivative`
(rule by rule), ``tracer.descend("theta^2", start={"theta": -4}, lr=0.1, steps=3)`` → a
:class:`Descent` — the answers of ``tracer ask``, ``diff`` and ``descend`` as frozen objects,
each with ``render(fmt)`` and ``to_json()`` giving what the command prints.

In a notebook each result — these and a :class:`~tracer.core.solution.Solution` or
:class:`~tracer.core.solution.GraphSolution` — shows itself: ``_repr_markdown_`` is the
Markdown document without the front matter pandoc reads (a notebook would show it as a rule
and ``pagetitle: …``), ``_repr_latex_`` its equations as a LaTeX fragment MathJax typesets
(:mod:`tracer.render.notebook`), ``_repr_html_`` the web page made a fragment
(:mod:`tracer.render.fragment`: its styles scoped to its own root, its ids unique per display),
or None where the renderers have no ``html`` format (Jupyter falls back to the Markdown). The solutions' own
methods are set by ``tracer/__init__.py``: ``tracer.core`` sits below the renderers and may
not import them, not even inside a function (that would be an import cycle,
tests/test_imports.py); this module, above both, is where the two meet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import sympy as sp

from tracer.calculus import descent as descent_engine
from tracer.calculus.derivatives import Derivation, derive_program
from tracer.calculus.expression import parse_assignments, parse_number, parse_program
from tracer.core import derive
from tracer.keys import NameError_, split_step
from tracer.core.solution import GraphSolution, LookupError_, Solution, Step
from tracer.export.answer import ask_json
from tracer.export.as_json import solution_json
from tracer.notation import theme_of_name
from tracer.render import calculus as calculus_views
from tracer.render import calculus_page
from tracer.render import notebook
from tracer.render.fragment import fragment
from tracer.render.document import render as render_document
from tracer.render.document import render_steps
from tracer.render.graph import render_graph
from tracer.numbers import DEFAULT_DIGITS
from tracer.spec import GraphProblem, OptimizerSpec, Problem, load

Solved = Solution | GraphSolution


# ---------------------------------------------------------------------------
# A solution's display (set on Solution and GraphSolution by tracer/__init__.py)
# ---------------------------------------------------------------------------


def render(solution: Solved, fmt: str = "md", **options: Any) -> str:
    """A solution's document, as ``tracer solve -f FMT`` writes it (text, md, tex, json; html
    where the renderers have it). A network of more than 200 parameters is written in matrix
    form, as ``tracer solve`` does for md and tex."""
    if fmt == "json":
        return json_text(solution_json(solution))
    if isinstance(solution, GraphSolution):
        return render_graph(solution, fmt, **options)
    if fmt != "text" and "form" not in options and notebook.wide(solution):
        options["form"] = "matrix"
    return render_document(solution, fmt, **options)


def markdown(solution: Solved) -> str:
    return notebook.markdown_fragment(render(solution, "md"))


def latex(solution: Solved) -> str:
    return notebook.solution_latex(solution)


def html(solution: Solved) -> str | None:
    """The HTML page, or None while the renderers have no ``html`` format."""
    try:
        return fragment(render(solution, "html"))
    except (ValueError, LookupError):  # "unknown format 'html'" (a graph's format table: KeyError)
        return None


# ---------------------------------------------------------------------------
# tracer ask
# ---------------------------------------------------------------------------


def _solved(problem: Problem | GraphProblem | Solved | str | Path) -> Solved:
    if isinstance(problem, (Solution, GraphSolution)):
        return problem
    return derive.solve(problem if isinstance(problem, (Problem, GraphProblem)) else load(problem))


@dataclass(frozen=True, eq=False)
class Answer:
    """One quantity of a solution with only the steps it needs (``tracer ask``)."""

    solution: Solved
    quantity: str
    value: float
    steps: tuple[Step, ...]  # in the document's order; empty for a given number (an input, a weight)
    notation: str | None = None  # the theme the quantity was asked in (answered in its names)

    def __float__(self) -> float:
        return self.value

    def render(self, fmt: str = "text", *, digits: int = DEFAULT_DIGITS) -> str:
        """What ``tracer ask FILE QUANTITY -f FMT`` prints (text, md, tex, json)."""
        if fmt == "json":
            return json_text(self.to_json())
        return render_steps(self.solution, list(self.steps), self.value, self.quantity, fmt, notation=self.notation, digits=digits)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        return ask_json(self.solution, self.quantity, self.value, self.steps[-1] if self.steps else None)  # type: ignore[arg-type]

    def _repr_markdown_(self) -> str:
        return notebook.markdown_fragment(self.render("md"))

    def _repr_latex_(self) -> str:
        return notebook.steps_latex(self.solution, self.steps, self.value, self.quantity, notation=self.notation)

    def _repr_html_(self) -> str | None:
        try:
            return fragment(self.render("html"))
        except (ValueError, LookupError):  # no html format (yet): Jupyter shows the Markdown
            return None


def ask(problem: Problem | GraphProblem | Solved | str | Path, quantity: str) -> Answer:
    """``tracer ask``: a quantity by a canonical name (``dloss/dW2[1,1]``) or a theme's (``dE_total/dw5``).

    An unknown name raises :class:`~tracer.keys.NameError_` (or ``LookupError_``), with the
    message ``tracer ask`` prints.
    """
    solution = _solved(problem)
    value = solution.value(quantity)
    try:
        step = solution.step(quantity)
    except (NameError_, LookupError_):
        step = None  # a given number: no derivation
    steps = tuple(solution.dependencies(step)) if step is not None else ()
    notation = None
    if not isinstance(solution, GraphSolution):
        notation = theme_of_name(split_step(quantity)[0], solution.problem)
    return Answer(solution, quantity, value, steps, notation)


# ---------------------------------------------------------------------------
# tracer diff
# ---------------------------------------------------------------------------


def _point(text: str | Mapping[str, float] | None, symbols: Mapping[str, sp.Symbol], what: str) -> dict[sp.Symbol, sp.Expr] | None:
    """``"x=1,y=2"`` or ``{"x": 1, "y": 2}`` → {x: 1, y: 2} over the expression's own symbols."""
    if text is None:
        return None
    given = parse_assignments(text) if isinstance(text, str) else {name: parse_number(repr(float(v)) if isinstance(v, float) else str(v)) for name, v in text.items()}
    unknown = [name for name in given if name not in symbols]
    if unknown:
        raise ValueError(f"{what}: '{unknown[0]}' is not a variable of the expression (variables: {', '.join(symbols)})")
    return {symbols[name]: value for name, value in given.items()}


@dataclass(frozen=True, eq=False)
class Derivative:
    """A derivative rule by rule (``tracer diff``): one :class:`Derivation` per variable."""

    derivations: tuple[Derivation, ...]
    point: Mapping[sp.Symbol, sp.Expr] | None = None

    @property
    def derivative(self) -> sp.Expr:
        """The (first) derivative, checked equal to ``sympy.diff``."""
        return self.derivations[0].result

    @property
    def value(self) -> float | None:
        """The (first) derivative at ``at``; None without a point."""
        if not self.point:
            return None
        value = self.derivations[0].value_at(self.point)
        return None if value is None or isinstance(value, complex) else float(value)

    def render(self, fmt: str = "text", *, digits: int = DEFAULT_DIGITS) -> str:
        """What ``tracer diff EXPR -f FMT`` prints (text, md, tex, json, html)."""
        if fmt == "html":
            return calculus_page.diff_page(self.derivations, self.point, digits)
        return calculus_views.render_diff(self.derivations, fmt, self.point, digits)

    def to_json(self) -> dict[str, Any]:
        return calculus_views.diff_json(self.derivations, self.point)

    def _repr_markdown_(self) -> str:
        return notebook.markdown_fragment(self.render("md"))

    def _repr_latex_(self) -> str:
        return notebook.diff_latex(self.derivations, self.point)

    def _repr_html_(self) -> str:
        return fragment(self.render("html"))


def diff(expr: str, wrt: str | Sequence[str] | None = None, at: str | Mapping[str, float] | None = None, *, e_is_variable: bool = False) -> Derivative:
    """``tracer diff EXPR [--wrt v] [--at v=…]``; a bad expression raises ``ExpressionError``."""
    program = parse_program(expr, e_is_variable=e_is_variable)
    names = [wrt] if isinstance(wrt, str) else list(wrt or [])
    names = [n.strip() for item in names for n in item.split(",") if n.strip()]
    derivations = derive_program(program, names or None)
    symbols = {v.name: v for v in program.variables}
    return Derivative(tuple(derivations), _point(at, symbols, "at"))


# ---------------------------------------------------------------------------
# tracer descend
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Descent:
    """Gradient descent on a function (``tracer descend``): one run per optimizer, from one start."""

    runs: tuple[descent_engine.Descent, ...]

    @property
    def iterates(self) -> tuple:
        """The first run's iterates: each with ``step``, ``point``, ``value``, ``gradient``."""
        return tuple(self.runs[0].iterates)

    @property
    def final(self):
        return self.runs[0].final

    def render(self, fmt: str = "text", *, digits: int = DEFAULT_DIGITS, written: int = 3, every: int = 1) -> str:
        """What ``tracer descend … -f FMT`` prints (text, md, tex, json, html)."""
        if fmt == "html":
            return calculus_page.descent_page(self.runs, digits, written, every)
        return calculus_views.render_descents(self.runs, fmt, digits, written, every)

    def to_json(self) -> dict[str, Any]:
        return calculus_views.descent_json(self.runs[0]) if len(self.runs) == 1 else calculus_views.descents_json(self.runs)

    def _repr_markdown_(self) -> str:
        return notebook.markdown_fragment(self.render("md"))

    def _repr_latex_(self) -> str:
        return "\n".join(notebook.descent_latex(run) for run in self.runs)

    def _repr_html_(self) -> str:
        return fragment(self.render("html"))


def descend(expr: str, start: str | Mapping[str, float], lr: float, steps: int, *, optimizer: str | Sequence[str] = "sgd",
            e_is_variable: bool = False, **hyper: float) -> Descent:
    """``tracer descend EXPR --start … --lr … --steps N [--optimizer …]``: torch.optim's update
    rules; ``hyper`` are their options (``beta``, ``nesterov``, ``alpha``, ``beta1``, ``beta2``, ``eps``,
    ``weight_decay``: torch's coupled decay, AdamW's decoupled one)."""
    program = parse_program(expr, e_is_variable=e_is_variable)
    function = program.substituted()
    variables = program.free_variables()
    point = _point(start, {v.name: v for v in variables}, "start") or {}
    missing = [v.name for v in variables if v not in point]
    if missing:
        raise ValueError(f"start: no value for {', '.join(missing)}")
    names = [optimizer] if isinstance(optimizer, str) else list(optimizer)
    names = [n.strip() for item in names for n in item.split(",") if n.strip()]
    start_values = {v: float(point[v].evalf(20)) for v in variables}
    runs = tuple(
        descent_engine.descend(function, start_values, float(lr), steps, name=program.name, optimizer=OptimizerSpec(name, **_options(name, hyper)))
        for name in names
    )
    return Descent(runs)


_HYPER = {"sgd": ("weight_decay",), "momentum": ("beta", "nesterov", "weight_decay"), "rmsprop": ("alpha", "eps", "weight_decay"),
          "adam": ("beta1", "beta2", "eps", "weight_decay"), "adagrad": ("eps", "weight_decay"), "adamw": ("beta1", "beta2", "eps", "weight_decay")}


def _options(name: str, hyper: Mapping[str, float]) -> dict[str, Any]:
    return {k: v for k, v in hyper.items() if k in _HYPER.get(name, ())}


def json_text(data: Any) -> str:
    """JSON as the commands print it."""
    return json.dumps(data, indent=1)
