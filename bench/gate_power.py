#!/usr/bin/python3
"""How good are the regression gates on this machine? False flags and power.

usage: /usr/bin/python3 bench/gate_power.py --out DIR [--sections ci,compare] [--pairs 10]
           [--cases aa,decref_fence,...] [--ref HEAD] [--trials 16] [--ab-repetitions 3]
           [--instr-pairs 3] [--inject-1worker countdown/serial:0.1]
           [--inject-2worker list_sum/fine_lock:0.1]
           [--gilbench BIN] [--aa-pairs N] [--fractions 0.02,0.05,0.1,0.2|none]
           [--target countdown/gil] [--workloads countdown,list_sum]
           [--strategies serial,gil,fine_lock] [--aa-full] [--no-instructions]

Section `ci`: the lanes .ci/run gates, on real code changes. The base is --ref
(default HEAD) built beside the working tree (build-ab/power/base: a git worktree,
Release, target gilbench, as bench/ab.sh builds its base); each code regression
is a patch of bench/gate_power/ applied to its own worktree of --ref with
`git apply` and built the same way:

  decref_fence       a std::atomic_thread_fence(seq_cst) after atomic_rc's decref
  heap_counter       a process-wide atomic counter in heap_alloc
  gil_handoff_delay  5 us of spinning in the GIL's drop path before the waiter is woken
  false_sharing      a per-worker checkpoint counter, the 8 counters on one cache line

and two injected slowdowns of the base binary (gilbench --inject-slowdown, the
head's runs only): --inject-1worker (default countdown/serial:0.1, a workload and
strategy with one row, at 1 worker) and --inject-2worker (default
list_sum/fine_lock:0.1; its 2-worker row is the target). Case `aa` runs the base
against itself. Each case has --pairs pairs (default 10), and each pair is what
.ci/run does:

  A/B lane       bench/ab.sh --base-bin BASE --head-bin HEAD: --trials interleaved
                 trials of `--quick --repetitions=R`, compared by gilbench_results.ab
                 (plot.py ab); the same trials are also judged with --normalise
                 always and never, to show what the choice of normalisation costs;
  instructions   the 1-worker rows of a head run counted under callgrind (plot.py
                 instructions) and compared with the counts of a base run by the gate
                 (gilbench_results.gate, --gate instructions). The counts are
                 deterministic, so only the first --instr-pairs pairs (default 3)
                 count; pair i reuses the counts of pair i mod --instr-pairs.

A lane flags a pair when it flags a row as a regression (or failed); for the injected
cases only when it flags a target row and no row outside the injected workload and
strategy. "CI" counts the pairs either gated lane flags (what fails the job). A/A
flags are false flags. Writes DIR/gate_power.md (the tables; copy it to
results/<machine>/gate_power.md) and keeps every run, count and report in DIR.

Section `compare` (the earlier experiment, plot.py compare's lanes on files from
different runs): A/A pairs and injected slowdowns of --target at --fractions, each
run `gilbench --quick --repetitions=11` restricted to --workloads and --strategies
(its 1-worker rows counted unless --no-instructions); A/A pairs are full --quick
runs with --aa-full. A lane catches the slowdown in a pair when it flags a row of
TARGET and no other. Its binary is --gilbench, else the `ci` section's base build,
else build/gilbench. --no-instructions leaves the instruction lane out of both
sections (for trying the script out).

The flags are read from the lanes' data, never from their markdown.
Exit 0, or 2 on bad arguments, a build or patch that fails, or a failed run.
"""

import argparse
import collections
import math
import os
import random
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLOT = os.path.join(ROOT, "plot.py")
AB_SH = os.path.join(ROOT, "bench", "ab.sh")
PATCHES = os.path.join(ROOT, "bench", "gate_power")
sys.path.insert(0, os.path.join(ROOT, "bench", "python"))

from gilbench_results import ab, gate, render  # noqa: E402
from gilbench_results.errors import InputError  # noqa: E402
from gilbench_results.load import load_result  # noqa: E402
from gilbench_results.output import write_output  # noqa: E402
from gilbench_results.stats import median  # noqa: E402

