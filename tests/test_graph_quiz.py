"""tracer quiz on graph problems (SPEC.md §7): the leaves vary, unfair draws are drawn again,
and the wrong options are the gates' mistakes, each made for real (Ng's J = 3(a + bc):
dJ/db = 3c = 6 at a = 5, b = 3, c = 2; with the multiply gate not swapped it is 3b = 9)."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import needs

from tracer import load, solve
from tracer.cli import cli
from tracer.spec import SpecError, loads
from tracer.teach.mistakes import MistakenSolutions
from tracer.keys import node
from tracer.teach.quiz import RATE, apply, build_variant, generate, parse_spec
from tracer.teach.replay import replay

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NG = EXAMPLES / "graph_ng.yaml"


def graph(text: str, randomize: dict | None = None):
    problem = loads(text, "g.yaml")
    return problem if randomize is None else dataclasses.replace(problem, randomize=randomize)


SUBTRACTION = """
graph:
  equations:
    - d = x - y
    - f = d * z
  values: {x: 4, y: 1, z: 2}
  output: f
training: {parameters: [x, y], learning_rate: 0.1, steps: 1}
"""


def by_key(mistaken: MistakenSolutions, name: str) -> dict[str, float]:
    return {w.mistake.key: w.value for w in mistaken.wrong_values(name)}


# -- the randomize: block of a graph ------------------------------------------------------------


def test_ng_block_varies_the_leaves_and_asks_its_gradients():
    spec = parse_spec(load(NG))
    assert [selector for selector, _ in spec.vary] == ["values", "a"]
    assert spec.vary[0][1].values == tuple(float(k) for k in range(-5, 6))
    assert spec.vary[1][1].values == tuple(float(k) for k in range(1, 10))
    assert spec.ask == ("J", "dJ/da", "dJ/db", "dJ/dc")
    assert spec.digits == 3


def test_ask_defaults_to_the_gradient_of_every_leaf():
    problem = dataclasses.replace(load(NG), randomize={"b": [1, 2, 4]})
    assert parse_spec(problem).ask == ("dJ/da", "dJ/db", "dJ/dc")


@pytest.mark.parametrize(
    "block, field, says",
    [
        ({"q": [1, 2]}, "randomize.q", "expected a leaf (a, b, c)"),
        ({"u": [1, 2]}, "randomize.u", "u is computed by its equation (u = b * c)"),
        ({"learning_rate": [0.1, 0.5]}, "randomize.learning_rate", "not trained"),
        ({"values": "uniform(0, 1, step=0.3)"}, "randomize.values", "whole number of steps"),
        ({"a": [1, 2], "ask": ["dJ/dq"]}, "randomize.ask[0]", "'q' is not a node"),
        ({"ask": ["dJ/da"]}, "randomize", "nothing varies"),
        ({"a": [1, 2], "guards": {"kinky": 1}}, "randomize.guards.kinky", "unknown key"),
    ],
)
def test_bad_graph_blocks_name_the_field(block, field, says):
    with pytest.raises(SpecError) as err:
        parse_spec(dataclasses.replace(load(NG), randomize=block))
    assert f": {field}: " in str(err.value) and says in str(err.value)


def test_the_learning_rate_varies_when_the_graph_is_trained():
    problem = graph(SUBTRACTION, {"x": [3, 5], "learning_rate": [0.25], "ask": ["x'", "df/dy"]})
    variant = build_variant(problem, parse_spec(problem), seed=1, number=1, attempt=0)
    x, y, z = variant.values[node("x")], 1.0, 2.0
    assert variant.values[RATE] == 0.25
    assert variant.problem.training.learning_rate == 0.25
    # f = (x − y) z: df/dx = z, so x' = x − 0.25 · 2; df/dy = −z
    assert [q.value for q in variant.questions] == [pytest.approx(x - 0.25 * z), -z]
    assert variant.loss == (x - y) * z


def test_a_leaf_named_eta_and_the_learning_rate_vary_apart():
    # f = (eta − y) z trained on its leaf eta: eta' = eta − η · z. The leaf's slot (node eta) and the
    # rate's (η, printed eta too) are two keys; as one, the rate's draw overwrote the leaf's
    text = ("graph: {equations: ['f = (eta - y) * z'], values: {eta: 3, y: 1, z: 2}, output: f}\n"
            "training: {parameters: [eta], learning_rate: 0.1, steps: 1}\n")
    problem = graph(text, {"eta": [3, 5], "learning_rate": [0.25, 0.5], "ask": ["eta'"]})
    for v in generate(problem, 2, seed=1, jobs=1):
        eta, rate = v.values[node("eta")], v.values[RATE]
        assert eta in (3, 5) and rate in (0.25, 0.5)
        assert v.problem.values[0] == ("eta", eta) and v.problem.training.learning_rate == rate
        assert v.questions[0].value == pytest.approx(eta - rate * 2)


def test_apply_takes_keys_not_names():
    with pytest.raises(TypeError, match="a slot is a key, not 'b'; parse names with tracer.keys.parse"):
        apply(load(NG), {"b": -4.0})


# -- variants: the drawn values solved, recomputed here by hand ---------------------------------


def test_a_variant_is_ngs_graph_at_its_drawn_values():
    problem = load(NG)
    spec = parse_spec(problem)
    for number in range(1, 6):
        v = build_variant(problem, spec, seed=1, number=number, attempt=0)
        a, b, c = v.values[node("a")], v.values[node("b")], v.values[node("c")]
        assert 1 <= a <= 9 and -5 <= b <= 5 and -5 <= c <= 5
        assert v.problem.values == (("a", a), ("b", b), ("c", c))
        values = {q.name: q.value for q in v.questions}
        assert values == {"J": 3 * (a + b * c), "dJ/da": 3, "dJ/db": 3 * c, "dJ/dc": 3 * b}
        assert v.loss == v.loss_after == 3 * (a + b * c)  # untrained: the output stays
        # the wrong options of dJ/db: 3b (not swapped), 3ac (add gate swapped), c (the 3 dropped)
        wrong = {o.mistake: o.value for q in v.questions if q.name == "dJ/db" for o in q.options if o.mistake}
        expected = {"multiply_not_swapped": 3 * b, "add_as_multiply": 3 * a * c, "dropped_constant_factor": c}
        assert wrong == {k: expected[k] for k in wrong}
        assert all(value != 3 * c for value in wrong.values())


def test_first_variant_of_seed_1():
    v = build_variant(load(NG), parse_spec(load(NG)), seed=1, number=1, attempt=0)
    assert v.values == {node("a"): 9.0, node("b"): 5.0, node("c"): -2.0}  # a leaf's slot is its node's key
    # to the sheet's 3 significant digits, every option as long as the others (issue 25, item 12)
    assert [(q.name, q.answer) for q in v.questions] == [("J", "-3.00"), ("dJ/da", "3.00"), ("dJ/db", "-6.00"), ("dJ/dc", "15.0")]
    dJ_db = v.questions[2]
    assert sorted(o.text for o in dJ_db.options) == sorted(["-6.00", "15.0", "-54.0", "-2.00"])
    assert dJ_db.options[dJ_db.correct].text == "-6.00"


def test_same_seed_same_set_other_seed_other_set():
    problem = load(NG)
    first, second = generate(problem, 6, seed=4, jobs=1), generate(problem, 6, seed=4, jobs=1)
    assert [v.values for v in first] == [v.values for v in second]
    assert [[o.text for q in v.questions for o in q.options] for v in first] == [[o.text for q in v.questions for o in q.options] for v in second]
    assert len({v.key() for v in first}) == 6
    assert [v.values for v in generate(problem, 6, seed=5, jobs=1)] != [v.values for v in first]


def test_parallel_generation_gives_the_same_graph_set():
    problem = load(NG)
    assert [v.values for v in generate(problem, 8, seed=2, jobs=1)] == [v.values for v in generate(problem, 8, seed=2, jobs=2)]


def test_apply_replaces_only_the_drawn_leaves():
    varied = apply(load(NG), {node("b"): -4.0})
    assert varied.values == (("a", 5.0), ("b", -4.0), ("c", 2.0))
    assert solve(varied).value("dJ/dc") == -12.0


# -- guards: unfair draws are drawn again -------------------------------------------------------


def test_division_by_zero_is_an_unfair_draw():
    problem = graph(
        "graph: {equations: ['f = x / y'], values: {x: 1, y: 1}, output: f}",
        {"x": [1, 2], "y": [-1, 0, 1], "ask": ["df/dx"]},
    )
    variants = generate(problem, 4, seed=1, jobs=1)
    assert sorted((v.values[node("x")], v.values[node("y")]) for v in variants) == [(1, -1), (1, 1), (2, -1), (2, 1)]
    for v in variants:
        assert v.questions[0].value == 1 / v.values[node("y")]


def test_log_of_zero_is_an_unfair_draw_and_all_unfair_is_bad_input():
    text = "graph: {equations: ['f = log(x)'], values: {x: 1}, output: f}"
    variants = generate(graph(text, {"x": [-1, 0, 2]}), 1, seed=1, jobs=1)
    assert variants[0].values == {node("x"): 2.0} and variants[0].questions[0].value == 0.5
    with pytest.raises(SpecError, match=r"randomize: no fair variant in 5 draws .*most often: not computable"):
        generate(graph(text, {"x": [0], "attempts": 5}), 1, seed=1, jobs=1)


def test_max_gate_kink_guard():
    problem = graph(
        "graph: {equations: ['m = max(x, y)', 'f = m * z'], values: {x: 1, y: 2, z: 3}, output: f}",
        {"values": "uniform(-1, 1, step=0.1)", "guards": {"kink": 0.25}, "ask": ["df/dz"]},
    )
    for v in generate(problem, 10, seed=1, jobs=1):
        assert abs(v.values[node("x")] - v.values[node("y")]) >= 0.25


def test_relu_gate_kink_guard():
    problem = graph(
        "graph: {equations: ['r = relu(x)', 'f = r * y'], values: {x: 1, y: 2}, output: f}",
        {"x": "uniform(-1, 1, step=0.05)", "y": [2, 3], "guards": {"kink": 0.3}, "ask": ["df/dy"]},
    )
    for v in generate(problem, 8, seed=2, jobs=1):
        assert abs(v.values[node("x")]) >= 0.3
        assert v.questions[0].value == max(v.values[node("x")], 0.0)


# -- the gates' mistakes, each made for real ---------------------------------------------------


def test_multiply_gate_not_swapped_on_ng():
    m = MistakenSolutions(solve(load(NG)))  # a = 5, b = 3, c = 2
    assert by_key(m, "dJ/db")["multiply_not_swapped"] == 9  # 3·b instead of 3·c = 6
    assert by_key(m, "dJ/dc")["multiply_not_swapped"] == 6  # 3·c instead of 3·b = 9
    assert "multiply_not_swapped" not in by_key(m, "dJ/da")  # a passes through the add gate only


def test_add_gate_swapped_and_constant_dropped_on_ng():
    m = MistakenSolutions(solve(load(NG)))
    assert by_key(m, "dJ/da") == {"add_as_multiply": 18, "dropped_constant_factor": 1}  # 3·u = 3·6; 1 instead of 3
    assert by_key(m, "dJ/db")["add_as_multiply"] == 30  # 3 · a · c: ∂v/∂u taken as a = 5
    assert by_key(m, "dJ/db")["dropped_constant_factor"] == 2  # c, without the 3


def test_forgotten_path_of_a_fan_out_node():
    sol = solve(load(EXAMPLES / "graph_fan_out.yaml"))  # f = xy + y², x = 2, y = 3
    m = MistakenSolutions(sol)
    assert sol.value("df/dy") == 8  # x + 2y
    assert by_key(m, "df/dy")["forgot_fan_out_path"] == 2  # only the path through p = xy: x
    assert "forgot_fan_out_path" not in by_key(m, "df/dx")  # x is used once


def test_lost_minus_sign_of_a_subtraction():
    sol = solve(graph(SUBTRACTION))  # f = (x − y) z at x = 4, y = 1, z = 2
    m = MistakenSolutions(sol)
    assert sol.value("df/dy") == -2
    assert by_key(m, "df/dy")["lost_minus_sign"] == 2  # ∂d/∂y taken as +1: z
    assert "lost_minus_sign" not in by_key(m, "df/dx")
    # and it travels on: y' = y − η · (+2) = 0.8 instead of 1.2; the update added instead: 0.8 too
    assert sol.value("y'") == pytest.approx(1.2)
    assert by_key(m, "y'")["lost_minus_sign"] == pytest.approx(0.8)
    assert by_key(m, "x'")["added_gradient"] == pytest.approx(4 + 0.1 * 2)


def test_mistakes_of_a_later_training_step_replay_the_earlier_ones():
    problem = dataclasses.replace(graph(SUBTRACTION), training=dataclasses.replace(graph(SUBTRACTION).training, steps=2))
    sol = solve(problem, derived_steps=2)
    m = MistakenSolutions(sol)
    # right: x' = 4 − 0.2 = 3.8, then 3.6 (df/dx = z = 2 both times)
    assert sol.value("x'") == pytest.approx(3.6)
    # not swapped: ∂f/∂d taken as d = 3, not z: x' = 4 − 0.1·3 = 3.7, y' = 1 + 0.1·3 = 1.3;
    # then d = 2.4: x'@2 = 3.7 − 0.1·2.4 = 3.46
    assert by_key(m, "x'@1")["multiply_not_swapped"] == pytest.approx(3.7)
    assert by_key(m, "x'")["multiply_not_swapped"] == pytest.approx(3.46)


def test_sigmoid_gate_derivative_dropped():
    sol = solve(load(EXAMPLES / "graph_logistic.yaml"))
    m = MistakenSolutions(sol)
    p, y, x1 = sol.value("p"), 1.0, 1.5
    # dL/dw1 = (p − y) x1; without σ′ = p(1 − p): dL/dp · x1 = −y/p · x1
    assert sol.value("dL/dw1") == pytest.approx((p - y) * x1, rel=1e-12)
    assert by_key(m, "dL/dw1")["no_activation_derivative"] == pytest.approx(-y / p * x1, rel=1e-12)


def test_a_mistake_that_leaves_the_domain_is_left_out():
    sol = solve(load(EXAMPLES / "graph_logistic.yaml"))
    p = sol.step("p").id
    with pytest.raises(ValueError):
        replay(sol, {p: 1.5})  # L = −(y ln p + (1 − y) ln(1 − p)): ln(−0.5)
    world = replay(sol, {p: 1.5}, undefined_as_nan=True)
    assert math.isnan(world[sol.step("L").id])
    assert world[sol.step("dL/dp").id] == pytest.approx(-1 / 1.5)  # −y/p: still a number
    block = {"values": "uniform(-3, 3, step=0.5)", "ask": ["dL/dw1", "w1'", "L@end"]}
    problem = dataclasses.replace(load(EXAMPLES / "graph_logistic.yaml"), randomize=block)
    for v in generate(problem, 6, seed=1, jobs=1):
        assert all(math.isfinite(o.value) for q in v.questions for o in q.options)


def test_every_wrong_option_differs_from_the_answer_at_the_digits_asked():
    for v in generate(load(NG), 12, seed=1, jobs=1):
        for q in v.questions:
            texts = [o.text for o in q.options]
            assert len(set(texts)) == len(texts)
            if q.options:
                assert [o.mistake for o in q.options].count(None) == 1
                assert q.options[q.correct].text == q.answer


# -- the command ------------------------------------------------------------------------------


def test_cli_graph_quiz_writes_every_file(tmp_path):
    result = CliRunner().invoke(cli, ["quiz", str(NG), "--count", "3", "-o", str(tmp_path), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    variants = generate(load(NG), 3, seed=1, jobs=1)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "answers.csv").read_text())))
    assert len(rows) == 12
    for row in rows:
        v = variants[int(row["variant"]) - 1]
        a, b, c = v.values[node("a")], v.values[node("b")], v.values[node("c")]
        truth = {"J": 3 * (a + b * c), "dJ/da": 3, "dJ/db": 3 * c, "dJ/dc": 3 * b}[row["quantity"]]
        assert float(row["value"]) == truth and float(row["answer"]) == truth
    sheet = (tmp_path / "questions.md").read_text()
    assert sheet.count("## Variant") == 3
    assert "Given $a = 9,\\ b = 5,\\ c = -2$" in sheet  # variant 1 of seed 1
    assert "u &= b \\cdot c" in sheet and "\\frac{\\partial J}{\\partial b}" in sheet
    key = (tmp_path / "key.md").read_text()
    assert "does not swap the inputs of a multiply gate" in key and "(`multiply_not_swapped`)" in key
    assert "Backward pass" in key  # the worked solution of each variant
    assert "u &= b \\cdot c" in (tmp_path / "questions.tex").read_text()
    quiz = ET.fromstring((tmp_path / "moodle.xml").read_text().split("\n", 1)[1])
    kinds = [q.get("type") for q in quiz.iter("question")]
    # one question per quantity: J (no mistake changes a forward value) is open, the gradients are choices
    assert kinds.count("numerical") == 3 and kinds.count("multichoice") == 9 and kinds.count("category") == 4 and kinds.count("random") == 4
    first = next(q for q in quiz.iter("question") if q.get("type") == "multichoice")
    assert "\\(a = 9\\)" in first.find("questiontext/text").text


@pytest.mark.parametrize(
    "block, message",
    [
        ("{q: [1, 2]}", "randomize.q: unknown key; expected a leaf (a, b, c)"),
        ("{v: [1, 2]}", "randomize.v: v is computed by its equation (v = a + u), it cannot vary; the leaves are a, b, c"),
        ("{a: 'uniform(1, 0)'}", "randomize.a: uniform(lo, hi, ...) needs lo < hi"),
    ],
)
def test_cli_bad_graph_randomize_exit_2_one_line(tmp_path, block, message):
    text = NG.read_text().split("randomize:")[0] + f"randomize: {block}\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = CliRunner().invoke(cli, ["quiz", str(bad), "-o", str(tmp_path / "q")])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_network_quiz_is_unaffected():
    problem = load(EXAMPLES / "mazur.yaml")
    spec = parse_spec(problem)
    assert spec.ask == ("dloss/dW2[1,1]", "dloss/dW1[1,1]", "W2[1,1]'", "loss_after")
    v = build_variant(problem, spec, seed=1, number=1, attempt=0)
    mistakes = {o.mistake for q in v.questions for o in q.options if o.mistake}
    assert mistakes <= {"no_activation_derivative", "forgot_path", "added_gradient", "pre_activation", "wrong_log_base", "dropped_half"}
    assert v.loss == v.solution.steps[0].loss and v.loss_after == v.solution.loss_after


@pytest.mark.latex
@needs("latexmk")
def test_cli_graph_quiz_pdf(tmp_path):
    result = CliRunner().invoke(cli, ["quiz", str(NG), "--count", "2", "-o", str(tmp_path), "--formats", "pdf", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "questions.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "key.pdf").read_bytes().startswith(b"%PDF")
