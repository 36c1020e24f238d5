#!/usr/bin/env bash
# Records a reference run of the default suite for results/<machine>/:
#   bench.json (+ cpython.json)   the results (bench/run_suite.sh: gilbench and
#                                 the CPython twin)
#   *.png *.svg summary.md        the charts and the headline table (plot.py charts)
#   machine.txt                   CPU, cores, memory, kernel, OS, compiler,
#                                 commit, date, command, suite wall time
#
# usage: bench/record_reference.sh [gilbench flags...]
#   MACHINE=name   directory under results/ (default: <cpu model>-<n>cpu, e.g.
#                  amd-epyc-2cpu)
# Flags go to bench/run_suite.sh (e.g. --repetitions=9); the default suite
# takes a while. Commit the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(bench/python.sh)
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
slug=$(printf '%s' "${cpu:-cpu}" | tr 'A-Z' 'a-z' | sed 's/([^)]*)//g; s/[^a-z0-9]\{1,\}/-/g; s/^-//; s/-$//')
machine=${MACHINE:-$slug-$(nproc)cpu}
out=results/$machine
mkdir -p "$out"
start=$(date +%s)
OUT_DIR=$out bench/run_suite.sh "$@"
wall=$(( $(date +%s) - start ))
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no -- . ':!results' 2>/dev/null)" ]; then
  revision="$revision (with uncommitted changes)"
fi
compiler=$("$py" - "$out/bench.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["context"]
print(c.get("gilbench_compiler", "?"), c.get("gilbench_cxx_flags", ""), "| build",
      c.get("gilbench_build_type", "?"), "| Google Benchmark",
      c.get("gilbench_benchmark_library", "?"))
PY
)
{
  echo "machine:   $machine"
  echo "cpu:       ${cpu:-unknown}"
  echo "fingerprint (bench.json's gilbench_fingerprint, measured before the suite):"
  "$py" - "$out/bench.json" <<'PY'
import json, sys
fp = json.loads(json.load(open(sys.argv[1]))["context"]["gilbench_fingerprint"])
cpu = fp["cpu"]
print(f"  cpu: {cpu['model_name']} ({cpu['vendor']} family {cpu['family']} model {cpu['model']} "
      f"stepping {cpu['stepping']}), {len(cpu['allowed_cpus'])} CPUs, SMT siblings of cpu0 "
      f"{cpu['smt_siblings']}, clock {cpu['clocksource']}")
print("  unit costs (ns): " + ", ".join(f"{k} {v:.3g}" for k, v in fp["unit_costs_ns"].items()))
sp = fp.get("speed_spread") or {}
print(f"  speed: max/min {sp.get('max_over_min', 0):.2f} over {sp.get('runs')} runs, bimodal {sp.get('bimodal')}")
PY
  echo "cores:     $(nproc) online ($(lscpu 2>/dev/null | sed -n 's/^Thread(s) per core:[[:space:]]*/threads per core: /p'))"
  echo "memory:    $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel:    $(uname -sr)"
  echo "os:        $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "compiler:  $compiler"
  echo "python:    $("$py" --version 2>&1) (CPython twin)"
  echo "commit:    $revision"
  echo "date:      $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "command:   bench/record_reference.sh $*"
  echo "wall time: ${wall} s (suite, twin and charts)"
  echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at the end)"
} > "$out/machine.txt"
cat "$out/machine.txt" >&2
echo "reference run in $out (commit it)" >&2
