"""One bound for every input path (issue 26, tracer/bounds.py): a claims file, its `training:`
overrides, a quiz's `randomize:` ranges, a class's answer CSV and a problem file all meet the
same limits — numbers, nesting, aliases, updates — measured before any work starts, and each
refusal is one line naming the file and the field (exit 2), never a traceback or a hang.

Every file here is under tests/fuzz/ (claims/, quiz/, answers/ and quiz_alias_bomb.yaml); each
one was a traceback, a hang or minutes of work on main 5f3d4e5.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracer import bounds

ROOT = Path(__file__).resolve().parent.parent
FOUND = ROOT / "tests" / "fuzz"
MAZUR = ROOT / "examples" / "mazur.yaml"


def tracer(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracer", *args], capture_output=True, text=True, timeout=timeout)


def one_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    return done.stderr.strip()


# ---------------------------------------------------------------------------
# Claims files
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, message", [
    ("training_steps_100000000", "training.steps: 100,000,000 updates is too long a run (at most 10,000,000)"),
    ("training_steps_of_5000_digits", "training.steps: a whole number (0 or more) expected, got '999999999999999999999999999999999999…'"),
    ("nested_500_deep", "line 2, column 43: nested deeper than 40 levels"),
    ("alias_bomb", "YAML aliases (*name) repeat 490,328,964 values (at most 100,000); write the values out"),
])
def test_a_claims_file_beyond_the_bounds_is_refused_before_any_work(name, message):
    path = FOUND / "claims" / f"{name}.yaml"
    start = time.perf_counter()
    line = one_line(tracer("check", str(MAZUR), str(path)))
    assert time.perf_counter() - start < 30  # the 10^8 updates ran for minutes on main
    assert line == f"tracer: {path}: {message}"


def test_a_claims_override_on_a_graph_is_read_as_a_graph_problems_training():
    """`training: {order: sequential}` on a graph problem: a TypeError on main (the graph's training
    has no order); now the override is read as the problem file's own training is."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        claims = Path(tmp) / "claims.yaml"
        claims.write_text("training: {order: sequential}\ndf/dx: -4\n", encoding="utf-8")
        line = one_line(tracer("check", str(ROOT / "examples" / "graph_cs231n.yaml"), str(claims)))
        assert line.startswith(f"tracer: {claims}: training.order: unknown key")
        claims.write_text("training: {steps: 1001}\ndf/dx: -4\n", encoding="utf-8")
        assert one_line(tracer("check", str(ROOT / "examples" / "graph_logistic.yaml"), str(claims))) == \
            f"tracer: {claims}: training.steps: 1,001 steps is too many for a graph problem (at most 1,000: each one evaluates every equation)"


