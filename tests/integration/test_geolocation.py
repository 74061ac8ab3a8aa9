"""Geolocation sites (issue 12.4): with HR Settings > Allow Geolocation Tracking on, HRMS
refuses a checkin without coordinates. erpnext.locations gives each terminal's; a punch from
a terminal without them is parked, naming the terminal, and comes back once it is listed."""

import json

from harness import EXIT_OK, SyncTest, main

LISTED, UNLISTED = "CQUJ000001", "BOCK000003"
RIYADH = {"terminal": LISTED, "latitude": 24.7136, "longitude": 46.6753}
JEDDAH = {"terminal": UNLISTED, "latitude": 21.4858, "longitude": 39.1925}
REASON = ("geolocation tracking is on and terminal %s has no erpnext.locations entry"
          % UNLISTED)


class Geolocation(SyncTest):
    roles = ["HR Manager"]  # may read HR Settings

    def setUp(self):
        super().setUp()
        self.erp.config(geolocation_tracking=True, api_user_roles=self.roles)

    def punch_both_terminals(self):
        rows = []
        for i, code in enumerate(("1001", "1002", "1019")):
            for sn in (LISTED, UNLISTED):
                rows.append({"emp_code": code, "terminal_sn": sn, "punch_state": "0",
                             "punch_time": "2026-11-02 08:%02d:%02d" % (i, len(rows))})
        self.add_punches(rows)
        return rows

    def configure(self, *locations):
        self.config_path = self.write_config(erpnext={"locations": list(locations)})

    def assert_located(self, checkin, loc):
        self.assertEqual((checkin["latitude"], checkin["longitude"]),
                         (loc["latitude"], loc["longitude"]))
        point = json.loads(checkin["geolocation"])["features"][0]["geometry"]
        self.assertEqual(point["coordinates"], [loc["longitude"], loc["latitude"]])

    def run_listed_then_unlisted(self):
        self.punch_both_terminals()
        self.configure(RIYADH)
        rc, out, err = self.once()
        said = [l for l in err.splitlines() if REASON in l and "get their checkins" in l]
        self.assertLessEqual(len(said), 1, said)  # once per terminal, not per punch
        checkins = self.checkins()
        self.assertEqual(len(checkins), 3)
        for c in checkins:
            self.assertEqual(c["device_id"], LISTED)
            self.assert_located(c, RIYADH)
        parked = [l for l in self.device_logs() if int(l["synced"]) == 0]
        self.assertEqual(sorted(l["emp_code"] for l in parked), ["1001", "1002", "1019"])
        for log in parked:
            self.assertEqual(log["terminal_sn"], UNLISTED)
            self.assertIn(REASON, log["sync_error"])
        # the terminal gets its coordinates: the parked punches come back by themselves
        self.configure(RIYADH, JEDDAH)
        rc, out, err = self.once()
        self.assertIn("3 parked punches got their checkin", out + err)
        by_terminal = {}
        for c in self.checkins():
            by_terminal.setdefault(c["device_id"], []).append(c)
            self.assert_located(c, RIYADH if c["device_id"] == LISTED else JEDDAH)
        self.assertEqual({k: len(v) for k, v in by_terminal.items()}, {LISTED: 3, UNLISTED: 3})
        self.assert_exactly_once()

    def test_listed_terminal_sends_coordinates_unlisted_is_parked_until_listed(self):
        self.run_listed_then_unlisted()
        [first] = self.outputs[:1]
        self.assertEqual(first.count(REASON + ": its punches are kept"), 1, first)
        # HR Settings was read, so the unlisted terminal cost no refused request
        self.assertEqual(self.erp.get("/__sim/stats")["statuses"].get("417", 0), 0)

    def test_a_terminal_on_the_equator_is_accepted_as_hrms_accepts_it(self):
        """HRMS refuses only when both coordinates are 0: latitude 0 with a longitude is a
        position (Kampala's terminal), though HRMS then fills no GeoJSON point."""
        equator = {"terminal": "EQTR000004", "latitude": 0.0, "longitude": 32.5825}
        self.add_punches([{"emp_code": "1001", "terminal_sn": "EQTR000004",
                           "punch_time": "2026-11-02 08:00:00", "punch_state": "0"}])
        self.configure(RIYADH, equator)
        self.once()
        [c] = self.checkins()
        self.assertEqual((c["latitude"], c["longitude"]), (0.0, 32.5825))
        self.assertFalse(c.get("geolocation"))
        self.assert_exactly_once()

    def test_dry_run_shows_the_coordinates_and_the_terminal_to_list(self):
        self.punch_both_terminals()
        self.configure(RIYADH)
        rc, out, err = self.once("--dry-run")
        lines = [l for l in out.splitlines() if "emp_code=1001" in l]
        self.assertEqual(len(lines), 2, out)
        [listed] = [l for l in lines if "device_id=%s" % LISTED in l]
        self.assertIn("latitude=24.7136 longitude=46.6753; Device Log synced=1", listed)
        [unlisted] = [l for l in lines if "synced=0" in l]
        self.assertIn(REASON, unlisted)
        self.assertEqual(self.checkins(), [])

    def test_without_geolocation_tracking_coordinates_are_still_sent(self):
        self.erp.config(geolocation_tracking=False)
        self.punch_both_terminals()
        self.configure(RIYADH)
        self.once()
        checkins = self.checkins()
        self.assertEqual(len(checkins), 6)
        for c in checkins:
            if c["device_id"] == LISTED:
                self.assertEqual((c["latitude"], c["longitude"]), (24.7136, 46.6753))
            else:
                self.assertFalse(c.get("latitude"))
        self.assert_exactly_once()

    def test_test_connection_names_the_terminals_without_coordinates(self):
        self.punch_both_terminals()
        self.configure(RIYADH)
        rc, out, err = self.run_daemon("--test-connection", expect=EXIT_OK)
        [line] = [l for l in out.splitlines() if "ERPNext geolocation" in l]
        self.assertTrue(line.startswith("warning"), line)
        self.assertIn("1 terminal has no erpnext.locations entry: %s." % UNLISTED, line)
        self.assertNotIn(LISTED, line)
        self.configure(RIYADH, JEDDAH)
        rc, out, err = self.run_daemon("--test-connection", expect=EXIT_OK)
        [line] = [l for l in out.splitlines() if "ERPNext geolocation" in l]
        self.assertTrue(line.startswith("ok"), line)
        self.assertIn("every terminal has its coordinates", line)


