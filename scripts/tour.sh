#!/usr/bin/env bash
# Runs the tour: examples/tour.rs against $REDIS_URL, or against a throwaway
# redis-server it starts (and stops) itself.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-redis.sh
cargo run --quiet --example tour
