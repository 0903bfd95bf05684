#!/usr/bin/env bash
# Fetches axe-core (Deque's accessibility engine, MPL-2.0), pinned, for the browser tests: its one
# file axe.min.js goes to .cache/axe-core/VERSION/axe.min.js (gitignored), where the tests look for it
# (or set AXE_CORE_JS to another copy). Shared by every test that runs axe: safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${AXE_CORE_VERSION:-4.14.1}"
target=".cache/axe-core/$VERSION/axe.min.js"
if [ -s "$target" ]; then
  echo "install-axe: axe-core $VERSION is present"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "install-axe: installing npm (to fetch axe-core)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
  else
    echo "install-axe: npm is needed to fetch axe-core" >&2
    exit 3
  fi
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# npm pack checks the tarball against the registry's integrity hash
(cd "$work" && npm pack --silent "axe-core@$VERSION" >/dev/null)
tar -xzf "$work/axe-core-$VERSION.tgz" -C "$work" package/axe.min.js
mkdir -p "$(dirname "$target")"
mv "$work/package/axe.min.js" "$target"
echo "install-axe: axe-core $VERSION in $target"
