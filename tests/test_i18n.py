"""The documents and sheets in the reader's language (``language: en|zh|es|de``, ``--language``):
every fixed word of the translated templates a gettext message, every message translated in every
catalog (Babel's .po files in tracer/locale), a decimal comma in German and Spanish, English
unchanged. The Chinese handout is compiled and its words found in the PDF (pdftotext)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, needs
from tracer import load, solve
from tracer.cli import cli
from tracer.render import i18n
from tracer.render.document import render

TEMPLATES = ROOT / "templates"
#: the templates whose every fixed word is a message (the solution documents and the question sheets)
TRANSLATED = ("solution.md.j2", "solution.tex.j2", "solution.html.j2", "_solution_body.html.j2", "_equation.md.j2", "_equation.tex.j2",
              "_equation.html.j2", "quiz_sheet.md.j2", "quiz_sheet.tex.j2", "quiz_sheet.html.j2", "_quiz_statement.html.j2")
MESSAGE = re.compile(r'_\(\s*"((?:[^"\\]|\\.)*)"')
PYTHON = (ROOT / "tracer" / "render" / "document.py", ROOT / "tracer" / "render" / "quiz.py")


def messages() -> set[str]:
    found = set(i18n.PYTHON_MESSAGES)
    for path in [*TEMPLATES.glob("*.j2"), *PYTHON]:
        found |= {m.encode().decode("unicode_escape").encode("latin-1").decode("utf-8") for m in MESSAGE.findall(path.read_text())}
    return found


def catalog(language: str) -> dict[str, str]:
    from babel.messages.pofile import read_po

    with open(i18n.LOCALE_DIR / language / "LC_MESSAGES" / "tracer.po", "rb") as po:
        return {m.id: m.string for m in read_po(po) if m.id}


@pytest.mark.parametrize("language", ["zh", "es", "de"])
def test_every_message_is_translated_with_its_placeholders(language):
    """A template that gains a message without a translation fails here; a stale entry too."""
    wanted = messages()
    have = catalog(language)
    assert sorted(wanted - set(have)) == [] and sorted(set(have) - wanted) == []
    for message in wanted:
        assert have[message].strip(), (language, message)
        assert set(re.findall(r"%\((\w+)\)s", have[message])) == set(re.findall(r"%\((\w+)\)s", message)), (language, message)


def _words_outside_messages(text: str) -> list[str]:
    """What a reader would read in a template that is not a message, a name, math or markup."""
    text = re.sub(r"\{#.*?#\}|\\#\{.*?\}", " ", text, flags=re.S)  # comments
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", text, flags=re.S)  # Jinja
    text = re.sub(r"\\(VAR|BLOCK)\{(?:[^{}]|\{[^{}]*\})*\}", " ", text)  # Jinja in LaTeX
    text = re.sub(r"<[^>]+>", " ", text)  # HTML tags
    text = re.sub(r"\$[^$]*\$", " ", text)  # math
    text = re.sub(r"\\[A-Za-z]+\*?(\[[^\]]*\])?(\{[^{}]*\})*", " ", text)  # LaTeX commands and their arguments
    #: not words: a YAML key, anchors, TeX's column specs and units, HTML's character names
    markup = {"pagetitle", "eq", "llc", "lll", "pt", "emsp"}
    return [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in markup]


@pytest.mark.parametrize("name", TRANSLATED)
def test_a_translated_template_has_no_word_outside_a_message(name):
    assert _words_outside_messages((TEMPLATES / name).read_text()) == []


def test_the_word_check_finds_a_word():
    assert _words_outside_messages("<p>{{ _(\"Verification\") }} Rounding: $x$ \\section*{\\VAR{_(\"y\")}}</p>") == ["Rounding"]


@pytest.fixture(scope="module")
def mazur():
    return solve(load(ROOT / "examples" / "mazur.yaml"))


def test_a_chinese_document(mazur):
    md = render(mazur, "md", language="zh")
    for words in ("## 问题", "### 前向传播", "### 反向传播：输出层", "### 反向传播：隐藏层 1", "## 验证", "| 参数 | 初始值 | 训练 |",
                  "损失从 $0.298371109$ 变为 $0.291027774$：损失减小了。", "一个 2-2-2 网络"):
        assert words in md, words
    assert "Forward pass" not in md and "Verification" not in md and "The loss went" not in md


def test_german_and_spanish_write_a_decimal_comma(mazur):
    md = render(mazur, "md", language="de")
    assert "Der Verlust ging von $0{,}298371109$ auf $0{,}291027774$: er ist gesunken." in md
    assert "| $w_{1}$ | 0,15 | ja |" in md  # a table cell is text: 0,15; math is TeX's 0{,}15
    assert "| 1 | 0,05; 0,1 | 0,01; 0,99 |" in md  # numbers with commas, separated by semicolons
    html = render(mazur, "html", language="es")
    assert "<mn>0,593269992</mn>" in html and "tasa de aprendizaje" in html and '<html lang="es">' in html
    assert "0{,}" not in html


def test_english_is_the_default_and_unchanged(mazur):
    assert render(mazur, "md") == render(mazur, "md", language="en")
    assert "## The problem" in render(mazur, "md") and "0.593269992" in render(mazur, "md")


def test_language_in_the_file_and_on_the_command_line(tmp_path):
    text = (ROOT / "examples" / "mazur.yaml").read_text()
    (tmp_path / "m.yaml").write_text("language: es\n" + text)
    result = CliRunner().invoke(cli, ["solve", str(tmp_path / "m.yaml"), "-f", "md"])
    assert result.exit_code == 0 and "## El problema" in result.output
    result = CliRunner().invoke(cli, ["solve", str(tmp_path / "m.yaml"), "-f", "md", "--language", "de"])
    assert result.exit_code == 0 and "## Die Aufgabe" in result.output
    (tmp_path / "bad.yaml").write_text("language: fr\n" + text)
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "bad.yaml")])
    assert result.exit_code == 2 and "language: one of 'en', 'zh', 'es' or 'de' expected, got 'fr'" in result.output


def test_a_quiz_sheet_in_german(tmp_path):
    result = CliRunner().invoke(cli, ["quiz", str(ROOT / "examples" / "mazur.yaml"), "-n", "1", "-o", str(tmp_path), "--formats", "md,moodle",
                                      "--language", "de", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    sheet = (tmp_path / "questions.md").read_text()
    assert "## Variante 1" in sheet and "Gib jede Antwort auf 4 signifikante Stellen an" in sheet
    options = re.findall(r"\(a\) (\S+)", sheet)
    assert options and all("," in o and "." not in o for o in options)  # the options with a decimal comma
    assert "<answer fraction=\"100\"" in (tmp_path / "moodle.xml").read_text()  # the LMS file's numbers keep their point
    assert not re.search(r"<text>\d+,\d+</text>", (tmp_path / "moodle.xml").read_text())


@pytest.mark.latex
@needs("xelatex")
@needs("pdftotext")
def test_a_chinese_handout_is_set_in_its_script(tmp_path, monkeypatch):
    """The Chinese document's words come from the catalog as they are: --pdf-engine auto takes XeLaTeX,
    whose character classes put every ideograph in Noto Serif CJK; the words are in the PDF's text."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["solve", str(ROOT / "examples" / "mazur.yaml"), "-f", "pdf", "-o", "zh.pdf", "--language", "zh"])
    assert result.exit_code == 0, result.output
    text = subprocess.run(["pdftotext", "zh.pdf", "-"], capture_output=True, text=True, check=True).stdout
    for words in ("由 backprop-tracer 生成并验证的详细解答", "问题", "前向传播", "反向传播：输出层", "验证", "损失从 0.298371109 变为 0.291027774"):
        assert words in text, words
