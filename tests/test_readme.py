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
    assert len(ROWS) == 16  # with (ln σ)′ = 1 − σ (issue 25, item 9), heavy ball from a previous iterate (issue 31)


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


# ---------------------------------------------------------------------------
# docs/python-api.md: every ```pycon block runs, in order, in one session, and prints what
# the page shows (doctest compares), from the repository's top folder
# ---------------------------------------------------------------------------

API_PAGE = Path(__file__).resolve().parent.parent / "docs" / "python-api.md"


def pycon_blocks(text: str) -> list[str]:
    return re.findall(r"^```pycon\n(.*?)^```", text, re.M | re.S)


def test_the_python_api_page_runs_as_shown(monkeypatch):
    import doctest

    monkeypatch.chdir(API_PAGE.parent.parent)
    blocks = pycon_blocks(API_PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    session: dict = {}
    failures = []
    for n, block in enumerate(blocks, start=1):
        test = parser.get_doctest(block, session, f"docs/python-api.md block {n}", str(API_PAGE), 0)
        out: list[str] = []
        result = runner.run(test, out=out.append, clear_globs=False)
        session = test.globs  # the next block continues the session
        if result.failed:
            failures.append("".join(out))
    assert not failures, "\n".join(failures)[:4000]
    assert "0.08216704056423078" in API_PAGE.read_text(encoding="utf-8")  # ∂E/∂w5, as the session prints it
