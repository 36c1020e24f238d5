"""The twin's workload parameters: gilbench's own, read from gilbench.

gilbench is the one place a workload's parameters are written. The twin reads
them from the binary, `gilbench --params --format=json`, which prints every
workload's parameters at every scale ({"default": {workload: {name: value}},
"quick": {...}, "tiny": {...}}), or from a gilbench result file, whose context
holds the parameters of the scale it ran at (gilbench_params, gilbench_mode).
Either raises ParamsError with one line saying what is wrong.
"""

import json
import subprocess

from gilbench_results import schema
from gilbench_results.errors import InputError, shown
from gilbench_results.load import load_result

SCALES = ("default", "quick", "tiny")


class ParamsError(Exception):
    """The parameters cannot be read: one line."""


def _check_scale(table, source):
    if not isinstance(table, dict) or not all(
            isinstance(p, dict) and all(isinstance(k, str) for k in p) for p in table.values()):
        raise ParamsError("%s: not an object of {workload: {parameter: value}}: %s"
                          % (source, shown(table)))
    return table


def from_gilbench(binary, timeout=60):
    """{scale: {workload: params}} from `binary --params --format=json`."""
    source = "%s --params --format=json" % binary
    try:
        proc = subprocess.run([binary, "--params", "--format=json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
    except FileNotFoundError:
        raise ParamsError("%s: not found (build gilbench, or pass --gilbench BIN or "
                          "--params-from RESULT.json)" % binary)
    except (OSError, subprocess.SubprocessError) as e:
        raise ParamsError("%s: cannot run: %s" % (source, getattr(e, "strerror", None) or e))
    if proc.returncode != 0:
        said = [line for line in proc.stderr.splitlines() if line.strip()]
        raise ParamsError("%s exited %d%s" % (source, proc.returncode,
                                              ": " + said[-1] if said else ""))
    try:
        table = json.loads(proc.stdout)
    except ValueError:
        raise ParamsError("%s: its output is not JSON" % source)
    if not isinstance(table, dict) or not set(SCALES) <= set(table):
        raise ParamsError("%s: no parameters for the scales %s" % (source, ", ".join(SCALES)))
    return {scale: _check_scale(table[scale], source) for scale in SCALES}


def from_result(path):
    """(scale, {workload: params}) of a gilbench result file."""
    try:
        result = load_result(path)
    except InputError as e:
        raise ParamsError(str(e))
    scale = result.context.get(schema.MODE_KEY)
    table = result.ctx_json(schema.PARAMS_KEY, None)
    if scale not in SCALES or table is None:
        raise ParamsError("%s: its context has no %s and %s (one of %s)"
                          % (path, schema.PARAMS_KEY, schema.MODE_KEY, ", ".join(SCALES)))
    return scale, _check_scale(table, path)


def of_workloads(table, names, source):
    """{name: params} of these workloads; each one must be in table."""
    missing = [n for n in names if n not in table]
    if missing:
        raise ParamsError("%s has no parameters for %s" % (source, ", ".join(missing)))
    return {n: table[n] for n in names}
