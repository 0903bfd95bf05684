#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests of `tracer solve -f html` (tests/test_html.py):
# headless, it opens the page, dumps the DOM after layout and takes screenshots; and Debian's
# chromium-driver, through which selenium drives it in the tests of `tracer serve`.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if [ ${#need[@]} -eq 0 ]; then
  echo "install-browser: chromium and chromedriver are present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: no apt-get here; install ${need[*]} (or your system's equivalent)" >&2
  exit 3
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-browser: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-browser: done"
