"""The result file's schema: its version, its context keys, and the run-name grammar.

SCHEMA_VERSION is the one place the version is written (gilbench writes the
same in its context; the twin writes it from here). Version 2 added
`gilbench_runs`: a JSON object mapping every benchmark name to its fields

    {"workload": str, "strategy": str, "runner": "threads" | "process",
     "workers": int, "axes": {axis: value string}}

so that no reader parses a name. Names are built from fields (run_name()),
as gilbench's RunSpec::name() builds them:

    <workload>/<strategy>/workers:<n>[/<axis>:<value>]...

Every context value is a string; the structured ones hold JSON text.
Standard library only (the CPython twin imports this under any interpreter).
"""

import json

SCHEMA_VERSION = "2"

VERSION_KEY = "gilbench_schema_version"
RUNS_KEY = "gilbench_runs"                 # {name: fields}
PARAMS_KEY = "gilbench_params"             # {workload: {parameter: value}} of the file's mode
MODE_KEY = "gilbench_mode"                 # default, quick or tiny: which sizes ran
REFERENCE_KEY = "gilbench_reference_strategy"
WORKLOADS_KEY = "gilbench_workloads"       # {workload: kind}
STRATEGIES_KEY = "gilbench_strategies"     # [strategy]
INTERVALS_KEY = "gilbench_switch_intervals"  # [duration], the first the default
BYTECODE_KEY = "gilbench_bytecode_steps"  # [steps per checkpoint] (--bytecode-cost)
NS_PER_STEP_KEY = "gilbench_ns_per_step"  # this machine's ns per step, when a cost was given
BYTECODE_AXIS = "bytecode"  # the run-name axis of --bytecode-cost: <workload>/.../bytecode:<steps>
METRICS_KEY = "gilbench_metrics"           # {counter: {unit, better, description}}
INSTRUCTIONS_KEY = "gilbench_instructions"  # the callgrind lane (plot.py instructions)
FINGERPRINT_KEY = "gilbench_fingerprint"   # the machine's unit costs (fingerprint.py)

RUNNERS = ("threads", "process")
DEFAULT_REFERENCE = "serial"


def run_fields(workload, strategy, workers, axes=(), runner="threads"):
    """One entry of gilbench_runs. axes: (axis, value) pairs in name order."""
    return {"workload": workload, "strategy": strategy, "runner": runner,
            "workers": int(workers), "axes": dict(axes)}


def variant(fields):
    """The strategy and the further axes ("gil/interval:1ms"): RunSpec::variant()."""
    return "/".join([fields["strategy"]] + ["%s:%s" % kv for kv in fields["axes"].items()])


def run_name(fields):
    """The benchmark name of these fields: RunSpec::name()."""
    return "/".join([fields["workload"], fields["strategy"], "workers:%d" % fields["workers"]]
                    + ["%s:%s" % kv for kv in fields["axes"].items()])


def runs_json(all_fields):
    """The gilbench_runs context value of these runs, as gilbench writes it."""
    return json.dumps({run_name(f): f for f in all_fields}, sort_keys=True,
                      separators=(",", ":"))
