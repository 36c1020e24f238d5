#!/usr/bin/python3
"""The fidelity report's logic (bench/python/fidelity.py) on fixture files.

The findings are read from the report's data (fidelity.report()), never from
its markdown; the markdown is checked as a rendering of that data.

tests/fixtures/fidelity/:
  emulated.json   a gilbench-shaped result in which every behaviour the suite
                  measures holds (hand-made figures), plus one failed run
  cpython.json    a twin-shaped result: threads 30 % slower at 4 workers
                  (behaviour 1 fails), convoy 250x, spawn 500x a thread
  minimal.json    countdown only, three repetitions each, times in ns: 2
                  threads take 2.1x the 1-thread time (behaviour 1 fails),
                  nothing else
  no_benchmarks.json, not_json.json   bad input

usage: /usr/bin/python3 tests/fidelity_test.py   (standard library only)
"""

import io
import json
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


def report(emu, cpy=None):
    return fidelity.report(fidelity.load(emu), fidelity.load(cpy) if cpy else None)


def findings(emu, cpy=None):
    """{behaviour id: Finding}"""
    return {f.behaviour.id: f for f in report(emu, cpy).findings}


class Behaviours(unittest.TestCase):
    def test_the_table_is_all_fifteen_in_order(self):
        self.assertEqual([b.id for b in fidelity.BEHAVIOURS], list(range(1, 16)))
        for b in fidelity.BEHAVIOURS:
            self.assertTrue(b.title and b.published and b.tolerance, b.id)
            self.assertTrue(b.measure is not None or b.cpython is False, b.id)

    def test_all_fifteen_rows_always_listed(self):
        for files in ((EMU, CPY), (EMU,), (MINIMAL,)):
            self.assertEqual(sorted(findings(*files)), list(range(1, 16)), files)

    def test_holding_fixture(self):
        b = findings(EMU, CPY)
        for n in (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 15):
            self.assertEqual(b[n].holds_emulated, fidelity.YES, "behaviour %d: %s" % (n, b[n]))
        self.assertEqual(b[14].holds_emulated, fidelity.NOT_COVERED, b[14])
        self.assertEqual(b[13].holds_emulated, fidelity.NOT_MEASURED)  # no transfer rows
        self.assertEqual(b[7].holds_emulated, fidelity.NOT_MEASURED)  # no c_call rows
        # the figures behind the verdicts
        self.assertIn("2: 1.02, 4: 1.05", b[1].emulated)
        self.assertIn("T(2)/T(1) = 1.90", b[2].emulated)
        self.assertIn("K=1: median round trip 1.20 intervals, 0.66 intervals lost per blocking call; "
                      "K=2: 2.40, 1.43", b[5].emulated)
        self.assertIn("K=1 degradation 200×", b[5].emulated)  # shown, not judged
        self.assertIn("100us 1.36", b[6].emulated)
        self.assertIn("500×", b[15].emulated)
        self.assertIn("[SKV]", b[1].behaviour.published)
        self.assertIn("[0.90, 1.10]", b[1].behaviour.tolerance)
        self.assertEqual(b[1].behaviour.limits["band"], (0.90, 1.10))

    def test_no_checkpoint_call_from_c_call_rows(self):
        # Behaviour 7: 6 calls of 10 ms each (serial 60 ms); under gil at 2 workers the
        # contended acquisitions wait about one call (holds), or one interval (does not).
        with open(EMU) as f:
            doc = json.load(f)
        runs = json.loads(doc["context"]["gilbench_runs"])
        params = json.loads(doc["context"].get("gilbench_params", "{}"))
        params["c_call"] = {"sections": 6, "steps": 10_000_000}
        doc["context"]["gilbench_params"] = json.dumps(params)
        base = list(doc["benchmarks"])

        def with_wait(wait_ms):
            doc["benchmarks"] = list(base)
            for strategy, workers, counters in (("serial", 1, {}), ("gil", 2, {
                    "gil_wait_ns": 5 * wait_ms * 1e6, "gil_contended": 5})):
                name = "c_call/%s/workers:%d" % (strategy, workers)
                runs[name] = {"workload": "c_call", "strategy": strategy, "runner": "threads",
                              "workers": workers, "axes": {}}
                for i in range(3):
                    doc["benchmarks"].append({
                        "name": name, "run_name": name, "run_type": "iteration",
                        "repetitions": 3, "repetition_index": i, "threads": 1, "iterations": 1,
                        "real_time": 60, "cpu_time": 60, "time_unit": "ms", **counters})
            doc["context"]["gilbench_runs"] = json.dumps(runs)
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "c_call.json")
                with open(path, "w") as f:
                    json.dump(doc, f)
                return findings(path)[7]

        held = with_wait(9.5)
        self.assertEqual(held.holds_emulated, fidelity.YES, held)
        self.assertIn("waits 9.5 ms on average (5 waits)", held.emulated)
        self.assertIn("one check-point-free call takes 10.0 ms", held.emulated)
        self.assertEqual(with_wait(5.0).holds_emulated, fidelity.NO)  # dropped mid-call

    def test_convoy_is_judged_by_its_mechanism_not_its_rates(self):
        # The same rates (200x degradation) with a K=1 median of 6 intervals: no; with
        # K=2 losing less than K=1: no. The rates alone never decide.
        with open(EMU) as f:
            doc = json.load(f)

        def with_p50(k1_us, k2_us):
            for row in doc["benchmarks"]:
                if row["run_name"] == "convoy/gil/workers:1/interval:5ms":
                    row["io_p50_us"] = k1_us
                if row["run_name"] == "convoy/gil/workers:2/interval:5ms":
                    row["io_p50_us"] = k2_us
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "convoy.json")
                with open(path, "w") as f:
                    json.dump(doc, f)
                return findings(path)[5].holds_emulated

        self.assertEqual(with_p50(6000, 12000), fidelity.YES)
        self.assertEqual(with_p50(30000, 40000), fidelity.NO)  # 6 intervals per round trip
        self.assertEqual(with_p50(9000, 8000), fidelity.NO)  # K=2 no worse than K=1

    def test_critical_sections_from_transfer_rows(self):
        # Behaviour 13 from the transfer rows: fine_lock completes at 2 and 4
        # workers; fine_lock_naive deadlocked in 2 of 3 repetitions.
        with open(EMU) as f:
            doc = json.load(f)
        runs = json.loads(doc["context"]["gilbench_runs"])

        def add(strategy, workers, counters, error=None):
            name = "transfer/%s/workers:%d" % (strategy, workers)
            runs[name] = {"workload": "transfer", "strategy": strategy, "runner": "threads",
                          "workers": workers, "axes": {}}
            for i, c in enumerate(counters):
                row = {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 3,
                       "repetition_index": i, "threads": 1, "iterations": 1, "real_time": 5,
                       "cpu_time": 5, "time_unit": "ms", **c}
                if error:
                    row.update(error_occurred=True, error_message=error)
                doc["benchmarks"].append(row)

        add("serial", 1, [{}] * 3)
        for n in (2, 4):
            add("fine_lock", n, [{}] * 3)
        add("fine_lock_naive", 2, [{"deadlocked": 1, "deadlock_detect_ms": 0.2},
                                   {"deadlocked": 0, "deadlock_detect_ms": 0},
                                   {"deadlocked": 1, "deadlock_detect_ms": 0.4}])
        doc["context"]["gilbench_runs"] = json.dumps(runs)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "transfer.json")
            with open(path, "w") as f:
                json.dump(doc, f)
            b = findings(path)[13]
            self.assertEqual(b.holds_emulated, fidelity.YES, b)
            self.assertIn("2 of 2 multi-worker rows completed", b.emulated)
            self.assertIn("2 of 3 repetitions deadlocked", b.emulated)
            self.assertIn("detected in 0.2-0.4 ms", b.emulated)
            # an ordered row that failed (a deadlock there would time out): NO
            doc["benchmarks"] = [r for r in doc["benchmarks"] if r["name"] != "transfer/fine_lock/workers:4"]
            add("fine_lock", 4, [{}] * 3, error="worker timeout")
            with open(path, "w") as f:
                json.dump(doc, f)
            self.assertEqual(findings(path)[13].holds_emulated, fidelity.NO)

    def test_calibrated_rows_are_judged_in_the_bytecode_sweep(self):
        # The sweep (tests/fixtures/bytecode_sweep.json: countdown under serial, atomic_rc
        # and biased_rc at costs 0 and 38 steps) and CPython's countdown at a time that
        # puts CPython's cost per checkpoint 40 ns above the C++ serial's: rows 9, 10
        # and 12 are read at 38 steps, the others stay in RESULT.
        sweep_path = os.path.join(HERE, "fixtures", "bytecode_sweep.json")
        sweep = fidelity.load(sweep_path)
        base = sweep.find("countdown", "serial", 1)
        self.assertEqual(base.axes, {"bytecode": "0"})
        checkpoints = sweep.counter(base, "ops_checkpoints")
        cxx_ns = sweep.run_time(base) / checkpoints * 1e9
        with open(EMU) as f:
            emu_doc = json.load(f)
        with open(CPY) as f:
            cpy_doc = json.load(f)
        for row in emu_doc["benchmarks"]:
            if row["run_name"] == "countdown/serial/workers:1":
                row["ops_checkpoints"] = 1_000_000
        emu_doc["context"].pop("gilbench_params", None)
        cpy_doc["context"].pop("gilbench_params", None)
        for row in cpy_doc["benchmarks"]:
            if row["run_name"] == "countdown/cpython_serial/workers:1":
                row["real_time"], row["time_unit"] = (cxx_ns + 40) * 1_000_000 / 1e6, "ms"
        with tempfile.TemporaryDirectory() as tmp:
            emu_path, cpy_path = os.path.join(tmp, "e.json"), os.path.join(tmp, "c.json")
            for path, doc in ((emu_path, emu_doc), (cpy_path, cpy_doc)):
                with open(path, "w") as f:
                    json.dump(doc, f)
            emu, cpy = fidelity.load(emu_path), fidelity.load(cpy_path)
            rep = fidelity.report(emu, cpy, sweep)
            cost = rep.costs["countdown"]
            self.assertAlmostEqual(cost.cpython_ns - cost.cxx_ns, 40, places=6)
            self.assertEqual(cost.steps, 38)
            at = fidelity.Figures(sweep.result, {"countdown": 38})
            want = at.time("countdown", "biased_rc", 1) / at.time("countdown", "atomic_rc", 1)
            f10 = rep.finding(10)
            self.assertTrue(f10.emulated.startswith("at CPython's bytecode cost"), f10.emulated)
            self.assertIn("= %.2f (geomean)" % want, f10.emulated)
            self.assertEqual(f10.holds_emulated, fidelity.verdict(want < 1.0))
            f12 = rep.finding(12)
            self.assertIn("countdown T(1)/T(2) = %.2f" % (
                at.time("countdown", "biased_rc", 1) / at.time("countdown", "biased_rc", 2)),
                f12.emulated)
            self.assertNotIn("bytecode", rep.finding(1).emulated)
            self.assertNotIn("by instructions", f12.emulated)  # the sweep counted none
            # With the sweep's instruction lane, row 12 also gives biased_rc's instructions
            # over serial at the calibrated cost (reported, not judged).
            with open(sweep_path) as f:
                sweep_doc = json.load(f)
            sweep_doc["context"]["gilbench_instructions"] = json.dumps({"counts": {
                "countdown/serial/workers:1/bytecode:38": 1000,
                "countdown/biased_rc/workers:1/bytecode:38": 1081,
                "countdown/biased_rc/workers:1/bytecode:0": 5000}})
            counted_path = os.path.join(tmp, "sweep.json")
            with open(counted_path, "w") as f:
                json.dump(sweep_doc, f)
            f12 = fidelity.report(emu, cpy, fidelity.load(counted_path)).finding(12)
            self.assertIn("by instructions +8.1 % (geomean; countdown 1.081)", f12.emulated)
            self.assertEqual(f12.holds_emulated, rep.finding(12).holds_emulated)
            text = fidelity.markdown(rep)
            self.assertIn("## Bytecode cost", text)
            self.assertIn("| countdown | %.1f | %.1f | 40.0 ns | 38 steps" % (
                cost.cpython_ns, cost.cxx_ns), text)
            # On the command line; a sweep without CPYTHON.json is refused.
            code, out, err = run(emu_path, cpy_path, "--bytecode-sweep", sweep_path)
            self.assertEqual((code, err), (0, ""))
            self.assertIn("BYTECODE SWEEP", out)
            code, out, err = run(emu_path, "--bytecode-sweep", sweep_path)
            self.assertEqual(code, 2)
            self.assertIn("needs CPYTHON.json", err)
            # A sweep that is not one (no ns per step) is bad input.
            code, out, err = run(emu_path, cpy_path, "--bytecode-sweep", emu_path)
            self.assertEqual(code, 2)
            self.assertIn("not a --bytecode-cost run", err)

    def test_cpython_column(self):
        b = findings(EMU, CPY)
        self.assertEqual(b[1].holds_cpython, fidelity.NO)  # 1.30 at 4 threads
        self.assertIn("4: 1.30", b[1].cpython)
        self.assertEqual(b[5].holds_cpython, fidelity.YES)
        self.assertIn("K=1 degradation 250×", b[5].cpython)
        self.assertEqual(b[8].holds_cpython, fidelity.YES)
        self.assertEqual(b[15].holds_cpython, fidelity.YES)
        self.assertEqual(b[6].holds_cpython, fidelity.NOT_MEASURED)  # one interval only
        for n in (2, 3, 4, 9, 10, 11):
            self.assertEqual(b[n].holds_cpython, fidelity.NA, n)  # no CPython counterpart
        self.assertEqual(b[12].holds_cpython, fidelity.NA)
        self.assertIn("has the GIL", b[12].cpython_note)

    def test_without_cpython_file(self):
        rep = report(EMU)
        self.assertEqual(rep.finding(1).holds_cpython, fidelity.NO_FILE)
        self.assertEqual(rep.finding(1).holds_emulated, fidelity.YES)
        self.assertEqual(rep.speedups, [])
        _, out, _ = run(EMU)
        self.assertIn("No CPython file given", out)

    def test_absent_rows_are_not_measured(self):
        b = findings(MINIMAL)
        self.assertEqual(b[1].holds_emulated, fidelity.NO)  # 2.1x slower with 2 threads
        self.assertIn("2: 2.10", b[1].emulated)  # medians of the repetitions, from ns
        for n in (2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 15):
            self.assertEqual(b[n].holds_emulated, fidelity.NOT_MEASURED, n)

    def test_medians_come_from_the_repetitions_in_seconds(self):
        emu = fidelity.load(MINIMAL)
        self.assertAlmostEqual(emu.time("countdown", "serial", 1), 0.100)  # 99, 100, 101 ms
        self.assertAlmostEqual(emu.time("countdown", "gil", 2), 0.210)
        self.assertEqual(emu.default_interval, 5_000_000)

    def test_failed_runs_are_named_not_used(self):
        rep = report(EMU, CPY)
        self.assertEqual(rep.emulated.failed(), ["list_sum/gil/workers:2/interval:5ms"])
        # list_sum's failed 2-worker run did not count in behaviour 1
        self.assertIn("worst of 4 CPU workloads: 1.05", rep.finding(1).emulated)
        _, out, _ = run(EMU, CPY)
        self.assertIn("RESULT has 1 failed benchmark(s)", out)
        self.assertIn("list_sum/gil/workers:2/interval:5ms", out)

    def test_a_limit_of_the_table_decides(self):
        # the same figures against a tighter band: behaviour 1 no longer holds
        b1 = fidelity.BEHAVIOURS[0]
        emu = fidelity.load(EMU)
        self.assertEqual(b1.measure(emu, fidelity.EMULATED, **b1.limits)[1], fidelity.YES)
        self.assertEqual(b1.measure(emu, fidelity.EMULATED, band=(0.99, 1.01))[1], fidelity.NO)


