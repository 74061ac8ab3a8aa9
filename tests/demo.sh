#!/usr/bin/env bash
# The README's first command: installs what is missing, builds biotime-syncd, starts the
# bundled BioTime and ERPNext simulators on 127.0.0.1 (random ports), runs one sync and
# shows what it wrote to ERPNext. Nothing outside a temporary directory is touched, and
# every process it starts is stopped when it ends, fails or is interrupted.
# BTS_BINARY=path uses that binary and skips installing and building (the tests do).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${BTS_BINARY:-}
if [ -z "$bin" ]; then
  bash "$root/tests/install-deps.sh"
  cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$root/build" -j"$(nproc)" --target biotime-syncd >/dev/null
  bin="$root/build/biotime-syncd"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/biotime-syncd-demo.XXXXXX")
chmod 700 "$work"
pids=()
cleanup() {
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# A signal ends the script through exit, so the EXIT trap above runs for it too.
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Starts a simulator in this shell (not in a $(...) subshell, whose pids+= would be lost)
# and waits for the port it writes.
start_sim() { # name script args...
  local name=$1 script=$2; shift 2
  python3 "$root/tests/sim/$script" --port 0 --ready-file "$work/$name.port" "$@" \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/$name.port" ] && return 0; sleep 0.1; done
  echo "demo: the $name simulator did not start:" >&2
  cat "$work/$name.log" >&2
  return 1
}
start_sim biotime biotime_sim.py --demo --users "erp_sync:demo-password"
start_sim erpnext erpnext_sim.py --api-key demo_key --api-secret demo-secret --site 127.0.0.1
bt_port=$(cat "$work/biotime.port")
erp_port=$(cat "$work/erpnext.port")

# ERPNext knows 20 of the 22 people who punch: two emp_codes (9001, 0042) have no Employee,
# and one employee (1019) is Inactive, the one status HRMS refuses checkins for.
python3 - "$erp_port" <<'PY'
import json, sys, urllib.request
emps = [{"name": "HR-EMP-%05d" % i, "employee_name": "Demo Employee %d" % i,
         "attendance_device_id": str(1000 + i),
         "status": "Inactive" if i == 19 else "Active"} for i in range(1, 21)]
req = urllib.request.Request("http://127.0.0.1:%s/__sim/employees" % sys.argv[1],
                             data=json.dumps({"employees": emps}).encode(),
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY

printf 'demo-password\n' > "$work/biotime.password"
printf 'demo-secret\n' > "$work/erpnext.secret"
chmod 600 "$work"/*.password "$work"/*.secret
cat > "$work/biotime-sync.conf" <<CONF
biotime = { url = "http://127.0.0.1:$bt_port"; username = "erp_sync";
            password_file = "biotime.password"; timezone = "UTC"; };
erpnext = { url = "http://127.0.0.1:$erp_port"; api_key = "demo_key";
            api_secret_file = "erpnext.secret"; timezone = "UTC"; };
sync = { state_dir = "$work/state"; };
CONF
chmod 600 "$work/biotime-sync.conf"

echo "== biotime-syncd --once (BioTime simulator :$bt_port -> ERPNext simulator :$erp_port)"
"$bin" -c "$work/biotime-sync.conf" --once
echo
echo "== biotime-syncd --status"
"$bin" -c "$work/biotime-sync.conf" --status
echo
echo "== what ERPNext now holds"
python3 - "$erp_port" <<'PY'
import collections, json, sys, urllib.parse, urllib.request
def docs(doctype):
    url = "http://127.0.0.1:%s/__sim/docs?doctype=%s" % (sys.argv[1], urllib.parse.quote(doctype))
    got = json.load(urllib.request.urlopen(url))
    return got["docs"] if isinstance(got, dict) else got
checkins, logs, sync = docs("Employee Checkin"), docs("BioTime Device Log"), docs("Sync Logs")
parked = [l for l in logs if int(l.get("synced") or 0) == 0]
print("Employee Checkin:   %d" % len(checkins))
print("BioTime Device Log: %d (%d parked with synced = 0: an emp_code with no Employee, "
      "or an Inactive employee)" % (len(logs), len(parked)))
for code, n in sorted(collections.Counter((l["emp_code"], l.get("sync_error", "")) for l in parked).items()):
    print("   parked: emp_code %s x%d: %s" % (code[0], n, code[1]))
print("Sync Logs:          %d, last: %s" % (len(sync), sync[-1]["title"] if sync else "-"))
print("\nlast checkins:")
for c in sorted(checkins, key=lambda c: c["time"])[-5:]:
    print("   %s  %s  %-3s  %s" % (c["time"][:19], c["employee"], c["log_type"] or "-", c["device_id"]))
PY
