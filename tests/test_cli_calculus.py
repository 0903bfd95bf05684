"""`tracer diff` and `tracer descend`: every question of issue #4 answered by a command."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET

import click
import pytest
from click.testing import CliRunner
from pytest import approx

from tracer.cli.calculus import descend, diff

cli = click.Group(commands=[diff, descend])


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def as_json(*args: str) -> dict:
    return json.loads(ok(*args, "-f", "json"))


# ---------------------------------------------------------------------------
# diff: the questions
# ---------------------------------------------------------------------------


def test_quiz_1_1_f1_text():
    out = ok("diff", "(2x^2 - 1)^3", "--at", "x=1")
    assert "chain rule: d/dx (2·x^2 − 1)^3 = (3·(2·x^2 − 1)^2)·(4·x) = 12·x·(2·x^2 − 1)^2" in out
    assert "[outer u^3; inner u = 2·x^2 − 1]" in out
    assert "power rule: d/du u^3 = 3·u^2" in out
    assert "df/dx = 12·x·(2·x^2 − 1)^2" in out
    assert out.rstrip().endswith("at x = 1: df/dx = 12")


def test_quiz_1_1_f2_text():
    out = ok("diff", "[2(x+2)^2 - 1]^2", "--at", "x=0")
    assert "df/dx = 8·(x + 2)·(2·(x + 2)^2 − 1)" in out
    assert "at x = 0: df/dx = 112" in out


def test_diff_json_is_spec_5():
    data = as_json("diff", "(2x^2 - 1)^3", "--at", "x=1")
    assert {"expression", "wrt", "derivative", "steps", "value"} <= set(data)
    assert data["expression"] == "(2*x**2 - 1)**3"
    assert data["wrt"] == "x"
    assert data["derivative"] == "12*x*(2*x**2 - 1)**2"
    assert data["value"] == 12.0
    assert all({"rule", "expression", "result"} <= set(step) for step in data["steps"])
    # the sum rule's parts in the order they are typed: 2x^2, then −1 (issue 25, item 10)
    assert [s["rule"] for s in data["steps"]] == ["chain", "power", "sum", "constant multiple", "power", "constant"]
    assert data["steps"][0]["parts"] == {"outer": "u**3", "inner": "2*x**2 - 1", "u": "u"}


@pytest.mark.parametrize(
    "expr, dw, db",
    [
        ("L = x w^2 + b^2", "2*w*x", "2*b"),
        ("L = x e^w + e^b", "x*exp(w)", "exp(b)"),
        ("L = [y - (x w + b)]^2", "2*x*(b + w*x - y)", "2*(b + w*x - y)"),
        ("L = a ln(x w + b)", "a*x/(b + w*x)", "a/(b + w*x)"),
    ],
)
def test_section_7_2_3_partials_json(expr, dw, db):
    data = as_json("diff", expr, "--wrt", "w,b")
    assert data["wrt"] == ["w", "b"]
    assert [p["derivative"] for p in data["partials"]] == [dw, db]
    assert [p["name"] for p in data["partials"]] == ["L", "L"]


def test_section_7_2_3_text_uses_partial_notation():
    out = ok("diff", "L = x w^2 + b^2", "--wrt", "w", "--wrt", "b", "--at", "x=2,w=3,b=-1")
    assert "∂L/∂w = 2·w·x" in out and "∂L/∂b = 2·b" in out
    assert "constant: ∂/∂w b^2 = 0   [does not depend on w]" in out
    assert "at x = 2, w = 3, b = −1: ∂L/∂w = 12" in out
    assert "at x = 2, w = 3, b = −1: ∂L/∂b = −2" in out


def test_all_partials_when_no_wrt_is_given():
    data = as_json("diff", "x y^2")
    assert [p["wrt"] for p in data["partials"]] == ["x", "y"]


def test_section_7_3_sigmoid_and_tanh():
    # source 004 §7.3.1: σ' = e^{−x}/(1 + e^{−x})² = … = σ(1 − σ)
    out = ok("diff", "sigmoid(x)", "--at", "x=0")
    assert "chain rule" in out and "outer 1/u" in out
    assert "algebra: = ((1 + e^(−x)) − 1)/(1 + e^(−x))^2   [add and subtract 1 in the numerator]" in out
    assert "algebra: = σ·(1 − σ)   [factor out σ]" in out
    assert "at x = 0: dσ/dx = 0.25" in out
    # source 004 §7.3.4: tanh = (e^x − e^{−x})/(e^x + e^{−x}), quotient rule, = 1 − tanh²
    out = ok("diff", "tanh(x)", "--at", "x=0")
    assert "quotient rule: d/dx ((e^x − e^(−x))/(e^x + e^(−x)))" in out
    assert "algebra: = 1 − tanh(x)^2   [substitute tanh(x) = (e^x − e^(−x))/(e^x + e^(−x))]" in out
    assert "at x = 0: d tanh/dx = 1" in out
    # anything but σ(v) or tanh(v) alone goes by the ordinary rules — and then into σ, as the texts end it
    out = ok("diff", "sigmoid(2x)")
    assert "add and subtract 1" not in out and "chain rule" in out
    assert "textbook form: df/dx = 2·σ·(1 − σ)   with σ = 1/(1 + e^(−2·x))" in out
    assert "tanh rule" in ok("diff", "tanh(x^2)")


def test_section_7_6_multivariable_chain():
    out = ok("diff", "z = x^2 + e^y; x = 2t + 1; y = t^2", "--at", "t=1")
    assert "multivariable chain rule: dz/dt = ∂z/∂x·dx/dt + ∂z/∂y·dy/dt = (2·x)·2 + e^y·(2·t)" in out
    assert "∂z/∂x: sum rule: ∂/∂x (x^2 + e^y) = 2·x" in out
    assert "dx/dt: sum rule: d/dt (2·t + 1) = 2" in out
    assert "dy/dt: power rule: d/dt t^2 = 2·t" in out
    assert "substitution: = (2·(2·t + 1))·2 + e^(t^2)·(2·t)" in out
    assert "at t = 1: dz/dt = 17.4365637" in out  # 4·3 + 2e
    data = as_json("diff", "z = x^2 + e^y; x = 2t + 1; y = t^2", "--at", "t=1")
    assert data["value"] == approx(12 + 2 * 2.718281828459045, abs=1e-12)
    assert data["steps"][0]["rule"] == "multivariable chain"


def test_md_and_tex():
    md = ok("diff", "(2x^2 - 1)^3", "-f", "md", "--at", "x=1")
    assert md.count("$$") >= 4 and r"\begin{aligned}" in md and r"\text{chain rule}" in md
    assert "12 x \\left(2 x^{2} - 1\\right)^{2}" in md
    tex = ok("diff", "L = x w^2 + b^2", "--wrt", "w", "-f", "tex")
    assert r"\begin{align*}" in tex and r"\frac{\partial L}{\partial w}" in tex


def test_output_file(tmp_path):
    target = tmp_path / "d.json"
    result = run("diff", "x^2", "-f", "json", "-o", str(target))
    assert result.exit_code == 0
    assert json.loads(target.read_text())["derivative"] == "2*x"


def test_expr_may_start_with_a_minus():
    assert "df/dx = −2·x" in ok("diff", "-x^2")


# ---------------------------------------------------------------------------
# descend: source 002 and source 004 §7.8
# ---------------------------------------------------------------------------


def test_source_002_alpha_0_1_written_out():
    out = ok("descend", "y = theta^2", "--start", "theta=-4", "--lr", "0.1", "--steps", "3")
    assert "θ₁ = θ₀ − α·y'(θ₀) = −4 − 0.1 × (−8) = −3.2" in out
    assert "θ₂ = θ₁ − α·y'(θ₁) = −3.2 − 0.1 × (−6.4) = −2.56" in out
    # erratum: source 002 prints θ₃ = −3.012
    assert "θ₃ = θ₂ − α·y'(θ₂) = −2.56 − 0.1 × (−5.12) = −2.048" in out
    assert "note:" not in out


def test_source_002_alpha_1_5_diverges_with_a_note():
    out = ok("descend", "theta^2", "--start", "theta=-4", "--lr", "1.5", "--steps", "3")
    assert "θ₃ = θ₂ − α·f'(θ₂) = −16 − 1.5 × (−32) = 32" in out
    assert "note: diverging: the value rises at every step from step 0 on (16 → 1024); the learning rate α = 1.5 is too large" in out
    data = as_json("descend", "theta^2", "--start", "theta=-4", "--lr", "1.5", "--steps", "3")
    assert data["diverged"] is True


def test_source_002_alpha_0_01():
    """Errata: the source prints θ₁ = −3.98 and θ₂ = −3.9996 (gradient −1.96)."""
    data = as_json("descend", "theta^2", "--start", "theta=-4", "--lr", "0.01", "--steps", "2")
    assert [it["point"]["theta"] for it in data["iterates"]] == approx([-4, -3.92, -3.8416], abs=1e-12)
    assert data["iterates"][1]["gradient"]["theta"] == approx(-7.84, abs=1e-12)


def test_descend_json_is_spec_5():
    data = as_json("descend", "x^2", "--start", "x=-4", "--lr", "0.1", "--steps", "1")
    first = data["iterates"][0]
    assert first["point"] == {"x": -4.0} and first["value"] == 16.0 and first["gradient"] == {"x": -8.0}
    assert data["iterates"][1]["point"]["x"] == approx(-3.2)


@pytest.mark.parametrize(
    "start, end",
    [("x=4,y=0", (3.584428, -1.8481264)), ("x=1,y=0", (3, 2)), ("x=-4,y=0", (-3.779310, -3.283186)), ("x=-2,y=2", (-2.805118, 3.131313))],
)
def test_section_7_8_himmelblau(start, end):
    data = as_json("descend", "(x^2 + y - 11)^2 + (x + y^2 - 7)^2", "--start", start, "--lr", "0.01", "--steps", "200")
    final = data["iterates"][-1]
    assert len(data["iterates"]) == 201
    assert (final["point"]["x"], final["point"]["y"]) == approx(end, abs=5e-7)


def test_himmelblau_text_every_20_like_the_book():
    out = ok("descend", "(x^2 + y - 11)^2 + (x + y^2 - 7)^2", "--start", "x=4,y=0", "--lr", "0.01", "--steps", "200", "--every", "20", "--digits", "8")
    assert "after 200 steps: x = 3.5844283, y = −1.8481265" in out
    rows = [line.split()[0] for line in out.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert rows == [str(k) for k in range(0, 201, 20)]


def test_svg_plot_1d_and_2d(tmp_path):
    one = tmp_path / "theta.svg"
    result = run("descend", "theta^2", "--start", "theta=-4", "--lr", "0.1", "--steps", "5", "--plot", str(one))
    assert result.exit_code == 0
    root = ET.fromstring(one.read_text())
    polylines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(polylines) == 2  # the curve and the path
    assert len(root.findall("{http://www.w3.org/2000/svg}circle")) == 6
    two = tmp_path / "himmelblau.svg"
    run("descend", "(x^2 + y - 11)^2 + (x + y^2 - 7)^2", "--start", "x=-2,y=2", "--lr", "0.01", "--steps", "50", "--plot", str(two))
    root = ET.fromstring(two.read_text())
    assert len(root.findall("{http://www.w3.org/2000/svg}polyline")) == 1


def test_pgfplots_plot_and_tex_output(tmp_path):
    figure = tmp_path / "path.tex"
    run("descend", "theta^2", "--start", "theta=-4", "--lr", "0.1", "--steps", "3", "--plot", str(figure))
    text = figure.read_text()
    assert text.startswith(r"\begin{tikzpicture}") and r"\addplot" in text and "(-4,16)" in text
    tex = ok("descend", "theta^2", "--start", "theta=-4", "--lr", "0.1", "--steps", "3", "-f", "tex")
    assert r"\theta_{1} &= \theta_{0} - \alpha" in tex and r"\begin{tikzpicture}" in tex and r"\toprule" in tex
    md = ok("descend", "theta^2", "--start", "theta=-4", "--lr", "0.1", "--steps", "3", "-f", "md")
    assert "| $k$ |" in md and "$$" in md


def test_overflow_note():
    out = ok("descend", "x^2", "--start", "x=1", "--lr", "10", "--steps", "1000")
    assert "note: diverged: the numbers left the floating-point range at step" in out
    data = as_json("descend", "x^2", "--start", "x=1", "--lr", "10", "--steps", "1000")
    assert data["stopped_at"] is not None
    assert data["iterates"][-1]["value"] is None  # JSON has no Infinity


# ---------------------------------------------------------------------------
# Errors: one line on stderr, exit 2, no traceback, fast
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, line",
    [
        (["diff", "foo(x)"], "tracer diff: EXPR: unknown function 'foo' at column 1"),
        (["diff", "x + foo(x)"], "tracer diff: EXPR: unknown function 'foo' at column 5"),
        (["diff", "x^^2"], "tracer diff: EXPR: unexpected '^' at column 3; expected a number, a variable, a function or '('"),
        (["diff", "x^2", "--wrt", "q"], "tracer diff: --wrt: 'q' does not occur in the expression (variables: x)"),
        (["diff", "x^2 + y", "--at", "x=1"], "tracer diff: --at: no value for y (variables: x, y)"),
        (["diff", "x^2", "--at", "q=1"], "tracer diff: --at: 'q' is not a variable of the expression (variables: x)"),
        (["diff", "x^2", "--at", "x=foo(1)"], "tracer diff: --at: unknown function 'foo' at column 3"),
        (["descend", "x^2", "--start", "y=1", "--lr", "0.1", "--steps", "1"], "tracer descend: --start: 'y' is not a variable of the expression (variables: x)"),
        (["descend", "x^2 + y", "--start", "x=1", "--lr", "0.1", "--steps", "1"], "tracer descend: --start: no value for y (variables: x, y)"),
        (["descend", "x^2", "--start", "x=1", "--lr", "-0.1", "--steps", "1"], "tracer descend: --lr: the learning rate must be a positive number, got -0.1"),
        (["descend", "x^2", "--start", "x=1", "--lr", "a", "--steps", "1"], "tracer descend: --lr: a number was expected, not the variable 'a' at column 1"),
        (["descend", "x^2", "--start", "x=1", "--lr", "0.1", "--steps", "1", "--plot", "p.png"], "tracer descend: --plot: p.png: use a .svg file (SVG) or a .tex file (pgfplots)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, line):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert result.stderr == line + "\n"
    assert result.stdout == ""


HOSTILE = [
    "__import__('os').system('touch {marker}')",
    "().__class__",
    "x+" * 51_200,  # 100 kB
    "(" * 50_000 + "x" + ")" * 50_000,
    "(" * 4_000 + "x" + ")" * 4_000,
    "sin(" * 199 + "x" + ")" * 199,
    "(" * 150 + "x" + "+1)^2" * 150,
    "x^^2",
    "9^9^9^9",
    "+".join(f"sin({k}x)" for k in range(1, 600)),
]


@pytest.mark.parametrize("command", ["diff", "descend"])
@pytest.mark.parametrize("index", range(len(HOSTILE)))
def test_hostile_input_exit_2_fast_and_nothing_runs(command, index, tmp_path):
    marker = tmp_path / "pwned"
    expr = HOSTILE[index].format(marker=marker)
    extra = ["--start", "x=1", "--lr", "0.1", "--steps", "3"] if command == "descend" else []
    start = time.process_time()
    result = CliRunner().invoke(cli, [command, expr, *extra])
    elapsed = time.process_time() - start
    assert result.exit_code == 2, result.output
    assert elapsed < 5.0  # a guard against a hang, not a speed test (measured: benchmarks/hostile.py)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"tracer {command}: EXPR: ")
    assert "Traceback" not in result.output
    assert not marker.exists()


def test_e_as_a_variable():
    assert "∂f/∂x = 2·e·x" in ok("diff", "e x^2", "--wrt", "x", "--e-variable")  # e is a second variable
    assert "df/dx = e^x" in ok("diff", "e^x")


def test_an_undecidable_probe_point_is_no_traceback():
    out = ok("diff", "max(0, (x^(e))/(y^(e)))", "--wrt", "x")
    assert "∂f/∂x = e·x^(e − 1)·H(x^e/y^e)/y^e" in out


# ---------------------------------------------------------------------------
# -f html: a page each (tests/test_html.py opens them in the browser)
# ---------------------------------------------------------------------------


def test_diff_page_numbers_every_rule_and_links_it_to_the_rules_it_combines():
    import re

    page = ok("diff", "(2x^2 - 1)^3", "--at", "x=1", "-f", "html")
    assert page.startswith("<!DOCTYPE html>") and "<title>f(x) = (2·x^2 − 1)^3</title>" in page
    # (1) the chain rule combines (2) the outer power rule and (3) the inner sum rule
    eq1 = page.split('id="eq-1"')[1].split('id="eq-2"')[0]
    assert "chain rule" in eq1 and re.findall(r'class="ref" href="(#eq-\d+)"', eq1) == ["#eq-2", "#eq-3"]
    eq8 = page.split('id="eq-8"')[1]  # the value at x = 1, from the result (7)
    assert "<mn>12</mn>" in eq8 and re.findall(r'class="ref" href="(#eq-\d+)"', eq8) == ["#eq-7"]
    assert page.count('class="eq"') + page.count('class="eq indent-') == 8 and "$" not in page.split("<body>")[1]
    assert "https://" not in page and "http://" not in page.replace("http://www.w3.org/", "")


def test_descend_page_links_each_update_to_what_it_reads_and_draws_the_paths():
    import re

    page = ok("descend", "x^2", "--start", "x=-4", "--lr", "0.1", "--steps", "20", "--optimizer", "sgd,momentum", "--show", "2", "-f", "html")
    # sgd: (1) x1, (2) x2 from (1); momentum: (3) g1, (4) v1 from (3), (5) x1 from (4), (6) g2 from (5), (7) v2 from (4), (6) …
    refs = {int(n): re.findall(r'class="ref" href="#eq-(\d+)"', body.split('class="eq-number"')[0])
            for n, body in re.findall(r'id="eq-(\d+)">(.*?)</div>\n', page, flags=re.S)}
    assert refs == {1: [], 2: ["1"], 3: [], 4: ["3"], 5: ["4"], 6: ["5"], 7: ["4", "6"], 8: ["5", "7"]}
    assert '<mo>=</mo><mo form="prefix">−</mo><mn>3.2</mn></mrow></mtd>' in page.split('id="eq-1"')[1].split('id="eq-2"')[0]  # x1 = … = −3.2
    assert page.count("<svg") == 1 and "<polyline" in page and "momentum" in page.split("<svg")[1]  # the comparison plot, its legend
    assert "<th class=\"num\">" in page and "$" not in page.split("<body>")[1]


# ---------------------------------------------------------------------------
# Issue 17: inputs that hung, crashed or were wrongly failed — each now answered
# (exit 0) or refused in one line naming EXPR or the flag (exit 2), in under 5 s
# ---------------------------------------------------------------------------

ISSUE_17_REFUSED = [
    (["max(0.5 * (-asin(3))^1000, w)"], "EXPR: asin(…) is not a real number at column 13"),
    (["softplus(-log(y, asin(2  e)))"], "EXPR: asin(…) is not a real number at column 18"),
    (["[sec(log(w, asin(softplus(1))))]"], "EXPR: asin(…) is not a real number at column 13"),
    (["z = max(x, 0); x = asin(2)"], "EXPR: asin(…) is not a real number at column 20"),
    (["atan(tan(sinh(cosh(10)))) + sec(abs(t) + 0.5)"], "EXPR: sinh(…) is out of range (a constant beyond 10^±1000) at column 10"),
    (["(x+1)^" * 150 + "x"], "EXPR: too many powers with a variable exponent stacked (more than 8) at column 852"),
    (["x^x^x^x^x", "--at", "x=e"], "--at: the derivative with respect to x at x=e is outside the range of double precision"),
    (["exp(exp(x))", "--at", "x=2^1000"], "--at: the derivative with respect to x at x=2^1000 is outside the range of double precision"),
    (["exp(0^x + pi)"], "EXPR: a power of 0 with a variable exponent has no derivative (it would be 0^u·ln 0, and ln 0 is undefined) at column 6"),
    (["0^y"], "EXPR: a power of 0 with a variable exponent has no derivative"),
    (["z = -x; x = 10", "--wrt", "x"], "--wrt: 'x' is defined (x = 10), so it is not a variable to differentiate with respect to (variables: none)"),
    (["1/x", "--at", "x=0"], "--at: the derivative with respect to x is undefined at x=0"),
    (["sqrt(x)", "--at", "x=-1"], "--at: the derivative with respect to x is not real at x=-1"),
    (["exp(x)", "--at", "x=1000"], "--at: the derivative with respect to x at x=1000 is outside the range of double precision"),
    (["x^2", "--at", "x=2^1000*2^100"], "--at: the value of x is outside the range of double precision"),
]


@pytest.mark.parametrize("args, line", ISSUE_17_REFUSED, ids=lambda a: a[0][:30] if isinstance(a, list) else None)
def test_issue_17_refused_in_one_line(args, line):
    start = time.process_time()
    result = CliRunner().invoke(cli, ["diff", *args])
    assert time.process_time() - start < 5.0
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("tracer diff: " + line), result.stderr
    assert "Traceback" not in result.output


NOWHERE_REAL_EXPRESSION = ("the expression is not real for any real value of x: its derivative would be complex "
                           "(a square root or logarithm of a negative number, or asin/acos of a value beyond ±1)")


@pytest.mark.parametrize("text", ["sqrt(-1-x^2)", "log(-exp(x))", "asin(exp(x)+1)", "acos(2+x^2)", "x + sqrt(-1 - x^2)"])
def test_an_expression_real_nowhere_is_refused_not_given_a_complex_derivative(text):
    """√(−1 − x²) was answered "df/dx = I·x/√(x^2 + 1)" and log(−e^x) "df/dx = 1": derivatives of
    functions with no real value, the imaginary unit printed as SymPy's I. SymPy proves them
    nowhere real (is_extended_real False, asked once no probe point gave a real value)."""
    result = CliRunner().invoke(cli, ["diff", text])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"tracer diff: EXPR: {NOWHERE_REAL_EXPRESSION}\n"


def test_an_expression_real_only_where_a_variable_is_zero_is_refused_by_its_imaginary_derivative():
    """x·√(−1 − y²) is real where x = 0 only: SymPy cannot call it nowhere real, no probe point
    gives a real value, and its derivative i·√(y² + 1) has the imaginary unit."""
    result = CliRunner().invoke(cli, ["diff", "x*sqrt(-1-y^2)"])
    assert result.exit_code == 2, result.output
    assert result.stderr == ("tracer diff: EXPR: the derivative with respect to x is not real (it has the imaginary unit i), "
                             "and the expression is real at no point tried\n")


@pytest.mark.parametrize("text, last", [
    ("asin(100(x-1))", "df/dx = 100/√(1 − 10000·(x − 1)^2)"),  # real on 0.99 ≤ x ≤ 1.01 only, between the grid's points
    ("abs(sqrt(-1-x^2))", "df/dx = x/√(x^2 + 1)"),  # |i·√(1 + x²)| is real everywhere
    ("sqrt(x-1)", "df/dx = 1/(2·√(x − 1))"),
])
def test_an_expression_real_on_part_of_the_line_is_answered(text, last):
    result = CliRunner().invoke(cli, ["diff", text])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == last


def test_issue_17_refusals_of_descend_too():
    result = CliRunner().invoke(cli, ["descend", "z = max(x, 0); x = asin(2)", "--start", "x=1", "--lr", "0.1", "--steps", "1"])
    assert result.exit_code == 2 and result.stderr == "tracer descend: EXPR: asin(…) is not a real number at column 20\n"
    result = CliRunner().invoke(cli, ["descend", "x^2", "--start", "x=2^1000*2^100", "--lr", "0.1", "--steps", "1"])
    assert result.exit_code == 2 and result.stderr.startswith("tracer descend: --start: the value of x is outside the range of double precision")


def test_a_start_with_no_finite_value_is_refused_not_called_a_divergence():
    """1/x at 0, (1+x)^1000·(1+y)^1000 at 1/2 (10^352): 'diverged at step 0, the learning rate is too large' was wrong."""
    for expr, start in [("1/x", "x=0"), ("(1+x)^1000*(1+y)^1000", "x=0.5,y=0.5")]:
        result = CliRunner().invoke(cli, ["descend", expr, "--start", start, "--lr", "0.1", "--steps", "3"])
        assert result.exit_code == 2
        assert result.stderr == f"tracer descend: --start: the function or its gradient at {start} cannot be computed in double precision (a value on the way is undefined or beyond its range)\n"


def _central_difference(text: str, wrt: str, point: dict[str, str], digits: int = 60):
    """d text / d wrt at point, independently of tracer's rules, of its evaluator and of
    sympy.diff: SymPy's evalf of the expression as parsed, a central difference at 60 digits."""
    import mpmath
    import sympy as sp

    from tracer.calculus.expression import parse

    expr = parse(text)
    symbols = {s.name: s for s in expr.free_symbols}

    def at(v):
        values = {symbols[k]: (v if k == wrt else sp.Rational(x)) for k, x in point.items()}
        return mpmath.mpf(str(sp.re(sp.N(expr.xreplace(values), digits))))

    with mpmath.workdps(digits):
        h = sp.Rational(1, 10**20)
        return (at(sp.Rational(point[wrt]) + h) - at(sp.Rational(point[wrt]) - h)) / (2 * mpmath.mpf(str(sp.N(h, digits))))


