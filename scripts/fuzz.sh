#!/usr/bin/env bash
# Runs mcnode's fuzz targets (fuzz/, cargo-fuzz + libFuzzer) for a given time.
#
#   bash scripts/fuzz.sh TARGET|all SECONDS [libFuzzer flags...]   # e.g. -runs=10000000
#   bash scripts/fuzz.sh cmin TARGET|all                          # fold new finds into fuzz/corpus
#   bash scripts/fuzz.sh list
#
# Installs cargo-fuzz from crates.io when missing. Only the stable toolchain is here:
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass the nightly-only flags it needs. Builds are
# release with debug assertions and overflow checks (-O -a), without a sanitizer (-s none:
# mcnode forbids unsafe code, and on 2 shared cores the speed matters more).
#
# One fuzz process at a time (targets run one after another). New inputs go to a scratch
# corpus (fuzz/target/corpus/TARGET, not committed); the committed seeds under
# fuzz/corpus/TARGET are read as well. `cmin` merges the scratch corpus into the committed
# one, keeping only inputs that add coverage. A crash is written under
# fuzz/artifacts/TARGET/; fix it at its root, then copy the input to
# fuzz/regressions/TARGET/ (replayed by `cargo test -p mcnode-fuzzing`).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(client_tx consensus_envelope network_config archive_object attested_handshake admin_http)

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
  echo "targets: ${TARGETS[*]}" >&2
  exit 2
}

pick() {
  if [ "$1" = all ]; then
    echo "${TARGETS[@]}"
    return
  fi
  for t in "${TARGETS[@]}"; do
    if [ "$t" = "$1" ]; then
      echo "$t"
      return
    fi
  done
  echo "unknown target $1" >&2
  usage
}

[ $# -ge 1 ] || usage
if [ "$1" = list ]; then
  printf '%s\n' "${TARGETS[@]}"
  exit 0
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz from crates.io"
  cargo install --locked cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
# The fuzz crate has its own workspace and target dir (fuzz/target).
unset CARGO_TARGET_DIR
FLAGS=(-O -a -s none)

if [ "$1" = cmin ]; then
  # Minimise committed + scratch inputs (libFuzzer -merge), then keep the seeds and a
  # sample of the rest (in file-name order: the names are content hashes) up to
  # FUZZ_CORPUS_KIB (default 64) KiB and FUZZ_CORPUS_FILES (default 200) files per
  # target, so the committed corpus stays small.
  [ $# -eq 2 ] || usage
  budget=$(( ${FUZZ_CORPUS_KIB:-64} * 1024 ))
  max_files=${FUZZ_CORPUS_FILES:-200}
  list=$(pick "$2") || exit 2
  for t in $list; do
    merged="fuzz/target/cmin/$t"
    keep="fuzz/target/cmin/$t.keep"
    rm -rf "$merged" "$keep"
    mkdir -p "$merged" "$keep" "fuzz/corpus/$t" "fuzz/target/corpus/$t"
    before=$(find "fuzz/corpus/$t" -type f | wc -l)
    cargo fuzz run "${FLAGS[@]}" "$t" "$merged" "fuzz/corpus/$t" "fuzz/target/corpus/$t" -- -merge=1
    cp fuzz/corpus/"$t"/seed-* "$keep"/ 2>/dev/null || true
    used=$(cat "$keep"/* 2>/dev/null | wc -c)
    for f in $(ls "$merged"); do
      [ "$(ls "$keep" | wc -l)" -lt "$max_files" ] || break
      size=$(stat -c %s "$merged/$f")
      [ $((used + size)) -le "$budget" ] || continue
      cp "$merged/$f" "$keep/"
      used=$((used + size))
    done
    rm -rf "fuzz/corpus/$t"
    mv "$keep" "fuzz/corpus/$t"
    echo "$t: corpus $before -> $(find "fuzz/corpus/$t" -type f | wc -l) files ($used bytes; minimised set: $(ls "$merged" | wc -l) files)"
  done
  exit 0
fi

[ $# -ge 2 ] || usage
what=$1
seconds=$2
shift 2
case $seconds in
  '' | *[!0-9]*) echo "SECONDS must be a number, not $seconds" >&2; usage ;;
esac
list=$(pick "$what") || exit 2
for t in $list; do
  mkdir -p "fuzz/target/corpus/$t" "fuzz/corpus/$t"
  echo "== $t: up to $seconds s $*"
  start=$(date +%s)
  cargo fuzz run "${FLAGS[@]}" "$t" "fuzz/target/corpus/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=20 -print_final_stats=1 "$@"
  echo "== $t: done in $(( $(date +%s) - start )) s"
done
