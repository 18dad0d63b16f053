#!/usr/bin/env python3
"""Runs the Socket.IO benchmarks against our server and the python-socketio peer, side by side.

For each scenario and each repetition it starts a fresh server (ours: sio-bench-server --port N;
the peer: Benchmarks/peers/python_socketio_server.py --port N in Benchmarks/.venv), runs the load
generator (Benchmarks/loadgen, built here with cc) against it with the same parameters, and stops
the server. The load generator samples the server's CPU time (utime+stime, /proc/PID/stat) and RSS
(VmRSS) at the boundaries of the measured window. The table shows medians over the repetitions.

cluster-broadcast (ours only) runs the broadcast scenario on a cluster: a fresh redis-server and two
sio-cluster-node processes on it, the receivers alternating between the two nodes, the sender on the
first; the table shows it next to the single-node broadcast figure. streams-broadcast is the same on the
streams adapter (sio-cluster-node --redis-streams), next to cluster-broadcast (the pub/sub adapter).

echo-ack-work is echo-ack against servers whose echo-ack handler burns --burn-us microseconds of CPU
(30 by default) before acking. --loops 1,2 runs our server with 1 and 2 event loops side by side
(columns ours, ours@2; --loop-balancing reuseport,round-robin adds ours@2-rr), and --baseline-bin PATH
runs a second build of sio-bench-server (column base, one loop) in the same run. echo-ack-binary and
broadcast-binary carry a 1 KB binary in the argument (run when named with --only). --parser json,msgpack adds
the msgpack parser's columns: ours-mp (sio-bench-server --parser msgpack) and peer-mp (python-socketio,
serializer='msgpack'), the load generator speaking socket.io-msgpack-parser.

--transport plain,tls adds WSS columns beside the plain ones, same run: a throwaway CA and server certificate
(ECDSA P-256, openssl CLI) made for the run, sio-bench-server --tls-cert/--tls-key (column ours-tls) and the
peer with an ssl context (peer-tls), the load generator with --tls --tls-ca; ratio columns tls/plain for each,
difference columns tls-plain (the extra bytes per idle connection).

Loopback only; every wait is bounded; everything started here is stopped on exit, Ctrl-C or failure.
Standard library only (the venv is for the peer).
"""
import argparse
import contextlib
import datetime
import hashlib
import json
import os
import platform
import resource
import shutil
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import resilience  # Benchmarks/resilience: jitter, restart-storm, churn, slow-consumers (issue 17)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(HERE, ".venv")
BUILD = os.path.join(HERE, ".build")
LOADGEN_SRC = os.path.join(HERE, "loadgen", "loadgen.c")
LOADGEN_DEPS = [os.path.join(HERE, "loadgen", f) for f in ("msgpack_wire.c", "msgpack_wire.h", "hist.h")]
LOADGEN_BIN = os.path.join(BUILD, "loadgen")
LOADGEN_TLS = [os.path.join(HERE, "loadgen", f) for f in ("tls_client.c", "tls_client.h")]
PEER = os.path.join(HERE, "peers", "python_socketio_server.py")
FLOOR_SRC = os.path.join(HERE, "floor", "floor_server.c")
FLOOR_BIN = os.path.join(BUILD, "floor_server")
REQUIREMENTS = os.path.join(HERE, "requirements.txt")

SCENARIOS = ["connect", "echo-ack", "broadcast", "polling-echo", "echo-ack-work", "cluster-broadcast",
             "streams-broadcast", "echo-ack-binary", "broadcast-binary"]
# The load generator's scenario for each of ours that is a variant of another.
LG_SCENARIO = {"echo-ack-work": "echo-ack", "cluster-broadcast": "broadcast", "streams-broadcast": "broadcast",
               "echo-ack-binary": "echo-ack", "broadcast-binary": "broadcast"}
# Scenarios with a binary in the argument (loadgen --binary): run only when named with --only, so that --quick
# stays under a minute.
BINARY = {"echo-ack-binary", "broadcast-binary"}
BINARY_BYTES = 1024
# Parsers (--parser; msgpack's columns end in -mp), and the scenarios the msgpack parser runs (the load generator
# speaks it on WebSocket; the cluster, polling and resilience scenarios stay JSON).
PARSERS = ("json", "msgpack")
MSGPACK_SCENARIOS = {"connect", "echo-ack", "broadcast", "echo-ack-work", *BINARY}
# Scenarios whose servers get --burn-us (the baseline build and the floor server have no such option).
BURN = {"echo-ack-work"}
DEFAULT_BURN_US = 30
# The first character of an Engine.IO session id names the loop of a multi-loop server (EngineServer.loopMarks).
LOOP_MARKS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
BALANCING = {"reuseport": "", "round-robin": "-rr"}
# Scenarios run on a two-node cluster over Redis (our server only): the load generator's scenario, the
# scenario the table puts next to it, and sio-cluster-node's adapter flag.
CLUSTER = {"cluster-broadcast": ("broadcast", "broadcast", "--redis"),
           "streams-broadcast": ("broadcast", "cluster-broadcast", "--redis-streams")}
# The pub/sub channel each adapter's nodes listen on once they are ready (counted with PUBSUB NUMSUB).
CLUSTER_BIN_ARG = None  # --cluster-bin, for the scenarios that start cluster nodes themselves (jitter.nodes=2)
READY_CHANNEL = {"--redis": "socket.io-request#/#", "--redis-streams": "socket.io#/#"}

# --transport tls: the scenarios with WSS / HTTPS columns, and the bars on TLS against plain, same server
# (issue 16): (scenario, metric) -> ("ratio", op, x) on tls/plain or ("diff", op, x) on tls-plain
TLS_SCENARIOS = ("connect", "echo-ack", "broadcast", "polling-echo")
TLS_BARS = {
    ("echo-ack", "server_cpu_us_per_ack"): ("ratio", "<=", 2.0),
    ("broadcast", "server_cpu_us_per_delivery"): ("ratio", "<=", 2.0),
    ("connect", "server_rss_bytes_per_conn"): ("diff", "<=", 1536),
}

# Scenarios that run only when named with --only (long, and driven by their own clients: Benchmarks/resilience).
ON_REQUEST = set(resilience.SCENARIOS)
SCENARIOS += resilience.SCENARIOS

