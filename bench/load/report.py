#!/usr/bin/env python3
"""The bookkeeping of bench/load/run.sh (Python standard library; the plot is gnuplot's).

    report.py peak OUT META_JSON      wrk outputs OUT/wrk/peak-*.txt -> OUT/peak.json
    report.py rates OUT LOAD          the soak's offered rates, as shell assignments
    report.py soak OUT                OUT/soak.csv + OUT/wrk/soak-*.txt -> OUT/soak.png,
                                      OUT/summary.md; exit status 1 if the soak failed

The soak offers LOAD (0.70) of the machine, shared equally by the five endpoints: each
gets LOAD/5 of its own peak (one endpoint's peak already takes the whole machine, so
five at 70 % of their peaks at once would ask for 350 %). /v3/start and /v3/validate run
as pairs (each started flow is validated), so they share one rate r with
r/peak_start + r/peak_validate = 2*LOAD/5.
"""
import csv
import json
import math
import os
import statistics
import subprocess
import sys

ORDER = ["create", "read", "start", "validate", "verify"]
NAMES = {
    "create": "session create — POST /api/v1/verify",
    "read": "session read — GET /api/v1/verify/{id}",
    "start": "v3 start — POST /v3/start",
    "validate": "v3 validate — POST /v3/validate",
    "verify": "1:N verify — POST /api/verify",
}


def wrk_result(path):
    with open(path) as f:
        for line in f:
            if line.startswith("RESULT "):
                return json.loads(line[len("RESULT "):])
    raise SystemExit(f"{path}: no RESULT line (wrk failed?)")


def errors_of(r):
    return sum(r["errors"].values()) + r.get("bad", 0)


