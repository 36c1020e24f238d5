#!/usr/bin/python3
"""fidelity: does the emulated GIL behave like the real one?

usage: fidelity RESULT.json [CPYTHON.json] [--markdown FILE]

RESULT.json is a gilbench result file (the emulation), CPYTHON.json an
optional result file of the CPython twin (bench/python/twin.py, the same
workloads on the real interpreter). The report has two tables, printed and,
with --markdown, written to FILE as markdown:

1. The checkable behaviours listed at the end of
   ../shared/research/anchors-gil.md ("What a faithful emulation must
   reproduce"), all fifteen, in its order: for each, the published figure
   with its source tag, the emulated figure from RESULT.json, the real-CPython
   figure from CPYTHON.json where the twin measures one, whether the
   behaviour holds in each, and the tolerance used. A behaviour whose rows are
   absent from a file says "not measured in this file"; one the suite has no
   benchmark for says "not covered by the suite" (naming the unit test that
   covers it, if any). Nothing is dropped.
2. Speedups side by side: per workload and worker count, the emulated `gil`
   speedup (over RESULT's reference strategy at 1 worker) next to the
   `cpython_threads` speedup (over CPYTHON's reference, cpython_serial), and
   `process` next to `cpython_process`, with the goal of +-10 %.

Each file's speedups are computed against that file's own reference strategy
(context key gilbench_reference_strategy; "serial" when absent), never
across files: absolute times of C++ and Python differ ~50x, ratios do not.
Times are the median of the iteration rows (the _median aggregate row when a
file has only aggregates); a benchmark with an error row counts as failed.

plot.py's `fidelity` sub-command imports this module and calls
main(argv), argv being the arguments after the sub-command. Exit status: 0
the report was made (a behaviour that does not hold is a finding, not an
error); 2 bad command line or unreadable input, with one line on stderr.
"""

import argparse
import json
import math
import os
import sys

PROG = "fidelity"

YES = "yes"
NO = "**no**"
NOT_MEASURED = "not measured in this file"
NOT_COVERED = "not covered by the suite"
NA = "n/a"
NO_FILE = "no CPython file"

TIME_UNITS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
ROW_FIELDS = {"name", "family_index", "per_family_instance_index", "run_name", "run_type",
              "repetitions", "repetition_index", "threads", "iterations", "real_time",
              "cpu_time", "time_unit", "aggregate_name", "aggregate_unit", "error_occurred",
              "error_message", "label"}
CPU_WORKLOADS = ["countdown", "binary_trees", "list_sum", "shared_read", "shared_read_immortal",
                 "shared_dict"]
DEFAULT_INTERVAL_MS = 5.0


