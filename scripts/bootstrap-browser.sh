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
VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/Tests/browser/requirements.txt"
STAMP="$VENV/.browser-requirements.sha256"
PYTHON="${PYTHON:-python3}"

DEB_PACKAGES=(chromium fonts-liberation fonts-dejavu-core)

log() { printf 'bootstrap-browser: %s\n' "$*"; }

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

apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        apt_updated=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# --- Debian packages --------------------------------------------------------------------------------------------
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
    deb_installed "$pkg" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
else
    log "Debian packages present: ${DEB_PACKAGES[*]}"
fi
if [ ! -x /usr/bin/chromium ]; then
    log "/usr/bin/chromium missing after installing the chromium package" >&2
    exit 1
fi

# --- Python venv ------------------------------------------------------------------------------------------------
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    apt_install python3 python3-venv
    PYTHON=python3
fi

if [ -e "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "venv at $VENV is broken; recreating"
    rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv $VENV with $("$PYTHON" --version 2>&1)"
    if ! "$PYTHON" -m venv "$VENV"; then
        rm -rf "$VENV"
        apt_install python3-venv
        "$PYTHON" -m venv "$VENV"
    fi
fi

want="$( (sha256sum "$REQUIREMENTS" | cut -d' ' -f1; "$VENV/bin/python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ] || ! "$VENV/bin/python" -c 'import playwright, pytest, pytest_timeout' >/dev/null 2>&1; then
    log "installing $(basename "$(dirname "$REQUIREMENTS")")/$(basename "$REQUIREMENTS") into $VENV"
    rm -f "$STAMP"
    # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: the pip package never downloads a browser by itself, but be explicit.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
        -r "$REQUIREMENTS"
    printf '%s\n' "$want" > "$STAMP"
else
    log "venv up to date for the browser tests ($VENV)"
fi

# --- the official client bundle ---------------------------------------------------------------------------------
bash "$ROOT/scripts/fetch-client-js.sh" >/dev/null
log "client bundle: $ROOT/.cache/client-js/socket.io.min.js"
log "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo '?')"
