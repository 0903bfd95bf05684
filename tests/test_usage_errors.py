"""A mistake on the command line is bad input like any other (docs/spec.md §6): one line on
stderr, naming the command and the option, exit 2. On main 5f3d4e5 Click printed four lines
(Usage, "Try … --help", a blank line, Error) for each of these (issue 26)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracer.cli import cli

ROOT = Path(__file__).resolve().parent.parent
MAZUR = str(ROOT / "examples" / "mazur.yaml")


@pytest.mark.parametrize("args, line", [
    (["solve", MAZUR, "--digits", "0"], "tracer solve: Invalid value for '--digits': 0 is not in the range 2<=x<=17. (see tracer solve --help)"),
    (["solve", MAZUR, "-f", "xml"], "tracer solve: Invalid value for '-f' / '--format': 'xml' is not one of 'text', 'md', 'tex', 'pdf', 'html', 'json'. "
                                    "(see tracer solve --help)"),
    (["solve", str(ROOT / "examples")], f"tracer solve: Invalid value for 'FILE': File '{ROOT / 'examples'}' is a directory. (see tracer solve --help)"),
    (["solve"], "tracer solve: Missing argument 'FILE'. (see tracer solve --help)"),
    (["solve", MAZUR, "--bogus"], "tracer solve: No such option '--bogus'. (see tracer solve --help)"),
    (["nope"], "tracer: No such command 'nope'. (see tracer --help)"),
    (["check", MAZUR], "tracer check: Missing argument 'CLAIMS'. (see tracer check --help)"),
])
def test_a_usage_error_is_one_line_and_exit_2(args, line):
    result = CliRunner().invoke(cli, args, prog_name="tracer")
    assert result.exit_code == 2, result.output
    assert result.stderr == line + "\n"
    assert result.stdout == ""


def test_the_console_command_says_the_same():
    done = subprocess.run([sys.executable, "-m", "tracer", "solve", MAZUR, "--digits", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stderr.startswith("tracer solve: Invalid value for '--digits'")


def test_help_version_and_no_command_are_as_before():
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).exit_code == 0
    helped = runner.invoke(cli, ["solve", "--help"])
    assert helped.exit_code == 0 and helped.stdout.startswith("Usage: ")
    bare = runner.invoke(cli, [])
    assert bare.exit_code in (0, 2) and "Usage: " in bare.output and "Commands:" in bare.output  # the help, whole
