"""Never lose a punch, never write one twice (issue 3): each condition against the
simulators."""

import datetime
import json
import signal
import time

from harness import EXIT_OK, SyncTest, main


def utc_now_text(delta_hours=0):
    t = datetime.datetime.utcnow() + datetime.timedelta(hours=delta_hours)
    return t.strftime("%Y-%m-%d %H:%M:%S")


class LateUploads(SyncTest):
    def test_backlog_from_an_offline_terminal_interleaved_with_live_punches(self):
        self.generate(300, late_fraction=0.3)
        self.once()
        self.generate(200, start="2026-11-20 08:00:00", late_fraction=0.5, seed=7)
        self.once()
        rows, _ = self.assert_exactly_once()
        late = [r for r in rows if r["punch_time"] < r["upload_time"][:10]]
        self.assertGreater(len(late), 50)


class MovingData(SyncTest):
    def test_rows_added_between_page_requests_are_not_skipped(self):
        self.generate(200)
        extra = [{"emp_code": "1004", "punch_time": "2026-11-09 10:00:%02d" % i}
                 for i in range(5)]
        self.bt.config(insert_on_page={"after_requests": 2, "rows": extra})
        self.once()
        rows, _ = self.assert_exactly_once()
        self.assertEqual(len(rows), 205)

    def test_deleted_rows_shift_pages_back_and_the_cursor_is_found_again(self):
        self.generate(500)
        self.once()
        self.assertEqual(self.state()["page_hint"], 10)
        ids = [r["id"] for r in self.bt_rows()]
        deleted = ids[:150] + ids[300:340:3]
        self.bt.post("/__sim/delete", {"ids": deleted})
        self.generate(60, start="2026-11-20 08:00:00")
        self.bt.post("/__sim/reset_stats", {})
        self.once()
        self.assert_exactly_once(extra_logs=len(deleted))
        # found by binary search over pages, not by id arithmetic or a full rescan
        self.assertLessEqual(self.bt.get("/__sim/stats")["transactions_requests"], 10)

    def test_gaps_in_ids_do_not_hide_rows(self):
        ids = self.add_punches([{"id": 10 * i + 1, "emp_code": "1002",
                                 "punch_time": "2026-11-03 08:%02d:00" % i} for i in range(40)])
        self.config_path = self.write_config(biotime={"page_size": 7})
        self.once()
        self.add_punches([{"id": 1000 + i, "emp_code": "1002",
                           "punch_time": "2026-11-04 08:%02d:00" % i} for i in range(9)])
        self.once()
        rows, checkins = self.assert_exactly_once()
        self.assertEqual(len(rows), 49)


class SortOrder(SyncTest):
    def test_server_sorting_by_descending_id_gets_an_arrival_scan(self):
        self.bt.config(default_order="-id")
        self.generate(120)
        rc, out, err = self.once()
        self.assertIn("ascending id order", err)
        self.generate(30, start="2026-11-25 08:00:00", late_fraction=0.5, seed=3)
        self.once()
        self.assert_exactly_once()

    def test_server_ignoring_ordering_gets_a_lookback_window(self):
        self.bt.config(default_order="-id", honour_ordering=False)
        self.generate(80, start=utc_now_text(-5), step_seconds=60)
        rc, out, err = self.once()
        self.assertIn("lookback_hours", err)
        self.generate(20, start=utc_now_text(-1), step_seconds=60, seed=5)
        self.once()
        self.assert_exactly_once()


class IdReset(SyncTest):
    def test_restored_biotime_is_detected_and_new_punches_with_reused_ids_are_kept(self):
        self.generate(100)
        self.once()
        self.bt.post("/__sim/reset_ids", {"next_id": 1, "clear": True})
        new_ids = self.add_punches([{"emp_code": "1005",
                                     "punch_time": "2026-11-21 08:%02d:00" % i}
                                    for i in range(5)])
        self.assertEqual(new_ids, [1, 2, 3, 4, 5])
        rc, out, err = self.once()
        self.assertIn("below the cursor", err)
        self.assert_exactly_once(names={i: "%d-r1" % i for i in new_ids}, extra_logs=100)
        times = {c["time"][:19] for c in self.checkins()}
        for i in range(5):
            self.assertIn("2026-11-21 08:%02d:00" % i, times)


