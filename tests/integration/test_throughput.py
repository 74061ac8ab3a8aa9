"""Throughput behaviours (issue 6) that are about requests, not speed: adaptive batches,
the cost of an idle poll, the employee map kept between cycles. Speed figures live in
tests/bench."""

import time

from harness import EXIT_OK, SyncTest, main


class AdaptiveBatches(SyncTest):
    def test_a_batch_that_times_out_is_halved_and_everything_arrives(self):
        self.config_path = self.write_config(erpnext={"timeout": 2, "batch_size": 40})
        self.generate(120)
        self.erp.config(faults=[{"path": "/api/method/frappe.client.insert_many",
                                 "kind": "timeout", "seconds": 4, "count": 1}])
        rc, out, err = self.once()
        self.assertIn("using batches of 20", err)
        self.assert_exactly_once()

    def test_a_body_too_large_for_the_site_is_split_not_dropped(self):
        self.erp.config(max_body_bytes=4000)  # a batch of 20 Device Logs is larger
        self.generate(60)
        self.once()
        self.assert_exactly_once()
        statuses = self.erp.get("/__sim/stats")["statuses"]
        self.assertIn("413", {str(k) for k in statuses})


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


if __name__ == "__main__":
    main()
