"""Backfill, dry run and several BioTime servers into one site (issue 5.4, 5.5, 5.7)."""

import os

from harness import BT_PASSWORD, BT_USER, EXIT_OK, EXIT_USAGE, Sim, SyncTest, main


class Backfill(SyncTest):
    def test_backfill_rereads_a_range_writes_only_what_is_missing_and_keeps_the_cursor(self):
        self.generate(300, step_seconds=600)          # 2026-11-01 .. 2026-11-03
        self.once()
        cursor = self.state()["last_id"]
        lost = [l for l in self.device_logs() if l["punch_time"].startswith("2026-11-02")][:7]
        self.erp.post("/__sim/delete_docs", {"doctype": "BioTime Device Log",
                                             "names": [l["name"] for l in lost]})
        self.erp.post("/__sim/delete_docs", {"doctype": "Employee Checkin",
                                             "names": [l["employee_check_in"] for l in lost]})
        before = len(self.checkins())
        rc, out, err = self.once("--since", "2026-11-02", "--until", "2026-11-02 23:59:59")
        self.assertEqual(len(self.checkins()), before + 7)
        self.assert_exactly_once()
        self.assertEqual(self.state()["last_id"], cursor)
        self.assertIn("7 Device Logs", err)

    def test_backfill_twice_writes_nothing_the_second_time(self):
        self.generate(120)
        self.once("--since", "2026-11-01")
        self.assert_exactly_once()
        stats = self.erp.get("/__sim/stats")["requests"]
        posts = sum(n for k, n in stats.items() if k.startswith("POST /api/method/frappe.client.insert_many"))
        self.once("--since", "2026-11-01")
        stats = self.erp.get("/__sim/stats")["requests"]
        self.assertEqual(posts, sum(n for k, n in stats.items()
                                    if k.startswith("POST /api/method/frappe.client.insert_many")))
        self.assertEqual(len(self.device_logs()), 120)

    def test_backfill_on_a_terminal_shows_progress(self):
        import pty
        import subprocess
        self.generate(130)
        master, slave = pty.openpty()
        env = dict(os.environ, BTS_LOG_FORCE_STDERR="1")
        p = subprocess.run(self.command(["--once", "--since", "2026-11-01"]), stdout=slave,
                           stderr=subprocess.PIPE, env=env, timeout=120)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        shown = b"".join(chunks).decode(errors="replace")
        self.outputs.append(shown + p.stderr.decode(errors="replace"))
        self.assertEqual(p.returncode, EXIT_OK)
        self.assertIn("backfill: 130/130 records", shown)
        self.assertRegex(shown, r"records, \d+/s, \d+ s left")

    def test_bad_since_is_a_usage_error(self):
        rc, out, err = self.run_daemon("--once", "--since", "2026-13-01", expect=EXIT_USAGE)
        self.assertIn("--since", err)


class DryRun(SyncTest):
    def test_dry_run_prints_each_punch_and_writes_nothing_anywhere(self):
        self.add_punches([{"emp_code": "1001", "punch_time": "2026-11-02 08:00:00",
                           "punch_state": "0"},
                          {"emp_code": "4242", "punch_time": "2026-11-02 08:05:00"}])
        rc, out, err = self.once("--dry-run")
        lines = out.strip().splitlines()
        self.assertEqual(len(lines), 2, out)
        self.assertIn("-> checkin employee=HR-EMP-00001", lines[0])
        self.assertIn("log_type=IN", lines[0])
        self.assertIn("synced=0 (no Employee has attendance_device_id = 4242)", lines[1])
        self.assertEqual(self.device_logs(), [])
        self.assertEqual(self.checkins(), [])
        self.assertEqual(self.sync_logs(), [])
        self.assertFalse(os.path.exists(os.path.join(self.state_dir, "state.json")))

    def test_dry_run_needs_once(self):
        self.run_daemon("--dry-run", expect=EXIT_USAGE)


class TwoServers(SyncTest):
    def test_two_biotime_servers_never_collide_in_one_site(self):
        other = Sim("biotime2", "biotime_sim.py", ["--users", "%s:%s" % (BT_USER, BT_PASSWORD)],
                    self.tmp)
        self.addCleanup(other.stop)
        self.add_punches([{"emp_code": "1001", "punch_time": "2026-11-02 08:00:00"}])
        other.post("/__sim/transactions", {"rows": [
            {"emp_code": "1002", "punch_time": "2026-11-02 09:00:00"}]})
        plant1 = self.write_config(name="plant1.conf", biotime={"name": "plant1"},
                                   sync={"state_dir": os.path.join(self.tmp, "s1")})
        plant2 = self.write_config(name="plant2.conf",
                                   biotime={"name": "plant2", "url": other.url},
                                   sync={"state_dir": os.path.join(self.tmp, "s2")})
        self.run_daemon("--once", config=plant1, expect=EXIT_OK)
        self.run_daemon("--once", config=plant2, expect=EXIT_OK)
        names = sorted(l["name"] for l in self.device_logs())
        self.assertEqual(names, ["plant1-1", "plant2-1"])
        self.assertEqual(len(self.checkins()), 2)

    def test_instance_state_dir_from_the_environment(self):
        self.generate(5)
        inst = os.path.join(self.tmp, "instance-state")
        self.once(env={"BTS_STATE_DIR": inst})
        self.assertTrue(os.path.exists(os.path.join(inst, "state.json")))
        self.assertFalse(os.path.exists(os.path.join(self.state_dir, "state.json")))


if __name__ == "__main__":
    main()
