#!/usr/bin/env bash
# Sourced by the other scripts: makes sure `redis-server` and `redis-cli` (the
# cluster tests create clusters with it), and cargo, can be found, installing
# Debian's redis-server package (which brings redis-tools, with redis-cli) or
# just redis-tools when one is missing.
siderpy_apt_install() {
    local sudo=""
    if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}
if [ -n "${REDIS_SERVER_BIN:-}" ] && [ -x "$REDIS_SERVER_BIN" ]; then
    :
elif ! command -v redis-server >/dev/null 2>&1; then
    echo "siderpy: redis-server is not on PATH; installing Debian's redis-server package" >&2
    siderpy_apt_install redis-server
    # The package starts a service on 6379; the tests never use it.
fi
if [ -n "${REDIS_CLI_BIN:-}" ] && [ -x "$REDIS_CLI_BIN" ]; then
    :
elif ! command -v redis-cli >/dev/null 2>&1; then
    echo "siderpy: redis-cli is not on PATH; installing Debian's redis-tools package" >&2
    siderpy_apt_install redis-tools
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
