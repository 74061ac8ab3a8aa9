"""sync.metrics_file (issue 11, point 4): the file node_exporter's textfile collector reads.
Each test parses it with a strict parser of the exposition format and holds its figures
against what the simulators saw."""

import math
import os
import re
import shutil
import socket
import stat
import subprocess
import time
import unittest
import urllib.request

from harness import EXIT_CONFIG, EXIT_OK, SyncTest, main

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|\Z)')
SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)\Z")

# Every family the file must hold, with its type.
EXPECTED = {
    "biotime_syncd_info": "gauge",
    "biotime_syncd_records_read_total": "counter",
    "biotime_syncd_checkins_written_total": "counter",
    "biotime_syncd_device_logs_written_total": "counter",
    "biotime_syncd_records_duplicate_total": "counter",
    "biotime_syncd_records_parked_total": "counter",
    "biotime_syncd_records_rejected_total": "counter",
    "biotime_syncd_cycles_total": "counter",
    "biotime_syncd_cycle_errors_total": "counter",
    "biotime_syncd_requests_total": "counter",
    "biotime_syncd_request_failures_total": "counter",
    "biotime_syncd_cursor_id": "gauge",
    "biotime_syncd_parked_waiting": "gauge",
    "biotime_syncd_last_success_timestamp_seconds": "gauge",
    "biotime_syncd_last_cycle_timestamp_seconds": "gauge",
    "biotime_syncd_last_cycle_duration_seconds": "gauge",
}
COUNTERS = [n for n, t in EXPECTED.items() if t == "counter" and "request" not in n]


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        if not m or m.group(1) in labels:
            raise ValueError("bad or repeated label in {%s}" % text)
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return tuple(sorted(labels.items()))


def parse_exposition(text):
    """Parses the metrics text strictly: the rules node_exporter's TextParser holds to (HELP
    and TYPE before the samples, valid names, numeric values, no timestamps), plus what this
    file promises (counter and gauge only, counters and only counters named *_total, each
    family once, '# EOF' as the last line). Returns {family: {"type", "help", "samples":
    {labels: value}}}; raises ValueError naming the line."""
    if not text.endswith("\n# EOF\n"):
        raise ValueError("the file does not end with '# EOF'")
    families, current = {}, None
    for no, line in enumerate(text[:-len("# EOF\n")].split("\n")[:-1], 1):
        where = "line %d: %r" % (no, line)
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            if not NAME.match(name) or name in families or not help_text:
                raise ValueError(where + ": bad, repeated or empty HELP")
            current = families[name] = {"type": None, "help": help_text, "samples": {}}
            current["name"] = name
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            if current is None or current["name"] != name or current["type"] is not None:
                raise ValueError(where + ": TYPE not right after its HELP")
            if kind not in ("counter", "gauge"):
                raise ValueError(where + ": type not counter or gauge")
            if (kind == "counter") != name.endswith("_total"):
                raise ValueError(where + ": counters, and only they, end in _total")
            current["type"] = kind
        else:
            m = SAMPLE.match(line)
            if not m or current is None or m.group(1) != current["name"] or not current["type"]:
                raise ValueError(where + ": not a sample of the family declared above it")
            labels = parse_labels(m.group(2) or "")
            value = float(m.group(3))
            if math.isnan(value) or labels in current["samples"]:
                raise ValueError(where + ": NaN or a repeated series")
            current["samples"][labels] = value
    for name, fam in families.items():
        if not fam["samples"]:
            raise ValueError("family %s has no sample" % name)
    return families


def value(families, name, **labels):
    return families[name]["samples"][tuple(sorted(labels.items()))]


