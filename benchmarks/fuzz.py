"""A mutation fuzzer of every input the tool reads, run in process.

    python3 benchmarks/fuzz.py                       # 2,000 inputs per target
    python3 benchmarks/fuzz.py --inputs 1000000 --targets problems,claims
    python3 benchmarks/fuzz.py --save fuzz-failures  # every failure written as a file
    python3 benchmarks/fuzz.py --inputs 1000000 --jobs 2 --progress 50000   # a long run on two cores

Targets: ``problems`` (the shipped examples' YAML, mutated token by token: YAML tags and
scalars, huge and non-finite numbers, deep nesting, wrong types, deleted and duplicated
lines), ``claims`` (claims files against Mazur's example), ``randomize`` (quiz blocks) and
``expressions`` (``tracer diff``'s parser and derivation). Each input ends as a clean
refusal (SpecError / NameError_ / ValueError with a message: exit 2), a verified result, a
crash (any other exception: a traceback), a hang (over ``--timeout`` seconds of its CPU time, or with ``--clock wall`` of wall-clock time), or a
non-finite result reported as success; an input over the timeout that asks for a run of
100,000 updates or more is "long" (the work it asks for, within the README's limits), not a
hang. The table prints per target how many of each;
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
from tracer.cli.common import non_finite_result, verification_failure  # noqa: E402
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
    solution = solve(problem)  # (a ValueError here would be `tracer solve`'s "computation failed": counted as a crash)
    failed = verification_failure(problem, solution)
    if failed is not None:
        return "refused" if failed[1] == 2 else "mismatch"
    if non_finite_result(problem, solution) is not None:  # `tracer solve` refuses it (exit 2); the fuzzer counts it
        return "refused"
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


_TRAINED: dict = {}


def _trained(problem):
    """The problem solved once per process: solve is a pure function of the frozen problem, so
    the claims files that ask the same run (most mutations do not touch `training:`) share it."""
    if problem not in _TRAINED:
        if len(_TRAINED) > 64:
            _TRAINED.clear()
        _TRAINED[problem] = solve(problem, verify=False)
    return _TRAINED[problem]


def run_claims(text: str) -> str:
    """What `tracer check examples/mazur.yaml CLAIMS` does: read the claims, judge them."""
    import dataclasses

    from tracer.teach.check import check
    from tracer.teach.claims import parse_claim_set

    claims = parse_claim_set(text, "fuzz-claims.yaml")
    problem, solution = _mazur()
    if claims.training:
        solution = _trained(dataclasses.replace(problem, training=dataclasses.replace(problem.training, **claims.training)))
    for verdict in check(solution, claims.claims).verdicts:
        if verdict.verdict not in ("right", "habit", "carried", "wrong", "invalid"):
            return "mismatch"
    return "ok"


FULL_EVERY = 10  # --full-every: one randomize input in this many makes whole variants


def run_randomize(text: str, full: bool = True) -> str:
    """What `tracer quiz FILE --count 3` does with a mutated randomize: block. Every input is
    read, its block validated, the distinct variants counted and three drawn and applied (the
    drawn problem validated); one in ``--full-every`` also solves, guards and builds them
    (each variant's solve is the problems target's work, at 30 ms a variant)."""
    import random as _random

    from tracer.teach.quiz import apply, distinct_variants, draw, generate, parse_spec

    problem = loads(text, "fuzz-quiz.yaml")
    spec = parse_spec(problem)
    distinct_variants(problem, spec)
    if full:
        generate(problem, 3, 1, jobs=1)
    else:
        for number in range(1, 4):
            apply(problem, draw(problem, spec, _random.Random(f"1:{number}:0")))
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


CLOCK = signal.ITIMER_PROF  # --clock cpu: the process's own CPU time, so a loaded machine's waits are no "hang"


#: a run of this many updates or more may take longer than --timeout by request: the README's
#: limits allow 10,000,000 (about 20–40 µs each), and source 004's moons run takes 90 s
LONG_RUN = 100_000


def _asks_a_long_run(text: str) -> bool:
    """Did the file ask for a run that long? Then the time is the work asked for, within the
    stated limits (counted as "long"), not a hang."""
    try:
        training = loads(text, "fuzz.yaml").training
    except Exception:  # noqa: BLE001 - it loaded once already; anything else: a hang
        return False
    return getattr(training, "steps", 0) >= LONG_RUN


def _one(target: str, n: int, text: str, timeout: float) -> tuple[str, str | None]:
    """One input: its outcome, and for a crash where it happened."""
    signal.setitimer(CLOCK, timeout)
    try:
        if target == "randomize":
            outcome = run_randomize(text, full=n % FULL_EVERY == 0)
        else:
            outcome = TARGETS[target](text)
    except REFUSALS:
        return "refused", None
    except Hang:
        return ("long" if target == "problems" and _asks_a_long_run(text) else "hang"), None
    except RecursionError:
        return "crash", "RecursionError"
    except Exception as err:  # noqa: BLE001 - a traceback is what the fuzzer looks for
        frame = traceback.extract_tb(err.__traceback__)[-1]
        return "crash", f"{type(err).__name__} at {Path(frame.filename).name}:{frame.lineno}"
    finally:
        signal.setitimer(CLOCK, 0)
    return outcome, None


def _share(job: tuple) -> tuple[Counter, Counter, float]:
    """Worker ``k`` of ``jobs``: the inputs n ≡ k (mod jobs) of the one seeded stream, so a run
    finds the same inputs whatever ``--jobs`` is."""
    target, seed, total, k, jobs, timeout, save, progress = job
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGPROF, _alarm)
    rng = random.Random(seed)
    counts: Counter = Counter()
    kinds: Counter = Counter()
    slowest = 0.0
    for n, text in zip(range(total), inputs(target, rng)):
        if n % jobs != k:
            continue
        clock = time.process_time if CLOCK == signal.ITIMER_PROF else time.perf_counter
        started = clock()
        outcome, kind = _one(target, n, text, timeout)
        slowest = max(slowest, clock() - started)
        counts[outcome] += 1
        if kind:
            kinds[kind] += 1
        if save is not None and outcome in ("crash", "hang", "non-finite", "mismatch"):
            save.mkdir(parents=True, exist_ok=True)
            (save / f"{target}-{outcome}-{n}.txt").write_text(text, encoding="utf-8")
        if progress and k == 0 and n and n % progress < jobs:
            print(f"  {target}: input {n:,} of the stream; worker 1 of {jobs} (every {jobs}th input): {dict(counts)}", file=sys.stderr, flush=True)
    return counts, kinds, slowest


def main() -> None:
    global FULL_EVERY, CLOCK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=2000)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None)
    parser.add_argument("--jobs", type=int, default=1, help="processes (each takes every jobs-th input of the one stream)")
    parser.add_argument("--full-every", type=int, default=FULL_EVERY, help="randomize: one input in this many solves whole variants")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="what --timeout measures: the input's CPU time (default; a loaded machine's waits are not a hang) or wall-clock time")
    parser.add_argument("--progress", type=int, default=0, help="print a progress line to stderr every this many inputs")
    args = parser.parse_args()
    import warnings

    warnings.simplefilter("ignore", RuntimeWarning)  # as the CLI does: NumPy's overflow warnings are not findings
    FULL_EVERY = max(1, args.full_every)
    CLOCK = signal.ITIMER_PROF if args.clock == "cpu" else signal.ITIMER_REAL
    save = Path(args.save) if args.save else None
    print(f"{'target':>12} {'inputs':>9} {'refused':>9} {'verified':>9} {'long':>5} {'crashes':>8} {'hangs':>6} {'non-finite':>10} {'mismatch':>9} {'slowest s':>9} {'s':>7}")
    for target in args.targets.split(","):
        started = time.perf_counter()
        jobs = [(target, args.seed, args.inputs, k, args.jobs, args.timeout, save, args.progress) for k in range(args.jobs)]
        if args.jobs > 1:
            import multiprocessing

            with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
                shares = pool.map(_share, jobs)
        else:
            shares = [_share(jobs[0])]
        counts: Counter = sum((c for c, _, _ in shares), Counter())
        kinds: Counter = sum((k for _, k, _ in shares), Counter())
        slowest = max(s for _, _, s in shares)
        elapsed = time.perf_counter() - started
        print(f"{target:>12} {args.inputs:>9} {counts['refused']:>9} {counts['ok']:>9} {counts['long']:>5} {counts['crash']:>8} {counts['hang']:>6} "
              f"{counts['non-finite']:>10} {counts['mismatch']:>9} {slowest:>9.2f} {elapsed:>7.1f}", flush=True)
        for kind, k in kinds.most_common(12):
            print(f"{'':>14}{k:>6} × {kind}")


if __name__ == "__main__":
    main()
