"""Debian's chromium, headless, as the tests run it (installed by scripts/install-browser.sh):
a page's DOM after layout and scripts (``--dump-dom``), or a screenshot. Nothing is fetched:
background networking off, a fresh profile per run."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"


def chromium(url: str, *args: str, timeout: int = 180) -> str:
    with tempfile.TemporaryDirectory(prefix="tracer-chromium-") as profile:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               f"--user-data-dir={profile}", *args, url]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout
