#!/usr/bin/python3
"""Charts, the CI regression gate and the instruction-count lane for gilbench results.

gilbench writes Google Benchmark 1.7.1 JSON: one `iteration` row per repetition
(1 iteration each, `real_time` = the wall time of one run), named
`<workload>/<strategy>/<key>:<value>[/<key>:<value>...]`, e.g.
`countdown/gil/workers:2/interval:1ms`, and a context block whose `gilbench_*`
keys describe the suite (strategies, workloads and their kind, the reference
strategy, each counter's unit and better-direction). Everything below is built
from those names and that context: no strategy, workload or worker count is
listed here, so a new strategy or workload needs no edit of this file. Google
Benchmark's own aggregate rows (`_mean`, `_median`, ...) are ignored; medians
are computed from the repetitions (1.7.1's `_median` is wrong for an even
count).

Sub-commands

  charts RESULT.json [MORE.json ...] --out DIR
      Exit status: 0 drawn; 2 bad input or a file that cannot be written.
      PNG and SVG charts plus summary.md (also printed). Rows of several files
      are combined (e.g. the CPython twin's results beside gilbench's); each
      row's speedup is taken against the reference row (`serial`, workers:1)
      of its own file.
        speedup      per workload: speedup over the reference against worker
                     count, one line per strategy, the ideal line, the spread
                     of repetitions (band = min..max, dots = repetitions)
        overhead     1-worker time of each strategy / 1-worker reference time
        io_<w>       for workloads with io_* counters (convoy):
                     each io_* counter (throughput, latency percentiles)
                     against the worker count, per strategy
        sweep_<key>  when names carry a further varying key (e.g. interval):
                     IO throughput or speedup against it
        gil_stats    every gil_* counter, for the strategies that have them

  compare BASE.json NEW.json
      The CI gate: a markdown table (fit for a CI job summary) and an exit
      status: 0 no regression, 1 regression (or a run that failed in NEW: a
      benchmark with error_occurred, or a row BASE counted that failed or has
      no measured region under callgrind in NEW), 2 bad input, including a
      gated lane that cannot judge (see "What a gated lane needs" below).
      Three lanes:
        time          per benchmark, the change of the median wall time. A
                      two-sided Mann-Whitney U test on the repetitions says
                      whether the two samples differ at all (no normality
                      assumption: contended timings are skewed and
                      multi-modal); Benjamini-Hochberg turns the suite's
                      p-values into q-values, so testing 100 benchmarks at
                      alpha=0.05 does not flag five of them by chance; and a
                      change is flagged only when it is significant AND beyond
                      the threshold (default 5%), because with many
                      repetitions a real but tiny drift is significant too.
                      Wall time only compares on the same machine in the same
                      state.
        ratio         per non-reference benchmark, its speedup over the
                      reference measured inside each file: median t(reference,
                      1 worker) / median t(benchmark). A machine that is
                      slower or busier slows both and the ratio survives, so
                      this lane compares across machines and against a
                      committed baseline. Its p-value comes from a bootstrap
                      of both medians in both files (the reference's noise is
                      part of the test), then BH at its own level (default
                      q < 0.01: a busier machine lowers multi-worker speedups
                      for real, so this lane sees more environmental change
                      than the time lane's i.i.d. model admits; at 0.05 it
                      false-flagged in 7 of 90 comparisons on the shared
                      development machine, at 0.01 in 2) and a threshold
                      (default 10%). Repetitions are not paired by index: with
                      interleaving, repetition i of two benchmarks did not run
                      at the same moment, and pairing only adds noise. A
                      slowdown of a whole workload (reference included)
                      leaves ratios alone by design: the time and instruction
                      lanes catch it.
        instructions  instructions counted by callgrind in the measured region
                      of each 1-worker row (see `instructions`). Deterministic
                      (the same build counts the same number again; rows with
                      blocking IO differ by < 0.01%), so no statistics:
                      flagged beyond a tight threshold (default 1%, so that a
                      2% change is caught with margin). Valgrind runs one
                      thread at a time, so multi-worker rows stay on the time
                      and ratio lanes.
      --gate picks which lanes can fail the job; the others are printed for
      information. The default gates time, ratio when BASE has a row with an
      in-run ratio, and instructions when BASE holds instruction counts (so
      two files without counts compare without --gate, and a NEW without the
      counts BASE has cannot slip through).

      What a gated lane needs (else exit 2, saying which lane and why; the
      report is still printed and written): a row it can judge at all (both
      files measured it), and for each such row the repetitions to flag it:
        time          the smallest two-sided p-value of the exact U test for
                      n1 vs n2 repetitions, 2 / C(n1 + n2, n1), must be below
                      --alpha (BH cannot lower a p-value below itself: when all
                      rows have that p, each q equals it). At alpha 0.05 that
                      is 4 or more repetitions per side (3 vs 3 gives 0.1).
                      Above that minimum, a lone regression among many rows
                      may still be unable to pass BH: compare warns (use 9 or
                      more repetitions, odd).
        ratio         2 or more repetitions of the row and of its reference,
                      in each file (the bootstrap has no spread with 1).
        instructions  both files counted: NEW without the counts of a row BASE
                      counted, and no failure recorded for it, is bad input.
      Non-gated lanes only warn.

  instructions RESULT.json --gilbench BIN
      The deterministic lane: runs every 1-worker row of RESULT.json once more,
      alone, under `valgrind --tool=callgrind
      --toggle-collect=*gilbench::measured_run*` (one gilbench process per
      benchmark, --repetitions=1, the sizes and settings recorded in the
      file's context) and stores the counts in RESULT.json's context as
      `gilbench_instructions` (a JSON string: the valgrind command and
      version, the replayed flags, counts {name: Ir}, and the rows left out:
      those whose run has no measured_run region, which count 0, and those
      that failed under valgrind, with the reason). Children are traced
      (--trace-children=yes) and their counts summed, so rows that run in
      child processes count their workers' work. --repeat N counts each row N
      times and fails if the counts differ by more than --tolerance.
      Exit status: 0 counted and stored (rows that failed under valgrind are
      left out and recorded, and compare judges them); 2 bad input, no
      valgrind, counts that differ between repeats beyond --tolerance, or no
      row counted at all (every row failed under callgrind or had no measured
      region: a lane of nothing is not a result, and a wrong --gilbench is an
      environment problem, not a regression). When it fails it writes nothing.

  fidelity ARGS...
      Runs bench/python/fidelity.py's main(ARGS) (the CPython fidelity report).

Exit statuses (every sub-command)

  0  pass.
  1  regression: compare only (a gated lane flagged a row, or NEW's run
     failed). Nothing else exits 1.
  2  bad input, usage or environment: one line `plot.py: error: ...` on
     stderr naming the file (and row) and the problem, no traceback.
  3  an unexpected internal error (a bug of plot.py): one line `plot.py:
     internal error: <type>: <message>`; `plot.py --debug ...` or
     PLOT_DEBUG=1 re-raises it with its traceback.

Bad input is: an unreadable, empty, truncated or malformed file, not gilbench
output, two files with different benchmark sets, and any field plot.py reads
with a wrong type or value. load_result checks every one: name and run_name
strings, run_type string, repetition_index an integer >= 0 (once per
benchmark), error_occurred a boolean, error_message a string, time_unit one
of ns/us/ms/s, real_time a finite number, with time_unit between 1 ps and
1e7 s (a zero, negative, NaN or infinite time is bad input, named with its
file, row and value); context: load_avg a list of finite numbers, num_cpus
an integer, describe()'s keys strings, the gilbench_* JSON strings decoding
to the type read (gilbench_instructions an object whose counts are finite
numbers > 0). Only the iteration rows are read: Google Benchmark 1.7.1
writes bare NaN in the _cv aggregate rows of counters that are always 0, and
such rows are skipped unread. A counter that is not a finite number (or is
beyond +-1e30, which no gilbench counter reaches and matplotlib cannot scale)
in an iteration row is dropped from that row (charts says how many): counters
are drawn, never gated, and one bad value should not hide the rest of a run.

Output files (compare --markdown, charts' images and summary.md, the result
file instructions writes) go through write_output: a temporary file created
exclusively (O_EXCL, O_NOFOLLOW, random name) in the target's directory,
mode 0666 & ~umask, written, fsynced and renamed over the target; a symlink
target is followed, so its target is replaced and the link stays a link
(except a link of another user in a sticky world-writable directory such as
/tmp, refused as the kernel's protected_symlinks would); a character device,
FIFO or /dev/stdout is written directly. A failed write is exit 2 with the
OS reason.
"""

import argparse
import concurrent.futures
import contextlib
import errno
import io
import json
import math
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.abspath(__file__))
SCHEMA_VERSION = "1"
TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
# The measured region of every run (src/runners/threads.hpp, measured_run).
CALLGRIND_TOGGLE = "*gilbench::measured_run*"
INSTRUCTIONS_KEY = "gilbench_instructions"
# Counter families drawn as a group: name prefix -> chart.
IO_PREFIX = "io_"
GIL_PREFIX = "gil_"


class InputError(Exception):
    """Bad input, usage or environment: printed as one line, exit status 2."""


# Control characters and Unicode line separators: escaped where text must stay one line.
LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text):
    """text with its control characters escaped (\\n, \\x85...), so that it stays one line."""
    return LINE_BREAKING.sub(lambda m: repr(m.group())[1:-1], str(text))


