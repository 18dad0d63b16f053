#!/usr/bin/env bash
# Installs what scripts/build-wheel.sh and scripts/build-package.sh need. Idempotent, quick when present:
#   - Debian: patchelf (auditwheel runs it), binutils (strip, readelf), pkg-config, a C compiler (the tests);
#   - a venv at $ROOT/.venv-packaging with Tests/packaging/requirements.txt (auditwheel, build, setuptools, wheel,
#     pinned), kept apart from the test clients' .venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_PREFIX=bootstrap-packaging
source "$ROOT/scripts/lib/bootstrap-common.sh"

ensure_debs patchelf binutils pkg-config gcc libc6-dev
ensure_venv "$ROOT/.venv-packaging"
ensure_requirements "$ROOT/.venv-packaging" "$ROOT/Tests/packaging/requirements.txt" \
    "$ROOT/.venv-packaging/.requirements.sha256" auditwheel build setuptools wheel
