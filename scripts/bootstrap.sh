#!/usr/bin/env bash
# Installs what building and testing this package needs. Idempotent, and quick when everything is present:
#   - Debian packages for the system-library targets (checked with dpkg, apt-get only when one is missing);
#   - a Python venv at $ROOT/.venv with Tests/integration/requirements.txt installed (reinstalled only when
#     that file, or the Python the venv was made from, changes; a stamp file inside .venv records it).
# Environment: PYTHON (default python3) picks the interpreter the venv is created from.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_PREFIX=bootstrap
source "$ROOT/scripts/lib/bootstrap-common.sh"

# valgrind: the C ABI tests run the C programs under it (scripts/test.sh); without it they would be skipped.
# libcrypt-dev: crypt_r verifies the admin UI's bcrypt password hash; prometheus (and promtool): Tests/observability.
ensure_debs libuv1-dev libhttp-parser-dev libssl-dev zlib1g-dev libhiredis-dev libmsgpack-dev pkg-config valgrind \
    libcrypt-dev prometheus
ensure_venv "$ROOT/.venv"
ensure_requirements "$ROOT/.venv" "$ROOT/Tests/integration/requirements.txt" "$ROOT/.venv/.requirements.sha256"
