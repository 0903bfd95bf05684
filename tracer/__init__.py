"""backprop-tracer: step-by-step, verified worked solutions of backpropagation.

The Python API (SPEC.md §11)::

    import tracer
    problem = tracer.load("examples/mazur.yaml")
    solution = tracer.solve(problem)          # or tracer.solve("examples/mazur.yaml")
    solution.value("dE_total/dw5")            # 0.08216704056423078
"""

from __future__ import annotations

from pathlib import Path

from tracer.core import derive
from tracer.core.solution import Solution
from tracer.spec import GraphProblem, Problem, SpecError, load, loads

__version__ = "0.1.0"

__all__ = ["GraphProblem", "Problem", "Solution", "SpecError", "load", "loads", "solve", "__version__"]


def solve(problem: Problem | GraphProblem | str | Path, **options) -> Solution:
    """The worked solution of a problem (or of the problem file at a path), verified.

    Options: ``derived_steps`` (training steps written out, default 3), ``verify`` (default True).
    """
    return derive.solve(problem if isinstance(problem, (Problem, GraphProblem)) else load(problem), **options)
