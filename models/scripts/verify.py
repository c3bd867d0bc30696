"""Check a converted ONNX model against its TFLite original (and optionally a reference ONNX).

Feeds the same seeded random images (uint8 pixels, normalised the way vouch/the
Kotlin code does) to
  * the TFLite model in ai-edge-litert with the reference kernels (no delegate),
  * the TFLite model in ai-edge-litert with its default delegate (XNNPACK),
  * the ONNX model in onnxruntime (CPU), and
  * with --ref, a second ONNX model (e.g. the committed one) in onnxruntime,
and prints the max abs difference per output. For a model whose ONNX batch is
dynamic (MobileFaceNet) it also runs batches of 1 and 3 and checks each row against
the batch-2 run. For FaceAntiSpoofing it prints the liveness score
sum(|Identity| * Identity_1) both ways. With --ref it also compares the two ONNX graphs
structurally (op sequence, attributes, initializer values, names ignored), since
tf2onnx is not byte-deterministic: its generated names (const_fold_opt__NNN, ...) and
the graph doc_string (which holds the input path) change from run to run.

usage: python verify.py {mobilefacenet|faceantispoofing} MODEL.tflite MODEL.onnx
                        [--ref REF.onnx] [--n 10] [--seed 0] [--tol 1e-4] [--ref-tol 1e-5]
exit status 2 when a difference is over its tolerance (1 on other errors).
needs: ai-edge-litert, onnxruntime, onnx, numpy
"""
import argparse
import hashlib
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from ai_edge_litert.interpreter import Interpreter, OpResolverType

NORMALISE = {
    # MobileFaceNet: RGB, (x - 127.5) / 128
    "mobilefacenet": lambda x: (x.astype(np.float32) - 127.5) / 128.0,
    # FaceAntiSpoofing: RGB, x / 255
    "faceantispoofing": lambda x: x.astype(np.float32) / 255.0,
}

ap = argparse.ArgumentParser()
ap.add_argument("kind", choices=sorted(NORMALISE))
ap.add_argument("tflite")
ap.add_argument("onnx")
ap.add_argument("--ref")
ap.add_argument("--n", type=int, default=10, help="number of random batches")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--tol", type=float, default=1e-4, help="max abs diff allowed vs TFLite")
ap.add_argument("--ref-tol", type=float, default=1e-5, help="max abs diff allowed vs --ref")
a = ap.parse_args()
norm = NORMALISE[a.kind]


