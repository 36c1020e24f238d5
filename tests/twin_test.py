#!/usr/bin/python3
"""The CPython twin (bench/python/twin.py): correctness, not speed.

- Its serial checksums equal gilbench's for the same parameters, and its
  parameters are gilbench's. With the gilbench binary's path as the first
  argument (or in $GILBENCH), the C++ figures come from running it
  (`--quick --strategies=serial --repetitions=1`, and a tiny default-scale
  run for the default parameters); without it, from the tables below, taken
  from such a run (checksum = the `checksum` counter, low 52 bits).
- The merged tally does not depend on how the work is split.
- The command line: JSON shape and names, context, metrics, error rows on a
  wrong checksum, exit status 2 with one line for bad flags, a dying process
  worker named in the error.

usage: /usr/bin/python3 tests/twin_test.py [PATH/TO/gilbench] [unittest args]
Standard library only. ctest runs it with the binary (label release-only).
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TWIN = os.path.join(ROOT, "bench", "python", "twin.py")
sys.path.insert(0, os.path.join(ROOT, "bench", "python"))

from pytwin import runners, workloads  # noqa: E402
from pytwin.tally import Tally  # noqa: E402

GILBENCH = os.environ.get("GILBENCH")
MASK52 = (1 << 52) - 1

# gilbench --quick --strategies=serial --repetitions=1: the checksum counter
# of each workload (low 52 bits) and gilbench_params.
CPP_QUICK_CHECKSUMS = {
    "countdown": 98418013288307,
    "binary_trees": 2595239818046879,
    "list_sum": 2045805177991446,
    "shared_read": 1724988087209240,
    "shared_dict": 3346357598402739,
    "sleep_io": 4363058652420185,
    "pipe_io": 1020354977847986,
    "convoy": 2726108508263090,
}
CPP_QUICK_PARAMS = {
    "binary_trees": {"max_depth": 10, "min_depth": 4},
    "convoy": {"alone_round_trips": 100, "message_bytes": 8, "peer_delay_us": 20, "round_trips": 20,
               "warmup_round_trips": 10},
    "countdown": {"n": 400000},
    "list_sum": {"length": 1000, "rounds": 200},
    "pipe_io": {"message_bytes": 64, "round_trips": 400},
    "shared_dict": {"tokens": 200000, "vocabulary": 1000},
    "shared_read": {"depth": 12, "walks": 150},
    "sleep_io": {"burst": 200, "sleep_us": 1000, "tasks": 32},
}
CPP_DEFAULT_PARAMS = {
    "binary_trees": {"max_depth": 14, "min_depth": 4},
    "convoy": {"alone_round_trips": 400, "message_bytes": 8, "peer_delay_us": 20, "round_trips": 100,
               "warmup_round_trips": 10},
    "countdown": {"n": 4000000},
    "list_sum": {"length": 1000, "rounds": 2000},
    "pipe_io": {"message_bytes": 64, "round_trips": 4000},
    "shared_dict": {"tokens": 2000000, "vocabulary": 1000},
    "shared_read": {"depth": 12, "walks": 1500},
    "sleep_io": {"burst": 200, "sleep_us": 1000, "tasks": 128},
}


def serial_tally(w, params):
    if hasattr(w, "expected_tally"):
        return w.expected_tally(params)
    state = w.make_state(params, 0, 1, 1)
    t = w.run(state, 0, 1)
    return t.merge(w.finish(state))


def run_gilbench(args):
    """Runs the binary; RETURNS its JSON result (dict)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        proc = subprocess.run([GILBENCH] + args + ["--out=" + out], capture_output=True, text=True,
                              timeout=300)
        if proc.returncode != 0:
            raise AssertionError("gilbench %s exited %d: %s" % (" ".join(args), proc.returncode,
                                                                proc.stderr[-500:]))
        with open(out) as f:
            return json.load(f)


_cpp = {}


