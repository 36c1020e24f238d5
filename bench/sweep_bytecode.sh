#!/usr/bin/env bash
# The bytecode-cost sweep: the CPU workloads at several --bytecode-cost values
# (interpretive work per checkpoint, src/runtime/bytecode.hpp), the CPython
# twin's times at the same sizes, the sweep chart (sweep_bytecode: each
# strategy's 1-worker overhead and 2-worker speedup against the cost) and the
# fidelity report with behaviours 9, 10 and 12 judged at CPython's cost per
# checkpoint (with the 1-worker rows' instruction counts beside the times).
#
# usage: bench/sweep_bytecode.sh [OUT_DIR]   (default results/runs/bytecode-<host>-<date>)
#   COSTS=LIST   the costs (default 0,5ns,10ns,20ns,30ns,40ns,60ns)
#   REPS=N       repetitions of each run (default 7)
# Quick sizes: a time per checkpoint does not depend on the size. About 4 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/install-deps.sh
py=$(bench/python.sh)
[ -n "$py" ] || { echo "sweep_bytecode.sh: no Python with the charting packages" >&2; exit 2; }
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target gilbench
out=${1:-results/runs/bytecode-$(hostname -s)-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
workloads=countdown,binary_trees,list_sum,shared_dict,shared_read
reps=${REPS:-7}
start=$(date +%s)
./build/gilbench --quick --workloads=$workloads --workers=1,2 --repetitions="$reps" \
  --strategies=serial,atomic_rc,biased_rc,fine_lock,gil,process \
  --bytecode-cost="${COSTS:-0,5ns,10ns,20ns,30ns,40ns,60ns}" --out="$out/bench.json"
# The 1-worker rows' instructions (callgrind), stored in bench.json: the strategies'
# overhead over serial by a measure that does not move with the machine's speed.
"$py" plot.py instructions "$out/bench.json" --gilbench build/gilbench --filter '/workers:1/'
"$py" bench/python/twin.py --quick --workloads=$workloads --workers=1,2 --repetitions="$reps" \
  --strategies=cpython_serial,cpython_threads --out "$out/cpython.json"
"$py" plot.py charts "$out/bench.json" "$out/cpython.json" --out "$out" >/dev/null
"$py" plot.py fidelity "$out/bench.json" "$out/cpython.json" --bytecode-sweep "$out/bench.json" \
  --markdown "$out/fidelity.md" >/dev/null
echo "sweep wall time: $(( $(date +%s) - start )) s; results in $out" >&2
