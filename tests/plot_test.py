#!/usr/bin/python3
"""Self-tests of plot.py: the regression gate, bad input, charts, compare.py.

Runs on recorded gilbench results (tests/fixtures/, see its README.md), so
every verdict is deterministic. ctest runs it with --gilbench=BIN; the tests
that run the binary (the callgrind lane) are skipped without it.

    /usr/bin/python3 tests/plot_test.py [--gilbench=build/gilbench] [-v]
"""

import copy
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PLOT = os.path.join(REPO, "plot.py")
FIXTURES = os.path.join(HERE, "fixtures")
A = os.path.join(FIXTURES, "quick_a.json")          # a --quick run
A2 = os.path.join(FIXTURES, "quick_a2.json")        # the same build again (A/A)
SLOW = os.path.join(FIXTURES, "quick_slow50.json")  # --inject-slowdown=countdown:0.5
SWEEP = os.path.join(FIXTURES, "convoy_sweep.json")  # convoy + two switch intervals
COMPARE_PY = "/usr/share/benchmark/compare.py"

sys.path.insert(0, REPO)
import plot  # noqa: E402


def run_plot(*args):
    """Runs plot.py with /usr/bin/python3; returns (exit status, stdout, stderr)."""
    p = subprocess.run(["/usr/bin/python3", PLOT, *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def load(path):
    with open(path) as f:
        return json.load(f)


def rows_by_verdict(markdown, lane_title):
    """{verdict word: [benchmark names]} of one lane's table in compare's markdown."""
    section = markdown.split(f"### {lane_title}", 1)[1].split("\n### ", 1)[0]
    out = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            name = cells[0].strip("`")
            verdict = cells[-1].split(" ")[0].strip("*") if cells[-1] else ""
            out.setdefault(verdict, []).append(name)
    return out


class TempDir(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="plot-test-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            if isinstance(data, str):
                f.write(data)
            else:
                json.dump(data, f)
        return path


class Statistics(unittest.TestCase):
    def test_bh_matches_hand_computation(self):
        # p sorted: 0.01 0.02 0.03 0.5 -> p*m/rank: 0.04 0.04 0.04 0.5, monotone from the top.
        q = plot.bh_adjust([0.03, 0.5, 0.01, 0.02])
        self.assertEqual([round(v, 6) for v in q], [0.04, 0.5, 0.04, 0.04])

    def test_bh_keeps_nan_out_of_the_count(self):
        q = plot.bh_adjust([0.01, float("nan"), 0.04])
        self.assertAlmostEqual(q[0], 0.02)
        self.assertNotEqual(q[1], q[1])
        self.assertAlmostEqual(q[2], 0.04)

    def test_u_test(self):
        self.assertEqual(plot.u_test([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]), 1.0)
        self.assertAlmostEqual(plot.u_test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), 2 / 252)
        self.assertNotEqual(plot.u_test([1.0], [2.0, 3.0]), plot.u_test([1.0], [2.0, 3.0]))
        self.assertAlmostEqual(plot.min_u_pvalue(5, 5), 2 / 252)

    def test_median(self):
        self.assertEqual(plot.median([3, 1, 2]), 2)
        self.assertEqual(plot.median([4, 1, 2, 3]), 2.5)

    def test_names(self):
        self.assertEqual(plot.parse_name("convoy/gil/workers:2/interval:1ms"),
                         ("convoy", "gil", {"workers": "2", "interval": "1ms"}))
        self.assertIsNone(plot.parse_name("BM_Something/8"))
        self.assertIsNone(plot.parse_name("a/b"))
        self.assertEqual(plot.ere_escape("a/b:1.5(x)"), r"a/b:1\.5\(x\)")
        self.assertAlmostEqual(plot.duration_seconds("100us"), 1e-4)


class Compare(TempDir):
    def compare(self, base, new, *extra):
        md = os.path.join(self.tmp, "compare.md")
        code, out, err = run_plot("compare", base, new, "--markdown", md, *extra)
        self.assertNotIn("Traceback", err)
        with open(md) as f:
            self.assertEqual(f.read(), out, "--markdown writes what is printed")
        return code, out

    def test_a_a_flags_nothing(self):
        code, out = self.compare(A, A2)
        self.assertEqual(code, 0, out)
        self.assertIn("## gilbench compare: no regression", out)
        self.assertNotIn("REGRESSION", out.split("\n", 1)[1])
        for lane in ("Wall time", "In-run ratios", "Instruction counts"):
            self.assertNotIn("regression", rows_by_verdict(out, lane))

    def test_same_file_is_no_change(self):
        code, out = self.compare(A, A)
        self.assertEqual(code, 0)
        for lane in ("Wall time", "In-run ratios", "Instruction counts"):
            self.assertEqual(list(rows_by_verdict(out, lane)), [""], lane)

    def test_injected_slowdown_is_flagged_there_only(self):
        code, out = self.compare(A, SLOW)
        self.assertEqual(code, 1, out)
        self.assertIn("REGRESSION", out.splitlines()[0])
        injected = load(SLOW)["context"]["gilbench_injected_slowdown"].split(":")[0]
        # wall time: only the injected workload's rows
        flagged = rows_by_verdict(out, "Wall time").get("REGRESSION", [])
        self.assertTrue(flagged, out)
        self.assertTrue(all(n.startswith(injected + "/") for n in flagged), flagged)
        # instruction counts: exactly the injected workload's 1-worker rows
        flagged = rows_by_verdict(out, "Instruction counts").get("REGRESSION", [])
        expected = [n for n in plot.load_result(A).runs
                    if n.startswith(injected + "/") and n.endswith("/workers:1")]
        self.assertEqual(sorted(flagged), sorted(expected))
        # in-run ratios: the reference slowed as much as the rest, so no change
        self.assertNotIn("REGRESSION", rows_by_verdict(out, "In-run ratios"))

    def test_strategy_slowdown_is_caught_by_the_ratio_lane(self):
        # A known 50% slowdown of one strategy on one workload, applied to the
        # recorded repetitions of A2 (the injection option slows a whole
        # workload, reference included, which ratios cancel by design).
        data = load(A2)
        for row in data["benchmarks"]:
            if row["name"].startswith("countdown/gil/"):
                row["real_time"] *= 1.5
        new = self.write("strategy_slow.json", data)
        code, out = self.compare(A2, new, "--gate", "ratio")
        self.assertEqual(code, 1, out)
        flagged = rows_by_verdict(out, "In-run ratios").get("REGRESSION", [])
        self.assertTrue(flagged)
        self.assertTrue(all(n.startswith("countdown/gil/") for n in flagged), flagged)

    def test_gate_selects_the_lanes_that_fail(self):
        code, out = self.compare(A, SLOW, "--gate", "ratio")
        self.assertEqual(code, 0, out)
        self.assertIn("not gated", out)
        code, _ = self.compare(A, SLOW, "--gate", "instructions")
        self.assertEqual(code, 1)

    def test_failed_run_in_new_is_a_regression(self):
        data = load(A2)
        for row in data["benchmarks"]:
            if row["name"].startswith("list_sum/gil/workers:2") and row["run_type"] == "iteration":
                row["error_occurred"] = True
                row["error_message"] = "checksum mismatch: test"
        code, out = self.compare(A, self.write("failed.json", data))
        self.assertEqual(code, 1)
        self.assertIn("**FAILED** checksum mismatch: test", out)

    def test_markdown_table_shape(self):
        _, out = self.compare(A, A2)
        self.assertIn("| benchmark | base ms | new ms | change | q (BH) | verdict |", out)
        self.assertIn("|---|---:|---:|---:|---:|---|", out)
        self.assertIn("### Instruction counts", out)
        names = plot.load_result(A).runs
        for name in names:
            self.assertIn(f"| `{name}` |", out)

    def test_few_repetitions_warn(self):
        data = load(A)
        data["benchmarks"] = [r for r in data["benchmarks"]
                              if r.get("repetition_index", 0) < 3 and r["run_type"] == "iteration"]
        small = self.write("small.json", data)
        code, out = self.compare(small, small)
        self.assertEqual(code, 0)
        self.assertIn("cannot reach q < 0.05", out)

    def test_common_compares_the_shared_benchmarks(self):
        data = load(A2)
        data["benchmarks"] = [r for r in data["benchmarks"]
                              if not r["name"].startswith("list_sum/")]
        code, out = self.compare(A, self.write("part.json", data), "--common")
        self.assertEqual(code, 0, out)
        self.assertIn("left out: 5 only in base, 0 only in new", out)


class BadInput(TempDir):
    """Every bad input: one line naming the file and the problem, exit 2."""

    def assert_bad(self, args, *words):
        code, out, err = run_plot(*args)
        self.assertEqual(code, 2, err)
        self.assertNotIn("Traceback", err)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        for w in words:
            self.assertIn(w, lines[0])
        return lines[0]

    def both_commands(self, path, *words):
        self.assert_bad(["compare", path, A], path, *words)
        self.assert_bad(["compare", A, path], path, *words)
        self.assert_bad(["charts", path, "--out", os.path.join(self.tmp, "charts")], path, *words)

    def test_empty(self):
        self.both_commands(self.write("empty.json", ""), "empty")
        self.both_commands(self.write("blank.json", "  \n"), "empty")

    def test_truncated(self):
        with open(A) as f:
            text = f.read()
        self.both_commands(self.write("truncated.json", text[: len(text) // 2]), "truncated")

    def test_malformed(self):
        self.both_commands(self.write("garbage.json", '{"context": {], "benchmarks": []}'),
                           "malformed JSON", "line 1")

    def test_binary(self):
        path = os.path.join(self.tmp, "binary.json")
        with open(path, "wb") as f:
            f.write(b"\xff\xfe\x00garbage")
        self.both_commands(path, "not a text file")

    def test_not_google_benchmark(self):
        self.both_commands(self.write("list.json", [1, 2, 3]), "not Google Benchmark JSON")
        self.both_commands(self.write("other.json", {"results": []}), "not Google Benchmark JSON")

    def test_not_gilbench(self):
        data = load(A)
        del data["context"]["gilbench_schema_version"]
        self.both_commands(self.write("gb.json", data), "not gilbench output",
                           "gilbench_schema_version")

    def test_future_schema(self):
        data = load(A)
        data["context"]["gilbench_schema_version"] = "2"
        self.both_commands(self.write("v2.json", data), "gilbench_schema_version is 2")

    def test_no_runs(self):
        data = load(A)
        data["benchmarks"] = [r for r in data["benchmarks"] if r["run_type"] == "aggregate"]
        self.both_commands(self.write("aggregates.json", data), "no benchmark runs")

    def test_missing_file(self):
        path = os.path.join(self.tmp, "nope.json")
        self.both_commands(path, "cannot read", "No such file")

    def test_different_benchmark_sets(self):
        data = load(A2)
        data["benchmarks"] = [r for r in data["benchmarks"]
                              if not r["name"].startswith("countdown/gil/")]
        extra = copy.deepcopy([r for r in data["benchmarks"]
                               if r["name"].startswith("list_sum/serial/")])
        for r in extra:
            for k in ("name", "run_name"):
                r[k] = r[k].replace("list_sum/serial", "list_sum/newcomer")
        data["benchmarks"] += extra
        path = self.write("other_set.json", data)
        line = self.assert_bad(["compare", A, path], A, path, "different benchmark sets")
        self.assertIn(f"only in {A}: countdown/gil/workers:", line)
        self.assertIn(f"only in {path}: list_sum/newcomer/workers:1", line)

    def test_different_sizes(self):
        data = load(A2)
        data["context"]["gilbench_mode"] = "default"
        path = self.write("default.json", data)
        self.assert_bad(["compare", A, path], path, "gilbench_mode")

    def test_bad_options(self):
        self.assert_bad(["compare", A, A2, "--gate", "speed"], "--gate")
        self.assert_bad(["compare", A, A2, "--threshold", "5"], "--threshold")

    def test_fidelity_without_the_module(self):
        # plot.py looks for bench/python/fidelity.py beside itself
        lone = os.path.join(self.tmp, "plot.py")
        with open(PLOT) as src, open(lone, "w") as dst:
            dst.write(src.read())
        p = subprocess.run(["/usr/bin/python3", lone, "fidelity", "x.json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("fidelity.py: not found", p.stderr)
        self.assertNotIn("Traceback", p.stderr)


class Charts(TempDir):
    def check_images(self, out, stems):
        for stem in stems:
            with open(os.path.join(out, stem + ".png"), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", stem)
            with open(os.path.join(out, stem + ".svg")) as f:
                self.assertIn("<svg", f.read(4000), stem)

    def test_charts_from_fixtures(self):
        out = os.path.join(self.tmp, "charts")
        code, stdout, err = run_plot("charts", A, SWEEP, "--out", out)
        self.assertEqual(code, 0, err)
        self.check_images(out, ["speedup", "overhead", "io_convoy", "sweep_interval",
                                "gil_stats"])
        with open(os.path.join(out, "summary.md")) as f:
            summary = f.read()
        self.assertEqual(summary, stdout, "the summary is printed too")
        self.assertIn("## Speedup over the reference at 2 workers", summary)
        self.assertIn("## 1-worker overhead", summary)
        self.assertRegex(summary, r"\| gil \| [0-9.]+x \|")
        self.assertIn("countdown (cpu)", summary)

    def test_second_file_joins_the_charts(self):
        # A twin-like file: its own reference row, strategies of its own.
        data = load(A2)
        for row in data["benchmarks"]:
            for k in ("name", "run_name"):
                row[k] = row[k].replace("/gil/", "/twin_threads/").replace(
                    "/fine_lock/", "/twin_process/")
        twin = self.write("twin.json", data)
        out = os.path.join(self.tmp, "charts")
        code, stdout, err = run_plot("charts", A, twin, "--out", out)
        self.assertEqual(code, 0, err)
        self.assertIn("| twin_threads |", stdout)
        self.assertIn("| gil |", stdout)
        self.assertEqual(stdout.count("| serial |"), 0, "the reference is no row of its own")
        self.check_images(out, ["speedup", "overhead"])

    def test_same_strategy_in_two_files_is_labelled_by_file(self):
        out = os.path.join(self.tmp, "charts")
        code, stdout, err = run_plot("charts", A, A2, "--out", out)
        self.assertEqual(code, 0, err)
        self.assertIn("| gil (quick_a2) |", stdout)


class CompareDotPy(unittest.TestCase):
    """Google Benchmark's own compare.py reads gilbench files as they are."""

    def test_compare_py_benchmarks_mode(self):
        self.assertTrue(os.path.exists(COMPARE_PY), f"{COMPARE_PY} missing: apt-get install "
                        "libbenchmark-tools")
        p = subprocess.run(["/usr/bin/python3", COMPARE_PY, "--no-color", "benchmarks", A, A2],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        for name in plot.load_result(A).runs:
            self.assertIn(name, p.stdout)
        self.assertIn("U Test", p.stdout)


class InstructionLane(TempDir):
    """The callgrind lane on the real binary: counts, repeatable, stored in the file."""

    def setUp(self):
        if not os.environ.get("GILBENCH_BIN"):
            self.skipTest("needs --gilbench=BIN")
        super().setUp()

    def test_counts_are_repeatable_and_stored(self):
        data = load(A)
        keep = ("countdown/serial/workers:1", "list_sum/gil/workers:1", "countdown/gil/workers:2")
        data["benchmarks"] = [r for r in data["benchmarks"] if r["run_name"] in keep]
        data["context"].pop(plot.INSTRUCTIONS_KEY, None)
        path = self.write("lane.json", data)
        code, _, err = run_plot("instructions", path, "--gilbench", os.environ["GILBENCH_BIN"],
                                "--repeat", "2")
        self.assertEqual(code, 0, err)
        lane = json.loads(load(path)["context"][plot.INSTRUCTIONS_KEY])
        self.assertEqual(sorted(lane["counts"]), sorted(keep[:2]), "1-worker rows only")
        self.assertTrue(all(c > 1_000_000 for c in lane["counts"].values()), lane)
        self.assertEqual(lane["repeat_spread"], {}, "the same count twice")
        # the gate reads them back: the file against itself changes nothing
        code, out, _ = run_plot("compare", path, path)
        self.assertEqual(code, 0)
        self.assertIn("| `countdown/serial/workers:1` |", out.split("### Instruction counts")[1])


if __name__ == "__main__":
    for arg in list(sys.argv[1:]):
        if arg.startswith("--gilbench="):
            os.environ["GILBENCH_BIN"] = os.path.abspath(arg.split("=", 1)[1])
            sys.argv.remove(arg)
    unittest.main()
