"""tracer quiz: the randomize: grammar, fair variants, reproducibility, the mistakes
behind the wrong options (each made for real), the documents and the command."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import random
import re
from pathlib import Path

import pytest

from lms_readers import read_canvas, read_moodle
from click.testing import CliRunner

from conftest import K, needs
from tracer import keys, load, solve
from tracer.cli import cli
from tracer.numbers import fmt
from tracer.teach.mistakes import MistakenSolutions
from tracer.teach.quiz import RATE, apply, build_variant, generate, parse_grid, parse_spec, slots_of, tolerance
from tracer.teach.replay import Inputs, evaluate, replay
from tracer.teach.rounding import MODES, round_to, rounded_world
from tracer.spec import SpecError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MAZUR = EXAMPLES / "mazur.yaml"


def with_randomize(name: str, block: dict):
    return dataclasses.replace(load(EXAMPLES / f"{name}.yaml"), randomize=block)


# -- the grid grammar (parsed, never evaluated) ------------------------------------------


def test_uniform_grid_has_exact_decimal_points():
    grid = parse_grid("uniform(-1, 1, step=0.05)", "f.yaml", "randomize.weights")
    assert len(grid.values) == 41
    assert grid.values[0] == -1.0 and grid.values[-1] == 1.0
    assert 0.3 in grid.values and 0.30000000000000004 not in grid.values


def test_list_and_single_number_grids():
    assert parse_grid([0.1, 0.5, 1], "f", "w").values == (0.1, 0.5, 1.0)
    assert parse_grid(0.25, "f", "w").values == (0.25,)


@pytest.mark.parametrize(
    "text",
    [
        "uniform(1, -1, step=0.1)",
        "uniform(0, 1, step=0.3)",
        "uniform(0, 1, step=0)",
        "__import__('os').system('true')",
        "uniform(0, 1, step=0.1); rm",
        "normal(0, 1)",
    ],
)
def test_bad_grids_are_refused_naming_the_field(text):
    with pytest.raises(SpecError) as err:
        parse_grid(text, "f.yaml", "randomize.weights")
    assert str(err.value).startswith("f.yaml: randomize.weights: ")


@pytest.mark.parametrize(
    "block, field",
    [
        ({"weights": "uniform(0, 1, step=0.1)", "ask": ["nope"]}, "randomize.ask[0]"),
        ({"weights": "uniform(0, 1, step=0.1)", "digits": 1}, "randomize.digits"),
        ({"weights": "uniform(0, 1, step=0.1)", "guards": {"kinky": 1}}, "randomize.guards.kinky"),
        ({"wieghts": "uniform(0, 1, step=0.1)"}, "randomize.wieghts"),
        ({"W9": "uniform(0, 1, step=0.1)"}, "randomize.W9"),
        ({"ask": ["loss"]}, "randomize"),
        ({"x[3]": [0.1, 0.2]}, "randomize.x[3]"),
        ({"y[1]#2": [0.1, 0.2]}, "randomize.y[1]#2"),
        ({"weights": "uniform(0, 1, step=0.1)", "guards": {"kink": -1}}, "randomize.guards.kink"),
    ],
)
def test_bad_randomize_blocks_name_the_field(block, field):
    with pytest.raises(SpecError) as err:
        parse_spec(with_randomize("mazur", block))
    assert f": {field}: " in str(err.value)


def test_a_layers_parameters_are_named_as_a_block_a_recurrent_layers_u_too():
    # keys.parse_block reads the family: U1 (4 recurrent weights of rnn_many_to_one) varies as W2 does
    problem = with_randomize("rnn_many_to_one", {"U1": [0.1, 0.2], "U1[2,1]": [0.3], "ask": ["loss"]})
    spec = parse_spec(problem)
    assert slots_of(problem, "U1") == [keys.Quantity("U", 1, (j, k)) for j in (1, 2) for k in (1, 2)]
    variant = build_variant(problem, spec, seed=1, number=1, attempt=0)
    assert variant.values[keys.Quantity("U", 1, (2, 1))] == 0.3 and variant.values[keys.Quantity("U", 1, (1, 2))] in (0.1, 0.2)
    with pytest.raises(SpecError, match=r": randomize.U2: no such parameter or layer"):
        parse_spec(with_randomize("rnn_many_to_one", {"U2": [0.1], "ask": ["loss"]}))


def test_the_problem_file_carries_the_block():
    spec = parse_spec(load(MAZUR))
    assert spec.ask == ("dloss/dW2[1,1]", "dloss/dW1[1,1]", "W2[1,1]'", "loss_after")
    assert spec.digits == 4


# -- variants -------------------------------------------------------------------------------


def test_a_variant_is_the_engine_solution_of_the_drawn_problem():
    problem = load(MAZUR)
    spec = parse_spec(problem)
    variant = build_variant(problem, spec, seed=1, number=1, attempt=0)
    again = solve(apply(problem, variant.values))
    for q in variant.questions:
        assert q.value == again.value(q.name)
        assert q.answer == fmt(q.value, spec.digits).replace("−", "-")
    assert set(variant.values) >= {K("W1[1,1]"), K("W2[2,2]"), K("x[1]#1"), RATE}  # every slot a key: the rate is η
    assert variant.problem.parameters()[K("b1")] == 0.35  # biases do not vary in this block


def test_thirty_variants_are_distinct_fair_and_reproducible():
    problem = load(MAZUR)
    first = generate(problem, 30, seed=1, jobs=1)  # timed in benchmarks/quiz.py, not here
    second = generate(problem, 30, seed=1, jobs=1)
    assert [v.values for v in first] == [v.values for v in second]
    assert [q.answer for v in first for q in v.questions] == [q.answer for v in second for q in v.questions]
    assert len({v.key() for v in first}) == 30
    for v in first:
        sol = v.solution
        assert sol.loss_after < sol.steps[0].loss
        for sample in sol.steps[0].forward:
            for layer in sample["layers"]:
                assert all(a * (1 - a) >= 0.01 for a in layer["a"])  # no saturated sigmoid
    other = generate(problem, 3, seed=2, jobs=1)
    assert [v.values for v in other] != [v.values for v in first[:3]]


def test_parallel_generation_gives_the_same_set():
    problem = load(MAZUR)
    serial = generate(problem, 10, seed=7, jobs=1)
    parallel = generate(problem, 10, seed=7, jobs=2)
    assert [v.values for v in serial] == [v.values for v in parallel]


def test_relu_kink_guard():
    problem = load(EXAMPLES / "zhu_quiz1_2.yaml")
    for v in generate(problem, 15, seed=3, jobs=1):
        z = v.solution.steps[0].forward[0]["layers"][0]["z"][0]
        assert abs(z) >= 0.1


def test_distinctness_with_a_tiny_grid():
    # two weights with two values each: 4 problems; asking for 4 variants must give all 4
    block = {"W2[1,1]": [0.4, 0.5], "W2[1,2]": [0.45, 0.55], "ask": ["loss_after"], "guards": {"loss_decreases": True}}
    variants = generate(with_randomize("mazur", block), 4, seed=1, jobs=1)
    assert sorted(tuple(sorted(v.values.items())) for v in variants) == sorted(
        tuple(sorted({K("W2[1,1]"): a, K("W2[1,2]"): b}.items())) for a in (0.4, 0.5) for b in (0.45, 0.55)
    )


def test_no_fair_variant_is_bad_input():
    block = {"weights": [0.0], "ask": ["dloss/dW1[1,1]"], "attempts": 5}  # every gradient 0 for W1 through zero W2
    problem = with_randomize("mazur", block)
    with pytest.raises(SpecError, match=r"randomize: no fair variant in 5 draws"):
        generate(problem, 1, seed=1, jobs=1)


@pytest.mark.parametrize("value, digits, expected", [(0.08242360153, 4, "0.000005"), (0.4675763, 4, "0.00005"), (-1.744712818, 3, "0.005"), (123.456, 4, "0.05"), (3.51e-05, 3, "0.00000005")])
def test_tolerance_is_half_a_unit_of_the_last_digit_asked(value, digits, expected):
    assert tolerance(value, digits) == expected


# -- mistakes: each made for real ---------------------------------------------------------------


@pytest.fixture(scope="module")
def mazur_mistakes():
    sol = solve(load(MAZUR))
    return sol, MistakenSolutions(sol)


def by_key(mistaken, name):
    return {w.mistake.key: w.value for w in mistaken.wrong_values(name)}


def test_dropping_the_activation_derivative(mazur_mistakes):
    sol, m = mazur_mistakes
    # dE/dw5 without dout_o1/dnet_o1: 0.74136507 * 0.593269992
    assert by_key(m, "dloss/dW2[1,1]")["no_activation_derivative"] == pytest.approx(
        sol.value("dloss/da2[1]") * sol.value("a1[1]"), rel=1e-12
    )


def test_forgetting_one_path_of_a_hidden_unit(mazur_mistakes):
    sol, m = mazur_mistakes
    # dE_total/dout_h1 with only the path through o1: 0.138498562 * 0.40; then * out_h1(1-out_h1) * i1
    only_o1 = sol.value("dloss/dz2[1]") * sol.value("W2[1,1]")
    assert by_key(m, "dloss/dW1[1,1]")["forgot_path"] == pytest.approx(only_o1 * sol.value("da1[1]/dz1[1]") * 0.05, rel=1e-12)
    assert "forgot_path" not in by_key(m, "dloss/dW2[1,1]")  # an output weight has one path


def test_adding_the_gradient(mazur_mistakes):
    sol, m = mazur_mistakes
    assert by_key(m, "W2[1,1]'")["added_gradient"] == pytest.approx(0.4 + 0.5 * 0.082167041, abs=1e-9)
    assert "added_gradient" not in by_key(m, "dloss/dW2[1,1]")
    assert by_key(m, "loss_after")["added_gradient"] > sol.value("loss")  # ascent: the loss grows


def test_pre_activation_for_activation(mazur_mistakes):
    sol, m = mazur_mistakes
    z_o1, z_h1 = sol.value("z2[1]"), sol.value("z1[1]")
    # dE/dw5 = dE/dout_o1 * net_o1 (1 - net_o1) * net_h1
    assert by_key(m, "dloss/dW2[1,1]")["pre_activation"] == pytest.approx(sol.value("dloss/da2[1]") * z_o1 * (1 - z_o1) * z_h1, rel=1e-12)


def test_wrong_log_base_is_a_real_resolve():
    sol = solve(load(EXAMPLES / "relu_softmax_3class.yaml"))
    m = MistakenSolutions(sol)
    wrong = by_key(m, "loss#1")["wrong_log_base"]
    assert wrong == pytest.approx(-math.log10(sol.value("a2[1]#1")), rel=1e-12)
    assert "wrong_log_base" not in by_key(MistakenSolutions(solve(load(MAZUR))), "loss")  # mse has no logarithm


def test_every_wrong_option_is_labelled_and_differs_from_the_answer():
    problem = load(MAZUR)
    for v in generate(problem, 5, seed=1, jobs=1):
        for q in v.questions:
            if not q.options:
                continue
            texts = [o.text for o in q.options]
            assert len(set(texts)) == len(texts)
            assert [o.mistake for o in q.options].count(None) == 1
            assert q.options[q.correct].text == q.answer
            for o in q.options:
                if o.mistake:
                    assert o.explanation and o.value != q.value


# -- the command ------------------------------------------------------------------------------


def test_cli_quiz_writes_every_file_reproducibly(tmp_path):
    runner = CliRunner()
    out1, out2 = tmp_path / "a", tmp_path / "b"
    r1 = runner.invoke(cli, ["quiz", str(MAZUR), "--count", "4", "--seed", "5", "-o", str(out1), "--jobs", "1"])
    assert r1.exit_code == 0, r1.output
    runner.invoke(cli, ["quiz", str(MAZUR), "--count", "4", "--seed", "5", "-o", str(out2), "--jobs", "1"])
    names = ["questions.md", "key.md", "questions.tex", "key.tex", "answers.csv", "moodle.xml"]
    for name in names:
        assert (out1 / name).read_text() == (out2 / name).read_text(), name
    sheet = (out1 / "questions.md").read_text()
    assert "seed" not in sheet and "mazur.yaml" not in sheet  # the students' sheet (the key names them)
    assert "seed 5" in (out1 / "key.md").read_text()
    assert sheet.count("## Variant") == 4
    key = (out1 / "key.md").read_text()
    assert "drops the activation's derivative factor" in key
    assert "seed 5" in (out1 / "key.tex").read_text() and "seed 5" not in (out1 / "questions.tex").read_text()
    rows = list(csv.DictReader(io.StringIO((out1 / "answers.csv").read_text())))
    assert len(rows) == 16
    problem = load(MAZUR)
    variants = generate(problem, 4, seed=5, jobs=1)
    for row in rows:
        v = variants[int(row["variant"]) - 1]
        truth = v.solution.value(row["quantity"])
        assert float(row["value"]) == truth
        assert abs(float(row["answer"]) - truth) <= float(row["tolerance"])


@pytest.mark.parametrize("example", ["mazur.yaml", "graph_ng.yaml"])
def test_nothing_a_student_sees_names_the_file_or_the_seed(tmp_path, example):
    """A student given the sheet (md, tex, html) or the LMS questions could regenerate the key
    from a shipped example with its seed: on main each sheet and every Moodle/Canvas question
    said "variant 1 (file /abs/path/mazur.yaml, seed 1)" and questions.html printed the command.
    The key, the answers-only key and answers.csv (the teacher's) keep file, seed and command."""
    source = tmp_path / "secret-course" / "hw3-private.yaml"
    source.parent.mkdir()
    source.write_text((EXAMPLES / example).read_text())
    out = tmp_path / "q"
    result = CliRunner().invoke(cli, ["quiz", str(source), "--count", "2", "--seed", "4711", "-o", str(out), "--jobs", "1",
                                      "--formats", "md,tex,html,csv,moodle,qti,key-answers"])
    assert result.exit_code == 0, result.output
    secrets = ("hw3-private", "secret-course", "4711", "seed", "--count")
    student = {name: (out / name).read_text() for name in ("questions.md", "questions.tex", "questions.html")}
    for question in read_moodle((out / "moodle.xml").read_bytes()):
        student[f"moodle {question.name}"] = question.text + "".join(a["text"] + a["feedback"] for a in question.answers)
    canvas = read_canvas((out / "canvas.zip").read_bytes())
    student["canvas settings"] = canvas.settings["title"] + canvas.settings["description"]
    for group in canvas.groups:
        for question in group.questions:
            student[f"canvas {question.title}"] = question.text + "".join(html for _, html in question.choices)
    for name, text in student.items():
        assert not [s for s in secrets if s in text.lower()], name
    for teacher in ("key.md", "key.tex", "key.html", "key-answers.md", "answers.csv"):
        text = (out / teacher).read_text()
        assert "hw3-private.yaml" in text and "4711" in text, teacher


def test_cli_quiz_text_from_the_file_is_escaped(tmp_path):
    raw = MAZUR.read_text().replace("title: A step-by-step backpropagation example (Mazur)", "title: 'Evil \\input{/etc/passwd} $x$ 100% & <b>'")
    evil = tmp_path / "evil.yaml"
    evil.write_text(raw)
    result = CliRunner().invoke(cli, ["quiz", str(evil), "--count", "1", "-o", str(tmp_path / "q"), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    tex = (tmp_path / "q" / "questions.tex").read_text()
    assert r"\input{/etc/passwd}" not in tex
    assert r"Evil \textbackslash{}input\{/etc/passwd\} \$x\$ 100\% \& \textless{}b\textgreater{}" in tex  # < > in OT1 text would print ¡ ¿
    assert r"\input{/etc/passwd}" not in (tmp_path / "q" / "key.tex").read_text()
    assert "100\\%" in tex
    xml = (tmp_path / "q" / "moodle.xml").read_text()
    text = next(q.text for q in read_moodle(xml.encode("utf-8")) if q.qtype == "multichoice")
    assert "100% &amp; &lt;b&gt;</b>" in text  # the title html-escaped inside the question's HTML (a CDATA section)


def test_cli_quiz_bad_input_exit_2(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["quiz", str(EXAMPLES / "xor.yaml"), "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "randomize: required for tracer quiz" in result.output
    result = runner.invoke(cli, ["quiz", str(MAZUR), "-o", str(tmp_path), "--formats", "md,docx"])
    assert result.exit_code == 2 and "--formats" in result.output


@pytest.mark.latex
@needs("latexmk")
def test_cli_quiz_pdf(tmp_path):
    result = CliRunner().invoke(cli, ["quiz", str(MAZUR), "--count", "2", "-o", str(tmp_path), "--formats", "pdf", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "questions.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "key.pdf").read_bytes().startswith(b"%PDF")


# -- tolerances: the rounding of a hand calculation, propagated through the steps ------------


def simulated_student(solution, rng: random.Random, digits: int = 4):
    """A student who carries every intermediate to ``digits`` (sometimes one more), rounding
    half-up, half-even or truncating at each step as it comes, and rounds the answer."""
    modes = list(MODES)

    def answer_of(step, values):
        return round_to(evaluate(step, Inputs(values)), digits)

    values = replay(solution, patch=lambda step, inputs: round_to(evaluate(step, inputs), rng.choice([digits, digits, digits + 1]), rng.choice(modes)))
    return answer_of, values


@pytest.fixture(scope="module")
def mazur_set():
    return generate(load(MAZUR), 40, seed=11, jobs=1)


def test_every_hand_worked_answer_is_accepted_and_the_old_tolerance_was_not_enough(mazur_set):
    rng = random.Random(3)
    accepted = accepted_before = total = 0
    for v in mazur_set:
        for _ in range(6):
            answer_of, values = simulated_student(v.solution, rng)
            for q in v.questions:
                step = v.solution.step(q.name)
                answer = answer_of(step, values)
                total += 1
                accepted += abs(answer - q.value) <= float(q.tolerance)
                accepted_before += abs(answer - q.value) <= float(tolerance(q.value, 4))
    assert total == 40 * 6 * 4
    assert accepted == total
    assert accepted_before < 0.7 * total  # half a unit of the 4th digit: about half rejected


def test_the_tolerance_is_the_propagated_rounding(mazur_set):
    for v in mazur_set:
        for q in v.questions:
            a = q.allowance
            assert a.final == 2 * float(tolerance(q.value, 4))  # a whole unit: the answer rounded or truncated
            assert a.tolerance >= max(a.spread, a.bound) + a.final
            assert a.tolerance <= 1.1 * (max(a.spread, a.bound) + a.final)  # two digits, rounded up
            for mode in MODES:  # every intermediate rounded one way: inside the spread
                rounded = rounded_world(v.solution, 4, mode)
                assert abs(evaluate(v.solution.step(q.name), Inputs(rounded)) - q.value) <= a.spread + 1e-15


def test_real_mistakes_fall_outside_the_tolerance(mazur_set):
    for v in mazur_set:
        mistaken = MistakenSolutions(v.solution)
        for q in v.questions:
            for option in q.options:  # every wrong option on the sheet is beyond rounding
                if option.mistake:
                    assert abs(option.value - q.value) > float(q.tolerance)
        wrong = {q.name: by_key(mistaken, q.name) for q in v.questions}
        dW2, update = (next(q for q in v.questions if q.name == n) for n in ("dloss/dW2[1,1]", "W2[1,1]'"))
        assert abs(wrong["dloss/dW2[1,1]"]["no_activation_derivative"] - dW2.value) > float(dW2.tolerance)
        assert abs(wrong["W2[1,1]'"]["added_gradient"] - update.value) > float(update.tolerance)


def test_mazur_tolerances_of_variant_one():
    v = build_variant(load(MAZUR), parse_spec(load(MAZUR)), seed=1, number=1, attempt=0)
    assert [(q.answer, q.tolerance) for q in v.questions] == [
        ("0.08242", "0.00013"), ("0.002306", "0.000011"), ("0.4676", "0.00023"), ("0.1968", "0.00039")]
    assert round_to(0.08244, 4, "truncated") == 0.08244 and round_to(-0.023365, 4, "truncated") == -0.02336
    assert round_to(0.12345, 4, "half-up") == 0.1235 and round_to(0.12345, 4, "half-even") == 0.1234


def test_graph_quiz_tolerances_accept_rounded_answers():
    for v in generate(load(EXAMPLES / "graph_ng.yaml"), 10, seed=2, jobs=1):
        for q in v.questions:
            assert abs(float(q.answer) - q.value) <= float(q.tolerance)


# -- open answers, sheets, the answers-only key ----------------------------------------------


def test_options_zero_asks_open_questions(tmp_path):
    problem = with_randomize("mazur", {**load(MAZUR).randomize, "options": 0})
    assert parse_spec(problem).options == 0
    variants = generate(problem, 2, seed=1, jobs=1)
    assert all(q.options == [] and q.kind == "numerical" for v in variants for q in v.questions)
    with pytest.raises(SpecError, match="randomize.options"):
        parse_spec(with_randomize("mazur", {**load(MAZUR).randomize, "options": 1}))
    raw = MAZUR.read_text().replace("  options: 4", "  options: 0")
    (tmp_path / "open.yaml").write_text(raw)
    result = CliRunner().invoke(cli, ["quiz", str(tmp_path / "open.yaml"), "--count", "2", "-o", str(tmp_path / "q"), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    sheet = (tmp_path / "q" / "questions.md").read_text()
    for q in variants[0].questions:
        assert f"(`{q.name}`) = ?  (±{q.tolerance})" in sheet
    assert "(a)" not in sheet
    rows = list(csv.DictReader(io.StringIO((tmp_path / "q" / "answers.csv").read_text())))
    assert {r["kind"] for r in rows} == {"numerical"} and {r["choice"] for r in rows} == {""}


def test_sheet_has_the_diagram_one_variant_per_page_and_what_to_carry(tmp_path):
    result = CliRunner().invoke(cli, ["quiz", str(MAZUR), "--count", "3", "--seed", "1", "-o", str(tmp_path), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    tex = (tmp_path / "questions.tex").read_text()
    assert tex.count(r"\clearpage") == 2 and tex.count(r"\subsection*{Variant") == 3
    assert tex.count(r"\begin{tikzpicture}") == 3 and tex.count(r"\begin{minipage}") == 3
    v1 = tex.split(r"\subsection*{Variant 1}")[1].split(r"\clearpage")[0]
    assert r"$w_{5} = 0.55$" in v1  # the drawn weight on its edge, as the worked solution draws it
    assert "carrying every intermediate to at least 4" in tex
    md = (tmp_path / "questions.md").read_text()
    assert "mermaid" not in md and [f"network-{n}.svg" for n in (1, 2, 3)] == re.findall(r"!\[The network of variant \d\]\((network-\d\.svg)\)", md)
    figure = (tmp_path / "network-1.svg").read_text()
    assert figure.startswith("<?xml") and "<svg" in figure and "<mi>w</mi>" in figure and "<mn>0.55</mn>" in figure  # w_5 = 0.55 on its edge
    assert "pagetitle:" not in (tmp_path / "key.md").read_text()  # a worked solution inside the key has no front matter of its own
    answers = (tmp_path / "key-answers.md").read_text()
    rows = [line.split(" | ") for line in answers.splitlines() if line.startswith("| 1 |") or line.startswith("| 2 |")]
    assert rows[0] == ["| 1", "1", "`dloss/dW2[1,1]`", "0.08242", "±0.00013", "d |"]
    assert len(rows) == 8 and "Worked solution" not in answers
    assert r"\pm 0.000011" in (tmp_path / "key-answers.tex").read_text()


def test_a_wide_layer_is_shown_as_a_matrix():
    from tracer.render.quiz import parameter_blocks
    from tracer.render.document import printer_for
    problem = load(EXAMPLES / "relu_softmax_3class.yaml")
    matrices, rows = parameter_blocks(problem, printer_for(problem, "latex", None, 9))
    wide = [l for l, layer in enumerate(problem.layers, 1) if layer.units * layer.inputs > 4]
    assert [m["name"] for m in matrices] == [rf"W^{{[{l}]}}" for l in wide] and wide
    layer = problem.layers[wide[0] - 1]
    assert matrices[0]["numbers"].count(r" \\ ") == layer.units - 1 and matrices[0]["numbers"].startswith(r"\begin{pmatrix}")
    assert not any(r["name"].startswith("W") and f"{wide[0]}" in r["name"] for r in rows if r["name"].startswith("W^"))
    assert len(rows) == len(problem.parameter_keys) - sum(problem.layers[l - 1].units * problem.layers[l - 1].inputs for l in wide)


def test_html_sheet_and_key(tmp_path):
    """--formats html: questions.html (each variant's network inline, its arrowhead's id its own) and key.html
    (each variant's worked solution with its ids prefixed v<N>-, its links to them); tests/test_html.py opens them."""
    result = CliRunner().invoke(cli, ["quiz", str(MAZUR), "--count", "2", "--seed", "1", "-o", str(tmp_path), "--formats", "html", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.html", "questions.html"]
    sheet = (tmp_path / "questions.html").read_text()
    assert sheet.startswith("<!DOCTYPE html>") and sheet.count('<svg xmlns="http://www.w3.org/2000/svg" class="network"') == 2
    assert 'id="v1network-arrow"' in sheet and 'id="v2network-arrow"' in sheet and "(<code>dloss/dW2[1,1]</code>) = ?" in sheet
    key = (tmp_path / "key.html").read_text()
    ids, hrefs = re.findall(r'id="([^"]+)"', key), re.findall(r'href="#([^"]+)"', key)
    assert "v1-eq-1" in ids and "v2-eq-68" in ids and "eq-1" not in ids and len(ids) == len(set(ids)) and set(hrefs) <= set(ids)
    assert "Worked solution of variant 2" in key and "— <strong>right</strong>" in key and "$" not in key.split("<body>")[1]
