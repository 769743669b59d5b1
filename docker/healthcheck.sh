#!/bin/bash
# HEALTHCHECK probe: GET /healthz over bash's /dev/tcp (no curl in the image).
# Healthy when the server answers 200.
exec 3<>"/dev/tcp/127.0.0.1/${PORT:-3001}" || exit 1
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 2 status <&3 || exit 1
[[ $status == "HTTP/1.1 200"* ]]
