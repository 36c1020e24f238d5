#!/usr/bin/python3
"""twin.py: gilbench's workloads on the real CPython, as Google Benchmark JSON.

gilbench emulates CPython's GIL in C++; this runs the same workloads (same
parameters, same checksums: see pytwin/) in plain Python under real threads
(`cpython_threads`) and multiprocessing (`cpython_process`) for the same
worker counts, plus `cpython_serial`, the twin's own one-thread reference.
Its result file has gilbench's shape, schema
and naming (gilbench_results.schema: <workload>/<strategy>/workers:<n>, each
name's fields in the context's gilbench_runs, one iteration row per
repetition, then _mean/_median/_stddev/_cv), so `plot.py charts bench.json
cpython.json` draws both side by side. The context names `cpython_serial` as the file's
reference strategy (gilbench_reference_strategy): each file's speedups are
computed against its own reference, never the other file's.

Workloads (pytwin/<name>.py, each mirroring src/workloads/<name>.hpp):
countdown, binary_trees, list_sum, shared_read, shared_dict, sleep_io,
pipe_io, convoy (convoy/<strategy>/workers:<K>, K = CPU workers beside the
IO worker, as gilbench names it), and process_startup (start-up alone:
process_startup/cpython_process and /cpython_threads, as gilbench's
process_startup/process and /threads). gilbench's shared_read_immortal has
no twin: CPython cannot make user objects immortal.

The workloads' parameters are gilbench's, read from the binary (`--gilbench
BIN --params --format=json`, default: build/gilbench of this checkout, else
gilbench on PATH) or from a gilbench result file of the same scale
(--params-from RESULT.json); the twin has no copy of its own
(pytwin/params.py). --list needs neither.

Every run's tally must equal the serial tally (computed once per workload,
untimed; convoy's is fixed by its parameters); a mismatch or a failed worker
is recorded as an error row, never as a time, and makes the exit status 1.
Bad flags: one line, exit 2.

Repetitions of one workload's benchmarks are interleaved in random order (as
gilbench runs with --benchmark_enable_random_interleaving), so a drift in
machine speed spreads over all of them instead of biasing one.

usage: /usr/bin/python3 bench/python/twin.py [--quick] [--out FILE] [--workers 1,2,4,8]
       [--repetitions N] [--strategies LIST] [--workloads LIST]
       [--switch-interval LIST] [--start-method spawn|fork|forkserver] [--list]
       [--convoy-peer thread|tcp]
       [--gilbench BIN | --params-from RESULT.json]
"""

import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from gilbench_results import durations, schema  # noqa: E402
from gilbench_results.errors import ArgumentParser, InputError, UsageError  # noqa: E402
from gilbench_results.stats import median  # noqa: E402
from pytwin import convoy, echo, params, report, runners, shared_dict, workloads  # noqa: E402

PROG = "twin"
REFERENCE = "cpython_serial"
# The gilbench binary whose parameters the twin runs with: this checkout's build, else
# (an installed twin) gilbench on PATH.
GILBENCH = os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "gilbench")
if not os.path.exists(GILBENCH):
    GILBENCH = "gilbench"
CHECKSUM_MASK = (1 << 52) - 1


def parse_intervals(text):
    """'5ms,100us' -> [nanoseconds], each in [1us, 10s], equal ones once (gilbench's rules)."""
    out = []
    for d in text.split(","):
        try:
            ns = durations.parse_ns(d, "--switch-interval")
        except durations.DurationError as e:
            raise UsageError(str(e))
        if ns not in out:
            out.append(ns)
    return out


def checked_names(text, flag, known):
    names = text.split(",")
    for n in names:
        if n not in known:
            raise UsageError("%s: unknown name '%s' (known: %s)" % (flag, n, ", ".join(known)))
    return names


def parse_workers(text):
    out = []
    for part in text.split(","):
        try:
            n = int(part)
        except ValueError:
            raise UsageError("--workers: '%s' is not an integer" % part)
        if not 1 <= n <= 256:
            raise UsageError("--workers: %d is out of range [1, 256]" % n)
        out.append(n)
    return sorted(set(out))


