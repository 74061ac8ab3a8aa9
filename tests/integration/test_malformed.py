"""The malformed-response matrix (issue 7.2): every broken answer BioTime or ERPNext can
give, against the real binary.

Whole answers that are wrong (HTML, a redirect, truncated or wrong-shape JSON, a stall, a
body beyond the 64 MiB cap...) are transient: the daemon must not crash or hang, must log
which server, which request and what was wrong, must leave the cursor where it was, and
once the server answers properly the same punches arrive exactly once. Rows that are
garbage inside a good answer (nulls, wrong types, bad dates, bad ids, 1 MiB strings,
invalid UTF-8) cannot be cured by asking again: a row with a usable id is kept as a Device
Log with synced = 0 and a sync_error, a row without one is skipped with a warning, and
the good rows around them are delivered.

Each case is one named test method, generated from the tables below; the checks of a case
are subTests, so one run reports everything that is wrong with it. The simulators' fault
kinds do the whole answers; rows are made broken in BioTime itself with the simulator's
per-row "render" override. BTS_MALFORMED_SHOW=1 prints the log line each case matched.
"""

import os
import re
import signal
import subprocess
import sys
import time

from harness import EXIT_OK, SyncTest, main

ALLOWED_EXITS = (0, 69, 75)      # never 70 (internal error), never a signal
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                       r"runtime error:|==\d+==ERROR|SUMMARY: \w+Sanitizer")
TIMEOUT = 3                       # biotime.timeout and erpnext.timeout, seconds
FIRST_FAILURE_S = 30              # a failing run must have reported by then
RUN_LIMIT_S = 60                  # any --once must have ended by then
MIB = 1024 * 1024
INVALID_UTF8 = "\u2063INVALID_UTF8\u2063"  # the BioTime simulator sends it as bytes ff fe
SHOW = bool(os.environ.get("BTS_MALFORMED_SHOW"))  # print the log line each case matched

INSERT_MANY = "/api/method/frappe.client.insert_many"
CHECKIN_INSERT = "/api/resource/Employee Checkin"
EMPLOYEE_LIST = "/api/resource/Employee"
DEVICE_LOG_LIST = "/api/resource/BioTime Device Log"
GET_LIST = "/api/method/frappe.client.get_list"

BT, ERP = "BioTime", "ERPNext"
PAGE = r"transactions page \d+"

# ---------------------------------------------------------------------------------------
# Whole answers. mode:
#   recover   the fault stays: the run fails, says so and keeps the cursor; then the fault
#             fires once more in a fresh run, which must retry by itself and deliver all
#   tolerate  the fault stays: --once still ends with exit 0 and delivers everything once
#   no_ids    the fault stays: every row comes without a usable id, so nothing is written
#             and the cursor stays; with the fault gone everything arrives once
# request/problem: regexes one log line must match besides the server's name.


class Case:
    def __init__(self, name, server, faults, request, problem, mode="recover"):
        self.name, self.server, self.faults = name, server, faults
        self.request, self.problem, self.mode = request, problem, mode


def status_body(body, content_type="application/json", status=200):
    """A BioTime answer with this exact body (the simulator's status fault)."""
    return {"kind": "status", "status": status, "body": body, "content_type": content_type}


def erp_body(path, body, method=None, content_type="application/json", status=200):
    fault = {"path": path, "kind": "body", "body": body, "status": status,
             "content_type": content_type}
    if method:
        fault["method"] = method
    return fault


TRUNCATED_PAGE = ('{"count":40,"next":"http://127.0.0.1:8081/iclock/api/transactions/?page=4",'
                  '"previous":null,"msg":"","code":0,"data":[{"id":21,"emp_code":"1001",'
                  '"punch_time":"2026-11-10 08:0')

