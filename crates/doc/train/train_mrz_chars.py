#!/usr/bin/env python3
"""Train the MRZ (OCR-B) character classifier: a small numpy-only MLP.

Usage:
    python train_mrz_chars.py DATA_DIR [DATA_DIR ...] --out PATH.bin
        [--epochs 12] [--seed 1] [--hidden 256,128] [--val-dir DIR]

Each DATA_DIR holds
    patches.u8  raw bytes, N * 24 * 16, row-major, one patch after another;
                255 = ink (dark stroke), 0 = paper
    labels.txt  one line of exactly N characters from ALPHABET
                (a trailing newline is ignored)

Input normalisation (the Rust side must reproduce this exactly, in f32):
    x[i]  = patch[i] / 255.0                        i = 0..383, row-major
    mean  = sum(x) / 384
    std   = sqrt(sum((x - mean)^2) / 384)           (population std)
    xn[i] = (x[i] - mean) / (std + 1e-3)

Model: 384 -> hidden (ReLU) ... -> 37 logits; layer l computes y = W @ x + b
with W of shape (out, in). Prediction = argmax of the logits.

Output (little-endian), see write_model():
    b"VMRZCHR1", u32 height (24), u32 width (16), u32 classes (37), u32 L,
    L x [u32 in, u32 out, f32 W[out][in], f32 b[out]],
    37 bytes ALPHABET (ASCII).
A PATH.json with the run's metadata is written beside it.

Determinism: one numpy default_rng(seed) drives, in this order, the weight
init, the 5% validation hold-out (when no --val-dir) and the per-epoch
shuffles / augmentations. The result is bit-identical for the same data, seed,
numpy build and BLAS thread count.
"""

import argparse
import hashlib
import json
import math
import os
import shlex
import struct
import sys
import time

import numpy as np

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<"
H, W = 24, 16
D = H * W
C = len(ALPHABET)
MAGIC = b"VMRZCHR1"

BATCH = 256
LR_MAX, LR_MIN = 1e-3, 1e-4
BETA1, BETA2, ADAM_EPS = 0.9, 0.999, 1e-8
VAL_FRACTION = 0.05
EVAL_BATCH = 8192
F32 = np.float32


# ----------------------------------------------------------------- data

def load_dir(path):
    """Return (patches uint8 (N, 24, 16), labels int64 (N,)) of one DATA_DIR."""
    pp = os.path.join(path, "patches.u8")
    lp = os.path.join(path, "labels.txt")
    for p in (pp, lp):
        if not os.path.isfile(p):
            sys.exit(f"error: {p}: no such file")
    raw = np.fromfile(pp, dtype=np.uint8)
    if raw.size == 0 or raw.size % D:
        sys.exit(f"error: {pp}: size {raw.size} bytes is not a positive "
                 f"multiple of {D} (= {H}x{W})")
    n = raw.size // D
    with open(lp, "rb") as f:
        text = f.read()
    if text.endswith(b"\r\n"):
        text = text[:-2]
    elif text.endswith(b"\n"):
        text = text[:-1]
    if len(text) != n:
        sys.exit(f"error: {lp}: {len(text)} labels but {pp} holds {n} patches")
    lut = np.full(256, -1, dtype=np.int64)
    lut[np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)] = np.arange(C)
    labels = lut[np.frombuffer(text, dtype=np.uint8)]
    bad = np.flatnonzero(labels < 0)
    if bad.size:
        i = int(bad[0])
        sys.exit(f"error: {lp}: character {text[i:i + 1]!r} at offset {i} is "
                 f"not in the alphabet {ALPHABET!r} ({bad.size} bad in all)")
    return raw.reshape(n, H, W), labels


def load_dirs(paths):
    parts = [load_dir(p) for p in paths]
    return (np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]))


def standardise(x):
    """Per-sample standardisation of x (B, 384) float32 in [0, 1]."""
    mean = x.mean(axis=1, keepdims=True, dtype=F32)
    xc = x - mean
    std = np.sqrt((xc * xc).mean(axis=1, keepdims=True, dtype=F32))
    return xc / (std + F32(1e-3))


def prepare(patches_u8):
    """Inference-time input: uint8 (B, 24, 16) -> normalised float32 (B, 384)."""
    x = patches_u8.reshape(len(patches_u8), D).astype(F32) / F32(255.0)
    return standardise(x)


