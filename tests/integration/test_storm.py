"""The storm of issue 13: 1,500 punches wait (page_size 100) while ERPNext answers like a
busy site (deadlocks, 502/503 while gunicorn restarts, dropped connections before and after
the commit, 429 bursts with Retry-After) and BioTime like a struggling one (HTML 500s,
resets, 429s, stalls), with --once run again whenever it exits 75. At least 90% of the
punches must arrive while the storm lasts, and once it stops the result must be exactly
once, compared with BioTime record by record. Before issue 13 none arrived during the storm.
Size from BTS_STORM_PUNCHES and BTS_STORM_SECONDS (the issue used 300 s)."""

import os
import sys
import time
import unittest

from harness import EXIT_OK, EXIT_TEMPFAIL, UNDER_WRAPPER, SyncTest, main, storm

PUNCHES = int(os.environ.get("BTS_STORM_PUNCHES", "1500"))
STORM_S = float(os.environ.get("BTS_STORM_SECONDS", "60"))


@unittest.skipIf(UNDER_WRAPPER, "the storm is bounded in wall-clock time, and under valgrind "
                 "the daemon is many times slower")
class Storm(SyncTest):
    def storm_config(self):
        self.config_path = self.write_config(biotime={"page_size": 100, "timeout": 10},
                                             erpnext={"batch_size": 100, "connections": 4,
                                                      "timeout": 10})
        self.erp.config(cost_model="frappe")  # a real site's service times: not instant

    def delivered(self):
        return sum(1 for l in self.device_logs() if int(l.get("synced") or 0) == 1)

    def once_until(self, deadline):
        """Runs --once again whenever it exits 75, until everything is delivered or the
        deadline; returns the exit codes seen."""
        codes = []
        while time.time() < deadline and self.delivered() < PUNCHES:
            p = self.start_daemon("--once")
            while p.poll() is None and time.time() < deadline:
                time.sleep(0.2)
            if p.poll() is None:
                self.stop_daemon(p)  # the storm is over: measure what it delivered
                break
            self.outputs.append(self.output_of(p))
            codes.append(p.returncode)
            self.assertIn(p.returncode, (EXIT_OK, EXIT_TEMPFAIL), self.output_of(p)[-3000:])
        return codes

    def test_a_storm_of_transient_faults_delays_delivery_but_does_not_stop_it(self):
        self.generate(PUNCHES)
        self.storm_config()
        storm(self.bt, self.erp)
        started = time.time()
        codes = self.once_until(started + STORM_S)
        during = self.delivered()
        seconds = time.time() - started
        fired = (self.bt.get("/__sim/stats")["faults_fired"],
                 self.erp.get("/__sim/stats")["faults_fired"])
        storm(self.bt, self.erp, on=False)
        self.once(timeout=300)
        lost, duplicated = self.count_losses()
        print("\nstorm: %d of %d punches delivered during the storm (%.0f%%) in %.0f s; "
              "--once exits %s; faults fired: BioTime %d, ERPNext %d; afterwards lost=%d "
              "duplicated=%d" % (during, PUNCHES, 100.0 * during / PUNCHES, seconds, codes,
                                 fired[0], fired[1], lost, duplicated), file=sys.stderr)
        self.assertGreater(min(fired), 0, "the storm never blew")
        self.assertGreaterEqual(during, 0.9 * PUNCHES, "too little delivered during the storm")
        self.assertEqual((lost, duplicated), (0, 0))
        self.assert_exactly_once()


INSERT_MANY = "/api/method/frappe.client.insert_many"