BIOTIME_CASES = [
    Case("html_200", BT, [{"kind": "html"}], PAGE, r"not a JSON answer|html"),
    Case("redirect_302_to_login", BT, [{"kind": "redirect"}], PAGE, r"302"),
    Case("truncated_transfer", BT, [{"kind": "truncate"}], PAGE,
         r"transfer closed|partial|truncat|bytes remaining|connection"),
    Case("truncated_json", BT, [status_body(TRUNCATED_PAGE)], PAGE, r"JSON"),
    Case("wrong_shape_data_is_object", BT, [{"kind": "wrong_shape"}], PAGE, r"data"),
    Case("wrong_shape_code_not_0", BT, [{"kind": "bad_code"}], PAGE, r"code"),
    Case("wrong_shape_top_level_list", BT, [status_body('[{"id": 21}]')], PAGE,
         r"object|list|array"),
    Case("wrong_shape_json_string", BT, [status_body('"ok"')], PAGE, r"object|JSON"),
    Case("wrong_shape_empty_object", BT, [status_body("{}")], PAGE, r"code|data"),
    Case("envelope_nulls_everywhere", BT, [status_body(
        '{"count":null,"next":null,"previous":null,"msg":null,"code":null,"data":null}')],
        PAGE, r"code|data|null"),
    Case("envelope_wrong_types", BT, [status_body(
        '{"count":"many","next":7,"previous":[],"msg":{},"code":"0","data":"rows"}')],
        PAGE, r"code|data"),
    Case("slow_loris", BT, [{"kind": "slowloris", "interval": 0.2}], PAGE,
         r"time|slow"),
    Case("stall_past_timeout", BT, [{"kind": "timeout", "seconds": 30}], PAGE, r"time"),
    Case("body_beyond_64_mib", BT, [{"kind": "huge_body", "size": 80 * MIB}], PAGE,
         r"64 MiB|too large|larger|maximum file size|exceed"),
    Case("rows_all_null", BT, [{"kind": "nulls"}], PAGE, r"\bid\b", mode="no_ids"),
    Case("rows_of_wrong_types", BT, [{"kind": "bad_types"}], PAGE, r"\bid\b", mode="no_ids"),
    Case("next_loops_to_same_page", BT, [{"kind": "next_loop"}], None, None, mode="tolerate"),
    Case("endless_next_chain", BT, [{"kind": "endless_next"}], r"page|next",
         r"next|end|repeat|again|same", mode="tolerate"),
    Case("enormous_count", BT, [{"kind": "huge_count"}], None, None, mode="tolerate"),
    Case("duplicated_ids_in_page", BT, [{"kind": "dup_ids"}], None, None, mode="tolerate"),
]

ERPNEXT_CASES = [
    Case("html_200_insert_many", ERP, [{"path": INSERT_MANY, "kind": "html"}],
         r"Employee Checkins", r"not JSON|html|login page"),
    Case("html_200_employee_list", ERP,
         [{"path": EMPLOYEE_LIST, "method": "GET", "kind": "html"}],
         r"Employee list", r"not JSON|html|login page"),
    Case("html_200_single_checkin_insert", ERP,
         [{"path": CHECKIN_INSERT, "method": "POST", "kind": "html"}],
         r"Employee Checkin", r"not JSON|html|login page"),
    Case("truncated_json_insert_many", ERP, [{"path": INSERT_MANY, "kind": "truncate"}],
         r"Employee Checkins", r"transfer closed|partial|truncat|bytes remaining|connection"),
    Case("truncated_json_complete_length", ERP,
         [erp_body(INSERT_MANY, '{"message":["HR-EMP-CHK-2026-0')],
         r"Employee Checkins", r"JSON"),
    Case("nginx_502_insert_many", ERP, [{"path": INSERT_MANY, "kind": "status", "status": 502}],
         r"Employee Checkins", r"502|Bad Gateway"),
    Case("nginx_502_employee_list", ERP,
         [{"path": EMPLOYEE_LIST, "method": "GET", "kind": "status", "status": 502}],
         r"Employee list", r"502|Bad Gateway"),
    Case("dropped_connection_insert_many", ERP, [{"path": INSERT_MANY, "kind": "drop"}],
         r"Employee Checkins", r"empty reply|nothing|connection|closed|reset|recv"),
    Case("dropped_after_commit_insert_many", ERP,
         [{"path": INSERT_MANY, "kind": "drop_after_commit"}],
         r"Employee Checkins", r"empty reply|nothing|connection|closed|reset|recv"),
    Case("wrong_shape_message_string_insert_many", ERP,
         [erp_body(INSERT_MANY, '{"message": "x"}')],
         r"Employee Checkins", r"names|message|list|shape"),
    Case("wrong_shape_message_string_single_insert", ERP,
         [erp_body(CHECKIN_INSERT, '{"message": "x"}', method="POST")],
         r"Employee Checkin", r'"data"|missing|shape|expected|no document'),
    Case("wrong_shape_employee_list", ERP,
         [erp_body(EMPLOYEE_LIST, '{"message": "x"}', method="GET")],
         r"Employee list", r'"data"|missing|not a list|shape|expected'),
    Case("wrong_shape_device_log_lookup", ERP,
         [erp_body(GET_LIST, '{"message": {"name": "1"}}', method="POST")],
         r"Device Log lookup", r'"message"|missing|not a list|shape|expected'),
    Case("wrong_shape_parked_list", ERP,
         [erp_body(DEVICE_LOG_LIST, '{"data": "x"}', method="GET")],
         r"parked", r'"data"|missing|not a list|shape|expected', mode="tolerate"),
]


