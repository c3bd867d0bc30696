#!/usr/bin/env bash
# API fuzzing: schemathesis (PyPI, pinned in requirements.txt, installed in a venv under
# target/) against GET /openapi.json of a real `vouch serve` with every dialect enabled,
# checking every answer for 5xx and against the document (status, content type, body).
# What runs and what is reached: fuzz.py. VOUCH_BIN overrides the binary; arguments go to
# `schemathesis run` after the defaults (e.g. `--max-examples 300 --seed 7`).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
export VOUCH_BIN=${VOUCH_BIN:-$target/debug/vouch}
if [ -z "${VOUCH_MODELS_DIR:-}" ]; then
  # The image endpoints analyse what they get (without models they answer 503).
  if ! out=$("$root/scripts/fetch-models.sh" 2>&1); then echo "$out" >&2; exit 1; fi
  export VOUCH_MODELS_DIR=$root/models
fi
[ -x "$VOUCH_BIN" ] || (cd "$root" && cargo build -q -p vouch)
venv="$target/apifuzz-venv"
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/pip" freeze 2>/dev/null | grep -qxF -f requirements.txt; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r requirements.txt
fi
export SCHEMATHESIS="$venv/bin/schemathesis"
exec "$venv/bin/python" fuzz.py "$@"
