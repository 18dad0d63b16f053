#!/usr/bin/env bash
# Installs what the resilience scenarios' official-client driver needs (Benchmarks/resilience/official_client.js,
# used by Benchmarks/run.py and Tests/resilience), idempotently: Node.js and node-ws (Debian's `ws`, the WebSocket
# the driver gives the official client on a Node without one of its own: Debian 12's Node 18), and the official
# client bundle socket.io.min.js (scripts/fetch-client-js.sh). Nothing is started here.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_PREFIX=bootstrap-node
source "$ROOT/scripts/lib/bootstrap-common.sh"

ensure_debs nodejs node-ws
command -v node >/dev/null 2>&1 || { log "missing node after install" >&2; exit 1; }
bash "$ROOT/scripts/fetch-client-js.sh" >/dev/null
