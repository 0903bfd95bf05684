"""Wall time of quiz generation (tracer.quiz.generate) and of the whole `tracer quiz` command.

    python3 benchmarks/quiz.py              # 30 variants (1 job and all cores), and the CLI
    python3 benchmarks/quiz.py --large      # also 1,000 variants on all cores

Prints one row per run: what ran, variants, jobs, seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracer.teach.quiz import generate  # noqa: E402
from tracer.spec import load  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    problem = load(ROOT / "examples" / "mazur.yaml")
    cores = os.cpu_count() or 1
    rows = [
        ("generate mazur", 30, 1, timed(lambda: generate(problem, 30, seed=1, jobs=1))),
        ("generate mazur", 30, cores, timed(lambda: generate(problem, 30, seed=1, jobs=cores))),
    ]
    with tempfile.TemporaryDirectory() as out:
        cli = [sys.executable, "-m", "tracer", "quiz", str(ROOT / "examples" / "mazur.yaml"), "--count", "30", "--seed", "1", "-o", out]
        rows.append(("tracer quiz (md, tex, csv, xml)", 30, cores, timed(lambda: subprocess.run(cli, check=True, capture_output=True))))
    if "--large" in sys.argv:
        rows.append(("generate mazur", 1000, cores, timed(lambda: generate(problem, 1000, seed=1, jobs=cores))))
    print(f"{'run':<34} {'variants':>8} {'jobs':>5} {'seconds':>8}")
    for name, count, jobs, seconds in rows:
        print(f"{name:<34} {count:>8} {jobs:>5} {seconds:>8.2f}")


if __name__ == "__main__":
    main()
