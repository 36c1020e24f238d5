#!/usr/bin/python3
"""Charts, the CI regression gate, tracker export, history and the instruction-count lane
for gilbench results.

The command line of the results library, bench/python/gilbench_results/ (one
loader, one statistics module, the gate as data and its renderers, the
charts, the tracker export, the history, the callgrind lane, one file
writer): its sub-commands (their options: gilbench_results/cli.py, or
`plot.py SUB-COMMAND --help`) and the exit statuses. The sub-commands are documented below, from
the library's modules; `fidelity ARGS...` runs bench/python/fidelity.py's
main(ARGS) (the CPython fidelity report).

Exit statuses (every sub-command)

  0  pass.
  1  regression: compare and ab only (a gated lane flagged a row, or NEW's
     or the head's run failed). Nothing else exits 1 (history reports change points, exit 0).
  2  bad input, usage or environment: one line `plot.py: error: ...` on
     stderr naming the file (and row) and the problem, no traceback.
  3  an unexpected internal error (a bug of plot.py or the library): one line
     `plot.py: internal error: <type>: <message>`; `plot.py --debug ...` or
     PLOT_DEBUG=1 re-raises it with its traceback.
"""

import os
import shutil
import sys

REPO = os.path.dirname(os.path.abspath(__file__))
# The library: bench/python in a checkout, python/ beside an installed plot.py.
LIBRARY = next((d for d in (os.path.join(REPO, "bench", "python"), os.path.join(REPO, "python"))
                if os.path.isdir(d)), os.path.join(REPO, "bench", "python"))
sys.path.insert(0, LIBRARY)
try:
    import gilbench_results
    from gilbench_results import ab, charts, cli, export, gate, history, instructions, load, \
        output, render
    from gilbench_results.errors import InputError, bad_option, one_line
    __doc__ += gilbench_results.manual()
except ModuleNotFoundError as e:
    if e.name != "gilbench_results":
        raise
    gilbench_results = None

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
    if os.environ.get("GITHUB_ACTIONS") == "true":  # annotations: the runner reads stderr too
        for line in render.annotations(report):
            print(line, file=sys.stderr)
    if args.markdown:
        output.write_output(args.markdown, text)
    if args.json:
        output.write_output(args.json, render.as_json(report))
    if report.problems:  # bad input comes first: what the gate did not judge has not passed
        raise InputError("compare cannot judge a gated lane: " + "; ".join(report.problems))
    return report.exit_status


def cmd_ab(args):
    """The A/B time lane on bench/ab.sh's trials: the report printed (and written)."""
    options = ab.Options(args.threshold, args.alpha, args.normalise, args.flip_limit,
                         args.statistic, args.layout_tolerance).check()
    if bool(args.base_bin) != bool(args.head_bin):
        raise InputError("give both --base-bin and --head-bin (the layout check counts the "
                         "instructions of a row in both builds), or neither")
    for binary in (args.base_bin, args.head_bin):
        if binary and not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            raise InputError(f"{binary}: not an executable gilbench binary")
    trials = ab.load_trials(args.trials, args.base, args.head)
    count = ab.callgrind_counter(args.base_bin, args.head_bin, trials) if args.base_bin else None
    if count is not None and shutil.which("valgrind") is None:
        print("plot.py ab: valgrind is missing: no layout check; flagged rows are gated as "
              "measured", file=sys.stderr)
        count = None
    report = ab.compare(trials, options, count)
    text = ab.markdown(report)
    output.emit(text)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in ab.annotations(report):
            print(line, file=sys.stderr)
    if args.markdown:
        output.write_output(args.markdown, text)
    if args.json:
        output.write_output(args.json, ab.as_json(report))
    if report.problems:
        raise InputError("ab cannot judge: " + "; ".join(report.problems))
    return report.exit_status


def cmd_instructions(args):
    return instructions.count(instructions.Options(
        args.result, args.gilbench, args.jobs, args.repeat, args.tolerance, args.filter, args.out))

def cmd_export(args):
    """The benchmarks' metrics for a tracker: files written, or BMF printed."""
    written = export.export(load.load_result(args.result), args.format, args.out)
    if written.text is not None:
        output.emit(written.text)
    for line in written.notes:
        print(one_line(f"export: {line}"), file=sys.stderr)
    return 0


def cmd_history(args):
    """Headline metrics against commit order; history.md printed, change points in it."""
    if args.headline_workers < 1:
        raise bad_option("headline_workers", args.headline_workers, "1 or more")
    found = history.collect(args.inputs, args.skip_bad)
    for line in found.skipped:
        print(one_line(f"history: left out {line}"), file=sys.stderr)
    drawn = history.History(found.results, args.headline_workers).write(args.out)
    output.emit(drawn.markdown)
    print(f"\nwrote {len(drawn.written)} files to {args.out}", file=sys.stderr)
    return 0


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
    args = cli.build_parser().parse_args(argv)
    return {"charts": cmd_charts, "compare": cmd_compare, "ab": cmd_ab,
            "instructions": cmd_instructions, "export": cmd_export,
            "history": cmd_history}[args.command](args)


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
