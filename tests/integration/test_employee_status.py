"""Employee status (issue 12.1): the daemon parks exactly what HRMS refuses, status Inactive,
and what maps to no Employee; Active, Suspended and Left employees get their checkins."""

from harness import SyncTest, main

# The harness's employees: 1018 Suspended, 1019 Left; here 1017 is Inactive as well.
ACTIVE, INACTIVE, SUSPENDED, LEFT, UNKNOWN = "1001", "1017", "1018", "1019", "9999"


class EveryStatus(SyncTest):
    inactive_codes = (INACTIVE,)

    def punches(self, codes, day="2026-11-02"):
        rows = []
        for code in codes:
            rows += [{"emp_code": code, "punch_time": day + " 08:00:00", "punch_state": "0"},
                     {"emp_code": code, "punch_time": day + " 17:00:00", "punch_state": "1"}]
        return self.add_punches(rows)

    def test_left_and_suspended_get_checkins_inactive_and_unknown_are_parked(self):
        status = {e["attendance_device_id"]: e["status"] for e in self.docs("Employee")}
        self.assertEqual([status[c] for c in (ACTIVE, INACTIVE, SUSPENDED, LEFT)],
                         ["Active", "Inactive", "Suspended", "Left"])
        self.punches([ACTIVE, INACTIVE, SUSPENDED, LEFT, UNKNOWN])
        self.once()
        per_employee = {}
        for c in self.checkins():
            per_employee[c["employee"]] = per_employee.get(c["employee"], 0) + 1
        self.assertEqual(per_employee, {"HR-EMP-00001": 2, "HR-EMP-00018": 2,
                                        "HR-EMP-00019": 2})
        logs = self.device_logs()
        self.assertEqual(len(logs), 10)
        for log in logs:
            code, synced = log["emp_code"], int(log["synced"])
            if code in (ACTIVE, SUSPENDED, LEFT):
                self.assertEqual((synced, log.get("sync_error") or ""), (1, ""), log)
            elif code == INACTIVE:
                self.assertEqual(synced, 0)
                self.assertEqual(log["sync_error"], "Employee HR-EMP-00017 is Inactive")
                self.assertEqual(log["employee_id_on_system"], "HR-EMP-00017")
            else:
                self.assertEqual(synced, 0)
                self.assertEqual(log["sync_error"],
                                 "no Employee has attendance_device_id = 9999")
        self.assert_exactly_once()

    def test_a_leavers_punch_parked_by_the_old_rule_comes_back_after_an_upgrade(self):
        """Before this fix a Left employee's punch was parked as "not Active". Such a Device
        Log (synced = 0) is in ERPNext already, and BioTime no longer sends its row (the
        cursor is past it): only the parked-punch retry can give it its checkin."""
        self.erp.post("/__sim/docs", {"doctype": "BioTime Device Log", "docs": [
            {"name": "5001", "id": "5001", "emp_code": LEFT, "punch_time": "2026-10-30 08:00:00",
             "punch_state": "0", "terminal_sn": "CQUJ000001", "upload_time":
             "2026-10-30 08:00:05", "synced": 0, "employee_id_on_system": "HR-EMP-00019",
             "sync_error": "Employee HR-EMP-00019 is not Active"},
            {"name": "5002", "id": "5002", "emp_code": SUSPENDED,
             "punch_time": "2026-10-30 17:00:00", "punch_state": "1",
             "terminal_sn": "CQUJ000001", "upload_time": "2026-10-30 17:00:05", "synced": 0,
             "employee_id_on_system": "HR-EMP-00018",
             "sync_error": "Employee HR-EMP-00018 is not Active"}]})
        rc, out, err = self.once()
        self.assertIn("2 parked punches got their checkin", out + err)
        checkins = {c["name"]: c for c in self.checkins()}
        logs = {l["name"]: l for l in self.device_logs()}
        for name, emp, when, log_type in (("5001", "HR-EMP-00019", "2026-10-30 08:00:00", "IN"),
                                          ("5002", "HR-EMP-00018", "2026-10-30 17:00:00",
                                           "OUT")):
            self.assertEqual(int(logs[name]["synced"]), 1)
            self.assertEqual(logs[name]["sync_error"] or "", "")  # the old reason is gone
            c = checkins[logs[name]["employee_check_in"]]
            self.assertEqual((c["employee"], c["time"][:19], c["log_type"]),
                             (emp, when, log_type))
        self.assertEqual(len(checkins), 2)
        self.once()
        self.assertEqual(len(self.checkins()), 2)

    def test_an_inactive_employee_made_left_gets_the_parked_punches(self):
        """Inactive -> Left (the usual end of a leaver's record): HRMS now accepts them."""
        self.punches([INACTIVE])
        self.once()
        self.assertEqual(self.checkins(), [])
        self.erp.post("/__sim/employees", {"employees": [
            {"name": "HR-EMP-00017", "employee_name": "Employee 17",
             "attendance_device_id": INACTIVE, "status": "Left", "company": "Test Co"}]})
        self.once()
        self.assertEqual(sorted(c["time"][11:19] for c in self.checkins()),
                         ["08:00:00", "17:00:00"])
        self.assert_exactly_once()

    def test_a_code_on_an_inactive_and_a_left_employee_goes_to_the_left_one(self):
        """A reused code (a custom, non-unique employee field): HRMS would refuse the
        Inactive holder, so the punches go to the one it accepts."""
        self.erp.post("/__sim/employees", {"employees": [
            {"name": "HR-EMP-00100", "employee_name": "Old holder",
             "attendance_device_id": "3001", "status": "Inactive", "company": "Test Co"},
            {"name": "HR-EMP-00101", "employee_name": "Leaver",
             "attendance_device_id": "3001", "status": "Left", "company": "Test Co"}]})
        self.punches(["3001"])
        self.once()
        self.assertEqual({c["employee"] for c in self.checkins()}, {"HR-EMP-00101"})
        self.assertEqual(len(self.checkins()), 2)


if __name__ == "__main__":
    main()