def parse_args(argv):
    p = ArgumentParser(prog="twin.py", allow_abbrev=False, description=(
        "Runs gilbench's workloads on the real CPython (threads, processes, serial) and "
        "writes Google Benchmark JSON. Exit status: 0 all runs passed; 1 a run failed "
        "(see its error_message); 2 bad command line."))
    p.add_argument("--quick", action="store_true", help="small sizes, workers 1,2 (< 1 minute; what run_suite.sh --quick runs)")
    p.add_argument("--scale", choices=["default", "quick", "tiny"], default=None,
                   help="sizes (default: default; --quick = quick; tiny is for the tests)")
    p.add_argument("--workers", default=None, help="worker counts, e.g. 1,2,4,8 (default; --quick: 1,2)")
    p.add_argument("--repetitions", default="5", help="runs per benchmark (default 5; odd keeps the median exact)")
    p.add_argument("--strategies", default=None, help="only these: " + ",".join(runners.STRATEGIES))
    p.add_argument("--workloads", default=None, help="only these: " + ",".join(
        [w.NAME for w in workloads.ALL] + [runners.STARTUP_WORKLOAD]))
    p.add_argument("--switch-interval", default="5ms",
                   help="sys.setswitchinterval for the runs, e.g. 5ms (CPython's default) or a list "
                        "5ms,100us (then the cpython_threads runs are named .../interval:<d>)")
    p.add_argument("--start-method", default="spawn", choices=["spawn", "fork", "forkserver"],
                   help="multiprocessing start method of cpython_process (default spawn: a fresh "
                        "interpreter, like gilbench's process runner starting a fresh binary)")
    p.add_argument("--out", default=None, help="write the JSON results to FILE (atomically)")
    p.add_argument("--gilbench", default=GILBENCH, metavar="BIN",
                   help="the gilbench binary whose workload parameters to run with (its --params; "
                        "default: build/gilbench of this checkout, else gilbench on PATH)")
    p.add_argument("--params-from", default=None, metavar="RESULT.json",
                   help="take the parameters from this gilbench result file instead (its "
                        "gilbench_params; it must have run at the same scale)")
    p.add_argument("--convoy-peer", default=None, choices=["thread", "tcp"],
                   help="convoy's echo peer: thread (a python -S echo process over a socketpair, "
                        "gilbench's default peer's stand-in) or tcp (gilbench's own --echo-peer "
                        "process over TCP loopback: the same peer as gilbench --convoy-peer=tcp); "
                        "default: the parameters' (thread, or a result file's)")
    p.add_argument("--list", action="store_true", help="print the benchmark names and exit")
    p.add_argument("--test-corrupt-checksum", default=None, metavar="WORKLOAD",
                   help="testing the twin itself: add 1 to every run's sum for WORKLOAD, to prove "
                        "a wrong result fails loudly (exit 1, error rows in the JSON)")
    a = p.parse_args(argv)
    if a.quick and a.scale not in (None, "quick"):
        raise UsageError("--quick conflicts with --scale=%s" % a.scale)
    a.scale = "quick" if a.quick else (a.scale or "default")
    given = a.workers is not None
    a.workers = parse_workers(a.workers) if given else (
        [1, 2] if a.scale != "default" else [1, 2, 4, 8])
    # convoy's K (CPU workers beside its IO worker), as gilbench chooses it:
    # 0 plus the --workers list when one is given, else 0,1,2 (--quick) or 0,1,2,4.
    a.convoy_workers = [0] + (a.workers if given else [1, 2] if a.scale != "default" else [1, 2, 4])
    try:
        a.repetitions = int(a.repetitions)
    except ValueError:
        raise UsageError("--repetitions: '%s' is not an integer" % a.repetitions)
    if not 1 <= a.repetitions <= 1000:
        raise UsageError("--repetitions: %d is out of range [1, 1000]" % a.repetitions)
    a.strategies = checked_names(a.strategies, "--strategies", runners.STRATEGIES) if a.strategies \
        else list(runners.STRATEGIES)
    names = [w.NAME for w in workloads.ALL] + [runners.STARTUP_WORKLOAD]
    a.workloads = checked_names(a.workloads, "--workloads", names) if a.workloads else names
    a.switch_intervals = [ns / durations.NS_PER_S for ns in parse_intervals(a.switch_interval)]
    if a.test_corrupt_checksum is not None:
        checked_names(a.test_corrupt_checksum, "--test-corrupt-checksum", names)
    if a.out is not None and not a.out:
        raise UsageError("--out: empty file name")
    return a


def workload_params(args):
    """{workload: params} of the twin's workloads at args.scale, from gilbench (or a
    result file). Raises UsageError."""
    names = [w.NAME for w in workloads.ALL]
    try:
        if args.params_from:
            scale, table = params.from_result(args.params_from)
            if scale != args.scale:
                raise params.ParamsError("%s ran at scale %s, not %s (pass --scale=%s)"
                                         % (args.params_from, scale, args.scale, scale))
            source = args.params_from
        else:
            table = params.from_gilbench(args.gilbench)[args.scale]
            source = "%s --params" % args.gilbench
        return params.of_workloads(table, names, source), source
    except params.ParamsError as e:
        raise UsageError(str(e))


