#!/usr/bin/env bash
# Installs the Debian packages Moonwire builds and tests with, but only those missing,
# so `make run` / `make test` on an already-provisioned machine never touch apt.
#   install-deps.sh          what `make run` needs (build, and npm for docs/getting-started.md)
#   install-deps.sh --test   that plus what only the test suites use
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config curl
  libuv1-dev liblua5.4-dev lua5.4
  lua-cjson lua-cjson-dev
  node-llhttp libssl-dev
)
if [ "${1:-}" = "--test" ]; then
  PKGS+=(
    lua-busted
    chromium fonts-dejavu-core  # client/test/browser.test.mjs: headless page + screenshot
  )
fi

# npm fetches the JS dependencies (the MCP SDK the getting-started guide uses,
# the test suites and the Node 22 they run on); any node/npm already on PATH
# will do, else Debian's.
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
