#!/usr/bin/env bash
# Instruction counts of transaction validation under callgrind (deterministic on a shared
# machine, unlike wall-clock time). Prints one JSON line per figure:
#   {"mode":"single|batch","n":N,"instructions_per_tx":I}
# where I = (Ir(mode, N) - Ir(setup, N)) / N, both runs building the same seeded fixture
# (crates/transaction/examples/validate_cost.rs), then
#   {"mode":"reference","instructions_per_tx":R}
# the MobileCoin-shaped single-transaction cost (constant-time ring + range proof m=4),
# and batch_vs_reference_ratio = I(batch, 100) / R when 100 is among the sizes.
# Usage: scripts/bench-tx-instructions.sh [SIZES...]   (default: 1 10 100)
# Size 1000 (single and batch) took about 25 minutes under callgrind on this shared
# 2-core machine; pass it
# explicitly.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 10 100)
cargo build --release -q -p mcnode-transaction --example validate_cost
bin="${CARGO_TARGET_DIR:-target}/release/examples/validate_cost"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count() { # mode n -> total instructions (one rayon thread: the count of one core's work)
    RAYON_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$tmp/out" \
        "$bin" "$1" "$2" 2>"$tmp/err" >/dev/null || { cat "$tmp/err" >&2; exit 1; }
    grep -E '^(summary|totals):' "$tmp/out" | head -1 | awk '{print $2}'
}
per_tx() { # mode n
    local b t
    b=$(count setup "$2")
    t=$(count "$1" "$2")
    echo $(( (t - b) / $2 ))
}
ref=$(per_tx reference 10)
echo "{\"mode\":\"reference\",\"instructions_per_tx\":$ref}"
for n in "${sizes[@]}"; do
    for mode in single batch; do
        i=$(per_tx "$mode" "$n")
        echo "{\"mode\":\"$mode\",\"n\":$n,\"instructions_per_tx\":$i}"
        if [ "$mode" = batch ] && [ "$n" = 100 ]; then
            echo "{\"batch_vs_reference_ratio\":$(awk -v a="$i" -v b="$ref" 'BEGIN{printf "%.4f", a/b}')}"
        fi
    done
done
