#!/usr/bin/env bash
# The main job: installs what is missing, builds gilbench (Release), runs the
# default suite, writes the JSON and the charts under results/runs/<stamp>/,
# and prints the summary table.
#
# usage: bench/run_suite.sh [gilbench flags...]      e.g. --quick, --workers=1,2
#   OUT_DIR=dir   where to write (default results/runs/<host>-<date>)
#
# Then, with the Python bench/python.sh finds, the CPython twin (bench/python/twin.py:
# the same workloads on the real interpreter, strategies cpython_*) writes
# cpython.json beside bench.json, with the --quick, --workers=,
# --repetitions=, --switch-interval= and --workloads= flags given here (the
# workloads it has), and the charts
# draw both files; `plot.py fidelity` writes fidelity.md from the pair. Skip
# the twin with --no-cpython (taken out before gilbench sees the flags) or
# SKIP_CPYTHON=1.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/install-deps.sh
py=$(bench/python.sh)
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target gilbench
out=${OUT_DIR:-results/runs/$(hostname -s)-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
skip_twin=${SKIP_CPYTHON:-0}
gilbench_args=()
twin_args=()
for a in "$@"; do
  case "$a" in
    --no-cpython) skip_twin=1 ;;
    --quick|--workers=*|--repetitions=*|--switch-interval=*) gilbench_args+=("$a"); twin_args+=("$a") ;;
    --workloads=*) gilbench_args+=("$a"); twin_workloads=${a#--workloads=} ;;
    *) gilbench_args+=("$a") ;;
  esac
done
start=$(date +%s)
./build/gilbench --out="$out/bench.json" "${gilbench_args[@]}"
echo "suite wall time: $(( $(date +%s) - start )) s" >&2
results=("$out/bench.json")
twin_status=0
if [ "$skip_twin" != 1 ] && [ -n "$py" ] && [ -n "${twin_workloads:-}" ]; then
  # --workloads: the twin runs those it has (it has no shared_read_immortal).
  known=$("$py" bench/python/twin.py --list | cut -d/ -f1 | sort -u)
  keep=$(tr ',' '\n' <<<"$twin_workloads" | grep -Fxf <(printf '%s\n' "$known") | paste -sd, -)
  if [ -n "$keep" ]; then twin_args+=("--workloads=$keep"); else skip_twin=1; fi
fi
if [ "$skip_twin" != 1 ] && [ -n "$py" ]; then
  "$py" bench/python/twin.py --out "$out/cpython.json" "${twin_args[@]}" || twin_status=$?
  [ -f "$out/cpython.json" ] && results+=("$out/cpython.json")
fi
if [ -f plot.py ] && "$py" plot.py --help >/dev/null 2>&1; then
  "$py" plot.py charts "${results[@]}" --out "$out"
  if [ "${#results[@]}" -gt 1 ]; then  # emulated vs real: the fidelity table
    "$py" plot.py fidelity "$out/bench.json" "$out/cpython.json" --markdown "$out/fidelity.md" >/dev/null
  fi
fi
echo "results in $out" >&2
if [ "$twin_status" != 0 ]; then
  echo "the CPython twin failed (exit status $twin_status): see $out/cpython.json" >&2
  exit "$twin_status"
fi
