#!/usr/bin/env bash
# Installs what the Redis adapter and its cluster tests need, idempotently (dpkg check first, apt-get only when
# something is missing): redis-server and nginx (started by Tests/cluster's fixtures on loopback ports they choose,
# never as system services), libhiredis-dev (the client, with its libuv adapter) and libmsgpack-dev (msgpack-c).
# Nothing is started here. The Python side (.venv with python-socketio) comes from scripts/bootstrap.sh.
set -euo pipefail

DEB_PACKAGES=(redis-server nginx libhiredis-dev libmsgpack-dev pkg-config)

log() { printf 'bootstrap-redis: %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "need root to run: $*" >&2
        return 1
    fi
}

deb_installed() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
    deb_installed "$pkg" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    log "apt-get install ${missing[*]}"
    # policy-rc.d 101: Debian's postinst must not start redis-server / nginx as system services here.
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        created_policy=1
    fi
    set +e
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    rc=$?
    set -e
    [ "$created_policy" -eq 1 ] && as_root rm -f "$policy"
    [ "$rc" -eq 0 ] || exit "$rc"
else
    log "Debian packages present: ${DEB_PACKAGES[*]}"
fi

for tool in redis-server redis-cli nginx; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || { log "missing $tool after install" >&2; exit 1; }
done
