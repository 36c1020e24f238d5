#!/usr/bin/python3
"""The fidelity report's logic (bench/python/fidelity.py) on fixture files.

tests/fixtures/fidelity/:
  emulated.json   a gilbench-shaped result in which every behaviour the suite
                  measures holds (hand-made figures), plus one failed run
  cpython.json    a twin-shaped result: threads 30 % slower at 4 workers
                  (behaviour 1 fails), convoy 250x, spawn 500x a thread
  minimal.json    countdown only, aggregates only, times in ns: 2 threads
                  take 2.1x the 1-thread time (behaviour 1 fails), nothing else
  no_benchmarks.json, not_json.json   bad input

usage: /usr/bin/python3 tests/fidelity_test.py   (standard library only)
"""

import io
import os
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIX = os.path.join(HERE, "fixtures", "fidelity")
sys.path.insert(0, os.path.join(ROOT, "bench", "python"))

import fidelity  # noqa: E402

EMU = os.path.join(FIX, "emulated.json")
CPY = os.path.join(FIX, "cpython.json")
MINIMAL = os.path.join(FIX, "minimal.json")


def run(*argv):
    """fidelity.main(argv) -> (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = fidelity.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def table(text, header_start):
    """The rows of the markdown table whose header starts with header_start, as lists of cells."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def behaviours(text):
    """{number: {"emulated":..., "cpython":..., "holds_emulated":..., "holds_cpython":...}}"""
    out = {}
    for cells in table(text, "| # | behaviour"):
        out[int(cells[0])] = {"published": cells[2], "emulated": cells[3], "cpython": cells[4],
                              "holds_emulated": cells[5], "holds_cpython": cells[6],
                              "tolerance": cells[7]}
    return out


class Behaviours(unittest.TestCase):
    def test_all_fifteen_rows_always_listed(self):
        for files in ((EMU, CPY), (EMU,), (MINIMAL,)):
            code, out, err = run(*files)
            self.assertEqual(code, 0, err)
            self.assertEqual(sorted(behaviours(out)), list(range(1, 16)), files)

    def test_holding_fixture(self):
        code, out, _ = run(EMU, CPY)
        self.assertEqual(code, 0)
        b = behaviours(out)
        for n in (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 15):
            self.assertEqual(b[n]["holds_emulated"], fidelity.YES, "behaviour %d: %s" % (n, b[n]))
        for n in (7, 14):
            self.assertTrue(b[n]["holds_emulated"].startswith(fidelity.NOT_COVERED), b[n])
        self.assertIn("fine_lock_test", b[13]["holds_emulated"])
        # the figures behind the verdicts
        self.assertIn("2: 1.02, 4: 1.05", b[1]["emulated"])
        self.assertIn("T(2)/T(1) = 1.90", b[2]["emulated"])
        self.assertIn("K=1 degradation 200×", b[5]["emulated"])
        self.assertIn("100us 1.36", b[6]["emulated"])
        self.assertIn("500×", b[15]["emulated"])
        self.assertIn("[SKV]", b[1]["published"])
        self.assertIn("[0.90, 1.10]", b[1]["tolerance"])

    def test_cpython_column(self):
        _, out, _ = run(EMU, CPY)
        b = behaviours(out)
        self.assertEqual(b[1]["holds_cpython"], fidelity.NO)  # 1.30 at 4 threads
        self.assertIn("4: 1.30", b[1]["cpython"])
        self.assertEqual(b[5]["holds_cpython"], fidelity.YES)
        self.assertIn("K=1 degradation 250×", b[5]["cpython"])
        self.assertEqual(b[8]["holds_cpython"], fidelity.YES)
        self.assertEqual(b[15]["holds_cpython"], fidelity.YES)
        self.assertEqual(b[6]["holds_cpython"], fidelity.NOT_MEASURED)  # one interval only
        for n in (2, 3, 4, 9, 10, 11):
            self.assertEqual(b[n]["holds_cpython"], fidelity.NA, n)  # no CPython counterpart
        self.assertIn("has the GIL", b[12]["holds_cpython"])

    def test_without_cpython_file(self):
        _, out, _ = run(EMU)
        b = behaviours(out)
        self.assertEqual(b[1]["holds_cpython"], fidelity.NO_FILE)
        self.assertEqual(b[1]["holds_emulated"], fidelity.YES)
        self.assertIn("No CPython file given", out)

    def test_absent_rows_are_not_measured(self):
        code, out, _ = run(MINIMAL)
        self.assertEqual(code, 0)
        b = behaviours(out)
        self.assertEqual(b[1]["holds_emulated"], fidelity.NO)  # 2.1x slower with 2 threads
        self.assertIn("2: 2.10", b[1]["emulated"])  # read from _median rows, ns -> ms
        for n in (2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 15):
            self.assertEqual(b[n]["holds_emulated"], fidelity.NOT_MEASURED, n)

    def test_failed_runs_are_named_not_used(self):
        _, out, _ = run(EMU, CPY)
        self.assertIn("RESULT has 1 failed benchmark(s)", out)
        self.assertIn("list_sum/gil/workers:2/interval:5ms", out)
        # list_sum's failed 2-worker run did not count in behaviour 1
        self.assertIn("worst of 4 CPU workloads: 1.05", behaviours(out)[1]["emulated"])


