#!/usr/bin/python3
"""Self-tests of plot.py: the regression gate, bad input, charts, compare.py.

Runs on recorded gilbench results (tests/fixtures/, see its README.md), so
every verdict is deterministic. Verdicts are read from the gate's data (the
JSON report of `compare --json`, or the library in this process), never from
its markdown; the markdown is checked as what is printed. ctest runs it with
--gilbench=BIN; the tests that run the binary (the callgrind lane) are
skipped without it.

    /usr/bin/python3 tests/plot_test.py [--gilbench=build/gilbench] [-v]
"""

import contextlib
import copy
import errno
import io
import json
import math
import os
import shutil
import stat
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
BYTECODE = os.path.join(FIXTURES, "bytecode_sweep.json")  # countdown at two --bytecode-cost
COMPARE_PY = "/usr/share/benchmark/compare.py"

sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "bench", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot_support  # noqa: E402
from plot_support import run_plot  # noqa: E402
import plot  # noqa: E402
from gilbench_results import charts, durations, gate, instructions, render, schema, stats  # noqa: E402
from gilbench_results.load import load_result  # noqa: E402
from gilbench_results.stats import median  # noqa: E402




def load(path):
    with open(path) as f:
        return json.load(f)


def rows_by_verdict(report, lane):
    """{verdict: [benchmark names]} of one lane of compare's JSON report."""
    out = {}
    for row in next(x for x in report["lanes"] if x["key"] == lane)["rows"]:
        out.setdefault(row["verdict"], []).append(row["name"])
    return out


def gate_report(base, new, **options):
    """The gate's data on two files, in this process (gate.compare)."""
    return gate.compare(load_result(base), load_result(new), gate.Options(**options).check())


def fields(data):
    """The gilbench_runs of a parsed result file: {name: fields}."""
    return json.loads(data["context"][schema.RUNS_KEY])


def rows_of(data, **want):
    """The benchmark rows (iteration and aggregate) of the runs whose fields match want."""
    runs = fields(data)
    return [r for r in data["benchmarks"]
            if all(runs[r["run_name"]].get(k) == v for k, v in want.items())]


def rename(data, old, new, rows=None, **changes):
    """Renames run old to new in rows (default: all of its rows), and in gilbench_runs,
    its fields updated by changes (old stays there while a row keeps its name)."""
    runs = fields(data)
    runs[new] = dict(runs[old], **changes)
    for row in data["benchmarks"] if rows is None else rows:
        if row["run_name"] == old:
            row["name"] = new + row["name"][len(old):]
            row["run_name"] = new
    if not any(row["run_name"] == old for row in data["benchmarks"]):
        del runs[old]
    data["context"][schema.RUNS_KEY] = json.dumps(runs)


