"""Every shipped example's outputs are the stored ones (tests/golden, written by scripts/golden.py).

The stored fixtures (tests/test_fixtures.py) pin the numbers of dense networks; these goldens
pin everything a user sees, for every kind of problem: ``solve`` in JSON, text, Markdown and
LaTeX of every example (HTML of eight, the full detail, the matrix form, each notation,
``--only``), ``ask``, ``quiz`` (every file of two quizzes), ``check`` and the notebook's
fragments. JSON is compared as data, without tests/test_fixtures.py's SKIPPED keys; every other
output byte for byte but for the verification sentence's bookkeeping and a long run's wall time
(scripts/golden.py, ``mask``).

A change that alters an output on purpose regenerates the goldens —
``python3 scripts/golden.py`` or ``GOLDEN_UPDATE=1 python3 -m pytest tests/test_golden.py`` —
in a commit of its own whose message says what changed and why.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("golden", ROOT / "scripts" / "golden.py")
golden = sys.modules.setdefault("golden", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(golden)

UPDATE = bool(os.environ.get("GOLDEN_UPDATE"))
CASES = golden.cases()
DIFF_LINES = 40


def first_difference(fresh: dict[str, str], stored: set[str]) -> str | None:
    """The first golden of a case that differs (or is missing, or is no longer made), as a unified diff."""
    if stored - set(fresh):
        return f"stored but no longer made: {', '.join(sorted(stored - set(fresh)))}"
    for name in sorted(fresh):
        old = golden.stored(name)
        if old is None:
            return f"{name}: no golden stored (tests/golden/{name}.gz)"
        if golden.comparable(name, old) == golden.comparable(name, fresh[name]):
            continue
        diff = difflib.unified_diff(golden.readable(name, old).splitlines(), golden.readable(name, fresh[name]).splitlines(),
                                    f"tests/golden/{name}.gz (stored)", f"{name} (now)", n=2, lineterm="")
        lines = [line[:300] for line in diff]
        more = f"\n… {len(lines) - DIFF_LINES} more lines of difference" if len(lines) > DIFF_LINES else ""
        where = f"first difference at {first_path(golden.comparable(name, old), golden.comparable(name, fresh[name]))}\n" if golden.is_json(name) else ""
        return where + "\n".join(lines[:DIFF_LINES]) + more
    return None


def first_path(old, new, path: str = "") -> str:
    """Where two JSON documents first differ, as a path of keys and indices (["examples/mazur.yaml"]["families"][7])."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key, ...) != new.get(key, ...):
                return first_path(old.get(key, ...), new.get(key, ...), f"{path}[{key!r}]")
    elif isinstance(old, list) and isinstance(new, list):
        for k, (a, b) in enumerate(zip(old, new)):
            if a != b:
                return first_path(a, b, f"{path}[{k}]")
        if len(old) != len(new):
            return f"{path} (length {len(old)} stored, {len(new)} now)"
    return path or "the top"


def _marks(case):
    return [pytest.mark.slow] if case.slow else []


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=_marks(c)) for c in CASES])
def test_the_output_is_the_stored_one(case):
    fresh = case.outputs()
    if UPDATE:
        for name, text in fresh.items():
            golden.store(name, text)
        return
    compare(case, fresh)


def compare(case, fresh: dict[str, str]) -> None:
    found = first_difference(fresh, set(golden.owned(case, golden.stored_names())))
    if found is not None:  # the message alone (no traceback, no repr of the outputs): the diff is what to read
        pytest.fail(f"`{case.command}` no longer gives its golden output:\n{found}\n\n"
                    f"If the change is meant, regenerate the goldens in a commit of its own saying why:\n    {golden.REGENERATE}", pytrace=False)


def test_every_stored_golden_is_made_by_a_case_and_listed_in_the_index():
    names = golden.stored_names()
    orphans = sorted(n for n in names if not any(n == c.name or n.startswith(c.name + "/") for c in CASES))
    if UPDATE:
        for name in orphans:
            golden.path_of(name).unlink()
        (golden.GOLDEN / "INDEX.txt").write_text(golden.index(CASES), encoding="utf-8")
        return
    assert not orphans, f"no case makes {orphans[:5]}: remove them ({golden.REGENERATE})"
    assert (golden.GOLDEN / "INDEX.txt").read_text(encoding="utf-8") == golden.index(CASES), f"tests/golden/INDEX.txt is stale: {golden.REGENERATE}"


def test_the_masks_hide_only_bookkeeping():
    """The verification sentence keeps its words and the finite differences' numbers; only the count
    of values checked, their largest difference and a run's wall time are masked."""
    text = ("86 values checked against an independent NumPy forward/backward pass: largest difference 5.6e−17.\n"
            "86 values were checked against an independent NumPy forward/backward pass (largest difference $5.6 \\times 10^{-17}$), "
            "and 10 gradients against central finite differences of the loss (largest difference $8 \\times 10^{-11}$).\n"
            "<p>8 values were checked against an independent evaluation of the same equations (NumPy; largest difference "
            "<math><mrow><mn>0</mn></mrow></math>), and 9 gradients\n"
            "the rest from the NumPy engine (tracer.training, 0.01 s). (\\texttt{tracer.training}, 12.34~s)\n"
            "w5 = 0.4, 86 values")
    assert golden.mask(text) == (
        "⟨count⟩ values checked against an independent NumPy forward/backward pass: largest difference ⟨difference⟩.\n"
        "⟨count⟩ values were checked against an independent NumPy forward/backward pass (largest difference ⟨difference⟩), "
        "and 10 gradients against central finite differences of the loss (largest difference $8 \\times 10^{-11}$).\n"
        "<p>⟨count⟩ values were checked against an independent evaluation of the same equations (NumPy; largest difference "
        "⟨difference⟩), and 9 gradients\n"
        "the rest from the NumPy engine (tracer.training, ⟨seconds⟩ s). (\\texttt{tracer.training}, ⟨seconds⟩~s)\n"
        "w5 = 0.4, 86 values")


@pytest.mark.skipif(UPDATE, reason="GOLDEN_UPDATE rewrites the goldens; nothing is compared")
def test_a_changed_weight_fails_with_a_diff_and_the_command_to_regenerate(tmp_path, monkeypatch):
    """The comparison can fail: Mazur's w5 = 0.40 written 0.41 changes the JSON and the document."""
    example = (ROOT / "examples" / "mazur.yaml").read_text(encoding="utf-8")
    changed = example.replace("weights: [[0.40, 0.45]", "weights: [[0.41, 0.45]")
    assert changed != example
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "mazur.yaml").write_text(changed, encoding="utf-8")
    monkeypatch.setattr(golden, "ROOT", tmp_path)
    for name in ("solve/mazur.json", "solve/mazur.txt"):
        case = next(c for c in CASES if c.name == name)
        with pytest.raises(pytest.fail.Exception) as failure:
            compare(case, case.outputs())
        message = str(failure.value)
        assert f"`tracer solve examples/mazur.yaml -f {name.rsplit('.', 1)[1].replace('txt', 'text')}` no longer gives its golden output" in message
        assert f"--- tests/golden/{name}.gz (stored)" in message and "python3 scripts/golden.py" in message