LANES = gate.LANES
PYTHON = sys.executable  # the interpreter that runs this script, which sees the library
CODE_CASES = {
    "decref_fence": "`std::atomic_thread_fence(seq_cst)` after `atomic_rc`'s decref",
    "heap_counter": "a process-wide atomic counter in `heap_alloc`",
    "gil_handoff_delay": "5 us of spinning in the GIL's drop path before the hand-off",
    "false_sharing": "a per-worker checkpoint counter, all on one cache line",
}
CASES = ["aa", *CODE_CASES, "inject1", "inject2"]
CI_LANES = ("instructions", "ab")
NORMALISE_SHOWN = ("flips", "always", "never")
DRAWS = 100  # resamples per cell of the design section


def fail(msg):
    print(f"gate_power.py: {msg}", file=sys.stderr)
    sys.exit(2)


def log(msg):
    print(f"gate_power.py: {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# Builds -----------------------------------------------------------------------------

def build(ref_sha, name, patch, jobs):
    """The gilbench binary of ref_sha with `patch` applied, built in build-ab/power/NAME
    (a git worktree, reused: checked out again and cleaned, then built incrementally)."""
    top = os.path.join(ROOT, "build-ab", "power", name)
    src, bld = os.path.join(top, "src"), os.path.join(top, "build")
    os.makedirs(top, exist_ok=True)
    if os.path.exists(os.path.join(src, ".git")):
        steps = [["git", "-C", src, "checkout", "--quiet", "--detach", "--force", ref_sha],
                 ["git", "-C", src, "clean", "-fdxq"]]
    else:
        shutil.rmtree(src, ignore_errors=True)
        run(["git", "-C", ROOT, "worktree", "prune"])
        steps = [["git", "-C", ROOT, "worktree", "add", "--detach", "--force", src, ref_sha]]
    if patch:
        steps.append(["git", "-C", src, "apply", "--whitespace=nowarn", patch])
    steps += [["cmake", "-S", src, "-B", bld, "-DCMAKE_BUILD_TYPE=Release",
               "-DGILBENCH_TESTS=OFF"],
              ["cmake", "--build", bld, "--target", "gilbench", "-j", str(jobs)]]
    start = time.time()
    with open(os.path.join(top, "build.log"), "w") as logf:
        for cmd in steps:
            logf.write("$ " + " ".join(cmd) + "\n")
            logf.flush()
            p = subprocess.run(cmd, stdout=logf, stderr=subprocess.STDOUT, text=True)
            if p.returncode != 0:
                fail(f"{name}: `{' '.join(cmd)}` exited {p.returncode} (see {top}/build.log)"
                     + (": the patch no longer applies to this tree; refresh it" if
                        cmd[3:4] == ["apply"] else ""))
    log(f"built {name} in {time.time() - start:.0f} s")
    return os.path.join(bld, "gilbench")


# The compare section (plot.py compare's lanes) -------------------------------------------

def gilbench_run(binary, path, extra, instructions):
    cmd = [binary, "--quick", "--repetitions=11", f"--out={path}"] + extra
    p = run(cmd)
    if p.returncode != 0:
        fail(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-2000:]}")
    if instructions:
        count_instructions(path, binary)


def count_instructions(path, binary):
    p = run([PYTHON, PLOT, "instructions", path, "--gilbench", binary])
    if p.returncode != 0:
        fail(f"plot.py instructions {path} exited {p.returncode}:\n{p.stderr[-2000:]}")


def flagged(base, new, md, options=None):
    """The gate on BASE and NEW: {lane: [runs flagged as a regression or failed]} (each
    run's fields, from the loader), its markdown written to md."""
    try:
        report = gate.compare(load_result(base), load_result(new), options or gate.Options())
        write_output(md, render.markdown(report))
    except InputError as e:
        fail(f"compare {base} {new}: {e}")
    if report.problems:
        fail(f"compare {base} {new} cannot judge: {'; '.join(report.problems)}")
    return {lane.key: [report.new.runs[r.name] for r in lane.rows
                       if r.verdict in ("regression", "failed")] for lane in report.lanes}


