#!/usr/bin/env bash
# Checks the declared MSRV (`rust-version` in Cargo.toml) against the
# dependencies: no locked package may need a newer Rust. When rustup can
# install that toolchain, the library is also checked with it.
set -euo pipefail
cd "$(dirname "$0")/.."
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
# The locked packages' own rust-version fields, newest last.
newest=$(cargo metadata --format-version 1 --locked |
    python3 -c 'import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["rust_version"]: print(".".join((p["rust_version"] + ".0.0").split(".")[:3]), p["name"], p["version"])' |
    sort -V | tail -n 1)
need=${newest%% *}
if [ "$(printf '%s\n%s\n' "$need" "$msrv.0" | sort -V | tail -n 1)" != "$msrv.0" ]; then
    echo "siderpy: rust-version is $msrv, but Cargo.lock has ${newest#* } needing Rust $need" >&2
    exit 1
fi
echo "siderpy: rust-version $msrv covers Cargo.lock (newest need: Rust $need, ${newest#* })"
if command -v rustup >/dev/null 2>&1 && rustup toolchain install "$msrv" --profile minimal >/dev/null 2>&1; then
    # Its own target directory: artifacts of two compilers do not mix.
    CARGO_TARGET_DIR=target/msrv cargo "+$msrv" check --locked --quiet -p siderpy --features bb8,deadpool
    echo "siderpy: the library builds with Rust $msrv"
else
    echo "siderpy: rustup cannot install Rust $msrv here; checked Cargo.lock only"
fi
