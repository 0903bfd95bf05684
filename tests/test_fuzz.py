"""Every input the fuzzer (benchmarks/fuzz.py) found that crashed, hung or reported a
non-finite computation as our bug, kept as a file: each is now one line and exit 2.
Expressions (tests/fuzz/expressions/, the arguments of `tracer diff` one per line) are
answered (exit 0) or refused in one line (exit 2), within seconds.

And a short, derandomised run of the fuzzer itself over the shipped examples: no
traceback, no hang."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOUND = sorted((ROOT / "tests" / "fuzz").glob("*.yaml"))


@pytest.mark.parametrize("path", FOUND, ids=lambda p: p.stem)
def test_what_the_fuzzer_found_is_refused_in_one_line(path):
    done = subprocess.run([sys.executable, "-m", "tracer", "solve", str(path), "-f", "json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"tracer: {path}") and "Traceback" not in done.stderr, done.stderr
    assert not Path("/tmp/pwned").exists()


EXPECTED = {
    "title_timestamp": "YAML tags such as !!timestamp are not read",
    "int_tag": "YAML tags such as !!int are not read",
    "python_object_tag": "YAML tags such as !!python/object/apply:os.system are not read",
    "deep_nesting": "nested deeper than 40 levels",
    "five_thousand_digits": "a YAML value that cannot be read",
    "steps_2147483648": "training.steps: 2,147,483,648 updates is too long a run (at most 10,000,000)",
    "learning_rate_1e309": "training.learning_rate: a finite number expected, got inf",
    "learning_rate_inf": "training.learning_rate: a finite number expected, got inf",
    "bias_minus_inf": "a finite number expected, got -inf",
    "layer_type_mapping": "network.layers[1].type: one of dense, conv2d, maxpool2d, avgpool2d, flatten, rnn expected",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_message_names_the_field(name):
    from tracer.spec import SpecError, load

    with pytest.raises(SpecError) as err:
        load(ROOT / "tests" / "fuzz" / f"{name}.yaml")
    assert EXPECTED[name] in str(err.value)


def test_a_short_fuzz_run_finds_no_crash_and_no_hang():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fuzz.py"), "--inputs", "300", "--targets", "problems", "--seed", "5", "--timeout", "20"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.strip().startswith("problems"))
    inputs, refused, verified, crashes, hangs, non_finite = (int(x) for x in row.split()[1:7])
    assert inputs == 300 and crashes == 0 and hangs == 0 and non_finite == 0, done.stdout


def test_a_saturated_softmax_is_refused_naming_the_cause():
    done = subprocess.run([sys.executable, "-m", "tracer", "solve", str(ROOT / "tests" / "fuzz" / "softmax_saturated.yaml"), "-f", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "the computation is not finite" in done.stderr and "b1[1] = 1000" in done.stderr  # bias: 1e3 → a probability of exactly 0


def test_a_huge_output_bias_is_verified_without_a_blind_finite_difference():
    from tracer.core.derive import solve
    from tracer.spec import loads

    text = (ROOT / "examples" / "tanh_regression.yaml").read_text(encoding="utf-8")
    text = text.replace("      weights: [[0.4, 0.3, -0.2]]\n      bias: 0.1", "      weights: [[0.4, 0.3, -0.2]]\n      bias: 1e10")
    solution = solve(loads(text, "t.yaml"))
    assert solution.steps[0].gradients["W1[1,1]"] == pytest.approx(-216996793.744, abs=5e-4)  # mpmath agrees (issue 17)
    v = solution.verification
    assert v.ok and v.finite_difference_checked == 0  # a loss of 5e19 leaves a step of 1e-6 no digit to see with


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "fuzz" / "quiz").glob("*.yaml")), ids=lambda p: p.stem)
def test_what_the_quiz_fuzzer_found_stops_with_a_message(path, tmp_path):
    done = subprocess.run([sys.executable, "-m", "tracer", "quiz", str(path), "--count", "3", "-o", str(tmp_path / "q"), "--formats", "csv"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"tracer: {path}: randomize:")


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "fuzz" / "claims").glob("*.yaml")), ids=lambda p: p.stem)
def test_what_the_claims_fuzzer_found_is_judged(path):
    done = subprocess.run([sys.executable, "-m", "tracer", "check", str(ROOT / "examples" / "mazur.yaml"), str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode in (1, 2) and "Traceback" not in done.stderr, done.stderr


EXPRESSIONS = sorted((ROOT / "tests" / "fuzz" / "expressions").glob("*.txt"))


@pytest.mark.parametrize("path", EXPRESSIONS, ids=lambda p: p.stem)
def test_what_the_expression_fuzzer_found_is_answered_or_refused_in_one_line(path):
    """In process (CliRunner): the fuzzer's own way of running them, and no interpreter start-up per case."""
    import time

    from click.testing import CliRunner

    from tracer.cli import cli

    args = path.read_text(encoding="utf-8").splitlines()
    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["diff", *args])
    assert time.perf_counter() - start < 5.0
    assert result.exit_code in (0, 2), (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code == 2:
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("tracer diff: "), result.stderr


def test_a_short_fuzz_run_of_expressions_finds_no_crash_no_hang_and_no_mismatch():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fuzz.py"), "--inputs", "300", "--targets", "expressions", "--seed", "4", "--timeout", "10"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.strip().startswith("expressions"))
    inputs, refused, verified, crashes, hangs, non_finite, mismatch = (int(x) for x in row.split()[1:8])
    assert inputs == 300 and crashes == 0 and hangs == 0 and mismatch == 0, done.stdout
