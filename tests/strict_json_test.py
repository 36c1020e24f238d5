#!/usr/bin/python3
"""Every JSON file of the suite is strict JSON (RFC 8259): no bare NaN or Infinity.

Google Benchmark 1.7.1 writes 0/0 as a bare NaN in the _cv rows of counters that are
always 0; JSON.parse, serde_json and strict Python parsers reject the whole file, so
github-action-benchmark's googlecpp tool and Bencher's cpp_google adapter read nothing.
This runs, in a temporary directory:

  gilbench   --quick --workloads=countdown,convoy --strategies=serial,gil --repetitions=3
  twin.py    --quick --workloads=countdown --repetitions=3 (the CPython twin)
  plot.py    compare --json, instructions (the rewritten result file; one row under
             callgrind, when valgrind is installed), export (both formats), history

and parses every file it wrote twice: Python's json.loads with NaN, Infinity and
-Infinity refused (parse_constant), and node's JSON.parse (skipped, with a message,
without node). Then it parses every committed results/**/*.json the same way: those
are being re-recorded, so a file of an older schema that fails is only reported; a
file whose gilbench_schema_version is "2" must pass.

The gilbench file fails until gilbench's own writer writes no NaN (its C++ side);
the files plot.py rewrites pass either way (output.json_text writes null instead).

    /usr/bin/python3 tests/strict_json_test.py [GILBENCH_BIN]   (default build/gilbench)
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PLOT = os.path.join(REPO, "plot.py")
TWIN = os.path.join(REPO, "bench", "python", "twin.py")
GILBENCH = os.path.join(REPO, "build", "gilbench")

sys.path.insert(0, HERE)
from json_check import NO_NODE, node_parse, strict_load  # noqa: E402


def run(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


class Outputs(unittest.TestCase):
    """The files gilbench, the twin and plot.py write."""

    @classmethod
    def setUpClass(cls):
        if not (os.path.isfile(GILBENCH) and os.access(GILBENCH, os.X_OK)):
            raise unittest.SkipTest(f"{GILBENCH}: no gilbench binary (pass its path)")
        cls._tmp = tempfile.TemporaryDirectory(prefix="strict-json-")
        cls.tmp = tmp = cls._tmp.name
        cls.steps = {}
        py = "/usr/bin/python3"
        commands = [
            ("gilbench", [GILBENCH, "--quick", "--workloads=countdown,convoy",
                          "--strategies=serial,gil", "--repetitions=3", "--out=bench.json"]),
            ("twin", [py, TWIN, "--quick", "--workloads=countdown", "--repetitions=3",
                      "--gilbench", GILBENCH, "--out", "cpython.json"]),
            ("compare", [py, PLOT, "compare", "bench.json", "bench.json", "--gate", "ratio",
                         "--json", "compare.json"]),
            ("export_gab", [py, PLOT, "export", "bench.json",
                            "--format=github-action-benchmark", "--out", "gab"]),
            ("export_bencher", [py, PLOT, "export", "bench.json", "--format=bencher",
                                "--out", "bmf.json"]),
            ("history", [py, PLOT, "history", "bench.json", "cpython.json", "--out",
                         "history"]),
        ]
        if shutil.which("valgrind"):
            commands.append(("instructions", [py, PLOT, "instructions", "bench.json",
                                              "--gilbench", GILBENCH, "--filter",
                                              "^countdown/serial/workers:1$", "--out",
                                              "instructions.json"]))
        for name, cmd in commands:
            cls.steps[name] = run(cmd, tmp)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def ran(self, step):
        if step not in self.steps:
            self.skipTest(f"{step}: not run (valgrind is not installed)")
        code, out, err = self.steps[step]
        self.assertEqual(code, 0, f"{step} exited {code}:\n{err[-3000:]}")

    def assert_strict(self, *parts):
        path = os.path.join(self.tmp, *parts)
        try:
            strict_load(path)
        except ValueError as e:
            self.fail(f"{path}: not strict JSON: {e}")
        err = node_parse(path)
        if err == NO_NODE:
            print(f"\n{path}: node is not installed: JSON.parse skipped", file=sys.stderr)
        else:
            self.assertIsNone(err, f"{path}: node's JSON.parse: {err}")

    def test_gilbench_result(self):
        self.ran("gilbench")
        self.assert_strict("bench.json")

    def test_twin_result(self):
        self.ran("twin")
        self.assert_strict("cpython.json")

    def test_compare_json(self):
        self.ran("compare")
        self.assert_strict("compare.json")

    def test_instructions_rewritten_result(self):
        self.ran("instructions")
        self.assert_strict("instructions.json")

    def test_exports(self):
        self.ran("export_gab")
        self.ran("export_bencher")
        for name in ("customSmallerIsBetter.json", "customBiggerIsBetter.json"):
            self.assert_strict("gab", name)
        self.assert_strict("bmf.json")

    def test_history_json(self):
        self.ran("history")
        self.assert_strict("history", "history.json")


class CommittedResults(unittest.TestCase):
    """results/**/*.json: strict JSON required of schema 2 files, reported for others."""

    def test_committed_results(self):
        paths = sorted(glob.glob(os.path.join(REPO, "results", "**", "*.json"), recursive=True))
        failing, reported = [], []
        for path in paths:
            rel = os.path.relpath(path, REPO)
            try:
                strict_load(path)
                err = node_parse(path)
                problem = None if err in (None, NO_NODE) else f"node: {err}"
            except ValueError as e:
                problem = str(e)
            if problem is None:
                continue
            with open(path, encoding="utf-8") as f:
                try:
                    version = json.load(f).get("context", {}).get("gilbench_schema_version")
                except (ValueError, AttributeError):
                    version = None
            (failing if str(version) == "2" else reported).append(
                f"{rel} (schema {version}): {problem}")
        for line in reported:
            print(f"\nnot strict JSON (an older schema, to be re-recorded): {line}",
                  file=sys.stderr)
        self.assertEqual(failing, [], "schema 2 result files must be strict JSON")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    if args:
        GILBENCH = os.path.abspath(args[0])
        sys.argv.remove(args[0])
    unittest.main()
