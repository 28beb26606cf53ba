#!/bin/sh
# The browser tests drive Debian's Chromium (/usr/bin/chromium) with Playwright; Playwright's own
# browser download is never used. Install it when it is missing (CI runs as root; elsewhere sudo).
set -eu
CHROMIUM="${PERPHEDGE_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "error: $CHROMIUM is missing; install it as root: apt-get install -y chromium" >&2
    exit 1
fi
echo "installing chromium for the browser tests (apt-get) ..." >&2
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium >/dev/null
[ -x "$CHROMIUM" ]