def augment(patches_u8, rng):
    """Training-time input: random shift (-1..1 px in x and y, zero padded)
    and random contrast scale 0.7..1.3 (clipped to 1), then standardise."""
    b = len(patches_u8)
    dy = rng.integers(-1, 2, size=b)
    dx = rng.integers(-1, 2, size=b)
    padded = np.zeros((b, H + 2, W + 2), dtype=np.uint8)
    padded[:, 1:H + 1, 1:W + 1] = patches_u8
    # out[r, c] = in[r - dy, c - dx]  (index +1 for the padding)
    rows = np.arange(H)[None, :] + 1 - dy[:, None]
    cols = np.arange(W)[None, :] + 1 - dx[:, None]
    shifted = padded[np.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]
    x = shifted.reshape(b, D).astype(F32) / F32(255.0)
    scale = rng.random(b, dtype=F32) * F32(0.6) + F32(0.7)
    x = np.minimum(x * scale[:, None], F32(1.0))
    return standardise(x)


# ---------------------------------------------------------------- model

def init_layers(sizes, rng):
    """He-normal weights (out, in), zero biases."""
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w = rng.standard_normal((n_out, n_in), dtype=F32) * F32(math.sqrt(2.0 / n_in))
        layers.append([w, np.zeros(n_out, dtype=F32)])
    return layers


def forward(layers, x):
    """Return the list of activations [x, h1, ..., logits]."""
    acts = [x]
    for i, (w, b) in enumerate(layers):
        z = acts[-1] @ w.T + b
        if i < len(layers) - 1:
            np.maximum(z, 0, out=z)
        acts.append(z)
    return acts


def loss_and_grads(layers, x, y):
    """Mean softmax cross-entropy and its gradients [(dW, db), ...]."""
    acts = forward(layers, x)
    logits = acts[-1]
    logits = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = float(np.mean(np.log(s[:, 0]) - logits[rows, y]))
    d = e / s
    d[rows, y] -= F32(1.0)
    d *= F32(1.0 / len(y))
    grads = [None] * len(layers)
    for i in range(len(layers) - 1, -1, -1):
        h = acts[i]
        grads[i] = (d.T @ h, d.sum(axis=0))
        if i > 0:
            d = d @ layers[i][0]
            d *= h > 0  # ReLU derivative (h is the post-ReLU activation)
    return loss, grads


def predict(layers, patches_u8):
    out = np.empty(len(patches_u8), dtype=np.int64)
    for s in range(0, len(patches_u8), EVAL_BATCH):
        out[s:s + EVAL_BATCH] = forward(layers, prepare(patches_u8[s:s + EVAL_BATCH]))[-1].argmax(axis=1)
    return out


class Adam:
    def __init__(self, layers):
        self.m = [[np.zeros_like(p) for p in layer] for layer in layers]
        self.v = [[np.zeros_like(p) for p in layer] for layer in layers]
        self.t = 0

    def step(self, layers, grads, lr):
        self.t += 1
        c1 = 1.0 - BETA1 ** self.t
        c2 = 1.0 - BETA2 ** self.t
        step = F32(lr * math.sqrt(c2) / c1)  # bias correction folded into lr
        eps = F32(ADAM_EPS * math.sqrt(c2))
        for layer, g2, m2, v2 in zip(layers, grads, self.m, self.v):
            for p, g, m, v in zip(layer, g2, m2, v2):
                m *= F32(BETA1)
                m += F32(1 - BETA1) * g
                v *= F32(BETA2)
                v += F32(1 - BETA2) * (g * g)
                p -= step * m / (np.sqrt(v) + eps)


def cosine_lr(step, total):
    return LR_MIN + 0.5 * (LR_MAX - LR_MIN) * (1.0 + math.cos(math.pi * step / max(total, 1)))


# --------------------------------------------------------------- output

def write_model(path, layers):
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<4I", H, W, C, len(layers)))
        for w, b in layers:
            n_out, n_in = w.shape
            f.write(struct.pack("<2I", n_in, n_out))
            f.write(np.ascontiguousarray(w, dtype="<f4").tobytes())
            f.write(np.ascontiguousarray(b, dtype="<f4").tobytes())
        f.write(ALPHABET.encode("ascii"))


def expected_size(sizes):
    return 8 + 16 + sum(8 + 4 * (i * o + o) for i, o in zip(sizes[:-1], sizes[1:])) + C


