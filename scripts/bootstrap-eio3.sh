#!/usr/bin/env bash
# Installs the Engine.IO v3 clients for Tests/eio3 into their own venv, $ROOT/.venv-eio3: python-socketio 4.x and
# python-engineio 3.x (Socket.IO 2.x / Engine.IO v3 clients) conflict with the v5 pins of .venv. Idempotent, and
# quick when the stamp inside the venv says Tests/eio3/requirements.txt is installed.
# Environment: PYTHON (default python3) picks the interpreter the venv is created from.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_PREFIX=bootstrap-eio3
source "$ROOT/scripts/lib/bootstrap-common.sh"

ensure_venv "$ROOT/.venv-eio3"
ensure_requirements "$ROOT/.venv-eio3" "$ROOT/Tests/eio3/requirements.txt" "$ROOT/.venv-eio3/.requirements.sha256" \
    socketio engineio
