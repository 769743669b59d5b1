#!/usr/bin/env bash
# Installs the Debian packages Moonwire builds and tests with, but only those missing,
# so `make run` / `make test` on an already-provisioned machine never touch apt.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config curl
  libuv1-dev liblua5.4-dev lua5.4
  lua-cjson lua-cjson-dev lua-busted
  node-llhttp libssl-dev
  chromium fonts-dejavu-core  # client/test/browser.test.mjs: headless page + screenshot
)

# npm fetches the JS test dependencies (including the Node 22 they run on);
# any node/npm already on PATH will do, else Debian's.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
