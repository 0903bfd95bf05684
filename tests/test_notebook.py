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
    assert shown["text/markdown"].startswith('---\npagetitle: "A step-by-step backpropagation example (Mazur)"\n---\n\n# A step-by-step backpropagation example (Mazur)')
    assert "0.0821670406" in shown["text/markdown"] and r"\tag{" in shown["text/latex"]
    answer = cells[2].outputs[0]["data"]
    assert "**dE\\_total/dw5** = 0.0821670406" in answer["text/markdown"]
    printed = cells[3].outputs[0]["text"]
    assert printed.split()[:3] == ["0.08216704056423078", "0.35891647971788465", "0.29102777369359933"]
    assert cells[3].outputs[1]["data"]["text/plain"] == "True"
