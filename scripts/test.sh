#!/usr/bin/env bash
# Runs mcnode's whole test suite: the README's test command, and what CI runs after its
# fmt and clippy checks. Installs what the tests need first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
profile=${NEXTEST_PROFILE:-default}
cargo nextest run --workspace --all-features --profile "$profile" "$@"
# nextest does not run doc tests.
cargo test --workspace --all-features --doc --quiet