# ---------------------------------------------------------------------------------------
# Garbage rows inside good answers. Each row's "render" replaces what BioTime shows for
# those fields ("__missing__" drops one; "{id}" is the row's own id as text, "{prev}" the
# id of the row before). expect:
#   keep      usable id: Device Log synced = 0, sync_error matching `field`, no checkin,
#             and a warning naming the transaction id and the field
#   skip      no usable id: nothing written, a warning naming the page
#   deliver   loose but usable: delivered like a good row
#   either    keep (with any sync_error) or deliver with the checkin at that exact time
#   dup       another punch under an id already on the page: the first is delivered once,
#             the second is kept or a warning names the id


class Row:
    def __init__(self, name, render, expect, field=None, stored=None, times=()):
        self.name, self.render, self.expect, self.field = name, render, expect, field
        self.stored = stored or {}
        self.times = times  # other acceptable checkin times for "either"


ALL_FIELDS = ("id", "emp", "emp_code", "first_name", "last_name", "department", "position",
              "punch_time", "punch_state", "punch_state_display", "verify_type",
              "verify_type_display", "work_code", "gps_location", "area_alias", "terminal_sn",
              "terminal_alias", "temperature", "is_mask", "upload_time", "longitude",
              "latitude")
NULLS = dict.fromkeys(ALL_FIELDS)

