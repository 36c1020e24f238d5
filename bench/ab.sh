#!/usr/bin/env bash
# The A/B time lane: wall times of two builds measured in the same job, gated.
#
# usage: bench/ab.sh [options] BASE_REF [-- GILBENCH_FLAGS...]
#        bench/ab.sh [options] --base-bin BIN [-- GILBENCH_FLAGS...]
#
# Builds BASE_REF (a commit, tag or branch: `HEAD~1`) beside the working tree,
# in a git worktree build-ab/src with its build tree build-ab/build (Release,
# target gilbench only; both reused from call to call, so that the next base
# builds incrementally), takes the working tree's binary build/gilbench as the
# head (built with the release preset if it is missing), and runs the two
# binaries interleaved: TRIALS trials, each running base and head back to back
# in a random order, each run `gilbench --quick --repetitions=R` with the same
# flags. Then `plot.py ab --trials WORKDIR` compares them trial by trial
# (gilbench_results/ab.py: per-trial log ratios, Wilcoxon signed-rank across
# trials, Benjamini-Hochberg across rows; the machine's speed flips diagnosed
# and taken out) and its exit status is this script's. A row it flags is then
# checked for code placement (--base-bin/--head-bin): when its 1-worker row
# executes the same instructions (callgrind, both binaries, that row only) and
# the same operations in both builds, no code on its path changed; the time
# moved with the code's addresses, and the row is reported as layout, not
# gated (a k-worker row is judged on its scaling against the 1-worker row).
#
# Everything goes under the work directory (default build-ab/runs/<timestamp>):
# base-T.json and head-T.json of each trial, trials.tsv (order, start, load),
# the build and run logs, ab.md (the report) and ab.json. Nothing in results/.
#
# SKIPPED (a message on stderr saying why, exit 0; with --strict exit 2): the
# base ref is not in this clone (a shallow CI clone lacks the previous commit),
# it does not configure or build, the two binaries list different benchmark
# sets for the same flags (the names that differ are printed), or no file that
# goes into the binary changed between BASE_REF and the working tree (the A/B
# would measure one program against itself; --always runs it anyway).
#
# options:
#   --trials N        interleaved trials (default 16; ab.py says why)
#   --repetitions R   repetitions per run (default 3; the run is their minimum)
#   --work DIR        the work directory (default build-ab/runs/<timestamp>)
#   --head-bin BIN    the head binary (default build/gilbench, built if missing)
#   --base-bin BIN    a base binary already built: no BASE_REF, nothing built
#   --seed S          seed of the trial orders (default: random, recorded)
#   --jobs N          build jobs (default: nproc)
#   --strict          a skip is an error (exit 2)
#   --always          run even when no source file changed
#   --head-flag FLAG  a gilbench flag for the head's runs only (repeatable; for
#                     testing the lane: --head-flag=--inject-slowdown=countdown:0.1)
#   --threshold F, --alpha A, --normalise MODE, --statistic min|median
#                     passed to plot.py ab (defaults 0.05, 0.05, flips, min)
# GILBENCH_FLAGS (default --quick) go to both binaries, e.g.
#   bench/ab.sh HEAD~1 -- --quick --workloads=countdown,list_sum
#
# exit status: 0 no regression (or SKIPPED); 1 regression (or a run of the
# head failed); 2 bad usage, or a skip under --strict, or a comparison that
# cannot judge; 3 internal error (a base run that wrote no result, plot.py's
# internal error).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
trials=16 reps=3 work="" head_bin="" base_bin="" seed="" jobs=$(nproc) strict=0 always=0
compare_args=() base_ref="" flags=() head_flags=()

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; }
die() { echo "ab.sh: error: $*" >&2; exit 2; }
internal() { echo "ab.sh: internal error: $*" >&2; exit 3; }
skip() {
  echo "ab.sh: SKIPPED: $*" >&2
  [ -n "$work" ] && [ -d "$work" ] && echo "SKIPPED: $*" >"$work/skipped.txt"
  [ "$strict" = 1 ] && { echo "ab.sh: --strict: a skip is an error" >&2; exit 2; }
  exit 0
}
positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 $2: must be a whole number >= 1"; }

