#!/usr/bin/env python3
"""Summarises bench/kyc/results as a markdown table: table.py RESULTS THREADS CONNECTIONS DURATION."""
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
    errors = re.search(r"Socket errors:.*", text)
    return rps, p, int(bad.group(1)) if bad else 0, errors.group(0) if errors else ""


v_rps, v_p, v_bad, v_err = parse(os.path.join(out, "wrk-vouch.txt"))
b_rps, b_p, b_bad, b_err = parse(os.path.join(out, "wrk-baseline.txt"))
ratio = v_rps / b_rps
print(f"`wrk -t{threads} -c{conns} -d{duration} --latency`, POST /api/v1/verify, same run\n")
print("| server | requests/s | p50 | p90 | p99 | non-2xx |")
print("|---|---:|---:|---:|---:|---:|")
print(f"| vouch (session create, SQLite) | {v_rps:,.0f} | {v_p['p50']:.2f} ms | {v_p['p90']:.2f} ms | {v_p['p99']:.2f} ms | {v_bad} |")
print(f"| bare axum + SQLite insert | {b_rps:,.0f} | {b_p['p50']:.2f} ms | {b_p['p90']:.2f} ms | {b_p['p99']:.2f} ms | {b_bad} |")
print()
print(f"ratio vouch/baseline: **{ratio:.2f}** (target ≥ 0.60: {'met' if ratio >= 0.6 else 'NOT met'}); "
      f"vouch p99 {v_p['p99']:.1f} ms (target < 50 ms: {'met' if v_p['p99'] < 50 else 'NOT met'})")
for name, e in (("vouch", v_err), ("baseline", b_err)):
    if e:
        print(f"\n{name}: {e}")
live = os.path.join(out, "liveness.json")
if os.path.exists(live):
    d = json.load(open(live))
    print(f"\nliveness step (POST /verify/{{token}}/selfie, {d['frames']} frames, {d['runs']} runs): "
          f"p50 **{d['p50']} ms**, p90 {d['p90']} ms "
          f"(target < 300 ms: {'met' if d['p90'] < 300 else 'NOT met'})")
