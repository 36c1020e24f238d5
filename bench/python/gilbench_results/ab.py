"""The A/B time lane (plot.py ab; bench/ab.sh builds the base and runs the trials).

Wall times from another day or machine do not compare; wall times from the
same job do. bench/ab.sh runs two binaries, base and head, in T trials; each
trial runs both back to back (seconds apart, on the same machine state) in a
random order, each run `gilbench --quick --repetitions=R`. This module
compares them trial by trial:

  per run     the minimum of its R repetitions (--statistic min, the default;
              or median). The shared 2-vCPU VMs run the same single-threaded
              work at one of two speeds about 1.7x apart, and the speed
              changes within a run, from one repetition to the next
              (countdown/serial/workers:1 at R=1: 1.9-2.2 ms or 3.2-3.6 ms,
              half of the runs each): a median of 3 is as bimodal as one
              repetition, the minimum is the fast phase unless all R
              repetitions fell in the slow one.
  per trial   x = log(head's minimum / base's minimum) of every row: the
              head's change, measured while the machine was in one state.
  flips       the machine's speed can also change for a whole run: every row
              of that trial then moves together. The trial's shift, the
              median x over all rows, is compared with the median shift of
              all trials; a trial more than --flip-limit away from it (default
              0.2 in log, a factor 1.22) is diagnosed as flipped, and its rows
              are normalised: the trial's excess shift (its shift minus the
              median shift) is subtracted from each (--normalise flips, the
              default; `always` normalises every trial, `never` none). The
              median shift itself stays in every row, so a real slowdown of
              every row, which moves every trial alike, is not a flip and is
              flagged (subtracting each trial's whole shift would hide it).
              Unflipped trials are left as measured, so each row's test stays
              exact.
  per row     the change is the Hodges-Lehmann estimate (median of the Walsh
              averages) of the T log ratios; the test is the exact Wilcoxon
              signed-rank test across the trials, one-sided (the gate asks
              "is the head slower?"; "faster?" is tested apart, for the
              report), ties get midranks, zeros are dropped. The randomised
              order makes the per-trial ratio of two runs of one program
              symmetric about 0, so the test is exact without any model of
              the timings.
  suite       Benjamini-Hochberg across the rows (the q-values), for each
              direction; a row is a regression when its q < --alpha and the
              change is beyond --threshold (default 5%), improved the other
              way.
  layout      (with the two binaries, layout_check) a flagged row whose 1-worker
              row executed exactly the same instructions (callgrind) and
              operations in both builds changed no code on its path: its time
              moved with the code's addresses, and it is reported as layout,
              not gated; a k-worker row beside it is judged on its scaling
              against the 1-worker row instead.

A row the head failed in any trial is FAILED (exit 1); a row the base failed
in a trial leaves that trial out of the row. The exact one-sided test's
smallest p with n trials is 1 / 2^n: with fewer than 5 trials nothing can be
flagged at alpha 0.05 (the lane cannot judge: exit 2), and a regression of one
row alone among m rows passes BH only when 1 / 2^n < alpha / m: 12 trials for
the quick suite's 146 rows (the report warns below that).

Why bench/ab.sh runs 16 trials of R=3 (measured on the 2-vCPU EPYC VM, A/A
trials of one binary, the machine shared with other builds): a run costs
about 0.75 s + 2.05 s per repetition. The robust SD (1.4826 MAD) of a row's
per-trial log ratio, median over the rows, at R = 1 / 2 / 3 / 5 with the
minimum: 1-worker CPU rows 0.19 / 0.11 / 0.08 / 0.05, 2-worker CPU rows 0.30
/ 0.24 / 0.21 / 0.15, IO rows 0.34 / 0.19 / 0.14 / 0.11 (the median of 3:
0.15, 0.21, 0.27). Per second of trials (SD^2 x trial cost) R=3 and R=5 are
2.3x and 3x better than R=1 for the 1-worker rows and all are alike for the
2-worker rows; but a lone row needs 12 trials or more, so R=5 (22 s a trial)
cannot fit both in CI's budget; 16 trials of R=3 (about 14 s each, 3.7
minutes) leave room for a few trials against the change. Whole-run flips: 1
of 94 A/A trials (R = 1, 3 and 5) shifted the whole suite by 0.32 in log from
the median trial (83 of its 90 CPU rows moved the same way); the other
trials' shifts stayed within 0.14 of the median (90% within 0.06), so the flip
limit 0.2 lies between them. The full power table: bench/gate_power.py,
results/amd-epyc-2cpu/gate_power.md.

Exit status of plot.py ab: 0 no regression, 1 a regression or a failed row, 2
bad input or a lane that cannot judge, 3 internal error.
"""

