"""convoy: one IO worker doing socket round trips while K CPU workers run.

Mirrors src/workloads/convoy.hpp and bench/convoy_bench.hpp (bpo-7946,
the convoy effect), here with the real GIL:

    IO worker:                              K CPU workers:
      for i in range(round_trips):            while not stop:
          sock.sendall(req)  # GIL released       n = n + 1
          recv_exactly(sock) # GIL released

Every return from send() or recv() finds a CPU thread holding the GIL and
waits out the switch interval before it may ask for it (when the CPU thread
won the race for the GIL during the call: see the C++ header). A run does,
on the same IO worker and echo peer: warmup_round_trips untimed, then
`windows` pairs of an alone window (the K = 0 figure) and a loaded window
(each round trip timed), which share alone_round_trips and round_trips.
Before a loaded window the CPU workers are released and the IO worker waits
(blocked, GIL released) until all K run; before an alone window they park
(waiting on an Event, GIL released) or, as processes, are stopped (SIGSTOP)
and the IO worker waits until all K are parked. Then `stop`. Request ids run
on through every window.

Names: convoy/<strategy>/workers:<K>, K counting the CPU workers only
(workers:0 = the IO worker alone), as gilbench names them:
  cpython_threads  K CPU threads beside the IO thread (a pool of K+1 threads)
  cpython_process  K burner processes (`python -S`, the same loop) beside the
                   IO worker in this process: Skvortsov's "CPU work in a
                   separate process" case; started for the first loaded
                   window, stopped (SIGSTOP) for each later alone window
                   and continued (SIGCONT), killed after the last, as
                   gilbench's --cpu-burner processes
  cpython_serial   K = 0 only
The echo peer is a separate process (see echo.py), as gilbench's is a
thread outside the strategy, and like it waits peer_delay_us before each
reply.

real_time = the loaded windows; counters io_rps, io_rps_alone, io_rps_ratio,
io_p50_us / io_p99_us (nearest rank) / io_max_us of the loaded windows, and
items_per_second = io_rps. The CPU workers' work depends on timing and stays
out of the tally: items = every round trip (warm-up included), sum = FNV-1a
digests of their echoes (mod 2**64), fixed by the parameters
(expected_tally). io_rps = round_trips / phase-2 time, as in gilbench.

Parameters (gilbench's, see workloads.py): warmup_round_trips, alone_round_trips,
round_trips, message_bytes, peer_delay_us, windows (1 when absent: a file
from before the windows), peer ("thread", the default: a python -S echo
process over a socketpair; "tcp": gilbench's own --echo-peer process over TCP
loopback, the peer of gilbench's --convoy-peer=tcp; set by twin.py
--convoy-peer).
"""

import os
import signal
import subprocess
import sys
import threading
import time

from . import echo
from .tally import MASK64, Tally

NAME = "convoy"
KIND = "io"


_requests = {}  # (round trips in all, message_bytes) -> (requests, digests)


def _requests_for(p):
    total = p["warmup_round_trips"] + p["alone_round_trips"] + p["round_trips"]
    key = (total, p["message_bytes"])
    if key not in _requests:
        reqs = [echo.request(i, p["message_bytes"]) for i in range(total)]
        _requests.clear()
        _requests[key] = (reqs, [echo.digest(r) for r in reqs])
    return _requests[key]


def expected_tally(p):
    """Every round trip of a run, warm-up included: fixed by the parameters."""
    _, digests = _requests_for(p)
    return Tally(len(digests), sum(digests) & MASK64)


PAUSE, RUN, STOP = 0, 1, 2  # what the CPU workers do (State.cpu)


class State:
    def __init__(self, p, cpu_workers):
        self.round_trips = p["round_trips"]
        self.alone_round_trips = p["alone_round_trips"]
        self.warmup_round_trips = p["warmup_round_trips"]
        self.windows = p.get("windows", 1)
        if self.windows < 1:
            raise ValueError("convoy: windows must be >= 1")
        self.requests, self.digests = _requests_for(p)
        self.cpu_workers = cpu_workers  # K
        self.sock = echo.peers(1, p["peer_delay_us"], p.get("peer", "thread"))[0].sock
        self.cpu = PAUSE                        # IO worker -> CPU workers
        self.resume = threading.Event()         # set while cpu is RUN or STOP
        self.running = threading.Semaphore(0)   # CPU workers -> IO worker: one per worker running
        self.parked = threading.Semaphore(0)    # one per worker parked
        self.alone_s = 0.0
        self.loaded_s = 0.0
        self.latencies = []


def make_state(p, first=0, count=1, local=1):
    """For `count` threads: worker 0 is the IO worker, the K = count-1 others CPU workers."""
    return State(p, count - 1)


def share(total, windows, w):
    """Window w's share of `total` round trips split into `windows` (as gilbench)."""
    return total // windows + (1 if w < total % windows else 0)


def io_phase(state, first, count, latencies):
    sock = state.sock
    requests = state.requests
    digests = state.digests
    total = 0
    start = time.perf_counter()
    before = start
    for i in range(first, first + count):
        req = requests[i]
        sock.sendall(req)
        reply = echo.recv_exactly(sock, len(req))
        if reply != req:
            raise RuntimeError("echo mismatch in request %d" % i)
        if latencies is not None:
            after = time.perf_counter()
            latencies.append(after - before)
            before = after
        total += digests[i]
    return time.perf_counter() - start, Tally(count, total)


def pause_threads(state):
    state.resume.clear()
    state.cpu = PAUSE
    for _ in range(state.cpu_workers):
        state.parked.acquire()  # blocks with the GIL released


