#!/usr/bin/env bash
# Compatibility tests: vouch against real third-party client packages.
# Needs node >= 18 and npm; the vouch binary from `cargo build`
# (override with VOUCH_BIN=/path/to/vouch).
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi

exec node --test prove-token.test.mjs
