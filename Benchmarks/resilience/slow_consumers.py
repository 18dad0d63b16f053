"""slow-consumers: R normal receivers (the load generator's broadcast scenario) and S clients that stop reading
their sockets (slow_clients.py), in one room; B broadcasts/s of 1 KB for T seconds. Each repetition runs twice on
a fresh server: the normal receivers alone, then with the slow ones. Metrics: the normal receivers' deliveries,
order and latency with the slow ones against without (and the load generator's p99 for each second of the
window, to see where a tail sits), which slow ones the server closed (and its reason), the server's RSS over the
window (bounded by the queue limit, not by the run's length)."""
import itertools
import json
import os
import subprocess
import sys
import time

from . import common

FULL = {"clients": 200, "slow": 20, "rate": 1000, "payload": 1024, "duration": 30, "drain": 10, "timeout": 60,
        "max_buffered": 0}
QUICK = {"clients": 50, "slow": 5, "rate": 1000, "payload": 1024, "duration": 6, "drain": 5, "timeout": 30,
         "max_buffered": 1 << 20}
LOADGEN_KEYS = ("clients", "rate", "payload", "duration", "drain", "timeout")
SLOW_CLIENTS = os.path.join(common.HERE, "slow_clients.py")

ROWS = [
    ("alone_deliveries_per_s", "without slow ones: deliveries/s", True, None),
    ("alone_latency_p99_us", "without slow ones: latency p99 us", False, None),
    ("alone_lost", "without slow ones: lost deliveries", False, ("<=", 0)),
    ("deliveries_per_s", "with slow ones: deliveries/s (normal clients)", True, None),
    ("latency_p50_us", "with slow ones: latency p50 us", False, None),
    ("latency_p99_us", "with slow ones: latency p99 us", False, None),
    ("p99_with_vs_alone", "with slow ones: p99 / p99 without", False, None),
    ("lost", "with slow ones: lost deliveries (normal clients)", False, ("<=", 0)),
    ("order_violations", "with slow ones: order violations", False, ("<=", 0)),
    ("slow_closed", "slow clients closed by the server", True, None),
    ("slow_closed_queue_limit", "  closed for their queue (server log)", True, None),
    ("rss_mid_mb", "server RSS at half the window, MB", False, None),
    ("rss_end_mb", "server RSS at the end of the window, MB", False, None),
    ("rss_peak_mb", "server peak RSS, MB", False, None),
    ("server_cores", "server CPU, cores", False, None),
]


def run_broadcast(rt, params, which, v, venv_py, logdir, slow, cpus=None):
    name = f"{which}-slow-consumers-{'with' if slow else 'alone'}"
    flags = common.server_flags(v, max_buffered=params.get("max_buffered") or None)
    srv = common.Server(rt, v, venv_py, logdir, name, flags, cpus=cpus)
    srv.start()
    sampler = common.ProcSampler(rt, srv.proc.pid, period=0.25)
    holder = None
    try:
        if slow:
            holder = rt.spawn([sys.executable, SLOW_CLIENTS, "--port", str(srv.port), "--count", str(slow)],
                              stdout=subprocess.PIPE, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
            line = holder.stdout.readline().decode().strip()
            if line != "READY":
                raise RuntimeError(f"slow clients did not join: {line!r}")
        lg = {k: params[k] for k in LOADGEN_KEYS}
        t0 = time.monotonic()
        res = rt.run_loadgen(rt.loadgen_cmd("broadcast", lg, srv.port, srv.proc.pid), lg, None, [srv.proc])
        t1 = time.monotonic()
        if holder:
            holder.stdin.write(b"check\n")
            holder.stdin.flush()
            out, _ = holder.communicate(timeout=120)
            res["slow"] = json.loads(out.decode().strip().splitlines()[-1])
            if holder in rt.CHILDREN:
                rt.CHILDREN.remove(holder)
    finally:
        sampler.stop()
        if holder:
            rt.stop_child(holder)
        srv.stop()
    text = srv.output()
    res["reasons"] = common.disconnect_reasons(text)
    res["queue_limit_closes"] = text.count("for a client that does not read")
    # the broadcast window: the last `duration` seconds before the drain ended
    w = res.get("window", {}).get("wall_s") or params["duration"]
    start = t1 - w
    mid = [s for s in sampler.samples if s[0] >= start + params["duration"] / 2]
    res["rss_mid_mb"] = mid[0][2] / 1024 if mid else None
    end = [s for s in sampler.samples if s[0] <= start + params["duration"]]
    res["rss_end_mb"] = end[-1][2] / 1024 if end else None
    res["rss_peak_mb"] = (sampler.peak_rss_kb(t0, t1) or 0) / 1024
    return res


_repetitions = itertools.count()


def run(rt, params, which, v, venv_py, logdir, cpus=None):
    # Every other repetition runs the slow ones first: a machine that drifts during a pair (a shared host) then
    # favours neither half in the medians. `slow=0` is the A/A control: both halves alone, their ratio is the noise.
    if next(_repetitions) % 2 == 0:
        alone = run_broadcast(rt, params, which, v, venv_py, logdir, 0, cpus)
        withs = run_broadcast(rt, params, which, v, venv_py, logdir, params["slow"], cpus)
    else:
        withs = run_broadcast(rt, params, which, v, venv_py, logdir, params["slow"], cpus)
        alone = run_broadcast(rt, params, which, v, venv_py, logdir, 0, cpus)
    ma, mw = alone.get("metrics", {}), withs.get("metrics", {})
    m = {f"alone_{k}": ma.get(k) for k in ("deliveries_per_s", "latency_p99_us", "lost")}
    m.update({k: mw.get(k) for k in ("deliveries_per_s", "latency_p50_us", "latency_p99_us", "lost",
                                       "order_violations")})
    m["server_cores"] = withs.get("window", {}).get("server_cpu_util")
    if ma.get("latency_p99_us") and mw.get("latency_p99_us") is not None:
        m["p99_with_vs_alone"] = mw["latency_p99_us"] / ma["latency_p99_us"]
    m["slow_closed"] = withs.get("slow", {}).get("closed", 0)
    m["slow_closed_queue_limit"] = withs["queue_limit_closes"]
    for k in ("rss_mid_mb", "rss_end_mb", "rss_peak_mb"):
        m[k] = withs[k]
    rt.log(f"  alone p99 {ma.get('latency_p99_us')} us lost {ma.get('lost')}; with {params['slow']} slow: p99 "
           f"{mw.get('latency_p99_us')} us lost {mw.get('lost')} order {mw.get('order_violations')}; slow closed "
           f"{m['slow_closed']} ({m['slow_closed_queue_limit']} for their queue); reasons {withs['reasons']}; "
           f"RSS mid/end/peak {m['rss_mid_mb']}/{m['rss_end_mb']}/{m['rss_peak_mb']} MB")
    window = {k: max(alone.get("window", {}).get(k) or 0, withs.get("window", {}).get(k) or 0)
              for k in ("loadgen_cpu_util", "other_cpu_util")}
    return {"ok": bool(alone.get("ok")) and bool(withs.get("ok")), "metrics": m, "window": window,
            "runs": {"alone": alone, "with": withs}}
