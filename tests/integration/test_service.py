"""A systemd service (issue 4): the notify protocol, journal fields and priorities, TLS
verification, secrets kept out of every output."""

import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (BT_PASSWORD, BT_USER, EXIT_CONFIG, EXIT_OK, EXIT_UNAVAILABLE, SECRETS, Sim,
                     SyncTest, main)


class NotifyListener:
    """A NOTIFY_SOCKET of our own: records (time, message) for each datagram."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while self.running:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode(errors="replace")))

    def lines(self):
        return [line for _, m in self.messages for line in m.splitlines()]

    def statuses(self):
        return [line for line in self.lines() if line.startswith("STATUS=")]

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


class Notify(SyncTest):
    def test_ready_status_watchdog_reloading_and_stopping(self):
        n = NotifyListener(self.tmp)
        self.addCleanup(n.close)
        self.generate(40)
        env = {"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "2000000"}
        p = self.start_daemon(env=env)
        self.wait_for(lambda: "READY=1" in n.lines(), what="READY=1")
        self.wait_for(lambda: any(l.startswith("STATUS=idle") for l in n.lines()),
                      what="an idle STATUS")
        status = [l for l in n.lines() if l.startswith("STATUS=idle")][-1]
        self.assertIn("40 read", status)
        self.assertIn("next poll", status)
        # a transfer that takes 4 s must not starve the 2 s watchdog
        self.bt.config(latency_ms=4000)
        self.generate(5, start="2026-11-10 08:00:00")
        started = time.monotonic()
        self.wait_for(lambda: len(self.device_logs()) == 45, timeout=30, what="slow cycle")
        pings = [t for t, m in n.messages if "WATCHDOG=1" in m and t > started + 1.5]
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertGreaterEqual(len(pings), 3)
        self.assertLess(max(gaps), 2.0)
        self.bt.config(latency_ms=0)
        p.send_signal(signal.SIGHUP)
        self.wait_for(lambda: "RELOADING=1" in n.lines(), what="RELOADING=1")
        self.assertTrue(any(l.startswith("MONOTONIC_USEC=") for l in n.lines()))
        self.wait_for(lambda: n.lines().count("READY=1") >= 2, what="READY=1 after reload")
        self.assertEqual(self.stop_daemon(p), EXIT_OK)
        # the listener thread may not have read the last datagram yet
        self.wait_for(lambda: "STOPPING=1" in n.lines(), timeout=5, what="STOPPING=1")
        self.assertEqual(n.statuses()[-1], "STATUS=Stopping")  # a clean stop says just that

    def test_stopping_is_sent_when_the_config_is_bad(self):
        n = NotifyListener(self.tmp)
        self.addCleanup(n.close)
        bad = self.write_config(name="bad.conf", sync={"interval": 0})
        p = self.start_daemon(config=bad, env={"NOTIFY_SOCKET": n.path})
        self.assertEqual(p.wait(20), 78)
        self.wait_for(lambda: "STOPPING=1" in n.lines(), timeout=5, what="STOPPING=1")
        self.assertNotIn("READY=1", n.lines())
        self.assertRegex(n.statuses()[-1], r"^STATUS=failed: .*sync\.interval")

    def test_start_with_an_unusable_state_dir_ends_with_a_status_naming_it(self):
        n = NotifyListener(self.tmp)
        self.addCleanup(n.close)
        blocker = os.path.join(self.tmp, "a-file")
        open(blocker, "w").close()
        config = self.write_config(name="bad-state.conf", sync={"state_dir": blocker})
        p = self.start_daemon(config=config, env={"NOTIFY_SOCKET": n.path})
        self.assertEqual(p.wait(20), EXIT_CONFIG)
        self.wait_for(lambda: "STOPPING=1" in n.lines(), timeout=5, what="STOPPING=1")
        self.outputs.append(repr(n.messages))
        last = n.messages[-1][1].splitlines()  # one datagram: the stop and why
        self.assertIn("STOPPING=1", last)
        status = [l for l in last if l.startswith("STATUS=")]
        self.assertEqual(len(status), 1, last)
        self.assertTrue(status[0].startswith("STATUS=failed: "), status)
        self.assertIn(blocker, status[0])
        self.assertNotIn("READY=1", n.lines())

    def test_status_shows_progress_mid_cycle_then_the_next_poll_as_a_time_of_day(self):
        n = NotifyListener(self.tmp)
        self.addCleanup(n.close)
        self.generate(300)  # 30 pages of 10: one long first cycle
        config = self.write_config(name="small-pages.conf", biotime={"page_size": 10})
        p = self.start_daemon(config=config, env={"NOTIFY_SOCKET": n.path})
        self.wait_for(lambda: any(l.startswith("STATUS=idle") for l in n.lines()), timeout=120,
                      what="an idle STATUS")
        self.assertEqual(self.stop_daemon(p), EXIT_OK)
        statuses = n.statuses()
        self.outputs.append("\n".join(statuses))
        first_idle = next(i for i, l in enumerate(statuses) if l.startswith("STATUS=idle"))
        progress = [l for l in statuses[:first_idle] if l.startswith("STATUS=syncing: ")]
        self.assertTrue(progress, statuses)
        m = re.match(r"STATUS=syncing: (\d+) records written this cycle \((\d+) read\), "
                     r"cursor (\d+), \d+/s$", progress[0])
        self.assertIsNotNone(m, progress[0])
        written, read, cursor = (int(g) for g in m.groups())
        self.assertTrue(0 < cursor < 300, progress[0])  # the cycle was still going
        self.assertTrue(0 < written <= read < 300, progress[0])
        self.assertRegex(statuses[first_idle], r"; next poll at \d\d:\d\d:\d\d$")
        self.assertIn("last cycle 300 read", statuses[first_idle])


JOURNAL_SOCKET = "/run/systemd/journal/socket"


@unittest.skipUnless(os.geteuid() == 0 and not os.path.exists(JOURNAL_SOCKET),
                     "needs root and no running journald")
class Journal(SyncTest):
    """The daemon under a stand-in journald: fields and priorities of its entries."""

    def setUp(self):
        super().setUp()
        made = [d for d in ("/run/systemd", "/run/systemd/journal") if not os.path.isdir(d)]
        for d in made:
            os.mkdir(d)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(JOURNAL_SOCKET)
        self.sock.settimeout(0.2)

        def cleanup():
            self.sock.close()
            os.unlink(JOURNAL_SOCKET)
            for d in reversed(made):
                os.rmdir(d)
        self.addCleanup(cleanup)

    def entries(self):
        out = []
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                return out
            fields = {}
            for line in data.decode(errors="replace").split("\n"):
                if "=" in line:
                    k, v = line.split("=", 1)
                    fields[k] = v
            out.append(fields)

    def start_journal_daemon(self, *args):
        """The daemon with its stderr taken for the journal's stream (JOURNAL_STREAM)."""
        err = open(os.path.join(self.tmp, "daemon-%d.log" % len(self.daemons)), "w+")
        st = os.fstat(err.fileno())
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        env.pop("BTS_LOG_FORCE_STDERR", None)
        p = subprocess.Popen(self.command(args), stdout=subprocess.DEVNULL, stderr=err, env=env)
        p.log_file = err
        self.daemons.append(p)
        return p

    def wait_entry(self, predicate, what, timeout=60):
        seen = []
        self.addCleanup(lambda: self.outputs.append(repr(seen)))
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.entries():
                seen.append(e)
                if predicate(e):
                    return e
        self.fail("no journal entry: %s; got %r" % (what, seen))

    def failure_entry(self, p, prefix):
        e = self.wait_entry(lambda e: e.get("MESSAGE", "").startswith(prefix), prefix)
        p.send_signal(signal.SIGTERM)
        p.wait(15)
        return e

    def test_erpnext_failure_line_carries_server_and_http_status(self):
        self.generate(5)
        self.erp.config(faults=[{"path": "/api/method/frappe.client.insert_many",
                                 "kind": "status", "status": 502, "count": -1}])
        p = self.start_journal_daemon()
        # the request is asked again on its own (issue 13): its retry line is the failure line
        e = self.failure_entry(p, "ERPNext: Employee Checkins of page 1")
        self.assertIn("HTTP 502", e["MESSAGE"])
        self.assertEqual((e["SERVER"], e["HTTP_STATUS"], e["PRIORITY"]), ("erpnext", "502", "4"))
        self.assertNotIn("CURL_ERROR", e)

    def test_biotime_failure_line_carries_server_and_http_status_in_once_mode(self):
        self.generate(5)
        self.bt.config(faults=[{"kind": "status", "status": 500, "count": -1}])
        p = self.start_journal_daemon("--once")
        e = self.failure_entry(p, "BioTime transactions page 1")
        self.assertIn("HTTP 500", e["MESSAGE"])
        self.assertEqual((e["SERVER"], e["HTTP_STATUS"], e["PRIORITY"]), ("biotime", "500", "4"))

    def test_failure_without_an_answer_carries_http_status_0_and_curl_error(self):
        self.generate(5)
        self.erp.config(faults=[{"path": "/api/method/frappe.client.insert_many",
                                 "kind": "drop", "count": -1}])
        p = self.start_journal_daemon()
        e = self.failure_entry(p, "ERPNext: Employee Checkins of page 1")
        self.assertEqual((e["SERVER"], e["HTTP_STATUS"]), ("erpnext", "0"))
        self.assertRegex(e.get("CURL_ERROR", ""), r"^[1-9][0-9]*$")

    def test_a_punch_erpnext_refuses_is_logged_with_its_http_status(self):
        self.generate(5)
        self.erp.config(faults=[{"path": "/api/", "kind": "reject_doc", "count": -1,
                                 "match": {"doctype": "BioTime Device Log", "id": "3"},
                                 "message": "Locked for audit"}])
        p = self.start_journal_daemon("--once")
        e = self.wait_entry(lambda e: e.get("BIOTIME_TXN_ID") == "3", "the refused punch")
        p.wait(60)
        self.assertIn("refused by ERPNext", e["MESSAGE"])
        self.assertEqual((e["SERVER"], e["HTTP_STATUS"], e["PRIORITY"]), ("erpnext", "417", "3"))

    def test_entries_carry_fields_and_priorities(self):
        self.add_punches([{"emp_code": "9001", "punch_time": "2026-11-02 08:00:00"}])
        stderr_path = os.path.join(self.tmp, "stderr")
        with open(stderr_path, "w") as err:
            st = os.fstat(err.fileno())
            env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
            env.pop("BTS_LOG_FORCE_STDERR", None)
            p = subprocess.run(self.command(["--once"]), stdout=subprocess.PIPE, stderr=err,
                               env=env, timeout=60)
        self.assertEqual(p.returncode, EXIT_OK)
        entries = self.entries()
        with open(stderr_path) as f:
            self.outputs.append(f.read())
        self.outputs.append(repr(entries))
        parked = [e for e in entries if e.get("EMP_CODE") == "9001"]
        self.assertEqual(len(parked), 1, entries)
        self.assertEqual(parked[0]["PRIORITY"], "4")
        self.assertEqual(parked[0]["SERVER"], "erpnext")
        self.assertIn("BIOTIME_TXN_ID", parked[0])
        self.assertEqual(parked[0]["SYSLOG_IDENTIFIER"], "biotime-syncd")
        cycles = [e for e in entries if e.get("MESSAGE", "").startswith("cycle:")]
        self.assertTrue(cycles and all(e["PRIORITY"] == "6" for e in cycles))


