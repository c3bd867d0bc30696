#!/usr/bin/env python3
"""Python reference for models/agegendernet.onnx (face-api.js's AgeGenderNet): the crop from
an MTCNN box, the input tensor and the decoding, as the Rust side should implement them.
Resampling is vouch's crates/face/src/resize.rs (numpy port in verify_human.py).

Recipe (also in bench/accuracy/age-models.md and the manifest entry of agegendernet.onnx):
  1. MTCNN box [x1, y1, x2, y2] (floats, image pixels); w = x2 - x1, h = y2 - y1.
  2. Grow it by 10 % of w (left and right) and 10 % of h (top and bottom), round outwards,
     clip to the image:  X1 = max(0, floor(x1 - 0.1 w))   Y1 = max(0, floor(y1 - 0.1 h))
                         X2 = min(W, ceil(x2 + 0.1 w))    Y2 = min(H, ceil(y2 + 0.1 h))
     (face-api's own aligned box is the 68-landmark bounding box grown by 20 % in total:
     FaceLandmarks.alignMinBbox(0.2).)
  3. Cut that rectangle out (cw = X2 - X1, ch = Y2 - Y1), pad its short side with black to a
     square of side s = max(cw, ch), the crop centred (floor((s - cw)/2) black columns on the
     left, the rest on the right; the same for rows): face-api's padToSquare(.., true).
     Padding is black even where the image continues: cut first, then pad.
  4. Resample the s x s square to 112 x 112 (resize_region(crop, -bx, -by, s, s, 112, 112),
     which reads pixels outside the crop as black).
  5. Feed RGB 0..255 as float32 NHWC [N,112,112,3]. No normalisation: the graph subtracts
     [122.782, 117.001, 104.298] and divides by 255 itself.
  Decoding: `age` [N,1] is the age in years, used as it is (a regression; clamp at 0 if you
  like). `gender` [N,2] is a softmax [P(male), P(female)].

usage: agegender_ref.py IMAGE X1 Y1 X2 Y2 [--model models/agegendernet.onnx]
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verify_human import resize_region  # noqa: E402  (resize.rs semantics)

SIZE = 112
PAD = 0.1


def agegender_rect(bbox, W, H, pad=PAD):
    """MTCNN box -> integer crop rectangle (X1, Y1, X2, Y2), grown by pad*w / pad*h per side."""
    x1, y1, x2, y2 = (float(v) for v in bbox)
    w, h = x2 - x1, y2 - y1
    return (max(0, int(math.floor(x1 - pad * w))), max(0, int(math.floor(y1 - pad * h))),
            min(W, int(math.ceil(x2 + pad * w))), min(H, int(math.ceil(y2 + pad * h))))


def agegender_input(img, bbox):
    """img: HxWx3 uint8 RGB. -> (112x112x3 float32 RGB 0..255, (X1, Y1, X2, Y2), side)."""
    X1, Y1, X2, Y2 = agegender_rect(bbox, img.shape[1], img.shape[0])
    crop = np.ascontiguousarray(img[Y1:Y2, X1:X2])
    cw, ch = X2 - X1, Y2 - Y1
    s = max(cw, ch)
    bx, by = (s - cw) // 2, (s - ch) // 2
    return resize_region(crop, -bx, -by, s, s, SIZE, SIZE), (X1, Y1, X2, Y2), s


def decode(out, i=0):
    """ONNX outputs {'age': [N,1], 'gender': [N,2]} -> (age in years, P(male))."""
    return float(out['age'][i, 0]), float(out['gender'][i, 0])


def main():
    import onnxruntime as ort
    from PIL import Image
    args = sys.argv[1:]
    model = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'agegendernet.onnx')
    if '--model' in args:
        k = args.index('--model'); model = args[k + 1]; del args[k:k + 2]
    if len(args) != 5:
        sys.exit(__doc__)
    img = np.asarray(Image.open(args[0]).convert('RGB'))
    x, rect, s = agegender_input(img, [float(v) for v in args[1:]])
    sess = ort.InferenceSession(model, providers=['CPUExecutionProvider'])
    out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {'input': x[None]})))
    age, p_male = decode(out)
    print(f'crop {rect} square {s}: age {age:.2f} years, P(male) {p_male:.3f}')


if __name__ == '__main__':
    main()
