"""Graph problems (SPEC.md §7): the published numbers of every example, the gates' rules as
the documents print them, the sum over a fan-out node's consumers, training, `tracer ask`,
JSON, bad input (exit 2, naming the equation), a mismatch (exit 1), and random graphs
against finite differences."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tracer import load, solve
from tracer.cli import cli
from tracer.core import gates
from tracer.core.functions import ARG, TextbookFormError, check_textbook_form
from tracer.numeric.graph import NumericGraph
from tracer.spec import from_mapping, json_schema, to_mapping

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def solved(name: str):
    return solve(load(EXAMPLES / f"{name}.yaml"))


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output
    return result.output


def graph(equations: list[str], values: dict, output: str, **extra) -> dict:
    return {"graph": {"equations": equations, "values": values, "output": output}, **extra}


# ---------------------------------------------------------------------------
# The published numbers
# ---------------------------------------------------------------------------

#: (example, {name: published value}); each source's own rounding
PUBLISHED = {
    # CS231n, "Backpropagation, Intuitions": q = 3, f = −12; df/dz = 3, df/dq = df/dx = df/dy = −4
    "graph_cs231n": {"q": 3, "f": -12, "df/dz": 3, "df/dq": -4, "df/dx": -4, "df/dy": -4},
    # CS231n's sigmoid neuron: f = 0.73; dx = [0.39, −0.59], dw = [−0.20, −0.39, 0.20]
    "graph_sigmoid_neuron": {"f": 0.7310585786300049, "df/dw0": -0.19661193324148185, "df/dx0": 0.3932238664829637,
                             "df/dw1": -0.3932238664829637, "df/dx1": -0.5898357997244456, "df/dw2": 0.19661193324148185,
                             "h": math.exp(-1), "df/dh": -1 / (1 + math.exp(-1)) ** 2},
    # Ng: u = bc = 6, v = a + u = 11, J = 3v = 33; dJ/dv = 3, dJ/da = 3, dJ/du = 3, dJ/db = 6, dJ/dc = 9
    "graph_ng": {"u": 6, "v": 11, "J": 33, "dJ/dv": 3, "dJ/da": 3, "dJ/du": 3, "dJ/db": 6, "dJ/dc": 9},
    # source 004 §7.6: y1 = 3, y2 = 7, dy2/dy1 = w2 = 2, dy1/dw1 = x = 1, dy2/dw1 = 2 (TensorFlow's tape agrees)
    "graph_chain_rule": {"y1": 3, "y2": 7, "dy2/dy1": 2, "dy1/dw1": 1, "dy2/dw1": 2, "dy2/dw2": 3, "dy2/db1": 2},
    # f = xy + y² at (2, 3): f = 15, df/dx = y = 3, df/dy = x + 2y = 8
    "graph_fan_out": {"p": 6, "s": 9, "f": 15, "df/dx": 3, "df/dy": 8, "dp/dy": 2, "ds/dy": 6},
    # micrograd's tanh neuron: o = 0.7071, do/dn = 1 − o² = 0.5; dx1 = w1/2, dw1 = x1/2, dx2 = w2/2, dw2 = x2/2
    "graph_micrograd": {"n": 0.8813735870195432, "o": 2 ** -0.5, "do/dn": 0.5, "do/db": 0.5, "do/dx1w1": 0.5,
                        "do/dx1": -1.5, "do/dw1": 1.0, "do/dx2": 0.5, "do/dw2": 0.0},
    # logistic unit at z = 0: p = 1/2, L = ln 2; dL/dz = p − y, dL/dw_i = (p − y) x_i; one step at η = 0.5
    "graph_logistic": {"z": 0, "p": 0.5, "L": math.log(2), "dL/dz": -0.5, "dL/dw1": -0.75, "dL/dw2": 0.25, "dL/db": -0.5,
                       "dL/dp": -2, "w1'": 0.625, "w2'": 0.375, "b'": 0.125, "z@end": 0.875,
                       "p@end": 1 / (1 + math.exp(-0.875)), "L@end": math.log(1 + math.exp(-0.875))},
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_numbers(name):
    solution = solved(name)
    assert solution.verification.ok, solution.verification.mismatches
    for quantity, expected in PUBLISHED[name].items():
        assert solution.value(quantity) == pytest.approx(expected, rel=1e-12, abs=1e-15), quantity


def test_the_logistic_identities_hold_at_other_values():
    """dL/dz = p − y and dL/dw_i = (p − y)·x_i, whatever the values."""
    problem = load(EXAMPLES / "graph_logistic.yaml").with_values({"w1": -1.3, "w2": 0.7, "b": 0.4, "x1": 2.0, "x2": -1.5, "y": 0.0})
    solution = solve(problem)
    p = solution.value("p")
    assert solution.value("dL/dz") == pytest.approx(p - 0.0, rel=1e-13)
    assert solution.value("dL/dw1") == pytest.approx((p - 0.0) * 2.0, rel=1e-13)
    assert solution.value("dL/dw2") == pytest.approx((p - 0.0) * -1.5, rel=1e-13)
    assert solution.value("L") > solution.value("L@end")


def test_training_steps_in_json_and_the_loss_falls():
    out = json.loads(run("solve", str(EXAMPLES / "graph_logistic.yaml"), "-f", "json"))
    assert set(out) >= {"title", "output", "values", "gradients", "steps", "values_after", "output_after", "verification"}
    (step,) = out["steps"]
    assert step["gradients"]["w1"] == -0.75 and step["gradients"]["x1"] == -0.125
    assert step["params_after"] == {"w1": 0.625, "w2": 0.375, "b": 0.125}
    assert out["values_after"]["z"] == 0.875
    assert out["output_after"] == pytest.approx(0.348444581, abs=5e-10)
    assert out["verification"]["mismatches"] == []


def test_json_of_a_graph_without_training():
    out = json.loads(run("solve", str(EXAMPLES / "graph_cs231n.yaml"), "-f", "json"))
    assert out["values"] == {"x": -2.0, "y": 5.0, "z": -4.0, "q": 3.0, "f": -12.0}
    assert out["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0, "q": -4.0, "f": 1.0}
    assert "steps" not in out
    assert out["verification"]["finite_differences"]["gradients"] == 9  # 5 names + 4 local derivatives


# ---------------------------------------------------------------------------
# The documents: each local derivative with its gate's rule, the sum over consumers
# ---------------------------------------------------------------------------


def test_cs231n_text_reads_like_the_lecture():
    out = run("solve", str(EXAMPLES / "graph_cs231n.yaml"))
    assert "(1) q = x + y = −2 + 5 = 3" in out
    assert "(2) f = q·z = 3 × (−4) = −12   [from (1)]" in out
    assert "(3) ∂f/∂f = 1   (the gradient of the output with respect to itself)" in out
    assert "(4) ∂f/∂q = z = −4   (multiply gate: the local gradient is the other input (the inputs swap))" in out
    assert "(6) ∂q/∂x = 1   (add gate: passes the gradient on unchanged)" in out
    assert "(7) ∂f/∂x = ∂f/∂q · ∂q/∂x = (−4) × 1 = −4   [from (4), (6)]" in out


def test_a_fan_out_node_sums_over_its_consumers():
    out = run("solve", str(EXAMPLES / "graph_fan_out.yaml"))
    assert "(11) ∂f/∂y = ∂f/∂p · ∂p/∂y + ∂f/∂s · ∂s/∂y = 1 × 2 + 1 × 6 = 8   [from (5), (6), (9), (10)]" in out
    assert "(10) ∂s/∂y = 2·y = 2 × 3 = 6" in out


def test_the_output_using_a_node_twice_names_its_local_derivative_apart():
    """f = x·q with q = x + 1: ∂f/∂x is the sum over both uses; the output's own equation
    differentiated w.r.t. x (holding q) is ∂f/∂x|local, not ∂f/∂x."""
    solution = solve(from_mapping(graph(["q = x + 1", "f = x * q"], {"x": 3}, "f")))
    assert solution.value("df/dx") == 2 * 3 + 1
    out = run_problem(graph(["q = x + 1", "f = x * q"], {"x": 3}, "f"))
    assert "∂f/∂x|local = q = 4" in out
    assert "∂f/∂x = ∂f/∂q · ∂q/∂x + ∂f/∂x|local = 3 × 1 + 4 = 7" in out


def run_problem(mapping: dict, command: str = "solve", *options: str, code: int = 0) -> str:
    """Run a command on a problem file written from ``mapping``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "problem.yaml"
        path.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
        return run(command, str(path), *options, code=code)


