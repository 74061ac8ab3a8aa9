#!/usr/bin/env python3
"""The naive baseline of tests/bench/bench.py, in a process of its own so that its CPU
time and peak RSS can be measured like the daemon's: one request per record, sequential
(a single Employee Checkin insert and a single Device Log insert per punch), as the cron-job
tools do.

    BASELINE_URL=http://127.0.0.1:PORT BASELINE_AUTH="token key:secret" baseline.py ROWS.json

ROWS.json: {"rows": [BioTime rows], "employees": {emp_code: Employee name}}.
"""

import json
import os
import sys
import urllib.request


def post(url, doc, auth):
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Authorization": auth})
    with urllib.request.urlopen(req, timeout=120) as r:
        r.read()


def main():
    base, auth = os.environ["BASELINE_URL"], os.environ["BASELINE_AUTH"]
    with open(sys.argv[1]) as f:
        work = json.load(f)
    for row in work["rows"]:
        post(base + "/api/resource/Employee%20Checkin", {
            "employee": work["employees"][row["emp_code"]], "time": row["punch_time"],
            "log_type": "IN", "device_id": row["terminal_sn"]}, auth)
        post(base + "/api/resource/BioTime%20Device%20Log", {
            "id": str(row["id"]), "emp_code": row["emp_code"], "punch_time": row["punch_time"],
            "terminal_sn": row["terminal_sn"], "synced": 1}, auth)


if __name__ == "__main__":
    main()
