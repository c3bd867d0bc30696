#!/usr/bin/env bash
# Load and soak of vouch, on SQLite and on PostgreSQL (issue 10).
#   bench/load/run.sh
# For each backend, a fresh server with TEMPLATES synthetic face templates plus one real
# enrolled person, then:
#   1. peak: wrk --latency against each endpoint alone for PEAK_SECS (after WARMUP_SECS):
#      session create, session read, /v3/start, /v3/validate, 1:N /api/verify;
#   2. soak: SOAK_SECS of all five at once at SOAK_LOAD of the machine (each endpoint at
#      SOAK_LOAD/5 of its own peak, constant rate), the server's RSS and answers sampled
#      every SAMPLE_SECS; fails on any error or if RSS grows more than RSS_GROWTH_PCT from
#      the middle third to the last third.
# Settings (environment): BACKENDS ("sqlite postgres"), TEMPLATES (100000), PEAK_SECS (20),
# WARMUP_SECS (5), SOAK_SECS (600), SOAK_LOAD (0.70), SAMPLE_SECS (10), RSS_GROWTH_PCT (2),
# THREADS (2), CONNECTIONS (32), VERIFY_CONNECTIONS (2), READ_POOL (1000 sessions),
# PG_FSYNC (on; off = scripts/pg-cluster.sh's test settings, fsync off).
# Writes bench/load/results/<backend>/{peak.json,soak.csv,soak.png,summary.md,wrk/}.
# Exits non-zero if a peak run or a soak saw an error, or memory was not flat.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

BACKENDS=${BACKENDS:-sqlite postgres}
TEMPLATES=${TEMPLATES:-100000}
PEAK_SECS=${PEAK_SECS:-20}
WARMUP_SECS=${WARMUP_SECS:-5}
SOAK_SECS=${SOAK_SECS:-600}
SOAK_LOAD=${SOAK_LOAD:-0.70}
SAMPLE_SECS=${SAMPLE_SECS:-10}
RSS_GROWTH_PCT=${RSS_GROWTH_PCT:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
VERIFY_CONNECTIONS=${VERIFY_CONNECTIONS:-2}
READ_POOL=${READ_POOL:-1000}
PG_FSYNC=${PG_FSYNC:-on}
command_line="BACKENDS='$BACKENDS' TEMPLATES=$TEMPLATES PEAK_SECS=$PEAK_SECS WARMUP_SECS=$WARMUP_SECS SOAK_SECS=$SOAK_SECS SOAK_LOAD=$SOAK_LOAD SAMPLE_SECS=$SAMPLE_SECS RSS_GROWTH_PCT=$RSS_GROWTH_PCT bench/load/run.sh"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() { # command package
  command -v "$1" >/dev/null && return 0
  echo "installing $2 from Debian packages" >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$2" >/dev/null 2>&1 \
    || { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$2" >/dev/null; }
}
apt_install wrk wrk
apt_install gnuplot gnuplot-nox
if [[ " $BACKENDS " == *" postgres "* ]] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing PostgreSQL from Debian packages" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
fi

echo "building release vouch and vouch-footage" >&2
(cd "$root" && cargo build --release -q -p vouch -p vouch-docsynth)
vouch="$root/target/release/vouch"
footage="$root/target/release/vouch-footage"
faces="$root/../shared/eval/faces"
export VOUCH_MODELS_DIR=${VOUCH_MODELS_DIR:-$root/models}
export VOUCH_LOG_FORMAT=json
# OAuth clients (the /v3 routes) get a limit no run reaches; API keys get the highest
# vouch accepts (1,000,000 a minute) below. A 429 would count as an error.
export VOUCH_CLIENT_RATE_LIMIT=100000000

work=$(mktemp -d /tmp/vouch-load.XXXXXX)
server=""
pg_dir=""
sampler=""
bg=()
cleanup() {
  local rc=$?
  for p in "${bg[@]}" $sampler; do kill "$p" 2>/dev/null || true; done
  if [ -n "$server" ]; then
    kill -0 "$server" 2>/dev/null || echo "the server (pid $server) had exited" >&2
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -n "${backend:-}" ] && [ -f "$work/serve-$backend.log" ]; then
    tail -n 20 "$work/serve-$backend.log" >&2
  fi
  if [ -n "$pg_dir" ]; then "$root/scripts/pg-cluster.sh" stop "$pg_dir" || true; fi
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
eyes_of() { # the eye positions vouch finds in a photo, for vouch-footage
  "$vouch" face analyze "$1" 2>/dev/null | python3 -c \
    "import json,sys; l=json.load(sys.stdin)['faces'][0]['landmarks']; print(','.join('%.1f' % v for v in l[0] + l[1]))"
}

