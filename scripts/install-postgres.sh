#!/usr/bin/env bash
# Installs Debian's PostgreSQL server for `tracer serve --db postgresql://…` and its tests: the tests
# (tests/pg_cluster.py) and benchmarks/serve.py start a cluster of their own in a temporary folder
# (initdb + pg_ctl, as the user postgres when run as root), so no service is started or configured here.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  echo "install-postgres: PostgreSQL is present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-postgres: no apt-get here; install PostgreSQL's server (initdb, pg_ctl) from your system's packages" >&2
  exit 3
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-postgres: installing postgresql"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
echo "install-postgres: done"
