#!/usr/bin/env bash
# Clean release build of a "hello world" that sends one command, with each
# client's default features: siderpy (this tree, as a path dependency)
# against redis-rs (the major version bench/ uses, with its tokio support);
# then siderpy without TLS, and redis-rs with rustls and ring (siderpy's
# default provider), to compare like with like.
# Dependencies are fetched first, so only compiling is timed. Prints wall
# and CPU seconds per client and their ratios; CPU seconds hold on a busy
# machine, wall seconds only on a quiet one.
#
#   ./bench/compile-time.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=${1:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

redis_rs=$(sed -n 's/^redis = { version = "\([^"]*\)".*/\1/p' bench/Cargo.toml)
tokio='tokio = { version = "1", features = ["rt-multi-thread", "macros"] }'

crate() { # name, dependency line, main.rs
    mkdir -p "$work/$1/src"
    printf '[package]\nname = "hello-%s"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n%s\n%s\n\n[workspace]\n' \
        "$1" "$2" "$tokio" >"$work/$1/Cargo.toml"
    printf '%s\n' "$3" >"$work/$1/src/main.rs"
}

siderpy_main='
use siderpy::prelude::*;

#[tokio::main]
async fn main() -> siderpy::Result<()> {
    let redis = siderpy::Redis::new("redis://127.0.0.1:6379")?;
    let _ = redis.ping().await;
    Ok(())
}'
redis_rs_main='
#[tokio::main]
async fn main() -> redis::RedisResult<()> {
    let client = redis::Client::open("redis://127.0.0.1:6379")?;
    if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
        let _: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
    }
    Ok(())
}'
# Default features first (what the comparison is about), then each without
# and with TLS, as like for like.
crate siderpy "siderpy = { path = \"$root\" }" "$siderpy_main"
crate redis-rs "redis = { version = \"$redis_rs\", features = [\"tokio-comp\"] }" "$redis_rs_main"
crate siderpy-no-tls "siderpy = { path = \"$root\", default-features = false, features = [\"tracing\"] }" \
    "$siderpy_main"
crate redis-rs-tls \
    "redis = { version = \"$redis_rs\", features = [\"tokio-comp\", \"tokio-rustls-comp\", \"tls-rustls-webpki-roots\"] }
rustls = { version = \"0.23\", default-features = false, features = [\"ring\", \"std\"] }" \
    "$redis_rs_main"
names=(siderpy redis-rs siderpy-no-tls redis-rs-tls)

declare -A wall cpu
for name in "${names[@]}"; do
    (cd "$work/$name" && cargo fetch --quiet)
done
for run in $(seq "$runs"); do
    # Alternated, so that a change in the machine's load hits both alike.
    for name in "${names[@]}"; do
        rm -rf "$work/$name/target"
        /usr/bin/time -f "%e %U %S" -o "$work/time" \
            cargo build --release --quiet --manifest-path "$work/$name/Cargo.toml"
        read -r e u s <"$work/time"
        wall[$name]="${wall[$name]:-} $e"
        cpu[$name]="${cpu[$name]:-} $(echo "$u + $s" | bc)"
        echo "run $run: $name: ${e}s wall, $(echo "$u + $s" | bc)s CPU"
    done
done
best() { tr ' ' '\n' <<<"$1" | grep . | sort -g | head -1; }
printf '\n| client | wall (best of %s) | CPU (best of %s) |\n|---|---|---|\n' "$runs" "$runs"
for name in "${names[@]}"; do
    printf '| %s | %ss | %ss |\n' "$name" "$(best "${wall[$name]}")" "$(best "${cpu[$name]}")"
done
ratio() { echo "scale=2; $(best "${1}") / $(best "${2}")" | bc; }
for pair in "siderpy redis-rs" "siderpy-no-tls redis-rs" "siderpy redis-rs-tls"; do
    read -r a b <<<"$pair"
    printf '| %s / %s | %sx | %sx |\n' "$a" "$b" "$(ratio "${wall[$a]}" "${wall[$b]}")" "$(ratio "${cpu[$a]}" "${cpu[$b]}")"
done
