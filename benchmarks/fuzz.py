"""A mutation fuzzer of every input the tool reads, run in process.

    python3 benchmarks/fuzz.py                       # 2,000 inputs per target
    python3 benchmarks/fuzz.py --inputs 1000000 --targets problems,claims
    python3 benchmarks/fuzz.py --save fuzz-failures  # every failure written as a file

Targets: ``problems`` (the shipped examples' YAML, mutated token by token: YAML tags and
scalars, huge and non-finite numbers, deep nesting, wrong types, deleted and duplicated
lines), ``claims`` (claims files against Mazur's example), ``randomize`` (quiz blocks) and
``expressions`` (``tracer diff``'s parser and derivation). Each input ends as a clean
refusal (SpecError / NameError_ / ValueError with a message: exit 2), a verified result, a
crash (any other exception: a traceback), a hang (over ``--timeout`` seconds), or a
non-finite result reported as success. The table prints per target how many of each;
``--save DIR`` keeps every crash, hang and non-finite input as a file.
"""

from __future__ import annotations

import argparse
import math
import random
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracer.calculus.budget import WorkLimitExceeded  # noqa: E402
from tracer.calculus.derivatives import DerivationMismatch, derive_program  # noqa: E402
from tracer.calculus.expression import ExpressionError, parse_program  # noqa: E402
from tracer.core.derive import solve  # noqa: E402
from tracer.core.keys import NameError_  # noqa: E402
from tracer.spec import SpecError, loads  # noqa: E402

EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml"))
TOKENS = ["!!timestamp 0.5", "!!int 0.5", "!!float abc", "!!bool 3", "!!binary xyz", "!!python/object:os.system", "!!set {a}",
          "1e309", "-1e309", ".inf", "-.inf", ".nan", "9" * 5000, "0x1F", "0o17", "1_000", "null", "~", "''", "[]", "{}",
          "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "yes", "no", "-0", "1e-320", "2147483648",
          "'\\x00'", '"\\u202e"', "&a 1", "*a", "<<: {}", "? x", "|\n  x", ">\n  y", "\t", "θ", "🙂", "1e3", "-1", "0", "abc"]


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        if not lines:
            break
        k = rng.randrange(len(lines))
        line = lines[k]
        choice = rng.random()
        if choice < 0.45 and ":" in line:  # replace a value
            key, _, _ = line.partition(":")
            lines[k] = f"{key}: {rng.choice(TOKENS)}"
        elif choice < 0.65:  # replace a number inside the line
            parts = line.split(",")
            j = rng.randrange(len(parts))
            parts[j] = parts[j].rstrip("]} ") + rng.choice([" 1e308", " -1e308", " .nan", " 1e400", " abc", " []", " 0"]) + ("]" if parts[j].rstrip().endswith("]") else "")
            lines[k] = ",".join(parts)
        elif choice < 0.8:
            del lines[k]
        elif choice < 0.9:
            lines.insert(k, lines[rng.randrange(len(lines))])
        else:
            lines[k] = line + rng.choice(TOKENS)
    return "\n".join(lines) + "\n"


def run_problem(text: str) -> str:
    problem = loads(text, "fuzz.yaml")
    solution = solve(problem)
    if solution.verification is not None and not solution.verification.ok:
        return "mismatch"
    numbers = [getattr(solution, "loss_after", 0.0)]
    if not all(isinstance(v, float) and math.isfinite(v) for v in numbers if v is not None):
        return "non-finite"
    return "ok"


def run_expression(text: str) -> str:
    """What `tracer diff EXPR` does before it renders: parse, derive rule by rule, verify."""
    try:
        derive_program(parse_program(text))
    except DerivationMismatch:
        return "mismatch"
    return "ok"


_MAZUR = None


def _mazur():
    global _MAZUR
    if _MAZUR is None:
        from tracer.spec import load

        problem = load(ROOT / "examples" / "mazur.yaml")
        _MAZUR = (problem, solve(problem, verify=False))
    return _MAZUR


def run_claims(text: str) -> str:
    """What `tracer check examples/mazur.yaml CLAIMS` does: read the claims, judge them."""
    from tracer.teach.check import check
    from tracer.teach.claims import parse_claim_set

    claims = parse_claim_set(text, "fuzz-claims.yaml")
    problem, solution = _mazur()
    if claims.training:
        solution = solve(__import__("dataclasses").replace(problem, training=__import__("dataclasses").replace(problem.training, **claims.training)), verify=False)
    for verdict in check(solution, claims.claims).verdicts:
        if verdict.verdict not in ("right", "habit", "carried", "wrong", "invalid"):
            return "mismatch"
    return "ok"


