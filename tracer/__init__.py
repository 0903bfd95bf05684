"""backprop-tracer: step-by-step, verified worked solutions of backpropagation."""

from tracer.spec import Problem, SpecError, load, loads

__version__ = "0.1.0"

__all__ = ["Problem", "SpecError", "load", "loads", "solve", "__version__"]


def solve(problem: Problem, **options):
    """Derive, evaluate and verify a whole worked solution (see :mod:`tracer.derive`)."""
    from tracer.core.derive import solve as _solve

    return _solve(problem, **options)
