#!/usr/bin/env bash
# Installs backprop-tracer and everything it needs on a fresh Debian machine:
# the Python package with its test dependencies, and TeX Live for PDF output.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"
bash scripts/install-tex.sh