def shown(value, limit=60):
    """A value as a message shows it: repr, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def is_number(value):
    """True for a JSON number (int or float), False for a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite(value):
    """True for a finite JSON number (a huge integer that no float holds is not)."""
    if not is_number(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


# --------------------------------------------------------------------------
# Writing files


def current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def writes_in_place(path):
    """True for a target written directly: /dev/stdout and the like, a device, a FIFO."""
    if path in ("/dev/stdout", "/dev/stderr") or path.startswith(("/dev/fd/", "/proc/self/fd/")):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # missing (created below) or unreachable (reported below)
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def write_in_place(path, payload):
    """Writes to an existing device, FIFO or stream: no temporary file, no rename."""
    sys.stdout.flush()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def write_replacing(target, payload):
    """Writes a regular file atomically: an exclusive temporary in its directory, renamed."""
    directory, name = os.path.split(target)
    stem = name.encode("utf-8", "surrogateescape")[:100].decode("utf-8", "ignore")
    fd, tmp = tempfile.mkstemp(dir=directory or ".", prefix=f".{stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~current_umask())
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash
        dir_fd = os.open(directory or ".", os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def link_target(path):
    """The file a symlink at path finally names (a chain of links followed by hand).

    Refuses a link the kernel's protected_symlinks would not follow either: one in
    a sticky world-writable directory (/tmp) owned by neither this user nor the
    directory's owner, i.e. one another user may have planted there.
    """
    for _ in range(40):
        if not os.path.islink(path):
            return os.path.realpath(path)
        parent = os.path.dirname(os.path.abspath(path))
        link, directory = os.lstat(path), os.stat(parent)
        if (directory.st_mode & stat.S_ISVTX and directory.st_mode & stat.S_IWOTH
                and link.st_uid not in (os.geteuid(), directory.st_uid)):
            raise InputError(f"{path}: refusing to follow a symlink of another user (uid "
                             f"{link.st_uid}) in a sticky world-writable directory")
        path = os.path.join(parent, os.readlink(path))
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)


def write_output(path, data):
    """Writes data (str or bytes) to path: the one way plot.py writes a file. Raises InputError.

    The temporary file is created exclusively (mkstemp: O_CREAT|O_EXCL|O_NOFOLLOW, a
    random name) in the target's directory, so nobody can plant a link where it will
    be written; it gets mode 0666 & ~umask, is fsynced and renamed over the target,
    and removed on any failure. A symlink is followed: its target is replaced, in
    the target's directory, and the link stays. A device, a FIFO or /dev/stdout is
    written directly. (A target that is a link another user planted in /tmp is
    refused: link_target.)
    """
    payload = data if isinstance(data, bytes) else data.encode("utf-8", "backslashreplace")
    try:
        if writes_in_place(path):
            write_in_place(path, payload)
        else:
            write_replacing(link_target(path), payload)
    except FileNotFoundError as e:
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise InputError(f"{path}: cannot write: {e.strerror} (its directory does not "
                             f"exist)")
        raise InputError(f"{path}: cannot write: {e.strerror}")
    except OSError as e:
        raise InputError(f"{path}: cannot write: {e.strerror or e}")


def emit(text):
    """Prints text on stdout now; a failed write is bad environment (exit 2)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except UnicodeEncodeError:  # a locale that is not UTF-8
        encoding = getattr(sys.stdout, "encoding", None) or "ascii"
        sys.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding))
        sys.stdout.flush()
    except OSError as e:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            # nothing more can reach it; spare the interpreter's own complaint at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise InputError(f"standard output: cannot write: {e.strerror or e}")


# --------------------------------------------------------------------------
# Reading results


@dataclass
class Run:
    """One benchmark of a result file: its repetitions, counters and errors."""

    name: str
    source: "Result"
    workload: str = None  # None when the name does not follow the convention
    strategy: str = None
    params: dict = field(default_factory=dict)  # e.g. {"workers": "2", "interval": "1ms"}
    times: dict = field(default_factory=dict)  # repetition index -> seconds
    counters: dict = field(default_factory=dict)  # counter -> {repetition index -> value}
    errors: list = field(default_factory=list)

    @property
    def failed(self):
        return bool(self.errors)

    @property
    def x_key(self):
        """The name key that counts workers: `workers`, else the first integer key."""
        if INTEGER.fullmatch(self.params.get("workers", "")):
            return "workers"
        for key, value in self.params.items():
            if INTEGER.fullmatch(value):
                return key
        return None

    @property
    def x(self):
        key = self.x_key
        return int(self.params[key]) if key else None

    @property
    def variant(self):
        """The name's other keys, e.g. (("interval", "1ms"),)."""
        return tuple((k, v) for k, v in self.params.items() if k != self.x_key)

    def samples(self):
        """Wall times in seconds, in repetition order."""
        return [self.times[i] for i in sorted(self.times)]

    def counter_samples(self, counter):
        values = self.counters.get(counter, {})
        return [values[i] for i in sorted(values)]


@dataclass
class Result:
    """One gilbench JSON file."""

    path: str
    context: dict
    runs: dict  # name -> Run, in first-seen order
    decoded: dict = field(default_factory=dict)  # gilbench_* JSON context values, checked
    data: dict = None  # the whole file as parsed
    dropped: int = 0  # counter values left out because they were not finite numbers

    def ctx_json(self, key, default):
        """A gilbench_* context value that holds JSON, decoded (checked by load_result)."""
        return self.decoded.get(key, default)

    @property
    def reference(self):
        return self.context.get("gilbench_reference_strategy", "serial")

    @property
    def metrics(self):
        return self.ctx_json("gilbench_metrics", {})

    @property
    def instructions(self):
        """{name: instructions} from the instruction lane, or None."""
        lane = self.ctx_json(INSTRUCTIONS_KEY, None)
        return None if lane is None else lane.get("counts", {})

    def reference_run(self, workload):
        """The reference strategy's 1-worker run of `workload` in this file, if any."""
        found = [r for r in self.runs.values()
                 if r.workload == workload and r.strategy == self.reference and r.x == 1]
        found.sort(key=lambda r: len(r.variant))
        return found[0] if found else None

    def describe(self):
        """One line: file, mode, commit, date, machine (what the context says)."""
        c = self.context
        cpus = c.get("gilbench_nproc", c.get("num_cpus"))
        bits = [os.path.basename(self.path),
                c.get("gilbench_mode") and f"{c['gilbench_mode']} mode",
                c.get("gilbench_git_revision") and f"commit {c['gilbench_git_revision']}",
                c.get("date", "")[:16],
                c.get("host_name") and f"host {c['host_name']}"
                + (f" ({cpus} CPUs)" if cpus else ""),
                c.get("gilbench_repetitions") and f"{c['gilbench_repetitions']} repetitions",
                c.get("gilbench_compiler") and " ".join(
                    [c["gilbench_compiler"], c.get("gilbench_cxx_flags", "")]).strip()]
        return ", ".join(b for b in bits if b)


INTEGER = re.compile(r"-?[0-9]{1,18}")  # a name value that is a count (int() of it is safe)


def parse_name(name):
    """`w/s/k:v/...` -> (workload, strategy, {k: v}), or None if it does not parse."""
    parts = name.split("/")
    if len(parts) < 3 or not parts[0] or not parts[1]:
        return None
    params = {}
    for part in parts[2:]:
        key, sep, value = part.partition(":")
        if not sep or not key:
            return None
        params[key] = value
    return parts[0], parts[1], params


# Google Benchmark's own numeric row fields: everything else numeric is a counter.
GB_FIELDS = {"family_index", "per_family_instance_index", "repetitions", "repetition_index",
             "threads", "iterations", "real_time", "cpu_time"}
# The plausible wall time of one run, in seconds: outside it a time is bad input (and
# ratios of such times would overflow).
TIME_RANGE = (1e-12, 1e7)
# The largest counter magnitude kept: beyond any counter gilbench writes, and
# near float's limit matplotlib cannot scale an axis (values are dropped).
COUNTER_LIMIT = 1e30


def _list_of(kind):
    return lambda v: isinstance(v, list) and all(isinstance(x, kind) for x in v)


def _dict_of(check):
    return lambda v: isinstance(v, dict) and all(check(x) for x in v.values())


def _metric(v):
    return isinstance(v, dict) and all(isinstance(v.get(k, ""), str) for k in ("unit", "better"))


def _instruction_lane(v):
    return (isinstance(v, dict)
            and _dict_of(lambda c: is_finite(c) and c > 0)(v.get("counts", {}))
            and _dict_of(lambda why: isinstance(why, str))(v.get("failed", {}))
            and _list_of(str)(v.get("no_measured_region", [])))


# The gilbench_* context keys that hold JSON and that plot.py reads: key -> (check, what).
CONTEXT_JSON = {
    "gilbench_metrics": (_dict_of(_metric), "an object of {unit, better} objects"),
    "gilbench_params": (lambda v: isinstance(v, dict), "an object"),
    "gilbench_workloads": (_dict_of(lambda kind: isinstance(kind, str)),
                           "an object of strings"),
    "gilbench_strategies": (_list_of(str), "a list of strings"),
    "gilbench_switch_intervals": (_list_of(str), "a list of strings"),
    INSTRUCTIONS_KEY: (_instruction_lane, "an object with counts {name: number > 0}, failed "
                       "{name: reason} and no_measured_region [names]"),
}
# The other context values plot.py reads: key -> (check, what).
CONTEXT_PLAIN = {
    **{k: (lambda v: isinstance(v, str), "a string")
       for k in ("date", "host_name", "gilbench_mode", "gilbench_git_revision",
                 "gilbench_compiler", "gilbench_cxx_flags", "gilbench_reference_strategy",
                 "gilbench_injected_slowdown")},
    **{k: (lambda v: isinstance(v, str) or (is_number(v) and isinstance(v, int)),
           "a string or an integer")
       for k in ("gilbench_repetitions", "gilbench_nproc", "gilbench_check_interval")},
    "num_cpus": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "load_avg": (lambda v: isinstance(v, list) and all(is_finite(x) for x in v),
                 "a list of finite numbers"),
}


def decode_context(path, context):
    """Checks the context values plot.py reads; returns the decoded gilbench_* JSON values."""
    for key, (check, what) in CONTEXT_PLAIN.items():
        if key in context and not check(context[key]):
            raise InputError(f"{path}: context key {key} is {shown(context[key])}, not {what}")
    decoded = {}
    for key, (check, what) in CONTEXT_JSON.items():
        if key not in context:
            continue
        text = context[key]
        if not isinstance(text, str):
            raise InputError(f"{path}: context key {key} is {shown(text)}, not a JSON string")
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            raise InputError(f"{path}: context key {key} is not valid JSON")
        if not check(value):
            raise InputError(f"{path}: context key {key} holds {shown(value)}, not {what}")
        decoded[key] = value
    return decoded


def parse_json(path, raw):
    """The parsed file; raises InputError for anything that is not JSON text."""
    if not raw.strip():
        raise InputError(f"{path}: the file is empty (an interrupted or failed run?)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (not UTF-8)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if e.pos >= len(text.rstrip()):
            raise InputError(f"{path}: truncated JSON (it ends at line {e.lineno} column "
                             f"{e.colno})")
        raise InputError(f"{path}: malformed JSON: {e.msg} (line {e.lineno} column {e.colno})")
    except RecursionError:
        raise InputError(f"{path}: malformed JSON: nested too deeply")
    except ValueError as e:  # e.g. an integer beyond Python's digit limit
        raise InputError(f"{path}: malformed JSON: {one_line(e)}")
    if re.search(rb"\\u[dD][89a-fA-F]", raw):
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"{path}: malformed JSON: a \\u escape of a lone surrogate "
                             f"(not a Unicode character)")
    return data


def add_row(result, i, row):
    """Adds benchmark row i of the file to result.runs, after checking every field read."""
    path = result.path
    if not isinstance(row, dict) or not isinstance(row.get("name"), str):
        raise InputError(f"{path}: benchmark row {i} is malformed (no name)")
    run_type = row.get("run_type", "iteration")
    if not isinstance(run_type, str):
        raise InputError(f"{path}: benchmark row {i} ({row['name']}): run_type is "
                         f"{shown(run_type)}, not a string")
    if run_type != "iteration":
        return  # Google Benchmark's aggregates (their _cv may hold NaN): not read
    name = row.get("run_name", row["name"])
    if not isinstance(name, str):
        raise InputError(f"{path}: benchmark row {i} ({row['name']}): run_name is "
                         f"{shown(name)}, not a string")

    def bad(key, what):
        return InputError(f"{path}: benchmark row {i} ({name}): {key} is {shown(row[key])}, "
                          f"not {what}")

    run = result.runs.get(name)
    if run is None:
        run = Run(name, result)
        parsed = parse_name(name)
        if parsed:
            run.workload, run.strategy, run.params = parsed
        result.runs[name] = run
    rep = row.get("repetition_index", len(run.times) + len(run.errors))
    if "repetition_index" in row and not (isinstance(rep, int) and not isinstance(rep, bool)
                                          and rep >= 0):
        raise bad("repetition_index", "an integer >= 0")
    error = row.get("error_occurred", False)
    if not isinstance(error, bool):
        raise bad("error_occurred", "true or false")
    if error:
        message = row.get("error_message", "error")
        if not isinstance(message, str):
            raise bad("error_message", "a string")
        run.errors.append(message)
        return
    unit = row.get("time_unit", "ns")
    if not isinstance(unit, str) or unit not in TIME_UNITS:
        raise bad("time_unit", "one of " + "/".join(TIME_UNITS))
    if "real_time" not in row:
        raise InputError(f"{path}: benchmark row {i} ({name}) has no real_time")
    t = row["real_time"]  # per iteration already
    if not is_finite(t) or t <= 0:
        raise bad("real_time", "a finite number > 0")
    seconds = t * TIME_UNITS[unit]
    if not TIME_RANGE[0] <= seconds <= TIME_RANGE[1]:
        raise InputError(f"{path}: benchmark row {i} ({name}): real_time {t} {unit} is out of "
                         f"range ({TIME_RANGE[0]:g} to {TIME_RANGE[1]:g} s)")
    if rep in run.times:
        raise InputError(f"{path}: benchmark row {i} ({name}): repetition_index {rep} appears "
                         f"twice")
    run.times[rep] = seconds
    for key, value in row.items():
        if is_number(value) and key not in GB_FIELDS:
            if is_finite(value) and abs(value) <= COUNTER_LIMIT:
                run.counters.setdefault(key, {})[rep] = float(value)
            else:
                result.dropped += 1


def load_result(path):
    """Reads and checks one gilbench result file. Raises InputError."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}")
    data = parse_json(path, raw)
    if not isinstance(data, dict) or not isinstance(data.get("context"), dict) \
            or not isinstance(data.get("benchmarks"), list):
        raise InputError(f"{path}: not Google Benchmark JSON (no \"context\" object and "
                         f"\"benchmarks\" list)")
    context = data["context"]
    version = context.get("gilbench_schema_version")
    if version is None:
        raise InputError(f"{path}: not gilbench output (Google Benchmark JSON without "
                         f"gilbench_schema_version in its context)")
    if not isinstance(version, (str, int)) or str(version) not in (SCHEMA_VERSION, "2"):
        raise InputError(f"{path}: gilbench_schema_version is "
                         f"{version if isinstance(version, str) else shown(version)}; this plot.py "
                         f"reads version {SCHEMA_VERSION}")
    result = Result(path, context, {}, decode_context(path, context), data)
    for i, row in enumerate(data["benchmarks"]):
        add_row(result, i, row)
    if not result.runs:
        raise InputError(f"{path}: holds no benchmark runs")
    return result


# --------------------------------------------------------------------------
# Statistics


def median(values):
    s = sorted(values)
    n = len(s)
    if n == 0:
        return math.nan
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def u_test(a, b):
    """Two-sided Mann-Whitney U p-value of samples a and b (nan if either has < 2)."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    from scipy.stats import mannwhitneyu
    if len(set(a) | set(b)) == 1:
        return 1.0
    ties = len(set(a) | set(b)) < len(a) + len(b)
    method = "exact" if not ties and max(len(a), len(b)) <= 50 else "asymptotic"
    return float(mannwhitneyu(a, b, alternative="two-sided", method=method).pvalue)


def min_u_pvalue(n1, n2):
    """The smallest two-sided p-value an exact U test can give for n1 vs n2 samples."""
    if n1 < 2 or n2 < 2:
        return 1.0
    ways = math.comb(n1 + n2, n1)
    return min(1.0, 2.0 / ways) if ways < 1e300 else 0.0


def u_test_repetitions(alpha):
    """The fewest repetitions per side whose smallest U-test p is below alpha (None: none)."""
    return next((n for n in range(2, 1000) if min_u_pvalue(n, n) < alpha), None)


def bh_adjust(pvalues):
    """Benjamini-Hochberg q-values (nan stays nan and is not counted)."""
    indexed = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    m = len(indexed)
    q = [math.nan] * len(pvalues)
    running = 1.0
    for rank in range(m, 0, -1):
        p, i = indexed[rank - 1]
        running = min(running, p * m / rank)
        q[i] = running
    return q


# --------------------------------------------------------------------------
# compare


@dataclass
class Row:
    """One line of a compare table."""

    name: str
    base: float = math.nan
    new: float = math.nan
    change: float = math.nan  # new / base - 1
    p: float = math.nan
    q: float = math.nan
    verdict: str = ""  # "regression", "improved", "noise", "failed", "base failed", ""
    note: str = ""
    judged: bool = False  # both files have what the lane compares
    reps: tuple = ()  # (repetitions in base, in new): the fewest of the samples compared


def speedup_samples(result, run):
    """(reference times, run times) for the in-run speedup of `run`, or None."""
    ref = result.reference_run(run.workload) if run.workload else None
    if ref is None or ref is run or ref.failed or run.failed or not ref.times or not run.times:
        return None
    return ref.samples(), run.samples()


BOOTSTRAP = 4000  # resamples per file and benchmark


def bootstrap_speedup_test(base, new, seed):
    """Change of the in-run speedup median(ref)/median(run) between two files.

    base, new: (reference times, run times) of each file. Returns (speedup in
    base, speedup in new, two-sided p). The p-value comes from a bootstrap of
    each file's two samples (resampled independently, BOOTSTRAP times): the
    spread of the log-speedup difference gives a z score. Both medians vary,
    so the reference's own noise is in the test; repetitions are not paired
    by index, because with interleaving repetition i of two benchmarks did not
    run at the same moment and pairing would only add the reference's noise
    to every sample.
    """
    import numpy as np
    from scipy.stats import norm
    rng = np.random.default_rng(seed)

    def boot(ref, run):
        ref, run = np.asarray(ref), np.asarray(run)
        r = np.median(ref[rng.integers(0, len(ref), (BOOTSTRAP, len(ref)))], axis=1)
        s = np.median(run[rng.integers(0, len(run), (BOOTSTRAP, len(run)))], axis=1)
        return np.log(r) - np.log(s)

    sa = median(base[0]) / median(base[1])
    sb = median(new[0]) / median(new[1])
    if min(len(x) for x in (*base, *new)) < 2:
        return sa, sb, math.nan
    se = float(np.std(boot(*new) - boot(*base)))
    diff = math.log(sb) - math.log(sa)
    if se == 0:
        return sa, sb, 1.0 if diff == 0 else 0.0
    return sa, sb, float(2 * norm.sf(abs(diff) / se))


def judge(rows, alpha, threshold, worse_sign):
    """BH-adjusts the rows' p-values and sets each verdict.

    worse_sign = +1 when a rise is a regression (time), -1 when a fall is (speedup).
    """
    for row, q in zip(rows, bh_adjust([r.p for r in rows])):
        row.q = q
        if row.verdict:
            continue
        beyond = abs(row.change) > threshold
        significant = not math.isnan(q) and q < alpha
        if beyond and significant:
            row.verdict = "regression" if row.change * worse_sign > 0 else "improved"
        elif beyond:
            row.verdict = "noise"


def compare_time(base, new, names, alpha, threshold):
    """The wall-time lane: median change, U test on the repetitions, BH, threshold."""
    rows = []
    for name in names:
        a, b = base.runs[name], new.runs[name]
        row = Row(name)
        if b.failed:
            row.verdict, row.note = "failed", b.errors[0]
        elif a.failed:
            row.verdict, row.note = "base failed", a.errors[0]
        else:
            row.base, row.new = median(a.samples()), median(b.samples())
            row.change = row.new / row.base - 1
            row.p = u_test(a.samples(), b.samples())
            row.judged, row.reps = True, (len(a.times), len(b.times))
        rows.append(row)
    judge(rows, alpha, threshold, +1)
    return rows


def compare_ratios(base, new, names, alpha, threshold):
    """The in-run ratio lane: every non-reference row that has a reference in its file."""
    rows = []
    for name in names:
        a, b = base.runs[name], new.runs[name]
        if a.strategy is None or a.strategy == base.reference:
            continue
        sa, sb = speedup_samples(base, a), speedup_samples(new, b)
        if sa is None and sb is None:
            continue
        row = Row(name)
        if sb is None:
            row.verdict = "failed"
            row.note = b.errors[0] if b.errors else "its reference run failed in NEW"
        elif sa is None:
            row.verdict, row.note = "base failed", "no reference ratio in BASE"
        else:
            seed = zlib.crc32(name.encode("utf-8", "surrogateescape"))
            row.base, row.new, row.p = bootstrap_speedup_test(sa, sb, seed)
            row.change = row.new / row.base - 1
            row.judged = True
            row.reps = (min(len(x) for x in sa), min(len(x) for x in sb))
        rows.append(row)
    judge(rows, alpha, threshold, -1)
    return rows


NOT_COUNTED_IN_NEW = "not counted in new"


def compare_instructions(base, new, names, threshold):
    """The instruction lane: rows counted in either file; flagged beyond the threshold.

    A row BASE counted and NEW did not is FAILED when NEW's run of it failed, or
    it failed under valgrind or counted 0 (no measured region) in NEW: NEW broke
    it. Without such a record it is only "not counted in new", which a gated lane
    refuses (lane_problems): the gate cannot pass what it did not see.
    """
    counts_a, counts_b = base.instructions or {}, new.instructions or {}
    lane_b = new.ctx_json(INSTRUCTIONS_KEY, None) or {}
    failed_b, empty_b = lane_b.get("failed", {}), set(lane_b.get("no_measured_region", []))
    rows = []
    for name in names:
        if name not in counts_a and name not in counts_b:
            continue
        row = Row(name, counts_a.get(name, math.nan), counts_b.get(name, math.nan))
        if name in counts_a and name in counts_b:
            row.judged = True
            row.change = row.new / row.base - 1
            if row.change > threshold:
                row.verdict = "regression"
            elif row.change < -threshold:
                row.verdict = "improved"
        elif name not in counts_a:
            row.note = "counted in new only"
        elif new.runs[name].failed:
            row.verdict, row.note = "failed", new.runs[name].errors[0]
        elif name in failed_b:
            row.verdict, row.note = "failed", f"under valgrind in new: {failed_b[name]}"
        elif name in empty_b:
            row.verdict, row.note = "failed", "0 instructions in new (no measured_run region)"
        else:
            row.note = NOT_COUNTED_IN_NEW
        rows.append(row)
    return rows


VERDICT_TEXT = {"regression": "**REGRESSION**", "failed": "**FAILED**", "improved": "improved",
                "noise": "~ (not significant)", "base failed": "failed in base", "": ""}
VERDICT_ORDER = {"failed": 0, "regression": 1, "improved": 2, "noise": 3, "base failed": 4, "": 5}


def fmt_num(v, digits=4):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}g}"


