#!/usr/bin/env python3
"""Rebuild face-api.js's AgeGenderNet as an ONNX graph (models/agegendernet.onnx) from the
weights in the npm package @vladmandic/face-api@1.7.15 (package/model/
age_gender_model-weights_manifest.json + age_gender_model.bin).

face-api ships only weights: the network is defined in its TypeScript. This script writes
the same computation with ONNX operators, op for op, from
  src/xception/TinyXception.ts (forwardInput, after toBatchTensor: TinyXception(2)),
  src/ageGenderNet/AgeGenderNet.ts (runNet, forwardInput),
  src/common/depthwiseSeparableConv.ts, src/common/fullyConnectedLayer.ts:

  x = (input - [122.782, 117.001, 104.298]) / 255        input [N,112,112,3] NHWC, RGB 0..255
  conv_in 3x3 stride 2 SAME + bias, relu
  reduction_block_0 (no input relu), reduction_block_1     (relu, sepconv, relu, sepconv,
                                                            maxpool 3x3/2 SAME, + 1x1/2 conv of x)
  main_block_0, main_block_1                              (3 x (relu, sepconv), + x)
  exit reduction_block, relu(separable_conv)             -> [N,512,7,7]
  avgPool 7x7 stride 2 VALID -> [N,512]
  age    = fc/age    (a regression: the age in years)                     -> output `age` [N,1]
  gender = softmax(fc/gender)  ([P(male), P(female)]; face-api: male when [0] > 0.5) -> `gender` [N,2]

TF "SAME" padding is written as explicit ONNX pads (the extra pixel at the end, as TF does).
Weights are uint8-quantised in the package and widened exactly as tf.io.decodeWeights does
(q * scale + min, in double precision, stored as float32). Every weight in the manifest must
be used once. The output is byte-reproducible (fixed node/initializer order, no timestamps).

usage: build_agegender_onnx.py MODEL_DIR OUT.onnx     (needs numpy and onnx)
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper

def load_weights(d, manifest='age_gender_model-weights_manifest.json'):
    """A face-api weights manifest and its shards, widened as tf.io.decodeWeights does."""
    man = json.load(open(os.path.join(d, manifest)))
    W = {}
    for g in man:
        buf = b''.join(open(os.path.join(d, p), 'rb').read() for p in g['paths'])
        off = 0
        for w in g['weights']:
            n = int(np.prod(w['shape']))
            q = w.get('quantization')
            if q:
                assert q['dtype'] == 'uint8'
                a = np.frombuffer(buf, np.uint8, n, off).astype(np.float64); off += n
                a = (a * q['scale'] + q['min']).astype(np.float32)   # tf.io.decodeWeights
            else:
                assert w['dtype'] == 'float32'
                a = np.frombuffer(buf, np.float32, n, off).copy(); off += 4 * n
            W[w['name']] = a.reshape(w['shape'])
        assert off == len(buf), (off, len(buf))
    return W

def same_pads(size, k, s):
    out = -(-size // s); tot = max((out - 1) * s + k - size, 0)
    return tot // 2, tot - tot // 2, out

class B:
    def __init__(self, W):
        self.W, self.nodes, self.inits, self.used, self.n = W, [], [], set(), 0
    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name)); return name
    def node(self, op, ins, name, **attr):
        self.nodes.append(helper.make_node(op, ins, [name], name=name, **attr)); return name
    def conv(self, x, size, prefix, stride):  # TF conv2d(x, filters HWIO, stride, 'same') + bias
        f = self.W[f'{prefix}/filters']; b = self.W[f'{prefix}/bias']; self.used |= {f'{prefix}/filters', f'{prefix}/bias'}
        k = f.shape[0]; a, c, out = same_pads(size, k, stride)
        w = self.init(f'{prefix}/filters', f.transpose(3, 2, 0, 1))
        bb = self.init(f'{prefix}/bias', b)
        return self.node('Conv', [x, w, bb], prefix, kernel_shape=[k, k], strides=[stride, stride], pads=[a, a, c, c]), out
    def sep(self, x, size, prefix):  # tf.separableConv2d(x, dw, pw, [1,1], 'same') + bias
        dw = self.W[f'{prefix}/depthwise_filter']; pw = self.W[f'{prefix}/pointwise_filter']; b = self.W[f'{prefix}/bias']
        self.used |= {f'{prefix}/depthwise_filter', f'{prefix}/pointwise_filter', f'{prefix}/bias'}
        cin = dw.shape[2]; a, c, _ = same_pads(size, 3, 1)
        wd = self.init(f'{prefix}/depthwise_filter', dw.transpose(2, 3, 0, 1).reshape(cin, 1, 3, 3))
        y = self.node('Conv', [x, wd], f'{prefix}/depthwise', kernel_shape=[3, 3], strides=[1, 1], pads=[a, a, c, c], group=cin)
        wp = self.init(f'{prefix}/pointwise_filter', pw.transpose(3, 2, 0, 1))
        bb = self.init(f'{prefix}/bias', b)
        return self.node('Conv', [y, wp, bb], prefix, kernel_shape=[1, 1])
    def relu(self, x, name): return self.node('Relu', [x], name)
    def reduction(self, x, size, prefix, act_input=True):
        o = self.relu(x, f'{prefix}/relu_in') if act_input else x
        o = self.sep(o, size, f'{prefix}/separable_conv0')
        o = self.sep(self.relu(o, f'{prefix}/relu0'), size, f'{prefix}/separable_conv1')
        a, c, out = same_pads(size, 3, 2)
        o = self.node('MaxPool', [o], f'{prefix}/maxpool', kernel_shape=[3, 3], strides=[2, 2], pads=[a, a, c, c])
        e, _ = self.conv(x, size, f'{prefix}/expansion_conv', 2)
        return self.node('Add', [o, e], f'{prefix}/add'), out
    def main(self, x, size, prefix):
        o = self.sep(self.relu(x, f'{prefix}/relu0'), size, f'{prefix}/separable_conv0')
        o = self.sep(self.relu(o, f'{prefix}/relu1'), size, f'{prefix}/separable_conv1')
        o = self.sep(self.relu(o, f'{prefix}/relu2'), size, f'{prefix}/separable_conv2')
        return self.node('Add', [o, x], f'{prefix}/add')

def build(W):
    b = B(W)
    mean = b.init('mean_rgb', np.array([122.782, 117.001, 104.298], np.float32))
    x = b.node('Sub', ['input', mean], 'normalize/sub')
    x = b.node('Div', [x, b.init('c255', np.array(255.0, np.float32))], 'normalize/div')
    x = b.node('Transpose', [x], 'to_nchw', perm=[0, 3, 1, 2])
    x, s = b.conv(x, 112, 'entry_flow/conv_in', 2)
    x = b.relu(x, 'entry_flow/conv_in/relu')
    x, s = b.reduction(x, s, 'entry_flow/reduction_block_0', act_input=False)
    x, s = b.reduction(x, s, 'entry_flow/reduction_block_1')
    x = b.main(x, s, 'middle_flow/main_block_0')
    x = b.main(x, s, 'middle_flow/main_block_1')
    x, s = b.reduction(x, s, 'exit_flow/reduction_block')
    x = b.relu(b.sep(x, s, 'exit_flow/separable_conv'), 'exit_flow/relu')
    assert s == 7
    x = b.node('AveragePool', [x], 'avgpool', kernel_shape=[7, 7], strides=[2, 2])
    x = b.node('Flatten', [x], 'pooled', axis=1)
    for head, out in (('age', 'age'), ('gender', 'fc/gender')):   # fullyConnectedLayer: x @ W + b
        w = b.init(f'fc/{head}/weights', W[f'fc/{head}/weights']); bb = b.init(f'fc/{head}/bias', W[f'fc/{head}/bias'])
        b.used |= {f'fc/{head}/weights', f'fc/{head}/bias'}
        b.node('Gemm', [x, w, bb], out)
    b.node('Softmax', ['fc/gender'], 'gender', axis=1)
    assert b.used == set(W), set(W) - b.used
    g = helper.make_graph(b.nodes, 'agegendernet',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['N', 112, 112, 3])],
        [helper.make_tensor_value_info('age', TensorProto.FLOAT, ['N', 1]),
         helper.make_tensor_value_info('gender', TensorProto.FLOAT, ['N', 2])], b.inits)
    m = helper.make_model(g, producer_name='vouch models/scripts/build_agegender_onnx.py', opset_imports=[helper.make_opsetid('', 13)])
    m.ir_version = 7
    onnx.checker.check_model(m, full_check=True)
    return m

if __name__ == '__main__':
    W = load_weights(sys.argv[1])
    m = build(W)
    onnx.save(m, sys.argv[2])
    print(f'build_agegender_onnx: {len(W)} weight tensors, {sum(v.size for v in W.values())} parameters, '
          f'{len(m.graph.node)} nodes -> {sys.argv[2]}', file=sys.stderr)
