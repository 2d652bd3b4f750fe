#!/usr/bin/env bash
# Installs what this project needs on a fresh machine, and skips what is already there:
# the npm packages (better-sqlite3 compiles once, about two minutes on 2 cores) and the
# Temporal CLI (built with `go install`, a few minutes once, cached in $HOME/go/bin).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi

temporal_cli() {
  if [ -n "${TEMPORAL_CLI_PATH:-}" ] && [ -x "$TEMPORAL_CLI_PATH" ]; then echo "$TEMPORAL_CLI_PATH"; return 0; fi
  if command -v temporal >/dev/null 2>&1; then command -v temporal; return 0; fi
  local gobin
  gobin="$(go env GOPATH 2>/dev/null | cut -d: -f1)/bin"
  for f in "$HOME/go/bin/temporal" "$gobin/temporal"; do
    if [ -x "$f" ]; then echo "$f"; return 0; fi
  done
  return 1
}

if ! cli=$(temporal_cli); then
  if command -v go >/dev/null 2>&1; then
    echo "setup: building the Temporal CLI (go install github.com/temporalio/cli/cmd/temporal@v1.5.1)"
    CGO_ENABLED=0 go install github.com/temporalio/cli/cmd/temporal@v1.5.1
    cli=$(temporal_cli)
  else
    echo "setup: no Temporal CLI and no Go toolchain; install Go or set TEMPORAL_CLI_PATH" >&2
    exit 1
  fi
fi
echo "setup: Temporal CLI at $cli"

# PostgreSQL (Debian's package) for the platform tests and `scripts/postgres-server.sh`.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  bash scripts/postgres-server.sh install
fi

# The S3-compatible server for the storage tests and `scripts/s3-server.sh` (versitygw, Apache-2.0).
versitygw_bin() {
  if [ -n "${VERSITYGW_PATH:-}" ] && [ -x "$VERSITYGW_PATH" ]; then echo "$VERSITYGW_PATH"; return 0; fi
  if command -v versitygw >/dev/null 2>&1; then command -v versitygw; return 0; fi
  local gobin
  gobin="$(go env GOPATH 2>/dev/null | cut -d: -f1)/bin"
  for f in "$HOME/go/bin/versitygw" "$gobin/versitygw"; do
    if [ -x "$f" ]; then echo "$f"; return 0; fi
  done
  return 1
}

if ! gw=$(versitygw_bin); then
  if command -v go >/dev/null 2>&1; then
    echo "setup: building versitygw (go install github.com/versity/versitygw/cmd/versitygw@v1.7.0)"
    CGO_ENABLED=0 go install github.com/versity/versitygw/cmd/versitygw@v1.7.0
    gw=$(versitygw_bin)
  else
    echo "setup: no versitygw and no Go toolchain; install Go or set VERSITYGW_PATH" >&2
    exit 1
  fi
fi
echo "setup: versitygw at $gw"

# pycocotools (PyPI) for the COCO export test (test/integration/export-formats.test.ts).
if ! python3 -c 'import pycocotools' >/dev/null 2>&1; then
  echo "setup: pip install pycocotools"
  python3 -m pip install --quiet pycocotools
fi
