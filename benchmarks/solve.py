"""Wall time of `tracer solve` (JSON: derivation + verification) against network size.

    python3 benchmarks/solve.py              # the table (about 2 minutes)
    python3 benchmarks/solve.py --naive      # also the naive baseline on the small networks
    python3 benchmarks/solve.py --rounds 9   # more rounds of the whole-process timing

Two measures per network:

* in process: ``solve`` + ``solution_json`` on a Problem already in memory, after a
  warm-up solve (the engine's own cost);
* whole process: ``python3 -m tracer solve FILE -f json > /dev/null`` on the problem
  written to a file (start-up, imports, YAML, engine, JSON), alternated in each round
  with a bare ``python3 -c "import sympy, numpy"`` so that both see the same machine
  load; the medians over the rounds and their ratio ("× bare import": what the
  command costs over the libraries it cannot avoid importing).

The naive baseline builds the whole loss as one SymPy expression and calls
sympy.diff once per parameter, then substitutes the numbers: the way a derivation
should NOT be done (its cost explodes with depth).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sympy as sp  # noqa: E402
import yaml  # noqa: E402

from tracer import keys  # noqa: E402
from tracer.core import functions  # noqa: E402
from tracer.core.derive import solve  # noqa: E402
from tracer.export.as_json import solution_json  # noqa: E402
from tracer.spec import GraphProblem, Problem, from_mapping  # noqa: E402

#: label, layer sizes, activations
NETWORKS = [
    ("2-2-2", [2, 2, 2], ["sigmoid", "softmax"]),
    ("3-3-3-3", [3, 3, 3, 3], ["relu", "sigmoid", "softmax"]),
    ("10-10-10-10", [10, 10, 10, 10], ["relu", "sigmoid", "softmax"]),
    ("784-32-10", [784, 32, 10], ["relu", "softmax"]),
]
MAZUR_LABEL, MAZUR_STEPS = "Mazur ×10,000", 10_000
#: the same run with Adam (SPEC §9): the optimizer's state carried through every update
ADAM_LABEL = "Adam ×10,000"
#: graph problems (SPEC §7): label, number of equations
GRAPHS = [("graph 10", 10), ("graph 1,000", 1000)]
#: a convolutional network (SPEC §8): 1×28×28, 8 filters 3×3, 2×2 max-pooling, dense 10
CONV_LABEL = "conv 28×28"

#: the baseline a whole process is compared with: the libraries any solve needs
BARE_IMPORT = [sys.executable, "-c", "import sympy, numpy"]


def random_mapping(sizes: list[int], acts: list[str], seed: int = 0) -> dict:
    """A problem file's mapping: random weights of a dense network, one sample, cross-entropy."""
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
    return {
        "title": "-".join(map(str, sizes)),
        "network": {"inputs": sizes[0], "layers": layers},
        "loss": {"kind": "cross_entropy"},
        "data": [{"x": [rng.uniform(0, 1) for _ in range(sizes[0])], "label": 0}],
        "training": {"learning_rate": 0.1},
    }


def graph_mapping(n: int, seed: int = 0) -> dict:
    """A graph problem of ``n`` equations: each node combines the one before it with one of the
    twenty before that through one of seven gates (bounded: no overflow however deep)."""
    rng = random.Random(seed)
    forms = ["0.5 * ({0} + {1})", "{0} * tanh({1})", "0.5 * ({0} - {1})", "max({0}, {1})", "tanh({0} + {1})",
             "sigmoid({0}) * {1}", "0.5 * {0} + sin({1})"]
    names, equations = ["x", "y", "w"], ["n0 = x * y + w"]
    names.append("n0")
    for k in range(1, n):
        other = rng.choice(names[max(0, len(names) - 20):])
        equations.append(f"n{k} = " + rng.choice(forms).format(names[-1], other))
        names.append(f"n{k}")
    return {"title": f"{n} equations", "graph": {"equations": equations, "values": {"x": 0.3, "y": -0.7, "w": 0.2}, "output": f"n{n - 1}"}}


def conv_mapping(seed: int = 0) -> dict:
    """An MNIST-sized convolutional network: 13,610 parameters, one image."""
    rng = random.Random(seed)
    kernels = [[[[rng.uniform(-0.3, 0.3) for _ in range(3)] for _ in range(3)]] for _ in range(8)]
    dense = [[rng.uniform(-0.05, 0.05) for _ in range(8 * 13 * 13)] for _ in range(10)]
    return {
        "title": CONV_LABEL,
        "network": {"input": {"channels": 1, "height": 28, "width": 28}, "layers": [
            {"type": "conv2d", "filters": 8, "kernel_size": 3, "activation": "relu", "weights": kernels, "bias": [0.01] * 8},
            {"type": "maxpool2d", "size": 2},
            {"type": "flatten"},
            {"units": 10, "activation": "softmax", "weights": dense, "bias": [0.0] * 10},
        ]},
        "loss": {"kind": "cross_entropy"},
        "data": [{"x": [[[rng.uniform(0, 1) for _ in range(28)] for _ in range(28)]], "label": 3}],
        "training": {"learning_rate": 0.1, "steps": 1},
    }


def size_of(problem) -> int:
    """Parameters of a network; names (leaves and nodes) of a graph."""
    if isinstance(problem, GraphProblem):
        return len(problem.values) + len(problem.equations)
    return len(problem.parameter_keys)


def mazur_mapping(steps: int, optimizer: str = "sgd") -> dict:
    """examples/mazur.yaml, trained for ``steps`` steps (with ``optimizer``)."""
    raw = yaml.safe_load((ROOT / "examples" / "mazur.yaml").read_text(encoding="utf-8"))
    raw["training"]["steps"] = steps
    raw["training"]["optimizer"] = optimizer
    raw.pop("randomize", None)
    return raw


