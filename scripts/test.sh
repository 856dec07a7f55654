#!/usr/bin/env bash
# Runs every test of the workspace. Checks its prerequisites first and says in one line what to
# install when one is missing, then installs the npm packages of the local D1 server
# (Miniflare/workerd). PostgreSQL clusters are started by the tests themselves from the
# PostgreSQL binaries on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

missing() {
  echo "scripts/test.sh: $1" >&2
  exit 1
}

# Node 20+ and npm: the real local D1 engine (Miniflare/workerd) used by the HTTP tests.
command -v node >/dev/null 2>&1 || missing "Node.js 20+ not found: install it (Debian: apt-get install nodejs npm; or https://nodejs.org), then run this again."
command -v npm >/dev/null 2>&1 || missing "npm not found: install it with Node.js 20+ (Debian: apt-get install npm), then run this again."
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || missing "Node.js $(node --version) is too old: Miniflare needs Node.js 20 or newer."

# PostgreSQL server binaries: ReCoco's incremental state in the tests' private clusters.
pg_ok() { [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/postgres" ]; }
pg_found=""
if [ -n "${PG_BIN_DIR:-}" ]; then
  pg_ok "$PG_BIN_DIR" && pg_found="$PG_BIN_DIR"
  [ -n "$pg_found" ] || missing "PG_BIN_DIR=$PG_BIN_DIR does not hold initdb, pg_ctl and postgres."
else
  if command -v initdb >/dev/null 2>&1; then
    dir="$(dirname "$(readlink -f "$(command -v initdb)")")"
    pg_ok "$dir" && pg_found="$dir"
  fi
  if [ -z "$pg_found" ]; then
    for dir in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin /usr/pgsql-*/bin; do
      if pg_ok "$dir"; then pg_found="$dir"; fi
    done
  fi
  [ -n "$pg_found" ] || missing "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install them (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server; macOS: brew install postgresql@15) or set PG_BIN_DIR."
fi
if [ "$(id -u)" = 0 ]; then
  # initdb refuses root: the tests run PostgreSQL as the `postgres` user through runuser.
  id postgres >/dev/null 2>&1 || missing "running as root, and PostgreSQL refuses root: create the user it runs as (useradd --system postgres) or run as a normal user."
  command -v runuser >/dev/null 2>&1 || [ -x /usr/sbin/runuser ] || [ -x /sbin/runuser ] || missing "running as root needs runuser (Debian: apt-get install util-linux) to start PostgreSQL as the postgres user."
fi

# Universal Ctags: the oracle the code-intelligence tests compare symbol recall with.
command -v ctags >/dev/null 2>&1 && ctags --version 2>/dev/null | grep -q "Universal Ctags" \
  || missing "Universal Ctags (ctags) not found: install it (Debian/Ubuntu: apt-get install universal-ctags; macOS: brew install universal-ctags), then run this again."

if [ -f tests/d1-server/package.json ]; then
  (cd tests/d1-server && npm ci --no-audit --no-fund --loglevel=error)
fi
cargo test --workspace --all-features --no-fail-fast "$@"