import glob
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field

from . import gate, instructions
from .errors import InputError, bad_option, one_line
from .load import load_result
from .output import json_text
from .stats import bh_adjust, median

NORMALISE = ("flips", "always", "never")
# What of a run's repetitions stands for the run in a trial.
STATISTICS = {"min": min, "median": median}
VERDICTS = ("failed", "regression", "layout", "improved", "noise", "base failed", "")
# The deterministic operation counters of a run (src/runtime/tally.hpp): equal in both
# builds when the row does the same work.
OPS_COUNTERS = re.compile(r"^(ops_\w+|objects_allocated)$")
WORKERS_AXIS = re.compile(r"(^|/)workers:\d+(?=/|$)")


@dataclass
class Options:
    """plot.py ab's settings."""

    threshold: float = 0.05  # change beyond which a significant row is flagged
    alpha: float = 0.05  # BH level
    normalise: str = "flips"  # which trials lose their whole-suite shift
    flip_limit: float = 0.2  # |trial shift - median shift| (log) that marks a flip
    statistic: str = "min"  # what of a run's repetitions stands for the run: min, median
    layout_tolerance: float = 0.0  # instruction change within which a row ran the same code

    def check(self):
        if not 0 <= self.threshold < 1:
            raise bad_option("threshold", self.threshold, "in [0, 1)")
        if not 0 < self.alpha < 1:
            raise bad_option("alpha", self.alpha, "in (0, 1)")
        if self.normalise not in NORMALISE:
            raise bad_option("normalise", self.normalise, " or ".join(NORMALISE))
        if not 0 < self.flip_limit < math.inf:
            raise bad_option("flip_limit", self.flip_limit, "a number > 0")
        if self.statistic not in STATISTICS:
            raise bad_option("statistic", self.statistic, " or ".join(STATISTICS))
        if not 0 <= self.layout_tolerance < 1:
            raise bad_option("layout_tolerance", self.layout_tolerance, "in [0, 1)")
        return self


@dataclass
class Trial:
    """One trial: base and head run back to back."""

    index: int
    base: object  # load.Result
    head: object
    first: str = ""  # "base" or "head" (trials.tsv), "" unknown
    shift: float = math.nan  # median log ratio over the rows
    with_shift: float = math.nan  # share of the rows that moved the way the shift did
    flipped: bool = False
    normalised: float = 0.0  # subtracted from every row's log ratio
    dropped: dict = field(default_factory=dict)  # workload -> (base params, head params)


@dataclass
class Row:
    name: str
    base: float = math.nan  # median over the trials of the base run's statistic, seconds
    head: float = math.nan
    change: float = math.nan  # exp(Hodges-Lehmann of the log ratios) - 1
    ratios: list = field(default_factory=list)  # per judged trial, after normalisation
    slower: int = 0  # trials in which head was slower
    p: float = math.nan  # one-sided: head slower
    q: float = math.nan  # BH of p over the rows
    p_faster: float = math.nan  # one-sided: head faster
    q_faster: float = math.nan
    verdict: str = ""
    note: str = ""
    judged: bool = False
    workers: int = 0


@dataclass
class Report:
    trials: list
    rows: list
    options: Options
    problems: list
    notes: list
    suite_shift: float = math.nan  # exp(HL of the trials' shifts) - 1
    suite_p: float = math.nan
    lone_trials: int = 0  # trials a lone regression needs to pass BH (0: enough)

    @property
    def regressions(self):
        return [r for r in self.rows if r.verdict in ("regression", "failed")]

    @property
    def layout(self):
        return [r for r in self.rows if r.verdict == "layout"]

    @property
    def flips(self):
        return [t for t in self.trials if t.flipped]

    @property
    def exit_status(self):
        return 2 if self.problems else 1 if self.regressions else 0


# Statistics ---------------------------------------------------------------------------

_DISTRIBUTIONS = {}


