"""Documents: numbers formatted once, LaTeX that compiles without overfull boxes in every
theme, Markdown that a real renderer accepts, problem-file text escaped, printed numbers
equal to the engine's verified values."""

import html as html_lib
import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import K, needs
from tracer import load, loads, solve
from tracer.numbers import fmt, fmt_operand
from tracer.render.step_printer import escape_markdown, tex_width
from tracer.notation import THEMES
from tracer.core.solution import GraphSolution, refs_of
from tracer.render.document import compile_pdf, render
from tracer.render.graph import render_graph
from tracer.render.user_text import escape_markdown_text

EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLE_DIR.glob("*.yaml"))
HAS_TEX = shutil.which("pdflatex") is not None
latex = needs("pdflatex")


def test_number_format_has_no_float_noise():
    assert fmt(0.1 + 0.2) == "0.3"
    assert fmt(0.082167041, 9) == "0.082167041"
    assert fmt(-0.0) == "0"
    assert fmt(3.5102e-05, 5) == "3.5102e−05"
    assert fmt(3.5102e-05, 5, "latex") == r"3.5102 \times 10^{-5}"
    assert fmt(1234.5, 3) == "1235" or fmt(1234.5, 3) == "1234"
    assert fmt(2.0) == "2"
    # the policy: fixed notation from 1e-4 up to 1e9, scientific outside (never 1.0e-01 in prose)
    assert fmt(0.0001) == "0.0001" and fmt(0.00012345, 3) == "0.000123"
    assert fmt(-3.5e-7, 3) == "−3.5e−07" and fmt(-3.5e-7, 3, "latex") == r"-3.5 \times 10^{-7}"
    assert fmt(0.1, 9) == "0.1" and fmt(1.5e12, 3, "latex") == r"1.5 \times 10^{12}"
    assert fmt_operand(-3.5e-7, 3, "latex") == r"\left(-3.5 \times 10^{-7}\right)"


def test_negative_operands_are_parenthesised():
    assert fmt_operand(-2.5) == "(−2.5)"
    assert fmt_operand(-2.5, dialect="latex") == r"\left(-2.5\right)"
    assert fmt_operand(0.04) == "0.04"


def test_substituted_negative_numbers_in_parentheses():
    sol = solve(load("examples/mazur.yaml"))
    text = render(sol, "text")
    assert "0.5 − 0.5 × (−0.0226025405) = 0.51130127" in text


