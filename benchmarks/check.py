"""Wall time of `tracer check` and `tracer grade`: a handout's claims and a class's answers marked.

    python3 benchmarks/check.py              # 3 rounds, the median of each
    python3 benchmarks/check.py --rounds 5 --students 200,1000

Rows:
- in process: Mazur's errata claims (examples/errata/mazur.yaml, 40-odd claims) checked
  against a fresh solution (what one `tracer check` does after its solve);
- the `tracer check` process on the same files;
- `tracer grade` of a class (--students: 60 and 1,000 by default, one row each) on a six-variant
  quiz of Mazur's network, four kinds of student in turn: the key as printed; the key truncated
  to 4 digits (a habit); 10 % off in every answer (each wrong answer diagnosed: what mistake,
  carried or not); one slip, two neighbouring digits of the first answer swapped (0.04798 → 0.04978), the
  others as the key's.
The last column is each row against the bare ``import sympy, numpy`` start-up of this run.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MAZUR = ROOT / "examples" / "mazur.yaml"
CLAIMS = ROOT / "examples" / "errata" / "mazur.yaml"


def timed(fn, rounds: int) -> float:
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def run(*args: str) -> None:
    """The command, which must have marked (exit 0, or 1: some claims or answers are wrong)."""
    done = subprocess.run([sys.executable, "-m", "tracer", *args], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"tracer {args[0]} failed (exit {done.returncode}): {done.stderr.strip()}")


def in_process_check() -> None:
    from tracer.core.derive import solve
    from tracer.spec import load
    from tracer.teach.check import check
    from tracer.teach.claims import load_claims

    solution = solve(load(MAZUR), verify=False)
    check(solution, load_claims(CLAIMS))


def class_csv(quiz: Path, students: int) -> Path:
    from tracer.teach.grade import read_key

    key = read_key(quiz)
    path = quiz.parent / "class.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        count = len(key.questions(1))
        writer.writerow(["id", "variant"] + [f"q{k}" for k in range(1, count + 1)])
        for n in range(students):
            variant = n % 6 + 1
            values = [e.value for e in key.questions(variant)]
            kind = n % 4
            if kind == 0:
                answers = [f"{v:.4g}" for v in values]
            elif kind == 1:
                answers = [_truncated(v) for v in values]
            elif kind == 2:
                answers = [f"{v * 1.1:.4g}" for v in values]
            else:
                first = _swapped(f"{values[0]:.4g}")
                answers = [first] + [f"{v:.4g}" for v in values[1:]]
            writer.writerow([f"s{n:04d}", variant] + answers)
    return path


def _swapped(text: str) -> str:
    """Two neighbouring significant digits swapped (0.04798 → 0.04978): the 2nd and 3rd, or the
    3rd and 4th where those two are the same."""
    places = [k for k, c in enumerate(text) if c.isdigit()]
    places = places[next(n for n, k in enumerate(places) if text[k] != "0"):]
    for a, b in ((1, 2), (2, 3)):
        i, j = places[a], places[b]
        if text[i] != text[j]:
            return text[:i] + text[j] + text[i + 1:j] + text[i] + text[j + 1:]
    return text


def _truncated(value: float) -> str:
    """``value`` cut (not rounded) to 4 significant digits."""
    from decimal import ROUND_DOWN, Decimal

    exact = Decimal(repr(value))
    return str(exact.quantize(Decimal(1).scaleb(exact.adjusted() - 3), rounding=ROUND_DOWN))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--students", default="60,1000", help="class sizes, one row each (comma-separated)")
    args = parser.parse_args()
    bare = timed(lambda: subprocess.run([sys.executable, "-c", "import sympy, numpy"], check=True), args.rounds)
    in_process_check()  # imports and SymPy's one-off work, not counted
    rows = [
        ("check: errata claims, in process", timed(in_process_check, args.rounds)),
        ("tracer check mazur errata", timed(lambda: run("check", str(MAZUR), str(CLAIMS)), args.rounds)),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        quiz = Path(tmp) / "hw"
        run("quiz", str(MAZUR), "--count", "6", "--seed", "3", "-o", str(quiz), "--formats", "csv")
        for students in (int(n) for n in args.students.split(",")):
            answers = class_csv(quiz, students)
            rows.append((f"tracer grade, {students:,} students", timed(lambda: run("grade", str(quiz), str(answers), "--problem", str(MAZUR), "-o", str(Path(tmp) / "out")), args.rounds)))
    print(f"{'run':<36} {'seconds':>8} {'× import':>9}")
    print(f"{'bare import sympy, numpy':<36} {bare:>8.2f} {1.0:>9.1f}")
    for name, seconds in rows:
        print(f"{name:<36} {seconds:>8.2f} {seconds / bare:>9.1f}")


if __name__ == "__main__":
    main()
