#!/usr/bin/env bash
# Chaos: gilbench under the faults a real machine deals out. Each case
# asserts the exit status, the message, and that nothing was lost or left
# behind (result file, temp files, child processes).
# usage: chaos_test.sh PATH/TO/gilbench
set -u
bin=$1
tmp=$(mktemp -d)
mounted=""
cleanup() {
  [ -n "$mounted" ] && umount "$mounted" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
case_failures=0
start_case() { case_failures=$failures; }
pass() { [ "$failures" -eq "$case_failures" ] && echo "ok: $*"; }

# children_of PID: processes whose parent is PID.
children_of() { pgrep -P "$1"; }
no_children_left() {  # PID: none within 5 s (PR_SET_PDEATHSIG acts at once)
  for _ in $(seq 50); do children_of "$1" >/dev/null || return 0; sleep 0.1; done
  return 1
}
no_temp_left() { ! ls -a "$1" | grep -q '\.tmp\.'; }
# wait_for CMD...: up to 30 s until CMD prints something; prints it.
wait_for() {
  local got
  for _ in $(seq 300); do got=$("$@") && [ -n "$got" ] && { echo "$got"; return 0; }; sleep 0.1; done
  return 1
}
json_ok() {  # FILE PYTHON-ASSERTIONS (d = the parsed file, runs = name -> iteration rows)
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
runs = {}
for b in d["benchmarks"]:
    if b.get("run_type") == "iteration":
        runs.setdefault(b["run_name"], []).append(b)
exec(sys.argv[2])
PY
}

# Each repetition of a process benchmark starts its own pool, so a worker
# lives for one repetition: hit_workers SIG PATTERN PID keeps sending SIG to
# every worker matching PATTERN until gilbench PID ends (the first hit that
# lands mid-run fails the benchmark, and its later repetitions do not run).
# Prints how many were hit.
hit_workers() {
  local sig=$1 pattern=$2 pid=$3 hits=0 w
  while kill -0 "$pid" 2>/dev/null; do
    for w in $(pgrep -f -- "$pattern"); do kill -"$sig" "$w" 2>/dev/null && hits=$((hits + 1)); done
  done
  echo $hits
}

# 1. kill -9 of a process worker mid-run: that benchmark fails naming the
#    worker and the signal, the others are written, exit 1, no child left.
start_case
"$bin" --workloads=countdown --strategies=serial,process --workers=1,2 --repetitions=100 \
  --out="$tmp/kill9.json" >"$tmp/kill9.out" 2>"$tmp/kill9.err" &
pid=$!
hits=$(hit_workers 9 "--worker --index=1 --parent=$pid" $pid)
wait $pid; code=$?
[ "$hits" -gt 0 ] || fail "kill -9 worker: no worker seen"
[ "$code" -eq 1 ] || fail "kill -9 worker: exit $code, want 1"
grep -qE "countdown/process/workers:2: process runner: worker 1 \(pid [0-9]+\) .*killed by signal 9" "$tmp/kill9.err" ||
  fail "kill -9 worker: message: $(grep -A2 FAILED "$tmp/kill9.err" | head -c 400)"
json_ok "$tmp/kill9.json" '
assert all(not r.get("error_occurred") for r in runs["countdown/serial/workers:1"])
assert all(not r.get("error_occurred") for r in runs["countdown/process/workers:1"])
assert any(r.get("error_occurred") for r in runs["countdown/process/workers:2"])' ||
  fail "kill -9 worker: the result file does not hold serial passing and process failing"
no_children_left $pid || fail "kill -9 worker: children left: $(children_of $pid)"
pass "kill -9 of a worker"

# 2. SIGSTOP of a worker with a short --worker-timeout: the hang is found,
#    the stopped worker killed and reaped.
start_case
"$bin" --workloads=countdown --strategies=process --workers=2 --repetitions=100 --worker-timeout=2s \
  --out="$tmp/stop.json" >/dev/null 2>"$tmp/stop.err" &
pid=$!
hits=$(hit_workers STOP "--worker --index=0 --parent=$pid" $pid)
wait $pid; code=$?
[ "$hits" -gt 0 ] || fail "SIGSTOP worker: no worker seen"
[ "$code" -eq 1 ] || fail "SIGSTOP worker: exit $code, want 1"
grep -qE "worker 0 \(pid [0-9]+\) did not (answer|read its input|exit) within 2s" "$tmp/stop.err" ||
  fail "SIGSTOP worker: message: $(grep -A2 FAILED "$tmp/stop.err" | head -c 400)"
[ -f "$tmp/stop.json" ] || fail "SIGSTOP worker: no result file"
no_children_left $pid || fail "SIGSTOP worker: children left: $(children_of $pid)"
pass "SIGSTOP of a worker"

# 3. SIGINT, SIGTERM and SIGQUIT mid-run: the old result file intact, no temp file,
#    no child left, death by the signal.
for sig in INT TERM QUIT; do
  start_case
  echo '{"previous": true}' >"$tmp/old.json"
  ulimit -c 0  # SIGQUIT would dump core
  env --default-signal=$sig "$bin" --workloads=countdown,convoy --strategies=serial,process --workers=2 \
    --repetitions=100 --out="$tmp/old.json" >/dev/null 2>&1 &
  pid=$!
  wait_for pgrep -f -- "--parent=$pid|--cpu-burner $pid" >/dev/null || fail "SIG$sig: no child seen"
  kill -$sig $pid; wait $pid 2>/dev/null; code=$?
  want=$((128 + $(kill -l $sig)))
  [ "$code" -eq "$want" ] || fail "SIG$sig: exit $code, want $want"
  [ "$(cat "$tmp/old.json")" = '{"previous": true}' ] || fail "SIG$sig: the old result file was changed"
  no_temp_left "$tmp" || fail "SIG$sig: temp file left: $(ls -a "$tmp" | grep tmp)"
  no_children_left $pid || fail "SIG$sig: children left: $(children_of $pid)"
  pass "SIG$sig mid-run"
done

# 4. ulimit -n 256: the quick suite (process workers, burners, sockets) passes.
start_case
( ulimit -n 256; exec "$bin" --quick --repetitions=11 --out="$tmp/fd.json" >/dev/null 2>"$tmp/fd.err" ); code=$?
[ "$code" -eq 0 ] || fail "ulimit -n 256: exit $code: $(grep -A3 FAILED "$tmp/fd.err" | head -c 400)$(tail -2 "$tmp/fd.err")"
[ -f "$tmp/fd.json" ] || fail "ulimit -n 256: no result file"
pass "ulimit -n 256, quick suite at 11 repetitions"

# 5. A full disk: exit 1 naming the reason, the previous file intact, no temp.
start_case
if [ "$(id -u)" -eq 0 ] && mkdir -p "$tmp/full" && mount -t tmpfs -o size=12k gilbench-full "$tmp/full" 2>/dev/null; then
  mounted="$tmp/full"
  echo '{"previous": true}' >"$tmp/full/r.json"
  "$bin" --quick --workloads=countdown,list_sum --strategies=serial,gil --repetitions=3 --out="$tmp/full/r.json" \
    >/dev/null 2>"$tmp/full.err"; code=$?
  [ "$code" -eq 1 ] || fail "full disk: exit $code, want 1"
  grep -q "cannot write $tmp/full/r.json: No space left on device" "$tmp/full.err" || fail "full disk: $(tail -2 "$tmp/full.err")"
  [ "$(cat "$tmp/full/r.json")" = '{"previous": true}' ] || fail "full disk: the previous file was changed"
  no_temp_left "$tmp/full" || fail "full disk: temp file left"
  umount "$tmp/full" && mounted=""
  pass "full disk"
else
  echo "skip: full disk (needs root to mount a tiny tmpfs)"
fi

# 6. A convoy CPU burner that dies mid-run fails its run: the load it
#    stood for was gone. Killed from outside (kill -9 of the first burner
#    seen, as a user or the OOM killer would: the run fails before or during
#    its loaded phase) and, deterministically, by the test hook (the last
#    burner kills itself 1 ms after it said it was ready).
start_case
"$bin" --workloads=convoy --strategies=process --workers=2 --repetitions=50 --out="$tmp/burner.json" \
  >/dev/null 2>"$tmp/burner.err" &
pid=$!
killed=$(hit_workers 9 "--cpu-burner $pid" $pid)
wait $pid; code=$?
if [ $killed -gt 0 ]; then
  [ "$code" -eq 1 ] || fail "killed burner: exit $code, want 1"
  grep -qE "convoy/process/workers:2: run failed: cpu burner [0-9] \(pid [0-9]+\) (was killed by signal 9 \(SIGKILL\) during the run|exited before it was ready)" "$tmp/burner.err" ||
    fail "killed burner: message: $(grep -A2 FAILED "$tmp/burner.err" | head -c 400)"
  no_children_left $pid || fail "killed burner: children left: $(children_of $pid)"
else
  fail "killed burner: no burner seen"
fi
"$bin" --workloads=convoy --strategies=process --workers=2 --repetitions=3 --test-worker-misbehave=crash \
  --out="$tmp/burner.json" >/dev/null 2>"$tmp/burner.err"; code=$?
[ "$code" -eq 1 ] || fail "dead burner: exit $code, want 1"
grep -qE "convoy/process/workers:2: run failed: cpu burner 1 \(pid [0-9]+\) was killed by signal 9 \(SIGKILL\) during the run" "$tmp/burner.err" ||
  fail "dead burner: message: $(grep -A2 FAILED "$tmp/burner.err" | head -c 400)"
json_ok "$tmp/burner.json" '
assert all(not r.get("error_occurred") for r in runs["convoy/process/workers:0"])' || fail "dead burner: K=0 row lost"
pass "a convoy burner killed mid-run"

# 7. Threads that cannot be created (RLIMIT_NPROC, which binds an
#    unprivileged user only): those benchmarks fail with the errno text,
#    the others run, exit 1.
start_case
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then runas=(su nobody -s /bin/bash -c); else runas=(bash -c); fi
mkdir -p "$tmp/nproc" && chmod 755 "$tmp" && chmod 777 "$tmp/nproc"
"${runas[@]}" "ulimit -u 6; exec '$bin' --quick --workloads=countdown --strategies=serial,gil --workers=1,2,8 --repetitions=3 --out='$tmp/nproc/r.json'" \
  >/dev/null 2>"$tmp/nproc.err"; code=$?
[ "$code" -eq 1 ] || fail "ulimit -u: exit $code, want 1: $(tail -3 "$tmp/nproc.err")"
grep -q "countdown/gil/workers:8: run failed: cannot start worker thread [0-9] of 8: Resource temporarily unavailable" "$tmp/nproc.err" ||
  fail "ulimit -u: message: $(grep -A4 FAILED "$tmp/nproc.err" | head -c 500)"
json_ok "$tmp/nproc/r.json" '
assert all(not r.get("error_occurred") for r in runs["countdown/serial/workers:1"])' || fail "ulimit -u: serial row lost"
pass "thread creation failure (ulimit -u 6)"

if [ $failures -gt 0 ]; then echo "chaos: $failures failure(s)"; exit 1; fi
echo "chaos: all checks passed"