class Benchmark:
    """One <workload>/<strategy>/workers:<n>[/interval:<d>] and its rows."""

    def __init__(self, workload, strategy, workers, interval, axes, family):
        self.workload = workload  # a pytwin module, or None for process_startup
        self.workload_name = workload.NAME if workload else runners.STARTUP_WORKLOAD
        self.strategy = strategy
        self.workers = workers
        self.interval = interval
        self.fields = schema.run_fields(self.workload_name, strategy, workers, axes,
                                        "process" if strategy == "cpython_process" else "threads")
        self.name = schema.run_name(self.fields)
        self.family = family
        self.rows = []
        self.runner = None
        self.start_error = None


def plan(args):
    """The benchmarks, in gilbench's order: workload, strategy, workers, interval."""
    out = []
    for w in workloads.ALL:
        if w.NAME not in args.workloads:
            continue
        for strategy in runners.STRATEGIES:
            if strategy not in args.strategies:
                continue
            uses_interval = strategy == "cpython_threads"
            intervals = args.switch_intervals if uses_interval else args.switch_intervals[:1]
            for n in (args.convoy_workers if w is convoy else args.workers):
                if strategy == REFERENCE and n != (0 if w is convoy else 1):
                    continue
                for interval in intervals:
                    axes = [("interval", durations.format_seconds(interval))] \
                        if uses_interval and len(args.switch_intervals) > 1 else []
                    out.append(Benchmark(w, strategy, n, interval, axes, len(out)))
    if "cpython_process" in args.strategies and runners.STARTUP_WORKLOAD in args.workloads:
        for n in args.workers:
            for strategy in ("cpython_process", "cpython_threads"):
                out.append(Benchmark(None, strategy, n, args.switch_intervals[0], [], len(out)))
    return out


class Progress:
    """A "[ 12/45] name" line on stderr as runs finish: in place on a
    terminal, else at most every few seconds (and the last one)."""

    def __init__(self, total):
        self.total = total
        self.done = 0
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def tick(self, text):
        self.done += 1
        now = time.monotonic()
        if not self.tty and self.done != self.total and now - self.last < 5:
            return
        self.last = now
        line = "[%5d/%d] %-60s" % (self.done, self.total, text)
        sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
        sys.stderr.flush()

    def finish(self):
        if self.tty and self.done:
            sys.stderr.write("\n")
            sys.stderr.flush()


def reference_tally(workload, params):
    """The serial tally every run of `workload` must reproduce (untimed)."""
    if hasattr(workload, "expected_tally"):  # convoy: fixed by the parameters
        return workload.expected_tally(params)
    state = workload.make_state(params, 0, 1, 1)
    tally = workload.run(state, 0, 1)
    tally.merge(workload.finish(state))
    return tally


def describe(tally):
    return "%016x (items %d, sum %d)" % (tally.checksum(), tally.items, tally.sum)


def run_one(bench, params, expected, reps, rep, corrupt):
    """One repetition of one benchmark: appends its row (a time or an error)."""
    if bench.start_error:
        bench.rows.append(report.error_row(bench.name, bench.family, reps, rep, bench.start_error))
        return
    sys.setswitchinterval(bench.interval)
    cpu0 = time.thread_time()
    try:
        seconds, tally, extra = bench.runner.run(bench.workload, params)
    except runners.RunError as e:
        bench.rows.append(report.error_row(bench.name, bench.family, reps, rep, "run failed: %s" % e))
        return
    except Exception as e:  # a run that raised in this process: a failed run, never a crash
        bench.rows.append(report.error_row(bench.name, bench.family, reps, rep,
                                           "run failed: %s: %s" % (type(e).__name__, e)))
        return
    cpu = time.thread_time() - cpu0
    if corrupt:
        tally.sum += 1
    if tally != expected:
        bench.rows.append(report.error_row(
            bench.name, bench.family, reps, rep,
            "checksum mismatch: got %s, serial %s" % (describe(tally), describe(expected))))
        return
    counters = {
        "workers": bench.workers,
        "items_per_second": tally.items / seconds if seconds > 0 else 0.0,
        "checksum_ok": 1,
        "checksum": tally.checksum() & CHECKSUM_MASK,
    }
    if bench.runner.startup_s is not None:
        counters["startup_ms"] = bench.runner.startup_s * 1e3
    counters.update(extra)
    bench.rows.append(report.iteration_row(bench.name, bench.family, reps, rep, seconds, cpu, counters))


