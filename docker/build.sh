#!/usr/bin/env bash
# Builds the static (musl) release binaries and the images mcnode:dev (the node),
# mcnode-s3:dev (the compose network's S3 server) and mcnode-prometheus:dev (its optional
# Prometheus, from Debian's binary), FROM scratch: nothing is pulled.
#
#   bash docker/build.sh            # both images
#   MCNODE_IMAGE=mcnode:v1 bash docker/build.sh
#
# Needs the rustup target x86_64-unknown-linux-musl and Debian's musl-tools (ring's and
# LMDB's C code are compiled with musl-gcc): it runs scripts/setup.sh, which installs them
# when missing.
# The musl target dir is kept between runs ($MCNODE_MUSL_TARGET_DIR, default
# ~/.cache/mcnode-musl-target): a warm rebuild takes seconds, a cold one several minutes.
# The binaries end up in docker/dist/node-bin (the build context); docker/dist/node-bin/mcnode
# runs on any x86_64 Linux host too.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
target=x86_64-unknown-linux-musl
target_dir=${MCNODE_MUSL_TARGET_DIR:-$HOME/.cache/mcnode-musl-target}
image=${MCNODE_IMAGE:-mcnode:dev}
s3_image=${MCNODE_S3_IMAGE:-mcnode-s3:dev}
dist=$repo/docker/dist
start=$(date +%s)

say() { echo "build.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

command -v docker >/dev/null || die "docker is not installed"
# The musl target, musl-tools, file, binutils and prometheus, when missing.
bash scripts/setup.sh
command -v strip >/dev/null || die "strip not found: apt-get install binutils"
command -v musl-gcc >/dev/null || die "musl-gcc not found: apt-get install musl-tools (or run scripts/setup.sh)"
rustup target list --installed 2>/dev/null | grep -qx "$target" ||
  die "the Rust target $target is not installed: rustup target add $target (or run scripts/setup.sh)"

export CARGO_TARGET_DIR=$target_dir
export CC_x86_64_unknown_linux_musl=musl-gcc
# One package per cargo invocation: building them together would unify features (the
# testkit crate, a dependency of mcnode-cli, turns on scp's fault-injection, which the node
# must not have; the S3 server's feature must stay out of ledger-distribution).
build() {
  say "cargo build --release --target $target $*"
  cargo build --release --locked --target "$target" "$@"
}
build -p mcnode-consensus --bin consensus-service
build -p mcnode-archive --bin ledger-distribution
build -p mcnode-cli --bin mcnode --bin mc-ledger-migration
build -p mcnode-entrypoint --bin mcnode-entrypoint
node_bins=(consensus-service ledger-distribution mc-ledger-migration mcnode mcnode-entrypoint)
if [ -f crates/admin-gateway/Cargo.toml ]; then
  build -p mcnode-admin-gateway --bin mc-admin-http-gateway
  node_bins+=(mc-admin-http-gateway)
else
  say "crates/admin-gateway does not exist yet: the image has no mc-admin-http-gateway"
fi
build -p mcnode-archive --features s3-test-server --bin mcnode-s3-server
built=$(date +%s)

out=$target_dir/$target/release
rm -rf "$dist"
mkdir -p "$dist/node-bin" "$dist/s3-bin" "$dist/etc/ssl/certs" "$dist/empty"
for b in "${node_bins[@]}" mcnode-s3-server; do
  f=$out/$b
  [ -x "$f" ] || die "$f was not built"
  # Static, or the image (which has no libc) cannot run it.
  desc=$(file -b "$f")
  case $desc in
    *"statically linked"* | *"static-pie linked"*) ;;
    *) die "$b is not static: $desc" ;;
  esac
  dir=$dist/node-bin
  [ "$b" = mcnode-s3-server ] && dir=$dist/s3-bin
  cp "$f" "$dir/"
  # Debug info (line tables) makes the binaries ~6x larger; symbols stay, so backtraces
  # still name functions. MCNODE_KEEP_DEBUG=1 keeps everything.
  [ "${MCNODE_KEEP_DEBUG:-0}" = 1 ] || strip --strip-debug "$dir/$b"
done
cat >"$dist/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
mcnode:x:10001:10001:mcnode node:/var/lib/mcnode:/sbin/nologin
EOF
cat >"$dist/etc/group" <<'EOF'
root:x:0:
mcnode:x:10001:
EOF
# The compose network's optional Prometheus (profile "monitoring"): Debian's prometheus
# binary (scripts/setup.sh installs it) with the shared libraries it loads, nothing else.
prom_image=${MCNODE_PROMETHEUS_IMAGE:-mcnode-prometheus:dev}
prom_bin=$(command -v prometheus || true)
if [ -n "$prom_bin" ]; then
  root=$dist/prom-root
  mkdir -p "$root/usr/bin" "$root/usr/share"
  cp -L "$prom_bin" "$root/usr/bin/prometheus"
  # ldd prints "name => /path (addr)" and "/path (addr)" for the loader.
  for lib in $(ldd "$prom_bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  if [ -d /usr/share/prometheus ]; then cp -r /usr/share/prometheus "$root/usr/share/"; fi
else
  say "no prometheus binary (Debian package prometheus): the image $prom_image is not built"
fi

# Root certificates for HTTPS to a real S3 (rustls reads the platform's bundle).
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$dist/etc/ssl/certs/"
else
  say "warning: no /etc/ssl/certs/ca-certificates.crt (Debian ca-certificates): the image cannot verify HTTPS S3 endpoints"
fi

# The legacy builder (no BuildKit or buildx needed). Its deprecation notice is noise:
# the output is shown only when a build fails.
export DOCKER_BUILDKIT=0
say "docker build $s3_image, $image${prom_bin:+ and $prom_image} (context $dist: $(du -sh "$dist" | cut -f1))"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
specs=("s3 $s3_image" "node $image")
if [ -n "$prom_bin" ]; then specs+=("prometheus $prom_image"); fi
for spec in "${specs[@]}"; do
  set -- $spec
  docker build -f docker/Dockerfile --target "$1" -t "$2" "$dist" >"$log" 2>&1 ||
    { cat "$log" >&2; die "docker build of $2 failed"; }
done
end=$(date +%s)

size() { docker image inspect --format '{{.Size}}' "$1" | awk '{printf "%.1f MiB", $1 / 1048576}'; }
for b in "${node_bins[@]}"; do
  printf 'build.sh:   %-24s %s\n' "$b" "$(du -h "$dist/node-bin/$b" | cut -f1)" >&2
done
say "image $image: $(size "$image")"
say "image $s3_image: $(size "$s3_image")"
if [ -n "$prom_bin" ]; then say "image $prom_image: $(size "$prom_image")"; fi
say "took $((end - start)) s (cargo $((built - start)) s, images $((end - built)) s)"
