#!/usr/bin/env bash
# vouch as many nodes on loopback: a throwaway PostgreSQL (scripts/pg-cluster.sh), three
# `vouch serve` nodes sharing it and one VOUCH_MASTER_KEY, nginx in front (round robin,
# foreground, its config, pid and logs in a temporary folder). Checks cross-node
# sessions, rate limits counted across nodes, webhooks and expiry sent once (not once
# per node), and no answered session lost when a node is killed mid-burst.
# Python 3.11 standard library only. VOUCH_BIN overrides the binary, NGINX nginx.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
export VOUCH_BIN=${VOUCH_BIN:-$target/debug/vouch}
[ -x "$VOUCH_BIN" ] || (cd "$root" && cargo build -q -p vouch)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing PostgreSQL from Debian packages" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
fi
export NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
if [ ! -x "$NGINX" ]; then
  echo "installing nginx from Debian packages" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nginx-light >/dev/null 2>&1 \
    || DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nginx >/dev/null
  NGINX=/usr/sbin/nginx
fi
exec python3 test_cluster.py
