"""Chaos (issue 3.5): kill -9 the long-lived daemon at random moments during a large backfill
(mid-page, between a checkin and its Device Log, during the state write), restart it, and at
the end compare ERPNext with BioTime record by record. Size from BTS_CHAOS_PUNCHES and
BTS_CHAOS_KILLS."""

import collections
import os
import random
import signal
import sys
import time

import unittest

from harness import EXIT_OK, UNDER_WRAPPER, SyncTest, main

PUNCHES = int(os.environ.get("BTS_CHAOS_PUNCHES", "3000"))
KILLS = int(os.environ.get("BTS_CHAOS_KILLS", "20"))


@unittest.skipIf(UNDER_WRAPPER, "kill -9 leaves nothing for valgrind to check, and under it "
                 "the daemon is too slow to write between kills")
class Chaos(SyncTest):
    def count_losses(self):
        """(lost, duplicated): BioTime rows without their records, records twice."""
        rows = self.bt_rows()
        logs = self.device_logs()
        checkins = self.checkins()
        emps = self.mapped_codes()
        per_id = collections.Counter(l["id"] for l in logs)
        per_checkin = collections.Counter(l.get("employee_check_in") for l in logs
                                          if int(l.get("synced") or 0) == 1)
        names = {c["name"] for c in checkins}
        lost = duplicated = 0
        for row in rows:
            log_count = per_id.get(str(row["id"]), 0)
            lost += log_count == 0
            duplicated += max(0, log_count - 1)
        for log in logs:
            emp = emps.get(log["emp_code"])
            if emp and int(log["synced"]) != 1:
                lost += 1
            elif int(log["synced"]) == 1 and log["employee_check_in"] not in names:
                lost += 1
        duplicated += sum(1 for n in names if per_checkin.get(n, 0) == 0)
        duplicated += sum(c - 1 for c in per_checkin.values() if c > 1)
        return lost, duplicated

    def test_kill_9_at_random_moments_loses_nothing_and_writes_nothing_twice(self):
        rnd = random.Random(int(os.environ.get("BTS_CHAOS_SEED", "42")))
        self.generate(PUNCHES, late_fraction=0.2)
        self.config_path = self.write_config(biotime={"page_size": 50},
                                             erpnext={"batch_size": 20})
        self.erp.config(latency_ms=3)
        kills = 0
        for i in range(KILLS):
            p = self.start_daemon()
            time.sleep(rnd.uniform(0.2, 1.2))
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
            if i % 4 == 3:  # live punches arrive while it is down
                self.generate(25, start="2026-12-%02d 08:00:00" % (1 + i // 4), seed=i)
            rc, out, err = self.run_daemon("--status")
            self.assertEqual(rc, EXIT_OK, "state unreadable after a kill: " + err)
        done_by_kills = len(self.device_logs())
        self.erp.config(latency_ms=0)
        self.once(timeout=600)
        lost, duplicated = self.count_losses()
        print("\nchaos: punches=%d kills=%d written-between-kills=%d lost=%d duplicated=%d"
              % (len(self.bt_rows()), kills, done_by_kills, lost, duplicated), file=sys.stderr)
        self.assertGreater(done_by_kills, 0, "the daemon never got to write between kills")
        self.assertEqual((lost, duplicated), (0, 0))
        self.assert_exactly_once()


if __name__ == "__main__":
    main()
