#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need first:
# the npm packages of the local D1 server (Miniflare/workerd). PostgreSQL clusters are
# started by the tests themselves from the PostgreSQL binaries on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f tests/d1-server/package.json ]; then
  (cd tests/d1-server && npm ci --no-audit --no-fund --loglevel=error)
fi
cargo test --workspace --all-features --no-fail-fast "$@"
