#!/usr/bin/env bash
# Runs a cargo fuzz target for a while (default 120 s).
# Usage: scripts/fuzz.sh [target] [seconds]; the target defaults to decode_detect, so
# `scripts/fuzz.sh 60` still fuzzes decoding and detection. Targets: fuzz/fuzz_targets/.
# Seeds: decode_detect takes the eval photos beside the repository, mrz_parse the ICAO
# specimen zones. Needs cargo-fuzz (cargo install cargo-fuzz); RUSTC_BOOTSTRAP lets the
# stable toolchain build with the sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")/.."
target=decode_detect
if [[ $# -gt 0 && ! $1 =~ ^[0-9]+$ ]]; then
  target=$1
  shift
fi
seconds=${1:-120}
corpus=fuzz/corpus/$target
mkdir -p "$corpus"
max_len=4096
case $target in
  decode_detect)
    scripts/fetch-models.sh
    for f in ../shared/eval/faces/img5.jpg ../shared/eval/faces/img12.jpg crates/face/tests/fixtures/cmyk.jpg; do
      [ -f "$f" ] && cp "$f" "$corpus/"
    done
    max_len=262144
    ;;
  mrz_parse)
    # One seed per specimen block; the two leading bytes are the fuzz target's `today`.
    specimens=../shared/eval/mrz/specimens.txt
    if [ -f "$specimens" ]; then
      awk -v dir="$corpus" '
        /^#/ { next }
        /^[[:space:]]*$/ { if (n) close(file); n = 0; next }
        { if (!n) { i++; file = sprintf("%s/specimen-%d", dir, i); printf "\xc4\xb3" > file }
          print >> file; n++ }
      ' "$specimens"
    fi
    max_len=512
    ;;
esac
cd fuzz
VOUCH_MODELS_DIR="$PWD/../models" RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="$max_len"
