"""The printers: brackets from precedence, substituted numbers through fmt, no SymPy internals.

Each case is an expression as a worked solution builds it (unevaluated) and the string
a reader sees; negative numbers are bracketed exactly where an operator needs them
(handcalcs #224, WeBWorK pg #658).
"""

from __future__ import annotations

import pytest
import sympy as sp

from tracer.render.sympy_printers import LatexPrinter, SubstitutedNumber, TextPrinter
from tracer.numbers import fmt
from tracer.render.step_printer import Printer

a, b, z, y, o = sp.symbols("a b z y o", real=True)
relu_derivative = sp.Piecewise((1, z > 0), (0, True))


def text(expr, values) -> str:
    return Printer("text").substituted_expression(expr, values)


def latex(expr, values) -> str:
    return Printer("latex").substituted_expression(expr, values)


@pytest.mark.parametrize(
    "expr, values, shown, tex",
    [
        (sp.Mul(a, b, evaluate=False), {a: 0.04, b: -2.5}, "0.04 × (−2.5)", r"0.04 \times \left(-2.5\right)"),
        (sp.Mul(b, a, evaluate=False), {a: 0.04, b: -2.5}, "(−2.5) × 0.04", r"\left(-2.5\right) \times 0.04"),
        (a**2, {a: -0.3}, "(−0.3)^2", r"\left(-0.3\right)^{2}"),
        (a - b, {a: 0.01, b: -0.3}, "0.01 − (−0.3)", r"0.01 - \left(-0.3\right)"),
        (sp.Add(a, b, evaluate=False), {a: 0.01, b: -0.3}, "0.01 + (−0.3)", r"0.01 + \left(-0.3\right)"),
        (sp.Mul(-1, y - o, evaluate=False), {y: 0.01, o: 0.75}, "−(0.01 − 0.75)", r"- \left(0.01 - 0.75\right)"),
        (sp.Mul(-1, y - o, evaluate=False), {y: -0.4794, o: 0.17}, "−(−0.4794 − 0.17)", r"- \left(-0.4794 - 0.17\right)"),
        ((y - o) ** 2 / 2, {y: -0.4794, o: -0.065}, "(−0.4794 − (−0.065))^2/2", r"\frac{\left(-0.4794 - \left(-0.065\right)\right)^{2}}{2}"),
        (sp.Max(0, z), {z: -0.576}, "max(0, −0.576)", r"\max\left(0, -0.576\right)"),
        (sp.exp(z), {z: -0.9632}, "exp(−0.9632)", r"e^{-0.9632}"),
        (sp.tanh(z), {z: -0.1}, "tanh(−0.1)", r"\tanh{\left(-0.1 \right)}"),
        (z, {z: -0.29}, "−0.29", "-0.29"),
        (-y / o, {y: 1.0, o: 0.150878988}, "−1/0.150878988", r"- \frac{1}{0.150878988}"),
        # −z with a number in z is that number, negated, as a hand calculation writes it (issue 25, item 9)
        (1 / (1 + sp.exp(-z)), {z: 1.10590597}, "1/(1 + exp(−1.10590597))", r"\frac{1}{1 + e^{-1.10590597}}"),
        (1 / (1 + sp.exp(-z)), {z: -1.5}, "1/(1 + exp(1.5))", r"\frac{1}{1 + e^{1.5}}"),
        (a * (1 - a), {a: 0.75136507}, "0.75136507 × (1 − 0.75136507)", r"0.75136507 \times \left(1 - 0.75136507\right)"),
        (relu_derivative, {z: -0.576}, "(1 if −0.576 > 0, else 0)", r"\begin{cases} 1 & \text{for}\: -0.576 > 0 \\0 & \text{otherwise} \end{cases}"),
        (sp.Mul(a, b, evaluate=False), {a: 0.5, b: -3.5e-7}, "0.5 × (−3.5e−07)", r"0.5 \times \left(-3.5 \times 10^{-7}\right)"),
        (sp.Mul(a, b, evaluate=False), {a: 0.5, b: 3.5e-7}, "0.5 × 3.5e−07", r"0.5 \times \left(3.5 \times 10^{-7}\right)"),
    ],
)
def test_substituted_numbers_are_bracketed_where_an_operator_needs_it(expr, values, shown, tex):
    assert text(expr, values) == shown
    assert latex(expr, values) == tex


def test_symbolic_layer_names_symbols_and_writes_readable_functions():
    p = Printer("text")
    names = {z: "z1[1]#1"}
    assert p.expression(relu_derivative, names) == "(1 if z1[1]#1 > 0, else 0)"
    assert p.expression(sp.Piecewise((1, z >= 0), (sp.Float(0.01), True)), names) == "(1 if z1[1]#1 ≥ 0, else 0.01)"
    assert p.expression(sp.Max(0, z), names) == "max(0, z1[1]#1)"
    assert p.expression(sp.Min(1, z), names) == "min(1, z1[1]#1)"
    assert p.expression(sp.diff(sp.Max(0, z), z), names) == "H(z1[1]#1)"
    assert p.expression(-y * sp.log(o), {y: "y[1]", o: "a2[1]"}) == "−y[1]·log(a2[1])"
    assert Printer("latex").expression(relu_derivative, {z: "z"}) == r"\begin{cases} 1 & \text{for}\: z > 0 \\0 & \text{otherwise} \end{cases}"


