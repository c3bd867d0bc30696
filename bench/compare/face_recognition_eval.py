#!/usr/bin/env python3
"""Baseline: the Python `face_recognition` library (dlib) on labelled face pairs.

Usage (after ./setup.sh):
    .venv/bin/python face_recognition_eval.py --pairs PAIRS.txt --images DIR > result.json

pairs file: one pair per line, `file_a file_b same|diff` (blank lines and `#` comments skipped).

For every distinct image named in the pairs: load it (face_recognition.load_image_file, RGB),
detect faces with the default HOG detector (number_of_times_to_upsample=1), keep the largest
box, and compute its 128-d encoding with the library defaults (num_jitters=1, 5-point
landmarks). The time per image is wall clock for load + detect + encode, single thread (dlib's
HOG detector and its CPU DNN run on one thread; thread-count environment variables are also set
to 1 before any import). One untimed warm-up image runs first, so that one-off costs (first
touch of the models) are not counted.

Each pair's distance is the Euclidean distance of the two encodings
(face_recognition.face_distance); the library's default threshold is 0.6: match if
distance <= 0.6. A pair with an image in which no face was found has distance null, counts as
a non-match for accuracy, and takes the lowest possible score for AUC and TAR@FAR.

JSON goes to stdout, progress and errors to stderr.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib.metadata as md  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

THRESHOLD = 0.6
FAR_TARGETS = ("0.01", "0.001")


def log(msg):
    print(f"[face_recognition_eval] {msg}", file=sys.stderr, flush=True)


def read_pairs(path):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 3 or parts[2] not in ("same", "diff"):
                raise SystemExit(f"{path}:{n}: expected 'file_a file_b same|diff', got {line!r}")
            pairs.append((parts[0], parts[1], parts[2] == "same"))
    if not pairs:
        raise SystemExit(f"{path}: no pairs")
    return pairs


def machine_info():
    cpu = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpuModel": cpu or platform.processor() or None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "threads": 1,
        "loadAverageAtEnd": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def encode_image(fr, path):
    """Load + detect (HOG) + encode the largest face. Returns (encoding or None, faces found)."""
    image = fr.load_image_file(path)
    boxes = fr.face_locations(image, number_of_times_to_upsample=1, model="hog")
    if not boxes:
        return None, 0
    # box = (top, right, bottom, left)
    largest = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
    encodings = fr.face_encodings(image, known_face_locations=[largest], num_jitters=1, model="small")
    return (encodings[0] if encodings else None), len(boxes)


def auc(genuine, impostor):
    """P(genuine score > impostor score), ties counted as 1/2 (Mann-Whitney U / (n1 n2))."""
    if not genuine or not impostor:
        return None
    scores = sorted([(s, 1) for s in genuine] + [(s, 0) for s in impostor])
    rank_sum = 0.0
    i = 0
    while i < len(scores):
        j = i
        while j < len(scores) and scores[j][0] == scores[i][0]:
            j += 1
        mid_rank = (i + 1 + j) / 2  # ranks are 1-based; mean rank of the tied run i..j-1
        rank_sum += mid_rank * sum(lbl for _, lbl in scores[i:j])
        i = j
    n1, n0 = len(genuine), len(impostor)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)


def tar_at_far(genuine, impostor, far):
    """Highest TAR with at most floor(far * n_impostor) impostor scores accepted.

    Accept when score > t, with t the (k+1)-th highest impostor score (k = allowed false accepts),
    so ties with that impostor score are rejected (conservative)."""
    if not genuine or not impostor:
        return None, None, None, None
    k = math.floor(far * len(impostor) + 1e-9)
    imp = sorted(impostor, reverse=True)
    t = imp[k] if k < len(imp) else -math.inf
    tar = sum(s > t for s in genuine) / len(genuine)
    actual_far = sum(s > t for s in impostor) / len(impostor)
    return tar, t, actual_far, k


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", required=True, help="pairs file: file_a file_b same|diff")
    ap.add_argument("--images", required=True, help="folder holding the images named in --pairs")
    args = ap.parse_args()

    pairs = read_pairs(args.pairs)
    names = sorted({a for a, _, _ in pairs} | {b for _, b, _ in pairs})
    missing = [n for n in names if not os.path.isfile(os.path.join(args.images, n))]
    if missing:
        raise SystemExit(f"images not found in {args.images}: {', '.join(missing)}")

    t0 = time.perf_counter()
    import dlib
    import face_recognition as fr

    log(f"imported face_recognition + models in {(time.perf_counter() - t0) * 1000:.0f} ms")
    fr_version = md.version("face_recognition")  # fr.__version__ says 1.2.3 in the 1.3.0 release
    dist = next((f"{d} {md.version(d)}" for d in ("dlib", "dlib-bin") if _has_dist(d)), None)
    library = f"face_recognition {fr_version} (dlib {dlib.__version__})"

    warm = names[0]
    t0 = time.perf_counter()
    encode_image(fr, os.path.join(args.images, warm))
    log(f"warm-up on {warm}: {(time.perf_counter() - t0) * 1000:.0f} ms (not counted)")

    encodings, per_image, times, no_face = {}, [], [], []
    for name in names:
        path = os.path.join(args.images, name)
        try:
            t0 = time.perf_counter()
            enc, n_faces = encode_image(fr, path)
            ms = (time.perf_counter() - t0) * 1000
        except Exception as e:  # a broken image is reported and treated as no face
            log(f"error on {name}: {e!r}")
            enc, n_faces, ms = None, 0, None
        if ms is not None:
            times.append(ms)
        if enc is None:
            no_face.append(name)
        encodings[name] = enc
        per_image.append({"image": name, "faces": n_faces, "ms": None if ms is None else round(ms, 1)})
        log(f"{name}: {n_faces} face(s), {ms if ms is None else round(ms)} ms")

    out_pairs, genuine, impostor = [], [], []
    correct = tp = tn = fp = fn = 0
    for a, b, same in pairs:
        ea, eb = encodings[a], encodings[b]
        if ea is None or eb is None:
            dist_ab = None
            score = -math.inf
            match = False
        else:
            dist_ab = float(fr.face_distance([ea], eb)[0])
            score = -dist_ab
            match = dist_ab <= THRESHOLD
        (genuine if same else impostor).append(score)
        correct += match == same
        tp += match and same
        tn += (not match) and (not same)
        fp += match and not same
        fn += (not match) and same
        out_pairs.append({
            "a": a, "b": b, "same": same,
            "distance": None if dist_ab is None else round(dist_ab, 6),
            "match": match,
        })

    tar = {}
    tar_detail = {}
    for far in FAR_TARGETS:
        v, t, actual, k = tar_at_far(genuine, impostor, float(far))
        tar[far] = None if v is None else round(v, 4)
        tar_detail[far] = {
            "allowedFalseAccepts": k,
            "distanceThreshold": None if t is None or not math.isfinite(t) else round(-t, 6),
            "rule": "match if distance < distanceThreshold",
            "actualFar": None if actual is None else round(actual, 6),
        }

    n_pairs = len(pairs)
    n_no_face_pairs = sum(1 for p in out_pairs if p["distance"] is None)
    result = {
        "library": library,
        "dlibDistribution": dist,
        "settings": {
            "detector": "hog", "upsample": 1, "face": "largest",
            "numJitters": 1, "landmarks": "small (5-point)",
            "distance": "euclidean (face_recognition.face_distance)",
            "threads": 1, "warmup": f"1 untimed image ({warm})",
            "timed": "load_image_file + face_locations + face_encodings, wall clock, once per image",
        },
        "images": len(names),
        "noFace": no_face,
        "msPerImage": {
            "median": round(statistics.median(times), 1) if times else None,
            "mean": round(statistics.fmean(times), 1) if times else None,
            "min": round(min(times), 1) if times else None,
            "max": round(max(times), 1) if times else None,
        },
        "perImage": per_image,
        "pairs": out_pairs,
        "summary": {
            "threshold": THRESHOLD,
            "pairs": n_pairs,
            "samePairs": len(genuine),
            "diffPairs": len(impostor),
            "noFacePairs": n_no_face_pairs,
            "accuracy": round(correct / n_pairs, 4),
            "confusion": {"tp": tp, "fn": fn, "tn": tn, "fp": fp},
            "tarAtThreshold": round(tp / len(genuine), 4) if genuine else None,
            "farAtThreshold": round(fp / len(impostor), 4) if impostor else None,
            "auc": None if auc(genuine, impostor) is None else round(auc(genuine, impostor), 4),
            "tarAtFar": tar,
            "tarAtFarDetail": tar_detail,
            "notes": [
                "match if distance <= 0.6 (the library default); AUC and TAR@FAR use similarity = -distance",
                "pairs with an image where no face was found count as non-matches and get the lowest score "
                "(-inf) for AUC and TAR@FAR",
                f"TAR@FAR: threshold at the (k+1)-th highest different-pair score, k = floor(FAR x "
                f"{len(impostor)}) allowed false accepts; ties with it are rejected",
                f"with {len(impostor)} different pairs, FAR 0.001 allows floor({len(impostor)} x 0.001) = "
                f"{math.floor(0.001 * len(impostor) + 1e-9)} false accepts: it is effectively the TAR at "
                "zero false accepts",
            ],
        },
        "machine": machine_info(),
    }
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    s = result["summary"]
    log(f"{library}: accuracy {s['accuracy']}, AUC {s['auc']}, TAR@FAR {s['tarAtFar']}, "
        f"ms/image median {result['msPerImage']['median']} mean {result['msPerImage']['mean']}")


def _has_dist(name):
    try:
        md.version(name)
        return True
    except md.PackageNotFoundError:
        return False


if __name__ == "__main__":
    main()