def fmt_change(v):
    return "–" if math.isnan(v) else f"{v * 100:+.1f}%"


def fmt_q(v):
    if math.isnan(v):
        return "–"
    return f"{v:.2g}" if v >= 0.001 else f"{v:.1e}"


def markdown_table(rows, columns, value_fmt, with_q=True):
    """A markdown table of compare rows: flagged rows first, then by name."""
    head = ["benchmark", *columns, "change"] + (["q (BH)"] if with_q else []) + ["verdict"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(head) - 2) + ["---"]) + "|"]
    for r in sorted(rows, key=lambda r: (VERDICT_ORDER[r.verdict], r.name)):
        name = one_line(r.name).replace("|", "\\|")
        cells = [f"`{name}`", value_fmt(r.base), value_fmt(r.new), fmt_change(r.change)]
        if with_q:
            cells.append(fmt_q(r.q))
        verdict = VERDICT_TEXT[r.verdict]
        if r.note:
            verdict = one_line(f"{verdict} {r.note}".strip()).replace("|", "\\|")
        cells.append(verdict)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def power_note(base, new, names, alpha):
    """A warning when the repetitions are too few for any lone flag to pass BH."""
    n1 = min((len(base.runs[n].times) for n in names if base.runs[n].times), default=0)
    n2 = min((len(new.runs[n].times) for n in names if new.runs[n].times), default=0)
    pmin = min_u_pvalue(n1, n2)
    if pmin * len(names) < alpha:
        return None
    return (f"> **Warning:** with {n1} vs {n2} repetitions the smallest possible U-test p is "
            f"{pmin:.2g}, so a regression of a single benchmark among {len(names)} cannot reach "
            f"q < {alpha} after the BH correction. Use more repetitions (9 or more, odd).")


