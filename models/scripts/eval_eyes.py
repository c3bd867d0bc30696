"""Eye state (open / closed) from MediaPipe Iris's eyelid landmarks (models/iris.onnx) on a
labelled set of grey eye patches such as Closed Eyes in the Wild (CEW, 24x24 patches):
how well does the eye aspect ratio separate open from closed eyes, and at what threshold?

  * Split: every patch gets a group key, its source image: `closed_eye_NNNN` for CEW's
    closed eyes (`closed_eye_0001.jpg_face_1_L.jpg`: both eyes, and every face, of one
    photo share the key), `Name_NNNN` for the open eyes (LFW file names,
    `Aaron_Guiel_0001_L.jpg`). A group goes to the calibration half when the first 8 hex
    digits of sha256(key), as an integer, are even; to the held-out half otherwise. So the
    two eyes of a face never straddle the halves, and the split does not depend on the
    order of the CSV or on anything measured.
  * Preprocessing: each patch is padded on every side by PAD pixels (edge-replicated or
    mirrored: the CEW patches are cut tight around the eye, while the model expects a crop
    about 2.3 x the eye's width), resampled to 64x64 (vouch's resize.rs semantics, bilinear
    with half-pixel centres when enlarging), the grey value copied to R, G and B, / 255.
    The patches of side L, of side R, of both or of neither are mirrored (the model wants
    the subject's right eye as it appears on the image's left). The pad (0, 4, ..., 24 px),
    the padding mode and the mirroring are chosen on the calibration half only: best
    accuracy at that half's own best threshold, the first of equals in the order tried.
  * Openness: eye aspect ratio EAR = (|p2-p6| + |p3-p5|) / (2|p1-p4|) on the iris model's
    contour points p1..p6 = 0, 11, 13, 8, 5, 3 (0/8 the corners, 11/13 the upper lid, 3/5
    the lower lid). Closed when EAR < threshold; the threshold maximises accuracy on the
    calibration half (midpoint between the two neighbouring EARs).
  * Baselines (same split, threshold and direction chosen on the calibration half): the mean
    grey of the patch's central band (rows 8..15 of 24), and that band's mean minus the
    whole patch's mean.
  * Held-out results: accuracy, closed-eye detection rate (recall of 'closed'), open-eye
    false-closed rate, each with its counts and a 95% Wilson interval; ROC AUC.

Prints one JSON object to stdout (progress on stderr). About 26 model runs over the
calibration half (1,192 patches) and one over all: 8 to 16 minutes on two busy cores.

usage: python eval_eyes.py LABELS.csv [--model models/iris.onnx] [--threads 2]
  LABELS.csv has the columns path,eye_state,side (paths relative to its folder;
  eye_state open|closed; side L|R). needs numpy, onnxruntime, pillow.
"""
import argparse
import csv
import hashlib
import json
import math
import os
import re
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from verify_human import _weights  # noqa: E402  (resize.rs weights)
from verify_iris import CONTOUR_EAR, IRIS_SIZE, N_POINTS  # noqa: E402

PADS = (0, 4, 8, 12, 16, 20, 24)
MODES = ("edge", "reflect")            # numpy.pad modes: edge-replicate, mirror (without the edge pixel twice)
FLIPS = ("none", "L", "R", "both")     # which side's patches are mirrored before the model
BAND = (8, 16)                         # central band rows [8, 16) of a 24-row patch


def group_key(path):
    f = os.path.basename(path)
    m = re.match(r"(closed_eye_\d+)\.[A-Za-z]+_face_\d+_[LR]\.jpg$", f)
    if m:
        return m.group(1)
    m = re.match(r"(.+_\d{4})_[LR]\.jpg$", f)
    if m:
        return m.group(1)
    raise ValueError(f"no source image in the file name {f!r}")


def half_of(key):
    return "calibration" if int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 2 == 0 else "heldout"


def wilson(k, n, z=1.959963984540054):
    if n == 0:
        return [None, None]
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return [round(c - h, 4), round(c + h, 4)]


def auc(score, closed):
    """P(score of a random closed eye < score of a random open eye), ties count half."""
    s_c, s_o = np.sort(score[closed]), np.sort(score[~closed])
    lo = np.searchsorted(s_o, s_c, side="left")
    hi = np.searchsorted(s_o, s_c, side="right")
    return float(((len(s_o) - hi) + 0.5 * (hi - lo)).sum() / (len(s_c) * len(s_o)))


