"""Text from a problem file in every output, and the messages that refuse a file (issue 17).

* A title in Greek, CJK, Arabic or with an emoji gives a PDF: Greek letters and mathematical
  signs set as LaTeX's own symbols by pdflatex; a script it cannot set (CJK, Arabic, Greek
  words with accents) set by XeLaTeX, which ``--pdf-engine auto`` chooses for it (pdflatex,
  asked for, shows its code points with one warning line); what no engine sets (emoji) shown as
  ``[U+XXXX]`` with one warning line; the same for a quiz's sheets and for the file's name.
* A control character (or half a surrogate pair) in a title is refused by the loader,
  naming the field, so no Moodle XML, QTI or HTML file can be ill-formed; every XML file
  of a quiz with a hostile title parses.
* ``\\(…\\)``, ``$$…$$`` in a title reach no MathJax or KaTeX as math (Moodle, Canvas,
  Markdown, the web page): each ``\\`` and ``$`` stands in a ``<span>`` of its own.
* Every message is one line under 300 characters naming the field; ``-f json`` never
  writes NaN or Infinity.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import names_the_file, needs
from tracer.cli import cli
from tracer.render.user_text import (
    escape_markdown,
    escape_mathjax_html,
    escape_tex,
    unsettable,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MAZUR_TITLE = "title: A step-by-step backpropagation example (Mazur)"
HAS_TEX = shutil.which("pdflatex") is not None


def with_title(tmp_path: Path, title: str, name: str = "t.yaml", example: str = "mazur.yaml") -> Path:
    """The example with ``title`` (written as a JSON string: a YAML double-quoted scalar)."""
    text = (EXAMPLES / example).read_text(encoding="utf-8")
    text, n = re.subn(r"^title:.*$", lambda m: "title: " + json.dumps(title, ensure_ascii=False), text, count=1, flags=re.MULTILINE)
    if n == 0:
        text = "title: " + json.dumps(title, ensure_ascii=False) + "\n" + text
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and len(lines[0]) < 300 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


# -- LaTeX: what pdflatex can set ----------------------------------------------------------------


def test_greek_and_math_signs_become_latex_symbols():
    assert escape_tex("θ and η ≤ 0.5 × ∂E/∂w") == (r"\ensuremath{\theta} and \ensuremath{\eta} \ensuremath{\leq} 0.5 "
                                                    r"\ensuremath{\times} \ensuremath{\partial}E/\ensuremath{\partial}w")
    assert escape_tex("Café – naïve") == r"Caf\'{e} -- na\"{\i}ve"
    assert escape_tex("学 🚀") == r"\tracertext{cjk}{学}{[U+5B66]} \texttt{[U+1F680]}"
    assert unsettable("θ 学 🚀 学") == ["学", "🚀"]


def test_a_script_pdflatex_cannot_set_is_a_run_every_engine_reads():
    """Each run of one script: the text for XeLaTeX and LuaLaTeX, its code points for pdflatex (a
    Greek word: its letters without accents); on main ά lost its accent silently and 学 was only ever [U+5B66]."""
    assert escape_tex("反向传播 示例 (Mazur)") == r"\tracertext{cjk}{反向传播 示例}{[U+53CD][U+5411][U+4F20][U+64AD] [U+793A][U+4F8B]} (Mazur)"
    assert escape_tex("مثال") == r"\tracertext{arabic}{مثال}{[U+0645][U+062B][U+0627][U+0644]}"
    assert escape_tex("άλφα") == r"\tracertext{greek}{άλφα}{\ensuremath{\alpha}\ensuremath{\lambda}\ensuremath{\varphi}\ensuremath{\alpha}}"
    assert unsettable("άλφα θ") == ["ά"] and unsettable("θ and η") == []


PDF_TITLES = {
    "greek": "Gradient descent on θ with rate η (Σ of errors)",
    "cjk": "反向传播 学习",
    "emoji": "Backprop 🚀 café",
}


@pytest.mark.latex
@pytest.mark.skipif(not HAS_TEX, reason="needs pdflatex")
@pytest.mark.parametrize("kind", sorted(PDF_TITLES))
def test_a_unicode_title_gives_a_pdf(tmp_path, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)
    problem = with_title(tmp_path, PDF_TITLES[kind])
    result = CliRunner().invoke(cli, ["solve", str(problem), "-f", "pdf", "-o", "out.pdf"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out.pdf").read_bytes().startswith(b"%PDF")
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    if kind in ("greek", "cjk"):  # CJK: XeLaTeX sets it (--pdf-engine auto)
        assert warnings == []
    else:
        assert len(warnings) == 1 and "title: no font here sets 🚀 (U+1F680)" in warnings[0] and len(warnings[0]) < 300
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-l", "1", "out.pdf", "-"], capture_output=True, text=True, check=False).stdout
        assert {"greek": "descent on", "cjk": "反向传播 学习", "emoji": "[U+1F680]"}[kind] in text


@pytest.mark.latex
@pytest.mark.skipif(not HAS_TEX, reason="needs pdflatex")
def test_a_quiz_with_a_unicode_title_and_file_name_gives_its_pdfs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    problem = with_title(tmp_path, "Übung θ 学习 🚀", name="übung_学习.yaml")
    result = CliRunner().invoke(cli, ["quiz", problem.name, "-n", "1", "-o", "set", "--formats", "tex,pdf", "--jobs", "1"])
    assert result.exit_code == 0, result.stderr
    for stem in ("questions", "key"):
        assert (tmp_path / "set" / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
    sheet = (tmp_path / "set" / "questions.tex").read_text(encoding="utf-8")
    key = (tmp_path / "set" / "key.tex").read_text(encoding="utf-8")
    assert r"\"{U}bung \ensuremath{\theta} \tracertext{cjk}{学习}{[U+5B66][U+4E60]}" in sheet
    assert r"\_\tracertext{cjk}{学习}{[U+5B66][U+4E60]}" in key  # the file name too (the key's)
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-l", "1", str(tmp_path / "set" / "questions.pdf"), "-"], capture_output=True, text=True).stdout
        assert "Übung θ 学习" in text


@pytest.mark.latex
@pytest.mark.skipif(not HAS_TEX, reason="needs pdflatex")
def test_a_graph_problem_with_a_greek_title_gives_a_pdf(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    problem = with_title(tmp_path, "σ(w·x + b) — a neuron", example="graph_sigmoid_neuron.yaml")
    result = CliRunner().invoke(cli, ["solve", str(problem), "-f", "pdf", "-o", "g.pdf"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "g.pdf").exists() and "warning" not in result.stderr


@pytest.mark.latex
@pytest.mark.skipif(not HAS_TEX, reason="needs pdflatex")
def test_greek_node_names_are_set_as_their_letters(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.yaml").write_text("title: θ and η\ngraph:\n  equations:\n    - zθ = w * θ\n    - f = zθ + η\n"
                                     "  values: {w: 2, θ: -1, η: 0.5}\n  output: f\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["solve", "g.yaml", "-f", "pdf", "-o", "g.pdf"])
    assert result.exit_code == 0, result.stderr
    tex = (tmp_path / "g.tex").read_text(encoding="utf-8")
    assert r"\mathrm{z{\theta}}" in tex and r"w \cdot \theta" in tex and "θ" not in tex.split(r"\begin{document}")[1]
    (tmp_path / "bad.yaml").write_text("graph:\n  equations:\n    - f = 2 * 学\n  values: {学: 1}\n  output: f\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", "bad.yaml"])
    assert result.exit_code == 2 and "graph.values.学: a name expected (Latin or Greek letters, digits, _)" in one_line(result)


# -- control characters: refused where the file is read ---------------------------------------------


HOSTILE = {
    "control": "bad \u0001 title \\(x^2\\)",
    "escape": "bell \u0007 and \u001b[31m red",
    "newline": "two\nlines",
    "c1": "next line \u0085 here",
    "surrogate": "half \ud83d an emoji",
    "nonchar": "not xml \uffff",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("command", ["solve", "quiz", "validate"])
def test_a_title_with_a_control_character_is_refused_naming_the_field(tmp_path, name, command):
    text = (EXAMPLES / "mazur.yaml").read_text(encoding="utf-8")
    escaped = json.dumps(HOSTILE[name])  # \u0001, \ud83d: the escapes a YAML double-quoted scalar reads
    problem = tmp_path / "t.yaml"
    problem.write_text(text.replace(MAZUR_TITLE, "title: " + escaped), encoding="utf-8")
    args = [command, str(problem)] + (["-n", "1", "-o", str(tmp_path / "set")] if command == "quiz" else [])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    message = one_line(result)
    assert f"{problem}: title: " in message and "at character" in message
    assert not (tmp_path / "set").exists()


def test_every_xml_file_of_a_quiz_with_a_hostile_title_parses(tmp_path):
    title = "Price $5 & <b>bold</b> \\(x^2\\) $$y$$ ]]> θ 学 🚀 \u200d"
    problem = with_title(tmp_path, title)
    result = CliRunner().invoke(cli, ["quiz", str(problem), "-n", "2", "-o", str(tmp_path / "set"), "--formats", "moodle,qti", "--jobs", "1"])
    assert result.exit_code == 0, result.stderr
    moodle = ET.parse(tmp_path / "set" / "moodle.xml").getroot()
    texts = [el.findtext("text") or "" for el in moodle.iter("questiontext")]  # the HTML Moodle's filters typeset
    assert any("Price <span>$</span>5 &amp; &lt;b&gt;" in t for t in texts)
    assert not any("\\(x^2" in t or "$$" in t for t in texts)  # no delimiter left for Moodle's MathJax
    with zipfile.ZipFile(tmp_path / "set" / "canvas.zip") as z:
        for member in z.namelist():
            if member.endswith(".xml"):
                ET.fromstring(z.read(member))


def test_the_last_guard_makes_any_xml_well_formed():
    from tracer.export.xml_text import xml_safe

    ET.fromstring(xml_safe("<a>bad \u0001 \u0085 \ufffe text</a>"))


# -- math delimiters: no MathJax typesets a title ---------------------------------------------------


def test_backslash_and_dollar_stand_alone_for_mathjax():
    assert str(escape_mathjax_html("\\(x\\) $$y$$ <b>")) == "<span>\\</span>(x<span>\\</span>) <span>$</span><span>$</span>y<span>$</span><span>$</span> &lt;b&gt;"
    assert escape_markdown("\\(x\\) $5 *a*") == "<span>\\\\</span>(x<span>\\\\</span>) <span>\\$</span>5 \\*a\\*"


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_title_in_markdown_and_html_carries_no_math_delimiter(tmp_path, fmt):
    problem = with_title(tmp_path, "Cost \\(x^2\\) and $$y$$ or $z$")
    result = CliRunner().invoke(cli, ["solve", str(problem), "-f", fmt])
    assert result.exit_code == 0, result.stderr
    heading = next(line for line in result.stdout.splitlines() if line.startswith(("# ", "<h1>")))
    visible = re.sub(r"<[^>]+>", "|", heading)  # each element boundary: where MathJax's search stops
    assert "\\(" not in visible and "$$" not in visible and "$z$" not in visible and "\\\\(" not in visible
    if fmt == "html":
        assert "<title>Cost \\(x^2\\) and $$y$$ or $z$</title>" in result.stdout  # the tab shows it as written


# -- messages: one line, under 300 characters, naming the field ----------------------------------------


@pytest.mark.parametrize("key", ["integer", "int", "string", "listing", "floaty", "boolean", "none_of_these", "literally", "str"])
@pytest.mark.parametrize("where", ["training", "layer", "loss", "optimizer"])
def test_an_unknown_key_is_named_as_written(tmp_path, key, where):
    text = (EXAMPLES / "mazur.yaml").read_text(encoding="utf-8")
    anchors = {
        "training": ("  learning_rate: 0.5\n", f"  learning_rate: 0.5\n  {key}: 1\n", "training"),
        "layer": ("    - units: 2\n      activation: sigmoid\n", f"    - units: 2\n      {key}: 1\n      activation: sigmoid\n", "network.layers[0]"),
        "loss": ("loss:\n", f"loss:\n  {key}: 1\n", "loss"),
        "optimizer": ("  learning_rate: 0.5\n", f"  learning_rate: 0.5\n  optimizer: {{name: adam, {key}: 1}}\n", "training.optimizer"),
    }
    old, new, parent = anchors[where]
    assert old in text
    problem = tmp_path / "k.yaml"
    problem.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(problem)])
    assert result.exit_code == 2
    assert one_line(result).endswith(f"{parent}.{key}: unknown key {key!r} in {parent}")


FUZZ = sorted((ROOT / "tests" / "fuzz").rglob("*.yaml"))
#: values that have broken a loader or an engine somewhere
BAD_VALUES = ["1e308", "-1e308", "5e-324", "0", "-0.0", '"1e-3"', ".inf", ".nan", "[]", "{}", '"x"', "null", "true",
              "1e15", "123456789012345678901234567890", '"' + "y" * 20000 + '"', "[[1e308]]", "2147483648", "!!int 3",
              "&a [*a]", '"\\u0001"', "{int: 1}", "[1, [2, [3]]]"]


def _mutations():
    """Each shipped example of a few kinds with its numbers replaced, one at a time, by bad values
    (deterministic: the k-th number gets the k-th value, round-robin)."""
    out = []
    for example in ("mazur.yaml", "optimizer_adam.yaml", "graph_micrograd.yaml", "conv_maxpool.yaml", "rnn_many_to_one.yaml"):
        text = (EXAMPLES / example).read_text(encoding="utf-8")
        numbers = list(re.finditer(r"(?<![\w.\[])-?\d+(?:\.\d+)?(?:e-?\d+)?(?![\w.])", text))[:40]
        for k, m in enumerate(numbers):
            out.append((f"{example}#{k}", text[: m.start()] + BAD_VALUES[k % len(BAD_VALUES)] + text[m.end():]))
    return out


def test_every_message_over_many_bad_inputs_is_one_line_naming_the_file(tmp_path):
    runner = CliRunner()
    cases = [(p.name, p.read_text(encoding="utf-8", errors="replace")) for p in FUZZ] + _mutations()
    assert len(cases) > 150
    refused = 0
    for name, text in cases:
        problem = tmp_path / "bad.yaml"
        problem.write_text(text, encoding="utf-8", errors="surrogatepass")
        result = runner.invoke(cli, ["solve", str(problem), "-f", "json"])
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), (name, result.exception)
        assert result.exit_code in (0, 1, 2), name
        if result.exit_code:
            refused += 1
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            assert len(lines) == 1 and len(lines[0]) < 300, (name, result.stderr[:500])
            assert names_the_file(lines[0], problem), (name, lines[0])
        else:
            json.loads(result.stdout, parse_constant=lambda c, name=name: pytest.fail(f"{name}: {c} in the JSON"))
    assert refused >= 40


def test_json_never_holds_a_number_that_is_not_finite(tmp_path, monkeypatch):
    from tracer.cli import problems

    monkeypatch.setattr(problems, "solution_json", lambda solution: {"loss": float("inf")})
    result = CliRunner().invoke(cli, ["solve", str(EXAMPLES / "mazur.yaml"), "-f", "json"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "the result holds a number that is not finite" in one_line(result)


def test_a_claim_named_with_control_characters_is_shown_escaped_and_invalid(tmp_path):
    claims = tmp_path / "claims.yaml"
    claims.write_text('"\\e[31mred\\u0007": 0.5\nloss: 0.298\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(EXAMPLES / "mazur.yaml"), str(claims)])
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout  # no escape sequence reaches the terminal
    assert "INVALID  \\x1b[31mred\\x07" in result.stdout and "right    loss" in result.stdout


def test_greek_letters_typed_in_text_are_the_commands_unicode_math_pairs_them_with():
    """ε (U+03B5) is \\varepsilon and ϵ (U+03F5) \\epsilon; φ (U+03C6) is \\varphi and ϕ (U+03D5) \\phi."""
    from tracer.render.user_text import escape_tex

    assert escape_tex("ε ϵ φ ϕ") == r"\ensuremath{\varepsilon} \ensuremath{\epsilon} \ensuremath{\varphi} \ensuremath{\phi}"


# -- the LaTeX engines: one .tex for pdflatex, xelatex and lualatex (issue 27) ---------------------

ENGINE_TITLE = "误差反向传播 (Mazur) — Ελληνικά: άλφα — مثال"


@pytest.mark.latex
@needs("xelatex")
@needs("lualatex")
@pytest.mark.parametrize("engine", ["pdflatex", "xelatex", "lualatex"])
def test_the_same_tex_compiles_with_every_engine(tmp_path, monkeypatch, engine):
    """On main the .tex failed under lualatex (\\DeclareUnicodeCharacter is pdflatex's): now one .tex,
    told apart by iftex. With XeLaTeX and LuaLaTeX the Chinese, the Greek with its accents and the
    Arabic (right to left) of the title are in the PDF's text; pdflatex shows their code points."""
    monkeypatch.chdir(tmp_path)
    problem = with_title(tmp_path, ENGINE_TITLE)
    result = CliRunner().invoke(cli, ["solve", str(problem), "-f", "pdf", "-o", "out.pdf", "--pdf-engine", engine])
    assert result.exit_code == 0, result.stderr
    text = subprocess.run(["pdftotext", "-l", "1", "out.pdf", "-"], capture_output=True, text=True, check=True).stdout
    # Arabic comes out of pdftotext in its presentation forms, between direction marks
    text = "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch not in "\u202a\u202b\u202c\u200e\u200f")
    first = text.splitlines()[0]
    if engine == "pdflatex":
        assert first.startswith("[U+8BEF][U+5DEE]") and "Ελληνικ" not in text
        assert "pdflatex cannot set 误 (U+8BEF)" in result.stderr and "--pdf-engine xelatex (or auto) sets them" in result.stderr
    else:
        assert first == "误差反向传播 (Mazur) — Ελληνικά: άλφα — مثال" and "warning" not in result.stderr
    assert "0.3775" in text  # the document itself, whatever the engine


def test_auto_chooses_xelatex_only_for_a_script_pdflatex_cannot_set():
    from tracer.render.document import pdf_engine
    from tracer.render.user_text import escape_tex

    assert pdf_engine("\\title{" + escape_tex("Mazur, θ and η, café") + "}") == "pdflatex"
    assert pdf_engine("\\title{" + escape_tex("误差") + "}") == "xelatex"
    assert pdf_engine("\\title{" + escape_tex("άλφα") + "}") == "xelatex"
    assert pdf_engine("\\title{" + escape_tex("误差") + "}", "lualatex") == "lualatex"