class TempDir(plot_support.TempDir):
    prefix = "plot-test-"

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
        q = stats.bh_adjust([0.03, 0.5, 0.01, 0.02])
        self.assertEqual([round(v, 6) for v in q], [0.04, 0.5, 0.04, 0.04])

    def test_bh_keeps_nan_out_of_the_count(self):
        q = stats.bh_adjust([0.01, float("nan"), 0.04])
        self.assertAlmostEqual(q[0], 0.02)
        self.assertNotEqual(q[1], q[1])
        self.assertAlmostEqual(q[2], 0.04)

    def test_u_test(self):
        self.assertEqual(stats.u_test([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]), 1.0)
        self.assertAlmostEqual(stats.u_test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), 2 / 252)
        self.assertNotEqual(stats.u_test([1.0], [2.0, 3.0]), stats.u_test([1.0], [2.0, 3.0]))
        self.assertAlmostEqual(stats.min_u_pvalue(5, 5), 2 / 252)

    def test_median(self):
        self.assertEqual(stats.median([3, 1, 2]), 2)
        self.assertEqual(stats.median([4, 1, 2, 3]), 2.5)

    def test_filter_escape(self):
        self.assertEqual(instructions.ere_escape("a/b:1.5(x)"), r"a/b:1\.5\(x\)")

    def test_durations_follow_gilbench(self):
        self.assertAlmostEqual(durations.seconds("100us"), 1e-4)
        self.assertEqual(durations.parse_ns("5ms", "--switch-interval"), 5_000_000)
        self.assertEqual(durations.parse_ns("1.5us"), 1500)
        self.assertEqual(durations.parse_ns("0x10ms"), 16_000_000)  # strtod reads hex
        self.assertEqual(durations.format_ns(5_000_000), "5ms")
        self.assertEqual(durations.format_ns(1_500_000), "1500us")
        self.assertEqual(durations.format_seconds(10.0), "10s")
        for text in ("5", "5xs", "ms", "5 ms", "1_0ms", "nanms", "infs", ""):
            self.assertIsNone(durations.seconds(text), text)
        for text, message in (("5", "needs a unit"), ("5m", "needs a unit"),
                              ("x5ms", "is not a duration"), ("11s", "out of range [1us, 10s]"),
                              ("100ns", "out of range")):
            with self.assertRaises(durations.DurationError) as e:
                durations.parse_ns(text, "--switch-interval")
            self.assertIn(message, str(e.exception))
            self.assertTrue(str(e.exception).startswith("--switch-interval: "))

    def test_gilbench_formats_its_intervals_so(self):
        gilbench = os.environ.get("GILBENCH_BIN")
        if not gilbench:
            self.skipTest("needs --gilbench=BIN")
        p = subprocess.run([gilbench, "--switch-interval=0.5ms,2000us,0.000001s", "--list"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        for text in ("0.5ms", "2000us", "0.000001s"):
            self.assertIn("interval:" + durations.format_ns(durations.parse_ns(text)), p.stdout)


class Compare(TempDir):
    def compare(self, base, new, *extra):
        """plot.py compare with --markdown and --json: (exit status, markdown, report data)."""
        md, js = os.path.join(self.tmp, "compare.md"), os.path.join(self.tmp, "compare.json")
        code, out, err = run_plot("compare", base, new, "--markdown", md, "--json", js, *extra)
        self.assertNotIn("Traceback", err)
        with open(md) as f:
            self.assertEqual(f.read(), out, "--markdown writes what is printed")
        report = load(js)
        self.assertEqual(report["exit_status"], code, "the JSON report holds the decision")
        return code, out, report

    def test_a_a_flags_nothing(self):
        code, out, report = self.compare(A, A2)
        self.assertEqual(code, 0, out)
        self.assertEqual(report["verdict"], "no regression")
        self.assertEqual(report["regressions"], [])
        self.assertEqual(report["gated"], ["time", "ratio", "instructions"])
        for lane in ("time", "ratio", "instructions"):
            self.assertNotIn("regression", rows_by_verdict(report, lane))
        self.assertIn("## gilbench compare: no regression", out)

    def test_same_file_is_no_change(self):
        code, _, report = self.compare(A, A)
        self.assertEqual(code, 0)
        for lane in ("time", "ratio", "instructions"):
            self.assertEqual(list(rows_by_verdict(report, lane)), [""], lane)
        for row in next(x for x in report["lanes"] if x["key"] == "instructions")["rows"]:
            self.assertEqual(row["change"], 0.0)

    def test_injected_slowdown_is_flagged_there_only(self):
        code, out, report = self.compare(A, SLOW)
        self.assertEqual(code, 1, out)
        self.assertTrue(report["verdict"].startswith("REGRESSION"))
        self.assertIn("REGRESSION", out.splitlines()[0])
        injected = load(SLOW)["context"]["gilbench_injected_slowdown"].split(":")[0]
        runs = load_result(A).runs
        # wall time: only the injected workload's rows
        flagged = rows_by_verdict(report, "time").get("regression", [])
        self.assertTrue(flagged, out)
        self.assertTrue(all(runs[n].workload == injected for n in flagged), flagged)
        # instruction counts: exactly the injected workload's 1-worker rows, +50.0%
        flagged = rows_by_verdict(report, "instructions").get("regression", [])
        expected = [n for n, r in runs.items() if r.workload == injected and r.workers == 1]
        self.assertEqual(sorted(flagged), sorted(expected))
        for row in next(x for x in report["lanes"] if x["key"] == "instructions")["rows"]:
            if row["name"] in flagged:
                self.assertAlmostEqual(row["change"], 0.5, places=3)
        # in-run ratios: the reference slowed as much as the rest, so no change
        self.assertNotIn("regression", rows_by_verdict(report, "ratio"))
        self.assertEqual({r["lane"] for r in report["regressions"]}, {"time", "instructions"})

    def test_strategy_slowdown_is_caught_by_the_ratio_lane(self):
        # A known 50% slowdown of one strategy on one workload, applied to the
        # recorded repetitions of A2 (the injection option slows a whole
        # workload, reference included, which ratios cancel by design).
        data = load(A2)
        for row in rows_of(data, workload="countdown", strategy="gil"):
            row["real_time"] *= 1.5
        new = self.write("strategy_slow.json", data)
        code, out, report = self.compare(A2, new, "--gate", "ratio")
        self.assertEqual(code, 1, out)
        flagged = rows_by_verdict(report, "ratio").get("regression", [])
        self.assertTrue(flagged)
        runs = load_result(new).runs
        self.assertTrue(all((runs[n].workload, runs[n].strategy) == ("countdown", "gil")
                            for n in flagged), flagged)

    def test_gate_selects_the_lanes_that_fail(self):
        code, out, report = self.compare(A, SLOW, "--gate", "ratio")
        self.assertEqual(code, 0, out)
        self.assertEqual(report["gated"], ["ratio"])
        self.assertIn("not gated", out)
        code, _, report = self.compare(A, SLOW, "--gate", "instructions")
        self.assertEqual(code, 1)
        self.assertEqual({r["lane"] for r in report["regressions"]}, {"instructions"})

    def test_failed_run_in_new_is_a_regression(self):
        data = load(A2)
        for row in rows_of(data, workload="list_sum", strategy="gil", workers=2):
            if row["run_type"] == "iteration":
                row["error_occurred"] = True
                row["error_message"] = "checksum mismatch: test"
        code, out, report = self.compare(A, self.write("failed.json", data))
        self.assertEqual(code, 1)
        failed = [r for lane in report["lanes"] for r in lane["rows"] if r["verdict"] == "failed"]
        self.assertTrue(failed)
        self.assertEqual({r["note"] for r in failed}, {"checksum mismatch: test"})
        self.assertIn("**FAILED** checksum mismatch: test", out)

    def test_markdown_table_shape(self):
        _, out, _ = self.compare(A, A2)
        self.assertIn("| benchmark | base ms | new ms | change | q (BH) | verdict |", out)
        self.assertIn("|---|---:|---:|---:|---:|---|", out)
        self.assertIn("### Instruction counts", out)
        names = load_result(A).runs
        for name in names:
            self.assertIn(f"| `{name}` |", out)

    def test_the_library_gives_what_the_command_line_prints(self):
        base, new = load_result(A), load_result(SLOW)
        report = gate.compare(base, new, gate.Options())
        code, out, data = self.compare(A, SLOW)
        self.assertEqual(render.markdown(report), out)
        self.assertEqual(render.as_data(report), data)
        self.assertEqual(report.exit_status, code)

    def test_few_repetitions_warn(self):
        # 3 vs 3 repetitions: the time lane cannot flag anything (its smallest U-test
        # p is 0.1); not gated, it only warns.
        data = load(A)
        data["benchmarks"] = [r for r in data["benchmarks"]
                              if r.get("repetition_index", 0) < 3 and r["run_type"] == "iteration"]
        small = self.write("small.json", data)
        code, out, report = self.compare(small, small, "--gate", "ratio,instructions")
        self.assertEqual(code, 0)
        self.assertEqual((report["power_warning"]["n1"], report["power_warning"]["n2"]), (3, 3))
        self.assertIn("cannot reach q < 0.05", out)

    def test_common_compares_the_shared_benchmarks(self):
        data = load(A2)
        gone = rows_of(data, workload="list_sum")
        data["benchmarks"] = [r for r in data["benchmarks"] if r not in gone]
        code, out, report = self.compare(A, self.write("part.json", data), "--common")
        self.assertEqual(code, 0, out)
        self.assertEqual((len(report["only_base"]), len(report["only_new"])), (5, 0))
        self.assertEqual(len(report["compared"]), 5)
        self.assertIn("left out: 5 only in base, 0 only in new", out)


def with_fingerprint(data, costs, spread=None, cpu=None):
    """data with a gilbench_fingerprint in its context (unit costs in ns)."""
    fp = {"cpu": cpu or {"model_name": "Test CPU", "allowed_cpus": [0, 1],
                         "caches": [{"level": "1", "size": "32K"}] * 4},
          "unit_costs_ns": costs, "cache_line_pairs": [{"cpu_a": 0, "cpu_b": 1}],
          "speed_spread": dict({"runs": 7, "loop_ms_median": 10.0, "max_over_min": 1.02,
                                "bimodal": False}, **(spread or {}))}
    data["context"]["gilbench_fingerprint"] = json.dumps(fp)
    return data


COSTS = {"plain_increment": 0.3, "atomic_rmw": 5.0, "cache_line_round_trip_min": 40.0,
         "cache_line_round_trip_median": 60.0, "mutex_uncontended": 15.0,
         "mutex_contended": 900.0, "futex_wake": 3000.0, "futex_wake_max": 9000.0,
         "pipe_round_trip": 8000.0, "thread_start": 20000.0, "process_start": 600000.0}


class CompareForCI(TempDir):
    """compare's CI output: the one-line verdict first, flagged rows, details folded,
    GitHub annotations, the JSON's thresholds and fingerprints."""

    def compare(self, base, new, *extra, env=None):
        js = os.path.join(self.tmp, "compare.json")
        p = subprocess.run([sys.executable, PLOT, "compare", base, new, "--json", js,
                            *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=600, env=dict(os.environ, **(env or {})))
        self.assertNotIn("Traceback", p.stderr)
        return p.returncode, p.stdout, p.stderr, load(js)

    def test_markdown_verdict_first_flagged_rows_then_details(self):
        code, out, _, report = self.compare(A, SLOW)
        self.assertEqual(code, 1)
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("## gilbench compare: REGRESSION"), lines[0])
        self.assertIn("(exit status 1)", lines[0])
        self.assertEqual(lines[0], "## gilbench compare: " + report["summary"])
        flagged, details = out.index("### Flagged rows"), out.index("<details>")
        self.assertLess(flagged, details)
        self.assertTrue(out.rstrip().endswith("</details>"))
        table = out[flagged:details]
        for row in report["flagged"]:
            self.assertIn(f"| {row['lane']} | `{row['name']}` |", table)
        self.assertEqual({(r["lane"], r["name"]) for r in report["flagged"]},
                         {(r["lane"], r["name"]) for r in report["regressions"]})
        # every lane's full table is inside <details>
        for title in ("### Wall time", "### In-run ratios", "### Instruction counts"):
            self.assertGreater(out.index(title), details)
        code, out, _, report = self.compare(A, A2)
        self.assertEqual(code, 0)
        self.assertNotIn("### Flagged rows", out)
        self.assertTrue(out.startswith("## gilbench compare: no regression (exit status 0)"))

    def test_json_has_thresholds_and_null_fingerprints(self):
        _, _, _, report = self.compare(A, A2, "--threshold", "0.07", "--ratio-threshold", "0.2")
        self.assertEqual(report["thresholds"], {"time": 0.07, "time_alpha": 0.05, "ratio": 0.2,
                                                "ratio_alpha": 0.01, "instructions": 0.01})
        self.assertEqual(report["fingerprints"], {"base": None, "new": None})
        self.assertEqual(report["unit_costs"], [])
        for lane in report["lanes"]:
            for row in lane["rows"]:
                self.assertIn(row["verdict"], gate.VERDICTS)

    def test_github_annotations_for_flagged_rows(self):
        code, out, err, report = self.compare(A, SLOW, env={"GITHUB_ACTIONS": "true"})
        self.assertEqual(code, 1)
        errors = [ln for ln in err.splitlines() if ln.startswith("::error ")]
        self.assertEqual(len(errors), len(report["regressions"]))
        for ln, row in zip(errors, report["regressions"]):
            self.assertRegex(ln, r"^::error title=gilbench regression%3A [^:,]+::")
            self.assertIn(row["name"].replace(":", "%3A"), ln.split("::")[1])
            self.assertNotIn("\n", ln)
        self.assertNotIn("::error", out, "annotations go to stderr, not into the markdown")
        _, _, err, _ = self.compare(A, SLOW)  # not under GitHub Actions
        self.assertNotIn("::error", err)
        code, _, err, _ = self.compare(A, A2, env={"GITHUB_ACTIONS": "true"})
        self.assertEqual((code, err), (0, ""))

    def test_annotation_escaping(self):
        self.assertEqual(render.annotation_text("50%\r\nx"), "50%25%0D%0Ax")
        self.assertEqual(render.annotation_text("a:b,c", True), "a%3Ab%2Cc")

    def test_fingerprints_side_by_side_and_the_rows_a_cost_moves(self):
        base = self.write("base.json", with_fingerprint(load(A), COSTS))
        slower = dict(COSTS, atomic_rmw=12.0, plain_increment=0.36, brand_new_cost=1.0)
        slower["cache_line_round_trip_min"] = -1  # not measured: not compared
        new = self.write("new.json", with_fingerprint(load(A2), slower, spread={
            "max_over_min": 1.9, "runs": 21, "bimodal": True}))
        code, out, _, report = self.compare(base, new)
        self.assertEqual(code, 0)
        self.assertEqual(report["fingerprints"]["base"]["unit_costs_ns"], COSTS)
        self.assertEqual(report["fingerprints"]["new"]["unit_costs_ns"]["atomic_rmw"], 12.0)
        costs = {c["name"]: c for c in report["unit_costs"]}
        self.assertTrue(costs["atomic_rmw"]["differs"])
        self.assertAlmostEqual(costs["atomic_rmw"]["ratio"], 2.4)
        runs = load_result(A).runs
        self.assertEqual(sorted(costs["atomic_rmw"]["rows"]),
                         sorted(n for n, r in runs.items() if r.strategy == "fine_lock"))
        self.assertFalse(costs["plain_increment"]["differs"], "1.2x is within 1.5x")
        self.assertTrue(costs["max_over_min"]["differs"])
        self.assertEqual(sorted(costs["max_over_min"]["rows"]), sorted(runs), "every row")
        self.assertNotIn("brand_new_cost", costs, "only in one file: not compared")
        self.assertNotIn("cache_line_round_trip_min", costs, "-1: not measured")
        self.assertNotIn("runs", costs, "a count of runs is no cost")
        self.assertFalse(costs["loop_ms_median"]["differs"])
        section = out[out.index("### Machine fingerprints"):out.index("<details>")]
        self.assertIn("| unit_costs_ns atomic_rmw | 5 | 12 | 2.40x **(differs)** |", section)
        self.assertIn("| cpu model_name | Test CPU | Test CPU | | |", section)
        self.assertIn("| cpu allowed_cpus | [0,1] | [0,1] | | |", section)
        self.assertIn("| speed_spread bimodal | false | true | | |", section)
        self.assertIn("- **atomic_rmw** differs 2.40x", section)
        self.assertIn("fine_lock", section)
        # an unknown cost is shown, its rows unknown
        new = self.write("new2.json", with_fingerprint(load(A2), dict(COSTS, brand_new=9.0)))
        base = self.write("base2.json", with_fingerprint(load(A), dict(COSTS, brand_new=1.0)))
        _, out, _, report = self.compare(base, new)
        costs = {c["name"]: c for c in report["unit_costs"]}
        self.assertEqual(costs["brand_new"]["rows"], [])
        self.assertIn("rows unknown", costs["brand_new"]["moves"])

    def test_fingerprint_table_maps_costs_to_rows(self):
        from gilbench_results import fingerprint
        from gilbench_results.load import Run

        def run(workload, strategy, workers, runner="threads"):
            return Run(f"{workload}/{strategy}/workers:{workers}", None, workload, strategy,
                       runner, workers, {})

        def moves(name, r):
            return fingerprint.cost_of("unit_costs_ns", name).moves(r)

        self.assertTrue(moves("cache_line_round_trip_median", run("shared_read", "atomic_rc", 2)))
        self.assertTrue(moves("cache_line_round_trip_min", run("shared_dict", "biased_rc", 4)))
        self.assertFalse(moves("cache_line_round_trip_min", run("shared_read", "atomic_rc", 1)))
        self.assertFalse(moves("cache_line_round_trip_min", run("shared_read", "gil", 2)))
        self.assertFalse(moves("cache_line_round_trip_min", run("countdown", "atomic_rc", 2)))
        self.assertTrue(moves("atomic_rmw", run("countdown", "biased_rc", 1)))
        self.assertFalse(moves("atomic_rmw", run("countdown", "gil", 1)))
        self.assertTrue(moves("futex_wake", run("countdown", "gil", 2)))
        self.assertFalse(moves("thread_start", run("countdown", "gil", 1)))
        self.assertTrue(moves("process_start", run("countdown", "process", 1, "process")))
        self.assertTrue(moves("pipe_round_trip", run("process_startup", "threads", 1)))
        self.assertFalse(moves("pipe_round_trip", run("countdown", "gil", 2)))
        self.assertTrue(fingerprint.cost_of("speed_spread", "anything").moves(
            run("countdown", "serial", 1)))

    def test_a_cost_below_its_floor_never_differs(self):
        from gilbench_results import fingerprint
        cost = fingerprint.cost_of("unit_costs_ns", "shared_ref_marginal")

        def differs(base, new):
            return fingerprint.Difference("unit_costs_ns", "shared_ref_marginal", base, new,
                                          cost).differs
        self.assertFalse(differs(0.1, 1.8), "one machine, two runs: both too small to matter")
        self.assertTrue(differs(1.0, 40.0), "a machine whose shared lines cost 40 ns")
        self.assertTrue(differs(30.0, 3.0))

    def test_one_fingerprint_only_is_said(self):
        base = self.write("base.json", with_fingerprint(load(A), COSTS))
        code, out, _, report = self.compare(base, A2)
        self.assertEqual(code, 0)
        self.assertIsNone(report["fingerprints"]["new"])
        self.assertIn("Only one file has a machine fingerprint (none in new)", out)

    def test_bad_fingerprint_is_bad_input(self):
        data = load(A2)
        data["context"]["gilbench_fingerprint"] = "[1, 2]"
        code, _, err = run_plot("compare", A, self.write("bad.json", data))
        self.assertEqual(code, 2, err)
        self.assertIn("gilbench_fingerprint", err.strip().splitlines()[-1])


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
        data["context"]["gilbench_schema_version"] = "3"
        self.both_commands(self.write("v3.json", data), "gilbench_schema_version is 3",
                           "reads version 2")

    def test_schema_1_must_be_re_recorded(self):
        data = load(A)
        data["context"]["gilbench_schema_version"] = "1"
        del data["context"][schema.RUNS_KEY]
        self.both_commands(self.write("v1.json", data), "gilbench_schema_version is 1",
                           "re-record")

    def test_runs_without_their_fields(self):
        data = load(A)
        del data["context"][schema.RUNS_KEY]
        self.both_commands(self.write("no_runs.json", data), "no gilbench_runs")
        data = load(A)
        runs = fields(data)
        del runs["list_sum/gil/workers:2"]
        data["context"][schema.RUNS_KEY] = json.dumps(runs)
        self.both_commands(self.write("one_missing.json", data), "list_sum/gil/workers:2",
                           "not in the context's gilbench_runs")

    def test_bad_run_fields(self):
        for label, change in (("workers", {"workers": "2"}), ("negative", {"workers": -1}),
                              ("bool", {"workers": True}), ("runner", {"runner": "fibers"}),
                              ("axes", {"axes": ["interval", "1ms"]}),
                              ("axis_value", {"axes": {"interval": 1}}),
                              ("workload", {"workload": ""}), ("strategy", {"strategy": None})):
            data = load(A)
            runs = fields(data)
            runs["countdown/gil/workers:2"].update(change)
            data["context"][schema.RUNS_KEY] = json.dumps(runs)
            path = self.write(f"fields_{label}.json", data)
            self.both_commands(path, "context key gilbench_runs", "countdown/gil/workers:2")

    def test_no_runs(self):
        data = load(A)
        data["benchmarks"] = [r for r in data["benchmarks"] if r["run_type"] == "aggregate"]
        self.both_commands(self.write("aggregates.json", data), "no benchmark runs")

    def test_missing_file(self):
        path = os.path.join(self.tmp, "nope.json")
        self.both_commands(path, "cannot read", "No such file")

    def test_different_benchmark_sets(self):
        data = load(A2)
        gone = rows_of(data, workload="countdown", strategy="gil")
        data["benchmarks"] = [r for r in data["benchmarks"] if r not in gone]
        extra = copy.deepcopy(rows_of(data, workload="list_sum", strategy="serial"))
        data["benchmarks"] += extra
        rename(data, "list_sum/serial/workers:1", "list_sum/newcomer/workers:1", extra,
               strategy="newcomer")
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

    def test_without_the_library_or_the_fidelity_module(self):
        # plot.py looks for bench/python/gilbench_results and fidelity.py beside itself
        lone = os.path.join(self.tmp, "plot.py")
        shutil.copy(PLOT, lone)
        for argv, missing in ((["compare", A, A2], "gilbench_results: not found"),
                              (["fidelity", "x.json"], "gilbench_results: not found")):
            p = subprocess.run([sys.executable, lone, *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
            self.assertEqual((p.returncode, p.stdout), (2, ""), p.stderr)
            self.assertIn(missing, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        shutil.copytree(os.path.join(REPO, "bench", "python", "gilbench_results"),
                        os.path.join(self.tmp, "bench", "python", "gilbench_results"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        p = subprocess.run([sys.executable, lone, "fidelity", "x.json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("fidelity.py: not found", p.stderr)
        self.assertNotIn("Traceback", p.stderr)


def iteration_rows(data):
    return [r for r in data["benchmarks"] if r["run_type"] == "iteration"]


def main_in_process(*argv):
    """plot.main(argv) in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = plot.main(list(argv))
        except SystemExit as e:  # argparse
            code = e.code
    return code, out.getvalue(), err.getvalue()


class OneLine(TempDir):
    """Helpers: exit 2 with exactly one line on stderr, and no traceback."""

    def assert_bad(self, args, *words):
        code, out, err = run_plot(*args)
        self.assertEqual(code, 2, err)
        self.assertNotIn("Traceback", err)
        lines = [ln for ln in err.strip().splitlines() if ln.startswith("plot.py:")]
        self.assertEqual(len(lines), 1, err)
        self.assertTrue(err.strip().endswith(lines[0]), err)
        self.assertTrue(lines[0].startswith("plot.py: error: "), err)
        for w in words:
            self.assertIn(w, lines[0])
        return lines[0]

    def mutated(self, name, change):
        """A copy of A2 changed by change(data), written as name (json writes bare NaN)."""
        data = load(A2)
        change(data)
        return self.write(name, data)


class GateRefusesBadData(OneLine):
    """Issue 11 item 6: what the gate cannot judge is not a pass."""

    def test_non_finite_or_non_positive_time_is_bad_input(self):
        for label, value in (("nan", float("nan")), ("inf", float("inf")),
                             ("-inf", float("-inf")), ("zero", 0), ("negative", -12.5)):
            def change(data, value=value):
                iteration_rows(data)[3]["real_time"] = value
            path = self.mutated(f"time_{label}.json", change)
            for args in (["compare", A, path], ["compare", path, A]):
                line = self.assert_bad(args, path, "benchmark row 3", "real_time",
                                       repr(value) if label != "zero" else "0")
                self.assertIn("not a finite number > 0", line)

    def test_time_out_of_range_is_bad_input(self):
        def change(data):
            iteration_rows(data)[0]["real_time"] = 1e308
        self.assert_bad(["compare", A, self.mutated("huge.json", change)], "out of range")

    def test_nan_in_aggregate_rows_is_no_error(self):
        with open(A) as f:
            self.assertIn("NaN", f.read(), "the fixture holds 1.7.1's NaN _cv rows")
        code, _, err = run_plot("compare", A, A2)
        self.assertEqual(code, 0, err)

    def test_new_without_the_counts_of_a_gated_lane(self):
        def no_counts(data):
            lane = json.loads(data["context"][schema.INSTRUCTIONS_KEY])
            lane["counts"] = {}
            data["context"][schema.INSTRUCTIONS_KEY] = json.dumps(lane)
        path = self.mutated("no_counts.json", no_counts)
        self.assert_bad(["compare", A, path, "--gate", "instructions"], "instructions lane",
                        path, "lacks the instruction counts of 6 benchmarks")
        # the default gate includes the lane, since BASE has counts
        self.assert_bad(["compare", A, path], "instructions lane")

    def test_new_without_any_instruction_lane(self):
        def no_lane(data):
            del data["context"][schema.INSTRUCTIONS_KEY]
        path = self.mutated("no_lane.json", no_lane)
        self.assert_bad(["compare", A, path], "instructions lane", "no instruction counts in",
                        path)
        # not gated: printed only
        code, out, err = run_plot("compare", A, path, "--gate", "time,ratio")
        self.assertEqual(code, 0, err)
        lane = gate_report(A, path, gate="time,ratio").lane("instructions")
        self.assertEqual((lane.compared, lane.gated, lane.rows), (False, False, []))
        self.assertIn("Not compared: no instruction counts", lane.notes[0])
        self.assertIn(lane.notes[0], out)

    def test_one_row_missing_in_new(self):
        def drop_one(data):
            lane = json.loads(data["context"][schema.INSTRUCTIONS_KEY])
            del lane["counts"]["list_sum/gil/workers:1"]
            data["context"][schema.INSTRUCTIONS_KEY] = json.dumps(lane)
        path = self.mutated("drop_one.json", drop_one)
        self.assert_bad(["compare", A, path, "--gate", "instructions"],
                        "lacks the instruction counts of 1 benchmarks", "list_sum/gil/workers:1")

    def test_row_failed_under_valgrind_in_new_is_a_failure(self):
        def failed(data):
            lane = json.loads(data["context"][schema.INSTRUCTIONS_KEY])
            del lane["counts"]["list_sum/gil/workers:1"]
            lane["failed"] = {"list_sum/gil/workers:1": "gilbench under callgrind exited 1"}
            data["context"][schema.INSTRUCTIONS_KEY] = json.dumps(lane)
        path = self.mutated("vg_failed.json", failed)
        code, out, err = run_plot("compare", A, path, "--gate", "instructions")
        self.assertEqual(code, 1, err)
        report = gate_report(A, path, gate="instructions")
        self.assertEqual(report.exit_status, 1)
        (lane, row), = report.regressions
        self.assertEqual((lane, row.name, row.verdict, row.note),
                         ("instructions", "list_sum/gil/workers:1", "failed",
                          "under valgrind in new: gilbench under callgrind exited 1"))

    def test_files_without_counts_compare_without_the_lane(self):
        def no_lane(data):
            del data["context"][schema.INSTRUCTIONS_KEY]
        base = self.write("base.json", (lambda d: (no_lane(d), d)[1])(load(A)))
        new = self.mutated("new.json", no_lane)
        code, out, err = run_plot("compare", base, new)
        self.assertEqual(code, 0, err)
        self.assertEqual(gate_report(base, new).gated, ["time", "ratio"])
        self.assert_bad(["compare", base, base, "--gate", "instructions"], "instructions lane")

    def test_zero_comparable_rows_in_a_gated_lane(self):
        # every BASE run failed: the time lane has nothing to judge
        def all_failed(data):
            for row in iteration_rows(data):
                row["error_occurred"], row["error_message"] = True, "test"
        base = self.mutated("all_failed.json", all_failed)
        self.assert_bad(["compare", base, A2, "--gate", "time"], "time lane",
                        "every run failed in BASE")
        # no reference strategy in the files: the ratio lane has nothing to judge
        def serial_only(data):
            data["benchmarks"] = rows_of(data, strategy="serial")
        path = self.mutated("serial.json", serial_only)
        self.assert_bad(["compare", path, path, "--gate", "ratio"], "ratio lane",
                        "nothing to compare")

    def test_instructions_that_count_nothing_fail_and_write_nothing(self):
        if shutil.which("valgrind") is None:
            self.skipTest("valgrind is not installed")
        data = load(A)
        data["benchmarks"] = [r for r in data["benchmarks"]
                              if r["run_name"] == "countdown/serial/workers:1"]
        path = self.write("lane.json", data)
        with open(path, "rb") as f:
            before = f.read()
        out = os.path.join(self.tmp, "out.json")
        self.assert_bad(["instructions", path, "--gilbench", "/bin/true", "--out", out],
                        "counted no row of 1", "1 failed under callgrind", "nothing written")
        self.assertFalse(os.path.exists(out))
        self.assert_bad(["instructions", path, "--gilbench", "/bin/true"], "counted no row")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), before)


class NoTraceback(OneLine):
    """Issue 11 item 7: every bad input is one line and exit 2, never a traceback."""

    def test_wrong_types_in_rows(self):
        cases = {
            "time_unit_list": lambda r: r.update(time_unit=["ms"]),
            "time_unit_other": lambda r: r.update(time_unit="fortnights"),
            "run_name_number": lambda r: r.update(run_name=12),
            "run_type_list": lambda r: r.update(run_type=["iteration"]),
            "repetition_float": lambda r: r.update(repetition_index=1.5),
            "real_time_string": lambda r: r.update(real_time="12"),
            "real_time_missing": lambda r: r.pop("real_time"),
            "error_flag_string": lambda r: r.update(error_occurred="yes"),
        }
        for label, change in cases.items():
            def mutate(data, change=change):
                change(iteration_rows(data)[2])
            path = self.mutated(f"{label}.json", mutate)
            self.assert_bad(["compare", A, path], path, "benchmark row 2")
            self.assert_bad(["charts", path, "--out", os.path.join(self.tmp, "c")], path)

    def test_duplicate_repetition(self):
        def dup(data):
            rows = iteration_rows(data)
            rows[1]["repetition_index"] = rows[0]["repetition_index"]
        self.assert_bad(["compare", A, self.mutated("dup.json", dup)], "appears twice")

    def test_wrong_types_in_context(self):
        cases = {
            "gilbench_instructions": "[]",
            "load_avg": ["x"],
            "num_cpus": "2",
            "date": 20261128,
            "gilbench_metrics": '{"io_rps": "fast"}',
            "gilbench_strategies": '"gil"',
            "gilbench_workloads": '["countdown"]',
            "gilbench_params": "{",
            "gilbench_reference_strategy": ["serial"],
        }
        for key, value in cases.items():
            path = self.mutated(f"ctx_{key}.json",
                                lambda d, key=key, value=value: d["context"].update({key: value}))
            self.assert_bad(["compare", A, path], path, f"context key {key}")

    def test_non_finite_counter_is_dropped(self):
        def with_counter(data):
            return [r for r in iteration_rows(data) if "gil_wait_ns" in r]

        def nan_counter(data):
            with_counter(data)[0]["gil_wait_ns"] = float("nan")
        path = self.mutated("nan_counter.json", nan_counter)
        first = with_counter(load(path))[0]
        run = load_result(path).runs[first["run_name"]]
        self.assertNotIn(first["repetition_index"], run.counters["gil_wait_ns"])
        self.assertIn(first["repetition_index"], run.times, "the row itself is kept")
        code, _, err = run_plot("charts", path, "--out", os.path.join(self.tmp, "c"))
        self.assertEqual(code, 0, err)
        self.assertIn("left out 1 counter values", err)

    def test_unwritable_outputs(self):
        somefile = self.write("somefile", "x")
        self.assert_bad(["compare", A, A2, "--markdown", os.path.join(self.tmp, "no", "x.md")],
                        "cannot write", "No such file or directory")
        self.assert_bad(["compare", A, A2, "--markdown", "/dev/full"], "/dev/full",
                        "No space left on device")
        self.assert_bad(["compare", A, A2, "--markdown", self.tmp], "Is a directory")
        self.assertEqual(os.listdir(self.tmp), ["somefile"], "no temporary file is left")
        self.assert_bad(["charts", A, "--out", os.path.join(somefile, "c")], "Not a directory")
        self.assert_bad(["charts", A, "--out", "/dev/full"], "not a directory")

    def test_read_only_place(self):
        # As root a mode cannot make a directory read-only, and there is no read-only
        # file system to hand: the writer's error is injected where it would arise.
        real = tempfile.mkstemp

        def read_only(*args, **kwargs):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), kwargs.get("dir"))
        tempfile.mkstemp = read_only
        try:
            md = os.path.join(self.tmp, "x.md")
            code, _, err = main_in_process("compare", A, A2, "--markdown", md)
            self.assertEqual((code, err.strip()),
                             (2, f"plot.py: error: {md}: cannot write: Read-only file system"))
            code, _, err = main_in_process("charts", A, "--out", os.path.join(self.tmp, "c"))
            self.assertEqual(code, 2, err)
            self.assertIn("Read-only file system", err)
            self.assertNotIn("Traceback", err)
        finally:
            tempfile.mkstemp = real
        ro = os.path.join(self.tmp, "ro")
        os.mkdir(ro, 0o500)
        if not os.access(ro, os.W_OK):  # not root: the real thing
            self.assert_bad(["compare", A, A2, "--markdown", os.path.join(ro, "x.md")],
                            "Permission denied")

    def test_bad_instruction_options(self):
        for opt, words in (("--jobs=0", ["--jobs"]), ("--repeat=0", ["--repeat"]),
                           ("--filter=[", ["--filter", "not a regular expression"]),
                           ("--tolerance=-1", ["--tolerance"])):
            self.assert_bad(["instructions", A, "--gilbench", sys.executable, opt], *words)

    def test_bad_compare_options(self):
        self.assert_bad(["compare", A, A2, "--alpha", "0"], "--alpha")
        self.assert_bad(["compare", A, A2, "--ratio-alpha", "nan"], "--ratio-alpha")
        self.assert_bad(["charts", A, "--out", self.tmp, "--headline-workers", "0"],
                        "--headline-workers")

    def test_internal_error_is_one_line_status_3(self):
        real = plot.cmd_compare

        def broken(args):
            raise ZeroDivisionError("division by zero\nsecond line")
        plot.cmd_compare = broken
        try:
            code, _, err = main_in_process("compare", A, A2)
            self.assertEqual(code, 3)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertTrue(err.startswith("plot.py: internal error: ZeroDivisionError: "
                                           "division by zero"), err)
            with self.assertRaises(ZeroDivisionError):
                plot.main(["--debug", "compare", A, A2])
            os.environ["PLOT_DEBUG"] = "1"
            try:
                with self.assertRaises(ZeroDivisionError):
                    plot.main(["compare", A, A2])
            finally:
                del os.environ["PLOT_DEBUG"]
        finally:
            plot.cmd_compare = real


class Repetitions(OneLine):
    """Issue 11 item 16: too few repetitions for a gated lane to flag anything."""

    def reps(self, source, n, factor=1.0):
        data = load(source)
        data["benchmarks"] = [r for r in iteration_rows(data) if r["repetition_index"] < n]
        for r in data["benchmarks"]:
            r["real_time"] *= factor
        return self.write(f"{os.path.basename(source)}.{n}.{factor}.json", data)

    def test_one_repetition_cannot_pass_a_ten_fold_slowdown(self):
        base, new = self.reps(A, 1), self.reps(A, 1, 10.0)
        line = self.assert_bad(["compare", base, new], "time lane", "1 vs 1",
                               "4 or more repetitions per side", "ratio lane",
                               "2 or more per side")
        self.assertIn("cannot judge", line)
        self.assert_bad(["compare", base, new, "--gate", "ratio"], "ratio lane",
                        "2 or more per side")
        # the instruction lane needs no repetitions: it judges, and passes A vs A
        code, out, err = run_plot("compare", base, new, "--gate", "instructions")
        self.assertEqual(code, 0, err)
        self.assertIn("cannot reach q < 0.05", out, "the non-gated lanes keep the warning")

    def test_the_minimum_follows_alpha(self):
        self.assertEqual(stats.u_test_repetitions(0.05), 4)
        self.assertEqual(stats.u_test_repetitions(0.01), 5)
        self.assertEqual(stats.u_test_repetitions(0.001), 7)
        base = self.reps(A, 3)
        self.assert_bad(["compare", base, base, "--gate", "time"], "3 vs 3",
                        "4 or more repetitions per side")
        base = self.reps(A, 4)
        code, _, err = run_plot("compare", base, base, "--gate", "time")
        self.assertEqual(code, 0, err)
        self.assert_bad(["compare", base, base, "--gate", "time", "--alpha", "0.01"], "4 vs 4",
                        "5 or more")

    def test_min_u_pvalue_of_many_repetitions(self):
        self.assertEqual(stats.min_u_pvalue(2000, 2000), 0.0)


FAKE_VALGRIND = """#!/usr/bin/python3
# A stand-in for valgrind in the instruction lane's bookkeeping tests: writes the
# benchmark's row of $FAKE_TEMPLATE as the run's result and `totals: $FAKE_TOTALS`
# as its callgrind output (the binary is not run).
import json, os, re, sys
args = sys.argv[1:]
if args == ["--version"]:
    print("valgrind-fake")
    sys.exit(0)
opts = dict(a.split("=", 1) for a in args if a.startswith("--") and "=" in a)
name = re.sub(r"\\\\(.)", r"\\1", opts["--benchmark_filter"][1:].split("(/iterations:")[0])
with open(os.environ["FAKE_TEMPLATE"]) as f:
    data = json.load(f)
data["benchmarks"] = [r for r in data["benchmarks"] if r.get("run_name") == name]
with open(opts["--out"], "w") as f:
    json.dump(data, f)
total = int(os.environ.get("FAKE_TOTALS", "1000")) + (os.getpid() % 7 if os.environ.get(
    "FAKE_VARY") else 0)
with open(opts["--callgrind-out-file"].replace("%p", str(os.getpid())), "w") as f:
    f.write(f"totals: {total}\\n")
"""


class Writer(OneLine):
    """Issue 11 item 17: every output through one exclusive, atomic writer."""

    def setUp(self):
        super().setUp()
        bindir = os.path.join(self.tmp, "bin")
        os.mkdir(bindir)
        with open(os.path.join(bindir, "valgrind"), "w") as f:
            f.write(FAKE_VALGRIND)
        os.chmod(os.path.join(bindir, "valgrind"), 0o755)
        self.env = {"PATH": bindir + os.pathsep + os.environ["PATH"], "FAKE_TEMPLATE": A}
        self.saved = {k: os.environ.get(k) for k in (*self.env, "FAKE_TOTALS", "FAKE_VARY")}
        os.environ.update(self.env)

    def tearDown(self):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        super().tearDown()

    def lane_file(self):
        data = load(A)
        data["context"].pop(schema.INSTRUCTIONS_KEY)
        return self.write("lane.json", data)

    def test_fake_lane_counts(self):
        path = self.lane_file()
        code, _, err = main_in_process("instructions", path, "--gilbench", "/bin/true",
                                       "--jobs", "1")
        self.assertEqual(code, 0, err)
        lane = json.loads(load(path)["context"][schema.INSTRUCTIONS_KEY])
        self.assertEqual(len(lane["counts"]), 6)
        self.assertEqual(set(lane["counts"].values()), {1000})

    def test_fake_lane_errors(self):
        path = self.lane_file()
        with open(path, "rb") as f:
            before = f.read()
        os.environ["FAKE_TOTALS"] = "0"
        code, _, err = main_in_process("instructions", path, "--gilbench", "/bin/true")
        self.assertEqual(code, 2, err)
        self.assertIn("6 have no measured_run region", err.strip().splitlines()[-1])
        os.environ["FAKE_TOTALS"], os.environ["FAKE_VARY"] = "1000", "1"
        code, _, err = main_in_process("instructions", path, "--gilbench", "/bin/true",
                                       "--repeat", "3", "--tolerance", "0")
        self.assertEqual(code, 2, err)
        self.assertIn("differ between repeats", err.strip().splitlines()[-1])
        with open(path, "rb") as f:
            self.assertEqual(f.read(), before, "nothing written when it fails")

    def test_planted_symlink_at_the_old_temporary_name(self):
        path = self.lane_file()
        victim = self.write("victim.txt", "precious\n")
        planted = os.path.join(self.tmp, f".lane.json.tmp.{os.getpid()}")
        os.symlink(victim, planted)
        code, _, err = main_in_process("instructions", path, "--gilbench", "/bin/true",
                                       "--jobs", "1")
        self.assertEqual(code, 0, err)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")
        self.assertTrue(os.path.islink(planted))
        self.assertIn(schema.INSTRUCTIONS_KEY, load(path)["context"])
        self.assertFalse(os.path.islink(path))
        leftovers = [n for n in os.listdir(self.tmp) if n.endswith(".tmp") or ".tmp." in n]
        self.assertEqual(leftovers, [os.path.basename(planted)])

    def test_new_file_mode_follows_the_umask(self):
        old = os.umask(0o027)
        try:
            md = os.path.join(self.tmp, "x.md")
            code, _, err = main_in_process("compare", A, A2, "--markdown", md)
            self.assertEqual(code, 0, err)
            self.assertEqual(stat.S_IMODE(os.stat(md).st_mode), 0o640)
        finally:
            os.umask(old)

    def test_symlink_target_is_replaced_and_the_link_stays(self):
        real_dir = os.path.join(self.tmp, "real")
        os.mkdir(real_dir)
        target = os.path.join(real_dir, "report.md")
        with open(target, "w") as f:
            f.write("old\n")
        link = os.path.join(self.tmp, "link.md")
        os.symlink(target, link)
        code, out, err = run_plot("compare", A, A2, "--markdown", link)
        self.assertEqual(code, 0, err)
        self.assertTrue(os.path.islink(link))
        self.assertEqual(os.readlink(link), target)
        with open(target) as f:
            self.assertEqual(f.read(), out)
        self.assertEqual(sorted(os.listdir(real_dir)), ["report.md"], "no temporary left")

    def test_dangling_symlink_creates_its_target(self):
        target = os.path.join(self.tmp, "made.md")
        link = os.path.join(self.tmp, "dangling.md")
        os.symlink("made.md", link)
        code, out, err = run_plot("compare", A, A2, "--markdown", link)
        self.assertEqual(code, 0, err)
        self.assertTrue(os.path.islink(link))
        with open(target) as f:
            self.assertEqual(f.read(), out)

    def test_planted_link_of_another_user_in_a_sticky_directory(self):
        sticky = os.path.join(self.tmp, "sticky")
        os.mkdir(sticky)
        os.chmod(sticky, 0o1777)
        victim = self.write("victim.txt", "precious\n")
        link = os.path.join(sticky, "report.md")
        os.symlink(victim, link)
        try:
            os.lchown(link, 65534, 65534)
        except PermissionError:
            self.skipTest("cannot give a symlink to another user here (not root)")
        self.assert_bad(["compare", A, A2, "--markdown", link], "refusing to follow a symlink")
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")

    def test_markdown_to_dev_null_stays_a_device(self):
        if not os.access("/dev/null", os.W_OK):
            self.skipTest("/dev/null is not writable here")
        code, _, err = run_plot("compare", A, A2, "--markdown", "/dev/null")
        self.assertEqual(code, 0, err)
        self.assertTrue(stat.S_ISCHR(os.stat("/dev/null").st_mode))

    def test_markdown_to_dev_stdout(self):
        p = subprocess.run([sys.executable, PLOT, "compare", A, A2, "--markdown",
                            "/dev/stdout"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr)
        half = len(p.stdout) // 2
        self.assertEqual(p.stdout[:half], p.stdout[half:], "printed, then written again")


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
        self.assertIn("countdown (cpu)", summary)
        h = self.headline(A, SWEEP)
        self.assertEqual(h["workers"], 2)
        self.assertEqual(h["workloads"], ["countdown", "list_sum"])  # convoy: io_convoy
        self.assertNotIn("serial", h["labels"], "the reference is no row of its own")
        self.assertGreater(h["speedup"][("countdown", "gil")], 0)
        ratio, lo, hi = h["overhead"]["countdown"]["gil"]
        self.assertTrue(lo <= ratio <= hi)
        self.assertEqual(h["failed"], set())
        self.assertRegex(summary, r"\| gil \| %.2fx \|" % h["speedup"][("countdown", "gil")])

    def headline(self, *paths):
        """The summary's data (Charts.headline) of these files."""
        return charts.Charts([load_result(p) for p in paths], self.tmp, 2).headline()

    def test_second_file_joins_the_charts(self):
        # A twin-like file: its own reference row, strategies of its own.
        data = load(A2)
        for name, f in fields(data).items():
            for old, new in (("gil", "twin_threads"), ("fine_lock", "twin_process")):
                if f["strategy"] == old:
                    rename(data, name, name.replace(f"/{old}/", f"/{new}/"), strategy=new)
        twin = self.write("twin.json", data)
        out = os.path.join(self.tmp, "charts")
        code, stdout, err = run_plot("charts", A, twin, "--out", out)
        self.assertEqual(code, 0, err)
        self.check_images(out, ["speedup", "overhead"])
        h = self.headline(A, twin)
        self.assertEqual(set(h["labels"]), {"gil", "fine_lock", "twin_threads", "twin_process"})
        self.assertIn(("countdown", "twin_threads"), h["speedup"])

    def test_runs_are_read_from_their_fields_not_their_names(self):
        # The same runs under opaque names: gilbench_runs alone says what each one is.
        data = load(SWEEP)
        for i, name in enumerate(sorted(fields(data))):
            rename(data, name, f"run{i}")
        opaque = self.write("convoy_sweep.json", data)
        code, expected, err = run_plot("charts", SWEEP, "--out", os.path.join(self.tmp, "a"))
        self.assertEqual(code, 0, err)
        code, stdout, err = run_plot("charts", opaque, "--out", os.path.join(self.tmp, "b"))
        self.assertEqual(code, 0, err)
        self.assertEqual(stdout.split("\n", 3)[3], expected.split("\n", 3)[3])
        self.assertEqual(self.headline(opaque), self.headline(SWEEP))
        self.check_images(os.path.join(self.tmp, "b"), ["speedup", "overhead", "io_convoy",
                                                        "sweep_interval", "gil_stats"])

    def test_same_strategy_in_two_files_is_labelled_by_file(self):
        out = os.path.join(self.tmp, "charts")
        code, stdout, err = run_plot("charts", A, A2, "--out", out)
        self.assertEqual(code, 0, err)
        self.assertIn("gil (quick_a2)", self.headline(A, A2)["labels"])
        self.assertIn("| gil (quick_a2) |", stdout)


def lab(color):
    """CIE L*a*b* of a matplotlib colour (sRGB, D65)."""
    from matplotlib.colors import to_rgb

    def lin(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in to_rgb(color))
    xyz = ((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
           0.2126 * r + 0.7152 * g + 0.0722 * b,
           (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883)
    f = [t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116 for t in xyz]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


class Kept(charts.Charts):
    """Charts that keep their figures (and check their layout) instead of saving them."""

    def save(self, fig, stem):
        self.layout[stem] = charts.layout_problems(fig)
        self.figures = getattr(self, "figures", {})
        self.figures[stem] = fig


class ChartContent(TempDir):
    """What the charts show: the CPU count, the CPython rows, K, the GIL rates, the
    instruction overhead; and a layout without clipped text or legends over data."""

    def tearDown(self):
        import matplotlib.pyplot as plt
        plt.close("all")
        super().tearDown()

    def kept(self, *paths, draw=("speedup", "overhead", "instructions", "io", "sweeps",
                                 "gil_stats")):
        c = Kept([load_result(p) for p in paths], self.tmp, 2)
        for method in draw:
            getattr(c, method)()
        return c

    def test_bytecode_sweep_against_the_reference_at_the_same_cost(self):
        c = self.kept(BYTECODE, draw=("bytecode_sweep", "sweeps", "overhead"))
        self.assertEqual(c.layout.get("sweep_bytecode"), [])
        self.assertNotIn("sweep_bytecode", [k for k in c.layout if k != "sweep_bytecode"])
        ax_top, ax_bottom = [ax for ax in c.figures["sweep_bytecode"].axes if ax.get_visible()]
        result = load_result(BYTECODE)
        ns = float(result.context["gilbench_ns_per_step"])
        steps = json.loads(result.context["gilbench_bytecode_steps"])
        # Top: atomic_rc's 1-worker time over serial's at the same cost, at each cost (ns).
        line = next(l for l in ax_top.get_lines() if l.get_label() == "atomic_rc")
        self.assertEqual(list(line.get_xdata()), [x * ns for x in steps])
        for x, y in zip(steps, line.get_ydata()):
            ref = result.runs[f"countdown/serial/workers:1/bytecode:{x}"]
            run = result.runs[f"countdown/atomic_rc/workers:1/bytecode:{x}"]
            self.assertAlmostEqual(y, median(run.samples()) / median(ref.samples()))
        # Bottom: the speedup at 2 workers over serial at the same cost.
        line = next(l for l in ax_bottom.get_lines() if l.get_label() == "biased_rc")
        ref = result.runs[f"countdown/serial/workers:1/bytecode:{steps[-1]}"]
        run = result.runs[f"countdown/biased_rc/workers:2/bytecode:{steps[-1]}"]
        self.assertAlmostEqual(line.get_ydata()[-1], median(ref.samples()) / median(run.samples()))
        # The overhead chart draws the first cost only (the primary variant).
        self.assertEqual(c.layout.get("overhead"), [])

    def test_bytecode_sweep_marks_cpythons_cost_from_a_twin_file(self):
        data = load(BYTECODE)
        data["context"]["gilbench_runtime"] = "cpython"
        data["context"]["gilbench_reference_strategy"] = "cpython_serial"
        data["context"]["gilbench_bytecode_steps"] = "[0]"
        ref = "countdown/serial/workers:1/bytecode:0"
        data["benchmarks"] = [b for b in data["benchmarks"] if b["run_name"] == ref]
        data["context"][schema.RUNS_KEY] = json.dumps({ref: fields(data)[ref]})
        base = median(load_result(BYTECODE).runs[ref].samples())
        rename(data, ref, "countdown/cpython_serial/workers:1", strategy="cpython_serial", axes={})
        for b in data["benchmarks"]:  # CPython: 3x the C++ time
            b["real_time"] *= 3
        twin = self.write("cpython.json", data)
        c = self.kept(BYTECODE, twin, draw=("bytecode_sweep",))
        self.assertEqual(c.layout.get("sweep_bytecode"), [])
        checkpoints = median(load_result(BYTECODE).runs[ref].counter_samples("ops_checkpoints"))
        want = 2 * base / checkpoints * 1e9
        ax = [ax for ax in c.figures["sweep_bytecode"].axes if ax.get_visible()][0]
        marks = [l.get_xdata()[0] for l in ax.get_lines() if l.get_linestyle() == ":"]
        self.assertEqual(len(marks), 1)
        self.assertAlmostEqual(marks[0], want, delta=want * 0.02)
        # A twin at other sizes marks nothing: its time is not per these checkpoints.
        params = json.loads(data["context"][schema.PARAMS_KEY])
        params["countdown"]["n"] *= 10
        data["context"][schema.PARAMS_KEY] = json.dumps(params)
        c = self.kept(BYTECODE, self.write("cpython10.json", data), draw=("bytecode_sweep",))
        ax = [ax for ax in c.figures["sweep_bytecode"].axes if ax.get_visible()][0]
        self.assertEqual([l for l in ax.get_lines() if l.get_linestyle() == ":"], [])

    def twin_like(self):
        """A2 as the CPython twin would write it: cpython_* strategies, its own reference."""
        data = load(A2)
        data["context"]["gilbench_runtime"] = "cpython"
        data["context"]["gilbench_reference_strategy"] = "cpython_serial"
        for name, f in fields(data).items():
            new = "cpython_" + {"gil": "threads", "fine_lock": "process"}.get(
                f["strategy"], f["strategy"])
            rename(data, name, name.replace(f"/{f['strategy']}/", f"/{new}/"), strategy=new)
        return self.write("cpython.json", data)

    def many(self):
        """One file with 16 strategies of long names (A's runs, copied)."""
        data = load(A)
        runs = fields(data)
        rows = [r for r in data["benchmarks"] if r["run_type"] == "iteration"]
        for k in range(14):
            strategy = f"strategy_with_a_long_name_number_{k}"
            for row in rows:
                f = runs[row["run_name"]]
                if f["strategy"] != "gil":
                    continue
                name = row["run_name"].replace("/gil/", f"/{strategy}/")
                runs[name] = dict(f, strategy=strategy)
                data["benchmarks"].append(dict(row, name=name, run_name=name))
        data["context"][schema.RUNS_KEY] = json.dumps(runs)
        data["context"].pop(schema.STRATEGIES_KEY, None)
        return self.write("many.json", data)

    def test_layout_nothing_clipped_no_legend_over_data(self):
        for paths in ([A, SWEEP], [A, self.twin_like()], [self.many()], [SWEEP]):
            out = os.path.join(self.tmp, "out")
            drawn = charts.draw([load_result(p) for p in paths], out, 2)
            self.assertTrue(drawn.layout, paths)
            for stem, problems in drawn.layout.items():
                self.assertEqual(problems, [], (paths, stem))

    def test_layout_check_finds_problems(self):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([1, 2], [1, 2], label="a series")
        ax.legend(loc="center")
        fig.suptitle("a title far too long to fit the figure " * 4)
        problems = charts.layout_problems(fig)
        self.assertTrue(any("legend lies over an axes" in p for p in problems), problems)
        self.assertTrue(any("figure title" in p and "outside" in p for p in problems), problems)

    def test_every_series_has_a_distinct_colour(self):
        c = self.kept(self.many(), self.twin_like(), draw=())
        self.assertGreaterEqual(len(c.labels), 18)
        colours = [c.color(label) for label in c.labels[:len(charts.PALETTE)]]
        self.assertEqual(len(set(colours)), len(colours))
        for i, a in enumerate(colours[:14]):
            for b in colours[:i]:
                self.assertGreater(math.dist(lab(a), lab(b)), 30, (a, b))

    def test_cpython_rows_have_their_own_style_and_reference(self):
        c = self.kept(A, self.twin_like(), draw=("speedup",))
        ax = c.figures["speedup"].axes[0]
        styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
        self.assertEqual(styles["cpython_threads"], "--")
        self.assertEqual(styles["gil"], "-")
        self.assertEqual(ax.get_ylabel(), "speedup over serial / cpython_serial (1 worker)")

    def test_ideal_line_stops_at_the_cpu_count(self):
        data = load(A)
        for name, f in fields(data).items():
            if f["workers"] == 2:
                rename(data, name, name.replace("workers:2", "workers:4"), workers=4)
        data["context"]["gilbench_nproc"] = "2"
        c = self.kept(self.write("w4.json", data), draw=("speedup",))
        ax = c.figures["speedup"].axes[0]
        lines = {line.get_label(): line for line in ax.get_lines()}
        ideal = lines["ideal (up to the CPU count)"]
        self.assertEqual(list(ideal.get_xdata()), [1, 2])
        self.assertEqual(max(ideal.get_ydata()), 2)
        self.assertEqual(list(lines["2 CPUs"].get_xdata()), [2, 2])
        self.assertEqual(max(max(line.get_xdata()) for line in ax.get_lines()
                             if line.get_label() == "gil"), 4)

    def test_convoy_axis_is_k_latency_as_bars_without_io_rps_alone(self):
        c = self.kept(SWEEP, draw=("io",))
        axes = [ax for ax in c.figures["io_convoy"].axes if ax.get_visible()]
        titles = [ax.get_title() for ax in axes]
        self.assertFalse(any("io_rps_alone" in t for t in titles), titles)
        self.assertTrue(any(t.startswith("io_rps_ratio") for t in titles), titles)
        self.assertEqual(titles[-1], "latency at K=1 (lower is better)")
        self.assertEqual([t.get_text() for t in axes[-1].get_xticklabels()],
                         ["io_max_us", "io_p50_us", "io_p99_us"])
        for ax in axes[:-1]:
            self.assertEqual(ax.get_xlabel(), charts.K_LABEL)

    def test_gil_stats_per_second_within_the_cpu_count(self):
        c = self.kept(SWEEP, draw=("gil_stats",))
        fig = c.figures["gil_stats"]
        panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
        self.assertEqual(panels["gil_switches"].get_ylabel(), "per s")
        self.assertEqual(panels["gil_wait_ns"].get_ylabel(), "s per s of run")
        self.assertEqual(panels["gil_wait_frac"].get_ylabel(), "fraction")
        run = load_result(SWEEP).runs["countdown/gil/workers:2/interval:5ms"]
        rates = [run.counters["gil_switches"][i] / run.times[i] for i in run.times]
        bars = [p.get_height() for p in panels["gil_switches"].patches]
        self.assertTrue(any(math.isclose(h, stats.median(rates)) for h in bars),
                        (bars, stats.median(rates)))

    def test_instruction_overhead_chart(self):
        c = self.kept(A, draw=("instructions",))
        ax = c.figures["instructions"].axes[0]
        counts = load_result(A).instructions
        want = counts["countdown/gil/workers:1"] / counts["countdown/serial/workers:1"]
        heights = [p.get_height() for p in ax.patches]
        self.assertTrue(any(math.isclose(h, want) for h in heights), (heights, want))
        self.assertNotIn("instructions", self.kept(SWEEP, draw=("instructions",)).__dict__.get(
            "figures", {}), "no counts, no chart")


class CompareDotPy(unittest.TestCase):
    """Google Benchmark's own compare.py reads gilbench files as they are."""

    def test_compare_py_benchmarks_mode(self):
        self.assertTrue(os.path.exists(COMPARE_PY), f"{COMPARE_PY} missing: apt-get install "
                        "libbenchmark-tools")
        p = subprocess.run([sys.executable, COMPARE_PY, "--no-color", "benchmarks", A, A2],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        for name in load_result(A).runs:
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
        data["context"].pop(schema.INSTRUCTIONS_KEY, None)
        path = self.write("lane.json", data)
        code, _, err = run_plot("instructions", path, "--gilbench", os.environ["GILBENCH_BIN"],
                                "--repeat", "2")
        self.assertEqual(code, 0, err)
        lane = json.loads(load(path)["context"][schema.INSTRUCTIONS_KEY])
        self.assertEqual(sorted(lane["counts"]), sorted(keep[:2]), "1-worker rows only")
        self.assertTrue(all(c > 1_000_000 for c in lane["counts"].values()), lane)
        self.assertEqual(lane["repeat_spread"], {}, "the same count twice")
        # the gate reads them back: the file against itself changes nothing
        code, out, _ = run_plot("compare", path, path)
        self.assertEqual(code, 0)
        rows = gate_report(path, path).lane("instructions").rows
        self.assertEqual(sorted(r.name for r in rows), sorted(keep[:2]))
        self.assertEqual({(r.change, r.verdict) for r in rows}, {(0.0, "")})


if __name__ == "__main__":
    plot_support.main()