def name_list(names, limit=3):
    """`a`, `b`, `c` (+N more)."""
    text = ", ".join(f"`{one_line(n)}`" for n in names[:limit])
    return text + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


def time_problems(rows, alpha):
    """Why a gated time lane cannot judge: nothing measured in both files, or rows
    whose repetitions are too few for the U test to ever reach q < alpha."""
    judged = [r for r in rows if r.judged]
    if not judged:
        if any(r.verdict == "failed" for r in rows):
            return []  # NEW's runs failed: exit 1 says so
        return ["time lane: no benchmark to compare (every run failed in BASE)"]
    few = [r for r in judged if min_u_pvalue(*r.reps) >= alpha]
    if not few:
        return []
    need = u_test_repetitions(alpha)
    r = few[0]
    return [f"time lane: {len(few)} of {len(judged)} benchmarks have too few repetitions to be "
            f"flagged at all (e.g. {name_list([r.name], 1)}: {r.reps[0]} vs {r.reps[1]}, whose "
            f"smallest U-test p is {min_u_pvalue(*r.reps):.2g}, not below --alpha {alpha}): "
            + (f"it needs {need} or more repetitions per side (9 or more, odd, to flag a lone "
               f"regression)" if need else "no repetition count reaches that alpha")]


def ratio_problems(rows, base):
    """Why a gated ratio lane cannot judge: no ratio in both files, or rows with fewer
    than 2 repetitions on a side (the bootstrap then has no spread and no p-value)."""
    judged = [r for r in rows if r.judged]
    if not judged:
        if any(r.verdict == "failed" for r in rows):
            return []
        why = ("no reference ratio in BASE" if rows else
               f"no non-reference benchmark has a 1-worker reference run "
               f"({base.reference}) in its file")
        return [f"ratio lane: nothing to compare: {why}"]
    few = [r for r in judged if min(r.reps) < 2]
    if not few:
        return []
    r = few[0]
    return [f"ratio lane: {len(few)} of {len(judged)} benchmarks have fewer than 2 repetitions "
            f"of the row or of its reference in a file (e.g. {name_list([r.name], 1)}: {r.reps[0]} "
            f"vs {r.reps[1]}): the bootstrap needs 2 or more per side"]


def instruction_problems(rows, base, new):
    """Why a gated instruction lane cannot judge: counts missing in a file, rows BASE
    counted that NEW lacks with no failure recorded, or nothing counted in both."""
    missing = [r.path for r in (base, new) if r.instructions is None]
    if missing:
        return [f"instructions lane: no instruction counts in {' and '.join(missing)} (`plot.py "
                f"instructions FILE --gilbench BIN` adds them; or leave the lane out of --gate)"]
    problems = []
    lacking = [r.name for r in rows if r.note == NOT_COUNTED_IN_NEW]
    if lacking:
        problems.append(f"instructions lane: {new.path} lacks the instruction counts of "
                        f"{len(lacking)} benchmarks {base.path} counted ({name_list(lacking)}), and "
                        f"records no failure for them: count them (`plot.py instructions`)")
    elif not any(r.judged for r in rows) and not any(r.verdict == "failed" for r in rows):
        problems.append("instructions lane: no benchmark is counted in both files")
    return problems


def default_gate(base, names):
    """The lanes gated without --gate: time; ratio when BASE has an in-run ratio;
    instructions when BASE holds instruction counts."""
    gate = {"time"}
    if any(base.runs[n].strategy not in (None, base.reference)
           and speedup_samples(base, base.runs[n]) for n in names):
        gate.add("ratio")
    if base.instructions is not None:
        gate.add("instructions")
    return gate


def comparable_names(base, new, common):
    """The benchmarks to compare; raises InputError when the files cannot be compared."""
    only_base = [n for n in base.runs if n not in new.runs]
    only_new = [n for n in new.runs if n not in base.runs]
    if (only_base or only_new) and not common:
        def some(names):
            return ", ".join(names[:6]) + (f" (+{len(names) - 6} more)" if len(names) > 6 else "")
        parts = [f"only in {r.path}: {some(names)}"
                 for r, names in ((base, only_base), (new, only_new)) if names]
        raise InputError(f"{base.path} and {new.path} hold different benchmark sets; "
                         + "; ".join(parts) + " (re-record the baseline, or pass --common)")
    names = [n for n in base.runs if n in new.runs]
    if not names:
        raise InputError(f"{base.path} and {new.path} have no benchmark in common")
    if base.context.get("gilbench_mode") != new.context.get("gilbench_mode"):
        raise InputError(f"{new.path}: gilbench_mode is {new.context.get('gilbench_mode')!r} but "
                         f"{base.path} has {base.context.get('gilbench_mode')!r}: the sizes differ")
    params_a, params_b = base.ctx_json("gilbench_params", {}), new.ctx_json("gilbench_params", {})
    for w in sorted({base.runs[n].workload for n in names} - {None}):
        if w in params_a and w in params_b and params_a[w] != params_b[w]:
            raise InputError(f"{new.path}: workload {w} ran with parameters {params_b[w]} but "
                             f"{base.path} with {params_a[w]}: the sizes differ")
    return names, only_base, only_new


