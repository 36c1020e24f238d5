#!/usr/bin/env bash
# Records the quick baseline that .ci/run compares every CI run against:
#   results/baseline/quick.json   gilbench --quick --repetitions=$REPS, with the
#                                 instruction counts of its 1-worker rows
#                                 (plot.py instructions, stored in its context)
# Re-record it, on the machine type CI runs on, whenever the suite changes on
# purpose (a new strategy or workload, new sizes, a faster or slower build that
# is wanted), and commit the file. It checks that the counts repeat (each
# benchmark is counted twice) and that the new baseline passes the gate
# against itself.
#
# usage: bench/record_baseline.sh          REPS=11 (odd, >= 9: see plot.py compare)
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${REPS:-11}
.ci/install-deps.sh
py=$(bench/python.sh)
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target gilbench
mkdir -p results/baseline
tmp=results/baseline/.quick.json.new
trap 'rm -f "$tmp"' EXIT
./build/gilbench --quick --repetitions="$reps" --out="$tmp"
"$py" plot.py instructions "$tmp" --gilbench ./build/gilbench --repeat 2
"$py" plot.py compare "$tmp" "$tmp" >/dev/null
mv "$tmp" results/baseline/quick.json
echo "baseline: results/baseline/quick.json (commit it)" >&2