def signed_rank_test(values, alternative="two-sided"):
    """p of the exact Wilcoxon signed-rank test that values are centred on 0, against
    "two-sided", "greater" (centred above 0) or "less".

    Zeros are dropped; tied |values| get midranks, and the null distribution is that
    of the signed midranks under every sign flip (counted exactly on doubled ranks),
    so ties keep it exact. No values: p = 1."""
    d = [v for v in values if v != 0]
    n = len(d)
    if n == 0:
        return 1.0
    order = sorted(range(n), key=lambda i: abs(d[i]))
    ranks2 = [0] * n  # doubled midranks: integers
    i = 0
    while i < n:
        j = i
        while j + 1 < n and abs(d[order[j + 1]]) == abs(d[order[i]]):
            j += 1
        for k in range(i, j + 1):
            ranks2[order[k]] = i + j + 2
        i = j + 1
    key = tuple(sorted(ranks2))
    counts = _DISTRIBUTIONS.get(key)
    if counts is None:
        counts = [1] + [0] * sum(key)
        for r in key:
            for s in range(len(counts) - 1, r - 1, -1):
                counts[s] += counts[s - r]
        _DISTRIBUTIONS[key] = counts
    total = len(counts) - 1
    plus = sum(r for r, v in zip(ranks2, d) if v > 0)
    if alternative == "greater":
        extreme = sum(counts[plus:])
    elif alternative == "less":
        extreme = sum(counts[:plus + 1])
    else:
        dev = abs(2 * plus - total)
        extreme = sum(c for s, c in enumerate(counts) if abs(2 * s - total) >= dev)
    return min(1.0, extreme / 2 ** n)


def min_signed_rank_p(n):
    """The smallest one-sided p of the exact signed-rank test with n nonzero values."""
    return min(1.0, 1.0 / 2 ** n) if n > 0 else 1.0


def trials_needed(rows, alpha):
    """The fewest trials whose smallest p passes BH for one row alone among `rows`."""
    return next(n for n in range(1, 200) if min_signed_rank_p(n) * max(rows, 1) < alpha)


def hodges_lehmann(values):
    """The median of the Walsh averages (v_i + v_j) / 2, i <= j."""
    n = len(values)
    if n == 0:
        return math.nan
    return median([(values[i] + values[j]) / 2 for i in range(n) for j in range(i, n)])


# Input ---------------------------------------------------------------------------------

TRIAL_FILE = re.compile(r"^(base|head)-(\d+)\.json$")


def read_order(directory):
    """{trial: first side} from ab.sh's trials.tsv, {} when there is none."""
    path = os.path.join(directory, "trials.tsv")
    order = {}
    try:
        with open(path) as f:
            for line in f.read().splitlines()[1:]:
                cells = line.split("\t")
                if len(cells) >= 2 and cells[0].isdigit() and cells[1] in ("base", "head"):
                    order[int(cells[0])] = cells[1]
    except OSError:
        pass
    return order


def trial_files(directory):
    """[(base path, head path, first side)] of ab.sh's work directory, in trial order."""
    if not os.path.isdir(directory):
        raise InputError(f"--trials {directory}: not a directory")
    found = {}
    for path in glob.glob(os.path.join(glob.escape(directory), "*.json")):
        m = TRIAL_FILE.match(os.path.basename(path))
        if m:
            found.setdefault(int(m.group(2)), {})[m.group(1)] = path
    if not found:
        raise InputError(f"--trials {directory}: no base-N.json / head-N.json trial files")
    lonely = [f"{t} ({'head' if 'base' in s else 'base'} missing)"
              for t, s in sorted(found.items()) if len(s) != 2]
    if lonely:
        raise InputError(f"--trials {directory}: trials without both runs: "
                         + ", ".join(lonely[:5]))
    order = read_order(directory)
    return [(s["base"], s["head"], order.get(t, "")) for t, s in sorted(found.items())]


def drop_changed_workloads(trial):
    """Leaves out of a trial the rows of workloads whose parameters the head changed (a
    change of the benchmark, not a regression: their times do not compare), noting
    them in trial.dropped {workload: (base's parameters, head's)}."""
    names = [n for n in trial.base.runs if n in trial.head.runs]
    trial.dropped = gate.differing_params(trial.base, trial.head, names)
    for result in (trial.base, trial.head):
        for n in [n for n, r in result.runs.items() if r.workload in trial.dropped]:
            del result.runs[n]


