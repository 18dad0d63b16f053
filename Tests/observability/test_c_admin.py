"""The C ABI's SIO_OPT_METRICS(_PATH) and sio_server_instrument (SIO_OPT_ADMIN_*), from a C program compiled with
-std=c11 -Wall -Wextra -Werror -pedantic against Include/sio.h and linked with the built libsio.so
(build/lib, `scripts/build-libsio.sh`; $SIO_LIB_DIR overrides)."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess

import pytest
import requests
import socketio

from admin_ui import AdminUI, check_server_stats

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
HASH = "$2b$10$nu1FHRkuxkZkqID.31gz4uQsyERZAn.m4IIruysTsHDODBtrqS5Me"  # bcrypt("changeit")


@pytest.fixture
def c_server(tmp_path):
    lib_dir = pathlib.Path(os.environ.get("SIO_LIB_DIR") or ROOT / "build" / "lib")
    if not (lib_dir / "libsio.so").exists():
        pytest.fail(f"{lib_dir}/libsio.so missing: run scripts/build-libsio.sh", pytrace=False)
    binary = tmp_path / "c_admin_server"
    subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{ROOT / 'Include'}",
                    "-o", str(binary), str(HERE / "c_admin_server.c"), f"-L{lib_dir}", "-lsio",
                    f"-Wl,-rpath,{lib_dir}"], check=True)
    proc = subprocess.Popen([str(binary), "0", HASH], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("LISTENING "):
        proc.kill()
        pytest.fail(f"c_admin_server: {line!r} {proc.stderr.read()}", pytrace=False)
    yield f"http://127.0.0.1:{line.split()[1]}"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0, proc.stderr.read()


def test_c_host_serves_metrics_and_the_admin_ui(c_server):
    assert requests.get(c_server + "/metrics", timeout=5).status_code == 404  # the path was moved
    ui = AdminUI(c_server, namespace="/ops", auth={"username": "admin", "password": "changeit"}).connect()
    assert isinstance(ui.wait("session")[0], str)
    assert "ALL_EVENTS" in ui.wait("config")[0]["supportedFeatures"]
    (stats,) = ui.wait("server_stats", timeout=5)
    check_server_stats(stats)
    assert stats["serverId"] == "c-host"
    text = requests.get(c_server + "/stats", timeout=5).text
    assert 'sio_namespace_sockets{loop="0",namespace="/ops"} 1' in text
    ui.disconnect()
    with pytest.raises(socketio.exceptions.ConnectionError):
        AdminUI(c_server, namespace="/ops", auth={"username": "admin", "password": "nope"}).connect()
