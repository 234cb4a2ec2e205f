#!/usr/bin/env bash
# End-to-end test of the images and the 4-node compose network, on the local Docker
# engine:
#   build the images (docker/build.sh); check that a missing or bad environment variable
#   is named and exits non-zero; write a network (mcnode localnet --docker), `compose up`,
#   wait for all four nodes, self-payment test; kill node3, make a block without it,
#   start it again and wait until it caught up; kill consensus-service inside node1 and
#   see the entrypoint restart it; check that the four ledgers agree, that the gateway
#   serves /metrics, and that each node's S3 archive holds every block (rebuilt and
#   verified with `mcnode ledger from-archive`); stop a node gracefully (consensus-service
#   first, exit status 0, every log line JSON); then `compose down -v`, always.
#   Runs as root (it signals a process inside a container); uses host ports 4400-4490.
#
#   bash docker/test.sh                      # standalone; .ci/run calls it the same way
#   MCNODE_TEST_SKIP_BUILD=1 bash docker/test.sh   # reuse the images already built
#
# Ends with "docker-test: N passed, N failed" and the wall time; exit status 0 only when
# every check passed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
t0=$(date +%s)
image=${MCNODE_IMAGE:-mcnode:dev}
export MCNODE_IMAGE=$image
project=mcnodetest$$
net=$(mktemp -d "${TMPDIR:-/tmp}/mcnode-docker-test.XXXXXX")
export MCNODE_NET=$net
mcnode=$repo/docker/dist/node-bin/mcnode
passed=0
failed=0

say() { echo "test.sh [$(($(date +%s) - t0)) s] $*" >&2; }
ok() { passed=$((passed + 1)); say "ok: $*"; }
finish() {
  local t=$(($(date +%s) - t0))
  echo "docker-test: $passed passed, $failed failed"
  say "wall time ${t} s"
}
fail() {
  failed=$((failed + 1))
  say "FAIL: $*"
  exit 1
}

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  say "neither 'docker compose' nor docker-compose is installed (apt-get install docker-compose)"
  exit 1
fi
dc() { "${compose[@]}" -p "$project" -f docker/compose.yml "$@"; }

cleanup() {
  local status=$?
  if [ "$status" -ne 0 ] && [ -f "$net/docker.json" ]; then
    say "logs of the last 30 lines per container:"
    dc logs --no-color --tail 30 >&2 2>&1 || true
  fi
  dc --profile monitoring down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$net"
  finish
  exit "$status"
}
trap cleanup EXIT

# A JSON field of the document on stdin: json PATH (Python expression on `d`).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

if [ "${MCNODE_TEST_SKIP_BUILD:-0}" != 1 ]; then
  say "building the images (docker/build.sh)"
  bash docker/build.sh
fi
[ -x "$mcnode" ] || fail "$mcnode is missing: run docker/build.sh"
docker image inspect "$image" >/dev/null 2>&1 || fail "no image $image: run docker/build.sh"
t_built=$(date +%s)

for port in 4400 4401 4402 4403 4410 4411 4412 4413 4420 4421 4422 4423 4430 4431 4432 4433 4490 4491; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "127.0.0.1:$port is taken: is another compose network of docker/compose.yml running? (docker compose -f docker/compose.yml down)"
  fi
done