class Metrics(SyncTest):
    def setUp(self):
        super().setUp()
        self.textfile_dir = os.path.join(self.tmp, "node-exporter")
        self.metrics_path = os.path.join(self.textfile_dir, "biotime-syncd.prom")
        self.config_path = self.write_config(sync={"metrics_file": self.metrics_path})

    def read_metrics(self):
        with open(self.metrics_path) as f:
            families = parse_exposition(f.read())
        self.assertEqual(set(EXPECTED), set(families), "the families in the file")
        for name, kind in EXPECTED.items():
            self.assertEqual(families[name]["type"], kind, name)
        return families

    def biotime_requests(self):
        return sum(self.bt.get("/__sim/stats")["requests"].values())

    def erpnext_requests(self):
        return self.erp.get("/__sim/stats")["total_requests"]

    def test_once_writes_metrics_that_match_what_erpnext_holds(self):
        os.mkdir(self.textfile_dir)
        self.add_punches([{"emp_code": "1001", "punch_time": "2026-11-01 07:00:00",
                           "render": {"id": "abc"}}])               # no usable id: rejected
        self.generate(90)
        self.add_punches([{"emp_code": "9999", "punch_time": "2026-11-03 08:00:%02d" % i}
                          for i in range(5)])                       # no Employee: parked
        self.bt.config(faults=[{"kind": "status", "status": 503, "count": 1}])
        # failures that cost no re-read: the first BioTime page, the Sync Logs entry
        self.erp.config(faults=[{"path": "/api/resource/Sync Logs", "kind": "status",
                                 "status": 502, "count": 1}])
        before = int(time.time())
        self.once()
        after = time.time()

        self.assertEqual(stat.S_IMODE(os.stat(self.metrics_path).st_mode), 0o644)
        m = self.read_metrics()
        logs, checkins = self.device_logs(), self.checkins()
        parked = [l for l in logs if int(l["synced"]) == 0]
        self.assertEqual(len(parked), 5)
        self.assertEqual(value(m, "biotime_syncd_checkins_written_total"), len(checkins))
        self.assertEqual(value(m, "biotime_syncd_device_logs_written_total"), len(logs))
        self.assertEqual(value(m, "biotime_syncd_records_read_total"), 95)
        self.assertEqual(value(m, "biotime_syncd_records_parked_total"), len(parked))
        self.assertEqual(value(m, "biotime_syncd_parked_waiting"), len(parked))
        self.assertEqual(value(m, "biotime_syncd_records_rejected_total"), 1)
        self.assertEqual(value(m, "biotime_syncd_records_duplicate_total"), 0)
        self.assertEqual(value(m, "biotime_syncd_cursor_id"),     # the highest usable id
                         max(r["id"] for r in self.bt_rows() if isinstance(r["id"], int)))
        self.assertEqual(value(m, "biotime_syncd_cursor_id"), self.state()["last_id"])
        # every request either simulator answered, the Sync Logs entry's included
        self.assertEqual(value(m, "biotime_syncd_requests_total", server="biotime"),
                         self.biotime_requests())
        self.assertEqual(value(m, "biotime_syncd_requests_total", server="erpnext"),
                         self.erpnext_requests())
        self.assertEqual(value(m, "biotime_syncd_request_failures_total", server="biotime"), 1)
        self.assertEqual(value(m, "biotime_syncd_request_failures_total", server="erpnext"), 1)
        self.assertEqual(value(m, "biotime_syncd_cycles_total"), self.state()["cycles"])
        # both failed requests were asked again inside the cycle, which therefore succeeded
        self.assertEqual(value(m, "biotime_syncd_cycle_errors_total"), 0)
        last = value(m, "biotime_syncd_last_success_timestamp_seconds")
        self.assertTrue(before <= last <= after, (before, last, after))
        self.assertEqual(value(m, "biotime_syncd_last_cycle_timestamp_seconds"), last)
        self.assertGreaterEqual(value(m, "biotime_syncd_last_cycle_duration_seconds"), 0)
        rc, version, _ = self.run_daemon("--version", expect=EXIT_OK)
        self.assertEqual(value(m, "biotime_syncd_info", version=version.split()[-1]), 1)

        # a second run finds nothing new: the counters stay, the timestamp moves on
        while int(time.time()) <= last:
            time.sleep(0.05)
        self.once()
        m2 = self.read_metrics()
        for name in COUNTERS:
            if name != "biotime_syncd_cycles_total":
                self.assertEqual(value(m2, name), value(m, name), name)
        self.assertEqual(value(m2, "biotime_syncd_cycles_total"),
                         value(m, "biotime_syncd_cycles_total") + 1)
        self.assertEqual(value(m2, "biotime_syncd_requests_total", server="erpnext"),
                         self.erpnext_requests())
        self.assertGreater(value(m2, "biotime_syncd_requests_total", server="erpnext"),
                           value(m, "biotime_syncd_requests_total", server="erpnext"))
        self.assertEqual(value(m2, "biotime_syncd_cursor_id"), value(m, "biotime_syncd_cursor_id"))
        self.assertGreater(value(m2, "biotime_syncd_last_success_timestamp_seconds"), last)
        self.assertEqual(len(self.checkins()), len(checkins))

    def test_dry_run_writes_no_metrics_file(self):
        os.mkdir(self.textfile_dir)
        self.generate(10)
        self.once("--dry-run")
        self.assertFalse(os.path.exists(self.metrics_path))
        self.assertEqual(os.listdir(self.textfile_dir), [])

    def test_daemon_warns_once_when_it_cannot_write_and_keeps_syncing_then_recovers(self):
        self.generate(40)
        p = self.start_daemon()       # the directory does not exist yet
        self.wait_for(lambda: len(self.checkins()) == 40, what="the checkins")
        self.wait_for(lambda: os.path.exists(os.path.join(self.state_dir, "state.json")) and
                      self.state()["cycles"] >= 3, what="three cycles")
        os.mkdir(self.textfile_dir)
        self.wait_for(lambda: os.path.exists(self.metrics_path), what="the metrics file")
        cycles = self.read_metrics()["biotime_syncd_cycles_total"]["samples"][()]
        self.wait_for(lambda: self.read_metrics()["biotime_syncd_cycles_total"]["samples"][()]
                      > cycles, what="the file rewritten after the next cycle")
        self.assertEqual(self.stop_daemon(p), EXIT_OK)
        out = self.output_of(p)
        warnings = [l for l in out.splitlines() if "cannot write sync.metrics_file" in l]
        self.assertEqual(len(warnings), 1, out[-3000:])
        self.assertTrue(warnings[0].startswith("<4>"), warnings[0])   # warning level
        self.assertIn(self.metrics_path, warnings[0])
        self.assertIn("writing sync.metrics_file recovered", out)
        self.assert_exactly_once()

    def test_check_config_prints_the_key_and_refuses_a_relative_path(self):
        rc, out, _ = self.run_daemon("--check-config", expect=EXIT_OK)
        self.assertIn('metrics_file = "%s";' % self.metrics_path, out)
        bad = self.write_config(name="bad.conf", sync={"metrics_file": "biotime-syncd.prom"})
        rc, _, err = self.run_daemon("--check-config", config=bad, expect=EXIT_CONFIG)
        self.assertRegex(err, r"bad\.conf:\d+: sync\.metrics_file: must be an absolute path")

    @unittest.skipUnless(os.environ.get("BTS_NODE_EXPORTER") or
                         shutil.which("prometheus-node-exporter") or shutil.which("node_exporter"),
                         "no node_exporter here (set BTS_NODE_EXPORTER to its binary)")
    def test_node_exporter_reads_the_file_with_its_types(self):
        binary = (os.environ.get("BTS_NODE_EXPORTER") or shutil.which("prometheus-node-exporter")
                  or shutil.which("node_exporter"))
        os.mkdir(self.textfile_dir)
        self.generate(20)
        self.once()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = open(os.path.join(self.tmp, "node_exporter.log"), "w")
        self.addCleanup(log.close)
        ne = subprocess.Popen([binary, "--collector.disable-defaults", "--collector.textfile",
                               "--collector.textfile.directory=" + self.textfile_dir,
                               "--web.listen-address=127.0.0.1:%d" % port],
                              stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(ne.wait)
        self.addCleanup(ne.terminate)

        def scrape():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                            timeout=5) as r:
                    return r.read().decode()
            except OSError:
                return None
        text = self.wait_for(scrape, timeout=30, what="node_exporter")
        self.assertIn("\nnode_textfile_scrape_error 0\n", text)
        for name, kind in EXPECTED.items():
            self.assertIn("\n# TYPE %s %s\n" % (name, kind), text)
        self.assertIn('\nbiotime_syncd_checkins_written_total %d\n' % len(self.checkins()),
                      text)


if __name__ == "__main__":
    main()
