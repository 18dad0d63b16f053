#!/usr/bin/env bash
# Runs every test: bootstrap, swift build (debug, all products), swift test (unit tests), then the pytest
# integration suite (Tests/integration) against the freshly built binaries.
# Extra arguments are passed to pytest, e.g.  scripts/test.sh -k handshake -x
# Exits non-zero if any step fails; pytest's "no tests collected" (exit 5) counts as a failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

section() { printf '\n======== %s ========\n' "$*"; }

section "bootstrap"
bash "$ROOT/scripts/bootstrap.sh"

section "swift build (debug)"
swift build

failed=()

section "swift test (unit tests)"
swift_test_log="$(mktemp)"
trap 'rm -f "$swift_test_log"' EXIT
set +e
swift test 2>&1 | tee "$swift_test_log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
    if grep -qi 'no tests found' "$swift_test_log"; then
        echo "test.sh: swift test found no unit tests (not a failure yet)"
    else
        echo "test.sh: swift test FAILED (exit $rc)"
        failed+=("swift test")
    fi
fi

section "integration tests (pytest, Tests/integration)"
SIO_BIN_DIR="$(swift build --show-bin-path)"
export SIO_BIN_DIR
echo "SIO_BIN_DIR=$SIO_BIN_DIR"
set +e
"$ROOT/.venv/bin/pytest" "$ROOT/Tests/integration" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests (exit 5), counted as a failure"
    failed+=("pytest (no tests collected)")
elif [ "$rc" -ne 0 ]; then
    echo "test.sh: pytest FAILED (exit $rc)"
    failed+=("pytest")
fi

section "summary"
if [ "${#failed[@]}" -gt 0 ]; then
    printf 'test.sh: FAILED: %s\n' "${failed[*]}"
    exit 1
fi
echo "test.sh: all steps succeeded"
