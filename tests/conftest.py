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


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
