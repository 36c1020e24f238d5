#!/usr/bin/python3
"""Tests of the A/B time lane: gilbench_results.ab's statistics on synthetic trials,
plot.py ab's exit statuses and output, and bench/ab.sh's SKIPPED paths and its
whole pipeline (with stand-in binaries, so no build is needed).

    /usr/bin/python3 tests/ab_test.py [--gilbench=build/gilbench] [-v]

Synthetic trials: 100 rows (10 workloads x 5 strategies x 1 and 2 workers), each
run's median drawn around the row's true time with a lognormal noise of 3% and a
machine factor of 1% shared by the run's rows. With --gilbench, one test wraps
the real binary to give ab.sh two different benchmark sets.
"""

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PLOT = os.path.join(REPO, "plot.py")
AB_SH = os.path.join(REPO, "bench", "ab.sh")
sys.path.insert(0, os.path.join(REPO, "bench", "python"))
sys.path.insert(0, HERE)
import plot_support  # noqa: E402
from gilbench_results import ab, instructions, schema  # noqa: E402
from gilbench_results.errors import InputError  # noqa: E402

FIELDS = [schema.run_fields(f"w{w}", f"s{s}", n) for w in range(10) for s in range(5)
          for n in (1, 2)]
NAMES = [schema.run_name(f) for f in FIELDS]


def result_data(times, failed=(), mode="quick", reps=1):
    """A schema-2 result of NAMES with the given {name: seconds} (reps equal repetitions)."""
    rows = []
    for name in NAMES:
        for i in range(reps):
            if name in failed:
                rows.append({"name": name, "run_name": name, "run_type": "iteration",
                             "repetition_index": i, "error_occurred": True,
                             "error_message": "checksum mismatch"})
            else:
                rows.append({"name": name, "run_name": name, "run_type": "iteration",
                             "repetition_index": i, "real_time": times[name] * 1e3,
                             "time_unit": "ms", "iterations": 1})
    return {"context": {schema.VERSION_KEY: schema.SCHEMA_VERSION,
                        schema.RUNS_KEY: schema.runs_json(FIELDS), schema.MODE_KEY: mode,
                        "host_name": "test"},
            "benchmarks": rows}


def write_trials(directory, trials=20, effect=None, noise=0.03, machine=0.01, flips=(),
                 seed=1, failed_head=(), order=True):
    """Writes base-T.json / head-T.json (and trials.tsv) of synthetic trials.

    effect: {name: factor} of the head; flips: {trial: factor} applied to every row of
    that trial's head run (the machine's speed flipped between the two runs)."""
    rng = random.Random(seed)
    effect = effect or {}
    truth = {n: math.exp(rng.uniform(math.log(1e-3), math.log(5e-2))) for n in NAMES}
    os.makedirs(directory, exist_ok=True)
    lines = ["trial\tfirst\tsecond\tstart\tload"]
    for t in range(trials):
        for side in ("base", "head"):
            state = math.exp(rng.gauss(0, machine)) * (dict(flips).get(t, 1.0)
                                                       if side == "head" else 1.0)
            times = {n: truth[n] * state * math.exp(rng.gauss(0, noise))
                     * (effect.get(n, 1.0) if side == "head" else 1.0) for n in NAMES}
            data = result_data(times, failed_head if side == "head" else ())
            with open(os.path.join(directory, f"{side}-{t}.json"), "w") as f:
                json.dump(data, f)
        first = rng.choice(("base", "head"))
        lines.append(f"{t}\t{first}\t{'head' if first == 'base' else 'base'}\t00:00:00\t0.1")
    if order:
        with open(os.path.join(directory, "trials.tsv"), "w") as f:
            f.write("\n".join(lines) + "\n")
    return directory


def run_cmd(*cmd, env=None, cwd=None):
    p = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=600, env=env, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


