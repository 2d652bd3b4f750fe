#!/usr/bin/env bash
# A real Temporal cluster on PostgreSQL on this machine (docs/production.md): the frontend, history,
# matching and worker services as separate processes on loopback, their databases created and
# their schemas applied with Temporal's SQL tool. The work is `synapse server start-cluster`
# (workers/cluster.ts); this script builds what is missing first.
#
#   bash scripts/temporal-cluster.sh start [--database-url URL] [--port 7233] [--dir DIR]
#   bash scripts/temporal-cluster.sh stop [--dir DIR]
#
# `start` prints `export TEMPORAL_ADDRESS=127.0.0.1:7233` on stdout: eval "$(bash scripts/temporal-cluster.sh start)".
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-}
shift || true
case "$cmd" in
  start)
    # shellcheck source=go-tool.sh
    . scripts/go-tool.sh
    go_tool server TEMPORAL_SERVER_PATH go.temporal.io/server/cmd/server@v1.29.1 >/dev/null
    go_tool sql TEMPORAL_SQL_TOOL_PATH go.temporal.io/server/cmd/tools/sql@v1.29.1 >/dev/null
    exec node bin/synapse.mjs server start-cluster "$@"
    ;;
  stop)
    exec node bin/synapse.mjs server stop-cluster "$@"
    ;;
  *)
    echo "usage: bash scripts/temporal-cluster.sh start [--database-url URL] [--port PORT] [--dir DIR] | stop [--dir DIR]" >&2
    exit 2
    ;;
esac
