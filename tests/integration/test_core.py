"""Core pipeline (issue 2): the real binary against both simulators."""

import os
import signal
import time

from harness import (EXIT_CONFIG, EXIT_OK, EXIT_TEMPFAIL, EXIT_UNAVAILABLE, SyncTest, main)


class FirstSync(SyncTest):
    def test_multi_page_first_sync_delivers_each_punch_once_and_rerun_writes_nothing(self):
        self.generate(230)
        self.once()
        rows, checkins = self.assert_exactly_once()
        self.assertEqual(len(rows), 230)
        self.assertEqual(len(checkins), 230)
        stats = self.erp.get("/__sim/stats")["total_requests"]
        self.once()
        self.assert_exactly_once()
        self.assertEqual(len(self.checkins()), 230)
        # an idle rerun reads the employee map and one BioTime page, and writes nothing
        after = self.erp.get("/__sim/stats")["total_requests"]
        self.assertLessEqual(after - stats, 3)

    def test_unmapped_and_inactive_punches_are_parked_with_synced_0(self):
        self.add_punches([
            {"emp_code": "9999", "punch_time": "2026-11-02 08:00:00"},
            {"emp_code": "1001", "punch_time": "2026-11-02 08:00:05"},
        ])
        self.erp.post("/__sim/employees", {"employees": [
            {"name": "HR-EMP-00001", "attendance_device_id": "1001", "status": "Inactive",
             "employee_name": "Employee 1"}]})
        self.once()
        logs = {l["emp_code"]: l for l in self.device_logs()}
        self.assertEqual(int(logs["9999"]["synced"]), 0)
        self.assertEqual(int(logs["1001"]["synced"]), 0)
        self.assertEqual(self.checkins(), [])

    def test_punch_time_is_converted_from_biotime_zone_to_erpnext_zone(self):
        self.config_path = self.write_config(biotime={"timezone": "UTC"},
                                             erpnext={"timezone": "Asia/Riyadh"})
        self.add_punches([{"emp_code": "1001", "punch_time": "2026-11-02 05:00:00"}])
        self.once()
        [c] = self.checkins()
        self.assertEqual(c["time"][:19], "2026-11-02 08:00:00")
        [log] = self.device_logs()
        self.assertEqual(log["punch_time"], "2026-11-02 05:00:00")  # the raw record

    def test_log_type_follows_punch_state_codes(self):
        self.add_punches([
            {"emp_code": "1001", "punch_time": "2026-11-02 08:00:00", "punch_state": "0"},
            {"emp_code": "1001", "punch_time": "2026-11-02 12:00:00", "punch_state": "2"},
            {"emp_code": "1001", "punch_time": "2026-11-02 17:00:00", "punch_state": "1"},
            {"emp_code": "1001", "punch_time": "2026-11-02 18:00:00", "punch_state": "255"},
        ])
        self.once()
        types = {c["time"][11:16]: c["log_type"] for c in self.checkins()}
        self.assertEqual(types, {"08:00": "IN", "12:00": "OUT", "17:00": "OUT", "18:00": ""})


