#!/usr/bin/python3
"""fidelity: does the emulated GIL behave like the real one?

usage: fidelity RESULT.json [CPYTHON.json] [--markdown FILE] [--bytecode-sweep SWEEP.json]

RESULT.json is a gilbench result file (the emulation), CPYTHON.json an
optional result file of the CPython twin (bench/python/twin.py, the same
workloads on the real interpreter). Both are read by the results library's
loader (gilbench_results.load: schema 2, each run's fields from
gilbench_runs, every field checked); times are the medians of the
repetitions, in seconds (Google Benchmark's `_median` rows are not read); a
benchmark with an error row counts as failed. The report has two tables,
printed and, with --markdown, written to FILE as markdown:

1. The fifteen checkable behaviours a faithful emulation of CPython's GIL
   must reproduce (the project's own list, each with its published figure
   and the source that published it), in that order: BEHAVIOURS, a table of data (the
   published figure with its source tag, the tolerance in words and its
   numbers, the function that measures it, whether CPython has it) that
   evaluate() applies to each file. For each: the emulated figure from
   RESULT.json, the real-CPython figure from CPYTHON.json where the twin
   measures one, whether the behaviour holds in each. A behaviour whose rows
   are absent from a file says "not measured in this file"; one the suite has
   no benchmark for says "not covered by the suite" (naming the unit test
   that covers it, if any). Nothing is dropped.
2. Speedups side by side: per workload and worker count, the emulated `gil`
   speedup (over RESULT's reference strategy at 1 worker) next to the
   `cpython_threads` speedup (over CPYTHON's reference, cpython_serial), and
   `process` next to `cpython_process`, with the goal of +-10 %.

Each file's speedups are computed against that file's own reference strategy
(context key gilbench_reference_strategy; "serial" when absent), never
across files: absolute times of C++ and Python differ ~50x, ratios do not.

report() returns all of it as data (Report); markdown() renders it. plot.py's
`fidelity` sub-command imports this module and calls main(argv), argv being
the arguments after the sub-command. Exit status: 0 the report was made (a
behaviour that does not hold is a finding, not an error); 2 bad command line
or unreadable input, with one line on stderr.
"""

import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gilbench_results import durations, schema  # noqa: E402
from gilbench_results.errors import ArgumentParser, InputError, UsageError, one_line  # noqa: E402
from gilbench_results.load import load_result  # noqa: E402
from gilbench_results.output import emit, write_output  # noqa: E402
from gilbench_results.stats import geomean, median  # noqa: E402

PROG = "fidelity"

# Whether a behaviour holds in a file.
YES = "yes"
NO = "no"
NOT_MEASURED = "not measured in this file"
NOT_COVERED = "not covered by the suite"
NA = "n/a"
NO_FILE = "no CPython file"

# The axis of --bytecode-cost (steps of interpretive work per checkpoint).
BYTECODE_AXIS = schema.BYTECODE_AXIS

# CPython's default switch interval: a file's default when it names none.
DEFAULT_INTERVAL_NS = 5_000_000

# Which strategy plays which part in each file.
EMULATED = {"threads": "gil", "process": "process", "startup_threads": "threads",
            "free_threaded": "biased_rc", "legacy": "gil_legacy", "atomic": "atomic_rc",
            "biased": "biased_rc", "ordered": "fine_lock", "naive": "fine_lock_naive"}
CPYTHON = {"threads": "cpython_threads", "process": "cpython_process",
           "startup_threads": "cpython_threads", "free_threaded": "cpython_threads"}


class Figures:
    """The figures of one loaded result file: medians of repetitions, in seconds."""

    def __init__(self, result, bytecode=None):
        self.result = result
        # The bytecode cost (steps) each workload is read at, where runs carry the axis:
        # {workload: steps}; a workload not in it is read at the file's first cost.
        steps = result.ctx_json(schema.BYTECODE_KEY, [])
        self.default_bytecode = str(steps[0]) if steps else None
        self.bytecode = {w: str(v) for w, v in (bytecode or {}).items()}
        self.path = result.path
        self.context = result.context
        self.reference = result.reference
        self.runs = result.runs
        intervals = result.ctx_json(schema.INTERVALS_KEY, [])
        self.default_interval = (durations.nanoseconds(intervals[0]) if intervals else None) \
            or DEFAULT_INTERVAL_NS

    @staticmethod
    def interval(run):
        """The run's switch interval in nanoseconds (its `interval` axis), or None."""
        text = run.axes.get("interval")
        return durations.nanoseconds(text) if text else None

    @staticmethod
    def run_time(run):
        return median(run.samples()) if run and not run.failed and run.times else None

    @staticmethod
    def counter(run, key):
        values = run.counter_samples(key) if run and not run.failed else []
        return median(values) if values else None

    def at_cost(self, run):
        """True when the run has no bytecode axis or is at the cost its workload is read at."""
        cost = run.axes.get(BYTECODE_AXIS)
        return cost is None or cost == self.bytecode.get(run.workload, self.default_bytecode)

    def find(self, workload, strategy, workers, interval=None):
        """The run at this interval (ns; default: the file's default interval) and at the
        workload's bytecode cost."""
        want = interval if interval is not None else self.default_interval
        fallback = None
        for run in self.runs.values():
            if (run.workload, run.strategy, run.workers) != (workload, strategy, workers):
                continue
            if not self.at_cost(run):
                continue
            iv = self.interval(run)
            if iv is None or iv == want:
                return run
            if interval is None and fallback is None:
                fallback = run
        return fallback if interval is None else None

    def time(self, workload, strategy, workers, interval=None):
        return self.run_time(self.find(workload, strategy, workers, interval))

    def runs_of(self, strategy, workload=None):
        return [r for r in self.runs.values()
                if r.strategy == strategy and (workload is None or r.workload == workload)
                and self.at_cost(r)]

    def workers(self, strategy, workload):
        return sorted({r.workers for r in self.runs_of(strategy, workload)})

    def intervals(self, workload, strategy, workers):
        """The run's intervals (ns), longest first."""
        return sorted({self.interval(r) for r in self.runs_of(strategy, workload)
                       if r.workers == workers and self.interval(r) is not None}, reverse=True)

    def kind(self, workload):
        return self.result.kinds.get(workload)

    def cpu_workloads(self):
        """The CPU workloads of the file; with a bytecode map, those it names (the ones
        read at a calibrated cost)."""
        return [w for w in sorted({r.workload for r in self.runs.values()})
                if self.kind(w) == "cpu" and (not self.bytecode or w in self.bytecode)]

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

    def failed(self):
        return sorted(r.name for r in self.runs.values() if r.failed)

    def describe(self):
        c = self.context
        if c.get("gilbench_runtime") == "cpython":
            gil = {"true": "GIL enabled", "false": "GIL disabled"}.get(self.gil_enabled(),
                                                                       "GIL unknown")
            what = "%s %s, %s" % (c.get("gilbench_python_implementation", "Python"),
                                  c.get("gilbench_python_version", "?"), gil)
        else:
            what = "gilbench %s" % c.get("gilbench_git_revision", "(revision unknown)")
        return "`%s`: %s, mode %s, switch interval %s, reference `%s`" % (
            self.path, what, c.get(schema.MODE_KEY, "?"),
            durations.format_ns(self.default_interval), self.reference)


