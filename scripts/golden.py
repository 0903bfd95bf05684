#!/usr/bin/env python3
"""The golden outputs: what every shipped example gives today, kept to prove a change did not alter it.

``python3 scripts/golden.py`` (or ``GOLDEN_UPDATE=1 python3 -m pytest tests/test_golden.py``)
runs every case below through the ``tracer`` command in this process (Click's runner, from the
repository's root, so a file is named as a user names it: ``examples/mazur.yaml``) and writes
each output to ``tests/golden/<name>.gz``; tests/test_golden.py runs them again and compares.

What is compared:

* JSON (``solve -f json``, ``ask -f json``, ``check -f json``): ``json.loads`` equality, no
  tolerance, except the keys tests/test_fixtures.py's ``SKIPPED`` leaves out (the run's wall time,
  the verification's bookkeeping, the notes' prose);
* every other output byte for byte, after two masks (:func:`mask`): the verification sentence's
  two bookkeeping numbers — how many values were checked against the NumPy twin and the largest
  difference — become ``⟨count⟩`` and ``⟨difference⟩`` (a verification that checks more is no
  change of the document), and a long run's wall time, "(tracer.training, 0.01 s)", becomes
  ``⟨seconds⟩``. The goldens are English; the masks match the English sentences only.

A quiz is a folder: each of its files is a golden of its own (``quiz/mazur/key.md.gz``; a zip's
members one by one, ``quiz/mazur/canvas.zip/imsmanifest.xml.gz``). Nothing here is random: the
quiz's seed is fixed, and its zip's dates and ids are fixed by the quiz itself.

A change that alters an output regenerates the goldens in a commit of its own whose message says
why (README, "Golden outputs"; docs/testing.md).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
REGENERATE = "python3 scripts/golden.py  (or: GOLDEN_UPDATE=1 python3 -m pytest tests/test_golden.py)"

if str(ROOT / "tests") not in sys.path:  # run as a script: the tests' folder is not on the path
    sys.path.insert(0, str(ROOT / "tests"))
from test_fixtures import SKIPPED  # noqa: E402  (the keys the fixtures' comparison leaves out)

EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.yaml"))
HTML = ["mazur", "relu_softmax_3class", "conv_maxpool", "rnn_stacked", "graph_cs231n", "graph_micrograd", "perceptron_xor", "batch_modes"]
DETAIL_FULL = ["mazur", "relu_softmax_3class", "conv_maxpool", "rnn_sequence", "graph_logistic"]
MATRIX = ["deep_sigmoid", "conv_stride_padding"]
NOTATIONS = ["mazur", "bracket", "neuron", "delta"]
ASK = [("mazur", "dE_total/dw5"), ("mazur", "w5+"), ("mazur", "loss_after"), ("graph_cs231n", "df/dx"),
       ("conv_maxpool", "dloss/dW1[1,1,1,1]"), ("rnn_sequence", "dloss/da1[1,1]")]
QUIZ = ["mazur", "graph_ng"]
QUIZ_FORMATS = "md,tex,html,csv,moodle,qti"
#: one claims file per form of problem — a dense network's scalar claims (the source's own numbers),
#: its vectors and matrices, a graph's wires, a convolutional network's — as (example, claims file,
#: exit code: 1 when a claim is wrong, else 0)
CHECK = [("mazur", "examples/errata/mazur.yaml", 1), ("mazur", "tests/golden/claims/mazur_matrices.yaml", 1),
         ("graph_cs231n", "tests/golden/claims/graph_cs231n.yaml", 1), ("conv_maxpool", "tests/golden/claims/conv_maxpool.yaml", 0)]
NOTEBOOKS = ["mazur", "graph_cs231n"]


@dataclass(frozen=True)
class Case:
    """One command (or one API call) and the golden files it gives."""

    name: str  # the golden's path under tests/golden, without .gz (a quiz: the folder)
    command: str  # what a user types to see it (shown in the index and in a failure)
    produce: Callable[[], dict[str, str]] = field(compare=False, repr=False)  # golden name → text
    slow: bool = False

    def outputs(self) -> dict[str, str]:
        with _in(ROOT):
            return self.produce()


@contextlib.contextmanager
def _in(folder: Path):
    """The working folder changed for a while (contextlib.chdir is Python 3.11's; 3.10 is supported)."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


# ---------------------------------------------------------------------------
# What is compared, and how
# ---------------------------------------------------------------------------

#: the verification sentence (templates/_verification.txt.j2, solution.*.j2, graph.*.j2 and
#: _graph_body.html.j2 in English): its count of values checked and the largest difference —
#: plain (5.6e−17), between dollars ($5.6 \times 10^{-17}$) or as MathML (<math>…</math>)
VERIFICATION = re.compile(r"\b\d+( values (?:were )?checked against an independent (?:[^$<]|<(?!math))*?largest difference )"
                          r"(<math>.*?</math>|\$[^$]*\$|\d(?:[\d.e−+-]*\d)?)")


#: the wall time of a long run's NumPy loop (templates/_training.*.j2: "(tracer.training, 0.01 s)")
RUN_TIME = re.compile(r"(tracer\.training(?:</code>|`|\})?, )\d+\.\d+(?=[ ~]s\))")


def mask(text: str) -> str:
    text = VERIFICATION.sub(lambda m: f"⟨count⟩{m.group(1)}⟨difference⟩", text)
    return RUN_TIME.sub(lambda m: f"{m.group(1)}⟨seconds⟩", text)


def is_json(name: str) -> bool:
    return name.endswith(".json")


def without_skipped(value):
    if isinstance(value, dict):
        return {k: without_skipped(v) for k, v in value.items() if k not in SKIPPED}
    if isinstance(value, list):
        return [without_skipped(v) for v in value]
    return value


def comparable(name: str, text: str):
    """What of an output is compared: a JSON document's data without the skipped keys, else the masked text."""
    return without_skipped(json.loads(text)) if is_json(name) else mask(text)


def readable(name: str, text: str) -> str:
    """The form a difference is shown in (JSON: sorted and indented, the skipped keys left out)."""
    return json.dumps(comparable(name, text), indent=1, sort_keys=True, ensure_ascii=False) + "\n" if is_json(name) else mask(text)


# ---------------------------------------------------------------------------
# Running the commands in this process
# ---------------------------------------------------------------------------


def tracer(*argv: str, code: int = 0) -> str:
    """What ``tracer ARGV`` prints on stdout; its exit code must be ``code``."""
    from click.testing import CliRunner

    from tracer.cli import cli

    try:
        runner = CliRunner(mix_stderr=False)  # Click 8.1: stdout apart from stderr (8.2 always keeps them apart)
    except TypeError:
        runner = CliRunner()
    result = runner.invoke(cli, list(argv), prog_name="tracer")
    if result.exit_code != code:
        raise RuntimeError(f"tracer {' '.join(argv)}: exit {result.exit_code}, {code} expected\n{result.output[-2000:]}") from result.exception
    return result.stdout


def command(name: str, *argv: str, code: int = 0, slow: bool = False) -> Case:
    return Case(name, "tracer " + " ".join(_quoted(a) for a in argv), lambda: {name: tracer(*argv, code=code)}, slow)


def _quoted(arg: str) -> str:
    return arg if re.fullmatch(r"[\w./,=:+-]+", arg) else f"'{arg}'"


def quiz(example: str) -> Case:
    argv = ("quiz", f"examples/{example}.yaml", "--seed", "7", "--count", "3", "--formats", QUIZ_FORMATS, "--jobs", "1")

    def produce() -> dict[str, str]:
        with tempfile.TemporaryDirectory(prefix="golden-quiz-") as out:
            tracer(*argv, "-o", out)
            found = {}
            for path in sorted(Path(out).iterdir()):
                if path.suffix == ".zip":
                    with zipfile.ZipFile(path) as archive:
                        for member in archive.infolist():
                            found[f"quiz/{example}/{path.name}/{member.filename}"] = archive.read(member).decode("utf-8")
                        found[f"quiz/{example}/{path.name}.members"] = "".join(f"{m.filename} {m.date_time} {m.file_size}\n" for m in archive.infolist())
                else:
                    found[f"quiz/{example}/{path.name}"] = path.read_text(encoding="utf-8")
            return found

    return Case(f"quiz/{example}", "tracer " + " ".join(argv) + " -o DIR", produce)


def notebook(example: str) -> Case:
    def produce() -> dict[str, str]:
        from tracer import answers, load, solve

        solution = solve(load(f"examples/{example}.yaml"))
        return {f"notebook/{example}/latex.tex": answers.latex(solution), f"notebook/{example}/markdown.md": answers.markdown(solution)}

    return Case(f"notebook/{example}", f"tracer.answers.latex / .markdown (tracer.solve(tracer.load('examples/{example}.yaml')))", produce)


def graphs() -> Case:
    """tests/golden/graphs.json: the graph every example builds (tracer.layers.network.build of a network,
    tracer.layers.equations.build of a graph problem), family by family — what the kinds build, before
    any number: S6 of issue 28's plan moved the builders into the kinds and made exactly these graphs."""

    def produce() -> dict[str, str]:
        from tracer.layers import equations, network
        from tracer.spec import GraphProblem, load

        out = {}
        for path in [f"examples/{e}.yaml" for e in EXAMPLES] + ["examples/runs/moons.yaml"]:
            problem = load(path)
            graph = (equations.build(problem) if isinstance(problem, GraphProblem) else network.build(problem)).graph
            out[path] = {"size": graph.size, "output": graph.output, "families": [_family(f) for f in graph.families]}
        return {"graphs.json": json.dumps(out, indent=1, ensure_ascii=False) + "\n"}

    return Case("graphs.json", "tracer.layers: network.build / equations.build of every example, family by family", produce)


def _family(f) -> dict:
    """A family's every field: the operation as its class and its fields, the argument and position
    tables as their shape and a SHA-1 of their bytes (as int64, so that the platform's int does not matter)."""
    return {"kind": f.kind, "layer": f.layer, "shape": list(f.shape), "start": f.start, "stage": f.stage,
            "op": None if f.op is None else {"type": type(f.op).__name__, **_fields(f.op)},
            "args": _table(f.args), "positions": _table(f.positions), "shared": f.shared, "constant": f.constant,
            "fused": f.fused, "section": f.section, "name": f.name, "offset": list(f.offset)}


def _table(array) -> dict | None:
    import numpy as np

    if array is None:
        return None
    data = np.ascontiguousarray(array, dtype=np.int64)
    return {"shape": list(data.shape), "sha1": hashlib.sha1(data.tobytes()).hexdigest()}


def _fields(op) -> dict:
    import dataclasses

    return {f.name: _plain(getattr(op, f.name)) for f in dataclasses.fields(op)} if dataclasses.is_dataclass(op) else {}


def _plain(value):
    import dataclasses

    import numpy as np

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist()} if value.size <= 16 else {"shape": list(value.shape), "sha1": hashlib.sha1(np.ascontiguousarray(value).tobytes()).hexdigest()}
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value):
        return {"type": type(value).__name__, **_fields(value)}
    text = str(value)  # a SymPy expression, a symbol
    if " at 0x" in text:
        raise TypeError(f"{type(value).__name__} has no stable text for the graph snapshot: {text}")
    return text


