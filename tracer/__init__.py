"""backprop-tracer: step-by-step, verified worked solutions of backpropagation.

The Python API (SPEC.md §11)::

    import tracer
    problem = tracer.load("examples/mazur.yaml")
    solution = tracer.solve(problem)          # or tracer.solve("examples/mazur.yaml")
    solution.value("dE_total/dw5")            # 0.08216704056423078
"""

from __future__ import annotations

from pathlib import Path

import tracer.layers  # noqa: F401  (registers the shipped layer kinds in tracer.kinds before any file is read)
from tracer.core import derive
from tracer.core.solution import GraphSolution, Solution
from tracer.spec import GraphProblem, Problem, SpecError, load, loads

__version__ = "0.1.0"

__all__ = ["Answer", "Derivative", "Descent", "GraphProblem", "GraphSolution", "Problem", "Solution", "SpecError", "ask", "descend", "diff", "load", "loads",
           "solve", "__version__"]


def solve(problem: Problem | GraphProblem | str | Path, **options) -> Solution:
    """The worked solution of a problem (or of the problem file at a path), verified.

    Options: ``derived_steps`` (training steps written out, default 3), ``verify`` (default True).
    """
    return derive.solve(problem if isinstance(problem, (Problem, GraphProblem)) else load(problem), **options)


# ---------------------------------------------------------------------------
# tracer.ask / tracer.diff / tracer.descend and Jupyter's display of a solution.
# Both live in tracer.answers, which imports every renderer: loaded when first used, so
# that `import tracer` (and with it every command, `tracer solve -f json` too) loads none.
# ---------------------------------------------------------------------------

_ANSWERS = ("ask", "diff", "descend", "Answer", "Derivative", "Descent")


def __getattr__(name: str):
    if name in _ANSWERS:
        # start-up: the answers and their renderers load when first asked for
        from tracer import answers

        return getattr(answers, name)
    raise AttributeError(f"module 'tracer' has no attribute {name!r}")


def _repr_markdown_(self) -> str:
    """The Markdown document (``tracer solve -f md``)."""
    # start-up: the renderers load only when a notebook displays a solution
    from tracer import answers

    return answers.markdown(self)


def _repr_latex_(self) -> str:
    """The equations, as a LaTeX fragment a notebook typesets (not a whole document)."""
    # start-up: as above
    from tracer import answers

    return answers.latex(self)


def _repr_html_(self) -> str | None:
    """The HTML page, or None (Jupyter then shows the Markdown) while there is no ``-f html``."""
    # start-up: as above
    from tracer import answers

    return answers.html(self)


# tracer.core may not import the renderers (a cycle, tests/test_imports.py), so the solutions'
# display methods are set here, once, where the package is assembled
for _solution_type in (Solution, GraphSolution):
    _solution_type._repr_markdown_ = _repr_markdown_  # type: ignore[attr-defined]
    _solution_type._repr_latex_ = _repr_latex_  # type: ignore[attr-defined]
    _solution_type._repr_html_ = _repr_html_  # type: ignore[attr-defined]
del _solution_type
