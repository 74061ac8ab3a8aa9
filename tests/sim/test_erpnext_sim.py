#!/usr/bin/env python3
"""Self-test of erpnext_sim.py: starts the simulator on a random port and checks it
behaves like the real Frappe 15 / HRMS 15 site of reference/frappe-transcripts.

Run: python3 -m unittest tests/sim/test_erpnext_sim.py   (or run this file directly)

Besides targeted tests, TranscriptReplayTest replays every recorded request of
/work/shared/reference/frappe-transcripts (when that directory exists; set
FRAPPE_TRANSCRIPTS to point elsewhere) against a fresh simulator set up like the real site
was, and compares status lines, content types, cookies and bodies after masking values
that differ on every run (timestamps, exc ids, random child names, ports).
"""

import atexit
import base64
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "erpnext_sim.py")
TRANSCRIPTS = os.environ.get("FRAPPE_TRANSCRIPTS",
                             "/work/shared/reference/frappe-transcripts")
AUTH = "token test_key:test_secret"


# ---------------------------------------------------------------------------------------
# A tiny raw HTTP client: exact bytes out (duplicate headers allowed), everything back
# ---------------------------------------------------------------------------------------

class Reply:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def header(self, name):
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None

    def headers_named(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    def messages(self):
        """_server_messages decoded twice."""
        return [json.loads(m) for m in json.loads(self.json()["_server_messages"])]


def raw_request(port, method, path, headers=(), body=b"", timeout=30):
    """Send one request exactly as given and read the answer until the server closes."""
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers]
    if body and not any(k.lower() == "content-length" for k, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        return None
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    _, status, reason = lines[0].split(" ", 2)
    hdrs = [tuple(x.split(": ", 1)) for x in lines[1:]]
    return Reply(int(status), reason, hdrs, body.decode("utf-8", "replace"))


class SimProcess:
    """erpnext_sim.py as a subprocess on a random port."""

    def __init__(self, *args):
        self.tmp = tempfile.mkdtemp(prefix="erpnext_sim_test.")
        ready = os.path.join(self.tmp, "ready")
        self.proc = subprocess.Popen([sys.executable, SIM, "--port", "0", "--ready-file", ready,
                                      *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("simulator did not start: " + self.proc.stderr.read().decode())
            time.sleep(0.02)
        with open(ready) as f:
            self.port = int(f.read())
        atexit.register(self.close)       # never leave a simulator behind

    def req(self, method, path, body=None, headers=None, auth=AUTH, host="127.0.0.1",
            ctype="application/json", timeout=30):
        hdrs = [("Host", host)]
        if auth:
            hdrs.append(("Authorization", auth))
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if body is not None and ctype:
            hdrs.append(("Content-Type", ctype))
        hdrs += list(headers or [])
        return raw_request(self.port, method, path, hdrs, body or b"", timeout=timeout)

    def control(self, method, path, payload=None):
        reply = raw_request(self.port, method, path, [("Host", "x")],
                            json.dumps(payload).encode() if payload is not None else b"")
        assert reply.status == 200, reply.body
        return reply.json()

    def config(self, **knobs):
        return self.control("POST", "/__sim/config", knobs)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if not stream.closed:
                stream.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def q(value):
    return urllib.parse.quote(json.dumps(value))


EMPLOYEES = [
    {"name": "HR-EMP-00001", "employee_name": "Aisha Test", "attendance_device_id": "1001",
     "status": "Active", "company": "Test Co"},
    {"name": "HR-EMP-00002", "employee_name": "Bilal Test", "attendance_device_id": "1002",
     "status": "Active", "company": "Test Co"},
    {"name": "HR-EMP-00003", "employee_name": "Carim Test", "attendance_device_id": "1003",
     "status": "Inactive", "company": "Test Co"},
]
# The other two statuses, not on the site the transcripts were recorded on.
LEAVERS = [
    {"name": "HR-EMP-00004", "employee_name": "Dana Test", "attendance_device_id": "1004",
     "status": "Left", "company": "Test Co"},
    {"name": "HR-EMP-00005", "employee_name": "Emad Test", "attendance_device_id": "1005",
     "status": "Suspended", "company": "Test Co"},
]
CHECKIN = "/api/resource/Employee%20Checkin"
DEVICE_LOG = "/api/resource/BioTime%20Device%20Log"
INSERT_MANY = "/api/method/frappe.client.insert_many"
ADD_LOG = ("/api/method/hrms.hr.doctype.employee_checkin.employee_checkin."
           "add_log_based_on_employee_field")


# ---------------------------------------------------------------------------------------
# Transcript replay
# ---------------------------------------------------------------------------------------

def parse_transcript(path):
    """(recorded-at, request, response) pairs of one transcript file."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    stamp = re.search(r"# recorded (\S+)", text)
    pairs = []
    for block in text.split(">>> REQUEST\n")[1:]:
        req_text, _, resp_text = block.partition("<<< RESPONSE")
        req_head, _, req_body = req_text.partition("\n\n")
        req_lines = req_head.split("\n")
        method, target, _ = req_lines[0].split(" ")
        headers = [tuple(line.split(": ", 1)) for line in req_lines[1:] if line]
        resp_text = resp_text.split("\n", 1)[1]
        resp_head, _, resp_body = resp_text.partition("\n\n")
        resp_body = resp_body.split("\n\n--- ")[0].rstrip("\n")
        resp_lines = resp_head.split("\n")
        _, status, reason = resp_lines[0].split(" ", 2)
        resp_headers = [tuple(line.split(": ", 1)) for line in resp_lines[1:] if line]
        pairs.append((stamp.group(1) if stamp else "", {
            "method": method, "target": target, "headers": headers,
            "body": req_body.rstrip("\n")},
            {"status": int(status), "reason": reason, "headers": resp_headers, "body": resp_body}))
    return pairs


MASKS = [
    (re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}"), "<TS>"),
    (re.compile(r"__frappe_exc_id\\+\": \\+\"[0-9a-f]{56}"), "__frappe_exc_id: <ID>"),
    (re.compile(r"`_[0-9a-f]{16}`"), "`<DB>`"),
    (re.compile(r"erp\.localhost:\d+"), "erp.localhost:<PORT>"),
    (re.compile(r'"name":"[0-9a-z]{10}","creation"'), '"name":"<CHILD>","creation"'),
]


def mask(text):
    for rx, repl in MASKS:
        text = rx.sub(repl, text)
    return text


def cookie_names(headers):
    return [v.split("=", 1)[0] + ("=" if "Expires=" not in v or "Max-Age" in v else "=<gone>")
            for k, v in headers if k.lower() == "set-cookie"]


# Recorded with other state than the replay can reproduce (another user's key).
SKIP_REPLAY = {"16-sync-user-logged-user.txt"}


class TranscriptReplayTest(unittest.TestCase):
    """Replays the real site's transcripts in recording order and compares answers."""

    @classmethod
    def setUpClass(cls):
        files = sorted(glob.glob(os.path.join(TRANSCRIPTS, "[0-9]*.txt")))
        if not files:
            raise unittest.SkipTest(f"no transcripts in {TRANSCRIPTS}")
        cls.exchanges = []
        for path in files:
            if os.path.basename(path) in SKIP_REPLAY:
                continue
            for stamp, req, resp in parse_transcript(path):
                cls.exchanges.append((stamp, os.path.basename(path), req, resp))
        cls.exchanges.sort(key=lambda e: (e[0], e[1]))
        cls.sim = SimProcess("--site", "erp.localhost", "--api-key", "4a1053f024bd1b8",
                             "--api-secret", "c1812e71c2826ec", "--api-user", "Administrator")
        cls.sim.config(doctypes_present=False, now="2026-11-25 19:41:00")
        cls.sim.control("POST", "/__sim/employees", {"employees": EMPLOYEES})
        cls.sim.control("POST", "/__sim/shift_types", {"shift_types": [{
            "name": "Day Shift", "process_attendance_after": "2026-11-25",
            "owner": "Administrator", "modified_by": "Administrator"}]})
        cls.sim.control("POST", "/__sim/docs", {"doctype": "Employee Checkin", "docs": [{
            "employee": "HR-EMP-00001", "employee_name": "Aisha Test", "log_type": "IN",
            "time": "2026-11-25 08:01:00", "device_id": "BT-DEV-A", "offshift": 1}]})

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def _before(self, name):
        """State changes the real site saw between recordings."""
        if name.startswith("17-"):   # the timing run inserted 800 checkins (000014..000813)
            docs = [{"employee": "HR-EMP-00001", "time": f"2030-01-01 00:{i // 60:02d}:{i % 60:02d}",
                     "log_type": "IN"} for i in range(800)]
            self.sim.control("POST", "/__sim/docs", {"doctype": "Employee Checkin", "docs": docs})

    def test_replay(self):
        failures = []
        seen = set()
        for stamp, name, req, expected in self.exchanges:
            if name not in seen:
                self._before(name)
                seen.add(name)
            got = raw_request(self.sim.port, req["method"], req["target"], req["headers"],
                              req["body"].encode())
            problem = self._compare(expected, got)
            if problem:
                failures.append(f"{name}: {problem}")
        self.assertEqual(failures, [], "\n\n".join(failures))

    def _compare(self, expected, got):
        if got is None:
            return "no answer"
        if (got.status, got.reason) != (expected["status"], expected["reason"]):
            return f"status {got.status} {got.reason} != {expected['status']} {expected['reason']}"
        exp_h = dict((k.lower(), v) for k, v in expected["headers"])
        if got.header("Content-Type") != exp_h.get("content-type"):
            return f"content-type {got.header('Content-Type')} != {exp_h.get('content-type')}"
        if got.header("Connection") != "close" or got.header("Server") != "gunicorn":
            return "Connection/Server headers"
        if cookie_names(got.headers) != cookie_names(expected["headers"]):
            return f"cookies {cookie_names(got.headers)} != {cookie_names(expected['headers'])}"
        if mask(got.body) != mask(expected["body"]):
            return f"body\n  got:      {mask(got.body)}\n  expected: {mask(expected['body'])}"
        return None

    def test_00_site_resolution_body_is_werkzeugs(self):
        """Transcript 00: an unknown site is werkzeug's 404 HTML, byte for byte."""
        got = self.sim.req("GET", "/api/method/ping", host=f"127.0.0.1:{self.sim.port}", auth=None)
        self.assertEqual((got.status, got.reason), (404, "NOT FOUND"))
        self.assertEqual(got.header("Content-Type"), "text/html; charset=utf-8")
        self.assertEqual(got.body, "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n"
                                   "<h1>Not Found</h1>\n<p>127.0.0.1 does not exist</p>\n")
        self.assertEqual(got.header("Content-Length"), "111")
        self.assertEqual(got.headers_named("Set-Cookie"), [])


# ---------------------------------------------------------------------------------------
# Behaviour
# ---------------------------------------------------------------------------------------

class SimTestCase(unittest.TestCase):
    """One simulator per class, reset before every test."""

    args = ()

    @classmethod
    def setUpClass(cls):
        cls.sim = SimProcess(*cls.args)

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def setUp(self):
        self.sim.control("POST", "/__sim/reset")
        self.sim.control("POST", "/__sim/employees", {"employees": EMPLOYEES})

    def post(self, path, body, **kw):
        return self.sim.req("POST", path, body, **kw)

    def get(self, path, **kw):
        return self.sim.req("GET", path, **kw)

    def checkin(self, employee="HR-EMP-00001", time_="2026-11-25 08:02:00", log_type="IN", **kw):
        doc = {"employee": employee, "time": time_, "device_id": "BT-DEV-A", **kw}
        if log_type is not None:
            doc["log_type"] = log_type
        return self.post(CHECKIN, doc)

    def docs(self, doctype):
        return self.sim.control("GET", "/__sim/docs?doctype=" + urllib.parse.quote(doctype))["docs"]

    def assertFrappeError(self, reply, status, exc_type, text=None):
        self.assertEqual(reply.status, status, reply.body[:400])
        body = reply.json()
        self.assertEqual(body["exc_type"], exc_type)
        if text is not None:
            self.assertIn(text, reply.body)
        return body


class SiteAndAuthTest(SimTestCase):

    def test_unknown_site_is_404_html(self):
        got = self.get("/api/method/ping", host="erp.localhost:8000", auth=None)
        self.assertEqual((got.status, got.reason), (404, "NOT FOUND"))
        self.assertIn("<p>erp.localhost does not exist</p>", got.body)
        self.assertEqual(got.header("Connection"), "close")
        ok = self.get("/api/method/ping", host="other", auth=None,
                      headers=[("X-Frappe-Site-Name", "127.0.0.1")])
        self.assertEqual((ok.status, ok.json()), (200, {"message": "pong"}))
        self.assertEqual(len(ok.headers_named("Set-Cookie")), 5)

    def test_token_and_basic_auth(self):
        me = self.get("/api/method/frappe.auth.get_logged_user")
        self.assertEqual(me.json(), {"message": "sync@example.com"})
        basic = "Basic " + base64.b64encode(b"test_key:test_secret").decode()
        self.assertEqual(self.get("/api/method/frappe.auth.get_logged_user", auth=basic).status, 200)
        for auth in ("token test_key:wrong", "token nokey:test_secret", "token garbage",
                     "Basic !!!", "Bearer abc"):
            got = self.get("/api/resource/Employee", auth=auth)
            body = self.assertFrappeError(got, 401, "AuthenticationError")
            self.assertEqual(body["exception"], "frappe.exceptions.AuthenticationError")
            self.assertNotIn("_server_messages", body)
            self.assertEqual(len(got.headers_named("Set-Cookie")), 10, auth)
        user = "/api/resource/User/sync@example.com"
        self.assertFrappeError(self.get(user), 403, "PermissionError")
        self.sim.config(api_user_roles=["System Manager", "HR User"])
        roles = [r["role"] for r in self.get(user).json()["data"]["roles"]]
        self.assertEqual(roles, ["System Manager", "HR User"])
        bad_padding = self.get("/api/resource/Employee", auth="Basic a")
        self.assertFrappeError(bad_padding, 400, "InvalidAuthorizationToken")

    def test_no_auth(self):
        got = self.post(ADD_LOG, {"employee_field_value": "1001", "timestamp": "2026-11-25 08:09:00"},
                        auth=None)
        self.assertFrappeError(got, 403, "PermissionError",
                               "Function <strong>hrms.hr.doctype.employee_checkin.employee_checkin."
                               "add_log_based_on_employee_field</strong> is not whitelisted.")
        self.assertEqual(got.messages()[0]["title"], "Method Not Allowed")
        got = self.get(CHECKIN, auth=None)
        body = self.assertFrappeError(got, 403, "PermissionError")
        self.assertEqual(body["_error_message"], "No permission for Employee Checkin")
        got = self.sim.req("POST", CHECKIN, {"employee": "HR-EMP-00001"}, auth=None)
        self.assertIn("You need the 'create' permission", got.json()["_error_message"])


class CheckinTest(SimTestCase):

    def test_insert_and_duplicate(self):
        first = self.checkin()
        self.assertEqual(first.status, 200, first.body)
        doc = first.json()["data"]
        self.assertRegex(doc["name"], r"^EMP-CKIN-\d{2}-\d{4}-000001$")
        self.assertEqual((doc["employee_name"], doc["time"], doc["offshift"], doc["latitude"]),
                         ("Aisha Test", "2026-11-25 08:02:00", 1, 0.0))
        self.assertRegex(doc["creation"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
        dup = self.checkin()
        body = self.assertFrappeError(dup, 417, "ValidationError",
                                      "This employee already has a log with the same timestamp.")
        self.assertEqual(body["_exc_source"], "hrms (app)")
        link = (f'<Br><a href="/app/Form/Employee Checkin/{doc["name"]}" '
                'style="font-weight: bold;">Employee Checkin Aisha Test</a>')
        self.assertTrue(dup.messages()[0]["message"].endswith(link))
        self.assertEqual(self.checkin(log_type="OUT").status, 200)     # other log_type: fine
        self.assertEqual(self.checkin(time_="2026-11-25 12:00:00", log_type=None).status, 200)
        again = self.checkin(time_="2026-11-25 12:00:00", log_type=None)
        self.assertFrappeError(again, 417, "ValidationError", "already has a log")
        self.assertEqual(self.docs("Employee Checkin")[-1]["log_type"], "")

    def test_unknown_employee_accepted_inactive_refused(self):
        got = self.checkin(employee="HR-EMP-99999")
        self.assertEqual(got.status, 200)
        self.assertNotIn("employee_name", got.json()["data"])
        bad = self.checkin(employee="HR-EMP-00003")
        link = (f'<a href="http://127.0.0.1:{self.sim.port}/app/employee/HR-EMP-00003">'
                'HR-EMP-00003</a>')
        self.assertFrappeError(bad, 417, "InactiveEmployeeStatusError")
        self.assertEqual(bad.messages()[0]["message"],
                         f"Transactions cannot be created for an Inactive Employee {link}.")
        self.assertEqual(bad.json()["exception"].split(":")[0],
                         "erpnext.setup.doctype.employee.employee.InactiveEmployeeStatusError")

    def test_left_and_suspended_employees_get_checkins_every_way(self):
        """HRMS refuses only Inactive: a leaver's and a suspended employee's checkins are
        created by a single insert, insert_many and add_log_based_on_employee_field."""
        self.sim.control("POST", "/__sim/employees", {"employees": LEAVERS})
        for n, emp in enumerate(("HR-EMP-00004", "HR-EMP-00005")):
            one = self.checkin(employee=emp, time_="2026-11-25 08:0%d:00" % n)
            self.assertEqual(one.status, 200, one.body[:300])
            many = self.post(INSERT_MANY, {"docs": [
                {"doctype": "Employee Checkin", "employee": emp, "log_type": "OUT",
                 "time": "2026-11-25 17:0%d:00" % n}]})
            self.assertEqual(many.status, 200, many.body[:300])
        for code in ("1004", "1005"):
            got = self.post(ADD_LOG, {"employee_field_value": code, "log_type": "IN",
                                      "timestamp": "2026-11-26 08:00:00"})
            self.assertEqual(got.status, 200, got.body[:300])
        stored = [c["employee"] for c in self.docs("Employee Checkin")]
        self.assertEqual(sorted(stored), ["HR-EMP-00004"] * 3 + ["HR-EMP-00005"] * 3)

    def test_time_formats_and_log_type(self):
        iso = self.checkin(time_="2026-11-25T17:00:00+03:00")
        self.assertFrappeError(iso, 500, "OperationalError",
                               "Incorrect datetime value: '2026-11-25 17:00:00+03:00' for column")
        self.assertNotIn("_server_messages", iso.json())
        cases = {"2026-11-25T17:00:00.123456": "2026-11-25 17:00:00",
                 "25/11/2026 09:00": "2026-11-25 09:00:00",
                 "05/09/2046 10:00": "2046-05-09 10:00:00"}
        for sent, stored in cases.items():
            got = self.checkin(time_=sent)
            self.assertEqual(got.json()["data"]["time"], stored, sent)
        self.assertFrappeError(self.checkin(time_="not-a-date"), 500, "ParserError")
        bad = self.checkin(log_type="BREAK", time_="2026-11-25 18:00:00")
        self.assertEqual(bad.messages()[0]["message"],
                         ' Log Type cannot be "BREAK". It should be one of "", "IN", "OUT"')
        missing = self.post(CHECKIN, {"time": "2026-11-25 18:00:00"})
        self.assertFrappeError(missing, 417, "MandatoryError")
        self.assertEqual(missing.messages(), [{"message": "Error: Value missing for Employee "
                                                          "Checkin: Employee", "title": "Message"}])

    def test_permission_level_trap(self):
        self.sim.config(api_user_roles=["Blogger"])
        got = self.checkin(time_="2020-01-01 08:00:00")
        self.assertEqual(got.status, 200)
        self.assertNotEqual(got.json()["data"]["time"], "2020-01-01 08:00:00")
        self.assertRegex(got.json()["data"]["time"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        many = self.post(INSERT_MANY, {"docs": [{"doctype": "Employee Checkin",
                                                 "employee": "HR-EMP-00002", "log_type": "IN",
                                                 "time": "2020-01-01 08:00:00"}]})
        self.assertEqual(many.status, 200)
        listed = self.get(CHECKIN + "?fields=" + q(["name", "time"]))
        self.assertTrue(listed.json()["data"])
        self.assertTrue(all(set(row) == {"name"} for row in listed.json()["data"]))
        self.assertTrue(all(d["time"] != "2020-01-01 08:00:00" for d in self.docs("Employee Checkin")))
        self.sim.config(api_user_roles=["HR Manager"])
        self.assertEqual(self.checkin(time_="2020-01-01 08:00:00").json()["data"]["time"],
                         "2020-01-01 08:00:00")

    def test_geolocation(self):
        self.sim.config(geolocation_tracking=True)
        hr = self.get("/api/resource/HR%20Settings/HR%20Settings").json()["data"]
        self.assertEqual(hr["allow_geolocation_tracking"], 1)
        self.assertFrappeError(self.checkin(), 417, "ValidationError",
                               "Latitude and longitude values are required for checking in.")
        got = self.checkin(latitude=24.7, longitude=46.6)
        self.assertEqual(got.status, 200)
        self.assertIn("FeatureCollection", got.json()["data"]["geolocation"])

    def test_geolocation_refuses_only_when_both_coordinates_are_falsy(self):
        """HRMS: the point needs both; the refusal needs neither (frappe-api.md 7.2)."""
        self.sim.config(geolocation_tracking=True)
        self.assertFrappeError(self.checkin(latitude=0, longitude=0), 417, "ValidationError",
                               "Latitude and longitude values are required for checking in.")
        equator = self.checkin(time_="2026-11-25 09:00:00", latitude=0, longitude=46.6753)
        self.assertEqual(equator.status, 200)
        self.assertIsNone(equator.json()["data"].get("geolocation"))
        stored = self.checkin(time_="2026-11-25 10:00:00", latitude=24.7136, longitude=46.6753)
        data = stored.json()["data"]
        self.assertEqual((data["latitude"], data["longitude"]), (24.7136, 46.6753))
        point = json.loads(data["geolocation"])["features"][0]["geometry"]
        self.assertEqual(point, {"type": "Point", "coordinates": [46.6753, 24.7136]})
        self.sim.config(geolocation_tracking=False)
        off = self.checkin(time_="2026-11-25 11:00:00", latitude=24.7136, longitude=46.6753)
        self.assertEqual(off.json()["data"]["latitude"], 24.7136)
        self.assertIsNone(off.json()["data"].get("geolocation"))

    def test_add_log_based_on_employee_field(self):
        ok = self.post(ADD_LOG, {"employee_field_value": "1002", "timestamp": "2026-11-25 08:05:00",
                                 "device_id": "BT-DEV-A", "log_type": "IN"})
        self.assertEqual(ok.json()["message"]["employee"], "HR-EMP-00002")
        missing = self.post(ADD_LOG, {"employee_field_value": "9999",
                                      "timestamp": "2026-11-25 08:06:00"})
        self.assertFrappeError(missing, 417, "ValidationError", "No Employee found for the given "
                               "employee field value. 'attendance_device_id': 9999")
        no_ts = self.post(ADD_LOG, {"employee_field_value": "1001"})
        self.assertFrappeError(no_ts, 500, "TypeError", "missing 1 required positional argument: "
                               "'timestamp'")
        by_get = self.get(ADD_LOG + "?employee_field_value=1001&timestamp=2026-11-25%2010:00:00")
        self.assertEqual(by_get.status, 200)           # GET never commits
        self.assertEqual(len(self.docs("Employee Checkin")), 1)


class BatchAndDocTypeTest(SimTestCase):

    def test_insert_many_all_or_nothing(self):
        docs = [{"doctype": "Employee Checkin", "employee": e, "log_type": "IN",
                 "time": f"2026-11-27 08:0{i}:00"} for i, e in
                enumerate(["HR-EMP-00001", "HR-EMP-00003", "HR-EMP-00002"])]
        bad = self.post(INSERT_MANY, {"docs": docs})
        self.assertFrappeError(bad, 417, "InactiveEmployeeStatusError")
        self.assertEqual(self.docs("Employee Checkin"), [])
        good = self.post(INSERT_MANY, {"docs": [docs[0], docs[2]]})
        self.assertEqual(good.status, 200)
        names = good.json()["message"]
        self.assertTrue(names[0].endswith("-000001") and names[1].endswith("-000002"), names)
        in_batch_dup = self.post(INSERT_MANY, {"docs": [dict(docs[0], time="2026-11-28 08:00:00")] * 2})
        self.assertFrappeError(in_batch_dup, 417, "ValidationError", "already has a log")
        self.assertEqual(len(self.docs("Employee Checkin")), 2)
        too_many = self.post(INSERT_MANY, {"docs": [docs[0]] * 201})
        self.assertFrappeError(too_many, 417, "ValidationError", "Only 200 inserts allowed in one request")
        as_string = self.post(INSERT_MANY, "docs=" + urllib.parse.quote(json.dumps(
            [{"doctype": "BioTime Device Log", "id": "BT-0201", "emp_code": "1003"}])),
            ctype="application/x-www-form-urlencoded")
        self.assertEqual(as_string.json(), {"message": ["BT-0201"]})
        by_get = self.get(INSERT_MANY + "?docs=%5B%5D")
        self.assertFrappeError(by_get, 403, "PermissionError", "Not permitted")

    def test_device_log(self):
        doc = {"id": "BT-0001", "emp_code": "1001", "punch_time": "2026-11-25 08:01:00",
               "punch_state": 0, "terminal_sn": "CKXX000001", "employee_id_on_system": "HR-EMP-00001",
               "not_a_field": "x", "synced": 1}
        got = self.post(DEVICE_LOG, doc)
        self.assertEqual(got.status, 200, got.body)
        data = got.json()["data"]
        self.assertEqual((data["name"], data["punch_state"], data["synced"]), ("BT-0001", 0, 1))
        self.assertNotIn("not_a_field", data)
        self.assertEqual(self.get(DEVICE_LOG + "/BT-0001").json()["data"]["punch_state"], "0")
        dup = self.post(DEVICE_LOG, doc)
        body = self.assertFrappeError(dup, 409, "DuplicateEntryError")
        self.assertIn("Duplicate entry 'BT-0001' for key 'PRIMARY'", body["exception"])
        self.assertEqual(dup.messages(), [{"message": "BioTime Device Log <strong>BT-0001</strong> "
                                                      "already exists", "title": "Duplicate Name",
                                           "indicator": "red"}])
        link = self.post(DEVICE_LOG, dict(doc, id="BT-2", employee_id_on_system="HR-EMP-99999"))
        self.assertFrappeError(link, 417, "LinkValidationError",
                               "Could not find Employee Id on System: HR-EMP-99999")
        self.assertEqual(self.post(DEVICE_LOG, dict(doc, id="BT-3", employee_id_on_system="")).status, 200)
        no_id = self.post(DEVICE_LOG, {"emp_code": "1001"})
        self.assertFrappeError(no_id, 417, "ValidationError", "id is required")
        batch = self.post(INSERT_MANY, {"docs": [
            {"doctype": "BioTime Device Log", "id": "BT-0101"},
            {"doctype": "BioTime Device Log", "id": "BT-0001"}]})
        self.assertFrappeError(batch, 409, "DuplicateEntryError")
        self.assertEqual(sorted(d["name"] for d in self.docs("BioTime Device Log")), ["BT-0001", "BT-3"])
        updated = self.sim.req("PUT", DEVICE_LOG + "/BT-0001", {"synced": 0, "sync_error": "x"})
        self.assertEqual((updated.status, updated.json()["data"]["sync_error"]), (200, "x"))

    def test_sync_logs_share_one_counter(self):
        names = [self.post("/api/resource/Sync%20Logs", {"title": t, "response": "r"}).json()["data"]["name"]
                 for t in ("Sync Success", "Sync Error", "Sync Success")]
        self.assertEqual(names, ["Sync Success-0001", "Sync Error-0002", "Sync Success-0003"])

    def test_doctype_create_and_exists(self):
        self.sim.config(doctypes_present=False)
        missing = self.get("/api/resource/DocType/BioTime%20Device%20Log")
        self.assertEqual(missing.status, 404)
        self.assertEqual(set(missing.json()), {"exc_type", "_server_messages"})
        self.assertEqual(missing.messages()[0]["message"], "DocType BioTime Device Log not found")
        self.assertFrappeError(self.post(DEVICE_LOG, {"id": "1"}), 500, "ImportError",
                               "Module import failed for BioTime Device Log")
        spec = {"name": "BioTime Device Log", "module": "HR", "custom": 1, "autoname": "field:id",
                "fields": [{"fieldname": "id", "label": "BioTime ID", "fieldtype": "Data", "reqd": 1},
                           {"fieldname": "emp_code", "label": "Emp Code", "fieldtype": "Data"}],
                "permissions": [{"role": "System Manager", "read": 1, "write": 1, "create": 1}]}
        made = self.post("/api/resource/DocType", spec)
        self.assertEqual(made.status, 200, made.body)
        self.assertEqual(made.json()["data"]["fields"][0]["unique"], 1)
        self.assertFrappeError(self.post("/api/resource/DocType", spec), 409, "DuplicateEntryError")
        self.assertEqual(self.get("/api/resource/DocType/BioTime%20Device%20Log").status, 200)
        got = self.post(DEVICE_LOG, {"id": "BT-1", "emp_code": "7", "punch_time": "x"})
        self.assertEqual(got.json()["data"], {**got.json()["data"], "id": "BT-1", "emp_code": "7"})
        self.assertNotIn("punch_time", got.json()["data"])
        self.assertFrappeError(self.post(DEVICE_LOG, {"emp_code": "1"}), 417, "ValidationError",
                               "BioTime ID is required")
        standard = self.post("/api/resource/DocType", dict(spec, name="Other", custom=0))
        self.assertFrappeError(standard, 417, "CannotCreateStandardDoctypeError", "Not in Developer Mode")
        field = self.post("/api/resource/Custom%20Field", {"dt": "BioTime Device Log",
                                                          "label": "Sync Error", "fieldtype": "Small Text"})
        self.assertEqual(field.json()["data"]["name"], "BioTime Device Log-custom_sync_error")
        self.assertFrappeError(self.post("/api/resource/Custom%20Field", {
            "dt": "BioTime Device Log", "label": "Sync Error"}), 417, "ValidationError", "already exists")
        self.assertEqual(self.post(DEVICE_LOG, {"id": "BT-9", "custom_sync_error": "e"}).json()[
            "data"]["custom_sync_error"], "e")

    def test_shift_type_put(self):
        self.sim.control("POST", "/__sim/shift_types", {"shift_types": [{"name": "Day Shift"}]})
        path = "/api/resource/Shift%20Type/Day%20Shift"
        put = self.sim.req("PUT", path, {"last_sync_of_checkin": "2026-11-25 08:10:00"})
        data = put.json()["data"]
        self.assertEqual((put.status, data["last_sync_of_checkin"], data["start_time"]),
                         (200, "2026-11-25 08:10:00", "9:00:00"))
        listed = self.get("/api/resource/Shift%20Type?fields=" + q(["name", "last_sync_of_checkin",
                                                                    "enable_auto_attendance"]))
        self.assertEqual(listed.json(), {"data": [{"name": "Day Shift", "enable_auto_attendance": 0,
                                                   "last_sync_of_checkin": "2026-11-25 08:10:00"}]})
        bad = self.sim.req("PUT", path, {"last_sync_of_checkin": "not-a-date"})
        self.assertFrappeError(bad, 500, "OperationalError", "Incorrect datetime value: 'not-a-date'")
        gone = self.sim.req("PUT", "/api/resource/Shift%20Type/No%20Such", {"x": 1})
        self.assertEqual((gone.status, set(gone.json())), (404, {"exc_type", "_server_messages"}))

    def test_delete_and_v2(self):
        name = self.checkin().json()["data"]["name"]
        gone = self.sim.req("DELETE", CHECKIN + "/" + name)
        self.assertEqual((gone.status, gone.json()), (202, {"data": "ok"}))
        again = self.sim.req("DELETE", CHECKIN + "/" + name)
        self.assertEqual((again.status, again.json()), (404, {"exc_type": "DoesNotExistError"}))
        v2 = "/api/v2/document/Employee%20Checkin"
        self.assertEqual(self.post(v2, {"employee": "HR-EMP-00002", "time": "2026-11-28 08:00:00"}).status, 200)
        dup = self.post(v2, {"employee": "HR-EMP-00002", "time": "2026-11-28 08:00:00"})
        error = dup.json()["errors"][0]
        self.assertEqual((dup.status, error["type"], error["title"]), (417, "ValidationError", "Message"))
        self.assertIn("already has a log", error["message"])


class ListTest(SimTestCase):

    def setUp(self):
        super().setUp()
        for i in range(25):
            self.checkin(employee=EMPLOYEES[i % 2]["name"], time_=f"2026-11-25 08:{i:02d}:00")

    def test_fields_filters_order_limits(self):
        default = self.get(CHECKIN).json()["data"]
        self.assertEqual(len(default), 20)
        self.assertEqual(set(default[0]), {"name"})
        all_rows = self.get(CHECKIN + "?limit_page_length=0").json()["data"]
        self.assertEqual(len(all_rows), 25)
        rows = self.get(CHECKIN + "?fields=" + q(["name", "employee", "time"]) + "&filters="
                        + q([["employee", "=", "HR-EMP-00002"], ["time", ">=", "2026-11-25 08:10:00"]])
                        + "&order_by=time%20desc&limit_page_length=3&limit_start=1").json()["data"]
        self.assertEqual([r["time"] for r in rows], ["2026-11-25 08:21:00", "2026-11-25 08:19:00",
                                                     "2026-11-25 08:17:00"])
        emp = self.get("/api/resource/Employee?filters=" + q({"attendance_device_id": "1003"})
                       + "&fields=" + q(["name", "status"])).json()
        self.assertEqual(emp, {"data": [{"name": "HR-EMP-00003", "status": "Inactive"}]})
        in_filter = self.get("/api/resource/Employee?filters=" + q([["attendance_device_id", "in",
                                                                    ["1001", "1003"]]])).json()
        self.assertEqual([r["name"] for r in in_filter["data"]], ["HR-EMP-00001", "HR-EMP-00003"])
        is_set = self.get("/api/resource/Employee?filters=" + q([["attendance_device_id", "is", "set"]])
                          + "&limit_page_length=0").json()["data"]
        self.assertEqual(len(is_set), 3)
        like = self.get("/api/resource/Employee?filters=" + q([["employee_name", "like", "%test"]])
                        + "&limit_page_length=0").json()["data"]
        self.assertEqual(len(like), 3)
        bad = self.get("/api/resource/Employee?fields=" + q(["name", "no_such_field"]))
        self.assertFrappeError(bad, 417, "DataError", "Field not permitted in query: no_such_field")
        bad_filter = self.get("/api/resource/Employee?filters=" + q([["nope", "=", 1]]))
        self.assertFrappeError(bad_filter, 417, "DataError")
        bad_json = self.get("/api/resource/Employee?fields=name,status")
        self.assertFrappeError(bad_json, 500, "JSONDecodeError")
        count = self.get("/api/method/frappe.client.get_count?doctype=Employee%20Checkin&filters="
                         + q({"employee": "HR-EMP-00001"}))
        self.assertEqual(count.json(), {"message": 13})
        method = self.post("/api/method/frappe.client.get_list",
                           {"doctype": "Employee", "fields": ["name"], "filters": {"status": "Active"}})
        self.assertEqual(len(method.json()["message"]), 2)


class ControlAndFaultTest(SimTestCase):

    def test_planted_checkin_is_a_duplicate(self):
        planted = self.sim.control("POST", "/__sim/docs", {"doctype": "Employee Checkin", "docs": [
            {"employee": "HR-EMP-00001", "time": "2026-11-25 08:02:00", "log_type": "IN"}]})
        name = planted["names"][0]
        dup = self.checkin()
        self.assertIn(f"/app/Form/Employee Checkin/{name}", dup.messages()[0]["message"])
        self.sim.control("POST", "/__sim/delete_docs", {"doctype": "Employee Checkin", "names": [name]})
        self.assertEqual(self.checkin().status, 200)
        stats = self.sim.control("GET", "/__sim/stats")
        self.assertEqual(stats["docs"]["Employee Checkin"], 1)
        self.assertEqual(stats["requests"]["POST /api/resource/Employee Checkin"], 2)
        self.sim.control("POST", "/__sim/reset_stats")
        self.assertEqual(self.sim.control("GET", "/__sim/stats")["total_requests"], 0)

    def test_status_faults(self):
        self.sim.config(faults=[{"path": CHECKIN.replace("%20", " "), "kind": "status", "status": 500,
                                 "count": 1}])
        err = self.checkin()
        self.assertFrappeError(err, 500, "QueryDeadlockError", "Deadlock found")
        self.assertEqual(self.checkin().status, 200)
        self.sim.config(faults=[{"path": "/api/method/", "kind": "status", "status": 429,
                                 "retry_after": 7}])
        limited = self.get("/api/method/ping")
        self.assertFrappeError(limited, 429, "TooManyRequestsError")
        self.assertEqual(limited.header("Retry-After"), "7")
        self.sim.config(faults=[{"path": "/api/", "kind": "status", "status": 502, "skip": 1}])
        self.assertEqual(self.get("/api/method/ping").status, 200)
        gateway = self.get("/api/method/ping")
        self.assertEqual((gateway.status, gateway.header("Server")), (502, "nginx/1.22.1"))
        self.assertIn("<center><h1>502 Bad Gateway</h1></center>", gateway.body)

    def test_connection_faults(self):
        self.sim.config(faults=[{"path": "/api/resource/", "method": "POST", "kind": "drop", "count": 1}])
        self.assertIsNone(self.checkin())
        self.assertEqual(self.docs("Employee Checkin"), [])
        self.sim.config(faults=[{"path": "/api/resource/", "kind": "drop_after_commit", "count": 1}])
        self.assertIsNone(self.checkin())
        self.assertEqual(len(self.docs("Employee Checkin")), 1)
        self.assertEqual(self.checkin().status, 417)      # the retry finds the committed row
        self.sim.config(faults=[{"path": "/api/resource/", "kind": "truncate", "count": 1}])
        cut = self.checkin(log_type="OUT")
        self.assertLess(len(cut.body), int(cut.header("Content-Length")))
        self.assertEqual(len(self.docs("Employee Checkin")), 2)
        self.sim.config(faults=[{"path": "/api/method/ping", "kind": "timeout", "seconds": 0.3}])
        start = time.time()
        self.assertEqual(self.get("/api/method/ping").status, 200)
        self.assertGreaterEqual(time.time() - start, 0.3)
        self.sim.config(faults=[{"path": "/api/", "kind": "html"}])
        page = self.get("/api/method/ping")
        self.assertEqual((page.status, page.header("Content-Type")), (200, "text/html; charset=utf-8"))
        self.assertEqual(self.sim.control("GET", "/__sim/config")["faults"][0]["fired"], 1)

    def test_chance_faults_hit_their_share_replay_with_a_seed_and_burst_on_the_clock(self):
        def run(seed):
            self.sim.config(fault_seed=seed, faults=[
                {"path": "/api/", "kind": "status", "status": 500, "probability": 0.3}])
            return [self.get("/api/method/ping").status for _ in range(200)]
        first = run(7)
        self.assertEqual(first, run(7))                 # the same seed, the same storm
        self.assertTrue(40 <= first.count(500) <= 80, first.count(500))
        self.assertEqual(set(first), {200, 500})
        self.sim.config(faults=[{"path": "/api/", "kind": "status", "status": 429,
                                 "retry_after": 1, "burst": {"every": 1.0, "for": 0.4}}])
        seen = set()
        for _ in range(12):                             # 1.2 s: both phases of the period
            seen.add(self.get("/api/method/ping").status)
            time.sleep(0.1)
        self.assertEqual(seen, {200, 429})
        with self.assertRaises(Exception):
            self.sim.config(faults=[{"kind": "drop", "probability": 2}])

    def test_reject_doc(self):
        self.sim.config(faults=[{"kind": "reject_doc", "match": {"employee": "HR-EMP-00002"},
                                 "message": "Simulated permanent refusal"}])
        self.assertEqual(self.checkin().status, 200)
        refused = self.checkin(employee="HR-EMP-00002")
        self.assertFrappeError(refused, 417, "ValidationError", "Simulated permanent refusal")
        batch = self.post(INSERT_MANY, {"docs": [
            {"doctype": "Employee Checkin", "employee": "HR-EMP-00001", "time": "2026-11-26 08:00:00"},
            {"doctype": "Employee Checkin", "employee": "HR-EMP-00002", "time": "2026-11-26 08:00:00"}]})
        self.assertEqual(batch.status, 417)
        self.assertEqual(len(self.docs("Employee Checkin")), 1)

    def test_workers_limit(self):
        self.sim.config(workers=2, latency_ms=300)
        self.sim.control("POST", "/__sim/reset_stats")
        start = time.time()
        threads = [threading.Thread(target=self.get, args=("/api/method/ping",)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - start
        self.assertGreaterEqual(elapsed, 0.85)
        self.assertEqual(self.sim.control("GET", "/__sim/stats")["max_in_flight"], 2)

    def test_checkin_batches_take_turns_on_the_naming_series_lock(self):
        """Two insert_many of checkins at once: HRMS's tabSeries row lock is held from the
        first checkin's naming to the commit, so one waits for the other, and a batch holds
        it for nearly all of its service time. Device Logs (named by id) take no lock."""
        self.sim.config(cost_model="frappe", workers=2)
        self.sim.control("POST", "/__sim/reset_stats")

        def batch(employee, doctype="Employee Checkin"):
            docs = [{"doctype": doctype, "employee": employee, "id": f"{employee}-{i}",
                     "time": f"2026-11-26 08:{i:02d}:00"} for i in range(20)]
            self.assertEqual(self.post(INSERT_MANY, {"docs": docs}).status, 200)

        threads = [threading.Thread(target=batch, args=(e,))
                   for e in ("HR-EMP-00001", "HR-EMP-00002")]
        threads.append(threading.Thread(target=batch, args=("L", "BioTime Device Log")))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        reqs = self.sim.control("GET", "/__sim/requests")["requests"]
        held = sorted(r["series_lock"] for r in reqs if r["series_lock"])
        self.assertEqual(len(held), 2)
        self.assertLessEqual(held[0][1], held[1][0], "both batches held the lock at once")
        for a, b in held:  # 20 checkins cost 4 + 20 x 5.8 ms; all but 5.45 ms under the lock
            self.assertGreaterEqual(b - a, 0.114)
        self.assertEqual(sum(1 for r in reqs if r["docs"] == 20 and not r["series_lock"]), 1)

    def test_cost_model_and_body_limit(self):
        self.sim.config(cost_model="frappe")
        start = time.time()
        self.assertEqual(self.checkin().status, 200)
        self.assertGreaterEqual(time.time() - start, 0.019)
        docs = [{"doctype": "BioTime Device Log", "id": f"B{i}"} for i in range(50)]
        start = time.time()
        self.assertEqual(self.post(INSERT_MANY, {"docs": docs}).status, 200)
        self.assertGreaterEqual(time.time() - start, 0.075)
        self.sim.config(cost_model="none", max_body_bytes=1000)
        big = self.post(INSERT_MANY, {"docs": docs * 4})
        self.assertEqual((big.status, big.reason), (413, "REQUEST ENTITY TOO LARGE"))
        self.assertIn("<title>413 Request Entity Too Large</title>", big.body)

    def test_gunicorn_and_mariadb_limits(self):
        long_filter = q([["attendance_device_id", "in", [str(i) for i in range(600)]]])
        too_long = self.get("/api/resource/Employee?filters=" + long_filter)
        self.assertEqual((too_long.status, too_long.reason), (400, "Bad Request"))
        self.assertIn("Request Line is too large (", too_long.body)
        self.assertIsNone(too_long.header("Server"))
        via_post = self.post("/api/method/frappe.client.get_list", {
            "doctype": "Employee", "filters": [["attendance_device_id", "in",
                                                [str(i) for i in range(600)] + ["1001"]]]})
        self.assertEqual(via_post.json(), {"message": [{"name": "HR-EMP-00001"}]})
        huge = self.post("/api/resource/Sync%20Logs", {"title": "t", "response": "x" * 70000})
        body = self.assertFrappeError(huge, 500, "DataError")
        self.assertEqual(body["exception"], "pymysql.err.DataError: (1406, \"Data too long for "
                                            "column 'response' at row 1\")")
        long_id = self.post(DEVICE_LOG, {"id": "B" * 141})
        self.assertFrappeError(long_id, 417, "CharacterLengthExceededError", "will get truncated")

    def test_malformed_json_and_unknown_method(self):
        bad = self.post(CHECKIN, '{"employee":"HR-EMP-00001",')
        body = self.assertFrappeError(bad, 500, "JSONDecodeError")
        self.assertEqual(body["exception"], "json.decoder.JSONDecodeError: Expecting property name "
                                            "enclosed in double quotes: line 1 column 28 (char 27)")
        self.assertEqual(bad.headers_named("Set-Cookie"), [])
        form_type = self.post(CHECKIN, {"employee": "HR-EMP-00001", "time": "2026-11-25 09:30:00"},
                              ctype="application/x-www-form-urlencoded")
        self.assertEqual(form_type.status, 200)
        unknown = self.post("/api/method/hrms.no_such_module.fn", {})
        self.assertFrappeError(unknown, 417, "ValidationError", "Failed to get method for command "
                               "hrms.no_such_module.fn with No module named 'hrms.no_such_module'")
        roles = self.get("/api/method/frappe.core.doctype.user.user.get_roles?arg=sync@example.com")
        self.assertIn("HR User", roles.json()["message"])

    def test_many_documents_quickly(self):
        start = time.time()
        for batch in range(50):
            docs = [{"doctype": "Employee Checkin", "employee": "HR-EMP-00001", "log_type": "IN",
                     "time": f"2026-11-{1 + batch % 28:02d} {i // 60:02d}:{i % 60:02d}:{batch // 28:02d}"}
                    for i in range(200)]
            self.assertEqual(self.post(INSERT_MANY, {"docs": docs}).status, 200)
        self.assertLess(time.time() - start, 30)
        self.assertEqual(self.sim.control("GET", "/__sim/stats")["docs"]["Employee Checkin"], 10000)


class LifecycleTest(unittest.TestCase):

    def test_sigterm_exits_cleanly(self):
        sim = SimProcess()
        try:
            sim.proc.terminate()
            self.assertEqual(sim.proc.wait(10), 0)
            self.assertEqual(sim.proc.stdout.read().decode(),
                             f"erpnext_sim listening on 127.0.0.1:{sim.port}\n")
        finally:
            sim.close()


if __name__ == "__main__":
    unittest.main()
