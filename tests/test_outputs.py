"""Where a command writes and what it reads (issue 17), run through the real CLI.

Nothing is written over an input (the same path, a symbolic or hard link to it); ``-o``'s
suffix must not contradict ``-f``; a missing folder is created; a failed PDF keeps its log
beside the requested output; every file is written whole (a temporary file, then a rename),
so an interrupted run leaves the old file as it was. A path that is not a regular file (a
FIFO, ``/dev/zero``, a directory) is refused at once, for problem files, claims files and
a class's answers alike.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracer import files
from tracer.cli import cli

ROOT = Path(__file__).resolve().parent.parent
MAZUR = ROOT / "examples" / "mazur.yaml"
HAS_TEX = shutil.which("pdflatex") is not None


@pytest.fixture
def problem(tmp_path, monkeypatch) -> Path:
    """A copy of Mazur's problem in an empty working folder."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "in.yaml"
    shutil.copyfile(MAZUR, path)
    return path


def run(*args: str):
    started = time.perf_counter()
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert time.perf_counter() - started < 5 or "pdf" in args, f"{args} took too long"
    return result


def one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and len(lines[0]) < 300 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


# -- never over an input -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "md", "json", "pdf"])
def test_the_problem_file_is_never_the_output(problem, fmt):
    before = problem.read_bytes()
    result = run("solve", "in.yaml", "-f", fmt, "-o", "in.yaml")
    assert result.exit_code == 2
    message = one_line(result)
    assert "-o in.yaml" in message and "the input file in.yaml" in message
    assert problem.read_bytes() == before


def test_an_output_linked_to_the_input_is_refused(problem, tmp_path):
    before = problem.read_bytes()
    (tmp_path / "link.md").symlink_to(problem)
    os.link(problem, tmp_path / "hard.txt")
    for out, fmt in (("link.md", "md"), ("hard.txt", "text")):
        result = run("solve", "in.yaml", "-f", fmt, "-o", out)
        assert result.exit_code == 2 and f"-o {out}: that is the input file in.yaml (the same file)" in one_line(result)
    assert problem.read_bytes() == before


def test_a_pdf_whose_latex_would_replace_the_input_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(MAZUR, tmp_path / "hw.tex")  # a problem file with an odd name: x.pdf's LaTeX would be hw.tex
    result = run("solve", "hw.tex", "-f", "pdf", "-o", "hw.pdf")
    assert result.exit_code == 2 and "-o hw.tex: that is the input file hw.tex" in one_line(result)
    assert (tmp_path / "hw.tex").read_bytes() == MAZUR.read_bytes()


@pytest.mark.parametrize("fmt, out, hint", [
    ("pdf", "x.tex", "give -o x.pdf or -f tex"),
    ("pdf", "x", "give -o x.pdf"),
    ("json", "x.md", "a .md name contradicts -f json"),
    ("md", "x.html", "a .html name contradicts -f md"),
    ("text", "x.yaml", "no format writes YAML"),
])
def test_a_suffix_that_contradicts_the_format_is_refused(problem, tmp_path, fmt, out, hint):
    result = run("solve", "in.yaml", "-f", fmt, "-o", out)
    assert result.exit_code == 2
    message = one_line(result)
    assert f"-o {out}" in message and hint in message
    assert not (tmp_path / out).exists()


def test_a_missing_folder_is_created_and_a_file_in_the_way_named(problem, tmp_path):
    result = run("solve", "in.yaml", "-f", "md", "-o", "reports/week 3/hw.md")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "reports" / "week 3" / "hw.md").read_text(encoding="utf-8").startswith("---")
    assert "created the folder reports/week 3" in result.stderr
    result = run("solve", "in.yaml", "-o", "in.yaml/out.txt")
    assert result.exit_code == 2 and "in.yaml is a file, not a folder" in one_line(result)


def test_output_to_dev_null_is_written_as_a_shell_would(problem):
    result = run("solve", "in.yaml", "-f", "json", "-o", "/dev/null")
    assert result.exit_code == 0 and Path("/dev/null").is_char_device()