# Full size (the figures) and --quick (a smoke run of about a minute).
FULL = {
    "connect": {"clients": 10000, "window": 256, "hold": 5, "timeout": 120},
    "echo-ack": {"clients": 100, "inflight": 4, "duration": 5, "warmup": 1, "timeout": 60},
    "broadcast": {"clients": 1000, "rate": 1000, "duration": 5, "drain": 10, "timeout": 60},
    "polling-echo": {"clients": 50, "inflight": 1, "duration": 5, "warmup": 1, "timeout": 60},
    "echo-ack-work": {"clients": 100, "inflight": 4, "duration": 5, "warmup": 1, "timeout": 60},
    "cluster-broadcast": {"clients": 1000, "rate": 1000, "duration": 5, "drain": 10, "timeout": 60},
    "streams-broadcast": {"clients": 1000, "rate": 1000, "duration": 5, "drain": 10, "timeout": 60},
    "echo-ack-binary": {"clients": 100, "inflight": 4, "duration": 5, "warmup": 1, "timeout": 60,
                        "binary": BINARY_BYTES},
    "broadcast-binary": {"clients": 1000, "rate": 1000, "duration": 5, "drain": 10, "timeout": 60,
                         "binary": BINARY_BYTES},
}
QUICK = {
    "connect": {"clients": 1000, "window": 256, "hold": 2, "timeout": 60},
    "echo-ack": {"clients": 20, "inflight": 4, "duration": 2, "warmup": 0.5, "timeout": 30},
    "broadcast": {"clients": 100, "rate": 200, "duration": 2, "drain": 5, "timeout": 30},
    "polling-echo": {"clients": 10, "inflight": 1, "duration": 2, "warmup": 0.5, "timeout": 30},
    "echo-ack-work": {"clients": 20, "inflight": 4, "duration": 2, "warmup": 0.5, "timeout": 30},
    "cluster-broadcast": {"clients": 100, "rate": 200, "duration": 2, "drain": 5, "timeout": 30},
    "streams-broadcast": {"clients": 100, "rate": 200, "duration": 2, "drain": 5, "timeout": 30},
    "echo-ack-binary": {"clients": 20, "inflight": 4, "duration": 2, "warmup": 0.5, "timeout": 30,
                        "binary": BINARY_BYTES},
    "broadcast-binary": {"clients": 100, "rate": 200, "duration": 2, "drain": 5, "timeout": 30,
                         "binary": BINARY_BYTES},
}
FULL.update(resilience.FULL)
QUICK.update(resilience.QUICK)

# (metric key in loadgen's "metrics", label, higher is better, bar for ours at full size or None)
ROWS = {
    "connect": [
        ("handshakes_per_s", "handshakes/s", True, (">=", 12000)),
        ("connect_p50_ms", "time to connect p50 ms", False, None),
        ("connect_p99_ms", "time to connect p99 ms", False, None),
        ("server_cpu_us_per_handshake", "server CPU us/handshake", False, None),
        ("server_rss_bytes_per_conn", "server RSS bytes/idle conn", False, ("<=", 2048)),
        ("failed", "failed connections", False, ("<=", 0)),
    ],
    "echo-ack": [
        ("acks_per_s", "acks/s", True, None),
        ("rtt_p50_us", "ack round trip p50 us", False, None),
        ("rtt_p99_us", "ack round trip p99 us", False, None),
        ("server_cpu_us_per_ack", "server CPU us/ack", False, ("<=", 7)),
    ],
    "broadcast": [
        ("deliveries_per_s", "deliveries/s", True, None),
        ("latency_p50_us", "fan-out latency p50 us", False, None),
        ("latency_p99_us", "fan-out latency p99 us", False, None),
        ("lost", "lost deliveries", False, ("<=", 0)),
        ("order_violations", "order violations", False, ("<=", 0)),
        ("server_cpu_us_per_delivery", "server CPU us/delivery", False, ("<=", 1.5)),
        ("server_cpu_util", "server CPU, cores", False, None),
    ],
    # echo-ack with a handler that burns a fixed CPU time; the load generator must stay light for the rate to
    # say what the server's loops do (bar: under 0.3 cores)
    "echo-ack-work": [
        ("acks_per_s", "acks/s", True, None),
        ("rtt_p50_us", "ack round trip p50 us", False, None),
        ("rtt_p99_us", "ack round trip p99 us", False, None),
        ("server_cpu_us_per_ack", "server CPU us/ack", False, None),
        ("server_cpu_util", "server CPU, cores", False, None),
        ("loadgen_cpu_util_max", "loadgen CPU, cores (max)", False, ("<", 0.3)),
        ("loadgen_proc_cpu_util_max", "loadgen CPU, cores (/proc, busiest 1 s)", False, ("<", 0.3)),
    ],
    "polling-echo": [
        ("round_trips_per_s", "round trips/s", True, None),
        ("rtt_p50_us", "round trip p50 us", False, None),
        ("rtt_p99_us", "round trip p99 us", False, None),
        ("server_cpu_us_per_round_trip", "server CPU us/round trip", False, None),
    ],
    # the ours column holds the two-node figures; "ours, 1 node" the single-node broadcast of the same run
    "cluster-broadcast": [
        ("deliveries_per_s", "deliveries/s", True, None),
        ("latency_p50_us", "fan-out latency p50 us", False, None),
        ("latency_p99_us", "fan-out latency p99 us", False, None),
        ("latency_p99_us_port1", "  p99 us, receivers on the sender's node", False, None),
        ("latency_p99_us_port2", "  p99 us, receivers on the other node", False, None),
        ("lost", "lost deliveries", False, ("<=", 0)),
        ("order_violations", "order violations", False, ("<=", 0)),
        ("server_cpu_us_per_delivery", "server CPU us/delivery (both nodes)", False, None),
        ("server_cpu_util", "server CPU, cores (both nodes)", False, None),
        ("server_cpu_util_node1", "  cores, the sender's node", False, None),
        ("server_cpu_util_node2", "  cores, the other node", False, None),
        ("aux_cpu_us_per_broadcast", "redis-server CPU us/broadcast", False, None),
    ],
}
# the ours column holds the two nodes on the streams adapter; the side column cluster-broadcast's (pub/sub)
ROWS["streams-broadcast"] = ROWS["cluster-broadcast"]
# the binary scenarios: the rows of their JSON-only twins, without the absolute CPU bars (set for a 64-byte text)
for _sc in BINARY:
    ROWS[_sc] = [(k, label, higher, bar if k in ("lost", "order_violations") else None)
                 for k, label, higher, bar in ROWS[LG_SCENARIO[_sc]]]

# Bars on the ratio of a multi-loop column to the one-loop column of the same run (issue 12), for N loops:
# (scenario, metric) -> function N -> (op, x)
RATIO_BARS = {
    ("echo-ack-work", "acks_per_s"): lambda n: (">=", round(0.85 * n, 2)),  # 2 loops: >= 1.7x
    ("broadcast", "server_cpu_us_per_delivery"): lambda n: ("<=", 1.15),
}
# Issue 14: the msgpack path costs no more server CPU per message than the JSON path (ours-mp/ours, same run;
# 1.05 leaves room for the run-to-run noise of a few percent)
MSGPACK_BARS = {(sc, key): ("<=", 1.05) for sc, key in
                (("echo-ack", "server_cpu_us_per_ack"), ("echo-ack-binary", "server_cpu_us_per_ack"),
                 ("broadcast", "server_cpu_us_per_delivery"), ("broadcast-binary", "server_cpu_us_per_delivery"))}

CHILDREN = []  # Popen objects started here, each in its own session (pgid == pid)


def log(msg):
    print(f"[run.py] {msg}", file=sys.stderr, flush=True)


def stop_child(p, grace=5.0):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=grace)
    if p in CHILDREN:
        CHILDREN.remove(p)


def stop_all():
    for p in list(CHILDREN):
        try:
            stop_child(p, grace=2.0)
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass


