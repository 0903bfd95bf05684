"""Source 003 §3.1.1: perceptrons as logic gates, Tables 1–3 (examples/perceptron_*.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tracer.layers import perceptron
from tracer.cli import cli
from tracer.spec import load

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def table(name: str):
    return perceptron.truth_table(load(EXAMPLES / f"perceptron_{name}.yaml"))


def test_table_1_and_gate():
    # x1 x2 z g(z): 0 0 -6 0 / 1 0 -2 0 / 0 1 -2 0 / 1 1 2 1
    rows = table("and")
    assert [r.x for r in rows] == [(0, 0), (1, 0), (0, 1), (1, 1)]
    assert [r.z[0][0] for r in rows] == [-6, -2, -2, 2]
    assert [r.output[0] for r in rows] == [0, 0, 0, 1]
    assert perceptron.agrees(rows)


@pytest.mark.parametrize(
    "gate, z, out",
    [
        ("or", [-3, 3, 1, 7], [0, 1, 1, 1]),  # w0 = -3, w1 = 6, w2 = 4
        ("nand", [6, 2, 2, -2], [1, 1, 1, 0]),  # w0 = 6, w1 = -4, w2 = -4
        ("nor", [3, -3, -1, -7], [1, 0, 0, 0]),  # w0 = 3, w1 = -6, w2 = -4
    ],
)
def test_the_other_gates_of_the_note(gate, z, out):
    rows = table(gate)
    assert [r.z[0][0] for r in rows] == z
    assert [r.output[0] for r in rows] == out
    assert perceptron.agrees(rows)


def test_table_2_xor_targets_and_table_3_the_three_perceptrons():
    rows = table("xor")
    # Table 3: x1 x2 z1 z2 y1 y2 z3 y3
    expected = [
        (0, 0, -3, 6, 0, 1, -2, 0),
        (1, 0, 3, 2, 1, 1, 2, 1),
        (0, 1, 1, 2, 1, 1, 2, 1),
        (1, 1, 7, -2, 1, 0, -2, 0),
    ]
    got = [(*r.x, *r.z[0], *r.a[0], r.z[1][0], r.a[1][0]) for r in rows]
    assert got == expected
    assert [r.target for r in rows] == [(0,), (1,), (1,), (0,)]  # Table 2: XOR
    assert perceptron.agrees(rows)


def test_decision_boundary_of_the_and_gate():
    (line,) = perceptron.boundaries(load(EXAMPLES / "perceptron_and.yaml"))
    assert (line.slope, line.intercept) == (-1.0, 1.5)  # 4 x1 + 4 x2 - 6 = 0: x2 = 1.5 - x1


def test_solve_explains_that_a_perceptron_is_not_trained_by_backpropagation():
    result = CliRunner().invoke(cli, ["solve", str(EXAMPLES / "perceptron_xor.yaml")])
    assert result.exit_code == 0, result.output
    assert "derivative is 0 wherever it exists" in result.output
    assert "not trained by backpropagation" in result.output
    assert "Decision boundary of a1[1]: 6·x[1] + 4·x[2] − 3 = 0, i.e. x[2] = 0.75 − 1.5·x[1]" in result.output
    md = CliRunner().invoke(cli, ["solve", str(EXAMPLES / "perceptron_and.yaml"), "-f", "md"])
    assert "## Truth table and decision boundaries" in md.output
    assert "| 1 | 1 | 2 | 1 | 1 |" in md.output