def compare_section(args, binary, out):
    os.makedirs(out, exist_ok=True)
    subset = [f"--workloads={args.workloads}", f"--strategies={args.strategies}"]
    instr = not args.no_instructions
    target = tuple(args.target.partition("/")[::2])
    aa_pairs = args.pairs if args.aa_pairs is None else args.aa_pairs
    report = ["## plot.py compare's lanes on runs from different moments", "",
              f"gilbench `--quick --repetitions=11`; subset `{' '.join(subset)}`; "
              f"target `{args.target}`; {args.pairs} pairs per row.", ""]
    aa_rows = []
    for i in range(aa_pairs):
        a, b = (os.path.join(out, f"aa{i}_{s}.json") for s in "ab")
        extra = [] if args.aa_full else subset
        for path in (a, b):
            gilbench_run(binary, path, extra, instr)
        lanes = flagged(a, b, os.path.join(out, f"aa{i}.md"))
        aa_rows.append(lanes)
        log(f"compare A/A {i}: " + ", ".join(f"{k} {len(v)}" for k, v in lanes.items()))
    if aa_rows:
        report += ["### A/A (same build twice): falsely flagged benchmarks per pair",
                   "", f"runs: {'full --quick suite' if args.aa_full else 'the subset'}", "",
                   "| pair | " + " | ".join(LANES) + " |",
                   "|---|" + "---:|" * len(LANES)]
        for i, lanes in enumerate(aa_rows):
            report.append(f"| {i} | " + " | ".join(str(len(lanes[k])) + (
                " (" + ", ".join(r.name for r in lanes[k]) + ")" if lanes[k] else "")
                for k in LANES) + " |")
        report.append("")
    if args.fraction_list:
        report += ["### Injected slowdown of the target: pairs caught (target flagged, nothing "
                   "else) / pairs", "",
                   "| fraction | " + " | ".join(LANES) + " | other rows flagged |",
                   "|---:|" + "---:|" * (len(LANES) + 1)]
        for f in args.fraction_list:
            caught = {k: 0 for k in LANES}
            others = set()
            for i in range(args.pairs):
                a = os.path.join(out, f"f{f}_{i}_base.json")
                b = os.path.join(out, f"f{f}_{i}_slow.json")
                gilbench_run(binary, a, subset, instr)
                gilbench_run(binary, b, subset + [f"--inject-slowdown={args.target}:{f}"], instr)
                lanes = flagged(a, b, os.path.join(out, f"f{f}_{i}.md"))
                for lane, runs in lanes.items():
                    hit = [r for r in runs if (r.workload, r.strategy) == target]
                    miss = [r for r in runs if (r.workload, r.strategy) != target]
                    others.update(f"{lane}:{r.name}" for r in miss)
                    if hit and not miss:
                        caught[lane] += 1
                log(f"compare f={f} pair {i}: " + ", ".join(
                    f"{k} {[r.name for r in v]}" for k, v in lanes.items()))
            report.append(f"| {f:g} | " + " | ".join(f"{caught[k]}/{args.pairs}" for k in LANES)
                          + f" | {', '.join(sorted(others)) or 'none'} |")
        report.append("")
    return report


# The ci section (.ci/run's lanes) ----------------------------------------------------------

def parse_inject(text, option):
    """WORKLOAD/STRATEGY:FRACTION -> (workload, strategy, fraction text)."""
    spec, _, frac = text.rpartition(":")
    workload, _, strategy = spec.partition("/")
    try:
        ok = workload and strategy and "/" not in strategy and 0 < float(frac) <= 1
    except ValueError:
        ok = False
    if not ok:
        fail(f"{option} {text!r}: not WORKLOAD/STRATEGY:FRACTION (fraction in (0, 1])")
    return workload, strategy, frac


class Case:
    """One case of the ci section: how its head is made and what counts as caught."""

    def __init__(self, key, what, head_bin, head_flags=(), target=None):
        self.key, self.what, self.head_bin = key, what, head_bin
        self.head_flags = list(head_flags)
        self.target = target  # (workload, strategy, workers or None) of an injected case
        self.pairs = []  # per pair: {lane: [flagged rows' fields]}, lane "ab:<mode>" too

    def hits(self, runs):
        """Whether a lane's flagged runs catch this case (see the module docstring)."""
        if self.target is None:
            return bool(runs)
        w, s, n = self.target
        on = [r for r in runs if (r.workload, r.strategy) == (w, s)]
        off = [r for r in runs if (r.workload, r.strategy) != (w, s)]
        return any(n is None or r.workers == n for r in on) and not off


