#!/usr/bin/python3
"""How good is the regression gate on this machine? False flags and power.

usage: /usr/bin/python3 bench/gate_power.py --gilbench build/gilbench --out DIR
           [--pairs 5] [--aa-pairs N] [--fractions 0.02,0.05,0.1,0.2|none]
           [--target countdown/gil]
           [--workloads countdown,list_sum] [--strategies serial,gil,fine_lock]
           [--aa-full] [--no-instructions]

1. A/A: `--aa-pairs` (default `--pairs`; 0 skips) pairs of runs of the same binary, compared by
   the gate (gilbench_results.gate, what `plot.py compare` runs, with its default options);
   every benchmark it flags is a false flag. With --aa-full
   the pairs are full `--quick` runs (what CI compares); without it they use
   the same subset as step 2.
2. Power (skipped with --fractions none): for each fraction f, `--pairs` pairs (a plain run, then a run with
   `--inject-slowdown=TARGET:f`). A lane catches the slowdown in a pair when
   it flags at least one of TARGET's rows (the runs whose workload and strategy are TARGET's,
   by their fields in gilbench_runs) and no other row.

Each run is `gilbench --quick --repetitions=11`, restricted to --workloads and
--strategies (the subset keeps a pair to seconds); the 1-worker rows get their
instruction counts (`plot.py instructions`) unless --no-instructions. The flags
are read from the gate's data, never from its markdown. Writes DIR/report.md
(the tables) and keeps every run and comparison (the gate's markdown) in DIR.
Exit 0, or 2 on bad arguments or a failed run.
"""

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLOT = os.path.join(ROOT, "plot.py")
sys.path.insert(0, os.path.join(ROOT, "bench", "python"))

from gilbench_results import gate, render  # noqa: E402
from gilbench_results.errors import InputError  # noqa: E402
from gilbench_results.load import load_result  # noqa: E402
from gilbench_results.output import write_output  # noqa: E402

LANES = gate.LANES


def fail(msg):
    print(f"gate_power.py: {msg}", file=sys.stderr)
    sys.exit(2)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p


def gilbench_run(args, path, extra, instructions):
    cmd = [args.gilbench, "--quick", "--repetitions=11", f"--out={path}"] + extra
    p = run(cmd)
    if p.returncode != 0:
        fail(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-2000:]}")
    if instructions:
        p = run(["/usr/bin/python3", PLOT, "instructions", path, "--gilbench", args.gilbench])
        if p.returncode != 0:
            fail(f"plot.py instructions {path} exited {p.returncode}:\n{p.stderr[-2000:]}")


