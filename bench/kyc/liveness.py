#!/usr/bin/env python3
"""Times one liveness step, POST /verify/{token}/selfie, against a running vouch.

Each run creates a fresh session (checks: liveness) and posts FRAMES base64 JPEG frames
(copies of one photo) to its hosted selfie endpoint. The time is the wall-clock time of
the selfie request on 127.0.0.1, which is the server's analysis plus a loopback transfer
of the JSON body. Prints JSON: every run's ms, p50, p90, and the last answer.
"""
import argparse
import base64
import json
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
    ap.add_argument("--photo", required=True)
    a = ap.parse_args()
    frame = base64.b64encode(open(a.photo, "rb").read()).decode()
    frames = [frame] * a.frames
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
        "photo": a.photo,
        "frames": a.frames,
        "runs": a.runs,
        "ms": [round(t, 1) for t in times],
        "p50": round(statistics.median(times), 1),
        "p90": round(pct(times, 90), 1),
        "lastAnswer": answer,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
