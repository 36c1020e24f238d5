#!/usr/bin/python3
"""plot.py export against the trackers' documented formats, and docs/trackers.md, run.

Formats (recorded fixtures, no binary needed): `export --format=github-action-benchmark`
writes customSmallerIsBetter.json and customBiggerIsBetter.json, each valid against
the action's custom-tool input (tests/fixtures/trackers/github-action-benchmark.schema.json,
from its src/extract.ts and README); `export --format=bencher` writes Bencher Metric
Format (tests/fixtures/trackers/bmf.schema.json, Bencher's https://bencher.dev/bmf.json).
One entry per benchmark and metric (no repetition, no aggregate row), each in the file of
its direction, values equal to the library's medians; every file strict JSON that node's
JSON.parse reads too.

The document (needs --gilbench=BIN, valgrind and Debian's compare.py): every ```sh block
of docs/trackers.md runs, in order, in one bash -euo pipefail in a temporary directory,
with REPS=5 and these substitutions: build/gilbench -> a wrapper that runs BIN with
--workloads=countdown,convoy --strategies=serial,gil (a short suite), plot.py and
bench/record_history.sh -> this checkout's, and `bencher` -> a stand-in on PATH (no
Bencher server here) that checks its arguments: `run --adapter json --file F`, F valid
BMF, each --threshold-measure a measure of F with the boundary of its direction (upper
for latency and instructions, lower for speedup and io-rps-ratio), every threshold option
given once per measure. The ```yaml workflow snippets are parsed: their `run:` steps run
too (GITHUB_ACTIONS=true, GITHUB_STEP_SUMMARY set), and the github-action-benchmark
steps use only the action's inputs (its action.yml), a custom tool, distinct names, and
an output-file-path the commands wrote, valid for that tool and holding only metrics of
its direction.

    /usr/bin/python3 tests/trackers_test.py [--gilbench=build/gilbench] [-v]
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PLOT = os.path.join(REPO, "plot.py")
DOC = os.path.join(REPO, "docs", "trackers.md")
FIXTURES = os.path.join(HERE, "fixtures")
TRACKERS = os.path.join(FIXTURES, "trackers")
A = os.path.join(FIXTURES, "quick_a.json")  # with instruction counts
SWEEP = os.path.join(FIXTURES, "convoy_sweep.json")  # convoy: io_rps_ratio
COMPARE_PY = "/usr/share/benchmark/compare.py"
NARROW = ["--workloads=countdown,convoy", "--strategies=serial,gil"]

sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "bench", "python"))
from json_check import NO_NODE, node_parse, strict_load, validate  # noqa: E402
from gilbench_results import export  # noqa: E402
from gilbench_results.gate import speedup_samples  # noqa: E402
from gilbench_results.load import load_result  # noqa: E402
from gilbench_results.stats import median  # noqa: E402


def schema(name):
    with open(os.path.join(TRACKERS, name)) as f:
        return json.load(f)


GAB_SCHEMA = schema("github-action-benchmark.schema.json")
BMF_SCHEMA = schema("bmf.schema.json")
GAB_ACTION = schema("github-action-benchmark.inputs.json")
# The metrics of each direction (export.METRICS), as the entries' names end.
SMALLER = {m for m, (_, _, better, _) in export.METRICS.items() if better == export.SMALLER}
BIGGER = {m for m, (_, _, better, _) in export.METRICS.items() if better == export.BIGGER}
TOOL_METRICS = {"customSmallerIsBetter": SMALLER, "customBiggerIsBetter": BIGGER}
# Bencher measure -> the boundary its threshold needs (the direction of a regression).
BENCHER_BOUNDARY = {slug: ("upper" if better == export.SMALLER else "lower")
                    for slug, better in ((v[1], v[2]) for v in export.METRICS.values())}
# github-action-benchmark's range parser (src/extractRangeInfo.ts): "± d" or "+- d".
GAB_RANGE = re.compile(r"(?P<prefix>(\+-|±)\s*)(?P<value>\d.*)")
AGGREGATE = re.compile(r"_(mean|median|stddev|cv)\b")


def metric_of(entry_name):
    return re.fullmatch(r".* \[(\w+)\]", entry_name).group(1)


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot_support  # noqa: E402
from plot_support import run_plot  # noqa: E402


class Checks(unittest.TestCase):
    def assert_strict(self, path):
        """Strict Python parse and node's JSON.parse; returns the data."""
        data = strict_load(path)
        err = node_parse(path)
        if err == NO_NODE:
            print(f"\n{path}: node is not installed: JSON.parse skipped", file=sys.stderr)
        else:
            self.assertIsNone(err, f"{path}: node's JSON.parse: {err}")
        return data

    def assert_gab(self, path, tool):
        """A github-action-benchmark custom-tool file: valid, strict, one direction,
        unique names, no repetition or aggregate row."""
        data = self.assert_strict(path)
        self.assertEqual(validate(GAB_SCHEMA, data), [], path)
        names = [e["name"] for e in data]
        self.assertEqual(len(names), len(set(names)), "one entry per benchmark and metric")
        for e in data:
            self.assertIn(metric_of(e["name"]), TOOL_METRICS[tool], e["name"])
            self.assertIsNone(AGGREGATE.search(e["name"]), e["name"])
            if "range" in e:
                m = GAB_RANGE.search(e["range"])
                self.assertTrue(m and float(m.group("value")) >= 0, e["range"])
        return data

    def assert_bmf(self, path_or_data):
        data = (self.assert_strict(path_or_data) if isinstance(path_or_data, str)
                else path_or_data)
        self.assertEqual(validate(BMF_SCHEMA, data), [])
        for name, measures in data.items():
            self.assertLessEqual(len(name), export.BENCHER_NAME_MAX)
            self.assertIsNone(AGGREGATE.search(name), name)
            for slug, m in measures.items():
                self.assertLessEqual(len(slug), export.BENCHER_SLUG_MAX)
                self.assertIn(slug, BENCHER_BOUNDARY)
                if "lower_value" in m:
                    self.assertLessEqual(m["lower_value"], m["value"])
                    self.assertLessEqual(m["value"], m["upper_value"])
        return data


