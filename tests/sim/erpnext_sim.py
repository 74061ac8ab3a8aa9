#!/usr/bin/env python3
"""ERPNext (Frappe 15 + HRMS 15) server simulator for biotime-syncd tests.

Python 3 standard library only. It answers like the real site recorded in
reference/frappe-transcripts (Frappe 15.75 / ERPNext 15.71 / HRMS 15.48 behind gunicorn
sync workers): same status lines, header set, cookies, `Connection: close`, error bodies
(`exception`, `exc_type`, `_exc_source`, traceback `exc`, double-encoded
`_server_messages`), the same validation order and the same quirks. A simulator kinder
than the real server hides bugs users will hit, so where the transcripts show an odd
behaviour (417 for duplicates, 500 for an ISO time with an offset, a checkin for a
missing employee accepted) this server does the same.

Command line
    python3 erpnext_sim.py [--port 0] [--ready-file PATH] [--site 127.0.0.1]
                           [--api-key K --api-secret S] [--api-user U] [--workers 2]
                           [--cost-model none|frappe] [--timezone ZONE] [--verbose]
Binds 127.0.0.1 only, writes the port to --ready-file atomically once listening and prints
"erpnext_sim listening on 127.0.0.1:PORT". SIGTERM/SIGINT exit cleanly (status 0).

Site routing: the site is the Host header without its port, or X-Frappe-Site-Name. Any
other site gets werkzeug's 404 HTML "<host> does not exist" (transcript 00).

Knobs (POST /__sim/config merges them; GET /__sim/config shows them)
    api_user             user behind the API key (default "sync@example.com"); docs' owner
    api_user_roles       roles of that user (default ["HR User"]). Without HR User, HR Manager
                         or System Manager, Employee Checkin.time (permlevel 1) is silently
                         reset to "now" on insert; without those or "Employee" it is also
                         dropped from GET results (the HRMS permission-level trap)
    geolocation_tracking HR Settings allow_geolocation_tracking (default false): checkins
                         without latitude/longitude get 417 "Latitude and longitude values
                         are required for checking in."
    doctypes_present     "BioTime Device Log" and "Sync Logs" exist (default true). false
                         drops them (and their documents); true re-creates missing ones
    enforce_permissions  check DocType role permissions for create/read/write/delete
                         (default false; Guest is always refused)
    cost_model           "none" (default) or "frappe": per-request service time measured on
                         the real site (timing.txt), slept while holding a worker slot, less
                         the time the simulator itself spent receiving the request
    serialize_series     with the frappe cost model, naming-series inserts (Employee
                         Checkin) hold one site-wide lock like the tabSeries row lock: from
                         the first document's naming to the commit (default true)
    workers              requests processed at once, like gunicorn sync workers (default 2)
    latency_ms           extra service time per request (default 0)
    max_body_bytes       request bodies above this get werkzeug's 413 HTML (default 25 MiB)
    limit_request_line   longer request lines get gunicorn's own 400 page (default 4094, as
                         gunicorn; 0 = no limit). Long GET filter lists hit it
    timezone             IANA zone of the site ("" = host zone); creation/modified/now
    now                  set the site clock to this local "YYYY-MM-DD HH:MM:SS" (it keeps
                         running; null = the real clock). Naming series use its month/year
    passwords            {user: password} for POST /api/method/login
    faults               list of fault rules (replaces the list), each
        {"path": prefix, "method": "POST", "kind": K, "count": n (-1 = forever),
         "skip": m, "status": code, "retry_after": s, "seconds": t,
         "match": {field: value}, "message": text}
        kinds: status (Frappe JSON error; 429 TooManyRequestsError with Retry-After;
               502/504 nginx HTML), drop (close without answer, nothing written),
               drop_after_commit (write, then close without answer), timeout (sleep
               `seconds`, then answer normally), html (200 text/html page), truncate
               (answer with half the body), reject_doc (documents matching `match` get a
               permanent 417 ValidationError `message`), body (answer `status`, default
               200, with the text `body` as `content_type`, default application/json,
               without processing the request: a wrong-shape or foreign answer)
        chance rules (a storm, see chance.py): "probability": p hits that share of the
        matching requests; "burst": {"every": s, "for": t} hits every matching request
        during the first t seconds of each s-second period (429 bursts); count/skip apply
        to the hits. Only the first rule that hits a request fires
    fault_seed           seed of the chance rules' draws (null = random); set it with or
                         before the faults

Endpoints (v1 under /api and /api/v1, plus /api/v2 with its {"errors": [...]} envelope)
    /api/resource/<DocType>         GET list (fields, filters, or_filters, order_by,
                                    limit_start, limit_page_length|limit; default 20, 0 = all),
                                    POST insert (full document back, 200)
    /api/resource/<DocType>/<name>  GET, PUT (partial update, doc.save()), DELETE (202)
    /api/resource/DocType[/<name>]  custom DocTypes: create (custom=1), read, PUT fields
    /api/resource/Custom Field      POST adds a field to a doctype
    /api/method/...                 ping, login, frappe.auth.get_logged_user,
        frappe.client.{insert_many, insert, get_list, get_count, get_value, get_single_value,
        get, set_value, delete}, frappe.core.doctype.user.user.get_roles (uid or arg),
        frappe.utils.change_log.get_versions, and HRMS add_log_based_on_employee_field.
        Anything else: 417 "Failed to get method for command ..." (15d).
Doctypes: Employee, Employee Checkin (HRMS 15 validation order: links, permission, naming,
permlevel reset, before_validate time truncation, inactive employee, duplicate
employee+time+log_type, shift (none: offshift=1), geolocation, mandatory, select, length,
strict MariaDB columns: 500 1292 for a bad datetime, 500 1406 for text over 64 KiB),
Shift Type, HR Settings (single), User (System Manager only),
Custom Field, BioTime Device Log and Sync Logs (CONTRACT.md §4), link targets (Company...).

Not simulated: shift assignment and auto attendance, Attendance records, rate limiting
other than by fault, Accept: text/html error pages, CSRF, child tables, desk sessions
beyond login + sid cookie, translations.

Control API (no auth, no site routing, not counted in stats), all JSON:
    POST /__sim/employees    {"employees": [{"name", "employee_name", "attendance_device_id",
                              "status", "company", ...any custom field}]}  upsert
    POST /__sim/shift_types  {"shift_types": [{"name", ...}]}                upsert
    POST /__sim/docs         {"doctype", "docs": [...]}  raw insert, no validation
    GET  /__sim/docs?doctype=Employee%20Checkin          all documents as stored
    POST /__sim/delete_docs  {"doctype", "names": [...]}
    POST /__sim/config, GET /__sim/config
    GET  /__sim/stats        {"requests": {"METHOD /decoded/path": n}, "total_requests", "statuses",
                              "max_in_flight", "in_flight", "faults_fired", "docs": {...}}
    POST /__sim/reset_stats
    GET  /__sim/requests     the last 1000 requests (method, path, status, docs)
    POST /__sim/reset        forget every document and knob (CLI settings stay)
"""

import argparse
import base64
import binascii
import collections
import datetime as dt
import email.utils
import html
import json
import os
import random
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import chance

try:
    import zoneinfo
except ImportError:  # pragma: no cover - Python < 3.9
    zoneinfo = None

VERSIONS = {
    "frappe": ("Frappe Framework", "15.75.0"),
    "erpnext": ("ERPNext", "15.71.1"),
    "hrms": ("Frappe HR", "15.48.0"),
}
SESSION_MAX_AGE = 612000          # session_expiry 170:00, as in every Set-Cookie sid=
MAX_INSERT_MANY = 200             # frappe.client.insert_many limit
DEFAULT_MAX_BODY = 25 * 1024 * 1024
WRITE_L1_ROLES = {"System Manager", "HR Manager", "HR User"}
READ_L1_ROLES = WRITE_L1_ROLES | {"Employee"}
STANDARD_FIELDS = ("name", "owner", "creation", "modified", "modified_by", "docstatus", "idx")
LIST_STANDARD = set(STANDARD_FIELDS) | {"parent", "parentfield", "parenttype", "_user_tags",
                                        "_comments", "_assign", "_liked_by", "_seen"}
ADD_LOG_CMD = "hrms.hr.doctype.employee_checkin.employee_checkin.add_log_based_on_employee_field"
DEVICE_LOG = "BioTime Device Log"
SYNC_LOGS = "Sync Logs"
CHECKIN = "Employee Checkin"

REASONS = {
    200: "OK", 202: "ACCEPTED", 400: "BAD REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN",
    404: "NOT FOUND", 405: "METHOD NOT ALLOWED", 409: "CONFLICT",
    413: "REQUEST ENTITY TOO LARGE", 417: "EXPECTATION FAILED", 429: "TOO MANY REQUESTS",
    500: "INTERNAL SERVER ERROR", 502: "BAD GATEWAY", 503: "SERVICE UNAVAILABLE",
    504: "GATEWAY TIMEOUT",
}

# exc_type -> (qualified name in the traceback's last line, HTTP status)
EXC_TYPES = {
    "ValidationError": ("frappe.exceptions.ValidationError", 417),
    "MandatoryError": ("frappe.exceptions.MandatoryError", 417),
    "LinkValidationError": ("frappe.exceptions.LinkValidationError", 417),
    "DataError": ("frappe.exceptions.DataError", 417),
    "UniqueValidationError": ("frappe.exceptions.UniqueValidationError", 417),
    "CharacterLengthExceededError": ("frappe.exceptions.CharacterLengthExceededError", 417),
    "TimestampMismatchError": ("frappe.exceptions.TimestampMismatchError", 417),
    "InvalidFieldNameError": ("frappe.core.doctype.doctype.doctype.InvalidFieldNameError", 417),
    "CannotCreateStandardDoctypeError": (
        "frappe.core.doctype.doctype.doctype.CannotCreateStandardDoctypeError", 417),
    "InactiveEmployeeStatusError": (
        "erpnext.setup.doctype.employee.employee.InactiveEmployeeStatusError", 417),
    "DoesNotExistError": ("frappe.exceptions.DoesNotExistError", 404),
    "DuplicateEntryError": ("frappe.exceptions.DuplicateEntryError", 409),
    "NameError": ("frappe.exceptions.NameError", 409),
    "PermissionError": ("frappe.exceptions.PermissionError", 403),
    "AuthenticationError": ("frappe.exceptions.AuthenticationError", 401),
    "InvalidAuthorizationToken": ("frappe.exceptions.InvalidAuthorizationToken", 400),
    "CSRFTokenError": ("frappe.exceptions.CSRFTokenError", 400),
    "TooManyRequestsError": ("frappe.exceptions.TooManyRequestsError", 429),
    "SessionStopped": ("frappe.exceptions.SessionStopped", 503),
    "QueryDeadlockError": ("frappe.exceptions.QueryDeadlockError", 500),
    "OperationalError": ("pymysql.err.OperationalError", 500),
    "JSONDecodeError": ("json.decoder.JSONDecodeError", 500),
    "ParserError": ("dateutil.parser._parser.ParserError", 500),
    "ImportError": ("ImportError", 500),
    "TypeError": ("TypeError", 500),
    "AttributeError": ("AttributeError", 500),
    "ValueError": ("ValueError", 500),
    "KeyError": ("KeyError", 500),
}


# ---------------------------------------------------------------------------------------
# Traceback frames. Error bodies carry Python tracebacks (System Settings
# allow_error_traceback is on by default); clients parse them and `_exc_source` is guessed
# from them, so they are rebuilt from the frames seen in the transcripts.
# ---------------------------------------------------------------------------------------

def _frame(path, line, func, code=None, mark=None):
    """One traceback frame as Python 3.12 prints it; `mark` is the caret-underlined part."""
    text = f'  File "{path}", line {line}, in {func}\n'
    if code is not None:
        text += f"    {code}\n"
        if mark is not None:
            text += " " * (4 + code.index(mark)) + "^" * len(mark) + "\n"
    return text


_APP = "apps/frappe/frappe/app.py"
_API = "apps/frappe/frappe/api/__init__.py"
_V1 = "apps/frappe/frappe/api/v1.py"
_V2 = "apps/frappe/frappe/api/v2.py"
_HANDLER = "apps/frappe/frappe/handler.py"
_INIT = "apps/frappe/frappe/__init__.py"
_DOC = "apps/frappe/frappe/model/document.py"
_BASE = "apps/frappe/frappe/model/base_document.py"
_NAMING = "apps/frappe/frappe/model/naming.py"
_CLIENT = "apps/frappe/frappe/client.py"
_AUTH = "apps/frappe/frappe/auth.py"
_RV = "apps/frappe/frappe/desk/reportview.py"
_HRMS_CK = "apps/hrms/hrms/hr/doctype/employee_checkin/employee_checkin.py"
_PYMYSQL = "env/lib/python3.12/site-packages/pymysql/"
_PY = "<python-prefix>/lib/python3.12/"

