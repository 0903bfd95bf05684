"""LaTeX that did not compile (issue 26), kept under tests/fuzz/latex/: each document is checked
for the construct that broke it, then compiled by pdflatex (no shell escape)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import needs

ROOT = Path(__file__).resolve().parent.parent
FOUND = ROOT / "tests" / "fuzz" / "latex"


def tex(tmp_path: Path, name: str, *options: str) -> str:
    out = tmp_path / f"{name}.tex"
    done = subprocess.run([sys.executable, "-m", "tracer", "solve", str(FOUND / f"{name}.yaml"), "-f", "tex", "-o", str(out), *options],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out.read_text(encoding="utf-8")


def cases_bodies(document: str) -> list[str]:
    return re.findall(r"\\begin\{cases\}(.*?)\\end\{cases\}", document, re.S)


@pytest.mark.parametrize("notation", ["neuron", "mazur"])
def test_a_long_elu_step_is_never_broken_inside_its_cases(tmp_path, notation):
    """ELU with α = 0.1 writes a = z for z ≥ 0, −1/10 + e^z/10 otherwise; in the neuron and mazur
    notations a sample's names (N_1^{input,sample_1}) make the row too wide, and the line breaker cut
    it before the "+" inside the cases — an align row break (\\notag \\\\* &\\quad) inside
    \\begin{cases}. It now cuts only outside braces, \\left…\\right and environments."""
    document = tex(tmp_path, "elu_alpha_0_1", "--notation", notation, "--detail", "full")
    bodies = cases_bodies(document)
    assert len(bodies) >= 8  # each hidden unit's forward step and its slope, symbolic and substituted
    for body in bodies:
        assert "\n" not in body and r"\notag" not in body and "&\\quad" not in body, body
        assert body.count("&") == 2 and body.count(r"\\") == 1  # two rows of (value & condition)


def test_the_note_of_a_partial_update_is_text(tmp_path):
    """`update: ["W1[1,1]", "W2[1,1]"]` in the matrix form: the note under W^{[1]}' said "only some
    entries of W^{[1]} are trained", a math symbol in text mode (and raw in md and html). It counts
    the entries now, in plain words."""
    document = tex(tmp_path, "partial_update", "--form", "matrix")
    notes = [n for n in re.findall(r"\\itshape \(\d+\) (.*?)\.\}", document) if n.startswith("only")]
    assert notes == ["only 1 of its 4 entries is trained; the others keep their values",  # W1' (b1' and b2': not trained)
                     "only 1 of its 2 entries is trained; the others keep their values"]  # W2'
    for fmt in ("md", "html"):
        out = tmp_path / f"partial.{fmt}"
        subprocess.run([sys.executable, "-m", "tracer", "solve", str(FOUND / "partial_update.yaml"), "--form", "matrix", "-f", fmt, "-o", str(out)],
                       check=True, capture_output=True, timeout=300)
        text = out.read_text(encoding="utf-8")
        assert "only 1 of its 4 entries is trained" in text and "entries of W^{" not in text


@needs("pdflatex")
@pytest.mark.latex
@pytest.mark.parametrize("name, options", [("elu_alpha_0_1", ["--notation", "neuron", "--detail", "full"]),
                                           ("partial_update", ["--form", "matrix"])])
def test_the_documents_compile(tmp_path, name, options):
    """On main: "Extra alignment tab has been changed to \\cr" and "Missing $ inserted"."""
    pdf = tmp_path / f"{name}.pdf"
    done = subprocess.run([sys.executable, "-m", "tracer", "solve", str(FOUND / f"{name}.yaml"), "-f", "pdf", "-o", str(pdf), *options],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and pdf.exists(), done.stderr
