#!/usr/bin/env python3
"""Make a TFJS graph model (model.json) readable by tf2onnx 1.17.0's --tfjs front end.

tf2onnx infers each node's output shape by importing it into a one-node TensorFlow graph.
Current TensorFlow (2.21) rejects the fused ops that the TFJS converter writes, because
their NodeDef lacks attributes the op registry now requires:

  _FusedConv2D, _FusedDepthwiseConv2dNative:  TArgs (list(type), one entry of type T per
                                              extra argument, i.e. num_args entries) and
                                              num_host_args (int, 0)

(_FusedMatMul needs nothing: TF 2.21's _FusedMatMul has no TArgs, and tf2onnx converts
faceres.json, whose only fused ops are _FusedMatMul, unpatched. facemesh.json has 31
_FusedConv2D, iris.json 55, and both fail without this patch with "NodeDef missing attr
'TArgs'".)

The added attributes describe what the graph already is (all extra args are float32
tensors on the device; none are host args), so the computation is unchanged.

Only the JSON is rewritten; the weights file(s) named in weightsManifest are copied next
to the output unchanged.

usage: patch_tfjs.py IN/model.json OUT/model.json
"""
import json
import os
import shutil
import sys


def patch(model):
    counts = {}
    for node in model['modelTopology']['node']:
        op = node['op']
        if op not in ('_FusedConv2D', '_FusedDepthwiseConv2dNative'):
            continue
        attr = node.setdefault('attr', {})
        num_args = int(attr.get('num_args', {}).get('i', 0))
        dtype = attr.get('T', {}).get('type', 'DT_FLOAT')
        if 'TArgs' not in attr:
            attr['TArgs'] = {'list': {'type': [dtype] * num_args}}
        if 'num_host_args' not in attr:
            attr['num_host_args'] = {'i': '0'}
        counts[op] = counts.get(op, 0) + 1
    return counts


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        model = json.load(f)
    counts = patch(model)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with open(dst, 'w') as f:
        json.dump(model, f)
    sdir, ddir = os.path.dirname(os.path.abspath(src)), os.path.dirname(os.path.abspath(dst))
    if sdir != ddir:
        for group in model['weightsManifest']:
            for p in group['paths']:
                shutil.copyfile(os.path.join(sdir, p), os.path.join(ddir, p))
    print(f"patch_tfjs: {os.path.basename(src)}: added TArgs/num_host_args to "
          + (", ".join(f"{n} {op}" for op, n in sorted(counts.items())) or "no nodes"), file=sys.stderr)


if __name__ == '__main__':
    main()