class GeolocationLearntFromRefusal(Geolocation):
    """An API user that may not read HR Settings (it needs HR Manager): ERPNext's refusal
    of a checkin without coordinates tells instead."""
    roles = ["HR User"]

    def setUp(self):
        super().setUp()
        self.erp.config(faults=[{"path": "/api/resource/HR Settings", "method": "GET",
                                 "kind": "status", "status": 403, "count": -1}])

    def test_listed_terminal_sends_coordinates_unlisted_is_parked_until_listed(self):
        self.run_listed_then_unlisted()
        statuses = self.erp.get("/__sim/stats")["statuses"]
        self.assertGreater(statuses.get("403", 0), 0)  # HR Settings
        self.assertGreater(statuses.get("417", 0), 0)  # a checkin without coordinates

    def test_dry_run_shows_the_coordinates_and_the_terminal_to_list(self):
        """A dry run writes nothing, so nothing refuses: it cannot know the unlisted
        terminal will be refused, and says it would write its checkin."""
        self.punch_both_terminals()
        self.configure(RIYADH)
        rc, out, err = self.once("--dry-run")
        lines = [l for l in out.splitlines() if "emp_code=1001" in l]
        self.assertEqual(len(lines), 2, out)
        [listed] = [l for l in lines if "device_id=%s" % LISTED in l]
        self.assertIn("latitude=24.7136 longitude=46.6753; Device Log synced=1", listed)
        self.assertEqual(self.checkins(), [])

    def test_one_refusal_teaches_the_rest_to_wait_without_asking(self):
        """300 punches from the unlisted terminal over 30 pages: once ERPNext has refused
        one for want of coordinates, the later pages are parked without a request."""
        self.add_punches([{"emp_code": "1001", "terminal_sn": LISTED,
                           "punch_time": "2026-11-01 07:00:00"}])
        self.generate(300, terminals=[UNLISTED])
        self.config_path = self.write_config(biotime={"page_size": 10},
                                             erpnext={"locations": [RIYADH]})
        self.once()
        self.assertEqual(len(self.checkins()), 1)
        parked = [l for l in self.device_logs() if int(l["synced"]) == 0]
        self.assertEqual(len(parked), 300)
        self.assertTrue(all(REASON in l["sync_error"] for l in parked))
        refused = self.erp.get("/__sim/stats")["statuses"].get("417", 0)
        self.assertGreater(refused, 0)
        self.assertLess(refused, 100)

    def test_test_connection_names_the_terminals_without_coordinates(self):
        self.configure(RIYADH)
        rc, out, err = self.run_daemon("--test-connection", expect=EXIT_OK)
        [line] = [l for l in out.splitlines() if "ERPNext geolocation" in l]
        self.assertIn("cannot read HR Settings", line)
        self.assertIn("every terminal needs an erpnext.locations entry", line)


if __name__ == "__main__":
    main()
