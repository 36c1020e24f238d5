"""The instruction-count lane (plot.py instructions RESULT.json --gilbench BIN).

The deterministic lane: runs every 1-worker row of RESULT.json once more,
alone, under `valgrind --tool=callgrind --toggle-collect=*gilbench::measured_run*`
(one gilbench process per benchmark, --repetitions=1, the sizes and settings
recorded in the file's context) and stores the counts in RESULT.json's
context as `gilbench_instructions` (a JSON string: the valgrind command and
version, the replayed flags, counts {name: Ir}, and the rows left out: those
whose run has no measured_run region, which count 0, and those that failed
under valgrind, with the reason). Children are traced (--trace-children=yes)
and their counts summed, so rows that run in child processes count their
workers' work. --repeat N counts each row N times and fails if the counts
differ by more than --tolerance. Not counted: start-up rows (no measured
region) and rows whose work depends on timing (convoy).

count() returns 0 when it counted and stored (rows that failed under valgrind
are left out and recorded, and the gate judges them); it raises InputError
(exit 2) for bad input, no valgrind, counts that differ between repeats
beyond the tolerance, or no row counted at all (every row failed under
callgrind or had no measured region: a lane of nothing is not a result, and a
wrong --gilbench is an environment problem, not a regression). When it fails
it writes nothing.
"""

import concurrent.futures
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from . import schema
from .errors import InputError, bad_option, shown
from .load import load_result
from .output import json_text, write_output
from .stats import median

# The measured region of every run (src/runners/threads.hpp, measured_run).
CALLGRIND_TOGGLE = "*gilbench::measured_run*"


@dataclass
class Options:
    """plot.py instructions' arguments, checked by check()."""

    result: str  # the result file to count
    gilbench: str  # the binary that wrote it
    jobs: int = os.cpu_count() or 1  # callgrind processes at a time
    repeat: int = 1  # counts per row (the median is stored)
    tolerance: float = 0.001  # largest relative difference between repeats
    filter: str = None  # only rows whose name matches (a Python regular expression)
    out: str = None  # write here instead of into the result file

    def check(self):
        if self.jobs < 1:
            raise bad_option("jobs", self.jobs, "1 or more")
        if self.repeat < 1:
            raise bad_option("repeat", self.repeat, "1 or more")
        if not 0 <= self.tolerance < math.inf:
            raise bad_option("tolerance", self.tolerance, "a finite number >= 0")
        if self.filter is not None:
            try:
                re.compile(self.filter)
            except (re.error, RecursionError, OverflowError) as e:
                raise InputError(f"--filter: {shown(self.filter)} is not a regular "
                                 f"expression: {e}")
        return self


def ere_escape(text):
    """Escapes text for a POSIX extended regex (Google Benchmark's --benchmark_filter)."""
    return re.sub(r"([.\[\]()*+?{}|^$\\])", r"\\\1", text)


def replay_flags(result):
    """gilbench flags that reproduce the file's suite settings, from its context."""
    c = result.context
    flags = []
    if c.get("gilbench_mode") == "quick":
        flags.append("--quick")
    intervals = result.ctx_json(schema.INTERVALS_KEY, [])
    if intervals:
        flags.append("--switch-interval=" + ",".join(intervals))
    steps = result.ctx_json(schema.BYTECODE_KEY, [])
    if steps and steps != [0]:
        flags.append("--bytecode-cost=" + ",".join(str(x) for x in steps))
    if "gilbench_check_interval" in c:
        flags.append(f"--check-interval={c['gilbench_check_interval']}")
    injected = c.get("gilbench_injected_slowdown")
    if injected:
        flags.append(f"--inject-slowdown={injected}")
    return flags


class LaneError(Exception):
    """One benchmark could not be counted; the lane goes on without it."""


def count_instructions(binary, flags, name, workdir):
    """Runs one benchmark once under callgrind; returns (instructions, processes)."""
    out_json = os.path.join(workdir, "run.json")
    cmd = ["valgrind", "--tool=callgrind", f"--toggle-collect={CALLGRIND_TOGGLE}",
           "--trace-children=yes", f"--callgrind-out-file={workdir}/callgrind.out.%p",
           binary, *flags, "--repetitions=1", "--no-fingerprint",
           f"--benchmark_filter=^{ere_escape(name)}(/iterations:|$)", f"--out={out_json}"]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              errors="backslashreplace")
    except OSError as e:
        raise LaneError(f"cannot run valgrind: {e.strerror or e}")
    if proc.returncode != 0:
        said = [ln.strip() for ln in proc.stderr.splitlines()
                if ln.strip() and not ln.startswith("==")]
        raise LaneError(f"gilbench under callgrind exited {proc.returncode}"
                        + (f": {said[-1]}" if said else ""))
    if not os.path.exists(out_json):
        raise LaneError("gilbench under callgrind exited 0 but wrote no result file")
    try:
        ran = load_result(out_json)
    except InputError as e:
        raise LaneError(str(e))
    if list(ran.runs) != [name]:
        raise LaneError(f"the filter ran {', '.join(ran.runs)}, not exactly this benchmark")
    total, processes = 0, 0
    for fname in os.listdir(workdir):
        if fname.startswith("callgrind.out."):
            try:
                with open(os.path.join(workdir, fname), errors="replace") as f:
                    for line in f:
                        if line.startswith("totals:"):
                            total += int(line.split()[1])
                            processes += 1
                            break
            except (OSError, ValueError, IndexError):
                raise LaneError(f"unreadable callgrind output {fname}")
    return total, processes


