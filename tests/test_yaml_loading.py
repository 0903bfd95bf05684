"""``tracer.spec.loads`` reads with libyaml (``yaml.CSafeLoader``) when PyYAML has it and
with PyYAML's pure-Python ``SafeLoader`` otherwise: the same problem, or the same one-line
error, either way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

import tracer.spec.yaml_text as yaml_text
from tracer.spec import SpecError, loads

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))
MAZUR = (ROOT / "examples" / "mazur.yaml").read_text(encoding="utf-8")
HAS_LIBYAML = hasattr(yaml, "CSafeLoader")
# a developer's PyYAML may lack libyaml; CI's must have it (never skip there, as conftest.needs)
libyaml = pytest.mark.skipif(not HAS_LIBYAML and not os.environ.get("CI"), reason="PyYAML without libyaml")

LOADERS = [pytest.param("libyaml", marks=libyaml), "pure-python"]

#: pieces of YAML, the characters on which libyaml and PyYAML disagree among them
TOKENS = list("ab1 .-:,[]{}#'\"\n\n  ?!|>&*%@`\\e0x_+~\t") + [
    "---", "...", "- ", ": ", "  - ", "<<", "!!str", "&a", "*a", "1e3", ".inf", "0o7", "0x1f", "yes", "null",
    "-1.5e-3", "'a b'", '"\\u00e9"', "é", "×", "\r\n", "\ufeff", "\x85", "\u2028", "\x00", "[null?]", "|#", "!",
]


def _read(text: str, loader: str):
    """What ``loads`` hands to ``from_mapping`` (its repr: 1, 1.0 and True differ) and what it returns or says."""
    seen: list[str] = []
    real = yaml_text.from_mapping

    def recording(raw, source="<mapping>"):
        seen.append(repr(raw))
        return real(raw, source)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(yaml_text, "from_mapping", recording)  # where loads looks it up
        if loader == "pure-python":
            mp.delattr(yaml, "CSafeLoader", raising=False)
        try:
            return seen, loads(text, "hw3.yaml")
        except SpecError as err:
            return seen, f"error: {err}"


def _counting_libyaml(mp: pytest.MonkeyPatch) -> list[int]:
    made: list[int] = []

    class Counting(yaml.CSafeLoader):  # type: ignore[name-defined]
        def __init__(self, stream):
            made.append(1)
            super().__init__(stream)

    mp.setattr(yaml, "CSafeLoader", Counting)
    return made


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("network: [\n  bad", "hw3.yaml: YAML syntax error: line 2, column 6: expected ',' or ']', but got '<stream end>'"),
        ("network:\n  inputs: 2\n loss: x\n", "hw3.yaml: YAML syntax error: line 3, column 2: expected <block end>, but found '<block mapping start>'"),
        ("title: 'open\n", "hw3.yaml: YAML syntax error: line 2, column 1: found unexpected end of stream"),
        ("a: b: c\n", "hw3.yaml: YAML syntax error: line 1, column 5: mapping values are not allowed here"),
        ("network: *nowhere\n", "hw3.yaml: YAML syntax error: line 1, column 10: found undefined alias 'nowhere'"),
        ("network:\n\tinputs: 2\n", "hw3.yaml: YAML syntax error: line 2, column 1: found character '\\t' that cannot start any token"),
    ],
)
def test_a_syntax_error_is_the_same_line_with_either_loader(loader, text, message):
    seen, said = _read(text, loader)
    assert said == f"error: {message}"
    assert "\n" not in said and seen == []


@libyaml
def test_libyaml_reads_a_plain_file_and_leaves_the_rest_to_the_reference_loader():
    with pytest.MonkeyPatch.context() as mp:
        made = _counting_libyaml(mp)
        loads(MAZUR, "mazur.yaml")
        assert made == [1]
        loads(MAZUR + "# a tab:\t\n", "mazur.yaml")  # holds a tab: libyaml not tried
        assert made == [1]
        with pytest.raises(SpecError, match="line 2, column 6"):
            loads("network: [\n  bad", "hw3.yaml")  # tried, refused, read again
        assert made == [1, 1]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
@libyaml
def test_every_shipped_file_reads_the_same_with_either_loader(path):
    text = path.read_text(encoding="utf-8")
    assert _read(text, "libyaml") == _read(text, "pure-python")


@libyaml
@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=24).map("".join))
def test_any_text_reads_the_same_with_either_loader(text):
    assert _read(text, "libyaml") == _read(text, "pure-python")


@libyaml
@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(MAZUR)), st.lists(st.sampled_from(TOKENS), min_size=1, max_size=4).map("".join))
def test_a_damaged_problem_file_reads_the_same_with_either_loader(at, insert):
    text = MAZUR[:at] + insert + MAZUR[at:]
    assert _read(text, "libyaml") == _read(text, "pure-python")


# ---------------------------------------------------------------------------
# "-": the problem file from the standard input (on main: "tracer: -: no such file")
# ---------------------------------------------------------------------------


def test_dash_reads_the_problem_from_stdin():
    from click.testing import CliRunner

    from tracer.cli import cli

    text = (ROOT / "examples" / "mazur.yaml").read_text()
    result = CliRunner().invoke(cli, ["ask", "-", "dloss/dW2[1,1]"], input=text)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("dloss/dW2[1,1] = 0.0821670406")


def test_dash_from_a_real_pipe_and_its_errors_name_stdin():
    import subprocess
    import sys

    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    piped = subprocess.run([sys.executable, "-m", "tracer", "solve", "-", "-f", "json"], input=(ROOT / "examples" / "mazur.yaml").read_bytes(),
                           capture_output=True, env=env, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert __import__("json").loads(piped.stdout)["loss_after"] == pytest.approx(0.2910277737, abs=1e-10)
    bad = subprocess.run([sys.executable, "-m", "tracer", "validate", "-"], input=b"title: x\nnetwork: 3\n",
                         capture_output=True, env=env, timeout=120)
    assert bad.returncode == 2 and bad.stderr.decode().strip() == "tracer: <stdin>: training: required, missing"
    twice = subprocess.run([sys.executable, "-m", "tracer", "check", "-", "-"], input=(ROOT / "examples" / "mazur.yaml").read_bytes(),
                           capture_output=True, env=env, timeout=120)
    assert twice.returncode == 2 and "the standard input was read already" in twice.stderr.decode()