def load_trials(directory=None, base=(), head=()):
    """The trials, from ab.sh's work directory or from two equally long file lists
    (paired by position). Raises InputError when they cannot be compared."""
    if directory and (base or head):
        raise InputError("give --trials DIR or BASE.json... --head HEAD.json..., not both")
    if directory:
        files = trial_files(directory)
    else:
        if not base or not head:
            raise InputError("give --trials DIR, or BASE.json files and --head HEAD.json files")
        if len(base) != len(head):
            raise InputError(f"{len(base)} base files but {len(head)} head files: each trial "
                             f"needs one of each (paired by position)")
        files = [(b, h, "") for b, h in zip(base, head)]
    trials = []
    for i, (b, h, first) in enumerate(files):
        trial = Trial(i, load_result(b), load_result(h), first)
        drop_changed_workloads(trial)
        gate.comparable_names(trial.base, trial.head, False)  # raises for different sets
        if trials and set(trial.base.runs) != set(trials[0].base.runs):
            raise InputError(f"{b} holds another benchmark set than {trials[0].base.path}: "
                             f"the trials did not run the same benchmarks")
        trials.append(trial)
    return trials


# The comparison ------------------------------------------------------------------------

def log_ratio(trial, name, statistic="min"):
    """log(head / base) of one row in one trial, each run summarised by `statistic` of its
    repetitions (min or median); None when either run failed."""
    a, b = trial.base.runs[name], trial.head.runs[name]
    if a.failed or b.failed or not a.times or not b.times:
        return None
    of = STATISTICS[statistic]
    return math.log(of(b.samples()) / of(a.samples()))


def trial_shifts(matrix, trials, opt):
    """Each trial's shift (the median log ratio over the rows), whether it flipped,
    and what is subtracted from its rows: (shifts, centre, flipped, subtracted).

    matrix: {name: [log ratio or None, per trial]}."""
    shifts = []
    for t in range(trials):
        xs = [row[t] for row in matrix.values() if row[t] is not None]
        shifts.append(median(xs) if xs else math.nan)
    known = [x for x in shifts if not math.isnan(x)]
    centre = median(known) if known else 0.0
    flipped = [not math.isnan(x) and abs(x - centre) > opt.flip_limit for x in shifts]
    subtracted = [0.0 if math.isnan(x) or not (opt.normalise == "always" or (
        opt.normalise == "flips" and f)) else x - centre for x, f in zip(shifts, flipped)]
    return shifts, centre, flipped, subtracted


def judge_matrix(matrix, opt):
    """The lane on a matrix of log ratios {name: [per trial, None where not judged]}:
    (trial_shifts(), {name: Row with ratios, slower, change, p, q, verdict}). The one
    implementation of the lane's statistics: compare() and gate_power.py's resampling
    both use it."""
    trials = len(next(iter(matrix.values()))) if matrix else 0
    shifted = trial_shifts(matrix, trials, opt)
    subtracted = shifted[3]
    rows = {}
    for name, xs in matrix.items():
        row = rows[name] = Row(name)
        row.ratios = [x - subtracted[t] for t, x in enumerate(xs) if x is not None]
        if not row.ratios:
            continue
        row.slower = sum(x > 0 for x in row.ratios)
        row.change = math.exp(hodges_lehmann(row.ratios)) - 1
        row.p = signed_rank_test(row.ratios, "greater")
        row.p_faster = signed_rank_test(row.ratios, "less")
        row.judged = True
    judged = [r for r in rows.values() if r.judged]
    for row, q, q_faster in zip(judged, bh_adjust([r.p for r in judged]),
                                bh_adjust([r.p_faster for r in judged])):
        row.q, row.q_faster = q, q_faster
        if row.change > opt.threshold and q < opt.alpha:
            row.verdict = "regression"
        elif row.change < -opt.threshold and q_faster < opt.alpha:
            row.verdict = "improved"
        elif abs(row.change) > opt.threshold:
            row.verdict = "noise"
    return shifted, rows


