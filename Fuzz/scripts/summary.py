#!/usr/bin/env python3
"""Sums Fuzz/.build/results.tsv (one line per run of scripts/run.sh) per harness, as a markdown table:
runs, seconds fuzzed (fuzz and smoke modes), executions, last exec/s, highest cov and ft, runs with findings."""
import collections, os, re, sys

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".build", "results.tsv")
if not os.path.exists(path):
    sys.exit("no Fuzz/.build/results.tsv yet: run make -C Fuzz smoke or fuzz first")
rows = collections.OrderedDict()
for line in open(path):
    f = line.rstrip("\n").split("\t")
    if len(f) < 10:
        continue
    when, mode, harness, secs, execs, speed, cov, ft, corpus, status = f[:10]
    r = rows.setdefault(harness, dict(runs=0, secs=0, execs=0, speed="?", cov=0, ft=0, findings=0, first=when, last=when))
    num = lambda s: int(re.sub(r"[^0-9]", "", s) or 0)
    r["runs"] += 1
    r["secs"] += num(secs)
    r["execs"] += num(execs)
    if num(speed):
        r["speed"] = num(speed)
    r["cov"] = max(r["cov"], num(cov))
    r["ft"] = max(r["ft"], num(ft))
    r["findings"] += status != "ok"
    r["last"] = when
print("| harness | runs | time fuzzed | executions | exec/s (last run) | cov (edges) | ft | runs with a finding |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for h, r in rows.items():
    print(f"| {h} | {r['runs']} | {r['secs'] // 60} min {r['secs'] % 60} s | {r['execs']:,} | {r['speed']} | {r['cov']} | {r['ft']} | {r['findings']} |")
