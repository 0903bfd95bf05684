#!/usr/bin/env bash
# Installs backprop-tracer and everything it needs on a fresh Debian machine:
# the Python package with its test dependencies and the web server's (tracer serve), TeX Live for
# PDF output, chromium and chromedriver, PostgreSQL, and axe-core for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e ".[test,serve]"
# pyenv serves console scripts through shims: make the new `tracer` one now
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
if ! command -v tracer >/dev/null 2>&1; then
  echo "setup: installed, but 'tracer' is not on PATH; add $(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))') to PATH, or use 'python3 -m tracer'" >&2
fi
bash scripts/install-tex.sh
bash scripts/install-browser.sh
bash scripts/install-postgres.sh
bash scripts/install-axe.sh
