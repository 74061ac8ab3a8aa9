"""--employees (the mapping report) and employees.push (BioTime kept in line with
ERPNext), against the simulators with 1,200 employees of every status and names spelt
differently on the two sides (CONTRACT.md §2, §3, §4b)."""

import json
import math

import harness
from harness import EXIT_OK, EXIT_UNAVAILABLE

# Under valgrind (the memory check of the same paths) a tenth of the people is enough.
N = 120 if harness.UNDER_WRAPPER else 1200
FIELD = "attendance_device_id"
LATIN = [("Aisha", "Test"), ("José", "Muñoz"), ("Łukasz", "Żółw"), ("Zoë", "Ångström"),
         ("Omar", "Haddad"), ("Lina", "Nasser"), ("Yusuf", "Karim"), ("Maya", "Saleh")]
ARABIC = [("عبد الله", "أحمد"), ("آمنة", "موسى"), ("إيمان", "فاطمة"), ("مُحَمَّد", "علي")]


def status_of(i):
    """Every status: most Active, then Left, Suspended and Inactive."""
    if i % 10 == 3:
        return "Left"
    if i % 15 == 7:
        return "Suspended"
    if i % 20 == 11:
        return "Inactive"
    return "Active"


def name_of(i):
    pool = ARABIC if i % 3 == 0 else LATIN
    first, last = pool[i % len(pool)]
    return first, "%s%d" % (last, i) if i % 3 else last + " " + str(i)


class EmployeesBase(harness.SyncTest):
    employees = 0

    def setUp(self):
        super().setUp()
        self.seed()

    def seed(self):
        """ERPNext: N Employees with codes 1001.. of every status; BioTime: the same people
        (not the Inactive ones, some leavers already resigned), plus the special cases."""
        self.bt.post("/__sim/departments", {"departments": [{"dept_code": "OPS",
                                                             "dept_name": "Operations"}]})
        self.bt.post("/__sim/areas", {"areas": [{"area_code": "DXB", "area_name": "Dubai"},
                                                {"area_code": "AUH", "area_name": "Abu Dhabi"}]})
        emps, people = [], []
        for i in range(1, N + 1):
            code, (first, last) = str(1000 + i), name_of(i)
            status = status_of(i)
            emp = {"name": "HR-EMP-%05d" % i, "first_name": first, "last_name": last,
                   "employee_name": "%s %s" % (first, last), FIELD: code, "status": status,
                   "company": "Test Co"}
            if status == "Left" and i % 80 == 3:
                emp["relieving_date"] = "2026-11-30"
            emps.append(emp)
            if status == "Inactive":
                continue
            person = {"emp_code": code, "first_name": first, "last_name": last,
                      "area": ["Head office", "Dubai"] if i % 10 else ["Head office"]}
            if status == "Left" and i % 40 != 3:
                person["resigned"] = "2026-10-31"  # most leavers are resigned already
            people.append(person)
        self.erp.post("/__sim/employees", {"employees": emps})
        self.bt.post("/__sim/employees", {"employees": people})
        self.n_left_active = sum(1 for i in range(1, N + 1)
                                 if status_of(i) == "Left" and i % 40 == 3)

    def add_case(self, bt=None, erp=None):
        if bt:
            self.bt.post("/__sim/employees", {"employees": [bt]})
        if erp:
            self.erp.post("/__sim/employees", {"employees": [erp]})

    def bt_employees(self):
        return {e["emp_code"]: e for e in self.bt.get("/__sim/employees")["employees"]}

    def bt_requests(self):
        return self.bt.get("/__sim/stats")["requests"]

    def erp_requests(self):
        return self.erp.get("/__sim/stats")["requests"]


