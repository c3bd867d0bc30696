#!/usr/bin/env bash
# One-off reproduction of the committed model
#   models/agegendernet.onnx   (face-api.js AgeGenderNet: age in years (a regression) and
#                               P(male/female) from a 112x112 face crop)
# from package/model/age_gender_model-weights_manifest.json + age_gender_model.bin in the npm
# package @vladmandic/face-api@1.7.15 (MIT; a 13 MB tarball).
#
# face-api ships weights only; the network is defined in its TypeScript, so the graph is
# rebuilt op for op by build_agegender_onnx.py (numpy + onnx, no TensorFlow, no tf2onnx).
# Not part of the build or CI. Needs npm and node (>= 18) and a Python venv with numpy, onnx,
# onnxruntime and pillow at the versions in constraints-convert.txt (the venv convert_human.sh
# uses: CONVERT_VENV reuses it). The steps shared with convert_human.sh/convert_iris.sh live
# in convert_lib.sh.
#
# Steps: npm pack -> check the tarball's and the weight files' sha256 against the manifest
# entry -> build_agegender_onnx.py (dequantises the uint8 weights as tf.io.decodeWeights does,
# writes the graph; byte-reproducible) -> verify_age.py: the library itself (face-api 1.7.15's
# node build, TensorFlow.js 4.22.0 CPU backend) against ONNX Runtime on seeded random inputs
# and on face crops of shared/eval/faces, and against the committed file -> sha256 of the
# output (it should equal the manifest's). The committed file is never overwritten.
#
# usage: models/scripts/convert_age.sh [OUTDIR]   (default: a new temporary directory)
# env:   PYTHON=python3.11         interpreter for the venv
#        CONVERT_VENV=DIR          reuse/keep the venv in DIR instead of a throwaway one
#        FACEAPI_TGZ=FILE          use this copy of vladmandic-face-api-1.7.15.tgz instead of
#                                  npm pack (its sha256 is still checked)
#        FACEAPI_NODE_MODULES=DIR  a node_modules with @tensorflow/tfjs and
#                                  @tensorflow/tfjs-backend-wasm 4.22.0 (default: npm install
#                                  into the work dir)
#        MANIFEST=FILE             read the expected hashes from FILE (a manifest, or the bare
#                                  agegendernet.onnx entry) instead of models/manifest.json
#        EVAL_FACES=DIR            photos for the real-crop check (default shared/eval/faces
#                                  beside the repository)
#        KEEP_WORK=1               keep the work directory
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
models=$(dirname "$here")
PYTHON=${PYTHON:-python3}
LOG=convert_age
. "$here/convert_lib.sh"   # log, mf, check_sha, npm_package, convert_env, faceapi_tfjs, report_sha

work=$(mktemp -d -t vouch-convert-age.XXXXXX)
if [ "${KEEP_WORK:-}" = 1 ]; then log "work directory: $work (kept)"; else trap 'rm -rf "$work"' EXIT; fi
out=${1:-$(mktemp -d -t vouch-converted.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# 1. the npm package (sets src)
npm_package agegendernet.onnx FACEAPI_TGZ

# 2. the venv (sets py) and the TensorFlow.js face-api runs on (sets nm)
convert_env --no-tfjs
faceapi_tfjs

# 3. build the graph
"$py" "$here/build_agegender_onnx.py" "$src/model" "$out/agegendernet.onnx"

# 4. verify numerically: vs face-api itself, and vs the committed file
status=0
"$py" "$here/verify_age.py" --faceapi-dir "$src" --node-modules "$nm" \
  --onnx "$out/agegendernet.onnx" --ref-dir "$models" \
  ${EVAL_FACES:+--eval-faces "$EVAL_FACES"} || status=1

# 5. hashes
report_sha "$out" agegendernet.onnx
[ "$status" = 0 ] && echo "verification: OK" || echo "verification: FAILED"
exit "$status"
