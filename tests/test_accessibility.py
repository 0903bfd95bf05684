"""Every kind of page the tool writes, as a browser and a screen reader get it: axe-core (Deque's
engine, from npm, run in Debian's chromium) reports no serious or critical violation at a desktop
width or a phone's; the MathML is valid (``mathml_check``, after MathML Core's content model); a
matrix's columns stand apart; a printed page never ends with a heading."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from axe import serious, violations
from browser import chromium
from conftest import ROOT, needs
from mathml_check import problems
from tracer import load, solve
from tracer.core.solution import GraphSolution
from tracer.render.document import render
from tracer.render.graph import render_graph

browser = needs("chromium")
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def _cli(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "tracer", *args], capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    return result.stdout


def page_kinds(tmp: Path) -> dict[str, str]:
    """One page of every kind: a network's solution (scalar and matrix form), a graph's, an answer,
    a derivation, a descent (optimizers compared), a quiz's sheet and key."""
    mazur = solve(load(ROOT / "examples" / "mazur.yaml"))
    pages = {
        "solution": render(mazur, "html"),
        "matrix": render(mazur, "html", form="matrix"),
        "conv": render(solve(load(ROOT / "examples" / "conv_maxpool.yaml")), "html"),
        "graph": render_graph(solve(load(ROOT / "examples" / "graph_cs231n.yaml")), "html"),
        "ask": _cli("ask", str(ROOT / "examples" / "mazur.yaml"), "dloss/dW1[1,1]", "-f", "html"),
        "diff": _cli("diff", "(2x^2-1)^3", "--at", "x=1", "-f", "html"),
        "descend": _cli("descend", "x^2 + 3y^2", "--start", "x=-4,y=1", "--lr", "0.1", "--steps", "5", "--optimizer", "sgd,momentum", "-f", "html"),
    }
    _cli("quiz", str(ROOT / "examples" / "mazur.yaml"), "--count", "2", "-o", str(tmp / "quiz"), "--formats", "html", "--jobs", "1")
    pages["quiz-sheet"] = (tmp / "quiz" / "questions.html").read_text()
    pages["quiz-key"] = (tmp / "quiz" / "key.html").read_text()
    return {name: page for name, page in pages.items() if page}


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, str]:
    return page_kinds(tmp_path_factory.mktemp("pages"))


@browser
@pytest.mark.slow
def test_axe_finds_no_serious_or_critical_violation_on_any_page_kind(pages, tmp_path):
    """On main: 'link-in-text-block' (serious) on every page with "from (k)" links — #1f4e99 on
    #444, 1.2:1, and no underline; at a phone's width 'scrollable-region-focusable' (serious) on
    each wide equation that scrolls but could not be reached by keyboard; no <main> anywhere."""
    jobs = [(name, width) for name in pages for width in (1200, 420)]

    def run(job):
        name, width = job
        found = violations(pages[name], tmp_path / f"{name}-{width}.html", width=width)
        return job, found

    with ThreadPoolExecutor(2) as pool:
        results = dict(pool.map(run, jobs))
    bad = {f"{name} at {width}px": [(v["id"], v["nodes"][:2]) for v in serious(found)] for (name, width), found in results.items() if serious(found)}
    assert not bad, bad
    assert not [job for job, found in results.items() if any(v["id"] in ("landmark-one-main", "region") for v in found)]


@browser
def test_axe_is_run_for_real(tmp_path):
    """The harness can fail: a grey link without underline in grey text (serious), an image
    without alt text (critical)."""
    bad = ('<!DOCTYPE html><html lang="en"><head><title>t</title></head><body><main><p style="color:#444">see '
           '<a href="#x" style="color:#1f4e99;text-decoration:none">(1)</a> and more text here</p>'
           '<img src="w.png"></main></body></html>')
    found = {v["id"] for v in serious(violations(bad, tmp_path / "bad.html"))}
    assert {"link-in-text-block", "image-alt"} <= found


