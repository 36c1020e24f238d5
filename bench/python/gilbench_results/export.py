"""The suite's metrics for benchmark trackers (plot.py export RESULT.json --format=...).

Trackers that read Google Benchmark JSON directly map every row to a series:
each repetition and each aggregate row (_mean, _median, _stddev, _cv) becomes
a benchmark of its own, alerts compare against repetition 0, and the suite's
real metrics (in-run speedups, io_rps_ratio, instruction counts) are counters
or context that they never read. `export` writes one entry per benchmark and
metric instead, never one per repetition, never an aggregate row:

  metric        value                                  range (min..max)      better
  time          median wall time of the repetitions    of the repetitions    smaller
  speedup       in-run speedup over the file's         of the repetitions'   bigger
                reference at 1 worker: median          speedups (median
                t(reference) / median t(run)           t(reference) / t_i)
  io_rps_ratio  median of the counter (convoy: the IO  of the repetitions    bigger
                worker's round trips with K CPU
                workers / alone)
  instructions  callgrind count of the 1-worker row    none (deterministic)  smaller
                (plot.py instructions; only when the
                file holds the counts)

(METRICS below is this table.) A failed run is left out (and named on
stderr); speedups need the file's reference run (gilbench: serial, the
twin: cpython_serial); a 1-worker speedup below 1 is the 1-worker overhead.
Every file is strict JSON (output.json_text).

Formats:

  github-action-benchmark  its custom tools' input (README "customBiggerIsBetter
      and customSmallerIsBetter", src/extract.ts BenchmarkResult): a JSON array
      of {"name", "unit", "value", "range"?, "extra"?}, range and extra strings.
      One action run takes one tool, i.e. one direction, so --out DIR gets two
      files: customSmallerIsBetter.json (time, instructions) and
      customBiggerIsBetter.json (speedup, io_rps_ratio), each for a step with
      that `tool`. Names are "<benchmark> [<metric>]"; range is "± d", d the
      larger distance from the median to the min or the max (the form the
      action parses), and extra says the min, max and repetitions.
  bencher  Bencher Metric Format (https://bencher.dev/docs/reference/bencher-metric-format,
      schema https://bencher.dev/bmf.json): {benchmark: {measure: {"value",
      "lower_value"?, "upper_value"?}}}, one benchmark per run name. Measures:
      latency (Bencher's built-in, nanoseconds) for time, and speedup,
      io-rps-ratio, instructions (created by Bencher on first use). BMF has
      no direction: set it with each measure's threshold (an upper boundary
      for latency and instructions, a lower one for speedup and io-rps-ratio;
      docs/trackers.md).
"""

import math
import os
from dataclasses import dataclass, field

from . import schema
from .errors import InputError
from .gate import speedup_samples
from .output import json_text, output_directory, write_output
from .stats import median

SMALLER, BIGGER = "smaller", "bigger"
# Per metric: (github-action-benchmark unit, Bencher measure slug, better, what).
METRICS = {
    "time": ("ms", "latency", SMALLER, "median wall time of one run"),
    "speedup": ("x", "speedup", BIGGER, "in-run speedup over the reference at 1 worker"),
    "io_rps_ratio": ("fraction", "io-rps-ratio", BIGGER,
                     "IO round trips with the CPU workers / alone"),
    "instructions": ("instructions", "instructions", SMALLER,
                     "callgrind instruction count of the measured region"),
}
# Counters exported as metrics of their own (median and range of the repetitions).
COUNTERS = ("io_rps_ratio",)
# github-action-benchmark: one file per direction, named after the tool that reads it.
GAB_FILES = {SMALLER: "customSmallerIsBetter.json", BIGGER: "customBiggerIsBetter.json"}
# Bencher's limits on a benchmark name and a measure slug (bencher.dev BMF reference).
BENCHER_NAME_MAX, BENCHER_SLUG_MAX = 1024, 64


@dataclass
class Entry:
    """One benchmark's value of one metric."""

    benchmark: str
    metric: str  # a key of METRICS
    value: float
    low: float = None  # the range: None for a deterministic count
    high: float = None
    repetitions: int = 1

    @property
    def better(self):
        return METRICS[self.metric][2]


@dataclass
class Exported:
    """What export() produced: the entries, the files written, the text to print (BMF
    without --out) and notes for stderr."""

    entries: list
    written: list = field(default_factory=list)
    text: str = None
    notes: list = field(default_factory=list)


