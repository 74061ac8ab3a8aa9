"""Several biotime-syncd instances on one ERPNext site (biotime-syncd@NAME), and the tools
an operator runs by hand beside the unit (issue 11)."""

import os

from harness import EXIT_OK, SyncTest, main


class Instances(SyncTest):
    def instance_config(self, label):
        state = os.path.join(self.tmp, "state-" + (label or "main"))
        return self.write_config(name="%s.conf" % (label or "main"),
                                 biotime={"name": label}, sync={"state_dir": state})

    def parked_names(self):
        return sorted(d["name"] for d in self.device_logs() if int(d["synced"]) == 0)

    def test_each_instance_retries_only_its_own_parked_punches(self):
        # Three instances read the same punches of an unknown code; "plant2-b" starts
        # with "plant2-", so a prefix match alone would take its rows for plant2's.
        configs = {label: self.instance_config(label) for label in ("", "plant2", "plant2-b")}
        self.generate(6, codes=["9001"])
        for config in configs.values():
            self.once(config=config)
        self.assertEqual(len(self.parked_names()), 18)
        self.assertEqual(self.checkins(), [])
        self.erp.post("/__sim/employees", {"employees": [{
            "name": "HR-EMP-09001", "employee_name": "Late Hire", "status": "Active",
            "attendance_device_id": "9001", "company": "Test Co"}]})

        self.once(config=configs["plant2"])
        still = self.parked_names()
        self.assertEqual(len(still), 12)
        self.assertFalse([n for n in still if n.startswith("plant2-") and
                          not n.startswith("plant2-b-")], still)
        self.assertEqual(len(self.checkins()), 6)
        self.state_dir = os.path.join(self.tmp, "state-plant2")
        self.assertEqual(self.state()["parked_waiting"], 0)

        self.once(config=configs[""])
        self.assertEqual(len(self.parked_names()), 6)
        self.assertTrue(all(n.startswith("plant2-b-") for n in self.parked_names()))
        self.once(config=configs["plant2-b"])
        self.assertEqual(self.parked_names(), [])
        self.assertEqual(len(self.checkins()), 6)  # HRMS's duplicate rule links the rest

    def test_parked_punches_of_another_instance_are_not_counted_as_waiting(self):
        main_config = self.instance_config("")
        self.generate(4, codes=["9002"])
        self.once(config=main_config)
        plant2 = self.instance_config("plant2")
        self.bt.post("/__sim/reset", {})
        self.once(config=plant2)
        self.state_dir = os.path.join(self.tmp, "state-plant2")
        self.assertEqual(self.state()["parked_waiting"], 0)


class ToolsByHand(SyncTest):
    def test_status_needs_no_secret(self):
        self.once()
        # The service user runs --status; the secrets reach only the unit (LoadCredential=).
        os.unlink(os.path.join(self.tmp, "biotime.password"))
        os.unlink(self.secret_file)
        rc, out, err = self.run_daemon("--status", expect=EXIT_OK)
        self.assertIn("cursor:", out)
        rc, out, err = self.run_daemon("--check-config", expect=78)
        self.assertIn('biotime.password_file: "biotime.password" is in none of', err)


if __name__ == "__main__":
    main()
