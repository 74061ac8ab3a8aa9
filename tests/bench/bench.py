#!/usr/bin/env python3
"""Throughput and footprint of biotime-syncd against the simulators (issue 6).

One command runs, in the same invocation:
  1. a first sync of N punches with the ERPNext simulator's cost model taken from the real
     site's timing.txt (per-request service time, W gunicorn workers, HRMS's naming-series
     lock held from a checkin request's first naming to its commit), measuring records/s,
     HTTP requests per record, peak RSS and CPU seconds of the daemon, and how busy the
     series lock was: its hold time per checkin bounds what any client can reach;
  2. the same with a slow BioTime (pages read while ERPNext writes should cost nothing);
  3. a naive baseline (one request per record, sequential: a single checkin insert and a
     single Device Log insert per punch), on a sample of the punches;
  4. an idle poll: requests and CPU per cycle when BioTime has nothing new;
  5. peak RSS of a small and a large sync without the cost model (memory must not grow with
     the backlog), beside the floor of the daemon's libraries (a program that only makes
     one request with libcurl);
  6. the same first sync under the storm of issue 13 (tests/integration/harness.py: ERPNext
     deadlocks, 502/503, dropped connections, 429 bursts; BioTime HTML 500s, resets, 429s,
     stalls), with --once run again whenever it exits 75, as records/s divided by the
     records/s of the same sync (page_size 100) without faults.
It prints figures and asserts nothing about speed.

    python3 tests/bench/bench.py [--binary build/biotime-syncd] [--punches 5000]
                                 [--workers 2] [--big 200000] [--smoke]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import (BT_PASSWORD, BT_USER, ERP_KEY, ERP_SECRET, Sim, render,  # noqa: E402
                     storm)


class World:
    """Both simulators, employees, punches and a config in a temporary directory."""

    def __init__(self, workers, cost_model, punches, biotime_row_us=0):
        self.tmp = tempfile.mkdtemp(prefix="bts-bench-")
        self.bt = Sim("biotime", "biotime_sim.py", ["--users", "%s:%s" % (BT_USER, BT_PASSWORD)],
                      self.tmp)
        self.erp = Sim("erpnext", "erpnext_sim.py",
                       ["--api-key", ERP_KEY, "--api-secret", ERP_SECRET, "--site", "127.0.0.1",
                        "--workers", str(workers), "--cost-model", cost_model], self.tmp)
        emps = [{"name": "HR-EMP-%05d" % i, "employee_name": "E%d" % i,
                 "attendance_device_id": str(1000 + i), "status": "Active"} for i in range(1, 21)]
        self.erp.post("/__sim/employees", {"employees": emps})
        if biotime_row_us:
            self.bt.post("/__sim/config", {"row_latency_us": biotime_row_us})
        self.bt.post("/__sim/generate", {
            "count": punches, "emp_codes": [str(1001 + i) for i in range(20)],
            "terminals": ["CQUJ000001", "CQUJ000002", "BOCK000003"],
            "start": "2026-01-01 08:00:00", "step_seconds": 7, "seed": 11})
        for name, value in (("biotime.password", BT_PASSWORD), ("erpnext.secret", ERP_SECRET)):
            path = os.path.join(self.tmp, name)
            with open(path, "w") as f:
                f.write(value + "\n")
            os.chmod(path, 0o600)

    connections = 4
    batch_size = 100
    page_size = 200

    def config(self, log_level=None, **sync):
        groups = {
            "biotime": {"url": self.bt.url, "username": BT_USER,
                        "password_file": "biotime.password", "page_size": self.page_size,
                        "timezone": "UTC"},
            "erpnext": {"url": self.erp.url, "api_key": ERP_KEY,
                        "api_secret_file": "erpnext.secret", "timezone": "UTC",
                        "batch_size": self.batch_size, "connections": self.connections},
            "sync": dict({"state_dir": os.path.join(self.tmp, "state")}, **sync),
            "log": {"level": log_level or os.environ.get("BENCH_LOG", "warning")},
        }
        path = os.path.join(self.tmp, "bench.conf")
        with open(path, "w") as f:
            for g, keys in groups.items():
                f.write("%s = {\n%s};\n" % (g, "".join("  %s = %s;\n" % (k, render(v))
                                                       for k, v in keys.items())))
        os.chmod(path, 0o600)
        return path

    def requests(self):
        return (self.erp.get("/__sim/stats")["total_requests"],
                sum(self.bt.get("/__sim/stats")["requests"].values()))

    def close(self):
        self.bt.stop()
        self.erp.stop()


def memory_kib(pid):
    """(VmHWM, RssAnon) of a running process. VmHWM is its peak RSS so far; RssAnon its own
    memory (heap, stacks) without the shared libraries' pages, which every process using
    libcurl, OpenSSL and libsystemd maps anyway. (getrusage's ru_maxrss would count the
    forked Python interpreter before exec, so it is not used.)"""
    found = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key = line.split(":")[0]
                if key in ("VmHWM", "RssAnon"):
                    found[key] = int(line.split()[1])
    except OSError:
        pass
    return found.get("VmHWM", 0), found.get("RssAnon", 0)


def run_measured(cmd, env=None):
    """Runs cmd; returns (wall s, cpu s, peak RSS KiB, peak private KiB) of that process
    (memory sampled every 20 ms)."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak_rss = peak_private = 0
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        hwm, private = memory_kib(p.pid)
        peak_rss, peak_private = max(peak_rss, hwm), max(peak_private, private)
        time.sleep(0.02)
    wall = time.monotonic() - start
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("daemon failed (%s):\n%s" % (status, err[-2000:]))
    return wall, usage.ru_utime + usage.ru_stime, peak_rss, peak_private