def test_subtraction_flips_the_sign_and_max_routes_the_gradient():
    out = run_problem(graph(["d = x - y", "m = max(d, z)", "f = 2 * m"], {"x": 5, "y": 1, "z": 3}, "f"))
    assert "∂d/∂y = −1   (subtraction: passes the gradient on with its sign flipped)" in out
    assert "max gate: routes the gradient to the larger input" in out
    solution = solve(from_mapping(graph(["d = x - y", "m = max(d, z)", "f = 2 * m"], {"x": 5, "y": 1, "z": 3}, "f")))
    assert (solution.value("df/dx"), solution.value("df/dy"), solution.value("df/dz")) == (2, -2, 0)


def test_names_typeset_with_subscripts_and_greek_letters():
    tex = run_problem(graph(["u = w0 * x0 + theta", "f = sigmoid(u)"], {"w0": 1, "x0": 2, "theta": 0.5}, "f"), "solve", "-f", "tex")
    assert "w_{0}" in tex and "x_{0}" in tex and r"\theta" in tex
    assert "w0" not in tex.split(r"\begin{document}")[1].replace("w0 =", "")  # only the description's prose writes w0


def test_pdf_has_the_circuit_with_both_numbers_on_every_wire():
    from tracer.render.graph import render_graph

    tex = render_graph(solved("graph_cs231n"), "tex")
    assert r"\begin{tikzpicture}" in tex
    for value, gradient in (("-2", "-4"), ("5", "-4"), ("-4", "3"), ("3", "-4"), ("-12", "1")):
        assert value.replace("-", "−") in tex or value in tex
    md = render_graph(solved("graph_cs231n"), "md")
    assert "<svg" in md and md.count("<text") >= 2 * 5  # a value and a gradient on every wire


