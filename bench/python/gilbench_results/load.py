"""The one loader of gilbench result files (and the CPython twin's).

gilbench writes Google Benchmark 1.7.1 JSON: one `iteration` row per
repetition (1 iteration each, `real_time` = the wall time of one run), and a
context block whose `gilbench_*` keys describe the suite (see schema.py).
Each run's workload, strategy, runner, worker count and further axes come
from the context's gilbench_runs, never from its name. Google Benchmark's
own aggregate rows (`_mean`, `_median`, ...) are not read: medians are
computed from the repetitions (stats.median; 1.7.1's `_median` is wrong for
an even count). Times are in seconds.

Bad input (load_result raises InputError, one line naming the file, the row
and the problem) is: an unreadable, empty, truncated or malformed file, not
gilbench output, another schema version (version 1 files, written before
gilbench_runs, must be re-recorded), and any field read with a wrong type or
value. Every one is checked: name and run_name strings, each name in
gilbench_runs, run_type string, repetition_index an integer >= 0 (once per
benchmark), error_occurred a boolean, error_message a string, time_unit one
of ns/us/ms/s, real_time a finite number, with time_unit between 1 ps and
1e7 s (a zero, negative, NaN or infinite time is bad input, named with its
file, row and value); context: load_avg a list of finite numbers, num_cpus
an integer, describe()'s keys strings, the gilbench_* JSON strings decoding
to the type read (gilbench_runs an object of {workload, strategy, runner,
workers, axes} objects; gilbench_instructions an object whose counts are
finite numbers > 0; gilbench_fingerprint an object). Only the iteration
rows are read: Google Benchmark 1.7.1 writes bare NaN in the _cv aggregate
rows of counters that are always 0, and such rows are skipped unread. A
counter that is not a finite number (or is beyond +-1e30, which no gilbench
counter reaches and matplotlib cannot scale) in an iteration row is dropped
from that row (Result.dropped counts them): counters are drawn, never gated,
and one bad value should not hide the rest of a run.
"""

import json
import math
import os
import re
from dataclasses import dataclass, field

from . import durations, schema
from .errors import InputError, one_line, shown

# Google Benchmark's time_unit values, in seconds (the units of durations.py).
TIME_UNITS = {unit: ns / durations.NS_PER_S for unit, ns in durations.UNITS}
# Google Benchmark's own numeric row fields: everything else numeric is a counter.
GB_FIELDS = {"family_index", "per_family_instance_index", "repetitions", "repetition_index",
             "threads", "iterations", "real_time", "cpu_time"}
# The plausible wall time of one run, in seconds: outside it a time is bad input (and
# ratios of such times would overflow).
TIME_RANGE = (1e-12, 1e7)
# The largest counter magnitude kept: beyond any counter gilbench writes, and
# near float's limit matplotlib cannot scale an axis (values are dropped).
COUNTER_LIMIT = 1e30
# The largest worker count of a run: gilbench's (a C++ int).
MAX_WORKERS = 2 ** 31 - 1


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


@dataclass
class Run:
    """One benchmark of a result file: its fields, repetitions, counters and errors."""

    name: str
    source: "Result"
    workload: str
    strategy: str
    runner: str
    workers: int  # convoy: K, the CPU workers beside its IO worker
    axes: dict  # further axes, e.g. {"interval": "1ms"}
    times: dict = field(default_factory=dict)  # repetition index -> seconds
    counters: dict = field(default_factory=dict)  # counter -> {repetition index -> value}
    errors: list = field(default_factory=list)

    @property
    def failed(self):
        return bool(self.errors)

    @property
    def variant(self):
        """The further axes, e.g. (("interval", "1ms"),)."""
        return tuple(self.axes.items())

    def samples(self):
        """Wall times in seconds, in repetition order."""
        return [self.times[i] for i in sorted(self.times)]

    def counter_samples(self, counter):
        values = self.counters.get(counter, {})
        return [values[i] for i in sorted(values)]

    def repetitions(self):
        """(seconds, {counter: value}) of each successful repetition, in order."""
        return [(self.times[i], {c: v[i] for c, v in self.counters.items() if i in v})
                for i in sorted(self.times)]


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
        return self.context.get(schema.REFERENCE_KEY, schema.DEFAULT_REFERENCE)

    @property
    def metrics(self):
        return self.ctx_json(schema.METRICS_KEY, {})

    @property
    def kinds(self):
        """{workload: kind} (cpu, io, startup) from gilbench_workloads."""
        return self.ctx_json(schema.WORKLOADS_KEY, {})

    @property
    def fingerprint(self):
        """The machine fingerprint (gilbench_fingerprint: cpu, unit_costs_ns,
        speed_spread), or None when the file has none."""
        return self.ctx_json(schema.FINGERPRINT_KEY, None)

    @property
    def instructions(self):
        """{name: instructions} from the instruction lane, or None."""
        lane = self.ctx_json(schema.INSTRUCTIONS_KEY, None)
        return None if lane is None else lane.get("counts", {})

    def reference_run(self, workload, like=None):
        """The reference strategy's 1-worker run of `workload` in this file, if any:
        the one that shares the most axes with run `like` (the same bytecode cost,
        the reference having no interval), else the one with the fewest axes."""
        found = [r for r in self.runs.values()
                 if r.workload == workload and r.strategy == self.reference and r.workers == 1]
        shared = set(like.variant) if like is not None else set()
        found.sort(key=lambda r: (-len(shared & set(r.variant)), len(r.variant)))
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