def verdict(ok):
    return YES if ok else NO


def fmt_x(v, digits=2):
    return "-" if v is None else "%.*f×" % (digits, v)


# ---- how each behaviour is measured ---------------------------------------------
#
# measure(figures, roles, **limits) -> (figure text, YES/NO/NOT_MEASURED), or None when
# the file has no rows for it; roles maps a part (threads, process, ...) to the file's
# strategy (EMULATED or CPYTHON), limits are the behaviour's tolerance numbers.

def no_scaling(res, roles, band):
    strategy = roles["threads"]
    worst = None
    parts = []
    ok = True
    for w in res.cpu_workloads():
        for n in res.workers(strategy, w):
            r = res.scaling(w, strategy, n) if n >= 2 else None
            if r is None:
                continue
            if w == "countdown":
                parts.append("%d: %.2f" % (n, r))
            if worst is None or abs(r - 1) > abs(worst[0] - 1):
                worst = (r, w, n)
            ok = ok and band[0] <= r <= band[1]
    if worst is None:
        return None
    text = ("countdown T(N)/T(1) " + ", ".join(parts) + "; " if parts else "") + \
        "worst of %d CPU workloads: %.2f (%s, N=%d)" % (len(res.cpu_workloads()), *worst)
    return text, verdict(ok)


def old_gil(res, roles, least):
    r = res.scaling("countdown", roles["legacy"], 2)
    if r is None:
        return None
    text = "countdown under %s: T(2)/T(1) = %.2f" % (roles["legacy"], r)
    futile = res.counter(res.find("countdown", roles["legacy"], 2), "gil_futile_wakeups")
    if futile is not None:
        text += ", %.0f futile wake-ups" % futile
    return text, verdict(r >= least)


# Workloads whose holder cannot honour a drop request for a whole call (behaviour 7):
# every waiter then posts one per interval of its own wait, so behaviour 3's bound of
# one request per interval does not apply to them.
NO_CHECKPOINT_WORKLOADS = {"c_call"}


def timed_requests(res, roles, slack):
    """CPU rows: drop requests per interval of wall time; IO rows: forced switches."""
    worst = None
    io_forced = []
    for run in res.runs_of(roles["threads"]):
        if run.workers < 2 or run.workload in NO_CHECKPOINT_WORKLOADS:
            continue
        if res.kind(run.workload) == "cpu":
            interval = (res.interval(run) or res.default_interval) / durations.NS_PER_S
            for seconds, counters in run.repetitions():
                requests = counters.get("gil_drop_requests")
                if requests is None:
                    continue
                intervals = seconds / interval
                over = (requests - run.workers) / intervals
                if worst is None or over > worst[0]:
                    worst = (over, requests / intervals, run.name)
        elif res.kind(run.workload) == "io" and run.workload != "convoy":
            forced = res.counter(run, "gil_forced_switches")
            if forced is not None:
                io_forced.append((forced, run.name))
    if worst is None and not io_forced:
        return None
    parts = []
    ok = True
    if worst is not None:
        parts.append("CPU rows: at most %.2f drop requests per interval of wall time (%s)"
                     % (worst[1], worst[2]))
        ok = worst[0] <= slack
    if io_forced:
        most = max(io_forced)
        parts.append("IO rows (voluntary releases): forced switches max %.0f (%s)" % most)
        ok = ok and most[0] == 0
    else:
        parts.append("IO rows: not in this file")
    return "; ".join(parts), verdict(ok)


def forced_handoff(res, roles):
    rows = 0
    bad = []
    total_forced = 0.0
    for run in res.runs_of(roles["threads"]):
        for _, counters in run.repetitions():
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
    text = "forced switches ≤ switches in %d of %d %s repetitions (%.0f forced in all)" % (
        rows - len(bad), rows, roles["threads"], total_forced)
    return text, verdict(not bad)


def convoy_table(res, strategy, interval=None):
    """K -> (io_rps, io_rps_alone) at one interval (ns; default: the file's). convoy's
    workers are K, its CPU workers (workers:0 = the IO worker alone)."""
    want = interval if interval is not None else res.default_interval
    out = {}
    for run in res.runs_of(strategy, "convoy"):
        if (res.interval(run) or res.default_interval) != want:
            continue
        rps = res.counter(run, "io_rps")
        if rps is not None:
            out[run.workers] = (rps, res.counter(run, "io_rps_alone"))
    return out


