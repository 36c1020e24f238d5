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
import hashlib
import json
import math
import os
import random
import re
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
    out = judge_ab(args, work, base_bin, case.head_bin)
    if (p.returncode == 1) != bool(out["ab:flips"]):
        fail(f"ab.sh exited {p.returncode} but the lane flagged "
             f"{len(out['ab:flips'])} rows ({work})")
    return out


def judge_ab(args, work, base_bin, head_bin):
    """The A/B lane's verdicts on the trials of an ab.sh work directory, with the layout
    check when both binaries are given, exist and valgrind is here."""
    out = {}
    try:
        trials = ab.load_trials(work)
        # the layout check, as ab.sh's plot.py ab makes it (one count per row and side)
        count = ab.callgrind_counter(base_bin, head_bin, trials) if shutil.which("valgrind") \
            and base_bin and head_bin else None
        out["layout_check"] = count is not None
        for mode in NORMALISE_SHOWN:
            report = ab.compare(trials, ab.Options(normalise=mode, threshold=args.ab_threshold),
                                count)
            if report.problems:
                fail(f"ab {work} cannot judge: {'; '.join(report.problems)}")
            runs = trials[0].head.runs
            out[f"ab:{mode}"] = [runs[r.name] for r in report.regressions]
            if mode == "flips":
                out["flips"] = len(report.flips)
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


def ci_section(args, out, base_bin, cases, ledger_base=None):
    """Pairs round by round (pair i of every case before pair i + 1 of any), so that a run
    stopped by --budget leaves the cases with equal counts; each pair goes to the ledger
    as soon as it is judged."""
    instr_counts = {}  # (case, pair index mod instr_pairs) -> flagged runs
    started = time.time()
    for i in range(args.pairs):
        if args.budget and time.time() - started > args.budget * 60:
            log(f"--budget {args.budget} min spent: stopping before pair {i}")
            break
        for case in cases:
            work = os.path.join(out, case.key, f"pair{i}")
            if os.path.isdir(work):
                shutil.rmtree(work)
            os.makedirs(work)
            seed = args.seed + 1000 * CASES.index(case.key) + i
            lanes = ab_pair(args, case, base_bin, work, seed)
            k = i % args.instr_pairs
            lanes["instructions_counted"] = False
            if args.no_instructions:
                lanes["instructions"] = []
                lanes["instructions_missing"] = True
            elif i < args.instr_pairs:
                base_counts = os.path.join(out, f"base-counts-{k}.json")
                if not os.path.exists(base_counts):
                    shutil.copyfile(os.path.join(work, "base-0.json"), base_counts)
                    count_instructions(base_counts, base_bin)
                lanes.update(instructions_pair(args, case, base_counts, work, i))
                lanes["instructions_counted"] = True
                instr_counts[(case.key, k)] = lanes["instructions"]
            else:
                lanes["instructions"] = instr_counts[(case.key, k)]
            case.pairs.append(lanes)
            if args.ledger:
                append_ledger(args.ledger, ledger_entry(args, case, lanes, dict(
                    ledger_base, seed=seed, pair=os.path.relpath(work, ROOT))))
            log(f"{case.key} pair {i}: " + "; ".join(
                f"{lane} {[r.name for r in runs]}" for lane, runs in lanes.items()
                if lane.startswith(("ab:", "instructions")) and isinstance(runs, list))
                + f"; flips {lanes['flips']}")


# The ledger: pairs that accumulate across runs -------------------------------------------
#
# One JSON object per line, one line per judged pair: the case, the commit its base was
# built from, the machine class (the fingerprint's CPU and CPU count), the date, the
# gate's identity (a hash of the code that runs and judges the trials, its settings, and
# the case's definition) and each lane's flagged rows. A table from the ledger
# (--from-ledger) counts, per machine class, the pairs whose identity is today's, so ten
# pairs per case can be measured over several sessions, each pair saying where it came from.

GATE_FILES = ("bench/ab.sh", "bench/python/gilbench_results/ab.py",
              "bench/python/gilbench_results/gate.py", "bench/python/gilbench_results/stats.py",
              "bench/python/gilbench_results/instructions.py")
LEDGER_LANES = ("instructions", *(f"ab:{m}" for m in NORMALISE_SHOWN))


