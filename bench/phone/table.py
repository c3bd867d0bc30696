#!/usr/bin/env python3
"""Summarises bench/phone/results as markdown: table.py RESULTS THREADS CONNECTIONS DURATION."""
import json
import os
import re
import sys

out, threads, conns, duration = sys.argv[1:5]


def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p = {k: int(v) / 1000 for k, v in re.findall(r"^(p\d+)_us (\d+)$", text, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    exhausted = sum(int(n) for n in re.findall(r"^exhausted (\d+)$", text, re.M))
    return rps, p, int(bad.group(1)) if bad else 0, exhausted


b = parse(os.path.join(out, "wrk-baseline.txt"))
print(f"`wrk -t{threads} -c{conns} -d{duration} --latency`, SQLite, same run\n")
print("| endpoint | requests/s | p50 | p90 | p99 | non-2xx | vs floor |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, f in (("POST /v3/start", "wrk-start.txt"), ("POST /v3/validate", "wrk-validate.txt")):
    rps, p, bad, exhausted = parse(os.path.join(out, f))
    ratio = rps / b[0]
    verdict = "met" if ratio >= 0.6 and p["p99"] < 50 and bad == 0 and not exhausted else "NOT met"
    note = f" (ran out of prepared flows {exhausted}×: rerun with more FLOWS)" if exhausted else ""
    print(f"| {name} | {rps:,.0f} | {p['p50']:.2f} ms | {p['p90']:.2f} ms | {p['p99']:.2f} ms | {bad} | "
          f"**{ratio:.2f}** ({verdict}){note} |")
print(f"| bare axum + SQLite insert (floor) | {b[0]:,.0f} | {b[1]['p50']:.2f} ms | {b[1]['p90']:.2f} ms | "
      f"{b[1]['p99']:.2f} ms | {b[2]} | 1.00 |")
print("\nTargets: ≥ 0.60 of the floor's throughput, p99 < 50 ms.")
otp = os.path.join(out, "otp-timing.json")
if os.path.exists(otp):
    d = json.load(open(otp))
    print(f"\nOTP checks under load ({d['runs']} flows, a wrong code sharing 5 of 6 digits vs none): "
          f"medians {d['near_median_us']} µs vs {d['far_median_us']} µs, difference "
          f"{d['median_difference_us']} µs, Welch t = {d['welch_t']} "
          f"({'no timing signal' if abs(d['welch_t']) < 3 else 'DIFFERENCE: investigate'}).")
