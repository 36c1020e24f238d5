"""The regression gate (plot.py compare BASE NEW): lanes of rows with verdicts, as data.

compare() returns a Report: per lane its rows (benchmark, base and new
values, change, p, q, verdict, note), whether the lane is gated, the
problems that keep a gated lane from judging, the regressions, and the exit
decision (Report.exit_status: 0 no regression, 1 regression, 2 a gated lane
cannot judge). render.py writes it as markdown (what compare prints, and
writes with --markdown FILE) or JSON (--json FILE). Exit status 1 means:
a gated lane flagged a row, or a run failed in NEW (a benchmark with
error_occurred, or a row BASE counted that failed or has no measured region
under callgrind in NEW); 2 is also bad input (InputError: files that cannot
be compared). Three lanes:

  time          per benchmark, the change of the median wall time. A
                two-sided Mann-Whitney U test on the repetitions says
                whether the two samples differ at all (no normality
                assumption: contended timings are skewed and multi-modal);
                Benjamini-Hochberg turns the suite's p-values into q-values,
                so testing 100 benchmarks at alpha=0.05 does not flag five of
                them by chance; and a change is flagged only when it is
                significant AND beyond the threshold (default 5%), because
                with many repetitions a real but tiny drift is significant
                too. Wall time only compares on the same machine in the same
                state.
  ratio         per non-reference benchmark, its speedup over the reference
                measured inside each file: median t(reference, 1 worker) /
                median t(benchmark). A machine that is slower or busier slows
                both and the ratio survives, so this lane compares across
                machines and against a committed baseline. Its p-value comes
                from a bootstrap of both medians in both files (the
                reference's noise is part of the test), then BH at its own
                level (default q < 0.01: a busier machine lowers multi-worker
                speedups for real, so this lane sees more environmental
                change than the time lane's i.i.d. model admits; at 0.05 it
                false-flagged in 7 of 90 comparisons on the shared
                development machine, at 0.01 in 2) and a threshold (default
                10%). Repetitions are not paired by index: with
                interleaving, repetition i of two benchmarks did not run at
                the same moment, and pairing only adds noise. A slowdown of a
                whole workload (reference included) leaves ratios alone by
                design: the time and instruction lanes catch it.
  instructions  instructions counted by callgrind in the measured region of
                each 1-worker row (see instructions.py). Deterministic (the
                same build counts the same number again; rows with blocking
                IO differ by < 0.01%), so no statistics: flagged beyond a
                tight threshold (default 1%, so that a 2% change is caught
                with margin). Valgrind runs one thread at a time, so
                multi-worker rows stay on the time and ratio lanes.

When both files hold a machine fingerprint (gilbench_fingerprint), the
report shows both and, for each unit cost that differs by more than 1.5x,
the rows it moves (fingerprint.py).

--gate picks which lanes can fail the job; the others are printed for
information. The default gates time, ratio when BASE has a row with an
in-run ratio, and instructions when BASE holds instruction counts (so two
files without counts compare without --gate, and a NEW without the counts
BASE has cannot slip through).

What a gated lane needs (else exit 2, saying which lane and why; the report
is still printed and written): a row it can judge at all (both files
measured it), and for each such row the repetitions to flag it:
  time          the smallest two-sided p-value of the exact U test for n1 vs
                n2 repetitions, 2 / C(n1 + n2, n1), must be below --alpha (BH
                cannot lower a p-value below itself: when all rows have that
                p, each q equals it). At alpha 0.05 that is 4 or more
                repetitions per side (3 vs 3 gives 0.1). Above that minimum,
                a lone regression among many rows may still be unable to pass
                BH: compare warns (use 9 or more repetitions, odd).
  ratio         2 or more repetitions of the row and of its reference, in
                each file (the bootstrap has no spread with 1).
  instructions  both files counted: NEW without the counts of a row BASE
                counted, and no failure recorded for it, is bad input.
Non-gated lanes only warn.
"""

import math
import zlib
from dataclasses import dataclass, field

from . import fingerprint, schema
from .errors import InputError, bad_option, one_line
from .stats import bh_adjust, bootstrap_speedup_test, median, min_u_pvalue, u_test, \
    u_test_repetitions

LANES = ("time", "ratio", "instructions")
# Verdicts of a row; the order in which tables list them.
VERDICTS = ("failed", "regression", "improved", "noise", "base failed", "")
NOT_COUNTED_IN_NEW = "not counted in new"