# A throwaway PostgreSQL. By default durable (fsync on, like SQLite's synchronous=FULL);
# PG_FSYNC=off takes scripts/pg-cluster.sh as the tests use it (fsync off). Otherwise the
# same layout and settings as that script, which also stops it.
pg_start() { # dir port -> URL
  if [ "$PG_FSYNC" = off ]; then "$root/scripts/pg-cluster.sh" start "$1" "$2"; return; fi
  local bin run=()
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
  rm -rf "$1"; mkdir -p "$1"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$1"
  "${run[@]}" "$bin/initdb" -D "$1/data" -U vouch -A trust -E UTF8 >"$1/initdb.log" 2>&1 \
    || { cat "$1/initdb.log" >&2; return 1; }
  "${run[@]}" "$bin/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $2 -k $1 -c max_connections=400" start >/dev/null \
    || { cat "$1/server.log" >&2; return 1; }
  echo "postgres://vouch@127.0.0.1:$2/postgres"
}

# The person: webcam frames of img1 enrolled; the probe, one frame of img2 (same person).
echo "making webcam frames of img1 (enrolled) and img2 (probe)" >&2
"$footage" "$faces/img1.jpg" "$work/enroll" --eyes "$(eyes_of "$faces/img1.jpg")" 2>/dev/null
"$footage" "$faces/img2.jpg" "$work/probe" --eyes "$(eyes_of "$faces/img2.jpg")" --still 2>/dev/null
{ echo "email,image"; for f in "$work"/enroll/*.jpg; do echo "img1@bench.example,$f"; done; } >"$work/enroll.csv"
python3 -c 'import base64,json,sys; print(json.dumps({"image": base64.b64encode(open(sys.argv[1],"rb").read()).decode()}))' \
  "$work/probe/frame-00.jpg" >"$work/probe.json"

wrk_run() { # name mode threads conns secs auth [VAR=value ...] -> RESULT in $out/wrk/$name.txt
  local name=$1 mode=$2 t=$3 c=$4 secs=$5 auth=$6
  shift 6
  env BENCH_MODE="$mode" BENCH_THREADS="$t" BENCH_AUTH="$auth" "$@" \
    wrk -t"$t" -c"$c" -d"${secs}s" --timeout 30s --latency -s "$here/load.lua" "$base" >"$out/wrk/$name.txt" 2>&1 \
    || { cat "$out/wrk/$name.txt" >&2; echo "wrk failed ($name)" >&2; return 1; }
}
soak_wrk() { # mode conns auth [VAR=value ...]: one soak wrk in the background (its pid in bg)
  local mode=$1 c=$2 auth=$3
  shift 3
  env BENCH_MODE="$mode" BENCH_THREADS=1 BENCH_AUTH="$auth" "$@" \
    wrk -t1 -c"$c" -d"${SOAK_SECS}s" --timeout 30s --latency -s "$here/load.lua" "$base" >"$out/wrk/soak-$mode.txt" 2>&1 &
  bg+=($!)
}
result() { sed -n 's/^RESULT //p' "$out/wrk/$1.txt"; }
collect() { # path count auth file: ids of COUNT sessions or flows created as fast as wrk can
  local name="collect-${1//\//_}" got=0 pid
  rm -f "$4".*
  # wrk's threads stop when they have their share, but wrk itself waits out -d: SIGINT
  # ends it (and prints its summary) once the files are complete.
  BENCH_MODE=collect BENCH_THREADS="$THREADS" BENCH_AUTH="$3" BENCH_PATH="$1" BENCH_COUNT="$2" BENCH_OUT="$4" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d3600s --timeout 30s -s "$here/load.lua" "$base" >"$out/wrk/$name.txt" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    got=$( (cat "$4".* 2>/dev/null || true) | wc -l)
    [ "$got" -ge "$2" ] && break
    sleep 0.2
  done
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || true
  cat "$4".* >"$4"
  got=$(wc -l <"$4")
  [ "$got" -ge "$2" ] || { cat "$out/wrk/$name.txt" >&2; echo "only $got of $2 ids from $1" >&2; return 1; }
}

status=0
for backend in $BACKENDS; do
  case "$backend" in sqlite | postgres) ;; *) echo "unknown backend $backend" >&2; exit 2 ;; esac
  echo "=== $backend" >&2
  out="$here/results/$backend"
  rm -rf "$out"
  mkdir -p "$out/wrk"
  export VOUCH_DATA_DIR="$work/data-$backend"
  unset VOUCH_DATABASE_URL
  database="SQLite (WAL, synchronous=FULL) in a temporary data dir"
  if [ "$backend" = postgres ]; then
    pg_dir=$(mktemp -d /tmp/vouch-load-pg.XXXXXX)
    VOUCH_DATABASE_URL=$(pg_start "$pg_dir" "$(free_port)")
    export VOUCH_DATABASE_URL
    pg_version=$("$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/postgres" --version | awk '{print $3}')
    database="PostgreSQL $pg_version on loopback (throwaway cluster, fsync $PG_FSYNC, max_connections=400, otherwise defaults)"
  fi

  org=$("$vouch" org create --name load 2>/dev/null | json_field orgId)
  key=$("$vouch" key create --org "$org" --name load --checks liveness,age_estimation,doc_verify,face_match \
    --rate-limit 1000000 --session-ttl-secs 604800 2>/dev/null | json_field apiKey)
  read -r client secret < <("$vouch" oauth-client create --org "$org" --name load 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["clientId"], d["clientSecret"])')

  echo "enrolling img1 and seeding $TEMPLATES synthetic templates" >&2
  enrolled=$("$vouch" identity enroll-batch --org "$org" "$work/enroll.csv" 2>/dev/null | json_field enrolled)
  t0=$(date +%s.%N)
  "$vouch" identity seed-synthetic --org "$org" --count "$TEMPLATES" >/dev/null 2>&1
  seed_secs=$(python3 -c "print(round($(date +%s.%N) - $t0, 1))")
  echo "seeded in $seed_secs s" >&2

  port=$(free_port)
  base="http://127.0.0.1:$port"
  "$vouch" serve --listen "127.0.0.1:$port" >"$work/serve-$backend.log" 2>&1 &
  server=$!
  wait_port "$port"
  token=$(curl -sf -d "grant_type=client_credentials&client_id=$client&client_secret=$secret" "$base/token" | json_field access_token)

  # The first verify loads the 1:N index (untimed by wrk); it must find the person.
  first=$(curl -s -o "$work/first.json" -w '%{http_code} %{time_total}' -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' --data-binary @"$work/probe.json" "$base/api/verify")
  grep -q '"verified":true' "$work/first.json" || { echo "first verify: $first $(cat "$work/first.json")" >&2; exit 1; }
  first_ms=$(python3 -c "print(round(${first#* } * 1000, 1))")
  echo "first verify (loads the index) ${first_ms} ms" >&2

  echo "peak: wrk -t$THREADS -c$CONNECTIONS (verify -t1 -c$VERIFY_CONNECTIONS), ${PEAK_SECS}s each after ${WARMUP_SECS}s" >&2
  collect /api/v1/verify "$READ_POOL" "$key" "$work/sessions"
  wrk_run warm-create create "$THREADS" "$CONNECTIONS" "$WARMUP_SECS" "$key"
  wrk_run peak-create create "$THREADS" "$CONNECTIONS" "$PEAK_SECS" "$key"
  wrk_run warm-read read "$THREADS" "$CONNECTIONS" "$WARMUP_SECS" "$key" BENCH_IDS="$work/sessions"
  wrk_run peak-read read "$THREADS" "$CONNECTIONS" "$PEAK_SECS" "$key" BENCH_IDS="$work/sessions"
  wrk_run warm-start start "$THREADS" "$CONNECTIONS" "$WARMUP_SECS" "$token"
  wrk_run peak-start start "$THREADS" "$CONNECTIONS" "$PEAK_SECS" "$token"
  # Each validate needs its own fresh flow: half again as many as start managed.
  flows=$(result peak-start | python3 -c "import json,sys,math; print(math.ceil(json.load(sys.stdin)['rps'] * $PEAK_SECS * 1.5) + 1000)")
  echo "preparing $flows flows for validate" >&2
  collect /v3/start "$flows" "$token" "$work/flows"
  wrk_run peak-validate validate "$THREADS" "$CONNECTIONS" "$PEAK_SECS" "$token" BENCH_IDS="$work/flows"
  wrk_run warm-verify verify 1 "$VERIFY_CONNECTIONS" "$WARMUP_SECS" "$key" BENCH_BODY="$work/probe.json"
  wrk_run peak-verify verify 1 "$VERIFY_CONNECTIONS" "$PEAK_SECS" "$key" BENCH_BODY="$work/probe.json"

  commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
  python3 - "$work/meta.json" <<PY
import json, sys
json.dump({
    "backend": "$backend", "command": """$command_line""", "date": "$(date -u +%Y-%m-%dT%H:%MZ)",
    "commit": "$commit", "cores": $(nproc), "wrk": "$(wrk -v 2>&1 | head -n1 | awk '{print $2}')",
    "database": "$database",
    "templates": $TEMPLATES + $enrolled, "synthetic": $TEMPLATES, "enrolled": $enrolled,
    "seedSecs": $seed_secs, "firstVerifyMs": $first_ms,
    "peakSecs": $PEAK_SECS, "warmupSecs": $WARMUP_SECS,
    "wrkArgs": "\`wrk -t$THREADS -c$CONNECTIONS --timeout 30s --latency -s bench/load/load.lua\`; 1:N verify \`-t1 -c$VERIFY_CONNECTIONS\`; session read walks $READ_POOL sessions; each validate on a fresh flow",
}, open(sys.argv[1], "w"))
PY
  python3 "$here/report.py" peak "$out" "$work/meta.json" || { echo "peak runs on $backend had errors" >&2; status=1; }

  # --- soak: the five endpoints at once, each at SOAK_LOAD/5 of its peak.
  rates=$(python3 "$here/report.py" rates "$out" "$SOAK_LOAD")
  eval "$rates"
  python3 - "$out/wrk/soak-meta.json" <<PY
import json, sys
json.dump({"backend": "$backend", "load": $SOAK_LOAD, "secs": $SOAK_SECS, "interval": $SAMPLE_SECS,
           "rssGrowthPct": $RSS_GROWTH_PCT,
           "rates": {"create": $rate_create, "read": $rate_read, "phone": $rate_phone, "verify": $rate_verify},
           "connections": {"create": $conns_create, "read": $conns_read, "phone": $conns_phone, "verify": $conns_verify}},
          open(sys.argv[1], "w"), indent=2)
PY
  echo "soak: ${SOAK_SECS}s at create $rate_create/s, read $rate_read/s, start+validate $rate_phone/s, verify $rate_verify/s" >&2
  token=$(curl -sf -d "grant_type=client_credentials&client_id=$client&client_secret=$secret" "$base/token" | json_field access_token)
  python3 "$here/sample.py" --pid "$server" --base "$base" --secs "$SOAK_SECS" --interval "$SAMPLE_SECS" \
    --out "$out/soak.csv" >"$out/wrk/soak-sampler.json" &
  sampler=$!
  sleep 0.2
  bg=()
  soak_wrk create "$conns_create" "$key" BENCH_RATE="$rate_create"
  soak_wrk read "$conns_read" "$key" BENCH_RATE="$rate_read" BENCH_IDS="$work/sessions"
  soak_wrk phone "$conns_phone" "$token" BENCH_RATE="$rate_phone"
  soak_wrk verify "$conns_verify" "$key" BENCH_RATE="$rate_verify" BENCH_BODY="$work/probe.json"
  for p in "${bg[@]}"; do wait "$p" || { echo "a soak wrk failed (see $out/wrk/soak-*.txt)" >&2; status=1; }; done
  bg=()
  wait "$sampler" || { echo "the sampler failed (server gone?)" >&2; status=1; }
  sampler=""
  python3 "$here/report.py" soak "$out" || status=1

  # Keep what the server logged at WARN or ERROR.
  grep -E '"level":"(WARN|ERROR)"' "$work/serve-$backend.log" | tail -n 200 >"$out/wrk/server-warnings.log" || true
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
  if [ -n "$pg_dir" ]; then "$root/scripts/pg-cluster.sh" stop "$pg_dir"; pg_dir=""; fi
  rm -f "$work/serve-$backend.log" "$work"/flows* "$work"/sessions*
done
[ "$status" -eq 0 ] && echo "load and soak: all passed" >&2 || echo "load and soak: FAILED (see above)" >&2
exit "$status"
