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
// The pool is started before the timed region and kept for one repetition;
// startup_ms is each worker's spawn-to-first-reply, measured once per pool.
// One run is three round trips with every worker, over its stdin and stdout:
//
//   parent -> worker i                  worker i -> parent            timed
//   prepare{workload, params, shard}    prepared{state_bytes}          no
//     (builds the workload's State<Serial> from the Params)
//   run{}                               armed{}                        no
//     (then spins on the start gate, runners/start_gate.hpp; when every
//      worker is armed the parent starts the clock and opens the gate)
//                                       result{tally, busy_ns, cpu_ns,  yes
//                                              start_ns}
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

#include "runners/start_gate.hpp"
#include "runners/threads.hpp"
#include "runtime/heap.hpp"
#include "runtime/metric.hpp"
#include "runtime/tally.hpp"

namespace gilbench {

inline constexpr std::string_view kProcessName = "process";

// The counters of a process run (process_run_result) and of start-up.
inline constexpr Metric kStartupMs{
    "startup_ms", "ms", Better::kLower,
    "process: time from spawning a worker to its first reply, mean over the pool's workers (measured once per "
    "pool, outside real_time); process_startup/threads: thread creation to the thread running"};
inline constexpr Metric kIpcBytes{"ipc_bytes", "bytes", Better::kLower,
                                  "process: bytes through the pipes in the timed region of one run (run requests "
                                  "and results with their frame headers, both directions, all workers)"};
inline constexpr Metric kIpcFrac{
    "ipc_frac", "fraction", Better::kLower,
    "process: (real_time - the slowest worker's compute time) / real_time, where compute time is measured inside "
    "the worker around its measured_run calls and W::finish; the rest is sending the requests, waking the workers, "
    "serialising, transferring, parsing and merging the results"};
inline constexpr Metric kMergeFrac{"merge_frac", "fraction", Better::kLower,
                                   "process: time the parent spends parsing the result frames and merging the "
                                   "tallies / real_time (part of ipc_frac)"};
inline constexpr Metric kRssPeakKb{"rss_peak_kb", "KiB", Better::kLower,
                                   "process: the largest peak resident set (getrusage ru_maxrss) of one worker "
                                   "process, shared library pages included"};
inline constexpr Metric kRssTotalKb{"rss_total_kb", "KiB", Better::kLower,
                                    "process: peak resident sets of all worker processes, summed (what N private "
                                    "heaps and N copies of the state cost, shared pages counted once per worker)"};
inline constexpr Metric kStateCopyKb{"state_copy_kb", "KiB", Better::kLower,
                                     "process: object bytes of the workload's shared state, which every worker "
                                     "builds for itself from the Params, summed over workers (threads share one "
                                     "copy)"};
inline constexpr const Metric* kProcessMetrics[] = {&kStartupMs,  &kIpcBytes,   &kIpcFrac,    &kMergeFrac,
                                                    &kRssPeakKb, &kRssTotalKb, &kStateCopyKb};

// This binary's path, read from /proc/self/exe once (main() calls this
// first): the program workers and CPU burners are started from. Resolved,
// not "/proc/self/exe" itself, because under valgrind that names valgrind's
// tool, not gilbench, while the link valgrind reports names gilbench.
const std::string& self_executable();

struct ProcessOptions {
  // The worker binary: this one, unless a test runs the pool from another.
  std::string executable = self_executable();
  // How long to wait for any answer once a worker is up (gilbench --worker-timeout).
  std::chrono::nanoseconds timeout = std::chrono::seconds(60);
  // How long a new worker may take to send its first frame.
  std::chrono::nanoseconds startup_timeout = std::chrono::seconds(60);
  // More arguments for every worker, after --worker --index=I --parent=PID
  // (the driver's test hooks travel this way; the pool does not read them).
  std::vector<std::string> worker_args;
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
  double cpu_seconds = 0;       // its CPU time over the same work
  std::int64_t start_ns = 0;    // steady_clock when it started the work (the clock is system-wide)
  AllocCounts allocs;           // prepare to release: state, run and drop
  std::int64_t state_bytes = 0; // object bytes of its State (+ the injection's copy)
  std::int64_t rss_peak_kb = 0; // getrusage ru_maxrss after the release
};

struct ProcessRun {
  double seconds = 0;             // the gate opened (every worker armed) .. last result merged
  double skew_seconds = 0;        // first .. last worker starting its work
  double merge_seconds = 0;       // parent: parsing result frames + merging tallies
  double cpu_seconds = 0;         // the workers' CPU time over their work, and the parent's over the run
  std::uint64_t ipc_bytes = 0;    // frames of the run phase (run, armed, result), both directions
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
  // Throws ProcessError on any fault.
  ProcessRun run(std::string_view workload, const nlohmann::json& params);

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
  StartGate gate_;
  std::uint64_t runs_ = 0;  // run phases so far: the gate's value for the next is runs_ + 1
  std::vector<std::unique_ptr<Worker>> workers_;  // empty once torn down
  std::vector<double> startup_;
};

// One measured run of W under `process`, in the shape the threads runner
// returns (RunResult.stats carries the process figures, see
// src/report/metrics.cpp). Throws ProcessError on a fault, or when a worker's
// own objects are not back to zero after its release.
RunResult process_run_result(const ProcessRun& run, const ProcessPool& pool);

// The worker side is the driver's (bench/worker_main.hpp): a worker runs
// workloads by name, and the runners do not know the list of workloads.

}  // namespace gilbench
