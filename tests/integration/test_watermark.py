"""Attendance watermark (issue 5.3): Shift Type last_sync_of_checkin follows the terminals."""

import json

from harness import SyncTest, main


class Watermark(SyncTest):
    def setUp(self):
        super().setUp()
        self.erp.post("/__sim/shift_types", {"shift_types": [
            {"name": "Day Shift", "last_sync_of_checkin": "2026-11-01 00:00:00",
             "auto_update_last_sync": 0, "enable_auto_attendance": 1},
            {"name": "Auto Shift", "last_sync_of_checkin": "2026-11-01 00:00:00",
             "auto_update_last_sync": 1, "enable_auto_attendance": 1}]})
        self.config_path = self.write_config(
            biotime={"timezone": "UTC"},
            erpnext={"timezone": "Asia/Riyadh", "shift_types": ["Day Shift", "Auto Shift"]})
        self.add_punches([{"emp_code": "1001", "punch_time": "2026-11-17 08:00:00",
                           "terminal_sn": "GATE1"},
                          {"emp_code": "1002", "punch_time": "2026-11-17 08:01:00",
                           "terminal_sn": "DOCK2"}])
        self.set_terminals(("GATE1", "2026-11-20 10:00:00"), ("DOCK2", "2026-11-18 09:00:00"))

    def set_terminals(self, *terms):
        self.bt.post("/__sim/terminals", {"terminals": [
            {"sn": sn, "alias": sn, "state": "1", "last_activity": seen} for sn, seen in terms]})

    def shift(self, name):
        return {d["name"]: d for d in self.docs("Shift Type")}[name]

    def test_offline_terminal_holds_the_watermark_and_is_named(self):
        self.once()
        # DOCK2 was last seen 2026-11-18 09:00 UTC = 12:00 in Riyadh
        self.assertEqual(self.shift("Day Shift")["last_sync_of_checkin"][:19],
                         "2026-11-18 12:00:00")
        self.assertEqual(self.shift("Auto Shift")["last_sync_of_checkin"][:19],
                         "2026-11-01 00:00:00")
        entry = json.loads(self.sync_logs()[-1]["response"])
        self.assertEqual(entry["watermark_held_by_terminal"], "DOCK2")

    def test_watermark_advances_when_the_terminal_returns_and_never_moves_back(self):
        self.once()
        self.set_terminals(("DOCK2", "2026-11-21 07:00:00"))
        self.once()
        self.assertEqual(self.shift("Day Shift")["last_sync_of_checkin"][:19],
                         "2026-11-20 13:00:00")  # now GATE1 (10:00 UTC) is the oldest
        self.erp.post("/__sim/shift_types", {"shift_types": [
            {"name": "Day Shift", "last_sync_of_checkin": "2026-11-30 00:00:00"}]})
        self.once()
        self.assertEqual(self.shift("Day Shift")["last_sync_of_checkin"][:19],
                         "2026-11-30 00:00:00")


if __name__ == "__main__":
    main()