def tflite_runner(delegate):
    kw = {} if delegate else {
        "experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    it = Interpreter(model_path=a.tflite, **kw)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    outs = it.get_output_details()

    def run(x):
        it.set_tensor(inp["index"], x)
        it.invoke()
        return {o["name"]: it.get_tensor(o["index"]).copy() for o in outs}

    return run, tuple(int(v) for v in inp["shape"]), [o["name"] for o in outs]


def onnx_runner(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    iname = s.get_inputs()[0].name
    onames = [o.name for o in s.get_outputs()]
    return lambda x: dict(zip(onames, s.run(onames, {iname: x}))), s


tfl_ref, shape, out_names = tflite_runner(delegate=False)
tfl_xnn, _, _ = tflite_runner(delegate=True)
onx, sess = onnx_runner(a.onnx)
ref = onnx_runner(a.ref)[0] if a.ref else None

onnx_outs = [o.name for o in sess.get_outputs()]
if sorted(onnx_outs) != sorted(out_names):
    sys.exit(f"output names differ: tflite {out_names}, onnx {onnx_outs}")
in_shape = [d if isinstance(d, int) else "N" for d in sess.get_inputs()[0].shape]
print(f"verify {a.kind}: tflite input {list(shape)}, onnx input {in_shape}, outputs {out_names}, "
      f"{a.n} random batches, seed {a.seed}")

rng = np.random.default_rng(a.seed)
worst = {k: 0.0 for k in ("tflite_ref", "tflite_xnnpack", "ref_onnx", "dynbatch", "score")}
for _ in range(a.n):
    x = norm(rng.integers(0, 256, size=shape, dtype=np.uint8))
    o = onx(x)
    for key, other in (("tflite_ref", tfl_ref(x)), ("tflite_xnnpack", tfl_xnn(x))):
        for name in out_names:
            worst[key] = max(worst[key], float(np.abs(o[name] - other[name]).max()))
    if ref:
        r = ref(x)
        for name in out_names:
            worst["ref_onnx"] = max(worst["ref_onnx"], float(np.abs(o[name] - r[name]).max()))
    if a.kind == "faceantispoofing":
        t = tfl_ref(x)
        s_t = float(np.sum(np.abs(t["Identity"]) * t["Identity_1"]))
        s_o = float(np.sum(np.abs(o["Identity"]) * o["Identity_1"]))
        worst["score"] = max(worst["score"], abs(s_t - s_o))
        print(f"  liveness score tflite {s_t:.6f}  onnx {s_o:.6f}")
    if in_shape[0] == "N":
        # dynamic batch: single rows and a batch of 3 must give the batch-2 rows
        emb = o[out_names[0]]
        singles = np.concatenate([onx(x[i:i + 1])[out_names[0]] for i in range(shape[0])])
        three = onx(np.concatenate([x, x[:1]]))[out_names[0]]
        worst["dynbatch"] = max(worst["dynbatch"], float(np.abs(singles - emb).max()),
                                float(np.abs(three[:shape[0]] - emb).max()),
                                float(np.abs(three[shape[0]] - emb[0]).max()))



def structure(path):
    m = onnx.load(path)
    ops = [(n.op_type, n.domain, len(n.input), len(n.output),
            tuple(a.SerializeToString() for a in n.attribute)) for n in m.graph.node]
    inits = sorted((i.data_type, tuple(i.dims),
                    hashlib.sha256(numpy_helper.to_array(i).tobytes()).hexdigest())
                   for i in m.graph.initializer)
    return ops, inits, m


ok = True
print(f"  max abs diff ONNX vs TFLite (reference kernels): {worst['tflite_ref']:.3g}")
print(f"  max abs diff ONNX vs TFLite (XNNPACK delegate):  {worst['tflite_xnnpack']:.3g}")
ok &= worst["tflite_ref"] <= a.tol and worst["tflite_xnnpack"] <= a.tol
if a.kind == "faceantispoofing":
    print(f"  max abs diff of the liveness score:               {worst['score']:.3g}")
if in_shape[0] == "N":
    print(f"  max abs diff batch 1/3 vs batch 2:                {worst['dynbatch']:.3g}")
    ok &= worst["dynbatch"] <= a.tol
if ref:
    print(f"  max abs diff ONNX vs {a.ref}: {worst['ref_onnx']:.3g}")
    ok &= worst["ref_onnx"] <= a.ref_tol
    (ops_a, init_a, ma), (ops_b, init_b, mb) = structure(a.onnx), structure(a.ref)
    def names(m):
        return ({n.name for n in m.graph.node} | {t for n in m.graph.node for t in n.output}
                | {i.name for i in m.graph.initializer})
    renamed = len(names(ma) - names(mb))
    if ops_a == ops_b and init_a == init_b:
        print(f"  structure vs reference: same {len(ops_a)} nodes in the same order with the same "
              f"attributes, same {len(init_a)} initializer values; {renamed} generated "
              f"tensor/node names differ" + ("" if ma.graph.doc_string == mb.graph.doc_string
                                 else ", graph doc_string differs"))
    else:
        print(f"  structure vs reference: DIFFERENT (ops equal: {ops_a == ops_b}, "
              f"initializers equal: {init_a == init_b})")
print(f"  {'OK' if ok else 'FAILED'} (tolerance {a.tol:g} vs TFLite"
      + (f", {a.ref_tol:g} vs reference ONNX)" if ref else ")"))
sys.exit(0 if ok else 2)
