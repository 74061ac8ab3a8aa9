"""--employees (the mapping report) and employees.push (BioTime kept in line with
ERPNext), against the simulators with 1,200 employees of every status and names spelt
differently on the two sides (CONTRACT.md §2, §3, §4b)."""

import json
import math

import harness
from harness import EXIT_OK, EXIT_UNAVAILABLE

N = 1200
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
                      "area": ["Head office"]}
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


if __name__ == "__main__":
    harness.main()
