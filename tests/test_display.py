"""In Jupyter a result displays itself: a solution, a graph solution, tracer.ask/diff/descend's
answers give the Markdown document, a LaTeX fragment of their equations (no preamble), and
HTML only once the renderers have an html format (None until then: Jupyter shows the Markdown)."""

import subprocess
import sys

import re

import pytest

import tracer
from tracer.render import document


@pytest.fixture(scope="module")
def mazur():
    return tracer.solve("examples/mazur.yaml")


def _html_format() -> bool:
    try:
        document.render(tracer.solve("examples/xor.yaml"), "html")
    except ValueError:
        return False
    return True


def test_a_solution_shows_its_markdown_and_its_equations(mazur):
    md = mazur._repr_markdown_()
    # without pandoc's front matter, which a notebook shows as a rule and "pagetitle: …"
    assert md.startswith("# A step-by-step backpropagation example (Mazur)\n") and "0.0821670406" in md
    tex = mazur._repr_latex_()
    assert r"\documentclass" not in tex and r"\usepackage" not in tex
    assert tex.count("$$") % 2 == 0 and r"\tag{10}" in tex
    assert "= 0.0821670406" in tex and "0.35891648" in tex  # ∂E/∂w5 and w5's update


def test_html_only_when_the_renderers_have_it(mazur):
    page = mazur._repr_html_()
    if _html_format():
        assert "0.0821670406" in page
    else:
        assert page is None


def test_a_graph_solution_displays_itself():
    g = tracer.solve("examples/graph_cs231n.yaml")
    assert "−12" in g._repr_markdown_() or "-12" in g._repr_markdown_()
    assert r"f &= q \cdot z = 3 \times \left(-4\right) = -12" in g._repr_latex_()


def test_ask_answers_in_the_names_it_was_asked_in(mazur):
    answer = tracer.ask(mazur, "dE_total/dw5")
    assert answer.value == pytest.approx(0.0821670406, abs=5e-11) and float(answer) == answer.value
    assert answer.render().endswith("dE_total/dw5 = 0.0821670406\n")
    assert len(answer.steps) == 10
    assert r"\frac{\partial E_{\text{total}}}{\partial w_{5}}" in answer._repr_latex_()
    assert "**dE\\_total/dw5** = 0.0821670406" in answer._repr_markdown_()
    assert answer.to_json()["value"] == answer.value
    assert tracer.ask("examples/mazur.yaml", "w5").steps == ()  # a given number: no derivation


def test_diff_and_descend_display_themselves():
    d = tracer.diff("(2x^2-1)^3", at="x=1")
    assert d.value == 12.0 and str(d.derivative) == "12*x*(2*x**2 - 1)**2"
    assert "chain rule" in d._repr_latex_() and r"\documentclass" not in d._repr_latex_()
    assert d.to_json()["value"] == 12.0
    e = tracer.descend("theta^2", start={"theta": -4}, lr=0.1, steps=3)
    assert [i.point[0] for i in e.iterates] == pytest.approx([-4, -3.2, -2.56, -2.048])
    assert "tikzpicture" not in e._repr_latex_() and r"\begin{array}{rrrr}" in e._repr_latex_()
    assert "| $3$ | $-2.048$ |" in e._repr_markdown_()
    both = tracer.descend("x^2", start="x=-4", lr=0.1, steps=3, optimizer="sgd,momentum", beta=0.9)
    assert len(both.runs) == 2 and both.runs[1].final.point[0] == pytest.approx(-0.248, abs=1e-12)  # v: −8, −13.6, −15.92; x: −3.2, −1.84, −0.248
    for result in (d, e, both):  # in a notebook: the web page (tracer diff/descend -f html) as a fragment of the notebook's page
        page = result._repr_html_()
        root = re.match(r'<div class="tracer-display" id="(tracer-[0-9a-f]{10})">', page).group(1)
        assert "<!DOCTYPE" not in page and f'id="{root}-eq-1"' in page  # its ids its own (tracer.render.fragment)
        assert result.render("html").startswith("<!DOCTYPE html>") and 'id="eq-1"' in result.render("html")  # the command's page
    assert both._repr_html_().count("<svg") == 1


def test_import_tracer_loads_no_renderer():
    code = "import sys, tracer; tracer.solve('examples/mazur.yaml'); print(any(m.startswith('tracer.render') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
