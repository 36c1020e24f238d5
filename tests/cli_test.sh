#!/usr/bin/env bash
# The gilbench binary end to end: exit codes, messages, the JSON file.
# usage: cli_test.sh PATH/TO/gilbench
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_exit CODE PATTERN ARGS... : exit status CODE and stderr matching PATTERN
expect_exit() {
  local code=$1 pattern=$2; shift 2
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" -eq "$code" ] || fail "gilbench $* exited $got, want $code"
  grep -qE -- "$pattern" "$tmp/err" "$tmp/out" || fail "gilbench $*: no '$pattern' in output: $(head -c 300 "$tmp/err")"
}

expect_exit 0 "--switch-interval" --help
expect_exit 2 "unknown flag '--bogus'" --bogus
expect_exit 2 "--workers: 'x' is not an integer" --workers=x
expect_exit 2 "unknown name 'nogil'" --strategies=nogil
expect_exit 2 "needs a unit" --switch-interval=5
expect_exit 2 "--benchmark_nonsense" --benchmark_nonsense=1
expect_exit 2 "no benchmark matched" --quick --benchmark_filter=nothing_matches_this

# --list names every benchmark <workload>/<strategy>/workers:<n>
"$bin" --list --quick >"$tmp/list" || fail "--list exited $?"
grep -qx "countdown/serial/workers:1" "$tmp/list" || fail "--list lacks countdown/serial/workers:1"
grep -qx "shared_dict/gil/workers:2" "$tmp/list" || fail "--list lacks shared_dict/gil/workers:2"
grep -q "serial/workers:2" "$tmp/list" && fail "serial must run at 1 worker only"
"$bin" --list --switch-interval=5ms,100us --workers=2 --strategies=gil --workloads=countdown >"$tmp/list2"
[ "$(cat "$tmp/list2")" = "countdown/gil/workers:2/interval:5ms
countdown/gil/workers:2/interval:100us" ] || fail "interval names: $(cat "$tmp/list2")"

# A real run writes valid JSON with gilbench's names and context, atomically.
out="$tmp/sub/r.json"
"$bin" --quick --workloads=countdown --strategies=serial,gil --repetitions=1 --out="$out" \
  >"$tmp/run.out" 2>"$tmp/run.err" || fail "quick run exited $?: $(tail -5 "$tmp/run.err")"
[ -f "$out" ] || fail "no $out"
ls -a "$tmp/sub" | grep -q '\.tmp\.' && fail "temp file left behind"
/usr/bin/python3 - "$out" <<'PY' || fail "JSON content"
import json, sys
d = json.load(open(sys.argv[1]))
names = {b["name"] for b in d["benchmarks"]}
assert "countdown/gil/workers:2" in names, names
ctx = d["context"]
for k in ("gilbench_git_revision", "gilbench_params", "gilbench_metrics", "gilbench_build_type",
          "gilbench_switch_intervals", "gilbench_workers", "gilbench_nproc"):
    assert k in ctx, k
metrics = json.loads(ctx["gilbench_metrics"])
for b in d["benchmarks"]:
    assert b.get("checksum_ok") == 1, b
    for k, v in b.items():
        if isinstance(v, (int, float)) and k not in ("family_index", "per_family_instance_index",
                "repetitions", "repetition_index", "threads", "iterations", "real_time", "cpu_time"):
            assert k in metrics, "unregistered counter " + k
PY
grep -q "Speedup over serial" "$tmp/run.out" || fail "no summary table"

# A wrong checksum fails the run loudly: SkipWithError, exit 1, and the JSON says so.
"$bin" --quick --workloads=list_sum --strategies=gil --workers=2 --repetitions=1 \
  --test-corrupt-checksum=list_sum --out="$tmp/bad.json" >"$tmp/bad.out" 2>"$tmp/bad.err"
code=$?
[ "$code" -eq 1 ] || fail "corrupted checksum exited $code, want 1"
grep -q "checksum mismatch" "$tmp/bad.err" || fail "no 'checksum mismatch' on stderr"
/usr/bin/python3 -c "
import json,sys
d=json.load(open('$tmp/bad.json'))
assert any(b.get('error_occurred') and 'checksum mismatch' in b.get('error_message','') for b in d['benchmarks'])
" || fail "the JSON does not record the checksum error"

# An interrupted run leaves neither the result nor a temp file.
"$bin" --workloads=countdown --repetitions=50 --out="$tmp/int/r.json" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do [ -d "$tmp/int" ] && break; sleep 0.1; done
sleep 0.5
kill -INT $pid; wait $pid
[ -e "$tmp/int/r.json" ] && fail "interrupted run left a result file"
ls -a "$tmp/int" 2>/dev/null | grep -q '\.tmp\.' && fail "interrupted run left a temp file"

if [ $failures -gt 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "cli: all checks passed"