# 1. A missing or bad environment: one line naming the variable, a non-zero exit.
set +e
out=$(docker run --rm "$image" 2>&1)
status=$?
set -e
[ "$status" -ne 0 ] || fail "docker run without LOCAL_NODE_ID exited 0"
grep -q 'LOCAL_NODE_ID is not set' <<<"$out" || fail "no clear error without LOCAL_NODE_ID: $out"
set +e
out=$(docker run --rm -e LOCAL_NODE_ID=node0:8443 -e NODE_LEDGER_DIR=ledger \
  -e CONSENSUS_ADMIN_URI=insecure-mca://127.0.0.1:9091/ -e AWS_PATH=s3://b/p "$image" 2>&1)
status=$?
set -e
[ "$status" -ne 0 ] || fail "a relative NODE_LEDGER_DIR exited 0"
grep -q 'NODE_LEDGER_DIR=\\"ledger\\" is invalid' <<<"$out" || fail "no clear error for NODE_LEDGER_DIR=ledger: $out"
grep -q 'AWS_ACCESS_KEY_ID is not set' <<<"$out" || fail "s3:// AWS_PATH without credentials not named: $out"
set +e
out=$(docker run --rm -e LOCAL_NODE_ID=node0:8443 -e NODE_LEDGER_DIR=/var/lib/mcnode/ledger \
  -e CONSENSUS_ADMIN_URI=insecure-mca://127.0.0.1:9091/ "$image" 2>&1)
status=$?
set -e
[ "$status" -ne 0 ] || fail "no origin ledger, yet exit status 0"
grep -q 'is empty and there is no origin ledger at /origin' <<<"$out" || fail "no clear error without an origin ledger: $out"
ok "a missing or bad environment is named, exit status non-zero"

# 2. The network.
say "writing the network to $net"
"$mcnode" localnet --docker --dir "$net" >/dev/null
dc up -d >"$net/up.log" 2>&1 || { cat "$net/up.log" >&2; fail "compose up failed"; }
"$mcnode" wait-for-block --dir "$net" --height 1 --timeout 120 >/dev/null ||
  fail "the four nodes did not all answer within 120 s"
ok "all four nodes answer"

# 3. Transactions.
out=$("$mcnode" wallet self-payment-test --dir "$net" --node 0 --account 0) ||
  fail "self-payment test through node0: $out"
[ "$(json 'd["ok"]' <<<"$out")" = True ] || fail "self-payment test: $out"
ok "self-payment test through node0 (block $(json 'd["block_index"]' <<<"$out"))"

# 4. node3 dies; the other three make a block without it; node3 comes back and catches up.
dc kill node3 >/dev/null 2>&1
out=$("$mcnode" wallet self-payment-test --dir "$net" --node 1 --account 1) ||
  fail "self-payment test through node1 with node3 down: $out"
[ "$(json 'd["ok"]' <<<"$out")" = True ] || fail "self-payment with node3 down: $out"
height=$(($(json 'd["block_index"]' <<<"$out") + 1))
ok "a block without node3 (height $height)"
dc start node3 >/dev/null 2>&1
"$mcnode" wait-for-block --dir "$net" --height "$height" --timeout 120 >/dev/null ||
  fail "node3 did not catch up to height $height within 120 s"
heights=$("$mcnode" heights --dir "$net" --settle 30) || fail "the ledgers disagree: $heights"
[ "$(json 'd["agree"]' <<<"$heights")" = True ] || fail "the ledgers disagree: $heights"
[ "$(json 'd["height"]' <<<"$heights")" = "$height" ] || fail "unexpected height: $heights"
last_id=$(json 'd["last_block_id"]' <<<"$heights")
ok "node3 caught up; all four ledgers agree at height $height ($last_id)"

# 4b. consensus-service crashes inside node1's container: the entrypoint restarts it
# (the container keeps running), and node1 takes part in the next block.
container=$(dc ps -q node1)
pid=$(docker top "$container" -eo pid,comm | awk '$2 == "consensus-servi" || $2 == "consensus-service" {print $1}')
[ -n "$pid" ] || fail "no consensus-service process in node1's container"
kill -KILL "$pid" || fail "cannot kill node1's consensus-service (pid $pid): run the test as root"
deadline=$(($(date +%s) + 30))
until docker logs "$container" 2>&1 | grep -q '"message":"consensus-service exited (signal 9) after [0-9.]* s; restarting it in'; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "node1's entrypoint did not restart consensus-service within 30 s"
  sleep 0.5
done
[ "$(docker inspect -f '{{.State.Running}}' "$container")" = true ] || fail "node1's container stopped"
"$mcnode" wait-for-block --dir "$net" --height "$height" --timeout 60 >/dev/null ||
  fail "node1 does not answer again within 60 s of its consensus-service's restart"
out=$("$mcnode" wallet self-payment-test --dir "$net" --node 1 --account 2 --timeout 60) ||
  fail "self-payment test through node1 after its consensus-service restarted: $out"
height=$(($(json 'd["block_index"]' <<<"$out") + 1))
heights=$("$mcnode" heights --dir "$net" --settle 30) || fail "the ledgers disagree: $heights"
[ "$(json 'd["height"]' <<<"$heights")" = "$height" ] || fail "unexpected height: $heights"
last_id=$(json 'd["last_block_id"]' <<<"$heights")
ok "a crashed consensus-service is restarted by the entrypoint; all four agree at height $height"

# 4c. The admin gateway serves Prometheus metrics on the published metrics port.
if [ -x "$repo/docker/dist/node-bin/mc-admin-http-gateway" ]; then
  python3 - <<'PY' || fail "no Prometheus metrics on 127.0.0.1:4402/metrics and 4401/metrics"
import urllib.request
for port in (4401, 4402):
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert "# TYPE" in body, body[:200]
PY
  ok "node0's gateway serves /metrics on 127.0.0.1:4401 and :4402"
else
  say "the image has no mc-admin-http-gateway: metrics not checked"
fi

# 4c'. ledger-distribution's metrics are published too (44i3), with the ledger's height
# beside the archive's.
python3 - <<'PY' || fail "no archive metrics on 127.0.0.1:4403/metrics"
import urllib.request
body = urllib.request.urlopen("http://127.0.0.1:4403/metrics", timeout=10).read().decode()
assert "archive_height" in body and "archive_ledger_height" in body and "archive_lag_blocks" in body, body[:300]
PY
ok "node0's ledger-distribution serves /metrics on 127.0.0.1:4403"

# 4d. The optional Prometheus (profile "monitoring") scrapes every node's consensus and
# ledger-distribution metrics, and sees the archives at the ledgers' height.
if docker image inspect "${MCNODE_PROMETHEUS_IMAGE:-mcnode-prometheus:dev}" >/dev/null 2>&1; then
  dc --profile monitoring up -d prometheus >"$net/prometheus-up.log" 2>&1 ||
    { cat "$net/prometheus-up.log" >&2; fail "compose --profile monitoring up failed"; }
  python3 - "$height" <<'PY' || fail "Prometheus on 127.0.0.1:4491 does not see all eight targets up"
import json, sys, time, urllib.parse, urllib.request
height = int(sys.argv[1])
def get(path):
    with urllib.request.urlopen("http://127.0.0.1:4491" + path, timeout=5) as r:
        return json.load(r)["data"]
deadline = time.time() + 60
while True:
    try:
        targets = get("/api/v1/targets")["activeTargets"]
        up = sorted(t["labels"]["instance"] for t in targets if t["health"] == "up")
        q = urllib.parse.quote("min(archive_height)")
        result = get("/api/v1/query?query=" + q)["result"]
        archived = int(float(result[0]["value"][1])) if result else -1
        if len(up) == 8 and archived >= height:
            print(f"up: {up}; min(archive_height) = {archived}", file=sys.stderr)
            break
    except (OSError, ValueError, KeyError) as e:
        up, archived = [], f"error: {e}"
    if time.time() > deadline:
        sys.exit(f"after 60 s: up {up}, min(archive_height) {archived}")
    time.sleep(1)
PY
  ok "Prometheus scrapes all four nodes' consensus and ledger-distribution metrics"
else
  say "no image mcnode-prometheus:dev (no Debian prometheus when it was built): Prometheus not checked"
fi

# 5. Each node's archive in S3 holds every block: rebuild a ledger from it (every block
# verified) until it reaches the height, within 60 s.
set -a
. "$net/s3.env"
set +a
export AWS_ENDPOINT_URL=http://127.0.0.1:4490
for i in 0 1 2 3; do
  deadline=$(($(date +%s) + 60))
  while :; do
    out=$("$mcnode" ledger from-archive --url "s3://mcnode-archive/node$i" --out "$net/from-archive/node$i" 2>&1) ||
      fail "reading node$i's archive: $out"
    got=$(json 'd["height"]' <<<"$out")
    [ "$got" -ge "$height" ] && break
    [ "$(date +%s)" -lt "$deadline" ] || fail "node$i's archive has $got of $height blocks after 60 s"
    sleep 1
  done
  [ "$(json 'd["last_block_id"]' <<<"$out")" = "$last_id" ] || fail "node$i's archive ends elsewhere: $out"
done
ok "each node's S3 archive holds all $height blocks, verified"

# 6. A graceful stop: consensus-service stops first, the container exits 0.
dc stop node2 >/dev/null 2>&1
container=$(dc ps -q node2)
code=$(docker inspect -f '{{.State.ExitCode}}' "$container")
[ "$code" = 0 ] || fail "node2 exited $code after docker stop"
logs=$(docker logs "$container" 2>&1)
line_of() { grep -n -m1 -F "$1" <<<"$logs" | cut -d: -f1; }
c=$(line_of '"message":"consensus-service stopped')
d=$(line_of '"message":"stopping ledger-distribution (SIGTERM)"')
[ -n "$c" ] && [ -n "$d" ] && [ "$c" -lt "$d" ] ||
  fail "node2 did not stop consensus-service before ledger-distribution"
grep -q '"message":"all processes stopped"' <<<"$logs" || fail "node2's entrypoint did not finish stopping"
python3 -c '
import json, sys
for n, line in enumerate(sys.stdin, 1):
    json.loads(line)
' <<<"$logs" || fail "node2 printed a line that is not JSON"
ok "docker stop: consensus-service first, exit status 0, every log line JSON"

say "network up to here: $(($(date +%s) - t_built)) s (build $((t_built - t0)) s)"
