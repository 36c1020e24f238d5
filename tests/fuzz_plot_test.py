#!/usr/bin/python3
"""Property-based fuzz test of plot.py's input handling (hypothesis).

Starts from recorded gilbench results (tests/fixtures/quick_a.json,
quick_a2.json, convoy_sweep.json), mutates them (wrong types for any field,
NaN / Infinity / 0 / negative / huge / tiny numbers, missing and extra keys,
unicode, very long and odd benchmark names, numeric run_name, lists where
strings are expected, a run's fields in gilbench_runs of the wrong type or
missing, rows dropped or duplicated, truncation at a random byte offset,
flipped bytes) and runs every sub-command on them, asserting plot.py's
exit-status contract:

  - the status is 0, 1 or 2, never 3 (an internal error) and there is no
    "Traceback" on stderr; a status 2 ends stderr with one line
    `plot.py: error: ...`;
  - compare (BASE and NEW mutated separately) exits 2, never 0 or 1, when
    either file holds a non-finite or non-positive real_time in an iteration
    row, or is not JSON at all; charts likewise;
  - instructions, with a fake --gilbench (a shell script that fails, writes
    nothing, or writes the row without a measured region, so that valgrind
    only runs that script), never exits 0: nothing is counted; and it leaves
    the result file as it was;
  - export (both formats) exits 0 or 2, 2 for a non-finite or non-positive
    time, and what it writes with 0 is strict JSON (no NaN: json.loads with
    parse_constant refusing it) valid against the tracker's schema
    (tests/fixtures/trackers/);
  - history on a folder of two to three files, some mutated, exits 0 or 2,
    and its history.json is strict JSON when it exits 0.

plot.main() runs in this process (much faster than a process per example,
stdout and stderr captured, SystemExit caught); a few examples also run the
real entry point (/usr/bin/python3 plot.py) to show that it behaves the same.
The budget is fixed (derandomize=True: the same examples every run); the
example counts and the time are printed at the end.

    /usr/bin/python3 tests/fuzz_plot_test.py
    FUZZ_SCALE=10 /usr/bin/python3 tests/fuzz_plot_test.py   # 10 times the examples
"""

import collections
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time

WORK = tempfile.TemporaryDirectory(prefix="plot-fuzz-")
# hypothesis keeps a cache (.hypothesis/) in the working directory unless told otherwise
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = os.path.join(WORK.name, ".hypothesis")
try:
    from hypothesis import HealthCheck, given, settings, strategies as st
except ImportError:
    sys.exit("fuzz_plot_test.py: needs hypothesis for /usr/bin/python3 "
             "(apt-get install python3-hypothesis)")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PLOT = os.path.join(REPO, "plot.py")
FIXTURES = os.path.join(HERE, "fixtures")
SOURCES = {name: os.path.join(FIXTURES, name + ".json")
           for name in ("quick_a", "quick_a2", "convoy_sweep")}
# BASE/NEW pairs (the same benchmark sets) and compare options to go with them.
PAIRS = [("quick_a", "quick_a2"), ("quick_a2", "quick_a"), ("convoy_sweep", "convoy_sweep")]
COMPARE_OPTIONS = [[], ["--gate", "ratio"], ["--gate", "instructions"], ["--common"],
                   ["--gate", "time,ratio", "--common"], ["--gate", "ratio,instructions"]]
# The one row the instructions fuzz asks for (--filter), present in quick_a*.
LANE_ROW = "countdown/serial/workers:1"

# Examples per property: compare is fast (tens of ms), charts slow (1-3 s when
# the input is valid), instructions runs valgrind on a shell script (~0.3 s).
# FUZZ_SCALE=N multiplies the budget for a longer exploration by hand.
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
BUDGET = {prop: max(1, round(n * SCALE)) for prop, n in (
    ("compare_new", 220), ("compare_base", 160), ("charts", 8), ("instructions", 24),
    ("export", 150), ("history", 12), ("entry_point", 6))}

sys.path.insert(0, REPO)
sys.path.insert(0, HERE)
from plot_test import main_in_process as run_in_process  # noqa: E402  plot.main() here
from json_check import strict_load, validate  # noqa: E402

TEXTS = {name: open(path, encoding="utf-8").read() for name, path in SOURCES.items()}
STATS = collections.defaultdict(collections.Counter)  # property -> exit status -> examples


