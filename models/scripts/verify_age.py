"""Check models/agegendernet.onnx (face-api.js's AgeGenderNet, rebuilt by
build_agegender_onnx.py) against the library itself, and print reference outputs for a Rust
implementation.

What it compares (the same 112x112 input tensors to both):
  * @vladmandic/face-api 1.7.15's own AgeGenderNet (faceapi_run.cjs: its node build, TFJS
    4.22.0 CPU backend, weights loaded from the package) vs ONNX Runtime, batched, plus
    batch-1 ORT runs;
  * inputs: 3 seeded random tensors (0..255) and, if shared/eval/faces is there, the crops
    of the 8 fixed MTCNN faces of verify_human.py (FACES) made by agegender_ref.py;
  * optionally (--ref-dir) the committed file, which must give identical outputs.
It also reports, for information only (not checked), how far our input recipe (vouch's
resampler) is from face-api's own input path (the same cut-out rectangle given to the
library, which pads it to a square and resizes with tf.image.resizeBilinear).

Exit status: 0 when every difference is within tolerance, 2 when not, 1 on error.

usage: python verify_age.py --faceapi-dir PKG --node-modules DIR --onnx agegendernet.onnx
                            [--ref-dir models] [--eval-faces DIR] [--json OUT.json]
  PKG: the unpacked @vladmandic/face-api-1.7.15.tgz (its package/ folder);
  DIR: node_modules with @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm 4.22.0.
needs numpy, onnxruntime, pillow; node >= 18.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from verify_human import FACES  # noqa: E402
from agegender_ref import agegender_input, agegender_rect  # noqa: E402


def run_faceapi(pkg, x, node_modules, work, tag):
    inp = os.path.join(work, f"{tag}.f32")
    np.ascontiguousarray(x, "<f4").tofile(inp)
    out = os.path.join(work, f"{tag}_out")
    r = subprocess.run(["node", os.path.join(HERE, "faceapi_run.cjs"), pkg, inp, ",".join(map(str, x.shape)), out],
                       env=dict(os.environ, NODE_PATH=node_modules), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"faceapi_run failed:\n{r.stderr}")
    msg = [l for l in r.stderr.splitlines() if l.startswith("faceapi_run:")]
    return {"age": np.fromfile(out + "_age.f32", "<f4").reshape(-1, 1),
            "gender": np.fromfile(out + "_gender.f32", "<f4").reshape(-1, 2)}, (msg[0] if msg else "")


def run_ort(path, x):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, {"input": x.astype(np.float32)})))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--faceapi-dir", required=True)
    ap.add_argument("--node-modules", required=True)
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--ref-dir")
    ap.add_argument("--eval-faces", default=os.path.join(HERE, "..", "..", "..", "shared", "eval", "faces"))
    ap.add_argument("--json")
    a = ap.parse_args()

    rng = np.random.default_rng(20240601)
    xs = [rng.uniform(0, 255, (112, 112, 3)).astype(np.float32) for _ in range(3)]
    tags = ["random 0..255"] * 3
    faces, cutouts = [], []
    if os.path.isdir(a.eval_faces):
        from PIL import Image
        for name, bbox in FACES:
            img = np.asarray(Image.open(os.path.join(a.eval_faces, name)).convert("RGB"))
            x, rect, side = agegender_input(img, bbox)
            faces.append({"image": name, "size": [img.shape[1], img.shape[0]], "mtcnn_box": bbox,
                          "crop_x1y1x2y2": list(rect), "square_side": side, "input_mean": float(x.mean()),
                          "input_px_56_56": x[56, 56].astype(float).round(4).tolist(), "input_px_0_0": x[0, 0].astype(float).round(4).tolist()})
            X1, Y1, X2, Y2 = rect
            cutouts.append(img[Y1:Y2, X1:X2].astype(np.float32))
            xs.append(x)
            tags.append(name)
    else:
        print(f"verify_age: no evaluation photos at {a.eval_faces}; random inputs only")
    x = np.stack(xs)

    tol = {"age": 1e-3, "gender": 1e-5}
    ok = True
    result = {"faces": faces, "diffs": {}}
    with tempfile.TemporaryDirectory() as work:
        print(f"agegendernet: {len(x)} inputs {list(x.shape[1:])} ({tags.count('random 0..255')} random, {len(faces)} face crops)")
        fj, msg = run_faceapi(a.faceapi_dir, x, a.node_modules, work, "batch")
        print("  " + msg)
        on = run_ort(a.onnx, x)
        one = [run_ort(a.onnx, x[i:i + 1]) for i in range(len(x))]
        for k in ("age", "gender"):
            d = float(np.abs(on[k] - fj[k]).max())
            d1 = max(float(np.abs(one[i][k][0] - on[k][i]).max()) for i in range(len(x)))
            good = d <= tol[k] and d1 <= tol[k]
            ok &= good
            result["diffs"][k] = {"vs_faceapi": d, "batch1_vs_batched": d1}
            print(f"  {k:7s} {list(on[k].shape)}: max |onnx - face-api| {d:.3g} (max |face-api| {float(np.abs(fj[k]).max()):.3g}); "
                  f"batch-1 vs batched {d1:.3g}  {'ok' if good else 'TOO LARGE'}")
        if a.ref_dir:
            ref = os.path.join(a.ref_dir, os.path.basename(a.onnx))
            if os.path.exists(ref) and os.path.abspath(ref) != os.path.abspath(a.onnx):
                rr = run_ort(ref, x)
                d = max(float(np.abs(rr[k] - on[k]).max()) for k in on)
                ok &= d <= 1e-6
                result["diffs"]["vs_committed"] = d
                print(f"  vs committed {ref}: max abs diff {d:.3g}  {'ok' if d <= 1e-6 else 'DIFFERENT'}")
            else:
                print(f"  (no other committed {ref} to compare with)")
        if faces:
            lib = []
            for i, c in enumerate(cutouts):
                r, _ = run_faceapi(a.faceapi_dir, c[None], a.node_modules, work, f"cut{i}")
                lib.append((float(r["age"][0, 0]), float(r["gender"][0, 0])))
            print("\nreference outputs (ONNX Runtime) per face, and face-api's own input path on the same cut-out:")
            print(f"  {'image':24s} {'MTCNN box x1,y1,x2,y2':28s} {'crop X1,Y1,X2,Y2':20s} {'side':>5s} {'age':>7s} {'P(male)':>7s} | {'lib age':>7s} {'lib P(m)':>8s}")
            for i, f in enumerate(faces):
                age, pm = float(on["age"][3 + i, 0]), float(on["gender"][3 + i, 0])
                f.update({"age": age, "p_male": pm, "faceapi_input_path_age": lib[i][0], "faceapi_input_path_p_male": lib[i][1]})
                print(f"  {f['image']:24s} {','.join(f'{v:.1f}' for v in f['mtcnn_box']):28s} {','.join(map(str, f['crop_x1y1x2y2'])):20s} "
                      f"{f['square_side']:5d} {age:7.2f} {pm:7.3f} | {lib[i][0]:7.2f} {lib[i][1]:8.3f}")
            dl = [abs(f["age"] - f["faceapi_input_path_age"]) for f in faces]
            result["resampler_vs_library_input_path_years"] = {"median": float(np.median(dl)), "max": float(np.max(dl))}
            print(f"  our resampler vs face-api's input path: |age difference| median {np.median(dl):.2f}, max {np.max(dl):.2f} years (information, not checked)")
            f0 = faces[0]
            print(f"\n{f0['image']}: input mean {f0['input_mean']:.4f}; input[0,56,56,:] {f0['input_px_56_56']}, input[0,0,0,:] {f0['input_px_0_0']}")
    if a.json:
        json.dump(result, open(a.json, "w"), indent=1, default=float)
    print("\nverify_age: " + ("OK" if ok else "FAILED (see TOO LARGE / DIFFERENT above)"))
    sys.exit(0 if ok else 2)


if __name__ == "__main__":
    main()