def ab_pair(args, case, base_bin, work, seed):
    """One A/B pair through bench/ab.sh; {"ab:<mode>": flagged runs} for each mode."""
    cmd = [AB_SH, "--base-bin", base_bin, "--head-bin", case.head_bin, "--trials",
           str(args.trials), "--repetitions", str(args.ab_repetitions), "--work", work,
           "--seed", str(seed), "--threshold", str(args.ab_threshold)] + \
        [f"--head-flag={f}" for f in case.head_flags]
    p = run(cmd)
    if p.returncode not in (0, 1):
        fail(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-3000:]}")
    out = {}
    try:
        trials = ab.load_trials(work)
        # the layout check, as ab.sh's plot.py ab makes it (one count per row and side)
        count = ab.callgrind_counter(base_bin, case.head_bin, trials) if shutil.which("valgrind") \
            else None
        for mode in NORMALISE_SHOWN:
            report = ab.compare(trials, ab.Options(normalise=mode, threshold=args.ab_threshold),
                                count)
            if report.problems:
                fail(f"ab {work} cannot judge: {'; '.join(report.problems)}")
            runs = trials[0].head.runs
            out[f"ab:{mode}"] = [runs[r.name] for r in report.regressions]
            if mode == "flips":
                out["flips"] = len(report.flips)
                if (p.returncode == 1) != bool(report.regressions):
                    fail(f"ab.sh exited {p.returncode} but the lane flagged "
                         f"{len(report.regressions)} rows ({work})")
    except InputError as e:
        fail(f"ab {work}: {e}")
    return out


def instructions_pair(args, case, base_counts, work, i):
    """{"instructions": flagged runs}: counts of the pair's head run against base_counts."""
    src = os.path.join(work, "head-0.json")
    head = os.path.join(work, "head-counts.json")
    shutil.copyfile(src, head)
    count_instructions(head, case.head_bin)
    lanes = flagged(base_counts, head, os.path.join(work, "instructions.md"),
                    gate.Options(gate="instructions"))
    return {"instructions": lanes["instructions"]}


def ci_section(args, out, base_bin, cases):
    instr_counts = {}  # pair index -> (base counts file, {case: head counts file})
    for case in cases:
        for i in range(args.pairs):
            work = os.path.join(out, case.key, f"pair{i}")
            if os.path.isdir(work):
                shutil.rmtree(work)
            os.makedirs(work)
            seed = 1000 * CASES.index(case.key) + i
            lanes = ab_pair(args, case, base_bin, work, seed)
            k = i % args.instr_pairs
            if args.no_instructions:
                lanes["instructions"] = []
            elif i < args.instr_pairs:
                base_counts = os.path.join(out, f"base-counts-{k}.json")
                if not os.path.exists(base_counts):
                    shutil.copyfile(os.path.join(work, "base-0.json"), base_counts)
                    count_instructions(base_counts, base_bin)
                lanes.update(instructions_pair(args, case, base_counts, work, i))
                instr_counts[(case.key, k)] = lanes["instructions"]
            else:
                lanes["instructions"] = instr_counts[(case.key, k)]
            case.pairs.append(lanes)
            log(f"{case.key} pair {i}: " + "; ".join(
                f"{lane} {[r.name for r in runs]}" for lane, runs in lanes.items()
                if lane != "flips") + f"; flips {lanes['flips']}")


def trial_seconds(work):
    """Seconds per trial of an ab.sh work directory, from trials.tsv's start times."""
    starts = []
    try:
        with open(os.path.join(work, "trials.tsv")) as f:
            for line in f.read().splitlines()[1:]:
                h, m, sec = (int(x) for x in line.split("\t")[3].split(":"))
                starts.append(h * 3600 + m * 60 + sec)
    except (OSError, ValueError, IndexError):
        return None
    steps = [(b - a) % 86400 for a, b in zip(starts, starts[1:])]
    return sum(steps) / len(steps) if steps else None


