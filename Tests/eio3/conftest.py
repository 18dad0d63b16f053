"""Fixtures for the Engine.IO v3 tests: `sio-protocol-server --allow-eio3` on a free loopback port.

The process handling is the integration suite's (Tests/integration/conftest.py: `ServerProcess`, the log lines
of a failed test in its report), loaded from there; only the command line differs.

- `server`: one `--allow-eio3` process for the whole session (restarted if a test killed it; that test fails);
- `start_server(*args)`: a process of the test's own with these arguments (e.g. none, to see v3 refused, or
  `--loops 2`), stopped afterwards.
"""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

_INTEGRATION = pathlib.Path(__file__).resolve().parents[1] / "integration" / "conftest.py"
_spec = importlib.util.spec_from_file_location("integration_conftest", _INTEGRATION)
integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(integration)

ServerProcess = integration.ServerProcess
ALLOW = ["--allow-eio3"]

# The integration suite's report hook: a failed test shows its servers' log lines.
pytest_runtest_makereport = integration.pytest_runtest_makereport


@pytest.fixture(scope="session")
def _session_server():
    srv = ServerProcess("eio3-session", extra_args=ALLOW).start()
    yield srv
    srv.stop()


@pytest.fixture
def server(request, _session_server):
    if not _session_server.alive():
        _session_server.restart()
    integration._watch(request, _session_server, "shared --allow-eio3 server")
    since = _session_server.log_size()
    yield _session_server
    integration._assert_survived(_session_server, since)


@pytest.fixture
def start_server(request):
    started: list[ServerProcess] = []

    def start(*args: str, port: int = 0) -> ServerProcess:
        srv = ServerProcess(f"{request.node.name[:30]}-{len(started)}", extra_args=args, port=port).start()
        integration._watch(request, srv, f"own server {' '.join(args) or '(no arguments)'}")
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()
