"""The wheel of scripts/build-wheel.sh, as a Python user without Swift gets it.

Built, copied out of the build tree, installed offline (`pip install --no-index`) into a fresh venv in a temporary
folder; then every check runs with a clean environment (no SIO_LIBRARY, LD_LIBRARY_PATH, PYTHONPATH, project venv
or toolchain on PATH), a working directory outside the repository and, where it runs code, inside a mount
namespace in which the repository, the Swift toolchain, the -dev packages' files and the system's own copies of
the bundled libraries (libuv, libcrypto, libhttp_parser, libhiredis, libmsgpackc) do not exist. A real
python-socketio client (this test's venv) drives the server.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import time
import zipfile

import pytest
from conftest import (HERE, LIB_DIR, ROOT, VERSION, Hidden, Server, clean_env, debian_owners, free_port, ldd,
                      manylinux_baseline, readme_block, run, site_packages, system_copies)

pytestmark = pytest.mark.timeout(900)


def wheel_tag(wheel: pathlib.Path) -> str:
    return wheel.name[: -len(".whl")].split("-")[-1]


@pytest.fixture(scope="module")
def bundled_names(wheel) -> list[str]:
    """The SONAMEs the project's libsio links that the manylinux policy does not assume: the wheel must carry them."""
    baseline = manylinux_baseline(wheel_tag(wheel))
    return sorted(name for name in ldd(LIB_DIR / f"libsio.so.{VERSION}") if name not in baseline)


@pytest.fixture(scope="module")
def hidden(tmp_path_factory, bundled_names, can_hide) -> Hidden:
    return Hidden(tmp_path_factory.mktemp("hidden"), libraries=system_copies(bundled_names))


def test_the_wheel_is_manylinux_and_carries_libsio_and_its_libraries(wheel, bundled_names):
    tag = wheel_tag(wheel)
    assert wheel.name.startswith(f"sio_server-{VERSION}-py3-none-manylinux_"), wheel.name
    assert tag.startswith("manylinux_2_") and tag.endswith(("_x86_64", "_aarch64")), tag
    names = zipfile.ZipFile(wheel).namelist()
    assert "sio/libsio.so.0" in names and "sio/__init__.py" in names
    carried = [n for n in names if n.startswith("sio_server.libs/")]
    for soname in bundled_names:
        stem = soname.split(".so")[0]
        assert any(pathlib.PurePath(n).name.startswith(stem + "-") for n in carried), (soname, carried)
    stems = {name.split(".so")[0] for name in bundled_names}
    assert {"libuv", "libcrypto", "libhttp_parser", "libhiredis", "libmsgpackc"} <= stems, bundled_names
    assert not [n for n in carried if "libstdc++" in n or "libc.so" in n]  # the policy's baseline stays outside
    wheel_meta = zipfile.ZipFile(wheel).read(f"sio_server-{VERSION}.dist-info/WHEEL").decode()
    assert "Root-Is-Purelib: false" in wheel_meta and f"Tag: py3-none-{tag}" in wheel_meta


def test_every_dependency_resolves_inside_the_wheel(wheel, wheel_venv, bundled_names):
    """ldd on the installed libsio, LD_LIBRARY_PATH unset: what the policy does not assume resolves to the wheel's
    sio_server.libs, never to the system's or the -dev packages' copies; the rest is the manylinux baseline."""
    site = site_packages(wheel_venv)
    library = site / "sio" / "libsio.so.0"
    resolved = ldd(library)
    baseline = manylinux_baseline(wheel_tag(wheel))
    libs = (site / "sio_server.libs").resolve()
    outside = {}
    for name, path in resolved.items():
        assert path is not None, f"{name} not found:\n{resolved}"
        if name in baseline:
            if name != "linux-vdso.so.1":  # the system's runtime package, never a -dev one
                owners = debian_owners(path)
                assert owners and not [o for o in owners if o.endswith("-dev")], (name, path, owners)
            continue
        if pathlib.Path(path).resolve().parent != libs:
            outside[name] = path
    assert outside == {}, f"resolved outside the wheel: {outside}"
    inside = [n for n in resolved if n not in baseline and n != "linux-vdso.so.1"]
    assert len(inside) == len(bundled_names), (inside, bundled_names)
    assert not [p for p in resolved.values() if p and (str(ROOT) in p or "/swift" in p)]


