"""Fixtures for the packaging tests: the wheel and the C package as a user gets them, a machine state without the
Swift toolchain, the build tree or the -dev packages, and real python-socketio clients.

"Without" is made, not assumed: `hidden(...)` runs a command in a private mount namespace (`unshare -m`, root) where
the repository (build tree, .build*, build/lib, .venv), the Swift toolchain's folder and every regular file of the
-dev packages (headers, .pc files, static archives) are covered (a tmpfs over a folder, /dev/null over a file),
and, for the wheel, also the system's copies of the libraries the wheel bundles (libuv, libcrypto, ...). Nothing
outside that namespace changes. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import pathlib
import queue
import re
import shutil
import signal
import socket
import subprocess
import time
import venv
from typing import Any, Iterator

import pytest
import socketio

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
HOST = "127.0.0.1"
HEADER = ROOT / "Include" / "sio.h"
VERSION = re.search(r'^#define SIO_VERSION_STRING "(.+)"$', HEADER.read_text(), re.M).group(1)
MAJOR = re.search(r"^#define SIO_VERSION_MAJOR (\d+)$", HEADER.read_text(), re.M).group(1)
LIB_DIR = pathlib.Path(os.environ.get("SIO_LIB_DIR") or ROOT / "build" / "lib").resolve()
PACKAGING_PYTHON = ROOT / ".venv-packaging" / "bin" / "python"
# The -dev packages libsio is built with (scripts/bootstrap.sh, scripts/bootstrap-redis.sh).
DEV_PACKAGES = ["libuv1-dev", "libhttp-parser-dev", "libssl-dev", "zlib1g-dev", "libhiredis-dev", "libmsgpack-dev"]
# Variables that could lead a program to the build tree or to another libsio.
LEAKY_VARIABLES = ["SIO_LIBRARY", "SIO_LIB_DIR", "SIO_BIN_DIR", "LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONPATH",
                   "PYTHONHOME", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "VIRTUAL_ENV", "LIBRARY_PATH", "CPATH",
                   "C_INCLUDE_PATH"]


def run(cmd, *, env=None, cwd=None, timeout=600, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}", pytrace=False)
    return proc


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: none of the variables above, no project venv or toolchain on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_VARIABLES}
    drop = {str(ROOT / ".venv" / "bin"), str(ROOT / ".venv-packaging" / "bin")}
    toolchain = swift_toolchain()
    path = [p for p in env.get("PATH", "/usr/bin:/bin").split(":")
            if p and p not in drop and not (toolchain and p.startswith(str(toolchain) + "/"))]
    env["PATH"] = ":".join(path)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---- a machine state without the toolchain ---------------------------------------------------------------------------


def swift_toolchain() -> pathlib.Path | None:
    """The folder of the Swift toolchain (e.g. /opt/swift for /opt/swift/usr/bin/swift), if one is on PATH."""
    found = shutil.which("swift", path=os.environ.get("PATH"))
    if not found:
        return None
    real = pathlib.Path(found).resolve()
    root = real.parents[2] if real.parent.parent.name == "usr" else real.parent
    return None if str(root) in ("/", "/usr", "/usr/local", "/bin") else root


def dev_package_files() -> list[pathlib.Path]:
    """Every regular file (not symlink) the installed -dev packages own: headers, .pc files, static archives."""
    files = []
    for package in DEV_PACKAGES:
        listed = run(["dpkg", "-L", package], check=False)
        if listed.returncode != 0:
            continue
        for line in listed.stdout.splitlines():
            path = pathlib.Path(line)
            if path.is_file() and not path.is_symlink() and not line.startswith("/usr/share/doc"):
                files.append(path)
    return files


def namespaces_available() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True).returncode == 0


HIDE_SCRIPT = r"""
set -e
list=$1; shift
while read -r kind path; do
    case $kind in
        dir) mount -t tmpfs -o size=1m,mode=755 sio-hidden "$path" ;;
        file) mount --bind /dev/null "$path" ;;
    esac