class ReportTest(EmployeesBase):
    def add_report_cases(self):
        # in BioTime only, with an ERPNext Employee of the same name and no code
        self.add_case({"emp_code": "9001", "first_name": "عبد الله", "last_name": "أحمد"},
                      {"name": "HR-EMP-09001", "first_name": "أحمد", "last_name": "عبدالله",
                       "employee_name": "أحمد عبدالله", "status": "Active"})
        self.add_case({"emp_code": "9002", "first_name": "Aisha", "last_name": "Tést"},
                      {"name": "HR-EMP-09002", "first_name": "Aisha",
                       "last_name": "Test", "employee_name": "Aisha  Test",
                       "status": "Active"})
        self.add_case({"emp_code": "9003", "first_name": "Nobody", "last_name": "Here"})
        # in ERPNext only
        self.add_case(erp={"name": "HR-EMP-09004", "first_name": "New", "last_name": "Hire",
                           "employee_name": "New Hire", FIELD: "9004", "status": "Active"})

    def test_report_lists_every_kind_with_the_exact_fix(self):
        self.add_report_cases()
        rc, out, err = self.run_daemon("--employees", expect=1)
        self.longMessage, self.maxDiff = False, 2000
        self.assertIn("set attendance_device_id = 9001 on HR-EMP-09001 (أحمد عبدالله)\n", out)
        self.assertIn("set attendance_device_id = 9002 on HR-EMP-09002 (Aisha  Test)\n", out)
        self.assertIn("9003     Nobody Here: no Employee without attendance_device_id has "
                      "this name", out)
        self.assertIn("In ERPNext only (Active, attendance_device_id set, not in BioTime): 1\n"
                      "  9004     HR-EMP-09004 (New Hire)", out)
        self.assertIn("Leavers (Left in ERPNext) still active in BioTime: %d\n"
                      % self.n_left_active, out)
        self.assertIn("  1003     HR-EMP-00003 (%s %s), relieving date 2026-11-30"
                      % name_of(3), out)
        self.assertIn("  1043     HR-EMP-00043 (%s %s), relieving date not set"
                      % name_of(43), out)
        self.assertIn("In BioTime only (no Employee carries the code): 3\n", out)
        mapped = N - sum(1 for i in range(1, N + 1) if status_of(i) == "Inactive")
        self.assertIn("Mapped (attendance_device_id = emp_code): %d\n" % mapped, out)
        self.assertTrue(out.endswith("Action needed.\n"), out[-200:])

    def test_json_shape(self):
        self.add_report_cases()
        rc, out, err = self.run_daemon("--employees", "--json", expect=1)
        rep = json.loads(out)
        self.assertEqual(sorted(rep), ["biotime_employees", "biotime_only", "employee_field",
                                       "erpnext_employees", "erpnext_only", "leavers",
                                       "mapped", "needs_action", "resign_api"])
        self.assertTrue(rep["needs_action"])
        only = {u["emp_code"]: u for u in rep["biotime_only"]}
        self.assertEqual(only["9001"]["candidates"], [{
            "employee": "HR-EMP-09001", "employee_name": "أحمد عبدالله", "status": "Active",
            "fix": "set attendance_device_id = 9001 on HR-EMP-09001 (أحمد عبدالله)"}])
        self.assertEqual(only["9003"]["candidates"], [])
        self.assertEqual(rep["erpnext_only"], [{"employee": "HR-EMP-09004",
                                                "employee_name": "New Hire",
                                                "status": "Active", "emp_code": "9004"}])
        leaver = next(l for l in rep["leavers"] if l["emp_code"] == "1003")
        self.assertEqual(leaver["erpnext"]["relieving_date"], "2026-11-30")
        self.assertFalse(leaver["resigned"])
        self.assertEqual(len(rep["leavers"]), self.n_left_active)
        m = next(m for m in rep["mapped"] if m["emp_code"] == "1001")
        self.assertEqual(m["erpnext"]["employee"], "HR-EMP-00001")

    def test_paged_reads_and_no_request_per_employee(self):
        self.bt.post("/__sim/reset_stats", {})
        self.erp.post("/__sim/reset_stats", {})
        self.run_daemon("--employees", expect=1)
        bt = self.bt_requests()
        listed = len(self.bt_employees())
        self.assertEqual(bt.get("GET /personnel/api/employees/"), math.ceil(listed / 50))
        self.assertFalse([k for k in bt if k.startswith("GET /personnel/api/employees/")
                          and k != "GET /personnel/api/employees/"], bt)
        self.assertLessEqual(sum(bt.values()), math.ceil(listed / 50) + 10)
        erp = self.erp_requests()
        self.assertEqual(erp.get("GET /api/resource/Employee"), 1, erp)
        self.assertFalse([k for k in erp if k.startswith("GET /api/resource/Employee/")], erp)

    def test_exit_0_when_nothing_needs_action(self):
        leavers = [{"emp_code": str(1000 + i), "resigned": "2026-11-30"}
                   for i in range(1, N + 1) if status_of(i) == "Left" and i % 40 == 3]
        self.bt.post("/__sim/employees", {"employees": leavers})
        rc, out, err = self.run_daemon("--employees", expect=EXIT_OK)
        self.assertTrue(out.endswith("Nothing needs action.\n"), out[-200:])
        rc, out, err = self.run_daemon("--employees", "--json", expect=EXIT_OK)
        self.assertFalse(json.loads(out)["needs_action"])

    def test_exit_69_when_biotime_cannot_be_reached(self):
        self.bt.stop()
        rc, out, err = self.run_daemon("--employees", expect=EXIT_UNAVAILABLE)
        self.assertEqual(out, "")

    def test_report_writes_nothing(self):
        self.add_report_cases()
        self.bt.post("/__sim/reset_stats", {})
        self.run_daemon("--employees", expect=1)
        writes = [k for k in self.bt_requests() if not k.startswith("GET ")
                  and "token-auth" not in k]
        self.assertEqual(writes, [])
        self.assertFalse([k for k in self.erp_requests() if not k.startswith("GET ")])

    def test_without_resign_api_it_says_so(self):
        self.bt.config(resign_api=False)
        rc, out, err = self.run_daemon("--employees", expect=1)
        self.assertIn("This BioTime has no resign API", out)
        left = sum(1 for i in range(1, N + 1) if status_of(i) == "Left")
        self.assertIn("Leavers (Left in ERPNext) still active in BioTime: %d\n" % left, out)


