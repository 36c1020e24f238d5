"""The twin's runners: how N workers of real CPython run one workload.

  cpython_serial   the workload on the calling thread, one shard: the
                   reference every speedup of the twin is measured against
                   (gilbench's `serial`, but on the interpreter).
  cpython_threads  N threading.Thread workers, kept for one benchmark (built
                   before the timed region, like gilbench's WorkerPool or a
                   ThreadPoolExecutor); all share one address space, one state
                   and the real GIL.
  cpython_process  N multiprocessing processes, kept for one benchmark (like
                   multiprocessing.Pool and gilbench's `process`): worker i
                   always runs shard i, gets its work and returns its partial
                   tally over its own Pipe; each process builds its own state.
                   Start-up (each worker's start to its first reply, mean
                   over the pool) and the bytes that crossed the pipes in the
                   timed region are reported as their own figures
                   (startup_ms, ipc_bytes). A worker that dies, hangs or
                   answers garbage raises RunError naming the worker, its pid
                   and its exit status. Workers are daemonic: they do not
                   outlive the twin. Start method: spawn by default (a fresh
                   interpreter, like gilbench's re-executed binary).
convoy has runners of its own shape (pytwin/convoy.py; make_runner picks).

Every runner's run(workload, params) returns (seconds, Tally, counters)
where seconds is the wall time from the release of the workers to the end of
the last one, and the state is built (and freed) outside that time, as in
gilbench's run_threads(). process_startup (start-up alone, as gilbench's
bench/process_bench.hpp measures it) is startup_round() at the end.
"""

import gc
import multiprocessing
import multiprocessing.connection
import pickle
import queue
import sys
import threading
import time
import traceback

from . import convoy, workloads
from .tally import Tally

# How long the parent waits for a process worker's answer before it calls the
# worker hung: far above any run of the suite, so only a real hang trips it.
PROCESS_TIMEOUT_S = 600.0


class RunError(Exception):
    """A run that failed for a reason other than a wrong checksum."""


def measured(workload, state, seconds, tally):
    """(seconds, tally, counters) of a run: a workload with a report(state,
    seconds) function (convoy) says itself which time counts and adds its
    counters; the others are timed by the runner."""
    report = getattr(workload, "report", None)
    if report is None:
        return seconds, tally, {}
    seconds, counters = report(state, seconds)
    return seconds, tally, counters


class SerialRunner:
    strategy = "cpython_serial"

    def __init__(self, workers):
        self.workers = workers
        self.startup_s = None

    def run(self, workload, params):
        state = workload.make_state(params, 0, 1, 1)
        gc.collect()
        start = time.perf_counter()
        tally = workload.run(state, 0, 1)
        seconds = time.perf_counter() - start
        tally.merge(workload.finish(state))
        return measured(workload, state, seconds, tally)

    def close(self):
        pass


class ThreadRunner:
    strategy = "cpython_threads"

    def __init__(self, workers):
        self.workers = workers
        self._jobs = [queue.SimpleQueue() for _ in range(workers)]
        self._done = queue.SimpleQueue()
        self._threads = []
        created = []
        for i in range(workers):
            t = threading.Thread(target=self._loop, args=(i,), name="twin-worker-%d" % i,
                                 daemon=True)
            created.append(time.perf_counter())
            t.start()
            self._threads.append(t)
        ready = [self._done.get() for _ in range(workers)]
        # Mean over the workers of thread creation to the thread running.
        self.startup_s = sum(when - created[i] for i, when, _ in ready) / workers

    def _loop(self, index):
        self._done.put((index, time.perf_counter(), None))
        while True:
            job = self._jobs[index].get()
            if job is None:
                return
            workload, state = job
            try:
                result = workload.run(state, index, self.workers)
            except BaseException:  # reported to the main thread, which fails the run
                result = RunError("worker %d: %s" % (index, traceback.format_exc().strip().splitlines()[-1]))
            self._done.put((index, time.perf_counter(), result))

    def run(self, workload, params):
        state = workload.make_state(params, 0, self.workers, self.workers)
        gc.collect()
        start = time.perf_counter()
        for q in self._jobs:
            q.put((workload, state))
        finished = [self._done.get() for _ in range(self.workers)]
        seconds = max(when for _, when, _ in finished) - start
        tally = None
        errors = []
        for index, _, result in sorted(finished, key=lambda f: f[0]):
            if isinstance(result, RunError):
                errors.append(str(result))
            elif tally is None:
                tally = result
            else:
                tally.merge(result)
        if errors:
            raise RunError("; ".join(errors))
        tally.merge(workload.finish(state))
        return measured(workload, state, seconds, tally)

    def close(self):
        for q in self._jobs:
            q.put(None)
        for t in self._threads:
            t.join()


