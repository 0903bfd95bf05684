"""`tracer grade`: a simulated class marked against a quiz's key, as a teacher marks.

Sixty students answer a six-variant quiz of Mazur's network. Forty work every intermediate
by hand to the sheet's 4 significant digits (rounding half-up, half-even or truncating, at
random); twenty make one of the quiz's mistakes for real (their answers come from the
mistaken world of :mod:`tracer.teach.mistakes`, rounded the same way). Every hand-worked
answer must be accepted, and every injected mistake found: the first answer it changes
beyond its tolerance is ``wrong``, and what follows from it is ``carried`` or ``wrong``.
"""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tracer.core import derive
import tracer.teach.diagnosis as diagnosis
from tracer.teach.grade import Grader, Policy, Row, grade, marks_csv, read_key
from tracer.teach.mistakes import MistakenSolutions
from tracer.teach.rounding import MODES, round_to, rounded_world
from tracer.spec import SpecError

ROOT = Path(__file__).resolve().parent.parent
MAZUR = ROOT / "examples" / "mazur.yaml"
MISTAKES = ("no_activation_derivative", "forgot_path", "added_gradient", "pre_activation")


@pytest.fixture(scope="module")
def quiz(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quiz") / "hw"
    done = subprocess.run([sys.executable, "-m", "tracer", "quiz", str(MAZUR), "--count", "6", "--seed", "3", "-o", str(out), "--formats", "csv"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


def _text(value: float) -> str:
    return f"{value:.4g}" if abs(value) >= 1e-4 else f"{value:.4e}"


def _class(quiz: Path, tmp_path: Path) -> tuple[Path, dict[str, tuple[int, str | None, list[float]]]]:
    grader = Grader(quiz, str(MAZUR))
    rng = random.Random(7)
    students: dict[str, tuple[int, str | None, list[float]]] = {}
    rows = []
    for n in range(60):
        variant = n % 6 + 1
        solution = derive.solve(grader.variants[variant].problem, verify=False)
        entries = grader.key.questions(variant)
        steps = [solution.step(e.quantity).id for e in entries]
        mistake = MISTAKES[n % len(MISTAKES)] if n >= 40 else None
        mode = rng.choice(list(MODES))
        world = rounded_world(solution, 4, mode)
        if mistake is not None:
            world = MistakenSolutions(solution).replayed[mistake]
        values = [world.get(s, solution.index[s].value) for s in steps]
        answers = [_text(round_to(v, 4, mode)) for v in values]
        students[f"s{n:02d}"] = (variant, mistake, values)
        rows.append([f"s{n:02d}", variant] + answers)
    path = tmp_path / "class.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "variant", "q1", "q2", "q3", "q4"])
        writer.writerows(rows)
    return path, students


def test_a_simulated_class_is_marked_like_a_teacher(quiz, tmp_path):
    answers, students = _class(quiz, tmp_path)
    results = {r.student: r for r in grade(quiz, answers, str(MAZUR))}
    key = read_key(quiz)
    found = 0
    for student, (variant, mistake, values) in students.items():
        result = results[student]
        if mistake is None:  # hand-worked to 4 digits: every answer accepted
            assert all(m.verdict in ("right", "habit") for m in result.marks), (student, [(m.given, m.answer, m.reason) for m in result.marks])
            assert result.total == 4
            continue
        entries = key.questions(variant)
        off = [abs(v - e.value) > float(e.tolerance) for v, e in zip(values, entries)]
        if not any(off):
            continue  # the mistake does not show at 4 digits in this variant
        first = off.index(True)
        assert result.marks[first].verdict == "wrong", (student, mistake, result.marks[first])
        for m, is_off in zip(result.marks, off):
            if is_off:
                assert m.verdict in ("wrong", "carried"), (student, mistake, m)
        assert result.total < 4
        found += 1
    assert found >= 15  # nearly every injected mistake shows in its variant (and was found)


def test_carried_answers_get_partial_credit(quiz, tmp_path):
    grader = Grader(quiz, str(MAZUR), Policy(carried=0.5))
    solution = derive.solve(grader.variants[1].problem, verify=False)
    world = MistakenSolutions(solution).replayed["no_activation_derivative"]
    entries = grader.key.questions(1)
    values = [world.get(solution.step(e.quantity).id, solution.step(e.quantity).value) for e in entries]
    path = tmp_path / "one.csv"
    path.write_text("id,variant,q1,q2,q3,q4\nana,1," + ",".join(_text(v) for v in values) + "\n", encoding="utf-8")
    (result,) = grade(quiz, path, str(MAZUR), Policy(carried=0.5))
    verdicts = [m.verdict for m in result.marks]
    assert verdicts[0] == "wrong" and "activation" in result.marks[0].reason  # ∂E/∂w5 without σ′: named
    assert verdicts[2] == "carried" and result.marks[2].credit == 0.5  # w5⁺ from the student's own wrong gradient
    assert result.marks[2].culprit == "dloss/dW2[1,1]"
    assert "q1 verdict" in marks_csv([result]).splitlines()[0]


def test_letters_blanks_and_bad_input(quiz, tmp_path):
    key = read_key(quiz)
    first = key.questions(1)[0]
    letter = next(k for k, v in first.options.items() if v == first.answer) if first.options else first.answer
    path = tmp_path / "c.csv"
    path.write_text(f"id,variant,q1,q2,q3,q4\nbo,1,{letter},,x,\n", encoding="utf-8")
    (result,) = grade(quiz, path, str(MAZUR))
    assert [m.verdict for m in result.marks] == ["right", "blank", "invalid", "blank"]
    path.write_text("id,variant,q1\nbo,9,0.1\n", encoding="utf-8")
    with pytest.raises(SpecError, match="line 2: variant: a variant from 1 to 6 expected, got 9"):
        grade(quiz, path, str(MAZUR))
    other = tmp_path / "other.yaml"
    other.write_text(MAZUR.read_text(encoding="utf-8").replace("factor: 0.5", "factor: 1.0", 1), encoding="utf-8")
    path.write_text("id,variant,q1\nbo,1,0.1\n", encoding="utf-8")
    with pytest.raises(SpecError, match="not this quiz set"):
        grade(quiz, path, str(other))


def test_the_command_writes_marks_and_feedback(quiz, tmp_path):
    path = tmp_path / "c.csv"
    key = read_key(quiz)
    answers = [e.answer for e in key.questions(2)]
    path.write_text("id,variant,q1,q2,q3,q4\nana,2," + ",".join(answers) + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "tracer", "grade", str(quiz), str(path), "--problem", str(MAZUR), "-o", str(tmp_path / "g")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "1 students graded: mean 4.00 of 4" in done.stderr
    assert (tmp_path / "g" / "marks.csv").read_text(encoding="utf-8").splitlines()[1].startswith("ana,2,1,1,1,1,right")
    assert "Marks: 4 of 4." in (tmp_path / "g" / "feedback" / "ana.md").read_text(encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "tracer", "grade", str(tmp_path), str(path)], capture_output=True, text=True)
    assert bad.returncode == 2 and "answers.csv" in bad.stderr and "Traceback" not in bad.stderr


def test_the_students_of_one_variant_share_its_diagnoses(quiz, monkeypatch):
    """A wrong answer's diagnosis tries the quiz's mistakes made for real (MistakenSolutions): made
    once per variant for the whole class, not once per student, and the verdicts unchanged."""
    made = []
    real = diagnosis.MistakenSolutions
    monkeypatch.setattr(diagnosis, "MistakenSolutions", lambda solution: made.append(solution) or real(solution))
    grader = Grader(quiz, str(MAZUR))
    rows = [Row(f"s{k}", 1, {1: "0.01", 2: "0.002", 3: "0.3", 4: "0.2"}, k + 2) for k in range(3)]
    results = [grader.grade(row) for row in rows]
    assert len(made) == 1
    assert [m.verdict for m in results[0].marks] == [m.verdict for m in results[2].marks]
    assert [m.reason for m in results[0].marks] == [m.reason for m in results[2].marks]
    assert "wrong" in [m.verdict for m in results[0].marks]
