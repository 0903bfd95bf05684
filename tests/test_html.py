"""The web page (``-f html``) as a reader sees it: every shipped example opened in a real headless
browser (Debian's chromium, installed by scripts/install-browser.sh), its DOM after layout and
scripts read back: math typeset (no LaTeX, no ``$$`` left in the text), one MathML equation per
numbered step of the solution, every link resolving, nothing fetched from the network; screenshots
of Mazur's page and of a graph problem saved to ``artifacts/html/`` for a human to look at."""

import functools
import html as html_lib
import json
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import ROOT, needs
from tracer import load, loads, solve
from tracer.calculus.derivatives import derive_program
from tracer.calculus.expression import parse_program
from tracer.core.optimizers import rule as optimizer_rule
from tracer.spec import OptimizerSpec
from tracer.core.solution import GraphSolution
from tracer.render import mathml
from tracer.render.document import equation_mathml, render
from tracer.render.graph import render_graph
from tracer.render.views import EquationView

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
ARTIFACTS = ROOT / "artifacts" / "html"
browser = needs("chromium")


def page(solution) -> str:
    return render_graph(solution, "html") if isinstance(solution, GraphSolution) else render(solution, "html")


def numbered_steps(solution) -> int:
    """How many numbered equations the solution's document has: each written-out step's, and the closing pass's."""
    written = [section for step in solution.steps if step.derived for section in step.sections] + list(solution.closing)
    return sum(len(section.steps) for section in written)


def chromium(url: str, *args: str) -> str:
    with tempfile.TemporaryDirectory(prefix="tracer-chromium-") as profile:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               f"--user-data-dir={profile}", *args, url]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class Reader(HTMLParser):
    """What a reader sees in a dumped DOM: the text (outside style and script), the numbered
    equations and their MathML, ids, links and any address outside the page."""

    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.skip = 0
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.external: list[str] = []
        self.equations: list[str] = []  # the id of each div.eq
        self.equation_math = 0  # <math> elements directly in an equation's body
        self.maths = 0
        self.fallbacks = 0
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag in ("style", "script"):
            self.skip += 1
        if "id" in a:
            self.ids.append(a["id"])
        for name in ("href", "src", "xlink:href", "action", "poster", "data"):
            value = a.get(name)
            if value is None:
                continue
            if name == "href" and value.startswith("#"):
                self.hrefs.append(value[1:])
            elif not value.startswith(("#", "url(#")):
                self.external.append(f"{tag} {name}={value}")
        if tag == "div" and "eq" in classes:
            self.equations.append(a.get("id", ""))
        if tag == "math":
            self.maths += 1
            if self.stack and self.stack[-1] == "eq-body":
                self.equation_math += 1
        if "fallback" in classes:
            self.fallbacks += 1
        if tag not in ("br", "meta", "link", "img", "input", "hr", "mspace", "path", "circle", "line", "polyline"):
            self.stack.append("eq-body" if "eq-body" in classes else tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "meta", "link", "img", "input", "hr", "mspace", "path", "circle", "line", "polyline"):
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self.skip -= 1
        if tag not in ("br", "meta", "link", "img", "input", "hr", "mspace", "path", "circle", "line", "polyline") and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self.skip:
            self.text.append(data)


def read(dom: str) -> Reader:
    reader = Reader()
    reader.feed(dom)
    return reader


RAW_LATEX = re.compile(r"\\[A-Za-z]+|\$\$|\$[^$\s]|[_^]\{")


# ---------------------------------------------------------------------------
# Every page in one browser: a harness holds each page in an iframe (srcdoc: same origin as the
# harness, so its script can read them), and after everything has loaded and run it writes, per
# page, its DOM and what it measured there: equation numbers not at their equation's right edge,
# labels of a figure that overlap. One chromium process instead of one per page.
# ---------------------------------------------------------------------------

