"""The C package of scripts/build-package.sh, as a C user without Swift gets it.

The tarball is copied out of the build tree, unpacked into a temporary prefix as its README says, then moved (the
prefix is relocatable: sio.pc finds itself). Programs are compiled with pkg-config (PKG_CONFIG_PATH) and a run
path, and run with a clean environment (no LD_LIBRARY_PATH) inside a mount namespace where the repository, the
Swift toolchain and every file of the -dev packages (headers, .pc, .a) do not exist: only the runtime libraries
the package's README lists remain. A real python-socketio client drives them. The default-prefix way
(/usr/local, ldconfig, no PKG_CONFIG_PATH, no run path) is run too, on a private /usr/local and ld.so.cache.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import time
import urllib.request

import pytest
from conftest import (HOST, MAJOR, ROOT, VERSION, Hidden, Server, clean_env, debian_owners, free_port, ldd,
                      readme_block, run, swift_toolchain, unpack)

pytestmark = pytest.mark.timeout(300)
WARNINGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"]


@pytest.fixture(scope="module")
def prefix(package, tmp_path_factory) -> pathlib.Path:
    base = tmp_path_factory.mktemp("c-user")
    first = unpack(package, base / "unpacked-here")
    moved = base / "then" / "moved" / "sio"
    moved.parent.mkdir(parents=True)
    shutil.move(first, moved)
    return moved


@pytest.fixture(scope="module")
def hidden(tmp_path_factory, can_hide) -> Hidden:
    return Hidden(tmp_path_factory.mktemp("hidden"))


def user_env(prefix: pathlib.Path, **extra: str) -> dict[str, str]:
    return clean_env(PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"), **extra)


def runtime_packages(prefix: pathlib.Path) -> list[str]:
    return (prefix / "share" / "doc" / "sio" / "runtime-packages.txt").read_text().split()


def test_the_layout(package, prefix):
    assert package.name == f"sio-{VERSION}-linux-{os.uname().machine}.tar.gz"
    lib = prefix / "lib"
    real = lib / f"libsio.so.{VERSION}"
    assert real.is_file() and not real.is_symlink()
    assert os.readlink(lib / f"libsio.so.{MAJOR}") == real.name
    assert os.readlink(lib / "libsio.so") == f"libsio.so.{MAJOR}"
    assert (prefix / "include" / "sio.h").read_bytes() == (ROOT / "Include" / "sio.h").read_bytes()
    if (ROOT / "Include" / "sio.hpp").exists():
        assert (prefix / "include" / "sio.hpp").read_bytes() == (ROOT / "Include" / "sio.hpp").read_bytes()
    pc = (lib / "pkgconfig" / "sio.pc").read_text()
    assert "prefix=${pcfiledir}/../..\n" in pc and f"Version: {VERSION}\n" in pc
    for text in [pc, (prefix / "share" / "doc" / "sio" / "README").read_text()]:
        assert str(ROOT) not in text
    dynamic = run(["readelf", "-d", real]).stdout
    assert f"Library soname: [libsio.so.{MAJOR}]" in dynamic
    assert str(ROOT) not in dynamic and "swift" not in dynamic.lower()  # no run path into a build tree or toolchain
    assert ".debug_info" not in run(["readelf", "-S", real]).stdout  # stripped of debug sections


def test_pkg_config_follows_the_moved_prefix(prefix):
    env = user_env(prefix)
    cflags = run(["pkg-config", "--cflags", "sio"], env=env).stdout.split()
    libs = run(["pkg-config", "--libs", "sio"], env=env).stdout.split()
    libdir = run(["pkg-config", "--variable=libdir", "sio"], env=env).stdout.strip()
    assert [pathlib.Path(f[2:]).resolve() for f in cflags] == [prefix / "include"]
    assert pathlib.Path(libdir).resolve() == prefix / "lib"
    assert libs[-1] == "-lsio" and pathlib.Path(libs[0][2:]).resolve() == prefix / "lib"


def test_libsio_needs_only_the_listed_runtime_packages(prefix, hidden):
    packages = runtime_packages(prefix)
    assert packages and not [p for p in packages if p.endswith("-dev")], packages
    assert {"libuv1", "libssl3", "libc6"} <= set(packages)
    assert f"apt-get install {' '.join(packages)}" in (prefix / "share" / "doc" / "sio" / "README").read_text()
    resolved = ldd(prefix / "lib" / f"libsio.so.{VERSION}", hidden)
    for name, path in resolved.items():
        assert path is not None, f"{name} not found: {resolved}"
        if name == "linux-vdso.so.1":
            continue
        owners = debian_owners(path)
        assert owners and owners <= set(packages), (name, path, owners)


def compile_in(hidden: Hidden, prefix: pathlib.Path, source: pathlib.Path, output: pathlib.Path, *extra: str):
    """cc SOURCE $(pkg-config --cflags --libs sio) -Wl,-rpath,$(pkg-config --variable=libdir sio), as a user types
    it, where the repository, the toolchain and the -dev files are hidden."""
    command = (f"cc {' '.join(WARNINGS)} {source} $(pkg-config --cflags --libs sio) "
               f"-Wl,-rpath,$(pkg-config --variable=libdir sio) {' '.join(extra)} -o {output}")
    hidden.run(["sh", "-c", command], env=user_env(prefix), cwd=source.parent)
    dynamic = run(["readelf", "-d", output]).stdout
    assert f"Shared library: [libsio.so.{MAJOR}]" in dynamic and "/lib/pkgconfig/../../lib" in dynamic, dynamic
    return output


def test_chat_server_example(prefix, hidden, tmp_path, servers, clients):
    source = tmp_path / "chat_server.c"
    shutil.copy2(ROOT / "examples" / "c" / "chat_server.c", source)
    binary = compile_in(hidden, prefix, source, tmp_path / "chat_server", "-lpthread")
    port = free_port()
    server = Server(hidden.wrap([binary, "--port", port, "--host", HOST]), env=clean_env(), cwd=tmp_path, port=port,
                    log=tmp_path / "chat.log")
    servers.append(server)
    page = urllib.request.urlopen(f"{server.url}/", timeout=10).read().decode()
    assert "<title>Socket.IO chat</title>" in page
    alice = clients(server.url).connect()
    bob = clients(server.url, transports=["polling"]).connect()
    time.sleep(0.2)
    alice.sio.emit("chat message", "hello from alice")
    assert bob.next("chat message") == ["hello from alice"]
    assert alice.next("chat message") == ["hello from alice"]  # relayed to everyone
    bob.sio.emit("chat message", "and bob")
    assert alice.next("chat message") == ["and bob"]
    alice.close()
    bob.close()
    assert server.stop(signal.SIGTERM) == 0, server.output()  # graceful stop on SIGTERM


def test_the_readme_c_block(prefix, hidden, tmp_path, servers, clients):
    """README.md's C block, as written, compiled against the package and driven by a real client."""
    source = tmp_path / "app.c"
    source.write_text(readme_block("c"))
    binary = compile_in(hidden, prefix, source, tmp_path / "app")
    port = free_port()
    server = Server(hidden.wrap([binary]), env=clean_env(PORT=str(port)), cwd=tmp_path, port=port,
                    log=tmp_path / "app.log")
    servers.append(server)
    alice = clients(server.url).connect()
    bob = clients(server.url, transports=["polling"]).connect()
    assert alice.call("chat message", "hello") is True  # the acknowledgement [true]
    assert bob.next("chat message") == ["hello"]
    assert alice.next("chat message") == ["hello"]      # sio_namespace_emit: to everyone in "/"
    alice.close()
    bob.close()


