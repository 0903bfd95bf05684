"""A mutation fuzzer of every input the tool reads, run in process.

    python3 benchmarks/fuzz.py                       # 2,000 inputs per target
    python3 benchmarks/fuzz.py --inputs 1000000 --targets problems,claims
    python3 benchmarks/fuzz.py --save fuzz-failures  # every failure written as a file
    python3 benchmarks/fuzz.py --inputs 1000000 --jobs 2 --progress 50000   # a long run on two cores

Targets: ``problems`` (the shipped examples' YAML, mutated token by token: YAML tags and
scalars, huge and non-finite numbers, deep nesting, wrong types, deleted and duplicated
lines), ``claims`` (claims files against Mazur's example), ``randomize`` (quiz blocks) and
``expressions`` (``tracer diff``'s parser and derivation); and since issue 26 ``graphs``
(graph problems whose equations are random expression trees, at edge values, some trained),
``training`` (dense, conv, rnn and graph examples with random ``training:`` blocks: every
option — optimizers, epochs, batches, shuffle, record_every, track, update, order, a layer's
own rate, a penalty, shared biases), ``overrides`` (claims files' ``training:`` against
network, conv, rnn and graph problems), ``answers`` (a class's answer CSVs for ``tracer grade``:
encodings, line endings, delimiters, odd numbers) and ``ranges`` (``randomize:`` ranges of odd
numbers, on network and graph quizzes, with YAML aliases). Each input ends as a clean
refusal (SpecError / NameError_ / ValueError with a message: exit 2), a verified result, a
crash (any other exception: a traceback), a hang (over ``--timeout`` seconds of its CPU time, or with ``--clock wall`` of wall-clock time), or a
non-finite result reported as success; an input over the timeout that asks for a run of
100,000 updates or more is "long" (the work it asks for, within the README's limits), not a
hang. The table prints per target how many of each;
``--save DIR`` keeps every crash, hang and non-finite input as a file.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracer.calculus.budget import WorkLimitExceeded  # noqa: E402
from tracer.calculus.derivatives import DerivationMismatch, derive_program  # noqa: E402
from tracer.calculus.expression import ExpressionError, parse_program  # noqa: E402
from tracer.cli.common import non_finite_result, verification_failure  # noqa: E402
from tracer.core.derive import solve  # noqa: E402
from tracer.keys import NameError_  # noqa: E402
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
    from tracer.teach.check import check
    from tracer.teach.claims import parse_claim_set, with_training

    claims = parse_claim_set(text, "fuzz-claims.yaml")
    problem, solution = _mazur()
    if claims.training:
        solution = _trained(with_training(problem, claims.training, "fuzz-claims.yaml"))
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


def run_overrides(text: str, verify: bool = True) -> str:
    """What `tracer check PROBLEM CLAIMS` does with a claims file whose ``training:`` asks another run;
    the first line names the problem (``# problem: graph_logistic``). One input in ``--full-every``
    verifies the run as `tracer check` does (the others judge the claims only: verifying a conv
    network's run costs a second)."""
    from tracer.spec import load
    from tracer.teach.check import check
    from tracer.teach.claims import parse_claim_set, with_training

    name = text.split("\n", 1)[0].removeprefix("# problem: ").strip()
    claims = parse_claim_set(text, "fuzz-claims.yaml")
    problem = with_training(load(ROOT / "examples" / f"{name}.yaml"), claims.training, "fuzz-claims.yaml")
    if problem not in _VERIFIED:  # the run the claims are about, verified as `tracer check` verifies it
        if len(_VERIFIED) > 64:
            _VERIFIED.clear()
        _VERIFIED[problem] = solve(problem, verify=verify)
    solution = _VERIFIED[problem]
    failed = (verification_failure(problem, solution) if solution.verification is not None else None) or non_finite_result(problem, solution)
    if failed is not None:  # `tracer check` stops here, as `tracer solve` does
        return "refused" if failed[1] == 2 else "mismatch"
    for verdict in check(solution, claims.claims).verdicts:
        if verdict.verdict not in ("right", "habit", "carried", "wrong", "invalid"):
            return "mismatch"
    return "ok"


_VERIFIED: dict = {}
_GRADER: dict = {}


def _grader():
    """A quiz of examples/mazur.yaml (3 variants, seed 3) made once per process, its key read and its
    variants solved once (what `tracer grade` does before it reads the answers)."""
    if "grader" not in _GRADER:
        import tempfile

        from click.testing import CliRunner

        from tracer.cli import cli
        from tracer.teach.grade import Grader

        directory = Path(tempfile.mkdtemp(prefix="fuzz-quiz-"))
        done = CliRunner().invoke(cli, ["quiz", str(ROOT / "examples" / "mazur.yaml"), "--count", "3", "--seed", "3", "-o", str(directory / "hw"), "--formats", "csv"])
        assert done.exit_code == 0, done.output
        _GRADER["grader"] = Grader(directory / "hw")
        _GRADER["answers"] = directory / "answers.csv"
    return _GRADER["grader"], _GRADER["answers"]


def run_answers(text: str) -> str:
    """What `tracer grade QUIZDIR ANSWERS.csv` does with a class's file (its bytes are the input's
    characters, one each: latin-1): read it, mark every row, write marks.csv and each page."""
    from tracer.teach.grade import feedback_md, marks_csv, read_answers

    grader, path = _grader()
    path.write_bytes(text.encode("latin-1"))
    results = [grader.grade(row) for row in read_answers(path, grader.key)]
    marks_csv(results)
    for result in results:
        feedback_md(result)
    return "ok"


TARGETS = {"problems": run_problem, "expressions": run_expression, "claims": run_claims, "randomize": run_randomize,
           "graphs": run_problem, "training": run_problem, "overrides": run_overrides, "answers": run_answers, "ranges": run_randomize}
REFUSALS = (SpecError, NameError_, ExpressionError, WorkLimitExceeded)

# ---------------------------------------------------------------------------
# The generators of the issue-26 targets
# ---------------------------------------------------------------------------

#: the functions a graph equation may call (tracer/calculus/expression.py), by arity
UNARY = ["exp", "ln", "log", "log10", "log2", "sqrt", "sin", "cos", "tan", "sec", "csc", "cot", "asin", "acos", "atan",
         "sinh", "cosh", "tanh", "sigmoid", "softplus", "relu", "abs"]
BINARY = ["max", "min", "log"]
#: the values a leaf takes: ordinary ones, kinks, domain edges, overflow edges
EDGE_VALUES = ["0", "1", "-1", "0.5", "-0.5", "2", "-3", "1.5", "10.24", "710", "-710", "1e308", "-1e308", "1e-300", "1e154",
               "3.14159", "0.0001", "-2.5", "100", "1e3"]


def _expression_tree(rng: random.Random, names: list[str], depth: int) -> str:
    """A random expression over ``names``: operators + − * / ^, unary minus, calls, numbers, |u|."""
    if depth <= 0 or rng.random() < 0.25:
        return rng.choice(names) if rng.random() < 0.8 else rng.choice(["2", "0.5", "3", "e", "pi", "1", "0"])
    r = rng.random()
    if r < 0.35:
        left, right = _expression_tree(rng, names, depth - 1), _expression_tree(rng, names, depth - 1)
        return f"({left}) {rng.choice(['+', '-', '*', '/', '^'])} ({right})"
    if r < 0.75:
        return f"{rng.choice(UNARY)}({_expression_tree(rng, names, depth - 1)})"
    if r < 0.85:
        return f"{rng.choice(BINARY)}({_expression_tree(rng, names, depth - 1)}, {_expression_tree(rng, names, depth - 1)})"
    if r < 0.92:
        return f"-({_expression_tree(rng, names, depth - 1)})"
    if r < 0.96:
        return f"|{_expression_tree(rng, names, depth - 1)}|"
    return f"({_expression_tree(rng, names, depth - 1)})^{rng.choice(['2', '0.5', '3', '-1', '1.5', '20'])}"


def random_graph(rng: random.Random) -> str:
    """A graph problem of 1–6 equations, each a random expression tree over the leaves and the earlier
    nodes, at edge values; a third of them trained (some leaves, a rate, up to 5 steps)."""
    leaves = rng.sample(["x", "y", "w", "b", "t", "a", "z1"], rng.randint(1, 4))
    names, equations = list(leaves), []
    for k in range(rng.randint(1, 6)):
        equations.append(f"n{k} = {_expression_tree(rng, names, rng.randint(1, 4))}")
        names.append(f"n{k}")
    used = [leaf for leaf in leaves if any(re.search(rf"\b{leaf}\b", e.split('=', 1)[1]) for e in equations)]
    values = ", ".join(f"{leaf}: {rng.choice(EDGE_VALUES) if rng.random() < 0.6 else round(rng.uniform(-4, 4), 3)}" for leaf in used)
    lines = ["title: fuzz graph", "graph:", "  equations:"] + [f"    - {json.dumps(e)}" for e in equations]
    lines += [f"  values: {{{values}}}", f"  output: n{len(equations) - 1}"]
    if rng.random() < 0.2:
        lines.append(f"  relu_derivative_at_zero: {rng.choice([0, 1])}")
    if used and rng.random() < 0.35:
        trained = rng.sample(used, rng.randint(1, len(used)))
        lines += ["training:", f"  parameters: [{', '.join(trained)}]", f"  learning_rate: {rng.choice(['0.1', '0.5', '1', '10', '1e3', '1e-3'])}",
                  f"  steps: {rng.randint(0, 5)}"]
    return "\n".join(lines) + "\n"


_TRAINED_EXAMPLES = ["mazur", "xor", "relu_softmax_3class", "tanh_regression", "deep_sigmoid", "regularization_l2", "batch_modes",
                     "conv_maxpool", "conv_stride_padding", "rnn_many_to_one", "rnn_sequence", "rnn_stacked", "zhu_example2",
                     "graph_logistic", "graph_cs231n", "graph_micrograd"]
_OPTIMIZERS = ["sgd", "momentum", "adagrad", "rmsprop", "adam", "{name: momentum, beta: 0.9, nesterov: true}", "{name: adam, eps: 1e-30}",
               "{name: rmsprop, alpha: 0.5, eps: 0}", "{name: adagrad, eps: 1e-300}", "nadam", "{name: adam, beta1: 1}"]


def _training_block(rng: random.Random, graph: bool, leaves: list[str], parameters: list[str]) -> list[str]:
    """A ``training:`` block of random options (valid and not), for a network or a graph."""
    rate = rng.choice(["0.1", "0.5", "1", "40", "1e3", "1e-3", "-1", "0", "1e308", "2147483648", "abc"])
    if graph:
        chosen = rng.sample(leaves, rng.randint(1, len(leaves))) + (["nope"] if rng.random() < 0.05 else [])
        out = ["training:", f"  parameters: [{', '.join(chosen)}]", f"  learning_rate: {rate}", f"  steps: {rng.choice(['0', '1', '3', '20', '1001', '-1'])}"]
        if rng.random() < 0.1:
            out.append(f"  order: {rng.choice(['sequential', 'simultaneous'])}")
        return out
    out = ["training:", f"  learning_rate: {rate}"]
    if rng.random() < 0.5:
        out.append(f"  steps: {rng.choice(['0', '1', '2', '3', '7', '150', '100000001'])}")
    else:
        out.append(f"  epochs: {rng.choice(['1', '2', '5', '30', '0'])}")
        if rng.random() < 0.7:
            out.append(f"  batch_size: {rng.choice(['1', '2', '3', '4', '100'])}")
        if rng.random() < 0.3:
            out.append(f"  shuffle: {rng.choice(['true', 'false'])}")
            out.append(f"  seed: {rng.randint(0, 9)}")
        if rng.random() < 0.3:
            out.append(f"  record_every: {rng.choice(['1', '2', '10'])}")
        if parameters and rng.random() < 0.3:
            out.append(f"  track: [{json.dumps(rng.choice(parameters))}]")
    if rng.random() < 0.4:
        out.append(f"  optimizer: {rng.choice(_OPTIMIZERS)}")
    if rng.random() < 0.2:
        out.append(f"  order: {rng.choice(['sequential', 'simultaneous'])}")
    if parameters and rng.random() < 0.3:
        out.append(f"  update: [{', '.join(json.dumps(p) for p in rng.sample(parameters, rng.randint(1, min(4, len(parameters)))))}]")
    return out


def random_training(rng: random.Random) -> str:
    """A shipped example with its ``training:`` replaced by random options, and sometimes a layer's
    own learning rate, a penalty on the weights or a shared bias added."""
    name = rng.choice(_TRAINED_EXAMPLES)
    raw = yaml.safe_load((ROOT / "examples" / f"{name}.yaml").read_text(encoding="utf-8"))
    raw.pop("training", None)
    raw.pop("randomize", None)
    graph = "graph" in raw
    leaves = list(raw["graph"]["values"]) if graph else []
    parameters: list[str] = []
    if not graph:
        for l, layer in enumerate(raw["network"]["layers"], start=1):
            if layer.get("type", "dense") in ("dense", "conv2d", "rnn"):
                parameters.append(f"W{l}" + ("[1,1]" if layer.get("type", "dense") != "conv2d" else "[1,1,1,1]"))
                if rng.random() < 0.3:
                    layer["learning_rate"] = rng.choice([0.05, 0.3, 2.0, 1e-3])
                if layer.get("type", "dense") == "dense" and isinstance(layer.get("bias"), list) and rng.random() < 0.15:
                    layer["bias"] = layer["bias"][0]
                    layer["shared_bias"] = True
        if rng.random() < 0.2:
            raw["loss"]["regularization"] = rng.choice([{"l2": 0.1}, {"l1": 0.01}, {"l2": 0.0}, {"l1": 1e3}])
    text = yaml.safe_dump(raw, sort_keys=False)
    return text + "\n".join(_training_block(rng, graph, leaves, parameters)) + "\n"


_OVERRIDE_PROBLEMS = ["mazur", "xor", "relu_softmax_3class", "conv_maxpool", "rnn_many_to_one", "graph_logistic", "graph_cs231n"]


def random_overrides(rng: random.Random) -> str:
    """A claims file with a ``training:`` mapping of random overrides and a few claims."""
    name = rng.choice(_OVERRIDE_PROBLEMS)
    options = {"steps": ["0", "1", "2", "3", "5", "10", "1001", "10000001", "100000000", "9" * 30, "-1", "1.5", "[]"],
               "order": ["sequential", "simultaneous", "simultaneous", "backwards"],
               "learning_rate": ["0.1", "0.5", "0.25", "2", "40", "1e3", "1e-400", "1e400", "-1", "0", "abc", "9" * 120, ".5"],
               "epochs": ["2"], "optimizer": ["adam"], "nope": ["1"]}
    weights = {"steps": 6, "order": 3, "learning_rate": 6, "epochs": 1, "optimizer": 1, "nope": 1}
    keys = list(dict.fromkeys(rng.choices(list(options), [weights[k] for k in options], k=rng.randint(1, 3))))
    training = ", ".join(f"{k}: {rng.choice(options[k])}" for k in keys)
    claims = {"mazur": ['"dloss/dW2[1,1]": 0.0821670406', "loss_after: 0.2910", '"W2[1,1]\'": 0.35891648'],
              "xor": ["loss_after: 0.7", '"dloss/dW1[1,1]": 0.01'], "relu_softmax_3class": ["loss: 3.2", "loss_after: 2.9"],
              "conv_maxpool": ["loss: 0.6", "loss_after: 0.55"], "rnn_many_to_one": ["loss: 0.1"],
              "graph_logistic": ["L: 0.4", "\"w1'\": 0.625", "L@end: 0.348"], "graph_cs231n": ["f: -12", "df/dx: -4"]}[name]
    lines = [f"# problem: {name}", f"training: {{{training}}}"] + rng.sample(claims, rng.randint(1, len(claims)))
    return "\n".join(lines) + "\n"


_ODD_ANSWERS = ["1e400", "1e-400", "-1e308", "1e-300", "1.0e-300", "−0.5", "0,5", "NaN", "nan", "inf", "-inf", "", " ", "9" * 5000,
                "0x1F", "1_000", "(a)", "a", "b", "d", "Z", "0.1105", "0.11", "0.007592", "0.4676", "-0", "+1", ".5", "5.",
                "1e", "--1", "１．５", "0.1105\u200b", "\"0.1\"", "'0.1'", "1 000", "1/2", "12345678901234567890123456789012"]


def random_answers(rng: random.Random) -> str:
    """A class's answer CSV as a spreadsheet might save it: UTF-8 (a BOM or not), UTF-16, latin-1,
    CP-1252; \\n, \\r\\n or \\r lines; comma, semicolon or tab; odd numbers, letters, blanks, ragged rows,
    quoted fields, odd headers. Returned as latin-1 characters (one per byte)."""
    delimiter = rng.choice([",", ",", ";", "\t"])
    header = ["id", "variant"] + [f"q{k}" for k in range(1, 5)]
    if rng.random() < 0.1:
        header[rng.randrange(len(header))] = rng.choice(["Q1", "q9", "dloss/dW2[1,1]", "", "variant", "q0", "qq", "ID"])
    rows = [header]
    for n in range(rng.randint(0, 5)):
        row = [rng.choice([f"s{n}", "", "ana", "../x", "a b", "é", "\x00"]) if rng.random() < 0.2 else f"s{n}",
               rng.choice(["1", "2", "3"]) if rng.random() < 0.9 else rng.choice(["0", "4", "x", "", "1.0", "99999999999999999999"])]
        row += [rng.choice(_ODD_ANSWERS) for _ in range(rng.choice([4, 4, 4, 2, 6]))]
        rows.append(row)
    def cell(text: str) -> str:
        if delimiter in text or '"' in text or rng.random() < 0.1:
            return '"' + text.replace('"', '""') + '"'
        return text
    ending = rng.choice(["\n", "\r\n", "\r", "\n"])
    text = ending.join(delimiter.join(cell(c) for c in row) for row in rows) + (ending if rng.random() < 0.8 else "")
    if rng.random() < 0.05:
        text = text[: rng.randrange(len(text) + 1)]
    encoding = rng.choice(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"])
    return text.encode(encoding, errors="replace").decode("latin-1")


_ODD_RANGES = ["uniform(0, 1e999999999, step=1)", "uniform(0, 1e400, step=1e399)", "uniform(1e-400, 2e-400, step=1e-400)",
               "uniform(0, 1, step=1e-999999999)", "uniform(-1, 1, step=0.05)", "uniform(-1e308, 1e308, step=1e307)",
               "uniform(0, 1e300, step=1e-300)", "uniform(1, 0, step=0.1)", "uniform(0, 1, step=0)", "uniform(0, 1, step=0.3)",
               "[1e400]", "[-1e308, 1e308]", "[0]", "[.nan]", "[]", "1e400", "0.5", "uniform(2147483648, 2147483649, step=1)",
               "uniform(-5, 5, step=1)", "[1, 2, 3]", "uniform(0.05, 1, step=0.05)", "[true]", "'abc'", "uniform(0,1,step=1e-5)"]


def random_ranges(rng: random.Random) -> str:
    """A quiz file (a network's or a graph's) whose ``randomize:`` keys take odd ranges, sometimes
    through YAML anchors and aliases (a few, or a bomb)."""
    name = rng.choice(["mazur", "mazur", "graph_ng", "xor"])
    raw = yaml.safe_load((ROOT / "examples" / f"{name}.yaml").read_text(encoding="utf-8"))
    keys = (["values"] + list(raw["graph"]["values"])) if "graph" in raw else ["weights", "biases", "inputs", "targets", "W2[1,1]", "b1", "x[1]"]
    if "training" in raw:
        keys.append("learning_rate")
    lines = [f"  {k}: {rng.choice(_ODD_RANGES)}" for k in rng.sample(keys, rng.randint(1, min(3, len(keys))))]
    if rng.random() < 0.3:
        lines.append(f"  digits: {rng.choice(['2', '4', '12', '13', '1', '4.5'])}")
    if rng.random() < 0.2:
        lines.append(f"  attempts: {rng.choice(['1', '5', '0', '100000'])}")
    if rng.random() < 0.15:
        lines = [f"  {keys[0]}: &r {rng.choice(_ODD_RANGES)}", f"  {keys[-1]}: *r"] + lines[1:]
    if rng.random() < 0.05:
        lines += ["  a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"] + [f"  a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]" for k in range(1, rng.randint(2, 9))]
    raw.pop("randomize", None)
    return yaml.safe_dump(raw, sort_keys=False) + "randomize:\n" + "\n".join(lines) + "\n"


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
    generators = {"graphs": random_graph, "training": random_training, "overrides": random_overrides, "answers": random_answers,
                  "ranges": random_ranges}
    if target in generators:
        while True:
            yield generators[target](rng)
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


def _asks_a_long_run(text: str, target: str = "problems") -> bool:
    """Did the file (or a claims file's ``training:``) ask for a run that long? Then the time is the
    work asked for, within the stated limits (counted as "long"), not a hang."""
    try:
        if target == "overrides":
            from tracer.teach.claims import parse_claim_set

            return int(parse_claim_set(text, "fuzz-claims.yaml").training.get("steps", 0)) >= LONG_RUN
        if target in ("randomize", "ranges"):  # each draw solves the problem: 1,000 of them are the work asked for
            from tracer.teach.quiz import parse_spec

            return parse_spec(loads(text, "fuzz-quiz.yaml")).attempts >= 1000
        training = loads(text, "fuzz.yaml").training
    except Exception:  # noqa: BLE001 - it loaded once already; anything else: a hang
        return False
    return getattr(training, "steps", 0) >= LONG_RUN


def _one(target: str, n: int, text: str, timeout: float) -> tuple[str, str | None]:
    """One input: its outcome, and for a crash where it happened."""
    signal.setitimer(CLOCK, timeout)
    try:
        if target in ("randomize", "ranges"):
            outcome = run_randomize(text, full=n % FULL_EVERY == 0)
        elif target == "overrides":
            outcome = run_overrides(text, verify=n % FULL_EVERY == 0)
        else:
            outcome = TARGETS[target](text)
    except REFUSALS:
        return "refused", None
    except Hang:
        return ("long" if target in ("problems", "training", "overrides", "randomize", "ranges") and _asks_a_long_run(text, target) else "hang"), None
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
            if target == "answers":  # the file's own bytes
                (save / f"{target}-{outcome}-{n}.csv").write_bytes(text.encode("latin-1"))
            else:
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
    parser.add_argument("--full-every", type=int, default=FULL_EVERY,
                        help="randomize, ranges: one input in this many solves whole variants; overrides: verifies the run")
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
