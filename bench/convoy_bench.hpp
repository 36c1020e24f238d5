// The convoy benchmarks (src/workloads/convoy.hpp): one IO worker doing
// socket round trips beside K CPU-bound workers.
//
// Names: convoy/<strategy>/workers:<K>[/interval:<d>], where workers:<K>
// counts the CPU workers only; every run has the one IO worker besides, so
// workers:0 is the IO worker alone and a run uses K + 1 threads (or, under
// `process`, the IO worker in this process and K burner processes). K is
// an axis of the matrix (bench/matrix.hpp): 0,1,2,4 by default, 0,1,2 with
// --quick, 0 plus the --workers list when one is given. `serial` runs K = 0
// only.
//
// Per repetition: real time = the loaded windows (K CPU workers running);
// counters io_rps, io_rps_alone (the same IO worker's alone windows,
// alternating with the loaded ones in the same run), io_rps_ratio,
// io_p50_us / io_p99_us / io_max_us (loaded windows, from a
// LatencyHistogram), items_per_second (= io_rps), the strategy's counters,
// and the checksum, which must be the parameters' expected tally.
//
// Under `process` the K CPU workers are `gilbench --cpu-burner PPID` (self_executable())
// processes (Skvortsov's "CPU work in a separate process" case). They run
// the same loop as the CPU threads under the serial policy, say they are
// ready on their stdout pipe, die with the parent (PR_SET_PDEATHSIG, which
// follows the spawning thread: Google Benchmark's main thread, alive for
// every run) if it dies, are stopped (SIGSTOP) for each alone window after
// the first and continued (SIGCONT) for each loaded one, and are killed and
// reaped when the last window ends.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "row.hpp"
#include "runners/threads.hpp"
#include "runtime/histogram.hpp"
#include "runtime/metric.hpp"
#include "workloads/convoy.hpp"

namespace gilbench {

inline constexpr Metric kIoRps{"io_rps", "round trips/s", Better::kHigher,
                               "convoy: the IO worker's socket round trips per second while the K CPU workers run"};
inline constexpr Metric kIoRpsAlone{
    "io_rps_alone", "round trips/s", Better::kHigher,
    "convoy: the same IO worker's round trips per second alone, in windows alternating with the loaded ones"};
inline constexpr Metric kIoRpsRatio{"io_rps_ratio", "fraction", Better::kHigher,
                                    "convoy: io_rps / io_rps_alone (1 = the CPU workers cost the IO worker nothing)"};
inline constexpr Metric kIoP50Us{"io_p50_us", "us", Better::kLower,
                                 "convoy: median round-trip latency of the IO worker with K CPU workers"};
inline constexpr Metric kIoP99Us{"io_p99_us", "us", Better::kLower,
                                 "convoy: 99th-percentile round-trip latency of the IO worker"};
inline constexpr Metric kIoMaxUs{"io_max_us", "us", Better::kLower, "convoy: slowest round trip of the IO worker"};
inline constexpr Metric kIoP50Intervals{
    "io_p50_intervals", "intervals", Better::kLower,
    "convoy: median round-trip latency in switch intervals (under a GIL: the intervals a round trip loses)"};
inline constexpr Metric kIoLostPerCall{
    "io_lost_per_call", "intervals", Better::kLower,
    "convoy: (1/io_rps - 1/io_rps_alone) / (2 x switch interval): switch intervals lost per blocking call, "
    "from the rates (the twin reports the same)"};
inline constexpr Metric kIoRetakesPerCall{
    "io_retakes_per_call", "fraction", Better::kLower,
    "convoy: blocking calls of the loaded windows whose retake of the released lock waited over 100 us (found it held), "
    "per call, measured"};
inline constexpr Metric kIoRetakeWaitUs{"io_retake_wait_us", "us", Better::kLower,
                                        "convoy: mean wait, after a blocking call returned, to retake the lock"};
inline constexpr const Metric* kConvoyMetrics[] = {&kIoRps,     &kIoRpsAlone,     &kIoRpsRatio,
                                                   &kIoP50Us,   &kIoP99Us,        &kIoMaxUs,
                                                   &kIoP50Intervals, &kIoLostPerCall, &kIoRetakesPerCall,
                                                   &kIoRetakeWaitUs};

class Child;

// convoy's echo peer (Convoy::Params::peer), started outside the timed
// region: "thread", an EchoPeer (a thread over an AF_UNIX socketpair), or
// "tcp", a `gilbench --echo-peer` process (exe; default this binary)
// listening on 127.0.0.1, connected with TCP_NODELAY, as the published
// convoy measurements' client ran in another process over loopback. Both
// wait peer_delay_us before each echo. The destructor closes the
// connection; the process then exits and is reaped.
class ConvoyPeer {
 public:
  explicit ConvoyPeer(const Convoy::Params& p, const std::string& exe = {});
  ~ConvoyPeer();
  ConvoyPeer(const ConvoyPeer&) = delete;
  ConvoyPeer& operator=(const ConvoyPeer&) = delete;
  int fd() const noexcept { return fd_; }

