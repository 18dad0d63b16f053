"""Fixtures of the cluster tests (helpers and the process classes are in cluster_util.py): `tools` (redis-server
and nginx, installed by scripts/bootstrap-redis.sh when missing), `node_binary` (sio-cluster-node from
$SIO_BIN_DIR or .build/debug), `clients` (python-socketio clients closed at the end of each test), `redis` (a
redis-server of the test's own) and `raw` (streams_util.RawClient connections closed at the end). A failed test
shows the logs of the processes still running."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

from cluster_util import ROOT, Client, Nginx, RedisServer, _live, tool
from streams_util import RawClient


@pytest.fixture(scope="session")
def tools() -> dict:
    """Installs redis-server and nginx if missing (idempotent, quick when present)."""
    if not (shutil.which("redis-server") and (shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK))):
        subprocess.run(["bash", str(ROOT / "scripts" / "bootstrap-redis.sh")], check=True)
    return {"redis-server": tool("redis-server"), "nginx": tool("nginx")}


@pytest.fixture(scope="session")
def node_binary() -> str:
    bin_dir = pathlib.Path(os.environ.get("SIO_BIN_DIR") or ROOT / ".build" / "debug")
    binary = bin_dir / "sio-cluster-node"
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} not found: swift build --product sio-cluster-node (or set SIO_BIN_DIR)", pytrace=False)
    return str(binary)


@pytest.fixture
def redis(tools):
    """A redis-server of its own for the test (test files may define their own)."""
    server = RedisServer(tools["redis-server"]).start()
    yield server
    server.cleanup()


@pytest.fixture
def raw():
    """raw(port, auth=None, label="") -> a RawClient closed at the end; raw.track(client) adopts one."""
    made: list[RawClient] = []

    def connect(port, auth=None, label=""):
        client = RawClient(port, auth=auth, label=label)
        made.append(client)
        return client

    def track(client):
        made.append(client)
        return client

    connect.track = track
    yield connect
    for client in made:
        client.close()


@pytest.fixture
def clients():
    """Clients made by a test, all disconnected at its end."""
    made: list[Client] = []

    def make(url: str, transports: list[str] | None = None, namespace: str = "/", label: str = "") -> Client:
        client = Client(url, transports=transports, namespace=namespace, label=label)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for process in list(_live):
            text = process.log_text()[-4000:]
            process.keep_log = True
            if text:
                report.sections.append((f"log of {process.label}", text))
            if isinstance(process, Nginx):
                report.sections.append(("nginx error.log", process.error_log()[-4000:]))
