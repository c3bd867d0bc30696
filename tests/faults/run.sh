#!/usr/bin/env bash
# Fault tests on one node: the SQLite data directory filling up (tests/faults/disk_full.py).
# PostgreSQL outages and kill -9 of a node are in tests/cluster. Needs root (it mounts a
# small tmpfs), as CI runs. VOUCH_BIN overrides the binary.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
export VOUCH_BIN=${VOUCH_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/vouch}
[ -x "$VOUCH_BIN" ] || (cd "$root" && cargo build -q -p vouch)
exec python3 disk_full.py
