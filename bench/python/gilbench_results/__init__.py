"""gilbench_results: the one Python library of gilbench's result files.

plot.py (the command line), bench/python/fidelity.py, bench/python/twin.py,
bench/gate_power.py and the tests read and write results through it:

  schema.py        SCHEMA_VERSION (the only place it is written), the context
                   keys, the run-name grammar (names built from fields)
  load.py          the one loader: load_result(path) -> Result of Runs, every
                   field checked; each run's fields from gilbench_runs
  durations.py     the one duration parser and formatter ("5ms", gilbench's rules)
  stats.py         median (of the repetitions), U test, BH, bootstrap
  gate.py          the regression gate: lanes of rows with verdicts, as data
  ab.py            the A/B time lane: two builds' trials from one job (bench/ab.sh)
  fingerprint.py   machine fingerprints: which rows a differing unit cost moves
  render.py        the gate's report as markdown, JSON and GitHub annotations
  charts.py        the charts and summary.md
  export.py        one entry per benchmark and metric for github-action-benchmark
                   and Bencher
  history.py       headline metrics against commit order, change points
  instructions.py  the callgrind lane
  output.py        the one exclusive, atomic file writer; strict JSON (no NaN)
  errors.py        InputError (bad input: one line) and message helpers
  cli.py           plot.py's argument parser

schema, durations, errors and output use the standard library alone (the
CPython twin imports them under any interpreter, 3.8 and later); load,
fingerprint and cli too, so the fidelity report needs nothing else. gate's statistics need scipy and
numpy, charts matplotlib; they are imported where they are used.
"""


def manual():
    """The sub-commands' documentation, from the modules that implement them (for
    plot.py's docstring: `pydoc ./plot.py`)."""
    from . import ab, charts, export, fingerprint, gate, history, instructions, load, \
        output, render
    parts = [("charts RESULT.json [MORE.json ...] --out DIR", charts),
             ("compare BASE.json NEW.json", gate), ("compare's report", render),
             ("ab --trials DIR | ab BASE.json... --head HEAD.json...", ab),
             ("Machine fingerprints", fingerprint),
             ("export RESULT.json --format=github-action-benchmark|bencher [--out PATH]",
              export),
             ("history FILES|DIR --out DIR", history),
             ("instructions RESULT.json --gilbench BIN", instructions),
             ("Reading results", load), ("Writing files", output)]
    return "".join("\n%s\n\n%s\n" % (title, "\n".join(
        "    " + line if line else "" for line in module.__doc__.strip().splitlines()))
        for title, module in parts)
