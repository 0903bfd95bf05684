"""Every printed step as a careful hand calculation writes it (issue 25, items 4–8 and 11–14): a
rounding difference is not a result, each step's parameters have a symbol of their own, a
mini-batch's samples keep the numbers of the problem's table, λ is not two things at once, a
`<` in prose is a `<` in the PDF, an expression may begin with a minus sign, and a quiz's options
carry every significant digit the sheet asks for."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import tracer
from tracer.cli import cli
from tracer.render.document import render
from tracer.spec import from_mapping, load

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _text(path: str, *, notation: str | None = None, fmt: str = "text", **changes) -> str:
    problem = load(EXAMPLES / path)
    return render(tracer.solve(problem), fmt, notation=notation)


# ---------------------------------------------------------------------------
# Item 4: a rounding difference is printed as one (two significant digits)
# ---------------------------------------------------------------------------


def test_the_delta_form_prints_its_difference_as_a_rounding_not_a_result():
    text = _text("mazur.yaml")
    # was "2.77555756e−17", nine digits of float noise presented like a result
    assert "Largest difference between the δ form (NumPy) and the scalar chain (SymPy): 2.8e−17." in text
    assert not re.search(r"difference \d\.\d{4,}e", text)


# ---------------------------------------------------------------------------
# Item 5: a later step's parameters have a symbol of their own
# ---------------------------------------------------------------------------


def test_a_later_update_names_both_sides_apart_in_canonical_names():
    text = _text("batch_modes.yaml")
    # was "W1[1,1]' = W1[1,1]' − η · …": the same symbol on both sides
    assert "W1[1,1]'@2 = W1[1,1]' − η · ∂loss/∂W1[1,1] = 0.7625 − 0.05 × (−18.4) = 1.6825" in text
    assert "W1[1,1]'@3 = W1[1,1]'@2 − η · ∂loss/∂W1[1,1]" in text
    assert not re.search(r"(\S+') = \1 −", text)


def test_the_mazur_theme_marks_each_update():
    text = _text("mazur_adam.yaml", fmt="tex")
    assert r"w_{5}^{++} &= w_{5}^{+} - " in text  # was w_{5}^{+} &= w_{5}^{+} - …
    assert r"w_{5}^{+++} &= w_{5}^{++} - " in text
    assert not re.search(r"(w_\{\d+\}\^\{\++\}) &= \1 -", text)


def test_the_bracket_and_primed_themes_mark_each_update():
    solution = tracer.solve(load(EXAMPLES / "optimizer_adam.yaml"))
    bracket = render(solution, "tex", notation="bracket")
    assert r"w_{1,1,\text{new}}^{[1],(2)} &= w_{1,1,\text{new}}^{[1]} - " in bracket
    delta = render(solution, "tex", notation="delta")
    assert re.search(r"w''_\{\w+\}\^\{\(\w\)\} &= w'_\{\w+\}\^\{\(\w\)\} - ", delta) or re.search(r"\{w''\}_\{\w+\}\^\{\(\w\)\} &= \{w'\}_\{\w+\}\^\{\(\w\)\} - ", delta)


# ---------------------------------------------------------------------------
# Item 6: a mini-batch's samples keep their numbers
# ---------------------------------------------------------------------------


def test_a_mini_batch_step_numbers_its_samples_as_the_table_does():
    text = _text("batch_modes.yaml")
    step2 = text.split("Training step 2")[1].split("Training step 3")[0]
    # update 2 is on samples 3 and 4 (was: "sample 1" and "#1" for the table's sample 3)
    assert "Forward pass (sample 3)" in step2 and "Forward pass (sample 4)" in step2
    assert "z1[1]#3 = W1[1,1]' · x[1]#3 + b1[1]' = 0.7625 × 3 + 0.1625 = 2.45" in step2
    assert "#1" not in step2
    solution = tracer.solve(load(EXAMPLES / "batch_modes.yaml"))
    assert solution.value("z1[1]#3@2") == pytest.approx(2.45, abs=1e-12)
    assert [record["sample"] for record in solution.steps[1].forward] == [3, 4]


# ---------------------------------------------------------------------------
# Item 7: η for the learning rate wherever λ is the penalty's
# ---------------------------------------------------------------------------


def test_the_bracket_theme_writes_eta_when_lambda_is_the_penalty():
    text = render(tracer.solve(load(EXAMPLES / "regularization_l2.yaml")), "tex", notation="bracket")
    assert r"\lambda_{L2}" in text
    assert r"- \lambda \cdot" not in text  # was the rate too
    assert r"- \eta \cdot" in text
    plain = tracer.solve(load(EXAMPLES / "optimizer_adam.yaml"))
    assert r"\lambda \cdot \hat{m}" in render(plain, "tex", notation="bracket")  # no penalty: the source's λ


# ---------------------------------------------------------------------------
# Item 8: a "<" in prose is not "¡" in the PDF
# ---------------------------------------------------------------------------


def test_the_perceptron_explanation_is_escaped_for_latex():
    tex = _text("perceptron_and.yaml", fmt="tex")
    line = next(line for line in tex.splitlines() if "flat on both sides" in line)
    assert r"0 for z \textless{} 0" in line and " < " not in line


# ---------------------------------------------------------------------------
# Item 11: an expression beginning with "-" is the expression
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("expression, derivative", [("-sigmoid(a)", "df/da = −e^(−a)/(1 + e^(−a))^2"), ("-log(a)", "df/da = −1/a")])
def test_an_expression_beginning_with_minus_is_read_as_the_expression(tmp_path, expression, derivative):
    before = set(os.listdir(tmp_path))
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path) as here:
        result = runner.invoke(cli, ["diff", expression], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert os.listdir(here) == []  # was: a file "id(a)" (-s -i -g -m -o "id(a)") or "g(a)"
    assert derivative in result.stdout
    assert set(os.listdir(tmp_path)) - before == {Path(here).name}


def test_options_around_a_negative_expression_still_apply():
    runner = CliRunner()
    result = runner.invoke(cli, ["diff", "--at", "a=2", "-log(a)", "-f", "text"], catch_exceptions=False)
    assert result.exit_code == 0 and "at a = 2: df/da = −0.5" in result.stdout
    result = runner.invoke(cli, ["descend", "-x^2 + x^4", "--start", "x=1", "--lr", "0.1", "--steps", "1"], catch_exceptions=False)
    assert result.exit_code == 0 and "x = 0.8" in result.stdout


# ---------------------------------------------------------------------------
# Items 12, 13: a quiz's numbers to the sheet's digits; its matrices printed
# ---------------------------------------------------------------------------


def test_quiz_options_keep_their_trailing_zeros(tmp_path):
    result = CliRunner().invoke(cli, ["quiz", str(EXAMPLES / "mazur.yaml"), "--count", "3", "--seed", "2", "-o", str(tmp_path / "q"),
                                      "--formats", "md"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    sheet = (tmp_path / "q" / "questions.md").read_text()
    options = re.findall(r"\([a-d]\) (-?[\d.]+(?:e[-+]\d+)?)", sheet)
    assert options
    for option in options:  # "to 4 significant digits": every option has four (0.2000, −0.02320, 0.1970)
        digits = option.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
        assert len(digits) == 4, option
    assert "-0.02320" in sheet and "0.1970" in sheet  # were -0.0232 and 0.197 beside 0.2023


def test_a_quiz_sheet_prints_a_weight_matrix(tmp_path):
    mapping_text = (EXAMPLES / "relu_softmax_3class.yaml").read_text() + (
        "randomize:\n  weights: uniform(-1, 1, step=0.05)\n  ask: [\"dloss/dW2[1,1]\", \"loss\"]\n  digits: 4\n  options: 4\n")
    path = tmp_path / "softmax.yaml"
    path.write_text(mapping_text)
    result = CliRunner().invoke(cli, ["quiz", str(path), "--count", "1", "--seed", "1", "-o", str(tmp_path / "q"), "--formats", "md,tex,html"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output  # html: was AttributeError ('builtin_function_or_method' … 'replace')
    for name in ("questions.md", "questions.tex", "questions.html"):
        text = (tmp_path / "q" / name).read_text()
        assert "built-in method" not in text, name
    sheet = (tmp_path / "q" / "questions.md").read_text()
    assert re.search(r"W\^\{\[2\]\} = \\begin\{pmatrix\}.*\\end\{pmatrix\} = \\begin\{pmatrix\}-?[\d.]+ & ", sheet)


# ---------------------------------------------------------------------------
# Item 14: the documentation's numbers are the tool's, and a message keeps its hint
# ---------------------------------------------------------------------------

ROOT = EXAMPLES.parent


def test_the_examples_page_gives_mazur_adams_w5_as_the_tool_does():
    value = tracer.solve(load(EXAMPLES / "mazur_adam.yaml")).value("W2[1,1]'@1")
    assert f"{value:.9f}"[:13] == "-0.099999939"  # −0.0999999391 (the page said −0.0999999939)
    readme = (EXAMPLES / "README.md").read_text()
    assert "w5 0.4 → −0.0999999391" in readme and "0999999939" not in readme


def test_the_docs_show_no_developers_path():
    for page in [ROOT / "README.md", EXAMPLES / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text()
        assert not re.search(r"/(work|home|Users|root)/\w", text), page.name


def test_the_examples_page_lists_as_errata_only_what_check_marks_wrong():
    result = CliRunner().invoke(cli, ["check", str(EXAMPLES / "zhu_example2.yaml"), str(EXAMPLES / "errata" / "zhu_example2.yaml")])
    wrong = {line.split()[1] for line in result.stdout.splitlines() if line.strip().startswith("WRONG")}
    assert wrong == {"dloss#2/dW1[1,1]", "W1[1,1]'"}
    row = next(line for line in (EXAMPLES / "README.md").read_text().splitlines() if line.startswith("| `zhu_example2.yaml`"))
    errata, _, rounding = row.partition("Not errata")
    assert "−3.555 → −3.560" in errata and "3.953 → 3.453" in errata
    assert "−3.309" not in errata and "−3.309" in rounding  # check accepts it: the text's rounding of h


def test_a_long_path_does_not_cut_the_message_before_its_hint(tmp_path):
    folder = tmp_path.joinpath(*["a_rather_long_folder_name_for_testing"] * 6)
    folder.mkdir(parents=True)
    path = folder / "hw3.yaml"
    path.write_text("network:\n  inputs: 2\n  layers:\n    - units: 2\n      activation: sigmoid\n      weights: [[0.1, 0.2, 0.3]]\n"
                    "loss: {kind: mse}\ndata: [{x: [1, 2], y: [1, 2]}]\ntraining: {learning_rate: 0.1}\n")
    result = CliRunner().invoke(cli, ["solve", str(path)])
    message = result.stderr.strip() if result.stderr_bytes is not None else result.output.strip()
    assert result.exit_code == 2
    assert len(message) < 300 and "\n" not in message
    assert message.endswith("network.layers[0].weights: 2 rows expected (units), got 1")  # was cut: "… 2 r..."
    assert "…/hw3.yaml" in message
