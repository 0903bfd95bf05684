"""backprop-tracer: step-by-step, verified worked solutions of backpropagation.

The Python API (SPEC.md §11): ``tracer.load(path)`` → a problem, ``tracer.solve(problem)``
→ a solution, ``solution.value("dE_total/dw5")``.
"""

from tracer.core.derive import solve
from tracer.spec import Problem, SpecError, load, loads

__version__ = "0.1.0"

__all__ = ["Problem", "SpecError", "load", "loads", "solve", "__version__"]