def compare(trials, options, count=None):
    """The A/B comparison of loaded trials (load_trials). Returns a Report. With count
    (callgrind_counter), flagged rows that did the same work in both builds are judged
    by layout_check."""
    opt = options
    if not trials:
        raise InputError("no trials to compare")
    names = list(trials[0].base.runs)
    failed = {n: [t.index for t in trials if t.head.runs[n].failed] for n in names}
    matrix = {n: [log_ratio(t, n, opt.statistic) for t in trials] for n in names
              if not failed[n]}
    of = STATISTICS[opt.statistic]
    (shifts, centre, flipped, subtracted), judged_rows = judge_matrix(matrix, opt)
    for t, shift, flip, sub in zip(trials, shifts, flipped, subtracted):
        t.shift, t.flipped, t.normalised = shift, flip, sub
        moved = [xs[t.index] for xs in matrix.values()
                 if xs[t.index] is not None and xs[t.index] != centre]
        if moved and not math.isnan(shift) and shift != centre:
            t.with_shift = sum((x > centre) == (shift > centre) for x in moved) / len(moved)
    rows = []
    for n in names:
        run = trials[0].base.runs[n]
        row = judged_rows.get(n) or Row(n)
        row.workers = run.workers
        used = [t for t in trials if matrix.get(n) and matrix[n][t.index] is not None]
        if failed[n]:
            t = trials[failed[n][0]]
            row.verdict = "failed"
            row.note = f"head failed in trial {t.index}: {t.head.runs[n].errors[0]}"
        elif not used:
            row.verdict = "base failed"
            row.note = run.errors[0] if run.errors else "no base run"
        else:
            row.base = median([of(t.base.runs[n].samples()) for t in used])
            row.head = median([of(t.head.runs[n].samples()) for t in used])
        rows.append(row)
    judged = [r for r in rows if r.judged]
    problems, notes = [], []
    n = len(trials)
    if trials[0].dropped:
        absent = "(absent)"
        notes.append("Not compared, because the head changed their parameters (a new benchmark, "
                     "not a regression): " + "; ".join(
                         f"{w} ({', '.join(f'{k} {a.get(k, absent)} -> {b.get(k, absent)}' for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))})"
                         for w, (a, b) in trials[0].dropped.items()))
    if not judged and not any(r.verdict == "failed" for r in rows):
        problems.append("ab lane: no benchmark to compare (every run failed in base)")
    elif judged and min_signed_rank_p(min(len(r.ratios) for r in judged)) >= opt.alpha:
        problems.append(f"ab lane: {n} trials cannot flag anything: the smallest p of the exact "
                        f"signed-rank test with n trials is 1/2^n, which must be below --alpha "
                        f"{opt.alpha}: use {trials_needed(1, opt.alpha)} or more trials")
    need = trials_needed(len(judged), opt.alpha) if judged else 0
    lone = need if judged and min(len(r.ratios) for r in judged) < need else 0
    flips = [t for t in trials if t.flipped]
    if flips:
        what = {"flips": "normalised (their excess shift subtracted from every row)",
                "always": "normalised, as every trial is (--normalise always)",
                "never": "left as measured (--normalise never)"}[opt.normalise]
        notes.append(f"The machine's speed flipped in {len(flips)} of {n} trials ("
                     + ", ".join(f"trial {t.index}: suite {math.exp(t.shift) - 1:+.0%}" for t in flips)
                     + f", against a median of {math.exp(centre) - 1:+.1%}): {what}.")
        if len(flips) * 4 > n:
            notes.append("More than a quarter of the trials flipped: the machine is unsteady; "
                         "more trials, or a quieter machine, give a firmer verdict.")
    shifts = [t.shift for t in trials if not math.isnan(t.shift)]
    report = Report(trials, rows, opt, problems, notes, lone_trials=lone)
    if shifts:
        report.suite_shift = math.exp(hodges_lehmann(shifts)) - 1
        report.suite_p = signed_rank_test(shifts)
    layout_check(report, trials, count)
    return report


# Code placement -------------------------------------------------------------------------

def one_worker_row(name):
    """The 1-worker row of the same workload, strategy and axes as `name`."""
    return WORKERS_AXIS.sub(lambda m: m.group(1) + "workers:1", name)


def ops_counts(run):
    """{counter: value of the first repetition} of a run's deterministic operation counters."""
    return {c: v[min(v)] for c, v in run.counters.items() if OPS_COUNTERS.match(c) and v}