def test_a_claim_of_1e_minus_300_is_judged():
    """1.0e−300 claims 301 decimals: rounding the truth to them needs 300 digits of decimal, more
    than the 80 the checker had (decimal.InvalidOperation on main). It is judged, and shown short."""
    done = tracer("check", str(MAZUR), str(FOUND / "claims" / "claim_1e-300.yaml"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "WRONG    loss_after = 1.0e-300       true 0.2910277737 (0.29102777369359933… to the claim's 301 decimals)" in done.stdout


def test_a_claims_learning_rate_must_be_a_number_a_double_holds():
    from tracer.spec import SpecError
    from tracer.teach.claims import parse_claim_set

    for given in ("1e-400", "1e400", "9" * 5000, "-1"):
        with pytest.raises(SpecError, match=r"training.learning_rate: a positive number expected \(0 or a number between 2.2e-308"):
            parse_claim_set(f"training: {{learning_rate: {given}}}\nloss_after: 0.29\n", "c.yaml")


# ---------------------------------------------------------------------------
# Answer CSVs (tracer grade)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quizdir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quiz") / "hw"
    done = tracer("quiz", str(MAZUR), "--count", "2", "--seed", "3", "-o", str(out), "--formats", "csv")
    assert done.returncode == 0, done.stderr
    return out


def grade(quizdir: Path, name: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, str]:
    done = tracer("grade", str(quizdir), str(FOUND / "answers" / name), "-o", str(tmp_path / "grades"))
    marks = tmp_path / "grades" / "marks.csv"
    return done, marks.read_text(encoding="utf-8") if marks.exists() else ""


@pytest.mark.parametrize("name", ["answer_1e400.csv", "answer_1e-400.csv"])
def test_an_answer_beyond_the_bounds_is_invalid_not_a_crash(quizdir, tmp_path, name):
    """1e400 crashed in decimal, 1e−400 divided by a unit of 0.0 (ZeroDivisionError) on main: an
    answer is held to the bound of any claim, and marked invalid (0) with the reason."""
    done, marks = grade(quizdir, name, tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert marks.splitlines()[1] == "ana,1,0,0,0,0,invalid,blank,blank,blank,0,4"
    page = (tmp_path / "grades" / "feedback" / "ana.md").read_text(encoding="utf-8")
    assert "a number between 1e-300 and 1e300 in size with at most 30 digits expected" in page


@pytest.mark.parametrize("name, row", [
    ("cr_line_endings.csv", "ben,2,"),  # an old Mac's \r: a csv.Error on main
    ("crlf_line_endings.csv", "ana,1,"),
    ("utf16_with_bom.csv", "ana,1,"),  # Excel's "Unicode text"
    ("semicolons_and_decimal_commas.csv", "ana,1,"),  # Excel where the decimal mark is a comma: 0,1 is 0.1
])
def test_an_answer_csv_as_spreadsheets_save_it_is_read(quizdir, tmp_path, name, row):
    done, marks = grade(quizdir, name, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = marks.splitlines()
    assert any(line.startswith(row) for line in lines[1:]), marks
    assert "invalid" not in lines[1], marks  # 0.1 read as a number: wrong (not invalid)


@pytest.mark.parametrize("name, message", [
    ("latin1.csv", "not UTF-8 text (byte 15); save the answers as CSV UTF-8"),
    ("nul_byte.csv", "a NUL character: not a text file; save the answers as CSV UTF-8"),
    ("variant_of_20_digits.csv", "line 2: variant: a variant number expected, got '99999999999999999999'"),
])
def test_an_answer_csv_that_cannot_be_read_is_refused_in_one_line(quizdir, tmp_path, name, message):
    done, _ = grade(quizdir, name, tmp_path)
    assert one_line(done) == f"tracer: {FOUND / 'answers' / name}: {message}"


def test_an_open_quote_is_read_or_refused_in_one_line(quizdir, tmp_path):
    done, _ = grade(quizdir, "open_quote.csv", tmp_path)
    assert done.returncode in (0, 2) and "Traceback" not in done.stderr, done.stderr


# ---------------------------------------------------------------------------
# Quiz files: randomize ranges and aliases
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, message", [
    ("range_beyond_decimal", "randomize.weights: numbers double precision holds expected (0 or a number between 2.2e-308 and 1.8e308 in size), "
                             "got 'uniform(0, 1e999999999, step=1)'"),
    ("grid_of_inf", "randomize.weights[0]: 0 or a number between 2.2e-308 and 1.8e308 in size expected, got inf"),
])
def test_a_randomize_range_beyond_double_precision_is_refused_where_written(tmp_path, name, message):
    path = FOUND / "quiz" / f"{name}.yaml"
    done = tracer("quiz", str(path), "--count", "2", "-o", str(tmp_path / "q"), "--formats", "csv")
    assert one_line(done) == f"tracer: {path}: {message}"


@pytest.mark.parametrize("command", [["validate"], ["quiz", "--count", "1", "--formats", "csv"]])
def test_an_alias_bomb_is_measured_not_walked(tmp_path, command):
    """Nine lines of nine aliases (560 bytes): every path that reads a problem file measures
    them in the time the text takes to read (on main: minutes of walking 387 million values)."""
    path = FOUND / "quiz_alias_bomb.yaml"
    extra = ["-o", str(tmp_path / "q")] if command[0] == "quiz" else []
    start = time.perf_counter()
    line = one_line(tracer(command[0], str(path), *command[1:], *extra, timeout=60))
    assert time.perf_counter() - start < 30
    assert line == f"tracer: {path}: YAML aliases (*name) repeat 490,328,964 values (at most 100,000); write the values out"


def test_aliases_that_repeat_a_few_values_are_read_as_written():
    """An anchor used twice (the same weights for two layers) is fine: 4 values repeated."""
    from tracer.spec import loads

    text = MAZUR.read_text(encoding="utf-8")
    text = text.replace("weights: [[0.15, 0.20], [0.25, 0.30]]", "weights: &w [[0.15, 0.20], [0.25, 0.30]]")
    text = text.replace("weights: [[0.40, 0.45], [0.50, 0.55]]", "weights: *w")
    problem = loads(text, "aliased.yaml")
    assert problem.layers[1].weights == ((0.15, 0.20), (0.25, 0.30))


def test_an_alias_inside_itself_is_refused():
    from tracer.spec import SpecError, loads

    with pytest.raises(SpecError, match="a YAML alias refers to a list or mapping inside itself"):
        loads("title: &t [1, *t]\n", "self.yaml")


# ---------------------------------------------------------------------------
# The bounds themselves
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("0.2910", "0.2910"), ("+1.5", "1.5"), ("−0.25", "-0.25"), ("1.0e-300", "1.0e-300"), ("0", "0"),
    ("1e400", None), ("1e-400", None), ("1" * 31, None), ("9" * 5000, None), ("abc", None), ("nan", None),
])
def test_a_claimed_number_is_a_number_of_a_sensible_size(text, expected):
    assert bounds.claimed_number(text) == expected


@pytest.mark.parametrize("text, ok", [
    ("1.5", True), ("0", True), ("-1e308", True), ("2.3e-308", True),
    ("1e309", False), ("1e-400", False), ("1e999999999", False), ("inf", False), ("1" * 101, False),
])
def test_a_problems_number_is_one_double_precision_holds(text, ok):
    assert (bounds.finite_decimal(text) is not None) == ok


@pytest.mark.parametrize("path", sorted((FOUND / "overrides").glob("*.yaml")), ids=lambda p: p.stem)
def test_what_the_overrides_fuzzer_found_is_judged_or_refused(path):
    """A claims file's `training:` on the problem its first line names: `tracer check` refuses the
    run in one line (its loss overflows), and check() on the run unverified judges every claim
    (on the first fixes: decimal.InvalidOperation rounding an inf input to a claim's digit)."""
    from tracer.core.derive import solve
    from tracer.spec import load
    from tracer.teach.check import check
    from tracer.teach.claims import parse_claim_set, with_training

    text = path.read_text(encoding="utf-8")
    problem_file = ROOT / "examples" / f"{text.split(chr(10), 1)[0].removeprefix('# problem: ').strip()}.yaml"
    done = tracer("check", str(problem_file), str(path))
    assert done.returncode in (1, 2) and "Traceback" not in done.stderr, done.stderr
    claims = parse_claim_set(text, str(path))
    verdicts = check(solve(with_training(load(problem_file), claims.training, str(path)), verify=False), claims.claims).verdicts
    assert [v.verdict for v in verdicts] == ["wrong", "wrong"]
