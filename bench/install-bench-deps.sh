#!/usr/bin/env bash
# Installs what the benchmarks need beyond `make build`: wrk, nginx with nchan and the
# Lua module (the comparison anchors), and the anchors' npm packages (the MCP SDKs and
# the Node 22 they run on). Debian packages are installed only when missing.
set -euo pipefail

cd "$(dirname "$0")/.."

PKGS=(
  wrk curl
  nginx-light libnginx-mod-nchan
  libnginx-mod-http-ndk libnginx-mod-http-lua
  lua-cjson
)
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-bench-deps: installing ${missing[*]}" >&2
  # nginx's postinst starts a system nginx on 0.0.0.0:80. A policy-rc.d answering 101
  # ("action forbidden") makes invoke-rc.d and deb-systemd-invoke skip every start during
  # this install; an existing policy is put back afterwards.
  policy=/usr/sbin/policy-rc.d
  saved=""
  if [ -e "$policy" ]; then
    saved=$(mktemp)
    $SUDO cp -p "$policy" "$saved"
  fi
  restore_policy() {
    if [ -n "$saved" ]; then $SUDO mv "$saved" "$policy"; else $SUDO rm -f "$policy"; fi
  }
  trap restore_policy EXIT
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"

  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  restore_policy
  trap - EXIT
fi

# Whatever the policy, no system nginx may be left serving: the anchors run their own.
if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
  echo "install-bench-deps: stopping the system nginx started by its package" >&2
  $SUDO nginx -s quit 2>/dev/null || $SUDO kill "$(cat /run/nginx.pid)"
fi

# The anchors' JS side, pinned by bench/anchors/package-lock.json.
if [ ! -f bench/anchors/node_modules/.package-lock.json ] ||
   [ bench/anchors/package-lock.json -nt bench/anchors/node_modules/.package-lock.json ]; then
  (cd bench/anchors && npm ci --no-audit --no-fund --loglevel=error)
fi