# ---------------------------------------------------------------------------
# tracer ask
# ---------------------------------------------------------------------------


def test_ask_a_gradient_with_only_its_steps():
    out = run("ask", str(EXAMPLES / "graph_cs231n.yaml"), "df/dx")
    assert out.splitlines()[-1] == "df/dx = −4"
    assert "∂f/∂z" not in out  # not needed for df/dx


def test_ask_a_trained_leaf_and_the_value_at_the_end():
    out = run("ask", str(EXAMPLES / "graph_logistic.yaml"), "w1'")
    assert "w1' = w1 − η · ∂L/∂w1 = 0.25 − 0.5 × (−0.75) = 0.625   [from (6)]" in out
    assert run("ask", str(EXAMPLES / "graph_logistic.yaml"), "L@end").splitlines()[-1] == "L@end = 0.348444581"


@pytest.mark.parametrize("quantity,message", [
    ("dq/dnope", "nope"),
    ("x'", "not trained"),
    ("f@2", "training step"),
])
def test_ask_bad_names_exit_2(quantity, message):
    out = run("ask", str(EXAMPLES / "graph_cs231n.yaml"), quantity, code=2)
    assert message in out and "Traceback" not in out


def test_tracer_diff_and_a_graph_share_the_parser():
    """`tracer diff "z = x^2 + e^y; x = 2t + 1; y = t^2"` and the same equations as a graph agree on dz/dt."""
    diff = json.loads(run("diff", "z = x^2 + e^y; x = 2t + 1; y = t^2", "--wrt", "t", "--at", "t=0.5", "-f", "json"))
    solution = solve(from_mapping(graph(["z = x^2 + e^y", "x = 2t + 1", "y = t^2"], {"t": 0.5}, "z")))
    expected = 2 * (2 * 0.5 + 1) * 2 + math.exp(0.25) * 2 * 0.5
    assert solution.value("dz/dt") == pytest.approx(expected, rel=1e-14)
    assert float(diff["value"]) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------
# Bad input: exit 2, one line naming the equation
# ---------------------------------------------------------------------------

BAD = [
    (graph(["a = b + 1", "b = a * 2"], {}, "a"), "graph.equations[0]: a cycle: a → uses b → uses a"),
    (graph(["q = x + y", "f = q * w"], {"x": 1, "y": 2}, "f"), "graph.equations[1]: f = q * w: w has no equation and no value"),
    (graph(["q = x + y", "f = q * z"], {"x": 1, "y": 2}, "f"), "z has no equation and no value (give it one under graph.values)"),
    (graph(["q = x + y", "q = x * y"], {"x": 1, "y": 2}, "q"), "graph.equations[1]: q is defined twice (also by graph.equations[0])"),
    (graph(["q = x + y"], {"x": 1, "y": 2}, "x"), "graph.output: the output must be a node computed by an equation; 'x' is a leaf"),
    (graph(["q = x + y"], {"x": 1, "y": 2}, "nope"), "graph.output: the output must be a node computed by an equation; 'nope' is not defined"),
    (graph(["q = x - y", "f = 1/q"], {"x": 2, "y": 2}, "f"), "graph.equations[1]: f = 1/q: a division by zero at the given values (q = 0)"),
    (graph(["f = log(x - y)"], {"x": 2, "y": 2}, "f"), "graph.equations[0]: f = log(x - y): the logarithm of a number ≤ 0"),
    (graph(["f = x +* y"], {"x": 2, "y": 2}, "f"), "graph.equations[0]: f = x +* y: unexpected '*' at column 4"),
    (graph(["f = __import__(1)"], {"x": 2}, "f"), "unknown function '__import__'"),
    (graph(["f = x + y"], {"x": 2, "y": 2, "q": 3}, "f"), "graph.values.q: no equation uses q"),
    (graph(["f = x + y"], {"x": 2, "y": "a"}, "f"), "graph.values.y: a number expected"),
    (graph(["f = x * y"], {"x": 2, "y": 3}, "f", training={"parameters": ["f"], "learning_rate": 0.1, "steps": 1}),
     "training.parameters[0]: a leaf with a value expected (leaves: x, y), got 'f'"),
    (graph(["f = q * y", "q = x + y"], {"x": 2, "y": 3, "q": 1}, "f"), "graph.values.q"),
]