class Formats(Checks):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="trackers-test-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def expected(self, path):
        """{(benchmark, metric): value in the export's unit} from the library."""
        r = load_result(path)
        out = {}
        for run in r.runs.values():
            if run.failed:
                continue
            out[(run.name, "time")] = median(run.samples()) * 1e3
            pair = speedup_samples(r, run)
            if pair and run.strategy != r.reference:
                out[(run.name, "speedup")] = median(pair[0]) / median(pair[1])
            if run.counter_samples("io_rps_ratio"):
                out[(run.name, "io_rps_ratio")] = median(run.counter_samples("io_rps_ratio"))
            if run.name in (r.instructions or {}):
                out[(run.name, "instructions")] = float(r.instructions[run.name])
        return out

    def test_github_action_benchmark(self):
        for source in (A, SWEEP):
            out = os.path.join(self.tmp, os.path.basename(source) + ".gab")
            code, stdout, err = run_plot("export", source, "--format=github-action-benchmark",
                                         "--out", out)
            self.assertEqual(code, 0, err)
            self.assertEqual(stdout, "")
            got = {}
            for tool, fname in (("customSmallerIsBetter", "customSmallerIsBetter.json"),
                                ("customBiggerIsBetter", "customBiggerIsBetter.json")):
                for e in self.assert_gab(os.path.join(out, fname), tool):
                    name, metric = re.fullmatch(r"(.*) \[(\w+)\]", e["name"]).groups()
                    got[(name, metric)] = e["value"]
            want = self.expected(source)
            self.assertEqual(set(got), set(want), "exactly one entry per benchmark and metric")
            for key, value in want.items():
                self.assertAlmostEqual(got[key], value, delta=abs(value) * 1e-12, msg=key)
            metrics = {m for _, m in got}
            self.assertIn("time", metrics)
            self.assertIn("speedup", metrics)
            self.assertIn("instructions" if source == A else "io_rps_ratio", metrics)

    def test_bencher(self):
        for source in (A, SWEEP):
            path = os.path.join(self.tmp, "bmf.json")
            code, _, err = run_plot("export", source, "--format=bencher", "--out", path)
            self.assertEqual(code, 0, err)
            data = self.assert_bmf(path)
            r = load_result(source)
            self.assertEqual(set(data), {n for n, run in r.runs.items() if not run.failed})
            for (name, metric), value in self.expected(source).items():
                slug = export.METRICS[metric][1]
                scale = 1e6 if metric == "time" else 1.0  # ms -> ns (Bencher's latency)
                self.assertAlmostEqual(data[name][slug]["value"], value * scale,
                                       delta=abs(value * scale) * 1e-12)
            # printed when there is no --out: the same document
            code, stdout, err = run_plot("export", source, "--format=bencher")
            self.assertEqual(code, 0, err)
            self.assertEqual(json.loads(stdout), data)

    def test_bad_input_is_one_line_exit_2(self):
        afile = os.path.join(self.tmp, "a-file")
        open(afile, "w").close()
        for args in (["export", os.path.join(self.tmp, "missing.json"), "--format=bencher"],
                     ["export", A, "--format=github-action-benchmark"],
                     ["export", A, "--format=github-action-benchmark", "--out", afile],
                     ["export", A, "--format=csv"],
                     ["export", A]):
            code, _, err = run_plot(*args)
            self.assertEqual(code, 2, (args, err))
            self.assertNotIn("Traceback", err)
            self.assertTrue(err.strip().splitlines()[-1].startswith("plot.py: error: "), err)

    def test_failed_runs_are_left_out(self):
        with open(A) as f:
            data = json.load(f)
        for row in data["benchmarks"]:
            if row["run_name"] == "countdown/gil/workers:2":
                row["error_occurred"], row["error_message"] = True, "checksum mismatch"
        path = os.path.join(self.tmp, "failed.json")
        with open(path, "w") as f:
            json.dump(data, f)
        code, stdout, err = run_plot("export", path, "--format=bencher")
        self.assertEqual(code, 0, err)
        self.assertNotIn("countdown/gil/workers:2", json.loads(stdout))
        self.assertIn("1 failed runs left out", err)
        for row in data["benchmarks"]:
            row["error_occurred"], row["error_message"] = True, "all failed"
        with open(path, "w") as f:
            json.dump(data, f)
        code, _, err = run_plot("export", path, "--format=bencher")
        self.assertEqual(code, 2, err)
        self.assertIn("nothing to export", err)