def aa_matrix(works, statistic="min", first=None):
    """The A/A trials of ab.sh work directories pooled: ({name: [log ratio per trial]},
    {name: run of the first file}, [seconds per trial]). first: only the first k
    repetitions of each run (what a run of k repetitions would have measured)."""
    matrix, runs, seconds = {}, {}, []
    of = ab.STATISTICS[statistic]
    for work in works:
        trials = ab.load_trials(work)
        for name, run in trials[0].base.runs.items():
            runs.setdefault(name, run)
            column = matrix.setdefault(name, [])
            for t in trials:
                a, b = t.base.runs[name], t.head.runs[name]
                ok = not a.failed and not b.failed and a.times and b.times
                column.append(math.log(of(b.samples()[:first]) / of(a.samples()[:first]))
                              if ok else None)
        s = trial_seconds(work)
        if s:
            seconds.append(s)
    return matrix, runs, seconds


def robust_sd(values):
    values = [v for v in values if v is not None]
    if len(values) < 3:
        return math.nan
    m = median(values)
    return 1.4826 * median([abs(v - m) for v in values])


def row_class(run):
    kind = run.source.kinds.get(run.workload)
    return f"cpu, {min(run.workers, 2)} worker" + ("s" if run.workers > 1 else "") \
        if kind == "cpu" else "io and start-up"


