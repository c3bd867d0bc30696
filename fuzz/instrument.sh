#!/usr/bin/env bash
# The RUSTC_WRAPPER of `scripts/fuzz.sh --ci`: libFuzzer's coverage instrumentation
# ($VOUCH_FUZZ_RUSTFLAGS) for vouch's crates, the fuzz targets and the third-party
# parsers they reach (image codecs, phone numbers, JSON, base64, URLs, dates), not for
# the rest (runtime, HTTP, SQL, TLS, crypto). That builds faster, and libFuzzer, which
# reads every coverage counter after each input, runs the server's target several
# times faster. Generic code is instrumented where it is instantiated, so serde's and
# axum's code for vouch's own types is covered either way.
set -euo pipefail
rustc=$1
shift
name= source= target= prev=
for arg in "$@"; do
  case $prev in --crate-name) name=$arg ;; --target) target=1 ;; esac
  case $arg in *.rs) source=$arg ;; esac
  prev=$arg
done
# Build scripts, proc macros and their dependencies run on this machine: cargo gives
# them no --target.
if [[ -z $target || -z $source ]]; then exec "$rustc" "$@"; fi
case $source in
  */registry/src/* | */git/checkouts/*)
    case $name in
      image | zune_jpeg | zune_core | png | fdeflate | image_webp) ;;
      phonenumber | serde_json | base64 | url | idna | chrono) ;;
      *) exec "$rustc" "$@" ;;
    esac
    ;;
esac
# shellcheck disable=SC2086 # the flags are words
exec "$rustc" "$@" ${VOUCH_FUZZ_RUSTFLAGS:-}
