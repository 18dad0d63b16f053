#!/usr/bin/env bash
# Installs what the browser end-to-end tests (Tests/browser) need. Idempotent, and quick when all is present:
#   - Debian `chromium` (the tests drive /usr/bin/chromium; Playwright never downloads a browser) and fonts
#     for readable screenshots; `apt-get update` runs only when something is missing;
#   - a Python venv at $ROOT/.venv (created if missing) with Tests/browser/requirements.txt installed
#     (reinstalled only when that file, or the venv's Python, changes; a stamp file inside .venv records it);
#   - the official client bundle socket.io-client 4.8.1, via scripts/fetch-client-js.sh (into .cache/client-js).
# Environment: PYTHON (default python3) picks the interpreter a new venv is created from.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_PREFIX=bootstrap-browser
source "$ROOT/scripts/lib/bootstrap-common.sh"

ensure_debs chromium fonts-liberation fonts-dejavu-core
if [ ! -x /usr/bin/chromium ]; then
    log "/usr/bin/chromium missing after installing the chromium package" >&2
    exit 1
fi

ensure_venv "$ROOT/.venv"
ensure_requirements "$ROOT/.venv" "$ROOT/Tests/browser/requirements.txt" "$ROOT/.venv/.browser-requirements.sha256" \
    playwright pytest pytest_timeout

bash "$ROOT/scripts/fetch-client-js.sh" >/dev/null
log "client bundle: $ROOT/.cache/client-js/socket.io.min.js"
log "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo '?')"
