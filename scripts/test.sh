#!/usr/bin/env bash
# Runs everything CI runs: formatting, lints and the whole test suite. Tests
# start their own throwaway redis-server processes (free ports, unix sockets,
# TLS, ACL users); a Redis already running on 6379 is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-redis.sh
echo "siderpy: $(redis-server --version)"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The benchmark (a workspace of its own) builds and runs one tiny round;
# nothing about its timings is checked here.
(cd bench && cargo fmt --all --check && CARGO_TARGET_DIR=../target cargo run --quiet -- --quick --no-rss)
cargo test --workspace
