#!/usr/bin/env bash
# Create bench/doc/.venv with PassportEye (MRZ reader on Tesseract) at pinned versions, and
# install Debian's Tesseract with its English data if they are missing.
# Idempotent: re-running with everything in place only re-checks the versions.
#
# PYTHON selects the interpreter (default python3; the pins install on CPython 3.11).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"

PASSPORTEYE_VERSION=2.2.2
# PassportEye's own dependencies, pinned to releases with CPython 3.11 wheels.
PINS=(
  "numpy==1.26.4"
  "scipy==1.13.1"
  "scikit-image==0.24.0"
  "scikit-learn==1.5.2"
  "matplotlib==3.9.2"
  "imageio==2.35.1"
  "Pillow==10.4.0"
  "pytesseract==0.3.13"
  "pdfminer==20191125"
)

log() { printf '[setup] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v tesseract >/dev/null 2>&1 || ! ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1; then
  log "installing tesseract-ocr and tesseract-ocr-eng from Debian packages"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null
fi

if [[ ! -x "$venv/bin/python" ]]; then
  log "creating venv at $venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv"
else
  log "venv exists at $venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

log "installing PassportEye==$PASSPORTEYE_VERSION and its dependencies"
"${pip[@]}" install -q "${PINS[@]}" "PassportEye==$PASSPORTEYE_VERSION" >&2

log "checking"
"$venv/bin/python" - >&2 <<'EOF'
import importlib.metadata as md
import pytesseract
from passporteye import read_mrz  # noqa: F401
print(f"[setup] ok: PassportEye {md.version('PassportEye')}, scikit-image {md.version('scikit-image')}, "
      f"tesseract {pytesseract.get_tesseract_version()}")
EOF
