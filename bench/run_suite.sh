#!/usr/bin/env bash
# The main job: installs what is missing, builds gilbench (Release), runs the
# default suite, writes the JSON and the charts under results/runs/<stamp>/,
# and prints the summary table.
#
# usage: bench/run_suite.sh [gilbench flags...]      e.g. --quick, --workers=1,2
#   OUT_DIR=dir   where to write (default results/runs/<host>-<date>)
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target gilbench
out=${OUT_DIR:-results/runs/$(hostname -s)-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
start=$(date +%s)
./build/gilbench --out="$out/bench.json" "$@"
echo "suite wall time: $(( $(date +%s) - start )) s" >&2
if [ -f plot.py ] && /usr/bin/python3 plot.py --help >/dev/null 2>&1; then
  /usr/bin/python3 plot.py charts "$out/bench.json" --out "$out"
fi
echo "results in $out" >&2