DEFAULT_PREFIX_SCRIPT = r"""
set -e
mount -t tmpfs -o mode=755 private-usr-local /usr/local
tar -xzf "$1" -C /usr/local --strip-components=1
ldconfig -C "$2/ld.so.cache"                       # ldconfig, on a private cache this namespace then uses
mount --bind "$2/ld.so.cache" /etc/ld.so.cache
cd "$2"
cc app.c $(pkg-config --cflags --libs sio) -o app  # no PKG_CONFIG_PATH, no run path
if readelf -d app | grep -q -e RPATH -e RUNPATH; then echo "app has a run path" >&2; exit 1; fi
exec ./app
"""


def test_the_default_prefix_with_ldconfig(package, hidden, tmp_path, servers, clients):
    """The README's other way: unpack into /usr/local and run ldconfig; then plain pkg-config and no run path.
    On a private /usr/local and ld.so.cache inside the namespace: the machine's stay untouched."""
    (tmp_path / "app.c").write_text(readme_block("c"))
    script = tmp_path / "default-prefix.sh"
    script.write_text(DEFAULT_PREFIX_SCRIPT)
    port = free_port()
    server = Server(hidden.wrap(["sh", script, package, tmp_path]), env=clean_env(PORT=str(port)), cwd=tmp_path,
                    port=port, log=tmp_path / "app.log")
    servers.append(server)
    client = clients(server.url).connect()
    assert client.call("chat message", "from /usr/local") is True
    assert client.next("chat message") == ["from /usr/local"]
    assert not (pathlib.Path("/usr/local/lib") / f"libsio.so.{VERSION}").exists()  # only inside the namespace


def test_the_toolchain_is_gone_in_the_namespace(hidden, tmp_path):
    toolchain = swift_toolchain()
    probe = hidden.run(["sh", "-c", "command -v swift || echo no-swift; test -s /usr/include/uv.h || echo no-uv.h; "
                                    "pkg-config --exists libuv || echo no-libuv.pc"],
                       env=dict(os.environ), cwd="/")
    assert probe.stdout.split() == ["no-swift", "no-uv.h", "no-libuv.pc"], (toolchain, probe.stdout)
