#!/usr/bin/env python3
"""Markdown table of bench/doc results: table.py RESULTS_DIR SET... reads
RESULTS_DIR/<set>-vouch.json (MRZ only), <set>-vouch-full.json (full read) and
<set>-passporteye.json (any may be missing), writes RESULTS_DIR/table.md and prints it."""

import json
import os
import sys


def load(results, name):
    path = os.path.join(results, name)
    return json.load(open(path)) if os.path.exists(path) else None


def tool_name(r):
    version = str(r.get("version", ""))
    return version if r["tool"].lower() in version.lower() else f"{r['tool']} {version}".strip()


def main():
    results, sets = sys.argv[1], sys.argv[2:]
    rows = [
        "| set | tool | documents | read rate | field accuracy | p50 ms/doc | mean ms/doc "
        "| PassportEye ÷ vouch time (p50, mean) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sets:
        v, f, p = (load(results, f"{s}-{t}.json") for t in ("vouch", "vouch-full", "passporteye"))
        for r, what in ((v, "MRZ only"), (f, "full read: + visual zone, portrait"), (p, "")):
            if r is None:
                continue
            ratio = ""
            if r is not p and p is not None:
                ratio = (f"{p['msPerDocument']['p50'] / r['msPerDocument']['p50']:.1f}×, "
                         f"{p['msPerDocument']['mean'] / r['msPerDocument']['mean']:.1f}×")
            name = tool_name(r) + (f" ({what})" if what else "")
            fast = r.get("readByFastPath")
            read = f"{r['readRate']:.3f} ({r['read']}" + (f"; fast path {fast}" if fast is not None else "") + ")"
            rows.append(
                f"| {s} | {name} | {r['documents']} | {read} "
                f"| {r['fieldAccuracy']:.3f} | {r['msPerDocument']['p50']:.0f} "
                f"| {r['msPerDocument']['mean']:.0f} | {ratio} |")
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    table = "\n".join(rows) + f"\n\nMachine: {os.cpu_count()} cores ({cpu or 'unknown CPU'}); one document at a time.\n"
    with open(os.path.join(results, "table.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