def best_threshold(score, closed):
    """Threshold t (closed when score < t) with the best accuracy; the midpoint between two
    neighbouring scores, the first of equally good ones."""
    s = np.unique(score)
    cands = np.concatenate([[s[0] - 1e-6], (s[:-1] + s[1:]) / 2, [s[-1] + 1e-6]])
    order = np.argsort(score, kind="stable")
    ss, cc = score[order], closed[order]
    # for each candidate: #closed below it + #open at or above it
    below = np.searchsorted(ss, cands, side="left")
    closed_below = np.concatenate([[0], np.cumsum(cc)])[below]
    open_above = (~cc).sum() - (below - closed_below)
    acc = (closed_below + open_above) / len(score)
    i = int(np.argmax(acc))
    return float(cands[i]), float(acc[i])


def rates(score, closed, t, sign=1.0):
    pred = sign * score < sign * t
    n_c, n_o = int(closed.sum()), int((~closed).sum())
    tp, fp = int((pred & closed).sum()), int((pred & ~closed).sum())
    correct = tp + (n_o - fp)
    return {
        "n": n_c + n_o,
        "accuracy": round(correct / (n_c + n_o), 4), "correct": correct, "accuracy_ci95": wilson(correct, n_c + n_o),
        "closed_recall": round(tp / n_c, 4), "closed_detected": tp, "closed_total": n_c, "closed_recall_ci95": wilson(tp, n_c),
        "open_false_closed_rate": round(fp / n_o, 4), "open_false_closed": fp, "open_total": n_o,
        "open_false_closed_ci95": wilson(fp, n_o),
    }