ROW_GROUPS = {
    "nulls": [
        Row("all_fields_null", NULLS, "skip"),
        Row("all_but_id_null", {k: v for k, v in NULLS.items() if k != "id"}, "keep",
            r"emp_code|punch_time"),
        Row("emp_code_and_punch_time_null", {"emp_code": None, "punch_time": None}, "keep",
            r"emp_code|punch_time"),
        Row("optional_fields_null", {k: None for k in ALL_FIELDS
                                     if k not in ("id", "emp_code", "punch_time")}, "deliver"),
    ],
    "ids": [
        Row("id_negative", {"id": -5}, "skip"),
        Row("id_zero", {"id": 0}, "skip"),
        Row("id_fraction", {"id": 12.5}, "skip"),
        Row("id_text", {"id": "abc"}, "skip"),
        Row("id_negative_text", {"id": "-7"}, "skip"),
        Row("id_null", {"id": None}, "skip"),
        Row("id_missing", {"id": "__missing__"}, "skip"),
        Row("id_boolean", {"id": True}, "skip"),
        Row("id_list", {"id": [5]}, "skip"),
        Row("id_beyond_2_pow_53", {"id": 2 ** 60}, "skip"),
        Row("id_as_decimal_text", {"id": "{id}"}, "deliver"),
        Row("id_duplicate_of_previous_row", {"id": "{prev}"}, "dup"),
    ],
    "emp_code": [
        Row("emp_code_null", {"emp_code": None}, "keep", r"emp_code"),
        Row("emp_code_missing", {"emp_code": "__missing__"}, "keep", r"emp_code"),
        Row("emp_code_empty", {"emp_code": ""}, "keep", r"emp_code"),
        Row("emp_code_list", {"emp_code": ["1003"]}, "keep", r"emp_code"),
        Row("emp_code_object", {"emp_code": {"code": "1003"}}, "keep", r"emp_code"),
        Row("emp_code_boolean", {"emp_code": True}, "keep", r"emp_code"),
        Row("emp_code_as_number", {"emp_code": 1003}, "deliver", stored={"emp_code": "1003"}),
    ],
    "bad_dates": [
        Row("punch_time_null", {"punch_time": None}, "keep", r"punch_time"),
        Row("punch_time_missing", {"punch_time": "__missing__"}, "keep", r"punch_time"),
        Row("punch_time_number", {"punch_time": 1762156800}, "keep", r"punch_time"),
        Row("punch_time_impossible", {"punch_time": "2026-13-45 99:99:99"}, "keep",
            r"punch_time"),
        Row("punch_time_february_30", {"punch_time": "2026-02-30 08:00:00"}, "keep",
            r"punch_time"),
        Row("punch_time_zero_date", {"punch_time": "0000-00-00 00:00:00"}, "keep",
            r"punch_time"),
        Row("punch_time_leap_second", {"punch_time": "2026-12-31 23:59:60"}, "keep",
            r"punch_time"),
        Row("punch_time_words", {"punch_time": "yesterday at noon"}, "keep", r"punch_time"),
        Row("punch_time_empty", {"punch_time": ""}, "keep", r"punch_time"),
        Row("upload_time_garbage", {"upload_time": "2026-99-99 garbage"}, "deliver"),
    ],
    "absurd_dates": [
        Row("punch_time_iso_with_offset", {"punch_time": "2026-11-03T08:00:00+05:00"},
            "either", stored={"punch_time": "2026-11-03 08:00:00"},
            times=("2026-11-03 03:00:00",)),
        Row("punch_time_year_9999", {"punch_time": "9999-12-31 23:59:59"}, "either",
            stored={"punch_time": "9999-12-31 23:59:59"}),
        Row("punch_time_year_1900", {"punch_time": "1900-01-01 00:00:00"}, "either",
            stored={"punch_time": "1900-01-01 00:00:00"}),
    ],
    "year_0001": [  # alone: Frappe's get_datetime gives None for it (a 500 on insert)
        Row("punch_time_year_0001", {"punch_time": "0001-01-01 00:00:00"}, "either",
            stored={"punch_time": "0001-01-01 00:00:00"}),
    ],
    "other_types": [
        Row("punch_state_object", {"punch_state": {"state": 0}}, "deliver"),
        Row("verify_type_list", {"verify_type": [1, 15]}, "deliver"),
        Row("terminal_sn_number", {"terminal_sn": 123456}, "deliver"),
        Row("temperature_text", {"temperature": "hot"}, "deliver"),
        Row("first_name_number", {"first_name": 42, "last_name": False}, "deliver"),
        Row("unknown_extra_fields", {"surprise": {"nested": [1, {"x": None}]}}, "deliver"),
    ],
    "huge_strings": [
        Row("emp_code_1_mib", {"emp_code": "9" * MIB}, "keep", r"emp_code"),
        Row("punch_time_1_mib", {"punch_time": "2" * MIB}, "keep", r"punch_time"),
        Row("id_1_mib_of_digits", {"id": "1" * MIB}, "skip"),
        Row("first_name_1_mib", {"first_name": "A" * MIB}, "either"),
        Row("terminal_sn_1_mib", {"terminal_sn": "S" * MIB}, "either"),
    ],
    "invalid_utf8": [
        Row("emp_code_invalid_utf8", {"emp_code": "1003" + INVALID_UTF8}, "keep",
            r"emp_code|UTF-8"),
        Row("punch_time_invalid_utf8", {"punch_time": "2026-11-03 08:0" + INVALID_UTF8},
            "keep", r"punch_time"),
        Row("first_name_invalid_utf8", {"first_name": "Ana" + INVALID_UTF8}, "either"),
        Row("terminal_alias_invalid_utf8", {"terminal_alias": INVALID_UTF8 + "Gate"},
            "either"),
    ],
}


class Run:
    def __init__(self, rc, output, seconds, stopped, hung):
        self.rc, self.output, self.seconds = rc, output, seconds
        self.stopped, self.hung = stopped, hung


