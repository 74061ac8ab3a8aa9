"""Personnel writes of the BioTime simulator (shared/reference/biotime-personnel.md).

Imported by biotime_sim.py, standard library only.  It holds departments, areas and
resignations, and answers the personnel write paths as a DRF server does:

    POST   /personnel/api/employees/          create (201; relations as bare ids)
    PUT    /personnel/api/employees/{id}/     emp_code, department, area required
    PATCH  /personnel/api/employees/{id}/     any subset
    DELETE /personnel/api/employees/{id}/     204 (counted: a sync daemon must never call it)
    GET    /personnel/api/departments/, /personnel/api/areas/   paged lists
    GET    /personnel/api/resigns/            paged, filter employee (emp id)
    POST   /personnel/api/resigns/            resign one (201)
    POST   /personnel/api/resigns/reinstatement/   {"resigns": [resign ids]}

Refusals are DRF field maps with HTTP 400 ({"first_name": ["Ensure this field has no more
than 25 characters."]}).  Write answers are not shaped like reads: department and area
come back as bare ids, and with write_answer_id = false a create answer has no id.

Knobs (merged into the simulator's config):
    resign_api          true   false: /personnel/api/resigns/... is an unknown path
                               (HTML page with 200, as on BioTime 8.0 and 9.0)
    emp_code_editable   true   false: the 9.5 quirk: a PUT/PATCH changing emp_code
                               answers 200 echoing the new code and keeps the old one
    resigned_in_list    true   false: resigned people leave /personnel/api/employees/
    write_answer_id     true   false: create answers leave out "id"
    name_max_length     25     first_name/last_name longer than this are refused
"""

from __future__ import annotations

import re

EMPLOYEES = "/personnel/api/employees/"
DEPARTMENTS = "/personnel/api/departments/"
AREAS = "/personnel/api/areas/"
RESIGNS = "/personnel/api/resigns/"
REINSTATE = "/personnel/api/resigns/reinstatement/"

KNOBS = {
    "resign_api": True,
    "emp_code_editable": True,
    "resigned_in_list": True,
    "write_answer_id": True,
    "name_max_length": 25,
}

REQUIRED = "This field is required."
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
UNUSABLE = "unknown_path"  # route() result: answer as an unknown path


class Personnel:
    """Departments, areas and resignations; employees stay in the Store."""

    def __init__(self):
        self.depts = {1: {"id": 1, "dept_code": "1", "dept_name": "Department",
                          "parent_dept": None}}
        self.areas = {1: {"id": 1, "area_code": "1", "area_name": "Head office",
                          "parent_area": None}}
        self.resigns: dict[int, dict] = {}
        self.next_resign = 1
        self.deletes = 0

    def named(self, kind: str, name: str) -> int:
        """The id of the department or area with this name (created if missing)."""
        table, _, name_key = self._table(kind)
        for ident, row in table.items():
            if row[name_key] == name:
                return ident
        return self.add(kind, str(max(table) + 1), name)["id"]

    def add(self, kind: str, code: str, name: str) -> dict:
        table, code_key, name_key = self._table(kind)
        for row in table.values():
            if row[code_key] == code:
                row[name_key] = name
                return row
        ident = max(table) + 1
        table[ident] = {"id": ident, code_key: code, name_key: name,
                        "parent_dept" if kind == "department" else "parent_area": None}
        return table[ident]

    def _table(self, kind: str):
        if kind == "department":
            return self.depts, "dept_code", "dept_name"
        return self.areas, "area_code", "area_name"

    def nested_dept(self, ident: int) -> dict:
        row = self.depts[ident]
        return {"id": ident, "dept_code": row["dept_code"], "dept_name": row["dept_name"]}

    def nested_area(self, ident: int) -> dict:
        row = self.areas[ident]
        return {"id": ident, "area_code": row["area_code"], "area_name": row["area_name"]}

    def resigned_ids(self) -> set:
        return {r["employee"] for r in self.resigns.values()}

    def to_state(self) -> dict:
        return {"depts": list(self.depts.values()), "areas": list(self.areas.values()),
                "resigns": list(self.resigns.values()), "next_resign": self.next_resign}

    def load_state(self, state: dict) -> None:
        for row in state.get("depts", []):
            self.depts[row["id"]] = row
        for row in state.get("areas", []):
            self.areas[row["id"]] = row
        for row in state.get("resigns", []):
            self.resigns[row["id"]] = row
        self.next_resign = state.get("next_resign", self.next_resign)