def _equation_values(text: str) -> dict[int, str]:
    """Equation number → the value printed at the end of its text line."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^\((\d+)\) .* = ([^ =]+?)(?:   \[from .*\])?(?:   \(.*\))?$", line)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


def test_printed_numbers_equal_the_verified_values():
    sol = solve(load("examples/mazur.yaml"))
    assert sol.verification.ok
    text = render(sol, "text", digits=9)
    printed = _equation_values(text)
    steps = [s for s in sol.all_steps()]
    assert len(printed) == len(steps)
    for k, step in enumerate(steps, 1):
        value = float(printed[k].replace("−", "-"))
        assert value == pytest.approx(step.value, rel=5e-9, abs=1e-12), (k, step.id)


def document(solution, fmt_: str, **options) -> str:
    """A network's or a graph's document (a graph has no themes)."""
    if isinstance(solution, GraphSolution):
        return render_graph(solution, fmt_, **options)
    return render(solution, fmt_, **options)


def test_markdown_blocks_balanced_and_numbered():
    for path in EXAMPLES:
        md = document(solve(load(path)), "md")
        assert md.count("$$") % 2 == 0, path
        assert "\\tag" not in md, path  # pandoc --mathml drops \tag: the number is written in the math
        numbers = [int(n) for n in re.findall(r"\\qquad \((\d+)\)\n\$\$", md)]
        assert numbers == list(range(1, len(numbers) + 1)), path
        anchors = [int(n) for n in re.findall(r'<a id="eq-(\d+)"></a>\n\n\$\$', md)]
        assert anchors == numbers, path
        links = {int(n) for n in re.findall(r"\[\((\d+)\)\]\(#eq-(?:\d+)\)", md)}
        assert links <= set(numbers), path


@needs("pandoc")
def test_markdown_equation_numbers_and_links_survive_pandoc_mathml(tmp_path):
    """pandoc --mathml keeps every equation's number in the page's text, and every
    "from (n)" is a link to an anchor the page has."""
    md = render(solve(load("examples/mazur.yaml")), "md", notation="mazur")
    path = tmp_path / "mazur.md"
    path.write_text(md)
    html = subprocess.run(["pandoc", "-f", "markdown", "-t", "html", "--mathml", str(path)], capture_output=True, text=True, check=True).stdout
    steps = len(list(solve(load("examples/mazur.yaml")).all_steps()))
    assert steps == 68
    ids = [int(n) for n in re.findall(r'<a id="eq-(\d+)"', html)]
    assert ids == list(range(1, steps + 1))
    hrefs = [int(n) for n in re.findall(r'href="#eq-(\d+)"', html)]
    assert hrefs and set(hrefs) <= set(ids)
    # out_o1 (eq. 7) comes from net_o1 (eq. 5): the link sits in the text after the display
    assert re.search(r'from <a href="#eq-5">\(5\)</a>', html)
    maths = re.findall(r'<a id="eq-\d+"></a>.*?(<math display="block".*?</math>)', html, flags=re.S)
    assert len(maths) == steps
    for k, block in enumerate(maths, 1):  # the number inside the typeset equation, as its reader sees it
        text = re.sub(r"\s+", "", re.sub(r"<annotation.*?</annotation>|<[^>]+>", "", block, flags=re.S))
        assert text.endswith(f"({k})"), (k, text[-40:])


@needs("pandoc")
def test_markdown_renders_with_pandoc_mathjax(tmp_path):
    md = render(solve(load("examples/mazur.yaml")), "md", notation="mazur")
    path = tmp_path / "mazur.md"
    path.write_text(md)
    html = subprocess.run(["pandoc", "-f", "markdown", "-t", "html", "--mathjax", str(path)], capture_output=True, text=True, check=True).stdout
    blocks = md.count("$$") // 2
    assert html.count('class="math display"') == blocks
    assert "$$" not in html.replace("\\[", "")  # every $$ was recognised as math
    assert r"\mathrm{out}_{o1}" in html


HOSTILE = """
title: '\\input{/etc/passwd} \\write18{touch /tmp/pwned} $x$ & 100% #1 ~ ^ _ { }'
network:
  inputs: 1
  layers:
    - {units: 1, activation: sigmoid, weights: [[0.5]]}
loss: {kind: mse}
data: [{x: [1.0], y: [0.2]}]
training: {learning_rate: 0.1}
"""


def test_title_is_escaped_in_latex_and_markdown():
    sol = solve(loads(HOSTILE, "hostile.yaml"))
    tex = render(sol, "tex")
    assert r"\input{/etc" not in tex and r"\write18{" not in tex
    assert r"\textbackslash{}input\{/etc/passwd\}" in tex
    md = render(sol, "md")
    assert "\\input{" not in md.split("\n", 2)[0]


@latex
def test_hostile_title_compiles_as_text(tmp_path):
    sol = solve(loads(HOSTILE, "hostile.yaml"))
    pdf = compile_pdf(render(sol, "tex"), tmp_path / "hostile.pdf")
    assert pdf.exists() and not Path("/tmp/pwned").exists()
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout if shutil.which("pdftotext") else ""
    if text:
        assert "input{/etc/passwd}" in text.replace("\n", " ")


def _overfull(log: str) -> list[float]:
    return [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]


def _compile_checked(tex: str, pdf: Path) -> list[float]:  # the product's path: latexmk
    """Compile; the widths of the overfull boxes wider than 1pt (LaTeX errors raise)."""
    out = compile_pdf(tex, pdf)
    return [w for w in _overfull(out.with_suffix(".log").read_text(errors="replace")) if w > 1.0]


def _combined(documents: list[str]) -> str:
    """Several rendered documents as one: the (identical) preamble once, each body after
    the other on a new page. Compiling this is compiling each of them, in one TeX run."""
    preambles = {doc[: doc.index("\\begin{document}")] for doc in documents}
    assert len(preambles) == 1, "the themes share one preamble"
    bodies = [doc[doc.index("\\begin{document}") + len("\\begin{document}") : doc.index("\\end{document}")] for doc in documents]
    return preambles.pop() + "\\begin{document}\n" + "\n\\clearpage\n".join(bodies) + "\n\\end{document}\n"


def _pdflatex_once(tex: str, directory: Path, name: str) -> str:
    """One pdflatex run (no shell escape): its log. Enough to see every error and overfull box."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.tex").write_text(tex)
    run = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", f"{name}.tex"],
        cwd=directory, capture_output=True, text=True, timeout=600,
    )
    log = (directory / f"{name}.log").read_text(errors="replace")
    if run.returncode != 0:
        errors = [line for line in log.splitlines() if line.startswith("!")]
        return f"LaTeX error: {errors[:3]}"
    return log


