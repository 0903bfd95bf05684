"""Wall time of `tracer solve` (JSON: derivation + verification) against network size.

    python3 benchmarks/solve.py            # the table
    python3 benchmarks/solve.py --naive    # also the naive baseline on the small networks

The naive baseline builds the whole loss as one SymPy expression and calls
sympy.diff once per parameter, then substitutes the numbers: the way a derivation
should NOT be done (its cost explodes with depth).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sympy as sp  # noqa: E402

from tracer import activations  # noqa: E402
from tracer.core.derive import solve  # noqa: E402
from tracer.export.as_json import solution_json  # noqa: E402
from tracer.spec import Problem, from_mapping, load  # noqa: E402


def random_problem(sizes: list[int], acts: list[str], seed: int = 0) -> Problem:
    rng = random.Random(seed)
    layers = []
    for k in range(1, len(sizes)):
        scale = 1 / max(1, sizes[k - 1]) ** 0.5
        layers.append(
            {
                "units": sizes[k],
                "activation": acts[k - 1],
                "weights": [[rng.uniform(-scale, scale) for _ in range(sizes[k - 1])] for _ in range(sizes[k])],
                "bias": [rng.uniform(-0.1, 0.1) for _ in range(sizes[k])],
            }
        )
    return from_mapping(
        {
            "title": "-".join(map(str, sizes)),
            "network": {"inputs": sizes[0], "layers": layers},
            "loss": {"kind": "cross_entropy"},
            "data": [{"x": [rng.uniform(0, 1) for _ in range(sizes[0])], "label": 0}],
            "training": {"learning_rate": 0.1},
        },
        "benchmark",
    )


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def naive(problem: Problem) -> float:
    """Whole loss as one expression, sympy.diff per parameter, numbers substituted at the end."""
    def run() -> None:
        symbols = {name: sp.Symbol(name) for name in problem.parameter_names()}
        values = problem.parameters()
        previous = [sp.Float(v) for v in problem.data[0].x]
        for l, layer in enumerate(problem.layers, 1):
            zs = []
            for j in range(1, layer.units + 1):
                z = sum(symbols[f"W{l}[{j},{i}]"] * previous[i - 1] for i in range(1, layer.inputs + 1))
                if layer.bias is not None:
                    z += symbols[f"b{l}" if layer.shared_bias else f"b{l}[{j}]"]
                zs.append(z)
            act = activations.make(layer.activation)
            if layer.activation.name == "softmax":
                total = sum(sp.exp(z) for z in zs)
                previous = [sp.exp(z) / total for z in zs]
            else:
                previous = [act.expr(z) for z in zs]
        y = problem.data[0].y
        loss = -sum(t * sp.log(o) for t, o in zip(y, previous) if t)
        for name, sym in symbols.items():
            float(sp.diff(loss, sym).subs({symbols[k]: v for k, v in values.items()}))

    return timed(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--naive", action="store_true", help="also time the naive baseline (2-2-2 and 3-3-3-3; the latter takes ~a minute)")
    args = parser.parse_args()
    cases = [
        ("2-2-2", [2, 2, 2], ["sigmoid", "softmax"]),
        ("3-3-3-3", [3, 3, 3, 3], ["relu", "sigmoid", "softmax"]),
        ("10-10-10-10", [10, 10, 10, 10], ["relu", "sigmoid", "softmax"]),
        ("784-32-10", [784, 32, 10], ["relu", "softmax"]),
    ]
    solve(random_problem([2, 2, 2], ["sigmoid", "softmax"]))  # imports and one-off SymPy checks, not counted
    print(f"{'network':>14} {'parameters':>11} {'solve+json (s)':>15} {'s / 1k params':>14} {'naive (s)':>10}")
    for label, sizes, acts in cases:
        problem = random_problem(sizes, acts)
        n = len(problem.parameter_names())
        seconds = timed(lambda: json.dumps(solution_json(solve(problem))))
        naive_s = f"{naive(problem):10.2f}" if args.naive and n < 100 else f"{'-':>10}"
        print(f"{label:>14} {n:>11} {seconds:>15.3f} {1000 * seconds / n:>14.3f} {naive_s}")
    mazur = load(Path(__file__).resolve().parent.parent / "examples" / "mazur.yaml")
    import dataclasses

    long_run = dataclasses.replace(mazur, training=dataclasses.replace(mazur.training, steps=10000))
    seconds = timed(lambda: json.dumps(solution_json(solve(long_run))))
    print(f"{'Mazur ×10,000':>14} {len(mazur.parameter_names()):>11} {seconds:>15.3f} {'':>14} {'-':>10}")


if __name__ == "__main__":
    main()
