"""A CPU-time budget for one piece of symbolic work; nothing here knows any math.

Size limits (the parser's, ``DERIVE_MAX_*``) bound how large an expression may be, not
how long SymPy may think about it: ``(x+1)^(x+1)^(x+1)^(x+1)^2`` is short and its
checks ran for minutes. :func:`time_limit` bounds the time instead, in two ways:

* cooperatively — the rule engine and the numeric evaluator call :func:`check_time`
  at every step, which raises :class:`WorkLimitExceeded` once the deadline is past;
  this works in any thread;
* preemptively — in the main thread (where Python delivers signals) a ``SIGPROF``
  timer also interrupts a single long SymPy call. The timer nests: an outer timer
  (the fuzzer's, a test's) that would fire earlier is left alone, and one that
  would fire later is re-armed with its remaining time on the way out. Once past the
  deadline the timer keeps firing every :data:`REPEAT` seconds until the block is left:
  Python drops an exception raised while it runs a garbage-collector callback or a
  ``__del__`` ("Exception ignored in …"), and under pytest hypothesis has a gc callback,
  so a single interrupt could be lost and the work ran on (6 s for a 1.5 s budget in CI).

The clock is the process's CPU time (``time.process_time``, ``ITIMER_PROF``), not the
wall clock: the same input is refused or answered the same on an idle laptop and on a
loaded two-core CI machine, where the wall clock ran 2–3 times slower and answered
inputs (0.4 s alone) were refused.
"""

from __future__ import annotations

import contextvars
import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator


class WorkLimitExceeded(ValueError):
    """The work took longer than its budget: refused like bad input (``tracer`` exit 2); a
    ValueError, as ExpressionError is, so that callers refusing bad input refuse this too."""

    def __init__(self, what: str, seconds: float):
        self.what = what
        self.seconds = seconds
        super().__init__(f"too much work {what} (stopped after {seconds:g} s)")


#: (deadline on time.process_time(), what, seconds) of the innermost budget, if any
_BUDGET: contextvars.ContextVar[tuple[float, str, float] | None] = contextvars.ContextVar("tracer_budget", default=None)


_clock = time.process_time

#: seconds between repeated interrupts once the budget is spent (until the block is left)
REPEAT = 0.05
_TIMER, _SIGNAL = (signal.ITIMER_PROF, signal.SIGPROF) if hasattr(signal, "ITIMER_PROF") else (None, None)


def check_time() -> None:
    """Raise WorkLimitExceeded if the current budget is spent (no budget: never)."""
    budget = _BUDGET.get()
    if budget is not None and _clock() > budget[0]:
        raise WorkLimitExceeded(budget[1], budget[2])


def _can_alarm() -> bool:
    return _TIMER is not None and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None, what: str) -> Iterator[None]:
    """Work inside the block for at most ``seconds`` (None: no limit of its own)."""
    if seconds is None:
        yield
        return
    outer = _BUDGET.get()
    deadline = _clock() + seconds
    if outer is not None and outer[0] <= deadline:
        yield  # the enclosing budget ends first and is already being enforced
        return
    token = _BUDGET.set((deadline, what, seconds))
    armed = False
    if _can_alarm():
        previous_delay, previous_interval = signal.getitimer(_TIMER)
        if previous_delay == 0 or previous_delay > seconds:
            started = _clock()

            live = [True]

            def on_alarm(signum, frame):
                if live[0]:  # a repeat that arrives while the block is being left does nothing
                    raise WorkLimitExceeded(what, seconds)

            previous_handler = signal.signal(_SIGNAL, on_alarm)
            signal.setitimer(_TIMER, seconds, REPEAT)
            armed = True
    try:
        yield
    finally:
        if armed:
            live[0] = False
            signal.setitimer(_TIMER, 0)
            signal.signal(_SIGNAL, previous_handler)
            if previous_delay:
                left = previous_delay - (_clock() - started)
                signal.setitimer(_TIMER, max(left, 1e-6), previous_interval)
        _BUDGET.reset(token)
