#!/usr/bin/env bash
# Side by side on the same MRZ documents, in one run on one machine: vouch's document engine
# (`vouch doc eval DIR --json`) and PassportEye (`read_mrz`, on Tesseract).
#
#   bench/doc/run.sh [--passporteye-only] [SYNTH_DIR]
#
# Sets: the ICAO specimens of ../shared/eval/documents, and a synthetic set rendered by
# vouch-docsynth (200 documents, seed 2026: not the seed the reader was developed on) into SYNTH_DIR (default bench/doc/out/synth) unless
# it already holds an expected.json. Driver's licences (AAMVA) are left out of the comparison,
# since PassportEye reads only MRZs: each set is restricted to its MRZ entries in
# bench/doc/out/mrz-<set>/ (expected.json plus links to the photos), and both tools read that.
#
# vouch reads each set twice: `--mrz-only` (the MRZ alone, PassportEye's task: the comparison)
# and the full read (plus the visual-zone cross-check and the portrait, as a KYC session does).
#
# Writes bench/doc/results/<set>-{vouch,vouch-full,passporteye}.json and bench/doc/results/table.md, and
# prints the table. --passporteye-only skips vouch (for when the binary lacks `doc eval`).
# VOUCH_EVAL_ARGS adds arguments to `vouch doc eval` (e.g. --no-portrait).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

passporteye_only=0
synth=""
for a in "$@"; do
  case "$a" in
    --passporteye-only) passporteye_only=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) synth=$a ;;
  esac
done
synth=${synth:-$here/out/synth}
shared=$root/../shared/eval/documents
results=$here/results
mkdir -p "$results" "$here/out"

log() { printf '[bench/doc] %s\n' "$*" >&2; }

"$here/setup-passporteye.sh"

packages=(-p vouch-docsynth)
[[ $passporteye_only == 1 ]] || packages+=(-p vouch)
log "building ${packages[*]} (release)"
(cd "$root" && cargo build --release -q "${packages[@]}")
target=${CARGO_TARGET_DIR:-$root/target}
vouch=$target/release/vouch

if [[ $passporteye_only == 0 ]]; then
  if ! "$vouch" doc eval --help >/dev/null 2>&1; then
    echo "error: $vouch has no \`doc eval\` command yet (the document engine's CLI);" \
      "run with --passporteye-only to measure PassportEye alone" >&2
    exit 1
  fi
  "$root/scripts/fetch-models.sh" >&2
fi

if [[ ! -f $synth/expected.json ]]; then
  log "rendering the synthetic set into $synth"
  "$target/release/vouch-docsynth" "$synth" --count 200 --seed 2026
fi

# The MRZ entries of a set, as a folder both tools read: expected.json and links to the photos.
mrz_subset() { # SRC DEST
  rm -rf "$2"
  mkdir -p "$2"
  python3 - "$1" "$2" <<'PY'
import json, os, sys
src, dest = (os.path.abspath(p) for p in sys.argv[1:3])
expected = json.load(open(os.path.join(src, "expected.json")))
mrz = {n: e for n, e in expected.items() if e.get("format") in {"TD1", "TD2", "TD3", "MRV-A", "MRV-B"}}
for n in mrz:
    os.symlink(os.path.join(src, n), os.path.join(dest, n))
json.dump(mrz, open(os.path.join(dest, "expected.json"), "w"), indent=1)
print(f"[bench/doc] {len(mrz)} MRZ documents of {len(expected)} in {src}", file=sys.stderr)
PY
}

sets=(shared synthetic)
declare -A src=([shared]=$shared [synthetic]=$synth)
for s in "${sets[@]}"; do
  dir=$here/out/mrz-$s
  mrz_subset "${src[$s]}" "$dir"
  if [[ $passporteye_only == 0 ]]; then
    # The same task as PassportEye's read_mrz: the MRZ alone.
    log "vouch doc eval --mrz-only on $s"
    # shellcheck disable=SC2086
    VOUCH_MODELS_DIR="${VOUCH_MODELS_DIR:-$root/models}" "$vouch" doc eval "$dir" --json --mrz-only ${VOUCH_EVAL_ARGS:-} >"$results/$s-vouch.json"
    # What a KYC session asks for: the MRZ, the visual-zone cross-check and the portrait.
    log "vouch doc eval (full read) on $s"
    # shellcheck disable=SC2086
    VOUCH_MODELS_DIR="${VOUCH_MODELS_DIR:-$root/models}" "$vouch" doc eval "$dir" --json ${VOUCH_EVAL_ARGS:-} >"$results/$s-vouch-full.json"
  else
    rm -f "$results/$s-vouch.json" "$results/$s-vouch-full.json"
  fi
  log "PassportEye on $s"
  "$here/.venv/bin/python" "$here/passporteye_eval.py" "$dir" >"$results/$s-passporteye.json"
done

python3 "$here/table.py" "$results" "${sets[@]}"