def run_workload(workload, benches, args, progress):
    params = args.params[workload.NAME]
    saved = sys.getswitchinterval()
    expected = reference_tally(workload, params)
    try:
        for b in benches:
            try:
                b.runner = runners.make_runner(workload, b.strategy, b.workers, args.start_method,
                                               b.interval)
            except (runners.RunError, OSError) as e:
                b.start_error = "start failed: %s" % e
        order = []
        for rep in range(args.repetitions):
            batch = [(b, rep) for b in benches]
            random.shuffle(batch)
            order.extend(batch)
        for b, rep in order:
            run_one(b, params, expected, args.repetitions, rep,
                    args.test_corrupt_checksum == workload.NAME)
            last = b.rows[-1]
            progress.tick("%s %s" % (b.name, "FAILED" if last.get("error_occurred")
                                     else "%.1f ms" % last["real_time"]))
    finally:
        for b in benches:
            if b.runner is not None:
                b.runner.close()
                b.runner = None
        sys.setswitchinterval(saved)


def run_startup(benches, args, progress):
    """process_startup/<strategy>/workers:<n>: real_time = start of N workers
    to the exit of the last (mean of STARTUP_ROUNDS rounds per repetition),
    startup_ms = start to first reply per worker; no checksum (checksum_ok = 1
    says every worker started, answered and ended). Rounds: STARTUP_ROUNDS."""
    rounds = runners.STARTUP_ROUNDS[args.scale]
    order = [(b, rep) for rep in range(args.repetitions) for b in benches]
    random.shuffle(order)
    for b, rep in order:
        total = 0.0
        startup = 0.0
        try:
            for _ in range(rounds):
                seconds, startup_sum = runners.startup_round(b.strategy, b.workers,
                                                             args.start_method, b.interval)
                total += seconds
                startup += startup_sum
        except (runners.RunError, OSError) as e:
            b.rows.append(report.error_row(b.name, b.family, args.repetitions, rep,
                                           "process runner: %s" % e))
        else:
            counters = {"workers": b.workers, "checksum_ok": 1,
                        "startup_ms": startup * 1e3 / (rounds * b.workers)}
            b.rows.append(report.iteration_row(b.name, b.family, args.repetitions, rep,
                                               total / rounds, 0.0, counters))
        last = b.rows[-1]
        progress.tick("%s %s" % (b.name, "FAILED" if last.get("error_occurred")
                                 else "%.1f ms" % last["real_time"]))


def git_revision():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                             capture_output=True, text=True, timeout=10)
        if rev.returncode == 0 and rev.stdout.strip():
            return rev.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def context(args, benches):
    ctx = report.machine_context()
    ctx.update(report.python_context(args.start_method))
    warnings = []
    nproc = int(ctx["gilbench_nproc"])
    if max(args.workers) > nproc:
        warnings.append("%d workers on %d CPUs: runs with more workers than CPUs measure "
                        "oversubscription" % (max(args.workers), nproc))
    ctx.update({
        schema.VERSION_KEY: schema.SCHEMA_VERSION,
        schema.RUNS_KEY: schema.runs_json([b.fields for b in benches]),
        "gilbench_git_revision": git_revision(),
        "gilbench_mode": args.scale,
        "gilbench_workers": json.dumps(args.workers),
        "gilbench_switch_intervals": json.dumps([durations.format_seconds(d)
                                                 for d in args.switch_intervals]),
        "gilbench_repetitions": str(args.repetitions),
        schema.PARAMS_KEY: json.dumps(args.params, sort_keys=True, separators=(",", ":")),
        "gilbench_params_source": args.params_source,
        "gilbench_workloads": json.dumps(dict([(w.NAME, w.KIND) for w in workloads.ALL]
                                              + [(runners.STARTUP_WORKLOAD, "startup")]),
                                         sort_keys=True, separators=(",", ":")),
        "gilbench_strategies": json.dumps(runners.STRATEGIES),
        "gilbench_reference_strategy": REFERENCE,
        "gilbench_metrics": json.dumps(report.metrics_json(), sort_keys=True, separators=(",", ":")),
        "gilbench_time": ("real_time = wall time of one run (release of the workers to the end of "
                          "the last one), time.perf_counter; 1 iteration per repetition; state "
                          "built outside it; pool start-up reported as startup_ms"),
        "gilbench_warnings": json.dumps(warnings),
        "gilbench_startup_rounds": str(runners.STARTUP_ROUNDS[args.scale]),
        # how shared_dict makes each update atomic (pytwin/shared_dict.py)
        "gilbench_shared_dict_update": shared_dict.update_mode(),
    })
    if args.test_corrupt_checksum:
        ctx["gilbench_corrupted_checksum"] = args.test_corrupt_checksum
    return ctx, warnings