def on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def spawn(cmd, cpus=None, **kw):
    pre = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    p = subprocess.Popen(cmd, start_new_session=True, preexec_fn=pre, **kw)
    CHILDREN.append(p)
    return p


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def build_c(out, src, deps=(), libs=("-luv", "-lcrypto")):
    """Builds out from src and the .c files among deps (the others are headers it depends on)."""
    os.makedirs(BUILD, exist_ok=True)
    if os.path.exists(out) and all(os.path.getmtime(out) >= os.path.getmtime(s) for s in (src, *deps)):
        return
    cc = os.environ.get("CC", "cc")
    cmd = [cc, "-O2", "-std=c11", "-Wall", "-Wextra", "-o", out, src, *[d for d in deps if d.endswith(".c")], *libs]
    log("building: " + " ".join(cmd))
    subprocess.run(cmd, check=True, timeout=120)


def build_loadgen():
    """The load generator: loadgen.c with its TLS client (tls_client.c) and msgpack wire code (msgpack_wire.c), when
    a source is newer than the binary."""
    build_c(LOADGEN_BIN, LOADGEN_SRC, [*LOADGEN_DEPS, *LOADGEN_TLS],
            libs=("-luv", "-lssl", "-lcrypto", "-lmsgpackc", "-lm"))


def machine_busy_cores(seconds=1.0):
    """Cores kept busy by anything on the machine, measured over a short idle period."""
    def busy():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v) - v[3] - v[4], sum(v)
    b0, t0 = busy()
    time.sleep(seconds)
    b1, t1 = busy()
    return (b1 - b0) / max(1, t1 - t0) * (os.cpu_count() or 1)


def ensure_venv():
    py = os.path.join(VENV, "bin", "python")
    with open(REQUIREMENTS, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(VENV, ".requirements.sha256")
    if os.path.exists(py) and os.path.exists(stamp) and open(stamp).read().strip() == want:
        return py
    if not os.path.exists(py):
        log(f"creating {VENV}")
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True, timeout=300)
    log("installing the peer's requirements")
    subprocess.run([py, "-m", "pip", "install", "-q", "-r", REQUIREMENTS], check=True, timeout=900)
    with open(stamp, "w") as f:
        f.write(want + "\n")
    return py


def find_ours(arg):
    if arg:
        return os.path.abspath(arg)
    default = os.path.join(ROOT, ".build", "release", "sio-bench-server")
    if os.access(default, os.X_OK):
        return default  # what `swift build -c release --show-bin-path` names with the default scratch path
    try:
        out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        path = out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else ""
    except (OSError, subprocess.TimeoutExpired):
        path = ""
    if not path:
        path = os.path.join(ROOT, ".build", "release")
    return os.path.join(path, "sio-bench-server")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, limit=30.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on 127.0.0.1:{port} within {limit:.0f}s")


