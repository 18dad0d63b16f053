"""What the resilience scenarios share: starting a server with its scenario's flags, sampling its CPU and RSS,
the kernel's accept-queue counters, the official client bundle and Node, the disconnect lines servers print.

`rt` everywhere is Benchmarks/run.py as a module (spawn, stop_child, free_port, wait_port, server_cmd, CHILDREN):
run.py passes itself, a test imports it; nothing here keeps processes of its own.
"""
import os
import re
import shutil
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OFFICIAL_CLIENT = os.path.join(HERE, "official_client.js")
CLIENT_JS = os.path.join(ROOT, ".cache", "client-js", "socket.io.min.js")
FETCH_CLIENT_JS = os.path.join(ROOT, "scripts", "fetch-client-js.sh")


def client_js():
    """socket.io.min.js (socket.io-client 4.8.1), fetched by scripts/fetch-client-js.sh when missing."""
    if not os.path.exists(CLIENT_JS):
        subprocess.run(["bash", FETCH_CLIENT_JS], check=True, timeout=600, stdout=subprocess.DEVNULL)
    return CLIENT_JS


def node():
    path = shutil.which("node")
    if not path:
        raise RuntimeError("the official-client scenarios need Node.js 20+ (apt-get install nodejs)")
    return path


def server_flags(v, recovery_ms=0, ping_ms=None, max_buffered=None):
    """The scenario's flags for our server or the peer (the peer has no recovery and no queue limit)."""
    if v["kind"] in ("ours", "base"):
        flags = ["--log-disconnects", "--log-level", "warn"]
        if recovery_ms:
            flags += ["--recovery-ms", str(recovery_ms)]
        if ping_ms:
            flags += ["--ping-interval", str(ping_ms[0]), "--ping-timeout", str(ping_ms[1])]
        if max_buffered:
            flags += ["--max-buffered-bytes", str(max_buffered)]
        return flags
    if recovery_ms:
        raise ValueError("python-socketio 5.x has no connection state recovery")
    flags = ["--log-disconnects"]
    if ping_ms:
        flags += ["--ping-interval", f"{ping_ms[0] / 1000:g}", "--ping-timeout", f"{ping_ms[1] / 1000:g}"]
    return flags


