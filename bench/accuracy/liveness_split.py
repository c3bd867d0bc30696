#!/usr/bin/env python3
"""Passive liveness on NUAA by subject split: calibrate on even-numbered subjects, report on
odd-numbered ones (no subject on both sides).

usage: liveness_split.py EVAL.json LABELS.csv [--fit]

EVAL.json is the output of `vouch face eval-liveness` over the whole set; LABELS.csv is the
set's labels.csv (its subject_id column says who is in each image). With --fit, prints the
calibration constants (crates/face/src/liveness.rs: CALIBRATION_A and CALIBRATION_B) fitted
on the calibration subjects: A from a logistic regression of the label on logit(raw), B so
that the operating point maps onto the key's default threshold 0.85. The operating point is
the highest raw score (rounded down to 0.05) at which the calibration subjects' BPCER is at
most 5%, provided their APCER there is at most 5% too: as strict on attacks as the target
on bona fide users allows (the EER point of NUAA's easy print attacks would sit lower and
let more of the harder replays through). Without --fit, reports APCER, BPCER and the EER of the calibrated
score at 0.85 on each half, with 95% Wilson intervals. Standard library only.
"""
import csv
import json
import math
import sys

from stats import wilson

THRESHOLD = 0.85




def logit(p):
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def rates(rows, t, key):
    bona = [r for r in rows if r["bona"]]
    att = [r for r in rows if not r["bona"]]
    bf = sum(1 for r in bona if r[key] is None or r[key] < t)
    ap = sum(1 for r in att if r[key] is not None and r[key] >= t)
    return ap, len(att), bf, len(bona)


def eer(rows, key):
    ts = sorted({r[key] for r in rows if r[key] is not None})
    best = None
    for t in ts:
        ap, na, bf, nb = rates(rows, t, key)
        a, b = ap / max(na, 1), bf / max(nb, 1)
        if best is None or abs(a - b) < best[0]:
            best = (abs(a - b), (a + b) / 2, t)
    return best[1], best[2]


def fit_slope(rows):
    """Logistic regression y ~ sigmoid(a * logit(raw) + b) by Newton's method."""
    xs = [(logit(r["raw"]), 1.0 if r["bona"] else 0.0) for r in rows if r["raw"] is not None]
    a, b = 1.0, 0.0
    for _ in range(50):
        ga = gb = haa = hab = hbb = 0.0
        for x, y in xs:
            p = 1 / (1 + math.exp(-(a * x + b)))
            ga += (p - y) * x
            gb += p - y
            w = p * (1 - p)
            haa += w * x * x
            hab += w * x
            hbb += w
        det = haa * hbb - hab * hab
        if abs(det) < 1e-12:
            break
        a -= (hbb * ga - hab * gb) / det
        b -= (haa * gb - hab * ga) / det
    return a


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    result = json.load(open(sys.argv[1]))
    subjects = {}
    with open(sys.argv[2]) as f:
        for r in csv.DictReader(f):
            subjects[r["path"]] = r["subject_id"]
    rows = []
    for img in result["images"]:
        s = subjects[img["path"]]
        rows.append({
            "subject": s,
            "half": "calibration" if int(s) % 2 == 0 else "held_out",
            "bona": img["label"] == "bona_fide",
            "raw": img["raw"],
            "score": img["score"],
        })
    cal = [r for r in rows if r["half"] == "calibration"]
    if "--fit" in sys.argv:
        e, t_eer = eer(cal, "raw")
        t_raw = None
        for k in range(1, 20):
            t = k * 0.05
            ap, na, bf, nb = rates(cal, t, "raw")
            if bf / max(nb, 1) <= 0.05 and ap / max(na, 1) <= 0.05:
                t_raw = t
        if t_raw is None:
            sys.exit("no raw threshold meets BPCER <= 5% and APCER <= 5% on the calibration subjects")
        ap, na, bf, nb = rates(cal, t_raw, "raw")
        a = fit_slope(cal)
        b = logit(THRESHOLD) - a * logit(t_raw)
        print(json.dumps({"calibrationEer": e, "rawThresholdAtCalibrationEer": t_eer,
                          "rawOperatingPoint": t_raw, "calibrationApcer": ap / na,
                          "calibrationBpcer": bf / nb,
                          "CALIBRATION_A": round(a, 4), "CALIBRATION_B": round(b, 4)}))
        return
    out = {"threshold": THRESHOLD, "split": "subject_id even: calibration; odd: held out"}
    for half in ["calibration", "held_out"]:
        part = [r for r in rows if r["half"] == half]
        ap, na, bf, nb = rates(part, THRESHOLD, "score")
        e, et = eer(part, "score")
        out[half] = {
            "subjects": sorted({r["subject"] for r in part}),
            "bonaFide": nb, "attacks": na,
            "apcer": ap / max(na, 1), "apcerCi95": wilson(ap, na),
            "bpcer": bf / max(nb, 1), "bpcerCi95": wilson(bf, nb),
            "eer": e, "eerThreshold": et,
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
