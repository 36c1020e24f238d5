#!/usr/bin/python3
"""The CPython twin (bench/python/twin.py): correctness, not speed.

- Its parameters are gilbench's, read from the binary (`gilbench --params
  --format=json`) or a result file: the twin has no copy, and neither has
  this test. Its serial checksums equal gilbench's for those parameters
  (gilbench's from a `--quick --strategies=serial --repetitions=1` run, read
  through the results library's loader).
- The merged tally does not depend on how the work is split.
- The command line: JSON shape, schema and names (gilbench_runs), context,
  metrics, error rows on a wrong checksum, exit status 2 with one line for
  bad flags or parameters that cannot be read, a dying process worker named
  in the error.

The gilbench binary: the first argument, else $GILBENCH, else build/gilbench
of this checkout; the tests that need it are skipped without one.

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

from gilbench_results import schema  # noqa: E402
from gilbench_results.load import load_result  # noqa: E402
from pytwin import params, runners, workloads  # noqa: E402
from pytwin.tally import Tally  # noqa: E402

GILBENCH = os.environ.get("GILBENCH") or os.path.join(ROOT, "build", "gilbench")
MASK52 = (1 << 52) - 1


def serial_tally(w, p):
    if hasattr(w, "expected_tally"):
        return w.expected_tally(p)
    state = w.make_state(p, 0, 1, 1)
    t = w.run(state, 0, 1)
    return t.merge(w.finish(state))


def need_gilbench(test):
    if not (os.path.isfile(GILBENCH) and os.access(GILBENCH, os.X_OK)):
        test.skipTest("no gilbench binary (%s)" % GILBENCH)


def run_gilbench(args, out):
    """Runs the binary, writing its result to out."""
    proc = subprocess.run([GILBENCH] + args + ["--out=" + out], capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        raise AssertionError("gilbench %s exited %d: %s" % (" ".join(args), proc.returncode,
                                                            proc.stderr[-500:]))


_params = {}


def gilbench_params(scale):
    """{workload: params} of gilbench at this scale (from the binary, once)."""
    if not _params:
        _params.update(params.from_gilbench(GILBENCH))
    return _params[scale]


class TwinMatchesCpp(unittest.TestCase):
    def setUp(self):
        need_gilbench(self)

    def test_gilbench_has_every_twin_workload_at_every_scale(self):
        for scale in params.SCALES:
            table = gilbench_params(scale)
            for w in workloads.ALL:
                with self.subTest(workload=w.NAME, scale=scale):
                    self.assertIsInstance(table.get(w.NAME), dict)

    def test_quick_serial_checksums_equal_gilbench(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "quick.json")
            run_gilbench(["--quick", "--strategies=serial", "--repetitions=1"], out)
            result = load_result(out)
        cpp = {r.workload: int(r.counter_samples("checksum")[0]) for r in result.runs.values()
               if r.counter_samples("checksum")}
        quick = gilbench_params("quick")
        self.assertEqual(result.ctx_json(schema.PARAMS_KEY, None), quick,
                         "a result file holds the parameters --params prints for its scale")
        for w in workloads.ALL:
            with self.subTest(workload=w.NAME):
                self.assertIn(w.NAME, cpp)
                got = serial_tally(w, quick[w.NAME]).checksum() & MASK52
                self.assertEqual(got, cpp[w.NAME], "%s: twin %d, gilbench %d"
                                 % (w.NAME, got, cpp[w.NAME]))


class Sharding(unittest.TestCase):
    def setUp(self):
        need_gilbench(self)

    def test_split_does_not_change_the_tally(self):
        for w in workloads.ALL:
            if hasattr(w, "expected_tally"):
                continue  # convoy: not a sharded job
            p = gilbench_params("tiny")[w.NAME]
            expected = serial_tally(w, p)
            with self.subTest(workload=w.NAME, layout="threads"):
                state = w.make_state(p, 0, 3, 3)  # one state, three workers
                t = Tally()
                for i in range(3):
                    t.merge(w.run(state, i, 3))
                self.assertEqual(t.merge(w.finish(state)), expected)
            with self.subTest(workload=w.NAME, layout="processes"):
                t = Tally()
                for i in range(3):  # a state per worker, as in a process
                    state = w.make_state(p, i, 3, 1)
                    t.merge(w.run(state, i, 3)).merge(w.finish(state))
                self.assertEqual(t, expected)

    def test_convoy_windows_alternate_with_threads_and_burners(self):
        """Alone and loaded windows in turn: uneven shares, the tally of every round
        trip, CPU threads parked and burner processes stopped between windows (a
        worker that did not park would hang the pause)."""
        from pytwin import convoy
        p = dict(gilbench_params("tiny")["convoy"], windows=3, alone_round_trips=7,
                 round_trips=5)
        self.assertEqual([convoy.share(7, 3, w) for w in range(3)], [3, 2, 2])
        state = convoy.make_state(p, 0, 3, 3)  # the IO worker and K = 2 CPU threads
        cpu = [threading.Thread(target=convoy.cpu_worker, args=(state,)) for _ in range(2)]
        for t in cpu:
            t.start()
        tally = convoy.io_worker(state)
        for t in cpu:
            t.join(30)
            self.assertFalse(t.is_alive(), "a CPU thread did not stop")
        self.assertEqual(tally, convoy.expected_tally(p))
        self.assertEqual(len(state.latencies), 5)
        seconds, tally, counters = convoy.ProcessRunner(2).run(convoy, p)
        self.assertEqual(tally, convoy.expected_tally(p))
        self.assertGreater(counters["io_rps_alone"], 0)
        calls = []
        state = convoy.make_state(p, 0, 1, 1)
        convoy.io_worker(state, pause=lambda _: calls.append("p"),
                         resume=lambda _: calls.append("r"))
        self.assertEqual("".join(calls), "rprpr")
        with self.assertRaises(ValueError):
            convoy.make_state(dict(p, windows=0), 0, 1, 1)

    def test_convoy_tcp_peer_is_gilbench_echo_peer(self):
        """peer "tcp": gilbench's own --echo-peer process over TCP loopback, as
        gilbench --convoy-peer=tcp uses; it exits when the twin closes the socket."""
        from pytwin import convoy, echo
        p = dict(gilbench_params("tiny")["convoy"], peer="tcp")
        echo.GILBENCH = GILBENCH
        seconds, tally, counters = convoy.ProcessRunner(1).run(convoy, p)
        self.assertEqual(tally, convoy.expected_tally(p))
        peer = echo.peers(1, p["peer_delay_us"], "tcp")[0]
        self.assertIsInstance(peer, echo.TcpEchoPeer)
        self.assertIn("--echo-peer", peer.proc.args)
        echo.close_all()
        self.assertIsNotNone(peer.proc.returncode, "the echo peer outlived its socket")
        with self.assertRaises(ValueError):
            echo.peers(1, 0, "udp")

    def test_shared_dict_lock_mode_counts_the_same(self):
        """The lock used where the GIL is off (or _count_elements is missing)."""
        from pytwin import shared_dict
        p = gilbench_params("tiny")[shared_dict.NAME]
        expected = serial_tally(shared_dict, p)
        saved = shared_dict._count_elements
        shared_dict._count_elements = None
        try:
            self.assertEqual(shared_dict.update_mode(), "lock")
            state = shared_dict.make_state(p, 0, 2, 2)
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
        need_gilbench(self)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "sub", "cpython.json")
            p = twin("--scale", "tiny", "--workers", "1,2", "--repetitions", "2", "--out", out,
                     "--gilbench", GILBENCH)
            self.assertEqual(p.returncode, 0, p.stderr[-2000:])
            self.assertIn("runs in", p.stderr)
            with open(out) as f:
                data = json.load(f)
            result = load_result(out)  # the results library reads it as it is
        ctx = data["context"]
        self.assertEqual(ctx["gilbench_schema_version"], schema.SCHEMA_VERSION)
        # the parameters it ran with are gilbench's, and it says where they came from
        tiny = gilbench_params("tiny")
        self.assertEqual(json.loads(ctx["gilbench_params"]),
                         {w.NAME: tiny[w.NAME] for w in workloads.ALL})
        self.assertIn(GILBENCH, ctx["gilbench_params_source"])
        # every name's fields, and the name is the one its fields make
        runs = json.loads(ctx["gilbench_runs"])
        self.assertEqual(set(runs), {r["run_name"] for r in data["benchmarks"]})
        for name, f in runs.items():
            self.assertEqual(schema.run_name(f), name)
            self.assertEqual(f["runner"], "process" if f["strategy"] == "cpython_process"
                             else "threads", name)
            run = result.runs[name]
            self.assertEqual((run.workload, run.strategy, run.workers), (f["workload"],
                                                                         f["strategy"],
                                                                         f["workers"]))
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
        need_gilbench(self)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "c.json")
            p = twin("--scale", "tiny", "--workloads", "countdown", "--strategies",
                     "cpython_serial,cpython_threads", "--repetitions", "1",
                     "--test-corrupt-checksum=countdown", "--out", out, "--gilbench", GILBENCH)
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
            (["--switch-interval=5ms,0.5us"], "--switch-interval: 0.5us is out of range [1us, 10s]"),
            (["--switch-interval=5xs"], "'5xs' is not a duration"),
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

    def test_parameters_that_cannot_be_read(self):
        with tempfile.TemporaryDirectory() as tmp:
            missing = os.path.join(tmp, "gilbench")
            bad = os.path.join(tmp, "r.json")
            with open(bad, "w") as f:
                f.write("{")
            for args, message in (
                    (["--gilbench", missing], missing + ": not found"),
                    (["--gilbench", "/bin/false"], "/bin/false --params --format=json exited 1"),
                    (["--gilbench", "/bin/true"], "its output is not JSON"),
                    (["--params-from", bad], bad + ": truncated JSON")):
                with self.subTest(args=args):
                    p = twin("--scale", "tiny", "--workloads", "countdown", *args, timeout=60)
                    self.assertEqual(p.returncode, 2, p.stderr)
                    self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
                    self.assertTrue(p.stderr.startswith("twin: "), p.stderr)
                    self.assertIn(message, p.stderr)

    def test_parameters_from_a_result_file(self):
        need_gilbench(self)
        with tempfile.TemporaryDirectory() as tmp:
            bench = os.path.join(tmp, "bench.json")
            run_gilbench(["--quick", "--workloads=countdown", "--strategies=serial",
                          "--repetitions=1"], bench)
            p = twin("--scale", "tiny", "--params-from", bench, timeout=60)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("ran at scale quick, not tiny", p.stderr)
            out = os.path.join(tmp, "cpython.json")
            p = twin("--quick", "--workloads", "countdown", "--strategies", "cpython_serial",
                     "--repetitions", "1", "--params-from", bench, "--out", out)
            self.assertEqual(p.returncode, 0, p.stderr[-2000:])
            ctx = load_result(out).context
        self.assertEqual(json.loads(ctx["gilbench_params"]),
                         {w.NAME: gilbench_params("quick")[w.NAME] for w in workloads.ALL})
        self.assertEqual(ctx["gilbench_params_source"], bench)

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