class Speedups(unittest.TestCase):
    def test_side_by_side(self):
        rows = {(s.workload, s.workers, s.pair): s for s in report(EMU, CPY).speedups}
        # emulated: serial 100 / gil@2 103 = 0.97; real: 1000 / 1000 = 1.00
        s = rows[("countdown", 2, "gil / cpython_threads")]
        self.assertEqual((round(s.emulated, 2), round(s.real, 2)), (0.97, 1.00))
        self.assertEqual((round(s.difference, 2), s.within), (-0.03, True))
        s = rows[("countdown", 4, "gil / cpython_threads")]
        self.assertEqual((round(s.emulated, 2), round(s.real, 2)), (0.94, 0.77))
        self.assertEqual((round(s.difference, 2), s.within), (0.23, False))
        s = rows[("countdown", 2, "process / cpython_process")]
        self.assertEqual((round(s.emulated, 2), round(s.real, 2), s.within), (1.92, 2.00, True))
        self.assertIn(("sleep_io", 2, "gil / cpython_threads"), rows)
        self.assertNotIn("convoy", {k[0] for k in rows})  # convoy has its own table
        emu = fidelity.load(EMU)  # a failed run: no speedup, and FAILED in the table
        self.assertIsNone(emu.speedup("list_sum", "gil", 2))
        self.assertTrue(fidelity.failed_at(emu, "list_sum", "gil", 2))
        self.assertFalse(fidelity.failed_at(emu, "countdown", "gil", 2))

    def test_convoy_table(self):
        rep = report(EMU, CPY)
        self.assertEqual(round(rep.convoy["emulated"][1][0]), 150)
        self.assertEqual(round(rep.convoy["emulated"][1][1]), 200)
        self.assertEqual(round(rep.convoy["cpython"][1][0]), 160)
        self.assertEqual(round(rep.convoy["cpython"][1][1]), 250)


