"""The README's calculus table is a promise: each command runs and prints its answer."""

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracer.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
ROWS = [
    (m.group(1), m.group(2))
    for m in re.finditer(r"^\| [^|]+ \| `(tracer (?:diff|descend) [^`]+)` \| (.+) \|$", README, re.M)
]


def test_the_table_is_found():
    assert len(ROWS) == 14


@pytest.mark.parametrize("command, answer", ROWS, ids=[r[0][:40] for r in ROWS])
def test_readme_command_prints_its_answer(command, answer, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # --plot path.svg lands here
    result = CliRunner().invoke(cli, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    # every number of the answer column appears in the output (superscripts written ^2 there)
    for number in re.findall(r"−?\d+(?:\.\d+)?", answer.replace("²", "^2")):
        if number in ("2", "1", "0", "4"):  # small integers: too common to mean anything
            continue
        assert number in result.output, (number, result.output[-600:])