def test_a_substituted_number_is_an_atom_that_carries_its_value():
    n = SubstitutedNumber(-0.5)
    assert n.value == -0.5 and n != SubstitutedNumber(-0.5)  # each substitution is its own atom
    with sp.evaluate(False):
        assert (z**2).xreplace({z: n}).base is n  # nothing computed
    assert TextPrinter({"number": lambda v: fmt(v, 3)}).doprint(n) == "−0.5"
    with pytest.raises(TypeError, match="number"):
        TextPrinter({}).doprint(n)  # only the project's formatter prints numbers


@pytest.mark.parametrize(
    "expr, shown",
    [
        (sp.Add(a + 2, sp.Mul(-1, a - 2, evaluate=False), evaluate=False), "(a + 2) − (a − 2)"),
        (sp.Add(sp.Mul(-1, a + 1, evaluate=False), sp.Mul(-1, 1 - a, evaluate=False), evaluate=False), "−(a + 1) − (1 − a)"),
        (sp.Mul(-1, sp.Mul(2, a + 2, evaluate=False), evaluate=False), "−2·(a + 2)"),
        (sp.Add(1, sp.Mul(-1, sp.Mul(-2, a, evaluate=False), evaluate=False), evaluate=False), "1 − (−2·a)"),
        (sp.Mul(sp.Mul(3, (2 * a**2 - 1) ** 2), sp.Mul(4, a), evaluate=False), "(3·(2·a^2 − 1)^2)·(4·a)"),
        (sp.Mul(sp.Rational(1, 2), sp.Mul(2, a - b, evaluate=False), evaluate=False), "(1/2)·(2·(a − b))"),
        (sp.Mul(sp.exp(-a), -1, evaluate=False), "e^(−a)·(−1)"),
        (sp.Pow(sp.exp(a), 2, evaluate=False), "(e^a)^2"),
        (sp.Pow(a**2, 2, evaluate=False), "(a^2)^2"),
    ],
)
def test_as_built_expressions_keep_their_grouping(expr, shown):
    assert TextPrinter({"as_built": True, "order": "none"}).doprint(expr) == shown


def test_latex_as_built_and_canonical_products():
    built = LatexPrinter({"as_built": True, "order": "none"})
    assert built.doprint(sp.Add(a + 2, sp.Mul(-1, a - 2, evaluate=False), evaluate=False)) == r"\left(a + 2\right) - \left(a - 2\right)"
    assert built.doprint(sp.Mul(sp.Mul(3, a), sp.Mul(4, b), evaluate=False)) == r"\left(3 a\right) \cdot \left(4 b\right)"
    plain = LatexPrinter({"leading_positive": True})
    assert plain.doprint(12 * a * (2 * a**2 - 1) ** 2) == r"12 a \left(2 a^{2} - 1\right)^{2}"
    assert plain.doprint(-2 * a / (a**2 + 1) ** 2) == r"- \frac{2 a}{\left(a^{2} + 1\right)^{2}}"
    assert plain.doprint(y - o) == "y - o"


def test_a_logarithm_to_a_base_keeps_its_base_as_the_file_writes_it():
    """``f = log2(x) + log(x, 3)`` at x = 8 printed "f = log(x) + log(x) = log(8) + log(8) = 4.89278926": a
    student's ln 8 + ln 8 is 4.15888308. SymPy's printers drop the base of an unevaluated log(u, b); the
    value log₂ 8 + log₃ 8 = 3 + 1.89278926 was right."""
    import math

    from tracer.core.derive import solve
    from tracer.render.graph import render_graph
    from tracer.spec import loads

    text = "graph:\n  equations: ['f = log2(x) + log(x, 3) + log10(x) * log(x, z)']\n  values: {x: 8, z: 5}\n  output: f\n"
    solution = solve(loads(text, "l.yaml"))
    assert solution.value("f") == pytest.approx(3 + math.log(8, 3) + math.log10(8) * math.log(8, 5), abs=1e-14)
    shown = render_graph(solution, "text")
    assert "f = log2(x) + log(x, 3) + log10(x)·log(x, z) = log2(8) + log(8, 3) + log10(8) × log(8, 5) = " in shown
    tex = render_graph(solution, "tex")
    assert r"\log_{2}\left(x\right) + \log_{3}\left(x\right) + \log_{10}\left(x\right) \cdot \log_{z}\left(x\right)" in tex
