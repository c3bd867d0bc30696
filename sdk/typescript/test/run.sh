#!/usr/bin/env bash
# The TypeScript SDK against a real `vouch serve` (models from VOUCH_MODELS_DIR, default
# the repository's models/). Builds the SDK with tsc, makes webcam frames of an eval face
# with vouch-footage for the presence scan, runs node --test.
# VOUCH_BIN and VOUCH_FOOTAGE override the binaries (default target/debug/…).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(cd ../.. && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
export VOUCH_BIN=${VOUCH_BIN:-$target/debug/vouch}
export VOUCH_FOOTAGE=${VOUCH_FOOTAGE:-$target/debug/vouch-footage}
export VOUCH_MODELS_DIR=${VOUCH_MODELS_DIR:-$root/models}
[ -x "$VOUCH_FOOTAGE" ] || (cd "$root" && cargo build -q -p vouch-docsynth --bin vouch-footage)
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
npm run -s build
exec node --test test/sdk.test.mjs