def cpp_reference():
    """(quick checksums, quick params, default params) of the C++ side."""
    if not _cpp:
        if GILBENCH:
            quick = run_gilbench(["--quick", "--strategies=serial", "--repetitions=1"])
            sums = {b["run_name"].split("/")[0]: int(b["checksum"]) for b in quick["benchmarks"]
                    if "checksum" in b and not b.get("error_occurred")}
            default = run_gilbench(["--strategies=serial", "--workloads=convoy", "--repetitions=1"])
            _cpp.update(checksums=sums, quick=json.loads(quick["context"]["gilbench_params"]),
                        default=json.loads(default["context"]["gilbench_params"]), source=GILBENCH)
        else:
            _cpp.update(checksums=CPP_QUICK_CHECKSUMS, quick=CPP_QUICK_PARAMS,
                        default=CPP_DEFAULT_PARAMS, source="the table in twin_test.py")
    return _cpp


class TwinMatchesCpp(unittest.TestCase):
    def test_params_equal_gilbench(self):
        cpp = cpp_reference()
        for scale in ("quick", "default"):
            for w in workloads.ALL:
                with self.subTest(workload=w.NAME, scale=scale):
                    self.assertIn(w.NAME, cpp[scale], "gilbench (%s) has no %s" % (cpp["source"], w.NAME))
                    self.assertEqual(w.params(scale), cpp[scale][w.NAME])

    def test_quick_serial_checksums_equal_gilbench(self):
        cpp = cpp_reference()
        for w in workloads.ALL:
            with self.subTest(workload=w.NAME):
                self.assertIn(w.NAME, cpp["checksums"])
                got = serial_tally(w, w.params("quick")).checksum() & MASK52
                self.assertEqual(got, cpp["checksums"][w.NAME],
                                 "%s: twin %d, gilbench %d (%s)" % (w.NAME, got, cpp["checksums"][w.NAME],
                                                                    cpp["source"]))

    def test_table_matches_binary(self):
        """The fallback table is what the binary says (so it is kept up to date)."""
        if not GILBENCH:
            self.skipTest("no gilbench binary given")
        cpp = cpp_reference()
        for name, value in CPP_QUICK_CHECKSUMS.items():
            self.assertEqual(cpp["checksums"].get(name), value, name)
        for name, value in CPP_QUICK_PARAMS.items():
            self.assertEqual(cpp["quick"].get(name), value, name)


