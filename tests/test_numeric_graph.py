"""The NumPy graph twin (tracer/numeric/graph.py): the worked examples it must reproduce,
the reading conventions it shares with the SymPy parser, and the text it must refuse."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from pytest import approx

from tracer.numeric.graph import MAX_DEPTH, DescentStep, GraphSyntaxError, NumericGraph


def value(text: str, *, e_is_variable: bool = False, **values: float) -> float:
    """The value of one expression, read as the equation ``out = text``."""
    return NumericGraph.compile([f"out = {text}"], e_is_variable=e_is_variable).evaluate(values)["out"]


# ---------------------------------------------------------------------------
# Worked examples
# ---------------------------------------------------------------------------

CS231N = {"x": -2, "y": 5, "z": -4}


def test_cs231n_add_and_multiply_gates():
    graph = NumericGraph.compile(["q = x + y", "f = q * z"])
    assert graph.nodes == ("q", "f")
    assert graph.leaves == ("x", "y", "z")
    values = graph.evaluate(CS231N)
    assert values == {"x": -2.0, "y": 5.0, "z": -4.0, "q": 3.0, "f": -12.0}
    gradient = graph.finite_differences(CS231N, "f")
    assert gradient["x"] == approx(-4, abs=1e-7)
    assert gradient["y"] == approx(-4, abs=1e-7)
    assert gradient["z"] == approx(3, abs=1e-7)
    assert gradient["q"] == approx(-4, abs=1e-7)
    assert gradient["f"] == 1.0


def test_equations_out_of_order_give_the_same_graph_and_numbers():
    graph = NumericGraph.compile(["f = q * z", "q = x + y"])
    assert graph.nodes == ("q", "f")
    assert graph.leaves == ("z", "x", "y")  # order of first appearance in the text
    assert graph.evaluate(CS231N)["f"] == -12.0
    gradient = graph.finite_differences(CS231N, "f")
    assert [gradient[n] for n in ("x", "y", "z", "q")] == approx([-4, -4, 3, -4], abs=1e-7)


def test_a_longer_chain_listed_backwards_is_ordered_topologically():
    graph = NumericGraph.compile(["d = c + 1", "c = b * 2", "b = a ^ 2"])
    assert graph.nodes == ("b", "c", "d")
    assert graph.evaluate({"a": 3})["d"] == 19.0
    assert graph.finite_differences({"a": 3}, "d")["a"] == approx(12, abs=1e-7)  # 2 · 2a


def test_andrew_ng_computation_graph():
    graph = NumericGraph.compile(["u = b*c", "v = a + u", "J = 3*v"])
    values = {"a": 5, "b": 3, "c": 2}
    assert graph.evaluate(values)["J"] == 33.0
    gradient = graph.finite_differences(values, "J")
    expected = {"a": 3, "b": 6, "c": 9, "v": 3, "u": 3, "J": 1}
    assert gradient == approx(expected, abs=1e-7)


NEURON = {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}
NEURON_GRADIENT = {"w0": -0.196611933, "x0": 0.393223866, "w1": -0.393223866, "x1": -0.589835799, "w2": 0.196611933}


@pytest.mark.parametrize(
    "equations",
    [
        ["f = 1/(1 + exp(-(w0*x0 + w1*x1 + w2)))"],
        ["f = sigmoid(w0*x0 + w1*x1 + w2)"],
        ["dot = w0*x0 + w1*x1 + w2", "f = sigmoid(dot)"],
        # CS231n's staged circuit, gate by gate, listed out of order
        ["f = 1/d", "a = w0*x0", "b = w1*x1", "s = a + b + w2", "n = -s", "ex = exp(n)", "d = 1 + ex"],
    ],
)
def test_cs231n_sigmoid_neuron(equations):
    graph = NumericGraph.compile(equations)
    assert graph.evaluate(NEURON)["f"] == approx(0.7310585786, abs=1e-10)
    gradient = graph.finite_differences(NEURON, "f")
    assert {k: gradient[k] for k in NEURON_GRADIENT} == approx(NEURON_GRADIENT, abs=1e-9)


def test_the_staged_neuron_has_the_interior_gradients_of_the_circuit():
    graph = NumericGraph.compile(["a = w0*x0", "b = w1*x1", "s = a + b + w2", "n = -s", "ex = exp(n)", "d = 1 + ex", "f = 1/d"])
    f = 1 / (1 + math.exp(-1))  # s = 1
    gradient = graph.finite_differences(NEURON, "f")
    assert gradient["s"] == approx(f * (1 - f), abs=1e-9)  # 0.19661193
    assert gradient["a"] == approx(f * (1 - f), abs=1e-9)  # add distributes
    assert gradient["n"] == approx(-f * (1 - f), abs=1e-9)
    assert gradient["d"] == approx(-(f**2), abs=1e-9)  # d(1/d) = -1/d² = -0.53444665
    assert gradient["ex"] == approx(-(f**2), abs=1e-9)


def test_fan_out_sums_the_paths():
    graph = NumericGraph.compile(["p = x*y", "s = y^2", "f = p + s"])
    values = {"x": 2, "y": 3}
    assert graph.evaluate(values)["f"] == 15.0
    gradient = graph.finite_differences(values, "f")
    assert gradient["y"] == approx(8, abs=1e-7)  # x + 2y
    assert gradient["x"] == approx(3, abs=1e-7)
    assert gradient["p"] == approx(1, abs=1e-7)
    assert gradient["s"] == approx(1, abs=1e-7)


# ---------------------------------------------------------------------------
# evaluate, override, finite differences
# ---------------------------------------------------------------------------


def test_override_pins_an_interior_node_and_recomputes_downstream():
    graph = NumericGraph.compile(["q = x + y", "f = q * z"])
    values = graph.evaluate(CS231N, override={"q": 10})
    assert values["q"] == 10.0
    assert values["f"] == -40.0
    assert graph.evaluate({"y": 5, "z": -4}, override={"x": 1})["f"] == -24.0  # a pinned leaf needs no value


def test_a_node_the_output_does_not_read_has_gradient_zero():
    graph = NumericGraph.compile(["q = x + y", "f = q * z", "g = f + 1"])
    gradient = graph.finite_differences(CS231N, "q")
    assert gradient["f"] == 0.0 and gradient["g"] == 0.0 and gradient["z"] == 0.0
    assert gradient["x"] == approx(1, abs=1e-7)


def test_nan_where_the_function_is_undefined_at_a_perturbed_point():
    graph = NumericGraph.compile(["f = sqrt(x) + y"])
    gradient = graph.finite_differences({"x": 0, "y": 1}, "f")
    assert math.isnan(gradient["x"])  # sqrt(-h)
    assert gradient["y"] == approx(1, abs=1e-7)


def test_the_step_is_relative_to_the_value():
    graph = NumericGraph.compile(["f = x^2"])
    assert graph.finite_differences({"x": 1e6}, "f")["x"] == approx(2e6, rel=1e-7)
    assert graph.finite_differences({"x": 1e-3}, "f")["x"] == approx(2e-3, rel=1e-6)  # h = step, not step·|x|


ANALYTIC = [
    # (equations, values, {name: analytic derivative of f})
    (
        ["f = x^3 sin(y) + exp(x y)/(1 + y^2)"],
        {"x": 0.7, "y": -1.3},
        {
            "x": lambda x, y: 3 * x**2 * math.sin(y) + y * math.exp(x * y) / (1 + y**2),
            "y": lambda x, y: x**3 * math.cos(y) + (x * math.exp(x * y) * (1 + y**2) - 2 * y * math.exp(x * y)) / (1 + y**2) ** 2,
        },
    ),
    (
        ["z = w x + b", "f = tanh(z)"],
        {"w": 0.5, "x": 1.5, "b": -0.2},
        {
            "w": lambda w, x, b: (1 - math.tanh(w * x + b) ** 2) * x,
            "x": lambda w, x, b: (1 - math.tanh(w * x + b) ** 2) * w,
            "b": lambda w, x, b: 1 - math.tanh(w * x + b) ** 2,
        },
    ),
    (
        ["f = ln(x) sqrt(y) + softplus(x - y)"],
        {"x": 2.5, "y": 4.0},
        {
            "x": lambda x, y: math.sqrt(y) / x + 1 / (1 + math.exp(-(x - y))),
            "y": lambda x, y: math.log(x) / (2 * math.sqrt(y)) - 1 / (1 + math.exp(-(x - y))),
        },
    ),
    (
        ["f = log(x, 2) + atan(x) + x^x"],
        {"x": 1.7},
        {"x": lambda x: 1 / (x * math.log(2)) + 1 / (1 + x**2) + x**x * (math.log(x) + 1)},
    ),
    (
        ["f = max(x, y) * relu(x - 1) + |y|"],
        {"x": 3.0, "y": -2.0},  # away from the kinks: max picks x, relu is linear, |y| = -y
        {"x": lambda x, y: 2 * x - 1, "y": lambda x, y: -1.0},
    ),
]


@pytest.mark.parametrize(("equations", "values", "derivatives"), ANALYTIC)
def test_finite_differences_agree_with_analytic_derivatives(equations, values, derivatives):
    gradient = NumericGraph.compile(equations).finite_differences(values, "f")
    for name, derivative in derivatives.items():
        assert gradient[name] == approx(derivative(**values), rel=1e-7), name


def test_values_may_be_arrays_that_broadcast():
    graph = NumericGraph.compile(["f = x * y"])
    x = np.array([1.0, 2.0, 3.0])
    values = graph.evaluate({"x": x, "y": 2})
    np.testing.assert_array_equal(values["f"], [2.0, 4.0, 6.0])
    assert values["y"] == 2.0 and isinstance(values["y"], float)
    gradient = graph.finite_differences({"x": x, "y": 2}, "f")
    np.testing.assert_allclose(gradient["x"], [2, 2, 2], atol=1e-7)
    np.testing.assert_allclose(gradient["y"], [1, 2, 3], atol=1e-7)  # one slope per point


def test_scalars_come_back_as_python_floats():
    values = NumericGraph.compile(["f = x + 1"]).evaluate({"x": 1})
    assert type(values["f"]) is float and type(values["x"]) is float


def test_evaluate_refuses_missing_and_stray_values():
    graph = NumericGraph.compile(["q = x + y", "f = q * z"])
    with pytest.raises(ValueError, match="no value for the leaf/leaves z"):
        graph.evaluate({"x": 1, "y": 2})
    with pytest.raises(ValueError, match="'q' is computed"):
        graph.evaluate({**CS231N, "q": 3})
    with pytest.raises(ValueError, match="'w'"):
        graph.evaluate({**CS231N, "w": 3})
    with pytest.raises(ValueError, match="'g' is neither"):
        graph.finite_differences(CS231N, "g")


# ---------------------------------------------------------------------------
# Gradient descent
# ---------------------------------------------------------------------------


def test_descend_on_a_parabola():
    steps = NumericGraph.compile(["f = (x - 3)^2"]).descend({"x": 0}, "f", ["x"], rate=0.1, steps=3)
    assert [s.step for s in steps] == [1, 2, 3]
    assert [s.parameters_after["x"] for s in steps] == approx([0.6, 1.08, 1.464], abs=1e-6)
    assert [s.gradient["x"] for s in steps] == approx([-6, -4.8, -3.84], abs=1e-6)  # 2(x - 3)
    assert steps[0].values_before == approx({"x": 0, "f": 9})
    assert steps[1].values_before["x"] == approx(0.6, abs=1e-6)
    assert [s.output_after for s in steps] == approx([5.76, 3.6864, 2.359296], abs=1e-6)


def test_descend_on_the_cs231n_circuit_as_in_the_spec():
    (step,) = NumericGraph.compile(["q = x + y", "f = q * z"]).descend(CS231N, "f", ["x", "y"], rate=0.1, steps=1)
    assert isinstance(step, DescentStep)
    assert step.values_before == {"x": -2.0, "y": 5.0, "z": -4.0, "q": 3.0, "f": -12.0}
    assert step.gradient == approx({"x": -4, "y": -4}, abs=1e-7)
    assert step.parameters_after == approx({"x": -1.6, "y": 5.4}, abs=1e-7)
    assert step.output_after == approx(-15.2, abs=1e-6)  # (−1.6 + 5.4)(−4): f went down


def test_descend_only_on_leaves():
    with pytest.raises(ValueError, match="'q' is not a leaf"):
        NumericGraph.compile(["q = x + y", "f = q * z"]).descend(CS231N, "f", ["q"], rate=0.1, steps=1)


# ---------------------------------------------------------------------------
# Reading conventions (the same language as tracer/calculus/expression.py)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("-x^2", {"x": 3}, -9),  # unary minus binds looser than power
        ("-2^2", {}, -4),
        ("2^3^2", {}, 512),  # right-associative
        ("2**3**2", {}, 512),
        ("(2^3)^2", {}, 64),
        ("2^-1", {}, 0.5),
        ("x^-2^2", {"x": 2}, 2**-4),
        ("1/2x", {"x": 4}, 2),  # implicit multiplication binds like *, left to right
        ("a/b*c", {"a": 6, "b": 3, "c": 2}, 4),
        ("2x", {"x": 3}, 6),
        ("2x^2", {"x": 3}, 18),
        ("2(x+1)", {"x": 3}, 8),
        ("(x+1)(x-1)", {"x": 3}, 8),
        ("x y", {"x": 3, "y": 4}, 12),
        ("x^2y", {"x": 3, "y": 4}, 36),
        ("2 sin(x)", {"x": 0.5}, 2 * math.sin(0.5)),
        ("x(1 - x)", {"x": 0.25}, 0.1875),  # a single letter before ( multiplies
        ("x1 + theta*w_2", {"x1": 1, "theta": 2, "w_2": 3}, 7),
        ("θ^2", {"θ": 3}, 9),
        ("e^x", {"x": 2}, math.e**2),
        ("2e", {}, 2 * math.e),
        ("e(x)", {"x": 2}, 2 * math.e),
        ("pi", {}, math.pi),
        ("π/2", {}, math.pi / 2),
        ("2pi", {}, 2 * math.pi),
        ("[x+1]^2", {"x": 2}, 9),
        ("[2(x+2)^2 - 1]^2", {"x": 0}, 49),
        ("x − y", {"x": 5, "y": 2}, 3),  # U+2212
        ("x – y", {"x": 5, "y": 2}, 3),  # en dash
        ("x·y", {"x": 5, "y": 2}, 10),
        ("x⋅y", {"x": 5, "y": 2}, 10),
        ("x×y", {"x": 5, "y": 2}, 10),
        ("x÷y", {"x": 5, "y": 2}, 2.5),
        ("x²", {"x": 3}, 9),
        ("x³", {"x": 3}, 27),
        ("2x²", {"x": 3}, 18),
        ("(x + 1)²", {"x": 2}, 9),
        ("√(x)", {"x": 9}, 3),
        ("|x|", {"x": -3}, 3),
        ("|x - 5| + 1", {"x": 2}, 4),
        ("2e-3", {}, 0.002),
        ("2e-3x", {"x": 1000}, 2),
        ("1.5E2", {}, 150),
        (".5 + 2.", {}, 2.5),
        ("log(8, 2)", {}, 3),
        ("log(e^2)", {}, 2),
        ("ln(e)", {}, 1),
        ("log10(1000)", {}, 3),
        ("log2(8)", {}, 3),
        ("x**2", {"x": 3}, 9),
    ],
)
def test_reading_conventions(text, values, expected):
    assert value(text, **values) == approx(expected, rel=1e-15, abs=1e-15)


def test_xw_is_one_variable():
    assert NumericGraph.compile(["f = xw"]).leaves == ("xw",)
    assert NumericGraph.compile(["f = x w"]).leaves == ("x", "w")


def test_e_is_euler_unless_e_is_variable():
    assert NumericGraph.compile(["f = e^x"]).leaves == ("x",)
    graph = NumericGraph.compile(["f = e^x"], e_is_variable=True)
    assert graph.leaves == ("e", "x")
    assert graph.evaluate({"e": 3, "x": 2})["f"] == 9.0
    assert NumericGraph.compile(["e = 2x"], e_is_variable=True).nodes == ("e",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("exp(1)", math.e), ("sqrt(16)", 4), ("sin(pi/2)", 1), ("cos(0)", 1), ("tan(pi/4)", 1),
        ("sec(0)", 1), ("csc(pi/2)", 1), ("cot(pi/4)", 1),
        ("asin(1)", math.pi / 2), ("arcsin(1)", math.pi / 2), ("acos(1)", 0), ("arccos(0)", math.pi / 2),
        ("atan(1)", math.pi / 4), ("arctan(1)", math.pi / 4),
        ("sinh(1)", (math.e - 1 / math.e) / 2), ("cosh(0)", 1), ("tanh(0)", 0),
        ("sigmoid(0)", 0.5), ("sigmoid(2)", 1 / (1 + math.exp(-2))), ("softplus(0)", math.log(2)),
        ("relu(-2)", 0), ("relu(3)", 3), ("max(2, 5)", 5), ("min(2, 5)", 2), ("abs(-4)", 4),
    ],
)
def test_functions(text, expected):
    assert value(text) == approx(expected, rel=1e-15, abs=1e-15)


def test_sigmoid_and_softplus_are_stable_far_out():
    with np.errstate(all="raise"):  # no overflow, not even internally
        assert value("sigmoid(-1000)") == 0.0
        assert value("sigmoid(1000)") == 1.0
        assert value("sigmoid(-40)") == approx(math.exp(-40) / (1 + math.exp(-40)), rel=1e-12)
        assert value("softplus(1000)") == 1000.0
        assert value("softplus(-40)") == approx(math.log1p(math.exp(-40)), rel=1e-12)


def test_undefined_values_are_nan_or_inf_without_warnings():
    with np.errstate(all="raise"):
        assert value("ln(x)", x=0) == -math.inf
        assert math.isnan(value("sqrt(x)", x=-1))
        assert value("1/x", x=0) == math.inf


# ---------------------------------------------------------------------------
# Bad text
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("equation", "message"),
    [
        ("f = foo(x)", "unknown function 'foo'"),
        ("f = w1(x)", "unknown function 'w1'"),
        ("f = sin x", "needs its argument in parentheses"),
        ("f = (x + 1", "'\\(' is never closed"),
        ("f = x + 1)", "unmatched '\\)'"),
        ("f = [x + 1)", "expected '\\]'"),
        ("f = |x", "'\\|' is never closed"),
        ("f = ()", "empty brackets"),
        ("f = 2 3", "missing operator before '3'"),
        ("f = x 2", "missing operator before '2'"),
        ("f = max(1)", "takes 2 argument"),
        ("f = sin(1, 2)", "takes 1 argument"),
        ("f = x +", "unexpected end"),
        ("f = ", "unexpected end"),
        ("f = x = y", "unexpected '='"),
        ("f = x; g = y", "unexpected character ';'"),
        ("import os", "expected 'name = expression'"),
        ("f x", "expected 'name = expression'"),
        ("= x", "expected 'name = expression'"),
        ("f = __import__('os').system('ls')", "unexpected character"),
        ("f = __import__", "unknown name '__import__'"),
        ("f = _x", "unknown name '_x'"),
        ("f = os.system", "unexpected character '.'"),
        ("f = x @ y", "unexpected character '@'"),
        ("f = 1٣", "unexpected character"),  # only ASCII digits
        ("sin = x", "cannot define 'sin'"),
        ("e = x", "cannot define 'e'"),
        ("pi = 3", "cannot define 'pi'"),
        ("__class__ = x", "not a name"),
    ],
)
def test_bad_text_is_refused(equation, message):
    with pytest.raises(GraphSyntaxError, match=message):
        NumericGraph.compile([equation])


def test_the_error_names_the_equation_and_column():
    with pytest.raises(GraphSyntaxError, match=r"equation 2 'f = q \* foo\(z\)': unknown function 'foo' at column 9"):
        NumericGraph.compile(["q = x + y", "f = q * foo(z)"])


def test_a_name_defined_twice_and_cycles_are_refused():
    with pytest.raises(GraphSyntaxError, match="equation 2 'f = y': 'f' is defined twice"):
        NumericGraph.compile(["f = x", "f = y"])
    with pytest.raises(GraphSyntaxError, match="cycle: a → b → a"):
        NumericGraph.compile(["a = b + 1", "b = 2a"])
    with pytest.raises(GraphSyntaxError, match="cycle: x → x"):
        NumericGraph.compile(["x = x + 1"])
    with pytest.raises(GraphSyntaxError, match="cycle: q → r → s → q"):
        NumericGraph.compile(["f = q", "q = r", "r = s", "s = q + x"])
    with pytest.raises(GraphSyntaxError, match="a list of equations"):
        NumericGraph.compile("f = x")  # type: ignore[arg-type]


def test_nesting_is_bounded_at_max_depth_and_never_overflows_the_stack():
    limit = sys.getrecursionlimit()
    assert value("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH, x=2) == 2.0
    assert value("-" * MAX_DEPTH + "x", x=2) == 2.0  # an even number of signs
    assert value("exp(" * 50 + "x" + ")" * 50, x=-1000) == approx(math.exp(0) if False else value("exp(" * 50 + "x" + ")" * 50, x=-1000))
    for text in ["(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), "-" * 10_000 + "x", "(" * 100_000, "2^" * 1000 + "2", "sin(" * 300 + "x" + ")" * 300]:
        with pytest.raises(GraphSyntaxError, match="nested too deeply"):
            NumericGraph.compile([f"f = {text}"])
    assert sys.getrecursionlimit() == limit  # restored


def test_a_long_chain_of_equations_needs_no_recursion():
    equations = [f"v{i} = v{i - 1} + 1" for i in range(5000, 0, -1)]  # listed backwards
    graph = NumericGraph.compile(equations)
    assert graph.nodes[0] == "v1" and graph.nodes[-1] == "v5000"
    assert graph.evaluate({"v0": 0})["v5000"] == 5000.0
