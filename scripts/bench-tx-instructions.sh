#!/usr/bin/env bash
# Instruction counts of transaction validation under callgrind (deterministic on a shared
# machine, unlike wall-clock time). Prints one JSON line per figure:
#   {"mode":"single|batch","n":N,"instructions_per_tx":I}
# where I = (Ir(mode, N) - Ir(setup)) / N, both runs building the same seeded fixture.
# Usage: scripts/bench-tx-instructions.sh [SIZES...]   (default: 1 10 100)
# Batch 1000 takes about 20 minutes under callgrind on a 2-core machine; pass it explicitly.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 10 100)
cargo build --release -q -p mcnode-transaction --example validate_cost
bin="${CARGO_TARGET_DIR:-target}/release/examples/validate_cost"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count() { # mode n -> total instructions
    RAYON_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$tmp/out" \
        "$bin" "$1" "$2" 2>"$tmp/err" >/dev/null || { cat "$tmp/err" >&2; exit 1; }
    grep -E '^summary:|^totals:' "$tmp/out" | head -1 | awk '{print $2}'
}
for n in "${sizes[@]}"; do
    for mode in single batch; do
        # The set-up builds max(n, 1) transactions either way; only the pool is built, so
        # set-up cost does not depend on n beyond cloning.
        b=$(count setup "$n")
        t=$(count "$mode" "$n")
        echo "{\"mode\":\"$mode\",\"n\":$n,\"instructions_per_tx\":$(( (t - b) / n ))}"
    done
done