@dataclass
class Options:
    """The gate's settings (plot.py compare's options), checked by check()."""

    threshold: float = 0.05  # wall-time change that may count as a regression
    ratio_threshold: float = 0.10  # in-run speedup change that may count
    instr_threshold: float = 0.01  # instruction-count change that counts
    alpha: float = 0.05  # time lane: BH level of the U test
    ratio_alpha: float = 0.01  # ratio lane: BH level of the bootstrap
    gate: str = None  # comma-separated lanes that fail the job; None: default_gate
    common: bool = False  # compare the shared benchmarks of two different sets

    def check(self):
        """Raises InputError for a value out of range, naming its option."""
        for opt, lo_open, what in (("threshold", False, "in [0, 1)"),
                                   ("ratio_threshold", False, "in [0, 1)"),
                                   ("instr_threshold", False, "in [0, 1)"),
                                   ("alpha", True, "in (0, 1)"),
                                   ("ratio_alpha", True, "in (0, 1)")):
            v = getattr(self, opt)
            if not ((0 < v) if lo_open else (0 <= v)) or not v < 1:
                raise bad_option(opt, v, what)
        if self.gate and not set(self.gate.split(",")) <= set(LANES):
            raise InputError(f"--gate: {self.gate}: lanes are time, ratio, instructions")
        return self


@dataclass
class Row:
    """One benchmark of a lane."""

    name: str
    base: float = math.nan
    new: float = math.nan
    change: float = math.nan  # new / base - 1
    p: float = math.nan
    q: float = math.nan
    verdict: str = ""  # one of VERDICTS
    note: str = ""
    judged: bool = False  # both files have what the lane compares
    reps: tuple = ()  # (repetitions in base, in new): the fewest of the samples compared


@dataclass
class Lane:
    """One lane of the gate: its rows, or compared=False when it could not run."""

    key: str  # one of LANES
    rows: list
    gated: bool = False
    compared: bool = True
    notes: list = field(default_factory=list)

    def count(self, verdict):
        return sum(r.verdict == verdict for r in self.rows)


@dataclass
class Report:
    """What compare() found; render.py writes it."""

    base: object  # load.Result
    new: object
    options: Options
    names: list  # the benchmarks compared
    only_base: list
    only_new: list
    lanes: list  # Lane, in LANES order
    problems: list  # why a gated lane cannot judge (each one line)
    regressions: list  # (lane key, Row) of the gated lanes: regression or failed
    power: dict = None  # the U test cannot flag a lone row: {n1, n2, pmin, benchmarks}
    same_machine: bool = True
    busy: dict = field(default_factory=dict)  # "base"/"new" -> ran on a busy machine
    fingerprints: dict = field(default_factory=dict)  # "base"/"new" -> gilbench_fingerprint
    unit_costs: list = field(default_factory=list)  # fingerprint.Difference of both files

    @property
    def gated(self):
        return [lane.key for lane in self.lanes if lane.gated]

    def lane(self, key):
        return next(lane for lane in self.lanes if lane.key == key)

    @property
    def exit_status(self):
        """2 a gated lane cannot judge (what it did not judge has not passed); 1 a
        regression or failure in a gated lane; 0 none."""
        return 2 if self.problems else 1 if self.regressions else 0


def speedup_samples(result, run):
    """(reference times, run times) for the in-run speedup of `run`, or None."""
    ref = result.reference_run(run.workload, run)
    if ref is None or ref is run or ref.failed or run.failed or not ref.times or not run.times:
        return None
    return ref.samples(), run.samples()


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
        if a.strategy == base.reference:
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


