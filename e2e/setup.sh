#!/usr/bin/env bash
# Installs what `make e2e` needs and the test does not install itself:
# Debian's Chromium (the npm packages are installed by the test, with
# `npm ci`, as the guides say). Node.js and npm must be on PATH.
set -euo pipefail

log() { echo "e2e: $*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi
}

if [ -n "${CHROMIUM:-}" ]; then
	[ -x "$CHROMIUM" ] || { log "CHROMIUM=$CHROMIUM is not executable"; exit 1; }
elif ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && ! command -v google-chrome >/dev/null; then
	log "installing Debian's chromium"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation >/dev/null
fi
for tool in node npm; do
	command -v "$tool" >/dev/null || { log "$tool is required (Node.js 18 or later)"; exit 1; }
done
