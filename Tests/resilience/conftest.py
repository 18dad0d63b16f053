"""Fixtures for the resilience tests (issue 17): the scenarios of Benchmarks/resilience at a small size, against
our sio-bench-server ($SIO_BIN_DIR/sio-bench-server, default .build/debug), asserting behaviour, never timings.

- `rt`: Benchmarks/run.py as a module (process helpers, the load generator, built here with cc); the fd limit
  raised to the hard limit; everything it started is stopped after each test.
- `ours`: the server column (kind "ours", one loop), as run.py describes it.
- `venv_py`: the benchmarks' venv (Benchmarks/.venv, made by run.py from Benchmarks/requirements.txt): python-socketio
  with aiohttp, for the churn clients.
- `logdir`: where servers and drivers write their logs (the test's tmp_path); printed on failure.

Needs Node.js (20+, or 18 with Debian's node-ws) and the client bundle: scripts/bootstrap-node.sh.
"""
from __future__ import annotations

import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Benchmarks"))

import run as runner  # noqa: E402  (Benchmarks/run.py)


@pytest.fixture
def rt():
    runner.raise_fd_limit()
    runner.build_loadgen()
    yield runner
    runner.stop_all()


@pytest.fixture
def ours():
    bin_dir = pathlib.Path(os.environ.get("SIO_BIN_DIR") or ROOT / ".build" / "debug")
    binary = bin_dir / "sio-bench-server"
    if not binary.exists():
        pytest.fail(f"{binary} is not built (swift build --product sio-bench-server)")
    return {"kind": "ours", "bin": str(binary), "loops": 1, "balancing": "reuseport"}


@pytest.fixture(scope="session")
def venv_py():
    return runner.ensure_venv()


@pytest.fixture
def logdir(tmp_path, request):
    yield str(tmp_path)
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for f in sorted(tmp_path.iterdir()):
            text = f.read_text(errors="replace")
            print(f"==== {f.name} (last 3000 characters)\n{text[-3000:]}")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