# --------------------------------------------------------------------------
# Values and mutations

SPECIAL = [math.nan, math.inf, -math.inf, 0, 0.0, -0.0, -1, -1.5, 1e308, -1e308, 5e-324, 1e-300,
           10 ** 400, 2 ** 63, True, False, None, "", "x", "NaN", "Infinity", "ms", "us", "[]",
           "{}", "[1", "\ud800", [], {}, [1.0], ["x"], [math.nan], {"a": 1}, [[[]]]]
VALUES = st.one_of(
    st.sampled_from(SPECIAL),
    st.integers(-10 ** 20, 10 ** 20),
    st.floats(),
    st.text(max_size=40),
    st.lists(st.one_of(st.integers(), st.floats(), st.text(max_size=5)), max_size=4),
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5)),
                    max_size=3),
)
# Values for a whole column of a counter, the likeliest trouble first (hypothesis
# starts from the first of a list).
EXTREMES = [1e308, -1e308, 1.7976931348623157e308, 1e31, -1e31, 5e-324, -5e-324, math.nan,
            math.inf, -math.inf, 0, -1]
BAD_TIMES = st.one_of(st.sampled_from([math.nan, math.inf, -math.inf, 0, 0.0, -0.0, -1, -1e-9,
                                       -1e308]),
                      st.floats(max_value=0.0), st.integers(max_value=0))
ODD_NAMES = ["a/b/workers:1", "countdown/gil/workers:99999999999999999999", "x/y/workers:\u00b2",
             "\u65e5\u672c/\u8a9e/workers:1", "a$b/c$d/workers:2", "a|b/`c`/workers:1",
             "w/s/workers:1\nnext line", "w/s/k:v/workers:-1", "/////", "a/b/workers:0",
             "countdown/serial/workers:1", "list_sum/gil/workers:2/interval:1ms", "\ud800/s/x:1",
             "n" * 5000]
NAMES = st.one_of(st.sampled_from(ODD_NAMES), st.text(max_size=60),
                  st.text(min_size=200, max_size=400))
ROW_KEYS = ["name", "run_name", "run_type", "repetition_index", "real_time", "time_unit",
            "error_occurred", "error_message", "gil_wait_ns", "io_rps", "items_per_second",
            "workers", "iterations", "aggregate_name"]
CONTEXT_KEYS = ["load_avg", "num_cpus", "date", "host_name", "gilbench_nproc", "gilbench_runs",
                "gilbench_schema_version", "gilbench_mode", "gilbench_reference_strategy",
                "gilbench_metrics", "gilbench_params", "gilbench_workloads",
                "gilbench_strategies", "gilbench_switch_intervals", "gilbench_instructions",
                "gilbench_check_interval", "gilbench_injected_slowdown", "gilbench_bytecode_steps",
                "gilbench_repetitions", "gilbench_git_revision", "gilbench_compiler",
                "gilbench_cxx_flags", "gilbench_cpu_model", "gilbench_warnings"]
# Mutations; the last ones mostly leave a file plot.py accepts, so that the
# sub-commands run deep as well as fail early.
KINDS = ["row_value", "row_value", "time", "row_delete", "row_extra", "context_value",
         "context_value", "context_json", "context_delete", "rows_drop", "rows_duplicate",
         "top", "instruction_lane", "rename", "rename", "error_row", "counter", "counter",
         "good_time", "context_delete", "counter_column", "interval", "run_fields",
         "run_fields"]
# charts has a small budget: weighted towards what reaches the drawing (values on
# an axis, names on a label) rather than what load_result refuses.
# (hypothesis starts from the simplest examples, the first of a list: those first).
CHART_KINDS = ["counter_column", "interval", "rename", "counter", "run_fields"] * 3 + KINDS
# Values for a field of a run in gilbench_runs: what the loader refuses, and odd values it
# takes (a worker count of 0 or far beyond any machine, axis values that are no duration).
FIELD_VALUES = {
    "workload": st.one_of(st.sampled_from(["", "countdown", "list_sum", "\u65e5\u672c", "a/b"]),
                          VALUES),
    "strategy": st.one_of(st.sampled_from(["", "serial", "gil", "g$l|`x`", "n" * 300]), VALUES),
    "runner": st.one_of(st.sampled_from(["threads", "process", "fibers"]), VALUES),
    "workers": st.one_of(st.sampled_from([0, 1, 2, 3, 99999999999999999999, -1, True, 1.0,
                                          "2"]), st.integers(-5, 10 ** 6), VALUES),
    "axes": st.one_of(st.dictionaries(st.sampled_from(["interval", "workers", "x", ""]),
                                      st.sampled_from(["5ms", "1ms", "1.2.3ms", "", "0ms",
                                                       "9" * 400 + "s", "$x$"]), max_size=2),
                      VALUES),
}


