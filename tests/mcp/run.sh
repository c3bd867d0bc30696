#!/usr/bin/env bash
# vouch's MCP server against the official Python MCP client (PyPI `mcp`): over stdio
# (`vouch mcp`), over streamable HTTP (`/mcp` on the server) and over the older HTTP+SSE
# transport (`/sse`, `/messages`), listing the three tools
# and running a whole presence flow through them. The client is installed in a venv
# under target/ (pinned version). VOUCH_BIN and VOUCH_FOOTAGE override the binaries.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
export VOUCH_BIN=${VOUCH_BIN:-$target/debug/vouch}
export VOUCH_FOOTAGE=${VOUCH_FOOTAGE:-$target/debug/vouch-footage}
export VOUCH_MODELS_DIR=${VOUCH_MODELS_DIR:-$root/models}
[ -x "$VOUCH_FOOTAGE" ] || (cd "$root" && cargo build -q -p vouch-docsynth --bin vouch-footage)
venv="$target/mcp-client-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import mcp" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r requirements.txt
fi
exec "$venv/bin/python" client_test.py
