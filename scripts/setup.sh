#!/usr/bin/env bash
# Installs the tools mcnode's build and tests need, if missing. Idempotent.
set -euo pipefail
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest" >&2
  cargo install --locked cargo-nextest
fi

# Debian packages the tests use: promtool (package prometheus) checks the /metrics text;
# Chromium and its WebDriver drive the admin panel in a real browser.
apt_wanted=()
command -v promtool >/dev/null 2>&1 || apt_wanted+=(prometheus)
command -v chromium >/dev/null 2>&1 || apt_wanted+=(chromium)
command -v chromedriver >/dev/null 2>&1 || apt_wanted+=(chromium-driver)
# The container image (docker/build.sh, docker/test.sh): musl-gcc for ring's and LMDB's C
# code in the static binaries, file and strip, and docker compose or docker-compose.
command -v musl-gcc >/dev/null 2>&1 || apt_wanted+=(musl-tools)
command -v file >/dev/null 2>&1 || apt_wanted+=(file)
# docker/test.sh reads JSON and queries Prometheus with python3.
command -v python3 >/dev/null 2>&1 || apt_wanted+=(python3)
command -v strip >/dev/null 2>&1 || apt_wanted+=(binutils)
if command -v docker >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1 &&
  ! command -v docker-compose >/dev/null 2>&1; then
  apt_wanted+=(docker-compose)
fi
if [ ${#apt_wanted[@]} -gt 0 ]; then
  echo "setup: installing ${apt_wanted[*]} (Debian packages)" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q "${apt_wanted[@]}"
fi

# ... and the Rust target of the static binaries.
if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  echo "setup: adding the rustup target x86_64-unknown-linux-musl" >&2
  rustup target add x86_64-unknown-linux-musl
fi
