"""Self-test of the BioTime simulator: starts it as a process on a random port and
checks the behaviours the daemon's integration tests rely on.

Run from the repository root:  python3 -m unittest tests/sim/test_biotime_sim.py
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from urllib.parse import parse_qs, urlsplit

SIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "biotime_sim.py")
TXN = "/iclock/api/transactions/"


class SimProcess:
    """A running simulator; stop() sends SIGTERM and returns the exit status."""

    def __init__(self, *extra):
        self.dir = tempfile.TemporaryDirectory()
        ready = os.path.join(self.dir.name, "port")
        self.proc = subprocess.Popen(
            [sys.executable, SIM, "--port", "0", "--ready-file", ready, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"simulator did not start: {self.proc.stderr.read()}")
            time.sleep(0.02)
        with open(ready, encoding="ascii") as handle:
            self.port = int(handle.read())

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()
            self.dir.cleanup()
        return code

    def request(self, method, path, body=None, headers=None, timeout=10, raw=False):
        """(status, headers, body bytes or parsed JSON)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        is_json = resp.headers.get("Content-Type") == "application/json"
        return resp.status, resp.headers, data if raw or not is_json else json.loads(data)

    def ctl(self, path, body=None):
        status, _, data = self.request("POST" if body is not None else "GET",
                                       f"/__sim/{path}", body)
        assert status == 200, (path, status, data)
        return data


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class BioTimeSimTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = SimProcess("--users", "erp_sync:secret,other:pw")

    @classmethod
    def tearDownClass(cls):
        code = cls.sim.stop()
        if code != 0:
            raise AssertionError(f"simulator exit status {code}")

    def setUp(self):
        self.sim.ctl("reset", {})

    # ---- helpers

    def login(self, path="/jwt-api-token-auth/", user="erp_sync", password="secret"):
        status, _, data = self.sim.request("POST", path, {"username": user, "password": password})
        self.assertEqual(status, 200, data)
        return data["token"]

    def get(self, path, token=None, scheme="Token", **kw):
        headers = {"Authorization": f"{scheme} {token}"} if token else {}
        return self.sim.request("GET", path, headers=headers, **kw)

    def add(self, *rows):
        return self.sim.ctl("transactions", {"rows": list(rows)})["ids"]

    def fault(self, **spec):
        self.sim.ctl("config", {"faults": [spec]})

    # ---- authentication

    def test_jwt_login_has_exp_and_works(self):
        token = self.login()
        claims = jwt_claims(token)
        self.assertEqual(claims["username"], "erp_sync")
        self.assertIn("user_id", claims)
        self.assertEqual(claims["exp"] - claims["orig_iat"], 3600)
        self.assertLess(abs(claims["orig_iat"] - time.time()), 5)
        status, headers, data = self.get(TXN, token, "JWT")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(data, {"count": 0, "next": None, "previous": None, "msg": "",
                                "code": 0, "data": []})

    def test_wrong_password_and_missing_fields_are_400(self):
        for path in ("/jwt-api-token-auth/", "/api-token-auth/", "/staff-api-token-auth/"):
            status, _, data = self.sim.request("POST", path, {"username": "erp_sync",
                                                              "password": "nope"})
            self.assertEqual((status, data), (400, {"non_field_errors": [
                "Unable to log in with provided credentials."]}))
        status, _, data = self.sim.request("POST", "/api-token-auth/", {"password": "x"})
        self.assertEqual((status, data), (400, {"username": ["This field is required."]}))
        self.assertEqual(self.sim.ctl("stats")["failed_logins"], 4)

    def test_form_login_and_stable_general_token(self):
        status, _, first = self.sim.request(
            "POST", "/api-token-auth/", "username=erp_sync&password=secret",
            {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200)
        self.assertRegex(first["token"], r"^[0-9a-f]{40}$")
        self.assertEqual(self.login("/api-token-auth/"), first["token"])

    def test_auth_failures(self):
        cases = [
            ({}, "Authentication credentials were not provided."),
            ({"Authorization": "Token 0123"}, "Invalid token."),
            ({"Authorization": "JWT abc.def"}, "Error decoding signature."),
            ({"Authorization": "Bearer x"}, "Authentication credentials were not provided."),
            ({"Authorization": "Basic " + base64.b64encode(b"erp_sync:bad").decode()},
             "Invalid username/password."),
        ]
        for headers, detail in cases:
            status, _, data = self.sim.request("GET", TXN, headers=headers)
            self.assertEqual((status, data), (401, {"detail": detail}), headers)
        self.sim.ctl("config", {"auth_failure_status": 403})
        self.assertEqual(self.sim.request("GET", TXN)[0], 403)

    def test_expired_jwt_is_401_and_refresh(self):
        self.sim.ctl("config", {"token_lifetime_s": 0})
        token = self.login()
        status, headers, data = self.get(TXN, token, "JWT")
        self.assertEqual((status, data), (401, {"detail": "Signature has expired."}))
        self.assertIn("WWW-Authenticate", headers)
        status, _, data = self.sim.request("POST", "/jwt-api-token-refresh/", {"token": token})
        self.assertEqual((status, data), (400, {"non_field_errors": ["Signature has expired."]}))
        self.sim.ctl("config", {"token_lifetime_s": 60})
        token = self.login()
        status, _, data = self.sim.request("POST", "/jwt-api-token-refresh/", {"token": token})
        self.assertEqual(status, 200)
        self.assertEqual(jwt_claims(data["token"])["orig_iat"], jwt_claims(token)["orig_iat"])

    def test_basic_auth_and_licence_gate(self):
        basic = base64.b64encode(b"erp_sync:secret").decode()
        token = self.login("/api-token-auth/")
        self.sim.ctl("config", {"license_api": False})
        status, _, data = self.get(TXN, token)
        self.assertEqual((status, data), (403, {
            "detail": "You do not have permission to perform this action."}))
        self.assertEqual(self.get(TXN, basic, "Basic")[0], 200)
        kinds = self.sim.ctl("stats")["last_auth_header_kinds"]
        self.assertEqual(kinds[-2:], ["Token", "Basic"])

    # ---- paging, filters, ordering

    def test_paging_next_uses_internal_host_and_keeps_params(self):
        self.sim.ctl("generate", {"count": 25, "start": "2026-11-01 08:00:00"})
        token = self.login("/api-token-auth/")
        path = f"{TXN}?page_size=10&start_time=2026-11-01+00:00:00&zzz=1"
        seen = []
        previous_links = []
        while path:
            status, _, page = self.get(path, token)
            self.assertEqual(status, 200)
            self.assertEqual(page["count"], 25)
            seen += [row["id"] for row in page["data"]]
            previous_links.append(page["previous"])
            nxt = page["next"]
            if nxt:
                parts = urlsplit(nxt)
                self.assertEqual(parts.netloc, "127.0.0.1:8081")
                self.assertEqual(parse_qs(parts.query)["zzz"], ["1"])
                self.assertEqual(parse_qs(parts.query)["start_time"], ["2026-11-01 00:00:00"])
            path = f"{urlsplit(nxt).path}?{urlsplit(nxt).query}" if nxt else None
        self.assertEqual(seen, list(range(1, 26)))
        self.assertIsNone(previous_links[0])
        self.assertNotIn("page=", urlsplit(previous_links[1]).query)  # DRF drops page=1
        self.assertIn("page=2", previous_links[2])

    def test_page_size_default_cap_and_limit_alias(self):
        self.sim.ctl("generate", {"count": 30})
        token = self.login("/api-token-auth/")
        self.assertEqual(len(self.get(TXN, token)[2]["data"]), 10)
        self.assertEqual(len(self.get(f"{TXN}?limit=7", token)[2]["data"]), 7)
        self.sim.ctl("config", {"max_page_size": 12})
        self.assertEqual(len(self.get(f"{TXN}?page_size=1000", token)[2]["data"]), 12)

    def test_page_past_end_404_and_empty_first_page(self):
        self.sim.ctl("generate", {"count": 5})
        token = self.login("/api-token-auth/")
        for page in ("2", "0", "abc"):
            status, _, data = self.get(f"{TXN}?page={page}", token)
            self.assertEqual((status, data), (404, {"detail": "Invalid page."}), page)
        status, _, data = self.get(f"{TXN}?emp_code=nobody", token)
        self.assertEqual((status, data["count"], data["data"]), (200, 0, []))

    def test_ordering_honoured_and_unknown_ignored(self):
        ids = self.add({"emp_code": "1", "punch_time": "2026-11-03 08:00:00",
                        "upload_time": "2026-11-03 08:00:05"},
                       {"emp_code": "2", "punch_time": "2026-11-01 08:00:00",
                        "upload_time": "2026-11-03 09:00:00"},
                       {"emp_code": "3", "punch_time": "2026-11-02 08:00:00",
                        "upload_time": "2026-11-03 07:00:00"})
        token = self.login("/api-token-auth/")

        def order(query):
            return [row["id"] for row in self.get(f"{TXN}?{query}", token)[2]["data"]]

        self.assertEqual(order("ordering=punch_time"), [ids[1], ids[2], ids[0]])
        self.assertEqual(order("ordering=-upload_time"), [ids[1], ids[0], ids[2]])
        self.assertEqual(order("ordering=-id"), ids)
        self.assertEqual(order(f"id__gt={ids[1]}"), ids)
        self.sim.ctl("config", {"honour_ordering": False})
        self.assertEqual(order("ordering=punch_time"), ids)
        self.sim.ctl("config", {"default_order": "-id"})
        self.assertEqual(order(""), ids[::-1])

    def test_filters(self):
        self.add({"emp_code": "007", "punch_time": "2026-11-01 08:00:00", "terminal_sn": "A1"},
                 {"emp_code": "008", "punch_time": "2026-11-01 09:00:00", "terminal_sn": "B2"},
                 {"emp_code": "007", "punch_time": "2026-11-02 08:00:00", "terminal_sn": "B2"})
        token = self.login("/api-token-auth/")

        def count(query):
            status, _, data = self.get(f"{TXN}?{query}", token)
            self.assertEqual(status, 200, data)
            return data["count"]

        self.assertEqual(count("emp_code=007"), 2)
        self.assertEqual(count("emp_code=7"), 0)
        self.assertEqual(count("terminal_sn=B2"), 2)
        self.assertEqual(count("terminal_alias=A1"), 1)  # auto-added terminal, alias = sn
        self.assertEqual(count("start_time=2026-11-01%2009:00:00"), 2)
        self.assertEqual(count("end_time=2026-11-01%2009:00:00"), 2)
        self.assertEqual(count("emp_code="), 3)
        status, _, data = self.get(f"{TXN}?end_time=2026-11-31", token)
        self.assertEqual((status, data), (400, {"end_time": ["Enter a valid date/time."]}))
        terminals = self.get("/iclock/api/terminals/", token)[2]["data"]
        self.assertEqual(sorted(t["sn"] for t in terminals), ["A1", "B2"])

    def test_loose_types_are_deterministic(self):
        self.sim.ctl("generate", {"count": 12})
        token = self.login("/api-token-auth/")
        rows = self.get(f"{TXN}?page_size=12", token)[2]["data"]
        self.assertEqual(set(rows[0]), {
            "id", "emp", "emp_code", "first_name", "last_name", "department", "position",
            "punch_time", "punch_state", "punch_state_display", "verify_type",
            "verify_type_display", "work_code", "gps_location", "area_alias", "terminal_sn",
            "terminal_alias", "temperature", "is_mask", "upload_time", "longitude", "latitude"})
        self.assertEqual({type(r["temperature"]) for r in rows}, {float, str, int})
        self.assertEqual({type(r["is_mask"]) for r in rows}, {str, int})
        self.assertIn(int, {type(r["punch_state"]) for r in rows})
        self.assertEqual(rows, self.get(f"{TXN}?page_size=12", token)[2]["data"])

    # ---- routes

    def test_unknown_path_is_html_200_or_redirect(self):
        self.sim.ctl("config", {"resign_api": False})  # BioTime 8.0 and 9.0
        status, headers, body = self.get("/personnel/api/resigns/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertIn(b"Page not found", body)
        status, headers, _ = self.get("/iclock/api/transactions")
        self.assertEqual((status, headers["Location"]), (301, TXN))
        self.sim.ctl("config", {"unknown_path": "redirect"})
        status, headers, _ = self.get("/nope/")
        self.assertEqual((status, headers["Location"]), (302, "/login/?next=/nope/"))

    def test_detail_row(self):
        (ident,) = self.add({"emp_code": "1001", "punch_time": "2026-11-01 08:00:00"})
        token = self.login("/api-token-auth/")
        status, _, row = self.get(f"{TXN}{ident}/", token)
        self.assertEqual((status, row["id"], row["emp_code"]), (200, ident, "1001"))
        self.assertEqual(self.get(f"{TXN}999/", token)[2], {"detail": "Not found."})

    # ---- faults

    def test_status_fault_then_recovery_and_skip(self):
        token = self.login("/api-token-auth/")
        self.sim.ctl("config", {"faults": [
            {"kind": "status", "status": 503, "retry_after": 7, "skip": 1},
            {"kind": "status", "status": 429, "retry_after": 2}]})
        self.assertEqual(self.get(TXN, token)[0], 200)  # skipped
        status, headers, data = self.get(TXN, token)
        self.assertEqual((status, headers["Retry-After"]), (503, "7"))
        self.assertIn("detail", data)
        self.assertEqual(self.get(TXN, token)[0], 429)
        self.assertEqual(self.get(TXN, token)[0], 200)
        self.assertEqual(self.sim.ctl("stats")["faults_fired"], 2)

    def test_chance_faults_hit_their_share_and_replay_with_a_seed(self):
        token = self.login("/api-token-auth/")
        self.sim.ctl("generate", {"count": 5})

        def run(seed):
            self.sim.ctl("config", {"fault_seed": seed, "faults": [
                {"path": "/", "kind": "status", "status": 500, "html": True,
                 "probability": 0.3, "count": -1},
                {"kind": "status", "status": 503, "count": 1}]})
            return [self.get(TXN, token)[0] for _ in range(100)]
        first = run(3)
        self.assertEqual(first, run(3))
        self.assertTrue(15 <= first.count(500) <= 45, first.count(500))
        self.assertEqual(first.count(503), 1)           # queued faults still come in order
        with self.assertRaises(Exception):
            self.sim.ctl("config", {"faults": [{"kind": "drop", "burst": {"every": 0}}]})

    def test_html_and_redirect_faults(self):
        token = self.login("/api-token-auth/")
        self.sim.ctl("config", {"faults": [{"kind": "html"}, {"kind": "redirect"}]})
        status, headers, _ = self.get(TXN, token)
        self.assertEqual((status, headers["Content-Type"][:9]), (200, "text/html"))
        status, headers, _ = self.get(TXN, token)
        self.assertEqual(status, 302)
        self.assertTrue(headers["Location"].startswith("/login/?next="))

    def test_drop_truncate_timeout_slowloris(self):
        token = self.login("/api-token-auth/")
        self.sim.ctl("generate", {"count": 10})
        self.fault(kind="drop")
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.get(TXN, token)
        self.fault(kind="truncate")
        with self.assertRaises(http.client.IncompleteRead):
            self.get(TXN, token)
        self.fault(kind="timeout", seconds=0.4)
        started = time.monotonic()
        self.assertEqual(self.get(TXN, token)[0], 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.35)
        self.fault(kind="timeout", seconds=5)
        with self.assertRaises(TimeoutError):
            self.get(TXN, token, timeout=0.3)
        self.fault(kind="slowloris", interval=0.002, path="/slow/")
        started = time.monotonic()
        status, _, body = self.get("/slow/")
        self.assertEqual(status, 200)
        self.assertIn(b"</html>", body)
        self.assertGreaterEqual(time.monotonic() - started, 0.2)

    def test_huge_body_is_streamed_valid_json(self):
        token = self.login("/api-token-auth/")
        self.fault(kind="huge_body", size=3_000_000)
        status, headers, data = self.get(TXN, token)
        self.assertEqual((status, int(headers["Content-Length"])), (200, 3_000_000))
        self.assertEqual(data["data"], [])

    def test_data_faults(self):
        self.sim.ctl("generate", {"count": 4})
        token = self.login("/api-token-auth/")
        expectations = {
            "wrong_shape": lambda d: self.assertEqual(d, {"code": 0, "data": {"not": "a list"}}),
            "bad_code": lambda d: self.assertEqual(d["code"], 1),
            "nulls": lambda d: self.assertTrue(all(v is None for r in d["data"] for v in r.values())),
            "bad_types": lambda d: self.assertEqual(
                [r["id"] for r in d["data"][:3]], [1.5, -2, "abc"]),
            "huge_string": lambda d: self.assertEqual(len(d["data"][0]["emp_code"]), 1 << 20),
            "dup_ids": lambda d: self.assertEqual(d["data"][0], d["data"][-1]),
            "huge_count": lambda d: self.assertEqual(d["count"], 10 ** 18),
            "next_loop": lambda d: self.assertIn("page=1", d["next"]),
        }
        for kind, check in expectations.items():
            self.fault(kind=kind)
            status, _, data = self.get(f"{TXN}?page_size=3", token)
            self.assertEqual(status, 200, kind)
            check(data)
            self.assertEqual(self.get(f"{TXN}?page_size=3", token)[2]["code"], 0, kind)

    def test_invalid_utf8_and_endless_next(self):
        self.sim.ctl("generate", {"count": 4})
        token = self.login("/api-token-auth/")
        self.fault(kind="invalid_utf8")
        status, _, raw = self.get(TXN, token, raw=True)
        self.assertEqual(status, 200)
        self.assertIn(b"\xff\xfe", raw)
        with self.assertRaises(UnicodeDecodeError):
            raw.decode("utf-8")
        self.fault(kind="endless_next", count=-1)
        status, _, data = self.get(f"{TXN}?page=9&page_size=3", token)
        self.assertEqual((status, [r["id"] for r in data["data"]]), (200, [4]))
        self.assertIn("page=10", data["next"])

    # ---- data control

    def test_generate_is_deterministic_with_late_uploads(self):
        spec = {"count": 200, "emp_codes": ["1001", "1002"], "terminals": ["T1", "T2"],
                "start": "2026-11-01 08:00:00", "step_seconds": 37, "seed": 3,
                "late_fraction": 0.25}
        result = self.sim.ctl("generate", spec)
        self.assertEqual((result["first_id"], result["last_id"]), (1, 200))
        first = self.sim.ctl("transactions")["rows"]
        self.sim.ctl("reset_ids", {"next_id": 1, "clear": True})
        self.sim.ctl("generate", spec)
        self.assertEqual(self.sim.ctl("transactions")["rows"], first)
        late = [r for r in first if r["upload_time"][:10] > r["punch_time"][:10]]
        self.assertTrue(20 < len(late) < 80, len(late))
        self.assertEqual({r["terminal_sn"] for r in first}, {"T1", "T2"})

    def test_insert_on_page_delete_and_id_reset(self):
        self.sim.ctl("generate", {"count": 5})
        token = self.login("/api-token-auth/")
        self.sim.ctl("config", {"insert_on_page": {"after_requests": 1, "rows": [
            {"emp_code": "9", "punch_time": "2026-10-01 08:00:00"}]}})
        self.assertEqual(self.get(TXN, token)[2]["count"], 5)
        self.assertEqual(self.get(TXN, token)[2]["count"], 6)
        self.assertEqual(self.sim.ctl("delete", {"ids": [1, 2]})["deleted"], 2)
        self.assertEqual([r["id"] for r in self.get(TXN, token)[2]["data"]], [3, 4, 5, 6])
        self.sim.ctl("reset_ids", {"next_id": 1, "clear": True})
        self.assertEqual(self.add({"punch_time": "2026-11-01 08:00:00"}), [1])
        stats = self.sim.ctl("stats")
        self.assertEqual((stats["rows"], stats["next_id"]), (1, 2))

    def test_big_table_deep_pages(self):
        self.sim.ctl("generate", {"count": 100_000})
        token = self.login("/api-token-auth/")
        for page in (1, 500, 999, 1000):
            status, _, data = self.get(f"{TXN}?page={page}&page_size=100", token)
            self.assertEqual(status, 200)
            self.assertEqual(data["data"][0]["id"], (page - 1) * 100 + 1)
        self.assertEqual(data["data"][-1]["id"], 100_000)


class ProcessTest(unittest.TestCase):
    def test_state_file_survives_restart_and_sigterm_exits_0(self):
        with tempfile.TemporaryDirectory() as tmp:
            state = os.path.join(tmp, "state.json")
            sim = SimProcess("--state-file", state)
            sim.ctl("generate", {"count": 3})
            status, _, data = sim.request("POST", "/api-token-auth/",
                                          {"username": "erp_sync", "password": "secret"})
            self.assertEqual(sim.stop(), 0)
            sim = SimProcess("--state-file", state)
            try:
                status, _, page = sim.request("GET", TXN, headers={
                    "Authorization": f"Token {data['token']}"})
                self.assertEqual((status, page["count"]), (200, 3))
            finally:
                self.assertEqual(sim.stop(), 0)

    def test_demo_data(self):
        sim = SimProcess("--demo")
        try:
            stats = sim.ctl("stats")
            self.assertGreater(stats["rows"], 150)
            codes = {r["emp_code"] for r in sim.ctl("transactions")["rows"]}
            self.assertTrue({"1001", "1020"} <= codes)
            self.assertEqual(len(codes - {str(c) for c in range(1001, 1021)}), 2)
        finally:
            self.assertEqual(sim.stop(), 0)


EMP = "/personnel/api/employees/"
RESIGNS = "/personnel/api/resigns/"


class PersonnelTest(unittest.TestCase):
    """Personnel writes as shared/reference/biotime-personnel.md describes them."""

    @classmethod
    def setUpClass(cls):
        cls.sim = SimProcess("--users", "erp_sync:secret")
        status, _, data = cls.sim.request("POST", "/api-token-auth/",
                                          {"username": "erp_sync", "password": "secret"})
        cls.auth = {"Authorization": f"Token {data['token']}"}

    @classmethod
    def tearDownClass(cls):
        if cls.sim.stop() != 0:
            raise AssertionError("simulator exit status")

    def setUp(self):
        self.sim.ctl("reset", {})
        self.sim.ctl("departments", {"departments": [{"dept_code": "OPS",
                                                      "dept_name": "Operations"}]})
        self.sim.ctl("areas", {"areas": [{"area_code": "DXB", "area_name": "Dubai"},
                                         {"area_code": "AUH", "area_name": "Abu Dhabi"}]})
        status, _, data = self.sim.request("POST", "/api-token-auth/",
                                           {"username": "erp_sync", "password": "secret"})
        self.auth = {"Authorization": f"Token {data['token']}"}

    def call(self, method, path, body=None):
        status, _, data = self.sim.request(method, path, body, headers=self.auth)
        return status, data

    def create(self, code="1042", **fields):
        body = {"emp_code": code, "department": 2, "area": [2], "first_name": "Sara",
                "last_name": "Ali"}
        body.update(fields)
        return self.call("POST", EMP, body)

    def test_create_answers_bare_ids_and_reads_nested(self):
        status, made = self.create()
        self.assertEqual(status, 201)
        self.assertEqual((made["department"], made["area"]), (2, [2]))
        status, read = self.call("GET", f"{EMP}{made['id']}/")
        self.assertEqual(read["department"], {"id": 2, "dept_code": "OPS",
                                              "dept_name": "Operations"})
        self.assertEqual(read["area"], [{"id": 2, "area_code": "DXB", "area_name": "Dubai"}])
        status, page = self.call("GET", f"{EMP}?emp_code=1042")
        self.assertEqual((page["count"], page["data"][0]["first_name"]), (1, "Sara"))

    def test_refusals_are_drf_field_maps(self):
        cases = [
            ({"emp_code": "1"}, {"department": ["This field is required."],
                                 "area": ["This field is required."]}),
            ({"department": 99}, {"department": ['Invalid pk "99" - object does not exist.']}),
            ({"area": []}, {"area": ["This list may not be empty."]}),
            ({"area": [7]}, {"area": ['Invalid pk "7" - object does not exist.']}),
            ({"first_name": "A" * 26}, {"first_name": [
                "Ensure this field has no more than 25 characters."]}),
        ]
        for fields, errors in cases:
            body = {"emp_code": "77", "department": 1, "area": [1]}
            body.update(fields)
            if fields == {"emp_code": "1"}:
                body = fields
            self.assertEqual(self.call("POST", EMP, body), (400, errors), fields)
        self.assertEqual(self.create()[0], 201)
        self.assertEqual(self.create(), (400, {"emp_code": [
            "employee with this emp code already exists."]}))
        self.assertEqual(self.call("POST", EMP, [1])[1], {"non_field_errors": [
            "Invalid data. Expected a dictionary, but got list."]})

    def test_patch_renames_and_put_needs_the_three_fields(self):
        ident = self.create()[1]["id"]
        status, _ = self.call("PATCH", f"{EMP}{ident}/", {"first_name": "Sarah"})
        self.assertEqual(status, 200)
        self.assertEqual(self.call("GET", f"{EMP}{ident}/")[1]["first_name"], "Sarah")
        status, data = self.call("PUT", f"{EMP}{ident}/", {"first_name": "X"})
        self.assertEqual((status, sorted(data)), (400, ["area", "department", "emp_code"]))

    def test_area_write_replaces_the_list(self):
        ident = self.create()[1]["id"]
        self.call("PATCH", f"{EMP}{ident}/", {"area": [3]})
        self.assertEqual([a["id"] for a in self.call("GET", f"{EMP}{ident}/")[1]["area"]], [3])

    def test_emp_code_quirk_answers_success_and_keeps_the_old_code(self):
        ident = self.create()[1]["id"]
        self.sim.ctl("config", {"emp_code_editable": False})
        status, answer = self.call("PATCH", f"{EMP}{ident}/", {"emp_code": "2042"})
        self.assertEqual((status, answer["emp_code"]), (200, "2042"))
        self.assertEqual(self.call("GET", f"{EMP}{ident}/")[1]["emp_code"], "1042")
        self.sim.ctl("config", {"emp_code_editable": True})
        self.call("PATCH", f"{EMP}{ident}/", {"emp_code": "2042"})
        self.assertEqual(self.call("GET", f"{EMP}{ident}/")[1]["emp_code"], "2042")

    def test_create_answer_without_id(self):
        self.sim.ctl("config", {"write_answer_id": False})
        status, made = self.create()
        self.assertEqual(status, 201)
        self.assertNotIn("id", made)

    def test_departments_and_areas_are_paged_lists(self):
        status, page = self.call("GET", "/personnel/api/areas/?page_size=2")
        self.assertEqual((status, page["count"], len(page["data"])), (200, 3, 2))
        self.assertIsNotNone(page["next"])
        status, page = self.call("GET", "/personnel/api/departments/?dept_code=OPS")
        self.assertEqual([d["id"] for d in page["data"]], [2])

    def test_resign_list_duplicate_and_reinstate(self):
        ident = self.create()[1]["id"]
        body = {"employee": ident, "resign_date": "2026-12-31", "resign_type": 1,
                "disableatt": True, "reason": "Left in ERPNext"}
        status, made = self.call("POST", RESIGNS, body)
        self.assertEqual(status, 201)
        self.assertEqual(made["employee"]["emp_code"], "1042")
        self.assertEqual(self.call("POST", RESIGNS, body), (400, {"employee": [
            "resign with this employee already exists."]}))
        self.assertEqual(self.call("POST", RESIGNS, {"employee": ident})[0], 400)
        status, page = self.call("GET", f"{RESIGNS}?employee={ident}")
        self.assertEqual([r["id"] for r in page["data"]], [made["id"]])
        self.call("POST", RESIGNS + "reinstatement/", {"resigns": [made["id"]]})
        self.assertEqual(self.call("GET", RESIGNS)[1]["count"], 0)

    def test_resigned_people_can_leave_the_employee_list(self):
        ident = self.create()[1]["id"]
        self.call("POST", RESIGNS, {"employee": ident, "resign_date": "2026-12-31",
                                    "resign_type": 1, "disableatt": True})
        self.assertEqual(self.call("GET", EMP)[1]["count"], 1)
        self.sim.ctl("config", {"resigned_in_list": False})
        self.assertEqual(self.call("GET", EMP)[1]["count"], 0)

    def test_without_the_resign_api_resigns_answer_an_html_page(self):
        self.sim.ctl("config", {"resign_api": False})
        for method in ("GET", "POST"):
            status, headers, body = self.sim.request(method, RESIGNS + "?page_size=1",
                                                     {} if method == "POST" else None,
                                                     headers=self.auth, raw=True)
            self.assertEqual(status, 200)
            self.assertIn("text/html", headers["Content-Type"])
            self.assertIn(b"Page not found", body)

    def test_delete_is_counted(self):
        ident = self.create()[1]["id"]
        status, _, _ = self.sim.request("DELETE", f"{EMP}{ident}/", headers=self.auth, raw=True)
        self.assertEqual(status, 204)
        self.assertEqual(self.sim.request("GET", "/personnel/api/nothing/", raw=True)[0], 200)
        self.assertEqual(self.sim.ctl("stats")["employee_deletes"], 1)

    def test_control_api_seeds_resigned_employees_in_named_areas(self):
        self.sim.ctl("employees", {"employees": [
            {"emp_code": "5", "area": ["Dubai"], "resigned": "2026-01-31"}]})
        pers = self.sim.ctl("personnel")
        self.assertEqual(len(pers["resigns"]), 1)
        status, page = self.call("GET", EMP)
        self.assertEqual(page["data"][0]["area"][0]["area_code"], "DXB")


if __name__ == "__main__":
    unittest.main()
