#!/usr/bin/env bash
# Runs the decode+detect fuzz target for a while (default 120 s) with cargo fuzz.
# Seeds: the eval photos beside the repository. Needs cargo-fuzz (cargo install cargo-fuzz);
# RUSTC_BOOTSTRAP lets the stable toolchain build with the sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-120}
scripts/fetch-models.sh
mkdir -p fuzz/corpus/decode_detect
for f in ../shared/eval/faces/img5.jpg ../shared/eval/faces/img12.jpg crates/face/tests/fixtures/cmyk.jpg; do
  [ -f "$f" ] && cp "$f" fuzz/corpus/decode_detect/
done
cd fuzz
VOUCH_MODELS_DIR="$PWD/../models" RUSTC_BOOTSTRAP=1 cargo fuzz run decode_detect corpus/decode_detect -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=262144
