#!/usr/bin/env bash
# Runs each fuzz target (fuzz/fuzz_targets/) for a bounded time: 60 s each
# unless the first argument says otherwise; further arguments pick targets.
#
#   scripts/fuzz.sh            # decode, url and convert, 60 s each
#   scripts/fuzz.sh 600 decode # one target for ten minutes
#
# Needs the nightly toolchain; installs cargo-fuzz when it is missing. The
# corpus lives in fuzz/corpus/<target>/ and is minimized after each run so
# that what is committed stays small. A crash stops the script, leaving the
# input in fuzz/artifacts/<target>/: turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(decode url convert)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# Optimized, with overflow checks; no sanitizer: the crates forbid unsafe
# code, and plain builds run several times more inputs per second.
opts=(-O --debug-assertions --sanitizer none)
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    opts+=(--target-dir "$CARGO_TARGET_DIR/fuzz")
fi
for t in "${targets[@]}"; do
    # URLs longer than this find nothing new; replies need room to nest.
    case "$t" in url) max_len=512 ;; *) max_len=4096 ;; esac
    mkdir -p "corpus/$t"
    echo "fuzz: $t for ${secs}s"
    cargo +nightly fuzz run "${opts[@]}" "$t" "corpus/$t" -- \
        -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
    cargo +nightly fuzz cmin "${opts[@]}" "$t" "corpus/$t" -- -max_len="$max_len" >/dev/null 2>&1
    echo "fuzz: $t corpus: $(ls "corpus/$t" | wc -l) files, $(cat "corpus/$t"/* | wc -c) bytes"
done
