"""churn: a soak of short-lived clients (churn_clients.py: C concurrent slots, each client living 1-5 s, over
WebSocket, long-polling and polling-then-upgrade, some cut mid-request with a reset). A warm-up round first, then
quiet: the RSS then is the baseline; then the soak, sampling the server's RSS every `sample_s`; then quiet again:
the RSS after all clients left must come back within 10% of the baseline. Both servers run with a short
heartbeat (ping 5 s + 5 s), so the sessions of cut polling clients (whose end only a ping timeout reveals) expire
within the quiet period. Also reported: error lines in the server's log and failed clients."""
import json
import os
import subprocess
import time

from . import common

CHURN_CLIENTS = os.path.join(common.HERE, "churn_clients.py")
FULL = {"concurrency": 500, "procs": 2, "duration": 600, "warmup": 30, "quiet": 15, "sample_s": 60, "ping_ms": [5000, 5000]}
QUICK = {"concurrency": 40, "procs": 1, "duration": 8, "warmup": 2, "quiet": 3, "sample_s": 4, "ping_ms": [1500, 1500]}

ROWS = [
    ("clients", "clients served", True, None),
    ("clients_per_s", "clients per second", True, None),
    ("failed", "failed clients", False, ("<=", 0)),
    ("server_errors", "server error lines", False, ("<=", 0)),
    ("rss_baseline_mb", "RSS baseline (after warm-up, idle), MB", False, None),
    ("rss_max_sample_mb", "RSS, largest sample during the soak, MB", False, None),
    ("rss_after_mb", "RSS after all clients left, MB", False, None),
    ("rss_growth_pct", "RSS after / baseline - 1, %", False, ("<=", 10)),
    ("server_cores", "server CPU, cores", False, None),
]


def churn(rt, venv_py, port, params, duration, logpath):
    """Runs the churn clients for `duration` s in `procs` processes (Python clients need more than one core at
    full size) and merges what they report."""
    procs = params.get("procs", 1)
    with open(logpath, "ab") as err:
        ps = [rt.spawn([venv_py, CHURN_CLIENTS, "--port", str(port), "--concurrency",
                        str(params["concurrency"] // procs), "--duration", str(duration), "--seed", str(i + 1)],
                       stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL) for i in range(procs)]
        outs = []
        for p in ps:
            try:
                out, _ = p.communicate(timeout=duration + 120)
            except subprocess.TimeoutExpired:
                rt.stop_child(p)
                raise RuntimeError("the churn clients did not finish")
            if p in rt.CHILDREN:
                rt.CHILDREN.remove(p)
            lines = out.decode(errors="replace").strip().splitlines()
            if p.returncode != 0 or not lines:
                raise RuntimeError(f"churn clients failed ({p.returncode}); see {logpath}")
            outs.append(json.loads(lines[-1]))
    merged = {"kinds": {}, "errors": [], "wall_s": max(o["wall_s"] for o in outs),
              "started": sum(o["started"] for o in outs), "failed": sum(o["failed"] for o in outs),
              "loadgen_cpu_util": sum(o["loadgen_cpu_util"] for o in outs)}
    for o in outs:
        merged["errors"] += o["errors"]
        for kind, k in o["kinds"].items():
            into = merged["kinds"].setdefault(kind, dict.fromkeys(k, 0))
            for key, val in k.items():
                into[key] += val
    return merged


def run(rt, params, which, v, venv_py, logdir, cpus=None):
    name = f"{which}-churn"
    srv = common.Server(rt, v, venv_py, logdir, name, common.server_flags(v, ping_ms=params["ping_ms"]), cpus=cpus)
    srv.start()
    sampler = common.ProcSampler(rt, srv.proc.pid, period=0.5)
    drvlog = os.path.join(logdir, name + ".driver.log")
    try:
        rss_start = common.rss_kb(srv.proc.pid)
        churn(rt, venv_py, srv.port, params, params["warmup"], drvlog)
        time.sleep(params["quiet"])
        baseline = common.rss_kb(srv.proc.pid)
        t0 = time.monotonic()
        res = churn(rt, venv_py, srv.port, params, params["duration"], drvlog)
        t1 = time.monotonic()
        time.sleep(params["quiet"])
        after = common.rss_kb(srv.proc.pid)
        alive = srv.alive()
    finally:
        sampler.stop()
        srv.stop()
    samples = [s for s in sampler.samples if t0 <= s[0] <= t1]
    every = [samples[i] for i in range(0, len(samples), max(1, int(params["sample_s"] / 0.5)))]
    text = srv.output()
    m = {
        "clients": res["started"], "clients_per_s": res["started"] / res["wall_s"], "failed": res["failed"],
        "server_errors": common.server_errors(text, v["kind"]),
        "rss_start_mb": rss_start / 1024, "rss_baseline_mb": baseline / 1024, "rss_after_mb": after / 1024,
        "rss_max_sample_mb": max((s[2] for s in samples), default=0) / 1024,
        "rss_growth_pct": 100.0 * (after - baseline) / baseline,
        "server_cores": sampler.cpu_cores(t0, t1),
    }
    rt.log(f"  {m['clients']} clients ({m['clients_per_s']:.0f}/s), failed {m['failed']}, server errors "
           f"{m['server_errors']}; RSS start {m['rss_start_mb']:.1f}, baseline {m['rss_baseline_mb']:.1f}, samples "
           + "/".join(f"{s[2] / 1024:.1f}" for s in every)
           + f", after {m['rss_after_mb']:.1f} MB ({m['rss_growth_pct']:+.1f}%)"
           + (f"; client errors: {res['errors'][:3]}" if res["errors"] else ""))
    return {"ok": alive and res["failed"] == 0, "metrics": m, "kinds": res["kinds"], "client_errors": res["errors"],
            "rss_samples_mb": [round(s[2] / 1024, 2) for s in every], "server_alive_after": alive,
            "window": {"loadgen_cpu_util": res["loadgen_cpu_util"], "other_cpu_util": 0}}