done < "$list"
exec "$@"
"""


class Hidden:
    """Runs commands where the repository, the Swift toolchain, the -dev files (and `libraries`) do not exist."""

    def __init__(self, workdir: pathlib.Path, libraries: list[pathlib.Path] = ()):
        self.dirs = [ROOT]
        toolchain = swift_toolchain()
        if toolchain:
            self.dirs.append(toolchain)
        self.files = dev_package_files() + [p.resolve() for p in libraries]
        workdir.mkdir(parents=True, exist_ok=True)
        self.list = workdir / "hidden.txt"
        self.list.write_text("".join(f"dir {d}\n" for d in self.dirs) + "".join(f"file {f}\n" for f in self.files))
        self.script = workdir / "hide.sh"
        self.script.write_text(HIDE_SCRIPT)

    def wrap(self, cmd) -> list[str]:
        return ["unshare", "-m", "--propagation", "private", "sh", str(self.script), str(self.list),
                *[str(c) for c in cmd]]

    def run(self, cmd, **kwargs) -> subprocess.CompletedProcess:
        return run(self.wrap(cmd), **kwargs)


@pytest.fixture(scope="session")
def can_hide() -> None:
    if not namespaces_available():
        pytest.skip("needs root and `unshare -m` to hide the toolchain and the build tree")


# ---- processes and clients -------------------------------------------------------------------------------------------


class Server:
    """A server process; `url` once its port accepts connections."""

    def __init__(self, cmd, *, env, cwd, port: int, log: pathlib.Path):
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.log = log
        self._out = open(log, "w")
        self.proc = subprocess.Popen([str(c) for c in cmd], env=env, cwd=cwd, stdout=self._out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited {self.proc.returncode}:\n{self.output()}", pytrace=False)
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"server did not listen on {port}:\n{self.output()}", pytrace=False)
                time.sleep(0.05)

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._out.close()
        return self.proc.returncode


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop(signal.SIGKILL)


class Client:
    """A python-socketio client that records every event it receives."""

    def __init__(self, url: str, *, auth: Any = None, transports=("websocket",)):
        self.events: queue.Queue = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.errors: queue.Queue = queue.Queue()
        self.sio.on("*", lambda event, *args: self.events.put((event, list(args))))
        self.sio.on("connect_error", lambda data: self.errors.put(data))
        self.sio.on("question", self._answer)
        self.url, self.auth, self.transports = url, auth, list(transports)

    @staticmethod
    def _answer(*args):
        return "yes"

    def connect(self) -> "Client":
        self.sio.connect(self.url, auth=self.auth, transports=self.transports, wait_timeout=10)
        return self

    def call(self, event: str, *args: Any) -> Any:
        return self.sio.call(event, args[0] if len(args) == 1 else args, timeout=10)

    def next(self, name: str, timeout: float = 10) -> list[Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {name!r} event within {timeout} s", pytrace=False)
            try:
                event, args = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event == name:
                return args

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []

    def make(url, **kwargs) -> Client:
        client = Client(url, **kwargs)
        made.append(client)
        return client

    yield make  # type: ignore[misc]
    for client in made:
        client.close()


# ---- the artefacts ---------------------------------------------------------------------------------------------------


def script_output_path(proc: subprocess.CompletedProcess) -> pathlib.Path:
    last = proc.stdout.strip().splitlines()[-1]
    path = pathlib.Path(last)
    assert path.is_file(), f"the script's last line is not a file: {last!r}\n{proc.stderr}"
    return path


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> pathlib.Path:
    """scripts/build-wheel.sh's wheel, copied out of the build tree (that copy is the one installed)."""
    out = tmp_path_factory.mktemp("wheelhouse")
    env = dict(os.environ, SIO_LIB_DIR=str(LIB_DIR), WHEEL_DIR=str(out / "build"))
    built = script_output_path(run(["bash", ROOT / "scripts" / "build-wheel.sh"], env=env, timeout=900))
    copy = out / built.name
    shutil.copy2(built, copy)
    return copy


