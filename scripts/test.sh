#!/usr/bin/env bash
# Runs everything CI runs: formatting, lints and the whole test suite. Tests
# start their own throwaway redis-server processes (free ports, unix sockets,
# TLS, ACL users); a Redis already running on 6379 is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-redis.sh
. scripts/ensure-modules.sh
echo "siderpy: $(redis-server --version)"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The feature combinations that matter compile, warning-free: no TLS, TLS
# with the application's provider, aws-lc-rs instead of ring (and both).
for features in "" "tls" "tracing" "tls-aws-lc-rs" "tls-ring,tls-aws-lc-rs,bb8,deadpool,mock,serde"; do
    cargo clippy -p siderpy --quiet --no-default-features --features "$features" -- -D warnings
done
# The API docs build warning-free, so a broken intra-doc link fails here
# rather than on docs.rs (dependencies are already checked by clippy).
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --quiet
./scripts/msrv.sh
# Every crate packages and verifies: each builds from its package alone,
# its workspace dependencies from theirs (the spec the API is generated
# from travels inside siderpy-core). Cargo takes a packaged version as
# never changing: it unpacks it once, and reuses what it built of it. So
# what an earlier run left of our packages goes first (the unpacked copies,
# in the local registries' source folders, never crates.io's; and every
# build fingerprint of a siderpy crate, the workspace's own included, which
# only costs rebuilding those), lest a second run verify stale sources.
# Then a user's crate built from the packages runs typed module commands
# from RedisJSON's and RedisBloom's specs against the real modules.
rm -rf target/package target/debug/.fingerprint/siderpy-* "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/siderpy-*
cargo package --workspace --allow-dirty --quiet 2>&1 | { grep -v "^warning: ignoring \(test\|example\)" || true; }
(cd tests/user-crate && cargo fmt --check)
./scripts/user-crate.sh
# The benchmark (a workspace of its own) builds and runs one tiny round;
# nothing about its timings is checked here.
(cd bench && cargo fmt --all --check && CARGO_TARGET_DIR=../target cargo run --quiet -- --quick --no-rss)
cargo test --workspace
# The newer spec (Valkey 8.1, siderpy-macros/fixtures): the whole suite
# compiles against it unchanged (names stay), and the reply probes (every
# default type, and every shape-changing option, those only newer specs
# have included) run on a live Valkey 8.1. A target directory of its own,
# so the main build stays warm.
. scripts/ensure-valkey.sh
echo "siderpy: newer spec: $("$VALKEY_SERVER_BIN" --version)"
newer_spec=(env CARGO_TARGET_DIR=target/newer-spec
    SIDERPY_SPEC=../siderpy-macros/fixtures/valkey-8.1/commands.json
    RUSTFLAGS="--cfg siderpy_newer_spec")
"${newer_spec[@]}" cargo check --workspace --tests --examples --quiet
"${newer_spec[@]}" REDIS_SERVER_BIN="$VALKEY_SERVER_BIN" cargo test --quiet --test reply_shapes --test reply_probe
