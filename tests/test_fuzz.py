"""Every input the fuzzer (benchmarks/fuzz.py) found that crashed, hung or reported a
non-finite computation as our bug, kept as a file: each is now one line and exit 2.
Expressions (tests/fuzz/expressions/, the arguments of `tracer diff` one per line) are
answered (exit 0) or refused in one line (exit 2), within seconds.

And a short, derandomised run of the fuzzer itself over the shipped examples: no
traceback, no hang."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import K, names_the_file

ROOT = Path(__file__).resolve().parent.parent
FOUND = sorted((ROOT / "tests" / "fuzz").glob("*.yaml"))


@pytest.mark.parametrize("path", FOUND, ids=lambda p: p.stem)
def test_what_the_fuzzer_found_is_refused_in_one_line(path):
    done = subprocess.run([sys.executable, "-m", "tracer", "solve", str(path), "-f", "json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and names_the_file(lines[0], path) and "Traceback" not in done.stderr, done.stderr
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
    "drawn_weights_ten_billion": "network.layers[0]: 100,000 units × 100,000 inputs = 10,000,000,000 weights is too large a network (at most 1,000,000 parameters)",
    "records_two_hundred_thousand": "training.record_every: 201,000 recorded losses (201,000 epochs, one every 1) is too many (at most 10,000): record_every ≥ 21",
    "mse_factor_negative": "loss.factor: must be greater than 0.0, got -1",
    "hex_integer_huge": "line 19, column 13: an integer beyond 10^18 (0x1F9999999999999999…) is not read",
    "duplicate_key": "line 65, column 7: the key 'activation' is given twice in one mapping (first on line 63)",
    "log_loss_relu_output": "network.layers[1].activation: binary_cross_entropy takes the logarithm of each output, so the last layer must give numbers in (0, 1)",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_message_names_the_field(name):
    from tracer.spec import SpecError, load

    with pytest.raises(SpecError) as err:
        load(ROOT / "tests" / "fuzz" / f"{name}.yaml")
    assert EXPECTED[name] in str(err.value)


@pytest.mark.parametrize("target, count", [("problems", 300), ("claims", 150), ("randomize", 150), ("expressions", 300),
                                           ("graphs", 150), ("training", 100), ("overrides", 60), ("answers", 100), ("ranges", 60)])
def test_a_short_fuzz_run_finds_no_crash_no_hang_and_no_wrong_result(target, count):
    """A derandomised run of each fuzz target (seed 5): every input ends as a clean refusal or a
    verified result — no traceback, no hang, no non-finite result, no false mismatch."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fuzz.py"), "--inputs", str(count), "--targets", target, "--seed", "5", "--timeout", "20"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.strip().startswith(target))
    inputs, refused, verified, long, crashes, hangs, non_finite, mismatch = (int(x) for x in row.split()[1:9])
    assert inputs == count and refused + verified == count and long == 0, done.stdout
    assert refused > 0 and verified > 0  # the mutations reach both ends: this run can fail