class Markdown(unittest.TestCase):
    """The markdown is the data, rendered."""

    def test_rendered_from_the_data(self):
        rep = report(EMU, CPY)
        text = fidelity.markdown(rep)
        _, out, _ = run(EMU, CPY)
        self.assertEqual(text, out)
        self.assertTrue(out.startswith("# gilbench fidelity report"))
        for f in rep.findings:
            self.assertIn("| %d | %s | %s | %s |" % (f.behaviour.id, f.behaviour.title,
                                                     f.behaviour.published, f.emulated), out)
        self.assertIn("| countdown | cpu | 4 | gil / cpython_threads | 0.94× | 0.77× | +23 % | "
                      "**no** |", out)
        self.assertIn("| 1 | 150/s | 200× | 160/s | 250× |", out)


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
        self.assert_error([os.path.join(FIX, "not_json.json")], "malformed JSON")
        self.assert_error([os.path.join(FIX, "no_benchmarks.json")],
                          "not Google Benchmark JSON")
        self.assert_error([CPY], "is a CPython twin file")
        self.assert_error([EMU, MINIMAL], "has no cpython_* runs")
        self.assert_error([], "the following arguments are required")
        self.assert_error([EMU, CPY, "--bogus"], "unrecognized arguments")
        self.assert_error([EMU, CPY, EMU], "unrecognized arguments")
        self.assert_error([EMU, "--markdown"], "expected one argument")

    def test_the_loader_checks_every_field(self):
        with open(EMU) as f:
            data = json.load(f)
        data["benchmarks"][0]["real_time"] = -1
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bad.json")
            with open(path, "w") as f:
                json.dump(data, f)
            self.assert_error([path], "benchmark row 0 (countdown/serial/workers:1): real_time")
            data["context"]["gilbench_schema_version"] = "1"
            with open(path, "w") as f:
                json.dump(data, f)
            self.assert_error([path], "re-record")

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

    def test_leading_subcommand_name_is_tolerated(self):
        self.assertEqual(run("fidelity", EMU)[0], 0)

    def test_command_line(self):
        p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "python", "fidelity.py"),
                            EMU, os.path.join(FIX, "missing.json")], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot read", p.stderr)
        p = subprocess.run([sys.executable, os.path.join(ROOT, "plot.py"), "fidelity", EMU, CPY],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, run(EMU, CPY)[1])


if __name__ == "__main__":
    unittest.main()