def _run_fields(v):
    """One entry of gilbench_runs: {workload, strategy, runner, workers, axes}."""
    return (isinstance(v, dict)
            and all(isinstance(v.get(k), str) and v[k] for k in ("workload", "strategy"))
            and v.get("runner") in schema.RUNNERS
            and isinstance(v.get("workers"), int) and not isinstance(v["workers"], bool)
            and 0 <= v["workers"] <= MAX_WORKERS
            and isinstance(v.get("axes"), dict)
            and all(isinstance(k, str) and isinstance(x, str) for k, x in v["axes"].items()))


# The gilbench_* context keys that hold JSON and that are read: key -> (check, what).
CONTEXT_JSON = {
    schema.RUNS_KEY: (_dict_of(_run_fields), "an object of {workload, strategy, runner, "
                      "workers (0 to 2^31-1), axes} objects"),
    schema.METRICS_KEY: (_dict_of(_metric), "an object of {unit, better} objects"),
    schema.PARAMS_KEY: (lambda v: isinstance(v, dict), "an object"),
    schema.WORKLOADS_KEY: (_dict_of(lambda kind: isinstance(kind, str)),
                           "an object of strings"),
    schema.STRATEGIES_KEY: (_list_of(str), "a list of strings"),
    schema.INTERVALS_KEY: (_list_of(str), "a list of strings"),
    schema.BYTECODE_KEY: (lambda v: isinstance(v, list) and all(
        isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v),
        "a list of integers >= 0"),
    schema.NS_PER_STEP_KEY: (lambda v: is_finite(v) and v > 0, "a number > 0"),
    schema.INSTRUCTIONS_KEY: (_instruction_lane, "an object with counts {name: number > 0}, "
                              "failed {name: reason} and no_measured_region [names]"),
    schema.FINGERPRINT_KEY: (lambda v: isinstance(v, dict), "an object"),
}
# The other context values that are read: key -> (check, what).
CONTEXT_PLAIN = {
    **{k: (lambda v: isinstance(v, str), "a string")
       for k in ("date", "host_name", schema.MODE_KEY, "gilbench_git_revision",
                 "gilbench_compiler", "gilbench_cxx_flags", schema.REFERENCE_KEY,
                 "gilbench_injected_slowdown", "gilbench_runtime", "gilbench_gil_enabled")},
    **{k: (lambda v: isinstance(v, str) or (is_number(v) and isinstance(v, int)),
           "a string or an integer")
       for k in ("gilbench_repetitions", "gilbench_nproc", "gilbench_check_interval")},
    "num_cpus": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "load_avg": (lambda v: isinstance(v, list) and all(is_finite(x) for x in v),
                 "a list of finite numbers"),
}


def decode_context(path, context):
    """Checks the context values read; returns the decoded gilbench_* JSON values."""
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
            bad = value
            if isinstance(value, dict):  # name the first entry that fails, if one does
                bad = next(({k: v} for k, v in value.items() if not check({k: v})), value)
            raise InputError(f"{path}: context key {key} holds {shown(bad)}, not {what}")
        decoded[key] = value
    if schema.RUNS_KEY not in decoded:
        raise InputError(f"{path}: the context has no {schema.RUNS_KEY} (every run's fields), "
                         f"which gilbench schema {schema.SCHEMA_VERSION} output holds")
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
        fields = result.decoded[schema.RUNS_KEY].get(name)
        if fields is None:
            raise InputError(f"{path}: benchmark row {i} ({name}) is not in the context's "
                             f"{schema.RUNS_KEY}")
        run = Run(name, result, fields["workload"], fields["strategy"], fields["runner"],
                  fields["workers"], dict(fields["axes"]))
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


def check_version(path, context):
    """Refuses a file that is not gilbench output of this schema version."""
    version = context.get(schema.VERSION_KEY)
    if version is None:
        raise InputError(f"{path}: not gilbench output (Google Benchmark JSON without "
                         f"{schema.VERSION_KEY} in its context)")
    if isinstance(version, (str, int)) and not isinstance(version, bool) and str(version) == "1":
        raise InputError(f"{path}: {schema.VERSION_KEY} is 1, the format before "
                         f"{schema.RUNS_KEY}: re-record it with the current gilbench (or twin); "
                         f"this reads version {schema.SCHEMA_VERSION}")
    if not isinstance(version, (str, int)) or str(version) != schema.SCHEMA_VERSION:
        raise InputError(f"{path}: {schema.VERSION_KEY} is "
                         f"{version if isinstance(version, str) else shown(version)}; this reads "
                         f"version {schema.SCHEMA_VERSION}")


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
    check_version(path, context)
    result = Result(path, context, {}, decode_context(path, context), data)
    for i, row in enumerate(data["benchmarks"]):
        add_row(result, i, row)
    if not result.runs:
        raise InputError(f"{path}: holds no benchmark runs")
    return result
