#!/usr/bin/env bash
# Checks the declared MSRV (`rust-version` in Cargo.toml) against what the
# published crates build with: no locked package they depend on (any
# feature; dev-dependencies, which only the tests need, aside) may need a
# newer Rust. When rustup can install that toolchain, the library is also
# built with it.
set -euo pipefail
cd "$(dirname "$0")/.."
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
deps=$(cargo tree --locked -e normal,build --prefix none -f '{p}' -p siderpy -p siderpy-gen \
    --features siderpy/tls-aws-lc-rs,siderpy/bb8,siderpy/deadpool | awk '{print $1 " " $2}' | sort -u)
# Their own rust-version fields, as x.y.z, newest last.
newest=$(cargo metadata --format-version 1 --locked | DEPS="$deps" python3 -c '
import json, os, sys
deps = {tuple(line.split()) for line in os.environ["DEPS"].splitlines()}
members = {"siderpy", "siderpy-core", "siderpy-macros", "siderpy-gen"}
for p in json.load(sys.stdin)["packages"]:
    if p["rust_version"] and p["name"] not in members and (p["name"], "v" + p["version"]) in deps:
        print(".".join((p["rust_version"] + ".0.0").split(".")[:3]), p["name"], p["version"])' |
    sort -V | tail -n 1)
need=${newest%% *}
if [ "$(printf '%s\n%s\n' "$need" "$msrv.0" | sort -V | tail -n 1)" != "$msrv.0" ]; then
    echo "siderpy: rust-version is $msrv, but the locked ${newest#* } needs Rust $need" >&2
    exit 1
fi
echo "siderpy: rust-version $msrv covers the locked dependencies (newest need: Rust $need, ${newest#* })"
if command -v rustup >/dev/null 2>&1 && rustup toolchain install "$msrv" --profile minimal >/dev/null 2>&1; then
    # Its own target directory: artifacts of two compilers do not mix.
    CARGO_TARGET_DIR=target/msrv cargo "+$msrv" check --locked --quiet -p siderpy --features bb8,deadpool
    echo "siderpy: the library builds with Rust $msrv"
else
    echo "siderpy: rustup cannot install Rust $msrv here; checked the lockfile only"
fi
