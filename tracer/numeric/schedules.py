"""The learning-rate schedules, written directly from torch.optim.lr_scheduler's closed forms.

The independent twin of :mod:`tracer.core.schedules` (which derives each rate from a SymPy
expression the document prints): no code is shared, so a slip in either shows as a mismatch.
``base`` is the file's rate (torch's ``base_lr``; a NumPy array of per-parameter rates works too)
and ``n`` the scheduler steps before the update (torch's ``last_epoch``)::

    step         base · γ^(n // step_size)                                   StepLR
    multistep    base · γ^(number of milestones ≤ n)                          MultiStepLR
    exponential  base · γ^n                                                   ExponentialLR
    cosine       η_min + (base − η_min) · (1 + cos(π n / T_max)) / 2         CosineAnnealingLR
    linear       base · (f₀ + (f₁ − f₀) · min(n, N) / N)                      LinearLR

and a warm-up of w steps before any of them: base · (f_w + (1 − f_w) · n / w) while n < w, then
the schedule at n − w (SequentialLR of LinearLR(f_w, 1, w) and the schedule, milestones=[w]).
"""

from __future__ import annotations

import math


def rate(schedule, base, n: int):
    """The rate after ``n`` scheduler steps (``schedule`` a :class:`tracer.spec.ScheduleSpec`)."""
    if n < schedule.warmup:
        f = schedule.warmup_factor
        return base * (f + (1.0 - f) * n / schedule.warmup)
    n -= schedule.warmup
    name = schedule.name
    if name == "step":
        return base * schedule.gamma ** (n // schedule.step_size)
    if name == "multistep":
        return base * schedule.gamma ** sum(1 for m in schedule.milestones if m <= n)
    if name == "exponential":
        return base * schedule.gamma ** n
    if name == "cosine":
        return schedule.eta_min + (base - schedule.eta_min) * (1.0 + math.cos(math.pi * n / schedule.T_max)) / 2.0
    if name == "linear":
        f0, f1, total = schedule.start_factor, schedule.end_factor, schedule.total_iters
        return base * (f0 + (f1 - f0) * min(n, total) / total)
    raise ValueError(f"no schedule {name!r}")


def rate_of_update(problem, base, update: int):
    """The rate of update ``update`` (1-based) of ``problem``: ``base`` itself without a schedule."""
    schedule = problem.training.schedule
    if schedule is None:
        return base
    if schedule.per == "step":
        n = update - 1
    else:  # scheduler.step() once per epoch: the epochs finished before this update
        per_epoch = -(-len(problem.data) // (problem.training.batch_size or len(problem.data)))
        n = (update - 1) // per_epoch
    return rate(schedule, base, n)