def same_work(trial, name, count, tolerance):
    """Whether row `name` did the same work in both builds: (True or False, why), or
    (None, why) when it cannot be told. The same work: its instruction count
    (count(side, name): callgrind, deterministic) within `tolerance` and every
    deterministic operation counter (atomic and plain reference operations, container
    accesses, checkpoints, allocations) equal."""
    base_ops, head_ops = ops_counts(trial.base.runs[name]), ops_counts(trial.head.runs[name])
    moved = sorted(c for c in set(base_ops) | set(head_ops) if base_ops.get(c) != head_ops.get(c))
    if moved:
        c = moved[0]
        return False, f"{c} {base_ops.get(c, '–')} -> {head_ops.get(c, '–')}"
    try:
        b, h = count("base", name), count("head", name)
    except LookupError as e:
        return None, f"{name} not counted: {e}"
    change = (h - b) / b if b else math.inf
    what = (f"{b:,} instructions in both" if h == b
            else f"{b:,} -> {h:,} instructions ({change:+.4%})")
    return abs(change) <= tolerance, what


def layout_check(report, trials, count):
    """Takes code placement out of the verdicts. A row flagged slower whose 1-worker row
    executed the same instructions and operations in both builds changed no code on its
    path: the time moved because the code moved (alignment of its hot loops, branch and
    cache aliasing), as an unrelated commit can do and the next one undo. Such a 1-worker
    row is reported as "layout", not gated. A k-worker row beside such a 1-worker row is
    judged on its scaling instead, log(k-worker / 1-worker) per trial, which placement
    moves little and a regression in contention, hand-off or IPC moves: flagged when that
    change is beyond the threshold and its signed-rank p, Bonferroni-corrected over the
    rows judged, is below alpha; otherwise "layout".

    count(side, name) -> instructions, raising LookupError when it cannot count."""
    opt = report.options
    flagged = [r for r in report.rows if r.verdict == "regression"]
    if not flagged or count is None:
        return
    judged = sum(r.judged for r in report.rows)
    runs = trials[0].base.runs
    verdicts = {}
    for row in flagged:
        single = one_worker_row(row.name)
        if single not in runs or runs[single].failed or trials[0].head.runs[single].failed:
            continue
        if single not in verdicts:
            verdicts[single] = same_work(trials[0], single, count, opt.layout_tolerance)
        same, what = verdicts[single]
        if same is None:
            report.notes.append(f"Layout check of {row.name}: {what}; gated as measured.")
            continue
        if not same:
            continue
        if single == row.name:
            row.verdict = "layout"
            row.note = f"the same work in both builds ({what}): code placement"
            continue
        xs = []
        for t in trials:
            k, one = log_ratio(t, row.name, opt.statistic), log_ratio(t, single, opt.statistic)
            if k is not None and one is not None:
                xs.append(k - one)
        change = math.exp(hodges_lehmann(xs)) - 1 if xs else math.nan
        p = min(1.0, signed_rank_test(xs, "greater") * max(judged, 1))
        if change > opt.threshold and p < opt.alpha:
            row.note = (f"{single} did the same work ({what}), but this row's scaling "
                        f"against it changed {fmt_change(change)} (Bonferroni p {fmt_p(p)})")
        else:
            row.verdict = "layout"
            row.note = (f"{single} did the same work ({what}) and this row's scaling against "
                        f"it changed {fmt_change(change)} (Bonferroni p {fmt_p(p)}): code "
                        f"placement")
    if report.layout:
        report.notes.append(
            f"{len(report.layout)} flagged rows did the same work in both builds (instruction "
            + ("counts equal" if opt.layout_tolerance == 0 else
               f"counts within {opt.layout_tolerance:.2%}")
            + ", operation counts equal) and kept their "
            "scaling: code placement, reported as layout and not gated: "
            + ", ".join(r.name for r in report.layout))