def design_section(args, aa_works):
    """The measurements behind the A/B lane's design, from the A/A pairs' trials: the
    machine's per-trial shifts (flips), each row's noise by the statistic and the
    repetitions, the cost of a trial, and the power for a lone 10% slowdown at several
    trial counts (resampled)."""
    opt = ab.Options(threshold=args.ab_threshold)
    matrix, runs, seconds = aa_matrix(aa_works)
    n = len(next(iter(matrix.values())))
    shifts, centre, flipped, _ = ab.trial_shifts(matrix, n, opt)
    excess = sorted(abs(x - centre) for x in shifts if not math.isnan(x))
    reps = args.ab_repetitions
    lines = ["## Why the A/B lane is built as it is: measurements from the A/A trials", "",
             f"{n} A/A trials ({len(aa_works)} pairs of {args.trials}) at "
             f"`--repetitions={reps}`"
             + (f", {median(seconds):.1f} s per trial (base and head)" if seconds else "")
             + f". The whole suite's shift per trial (median log ratio over the rows) from the "
             f"median trial: median {median(excess):.3f}, 90th percentile "
             f"{excess[int(0.9 * (len(excess) - 1))]:.3f}, largest {excess[-1]:.3f}; "
             f"diagnosed as flips (beyond {opt.flip_limit}): {sum(flipped)} of {n}.", "",
             "Noise of a row: robust SD (1.4826 MAD) of its per-trial log ratios, median over "
             "the rows of a class (90th percentile), by what stands for a run:", ""]
    variants = [("first repetition (R=1)", "min", 1)]
    variants += [(f"min of {k}", "min", k) for k in range(2, reps + 1)]
    if reps > 1:
        variants.append((f"median of {reps}", "median", reps))
    classes = sorted({row_class(r) for r in runs.values()})
    lines += ["| run stands for | " + " | ".join(classes) + " |",
              "|---|" + "---:|" * len(classes)]
    for label, statistic, k in variants:
        m = aa_matrix(aa_works, statistic, k)[0] if (statistic, k) != ("min", reps) else matrix
        cells = []
        for c in classes:
            sds = sorted(v for v in (robust_sd(m[name]) for name in m if row_class(runs[name]) == c)
                         if not math.isnan(v))
            cells.append(f"{median(sds):.3f} ({sds[int(0.9 * (len(sds) - 1))]:.3f})"
                         if sds else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cpu = [k for k in matrix if runs[k].source.kinds.get(runs[k].workload) == "cpu"]
    one = [k for k in cpu if runs[k].workers == 1]
    two = [k for k in cpu if runs[k].workers == 2]
    rng = random.Random(12)
    lines += ["", f"Resampled from these trials ({DRAWS} draws per cell): sets of T trials "
              f"with a false flag, and a 10% slowdown added to one random CPU row alone (the "
              f"lane as gated: min of {reps}, flips normalised, BH q < 0.05, threshold "
              f"{args.ab_threshold:.0%}):", "",
              "| T | A/A: draws with a false flag | lone 1-worker row caught | lone 2-worker "
              "row caught |", "|---:|---:|---:|---:|"]
    for t in [x for x in (10, 13, 16, 20, 30) if x <= n]:
        false = 0
        hits = {1: 0, 2: 0}
        for _ in range(DRAWS):
            pick = rng.sample(range(n), t)
            sub = {k: [xs[i] for i in pick] for k, xs in matrix.items()}
            false += any(r.verdict == "regression" for r in ab.judge_matrix(sub, opt)[1].values())
            for workers, rows in ((1, one), (2, two)):
                if rows:
                    target = rng.choice(rows)
                    slowed = dict(sub)
                    slowed[target] = [None if x is None else x + math.log(1.1)
                                      for x in sub[target]]
                    hits[workers] += ab.judge_matrix(slowed, opt)[1][target].verdict == \
                        "regression"
        lines.append(f"| {t} | {false}/{DRAWS} | {hits[1]}/{DRAWS} | {hits[2]}/{DRAWS} |")
    return lines + [""]


def ci_tables(args, cases):
    """The markdown of the ci section's results."""
    n = args.pairs
    lines = ["## The lanes .ci/run gates: false flags and power, pairs flagged / pairs", "",
             f"Each pair: the A/B lane (`bench/ab.sh`, {args.trials} interleaved trials of "
             f"`--quick --repetitions={args.ab_repetitions}`, `plot.py ab`: exact Wilcoxon "
             f"signed-rank across the trials, BH q < 0.05, threshold {args.ab_threshold:.0%}, speed flips "
             f"normalised) and the instruction lane (callgrind counts of the 1-worker rows, "
             f"threshold 1%; deterministic, so counted in the first {args.instr_pairs} pairs "
             f"and reused). CI fails a pair when either lane flags it. The A/B columns "
             f"`always` and `never` judge the same trials with every trial normalised, or "
             f"none (not gated: what the choice costs).", "",
             "| case | change | instructions | A/B lane | CI (either) | A/B always | A/B never "
             "| rows flagged (pairs) | trials flipped |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for case in cases:
        def count(lane):
            return sum(case.hits(p[lane]) for p in case.pairs)
        either = sum(case.hits(p["instructions"]) or case.hits(p["ab:flips"])
                     for p in case.pairs)
        rows = collections.Counter(r.name for p in case.pairs
                                   for lane in ("instructions", "ab:flips") for r in p[lane])
        shown = ", ".join(f"`{name}` ({c})" for name, c in rows.most_common(4))
        if len(rows) > 4:
            shown += f" (+{len(rows) - 4} more rows)"
        flips = sum(p["flips"] for p in case.pairs)
        instr = ("–" if case.target and case.target[2] not in (None, 1) else
                 "not run" if args.no_instructions else f"{count('instructions')}/{n}")
        lines.append(f"| {case.key} | {case.what} | {instr} | {count('ab:flips')}/{n} | "
                     f"{either}/{n} | {count('ab:always')}/{n} | {count('ab:never')}/{n} | "
                     f"{shown or 'none'} | {flips} of {n * args.trials} |")
    aa = next((c for c in cases if c.key == "aa"), None)
    if aa:
        lines += ["", "A/A: rows falsely flagged per pair, by lane: " + "; ".join(
            f"{lane} " + ", ".join(str(len(p[lane])) for p in aa.pairs)
            for lane in ("instructions", "ab:flips", "ab:always", "ab:never")) + "."]
    lines += ["", "Injected cases count a pair only when the lane flags a target row "
              "(inject1: its only row; inject2: its 2-worker row, which the instruction "
              "lane cannot count: –) and no row outside the injected workload and "
              "strategy.", ""]
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--sections", default="ci,compare")
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--ref", default="HEAD")
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--ab-threshold", type=float, default=0.07,
                    help="the A/B lane's threshold (default 0.07, what .ci/run gates at)")
    ap.add_argument("--ab-repetitions", type=int, default=3)
    ap.add_argument("--instr-pairs", type=int, default=3)
    ap.add_argument("--inject-1worker", default="countdown/serial:0.1")
    ap.add_argument("--inject-2worker", default="list_sum/fine_lock:0.1")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-design", dest="design", action="store_false",
                    help="leave out the design section (resampled power from the A/A trials)")
    ap.add_argument("--gilbench")
    ap.add_argument("--aa-pairs", type=int, default=None)
    ap.add_argument("--fractions", default="0.02,0.05,0.1,0.2")
    ap.add_argument("--target", default="countdown/gil", help="WORKLOAD/STRATEGY slowed down")
    ap.add_argument("--workloads", default="countdown,list_sum")
    ap.add_argument("--strategies", default="serial,gil,fine_lock")
    ap.add_argument("--aa-full", action="store_true")
    ap.add_argument("--no-instructions", action="store_true")
    args = ap.parse_args()
    sections = args.sections.split(",")
    if not set(sections) <= {"ci", "compare"} or not sections:
        fail(f"--sections {args.sections!r}: ci, compare or both")
    cases = args.cases.split(",")
    if not set(cases) <= set(CASES):
        fail(f"--cases {args.cases!r}: from {','.join(CASES)}")
    if args.gilbench and not os.access(args.gilbench, os.X_OK):
        fail(f"--gilbench {args.gilbench}: not an executable file")
    for opt in ("pairs", "trials", "ab_repetitions", "instr_pairs", "jobs"):
        if getattr(args, opt) < 1:
            fail(f"--{opt.replace('_', '-')} must be at least 1")
    args.instr_pairs = min(args.instr_pairs, args.pairs)
    if args.aa_pairs is not None and args.aa_pairs < 0:
        fail("--aa-pairs must not be negative")
    try:
        args.fraction_list = [] if args.fractions == "none" else [
            float(f) for f in args.fractions.split(",") if f]
    except ValueError:
        fail(f"--fractions {args.fractions!r}: not a comma-separated list of numbers")
    if (not args.fraction_list and args.fractions != "none") or any(
            not 0 < f <= 1 for f in args.fraction_list):
        fail(f"--fractions {args.fractions!r}: each must be in (0, 1]")
    if args.target.count("/") != 1 or not all(args.target.partition("/")[::2]):
        fail(f"--target {args.target!r}: not WORKLOAD/STRATEGY")
    inject1 = parse_inject(args.inject_1worker, "--inject-1worker")
    inject2 = parse_inject(args.inject_2worker, "--inject-2worker")
    os.makedirs(args.out, exist_ok=True)
    started = time.time()

    base_bin = args.gilbench
    report = ["# Regression gates: false flags and power", ""]
    if "ci" in sections:
        sha = run(["git", "-C", ROOT, "rev-parse", "--verify", args.ref + "^{commit}"])
        if sha.returncode != 0:
            fail(f"--ref {args.ref}: not a commit of this checkout")
        sha = sha.stdout.strip()
        ci_base = build(sha, "base", None, args.jobs)
        base_bin = base_bin or ci_base
        built = []
        for key in cases:
            if key == "aa":
                built.append(Case("aa", "none (the base against itself)", ci_base))
            elif key in CODE_CASES:
                patch = os.path.join(PATCHES, key + ".patch")
                built.append(Case(key, CODE_CASES[key], build(sha, key, patch, args.jobs)))
            else:
                w, s, frac = inject1 if key == "inject1" else inject2
                workers = 1 if key == "inject1" else 2
                built.append(Case(key, f"`--inject-slowdown={w}/{s}:{frac}` (target: "
                                  f"`{w}/{s}/workers:{workers}`)", ci_base,
                                  [f"--inject-slowdown={w}/{s}:{frac}"], (w, s, workers)))
        fingerprint = run([ci_base, "--fingerprint"]).stdout.strip()
        report += [f"Commit {sha[:12]} (--ref {args.ref}), machine:", "", "```",
                   fingerprint, "```", ""]
        ci_out = os.path.join(args.out, "ci")
        ci_section(args, ci_out, ci_base, built)
        report += ci_tables(args, built)
        if "aa" in cases and args.design:
            report += design_section(args, [os.path.join(ci_out, "aa", f"pair{i}")
                                            for i in range(args.pairs)])
    if "compare" in sections:
        binary = base_bin or os.path.join(ROOT, "build", "gilbench")
        if not os.access(binary, os.X_OK):
            fail(f"{binary}: not an executable file (give --gilbench)")
        report += compare_section(args, binary, os.path.join(args.out, "compare"))
    report += [f"Command: `bench/gate_power.py {' '.join(sys.argv[1:])}`; "
               f"{(time.time() - started) / 60:.0f} minutes.", ""]
    text = "\n".join(report)
    try:
        write_output(os.path.join(args.out, "gate_power.md"), text)
    except InputError as e:
        fail(str(e))
    print(text)


if __name__ == "__main__":
    main()