def flagged(base, new, md):
    """The gate on BASE and NEW: {lane: [runs flagged as a regression]} (each run's fields,
    from the loader), its markdown written to md."""
    try:
        report = gate.compare(load_result(base), load_result(new), gate.Options())
        write_output(md, render.markdown(report))
    except InputError as e:
        fail(f"compare {base} {new}: {e}")
    if report.problems:
        fail(f"compare {base} {new} cannot judge: {'; '.join(report.problems)}")
    return {lane.key: [report.new.runs[r.name] for r in lane.rows if r.verdict == "regression"]
            for lane in report.lanes}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gilbench", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--aa-pairs", type=int, default=None)
    ap.add_argument("--fractions", default="0.02,0.05,0.1,0.2")
    ap.add_argument("--target", default="countdown/gil", help="WORKLOAD/STRATEGY slowed down")
    ap.add_argument("--workloads", default="countdown,list_sum")
    ap.add_argument("--strategies", default="serial,gil,fine_lock")
    ap.add_argument("--aa-full", action="store_true")
    ap.add_argument("--no-instructions", action="store_true")
    args = ap.parse_args()
    if not os.access(args.gilbench, os.X_OK):
        fail(f"--gilbench {args.gilbench}: not an executable file")
    if args.pairs < 1:
        fail("--pairs must be at least 1")
    aa_pairs = args.pairs if args.aa_pairs is None else args.aa_pairs
    if aa_pairs < 0:
        fail("--aa-pairs must not be negative")
    try:
        fractions = [] if args.fractions == "none" else [float(f) for f in args.fractions.split(",") if f]
    except ValueError:
        fail(f"--fractions {args.fractions!r}: not a comma-separated list of numbers")
    if (not fractions and args.fractions != "none") or any(not 0 < f <= 1 for f in fractions):
        fail(f"--fractions {args.fractions!r}: each must be in (0, 1]")
    target = tuple(args.target.partition("/")[::2])
    if args.target.count("/") != 1 or not all(target):
        fail(f"--target {args.target!r}: not WORKLOAD/STRATEGY")
    os.makedirs(args.out, exist_ok=True)
    subset = [f"--workloads={args.workloads}", f"--strategies={args.strategies}"]
    instr = not args.no_instructions
    report = ["# Regression gate: false flags and power", "",
              f"gilbench `--quick --repetitions=11`; subset `{' '.join(subset)}`; "
              f"target `{args.target}`; {args.pairs} pairs per row.", ""]

    # 1. A/A
    aa_rows = []
    for i in range(aa_pairs):
        a, b = (os.path.join(args.out, f"aa{i}_{s}.json") for s in "ab")
        extra = [] if args.aa_full else subset
        for path in (a, b):
            gilbench_run(args, path, extra, instr)
        lanes = flagged(a, b, os.path.join(args.out, f"aa{i}.md"))
        aa_rows.append(lanes)
        print(f"A/A {i}: " + ", ".join(f"{k} {len(v)}" for k, v in lanes.items()), file=sys.stderr)
    if aa_rows:
        report += ["## A/A (same build twice): falsely flagged benchmarks per pair",
                   "", f"runs: {'full --quick suite' if args.aa_full else 'the subset'}", "",
                   "| pair | " + " | ".join(LANES) + " |",
                   "|---|" + "---:|" * len(LANES)]
        for i, lanes in enumerate(aa_rows):
            report.append(f"| {i} | " + " | ".join(str(len(lanes[k])) + (
                " (" + ", ".join(r.name for r in lanes[k]) + ")" if lanes[k] else "")
                for k in LANES) + " |")
        report.append("")

    # 2. power
    if fractions:
        report += ["## Injected slowdown of the target: pairs caught (target flagged, nothing "
                   "else) / pairs", "",
                   "| fraction | " + " | ".join(LANES) + " | other rows flagged |",
                   "|---:|" + "---:|" * (len(LANES) + 1)]
        for f in fractions:
            caught = {k: 0 for k in LANES}
            others = set()
            for i in range(args.pairs):
                a = os.path.join(args.out, f"f{f}_{i}_base.json")
                b = os.path.join(args.out, f"f{f}_{i}_slow.json")
                gilbench_run(args, a, subset, instr)
                gilbench_run(args, b, subset + [f"--inject-slowdown={args.target}:{f}"], instr)
                lanes = flagged(a, b, os.path.join(args.out, f"f{f}_{i}.md"))
                for lane, runs in lanes.items():
                    hit = [r for r in runs if (r.workload, r.strategy) == target]
                    miss = [r for r in runs if (r.workload, r.strategy) != target]
                    others.update(f"{lane}:{r.name}" for r in miss)
                    if hit and not miss:
                        caught[lane] += 1
                print(f"f={f} pair {i}: " + ", ".join(
                    f"{k} {[r.name for r in v]}" for k, v in lanes.items()), file=sys.stderr)
            report.append(f"| {f:g} | " + " | ".join(f"{caught[k]}/{args.pairs}" for k in LANES)
                          + f" | {', '.join(sorted(others)) or 'none'} |")
        report.append("")
    text = "\n".join(report)
    try:
        write_output(os.path.join(args.out, "report.md"), text)
    except InputError as e:
        fail(str(e))
    print(text)


if __name__ == "__main__":
    main()
