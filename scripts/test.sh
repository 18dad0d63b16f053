#!/usr/bin/env bash
# Runs every test, installing what it needs first (Debian packages, .venv, Chromium, the client bundle):
#   Swift unit tests · Engine.IO and Socket.IO integration tests with the real python-engineio / python-socketio
#   clients (one event loop, then 2 and 3) · HTTPS and WSS (test certificates from the openssl CLI; python clients,
#   refused handshakes, reload, 2 loops) · the C ABI (C programs against the installed libsio.so, valgrind) ·
#   the Python binding · the official browser client in headless Chromium · a cluster of nodes over Redis behind
#   nginx · a short fuzz run of every decoder.
# Extra arguments go to the integration pytest runs, e.g.  scripts/test.sh -k handshake -x
# Exits non-zero if any step fails; a pytest run that collects no tests (exit 5) counts as a failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTEST="$ROOT/.venv/bin/pytest"

section() { printf '\n======== %s ========\n' "$*"; }
failed=()

# run NAME COMMAND...: runs a step, records a failure without stopping the others.
run() {
    local name="$1"
    shift
    set +e
    "$@"
    local rc=$?
    set -e
    if [ "$rc" -eq 5 ]; then
        echo "test.sh: $name collected no tests (exit 5), counted as a failure"
        failed+=("$name (no tests)")
    elif [ "$rc" -ne 0 ]; then
        echo "test.sh: $name FAILED (exit $rc)"
        failed+=("$name")
    fi
}

section "bootstrap"
bash scripts/bootstrap.sh
bash scripts/bootstrap-redis.sh
bash scripts/bootstrap-browser.sh

section "swift build (debug, with tests)"
swift build --build-tests

section "swift test (unit tests)"
run "swift test" swift test --skip-build

section "libsio.so (release, static Swift runtime)"
bash scripts/build-libsio.sh

SIO_BIN_DIR="$(swift build --show-bin-path)"
export SIO_BIN_DIR
export SIO_LIB_DIR="$ROOT/build/lib"
export SIO_LIBRARY="$ROOT/build/lib/libsio.so"

section "integration tests: Engine.IO and Socket.IO (Tests/integration)"
run "integration tests" "$PYTEST" Tests/integration "$@"

# The same suite against servers with several event loops on one port (--loops N, issue 12): sessions, upgrades,
# rooms and acks then cross loops. A whole run takes about a minute (debug build, 2 cores), so both passes run
# everything.
section "integration tests with 2 event loops (SIO_TEST_LOOPS=2)"
run "integration tests (2 loops)" env SIO_TEST_LOOPS=2 "$PYTEST" Tests/integration "$@"

section "integration tests with 3 event loops (SIO_TEST_LOOPS=3)"
run "integration tests (3 loops)" env SIO_TEST_LOOPS=3 "$PYTEST" Tests/integration "$@"

section "HTTPS and WSS (Tests/tls)"
run "TLS tests" "$PYTEST" Tests/tls

section "C ABI (Tests/c)"
run "C ABI tests" "$PYTEST" Tests/c

section "Python binding (bindings/python/tests)"
run "Python binding tests" "$PYTEST" bindings/python/tests

section "browser end to end (Tests/browser)"
run "browser tests" "$PYTEST" Tests/browser

section "cluster over Redis and behind nginx (Tests/cluster)"
run "cluster tests" "$PYTEST" Tests/cluster

section "fuzz: every past finding, then a short reproducible run of each harness (Fuzz)"
run "fuzz regressions and smoke" make -C Fuzz regress smoke

section "summary"
if [ "${#failed[@]}" -gt 0 ]; then
    printf 'test.sh: FAILED: %s\n' "${failed[*]}"
    exit 1
fi
echo "test.sh: all steps succeeded"