def random_problem(sizes: list[int], acts: list[str], seed: int = 0) -> Problem:
    return from_mapping(random_mapping(sizes, acts, seed), "benchmark")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def naive(problem: Problem) -> float:
    """Whole loss as one expression, sympy.diff per parameter, numbers substituted at the end."""
    def run() -> None:
        symbols = {key: sp.Symbol(str(key)) for key in problem.parameter_keys}
        values = problem.parameters()
        previous = [sp.Float(v) for v in problem.data[0].x]
        for l, layer in enumerate(problem.layers, 1):
            zs = []
            for j in range(1, layer.units + 1):
                z = sum(symbols[keys.W(l, j, i)] * previous[i - 1] for i in range(1, layer.inputs + 1))
                if layer.bias is not None:
                    z += symbols[keys.b(l) if layer.shared_bias else keys.b(l, j)]
                zs.append(z)
            op = functions.activation(layer.activation, 0, layer.units)
            previous = [op.expression(zs, m) for m in range(layer.units)] if layer.activation.name == "softmax" else [op.expression([z]) for z in zs]
        y = problem.data[0].y
        loss = -sum(t * sp.log(o) for t, o in zip(y, previous) if t)
        for name, sym in symbols.items():
            float(sp.diff(loss, sym).subs({symbols[k]: v for k, v in values.items()}))

    return timed(run)


def process_seconds(argv: list[str]) -> float:
    """Wall time of one process, stdout to /dev/null (as a shell's ``> /dev/null``)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this tree's tracer, not an installed one
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return seconds


def whole_process(files: dict[str, Path], rounds: int) -> tuple[float, dict[str, float]]:
    """Median wall time of the bare import and of ``tracer solve FILE -f json`` per file.

    Each round runs the bare import, then every file, so that a change of machine
    load during the run touches both sides of the ratio alike.
    """
    bare: list[float] = []
    runs: dict[str, list[float]] = {label: [] for label in files}
    for _ in range(rounds):
        bare.append(process_seconds(BARE_IMPORT))
        for label, path in files.items():
            runs[label].append(process_seconds([sys.executable, "-m", "tracer", "solve", str(path), "-f", "json"]))
    return statistics.median(bare), {label: statistics.median(times) for label, times in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--naive", action="store_true", help="also time the naive baseline (2-2-2 and 3-3-3-3; the latter takes ~a minute)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the whole-process timing (default 5; the medians are reported)")
    args = parser.parse_args()
    mappings = {label: random_mapping(sizes, acts) for label, sizes, acts in NETWORKS}
    mappings[MAZUR_LABEL] = mazur_mapping(MAZUR_STEPS)
    mappings[ADAM_LABEL] = mazur_mapping(MAZUR_STEPS, "adam")
    mappings.update({label: graph_mapping(n) for label, n in GRAPHS})
    mappings[CONV_LABEL] = conv_mapping()
    problems = {label: from_mapping(raw, "benchmark") for label, raw in mappings.items()}

    solve(random_problem([2, 2, 2], ["sigmoid", "softmax"]))  # imports and one-off SymPy checks, not counted
    in_process = {label: timed(lambda: json.dumps(solution_json(solve(problem)))) for label, problem in problems.items()}
    naive_s = {label: naive(problems[label]) for label in problems
               if args.naive and isinstance(problems[label], Problem) and label not in (MAZUR_LABEL, ADAM_LABEL) and len(problems[label].parameter_keys) < 100}

    # as an installed package has them: this tree's modules compiled to bytecode (an editable
    # install under PYTHONDONTWRITEBYTECODE=1 would otherwise compile them in every process)
    compileall.compile_dir(str(ROOT / "tracer"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="tracer-bench-") as tmp:
        files = {}
        for label, raw in mappings.items():
            files[label] = Path(tmp) / f"{label.replace(' ', '_').replace(',', '')}.yaml"
            files[label].write_text(yaml.safe_dump(raw, default_flow_style=None, sort_keys=False), encoding="utf-8")
        bare, process = whole_process(files, args.rounds)

    print(f"{'problem':>14} {'size':>11} {'solve+json (s)':>15} {'s / 1k params':>14} {'process (s)':>12} {'× bare import':>14} {'naive (s)':>10}")
    for label, problem in problems.items():
        n = size_of(problem)
        per_k = f"{1000 * in_process[label] / n:>14.3f}" if label not in (MAZUR_LABEL, ADAM_LABEL) else f"{'':>14}"
        naive_col = f"{naive_s[label]:10.2f}" if label in naive_s else f"{'-':>10}"
        print(f"{label:>14} {n:>11} {in_process[label]:>15.3f} {per_k} {process[label]:>12.2f} {process[label] / bare:>14.1f} {naive_col}")
    print(f"{'bare import':>14} {'':>11} {'':>15} {'':>14} {bare:>12.2f} {1:>14.1f} {'':>10}")
    print("(size: a network's parameters (conv 28×28: 1×28×28 → 8 filters 3×3, ReLU → 2×2 max-pooling → dense 10), "
          "a graph's names — leaves and nodes; s / 1k: per thousand of them)")
    print(f"(whole process: median of {args.rounds} rounds of `python3 -m tracer solve FILE -f json > /dev/null`, alternated with "
          f"the bare import `python3 -c \"import sympy, numpy\"`; the tree's modules compiled first, as installed)")


if __name__ == "__main__":
    main()