 private:
  std::optional<EchoPeer> thread_;
  std::unique_ptr<Child> process_;
  int fd_ = -1;
};

struct ConvoyResult {
  Convoy::Phase warmup;      // untimed, in the checksum only
  Convoy::Phase alone;       // the alone windows: the IO worker alone
  Convoy::Phase loaded;      // the loaded windows: beside K CPU workers
  LatencyHistogram latency;  // loaded round trips, ns
  RetakeLog retakes;         // loaded blocking calls
  double interval_s = 0;     // the switch interval, for a strategy that has one (else 0)
  AllocCounts allocs;
  RuntimeStats stats;
  double cpu_seconds = 0;  // loaded windows: the IO worker's, and the CPU workers' (their whole run)

  // As a row's outcome: real time = the loaded windows, tally of every window, items =
  // the loaded round trips, the io_* counters and the strategy's.
  Outcome outcome(int workers) const;
};

// One in-process run on a pool of K + 1 threads: worker 0 is the IO worker.
template <Strategy S>
ConvoyResult run_convoy_threads(WorkerPool& pool, const RunConfig& config, const Convoy::Params& params) {
  const int k = pool.size() - 1;
  ConvoyResult result;
  AllocLedger ledger;
  {
    AllocLedger::Scope main_thread(ledger);
    typename S::Runtime runtime(config);
    {
      const ConvoyPeer peer(params);
      Convoy::State<S> state(params, k, peer.fd());
      const WorkerPool::Timing t = pool.run([&](int i) {
        AllocLedger::Scope scope(ledger);
        if (i > 0) Convoy::await_start(state);
        typename S::Runtime::Worker worker(i);
        Attached<S> attached(runtime, worker);
        Context<S> ctx(runtime, worker, i, config.bytecode_steps);
        if (i == 0)
          std::tie(result.warmup, result.alone, result.loaded) = Convoy::io_worker(ctx, state);
        else
          (void)Convoy::cpu_worker(ctx, state);
      });
      result.latency = state.latency;
      result.retakes = state.retakes;
      if constexpr (requires { S::kUsesSwitchInterval; })
        result.interval_s = std::chrono::duration<double>(config.switch_interval).count();
      // The CPU workers run only in the loaded windows; the IO worker's
      // share is its loaded windows.
      result.cpu_seconds = t.cpu_seconds - t.worker_cpu_seconds[0] + result.loaded.cpu_seconds;
    }
    result.stats = runtime.stats();
  }
  result.allocs = ledger.total();
  return result;
}

// One run under `process`: K --cpu-burner processes of `exe`.
// crash_last_burner (test only, --test-worker-misbehave=crash): the last
// burner kills itself (SIGKILL) just after saying it is ready.
ConvoyResult run_convoy_processes(int k, const Convoy::Params& params, const std::string& exe,
                                  bool crash_last_burner = false);

// The hidden --cpu-burner mode of the gilbench binary:
// `gilbench --cpu-burner PARENT_PID [--allocator=NAME] [crash]`. Writes one byte to stdout
// when it runs, then burns CPU until killed (with `crash`, a test hook: it
// kills itself 1 ms later instead). RETURNS an exit status.
int cpu_burner_main(int argc, char** argv);

// The hidden --echo-peer mode: `gilbench --echo-peer PARENT_PID DELAY_US`.
// Listens on 127.0.0.1 (an ephemeral port), writes the port and a newline
// to stdout, accepts one connection (within 30 s) and echoes it, each read
// after DELAY_US, until the other end closes. RETURNS an exit status.
int echo_peer_main(int argc, char** argv);

}  // namespace gilbench