@pytest.mark.parametrize("mapping,message", BAD, ids=lambda v: str(v)[:40] if isinstance(v, str) else None)
@pytest.mark.parametrize("command", ["solve", "validate"])
def test_bad_graph_exits_2_naming_the_equation(mapping, message, command):
    out = run_problem(mapping, command, code=2)
    assert message in out, out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1


def test_the_schema_takes_a_graph_and_rejects_a_typo():
    schema = json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    good = graph(["q = x + y"], {"x": 1, "y": 2}, "q")
    assert validator.is_valid(good)
    assert not validator.is_valid({"graph": {**good["graph"], "outptu": "q"}})
    assert not validator.is_valid({**good, "network": {"inputs": 1, "layers": []}})  # one kind or the other


def test_graph_options_that_only_networks_have_exit_2():
    for option in (["--notation", "mazur"], ["--only", "W2"], ["--form", "matrix"]):
        out = run("solve", str(EXAMPLES / "graph_cs231n.yaml"), *option, code=2)
        assert "not for a graph problem" in out


# ---------------------------------------------------------------------------
# The independent check can fail
# ---------------------------------------------------------------------------


def test_a_wrong_number_from_the_engine_is_a_mismatch_exit_1(monkeypatch):
    original = NumericGraph.evaluate

    def off_by_a_little(self, values, override=None):
        out = original(self, values, override)
        return {**out, "q": out["q"] + 1e-6} if not override else out

    monkeypatch.setattr(NumericGraph, "evaluate", off_by_a_little)
    solution = solved("graph_cs231n")
    assert not solution.verification.ok
    assert any("q" in m.quantity for m in solution.verification.mismatches)
    run("solve", str(EXAMPLES / "graph_cs231n.yaml"), code=1)


def test_a_gates_wrong_textbook_derivative_is_caught():
    """Each gate's textbook derivative is checked against SymPy's derivative of its expression
    once; a gate that forgot to swap its inputs fails that check."""

    class Unswapped(gates.Multiply):
        def textbook(self, wrt, position=0):
            return ARG[wrt]  # ∂(a·b)/∂a written as a: the inputs not swapped

    check_textbook_form(gates.Multiply())  # the real one passes
    with pytest.raises(TextbookFormError, match="argument 1"):
        check_textbook_form(Unswapped())


# ---------------------------------------------------------------------------
# Random graphs against finite differences
# ---------------------------------------------------------------------------

UNARY = ["exp(tanh({0}))", "sigmoid({0})", "tanh({0})", "sin({0})", "cos({0})", "log(1 + {0}^2)",
         "sqrt(1 + {0}^2)", "relu({0})", "abs({0})", "-{0}", "3*{0}", "{0}^2", "{0}^3"]
BINARY = ["{0} + {1}", "{0} - {1}", "{0} * {1}", "{0} / (1 + {1}^2)", "max({0}, {1})", "min({0}, {1})",
          "{0}*{1} + sin({1})"]
KINKED = ("relu", "abs", "max", "min")


