"""Operator tools (issue 5): --setup-doctypes, --test-connection and --reconcile, the real
binary against both simulators."""

import json
import urllib.parse
import urllib.request

from harness import (ERP_KEY, ERP_SECRET, EXIT_OK, EXIT_UNAVAILABLE, SyncTest, main)

DEVICE_LOG = "BioTime Device Log"
SYNC_LOGS = "Sync Logs"


class ToolTest(SyncTest):
    def erp_api(self, method, path, body=None):
        """An authenticated Frappe API call, as an operator's script would make it."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.erp.url + path, data=data, method=method, headers={
            "Content-Type": "application/json",
            "Authorization": "token %s:%s" % (ERP_KEY, ERP_SECRET)})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def doctype_posts(self):
        return self.erp.get("/__sim/stats")["requests"].get("POST /api/resource/DocType", 0)

    def lines(self, out, word):
        return [l for l in out.splitlines() if l.startswith(word)]


class SetupDoctypes(ToolTest):
    def test_creates_both_when_missing_and_a_second_run_creates_nothing(self):
        self.erp.config(doctypes_present=False)
        rc, out, err = self.run_daemon("--setup-doctypes", expect=EXIT_OK)
        self.assertIn("%s: created" % DEVICE_LOG, out)
        self.assertIn("%s: created" % SYNC_LOGS, out)
        self.assertEqual(self.doctype_posts(), 2)
        rc, out, err = self.run_daemon("--setup-doctypes", expect=EXIT_OK)
        self.assertIn("%s: exists, complete" % DEVICE_LOG, out)
        self.assertIn("%s: exists, complete" % SYNC_LOGS, out)
        self.assertEqual(self.doctype_posts(), 2, "a second run created something")
        # what it created is what the sync writes into
        dt = self.erp_api("GET", "/api/resource/DocType/" + urllib.parse.quote(DEVICE_LOG))
        self.assertEqual(dt["data"]["autoname"], "field:id")
        self.assertEqual(dt["data"]["custom"], 1)
        roles = {p["role"] for p in dt["data"]["permissions"]}
        self.assertLessEqual({"System Manager", "HR Manager"}, roles)
        self.add_punches([{"emp_code": "1001", "punch_time": "2026-11-02 08:00:00"}])
        self.once()
        [log] = self.device_logs()
        self.assertEqual(int(log["synced"]), 1)

    def test_existing_doctype_lacking_fields_is_reported_and_left_alone(self):
        self.erp.config(doctypes_present=False)
        fields = [{"fieldname": f, "label": f, "fieldtype": "Data"}
                  for f in ("id", "emp_code", "punch_time", "terminal_sn")]
        fields.append({"fieldname": "synced", "label": "Synced", "fieldtype": "Check"})
        self.erp_api("POST", "/api/resource/DocType", {
            "name": DEVICE_LOG, "module": "Custom", "custom": 1, "autoname": "field:id",
            "fields": fields, "permissions": [{"role": "System Manager", "read": 1}]})
        before = self.doctype_posts()
        rc, out, err = self.run_daemon("--setup-doctypes", expect=EXIT_OK)
        [line] = [l for l in out.splitlines() if l.startswith(DEVICE_LOG + ":")]
        self.assertTrue(line.startswith(DEVICE_LOG + ": exists, missing fields: "), line)
        missing = line.split("missing fields: ")[1].split(", ")
        self.assertIn("emp", missing)
        self.assertIn("employee_check_in", missing)
        self.assertIn("sync_error", missing)
        self.assertNotIn("emp_code", missing)
        self.assertIn("needed by the sync", out)
        self.assertIn("optional: sync_error", out)
        self.assertIn("%s: created" % SYNC_LOGS, out)
        self.assertEqual(self.doctype_posts(), before + 1, "only Sync Logs is created")
        dt = self.erp_api("GET", "/api/resource/DocType/" + urllib.parse.quote(DEVICE_LOG))
        self.assertEqual(sorted(f["fieldname"] for f in dt["data"]["fields"]),
                         sorted(f["fieldname"] for f in fields), "the doctype was changed")


class TestConnection(ToolTest):
    def test_all_ok(self):
        self.generate(12)
        self.erp.config(api_user_roles=["HR User", "System Manager"])
        rc, out, err = self.run_daemon("--test-connection", expect=EXIT_OK)
        self.assertEqual(self.lines(out, "FAILED"), [], out)
        self.assertEqual(self.lines(out, "warning"), [], out)
        for check in ("BioTime login", "BioTime licence", "BioTime transactions",
                      "BioTime sort order", "BioTime ordering", "ERPNext site",
                      "ERPNext API key", "ERPNext roles",
                      'ERPNext doctype "%s"' % DEVICE_LOG, 'ERPNext doctype "%s"' % SYNC_LOGS,
                      'ERPNext employee field "attendance_device_id"', "ERPNext geolocation"):
            self.assertRegex(out, r"(?m)^ok +%s: " % check, check)
        self.assertIn("20 employees carry it", out)
        self.assertIn("ordering=-upload_time honoured", out)
        self.assertIn("ascending id", out)

    def test_wrong_erpnext_secret_fails_with_69(self):
        self.generate(3)
        self.write_secret(self.secret_file, "not-the-secret")
        rc, out, err = self.run_daemon("--test-connection", expect=EXIT_UNAVAILABLE)
        [line] = self.lines(out, "FAILED")
        self.assertIn("ERPNext API key", line)
        self.assertIn("erpnext.api_secret", line)
        self.assertRegex(out, r"(?m)^ok +BioTime transactions")

    def test_wrong_site_names_the_routing_fix(self):
        url = self.erp.url.replace("127.0.0.1", "localhost")
        config = self.write_config("localhost.conf", erpnext={"url": url})
        rc, out, err = self.run_daemon("--test-connection", config=config,
                                       expect=EXIT_UNAVAILABLE)
        [line] = self.lines(out, "FAILED")
        self.assertIn("ERPNext site", line)
        self.assertIn("wrong host or site", line)
        self.assertIn("erpnext.site_name", line)

    def test_licence_403_suggests_basic_auth(self):
        self.bt.config(license_api=False)
        rc, out, err = self.run_daemon("--test-connection", expect=EXIT_UNAVAILABLE)
        self.assertRegex(out, r"(?m)^ok +BioTime login")
        [line] = self.lines(out, "FAILED")
        self.assertIn("licence lacks the API module", line)
        self.assertIn('biotime.auth = "basic"', line)

    def test_wrong_biotime_password_is_not_retried(self):
        self.write_secret(self.tmp + "/biotime.password", "wrong-password")
        rc, out, err = self.run_daemon("--test-connection", expect=EXIT_UNAVAILABLE)
        [line] = self.lines(out, "FAILED")
        self.assertIn("BioTime login", line)
        self.assertIn("wrong biotime.username or password", line)
        stats = self.bt.get("/__sim/stats")
        self.assertEqual(stats["failed_logins"], 1, "a refused password was retried")
        self.assertNotIn("BioTime licence", out)

    def test_geolocation_tracking_is_a_warning(self):
        self.generate(30)  # three terminals, none in erpnext.locations
        self.assertEqual(len({r["terminal_sn"] for r in self.bt_rows()}), 3)
        self.erp.config(geolocation_tracking=True, api_user_roles=["HR Manager"])
        rc, out, err = self.run_daemon("--test-connection", expect=EXIT_OK)
        [line] = [l for l in self.lines(out, "warning") if "geolocation" in l]
        self.assertIn("latitude/longitude", line)
        self.assertIn("3 terminals have no erpnext.locations entry: ", line)
        for sn in ("CQUJ000001", "CQUJ000002", "BOCK000003"):
            self.assertIn(sn, line)
        self.assertIn("turn tracking off", line)

    def test_geolocation_tracking_without_known_terminals_is_a_warning(self):
        self.erp.config(geolocation_tracking=True, api_user_roles=["HR Manager"])
        rc, out, err = self.run_daemon("--test-connection", expect=EXIT_OK)
        [line] = [l for l in self.lines(out, "warning") if "geolocation" in l]
        self.assertIn("every terminal needs an erpnext.locations entry", line)
        self.assertIn("BioTime lists none of the imported terminals yet", line)

    def test_missing_hr_role_fails(self):
        self.erp.config(api_user_roles=["Employee"])
        rc, out, err = self.run_daemon("--test-connection", expect=EXIT_UNAVAILABLE)
        [line] = self.lines(out, "FAILED")
        self.assertIn("ERPNext roles", line)
        self.assertIn("HR User", line)
        self.assertRegex(out, r"(?m)^warning +ERPNext roles: .*System Manager")

    def test_server_that_does_not_sort_is_a_warning(self):
        self.generate(12)
        self.bt.config(default_order="-id", honour_ordering=False)
        self.erp.config(api_user_roles=["HR User", "System Manager"])
        rc, out, err = self.run_daemon("--test-connection", expect=EXIT_OK)
        warnings = self.lines(out, "warning")
        self.assertEqual(len(warnings), 2, out)
        self.assertIn("BioTime sort order: the default order is not ascending id", warnings[0])
        self.assertIn("sync.lookback_hours", warnings[1])

    def test_ignored_ordering_is_fine_while_ids_ascend(self):
        self.generate(12)
        self.bt.config(honour_ordering=False)
        rc, out, err = self.run_daemon("--test-connection", expect=EXIT_OK)
        self.assertRegex(out, r"(?m)^ok +BioTime ordering: BioTime ignores "
                              r"ordering=-upload_time; not needed")

    def test_missing_doctypes_and_unknown_employee_field_fail(self):
        self.erp.config(doctypes_present=False)
        config = self.write_config("field.conf", erpnext={"employee_field": "biotime_code"})
        rc, out, err = self.run_daemon("--test-connection", config=config,
                                       expect=EXIT_UNAVAILABLE)
        failed = self.lines(out, "FAILED")
        self.assertEqual(len(failed), 3, out)
        self.assertIn("--setup-doctypes", failed[0])
        self.assertIn("Employee has no such field", failed[2])


class Reconcile(ToolTest):
    def sync_days(self):
        # 96 punches an hour apart over four days, on three terminals
        self.generate(96, step_seconds=3600)
        self.once()
        self.assert_exactly_once()

    def reconcile(self, *args, expect):
        return self.run_daemon("--reconcile", "--since", "2026-11-01", *args, expect=expect)

    def test_agrees_after_a_full_sync(self):
        self.sync_days()
        rc, out, err = self.reconcile("--until", "2026-11-10", expect=EXIT_OK)
        self.assertIn("summary: 96 punches, 96 device logs, 96 checkins, 0 parked, 0 missing, "
                      "0 extra: BioTime and ERPNext agree", out)
        rows = [l.split() for l in out.splitlines() if l.startswith("2026-11-0")]
        self.assertEqual({r[0] for r in rows},
                         {"2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"})
        self.assertEqual(sum(int(r[2]) for r in rows), 96)
        self.assertEqual(len(rows), len({(r[0], r[1]) for r in rows}), "one row per day+terminal")

    def test_deleted_device_log_and_checkin_are_named(self):
        self.sync_days()
        logs = sorted(self.device_logs(), key=lambda l: int(l["id"]))
        gone_log, other = logs[3], logs[10]
        self.erp.post("/__sim/delete_docs", {"doctype": DEVICE_LOG, "names": [gone_log["name"]]})
        self.erp.post("/__sim/delete_docs", {"doctype": "Employee Checkin",
                                             "names": [other["employee_check_in"]]})
        rc, out, err = self.reconcile(expect=1)
        self.assertRegex(out, r"(?m)^missing +device log %s: BioTime id %s, punch_time %s" % (
            gone_log["name"], gone_log["id"], gone_log["punch_time"]))
        self.assertRegex(out, r"(?m)^missing +checkin %s: named by device log %s" % (
            other["employee_check_in"], other["name"]))
        self.assertIn("2 missing, 0 extra: they disagree", out)
        self.assertIn("--once --since", out)

    def test_extra_device_log_is_listed(self):
        self.sync_days()
        self.erp.post("/__sim/docs", {"doctype": DEVICE_LOG, "docs": [{
            "name": "990001", "id": "990001", "emp_code": "1001",
            "punch_time": "2026-11-02 10:30:00", "terminal_sn": "CQUJ000001", "synced": 0}]})
        rc, out, err = self.reconcile("--until", "2026-11-30 23:59:59", expect=1)
        self.assertRegex(out, r"(?m)^extra +device log 990001: punch_time 2026-11-02 10:30:00, "
                              r"terminal CQUJ000001")
        self.assertIn("0 missing, 1 extra", out)

    def test_parked_punches_are_accounted_for(self):
        self.add_punches([{"emp_code": "9999", "punch_time": "2026-11-02 08:00:00"},
                          {"emp_code": "9999", "punch_time": "2026-11-02 09:00:00"},
                          {"emp_code": "1001", "punch_time": "2026-11-02 10:00:00"}])
        self.once()
        rc, out, err = self.reconcile(expect=EXIT_OK)
        self.assertRegex(out, r"(?m)^parked +emp_code 9999: 2 punches")
        self.assertIn("3 punches, 3 device logs, 1 checkins, 2 parked, 0 missing", out)

    def test_out_of_range_rows_are_ignored(self):
        self.sync_days()
        rc, out, err = self.run_daemon("--reconcile", "--since", "2026-11-02",
                                       "--until", "2026-11-02 23:59:59", expect=EXIT_OK)
        self.assertIn("summary: 24 punches, 24 device logs, 24 checkins", out)

    def test_device_log_of_a_reused_id_is_matched_by_its_punch(self):
        # after a BioTime restore the writer names the new punch of id 5 "5-r1"; "5" keeps
        # the old punch, which BioTime no longer has
        self.sync_days()
        [log] = [l for l in self.device_logs() if l["name"] == "5"]
        moved = dict(log, name="5-r1", id="5-r1")
        old = dict(log, punch_time="2026-11-03 07:00:00", emp_code="1002", synced=0,
                   employee_check_in=None)
        self.erp.post("/__sim/docs", {"doctype": DEVICE_LOG, "docs": [moved, old]})
        rc, out, err = self.reconcile(expect=1)
        self.assertIn("96 punches, 97 device logs, 96 checkins, 1 parked, 0 missing, 1 extra",
                      out)
        self.assertRegex(out, r"(?m)^extra +device log 5: punch_time 2026-11-03 07:00:00")

    def test_named_server_ignores_other_servers_device_logs(self):
        self.config_path = self.write_config(biotime={"name": "hq"})
        self.generate(30, step_seconds=600)
        self.once()
        self.assertTrue(all(l["name"].startswith("hq-") for l in self.device_logs()))
        self.erp.post("/__sim/docs", {"doctype": DEVICE_LOG, "docs": [
            {"name": "branch-7", "id": "branch-7", "emp_code": "1001",
             "punch_time": "2026-11-01 09:00:00", "terminal_sn": "CQUJ000001", "synced": 0},
            {"name": "hq-990002", "id": "hq-990002", "emp_code": "1002",
             "punch_time": "2026-11-01 09:30:00", "terminal_sn": "CQUJ000002", "synced": 0}]})
        rc, out, err = self.reconcile(expect=1)
        self.assertIn("summary: 30 punches, 31 device logs, 30 checkins, 1 parked, 0 missing, "
                      "1 extra", out)
        self.assertRegex(out, r"(?m)^extra +device log hq-990002:")
        self.assertNotIn("branch-7", out)

    def test_missing_doctype_is_a_refusal_naming_setup(self):
        self.add_punches([{"emp_code": "1001", "punch_time": "2026-11-02 08:00:00"}])
        self.erp.config(doctypes_present=False)
        rc, out, err = self.reconcile(expect=EXIT_UNAVAILABLE)
        self.assertIn("--setup-doctypes", err)


if __name__ == "__main__":
    main()