BENCHER_STANDIN = r'''#!/usr/bin/python3
"""A stand-in for Bencher's CLI (no server here): checks `bencher run`'s arguments and
its --file, and records what it saw in $BENCHER_LOG."""
import json, os, sys
sys.path.insert(0, %(here)r)
from json_check import strict_load, validate
argv = sys.argv[1:]
def fail(msg):
    sys.exit("bencher stand-in: " + msg)
if not argv or argv[0] != "run":
    fail("only `bencher run` is known here")
opts, i = {}, 1
flags = {"--err"}
while i < len(argv):
    a = argv[i]
    if not a.startswith("--"):
        fail("unexpected argument %%r" %% a)
    if a in flags:
        opts.setdefault(a, []).append(True); i += 1; continue
    if i + 1 >= len(argv):
        fail(a + " needs a value")
    opts.setdefault(a, []).append(argv[i + 1]); i += 2
for key in ("--project", "--branch", "--testbed", "--adapter", "--file"):
    if len(opts.get(key, [])) != 1:
        fail(key + " must be given once")
if opts["--adapter"] != ["json"]:
    fail("--adapter must be json (BMF)")
data = strict_load(opts["--file"][0])
problems = validate(json.load(open(%(schema)r)), data)
if problems:
    fail("not BMF: " + "; ".join(problems[:3]))
measures = opts.get("--threshold-measure", [])
known = {m for bench in data.values() for m in bench}
boundary = json.loads(%(boundary)r)
for key in ("--threshold-test", "--threshold-upper-boundary", "--threshold-lower-boundary"):
    if len(opts.get(key, [])) != len(measures):
        fail("%%s given %%d times for %%d measures" %% (key, len(opts.get(key, [])),
                                                     len(measures)))
for k, m in enumerate(measures):
    if m not in known:
        fail("threshold measure %%r is not in the file" %% m)
    upper = opts["--threshold-upper-boundary"][k]
    lower = opts["--threshold-lower-boundary"][k]
    want = boundary[m]
    if (want == "upper") != (upper != "_") or (want == "lower") != (lower != "_"):
        fail("measure %%s needs only a%%s %%s boundary" %% (m, "n" if want == "upper" else "",
                                                         want))
with open(os.environ["BENCHER_LOG"], "w") as f:
    json.dump({"file": opts["--file"][0], "measures": measures, "benchmarks": len(data)}, f)
'''


def blocks(kind):
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"```%s\n(.*?)```" % kind, text, re.S)