def callgrind_counter(base_bin, head_bin, trials):
    """count(side, name) for layout_check: callgrind counts of one row in the base or head
    binary, replayed with the flags of that side's first trial (instructions.py), cached.

    Both binaries are counted from copies at paths of the same length (<tmp>/base/gilbench,
    <tmp>/head/gilbench): a gilbench process keeps its own path on the heap, and a path of
    another length moves its first objects to other places in mimalloc's pages, which
    changes a run's count by a few thousand instructions with no code changed (measured:
    countdown/process/workers:1, 396,834,651 against 396,875,396, build-ab/build/gilbench
    against build/gilbench, the same binary). Today's workers no longer keep it; a base
    built before that still does."""
    results = {"base": trials[0].base, "head": trials[0].head}
    paths = {"base": base_bin, "head": head_bin}
    binaries = {}
    cache = {}
    keep = []  # the copies' directory, removed when the counter is collected

    def binary(side):
        if not binaries:
            d = tempfile.TemporaryDirectory(prefix="gilbench-ab-bin-")
            keep.append(d)
            for s, src in paths.items():
                os.mkdir(os.path.join(d.name, s))
                dst = os.path.join(d.name, s, "gilbench")
                shutil.copy2(src, dst)
                binaries[s] = dst
        return binaries[side]

    def count(side, name):
        if (side, name) not in cache:
            try:
                with tempfile.TemporaryDirectory(prefix="gilbench-ab-cg-") as d:
                    cache[side, name] = instructions.count_instructions(
                        binary(side), instructions.replay_flags(results[side]), name, d)[0]
            except (instructions.LaneError, OSError) as e:
                cache[side, name] = e
        got = cache[side, name]
        if isinstance(got, Exception) or not got:
            raise LookupError(f"{side}: {got or 'no measured region'}")
        return got
    return count


# Rendering -----------------------------------------------------------------------------

VERDICT_TEXT = {"regression": "**REGRESSION**", "failed": "**FAILED**",
                "layout": "layout (not gated)", "improved": "improved",
                "noise": "~ (not significant)", "base failed": "failed in base", "": ""}


def fmt_ms(v):
    return "–" if math.isnan(v) else f"{v * 1e3:.4g}"


def fmt_change(v):
    return "–" if math.isnan(v) else f"{v * 100:+.1f}%"


def fmt_p(v):
    return "–" if math.isnan(v) else (f"{v:.2g}" if v >= 0.001 else f"{v:.1e}")


def verdict_line(report):
    bad = report.regressions
    text = f"REGRESSION ({len(bad)})" if bad else "no regression"
    if report.problems:
        text = "CANNOT JUDGE" + (f" ({text} in what it could)" if bad else "")
    return text + f" (exit status {report.exit_status})"