def compare_instructions(base, new, names, threshold):
    """The instruction lane: rows counted in either file; flagged beyond the threshold.

    A row BASE counted and NEW did not is FAILED when NEW's run of it failed, or
    it failed under valgrind or counted 0 (no measured region) in NEW: NEW broke
    it. Without such a record it is only "not counted in new", which a gated lane
    refuses (instruction_problems): the gate cannot pass what it did not see.
    """
    counts_a, counts_b = base.instructions or {}, new.instructions or {}
    lane_b = new.ctx_json(schema.INSTRUCTIONS_KEY, None) or {}
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
    if any(base.runs[n].strategy != base.reference
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
    if base.context.get(schema.MODE_KEY) != new.context.get(schema.MODE_KEY):
        raise InputError(f"{new.path}: gilbench_mode is {new.context.get(schema.MODE_KEY)!r} but "
                         f"{base.path} has {base.context.get(schema.MODE_KEY)!r}: the sizes differ")
    changed = differing_params(base, new, names)
    if changed:
        w, (a, b) = next(iter(changed.items()))
        raise InputError(f"{new.path}: workload {w} ran with parameters {b} but "
                         f"{base.path} with {a}: the sizes differ")
    return names, only_base, only_new


def differing_params(base, new, names):
    """{workload: (base's parameters, new's)} of the workloads of `names` whose
    parameters differ between the two files."""
    params_a = base.ctx_json(schema.PARAMS_KEY, {})
    params_b = new.ctx_json(schema.PARAMS_KEY, {})
    return {w: (params_a[w], params_b[w]) for w in sorted({base.runs[n].workload for n in names})
            if w in params_a and w in params_b and params_a[w] != params_b[w]}


def instruction_notes(base, new):
    """Lines about the rows the instruction lane left out, in either file."""
    notes = []
    for label, r in (("base", base), ("new", new)):
        lane = r.ctx_json(schema.INSTRUCTIONS_KEY, {}) or {}
        if lane.get("failed"):
            notes.append(f"Not counted in {label} (failed under valgrind): " + "; ".join(
                f"`{n}`: {why}" for n, why in sorted(lane["failed"].items())))
    lane = new.ctx_json(schema.INSTRUCTIONS_KEY, {}) or {}
    if lane.get("no_measured_region"):
        notes.append(f"No measured_run region (0 instructions), left out: "
                     f"{len(lane['no_measured_region'])} rows, e.g. "
                     f"`{lane['no_measured_region'][0]}`.")
    return notes


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


def power(base, new, names, alpha):
    """{n1, n2, pmin, benchmarks} when the repetitions are too few for any lone flag to
    pass BH in the time lane; else None."""
    n1 = min((len(base.runs[n].times) for n in names if base.runs[n].times), default=0)
    n2 = min((len(new.runs[n].times) for n in names if new.runs[n].times), default=0)
    pmin = min_u_pvalue(n1, n2)
    if pmin * len(names) < alpha:
        return None
    return {"n1": n1, "n2": n2, "pmin": pmin, "benchmarks": len(names)}


def compare(base, new, options):
    """The gate on two loaded files (load.Result). Raises InputError when they
    cannot be compared; returns a Report (its exit_status is the decision)."""
    opt = options
    names, only_base, only_new = comparable_names(base, new, opt.common)
    gate = set(opt.gate.split(",")) if opt.gate else default_gate(base, names)
    lanes = [Lane("time", compare_time(base, new, names, opt.alpha, opt.threshold)),
             Lane("ratio", compare_ratios(base, new, names, opt.ratio_alpha,
                                          opt.ratio_threshold))]
    if not same_machine(base, new):
        lanes[0].notes.append("The files come from different machines (host, CPU model or "
                              "CPU count differ): wall times do not compare.")
    if base.instructions is not None and new.instructions is not None:
        lanes.append(Lane("instructions", compare_instructions(base, new, names,
                                                               opt.instr_threshold),
                          notes=instruction_notes(base, new)))
    else:
        missing = " and ".join(r.path for r in (base, new) if r.instructions is None)
        lanes.append(Lane("instructions", [], compared=False, notes=[
            f"Not compared: no instruction counts in {missing} (`plot.py instructions FILE "
            f"--gilbench BIN` adds them)."]))
    for lane in lanes:
        lane.gated = lane.key in gate
    problems = []
    if "time" in gate:
        problems += time_problems(lanes[0].rows, opt.alpha)
    if "ratio" in gate:
        problems += ratio_problems(lanes[1].rows, base)
    if "instructions" in gate:
        problems += instruction_problems(lanes[2].rows, base, new)
    regressions = [(lane.key, r) for lane in lanes if lane.gated for r in lane.rows
                   if r.verdict in ("regression", "failed")]
    return Report(base, new, opt, names, only_base, only_new, lanes, problems, regressions,
                  power(base, new, names, opt.alpha), same_machine(base, new),
                  {"base": busy(base), "new": busy(new)},
                  {"base": base.fingerprint, "new": new.fingerprint},
                  fingerprint.compare(base.fingerprint, new.fingerprint,
                                      [new.runs[n] for n in names]))
