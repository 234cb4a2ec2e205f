#!/usr/bin/env bash
# Builds the release binaries and runs a local network: `mcnode localnet` with its
# directory in $LOCALNET_DIR (default .localnet in the repository), four nodes on loopback
# unless the arguments say otherwise. Ctrl-C stops every node; a second run reuses the
# directory (keys, ports, ledgers).
#
#   bash scripts/localnet.sh                     # 4 nodes, threshold 3, ports 3200..3232
#   bash scripts/localnet.sh --base-port 0       # free ports
#   LOCALNET_DIR=/tmp/net bash scripts/localnet.sh --nodes 7
#
# In another terminal: target/release/mcnode heights --dir .localnet
set -euo pipefail
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
dir=$(absolute "${LOCALNET_DIR:-$(dirname "$0")/../.localnet}")
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR; CARGO_TARGET_DIR=$(absolute "$CARGO_TARGET_DIR")
fi
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --bins -p mcnode-cli -p mcnode-consensus -p mcnode-archive -p mcnode-admin-gateway
exec "$target/release/mcnode" localnet --dir "$dir" "$@"