def convoy_mechanism(res, strategy, k):
    """(median round trip in switch intervals, switch intervals lost per blocking call)
    of the convoy run with K CPU workers at the default interval, or None. Read from
    io_p50_us and the two rates, so files older than the io_p50_intervals and
    io_lost_per_call counters give the same figures."""
    run = next((r for r in res.runs_of(strategy, "convoy") if r.workers == k
                and (res.interval(r) or res.default_interval) == res.default_interval), None)
    p50 = res.counter(run, "io_p50_us")
    rps, alone = res.counter(run, "io_rps"), res.counter(run, "io_rps_alone")
    if p50 is None or not rps or not alone:
        return None
    interval_s = res.default_interval / 1e9
    return p50 / 1e6 / interval_s, max(0.0, 1 / rps - 1 / alone) / 2 / interval_s


def convoy(res, roles, p50_band, lost_band):
    """The convoy by its mechanism: with one CPU worker a round trip's median is one or
    two switch intervals and each blocking call loses up to one; a second CPU worker
    loses more. The K=0 rate and the degradation are shown, not judged: they are a
    property of the machine (the published 300x is 33 us round trips on its own)."""
    table = convoy_table(res, roles["threads"])
    m1 = convoy_mechanism(res, roles["threads"], 1)
    if not table or m1 is None:
        return None
    base = table.get(0, (None, None))[0]
    alone = [a for _, a in table.values() if a]
    base = base or (median(alone) if alone else None)
    text = "K=1: median round trip %.2f intervals, %.2f intervals lost per blocking call" % m1
    ok = p50_band[0] <= m1[0] <= p50_band[1] and lost_band[0] <= m1[1] <= lost_band[1]
    m2 = convoy_mechanism(res, roles["threads"], 2)
    if m2 is not None:
        text += "; K=2: %.2f, %.2f" % m2
        ok = ok and m2[0] > m1[0] and m2[1] > m1[1]
    rates = ["K=%d: %.0f/s" % (k, table[k][0]) for k in sorted(table) if k >= 1]
    if base and 1 in table and table[1][0] > 0:
        text += " (rates, not judged: K=0 %.0f/s, %s; K=1 degradation %.0f×)" % (
            base, ", ".join(rates), base / table[1][0])
    params = res.result.ctx_json(schema.PARAMS_KEY, {}).get("convoy") or {}
    text += " [echo peer: %s; %d alone/loaded window pairs per run]" % (
        {"tcp": "gilbench --echo-peer over TCP loopback"}.get(params.get("peer"),
                                                              "the default, over a socketpair"),
        params.get("windows", 1))
    return text, verdict(ok)


def interval_sweep(res, roles, inflation, fast_ns, io_floor_ns, step):
    strategy = roles["threads"]
    parts = []
    ok = True
    measured = False
    for n in res.workers(strategy, "countdown"):
        intervals = res.intervals("countdown", strategy, n) if n >= 2 else []
        if len(intervals) < 2:
            continue
        measured = True
        base = res.time("countdown", strategy, n, intervals[0])
        cells = []
        prev = None
        for iv in intervals:
            t = res.time("countdown", strategy, n, iv)
            if t is None or not base:
                continue
            r = t / base
            cells.append("%s %.2f" % (durations.format_ns(iv), r))
            if prev is not None and r < prev * step:
                ok = False  # a shorter interval made it clearly faster
            prev = r
            if iv <= fast_ns and r < inflation:
                ok = False  # no inflation at short intervals
        parts.append("countdown N=%d, T/T(%s): %s" % (n, durations.format_ns(intervals[0]),
                                                      ", ".join(cells)))
        break
    # IO side: convoy round trips at each interval with K=1.
    ivs = sorted({res.interval(r) for r in res.runs_of(strategy, "convoy")} - {None},
                 reverse=True)
    if len(ivs) >= 2:
        measured = True
        cells = []
        prev = None
        for iv in ivs:
            k1 = convoy_table(res, strategy, iv).get(1)
            if not k1:
                continue
            cells.append("%s %.0f/s" % (durations.format_ns(iv), k1[0]))
            if prev is not None and iv >= io_floor_ns and k1[0] < prev * step:
                ok = False  # IO throughput must rise as the interval shrinks
            prev = k1[0]
        if cells:
            parts.append("convoy K=1: " + ", ".join(cells))
    if not measured:
        return None
    return "; ".join(parts), verdict(ok)


def no_checkpoint_call(res, roles, least):
    """c_call under the GIL at 2 workers: the mean wait per contended acquisition against
    one section (the reference's 1-worker time / sections) and the switch interval."""
    run = res.find("c_call", roles["threads"], 2)
    serial = res.time("c_call", res.reference, 1)
    params = res.result.ctx_json(schema.PARAMS_KEY, {}).get("c_call") or {}
    wait, contended = res.counter(run, "gil_wait_ns"), res.counter(run, "gil_contended")
    if run is None or not serial or not params.get("sections") or not wait or not contended:
        return None
    section_ms = serial / params["sections"] * 1e3
    wait_ms = wait / contended / 1e6
    interval_ms = res.default_interval / 1e6
    return ("c_call under %s, 2 workers: a contended acquisition waits %.1f ms on average "
            "(%d waits); one check-point-free call takes %.1f ms, the switch interval is %.1f ms"
            % (roles["threads"], wait_ms, round(contended), section_ms, interval_ms),
            verdict(wait_ms >= least * section_ms and section_ms >= 2 * interval_ms))


