import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# CI runs a fixed sequence of generated examples (a red run is then reproducible, and
# a counterexample that a developer's random run finds becomes a test of its own);
# developers' runs explore new ones. HYPOTHESIS_PROFILE=explore forces exploring.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "explore"))


def needs(tool: str) -> pytest.MarkDecorator:
    """Skip a test when ``tool`` is missing on a developer's machine; under CI (which installs
    TeX, latexmk and pandoc through scripts/setup.sh) never skip, so a failed install is red."""
    import shutil

    missing = shutil.which(tool) is None and not os.environ.get("CI")
    return pytest.mark.skipif(missing, reason=f"{tool} not installed (scripts/install-tex.sh installs it)")


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
