#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and development (Debian's `postgresql` package).
#
#   scripts/postgres-server.sh start DATA_DIR [PORT]   # prints the URL of database "synapse"
#   scripts/postgres-server.sh stop DATA_DIR
#   scripts/postgres-server.sh install                 # apt-get install postgresql when missing
#
# `start` creates the cluster when DATA_DIR has none (initdb, trust auth on 127.0.0.1, no
# fsync: test data only), starts it on PORT (a free one when absent) with its socket in
# DATA_DIR, waits until it accepts connections and creates the database `synapse`.
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
#
# A developer: eval "$(scripts/postgres-server.sh start .synapse/postgres 5433 | sed 's/^/export DATABASE_URL=/')"
set -euo pipefail

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return 0; fi
  return 1
}

install_postgres() {
  if pg_bin >/dev/null; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "postgres-server: PostgreSQL is not installed; run: sudo apt-get install -y postgresql" >&2
    exit 1
  fi
  echo "postgres-server: installing PostgreSQL (apt-get install postgresql)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  # Debian starts a cluster of its own on 5432; ours run in their own data dirs.
}

# Runs a command as the server's owner: `postgres` when we are root, else ourselves.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

cmd=${1:-}
case "$cmd" in
  install)
    install_postgres
    ;;
  start)
    dir=${2:?usage: postgres-server.sh start DATA_DIR [PORT]}
    port=${3:-$(free_port)}
    install_postgres
    bin=$(pg_bin)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; chmod 700 "$dir"; fi
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --no-sync >"$dir.initdb.log" 2>&1 ||
        { cat "$dir.initdb.log" >&2; exit 1; }
      rm -f "$dir.initdb.log"
    fi
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    for _ in $(seq 1 100); do
      if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then break; fi
      sleep 0.1
    done
    if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'synapse'" | grep -q 1; then
      "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres synapse
    fi
    echo "postgres://postgres@127.0.0.1:$port/synapse"
    ;;
  stop)
    dir=${2:?usage: postgres-server.sh stop DATA_DIR}
    bin=$(pg_bin)
    if [ -f "$dir/postmaster.pid" ]; then as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null; fi
    ;;
  *)
    echo "usage: postgres-server.sh start DATA_DIR [PORT] | stop DATA_DIR | install" >&2
    exit 2
    ;;
esac
