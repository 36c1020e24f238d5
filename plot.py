#!/usr/bin/python3
"""Charts, the CI regression gate and the instruction-count lane for gilbench results.

The command line of the results library, bench/python/gilbench_results/ (one
loader, one statistics module, the gate as data and its renderers, the
charts, the callgrind lane, one file writer): its sub-commands, their
options and the exit statuses. The sub-commands are documented below, from
the library's modules; `fidelity ARGS...` runs bench/python/fidelity.py's
main(ARGS) (the CPython fidelity report).

Exit statuses (every sub-command)

  0  pass.
  1  regression: compare only (a gated lane flagged a row, or NEW's run
     failed). Nothing else exits 1.
  2  bad input, usage or environment: one line `plot.py: error: ...` on
     stderr naming the file (and row) and the problem, no traceback.
  3  an unexpected internal error (a bug of plot.py or the library): one line
     `plot.py: internal error: <type>: <message>`; `plot.py --debug ...` or
     PLOT_DEBUG=1 re-raises it with its traceback.
"""

import argparse
import os
import sys

REPO = os.path.dirname(os.path.abspath(__file__))
# The library: bench/python in a checkout, python/ beside an installed plot.py.
LIBRARY = next((d for d in (os.path.join(REPO, "bench", "python"), os.path.join(REPO, "python"))
                if os.path.isdir(d)), os.path.join(REPO, "bench", "python"))
sys.path.insert(0, LIBRARY)
try:
    import gilbench_results
    from gilbench_results import charts, gate, instructions, load, output, render
    from gilbench_results.errors import InputError, bad_option, one_line
    __doc__ += gilbench_results.manual()
except ModuleNotFoundError as e:
    if e.name != "gilbench_results":
        raise
    gilbench_results = None

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
                       "instruction counts missing in NEW), or --markdown or --json cannot be "
                       "written; 3 internal error")
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
                   "lanes, rows, verdicts and exit status)")

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


def cmd_charts(args):
    if args.headline_workers < 1:
        raise bad_option("headline_workers", args.headline_workers, "1 or more")
    results = [load.load_result(p) for p in args.results]
    drawn = charts.draw(results, args.out, args.headline_workers)
    for r in results:
        if r.dropped:
            print(one_line(f"charts: {r.path}: left out {r.dropped} counter values that are not "
                           f"finite numbers (or beyond +-{load.COUNTER_LIMIT:g})"), file=sys.stderr)
    output.emit(drawn.summary())
    print(f"\nwrote {len(drawn.written)} files to {args.out}", file=sys.stderr)
    return 0


def cmd_compare(args):
    """The gate: the report printed (and written), exit 1 on a gated regression."""
    options = gate.Options(args.threshold, args.ratio_threshold, args.instr_threshold,
                           args.alpha, args.ratio_alpha, args.gate, args.common).check()
    report = gate.compare(load.load_result(args.base), load.load_result(args.new), options)
    text = render.markdown(report)
    output.emit(text)
    if args.markdown:
        output.write_output(args.markdown, text)
    if args.json:
        output.write_output(args.json, render.as_json(report))
    if report.problems:  # bad input comes first: what the gate did not judge has not passed
        raise InputError("compare cannot judge a gated lane: " + "; ".join(report.problems))
    return report.exit_status


def cmd_instructions(args):
    return instructions.count(instructions.Options(
        args.result, args.gilbench, args.jobs, args.repeat, args.tolerance, args.filter, args.out))

def cmd_fidelity(argv):
    """Hands over to bench/python/fidelity.py's main(argv)."""
    if not os.path.isfile(os.path.join(LIBRARY, "fidelity.py")):
        raise InputError(f"{os.path.join(LIBRARY, 'fidelity.py')}: not found: the fidelity "
                         f"report is not in this checkout")
    import fidelity
    return fidelity.main(argv)


def run_command(argv):
    """Runs one sub-command; returns its exit status. Raises InputError for bad input."""
    if argv and argv[0] == "fidelity":  # its own options, untouched by argparse
        return cmd_fidelity(argv[1:])
    args = build_parser().parse_args(argv)
    return {"charts": cmd_charts, "compare": cmd_compare,
            "instructions": cmd_instructions}[args.command](args)


def main(argv=None):
    """Exit status 0 pass, 1 regression (compare), 2 bad input, 3 internal error."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if gilbench_results is None:
        print(f"plot.py: error: {os.path.join(LIBRARY, 'gilbench_results')}: not found: the "
              f"results library is not in this checkout", file=sys.stderr)
        return 2
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
    except Exception as e:  # a bug: one line, never a status that reads as a verdict
        if debug:
            raise
        print(f"plot.py: internal error: {type(e).__name__}: {one_line(e)} (PLOT_DEBUG=1 shows "
              f"the traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
