"""How fast hostile expressions are refused (the tests only guard against a hang).

    python3 benchmarks/hostile.py

One row per input: what it is, its length, the exit code of `tracer diff`, milliseconds
(in-process, through Click's CliRunner, so interpreter start-up is not counted).
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


def main() -> None:
    runner = CliRunner()
    runner.invoke(cli, ["diff", "x^2"])  # imports and first-use costs out of the rows
    print(f"{'input':<30} {'chars':>8} {'exit':>5} {'ms':>8}")
    for name, text in HOSTILE.items():
        start = time.perf_counter()
        result = runner.invoke(cli, ["diff", text])
        ms = 1000 * (time.perf_counter() - start)
        print(f"{name:<30} {len(text):>8} {result.exit_code:>5} {ms:>8.1f}")


if __name__ == "__main__":
    main()
