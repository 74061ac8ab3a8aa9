"""Throughput behaviours (issue 6) that are about requests, not speed: adaptive batches,
the cost of an idle poll, the employee map kept between cycles. Speed figures live in
tests/bench."""

import os
import subprocess
import time

from harness import BINARY, EXIT_OK, UNDER_WRAPPER, SyncTest, main


def overlaps(a, b, start="arrived"):
    """Two request records of the simulators were being answered at the same time."""
    return a[start] < b["done"] and b[start] < a["done"]


class AdaptiveBatches(SyncTest):
    def test_a_batch_that_times_out_is_halved_and_everything_arrives(self):
        self.config_path = self.write_config(erpnext={"timeout": 2, "batch_size": 40})
        self.generate(120)
        self.erp.config(faults=[{"path": "/api/method/frappe.client.insert_many",
                                 "kind": "timeout", "seconds": 4, "count": 1}])
        rc, out, err = self.once()
        self.assertIn("using batches of 20", err)
        self.assert_exactly_once()

    def test_a_refused_batch_is_bisected_to_its_refused_record_not_sent_one_by_one(self):
        self.config_path = self.write_config(biotime={"page_size": 100},
                                             erpnext={"batch_size": 64})
        self.add_punches([{"emp_code": "1005" if i == 40 else "1001",
                           "punch_time": "2026-11-02 %02d:%02d:00" % (6 + i // 60, i % 60)}
                          for i in range(65)])
        self.erp.config(faults=[{"path": "/api/", "kind": "reject_doc", "count": -1,
                                 "match": {"employee": "HR-EMP-00005"},
                                 "message": "Shift assignment is locked for this employee"}])
        rc, out, err = self.once()
        [refused] = [l for l in self.device_logs() if l["emp_code"] == "1005"]
        self.assertIn("Shift assignment is locked", refused["sync_error"])
        # parked once by the sync, again by the retry of parked punches (read back from
        # ERPNext): both journal lines name the BioTime transaction
        self.assertEqual(err.count("BioTime transaction 41 (emp_code 1005"), 2, err)
        self.assertEqual(len(self.checkins()), 64)
        # after one checkin alone (the time-rights check): 64 in a batch refused as a whole,
        # then halves down to the refused one, 2 per level of 6; 2 Device Log batches; and
        # the parked punch's checkin tried once more by the retry of parked punches
        stats = self.erp.get("/__sim/stats")["requests"]
        self.assertLessEqual(stats["POST /api/method/frappe.client.insert_many"],
                             1 + 2 * 6 + 2 + 1)

    def test_a_body_too_large_for_the_site_is_split_not_dropped(self):
        self.erp.config(max_body_bytes=4000)  # a batch of 20 Device Logs is larger
        self.generate(60)
        self.once()
        self.assert_exactly_once()
        statuses = self.erp.get("/__sim/stats")["statuses"]
        self.assertIn("413", {str(k) for k in statuses})


class KeepAlive(SyncTest):
    def test_pages_of_a_cycle_come_over_kept_alive_connections(self):
        self.generate(1000)  # 20 pages of 50
        self.once()
        pages = [r for r in self.bt.get("/__sim/stats")["timeline"]
                 if r["path"].startswith("/iclock/api/transactions/")]
        self.assertGreaterEqual(len(pages), 20)
        # the first page comes on the client's own handle, the rest on the write loop's
        self.assertLessEqual(len({r["client_port"] for r in pages}), 3)


class IdlePoll(SyncTest):
    def test_an_idle_poll_costs_at_most_two_requests_and_keeps_the_employee_map(self):
        self.generate(30)
        p = self.start_daemon()
        self.wait_for(lambda: len(self.device_logs()) == 30, what="initial sync")
        time.sleep(1.5)
        bt0 = self.bt.get("/__sim/stats")["requests"]
        erp0 = self.erp.get("/__sim/stats")["total_requests"]
        time.sleep(6)  # sync.interval = 1: several idle polls
        bt1 = self.bt.get("/__sim/stats")["requests"]
        erp1 = self.erp.get("/__sim/stats")["total_requests"]
        self.assertEqual(self.stop_daemon(p), EXIT_OK)
        polls = sum(bt1.values()) - sum(bt0.values())
        self.assertGreaterEqual(polls, 3)
        self.assertLessEqual((erp1 - erp0 + polls) / polls, 2.0)
        self.assertEqual(erp1 - erp0, 0, "ERPNext asked during idle polls (employee map?)")


class Pipeline(SyncTest):
    """How writes travel: against the ERPNext simulator's cost model (2 workers, HRMS's
    naming-series lock held from a checkin request's first naming to its commit)."""

    def setUp(self):
        super().setUp()
        self.config_path = self.write_config(biotime={"page_size": 100},
                                             erpnext={"batch_size": 50, "connections": 3})
        self.erp.config(cost_model="frappe")

    def timelines(self):
        erp = self.erp.get("/__sim/requests")["requests"]
        pages = [r for r in self.bt.get("/__sim/stats")["timeline"]
                 if r["path"].startswith("/iclock/api/transactions/")]
        batches = [r for r in erp if r["path"].endswith("frappe.client.insert_many")]
        checkins = [r for r in batches if r["series_lock"]]
        logs = [r for r in batches if not r["series_lock"]]
        return pages, checkins, logs

    def test_the_next_page_is_read_while_erpnext_writes_the_ones_before(self):
        self.bt.config(row_latency_us=300)  # a page of 100 takes 30 ms to come
        self.generate(800)
        self.once()
        self.assert_exactly_once()
        pages, checkins, logs = self.timelines()
        first_write = min(r["arrived"] for r in checkins + logs)
        later = [p for p in pages if p["arrived"] > first_write]
        during = [p for p in later if any(overlaps(p, w) for w in checkins + logs)]
        self.assertGreaterEqual(len(later), 5)
        self.assertGreaterEqual(len(during), len(later) // 2,
                                "pages read while nothing was being written")

    def test_a_server_that_does_not_sort_by_id_is_scanned_the_same_way(self):
        self.bt.config(default_order="-id", row_latency_us=300)  # arrival scans
        self.generate(800)
        rc, out, err = self.once()
        self.assertIn("ordering=-upload_time", err)
        self.assert_exactly_once()
        pages, checkins, logs = self.timelines()
        pages = [p for p in pages if "ordering=-upload_time" in p["query"]
                 and "page_size=100" in p["query"]]
        first_write = min(r["arrived"] for r in checkins + logs)
        later = [p for p in pages if p["arrived"] > first_write]
        during = [p for p in later if any(overlaps(p, w) for w in checkins + logs)]
        self.assertGreaterEqual(len(later), 5)
        self.assertGreaterEqual(len(during), len(later) // 2)

    def test_one_checkin_batch_at_a_time_while_device_logs_use_the_other_workers(self):
        self.generate(600)
        self.once()
        self.assert_exactly_once()
        pages, checkins, logs = self.timelines()
        self.assertGreaterEqual(len(checkins), 10)
        for i, a in enumerate(checkins):
            for b in checkins[i + 1:]:
                self.assertFalse(overlaps(a, b), "two checkin batches in flight at once: "
                                 "the second only waits for the series lock in a worker")
        parallel = [d for d in logs if any(overlaps(d, c, "started") for c in checkins)]
        self.assertGreaterEqual(len(parallel), len(logs) // 2,
                                "Device Logs were not written while checkins were")


def peak_rss_kib(cmd, env):
    """Runs cmd to completion, sampling its VmHWM (peak resident set) from /proc."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    peak = 0
    while p.poll() is None:
        try:
            with open("/proc/%d/status" % p.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.01)
    return p.returncode, peak


def instrumented():
    """A sanitizer build keeps freed memory in quarantine: its RSS grows with the work."""
    with open(BINARY, "rb") as f:
        return b"__asan_init" in f.read()


class BoundedMemory(SyncTest):
    def test_peak_memory_does_not_grow_with_the_backlog(self):
        if UNDER_WRAPPER or instrumented():
            self.skipTest("memory of an instrumented daemon says nothing about ours")
        self.config_path = self.write_config(biotime={"page_size": 200},
                                             erpnext={"batch_size": 100, "connections": 4})
        env = dict(os.environ, BTS_LOG_FORCE_STDERR="1")
        peaks = []
        for count in (2000, 30000):
            self.bt.post("/__sim/reset", {})
            self.erp.post("/__sim/reset", {})
            self.add_employees(self.employees)
            self.generate(count)
            if os.path.exists(os.path.join(self.state_dir, "state.json")):
                os.remove(os.path.join(self.state_dir, "state.json"))
            rc, peak = peak_rss_kib(self.command(["--once"]), env)
            self.assertEqual(rc, EXIT_OK)
            self.assertEqual(len(self.device_logs()), count)
            peaks.append(peak)
        # holding the backlog would cost tens of MiB for 28,000 more punches
        self.assertLess(peaks[1] - peaks[0], 2048, "peak RSS %s KiB grew with the backlog"
                        % peaks)


if __name__ == "__main__":
    main()