def test_a_step_that_overshoots_to_an_infinite_loss_is_refused():
    """relu_softmax_3class with learning_rate 1_000 (the long fuzz run, seed 101): one verified
    step moves b2[1] to 771.2, and the loss after it is inf; it used to be "solved", with
    "loss_after": Infinity in the JSON."""
    done = subprocess.run([sys.executable, "-m", "tracer", "solve", str(ROOT / "tests" / "fuzz" / "learning_rate_overshoots.yaml"), "-f", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert "the computation is not finite: loss_after is inf; training.learning_rate 1000 may overshoot" in done.stderr


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
    assert solution.steps[0].gradients[K("W1[1,1]")] == pytest.approx(-216996793.744, abs=5e-4)  # mpmath agrees (issue 17)
    v = solution.verification
    assert v.ok and v.finite_difference_checked == 0  # a loss of 5e19 leaves a step of 1e-6 no digit to see with


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "fuzz" / "quiz").glob("*.yaml")), ids=lambda p: p.stem)
def test_what_the_quiz_fuzzer_found_stops_with_a_message(path, tmp_path):
    done = subprocess.run([sys.executable, "-m", "tracer", "quiz", str(path), "--count", "3", "-o", str(tmp_path / "q"), "--formats", "csv"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"tracer: {path}: randomize")


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "fuzz" / "claims").glob("*.yaml")), ids=lambda p: p.stem)
def test_what_the_claims_fuzzer_found_is_judged(path):
    done = subprocess.run([sys.executable, "-m", "tracer", "check", str(ROOT / "examples" / "mazur.yaml"), str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode in (1, 2) and "Traceback" not in done.stderr, done.stderr


def test_a_saturated_sigmoid_output_under_a_log_loss_is_refused_as_input():
    """xor with an output bias of 31: a2[1] = 1 − 2.8e-14, whose 1 − a double precision holds to
    three digits; the loss written step by step (ln(1 − a) of a as written) is 31.1916…, the true
    one 31.1949… (NumPy's σ(−z)). Bad input, exit 2 — not "verification failed"."""
    done = subprocess.run([sys.executable, "-m", "tracer", "solve", str(ROOT / "tests" / "fuzz" / "bce_saturated_output.yaml"), "-f", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "the unit a2[1]#1 = 0.99999999999997" in done.stderr and "is saturated" in done.stderr and "b2[1] = 31" in done.stderr


def test_the_twin_takes_one_minus_a_sigmoid_output_without_cancellation():
    from tracer.numeric import mlp
    from tracer.spec import load

    problem = load(ROOT / "tests" / "fuzz" / "bce_saturated_output.yaml")
    loss = mlp.forward_loss(problem)
    # the mean over the four samples of −ln σ(−z) (y = 0) or −ln σ(z) (y = 1), z = W·h + 31, written with log1p/exp
    import numpy as np

    x = np.array([s.x for s in problem.data]); y = np.array([s.y[0] for s in problem.data])
    w1 = np.array(problem.layers[0].weights); b1 = np.array(problem.layers[0].bias)
    h = 1 / (1 + np.exp(-(x @ w1.T + b1)))
    z = h @ np.array(problem.layers[1].weights).T[:, 0] + problem.layers[1].bias[0]
    exact = np.where(y == 1, np.log1p(np.exp(-z)), z + np.log1p(np.exp(-z)))
    assert loss == pytest.approx(exact.mean(), rel=1e-13)


def test_a_power_near_the_double_limit_is_verified_and_printed_unambiguously():
    """s = (x·w)^20 at x = 1e15: s = 3.3e303 is finite, its gradients too (finite differences with
    a step scaled to the value; no overflow warning), and the text writes (1.5e+15)^20, never
    1.5e+15^20 (which reads as 1.5·10^(15^20))."""
    from click.testing import CliRunner

    from tracer.cli import cli

    text = 'title: power\ngraph:\n  equations:\n    - y = x * w\n    - s = y^20\n  values: {x: 1e15, w: 1.5}\n  output: s\n'
    runner = CliRunner()
    with runner.isolated_filesystem():
        Path("p.yaml").write_text(text, encoding="utf-8")
        done = runner.invoke(cli, ["solve", "p.yaml"])
    assert done.exit_code == 0, done.output
    assert "s = y^20 = (1.5e+15)^20 = 3.32525673e+303" in done.output and "Warning" not in done.output


def test_adam_on_a_saturated_sigmoid_is_refused_as_input():
    """mazur_adam with the hidden bias 0x1F = 31 (the long fuzz run): every hidden unit is
    within 1e-13 of 1, the gradients are 1e-14 with few correct digits, and Adam's step
    g/(√v̂ + ε) magnifies them; both passes are as right as double precision allows."""
    done = subprocess.run([sys.executable, "-m", "tracer", "solve", str(ROOT / "tests" / "fuzz" / "adam_saturated_sigmoid.yaml"), "-f", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "is saturated (within 1e-09 of 1): its slope a(1 − a) keeps few correct digits" in done.stderr, done.stderr


EXPRESSIONS = sorted((ROOT / "tests" / "fuzz" / "expressions").glob("*.txt"))


@pytest.mark.parametrize("path", EXPRESSIONS, ids=lambda p: p.stem)
def test_what_the_expression_fuzzer_found_is_answered_or_refused_in_one_line(path):
    """In process (CliRunner): the fuzzer's own way of running them, and no interpreter start-up per case."""
    import time

    from click.testing import CliRunner

    from tracer.cli import cli

    args = path.read_text(encoding="utf-8").splitlines()
    start = time.process_time()
    result = CliRunner().invoke(cli, ["diff", *args])
    assert time.process_time() - start < 5.0
    assert result.exit_code in (0, 2), (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code == 2:
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("tracer diff: "), result.stderr


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "fuzz" / "expressions" / "verified").glob("*.txt")), ids=lambda p: p.stem)
def test_what_the_expression_fuzzer_falsely_failed_is_answered(path):
    """relu of a function real on only part of its domain (asin((2·y)^e) for 0 ≤ y ≤ ½): the
    rules' and SymPy's derivatives were equal, but no probe point fell where H(…) is defined and
    no algebra cancels a step, so `tracer diff` said "verification failed" (exit 1, the long run of
    seed 500). The steps are now compared as variables of their own.

    sigmoid((e^(e^π)·x)^e) (seed 900): e^(−(c·x)^e) is beyond 10^±100000 at every probe, so no
    point was evidence, and the two forms, (c·x)^(e − 1)·c and (c·x)^e/x, differ as sums. Their
    quotient is 1 as powers of one base. exp(relu((−ln(x)²/3)^e)) (seed 900 too) was the same:
    its power is complex except at x = 1, so no probe point is evidence.

    sigmoid((x^π)^x) (seed 2700, find 8064): the textbook σ(1 − σ) and SymPy's e^(−u)/(1 + e^(−u))² are
    equal, but 1 − σ(u) is 0 at 40 and at 80 digits at every probe (e^(−u) ≈ 1e−300), so the two
    precisions agreed on a value that is all rounding and the probes called the forms different. A sum
    that cancels to within a few units of the higher precision makes its point no evidence now."""
    from click.testing import CliRunner

    from tracer.cli import cli

    result = CliRunner().invoke(cli, ["diff", *path.read_text(encoding="utf-8").splitlines()])
    assert result.exit_code == 0, result.output
    last = result.stdout.splitlines()[-1]
    if path.stem.startswith("relu"):
        assert "H(" in last, result.stdout
    elif path.stem.startswith("sigmoid"):
        assert last.endswith("·e^(e^π)/(1 + e^(−(xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx·e^(e^π))^e))^2"), result.stdout
    elif path.stem.startswith("textbook"):  # σ of |u| (seed 2700, 10,000 inputs): the textbook σ(1 − σ) form held a
        # Piecewise (0 at u = 0) that the probes could not evaluate: "verification failed", exit 1
        assert last.startswith("textbook form: ") and "with σ = 1/(1 + e^(−" in last, result.stdout
        if path.stem == "textbook_sigma_of_abs_half_x":
            assert last == "textbook form: df/dx = (0 if x = 0, else σ·x/(2·|x|) − σ^2·x/(2·|x|))   with σ = 1/(1 + e^(−|x|/2))"
        if path.stem == "textbook_sigma_of_x_to_the_pi_to_the_x":
            assert last == "textbook form: df/dx = σ·(1 − σ)·(ln(x^π) + π)·(x^π)^x   with σ = 1/(1 + e^(−(x^π)^x))"
    else:
        assert last == "df/dx = −2·e·(−ln(x)^2/3)^(e − 1)·e^max(0, (−ln(x)^2/3)^e)·ln(x)·H((−ln(x)^2/3)^e)/(3·x)", result.stdout


@pytest.mark.parametrize("name", ["asin_of_abs_x_over_x", "sqrt_of_relu_of_a_nonpositive"])
def test_a_derivative_with_no_value_anywhere_is_refused_not_failed(name):
    """asin(|x|/x) is asin(±1), where asin′ is infinite; √(max(0, −√y/3)) is √0 wherever it is
    defined. SymPy reduces both derivatives to ∞ or ∞·0 as a whole, and the long run of seed 700
    reported them as "verification failed" (exit 1): they are refused, exit 2, in one line."""
    from click.testing import CliRunner

    from tracer.cli import cli

    text = (ROOT / "tests" / "fuzz" / "expressions" / f"{name}.txt").read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["diff", *text.splitlines()])
    assert result.exit_code == 2, result.output
    assert "has no value anywhere: wherever the expression is defined, a factor of the chain rule is infinite" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("command", [["diff"], ["descend", "--start", "x=1", "--lr", "0.1", "--steps", "2"]])
def test_relu_of_a_nowhere_real_value_is_refused_in_one_line(command):
    """relu(asin(exp(softplus(x + e)))/x): asin takes e^(x+e) + 1 > 1, so SymPy's H(u) raised
    "Function defined only for Real Values" — a traceback from `tracer diff` (the seed-800 run)."""
    from click.testing import CliRunner

    from tracer.calculus.derivatives import NOWHERE_REAL
    from tracer.cli import cli

    text = (ROOT / "tests" / "fuzz" / "expressions" / "relu_of_a_nowhere_real_asin.txt").read_text(encoding="utf-8").strip()
    result = CliRunner().invoke(cli, [command[0], text, *command[1:]])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"tracer {command[0]}: EXPR: {NOWHERE_REAL}\n"


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "fuzz" / "verified").glob("*.yaml")), ids=lambda p: p.stem)
def test_what_the_fuzzer_found_falsely_failed_is_verified(path):
    """Inputs the long fuzz run reported as mismatches that were our check's fault: a shared
    bias of 2^31 (under a softmax it cancels; in a conv layer every sum carries it) makes the
    weighted sums 2e9, whose rounding, ε·2e9, a finite difference of step 1e-6 cannot see past;
    in a graph, f = x·y + y^20 = 3.5e9 leaves ∂f/∂p = 1 to a difference lost in f's rounding.
    Finite differences skip what they cannot resolve; NumPy's pass still checks every gradient."""
    from tracer.core.derive import solve
    from tracer.spec import load

    v = solve(load(path)).verification
    assert v.ok and v.quantities >= 6, v.mismatches[:3]