def confusion_summary(y_true, y_pred):
    wrong = y_true != y_pred
    print(f"validation errors: {int(wrong.sum())} / {len(y_true)}")
    if not wrong.any():
        return
    keys, counts = np.unique(y_true[wrong] * C + y_pred[wrong], return_counts=True)
    order = np.lexsort((keys, -counts))[:15]
    print("most frequent confusions (true -> predicted):")
    for k, n in zip(keys[order], counts[order]):
        print(f"  {ALPHABET[k // C]} -> {ALPHABET[k % C]}: {n}")
    total = np.bincount(y_true, minlength=C)
    errs = np.bincount(y_true[wrong], minlength=C)
    cls = [c for c in range(C) if errs[c]]
    cls.sort(key=lambda c: (-errs[c] / total[c], c))
    print("per-class error rate (classes with errors):")
    for c in cls:
        print(f"  {ALPHABET[c]}: {errs[c]}/{total[c]} = {100.0 * errs[c] / total[c]:.2f}%")


# ----------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(description="Train the MRZ character MLP (numpy only).")
    ap.add_argument("data_dirs", nargs="+", metavar="DATA_DIR")
    ap.add_argument("--out", required=True, metavar="PATH.bin")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hidden", default="256,128",
                    help="comma-separated hidden layer widths (default 256,128)")
    ap.add_argument("--val-dir", metavar="DIR",
                    help="validation data (default: a seeded 5%% hold-out)")
    args = ap.parse_args(argv)
    try:
        args.hidden_sizes = [int(s) for s in args.hidden.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--hidden: not a comma-separated list of integers: {args.hidden!r}")
    if any(h <= 0 for h in args.hidden_sizes):
        ap.error("--hidden: widths must be positive")
    if args.epochs <= 0:
        ap.error("--epochs must be positive")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    sizes = [D] + args.hidden_sizes + [C]
    layers = init_layers(sizes, rng)

    x_all, y_all = load_dirs(args.data_dirs)
    if args.val_dir:
        x_tr, y_tr = x_all, y_all
        x_va, y_va = load_dir(args.val_dir)
    else:
        n = len(y_all)
        n_val = max(1, int(round(VAL_FRACTION * n)))
        if n - n_val < 1:
            sys.exit(f"error: only {n} samples; need at least 2 for a hold-out")
        perm = rng.permutation(n)
        va, tr = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        x_tr, y_tr, x_va, y_va = x_all[tr], y_all[tr], x_all[va], y_all[va]
        del x_all, y_all
    n_tr = len(y_tr)
    print(f"train {n_tr}, validation {len(y_va)}, layers {sizes}")
    missing = [ALPHABET[c] for c in range(C) if not np.any(y_tr == c)]
    if missing:
        print(f"warning: classes without training samples: {''.join(missing)}")

    opt = Adam(layers)
    steps_per_epoch = (n_tr + BATCH - 1) // BATCH
    total_steps = steps_per_epoch * args.epochs
    step = 0
    val_acc = float("nan")
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        perm = rng.permutation(n_tr)
        loss_sum = 0.0
        for s in range(0, n_tr, BATCH):
            idx = perm[s:s + BATCH]
            loss, grads = loss_and_grads(layers, augment(x_tr[idx], rng), y_tr[idx])
            opt.step(layers, grads, cosine_lr(step, total_steps))
            loss_sum += loss * len(idx)
            step += 1
        pred = predict(layers, x_va)
        val_acc = float(np.mean(pred == y_va))
        print(f"epoch {epoch:3d}/{args.epochs}  train loss {loss_sum / n_tr:.4f}  "
              f"val acc {100.0 * val_acc:.3f}%  lr {cosine_lr(step, total_steps):.2e}  "
              f"{time.perf_counter() - t0:.1f}s", flush=True)

    confusion_summary(y_va, pred)

    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    write_model(args.out, layers)
    size = os.path.getsize(args.out)
    assert size == expected_size(sizes), (size, expected_size(sizes))
    with open(args.out, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    meta = {
        "command": shlex.join(["train_mrz_chars.py"] + list(argv)),
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "seed": args.seed,
        "epochs": args.epochs,
        "layers": sizes,
        "alphabet": ALPHABET,
        "data_dirs": args.data_dirs,
        "val_dir": args.val_dir,
        "train_samples": n_tr,
        "val_samples": int(len(y_va)),
        "final_val_accuracy": val_acc,
        "bin_bytes": size,
        "bin_sha256": sha,
    }
    base = args.out[:-4] if args.out.endswith(".bin") else args.out
    with open(base + ".json", "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out} ({size} bytes, sha256 {sha}) and {base}.json")
    return layers


if __name__ == "__main__":
    main()