def run_randomize(text: str) -> str:
    """What `tracer quiz FILE --count 3` does with a mutated randomize: block."""
    from tracer.teach.quiz import generate, parse_spec

    problem = loads(text, "fuzz-quiz.yaml")
    parse_spec(problem)
    generate(problem, 3, 1, jobs=1)
    return "ok"


TARGETS = {"problems": run_problem, "expressions": run_expression, "claims": run_claims, "randomize": run_randomize}
REFUSALS = (SpecError, NameError_, ExpressionError, WorkLimitExceeded)


def inputs(target: str, rng: random.Random):
    if target == "problems":
        sources = [p.read_text(encoding="utf-8") for p in EXAMPLES]
        while True:
            yield mutate(rng.choice(sources), rng)
    if target == "claims":
        sources = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples" / "errata").glob("mazur*.yaml"))]
        names = ["dloss/dW2[1,1]", "W2[1,1]'", "loss_after", "w5", "dE_total/dw5", "a2[1]@end", "loss - loss_after", "x[1]",
                 "W2", "dloss/dz2[1] * dz2[1]/da1[1]", "m(W2[1,1])", "penalty", "eta*2", "nope[1]"]
        while True:
            if rng.random() < 0.5:
                yield mutate(rng.choice(sources), rng)
            else:
                lines = [f'"{rng.choice(names)}": {rng.choice(TOKENS + ["0.35891648", "0.0821670406", "[[0.1, 0.2], [0.3]]", "1E+2", "-0"])}'
                         for _ in range(rng.randint(1, 6))]
                yield "\n".join(lines) + "\n"
    if target == "randomize":
        base = (ROOT / "examples" / "mazur.yaml").read_text(encoding="utf-8")
        head = base[: base.index("randomize:")]
        block = base[base.index("randomize:"):]
        while True:
            yield head + mutate(block, rng)
    if target == "expressions":
        atoms = ["x", "y", "2", "0.5", "e", "pi", "1e308", "-3", "0"]
        functions = ["sin", "cos", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "max", "softplus", "asin", "sec"]
        while True:
            expr = rng.choice(atoms)
            for _ in range(rng.randint(1, 6)):
                r = rng.random()
                if r < 0.4:
                    expr = f"{rng.choice(functions)}({expr})"
                elif r < 0.8:
                    expr = f"({expr}){rng.choice(['+', '-', '*', '/', '^'])}{rng.choice(atoms)}"
                else:
                    expr = expr + rng.choice(["", ")", "(", "^^", ",", "!", "x" * 50])
            yield expr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=2000)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None)
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    save = Path(args.save) if args.save else None
    print(f"{'target':>12} {'inputs':>9} {'refused':>9} {'verified':>9} {'crashes':>8} {'hangs':>6} {'non-finite':>10} {'mismatch':>9} {'s':>7}")
    for target in args.targets.split(","):
        rng = random.Random(args.seed)
        counts: Counter = Counter()
        kinds: Counter = Counter()
        started = time.perf_counter()
        for n, text in zip(range(args.inputs), inputs(target, rng)):
            signal.setitimer(signal.ITIMER_REAL, args.timeout)
            try:
                outcome = TARGETS[target](text)
            except REFUSALS:
                outcome = "refused"
            except Hang:
                outcome = "hang"
            except RecursionError:
                outcome = "crash"
                kinds["RecursionError"] += 1
            except Exception as err:  # noqa: BLE001 - a traceback is what the fuzzer looks for
                outcome = "crash"
                frame = traceback.extract_tb(err.__traceback__)[-1]
                kinds[f"{type(err).__name__} at {Path(frame.filename).name}:{frame.lineno}"] += 1
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            counts[outcome] += 1
            if save is not None and outcome in ("crash", "hang", "non-finite", "mismatch"):
                save.mkdir(parents=True, exist_ok=True)
                (save / f"{target}-{outcome}-{n}.txt").write_text(text, encoding="utf-8")
        elapsed = time.perf_counter() - started
        print(f"{target:>12} {args.inputs:>9} {counts['refused']:>9} {counts['ok']:>9} {counts['crash']:>8} {counts['hang']:>6} "
              f"{counts['non-finite']:>10} {counts['mismatch']:>9} {elapsed:>7.1f}")
        for kind, k in kinds.most_common(12):
            print(f"{'':>14}{k:>6} × {kind}")


if __name__ == "__main__":
    main()
