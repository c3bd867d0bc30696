#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/fuzz_targets/ (libFuzzer).
#
#   scripts/fuzz.sh [target] [seconds]    one target for a while (default decode_detect,
#                                         120 s) with cargo fuzz and AddressSanitizer, its
#                                         corpus kept in fuzz/corpus/<target>/
#   scripts/fuzz.sh --ci [seconds]        every target, built once with the stable
#                                         toolchain (no cargo-fuzz, no sanitizer), each
#                                         for a bounded time (default 20 s) from a copy
#                                         of its seeds; fails on any crash
#
# Seeds are committed in fuzz/seeds/<target>/; with the first form decode_detect also takes
# the eval photos beside the repository and mrz_parse the ICAO specimen zones. A crash
# goes to fuzz/artifacts/<target>/ (first form) or artifacts/fuzz/<target>/ (--ci; override
# with VOUCH_FUZZ_ARTIFACTS), its path printed; the target's binary given the file replays
# it (`cargo fuzz run <target> FILE`). The first form needs cargo-fuzz
# (cargo install cargo-fuzz); RUSTC_BOOTSTRAP lets the stable toolchain build with the
# sanitizer flags. The --ci build goes to $CARGO_TARGET_DIR/fuzz when CARGO_TARGET_DIR is set.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

max_len() {
  case $1 in
    decode_detect) echo 262144 ;;
    mrz_parse) echo 512 ;;
    dialect_json) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

targets() {
  for f in fuzz/fuzz_targets/*.rs; do basename "$f" .rs; done
}

# dialect_json keeps a SQLite database under TMPDIR: a folder of ours, removed after, in
# memory where there is room (the store syncs every commit).
scratch() {
  local base=${TMPDIR:-/tmp} free
  free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
  if [ -w /dev/shm ] && [ "${free:-0}" -gt 1048576 ]; then base=/dev/shm; fi
  mktemp -d "$base/vouch-fuzz.XXXXXX"
}

if [[ ${1:-} == --ci ]]; then
  seconds=${2:-20}
  host=$(rustc -vV | sed -n 's/^host: //p')
  target_dir=${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/fuzz}
  target_dir=${target_dir:-$root/fuzz/target}
  # What cargo fuzz passes, less the sanitizer: coverage counters and comparison tracing
  # for libFuzzer, all stable rustc flags, given by fuzz/instrument.sh to the crates worth
  # covering. The fuzz-ci profile adds debug assertions and overflow checks, and no debug
  # info. --target keeps the flags off build scripts.
  flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
  flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
  flags+=" -Cllvm-args=-sanitizer-coverage-pc-table"
  flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares"
  echo "building the fuzz targets into $target_dir" >&2
  if ! (cd fuzz && RUSTFLAGS="--cfg fuzzing" VOUCH_FUZZ_RUSTFLAGS=$flags \
    RUSTC_WRAPPER=$root/fuzz/instrument.sh CARGO_TARGET_DIR=$target_dir \
    cargo build --locked --profile fuzz-ci --target "$host" --bins); then
    echo "the fuzz targets do not build; after a dependency change, update their lock file:" \
      "cargo update --workspace --manifest-path fuzz/Cargo.toml" >&2
    exit 1
  fi
  bin_dir=$target_dir/$host/fuzz-ci
  artifacts=${VOUCH_FUZZ_ARTIFACTS:-$root/artifacts/fuzz}
  work=$(scratch)
  trap 'rm -rf "$work"' EXIT
  failed=()
  for t in $(targets); do
    mkdir -p "$work/$t/corpus" "$work/$t/crashes" "$work/$t/tmp"
    cp fuzz/seeds/"$t"/* "$work/$t/corpus/"
    seeds=$(ls "$work/$t/corpus" | wc -l)
    if TMPDIR=$work/$t/tmp VOUCH_MODELS_DIR=$root/models "$bin_dir/$t" "$work/$t/corpus" \
      -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
      -artifact_prefix="$work/$t/crashes/" -print_final_stats=1 >"$work/$t/log" 2>&1; then
      runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log")
      cov=$(grep -o 'cov: [0-9]*' "$work/$t/log" | tail -n 1)
      echo "fuzz $t: ${runs:-?} runs in $seconds s, ${cov:-cov: ?} edges," \
        "corpus $seeds -> $(ls "$work/$t/corpus" | wc -l), no crash" >&2
    else
      failed+=("$t")
      mkdir -p "$artifacts/$t"
      tail -n 40 "$work/$t/log" >&2
      for f in "$work/$t/crashes"/*; do
        [ -e "$f" ] || continue
        cp "$f" "$artifacts/$t/"
        echo "fuzz $t: CRASH, input saved as $artifacts/$t/$(basename "$f"); replay: $bin_dir/$t FILE" >&2
        od -A d -c "$f" | head -n 20 >&2
      done
    fi
  done
  if ((${#failed[@]})); then
    echo "fuzzing failed: ${failed[*]}" >&2
    exit 1
  fi
  exit 0
fi

target=decode_detect
if [[ $# -gt 0 && ! $1 =~ ^[0-9]+$ ]]; then
  target=$1
  shift
fi
seconds=${1:-120}
corpus=fuzz/corpus/$target
mkdir -p "$corpus"
cp fuzz/seeds/"$target"/* "$corpus/"
case $target in
  decode_detect)
    scripts/fetch-models.sh
    for f in ../shared/eval/faces/img5.jpg ../shared/eval/faces/img12.jpg \
      target/test-data/eval/faces/img1.jpg; do
      [ -f "$f" ] && cp "$f" "$corpus/"
    done
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
    ;;
esac
work=$(scratch)
trap 'rm -rf "$work"' EXIT
mkdir -p "fuzz/artifacts/$target"
cd fuzz
TMPDIR=$work VOUCH_MODELS_DIR="$root/models" RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="$(max_len "$target")"