def series_lock(requests, checkins):
    """(share of the run the naming-series lock was held, records/s the lock allows any
    client: checkins per second of lock hold time)."""
    held = [r["series_lock"] for r in requests if r.get("series_lock")]
    if not held:
        return 0.0, 0.0
    busy = sum(b - a for a, b in held)
    span = max(b for _, b in held) - min(a for a, _ in held)
    return busy / span, checkins / busy


def bench_daemon(binary, workers, punches, biotime_row_us=0):
    w = World(workers, "frappe", punches, biotime_row_us)
    try:
        cfg = w.config()
        wall, cpu, rss, private = run_measured([binary, "-c", cfg, "--once"])
        erp, bt = w.requests()
        docs = w.erp.get("/__sim/stats")["docs"]
        assert docs.get("Employee Checkin") == punches, docs
        busy, bound = series_lock(w.erp.get("/__sim/requests")["requests"], punches)
        return {"records": punches, "seconds": wall, "rate": punches / wall,
                "requests_per_record": (erp + bt) / punches, "cpu": cpu, "rss_kib": rss,
                "lock_busy": busy, "bound": bound}
    finally:
        w.close()


def bench_calm_and_storm(binary, workers, punches, seed=13):
    """(records/s without faults, the storm's figures): the same first sync at page_size 100,
    calm, then under the storm with --once run again whenever it exits 75."""
    calm = World(workers, "frappe", punches)
    try:
        calm.page_size = 100
        wall = run_measured([binary, "-c", calm.config(), "--once"])[0]
    finally:
        calm.close()
    w = World(workers, "frappe", punches)
    try:
        w.page_size = 100
        cfg = w.config()
        storm(w.bt, w.erp, seed=seed)
        started, exits = time.monotonic(), []
        while not exits or exits[-1] != 0:
            p = subprocess.run([binary, "-c", cfg, "--once"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
            exits.append(p.returncode)
            if p.returncode not in (0, 75) or len(exits) > 100:
                raise SystemExit("storm: daemon exits %s:\n%s" % (
                    exits, p.stderr.decode(errors="replace")[-2000:]))
        seconds = time.monotonic() - started
        docs = w.erp.get("/__sim/stats")["docs"]
        assert docs.get("Employee Checkin") == punches, docs
        fired = (w.bt.get("/__sim/stats")["faults_fired"]
                 + w.erp.get("/__sim/stats")["faults_fired"])
        return punches / wall, {"records": punches, "seconds": seconds,
                                "rate": punches / seconds, "exits": exits, "faults": fired}
    finally:
        w.close()


def print_storm(calm_rate, st):
    print("under the storm of issue 13 (page_size 100): %d records in %.1f s = %.1f records/s "
          "(%d faults; --once ran %d times, %d exited 75) vs %.1f records/s without faults: "
          "%.0f%%" % (st["records"], st["seconds"], st["rate"], st["faults"], len(st["exits"]),
                      st["exits"].count(75), calm_rate, 100 * st["rate"] / calm_rate))


def bench_baseline(workers, punches, sample):
    """One request per record, sequential (tests/bench/baseline.py, measured like the
    daemon)."""
    w = World(workers, "frappe", punches)
    try:
        rows = w.bt.get("/__sim/transactions")["rows"][:sample]
        path = os.path.join(w.tmp, "baseline-rows.json")
        with open(path, "w") as f:
            json.dump({"rows": rows, "employees": {str(1000 + i): "HR-EMP-%05d" % i
                                                    for i in range(1, 21)}}, f)
        env = dict(os.environ, BASELINE_URL=w.erp.url,
                   BASELINE_AUTH="token %s:%s" % (ERP_KEY, ERP_SECRET))
        wall, cpu, rss, private = run_measured(
            [sys.executable, os.path.join(HERE, "baseline.py"), path], env)
        n = w.erp.get("/__sim/stats")["total_requests"]
        return {"records": len(rows), "seconds": wall, "rate": len(rows) / wall,
                "requests_per_record": n / len(rows), "cpu": cpu, "rss_kib": rss}
    finally:
        w.close()


def read_cpu(pid):
    """CPU seconds the process has run: from schedstat (nanoseconds) where the kernel has
    it, else from stat's clock ticks (10 ms steps: too coarse for one idle poll)."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_idle(binary, seconds):
    """Long-lived daemon, caught up: requests and CPU per idle poll."""
    w = World(2, "none", 500)
    try:
        cfg = w.config(interval=1)
        p = subprocess.Popen([binary, "-c", cfg], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while w.erp.get("/__sim/stats")["docs"].get("BioTime Device Log", 0) < 500:
            if time.time() > deadline:
                raise SystemExit("idle bench: initial sync did not finish")
            time.sleep(0.2)
        time.sleep(1.5)
        erp0, bt0 = w.requests()
        cpu0 = read_cpu(p.pid)
        time.sleep(seconds)
        erp1, bt1 = w.requests()
        cpu1 = read_cpu(p.pid)
        p.terminate()
        p.wait(15)
        cycles = max(1, bt1 - bt0)  # one BioTime request per idle poll
        return {"cycles": cycles, "requests_per_poll": (erp1 - erp0 + bt1 - bt0) / cycles,
                "cpu_ms_per_poll": (cpu1 - cpu0) * 1000 / cycles}
    finally:
        w.close()


def bench_memory(binary, punches):
    w = World(2, "none", punches)
    try:
        wall, cpu, rss, private = run_measured([binary, "-c", w.config(), "--once"])
        return {"records": punches, "seconds": wall, "rss_kib": rss, "cpu": cpu,
                "private_kib": private}
    finally:
        w.close()


def library_floor_kib(binary):
    """Peak RSS of a program that only makes one request with the daemon's libraries."""
    floor = os.path.join(os.path.dirname(os.path.abspath(binary)), "tests", "bench_curl_floor")
    if not os.access(floor, os.X_OK):
        return 0
    w = World(2, "none", 0)
    try:
        out = subprocess.run([floor, w.erp.url + "/api/method/ping"], capture_output=True,
                             text=True).stdout
        return int(out.split()[1]) if out.startswith("VmHWM:") else 0
    finally:
        w.close()


def print_throughput(d, slow, b, row_us):
    print("biotime-syncd:  %6d records in %6.1f s = %6.1f records/s, %.4f requests/record, "
          "peak RSS %.1f MiB, CPU %.2f s" % (d["records"], d["seconds"], d["rate"],
                                             d["requests_per_record"], d["rss_kib"] / 1024,
                                             d["cpu"]))
    print("  with a slow BioTime (%d ms per page of 200): %.1f records/s"
          % (row_us * 200 / 1000, slow["rate"]))
    print("naive baseline: %6d records in %6.1f s = %6.1f records/s, %.4f requests/record, "
          "peak RSS %.1f MiB, CPU %.2f s (Python)" % (b["records"], b["seconds"], b["rate"],
                                                     b["requests_per_record"],
                                                     b["rss_kib"] / 1024, b["cpu"]))
    print("ratio: %.1fx the baseline's records/s" % (d["rate"] / b["rate"]))
    print("HRMS's naming-series lock: held %.1f%% of the run. Checkin inserts run one at a "
          "time under it, so no client can write more than %.1f checkins/s to this site "
          "(%.1fx the baseline, with any number of connections or workers); biotime-syncd "
          "reaches %.1f%% of that" % (100 * d["lock_busy"], d["bound"], d["bound"] / b["rate"],
                                      100 * d["rate"] / d["bound"]))


def print_memory(small, big, floor):
    print("memory: peak RSS %.1f MiB for %d records, %.1f MiB for %d (private, not shared "
          "libraries: %.1f and %.1f MiB); CPU %.1f s for %d records"
          % (small["rss_kib"] / 1024, small["records"], big["rss_kib"] / 1024, big["records"],
             small["private_kib"] / 1024, big["private_kib"] / 1024, big["cpu"],
             big["records"]))
    if floor:
        print("  floor: a program that only makes one request with the same libraries peaks "
              "at %.1f MiB; biotime-syncd adds %.1f MiB to it"
              % (floor / 1024, (big["rss_kib"] - floor) / 1024))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "biotime-syncd"))
    ap.add_argument("--punches", type=int, default=5000)
    ap.add_argument("--baseline-sample", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--big", type=int, default=200000)
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--biotime-row-us", type=int, default=1500,
                    help="BioTime's time per row of a page in the slow-BioTime run")
    ap.add_argument("--idle-seconds", type=int, default=10)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: proves the bench runs")
    a = ap.parse_args()
    if a.smoke:
        a.punches, a.baseline_sample, a.big, a.small, a.idle_seconds = (
            min(a.punches, 400), 40, 2000, 500, 3)
    print("machine: %s, %d cores; ERPNext simulator: frappe cost model, %d workers"
          % (os.uname().machine, os.cpu_count(), a.workers))
    d = bench_daemon(a.binary, a.workers, a.punches)
    slow = bench_daemon(a.binary, a.workers, a.punches, a.biotime_row_us)
    b = bench_baseline(a.workers, a.punches, min(a.baseline_sample, a.punches))
    print_throughput(d, slow, b, a.biotime_row_us)
    print_storm(*bench_calm_and_storm(a.binary, a.workers, a.punches))
    i = bench_idle(a.binary, a.idle_seconds)
    print("idle poll: %.2f requests and %.2f ms CPU per poll (%d polls)"
          % (i["requests_per_poll"], i["cpu_ms_per_poll"], i["cycles"]))
    print_memory(bench_memory(a.binary, a.small), bench_memory(a.binary, a.big),
                 library_floor_kib(a.binary))


if __name__ == "__main__":
    main()