def run_fields(context):
    """The decoded gilbench_runs of a context, or None when it holds no object."""
    try:
        runs = json.loads(context["gilbench_runs"])
    except (TypeError, KeyError, ValueError, RecursionError):
        return None
    return runs if isinstance(runs, dict) else None


def iteration_indices(data):
    rows = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        return []
    return [i for i, r in enumerate(rows)
            if isinstance(r, dict) and r.get("run_type", "iteration") == "iteration"]


def mutate(data, draw, kinds=KINDS):
    """Applies one drawn mutation to data (parsed JSON) in place; returns data."""
    kind = draw(st.sampled_from(kinds))
    rows = data.get("benchmarks") if isinstance(data, dict) else None
    context = data.get("context") if isinstance(data, dict) else None
    if kind in ("row_value", "row_delete", "row_extra", "error_row") and isinstance(rows, list) \
            and rows:
        row = rows[draw(st.integers(0, len(rows) - 1))]
        if not isinstance(row, dict):
            return data
        if kind == "row_value":
            row[draw(st.sampled_from(ROW_KEYS + sorted(row)))] = draw(VALUES)
        elif kind == "row_delete" and row:
            row.pop(draw(st.sampled_from(sorted(row))), None)
        elif kind == "row_extra":
            row[draw(st.text(max_size=12))] = draw(VALUES)
        elif kind == "error_row":
            row["error_occurred"] = True
            row["error_message"] = draw(st.one_of(st.text(max_size=30), VALUES))
    elif kind in ("time", "good_time", "counter"):
        indices = iteration_indices(data)
        if indices:
            row = rows[draw(st.sampled_from(indices))]
            if kind == "time":
                row["real_time"] = draw(BAD_TIMES)
            elif kind == "good_time":
                row["real_time"] = draw(st.floats(1e-6, 1e6))
            else:  # a counter (any numeric field Google Benchmark does not own)
                row[draw(st.sampled_from(["gil_wait_ns", "io_rps", "io_p99_us", "gil_switches",
                                          "items_per_second", "brand_new"]))] = draw(
                    st.one_of(st.sampled_from(SPECIAL), st.floats()))
    elif kind == "counter_column" and iteration_indices(data):
        # one value in every iteration row: what an axis of a chart is scaled to
        key = draw(st.sampled_from(["io_rps", "io_p99_us", "gil_wait_ns", "gil_switches"]))
        value = draw(st.sampled_from(EXTREMES)) if draw(st.booleans()) else draw(st.floats())
        for i in iteration_indices(data):
            rows[i][key] = value
    elif kind == "interval" and isinstance(rows, list):
        # the value of a further name key (convoy_sweep's interval:5ms / interval:1ms)
        old, new = draw(st.sampled_from(["interval:5ms", "interval:1ms", "workers:2"])), draw(
            st.sampled_from(["interval:1.2.3ms", "interval:..ms", "interval:" + "9" * 400 + "s",
                             "interval:", "interval:$x$", "workers:x", "workers:\u0663",
                             "workers:-1", "interval:0ms"]))
        for r in rows:
            for key in ("name", "run_name"):
                if isinstance(r, dict) and isinstance(r.get(key), str):
                    r[key] = r[key].replace(old, new)
        runs = run_fields(context)
        if runs is not None:  # the names and the axis values, as gilbench would write them
            axis, _, value = new.partition(":")
            for name in list(runs):
                f = runs.pop(name)
                if isinstance(f, dict) and isinstance(f.get("axes"), dict) and old in name \
                        and axis in f["axes"]:
                    f["axes"][axis] = value
                runs[name.replace(old, new)] = f
            context["gilbench_runs"] = json.dumps(runs)
    elif kind == "rename" and isinstance(rows, list) and rows:
        row = rows[draw(st.integers(0, len(rows) - 1))]
        if isinstance(row, dict):
            old, new = row.get("run_name", row.get("name")), draw(NAMES)
            for r in rows:
                if isinstance(r, dict) and r.get("run_name", r.get("name")) == old:
                    r["run_name"] = new
                    r["name"] = new + ("_" + r["aggregate_name"] if isinstance(
                        r.get("aggregate_name"), str) else "")
            if draw(st.integers(0, 3)):  # mostly the fields follow the name
                runs = run_fields(context)
                if runs is not None and isinstance(old, str) and isinstance(new, str) \
                        and isinstance(runs.get(old), dict):
                    runs[new] = runs.pop(old)
                    context["gilbench_runs"] = json.dumps(runs)
    elif kind == "run_fields":
        runs = run_fields(context)
        if runs:
            name = draw(st.sampled_from(sorted(runs)))
            if draw(st.integers(0, 5)) == 0:
                del runs[name]
            elif isinstance(runs[name], dict):
                key = draw(st.sampled_from(sorted(FIELD_VALUES)))
                if draw(st.integers(0, 5)) == 0:
                    runs[name].pop(key, None)
                else:
                    runs[name][key] = draw(FIELD_VALUES[key])
            context["gilbench_runs"] = json.dumps(runs)
    elif kind == "context_value" and isinstance(context, dict):
        context[draw(st.sampled_from(CONTEXT_KEYS + sorted(context)))] = draw(VALUES)
    elif kind == "context_json" and isinstance(context, dict):
        # a JSON string, as gilbench writes its gilbench_* values, of the wrong thing
        context[draw(st.sampled_from(CONTEXT_KEYS))] = json.dumps(draw(VALUES))
    elif kind == "context_delete" and isinstance(context, dict) and context:
        context.pop(draw(st.sampled_from(sorted(context))))
    elif kind == "rows_drop" and isinstance(rows, list) and rows:
        start = draw(st.integers(0, len(rows)))
        del rows[start:draw(st.integers(start, len(rows)))]
    elif kind == "rows_duplicate" and isinstance(rows, list) and rows:
        rows.append(json.loads(json.dumps(rows[draw(st.integers(0, len(rows) - 1))])))
    elif kind == "top" and isinstance(data, dict):
        key = draw(st.sampled_from(["benchmarks", "context"]))
        if draw(st.booleans()):
            data.pop(key, None)
        else:
            data[key] = draw(VALUES)
    elif kind == "instruction_lane" and isinstance(context, dict):
        lane = {}
        with contextlib.suppress(Exception):
            lane = json.loads(context["gilbench_instructions"])
        if not isinstance(lane, dict):
            lane = {}
        counts = lane.setdefault("counts", {})
        part = draw(st.sampled_from(["count", "drop", "failed", "no_measured_region"]))
        if part == "count" and isinstance(counts, dict):
            counts[draw(st.sampled_from(sorted(counts) + [LANE_ROW]))] = draw(VALUES)
        elif part == "drop" and isinstance(counts, dict) and counts:
            counts.pop(draw(st.sampled_from(sorted(counts))))
        elif part == "failed":
            lane["failed"] = {draw(st.sampled_from([LANE_ROW, "x"])): draw(VALUES)}
        else:
            lane["no_measured_region"] = draw(st.one_of(VALUES, st.just([LANE_ROW])))
        context["gilbench_instructions"] = json.dumps(lane)
    return data


