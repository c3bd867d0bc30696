"""Check the converted iris.onnx against TensorFlow.js running the original iris.json, and
print reference outputs (eye crops, eye aspect ratios) for a Rust implementation.

What it compares (same input tensors to both runtimes, batched, plus batch-1 ORT runs):
  * seeded random inputs (2, uniform 0..1);
  * real eye crops: for each fixed MTCNN box of verify_human.FACES, the face mesh
    (facemesh.onnx, preprocessing of models/human-notes.md) gives the eye corners, and
    eye_rect()/eye_input() below cut the 64x64 iris-model crop of both eyes from the photo
    (2.3 x the corner-to-corner box, squared; the image-right eye mirrored), RGB / 255.
It prints the max abs difference of the landmark output and of the decoded eye aspect
ratios, checks batch-1 rows against batched rows, optionally compares with the committed
file (--ref-dir, must be identical in value), and prints per eye the crop rectangle, the
iris-model EAR and the face-mesh EAR: the reference numbers quoted in models/human-notes.md.

Exit status: 0 when every difference is within tolerance, 2 when not, 1 on error.

usage: python verify_iris.py --tfjs-dir DIR --node-modules DIR --iris I.onnx
                             [--facemesh models/facemesh.onnx] [--ref-dir models]
                             [--eval-faces DIR] [--json OUT.json]
needs numpy, onnxruntime, pillow; node with @tensorflow/tfjs-core, -converter and
-backend-cpu 4.2.0 under --node-modules (tfjs_run.cjs and verify_human.py next to this file).
"""
import argparse
import json
import math
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from verify_human import (FACES, L_EYE, R_EYE, ear, facemesh_input, resize_region,  # noqa: E402
                          run_ort, run_tfjs)

IRIS_SIZE = 64
ENLARGE = 2.3          # MediaPipe / @vladmandic/human iris.ts irisEnlarge
N_CONTOUR = 71         # landmarks 0..70: eye contours and brow; 71..75: iris
N_POINTS = 76
# Face-mesh eye corners (outer, inner). The iris model is trained on the eye that appears on
# the image's left (the subject's right eye, mesh 33/133); the other eye is mirrored first.
EYES = (("right", 33, 133, False),    # subject's right eye, image left: fed as is
        ("left", 263, 362, True))     # subject's left eye, image right: mirrored
# Iris-model contour indices p1..p6 for EAR = (|p2-p6| + |p3-p5|) / (2|p1-p4|):
# 0 = outer corner, 8 = inner corner, 1..7 lower lid (outer -> inner), 9..15 upper lid
# (outer -> inner). They correspond to face-mesh 33, 160, 158, 133, 153, 144 (MediaPipe's
# MESH_TO_IRIS_INDICES_MAP: EyeLower0 = 0..8, EyeUpper0 = 9..15).
CONTOUR_EAR = [0, 11, 13, 8, 5, 3]


def eye_rect(p_outer, p_inner, enlarge=ENLARGE):
    """Square crop around two eye corners (image pixels): @vladmandic/human iris.ts getEyeBox
    (bounding box of the corners, enlarged 2.3x about its centre, squared to the longer
    side), with integer corners. Returns (x0, y0, side)."""
    xa, xb = sorted((float(p_outer[0]), float(p_inner[0])))
    ya, yb = sorted((float(p_outer[1]), float(p_inner[1])))
    side = int(math.floor(enlarge * max(xb - xa, yb - ya) + 0.5))
    cx, cy = (xa + xb) / 2, (ya + yb) / 2
    return int(math.floor(cx - side / 2 + 0.5)), int(math.floor(cy - side / 2 + 0.5)), side


def eye_input(img, rect, flip):
    """64x64x3 float32 RGB / 255 crop (resize.rs semantics, outside = black); mirrored if flip."""
    x0, y0, s = rect
    crop = resize_region(img, x0, y0, s, s, IRIS_SIZE, IRIS_SIZE) / 255.0
    return np.ascontiguousarray(crop[:, ::-1]) if flip else crop


