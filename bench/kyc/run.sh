#!/usr/bin/env bash
# Session create (POST /api/v1/verify) on SQLite against a bare axum handler that only
# checks a bearer key and inserts one row into SQLite (WAL, synchronous=FULL, pool of 8,
# as vouch's store), side by side in one run with the same wrk settings; then the
# server-side time of one liveness step (POST /verify/{token}/selfie).
#   bench/kyc/run.sh
# Settings (environment): THREADS (2), CONNECTIONS (32), DURATION (20s), WARMUP (5s),
# LIVENESS_RUNS (10), LIVENESS_FRAMES (8, as the hosted page sends), LIVENESS_FACE
# (../shared/eval/faces/img2.jpg, filmed by vouch-footage as 640x480 webcam frames),
# FOOTAGE_BIN (default target/release/vouch-footage), SKIP_LIVENESS=1, LIVENESS_ONLY=1 (no wrk, no baseline: only the liveness step and the
# server's resident memory after it, with the release binaries already built),
# BASELINE_TARGET_DIR (cargo target dir of the baseline, outside the repo).
# Writes bench/kyc/results/{summary.md,wrk-vouch.txt,wrk-baseline.txt,liveness.json}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$here/results"
mkdir -p "$out"

THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
VOUCH_PORT=${VOUCH_PORT:-18080}
BASE_PORT=${BASE_PORT:-18090}
BASELINE_TARGET_DIR=${BASELINE_TARGET_DIR:-${TMPDIR:-/tmp}/vouch-bench-baseline-target}

if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y wrk >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y wrk >&2; }
fi

LIVENESS_ONLY=${LIVENESS_ONLY:-0}
if [ "$LIVENESS_ONLY" != 1 ]; then
  echo "building release vouch and the baseline" >&2
  (cd "$root" && cargo build --release -q -p vouch -p vouch-docsynth)
  (cd "$here/baseline" && cargo build --release -q --target-dir "$BASELINE_TARGET_DIR")
fi
vouch="$root/target/release/vouch"
baseline="$BASELINE_TARGET_DIR/release/vouch-bare-baseline"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

wait_port() {
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# --- vouch: a throwaway data dir, one org, one key with the highest rate limit vouch
# accepts (1,000,000 a minute, 16,667/s: above what 2 cores reach; a 429 would show in
# the non-2xx column).
export VOUCH_DATA_DIR="$work/vouch-data"
export VOUCH_MODELS_DIR=${VOUCH_MODELS_DIR:-$root/models}
export VOUCH_LOG_FORMAT=json
org=$("$vouch" org create --name bench 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["orgId"])')
key=$("$vouch" key create --org "$org" --name bench --checks liveness,age_estimation,doc_verify,face_match \
  --rate-limit 1000000 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
"$vouch" serve --listen "127.0.0.1:$VOUCH_PORT" >"$work/vouch.log" 2>&1 &
pids+=($!)
vouch_pid=$!
if [ "$LIVENESS_ONLY" != 1 ]; then
  BASELINE_KEY=bench-key "$baseline" "127.0.0.1:$BASE_PORT" "$work/baseline.db" >"$work/baseline.log" 2>&1 &
  pids+=($!)
  wait_port "$BASE_PORT"
fi
wait_port "$VOUCH_PORT"

run_wrk() { # name port key duration
  BENCH_KEY="$3" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$4" --latency -s "$here/create.lua" \
    "http://127.0.0.1:$2/api/v1/verify"
}

if [ "$LIVENESS_ONLY" != 1 ]; then
  echo "warming up ($WARMUP each)" >&2
  run_wrk vouch "$VOUCH_PORT" "$key" "$WARMUP" >/dev/null
  run_wrk baseline "$BASE_PORT" bench-key "$WARMUP" >/dev/null
  echo "measuring: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency" >&2
  run_wrk vouch "$VOUCH_PORT" "$key" "$DURATION" | tee "$out/wrk-vouch.txt" >&2
  run_wrk baseline "$BASE_PORT" bench-key "$DURATION" | tee "$out/wrk-baseline.txt" >&2
fi

# --- one liveness step: a fresh session each run, LIVENESS_FRAMES webcam frames.
if [ "${SKIP_LIVENESS:-0}" != 1 ]; then
  echo "timing the liveness step" >&2
  face=${LIVENESS_FACE:-$root/../shared/eval/faces/img2.jpg}
  eyes=$("$vouch" face analyze "$face" 2>/dev/null | python3 -c \
    "import json,sys; l=json.load(sys.stdin)['faces'][0]['landmarks']; print(','.join('%.1f' % v for v in l[0] + l[1]))")
  "${FOOTAGE_BIN:-$root/target/release/vouch-footage}" "$face" "$work/footage" --eyes "$eyes" 2>/dev/null
  python3 "$here/liveness.py" --base "http://127.0.0.1:$VOUCH_PORT" --key "$key" \
    --runs "${LIVENESS_RUNS:-10}" --frames "${LIVENESS_FRAMES:-8}" \
    --frames-dir "$work/footage" >"$out/liveness.json"
  # Resident memory of the server with every model loaded and used (target <= 300 MB).
  rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$vouch_pid/status")
  hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$vouch_pid/status")
  echo "{\"rssMb\": $((rss_kb / 1024)), \"peakRssMb\": $((hwm_kb / 1024))}" >"$out/memory.json"
  cat "$out/memory.json" >&2
fi
[ "$LIVENESS_ONLY" = 1 ] && exit 0

python3 "$here/table.py" "$out" "$THREADS" "$CONNECTIONS" "$DURATION" | tee "$out/summary.md"