FRAMES = {
    "app": _frame(_APP, 115, "application", "response = frappe.api.handle(request)",
                  "frappe.api.handle(request)"),
    "app_init": _frame(_APP, 100, "application", "init_request(request)"),
    "app_auth": _frame(_APP, 102, "application", "validate_auth()"),
    "app_rate": _frame(_APP, 108, "application", "rate_limiter.apply()"),
    "init_form": _frame(_APP, 192, "init_request", "make_form_dict(request)"),
    "init_login": _frame(_APP, 195, "init_request",
                         "frappe.local.http_request = HTTPRequest()", "HTTPRequest()"),
    "form_json": _frame(_APP, 296, "make_form_dict", "args = json.loads(request_data)",
                        "json.loads(request_data)"),
    "json_loads": _frame(_PY + "json/__init__.py", 346, "loads",
                         "return _default_decoder.decode(s)", "_default_decoder.decode(s)"),
    "json_decode": _frame(_PY + "json/decoder.py", 337, "decode",
                          "obj, end = self.raw_decode(s, idx=_w(s, 0).end())",
                          "self.raw_decode(s, idx=_w(s, 0).end())"),
    "json_extra": _frame(_PY + "json/decoder.py", 340, "decode",
                         'raise JSONDecodeError("Extra data", s, end)'),
    "json_scan": _frame(_PY + "json/decoder.py", 353, "raw_decode",
                        "obj, end = self.scan_once(s, idx)", "self.scan_once(s, idx)"),
    "json_value": _frame(_PY + "json/decoder.py", 355, "raw_decode",
                         'raise JSONDecodeError("Expecting value", s, err.value) from None'),
    "api": _frame(_API, 49, "handle", "data = endpoint(**arguments)", "endpoint(**arguments)"),
    "v1_create": _frame(_V1, 42, "create_doc", "return frappe.new_doc(doctype, **data).insert()",
                        "frappe.new_doc(doctype, **data).insert()"),
    "v1_list": _frame(_V1, 27, "document_list",
                      "return frappe.call(frappe.client.get_list, doctype, **frappe.form_dict)",
                      "frappe.call(frappe.client.get_list, doctype, **frappe.form_dict)"),
    "v1_list_json": _frame(_V1, 12, "document_list",
                           'frappe.form_dict["fields"] = json.loads(frappe.form_dict["fields"])',
                           'json.loads(frappe.form_dict["fields"])'),
    "v1_read": _frame(_V1, 47, "read_doc", "doc = frappe.get_doc(doctype, name)",
                      "frappe.get_doc(doctype, name)"),
    "v1_read_perm": _frame(_V1, 48, "read_doc", 'doc.check_permission("read")'),
    "v1_update": _frame(_V1, 53, "update_doc", "doc.save()"),
    "v1_update_get": _frame(_V1, 47, "update_doc",
                            "doc = frappe.get_doc(doctype, name, for_update=True)",
                            "frappe.get_doc(doctype, name, for_update=True)"),
    "v1_delete": _frame(_V1, 64, "delete_doc",
                        "frappe.delete_doc(doctype, name, ignore_missing=False)"),
    "v1_rpc": _frame(_V1, 36, "handle_rpc_call", "return frappe.handler.handle()",
                     "frappe.handler.handle()"),
    "v2_create": _frame(_V2, 96, "create_doc", "return doc.insert()", "doc.insert()"),
    "v2_rpc": _frame(_V2, 50, "handle_rpc_call", "return frappe.call(method, **frappe.form_dict)",
                     "frappe.call(method, **frappe.form_dict)"),
    "handle": _frame(_HANDLER, 51, "handle", "data = execute_cmd(cmd)", "execute_cmd(cmd)"),
    "exec_getattr": _frame(_HANDLER, 73, "execute_cmd", "method = get_attr(cmd)", "get_attr(cmd)"),
    "exec_failed": _frame(_HANDLER, 75, "execute_cmd",
                          'frappe.throw(_("Failed to get method for command {0} with {1}")'
                          ".format(cmd, e))"),
    "exec_whitelist": _frame(_HANDLER, 81, "execute_cmd", "is_whitelisted(method)"),
    "exec_http": _frame(_HANDLER, 82, "execute_cmd", "is_valid_http_method(method)"),
    "exec_call": _frame(_HANDLER, 84, "execute_cmd", "return frappe.call(method, **frappe.form_dict)",
                        "frappe.call(method, **frappe.form_dict)"),
    "http_invalid": _frame(_HANDLER, 104, "is_valid_http_method", "throw_permission_error()"),
    "http_throw": _frame(_HANDLER, 108, "throw_permission_error",
                         'frappe.throw(_("Not permitted"), frappe.PermissionError)'),
    "get_attr": _frame(_HANDLER, 291, "get_attr", "method = frappe.get_attr(cmd)",
                       "frappe.get_attr(cmd)"),
    "frappe_get_attr": _frame(_INIT, 1744, "get_attr",
                              "return getattr(get_module(modulename), methodname)",
                              "get_module(modulename)"),
    "frappe_get_attr_attr": _frame(_INIT, 1744, "get_attr",
                                   "return getattr(get_module(modulename), methodname)",
                                   "getattr(get_module(modulename), methodname)"),
    "get_module": _frame(_INIT, 1454, "get_module", "return importlib.import_module(modulename)",
                         "importlib.import_module(modulename)"),
    "import_module": _frame(_PY + "importlib/__init__.py", 90, "import_module",
                            "return _bootstrap._gcd_import(name[level:], package, level)",
                            "_bootstrap._gcd_import(name[level:], package, level)"),
    "boot_gcd": _frame("<frozen importlib._bootstrap>", 1387, "_gcd_import"),
    "boot_load": _frame("<frozen importlib._bootstrap>", 1360, "_find_and_load"),
    "boot_unlocked": _frame("<frozen importlib._bootstrap>", 1324, "_find_and_load_unlocked"),
    "is_whitelisted": _frame(_INIT, 870, "is_whitelisted",
                             'throw(msg, PermissionError, title=_("Method Not Allowed"))'),
    "call": _frame(_INIT, 1754, "call", "return fn(*args, **newargs)", "fn(*args, **newargs)"),
    "typing": _frame("apps/frappe/frappe/utils/typing_validations.py", 32, "wrapper",
                     "return func(*args, **kwargs)", "func(*args, **kwargs)"),
    "throw": _frame(_INIT, 609, "throw", "msgprint("),
    "msgprint": _frame(_INIT, 574, "msgprint", "_raise_exception()"),
    "raise": _frame(_INIT, 525, "_raise_exception", "raise exc"),
    "insert_links": _frame(_DOC, 301, "insert", "self._validate_links()"),
    "insert_perm": _frame(_DOC, 302, "insert", 'self.check_permission("create")'),
    "insert_name": _frame(_DOC, 304, "insert",
                          "self.set_new_name(set_name=set_name, set_child_names=set_child_names)"),
    "insert_rbsm": _frame(_DOC, 309, "insert", "self.run_before_save_methods()"),
    "insert_validate": _frame(_DOC, 310, "insert", "self._validate()"),
    "insert_db": _frame(_DOC, 320, "insert",
                        "self.db_insert(ignore_if_duplicate=ignore_if_duplicate)"),
    "save": _frame(_DOC, 378, "save", "return self._save(*args, **kwargs)",
                   "self._save(*args, **kwargs)"),
    "save_links": _frame(_DOC, 408, "_save", "self._validate_links()"),
    "save_perm": _frame(_DOC, 405, "_save", 'self.check_permission("write", "save")'),
    "save_latest": _frame(_DOC, 409, "_save", "self.check_if_latest()"),
    "save_rbsm": _frame(_DOC, 411, "_save", "self.run_before_save_methods()"),
    "save_validate": _frame(_DOC, 415, "_save", "self._validate()"),
    "save_db": _frame(_DOC, 428, "_save", "self.db_update()"),
    "check_latest": _frame(_DOC, 864, "check_if_latest", "frappe.throw("),
    "check_perm": _frame(_DOC, 254, "check_permission",
                         "self._handle_permission_failure(permtype)"),
    "perm_failure": _frame(_DOC, 264, "_handle_permission_failure",
                           "self.raise_no_permission_to(perm_type)"),
    "raise_no_perm": _frame(_DOC, 275, "raise_no_permission_to", "raise frappe.PermissionError"),
    "set_new_name": _frame(_DOC, 544, "set_new_name", "set_new_name(self)"),
    "naming_options": _frame(_NAMING, 167, "set_new_name",
                             "set_name_from_naming_options(autoname, doc)"),
    "naming_field": _frame(_NAMING, 202, "set_name_from_naming_options",
                           'frappe.throw(_("{0} is required").format(doc.meta.get_label(fieldname)))'),
    "naming_prompt": _frame(_NAMING, 178, "set_new_name",
                            'frappe.throw(_("Name not set via prompt"))'),
    "naming_validate": _frame(_NAMING, 172, "set_new_name",
                              "doc.name = validate_name(doc.doctype, doc.name)",
                              "validate_name(doc.doctype, doc.name)"),
    "naming_special": _frame(_NAMING, 482, "validate_name", "frappe.throw("),
    "rbsm_before": _frame(_DOC, 1134, "run_before_save_methods", 'self.run_method("before_validate")'),
    "rbsm_validate": _frame(_DOC, 1136, "run_before_save_methods", 'self.run_method("validate")'),
    "run_method": _frame(_DOC, 1007, "run_method", "out = Document.hook(fn)(self, *args, **kwargs)",
                         "Document.hook(fn)(self, *args, **kwargs)"),
    "composer": _frame(_DOC, 1367, "composer", "return composed(self, method, *args, **kwargs)",
                       "composed(self, method, *args, **kwargs)"),
    "runner": _frame(_DOC, 1349, "runner", "add_to_return_value(self, fn(self, *args, **kwargs))",
                     "fn(self, *args, **kwargs)"),
    "fn": _frame(_DOC, 1004, "fn", "return method_object(*args, **kwargs)",
                 "method_object(*args, **kwargs)"),
    "ck_before": _frame(_HRMS_CK, 24, "before_validate",
                        "self.time = get_datetime(self.time).replace(microsecond=0)",
                        "get_datetime(self.time)"),
    "ck_before_replace": _frame(_HRMS_CK, 24, "before_validate",
                                "self.time = get_datetime(self.time).replace(microsecond=0)",
                                "get_datetime(self.time).replace"),
    "get_datetime": _frame("apps/frappe/frappe/utils/data.py", 129, "get_datetime",
                           "return parser.parse(datetime_str)", "parser.parse(datetime_str)"),
    "get_datetime_invalid": _frame("apps/frappe/frappe/utils/data.py", 120, "get_datetime",
                                   "if is_invalid_date_string(datetime_str):",
                                   "is_invalid_date_string(datetime_str)"),
    "is_invalid_date": _frame("apps/frappe/frappe/utils/data.py", 105, "is_invalid_date_string",
                              'return not date_string or (date_string or "").startswith(("0001-01-01", '
                              '"0000-00-00"))',
                              '(date_string or "").startswith'),
    "dateutil_parse": _frame("env/lib/python3.12/site-packages/dateutil/parser/_parser.py", 1368,
                             "parse", "return DEFAULTPARSER.parse(timestr, **kwargs)",
                             "DEFAULTPARSER.parse(timestr, **kwargs)"),
    "dateutil_raise": _frame("env/lib/python3.12/site-packages/dateutil/parser/_parser.py", 643,
                             "parse", 'raise ParserError("Unknown string format: %s", timestr)'),
    "ck_active": _frame(_HRMS_CK, 27, "validate", "validate_active_employee(self.employee)"),
    "utils_active": _frame("apps/hrms/hrms/hr/utils.py", 715, "validate_active_employee",
                           "frappe.throw("),
    "ck_dup": _frame(_HRMS_CK, 28, "validate", "self.validate_duplicate_log()"),
    "ck_dup_throw": _frame(_HRMS_CK, 46, "validate_duplicate_log", "frappe.throw("),
    "ck_distance": _frame(_HRMS_CK, 31, "validate", "self.validate_distance_from_shift_location()"),
    "ck_distance_throw": _frame(_HRMS_CK, 98, "validate_distance_from_shift_location",
                                "frappe.throw("),
    "ck_addlog_insert": _frame(_HRMS_CK, 181, "add_log_based_on_employee_field", "doc.insert()"),
    "ck_addlog_throw": _frame(_HRMS_CK, 165, "add_log_based_on_employee_field", "frappe.throw("),
    "ck_addlog_required": _frame(_HRMS_CK, 157, "add_log_based_on_employee_field",
                                 'frappe.throw(_("\'employee_field_value\' and \'timestamp\' are '
                                 'required."))'),
    "ck_addlog_lookup": _frame(_HRMS_CK, 159, "add_log_based_on_employee_field",
                               "employee = frappe.db.get_values(",
                               None),
    "validate_mandatory": _frame(_DOC, 622, "_validate", "self._validate_mandatory()"),
    "mandatory_raise": _frame(_DOC, 924, "_validate_mandatory", "raise frappe.MandatoryError("),
    "validate_selects": _frame(_DOC, 624, "_validate", "self._validate_selects()"),
    "selects_throw": _frame(_BASE, 913, "_validate_selects", "frappe.throw("),
    "validate_length": _frame(_DOC, 626, "_validate", "self._validate_length()"),
    "length_check": _frame(_BASE, 1016, "_validate_length",
                           "self.throw_length_exceeded_error(df, max_length, value)"),
    "length_throw": _frame(_BASE, 1046, "throw_length_exceeded_error", "frappe.throw("),
    "links_throw": _frame(_DOC, 975, "_validate_links",
                          'frappe.throw(_("Could not find {0}").format(msg), frappe.LinkValidationError)'),
    "db_insert_sql": _frame(_BASE, 576, "db_insert", "frappe.db.sql("),
    "db_insert_dup": _frame(_BASE, 603, "db_insert",
                            "raise frappe.DuplicateEntryError(self.doctype, self.name, e)"),
    "db_insert_unique": _frame(_BASE, 601, "db_insert", "self.show_unique_validation_message(e)"),
    "unique_raise": _frame(_BASE, 657, "show_unique_validation_message",
                           "raise frappe.UniqueValidationError(self.doctype, self.name, e)"),
    "db_update_sql": _frame(_BASE, 632, "db_update", "frappe.db.sql("),
    "db_sql": _frame("apps/frappe/frappe/database/database.py", 230, "sql",
                     "self._cursor.execute(query, values)"),
    "cur_execute": _frame(_PYMYSQL + "cursors.py", 153, "execute", "result = self._query(query)",
                          "self._query(query)"),
    "cur_query": _frame(_PYMYSQL + "cursors.py", 322, "_query", "conn.query(q)"),
    "conn_query": _frame(_PYMYSQL + "connections.py", 563, "query",
                         "self._affected_rows = self._read_query_result(unbuffered=unbuffered)",
                         "self._read_query_result(unbuffered=unbuffered)"),
    "conn_result": _frame(_PYMYSQL + "connections.py", 825, "_read_query_result", "result.read()"),
    "conn_read": _frame(_PYMYSQL + "connections.py", 1199, "read",
                        "first_packet = self.connection._read_packet()",
                        "self.connection._read_packet()"),
    "conn_packet": _frame(_PYMYSQL + "connections.py", 775, "_read_packet", "packet.raise_for_error()"),
    "proto_error": _frame(_PYMYSQL + "protocol.py", 219, "raise_for_error",
                          "err.raise_mysql_exception(self._data)"),
    "err_raise": _frame(_PYMYSQL + "err.py", 150, "raise_mysql_exception",
                        "raise errorclass(errno, errval)"),
    "client_insert_many": _frame(_CLIENT, 215, "insert_many",
                                 "return [insert_doc(doc).name for doc in docs]", "insert_doc(doc)"),
    "client_insert_many_len": _frame(_CLIENT, 212, "insert_many", "if len(docs) > 200:", "len(docs)"),
    "client_insert_many_limit": _frame(_CLIENT, 213, "insert_many",
                                       'frappe.throw(_("Only 200 inserts allowed in one request"))'),
    "client_insert_many_json": _frame(_CLIENT, 210, "insert_many", "docs = json.loads(docs)",
                                      "json.loads(docs)"),
    "client_insert_doc": _frame(_CLIENT, 490, "insert_doc", "return frappe.get_doc(doc).insert()",
                                "frappe.get_doc(doc).insert()"),
    "client_insert_doc_get": _frame(_CLIENT, 490, "insert_doc", "return frappe.get_doc(doc).insert()",
                                    "frappe.get_doc(doc)"),
    "client_insert": _frame(_CLIENT, 200, "insert", "return insert_doc(doc).as_dict()",
                            "insert_doc(doc)"),
    "client_get_list": _frame(_CLIENT, 66, "get_list", "validate_args(args)"),
    "client_get_list_query": _frame(_CLIENT, 67, "get_list", "return frappe.get_list(**args)",
                                    "frappe.get_list(**args)"),
    "get_doc_doctype": _frame(_DOC, 99, "get_doc", 'raise ValueError(\'"doctype" is a required key\')'),
    "rv_fields": _frame(_RV, 95, "validate_args", "validate_fields(data)"),
    "rv_filters": _frame(_RV, 96, "validate_args", "validate_filters(data, data.filters)"),
    "rv_field_invalid": _frame(_RV, 123, "validate_fields", "raise_invalid_field(fieldname)"),
    "rv_filter_invalid": _frame(_RV, 151, "validate_filters", "raise_invalid_field(condition[0])"),
    "rv_raise": _frame(_RV, 184, "raise_invalid_field",
                       'frappe.throw(_("Field not permitted in query") + f": {fieldname}", frappe.DataError)'),
    "get_list": _frame(_INIT, 2004, "get_list",
                       "return frappe.model.db_query.DatabaseQuery(doctype).execute(*args, **kwargs)",
                       "frappe.model.db_query.DatabaseQuery(doctype).execute(*args, **kwargs)"),
    "dbq_execute": _frame("apps/frappe/frappe/model/db_query.py", 193, "execute",
                          "result = self.build_and_run()", "self.build_and_run()"),
    "dbq_perm": _frame("apps/frappe/frappe/model/db_query.py", 176, "execute",
                       "self.check_read_permission(self.doctype, parent_doctype=parent_doctype)"),
    "dbq_perm_check": _frame("apps/frappe/frappe/model/db_query.py", 1021, "check_read_permission",
                             "frappe.has_permission(",),
    "has_perm_raise": _frame(_INIT, 1084, "has_permission", "raise frappe.PermissionError"),
    "new_doc": _frame(_INIT, 1303, "new_doc",
                      "new_doc = get_new_doc(doctype, parent_doc, parentfield, as_dict=as_dict)",
                      "get_new_doc(doctype, parent_doc, parentfield, as_dict=as_dict)"),
    "get_new_doc": _frame("apps/frappe/frappe/model/create_new.py", 29, "get_new_doc",
                          "doc = frappe.get_doc(", None),
    "frappe_get_doc": _frame(_DOC, 106, "get_doc", "controller = get_controller(doctype)",
                             "get_controller(doctype)"),
    "get_controller": _frame(_BASE, 68, "get_controller", "return import_controller(doctype)",
                             "import_controller(doctype)"),
    "import_controller": _frame(_BASE, 93, "import_controller",
                                "module = load_doctype_module(doctype, module_name)",
                                "load_doctype_module(doctype, module_name)"),
    "load_module": _frame("apps/frappe/frappe/modules/utils.py", 247, "load_doctype_module",
                          "raise ImportError(msg) from e"),
    "validate_auth_api": _frame(_AUTH, 618, "validate_auth",
                                "validate_auth_via_api_keys(authorization_header)"),
    "validate_auth_guest": _frame(_AUTH, 626, "validate_auth", "raise frappe.AuthenticationError"),
    "api_keys_token": _frame(_AUTH, 684, "validate_auth_via_api_keys",
                             "validate_api_key_secret(api_key, api_secret, authorization_source)"),
    "api_keys_basic": _frame(_AUTH, 678, "validate_auth_via_api_keys",
                             "validate_api_key_secret(api_key, api_secret, authorization_source)"),
    "api_keys_decode": _frame(_AUTH, 687, "validate_auth_via_api_keys", "frappe.throw("),
    "key_unknown": _frame(_AUTH, 704, "validate_api_key_secret", "raise frappe.AuthenticationError"),
    "key_secret": _frame(_AUTH, 716, "validate_api_key_secret", "raise frappe.AuthenticationError"),
    "http_request": _frame(_AUTH, 44, "__init__", "self.set_session()"),
    "set_session": _frame(_AUTH, 78, "set_session", "frappe.local.login_manager = LoginManager()",
                          "LoginManager()"),
    "login_manager": _frame(_AUTH, 111, "__init__", "if self.login() is False:", "self.login()"),
    "login": _frame(_AUTH, 133, "login", "self.authenticate(user=user, pwd=pwd)"),
    "authenticate": _frame(_AUTH, 268, "authenticate",
                           'self.fail("Invalid login credentials", user=user.name)'),
    "login_fail": _frame(_AUTH, 313, "fail", "raise frappe.AuthenticationError"),
    "rate_apply": _frame("apps/frappe/frappe/rate_limiter.py", 66, "apply", "self.reject()"),
    "rate_reject": _frame("apps/frappe/frappe/rate_limiter.py", 78, "reject",
                          "raise frappe.TooManyRequestsError"),
    "db_deadlock": _frame("apps/frappe/frappe/database/database.py", 236, "sql",
                          "raise frappe.QueryDeadlockError(e) from e"),
    "session_stopped": _frame(_APP, 98, "application",
                              'raise frappe.SessionStopped("Session Stopped")'),
    "cf_validate": _frame("apps/frappe/frappe/custom/doctype/custom_field/custom_field.py", 187,
                          "validate", "frappe.throw("),
    "dt_validate": _frame("apps/frappe/frappe/core/doctype/doctype/doctype.py", 330,
                          "validate", "frappe.throw("),
    "dt_fieldname": _frame("apps/frappe/frappe/core/doctype/doctype/doctype.py", 1232,
                           "scrub_field_names", "frappe.throw("),
    "dt_name": _frame("apps/frappe/frappe/core/doctype/doctype/doctype.py", 1016,
                      "validate_name", "frappe.throw("),
    "dt_autoname": _frame("apps/frappe/frappe/core/doctype/doctype/doctype.py", 1058,
                          "validate_autoname", "frappe.throw("),
}

THROW_TAIL = ["throw", "msgprint", "raise"]
PYMYSQL_CHAIN = ["db_sql", "cur_execute", "cur_query", "conn_query", "conn_result", "conn_read",
                 "conn_packet", "proto_error", "err_raise"]
CONTROLLER = ["run_method", "composer", "runner", "fn"]


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------

def generate_hash():
    """frappe.generate_hash(): 56 hex characters (used for __frappe_exc_id)."""
    return secrets.token_hex(28)


class FrappeError(Exception):
    """A failure as Frappe reports it.

    `frames` are the traceback frames below the endpoint (the endpoint's own frames are
    prefixed when the response is built, from the request context), unless `absolute`.
    `throw` means the error was raised through frappe.throw, which msgprints the message
    with raise_exception (so it appears in `_server_messages` with an exc id).
    """

    def __init__(self, exc_type, message=None, *, frames=(), throw=True, title="Message",
                 exc_str=None, messages=(), cause=None, absolute=False, error_message=None,
                 body=None, status=None, headers=None, cookies="guest", pre=None):
        super().__init__(message)
        qual, default_status = EXC_TYPES.get(exc_type, (exc_type, 500))
        self.exc_type = exc_type
        self.qualname = qual
        self.status = status or default_status
        self.message = message
        self.exc_str = message if exc_str is None else exc_str
        self.frames = list(frames)
        self.throw = throw and message is not None
        self.title = title
        self.messages = list(messages)      # msgprints without raise_exception, in order
        self.cause = cause                  # text of a chained first traceback
        self.absolute = absolute
        self.error_message = error_message
        self.body = body                    # a complete JSON body overriding the default
        self.headers = headers or []
        self.cookies = cookies              # "guest", "clear" (401), "none"
        self.pre = pre or {}                # keys placed before "exception" (login)


class HtmlError(Exception):
    """A non-JSON answer from werkzeug or nginx (404 no site, 413, 405, 502, 504)."""

    def __init__(self, status, body, *, reason=None, server="gunicorn", cookies=False,
                 content_type="text/html; charset=utf-8"):
        super().__init__(status)
        self.status = status
        self.body = body
        self.reason = reason or REASONS.get(status, "ERROR")
        self.server = server
        self.cookies = cookies
        self.content_type = content_type


def werkzeug_page(status, title, description):
    """The HTML body werkzeug renders for an HTTPException."""
    return (f"<!doctype html>\n<html lang=en>\n<title>{status} {title}</title>\n"
            f"<h1>{title}</h1>\n<p>{description}</p>\n")


def nginx_page(status, title):
    """nginx's own error page, as a reverse proxy answers when gunicorn is gone or slow."""
    return (f"<html>\r\n<head><title>{status} {title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {title}</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n"
            "</body>\r\n</html>\r\n")


def throw(message, exc_type="ValidationError", frames=(), title="Message"):
    """frappe.throw(message, exc): the frames given end at the frappe.throw call."""
    return FrappeError(exc_type, message, frames=list(frames) + THROW_TAIL, title=title)


def db_error(errno, text, frames, exc_type="OperationalError", qual=None):
    """A pymysql error raised by MariaDB during `frames` (strict datetime 1292, 1406...).
    Always a 500: Frappe has no mapping for these."""
    err = FrappeError(exc_type, f"({errno}, {text!r})", throw=False, status=500,
                      frames=list(frames) + PYMYSQL_CHAIN)
    if qual:
        err.qualname = qual
    return err


def not_found(doctype, name):
    """DoesNotExistError, 404: only exc_type and _server_messages (09d, 14b)."""
    msg = {"message": f"{doctype} {name} not found", "title": "Message", "indicator": "red",
           "raise_exception": 1, "__frappe_exc_id": generate_hash()}
    return FrappeError("DoesNotExistError", body={
        "exc_type": "DoesNotExistError",
        "_server_messages": json.dumps([json.dumps(msg)])})


class _IntegrityRepr:
    """Prints like pymysql's IntegrityError inside DuplicateEntryError's args tuple."""

    def __init__(self, errno, text):
        self.errno, self.text = errno, text

    def __repr__(self):
        return f"IntegrityError({self.errno}, {self.text!r})"


def duplicate_entry(doctype, name, frames, key="PRIMARY"):
    """DuplicateEntryError 409, raised from db_insert after MariaDB's 1062 (11, 13c, 09b)."""
    text = f"Duplicate entry '{name}' for key '{key}'"
    cause = ("Traceback (most recent call last):\n"
             + "".join(FRAMES[k] for k in ["db_insert_sql"] + PYMYSQL_CHAIN)
             + f"pymysql.err.IntegrityError: (1062, {text!r})\n\n"
             "During handling of the above exception, another exception occurred:\n\n")
    exc_str = str((doctype, name, _IntegrityRepr(1062, text)))
    msg = {"message": f"{doctype} <strong>{name}</strong> already exists",
           "title": "Duplicate Name", "indicator": "red"}
    return FrappeError("DuplicateEntryError", None, exc_str=exc_str, throw=False,
                       frames=list(frames) + ["insert_db", "db_insert_dup"], cause=cause,
                       messages=[msg])


APP_NAME_RE = re.compile(r".*File.*apps/(?P<app>\w+)/(?P=app)/")
APP_PRIORITY = {"frappe": 0, "erpnext": 1, "hrms": 2}


def guess_exc_source(tb):
    """frappe.utils.error.guess_exception_source: the app weighing most in the traceback."""
    apps = collections.Counter()
    for line in reversed(tb.splitlines()):
        m = APP_NAME_RE.match(line)
        if m:
            apps[m.group("app")] += APP_PRIORITY.get(m.group("app"), 0)
    top = apps.most_common(1)
    if top and top[0][0] != "frappe":
        return f"{top[0][0]} (app)"
    return None


def build_traceback(err, prefix):
    """The full traceback text for `err` under an endpoint whose frames are `prefix`."""
    frames = err.frames if err.absolute else list(prefix) + err.frames
    last = f"{err.qualname}: {err.exc_str}" if err.exc_str not in (None, "") else err.qualname
    text = "Traceback (most recent call last):\n"
    text += "".join(FRAMES[k] for k in frames) + last + "\n"
    return (err.cause or "") + text


def raise_message(err):
    """The msgprint frappe.throw added for this error (title, red, raise_exception, id)."""
    return {"message": err.message, "title": err.title, "indicator": "red",
            "raise_exception": 1, "__frappe_exc_id": generate_hash()}


def v1_error_body(err, prefix):
    """The JSON body of an error on /api/resource or /api/method (F15 report_error)."""
    if err.body is not None:
        return err.body
    tb = build_traceback(err, prefix)
    body = dict(err.pre)
    body["exception"] = tb.rstrip("\n").splitlines()[-1]
    body["exc_type"] = err.exc_type
    source = guess_exc_source(tb)
    if source:
        body["_exc_source"] = source
    body["exc"] = json.dumps([tb])
    msgs = list(err.messages) + ([raise_message(err)] if err.throw else [])
    if msgs:
        body["_server_messages"] = json.dumps([json.dumps(m) for m in msgs])
    if err.error_message:
        body["_error_message"] = err.error_message
    return body


def v2_error_body(err, prefix):
    """The /api/v2 error envelope: errors[0] merges the raising msgprint (17b, 17c)."""
    if err.body is not None and "exc_type" in err.body and len(err.body) <= 2:
        err = FrappeError(err.exc_type, _first_message(err.body), frames=[], absolute=True)
    tb = build_traceback(err, prefix)
    first = {"type": err.exc_type, "exception": tb}
    if err.throw:
        first.update(message=err.message, title=err.title, indicator="red")
    body = {"errors": [first]}
    if err.messages:
        body["messages"] = err.messages
    return body


def _first_message(body):
    """The message inside a prebuilt body's _server_messages, if any."""
    try:
        return json.loads(json.loads(body["_server_messages"])[0])["message"]
    except (KeyError, ValueError, IndexError, TypeError):
        return None


# ---------------------------------------------------------------------------------------
# Values: Frappe's cint/flt/cstr, dateutil-like parsing, MariaDB's strict datetime columns
# ---------------------------------------------------------------------------------------

def cint(value, default=0):
    """frappe.utils.cint: int(float(x)), 0 when that fails; True -> 1."""
    try:
        if isinstance(value, str):
            value = value.replace(",", "").strip()
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return default


def flt(value):
    """frappe.utils.flt: float, commas removed, 0.0 when that fails."""
    try:
        if isinstance(value, str):
            value = value.replace(",", "").strip()
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.0


def cstr(value):
    """Text as pymysql would write it into a varchar/text column."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class ParseFail(Exception):
    """get_datetime() failed: (exc_type, message, frames) of the 500 it causes."""

    def __init__(self, exc_type, message, frames):
        super().__init__(message)
        self.exc_type, self.message, self.frames = exc_type, message, frames


_ISO_RE = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$")
_NUM_RE = re.compile(
    r"^\s*(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})(?:[ T,]+(\d{1,2}):(\d{1,2})(?::(\d{1,2})"
    r"(?:\.(\d{1,9}))?)?\s*([AaPp][Mm])?)?\s*$")


def _tz_of(text):
    """A fixed-offset tzinfo for 'Z', '+03:00', '+0300' or '+03'."""
    if text in (None, ""):
        return None
    if text == "Z":
        return dt.timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
    return dt.timezone(sign * dt.timedelta(minutes=minutes))


def _make_dt(text, y, mo, d, h, mi, s, frac, tz=None):
    """datetime from parts, raising dateutil's ParserError text for impossible values."""
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                           micro, tzinfo=tz)
    except ValueError as e:
        raise ParseFail("ParserError", f"{e}: {text}", ["get_datetime", "dateutil_parse",
                                                         "dateutil_raise"])


