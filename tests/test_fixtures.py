"""Every number of `tracer solve -f json`, as the engine gave it before the core was redesigned.

`tests/fixtures/solve/*.json.gz` holds, for every problem the test suite solved and every
shipped example (205 problems: Mazur and its quiz variants, softmax, batches, runs,
perceptrons, 784-32-10, …), the problem as the mapping of its file, the number of
derived steps and the solution's JSON, all written by the engine of stop 8. The
redesigned engine must give every number again, to 1e-12 (relative beyond 1).
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from tracer import solve
from tracer.export.as_json import solution_json
from tracer.spec import from_mapping, load, to_mapping

FIXTURES = sorted((Path(__file__).resolve().parent / "fixtures" / "solve").glob("*.json.gz"))
EXAMPLES = sorted(p for p in (Path(__file__).resolve().parent.parent / "examples").rglob("*.yaml") if "errata" not in p.parts)
TOLERANCE = 1e-12
#: what may differ: the run's wall time, the verification's own bookkeeping (it may check more),
#: and the notes' prose (module names in them moved); every number is compared
SKIPPED = {"seconds", "verification", "notes"}


def differences(stored, fresh, path: str = "") -> list[str]:
    if isinstance(stored, dict):
        if not isinstance(fresh, dict):
            return [f"{path}: a mapping expected, got {fresh!r:.40}"]
        out = []
        keys = set(stored) | set(fresh)
        for key in sorted(keys - SKIPPED):
            if key not in fresh or key not in stored:
                out.append(f"{path}.{key}: only in the {'fixture' if key in stored else 'new output'}")
                continue
            out.extend(differences(stored[key], fresh[key], f"{path}.{key}"))
        return out
    if isinstance(stored, list):
        if not isinstance(fresh, list) or len(fresh) != len(stored):
            return [f"{path}: a list of {len(stored)} expected"]
        return [d for k, (a, b) in enumerate(zip(stored, fresh)) for d in differences(a, b, f"{path}[{k}]")]
    if isinstance(stored, float) or isinstance(fresh, float):
        if isinstance(fresh, (int, float)) and not isinstance(fresh, bool) and math.isclose(stored, fresh, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
            return []
        return [f"{path}: {stored!r} stored, {fresh!r} now"]
    return [] if stored == fresh else [f"{path}: {stored!r} stored, {fresh!r} now"]


def _id(path: Path) -> str:
    return path.name.removesuffix(".json.gz")


@pytest.mark.parametrize("path", [p for p in FIXTURES if not p.name.startswith("moons-f49")], ids=_id)
def test_solution_numbers_are_the_stored_ones(path):
    stored = json.loads(gzip.decompress(path.read_bytes()))
    problem = from_mapping(stored["problem"], stored["source"])
    solution = solve(problem, derived_steps=stored["derived_steps"])
    assert solution.verification.ok, solution.verification.mismatches[:3]
    found = differences(stored["solution"], json.loads(json.dumps(solution_json(solution))))
    assert not found, found[:5]


@pytest.mark.slow
def test_the_full_moons_run_is_the_stored_one():
    """Source 004 §7.9's run, 1,000 epochs of SGD (about a minute)."""
    path = next(p for p in FIXTURES if p.name.startswith("moons-f49"))
    test_solution_numbers_are_the_stored_ones(path)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_a_problem_survives_the_round_trip_through_its_mapping(path):
    problem = load(path)
    assert from_mapping(to_mapping(problem), problem.source) == problem