HARNESS_SCRIPT = """
window.addEventListener("load", function () {
  function overlap(a, b) { return a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1; }
  var out = [];
  document.querySelectorAll("iframe").forEach(function (frame) {
    var d = frame.contentDocument, misaligned = [], overlaps = [];
    d.querySelectorAll("div.eq").forEach(function (eq) {
      var number = eq.querySelector(":scope > .eq-number");
      if (!number) { misaligned.push(eq.id + " (no number)"); return; }
      var box = eq.getBoundingClientRect(), n = number.getBoundingClientRect();
      if (box.right - n.right > 8 || n.left < box.left + box.width / 2) misaligned.push(eq.id);
    });
    d.querySelectorAll("svg").forEach(function (svg) {
      var labels = [];
      svg.querySelectorAll("foreignObject math, text").forEach(function (t) {
        var b = t.getBoundingClientRect();
        if (b.width > 0 && b.height > 0) labels.push([b, t.textContent.trim()]);
      });
      for (var i = 0; i < labels.length; i++)
        for (var j = i + 1; j < labels.length; j++)
          if (overlap(labels[i][0], labels[j][0])) overlaps.push(labels[i][1] + " / " + labels[j][1]);
    });
    out.push({name: frame.dataset.name, dom: d.documentElement.outerHTML, misaligned: misaligned, overlaps: overlaps});
  });
  var pre = document.createElement("pre");
  pre.id = "result";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
"""


def browse(pages: dict[str, str], tmp: Path) -> dict[str, dict]:
    """Open every page (name → html) in one headless chromium; per page its DOM after layout and
    scripts, and what the harness measured (``misaligned``, ``overlaps``)."""
    frames = "\n".join(f'<iframe data-name="{html_lib.escape(name)}" width="1100" height="1000" srcdoc="{html_lib.escape(text, quote=True)}"></iframe>'
                       for name, text in pages.items())
    harness = tmp / "harness.html"
    harness.write_text(f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>{frames}<script>{HARNESS_SCRIPT}</script></body></html>",
                       encoding="utf-8")
    dom = chromium(harness.as_uri(), "--dump-dom", "--virtual-time-budget=60000")
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, flags=re.S)
    assert found, dom[-2000:]
    results = {r["name"]: r for r in json.loads(html_lib.unescape(found.group(1)))}
    assert set(results) == set(pages)
    return results


def browse_in_two(pages: dict[str, str], tmp: Path) -> dict[str, dict]:
    """:func:`browse` in two chromium processes, the pages shared out by size (the machine has two cores;
    a harness's pages share one renderer, which lays them out one after the other)."""
    halves: list[dict[str, str]] = [{}, {}]
    sizes = [0, 0]
    for name, text in sorted(pages.items(), key=lambda item: -len(item[1])):
        k = sizes.index(min(sizes))
        halves[k][name] = text
        sizes[k] += len(text)
    for k in (0, 1):
        (tmp / str(k)).mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(lambda k: browse(halves[k], tmp / str(k)), (0, 1)))
    return {**parts[0], **parts[1]}


def problems(name: str, html: str, result: dict, anchors: list[str]) -> list[str]:
    """What is wrong with a page as the browser shows it: raw LaTeX, an equation count or anchors
    other than ``anchors`` (one typeset equation per numbered step), links to no id, addresses
    outside the page, text fallbacks, duplicate ids, numbers off the right edge, overlapping labels."""
    r = read(result["dom"])
    text = " ".join(r.text)
    found = []
    raw = RAW_LATEX.findall(text)
    if raw:
        found.append(f"raw LaTeX in the text: {sorted(set(raw))[:5]}")
    if r.equation_math != len(anchors) or r.equations != anchors:
        found.append(f"{r.equation_math} typeset equations in {len(r.equations)} numbered ones {r.equations[:3]}…, expected {len(anchors)} {anchors[:3]}…")
    unresolved = sorted(set(r.hrefs) - set(r.ids))
    if unresolved:
        found.append(f"links to no id: {unresolved[:5]}")
    if r.external:
        found.append(f"addresses outside the page: {r.external[:3]}")
    if re.search(r"https?://(?!www\.w3\.org/(1998/Math/MathML|2000/svg|1999/xhtml))", html):
        found.append("an external URL in the page")
    if r.fallbacks:
        found.append(f"{r.fallbacks} equations fell back to text")
    if len(set(r.ids)) != len(r.ids):
        found.append(f"duplicate ids: {sorted({i for i in r.ids if r.ids.count(i) > 1})[:5]}")
    if result["misaligned"]:
        found.append(f"equation numbers not right-aligned: {result['misaligned'][:5]}")
    if result["overlaps"]:
        found.append(f"overlapping labels in a figure: {result['overlaps'][:5]}")
    return found


def numbered(count: int, anchor: str = "") -> list[str]:
    return [f"{anchor}eq-{n}" for n in range(1, count + 1)]


