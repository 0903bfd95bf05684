#!/usr/bin/env bash
# Installs backprop-tracer and everything it needs on a fresh Debian machine:
# the Python package with its test dependencies, and TeX Live for PDF output.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"
# pyenv serves console scripts through shims: make the new `tracer` one now
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
if ! command -v tracer >/dev/null 2>&1; then
  echo "setup: installed, but 'tracer' is not on PATH; add $(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))') to PATH, or use 'python3 -m tracer'" >&2
fi
bash scripts/install-tex.sh
bash scripts/install-browser.sh