def test_the_same_holds_with_the_system_copies_hidden(wheel_venv, hidden):
    library = site_packages(wheel_venv) / "sio" / "libsio.so.0"
    resolved = ldd(library, hidden)
    assert all(resolved.values()), resolved
    assert [p for n, p in resolved.items() if "sio_server.libs" in (p or "")], resolved


def test_the_bundled_library_comes_before_the_loader_path(wheel_venv):
    """With another libsio on the loader's path (the build tree's, LD_LIBRARY_PATH), the wheel still loads its own;
    SIO_LIBRARY, the explicit choice, wins over both."""
    code = "import sio; print(sio.library_path)"
    bundled = str(site_packages(wheel_venv) / "sio" / "libsio.so.0")
    found = run([wheel_venv, "-c", code], env=clean_env(LD_LIBRARY_PATH=str(LIB_DIR)), cwd="/").stdout.strip()
    assert found == bundled
    explicit = str(LIB_DIR / "libsio.so")
    found = run([wheel_venv, "-c", code], env=clean_env(SIO_LIBRARY=explicit), cwd="/").stdout.strip()
    assert found == explicit


def copy_out(tmp_path: pathlib.Path, name: str, text: str | None = None) -> pathlib.Path:
    """A script in a temporary folder outside the repository (the repository is hidden when it runs)."""
    target = tmp_path / "app" / name
    target.parent.mkdir(exist_ok=True)
    if text is None:
        shutil.copy2(HERE / name, target)
    else:
        target.write_text(text)
    return target


def read_ready(server: Server) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for line in server.output().splitlines():
            if line.startswith("READY "):
                return json.loads(line[len("READY "):])
        time.sleep(0.05)
    pytest.fail(f"no READY line:\n{server.output()}", pytrace=False)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_real_client_against_the_installed_wheel(wheel_venv, hidden, tmp_path, servers, clients, transport):
    script = copy_out(tmp_path, "wheel_server.py")
    port = free_port()
    server = Server(hidden.wrap([wheel_venv, script, port]), env=clean_env(), cwd=script.parent, port=port,
                    log=tmp_path / "server.log")
    servers.append(server)
    info = read_ready(server)
    site = site_packages(wheel_venv)
    assert info["library"] == str(site / "sio" / "libsio.so.0") and info["version"] == VERSION
    mapped = info["maps"]
    assert not [m for m in mapped if m.startswith(str(ROOT)) or "/swift" in m], mapped
    for stem in ("libuv", "libcrypto", "libhttp_parser", "libhiredis", "libmsgpackc"):
        copies = [m for m in mapped if pathlib.Path(m).name.startswith(stem)]
        assert copies and all(pathlib.Path(m).parent.name == "sio_server.libs" for m in copies), (stem, copies)

    refused = clients(server.url, auth={"token": "wrong"}, transports=[transport])
    with pytest.raises(Exception):
        refused.connect()
    assert refused.errors.get(timeout=5)["message"] == "not authorized"

    alice = clients(server.url, auth={"token": "secret"}, transports=[transport]).connect()
    bob = clients(server.url, auth={"token": "secret"}, transports=[transport]).connect()
    assert alice.next("welcome")[0]["library"] == info["library"]
    assert alice.call("echo", ["héllo", 1, {"a": None}]) == ["héllo", 1, {"a": None}]
    assert alice.call("binary", b"\x00\x01\x02") == b"\x02\x01\x00"
    assert alice.sio.call("join", "lobby", timeout=10) == sorted(["lobby", alice.sio.get_sid()])
    assert bob.sio.call("join", "lobby", timeout=10) == sorted(["lobby", bob.sio.get_sid()])
    assert alice.sio.call("shout", ("lobby", "hi all"), timeout=10) is True
    assert alice.next("shout") == ["hi all"] and bob.next("shout") == ["hi all"]
    assert bob.sio.call("ask", timeout=10) is True
    assert bob.next("answer") == ["yes"]
    alice.close()
    bob.close()
    assert server.stop() == 0, server.output()  # SIGINT: a graceful stop