@functools.lru_cache(maxsize=1)
def example_pages() -> dict[str, tuple[str, list[str]]]:
    """Every shipped example's page, and the anchors of its numbered equations (made once per session)."""
    def one(path: Path) -> tuple[str, tuple[str, list[str]]]:
        solution = solve(load(path))
        return path.stem, (page(solution), numbered(numbered_steps(solution)))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, EXAMPLES))


DIFFS = [("(2x^2 - 1)^3", None, "x=1"), ("z = x^2 + e^y; x = 2t + 1; y = t^2", "t", None), ("L = x w^2 + b^2", "w,b", "x=1,w=2,b=3"),
         ("sigmoid(x)", None, "x=0"), ("relu(x)", None, "x=0"), ("(x - 2)/(x + 2)", None, None)]
DESCENTS = [("theta^2", "theta=-4", "0.1", "3", "sgd", "3"), ("(x^2 + y - 11)^2 + (x + y^2 - 7)^2", "x=4,y=0", "0.01", "40", "sgd", "2"),
            ("x^2", "x=-4", "0.1", "20", "sgd,momentum,adam", "2"), ("x^2 + 3y^2", "x=-4,y=1", "0.1", "5", "rmsprop,adagrad,momentum", "2"),
            ("theta^2", "theta=-4", "1.5", "3", "sgd", "3")]


def diff_expected(expr: str, wrt: str | None, at: str | None) -> int:
    """The numbered rows of a diff page: each rule, each algebra step, the result, the textbook form, the value."""
    program = parse_program(expr)
    count = 0
    for d in derive_program(program, wrt.split(",") if wrt else None):
        count += len(list(d.root.walk())) + len(d.rewrites) + 1 + (d.textbook is not None and d.textbook != d.result) + (at is not None)
    return count


def descend_expected(expr: str, start: str, lr: str, steps: str, optimizers_: str, show: str) -> int:
    """The numbered rows of a descend page: per written-out update and variable, the update (plain
    descent) or the gradient and each of the optimizer's equations."""
    program = parse_program(expr)
    variables = len(program.free_variables())
    count = 0
    for name in optimizers_.split(","):
        rows = 1 if name == "sgd" else 1 + len(optimizer_rule(OptimizerSpec(name)).equations)
        count += min(int(show), int(steps)) * variables * rows
    return count


def cli_page(args: list[str]) -> str:
    from click.testing import CliRunner

    from tracer.cli import cli

    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def calculus_pages() -> dict[str, tuple[str, list[str]]]:
    pages = {}
    for k, (expr, wrt, at) in enumerate(DIFFS, 1):
        args = ["diff", expr, "-f", "html"] + (["--wrt", wrt] if wrt else []) + (["--at", at] if at else [])
        pages[f"diff-{k}"] = (cli_page(args), numbered(diff_expected(expr, wrt, at)))
    for k, (expr, start, lr, steps, names, show) in enumerate(DESCENTS, 1):
        args = ["descend", expr, "--start", start, "--lr", lr, "--steps", steps, "--optimizer", names, "--show", show, "-f", "html"]
        pages[f"descend-{k}"] = (cli_page(args), numbered(descend_expected(expr, start, lr, steps, names, show)))
    return pages


def quiz_pages() -> dict[str, tuple[str, list[str]]]:
    """The question sheet (no numbered equation) and the key (each variant's worked solution, its anchors v1-eq-…)
    of a network's and a graph's quiz."""
    from tracer.render import graph_quiz
    from tracer.render.quiz import Finisher, SetInfo, key, sheet
    from tracer.teach.quiz import generate, parse_spec

    pages = {}
    for name, count in (("mazur", 3), ("graph_ng", 2)):
        problem = load(ROOT / "examples" / f"{name}.yaml")
        graph = not hasattr(problem, "layers")
        variants = generate(problem, count, 1, finish=Finisher(4, ("html",), graph_quiz.finish_variant if graph else None), jobs=1)
        info = SetInfo(file=f"examples/{name}.yaml", seed=1, count=count, spec=parse_spec(problem), title=problem.title)
        anchors = [a for v in variants for a in numbered(numbered_steps(solve(v.problem)), f"v{v.number}-")]
        pages[f"quiz-{name}-questions"] = (sheet(variants, info, "html"), [])
        pages[f"quiz-{name}-key"] = (key(variants, info, "html"), anchors)
    return pages