while [ $# -gt 0 ]; do
  case $1 in
    --trials) positive "$1" "${2-}"; trials=$2; shift 2 ;;
    --repetitions) positive "$1" "${2-}"; reps=$2; shift 2 ;;
    --work) [ -n "${2-}" ] || die "--work needs a directory"; work=$2; shift 2 ;;
    --head-bin) [ -n "${2-}" ] || die "--head-bin needs a file"; head_bin=$2; shift 2 ;;
    --base-bin) [ -n "${2-}" ] || die "--base-bin needs a file"; base_bin=$2; shift 2 ;;
    --seed) [[ ${2-} =~ ^[0-9]+$ ]] || die "--seed ${2-}: must be a whole number"; seed=$2; shift 2 ;;
    --jobs) positive "$1" "${2-}"; jobs=$2; shift 2 ;;
    --strict) strict=1; shift ;;
    --always) always=1; shift ;;
    --head-flag) [ -n "${2-}" ] || die "--head-flag needs a flag"; head_flags+=("$2"); shift 2 ;;
    --head-flag=*) head_flags+=("${1#--head-flag=}"); shift ;;
    --threshold|--alpha|--normalise|--statistic)
      [ -n "${2-}" ] || die "$1 needs a value"; compare_args+=("$1" "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; flags=("$@"); break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$base_ref" ] || die "one BASE_REF only (got $base_ref and $1)"; base_ref=$1; shift ;;
  esac
done
[ ${#flags[@]} -gt 0 ] || flags=(--quick)
if [ -n "$base_bin" ]; then
  [ -z "$base_ref" ] || die "give BASE_REF or --base-bin, not both"
else
  [ -n "$base_ref" ] || { usage; die "BASE_REF (e.g. HEAD~1) or --base-bin is required"; }
fi
for f in "${flags[@]}"; do
  case $f in
    --out=*|--benchmark_out=*|--repetitions=*|--list|--help|--params|--fingerprint)
      die "gilbench flag $f: ab.sh sets the output, the repetitions and the mode itself" ;;
  esac
done
cd "$ROOT" || internal "cannot enter $ROOT"
[ -n "$work" ] || work=build-ab/runs/$(date -u +%Y%m%dT%H%M%SZ)-$$
mkdir -p "$work" || die "--work $work: cannot create it"
work=$(cd "$work" && pwd)
# A reused work directory (.ci/run's build-ab/runs/ci): the last call's files go.
rm -f "$work"/base-*.json "$work"/head-*.json "$work"/base-*.log "$work"/head-*.log \
      "$work"/trials.tsv "$work"/skipped.txt "$work"/ab.md "$work"/ab.json
[ -n "$seed" ] || seed=$(( (RANDOM << 15) | RANDOM ))
RANDOM=$seed

# ---- the base binary ---------------------------------------------------------
if [ -z "$base_bin" ]; then
  git rev-parse --git-dir >/dev/null 2>&1 || skip "$ROOT is not a git checkout: no base to build"
  base_sha=$(git rev-parse --verify --quiet "${base_ref}^{commit}") ||
    skip "base $base_ref is not a commit of this clone$( [ -f "$(git rev-parse --git-dir)/shallow" ] &&
      echo " (a shallow clone: fetch the previous commit, e.g. git fetch --deepen=1)")"
  echo "ab.sh: base $base_ref = $base_sha" >&2
  if [ "$always" = 0 ] && git diff --quiet "$base_sha" -- . ':(exclude)*.md' ':(exclude)*.py' \
       ':(exclude)results' ':(exclude)docs' ':(exclude)tests' ':(exclude).ci' \
       ':(exclude)bench/*.sh' ':(exclude)bench/gate_power' 2>/dev/null; then
    skip "no file that goes into gilbench changed between $base_ref ($base_sha) and the working" \
         "tree: an A/B would compare the program with itself (--always runs it anyway)"
  fi
  src=$ROOT/build-ab/src bld=$ROOT/build-ab/build
  mkdir -p "$ROOT/build-ab"
  if [ -e "$src/.git" ] && git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$src" checkout --quiet --detach --force "$base_sha" >"$work/base-checkout.log" 2>&1 ||
      skip "cannot check out $base_ref in $src (see $work/base-checkout.log)"
    git -C "$src" clean -fdxq >>"$work/base-checkout.log" 2>&1
  else
    rm -rf "$src"
    git worktree prune >/dev/null 2>&1
    git worktree add --detach --force "$src" "$base_sha" >"$work/base-checkout.log" 2>&1 ||
      skip "cannot create the worktree $src at $base_ref (see $work/base-checkout.log)"
  fi
  start=$SECONDS
  echo "ab.sh: building the base in $bld (log: $work/base-build.log)" >&2
  cmake -S "$src" -B "$bld" -DCMAKE_BUILD_TYPE=Release -DGILBENCH_TESTS=OFF \
        >"$work/base-build.log" 2>&1 ||
    skip "base $base_ref does not configure (see $work/base-build.log)"
  cmake --build "$bld" --target gilbench -j "$jobs" >>"$work/base-build.log" 2>&1 ||
    skip "base $base_ref does not build (see $work/base-build.log)"
  echo "ab.sh: base built in $((SECONDS - start)) s" >&2
  base_bin=$bld/gilbench
