"""Chaos (issue 3.5): kill -9 the long-lived daemon at random moments during a large backfill
(mid-page, between a checkin and its Device Log, during the state write), restart it, and at
the end compare ERPNext with BioTime record by record; again while the storm of issue 13
blows (requests retried in flight, batches resent after connections dropped after the
commit, when the kill comes). Size from BTS_CHAOS_PUNCHES, BTS_CHAOS_KILLS,
BTS_CHAOS_STORM_PUNCHES and BTS_CHAOS_STORM_KILLS."""

import os
import random
import signal
import sys
import time

import unittest

from harness import EXIT_OK, UNDER_WRAPPER, SyncTest, main, storm

PUNCHES = int(os.environ.get("BTS_CHAOS_PUNCHES", "3000"))
KILLS = int(os.environ.get("BTS_CHAOS_KILLS", "20"))
STORM_PUNCHES = int(os.environ.get("BTS_CHAOS_STORM_PUNCHES", "2000"))
STORM_KILLS = int(os.environ.get("BTS_CHAOS_STORM_KILLS", "16"))


@unittest.skipIf(UNDER_WRAPPER, "kill -9 leaves nothing for valgrind to check, and under it "
                 "the daemon is too slow to write between kills")
class Chaos(SyncTest):
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

    def test_kill_9_while_faults_blow_loses_nothing_and_writes_nothing_twice(self):
        rnd = random.Random(int(os.environ.get("BTS_CHAOS_SEED", "42")))
        self.generate(STORM_PUNCHES, late_fraction=0.2)
        self.config_path = self.write_config(biotime={"page_size": 100},
                                             erpnext={"batch_size": 50, "connections": 4})
        self.erp.config(latency_ms=3)
        storm(self.bt, self.erp, seed=rnd.randrange(1 << 30))
        for i in range(STORM_KILLS):
            p = self.start_daemon()
            time.sleep(rnd.uniform(0.3, 1.5))
            p.send_signal(signal.SIGKILL)
            p.wait()
            rc, out, err = self.run_daemon("--status")
            self.assertEqual(rc, EXIT_OK, "state unreadable after a kill: " + err)
        done_by_kills = len(self.device_logs())
        fired = self.erp.get("/__sim/stats")["faults_fired"]
        storm(self.bt, self.erp, on=False)
        self.erp.config(latency_ms=0)
        self.once(timeout=600)
        lost, duplicated = self.count_losses()
        print("\nchaos in a storm: punches=%d kills=%d written-between-kills=%d ERPNext "
              "faults=%d lost=%d duplicated=%d" % (len(self.bt_rows()), STORM_KILLS,
                                                   done_by_kills, fired, lost, duplicated),
              file=sys.stderr)
        self.assertGreater(done_by_kills, 0, "the daemon never got to write between kills")
        self.assertGreater(fired, 0, "the storm never blew")
        self.assertEqual((lost, duplicated), (0, 0))
        self.assert_exactly_once()


if __name__ == "__main__":
    main()