class DroppedConnections(SyncTest):
    def insert_many_sizes(self):
        return [r["docs"] for r in self.erp.get("/__sim/requests")["requests"]
                if r["path"] == INSERT_MANY]

    def test_a_dropped_connection_resends_the_same_batch_instead_of_halving_it(self):
        self.config_path = self.write_config(erpnext={"batch_size": 40})
        self.generate(120)
        self.erp.config(faults=[{"path": INSERT_MANY, "kind": "drop", "count": 2}])
        rc, out, err = self.once()
        self.assertEqual(self.erp.get("/__sim/stats")["faults_fired"], 2)
        self.assertNotIn("using batches of", err)  # only a timeout makes batches smaller
        self.assertEqual(max(self.insert_many_sizes()), 40)
        self.assert_exactly_once()

    def resend_after_commit(self, skip):
        """60 punches in one page and one batch per kind (the first checkin goes alone):
        the skip-th insert_many is committed, then its connection dropped. insert_many is
        all or nothing, so the resent batch comes back refused as a whole as a duplicate;
        one list confirms it. Splitting it would cost about two requests per record."""
        self.config_path = self.write_config(biotime={"page_size": 100},
                                             erpnext={"batch_size": 100})
        self.generate(60)
        self.erp.config(faults=[{"path": INSERT_MANY, "kind": "drop_after_commit",
                                 "count": 1, "skip": skip}])
        self.once()
        self.assertEqual(self.erp.get("/__sim/stats")["faults_fired"], 1)
        self.assertEqual(len(self.insert_many_sizes()), 3, self.insert_many_sizes())
        self.assert_exactly_once()

    def test_a_checkin_batch_resent_after_a_drop_after_commit_is_confirmed_not_split(self):
        self.resend_after_commit(skip=0)

    def test_a_device_log_batch_resent_after_a_drop_after_commit_is_confirmed_not_split(self):
        self.resend_after_commit(skip=1)


class Throttling(SyncTest):
    @unittest.skipIf(UNDER_WRAPPER, "under valgrind the daemon may send a request before it "
                     "has read the 429 that the server already answered")
    def test_a_429_holds_every_request_for_its_retry_after(self):
        """Frappe's rate limiter is site-wide: while a Retry-After runs, no request of any
        kind is sent (each would only be refused too), then everything is delivered."""
        self.config_path = self.write_config(biotime={"page_size": 20},
                                             erpnext={"batch_size": 20, "connections": 4})
        self.generate(200)
        self.erp.config(faults=[{"path": INSERT_MANY, "kind": "status", "status": 429,
                                 "retry_after": 2, "skip": 3, "count": 1}])
        self.once()
        requests = self.erp.get("/__sim/requests")["requests"]
        [throttled] = [r for r in requests if r["status"] == 429]
        later = [r["arrived"] for r in requests if r["arrived"] > throttled["done"]]
        self.assertTrue(later, "nothing was sent after the 429")
        self.assertGreaterEqual(min(later) - throttled["done"], 2.0)
        self.assert_exactly_once()


    @unittest.skipIf(UNDER_WRAPPER, "under valgrind a wave of requests is not sent at once")
    def test_a_429_halves_the_requests_in_flight(self):
        """After the hold, at most half the connections go at once (then one more per
        window of answers), though more requests are waiting."""
        self.config_path = self.write_config(biotime={"page_size": 20},
                                             erpnext={"batch_size": 10, "connections": 4})
        self.generate(300)
        self.erp.config(latency_ms=300, workers=8, faults=[
            {"path": INSERT_MANY, "kind": "status", "status": 429, "retry_after": 2,
             "skip": 3, "count": 1}])
        self.once(timeout=200)
        requests = self.erp.get("/__sim/requests")["requests"]
        [throttled] = [r for r in requests if r["status"] == 429]
        # requests sent before the daemon read the 429 may arrive just after it
        held = sorted(r["arrived"] for r in requests if r["arrived"] > throttled["done"] + 1)
        first_wave = [t for t in held if t < held[0] + 0.1]
        self.assertEqual(len(first_wave), 2, held[:6])
        self.assert_exactly_once()


@unittest.skipIf(UNDER_WRAPPER, "seven slow cycles under valgrind may take the minute itself")
class OnceGivesUpOnlyWhenNothingMoves(SyncTest):
    def test_once_rides_out_more_than_six_failed_cycles_within_a_minute(self):
        """A proxy's login page instead of the Employee list cannot be retried in flight (it
        is not an answer to trust), so each cycle fails at once; --once used to give up
        after six such cycles in a row. It now gives up only after a minute without
        progress (test_core covers that side), so the seventh failure is not the end."""
        self.generate(30)
        self.erp.config(faults=[{"path": "/api/resource/Employee", "method": "GET",
                                 "kind": "html", "count": 7}])
        rc, out, err = self.once(timeout=120)
        self.assertEqual(self.erp.get("/__sim/stats")["faults_fired"], 7)
        self.assert_exactly_once()


if __name__ == "__main__":
    main()