class TempDir(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ab_test.")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def compare(self, directory, **options):
        return ab.compare(ab.load_trials(directory), ab.Options(**options).check())

    def flagged(self, report):
        return sorted(r.name for r in report.regressions)


class Statistics(TempDir):
    """The signed-rank test and the Hodges-Lehmann estimate themselves."""

    def test_signed_rank_matches_scipy_exact(self):
        from scipy.stats import wilcoxon
        rng = random.Random(7)
        for n in (5, 8, 12, 20):
            for shift in (0.0, 0.5, 1.5):
                x = [rng.gauss(shift, 1) for _ in range(n)]
                for alternative in ("two-sided", "greater", "less"):
                    want = wilcoxon(x, alternative=alternative, method="exact").pvalue
                    self.assertAlmostEqual(ab.signed_rank_test(x, alternative), want,
                                           places=12, msg=(n, alternative, x))

    def test_signed_rank_extremes_ties_and_zeros(self):
        self.assertAlmostEqual(ab.signed_rank_test([1.0] * 10), 2 / 2 ** 10)
        self.assertAlmostEqual(ab.signed_rank_test([-1.0] * 10), 2 / 2 ** 10)
        self.assertAlmostEqual(ab.signed_rank_test([1.0] * 10, "greater"), 1 / 2 ** 10)
        self.assertEqual(ab.signed_rank_test([1.0] * 10, "less"), 1.0)
        self.assertEqual(ab.signed_rank_test([]), 1.0)
        self.assertEqual(ab.signed_rank_test([0.0, 0.0]), 1.0)
        # ties: midranks, still a probability, symmetric in the sign
        x = [0.1, -0.1, 0.2, 0.2, 0.3, -0.3, 0.3, 0.0]
        p = ab.signed_rank_test(x)
        self.assertTrue(0 < p <= 1)
        self.assertAlmostEqual(p, ab.signed_rank_test([-v for v in x]))
        self.assertEqual(ab.min_signed_rank_p(12) * 146 < 0.05, True)
        self.assertEqual(ab.trials_needed(146, 0.05), 12)
        self.assertEqual(ab.trials_needed(1, 0.05), 5)

    def test_hodges_lehmann(self):
        self.assertEqual(ab.hodges_lehmann([1.0, 2.0, 3.0]), 2.0)
        self.assertAlmostEqual(ab.hodges_lehmann([0.0, 0.0, 0.0, 10.0]), 0.0)
        self.assertTrue(math.isnan(ab.hodges_lehmann([])))


class Verdicts(TempDir):
    """The lane on synthetic trials: what it flags and what it does not."""

    def test_identical_distributions_flag_nothing(self):
        for seed in range(5):
            report = self.compare(write_trials(self.path(f"aa{seed}"), seed=seed))
            self.assertEqual(self.flagged(report), [], seed)
            self.assertEqual(report.exit_status, 0)
            self.assertEqual(report.flips, [])
            self.assertLess(abs(report.suite_shift), 0.02)

    def test_ten_percent_slowdown_in_ten_trials_is_flagged(self):
        slow = [n for n in NAMES if n.startswith("w3/")]  # one workload: 10 rows
        report = self.compare(write_trials(self.path("t"), trials=10, noise=0.02,
                                           effect={n: 1.10 for n in slow}))
        self.assertEqual(self.flagged(report), sorted(slow))
        self.assertEqual(report.exit_status, 1)
        for r in report.regressions:
            self.assertAlmostEqual(r.change, 0.10, delta=0.03)
            self.assertGreaterEqual(r.slower, 9)
        # with 10 trials one row alone could not pass BH over 100 rows: the report says so
        self.assertEqual(report.lone_trials, ab.trials_needed(100, 0.05))

    def test_lone_row_needs_the_trials(self):
        effect = {"w5/s2/workers:2": 1.10}
        report = self.compare(write_trials(self.path("t20"), trials=20, effect=effect))
        self.assertEqual(self.flagged(report), ["w5/s2/workers:2"])
        self.assertEqual(report.lone_trials, 0)
        report = self.compare(write_trials(self.path("t10"), trials=10, effect=effect))
        self.assertEqual(self.flagged(report), [], "2/2^10 * 100 rows > 0.05")

    def test_improvement_is_not_a_regression(self):
        report = self.compare(write_trials(self.path("t"), effect={NAMES[0]: 0.8}))
        self.assertEqual(report.regressions, [])
        self.assertEqual(report.rows[0].verdict, "improved")

    def test_small_change_is_below_the_threshold(self):
        slow = {n: 1.02 for n in NAMES if n.startswith("w1/")}
        report = self.compare(write_trials(self.path("t"), noise=0.005, machine=0.0,
                                           effect=slow))
        self.assertEqual(report.regressions, [], "2% < the 5% threshold")
        self.assertTrue(all(r.q < 0.05 for r in report.rows if r.name in slow))

    def test_a_flip_in_one_trial_does_not_flag_everything(self):
        for factor in (2.0, 0.5):
            d = write_trials(self.path(f"flip{factor}"), flips={4: factor})
            report = self.compare(d)
            self.assertEqual(self.flagged(report), [], factor)
            self.assertEqual([t.index for t in report.flips], [4])
            self.assertGreater(report.trials[4].with_shift, 0.95)
            self.assertTrue(any("flipped in 1 of 20" in n for n in report.notes))
            # left as measured, the flip costs power but still flags nothing
            self.assertEqual(self.flagged(self.compare(d, normalise="never")), [])

    def test_flips_do_not_hide_a_regression(self):
        slow = [n for n in NAMES if n.startswith("w7/")]
        d = write_trials(self.path("t"), flips={2: 0.5, 11: 2.0, 15: 0.5},
                         effect={n: 1.10 for n in slow})
        report = self.compare(d)
        self.assertEqual(self.flagged(report), sorted(slow))
        self.assertEqual(sorted(t.index for t in report.flips), [2, 11, 15])
        # three flips against the regression's rows: without normalisation fewer pass
        self.assertLessEqual(len(self.compare(d, normalise="never").regressions), len(slow))

    def test_a_slowdown_of_every_row_stays_catchable(self):
        d = write_trials(self.path("t"), effect={n: 1.10 for n in NAMES})
        report = self.compare(d)
        self.assertEqual(report.flips, [], "a shift in every trial is no flip")
        self.assertGreater(len(report.regressions), 95)
        self.assertAlmostEqual(report.suite_shift, 0.10, delta=0.02)
        self.assertLess(report.suite_p, 0.001)
        # normalisation takes out a trial's shift beyond the median trial's: the common
        # level stays, so normalising every trial keeps it too
        self.assertGreater(len(self.compare(d, normalise="always").regressions), 95)

    def test_failed_head_row_is_a_regression(self):
        d = write_trials(self.path("t"), failed_head=(NAMES[3],))
        report = self.compare(d)
        self.assertEqual([(r.name, r.verdict) for r in report.regressions],
                         [(NAMES[3], "failed")])
        self.assertEqual(report.exit_status, 1)

    def test_too_few_trials_cannot_judge(self):
        report = self.compare(write_trials(self.path("t"), trials=4))
        self.assertEqual(report.exit_status, 2)
        self.assertIn("5 or more trials", report.problems[0])

    def test_bad_input(self):
        d = write_trials(self.path("t"), trials=6)
        os.remove(os.path.join(d, "head-3.json"))
        with self.assertRaisesRegex(InputError, "trials without both runs: 3"):
            ab.load_trials(d)
        with self.assertRaisesRegex(InputError, "not a directory"):
            ab.load_trials(self.path("missing"))
        os.makedirs(self.path("empty"))
        with self.assertRaisesRegex(InputError, "no base-N.json"):
            ab.load_trials(self.path("empty"))
        with self.assertRaisesRegex(InputError, "2 base files but 1 head"):
            ab.load_trials(None, [os.path.join(d, "base-0.json")] * 2,
                           [os.path.join(d, "head-0.json")])
        other = result_data({n: 1e-3 for n in NAMES})
        other["context"][schema.MODE_KEY] = "default"
        with open(os.path.join(d, "head-3.json"), "w") as f:
            json.dump(other, f)
        with self.assertRaisesRegex(InputError, "gilbench_mode"):
            ab.load_trials(d)
        for bad in ({"threshold": 1.5}, {"alpha": 0}, {"normalise": "x"}, {"flip_limit": -1}):
            with self.assertRaises(InputError):
                ab.Options(**bad).check()


class Layout(TempDir):
    """The layout check: flagged rows that did the same work in both builds."""

    ONE, TWO = "w3/s1/workers:1", "w3/s1/workers:2"

    def report(self, effect, counts, ops=None, trials=20):
        """The lane with a stand-in counter: counts {(side, name): instructions}, a
        missing key cannot be counted; ops {side: {counter: value}} of every run."""
        d = write_trials(self.path("t"), trials=trials, noise=0.01, effect=effect)
        loaded = ab.load_trials(d)
        for t in loaded:
            for side in ("base", "head"):
                for run in getattr(t, side).runs.values():
                    run.counters = {c: {0: v} for c, v in (ops or {}).get(side, {}).items()}
        asked = []

        def count(side, name):
            asked.append((side, name))
            if (side, name) not in counts:
                raise LookupError(f"{side}: callgrind failed")
            return counts[side, name]
        report = ab.compare(loaded, ab.Options().check(), count)
        return report, asked, {r.name: r for r in report.rows}

    def test_same_work_is_layout_and_not_gated(self):
        counts = {("base", self.ONE): 1_000_000, ("head", self.ONE): 1_000_000}
        report, asked, rows = self.report({self.ONE: 1.3, self.TWO: 1.3}, counts)
        self.assertEqual(rows[self.ONE].verdict, "layout")
        self.assertEqual(rows[self.TWO].verdict, "layout", rows[self.TWO].note)
        self.assertIn("1,000,000 instructions in both", rows[self.ONE].note)
        self.assertEqual(report.regressions, [])
        self.assertEqual(report.exit_status, 0)
        self.assertEqual(sorted(set(asked)), [("base", self.ONE), ("head", self.ONE)],
                         "only the flagged rows' 1-worker row is counted, once per side")
        self.assertIn("Slower by code placement", ab.markdown(report))
        self.assertEqual(ab.as_data(report)["regressions"], [])

    def test_more_instructions_stay_a_regression(self):
        # even one: a sleep or a system call on the path adds only a few instructions
        counts = {("base", self.ONE): 1_000_000, ("head", self.ONE): 1_000_001}
        report, _, rows = self.report({self.ONE: 1.3, self.TWO: 1.3}, counts)
        self.assertEqual(self.flagged(report), [self.ONE, self.TWO])
        self.assertEqual(report.layout, [])
        self.assertEqual(ab.Options(layout_tolerance=1e-5).check().layout_tolerance, 1e-5)
        with self.assertRaises(InputError):
            ab.Options(layout_tolerance=-0.1).check()

    def test_other_operation_counts_stay_a_regression(self):
        counts = {("base", self.ONE): 1_000_000, ("head", self.ONE): 1_000_000}
        ops = {"base": {"ops_local_refs": 10.0, "ops_checkpoints": 5.0},
               "head": {"ops_local_refs": 12.0, "ops_checkpoints": 5.0}}
        report, asked, rows = self.report({self.ONE: 1.3}, counts, ops)
        self.assertEqual(self.flagged(report), [self.ONE])
        self.assertEqual(asked, [], "operations differ: no need to count instructions")
        ops["head"]["ops_local_refs"] = 10.0
        report, _, rows = self.report({self.ONE: 1.3}, counts, ops)
        self.assertEqual(rows[self.ONE].verdict, "layout")

    def test_a_worse_scaling_is_still_a_regression(self):
        # the 1-worker row moved by placement, the 2-worker row by far more: contention
        counts = {("base", self.ONE): 1_000_000, ("head", self.ONE): 1_000_000}
        report, _, rows = self.report({self.ONE: 1.2, self.TWO: 1.6}, counts)
        self.assertEqual(rows[self.ONE].verdict, "layout")
        self.assertEqual(rows[self.TWO].verdict, "regression")
        self.assertIn("scaling", rows[self.TWO].note)
        self.assertEqual(report.exit_status, 1)
        # a 2-worker row alone slower (a hand-off regression): its scaling changed
        report, _, rows = self.report({self.TWO: 1.3}, counts)
        self.assertEqual(self.flagged(report), [self.TWO])

    def test_uncounted_rows_are_gated_as_measured(self):
        report, _, rows = self.report({self.ONE: 1.3}, {})
        self.assertEqual(self.flagged(report), [self.ONE])
        self.assertTrue(any("not counted" in n for n in report.notes), report.notes)

    def test_workloads_whose_parameters_changed_are_left_out(self):
        d = write_trials(self.path("p"), trials=12, effect={"w3/s1/workers:1": 1.5})
        for t in range(12):
            for side, size in (("base", 10), ("head", 20)):
                path = os.path.join(d, f"{side}-{t}.json")
                with open(path) as f:
                    data = json.load(f)
                data["context"][schema.PARAMS_KEY] = json.dumps(
                    {"w3": {"size": size, "peer": "thread"}, "w4": {"size": 7}})
                with open(path, "w") as f:
                    json.dump(data, f)
        report = self.compare(d)
        self.assertEqual(report.exit_status, 0, "w3 changed its size: not compared")
        self.assertFalse(any(r.name.startswith("w3/") for r in report.rows))
        self.assertEqual(len(report.rows), 90)
        self.assertTrue(any("w3 (size 10 -> 20)" in n for n in report.notes), report.notes)

    def test_one_worker_row_name(self):
        self.assertEqual(ab.one_worker_row("a/b/workers:2"), "a/b/workers:1")
        self.assertEqual(ab.one_worker_row("a/b/workers:12/bytecode:40"),
                         "a/b/workers:1/bytecode:40")
        self.assertEqual(ab.one_worker_row("convoy/gil/io_workers:1"), "convoy/gil/io_workers:1")


class CountsDoNotDependOnThePath(TempDir):
    """The layout check compares callgrind counts exactly, so one binary must count the
    same wherever it lies. A process worker once kept its binary's path on its heap, and
    from build-ab/build/ (the A/B lane's base) countdown/process/workers:1 counted 40,745
    instructions more than from build/: the lane then gated a code-placement slowdown of
    every `process` row as a regression."""

    def test_a_process_row_counts_the_same_from_two_paths(self):
        real = os.environ.get("GILBENCH_BIN")
        if not real:
            self.skipTest("needs --gilbench=BIN")
        if shutil.which("valgrind") is None:
            self.skipTest("valgrind is not installed")
        # A path of 23 characters is a 24-byte string, the size of the workload's
        # integer objects (under the old worker its count differed by 4,060 at --quick);
        # the other one is 60 and more.
        short = tempfile.mkdtemp(prefix="g", dir="/tmp")
        self.addCleanup(shutil.rmtree, short, ignore_errors=True)
        long = self.path("a-much-longer-directory-name", "and-deeper")
        os.makedirs(long)
        counts = []
        for where in (short, long):
            binary = os.path.join(where, "gilbench")
            shutil.copy2(real, binary)
            work = tempfile.mkdtemp(dir=self.tmp)
            counts.append(instructions.count_instructions(
                binary, ["--quick"], "countdown/process/workers:1", work)[0])
        self.assertGreater(counts[0], 0)
        self.assertEqual(counts[0], counts[1], f"{short} against {long}")


class PowerPatches(unittest.TestCase):
    """bench/gate_power.py's code regressions are patches of this tree: each must still
    apply, or the power table cannot be measured (false_sharing.patch once broke when
    Context::checkpoint changed)."""

    def test_every_patch_applies(self):
        if subprocess.run(["git", "-C", REPO, "rev-parse", "--git-dir"],
                          capture_output=True).returncode != 0:
            self.skipTest("not a git checkout")
        patches = sorted(f for f in os.listdir(os.path.join(REPO, "bench", "gate_power"))
                         if f.endswith(".patch"))
        self.assertEqual(len(patches), 4)
        for name in patches:
            code, _, err = run_cmd("git", "-C", REPO, "apply", "--check",
                                   os.path.join("bench", "gate_power", name))
            self.assertEqual(code, 0, f"{name} no longer applies: {err}")


def load_gate_power():
    """bench/gate_power.py as a module (a script, not a package member)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "gate_power", os.path.join(REPO, "bench", "gate_power.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PowerLedger(TempDir):
    """gate_power.py's ledger: pairs judged in several runs add up per case and machine
    class; pairs made with another gate are left out and counted; bad input exits 2."""

    GATE_POWER = os.path.join(REPO, "bench", "gate_power.py")
    MACHINE = "Test CPU (family 1 model 2 stepping 3), 2 CPUs usable"

    def entry(self, gp, key, flagged_ab, threshold=0.07, commit="a" * 40, instructions=None):
        args = argparse.Namespace(trials=16, ab_repetitions=3, ab_threshold=threshold)
        flags = {"inject1": ["--inject-slowdown=countdown/serial:0.1"]}.get(key, [])
        case = gp.Case(key, "", None, flags)
        def row(name):
            workload, strategy, workers = name.split("/")
            return gp.Row({"name": name, "workload": workload, "strategy": strategy,
                           "workers": workers.partition(":")[2]})
        lanes = {"flips": 0, "layout_check": True, "instructions_counted": instructions is not None,
                 "instructions": [row(n) for n in instructions or []]}
        for mode in gp.NORMALISE_SHOWN:
            lanes[f"ab:{mode}"] = [row(n) for n in flagged_ab]
        return gp.ledger_entry(args, case, lanes, dict(
            commit=commit, machine=self.MACHINE, date="2026-12-03", seed=1, pair="x",
            source="test"))

    def test_pairs_add_up_across_runs(self):
        gp = load_gate_power()
        ledger = self.path("pairs.jsonl")
        target = "countdown/serial/workers:1"
        for e in [self.entry(gp, "aa", [], instructions=[]),
                  # not counted, and no pair of its commit was: its instruction lane is missing
                  self.entry(gp, "aa", [], commit="b" * 40),
                  # not counted: the counts of commit a's pair stand for it
                  self.entry(gp, "aa", ["list_sum/gil/workers:2"]),
                  self.entry(gp, "inject1", [target], instructions=[target]),
                  # the A/B lane flags a row outside the injected strategy: not caught
                  # there; the instruction lane's reused verdict catches it
                  self.entry(gp, "inject1", [target, "list_sum/gil/workers:1"]),
                  # another threshold: another gate, not counted
                  self.entry(gp, "aa", ["list_sum/gil/workers:1"], threshold=0.1)]:
            gp.append_ledger(ledger, e)
        code, out, err = run_cmd("/usr/bin/python3", self.GATE_POWER, "--out", self.path("o"),
                                 "--from-ledger", "--ledger", ledger, "--cases", "aa,inject1")
        self.assertEqual(code, 0, err)
        self.assertIn(f"## {self.MACHINE}", out)
        rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")
                for line in out.splitlines() if line.startswith("| aa ") or
                line.startswith("| inject1 ")}
        # columns: case, change, instructions, A/B lane, CI (either), ...
        self.assertEqual(rows["aa"][2:5], ["0/2 (1 counted)", "1/3", "1/3"])
        self.assertEqual(rows["inject1"][2:5], ["2/2 (1 counted)", "1/2", "2/2"])
        self.assertIn("1 pairs of the ledger were made with another gate", out)
        self.assertIn("aaaaaaaaaaaa (2026-12-03): 4", out)
        with open(self.path("o", "gate_power.md")) as f:
            self.assertEqual(f.read().strip(), out.strip())

    def test_bad_input_exits_2(self):
        ledger = self.path("bad.jsonl")
        with open(ledger, "w") as f:
            f.write('{"case": "aa"}\n')
        code, _, err = run_cmd("/usr/bin/python3", self.GATE_POWER, "--out", self.path("o"),
                               "--from-ledger", "--ledger", ledger)
        self.assertEqual(code, 2)
        self.assertIn(f"{ledger}:1: not a ledger line", err)
        code, _, err = run_cmd("/usr/bin/python3", self.GATE_POWER, "--out", self.path("o"),
                               "--from-ledger")
        self.assertEqual(code, 2)
        self.assertIn("need --ledger", err)
        code, _, err = run_cmd("/usr/bin/python3", self.GATE_POWER, "--out", self.path("o"),
                               "--from-ledger", "--ledger", self.path("missing.jsonl"))
        self.assertEqual(code, 2)
        self.assertIn("No such file", err)


class PlotCommand(TempDir):
    """plot.py ab: exit statuses, the markdown's verdict first, strict JSON."""

    def test_exit_statuses_and_outputs(self):
        ok = write_trials(self.path("ok"))
        code, out, err = run_cmd("/usr/bin/python3", PLOT, "ab", "--trials", ok, "--json",
                                 self.path("ok.json"), "--markdown", self.path("ok.md"))
        self.assertEqual(code, 0, err)
        self.assertTrue(out.startswith("## gilbench ab: no regression (exit status 0)"), out[:200])
        with open(self.path("ok.md")) as f:
            self.assertEqual(f.read(), out)
        with open(self.path("ok.json")) as f:
            data = json.loads(f.read(), parse_constant=lambda c: self.fail(f"bare {c}"))
        self.assertEqual((data["exit_status"], len(data["rows"]), len(data["trials"])),
                         (0, 100, 20))
        slow = write_trials(self.path("slow"), effect={n: 1.2 for n in NAMES[:10]})
        code, out, _ = run_cmd("/usr/bin/python3", PLOT, "ab", "--trials", slow)
        self.assertEqual(code, 1)
        self.assertTrue(out.startswith("## gilbench ab: REGRESSION (10)"), out[:200])
        self.assertIn("### Flagged rows", out)
        # paired file lists work the same as the directory
        files = sorted(os.listdir(slow))
        base = [os.path.join(slow, f"base-{t}.json") for t in range(20)]
        head = [os.path.join(slow, f"head-{t}.json") for t in range(20)]
        code, _, _ = run_cmd("/usr/bin/python3", PLOT, "ab", *base, "--head", *head)
        self.assertEqual(code, 1, files)
        few = write_trials(self.path("few"), trials=3)
        code, _, err = run_cmd("/usr/bin/python3", PLOT, "ab", "--trials", few)
        self.assertEqual(code, 2)
        self.assertIn("plot.py: error: ab cannot judge", err)
        code, _, err = run_cmd("/usr/bin/python3", PLOT, "ab", "--trials", self.path("nope"))
        self.assertEqual((code, err.count("\n")), (2, 1), err)
        code, _, err = run_cmd("/usr/bin/python3", PLOT, "ab", "--trials", ok, "--alpha", "2")
        self.assertEqual(code, 2, err)
        # the layout check needs both binaries, and executable ones
        code, _, err = run_cmd("/usr/bin/python3", PLOT, "ab", "--trials", ok, "--base-bin",
                               sys.executable)
        self.assertEqual(code, 2, err)
        self.assertIn("both --base-bin and --head-bin", err)
        code, _, err = run_cmd("/usr/bin/python3", PLOT, "ab", "--trials", ok, "--base-bin",
                               sys.executable, "--head-bin", self.path("missing"))
        self.assertEqual(code, 2, err)
        self.assertIn("not an executable gilbench binary", err)
        code, _, err = run_cmd("/usr/bin/python3", PLOT, "ab", "--trials", ok,
                               "--layout-tolerance", "-1")
        self.assertEqual(code, 2, err)


# Stand-ins for gilbench: --list prints its names; a run writes a synthetic result
# (factor SLOW on every row when the file name says "slow").
FAKE = textwrap.dedent("""\
    #!/usr/bin/python3
    import json, math, os, random, sys
    sys.path.insert(0, {lib!r})
    sys.path.insert(0, {tests!r})
    import ab_test
    names = ab_test.NAMES[:{rows}]
    args = sys.argv[1:]
    if "--list" in args:
        print("\\n".join(names + {extra!r}))
        sys.exit(0)
    out = next(a.split("=", 1)[1] for a in args if a.startswith("--out="))
    rng = random.Random()
    factor = {factor!r} * (1.25 if "--inject-slowdown=all:0.25" in args else 1.0)
    times = {{n: 0.01 * (1 + i / 50) * factor * math.exp(rng.gauss(0, 0.01))
              for i, n in enumerate(ab_test.NAMES)}}
    with open(out, "w") as f:
        json.dump(ab_test.result_data(times), f)
    """)


class AbScript(TempDir):
    """bench/ab.sh: its SKIPPED paths, and the whole pipeline with stand-in binaries."""

    def fake(self, name, factor=1.0, extra=(), rows=len(NAMES)):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(FAKE.format(lib=os.path.join(REPO, "bench", "python"), tests=HERE,
                                factor=factor, extra=list(extra), rows=rows))
        os.chmod(path, 0o755)
        return path

    def ab(self, *args, cwd=None):
        return run_cmd(AB_SH, "--work", self.path("work"), *args, cwd=cwd)

    def test_base_ref_that_does_not_exist(self):
        code, _, err = self.ab("no-such-ref-xyz", "--head-bin", self.fake("head"))
        self.assertEqual(code, 0, err)
        self.assertIn("ab.sh: SKIPPED: base no-such-ref-xyz is not a commit", err)
        with open(self.path("work", "skipped.txt")) as f:
            self.assertIn("SKIPPED", f.read())
        code, _, err = self.ab("no-such-ref-xyz", "--strict", "--head-bin", self.fake("head"))
        self.assertEqual(code, 2, err)

    def test_different_benchmark_sets(self):
        base = self.fake("base", rows=len(NAMES) - 1)
        head = self.fake("head", extra=["new/strategy/workers:1"])
        code, _, err = self.ab("--base-bin", base, "--head-bin", head)
        self.assertEqual(code, 0, err)
        self.assertIn("SKIPPED: base and head run different benchmark sets", err)
        only_head = err.split("only in head: ")[1].strip()
        self.assertEqual(sorted(only_head.split(", ")), sorted([NAMES[-1], "new/strategy/workers:1"]))
        self.assertIn("only in base: none", err)
        self.assertEqual(self.ab("--strict", "--base-bin", base, "--head-bin", head)[0], 2)

    def test_different_sets_of_the_real_binary(self):
        real = os.environ.get("GILBENCH_BIN")
        if not real:
            self.skipTest("needs --gilbench=BIN")
        wrapper = self.path("fewer")
        with open(wrapper, "w") as f:  # the real binary, one benchmark fewer in its list
            f.write(f"#!/bin/sh\n{real} \"$@\" | grep -v '^countdown/serial/workers:1$'\n")
        os.chmod(wrapper, 0o755)
        code, _, err = self.ab("--base-bin", wrapper, "--head-bin", real)
        self.assertEqual(code, 0, err)
        self.assertIn("only in head: countdown/serial/workers:1", err)

    def test_pipeline_passes_and_flags(self):
        same = self.fake("same")
        code, _, err = self.ab("--base-bin", same, "--head-bin", same, "--trials", "8")
        self.assertEqual(code, 0, err)
        with open(self.path("work", "ab.json")) as f:
            data = json.load(f)
        self.assertEqual((data["exit_status"], len(data["trials"])), (0, 8))
        self.assertEqual(sorted(t["first"] for t in data["trials"]) != [None] * 8, True)
        shutil.rmtree(self.path("work"))
        code, out, err = self.ab("--base-bin", same, "--head-bin", same, "--trials", "8",
                                 "--head-flag=--inject-slowdown=all:0.25")
        self.assertEqual(code, 1, err)
        self.assertIn("REGRESSION", out)
        self.assertEqual(self.ab("--base-bin", same, "--trials", "0")[0], 2)
        self.assertEqual(self.ab("--base-bin", same, "--", "--out=x.json")[0], 2)

    def git_repo(self, *commits):
        """A scratch repository with ab.sh and python.sh, one commit per {path: text}."""
        repo = self.path("repo")
        os.makedirs(os.path.join(repo, "bench"))
        for script in ("ab.sh", "python.sh"):
            shutil.copy(os.path.join(REPO, "bench", script), os.path.join(repo, "bench"))
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
        run_cmd("git", "init", "-q", repo, env=env)
        for files in commits:
            for name, text in files.items():
                with open(os.path.join(repo, name), "w") as f:
                    f.write(text)
            run_cmd("git", "-C", repo, "add", "-A", env=env)
            code, _, err = run_cmd("git", "-C", repo, "commit", "-qm", "c", env=env)
            self.assertEqual(code, 0, err)
        return repo

    def test_base_that_does_not_configure(self):
        repo = self.git_repo({"CMakeLists.txt": "message(FATAL_ERROR \"broken base\")\n"},
                             {"main.cpp": "int main() {}\n"})
        code, _, err = run_cmd(os.path.join(repo, "bench", "ab.sh"), "HEAD~1", "--head-bin",
                               self.fake("head"), "--work", self.path("w"))
        self.assertEqual(code, 0, err)
        self.assertIn("SKIPPED: base HEAD~1 does not configure", err)

    def test_no_source_change_and_shallow_clone(self):
        repo = self.git_repo({"main.cpp": "int main() {}\n"}, {"README.md": "docs\n"})
        code, _, err = run_cmd(os.path.join(repo, "bench", "ab.sh"), "HEAD~1", "--head-bin",
                               self.fake("head"), "--work", self.path("w"))
        self.assertEqual(code, 0, err)
        self.assertIn("SKIPPED: no file that goes into gilbench changed", err)
        clone = self.path("clone")
        code, _, err = run_cmd("git", "clone", "-q", "--depth", "1", "file://" + repo, clone)
        self.assertEqual(code, 0, err)
        code, _, err = run_cmd(os.path.join(clone, "bench", "ab.sh"), "HEAD~1", "--head-bin",
                               self.fake("head"), "--work", self.path("w2"))
        self.assertEqual(code, 0, err)
        self.assertIn("SKIPPED: base HEAD~1 is not a commit of this clone (a shallow clone", err)


if __name__ == "__main__":
    plot_support.main()