@st.composite
def random_graphs(draw):
    """3 leaves, 2 to 8 equations, each one operation over earlier names; the output sums the
    nodes nobody uses, so every node reaches it."""
    names = ["a", "b", "c"]
    values = {n: draw(st.floats(-2, 2).map(lambda v: round(v, 3))) for n in names}
    equations, used = [], set()
    for k in range(draw(st.integers(2, 8))):
        if draw(st.booleans()):
            operand = draw(st.sampled_from(names))
            body = draw(st.sampled_from(UNARY)).format(operand)
            used.add(operand)
        else:
            left, right = draw(st.sampled_from(names)), draw(st.sampled_from(names))
            body = draw(st.sampled_from(BINARY)).format(left, right)
            used.update((left, right))
        names.append(f"n{k}")
        equations.append(f"n{k} = {body}")
    unused = [n for n in names[3:] if n not in used]
    equations.append("out = " + " + ".join(unused))
    leaves = {n: v for n, v in values.items() if n in used}
    return equations, leaves


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs())
def test_random_graphs_agree_with_finite_differences(case):
    equations, leaves = case
    assume(leaves)
    twin = NumericGraph.compile(equations)
    values = twin.evaluate(leaves)
    assume(all(math.isfinite(v) and abs(v) < 1e3 for v in values.values()))
    for text in equations:  # no kink within reach of the differences
        if any(k in text for k in KINKED):
            assume(all(abs(v) > 1e-3 for v in values.values()))
            assume(len({round(v, 3) for v in values.values()}) == len(values))
    solution = solve(from_mapping(graph(equations, leaves, "out")), verify=False)
    fd = twin.finite_differences(leaves, "out")
    for name in twin.leaves + twin.nodes:
        exact = solution.value(f"dout/d{name}")
        assert exact == pytest.approx(fd[name], rel=1e-7, abs=1e-7), (name, equations, leaves)


def test_the_batched_differences_equal_one_at_a_time():
    twin = NumericGraph.compile(["p = x * y", "s = y^2", "f = exp(p) / (1 + s)"])
    values = {"x": 0.3, "y": -1.2}
    batched = twin.finite_differences(values, "f")
    one = {name: twin._one_difference(values, twin.evaluate(values), name, "f", 1e-6) for name in ("x", "y", "p", "s")}
    for name, value in one.items():
        assert batched[name] == pytest.approx(value, rel=1e-12)


def test_a_thousand_node_chain_solves_and_verifies():
    equations = ["n0 = x"] + [f"n{k} = sin(n{k - 1}) + 0.5 * n{k - 1}" for k in range(1, 999)] + ["f = n998 * n998"]
    solution = solve(from_mapping(graph(equations, {"x": 0.3}, "f")), derived_steps=1)
    assert solution.verification.ok
    value = 0.3
    derivative = 1.0
    for _ in range(998):
        derivative *= math.cos(value) + 0.5
        value = math.sin(value) + 0.5 * value
    assert solution.value("f") == pytest.approx(value * value, rel=1e-12)
    assert solution.value("df/dx") == pytest.approx(2 * value * derivative, rel=1e-10)


def test_a_leaf_after_the_update_names_the_last_step_in_value_and_step():
    """`x'` without `@` is the value after the last step, and its step is that last update."""
    mapping = graph(["f = (x - 3)^2"], {"x": 0}, "f", training={"parameters": ["x"], "learning_rate": 0.25, "steps": 2})
    solution = solve(from_mapping(mapping))
    assert solution.value("x'@1") == 1.5  # 0 − 0.25 · 2(0 − 3)
    assert solution.value("x'") == solution.step("x'").value == 2.25  # 1.5 − 0.25 · 2(1.5 − 3)
    assert solution.step("x'@1").value == 1.5
    mazur = load(EXAMPLES / "mazur.yaml")
    network = solve(from_mapping({**to_mapping(mazur), "training": {"learning_rate": 0.5, "steps": 2}}))
    assert network.step("W2[1,1]'").value == network.value("W2[1,1]'") != network.value("W2[1,1]'@1")


def test_check_marks_a_graphs_claims_and_carries_an_error_forward(tmp_path):
    claims = tmp_path / "claims.yaml"
    claims.write_text("q: 3\nf: -12\ndf/dq: 4\ndf/dx: 4\ndf/dy: -4\n", encoding="utf-8")
    out = run("check", str(EXAMPLES / "graph_cs231n.yaml"), str(claims), code=1)
    assert "5 claims: 3 right, 0 habit, 1 carried, 1 wrong" in out
    assert "WRONG    df/dq = 4              true -4" in out
    assert "df/dq is wrong because the sign is the wrong way round (the claim is −∂f/∂q)" in out
    assert "df/dx is carried: it follows from the claimed df/dq = 4 (4); the error is carried forward from df/dq = 4, which is wrong (true -4)" in out
    verdicts = {v["name"]: v for v in json.loads(run("check", str(EXAMPLES / "graph_cs231n.yaml"), str(claims), "-f", "json", code=1))["verdicts"]}
    assert verdicts["df/dx"]["verdict"] == "carried" and verdicts["df/dx"]["culprit"] == "df/dq" and verdicts["df/dy"]["right"]