@latex
@pytest.mark.slow
def test_every_example_compiles_in_every_theme(tmp_path):
    """Every example in all four themes, and with --detail full and brief: no LaTeX error,
    no overfull box wider than 1pt. One TeX run per example (its variants as consecutive
    parts of one document), two examples at a time."""
    jobs = []
    for path in EXAMPLES:
        sol = solve(load(path))
        # a graph has no themes; a network with conv2d or pooling layers is written in the bracket notation only
        themes = [] if isinstance(sol, GraphSolution) else ["bracket"] if sol.problem.layered else list(THEMES)
        variants = [render(sol, "tex", notation=theme) for theme in themes]
        variants += [document(sol, "tex"), document(sol, "tex", detail="full"), document(sol, "tex", detail="brief")]
        jobs.append((path.stem, _combined(variants)))

    def run(job):
        name, tex = job
        log = _pdflatex_once(tex, tmp_path / name, name)
        if log.startswith("LaTeX error"):
            return name, log
        return name, [w for w in _overfull(log) if w > 1.0]

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(run, jobs))
    bad = {name: result for name, result in results.items() if result}
    assert not bad, f"LaTeX errors or overfull boxes: {bad}"


@latex
def test_matrix_form_compiles(tmp_path):
    sol = solve(load("examples/mazur.yaml"))
    pdf = compile_pdf(render(sol, "tex", form="matrix"), tmp_path / "matrix.pdf")
    assert not [w for w in _overfull(pdf.with_suffix(".log").read_text()) if w > 1.0]


# ---------------------------------------------------------------------------
# Markdown through a real pipeline
# ---------------------------------------------------------------------------


@needs("pandoc")
def test_every_example_markdown_renders_with_pandoc_without_warnings(tmp_path):
    """pandoc → HTML with MathJax: no warning, every $$ block recognised as display math,
    no stray $ left in the text."""
    documents = [(path.stem, document(solve(load(path)), "md", detail="full")) for path in EXAMPLES]
    blog = solve(load("examples/relu_softmax_3class.yaml"))
    documents += [(f"blog-{theme}", render(blog, "md", notation=theme)) for theme in THEMES]
    documents.append(("matrix", render(blog, "md", form="matrix")))
    for stem, md in documents:
        source = tmp_path / f"{stem}.md"
        source.write_text(md)
        # standalone (-s): a page needs a title, which the title block gives (else pandoc warns)
        run = subprocess.run(["pandoc", "-s", "-f", "markdown", "-t", "html", "--mathjax", "--fail-if-warnings", str(source)], capture_output=True, text=True)
        assert run.returncode == 0 and not run.stderr.strip(), (stem, run.stderr)
        html = run.stdout
        assert md.count("$$") % 2 == 0, stem
        assert html.count('class="math display"') == md.count("$$") // 2, stem
        assert md.startswith("---\npagetitle: \""), stem
        html = html[html.index("<body>"):]  # the page's head has its stylesheet
        # the title once: the document's # heading, no title block over it (GitHub shows the heading too)
        assert 'id="title-block-header"' not in html and len(re.findall(r"<h1\b", html)) == 1, stem
        text_only = re.sub(r'<span class="math (display|inline)">.*?</span>', "", html, flags=re.S)
        assert "$" not in text_only, stem


