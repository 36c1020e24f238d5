"""Google Benchmark 1.7.1 JSON, in the shape gilbench writes it.

One "iteration" row per repetition (iterations = 1, real_time in ms, user
counters beside it), then the aggregate rows _mean, _median, _stddev and _cv
of each benchmark (only when at least two repetitions succeeded, as Google
Benchmark does), and a "context" with Google Benchmark's machine fields plus
gilbench_* keys whose values are strings (JSON text where structured), as
gilbench's benchmark::AddCustomContext writes them. A failed repetition is a
row with error_occurred/error_message and no time, never a silent time.

Differences from the library, on purpose: the median of an even number of
repetitions is the true median (1.7.1's is not), library_build_type is
"none" (no library is involved), and the file is strict JSON: the _cv of a
counter whose mean is 0 (1.7.1 writes NaN there) is null, as is any other
value that is not a finite number (gilbench_results.output.json_text).
"""

import datetime
import math
import os
import platform
import socket
import statistics
import sys

from gilbench_results.output import json_text, write_output
from gilbench_results.stats import median

# Every per-benchmark counter the twin writes, with its unit and which
# direction is better (the gilbench_metrics block; names and meanings as in
# src/report/metrics.cpp where gilbench has the same counter).
METRICS = {
    "real_time": ("time_unit", "lower",
                  "wall time of one run: release of the workers to the end of the last one"),
    "workers": ("count", "neither", "workers (threads or processes) of the run"),
    "items_per_second": ("items/s", "higher",
                         "work items (see each workload) per second of wall time, summed over workers"),
    "checksum_ok": ("bool", "higher",
                    "1 when the run's checksum equals the serial run's (a mismatch fails the run)"),
    "checksum": ("hash", "neither", "the run's checksum, low 52 bits"),
    "startup_ms": ("ms", "lower",
                   "start of a worker (thread or process) to its first reply, mean over the "
                   "pool's workers, measured once per pool, outside real_time; "
                   "process_startup: the same, mean over its rounds"),
    "ipc_bytes": ("bytes", "lower",
                  "cpython_process: pickled bytes sent and received over the worker pipes in "
                  "the timed region of one run (both directions, all workers)"),
    "io_rps": ("round trips/s", "higher",
               "convoy: the IO worker's socket round trips per second while the K CPU workers run"),
    "io_rps_alone": ("round trips/s", "higher",
                     "convoy: the same IO worker's round trips per second alone, measured just "
                     "before in the same run"),
    "io_rps_ratio": ("fraction", "higher",
                     "convoy: io_rps / io_rps_alone (1 = the CPU workers cost the IO worker nothing)"),
    "io_p50_us": ("us", "lower", "convoy: median round-trip latency of the IO worker with K CPU workers"),
    "io_p99_us": ("us", "lower", "convoy: 99th-percentile round-trip latency of the IO worker"),
    "io_max_us": ("us", "lower", "convoy: slowest round trip of the IO worker"),
    "io_p50_intervals": ("intervals", "lower",
                         "convoy: median round-trip latency in switch intervals (under a GIL: the "
                         "intervals a round trip loses)"),
    "io_lost_per_call": ("intervals", "lower",
                         "convoy: (1/io_rps - 1/io_rps_alone) / (2 x switch interval): switch "
                         "intervals lost per blocking call, from the rates (the twin reports the same)"),
}


def metrics_json():
    return {name: {"unit": unit, "better": better, "description": desc}
            for name, (unit, better, desc) in METRICS.items()}


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _cpuinfo(field):
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith(field):
            return line.split(":", 1)[1].strip()
    return ""


def _caches():
    caches = []
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        names = sorted(n for n in os.listdir(base) if n.startswith("index"))
    except OSError:
        return caches
    for name in names:
        d = os.path.join(base, name)
        kind = _read(os.path.join(d, "type")).strip()
        level = _read(os.path.join(d, "level")).strip()
        size = _read(os.path.join(d, "size")).strip()
        shared = _read(os.path.join(d, "shared_cpu_list")).strip()
        if not (kind and level and size):
            continue
        mult = {"K": 1024, "M": 1024 * 1024}.get(size[-1], 1)
        num = int(size[:-1]) if size[-1] in "KM" else int(size)
        sharing = 0
        for part in shared.split(","):
            if "-" in part:
                lo, hi = part.split("-")
                sharing += int(hi) - int(lo) + 1
            elif part:
                sharing += 1
        caches.append({"type": kind, "level": int(level), "size": num * mult,
                       "num_sharing": max(sharing, 1)})
    return caches


