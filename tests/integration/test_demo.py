"""tests/demo.sh (the README's first command): it stops every process it started, when it
ends and when it is interrupted, and what it calls parked is right (issue 11.6)."""

import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import BINARY, SOURCE, main

DEMO = os.path.join(SOURCE, "tests", "demo.sh")


def processes_naming(text):
    """Pids of the processes whose command line contains text (the demo's work directory
    is in its simulators' --ready-file argument)."""
    found = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        pid = int(path.split("/")[2])
        if text in cmdline and pid != os.getpid():
            found.append((pid, cmdline))
    return found


class DemoTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bts-demo-test-")
        self.env = dict(os.environ, TMPDIR=self.tmp, BTS_BINARY=BINARY)
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.addCleanup(self.kill_leftovers)

    def kill_leftovers(self):
        for pid, _ in processes_naming(self.tmp):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def assert_nothing_left(self):
        self.assertEqual(processes_naming(self.tmp), [], "the demo left processes running")
        self.assertEqual(os.listdir(self.tmp), [], "the demo left its work directory")

    def test_demo_stops_its_simulators_when_it_ends(self):
        p = subprocess.run(["bash", DEMO], env=self.env, capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
        self.assertIn("Employee Checkin:", p.stdout)
        self.assert_nothing_left()

    def test_demo_parks_only_unknown_codes_and_inactive_employees(self):
        p = subprocess.run(["bash", DEMO], env=self.env, capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
        parked = dict(re.findall(r"parked: emp_code (\S+) x\d+: (.*)", p.stdout))
        self.assertEqual(sorted(parked), ["0042", "1019", "9001"], p.stdout)
        self.assertIn("HR-EMP-00019", parked["1019"])  # the Inactive one
        self.assertNotIn("Left", p.stdout + p.stderr)

    def test_demo_stops_its_simulators_when_interrupted(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig.name):
                p = subprocess.Popen(["bash", DEMO], env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
                deadline = time.time() + 60
                while not glob.glob(os.path.join(self.tmp, "*", "erpnext.port")):
                    self.assertIsNone(p.poll(), "the demo ended before its simulators ran")
                    self.assertLess(time.time(), deadline, "the simulators did not start")
                    time.sleep(0.02)
                p.send_signal(sig)  # to the script only, as kill(1) would
                self.assertNotEqual(p.wait(60), 0)
                self.assert_nothing_left()


if __name__ == "__main__":
    main()
