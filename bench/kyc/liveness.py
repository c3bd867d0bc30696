#!/usr/bin/env python3
"""Times one liveness step, POST /verify/{token}/selfie, against a running vouch.

Each run creates a fresh session (checks: liveness) and posts FRAMES base64 JPEG frames
to its hosted selfie endpoint: by default what the hosted page sends, 640x480 webcam
frames 200 ms apart (every third frame of `vouch-footage` output at 15 fps, --frames-dir);
with --photo, copies of one photo. The time is the wall-clock time of
the selfie request on 127.0.0.1, which is the server's analysis plus a loopback transfer
of the JSON body. Prints JSON: every run's ms, p50, p90, and the last answer.
"""
import argparse
import base64
import json
import os
import statistics
import time
import urllib.request


def post(url, body, key=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, json.loads(r.read())


def pct(values, p):
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--photo")
    ap.add_argument("--frames-dir")
    a = ap.parse_args()
    if a.frames_dir:
        names = sorted(n for n in os.listdir(a.frames_dir) if n.endswith(".jpg"))[::3][: a.frames]
        frames = [base64.b64encode(open(os.path.join(a.frames_dir, n), "rb").read()).decode() for n in names]
        source = a.frames_dir
    elif a.photo:
        frames = [base64.b64encode(open(a.photo, "rb").read()).decode()] * a.frames
        source = a.photo
    else:
        raise SystemExit("give --frames-dir or --photo")
    times, answer = [], None
    # One untimed step first: the first inference pays one-off allocations.
    for i in range(a.runs + 1):
        _, s = post(f"{a.base}/api/v1/verify", {"externalRef": f"live{i}", "checks": ["liveness"]}, a.key)
        token = s["verificationUrl"].rstrip("/").rsplit("/", 1)[1]
        t0 = time.perf_counter()
        status, answer = post(f"{a.base}/verify/{token}/selfie", {"frames": frames})
        ms = (time.perf_counter() - t0) * 1000
        if status != 200:
            raise SystemExit(f"selfie answered {status}: {answer}")
        if i > 0:
            times.append(ms)
    out = {
        "source": source,
        "frames": len(frames),
        "runs": a.runs,
        "ms": [round(t, 1) for t in times],
        "p50": round(statistics.median(times), 1),
        "p90": round(pct(times, 90), 1),
        "lastAnswer": answer,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
