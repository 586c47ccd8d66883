#!/usr/bin/env bash
# Runs the tour: examples/tour.rs against $REDIS_URL, or against a throwaway
# redis-server it starts (and stops) itself.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-redis.sh
# Build first with cargo's progress shown (a first build takes a minute or
# two), then run without cargo's chatter so the tour's output stands alone.
echo "siderpy: building the tour (cargo build --example tour)" >&2
cargo build --example tour
cargo run --quiet --example tour