@needs("pandoc")
def test_markdown_title_block_carries_any_title(tmp_path):
    """A title with quotes, backslashes, Markdown and a "---" stays one YAML string: pandoc's
    page title is the file's title, and the block ends where it should."""
    import yaml

    title = 'He said "a\\b" *not bold* --- [x] #1'
    source = Path("examples/mazur.yaml").read_text()
    text = re.sub(r"(?m)^title:.*$", lambda _: "title: " + json.dumps(title), source, count=1)  # JSON is YAML
    graph = solve(load("examples/graph_ng.yaml"))
    for md, expected in ((render(solve(loads(text)), "md"), title), (render_graph(graph, "md"), "Andrew Ng: J = 3(a + bc)")):
        head, block, body = md.split("---\n", 2)
        assert head == "" and body.startswith("\n# ")
        assert yaml.safe_load(block) == {"pagetitle": escape_markdown_text(expected)}  # pandoc reads it as Markdown (no <span>: <title> is text)
        path = tmp_path / "t.md"
        path.write_text(md)
        run = subprocess.run(["pandoc", "-s", "-f", "markdown-smart", "-t", "html", "--mathml", "--fail-if-warnings", str(path)], capture_output=True, text=True)
        assert run.returncode == 0 and not run.stderr.strip(), run.stderr
        shown = html_lib.unescape(re.search(r"<title>(.*?)</title>", run.stdout, flags=re.S).group(1))
        assert shown == expected, shown  # (without smart punctuation) the file's title, its Markdown inert


# ---------------------------------------------------------------------------
# Printed numbers are the engine's, at the printed rounding
# ---------------------------------------------------------------------------


def _tex_number(text: str) -> float:
    text = text.replace(r"\left(", "").replace(r"\right)", "").strip()
    m = re.fullmatch(r"(-?[\d.]+)(?: \\times 10\^\{(-?\d+)\})?", text)
    assert m, text
    return float(m.group(1)) * (10 ** int(m.group(2)) if m.group(2) else 1)


@pytest.mark.parametrize("name,theme", [("relu_softmax_3class", "neuron"), ("mazur", "mazur"), ("tanh_regression", "delta")])
def test_numbers_in_the_latex_equal_the_verified_values(name, theme):
    """Read every numbered equation's value back out of the .tex and compare it with the
    engine's (verified) value, to the printed number of significant digits."""
    sol = solve(load(f"examples/{name}.yaml"))
    assert sol.verification.ok
    digits = 6
    tex = render(sol, "tex", notation=theme, digits=digits)
    body = tex[tex.index("\\section*{The problem}") :]
    values = {}
    for m in re.finditer(r"= ([^=&]*?)(?: \\qquad \\text\{\\footnotesize from [^}]*\})? \\tag\{(\d+)\}", body):
        values[int(m.group(2))] = _tex_number(m.group(1))
    steps = list(sol.all_steps())
    assert sorted(values) == list(range(1, len(steps) + 1))
    for k, step in enumerate(steps, 1):
        assert values[k] == pytest.approx(step.value, rel=10 ** (1 - digits), abs=1e-12), (k, step.id)


def test_substituted_numbers_are_rounded_from_the_engine_values():
    sol = solve(load("examples/mazur.yaml"))
    tex = render(sol, "tex", notation="mazur")
    assert r"w_{5}^{+} &= w_{5} - \eta \cdot \frac{\partial E_{\text{total}}}{\partial w_{5}} = 0.4 - 0.5 \times 0.0821670406 = 0.35891648" in tex
    assert r"\left(-0.0226025405\right)" in tex  # a negative number substituted: in parentheses


# ---------------------------------------------------------------------------
# Detail levels, themes, matrix form, --only
# ---------------------------------------------------------------------------


def test_detail_levels():
    sol = solve(load("examples/relu_softmax_3class.yaml"))
    brief = render(sol, "md", detail="brief")
    standard = render(sol, "md", detail="standard")
    full = render(sol, "md", detail="full")
    assert r"\times" not in brief.split("## Verification")[0].split("### Forward pass")[1]  # values only
    assert r"\times" in standard and "derived once" not in standard
    # full: the softmax derived by the quotient rule (source 000 eq. 14), by tracer.calculus
    assert "quotient rule" in full and "p_{1} \\left(1 - p_{1}\\right)" in full and "log rule" in full
    assert "derived: " in full
    sig = render(solve(load("examples/mazur.yaml")), "tex", detail="full")
    assert "chain rule" in sig and r"\sigma \left(1 - \sigma\right)" in sig and "factor out" in sig
    tanh = render(solve(load("examples/tanh_regression.yaml")), "text", detail="full")
    assert "quotient rule" in tanh and "1 − tanh(x)^2" in tanh