def row_table(rows):
    order = {v: i for i, v in enumerate(VERDICTS)}
    # base and head: the median over the trials of each run's statistic; q: BH of the
    # one-sided test in the direction of the change
    lines = ["| benchmark | base ms | head ms | change (HL) | head slower in | q (BH) | verdict |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in sorted(rows, key=lambda r: (order[r.verdict], r.name)):
        verdict = VERDICT_TEXT[r.verdict]
        if r.note:
            verdict = f"{verdict} {r.note}".strip()
        cells = [f"`{one_line(r.name)}`", fmt_ms(r.base), fmt_ms(r.head), fmt_change(r.change),
                 f"{r.slower}/{len(r.ratios)}" if r.judged else "–",
                 fmt_p(r.q_faster if r.change < 0 else r.q), verdict]
        lines.append("| " + " | ".join(one_line(c).replace("|", "\\|") for c in cells) + " |")
    return lines


def describe(result):
    c = result.context
    return ", ".join(x for x in (c.get("gilbench_git_revision") and
                                 f"commit {c['gilbench_git_revision']}",
                                 c.get("gilbench_mode") and f"{c['gilbench_mode']} mode",
                                 c.get("gilbench_repetitions") and
                                 f"{c['gilbench_repetitions']} repetitions per run",
                                 c.get("host_name") and f"host {c['host_name']}") if x)


def markdown(report):
    """The verdict first, the flagged rows, then every row and every trial folded."""
    opt, trials = report.options, report.trials
    first = [t.first for t in trials]
    head = [f"## gilbench ab: {verdict_line(report)}", "",
            f"- base: {one_line(describe(trials[0].base))}",
            f"- head: {one_line(describe(trials[0].head))}",
            f"- {len(trials)} interleaved trials (base first in {first.count('base')}, head "
            f"first in {first.count('head')}"
            + (f", unknown in {first.count('')}" if first.count("") else "")
            + f"), {len(report.rows)} benchmarks, each run stood for by the "
            f"{opt.statistic} of its repetitions. A row is flagged when the Hodges-Lehmann "
            f"estimate of its per-trial head/base ratios is beyond +{opt.threshold:.0%} and "
            f"the exact one-sided Wilcoxon signed-rank test across the trials (head slower?) "
            f"passes Benjamini-Hochberg at q < {opt.alpha}.",
            f"- the whole suite (median row per trial): {fmt_change(report.suite_shift)} "
            f"(signed-rank p {fmt_p(report.suite_p)}); machine speed flips: "
            + (", ".join(f"trial {t.index}" for t in report.flips) or "none")
            + f" (a trial's shift more than {opt.flip_limit:g} in log from the median; "
            f"--normalise {opt.normalise})."]
    for p in report.problems:
        head.append(f"- **cannot judge:** {p}")
    for n in report.notes:
        head.append(f"- {one_line(n)}")
    if report.lone_trials:
        head += ["", f"> **Warning:** with these trials a regression of one benchmark alone "
                 f"cannot pass the BH correction over {sum(r.judged for r in report.rows)} rows "
                 f"(it needs {report.lone_trials} trials or more); several rows that regress "
                 f"together can."]
    flagged = [r for r in report.rows if r.verdict in ("regression", "failed")]
    if flagged:
        head += ["", "### Flagged rows", ""] + row_table(flagged)
    if report.layout:
        head += ["", "### Slower by code placement (not gated)", ""] + row_table(report.layout)
    body = ["", f"<details><summary>All {len(report.rows)} rows</summary>", ""]
    body += row_table(report.rows) + ["", "</details>", ""]
    body += ["<details><summary>Trials: order and the whole suite's shift</summary>", "",
             "| trial | first | suite shift (median row) | rows moving with it | flipped | "
             "subtracted |", "|---:|---|---:|---:|---|---:|"]
    for t in trials:
        body.append(f"| {t.index} | {t.first or '?'} | {fmt_change(math.exp(t.shift) - 1)} | "
                    + ("–" if math.isnan(t.with_shift) else f"{t.with_shift:.0%}")
                    + f" | {'**yes**' if t.flipped else 'no'} | {t.normalised:+.3f} |")
    body += ["", "</details>"]
    return "\n".join(head + body) + "\n"


def as_data(report):
    def num(v):
        return None if isinstance(v, float) and not math.isfinite(v) else v
    return {
        "verdict": verdict_line(report), "exit_status": report.exit_status,
        "options": dict(vars(report.options)), "problems": list(report.problems),
        "notes": list(report.notes), "suite_shift": num(report.suite_shift),
        "suite_p": num(report.suite_p), "lone_regression_needs_trials": report.lone_trials,
        "trials": [{"index": t.index, "base": t.base.path, "head": t.head.path,
                    "first": t.first or None, "shift": num(t.shift),
                    "with_shift": num(t.with_shift), "flipped": t.flipped,
                    "normalised": t.normalised} for t in report.trials],
        "regressions": [{"name": r.name, "verdict": r.verdict} for r in report.regressions],
        "rows": [{"name": r.name, "workers": r.workers, "base": num(r.base),
                  "head": num(r.head), "change": num(r.change), "p_slower": num(r.p),
                  "q_slower": num(r.q), "p_faster": num(r.p_faster),
                  "q_faster": num(r.q_faster),
                  "slower": r.slower, "trials": len(r.ratios),
                  "log_ratios": [num(x) for x in r.ratios], "verdict": r.verdict,
                  "note": r.note, "judged": r.judged} for r in report.rows],
    }


def as_json(report):
    return json_text(as_data(report), indent=1) + "\n"


def annotations(report):
    """GitHub Actions ::error lines: one per flagged row and per problem."""
    from .render import annotation_text
    lines = []
    for r in report.regressions:
        what = (f"ab lane: {fmt_ms(r.base)} -> {fmt_ms(r.head)} ms ({fmt_change(r.change)})"
                if r.verdict == "regression" else f"ab lane: failed: {r.note}")
        lines.append(f"::error title={annotation_text(f'gilbench {r.verdict}: {r.name}', True)}"
                     f"::{annotation_text(one_line(r.name + ': ' + what))}")
    for p in report.problems:
        lines.append(f"::error title=gilbench ab cannot judge::{annotation_text(one_line(p))}")
    return lines