def test_a_unit_saturated_by_the_step_is_refused_naming_the_learning_rate():
    """xor with learning_rate 1e3 (the long fuzz run, seed 301): after the step a2[1] rounds to
    exactly 1, so the closing loss written step by step is ln(1 − 1) = inf, while NumPy's σ(−z)
    gives the true 111.8; the cause is the learning rate."""
    done = subprocess.run([sys.executable, "-m", "tracer", "solve", str(ROOT / "tests" / "fuzz" / "saturated_after_the_step.yaml"), "-f", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "@end = 1.0 is saturated" in done.stderr and "training.learning_rate 1000 may be too large" in done.stderr, done.stderr


def test_a_run_that_an_update_makes_not_finite_blames_the_learning_rate():
    """A 2-2-3 relu/softmax classifier trained at learning_rate 1e308 (fuzz seed 2703): after the first
    update a2[1]#1@2 is nan in both passes. It was refused "(the largest given number: W2[2,2] = -5.2); use
    smaller numbers" — the given numbers were fine — and in process the twin raised OverflowError
    (float() of a Fraction beyond 1.8e308) before any message."""
    path = ROOT / "tests" / "fuzz" / "training_rate_1e308_overshoots_517.yaml"
    done = subprocess.run([sys.executable, "-m", "tracer", "solve", str(path), "-f", "json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "the computation is not finite: a2[1]#1@2 is nan in both the engine and NumPy; training.learning_rate 1e+308 may overshoot" in done.stderr


def test_a_softmax_of_an_overflowed_pre_activation_is_not_finite_in_both_passes():
    """conv → max-pool → softmax trained at learning_rate 1e308 (fuzz seed 2703, find 185): after the training
    z4 = (+inf, −inf) in doubles. The engine's softmax is then e^(inf − inf) = nan; the layer twin computed z4
    exactly (±1e310, finite as Fractions) and gave a4 = (1, 0), so the run was "verification failed" (exit 1).
    One convention now: a softmax of a pre-activation beyond ±1.8e308 is not finite in both, and the cause
    named is the learning rate (exit 2)."""
    path = ROOT / "tests" / "fuzz" / "training_rate_1e308_softmax_of_an_infinite_z.yaml"
    done = subprocess.run([sys.executable, "-m", "tracer", "solve", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "the computation is not finite: a4[1]#1@end is nan in both the engine and NumPy; training.learning_rate 1e+308 may overshoot" in done.stderr


def test_the_twins_softmax_of_a_row_beyond_the_doubles_is_nan_and_of_others_exact():
    from fractions import Fraction

    from tracer.numeric.layers import _exact_softmax

    rows = np.empty((2, 2), dtype=object)
    rows[0] = [Fraction(10) ** 310, -Fraction(10) ** 310]
    rows[1] = [Fraction(1), Fraction(0)]
    out = _exact_softmax(rows)
    assert all(math.isnan(v) for v in out[0])
    assert float(out[1][0]) == pytest.approx(0.7310585786300049, abs=1e-16) and float(out[1][1]) == pytest.approx(0.2689414213699951, abs=1e-16)
