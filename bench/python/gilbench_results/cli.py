"""plot.py's command line: every sub-command, its options, help and exit statuses.

build_parser() is what plot.py parses its arguments with; plot.py runs the
sub-command through the library's modules. A bad command line raises
errors.UsageError (plot.py: one line `plot.py: error: ...`, exit 2), for the
sub-commands too. Standard library only.
"""

import argparse
import os

from .errors import ArgumentParser

EXIT_STATUSES = ("exit status: 0 pass; 1 regression (compare and ab only); 2 bad input, usage or "
                 "environment (one line on stderr); 3 internal error (--debug or PLOT_DEBUG=1 "
                 "shows the traceback)")
# The formats `export` writes (export.FORMATS holds how).
EXPORT_FORMATS = ("github-action-benchmark", "bencher")


def add_charts(sub):
    c = sub.add_parser("charts", help="PNG+SVG charts and summary.md from result files; exit 0 "
                       "drawn, 2 bad input or a file that cannot be written",
                       epilog="exit status: 0 drawn; 2 bad input, or an output file that cannot "
                       "be written (with the OS reason); 3 internal error")
    c.add_argument("results", nargs="+", metavar="RESULT.json")
    c.add_argument("--out", required=True, metavar="DIR", help="where to write the charts")
    c.add_argument("--headline-workers", type=int, default=2, metavar="N",
                   help="worker count of the summary's speedup table (default 2)")


def add_compare(sub):
    g = sub.add_parser("compare", help="the CI gate: exit 0 ok, 1 regression, 2 bad input",
                       epilog="exit status: 0 no regression; 1 a gated lane regressed, or a run "
                       "failed in NEW; 2 bad input, files that cannot be compared, or a gated "
                       "lane that cannot judge (nothing to compare, too few repetitions, "
                       "instruction counts missing in NEW), or --markdown or --json cannot be "
                       "written; 3 internal error. Under GitHub Actions (GITHUB_ACTIONS=true) "
                       "each flagged row is also an ::error annotation on stderr.")
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
    g.add_argument("--json", metavar="FILE", help="also write the report as JSON to FILE (the "
                   "verdict, lanes, rows with their verdicts, thresholds, both files' machine "
                   "fingerprints and the exit status)")


def add_instructions(sub):
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


def add_export(sub):
    e = sub.add_parser("export", help="one entry per benchmark and metric for "
                       "github-action-benchmark or Bencher; exit 0 written, 2 bad input",
                       epilog="exit status: 0 written; 2 bad input, nothing to export, or a "
                       "file that cannot be written; 3 internal error")
    e.add_argument("result", metavar="RESULT.json")
    e.add_argument("--format", required=True, choices=EXPORT_FORMATS,
                   help="github-action-benchmark: two files of its custom tools, "
                   "DIR/customSmallerIsBetter.json and DIR/customBiggerIsBetter.json (--out "
                   "DIR is required); bencher: one Bencher Metric Format (BMF) file, --out "
                   "FILE or standard output")
    e.add_argument("--out", metavar="PATH", help="the directory (github-action-benchmark) or "
                   "file (bencher) to write")


def add_history(sub):
    h = sub.add_parser("history", help="headline metrics against commit order, with the "
                       "change points found; exit 0 drawn, 2 bad input",
                       epilog="exit status: 0 drawn (change points are reported, not "
                       "failed); 2 bad input (a file that is not a gilbench result, files of "
                       "different modes), or a file that cannot be written; 3 internal error")
    h.add_argument("inputs", nargs="+", metavar="FILE|DIR",
                   help="result files, or directories searched for *.json (e.g. the folder "
                   "bench/record_history.sh appends to)")
    h.add_argument("--out", required=True, metavar="DIR",
                   help="where to write history.md, history.json and the charts")
    h.add_argument("--headline-workers", type=int, default=2, metavar="N",
                   help="worker count of the speedup and convoy series (default 2)")
    h.add_argument("--skip-bad", action="store_true",
                   help="leave out (with a warning) the files that are not readable gilbench "
                   "results instead of failing")


def add_ab(sub):
    a = sub.add_parser("ab", help="the A/B time lane: trials of two builds run interleaved in "
                       "one job (bench/ab.sh); exit 0 ok, 1 regression, 2 bad input",
                       epilog="exit status: 0 no regression; 1 a row regressed, or a head run "
                       "failed; 2 bad input (files that cannot be paired or compared), too few "
                       "trials to flag anything, or --markdown or --json cannot be written; 3 "
                       "internal error. Under GitHub Actions each flagged row is also an "
                       "::error annotation on stderr.")
    a.add_argument("base", nargs="*", metavar="BASE.json",
                   help="the base run of each trial, paired by position with --head")
    a.add_argument("--head", nargs="+", default=[], metavar="HEAD.json",
                   help="the head run of each trial, in the order of BASE.json")
    a.add_argument("--trials", metavar="DIR", help="bench/ab.sh's work directory instead: "
                   "base-N.json and head-N.json of each trial N (and trials.tsv, the order)")
    a.add_argument("--threshold", type=float, default=0.05,
                   help="change beyond which a significant row is flagged (default 0.05)")
    a.add_argument("--alpha", type=float, default=0.05,
                   help="Benjamini-Hochberg level of the signed-rank tests (default 0.05)")
    a.add_argument("--normalise", default="flips", choices=("flips", "always", "never"),
                   help="trials whose whole-suite shift is taken out: flips (default: the "
                   "trials where the machine's speed flipped), always, never")
    a.add_argument("--statistic", default="min", choices=("min", "median"),
                   help="what of a run's repetitions stands for the run (default min: the "
                   "machine's slow phases only lengthen repetitions)")
    a.add_argument("--flip-limit", type=float, default=0.2, metavar="L",
                   help="a trial whose median log ratio is more than L from the median of all "
                   "trials is a speed flip (default 0.2, a factor 1.22)")
    a.add_argument("--base-bin", metavar="BIN", help="the base binary; with --head-bin, the "
                   "layout check: a flagged row whose 1-worker row executed the same "
                   "instructions (callgrind) and operations in both builds is code placement, "
                   "reported as layout and not gated (a k-worker row is then judged on its "
                   "scaling against the 1-worker row)")
    a.add_argument("--head-bin", metavar="BIN", help="the head binary (see --base-bin)")
    a.add_argument("--layout-tolerance", type=float, default=0.0, metavar="F",
                   help="relative instruction change within which a row executed the same "
                   "code (default 0: exactly the same count; a sleep or a system call added "
                   "on the row's path adds only a few instructions)")
    a.add_argument("--markdown", metavar="FILE", help="also write the markdown to FILE")
    a.add_argument("--json", metavar="FILE", help="also write the report as JSON to FILE")


def build_parser():
    """The argument parser of plot.py and its sub-commands (fidelity has its own)."""
    p = ArgumentParser(
        prog="plot.py", description="Charts, regression gate, tracker export, history and "
        "instruction-count lane for gilbench results (see the module docstring: "
        "pydoc ./plot.py).", epilog=EXIT_STATUSES)
    p.add_argument("--debug", action="store_true",
                   help="re-raise an internal error with its traceback (also PLOT_DEBUG=1)")
    sub = p.add_subparsers(dest="command", required=True)
    for add in (add_charts, add_compare, add_ab, add_instructions, add_export,
                add_history):
        add(sub)
    f = sub.add_parser("fidelity", help="the CPython fidelity report (bench/python/fidelity.py)")
    f.add_argument("args", nargs=argparse.REMAINDER)
    return p