class Sharding(unittest.TestCase):
    def test_split_does_not_change_the_tally(self):
        for w in workloads.ALL:
            if hasattr(w, "expected_tally"):
                continue  # convoy: not a sharded job
            params = w.params("tiny")
            expected = serial_tally(w, params)
            with self.subTest(workload=w.NAME, layout="threads"):
                state = w.make_state(params, 0, 3, 3)  # one state, three workers
                t = Tally()
                for i in range(3):
                    t.merge(w.run(state, i, 3))
                self.assertEqual(t.merge(w.finish(state)), expected)
            with self.subTest(workload=w.NAME, layout="processes"):
                t = Tally()
                for i in range(3):  # a state per worker, as in a process
                    state = w.make_state(params, i, 3, 1)
                    t.merge(w.run(state, i, 3)).merge(w.finish(state))
                self.assertEqual(t, expected)

    def test_shared_dict_lock_mode_counts_the_same(self):
        """The lock used where the GIL is off (or _count_elements is missing)."""
        from pytwin import shared_dict
        params = shared_dict.params("tiny")
        expected = serial_tally(shared_dict, params)
        saved = shared_dict._count_elements
        shared_dict._count_elements = None
        try:
            self.assertEqual(shared_dict.update_mode(), "lock")
            state = shared_dict.make_state(params, 0, 2, 2)
            self.assertEqual(state.mode, "lock")
            parts = [None, None]

            def work(i):
                parts[i] = shared_dict.run(state, i, 2)
            workers = [threading.Thread(target=work, args=(i,)) for i in range(2)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            t = parts[0].merge(parts[1]).merge(shared_dict.finish(state))
            self.assertEqual(t, expected)
        finally:
            shared_dict._count_elements = saved

    def test_checksum_orders_words_and_sees_counts(self):
        a = Tally(3, 5, {"w2": 1, "w10": 2})
        b = Tally(3, 5, {"w10": 2, "w2": 1})
        c = Tally(3, 5, {"w10": 1, "w2": 2})
        self.assertEqual(a.checksum(), b.checksum())
        self.assertNotEqual(a.checksum(), c.checksum())
        self.assertEqual(Tally(1, 2).merge(Tally((1 << 64) - 1, 0)).items, 0)  # wraps mod 2^64


def twin(*args, timeout=300):
    return subprocess.run([sys.executable, TWIN] + list(args), capture_output=True, text=True,
                          timeout=timeout)


class CommandLine(unittest.TestCase):
    def test_tiny_run_writes_gilbench_json(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "sub", "cpython.json")
            p = twin("--scale", "tiny", "--workers", "1,2", "--repetitions", "2", "--out", out)
            self.assertEqual(p.returncode, 0, p.stderr[-2000:])
            self.assertIn("runs in", p.stderr)
            with open(out) as f:
                data = json.load(f)
        ctx = data["context"]
        self.assertEqual(ctx["gilbench_schema_version"], "1")
        self.assertEqual(ctx["gilbench_reference_strategy"], "cpython_serial")
        self.assertEqual(ctx["gilbench_runtime"], "cpython")
        self.assertIn(ctx["gilbench_gil_enabled"], ("true", "false", "unknown"))
        self.assertTrue(ctx["gilbench_python_version"])
        for key in ("date", "host_name", "num_cpus", "caches", "load_avg", "gilbench_params",
                    "gilbench_workloads", "gilbench_workers", "gilbench_switch_intervals"):
            self.assertIn(key, ctx)
        metrics = json.loads(ctx["gilbench_metrics"])
        kinds = json.loads(ctx["gilbench_workloads"])
        self.assertEqual(kinds["convoy"], "io")
        self.assertEqual(kinds["process_startup"], "startup")
        rows = data["benchmarks"]
        names = {r["run_name"] for r in rows}
        for w in ("countdown", "binary_trees", "list_sum", "shared_read", "shared_dict", "sleep_io",
                  "pipe_io"):
            self.assertIn(w + "/cpython_serial/workers:1", names)
            self.assertNotIn(w + "/cpython_serial/workers:2", names)
            for s in ("cpython_threads", "cpython_process"):
                for n in (1, 2):
                    self.assertIn("%s/%s/workers:%d" % (w, s, n), names)
        for s in ("cpython_threads", "cpython_process"):
            for k in (0, 1, 2):
                self.assertIn("convoy/%s/workers:%d" % (s, k), names)
            for n in (1, 2):
                self.assertIn("process_startup/%s/workers:%d" % (s, n), names)
        self.assertIn("convoy/cpython_serial/workers:0", names)
        for name in names:
            mine = [r for r in rows if r["run_name"] == name]
            its = [r for r in mine if r["run_type"] == "iteration"]
            aggs = [r["aggregate_name"] for r in mine if r["run_type"] == "aggregate"]
            self.assertEqual([r["repetition_index"] for r in its], [0, 1], name)
            self.assertEqual(aggs, ["mean", "median", "stddev", "cv"], name)
            for r in its:
                self.assertFalse(r.get("error_occurred"), r.get("error_message"))
                self.assertEqual(r["iterations"], 1)
                self.assertEqual(r["time_unit"], "ms")
                self.assertGreater(r["real_time"], 0)
                self.assertEqual(r["checksum_ok"], 1.0)
                for key in r:
                    if key not in ("name", "family_index", "per_family_instance_index", "run_name",
                                   "run_type", "repetitions", "repetition_index", "threads",
                                   "iterations", "real_time", "cpu_time", "time_unit"):
                        self.assertIn(key, metrics, "%s: counter %s not in gilbench_metrics" % (name, key))
        convoy = [r for r in rows if r["run_name"] == "convoy/cpython_threads/workers:1"
                  and r["run_type"] == "iteration"][0]
        for key in ("io_rps", "io_rps_alone", "io_rps_ratio", "io_p50_us", "io_p99_us", "io_max_us"):
            self.assertGreater(convoy[key], 0, key)
        proc = [r for r in rows if r["run_name"] == "countdown/cpython_process/workers:2"][0]
        self.assertGreater(proc["startup_ms"], 0)
        self.assertGreater(proc["ipc_bytes"], 0)

    def test_wrong_checksum_is_an_error_row(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "c.json")
            p = twin("--scale", "tiny", "--workloads", "countdown", "--strategies",
                     "cpython_serial,cpython_threads", "--repetitions", "1",
                     "--test-corrupt-checksum=countdown", "--out", out)
            self.assertEqual(p.returncode, 1, p.stderr[-2000:])
            self.assertIn("checksum mismatch", p.stderr)
            with open(out) as f:
                rows = json.load(f)["benchmarks"]
        self.assertTrue(rows)
        for r in rows:
            self.assertTrue(r["error_occurred"], r["name"])
            self.assertIn("checksum mismatch", r["error_message"])
            self.assertEqual(r["real_time"], 0.0)
            self.assertNotIn("items_per_second", r)

    def test_bad_flags_exit_2_with_one_line(self):
        cases = [
            (["--bogus"], "unrecognized arguments: --bogus"),
            (["--workers=x"], "--workers: 'x' is not an integer"),
            (["--workers=0"], "out of range"),
            (["--strategies=serial"], "unknown name 'serial'"),
            (["--workloads=nope"], "unknown name 'nope'"),
            (["--switch-interval=5"], "needs a unit"),
            (["--repetitions=0"], "out of range"),
            (["--start-method=clone"], "invalid choice"),
            (["--quick", "--scale=tiny"], "conflicts"),
            (["--out="], "empty file name"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                p = twin(*args, timeout=60)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
                self.assertIn(message, p.stderr)
                self.assertTrue(p.stderr.startswith("twin: "), p.stderr)

    def test_list(self):
        p = twin("--list", "--quick", "--workloads=countdown,convoy", "--switch-interval=5ms,100us",
                 timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        names = p.stdout.split()
        self.assertIn("countdown/cpython_threads/workers:2/interval:100us", names)
        self.assertIn("countdown/cpython_process/workers:2", names)
        self.assertIn("convoy/cpython_threads/workers:0/interval:5ms", names)
        self.assertIn("convoy/cpython_serial/workers:0", names)


class _Dies:
    """A workload whose run kills its process (for the process runner's error path)."""
    NAME = "twin_test_dies"

    @staticmethod
    def make_state(params, first=0, count=1, local=1):
        return None

    @staticmethod
    def run(state, index, count):
        os._exit(3)


class ProcessRunnerFaults(unittest.TestCase):
    def test_dying_worker_is_named(self):
        import multiprocessing
        if "fork" not in multiprocessing.get_all_start_methods():
            self.skipTest("needs the fork start method")
        workloads.BY_NAME[_Dies.NAME] = _Dies  # inherited by the forked workers
        try:
            pool = runners.ProcessRunner(2, "fork", 0.005)
            try:
                with self.assertRaises(runners.RunError) as err:
                    pool.run(_Dies, {})
            finally:
                pool.close()
        finally:
            del workloads.BY_NAME[_Dies.NAME]
        self.assertRegex(str(err.exception), r"process worker \d \(pid \d+\) died \(exit status 3\)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        GILBENCH = os.path.abspath(sys.argv.pop(1))
    unittest.main()