def parse_datetime_like_frappe(value):
    """frappe.utils.get_datetime(value) for a client-sent value, dateutil fallback included.

    Month-first for ambiguous numeric dates, day-first when the first number cannot be a
    month (observed: "25/11/2026 09:00" -> 25 Nov, "05/09/2046" -> 9 May). Returns a naive
    or aware datetime, None for "" and 0000-00-00, or raises ParseFail.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
        raise ParseFail("AttributeError", f"'{type(value).__name__}' object has no attribute "
                        "'startswith'", ["get_datetime_invalid", "is_invalid_date"])
    if not value or str(value).startswith(("0001-01-01", "0000-00-00")):
        return None
    if not isinstance(value, str):
        raise ParseFail("TypeError", f"Parser must be a string or character stream, not "
                        f"{type(value).__name__}", ["get_datetime", "dateutil_parse"])
    m = _ISO_RE.match(value)
    if m:
        y, mo, d, h, mi, s, frac, tz = m.groups()
        return _make_dt(value, y, mo, d, h, mi, s, frac, _tz_of(tz))
    m = _NUM_RE.match(value)
    if m:
        return _numeric_date(value, m.groups())
    raise ParseFail("ParserError", f"Unknown string format: {value}",
                    ["get_datetime", "dateutil_parse", "dateutil_raise"])


def _numeric_date(text, groups):
    """dd/mm/yyyy, mm/dd/yyyy or yyyy/mm/dd with an optional time, as dateutil reads them."""
    a, b, c, h, mi, s, frac, ampm = groups
    if len(a) == 4:
        y, mo, d = a, b, c
    elif int(a) > 12:
        d, mo, y = a, b, c
    else:
        mo, d, y = a, b, c
    if len(y) <= 2:
        y = str(2000 + int(y))
    if ampm and h:
        h = str(int(h) % 12 + (12 if ampm.lower() == "pm" else 0))
    return _make_dt(text, y, mo, d, h, mi, s, frac)


_MARIADB_DT_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{1,2})"
                            r"(?::(\d{1,2})(?:\.(\d{1,6}))?)?)?$")


def mariadb_datetime(value):
    """What a strict MariaDB datetime(6) column stores for a client string, or None if the
    string is rejected (error 1292). Returns the text a later SELECT gives back."""
    m = _MARIADB_DT_RE.match(value.strip()) if isinstance(value, str) else None
    if not m:
        return None
    y, mo, d, h, mi, s, frac = m.groups()
    try:
        stamp = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                            int((frac or "0").ljust(6, "0")))
    except ValueError:
        return None
    return str(stamp)


def mariadb_date(value):
    """A Date column's text for a client string, or None when MariaDB rejects it."""
    stored = mariadb_datetime(value)
    return stored[:10] if stored else None


def mariadb_time(value):
    """A Time column's text (str(timedelta), e.g. "9:00:00") or None when rejected."""
    m = re.match(r"^\s*(\d{1,3}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6}))?)?\s*$", str(value))
    if not m:
        return None
    h, mi, s, frac = m.groups()
    delta = dt.timedelta(hours=int(h), minutes=int(mi), seconds=int(s or 0),
                         microseconds=int((frac or "0").ljust(6, "0")))
    return str(delta)


def like_to_regex(pattern):
    """SQL LIKE (case-insensitive collation) as a compiled regex."""
    out = []
    for ch in str(pattern):
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("^" + "".join(out) + "$", re.S | re.I)


def scrub(text):
    """frappe.scrub: lower case, spaces and hyphens to underscores."""
    return str(text).replace(" ", "_").replace("-", "_").lower()


def random_name(length=10):
    """A 10 character base-36 name, like Frappe's hash autoname and child-row names."""
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    return "".join(random.choice(alphabet) for _ in range(length))


# ---------------------------------------------------------------------------------------
# DocType metadata
# ---------------------------------------------------------------------------------------

NO_DATA_TYPES = {"Section Break", "Column Break", "Tab Break", "HTML", "Button", "Heading",
                 "Fold", "Table", "Table MultiSelect", "Image"}
INT_TYPES = {"Int", "Check", "Long Int"}
FLOAT_TYPES = {"Float", "Currency", "Percent"}
VARCHAR_TYPES = {"Data", "Link", "Select", "Dynamic Link", "Read Only", "Attach", "Attach Image",
                 "Color", "Phone", "Autocomplete", "Password", "Barcode"}
TEXT_TYPES = {"Small Text", "Text"}          # MariaDB `text`: at most 65535 bytes
TEXT_MAX_BYTES = 65535
INT_MAX = 2147483647
STANDARD_LABELS = {"name": "ID", "owner": "Created By", "creation": "Created On",
                   "modified": "Last Updated On", "modified_by": "Last Updated By",
                   "docstatus": "Document Status", "idx": "Index"}
MODULES = {"Core", "Custom", "Desk", "Website", "Integrations", "Automation", "Email",
           "Contacts", "Setup", "HR", "Payroll", "Accounts", "Selling", "Buying", "Stock",
           "Projects", "Support", "Utilities", "CRM", "Manufacturing", "Assets", "Portal",
           "Regional", "Communication", "Geo", "Printing", "Social", "Workflow",
           "Biotime Api Integration"}


class Field:
    """One DocField: only what validation, storage and output need."""

    KEYS = ("fieldname", "label", "fieldtype", "options", "reqd", "unique", "default",
            "fetch_from", "permlevel", "length", "read_only", "in_list_view")

    def __init__(self, fieldname, fieldtype="Data", label=None, **kw):
        self.fieldname = fieldname
        self.fieldtype = fieldtype
        self.label = label if label is not None else fieldname.replace("_", " ").title()
        self.options = kw.get("options")
        self.reqd = cint(kw.get("reqd"))
        self.unique = cint(kw.get("unique"))
        self.default = kw.get("default")
        self.fetch_from = kw.get("fetch_from")
        self.permlevel = cint(kw.get("permlevel"))
        self.length = cint(kw.get("length"))
        self.read_only = cint(kw.get("read_only"))
        self.in_list_view = cint(kw.get("in_list_view"))
        self.extra = {k: v for k, v in kw.items() if k not in self.KEYS}

    @classmethod
    def from_dict(cls, d):
        """A Field from a DocField/Custom Field dict sent by a client."""
        kw = {k: v for k, v in d.items() if k not in ("fieldname", "fieldtype", "label")}
        return cls(d["fieldname"], d.get("fieldtype") or "Data", d.get("label"), **kw)

    @property
    def is_data(self):
        return self.fieldtype not in NO_DATA_TYPES

    def select_options(self):
        """The Select options list ("" first when the options start with a newline)."""
        return str(self.options or "").split("\n")


class Meta:
    """A DocType: fields, naming, sorting, permissions and its DocType document."""

    def __init__(self, name, fields, *, module="HR", custom=0, autoname=None, issingle=0,
                 sort=("modified", "DESC"), permissions=(), title_field=None,
                 naming_rule="", creation=None, extra=None):
        self.name = name
        self.module = module
        self.custom = custom
        self.autoname = autoname
        self.issingle = issingle
        self.sort_field, self.sort_order = sort
        self.permissions = permissions
        self.title_field = title_field
        self.naming_rule = naming_rule
        self.creation = creation or "2024-01-01 00:00:00.000000"
        self.modified = self.creation
        self.extra = dict(extra or {})
        self.child_names = {}
        self.set_fields(fields)

    def set_fields(self, fields):
        """Replace the field list (DocType PUT, Custom Field) and rebuild lookups."""
        self.fields = list(fields)
        self.by_name = {f.fieldname: f for f in self.fields}
        self.data_fields = [f for f in self.fields if f.is_data]
        self.fetch_map = collections.defaultdict(list)
        for f in self.data_fields:
            if f.fetch_from and "." in f.fetch_from:
                link, source = f.fetch_from.split(".", 1)
                self.fetch_map[link].append((f.fieldname, source))

    def field(self, fieldname):
        return self.by_name.get(fieldname)

    def has_column(self, fieldname):
        """True for standard columns and data fields (what a SELECT may name)."""
        f = self.by_name.get(fieldname)
        return fieldname in LIST_STANDARD or (f is not None and f.is_data)

    def label(self, fieldname):
        f = self.by_name.get(fieldname)
        if f is not None:
            return f.label
        return STANDARD_LABELS.get(fieldname, fieldname)

    @property
    def permissions(self):
        return self._permissions

    @permissions.setter
    def permissions(self, rows):
        self._permissions = [dict(p) for p in rows]
        self._roles = {}

    def roles_for(self, ptype, permlevel=0):
        """Roles granting `ptype` at `permlevel` (DocPerm rows), cached."""
        key = (ptype, permlevel)
        if key not in self._roles:
            self._roles[key] = {p.get("role") for p in self._permissions
                                if cint(p.get("permlevel")) == permlevel and cint(p.get(ptype))}
        return self._roles[key]

    def levels(self):
        return sorted({f.permlevel for f in self.data_fields if f.permlevel})


def _perm(role, level=0, **flags):
    base = {"role": role, "permlevel": level, "read": 1, "write": 1, "create": 1, "delete": 1}
    base.update(flags)
    return base


HR_PERMS = [_perm("System Manager"), _perm("HR Manager"), _perm("HR User")]


def employee_meta():
    fields = [Field("employee", "Data", "Employee"),
              Field("naming_series", "Select", "Series", options="HR-EMP-"),
              Field("first_name", "Data", "First Name"),
              Field("middle_name", "Data", "Middle Name"),
              Field("last_name", "Data", "Last Name"),
              Field("employee_name", "Data", "Full Name", read_only=1),
              Field("gender", "Link", "Gender", options="Gender"),
              Field("date_of_birth", "Date", "Date of Birth"),
              Field("date_of_joining", "Date", "Date of Joining"),
              Field("relieving_date", "Date", "Relieving Date"),
              Field("status", "Select", "Status", options="Active\nInactive\nSuspended\nLeft",
                    default="Active", reqd=1),
              Field("user_id", "Link", "User ID", options="User"),
              Field("company", "Link", "Company", options="Company"),
              Field("department", "Link", "Department", options="Department"),
              Field("designation", "Link", "Designation", options="Designation"),
              Field("branch", "Link", "Branch", options="Branch"),
              Field("attendance_device_id", "Data",
                    "Attendance Device ID (Biometric/RF tag ID)", unique=1),
              Field("default_shift", "Link", "Default Shift", options="Shift Type"),
              Field("holiday_list", "Link", "Holiday List", options="Holiday List"),
              Field("cell_number", "Data", "Mobile"),
              Field("company_email", "Data", "Company Email"),
              Field("personal_email", "Data", "Personal Email")]
    perms = HR_PERMS + [_perm("Employee", write=0, create=0, delete=0)]
    return Meta("Employee", fields, module="Setup", autoname="naming_series:",
                sort=("name", "ASC"), permissions=perms, title_field="employee_name")


def checkin_meta():
    fields = [Field("employee", "Link", "Employee", options="Employee", reqd=1),
              Field("employee_name", "Data", "Employee Name", read_only=1,
                    fetch_from="employee.employee_name"),
              Field("log_type", "Select", "Log Type", options="\nIN\nOUT"),
              Field("shift", "Link", "Shift", options="Shift Type", read_only=1),
              Field("column_break_4", "Column Break", ""),
              Field("time", "Datetime", "Time", reqd=1, default="Now", permlevel=1),
              Field("device_id", "Data", "Location / Device ID"),
              Field("skip_auto_attendance", "Check", "Skip Auto Attendance", default="0"),
              Field("attendance", "Link", "Attendance Marked", options="Attendance", read_only=1),
              Field("shift_start", "Datetime", "Shift Start"),
              Field("shift_end", "Datetime", "Shift End"),
              Field("shift_actual_start", "Datetime", "Shift Actual Start"),
              Field("shift_actual_end", "Datetime", "Shift Actual End"),
              Field("location_section", "Section Break", "Location"),
              Field("latitude", "Float", "Latitude", read_only=1),
              Field("longitude", "Float", "Longitude", read_only=1),
              Field("geolocation", "Geolocation", "Geolocation", read_only=1),
              Field("offshift", "Check", "Off-Shift", read_only=1)]
    perms = [_perm(r, 0) for r in ("System Manager", "HR Manager", "HR User")]
    perms += [_perm(r, 1, create=0, delete=0) for r in ("System Manager", "HR Manager", "HR User")]
    perms += [_perm("Employee", 0, delete=0), _perm("Employee", 1, write=0, create=0, delete=0)]
    return Meta(CHECKIN, fields, autoname="EMP-CKIN-.MM.-.YYYY.-.######",
                sort=("modified", "ASC"), permissions=perms, title_field="employee_name")


def shift_type_meta():
    fields = [Field("start_time", "Time", "Start Time", reqd=1),
              Field("end_time", "Time", "End Time", reqd=1),
              Field("color", "Select", "Color",
                    options="Blue\nCyan\nFuchsia\nGreen\nLime\nOrange\nPink\nRed\nViolet\nYellow",
                    default="Blue"),
              Field("holiday_list", "Link", "Holiday List", options="Holiday List"),
              Field("enable_auto_attendance", "Check", "Enable Auto Attendance", default="0"),
              Field("determine_check_in_and_check_out", "Select",
                    "Determine Check-in and Check-out",
                    options="Alternating entries as IN and OUT during the same shift\n"
                            "Strictly based on Log Type in Employee Checkin",
                    default="Alternating entries as IN and OUT during the same shift"),
              Field("working_hours_calculation_based_on", "Select",
                    "Working Hours Calculation Based On",
                    options="First Check-in and Last Check-out\nEvery Valid Check-in and Check-out",
                    default="First Check-in and Last Check-out"),
              Field("begin_check_in_before_shift_start_time", "Int",
                    "Begin check-in before shift start time (in minutes)", default="60"),
              Field("allow_check_out_after_shift_end_time", "Int",
                    "Allow check-out after shift end time (in minutes)", default="60"),
              Field("mark_auto_attendance_on_holidays", "Check",
                    "Mark Auto Attendance on Holidays", default="0"),
              Field("working_hours_threshold_for_half_day", "Float",
                    "Working Hours Threshold for Half Day"),
              Field("working_hours_threshold_for_absent", "Float",
                    "Working Hours Threshold for Absent"),
              Field("process_attendance_after", "Date", "Process Attendance After"),
              Field("last_sync_of_checkin", "Datetime", "Last Sync of Checkin"),
              Field("auto_update_last_sync", "Check",
                    "Automatically update Last Sync of Checkin", default="0"),
              Field("enable_late_entry_marking", "Check", "Enable Late Entry Marking", default="0"),
              Field("late_entry_grace_period", "Int", "Late Entry Grace Period", default="0"),
              Field("enable_early_exit_marking", "Check", "Enable Early Exit Marking",
                    default="0"),
              Field("early_exit_grace_period", "Int", "Early Exit Grace Period", default="0")]
    return Meta("Shift Type", fields, autoname="Prompt", permissions=HR_PERMS)


def hr_settings_meta():
    fields = [Field("standard_working_hours", "Float", "Standard Working Hours"),
              Field("allow_geolocation_tracking", "Check", "Allow Geolocation Tracking",
                    default="0"),
              Field("emp_created_by", "Select", "Employee Naming By",
                    options="Naming Series\nEmployee Number\nFull Name", default="Naming Series")]
    return Meta("HR Settings", fields, issingle=1,
                permissions=[_perm("HR Manager"), _perm("System Manager")])


def user_meta():
    fields = [Field("email", "Data", "Email", reqd=1), Field("first_name", "Data", "First Name"),
              Field("full_name", "Data", "Full Name"), Field("enabled", "Check", "Enabled"),
              Field("user_type", "Select", "User Type", options="System User\nWebsite User"),
              Field("api_key", "Data", "API Key")]
    return Meta("User", fields, module="Core", autoname="field:email",
                permissions=[_perm("System Manager")])


def custom_field_meta():
    fields = [Field("dt", "Link", "DocType", options="DocType", reqd=1),
              Field("label", "Data", "Label"), Field("fieldname", "Data", "Fieldname"),
              Field("insert_after", "Select", "Insert After"),
              Field("fieldtype", "Select", "Field Type", default="Data"),
              Field("options", "Small Text", "Options"),
              Field("fetch_from", "Small Text", "Fetch From"),
              Field("default", "Text", "Default Value"),
              Field("description", "Text", "Description"),
              Field("reqd", "Check", "Is Mandatory Field"), Field("unique", "Check", "Unique"),
              Field("read_only", "Check", "Read Only"), Field("hidden", "Check", "Hidden"),
              Field("in_list_view", "Check", "In List View"),
              Field("permlevel", "Int", "Permission Level"), Field("length", "Int", "Length")]
    return Meta("Custom Field", fields, module="Custom", autoname="custom_field",
                permissions=[_perm("System Manager")])


def simple_meta(name, module="HR"):
    """A doctype that only has to exist (Link targets such as Company or Attendance)."""
    return Meta(name, [Field("title", "Data", "Title")], module=module, autoname="Prompt",
                permissions=HR_PERMS)


def device_log_meta():
    """BioTime Device Log: the original biotime_api_integration schema (CONTRACT.md §4) plus
    sync_error, named by `id`."""
    data = ["id:id", "emp:Employee Id on Biotime:Int",
            "employee_id_on_system:Employee Id on System:Link:Employee",
            "punch_time:Punch Time:Datetime", "emp_code:Attendance Device ID (Biometric/RF tag ID)",
            "first_name:First Name", "last_name:Last Name", "punch_state:Punch State",
            "department:Department", "position:Position",
            "punch_state_display:Punch State Display", "verify_type:Verify Type",
            "verify_type_display:Verify Type Display", "terminal_sn:Device ID",
            "temperature:Device Temperature", "terminal_alias:Device Alias",
            "work_code:Work Code", "gps_location:GPS Location", "area_alias:Area Alias",
            "is_mask:Is Mask", "upload_time:Upload Time:Datetime", "synced:Synced:Check",
            "employee_check_in:Employee Checkin", "sync_error:Sync Error:Small Text"]
    fields = []
    for spec in data:
        parts = spec.split(":")
        fieldtype = parts[2] if len(parts) > 2 else "Data"
        options = parts[3] if len(parts) > 3 else None
        fields.append(Field(parts[0], fieldtype, parts[1], options=options,
                            unique=1 if parts[0] == "id" else 0,
                            default="0" if fieldtype == "Check" else None))
    return Meta(DEVICE_LOG, fields, module="HR", custom=1, autoname="field:id",
                naming_rule="By fieldname", permissions=[_perm("System Manager")])


def sync_logs_meta():
    fields = [Field("title", "Data", "Title"), Field("response", "Small Text", "Response")]
    return Meta(SYNC_LOGS, fields, module="HR", custom=1, autoname="format:{title}-{####}",
                naming_rule="Expression", permissions=[_perm("System Manager")])


def builtin_metas():
    metas = [employee_meta(), checkin_meta(), shift_type_meta(), hr_settings_meta(),
             user_meta(), custom_field_meta()]
    metas += [simple_meta(n) for n in ("Attendance", "Company", "Department", "Designation",
                                       "Branch", "Holiday List", "Gender")]
    return {m.name: m for m in metas}


# DocType document templates, in the key order the real site answers (09, 09c).
DOCTYPE_DEFAULTS = [
    ("issingle", 0), ("is_virtual", 0), ("is_tree", 0), ("istable", 0), ("editable_grid", 1),
    ("track_changes", 0), ("module", None), ("autoname", None), ("naming_rule", None),
    ("sort_field", "modified"), ("sort_order", "DESC"), ("read_only", 0), ("in_create", 0),
    ("allow_copy", 0), ("allow_rename", 1), ("allow_import", 0), ("hide_toolbar", 0),
    ("track_seen", 0), ("max_attachments", 0), ("document_type", ""), ("engine", "InnoDB"),
    ("is_submittable", 0), ("show_name_in_global_search", 0), ("custom", 0), ("beta", 0),
    ("has_web_view", 0), ("allow_guest_to_view", 0), ("email_append_to", 0),
    ("show_title_field_in_link", 0), ("translated_doctype", 0), ("is_calendar_and_gantt", 0),
    ("quick_entry", 0), ("grid_page_length", 50), ("track_views", 0),
    ("queue_in_background", 0), ("allow_events_in_timeline", 0), ("allow_auto_repeat", 0),
    ("make_attachments_public", 0), ("force_re_route_to_default_view", 0),
    ("show_preview_popup", 0), ("protect_attached_files", 0), ("index_web_pages_for_search", 1),
    ("row_format", "Dynamic")]
DOCFIELD_HEAD = ("fieldname", "label", "fieldtype")
DOCFIELD_EXTRA = ("options", "default", "fetch_from", "depends_on", "description", "insert_after")
DOCFIELD_DEFAULTS = [
    ("search_index", 0), ("show_dashboard", 0), ("hidden", 0), ("set_only_once", 0),
    ("allow_in_quick_entry", 0), ("print_hide", 0), ("report_hide", 0), ("reqd", 0), ("bold", 0),
    ("in_global_search", 0), ("collapsible", 0), ("unique", 0), ("no_copy", 0),
    ("allow_on_submit", 0), ("show_preview_popup", 0), ("permlevel", 0),
    ("ignore_user_permissions", 0), ("columns", 0), ("in_list_view", 0), ("fetch_if_empty", 0),
    ("in_filter", 0), ("remember_last_selected_value", 0), ("ignore_xss_filter", 0),
    ("print_hide_if_no_value", 0), ("allow_bulk_edit", 0), ("in_standard_filter", 0),
    ("in_preview", 0), ("read_only", 0), ("precision", ""), ("length", 0), ("translatable", 0),
    ("hide_border", 0), ("hide_days", 0), ("hide_seconds", 0), ("non_negative", 0),
    ("is_virtual", 0), ("sort_options", 0), ("show_on_timeline", 0),
    ("make_attachment_public", 0)]
DOCPERM_DEFAULTS = [
    ("permlevel", 0), ("role", None), ("read", 1), ("write", 1), ("create", 1), ("submit", 0),
    ("cancel", 0), ("delete", 1), ("amend", 0), ("report", 1), ("export", 1), ("import", 0),
    ("share", 1), ("print", 1), ("email", 1), ("if_owner", 0), ("select", 0)]


