#!/bin/sh
# Container entrypoint: the image binds 0.0.0.0, so the server's
# "loopback bind => local names only" DNS-rebinding defaults no longer apply.
# Restore them for the published port unless the operator chose a list
# (ALLOWED_HOSTS='*' / ALLOWED_ORIGINS='*' accept anything).
set -eu
: "${PORT:=3001}"
: "${ALLOWED_HOSTS:=localhost,127.0.0.1,[::1]}"
: "${ALLOWED_ORIGINS:=http://localhost:${PORT},http://127.0.0.1:${PORT},http://[::1]:${PORT}}"
export PORT ALLOWED_HOSTS ALLOWED_ORIGINS
exec /opt/moonwire/bin/moonwire "$@"