class Document(Checks):
    """docs/trackers.md: every command runs, every workflow step checks out."""

    @classmethod
    def setUpClass(cls):
        cls.bin = os.environ.get("GILBENCH_BIN")
        if not cls.bin:
            raise unittest.SkipTest("needs --gilbench=BIN")
        for tool, why in (("valgrind", "apt-get install valgrind"),):
            if shutil.which(tool) is None:
                raise unittest.SkipTest(f"{tool} is not installed ({why})")
        if not os.path.exists(COMPARE_PY):
            raise AssertionError(f"{COMPARE_PY} missing: apt-get install libbenchmark-tools")
        cls._tmp = tempfile.TemporaryDirectory(prefix="trackers-doc-")
        cls.tmp = tmp = cls._tmp.name
        os.makedirs(os.path.join(tmp, "bin"))
        cls.wrapper = os.path.join(tmp, "bin", "gilbench-narrow")
        with open(cls.wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s %s \"$@\"\n" % (cls.bin, " ".join(NARROW)))
        os.chmod(cls.wrapper, 0o755)
        standin = os.path.join(tmp, "bin", "bencher")
        with open(standin, "w") as f:
            f.write(BENCHER_STANDIN % {"here": HERE, "schema": os.path.join(TRACKERS,
                                                                             "bmf.schema.json"),
                                       "boundary": json.dumps(BENCHER_BOUNDARY)})
        os.chmod(standin, 0o755)
        cls.env = dict(os.environ, REPS="5", PATH=os.path.join(tmp, "bin") + ":"
                       + os.environ.get("PATH", ""), BENCHER_LOG=os.path.join(tmp, "bencher.log"))
        cls.env.pop("GITHUB_ACTIONS", None)
        script = "set -euo pipefail\n" + "\n".join(cls.substituted(b) for b in blocks("sh"))
        cls.ran = subprocess.run(["bash", "-c", script], cwd=tmp, env=cls.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 timeout=900)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    @classmethod
    def substituted(cls, text):
        text = text.replace("/usr/bin/python3 plot.py", f"/usr/bin/python3 {PLOT}")
        text = text.replace("build/gilbench", cls.wrapper)
        return re.sub(r"(^|\s)bench/record_history\.sh",
                      lambda m: m.group(1) + os.path.join(REPO, "bench", "record_history.sh"),
                      text, flags=re.M)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def test_commands_run(self):
        self.assertEqual(self.ran.returncode, 0,
                         f"stderr:\n{self.ran.stderr[-4000:]}\nstdout:\n{self.ran.stdout[-2000:]}")
        self.assertIn("plot.py compare: exit status", self.ran.stdout)
        status = int(re.search(r"plot.py compare: exit status (\d+)", self.ran.stdout).group(1))
        self.assertIn(status, (0, 1), self.ran.stderr[-3000:])  # a verdict, not bad input
        self.assertIn("OVERALL_GEOMEAN", self.ran.stdout, "compare.py ran")

    def test_outputs_are_valid(self):
        self.assertEqual(self.ran.returncode, 0, self.ran.stderr[-3000:])
        report = self.assert_strict(self.path("compare.json"))
        self.assertEqual(report["exit_status"], int(re.search(
            r"exit status (\d+)", self.ran.stdout).group(1)))
        for tool in TOOL_METRICS:
            data = self.assert_gab(self.path("gab", tool + ".json"), tool)
            self.assertTrue(data)
        bmf = self.assert_bmf(self.path("bmf.json"))
        self.assertEqual(set(bmf), set(load_result(self.path("new.json")).runs))
        for name in ("base.json", "new.json"):
            self.assertIsNotNone(load_result(self.path(name)).instructions, name)
        with open(self.path("bencher.log")) as f:
            seen = json.load(f)
        self.assertEqual(sorted(seen["measures"]), sorted(BENCHER_BOUNDARY))
        runs = [d for d in os.listdir(self.path("history")) if not d.startswith(".")]
        self.assertEqual(len(runs), 2, runs)
        self.assert_strict(self.path("history-report", "history.json"))
        with open(self.path("history-report", "history.md")) as f:
            self.assertTrue(f.read().startswith("# gilbench history"))

    def test_workflow_steps(self):
        self.assertEqual(self.ran.returncode, 0, self.ran.stderr[-3000:])
        try:
            import yaml
        except ImportError:
            self.skipTest("the workflow snippets need PyYAML for /usr/bin/python3 "
                          "(apt-get install python3-yaml)")
        steps = [s for b in blocks("yaml") for s in yaml.safe_load(b)]
        self.assertTrue(steps)
        summary = self.path("summary.md")
        env = dict(self.env, GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=summary)
        names = []
        for step in steps:
            if "run" in step:
                p = subprocess.run(["bash", "-c", "set -eo pipefail\n"
                                    + self.substituted(step["run"])], cwd=self.tmp, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   timeout=600)
                gate = "plot.py compare" in step["run"]
                self.assertIn(p.returncode, (0, 1) if gate else (0,), (step, p.stderr[-2000:]))
                if gate:  # annotations: one per flagged row of a gated lane, on stderr
                    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("::error")]
                    self.assertEqual(bool(errors), p.returncode == 1, p.stderr[-2000:])
                continue
            self.assertTrue(step["uses"].startswith("benchmark-action/github-action-benchmark@"))
            inputs = step["with"]
            self.assertLessEqual(set(inputs), set(GAB_ACTION["inputs"]), step)
            self.assertIn(inputs["tool"], TOOL_METRICS)
            self.assertIn(inputs["tool"], GAB_ACTION["tools"])
            names.append(inputs["name"])
            self.assert_gab(self.path(inputs["output-file-path"]), inputs["tool"])
        self.assertEqual(len(names), len(set(names)), "each data set its own name")
        self.assertEqual(len(names), 2)
        with open(summary) as f:
            self.assertTrue(f.read().startswith("## gilbench compare: "))


if __name__ == "__main__":
    plot_support.main()
