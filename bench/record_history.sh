#!/usr/bin/env bash
# Appends one run of the suite to a history folder, for `plot.py history`:
#
#   DIR/<UTC date>_<commit>/bench.json   gilbench --quick [FLAGS], and with
#                                        --instructions the callgrind counts of
#                                        its 1-worker rows (plot.py instructions)
#
# The folder is named by the run's date (UTC, YYYYmmddTHHMMSSZ) and the commit
# the binary was built from (the result's gilbench_git_revision); an existing
# folder is never written into or replaced (a second run of the same second
# gets a -2, -3... suffix). Nothing is added when the run or the counting fails
# (the exit status is then theirs, else 0). Then:
#
#   /usr/bin/python3 plot.py history DIR --out history-report
#
# Prints the path of the file it added on stdout (everything else on stderr).
# usage: bench/record_history.sh [--history DIR] [--gilbench BIN] [--instructions]
#                                [-- GILBENCH_FLAGS...]
#   --history DIR    the history folder (default results/history of this checkout;
#                    created)
#   --gilbench BIN   the binary (default build/gilbench of this checkout)
#   --instructions   also count the 1-worker rows' instructions (valgrind; slow)
#   GILBENCH_FLAGS   more flags for gilbench after --quick, e.g.
#                    -- --workloads=countdown,convoy --repetitions=5
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
history=$root/results/history
gilbench=$root/build/gilbench
instructions=0
usage() { sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --history) [ $# -ge 2 ] || usage; history=$2; shift 2 ;;
    --history=*) history=${1#--history=}; shift ;;
    --gilbench) [ $# -ge 2 ] || usage; gilbench=$2; shift 2 ;;
    --gilbench=*) gilbench=${1#--gilbench=}; shift ;;
    --instructions) instructions=1; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "record_history.sh: unknown option '$1' (gilbench flags go after --)" >&2; usage ;;
  esac
done
if [ ! -x "$gilbench" ]; then
  echo "record_history.sh: $gilbench: not an executable gilbench (build it, or --gilbench BIN)" >&2
  exit 2
fi
python=/usr/bin/python3

work=$(mktemp -d "${TMPDIR:-/tmp}/gilbench-history.XXXXXX")
trap 'rm -rf "$work"' EXIT
# progress and tables on stderr: stdout is the path of the file added, alone
"$gilbench" --quick "$@" --out="$work/bench.json" >&2
if [ "$instructions" = 1 ]; then
  "$python" "$root/plot.py" instructions "$work/bench.json" --gilbench "$gilbench" >&2
fi

revision=$("$python" -c 'import json, sys
c = json.load(open(sys.argv[1]))["context"]
print("".join(ch for ch in str(c.get("gilbench_git_revision") or "unknown")
              if ch.isalnum() or ch in "-_.")[:40] or "unknown")' "$work/bench.json")
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$history"
dest=$history/${stamp}_$revision
n=1
until mkdir "$dest" 2>/dev/null; do  # mkdir is the claim: an existing folder is never reused
  n=$((n + 1))
  dest=$history/${stamp}_$revision-$n
  if [ "$n" -gt 100 ]; then
    echo "record_history.sh: cannot create a new folder in $history" >&2
    exit 1
  fi
done
cp "$work/bench.json" "$dest/.bench.json.partial"
mv "$dest/.bench.json.partial" "$dest/bench.json"
echo "record_history.sh: added $dest/bench.json" >&2
echo "$dest/bench.json"