def blocking_release(res, roles, least):
    cells = []
    ok = None
    for n in res.workers(roles["threads"], "sleep_io"):
        r = res.scaling("sleep_io", roles["threads"], n) if n >= 2 else None
        if r is None:
            continue
        cells.append("N=%d: %.2f×" % (n, 1 / r))
        if n == 2:
            ok = 1 / r >= least
    if not cells:
        return None
    return ("sleep_io speedup T(1)/T(N) " + ", ".join(cells),
            verdict(ok) if ok is not None else NOT_MEASURED)


def ratio_to(res, strategy, other):
    """Geomean over the CPU workloads of T(strategy, 1) / T(other, 1), and how many."""
    ratios = []
    for w in res.cpu_workloads():
        a, b = res.time(w, strategy, 1), res.time(w, other, 1)
        if a and b:
            ratios.append(a / b)
    return geomean(ratios), len(ratios)


def atomic_penalty(res, roles):
    g, n = ratio_to(res, roles["atomic"], res.reference)
    if g is None:
        return None
    text = "1 thread: %s / %s = %.2f (geomean of %d CPU workloads)" % (
        roles["atomic"], res.reference, g, n)
    ok = g > 1.0
    ns = [k for k in res.workers(roles["atomic"], "shared_read") if k >= 2]
    r = res.scaling("shared_read", roles["atomic"], max(ns)) if ns else None
    if r is not None:
        text += "; shared_read T(%d)/T(1) = %.2f" % (max(ns), r)
        ok = ok and r > 1.0
    return text, verdict(ok)


def biased_rc(res, roles):
    g, _ = ratio_to(res, roles["biased"], roles["atomic"])
    live = [res.counter(r, "live_objects") for r in res.runs_of(roles["biased"])]
    live = [v for v in live if v is not None]
    if g is None and not live:
        return None
    parts = []
    ok = True
    if g is not None:
        parts.append("1 thread: %s / %s = %.2f (geomean)" % (roles["biased"], roles["atomic"], g))
        ok = g < 1.0
    if live:
        parts.append("live objects after the run: max %.0f in %d %s runs"
                     % (max(live), len(live), roles["biased"]))
        ok = ok and max(live) == 0
    return "; ".join(parts), verdict(ok)


def immortal(res, roles, least):
    cells = []
    ok = None
    for strategy in (roles["atomic"], roles["biased"]):
        ns = [n for n in res.workers(strategy, "shared_read_immortal") if n >= 2]
        if not ns:
            continue
        n = 2 if 2 in ns else min(ns)
        ri = res.scaling("shared_read_immortal", strategy, n)
        rm = res.scaling("shared_read", strategy, n)
        if ri is None:
            continue
        cell = "%s N=%d: immortal %.2f×" % (strategy, n, 1 / ri)
        good = 1 / ri >= least
        if rm is not None:
            cell += " vs counted %.2f×" % (1 / rm)
            good = good and 1 / ri > 1 / rm
        cells.append(cell)
        ok = good if ok is None else ok and good
    if not cells:
        return None
    return "shared_read speedup T(1)/T(N): " + "; ".join(cells), verdict(ok)


def instruction_ratios(res, strategy):
    """{workload: instructions of strategy's 1-worker run / the reference's} for the CPU
    workloads whose two runs the file's instruction lane counted (plot.py instructions)."""
    counts = res.result.instructions or {}
    out = {}
    for w in res.cpu_workloads():
        a, b = res.find(w, strategy, 1), res.find(w, res.reference, 1)
        if a and b and counts.get(a.name) and counts.get(b.name):
            out[w] = counts[a.name] / counts[b.name]
    return out


def free_threaded(res, roles, overhead, least):
    g, _ = ratio_to(res, roles["free_threaded"], res.reference)
    r2 = res.scaling("countdown", roles["free_threaded"], 2)
    if g is None and r2 is None:
        return None
    parts = []
    ok = True
    if g is not None:
        parts.append("1-thread overhead %+.1f %% (geomean)" % ((g - 1) * 100))
        ok = overhead[0] <= g - 1 <= overhead[1]
    instr = instruction_ratios(res, roles["free_threaded"])
    if instr:  # reported beside the time, not judged: the behaviour is about time
        parts.append("by instructions %+.1f %% (geomean; %s)" % (
            (geomean(list(instr.values())) - 1) * 100,
            ", ".join("%s %.3f" % (w, r) for w, r in sorted(instr.items()))))
    if r2 is not None:
        parts.append("countdown T(1)/T(2) = %.2f×" % (1 / r2))
        ok = ok and 1 / r2 >= least
    return "; ".join(parts), verdict(ok)


def startup(res, roles, ratio):
    pm = res.counter(res.find("process_startup", roles["process"], 1), "startup_ms")
    tm = res.counter(res.find("process_startup", roles["startup_threads"], 1), "startup_ms")
    if pm is None:
        return None
    if tm is None or tm <= 0:
        return "process start %.1f ms (no thread start in this file)" % pm, NOT_MEASURED
    r = pm / tm
    return ("process start %.2f ms vs thread start %.3f ms: %.0f×" % (pm, tm, r),
            verdict(ratio[0] <= r <= ratio[1]))


def free_threaded_cpython(cpy):
    """Behaviour 12 applies to a CPython without the GIL only."""
    return None if cpy.gil_enabled() == "false" else "(this CPython has the GIL)"