@pytest.mark.parametrize(
    "text, at",
    [
        ("(x+1)^(x+1)^(x+1)^(x+1)^2", "x=0.3"),
        ("relu(log(y^x + t, softplus(asin(x))) + t^3)", "x=0.5,y=1.5,t=2"),
        ("sigmoid(abs(softplus(asin(y^2))))", "y=0.7"),
        ("relu(sec(y - y^1000))", "y=0.9"),
        ("(softplus(x)/pi^10)^y", "x=0.5,y=1.5"),
        ("x^x^x^x^x", "x=1.2"),
    ],
)
def test_issue_17_answered_and_right(text, at):
    """Each value printed agrees with a central difference computed without tracer's rules."""
    start = time.process_time()
    data = as_json("diff", text, "--at", at)
    assert time.process_time() - start < 5.0
    point = dict(pair.split("=") for pair in at.split(","))
    for derivation in data.get("partials", [data]):
        expected = _central_difference(text, derivation["wrt"], point)
        assert derivation["value"] == approx(float(expected), rel=1e-9, abs=1e-12), (derivation["wrt"], derivation["derivative"])


def test_issue_17_equal_forms_are_not_a_failed_verification():
    """(2t + 2)·(x+1)^1000·(y+1)^1000 from sympy.diff and the rules' 2(t + 1)·… are equal: at
    every probe point beyond 10^100, they were judged different (exit 1)."""
    out = ok("diff", "(1+x)^1000*(1+y)^1000*(1+t)^2")
    assert "∂f/∂t = 2·(t + 1)·(x + 1)^1000·(y + 1)^1000" in out
    assert "∂f/∂x = 1000·(t + 1)^2·(x + 1)^999·(y + 1)^1000" in out
    out = ok("diff", "(softplus(x)/pi^1000)^y")  # answered before: still, and the same forms
    assert "∂f/∂y = (ln(e^x + 1)/π^1000)^y·ln(ln(e^x + 1)/π^1000)" in out