def _child_row(meta, parentfield, idx, values, defaults, head, doctype, owner, unsaved):
    """A child table row (DocField / DocPerm) of a DocType document."""
    key = (parentfield, idx)
    name = meta.child_names.setdefault(key, random_name())
    row = {"name": name, "creation": meta.creation, "modified": meta.creation,
           "modified_by": owner, "owner": owner, "docstatus": 0, "parent": meta.name,
           "parentfield": parentfield, "parenttype": "DocType", "idx": idx}
    for k in head:
        if values.get(k) is not None:
            row[k] = values[k]
    for k, default in defaults:
        if k == "show_preview_popup" and unsaved:
            continue
        if k == "role":
            row[k] = values.get("role")
            continue
        row[k] = values.get(k, default)
    row["doctype"] = doctype
    if unsaved:
        row["__unsaved"] = 1
    return row


def _field_values(f):
    values = {"fieldname": f.fieldname, "label": f.label, "fieldtype": f.fieldtype,
              "options": f.options, "default": f.default, "fetch_from": f.fetch_from,
              "reqd": f.reqd, "unique": f.unique, "permlevel": f.permlevel, "length": f.length,
              "read_only": f.read_only, "in_list_view": f.in_list_view}
    values.update(f.extra)
    return values


def doctype_document(meta, owner="Administrator", unsaved=False):
    """The DocType document for `meta` as GET /api/resource/DocType/<name> returns it;
    `unsaved` gives the insert echo (09: rows carry __unsaved, no show_preview_popup)."""
    doc = {"name": meta.name, "creation": meta.creation, "modified": meta.modified,
           "modified_by": owner, "owner": owner, "docstatus": 0, "idx": 0}
    given = {"module": meta.module, "autoname": meta.autoname, "naming_rule": meta.naming_rule,
             "custom": meta.custom, "issingle": meta.issingle, "sort_field": meta.sort_field,
             "sort_order": meta.sort_order}
    given.update(meta.extra)
    for k, default in DOCTYPE_DEFAULTS:
        value = given.get(k, default)
        if value is not None:
            doc[k] = value
    if meta.title_field:
        doc["title_field"] = meta.title_field
    doc["doctype"] = "DocType"
    doc["fields"] = [_child_row(meta, "fields", i, _field_values(f), DOCFIELD_DEFAULTS,
                                DOCFIELD_HEAD + DOCFIELD_EXTRA, "DocField", owner, unsaved)
                     for i, f in enumerate(meta.fields, 1)]
    doc["actions"], doc["links"], doc["states"] = [], [], []
    doc["permissions"] = [_child_row(meta, "permissions", i, p, DOCPERM_DEFAULTS, (),
                                     "DocPerm", owner, unsaved)
                          for i, p in enumerate(meta.permissions, 1)]
    return doc


# ---------------------------------------------------------------------------------------
# Store: documents per doctype with the indexes MariaDB would use. String comparisons in
# MariaDB's utf8mb4 *_ci collations ignore case, so names and keys are indexed folded.
# ---------------------------------------------------------------------------------------

def fold(value):
    return cstr(value).lower()


class Table:
    """The documents of one doctype, insertion ordered, with a case-folded name index."""

    def __init__(self):
        self.docs = {}
        self.ci = {}

    def get(self, name):
        key = self.ci.get(fold(name))
        return self.docs.get(key) if key is not None else None


class Store:
    """Documents, doctype metadata, naming-series counters and secondary indexes."""

    def __init__(self):
        self.metas = builtin_metas()
        self.tables = collections.defaultdict(Table)
        self.series = {}
        self.autoinc = collections.Counter()
        self.singles = {"HR Settings": {"standard_working_hours": 0.0,
                                        "allow_geolocation_tracking": 0,
                                        "emp_created_by": "Naming Series"}}
        self.checkin_keys = collections.defaultdict(list)   # (employee, time, log_type)
        self.unique = collections.defaultdict(dict)         # (doctype, field) -> value -> name
        self._employee_index = {}
        self.sessions = {}

    # -- metadata
    def meta(self, doctype):
        return self.metas.get(doctype)

    def set_doctypes_present(self, present, owner="Administrator"):
        """Create (or drop, with their documents) the two custom doctypes of the contract."""
        for make in (device_log_meta, sync_logs_meta):
            meta = make()
            if present and meta.name not in self.metas:
                self.metas[meta.name] = meta
            elif not present and meta.name in self.metas:
                del self.metas[meta.name]
                self.tables.pop(meta.name, None)

    # -- documents
    def table(self, doctype):
        return self.tables[doctype]

    def get(self, doctype, name):
        if name is None:
            return None
        return self.tables[doctype].get(name) if doctype in self.tables else None

    def add(self, doctype, doc):
        """Store `doc` (already validated) and index it."""
        table = self.tables[doctype]
        table.docs[doc["name"]] = doc
        table.ci[fold(doc["name"])] = doc["name"]
        self._index(doctype, doc, add=True)

    def remove(self, doctype, name):
        """Remove and return the document called `name` (any case), or None."""
        table = self.tables.get(doctype)
        key = table.ci.get(fold(name)) if table else None
        if key is None:
            return None
        doc = table.docs.pop(key)
        del table.ci[fold(key)]
        self._index(doctype, doc, add=False)
        return doc

    def _index(self, doctype, doc, add):
        if doctype == CHECKIN:
            key = checkin_key(doc.get("employee"), doc.get("time"), doc.get("log_type"))
            names = self.checkin_keys[key]
            if add:
                names.append(doc["name"])
            elif doc["name"] in names:
                names.remove(doc["name"])
        elif doctype == "Employee":
            self._employee_index.clear()
        meta = self.metas.get(doctype)
        for f in (meta.data_fields if meta else ()):
            if f.unique and doc.get(f.fieldname) not in (None, ""):
                index = self.unique[(doctype, f.fieldname)]
                value = fold(doc[f.fieldname])
                if add:
                    index[value] = doc["name"]
                elif index.get(value) == doc["name"]:
                    del index[value]

    def checkin_duplicate(self, employee, time_text, log_type, exclude=None):
        """The oldest checkin with the same employee, time and log_type (HRMS's key)."""
        for name in self.checkin_keys.get(checkin_key(employee, time_text, log_type), ()):
            if name != exclude:
                return self.get(CHECKIN, name)
        return None

    def employees_by(self, fieldname, value):
        """Employee documents whose `fieldname` equals `value` (case-insensitive)."""
        index = self._employee_index.get(fieldname)
        if index is None:
            index = collections.defaultdict(list)
            for doc in self.tables["Employee"].docs.values():
                if doc.get(fieldname) not in (None, ""):
                    index[fold(doc[fieldname])].append(doc)
            self._employee_index[fieldname] = index
        return index.get(fold(value), [])

    def counts(self):
        return {dt_: len(t.docs) for dt_, t in self.tables.items() if t.docs}


def checkin_key(employee, time_text, log_type):
    return (fold(employee), cstr(time_text)[:19], fold(log_type))


class Txn:
    """One request's writes. Frappe runs a request in one DB transaction: an exception
    rolls everything back (insert_many is all-or-nothing), and a GET never commits."""

    def __init__(self, store):
        self.store = store
        self.undo = []
        self.series = dict(store.series)
        self.autoinc = collections.Counter(store.autoinc)
        self.singles = json.loads(json.dumps(store.singles))
        self.wrote = False

    def insert(self, doctype, doc):
        self.store.add(doctype, doc)
        self.undo.append((doctype, doc["name"], None))
        self.wrote = True

    def replace(self, doctype, name, doc):
        old = self.store.remove(doctype, name)
        self.store.add(doctype, doc)
        self.undo.append((doctype, doc["name"], old))
        self.wrote = True

    def delete(self, doctype, name):
        old = self.store.remove(doctype, name)
        if old is not None:
            self.undo.append((doctype, None, old))
            self.wrote = True
        return old

    def rollback(self):
        """Undo every write of this request, counters included."""
        for doctype, name, old in reversed(self.undo):
            if name is not None:
                self.store.remove(doctype, name)
            if old is not None:
                self.store.add(doctype, old)
        self.store.series = self.series
        self.store.autoinc = self.autoinc
        self.store.singles = self.singles
        self.undo = []


# ---------------------------------------------------------------------------------------
# Request context
# ---------------------------------------------------------------------------------------

class Ctx:
    """Who is asking, on which site, through which endpoint, inside which transaction."""

    def __init__(self, sim, user, http_method, path, site_url, api="v1"):
        self.sim = sim
        self.store = sim.store
        self.user = user
        self.roles = set(sim.config["api_user_roles"]) if user == sim.config["api_user"] else set()
        self.http_method = http_method
        self.path = path
        self.site_url = site_url
        self.api = api
        self.prefix = []         # traceback frames of the endpoint
        self.txn = None
        self.rejects = []        # reject_doc faults applying to this request
        self.docs_written = 0

    @property
    def is_admin(self):
        return self.user == "Administrator"

    def now(self):
        return self.sim.now()

    def has_perm(self, meta, ptype):
        """Doctype-level permission. Guest never has any; others only when enforced."""
        if self.user == "Guest":
            return False
        if self.is_admin or not self.sim.config["enforce_permissions"]:
            return True
        return bool(self.roles & meta.roles_for(ptype))

    def can_level(self, meta, level, ptype):
        """Field-level (permlevel) permission: Frappe applies it to every API user."""
        if self.is_admin or level == 0:
            return True
        return bool(self.roles & meta.roles_for(ptype, level))

    def readable(self, meta, fieldname):
        f = meta.field(fieldname)
        return f is None or self.can_level(meta, f.permlevel, "read")


# ---------------------------------------------------------------------------------------
# Document pipeline: Document.insert() / save() and the HRMS Employee Checkin controller
# ---------------------------------------------------------------------------------------

STEP_FRAMES = {
    "insert": {"links": "insert_links", "perm": "insert_perm", "rbsm": "insert_rbsm",
               "validate": "insert_validate", "db": ["insert_db", "db_insert_sql"]},
    "save": {"links": "save_links", "perm": "save_perm", "rbsm": "save_rbsm",
             "validate": "save_validate", "db": ["save_db", "db_update_sql"]},
}
PROTECTED_KEYS = {"name", "doctype", "owner", "creation", "modified", "modified_by",
                  "docstatus", "idx", "flags", "__islocal", "__unsaved"}


class DocWriter:
    """Runs one document through Frappe's insert/save pipeline, in Frappe's order:
    links -> permission -> naming -> permlevel reset -> controller (before_validate,
    validate) -> mandatory/select/length -> database (strict columns, keys)."""

    def __init__(self, ctx, meta, call_frames, mode="insert", raw=None):
        self.ctx = ctx
        self.store = ctx.store
        self.meta = meta
        self.call = list(call_frames)
        self.mode = mode
        self.steps = STEP_FRAMES[mode]
        self.values = {}
        self.changed = set()
        self.name = None
        self.raw = raw or {}
        self.existing = None
        self.aware_time = False
        self.now = ctx.now()              # one clock reading per document, like Frappe's
        self.now_str = str(self.now)      # set_user_and_timestamp
        self.stored = None

    # -- entry points
    def insert(self, data):
        """Insert a new document from client data; returns the stored row (see echo())."""
        self._new_doc(data)
        self._validate_links()
        self._check_permission("create")
        self._set_name(data)
        self._reset_higher_permlevels()
        self._run_controller()
        self._framework_validate()
        self.stored = self._db_write()
        self._after_insert(self.stored)
        return self.stored

    def update(self, name, data):
        """Apply a partial update (PUT) to an existing document; returns the stored row."""
        self.existing = self.store.get(self.meta.name, name)
        if self.existing is None:
            raise not_found(self.meta.name, name)
        self.name = self.existing["name"]
        self.values = {f.fieldname: self.existing.get(f.fieldname) for f in self.meta.data_fields}
        self._check_permission("write")
        for key, value in data.items():
            if self.meta.field(key) is not None and key not in PROTECTED_KEYS:
                self.values[key] = value
                self.changed.add(key)
        self._validate_links()
        self._check_if_latest(data)
        self._reset_higher_permlevels()
        self._run_controller()
        self._framework_validate()
        self.stored = self._db_write()
        return self.stored

    # -- helpers
    def _frames(self, *keys):
        return self.call + list(keys)

    def _controller_frames(self, *keys):
        return self._frames(self.steps["rbsm"], "rbsm_validate", *CONTROLLER, *keys)

    def _new_doc(self, data):
        """frappe.new_doc(doctype, **data): defaults, then the client's known fields.
        Unknown keys are dropped; None means "use the default" (update_if_missing)."""
        for f in self.meta.data_fields:
            value = data.get(f.fieldname)
            if value is None:
                value = self._default(f, self.now_str)
            self.values[f.fieldname] = value
            self.changed.add(f.fieldname)

    @staticmethod
    def _default(f, now):
        if f.default in ("Now", "now"):
            return now
        if f.default in ("Today", "today"):
            return now[:10]
        if f.default is not None:
            return f.default
        if f.fieldtype == "Select" and f.options:
            return f.select_options()[0]
        return None

    def _validate_links(self):
        """Link fields must point at existing documents, except links that other fields
        fetch from: Frappe skips those when the target is missing (observed, 15j)."""
        invalid = []
        for f in self.meta.data_fields:
            if f.fieldtype != "Link" or self.values.get(f.fieldname) in (None, ""):
                continue
            value = self.values[f.fieldname]
            target = self._link_target(f.options, value)
            fetches = self.meta.fetch_map.get(f.fieldname)
            if target is None:
                if not fetches:
                    invalid.append(f"{f.label}: {value}")
                continue
            self.values[f.fieldname] = target["name"]
            for to_field, from_field in fetches or ():
                self.values[to_field] = target.get(from_field)
        if invalid:
            raise throw("Could not find " + ", ".join(invalid), "LinkValidationError",
                        self._frames(self.steps["links"], "links_throw"))

    def _link_target(self, doctype, value):
        if doctype == "DocType":
            meta = self.store.meta(cstr(value))
            return {"name": meta.name} if meta else None
        meta = self.store.meta(doctype)
        if meta is not None and meta.issingle:
            return {"name": doctype}
        return self.store.get(doctype, cstr(value))

    def _check_permission(self, ptype):
        if self.ctx.has_perm(self.meta, ptype):
            return
        message = (f"You need the '{ptype}' permission on <strong>{self.meta.name}</strong> "
                   f"{self.name or ''} to perform this action.")
        raise FrappeError("PermissionError", None, throw=False, error_message=message,
                          frames=self._frames(self.steps["perm"], "check_perm", "perm_failure",
                                              "raise_no_perm"))

    def _check_if_latest(self, data):
        sent = data.get("modified")
        if sent in (None, "") or cstr(sent) == cstr(self.existing.get("modified")):
            return
        message = ("Error: Document has been modified after you have opened it "
                   f"({self.existing.get('modified')}, {sent}). "
                   "Please refresh to get the latest document.")
        raise throw(message, "TimestampMismatchError", self._frames("save_latest", "check_latest"))

    # -- naming
    def _set_name(self, data):
        """frappe.model.naming.set_new_name: the client's name counts only for Prompt."""
        auto = self.meta.autoname or ""
        low = auto.lower()
        frames = self._frames("insert_name", "set_new_name")
        if low == "prompt":
            name = cstr(data.get("name")).strip()
            if not name:
                raise throw("Name not set via prompt", frames=frames + ["naming_prompt"])
        elif low.startswith("field:"):
            name = self._field_name(auto[6:], frames)
        elif low.startswith("format:"):
            name = re.sub(r"\{([^{}]*)\}", lambda m: self._series_part(m.group(1), ""),
                          auto[auto.index(":") + 1:])
        elif low == "autoincrement":
            self.store.autoinc[self.meta.name] += 1
            name = self.store.autoinc[self.meta.name]
        elif low.startswith("naming_series:"):
            name = self._series(cstr(self.values.get("naming_series") or "HR-EMP-") + ".#####")
        elif low == "custom_field":
            name = self._custom_field_name()
        elif "#" in auto:
            name = self._series(auto)
        else:
            name = random_name()
        if isinstance(name, str) and re.search(r"[<>]", name):
            raise throw("Name cannot contain special characters like '<', '>'", "NameError",
                        frames + ["naming_validate", "naming_special"])
        self.name = name

    def _field_name(self, fieldname, frames):
        value = self.values.get(fieldname)
        name = "" if value is None else str(value).strip()
        if not name:
            raise throw(f"{self.meta.label(fieldname)} is required",
                        frames=frames + ["naming_options", "naming_field"])
        return name

    def _series(self, pattern):
        """A naming-series name: "EMP-CKIN-.MM.-.YYYY.-.######" -> EMP-CKIN-11-2026-000001."""
        name = ""
        for part in pattern.split("."):
            if part:
                name += self._series_part(part, name)
        return name

    def _series_part(self, part, prefix):
        """One part of a series or a braced format part; #### counts per `prefix`."""
        now = self.now
        if part and part == "#" * len(part):
            count = self.store.series.get(prefix, 0) + 1
            self.store.series[prefix] = count
            return str(count).zfill(len(part))
        if part in ("YYYY", "YY", "MM", "DD", "WW"):
            return {"YYYY": f"{now.year:04d}", "YY": f"{now.year % 100:02d}",
                    "MM": f"{now.month:02d}", "DD": f"{now.day:02d}",
                    "WW": f"{now.isocalendar()[1]:02d}"}[part]
        if self.values.get(part) not in (None, ""):
            return cstr(self.values[part])
        return part

    def _custom_field_name(self):
        """Custom Field: fieldname from the label when missing, name "<dt>-<fieldname>"."""
        fieldname = cstr(self.values.get("fieldname")).strip()
        if not fieldname:
            label = cstr(self.values.get("label"))
            if not label:
                raise throw("Label is mandatory", frames=self._frames("insert_name"))
            fieldname = "custom_" + label.replace(" ", "_")
        fieldname = fieldname.lower()
        self.values["fieldname"] = fieldname
        return f"{self.values.get('dt')}-{fieldname}"

    # -- permission levels
    def _reset_higher_permlevels(self):
        """Fields above permlevel 0 the user may not write are silently reset to their
        default ("Now" for Employee Checkin.time): the HRMS permission-level trap."""
        for f in self.meta.data_fields:
            if f.permlevel and not self.ctx.can_level(self.meta, f.permlevel, "write"):
                if self.existing is not None:
                    self.values[f.fieldname] = self.existing.get(f.fieldname)
                else:
                    self.values[f.fieldname] = self._default(f, self.now_str)

    # -- controllers
    def _run_controller(self):
        if self.meta.name == CHECKIN:
            self._checkin_before_validate()
            self._checkin_validate()
        elif self.meta.name == "Custom Field" and self.mode == "insert":
            self._custom_field_validate()
        self._apply_reject_faults()

    def _checkin_before_validate(self):
        """HRMS before_validate: time = get_datetime(time).replace(microsecond=0)."""
        raw = self.values.get("time")
        base = self._frames(self.steps["rbsm"], "rbsm_before", *CONTROLLER)
        try:
            parsed = parse_datetime_like_frappe(raw)
        except ParseFail as e:
            raise FrappeError(e.exc_type, e.message, throw=False,
                              frames=base + ["ck_before"] + e.frames)
        if parsed is None:
            raise FrappeError("AttributeError", "'NoneType' object has no attribute 'replace'",
                              throw=False, frames=base + ["ck_before_replace"])
        self.aware_time = parsed.tzinfo is not None
        self.values["time"] = str(parsed.replace(microsecond=0))

    def _checkin_validate(self):
        """HRMS validate: active employee, duplicate log, shift, geolocation."""
        self._validate_active_employee()
        self._validate_duplicate_log()
        for f in ("shift", "shift_start", "shift_end", "shift_actual_start", "shift_actual_end"):
            self.values[f] = None
        self.values["offshift"] = 1
        self._geolocation()

    def _validate_active_employee(self):
        employee = self.values.get("employee")
        doc = self.store.get("Employee", employee) if employee not in (None, "") else None
        if doc is None or doc.get("status") != "Inactive":
            return
        link = f'<a href="{self.ctx.site_url}/app/employee/{doc["name"]}">{doc["name"]}</a>'
        raise throw(f"Transactions cannot be created for an Inactive Employee {link}.",
                    "InactiveEmployeeStatusError", self._controller_frames("ck_active",
                                                                           "utils_active"))

    def _validate_duplicate_log(self):
        """Same employee + time + log_type already logged: 417 with a desk link (02, 04)."""
        if self.aware_time:
            return
        other = self.store.checkin_duplicate(self.values.get("employee"), self.values["time"],
                                             self.values.get("log_type"), exclude=self.name)
        if other is None:
            return
        title = other.get("employee_name") or other["name"]
        link = (f'<a href="/app/Form/Employee Checkin/{other["name"]}" '
                f'style="font-weight: bold;">Employee Checkin {title}</a>')
        raise throw("This employee already has a log with the same timestamp.<Br>" + link,
                    frames=self._controller_frames("ck_dup", "ck_dup_throw"))

    def _geolocation(self):
        """HR Settings allow_geolocation_tracking: set the GeoJSON point, or refuse a
        checkin without coordinates (hrms >= 15.32)."""
        if not cint(self.store.singles["HR Settings"].get("allow_geolocation_tracking")):
            return
        lat, lon = flt(self.values.get("latitude")), flt(self.values.get("longitude"))
        # set_geolocation fills the point only when both are truthy; the distance check
        # refuses only when both are falsy: (0, 46.7) passes without a point (frappe-api.md 7.2)
        if lat and lon:
            self.values["geolocation"] = json.dumps({
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {},
                              "geometry": {"type": "Point", "coordinates": [lon, lat]}}]})
        if lat or lon:
            return
        raise throw("Latitude and longitude values are required for checking in.",
                    frames=self._controller_frames("ck_distance", "ck_distance_throw"))

    def _custom_field_validate(self):
        target = self.store.meta(cstr(self.values.get("dt")))
        fieldname = self.values.get("fieldname")
        if target is not None and target.field(fieldname) is not None:
            raise throw(f"A field with the name <strong>{fieldname}</strong> already exists in "
                        f"{target.name}", frames=self._controller_frames("cf_validate"))

    def _apply_reject_faults(self):
        """reject_doc faults: a permanent 417 for matching documents."""
        for fault in self.ctx.rejects:
            if fault.matches_doc(self.meta.name, self.raw) and fault.take():
                raise throw(fault.message or "Rejected by the simulator",
                            frames=self._controller_frames())

    # -- Document._validate()
    def _framework_validate(self):
        self._validate_mandatory()
        self._validate_selects()
        self._validate_length()

    def _validate_mandatory(self):
        missing = [f for f in self.meta.data_fields
                   if f.reqd and is_empty(self.values.get(f.fieldname))]
        if not missing:
            return
        msgs = [{"message": f"Error: Value missing for {self.meta.name}: {f.label}",
                 "title": "Message"} for f in missing]
        exc_str = f"[{self.meta.name}, {self.name}]: " + ", ".join(f.fieldname for f in missing)
        raise FrappeError("MandatoryError", None, exc_str=exc_str, throw=False, messages=msgs,
                          frames=self._frames(self.steps["validate"], "validate_mandatory",
                                              "mandatory_raise"))

    def _validate_selects(self):
        for f in self.meta.data_fields:
            if f.fieldtype != "Select" or f.fieldname == "naming_series":
                continue
            options = f.select_options()
            if not any(options) or self.values.get(f.fieldname) is None:
                continue
            value = cstr(self.values[f.fieldname]).strip()
            self.values[f.fieldname] = value
            if value and value not in options:
                message = (f' {f.label} cannot be "{value}". It should be one of "'
                           + '", "'.join(options) + '"')
                raise throw(message, frames=self._frames(self.steps["validate"],
                                                         "validate_selects", "selects_throw"))

    def _validate_length(self):
        for f in self.meta.data_fields:
            value = self.values.get(f.fieldname)
            if value is None or f.fieldtype == "Check":
                continue
            if f.fieldtype in VARCHAR_TYPES:
                limit = f.length or 140
                too_long = len(cstr(value)) > limit
            elif f.fieldtype == "Int":
                limit, too_long = INT_MAX, abs(cint(value)) > INT_MAX
            else:
                continue
            if too_long:
                message = (f"{self.meta.name} {self.name}: '<strong>{f.label}</strong>' ({value}) "
                           f"will get truncated, as max characters allowed is {limit}")
                raise throw(message, "CharacterLengthExceededError",
                            self._frames(self.steps["validate"], "validate_length",
                                         "length_check", "length_throw"), title="Value too big")

    # -- database
    def _db_write(self):
        """Build the row as MariaDB stores it, enforce keys, and write it."""
        now = self.now_str
        stored = {"name": self.name}
        if self.existing is not None:
            for key in ("owner", "creation"):
                stored[key] = self.existing.get(key)
        else:
            stored["owner"] = self.ctx.user
            stored["creation"] = now
        stored.update(modified=now, modified_by=self.ctx.user, docstatus=0, idx=0)
        for f in self.meta.data_fields:
            value = self._column_value(f, self.values.get(f.fieldname))
            if value is not None:
                stored[f.fieldname] = value
        if self.mode == "insert":
            self._check_primary_key()
        self._check_unique(stored)
        if self.existing is not None:
            self.ctx.txn.replace(self.meta.name, self.name, stored)
        else:
            self.ctx.txn.insert(self.meta.name, stored)
        self.ctx.docs_written += 1
        return stored

    def _column_value(self, f, value):
        """The value a strict MariaDB column holds for `value`, or a 1292 error."""
        t = f.fieldtype
        if t in INT_TYPES:
            return cint(value)
        if t in FLOAT_TYPES:
            return flt(value)
        if value is None:
            return None
        if t in ("Datetime", "Date", "Time"):
            if value == "":
                return None
            convert = {"Datetime": mariadb_datetime, "Date": mariadb_date, "Time": mariadb_time}[t]
            result = convert(cstr(value))
            if result is None:
                kind = {"Datetime": "datetime", "Date": "date", "Time": "time"}[t]
                raise db_error(1292, f"Incorrect {kind} value: '{cstr(value)}' for column "
                               f"`{self.ctx.sim.db_name}`.`tab{self.meta.name}`.`{f.fieldname}` "
                               "at row 1", self._frames(*self.steps["db"]))
            return result
        if t in ("Link", "Dynamic Link") and value == "":
            return None
        text = cstr(value)
        if t in TEXT_TYPES and len(text.encode("utf-8")) > TEXT_MAX_BYTES:
            raise db_error(1406, f"Data too long for column '{f.fieldname}' at row 1",
                           self._frames(*self.steps["db"]), "DataError", "pymysql.err.DataError")
        return text

    def _check_primary_key(self):
        if self.store.get(self.meta.name, cstr(self.name)) is not None:
            raise duplicate_entry(self.meta.name, self.name, self.call)

    def _check_unique(self, stored):
        """A unique field other than the name: 417 UniqueValidationError."""
        for f in self.meta.data_fields:
            value = stored.get(f.fieldname)
            if not f.unique or value in (None, "") or self.meta.autoname == f"field:{f.fieldname}":
                continue
            holder = self.store.unique[(self.meta.name, f.fieldname)].get(fold(value))
            if holder is not None and holder != self.name:
                raise self._unique_error(f, value)

    def _unique_error(self, f, value):
        text = f"Duplicate entry '{value}' for key '{f.fieldname}'"
        cause = ("Traceback (most recent call last):\n"
                 + "".join(FRAMES[k] for k in ["db_insert_sql"] + PYMYSQL_CHAIN)
                 + f"pymysql.err.IntegrityError: (1062, {text!r})\n\n"
                 "During handling of the above exception, another exception occurred:\n\n")
        exc_str = str((self.meta.name, self.name, _IntegrityRepr(1062, text)))
        return FrappeError("UniqueValidationError", None, exc_str=exc_str, throw=False,
                           cause=cause, messages=[{"message": f"{f.label} must be unique",
                                                   "title": "Message"}],
                           frames=self._frames("insert_db", "db_insert_unique", "unique_raise"))

    def _after_insert(self, stored):
        if self.meta.name == "Custom Field":
            add_custom_field(self.store, stored)

    # -- output
    def echo(self):
        """The insert/save response: the document object as the client filled it (Data
        fields keep the JSON type sent), numbers as numbers, nulls left out."""
        stored = self.stored
        out = {k: stored[k] for k in STANDARD_FIELDS if k in stored}
        for f in self.meta.data_fields:
            if f.fieldname in stored and f.fieldname not in self.changed:
                out[f.fieldname] = stored[f.fieldname]
                continue
            value = self.values.get(f.fieldname)
            if f.fieldtype in INT_TYPES:
                value = cint(value)
            elif f.fieldtype in FLOAT_TYPES:
                value = flt(value)
            elif f.fieldtype in ("Link", "Dynamic Link") and value is not None:
                value = stored.get(f.fieldname, value)
            if value is not None:
                out[f.fieldname] = value
        out["doctype"] = self.meta.name
        return out


