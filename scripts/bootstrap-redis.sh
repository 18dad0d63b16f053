#!/usr/bin/env bash
# Installs what the Redis adapter and its cluster tests need, idempotently (dpkg check first, apt-get only when
# something is missing): redis-server and nginx (started by Tests/cluster's fixtures on loopback ports they choose,
# never as system services), libhiredis-dev (the client, with its libuv adapter) and libmsgpack-dev (msgpack-c).
# Nothing is started here. The Python side (.venv with python-socketio) comes from scripts/bootstrap.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_PREFIX=bootstrap-redis
source "$ROOT/scripts/lib/bootstrap-common.sh"

# Debian's postinst must not start redis-server / nginx as system services here.
NO_SERVICE_START=1 ensure_debs redis-server nginx libhiredis-dev libmsgpack-dev pkg-config

for tool in redis-server redis-cli nginx; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || { log "missing $tool after install" >&2; exit 1; }
done