class Faults(SyncTest):
    def test_drops_429_timeouts_and_unknown_outcomes_still_deliver_once(self):
        self.config_path = self.write_config(biotime={"timeout": 2}, erpnext={"timeout": 2})
        self.generate(150)
        self.bt.config(faults=[
            {"kind": "drop"},
            {"kind": "status", "status": 429, "retry_after": 1},
            {"kind": "timeout", "seconds": 5},
            {"kind": "status", "status": 504, "skip": 2}])
        self.erp.config(faults=[
            {"path": "/api/method/frappe.client.insert_many", "kind": "drop_after_commit",
             "count": 2},
            {"path": "/api/method/frappe.client.insert_many", "kind": "status", "status": 429,
             "retry_after": 1, "count": 1},
            {"path": "/api/method/frappe.client.insert_many", "kind": "timeout",
             "seconds": 5, "skip": 3, "count": 1}])
        self.once(timeout=300)
        self.assert_exactly_once()

    def test_permanent_refusal_parks_that_record_and_the_rest_moves_on(self):
        self.generate(100)
        self.erp.config(faults=[{"path": "/api/", "kind": "reject_doc", "count": -1,
                                 "match": {"employee": "HR-EMP-00003"},
                                 "message": "Shift assignment is locked for this employee"}])
        self.once()
        logs = self.device_logs()
        refused = [l for l in logs if l["emp_code"] == "1003"]
        self.assertGreater(len(refused), 0)
        for l in refused:
            self.assertEqual(int(l["synced"]), 0)
            self.assertIn("Shift assignment is locked", l["sync_error"])
        others = [l for l in logs if l["emp_code"] != "1003"]
        self.assertTrue(all(int(l["synced"]) == 1 for l in others))
        self.assertEqual(len(logs), 100)
        self.assertGreater(self.state()["last_id"], 0)

    def test_a_failing_server_is_not_hammered_and_sync_logs_are_not_flooded(self):
        self.bt.config(faults=[{"kind": "status", "status": 503, "count": -1}])
        p = self.start_daemon()
        time.sleep(9)
        self.assertEqual(self.stop_daemon(p), EXIT_OK)
        stats = self.bt.get("/__sim/stats")
        # the request is asked again after 0.5, 1, 2, 4 s (each jittered down to half)...
        self.assertLessEqual(stats["transactions_requests"], 6)
        self.assertLessEqual(len(self.sync_logs()), 1)
        # ...and said once at warning, not once per attempt
        retries = [l for l in self.output_of(p).splitlines()
                   if "retrying in" in l and l.startswith("<4>")]
        self.assertEqual(len(retries), 1, retries)


class ParkedAndRules(SyncTest):
    def test_geolocation_requirement_parks_with_the_setting_to_change_then_recovers(self):
        self.erp.config(geolocation_tracking=True)
        self.generate(30)
        self.once()
        logs = self.device_logs()
        self.assertEqual(len(logs), 30)
        self.assertEqual(self.checkins(), [])
        for l in logs:  # the reason names the terminal that needs coordinates
            self.assertIn("geolocation tracking is on and terminal %s has no erpnext.locations "
                          "entry" % l["terminal_sn"], l["sync_error"])
        self.erp.config(geolocation_tracking=False)
        self.once()
        self.assert_exactly_once()

    def test_parked_punches_come_back_however_many_wait_before_them(self):
        self.config_path = self.write_config(biotime={"page_size": 500},
                                             erpnext={"batch_size": 100})
        self.generate(5000, codes=["9999"])  # never mapped: parked for good
        self.generate(100, codes=["9001"], start="2026-11-20 08:00:00")
        self.once()
        self.assertEqual(self.checkins(), [])
        self.erp.post("/__sim/employees", {"employees": [{
            "name": "HR-EMP-09001", "employee_name": "Late Hire", "status": "Active",
            "attendance_device_id": "9001", "company": "Test Co"}]})
        self.once()  # the retry reads parked punches page by page, all 5,100 of them
        self.assertEqual(len(self.checkins()), 100)
        self.assertEqual(self.state()["parked_waiting"], 5000)

    def test_status_lists_waiting_punches_and_unknown_codes(self):
        self.add_punches([{"emp_code": c, "punch_time": "2026-11-02 08:00:0%d" % i}
                          for i, c in enumerate(["8001", "8002", "1001"])])
        self.once()
        rc, out, err = self.run_daemon("--status", expect=EXIT_OK)
        self.assertIn("8001", out)
        self.assertIn("waiting:   2", out)
        rc, out, err = self.run_daemon("--status", "--json", expect=EXIT_OK)
        st = json.loads(out)
        self.assertEqual(st["parked_waiting"], 2)
        self.assertEqual(sorted(st["unknown_codes"]), ["8001", "8002"])
        entry = json.loads(self.sync_logs()[-1]["response"])
        self.assertEqual(sorted(entry["unknown_emp_codes"]), ["8001", "8002"])


if __name__ == "__main__":
    main()