def test_full_detail_reuses_tracer_calculus(monkeypatch):
    from tracer.calculus import derivatives as calculus

    calls = []
    original = calculus.derive_sigmoid
    monkeypatch.setattr(calculus, "derive_sigmoid", lambda *a, **k: calls.append(1) or original(*a, **k))
    render(solve(load("examples/mazur.yaml")), "md", detail="full")
    assert calls


def test_themes_read_like_their_sources():
    mazur = render(solve(load("examples/mazur.yaml")), "tex", notation="mazur")
    for name in (r"\mathrm{net}_{h1}", r"\mathrm{out}_{o1}", "w_{5}^{+}", r"E_{\text{total}}", r"\eta", r"\mathrm{target}_{o1}"):
        assert name in mazur
    blog = render(solve(load("examples/relu_softmax_3class.yaml")), "tex", notation="neuron")
    for name in (r"N_{1}^{\text{input}", r"\mathrm{Pred}_{1}", r"\mathrm{CE}^{\text{total}}", "w_{N_{1},O_{1}}", "b'_{O_{1}}", r"\mathrm{Act}_{1}", "r = 0.5"):
        assert name in blog, name
    bracket = render(solve(load("examples/zhu_example1.yaml")), "tex", notation="bracket")
    assert "z_{1}^{[1]}" in bracket and r"\lambda" in bracket
    delta = render(solve(load("examples/mazur.yaml")), "tex", notation="delta")
    assert r"\delta_{1}^{(K)}" in delta and r"\mathcal{L}" in delta


def test_diagram_in_latex_and_markdown():
    sol = solve(load("examples/mazur.yaml"))
    tex = render(sol, "tex", notation="mazur")
    assert r"\begin{tikzpicture}" in tex and "$w_{5} = 0.4$" in tex and r"{$\mathrm{out}_{h1}$}" in tex
    md = render(sol, "md", notation="mazur")
    assert "mermaid" not in md  # pandoc shows a Mermaid block as raw code: the web page's SVG instead, inline
    figure = md[md.index("<svg"):md.index("</svg>") + 6]
    assert md.index("## The problem") < md.index("<svg") < md.index("| parameter |")
    assert "\n\n" not in figure  # one raw HTML block: a blank line would end it
    assert figure.count("<circle") == 6 and "<mi>w</mi><mrow><mn>5</mn></mrow></msub><mo>=</mo><mn>0.4</mn>" in figure


@needs("pandoc")
def test_markdown_network_figure_inline_and_beside_the_file(tmp_path):
    """Without -o the figure is inline and pandoc passes it through; with -o OUT.md it is
    OUT.network.svg beside it (well-formed XML with its labels' MathML namespaced), linked."""
    import xml.dom.minidom

    from click.testing import CliRunner

    from tracer.cli import cli

    shown = CliRunner().invoke(cli, ["solve", "examples/mazur.yaml", "-f", "md"])
    assert shown.exit_code == 0 and "mermaid" not in shown.output and shown.output.count("<svg") == 1
    source = tmp_path / "inline.md"
    source.write_text(shown.output)
    html = subprocess.run(["pandoc", "-f", "markdown", "-t", "html", "--mathml", str(source)], capture_output=True, text=True, check=True).stdout
    figure = html[html.index("<svg"):html.index("</svg>") + 6]
    xml.dom.minidom.parseString(figure)  # whole, not broken into paragraphs
    assert figure.count("<circle") == 6 and "<mn>0.55</mn>" in figure

    out = tmp_path / "hw 3.md"
    written = CliRunner().invoke(cli, ["solve", "examples/mazur.yaml", "-f", "md", "-o", str(out)])
    assert written.exit_code == 0, written.output
    md = out.read_text()
    assert "mermaid" not in md and "<svg" not in md and "![network](hw%203.network.svg)" in md
    svg = (tmp_path / "hw 3.network.svg").read_text()
    root = xml.dom.minidom.parseString(svg).documentElement
    assert root.tagName == "svg" and root.getAttribute("xmlns") == "http://www.w3.org/2000/svg"
    maths = root.getElementsByTagName("math")
    assert len(maths) == 6 + 8 + 2 and all(m.getAttribute("xmlns") == "http://www.w3.org/1998/Math/MathML" for m in maths)
    html = subprocess.run(["pandoc", "-f", "markdown", "-t", "html", "--mathml", str(out)], capture_output=True, text=True, check=True).stdout
    assert '<img src="hw%203.network.svg"' in html