PUSH = {"push": True, "department": "OPS", "areas": ["DXB"], "resign_leavers": True}


class PushTest(EmployeesBase):
    """employees.push at the employee-map refresh of --once."""

    def setUp(self):
        super().setUp()
        pers = self.bt.get("/__sim/personnel")
        self.dxb = next(a["id"] for a in pers["areas"] if a["area_code"] == "DXB")
        self.ops = next(d["id"] for d in pers["departments"] if d["dept_code"] == "OPS")
        # a BioTime person no Employee names: never touched
        self.bt.post("/__sim/employees", {"employees": [
            {"emp_code": "9003", "first_name": "Nobody", "last_name": "Here",
             "area": ["Abu Dhabi"]}]})
        self.config_path = self.write_config(employees=PUSH)

    def add_new_hires(self):
        """Employees BioTime lacks: 20 Active, 5 Suspended, 3 Left, 2 Inactive."""
        emps, i = [], 8000
        for status, n in (("Active", 20), ("Suspended", 5), ("Left", 3), ("Inactive", 2)):
            for _ in range(n):
                i += 1
                emps.append({"name": "HR-EMP-%05d" % i, "first_name": "Zoë",
                             "last_name": "Hire%d" % i, "employee_name": "Zoë Hire%d" % i,
                             FIELD: str(i), "status": status})
        self.erp.post("/__sim/employees", {"employees": emps})
        return emps

    def rename(self, numbers):
        emps = [{"name": "HR-EMP-%05d" % i, "last_name": "Renamed%d" % i} for i in numbers]
        self.erp.post("/__sim/employees", {"employees": emps})

    def writes(self):
        return {k: v for k, v in self.bt_requests().items()
                if not k.startswith("GET ") and "token-auth" not in k}

    def test_push_creates_renames_resigns_and_only_adds(self):
        hires = self.add_new_hires()
        renamed = [i for i in range(1, 200) if status_of(i) in ("Active", "Suspended")][:10]
        self.rename(renamed)
        before = self.bt_employees()
        rc, out, err = self.once()
        after = self.bt_employees()
        # created: Active and Suspended, never a leaver, Inactive left alone
        for e in hires:
            made = after.get(e[FIELD])
            if e["status"] in ("Active", "Suspended"):
                self.assertIsNotNone(made, e)
                self.assertEqual((made["first_name"], made["last_name"]),
                                 (e["first_name"], e["last_name"]))
                self.assertEqual(made["department"]["id"], self.ops)
                self.assertEqual([a["id"] for a in made["area"]], [self.dxb])
            else:
                self.assertIsNone(made, e)
        # renamed
        for i in renamed:
            self.assertEqual(after[str(1000 + i)]["last_name"], "Renamed%d" % i)
        # resigned: the leavers BioTime still held, as of their relieving date or today
        resigns = {r["employee"]: r for r in self.bt.get("/__sim/personnel")["resigns"]}
        by_code = {e["emp_code"]: e["id"] for e in after.values()}
        for i in range(1, N + 1):
            if status_of(i) == "Left" and i % 40 == 3:
                r = resigns[by_code[str(1000 + i)]]
                self.assertTrue(r["disableatt"])
                if i % 80 == 3:
                    self.assertEqual(r["resign_date"], "2026-11-30")
        # never deletes, never touches the unnamed one, areas only added
        self.assertEqual(self.bt.get("/__sim/personnel")["deletes"], 0)
        self.assertEqual(after["9003"], before["9003"])
        self.assertTrue(set(before) <= set(after))
        for code, e in before.items():
            if code == "9003":
                continue
            ids = [a["id"] for a in after[code]["area"]]
            self.assertTrue({a["id"] for a in e["area"]} <= set(ids), code)
        self.assertIn(self.dxb, [a["id"] for a in after["1010"]["area"]])  # gained it
        self.assertEqual(len(after["1010"]["area"]), 2)
        # counts in Sync Logs and --status
        n_left = self.n_left_active
        logs = [json.loads(l["response"]) for l in self.sync_logs()]
        pushed = [l["employees_push"] for l in logs if "employees_push" in l]
        self.assertEqual(pushed[0], {"created": 25, "renamed": 10, "resigned": n_left,
                                     "refused": 0})
        st = self.state()
        self.assertEqual((st["push_created"], st["push_renamed"], st["push_resigned"]),
                         (25, 10, n_left))
        rc, out, err = self.run_daemon("--status", expect=EXIT_OK)
        self.assertIn("employees push:    ", out)
        self.assertIn(": 25 created, 10 renamed, %d resigned, 0 refused" % n_left, out)

    def test_second_refresh_with_nothing_changed_writes_nothing(self):
        self.add_new_hires()
        self.once()
        self.assertTrue(self.writes())
        self.bt.post("/__sim/reset_stats", {})
        self.once()
        self.assertEqual(self.writes(), {})

    def test_dry_run_prints_and_writes_nothing(self):
        self.add_new_hires()
        self.rename([1])
        self.bt.post("/__sim/reset_stats", {})
        rc, out, err = self.once("--dry-run")
        self.assertEqual(self.writes(), {})
        self.assertIn('would create BioTime employee 8001 "Zoë Hire8001" for HR-EMP-08001, '
                      "department OPS, areas DXB\n", out)
        self.assertIn('would rename BioTime employee 1001 from "%s %s" to "%s Renamed1" '
                      "for HR-EMP-00001\n" % (name_of(1) + (name_of(1)[0],)), out)
        self.assertIn("would resign BioTime employee 1003 for HR-EMP-00003 (%s %s) as of "
                      "2026-11-30\n" % name_of(3), out)
        self.assertIn("would add areas DXB to BioTime employee 1010 for HR-EMP-00010\n", out)
        self.assertNotIn("employee 8026", out)  # a new leaver is never created
        self.assertFalse(harness.os.path.exists(harness.os.path.join(self.state_dir,
                                                                     "state.json")))

    def test_refusal_is_one_line_naming_employee_and_field_and_once_exits_0(self):
        self.erp.post("/__sim/employees", {"employees": [
            {"name": "HR-EMP-08100", "first_name": "Bartholomew-Maximilian-Alexander",
             "last_name": "Long", "employee_name": "Bartholomew-Maximilian-Alexander Long",
             FIELD: "8100", "status": "Active"}]})
        rc, out, err = self.once(expect=EXIT_OK)
        lines = [l for l in err.splitlines() if "BioTime refused" in l]
        self.assertEqual(len(lines), 1, err)
        self.assertIn("BioTime refused to create employee 8100 for HR-EMP-08100 "
                      "(Bartholomew-Maximilian-Alexander Long): first_name: Ensure this field "
                      "has no more than 25 characters.", lines[0])
        self.assertEqual(self.state()["push_refused"], 1)
        self.bt.post("/__sim/reset_stats", {})
        rc, out, err = self.once(expect=EXIT_OK)
        self.assertEqual(self.writes(), {})  # not retried while the Employee is unchanged

    def test_without_resign_api_it_is_said_once_and_nothing_breaks(self):
        self.bt.config(resign_api=False)
        self.add_new_hires()
        rc, out, err = self.once(expect=EXIT_OK)
        self.assertEqual(err.count("this BioTime has no resign API"), 1, err)
        self.assertEqual(self.bt.get("/__sim/personnel")["resigns"][0]["resign_date"],
                         "2026-10-31")  # the seeded ones only
        self.assertIn("8001", self.bt_employees())
        self.assertEqual(self.state()["push_resigned"], 0)

    def test_code_changed_in_erpnext_moves_the_person_and_the_95_quirk_is_caught(self):
        self.once()
        person = self.bt_employees()["1005"]
        self.erp.post("/__sim/employees", {"employees": [{"name": "HR-EMP-00005",
                                                          FIELD: "7005"}]})
        self.bt.config(emp_code_editable=False)  # BioTime 9.5
        rc, out, err = self.once(expect=EXIT_OK)
        self.assertIn("BioTime answered success but kept emp_code 1005 (BioTime 9.5 cannot "
                      "change a code through its API): change it to 7005 in the BioTime UI",
                      err)
        emps = self.bt_employees()
        self.assertNotIn("7005", emps)  # never a second person
        self.bt.post("/__sim/reset_stats", {})
        self.once(expect=EXIT_OK)
        self.assertEqual(self.writes(), {})
        self.assertNotIn("7005", self.bt_employees())
        self.bt.config(emp_code_editable=True)  # a BioTime that allows it
        self.erp.post("/__sim/employees", {"employees": [{"name": "HR-EMP-00005",
                                                          "last_name": "Moved"}]})
        self.once(expect=EXIT_OK)
        emps = self.bt_employees()
        self.assertEqual(emps["7005"]["id"], person["id"])
        self.assertEqual(emps["7005"]["last_name"], "Moved")
        self.assertNotIn("1005", emps)

    def test_push_failure_never_holds_up_the_punches(self):
        self.add_new_hires()
        self.bt.config(faults=[{"path": "/personnel/api/employees/", "kind": "status",
                                "status": 500, "count": -1}])
        codes = [str(1000 + i) for i in range(1, 200) if status_of(i) == "Active"][:20]
        self.generate(60, codes=codes)
        rc, out, err = self.once(expect=EXIT_OK)
        self.assertEqual(len(self.checkins()), 60)
        self.assertIn("employees.push: stopped, tried again at the next refresh", err)
        self.assertNotIn("8001", self.bt_employees())

    def test_daemon_pushes_at_its_refresh_200_writes_at_a_time(self):
        emps = [{"name": "HR-EMP-%05d" % i, "first_name": "New", "last_name": "Hire%d" % i,
                 "employee_name": "New Hire%d" % i, FIELD: str(i), "status": "Active"}
                for i in range(20001, 20251)]
        self.erp.post("/__sim/employees", {"employees": emps})
        p = self.start_daemon()
        self.wait_for(lambda: "more at the next refresh" in self.output_of(p), 120,
                      "the first batch")
        # the next batch waits for a refresh a minute on
        self.assertEqual(sum(self.writes().values()), 200)
        self.assertLess(len([c for c in self.bt_employees() if c.startswith("20")]), 250)
        self.assertEqual(self.stop_daemon(p), 0)

    def test_a_rejoiner_resigned_in_biotime_is_not_created_twice(self):
        self.erp.post("/__sim/employees", {"employees": [{"name": "HR-EMP-00013",
                                                          "status": "Active"}]})
        self.bt.post("/__sim/reset_stats", {})
        self.once(expect=EXIT_OK)  # BioTime lists resigned people: nothing to do for 1013
        self.assertNotIn("POST /personnel/api/employees/", self.writes())
        self.bt.config(resigned_in_list=False)  # one that hides them: the code stays taken
        rc, out, err = self.once(expect=EXIT_OK)
        self.assertIn("BioTime refused to create employee 1013 for HR-EMP-00013 (%s %s): "
                      "emp_code: employee with this emp code already exists. A resigned "
                      "person keeps the code: reinstate them in the BioTime UI." % name_of(13),
                      err)
        self.assertEqual(sum(1 for e in self.bt.get("/__sim/employees")["employees"]
                             if e["emp_code"] == "1013"), 1)

    def test_push_off_writes_nothing_to_biotime(self):
        self.add_new_hires()
        self.config_path = self.write_config(employees={"push": False})
        self.once()
        self.assertEqual(self.writes(), {})


if __name__ == "__main__":
    harness.main()
