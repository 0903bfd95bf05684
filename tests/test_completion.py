"""Shell completion (Click's: `_TRACER_COMPLETE=bash_source tracer`): `tracer new <TAB>` offers
the shipped examples' names."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _complete(words: str) -> list[str]:
    env = {**os.environ, "_TRACER_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", "from tracer.cli import main; main()"], env=env, capture_output=True, text=True, cwd=ROOT)
    # bash_complete prints one "type,value" line per completion
    return [line.split(",", 1)[1] for line in out.stdout.splitlines() if "," in line]


def test_tracer_new_completes_the_shipped_examples():
    assert _complete("tracer new maz") == ["mazur", "mazur_adam"]
    everything = _complete("tracer new ")
    assert "xor" in everything and "graph_cs231n" in everything
    assert len(everything) == len(list((ROOT / "examples").glob("*.yaml")))


def test_the_bash_script_is_there():
    env = {**os.environ, "_TRACER_COMPLETE": "bash_source", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", "from tracer.cli import main; main()"], env=env, capture_output=True, text=True)
    assert "_TRACER_COMPLETE=bash_complete" in out.stdout
