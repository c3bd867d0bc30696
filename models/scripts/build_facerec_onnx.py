#!/usr/bin/env python3
"""Rebuild face-api.js's FaceRecognitionNet as an ONNX graph (models/facerecnet.onnx) from the
weights in the npm package @vladmandic/face-api@1.7.15 (package/model/
face_recognition_model-weights_manifest.json + face_recognition_model.bin).

FaceRecognitionNet is face-api's port of dlib's ResNet face descriptor
(dlib_face_recognition_resnet_model_v1, CC0): a 150x150 face in, a 128-d descriptor out.
face-api ships only weights: the network is defined in its TypeScript. This script writes the
same computation with ONNX operators, op for op, from
  src/faceRecognitionNet/FaceRecognitionNet.ts (forwardInput, after toBatchTensor(150)),
  src/faceRecognitionNet/convLayer.ts, residualLayer.ts, scaleLayer.ts:

  x = (input - [122.782, 117.001, 104.298]) / 255        input [N,150,150,3] NHWC, RGB 0..255
  convDown 7x7/2 VALID (+bias, *scale+bias, relu), maxPool 3x3/2 VALID
  residual x3 (32), residualDown + residual x3 (64), residualDown + residual x2 (128),
  residualDown + residual x2 (256), residualDown (256)
    residual:     relu(convNoRelu(conv(x)) + x)            (3x3/1 SAME)
    residualDown: relu(convNoRelu(convDown(x)) + pad(avgPool 2x2/2 VALID (x)))
                  the pooled input gets zero channels when the block widens; the block's
                  output gets one zero row and column at the end when it is one smaller
  mean over H, W -> [N,256] -> matMul fc [256,128]        -> output `descriptor` [N,128]

Weights are uint8-quantised in the package (some are float32) and widened exactly as
tf.io.decodeWeights does. Every weight in the manifest must be used once. The output is
byte-reproducible (fixed node/initializer order, no timestamps).

usage: build_facerec_onnx.py MODEL_DIR OUT.onnx     (needs numpy and onnx)
"""
import sys

import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper

from build_agegender_onnx import load_weights as _load   # same package, same encoding

MANIFEST = 'face_recognition_model-weights_manifest.json'


def load_weights(d):
    return _load(d, MANIFEST)


class B:
    def __init__(self, W):
        self.W, self.nodes, self.inits, self.used = W, [], [], set()

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name)); return name

    def take(self, name):
        self.used.add(name); return self.W[name]

    def node(self, op, ins, name, **attr):
        self.nodes.append(helper.make_node(op, ins, [name], name=name, **attr)); return name

    def conv(self, x, size, prefix, stride, relu):
        """convLayer: conv2d (SAME at stride 1, VALID at stride 2) + bias, * scale + bias, relu?"""
        f = self.take(f'{prefix}/conv/filters'); b = self.take(f'{prefix}/conv/bias')
        k = f.shape[0]
        if stride == 1:
            p = (k - 1) // 2; pads = [p, p, p, p]; out = size
        else:
            pads = [0, 0, 0, 0]; out = (size - k) // stride + 1
        w = self.init(f'{prefix}/conv/filters', f.transpose(3, 2, 0, 1))
        y = self.node('Conv', [x, w, self.init(f'{prefix}/conv/bias', b)], f'{prefix}/conv',
                      kernel_shape=[k, k], strides=[stride, stride], pads=pads)
        c = f.shape[3]
        sw = self.init(f'{prefix}/scale/weights', self.take(f'{prefix}/scale/weights').reshape(1, c, 1, 1))
        sb = self.init(f'{prefix}/scale/biases', self.take(f'{prefix}/scale/biases').reshape(1, c, 1, 1))
        y = self.node('Mul', [y, sw], f'{prefix}/scale/mul')
        y = self.node('Add', [y, sb], f'{prefix}/scale/add')
        return (self.node('Relu', [y], f'{prefix}/relu') if relu else y), out

    def residual(self, x, size, prefix):
        o, _ = self.conv(x, size, f'{prefix}/conv1', 1, True)
        o, _ = self.conv(o, size, f'{prefix}/conv2', 1, False)
        return self.node('Relu', [self.node('Add', [o, x], f'{prefix}/add')], f'{prefix}/relu')

    def residual_down(self, x, size, cin, prefix):
        o, out = self.conv(x, size, f'{prefix}/conv1', 2, True)
        o, _ = self.conv(o, out, f'{prefix}/conv2', 1, False)
        cout = self.W[f'{prefix}/conv2/conv/filters'].shape[3]
        pooled = self.node('AveragePool', [x], f'{prefix}/avgpool', kernel_shape=[2, 2], strides=[2, 2])
        psize = (size - 2) // 2 + 1
        if psize != out:        # tf.concat of a zero row, then a zero column, at the end
            assert psize == out + 1, (psize, out)
            o = self.node('Pad', [o, self.init(f'{prefix}/pad_hw', np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64))],
                          f'{prefix}/pad_hw_out')
        if cout != cin:         # tf.concat([pooled, zeros], 3)
            assert cout == 2 * cin
            pooled = self.node('Pad', [pooled, self.init(f'{prefix}/pad_c', np.array([0, 0, 0, 0, 0, cin, 0, 0], np.int64))],
                               f'{prefix}/pad_c_pooled')
        y = self.node('Add', [pooled, o], f'{prefix}/add')
        return self.node('Relu', [y], f'{prefix}/relu'), psize, cout


def build(W):
    b = B(W)
    mean = b.init('mean_rgb', np.array([122.782, 117.001, 104.298], np.float32))
    x = b.node('Sub', ['input', mean], 'normalize/sub')
    x = b.node('Div', [x, b.init('c255', np.array(255.0, np.float32))], 'normalize/div')
    x = b.node('Transpose', [x], 'to_nchw', perm=[0, 3, 1, 2])
    x, s = b.conv(x, 150, 'conv32_down', 2, True)
    x = b.node('MaxPool', [x], 'maxpool', kernel_shape=[3, 3], strides=[2, 2])
    s = (s - 3) // 2 + 1
    c = 32
    for name in ('conv32_1', 'conv32_2', 'conv32_3'):
        x = b.residual(x, s, name)
    for width, blocks in ((64, 3), (128, 2), (256, 2)):
        x, s, c = b.residual_down(x, s, c, f'conv{width}_down')
        for i in range(1, blocks + 1):
            x = b.residual(x, s, f'conv{width}_{i}')
    x, s, c = b.residual_down(x, s, c, 'conv256_down_out')
    assert (s, c) == (2, 256), (s, c)
    x = b.node('ReduceMean', [x], 'global_avg', axes=[2, 3], keepdims=0)
    fc = b.init('fc', b.take('fc'))
    b.node('MatMul', [x, fc], 'descriptor')
    assert b.used == set(W), set(W) - b.used
    g = helper.make_graph(b.nodes, 'facerecognitionnet',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['N', 150, 150, 3])],
        [helper.make_tensor_value_info('descriptor', TensorProto.FLOAT, ['N', 128])], b.inits)
    m = helper.make_model(g, producer_name='vouch models/scripts/build_facerec_onnx.py',
                          opset_imports=[helper.make_opsetid('', 13)])
    m.ir_version = 7
    onnx.checker.check_model(m, full_check=True)
    return m


if __name__ == '__main__':
    W = load_weights(sys.argv[1])
    m = build(W)
    onnx.save(m, sys.argv[2])
    print(f'build_facerec_onnx: {len(W)} weight tensors, {sum(v.size for v in W.values())} parameters, '
          f'{len(m.graph.node)} nodes -> {sys.argv[2]}', file=sys.stderr)