@pytest.fixture(scope="session")
def wheel_venv(wheel, tmp_path_factory) -> pathlib.Path:
    """A fresh venv (outside the repository) with the wheel installed, offline; returns its python."""
    root = tmp_path_factory.mktemp("wheel-venv")
    venv.create(root / "venv", with_pip=True)
    python = root / "venv" / "bin" / "python"
    run([python, "-m", "pip", "install", "--no-index", "--disable-pip-version-check", "-q", wheel],
        env=clean_env(), cwd=root, timeout=300)
    return python


def site_packages(python: pathlib.Path) -> pathlib.Path:
    out = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"], env=clean_env(), cwd="/")
    return pathlib.Path(out.stdout.strip())


@pytest.fixture(scope="session")
def package(tmp_path_factory) -> pathlib.Path:
    """scripts/build-package.sh's tarball, copied out of the build tree."""
    out = tmp_path_factory.mktemp("package")
    env = dict(os.environ, SIO_LIB_DIR=str(LIB_DIR), PACKAGE_DIR=str(out / "build"))
    built = script_output_path(run(["bash", ROOT / "scripts" / "build-package.sh"], env=env, timeout=600))
    copy = out / built.name
    shutil.copy2(built, copy)
    return copy


def unpack(tarball: pathlib.Path, prefix: pathlib.Path) -> pathlib.Path:
    """As the package's README says: tar -xzf ... -C PREFIX --strip-components=1."""
    prefix.mkdir(parents=True)
    run(["tar", "-xzf", tarball, "-C", prefix, "--strip-components=1"])
    return prefix


def manylinux_baseline(tag: str) -> set[str]:
    """The libraries the wheel's manylinux policy assumes on every system (auditwheel's own policy file)."""
    policy_file = next((ROOT / ".venv-packaging" / "lib").glob("python*/site-packages/auditwheel/policy/"
                                                              "manylinux-policy.json"))
    name = re.match(r"(manylinux_\d+_\d+)_", tag).group(1)
    policy = next(p for p in json.loads(policy_file.read_text()) if p["name"] == name)
    return set(policy["lib_whitelist"]) | {"ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "linux-vdso.so.1"}


def ldd(path: pathlib.Path, hidden: Hidden | None = None) -> dict[str, str | None]:
    """SONAME -> resolved path (None when not found), as the loader sees it with a clean environment."""
    cmd = ["ldd", path]
    proc = hidden.run(cmd, env=clean_env(), cwd="/") if hidden else run(cmd, env=clean_env(), cwd="/")
    resolved: dict[str, str | None] = {}
    for line in proc.stdout.splitlines():
        line = line.strip()
        if "=>" in line:
            name, _, rest = line.partition("=>")
            target = rest.strip().split(" (")[0].strip()
            resolved[name.strip()] = None if target == "not found" else target
        elif line:
            name = line.split(" (")[0].strip()
            resolved[pathlib.Path(name).name] = name
    return resolved


def system_copies(names) -> list[pathlib.Path]:
    """The system's files for these SONAMEs (from ldconfig's cache), resolved to the real files."""
    cache = run(["ldconfig", "-p"]).stdout
    found = []
    for name in names:
        for match in re.finditer(rf"^\s+{re.escape(name)} \([^)]*\) => (\S+)$", cache, re.M):
            found.append(pathlib.Path(match.group(1)).resolve())
    return sorted(set(found))


def readme_block(name: str) -> str:
    """The fenced block after `<!-- readme-test: NAME -->` in README.md; its language is NAME up to a dash
    ("python-asyncio" marks a python block)."""
    text = (ROOT / "README.md").read_text()
    language = name.split("-")[0]
    match = re.search(rf"^<!-- readme-test: {re.escape(name)} -->\n```{language}\n(.*?)^```$", text, re.M | re.S)
    assert match, f"README.md has no block marked <!-- readme-test: {name} -->"
    return match.group(1)


def debian_owners(path: str) -> set[str]:
    """The Debian packages owning a library file (dpkg may record /lib or /usr/lib, the link or its target)."""
    real = str(pathlib.Path(path).resolve())
    owners = set()
    for candidate in {real, real.removeprefix("/usr"), path, path.removeprefix("/usr"), "/usr" + path}:
        found = run(["dpkg", "-S", candidate], check=False)
        if found.returncode == 0:
            owners.add(found.stdout.split(":")[0])
    return owners
