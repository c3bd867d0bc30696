#!/usr/bin/env bash
# 1:N identity at scale, on one machine:
#   1. `vouch identity enroll-batch` of ENROLL_IMAGES (10,000) webcam frames made by
#      vouch-footage from the eval faces (one person per face), with its progress bar;
#   2. SYNTHETIC (100,000) random unit templates added by `vouch identity seed-synthetic`
#      (a search costs the same whatever the faces);
#   3. `POST /api/verify` of a real probe (a 640x480 webcam frame of img2.jpg, the person
#      enrolled as img1; PROBE=FILE for another) against all of them: VERIFY_RUNS (20) timed requests after one untimed (which loads the index),
#      p50/p90; the server's RSS before and after the index is loaded.
# Writes bench/identity/results/{summary.md,verify.json,enroll.json}.
#   bench/identity/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$here/results"
mkdir -p "$out"
ENROLL_IMAGES=${ENROLL_IMAGES:-10000}
SYNTHETIC=${SYNTHETIC:-100000}
VERIFY_RUNS=${VERIFY_RUNS:-20}
# The probe: a 640x480 webcam frame of img2 (what a browser camera sends), or PROBE=FILE.
PROBE=${PROBE:-}
PORT=${PORT:-18095}

(cd "$root" && cargo build --release -q -p vouch -p vouch-docsynth)
vouch="$root/target/release/vouch"
footage="$root/target/release/vouch-footage"
faces="$root/../shared/eval/faces"
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM
export VOUCH_DATA_DIR="$work/data" VOUCH_MODELS_DIR=${VOUCH_MODELS_DIR:-$root/models} VOUCH_LOG_FORMAT=json

echo "making webcam frames of the eval faces" >&2
frames=()
for f in img1 img3 img8 img12 img13 img16 img18 img20 img22 img24; do
  eyes=$("$vouch" face analyze "$faces/$f.jpg" 2>/dev/null | python3 -c \
    "import json,sys; l=json.load(sys.stdin)['faces'][0]['landmarks']; print(','.join('%.1f' % v for v in l[0] + l[1]))")
  "$footage" "$faces/$f.jpg" "$work/frames/$f" --eyes "$eyes" 2>/dev/null
done
python3 - "$work/frames" "$ENROLL_IMAGES" > "$work/enroll.csv" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
files = sorted((d, f) for d in os.listdir(root) for f in os.listdir(os.path.join(root, d)) if f.endswith(".jpg"))
print("email,image")
for i in range(n):
    d, f = files[i % len(files)]
    print(f"{d}@bench.example,{os.path.join(root, d, f)}")
PY

org=$("$vouch" org create --name bench 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["orgId"])')
key=$("$vouch" key create --org "$org" --name bench --rate-limit 1000000 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')

echo "enrolling $ENROLL_IMAGES images" >&2
"$vouch" identity enroll-batch --org "$org" "$work/enroll.csv" > "$out/enroll.json"
echo "seeding $SYNTHETIC synthetic templates" >&2
start=$(date +%s.%N)
"$vouch" identity seed-synthetic --org "$org" --count "$SYNTHETIC" >/dev/null
seeded=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")

"$vouch" serve --listen "127.0.0.1:$PORT" > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
if [ -z "$PROBE" ]; then
  eyes=$("$vouch" face analyze "$faces/img2.jpg" 2>/dev/null | python3 -c \
    "import json,sys; l=json.load(sys.stdin)['faces'][0]['landmarks']; print(','.join('%.1f' % v for v in l[0] + l[1]))")
  "$footage" "$faces/img2.jpg" "$work/probe" --eyes "$eyes" --still 2>/dev/null
  PROBE="$work/probe/frame-00.jpg"
fi
python3 - "$PORT" "$key" "$PROBE" "$VERIFY_RUNS" "$pid" "$rss_before" "$ENROLL_IMAGES" "$SYNTHETIC" > "$out/verify.json" <<'PY'
import base64, json, statistics, sys, time, urllib.request
port, key, photo, runs, pid, rss_before, enrolled, synthetic = sys.argv[1:]
body = json.dumps({"image": base64.b64encode(open(photo, "rb").read()).decode()}).encode()
def verify():
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/verify", data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("x-api-key", key)
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            answer = json.loads(r.read())
    except urllib.error.HTTPError as e:
        answer = json.loads(e.read())
    return (time.perf_counter() - t0) * 1000, answer
first_ms, _ = verify()
times, answer = [], None
for _ in range(int(runs)):
    ms, answer = verify()
    times.append(ms)
rss = [int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0]
s = sorted(times)
print(json.dumps({
    "templates": int(enrolled) + int(synthetic), "runs": int(runs),
    "firstMs": round(first_ms, 1), "p50": round(statistics.median(times), 1),
    "p90": round(s[int(0.9 * (len(s) - 1))], 1), "ms": [round(t, 1) for t in times],
    "rssBeforeKiB": int(rss_before), "rssAfterKiB": rss,
    "lastAnswer": {k: answer.get(k) for k in ("verified", "email", "confidence", "compositeScore")},
}, indent=2))
PY
python3 - "$out" "$seeded" > "$out/summary.md" <<'PY'
import json, sys
out, seeded = sys.argv[1], sys.argv[2]
e = json.load(open(f"{out}/enroll.json"))
v = json.load(open(f"{out}/verify.json"))
per = (v["rssAfterKiB"] - v["rssBeforeKiB"]) * 1024 / max(v["templates"], 1)
print(f"enroll-batch: {e['enrolled']} images enrolled ({e['failed']} failed) in {e['seconds']} s, {e['perSecond']} images/s")
print(f"seed-synthetic: {v['templates'] - e['enrolled']} templates in {seeded} s")
print(f"POST /api/verify against {v['templates']:,} templates, {v['runs']} runs: p50 **{v['p50']} ms**, p90 {v['p90']} ms "
      f"(target p50 < 80 ms: {'met' if v['p50'] < 80 else 'NOT met'}); first request (loads the index) {v['firstMs']} ms")
print(f"server RSS {v['rssBeforeKiB'] // 1024} MiB before the index, {v['rssAfterKiB'] // 1024} MiB after: "
      f"{per:.0f} bytes a template in memory (768 of them the f32 embedding)")
print(f"last answer: {json.dumps(v['lastAnswer'])}")
PY
cat "$out/summary.md"