@browser
@pytest.mark.slow
def test_every_page_passes_the_browser_test(tmp_path):
    """Every shipped example's page, diff and descend pages, a quiz's sheet and key: all opened in
    one chromium, each checked as a reader sees it."""
    pages = {**example_pages(), **calculus_pages(), **quiz_pages()}
    results = browse_in_two({name: text for name, (text, _) in pages.items()}, tmp_path)
    failed = {name: found for name, (text, anchors) in pages.items() if (found := problems(name, text, results[name], anchors))}
    assert not failed, failed
    assert {path.stem for path in EXAMPLES} <= set(pages) and len(EXAMPLES) >= 30


@browser
def test_the_browser_test_sees_a_misplaced_number_and_overlapping_labels(tmp_path):
    """The harness's own measurements can fail: a number in the middle of its equation, two labels on top of each other."""
    bad = ('<!DOCTYPE html><html><body><div class="eq" id="eq-1" style="display:grid;grid-template-columns:1fr 1fr 1fr">'
           '<div class="eq-body"><math><mn>1</mn></math></div><a class="eq-number" href="#eq-1">(1)</a><span></span></div>'
           '<svg width="200" height="100"><text x="10" y="50">w = 0.15</text><text x="14" y="52">w = 0.2</text></svg></body></html>')
    result = browse({"bad": bad, "good": render(solve(load(ROOT / "examples" / "mazur.yaml")), "html")}, tmp_path)
    assert result["bad"]["misaligned"] == ["eq-1"] and result["bad"]["overlaps"] == ["w = 0.15 / w = 0.2"]
    assert result["good"]["misaligned"] == [] and result["good"]["overlaps"] == []


@browser
def test_screenshots_of_mazur_a_graph_problem_and_the_other_pages():
    """Saved for review (artifacts/ is not committed): look at them."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    others = {"diff": cli_page(["diff", "(2x^2 - 1)^3", "--at", "x=1", "-f", "html"]),
              "descend": cli_page(["descend", "x^2", "--start", "x=-4", "--lr", "0.1", "--steps", "20", "--optimizer", "sgd,momentum,adam",
                                   "--show", "2", "-f", "html"]),
              "quiz-key": quiz_pages()["quiz-mazur-key"][0]}
    for name in ("mazur", "graph_cs231n", *others):
        html = ARTIFACTS / f"{name}.html"
        html.write_text(others[name] if name in others else page(solve(load(ROOT / "examples" / f"{name}.yaml"))), encoding="utf-8")
        png = ARTIFACTS / f"{name}.png"
        png.unlink(missing_ok=True)
        chromium(html.as_uri(), f"--screenshot={png}", "--window-size=1200,2000")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000


@browser
def test_hovering_a_reference_marks_its_equation(tmp_path):
    """The page's script runs in the browser: a synthetic mouseover on "from (3)" marks (3)."""
    html = render(solve(load(ROOT / "examples" / "mazur.yaml")), "html")
    probe = "<script>document.querySelector('a.ref[href=\"#eq-3\"]').dispatchEvent(new MouseEvent('mouseover'));</script></body>"
    file = tmp_path / "hover.html"
    file.write_text(html.replace("</body>", probe), encoding="utf-8")
    dom = chromium(file.as_uri(), "--dump-dom")
    assert re.search(r'<div class="eq referenced" id="eq-3">', dom)
    assert not re.search(r'class="eq referenced" id="eq-(?!3")', dom)


def test_mazur_page_has_the_textbook_numbers_and_links():
    html = render(solve(load(ROOT / "examples" / "mazur.yaml")), "html")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "mermaid" not in html
    # (19): ∂E_total/∂w5 = 0.74136507 × 0.186815602 × 0.593269992 = 0.0821670406, from (12), (14), (18)
    eq19 = html.split('id="eq-19"')[1].split('id="eq-20"')[0]
    assert "<mn>0.0821670406</mn>" in eq19
    assert [f"#eq-{n}" for n in (12, 14, 18)] == re.findall(r'class="ref" href="(#eq-\d+)"', eq19)
    assert '<a class="eq-number" href="#eq-19">(19)</a>' in eq19
    # the update, as the source writes it: w5+ = 0.4 − 0.5 × 0.0821670406 = 0.35891648
    assert "<mn>0.35891648</mn>" in html
    assert html.count("<details") >= 5 and "@media print" in html and "break-before: page" in html
    assert "http://" not in html.replace("http://www.w3.org/", "") and "https://" not in html


