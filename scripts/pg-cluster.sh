#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for tests.
#   scripts/pg-cluster.sh start DIR PORT   # prints the admin URL
#   scripts/pg-cluster.sh stop DIR
#   scripts/pg-cluster.sh down DIR         # stops the server at once (a crash: no shutdown checkpoint), keeps the data (fault tests)
#   scripts/pg-cluster.sh up DIR PORT      # starts it again on the same data
# PostgreSQL refuses to run as root, so as root the cluster runs as the 'postgres' user.
set -euo pipefail
cmd=$1 dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
run() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# Test-only settings: fsync off for speed, loopback only, enough connections for
# parallel tests that each open pools.
pg_start() {
  run "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $1 -k $dir -F -c max_connections=400 -c shared_buffers=64MB" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
}

case "$cmd" in
  start)
    port=$3
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    run "$bin/initdb" -D "$dir/data" -U vouch -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    pg_start "$port"
    echo "postgres://vouch@127.0.0.1:$port/postgres"
    ;;
  down)
    run "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
  up)
    pg_start "$3"
    ;;
  stop)
    [ -d "$dir/data" ] && run "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR | down DIR | up DIR PORT" >&2; exit 2 ;;
esac
