#!/usr/bin/python3
"""plot.py history and its change-point detection; bench/record_history.sh.

Change points (gilbench_results.stats.change_points) on synthetic series with a fixed
seed: a step is found at the right commit, flat noise gives none, a one-commit blip in
the middle is no change, a regression of the newest commit is found at once, and a
deterministic series (instruction counts) reports a 5% step and ignores a 0.001% one.
plot.py history on a folder of result files made from the recorded fixtures (commits
with known steps): the changes in history.json and history.md, the charts, the commit
order, and its bad input (exit 2, one line). With --gilbench=BIN, record_history.sh runs
the real binary twice into one folder (two sub-folders, nothing overwritten) and
plot.py history reads that folder.

    /usr/bin/python3 tests/history_test.py [--gilbench=build/gilbench] [-v]
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PLOT = os.path.join(REPO, "plot.py")
RECORD = os.path.join(REPO, "bench", "record_history.sh")
A = os.path.join(HERE, "fixtures", "quick_a.json")

sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "bench", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot_support  # noqa: E402
from plot_support import run_plot  # noqa: E402
from json_check import strict_load  # noqa: E402
from gilbench_results import history, stats  # noqa: E402
from gilbench_results.load import load_result  # noqa: E402




def noisy(rng, level, n, sigma=0.01):
    return [level * (1 + rng.gauss(0, sigma)) for _ in range(n)]


class ChangePoints(unittest.TestCase):
    def test_step_found_at_the_right_commit(self):
        for seed in range(50):
            rng = random.Random(seed)
            y = noisy(rng, 1.0, 12) + noisy(rng, 1.08, 13)
            steps = stats.change_points(y, min_change=0.02)
            self.assertEqual([i for i, _, _ in steps], [12], (seed, steps))
            _, before, after = steps[0]
            self.assertAlmostEqual(after / before, 1.08, delta=0.02)

    def test_two_steps(self):
        rng = random.Random(7)
        y = noisy(rng, 100, 8) + noisy(rng, 120, 8) + noisy(rng, 90, 8)
        self.assertEqual([i for i, _, _ in stats.change_points(y, 0.05)], [8, 16])

    def test_flat_noise_gives_none(self):
        found = 0
        for seed in range(100):
            y = noisy(random.Random(1000 + seed), 1.0, 25, sigma=0.02)
            found += bool(stats.change_points(y, min_change=0.05))
        self.assertEqual(found, 0)
        # without a threshold, the penalty alone keeps false steps rare
        found = sum(bool(stats.change_points(noisy(random.Random(seed), 1.0, 25)))
                    for seed in range(200))
        self.assertLessEqual(found, 4)

    def test_blip_in_the_middle_is_no_change(self):
        rng = random.Random(3)
        y = noisy(rng, 1.0, 20)
        y[9] *= 1.5
        self.assertEqual(stats.change_points(y, min_change=0.05), [])

    def test_newest_commit_regression_is_found_at_once(self):
        rng = random.Random(5)
        y = noisy(rng, 1.0, 15) + [1.3]
        self.assertEqual([i for i, _, _ in stats.change_points(y, 0.05)], [15])

    def test_deterministic_series(self):
        y = [80_000_000] * 6 + [84_000_000] * 4
        self.assertEqual(stats.change_points(y, 0.01, noise_floor=0.0005),
                         [(6, 80_000_000, 84_000_000)])
        y = [80_000_000] * 6 + [80_000_800] * 4  # +0.001%
        self.assertEqual(stats.change_points(y, 0.01, noise_floor=0.0005), [])

    def test_short_series_have_none(self):
        self.assertEqual(stats.change_points([1.0, 2.0], 0.0), [])
        self.assertEqual(stats.change_points([], 0.0), [])

    def test_segmentation_is_optimal(self):
        # brute force over every segmentation of a short series
        import itertools
        rng = random.Random(11)
        y = noisy(rng, 1, 4, 0.05) + noisy(rng, 1.3, 5, 0.05)
        beta = 0.02

        def cost(starts):
            bounds = list(starts) + [len(y)]
            total = 0.0
            for a, b in zip(bounds, bounds[1:]):
                m = sum(y[a:b]) / (b - a)
                total += sum((v - m) ** 2 for v in y[a:b]) + beta
            return total

        def allowed(starts):
            bounds = list(starts) + [len(y)]
            return all(b - a >= 2 or b == len(y) for a, b in zip(bounds, bounds[1:]))

        best = min((s for k in range(len(y)) for rest in itertools.combinations(
            range(1, len(y)), k) for s in [(0,) + rest] if allowed(s)), key=cost)
        self.assertEqual(tuple(stats.segment_starts(y, beta)), best)


def history_folder(root, steps=True, commits=8):
    """Result files made from quick_a.json: one per commit (sub-folders), with a 40%
    slowdown of countdown/gil from commit 5 and +5% instructions of list_sum/fine_lock
    from commit 4 when steps."""
    with open(A) as f:
        source = json.load(f)
    paths = []
    for i in range(commits):
        data = json.loads(json.dumps(source))
        data["context"]["gilbench_git_revision"] = "%012x" % (0xc0ffee000 + i)
        # run dates out of order: the commit date orders them
        data["context"]["date"] = "2026-12-%02dT10:00:00+00:00" % (20 - i)
        data["context"]["gilbench_git_commit_date"] = "2026-11-%02dT09:00:00+00:00" % (i + 1)
        rng = random.Random(i)
        for row in data["benchmarks"]:
            if row.get("run_type") == "iteration":
                row["real_time"] *= 1 + rng.gauss(0, 0.02)
                if steps and i >= 5 and row["run_name"].startswith("countdown/gil/"):
                    row["real_time"] *= 1.4
        lane = json.loads(data["context"]["gilbench_instructions"])
        for name in lane["counts"]:
            if steps and i >= 4 and name.startswith("list_sum/fine_lock/"):
                lane["counts"][name] = int(lane["counts"][name] * 1.05)
        data["context"]["gilbench_instructions"] = json.dumps(lane)
        folder = os.path.join(root, "run%02d" % (commits - i))  # names out of order too
        os.makedirs(folder)
        paths.append(os.path.join(folder, "bench.json"))
        with open(paths[-1], "w") as f:
            json.dump(data, f)
    return paths


class HistoryCommand(plot_support.TempDir):
    prefix = "history-test-"

    def test_steps_are_found_and_reported(self):
        folder = os.path.join(self.tmp, "history")
        history_folder(folder)
        out = os.path.join(self.tmp, "report")
        code, stdout, err = run_plot("history", folder, "--out", out)
        self.assertEqual(code, 0, err)
        data = strict_load(os.path.join(out, "history.json"))
        self.assertEqual([c["revision"] for c in data["commits"]],
                         ["%012x" % (0xc0ffee000 + i) for i in range(8)], "commit order")
        found = {(c["metric"], c["workload"], c["label"], c["index"], c["verdict"])
                 for c in data["changes"]}
        self.assertEqual(found, {
            ("speedup", "countdown", "gil", 5, "regression"),
            ("overhead", "countdown", "gil", 5, "regression"),
            ("instructions", "list_sum", "fine_lock", 4, "regression")})
        with open(os.path.join(out, "history.md")) as f:
            md = f.read()
        self.assertEqual(md, stdout)
        changes = md[md.index("## Changes found"):md.index("## Commits")]
        self.assertIn("| speedup | countdown | gil | %012x (%012x) |"
                      % (0xc0ffee005, 0xc0ffee004), changes)
        self.assertIn("**regression**", changes)
        for metric in ("speedup", "overhead", "instructions"):
            for ext in ("png", "svg"):
                self.assertTrue(os.path.exists(os.path.join(out, f"history_{metric}.{ext}")))
        self.assertFalse(os.path.exists(os.path.join(out, "history_convoy.png")),
                         "no convoy run, no convoy chart")

    def test_flat_history_reports_none(self):
        folder = os.path.join(self.tmp, "history")
        history_folder(folder, steps=False)
        out = os.path.join(self.tmp, "report")
        code, stdout, err = run_plot("history", folder, "--out", out)
        self.assertEqual(code, 0, err)
        self.assertEqual(strict_load(os.path.join(out, "history.json"))["changes"], [])
        self.assertIn("None: every series is flat", stdout)

    def test_layout_and_change_marks(self):
        folder = os.path.join(self.tmp, "history")
        history_folder(folder)
        h = history.History(history.collect([folder]).results).write(
            os.path.join(self.tmp, "out"))
        self.assertEqual(set(h.layout), {"history_speedup", "history_overhead",
                                         "history_instructions"})
        for stem, problems in h.layout.items():
            self.assertEqual(problems, [], stem)

    def test_files_of_one_commit_are_one_point(self):
        paths = history_folder(os.path.join(self.tmp, "h"), steps=False, commits=3)
        data = load_result(paths[0])
        h = history.History([data, load_result(paths[0]), load_result(paths[1])])
        self.assertEqual(len(h.commits), 2)
        self.assertEqual(len(h.commits[0].results), 2)

    def test_bad_input(self):
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty)
        paths = history_folder(os.path.join(self.tmp, "h"), steps=False, commits=3)
        with open(paths[1]) as f:
            data = json.load(f)
        data["context"]["gilbench_mode"] = "default"
        other = os.path.join(self.tmp, "default.json")
        with open(other, "w") as f:
            json.dump(data, f)
        broken = os.path.join(self.tmp, "h", "broken.json")
        with open(broken, "w") as f:
            f.write("{")
        out = os.path.join(self.tmp, "out")
        for args, words in (([empty], "no gilbench result file"),
                            ([os.path.join(self.tmp, "missing")], "no such file"),
                            ([paths[0], other], "different modes"),
                            ([os.path.join(self.tmp, "h")], "truncated JSON"),
                            ([paths[0], "--headline-workers", "0"], "--headline-workers")):
            code, _, err = run_plot("history", *args, "--out", out)
            self.assertEqual(code, 2, (args, err))
            self.assertNotIn("Traceback", err)
            last = err.strip().splitlines()[-1]
            self.assertTrue(last.startswith("plot.py: error: "), err)
            self.assertIn(words, last)
        code, _, err = run_plot("history", os.path.join(self.tmp, "h"), "--skip-bad",
                                "--out", out)
        self.assertEqual(code, 0, err)
        self.assertIn("history: left out", err)
        self.assertIn("broken.json", err)


class RecordHistory(unittest.TestCase):
    """bench/record_history.sh with the real binary (--gilbench=BIN)."""

    def setUp(self):
        if not os.environ.get("GILBENCH_BIN"):
            self.skipTest("needs --gilbench=BIN")
        self._tmp = tempfile.TemporaryDirectory(prefix="record-history-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def record(self, *extra):
        return subprocess.run([RECORD, "--history", os.path.join(self.tmp, "h"), "--gilbench",
                               os.environ["GILBENCH_BIN"], *extra, "--",
                               "--workloads=countdown", "--strategies=serial,gil",
                               "--repetitions=3"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=600)

    def test_appends_never_overwrites(self):
        first, second = self.record(), self.record()
        for p in (first, second):
            self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        paths = [first.stdout.strip(), second.stdout.strip()]
        self.assertNotEqual(paths[0], paths[1])
        folders = sorted(os.listdir(os.path.join(self.tmp, "h")))
        self.assertEqual(len(folders), 2, folders)
        for path in paths:
            self.assertTrue(os.path.isfile(path), path)
            r = load_result(path)
            rev = r.context["gilbench_git_revision"]
            self.assertTrue(os.path.basename(os.path.dirname(path)).split("_", 1)[1]
                            .startswith(rev[:12]), (path, rev))
            self.assertEqual(r.context["gilbench_mode"], "quick")
        out = os.path.join(self.tmp, "report")
        code, stdout, err = run_plot("history", os.path.join(self.tmp, "h"), "--out", out)
        self.assertEqual(code, 0, err)
        self.assertIn("2 result files", stdout)

    def test_bad_options(self):
        p = subprocess.run([RECORD, "--bogus"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown option '--bogus'", p.stderr)
        p = subprocess.run([RECORD, "--gilbench", os.path.join(self.tmp, "none")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("not an executable gilbench", p.stderr)

    def test_failed_run_adds_nothing(self):
        p = subprocess.run([RECORD, "--history", os.path.join(self.tmp, "h"), "--gilbench",
                            os.environ["GILBENCH_BIN"], "--", "--workloads=no_such_workload"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=120)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stdout, "")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "h")) and
                         os.listdir(os.path.join(self.tmp, "h")))


if __name__ == "__main__":
    plot_support.main()