def cases() -> list[Case]:
    out: list[Case] = []
    for example in EXAMPLES:
        path = f"examples/{example}.yaml"
        out.append(command(f"solve/{example}.json", "solve", path, "-f", "json"))
        for fmt, ext in (("text", "txt"), ("md", "md"), ("tex", "tex")):
            out.append(command(f"solve/{example}.{ext}", "solve", path, "-f", fmt))
    out.append(command("solve/runs/moons.json", "solve", "examples/runs/moons.yaml", "-f", "json", slow=True))
    out += [command(f"solve/{e}.html", "solve", f"examples/{e}.yaml", "-f", "html") for e in HTML]
    out += [command(f"solve/detail-full/{e}.md", "solve", f"examples/{e}.yaml", "--detail", "full", "-f", "md") for e in DETAIL_FULL]
    out += [command(f"solve/form-matrix/{e}.md", "solve", f"examples/{e}.yaml", "--form", "matrix", "-f", "md") for e in MATRIX]
    out += [command(f"solve/notation-{n}/mazur.md", "solve", "examples/mazur.yaml", "--notation", n, "-f", "md") for n in NOTATIONS]
    out.append(command("solve/only-W2,b2/mazur.txt", "solve", "examples/mazur.yaml", "--only", "W2,b2", "-f", "text"))
    for example, quantity in ASK:
        slug = re.sub(r"[^\w+,-]", "_", quantity)
        for fmt, ext in (("text", "txt"), ("md", "md"), ("json", "json")):
            out.append(command(f"ask/{example}/{slug}.{ext}", "ask", f"examples/{example}.yaml", quantity, "-f", fmt))
    out += [quiz(e) for e in QUIZ]
    for example, claims, code in CHECK:
        stem = Path(claims).stem
        for fmt, ext in (("text", "txt"), ("json", "json")):
            out.append(command(f"check/{example}-{stem}.{ext}", "check", f"examples/{example}.yaml", claims, "-f", fmt, code=code))
    out += [notebook(e) for e in NOTEBOOKS]
    out.append(graphs())
    return out


