#!/usr/bin/env python3
"""Cost of --employees and of employees.push against the simulators (issue 12).

N people on each side (default 5,000): the report's wall time and its requests (pages, never
one per employee), then a first push (--once) that creates the tenth of the Active
Employees BioTime lacks and resigns the leavers it still holds, then a second push with
nothing changed (no write). Prints figures; asserts nothing about speed.

    python3 tests/bench/bench_employees.py [--binary build/biotime-syncd] [--employees 5000]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import BT_PASSWORD, BT_USER, ERP_KEY, ERP_SECRET, Sim  # noqa: E402


def secret(tmp, name, value):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)


def seed(bt, erp, n):
    """ERPNext: n Employees, one in ten Left; BioTime: all but every tenth Active one."""
    emps, people = [], []
    for i in range(n):
        code, left = str(10000 + i), i % 10 == 3
        emps.append({"name": "HR-EMP-%05d" % i, "first_name": "First%d" % i,
                     "last_name": "Last", "employee_name": "First%d Last" % i,
                     "attendance_device_id": code, "status": "Left" if left else "Active"})
        if left or i % 10 != 5:
            people.append({"emp_code": code, "first_name": "First%d" % i, "last_name": "Last"})
    erp.post("/__sim/employees", {"employees": emps})
    bt.post("/__sim/employees", {"employees": people})


def run(binary, conf, *args):
    start = time.monotonic()
    p = subprocess.run([binary, "-c", conf, *args], capture_output=True, text=True,
                       env=dict(os.environ, BTS_LOG_FORCE_STDERR="1"))
    return p.returncode, time.monotonic() - start


def requests(sim):
    got = sim.get("/__sim/stats")["requests"]
    sim.post("/__sim/reset_stats", {})
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "biotime-syncd"))
    ap.add_argument("--employees", type=int, default=5000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bts-bench-emp-")
    os.chmod(tmp, 0o700)
    bt = Sim("biotime", "biotime_sim.py", ["--users", "%s:%s" % (BT_USER, BT_PASSWORD)], tmp)
    erp = Sim("erpnext", "erpnext_sim.py", ["--api-key", ERP_KEY, "--api-secret", ERP_SECRET,
                                            "--site", "127.0.0.1"], tmp)
    try:
        seed(bt, erp, a.employees)
        secret(tmp, "p", BT_PASSWORD)
        secret(tmp, "s", ERP_SECRET)
        conf = os.path.join(tmp, "c.conf")
        with open(conf, "w") as f:
            f.write('biotime = { url = "%s"; username = "%s"; password_file = "p"; '
                    'timezone = "UTC"; page_size = 500; };\n'
                    'erpnext = { url = "%s"; api_key = "%s"; api_secret_file = "s"; '
                    'timezone = "UTC"; };\nsync = { state_dir = "%s/state"; };\n'
                    'employees = { push = true; };\n'
                    % (bt.url, BT_USER, erp.url, ERP_KEY, tmp))
        os.chmod(conf, 0o600)
        requests(bt), requests(erp)
        for title, args in (("--employees", ["--employees"]), ("first push (--once)", ["--once"]),
                            ("second push, nothing changed", ["--once"])):
            rc, secs = run(a.binary, conf, *args)
            b, e = requests(bt), requests(erp)
            writes = sum(v for k, v in b.items() if not k.startswith("GET ") and "auth" not in k)
            print("%-30s exit %d, %6.2f s, BioTime %4d requests (%d writes), ERPNext %d requests"
                  % (title, rc, secs, sum(b.values()), writes, sum(e.values())))
    finally:
        bt.stop()
        erp.stop()


if __name__ == "__main__":
    main()
