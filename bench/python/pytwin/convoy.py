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
1. alone_round_trips alone (the K = 0 figure, measured in the same run),
then the CPU workers start and the IO worker waits (blocked, GIL released)
until all K are running; 2. round_trips beside them, each one timed; then
`stop`. Request ids run on through the three parts.

Names: convoy/<strategy>/workers:<K>, K counting the CPU workers only
(workers:0 = the IO worker alone), as gilbench names them:
  cpython_threads  K CPU threads beside the IO thread (a pool of K+1 threads)
  cpython_process  K burner processes (`python -S`, the same loop) beside the
                   IO worker in this process: Skvortsov's "CPU work in a
                   separate process" case; started after phase 1, killed
                   after phase 2, as gilbench's --cpu-burner processes
  cpython_serial   K = 0 only
The echo peer is a separate process (see echo.py), as gilbench's is a
thread outside the strategy, and like it waits peer_delay_us before each
reply.

real_time = phase 2; counters io_rps, io_rps_alone, io_rps_ratio,
io_p50_us / io_p99_us (nearest rank) / io_max_us of phase 2, and
items_per_second = io_rps. The CPU workers' work depends on timing and stays
out of the tally: items = every round trip (warm-up included), sum = FNV-1a
digests of their echoes (mod 2**64), fixed by the parameters
(expected_tally). io_rps = round_trips / phase-2 time, as in gilbench.

Parameters (gilbench's, see workloads.py): warmup_round_trips, alone_round_trips,
round_trips, message_bytes, peer_delay_us.
"""

import os
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


class State:
    def __init__(self, p, cpu_workers):
        self.round_trips = p["round_trips"]
        self.alone_round_trips = p["alone_round_trips"]
        self.warmup_round_trips = p["warmup_round_trips"]
        self.requests, self.digests = _requests_for(p)
        self.cpu_workers = cpu_workers  # K
        self.sock = echo.peers(1, p["peer_delay_us"])[0].sock
        self.go = threading.Event()             # IO worker -> CPU workers: start
        self.running = threading.Semaphore(0)   # CPU workers -> IO worker: one per running worker
        self.stop = False                       # IO worker -> CPU workers: done
        self.alone_s = 0.0
        self.loaded_s = 0.0
        self.latencies = []


def make_state(p, first=0, count=1, local=1):
    """For `count` threads: worker 0 is the IO worker, the K = count-1 others CPU workers."""
    return State(p, count - 1)


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


def io_worker(state, during=None):
    """Warm-up and phase 1, start the CPU workers (or call `during`, which
    starts them and returns when they run), phase 2, stop them. RETURNS the
    tally of every round trip."""
    try:
        warmup, alone = state.warmup_round_trips, state.alone_round_trips
        _, tally = io_phase(state, 0, warmup, None)
        state.alone_s, part = io_phase(state, warmup, alone, None)
        tally.merge(part)
        if during is not None:
            during()
        else:
            state.go.set()
            for _ in range(state.cpu_workers):
                state.running.acquire()  # blocks with the GIL released
        state.latencies = []
        state.loaded_s, part = io_phase(state, warmup + alone, state.round_trips, state.latencies)
        return tally.merge(part)
    finally:
        state.stop = True
        state.go.set()


def cpu_worker(state):
    state.go.wait()
    state.running.release()
    n = 0
    while not state.stop:
        n = n + 1
    return Tally()


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
    """The run's time (phase 2) and its counters, replacing the runner's."""
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

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            p.wait()
            p.stdout.close()
        self.procs = []


class ProcessRunner:
    """cpython_process for convoy: the IO worker here, K burner processes."""

    strategy = "cpython_process"

    def __init__(self, k):
        self.workers = k
        self.startup_s = None

    def run(self, workload, p):
        state = State(p, 0)
        burners = []

        def start_burners():
            burners.append(Burners(self.workers))

        try:
            tally = io_worker(state, during=start_burners)
        finally:
            for b in burners:
                b.stop()
        seconds, counters = report(state, 0.0)
        return seconds, tally, counters

    def close(self):
        pass
