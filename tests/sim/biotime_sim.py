#!/usr/bin/env python3
"""BioTime / ZKBio Time REST API simulator for biotime-syncd tests and demos.

Python 3.10+ standard library only. It copies what a client sees of a real server
(see shared/reference/biotime-api.md): DRF/django-rest-framework-jwt status codes and
bodies, page-number pagination with ``next`` links on an internal host, ordering that is
honoured only for four values, silently ignored unknown parameters, an HTML page with
status 200 for unknown paths, loose field types, late uploads.  Where the reference says
UNKNOWN the DRF default is used and a knob changes it.  A kinder simulator hides bugs.

Command line::

    biotime_sim.py [--port 0] [--ready-file PATH] [--users u:p,...] [--state-file F]
                   [--demo] [--verbose]

It binds 127.0.0.1 only (port 0 = random), writes the port to --ready-file atomically,
prints ``biotime_sim listening on 127.0.0.1:PORT`` and runs until SIGTERM/SIGINT.
With --state-file the data, tokens and knobs are loaded at start and saved on every
control-API change and at exit, so a test can restart the "server".

Knobs (``POST /__sim/config`` merges them; ``GET /__sim/config`` shows them):

    latency_ms          0      sleep before answering every API request
    row_latency_us      0      extra sleep per row on list pages (slow big pages)
    token_lifetime_s    3600   JWT exp - iat; 0 or negative issues already-expired JWTs
    refresh_window_s    604800 /jwt-api-token-refresh/ allowed while now < orig_iat + this
    refresh_enabled     true   false: the refresh path is an unknown path (on-prem UNKNOWN)
    clock_offset_s      0      shifts the server clock (JWT iat/exp, default upload_time)
    default_order       "id"   "id" | "-id" | "insertion" (a server that does not sort)
    honour_ordering     true   false: ?ordering= is ignored even for the four known values
    internal_base       "http://127.0.0.1:8081"  host of next/previous links
    license_api         true   false: JWT/Token on /iclock/ and /personnel/ answer 403
    auth_failure_status 401    401 | 403 (DRF answers 403 when no WWW-Authenticate)
    default_page_size   10
    max_page_size       10000  larger page_size/limit values are silently capped
    loose_types         true   punch_state/verify_type/temperature/is_mask vary by id
    display_language    "en"   "en" | "fr" for the *_display strings
    envelope            "data" "data" | "both" (adds empty "results") | "results"
    unknown_path        "html" "html" (200 page) | "redirect" (302 /login/) | "html404"
    company             ""     set: cloud logins need company (+ email or username)
    docs_title          "BioTime 9.5 API DOCS"  <title> of /api/docs/
    users               {"erp_sync": "secret"} replaced as a whole
    insert_on_page      null   {"after_requests": k, "rows": [...]} or a list of them
    faults              []     list of fault dicts, replaced as a whole (see FAULT_KINDS)
    resign_api, emp_code_editable, resigned_in_list, write_answer_id, name_max_length:
                               personnel writes, see biotime_personnel.py
    fault_seed          -1     seed of the chance faults' draws (-1 = random)

Fault dict: {"path": prefix (default "/iclock/api/transactions/"), "kind": K,
"count": n (default 1, -1 forever), "skip": m, "status": code, "retry_after": s,
"seconds": s (timeout), "interval": s (slowloris), "size": bytes (huge_body),
"body"/"content_type" (status override), "rst": true (drop with a TCP reset)}.
Only the first live fault matching a path is considered for a request: faults are
consumed in list order.  Chance rules (a storm, see chance.py) are tried first, each on its
own: "probability": p hits that share of the matching requests, "burst": {"every": s,
"for": t} every matching request in the first t seconds of each s-second period; the
fault_seed knob (-1 = random, set with or before the faults) seeds their draws.
Transport kinds fire when the request arrives; data kinds fire on the next successful
list page of that path.

A row posted to /__sim/transactions may carry "render": {field: value}: what the API
shows for that field whatever the stored punch (any JSON value, "__missing__" drops the
field; INVALID_UTF8_MARK in a string becomes raw 0xff 0xfe): rows that are broken in the
server itself, such as a negative id or a null emp_code, for malformed-data tests.

Control API (no auth, JSON): GET/POST /__sim/transactions, POST /__sim/generate,
/__sim/delete, /__sim/reset_ids, /__sim/terminals, /__sim/employees (a spec may carry
"department": name, "area": [names], "resigned": "YYYY-MM-DD"), /__sim/departments,
/__sim/areas, /__sim/config,
/__sim/reset_stats, /__sim/reset, /__sim/revoke_tokens, /__sim/save; GET /__sim/stats,
/__sim/config, /__sim/personnel,
/__sim/terminals, /__sim/employees.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import collections
import email.parser
import email.policy
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from operator import attrgetter
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import biotime_personnel as personnel
import chance

DT_FORMAT = "%Y-%m-%d %H:%M:%S"
TRANSACTIONS = "/iclock/api/transactions/"
TERMINALS = "/iclock/api/terminals/"
EMPLOYEES = "/personnel/api/employees/"
LIST_ROUTES = (TRANSACTIONS, TERMINALS, EMPLOYEES)
LOGIN_ROUTES = {
    "/jwt-api-token-auth/": "jwt",
    "/staff-jwt-api-token-auth/": "jwt",
    "/api-token-auth/": "token",
    "/staff-api-token-auth/": "token",
}
REFRESH_ROUTE = "/jwt-api-token-refresh/"
HTML_ROUTES = ("/login/", "/api/docs/")
GATED_PREFIXES = ("/iclock/", "/personnel/")
HONOURED_ORDERING = ("punch_time", "upload_time")
MAX_REQUEST_BODY = 256 * 1024 * 1024
JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"
INVALID_UTF8_MARK = "\u2063INVALID_UTF8\u2063"
HUGE_STRING_LEN = 1024 * 1024

TXN_FIELDS = (
    "id", "emp", "emp_code", "first_name", "last_name", "department", "position",
    "punch_time", "punch_state", "punch_state_display", "verify_type",
    "verify_type_display", "work_code", "gps_location", "area_alias", "terminal_sn",
    "terminal_alias", "temperature", "is_mask", "upload_time", "longitude", "latitude",
)
PUNCH_STATE_DISPLAY = {
    "en": {"0": "Check In", "1": "Check Out", "2": "Break Out", "3": "Break In",
           "4": "Overtime In", "5": "Overtime Out", "255": "Unknown"},
    "fr": {"0": "Enregistrement", "1": "Départ", "2": "Pause sortie", "3": "Pause entrée",
           "4": "Heures supplémentaires Entrée", "5": "Heures supplémentaires Sortie",
           "255": "Inconnu"},
}
VERIFY_TYPE_DISPLAY = {
    "en": {0: "Any", 1: "Fingerprint", 4: "Card", 15: "Face", 25: "Palm"},
    "fr": {0: "Tout", 1: "Empreinte digitale", 4: "Carte", 15: "Visage", 25: "Paume"},
}

TRANSPORT_FAULTS = {"status", "html", "redirect", "drop", "timeout", "truncate",
                    "slowloris", "huge_body"}
DATA_FAULTS = {"wrong_shape", "bad_code", "nulls", "bad_types", "huge_string",
               "invalid_utf8", "next_loop", "endless_next", "huge_count", "dup_ids"}
FAULT_KINDS = TRANSPORT_FAULTS | DATA_FAULTS
STATUS_DETAIL = {
    400: "Bad request.", 401: "Incorrect authentication credentials.",
    403: "You do not have permission to perform this action.", 404: "Not found.",
    429: "Request was throttled.", 500: "A server error occurred.",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}

NOT_PROVIDED = "Authentication credentials were not provided."
PERMISSION_DENIED = "You do not have permission to perform this action."
BAD_LOGIN = "Unable to log in with provided credentials."
HEADER_ERRORS = {  # DRF / drf-jwt wording for a malformed Authorization header
    "JWT": ("Invalid Authorization header. No credentials provided.",
            "Invalid Authorization header. Credentials string should not contain spaces."),
    "Token": ("Invalid token header. No credentials provided.",
              "Invalid token header. Token string should not contain spaces."),
    "Basic": ("Invalid basic header. No credentials provided.",
              "Invalid basic header. Credentials string should not contain spaces."),
}

NOT_FOUND_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Page not found</title></head>
<body>
<div class="error-page"><h1>404</h1><h2>Page not found</h2>
<p>The page you requested does not exist.</p><a href="/">Back to home</a></div>
</body>
</html>
"""
LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>ZKBio Time</title></head>
<body>
<form method="post" action="/login/">
<input type="hidden" name="csrfmiddlewaretoken" value="sim0csrf0token">
<input name="username"><input type="password" name="password">
<button type="submit">Login</button>
</form>
</body>
</html>
"""
FAULT_PAGE = """<!DOCTYPE html>
<html><head><title>Server Error (500)</title></head>
<body><h1>Server Error (500)</h1></body></html>
"""

DEFAULT_CONFIG = {
    "latency_ms": 0,
    "row_latency_us": 0,
    "token_lifetime_s": 3600,
    "refresh_window_s": 604800,
    "refresh_enabled": True,
    "clock_offset_s": 0,
    "default_order": "id",
    "honour_ordering": True,
    "internal_base": "http://127.0.0.1:8081",
    "license_api": True,
    "auth_failure_status": 401,
    "default_page_size": 10,
    "max_page_size": 10000,
    "loose_types": True,
    "display_language": "en",
    "envelope": "data",
    "unknown_path": "html",
    "company": "",
    "docs_title": "BioTime 9.5 API DOCS",
    "users": {"erp_sync": "secret"},
    "insert_on_page": None,
    "faults": [],
    "fault_seed": -1,
}
DEFAULT_CONFIG.update(personnel.KNOBS)
CHOICES = {
    "default_order": ("id", "-id", "insertion"),
    "auth_failure_status": (401, 403),
    "display_language": ("en", "fr"),
    "envelope": ("data", "both", "results"),
    "unknown_path": ("html", "redirect", "html404"),
}
TRANSIENT_KNOBS = ("faults", "insert_on_page")  # never persisted in the state file


class SimError(Exception):
    """A bad control-API request, answered 400 {"error": ...}."""


# --------------------------------------------------------------------------- helpers


def b64url(data: bytes) -> str:
    """Unpadded base64url, as in JWTs."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of b64url; raises ValueError on junk."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def json_bytes(obj) -> bytes:
    """DRF JSONRenderer defaults: compact separators, UTF-8, no ASCII escaping."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def last_param(params: dict, key: str):
    """Django QueryDict.get(): the last value of a repeated key, or None."""
    values = params.get(key)
    return values[-1] if values else None


def fmt(dt: datetime) -> str:
    """YYYY-MM-DD HH:MM:SS; isoformat is the fast path for whole seconds."""
    return dt.isoformat(" ") if not dt.microsecond else dt.strftime(DT_FORMAT)


def parse_dt(text: str) -> datetime:
    """Strict BioTime datetime for control-API input; SimError when malformed."""
    try:
        return datetime.strptime(text, DT_FORMAT)
    except (TypeError, ValueError):
        raise SimError(f"bad datetime {text!r}, want YYYY-MM-DD HH:MM:SS") from None


_FILTER_DT = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?$")


def parse_filter_datetime(text: str, upper: bool):
    """Django DateTimeField input: date, minutes, seconds or microseconds; None if invalid.

    Returns a bound string comparable with punch_time (whole seconds): a lower bound
    with a fraction rounds up, an upper bound rounds down.  Aware values are refused
    (BioTime runs with naive times)."""
    text = text.strip()
    if not _FILTER_DT.match(text):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.microsecond and not upper:
        value += timedelta(seconds=1)
    return fmt(value.replace(microsecond=0))


def jwt_encode(claims: dict, secret: bytes) -> str:
    """HS256 JWT with compact JSON, like PyJWT (header as seen on BioTime Cloud)."""
    header = b64url(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


class JwtError(Exception):
    """A JWT that drf-jwt refuses; the message is its `detail` wording."""


def jwt_decode(token: str, secret: bytes, now: int) -> dict:
    """Verify signature then exp, in PyJWT's order, with drf-jwt's messages."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("Error decoding signature.")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except ValueError:
        raise JwtError("Error decoding signature.") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        raise JwtError("Error decoding signature.")
    expected = hmac.new(secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise JwtError("Error decoding signature.")
    exp = claims.get("exp")
    if exp is not None and (not isinstance(exp, (int, float)) or exp <= now):
        raise JwtError("Signature has expired.")
    return claims


# --------------------------------------------------------------------------- data


class Txn:
    """One punch as stored; everything else in a row is derived when rendered.

    Slots keep 200,000 rows small; `extra` holds fields a test set explicitly."""

    __slots__ = ("id", "emp_code", "punch_time", "punch_state", "verify_type",
                 "terminal_sn", "upload_time", "extra")

    def __init__(self, id_, emp_code, punch_time, punch_state, verify_type,
                 terminal_sn, upload_time, extra=None):
        self.id = id_
        self.emp_code = emp_code
        self.punch_time = punch_time
        self.punch_state = punch_state
        self.verify_type = verify_type
        self.terminal_sn = terminal_sn
        self.upload_time = upload_time
        self.extra = extra

    def to_list(self) -> list:
        return [getattr(self, name) for name in self.__slots__]


_ID = attrgetter("id")
SLOT_FIELDS = {"id", "emp_code", "punch_time", "punch_state", "verify_type",
               "terminal_sn", "upload_time"}


def default_terminal(term_id: int, sn: str) -> dict:
    """A terminal as /iclock/api/terminals/ shows a freshly added device."""
    return {
        "id": term_id, "sn": sn, "ip_address": f"192.168.1.{100 + term_id % 150}",
        "alias": sn, "terminal_name": "SpeedFace-V5L", "fw_ver": "ZAM70-NF24VB-Ver1.3.5",
        "push_ver": "Ver 2.0.33S-20210202", "state": "1", "terminal_tz": 0,
        "area": {"id": 1, "area_code": "1", "area_name": "Head office"},
        "last_activity": None, "user_count": 0, "fp_count": 0, "face_count": 0,
        "palm_count": 0, "transaction_count": 0, "push_time": None,
        "transfer_time": "00:00;14:05", "transfer_interval": 1, "is_attendance": 1,
        "area_name": "Head office",
    }


def default_employee(emp_id: int, code: str) -> dict:
    """A minimal /personnel/api/employees/ record (8.x/9.x common fields)."""
    return {
        "id": emp_id, "emp_code": code, "first_name": "", "last_name": "", "nickname": None,
        "card_no": None, "department": {"id": 1, "dept_code": "1", "dept_name": "Department"},
        "position": None, "hire_date": "2024-01-01", "gender": None, "birthday": None,
        "verify_mode": -1, "emp_type": 1, "enroll_sn": "", "app_status": 0, "app_role": 1,
        "area": [{"id": 1, "area_code": "1", "area_name": "Head office"}],
        "enable_att": True, "update_time": "2024-01-01 09:00:00",
    }


class Store:
    """Punches, terminals and employees.  Not thread-safe: the Sim lock guards it.

    `rows` stays sorted by id so an unfiltered page is a slice; `arrival` keeps
    insertion order for default_order="insertion"; filtered/ordered selections are
    computed once per (data version, query) and cached so paging stays cheap."""

    def __init__(self):
        self.rows: list[Txn] = []
        self.arrival: list[Txn] = []
        self.by_id: dict[int, Txn] = {}
        self.next_id = 1
        self.terminals: dict[str, dict] = {}
        self.explicit_activity: set[str] = set()
        self.term_counts: collections.Counter = collections.Counter()
        self.employees: dict[str, dict] = {}
        self.personnel = personnel.Personnel()  # departments, areas, resignations
        self.version = 0
        self._cache: dict = {}

    def named_id(self, kind: str, name: str) -> int:
        """Stable small ids for areas and departments, allotted by first use."""
        return self.personnel.named(kind, name)

    # ---- writes

    def add(self, txn: Txn) -> None:
        """Insert or replace (an id reused after a restore replaces the old row)."""
        old = self.by_id.get(txn.id)
        if old is not None:
            self._remove(old)
        rows = self.rows
        if not rows or txn.id > rows[-1].id:
            rows.append(txn)
        else:
            rows.insert(bisect.bisect_left(rows, txn.id, key=_ID), txn)
        self.arrival.append(txn)
        self.by_id[txn.id] = txn
        self.next_id = max(self.next_id, txn.id + 1)
        self._touch_terminal(txn)
        self.version += 1

    def add_many(self, txns: list) -> None:
        """Bulk insert; O(k) when the new ids are all above the current ones."""
        fresh = not self.rows or not txns or txns[0].id > self.rows[-1].id
        if not fresh or any(a.id >= b.id for a, b in zip(txns, txns[1:])):
            for txn in txns:
                self.add(txn)
            return
        self.rows.extend(txns)
        self.arrival.extend(txns)
        self.by_id.update((t.id, t) for t in txns)
        for txn in txns:
            self._touch_terminal(txn)
        if txns:
            self.next_id = max(self.next_id, txns[-1].id + 1)
        self.version += 1

    def _remove(self, txn: Txn) -> None:
        index = bisect.bisect_left(self.rows, txn.id, key=_ID)
        del self.rows[index]
        self.arrival.remove(txn)
        del self.by_id[txn.id]
        self.term_counts[txn.terminal_sn] -= 1

    def _touch_terminal(self, txn: Txn) -> None:
        """Auto-add the device of a punch, as BioTime does when a device pushes."""
        sn = txn.terminal_sn
        if not sn:
            return
        term = self.terminals.get(sn)
        if term is None:
            extra = txn.extra or {}
            spec = {"sn": sn}
            if isinstance(extra.get("terminal_alias"), str):
                spec["alias"] = extra["terminal_alias"]
            if isinstance(extra.get("area_alias"), str):
                spec["area_name"] = extra["area_alias"]
            term = self.upsert_terminal(spec)
        self.term_counts[sn] += 1
        if sn not in self.explicit_activity and (
                term["last_activity"] is None or txn.upload_time > term["last_activity"]):
            term["last_activity"] = txn.upload_time

    def delete(self, ids) -> int:
        """Remove rows (as the UI or DELETE would); later pages shift back."""
        doomed = {i for i in ids if i in self.by_id}
        if not doomed:
            return 0
        for i in doomed:
            self.term_counts[self.by_id.pop(i).terminal_sn] -= 1
        self.rows = [t for t in self.rows if t.id not in doomed]
        self.arrival = [t for t in self.arrival if t.id not in doomed]
        self.version += 1
        return len(doomed)

    def reset_ids(self, next_id: int, clear: bool) -> None:
        """Database restore / reinstall: the id sequence restarts and ids get reused."""
        if clear:
            self.rows, self.arrival, self.by_id = [], [], {}
            self.term_counts.clear()
        self.next_id = next_id
        self.version += 1

    def upsert_terminal(self, spec: dict) -> dict:
        sn = spec.get("sn")
        if not isinstance(sn, str) or not sn:
            raise SimError("terminal needs a non-empty string sn")
        term = self.terminals.get(sn)
        if term is None:
            term = default_terminal(len(self.terminals) + 1, sn)
            self.terminals[sn] = term
        for key, value in spec.items():
            if key == "area_name":
                ident = self.named_id("area", str(value))
                term["area"] = {"id": ident, "area_code": str(ident), "area_name": value}
            if key != "id":
                term[key] = value
        if "last_activity" in spec:
            self.explicit_activity.add(sn)
        self.version += 1
        return term

    def upsert_employee(self, spec: dict) -> dict:
        code = spec.get("emp_code")
        if not isinstance(code, str) or not code:
            raise SimError("employee needs a non-empty string emp_code")
        emp = self.employees.get(code) or self.new_employee(code)
        for key, value in spec.items():
            if key == "department" and isinstance(value, str):
                value = self.personnel.nested_dept(self.named_id("department", value))
            if key == "area" and isinstance(value, list):
                value = [self.personnel.nested_area(self.named_id("area", str(v)))
                         if not isinstance(v, dict) else v for v in value]
            if key == "resigned":  # a resignation date: resigned in BioTime already
                self.personnel.resigns[self.personnel.next_resign] = {
                    "id": self.personnel.next_resign, "employee": emp["id"],
                    "resign_date": value, "resign_type": 1, "disableatt": True, "reason": ""}
                self.personnel.next_resign += 1
            elif key != "id":
                emp[key] = value
        self.version += 1
        return emp

    def new_employee(self, code: str) -> dict:
        ident = 1 + max((e["id"] for e in self.employees.values()), default=0)
        emp = self.employees[code] = default_employee(ident, code)
        return emp

    # ---- reads

    def select(self, filters: tuple, ordering: tuple, default_order: str):
        """Rows matching a query as (count, fetch(start, stop)).

        The unfiltered default-order case is a slice of a kept list, O(page);
        anything else is computed in O(n log n) once per data version and cached."""
        if not filters and not ordering:
            if default_order == "id":
                return len(self.rows), lambda a, b: self.rows[a:b]
            if default_order == "insertion":
                return len(self.arrival), lambda a, b: self.arrival[a:b]
            total = len(self.rows)
            return total, lambda a, b: self.rows[max(total - b, 0):max(total - a, 0)][::-1]
        key = (self.version, filters, ordering, default_order)
        seq = self._cache.get(key)
        if seq is None:
            seq = self._compute(dict(filters), ordering, default_order)
            self._cache = {k: v for k, v in self._cache.items() if k[0] == self.version}
            if len(self._cache) >= 16:
                self._cache.clear()
            self._cache[key] = seq
        return len(seq), lambda a, b: seq[a:b]

    def _compute(self, filters: dict, ordering: tuple, default_order: str) -> list:
        base = self.arrival if default_order == "insertion" else self.rows
        seq = [t for t in base if self._matches(t, filters)] if filters else list(base)
        if ordering:  # ties follow the first term's direction, as on a 9.5 server
            seq.sort(key=_ID, reverse=ordering[0].startswith("-"))
        elif default_order == "-id":
            seq.reverse()
        for term in reversed(ordering):
            seq.sort(key=attrgetter(term.lstrip("-")), reverse=term.startswith("-"))
        return seq

    def _matches(self, txn: Txn, filters: dict) -> bool:
        for key, want in filters.items():
            if key == "start_time":
                if not txn.punch_time >= want:
                    return False
            elif key == "end_time":
                if not txn.punch_time <= want:
                    return False
            elif key == "terminal_alias":
                if self.terminal_alias(txn) != want:
                    return False
            elif str(getattr(txn, key)) != want:
                return False
        return True

    def terminal_alias(self, txn: Txn):
        if txn.extra and "terminal_alias" in txn.extra:
            return txn.extra["terminal_alias"]
        term = self.terminals.get(txn.terminal_sn)
        return term["alias"] if term else None

    def render(self, txn: Txn, loose: bool, lang: str) -> dict:
        """The JSON row a real server sends for a punch (reference §2.4)."""
        emp = self.employees.get(txn.emp_code)
        term = self.terminals.get(txn.terminal_sn)
        dept = emp.get("department") if emp else None
        row = {
            "id": txn.id, "emp": None, "emp_code": txn.emp_code,
            "first_name": emp["first_name"] if emp else None,
            "last_name": emp["last_name"] if emp else None,
            "department": dept.get("dept_name") if isinstance(dept, dict) else dept,
            "position": emp.get("position") if emp else None,
            "punch_time": txn.punch_time, "punch_state": txn.punch_state,
            "punch_state_display": PUNCH_STATE_DISPLAY[lang].get(str(txn.punch_state)),
            "verify_type": txn.verify_type,
            "verify_type_display": verify_display(txn.verify_type, lang),
            "work_code": "", "gps_location": "",
            "area_alias": term["area_name"] if term else None,
            "terminal_sn": txn.terminal_sn,
            "terminal_alias": term["alias"] if term else None,
            "temperature": 0.0, "is_mask": "-", "upload_time": txn.upload_time,
            "longitude": None, "latitude": None,
        }
        if txn.extra:
            row.update((k, v) for k, v in txn.extra.items() if k != "render")
        if loose:
            loosen_row(row, txn.id, txn.extra or {})
        if txn.extra and isinstance(txn.extra.get("render"), dict):
            for key, value in txn.extra["render"].items():
                if value == "__missing__":
                    row.pop(key, None)
                else:
                    row[key] = value
        return row

    def render_terminal(self, term: dict, loose: bool) -> dict:
        row = dict(term, transaction_count=self.term_counts.get(term["sn"], 0))
        state = row.get("state")
        if loose and term["id"] % 3 == 2 and isinstance(state, str) and state.isdigit():
            row["state"] = int(state)  # some servers send 1, others "1"
        return row


def verify_display(code, lang: str) -> str:
    """Label of a verify_type code given as int or numeric string."""
    try:
        return VERIFY_TYPE_DISPLAY[lang].get(int(code), "Other")
    except (TypeError, ValueError):
        return "Other"


def loosen_row(row: dict, tid: int, explicit: dict) -> None:
    """Vary types per row as different real servers do; deterministic from the id."""
    state = row["punch_state"]
    if tid % 7 == 3 and isinstance(state, str) and state.isdigit():
        row["punch_state"] = int(state)
    if tid % 5 == 4 and isinstance(row["verify_type"], int):
        row["verify_type"] = str(row["verify_type"])
    if "temperature" not in explicit:
        row["temperature"] = (0.0, "36.6", 36.6, 255)[tid % 4]
    if "is_mask" not in explicit:
        row["is_mask"] = ("-", "Yes", 255)[tid % 3]


# --------------------------------------------------------------------------- faults


class FaultQueue:
    """Injected failures, consumed in list order: only the first live fault whose
    path prefix matches a request is considered for it."""

    def __init__(self):
        self.faults: list[dict] = []
        self.luck = chance.Chance()

    @classmethod
    def build(cls, specs) -> list:
        """Validated live faults from knob specs (SimError on a bad one)."""
        if not isinstance(specs, list):
            raise SimError("faults must be a list")
        return [cls._normalise(spec) for spec in specs]

    @staticmethod
    def _normalise(spec) -> dict:
        if not isinstance(spec, dict) or spec.get("kind") not in FAULT_KINDS:
            raise SimError(f"bad fault {spec!r}: kind must be one of {sorted(FAULT_KINDS)}")
        fault = {"path": TRANSACTIONS, "count": 1, "skip": 0}
        fault.update(spec)
        for key in ("count", "skip"):
            if not isinstance(fault[key], int) or isinstance(fault[key], bool):
                raise SimError(f"fault {key} must be an integer")
        if not isinstance(fault["path"], str):
            raise SimError("fault path must be a string prefix")
        if fault["kind"] == "status" and not isinstance(fault.get("status"), int):
            raise SimError("a status fault needs an integer status")
        try:
            chance.check(fault)
        except ValueError as exc:
            raise SimError(f"bad fault {spec!r}: {exc}") from None
        if chance.is_chance(fault) and fault["kind"] in DATA_FAULTS:
            raise SimError("probability and burst are for transport faults")
        fault["remaining"] = fault.pop("count")
        fault["fired"] = 0
        return fault

    def head(self, path: str):
        """The queued fault that owns this path now, or None (chance rules queue nothing)."""
        for fault in self.faults:
            if (fault["remaining"] != 0 and path.startswith(fault["path"])
                    and not chance.is_chance(fault)):
                return fault
        return None

    def take_transport(self, path: str):
        """A chance rule that wins its draw (see chance.py), else the head fault consumed if
        it is a transport kind; the fault that fires, or None. (Data kinds wait for a
        successful list page: see Handler._page.)"""
        for fault in self.faults:
            if (chance.is_chance(fault) and fault["remaining"] != 0
                    and path.startswith(fault["path"]) and self.luck.fires(fault)
                    and self.consume(fault)):
                return fault
        fault = self.head(path)
        if fault is None or fault["kind"] in DATA_FAULTS:
            return None
        return fault if self.consume(fault) else None

    @staticmethod
    def consume(fault: dict) -> bool:
        """One matching request: a skip lets it pass, else the fault fires."""
        if fault["skip"] > 0:
            fault["skip"] -= 1
            return False
        if fault["remaining"] > 0:
            fault["remaining"] -= 1
        fault["fired"] += 1
        return True


def break_types(row: dict, index: int) -> dict:
    """Values no strict parser should accept: odd ids and an impossible datetime."""
    row = dict(row)
    ident = row.get("id") if isinstance(row.get("id"), int) else 1
    row["id"] = (ident + 0.5, -ident, "abc")[index % 3]
    for key in ("punch_time", "upload_time", "last_activity"):
        if key in row:
            row[key] = "2026-13-45 99:99:99"
    if "emp_code" in row:
        row["emp_code"] = (1001, None, ["1001"])[index % 3]
    return row


def apply_data_fault(kind: str, env: dict, link, page: int) -> dict:
    """Mutate a good list envelope into the requested broken one."""
    rows = env["data"]
    if kind == "wrong_shape":
        return {"code": 0, "data": {"not": "a list"}}
    if kind == "bad_code":
        return {"code": 1, "msg": "error", "data": []}
    if kind == "nulls":
        env["data"] = [dict.fromkeys(row) for row in rows]
    elif kind == "bad_types":
        env["data"] = [break_types(row, i) for i, row in enumerate(rows)]
    elif kind == "huge_string" and rows:
        rows[0]["emp_code"] = "9" * HUGE_STRING_LEN
    elif kind == "invalid_utf8":
        if rows:
            rows[0]["emp_code"] = f"{rows[0].get('emp_code')}{INVALID_UTF8_MARK}"
        else:
            env["msg"] = INVALID_UTF8_MARK
    elif kind == "next_loop":
        env["next"] = link(page, True)
    elif kind == "endless_next":
        env["next"] = link(page + 1)
    elif kind == "huge_count":
        env["count"] = 10 ** 18
    elif kind == "dup_ids" and rows:
        rows.append(dict(rows[0]))
    return env


# --------------------------------------------------------------------------- pagination


def page_size_from(params: dict, cfg: dict) -> int:
    """DRF _positive_int(strict, cutoff): junk, 0 or negative -> default; big -> capped.
    `limit` (8.5 manual, 9.0) is read when page_size is absent or invalid."""
    for key in ("page_size", "limit"):
        raw = last_param(params, key)
        try:
            size = int(raw)
        except (TypeError, ValueError):
            continue
        if size > 0:
            return min(size, cfg["max_page_size"])
    return cfg["default_page_size"]


def page_number(params: dict, num_pages: int):
    """Django Paginator.validate_number, first half: a page number >= 1 (the caller
    checks the upper bound), "last", or None for junk."""
    raw = last_param(params, "page") or "1"
    if raw == "last":
        return num_pages
    try:
        number = int(raw)
    except ValueError:
        return None
    return number if number >= 1 else None


def page_link(base: str, path: str, query: str, number: int, explicit=False) -> str:
    """DRF replace_query_param/remove_query_param on the server's own address:
    all params kept, sorted, `page` set (omitted for page 1 unless `explicit`)."""
    params = parse_qs(query, keep_blank_values=True)
    if number == 1 and not explicit:
        params.pop("page", None)
    else:
        params["page"] = [str(number)]
    encoded = urlencode(sorted(params.items()), doseq=True)
    return f"{base.rstrip('/')}{path}" + (f"?{encoded}" if encoded else "")


# --------------------------------------------------------------------------- the simulator


class Sim:
    """All shared state of one simulated server, guarded by `lock`."""

    def __init__(self, state_file=None, verbose=False):
        self.lock = threading.RLock()
        self.stop = threading.Event()
        self.verbose = verbose
        self.state_file = state_file
        self.cfg = json.loads(json.dumps(DEFAULT_CONFIG))
        self.store = Store()
        self.faults = FaultQueue()
        self.inserts: list[dict] = []
        self.tokens: dict[str, str] = {}  # General token -> username
        self.jwt_secret = secrets.token_bytes(32)
        self.reset_stats()

    # ---- clock and stats

    def now(self) -> datetime:
        return datetime.now().replace(microsecond=0) + timedelta(seconds=self.cfg["clock_offset_s"])

    def epoch(self) -> int:
        return int(time.time()) + int(self.cfg["clock_offset_s"])

    def reset_stats(self) -> None:
        with self.lock:
            self.requests = collections.Counter()
            self.counters = collections.Counter()
            self.auth_kinds = collections.deque(maxlen=100)
            self.queries = collections.deque(maxlen=200)
            self.timeline = collections.deque(maxlen=1000)

    def stats(self) -> dict:
        return {
            "requests": dict(self.requests),
            "transactions_requests": self.counters["transactions_requests"],
            "logins": self.counters["logins"],
            "failed_logins": self.counters["failed_logins"],
            "refreshes": self.counters["refreshes"],
            "deletes": self.counters["deletes"],
            "faults_fired": self.counters["faults_fired"],
            "employee_deletes": self.store.personnel.deletes,
            "rows": len(self.store.rows),
            "next_id": self.store.next_id,
            "last_auth_header_kinds": list(self.auth_kinds),
            "last_queries": list(self.queries),
            "timeline": list(self.timeline),
        }

    # ---- config

    def configure(self, changes: dict) -> None:
        """Merge knobs after checking names and types (a typo must fail loudly)."""
        if not isinstance(changes, dict):
            raise SimError("config must be an object")
        for key, value in changes.items():
            self._check_knob(key, value)
        faults = FaultQueue.build(changes["faults"]) if "faults" in changes else None
        inserts = self._build_inserts(changes.get("insert_on_page"))
        self.cfg.update(changes)
        if faults is not None:
            seed = self.cfg["fault_seed"]
            self.faults.luck.restart(None if seed < 0 else seed)
            self.faults.faults = faults
        if "insert_on_page" in changes:
            self.inserts = inserts

    @staticmethod
    def _check_knob(key: str, value) -> None:
        if key not in DEFAULT_CONFIG:
            raise SimError(f"unknown knob {key!r}")
        default = DEFAULT_CONFIG[key]
        if key in CHOICES and value not in CHOICES[key]:
            raise SimError(f"{key} must be one of {CHOICES[key]}")
        if isinstance(default, bool) and not isinstance(value, bool):
            raise SimError(f"{key} must be true or false")
        if isinstance(default, int) and not isinstance(default, bool) and (
                not isinstance(value, int) or isinstance(value, bool)):
            raise SimError(f"{key} must be an integer")
        if isinstance(default, str) and not isinstance(value, str):
            raise SimError(f"{key} must be a string")
        if key == "users" and not (isinstance(value, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
            raise SimError("users must be an object of user: password strings")
        if key in ("default_page_size", "max_page_size") and value < 1:
            raise SimError(f"{key} must be >= 1")

    def _build_inserts(self, value) -> list:
        """insert_on_page specs, counted from the transactions requests seen so far."""
        specs = [] if value is None else value if isinstance(value, list) else [value]
        inserts = []
        for spec in specs:
            if not isinstance(spec, dict) or not isinstance(spec.get("after_requests"), int) \
                    or not isinstance(spec.get("rows"), list):
                raise SimError("insert_on_page needs after_requests (int) and rows (list)")
            trigger = self.counters["transactions_requests"] + spec["after_requests"]
            inserts.append({"at": trigger, "rows": spec["rows"]})
        return inserts

    def fire_inserts(self) -> None:
        """Moving data while paging: insert rows once the k-th transactions request
        has been answered (its page is already computed)."""
        count = self.counters["transactions_requests"]
        due = [spec for spec in self.inserts if spec["at"] <= count]
        if due:
            self.inserts = [spec for spec in self.inserts if spec["at"] > count]
            for spec in due:
                self.add_rows(spec["rows"])

    # ---- data

    def add_rows(self, partials) -> list:
        """Append partial rows; returns their ids."""
        if not isinstance(partials, list):
            raise SimError("rows must be a list")
        txns = [self._make_txn(p) for p in partials]
        for txn in txns:
            if txn.id is None:
                txn.id = self.store.next_id
            self.store.add(txn)
        return [txn.id for txn in txns]

    def _make_txn(self, partial) -> Txn:
        if not isinstance(partial, dict):
            raise SimError("each row must be an object")
        if not isinstance(partial.get("punch_time"), str):
            raise SimError("each row needs a punch_time string")
        ident = partial.get("id")
        if ident is not None and (type(ident) is not int or ident < 1):
            raise SimError("id must be a positive integer")
        upload = partial.get("upload_time") or fmt(self.now())
        if not isinstance(upload, str):
            raise SimError("upload_time must be a string")
        for key in ("punch_state", "verify_type"):
            value = partial.get(key)
            if value is not None and not isinstance(value, (str, int)):
                raise SimError(f"{key} must be a string or an integer")
        extra = {k: v for k, v in partial.items() if k not in SLOT_FIELDS}
        return Txn(ident, str(partial.get("emp_code", "1001")), partial["punch_time"],
                   partial.get("punch_state", "0"), partial.get("verify_type", 1),
                   str(partial.get("terminal_sn", "CQUJ000001")), upload, extra or None)

    def generate(self, spec: dict) -> dict:
        """Deterministic bulk punches; `late_fraction` of them are late uploads whose
        punch_time is days before their upload_time (ids follow upload order)."""
        count = spec.get("count", 100)
        if not isinstance(count, int) or count < 0:
            raise SimError("count must be a non-negative integer")
        rnd = random.Random(spec.get("seed", 1)).random  # indexing by rnd() is fast
        codes = [str(c) for c in spec.get("emp_codes") or sorted(self.store.employees)
                 or range(1001, 1011)]
        terminals = [str(t) for t in spec.get("terminals") or ["CQUJ000001"]]
        start = parse_dt(spec.get("start", "2026-11-01 08:00:00"))
        step = spec.get("step_seconds", 37)
        late = float(spec.get("late_fraction", 0.0))
        if not isinstance(step, (int, float)) or isinstance(step, bool):
            raise SimError("step_seconds must be a number")
        states = ("0", "1", "0", "1", "4", "5", "255", "2", "3")
        verifies = (1, 15, 15, 4, 0, 25, 1)
        first = self.store.next_id
        txns = []
        for i in range(count):
            punch = start + timedelta(seconds=i * step)
            upload = punch + timedelta(seconds=int(rnd() * 6))
            if late and rnd() < late:
                punch = upload - timedelta(days=1 + int(rnd() * 10), seconds=int(rnd() * 86400))
            txns.append(Txn(first + i, codes[int(rnd() * len(codes))], fmt(punch),
                            states[int(rnd() * 9)], verifies[int(rnd() * 7)],
                            terminals[int(rnd() * len(terminals))], fmt(upload)))
        self.store.add_many(txns)
        return {"first_id": first if count else None,
                "last_id": self.store.next_id - 1 if count else None, "count": count}

    # ---- persistence

    def save_state(self) -> None:
        """Write everything a real server keeps across restarts (tmp + rename)."""
        if not self.state_file:
            return
        with self.lock:
            state = {
                "next_id": self.store.next_id,
                "rows": [t.to_list() for t in self.store.arrival],
                "terminals": list(self.store.terminals.values()),
                "explicit_activity": sorted(self.store.explicit_activity),
                "employees": list(self.store.employees.values()),
                "personnel": self.store.personnel.to_state(),
                "tokens": self.tokens,
                "jwt_secret": self.jwt_secret.hex(),
                "config": {k: v for k, v in self.cfg.items() if k not in TRANSIENT_KNOBS},
            }
            tmp = f"{self.state_file}.tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(state, handle)
            os.replace(tmp, self.state_file)

    def load_state(self) -> None:
        if not self.state_file or not os.path.exists(self.state_file):
            return
        with open(self.state_file, encoding="utf-8") as handle:
            state = json.load(handle)
        store = self.store
        for term in state.get("terminals", []):
            store.terminals[term["sn"]] = term
        store.explicit_activity = set(state.get("explicit_activity", []))
        for emp in state.get("employees", []):
            store.employees[emp["emp_code"]] = emp
        store.personnel.load_state(state.get("personnel", {}))
        for values in state.get("rows", []):
            store.add(Txn(*values))
        store.next_id = state.get("next_id", store.next_id)
        self.tokens = state.get("tokens", {})
        self.jwt_secret = bytes.fromhex(state.get("jwt_secret", self.jwt_secret.hex()))
        self.cfg.update(state.get("config", {}))

    # ---- authentication

    def issue_jwt(self, username: str, email: str = "", orig_iat=None) -> str:
        now = self.epoch()
        if self.cfg["company"]:
            user_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, username))
        else:
            users = sorted(self.cfg["users"])
            user_id = 7 + (users.index(username) if username in users else 0)
        claims = {"user_id": user_id, "username": username,
                  "exp": now + self.cfg["token_lifetime_s"], "email": email,
                  "orig_iat": now if orig_iat is None else orig_iat}
        return jwt_encode(claims, self.jwt_secret)

    def general_token(self, username: str) -> str:
        """DRF authtoken get_or_create: one stable token per user."""
        for token, owner in self.tokens.items():
            if owner == username:
                return token
        token = secrets.token_hex(20)
        self.tokens[token] = username
        return token

    def authenticate(self, header: str):
        """DRF authentication classes (JWT, Token, Basic): (kind, user, error detail)."""
        parts = header.split()
        scheme = parts[0].lower() if parts else ""
        kind = {"jwt": "JWT", "token": "Token", "basic": "Basic"}.get(scheme)
        if kind is None:
            return ("none" if not header.strip() else "other"), None, NOT_PROVIDED
        if len(parts) != 2:
            return kind, None, HEADER_ERRORS[kind][0 if len(parts) == 1 else 1]
        check = {"JWT": self._check_jwt, "Token": self._check_token, "Basic": self._check_basic}
        user, error = check[kind](parts[1])
        return kind, user, error

    def _check_jwt(self, token: str):
        try:
            claims = jwt_decode(token, self.jwt_secret, self.epoch())
        except JwtError as exc:
            return None, str(exc)
        username = claims.get("username")
        if not username:
            return None, "Invalid payload."
        if username not in self.cfg["users"]:
            return None, "Invalid signature."
        return username, None

    def _check_token(self, token: str):
        user = self.tokens.get(token)
        if user is None or user not in self.cfg["users"]:
            return None, "Invalid token."
        return user, None

    def _check_basic(self, blob: str):
        try:
            decoded = base64.b64decode(blob, validate=True)
            try:
                text = decoded.decode("utf-8")
            except UnicodeDecodeError:
                text = decoded.decode("latin-1")
            user, password = text.split(":", 1)
        except (ValueError, binascii.Error):
            return None, "Invalid basic header. Credentials not correctly base64 encoded."
        if not self.password_ok(user, password):
            return None, "Invalid username/password."
        return user, None

    def password_ok(self, user, password) -> bool:
        expected = self.cfg["users"].get(user)
        return expected is not None and isinstance(password, str) and hmac.compare_digest(
            expected.encode(), password.encode())


# --------------------------------------------------------------------------- HTTP


class SimServer(ThreadingHTTPServer):
    """Threaded HTTP/1.1 server; connections that die mid-answer are not errors."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, handler, sim: Sim):
        self.sim = sim
        super().__init__(address, handler)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # includes resets and timeouts
            return
        super().handle_error(request, client_address)


class Answer:
    """A response to send: status, body bytes, content type and extra headers."""

    def __init__(self, status, body=b"", ctype=JSON_TYPE, headers=None, delay=0.0):
        self.status, self.body, self.ctype = status, body, ctype
        self.headers = headers or {}
        self.delay = delay  # seconds to wait before answering, outside the lock


def json_answer(status: int, obj, headers=None) -> Answer:
    return Answer(status, json_bytes(obj), JSON_TYPE, headers)


def html_answer(status: int, text: str, headers=None) -> Answer:
    return Answer(status, text.encode("utf-8"), HTML_TYPE, headers)


def redirect_answer(location: str, status: int = 302) -> Answer:
    return Answer(status, b"", HTML_TYPE, {"Location": location})


class Handler(BaseHTTPRequestHandler):
    """One connection.  Each request: control API, or transport fault, route, auth,
    then the endpoint; the answer is written by `_send`, which applies wrap faults."""

    protocol_version = "HTTP/1.1"
    server_version = "WSGIServer/0.2"
    sys_version = "CPython/3"

    # BaseHTTPRequestHandler dispatches on do_<METHOD>.
    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    @property
    def sim(self) -> Sim:
        return self.server.sim

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        if self.sim.verbose:
            sys.stderr.write(f"biotime_sim: {self.address_string()} {format % args}\n")

    # ---- request plumbing

    def _handle(self) -> None:
        self.wrap = None
        split = urlsplit(self.path)
        path, query = split.path or "/", split.query
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self._send(json_answer(400, {"detail": str(exc)}))
            return
        if path.startswith("/__sim/"):
            self._send(self._control(path, body))
            return
        arrived = time.monotonic()
        try:
            answer = self._api(path, query, body)
        except Exception:  # a simulator bug: answer like Django with DEBUG off
            traceback.print_exc()
            answer = html_answer(500, FAULT_PAGE)
        with self.sim.lock:
            self.sim.fire_inserts()
        if answer is not None:
            self._send(answer)
        else:
            self.close_connection = True
        with self.sim.lock:
            # monotonic seconds, comparable with the ERPNext simulator's: shows what overlapped
            self.sim.timeline.append({"method": self.command, "path": path, "query": query,
                                      "arrived": arrived, "done": time.monotonic(),
                                      "client_port": self.client_address[1]})

    def _read_body(self) -> bytes:
        """Content-Length or chunked request bodies (always drained: keep-alive)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_REQUEST_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _send(self, answer: Answer) -> None:
        """Write an answer; timeout/truncate/slowloris faults bend how."""
        wrap = self.wrap or {}
        kind = wrap.get("kind")
        if kind == "timeout" and self.sim.stop.wait(float(wrap.get("seconds", 30))):
            self.close_connection = True
            return
        if answer.delay > 0 and self.sim.stop.wait(answer.delay):
            self.close_connection = True
            return
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.ctype)
            self.send_header("Content-Length", str(len(answer.body)))
            if answer.ctype == JSON_TYPE:
                self.send_header("Vary", "Accept, Cookie")
            self.send_header("X-Frame-Options", "DENY")
            for name, value in answer.headers.items():
                self.send_header(name, str(value))
            self.end_headers()
            if self.command == "HEAD":
                return
            if kind == "truncate":
                self.wfile.write(answer.body[: len(answer.body) // 2])
                self._hang_up(False)
            elif kind == "slowloris":
                self._drip(answer.body, float(wrap.get("interval", 1.0)))
            else:
                self.wfile.write(answer.body)
        except OSError:
            self.close_connection = True

    def _drip(self, body: bytes, interval: float) -> None:
        for index in range(len(body)):
            self.wfile.write(body[index:index + 1])
            if self.sim.stop.wait(interval):
                self._hang_up(False)
                return

    def _hang_up(self, reset: bool) -> None:
        """Close the connection now; with `reset`, send a TCP RST instead of FIN."""
        self.close_connection = True
        try:
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- the API side

    def _api(self, path: str, query: str, body: bytes):
        """Everything a client of the real server can reach; None if already answered."""
        sim = self.sim
        latency = sim.cfg["latency_ms"]
        if latency > 0 and sim.stop.wait(latency / 1000):
            return None
        with sim.lock:
            self._count(path, query)
            fault = sim.faults.take_transport(path)
            if fault is not None:
                sim.counters["faults_fired"] += 1
        if fault is not None:
            answer = self._transport_fault(fault, path)
            if answer is not None or fault["kind"] in ("drop", "huge_body"):
                return answer
        return self._route(path, query, body)

    def _count(self, path: str, query: str) -> None:
        sim = self.sim
        sim.requests[f"{self.command} {path}"] += 1
        if path.startswith(TRANSACTIONS):
            sim.counters["transactions_requests"] += 1
        if path not in LOGIN_ROUTES and path != REFRESH_ROUTE:
            header = self.headers.get("Authorization", "")
            sim.auth_kinds.append({"jwt": "JWT", "token": "Token", "basic": "Basic"}.get(
                header.split(" ", 1)[0].lower(), "none" if not header else "other"))
        if path.startswith(LIST_ROUTES):
            sim.queries.append(f"{self.command} {path}" + (f"?{query}" if query else ""))

    def _transport_fault(self, fault: dict, path: str):
        """Answer for a transport fault, or None to go on (wrap kinds)."""
        kind = fault["kind"]
        if kind == "status":
            status = fault["status"]
            headers = {"Retry-After": fault["retry_after"]} if "retry_after" in fault else {}
            if "body" in fault or fault.get("html"):
                return Answer(status, str(fault.get("body", FAULT_PAGE)).encode("utf-8"),
                              fault.get("content_type", HTML_TYPE), headers)
            detail = STATUS_DETAIL.get(status, f"Injected HTTP {status}.")
            if status == 429 and "retry_after" in fault:
                detail = ("Request was throttled. Expected available in "
                          f"{fault['retry_after']} seconds.")
            return json_answer(status, {"detail": detail}, headers)
        if kind == "html":
            return html_answer(200, str(fault.get("body", LOGIN_PAGE)))
        if kind == "redirect":
            return redirect_answer(f"/login/?next={quote(path, safe='/%')}")
        if kind == "drop":
            self._hang_up(bool(fault.get("rst")))
            return None
        if kind == "huge_body":
            self._stream_huge(int(fault.get("size", 200 * 1024 * 1024)))
            return None
        self.wrap = fault
        return None

    def _stream_huge(self, size: int) -> None:
        """A valid but enormous JSON body, streamed (never built in memory)."""
        head = b'{"count":0,"next":null,"previous":null,"msg":"","code":0,"data":[],"padding":"'
        tail = b'"}'
        padding = max(size - len(head) - len(tail), 0)
        chunk = b"x" * 65536
        try:
            self.send_response(200)
            self.send_header("Content-Type", JSON_TYPE)
            self.send_header("Content-Length", str(len(head) + padding + len(tail)))
            self.end_headers()
            self.wfile.write(head)
            while padding > 0 and not self.sim.stop.is_set():
                piece = chunk[: min(padding, len(chunk))]
                self.wfile.write(piece)
                padding -= len(piece)
            self.wfile.write(tail)
        except OSError:
            pass
        self.close_connection = True

    def _route(self, path: str, query: str, body: bytes) -> Answer:
        """Django URL resolution first (unknown path: HTML), then the view."""
        if path in LOGIN_ROUTES:
            return self._login(path, body)
        if path == REFRESH_ROUTE and self.sim.cfg["refresh_enabled"]:
            return self._refresh(body)
        if path in HTML_ROUTES:
            title = self.sim.cfg["docs_title"]
            return html_answer(200, LOGIN_PAGE if path == "/login/" else
                               f"<!DOCTYPE html><html><head><title>{title}</title></head>"
                               f"<body><h1>{title}</h1></body></html>\n")
        if personnel.known(path):
            answer = self._personnel(path, query, body)
            if answer is not None:
                return answer
        resolved = self._resolve(path)
        if resolved is None:
            if not path.endswith("/") and self._resolve(path + "/") is not None:
                return redirect_answer(path + "/" + (f"?{query}" if query else ""), 301)
            return self._unknown_path(path)
        denied = self._authorize(path)
        if denied is not None:
            return denied
        prefix, ident = resolved
        return self._view(prefix, ident, query)

    def _personnel(self, path: str, query: str, body: bytes):
        """Personnel writes, departments, areas, resignations (biotime_personnel.py);
        None for the reads the views below answer."""
        sim = self.sim
        if path.startswith(personnel.RESIGNS) and not sim.cfg["resign_api"]:
            return self._unknown_path(path)  # URL resolution comes before auth
        denied = self._authorize(path)
        if denied is not None:
            return denied
        try:
            data = json.loads(body.decode("utf-8")) if body else {}
        except ValueError as exc:
            return json_answer(400, {"detail": f"JSON parse error - {exc}"})
        params = parse_qs(query, keep_blank_values=True)
        with sim.lock:
            result = personnel.route(self, path, self.command, data, params)
            if result is None:
                return None
            if result == personnel.UNUSABLE:
                return self._unknown_path(path)
            if result[0] == "page":
                rows = result[2]
                return self._envelope_answer(self._page(result[1], query, params, len(rows),
                                                        lambda a, b: rows[a:b], dict))
            status, obj = result
        return Answer(204, b"", JSON_TYPE) if obj is None else json_answer(status, obj)

    @staticmethod
    def _resolve(path: str):
        """(list prefix, detail id or None) for API routes, else None."""
        for prefix in LIST_ROUTES:
            if path == prefix:
                return prefix, None
            rest = path[len(prefix):] if path.startswith(prefix) else None
            if rest and re.fullmatch(r"[^/.]+/", rest):
                return prefix, rest[:-1]
        return None

    def _unknown_path(self, path: str) -> Answer:
        mode = self.sim.cfg["unknown_path"]
        if mode == "redirect":
            return redirect_answer(f"/login/?next={quote(path, safe='/%')}")
        return html_answer(404 if mode == "html404" else 200, NOT_FOUND_PAGE)

    def _authorize(self, path: str):
        """DRF authentication + IsAuthenticated + the licence gate; None when allowed."""
        sim = self.sim
        header = self.headers.get("Authorization", "")
        with sim.lock:
            kind, user, error = sim.authenticate(header)
            status = sim.cfg["auth_failure_status"]
            gated = not sim.cfg["license_api"]
        if error is not None:
            headers = {"WWW-Authenticate": 'JWT realm="api"'} if status == 401 else {}
            return json_answer(status, {"detail": error}, headers)
        if gated and kind in ("JWT", "Token") and path.startswith(GATED_PREFIXES):
            return json_answer(403, {"detail": PERMISSION_DENIED})
        return None

    def _view(self, prefix: str, ident, query: str) -> Answer:
        method = "GET" if self.command == "HEAD" else self.command
        if ident is not None and method == "DELETE" and prefix == TRANSACTIONS:
            return self._delete_transaction(ident)
        if method != "GET":
            return json_answer(405, {"detail": f'Method "{self.command}" not allowed.'})
        params = parse_qs(query, keep_blank_values=True)
        if ident is not None:
            return self._detail(prefix, ident)
        if prefix == TRANSACTIONS:
            return self._transactions(query, params)
        if prefix == TERMINALS:
            return self._terminals(query, params)
        return self._employees(query, params)

    # ---- views

    def _detail(self, prefix: str, ident: str) -> Answer:
        sim = self.sim
        with sim.lock:
            cfg = sim.cfg
            row = None
            if ident.isdigit():
                number = int(ident)
                if prefix == TRANSACTIONS and number in sim.store.by_id:
                    row = sim.store.render(sim.store.by_id[number], cfg["loose_types"],
                                           cfg["display_language"])
                elif prefix == TERMINALS:
                    row = next((sim.store.render_terminal(t, cfg["loose_types"])
                                for t in sim.store.terminals.values() if t["id"] == number), None)
                elif prefix == EMPLOYEES:
                    row = next((dict(e) for e in sim.store.employees.values()
                                if e["id"] == number), None)
        if row is None:
            return json_answer(404, {"detail": "Not found."})
        return json_answer(200, row)

    def _delete_transaction(self, ident: str) -> Answer:
        """Real servers allow it; a sync daemon must never call it (counted in stats)."""
        sim = self.sim
        with sim.lock:
            sim.counters["deletes"] += 1
            deleted = ident.isdigit() and sim.store.delete([int(ident)])
        if not deleted:
            return json_answer(404, {"detail": "Not found."})
        return Answer(204, b"", JSON_TYPE)

    def _transactions(self, query: str, params: dict) -> Answer:
        sim = self.sim
        filters, errors = transaction_filters(params)
        if errors:
            return json_answer(400, errors)
        with sim.lock:
            cfg = sim.cfg
            ordering = transaction_ordering(params) if cfg["honour_ordering"] else ()
            count, fetch = sim.store.select(filters, ordering, cfg["default_order"])
            loose, lang = cfg["loose_types"], cfg["display_language"]
            env = self._page(TRANSACTIONS, query, params, count, fetch,
                             lambda t: sim.store.render(t, loose, lang))
        return self._envelope_answer(env)

    def _terminals(self, query: str, params: dict) -> Answer:
        """Filters sn/alias match partially (PYBT warns they may), state/area exactly."""
        sim = self.sim
        with sim.lock:
            terms = sorted(sim.store.terminals.values(), key=lambda t: t["id"])
            for key, contains in (("sn", True), ("alias", True), ("sn_icontains", True),
                                  ("alias_icontains", True), ("state", False), ("area", False)):
                want = last_param(params, key)
                if want:
                    terms = [t for t in terms if match_field(t, key, want, contains)]
            loose = sim.cfg["loose_types"]
            env = self._page(TERMINALS, query, params, len(terms),
                             lambda a, b: terms[a:b],
                             lambda t: sim.store.render_terminal(t, loose))
        return self._envelope_answer(env)

    def _employees(self, query: str, params: dict) -> Answer:
        sim = self.sim
        with sim.lock:
            emps = personnel.listed_employees(sim)
            for key, contains in (("emp_code", False), ("emp_code_icontains", True),
                                  ("first_name", False), ("first_name_icontains", True),
                                  ("last_name", False), ("last_name_icontains", True)):
                want = last_param(params, key)
                if want:
                    emps = [e for e in emps if match_field(e, key, want, contains)]
            env = self._page(EMPLOYEES, query, params, len(emps),
                             lambda a, b: emps[a:b], dict)
        return self._envelope_answer(env)

    def _page(self, path, query, params, count, fetch, render):
        """DRF PageNumberPagination plus the BioTime envelope: (envelope, delay), or a
        404 Answer; data faults apply here.  Called with the lock held."""
        sim, cfg = self.sim, self.sim.cfg
        fault = sim.faults.head(path)
        if fault is not None and fault["kind"] not in DATA_FAULTS:
            fault = None
        endless = fault is not None and fault["kind"] == "endless_next" and fault["skip"] == 0
        size = page_size_from(params, cfg)
        num_pages = max(1, -(-count // size))
        number = asked = page_number(params, num_pages)
        if number is not None and number > num_pages and endless:
            number = num_pages  # endless_next: beyond the data, repeat the last page
        if number is None or number > num_pages:
            return json_answer(404, {"detail": "Invalid page."})
        rows = [render(item) for item in fetch((number - 1) * size, number * size)]
        base = cfg["internal_base"]

        def link(n, explicit=False):
            return page_link(base, path, query, n, explicit)

        env = {"count": count, "next": link(number + 1) if number < num_pages else None,
               "previous": link(number - 1) if number > 1 else None,
               "msg": "", "code": 0, "data": rows}
        if fault is not None and sim.faults.consume(fault):
            sim.counters["faults_fired"] += 1
            env = apply_data_fault(fault["kind"], env, link, asked)
        style = cfg["envelope"]
        if isinstance(env.get("data"), list) and style != "data":
            env["results"] = env.pop("data") if style == "results" else []
        return env, cfg["row_latency_us"] * len(rows) / 1e6

    @staticmethod
    def _envelope_answer(result) -> Answer:
        """Encode outside the lock; the invalid_utf8 marker becomes raw 0xff 0xfe."""
        if isinstance(result, Answer):
            return result
        env, delay = result
        body = json_bytes(env)
        mark = INVALID_UTF8_MARK.encode()
        if mark in body:
            body = body.replace(mark, b"\xff\xfe")
        return Answer(200, body, JSON_TYPE, delay=delay)

    # ---- logins

    def _login(self, path: str, body: bytes) -> Answer:
        """ObtainJSONWebToken / ObtainAuthToken: 400 for every refusal, as DRF does."""
        sim = self.sim
        if self.command != "POST":
            return json_answer(405, {"detail": f'Method "{self.command}" not allowed.'})
        data, error = self._form(body)
        if error is not None:
            with sim.lock:
                sim.counters["failed_logins"] += 1
            return error
        with sim.lock:
            errors, user, email_addr = self._credentials(data)
            if errors:
                sim.counters["failed_logins"] += 1
                return json_answer(400, errors)
            sim.counters["logins"] += 1
            if LOGIN_ROUTES[path] == "jwt":
                token = sim.issue_jwt(user, email_addr)
            else:
                known = len(sim.tokens)
                token = sim.general_token(user)
                if len(sim.tokens) != known:
                    sim.save_state()  # tokens survive a server restart
        return json_answer(200, {"token": token})

    def _form(self, body: bytes):
        """DRF parsers: JSON, form-encoded, multipart; (data, error answer)."""
        ctype = self.headers.get("Content-Type", "")
        mime = ctype.split(";")[0].strip().lower()
        if not body:
            return {}, None
        if mime == "application/json":
            try:
                data = json.loads(body.decode("utf-8"))
            except ValueError as exc:
                return None, json_answer(400, {"detail": f"JSON parse error - {exc}"})
            return data, None
        if mime == "application/x-www-form-urlencoded":
            pairs = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            return {k: v[-1] for k, v in pairs.items()}, None
        if mime == "multipart/form-data":
            return parse_multipart(ctype, body), None
        return None, json_answer(415, {"detail": f'Unsupported media type "{ctype}" in request.'})

    def _credentials(self, data):
        """Serializer validation: (errors, username, email)."""
        cfg = self.sim.cfg
        if not isinstance(data, dict):
            kind = type(data).__name__.replace("NoneType", "null").replace("dict", "object")
            message = f"Invalid data. Expected a dictionary, but got {kind}."
            return {"non_field_errors": [message]}, None, ""
        cloud = bool(cfg["company"])
        ident_key = "email" if cloud and "username" not in data else "username"
        required = (["company"] if cloud else []) + [ident_key, "password"]
        errors = {}
        for key in required:
            value = data.get(key)
            if key not in data:
                errors[key] = ["This field is required."]
            elif value is None:
                errors[key] = ["This field may not be null."]
            elif str(value) == "":
                errors[key] = ["This field may not be blank."]
        if errors:
            return errors, None, ""
        user = str(data[ident_key])
        if (cloud and str(data["company"]) != cfg["company"]) or not self.sim.password_ok(
                user, str(data["password"])):
            return {"non_field_errors": [BAD_LOGIN]}, None, ""
        return None, user, user if ident_key == "email" or "@" in user else ""

    def _refresh(self, body: bytes) -> Answer:
        """drf-jwt RefreshJSONWebToken: same orig_iat, new exp, inside the window."""
        sim = self.sim
        if self.command != "POST":
            return json_answer(405, {"detail": f'Method "{self.command}" not allowed.'})
        data, error = self._form(body)
        if error is not None:
            return error
        token = data.get("token") if isinstance(data, dict) else None
        if not token:
            return json_answer(400, {"token": ["This field is required."]})
        with sim.lock:
            try:
                claims = jwt_decode(str(token), sim.jwt_secret, sim.epoch())
            except JwtError as exc:
                return json_answer(400, {"non_field_errors": [str(exc)]})
            orig = claims.get("orig_iat")
            if not isinstance(orig, int):
                return json_answer(400, {"non_field_errors": ["orig_iat field is required."]})
            if sim.epoch() > orig + sim.cfg["refresh_window_s"]:
                return json_answer(400, {"non_field_errors": ["Refresh has expired."]})
            if claims.get("username") not in sim.cfg["users"]:
                return json_answer(400, {"non_field_errors": ["User doesn't exist."]})
            sim.counters["refreshes"] += 1
            token = sim.issue_jwt(claims["username"], claims.get("email", ""), orig)
        return json_answer(200, {"token": token})

    # ---- control API

    def _control(self, path: str, body: bytes) -> Answer:
        """Test hooks; no auth, no faults, JSON in and out."""
        sim = self.sim
        try:
            data = json.loads(body.decode("utf-8")) if body else {}
        except ValueError as exc:
            return json_answer(400, {"error": f"bad JSON: {exc}"})
        key = f"{self.command} {path.rstrip('/')}"
        action = CONTROL.get(key)
        if action is None:
            return json_answer(404, {"error": f"no control endpoint {key}"})
        if not isinstance(data, dict):
            return json_answer(400, {"error": "body must be a JSON object"})
        try:
            with sim.lock:
                result = action(sim, data)
                if self.command == "POST" and path.rstrip("/") != "/__sim/reset_stats":
                    sim.save_state()
        except SimError as exc:
            return json_answer(400, {"error": str(exc)})
        except (TypeError, ValueError, KeyError) as exc:  # a malformed spec
            return json_answer(400, {"error": f"{type(exc).__name__}: {exc}"})
        return json_answer(200, result)


def match_field(record: dict, key: str, want: str, contains: bool) -> bool:
    """django-filter exact / icontains on a flat or nested (area) field."""
    field = key.replace("_icontains", "")
    value = record.get(field)
    if field == "area" and isinstance(value, dict):
        value = value.get("id")
    if contains:
        return want.lower() in str(value if value is not None else "").lower()
    return str(value) == want


def transaction_filters(params: dict):
    """django-filter on transactions: (hashable filter tuple, 400 errors).
    Empty values mean "no filter"; bad datetimes are field errors."""
    filters, errors = {}, {}
    for key in ("emp_code", "terminal_sn", "terminal_alias"):
        value = last_param(params, key)
        if value:
            filters[key] = value
    for key in ("start_time", "end_time"):
        value = last_param(params, key)
        if value:
            bound = parse_filter_datetime(value, upper=(key == "end_time"))
            if bound is None:
                errors[key] = ["Enter a valid date/time."]
            else:
                filters[key] = bound
    return tuple(sorted(filters.items())), errors


def transaction_ordering(params: dict) -> tuple:
    """DRF OrderingFilter with ordering_fields = punch_time, upload_time: unknown
    terms (id, -id, emp_code...) are dropped silently."""
    raw = last_param(params, "ordering") or ""
    terms = [t.strip() for t in raw.split(",")]
    return tuple(t for t in terms if t.lstrip("-") in HONOURED_ORDERING)


def parse_multipart(ctype: str, body: bytes) -> dict:
    """Form fields of a multipart/form-data body (JS FormData logins)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {ctype}\r\n\r\n".encode() + body)
    fields = {}
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = part.get_payload(decode=True).decode("utf-8", "replace")
    return fields


# --------------------------------------------------------------------------- control actions


def ctl_add_rows(sim: Sim, data: dict) -> dict:
    return {"ids": sim.add_rows(data.get("rows"))}


def ctl_all_rows(sim: Sim, data: dict) -> dict:
    """Every row in id order, with canonical (not loosened) types."""
    lang = sim.cfg["display_language"]
    rows = [sim.store.render(t, False, lang) for t in sim.store.rows]
    return {"count": len(rows), "rows": rows}


def ctl_delete(sim: Sim, data: dict) -> dict:
    ids = data.get("ids")
    if not isinstance(ids, list):
        raise SimError("ids must be a list")
    return {"deleted": sim.store.delete(ids)}


def ctl_reset_ids(sim: Sim, data: dict) -> dict:
    next_id = data.get("next_id", 1)
    if not isinstance(next_id, int) or next_id < 1:
        raise SimError("next_id must be a positive integer")
    sim.store.reset_ids(next_id, bool(data.get("clear", True)))
    return {"next_id": sim.store.next_id, "rows": len(sim.store.rows)}


def ctl_terminals(sim: Sim, data: dict) -> dict:
    specs = data.get("terminals")
    if not isinstance(specs, list):
        raise SimError("terminals must be a list")
    return {"terminals": [dict(sim.store.upsert_terminal(s)) for s in specs]}


def ctl_employees(sim: Sim, data: dict) -> dict:
    specs = data.get("employees")
    if not isinstance(specs, list):
        raise SimError("employees must be a list")
    return {"employees": [dict(sim.store.upsert_employee(s)) for s in specs]}


def ctl_config(sim: Sim, data: dict) -> dict:
    sim.configure(data)
    return ctl_get_config(sim, data)


def ctl_get_config(sim: Sim, data: dict) -> dict:
    cfg = dict(sim.cfg, faults=[dict(f) for f in sim.faults.faults])
    return cfg


def ctl_reset(sim: Sim, data: dict) -> dict:
    """Back to a fresh server: no data, default knobs (users kept), no tokens, no stats."""
    users = sim.cfg["users"]
    sim.store = Store()
    sim.cfg = json.loads(json.dumps(DEFAULT_CONFIG))
    sim.cfg["users"] = users
    sim.faults = FaultQueue()
    sim.inserts = []
    sim.tokens = {}
    sim.reset_stats()
    return {"ok": True}


def ctl_reset_stats(sim: Sim, data: dict) -> dict:
    sim.reset_stats()
    return {"ok": True}


def ctl_revoke_tokens(sim: Sim, data: dict) -> dict:
    """General tokens deleted in the admin UI: every Token header becomes invalid."""
    sim.tokens.clear()
    return {"ok": True}


CONTROL = {
    "POST /__sim/transactions": ctl_add_rows,
    "GET /__sim/transactions": ctl_all_rows,
    "POST /__sim/generate": lambda sim, data: sim.generate(data),
    "POST /__sim/delete": ctl_delete,
    "POST /__sim/reset_ids": ctl_reset_ids,
    "POST /__sim/terminals": ctl_terminals,
    "GET /__sim/terminals": lambda sim, data: {"terminals": [
        sim.store.render_terminal(t, False) for t in sim.store.terminals.values()]},
    "POST /__sim/employees": ctl_employees,
    "POST /__sim/departments": personnel.ctl_coded,
    "POST /__sim/areas": personnel.ctl_coded,
    "GET /__sim/personnel": personnel.ctl_personnel,
    "GET /__sim/employees": lambda sim, data: {"employees": list(sim.store.employees.values())},
    "POST /__sim/config": ctl_config,
    "GET /__sim/config": ctl_get_config,
    "GET /__sim/stats": lambda sim, data: sim.stats(),
    "POST /__sim/reset_stats": ctl_reset_stats,
    "POST /__sim/reset": ctl_reset,
    "POST /__sim/revoke_tokens": ctl_revoke_tokens,
    "POST /__sim/save": lambda sim, data: {"ok": True},
}


# --------------------------------------------------------------------------- demo data


DEMO_NAMES = [
    ("Sara", "Ali"), ("Omar", "Haddad"), ("Lina", "Nasser"), ("Yusuf", "Karim"),
    ("Maya", "Saleh"), ("Adam", "Fares"), ("Nour", "Khalil"), ("Rami", "Aziz"),
    ("Hana", "Mansour"), ("Karim", "Youssef"), ("Dina", "Farah"), ("Tarek", "Nabil"),
    ("Rana", "Hamdan"), ("Sami", "Jaber"), ("Leila", "Qasim"), ("Ziad", "Odeh"),
    ("Mona", "Rashed"), ("Fadi", "Issa"), ("Huda", "Salem"), ("Nabil", "Darwish"),
]
DEMO_TERMINALS = [
    {"sn": "CQUJ221960012", "alias": "Main gate", "area_name": "Head office"},
    {"sn": "CQUJ221960047", "alias": "Office lobby", "area_name": "Head office"},
    {"sn": "BOCK193260007", "alias": "Dock door", "area_name": "Warehouse"},
]


def load_demo(sim: Sim) -> None:
    """20 employees, 3 terminals and a few hundred punches over the last days,
    including two unknown employee codes and a terminal that uploads a day late."""
    store = sim.store
    depts = ("Operations", "Warehouse", "Finance", "Sales")
    for index, (first, last) in enumerate(DEMO_NAMES):
        store.upsert_employee({"emp_code": str(1001 + index), "first_name": first,
                               "last_name": last, "department": depts[index % 4]})
    for spec in DEMO_TERMINALS:
        store.upsert_terminal(spec)
    rng = random.Random(2026)
    now = sim.now()
    punches = []
    codes = [str(1001 + i) for i in range(20)] + ["9001", "0042"]
    for day in range(3, -1, -1):
        date = (now - timedelta(days=day)).replace(hour=0, minute=0, second=0)
        for code in codes:
            punches += demo_day(rng, date, code, now)
    punches.sort(key=lambda p: (p["upload_time"], p["punch_time"]))
    sim.add_rows(punches)


def demo_day(rng: random.Random, date: datetime, code: str, now: datetime) -> list:
    """One person's in/out (and sometimes a break) on one day, not in the future."""
    sn = rng.choice([t["sn"] for t in DEMO_TERMINALS])
    moments = [(8 * 3600 + rng.randint(-1800, 2400), "0"),
               (17 * 3600 + rng.randint(-900, 3600), "1")]
    if rng.random() < 0.3:
        moments += [(12 * 3600 + rng.randint(0, 600), "2"), (13 * 3600 + rng.randint(0, 600), "3")]
    rows = []
    for seconds, state in moments:
        punch = date + timedelta(seconds=seconds)
        late = sn == "BOCK193260007" and rng.random() < 0.5
        upload = punch + (timedelta(days=1, hours=rng.randint(0, 5)) if late
                          else timedelta(seconds=rng.randint(1, 20)))
        if upload > now:
            continue
        if rng.random() < 0.1:
            state = "255"
        rows.append({"emp_code": code, "punch_time": fmt(punch), "upload_time": fmt(upload),
                     "punch_state": state, "verify_type": rng.choice([1, 15, 15, 4]),
                     "terminal_sn": sn})
    return rows


# --------------------------------------------------------------------------- main


def parse_users(text: str) -> dict:
    users = {}
    for item in filter(None, text.split(",")):
        name, sep, password = item.partition(":")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"bad user {item!r}, want name:password")
        users[name] = password
    return users


def parse_args(argv):
    parser = argparse.ArgumentParser(description="BioTime REST API simulator")
    parser.add_argument("--port", type=int, default=0, help="0 = random free port")
    parser.add_argument("--ready-file", help="write the port here once listening")
    parser.add_argument("--users", type=parse_users, help="user:password,... (replaces default)")
    parser.add_argument("--state-file", help="load at start, save on changes and at exit")
    parser.add_argument("--demo", action="store_true", help="preload demo data")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="private key of --tls-cert (PEM)")
    return parser.parse_args(argv)


def write_ready(path: str, port: int) -> None:
    """Atomic, so a waiting test never reads a half-written port."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv=None) -> int:
    args = parse_args(argv)
    sim = Sim(args.state_file, args.verbose)
    sim.load_state()
    if args.users:
        sim.cfg["users"] = args.users
    if args.demo and not sim.store.rows:
        load_demo(sim)
    server = SimServer(("127.0.0.1", args.port), Handler, sim)
    port = server.server_address[1]
    if args.tls_cert:  # HTTPS for the TLS verification tests (self-signed CA)
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)

    def stop(signum, frame):
        sim.stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.ready_file:
        write_ready(args.ready_file, port)
    print(f"biotime_sim listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    sim.save_state()
    return 0


if __name__ == "__main__":
    sys.exit(main())