def peak(out, meta_path):
    meta = json.load(open(meta_path))
    endpoints = {}
    for ep in ORDER:
        r = wrk_result(os.path.join(out, "wrk", f"peak-{ep}.txt"))
        endpoints[ep] = {
            "rps": round(r["rps"], 1),
            "requests": r["requests"],
            "seconds": r["seconds"],
            "p50_ms": r["p50_us"] / 1000,
            "p90_ms": r["p90_us"] / 1000,
            "p99_ms": r["p99_us"] / 1000,
            "max_ms": r["max_us"] / 1000,
            "non2xx": r["errors"]["status"],
            "socket_errors": r["errors"]["connect"] + r["errors"]["read"] + r["errors"]["write"]
            + r["errors"]["timeout"],
            "bad_bodies": r.get("bad", 0),
            "flows_exhausted": r.get("exhausted", 0),
        }
    meta["endpoints"] = endpoints
    with open(os.path.join(out, "peak.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    bad = [ep for ep, e in endpoints.items()
           if e["non2xx"] or e["socket_errors"] or e["bad_bodies"] or e["flows_exhausted"]]
    for ep in ORDER:
        e = endpoints[ep]
        print(f"  {ep:9s} {e['rps']:9.1f} req/s  p50 {e['p50_ms']:.2f} ms  p90 {e['p90_ms']:.2f} ms  "
              f"p99 {e['p99_ms']:.2f} ms  non-2xx {e['non2xx']}  socket errors {e['socket_errors']}  "
              f"bad answers {e['bad_bodies']}", file=sys.stderr)
    if bad:
        print(f"peak: errors on {', '.join(bad)} (see {out}/wrk/)", file=sys.stderr)
        return 1
    return 0


def conns(rate, budget=0.05, lo=2, hi=64):
    """Enough connections to keep `rate` going while answers take up to `budget` s."""
    return max(lo, min(hi, math.ceil(rate * budget)))


def soak_rates(out, load):
    p = json.load(open(os.path.join(out, "peak.json")))["endpoints"]
    zero = [ep for ep in ORDER if p[ep]["rps"] <= 0]
    if zero:
        raise SystemExit(f"no peak measured for {', '.join(zero)}: cannot set the soak's rates")
    share = load / len(ORDER)
    rates = {ep: share * p[ep]["rps"] for ep in ("create", "read", "verify")}
    pair = 2 * share / (1 / p["start"]["rps"] + 1 / p["validate"]["rps"])
    rates["phone"] = 2 * pair  # requests/s of the phone process: start and validate
    for ep, r in rates.items():
        print(f"rate_{ep}={r:.2f}")
        print(f"conns_{ep}={conns(r)}")
    return 0


def fmt(x, nd=1):
    return f"{x:,.{nd}f}"


def soak(out):
    rows = list(csv.DictReader(open(os.path.join(out, "soak.csv"))))
    peakj = json.load(open(os.path.join(out, "peak.json")))
    meta = json.load(open(os.path.join(out, "wrk", "soak-meta.json")))
    p = peakj["endpoints"]
    wrks = {m: wrk_result(os.path.join(out, "wrk", f"soak-{m}.txt"))
            for m in ("create", "read", "phone", "verify")}
    sampler = json.load(open(os.path.join(out, "wrk", "soak-sampler.json")))
    threshold = float(meta["rssGrowthPct"])

    # Memory: the median RSS of the last third against that of the middle third (the
    # first third holds the warm-up: caches, pools, allocator arenas filling).
    t = [float(r["t_s"]) for r in rows]
    rss = [float(r["rss_mib"]) for r in rows]
    n = len(rows)
    mid = rss[n // 3: 2 * n // 3] or rss
    last = rss[2 * n // 3:] or rss
    mid_med, last_med = statistics.median(mid), statistics.median(last)
    growth = (last_med - mid_med) / mid_med * 100
    tail_t, tail_r = t[n // 3:], rss[n // 3:]
    slope = 0.0
    if len(tail_t) >= 2:
        mt, mr = statistics.fmean(tail_t), statistics.fmean(tail_r)
        den = sum((x - mt) ** 2 for x in tail_t)
        slope = sum((x - mt) * (y - mr) for x, y in zip(tail_t, tail_r)) / den * 60 if den else 0.0

    errors = {m: errors_of(w) for m, w in wrks.items()}
    server_errors = sum(int(r["errors"]) for r in rows)
    total_errors = sum(errors.values()) + server_errors
    mem_ok = growth <= threshold
    ok = total_errors == 0 and mem_ok

    # Offered against achieved rates (a shortfall means the load was lighter than asked).
    achieved = {
        "create": wrks["create"]["rps"], "read": wrks["read"]["rps"],
        "start": wrks["phone"]["starts"] / wrks["phone"]["seconds"],
        "validate": wrks["phone"]["validates"] / wrks["phone"]["seconds"],
        "verify": wrks["verify"]["rps"],
    }
    target = dict(meta["rates"])
    target["start"] = target["validate"] = target.pop("phone") / 2

    # The plot: RSS above, requests/s of each endpoint below.
    gp = os.path.join(out, "wrk", "soak.gp")
    csvp = os.path.join(out, "soak.csv")
    title = (f"vouch soak on {meta['backend']}: {meta['load'] * 100:.0f}% of peak, "
             f"{meta['secs']:.0f} s, {peakj['templates']:,} templates")
    with open(gp, "w") as f:
        f.write(f"""set terminal pngcairo size 1100,800 font ",10" noenhanced
set output "{os.path.join(out, 'soak.png')}"
set datafile separator ","
set datafile columnheaders
set key outside right
set multiplot layout 2,1 title "{title}"
set grid
set lmargin at screen 0.08
set rmargin at screen 0.80
set xrange [0:{meta['secs']}]
set xlabel "seconds"
set ylabel "server RSS (MiB)"
set yrange [0:*]
plot "{csvp}" using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc rgb "#1f3b73" title "VmRSS every {meta['interval']:g} s"
set ylabel "answered requests/s (2xx), log scale"
set logscale y
set yrange [0.5:*]
plot "{csvp}" every ::1 using 1:3 with lines lw 2 lc rgb "#1f77b4" title "session create", \\
     "{csvp}" every ::1 using 1:4 with lines lw 2 lc rgb "#2ca02c" title "session read", \\
     "{csvp}" every ::1 using 1:5 with lines lw 2 lc rgb "#9467bd" title "v3 start", \\
     "{csvp}" every ::1 using 1:6 with lines lw 2 lc rgb "#ff7f0e" dt 2 title "v3 validate", \\
     "{csvp}" every ::1 using 1:7 with lines lw 2 lc rgb "#d62728" title "1:N verify", \\
     "{csvp}" every ::1 using 1:($9 > 0 ? $9 : 1/0) with points pt 2 ps 1.5 lc rgb "black" title "errors in the interval"
unset multiplot
""")
    subprocess.run(["gnuplot", gp], check=True)

    peak_lines = ["| endpoint | requests/s | p50 | p90 | p99 | errors |", "|---|---:|---:|---:|---:|---:|"]
    for ep in ORDER:
        e = p[ep]
        peak_lines.append(f"| {NAMES[ep]} | {fmt(e['rps'])} | {e['p50_ms']:.2f} ms | {e['p90_ms']:.2f} ms "
                          f"| {e['p99_ms']:.2f} ms | {e['non2xx'] + e['socket_errors'] + e['bad_bodies']} |")
    soak_lines = ["| endpoint | offered requests/s | answered requests/s | p50 | p99 | errors |",
                  "|---|---:|---:|---:|---:|---:|"]
    for ep in ORDER:
        w = wrks["phone" if ep in ("start", "validate") else ep]
        lat = "(with start)" if ep == "validate" else f"{w['p50_us'] / 1000:.2f} ms"
        lat99 = "(with start)" if ep == "validate" else f"{w['p99_us'] / 1000:.2f} ms"
        err = "" if ep == "validate" else str(errors["phone" if ep == "start" else ep])
        soak_lines.append(f"| {NAMES[ep]} | {fmt(target[ep])} | {fmt(achieved[ep])} | {lat} | {lat99} | {err} |")

    s = peakj
    md = f"""# Load and soak on {s['backend']} — `bench/load/run.sh`

Command: `{s['command']}`
Date: {s['date']}; commit {s['commit']}; {s['cores']} cores; release build; wrk {s['wrk']}.
Database: {s['database']}.
Gallery: {s['templates']:,} templates ({s['synthetic']:,} synthetic from `vouch identity seed-synthetic`,
seeded in {s['seedSecs']} s, plus {s['enrolled']} enrolled webcam frames of img1); the first verify
(loads the index) took {s['firstVerifyMs']} ms.

## Peak (`wrk --latency`, {s['peakSecs']} s each after a {s['warmupSecs']} s warm-up)

{s['wrkArgs']}

{chr(10).join(peak_lines)}

Errors: non-2xx answers, socket errors and timeouts, and answers judged bad (a verify not
`"verified":true`, a validate not `"success":true`).

## Soak ({meta['secs']:.0f} s, all five at once, {meta['load'] * 100:.0f} % of the machine: each endpoint at {meta['load'] / 5 * 100:.0f} % of its peak)

{chr(10).join(soak_lines)}

/v3/start and /v3/validate run as pairs in one wrk process (each flow started is then validated);
its latencies are of both together.

- errors: **{total_errors}** (wrk socket errors, non-2xx answers and bad bodies: {json.dumps(errors)};
  the server's own count of 4xx/5xx answers: {server_errors}{'; ' + json.dumps(sampler['errors']) if sampler['errors'] else ''})
- memory: RSS median {mid_med:.1f} MiB in the middle third, {last_med:.1f} MiB in the last third:
  **{growth:+.2f} %** (allowed: +{threshold:g} %); slope over the last two thirds {slope:+.2f} MiB/min;
  first sample {rss[0]:.1f} MiB, highest {max(rss):.1f} MiB
- verdict: **{'PASSED' if ok else 'FAILED'}**

![RSS and throughput during the soak](soak.png)

Raw: `peak.json`, `soak.csv` (one row every {meta['interval']:.0f} s: seconds, RSS in MiB, requests/s
answered by each endpoint, other routes, 4xx/5xx answers), `wrk/` (wrk outputs).
"""
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(md)
    print(md, file=sys.stderr)
    if not ok:
        why = []
        if total_errors:
            why.append(f"{total_errors} errors")
        if not mem_ok:
            why.append(f"RSS grew {growth:.2f} % from the middle to the last third (allowed {threshold:g} %)")
        print(f"SOAK FAILED on {s['backend']}: {'; '.join(why)}", file=sys.stderr)
        return 1
    return 0


def main():
    cmd, out = sys.argv[1], sys.argv[2]
    if cmd == "peak":
        return peak(out, sys.argv[3])
    if cmd == "rates":
        return soak_rates(out, float(sys.argv[3]))
    if cmd == "soak":
        return soak(out)
    raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    sys.exit(main())
