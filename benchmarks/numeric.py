"""Wall time of the NumPy cross-check (tracer.numeric) against network size.

    python3 benchmarks/numeric.py

evaluate() is one forward and backward pass over the data set (random weights, one
sample); train() runs Mazur's example for 10,000 gradient-descent steps, keeping
every pass. Each time is the best of a few repetitions.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracer import numeric  # noqa: E402
from tracer.spec import Problem, from_mapping, load  # noqa: E402


def random_problem(sizes: list[int], activations: list[str], seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    layers = [
        {
            "units": sizes[k],
            "activation": activations[k - 1],
            "weights": (rng.uniform(-1, 1, (sizes[k], sizes[k - 1])) / np.sqrt(sizes[k - 1])).tolist(),
            "bias": rng.uniform(-0.1, 0.1, sizes[k]).tolist(),
        }
        for k in range(1, len(sizes))
    ]
    return from_mapping(
        {
            "network": {"inputs": sizes[0], "layers": layers},
            "loss": {"kind": "cross_entropy"},
            "data": [{"x": rng.uniform(0, 1, sizes[0]).tolist(), "label": 0}],
            "training": {"learning_rate": 0.1},
        },
        "benchmark",
    )


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    cases = [
        ("2-2-2", [2, 2, 2], ["sigmoid", "softmax"]),
        ("3-3-3-3", [3, 3, 3, 3], ["relu", "sigmoid", "softmax"]),
        ("784-32-10", [784, 32, 10], ["relu", "softmax"]),
    ]
    print(f"{'case':<24} {'parameters':>10} {'wall time':>12}")
    for label, sizes, activations in cases:
        problem = random_problem(sizes, activations)
        seconds = best_of(lambda: numeric.evaluate(problem), repeat=20)
        print(f"{'evaluate ' + label:<24} {len(problem.parameter_names()):>10} {seconds * 1e3:>9.3f} ms")
    mazur = load(ROOT / "examples" / "mazur.yaml")
    for order in ("simultaneous", "sequential"):
        problem = dataclasses.replace(mazur, training=dataclasses.replace(mazur.training, order=order))
        seconds = best_of(lambda: numeric.train(problem, steps=10_000), repeat=3)
        print(f"{'train Mazur ×10,000 (' + order[:3] + ')':<24} {len(problem.parameter_names()):>10} {seconds:>10.3f} s")


if __name__ == "__main__":
    main()