@browser
def test_a_wide_equation_takes_the_keyboards_focus_at_a_phones_width(pages, tmp_path):
    """axe-core 4.14 no longer reports 'scrollable-region-focusable' in Chrome (since Chrome 130
    a scroller is focusable by itself) but Safari still needs the tab stop: the page gives every
    box that scrolls sideways ``tabindex="0"``, and none to a box that fits."""
    path = tmp_path / "mazur.html"
    path.write_text(pages["matrix"], encoding="utf-8")
    narrow = chromium(path.as_uri(), "--dump-dom", "--virtual-time-budget=10000", "--window-size=420,1600")
    wide = chromium(path.as_uri(), "--dump-dom", "--virtual-time-budget=10000", "--window-size=4000,1600")
    assert len(re.findall(r'tabindex="0"', narrow)) > len(re.findall(r'tabindex="0"', wide))
    assert re.search(r'<div[^>]*class="[^"]*(eq|wide)[^"]*"[^>]*tabindex="0"|<div[^>]*tabindex="0"[^>]*class="[^"]*(eq|wide)', narrow)


def test_every_page_kind_writes_valid_mathml(pages):
    """On main each δ-form transpose, ``\\begin{pmatrix}…\\end{pmatrix}^{\\top}``, came out as an msup
    of four children (fence, table, fence, ⊤) — on 18 of the shipped examples' pages."""
    for name, page in pages.items():
        assert problems(page) == [], name


@pytest.mark.slow
def test_every_example_writes_valid_mathml():
    for path in EXAMPLES:
        solution = solve(load(path))
        if isinstance(solution, GraphSolution):
            assert problems(render_graph(solution, "html")) == [], path.name
            continue
        for form in ("scalar", "matrix"):
            assert problems(render(solution, "html", form=form)) == [], (path.name, form)


def test_the_mathml_validator_sees_a_script_with_four_children():
    four = "<math><msup><mo>(</mo><mtable><mtr><mtd><mn>1</mn></mtd></mtr></mtable><mo>)</mo><mrow><mo>⊤</mo></mrow></msup></math>"
    assert problems(four) == ["math/msup: 4 children, 2 expected"]
    assert problems("<math><mtable><mtd><mn>1</mn></mtd></mtable></math>")[0] == "math/mtable: a table with something other than rows"


#: measures, after layout, the gap between neighbouring entries of every matrix (a table whose cells carry no columnalign)
GAPS = """<script>
window.addEventListener("load", function () {
  var gaps = [];
  document.querySelectorAll("mtable").forEach(function (t) {
    t.querySelectorAll(":scope > mtr").forEach(function (row) {
      var cells = Array.from(row.children).filter(function (c) { return !c.hasAttribute("columnalign"); });
      for (var k = 1; k < cells.length; k++) {
        var a = cells[k - 1].firstElementChild, b = cells[k].firstElementChild;
        if (a && b) gaps.push(b.getBoundingClientRect().left - a.getBoundingClientRect().right);
      }
    });
  });
  document.body.setAttribute("data-gaps", JSON.stringify(gaps));
});
</script>"""


@browser
def test_a_matrix_columns_stand_apart(pages, tmp_path):
    """On main every mtd had no horizontal padding: W's row "−0.0226025405−0.0227402422" read as one number."""
    path = tmp_path / "matrix.html"
    path.write_text(pages["matrix"].replace("</body>", GAPS + "</body>"), encoding="utf-8")
    dom = chromium(path.as_uri(), "--dump-dom", "--window-size=1200,1600")
    gaps = json.loads(re.search(r'data-gaps="([^"]*)"', dom).group(1).replace("&quot;", '"'))
    assert len(gaps) >= 8 and min(gaps) >= 12  # 0.5em either side of a 17px font: 17px apart


@browser
@needs("pdftotext")
def test_printing_keeps_headings_with_their_content(pages, tmp_path):
    """The page printed by chromium (its print style): no page ends with a section's heading."""
    headings = set()
    for page in (pages["solution"], pages["quiz-key"]):
        headings |= {re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", page)}
    for name in ("solution", "quiz-key"):
        html = tmp_path / f"{name}.html"
        html.write_text(pages[name], encoding="utf-8")
        pdf = tmp_path / f"{name}.pdf"
        chromium(html.as_uri(), f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        printed = [p for p in text.split("\f") if p.strip()]
        assert len(printed) > 3, name
        for number, content in enumerate(printed[:-1], start=1):
            last = [line.strip() for line in content.splitlines() if line.strip()][-1]
            assert last not in headings, (name, number, last)