def resume_threads(state):
    state.cpu = RUN
    state.resume.set()
    for _ in range(state.cpu_workers):
        state.running.acquire()


def io_worker(state, pause=pause_threads, resume=resume_threads):
    """The warm-up, then the alone and loaded windows; pause(state) before each
    alone window but the first, resume(state) before each loaded one, each
    returning when the CPU workers are parked or all running. RETURNS the tally
    of every round trip."""
    try:
        i = state.warmup_round_trips
        _, tally = io_phase(state, 0, i, None)
        state.alone_s = state.loaded_s = 0.0
        state.latencies = []
        for w in range(state.windows):
            if w > 0:
                pause(state)
            n = share(state.alone_round_trips, state.windows, w)
            seconds, part = io_phase(state, i, n, None)
            state.alone_s += seconds
            tally.merge(part)
            i += n
            resume(state)
            n = share(state.round_trips, state.windows, w)
            seconds, part = io_phase(state, i, n, state.latencies)
            state.loaded_s += seconds
            tally.merge(part)
            i += n
        return tally
    finally:
        state.cpu = STOP
        state.resume.set()


def cpu_worker(state):
    n = 0
    while True:
        state.resume.wait()  # parked: the GIL released
        if state.cpu == STOP:
            return Tally()
        state.running.release()
        while state.cpu == RUN:
            n = n + 1
        if state.cpu == STOP:
            return Tally()
        state.parked.release()


def run(state, index, count):
    if index == 0:
        return io_worker(state)
    return cpu_worker(state)


def finish(state):
    return Tally()


def _percentile(sorted_values, p):
    """Nearest rank: the smallest value with at least p % of the samples <= it."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def report(state, seconds):
    """The run's time (the loaded windows) and its counters, replacing the runner's."""
    rps = state.round_trips / state.loaded_s if state.loaded_s > 0 else 0.0
    alone = state.alone_round_trips / state.alone_s if state.alone_s > 0 else 0.0
    lat = sorted(state.latencies)
    interval = sys.getswitchinterval()  # the run's, set by the runner
    p50 = _percentile(lat, 50)
    # The mechanism, as gilbench reports it: a round trip's median latency in
    # switch intervals, and the intervals lost per blocking call (two per round
    # trip) from the two rates.
    lost = max(0.0, 1 / rps - 1 / alone) if rps > 0 and alone > 0 else 0.0
    return state.loaded_s, {
        "items_per_second": rps,
        "io_rps": rps,
        "io_rps_alone": alone,
        "io_rps_ratio": rps / alone if alone > 0 else 0.0,
        "io_p50_us": p50 * 1e6,
        "io_p99_us": _percentile(lat, 99) * 1e6,
        "io_max_us": (lat[-1] if lat else 0.0) * 1e6,
        "io_p50_intervals": p50 / interval,
        "io_lost_per_call": lost / 2 / interval,
    }


# ---- cpython_process: K burner processes -------------------------------------

_BURNER = (
    "import os, sys\n"
    "parent = int(sys.argv[1])\n"
    "sys.stdout.write('r')\n"
    "sys.stdout.flush()\n"
    "n = 0\n"
    "while True:\n"
    "    n = n + 1\n"
    "    if n & 0xFFFFF == 0 and os.getppid() != parent:\n"  # die with the parent
    "        break\n"
)


class Burners:
    """K CPU-burning interpreter processes, ready when constructed; stop()
    kills and reaps every one that was started."""

    def __init__(self, k):
        self.procs = []
        try:
            for _ in range(k):
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-S", "-c", _BURNER, str(os.getpid())],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE))
            for i, p in enumerate(self.procs):
                if p.stdout.read(1) != b"r":
                    raise RuntimeError("cpu burner %d (pid %d) exited before it was ready "
                                       "(exit status %s)" % (i, p.pid, p.wait()))
        except BaseException:
            self.stop()
            raise

    def pause(self):
        """SIGSTOP every burner; returns when each one is stopped."""
        self._signal(signal.SIGSTOP, "T")

    def resume(self):
        """SIGCONT every burner; returns when each one runs again."""
        self._signal(signal.SIGCONT, "R")

    def _signal(self, sig, want):
        for p in self.procs:
            os.kill(p.pid, sig)
        for i, p in enumerate(self.procs):
            deadline = time.monotonic() + 5
            while True:
                state = _proc_state(p.pid)
                if state == want or (want == "R" and state not in "TtZX?"):
                    break
                if state in "ZX?" or time.monotonic() > deadline:
                    raise RuntimeError("cpu burner %d (pid %d) did not %s (state %s)"
                                       % (i, p.pid, "stop" if want == "T" else "run", state))
                time.sleep(50e-6)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            p.wait()
            p.stdout.close()
        self.procs = []


def _proc_state(pid):
    """The state letter of /proc/PID/stat, "?" when it cannot be read."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return "?"
    close = text.rfind(")")
    return text[close + 2] if 0 <= close < len(text) - 2 else "?"


class ProcessRunner:
    """cpython_process for convoy: the IO worker here, K burner processes."""

    strategy = "cpython_process"

    def __init__(self, k):
        self.workers = k
        self.startup_s = None

    def run(self, workload, p):
        state = State(p, 0)
        burners = []

        def resume(_):
            if burners:
                burners[0].resume()
            else:
                burners.append(Burners(self.workers))

        try:
            tally = io_worker(state, pause=lambda _: burners[0].pause(), resume=resume)
        finally:
            for b in burners:
                b.stop()
        seconds, counters = report(state, 0.0)
        return seconds, tally, counters

    def close(self):
        pass