fi
[ -x "$base_bin" ] || die "base binary $base_bin: not an executable file"

# ---- the head binary ---------------------------------------------------------
if [ -z "$head_bin" ]; then
  head_bin=$ROOT/build/gilbench
  if [ ! -x "$head_bin" ]; then
    echo "ab.sh: $head_bin is missing: building it (release preset)" >&2
    { cmake --preset release && cmake --build --preset release --target gilbench -j "$jobs"; } \
      >"$work/head-build.log" 2>&1 || die "the head does not build (see $work/head-build.log)"
  fi
fi
[ -x "$head_bin" ] || die "head binary $head_bin: not an executable file"

# ---- the same benchmark set? -----------------------------------------------
"$base_bin" "${flags[@]}" --list >"$work/base-list.txt" 2>"$work/base-list.err" ||
  skip "the base binary does not list its benchmarks with ${flags[*]}: $(tail -1 "$work/base-list.err")"
"$head_bin" "${flags[@]}" --list >"$work/head-list.txt" 2>"$work/head-list.err" ||
  die "the head binary does not list its benchmarks with ${flags[*]}: $(tail -1 "$work/head-list.err")"
if ! cmp -s <(sort "$work/base-list.txt") <(sort "$work/head-list.txt"); then
  only_base=$(comm -23 <(sort "$work/base-list.txt") <(sort "$work/head-list.txt"))
  only_head=$(comm -13 <(sort "$work/base-list.txt") <(sort "$work/head-list.txt"))
  describe() { [ -z "$1" ] && echo none && return
               echo "$1" | head -5 | paste -sd, - | sed 's/,/, /g'
               n=$(echo "$1" | wc -l); [ "$n" -gt 5 ] && echo " (+$((n - 5)) more)"; }
  skip "base and head run different benchmark sets with ${flags[*]}: only in base:" \
       "$(describe "$only_base" | paste -sd' ' -); only in head: $(describe "$only_head" | paste -sd' ' -)"
fi

# ---- interleaved trials ------------------------------------------------------
echo "ab.sh: $trials trials of base and head, $(wc -l <"$work/head-list.txt") benchmarks," \
     "--repetitions=$reps, seed $seed, in $work" >&2
printf 'trial\tfirst\tsecond\tstart\tload\n' >"$work/trials.tsv"
start=$SECONDS
for ((t = 0; t < trials; t++)); do
  if ((RANDOM % 2)); then order=(head base); else order=(base head); fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "${order[0]}" "${order[1]}" "$(date -u +%T)" \
    "$(cut -d' ' -f1 /proc/loadavg)" >>"$work/trials.tsv"
  for side in "${order[@]}"; do
    bin=$base_bin extra=()
    [ "$side" = head ] && bin=$head_bin extra=("${head_flags[@]}")
    out=$work/$side-$t.json
    "$bin" "${flags[@]}" "${extra[@]}" --repetitions="$reps" --out="$out" >/dev/null \
      2>"$work/$side-$t.log"
    rc=$?
    if [ ! -s "$out" ]; then
      [ "$side" = head ] && { echo "ab.sh: REGRESSION: the head run of trial $t exited $rc and" \
        "wrote no result: $(tail -1 "$work/$side-$t.log")" >&2; exit 1; }
      internal "the base run of trial $t exited $rc and wrote no result: $(tail -1 "$work/$side-$t.log")"
    fi
  done
  echo "ab.sh: trial $((t + 1))/$trials (${order[0]} first) done at $((SECONDS - start)) s" >&2
done

# ---- the comparison ----------------------------------------------------------
PYTHON=$("$ROOT/bench/python.sh") || exit 2
"$PYTHON" "$ROOT/plot.py" ab --trials "$work" "${compare_args[@]}" \
  --base-bin "$base_bin" --head-bin "$head_bin" --markdown "$work/ab.md" --json "$work/ab.json"
rc=$?
echo "ab.sh: exit $rc; report $work/ab.md" >&2
exit $rc
