#!/usr/bin/env python3
"""Samples the server during the soak of bench/load/run.sh.

Every INTERVAL seconds (the first sample before the load starts): the server's resident
memory (VmRSS of /proc/PID/status) and, from its /metrics, the requests each endpoint
answered since the previous sample, as requests/s, and the answers with a status of 400
or more on any route. Writes one CSV row a sample; at the end prints a JSON summary
(every non-2xx/3xx answer by method, route and status) to standard output.

    sample.py --pid PID --base http://127.0.0.1:PORT --secs 600 --interval 10 --out soak.csv
"""
import argparse
import json
import re
import sys
import time
import urllib.request

# (column, method, route template) of the five endpoints under load.
ENDPOINTS = [
    ("create", "POST", "/api/v1/verify"),
    ("read", "GET", "/api/v1/verify/{sessionId}"),
    ("start", "POST", "/v3/start"),
    ("validate", "POST", "/v3/validate"),
    ("verify", "POST", "/api/verify"),
]
LINE = re.compile(r"^vouch_http_requests_total\{(.*)\}\s+([0-9.eE+]+)$")
LABEL = re.compile(r'(\w+)="([^"]*)"')


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def counts(base):
    """{(method, route, status): count} from the server's /metrics."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            labels = dict(LABEL.findall(m.group(1)))
            key = (labels.get("method"), labels.get("route"), int(labels.get("status", 0)))
            out[key] = out.get(key, 0) + int(float(m.group(2)))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--base", required=True)
    p.add_argument("--secs", type=float, required=True)
    p.add_argument("--interval", type=float, default=10.0)
    p.add_argument("--out", required=True)
    a = p.parse_args()

    cols = ["t_s", "rss_mib"] + [f"{c}_rps" for c, _, _ in ENDPOINTS] + ["other_rps", "errors"]
    f = open(a.out, "w")
    f.write(",".join(cols) + "\n")
    t0 = time.monotonic()
    prev = first = cur = counts(a.base)
    prev_t = t0
    n = 0
    while True:
        t = time.monotonic()
        rss = rss_kib(a.pid) / 1024
        if n:
            cur = counts(a.base)
        dt = max(t - prev_t, 1e-9)
        delta = {k: v - prev.get(k, 0) for k, v in cur.items()}
        row = [f"{t - t0:.1f}", f"{rss:.1f}"]
        known = 0
        for _, method, route in ENDPOINTS:
            ok = sum(v for (m, r, s), v in delta.items() if m == method and r == route and s < 400)
            known += ok
            row.append(f"{ok / dt:.1f}")
        other = sum(v for (m, r, s), v in delta.items() if s < 400) - known
        row.append(f"{other / dt:.1f}")
        row.append(str(sum(v for (_, _, s), v in delta.items() if s >= 400)))
        f.write(",".join(row) + "\n")
        f.flush()
        prev, prev_t = cur, t
        n += 1
        if t - t0 >= a.secs - 0.5:
            break
        time.sleep(max(0.0, t0 + n * a.interval - time.monotonic()))

    errors = {}
    for (m, r, s), v in cur.items():
        d = v - first.get((m, r, s), 0)
        if s >= 400 and d > 0:
            errors[f"{m} {r} {s}"] = d
    json.dump({"samples": n, "errors": errors}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