def count(args):
    """The deterministic lane: callgrind counts of the 1-worker rows, stored in the file.
    args: an Options. Returns 0; raises InputError (and writes nothing) when it fails."""
    args.check()
    result = load_result(args.result)
    if shutil.which("valgrind") is None:
        raise InputError("valgrind is not installed (apt-get install valgrind)")
    if not (os.path.isfile(args.gilbench) and os.access(args.gilbench, os.X_OK)):
        raise InputError(f"{args.gilbench}: not an executable gilbench binary")
    flags = replay_flags(result)
    kinds = result.kinds
    pattern = re.compile(args.filter) if args.filter is not None else None
    # Not counted: start-up rows (no measured region) and rows whose work
    # depends on timing (convoy: its K CPU workers spin until the IO worker
    # is done, so their instruction count is not a property of the build).
    names = [n for n, r in result.runs.items() if r.workers == 1
             and not r.failed and kinds.get(r.workload) != "startup" and "io_rps" not in r.counters
             and (pattern is None or pattern.search(n))]
    if not names:
        raise InputError(f"{args.result}: no successful 1-worker row to count")
    print(f"instructions: {len(names)} benchmarks x {args.repeat} under callgrind, "
          f"{args.jobs} at a time (flags: {' '.join(flags) or 'none'})", file=sys.stderr)

    def one(name):
        got = []
        for _ in range(args.repeat):
            try:
                with tempfile.TemporaryDirectory(prefix="gilbench-cg-") as d:
                    got.append(count_instructions(args.gilbench, flags, name, d))
            except OSError as e:  # the temporary directory
                raise LaneError(f"{e.filename or 'temporary directory'}: {e.strerror or e}")
        return got

    started = time.time()
    counts, processes, spread, failed, uncounted = {}, {}, {}, {}, []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(one, n): n for n in names}
        for i, future in enumerate(concurrent.futures.as_completed(futures), 1):
            name = futures[future]
            try:
                got = future.result()
            except LaneError as e:
                failed[name] = str(e)
                print(f"[{i}/{len(names)}] {name}: NOT COUNTED: {e}", file=sys.stderr)
                continue
            values = [c for c, _ in got]
            if max(values) == 0:
                uncounted.append(name)
                print(f"[{i}/{len(names)}] {name}: 0 instructions (no measured_run region)",
                      file=sys.stderr)
                continue
            counts[name] = int(median(values))
            if got[0][1] != 1:
                processes[name] = got[0][1]
            if len(set(values)) > 1:
                spread[name] = (max(values) - min(values)) / min(values)
            print(f"[{i}/{len(names)}] {name}: {counts[name]:,} instructions"
                  + (f" in {got[0][1]} processes" if got[0][1] != 1 else "")
                  + (f" (repeats differ by {spread[name]:.4%})" if name in spread else ""),
                  file=sys.stderr)
    if not counts:
        raise InputError(uncounted_reason(args.result, names, failed, uncounted))
    worst = max(spread.values(), default=0.0)
    if worst > args.tolerance:
        raise InputError(f"{args.result}: instruction counts differ between repeats by up to "
                         f"{worst:.3%} (tolerance {args.tolerance:.3%}): "
                         + ", ".join(n for n, v in spread.items() if v > args.tolerance)
                         + "; nothing written")
    try:
        version = subprocess.run(["valgrind", "--version"], stdout=subprocess.PIPE,
                                 text=True, errors="replace").stdout.strip()
    except OSError as e:
        raise InputError(f"valgrind --version: cannot run: {e.strerror or e}")
    lane = {"tool": f"valgrind --tool=callgrind --toggle-collect={CALLGRIND_TOGGLE} "
                    f"--trace-children=yes", "valgrind": version, "flags": flags,
            "repeat": args.repeat, "counts": {n: counts[n] for n in names if n in counts},
            "processes": processes, "repeat_spread": spread, "failed": failed,
            "no_measured_region": sorted(uncounted)}
    target = args.out or args.result
    data = result.data  # the file as load_result read it: nothing else changes
    data["context"][schema.INSTRUCTIONS_KEY] = json_text(lane, sort_keys=True)
    # strict JSON: the NaN Google Benchmark 1.7.1 wrote in _cv rows becomes null
    write_output(target, json_text(data, indent=2) + "\n")
    print(f"instructions: {len(counts)} of {len(names)} counted in {time.time() - started:.0f} s"
          f", stored in {target} (context {schema.INSTRUCTIONS_KEY})", file=sys.stderr)
    if uncounted:
        print(f"instructions: {len(uncounted)} rows have no measured_run region: "
              f"{', '.join(sorted(uncounted))}", file=sys.stderr)
    if failed:
        print(f"instructions: warning: {len(failed)} rows could not be counted (left out): "
              + "; ".join(f"{n}: {why}" for n, why in sorted(failed.items())), file=sys.stderr)
    return 0


def uncounted_reason(path, names, failed, uncounted):
    """The one line of an instruction lane that counted nothing."""
    parts = []
    if failed:
        name, why = sorted(failed.items())[0]
        parts.append(f"{len(failed)} failed under callgrind (e.g. {name}: {why})")
    if uncounted:
        parts.append(f"{len(uncounted)} have no measured_run region (0 instructions)")
    return (f"{path}: counted no row of {len(names)}: " + "; ".join(parts)
            + ": nothing written (is --gilbench the binary that wrote the file?)")