def is_empty(value):
    """Frappe's "value missing" test: None, [], or only whitespace once HTML is stripped."""
    return value is None or value == [] or not re.sub(r"<[^>]*>", "", cstr(value)).strip()


def document_output(ctx, meta, stored):
    """GET /api/resource/<dt>/<name>: the stored document, nulls omitted, fields above
    the user's read permlevel removed (apply_fieldlevel_read_permissions)."""
    out = {k: stored[k] for k in STANDARD_FIELDS if k in stored}
    for f in meta.data_fields:
        if f.fieldname in stored and ctx.readable(meta, f.fieldname):
            out[f.fieldname] = stored[f.fieldname]
        elif f.fieldtype in INT_TYPES and ctx.readable(meta, f.fieldname):
            out[f.fieldname] = 0
        elif f.fieldtype in FLOAT_TYPES and ctx.readable(meta, f.fieldname):
            out[f.fieldname] = 0.0
    out["doctype"] = meta.name
    return out


def add_custom_field(store, cf):
    """Custom Field on_update: add the field to its doctype after `insert_after`."""
    meta = store.meta(cf.get("dt"))
    if meta is None:
        return
    keys = ("options", "reqd", "unique", "default", "fetch_from", "permlevel", "length",
            "read_only", "in_list_view")
    field = Field(cf["fieldname"], cf.get("fieldtype") or "Data",
                  cf.get("label") or cf["fieldname"], **{k: cf.get(k) for k in keys})
    fields = list(meta.fields)
    names = [f.fieldname for f in fields]
    after = cf.get("insert_after")
    position = names.index(after) + 1 if after in names else len(fields)
    fields.insert(position, field)
    meta.set_fields(fields)
    meta.modified = cf.get("modified", meta.modified)


# ---------------------------------------------------------------------------------------
# List queries: frappe.client.get_list -> reportview.validate_args -> DatabaseQuery
# ---------------------------------------------------------------------------------------

_FIELD_EXPR = re.compile(r"^(?:(count|sum|avg|min|max)\((.*)\)|(.*?))(?:\s+as\s+([\w`\"]+))?$",
                         re.I | re.S)
_TAB_PREFIX = re.compile(r"^`?tab[^`.]*`?\.")


def parse_field_expr(expr):
    """"name", "`tabX`.`f` as y", "count(name) as n" -> (fieldname, output key, aggregate)."""
    m = _FIELD_EXPR.match(cstr(expr).strip())
    agg, inner, plain, alias = m.groups()
    source = (inner if agg else plain).strip()
    source = _TAB_PREFIX.sub("", source).replace("`", "").strip()
    if alias:
        key = alias.strip("`\"")
    else:
        key = f"{agg}({inner})" if agg else source
    return source, key, (agg or "").lower() or None


def normalize_filters(filters):
    """Frappe filters (dict or list of lists) as a list of (fieldname, op, value)."""
    out = []
    if isinstance(filters, dict):
        for field, value in filters.items():
            if isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], str):
                out.append((field, value[0], value[1]))
            else:
                out.append((field, "=", value))
        return out
    for cond in filters or []:
        if isinstance(cond, dict):
            out.extend(normalize_filters(cond))
        elif isinstance(cond, (list, tuple)) and len(cond) >= 4:
            out.append((cond[1], cond[2], cond[3]))
        elif isinstance(cond, (list, tuple)) and len(cond) == 3:
            out.append(tuple(cond))
        elif isinstance(cond, (list, tuple)) and len(cond) == 2:
            out.append((cond[0], "=", cond[1]))
    return out


def _kind(meta, fieldname):
    """How MariaDB compares this column: "num", "datetime", "date" or "text"."""
    f = meta.field(fieldname)
    if fieldname in ("creation", "modified"):
        return "datetime"
    if fieldname in ("docstatus", "idx"):
        return "num"
    if f is None:
        return "text"
    if f.fieldtype in INT_TYPES or f.fieldtype in FLOAT_TYPES:
        return "num"
    if f.fieldtype == "Datetime":
        return "datetime"
    if f.fieldtype == "Date":
        return "date"
    return "text"


def _norm(kind, value, end_of_day=False):
    """A column or filter value in comparable form for its kind (ci text, numbers...)."""
    if kind == "num":
        return flt(value)
    if value is None:
        return None
    if kind in ("datetime", "date"):
        text = cstr(value).strip()
        if kind == "datetime" and re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
            text += " 23:59:59.999999" if end_of_day else " 00:00:00"
        stored = mariadb_datetime(text)
        if stored is None:
            return text
        if kind == "date":
            return stored[:10]
        return stored if "." in stored else stored + ".000000"
    return cstr(value).lower()


def _fallback(kind):
    fallbacks = {"num": 0.0, "datetime": "0001-01-01 00:00:00.000000", "date": "0001-01-01"}
    return fallbacks.get(kind, "")