def critical_sections(res, roles):
    """transfer (two lists, half of the workers moving each way): pairs locked in
    address order always complete; locked in call order they deadlock (detected)."""
    ordered = [r for r in res.runs_of(roles["ordered"], "transfer") if r.workers >= 2]
    if not ordered:
        return None
    completed = [r for r in ordered if not r.failed]
    text = "transfer under %s: %d of %d multi-worker rows completed" % (
        roles["ordered"], len(completed), len(ordered))
    naive = [r for r in res.runs_of(roles["naive"], "transfer") if r.workers >= 2 and not r.failed]
    if naive:
        reps = sum(len(r.counter_samples("deadlocked")) for r in naive)
        hit = sum(1 for r in naive for v in r.counter_samples("deadlocked") if v >= 1)
        detect = [v for r in naive for v in r.counter_samples("deadlock_detect_ms") if v > 0]
        text += "; under %s (call order) %d of %d repetitions deadlocked" % (roles["naive"], hit, reps)
        if detect:
            text += ", detected in %.1f-%.1f ms" % (min(detect), max(detect))
    return text, verdict(len(completed) == len(ordered))


# ---- the behaviours: a table of data ----------------------------------------------

@dataclass(frozen=True)
class Behaviour:
    """One checkable behaviour of a faithful GIL emulation."""

    id: int
    title: str
    published: str  # the published figure, with its source tag
    tolerance: str  # when it holds, in words
    measure: Optional[Callable] = None  # None: no benchmark of the suite measures it
    limits: dict = field(default_factory=dict)  # the tolerance's numbers, passed to measure
    # On CPython: False no counterpart; True measured there too (with CPYTHON's roles); a
    # function(Figures) -> None when it applies, else why not.
    cpython: object = False
    not_covered: str = ""  # with no measure: what covers it instead
    # Judged at CPython's bytecode cost when a bytecode sweep is given (--bytecode-sweep).
    calibrated: bool = False


BEHAVIOURS = [
    Behaviour(1, "No CPU scaling under the GIL: N CPU-bound threads take the 1-thread time",
              "1/2/4/8 threads: 6.52/6.57/6.59/6.58 s, T(N)/T(1) = 1.00-1.01 [SKV]",
              "T(N)/T(1) in [0.90, 1.10] for every CPU workload and N ≥ 2",
              no_scaling, {"band": (0.90, 1.10)}, cpython=True),
    Behaviour(2, "Old GIL (tick release, no forced hand-off): 2 threads ≈ 2× slower than 1",
              "15.4 s vs 7.8 s = 1.97× on 4 cores; 11.3 s = 1.45× on 1 core [BZ10][VN]",
              "gil_legacy countdown T(2)/T(1) ≥ 1.45 (the 1-core figure)",
              old_gil, {"least": 1.45}),
    Behaviour(3, "Timed-request rule: a drop request only after a full interval without a "
                 "hand-off; a holder that releases more often is never forced",
              "rule of take_gil (no figure) [GIL-32][GIL-314]",
              "CPU rows (not c_call, whose holder cannot answer a request during a call): drop "
              "requests ≤ wall time / interval + N; IO rows: 0 forced switches",
              timed_requests, {"slack": 1.0}),
    Behaviour(4, "Forced hand-off: after a forced drop the next holder is another thread",
              "100 % of the time (FORCE_SWITCHING) [GIL-32]",
              "every forced switch is a switch (counters); the protocol: gil_test (ctest)",
              forced_handoff),
    Behaviour(5, "Convoy: an IO thread next to CPU threads waits ≈ one interval per re-acquire",
              "30,000 → 100 RPS with 1 CPU thread (300×), 50 with 2, 30 with 4 at 5 ms [SKV]",
              "K=1: median round trip in [0.8, 2.5] switch intervals and [0.3, 1.2] intervals "
              "lost per blocking call (published: 10 ms = 2 intervals per round trip, 1 per call); "
              "K=2 loses more than K=1. The 300× is a property of its machine (33 us round "
              "trips alone), shown, not judged",
              convoy, {"p50_band": (0.8, 2.5), "lost_band": (0.3, 1.2)}, cpython=True),
    Behaviour(6, "Interval sweep: CPU-only runs inflate and IO throughput rises as the interval "
                 "shrinks",
              "2 threads: 6.58/9.20/12.29/17.16 s at 5 ms/100 us/10 us/1 us; convoy RPS "
              "100 → 500 → 3,200 → 11,000 at 5 ms → 10 us [SKV]",
              "T(interval)/T(longest) ≥ 1.05 at ≤ 100 us and never 10 % faster as it shrinks; "
              "convoy RPS never 10 % lower as it shrinks (≥ 10 us)",
              interval_sweep, {"inflation": 1.05, "fast_ns": 100_000, "io_floor_ns": 10_000,
                               "step": 0.9}, cpython=True),
    Behaviour(7, "Check points only: a call with no check point holds the GIL for its duration",
              "straight-line C calls are not interruptible [GIL-312][GIL-314]",
              "c_call (calls of at least 2 switch intervals) under gil at 2 workers: mean wait "
              "per contended acquisition ≥ 0.8 × one call",
              no_checkpoint_call, {"least": 0.8}),
    Behaviour(8, "Blocking release: work inside blocking calls runs in parallel",
              "SHA-256 of 1 GB: 3.30 s on 1 thread, 1.68 s on 2 (1.96×), 2 cores [SKV]",
              "sleep_io speedup T(1)/T(2) ≥ 1.6 (80 % of 2×)",
              blocking_release, {"least": 1.6}, cpython=True),
    Behaviour(9, "Atomic-RC penalty: atomic counts cost more alone and collapse when shared",
              "~20-30 % slower single-threaded [VS][G16]; 7 threads 18.9× slower than 1 [VS]",
              "1-thread atomic_rc/serial > 1.00; shared_read T(N)/T(1) > 1.00 (direction: "
              "2 cores cannot reach 7 threads)",
              atomic_penalty, calibrated=True),
    Behaviour(10, "Biased RC: owner ops ≈ non-atomic, non-owner ≈ atomic, objects freed exactly "
                  "once",
              "RC op > 2× faster than atomic; -22.5 % client time [BRC]",
              "1-thread biased_rc/atomic_rc < 1.00; live objects 0 after every run "
              "(race test: biased_rc unit tests)",
              biased_rc, calibrated=True),
    Behaviour(11, "Immortal objects: threads increfing immortal objects scale like private data",
              "no shared writes (PEP 683 / PEP 703; no figure) [PEP683][PEP703]",
              "shared_read_immortal T(1)/T(2) ≥ 1.5 and above shared_read's; deferred RC: "
              + NOT_COVERED,
              immortal, {"least": 1.5}),
    Behaviour(12, "Free-threaded costs: small 1-thread overhead, near-linear CPU scaling",
              "1-thread +5-8 % (PEP 703), +1-8 % (3.14); 1.96× at 2 threads "
              "[PEP703][FT314][JS]",
              "biased_rc 1-thread overhead in [-4 %, +15 %] (1-10 % ± 5 pp); countdown "
              "T(1)/T(2) ≥ 1.5 (2 unequal vCPUs)",
              free_threaded, {"overhead": (-0.04, 0.15), "least": 1.5},
              cpython=free_threaded_cpython, calibrated=True),
    Behaviour(13, "Critical sections: opposite nesting never deadlocks; pairs lock in address "
                  "order",
              "rule of Py_BEGIN_CRITICAL_SECTION (no figure) [PEP703]",
              "transfer at N ≥ 2 under fine_lock (pairs in address order) completes; "
              "fine_lock_naive (call order) shows the deadlock it avoids",
              critical_sections),
    Behaviour(14, "Lock fairness: a PyMutex waiter starved > 1 ms gets direct hand-off",
              "TIME_TO_BE_FAIR_NS = 1 ms [LOCK]", "-",
              not_covered="(the suite's object locks let a woken waiter race newcomers "
                          "with no 1 ms hand-off, and no object lock's waits are timed)"),
    Behaviour(15, "Process vs thread start: a spawned process starts ~500× slower than a thread",
              "~50 ms vs ~100 us [PEP703]",
              "process_startup startup_ms ratio in [100×, 2500×] (500× within 5×)",
              startup, {"ratio": (100, 2500)}, cpython=True),
]