def _wide_problem(tmp_path: Path) -> Path:
    import numpy as np
    import yaml

    rng = np.random.default_rng(1)
    doc = {
        "title": "A 784-32-10 network",
        "network": {
            "inputs": 784,
            "layers": [
                {"units": 32, "activation": "relu", "weights": np.round(rng.normal(0, 0.05, (32, 784)), 3).tolist(), "bias": 0.0},
                {"units": 10, "activation": "softmax", "weights": np.round(rng.normal(0, 0.2, (10, 32)), 3).tolist(), "bias": 0.0},
            ],
        },
        "loss": {"kind": "cross_entropy"},
        "data": [{"x": np.round(rng.random(784), 2).tolist(), "label": 3}],
        "training": {"learning_rate": 0.1},
    }
    path = tmp_path / "wide.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """The 784-32-10 problem and its solution, solved once for the tests below (~8 s)."""
    problem = load(_wide_problem(tmp_path_factory.mktemp("wide")))
    return problem, solve(problem)


def test_matrix_form_of_a_784_32_10_network_is_short(wide):
    from tracer.numeric import mlp as numeric

    problem, sol = wide
    assert sol.steps[0].derived  # one sample × 25,450 parameters: derived, not only NumPy's
    md = render(sol, "md", form="matrix")
    assert len(md) < 30_000 and md.count("$$") % 2 == 0
    assert r"\cdots" in md and r"\vdots" in md
    grads = numeric.evaluate(problem).grads
    assert fmt(grads[K("W2[1,1]")], 9) in md and fmt(grads[K("W1[1,1]")], 9) in md


@latex
def test_matrix_form_of_a_784_32_10_network_compiles(wide, tmp_path):
    _, sol = wide
    assert not _compile_checked(render(sol, "tex", form="matrix"), tmp_path / "wide.pdf")


def test_only_a_subset_in_scalar_form():
    sol = solve(load("examples/mazur.yaml"))
    some = render(sol, "text", only=["W2", "b2"])
    assert "∂loss/∂W2[1,1] =" in some and "∂loss/∂b2 =" in some and "W2[2,2]' =" in some
    assert "∂loss/∂W1[1,1] =" not in some
    one = render(sol, "text", only="dloss/dW1[1,1]".split(","))  # the CLI splits on commas
    assert "∂loss/∂W1[1,1] =" in one and "∂loss/∂W1[2,2] =" not in one and "∂loss/∂W2[1,1] =" not in one


def test_only_a_recurrent_layers_u_block():
    # --only reads a family with keys.parse_block: U1 was 'not a quantity name' before
    sol = solve(load("examples/rnn_many_to_one.yaml"))
    some = render(sol, "text", only=["U1"])
    # ∂loss/∂U1[1,1] sums over the 3 time steps: 0.0178981306 × 0.462117157 + (−0.0884753814) × 0.35849845
    assert "= −0.0234472539   [from" in next(line for line in some.splitlines() if "∂loss/∂U1[1,1] =" in line)
    assert "∂loss/∂U1[2,2] =" in some and "U1[2,2]' =" in some and "∂loss/∂W1[1,1] =" not in some


# ---------------------------------------------------------------------------
# PDF: no engine → exit 3 with the install command
# ---------------------------------------------------------------------------


def test_pdf_without_a_tex_engine_exits_3(monkeypatch, tmp_path):
    from click.testing import CliRunner

    import tracer.render.document as render_module
    from tracer.cli import cli

    monkeypatch.setattr(render_module.shutil, "which", lambda name, *a, **k: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(cli, ["solve", "examples/mazur.yaml", "-f", "pdf", "-o", str(tmp_path / "m.pdf")])
    assert result.exit_code == 3
    assert "install" in result.output and "texlive" in result.output
    assert not (tmp_path / "m.pdf").exists()
    # a pip user has no scripts/ folder: the message names the packages of their system, on one line
    message = result.output.strip()
    assert "scripts/install-tex.sh" not in message and "\n" not in message and len(message) < 300
    assert "apt-get install texlive-latex-base texlive-latex-recommended texlive-pictures latexmk" in message
    assert "brew install --cask mactex-no-gui" in message and "MiKTeX" in message


@latex
def test_pdf_compiles_without_shell_escape(tmp_path, monkeypatch):
    import tracer.render.document as render_module

    seen = []
    real = render_module.subprocess.run
    monkeypatch.setattr(render_module.subprocess, "run", lambda cmd, **k: seen.append(cmd) or real(cmd, **k))
    compile_pdf(render(solve(load("examples/xor.yaml")), "tex"), tmp_path / "x.pdf")
    assert seen and all("-no-shell-escape" in cmd for cmd in seen)
    assert (tmp_path / "x.pdf").exists() and (tmp_path / "x.tex").exists()


def test_tex_width_estimate_is_in_the_right_range():
    assert 4.0 < tex_width("0.0821670406") < 6.5
    assert tex_width(r"\frac{\partial E_{total}}{\partial w_{5}}") < tex_width(r"\partial E_{total} / \partial w_{5}")


def _closing_sentence(problem, fmt_: str = "text") -> str:
    text = render(solve(problem), fmt_)
    return next(line for line in text.splitlines() if line.startswith(("The loss went", "No gradient-descent")))


def test_closing_sentence_says_what_happened_to_the_loss():
    import dataclasses

    mazur = load(EXAMPLE_DIR / "mazur.yaml")
    assert _closing_sentence(mazur) == "The loss went from 0.298371109 to 0.291027774: it decreased."
    tanh = load(EXAMPLE_DIR / "tanh_regression.yaml")
    huge = dataclasses.replace(tanh, training=dataclasses.replace(tanh.training, learning_rate=5.0, steps=1))
    assert _closing_sentence(huge) == "The loss went from 0.296158735 to 1.22920605: it did NOT decrease (the learning rate may be too large)."
    perceptron = load(EXAMPLE_DIR / "perceptron_and.yaml")  # steps: 0
    assert _closing_sentence(perceptron) == "No gradient-descent step is taken (steps: 0): the loss stays 0."
    assert _closing_sentence(perceptron, "md").startswith("No gradient-descent step is taken (`steps: 0`)")


@latex
def test_pdf_without_o_is_written_beside_the_current_folder(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tracer.cli import cli

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["solve", str(EXAMPLE_DIR / "mazur.yaml"), "-f", "pdf"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mazur.pdf").read_bytes().startswith(b"%PDF")


def test_a_long_data_set_is_listed_by_its_first_and_last_samples():
    import dataclasses

    xor = load(EXAMPLE_DIR / "xor.yaml")
    forty = dataclasses.replace(xor, data=tuple(xor.data[k % 4] for k in range(40)))
    md = render(solve(forty, derived_steps=0), "md")
    table = md[md.index("| sample |"):].split("\n\n")[0].splitlines()[2:]
    rows = [line for line in table if re.match(r"^\| (\d+|…) \| ", line)]
    assert [row.split(" | ")[0][2:] for row in rows] == [str(k) for k in range(1, 11)] + ["…", "39", "40"]
    assert "40 samples; 28 of them are not listed here." in md


# ---------------------------------------------------------------------------
# Expressions of a step: readable, with their sample, brackets by precedence
# ---------------------------------------------------------------------------


def test_relu_derivative_reads_as_cases_and_formulas_keep_their_sample():
    """source 000's 2-2-3 classifier: the ReLU derivative by cases (never ``Piecewise(``), every
    quantity of a sample's formula tagged with that sample, no doubled brackets."""
    sol = solve(load("examples/relu_softmax_3class.yaml"))
    text = render(sol, "text")
    for internal in ("Piecewise(", "Max(", "Heaviside(", "**", "max(0, (", "exp((", "log(("):
        assert internal not in text, internal
    assert not re.search(r"= \(−[\d.]+\) =", text)  # a lone number: −0.1, not (−0.1)
    assert "(3) a1[1]#1 = max(0, z1[1]#1) = max(0, 1.752) = 1.752   [from (1)]" in text
    assert "(13) a1[1]#2 = max(0, z1[1]#2) = max(0, −0.576) = 0   [from (11)]" in text
    assert "(18) a2[1]#2 = exp(z2[1]#2)/(exp(z2[1]#2) + exp(z2[2]#2) + exp(z2[3]#2)) = exp(−2)/(exp(−2) + exp(0) + exp(1)) = 0.035119027" in text
    assert "(160) ∂a1[1]#1/∂z1[1] = (1 if z1[1]#1 > 0, else 0) = (1 if 1.752 > 0, else 0) = 1   [from (1)]" in text
    assert "(178) ∂a1[1]#2/∂z1[1] = (1 if z1[1]#2 > 0, else 0) = (1 if −0.576 > 0, else 0) = 0   [from (11)]" in text
    assert "(152) ∂z2[1]/∂a1[1] = W2[1,1] = −0.1\n" in text  # a lone number is not written twice
    tex = render(sol, "tex", notation="bracket")
    assert r"\hat{y}_{1,(2)} &= \frac{e^{z_{1,(2)}^{[2]}}}{e^{z_{1,(2)}^{[2]}} + e^{z_{2,(2)}^{[2]}} + e^{z_{3,(2)}^{[2]}}} = \frac{e^{-2}}{e^{-2} + e^{0} + e^{1}}" in tex
    assert r"h_{1,(2)} &= \max\left(0, z_{1,(2)}^{[1]}\right) = \max\left(0, -0.576\right) = 0" in tex
    assert r"\begin{cases} 1 & \text{for}\: -0.576 > 0 \\0 & \text{otherwise} \end{cases} = 0" in tex
    assert "Piecewise" not in tex