class LateAndChanging(SyncTest):
    def test_late_upload_with_old_punch_time_arrives_next_cycle(self):
        self.generate(60)
        self.once()
        self.add_punches([{"emp_code": "1003", "punch_time": "2026-10-20 09:00:00",
                           "terminal_sn": "BOCK000003"}])
        self.once()
        self.assert_exactly_once()
        self.assertIn("2026-10-20 09:00:00", [c["time"][:19] for c in self.checkins()])

    def test_unmapped_employee_gets_checkin_once_mapped(self):
        self.add_punches([{"emp_code": "2001", "punch_time": "2026-11-02 08:00:00"}])
        self.once()
        self.assertEqual(self.checkins(), [])
        self.assertIn("2001", self.state()["unknown_codes"])
        self.erp.post("/__sim/employees", {"employees": [
            {"name": "HR-EMP-02001", "attendance_device_id": "2001", "status": "Active",
             "employee_name": "Late Hire"}]})
        rc, out, err = self.once()
        [c] = self.checkins()
        self.assertEqual(c["employee"], "HR-EMP-02001")
        [log] = self.device_logs()
        self.assertEqual(int(log["synced"]), 1)
        self.assertEqual(log["employee_check_in"], c["name"])
        self.assertEqual(log["employee_id_on_system"], "HR-EMP-02001")

    def test_inactive_employee_gets_checkin_once_active_again(self):
        self.erp.post("/__sim/employees", {"employees": [
            {"name": "HR-EMP-00002", "attendance_device_id": "1002", "status": "Inactive",
             "employee_name": "Employee 2"}]})
        self.add_punches([{"emp_code": "1002", "punch_time": "2026-11-02 08:00:00"}])
        self.once()
        self.assertEqual(self.checkins(), [])
        self.erp.post("/__sim/employees", {"employees": [
            {"name": "HR-EMP-00002", "attendance_device_id": "1002", "status": "Active",
             "employee_name": "Employee 2"}]})
        self.once()
        self.assert_exactly_once()

    def test_checkin_left_by_crash_before_its_device_log_is_reused(self):
        [tid] = self.add_punches([{"emp_code": "1001", "punch_time": "2026-11-02 08:00:00",
                                   "punch_state": "0"}])
        self.erp.post("/__sim/docs", {"doctype": "Employee Checkin", "docs": [
            {"name": "EMP-CKIN-11-2026-000777", "employee": "HR-EMP-00001",
             "time": "2026-11-02 08:00:00", "log_type": "IN", "device_id": "CQUJ000001"}]})
        self.once()
        [c] = self.checkins()
        self.assertEqual(c["name"], "EMP-CKIN-11-2026-000777")
        [log] = self.device_logs()
        self.assertEqual(log["employee_check_in"], "EMP-CKIN-11-2026-000777")
        self.assertEqual(log["id"], str(tid))


class Faults(SyncTest):
    def test_token_expiry_mid_run_logs_in_again(self):
        self.bt.config(token_lifetime_s=2, latency_ms=400)
        self.generate(300)
        self.config_path = self.write_config(biotime={"page_size": 20})
        self.once()
        self.assert_exactly_once()
        self.assertGreaterEqual(self.bt.get("/__sim/stats")["logins"], 2)

    def test_revoked_token_is_renewed_after_a_401(self):
        self.generate(30)
        self.once()
        self.bt.post("/__sim/revoke_tokens", {})
        self.generate(20, start="2026-11-03 08:00:00")
        self.once()
        self.assert_exactly_once()

    def test_server_errors_are_retried_then_delivered(self):
        self.generate(120)
        self.bt.config(faults=[{"kind": "status", "status": 503, "count": 2}])
        self.erp.config(faults=[{"path": "/api/method/frappe.client.insert_many",
                                 "kind": "status", "status": 502, "count": 2}])
        self.once()
        self.assert_exactly_once()

    def test_erpnext_down_for_good_exits_75_and_keeps_the_cursor(self):
        self.generate(40)
        self.erp.config(faults=[{"path": "/api/method/frappe.client.insert_many",
                                 "kind": "status", "status": 503, "count": -1}])
        rc, out, err = self.once(expect=EXIT_TEMPFAIL, timeout=200)
        self.assertEqual(self.state()["last_id"], 0)
        self.erp.config(faults=[])
        self.once()
        self.assert_exactly_once()

    def test_wrong_biotime_password_exits_69_without_retrying(self):
        self.write_secret(os.path.join(self.tmp, "biotime.password"), "wrong-password")
        rc, out, err = self.once(expect=EXIT_UNAVAILABLE)
        self.assertIn("refused the login", err)
        self.assertEqual(self.bt.get("/__sim/stats")["failed_logins"], 1)

    def test_missing_hr_role_stops_with_an_error_naming_the_role(self):
        self.erp.config(api_user_roles=["Employee"])
        self.generate(10)
        rc, out, err = self.once(expect=EXIT_UNAVAILABLE)
        self.assertIn("HR User", err)
        self.assertLessEqual(len(self.checkins()), 1)