def damage(raw, draw):
    """Byte-level damage, sometimes: truncation at a random offset, or a flipped byte."""
    how = draw(st.sampled_from(["none", "none", "none", "truncate", "flip"]))
    if how == "truncate":
        return raw[:draw(st.integers(0, max(0, len(raw) - 1)))]
    if how == "flip" and raw:
        i = draw(st.integers(0, len(raw) - 1))
        return raw[:i] + bytes([draw(st.integers(0, 255))]) + raw[i + 1:]
    return raw


def mutated_file(draw, source, path, kinds=KINDS, least=0):
    """Writes a copy of fixture `source` at path with `least` to 3 mutations; returns its
    bytes."""
    data = json.loads(TEXTS[source])
    for _ in range(draw(st.integers(least, 3))):
        data = mutate(data, draw, kinds)
    raw = damage(json.dumps(data).encode("utf-8", "surrogatepass"), draw)
    with open(path, "wb") as f:
        f.write(raw)
    return raw


# --------------------------------------------------------------------------
# Oracles


def bad_time_in(raw):
    """True when the file is no JSON at all, or when an iteration row (not a failed
    one) has a numeric real_time that is not finite or not > 0: plot.py must say 2."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return True
    for i in iteration_indices(data):
        row = data["benchmarks"][i]
        if row.get("error_occurred", False) is True:
            continue
        t = row.get("real_time")
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            try:
                if not math.isfinite(t) or t <= 0:
                    return True
            except OverflowError:  # an integer no float holds
                return True
    return False


def run_process(*argv):
    p = subprocess.run([sys.executable, PLOT, *argv], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def check_contract(prop, code, err, allowed=(0, 1, 2)):
    """The statuses every sub-command keeps, and how a status 2 is said."""
    STATS[prop][code] += 1
    assert code in allowed, f"{prop}: exit status {code}, stderr:\n{err[-3000:]}"
    assert "Traceback" not in err, f"{prop}: a traceback:\n{err[-3000:]}"
    assert "internal error" not in err, err[-3000:]
    if code == 2:
        last = err.rstrip("\n").split("\n")[-1]
        assert last.startswith("plot.py: error: "), f"{prop}: stderr ends with {last!r}"
        assert sum(ln.startswith("plot.py:") for ln in err.splitlines()) == 1, err[-3000:]


def example_dir():
    return tempfile.mkdtemp(dir=WORK.name)


FUZZ = dict(deadline=None, derandomize=True, database=None, print_blob=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                   HealthCheck.filter_too_much])


# --------------------------------------------------------------------------
# Properties


def compare_property(prop, mutate_new):
    @settings(max_examples=BUDGET[prop], **FUZZ)
    @given(st.data())
    def check(data):
        base_src, new_src = data.draw(st.sampled_from(PAIRS))
        options = data.draw(st.sampled_from(COMPARE_OPTIONS))
        d = example_dir()
        base, new = os.path.join(d, "base.json"), os.path.join(d, "new.json")
        if mutate_new:
            with open(base, "w", encoding="utf-8") as f:
                f.write(TEXTS[base_src])
            raw = mutated_file(data.draw, new_src, new)
        else:
            raw = mutated_file(data.draw, base_src, base)
            with open(new, "w", encoding="utf-8") as f:
                f.write(TEXTS[new_src])
        md = os.path.join(d, "report.md")
        code, out, err = run_in_process("compare", base, new, "--markdown", md, *options)
        check_contract(prop, code, err)
        if bad_time_in(raw):
            assert code == 2, f"{prop}: a non-finite or non-positive time passed with {code}"
        if code in (0, 1):
            assert err == "", f"{prop}: stderr on a verdict: {err[-2000:]}"
            with open(md, encoding="utf-8") as f:
                assert f.read() == out, "--markdown writes what is printed"
    check()


@settings(max_examples=BUDGET["charts"], **FUZZ)
@given(st.data())
def charts_property(data):
    source = data.draw(st.sampled_from(sorted(SOURCES)))
    d = example_dir()
    path = os.path.join(d, "result.json")
    raw = mutated_file(data.draw, source, path, CHART_KINDS, least=1)
    code, _, err = run_in_process("charts", path, "--out", os.path.join(d, "charts"))
    check_contract("charts", code, err, allowed=(0, 2))
    if bad_time_in(raw):
        assert code == 2, f"charts: a non-finite or non-positive time drawn with {code}"


def fixed_chart_checks():
    """Extremes the small random budget may miss, all in two files: whole columns of
    counters at float's limits (an axis matplotlib cannot scale), odd names and field
    values, and wall times at both ends of the accepted range."""
    d = example_dir()
    sweep = json.loads(TEXTS["convoy_sweep"])
    for n, i in enumerate(iteration_indices(sweep)):
        row = sweep["benchmarks"][i]
        row.update(io_rps=1e308, io_p99_us=-1e308, io_max_us=5e-324,
                   gil_wait_ns=1.7976931348623157e308, gil_switches=math.nan if n % 2 else 1e31)
    runs = run_fields(sweep["context"])
    for f in runs.values():  # odd values where the charts read them: the runs' fields
        if f["axes"].get("interval") == "1ms":
            f["axes"]["interval"] = "1.2.3ms"
        if f["strategy"] == "gil":
            f["strategy"] = "g$l|`x`"
        if f["strategy"] == "serial" and f["workers"] == 2:
            f["workers"] = 2 ** 31 - 1
    sweep["context"]["gilbench_runs"] = json.dumps(runs)
    text = json.dumps(sweep).replace("interval:1ms", "interval:1.2.3ms").replace(
        "/gil/", "/g$l|`x`/").replace("/serial/workers:2", "/serial/workers:99999999999999999999")
    quick = json.loads(TEXTS["quick_a"])
    for n, i in enumerate(iteration_indices(quick)):
        quick["benchmarks"][i].update(real_time=1e-12 if n % 2 else 1e7, time_unit="s")
    for name, content in (("sweep.json", text), ("quick.json", json.dumps(quick))):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(content)
        code, _, err = run_in_process("charts", path, "--out", os.path.join(d, name + ".out"))
        check_contract("charts_fixed", code, err, allowed=(0,))


# Fake gilbench binaries: valgrind runs the script (no valgrind run of the real
# binary), and nothing is ever counted: a failure, no result file, or the row's
# result with no gilbench::measured_run region (callgrind counts 0).
FAKES = {
    "fails": "#!/bin/sh\necho 'fake gilbench: refusing' >&2\nexit 1\n",
    "writes_nothing": "#!/bin/sh\nexit 0\n",
    "no_region": "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in --out=*) out=${a#--out=};; "
                 "esac; done\nexec cp \"$FAKE_ROW\" \"$out\"\n",
}


def write_fakes():
    paths = {}
    for name, text in FAKES.items():
        paths[name] = os.path.join(WORK.name, f"gilbench_{name}")
        with open(paths[name], "w") as f:
            f.write(text)
        os.chmod(paths[name], 0o755)
    row = json.loads(TEXTS["quick_a"])
    row["benchmarks"] = [r for r in row["benchmarks"] if r["run_name"] == LANE_ROW]
    os.environ["FAKE_ROW"] = os.path.join(WORK.name, "row.json")
    with open(os.environ["FAKE_ROW"], "w") as f:
        json.dump(row, f)
    return paths


@settings(max_examples=BUDGET["instructions"], **FUZZ)
@given(st.data())
def instructions_property(data):
    source = data.draw(st.sampled_from(["quick_a", "quick_a2"]))
    fake = FAKE_PATHS[data.draw(st.sampled_from(sorted(FAKE_PATHS)))]
    d = example_dir()
    path = os.path.join(d, "result.json")
    raw = mutated_file(data.draw, source, path)
    code, _, err = run_in_process("instructions", path, "--gilbench", fake, "--jobs", "1",
                                  "--filter", "^" + LANE_ROW + "$")
    check_contract("instructions", code, err, allowed=(2,))
    with open(path, "rb") as f:
        assert f.read() == raw, "instructions changed the file it failed to count"


def tracker_schema(name):
    with open(os.path.join(FIXTURES, "trackers", name)) as f:
        return json.load(f)


GAB_SCHEMA = tracker_schema("github-action-benchmark.schema.json")
BMF_SCHEMA = tracker_schema("bmf.schema.json")


@settings(max_examples=BUDGET["export"], **FUZZ)
@given(st.data())
def export_property(data):
    source = data.draw(st.sampled_from(sorted(SOURCES)))
    fmt = data.draw(st.sampled_from(["bencher", "github-action-benchmark"]))
    d = example_dir()
    path = os.path.join(d, "result.json")
    raw = mutated_file(data.draw, source, path, CHART_KINDS)
    out = os.path.join(d, "bmf.json" if fmt == "bencher" else "gab")
    code, _, err = run_in_process("export", path, "--format=" + fmt, "--out", out)
    check_contract("export", code, err, allowed=(0, 2))
    if bad_time_in(raw):
        assert code == 2, f"export: a non-finite or non-positive time exported with {code}"
    if code == 0:
        files = ([(out, BMF_SCHEMA)] if fmt == "bencher" else
                 [(os.path.join(out, n), GAB_SCHEMA) for n in sorted(os.listdir(out))])
        for file, schema in files:
            value = strict_load(file)  # raises on NaN / Infinity
            if value != [] or schema is not GAB_SCHEMA:  # an empty direction is noted
                assert validate(schema, value) == [], (file, validate(schema, value)[:3])


@settings(max_examples=BUDGET["history"], **FUZZ)
@given(st.data())
def history_property(data):
    d = example_dir()
    folder = os.path.join(d, "history")
    os.makedirs(folder)
    raws = []
    for i in range(data.draw(st.integers(2, 3))):
        sub = os.path.join(folder, f"run{i}")
        os.makedirs(sub)
        source = data.draw(st.sampled_from(["quick_a", "quick_a2"]))
        raws.append(mutated_file(data.draw, source, os.path.join(sub, "bench.json"),
                                 CHART_KINDS, least=0))
    out = os.path.join(d, "report")
    code, _, err = run_in_process("history", folder, "--out", out)
    check_contract("history", code, err, allowed=(0, 2))
    if any(bad_time_in(raw) for raw in raws):
        assert code == 2, f"history: a non-finite or non-positive time drawn with {code}"
    if code == 0:
        strict_load(os.path.join(out, "history.json"))


@settings(max_examples=BUDGET["entry_point"], **FUZZ)
@given(st.data())
def entry_point_property(data):
    """The real entry point gives what plot.main() gives here."""
    base_src, new_src = data.draw(st.sampled_from(PAIRS))
    d = example_dir()
    base, new = os.path.join(d, "base.json"), os.path.join(d, "new.json")
    with open(base, "w", encoding="utf-8") as f:
        f.write(TEXTS[base_src])
    mutated_file(data.draw, new_src, new)
    here = run_in_process("compare", base, new)
    there = run_process("compare", base, new)
    check_contract("entry_point", there[0], there[2])
    assert here[0] == there[0], (here[0], there[0], there[2][-2000:])
    assert here[2].strip().splitlines()[-1:] == there[2].strip().splitlines()[-1:]


def fixed_entry_point_checks():
    """A handful of known bad inputs through /usr/bin/python3 plot.py."""
    d = example_dir()

    def write(name, change):
        data = json.loads(TEXTS["quick_a2"])
        change(data)
        path = os.path.join(d, name)
        with open(path, "w") as f:
            json.dump(data, f)
        return path

    first = lambda data: data["benchmarks"][iteration_indices(data)[0]]  # noqa: E731
    cases = [
        ["compare", SOURCES["quick_a"], write("nan.json", lambda x: first(x).update(
            real_time=math.nan))],
        ["compare", SOURCES["quick_a"], write("unit.json", lambda x: first(x).update(
            time_unit=["ms"]))],
        ["compare", write("name.json", lambda x: first(x).update(run_name=7)),
         SOURCES["quick_a"]],
        ["charts", write("load.json", lambda x: x["context"].update(load_avg=["x"])), "--out",
         os.path.join(d, "c")],
        ["instructions", SOURCES["quick_a"], "--gilbench", FAKE_PATHS["fails"], "--filter",
         "^" + LANE_ROW + "$", "--out", os.path.join(d, "out.json")],
        ["instructions", SOURCES["quick_a"], "--gilbench", FAKE_PATHS["fails"], "--jobs=0"],
    ]
    for argv in cases:
        code, _, err = run_process(*argv)
        check_contract("entry_point_fixed", code, err, allowed=(2,))
        assert run_in_process(*argv)[0] == code
    assert not os.path.exists(os.path.join(d, "out.json"))
    code, _, err = run_process("compare", SOURCES["quick_a"], SOURCES["quick_a2"])
    check_contract("entry_point_fixed", code, err, allowed=(0,))


FAKE_PATHS = write_fakes()


def main():
    started = time.time()
    properties = [
        ("compare_new", lambda: compare_property("compare_new", mutate_new=True)),
        ("compare_base", lambda: compare_property("compare_base", mutate_new=False)),
        ("charts", charts_property),
        ("charts_fixed", fixed_chart_checks),
        ("instructions", instructions_property),
        ("export", export_property),
        ("history", history_property),
        ("entry_point", entry_point_property),
        ("entry_point_fixed", fixed_entry_point_checks),
    ]
    try:
        for name, run in properties:
            t = time.time()
            run()
            print(f"{name}: {sum(STATS[name].values())} examples in {time.time() - t:.1f} s, "
                  f"exit statuses {dict(sorted(STATS[name].items()))}", flush=True)
    finally:
        WORK.cleanup()
    total = sum(sum(c.values()) for c in STATS.values())
    print(f"fuzz_plot: {total} examples in {time.time() - started:.1f} s: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
