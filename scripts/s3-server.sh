#!/usr/bin/env bash
# A local S3-compatible server for developers: versitygw (Apache-2.0), POSIX backend with
# sidecar metadata (extended attributes may be unsupported), path-style, region us-east-1.
#
#   bash scripts/s3-server.sh start [DIR]   # build when missing, start in the background
#   bash scripts/s3-server.sh stop  [DIR]
#   bash scripts/s3-server.sh status [DIR]
#
# DIR (default $SYNAPSE_DATA_DIR/s3 or .synapse/s3) holds data/ (buckets are folders),
# meta/ (sidecar metadata), versitygw.pid, versitygw.log and secrets.json, a secrets file
# for a storage record ({"provider": "s3", "credentials": {"source": "file", "path": ...}}).
# S3_PORT (default 7070) and S3_HOST (default 127.0.0.1) pick the address; ROOT_ACCESS_KEY
# and ROOT_SECRET_KEY the root credentials (generated once into secrets.json when unset).
set -euo pipefail
cd "$(dirname "$0")/.."

MODULE=github.com/versity/versitygw/cmd/versitygw@v1.7.0
cmd=${1:-start}
dir=${2:-${SYNAPSE_DATA_DIR:-.synapse}/s3}
host=${S3_HOST:-127.0.0.1}
port=${S3_PORT:-7070}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pidfile="$dir/versitygw.pid"

# shellcheck source=go-tool.sh
. scripts/go-tool.sh

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$cmd" in
  start)
    if running; then echo "s3-server: already running (pid $(cat "$pidfile")), data in $dir"; exit 0; fi
    bin=$(go_tool versitygw VERSITYGW_PATH "$MODULE")
    mkdir -p "$dir/data" "$dir/meta"
    secrets="$dir/secrets.json"
    if [ -z "${ROOT_ACCESS_KEY:-}" ] || [ -z "${ROOT_SECRET_KEY:-}" ]; then
      if [ ! -f "$secrets" ]; then
        (umask 077; node -e '
          const c = require("node:crypto");
          process.stdout.write(JSON.stringify({ accessKeyId: "dev" + c.randomBytes(6).toString("hex"), secretAccessKey: c.randomBytes(20).toString("hex") }, null, 2) + "\n");
        ' > "$secrets")
      fi
      ROOT_ACCESS_KEY=$(node -e 'console.log(JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).accessKeyId)' "$secrets")
      ROOT_SECRET_KEY=$(node -e 'console.log(JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).secretAccessKey)' "$secrets")
    else
      (umask 077; ID="$ROOT_ACCESS_KEY" SECRET="$ROOT_SECRET_KEY" node -e '
        process.stdout.write(JSON.stringify({ accessKeyId: process.env.ID, secretAccessKey: process.env.SECRET }, null, 2) + "\n");
      ' > "$secrets")
    fi
    export ROOT_ACCESS_KEY ROOT_SECRET_KEY
    nohup "$bin" --port "$host:$port" --health /health --quiet posix --sidecar "$dir/meta" "$dir/data" >>"$dir/versitygw.log" 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 1 100); do
      if node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://$host:$port/health"; then
        echo "s3-server: versitygw on http://$host:$port (pid $(cat "$pidfile")), data in $dir"
        echo "s3-server: credentials in $secrets; path-style addressing, region us-east-1"
        exit 0
      fi
      if ! running; then echo "s3-server: versitygw exited; see $dir/versitygw.log" >&2; tail -20 "$dir/versitygw.log" >&2; rm -f "$pidfile"; exit 1; fi
      sleep 0.2
    done
    echo "s3-server: versitygw did not answer on http://$host:$port/health; see $dir/versitygw.log" >&2
    exit 1
    ;;
  stop)
    if running; then
      pid=$(cat "$pidfile")
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
      echo "s3-server: stopped (pid $pid)"
    else
      echo "s3-server: not running"
    fi
    rm -f "$pidfile"
    ;;
  status)
    if running; then echo "s3-server: running (pid $(cat "$pidfile")), data in $dir"; else echo "s3-server: not running"; exit 1; fi
    ;;
  *)
    echo "usage: bash scripts/s3-server.sh start|stop|status [DIR]" >&2
    exit 2
    ;;
esac