# -- written whole -------------------------------------------------------------------------


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "solution.md"
    target.write_text("the old solution\n", encoding="utf-8")

    def interrupted(fd):
        raise KeyboardInterrupt  # Ctrl-C after the new text is written, before the rename

    monkeypatch.setattr(files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomically(target, "the new solution, half written")
    assert target.read_text(encoding="utf-8") == "the old solution\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["solution.md"]


def test_a_write_keeps_the_file_mode_and_follows_a_link(tmp_path):
    real = tmp_path / "real.md"
    real.write_text("old", encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "link.md"
    link.symlink_to(real)
    files.write_atomically(link, "new")
    assert link.is_symlink() and real.read_text(encoding="utf-8") == "new"
    assert real.stat().st_mode & 0o777 == 0o640


def test_quiz_and_grade_write_through_the_same_guard(problem, tmp_path):
    result = run("quiz", "in.yaml", "-n", "2", "-o", "set", "--formats", "csv,moodle")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == ["answers.csv", "moodle.xml"]
    (tmp_path / "class.csv").write_text("id,variant,q1\na b,1,0.1\na_b,2,0.2\n", encoding="utf-8")
    result = run("grade", "set", "class.csv")
    assert result.exit_code == 0, result.stderr
    pages = sorted(p.name for p in (tmp_path / "set" / "grades" / "feedback").iterdir())
    assert pages == ["a_b-2.md", "a_b.md"]  # two students, two pages: neither replaces the other
    result = run("grade", "set", "set/grades/marks.csv", "-o", "set/grades")
    assert result.exit_code == 2 and "that is the input file set/grades/marks.csv" in one_line(result)


# -- a failed PDF keeps its log --------------------------------------------------------------


@pytest.mark.latex
@pytest.mark.skipif(not HAS_TEX, reason="needs pdflatex")
def test_a_failed_latex_run_keeps_its_log_beside_the_output(problem, tmp_path, monkeypatch):
    from tracer.render import document

    monkeypatch.setattr(document, "render", lambda *a, **k: "\\documentclass{article}\\begin{document}\\undefinedcommand\\end{document}\n")
    (tmp_path / "hw.pdf").write_bytes(b"%PDF an older handout")
    result = run("solve", "in.yaml", "-f", "pdf", "-o", "hw.pdf")
    assert result.exit_code == 1
    message = one_line(result)
    assert "LaTeX failed on hw.tex: Undefined control sequence" in message and message.endswith("(the log: hw.log)")
    assert "undefinedcommand" in (tmp_path / "hw.log").read_text(encoding="utf-8", errors="replace")
    assert (tmp_path / "hw.pdf").read_bytes() == b"%PDF an older handout"  # not replaced by nothing


# -- inputs that are not regular files ---------------------------------------------------------


def _fifo(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("args", [
    ("solve", "{fifo}"),
    ("solve", "/dev/zero"),
    ("validate", "{fifo}"),
    ("ask", "{fifo}", "loss"),
    ("check", "in.yaml", "{fifo}"),
    ("check", "in.yaml", "/dev/zero"),
    ("quiz", "{fifo}", "-n", "1"),
])
def test_a_path_that_is_not_a_regular_file_is_refused_at_once(problem, tmp_path, args):
    fifo = _fifo(tmp_path, "f.yaml")
    argv = [sys.executable, "-m", "tracer", *(a.format(fifo=fifo) for a in args)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20, cwd=tmp_path, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # a FIFO that blocked: TimeoutExpired
    assert time.perf_counter() - started < 10  # ~1.5 s, nearly all of it Python's start-up; 10 s on a loaded machine
    assert done.returncode == 2, done.stderr
    assert "not a regular file" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_class_answers_fifo_is_refused_at_once(problem, tmp_path):
    assert run("quiz", "in.yaml", "-n", "1", "-o", "set", "--formats", "csv").exit_code == 0
    fifo = _fifo(tmp_path, "class.csv")
    result = run("grade", "set", str(fifo))
    assert result.exit_code == 2 and "a FIFO (named pipe), not a regular file" in one_line(result)