class MalformedBase(SyncTest):
    """Runs the daemon with short timeouts and checks how it took a bad answer."""

    def setUp(self):
        super().setUp()
        self.config_path = self.write_config(biotime={"timeout": TIMEOUT, "page_size": 10},
                                             erpnext={"timeout": TIMEOUT, "batch_size": 10})

    def run_bounded(self, until=None, limit=RUN_LIMIT_S):
        """Runs --once. With `until` (a regex), stops it with SIGTERM once its output
        matches; past `limit` seconds it is stopped and marked hung."""
        path = os.path.join(self.tmp, "run-%d.log" % len(self.outputs))
        env = dict(os.environ, BTS_LOG_FORCE_STDERR="1")
        stopped = hung = False
        start = time.time()
        with open(path, "w+") as out:
            p = subprocess.Popen(self.command(["--once"]), stdout=out,
                                 stderr=subprocess.STDOUT, env=env)
            p.log_file = out  # for the harness's secret check (and its kill at tearDown)
            self.daemons.append(p)
            while p.poll() is None:
                if until and re.search(until, self._read(path)):
                    stopped = True
                    break
                if time.time() - start > limit:
                    hung = True
                    break
                time.sleep(0.05)
            seconds = time.time() - start
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
                hung = True
        text = self._read(path)
        self.outputs.append(text)
        return Run(rc, text, seconds, stopped, hung)

    @staticmethod
    def _read(path):
        with open(path, errors="replace") as f:
            return f.read()

    def assert_sane(self, run, what):
        tail = run.output[-4000:]
        self.assertFalse(run.hung, "%s: still running after %ds (or ignored SIGTERM)\n%s"
                         % (what, RUN_LIMIT_S, tail))
        self.assertIn(run.rc, ALLOWED_EXITS, "%s: exit %d\n%s" % (what, run.rc, tail))
        m = SANITIZER.search(run.output)
        self.assertIsNone(m, "%s: sanitizer report\n%s" % (what, run.output[-8000:]))

    def assert_logged(self, output, server, request, problem):
        """One log line names the server, the request and what was wrong."""
        for line in output.splitlines():
            if (server in line and re.search(request, line) and
                    re.search(problem, line, re.I)):
                if SHOW:
                    print("\n  [%s] %s" % (self.id().rsplit(".", 1)[-1], line[:300]),
                          file=sys.stderr)
                return line
        lines = [l for l in output.splitlines() if l.startswith(("<3>", "<4>", "<2>"))]
        self.fail("no log line names %s, /%s/ and /%s/; warnings and errors were:\n%s"
                  % (server, request, problem, "\n".join(l[:400] for l in lines[-15:])))

    def cursor(self):
        path = os.path.join(self.state_dir, "state.json")
        return self.state()["last_id"] if os.path.exists(path) else None


# ---------------------------------------------------------------------------------------


class WholeAnswers(MalformedBase):
    """One generated test per entry of BIOTIME_CASES and ERPNEXT_CASES."""

    def run_case(self, case):
        """Crashes and hangs end the test; every other check is a subTest, so one report
        shows all that is wrong with a case."""
        self.generate(20)
        self.once(timeout=RUN_LIMIT_S)
        before = self.cursor()
        self.assertEqual(before, 20)
        self.generate(20, start="2026-11-10 08:00:00", seed=2)
        sim = self.bt if case.server == BT else self.erp
        sim.post("/__sim/reset_stats", {})
        sim.config(faults=[dict(f, count=-1) for f in case.faults])
        if case.mode == "tolerate":
            return self.tolerate(case, sim)
        run = self.run_bounded(until=r"retrying in", limit=FIRST_FAILURE_S)
        self.assert_sane(run, "with the fault")
        self.assertGreater(sim.get("/__sim/stats")["faults_fired"], 0, "the fault never fired")
        with self.subTest(check="log line"):
            self.assert_logged(run.output, case.server, case.request, case.problem)
        with self.subTest(check="cursor kept"):
            self.assertEqual(self.cursor(), before, "the cursor moved with nothing acknowledged")
        if case.server == BT:
            with self.subTest(check="nothing written"):
                self.assertEqual(len(self.device_logs()), 20, "written from a broken answer")
        if case.mode == "no_ids":
            sim.config(faults=[])
        else:  # once more, in a fresh run that has to get over it by itself
            sim.config(faults=[dict(f, count=1) for f in case.faults])
        run = self.run_bounded()
        self.assert_sane(run, "after the fault")
        with self.subTest(check="delivered once after the fault"):
            self.assertEqual(run.rc, EXIT_OK, run.output[-4000:])
            rows, _ = self.assert_exactly_once()
            self.assertEqual(len(rows), 40)
            self.assertEqual(self.cursor(), 40)

    def tolerate(self, case, sim):
        run = self.run_bounded()
        self.assert_sane(run, "with the fault")
        self.assertGreater(sim.get("/__sim/stats")["faults_fired"], 0, "the fault never fired")
        if case.request:
            with self.subTest(check="log line"):
                self.assert_logged(run.output, case.server, case.request, case.problem)
        with self.subTest(check="BioTime requests"):
            self.assertLess(self.bt.get("/__sim/stats")["transactions_requests"], 100,
                            "BioTime asked too often")
        with self.subTest(check="delivered once despite the fault"):
            self.assertEqual(run.rc, EXIT_OK, run.output[-4000:])
            rows, _ = self.assert_exactly_once()
            self.assertEqual(len(rows), 40)
            self.assertEqual(self.cursor(), 40)
        run = self.run_bounded()  # and again, with the fault still there
        self.assert_sane(run, "a second run with the fault")
        with self.subTest(check="a second run with the fault"):
            self.assertEqual(run.rc, EXIT_OK, run.output[-4000:])
            self.assert_exactly_once()


