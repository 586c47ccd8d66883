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
cargo test --workspace