@dataclass
class Finding:
    """One behaviour in the two files: the figures and whether it holds."""

    behaviour: Behaviour
    emulated: str = "-"  # the figure
    holds_emulated: str = NOT_MEASURED  # YES, NO, NOT_MEASURED, NOT_COVERED
    emulated_note: str = ""  # what covers it instead, when not covered
    cpython: str = "-"
    holds_cpython: str = NA  # YES, NO, NOT_MEASURED, NA, NO_FILE
    cpython_note: str = ""  # why not, when n/a


def evaluate(behaviours, emu, cpy, sweep=None):
    """Each behaviour measured in RESULT (emu) and CPYTHON (cpy, or None): Findings. The
    calibrated ones are measured in `sweep` (a Figures at CPython's bytecode cost), if given."""
    out = []
    for b in behaviours:
        f = Finding(b)
        if b.measure is None:
            f.holds_emulated, f.emulated_note = NOT_COVERED, b.not_covered
        else:
            at_cost = b.calibrated and sweep is not None
            got = b.measure(sweep if at_cost else emu, EMULATED, **b.limits)
            if got is not None:
                f.emulated, f.holds_emulated = got
                if at_cost:
                    f.emulated = "at CPython's bytecode cost (the sweep file): " + f.emulated
        if b.cpython is False or b.measure is None:
            pass
        elif cpy is None:
            f.holds_cpython = NO_FILE
        else:
            why_not = b.cpython(cpy) if callable(b.cpython) else None
            if why_not is not None:
                f.cpython_note = why_not
            else:
                got = b.measure(cpy, CPYTHON, **b.limits)
                f.cpython, f.holds_cpython = got if got is not None else ("-", NOT_MEASURED)
        out.append(f)
    return out


@dataclass
class Speedup:
    """One row of the speedup table: the emulated and the real speedup at N workers."""

    workload: str
    kind: str
    workers: int
    pair: str  # "gil / cpython_threads"
    emulated: Optional[float]  # None: not measured, or failed (emulated_failed)
    real: Optional[float]
    emulated_failed: bool = False
    real_failed: bool = False

    @property
    def difference(self):
        return self.emulated / self.real - 1 if self.emulated and self.real else None

    @property
    def within(self):
        """Within the goal of +-10 %, or None without both speedups."""
        d = self.difference
        return None if d is None else abs(d) <= 0.10


def failed_at(res, workload, strategy, workers):
    """True when the run (or the reference it is divided by) has an error row."""
    runs = (res.find(workload, strategy, workers), res.find(workload, res.reference, 1))
    return any(run is not None and run.failed for run in runs)


def speedups(emu, cpy):
    """The Speedup rows of the workloads and worker counts both files measured."""
    out = []
    workloads = sorted({r.workload for r in emu.runs.values()}
                       & {r.workload for r in cpy.runs.values()},
                       key=lambda w: (emu.kind(w) != "cpu", w))
    for w in workloads:
        if w in ("process_startup", "convoy"):
            continue  # start-up is behaviour 15, convoy has its own table
        for part in ("threads", "process"):
            es, cs = EMULATED[part], CPYTHON[part]
            for n in sorted(set(emu.workers(es, w)) & set(cpy.workers(cs, w))):
                out.append(Speedup(w, emu.kind(w) or "?", n, "%s / %s" % (es, cs),
                                   emu.speedup(w, es, n), cpy.speedup(w, cs, n),
                                   failed_at(emu, w, es, n), failed_at(cpy, w, cs, n)))
    return out