def make_predicate(meta, field, op, value):
    """One filter condition as a function of a stored document (Frappe's ifnull() rules)."""
    kind = _kind(meta, field)
    op = cstr(op).strip().lower()
    fb = _fallback(kind)

    def col(doc):
        v = doc.get(field)
        if v is None:
            return fb
        if kind == "datetime" and len(v) == 19:    # stored rows are already normalised
            return v + ".000000"
        if kind == "datetime" and len(v) == 26:
            return v
        v = _norm(kind, v)
        return fb if v is None else v

    if op in ("=", "==", "!=", "<>"):
        target = _norm(kind, value)
        target = fb if target is None else target
        return (lambda d: col(d) == target) if op in ("=", "==") else (lambda d: col(d) != target)
    if op in ("<", ">", "<=", ">="):
        target = _norm(kind, value, end_of_day=op in ("<=", ">"))
        target = fb if target is None else target
        cmp = {"<": lambda a, b: a < b, ">": lambda a, b: a > b,
               "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}[op]
        return lambda d: _safe_cmp(cmp, col(d), target)
    if op in ("in", "not in"):
        values = value.split(",") if isinstance(value, str) else list(value or [])
        wanted = {_norm(kind, v.strip() if isinstance(v, str) else v) for v in values}
        wanted = {fb if v is None else v for v in wanted}
        return (lambda d: col(d) in wanted) if op == "in" else (lambda d: col(d) not in wanted)
    if op in ("like", "not like"):
        rx = like_to_regex(value)
        hit = lambda d: bool(rx.match(cstr(d.get(field))))
        return hit if op == "like" else (lambda d: not hit(d))
    if op == "is":
        is_set = cstr(value).lower() == "set"
        present = lambda d: d.get(field) not in (None, "")
        return present if is_set else (lambda d: not present(d))
    if op == "between":
        if isinstance(value, (list, tuple)):
            low, high = (list(value) + [None, None])[:2]
        else:
            low = high = value
        lo, hi = _norm(kind, low), _norm(kind, high, end_of_day=True)
        return lambda d: _safe_cmp(lambda a, b: a >= b, col(d), lo) and _safe_cmp(
            lambda a, b: a <= b, col(d), hi)
    raise FrappeError("ValueError", f"Unsupported operator: {op}", throw=False)


def _safe_cmp(cmp, a, b):
    try:
        return cmp(a, b)
    except TypeError:
        return cmp(cstr(a), cstr(b))


class ListQuery:
    """GET /api/resource/<dt>, frappe.client.get_list/get_count/get_value."""

    def __init__(self, ctx, doctype, frames):
        self.ctx = ctx
        self.doctype = doctype
        self.frames = list(frames)
        self.meta, self.docs = list_source(ctx.store, doctype)

    def run(self, fields=None, filters=None, or_filters=None, order_by=None, limit_start=0,
            limit_page_length=20, as_dict=True, count_only=False):
        fields = self._parse_fields(fields)
        filters = self._parse_filters(filters)
        or_filters = self._parse_filters(or_filters)
        self._validate(fields, filters, or_filters)
        self._check_permission()
        rows = self._filter(filters, or_filters)
        if count_only:
            return len(rows)
        rows = self._sort(rows, order_by)
        start = max(cint(limit_start), 0)
        length = cint(limit_page_length)
        rows = rows[start:start + length] if length > 0 else rows[start:]
        return self._project(rows, fields, as_dict)

    def _parse_fields(self, fields):
        if fields in (None, "", []):
            return ["name"]
        if isinstance(fields, str):
            if fields.strip() == "*":
                return ["*"]
            try:
                fields = json.loads(fields)
            except ValueError:
                fields = fields.split(",")
        return [fields] if isinstance(fields, str) else list(fields)

    def _parse_filters(self, filters):
        if isinstance(filters, str):
            filters = filters.strip()
            if not filters:
                return []
            try:
                filters = json.loads(filters)
            except ValueError as e:
                raise json_decode_error(e, filters, self.frames + ["client_get_list_query",
                                                                   "get_list"], absolute=False)
        return normalize_filters(filters)

    def _validate(self, fields, filters, or_filters):
        """reportview.validate_fields / validate_filters: unknown columns are a DataError."""
        base = self.frames + ["client_get_list"]
        for expr in fields:
            source, _, _ = parse_field_expr(expr)
            if source in ("*",) or self.meta.has_column(source):
                continue
            raise throw(f"Field not permitted in query: {source}", "DataError",
                        base + ["rv_fields", "rv_field_invalid", "rv_raise"])
        for field, _, _ in filters + or_filters:
            if not self.meta.has_column(cstr(field)):
                raise throw(f"Field not permitted in query: {field}", "DataError",
                            base + ["rv_filters", "rv_filter_invalid", "rv_raise"])

    def _check_permission(self):
        if self.ctx.has_perm(self.meta, "read"):
            return
        raise FrappeError("PermissionError", None, throw=False,
                          error_message=f"No permission for {self.doctype}",
                          frames=self.frames + ["client_get_list_query", "get_list", "dbq_perm",
                                                "dbq_perm_check", "has_perm_raise"])

    def _filter(self, filters, or_filters):
        preds = [make_predicate(self.meta, f, op, v) for f, op, v in filters]
        ors = [make_predicate(self.meta, f, op, v) for f, op, v in or_filters]
        rows = []
        for doc in self.docs:
            if all(p(doc) for p in preds) and (not ors or any(p(doc) for p in ors)):
                rows.append(doc)
        return rows

    def _sort(self, rows, order_by):
        keys = self._order_keys(order_by)
        for field, desc in reversed(keys):
            kind = _kind(self.meta, field)
            rows.sort(key=lambda d, f=field, k=kind: _sort_key(k, d.get(f)), reverse=desc)
        return rows

    def _order_keys(self, order_by):
        if order_by in (None, ""):
            return [(self.meta.sort_field, self.meta.sort_order.upper() == "DESC")]
        keys = []
        for part in cstr(order_by).split(","):
            tokens = part.strip().split()
            if not tokens:
                continue
            field = _TAB_PREFIX.sub("", tokens[0]).replace("`", "")
            if not self.meta.has_column(field):
                raise db_error(1054, f"Unknown column '{field}' in 'order clause'",
                               self.frames + ["client_get_list_query", "get_list", "dbq_execute"])
            keys.append((field, len(tokens) > 1 and tokens[1].lower() == "desc"))
        return keys

    def _project(self, rows, fields, as_dict):
        columns = self._columns(fields)
        if any(agg for _, _, agg in columns):
            return [self._aggregate(rows, columns, as_dict)]
        out = []
        for doc in rows:
            values = [(key, self._value(doc, source)) for source, key, _ in columns]
            out.append(dict(values) if as_dict else [v for _, v in values])
        return out

    def _columns(self, fields):
        """Requested columns; '*' expands; fields above the read permlevel are dropped."""
        columns = []
        for expr in fields:
            source, key, agg = parse_field_expr(expr)
            if source == "*" and not agg:
                names = list(STANDARD_FIELDS) + [f.fieldname for f in self.meta.data_fields]
                columns += [(n, n, None) for n in names]
            else:
                columns.append((source, key, agg))
        return [c for c in columns if c[0] == "*" or self.ctx.readable(self.meta, c[0])]

    def _value(self, doc, field):
        value = doc.get(field)
        if value is None:
            f = self.meta.field(field)
            if f is not None and f.fieldtype in INT_TYPES:
                return 0
            if f is not None and f.fieldtype in FLOAT_TYPES:
                return 0.0
        return value

    def _aggregate(self, rows, columns, as_dict):
        values = []
        for source, key, agg in columns:
            if agg == "count":
                value = len(rows) if source in ("*", "name") else sum(
                    1 for d in rows if d.get(source) is not None)
            elif agg:
                nums = [flt(d.get(source)) for d in rows if d.get(source) is not None]
                value = _aggregate_value(agg, nums)
            else:
                value = self._value(rows[0], source) if rows else None
            values.append((key, value))
        return dict(values) if as_dict else [v for _, v in values]


def _aggregate_value(agg, nums):
    if agg == "sum":
        return sum(nums)
    if not nums:
        return None
    return {"avg": sum(nums) / len(nums), "min": min(nums), "max": max(nums)}[agg]


def _sort_key(kind, value):
    """NULLs first in ascending order, text compared case-insensitively."""
    if value is None:
        return (0, 0 if kind == "num" else "")
    if kind == "num":
        return (1, flt(value))
    if kind == "text":
        return (1, cstr(value).lower())
    return (1, cstr(value))


def list_source(store, doctype):
    """(meta, documents) for a list query; DocType lists the metadata itself."""
    if doctype == "DocType":
        docs = []
        for meta in store.metas.values():
            doc = doctype_document(meta)
            docs.append({k: v for k, v in doc.items() if not isinstance(v, list)})
        return doctype_list_meta(), docs
    meta = store.meta(doctype)
    if meta is None:
        raise not_found("DocType", doctype)
    if meta.issingle:
        return meta, []
    return meta, list(store.table(doctype).docs.values())


def doctype_list_meta():
    fields = [Field(k, "Int" if isinstance(v, int) else "Data") for k, v in DOCTYPE_DEFAULTS]
    fields.append(Field("title_field", "Data"))
    return Meta("DocType", fields, module="Core", autoname="Prompt", sort=("name", "ASC"),
                permissions=[_perm("System Manager"), _perm("All", write=0, create=0, delete=0)])


def json_decode_error(e, text, frames, absolute=True):
    """json.loads failure as the 500 JSONDecodeError Frappe answers (15, 15b)."""
    if e.msg == "Extra data":
        tail = ["json_loads", "json_extra"]
    elif e.msg == "Expecting value" and e.pos == len(text) - len(text.lstrip()):
        tail = ["json_loads", "json_decode", "json_value"]
    else:
        tail = ["json_loads", "json_decode", "json_scan"]
    return FrappeError("JSONDecodeError", str(e), throw=False, frames=list(frames) + tail,
                       absolute=absolute)


# ---------------------------------------------------------------------------------------
# Requests and responses
# ---------------------------------------------------------------------------------------

class Request:
    """A parsed HTTP request with its whole body already read."""

    def __init__(self, method, raw_path, headers, body, too_large=False):
        self.method = method.upper()
        self.raw_path = raw_path
        split = urllib.parse.urlsplit(raw_path)
        self.raw_url_path = split.path
        self.path = urllib.parse.unquote(split.path)
        self.query = {}
        for key, value in urllib.parse.parse_qsl(split.query, keep_blank_values=True):
            self.query.setdefault(key, value)
        self.headers = headers
        self.body = body
        self.too_large = too_large
        self.overhead = 0.0       # seconds already spent accepting and reading it

    def header(self, name, default=None):
        """The last value of a header (gunicorn keeps the last Content-Type, 04e/13e)."""
        values = self.headers.get_all(name) if self.headers is not None else None
        return values[-1] if values else default

    def cookie(self, name):
        for part in (self.header("Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None

    @property
    def mimetype(self):
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()


class Response:
    """What goes on the wire; `post` is a fault applied after processing."""

    def __init__(self, status, body=b"", content_type="application/json", reason=None,
                 headers=None, cookies="guest", server="gunicorn", user=None):
        self.status = status
        self.reason = reason or REASONS.get(status, "UNKNOWN")
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.content_type = content_type
        self.headers = list(headers or [])
        self.cookies = cookies
        self.server = server
        self.user = user
        self.post = None
        self.drop = False


def json_bytes(obj):
    """Frappe's response encoding: compact separators, ASCII escapes."""
    return json.dumps(obj, separators=(",", ":")).encode("ascii")


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def cookie_headers(mode, user=None, sid=None, full_name=None):
    """The Set-Cookie headers every Frappe answer carries (observed #3)."""
    now = time.time()
    if mode == "none":
        return []
    if mode == "session":
        cookies = [f"sid={sid}; Expires={http_date(now + SESSION_MAX_AGE)}; "
                   f"Max-Age={SESSION_MAX_AGE}; HttpOnly; Path=/; SameSite=Lax",
                   "system_user=yes; Path=/; SameSite=Lax",
                   f"full_name={full_name or user}; Path=/; SameSite=Lax",
                   f"user_id={user}; Path=/; SameSite=Lax", "user_image=; Path=/; SameSite=Lax"]
        return cookies
    cookies = [f"sid=Guest; Expires={http_date(now + SESSION_MAX_AGE)}; Max-Age={SESSION_MAX_AGE}; "
               "HttpOnly; Path=/; SameSite=Lax",
               "system_user=no; Path=/; SameSite=Lax", "full_name=Guest; Path=/; SameSite=Lax",
               "user_id=Guest; Path=/; SameSite=Lax", "user_image=; Path=/; SameSite=Lax"]
    if mode == "clear":
        gone = http_date(now - 86400)
        cookies += [f"{k}=; Expires={gone}; Path=/" for k in
                    ("user_image", "full_name", "user_id", "system_user", "sid")]
    return cookies


LOGIN_PAGE = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<title>Login</title>\n</head>\n<body>\n<div class=\"page-card\">\n"
              "<h4>Login to ERPNext</h4>\n</div>\n</body>\n</html>\n")


# ---------------------------------------------------------------------------------------
# Methods (/api/method/<dotted.path>)
# ---------------------------------------------------------------------------------------

class Method:
    """A whitelisted function: handler(sim, ctx, form) -> return value."""

    def __init__(self, handler, http=None, guest=False, frames=(), cost="other"):
        self.handler = handler
        self.http = http
        self.guest = guest
        self.frames = list(frames)
        self.cost = cost


def bind(fn_name, form, required, optional):
    """Call-argument binding like Python's: extra keys dropped, missing ones a TypeError."""
    missing = [k for k in required if k not in form]
    if missing:
        quoted = [repr(m) for m in missing]
        if len(quoted) == 1:
            names = quoted[0]
        elif len(quoted) == 2:
            names = " and ".join(quoted)
        else:
            names = ", ".join(quoted[:-1]) + ", and " + quoted[-1]
        plural = "s" if len(missing) > 1 else ""
        raise FrappeError("TypeError", f"{fn_name}() missing {len(missing)} required positional "
                          f"argument{plural}: {names}", throw=False)
    args = {k: form[k] for k in required}
    for key, default in optional.items():
        args[key] = form.get(key, default)
    return args


def m_ping(sim, ctx, form):
    return "pong"


def m_logged_user(sim, ctx, form):
    return ctx.user


def m_versions(sim, ctx, form):
    return {app: {"title": title, "description": "", "branch": "version-15", "version": version}
            for app, (title, version) in VERSIONS.items()}


def m_get_roles(sim, ctx, form):
    """frappe.core.doctype.user.user.get_roles: the roles of uid/arg (default: self)."""
    user = form.get("uid") or form.get("arg") or ctx.user
    return sim.roles_of(user)


def m_insert_many(sim, ctx, form):
    """frappe.client.insert_many: one transaction, at most 200 documents."""
    docs = bind("insert_many", form, [], {"docs": None})["docs"]
    frames = []
    if isinstance(docs, str):
        try:
            docs = json.loads(docs)
        except ValueError as e:
            raise json_decode_error(e, docs, frames + ["client_insert_many_json"], absolute=False)
    if docs is None:
        raise FrappeError("TypeError", "object of type 'NoneType' has no len()", throw=False,
                          frames=frames + ["client_insert_many_len"])
    if len(docs) > MAX_INSERT_MANY:
        raise throw("Only 200 inserts allowed in one request",
                    frames=frames + ["client_insert_many_limit"])
    call = frames + ["client_insert_many", "client_insert_doc"]
    return [insert_client_doc(sim, ctx, doc, call).stored["name"] for doc in docs]


def insert_client_doc(sim, ctx, doc, call):
    """frappe.client.insert_doc: frappe.get_doc(doc).insert()."""
    if not isinstance(doc, dict):
        raise FrappeError("AttributeError", f"'{type(doc).__name__}' object has no attribute 'get'",
                          throw=False, frames=call[:-1] + ["client_insert_doc"])
    doctype = doc.get("doctype")
    if doctype is None:
        raise FrappeError("ValueError", '"doctype" is a required key', throw=False,
                          frames=call[:-1] + ["client_insert_doc_get", "get_doc_doctype"])
    meta = sim.meta_or_import_error(doctype, call[:-1] + ["client_insert_doc_get"])
    data = {k: v for k, v in doc.items() if k != "doctype"}
    writer = DocWriter(ctx, meta, call, raw=doc)
    writer.insert(data)
    return writer


def m_insert(sim, ctx, form):
    doc = bind("insert", form, ["doc"], {})["doc"]
    if isinstance(doc, str):
        doc = json.loads(doc)
    return insert_client_doc(sim, ctx, doc, ["client_insert", "client_insert_doc"]).echo()


def m_get_list(sim, ctx, form):
    args = bind("get_list", form, ["doctype"], {
        "fields": None, "filters": None, "order_by": None, "limit_start": None,
        "limit_page_length": 20, "as_dict": True, "or_filters": None})
    query = ListQuery(ctx, args["doctype"], [])
    return query.run(args["fields"], args["filters"], args["or_filters"], args["order_by"],
                     args["limit_start"], form.get("limit", args["limit_page_length"]),
                     as_dict=sbool(args["as_dict"]))


def m_get_count(sim, ctx, form):
    args = bind("get_count", form, ["doctype"], {"filters": None})
    return ListQuery(ctx, args["doctype"], []).run(filters=args["filters"], count_only=True)


def m_get_value(sim, ctx, form):
    """frappe.client.get_value: a dict of the first match ({} when none)."""
    args = bind("get_value", form, ["doctype", "fieldname"], {"filters": None, "as_dict": True})
    fieldname = args["fieldname"]
    try:
        fields = json.loads(fieldname) if isinstance(fieldname, str) else fieldname
    except ValueError:
        fields = [fieldname]
    fields = [fields] if isinstance(fields, str) else list(fields)
    meta = sim.store.meta(args["doctype"])
    if meta is not None and meta.issingle:
        single = sim.store.singles.get(meta.name, {})
        values = {f: single.get(f) for f in fields}
        return values if sbool(args["as_dict"]) else (list(values.values())[0] if len(fields) == 1
                                                      else list(values.values()))
    filters = args["filters"]
    if isinstance(filters, str) and not filters.strip().startswith(("{", "[")):
        filters = {"name": filters}
    rows = ListQuery(ctx, args["doctype"], []).run(fields, filters, limit_page_length=1,
                                                           as_dict=sbool(args["as_dict"]))
    if sbool(args["as_dict"]):
        return rows[0] if rows else {}
    if not rows:
        return None
    return rows[0] if len(fields) > 1 else rows[0][0]


def m_get_single_value(sim, ctx, form):
    args = bind("get_single_value", form, ["doctype", "field"], {})
    return sim.store.singles.get(args["doctype"], {}).get(args["field"])


def m_get(sim, ctx, form):
    args = bind("get", form, ["doctype"], {"name": None, "filters": None})
    return read_document(sim, ctx, args["doctype"], args["name"] or args["doctype"])


def m_set_value(sim, ctx, form):
    args = bind("set_value", form, ["doctype", "name", "fieldname"], {"value": None})
    data = args["fieldname"]
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            data = {data: args["value"]}
    if not isinstance(data, dict):
        data = {args["fieldname"]: args["value"]}
    return update_document(sim, ctx, args["doctype"], args["name"], data)


def m_delete(sim, ctx, form):
    args = bind("delete", form, ["doctype", "name"], {})
    delete_document(sim, ctx, args["doctype"], args["name"])


def m_add_log(sim, ctx, form):
    """HRMS add_log_based_on_employee_field: look the employee up by a field (no status
    filter), then insert an Employee Checkin with every HRMS validation (03-06)."""
    args = bind("add_log_based_on_employee_field", form, ["employee_field_value", "timestamp"],
                {"device_id": None, "log_type": None, "skip_auto_attendance": 0,
                 "employee_fieldname": "attendance_device_id", "latitude": None,
                 "longitude": None})
    frames = []
    value, fieldname = args["employee_field_value"], args["employee_fieldname"]
    if not value or not args["timestamp"]:
        raise throw("'employee_field_value' and 'timestamp' are required.",
                    frames=frames + ["ck_addlog_required"])
    if not sim.store.meta("Employee").has_column(fieldname):
        raise db_error(1054, f"Unknown column '{fieldname}' in 'where clause'",
                       frames + ["ck_addlog_lookup"])
    matches = sim.store.employees_by(fieldname, value)
    if not matches:
        raise throw(f"No Employee found for the given employee field value. '{fieldname}': {value}",
                    frames=frames + ["ck_addlog_throw"])
    employee = matches[0]
    data = {"employee": employee["name"], "employee_name": employee.get("employee_name"),
            "time": args["timestamp"], "device_id": args["device_id"], "log_type": args["log_type"],
            "latitude": args["latitude"], "longitude": args["longitude"]}
    if cint(args["skip_auto_attendance"]) == 1:
        data["skip_auto_attendance"] = "1"
    raw = dict(form, doctype=CHECKIN, **{k: v for k, v in data.items() if v is not None})
    writer = DocWriter(ctx, sim.store.meta(CHECKIN), frames + ["ck_addlog_insert"], raw=raw)
    writer.insert(data)
    return writer.echo()


def sbool(value):
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "")
    return bool(value)


RPC = ["call", "typing"]
METHODS = {
    "ping": Method(m_ping, guest=True),
    "frappe.auth.get_logged_user": Method(m_logged_user),
    "frappe.utils.change_log.get_versions": Method(m_versions),
    "frappe.core.doctype.user.user.get_roles": Method(m_get_roles),
    "frappe.client.insert_many": Method(m_insert_many, http=("POST", "PUT"), cost="insert_many"),
    "frappe.client.insert": Method(m_insert, http=("POST", "PUT"), cost="insert"),
    "frappe.client.get_list": Method(m_get_list, cost="list"),
    "frappe.client.get_count": Method(m_get_count, cost="list"),
    "frappe.client.get_value": Method(m_get_value, cost="list"),
    "frappe.client.get_single_value": Method(m_get_single_value),
    "frappe.client.get": Method(m_get),
    "frappe.client.set_value": Method(m_set_value, http=("POST", "PUT")),
    "frappe.client.delete": Method(m_delete, http=("POST", "DELETE")),
    ADD_LOG_CMD: Method(m_add_log, cost="insert_checkin"),
}
EXTRA_MODULES = {"frappe", "erpnext", "hrms", "frappe.handler", "frappe.desk",
                 "frappe.desk.reportview", "hrms.hr.utils", "hrms.api", "erpnext.setup",
                 "erpnext.setup.doctype", "erpnext.setup.doctype.employee",
                 "erpnext.setup.doctype.employee.employee", "hrms.hr.doctype.shift_type",
                 "hrms.hr.doctype.shift_type.shift_type"}
KNOWN_MODULES = set(EXTRA_MODULES)
for _cmd in METHODS:
    _parts = _cmd.split(".")[:-1]
    for _i in range(1, len(_parts) + 1):
        KNOWN_MODULES.add(".".join(_parts[:_i]))


def unknown_method(cmd):
    """handler.execute_cmd: 417 "Failed to get method for command ..." (15d)."""
    module, _, attr = cmd.rpartition(".")
    module = module or "frappe"
    head = ["app", "api", "v1_rpc", "handle", "exec_getattr", "get_attr"]
    if module in KNOWN_MODULES:
        error = f"module '{module}' has no attribute '{attr}'"
        cause_frames = head + ["frappe_get_attr_attr"]
        cause_last = f"AttributeError: {error}"
    else:
        parts = module.split(".")
        missing = next(".".join(parts[:i]) for i in range(1, len(parts) + 1)
                       if ".".join(parts[:i]) not in KNOWN_MODULES)
        error = f"No module named '{missing}'"
        cause_frames = head + ["frappe_get_attr", "get_module", "import_module", "boot_gcd",
                               "boot_load", "boot_unlocked"]
        cause_last = f"ModuleNotFoundError: {error}"
    cause = ("Traceback (most recent call last):\n" + "".join(FRAMES[k] for k in cause_frames[4:])
             + cause_last + "\n\nDuring handling of the above exception, another exception "
             "occurred:\n\n")
    err = throw(f"Failed to get method for command {cmd} with {error}",
                frames=head[:4] + ["exec_failed"])
    err.cause, err.absolute = cause, True
    return err


def not_whitelisted(cmd, head):
    msg = ("<details><summary>You are not permitted to access this resource. Login to access"
           f"</summary>Function <strong>{cmd}</strong> is not whitelisted.</details>")
    err = throw(msg, "PermissionError", head + ["exec_whitelist", "is_whitelisted"],
                title="Method Not Allowed")
    err.absolute = True
    return err


# ---------------------------------------------------------------------------------------
# Resources (/api/resource/<DocType>[/<name>])
# ---------------------------------------------------------------------------------------

def request_form_data(req, form):
    """v1 get_request_form_data: the `data` argument, else the raw body as JSON (even
    under a form content type, 15c), else the form arguments."""
    data = form.get("data")
    if data is None:
        data = req.body.decode("utf-8", "replace")
    if isinstance(data, (dict, list)):
        return data
    try:
        return json.loads(data)
    except ValueError:
        return dict(form)


def as_mapping(data, fn="frappe.new_doc"):
    if not isinstance(data, dict):
        raise FrappeError("TypeError", f"{fn}() argument after ** must be a mapping, not "
                          f"{type(data).__name__}", throw=False)
    return data


def create_document(sim, ctx, doctype, data):
    """POST /api/resource/<DocType>: new_doc(doctype, **data).insert()."""
    data = dict(as_mapping(data))
    data.pop("doctype", None)
    if doctype == "DocType":
        return create_doctype(sim, ctx, data)
    meta = sim.meta_or_import_error(doctype, ["new_doc", "get_new_doc"])
    if meta.issingle:
        raise throw(f"{doctype} is a single DocType")
    writer = DocWriter(ctx, meta, [], raw=dict(data, doctype=doctype))
    writer.insert(data)
    return writer.echo()


def read_document(sim, ctx, doctype, name):
    """GET /api/resource/<DocType>/<name> (fields and field-level permissions applied)."""
    if doctype == "DocType":
        meta = sim.store.meta(name)
        if meta is None:
            raise not_found("DocType", name)
        if not ctx.has_perm(doctype_list_meta(), "read"):
            raise FrappeError("PermissionError", None, throw=False, error_message=(
                f"You need the 'read' permission on <strong>DocType</strong> {name} to perform "
                "this action."), frames=["v1_read_perm", "check_perm", "perm_failure",
                                         "raise_no_perm"])
        return doctype_document(meta)
    meta = sim.meta_or_import_error(doctype, ["v1_read"])
    if meta.issingle:
        return single_output(sim, meta)
    stored = user_record(sim, name) if doctype == "User" else sim.store.get(doctype, name)
    if stored is None:
        raise not_found(doctype, name)
    if doctype == "User":      # only System Managers may read User records
        allowed = ctx.is_admin or "System Manager" in ctx.roles
    else:
        allowed = ctx.has_perm(meta, "read")
    if not allowed:
        raise FrappeError("PermissionError", None, throw=False, error_message=(
            f"You need the 'read' permission on <strong>{doctype}</strong> {stored['name']} "
            "to perform this action."), frames=["v1_read_perm", "check_perm", "perm_failure",
                                                "raise_no_perm"])
    out = document_output(ctx, meta, stored)
    if doctype == "User":
        out["roles"] = [{"name": random_name(), "owner": "Administrator", "docstatus": 0,
                         "parent": stored["name"], "parentfield": "roles", "parenttype": "User",
                         "idx": i, "role": role, "doctype": "Has Role"}
                        for i, role in enumerate(sim.roles_of(stored["name"])[:-2], 1)]
        out["doctype"] = out.pop("doctype")
    return out


def user_record(sim, name):
    """The User rows of the site: Administrator and the API user (from the knobs)."""
    for user in ("Administrator", sim.config["api_user"]):
        if fold(user) == fold(name):
            full = "Administrator" if user == "Administrator" else user.split("@")[0]
            return {"name": user, "owner": "Administrator", "creation": "2024-01-01 00:00:00",
                    "modified": "2024-01-01 00:00:00", "modified_by": "Administrator",
                    "docstatus": 0, "idx": 0, "email": user if "@" in user else "admin@example.com",
                    "first_name": full, "full_name": full, "enabled": 1,
                    "user_type": "System User",
                    "api_key": sim.config["api_key"] if user == sim.config["api_user"] else None}
    return None


def single_output(sim, meta):
    values = sim.store.singles.setdefault(meta.name, {})
    out = {"name": meta.name, "owner": "Administrator", "modified": meta.modified,
           "modified_by": "Administrator", "docstatus": 0, "idx": "0"}
    for f in meta.data_fields:
        value = values.get(f.fieldname)
        if f.fieldtype in INT_TYPES:
            value = cint(value)
        elif f.fieldtype in FLOAT_TYPES:
            value = flt(value)
        if value is not None:
            out[f.fieldname] = value
    out["doctype"] = meta.name
    return out


def update_document(sim, ctx, doctype, name, data):
    """PUT /api/resource/<DocType>/<name>: load, merge, doc.save()."""
    data = dict(as_mapping(data, "update"))
    data.pop("flags", None)
    if doctype == "DocType":
        return update_doctype(sim, ctx, name, data)
    meta = sim.meta_or_import_error(doctype, ["v1_update_get"])
    if meta.issingle:
        values = sim.store.singles.setdefault(meta.name, {})
        for key, value in data.items():
            if meta.field(key) is not None:
                values[key] = value
        ctx.txn.wrote = True
        return single_output(sim, meta)
    writer = DocWriter(ctx, meta, ["v1_update", "save"], mode="save",
                       raw=dict(data, doctype=doctype))
    writer.update(name, data)
    return writer.echo()


def delete_document(sim, ctx, doctype, name):
    """DELETE /api/resource/<DocType>/<name>: 202 {"data": "ok"}, 404 with only exc_type."""
    if doctype == "DocType":
        if sim.store.metas.pop(name, None) is None:
            raise FrappeError("DoesNotExistError", body={"exc_type": "DoesNotExistError"})
        sim.store.tables.pop(name, None)
        return "ok"
    meta = sim.meta_or_import_error(doctype, ["v1_delete"])
    if sim.store.get(doctype, name) is None:
        raise FrappeError("DoesNotExistError", body={"exc_type": "DoesNotExistError"})
    if not ctx.has_perm(meta, "delete"):
        raise FrappeError("PermissionError", None, throw=False, error_message=(
            f"You need the 'delete' permission on <strong>{doctype}</strong> {name} to perform "
            "this action."), frames=["v1_delete", "check_perm", "perm_failure", "raise_no_perm"])
    ctx.txn.delete(doctype, name)
    return "ok"


def list_documents(sim, ctx, form, api):
    """GET /api/resource/<DocType> (v1: fields must be JSON, limit_page_length default 20)."""
    doctype = form["__doctype"]
    fields = form.get("fields")
    if api == "v1" and isinstance(fields, str) and fields:
        try:
            fields = json.loads(fields)
        except ValueError as e:
            raise json_decode_error(e, fields, ["v1_list_json"], absolute=False)
    if api == "v1":
        limit = form.get("limit_page_length", form.get("limit") or 20)
        start = form.get("limit_start")
    else:
        limit = form.get("limit", form.get("limit_page_length", 20))
        start = form.get("start", form.get("limit_start"))
    query = ListQuery(ctx, doctype, ["v1_list", "call", "typing"] if api == "v1" else [])
    return query.run(fields, form.get("filters"), form.get("or_filters"), form.get("order_by"),
                     start, limit, as_dict=sbool(form.get("as_dict", True)))


# ---------------------------------------------------------------------------------------
# DocType creation and changes (POST/PUT /api/resource/DocType)
# ---------------------------------------------------------------------------------------

RESTRICTED_FIELDNAMES = {"name", "parent", "creation", "modified", "modified_by", "parentfield",
                         "parenttype", "file_list", "flags", "docstatus"}


def create_doctype(sim, ctx, data):
    """A custom DocType (custom=1 works without developer mode, 09); 409 when it exists."""
    name = cstr(data.get("name")).strip()
    frames = []
    if not ctx.has_perm(doctype_list_meta(), "create"):
        raise FrappeError("PermissionError", None, throw=False, error_message=(
            "You need the 'create' permission on <strong>DocType</strong>  to perform this "
            "action."), frames=["insert_perm", "check_perm", "perm_failure", "raise_no_perm"])
    if not name:
        raise throw("Name not set via prompt", frames=["insert_name", "set_new_name",
                                                        "naming_prompt"])
    if not cint(data.get("custom")):
        raise throw("Not in Developer Mode! Set in site_config.json or make 'Custom' DocType.",
                    "CannotCreateStandardDoctypeError", frames + ["insert_rbsm", "rbsm_validate",
                                                                  *CONTROLLER, "dt_validate"])
    if len(name) > 61 or not re.fullmatch(r"[A-Za-z][A-Za-z0-9 _-]*", name):
        raise throw("A DocType's name should start with a letter and can only consist of "
                    "letters, numbers, spaces, underscores and hyphens", "NameError",
                    ["insert_rbsm", "rbsm_validate", *CONTROLLER, "dt_name"])
    module = data.get("module")
    if module and module not in MODULES:
        raise throw(f"Could not find Module: {module}", "LinkValidationError",
                    ["insert_links", "links_throw"])
    fields = doctype_fields(data.get("fields") or [])
    if sim.store.meta(name) is not None:
        raise duplicate_entry("DocType", name, [])
    meta = meta_from_doctype_doc(name, data, fields, str(ctx.now()))
    validate_autoname(meta)
    sim.store.metas[name] = meta
    return doctype_document(meta, ctx.user, unsaved=True)


def doctype_fields(rows):
    """DocType.scrub_field_names: fieldnames from labels, restricted names refused."""
    fields = []
    for row in rows:
        row = dict(row)
        fieldname = row.get("fieldname")
        if not fieldname:
            label = cstr(row.get("label"))
            fieldname = label.strip().lower().replace(" ", "_").strip("?") if label else (
                cstr(row.get("fieldtype")).lower().replace(" ", "_") + "_" + random_name(4))
            if fieldname in RESTRICTED_FIELDNAMES:
                fieldname += "1"
        elif fieldname in RESTRICTED_FIELDNAMES:
            raise throw(f"Fieldname {fieldname} is restricted", "InvalidFieldNameError",
                        ["insert_rbsm", "rbsm_validate", *CONTROLLER, "dt_fieldname"])
        row["fieldname"] = re.sub(r"""['",./%@()<>{}]""", "", fieldname)
        fields.append(Field.from_dict(row))
    return fields


def meta_from_doctype_doc(name, data, fields, now):
    autoname = data.get("autoname") or None
    if autoname and autoname.lower().startswith("field:"):
        for f in fields:
            if f.fieldname == autoname[6:]:
                f.unique = 1
    known = {k for k, _ in DOCTYPE_DEFAULTS}
    extra = {k: v for k, v in data.items() if k in known and k not in (
        "module", "autoname", "naming_rule", "custom", "issingle", "sort_field", "sort_order")}
    return Meta(name, fields, module=data.get("module") or "Custom", custom=1, autoname=autoname,
                issingle=cint(data.get("issingle")),
                sort=(data.get("sort_field") or "modified", data.get("sort_order") or "DESC"),
                permissions=data.get("permissions") or [], title_field=data.get("title_field"),
                naming_rule=data.get("naming_rule") or "", creation=now, extra=extra)


def validate_autoname(meta):
    auto = meta.autoname or ""
    if auto.lower().startswith("field:") and meta.field(auto[6:]) is None:
        raise throw(f"Invalid fieldname '{auto[6:]}' in autoname",
                    frames=["insert_rbsm", "rbsm_validate", *CONTROLLER, "dt_autoname"])


def update_doctype(sim, ctx, name, data):
    """PUT /api/resource/DocType/<name>: a new `fields` list replaces the old one."""
    meta = sim.store.meta(name)
    if meta is None:
        raise not_found("DocType", name)
    if "fields" in data:
        meta.set_fields(doctype_fields(data["fields"]))
    if "permissions" in data:
        meta.permissions = data["permissions"]
    for key in ("sort_field", "sort_order", "title_field", "autoname"):
        if key in data:
            setattr(meta, key, data[key])
    meta.modified = str(ctx.now())
    return doctype_document(meta, ctx.user)


# ---------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------

FAULT_KINDS = {"status", "drop", "drop_after_commit", "timeout", "html", "truncate", "reject_doc",
               "body"}


class Fault:
    """One fault rule. `skip` matching requests pass first, then `count` are hit (-1 = all)."""

    def __init__(self, spec, luck=None):
        if spec.get("kind") not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {spec.get('kind')!r}")
        chance.check(spec)
        self.luck = luck or chance.Chance()
        self.spec = dict(spec)
        self.kind = spec["kind"]
        self.path = spec.get("path", "")
        self.method = (spec.get("method") or "").upper()
        self.count = int(spec.get("count", -1))
        self.skip = int(spec.get("skip", 0))
        self.status = int(spec.get("status", 500))
        self.retry_after = spec.get("retry_after")
        self.seconds = float(spec.get("seconds", 30))
        self.match = dict(spec.get("match") or {})
        self.message = spec.get("message")
        self.fired = 0
        self._lock = threading.Lock()

    def matches(self, req):
        if self.method and req.method != self.method:
            return False
        return req.path.startswith(self.path) or req.raw_url_path.startswith(self.path)

    def matches_doc(self, doctype, doc):
        for key, value in self.match.items():
            actual = doctype if key == "doctype" else doc.get(key)
            if cstr(actual) != cstr(value):
                return False
        return True

    def take(self):
        """True when this occurrence is to be hit (consumes skip/count). A chance rule
        (probability, burst) must win its draw first."""
        if chance.is_chance(self.spec) and not self.luck.fires(self.spec):
            return False
        with self._lock:
            if self.skip > 0:
                self.skip -= 1
                return False
            if self.count == 0:
                return False
            if self.count > 0:
                self.count -= 1
            self.fired += 1
            return True

    def describe(self):
        return dict(self.spec, remaining=self.count, skip_left=self.skip, fired=self.fired)


def fault_response(fault):
    """The answer a `status` or `html` fault gives instead of processing the request."""
    if fault.kind == "html":
        return Response(200, LOGIN_PAGE, content_type="text/html; charset=utf-8")
    if fault.kind == "body":
        return Response(int(fault.spec.get("status", 200)), str(fault.spec.get("body", "")),
                        content_type=fault.spec.get("content_type", "application/json"))
    status = fault.status
    if status in (502, 504):
        title = "Bad Gateway" if status == 502 else "Gateway Time-out"
        resp = Response(status, nginx_page(status, title), content_type="text/html",
                        reason=title, cookies="none", server="nginx/1.22.1")
        return resp
    raise status_fault_error(fault)


def status_fault_error(fault):
    """A Frappe-shaped JSON error for a `status` fault."""
    status, msg = fault.status, fault.message
    headers = []
    if fault.retry_after is not None:
        headers.append(("Retry-After", str(fault.retry_after)))
    if status == 429:
        reset = fault.retry_after if fault.retry_after is not None else 60
        headers += [("X-RateLimit-Reset", str(reset)), ("X-RateLimit-Limit", "600000000"),
                    ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Used", "600000001")]
        return FrappeError("TooManyRequestsError", None, throw=False, absolute=True,
                           frames=["app_rate", "rate_apply", "rate_reject"], headers=headers)
    if status == 503:
        return FrappeError("SessionStopped", msg or "Session Stopped", throw=False, absolute=True,
                           frames=["session_stopped"], headers=headers)
    if status >= 500:
        text = msg or "Deadlock found when trying to get lock; try restarting transaction"
        return FrappeError("QueryDeadlockError", f"(1213, {text!r})", throw=False, status=status,
                           absolute=True, frames=["app", "api", "db_sql", "db_deadlock"],
                           headers=headers)
    if status == 401:
        return FrappeError("AuthenticationError", None, throw=False, absolute=True,
                           frames=["app_auth", "validate_auth_guest"], cookies="clear",
                           headers=headers)
    if status == 404:
        err = not_found("DocType", "")
        if msg:
            err.body["_server_messages"] = json.dumps([json.dumps({
                "message": msg, "title": "Message", "indicator": "red", "raise_exception": 1,
                "__frappe_exc_id": generate_hash()})])
        return err
    exc_type = {403: "PermissionError", 409: "DuplicateEntryError", 400: "CSRFTokenError"}.get(
        status, "ValidationError")
    default = {403: "Not permitted", 400: "Invalid Request"}.get(status, "Simulated error")
    err = throw(msg or default, exc_type, ["app", "api"])
    err.absolute, err.status, err.headers = True, status, headers
    return err


# ---------------------------------------------------------------------------------------
# Worker slots: gunicorn sync workers process one request each
# ---------------------------------------------------------------------------------------

class Gate:
    """At most `limit` requests are processed at once; the others wait their turn."""

    def __init__(self, limit):
        self.cond = threading.Condition()
        self.limit = max(1, int(limit))
        self.in_flight = 0
        self.max_in_flight = 0

    def acquire(self):
        with self.cond:
            while self.in_flight >= self.limit:
                self.cond.wait()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def release(self):
        with self.cond:
            self.in_flight -= 1
            self.cond.notify()

    def set_limit(self, limit):
        with self.cond:
            self.limit = max(1, int(limit))
            self.cond.notify_all()


# Service times measured on the real site (timing.txt), in seconds.
COSTS = {
    "checkin_single": 0.020, "checkin_batch_base": 0.004, "checkin_per_doc": 0.0058,
    "doc_single": 0.0124, "doc_batch_base": 0.003, "doc_per_doc": 0.0015,
    "list": 0.010, "other": 0.010, "refused": 0.005,
}


# ---------------------------------------------------------------------------------------
# The simulator
# ---------------------------------------------------------------------------------------

KNOBS = ("api_user", "api_key", "api_secret", "api_user_roles", "geolocation_tracking",
         "doctypes_present", "enforce_permissions", "cost_model", "serialize_series", "workers",
         "latency_ms", "max_body_bytes", "limit_request_line", "timezone", "now", "passwords",
         "faults", "fault_seed")


class Simulator:
    """All state of one simulated site plus the request pipeline around it."""

    def __init__(self, site="127.0.0.1", api_key="test_key", api_secret="test_secret",
                 api_user="sync@example.com", workers=2, cost_model="none", timezone="",
                 verbose=False):
        self.site = site
        self.cli = dict(api_key=api_key, api_secret=api_secret, api_user=api_user,
                        workers=workers, cost_model=cost_model, timezone=timezone)
        self.verbose = verbose
        self.port = 0
        self.lock = threading.RLock()
        self.series_lock = threading.Lock()
        self.held = threading.local()      # per request thread: when it held the series lock
        self.stop = threading.Event()
        self.gate = Gate(workers)
        self.db_name = "_" + secrets.token_hex(8)
        self.reset()

    # -- state
    def reset(self):
        """Forget every document, knob, fault and counter (the CLI settings stay)."""
        with self.lock:
            self.store = Store()
            self.config = {"api_user": self.cli["api_user"], "api_key": self.cli["api_key"],
                           "api_secret": self.cli["api_secret"], "api_user_roles": ["HR User"],
                           "geolocation_tracking": False, "doctypes_present": True,
                           "enforce_permissions": False, "cost_model": self.cli["cost_model"],
                           "serialize_series": True, "workers": self.cli["workers"],
                           "latency_ms": 0, "max_body_bytes": DEFAULT_MAX_BODY,
                           "limit_request_line": 4094,
                           "timezone": self.cli["timezone"], "now": None,
                           "passwords": {"Administrator": "admin"}, "faults": [],
                           "fault_seed": None}
            self.faults = []
            self.luck = chance.Chance()
            self.clock_offset = dt.timedelta(0)
            self.store.set_doctypes_present(True)
            self.gate.set_limit(self.cli["workers"])
            self.reset_stats()

    def reset_stats(self):
        self.stats = {"requests": collections.Counter(), "statuses": collections.Counter(),
                      "total_requests": 0, "faults_fired": 0}
        self.recent = collections.deque(maxlen=1000)
        self.gate.max_in_flight = self.gate.in_flight

    def configure(self, changes):
        """POST /__sim/config: merge knobs (faults replace the list)."""
        unknown = [k for k in changes if k not in KNOBS]
        if unknown:
            raise ValueError(f"unknown knob(s): {', '.join(unknown)}")
        with self.lock:  # faults last: they are seeded with fault_seed
            for key, value in sorted(changes.items(), key=lambda kv: kv[0] == "faults"):
                self._apply_knob(key, value)

    def _apply_knob(self, key, value):
        if key == "faults":
            self.luck.restart(self.config.get("fault_seed"))
            self.faults = [Fault(spec, self.luck) for spec in value or []]
        elif key == "fault_seed" and value is not None and not isinstance(value, int):
            raise ValueError("fault_seed must be an integer or null")
        elif key == "workers":
            self.gate.set_limit(int(value))
        elif key == "geolocation_tracking":
            self.store.singles["HR Settings"]["allow_geolocation_tracking"] = 1 if value else 0
        elif key == "doctypes_present":
            self.store.set_doctypes_present(bool(value))
        elif key == "cost_model" and value not in ("none", "frappe"):
            raise ValueError("cost_model must be none or frappe")
        elif key == "timezone" and value and (zoneinfo is None or not _zone_exists(value)):
            raise ValueError(f"unknown time zone {value!r}")
        self.config[key] = value
        if key in ("now", "timezone"):
            self.clock_offset = dt.timedelta(0)
            if self.config.get("now"):
                start = dt.datetime.fromisoformat(str(self.config["now"]))
                self.clock_offset = start - self._clock()

    def config_view(self):
        view = {k: v for k, v in self.config.items() if k != "faults"}
        view["geolocation_tracking"] = bool(
            self.store.singles["HR Settings"].get("allow_geolocation_tracking"))
        view["doctypes_present"] = DEVICE_LOG in self.store.metas and SYNC_LOGS in self.store.metas
        view["faults"] = [f.describe() for f in self.faults]
        return view

    def now(self):
        """Site-local naive now: the System Settings time zone, shifted by the `now` knob."""
        return self._clock() + self.clock_offset

    def _clock(self):
        zone = self.config.get("timezone")
        if zone and zoneinfo is not None:
            return dt.datetime.now(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)
        return dt.datetime.now()

    def roles_of(self, user):
        if user == "Administrator":
            return ["Administrator", "System Manager", "HR Manager", "HR User", "Employee",
                    "All", "Guest"]
        if user == self.config["api_user"]:
            return list(self.config["api_user_roles"]) + ["All", "Guest"]
        return ["Guest"] if user == "Guest" else ["All", "Guest"]

    def meta_or_import_error(self, doctype, frames):
        """get_controller() for a doctype that does not exist: 500 ImportError (observed)."""
        meta = self.store.meta(doctype)
        if meta is not None:
            return meta
        module = f"frappe.core.doctype.{scrub(doctype)}"
        raise FrappeError("ImportError", f"Module import failed for {doctype}, the DocType you're "
                          f"trying to open might be deleted.<br> Error: No module named '{module}'",
                          throw=False, frames=list(frames) + ["frappe_get_doc", "get_controller",
                                                              "import_controller", "load_module"])

    # -- the request pipeline
    def handle(self, req):
        """Answer one site request, holding a worker slot while it is processed."""
        with self.lock:
            self.stats["requests"][f"{req.method} {req.path}"] += 1
            self.stats["total_requests"] += 1
        fault = self._request_fault(req)
        arrived = time.monotonic()
        self.gate.acquire()
        started = time.monotonic()
        try:
            resp, docs = self._handle_in_slot(req, fault)
        finally:
            self.gate.release()
        with self.lock:
            self.stats["statuses"][str(resp.status)] += 1
            # arrived/started/done (monotonic seconds) let a benchmark see queueing and idle
            # workers; series_lock the seconds this request held the naming-series lock
            self.recent.append({"method": req.method, "path": req.path, "status": resp.status,
                                "docs": docs, "fault": fault.kind if fault else None,
                                "arrived": arrived, "started": started,
                                "done": time.monotonic(),
                                "series_lock": getattr(self.held, "series", None)})
            self.held.series = None
        return resp

    def _request_fault(self, req):
        for fault in list(self.faults):
            if fault.kind != "reject_doc" and fault.matches(req) and fault.take():
                with self.lock:
                    self.stats["faults_fired"] += 1
                return fault
        return None

    def _handle_in_slot(self, req, fault):
        if fault is not None and fault.kind in ("status", "html", "drop", "body"):
            if fault.kind == "drop":
                resp = Response(0)
                resp.drop = True
                return resp, 0
            try:
                return fault_response(fault), 0
            except FrappeError as err:
                return self._error_response(err, None, "v1"), 0
        if fault is not None and fault.kind == "timeout":
            self.stop.wait(fault.seconds)
        resp, docs = self.process(req)
        if fault is not None and fault.kind in ("drop_after_commit", "truncate"):
            resp.post = "drop" if fault.kind == "drop_after_commit" else "truncate"
        return resp, docs

    def process(self, req):
        """Frappe's app.application(): site, body, form, login, auth, then the endpoint."""
        ctx = None
        api = "v2" if req.path.startswith("/api/v2/") else "v1"
        try:
            site_url = self._resolve_site(req)
            if req.too_large:
                raise HtmlError(413, werkzeug_page(413, "Request Entity Too Large",
                                                   "The data value transmitted exceeds the "
                                                   "capacity limit."))
            form = parse_form(req)
            login = self._login(req, form)
            if login is not None:
                return login, 0
            user = self._authenticate(req)
            ctx = Ctx(self, user, req.method, req.path, site_url, api)
            ctx.rejects = [f for f in self.faults if f.kind == "reject_doc" and f.matches(req)]
            route = self._route(ctx, req, form)
            self._service(route.cost - req.overhead, route.locked)
            return self._run(ctx, req, route), ctx.docs_written
        except HtmlError as err:
            self._service(COSTS["refused"])
            return self._html_response(err), 0
        except FrappeError as err:
            self._service(COSTS["refused"])
            return self._error_response(err, ctx, api), 0
        except Exception as exc:                  # a simulator bug: still answer, as a 500
            return self._error_response(self._bug(exc), ctx, api), 0

    def _run(self, ctx, req, route):
        """Run the endpoint in one transaction: roll back on error, and for GET (Frappe
        commits only POST/PUT/DELETE/PATCH, so a write method called by GET is lost)."""
        with self.lock:
            ctx.txn = Txn(self.store)
            try:
                result = route.run()
            except FrappeError as err:
                self._rollback(ctx)
                return self._error_response(err, ctx, ctx.api)
            except Exception as exc:          # a simulator bug: answer like Frappe would
                self._rollback(ctx)
                return self._error_response(self._bug(exc), ctx, ctx.api)
            if req.method not in ("POST", "PUT", "DELETE", "PATCH") and ctx.txn.wrote:
                self._rollback(ctx)
            return self._success_response(ctx, route, result)

    @staticmethod
    def _rollback(ctx):
        ctx.txn.rollback()
        ctx.docs_written = 0

    def _bug(self, exc):
        """An unexpected exception inside the simulator, reported as Frappe reports one."""
        if self.verbose:
            import traceback
            traceback.print_exc()
        return FrappeError(type(exc).__name__, str(exc), throw=False)

    def _service(self, seconds, locked=0.0):
        """Sleep the simulated service time while holding the worker slot; the last `locked`
        seconds of it also hold the naming-series lock."""
        latency = self.config.get("latency_ms") or 0
        if latency:
            self.stop.wait(latency / 1000.0)
        if self.config.get("cost_model") != "frappe" or seconds <= 0:
            return
        if locked > 0 and self.config.get("serialize_series"):
            self.stop.wait(max(0.0, seconds - locked))
            with self.series_lock:
                taken = time.monotonic()
                self.stop.wait(min(locked, seconds))
                self.held.series = [taken, time.monotonic()]
        else:
            self.stop.wait(seconds)

    def _resolve_site(self, req):
        """The site comes from X-Frappe-Site-Name or the Host header (port stripped)."""
        host = req.header("Host") or ""
        site = req.header("X-Frappe-Site-Name") or host.split(":", 1)[0]
        if site != self.site:
            raise HtmlError(404, werkzeug_page(404, "Not Found",
                                               f"{html.escape(site)} does not exist"))
        scheme = "https" if req.header("X-Forwarded-Proto") == "https" else "http"
        base = host if ":" in host else f"{host}:{self.port}"
        return f"{scheme}://{base}"

    # -- authentication
    def _login(self, req, form):
        """POST /api/method/login (handled while the request initialises, 18, 18b)."""
        if req.path not in ("/api/method/login", "/api/v2/method/login"):
            return None
        user, pwd = form.get("usr"), form.get("pwd")
        frames = ["app_init", "init_login", "http_request", "set_session", "login_manager",
                  "login", "authenticate", "login_fail"]
        if not (user and pwd):
            message = "Incomplete login details"
        elif self.config["passwords"].get(user) != pwd:
            message = "Invalid login credentials"
        else:
            sid = generate_hash()
            self.store.sessions[sid] = user
            body = {"message": "Logged In", "home_page": "/app", "full_name": user}
            resp = Response(200, json_bytes(body), cookies="session", user=user)
            resp.sid = sid
            return resp
        err = FrappeError("AuthenticationError", None, throw=False, absolute=True, frames=frames,
                          pre={"message": message}, cookies="none")
        return self._error_response(err, None, "v1")

    def _authenticate(self, req):
        """frappe.auth.validate_auth: token or Basic key:secret, else Guest; a two-part
        Authorization header that does not authenticate is a 401 (07, 07b)."""
        user = self.store.sessions.get(req.cookie("sid") or "", "Guest")
        parts = (req.header("Authorization") or "").split(" ")
        if len(parts) != 2:
            return user
        scheme, token = parts[0].lower(), parts[1]
        pair, via = None, "api_keys_token"
        if scheme == "token":
            pair = token.split(":")
        elif scheme == "basic":
            via = "api_keys_basic"
            pair = self._basic_pair(token)
        if pair is not None and len(pair) == 2:
            return self._check_key(pair[0], pair[1], via)
        if user == "Guest":
            raise FrappeError("AuthenticationError", None, throw=False, absolute=True,
                              frames=["app_auth", "validate_auth_guest"], cookies="clear")
        return user

    @staticmethod
    def _basic_pair(token):
        try:
            decoded = base64.b64decode(token)
        except binascii.Error:      # Frappe: InvalidAuthorizationToken, 400
            err = throw("Failed to decode token, please provide a valid base64-encoded token.",
                        "InvalidAuthorizationToken",
                        ["app_auth", "validate_auth_api", "api_keys_decode"])
            err.absolute = True
            raise err
        except ValueError:          # e.g. non-ASCII: swallowed, the request stays Guest
            return None
        try:
            return decoded.decode("utf-8").split(":")
        except UnicodeDecodeError:
            return None

    def _check_key(self, key, secret, via):
        frames = ["app_auth", "validate_auth_api", via]
        if fold(key) != fold(self.config["api_key"]):
            raise FrappeError("AuthenticationError", None, throw=False, absolute=True,
                              frames=frames + ["key_unknown"], cookies="clear")
        if secret != self.config["api_secret"]:
            raise FrappeError("AuthenticationError", None, throw=False, absolute=True,
                              frames=frames + ["key_secret"], cookies="clear")
        return self.config["api_user"]

    # -- routing
    def _route(self, ctx, req, form):
        path = req.path
        if path.startswith("/api/v1/"):
            path = "/api/" + path[len("/api/v1/"):]
        if path.startswith("/api/v2/"):
            return route_v2(self, ctx, req, form, path[len("/api/v2"):])
        if path.startswith("/api/method/"):
            return route_method(self, ctx, req, form, path[len("/api/method/"):], "v1")
        segments = req.raw_url_path.split("/")
        if path.startswith("/api/resource/") and len(segments) >= 4 and segments[3]:
            doctype = urllib.parse.unquote(segments[3])
            name = urllib.parse.unquote("/".join(segments[4:])) if len(segments) > 4 else None
            return route_resource(self, ctx, req, form, doctype, name or None)
        if path.startswith("/api/"):
            raise HtmlError(404, werkzeug_page(404, "Not Found", "The requested URL was not found "
                            "on the server. If you entered the URL manually please check your "
                            "spelling and try again."))
        raise HtmlError(404, werkzeug_page(404, "Not Found", f"{html.escape(path)} not found"),
                        cookies=True)

    # -- responses
    @staticmethod
    def _success_response(ctx, route, result):
        """{"data": ...} for resources and v2, {"message": ...} for methods (none if None)."""
        body = {} if (result is None and route.key == "message") else {route.key: result}
        return Response(route.status, json_bytes(body))

    def _error_response(self, err, ctx, api):
        prefix = ctx.prefix if ctx is not None else []
        body = v2_error_body(err, prefix) if api == "v2" else v1_error_body(err, prefix)
        return Response(err.status, json_bytes(body), headers=err.headers, cookies=err.cookies)

    @staticmethod
    def _html_response(err):
        return Response(err.status, err.body, content_type=err.content_type, reason=err.reason,
                        cookies="guest" if err.cookies else "none", server=err.server)


def _zone_exists(name):
    try:
        zoneinfo.ZoneInfo(name)
        return True
    except Exception:
        return False


def parse_form(req):
    """app.make_form_dict: a JSON body under a JSON content type becomes the arguments
    (malformed -> 500 JSONDecodeError, 15/15b); otherwise query string plus form fields."""
    text = req.body.decode("utf-8", "replace")
    mt = req.mimetype
    if text and (mt == "application/json" or (mt.startswith("application/") and
                                               mt.endswith("+json"))):
        try:
            args = json.loads(text)
        except json.JSONDecodeError as e:   # raised before Frappe's cookie manager exists
            err = json_decode_error(e, text, ["app_init", "init_form", "form_json"])
            err.cookies = "none"
            raise err
        return dict(args) if isinstance(args, dict) else {"data": args}
    args = dict(req.query)
    if mt == "application/x-www-form-urlencoded" and text:
        for key, value in urllib.parse.parse_qsl(text, keep_blank_values=True):
            args.setdefault(key, value)
    return args


class Route:
    """A resolved endpoint: what to run, its traceback frames, cost, response key."""

    def __init__(self, run, key="data", status=200, cost=0.0, locked=0.0):
        self.run, self.key, self.status, self.cost, self.locked = run, key, status, cost, locked


def _is_series(meta):
    auto = (meta.autoname or "") if meta else ""
    return "#" in auto and not auto.lower().startswith("format:")


def _doc_cost(sim, doctype, count=None):
    """(service time, seconds of it under the naming-series lock) for inserting `count` docs
    of `doctype` (None = a single POST).

    Document.insert() names a document (set_new_name -> getseries: SELECT ... FOR UPDATE on
    the tabSeries row, naming.py:381-396) after its defaults, link checks and before_insert,
    and before validate (HRMS: active employee, duplicate, shift), db_insert, on_update; the
    row lock lasts until the request commits. So a request holds the lock from a quarter
    into its first document to the end, and insert_many's later documents run wholly under
    it (frappe-api.md §7.1, §9: concurrent inserts serialize)."""
    meta = sim.store.meta(doctype) if isinstance(doctype, str) else None
    checkin = doctype == CHECKIN
    base = COSTS["checkin_batch_base" if checkin else "doc_batch_base"]
    if count is None:
        cost = COSTS["checkin_single" if checkin else "doc_single"]
        first = cost - base
    else:
        per = COSTS["checkin_per_doc" if checkin else "doc_per_doc"]
        cost, first = base + per * count, per
    locked = cost - base - 0.25 * first if _is_series(meta) else 0.0
    return cost, max(0.0, locked)


def route_method(sim, ctx, req, form, cmd, api):
    """/api/method/<cmd>: resolve, whitelist, HTTP method, then call."""
    head = ["app", "api", "v1_rpc", "handle"]
    spec = METHODS.get(cmd)
    if spec is None:
        raise unknown_method(cmd)
    if ctx.user == "Guest" and not spec.guest:
        raise not_whitelisted(cmd, head)
    if spec.http and req.method not in spec.http:
        err = throw("Not permitted", "PermissionError", head + ["exec_http", "http_invalid",
                                                               "http_throw"])
        err.absolute = True
        raise err
    ctx.prefix = head + ["exec_call"] + RPC if api == "v1" else ["app", "api", "v2_rpc"] + RPC
    cost, locked = _method_cost(sim, spec, form)
    return Route(lambda: spec.handler(sim, ctx, form), key="message" if api == "v1" else "data",
                 cost=cost, locked=locked)


def _method_cost(sim, spec, form):
    if spec.cost == "insert_checkin":
        return _doc_cost(sim, CHECKIN)
    if spec.cost == "list":
        return COSTS["list"], 0.0
    if spec.cost == "insert_many":
        docs = form.get("docs")
        if isinstance(docs, str):
            try:
                docs = json.loads(docs)
            except ValueError:
                docs = []
        docs = docs if isinstance(docs, list) else []
        doctype = docs[0].get("doctype") if docs and isinstance(docs[0], dict) else None
        return _doc_cost(sim, doctype, len(docs))
    if spec.cost == "insert":
        doc = form.get("doc")
        doctype = doc.get("doctype") if isinstance(doc, dict) else None
        return _doc_cost(sim, doctype)
    return COSTS["other"], 0.0


def route_resource(sim, ctx, req, form, doctype, name):
    """/api/resource/<DocType>[/<name>] (v1 URL map)."""
    m = req.method
    if name is None and m == "GET":
        ctx.prefix = ["app", "api"]
        form = dict(form, __doctype=doctype)
        return Route(lambda: list_documents(sim, ctx, form, "v1"), cost=COSTS["list"])
    if name is None and m == "POST":
        ctx.prefix = ["app", "api", "v1_create"]
        data = request_form_data(req, form)
        cost, locked = _doc_cost(sim, doctype)
        return Route(lambda: create_document(sim, ctx, doctype, data), cost=cost, locked=locked)
    if name is not None and m == "GET":
        ctx.prefix = ["app", "api"]
        return Route(lambda: read_document(sim, ctx, doctype, name), cost=COSTS["other"])
    if name is not None and m == "PUT":
        ctx.prefix = ["app", "api"]
        data = request_form_data(req, form)
        return Route(lambda: update_document(sim, ctx, doctype, name, data), cost=COSTS["other"])
    if name is not None and m == "DELETE":
        ctx.prefix = ["app", "api"]
        return Route(lambda: delete_document(sim, ctx, doctype, name), status=202,
                     cost=COSTS["other"])
    raise HtmlError(405, werkzeug_page(405, "Method Not Allowed",
                                       "The method is not allowed for the requested URL."))


def route_v2(sim, ctx, req, form, path):
    """/api/v2: method/<cmd>, document/<dt>[/<name>], doctype/<dt>/meta|count."""
    if path.startswith("/method/"):
        return route_method(sim, ctx, req, form, path[len("/method/"):], "v2")
    segments = [urllib.parse.unquote(s) for s in path.split("/")[1:]]
    m = req.method
    if segments[:1] == ["document"] and len(segments) >= 2:
        doctype, name = segments[1], "/".join(segments[2:]) or None
        if name is None and m == "GET":
            ctx.prefix = ["app", "api"]
            return Route(lambda: list_documents(sim, ctx, dict(form, __doctype=doctype), "v2"),
                         cost=COSTS["list"])
        if name is None and m == "POST":
            ctx.prefix = ["app", "api", "v2_create"]
            data = form if req.mimetype.endswith("json") else request_form_data(req, form)
            cost, locked = _doc_cost(sim, doctype)
            return Route(lambda: create_document(sim, ctx, doctype, data), cost=cost,
                         locked=locked)
        if name is not None:
            ctx.prefix = ["app", "api"]
            if m == "GET":
                return Route(lambda: read_document(sim, ctx, doctype, name), cost=COSTS["other"])
            if m in ("PUT", "PATCH"):
                return Route(lambda: update_document(sim, ctx, doctype, name, dict(form)),
                             cost=COSTS["other"])
            if m == "DELETE":
                return Route(lambda: delete_document(sim, ctx, doctype, name), status=202,
                             cost=COSTS["other"])
    if segments[:1] == ["doctype"] and len(segments) == 3 and m == "GET":
        doctype, what = segments[1], segments[2]
        ctx.prefix = ["app", "api"]
        if what == "meta":
            return Route(lambda: read_document(sim, ctx, "DocType", doctype))
        if what == "count":
            return Route(lambda: ListQuery(ctx, doctype, []).run(filters=form.get("filters"),
                                                                 count_only=True))
    raise HtmlError(404, werkzeug_page(404, "Not Found", "The requested URL was not found on the "
                                       "server. If you entered the URL manually please check "
                                       "your spelling and try again."))


# ---------------------------------------------------------------------------------------
# Control API (/__sim/...): test set-up and inspection, no auth, no site routing
# ---------------------------------------------------------------------------------------

SHIFT_DEFAULTS = {"start_time": "9:00:00", "end_time": "18:00:00", "color": "Blue",
                  "process_attendance_after": None, "last_sync_of_checkin": None}


def control(sim, req):
    """Dispatch a /__sim/ request; answers JSON, 400 {"error": ...} on bad input."""
    try:
        payload = json.loads(req.body or b"{}") if req.method == "POST" else {}
        handler = CONTROL.get((req.method, req.path))
        if handler is None:
            return Response(404, json_bytes({"error": f"no control endpoint {req.method} "
                                                      f"{req.path}"}), cookies="none")
        with sim.lock:
            result = handler(sim, req, payload)
        return Response(200, json_bytes(result), cookies="none")
    except (ValueError, KeyError, TypeError) as e:
        return Response(400, json_bytes({"error": f"{type(e).__name__}: {e}"}), cookies="none")


def raw_document(sim, meta, data, now):
    """A stored row built from `data` without any validation (control API)."""
    doc = {"name": data.get("name"), "owner": data.get("owner", "Administrator"),
           "creation": data.get("creation", now), "modified": data.get("modified", now),
           "modified_by": data.get("modified_by", "Administrator"),
           "docstatus": cint(data.get("docstatus")), "idx": cint(data.get("idx"))}
    for f in meta.data_fields:
        value = data.get(f.fieldname, DocWriter._default(f, now) if f.default not in ("Now", "now")
                         else None)
        if f.fieldtype in INT_TYPES:
            value = cint(value)
        elif f.fieldtype in FLOAT_TYPES:
            value = flt(value)
        elif f.fieldtype == "Datetime" and isinstance(value, str) and value:
            value = mariadb_datetime(value) or value
        elif f.fieldtype == "Time" and value not in (None, ""):
            value = mariadb_time(value) or value
        elif value is not None and not isinstance(value, str):
            value = cstr(value)
        if value is not None:
            doc[f.fieldname] = value
    return doc


def _ensure_fields(meta, rows):
    """Unknown keys of control-API rows become Data fields (custom fields)."""
    extra = []
    for row in rows:
        for key in row:
            if key not in PROTECTED_KEYS and meta.field(key) is None and key not in [
                    f.fieldname for f in extra]:
                extra.append(Field(key, "Data", key.replace("_", " ").title()))
    if extra:
        meta.set_fields(meta.fields + extra)


def note_series_name(store, meta, name):
    """A row planted with a series-looking name (HR-EMP-00007) advances that series, so
    later API inserts do not collide with it, as after a real import."""
    if not _is_series(meta) and not (meta.autoname or "").startswith("naming_series:"):
        return
    m = re.match(r"^(.*?)(\d+)$", cstr(name))
    if m:
        store.series[m.group(1)] = max(store.series.get(m.group(1), 0), int(m.group(2)))


def upsert(sim, doctype, rows, defaults):
    """Insert or merge rows (by name) without validation."""
    meta = sim.store.meta(doctype)
    _ensure_fields(meta, rows)
    now = str(sim.now())
    names = []
    for row in rows:
        if not row.get("name"):
            raise ValueError(f"{doctype} rows need a name")
        old = sim.store.remove(doctype, row["name"])
        merged = dict(defaults(row))
        if old is not None:
            merged = dict(old, **{k: v for k, v in row.items()})
            merged["modified"] = now
        merged.update({k: v for k, v in row.items()})
        sim.store.add(doctype, raw_document(sim, meta, merged, now))
        note_series_name(sim.store, meta, row["name"])
        names.append(row["name"])
    return {"ok": True, "names": names}


def _employee_defaults(row):
    full = " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)
    return {"status": "Active", "employee_name": full or row.get("name"),
            "first_name": row.get("employee_name") or row.get("name"), "employee": row.get("name")}


def c_employees(sim, req, payload):
    return upsert(sim, "Employee", payload.get("employees") or [], _employee_defaults)


def c_shift_types(sim, req, payload):
    return upsert(sim, "Shift Type", payload.get("shift_types") or [],
                  lambda row: dict(SHIFT_DEFAULTS))


def c_docs_post(sim, req, payload):
    """Raw insert bypassing validation (e.g. a checkin left behind by a crash)."""
    doctype = payload["doctype"]
    meta = sim.store.meta(doctype)
    if meta is None:
        raise ValueError(f"no doctype {doctype!r}")
    _ensure_fields(meta, payload.get("docs") or [])
    now = str(sim.now())
    ctx = Ctx(sim, "Administrator", "POST", req.path, "")
    names = []
    for data in payload.get("docs") or []:
        data = dict(data)
        if not data.get("name"):
            writer = DocWriter(ctx, meta, [])
            writer.values = {f.fieldname: data.get(f.fieldname) for f in meta.data_fields}
            writer._set_name(data)
            data["name"] = writer.name
        sim.store.remove(doctype, data["name"])
        sim.store.add(doctype, raw_document(sim, meta, data, now))
        note_series_name(sim.store, meta, data["name"])
        names.append(data["name"])
    return {"ok": True, "names": names}


def c_docs_get(sim, req, payload):
    doctype = req.query.get("doctype", "")
    if doctype in sim.store.metas and sim.store.meta(doctype).issingle:
        return {"doctype": doctype, "docs": [dict(sim.store.singles.get(doctype, {}))]}
    table = sim.store.tables.get(doctype)
    docs = [dict(d, doctype=doctype) for d in table.docs.values()] if table else []
    return {"doctype": doctype, "docs": docs}


def c_delete_docs(sim, req, payload):
    doctype = payload["doctype"]
    deleted = [n for n in payload.get("names") or [] if sim.store.remove(doctype, n) is not None]
    return {"ok": True, "deleted": deleted}


def c_config_post(sim, req, payload):
    sim.configure(payload)
    return sim.config_view()


def c_config_get(sim, req, payload):
    return sim.config_view()


def c_stats(sim, req, payload):
    return {"requests": dict(sim.stats["requests"]), "statuses": dict(sim.stats["statuses"]),
            "total_requests": sim.stats["total_requests"],
            "faults_fired": sim.stats["faults_fired"],
            "max_in_flight": sim.gate.max_in_flight, "in_flight": sim.gate.in_flight,
            "docs": sim.store.counts()}


def c_reset_stats(sim, req, payload):
    sim.reset_stats()
    return {"ok": True}


def c_requests(sim, req, payload):
    return {"requests": list(sim.recent)}


def c_reset(sim, req, payload):
    sim.reset()
    return {"ok": True}


CONTROL = {
    ("POST", "/__sim/employees"): c_employees,
    ("POST", "/__sim/shift_types"): c_shift_types,
    ("POST", "/__sim/docs"): c_docs_post,
    ("GET", "/__sim/docs"): c_docs_get,
    ("POST", "/__sim/delete_docs"): c_delete_docs,
    ("POST", "/__sim/config"): c_config_post,
    ("GET", "/__sim/config"): c_config_get,
    ("GET", "/__sim/stats"): c_stats,
    ("POST", "/__sim/reset_stats"): c_reset_stats,
    ("GET", "/__sim/requests"): c_requests,
    ("POST", "/__sim/reset"): c_reset,
}


# ---------------------------------------------------------------------------------------
# HTTP server
# ---------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    """One connection, one request, `Connection: close` (gunicorn sync worker)."""

    protocol_version = "HTTP/1.1"
    timeout = 300

    def version_string(self):
        return "gunicorn"

    def log_message(self, fmt, *args):
        if self.server.sim.verbose:
            sys.stderr.write("erpnext_sim: %s - %s\n" % (self.address_string(), fmt % args))

    def setup(self):
        self.accepted = time.monotonic()
        super().setup()

    def parse_request(self):
        """gunicorn refuses request lines longer than limit_request_line (4094) with its own
        400 page, before Frappe sees anything: long GET filter lists fail there."""
        if not super().parse_request():
            return False
        limit = int(self.server.sim.config.get("limit_request_line") or 0)
        if limit and len(self.requestline) > limit and not self.path.startswith("/__sim/"):
            self.close_connection = True
            self.wfile.write(gunicorn_error(400, "Bad Request", "Request Line is too large "
                                            f"({len(self.requestline)} > {limit})"))
            return False
        return True

    def _serve(self):
        self.close_connection = True
        sim = self.server.sim
        req = self._read_request(sim)
        if req is None:
            return
        if req.path.startswith("/__sim/"):
            resp = control(sim, req)
        else:
            resp = sim.handle(req)
        self._send(resp, head=req.method == "HEAD")
        self.log_message('"%s" %s %s', self.requestline, resp.status,
                         "dropped" if resp.drop or resp.post == "drop" else len(resp.body))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def _read_request(self, sim):
        """Read the whole body (chunked or Content-Length); oversize bodies are drained."""
        limit = int(sim.config.get("max_body_bytes") or DEFAULT_MAX_BODY)
        if self.path.startswith("/__sim/"):
            limit = 1 << 62
        try:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                body, too_large = self._read_chunked(limit)
            else:
                length = int(self.headers.get("Content-Length") or 0)
                if length < 0:
                    raise ValueError("negative Content-Length")
                body, too_large = self._read_exact(length, limit)
        except (ValueError, OSError):
            self.send_error(400, "Bad Request")
            return None
        req = Request(self.command, self.path, self.headers, body, too_large)
        req.overhead = time.monotonic() - self.accepted
        return req

    def _read_exact(self, length, limit):
        chunks, remaining, kept = [], length, 0
        while remaining > 0:
            data = self.rfile.read(min(remaining, 1 << 16))
            if not data:
                raise OSError("client closed the connection mid-body")
            remaining -= len(data)
            if kept + len(data) <= limit:
                chunks.append(data)
                kept += len(data)
        return b"".join(chunks), length > limit

    def _read_chunked(self, limit):
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            data = self.rfile.read(size)
            self.rfile.readline()
            total += size
            if total <= limit:
                chunks.append(data)
        return b"".join(chunks), total > limit

    def _send(self, resp, head=False):
        try:
            self._write(resp, head)
        except (BrokenPipeError, ConnectionResetError):
            pass                      # the client gave up (timeouts): nothing to answer

    def _write(self, resp, head):
        if resp.drop or resp.post == "drop":
            self._abort()
            return
        self.send_response_only(resp.status, resp.reason)
        self.send_header("Server", resp.server)
        self.send_header("Date", self.date_time_string())
        self.send_header("Connection", "close")
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers:
            self.send_header(name, value)
        for cookie in cookie_headers(resp.cookies, resp.user, getattr(resp, "sid", None)):
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        body = resp.body
        if resp.post == "truncate":
            body = body[:len(body) // 2]
        if not head:
            self.wfile.write(body)
        self.wfile.flush()
        if resp.post == "truncate":
            self._abort()

    def _abort(self):
        """Close the connection without (the rest of) an answer."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def gunicorn_error(status, reason, message):
    """gunicorn.util.write_error: the raw answer gunicorn itself sends."""
    page = ("<html>\n  <head>\n    <title>%s</title>\n  </head>\n  <body>\n    <h1><p>%s</p></h1>\n"
            "    %s\n  </body>\n</html>\n") % (reason, reason, html.escape(message))
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: text/html\r\n"
            f"Content-Length: {len(page)}\r\n\r\n")
    return (head + page).encode("latin-1")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, sim, port):
        self.sim = sim
        super().__init__(("127.0.0.1", port), Handler)
        sim.port = self.server_address[1]

    def handle_error(self, request, client_address):
        """Clients that hang up are normal here; only --verbose prints tracebacks."""
        if self.sim.verbose:
            super().handle_error(request, client_address)


def write_ready_file(path, port):
    """Write the port atomically so a waiting test never reads a partial file."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def parse_args(argv):
    p = argparse.ArgumentParser(description="ERPNext (Frappe 15 + HRMS) server simulator")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ready-file")
    p.add_argument("--site", default="127.0.0.1")
    p.add_argument("--api-key", default="test_key")
    p.add_argument("--api-secret", default="test_secret")
    p.add_argument("--api-user", default="sync@example.com")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cost-model", choices=("none", "frappe"), default="none")
    p.add_argument("--timezone", default="")
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    sim = Simulator(site=args.site, api_key=args.api_key, api_secret=args.api_secret,
                    api_user=args.api_user, workers=args.workers, cost_model=args.cost_model,
                    timezone=args.timezone, verbose=args.verbose)
    server = Server(sim, args.port)

    def stop(signum, frame):
        sim.stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.ready_file:
        write_ready_file(args.ready_file, sim.port)
    print(f"erpnext_sim listening on 127.0.0.1:{sim.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