def make_ca(directory):
    """A throwaway CA and a certificate for 127.0.0.1 signed by it."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=directory, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ext = os.path.join(directory, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bts test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", ext)
    return [os.path.join(directory, n) for n in ("ca.pem", "srv.pem", "srv.key")]


class Tls(SyncTest):
    def setUp(self):
        super().setUp()
        self.ca, cert, key = make_ca(self.tmp)
        self.https = Sim("biotime-tls", "biotime_sim.py",
                         ["--users", "%s:%s" % (BT_USER, BT_PASSWORD), "--tls-cert", cert,
                          "--tls-key", key], self.tmp)
        self.addCleanup(self.https.stop)
        url = "https://127.0.0.1:%d" % self.https.port
        self.https_url = url
        import ssl
        import urllib.request
        ctx = ssl.create_default_context(cafile=self.ca)
        body = b'{"rows": [{"emp_code": "1001", "punch_time": "2026-11-02 08:00:00"}]}'
        req = urllib.request.Request(url + "/__sim/transactions", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, context=ctx, timeout=10).read()

    def test_certificate_from_ca_file_is_verified_and_accepted(self):
        self.config_path = self.write_config(biotime={"url": self.https_url, "ca_file": self.ca})
        self.once()
        self.assertEqual(len(self.device_logs()), 1)

    def test_unknown_ca_is_refused_by_default_with_the_fix(self):
        self.config_path = self.write_config(biotime={"url": self.https_url})
        rc, out, err = self.once(expect=EXIT_UNAVAILABLE)
        self.assertIn("biotime.ca_file", err)
        self.assertEqual(self.device_logs(), [])

    def test_tls_verify_false_warns_at_every_start(self):
        self.config_path = self.write_config(biotime={"url": self.https_url,
                                                      "tls_verify": False})
        for _ in range(2):
            rc, out, err = self.once()
            self.assertIn("<4>biotime.tls_verify = false", err)
        self.assertEqual(len(self.device_logs()), 1)


class Secrets(SyncTest):
    def test_no_secret_in_any_output_of_any_mode(self):
        self.generate(20)
        self.once()
        self.run_daemon("--check-config")
        self.run_daemon("--status")
        self.run_daemon("--status", "--json")
        self.run_daemon("--once", "--dry-run", "-v")
        self.write_secret(os.path.join(self.tmp, "biotime.password"), "wrong-" + BT_PASSWORD)
        self.run_daemon("--once", "-v")
        # tearDown checks every output, the Sync Logs, the Device Logs and the state file;
        # prove that the check itself would catch a leak:
        with self.assertRaises(AssertionError):
            self.outputs.append("leaked " + SECRETS[1])
            self.assert_no_secret_leaked()
        self.outputs.pop()

    def test_credentials_directory_supplies_a_bare_file_name(self):
        creds = tempfile.mkdtemp(dir=self.tmp)
        self.write_secret(os.path.join(creds, "erpnext.secret"), SECRETS[1])
        os.unlink(self.secret_file)
        self.generate(3)
        self.once(env={"CREDENTIALS_DIRECTORY": creds})
        self.assertEqual(len(self.device_logs()), 3)

    def test_config_readable_by_others_is_refused(self):
        os.chmod(self.config_path, 0o644)
        rc, out, err = self.run_daemon("--check-config", expect=78)
        self.assertIn("o-r", err)


if __name__ == "__main__":
    main()