class Model:
    def __init__(self, path, threads):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.wcache = {}

    def inputs(self, patches, pad, mode, mirror):
        """N x 24 x 24 uint8 -> N x 64 x 64 x 3 float32 model input."""
        x = patches.astype(np.float64)
        if pad:
            x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)), mode=mode)
        n = x.shape[1]
        if n not in self.wcache:
            self.wcache[n] = _weights(n, IRIS_SIZE)
        w = self.wcache[n]
        y = np.einsum("ij,njk,lk->nil", w, x, w)           # resize.rs: rows then columns, separable
        y = np.where(mirror[:, None, None], y[:, :, ::-1], y)
        return np.repeat((y / 255.0).astype(np.float32)[..., None], 3, axis=3)

    def ear(self, patches, pad, mode, mirror, batch=128):
        out = []
        for i in range(0, len(patches), batch):
            x = self.inputs(patches[i:i + batch], pad, mode, mirror[i:i + batch])
            lm = self.s.run(None, {"input": x})[0].reshape(len(x), N_POINTS, 3)[:, :, :2].astype(np.float64)
            p = lm[:, CONTOUR_EAR]
            d = lambda a, b: np.linalg.norm(p[:, a] - p[:, b], axis=1)  # noqa: E731
            out.append((d(1, 5) + d(2, 4)) / (2.0 * d(0, 3)))
        return np.concatenate(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("labels")
    ap.add_argument("--model", default=os.path.join(HERE, "..", "iris.onnx"))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    t0 = time.time()
    root = os.path.dirname(os.path.abspath(a.labels))
    rows = list(csv.DictReader(open(a.labels)))
    patches = np.stack([np.asarray(Image.open(os.path.join(root, r["path"])).convert("L")) for r in rows])
    if patches.shape[1:] != (24, 24):
        sys.exit(f"eval_eyes: expected 24x24 patches, got {patches.shape[1:]}")
    closed = np.array([r["eye_state"] == "closed" for r in rows])
    side = np.array([r["side"] for r in rows])
    keys = [group_key(r["path"]) for r in rows]
    half = np.array([half_of(k) for k in keys])
    cal, test = half == "calibration", half == "heldout"
    split = {h: {"patches": int((half == h).sum()), "groups": len({k for k, hh in zip(keys, half) if hh == h}),
                 "closed": int((closed & (half == h)).sum()), "open": int((~closed & (half == h)).sum())}
             for h in ("calibration", "heldout")}
    print(f"eval_eyes: {len(rows)} patches, {len(set(keys))} source images; split {split}", file=sys.stderr)

    model = Model(a.model, a.threads)
    # 1. choose pad, mode and mirroring on the calibration half
    cal_idx = np.flatnonzero(cal)
    candidates = []
    for mode in MODES:
        for pad in PADS:
            if pad == 0 and mode != MODES[0]:
                continue
            ears = {}
            for m in (False, True):
                ears[m] = model.ear(patches[cal_idx], pad, mode, np.full(len(cal_idx), m))
            for flip in FLIPS:
                mir = np.array([flip == "both" or flip == s for s in side[cal_idx]])
                e = np.where(mir, ears[True], ears[False])
                t, acc = best_threshold(e, closed[cal_idx])
                candidates.append({"pad": pad, "mode": mode if pad else "none", "mirror": flip, "threshold": round(t, 4),
                                   "calibration_accuracy": round(acc, 4), "calibration_auc": round(auc(e, closed[cal_idx]), 4)})
            best_here = max(c["calibration_accuracy"] for c in candidates[-len(FLIPS):])
            print(f"eval_eyes: pad {pad:2d} {mode:7s}: best calibration accuracy {best_here:.4f} ({time.time() - t0:.0f} s)",
                  file=sys.stderr)
    best = max(candidates, key=lambda c: c["calibration_accuracy"])   # first of equals
    pad, mode, flip = best["pad"], best["mode"], best["mirror"]
    mirror = np.array([flip == "both" or flip == s for s in side])

    # 2. apply it, once, to every patch; threshold from the calibration half
    ear = model.ear(patches, pad, mode if pad else "edge", mirror)
    t, cal_acc = best_threshold(ear[cal], closed[cal])
    held = rates(ear[test], closed[test], t)
    held["auc"] = round(auc(ear[test], closed[test]), 4)
    held["by_side"] = {s: rates(ear[test & (side == s)], closed[test & (side == s)], t) for s in ("L", "R")}
    result = {
        "dataset": os.path.basename(root) or root,
        "labels": os.path.abspath(a.labels),
        "model": {"file": os.path.basename(a.model),
                  "sha256": hashlib.sha256(open(a.model, "rb").read()).hexdigest()},
        "patches": len(rows), "closed": int(closed.sum()), "open": int((~closed).sum()),
        "split": {"rule": "group = source image (closed: closed_eye_NNNN; open: LFW Name_NNNN); calibration if "
                          "int(sha256(group)[:8], 16) is even, else held-out", **split},
        "measure": {"name": "eye aspect ratio", "formula": "(|p2-p6| + |p3-p5|) / (2|p1-p4|)",
                    "iris_contour_points_p1_to_p6": CONTOUR_EAR,
                    "meaning": "p1 = 0 outer corner, p4 = 8 inner corner, p2/p3 = 11/13 upper lid, p6/p5 = 3/5 lower lid",
                    "rule": "closed when EAR < threshold"},
        "preprocessing": {"pad_px_each_side": pad, "pad_mode": mode,
                          "mirrored_side": flip, "crop_px": 24 + 2 * pad, "resize": "to 64x64, resize.rs semantics",
                          "colour": "grey copied to R, G, B", "normalisation": "x / 255",
                          "chosen_on": "calibration half (best accuracy at its own best threshold)"},
        "threshold": round(t, 4),
        "calibration": {"accuracy": round(cal_acc, 4), "auc": round(auc(ear[cal], closed[cal]), 4),
                        "ear_median_open": round(float(np.median(ear[cal & ~closed])), 4),
                        "ear_median_closed": round(float(np.median(ear[cal & closed])), 4)},
        "heldout": held,
        "heldout_ear_median": {"open": round(float(np.median(ear[test & ~closed])), 4),
                               "closed": round(float(np.median(ear[test & closed])), 4)},
        "candidates_calibration": candidates,
    }

    # 3. baselines
    band = patches[:, BAND[0]:BAND[1], :].reshape(len(rows), -1).mean(1)
    contrast = band - patches.reshape(len(rows), -1).mean(1)
    result["baselines"] = {}
    for name, score, what in (("central_band_mean", band, f"mean grey of rows {BAND[0]}..{BAND[1] - 1}"),
                              ("central_band_contrast", contrast,
                               f"mean grey of rows {BAND[0]}..{BAND[1] - 1} minus the patch's mean grey")):
        # direction chosen on the calibration half: closed when sign * score < sign * threshold
        opts = []
        for sign in (1.0, -1.0):
            tt, acc = best_threshold(sign * score[cal], closed[cal])
            opts.append((acc, sign, sign * tt))
        acc, sign, tt = max(opts, key=lambda o: o[0])
        r = rates(score[test], closed[test], tt, sign)
        r["auc"] = round(auc(sign * score[test], closed[test]), 4)
        result["baselines"][name] = {"score": what, "rule": f"closed when score {'<' if sign > 0 else '>'} threshold",
                                     "threshold": round(float(tt), 3), "calibration_accuracy": round(acc, 4),
                                     "heldout": r}
    result["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