def _whole(case):
    def test(self):
        self.run_case(case)
    test.__doc__ = "%s answers %s" % (case.server, case.name.replace("_", " "))
    return test


for _case in BIOTIME_CASES:
    setattr(WholeAnswers, "test_biotime_" + _case.name, _whole(_case))
for _case in ERPNEXT_CASES:
    setattr(WholeAnswers, "test_erpnext_" + _case.name, _whole(_case))


# ---------------------------------------------------------------------------------------


def good_row(k):
    """The k-th row of a group (ids start at 1): a valid punch, unique in time."""
    return {"emp_code": str(1001 + k % 20),
            "punch_time": "2026-11-03 %02d:%02d:00" % (6 + k // 60, k % 60)}


class GarbageRows(MalformedBase):
    """One generated test per ROW_GROUPS entry; a subTest per garbage row."""

    def build(self, specs):
        """Good rows with each garbage row between two of them; returns (plan, total)."""
        rows, plan = [], []
        for _ in range(5):
            rows.append(good_row(len(rows)))
        for spec in specs:
            ident = len(rows) + 1
            row = dict(good_row(len(rows)), **spec.stored)
            render = {}
            for key, value in spec.render.items():
                if value == "{id}":
                    value = str(ident)
                elif value == "{prev}":
                    value = ident - 1
                render[key] = value
            row["render"] = render
            rows.append(row)
            plan.append((spec, ident, row))
            rows.append(good_row(len(rows)))
        for _ in range(10):
            rows.append(good_row(len(rows)))
        ids = self.add_punches(rows)
        self.assertEqual(ids, list(range(1, len(rows) + 1)))
        return rows, plan

    def run_group(self, specs):
        rows, plan = self.build(specs)
        garbage = {ident for _, ident, _ in plan}
        run = self.run_bounded(until=r"retrying in|giving up")
        self.assert_sane(run, "garbage rows")
        with self.subTest(check="the run"):
            self.assertFalse(run.stopped, "garbage rows made the run fail and retry:\n%s"
                             % run.output[-4000:])
            self.assertEqual(run.rc, EXIT_OK, run.output[-4000:])
        logs = {l["name"]: l for l in self.device_logs()}
        checkins = {c["name"]: c for c in self.checkins()}
        emps = self.mapped_codes()
        with self.subTest(check="good rows delivered once"):
            for ident, row in enumerate(rows, 1):
                if ident not in garbage:
                    self.check_delivered(logs, checkins, emps, ident, row)
        for spec, ident, row in plan:
            with self.subTest(row=spec.name):
                self.check_row(spec, ident, row, rows, logs, checkins, emps, run.output)
        with self.subTest(check="cursor"):
            self.assertEqual(self.cursor(), len(rows))
        with self.subTest(check="no doubles"):
            used = [l["employee_check_in"] for l in logs.values() if l.get("employee_check_in")]
            self.assertEqual(len(used), len(set(used)), "a checkin named by two Device Logs")
            self.assertEqual(set(used), set(checkins), "checkins without a Device Log")
            self.assertFalse([n for n in logs if "-r" in n], "reused-id Device Logs appeared")
        again = self.run_bounded(until=r"retrying in|giving up")
        with self.subTest(check="a second run changes nothing"):
            self.assert_sane(again, "second run")
            self.assertFalse(again.stopped, again.output[-4000:])
            self.assertEqual(again.rc, EXIT_OK, again.output[-4000:])
            self.assertEqual(sorted(l["name"] for l in self.device_logs()), sorted(logs))
            self.assertEqual(len(self.checkins()), len(checkins))

    def check_delivered(self, logs, checkins, emps, ident, row):
        log = logs.get(str(ident))
        self.assertIsNotNone(log, "no Device Log for BioTime id %d" % ident)
        self.assertEqual(int(log["synced"]), 1, "id %d not synced: %s"
                         % (ident, log.get("sync_error")))
        c = checkins.get(log["employee_check_in"])
        self.assertIsNotNone(c, "id %d names a missing checkin" % ident)
        self.assertEqual(c["employee"], emps[row["emp_code"]]["name"])
        self.assertEqual(c["time"][:19], row["punch_time"])

    def check_row(self, spec, ident, row, rows, logs, checkins, emps, output):
        log = logs.get(str(ident))
        if spec.expect == "deliver":
            self.check_delivered(logs, checkins, emps, ident, row)
        elif spec.expect == "keep":
            self.assertIsNotNone(log, "the row with id %d was dropped" % ident)
            self.assertEqual(int(log["synced"]), 0)
            self.assertFalse(log.get("employee_check_in"))
            self.assertRegex(log.get("sync_error") or "", spec.field)
            self.assert_logged(output, BT, r"transaction %d\b" % ident, spec.field)
        elif spec.expect == "skip":
            self.assertIsNone(log, "a row without a usable id was written as %d" % ident)
            rendered = spec.render.get("id")
            if isinstance(rendered, (int, str)) and not isinstance(rendered, bool):
                self.assertNotIn(str(rendered), logs, "written under its unusable id")
            self.assert_logged(output, BT, PAGE, r"\bid\b")
        elif spec.expect == "either":
            self.assertIsNotNone(log, "the row with id %d was dropped" % ident)
            if int(log["synced"]) == 1:
                c = checkins.get(log["employee_check_in"])
                self.assertIsNotNone(c)
                self.assertIn(c["time"][:19], (row["punch_time"],) + spec.times,
                              "delivered at another time than the punch")
            else:
                self.assertTrue(log.get("sync_error"), "synced = 0 without a reason")
                self.assertFalse(log.get("employee_check_in"))
        elif spec.expect == "dup":
            first = rows[ident - 2]
            self.check_delivered(logs, checkins, emps, ident - 1, first)
            self.assertIsNone(logs.get(str(ident)), "written under its stored id")
            kept = [l for l in logs.values() if l["emp_code"] == row["emp_code"] and
                    l["punch_time"] == row["punch_time"]]
            if not kept:
                self.assert_logged(output, BT, r"\b%d\b" % (ident - 1),
                                   r"duplicate|twice|same id|more than once|again")


def _group(specs):
    def test(self):
        self.run_group(specs)
    return test


for _name, _specs in ROW_GROUPS.items():
    setattr(GarbageRows, "test_rows_" + _name, _group(_specs))


class RowsWithoutId(SyncTest):
    def test_a_row_without_an_id_is_reported_and_counted_once_however_often_it_is_read(self):
        # It has no place in the id order: the page holding the cursor brings it back at
        # every poll, and each poll used to warn and count it as a new rejection.
        self.generate(5)
        self.add_punches([{"emp_code": "1001", "punch_time": "2026-11-05 07:00:00",
                           "render": {"id": "abc"}}])
        p = self.start_daemon()
        self.wait_for(lambda: os.path.exists(os.path.join(self.state_dir, "state.json")) and
                      self.state()["cycles"] >= 4, what="four cycles")
        self.stop_daemon(p)
        self.assertEqual(self.state()["total_rejected"], 1)
        self.assertEqual(self.output_of(p).count('a row\'s id is unusable (id "abc"'), 1)


if __name__ == "__main__":
    main()
