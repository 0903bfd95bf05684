"""The shipped notebook (examples/notebooks/mazur.ipynb) runs in a real kernel (nbclient,
ipykernel) and shows Mazur's solution: its numbers in the displayed outputs, no error."""

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="a test dependency: pip install -e .[test]")
nbclient = pytest.importorskip("nbclient", reason="a test dependency: pip install -e .[test]")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "notebooks" / "mazur.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env_path) if p)  # the kernel imports this tree's tracer
    try:
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}})
        client.execute()
    finally:
        os.environ["PYTHONPATH"] = env_path
    return nb


def _outputs(nb) -> list[dict]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def test_the_notebook_runs_without_error(executed):
    assert not [o for o in _outputs(executed) if o.output_type == "error"]
    assert all(cell.execution_count for cell in executed.cells if cell.cell_type == "code")


def test_the_solution_and_the_gradient_are_displayed(executed):
    cells = [c for c in executed.cells if c.cell_type == "code"]
    shown = cells[1].outputs[0]["data"]  # `solution` as the cell's last expression
    assert {"text/markdown", "text/latex"} <= set(shown)
    assert shown["text/markdown"].startswith("# A step-by-step backpropagation example (Mazur)")  # no front matter (pandoc's)
    assert "0.0821670406" in shown["text/markdown"] and r"\tag{" in shown["text/latex"]
    answer = cells[2].outputs[0]["data"]
    assert "**dE\\_total/dw5** = 0.0821670406" in answer["text/markdown"]
    printed = cells[3].outputs[0]["text"]
    assert printed.split()[:3] == ["0.08216704056423078", "0.35891647971788465", "0.29102777369359933"]
    assert cells[3].outputs[1]["data"]["text/plain"] == "True"


# ---------------------------------------------------------------------------
# Two displays in one notebook, as nbconvert writes the page and chromium lays it out
# ---------------------------------------------------------------------------

import json  # noqa: E402
import re  # noqa: E402

from browser import chromium  # noqa: E402
from conftest import needs  # noqa: E402

#: measures the notebook's own text (each Markdown cell) and body after layout, into the DOM
PROBE = """<script>
window.addEventListener("load", function () {
  var cells = Array.from(document.querySelectorAll(".jp-MarkdownCell .jp-RenderedMarkdown, .jp-MarkdownCell .jp-MarkdownOutput"));
  var body = getComputedStyle(document.body);
  var shown = Array.from(document.querySelectorAll(".tracer-display")).map(function (d) { return Math.round(d.getBoundingClientRect().width); });
  var out = {body: [body.maxWidth, body.marginLeft, body.fontFamily, body.fontSize],
             cells: cells.map(function (c) { var r = c.getBoundingClientRect(), p = c.querySelector("p,h1") || c, s = getComputedStyle(p);
                                              return [Math.round(r.left), Math.round(r.width), s.fontFamily, s.fontSize, s.lineHeight]; }),
             displays: shown,
             output: Array.from(document.querySelectorAll(".jp-OutputArea-output")).map(function (o) { return Math.round(o.getBoundingClientRect().width); })};
  document.body.setAttribute("data-probe", JSON.stringify(out));
});
</script>"""


def _two_displays(with_outputs: bool):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A notebook page\n\nThe notebook's own text, before the displays."),
        nbformat.v4.new_code_cell("import tracer\nsolution = tracer.solve('mazur.yaml')\nsolution"),
        nbformat.v4.new_markdown_cell("Between the two displays: the notebook's text again."),
        nbformat.v4.new_code_cell("tracer.ask(solution, 'dE_total/dw5')"),
        nbformat.v4.new_markdown_cell("After the displays."),
    ]
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env_path) if p)
    try:
        nbclient.NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "examples")}}).execute()
    finally:
        os.environ["PYTHONPATH"] = env_path
    if not with_outputs:
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
    return nb


def _page(nb) -> str:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    return body


def _probe(page: str, path) -> dict:
    path.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(path.as_uri(), "--dump-dom", "--virtual-time-budget=10000", "--window-size=1200,1600")
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, "the probe did not run"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@needs("chromium")
def test_two_displays_leave_the_notebook_page_alone(tmp_path):
    """A Solution and an Answer displayed in one notebook (nbconvert's page, laid out by chromium):
    the notebook's own text keeps its place, width and font, exactly as in the same notebook
    without the displays (on main the solution's page style made every cell a 56em column in the
    document's serif); each display is as wide as its output area; no id is used twice (on main
    both had eq-1 …, so "from (7)" of the answer jumped into the solution) and every "from (k)"
    link of a display points into that display. A screenshot is kept for a reader."""
    shown = _two_displays(True)
    page = _page(shown)
    plain = _probe(_page(_two_displays(False)), tmp_path / "plain.html")
    probed = _probe(page, tmp_path / "shown.html")
    assert probed["body"] == plain["body"]
    assert probed["cells"] == plain["cells"] and len(probed["cells"]) == 3
    assert len(probed["displays"]) == 2 and all(w >= 0.95 * max(probed["output"]) for w in probed["displays"])
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    # each display: from its root to the end of its script (the last thing in it)
    displays = re.findall(r'<div class="tracer-display" id="(tracer-[0-9a-f]{10})">(.*?</script>)', page, re.S)
    assert len(displays) == 2 and displays[0][0] != displays[1][0]
    for root, html in displays:
        own = set(re.findall(r'\bid="([^"]+)"', html))
        links = re.findall(r'href="#([^"]+)"', html)
        assert links and all(link.startswith(root + "-") and link in own for link in links)
        assert "<!DOCTYPE" not in html and not re.search(r"(^|[}\s])(html|body)\s*\{", html)
    markdown = shown.cells[1].outputs[0]["data"]["text/markdown"]
    assert markdown.startswith("# A step-by-step backpropagation example (Mazur)")  # no front matter: no rule, no "pagetitle:"
    screenshot = ROOT / "artifacts" / "notebook" / "two-displays.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "screen.html").write_text(page, encoding="utf-8")
    chromium((tmp_path / "screen.html").as_uri(), f"--screenshot={screenshot}", "--window-size=1200,2400")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
