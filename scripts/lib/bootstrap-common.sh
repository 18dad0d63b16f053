# Sourced by scripts/bootstrap*.sh: installing Debian packages and keeping the project's venv, idempotently.
# The caller sets LOG_PREFIX first and runs with `set -euo pipefail`.

log() { printf '%s: %s\n' "${LOG_PREFIX:-bootstrap}" "$*"; }

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
# apt_install PACKAGE...: apt-get update (once per run), then install. With NO_SERVICE_START=1 a policy-rc.d
# answering 101 keeps Debian's postinst scripts from starting the packages' services (redis-server, nginx).
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        apt_updated=1
    fi
    log "apt-get install $*"
    local policy=/usr/sbin/policy-rc.d created_policy=0 rc
    if [ "${NO_SERVICE_START:-0}" = 1 ] && [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        created_policy=1
    fi
    set +e
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
    rc=$?
    set -e
    [ "$created_policy" -eq 1 ] && as_root rm -f "$policy"
    return "$rc"
}

# ensure_debs PACKAGE...: installs the ones dpkg does not list as installed (apt-get only when one is missing).
ensure_debs() {
    local missing=() pkg
    for pkg in "$@"; do
        deb_installed "$pkg" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        apt_install "${missing[@]}"
    else
        log "Debian packages present: $*"
    fi
}

# ensure_venv VENV: a working venv at VENV, made from $PYTHON (default python3); a venv whose interpreter no
# longer runs (the Python it was made from moved or went away) is rebuilt.
ensure_venv() {
    local venv=$1 python=${PYTHON:-python3}
    if ! command -v "$python" >/dev/null 2>&1; then
        apt_install python3 python3-venv
        python=python3
    fi
    if [ -e "$venv" ] && ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
        log "venv at $venv is broken; recreating"
        rm -rf "$venv"
    fi
    if [ ! -x "$venv/bin/python" ]; then
        log "creating venv $venv with $("$python" --version 2>&1)"
        if ! "$python" -m venv "$venv"; then
            # Debian's own python3 needs python3-venv for ensurepip.
            rm -rf "$venv"
            apt_install python3-venv
            "$python" -m venv "$venv"
        fi
    fi
}

# ensure_requirements VENV REQUIREMENTS STAMP [MODULE...]: pip-installs REQUIREMENTS into VENV unless STAMP records
# that file's hash and the venv's Python version already, and every MODULE imports.
ensure_requirements() {
    local venv=$1 requirements=$2 stamp=$3
    shift 3
    local want have imports_ok=1 module
    want="$( (sha256sum "$requirements" | cut -d' ' -f1; "$venv/bin/python" -c 'import sys; print(sys.version)') \
        | sha256sum | cut -d' ' -f1)"
    have="$(cat "$stamp" 2>/dev/null || true)"
    for module in "$@"; do
        "$venv/bin/python" -c "import $module" >/dev/null 2>&1 || imports_ok=0
    done
    if [ "$want" != "$have" ] || [ "$imports_ok" -eq 0 ]; then
        log "installing $requirements into $venv"
        rm -f "$stamp"
        # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: the pip package never downloads a browser by itself; be explicit.
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$venv/bin/python" -m pip install --disable-pip-version-check -q \
            -r "$requirements"
        printf '%s\n' "$want" > "$stamp"
    else
        log "venv up to date for $(basename "$(dirname "$requirements")") ($venv)"
    fi
}
