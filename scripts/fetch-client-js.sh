#!/usr/bin/env bash
# Obtains the official Socket.IO browser client, socket.io-client 4.8.1 `socket.io.min.js`, which `sio-chat`
# serves at /socket.io/socket.io.js. The file is never committed: this script fetches it at set-up.
#
#   scripts/fetch-client-js.sh [DEST_DIR]        (default: $ROOT/.cache/client-js)
#
# Sources, in order (the first one whose file has the expected sha256 wins):
#   1. npm:  `npm pack socket.io-client@4.8.1` -> package/dist/socket.io.min.js (+ .map). Short timeout, no
#            retries, so that a machine without the npm registry falls through quickly.
#   2. PyPI: the wheel nicegui==3.18.0 (`pip download --no-deps`) ships the very same file at
#            nicegui/static/socket.io.min.js (no source map).
# Writes DEST_DIR/socket.io.min.js (and socket.io.min.js.map when the source has it), prints the path of the
# .js file on stdout (log lines go to stderr). Idempotent: nothing is downloaded when the file is already there
# with the right hash. Exits non-zero if no source delivers the expected file.
# Environment: PYTHON (default python3, falling back to $ROOT/.venv/bin/python) runs pip;
#              NPM_TIMEOUT (seconds, default 20) bounds the npm attempt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/.cache/client-js}"

VERSION="4.8.1"
SHA256="b0e735814f8dcfecd6cdb8a7ce95a297a7e1e5f2727a29e6f5901801d52fa0c5"
WHEEL_SPEC="nicegui==3.18.0"
WHEEL_MEMBER="nicegui/static/socket.io.min.js"
NPM_TIMEOUT="${NPM_TIMEOUT:-20}"
FILE="socket.io.min.js"

log() { printf 'fetch-client-js: %s\n' "$*" >&2; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
TARGET="$DEST/$FILE"

if [ -f "$TARGET" ] && [ "$(sha_of "$TARGET")" = "$SHA256" ]; then
    log "present: $TARGET (socket.io-client $VERSION, sha256 ok)"
    printf '%s\n' "$TARGET"
    exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Moves a candidate into place if its hash is right; returns non-zero otherwise.
install_candidate() {
    local js="$1" map="${2:-}" source="$3" got
    if [ ! -s "$js" ]; then
        log "$source: no $FILE in the package"
        return 1
    fi
    got="$(sha_of "$js")"
    if [ "$got" != "$SHA256" ]; then
        log "$source: sha256 mismatch (got $got, want $SHA256); not used"
        return 1
    fi
    cp "$js" "$DEST/.$FILE.tmp"
    mv -f "$DEST/.$FILE.tmp" "$TARGET"
    if [ -n "$map" ] && [ -s "$map" ]; then
        cp "$map" "$DEST/.$FILE.map.tmp"
        mv -f "$DEST/.$FILE.map.tmp" "$TARGET.map"
    fi
    log "installed $TARGET from $source (sha256 ok)"
    return 0
}

try_npm() {
    if ! command -v npm >/dev/null 2>&1; then
        log "npm: not installed; skipping"
        return 1
    fi
    log "npm: npm pack socket.io-client@$VERSION (timeout ${NPM_TIMEOUT}s)"
    local dir="$WORK/npm" tgz
    mkdir -p "$dir"
    if ! (cd "$dir" && timeout "$NPM_TIMEOUT" npm pack "socket.io-client@$VERSION" \
            --loglevel=error --fetch-retries=0 --fetch-timeout=10000 --no-audit --no-fund >/dev/null 2>"$dir/err"); then
        log "npm: failed ($(grep -m1 -i 'error' "$dir/err" 2>/dev/null | cut -c1-200)); falling back"
        return 1
    fi
    tgz="$(ls "$dir"/socket.io-client-*.tgz 2>/dev/null | head -n 1)"
    [ -n "$tgz" ] || { log "npm: no tarball produced"; return 1; }
    tar -xzf "$tgz" -C "$dir" package/dist/ 2>/dev/null || { log "npm: tarball has no dist/"; return 1; }
    install_candidate "$dir/package/dist/$FILE" "$dir/package/dist/$FILE.map" "npm socket.io-client@$VERSION"
}

pick_python() {
    local py
    for py in "${PYTHON:-python3}" "$ROOT/.venv/bin/python"; do
        if command -v "$py" >/dev/null 2>&1 && "$py" -m pip --version >/dev/null 2>&1; then
            printf '%s\n' "$py"
            return 0
        fi
    done
    return 1
}

try_pypi() {
    local py dir="$WORK/pypi" whl
    if ! py="$(pick_python)"; then
        log "pypi: no python with pip found; skipping"
        return 1
    fi
    mkdir -p "$dir"
    log "pypi: $py -m pip download --no-deps $WHEEL_SPEC"
    if ! timeout 300 "$py" -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -q \
            -d "$dir" "$WHEEL_SPEC" >&2; then
        log "pypi: pip download failed"
        return 1
    fi
    whl="$(ls "$dir"/*.whl 2>/dev/null | head -n 1)"
    [ -n "$whl" ] || { log "pypi: no wheel downloaded"; return 1; }
    "$py" - "$whl" "$WHEEL_MEMBER" "$dir/out" <<'EOF' || { log "pypi: extraction failed"; return 1; }
import os, sys, zipfile
wheel, member, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    names = set(z.namelist())
    for name in (member, member + ".map"):
        if name in names:
            with open(os.path.join(out, os.path.basename(name)), "wb") as f:
                f.write(z.read(name))
    if member not in names:
        sys.exit("no %s in %s" % (member, os.path.basename(wheel)))
EOF
    install_candidate "$dir/out/$FILE" "$dir/out/$FILE.map" "PyPI $WHEEL_SPEC"
}

if try_npm || try_pypi; then
    printf '%s\n' "$TARGET"
    exit 0
fi
log "could not obtain socket.io-client $VERSION $FILE with sha256 $SHA256"
exit 1
