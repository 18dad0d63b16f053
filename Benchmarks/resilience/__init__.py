"""The resilience scenarios of run.py (issue 17): jitter, restart-storm, churn, slow-consumers. Each module has
FULL and QUICK sizes, its table rows and run(rt, params, which, variant, venv_py, logdir, cpus) for one
repetition against one server column; `rt` is run.py itself (its process helpers and the load generator)."""
from . import churn, jitter, restart_storm, slow_consumers

MODULES = {"jitter": jitter, "restart-storm": restart_storm, "churn": churn, "slow-consumers": slow_consumers}
SCENARIOS = list(MODULES)
FULL = {name: m.FULL for name, m in MODULES.items()}
QUICK = {name: m.QUICK for name, m in MODULES.items()}


def rows(sc, params):
    m = MODULES[sc]
    return m.rows(params) if hasattr(m, "rows") else list(m.ROWS)


def applies(v):
    """Our server (any loop count) and the peer; the floor server and a baseline build lack the flags."""
    return v["kind"] in ("ours", "peer")


def descriptors(sc, params):
    """File descriptors the scenario needs in one process (the driver holds each client, the proxy two more)."""
    if sc == "jitter":
        return 3 * max(jitter.sizes(params))
    if sc == "restart-storm":
        return max(restart_storm.sizes(params))
    if sc == "churn":
        return 2 * params["concurrency"]
    return params["clients"] + params["slow"]


def run(rt, sc, params, which, v, venv_py, logdir, cpus=None):
    return MODULES[sc].run(rt, params, which, v, venv_py, logdir, cpus)