class Speedups(unittest.TestCase):
    def test_side_by_side(self):
        _, out, _ = run(EMU, CPY)
        rows = {(r[0], r[2], r[3]): r for r in table(out, "| workload | kind")}
        # emulated: serial 100 / gil@2 103 = 0.97; real: 1000 / 1000 = 1.00
        r = rows[("countdown", "2", "gil / cpython_threads")]
        self.assertEqual(r[4:], ["0.97×", "1.00×", "-3 %", fidelity.YES])
        r = rows[("countdown", "4", "gil / cpython_threads")]
        self.assertEqual(r[4:], ["0.94×", "0.77×", "+23 %", fidelity.NO])
        r = rows[("countdown", "2", "process / cpython_process")]
        self.assertEqual(r[4:], ["1.92×", "2.00×", "-4 %", fidelity.YES])
        self.assertIn(("sleep_io", "2", "gil / cpython_threads"), rows)
        self.assertNotIn("convoy", {k[0] for k in rows})  # convoy has its own table
        conv = table(out, "| K | emulated gil")
        self.assertEqual(conv[1], ["1", "150/s", "200×", "160/s", "250×"])


class Errors(unittest.TestCase):
    def assert_error(self, argv, message):
        code, out, err = run(*argv)
        self.assertEqual(code, 2, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertTrue(err.startswith("fidelity: "), err)
        self.assertIn(message, err)

    def test_bad_input(self):
        self.assert_error([os.path.join(FIX, "missing.json")], "cannot read")
        self.assert_error([os.path.join(FIX, "not_json.json")], "is not JSON")
        self.assert_error([os.path.join(FIX, "no_benchmarks.json")], "no 'benchmarks' list")
        self.assert_error([CPY], "is a CPython twin file")
        self.assert_error([EMU, MINIMAL], "has no cpython_* runs")
        self.assert_error([], "the following arguments are required")
        self.assert_error([EMU, CPY, "--bogus"], "unrecognized arguments")
        self.assert_error([EMU, CPY, EMU], "unrecognized arguments")
        self.assert_error([EMU, "--markdown"], "expected one argument")

    def test_unwritable_markdown(self):
        self.assert_error([EMU, "--markdown", os.path.join(FIX, "emulated.json", "x.md")],
                          "cannot write")


class Output(unittest.TestCase):
    def test_markdown_file_equals_printed_report(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "deep", "fidelity.md")
            code, out, _ = run(EMU, CPY, "--markdown", path)
            self.assertEqual(code, 0)
            with open(path) as f:
                self.assertEqual(f.read(), out)
        self.assertTrue(out.startswith("# gilbench fidelity report"))

    def test_leading_subcommand_name_is_tolerated(self):
        self.assertEqual(run("fidelity", EMU)[0], 0)

    def test_command_line(self):
        p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "python", "fidelity.py"), EMU,
                            os.path.join(FIX, "missing.json")], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot read", p.stderr)


if __name__ == "__main__":
    unittest.main()
