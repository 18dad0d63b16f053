"""jitter: N official clients whose transports a proxy cuts abruptly about every 15 s (each client reconnects by
itself), while the server broadcasts 120 messages at 2/s to everyone; with connection state recovery off, and on
(ours only: python-socketio 5.x has no recovery). Metrics per size and mode: delivered % of (client, message)
pairs, duplicates, order violations, recovery rate, replay latency, how long clients stayed disconnected.

`--set jitter.nodes=2` (ours only): two sio-cluster-node processes on the Redis streams adapter (issue 13) behind
the proxy, which hands connections to them in turn, so a client cut on one node reconnects to the other and its
session comes from Redis; the broadcasts are sent on the first node."""
import os
import time

from . import common

RECOVERY_MS = 120_000

FULL = {"clients": [2000, 5000], "messages": 120, "rate": 2, "period_s": 15, "settle_s": 3, "drain_s": 30,
        "window": 200, "timeout": 120}
QUICK = {"clients": [200], "messages": 16, "rate": 2, "period_s": 3, "settle_s": 1, "drain_s": 8,
         "window": 100, "timeout": 30}

METRICS = [
    ("delivered_pct", "delivered % of (client, message)", True),
    ("lost", "lost (client, message) pairs", False),
    ("duplicates", "duplicates", False),
    ("order_violations", "order violations", False),
    ("cuts", "transports cut", None),
    ("reconnections", "reconnections", None),
    ("recovery_rate_pct", "recovered reconnections %", True),
    ("replay_p50_ms", "replay latency p50 ms", False),
    ("replay_p99_ms", "replay latency p99 ms", False),
    ("outage_p99_ms", "time without a connection p99 ms", False),
    ("outage_max_ms", "time without a connection max ms", False),
    ("clients_down_at_end", "clients not connected at the end", False),
    ("server_cpu_util", "server CPU, cores", False),
]


def sizes(params):
    c = params["clients"]
    return list(c) if isinstance(c, (list, tuple)) else [int(c)]


def modes(v):
    return ["off", "on"] if v["kind"] in ("ours", "base") else ["off"]


def rows(params):
    out = []
    where = ", 2 nodes (streams)" if params.get("nodes", 1) == 2 else ""
    for n in sizes(params):
        for mode in ("off", "on"):
            for key, label, higher in METRICS:
                bar = ("<=", 0) if mode == "on" and key in ("lost", "duplicates", "order_violations") else None
                out.append((f"{n}_{mode}_{key}", f"{n:,} clients{where}, recovery {mode}: {label}", bool(higher), bar))
    return out


def run_once_on_two_nodes(rt, params, n, mode, which, v, logdir):
    """run_once's measurement against two sio-cluster-node processes on the streams adapter (one Redis)."""
    if v["kind"] != "ours":
        raise ValueError("jitter.nodes=2 runs our cluster node only")
    name = f"{which}-jitter-{n}-{mode}-2nodes"
    cluster_bin = rt.find_cluster_node(rt.CLUSTER_BIN_ARG, v.get("bin"))
    redis_bin = rt.find_redis(None)
    if not redis_bin:
        raise RuntimeError("jitter.nodes=2 needs redis-server (apt-get install redis-server)")
    flags = ["--recovery-ms", str(RECOVERY_MS)] if mode == "on" else []
    with rt.redis_cluster("--redis-streams", cluster_bin, redis_bin, logdir, name, flags) as cl:
        samplers = [common.ProcSampler(rt, node.pid) for node in cl["nodes"]]
        try:
            cfg = {"mode": "jitter", "port": cl["ports"][0], "ports": cl["ports"], "clients": n,
                   "messages": params["messages"], "rate": params["rate"], "period_s": params["period_s"],
                   "settle_s": params["settle_s"], "drain_s": params["drain_s"], "window": params["window"],
                   "timeout_s": params["timeout"], "payload": 32, "cut_style": params.get("cut_style", "reset")}
            limit = params["timeout"] + params["settle_s"] + params["messages"] / params["rate"] + params["drain_s"] + 60
            res = common.run_official_client(rt, cfg, limit, os.path.join(logdir, name + ".driver.log"))
            t1 = time.monotonic()
            alive = all(node.poll() is None for node in cl["nodes"])
        finally:
            for sampler in samplers:
                sampler.stop()
    m = res["metrics"]
    m["server_cpu_util"] = sum(sampler.cpu_cores(t1 - res["window"]["wall_s"], t1) for sampler in samplers)
    m["server_died"] = 0 if alive else 1
    res["ok"] = alive and res.get("ok", False)
    return res


