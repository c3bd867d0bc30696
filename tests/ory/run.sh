#!/usr/bin/env bash
# vouch's Ory Kratos hooks as Kratos calls them: bodies rendered from the shipped
# jsonnet templates with go-jsonnet (PyPI `gojsonnet`), URLs, methods, parse settings and
# auth header read from the shipped ory-actions.yaml, answers read as Kratos reads them,
# and a loopback double of the Kratos admin API (JSON Patch through PyPI `jsonpatch`)
# receiving the metadata_admin patches. Packages are installed in a venv under target/
# (pinned versions). VOUCH_BIN overrides the binary.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
export VOUCH_BIN=${VOUCH_BIN:-$target/debug/vouch}
[ -x "$VOUCH_BIN" ] || (cd "$root" && cargo build -q -p vouch)
venv="$target/ory-hooks-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import _gojsonnet, jsonpatch, yaml" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r requirements.txt
fi
exec "$venv/bin/python" test_hooks.py