def gil_enabled():
    """True/False where the interpreter says (3.13+), else True for CPython
    (every CPython before 3.13 has the GIL), else None."""
    probe = getattr(sys, "_is_gil_enabled", None)
    if probe is not None:
        return bool(probe())
    if platform.python_implementation() == "CPython":
        return True
    return None


def machine_context():
    mhz = _cpuinfo("cpu MHz")
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host_name": socket.gethostname(),
        "executable": sys.executable + " " + os.path.abspath(sys.argv[0]),
        "num_cpus": os.cpu_count() or 0,
        "mhz_per_cpu": int(float(mhz)) if mhz else 0,
        "cpu_scaling_enabled": False,
        "caches": _caches(),
        "load_avg": load,
        "library_build_type": "none",
    }


def python_context(start_method):
    enabled = gil_enabled()
    return {
        "gilbench_runtime": "cpython",
        "gilbench_python_version": platform.python_version(),
        "gilbench_python_implementation": platform.python_implementation(),
        "gilbench_python_executable": sys.executable,
        "gilbench_gil_enabled": "unknown" if enabled is None else ("true" if enabled else "false"),
        "gilbench_mp_start_method": start_method,
        "gilbench_cpu_model": _cpuinfo("model name") or "unknown",
        "gilbench_kernel": platform.release(),
        "gilbench_nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                              else (os.cpu_count() or 0)),
    }


def iteration_row(name, family, reps, index, seconds, cpu_seconds, counters):
    row = {
        "name": name, "family_index": family, "per_family_instance_index": 0,
        "run_name": name, "run_type": "iteration", "repetitions": reps,
        "repetition_index": index, "threads": 1, "iterations": 1,
        "real_time": seconds * 1e3, "cpu_time": cpu_seconds * 1e3, "time_unit": "ms",
    }
    for key in sorted(counters):
        if key not in METRICS:  # a counter plot.py could not label: a bug of the twin
            raise KeyError("internal error: counter '%s' is not in pytwin.report.METRICS" % key)
        row[key] = float(counters[key])
    return row


def error_row(name, family, reps, index, message):
    return {
        "name": name, "family_index": family, "per_family_instance_index": 0,
        "run_name": name, "run_type": "iteration", "repetitions": reps,
        "repetition_index": index, "threads": 1, "error_occurred": True,
        "error_message": message, "iterations": 1, "real_time": 0.0, "cpu_time": 0.0,
        "time_unit": "ms",
    }


def _stat(kind, values):
    if kind == "mean":
        return statistics.fmean(values) if hasattr(statistics, "fmean") else statistics.mean(values)
    if kind == "median":
        return median(values)
    if kind == "stddev":
        return statistics.stdev(values) if len(values) > 1 else 0.0
    mean = _stat("mean", values)
    sd = _stat("stddev", values)
    if mean == 0:
        return math.nan if sd == 0 else math.inf
    return sd / mean


def aggregate_rows(rows):
    """The _mean/_median/_stddev/_cv rows of one benchmark's iteration rows."""
    good = [r for r in rows if not r.get("error_occurred")]
    if len(good) < 2:
        return []
    first = good[0]
    fields = ["real_time", "cpu_time"] + [k for k in first if k not in (
        "name", "family_index", "per_family_instance_index", "run_name", "run_type",
        "repetitions", "repetition_index", "threads", "iterations", "real_time",
        "cpu_time", "time_unit")]
    out = []
    for kind in ("mean", "median", "stddev", "cv"):
        row = {
            "name": first["run_name"] + "_" + kind, "family_index": first["family_index"],
            "per_family_instance_index": 0, "run_name": first["run_name"],
            "run_type": "aggregate", "repetitions": first["repetitions"], "threads": 1,
            "aggregate_name": kind, "aggregate_unit": "percentage" if kind == "cv" else "time",
            "iterations": len(good),
        }
        for f in fields:
            row[f] = _stat(kind, [r[f] for r in good])
            if f == "cpu_time":
                row["time_unit"] = "ms"
        out.append(row)
    return out


def write_json(path, context, benchmarks):
    """Writes the result file through the results library's one writer (exclusive
    temporary file, renamed over the target; missing directories are made).
    Raises gilbench_results.errors.InputError."""
    write_output(path, json_text({"context": context, "benchmarks": benchmarks}, indent=2)
                 + "\n", make_dirs=True)