# ---------------------------------------------------------------------------
# Stored files
# ---------------------------------------------------------------------------


def path_of(name: str) -> Path:
    return GOLDEN / f"{name}.gz"


def stored(name: str) -> str | None:
    path = path_of(name)
    return gzip.decompress(path.read_bytes()).decode("utf-8") if path.exists() else None


def store(name: str, text: str) -> None:
    path = path_of(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)  # no time stamp: the same output is the same bytes
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def stored_names() -> set[str]:
    return {str(p.relative_to(GOLDEN))[: -len(".gz")] for p in GOLDEN.rglob("*.gz")}


def owned(case: Case, names: set[str]) -> list[str]:
    """The stored goldens of a case: its own name, or the files of its folder (a quiz)."""
    return sorted(n for n in names if n == case.name or n.startswith(case.name + "/"))


def index(all_cases: list[Case]) -> str:
    """tests/golden/INDEX.txt: every command and the stored files it gives."""
    names = stored_names()
    lines = ["# The golden outputs, written by scripts/golden.py: each command (run from the repository's root)", "# and the files under tests/golden it gives", ""]
    for case in all_cases:
        lines.append(f"{case.command}{'   [slow]' if case.slow else ''}")
        lines += [f"    {n}.gz" for n in owned(case, names)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Write the goldens of every case, or of the cases whose names begin with one of ARGV
    (``python3 scripts/golden.py quiz/ solve/mazur``); stale files are removed on a full run only."""
    all_cases = cases()
    chosen = [c for c in all_cases if not argv or any(c.name.startswith(a) for a in argv)]
    if not chosen:
        print(f"no case begins with {' or '.join(argv)} (see tests/golden/INDEX.txt)", file=sys.stderr)
        return 2
    names: dict[str, list[str]] = {}
    for case in chosen:
        outputs = case.outputs()
        names[case.name] = sorted(outputs)
        for name, text in outputs.items():
            store(name, text)
        print(f"{case.name}: {len(outputs)} file{'s' * (len(outputs) != 1)}", flush=True)
    if not argv:
        wanted = {n for ns in names.values() for n in ns}
        for stale in sorted(stored_names() - wanted):
            path_of(stale).unlink()
            print(f"removed {stale}.gz (no case gives it)")
    (GOLDEN / "INDEX.txt").write_text(index(all_cases), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
