#!/usr/bin/env bash
# Runs every test, installing what it needs first (Debian packages, .venv, Chromium, the client bundle):
#   Swift unit tests · Engine.IO and Socket.IO integration tests with the real python-engineio / python-socketio
#   clients (one event loop, then 2 and 3) · Engine.IO v3 / Socket.IO 2.x clients (allowEIO3, JSONP) from their
#   own venv · the C ABI (C programs against the installed libsio.so, valgrind) · the C++ API (sio.hpp programs
#   under ASan/UBSan) · HTTPS and WSS (test certificates from the openssl CLI; python clients, refused handshakes,
#   reload, 2 loops) · Prometheus metrics scraped by a real Prometheus and the admin UI's server side driven by
#   python-socketio clients acting as the UI (Tests/observability) · the Python binding · the wheel and the C package, installed and run where the toolchain and
#   the build tree are hidden (Tests/packaging) · the official browser client in headless Chromium · a cluster of
#   nodes over Redis behind nginx · the resilience scenarios at a small size · a short fuzz run of every decoder.
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
bash scripts/bootstrap-eio3.sh
bash scripts/bootstrap-redis.sh
bash scripts/bootstrap-browser.sh
bash scripts/bootstrap-packaging.sh
bash scripts/bootstrap-node.sh

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

section "Engine.IO v3 and Socket.IO 2.x clients, JSONP (Tests/eio3, .venv-eio3)"
run "Engine.IO v3 tests" "$ROOT/.venv-eio3/bin/pytest" Tests/eio3

section "HTTPS and WSS (Tests/tls)"
run "TLS tests" "$PYTEST" Tests/tls

section "observability: Prometheus metrics and the admin UI's server side (Tests/observability)"
run "observability tests" "$PYTEST" Tests/observability
run "observability tests (2 loops)" env SIO_TEST_LOOPS=2 "$PYTEST" Tests/observability

section "C ABI (Tests/c)"
run "C ABI tests" "$PYTEST" Tests/c

section "C++ API (Tests/cpp: sio.hpp, ASan/UBSan)"
run "C++ API tests" "$PYTEST" Tests/cpp

section "Python binding (bindings/python/tests)"
run "Python binding tests" "$PYTEST" bindings/python/tests

# scripts/build-wheel.sh and scripts/build-package.sh from the library just built, each installed into a temporary
# place and run with real clients in a mount namespace without the repository, the Swift toolchain and the -dev
# files (about a minute).
section "packaging: the wheel and the C package without the toolchain (Tests/packaging)"
run "packaging tests" "$PYTEST" Tests/packaging

section "browser end to end (Tests/browser)"
run "browser tests" "$PYTEST" Tests/browser

section "cluster over Redis and behind nginx (Tests/cluster)"
run "cluster tests" "$PYTEST" Tests/cluster

# The resilience scenarios of Benchmarks/resilience at a small size (issue 17): transports cut again and again
# with recovery on and off, a SIGKILL and restart under 200 official clients, a churn of short-lived clients,
# clients that stop reading. Behaviour only, never timings (about 3 minutes).
section "resilience: jitter, restart storm, churn, slow consumers (Tests/resilience)"
run "resilience tests" "$PYTEST" Tests/resilience

section "fuzz: every past finding, then a short reproducible run of each harness (Fuzz)"
run "fuzz regressions and smoke" make -C Fuzz regress smoke

section "summary"
if [ "${#failed[@]}" -gt 0 ]; then
    printf 'test.sh: FAILED: %s\n' "${failed[*]}"
    exit 1
fi
echo "test.sh: all steps succeeded"