def decode(out_row, rect=None, flip=False):
    """landmarks row (228 values) -> 76 x 3 (x, y, z); x, y in the 64x64 input's pixels, or
    in image pixels if rect is given (undoing the mirror for a flipped eye)."""
    p = np.asarray(out_row, np.float64).reshape(N_POINTS, 3).copy()
    if flip:
        p[:, 0] = IRIS_SIZE - p[:, 0]
    if rect is not None:
        x0, y0, s = rect
        p[:, 0] = x0 + p[:, 0] * s / IRIS_SIZE
        p[:, 1] = y0 + p[:, 1] * s / IRIS_SIZE
        p[:, 2] = p[:, 2] * s / IRIS_SIZE
    return p


def contour_ear(pts):
    return ear(pts, CONTOUR_EAR)


def mesh_image_points(mesh_row, mrect):
    x0, y0, s = mrect
    m = np.asarray(mesh_row, np.float64).reshape(468, 3)
    return np.stack([x0 + m[:, 0] * s / 192, y0 + m[:, 1] * s / 192, m[:, 2] * s / 192], 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tfjs-dir", required=True)
    ap.add_argument("--node-modules", required=True)
    ap.add_argument("--iris", required=True)
    ap.add_argument("--facemesh", default=os.path.join(HERE, "..", "facemesh.onnx"))
    ap.add_argument("--ref-dir")
    ap.add_argument("--eval-faces", default=os.path.join(HERE, "..", "..", "..", "shared", "eval", "faces"))
    ap.add_argument("--json")
    a = ap.parse_args()

    rng = np.random.default_rng(20240602)
    xs = [rng.uniform(0, 1, (IRIS_SIZE, IRIS_SIZE, 3)).astype(np.float32) for _ in range(2)]
    tags = ["random 0..1", "random 0..1"]
    eyes = []   # one dict per real eye crop, in the order of xs[2:]
    if os.path.isdir(a.eval_faces) and os.path.isfile(a.facemesh):
        from PIL import Image
        for name, bbox in FACES:
            img = np.asarray(Image.open(os.path.join(a.eval_faces, name)).convert("RGB"))
            fm, mrect = facemesh_input(img, bbox)
            mesh = run_ort(a.facemesh, fm[None])["mesh"][0]
            pts = mesh_image_points(mesh, mrect)
            mesh_crop = np.asarray(mesh, np.float64).reshape(468, 3)
            for eye, outer, inner, flip in EYES:
                rect = eye_rect(pts[outer], pts[inner])
                x = eye_input(img, rect, flip)
                xs.append(x.astype(np.float32))
                tags.append(f"{name} {eye}")
                eyes.append({"image": name, "mtcnn_box": bbox, "facemesh_rect_x0y0side": list(mrect), "eye": eye,
                             "flip": flip, "rect_x0y0side": list(rect), "input_mean": float(x.mean()),
                             "facemesh_ear": ear(mesh_crop, R_EYE if eye == "right" else L_EYE)})
    else:
        print(f"verify_iris: no evaluation photos at {a.eval_faces} (or no {a.facemesh}); random inputs only")
    x = np.stack(xs)
    print(f"iris: {len(x)} inputs {list(x.shape[1:])} (2 random, {len(eyes)} eye crops from {len(eyes) // 2} faces)")

    tol, dtol = 2e-3, 1e-4
    ok = True
    result = {"eyes": eyes, "diffs": {}}
    with tempfile.TemporaryDirectory() as work:
        tj = run_tfjs(os.path.join(a.tfjs_dir, "iris.json"), x, a.node_modules, work)
    if len(tj) != 1:
        sys.exit(f"verify_iris: expected one TFJS output, got {sorted(tj)}")
    tj = next(iter(tj.values()))
    on = run_ort(a.iris, x)["landmarks"]
    one = np.concatenate([run_ort(a.iris, x[i:i + 1])["landmarks"] for i in range(len(x))])
    d = float(np.abs(on - tj).max())
    d1 = float(np.abs(one - on).max())
    good = d <= tol and d1 <= tol
    ok &= good
    print(f"  landmarks {list(on.shape)}: max |onnx - tfjs| {d:.3g} px (max |tfjs| {float(np.abs(tj).max()):.3g}); "
          f"batch-1 vs batched {d1:.3g}  {'ok' if good else 'TOO LARGE'}")
    contour = max(float(np.abs(on[i].reshape(N_POINTS, 3)[:N_CONTOUR] - tj[i].reshape(N_POINTS, 3)[:N_CONTOUR]).max())
                  for i in range(len(x)))
    iris = max(float(np.abs(on[i].reshape(N_POINTS, 3)[N_CONTOUR:] - tj[i].reshape(N_POINTS, 3)[N_CONTOUR:]).max())
               for i in range(len(x)))
    dear = max(abs(contour_ear(decode(on[i])) - contour_ear(decode(tj[i]))) for i in range(len(x)))
    ok &= dear <= dtol
    print(f"  of which eye contour (0..70) {contour:.3g}, iris (71..75) {iris:.3g}")
    print(f"  decoded EAR (contour {CONTOUR_EAR}): max |onnx - tfjs| {dear:.3g}  {'ok' if dear <= dtol else 'TOO LARGE'}")
    result["diffs"] = {"vs_tfjs": d, "contour_vs_tfjs": contour, "iris_vs_tfjs": iris, "batch1_vs_batched": d1,
                       "ear_vs_tfjs": dear}
    if a.ref_dir:
        ref = os.path.join(a.ref_dir, os.path.basename(a.iris))
        if os.path.exists(ref):
            dr = float(np.abs(run_ort(ref, x)["landmarks"] - on).max())
            ok &= dr <= 1e-5
            print(f"  vs committed {ref}: max abs diff {dr:.3g}  {'ok' if dr <= 1e-5 else 'DIFFERENT'}")
            result["diffs"]["vs_committed"] = dr
        else:
            print(f"  (no committed {ref} to compare with)")

    if eyes:
        print("\nreference outputs (ONNX Runtime), per eye (EAR from iris contour points "
              f"{CONTOUR_EAR}; face-mesh EAR from {R_EYE} / {L_EYE}):")
        print(f"  {'image':24s} {'eye':5s} {'flip':5s} {'rect x0,y0,side':16s} {'in mean':>8s} {'EAR iris':>8s} {'EAR mesh':>8s} "
              f"{'iris centre X,Y':>16s} {'outer corner X,Y':>17s} {'inner corner X,Y':>17s}")
        for k, e in enumerate(eyes):
            p = decode(on[2 + k], e["rect_x0y0side"], e["flip"])
            e["iris_ear"] = contour_ear(p)
            e["iris_centre_xy"] = p[N_CONTOUR, :2].round(2).tolist()
            e["outer_corner_xy"], e["inner_corner_xy"] = p[0, :2].round(2).tolist(), p[8, :2].round(2).tolist()
            print(f"  {e['image']:24s} {e['eye']:5s} {str(e['flip']):5s} {','.join(map(str, e['rect_x0y0side'])):16s} "
                  f"{e['input_mean']:8.5f} {e['iris_ear']:8.3f} {e['facemesh_ear']:8.3f} "
                  f"{'%.1f,%.1f' % tuple(e['iris_centre_xy']):>16s} {'%.1f,%.1f' % tuple(e['outer_corner_xy']):>17s} "
                  f"{'%.1f,%.1f' % tuple(e['inner_corner_xy']):>17s}")
        e0 = eyes[0]
        raw = decode(on[2])
        print(f"\n{e0['image']} {e0['eye']} eye: input [0,32,32,:] {x[2][32, 32].astype(np.float64).round(6).tolist()}, "
              f"[0,0,0,:] {x[2][0, 0].astype(np.float64).round(6).tolist()}")
        for k in (0, 3, 4, 5, 8, 11, 12, 13, 71, 72, 73, 74, 75):
            print(f"  landmark[{k:2d}] (64x64 input pixels) {raw[k].round(3).tolist()}")
        e0["landmarks_raw"] = raw.round(4).tolist()
    if a.json:
        json.dump(result, open(a.json, "w"), indent=1, default=float)
    print("\nverify_iris: " + ("OK" if ok else "FAILED (see TOO LARGE / DIFFERENT above)"))
    sys.exit(0 if ok else 2)


if __name__ == "__main__":
    main()