@dataclass
class Lane:
    """One section of the compare report."""

    key: str  # what --gate names
    title: str
    rows: list
    columns: list
    fmt: object  # value -> text
    with_q: bool = True
    notes: list = field(default_factory=list)


def instruction_notes(base, new):
    """Lines about the rows the instruction lane left out, in either file."""
    notes = []
    for label, r in (("base", base), ("new", new)):
        lane = r.ctx_json(INSTRUCTIONS_KEY, {}) or {}
        if lane.get("failed"):
            notes.append(f"Not counted in {label} (failed under valgrind): " + "; ".join(
                f"`{n}`: {why}" for n, why in sorted(lane["failed"].items())))
    lane = new.ctx_json(INSTRUCTIONS_KEY, {}) or {}
    if lane.get("no_measured_region"):
        notes.append(f"No measured_run region (0 instructions), left out: "
                     f"{len(lane['no_measured_region'])} rows, e.g. "
                     f"`{lane['no_measured_region'][0]}`.")
    return notes


def noise_line(result):
    """The machine's load when the run started and the typical spread of its repetitions."""
    load = result.context.get("load_avg")
    cpus = result.context.get("gilbench_nproc", result.context.get("num_cpus"))
    spreads = []
    for run in result.runs.values():
        t = sorted(run.samples())
        if len(t) >= 4:
            spreads.append((t[(3 * len(t)) // 4] - t[len(t) // 4]) / median(t))
    bits = []
    if isinstance(load, list) and load:
        bits.append(f"load {load[0]:.1f}" + (f" on {cpus} CPUs" if cpus else ""))
    if spreads:
        bits.append(f"repetitions spread {median(spreads):.0%} (median IQR / median)")
    return ", ".join(bits)


def busy(result):
    """True when the run started on a machine with more runnable work than CPUs."""
    load = result.context.get("load_avg")
    try:
        return float(load[0]) > float(result.context.get("gilbench_nproc",
                                                          result.context.get("num_cpus")))
    except (TypeError, ValueError, IndexError):
        return False


def same_machine(base, new):
    keys = ("host_name", "gilbench_cpu_model", "gilbench_nproc", "num_cpus")
    return all(base.context.get(k) == new.context.get(k) for k in keys)


def cmd_compare(args):
    """The gate: three lanes, a markdown report, exit 1 on a gated regression."""
    base, new = load_result(args.base), load_result(args.new)
    names, only_base, only_new = comparable_names(base, new, args.common)
    gate = set(args.gate.split(",")) if args.gate else default_gate(base, names)

    ms = lambda v: fmt_num(v * 1e3)
    speedup = lambda v: "–" if math.isnan(v) else fmt_num(v, 3) + "x"
    count = lambda v: "–" if math.isnan(v) else f"{int(v)}"
    lanes = [Lane("time", f"Wall time: median of repetitions (Mann-Whitney U, BH q < {args.alpha}, "
                  f"threshold {args.threshold:.0%})", compare_time(base, new, names, args.alpha,
                                                       args.threshold),
                  ["base ms", "new ms"], ms)]
    if not same_machine(base, new):
        lanes[0].notes.append("The files come from different machines (host, CPU model or "
                              "CPU count differ): wall times do not compare.")
    lanes.append(Lane("ratio", f"In-run ratios: speedup over the reference at 1 worker, median / "
                      f"median within each file (bootstrap, BH q < {args.ratio_alpha}, threshold "
                      f"{args.ratio_threshold:.0%})",
                      compare_ratios(base, new, names, args.ratio_alpha, args.ratio_threshold),
                      ["base", "new"], speedup))
    if base.instructions is not None and new.instructions is not None:
        lanes.append(Lane("instructions", f"Instruction counts: callgrind, measured region of "
                          f"the 1-worker rows (deterministic, threshold "
                          f"{args.instr_threshold:.0%})",
                          compare_instructions(base, new, names, args.instr_threshold),
                          ["base", "new"], count, with_q=False,
                          notes=instruction_notes(base, new)))
    else:
        missing = " and ".join(r.path for r in (base, new) if r.instructions is None)
        lanes.append(Lane("instructions", "Instruction counts", [], [], None, notes=[
            f"Not compared: no instruction counts in {missing} (`plot.py instructions FILE "
            f"--gilbench BIN` adds them)."]))

    problems = []
    if "time" in gate:
        problems += time_problems(lanes[0].rows, args.alpha)
    if "ratio" in gate:
        problems += ratio_problems(lanes[1].rows, base)
    if "instructions" in gate:
        problems += instruction_problems(lanes[2].rows, base, new)
    regressions, body = [], []
    for lane in lanes:
        gated = lane.key in gate
        if gated:
            regressions += [(lane.key, r) for r in lane.rows
                            if r.verdict in ("regression", "failed")]
        body += ["", f"### {lane.title}" + ("" if gated else " — not gated"), ""]
        if lane.rows:
            n = {v: sum(r.verdict == v for r in lane.rows) for v in VERDICT_ORDER}
            body += [f"{len(lane.rows)} benchmarks: {n['regression']} regressed, {n['failed']} "
                     f"failed, {n['improved']} improved"
                     + (f", {n['noise']} beyond the threshold but not significant."
                        if lane.with_q else "."), ""]
            body += markdown_table(lane.rows, lane.columns, lane.fmt, lane.with_q)
        body += [("\n" if lane.rows else "") + one_line(note) for note in lane.notes]

    verdict = f"REGRESSION ({len(regressions)})" if regressions else "no regression"
    if problems:
        verdict = (f"CANNOT JUDGE (a gated lane cannot judge; {verdict} in what it could)"
                   if regressions else "CANNOT JUDGE (a gated lane cannot judge)")
    head = ["## gilbench compare: " + verdict, "",
            f"- base: {one_line(base.describe())}", f"- new: {one_line(new.describe())}",
            f"- gated lanes: {', '.join(l.key for l in lanes if l.key in gate)}. Time and "
            f"ratio changes are flagged when beyond the threshold and significant "
            f"(Benjamini-Hochberg q < alpha); instruction counts when beyond the threshold."]
    if regressions:
        listed = [f"`{one_line(r.name)}` ({lane} " + (
            f"{fmt_change(r.change)})" if r.verdict == "regression" else "lane: the run failed)")
            for lane, r in regressions]
        head.append("- regressions: " + ", ".join(listed[:20])
                    + (f" (+{len(listed) - 20} more)" if len(listed) > 20 else ""))
    for problem in problems:
        head.append(f"- **cannot judge:** {problem}")
    if only_base or only_new:
        head.append(f"- compared the {len(names)} common benchmarks; left out: "
                    f"{len(only_base)} only in base, {len(only_new)} only in new")
    head.append(f"- noise: base {noise_line(base) or 'unknown'}; new "
                f"{noise_line(new) or 'unknown'}")
    for label, r in (("base", base), ("new", new)):
        if busy(r):
            head.append(f"- **{label} ran on a busy machine** (load above the CPU count): its "
                        f"wall times and multi-worker speedups are not trustworthy; the "
                        f"instruction counts are.")
    injected = [r.context.get("gilbench_injected_slowdown") for r in (base, new)]
    if any(injected):
        head.append(one_line(f"- injected slowdown (test only): base {injected[0] or 'none'}, "
                             f"new {injected[1] or 'none'}"))
    note = power_note(base, new, names, args.alpha)
    if note:
        head += ["", note]
    text = "\n".join(head + body) + "\n"
    emit(text)
    if args.markdown:
        write_output(args.markdown, text)
    if problems:  # bad input comes first: what the gate did not judge has not passed
        raise InputError("compare cannot judge a gated lane: " + "; ".join(problems))
    return 1 if regressions else 0


# --------------------------------------------------------------------------
# charts


@dataclass
class Series:
    """The runs of one line of a chart: one strategy (and variant) of one workload."""

    label: str
    workload: str
    runs: list  # Run, sorted by x
    primary: bool  # the variant drawn on the speedup and overhead charts
    is_reference: bool


def duration_seconds(text):
    """'5ms' -> 0.005; None if not a duration."""
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|ms|s)", text)
    return float(m.group(1)) * TIME_UNITS[m.group(2)] if m else None


def sort_value(text):
    """A key to order name values: durations and numbers by magnitude, else as text."""
    d = duration_seconds(text)
    if d is not None:
        return (0, d, text)
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def variant_rank(result, variant):
    """Orders a strategy's variants: the one whose values come first in the context
    lists (e.g. gilbench_switch_intervals[0]) is the primary one."""
    rank = []
    lists = []
    for key, text in result.context.items():
        if key.startswith("gilbench_") and isinstance(text, str) and text.startswith("["):
            try:
                lists.append([str(v) for v in json.loads(text)])
            except ValueError:
                pass
    for _, value in variant:
        pos = [lst.index(value) for lst in lists if value in lst]
        rank.append(min(pos) if pos else 10**6)
    return tuple(rank)


def build_series(results):
    """All series of all files, with labels unique across files."""
    series = []
    taken = {}  # (workload, label) -> file index
    for fi, result in enumerate(results):
        groups = {}
        for run in result.runs.values():
            if run.workload is None or run.x is None:
                continue
            groups.setdefault((run.workload, run.strategy, run.variant), []).append(run)
        variants = {}
        for (w, s, v) in groups:
            variants.setdefault((w, s), []).append(v)
        stem = os.path.splitext(os.path.basename(result.path))[0]
        for (w, s, v), runs in groups.items():
            primary = min(variants[(w, s)], key=lambda vv: variant_rank(result, vv)) == v
            is_ref = s == result.reference
            label = s
            if (w, s) in taken and taken[(w, s)] != fi:
                if is_ref:
                    continue  # each file keeps its own reference; draw the first one
                label = f"{s} ({stem})"
            taken.setdefault((w, s), fi)
            series.append(Series(label, w, sorted(runs, key=lambda r: r.x), primary, is_ref))
    return series


def ordered(values, preferred):
    """Unique values, those listed in `preferred` first in its order, then as seen."""
    seen = list(dict.fromkeys(values))
    first = [v for v in dict.fromkeys(preferred) if v in seen]
    return first + [v for v in seen if v not in first]


class Charts:
    """Draws every chart of a set of result files into one directory."""

    def __init__(self, results, out, headline_workers):
        import matplotlib
        matplotlib.use("Agg")
        # Names are drawn as they are: a "$" in a name is no mathtext to parse.
        matplotlib.rcParams["text.parse_math"] = False
        import matplotlib.pyplot as plt
        self.plt = plt
        self.results = results
        self.out = out
        self.headline_workers = headline_workers
        self.series = build_series(results)
        workload_order = []
        strategy_order = []
        self.metrics = {}
        for r in results:
            workload_order += list(r.ctx_json("gilbench_workloads", {}))
            strategy_order += list(r.ctx_json("gilbench_strategies", []))
            for k, v in r.metrics.items():
                self.metrics.setdefault(k, v)
        self.workloads = ordered([s.workload for s in self.series], workload_order)
        self.labels = ordered([s.label for s in self.series], strategy_order)
        palette = plt.get_cmap("tab10").colors + plt.get_cmap("Dark2").colors
        self.colors = {label: palette[i % len(palette)] for i, label in enumerate(self.labels)}
        self.kinds = {}
        for r in results:
            for w, kind in r.ctx_json("gilbench_workloads", {}).items():
                self.kinds.setdefault(w, kind)
        self.written = []

    # helpers ---------------------------------------------------------------

    def save(self, fig, stem):
        """Writes DIR/stem.png and DIR/stem.svg (through write_output) and closes the figure."""
        try:
            for ext in ("png", "svg"):
                path = os.path.join(self.out, f"{stem}.{ext}")
                image = io.BytesIO()
                fig.savefig(image, format=ext, dpi=110 if ext == "png" else None)
                write_output(path, image.getvalue())
                self.written.append(path)
        finally:
            self.plt.close(fig)

    def grid(self, n, width=4.4, height=3.4):
        """A figure of n panels, up to 4 to a row; returns (figure, the n axes)."""
        cols = min(n, 4 if n > 6 else 3 if n > 2 else n)
        rows = math.ceil(n / cols)
        fig, axes = self.plt.subplots(rows, cols, figsize=(width * cols, height * rows),
                                      squeeze=False)
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        return fig, list(axes.flat[:n])

    def metric_label(self, counter):
        """'io_p99_us (us)': the counter with its unit from gilbench_metrics."""
        unit = self.metrics.get(counter, {}).get("unit")
        return f"{counter} ({unit})" if unit else counter

    @staticmethod
    def speedups(run):
        """(median speedup, per-repetition speedups) over the run's own reference."""
        ref = run.source.reference_run(run.workload)
        if ref is None or ref.failed or run.failed or not run.times:
            return None
        ref_med = median(ref.samples())
        return ref_med / median(run.samples()), [ref_med / t for t in run.samples()]

    def x_axis(self, ax, xs, key):
        """Ticks at the worker counts; log2 scale when they span 4x or more."""
        xs = sorted(set(xs))
        if xs and min(xs) > 0 and max(xs) / min(xs) >= 4:
            ax.set_xscale("log", base=2)
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.set_xlabel(key)

    def line(self, ax, label, xs, med, lo, hi, points):
        """One series: the medians joined, a min..max band (or bar), every repetition a dot."""
        color = self.colors[label]
        ax.plot(xs, med, marker="o", ms=4, color=color, label=label)
        if len(xs) > 1:
            ax.fill_between(xs, lo, hi, color=color, alpha=0.15 if len(self.labels) <= 4 else 0.07,
                            lw=0)
        else:
            ax.errorbar(xs, med, yerr=[[m - l for m, l in zip(med, lo)],
                                       [h - m for m, h in zip(med, hi)]], color=color, capsize=3)
        px = [x for x, ys in zip(xs, points) for _ in ys]
        py = [y for ys in points for y in ys]
        ax.scatter(px, py, s=6, color=color, alpha=0.45, lw=0)

    def finish(self, fig, axes, title=None, legend=True):
        """Suptitle, one shared legend under the panels, and a layout that leaves
        room for both (computed in inches, so saving needs no tight bounding box)."""
        height = fig.get_size_inches()[1]
        top = 1.0
        if title:
            fig.suptitle(title, fontsize=10)
            top = 1 - 0.4 / height
        bottom = 0.0
        if legend:
            handles = {}
            for ax in axes:
                for h, lab in zip(*ax.get_legend_handles_labels()):
                    handles.setdefault(lab, h)
            order = [lab for lab in self.labels if lab in handles] + \
                    [lab for lab in handles if lab not in self.labels]
            ncol = min(len(order), 6) or 1
            fig.legend([handles[lab] for lab in order], order, loc="lower center", ncol=ncol,
                       bbox_to_anchor=(0.5, 0.0), frameon=False)
            bottom = (0.3 * math.ceil(len(order) / ncol) + 0.15) / height
        fig.tight_layout(rect=(0, bottom, 1, top))

    def primary(self, workload, with_reference=False):
        return [s for s in self.series if s.workload == workload and s.primary
                and (with_reference or not s.is_reference)]

    # charts ----------------------------------------------------------------

    def speedup(self):
        """Speedup over the reference against worker count, per workload.

        A workload without a reference row is drawn as wall time instead
        (e.g. a start-up benchmark), unless it has io_* counters: those have
        their own chart.
        """
        panels = []
        for w in self.workloads:
            runs = [r for s in self.series if s.workload == w for r in s.runs]
            if any(self.speedups(r) for r in runs):
                panels.append((w, True))
            elif not self.counters_with(IO_PREFIX, runs):
                panels.append((w, False))
        if not panels:
            return
        fig, axes = self.grid(len(panels))
        for ax, (w, relative) in zip(axes, panels):
            all_x = []
            for s in self.primary(w, with_reference=not relative):
                if relative:
                    pts = [(r.x, self.speedups(r)) for r in s.runs]
                    pts = [(x, sp[0], sp[1]) for x, sp in pts if sp]
                else:
                    pts = [(r.x, median(r.samples()) * 1e3, [t * 1e3 for t in r.samples()])
                           for r in s.runs if r.times]
                if not pts:
                    continue
                xs = [x for x, _, _ in pts]
                all_x += xs
                self.line(ax, s.label, xs, [m for _, m, _ in pts], [min(p) for _, _, p in pts],
                          [max(p) for _, _, p in pts], [p for _, _, p in pts])
            key = self.series_key(w)
            if relative:
                if key == "workers" and min(all_x) >= 1:
                    xs = sorted(set(all_x) | {1})
                    ax.plot(xs, xs, ls="--", color="0.4", lw=1, label="ideal")
                ax.axhline(1.0, color="0.7", lw=0.8)
                ax.set_ylabel("speedup over " + self.reference_name(w))
            else:
                ax.set_ylabel("wall time of one run (ms)")
            ax.set_ylim(bottom=0)
            self.x_axis(ax, all_x, key)
            kind = self.kinds.get(w)
            ax.set_title(w + (f" ({kind})" if kind else ""))
            ax.grid(alpha=0.3)
        self.finish(fig, axes, "Speedup over the reference (1 worker) against workers: median, "
                    "band = min..max of repetitions, dots = repetitions")
        self.save(fig, "speedup")

    def series_key(self, workload):
        for s in self.series:
            if s.workload == workload and s.runs:
                return s.runs[0].x_key
        return "workers"

    def reference_name(self, workload):
        for s in self.series:
            if s.workload == workload:
                return s.runs[0].source.reference + " (1 worker)"
        return "reference"

    def one_worker(self):
        """{workload: {label: (median ratio, lo, hi)}} of t(strategy, 1) / t(reference, 1)."""
        table = {}
        for w in self.workloads:
            for s in self.primary(w):
                run = next((r for r in s.runs if r.x == 1), None)
                sp = self.speedups(run) if run else None
                if sp:
                    med, per_rep = sp
                    table.setdefault(w, {})[s.label] = (1 / med, 1 / max(per_rep),
                                                        1 / min(per_rep))
        return table

    def overhead(self):
        """Grouped bars: 1-worker time relative to the reference, per workload."""
        table = self.one_worker()
        if not table:
            return
        workloads = [w for w in self.workloads if w in table]
        labels = [lab for lab in self.labels if any(lab in table[w] for w in workloads)]
        width_in = min(18, 1.5 + len(workloads) * (0.22 * len(labels) + 0.35))
        fig, ax = self.plt.subplots(figsize=(max(6, width_in), 4.2))
        width = 0.8 / max(1, len(labels))
        for j, lab in enumerate(labels):
            xs, ys, lo, hi = [], [], [], []
            for i, w in enumerate(workloads):
                if lab in table[w]:
                    m, l, h = table[w][lab]
                    xs.append(i + (j - (len(labels) - 1) / 2) * width)
                    ys.append(m)
                    lo.append(m - l)
                    hi.append(h - m)
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, color=self.colors[lab], label=lab,
                   ecolor="0.35")
        ax.axhline(1.0, color="0.3", lw=1, ls="--")
        ax.set_xticks(range(len(workloads)))
        ax.set_xticklabels(workloads, rotation=20, ha="right")
        ax.set_ylabel("t(strategy, 1 worker) / t(reference, 1 worker)")
        ax.set_title("1-worker overhead over the reference (1.0 = no cost; whiskers = "
                     "min..max of repetitions)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, ncol=min(4, len(labels)))
        self.finish(fig, [ax], legend=False)
        self.save(fig, "overhead")

    def counters_with(self, prefix, runs):
        names = {c for r in runs for c in r.counters if c.startswith(prefix)}
        return ordered(sorted(names), list(self.metrics))

    def io(self):
        """Per workload with io_* counters: each counter against worker count."""
        for w in self.workloads:
            series = self.primary(w, with_reference=True)
            counters = self.counters_with(IO_PREFIX, [r for s in series for r in s.runs])
            if not counters:
                continue
            fig, axes = self.grid(len(counters), 4.6, 3.6)
            for ax, c in zip(axes, counters):
                all_x = []
                for s in series:
                    pts = [(r.x, r.counter_samples(c)) for r in s.runs if r.counter_samples(c)]
                    if not pts:
                        continue
                    xs = [x for x, _ in pts]
                    all_x += xs
                    vals = [v for _, v in pts]
                    self.line(ax, s.label, xs, [median(v) for v in vals], [min(v) for v in vals],
                              [max(v) for v in vals], vals)
                flat = [v for s in series for r in s.runs for v in r.counter_samples(c) if v > 0]
                if flat and max(flat) / min(flat) > 30:
                    ax.set_yscale("log")
                self.x_axis(ax, all_x, self.series_key(w))
                ax.set_ylabel(self.metric_label(c))
                better = self.metrics.get(c, {}).get("better")
                ax.set_title(c + (f" ({better} is better)" if better in ("higher", "lower")
                                  else ""), fontsize=10)
                ax.grid(alpha=0.3)
            self.finish(fig, axes, f"{w}: IO counters against {self.series_key(w)}, per "
                        f"strategy (median, band = min..max of repetitions)")
            self.save(fig, f"io_{w}")

    def sweeps(self):
        """Charts against a varying name key other than the worker count (e.g. interval).

        Per workload whose runs take two or more values of the key: IO
        throughput (its first io_* counter that is better higher) if it has
        one, else speedup over the reference; one line per strategy and worker
        count (for speedups only worker counts above 1 when there are any:
        contention is what a switch interval changes).
        """
        keys = {}
        for s in self.series:
            for r in s.runs:
                for k, v in r.variant:
                    keys.setdefault(k, set()).add(v)
        for key in [k for k, vals in keys.items() if len(vals) > 1]:
            panels = []
            for w in self.workloads:
                runs = [(s, r) for s in self.series if s.workload == w for r in s.runs
                        if key in dict(r.variant) and not r.failed]
                values = sorted({dict(r.variant)[key] for _, r in runs}, key=sort_value)
                if len(values) < 2:
                    continue
                throughput = next((c for c in self.counters_with(IO_PREFIX, [r for _, r in runs])
                                   if self.metrics.get(c, {}).get("better") == "higher"), None)
                contended = not throughput and any(r.x > 1 for _, r in runs)
                lines = {}
                for s, r in runs:
                    if contended and r.x <= 1:
                        continue
                    samples = (r.counter_samples(throughput) if throughput
                               else (self.speedups(r) or (None, []))[1])
                    if samples:
                        lines.setdefault((s.label, r.x), []).append(
                            (values.index(dict(r.variant)[key]), samples))
                if lines:
                    panels.append((w, values, throughput, lines))
            if not panels:
                continue
            fig, axes = self.grid(len(panels), 4.6, 3.6)
            styles = ["-", "--", ":", "-."]
            for ax, (w, values, throughput, lines) in zip(axes, panels):
                counts = sorted({x for _, x in lines})
                x_key = self.series_key(w)
                for (label, x), pts in sorted(lines.items(), key=lambda kv: (
                        self.labels.index(kv[0][0]) if kv[0][0] in self.labels else 99, kv[0][1])):
                    pts.sort()
                    color = self.colors.get(label, "0.2")
                    ax.plot([p for p, _ in pts], [median(v) for _, v in pts], marker="o", ms=4,
                            ls=styles[counts.index(x) % len(styles)], color=color,
                            label=f"{label} {x_key}:{x}")
                    ax.scatter([p for p, v in pts for _ in v], [y for _, v in pts for y in v],
                               s=6, alpha=0.45, lw=0, color=color)
                ax.set_xticks(range(len(values)))
                ax.set_xticklabels(values)
                ax.set_xlabel(key)
                if throughput:
                    ax.set_ylabel(self.metric_label(throughput))
                    ax.set_yscale("log")
                else:
                    ax.set_ylabel("speedup over " + self.reference_name(w))
                ax.set_title(w, fontsize=10)
                ax.grid(alpha=0.3)
                ax.legend(fontsize=7)
            self.finish(fig, axes, f"Sweep over {key}: IO throughput or speedup (median, "
                        f"dots = repetitions)", legend=False)
            self.save(fig, f"sweep_{key}")

    def gil_stats(self):
        """Every gil_* counter, per workload and strategy, at the largest worker count."""
        runs = [r for s in self.series if s.primary for r in s.runs]
        counters = self.counters_with(GIL_PREFIX, runs)
        if not counters:
            return
        fig, axes = self.grid(len(counters), 4.8, 3.4)
        for ax, c in zip(axes, counters):
            cells = {}
            for s in self.series:
                if not s.primary:
                    continue
                have = [r for r in s.runs if r.counter_samples(c)]
                if have:
                    r = max(have, key=lambda r: r.x)
                    cells[(s.workload, s.label)] = (r.counter_samples(c), r.x)
            workloads = [w for w in self.workloads if any(k[0] == w for k in cells)]
            labels = [lab for lab in self.labels if any(k[1] == lab for k in cells)]
            width = 0.8 / max(1, len(labels))
            for j, lab in enumerate(labels):
                xs, ys, lo, hi = [], [], [], []
                for i, w in enumerate(workloads):
                    if (w, lab) in cells:
                        v = cells[(w, lab)][0]
                        xs.append(i + (j - (len(labels) - 1) / 2) * width)
                        ys.append(median(v))
                        lo.append(median(v) - min(v))
                        hi.append(max(v) - median(v))
                ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, color=self.colors[lab], label=lab,
                       ecolor="0.35")
            flat = [median(v) for v, _ in cells.values() if median(v) > 0]
            if flat and max(flat) / min(flat) > 50:
                ax.set_yscale("log")
            ax.set_xticks(range(len(workloads)))
            ax.set_xticklabels(workloads, rotation=25, ha="right", fontsize=8)
            ax.set_ylabel(self.metric_label(c), fontsize=8)
            ax.set_title(c, fontsize=10)
            ax.grid(axis="y", alpha=0.3)
        self.finish(fig, axes, "GIL statistics per run at each strategy's largest worker count "
                    "(median, whiskers = min..max of repetitions)")
        self.save(fig, "gil_stats")

    def summary(self):
        """The headline markdown: speedup at N workers and 1-worker overhead."""
        n = self.headline_workers
        speed, fails = {}, set()
        for w in self.workloads:
            for s in self.primary(w):
                run = next((r for r in s.runs if r.x == n), None)
                if run and run.failed:
                    fails.add((w, s.label))
                sp = self.speedups(run) if run else None
                if sp:
                    speed[(w, s.label)] = sp[0]
                for r in s.runs:
                    if r.failed:
                        fails.add((w, s.label))
        over = self.one_worker()
        workloads = [w for w in self.workloads
                     if any(k[0] == w for k in (*speed, *fails)) or w in over]
        labels = [lab for lab in self.labels
                  if any(k[1] == lab for k in (*speed, *fails))
                  or any(lab in over.get(w, {}) for w in over)]
        head = "| strategy | " + " | ".join(
            w + (f" ({self.kinds[w]})" if w in self.kinds else "") for w in workloads) + " |"
        rule = "|---|" + "---:|" * len(workloads)

        def cell(w, lab, value, fmt):
            if value is not None:
                return fmt(value) + (" (FAIL)" if (w, lab) in fails else "")
            return "FAIL" if (w, lab) in fails else "–"

        lines = ["# gilbench summary", ""]
        for r in self.results:
            noise = noise_line(r)
            lines.append(f"- {r.describe()}" + (f"; {noise}" if noise else ""))
        refs = " / ".join(dict.fromkeys(r.reference for r in self.results))
        lines += ["", f"## Speedup over the reference at {n} workers", "",
                  f"Median wall time of the reference ({refs}, 1 worker, from the same file) / "
                  f"median wall time at {n} workers; higher is better, ideal {n:.2f}x.", "",
                  head, rule]
        for lab in labels:
            lines.append(f"| {lab} | " + " | ".join(
                cell(w, lab, speed.get((w, lab)), lambda v: f"{v:.2f}x") for w in workloads) + " |")
        lines += ["", "## 1-worker overhead", "",
                  "t(strategy, 1 worker) / t(reference, 1 worker), medians; 1.00 = no cost, "
                  "lower is better.", "", head, rule]
        for lab in labels:
            lines.append(f"| {lab} | " + " | ".join(
                cell(w, lab, over.get(w, {}).get(lab, (None,))[0], lambda v: f"{v:.2f}")
                for w in workloads) + " |")
        charts = sorted({os.path.splitext(os.path.basename(p))[0] for p in self.written})
        lines += ["", "Charts (PNG and SVG): " + ", ".join(charts) + "."]
        text = "\n".join(lines) + "\n"
        path = os.path.join(self.out, "summary.md")
        write_output(path, text)
        self.written.append(path)
        return text


def cmd_charts(args):
    results = [load_result(p) for p in args.results]
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise InputError(f"{args.out}: cannot create the output directory: it exists and is "
                         f"not a directory")
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        raise InputError(f"{args.out}: cannot create the output directory: {e.strerror}")
    charts = Charts(results, args.out, args.headline_workers)
    if not charts.series:
        raise InputError(f"{args.results[0]}: no run name follows <workload>/<strategy>/"
                         f"workers:<n>: nothing to draw")
    for r in results:
        if r.dropped:
            print(one_line(f"charts: {r.path}: left out {r.dropped} counter values that are "
                           f"not finite numbers (or beyond +-{COUNTER_LIMIT:g})"), file=sys.stderr)
    try:
        charts.speedup()
        charts.overhead()
        charts.io()
        charts.sweeps()
        charts.gil_stats()
    finally:
        charts.plt.close("all")  # a figure a failure left open
    emit(charts.summary())
    print(f"\nwrote {len(charts.written)} files to {args.out}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------
# instructions


def ere_escape(text):
    """Escapes text for a POSIX extended regex (Google Benchmark's --benchmark_filter)."""
    return re.sub(r"([.\[\]()*+?{}|^$\\])", r"\\\1", text)


def replay_flags(result):
    """gilbench flags that reproduce the file's suite settings, from its context."""
    c = result.context
    flags = []
    if c.get("gilbench_mode") == "quick":
        flags.append("--quick")
    intervals = result.ctx_json("gilbench_switch_intervals", [])
    if intervals:
        flags.append("--switch-interval=" + ",".join(intervals))
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
           binary, *flags, "--repetitions=1",
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


def cmd_instructions(args):
    """The deterministic lane: callgrind counts of the 1-worker rows, stored in the file."""
    result = load_result(args.result)
    if shutil.which("valgrind") is None:
        raise InputError("valgrind is not installed (apt-get install valgrind)")
    if not (os.path.isfile(args.gilbench) and os.access(args.gilbench, os.X_OK)):
        raise InputError(f"{args.gilbench}: not an executable gilbench binary")
    flags = replay_flags(result)
    kinds = result.ctx_json("gilbench_workloads", {})
    pattern = re.compile(args.filter) if args.filter is not None else None
    # Not counted: start-up rows (no measured region) and rows whose work
    # depends on timing (convoy: its K CPU workers spin until the IO worker
    # is done, so their instruction count is not a property of the build).
    names = [n for n, r in result.runs.items() if r.x == 1 and r.x_key == "workers"
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
    data["context"][INSTRUCTIONS_KEY] = json.dumps(lane, sort_keys=True)
    write_output(target, json.dumps(data, indent=2) + "\n")
    print(f"instructions: {len(counts)} of {len(names)} counted in {time.time() - started:.0f} s"
          f", stored in {target} (context {INSTRUCTIONS_KEY})", file=sys.stderr)
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


# --------------------------------------------------------------------------
# fidelity


def cmd_fidelity(argv):
    """Hands over to bench/python/fidelity.py's main(argv)."""
    path = os.path.join(REPO, "bench", "python")
    if not os.path.isfile(os.path.join(path, "fidelity.py")):
        raise InputError(f"{os.path.join(path, 'fidelity.py')}: not found: the fidelity "
                         f"report is not in this checkout")
    sys.path.insert(0, path)
    import fidelity
    return fidelity.main(argv)


# --------------------------------------------------------------------------


EXIT_STATUSES = ("exit status: 0 pass; 1 regression (compare only); 2 bad input, usage or "
                 "environment (one line on stderr); 3 internal error (--debug or PLOT_DEBUG=1 "
                 "shows the traceback)")


def build_parser():
    p = argparse.ArgumentParser(
        prog="plot.py", description="Charts, regression gate and instruction-count lane for "
        "gilbench results (see the module docstring: pydoc ./plot.py).", epilog=EXIT_STATUSES)
    p.add_argument("--debug", action="store_true",
                   help="re-raise an internal error with its traceback (also PLOT_DEBUG=1)")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("charts", help="PNG+SVG charts and summary.md from result files; exit 0 "
                       "drawn, 2 bad input or a file that cannot be written",
                       epilog="exit status: 0 drawn; 2 bad input, or an output file that cannot "
                       "be written (with the OS reason); 3 internal error")
    c.add_argument("results", nargs="+", metavar="RESULT.json")
    c.add_argument("--out", required=True, metavar="DIR", help="where to write the charts")
    c.add_argument("--headline-workers", type=int, default=2, metavar="N",
                   help="worker count of the summary's speedup table (default 2)")

    g = sub.add_parser("compare", help="the CI gate: exit 0 ok, 1 regression, 2 bad input",
                       epilog="exit status: 0 no regression; 1 a gated lane regressed, or a run "
                       "failed in NEW; 2 bad input, files that cannot be compared, or a gated "
                       "lane that cannot judge (nothing to compare, too few repetitions, "
                       "instruction counts missing in NEW), or --markdown cannot be written; "
                       "3 internal error")
    g.add_argument("base", metavar="BASE.json")
    g.add_argument("new", metavar="NEW.json")
    g.add_argument("--threshold", type=float, default=0.05,
                   help="wall-time change that may count as a regression (default 0.05)")
    g.add_argument("--ratio-threshold", type=float, default=0.10,
                   help="in-run speedup change that may count as a regression (default 0.10)")
    g.add_argument("--instr-threshold", type=float, default=0.01,
                   help="instruction-count change that counts as a regression (default 0.01)")
    g.add_argument("--alpha", type=float, default=0.05,
                   help="wall time: significance level of the BH-corrected U test "
                   "(default 0.05)")
    g.add_argument("--ratio-alpha", type=float, default=0.01,
                   help="in-run ratios: significance level after BH (default 0.01)")
    g.add_argument("--gate", metavar="LANES",
                   help="comma-separated lanes that fail the job: time,ratio,instructions "
                   "(default: time, ratio when BASE has in-run ratios, instructions when BASE "
                   "has counts); the others are printed only")
    g.add_argument("--common", action="store_true",
                   help="compare the benchmarks both files hold instead of failing on a "
                   "different set")
    g.add_argument("--markdown", metavar="FILE", help="also write the markdown to FILE")

    i = sub.add_parser("instructions", help="count instructions of the 1-worker rows under "
                       "callgrind and store them in the result file; exit 0 stored, 2 bad "
                       "input, no valgrind, nothing counted or repeats that differ",
                       epilog="exit status: 0 counted and stored; 2 bad input, valgrind "
                       "missing, no row counted (all failed or had no measured region), "
                       "repeated counts beyond --tolerance, or the file cannot be written "
                       "(nothing is written when it fails); 3 internal error")
    i.add_argument("result", metavar="RESULT.json")
    i.add_argument("--gilbench", required=True, metavar="BIN",
                   help="the gilbench binary that produced RESULT.json")
    i.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="callgrind processes at a time (default: CPUs)")
    i.add_argument("--repeat", type=int, default=1,
                   help="count each benchmark N times (stores the median) and fail if the "
                   "counts differ by more than --tolerance")
    i.add_argument("--tolerance", type=float, default=0.001,
                   help="largest relative difference between repeats (default 0.001)")
    i.add_argument("--filter", metavar="REGEX", help="only benchmarks whose name matches "
                   "(a Python regular expression)")
    i.add_argument("--out", metavar="FILE", help="write here instead of into RESULT.json")

    f = sub.add_parser("fidelity", help="the CPython fidelity report (bench/python/fidelity.py)")
    f.add_argument("args", nargs=argparse.REMAINDER)
    return p


def check_options(args):
    """The option values argparse's types let through; raises InputError."""
    def bad(option, what):
        raise InputError(f"--{option.replace('_', '-')}: {shown(getattr(args, option))}: "
                         f"must be {what}")

    if args.command == "compare":
        for opt in ("threshold", "ratio_threshold", "instr_threshold"):
            if not 0 <= getattr(args, opt) < 1:
                bad(opt, "in [0, 1)")
        for opt in ("alpha", "ratio_alpha"):
            if not 0 < getattr(args, opt) < 1:
                bad(opt, "in (0, 1)")
        if args.gate and not set(args.gate.split(",")) <= {"time", "ratio", "instructions"}:
            raise InputError(f"--gate: {args.gate}: lanes are time, ratio, instructions")
    elif args.command == "charts":
        if args.headline_workers < 1:
            bad("headline_workers", "1 or more")
    elif args.command == "instructions":
        if args.jobs < 1:
            bad("jobs", "1 or more")
        if args.repeat < 1:
            bad("repeat", "1 or more")
        if not 0 <= args.tolerance < math.inf:
            bad("tolerance", "a finite number >= 0")
        if args.filter is not None:
            try:
                re.compile(args.filter)
            except (re.error, RecursionError, OverflowError) as e:
                raise InputError(f"--filter: {shown(args.filter)} is not a regular expression: "
                                 f"{e}")


def run_command(argv):
    """Runs one sub-command; returns its exit status. Raises InputError for bad input."""
    if argv and argv[0] == "fidelity":  # its own options, untouched by argparse
        return cmd_fidelity(argv[1:])
    args = build_parser().parse_args(argv)
    check_options(args)
    if args.command == "charts":
        return cmd_charts(args)
    if args.command == "compare":
        return cmd_compare(args)
    if args.command == "instructions":
        return cmd_instructions(args)
    return 2


def main(argv=None):
    """Exit status 0 pass, 1 regression (compare), 2 bad input, 3 internal error."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("PLOT_DEBUG", "") not in ("", "0")
    while argv and argv[0] == "--debug":
        debug = True
        argv = argv[1:]
    try:
        return run_command(argv)
    except InputError as e:
        print(f"plot.py: error: {one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug of plot.py: one line, never a status that reads as a verdict
        if debug:
            raise
        print(f"plot.py: internal error: {type(e).__name__}: {one_line(e)} (PLOT_DEBUG=1 shows "
              f"the traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
