"""Give a tf2onnx-converted TFJS model plain tensor names and a symbolic batch dimension.

tf2onnx --tfjs names the graph inputs/outputs after the TFJS signature ('input_1:0',
'age_pred/Softmax:0', ...) and writes dim 0 as an anonymous 'unk__NNN'. This script
  * renames graph inputs/outputs (and every node input/output that refers to them)
    as given by OLD=NEW pairs, and puts the outputs in the order the pairs list them;
  * sets dim 0 of every graph input and output to the symbolic "N" (the graphs are
    batch-agnostic already: their Reshape constants use -1 for the batch);
  * clears the graph doc_string (tf2onnx records the input path there);
  * makes the output byte-reproducible: tf2onnx 1.17.0 numbers the names it generates
    (const_fold_opt__827, ..._Squeeze__833) differently from run to run, and orders the
    initializers by those names. Every name ending in "__<digits>" is renumbered in order
    of first appearance (nodes in graph order, inputs then outputs), and the initializers
    are sorted by first use. Names that came from the TFJS graph are kept;
then checks the model and saves it. It fails if an OLD name is not a graph input/output,
or if a graph input/output is left unnamed by the pairs.

usage: python rename_io.py in.onnx out.onnx OLD=NEW [OLD=NEW ...]   (needs onnx)
"""
import re
import sys

import onnx

src, dst, *pairs = sys.argv[1:]
ren = dict(p.split("=", 1) for p in pairs)

m = onnx.load(src)
g = m.graph
io = {vi.name for vi in list(g.input) + list(g.output)}
missing = [k for k in ren if k not in io]
if missing:
    sys.exit(f"rename_io: not graph inputs/outputs: {missing}; have {sorted(io)}")
unnamed = [k for k in io if k not in ren]
if unnamed:
    sys.exit(f"rename_io: graph inputs/outputs without a new name: {unnamed}")

for n in g.node:
    for i, x in enumerate(n.input):
        if x in ren:
            n.input[i] = ren[x]
    for i, x in enumerate(n.output):
        if x in ren:
            n.output[i] = ren[x]
for vi in g.value_info:
    if vi.name in ren:
        vi.name = ren[vi.name]
for vi in list(g.input) + list(g.output):
    vi.name = ren[vi.name]
    d0 = vi.type.tensor_type.shape.dim[0]
    d0.Clear()
    d0.dim_param = "N"

# canonical numbering of generated names
gen = re.compile(r"__\d+$")
canon = {}
def cname(x):
    if x and gen.search(x) and x not in canon:
        canon[x] = f"{gen.sub('', x)}__{len(canon)}"
    return canon.get(x, x)
first_use = {}
for i, n in enumerate(g.node):
    for j, x in enumerate(n.input):
        first_use.setdefault(x, (i, j))
        n.input[j] = cname(x)
    for j, x in enumerate(n.output):
        n.output[j] = cname(x)
    n.name = cname(n.name) if gen.search(n.name) else n.name
inits = sorted(g.initializer, key=lambda t: first_use.get(t.name, (len(g.node), 0)))
inits = [onnx.TensorProto.FromString(t.SerializeToString()) for t in inits]
for t in inits:
    t.name = cname(t.name)
del g.initializer[:]
g.initializer.extend(inits)
for vi in g.value_info:
    vi.name = cname(vi.name)

order = [ren[k] for k in ren]
outs = sorted(g.output, key=lambda vi: order.index(vi.name))
outs = [onnx.ValueInfoProto.FromString(o.SerializeToString()) for o in outs]
del g.output[:]
g.output.extend(outs)
g.doc_string = ""

onnx.checker.check_model(m, full_check=True)
onnx.save(m, dst)
for kind, vis in (("input ", g.input), ("output", g.output)):
    for vi in vis:
        dims = [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
        print(f"rename_io: {kind} {vi.name} {dims}", file=sys.stderr)
