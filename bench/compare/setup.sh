#!/usr/bin/env bash
# Create bench/compare/.venv with the Python `face_recognition` library (dlib) at pinned versions.
# Idempotent: re-running with everything in place only re-checks the versions.
#
# Install method: dlib comes from the prebuilt manylinux wheel `dlib-bin` (same `dlib` module,
# built from the official dlib sources by the dlib-wheels project), so no C++ build is needed
# (~25 s in total here, most of it the 100 MB model download). `face_recognition` declares a
# dependency on the `dlib` distribution name, so it is installed with --no-deps (its other
# dependencies are pinned below) to stop pip from building dlib from source.
#
# DLIB_FROM_SOURCE=1 instead builds the official `dlib` sdist (needs cmake, taken from PyPI, and a
# C++ compiler; 10+ minutes on 2 cores).
#
# PYTHON selects the interpreter (default python3; the dlib-bin pin has CPython 3.11 wheels).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"

DLIB_VERSION=20.0.1
DLIB_BIN_VERSION=20.0.1.post1
FACE_RECOGNITION_VERSION=1.3.0
FACE_RECOGNITION_MODELS_VERSION=0.3.0
NUMPY_VERSION=2.4.6
PILLOW_VERSION=13.0.0
CLICK_VERSION=8.5.1
# face_recognition_models 0.3.0 imports pkg_resources, which setuptools 81+ no longer ships.
SETUPTOOLS_SPEC='setuptools<81'
CMAKE_SPEC='cmake<4'

log() { printf '[setup] %s\n' "$*" >&2; }

if [[ ! -x "$venv/bin/python" ]]; then
  log "creating venv at $venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv"
else
  log "venv exists at $venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

if [[ "${DLIB_FROM_SOURCE:-0}" == 1 ]]; then
  dlib_pkg="dlib==$DLIB_VERSION"
else
  dlib_pkg="dlib-bin==$DLIB_BIN_VERSION"
fi

log "installing numpy, Pillow, Click, setuptools"
"${pip[@]}" install -q "numpy==$NUMPY_VERSION" "Pillow==$PILLOW_VERSION" "Click==$CLICK_VERSION" "$SETUPTOOLS_SPEC" >&2

if [[ "${DLIB_FROM_SOURCE:-0}" == 1 ]]; then
  log "building $dlib_pkg from source (10+ minutes on 2 cores)"
  "${pip[@]}" uninstall -q -y dlib-bin >&2 2>/dev/null || true
  "${pip[@]}" install -q "$CMAKE_SPEC" wheel >&2
  start=$(date +%s)
  PATH="$venv/bin:$PATH" "${pip[@]}" install --no-build-isolation --no-binary dlib "$dlib_pkg" >&2
  log "dlib built in $(( $(date +%s) - start )) s"
else
  log "installing $dlib_pkg (prebuilt wheel)"
  "${pip[@]}" uninstall -q -y dlib >&2 2>/dev/null || true
  "${pip[@]}" install -q --only-binary=:all: "$dlib_pkg" >&2
fi

log "installing face_recognition==$FACE_RECOGNITION_VERSION and face_recognition_models==$FACE_RECOGNITION_MODELS_VERSION (models ~100 MB)"
"${pip[@]}" install -q --no-deps "face_recognition==$FACE_RECOGNITION_VERSION" \
  "face_recognition_models==$FACE_RECOGNITION_MODELS_VERSION" >&2

log "checking"
"$venv/bin/python" - >&2 <<'EOF'
import importlib.metadata as md
import dlib, face_recognition, face_recognition_models  # noqa: F401
print(f"[setup] ok: face_recognition {md.version('face_recognition')}, dlib {dlib.__version__}, "
      f"face_recognition_models {md.version('face_recognition_models')}")
EOF