def entries(result):
    """(every Entry of the file, notes on what was left out). Times in seconds."""
    out, notes = [], []
    counts = result.instructions or {}
    failed = [r.name for r in result.runs.values() if r.failed]
    if failed:
        notes.append(f"{result.path}: {len(failed)} failed runs left out (e.g. {failed[0]})")
    for run in ordered_runs(result):
        if run.failed or not run.times:
            continue
        t = run.samples()
        out.append(Entry(run.name, "time", median(t), min(t), max(t), len(t)))
        pair = speedup_samples(result, run)
        if pair is not None and run.strategy != result.reference:
            ref = median(pair[0])
            each = [ref / x for x in pair[1]]
            out.append(Entry(run.name, "speedup", ref / median(pair[1]), min(each), max(each),
                             len(each)))
        for counter in COUNTERS:
            values = run.counter_samples(counter)
            if values:
                out.append(Entry(run.name, counter, median(values), min(values), max(values),
                                 len(values)))
        if run.name in counts:
            out.append(Entry(run.name, "instructions", float(counts[run.name])))
    kept = [e for e in out if all(v is None or math.isfinite(v) for v in (e.value, e.low, e.high))]
    if len(kept) < len(out):
        notes.append(f"{len(out) - len(kept)} values that are not finite numbers left out")
    return kept, notes


def ordered_runs(result):
    """The file's runs in the suite's order: workload, strategy (as gilbench_strategies
    lists them), worker count, further axes."""
    workloads = list(result.kinds)
    strategies = list(result.ctx_json(schema.STRATEGIES_KEY, []))

    def rank(items, x):
        return (items.index(x), "") if x in items else (len(items), x)

    return sorted(result.runs.values(), key=lambda r: (
        rank(workloads, r.workload), rank(strategies, r.strategy), r.workers,
        sorted(r.axes.items())))


def scaled(entry):
    """(value, low, high) in the github-action-benchmark unit: milliseconds for time."""
    k = 1e3 if entry.metric == "time" else 1.0
    return tuple(None if v is None else v * k for v in (entry.value, entry.low, entry.high))


def github_action_benchmark(items):
    """{direction: [entries of its custom tool]}: {name, unit, value, range?, extra?}."""
    files = {SMALLER: [], BIGGER: []}
    for e in items:
        unit = METRICS[e.metric][0]
        value, low, high = scaled(e)
        item = {"name": f"{e.benchmark} [{e.metric}]", "unit": unit, "value": value}
        if low is not None:
            item["range"] = "± %.6g" % max(value - low, high - value)
            item["extra"] = ("median of %d repetitions; min %.6g %s, max %.6g %s"
                             % (e.repetitions, low, unit, high, unit))
        else:
            item["extra"] = METRICS[e.metric][3]
        files[e.better].append(item)
    return files


def bencher(items):
    """Bencher Metric Format: {benchmark: {measure slug: {value, lower_value?,
    upper_value?}}}; latency in nanoseconds."""
    out = {}
    for e in items:
        k = 1e9 if e.metric == "time" else 1.0
        metric = {"value": e.value * k}
        if e.low is not None:
            metric.update(lower_value=e.low * k, upper_value=e.high * k)
        out.setdefault(e.benchmark, {})[METRICS[e.metric][1]] = metric
    return out


def export(result, fmt, out=None):
    """Writes the file's entries in fmt (github-action-benchmark: two files in the
    directory out; bencher: the file out, or Exported.text to print). Raises InputError."""
    items, notes = entries(result)
    if not items:
        raise InputError(f"{result.path}: nothing to export (every run failed)")
    done = Exported(items, notes=notes)
    if fmt == "bencher":
        long = [e.benchmark for e in items if len(e.benchmark) > BENCHER_NAME_MAX]
        if long:
            raise InputError(f"{result.path}: benchmark name longer than Bencher's "
                             f"{BENCHER_NAME_MAX} characters: {long[0][:60]}...")
        text = json_text(bencher(items), indent=1) + "\n"
        if out is None:
            done.text = text
        else:
            write_output(out, text)
            done.written.append(out)
            done.notes.append(f"wrote {out} ({len({e.benchmark for e in items})} benchmarks, "
                              f"{len(items)} metrics)")
        return done
    if out is None:
        raise InputError("export --format=github-action-benchmark needs --out DIR (it writes "
                         + " and ".join(GAB_FILES.values()) + " there)")
    output_directory(out, "--out DIR (github-action-benchmark writes two files into it)")
    for better, data in github_action_benchmark(items).items():
        path = os.path.join(out, GAB_FILES[better])
        write_output(path, json_text(data, indent=1) + "\n")
        done.written.append(path)
    sizes = {b: sum(e.better == b for e in items) for b in GAB_FILES}
    done.notes.append("wrote " + ", ".join(
        f"{os.path.join(out, GAB_FILES[b])} ({n} entries)" for b, n in sizes.items()))
    for b, n in sizes.items():
        if not n:  # the action fails on a file without an entry
            done.notes.append(f"{GAB_FILES[b]} has no entry: leave out the action step "
                              f"that reads it")
    return done
