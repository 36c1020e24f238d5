// Notes on the process runner (strategy token `process`).
//
// What it models: multiprocessing.Pool. N worker processes, each this binary
// re-executed in worker mode (self_executable() --worker ...) with Boost.Process
// v1, each running the `serial` policy on its own heap: no lock and no atomic
// anywhere. The price is paid elsewhere and reported, not hidden: start-up
// (startup_ms), memory (every worker builds its own copy of the workload's
// shared state: state_copy_kb, rss_peak_kb, rss_total_kb) and IPC (the work
// goes out and the results come back over pipes, serialised, and the parent
// parses and merges them inside the timed region: ipc_bytes, ipc_frac).
//
// The pool is started before the timed region and kept for the benchmark;
// startup_ms is each worker's spawn-to-first-reply, measured once per pool.
// One run is three round trips with every worker, over its stdin and stdout:
//
//   parent -> worker i                  worker i -> parent            timed
//   prepare{workload, params, shard}    prepared{state_bytes}          no
//     (builds State<Serial> from the Params, and the injection's copy)
//   run{}                               result{tally, busy_ns}         yes
//     (measured_run on its shard, then W::finish on its own state; the parent
//      parses and merges each result as it arrives; the clock stops after
//      the last merge)
//   release{}                           released{allocs, rss_kb}       no
//     (drops its state; its live objects must be back to zero)
//   exit{} or end of file               (exits 0)                      pool end
//
// A worker that fails answers error{message} and exits 1. The frames are
// length-prefixed JSON (runners/process_protocol.hpp). State is never sent:
// each worker builds it locally from the Params, so shared_read's tree exists
// N times (that is the memory multiprocessing costs).
//
// Faults: every wait has a deadline (ProcessOptions::timeout). A worker that
// dies, exits, writes something other than the frame expected, or misses the
// deadline ends the pool: it is killed if still running, every other worker
// is killed, all are reaped, and ProcessError names the worker, its pid and
// how it ended (exit status or signal). Workers set PR_SET_PDEATHSIG, so when
// gilbench dies (SIGINT included) they die with it instead of living on as
// orphans; that signal follows the *thread* that spawned them, so create a
// pool on a thread that outlives it. The parent ignores SIGPIPE (a write to a
// dead worker must be an error, not the end of gilbench). Linux only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runners/threads.hpp"
#include "runtime/heap.hpp"
#include "runtime/tally.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

using namespace std::chrono_literals;

inline constexpr std::string_view kProcessName = "process";

// This binary's path, read from /proc/self/exe once (main() calls this
// first): the program workers and CPU burners are started from. Resolved,
// not "/proc/self/exe" itself, because under valgrind that names valgrind's
// tool, not gilbench, while the link valgrind reports names gilbench.
const std::string& self_executable();

struct ProcessOptions {
  // The worker binary: this one, unless a test runs the pool from another.
  std::string executable = self_executable();
  // How long to wait for any answer once a worker is up (gilbench --worker-timeout).
  std::chrono::nanoseconds timeout = 60s;
  // How long a new worker may take to send its first frame.
  std::chrono::nanoseconds startup_timeout = 60s;
  // Test only: the last worker of the pool acts this out in the run phase
  // (one of wire::kMisbehaviours; empty: none).
  std::string misbehave;
};

// A worker fault or a protocol violation; the pool has been torn down (every
// worker killed and reaped) by the time it is thrown.
struct ProcessError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What one worker said about one run.
struct WorkerReport {
  int index = 0;
  pid_t pid = 0;
  double busy_seconds = 0;      // measured_run(s) + W::finish, timed inside the worker
  AllocCounts allocs;           // prepare to release: state, run and drop
  std::int64_t state_bytes = 0; // object bytes of its State (+ the injection's copy)
  std::int64_t rss_peak_kb = 0; // getrusage ru_maxrss after the release
};

struct ProcessRun {
  double seconds = 0;             // first run request sent .. last result merged
  double merge_seconds = 0;       // parent: parsing result frames + merging tallies
  std::uint64_t ipc_bytes = 0;    // frames of the timed phase, both directions
  Tally tally;                    // merged over workers
  std::vector<WorkerReport> workers;
};

class ProcessPool {
 public:
  // Spawns `workers` workers and waits for each one's first frame.
  // Throws ProcessError (no worker left behind) if one cannot be started.
  ProcessPool(int workers, ProcessOptions options = {});
  // Ends the workers as shutdown() does, but never throws.
  ~ProcessPool();
  ProcessPool(const ProcessPool&) = delete;
  ProcessPool& operator=(const ProcessPool&) = delete;

  int size() const noexcept { return size_; }
  std::vector<pid_t> pids() const;
  // Seconds from spawning worker i to its first frame (its own clock
  // reading when it sent it: steady_clock is one clock for every process).
  const std::vector<double>& startup_seconds() const noexcept { return startup_; }

  // One run of `workload` over all workers: prepare, run (timed), release.
  // split: the Injection's (0: none). Throws ProcessError on any fault.
  ProcessRun run(std::string_view workload, const nlohmann::json& params, int split = 0);

  // Asks every worker to exit and reaps it. Throws ProcessError if one does
  // not exit with status 0 within the timeout (it is killed and reaped too).
  void shutdown();

 private:
  struct Worker;
  template <class OnFrame>
  double collect(std::string_view phase, std::string_view expect, std::chrono::nanoseconds timeout,
               OnFrame&& on_frame);
  void send(Worker& w, const std::string& frame, std::string_view phase);
  [[noreturn]] void fail(Worker& w, const std::string& what, bool kill_now);
  void kill_all() noexcept;

  ProcessOptions options_;
  int size_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;  // empty once torn down
  std::vector<double> startup_;
};

// One measured run of W under `process`, in the shape the threads runner
// returns (RunResult.stats carries the process figures, see
// src/report/metrics.cpp). Throws ProcessError on a fault, or when a worker's
// own objects are not back to zero after its release.
RunResult process_run_result(const ProcessRun& run, const ProcessPool& pool);

template <Workload W>
RunResult run_processes(ProcessPool& pool, const typename W::Params& params, Injection inject = {}) {
  return process_run_result(pool.run(W::kName, nlohmann::json(params), inject.split), pool);
}

// The worker side: gilbench --worker ARGS. Talks the protocol above on its
// stdin and stdout; returns the process exit status.
int worker_main(const std::vector<std::string>& args);

}  // namespace gilbench