class Config(SyncTest):
    def test_bad_config_exits_78_naming_file_line_and_key(self):
        path = self.write_config(biotime={"page_sise": 10})
        rc, out, err = self.run_daemon("--once", config=path, expect=EXIT_CONFIG)
        self.assertIn(path + ":", err)
        self.assertIn("page_sise", err)

    def test_check_config_prints_settings_with_secrets_masked(self):
        self.config_path = self.write_config(biotime={"password_file": None,
                                                      "password": "bt-pw-S3cr3t-7f1c"})
        rc, out, err = self.run_daemon("--check-config", expect=EXIT_OK)
        self.assertIn("***", out)
        self.assertIn("page_size = 50", out)


class Daemon(SyncTest):
    def test_sigterm_stops_within_10_seconds_with_a_consistent_cursor(self):
        self.generate(400)
        self.bt.config(latency_ms=300)
        p = self.start_daemon()
        self.wait_for(lambda: len(self.device_logs()) > 0, what="first writes")
        started = time.time()
        rc = self.stop_daemon(p)
        self.assertLess(time.time() - started, 10)
        self.assertEqual(rc, EXIT_OK)
        self.bt.config(latency_ms=0)
        self.once()
        self.assert_exactly_once()

    def test_sighup_keeps_running_config_when_new_one_is_bad_and_swaps_a_good_one(self):
        p = self.start_daemon()
        self.wait_for(lambda: "started" in self.output_of(p), what="start")
        with open(self.config_path, "a") as f:
            f.write("bogus = 1;\n")
        p.send_signal(signal.SIGHUP)
        self.wait_for(lambda: "reload refused" in self.output_of(p), what="refusal")
        self.write_config()
        p.send_signal(signal.SIGHUP)
        self.wait_for(lambda: "configuration reloaded" in self.output_of(p), what="reload")
        self.generate(15)
        self.wait_for(lambda: len(self.device_logs()) == 15, what="sync after reload")
        self.assertEqual(self.stop_daemon(p), EXIT_OK)

    def test_daemon_picks_up_new_punches_each_interval_and_writes_sync_logs(self):
        p = self.start_daemon()
        self.generate(10)
        self.wait_for(lambda: len(self.device_logs()) == 10, what="first batch")
        self.generate(5, start="2026-11-05 08:00:00")
        self.wait_for(lambda: len(self.device_logs()) == 15, what="second batch")
        self.assertEqual(self.stop_daemon(p), EXIT_OK)
        self.assert_exactly_once()
        titles = [s["title"] for s in self.sync_logs()]
        self.assertTrue(any("10 read" in t for t in titles), titles)


class Acceptance(SyncTest):
    inactive_codes = ("1017",)  # with the harness's Suspended 1018 and Left 1019: every status

    def test_5000_punches_20_employees_3_terminals_some_unmapped(self):
        codes = [str(1001 + i) for i in range(20)] + ["7001", "7002"]
        self.generate(5000, codes=codes)
        self.config_path = self.write_config(biotime={"page_size": 200},
                                             erpnext={"batch_size": 100})
        self.once()
        rows, checkins = self.assert_exactly_once()
        parked = [r for r in rows if r["emp_code"] in ("7001", "7002", "1017")]
        self.assertEqual(len(rows), 5000)
        self.assertEqual(len(checkins), 5000 - len(parked))
        for code in ("7001", "1017", "1018", "1019"):
            self.assertIn(code, {r["emp_code"] for r in rows})
        self.once()
        self.assertEqual(len(self.device_logs()), 5000)
        self.assertEqual(len(self.checkins()), 5000 - len(parked))


if __name__ == "__main__":
    main()