def summary(benches):
    """Speedup over cpython_serial at 1 worker, per workload, like gilbench's table."""
    cells = {}
    serial = {}
    workers = sorted({b.workers for b in benches})
    for b in benches:
        times = sorted(r["real_time"] for r in b.rows if not r.get("error_occurred"))
        failed = any(r.get("error_occurred") for r in b.rows)
        med = median(times) if times and not failed else None
        key = schema.variant(b.fields)  # strategy, plus /interval:<d> if any
        cells.setdefault(b.workload_name, {}).setdefault(key, {})[b.workers] = med
        if b.strategy == REFERENCE and med:
            serial[b.workload_name] = med
    lines = ["", "Speedup over cpython_serial (median wall time of cpython_serial at 1 worker / "
             "median of the run;", ">1 = faster than one serial worker, FAIL = the run failed, "
             "- = not run)", ""]
    lines.append("%-14s %-28s" % ("workload", "strategy") + "".join(" %7s" % ("w=%d" % w) for w in workers)
                 + "   serial ms")
    for workload, rows in cells.items():
        first = True
        for key, by_n in rows.items():
            line = "%-14s %-28s" % (workload if first else "", key)
            for w in workers:
                if w not in by_n:
                    line += " %7s" % "-"
                elif by_n[w] is None:
                    line += " %7s" % "FAIL"
                elif workload in serial:
                    line += " %6.2fx" % (serial[workload] / by_n[w])
                else:
                    line += " %5.1fms" % by_n[w]
            if first and workload in serial:
                line += "   %8.1f" % serial[workload]
            lines.append(line)
            first = False
    return "\n".join(lines)


def main(argv):
    try:
        args = parse_args(argv)
    except UsageError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 2
    benches = plan(args)
    if not benches:
        sys.stderr.write("%s: no benchmark matched\n" % PROG)
        return 2
    if args.list:
        for b in benches:
            print(b.name)
        return 0
    try:
        args.params, args.params_source = workload_params(args)
    except UsageError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 2
    if "convoy" in args.params:
        if args.convoy_peer:
            args.params["convoy"] = dict(args.params["convoy"], peer=args.convoy_peer)
        if args.params["convoy"].get("peer", "thread") == "tcp":
            echo.GILBENCH = args.gilbench
    ctx, warnings = context(args, benches)
    for w in warnings:
        sys.stderr.write("%s: warning: %s\n" % (PROG, w))
    progress = Progress(len(benches) * args.repetitions)
    started = time.monotonic()
    for w in workloads.ALL:
        mine = [b for b in benches if b.workload is w]
        if mine:
            run_workload(w, mine, args, progress)
    startup = [b for b in benches if b.workload is None]
    if startup:
        run_startup(startup, args, progress)
    progress.finish()
    rows = []
    for b in benches:
        mine = sorted(b.rows, key=lambda r: r["repetition_index"])
        rows.extend(mine)
        rows.extend(report.aggregate_rows(mine))
    if args.out:
        try:
            report.write_json(args.out, ctx, rows)
        except InputError as e:
            sys.stderr.write("%s: %s\n" % (PROG, e))
            return 1
    print(summary(benches))
    sys.stderr.write("%s: %d runs in %.1f s (%s %s, GIL %s)\n" % (
        PROG, len(benches) * args.repetitions, time.monotonic() - started,
        ctx["gilbench_python_implementation"], ctx["gilbench_python_version"],
        {"true": "enabled", "false": "disabled"}.get(ctx["gilbench_gil_enabled"], "unknown")))
    if args.out:
        print("\nresults: %s" % args.out)

    failed = [b for b in benches if any(r.get("error_occurred") for r in b.rows)]
    if failed:
        sys.stderr.write("\n%s: %d benchmark(s) FAILED:\n" % (PROG, len(failed)))
        for b in failed:
            msg = next(r["error_message"] for r in b.rows if r.get("error_occurred"))
            sys.stderr.write("  %s: %s\n" % (b.name, msg))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
