#!/usr/bin/env bash
# `make docker-test`: builds docker/Dockerfile with podman (no Docker engine
# needed), runs the image on 127.0.0.1 and checks /healthz, the HEALTHCHECK,
# the non-root user, PORT / SSE_* / DNS-rebinding settings and an MCP
# tools/call; then brings up docker/docker-compose.dev.yml with podman-compose
# and checks that a script written into the bind-mounted examples/ hot-reloads.
#
# All podman configuration and storage live in $MW_DOCKER_STATE (default
# build-docker/, ignored by git); /etc is never edited. Everything the run
# creates (containers, images, networks, temp files) is removed on exit. The
# debootstrap'ed base rootfs is kept as build-docker/bookworm-minbase.tar so a
# second run skips debootstrap (MW_DOCKER_FRESH=1 forces a new one).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${MW_DOCKER_STATE:-$ROOT/build-docker}
BASE_IMAGE=docker.io/library/debian:bookworm-slim
IMAGE=localhost/moonwire:test-$$
CTR=moonwire-test-$$
PROJECT=moonwire-dev-test-$$
CTR_PORT=3101 # not the default 3001, so the check proves PORT is honoured
started=$SECONDS

log() { printf 'docker-test: %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || exec sudo -E "$0" "$@" # podman (rootful) and debootstrap need root

# --- packages ---------------------------------------------------------------
pkgs=(podman runc debootstrap uidmap podman-compose curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- private podman configuration ------------------------------------------
# runc: crun fails here with "cgroups in hybrid mode not supported".
# ulimits: podman's defaults (nofile 1048576) exceed this machine's hard limits.
mkdir -p "$STATE"/{storage,run,networks}
hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = unlimited ] && hard_nofile=1048576
cat >"$STATE/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$hard_nofile:$hard_nofile", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$STATE/run/events.log"
tmp_dir = "$STATE/run/libpod"
static_dir = "$STATE/storage/libpod"
volume_path = "$STATE/storage/volumes"

[network]
network_config_dir = "$STATE/networks"
CONF
cat >"$STATE/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$STATE/storage"
runroot = "$STATE/run/storage"
CONF
export CONTAINERS_CONF=$STATE/containers.conf CONTAINERS_STORAGE_CONF=$STATE/storage.conf

tmp=$(mktemp -d)
made_base=0
cleanup() {
  local rc=$?
  set +e
  if [ -n "${COMPOSE_UP:-}" ]; then
    podman-compose -p "$PROJECT" -f "$ROOT/docker/docker-compose.dev.yml" down >/dev/null 2>&1
  fi
  podman ps -aq --filter "name=$CTR" --filter "name=$PROJECT" | xargs -r podman rm -f >/dev/null 2>&1
  podman network ls -q --filter "name=$PROJECT" | xargs -r podman network rm -f >/dev/null 2>&1
  podman rmi -f "$IMAGE" >/dev/null 2>&1
  [ "$made_base" = 1 ] && podman rmi -f "$BASE_IMAGE" >/dev/null 2>&1
  podman image prune -f >/dev/null 2>&1 # the build stage's leftover layers
  rm -rf "$tmp"
  log "cleaned up; $((SECONDS - started)) s in all"
  [ $rc -eq 0 ] && log "PASS" || log "FAIL (exit $rc)"
  exit $rc
}
trap cleanup EXIT

# --- base image: debootstrap instead of a registry pull --------------------
if ! podman image exists "$BASE_IMAGE"; then
  tarball=$STATE/bookworm-minbase.tar
  if [ ! -s "$tarball" ] || [ -n "${MW_DOCKER_FRESH:-}" ]; then
    log "debootstrap --variant=minbase bookworm"
    rootfs=$STATE/rootfs
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$STATE/debootstrap.log" 2>&1 ||
      fail "debootstrap (see $STATE/debootstrap.log)"
    # The sources of the real debian:bookworm-slim: updates and security too.
    cat >"$rootfs/etc/apt/sources.list" <<'SRC'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SRC
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$rootfs"
  fi
  log "podman import -> $BASE_IMAGE"
  podman import -q --change 'CMD ["bash"]' "$tarball" "$BASE_IMAGE" >/dev/null
  made_base=1
fi

# --- build --------------------------------------------------------------------
log "podman build -f docker/Dockerfile"
t0=$SECONDS
# docker format: the OCI format has no HEALTHCHECK.
podman build --pull=never --format docker -f "$ROOT/docker/Dockerfile" -t "$IMAGE" "$ROOT" >"$tmp/build.log" 2>&1 ||
  { tail -40 "$tmp/build.log" >&2; fail "podman build"; }
log "built $IMAGE in $((SECONDS - t0)) s ($(podman image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_healthz() { # url
  for _ in $(seq 1 100); do
    curl -fsS --max-time 1 "$1/healthz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

mcp() { # url session body -> response body on stdout, headers in $tmp/h
  curl -sS --max-time 10 -D "$tmp/h" "$1/mcp" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H 'MCP-Protocol-Version: 2025-06-18' ${2:+-H "Mcp-Session-Id: $2"} -d "$3"
}

# --- docker run ---------------------------------------------------------------
port=$(free_port)
url=http://127.0.0.1:$port
# No systemd here to run the HEALTHCHECK timer: `podman healthcheck run` below
# runs the image's check once instead.
podman run -d --name "$CTR" --health-interval=disable -p "127.0.0.1:$port:$CTR_PORT" \
  -e PORT=$CTR_PORT -e SSE_RETRY_MS=4321 -e SSE_HEARTBEAT_INTERVAL=1 "$IMAGE" >/dev/null 2>"$tmp/run.err" ||
  { cat "$tmp/run.err" >&2; fail "podman run"; }
wait_healthz "$url" || { podman logs "$CTR" >&2; fail "GET /healthz never answered on $url"; }
log "ok  /healthz: $(curl -fsS "$url/healthz")"

uid=$(podman exec "$CTR" id -u)
[ "$uid" != 0 ] || fail "the server runs as root"
log "ok  runs as uid $uid ($(podman exec "$CTR" id -un))"

podman healthcheck run "$CTR" >/dev/null || fail "HEALTHCHECK failed"
log "ok  HEALTHCHECK ($(podman image inspect -f '{{json .HealthCheck.Test}}' "$IMAGE"))"

code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: attacker.example' "$url/healthz")
[ "$code" = 403 ] || fail "Host: attacker.example got $code, want 403 (DNS-rebinding protection)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Origin: http://localhost:$CTR_PORT" "$url/healthz")
[ "$code" = 200 ] || fail "Origin: http://localhost:$CTR_PORT got $code, want 200"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://attacker.example' "$url/healthz")
[ "$code" = 403 ] || fail "Origin: http://attacker.example got $code, want 403"
log "ok  DNS-rebinding protection: foreign Host/Origin 403, localhost 200"