# --------------------------------------------------------------------------- validation


def _pk(value, table: dict, field: str, errors: dict):
    """A DRF PrimaryKeyRelatedField."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        errors[field] = [f"Incorrect type. Expected pk value, received {type(value).__name__}."]
        return None
    if isinstance(value, str) and not value.isdigit():
        errors[field] = ["Incorrect type. Expected pk value, received str."]
        return None
    if int(value) not in table:
        errors[field] = [f'Invalid pk "{value}" - object does not exist.']
        return None
    return int(value)


def _area_list(value, table: dict, errors: dict):
    if not isinstance(value, list):
        errors["area"] = [f'Expected a list of items but got type "{type(value).__name__}".']
        return None
    if not value:
        errors["area"] = ["This list may not be empty."]
        return None
    ids = []
    for item in value:
        ident = _pk(item, table, "area", errors)
        if ident is None:
            return None
        ids.append(ident)
    return ids


def _text(value, field: str, limit: int, errors: dict):
    if value is None:
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        errors[field] = ["Not a valid string."]
        return None
    text = str(value).strip()
    if len(text) > limit:
        errors[field] = [f"Ensure this field has no more than {limit} characters."]
        return None
    return text


def validate_employee(data, store, cfg: dict, partial: bool, current=None):
    """(clean fields, errors) of an employee body; current is the record being updated."""
    if not isinstance(data, dict):
        return None, {"non_field_errors": [
            f"Invalid data. Expected a dictionary, but got {type(data).__name__}."]}
    errors, clean = {}, {}
    pers = store.personnel
    for field in ("emp_code", "department", "area"):
        if field not in data and not partial:
            errors[field] = [REQUIRED]
    if "emp_code" in data:
        code = _text(data["emp_code"], "emp_code", 20, errors)
        if code == "":
            errors["emp_code"] = ["This field may not be blank."]
        elif code is not None:
            other = store.employees.get(code)
            if other is not None and other is not current:
                errors["emp_code"] = ["employee with this emp code already exists."]
            clean["emp_code"] = code
    if "department" in data:
        ident = _pk(data["department"], pers.depts, "department", errors)
        if ident is not None:
            clean["department"] = ident
    if "area" in data:
        ids = _area_list(data["area"], pers.areas, errors)
        if ids is not None:
            clean["area"] = ids
    for field in ("first_name", "last_name"):
        if field in data:
            text = _text(data[field], field, cfg["name_max_length"], errors)
            if text is not None:
                clean[field] = text
    if "hire_date" in data and not (isinstance(data["hire_date"], str)
                                    and DATE_RE.match(data["hire_date"])):
        errors["hire_date"] = ["Date has wrong format. Use one of these formats instead: "
                               "YYYY-MM-DD."]
    elif "hire_date" in data:
        clean["hire_date"] = data["hire_date"]
    return clean, errors


def write_answer(emp: dict, sent: dict) -> dict:
    """What a write answers: the sent fields over the record, relations as bare ids."""
    out = dict(emp)
    dept = out.get("department")
    out["department"] = dept.get("id") if isinstance(dept, dict) else dept
    out["area"] = [a.get("id") if isinstance(a, dict) else a for a in out.get("area") or []]
    out.update(sent)
    return out


def apply_fields(emp: dict, clean: dict, pers: Personnel) -> None:
    for key, value in clean.items():
        if key == "department":
            emp["department"] = pers.nested_dept(value)
        elif key == "area":
            emp["area"] = [pers.nested_area(i) for i in value]
        else:
            emp[key] = value


# --------------------------------------------------------------------------- views


def create_employee(sim, data) -> tuple:
    store, cfg = sim.store, sim.cfg
    clean, errors = validate_employee(data, store, cfg, partial=False)
    if errors:
        return 400, errors
    emp = store.new_employee(clean["emp_code"])
    apply_fields(emp, clean, store.personnel)
    store.version += 1
    answer = write_answer(emp, clean)
    if not cfg["write_answer_id"]:
        answer.pop("id", None)
    return 201, answer


def update_employee(sim, emp: dict, data, partial: bool) -> tuple:
    store, cfg = sim.store, sim.cfg
    clean, errors = validate_employee(data, store, cfg, partial, current=emp)
    if errors:
        return 400, errors
    stored = dict(clean)
    new_code = clean.get("emp_code")
    if new_code is not None and new_code != emp["emp_code"]:
        if not cfg["emp_code_editable"]:
            stored.pop("emp_code")  # 9.5: success, and the old code stays
        else:
            del store.employees[emp["emp_code"]]
            store.employees[new_code] = emp
    apply_fields(emp, stored, store.personnel)
    store.version += 1
    return 200, write_answer(emp, clean)


def resign(sim, data) -> tuple:
    store, pers = sim.store, sim.store.personnel
    if not isinstance(data, dict):
        return 400, {"non_field_errors": ["Invalid data. Expected a dictionary, but got "
                                          f"{type(data).__name__}."]}
    errors = {}
    by_id = {e["id"]: e for e in store.employees.values()}
    for field in ("employee", "resign_date", "resign_type", "disableatt"):
        if field not in data:
            errors[field] = [REQUIRED]
    emp_id = _pk(data["employee"], by_id, "employee", errors) if "employee" in data else None
    if emp_id is not None and emp_id in pers.resigned_ids():
        errors["employee"] = ["resign with this employee already exists."]
    date = data.get("resign_date")
    if "resign_date" in data and not (isinstance(date, str) and DATE_RE.match(date)):
        errors["resign_date"] = ["Date has wrong format. Use one of these formats instead: "
                                 "YYYY-MM-DD."]
    rtype = data.get("resign_type")
    if "resign_type" in data and rtype not in (1, 2, 3, 4, 5):
        errors["resign_type"] = [f'"{rtype}" is not a valid choice.']
    if "disableatt" in data and not isinstance(data["disableatt"], bool):
        errors["disableatt"] = ["Must be a valid boolean."]
    reason = data.get("reason") or ""
    if not isinstance(reason, str) or len(reason) > 200:
        errors["reason"] = ["Ensure this field has no more than 200 characters."]
    if errors:
        return 400, errors
    emp = by_id[emp_id]
    ident = pers.next_resign
    pers.next_resign += 1
    row = {"id": ident, "employee": emp_id, "resign_date": date, "resign_type": rtype,
           "disableatt": data["disableatt"], "reason": reason}
    pers.resigns[ident] = row
    store.version += 1
    return 201, render_resign(row, emp)


def render_resign(row: dict, emp) -> dict:
    who = {"id": row["employee"], "emp_code": emp["emp_code"] if emp else None,
           "first_name": emp["first_name"] if emp else None,
           "last_name": emp["last_name"] if emp else None}
    return {"id": row["id"], "resign_date": row["resign_date"],
            "resign_type": row["resign_type"], "disableatt": row["disableatt"],
            "employee": who, "first_name": who["first_name"], "last_name": who["last_name"],
            "reason": row["reason"]}


def reinstate(sim, data) -> tuple:
    pers = sim.store.personnel
    ids = data.get("resigns") if isinstance(data, dict) else None
    if not isinstance(ids, list):
        return 400, {"resigns": [REQUIRED]}
    for ident in ids:
        pers.resigns.pop(ident, None)
    sim.store.version += 1
    return 200, {"code": 0, "msg": "", "data": []}


def resign_rows(sim, params: dict) -> list:
    store, pers = sim.store, sim.store.personnel
    by_id = {e["id"]: e for e in store.employees.values()}
    want = (params.get("employee") or [""])[-1]
    rows = sorted(pers.resigns.values(), key=lambda r: r["id"])
    if want.isdigit():
        rows = [r for r in rows if r["employee"] == int(want)]
    return [render_resign(r, by_id.get(r["employee"])) for r in rows]


def listed_employees(sim) -> list:
    """Employees the list shows (resigned people leave it with resigned_in_list off)."""
    emps = sorted(sim.store.employees.values(), key=lambda e: e["id"])
    if sim.cfg["resigned_in_list"]:
        return emps
    gone = sim.store.personnel.resigned_ids()
    return [e for e in emps if e["id"] not in gone]


def ctl_coded(sim, data: dict) -> dict:
    """POST /__sim/departments {"departments": [{dept_code, dept_name}]} or /__sim/areas
    {"areas": [{area_code, area_name}]}."""
    pers = sim.store.personnel
    kind = "department" if "departments" in data else "area"
    specs = data.get("departments" if kind == "department" else "areas")
    if not isinstance(specs, list):
        raise ValueError("departments or areas must be a list")
    prefix = "dept" if kind == "department" else "area"
    rows = [pers.add(kind, str(s[prefix + "_code"]), str(s[prefix + "_name"])) for s in specs]
    sim.store.version += 1
    return {"rows": [dict(r) for r in rows]}


def ctl_personnel(sim, data: dict) -> dict:
    """GET /__sim/personnel: departments, areas, resignations, deletes seen."""
    pers = sim.store.personnel
    return {"departments": list(pers.depts.values()), "areas": list(pers.areas.values()),
            "resigns": sorted(pers.resigns.values(), key=lambda r: r["id"]),
            "deletes": pers.deletes}


def coded_rows(table: dict, params: dict, code_key: str) -> list:
    rows = sorted(table.values(), key=lambda r: r["id"])
    want = (params.get(code_key) or [""])[-1]
    return [r for r in rows if r[code_key] == want] if want else rows


def known(path: str) -> bool:
    """Django URL resolution: is this a personnel route this module or the views serve?"""
    if path in (DEPARTMENTS, AREAS, RESIGNS, REINSTATE, EMPLOYEES):
        return True
    return path.startswith(EMPLOYEES) and re.fullmatch(r"[^/.]+/", path[len(EMPLOYEES):]) \
        is not None


def route(handler, path: str, method: str, data, params: dict):
    """(status, body) for a personnel path this module serves, UNUSABLE for an unknown
    path, or None when biotime_sim's own views answer it (employee reads)."""
    sim = handler.sim
    if path.startswith(RESIGNS):
        if not sim.cfg["resign_api"]:
            return UNUSABLE
        if path == REINSTATE:
            return reinstate(sim, data) if method == "POST" else _not_allowed(method)
        if path != RESIGNS:
            return UNUSABLE
        if method == "POST":
            return resign(sim, data)
        return ("page", RESIGNS, resign_rows(sim, params)) if method == "GET" \
            else _not_allowed(method)
    if path in (DEPARTMENTS, AREAS):
        if method != "GET":
            return _not_allowed(method)
        pers = sim.store.personnel
        rows = coded_rows(pers.depts, params, "dept_code") if path == DEPARTMENTS \
            else coded_rows(pers.areas, params, "area_code")
        return "page", path, rows
    if path == EMPLOYEES and method == "POST":
        return create_employee(sim, data)
    if path.startswith(EMPLOYEES) and path != EMPLOYEES and method in ("PUT", "PATCH",
                                                                       "DELETE"):
        return _employee_detail(sim, path[len(EMPLOYEES):].rstrip("/"), method, data)
    return None


def _employee_detail(sim, ident: str, method: str, data):
    emp = next((e for e in sim.store.employees.values()
                if ident.isdigit() and e["id"] == int(ident)), None)
    if emp is None:
        return 404, {"detail": "Not found."}
    if method == "DELETE":
        sim.store.personnel.deletes += 1
        del sim.store.employees[emp["emp_code"]]
        sim.store.version += 1
        return 204, None
    return update_employee(sim, emp, data, partial=(method == "PATCH"))


def _not_allowed(method: str):
    return 405, {"detail": f'Method "{method}" not allowed.'}