def test_step_activation_of_a_perceptron_reads_as_cases():
    text = render(solve(load("examples/perceptron_and.yaml")), "text")
    assert "Piecewise(" not in text
    assert "a1[1]#1 = (1 if z1[1]#1 ≥ 0, else 0) = (1 if −" in text


def test_full_detail_derivations_name_the_steps_sample():
    text = render(solve(load("examples/relu_softmax_3class.yaml")), "text", detail="full")
    assert "d/dz1[1]#2 (max(0, z1[1]#2)) = H(z1[1]#2)" in text
    assert "d/da2[1]#1 (−y[1]#1·log(a2[1]#1) − y[2]#1·log(a2[2]#1) − y[3]#1·log(a2[3]#1)) = −y[1]#1/a2[1]#1" in text
    assert "Heaviside(" not in text


def test_negative_targets_substituted_in_brackets_in_a_loss():
    """MSE with a negative target: (y − o)² and −(y − o) with the numbers in, bracketed by precedence."""
    text = render(solve(load("examples/tanh_regression.yaml")), "text")
    assert "(35) loss[1]#2 = (y[1]#2 − a2[1]#2)^2/2 = (−0.4794 − 0.171093835)^2/2 = 0.211571114   [from (16)]" in text
    assert "(53) ∂loss#2/∂a2[1] = −(y[1]#2 − a2[1]#2) = −(−0.4794 − 0.171093835) = 0.650493835   [from (16)]" in text


def test_one_gradient_of_a_wide_network_is_written_with_only_the_steps_it_needs(wide):
    """The 784-32-10 document has over 100,000 steps; `tracer ask` for one weight writes a few
    hundred of them, each after the steps it uses."""
    from tracer.numeric import mlp as numeric

    problem, sol = wide
    step = sol.step("dloss/dW1[1,1]")
    assert step.value == pytest.approx(numeric.evaluate(problem).grads[K("W1[1,1]")], rel=1e-12)
    needed = sol.dependencies(step)
    assert needed[-1] is step and 100 < len(needed) < 1000
    assert sol.steps[0].writer.made() < 2000
    seen = set()
    for s in needed:
        assert all(ref in seen for ref in refs_of(s.form) if ref in sol.index), s.id
        seen.add(s.key)
