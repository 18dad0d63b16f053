"""Fixtures for the observability tests: `sio-bench-server` / `sio-chat` processes with the flags a test asks for,
and a real Prometheus server (Debian's `prometheus`) scraping one of them.

- `start_server(binary="sio-bench-server", args=())`: a server of the test's own on a free loopback port,
  stopped at the end; `$SIO_TEST_LOOPS` adds `--loops N` as in Tests/integration.
- `prometheus`: `Prometheus(target)` starts prometheus with a 1 s scrape interval, its data in a temporary
  directory, and answers PromQL through its HTTP API (`query`, `wait_for`).
Binaries come from $SIO_BIN_DIR (default .build/debug).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


class Server:
    def __init__(self, binary: str, args: list[str]) -> None:
        bin_dir = pathlib.Path(os.environ.get("SIO_BIN_DIR") or ROOT / ".build" / "debug")
        self.port = free_port()
        loops = os.environ.get("SIO_TEST_LOOPS", "").strip()
        cmd = [str(bin_dir / binary), "--host", HOST, "--port", str(self.port), *args]
        if loops and "--loops" not in args:
            cmd += ["--loops", loops]
        self.log = tempfile.NamedTemporaryFile(prefix=f"{binary}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            wait_port(self.port, self.proc)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"{cmd}: {error}\n{self.log_text()}") from None
        self.url = f"http://{HOST}:{self.port}"

    def log_text(self) -> str:
        return pathlib.Path(self.log.name).read_text(errors="replace")

    def metrics(self) -> str:
        response = requests.get(self.url + "/metrics", timeout=5)
        response.raise_for_status()
        return response.text

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


@pytest.fixture
def start_server():
    started: list[Server] = []

    def start(binary: str = "sio-bench-server", args=()) -> Server:
        server = Server(binary, list(args))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class Prometheus:
    """A real Prometheus server scraping `target` (host:port) every second."""

    def __init__(self, target: str, metrics_path: str = "/metrics") -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus not installed (scripts/bootstrap.sh installs Debian's)", pytrace=False)
        self.dir = tempfile.mkdtemp(prefix="sio-prometheus-")
        config = pathlib.Path(self.dir, "prometheus.yml")
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: sio\n"
            f"    metrics_path: {metrics_path}\n    static_configs:\n      - targets: ['{target}']\n")
        self.port = free_port()
        self.log = open(pathlib.Path(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address={HOST}:{self.port}", "--web.enable-lifecycle"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(self.port, self.proc, timeout=30)
        self.api = f"http://{HOST}:{self.port}/api/v1"
        # It listens before its storage is open: queries answer 503 until /-/ready does 200.
        deadline = time.monotonic() + 30
        while requests.get(f"http://{HOST}:{self.port}/-/ready", timeout=5).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"prometheus not ready after 30 s\n{self.log_text()}")
            time.sleep(0.1)

    def query(self, promql: str) -> list[dict]:
        response = requests.get(self.api + "/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def scalar(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, promql: str, predicate, timeout: float = 20.0) -> float | None:
        """Polls `promql` (a query with one series) until `predicate(value)` holds; returns the value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.scalar(promql)
            if value is not None and predicate(value):
                return value
            time.sleep(0.25)
        raise AssertionError(f"{promql}: last value {value} after {timeout} s\n{self.log_text()[-2000:]}")

    def targets_up(self) -> bool:
        response = requests.get(self.api + "/targets", timeout=5).json()
        return any(t["health"] == "up" for t in response["data"]["activeTargets"])

    def log_text(self) -> str:
        return pathlib.Path(self.dir, "prometheus.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def prometheus():
    started: list[Prometheus] = []

    def start(target: str, metrics_path: str = "/metrics") -> Prometheus:
        server = Prometheus(target, metrics_path)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
