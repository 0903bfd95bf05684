"""The forms the texts write, not SymPy's raw ones (issue 25, items 9 and 10): BCE's derivative as
−(y/ŷ − (1 − y)/(1 − ŷ)), σ′ inside an equation as σ(1 − σ), no exp(−0), −(−0.2) or −0 × log(…),
tracer diff's quotients with their numerator multiplied out and ln σ(x)′ as 1 − σ; and tracer diff
showing the expression, its sums and the point as they were typed."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

import tracer
from tracer.cli.calculus import descend, diff
from tracer.render.document import render
from tracer.render.graph import render_graph
from tracer.spec import from_mapping, load

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
cli = click.Group(commands=[diff, descend])


def _diff(*args: str) -> str:
    result = CliRunner().invoke(cli, ["diff", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _graph_text(equations, values, fmt="text") -> str:
    return render_graph(tracer.solve(from_mapping({"title": "t", "graph": {"equations": equations, "values": values, "output": "f"}})), fmt)


# ---------------------------------------------------------------------------
# Item 9: textbook forms in the worked solutions
# ---------------------------------------------------------------------------


def test_binary_cross_entropy_derivative_as_the_texts_write_it():
    text = render(tracer.solve(load(EXAMPLES / "xor.yaml")), "text")
    # was −(y/ŷ + (−1 + y)/(1 − ŷ))
    assert "∂loss#1/∂a2[1] = −(y[1]#1/a2[1]#1 − (1 − y[1]#1)/(1 − a2[1]#1)) = −(0/0.5974618 − (1 − 0)/(1 − 0.5974618))" in text


def test_a_sigmoid_inside_an_equation_keeps_its_name_and_its_textbook_derivative():
    text = _graph_text(["f = sigmoid(w) * (z + x*y)^2"], {"w": 0.5, "x": 1, "y": 2, "z": -1})
    assert "f = (z + x·y)^2·σ(w) = (−1 + 1 × 2)^2 × σ(0.5) = 0.622459331" in text
    # was (z + x·y)^2·exp(−w)/(1 + exp(−w))^2 and (2·z + 2·x·y)/(1 + exp(−w))
    assert "∂f/∂w = (z + x·y)^2·σ(w)·(1 − σ(w)) = (−1 + 1 × 2)^2 × σ(0.5) × (1 − σ(0.5)) = 0.235003712" in text
    assert "∂f/∂z = 2·(z + x·y)·σ(w) = 2 × (−1 + 1 × 2) × σ(0.5) = 1.24491866" in text
    tex = _graph_text(["f = sigmoid(w) * (z + x*y)^2"], {"w": 0.5, "x": 1, "y": 2, "z": -1}, "tex")
    assert r"\sigma\left(w\right) \cdot \left(1 - \sigma\left(w\right)\right)" in tex


def test_a_negated_substituted_number_is_written_as_its_value():
    logistic = render_graph(tracer.solve(load(EXAMPLES / "graph_logistic.yaml")), "text")
    assert "p = 1/(1 + exp(−z)) = 1/(1 + exp(0)) = 0.5" in logistic  # was exp(−0)
    negative = _graph_text(["f = sigmoid(z)"], {"z": -0.2})
    assert "1/(1 + exp(0.2))" in negative and "−(−" not in negative  # was exp(−(−0.2))
    neuron = render_graph(tracer.solve(load(EXAMPLES / "graph_sigmoid_neuron.yaml")), "tex")
    assert r"g &= - d = -1 \qquad" in neuron  # was "- d = - 1 = -1"
    xor = render(tracer.solve(load(EXAMPLES / "xor.yaml")), "text")
    assert "= 0 × log(0.5974618) − (1 − 0) × log(1 − 0.5974618) = 0.909965279" in xor  # was −0 × log(…)


def test_diff_multiplies_out_a_quotients_numerator():
    out = _diff("(x^2+1)/(x-1)")
    assert "algebra: = (x^2 − 2·x − 1)/(x − 1)^2   [expand the numerator]" in out
    assert out.rstrip().endswith("df/dx = (x^2 − 2·x − 1)/(x − 1)^2")  # was (2·x·(x − 1) − x^2 − 1)/(x − 1)^2


def test_diff_writes_the_log_sigmoids_derivative_in_sigma():
    out = _diff("log(sigmoid(x))")
    assert "algebra: = 1 − σ   [substitute σ = 1/(1 + e^(−x))]" in out
    assert "textbook form: df/dx = 1 − σ   with σ = 1/(1 + e^(−x))" in out  # was e^(−x)/(1 + e^(−x)) only


# ---------------------------------------------------------------------------
# Item 10: tracer diff as the user typed it
# ---------------------------------------------------------------------------


def test_diff_shows_the_expression_and_its_sum_as_typed():
    out = _diff("x w^2 + b^2", "--wrt", "w", "--at", "w=0.5,x=1,b=2")
    lines = out.splitlines()
    assert lines[0] == "f(x, w, b) = x·w^2 + b^2"  # was b^2 + w^2·x
    assert "  sum rule: ∂/∂w (x·w^2 + b^2) = 2·w·x" in lines
    # the sum rule's parts in the typed order: x·w^2, then b^2 (was b^2 first)
    assert lines.index("    constant multiple rule: ∂/∂w (x·w^2) = x·(2·w) = 2·w·x   [constant x]") < lines.index(
        "    constant: ∂/∂w b^2 = 0   [does not depend on w]")
    assert "at x = 1, w = 0.5, b = 2: ∂f/∂w = 1" in out  # was w = 1/2


def test_diff_keeps_a_fraction_typed_as_a_fraction():
    out = _diff("x^2", "--at", "x=1/3")
    assert "at x = 1/3: df/dx = 0.666666667" in out
