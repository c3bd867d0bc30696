#!/usr/bin/env bash
# A/B throughput of two vouch binaries on this machine, in one run: session create
# (POST /api/v1/verify, bench/kyc/create.lua) and POST /v3/start (bench/phone/start.lua),
# each binary on its own throwaway SQLite data dir, measured in alternating rounds so that
# drift of the machine hits both alike. For a refactor that must not cost speed.
#   bench/ab.sh OLD_BINARY NEW_BINARY
# Settings (environment): THREADS (2), CONNECTIONS (32), DURATION (10s), WARMUP (3s),
# ROUNDS (3), ENDPOINTS ("create start"). Writes bench/results-ab.json and prints the median requests/s of each.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
old=$1 new=$2
THREADS=${THREADS:-2} CONNECTIONS=${CONNECTIONS:-32} DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s} ROUNDS=${ROUNDS:-3}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM

wait_port() {
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2; return 1
}

# One measurement: start BINARY on a fresh data dir, warm up, measure ENDPOINT; prints
# requests/s.
measure() { # binary endpoint
  local bin=$1 endpoint=$2 port=18181 dir
  dir=$(mktemp -d -p "$work")
  export VOUCH_DATA_DIR="$dir" VOUCH_LOG_FORMAT=json VOUCH_CLIENT_RATE_LIMIT=100000000
  local org
  org=$("$bin" org create --name ab 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["orgId"])')
  local key client secret
  key=$("$bin" key create --org "$org" --name ab --checks liveness,age_estimation \
    --rate-limit 1000000 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
  read -r client secret < <("$bin" oauth-client create --org "$org" --name ab 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["clientId"], d["clientSecret"])')
  "$bin" serve --listen "127.0.0.1:$port" >"$dir/log" 2>&1 &
  pid=$!
  wait_port "$port"
  local script url token
  if [ "$endpoint" = create ]; then
    script="$here/kyc/create.lua" url="http://127.0.0.1:$port/api/v1/verify"
    export BENCH_KEY="$key"
  else
    token=$(curl -sf -d "grant_type=client_credentials&client_id=$client&client_secret=$secret" \
      "http://127.0.0.1:$port/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    script="$here/phone/start.lua" url="http://127.0.0.1:$port"
    export BENCH_PATH=/v3/start BENCH_TOKEN="$token"
  fi
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$script" "$url" >/dev/null
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$script" "$url" |
    awk '/^Requests\/sec/ {print $2}'
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

results="{"
for endpoint in ${ENDPOINTS:-create start}; do
  a=() b=()
  for r in $(seq 1 "$ROUNDS"); do
    a+=("$(measure "$old" "$endpoint")")
    b+=("$(measure "$new" "$endpoint")")
    echo "$endpoint round $r: old ${a[-1]} req/s, new ${b[-1]} req/s" >&2
  done
  results+="\"$endpoint\": {\"old\": [$(IFS=,; echo "${a[*]}")], \"new\": [$(IFS=,; echo "${b[*]}")]},"
done
results="${results%,}}"
echo "$results" | python3 -c '
import json, statistics, sys
r = json.load(sys.stdin)
for name, v in r.items():
    o, n = statistics.median(v["old"]), statistics.median(v["new"])
    v["oldMedian"], v["newMedian"], v["change"] = o, n, round(n / o - 1, 4)
    print(f"{name}: old {o:.0f} req/s, new {n:.0f} req/s, change {100 * (n / o - 1):+.1f}%", file=sys.stderr)
json.dump(r, sys.stdout, indent=1)
' > "$here/results-ab.json"