class InputError(Exception):
    pass


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def parse_duration_ms(text):
    for unit, scale in (("ns", 1e-6), ("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if text.endswith(unit) and len(text) > len(unit):
            try:
                return float(text[:-len(unit)]) * scale
            except ValueError:
                continue
    return None


def median(values):
    v = sorted(values)
    n = len(v)
    if n == 0:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def geomean(values):
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


class Run:
    """One benchmark <workload>/<strategy>/workers:<n>[/key:value...] of a file."""

    def __init__(self, name, workload, strategy, workers, extra):
        self.name = name
        self.workload = workload
        self.strategy = strategy
        self.workers = workers
        self.extra = extra  # e.g. {"interval": "100us"}
        self.times = []  # ms, one per successful repetition
        self.counters = []  # dict per successful repetition (parallel to times)
        self.median_row = None  # the _median aggregate, if any
        self.error = None

    @property
    def interval_ms(self):
        text = self.extra.get("interval")
        return parse_duration_ms(text) if text else None

    def time(self):
        if self.error:
            return None
        if self.times:
            return median(self.times)
        if self.median_row:
            return self.median_row[0]
        return None

    def counter(self, key):
        if self.error:
            return None
        values = [c[key] for c in self.counters if key in c]
        if values:
            return median(values)
        if self.median_row and key in self.median_row[1]:
            return self.median_row[1][key]
        return None

    def samples(self):
        """(time ms, counters) per repetition; the median row if that is all there is."""
        if self.error:
            return []
        if self.times:
            return list(zip(self.times, self.counters))
        if self.median_row:
            return [self.median_row]
        return []


def split_name(name):
    parts = name.split("/")
    if len(parts) < 3 or not parts[2].startswith("workers:"):
        return None
    try:
        workers = int(parts[2][len("workers:"):])
    except ValueError:
        return None
    extra = {}
    for p in parts[3:]:
        key, _, value = p.partition(":")
        extra[key] = value
    return parts[0], parts[1], workers, extra


class Results:
    """A result file: its context and its runs by name."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path) as f:
                data = json.load(f)
        except OSError as e:
            raise InputError("cannot read %s: %s" % (path, e.strerror or e))
        except ValueError as e:
            raise InputError("%s is not JSON: %s" % (path, e))
        if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
            raise InputError("%s is not a Google Benchmark result file (no 'benchmarks' list)" % path)
        context = data.get("context", {})
        self.context = context if isinstance(context, dict) else {}
        self.reference = str(self.context.get("gilbench_reference_strategy", "serial"))
        self.kinds = self._json_context("gilbench_workloads", {})
        intervals = self._json_context("gilbench_switch_intervals", [])
        self.default_interval_ms = (parse_duration_ms(intervals[0]) if intervals and
                                    isinstance(intervals[0], str) else None) or DEFAULT_INTERVAL_MS
        self.runs = {}
        for row in data["benchmarks"]:
            if not isinstance(row, dict) or not isinstance(row.get("name"), str):
                raise InputError("%s: a benchmark entry has no name" % path)
            self._add(row)
        if not self.runs:
            raise InputError("%s has no <workload>/<strategy>/workers:<n> benchmarks" % path)

    def _json_context(self, key, default):
        value = self.context.get(key)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return default
        return value if value is not None else default

    def _add(self, row):
        name = row.get("run_name", row["name"])
        parsed = split_name(name)
        if parsed is None:
            return
        run = self.runs.get(name)
        if run is None:
            run = self.runs[name] = Run(name, *parsed)
        if row.get("error_occurred"):
            run.error = str(row.get("error_message", "error"))
            return
        scale = TIME_UNITS.get(row.get("time_unit", "ns"), 1e-6)
        try:
            ms = float(row["real_time"]) * scale
        except (KeyError, TypeError, ValueError):
            raise InputError("%s: %s has no real_time" % (self.path, row["name"]))
        counters = {k: v for k, v in row.items()
                    if k not in ROW_FIELDS and isinstance(v, (int, float)) and not isinstance(v, bool)}
        run_type = row.get("run_type", "iteration")
        if run_type == "iteration":
            run.times.append(ms)
            run.counters.append(counters)
        elif run_type == "aggregate" and row.get("aggregate_name") == "median":
            run.median_row = (ms, counters)

    # ---- look-ups ---------------------------------------------------------

    def find(self, workload, strategy, workers, interval_ms=None):
        """The run at this interval (default: the file's default interval)."""
        want = interval_ms if interval_ms is not None else self.default_interval_ms
        fallback = None
        for run in self.runs.values():
            if run.workload != workload or run.strategy != strategy or run.workers != workers:
                continue
            if run.interval_ms is None or abs(run.interval_ms - want) < 1e-9:
                return run
            if interval_ms is None and fallback is None:
                fallback = run
        return fallback if interval_ms is None else None

    def time(self, workload, strategy, workers, interval_ms=None):
        run = self.find(workload, strategy, workers, interval_ms)
        return run.time() if run else None

    def runs_of(self, strategy, workload=None):
        return [r for r in self.runs.values()
                if r.strategy == strategy and (workload is None or r.workload == workload)]

    def workers(self, strategy, workload):
        return sorted({r.workers for r in self.runs_of(strategy, workload)})

    def intervals(self, workload, strategy, workers):
        return sorted({r.interval_ms for r in self.runs_of(strategy, workload)
                       if r.workers == workers and r.interval_ms is not None}, reverse=True)

    def kind(self, workload):
        if isinstance(self.kinds, dict) and workload in self.kinds:
            return self.kinds[workload]
        return "cpu" if workload in CPU_WORKLOADS else None

    def cpu_workloads(self):
        return [w for w in sorted({r.workload for r in self.runs.values()}) if self.kind(w) == "cpu"]

    def scaling(self, workload, strategy, workers):
        """T(strategy, workers) / T(strategy, 1): > 1 = slower with more workers."""
        t1 = self.time(workload, strategy, 1)
        tn = self.time(workload, strategy, workers)
        return tn / t1 if t1 and tn else None

    def speedup(self, workload, strategy, workers):
        """T(reference, 1) / T(strategy, workers)."""
        ref = self.time(workload, self.reference, 1)
        t = self.time(workload, strategy, workers)
        return ref / t if ref and t else None

    def gil_enabled(self):
        return str(self.context.get("gilbench_gil_enabled", "unknown"))

    def describe(self):
        c = self.context
        if c.get("gilbench_runtime") == "cpython":
            gil = {"true": "GIL enabled", "false": "GIL disabled"}.get(self.gil_enabled(), "GIL unknown")
            what = "%s %s, %s" % (c.get("gilbench_python_implementation", "Python"),
                                  c.get("gilbench_python_version", "?"), gil)
        else:
            what = "gilbench %s" % c.get("gilbench_git_revision", "(revision unknown)")
        return "`%s`: %s, mode %s, switch interval %s, reference `%s`" % (
            self.path, what, c.get("gilbench_mode", "?"), fmt_ms(self.default_interval_ms),
            self.reference)


# ---- formatting -------------------------------------------------------------

def fmt_ms(ms):
    if ms is None:
        return "?"
    if ms >= 1:
        return "%gms" % round(ms, 3)
    if ms >= 1e-3:
        return "%gus" % round(ms * 1e3, 3)
    return "%gns" % round(ms * 1e6, 3)


def fmt_x(v, digits=2):
    return "-" if v is None else "%.*f×" % (digits, v)


def fmt_pct(v):
    return "-" if v is None else "%+.0f %%" % (v * 100)


def verdict(ok):
    return YES if ok else NO


class Behaviour:
    """One row of the behaviour table."""

    def __init__(self, number, title, published, tolerance):
        self.number = number
        self.title = title
        self.published = published
        self.tolerance = tolerance
        self.emulated = "-"
        self.cpython = "-"
        self.holds_emulated = NOT_MEASURED
        self.holds_cpython = NA


# ---- the behaviours ---------------------------------------------------------
#
# Each check takes a Results and the strategy names to read (emulated or
# twin), and returns (figure text, verdict) or None when the rows are absent.

def check_no_scaling(res, strategy):
    worst = None
    parts = []
    for w in res.cpu_workloads():
        for n in res.workers(strategy, w):
            if n < 2:
                continue
            r = res.scaling(w, strategy, n)
            if r is None:
                continue
            if w == "countdown":
                parts.append("%d: %.2f" % (n, r))
            if worst is None or abs(r - 1) > abs(worst[0] - 1):
                worst = (r, w, n)
    if worst is None:
        return None
    text = ("countdown T(N)/T(1) " + ", ".join(parts) + "; " if parts else "") + \
        "worst of %d CPU workloads: %.2f (%s, N=%d)" % (len(res.cpu_workloads()), worst[0], worst[1], worst[2])
    ok = True
    for w in res.cpu_workloads():
        for n in res.workers(strategy, w):
            r = res.scaling(w, strategy, n) if n >= 2 else None
            if r is not None and not 0.90 <= r <= 1.10:
                ok = False
    return text, verdict(ok)


def check_old_gil(res):
    r = res.scaling("countdown", "gil_legacy", 2)
    if r is None:
        return None
    text = "countdown under gil_legacy: T(2)/T(1) = %.2f" % r
    futile = None
    run = res.find("countdown", "gil_legacy", 2)
    if run:
        futile = run.counter("gil_futile_wakeups")
    if futile is not None:
        text += ", %.0f futile wake-ups" % futile
    return text, verdict(r >= 1.45)


def check_timed_requests(res):
    worst = None
    cpu_rows = 0
    for run in res.runs_of("gil"):
        if run.workers < 2 or res.kind(run.workload) != "cpu":
            continue
        interval = run.interval_ms or res.default_interval_ms
        for ms, counters in run.samples():
            requests = counters.get("gil_drop_requests")
            if requests is None:
                continue
            cpu_rows += 1
            per_interval = requests / (ms / interval) if ms > 0 else 0.0
            slack = (requests - run.workers) / (ms / interval) if ms > 0 else 0.0
            if worst is None or slack > worst[0]:
                worst = (slack, per_interval, run.name)
    io_forced = []
    for run in res.runs_of("gil"):
        if run.workers < 2 or res.kind(run.workload) != "io" or run.workload == "convoy":
            continue
        forced = run.counter("gil_forced_switches")
        if forced is not None:
            io_forced.append((forced, run.name))
    if worst is None and not io_forced:
        return None
    parts = []
    ok = True
    if worst is not None:
        parts.append("CPU rows: at most %.2f drop requests per interval of wall time (%s)"
                     % (worst[1], worst[2]))
        ok = worst[0] <= 1.0
    if io_forced:
        most = max(io_forced)
        parts.append("IO rows (voluntary releases): forced switches max %.0f (%s)" % most)
        ok = ok and most[0] == 0
    else:
        parts.append("IO rows: not in this file")
    return "; ".join(parts), verdict(ok)


def check_forced_handoff(res):
    rows = 0
    bad = []
    total_forced = 0.0
    for run in res.runs_of("gil"):
        for _, counters in run.samples():
            forced = counters.get("gil_forced_switches")
            switches = counters.get("gil_switches")
            if forced is None or switches is None:
                continue
            rows += 1
            total_forced += forced
            if forced > switches:
                bad.append(run.name)
    if rows == 0:
        return None
    text = "forced switches ≤ switches in %d of %d gil repetitions (%.0f forced in all)" % (
        rows - len(bad), rows, total_forced)
    return text, verdict(not bad)


def convoy_runs(res, strategy):
    return [r for r in res.runs_of(strategy, "convoy")]


def convoy_k(run):
    """The number of CPU workers of a convoy run: convoy/<strategy>/workers:<K> counts
    the CPU workers only (workers:0 = the IO worker alone)."""
    return run.workers


def convoy_table(res, strategy, interval_ms=None):
    """K -> (io_rps, io_rps_alone) at one interval (default: the file's)."""
    want = interval_ms if interval_ms is not None else res.default_interval_ms
    out = {}
    for run in convoy_runs(res, strategy):
        iv = run.interval_ms if run.interval_ms is not None else res.default_interval_ms
        if abs(iv - want) > 1e-9:
            continue
        rps = run.counter("io_rps")
        alone = run.counter("io_rps_alone")
        if rps is not None:
            out[convoy_k(run)] = (rps, alone)
    return out


def check_convoy(res, strategy):
    table = convoy_table(res, strategy)
    if not table:
        return None
    base = table.get(0, (None, None))[0]
    alone = [a for _, a in table.values() if a]
    base = base or (median(alone) if alone else None)
    if not base or 1 not in table:
        ks = ", ".join("K=%d: %.0f/s" % (k, table[k][0]) for k in sorted(table))
        return "round trips " + ks + " (no K=0 or K=1 row)", NOT_MEASURED
    parts = ["K=0: %.0f/s" % base]
    for k in sorted(table):
        if k >= 1:
            parts.append("K=%d: %.0f/s" % (k, table[k][0]))
    degradation = base / table[1][0] if table[1][0] > 0 else math.inf
    text = ", ".join(parts) + "; K=1 degradation %.0f×" % degradation
    ok = 100 <= degradation <= 900
    if 2 in table and table[2][0] > 0:
        halving = table[1][0] / table[2][0]
        text += ", K=1/K=2 %.2f" % halving
        ok = ok and 1.3 <= halving <= 3.0
    return text, verdict(ok)


def check_interval_sweep(res, strategy):
    parts = []
    ok = True
    measured = False
    for n in res.workers(strategy, "countdown"):
        if n < 2:
            continue
        intervals = res.intervals("countdown", strategy, n)
        if len(intervals) < 2:
            continue
        measured = True
        base_iv = intervals[0]
        base = res.time("countdown", strategy, n, base_iv)
        cells = []
        prev = None
        for iv in intervals:
            t = res.time("countdown", strategy, n, iv)
            if t is None or not base:
                continue
            r = t / base
            cells.append("%s %.2f" % (fmt_ms(iv), r))
            if prev is not None and r < prev * 0.9:
                ok = False  # a shorter interval made it clearly faster
            prev = r
            if iv <= 0.1 and r < 1.05:
                ok = False  # no inflation at <= 100 us
        parts.append("countdown N=%d, T/T(%s): %s" % (n, fmt_ms(base_iv), ", ".join(cells)))
        break
    # IO side: convoy round trips at each interval with K=1.
    ivs = sorted({r.interval_ms for r in convoy_runs(res, strategy) if r.interval_ms is not None},
                 reverse=True)
    if len(ivs) >= 2:
        measured = True
        cells = []
        prev = None
        for iv in ivs:
            k1 = convoy_table(res, strategy, iv).get(1)
            if not k1:
                continue
            cells.append("%s %.0f/s" % (fmt_ms(iv), k1[0]))
            if prev is not None and iv >= 0.01 and k1[0] < prev * 0.9:
                ok = False  # IO throughput must rise as the interval shrinks (down to ~10 us)
            prev = k1[0]
        if cells:
            parts.append("convoy K=1: " + ", ".join(cells))
    if not measured:
        return None
    return "; ".join(parts), verdict(ok)


def check_blocking_release(res, strategy):
    cells = []
    ok = None
    for n in res.workers(strategy, "sleep_io"):
        if n < 2:
            continue
        r = res.scaling("sleep_io", strategy, n)
        if r is None:
            continue
        s = 1 / r
        cells.append("N=%d: %.2f×" % (n, s))
        if n == 2:
            ok = s >= 1.6
    if not cells:
        return None
    return "sleep_io speedup T(1)/T(N) " + ", ".join(cells), (verdict(ok) if ok is not None else NOT_MEASURED)


def check_atomic_penalty(res):
    ratios = []
    for w in res.cpu_workloads():
        a = res.time(w, "atomic_rc", 1)
        s = res.time(w, res.reference, 1)
        if a and s:
            ratios.append(a / s)
    g = geomean(ratios)
    if g is None:
        return None
    text = "1 thread: atomic_rc / serial = %.2f (geomean of %d CPU workloads)" % (g, len(ratios))
    ok = g > 1.0
    ns = [n for n in res.workers("atomic_rc", "shared_read") if n >= 2]
    if ns:
        n = max(ns)
        r = res.scaling("shared_read", "atomic_rc", n)
        if r is not None:
            text += "; shared_read T(%d)/T(1) = %.2f" % (n, r)
            ok = ok and r > 1.0
    return text, verdict(ok)


def check_brc(res):
    ratios = []
    for w in res.cpu_workloads():
        b = res.time(w, "biased_rc", 1)
        a = res.time(w, "atomic_rc", 1)
        if a and b:
            ratios.append(b / a)
    g = geomean(ratios)
    live = [r.counter("live_objects") for r in res.runs_of("biased_rc")]
    live = [v for v in live if v is not None]
    if g is None and not live:
        return None
    parts = []
    ok = True
    if g is not None:
        parts.append("1 thread: biased_rc / atomic_rc = %.2f (geomean)" % g)
        ok = g < 1.0
    if live:
        parts.append("live objects after the run: max %.0f in %d biased_rc runs" % (max(live), len(live)))
        ok = ok and max(live) == 0
    return "; ".join(parts), verdict(ok)


def check_immortal(res):
    cells = []
    ok = None
    for strategy in ("atomic_rc", "biased_rc"):
        ns = [n for n in res.workers(strategy, "shared_read_immortal") if n >= 2]
        if not ns:
            continue
        n = 2 if 2 in ns else min(ns)
        ri = res.scaling("shared_read_immortal", strategy, n)
        rm = res.scaling("shared_read", strategy, n)
        if ri is None:
            continue
        si = 1 / ri
        cell = "%s N=%d: immortal %.2f×" % (strategy, n, si)
        good = si >= 1.5
        if rm is not None:
            cell += " vs counted %.2f×" % (1 / rm)
            good = good and si > 1 / rm
        cells.append(cell)
        ok = good if ok is None else ok and good
    if not cells:
        return None
    return "shared_read speedup T(1)/T(N): " + "; ".join(cells), verdict(ok)


def check_free_threaded(res, strategy, reference):
    ratios = []
    for w in res.cpu_workloads():
        b = res.time(w, strategy, 1)
        s = res.time(w, reference, 1)
        if b and s:
            ratios.append(b / s)
    g = geomean(ratios)
    r2 = res.scaling("countdown", strategy, 2)
    if g is None and r2 is None:
        return None
    parts = []
    ok = True
    if g is not None:
        parts.append("1-thread overhead %+.1f %% (geomean)" % ((g - 1) * 100))
        ok = -0.04 <= g - 1 <= 0.15
    if r2 is not None:
        parts.append("countdown T(1)/T(2) = %.2f×" % (1 / r2))
        ok = ok and 1 / r2 >= 1.5
    return "; ".join(parts), verdict(ok)


def check_startup(res, process, threads):
    p = res.find("process_startup", process, 1)
    t = res.find("process_startup", threads, 1)
    pm = p.counter("startup_ms") if p else None
    tm = t.counter("startup_ms") if t else None
    if pm is None:
        return None
    if tm is None or tm <= 0:
        return "process start %.1f ms (no thread start in this file)" % pm, NOT_MEASURED
    ratio = pm / tm
    return ("process start %.2f ms vs thread start %.3f ms: %.0f×" % (pm, tm, ratio),
            verdict(100 <= ratio <= 2500))


def behaviours(emu, cpy):
    """The fifteen rows, in anchors-gil.md's order."""
    rows = []

    def fill(row, emulated, cpython, cpython_applies=True):
        if emulated is not None:
            row.emulated, row.holds_emulated = emulated
        if not cpython_applies:
            row.cpython, row.holds_cpython = "-", NA
        elif cpy is None:
            row.cpython, row.holds_cpython = "-", NO_FILE
        elif cpython is None:
            row.cpython, row.holds_cpython = "-", NOT_MEASURED
        else:
            row.cpython, row.holds_cpython = cpython
        rows.append(row)

    b = Behaviour(1, "No CPU scaling under the GIL: N CPU-bound threads take the 1-thread time",
                  "1/2/4/8 threads: 6.52/6.57/6.59/6.58 s, T(N)/T(1) = 1.00-1.01 [SKV]",
                  "T(N)/T(1) in [0.90, 1.10] for every CPU workload and N ≥ 2")
    fill(b, check_no_scaling(emu, "gil"), check_no_scaling(cpy, "cpython_threads") if cpy else None)

    b = Behaviour(2, "Old GIL (tick release, no forced hand-off): 2 threads ≈ 2× slower than 1",
                  "15.4 s vs 7.8 s = 1.97× on 4 cores; 11.3 s = 1.45× on 1 core [BZ10][VN]",
                  "gil_legacy countdown T(2)/T(1) ≥ 1.45 (the 1-core figure)")
    fill(b, check_old_gil(emu), None, cpython_applies=False)

    b = Behaviour(3, "Timed-request rule: a drop request only after a full interval without a "
                     "hand-off; a holder that releases more often is never forced",
                  "rule of take_gil (no figure) [GIL-32][GIL-314]",
                  "CPU rows: drop requests ≤ wall time / interval + N; IO rows: 0 forced switches")
    fill(b, check_timed_requests(emu), None, cpython_applies=False)

    b = Behaviour(4, "Forced hand-off: after a forced drop the next holder is another thread",
                  "100 % of the time (FORCE_SWITCHING) [GIL-32]",
                  "every forced switch is a switch (counters); the protocol: gil_test (ctest)")
    fill(b, check_forced_handoff(emu), None, cpython_applies=False)

    b = Behaviour(5, "Convoy: an IO thread next to CPU threads waits ≈ one interval per re-acquire",
                  "30,000 → 100 RPS with 1 CPU thread (300×), 50 with 2, 30 with 4 at 5 ms [SKV]",
                  "K=1 degradation in [100×, 900×] (300× within 3×); K=1/K=2 in [1.3, 3.0]")
    fill(b, check_convoy(emu, "gil"), check_convoy(cpy, "cpython_threads") if cpy else None)

    b = Behaviour(6, "Interval sweep: CPU-only runs inflate and IO throughput rises as the interval "
                     "shrinks",
                  "2 threads: 6.58/9.20/12.29/17.16 s at 5 ms/100 us/10 us/1 us; convoy RPS "
                  "100 → 500 → 3,200 → 11,000 at 5 ms → 10 us [SKV]",
                  "T(interval)/T(longest) ≥ 1.05 at ≤ 100 us and never 10 % faster as it shrinks; "
                  "convoy RPS never 10 % lower as it shrinks (≥ 10 us)")
    fill(b, check_interval_sweep(emu, "gil"),
         check_interval_sweep(cpy, "cpython_threads") if cpy else None)

    b = Behaviour(7, "Check points only: a call with no check point holds the GIL for its duration",
                  "straight-line C calls are not interruptible [GIL-312][GIL-314]", "-")
    b.emulated, b.holds_emulated = "-", NOT_COVERED + " (no workload makes a long check-point-free call)"
    fill(b, None, None, cpython_applies=False)

    b = Behaviour(8, "Blocking release: work inside blocking calls runs in parallel",
                  "SHA-256 of 1 GB: 3.30 s on 1 thread, 1.68 s on 2 (1.96×), 2 cores [SKV]",
                  "sleep_io speedup T(1)/T(2) ≥ 1.6 (80 % of 2×)")
    fill(b, check_blocking_release(emu, "gil"),
         check_blocking_release(cpy, "cpython_threads") if cpy else None)

    b = Behaviour(9, "Atomic-RC penalty: atomic counts cost more alone and collapse when shared",
                  "~20-30 % slower single-threaded [VS][G16]; 7 threads 18.9× slower than 1 [VS]",
                  "1-thread atomic_rc/serial > 1.00; shared_read T(N)/T(1) > 1.00 (direction: "
                  "2 cores cannot reach 7 threads)")
    fill(b, check_atomic_penalty(emu), None, cpython_applies=False)

    b = Behaviour(10, "Biased RC: owner ops ≈ non-atomic, non-owner ≈ atomic, objects freed exactly once",
                  "RC op > 2× faster than atomic; -22.5 % client time [BRC]",
                  "1-thread biased_rc/atomic_rc < 1.00; live objects 0 after every run "
                  "(race test: biased_rc unit tests)")
    fill(b, check_brc(emu), None, cpython_applies=False)

    b = Behaviour(11, "Immortal objects: threads increfing immortal objects scale like private data",
                  "no shared writes (PEP 683 / PEP 703; no figure) [PEP683][PEP703]",
                  "shared_read_immortal T(1)/T(2) ≥ 1.5 and above shared_read's; deferred RC: "
                  + NOT_COVERED)
    fill(b, check_immortal(emu), None, cpython_applies=False)

    b = Behaviour(12, "Free-threaded costs: small 1-thread overhead, near-linear CPU scaling",
                  "1-thread +5-8 % (PEP 703), +1-8 % (3.14); 1.96× at 2 threads [PEP703][FT314][JS]",
                  "biased_rc 1-thread overhead in [-4 %, +15 %] (1-10 % ± 5 pp); countdown "
                  "T(1)/T(2) ≥ 1.5 (2 unequal vCPUs)")
    ft = None
    if cpy is not None and cpy.gil_enabled() == "false":
        ft = check_free_threaded(cpy, "cpython_threads", cpy.reference)
    fill(b, check_free_threaded(emu, "biased_rc", emu.reference), ft,
         cpython_applies=cpy is None or cpy.gil_enabled() == "false")
    if cpy is not None and cpy.gil_enabled() != "false":
        b.cpython, b.holds_cpython = "-", NA + " (this CPython has the GIL)"

    b = Behaviour(13, "Critical sections: opposite nesting never deadlocks; pairs lock in address order",
                  "rule of Py_BEGIN_CRITICAL_SECTION (no figure) [PEP703]", "-")
    b.emulated, b.holds_emulated = "-", NOT_COVERED + " in result files (fine_lock_test, ctest)"
    fill(b, None, None, cpython_applies=False)

    b = Behaviour(14, "Lock fairness: a PyMutex waiter starved > 1 ms gets direct hand-off",
                  "TIME_TO_BE_FAIR_NS = 1 ms [LOCK]", "-")
    b.emulated, b.holds_emulated = "-", NOT_COVERED
    fill(b, None, None, cpython_applies=False)

    b = Behaviour(15, "Process vs thread start: a spawned process starts ~500× slower than a thread",
                  "~50 ms vs ~100 us [PEP703]",
                  "process_startup startup_ms ratio in [100×, 2500×] (500× within 5×)")
    fill(b, check_startup(emu, "process", "threads"),
         check_startup(cpy, "cpython_process", "cpython_threads") if cpy else None)
    return rows


def speedup_rows(emu, cpy):
    """(workload, kind, N, pair, emulated, real, difference, within) rows."""
    out = []
    if cpy is None:
        return out
    workloads = sorted({r.workload for r in emu.runs.values()} & {r.workload for r in cpy.runs.values()},
                       key=lambda w: (emu.kind(w) != "cpu", w))
    for w in workloads:
        if w == "process_startup" or w == "convoy":
            continue
        for emu_s, cpy_s in (("gil", "cpython_threads"), ("process", "cpython_process")):
            for n in sorted(set(emu.workers(emu_s, w)) & set(cpy.workers(cpy_s, w))):
                se = emu.speedup(w, emu_s, n)
                sr = cpy.speedup(w, cpy_s, n)
                diff = se / sr - 1 if se and sr else None
                within = "-" if diff is None else verdict(abs(diff) <= 0.10)
                out.append((w, emu.kind(w) or "?", n, "%s / %s" % (emu_s, cpy_s),
                            fmt_x(se) if se else failed_or_dash(emu, w, emu_s, n),
                            fmt_x(sr) if sr else failed_or_dash(cpy, w, cpy_s, n), diff, within))
    return out


def failed_or_dash(res, workload, strategy, workers):
    """FAILED when the run (or the reference it is divided by) has an error row."""
    for run in (res.find(workload, strategy, workers), res.find(workload, res.reference, 1)):
        if run is not None and run.error:
            return "FAILED"
    return "-"


def markdown(emu, cpy):
    lines = ["# gilbench fidelity report", ""]
    lines.append("- RESULT " + emu.describe())
    lines.append("- CPYTHON " + (cpy.describe() if cpy else "not given"))
    lines += ["", "## Checkable behaviours", "",
              "From ../shared/research/anchors-gil.md, \"What a faithful emulation must reproduce\" "
              "(source tags as there). Emulated = RESULT, real CPython = CPYTHON (the twin, "
              "bench/python/twin.py); times are medians of the repetitions.", "",
              "| # | behaviour | published | emulated | real CPython | holds (emulated) | "
              "holds (CPython) | tolerance |",
              "|---|---|---|---|---|---|---|---|"]
    for b in behaviours(emu, cpy):
        lines.append("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
            b.number, b.title, b.published, b.emulated, b.cpython, b.holds_emulated,
            b.holds_cpython, b.tolerance))
    for res, label in ((emu, "RESULT"), (cpy, "CPYTHON")):
        failed = sorted(r.name for r in res.runs.values() if r.error) if res else []
        if failed:
            lines += ["", "%s has %d failed benchmark(s), left out of the figures above: %s"
                      % (label, len(failed), ", ".join(failed))]
    lines += ["", "## Speedups: emulated vs real CPython", ""]
    rows = speedup_rows(emu, cpy)
    if cpy is None:
        lines.append("No CPython file given: pass the twin's result (cpython.json) as the second file.")
    elif not rows:
        lines.append("The two files have no workload and worker count in common.")
    else:
        lines += ["Speedup = the file's reference strategy at 1 worker / the run (RESULT: `%s`, "
                  "CPYTHON: `%s`). Goal: emulated within ±10 %% of real." % (emu.reference, cpy.reference),
                  "",
                  "| workload | kind | workers | emulated / real | emulated | real CPython | "
                  "difference | within ±10 % |",
                  "|---|---|---|---|---|---|---|---|"]
        for w, kind, n, pair, se, sr, diff, within in rows:
            lines.append("| %s | %s | %d | %s | %s | %s | %s | %s |" % (
                w, kind, n, pair, se, sr, fmt_pct(diff), within))
    conv = convoy_summary(emu, cpy)
    if conv:
        lines += ["", "## Convoy: IO round trips per second with K CPU workers", ""] + conv
    return "\n".join(lines) + "\n"


def convoy_summary(emu, cpy):
    te = convoy_table(emu, "gil")
    tc = convoy_table(cpy, "cpython_threads") if cpy else {}
    if not te and not tc:
        return []
    ks = sorted(set(te) | set(tc))
    lines = ["At the default switch interval; degradation = K=0 rate / rate.", "",
             "| K | emulated gil | degradation | real CPython | degradation |", "|---|---|---|---|---|"]

    def cells(t, k):
        if k not in t:
            return "-", "-"
        base = t.get(0, (None,))[0] or t[k][1]
        rps = t[k][0]
        return "%.0f/s" % rps, (fmt_x(base / rps, 0) if base and rps else "-")
    for k in ks:
        e = cells(te, k)
        c = cells(tc, k)
        lines.append("| %d | %s | %s | %s | %s |" % (k, e[0], e[1], c[0], c[1]))
    return lines


def main(argv):
    argv = list(argv)
    if argv and argv[0] == "fidelity" and not os.path.exists(argv[0]):
        argv = argv[1:]  # called with the sub-command name still in front
    p = Parser(prog="fidelity", allow_abbrev=False,
               description="The fidelity report: the checkable GIL behaviours in an emulated "
                           "result file (and a CPython twin file), as a markdown table.")
    p.add_argument("result", metavar="RESULT.json", help="gilbench result file")
    p.add_argument("cpython", metavar="CPYTHON.json", nargs="?", help="CPython twin result file")
    p.add_argument("--markdown", metavar="FILE", help="also write the report to FILE")
    try:
        args = p.parse_args(argv)
    except UsageError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 2
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    try:
        emu = Results(args.result)
        if emu.reference == "cpython_serial" or emu.context.get("gilbench_runtime") == "cpython":
            raise InputError("%s is a CPython twin file; the emulated result comes first: "
                             "fidelity RESULT.json [CPYTHON.json]" % args.result)
        cpy = Results(args.cpython) if args.cpython else None
        if cpy is not None and not any(r.strategy.startswith("cpython_") for r in cpy.runs.values()):
            raise InputError("%s has no cpython_* runs: it is not a CPython twin file "
                             "(bench/python/twin.py)" % args.cpython)
    except InputError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 2
    text = markdown(emu, cpy)
    if args.markdown:
        try:
            directory = os.path.dirname(os.path.abspath(args.markdown))
            os.makedirs(directory, exist_ok=True)
            with open(args.markdown, "w") as f:
                f.write(text)
        except OSError as e:
            sys.stderr.write("%s: cannot write %s: %s\n" % (PROG, args.markdown, e.strerror or e))
            return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
