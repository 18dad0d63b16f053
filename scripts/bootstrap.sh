#!/usr/bin/env bash
# Installs what building and testing this package needs. Idempotent, and quick when everything is present:
#   - Debian packages for the system-library targets (checked with dpkg, apt-get only when one is missing);
#   - a Python venv at $ROOT/.venv with Tests/integration/requirements.txt installed (reinstalled only when
#     that file, or the Python the venv was made from, changes; a stamp file inside .venv records it).
# Environment: PYTHON (default python3) picks the interpreter the venv is created from.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/Tests/integration/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"

DEB_PACKAGES=(libuv1-dev libhttp-parser-dev libssl-dev zlib1g-dev libhiredis-dev libmsgpack-dev pkg-config)

log() { printf 'bootstrap: %s\n' "$*"; }

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

# --- Python venv ------------------------------------------------------------------------------------------------
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    apt_install python3 python3-venv
    PYTHON=python3
fi

# A venv whose interpreter no longer runs (the Python it was made from moved or went away) is rebuilt.
if [ -e "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "venv at $VENV is broken; recreating"
    rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv $VENV with $("$PYTHON" --version 2>&1)"
    if ! "$PYTHON" -m venv "$VENV"; then
        # Debian's own python3 needs python3-venv for ensurepip.
        rm -rf "$VENV"
        apt_install python3-venv
        "$PYTHON" -m venv "$VENV"
    fi
fi

want="$( (sha256sum "$REQUIREMENTS" | cut -d' ' -f1; "$VENV/bin/python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    log "installing $(basename "$REQUIREMENTS") into $VENV"
    rm -f "$STAMP"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQUIREMENTS"
    printf '%s\n' "$want" > "$STAMP"
else
    log "venv up to date ($VENV)"
fi
