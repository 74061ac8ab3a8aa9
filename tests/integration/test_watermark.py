"""Attendance watermark (issue 5.3): Shift Type last_sync_of_checkin follows the terminals."""

import json
import signal

from harness import SyncTest, main

AUTO_NOTICE = "auto_update_last_sync on"


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

    # --- Shift Types HRMS moves itself are named, once (issue 11.5) ----------------------

    def notices(self, p):
        return [l for l in self.output_of(p).splitlines() if AUTO_NOTICE in l]

    def shift_reads(self, name):
        key = "GET /api/resource/Shift Type/" + name
        return self.erp.get("/__sim/stats")["requests"].get(key, 0)

    def cycles(self, p):
        # an idle cycle logs nothing at info level but reads BioTime once
        return sum(self.bt.get("/__sim/stats")["requests"].values())

    def run_until_passes(self, p, passes, cycles_after=3):
        """Waits for the watermark's pass number passes, then a few more cycles."""
        self.wait_for(lambda: self.shift_reads("Auto Shift") >= passes, what="watermark pass")
        seen = self.cycles(p)
        self.wait_for(lambda: self.cycles(p) >= seen + cycles_after, what="more cycles")

    def test_auto_updated_shift_type_is_named_once_at_notice_level_across_cycles(self):
        p = self.start_daemon()
        self.run_until_passes(p, 1)
        p.send_signal(signal.SIGHUP)  # a reload runs the watermark again, same list
        self.run_until_passes(p, 2)
        self.stop_daemon(p)
        told = self.notices(p)
        self.assertEqual(len(told), 1, told)
        self.assertTrue(told[0].startswith("<5>"), told[0])  # notice level
        self.assertIn("Shift Type Auto Shift has", told[0])
        self.assertNotIn("Day Shift", told[0])

    def test_a_changed_list_of_auto_updated_shift_types_is_named_again_after_reload(self):
        p = self.start_daemon()
        self.run_until_passes(p, 1, cycles_after=1)
        self.erp.post("/__sim/shift_types", {"shift_types": [
            {"name": "Day Shift", "auto_update_last_sync": 1}]})
        p.send_signal(signal.SIGHUP)
        self.run_until_passes(p, 2, cycles_after=1)
        self.stop_daemon(p)
        told = self.notices(p)
        self.assertEqual(len(told), 2, told)
        self.assertIn("Shift Types Day Shift, Auto Shift have", told[1])

    def test_test_connection_warns_naming_the_auto_updated_shift_type(self):
        _, out, err = self.run_daemon("--test-connection")
        lines = [l for l in out.splitlines() if AUTO_NOTICE in l]
        self.assertEqual(len(lines), 1, out + err)
        self.assertTrue(lines[0].startswith("warning ERPNext Shift Types: Auto Shift has"),
                        lines[0])
        self.assertNotIn("Day Shift", lines[0])


if __name__ == "__main__":
    main()
