"""How fast hostile expressions are refused or answered (the tests only guard against a hang).

    python3 benchmarks/hostile.py

One row per input: what it is, its length, the exit code of `tracer diff`, milliseconds
(in-process, through Click's CliRunner, so interpreter start-up is not counted). The
second group is issue 17's: inputs that hung, crashed or were wrongly failed; each must
now end in under a second, answered (0) or refused in one line (2).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from tracer.cli import cli  # noqa: E402

HOSTILE = {
    "__import__('os').system(...)": "__import__('os').system('true')",
    "().__class__": "().__class__",
    "100 kB sum": "x+" * 51_200,
    "50,000 nested parentheses": "(" * 50_000 + "x" + ")" * 50_000,
    "199 nested sin": "sin(" * 199 + "x" + ")" * 199,
    "x^^2": "x^^2",
    "9^9^9^9": "9^9^9^9",
    "599-term sum of sines": "+".join(f"sin({k}x)" for k in range(1, 600)),
}

#: issue 17: (name, arguments of `tracer diff`)
ISSUE_17 = [
    ("max(0.5(-asin(3))^1000, w)", ["max(0.5 * (-asin(3))^1000, w)"]),
    ("softplus(-log(y, asin(2e)))", ["softplus(-log(y, asin(2  e)))"]),
    ("[sec(log(w, asin(softplus(1))))]", ["[sec(log(w, asin(softplus(1))))]"]),
    ("(x+1)^(x+1)^(x+1)^(x+1)^2", ["(x+1)^(x+1)^(x+1)^(x+1)^2"]),
    ("x^x^x^x^x --at x=e", ["x^x^x^x^x", "--at", "x=e"]),
    ("relu(log(y^x+t, softplus(asin x))+t^3)", ["relu(log(y^x + t, softplus(asin(x))) + t^3)"]),
    ("150 nested (x+1)^", ["(x+1)^" * 150 + "x"]),
    ("sigmoid(abs(softplus(asin(y^2))))", ["sigmoid(abs(softplus(asin(y^2))))"]),
    ("atan(tan(sinh(cosh(10))))+sec(..)", ["atan(tan(sinh(cosh(10)))) + sec(abs(t) + 0.5)"]),
    ("exp(exp(x)) --at x=2^1000", ["exp(exp(x))", "--at", "x=2^1000"]),
    ("z = max(x, 0); x = asin(2)", ["z = max(x, 0); x = asin(2)"]),
    ("(1+x)^1000(1+y)^1000(1+t)^2", ["(1+x)^1000*(1+y)^1000*(1+t)^2"]),
    ("relu(sec(y - y^1000))", ["relu(sec(y - y^1000))"]),
    ("exp(0^x + pi)", ["exp(0^x + pi)"]),
    ("z = -x; x = 10 --wrt x", ["z = -x; x = 10", "--wrt", "x"]),
    ("0^y", ["0^y"]),
    ("(softplus(x)/pi^1000)^y", ["(softplus(x)/pi^1000)^y"]),
]


def _bare_import_ms() -> float:
    """A bare ``python3 -c "import sympy, numpy"`` in this run, for the column against it."""
    import subprocess

    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sympy, numpy"], check=True)
    return 1000 * (time.perf_counter() - start)


def main() -> None:
    runner = CliRunner()
    runner.invoke(cli, ["diff", "x^2"])  # imports and first-use costs out of the rows
    bare = _bare_import_ms()
    print(f"bare `import sympy, numpy` in this run: {bare:.0f} ms (each row is in-process: its start-up would add about that)")
    print(f"{'input':<40} {'chars':>8} {'exit':>5} {'ms':>8} {'× bare':>7}")
    rows = [(name, [text]) for name, text in HOSTILE.items()] + ISSUE_17
    for name, args in rows:
        start = time.perf_counter()
        result = runner.invoke(cli, ["diff", *args])
        ms = 1000 * (time.perf_counter() - start)
        print(f"{name:<40} {len(args[0]):>8} {result.exit_code:>5} {ms:>8.1f} {ms / bare:>7.2f}")


if __name__ == "__main__":
    main()