def _send(conn, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    conn.send_bytes(data)
    return len(data)


def process_worker(conn, index, count, switch_interval):
    """The body of one cpython_process worker (a module-level function, so
    that every start method can find it). Messages, pickled over `conn`:
      ("prepare", workload_name, params) -> ("ready",)      builds the state
      ("run",)                           -> ("done", tally) runs shard `index`
      ("stop",)                          -> exits
    Anything that goes wrong is answered ("error", one line)."""
    sys.setswitchinterval(switch_interval)
    _send(conn, ("hello", index))
    workload = None
    state = None
    while True:
        try:
            msg = pickle.loads(conn.recv_bytes())
        except EOFError:
            return
        try:
            if msg[0] == "stop":
                return
            if msg[0] == "prepare":
                workload = workloads.BY_NAME[msg[1]]
                state = None
                state = workload.make_state(msg[2], index, count, 1)
                gc.collect()
                _send(conn, ("ready",))
            elif msg[0] == "run":
                tally = workload.run(state, index, count)
                tally.merge(workload.finish(state))
                _send(conn, ("done", tally.to_wire()))
                # The state is freed at the next "prepare", outside any timed region.
            else:
                _send(conn, ("error", "unknown message %r" % (msg[0],)))
        except Exception:
            _send(conn, ("error", traceback.format_exc().strip().splitlines()[-1]))


class ProcessRunner:
    strategy = "cpython_process"

    def __init__(self, workers, start_method, switch_interval):
        self.workers = workers
        ctx = multiprocessing.get_context(start_method)
        self._conns = []
        self._procs = []
        spawned = []
        replied = {}
        try:
            for i in range(workers):
                parent, child = ctx.Pipe()
                p = ctx.Process(target=process_worker, args=(child, i, workers, switch_interval),
                                name="twin-process-%d" % i, daemon=True)
                spawned.append(time.perf_counter())
                p.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(p)
            # Each worker's first reply, timed as it arrives (in any order).
            waiting = dict(zip(self._conns, range(workers)))
            deadline = time.monotonic() + PROCESS_TIMEOUT_S
            while waiting:
                ready = multiprocessing.connection.wait(list(waiting), max(0.0, deadline - time.monotonic()))
                now = time.perf_counter()
                if not ready:
                    i = min(waiting.values())
                    raise RunError("process worker %d (pid %s) hung: no first reply in %.0f s"
                                   % (i, self._procs[i].pid, PROCESS_TIMEOUT_S))
                for conn in ready:
                    i = waiting.pop(conn)
                    self._expect(i, "hello")
                    replied[i] = now
        except BaseException:
            self.close()
            raise
        # Mean over the workers of spawn to first reply (gilbench's startup_ms).
        self.startup_s = sum(replied[i] - spawned[i] for i in range(workers)) / workers

    def _recv(self, i):
        conn = self._conns[i]
        proc = self._procs[i]
        try:
            if not conn.poll(PROCESS_TIMEOUT_S):
                raise RunError("process worker %d (pid %s) hung: no answer in %.0f s"
                               % (i, proc.pid, PROCESS_TIMEOUT_S))
            data = conn.recv_bytes()
        except (EOFError, OSError):
            proc.join(5)
            raise RunError("process worker %d (pid %s) died (exit status %s)"
                           % (i, proc.pid, proc.exitcode))
        try:
            msg = pickle.loads(data)
        except Exception:
            raise RunError("process worker %d (pid %s) answered garbage (%d bytes)"
                           % (i, proc.pid, len(data)))
        if not isinstance(msg, tuple) or not msg:
            raise RunError("process worker %d (pid %s) answered garbage: %r" % (i, proc.pid, msg))
        if msg[0] == "error":
            raise RunError("process worker %d (pid %s): %s" % (i, proc.pid, msg[1]))
        return msg, len(data)

    def _expect(self, i, kind):
        msg, size = self._recv(i)
        if msg[0] != kind:
            raise RunError("process worker %d answered %r, expected %r" % (i, msg[0], kind))
        return msg, size

    def run(self, workload, params):
        for conn in self._conns:
            _send(conn, ("prepare", workload.NAME, params))
        for i in range(self.workers):
            self._expect(i, "ready")
        gc.collect()
        ipc = 0
        start = time.perf_counter()
        for conn in self._conns:
            ipc += _send(conn, ("run",))
        tally = None
        for i in range(self.workers):
            msg, size = self._expect(i, "done")
            ipc += size
            part = Tally.from_wire(msg[1])
            tally = part if tally is None else tally.merge(part)
        seconds = time.perf_counter() - start
        return seconds, tally, {"ipc_bytes": float(ipc)}

    def close(self):
        for conn in self._conns:
            try:
                _send(conn, ("stop",))
            except OSError:
                pass
        for p in self._procs:
            p.join(5)
            if p.is_alive():
                p.terminate()
                p.join(5)
        for conn in self._conns:
            conn.close()
        self._conns = []
        self._procs = []


def make_runner(workload, strategy, workers, start_method, switch_interval):
    """The runner of one benchmark. convoy's workers:<K> counts its CPU
    workers only: K+1 threads (worker 0 the IO worker), or K burner processes
    beside the IO worker under cpython_process (pytwin/convoy.py)."""
    if strategy == "cpython_serial":
        return SerialRunner(1)
    if workload is convoy:
        if strategy == "cpython_threads":
            return ThreadRunner(workers + 1)
        if strategy == "cpython_process":
            return convoy.ProcessRunner(workers)
    if strategy == "cpython_threads":
        return ThreadRunner(workers)
    if strategy == "cpython_process":
        return ProcessRunner(workers, start_method, switch_interval)
    raise ValueError("unknown strategy %r" % strategy)


STRATEGIES = ["cpython_serial", "cpython_threads", "cpython_process"]

# process_startup: start-up on its own, as gilbench's bench/process_bench.hpp
# measures it (process_startup/{process,threads}/workers:<n>): one round
# starts N workers, waits for each one's first reply and ends them. gilbench
# averages 5 rounds per repetition; so does the twin, except at --quick, where
# a spawned interpreter (~100-250 ms here) would make 5 rounds a third of the
# minute the quick run may take: 1 round per repetition there.
STARTUP_WORKLOAD = "process_startup"
STARTUP_ROUNDS = {"default": 5, "quick": 1, "tiny": 1}


def _mark_running(running, i):
    running[i] = time.perf_counter()


def startup_round(strategy, workers, start_method, switch_interval):
    """RETURNS (seconds from the first start to the last exit, sum over the
    workers of start to first reply)."""
    start = time.perf_counter()
    if strategy == "cpython_process":
        pool = ProcessRunner(workers, start_method, switch_interval)
        pool.close()
        return time.perf_counter() - start, pool.startup_s * workers
    created = [0.0] * workers
    running = [0.0] * workers
    threads = []
    for i in range(workers):
        t = threading.Thread(target=_mark_running, args=(running, i))
        created[i] = time.perf_counter()
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return time.perf_counter() - start, sum(running[i] - created[i] for i in range(workers))