def convoy_rates(res, strategy):
    """{K: (round trips per second, degradation = K=0 rate / rate or None)} at the file's
    default interval."""
    table = convoy_table(res, strategy)
    out = {}
    for k, (rps, alone) in table.items():
        base = table.get(0, (None,))[0] or alone
        out[k] = (rps, base / rps if base and rps else None)
    return out


@dataclass
class Cost:
    """One workload's bytecode cost: CPython's time per checkpoint against the C++ serial
    time per checkpoint at cost 0, the difference, and the sweep's cost nearest to it."""

    workload: str
    cpython_ns: float  # CPYTHON's reference time / RESULT's checkpoints (same parameters)
    cxx_ns: float  # the sweep's serial time at cost 0 / its checkpoints
    steps: int  # the sweep's cost nearest to cpython_ns - cxx_ns
    ns: float  # those steps in ns (the sweep's ns per step)

    @property
    def wanted_ns(self):
        return max(0.0, self.cpython_ns - self.cxx_ns)


def calibrate(emu, cpy, sweep):
    """{workload: Cost} for the CPU workloads the three files share: CPython's ns per
    checkpoint (CPYTHON's reference time over RESULT's ops_checkpoints, both files at the
    same parameters), the C++ serial ns per checkpoint at cost 0 in the sweep, and the
    sweep's cost nearest to their difference."""
    out = {}
    ns_per_step = float(sweep.result.ctx_json(schema.NS_PER_STEP_KEY, 0) or 0)
    if ns_per_step <= 0:
        raise InputError("%s: no gilbench_ns_per_step: not a --bytecode-cost run" % sweep.path)
    for w in sweep.cpu_workloads():
        serial = [r for r in sweep.runs.values() if r.workload == w and r.strategy == sweep.reference
                  and r.workers == 1 and not r.failed and r.times]
        costs = sorted({int(r.axes[BYTECODE_AXIS]) for r in serial if BYTECODE_AXIS in r.axes})
        base = next((r for r in serial if r.axes.get(BYTECODE_AXIS) == "0"), None)
        checkpoints_emu = emu.counter(emu.find(w, emu.reference, 1), "ops_checkpoints")
        t_cpy = cpy.time(w, cpy.reference, 1) if cpy else None
        if base is None or len(costs) < 2 or not checkpoints_emu or not t_cpy:
            continue
        pe = emu.result.ctx_json(schema.PARAMS_KEY, {}).get(w)
        pc = cpy.result.ctx_json(schema.PARAMS_KEY, {}).get(w)
        if pe is not None and pc is not None and pe != pc:
            continue  # not the same work: no time per checkpoint to compare
        checkpoints = sweep.counter(base, "ops_checkpoints")
        if not checkpoints:
            continue
        cpython_ns = t_cpy / checkpoints_emu * 1e9
        cxx_ns = sweep.run_time(base) / checkpoints * 1e9
        wanted = max(0.0, cpython_ns - cxx_ns) / ns_per_step
        steps = min(costs, key=lambda c: abs(c - wanted))
        out[w] = Cost(w, cpython_ns, cxx_ns, steps, steps * ns_per_step)
    return out


@dataclass
class Report:
    """The fidelity report as data; markdown() renders it."""

    emulated: Figures
    cpython: Optional[Figures]
    findings: list  # Finding, in BEHAVIOURS' order
    speedups: list  # Speedup
    convoy: dict  # "emulated"/"cpython" -> convoy_rates()
    costs: dict = field(default_factory=dict)  # workload -> Cost (with a bytecode sweep)
    sweep: Optional[Figures] = None

    def finding(self, behaviour_id):
        return next(f for f in self.findings if f.behaviour.id == behaviour_id)


def report(emu, cpy, sweep=None):
    """The whole report of RESULT (emu) and CPYTHON (cpy, or None): Figures in, data out.
    With a bytecode sweep (a loaded result of --bytecode-cost=LIST), the calibrated
    behaviours are judged in it at each workload's CPython cost (calibrate())."""
    costs = calibrate(emu, cpy, sweep) if sweep is not None else {}
    if sweep is not None and not costs:
        raise InputError("%s: no CPU workload with serial runs at two or more costs that "
                         "RESULT and CPYTHON also measured at the same parameters" % sweep.path)
    at_cost = Figures(sweep.result, {w: c.steps for w, c in costs.items()}) if costs else None
    return Report(emu, cpy, evaluate(BEHAVIOURS, emu, cpy, at_cost),
                  speedups(emu, cpy) if cpy else [],
                  {"emulated": convoy_rates(emu, EMULATED["threads"]),
                   "cpython": convoy_rates(cpy, CPYTHON["threads"]) if cpy else {}},
                  costs, sweep)


# ---- markdown -----------------------------------------------------------------

def shown_verdict(status, note=""):
    text = "**no**" if status == NO else status
    return text + (" " + note if note else "")


