#!/usr/bin/env bash
# Rebuilds the fast MRZ path's character classifier, crates/doc/models/mrz_chars.bin, from
# nothing but this repository, Debian's fonts-ocr-b and numpy from PyPI:
#
#   crates/doc/train/run.sh [WORK_DIR]      (default /tmp/vouch-mrz-train; ~5 minutes on 2 cores)
#
# 1. renders labelled synthetic document photos with vouch-docsynth: seeds 101-106 (200
#    documents each) to train on, seed 107 (100) to validate on — none of them the seeds
#    the reader is evaluated on (2026) or tested with (1, 2);
# 2. runs the fast locator on them and cuts every MRZ character cell into a 24 x 16
#    patch labelled with the true character (examples/mrz_patches.rs; 3 copies a training
#    cell, two of them moved and scaled a little);
# 3. trains the MLP (train_mrz_chars.py, numpy only, seed 1) and writes the weights and
#    their record (mrz_chars.json: command, versions, sample counts, accuracy, sha256).
#
# The binary embeds the weights at build time: rebuild after running this.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=${1:-/tmp/vouch-mrz-train}
models=$root/crates/doc/models
mkdir -p "$work"
log() { printf '[mrz-train] %s\n' "$*" >&2; }

log "building vouch-docsynth and the patch dumper (release)"
(cd "$root" && cargo build --release -q -p vouch-docsynth -p vouch-doc --example mrz_patches)
target=${CARGO_TARGET_DIR:-$root/target}/release

render() { # SEED COUNT
  if [[ ! -f $work/s$1/expected.json ]]; then
    log "rendering seed $1 ($2 documents)"
    "$target/vouch-docsynth" "$work/s$1" --count "$2" --seed "$1" >/dev/null
  fi
}
for s in 101 102 103 104 105 106; do render "$s" 200; done
render 107 100

"$target/examples/mrz_patches" "$work/train" "$work"/s10{1,2,3,4,5,6} --copies 3
"$target/examples/mrz_patches" "$work/val" "$work/s107" --copies 1

venv=$work/venv
if [[ ! -x $venv/bin/python ]]; then
  log "numpy venv in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$here/requirements.txt"
fi
"$venv/bin/python" "$here/train_mrz_chars.py" "$work/train" --val-dir "$work/val" \
  --out "$models/mrz_chars.bin" --epochs 12 --seed 1
log "wrote $models/mrz_chars.bin; rebuild vouch to embed it"