def readme_server(block: str, wheel_venv, hidden, tmp_path, servers, clients) -> Server:
    """README.md's `block` run as written on the installed wheel, in the namespace; its middleware checked: a client
    without a token is refused with the block's message and data."""
    script = copy_out(tmp_path, "readme_app.py", readme_block(block))
    port = free_port()
    server = Server(hidden.wrap([wheel_venv, script]), env=clean_env(PORT=str(port)), cwd=script.parent, port=port,
                    log=tmp_path / "server.log")
    servers.append(server)
    refused = clients(server.url)
    with pytest.raises(Exception):
        refused.connect()
    assert refused.errors.get(timeout=5) == {"message": "not authorized", "data": {"code": 401}}
    return server


def test_the_readme_python_block_against_the_wheel(wheel_venv, hidden, tmp_path, servers, clients):
    """README.md's Python block, as written, on the installed wheel, with a real client."""
    server = readme_server("python", wheel_venv, hidden, tmp_path, servers, clients)
    alice = clients(server.url, auth={"token": "t"}).connect()
    bob = clients(server.url, auth={"token": "t"}, transports=["polling"]).connect()
    assert alice.call("chat message", "hello") is True          # the acknowledgement
    assert bob.next("chat message") == ["hello"]                # relayed to the lobby, except the sender
    assert bob.call("chat message", {"text": "bytes too", "data": b"\x01\x02"}) is True
    assert alice.next("chat message") == [{"text": "bytes too", "data": b"\x01\x02"}]
    time.sleep(0.3)
    assert alice.events.empty(), "the sender got its own message"
    assert server.stop() == 0, server.output()  # Ctrl-C (SIGINT) stops server.run() gracefully


def test_the_readme_asyncio_block_against_the_wheel(wheel_venv, hidden, tmp_path, servers, clients):
    """README.md's asyncio block (sio.AsyncServer), as written, on the installed wheel, with real clients."""
    server = readme_server("python-asyncio", wheel_venv, hidden, tmp_path, servers, clients)
    alice = clients(server.url, auth={"token": "t"})
    bob = clients(server.url, auth={"token": "t"}, transports=["polling"])
    for name, client in (("alice", alice), ("bob", bob)):
        client.sio.on("name?", lambda name=name: name)
        client.sio.on("vote", lambda question, name=name: f"{name}: {question}")
        client.connect()
    assert alice.call("chat message", "hello") is True
    assert bob.next("chat message") == ["hello"]
    assert bob.call("poll", "lunch?") == ("bob", 2)     # its name, asked back; both voted
    alice.close()
    bob.close()
    assert server.stop() == 0, server.output()  # Ctrl-C (SIGINT): the signal handler stops it gracefully


def test_no_toolchain_and_no_build_tree_inside_the_namespace(wheel_venv, hidden):
    """What the namespace hides really is gone there (and only there)."""
    probe = hidden.run(["sh", "-c", f"command -v swift || echo no-swift; ls -A {ROOT} | wc -l; "
                                    f"test -s /usr/include/uv.h && echo uv.h || echo no-uv.h"],
                       env=dict(clean_env(), PATH=os.environ["PATH"]), cwd="/")  # the toolchain's PATH too
    lines = probe.stdout.split()
    assert lines == ["no-swift", "0", "no-uv.h"], probe.stdout
    assert (ROOT / "README.md").exists()  # outside the namespace nothing changed
    result = hidden.run([wheel_venv, "-c", "import sio; print(sio.library_path)"], env=clean_env(), cwd="/")
    assert result.stdout.strip().endswith("/site-packages/sio/libsio.so.0")



def test_the_build_trees_libsio_cannot_load_there(hidden, tmp_path):
    """The control: the project's own libsio.so (linked against the system's libraries), copied out of the
    repository, does not load inside the namespace. The wheel's runs there only because it carries its own."""
    copy = tmp_path / "libsio.so.0"
    shutil.copy2(LIB_DIR / f"libsio.so.{VERSION}", copy)
    result = hidden.run(["ldd", copy], env=clean_env(), cwd="/", check=False)
    output = result.stdout + result.stderr
    hidden_libraries = ("libuv.so.1", "libssl.so.3", "libcrypto.so.3", "libhiredis.so", "libmsgpackc.so")
    assert result.returncode != 0 and any(name in output for name in hidden_libraries), output