def run_once(rt, params, n, mode, which, v, venv_py, logdir, cpus=None):
    if params.get("nodes", 1) == 2:
        return run_once_on_two_nodes(rt, params, n, mode, which, v, logdir)
    name = f"{which}-jitter-{n}-{mode}"
    srv = common.Server(rt, v, venv_py, logdir, name, common.server_flags(v, RECOVERY_MS if mode == "on" else 0),
                        cpus=cpus)
    srv.start()
    sampler = common.ProcSampler(rt, srv.proc.pid)
    m0 = common.machine_ticks()
    try:
        cfg = {"mode": "jitter", "port": srv.port, "clients": n, "messages": params["messages"],
               "rate": params["rate"], "period_s": params["period_s"], "settle_s": params["settle_s"],
               "drain_s": params["drain_s"], "window": params["window"], "timeout_s": params["timeout"],
               "payload": 32, "cut_style": params.get("cut_style", "reset")}
        limit = params["timeout"] + params["settle_s"] + params["messages"] / params["rate"] + params["drain_s"] + 60
        t0 = time.monotonic()
        res = common.run_official_client(rt, cfg, limit, os.path.join(logdir, name + ".driver.log"))
        t1 = time.monotonic()
        alive = srv.alive()
        exit_code = srv.proc.poll()
    finally:
        sampler.stop()
        srv.stop()
    m1 = common.machine_ticks()
    m = res["metrics"]
    m["server_cpu_util"] = sampler.cpu_cores(t1 - res["window"]["wall_s"], t1)
    m["server_peak_rss_kb"] = sampler.peak_rss_kb()
    m["server_disconnects"] = sum(common.disconnect_reasons(srv.output()).values())
    m["server_errors"] = common.server_errors(srv.output(), v["kind"])
    res["server_alive_after"] = alive
    m["server_died"] = 0 if alive else 1
    if not alive:
        res["server_exit"] = exit_code  # negative: the signal that killed it
        rt.log(f"  the server died during the run (exit {exit_code})")
    own = (sampler.samples[-1][1] - sampler.samples[0][1]) if len(sampler.samples) > 1 else 0
    res["window"]["other_cpu_util"] = common.other_cpu(m0, m1, own) - res["window"]["loadgen_cpu_util"] \
        - res["window"].get("proxy_cpu_util", 0)
    res["ok"] = alive and res.get("ok", False)
    res["duration_s"] = t1 - t0
    return res


def run(rt, params, which, v, venv_py, logdir, cpus=None):
    """One repetition for one server column: every size, recovery off then on (ours)."""
    out = {"ok": True, "metrics": {}, "window": {"loadgen_cpu_util": 0, "other_cpu_util": 0}, "runs": {}}
    for n in sizes(params):
        for mode in modes(v):
            res = run_once(rt, params, n, mode, which, v, venv_py, logdir, cpus)
            out["runs"][f"{n}_{mode}"] = res
            out["ok"] = out["ok"] and res["ok"]
            for k, val in res["metrics"].items():
                out["metrics"][f"{n}_{mode}_{k}"] = val
            for k in ("loadgen_cpu_util", "other_cpu_util"):
                out["window"][k] = max(out["window"][k], res["window"].get(k) or 0)
            rt.log(f"  {n} clients, recovery {mode}: delivered {res['metrics']['delivered_pct']:.2f}%, "
                   f"recovered {res['metrics'].get('recovery_rate_pct')}%, cuts {res['metrics']['cuts']}, "
                   f"reconnections {res['metrics']['reconnections']}, down at end "
                   f"{res['metrics']['clients_down_at_end']}, outage p99 {res['metrics']['outage_p99_ms']} ms")
    return out