def test_every_example_converts_without_fallback():
    """latex2mathml converts everything our LaTeX uses (\\frac, \\left( \\right), \\partial, \\hat, pmatrix, \\odot, …)."""
    fallbacks = {}
    for name, (html, _) in example_pages().items():
        count = html.count('class="fallback"')
        if count:
            fallbacks[name] = count
    assert fallbacks == {} and len(example_pages()) == len(EXAMPLES)


def test_what_latex2mathml_cannot_convert_falls_back_to_the_text_rendering():
    good = EquationView(1, r"\frac{\partial E}{\partial w_{5}}", [], [], "0.5", [], rows=[("=", r"\left(-2.5\right) \times 0.2")])
    bad = EquationView(2, r"\unknowncommand{x}", [], [], "1", [], rows=[("=", "1")])
    unbalanced = EquationView(3, r"\left( x", [], [], "2", [], rows=[("=", "2")])
    out = equation_mathml([good, bad, unbalanced], lambda: {2: "x = 1 (text)"})
    assert "<mfrac>" in out[1] and "fallback" not in out[1]
    assert out[2] == '<span class="fallback">x = 1 (text)</span>'
    assert out[3] == '<span class="fallback">\\left( x = 2</span>'
    with pytest.raises(mathml.NotConverted):
        mathml.fragment(r"\begin{aligned} a &= b \end{aligned}")  # latex2mathml leaves the & as text
    with pytest.raises(mathml.NotConverted):
        mathml.fragment(r"\text{<script>alert(1)</script>}")  # its \text is not escaped: refused


HOSTILE = """
title: '<script>alert(1)</script> & <img src=x onerror=alert(2)> $x$ \\frac{1}{2}'
network:
  inputs: 1
  layers:
    - {units: 1, activation: sigmoid, weights: [[0.5]]}
loss: {kind: mse}
data: [{x: [1.0], y: [0.2]}]
training: {learning_rate: 0.1}
"""


def test_text_from_the_problem_file_is_escaped():
    html = render(solve(loads(HOSTILE, "hostile.yaml")), "html")
    assert "<script>alert" not in html and "<img" not in html
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(2)&gt;" in html
    assert html.count("<script>") == 1  # the page's own


def test_cli_writes_the_page(tmp_path):
    from click.testing import CliRunner

    from tracer.cli import cli

    out = tmp_path / "cs.html"
    result = CliRunner().invoke(cli, ["solve", str(ROOT / "examples" / "graph_cs231n.yaml"), "-f", "html", "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and html.count('class="eq"') == 9


def test_ask_writes_a_page_for_one_quantity(tmp_path):
    """`tracer ask FILE QUANTITY -f html`: the solution page's head and equations, only the
    steps the quantity needs, numbered 1… with links that resolve."""
    from click.testing import CliRunner

    from tracer.cli import cli

    result = CliRunner().invoke(cli, ["ask", str(ROOT / "examples" / "mazur.yaml"), "dE_total/dw5", "-f", "html"])
    assert result.exit_code == 0, result.output
    html = result.output
    assert html.startswith("<!DOCTYPE html>") and "<title>dE_total/dw5 — A step-by-step backpropagation example (Mazur)</title>" in html
    r = read(html)
    assert r.equations == [f"eq-{n}" for n in range(1, 11)] and r.equation_math == 10 and not r.fallbacks
    assert set(r.hrefs) <= set(r.ids)
    # (10): ∂E_total/∂w5 = 0.74136507 × 0.186815602 × 0.593269992 = 0.0821670406, from (7), (8), (9)
    eq10 = html.split('id="eq-10"')[1]
    assert "<mn>0.0821670406</mn>" in eq10 and re.findall(r'class="ref" href="(#eq-\d+)"', eq10) == ["#eq-7", "#eq-8", "#eq-9"]
    assert '<p class="verdict"><strong>dE_total/dw5</strong> = <math><mrow><mn>0.0821670406</mn></mrow></math></p>' in html
    assert not RAW_LATEX.findall(" ".join(r.text))
    assert "https://" not in html and "http://" not in html.replace("http://www.w3.org/", "")
    hostile = (tmp_path / "hostile.yaml")
    hostile.write_text(HOSTILE)
    page_ = CliRunner().invoke(cli, ["ask", str(hostile), "loss", "-f", "html"]).output
    assert "<script>alert" not in page_ and "&lt;script&gt;alert(1)&lt;/script&gt;" in page_ and page_.count("<script>") == 1