def make_tls_cert(directory):
    """A throwaway CA and a server certificate for localhost and 127.0.0.1 signed by it (ECDSA P-256, 2 days),
    made with the openssl CLI; returns {cert, key, ca} paths."""
    def sh(*cmd):
        subprocess.run(["openssl", *cmd], cwd=directory, check=True, capture_output=True, timeout=60)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    sh("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=sio-bench throwaway CA")
    sh("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    sh("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
       "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    return {k: os.path.join(directory, f) for k, f in (("cert", "server.pem"), ("key", "server.key"), ("ca", "ca.pem"))}


def make_variants(servers, ours_bin, base_bin, loops, balancing, flagged=(), tls=None, parsers=("json",)):
    """The server columns: name -> {kind, bin, loops, balancing[, parser]}. ours (one loop), ours@N and ours@N-rr
    (N loops, SO_REUSEPORT or round-robin), ours+NAME (one loop with the --variant's extra flags), base (the
    --baseline-bin build, one loop), peer, floor; with tls (make_tls_cert's paths) ours-tls and peer-tls (one
    loop, WSS); with the msgpack parser ours-mp and peer-mp (one loop). Without
    json in parsers, ours and peer (and their loop and flag variants) are left out."""
    variants = make_json_variants(servers, ours_bin, base_bin, loops, balancing, flagged, tls)
    if "json" not in parsers:
        variants = {n: v for n, v in variants.items() if v["kind"] not in ("ours", "peer")}
    if "msgpack" in parsers:
        if "ours" in servers:
            variants["ours-mp"] = {"kind": "ours", "bin": ours_bin, "loops": 1, "balancing": "reuseport",
                                   "parser": "msgpack"}
        if "peer" in servers:
            variants["peer-mp"] = {"kind": "peer", "loops": 1, "balancing": None, "parser": "msgpack"}
    return variants


def make_json_variants(servers, ours_bin, base_bin, loops, balancing, flagged=(), tls=None):
    variants = {}
    if "ours" in servers:
        for n in loops:
            for b in (balancing if n > 1 else ["reuseport"]):
                name = "ours" if n == 1 else f"ours@{n}{BALANCING[b]}"
                variants[name] = {"kind": "ours", "bin": ours_bin, "loops": n, "balancing": b}
        for name, flags in flagged:
            variants[f"ours+{name}"] = {"kind": "ours", "bin": ours_bin, "loops": 1, "balancing": "reuseport",
                                        "args": flags}
    if "base" in servers:
        variants["base"] = {"kind": "base", "bin": base_bin, "loops": 1, "balancing": None}
    for s in ("peer", "floor"):
        if s in servers:
            variants[s] = {"kind": s, "loops": 1, "balancing": None}
    if tls:
        if "ours" in servers:
            variants["ours-tls"] = {"kind": "ours", "bin": ours_bin, "loops": 1, "balancing": "reuseport", "tls": tls}
        if "peer" in servers:
            variants["peer-tls"] = {"kind": "peer", "loops": 1, "balancing": None, "tls": tls}
    return variants


def applies(sc, v):
    """Whether a server column runs a scenario."""
    if v.get("tls"):
        return sc in TLS_SCENARIOS
    if v.get("parser") == "msgpack":
        return sc in MSGPACK_SCENARIOS
    if sc in ON_REQUEST:
        return resilience.applies(v)
    if sc in CLUSTER:
        return v["kind"] == "ours" and v["loops"] == 1 and not v.get("args")  # a cluster of our nodes (one loop each)
    if v["kind"] == "floor":
        return sc not in ("polling-echo", *BURN)  # WebSocket only, no handler work
    if v["kind"] == "base":
        return sc not in BURN  # the previous build has no --burn-us
    return True


def server_cmd(v, port, sc, venv_py, burn_us):
    burn = ["--burn-us", str(burn_us)] if sc in BURN and burn_us > 0 else []
    if v.get("tls"):
        burn += ["--tls-cert", v["tls"]["cert"], "--tls-key", v["tls"]["key"]]
    if v["kind"] in ("ours", "base"):
        cmd = [v["bin"], "--port", str(port)]
        if v["loops"] > 1:
            cmd += ["--loops", str(v["loops"]), "--loop-balancing", v["balancing"]]
        return cmd + burn + parser_args(v) + list(v.get("args", []))
    if v["kind"] == "floor":
        return [FLOOR_BIN, "--port", str(port)]
    return [venv_py, PEER, "--port", str(port)] + burn + parser_args(v)


def parser_args(v):
    """--parser msgpack for a msgpack column (the same flag on sio-bench-server, the peer and the load generator)."""
    return ["--parser", v["parser"]] if v.get("parser", "json") != "json" else []


def loadgen_cmd(scenario, params, port, pid, extra=()):
    cmd = [LOADGEN_BIN, scenario, "--port", str(port), "--server-pid", str(pid), *extra]
    for k, v in params.items():
        cmd += [f"--{k}", str(v)]
    return cmd


def time_limit(params):
    return (params.get("timeout", 60) * 2 + params.get("warmup", 0) + params.get("duration", 0)
            + params.get("hold", 0) + params.get("drain", 0) + 30)


def wait_idle(limit):
    """Waits (at most limit seconds) until the machine is nearly idle; returns the last busy figure."""
    deadline = time.monotonic() + limit
    busy = machine_busy_cores(0.5)
    while busy > 0.25 and time.monotonic() < deadline:
        time.sleep(2)
        busy = machine_busy_cores(0.5)
    return busy


def pin_sets(pin):
    ncpu = os.cpu_count() or 1
    srv_cpus = {ncpu - 1} if pin and ncpu > 1 else None
    lg_cpus = set(range(ncpu - 1)) if pin and ncpu > 1 else None
    return srv_cpus, lg_cpus


def proc_cpu_ticks(pid):
    """utime + stime of a process in clock ticks (/proc/PID/stat), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # fields 14 and 15 of the line
    except (OSError, IndexError, ValueError):
        return None


class CPUSampler:
    """Samples a process's utime+stime from /proc every `period` seconds on a thread: the busiest span of at
    least `span` seconds, in cores (an outside check of the load generator's own getrusage figure)."""

    def __init__(self, pid, period=0.25):
        import threading
        self.pid, self.period, self.samples = pid, period, []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.is_set():
            t = proc_cpu_ticks(self.pid)
            if t is None:
                break
            self.samples.append((time.monotonic(), t))
            self.done.wait(self.period)

    def stop(self):
        self.done.set()
        self.thread.join(timeout=2)

    def peak(self, span=1.0):
        hz = os.sysconf("SC_CLK_TCK")
        best, j = None, 0
        for i, (t0, c0) in enumerate(self.samples):
            while j < len(self.samples) and self.samples[j][0] - t0 < span:
                j += 1
            if j >= len(self.samples):
                break
            t1, c1 = self.samples[j]
            util = (c1 - c0) / hz / (t1 - t0)
            best = util if best is None else max(best, util)
        return best


def run_loadgen(cmd, params, lg_cpus, servers):
    """Runs the load generator; returns its JSON with server_alive_after (every process in servers alive)."""
    lg = spawn(cmd, cpus=lg_cpus, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    sampler = CPUSampler(lg.pid)
    try:
        out, err = lg.communicate(timeout=time_limit(params))
    except subprocess.TimeoutExpired:
        stop_child(lg)
        raise RuntimeError("load generator timed out")
    finally:
        sampler.stop()
    CHILDREN.remove(lg)
    if lg.returncode != 0:
        raise RuntimeError(f"load generator failed ({lg.returncode}): {err.decode(errors='replace').strip()}")
    res = json.loads(out)
    res["loadgen_proc_cpu_util_peak_1s"] = sampler.peak(1.0)
    res["server_alive_after"] = all(p.poll() is None for p in servers)
    if not res["server_alive_after"]:
        res["ok"] = False
    return res


def run_one(scenario, params, which, v, venv_py, logdir, pin=False, burn_us=DEFAULT_BURN_US):
    port = free_port()
    errlog = open(os.path.join(logdir, f"{which}-{scenario}.server.log"), "ab")
    srv_cpus, lg_cpus = pin_sets(pin)
    srv = spawn(server_cmd(v, port, scenario, venv_py, burn_us), cpus=srv_cpus, stdout=errlog, stderr=errlog,
                stdin=subprocess.DEVNULL)
    try:
        wait_port(port, srv)
        time.sleep(0.3)  # let the server settle before the RSS baseline
        lg_scenario = LG_SCENARIO.get(scenario, scenario)
        extra = ["--tls-ca", v["tls"]["ca"]] if v.get("tls") else []
        return run_loadgen(loadgen_cmd(lg_scenario, params, port, srv.pid, extra + parser_args(v)), params, lg_cpus,
                           [srv])
    finally:
        stop_child(srv)
        errlog.close()


def redis_command(port, *parts, timeout=2.0):
    """One RESP command on a fresh connection; returns the raw reply bytes (enough for NUMSUB)."""
    req = b"".join([b"*%d\r\n" % len(parts)] + [b"$%d\r\n%s\r\n" % (len(x.encode()), x.encode()) for x in parts])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(req)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            if data.startswith(b"*2\r\n") and data.count(b"\r\n") >= 4:  # *2 $len channel :count
                break
            if data.startswith(b"-"):
                break
        return data


def redis_numsub(port, channel):
    reply = redis_command(port, "PUBSUB", "NUMSUB", channel)
    lines = reply.split(b"\r\n")
    if len(lines) >= 4 and lines[3].startswith(b":"):
        return int(lines[3][1:])
    raise RuntimeError(f"unexpected PUBSUB NUMSUB reply {reply[:80]!r}")


def wait_subscribed(redis_port, nodes, want, channel, limit=15.0):
    """Waits until `want` nodes listen on `channel` (READY_CHANNEL: the pub/sub adapter subscribes to the
    request channel of `/` after pattern-subscribing to the broadcast channels, on the same connection; the
    streams adapter to its public channel once its stream reader runs)."""
    deadline = time.monotonic() + limit
    n = 0
    while time.monotonic() < deadline:
        for p in nodes:
            if p.poll() is not None:
                raise RuntimeError(f"cluster node exited with code {p.returncode}")
        try:
            n = redis_numsub(redis_port, channel)
        except (OSError, RuntimeError):
            n = 0
        if n >= want:
            return
        time.sleep(0.05)
    raise RuntimeError(f"only {n} of {want} cluster nodes subscribed to Redis within {limit:.0f}s")


@contextlib.contextmanager
def redis_cluster(adapter_flag, cluster_bin, redis_bin, logdir, label, node_flags=(), cpus=None):
    """A fresh redis-server and two sio-cluster-node processes on it (`adapter_flag`: --redis or --redis-streams,
    each node with `node_flags` too), both subscribed; yields {redis, nodes, ports, redis_port}; stops the nodes,
    then redis, on exit. Logs: `<label>.redis.log`, `<label>.node-A.log`, `<label>.node-B.log` in logdir."""
    logs = []
    procs = []
    with tempfile.TemporaryDirectory(prefix="redis-", dir=BUILD) as rdir:
        try:
            rport = free_port()
            rlog = open(os.path.join(logdir, f"{label}.redis.log"), "ab")
            logs.append(rlog)
            redis = spawn([redis_bin, "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                           "--dir", rdir, "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning"],
                          cpus=cpus, stdout=rlog, stderr=rlog, stdin=subprocess.DEVNULL)
            procs.append(redis)
            wait_port(rport, redis)
            nodes, ports = [], []
            for name in ("A", "B"):
                port = free_port()
                log_ = open(os.path.join(logdir, f"{label}.node-{name}.log"), "ab")
                logs.append(log_)
                node = spawn([cluster_bin, "--port", str(port), adapter_flag, f"redis://127.0.0.1:{rport}",
                              "--name", f"bench-{name}", "--host", "127.0.0.1", *node_flags],
                             cpus=cpus, stdout=log_, stderr=log_, stdin=subprocess.DEVNULL)
                procs.append(node)
                nodes.append(node)
                ports.append(port)
            for node, port in zip(nodes, ports):
                wait_port(port, node)
            wait_subscribed(rport, nodes, len(nodes), READY_CHANNEL[adapter_flag])
            yield {"redis": redis, "nodes": nodes, "ports": ports, "redis_port": rport, "procs": procs}
        finally:
            for p in reversed(procs):  # the nodes first, then redis
                stop_child(p)
            for f in logs:
                f.close()


def run_cluster(scenario, params, cluster_bin, redis_bin, logdir, pin=False):
    """A fresh redis-server and two sio-cluster-node processes on it; the receivers alternate between the
    nodes (loadgen --port2), the sender is on the first; CPU: both nodes (server), redis-server (aux)."""
    lg_scenario, _, adapter_flag = CLUSTER[scenario]
    srv_cpus, lg_cpus = pin_sets(pin)
    with redis_cluster(adapter_flag, cluster_bin, redis_bin, logdir, f"ours-{scenario}", cpus=srv_cpus) as cl:
        time.sleep(0.3)  # let the servers settle before the RSS baseline
        nodes, ports, redis = cl["nodes"], cl["ports"], cl["redis"]
        pids = ",".join(str(n.pid) for n in nodes)
        cmd = loadgen_cmd(lg_scenario, params, ports[0], pids,
                          ["--port2", str(ports[1]), "--join-ack", "--aux-pid", str(redis.pid)])
        res = run_loadgen(cmd, params, lg_cpus, cl["procs"])
        res["cluster"] = {"nodes": len(nodes), "ports": ports, "redis_port": cl["redis_port"],
                          "node_pids": [n.pid for n in nodes], "redis_pid": redis.pid}
        return res


def median(vals):
    vals = [v for v in vals if isinstance(v, (int, float)) and v is not None]
    return statistics.median(vals) if vals else None


def loop_split(run, loops):
    """Engine.IO sessions per loop of a multi-loop server (session ids name their loop by the first character)."""
    first = run.get("setup", {}).get("sid_first_chars")
    if loops < 2 or not isinstance(first, dict):
        return None
    return [int(first.get(LOOP_MARKS[i], 0)) for i in range(loops)]


def summarize(sc, runs, loops=1):
    if not runs:
        return {}
    keys = set()
    for r in runs:
        keys.update(k for k, v in r.get("metrics", {}).items() if isinstance(v, (int, float)))
    med = {k: median([r["metrics"].get(k) for r in runs]) for k in sorted(keys)}
    # the connect scenario's busy phase is the setup window; the others' is the measured window
    win = "setup_window" if sc == "connect" else "window"
    med["loadgen_cpu_util_max"] = max(r.get(win, {}).get("loadgen_cpu_util", 0) for r in runs)
    med["server_cpu_util"] = median([r.get(win, {}).get("server_cpu_util") for r in runs])
    if any("aux_cpu_util" in r.get(win, {}) for r in runs):
        med["aux_cpu_util"] = median([r.get(win, {}).get("aux_cpu_util") for r in runs])
    if any("server_cpu_us_each" in r.get(win, {}) for r in runs):  # several server processes: each one's cores
        for i in range(max(len(r.get(win, {}).get("server_cpu_us_each", [])) for r in runs)):
            med[f"server_cpu_util_node{i + 1}"] = median(
                [w["server_cpu_us_each"][i] / 1e6 / w["wall_s"] for w in (r.get(win, {}) for r in runs)
                 if len(w.get("server_cpu_us_each", [])) > i and w.get("wall_s")])
    med["other_cpu_util_max"] = max(r.get(win, {}).get("other_cpu_util", 0) for r in runs)
    peaks = [r.get("loadgen_proc_cpu_util_peak_1s") for r in runs]
    peaks = [x for x in peaks if isinstance(x, (int, float))]
    if peaks:
        med["loadgen_proc_cpu_util_max"] = max(peaks)
    splits = [x for x in (loop_split(r, loops) for r in runs) if x and sum(x)]
    if splits:
        counts = [median([x[i] for x in splits]) for i in range(loops)]
        med["sessions_per_loop"] = " / ".join(f"{c:,.0f}" for c in counts)
        med["busiest_loop_share"] = median([max(x) / sum(x) for x in splits])
    med["all_ok"] = all(r.get("ok") for r in runs)
    return med


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "yes" if v else "no"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def bar_ok(bar, v):
    if bar is None or not isinstance(v, (int, float)):
        return None
    op, x = bar
    return {">=": v >= x, "<=": v <= x, "<": v < x}[op]


EXTRA_ROWS = [
    ("loadgen_cpu_util_max", "loadgen CPU, cores (max)", False, None),
    ("other_cpu_util_max", "other CPU on machine, cores (max)", False, None),
]
# With a multi-loop column: how the connections were spread over its loops (from the session ids)
LOOP_ROWS = [
    ("sessions_per_loop", "Engine.IO sessions per loop (median)", False, None),
    ("busiest_loop_share", "busiest loop's share of sessions", False, None),
]
# Rows that are context: no ratio
NO_RATIO = {"loadgen_cpu_util_max", "other_cpu_util_max", "loadgen_proc_cpu_util_max", "sessions_per_loop",
            "busiest_loop_share"}


def ratio_of(a, b):
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def short(name):
    """ours@2-rr -> @2-rr, ours -> @1 (the ratio columns' labels)."""
    return name[4:] if name.startswith("ours@") else "@1"


def ratio_columns(variants):
    """(label, numerator, denominator) of the ratio columns the servers of this run allow."""
    cols = []
    if "ours" in variants and "peer" in variants:
        cols.append(("ours/peer", "ours", "peer"))
    if "ours" in variants:
        for name, v in variants.items():
            if v["kind"] == "ours" and v["loops"] > 1:
                cols.append((f"{short(name)}/@1", name, "ours"))
    if "ours" in variants and "base" in variants:
        cols.append(("ours/base", "ours", "base"))
    if "ours-mp" in variants and "peer-mp" in variants:
        cols.append(("ours-mp/peer-mp", "ours-mp", "peer-mp"))
    if "ours-mp" in variants and "ours" in variants:
        cols.append(("ours-mp/ours", "ours-mp", "ours"))
    for name, v in variants.items():
        if v.get("args") and "ours" in variants:
            cols.append((f"{name[4:]}/ours", name, "ours"))
    for name in ("ours", "peer"):
        if f"{name}-tls" in variants and name in variants:
            cols.append((f"{name} tls/plain", f"{name}-tls", name))
    if "ours-tls" in variants and "peer-tls" in variants:
        cols.append(("tls ours/peer", "ours-tls", "peer-tls"))
    return cols


def diff_columns(variants):
    """(label, minuend, subtrahend) of the difference columns: what TLS adds to the same server."""
    return [(f"{n} tls-plain", f"{n}-tls", n) for n in ("ours", "peer") if f"{n}-tls" in variants and n in variants]


def diff_of(a, b):
    return a - b if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None


def build_table(results, quick, variants):
    servers = list(variants)
    multi = [n for n, v in variants.items() if v["kind"] == "ours" and v["loops"] > 1]
    cols = ratio_columns(variants)
    dcols = diff_columns(variants)
    rows = []
    for sc, res in results.items():
        extra_rows = [r for r in EXTRA_ROWS + (LOOP_ROWS if multi and sc not in CLUSTER else [])
                      if r[0] not in {k for k, *_ in ROWS[sc]}]
        for key, label, higher, bar in ROWS[sc] + extra_rows:
            vals = {s: res.get(s, {}).get("median", {}).get(key) for s in servers}
            o = vals.get("ours")
            ratios = {c: (None if key in NO_RATIO else ratio_of(vals.get(a), vals.get(b))) for c, a, b in cols}
            diffs = {c: (None if key in NO_RATIO else diff_of(vals.get(a), vals.get(b))) for c, a, b in dcols}
            extra = {}
            if sc in CLUSTER:
                # the single-node figure of the same run, next to the cluster's
                single = results.get(CLUSTER[sc][1], {}).get("ours", {}).get("median", {}).get(key)
                extra = {"single_node": single,
                         "cluster_vs_single": None if key in NO_RATIO else ratio_of(o, single)}
            # the bars: absolute ones on every column of ours, ratio ones on each multi-loop column against one loop
            judged, texts = {}, []
            if bar:
                texts.append(f"{bar[0]} {bar[1]}")
                for n in servers:
                    if variants[n]["kind"] == "ours" and not variants[n].get("tls") and n in res and not quick:
                        ok = bar_ok(bar, vals.get(n))
                        if ok is not None:
                            judged[n] = ok
            rb = RATIO_BARS.get((sc, key))
            if rb:
                for n in multi:
                    rbar = rb(variants[n]["loops"])
                    texts.append(f"{short(n)}/@1 {rbar[0]} {rbar[1]}x")
                    if not quick:
                        ok = bar_ok(rbar, ratios.get(f"{short(n)}/@1"))
                        if ok is not None:
                            judged[f"{short(n)}/@1"] = ok
            tb = TLS_BARS.get((sc, key))
            if tb and "ours-tls" in variants and "ours" in variants:
                kind, op, x = tb
                col = "ours tls/plain" if kind == "ratio" else "ours tls-plain"
                texts.append(f"tls/plain {op} {x}x" if kind == "ratio" else f"tls-plain {op} {x}")
                if not quick:
                    ok = bar_ok((op, x), (ratios if kind == "ratio" else diffs).get(col))
                    if ok is not None:
                        judged[col] = ok
            mb = MSGPACK_BARS.get((sc, key))
            if mb and "ours-mp/ours" in ratios:
                texts.append(f"ours-mp/ours {mb[0]} {mb[1]}x")
                if not quick:
                    ok = bar_ok(mb, ratios.get("ours-mp/ours"))
                    if ok is not None:
                        judged["ours-mp/ours"] = ok
            texts = list(dict.fromkeys(texts))
            met = all(judged.values()) if judged else None
            rows.append({"scenario": sc, "metric": key, "label": label, **vals,
                         "ratio": ratios.get("ours/peer"), "ratios": ratios, "diffs": diffs, **extra,
                         "higher_is_better": higher,
                         "bar": "; ".join(texts) if texts else None, "bar_met": met, "bar_judged": judged})
    return rows


def print_table(rows, quick, variants):
    servers = list(variants)
    cols = [c for c, *_ in ratio_columns(variants)]
    dcols = [c for c, *_ in diff_columns(variants)]
    cluster = any(r["scenario"] in CLUSTER for r in rows)
    hdr = (["scenario", "metric"] + servers + (["beside", "ours/beside"] if cluster else [])
           + cols + dcols + ["bar (ours)"])
    lines = []
    for r in rows:
        bar = r["bar"] or ""
        if bar and r["bar_met"] is not None:
            missed = [k for k, ok in r["bar_judged"].items() if not ok]
            bar += "  ok" if r["bar_met"] else "  MISSED (" + ", ".join(missed) + ")"
        side = []
        if cluster:
            if r["scenario"] in CLUSTER:
                cvs = r.get("cluster_vs_single")
                side = [fmt(r.get("single_node")), f"{cvs:.2f}x" if cvs is not None else "-"]
            else:
                side = ["", ""]
        lines.append([r["scenario"], r["label"] + (" (higher better)" if r["higher_is_better"] else "")]
                     + [fmt(r.get(s)) for s in servers] + side
                     + [f"{r['ratios'][c]:.2f}x" if r["ratios"].get(c) is not None else "-" for c in cols]
                     + [fmt(r["diffs"].get(c)) for c in dcols] + [bar])
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *lines)]
    right = set(range(2, 2 + len(servers) + (2 if cluster else 0) + len(cols) + len(dcols)))
    print()
    print("  ".join(h.ljust(w) for h, w in zip(hdr, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    last = None
    for ln in lines:
        if last is not None and ln[0] != last:
            print()
        last = ln[0]
        print("  ".join((c.rjust(w) if i in right else c.ljust(w)) for i, (c, w) in enumerate(zip(ln, widths))).rstrip())
    if cluster:
        print("\n(cluster-broadcast: the ours column is two sio-cluster-node processes on one redis-server, "
              "receivers split between them;\n 'beside' is the broadcast row of this run, one sio-bench-server. "
              "streams-broadcast: the same two nodes on the\n streams adapter; 'beside' is cluster-broadcast of "
              "this run, the pub/sub adapter)")
    if any(v["kind"] == "ours" and v["loops"] > 1 for v in variants.values()) or "base" in variants:
        print("\n(ours: one loop; ours@N: N loops, SO_REUSEPORT; ours@N-rr: N loops, round-robin hand-out; "
              "base: the --baseline-bin build, one loop)")
    if dcols:
        print("\n(ours-tls, peer-tls: the same servers over TLS (wss://, https://), a throwaway ECDSA P-256 certificate,"
              " full\n handshakes, the load generator verifying the chain; tls-plain: what TLS adds)")
    if any(v.get("parser") == "msgpack" for v in variants.values()):
        print("\n(-mp: the msgpack parser: sio-bench-server --parser msgpack, python-socketio serializer='msgpack', "
              "the load generator speaking socket.io-msgpack-parser)")
    if quick:
        print("\n(--quick: small sizes; the bars apply to the full-size run only)")


def machine_info():
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["mem_kb"] = int(line.split()[1])
                break
    except OSError:
        pass
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libuv1"], capture_output=True, text=True,
                             timeout=10)
        info["libuv1"] = out.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return info


def find_cluster_node(arg, ours_bin):
    """sio-cluster-node: --cluster-bin, else next to our server, else the release build (built when missing)."""
    if arg:
        return os.path.abspath(arg)
    if ours_bin:
        beside = os.path.join(os.path.dirname(ours_bin), "sio-cluster-node")
        if os.access(beside, os.X_OK):
            return beside
    default = os.path.join(ROOT, ".build", "release", "sio-cluster-node")
    if os.access(default, os.X_OK):
        return default
    cmd = ["swift", "build", "-c", "release", "--product", "sio-cluster-node"]
    log("building: " + " ".join(cmd) + " (in " + ROOT + ")")
    try:
        subprocess.run(cmd, cwd=ROOT, check=True, timeout=3600)
        out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, capture_output=True,
                             text=True, timeout=120, check=True)
        return os.path.join(out.stdout.strip().splitlines()[-1], "sio-cluster-node")
    except (OSError, subprocess.SubprocessError, IndexError) as e:
        log(f"building sio-cluster-node failed: {e}")
        return default


def find_redis(arg):
    return arg or shutil.which("redis-server") or ("/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK)
                                                    else None)


def tool_version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def parse_set(items):
    over = {}
    for it in items or []:
        key, _, val = it.partition("=")
        sc, _, param = key.partition(".")
        if sc not in SCENARIOS or not param or not val:
            raise SystemExit(f"--set wants SCENARIO.PARAM=VALUE, got {it!r}")
        over.setdefault(sc, {})[param] = float(val) if "." in val else int(val)
    return over


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, short runs, 1 repetition (about a minute)")
    ap.add_argument("--only", action="append", metavar="SCENARIO",
                    help="run only this scenario (repeatable, or comma separated): " + ", ".join(SCENARIOS)
                         + "; the last four (resilience) run only when named here")
    ap.add_argument("--ours-bin", help="path of sio-bench-server (default: from swift build -c release --show-bin-path)")
    ap.add_argument("--no-peer", action="store_true", help="do not run the python-socketio peer")
    ap.add_argument("--no-ours", action="store_true", help="do not run our server (peer only)")
    ap.add_argument("--floor", action="store_true",
                    help="also run Benchmarks/floor/floor_server.c, a minimal C server of the contract "
                         "(WebSocket scenarios only): the machine's floor, and proof the load generator keeps up")
    ap.add_argument("--reps", type=int, help="repetitions per scenario and server (default 3, 1 with --quick)")
    ap.add_argument("--json", help="write the results as JSON to this path")
    ap.add_argument("--pin", action="store_true",
                    help="pin the server to the last CPU and the load generator to the others")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                    help="before each run, wait up to SECONDS for the machine to be idle (shared machines)")
    ap.add_argument("--set", action="append", metavar="SCENARIO.PARAM=VALUE",
                    help="override a load generator parameter, e.g. broadcast.rate=500 (repeatable)")
    ap.add_argument("--cluster-bin", help="path of sio-cluster-node for cluster-broadcast (default: next to our "
                                          "server, else the release build, built when missing)")
    ap.add_argument("--redis-server", help="path of redis-server for cluster-broadcast (default: from PATH)")
    ap.add_argument("--loops", default="1", metavar="N[,N...]",
                    help="run our server with each of these loop counts (sio-bench-server --loops N), side by side: "
                         "columns ours (1 loop) and ours@N; 0 or auto = one per core (default 1)")
    ap.add_argument("--loop-balancing", default="reuseport", metavar="MODE[,MODE]",
                    help="for loop counts above 1, each of these modes: reuseport (column ours@N) and/or "
                         "round-robin (column ours@N-rr) (default reuseport)")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS",
                    help="also run our server (one loop) with these extra flags, column ours+NAME beside ours, e.g. "
                         "--variant metrics=--metrics (repeatable)")
    ap.add_argument("--baseline-bin", metavar="PATH",
                    help="also run this sio-bench-server build (one loop, no new options) in the same run: column "
                         "base, ratio ours/base; e.g. the previous commit's, to show no regression")
    ap.add_argument("--transport", default="plain", metavar="T[,T]",
                    help="plain and/or tls: with tls, our server and the peer also run over TLS (columns ours-tls, "
                         "peer-tls) on " + ", ".join(TLS_SCENARIOS) + " with a throwaway certificate (default plain)")
    ap.add_argument("--parser", default="json", metavar="P[,P]",
                    help="json and/or msgpack (default json): msgpack adds the columns ours-mp (sio-bench-server "
                         "--parser msgpack) and peer-mp (python-socketio serializer='msgpack'); without json, only "
                         "those (the baseline and the floor server stay JSON)")
    ap.add_argument("--burn-us", type=int, default=DEFAULT_BURN_US, metavar="N",
                    help=f"echo-ack-work: CPU microseconds each echo-ack handler burns (default {DEFAULT_BURN_US})")
    args = ap.parse_args()
    global CLUSTER_BIN_ARG
    CLUSTER_BIN_ARG = args.cluster_bin

    loops = []
    for item in args.loops.split(","):
        item = item.strip()
        try:
            n = (os.cpu_count() or 1) if item in ("0", "auto") else int(item)
        except ValueError:
            ap.error(f"--loops wants numbers or auto, got {item!r}")
        if not 1 <= n <= len(LOOP_MARKS):
            ap.error(f"--loops: {n} is outside 1..{len(LOOP_MARKS)}")
        if n not in loops:
            loops.append(n)
    loops.sort()
    balancing = [b.strip() for b in args.loop_balancing.split(",") if b.strip()]
    for b in balancing:
        if b not in BALANCING:
            ap.error(f"--loop-balancing is reuseport and/or round-robin, got {b!r}")
    if not balancing:
        ap.error("--loop-balancing needs a mode")
    if args.burn_us < 0:
        ap.error("--burn-us must be >= 0")
    transports = [t.strip() for t in args.transport.split(",") if t.strip()]
    if not transports or any(t not in ("plain", "tls") for t in transports):
        ap.error(f"--transport is plain and/or tls, got {args.transport!r}")
    if "tls" in transports and not shutil.which("openssl"):
        ap.error("--transport tls needs the openssl command (apt-get install openssl)")
    parsers = [x.strip() for x in args.parser.split(",") if x.strip()]
    if not parsers or any(x not in PARSERS for x in parsers):
        ap.error(f"--parser is json and/or msgpack, got {args.parser!r}")

    redis_bin = find_redis(args.redis_server)
    scenarios = list(SCENARIOS)
    if args.only:
        scenarios = [s for item in args.only for s in item.split(",") if s]
        for s in scenarios:
            if s not in SCENARIOS:
                ap.error(f"unknown scenario {s!r}; choose from {', '.join(SCENARIOS)}")
        if any(s in CLUSTER for s in scenarios):
            if args.no_ours:
                ap.error("the cluster scenarios run our server only: drop --no-ours")
            if not redis_bin:
                ap.error("cluster-broadcast needs redis-server (apt-get install redis-server, or --redis-server PATH)")
    else:
        drop = []
        if args.no_ours:
            drop = list(CLUSTER)
        elif not redis_bin:
            drop = list(CLUSTER)
            log("note: redis-server not found; skipping " + ", ".join(drop))
        scenarios = [s for s in scenarios if s not in drop and s not in ON_REQUEST and s not in BINARY]
    reps = args.reps if args.reps else (1 if args.quick else 3)
    if reps < 1 or reps > 20:
        ap.error("--reps must be 1..20")
    servers = [s for s, run in (("ours", not args.no_ours), ("base", bool(args.baseline_bin)),
                                ("peer", not args.no_peer), ("floor", args.floor)) if run]
    if not servers:
        ap.error("nothing to run (--no-ours and --no-peer)")
    base_bin = os.path.abspath(args.baseline_bin) if args.baseline_bin else None
    if base_bin and not os.access(base_bin, os.X_OK):
        ap.error(f"--baseline-bin: {base_bin} is not an executable")
    sizes = QUICK if args.quick else FULL
    overrides = parse_set(args.set)
    for sc in resilience.SCENARIOS:  # their rows name the sizes they run
        ROWS[sc] = resilience.rows(sc, {**sizes[sc], **overrides.get(sc, {})})

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        nofile = raise_fd_limit()
        need = max(resilience.descriptors(s, sizes[s]) if s in ON_REQUEST else sizes[s]["clients"]
                   for s in scenarios) + 100
        if nofile < need:
            log(f"warning: RLIMIT_NOFILE is {nofile}, below the {need} descriptors the largest scenario needs")
        build_loadgen()
        if "floor" in servers:
            build_c(FLOOR_BIN, FLOOR_SRC)
        busy = machine_busy_cores()
        log(f"machine: {busy:.2f} cores busy before the run")
        if busy > 0.2:
            log("warning: the machine is not idle; CPU figures will be noisy (see 'other CPU' in the table)")
        ours_bin = venv_py = cluster_bin = None
        if "ours" in servers:
            ours_bin = find_ours(args.ours_bin)
            if not os.access(ours_bin, os.X_OK) and any(s not in CLUSTER for s in scenarios):
                log(f"our server is not built: {ours_bin} (build it with `swift build -c release`, "
                    "pass --ours-bin PATH, or run the peer alone with --no-ours)")
                return 2
        if any(s in CLUSTER for s in scenarios):
            cluster_bin = find_cluster_node(args.cluster_bin, ours_bin)
            if not os.access(cluster_bin, os.X_OK):
                log(f"sio-cluster-node is not built: {cluster_bin} (swift build -c release --product "
                    "sio-cluster-node, or --cluster-bin PATH)")
                return 2
            log(f"cluster: {cluster_bin}, {redis_bin}")
        if "peer" in servers or any(sc in resilience.SCENARIOS for sc in scenarios):
            venv_py = ensure_venv()  # the peer, and the resilience scenarios' Python drivers (churn, slow clients)
        flagged = []
        for item in args.variant:
            name, _, flags = item.partition("=")
            if not name or not flags:
                ap.error(f"--variant {item!r}: NAME=FLAGS")
            flagged.append((name, shlex.split(flags)))
        tls = None
        if "tls" in transports:
            tls_dir = tempfile.mkdtemp(prefix="tls-", dir=BUILD)
            atexit_dirs.append(tls_dir)
            tls = make_tls_cert(tls_dir)
            log(f"tls: throwaway CA and certificate in {tls_dir}")
        variants = make_variants(servers, ours_bin, base_bin, loops, balancing, flagged, tls, parsers)
        if "plain" not in transports:  # TLS columns alone
            variants = {n: v for n, v in variants.items() if v.get("tls")}
        log("servers: " + ", ".join(variants))
        logdir = os.path.join(BUILD, "logs")
        os.makedirs(logdir, exist_ok=True)

        started = time.time()
        results = {}
        for sc in scenarios:
            params = dict(sizes[sc])
            params.update(overrides.get(sc, {}))
            results[sc] = {"params": params}
            names = [n for n, v in variants.items() if applies(sc, v)]
            runs = {s: [] for s in names}
            for rep in range(reps):
                order = names if rep % 2 == 0 else list(reversed(names))
                for which in order:
                    if args.wait_idle > 0:
                        b = wait_idle(args.wait_idle)
                        if b > 0.25:
                            log(f"  the machine is still busy ({b:.2f} cores); running anyway")
                    log(f"{sc} rep {rep + 1}/{reps}: {which}")
                    try:
                        if sc in ON_REQUEST:
                            r = resilience.run(sys.modules[__name__], sc, params, which, variants[which], venv_py,
                                               logdir, cpus=pin_sets(args.pin)[0])
                        elif sc in CLUSTER:
                            r = run_cluster(sc, params, cluster_bin, redis_bin, logdir, pin=args.pin)
                        else:
                            r = run_one(sc, params, which, variants[which], venv_py, logdir, pin=args.pin,
                                        burn_us=args.burn_us)
                    except RuntimeError as e:
                        log(f"  failed: {e}")
                        r = {"ok": False, "error": str(e), "metrics": {}, "window": {}}
                    m = r.get("metrics", {})
                    brief = ", ".join(f"{k}={fmt(m.get(k))}" for k, *_ in ROWS[sc] if k in m)
                    win = r.get("setup_window" if sc == "connect" else "window", {})
                    split = loop_split(r, variants[which]["loops"])
                    log(f"  {brief}; loadgen cpu {fmt(win.get('loadgen_cpu_util'))}, other cpu {fmt(win.get('other_cpu_util'))}"
                        + (f"; sessions per loop {'/'.join(map(str, split))}" if split else "")
                        + ("" if r.get("ok") else f"; NOT OK: {r.get('error') or r.get('errors', {}).get('first')}"))
                    runs[which].append(r)
                    time.sleep(0.5)
            for which in names:
                results[sc][which] = {"runs": runs[which], "median": summarize(
                    sc, [r for r in runs[which] if r.get("metrics")], variants[which]["loops"])}

        rows = build_table(results, args.quick, variants)
        print_table(rows, args.quick, variants)
        log(f"finished in {time.time() - started:.0f}s")
        if args.json:
            doc = {
                "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "machine": machine_info(),
                "machine_busy_cores_before": busy,
                "quick": args.quick, "reps": reps, "servers": list(variants), "pin": args.pin,
                "variants": variants, "burn_us": args.burn_us,
                "ours_bin": ours_bin, "baseline_bin": base_bin,
                "cluster_bin": cluster_bin,
                "redis_server": (tool_version([redis_bin, "--version"]) if cluster_bin and redis_bin else None),
                "peer": "python-socketio 5.18.1 (aiohttp + uvloop)" if "peer" in servers else None,
                "transports": transports,
                "tls": ({"certificate": "ECDSA P-256, throwaway CA, SAN localhost/127.0.0.1",
                         "openssl": tool_version(["openssl", "version"])} if "tls" in transports else None),
                "parsers": parsers,
                "scenarios": results, "table": rows,
            }
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=1)
            log(f"wrote {args.json}")
        return 0
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        stop_all()
        for d in atexit_dirs:
            shutil.rmtree(d, ignore_errors=True)


atexit_dirs = []  # throwaway directories (the TLS certificates), removed on the way out

if __name__ == "__main__":
    sys.exit(main())
