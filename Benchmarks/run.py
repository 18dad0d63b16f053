#!/usr/bin/env python3
"""Runs the Socket.IO benchmarks against our server and the python-socketio peer, side by side.

For each scenario and each repetition it starts a fresh server (ours: sio-bench-server --port N;
the peer: Benchmarks/peers/python_socketio_server.py --port N in Benchmarks/.venv), runs the load
generator (Benchmarks/loadgen, built here with cc) against it with the same parameters, and stops
the server. The load generator samples the server's CPU time (utime+stime, /proc/PID/stat) and RSS
(VmRSS) at the boundaries of the measured window. The table shows medians over the repetitions.

cluster-broadcast (ours only) runs the broadcast scenario on a cluster: a fresh redis-server and two
sio-cluster-node processes on it, the receivers alternating between the two nodes, the sender on the
first; the table shows it next to the single-node broadcast figure.

Loopback only; every wait is bounded; everything started here is stopped on exit, Ctrl-C or failure.
Standard library only (the venv is for the peer).
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(HERE, ".venv")
BUILD = os.path.join(HERE, ".build")
LOADGEN_SRC = os.path.join(HERE, "loadgen", "loadgen.c")
LOADGEN_BIN = os.path.join(BUILD, "loadgen")
PEER = os.path.join(HERE, "peers", "python_socketio_server.py")
FLOOR_SRC = os.path.join(HERE, "floor", "floor_server.c")
FLOOR_BIN = os.path.join(BUILD, "floor_server")
REQUIREMENTS = os.path.join(HERE, "requirements.txt")

SCENARIOS = ["connect", "echo-ack", "broadcast", "polling-echo", "cluster-broadcast"]
# Scenarios run on a two-node cluster over Redis (our server only): the load generator's scenario, the
# single-node scenario the table puts next to it.
CLUSTER = {"cluster-broadcast": ("broadcast", "broadcast")}

# Full size (the figures) and --quick (a smoke run of about a minute).
FULL = {
    "connect": {"clients": 10000, "window": 256, "hold": 5, "timeout": 120},
    "echo-ack": {"clients": 100, "inflight": 4, "duration": 5, "warmup": 1, "timeout": 60},
    "broadcast": {"clients": 1000, "rate": 1000, "duration": 5, "drain": 10, "timeout": 60},
    "polling-echo": {"clients": 50, "inflight": 1, "duration": 5, "warmup": 1, "timeout": 60},
    "cluster-broadcast": {"clients": 1000, "rate": 1000, "duration": 5, "drain": 10, "timeout": 60},
}
QUICK = {
    "connect": {"clients": 1000, "window": 256, "hold": 2, "timeout": 60},
    "echo-ack": {"clients": 20, "inflight": 4, "duration": 2, "warmup": 0.5, "timeout": 30},
    "broadcast": {"clients": 100, "rate": 200, "duration": 2, "drain": 5, "timeout": 30},
    "polling-echo": {"clients": 10, "inflight": 1, "duration": 2, "warmup": 0.5, "timeout": 30},
    "cluster-broadcast": {"clients": 100, "rate": 200, "duration": 2, "drain": 5, "timeout": 30},
}

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


def build_c(out, src, deps=()):
    os.makedirs(BUILD, exist_ok=True)
    if os.path.exists(out) and all(os.path.getmtime(out) >= os.path.getmtime(s) for s in (src, *deps)):
        return
    cc = os.environ.get("CC", "cc")
    cmd = [cc, "-O2", "-std=c11", "-Wall", "-Wextra", "-o", out, src, "-luv", "-lcrypto"]
    log("building: " + " ".join(cmd))
    subprocess.run(cmd, check=True, timeout=120)


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


def server_cmd(which, port, ours_bin, venv_py):
    if which == "ours":
        return [ours_bin, "--port", str(port)]
    if which == "floor":
        return [FLOOR_BIN, "--port", str(port)]
    return [venv_py, PEER, "--port", str(port)]


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


def run_loadgen(cmd, params, lg_cpus, servers):
    """Runs the load generator; returns its JSON with server_alive_after (every process in servers alive)."""
    lg = spawn(cmd, cpus=lg_cpus, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        out, err = lg.communicate(timeout=time_limit(params))
    except subprocess.TimeoutExpired:
        stop_child(lg)
        raise RuntimeError("load generator timed out")
    CHILDREN.remove(lg)
    if lg.returncode != 0:
        raise RuntimeError(f"load generator failed ({lg.returncode}): {err.decode(errors='replace').strip()}")
    res = json.loads(out)
    res["server_alive_after"] = all(p.poll() is None for p in servers)
    if not res["server_alive_after"]:
        res["ok"] = False
    return res


def run_one(scenario, params, which, ours_bin, venv_py, logdir, pin=False):
    port = free_port()
    errlog = open(os.path.join(logdir, f"{which}-{scenario}.server.log"), "ab")
    srv_cpus, lg_cpus = pin_sets(pin)
    srv = spawn(server_cmd(which, port, ours_bin, venv_py), cpus=srv_cpus, stdout=errlog, stderr=errlog,
                stdin=subprocess.DEVNULL)
    try:
        wait_port(port, srv)
        time.sleep(0.3)  # let the server settle before the RSS baseline
        return run_loadgen(loadgen_cmd(scenario, params, port, srv.pid), params, lg_cpus, [srv])
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


def wait_subscribed(redis_port, nodes, want, limit=15.0):
    """Waits until `want` nodes listen on the request channel of `/` (each node subscribes to it after
    pattern-subscribing to the broadcast channels, on the same connection)."""
    deadline = time.monotonic() + limit
    n = 0
    while time.monotonic() < deadline:
        for p in nodes:
            if p.poll() is not None:
                raise RuntimeError(f"cluster node exited with code {p.returncode}")
        try:
            n = redis_numsub(redis_port, "socket.io-request#/#")
        except (OSError, RuntimeError):
            n = 0
        if n >= want:
            return
        time.sleep(0.05)
    raise RuntimeError(f"only {n} of {want} cluster nodes subscribed to Redis within {limit:.0f}s")


def run_cluster(scenario, params, cluster_bin, redis_bin, logdir, pin=False):
    """A fresh redis-server and two sio-cluster-node processes on it; the receivers alternate between the
    nodes (loadgen --port2), the sender is on the first; CPU: both nodes (server), redis-server (aux)."""
    lg_scenario = CLUSTER[scenario][0]
    srv_cpus, lg_cpus = pin_sets(pin)
    logs = []
    procs = []
    with tempfile.TemporaryDirectory(prefix="redis-", dir=BUILD) as rdir:
        try:
            rport = free_port()
            rlog = open(os.path.join(logdir, f"ours-{scenario}.redis.log"), "ab")
            logs.append(rlog)
            redis = spawn([redis_bin, "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                           "--dir", rdir, "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning"],
                          cpus=srv_cpus, stdout=rlog, stderr=rlog, stdin=subprocess.DEVNULL)
            procs.append(redis)
            wait_port(rport, redis)
            nodes, ports = [], []
            for name in ("A", "B"):
                port = free_port()
                log_ = open(os.path.join(logdir, f"ours-{scenario}.node-{name}.log"), "ab")
                logs.append(log_)
                node = spawn([cluster_bin, "--port", str(port), "--redis", f"redis://127.0.0.1:{rport}",
                              "--name", f"bench-{name}", "--host", "127.0.0.1"],
                             cpus=srv_cpus, stdout=log_, stderr=log_, stdin=subprocess.DEVNULL)
                procs.append(node)
                nodes.append(node)
                ports.append(port)
            for node, port in zip(nodes, ports):
                wait_port(port, node)
            wait_subscribed(rport, nodes, len(nodes))
            time.sleep(0.3)  # let the servers settle before the RSS baseline
            pids = ",".join(str(n.pid) for n in nodes)
            cmd = loadgen_cmd(lg_scenario, params, ports[0], pids,
                              ["--port2", str(ports[1]), "--join-ack", "--aux-pid", str(redis.pid)])
            res = run_loadgen(cmd, params, lg_cpus, procs)
            res["cluster"] = {"nodes": len(nodes), "ports": ports, "redis_port": rport,
                              "node_pids": [n.pid for n in nodes], "redis_pid": redis.pid}
            return res
        finally:
            for p in reversed(procs):  # the nodes first, then redis
                stop_child(p)
            for f in logs:
                f.close()


def median(vals):
    vals = [v for v in vals if isinstance(v, (int, float)) and v is not None]
    return statistics.median(vals) if vals else None


def summarize(sc, runs):
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
    med["all_ok"] = all(r.get("ok") for r in runs)
    return med


def fmt(v):
    if v is None:
        return "-"
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
    if bar is None or v is None:
        return None
    op, x = bar
    return v >= x if op == ">=" else v <= x


EXTRA_ROWS = [
    ("loadgen_cpu_util_max", "loadgen CPU, cores (max)", False, None),
    ("other_cpu_util_max", "other CPU on machine, cores (max)", False, None),
]


def ratio_of(a, b):
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def build_table(results, quick, servers):
    rows = []
    for sc, res in results.items():
        for key, label, higher, bar in ROWS[sc] + EXTRA_ROWS:
            vals = {s: res.get(s, {}).get("median", {}).get(key) for s in servers}
            o, p = vals.get("ours"), vals.get("peer")
            ratio = ratio_of(o, p)
            extra = {}
            if sc in CLUSTER:
                # the single-node figure of the same run, next to the cluster's
                single = results.get(CLUSTER[sc][1], {}).get("ours", {}).get("median", {}).get(key)
                extra = {"single_node": single, "cluster_vs_single": ratio_of(o, single)}
            if key.endswith("_cpu_util_max"):
                ratio = None  # context rows: a ratio means nothing
                if extra:
                    extra["cluster_vs_single"] = None
            ok = bar_ok(bar, o) if not quick and "ours" in servers else None
            rows.append({"scenario": sc, "metric": key, "label": label, **vals, "ratio": ratio, **extra,
                         "higher_is_better": higher,
                         "bar": f"{bar[0]} {bar[1]}" if bar else None, "bar_met": ok})
    return rows


def print_table(rows, quick, servers):
    cluster = any(r["scenario"] in CLUSTER for r in rows)
    hdr = (["scenario", "metric"] + servers + (["ours, 1 node", "2 nodes/1 node"] if cluster else [])
           + ["ours/peer", "bar (ours)"])
    lines = []
    for r in rows:
        bar = r["bar"] or ""
        if bar and r["bar_met"] is not None:
            bar += "  ok" if r["bar_met"] else "  MISSED"
        side = []
        if cluster:
            if r["scenario"] in CLUSTER:
                cvs = r.get("cluster_vs_single")
                side = [fmt(r.get("single_node")), f"{cvs:.2f}x" if cvs is not None else "-"]
            else:
                side = ["", ""]
        lines.append([r["scenario"], r["label"] + (" (higher better)" if r["higher_is_better"] else "")]
                     + [fmt(r.get(s)) for s in servers] + side
                     + [f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-", bar])
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *lines)]
    right = set(range(2, 3 + len(servers) + (2 if cluster else 0)))
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
              "receivers split between them;\n 'ours, 1 node' is the broadcast row of this run, one sio-bench-server)")
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
                    help="run only this scenario (repeatable, or comma separated): " + ", ".join(SCENARIOS))
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
    args = ap.parse_args()

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
        scenarios = [s for s in scenarios if s not in drop]
    reps = args.reps if args.reps else (1 if args.quick else 3)
    if reps < 1 or reps > 20:
        ap.error("--reps must be 1..20")
    servers = [s for s, run in (("ours", not args.no_ours), ("peer", not args.no_peer), ("floor", args.floor)) if run]
    if not servers:
        ap.error("nothing to run (--no-ours and --no-peer)")
    sizes = QUICK if args.quick else FULL
    overrides = parse_set(args.set)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        nofile = raise_fd_limit()
        need = max(sizes[s]["clients"] for s in scenarios) + 100
        if nofile < need:
            log(f"warning: RLIMIT_NOFILE is {nofile}, below the {need} descriptors the largest scenario needs")
        build_c(LOADGEN_BIN, LOADGEN_SRC, [os.path.join(HERE, "loadgen", "hist.h")])
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
        if "peer" in servers:
            venv_py = ensure_venv()
        logdir = os.path.join(BUILD, "logs")
        os.makedirs(logdir, exist_ok=True)

        started = time.time()
        results = {}
        for sc in scenarios:
            params = dict(sizes[sc])
            params.update(overrides.get(sc, {}))
            results[sc] = {"params": params}
            runs = {s: [] for s in servers}
            for rep in range(reps):
                order = servers if rep % 2 == 0 else list(reversed(servers))
                for which in order:
                    if which == "floor" and sc == "polling-echo":
                        continue  # the floor server speaks WebSocket only
                    if sc in CLUSTER and which != "ours":
                        continue  # a cluster of our nodes only
                    if args.wait_idle > 0:
                        b = wait_idle(args.wait_idle)
                        if b > 0.25:
                            log(f"  the machine is still busy ({b:.2f} cores); running anyway")
                    log(f"{sc} rep {rep + 1}/{reps}: {which}")
                    try:
                        if sc in CLUSTER:
                            r = run_cluster(sc, params, cluster_bin, redis_bin, logdir, pin=args.pin)
                        else:
                            r = run_one(sc, params, which, ours_bin, venv_py, logdir, pin=args.pin)
                    except RuntimeError as e:
                        log(f"  failed: {e}")
                        r = {"ok": False, "error": str(e), "metrics": {}, "window": {}}
                    m = r.get("metrics", {})
                    brief = ", ".join(f"{k}={fmt(m.get(k))}" for k, *_ in ROWS[sc] if k in m)
                    win = r.get("setup_window" if sc == "connect" else "window", {})
                    log(f"  {brief}; loadgen cpu {fmt(win.get('loadgen_cpu_util'))}, other cpu {fmt(win.get('other_cpu_util'))}"
                        + ("" if r.get("ok") else f"; NOT OK: {r.get('error') or r.get('errors', {}).get('first')}"))
                    runs[which].append(r)
                    time.sleep(0.5)
            for which in servers:
                results[sc][which] = {"runs": runs[which], "median": summarize(sc, [r for r in runs[which] if r.get("metrics")])}

        rows = build_table(results, args.quick, servers)
        print_table(rows, args.quick, servers)
        log(f"finished in {time.time() - started:.0f}s")
        if args.json:
            doc = {
                "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "machine": machine_info(),
                "machine_busy_cores_before": busy,
                "quick": args.quick, "reps": reps, "servers": servers, "pin": args.pin,
                "ours_bin": ours_bin,
                "cluster_bin": cluster_bin,
                "redis_server": (tool_version([redis_bin, "--version"]) if cluster_bin and redis_bin else None),
                "peer": "python-socketio 5.18.1 (aiohttp + uvloop)" if "peer" in servers else None,
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


if __name__ == "__main__":
    sys.exit(main())
