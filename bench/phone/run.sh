#!/usr/bin/env bash
# The phone API on SQLite: POST /v3/start and POST /v3/validate against the bare axum +
# SQLite insert floor of bench/kyc (one bearer check, one INSERT), side by side in one
# run with the same wrk settings; then OTP check timing under load.
#   bench/phone/run.sh
# Settings (environment): THREADS (2), CONNECTIONS (32), DURATION (20s), WARMUP (5s),
# FLOWS (flows prepared for validate, 240000: more than validate gets through), OTP_RUNS (300), SKIP_OTP=1,
# BASELINE_TARGET_DIR (cargo target dir of the baseline, outside the repo).
# Writes bench/phone/results/{summary.md,wrk-*.txt,otp-timing.json}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$here/results"
mkdir -p "$out"

THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
FLOWS=${FLOWS:-240000}
VOUCH_PORT=${VOUCH_PORT:-18180}
BASE_PORT=${BASE_PORT:-18190}
BASELINE_TARGET_DIR=${BASELINE_TARGET_DIR:-${TMPDIR:-/tmp}/vouch-bench-baseline-target}

if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y wrk >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y wrk >&2; }
fi

echo "building release vouch and the baseline" >&2
(cd "$root" && cargo build --release -q -p vouch)
(cd "$root/bench/kyc/baseline" && cargo build --release -q --target-dir "$BASELINE_TARGET_DIR")
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

# vouch in dev mode (sandbox network, dev inbox), one org and OAuth client; OAuth
# clients get the highest rate limit so that a 429 cannot cap the throughput.
export VOUCH_DATA_DIR="$work/vouch-data"
export VOUCH_LOG_FORMAT=json
export VOUCH_CLIENT_RATE_LIMIT=100000000
org=$("$vouch" org create --name bench 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["orgId"])')
read -r client secret < <("$vouch" oauth-client create --org "$org" --name bench 2>/dev/null |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["clientId"], d["clientSecret"])')
"$vouch" serve --listen "127.0.0.1:$VOUCH_PORT" >"$work/vouch.log" 2>&1 &
pids+=($!)
BASELINE_KEY=bench-key "$baseline" "127.0.0.1:$BASE_PORT" "$work/baseline.db" >"$work/baseline.log" 2>&1 &
pids+=($!)
wait_port "$VOUCH_PORT"
wait_port "$BASE_PORT"
token=$(curl -sf -d "grant_type=client_credentials&client_id=$client&client_secret=$secret" \
  "http://127.0.0.1:$VOUCH_PORT/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

wrk_start() { # port path token duration
  BENCH_PATH="$2" BENCH_TOKEN="$3" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$4" --latency \
    -s "$here/start.lua" "http://127.0.0.1:$1"
}

echo "warming up ($WARMUP each)" >&2
wrk_start "$VOUCH_PORT" /v3/start "$token" "$WARMUP" >/dev/null
wrk_start "$BASE_PORT" /api/v1/verify bench-key "$WARMUP" >/dev/null

echo "measuring /v3/start and the floor: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency" >&2
wrk_start "$VOUCH_PORT" /v3/start "$token" "$DURATION" | tee "$out/wrk-start.txt" >&2
wrk_start "$BASE_PORT" /api/v1/verify bench-key "$DURATION" | tee "$out/wrk-baseline.txt" >&2

echo "preparing $FLOWS flows for /v3/validate" >&2
python3 "$here/make_flows.py" --base "http://127.0.0.1:$VOUCH_PORT" --token "$token" --count "$FLOWS" >"$work/ids.txt"
echo "measuring /v3/validate" >&2
BENCH_IDS="$work/ids.txt" BENCH_THREADS="$THREADS" BENCH_TOKEN="$token" \
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$here/validate.lua" \
  "http://127.0.0.1:$VOUCH_PORT" | tee "$out/wrk-validate.txt" >&2

if [ "${SKIP_OTP:-0}" != 1 ]; then
  echo "timing OTP checks while wrk loads /v3/start" >&2
  BENCH_PATH=/v3/start BENCH_TOKEN="$token" wrk -t1 -c8 -d120s -s "$here/start.lua" \
    "http://127.0.0.1:$VOUCH_PORT" >/dev/null &
  load=$!
  python3 "$here/otp_timing.py" --base "http://127.0.0.1:$VOUCH_PORT" --token "$token" \
    --runs "${OTP_RUNS:-300}" >"$out/otp-timing.json"
  kill "$load" 2>/dev/null || true
  wait "$load" 2>/dev/null || true
fi

python3 "$here/table.py" "$out" "$THREADS" "$CONNECTIONS" "$DURATION" | tee "$out/summary.md"
