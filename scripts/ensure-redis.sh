#!/usr/bin/env bash
# Sourced by the other scripts: makes sure `redis-server` (and cargo) can be
# found, installing Debian's redis-server package when it is missing.
if [ -n "${REDIS_SERVER_BIN:-}" ] && [ -x "$REDIS_SERVER_BIN" ]; then
    :
elif ! command -v redis-server >/dev/null 2>&1; then
    echo "siderpy: redis-server is not on PATH; installing Debian's redis-server package" >&2
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >&2
    # The package starts a service on 6379; the tests never use it.
fi
if ! command -v cargo >/dev/null 2>&1; then
    if [ -f "$HOME/.cargo/env" ]; then
        # shellcheck disable=SC1091
        . "$HOME/.cargo/env"
    else
        echo "siderpy: cargo is not installed; install a Rust toolchain (rustup) first" >&2
        exit 1
    fi
fi
