#!/usr/bin/env bash
# Installs what the browser tests of the web pages need (tests/test_html.py, tests/test_accessibility.py):
# Debian's chromium — headless, it opens a page, dumps the DOM after layout and takes screenshots —
# and axe-core from npm (Deque's accessibility engine, MPL-2.0), which the tests inject into each
# page in chromium; it goes to node_modules/ in the source tree (not committed, not in the wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
AXE_VERSION=4.10.3
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  echo "install-browser: chromium is present"
else
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get here; install chromium (or your system's equivalent)" >&2
    exit 3
  fi
  echo "install-browser: installing chromium"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if [ -f node_modules/axe-core/axe.min.js ] && grep -q "\"version\": \"$AXE_VERSION\"" node_modules/axe-core/package.json; then
  echo "install-browser: axe-core $AXE_VERSION is present"
else
  if ! command -v npm >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
      echo "install-browser: no npm here; install Node.js and npm, then run this again" >&2
      exit 3
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  echo "install-browser: installing axe-core $AXE_VERSION (npm)"
  npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix . "axe-core@$AXE_VERSION" >/dev/null
fi
echo "install-browser: done"