class Server:
    """A server of one column on `port` (a fresh free port by default), its output in a log file of its own."""

    def __init__(self, rt, v, venv_py, logdir, name, flags=(), port=None, cpus=None):
        self.rt, self.v, self.venv_py, self.flags, self.cpus = rt, v, venv_py, list(flags), cpus
        self.port = port or rt.free_port()
        self.logpath = os.path.join(logdir, f"{name}.server.log")
        self.proc = None
        self.starts = 0

    def start(self, limit=30.0):
        mode = "ab" if self.starts else "wb"
        self.log = open(self.logpath, mode)
        cmd = self.rt.server_cmd(self.v, self.port, "resilience", self.venv_py, 0) + self.flags
        self.proc = self.rt.spawn(cmd, cpus=self.cpus, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        self.starts += 1
        self.rt.wait_port(self.port, self.proc, limit=limit)
        return self.proc

    def kill(self):
        """SIGKILL, no grace: the restart storm's crash."""
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        if self.proc in self.rt.CHILDREN:
            self.rt.CHILDREN.remove(self.proc)
        self.log.close()

    def stop(self):
        if self.proc is not None:
            self.rt.stop_child(self.proc)
            self.log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def output(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")


DISCONNECT = re.compile(r"^disconnect (\S+) (.+)$", re.M)


def disconnect_reasons(text):
    """reason -> count, from the `disconnect <sid> <reason>` lines both servers print with --log-disconnects."""
    out = {}
    for _, reason in DISCONNECT.findall(text):
        out[reason.strip()] = out.get(reason.strip(), 0) + 1
    return out


def server_errors(text, kind):
    """Error lines in a server's log: ours writes `[sio] error ...`; python-socketio logs tracebacks and ERROR."""
    if kind in ("ours", "base"):
        return sum(1 for line in text.splitlines() if line.startswith("[sio] error"))
    return sum(1 for line in text.splitlines() if line.startswith("Traceback") or line.startswith("ERROR:"))


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class ProcSampler:
    """Samples a process's CPU ticks and VmRSS every `period` seconds on a thread (until stop() or it exits)."""

    def __init__(self, rt, pid, period=0.25):
        self.rt, self.pid, self.period, self.samples = rt, pid, period, []  # (monotonic, ticks, rss_kb)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            t, rss = self.rt.proc_cpu_ticks(self.pid), rss_kb(self.pid)
            if t is None or rss is None:
                break
            self.samples.append((time.monotonic(), t, rss))
            self.done.wait(self.period)

    def stop(self):
        self.done.set()
        self.thread.join(timeout=2)
        return self

    def between(self, t0, t1):
        return [s for s in self.samples if t0 <= s[0] <= t1]

    def cpu_cores(self, t0=None, t1=None):
        s = self.between(t0 or 0, t1 or float("inf"))
        if len(s) < 2 or s[-1][0] <= s[0][0]:
            return None
        return (s[-1][1] - s[0][1]) / os.sysconf("SC_CLK_TCK") / (s[-1][0] - s[0][0])

    def peak_rss_kb(self, t0=None, t1=None):
        s = self.between(t0 or 0, t1 or float("inf"))
        return max((x[2] for x in s), default=None)


def listen_counters():
    """TcpExt ListenOverflows and ListenDrops (machine-wide: SYNs or ACKs dropped because an accept queue was
    full), from /proc/net/netstat."""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            d = dict(zip(names.split()[1:], (int(x) for x in values.split()[1:])))
            return {"overflows": d.get("ListenOverflows", 0), "drops": d.get("ListenDrops", 0)}
    return {"overflows": 0, "drops": 0}


def other_cpu(before, after, own_ticks):
    """Cores busy with anything but `own_ticks` (the processes of the run) between two /proc/stat readings."""
    busy = (after[0] - before[0]) - own_ticks
    total = after[1] - before[1]
    return max(0.0, busy / max(1, total) * (os.cpu_count() or 1))


def machine_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4], sum(v)


_NODE_FLAGS = None


def node_flags():
    """--experimental-websocket where Node has it (20.10+: its own WebSocket); else official_client.js falls back
    to the `ws` library (Debian's node-ws; scripts/bootstrap-node.sh installs both)."""
    global _NODE_FLAGS
    if _NODE_FLAGS is None:
        probe = subprocess.run([node(), "--experimental-websocket", "-e",
                                "process.exit(typeof WebSocket === 'function' ? 0 : 1)"], capture_output=True)
        _NODE_FLAGS = ["--experimental-websocket"] if probe.returncode == 0 else []
    return _NODE_FLAGS


def official_client_cmd(cfg):
    import json
    cfg = dict(cfg, client_js=client_js())
    return [node(), *node_flags(), "--max-old-space-size=4096", OFFICIAL_CLIENT, json.dumps(cfg)]


def run_official_client(rt, cfg, limit, logpath, cpus=None):
    """Runs official_client.js to its end; returns its JSON result (the last line of its stdout)."""
    import json
    with open(logpath, "ab") as err:
        p = rt.spawn(official_client_cmd(cfg), cpus=cpus, stdout=subprocess.PIPE, stderr=err,
                     stdin=subprocess.DEVNULL)
        try:
            out, _ = p.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            rt.stop_child(p)
            raise RuntimeError(f"the official-client driver did not finish within {limit:.0f}s")
        if p in rt.CHILDREN:
            rt.CHILDREN.remove(p)
    lines = out.decode(errors="replace").strip().splitlines()
    if not lines:
        raise RuntimeError(f"the official-client driver printed nothing (exit {p.returncode}); see {logpath}")
    res = json.loads(lines[-1])
    if not res.get("ok") and res.get("error"):
        raise RuntimeError(f"official-client driver: {res['error']}")
    return res