def test_diff_and_descend_take_the_format_from_the_output_name(tmp_path):
    """Without -f, -o's suffix names the format (as solve does); with -f, a contradicting
    suffix is exit 2 naming both."""
    from click.testing import CliRunner

    from tracer.cli import cli

    runner = CliRunner()
    done = runner.invoke(cli, ["diff", "x^2", "-o", str(tmp_path / "d.json")])
    assert done.exit_code == 0 and json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))["expression"] == "x**2"
    done = runner.invoke(cli, ["descend", "x^2", "--start", "x=1", "--lr", "0.1", "--steps", "2", "-o", str(tmp_path / "d.html")])
    assert done.exit_code == 0 and (tmp_path / "d.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    done = runner.invoke(cli, ["diff", "x^2", "-f", "json", "-o", str(tmp_path / "d.md")])
    assert done.exit_code == 2 and "a .md name contradicts -f json" in done.output


@pytest.mark.parametrize("text, line", [("x^e", "  power rule: d/dx x^e = e·x^(e − 1)"), ("x^pi", "  power rule: d/dx x^π = π·x^(π − 1)")])
def test_a_constant_exponent_is_written_once_in_the_usual_order(text, line):
    """The power rule's step was "e·x^(−1 + e) = e·x^(e − 1)": the as-built exponent in SymPy's
    order (−1 before e, both numbers), then the same in the textbook's."""
    result = CliRunner().invoke(cli, ["diff", text])
    assert result.exit_code == 0, result.output
    assert line in result.stdout.splitlines(), result.stdout


def test_the_product_rule_names_its_factors_in_the_printed_order():
    """sin(x)·cos(x) was "[left cos(x), right sin(x)]": SymPy keeps cos(x) first among its
    arguments, while the expression is printed, as typed, sin(x)·cos(x)."""
    result = CliRunner().invoke(cli, ["diff", "sin(x)*cos(x)"])
    assert result.exit_code == 0, result.output
    assert ("  product rule: d/dx (sin(x)·cos(x)) = cos(x)·cos(x) + sin(x)·(−sin(x)) = cos(x)^2 − sin(x)^2   "
            "[left sin(x), right cos(x)]") in result.stdout.splitlines(), result.stdout
