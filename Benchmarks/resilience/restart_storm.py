"""restart-storm: N official clients connected (default reconnection: exponential backoff with jitter); the server
is killed with SIGKILL and started again on the same port after 1 s. Metrics per size: time from the restart to
50/95/100% of the clients back (their connect event), clients not back within 60 s, the new server's CPU and
peak RSS during the storm, connection attempts that failed after the restart, and the kernel's accept-queue
overflows (TcpExt ListenOverflows, machine-wide) during the storm."""
import json
import os
import select
import subprocess
import time

from . import common

FULL = {"clients": [2000, 5000], "downtime_s": 1.0, "give_up_s": 60, "window": 200, "timeout": 120}
QUICK = {"clients": [200], "downtime_s": 1.0, "give_up_s": 30, "window": 100, "timeout": 30}

METRICS = [
    ("back_50_s", "s from restart to 50% back", False),
    ("back_95_s", "s from restart to 95% back", False),
    ("back_100_s", "s from restart to 100% back", False),
    ("back_50_since_kill_s", "s from the kill to 50% back", False),
    ("back_95_since_kill_s", "s from the kill to 95% back", False),
    ("back_100_since_kill_s", "s from the kill to 100% back", False),
    ("not_back", "clients not back within the limit", False),
    ("connect_errors_down", "failed attempts while the server was down", None),
    ("connect_errors_after_restart", "failed attempts begun after the restart", False),
    ("listen_overflows", "accept queue overflows (kernel)", False),
    ("storm_cpu_util", "server CPU during the storm, cores", False),
    ("storm_cpu_s", "server CPU during the storm, s", False),
    ("storm_peak_rss_mb", "server peak RSS during the storm, MB", False),
]


def sizes(params):
    c = params["clients"]
    return list(c) if isinstance(c, (list, tuple)) else [int(c)]


def rows(params):
    return [(f"{n}_{key}", f"{n:,} clients: {label}", bool(higher), ("<=", 0) if key in ("not_back", "connect_errors_after_restart") else None)
            for n in sizes(params) for key, label, higher in METRICS]


def read_line(p, limit):
    """A line of the driver's stdout within `limit` seconds (None at EOF or timeout)."""
    deadline = time.monotonic() + limit
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 0.2)
        if r:
            ch = os.read(p.stdout.fileno(), 1)
            if not ch:
                return None
            if ch == b"\n":
                return buf.decode(errors="replace")
            buf += ch
    return None


def run_once(rt, params, n, which, v, venv_py, logdir, cpus=None):
    name = f"{which}-restart-storm-{n}"
    srv = common.Server(rt, v, venv_py, logdir, name, common.server_flags(v), cpus=cpus)
    srv.start()
    cfg = {"mode": "storm", "port": srv.port, "clients": n, "window": params["window"],
           "timeout_s": params["timeout"], "give_up_s": params["give_up_s"]}
    err = open(os.path.join(logdir, name + ".driver.log"), "ab")
    drv = rt.spawn(common.official_client_cmd(cfg), stdout=subprocess.PIPE, stderr=err, stdin=subprocess.PIPE)
    sampler = None
    try:
        line = read_line(drv, params["timeout"] + 10)
        if line != "READY":
            raise RuntimeError(f"restart-storm driver: {line or 'no READY'} (see {err.name})")
        time.sleep(1.0)
        before = common.listen_counters()
        srv.kill()
        drv.stdin.write(f"KILLED {time.monotonic_ns()}\n".encode())
        drv.stdin.flush()
        time.sleep(params["downtime_s"])
        srv.start()
        restarted = time.monotonic()
        drv.stdin.write(f"RESTARTED {time.monotonic_ns()}\n".encode())
        drv.stdin.flush()
        sampler = common.ProcSampler(rt, srv.proc.pid, period=0.1)
        line = read_line(drv, params["give_up_s"] + 30)
        done = time.monotonic()
        after = common.listen_counters()
        alive = srv.alive()
    finally:
        if sampler:
            sampler.stop()
        rt.stop_child(drv)
        err.close()
        srv.stop()
    if not line:
        raise RuntimeError(f"restart-storm driver gave no result (see {err.name})")
    res = json.loads(line)
    m = res["metrics"]
    end = restarted + (m["back_100_s"] if m.get("back_100_s") is not None else done - restarted)
    m["listen_overflows"] = after["overflows"] - before["overflows"]
    m["listen_drops"] = after["drops"] - before["drops"]
    m["storm_cpu_util"] = sampler.cpu_cores(restarted, end + 0.1)
    s = sampler.between(restarted, end + 0.1)
    m["storm_cpu_s"] = (s[-1][1] - s[0][1]) / os.sysconf("SC_CLK_TCK") if len(s) > 1 else None
    peak = sampler.peak_rss_kb(restarted, end + 0.1)
    m["storm_peak_rss_mb"] = peak / 1024 if peak else None
    m["server_errors"] = common.server_errors(srv.output(), v["kind"])
    res["ok"] = res.get("ok", False) and alive
    res["server_alive_after"] = alive
    return res


def run(rt, params, which, v, venv_py, logdir, cpus=None):
    out = {"ok": True, "metrics": {}, "window": {"loadgen_cpu_util": 0, "other_cpu_util": 0}, "runs": {}}
    for n in sizes(params):
        res = run_once(rt, params, n, which, v, venv_py, logdir, cpus)
        out["runs"][str(n)] = res
        out["ok"] = out["ok"] and res["ok"]
        for k, val in res["metrics"].items():
            out["metrics"][f"{n}_{k}"] = val
        out["window"]["loadgen_cpu_util"] = max(out["window"]["loadgen_cpu_util"],
                                                res["window"].get("loadgen_cpu_util") or 0)
        m = res["metrics"]
        rt.log(f"  {n} clients: back 50/95/100% {m.get('back_50_s')}/{m.get('back_95_s')}/{m.get('back_100_s')} s "
               f"after the restart, not back {m['not_back']}, failed attempts {m['connect_errors_after_restart']}, "
               f"overflows {m['listen_overflows']}, storm CPU {m['storm_cpu_util']}")
    return out
