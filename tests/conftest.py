import os
from pathlib import Path

import pytest
from hypothesis import settings

from tracer import keys

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: a canonical name as its key: ``grads[K("W2[1,1]")]``. A key never equals its name, so a test
#: that looks up what the engine or a twin keys by keys parses the name, as the program does at its
#: boundary (a graph's node: ``keys.node("x")``)
K = keys.parse

# CI runs a fixed sequence of generated examples (a red run is then reproducible, and
# a counterexample that a developer's random run finds becomes a test of its own);
# developers' runs explore new ones. HYPOTHESIS_PROFILE=explore forces exploring.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "explore"))


def names_the_file(line: str, path) -> bool:
    """Does a one-line refusal begin by naming ``path``? In full, or — where the message would pass
    300 characters — shortened in its middle with the file name kept whole (``tests…/bad.yaml``)."""
    path = str(path)
    if line.startswith(f"tracer: {path}"):
        return True
    head, _, rest = line.removeprefix("tracer: ").partition("…/")
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return line.startswith("tracer: ") and path.startswith(head) and rest.startswith(f"{name}:")


def needs(tool: str) -> pytest.MarkDecorator:
    """Skip a test when ``tool`` is missing on a developer's machine; under CI (which installs
    TeX, latexmk and pandoc through scripts/setup.sh) never skip, so a failed install is red."""
    import shutil

    missing = shutil.which(tool) is None and not os.environ.get("CI")
    return pytest.mark.skipif(missing, reason=f"{tool} not installed (scripts/install-tex.sh installs it)")


def import_torch():
    """PyTorch, the tests' reference (pyproject's `test` extra pins the CPU wheel). On a
    developer's machine without it the tests that need it skip; under CI (`CI` set) they
    fail, so a comparison with torch never silently stops running."""
    if os.environ.get("CI"):
        try:
            import torch
        except ImportError as err:  # a red run, never a skip: scripts/setup.sh installs torch
            raise ImportError(f"torch is a test dependency (pyproject's test extra, installed by scripts/setup.sh) and CI must have it: {err}") from err
        return torch
    return pytest.importorskip("torch", reason="torch not installed (pip install -e '.[test]' installs it)")


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL cluster of the session's own (tests/pg_cluster.py: initdb and pg_ctl in a temporary
    folder, a Unix socket only). Skipped where PostgreSQL is not installed, except under CI (which
    installs it through scripts/setup.sh): there a missing PostgreSQL is red, not skipped."""
    import pg_cluster

    if pg_cluster.binaries() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (scripts/install-postgres.sh): the storage tests must run on it under CI")
        pytest.skip("PostgreSQL not installed (scripts/install-postgres.sh installs it)")
    cluster = pg_cluster.Cluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def serve_quiz(tmp_path_factory) -> Path:
    """A three-variant quiz of Mazur's network with open answers (tests/serve_support.py), made once."""
    import serve_support

    return serve_support.make_quiz(tmp_path_factory.mktemp("serve-quiz"))


@pytest.fixture(scope="session")
def serve_marking(serve_quiz):
    """The quiz's marking (tracer grade's Grader), made once and shared by the servers of the tests."""
    from tracer.serve.marking import Marking

    return Marking(serve_quiz)
