#!/usr/bin/env python3
"""Is OTP checking constant-time under load? For each of RUNS fresh flows (sandbox
number 2015550100, possession through the SDK endpoints): send an OTP, read the code
from the dev inbox, then time two wrong attempts, one sharing every digit but the last
with the right code ("near") and one sharing none ("far"), in random order. Prints the
medians, the difference and Welch's t statistic as JSON. run.sh runs it while wrk loads
/v3/start.

    otp_timing.py --base http://127.0.0.1:18080 --token TOKEN --runs 300
"""
import argparse
import http.client
import json
import random
import statistics
import time
import urllib.parse


def call(conn, method, path, body=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def timed(conn, token, code):
    t0 = time.perf_counter_ns()
    status, _ = call(conn, "POST", "/v3/sdk/otp/finish", {"otp": code}, token)
    dt = (time.perf_counter_ns() - t0) / 1000
    if status != 400:
        raise SystemExit(f"a wrong code answered {status}")
    return dt


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--runs", type=int, default=300)
    a = p.parse_args()
    u = urllib.parse.urlparse(a.base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    near, far = [], []
    for _ in range(a.runs):
        status, body = call(conn, "POST", "/v3/start", {"flowType": "mobile", "phoneNumber": "2015550100"}, a.token)
        if status != 200:
            raise SystemExit(f"/v3/start answered {status}: {body[:200]!r}")
        auth = json.loads(body)["authToken"]
        status, body = call(conn, "POST", "/v3/sdk/otp/start", {}, auth)
        if status != 200:
            raise SystemExit(f"/v3/sdk/otp/start answered {status}: {body[:200]!r}")
        status, body = call(conn, "GET", "/dev/sms?to=%2B12015550100&limit=1")
        text = json.loads(body)["messages"][0]["body"]
        code = next(w for w in text.replace(".", " ").split() if w.isdigit() and len(w) == 6)
        near_code = code[:-1] + str((int(code[-1]) + 1) % 10)
        far_code = "".join(str((int(c) + 5) % 10) for c in code)
        pair = [("near", near_code), ("far", far_code)]
        random.shuffle(pair)
        for name, c in pair:
            (near if name == "near" else far).append(timed(conn, auth, c))
    mn, mf = statistics.median(near), statistics.median(far)
    sn, sf = statistics.stdev(near), statistics.stdev(far)
    t = (statistics.mean(near) - statistics.mean(far)) / ((sn**2 / len(near) + sf**2 / len(far)) ** 0.5)
    print(json.dumps({
        "runs": a.runs,
        "near_median_us": round(mn, 1),
        "far_median_us": round(mf, 1),
        "median_difference_us": round(mn - mf, 1),
        "welch_t": round(t, 2),
    }))


if __name__ == "__main__":
    main()
