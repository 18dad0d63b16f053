"""`pip install` of the package into a fresh virtual environment, then `import sio` there; library lookup."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv

import pytest
from conftest import PACKAGE

LIBRARY = os.environ["SIO_LIBRARY"]
LIBRARY_DIR = os.path.dirname(os.path.realpath(LIBRARY))

SMOKE = """
import pathlib, sio, socket
assert (pathlib.Path(sio.__file__).parent / "py.typed").exists()
with sio.Server() as server:
    server.on("echo", lambda s, x: x)
    port = server.start("127.0.0.1", 0)
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
print("OK", sio.library_version, sio.__file__)
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("pip")
    source = root / "src"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__",
                                                                   ".pytest_cache", "tests"))
    environment = root / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    result = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", str(source)],
                            capture_output=True, text=True, timeout=240)
    if result.returncode != 0 and "setuptools" in result.stderr and (
            "No matching distribution" in result.stderr or "Could not find a version" in result.stderr):
        pytest.skip("the package index is unreachable (pip needs it for setuptools, the build backend)")
    assert result.returncode == 0, result.stdout + result.stderr
    return python


def _run(python, env_changes: dict[str, str | None], code: str = SMOKE) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd="/")


def test_pip_install_then_import(installed):
    result = _run(installed, {"SIO_LIBRARY": LIBRARY})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK ")
    assert str(installed.parent.parent) in result.stdout  # the installed copy, not the source tree


def test_library_found_through_the_loader_path(installed):
    result = _run(installed, {"SIO_LIBRARY": None, "LD_LIBRARY_PATH": LIBRARY_DIR})
    assert result.returncode == 0, result.stderr


def test_clear_error_without_the_library(installed):
    result = _run(installed, {"SIO_LIBRARY": None, "LD_LIBRARY_PATH": None}, "import sio")
    assert result.returncode != 0
    assert "LibraryNotFound" in result.stderr and "SIO_LIBRARY" in result.stderr
    assert "build-libsio.sh" in result.stderr


def test_bad_sio_library_path(installed):
    result = _run(installed, {"SIO_LIBRARY": "/nonexistent/libsio.so"}, "import sio")
    assert result.returncode != 0
    assert "SIO_LIBRARY='/nonexistent/libsio.so' cannot be loaded" in result.stderr


def test_interpreter_exit_with_a_running_server_is_clean():
    # A server left running at exit is stopped by the atexit hook (no hang, no crash during finalization).
    code = ("import sys; sys.path.insert(0, %r)\n" % str(PACKAGE / "src")) + (
        "import sio\n"
        "s = sio.Server()\n"
        "s.on('connection', lambda sock: None)\n"
        "print(s.start('127.0.0.1', 0))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
