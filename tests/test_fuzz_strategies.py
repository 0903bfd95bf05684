"""The fuzzer's mutations as hypothesis strategies, run in process (issue 16).

benchmarks/fuzz.py draws its mutations from a seeded ``random.Random``; here hypothesis draws
that generator (``st.randoms``), so a failure shrinks to the fewest mutations that still fail
and is replayed from its seed. Derandomised: the same inputs on every run of the suite.

(A generator built from the problem file's JSON Schema was tried: hypothesis-jsonschema took
the whole machine's 23 GB of memory resolving schema/problem.schema.json, so the shipped
examples, mutated, are the seeds.)
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import fuzz  # noqa: E402

EXAMPLES = {p.stem: p.read_text(encoding="utf-8") for p in fuzz.EXAMPLES}
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def outcome(target: str, text: str) -> str:
    """``refused`` or ``ok``; anything else (a traceback included) fails the test."""
    try:
        return fuzz.TARGETS[target](text)
    except fuzz.REFUSALS:
        return "refused"


@SETTINGS
@given(name=st.sampled_from(sorted(EXAMPLES)), rng=st.randoms(use_true_random=False))
def test_a_mutated_example_is_refused_or_verified(name, rng):
    assert outcome("problems", fuzz.mutate(EXAMPLES[name], rng)) in ("refused", "ok")


@SETTINGS
@given(rng=st.randoms(use_true_random=False))
def test_a_mutated_claims_file_is_judged(rng):
    assert outcome("claims", next(fuzz.inputs("claims", rng))) in ("refused", "ok")


@SETTINGS
@given(rng=st.randoms(use_true_random=False))
def test_a_mutated_randomize_block_is_validated(rng):
    text = next(fuzz.inputs("randomize", rng))
    try:
        result = fuzz.run_randomize(text, full=False)
    except fuzz.REFUSALS:
        result = "refused"
    assert result in ("refused", "ok")


@SETTINGS
@given(rng=st.randoms(use_true_random=False))
def test_a_random_expression_is_refused_or_derived_and_verified(rng):
    assert outcome("expressions", next(fuzz.inputs("expressions", rng))) in ("refused", "ok")
