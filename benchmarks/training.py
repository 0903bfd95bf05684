"""Wall time of training runs (tracer.training) and of whole solves of long runs.

    python3 benchmarks/training.py            # Mazur × 10,000 (both orders) and the moons run
    python3 benchmarks/training.py --quick    # the moons run for 100 epochs only

Prints one row per run: what ran, the number of updates, the final loss (and test
accuracy), and the seconds taken. Times are single runs (the moons run takes a minute).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracer import training  # noqa: E402
from tracer.core.derive import solve  # noqa: E402
from tracer.spec import load  # noqa: E402


def with_training(problem, **changes):
    return dataclasses.replace(problem, training=dataclasses.replace(problem.training, **changes))


def main() -> None:
    quick = "--quick" in sys.argv
    rows = []
    mazur = load(ROOT / "examples" / "mazur.yaml")
    for order in ("simultaneous", "sequential"):
        problem = with_training(mazur, steps=10_000, order=order)
        started = time.perf_counter()
        run = training.run(problem)
        rows.append((f"Mazur × 10,000, {order}: training.run", run.updates, f"{run.last.loss:.8e}", "—", time.perf_counter() - started))
        started = time.perf_counter()
        sol = solve(problem)
        rows.append((f"Mazur × 10,000, {order}: tracer solve (3 steps derived)", run.updates, f"{sol.loss_after:.8e}", "—", time.perf_counter() - started))
    moons = load(ROOT / "examples" / "runs" / "moons.yaml")
    if quick:
        per_epoch = training.batches_per_epoch(moons)
        moons = with_training(moons, epochs=100, steps=100 * per_epoch)
    started = time.perf_counter()
    run = training.run(moons)
    rows.append((f"moons 2-25-50-25-2, SGD, {run.epochs} epochs", run.updates, f"{run.last.loss:.6f}", f"{100 * run.last.test_accuracy:.2f}%", time.perf_counter() - started))

    width = max(len(r[0]) for r in rows)
    print(f"{'run':{width}s}  {'updates':>9s}  {'final loss':>16s}  {'test acc.':>9s}  {'seconds':>8s}")
    for name, updates, loss, acc, seconds in rows:
        print(f"{name:{width}s}  {updates:9d}  {loss:>16s}  {acc:>9s}  {seconds:8.2f}")


if __name__ == "__main__":
    main()
