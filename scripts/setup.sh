#!/usr/bin/env bash
# Installs the tools mcnode's build and tests need, if missing. Idempotent.
set -euo pipefail
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest" >&2
  cargo install --locked cargo-nextest
fi