def markdown(rep):
    emu, cpy = rep.emulated, rep.cpython
    lines = ["# gilbench fidelity report", "",
             "- RESULT " + emu.describe(),
             "- CPYTHON " + (cpy.describe() if cpy else "not given"),
             *(["- BYTECODE SWEEP " + rep.sweep.describe()] if rep.sweep else []),
             "", "## Checkable behaviours", "",
             "The fifteen behaviours a faithful emulation of CPython's GIL must reproduce "
             "(BEHAVIOURS in bench/python/fidelity.py, with the source of each published figure). Emulated = RESULT, real CPython = CPYTHON (the "
             "twin, bench/python/twin.py); times are medians of the repetitions.", "",
             "| # | behaviour | published | emulated | real CPython | holds (emulated) | "
             "holds (CPython) | tolerance |",
             "|---|---|---|---|---|---|---|---|"]
    for f in rep.findings:
        b = f.behaviour
        lines.append("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
            b.id, b.title, b.published, f.emulated, f.cpython,
            shown_verdict(f.holds_emulated, f.emulated_note),
            shown_verdict(f.holds_cpython, f.cpython_note), b.tolerance))
    for res, label in ((emu, "RESULT"), (cpy, "CPYTHON")):
        failed = res.failed() if res else []
        if failed:
            lines += ["", "%s has %d failed benchmark(s), left out of the figures above: %s"
                      % (label, len(failed), ", ".join(failed))]
    if rep.costs:
        lines += ["", "## Bytecode cost: the interpretive work per checkpoint", "",
                  "Behaviours %s are judged in the bytecode sweep at each workload's CPython cost: "
                  "CPython's time per checkpoint (CPYTHON's `%s` over RESULT's ops_checkpoints) "
                  "minus the C++ serial time per checkpoint at cost 0 (the sweep), rounded to the "
                  "nearest cost the sweep ran." % (
                      ", ".join(str(b.id) for b in BEHAVIOURS if b.calibrated), cpy.reference), "",
                  "| workload | CPython ns/checkpoint | C++ serial ns/checkpoint | difference | "
                  "judged at |", "|---|---|---|---|---|"]
        for w, c in sorted(rep.costs.items()):
            lines.append("| %s | %.1f | %.1f | %.1f ns | %d steps = %.1f ns |" % (
                w, c.cpython_ns, c.cxx_ns, c.wanted_ns, c.steps, c.ns))
    lines += ["", "## Speedups: emulated vs real CPython", ""]
    if cpy is None:
        lines.append("No CPython file given: pass the twin's result (cpython.json) as the "
                     "second file.")
    elif not rep.speedups:
        lines.append("The two files have no workload and worker count in common.")
    else:
        lines += ["Speedup = the file's reference strategy at 1 worker / the run (RESULT: `%s`, "
                  "CPYTHON: `%s`). Goal: emulated within ±10 %% of real."
                  % (emu.reference, cpy.reference), "",
                  "| workload | kind | workers | emulated / real | emulated | real CPython | "
                  "difference | within ±10 % |",
                  "|---|---|---|---|---|---|---|---|"]
        for s in rep.speedups:
            lines.append("| %s | %s | %d | %s | %s | %s | %s | %s |" % (
                s.workload, s.kind, s.workers, s.pair,
                fmt_x(s.emulated) if s.emulated else "FAILED" if s.emulated_failed else "-",
                fmt_x(s.real) if s.real else "FAILED" if s.real_failed else "-",
                "-" if s.difference is None else "%+.0f %%" % (s.difference * 100),
                "-" if s.within is None else shown_verdict(verdict(s.within))))
    te, tc = rep.convoy["emulated"], rep.convoy["cpython"]
    if te or tc:
        lines += ["", "## Convoy: IO round trips per second with K CPU workers", "",
                  "At the default switch interval; degradation = K=0 rate / rate.", "",
                  "| K | emulated gil | degradation | real CPython | degradation |",
                  "|---|---|---|---|---|"]

        def cells(t, k):
            if k not in t:
                return "-", "-"
            return "%.0f/s" % t[k][0], fmt_x(t[k][1], 0) if t[k][1] else "-"
        for k in sorted(set(te) | set(tc)):
            lines.append("| %d | %s | %s | %s | %s |" % (k, *cells(te, k), *cells(tc, k)))
    return "\n".join(lines) + "\n"


def load(path):
    return Figures(load_result(path))


def main(argv):
    argv = list(argv)
    if argv and argv[0] == "fidelity" and not os.path.exists(argv[0]):
        argv = argv[1:]  # called with the sub-command name still in front
    p = ArgumentParser(prog="fidelity", allow_abbrev=False,
               description="The fidelity report: the checkable GIL behaviours in an emulated "
                           "result file (and a CPython twin file), as a markdown table.")
    p.add_argument("result", metavar="RESULT.json", help="gilbench result file")
    p.add_argument("cpython", metavar="CPYTHON.json", nargs="?", help="CPython twin result file")
    p.add_argument("--markdown", metavar="FILE", help="also write the report to FILE")
    p.add_argument("--bytecode-sweep", metavar="SWEEP.json",
                   help="a gilbench result of --bytecode-cost=LIST (CPU workloads, serial among "
                        "the strategies): behaviours 9, 10 and 12 are judged in it at CPython's "
                        "cost per checkpoint (needs CPYTHON.json)")
    try:
        args = p.parse_args(argv)
    except UsageError as e:
        sys.stderr.write("%s: %s\n" % (PROG, one_line(e)))
        return 2
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    try:
        emu = load(args.result)
        if emu.reference == "cpython_serial" or emu.context.get("gilbench_runtime") == "cpython":
            raise InputError("%s is a CPython twin file; the emulated result comes first: "
                             "fidelity RESULT.json [CPYTHON.json]" % args.result)
        cpy = load(args.cpython) if args.cpython else None
        if cpy is not None and not any(r.strategy.startswith("cpython_")
                                       for r in cpy.runs.values()):
            raise InputError("%s has no cpython_* runs: it is not a CPython twin file "
                             "(bench/python/twin.py)" % args.cpython)
        sweep = None
        if args.bytecode_sweep:
            if cpy is None:
                raise UsageError("--bytecode-sweep needs CPYTHON.json (the cost is CPython's)")
            sweep = load(args.bytecode_sweep)
        text = markdown(report(emu, cpy, sweep))
        if args.markdown:
            write_output(args.markdown, text, make_dirs=True)
        emit(text)
    except (InputError, UsageError) as e:
        sys.stderr.write("%s: %s\n" % (PROG, one_line(e)))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
