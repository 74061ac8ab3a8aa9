"""HRMS's duplicate rule as observed (frappe-observed.md 10): the key is employee + time +
log_type; device_id is not part of it, and an empty log_type is still deduplicated. The
daemon must be neither stricter (dropping a punch HRMS takes) nor kinder (a second checkin
HRMS would refuse)."""

from harness import SyncTest, main


class DuplicateKey(SyncTest):
    def test_in_and_out_in_the_same_second_both_get_checkins(self):
        self.add_punches([
            {"emp_code": "1001", "punch_time": "2026-11-02 12:00:00", "punch_state": "0"},
            {"emp_code": "1001", "punch_time": "2026-11-02 12:00:00", "punch_state": "1"}])
        self.once()
        self.assertEqual(sorted(c["log_type"] for c in self.checkins()), ["IN", "OUT"])
        self.assert_exactly_once()

    def test_one_punch_read_by_two_terminals_is_one_checkin_named_by_both_device_logs(self):
        self.add_punches([
            {"emp_code": "1001", "punch_time": "2026-11-02 08:00:00", "punch_state": "0",
             "terminal_sn": "CQUJ000001"},
            {"emp_code": "1001", "punch_time": "2026-11-02 08:00:00", "punch_state": "0",
             "terminal_sn": "CQUJ000002"}])
        self.once()
        [c] = self.checkins()
        logs = self.device_logs()
        self.assertEqual([(int(l["synced"]), l["employee_check_in"]) for l in logs],
                         [(1, c["name"])] * 2)

    def test_two_punches_without_log_type_in_one_second_are_one_checkin(self):
        self.add_punches([
            {"emp_code": "1019", "punch_time": "2026-11-02 08:00:00", "punch_state": "255"},
            {"emp_code": "1019", "punch_time": "2026-11-02 08:00:00", "punch_state": "255"}])
        self.once()
        [c] = self.checkins()
        self.assertEqual((c["employee"], c["log_type"] or ""), ("HR-EMP-00019", ""))
        self.assertEqual({l["employee_check_in"] for l in self.device_logs()}, {c["name"]})


if __name__ == "__main__":
    main()