sse=$(curl -sN --max-time 2.5 "$url/events" || true)
grep -q '^retry: 4321' <<<"$sse" || fail "SSE_RETRY_MS not honoured: $(head -c 300 <<<"$sse")"
grep -q '^: heartbeat' <<<"$sse" || grep -q '^event: tick' <<<"$sse" || fail "no events on /events"
log "ok  PORT=$CTR_PORT and SSE_RETRY_MS honoured (retry: 4321 on /events)"

init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"docker-test","version":"0"}}}'
mcp "$url" "" "$init" >"$tmp/init" || fail "initialize"
sid=$(tr -d '\r' <"$tmp/h" | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
[ -n "$sid" ] || fail "initialize gave no Mcp-Session-Id: $(cat "$tmp/h" "$tmp/init")"
mcp "$url" "$sid" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
out=$(mcp "$url" "$sid" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":40}}}')
grep -q '"text":"42"' <<<"$out" || fail "tools/call add(2, 40): $out"
log "ok  MCP initialize -> session $sid -> tools/call add(2, 40) = \"42\""
podman rm -f "$CTR" >/dev/null 2>&1

# --- podman-compose: docker/docker-compose.dev.yml ---------------------------
# A temp copy of examples/ is bind-mounted, so the repository is never edited.
cp -a "$ROOT/examples" "$tmp/examples"
chmod 755 "$tmp" # the container's non-root user reads the bind mount
cp "$ROOT/.env.example" "$tmp/.env"
export MOONWIRE_IMAGE=$IMAGE MOONWIRE_EXAMPLES_DIR=$tmp/examples MOONWIRE_ENV_FILE=$tmp/.env
export MOONWIRE_DEV_PORT; MOONWIRE_DEV_PORT=$(free_port)
durl=http://127.0.0.1:$MOONWIRE_DEV_PORT
COMPOSE_UP=1
podman-compose -p "$PROJECT" -f "$ROOT/docker/docker-compose.dev.yml" up -d --no-build >"$tmp/compose.log" 2>&1 ||
  { cat "$tmp/compose.log" >&2; fail "podman-compose up"; }
wait_healthz "$durl" || { cat "$tmp/compose.log" >&2; fail "compose: /healthz never answered on $durl"; }
log "ok  podman-compose up: /healthz on $durl"

code=$(curl -s -o /dev/null -w '%{http_code}' "$durl/docker-probe")
[ "$code" = 404 ] || fail "/docker-probe exists before the edit ($code)"
token=reloaded-$$-$RANDOM
cat >"$tmp/examples/hello/docker_probe.lua" <<LUA
local mw = require "moonwire"
mw.route { method = "GET", path = "/docker-probe", handler = function() return "$token" end }
LUA
t0=$(date +%s%N)
for _ in $(seq 1 100); do
  [ "$(curl -s --max-time 1 "$durl/docker-probe")" = "$token" ] && break
  sleep 0.1
done
[ "$(curl -s --max-time 1 "$durl/docker-probe")" = "$token" ] ||
  { podman-compose -p "$PROJECT" -f "$ROOT/docker/docker-compose.dev.yml" logs >&2 2>&1; fail "no hot reload of the bind-mounted examples/"; }
log "ok  hot reload: a script written on the host served in the container after $((($(date +%s%N) - t0) / 1000000)) ms"

podman-compose -p "$PROJECT" -f "$ROOT/docker/docker-compose.dev.yml" down >/dev/null 2>&1 || fail "podman-compose down"
COMPOSE_UP=
log "ok  podman-compose down"