def sha256_of(*paths):
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            h.update(os.path.relpath(path, ROOT).encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()[:16]


def gate_identity(args, case):
    """What a pair's verdicts depend on besides the code under test."""
    patch = os.path.join(PATCHES, case.key + ".patch")
    return {"gate": sha256_of(*(os.path.join(ROOT, f) for f in GATE_FILES)),
            "trials": args.trials, "repetitions": args.ab_repetitions,
            "threshold": args.ab_threshold,
            "case": sha256_of(patch) if case.key in CODE_CASES else " ".join(case.head_flags)}


def machine_class(fingerprint):
    """The fingerprint's CPU and usable CPUs: 'Intel(R) Xeon(R) Processor (GenuineIntel
    family 6 model 167 stepping 1), 2 CPUs usable'."""
    first = fingerprint.splitlines()[0] if fingerprint else ""
    head, sep, _ = first.removeprefix("machine:").partition(" CPUs usable")
    if not sep:
        fail(f"no machine line in the fingerprint {first!r}")
    return head.strip() + " CPUs usable"


def ledger_entry(args, case, lanes, base):
    entry = dict(base, case=case.key, identity=gate_identity(args, case),
                 flips=lanes["flips"], layout_check=lanes["layout_check"],
                 instructions_counted=lanes["instructions_counted"])
    # each row by its fields, so that no reader parses a name (gilbench_results.schema)
    entry["flagged"] = {lane: [{"name": r.name, "workload": r.workload, "strategy": r.strategy,
                                "workers": r.workers} for r in lanes[lane]]
                        for lane in LEDGER_LANES}
    return entry


def append_ledger(path, entry):
    """One line appended and flushed to disk, so a run that stops loses no judged pair."""
    with open(path, "a") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


class Row:
    """A flagged row of the ledger, with the fields Case.hits reads."""

    def __init__(self, fields):
        self.name, self.workload, self.strategy = (
            str(fields[k]) for k in ("name", "workload", "strategy"))
        self.workers = int(fields["workers"])


def read_ledger(path):
    entries = []
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    e = json.loads(line)
                    pair = {lane: [Row(x) for x in e["flagged"][lane]] for lane in LEDGER_LANES}
                    pair.update(flips=int(e["flips"]), instructions_counted=bool(
                        e["instructions_counted"]), entry=e)
                    for key in ("case", "commit", "machine", "date", "identity"):
                        e[key]  # noqa: B018 (a KeyError names the missing field)
                except (ValueError, KeyError, TypeError) as err:
                    fail(f"{path}:{n}: not a ledger line ({err})")
                entries.append(pair)
    except OSError as e:
        fail(f"--ledger {path}: {e.strerror}")
    return entries


def import_pairs(args, run_dir, cases):
    """Judges the pairs an earlier run left in RUN_DIR/ci/<case>/pair<i> with today's gate
    code and appends them to the ledger: the commit and machine from RUN_DIR/gate_power.md,
    the A/B trials re-judged (with the layout check where both binaries of that commit are
    still built in build-ab/power), the instruction lane from the counts it stored."""
    try:
        with open(os.path.join(run_dir, "gate_power.md")) as f:
            md = f.read()
    except OSError as e:
        fail(f"--import {run_dir}: {e.strerror} (gate_power.md)")
    m = re.search(r"^Commit ([0-9a-f]{7,40}) ", md, re.M)
    fp = re.search(r"^machine: .*$", md, re.M)
    if not m or not fp:
        fail(f"--import {run_dir}: its gate_power.md names no commit or machine")
    sha = run(["git", "-C", ROOT, "rev-parse", "--verify", m.group(1) + "^{commit}"]).stdout.strip()
    if not sha:
        fail(f"--import {run_dir}: commit {m.group(1)} is not in this repository")
    if run(["git", "-C", ROOT, "diff", "--quiet", sha, "--", "bench/ab.sh"]).returncode != 0:
        fail(f"--import {run_dir}: bench/ab.sh changed since {sha[:12]}; its trials were made "
             f"otherwise")
    date = time.strftime("%Y-%m-%d", time.gmtime(os.path.getmtime(os.path.join(run_dir,
                                                                               "gate_power.md"))))

    def built(name):
        src = os.path.join(ROOT, "build-ab", "power", name, "src")
        binary = os.path.join(ROOT, "build-ab", "power", name, "build", "gilbench")
        at = run(["git", "-C", src, "rev-parse", "HEAD"]).stdout.strip()
        return binary if at == sha and os.access(binary, os.X_OK) else None

    base_bin = built("base")
    n = 0
    for case in cases:
        pairs = sorted((d for d in os.listdir(os.path.join(run_dir, "ci", case.key))
                        if re.fullmatch(r"pair\d+", d)), key=lambda d: int(d[4:])) \
            if os.path.isdir(os.path.join(run_dir, "ci", case.key)) else []
        head_bin = built(case.key) if case.key in CODE_CASES else base_bin
        for d in pairs:
            work = os.path.join(run_dir, "ci", case.key, d)
            lanes = judge_ab(args, work, base_bin, head_bin)
            k = int(d[4:]) % args.instr_pairs
            base_counts = os.path.join(run_dir, "ci", f"base-counts-{k}.json")
            head_counts = os.path.join(work, "head-counts.json")
            counted = os.path.exists(head_counts) and os.path.exists(base_counts)
            lanes["instructions"] = flagged(base_counts, head_counts, os.path.join(
                work, "instructions-rejudged.md"), gate.Options(gate="instructions"))[
                "instructions"] if counted and not args.no_instructions else []
            lanes["instructions_counted"] = counted
            append_ledger(args.ledger, ledger_entry(args, case, lanes, dict(
                commit=sha, machine=machine_class(fp.group(0)), date=date, seed=None,
                pair=os.path.relpath(work, ROOT), source=f"imported from {run_dir}")))
            n += 1
            log(f"imported {work}: ab {[r.name for r in lanes['ab:flips']]}, instructions "
                f"{[r.name for r in lanes['instructions']]}, layout check "
                f"{'on' if lanes['layout_check'] else 'off'}")
    if not n:
        fail(f"--import {run_dir}: no pair of the cases {','.join(c.key for c in cases)}")


def instr_key(pair):
    e = pair["entry"]
    return e["commit"], e["case"], json.dumps(e["identity"], sort_keys=True)


def ledger_tables(args, cases):
    """The tables of every machine class in the ledger: the pairs whose identity is
    today's, per case; pairs of another identity are counted and left out."""
    entries = read_ledger(args.ledger)
    today = {c.key: gate_identity(args, c) for c in cases}
    # Instruction counts are deterministic: a pair not counted (counted earlier in its
    # run, or a run with --no-instructions) takes the verdict of a counted pair of the
    # same commit, case and gate; with none, its instruction lane is missing.
    counted = {}
    for p in entries:
        if p["instructions_counted"]:
            counted.setdefault(instr_key(p), p["instructions"])
    for p in entries:
        if not p["instructions_counted"]:
            p["instructions"] = counted.get(instr_key(p), [])
            p["instructions_missing"] = instr_key(p) not in counted
    lines = []
    other = sum(1 for p in entries if p["entry"]["identity"] != today.get(p["entry"]["case"]))
    for machine in sorted({p["entry"]["machine"] for p in entries}):
        for case in cases:
            case.pairs = [p for p in entries if p["entry"]["machine"] == machine and
                          p["entry"]["case"] == case.key and p["entry"]["identity"] == today[case.key]]
        if not any(c.pairs for c in cases):
            continue
        lines += [f"## {machine}", ""] + ci_tables(args, [c for c in cases if c.pairs], "###")
        commits = collections.Counter((p["entry"]["commit"][:12], p["entry"]["date"])
                                      for c in cases for p in c.pairs)
        lines += ["Pairs by base commit: " + ", ".join(
            f"{c} ({d}): {k}" for (c, d), k in sorted(commits.items(), key=lambda x: x[0][1]))
            + ".", ""]
    if other:
        lines += [f"{other} pairs of the ledger were made with another gate (its code, its "
                  f"settings, or a case's definition or selection differ from today's) and are "
                  f"not counted.", ""]
    return lines


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


def ci_tables(args, cases, level="##"):
    """The markdown of the ci section's results."""
    lines = [f"{level} The lanes .ci/run gates: false flags and power, pairs flagged / pairs", "",
             f"Each pair: the A/B lane (`bench/ab.sh`, {args.trials} interleaved trials of "
             f"`--quick --repetitions={args.ab_repetitions}`, `plot.py ab`: exact Wilcoxon "
             f"signed-rank across the trials, BH q < 0.05, threshold {args.ab_threshold:.0%}, speed flips "
             f"normalised) and the instruction lane (callgrind counts of the 1-worker rows, "
             f"threshold 1%; deterministic, so counted in the first {args.instr_pairs} pairs "
             f"of a run and reused in its others). CI fails a pair when either lane flags it. The A/B columns "
             f"`always` and `never` judge the same trials with every trial normalised, or "
             f"none (not gated: what the choice costs).", "",
             "| case | change | instructions | A/B lane | CI (either) | A/B always | A/B never "
             "| rows flagged (pairs) | trials flipped |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for case in cases:
        n = len(case.pairs)

        def count(lane):
            return sum(case.hits(p[lane]) for p in case.pairs)
        either = sum(case.hits(p["instructions"]) or case.hits(p["ab:flips"])
                     for p in case.pairs)
        have = [p for p in case.pairs if not p.get("instructions_missing")]
        rows = collections.Counter(r.name for p in case.pairs
                                   for lane in ("instructions", "ab:flips") for r in p[lane])
        shown = ", ".join(f"`{name}` ({c})" for name, c in rows.most_common(4))
        if len(rows) > 4:
            shown += f" (+{len(rows) - 4} more rows)"
        flips = sum(p["flips"] for p in case.pairs)
        counted = sum(p.get("instructions_counted", True) for p in case.pairs)
        instr = ("–" if case.target and case.target[2] not in (None, 1) else
                 "not run" if not have else
                 f"{sum(case.hits(p['instructions']) for p in have)}/{len(have)}"
                 + (f" ({counted} counted)" if counted < len(have) else ""))
        lines.append(f"| {case.key} | {case.what} | {instr} | {count('ab:flips')}/{n} | "
                     f"{either}/{n} | {count('ab:always')}/{n} | {count('ab:never')}/{n} | "
                     f"{shown or 'none'} | {flips} of {n * args.trials} |")
    aa = next((c for c in cases if c.key == "aa"), None)
    if aa:
        lines += ["", "A/A: rows falsely flagged per pair, by lane: " + "; ".join(
            f"{lane} " + ", ".join("–" if lane == "instructions" and p.get("instructions_missing")
                                   else str(len(p[lane])) for p in aa.pairs)
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
    ap.add_argument("--ledger", help="append each judged pair of the ci section to this "
                    "JSON-lines file (created if missing)")
    ap.add_argument("--from-ledger", action="store_true",
                    help="run nothing: the ci section's tables from every pair of --ledger "
                    "made with today's gate, one table per machine class")
    ap.add_argument("--import", dest="import_dir", metavar="RUN_DIR",
                    help="run nothing: judge the pairs an earlier --out RUN_DIR kept with "
                    "today's gate and append them to --ledger")
    ap.add_argument("--budget", type=float, default=None, metavar="MIN",
                    help="start no new round of pairs after MIN minutes")
    ap.add_argument("--seed", type=int, default=None,
                    help="trial orders' seed (default: from the clock; recorded in the ledger)")
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
    if (args.from_ledger or args.import_dir) and not args.ledger:
        fail("--from-ledger and --import need --ledger FILE")
    if args.from_ledger and args.import_dir:
        fail("--from-ledger and --import: one at a time")
    if args.budget is not None and args.budget <= 0:
        fail("--budget must be more than 0 minutes")
    if args.seed is None:
        args.seed = int(time.time()) % 1000000 * 100
    os.makedirs(args.out, exist_ok=True)
    started = time.time()

    def make_case(key, head_bin, sha=None):
        if key == "aa":
            return Case("aa", "none (the base against itself)", head_bin)
        if key in CODE_CASES:
            return Case(key, CODE_CASES[key], build(sha, key, os.path.join(
                PATCHES, key + ".patch"), args.jobs) if sha else None)
        w, s, frac = inject1 if key == "inject1" else inject2
        workers = 1 if key == "inject1" else 2
        return Case(key, f"`--inject-slowdown={w}/{s}:{frac}` (target: "
                    f"`{w}/{s}/workers:{workers}`)", head_bin,
                    [f"--inject-slowdown={w}/{s}:{frac}"], (w, s, workers))

    if args.from_ledger or args.import_dir:
        built = [make_case(key, None) for key in cases]
        if args.import_dir:
            import_pairs(args, args.import_dir, built)
            return
        text = "\n".join(["# Regression gates: false flags and power, from the ledger", "",
                          f"Every pair of `{os.path.relpath(args.ledger, ROOT)}` made with "
                          f"today's gate, by machine class.", ""] + ledger_tables(args, built)
                         + [f"Command: `bench/gate_power.py {' '.join(sys.argv[1:])}`.", ""])
        try:
            write_output(os.path.join(args.out, "gate_power.md"), text)
        except InputError as e:
            fail(str(e))
        print(text)
        return

    base_bin = args.gilbench
    report = ["# Regression gates: false flags and power", ""]
    if "ci" in sections:
        sha = run(["git", "-C", ROOT, "rev-parse", "--verify", args.ref + "^{commit}"])
        if sha.returncode != 0:
            fail(f"--ref {args.ref}: not a commit of this checkout")
        sha = sha.stdout.strip()
        ci_base = build(sha, "base", None, args.jobs)
        base_bin = base_bin or ci_base
        built = [make_case(key, ci_base, sha) for key in cases]
        fingerprint = run([ci_base, "--fingerprint"]).stdout.strip()
        report += [f"Commit {sha[:12]} (--ref {args.ref}), machine:", "", "```",
                   fingerprint, "```", ""]
        ci_out = os.path.join(args.out, "ci")
        ledger_base = dict(commit=sha, machine=machine_class(fingerprint),
                           date=time.strftime("%Y-%m-%d", time.gmtime()), source="run")
        ci_section(args, ci_out, ci_base, built, ledger_base)
        report += ci_tables(args, built)
        aa = next((c for c in built if c.key == "aa"), None)
        if aa and aa.pairs and args.design:
            report += design_section(args, [os.path.join(ci_out, "aa", f"pair{i}")
                                            for i in range(len(aa.pairs))])
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
