#!/usr/bin/env python3
"""Punch-to-checkin latency of biotime-syncd against the simulators (issue 11.8).

For each poll interval (the daemon's default and a few others), a long-lived daemon runs
against its own pair of simulators (the ERPNext one with the frappe cost model). Once it
has caught up, punches are added to BioTime at random moments over two intervals' time, and
each punch's latency is the time from when BioTime holds it (its control request returned)
to the creation time of its Employee Checkin in the ERPNext simulator. It also shows how
much of that is the wait for the next poll: poll-to-checkin is the time from the first
BioTime read after the punch to its checkin. The intervals run side by side, so the whole
run takes about three intervals of the longest one. Then an idle poll's cost: requests and
CPU per poll (the same measurement as bench.py), and what that makes per hour at each
interval. It prints figures and asserts nothing about speed.

    python3 tests/bench/latency.py [--binary build/biotime-syncd] [--intervals 10,30,60]
                                   [--punches 60] [--smoke]

--smoke (about 30 s) runs intervals of 2 and 5 s with a few punches: it proves the bench
runs.
"""

import argparse
import datetime as dt
import math
import os
import random
import re
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench import ROOT, World, bench_idle  # noqa: E402

EMP_CODES = [str(1001 + i) for i in range(20)]
TERMINALS = ["CQUJ000001", "CQUJ000002", "BOCK000003"]
BACKLOG = 50  # punches BioTime holds before the daemon starts: it catches up first


def percentile(values, q):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def docs(world, doctype):
    got = world.erp.get("/__sim/docs?doctype=" + urllib.parse.quote(doctype))
    return got["docs"] if isinstance(got, dict) else got


def wall_of(creation):
    """The ERPNext simulator's creation time (naive, its zone set to UTC) as epoch seconds."""
    t = dt.datetime.strptime(creation[:26], "%Y-%m-%d %H:%M:%S.%f")
    return t.replace(tzinfo=dt.timezone.utc).timestamp()


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise SystemExit("latency bench: timed out waiting for " + what)


class Run:
    """One daemon at one interval (None: the daemon's default) and its simulators."""

    def __init__(self, binary, interval, punches, seed):
        self.binary, self.interval, self.punches = binary, interval, punches
        self.rng = random.Random(seed)
        self.held = {}  # BioTime id -> (wall, monotonic) when BioTime held the punch
        self.world = World(2, "frappe", BACKLOG)
        self.world.erp.post("/__sim/config", {"timezone": "UTC"})
        self.log_path = os.path.join(self.world.tmp, "daemon.log")

    def start(self):
        sync = {} if self.interval is None else {"interval": self.interval}
        cfg = self.world.config(log_level="notice", **sync)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([self.binary, "-c", cfg], stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        wait_until(lambda: self.started_line(), 30, "the daemon's start")
        self.interval = int(re.search(r"every (\d+)s", self.started_line()).group(1))
        wait_until(lambda: len(docs(self.world, "BioTime Device Log")) >= BACKLOG, 120,
                   "the first sync")

    def started_line(self):
        with open(self.log_path, errors="replace") as f:
            return next((l for l in f if " started: " in l), "")

    def punch(self, n):
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        row = {"emp_code": EMP_CODES[n % len(EMP_CODES)], "punch_time": now,
               "punch_state": "0", "terminal_sn": TERMINALS[n % len(TERMINALS)]}
        ids = self.world.bt.post("/__sim/transactions", {"rows": [row]})["ids"]
        self.held[ids[0]] = (time.time(), time.monotonic())

    def inject(self):
        """Punches at random moments over two intervals (at least 10 s)."""
        window = max(10.0, 2.0 * self.interval)
        t0 = time.monotonic()
        for n, at in enumerate(sorted(self.rng.uniform(0, window) for _ in range(self.punches))):
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            self.punch(n)

    def delivered(self):
        logs = {l["name"]: l for l in docs(self.world, "BioTime Device Log")}
        return all(logs.get(str(i), {}).get("employee_check_in") for i in self.held), logs

    def measure(self):
        wait_until(lambda: self.delivered()[0], self.interval + 60, "the punches' checkins")
        _, logs = self.delivered()
        created = {c["name"]: wall_of(c["creation"]) for c in docs(self.world,
                                                                    "Employee Checkin")}
        polls = sorted(r["arrived"] for r in self.world.bt.get("/__sim/stats")["timeline"]
                       if "/transactions/" in r["path"])
        latency, after_poll = [], []
        for ident, (wall, mono) in self.held.items():
            done = created[logs[str(ident)]["employee_check_in"]]
            latency.append(done - wall)
            poll = next((p for p in polls if p > mono), None)
            if poll is not None:
                after_poll.append(done - (wall + poll - mono))
        return latency, after_poll

    def go(self):
        try:
            self.start()
            self.inject()
            return self.measure()
        finally:
            if getattr(self, "proc", None):
                self.proc.terminate()
                self.proc.wait(15)
                self.log.close()
            self.world.close()


def figures(values):
    return "p50 %5.1f s  p95 %5.1f s  max %5.1f s" % (
        percentile(values, 0.5), percentile(values, 0.95), max(values))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "biotime-syncd"))
    ap.add_argument("--intervals", default="10,30,60",
                    help="intervals (s) measured besides the default one")
    ap.add_argument("--punches", type=int, default=60, help="punches per interval")
    ap.add_argument("--idle-seconds", type=int, default=10)
    ap.add_argument("--smoke", action="store_true", help="about 30 s: proves the bench runs")
    a = ap.parse_args()
    intervals = [None] + [int(x) for x in a.intervals.split(",") if x]
    if a.smoke:
        intervals, a.punches, a.idle_seconds = [2, 5], 10, 3
    runs = [Run(a.binary, i, a.punches, seed=17 + n) for n, i in enumerate(intervals)]
    print("machine: %s, %d cores; ERPNext simulator: frappe cost model, 2 workers; %d punches "
          "per interval at random moments over two intervals" % (os.uname().machine,
                                                                  os.cpu_count(), a.punches))
    with ThreadPoolExecutor(len(runs) + 1) as pool:
        idle = pool.submit(bench_idle, a.binary, a.idle_seconds)
        results = list(pool.map(Run.go, runs))
        idle = idle.result()
    print("punch-to-checkin latency (from BioTime holding a punch to its Employee Checkin):")
    seen = set()
    for run, (latency, after_poll) in zip(runs, results):
        label = "%3d s%s" % (run.interval, " (default)" if run is runs[0] and not a.smoke
                             else "")
        if run.interval in seen and run is not runs[0]:
            continue  # the default is one of the listed intervals
        seen.add(run.interval)
        print("  interval %-14s %s;  poll-to-checkin p50 %.2f s, max %.2f s"
              % (label + ":", figures(latency), percentile(after_poll, 0.5), max(after_poll)))
    print("idle poll: %.2f requests and %.2f ms CPU per poll (%d polls); per hour: %s"
          % (idle["requests_per_poll"], idle["cpu_ms_per_poll"], idle["cycles"],
             ", ".join("%d requests and %.2f s CPU at %d s" % (
                 3600 / i * idle["requests_per_poll"],
                 3600 / i * idle["cpu_ms_per_poll"] / 1000, i) for i in sorted(seen))))


if __name__ == "__main__":
    main()
