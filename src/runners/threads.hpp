// The threads runner: N workers as threads of this process.
//
// WorkerPool keeps its threads for one repetition (the pool is built before
// the timed region, like a ThreadPoolExecutor). run() hands every thread its
// job, waits until every one of them is running and spinning at a start
// barrier, then releases them and returns the wall time from the release to
// the end of the last one: as Google Benchmark starts the clock of a
// threaded benchmark only after all threads pass a barrier. The wake-up of
// an idle CPU (up to a millisecond on some VMs) stays outside the timed
// region; what is left of it shows as the start skew (first to last worker
// starting its work). run_threads<S, W>() is one measured run: the shared
// state is built and freed outside the timed region, the strategy's runtime
// (the GIL) is fresh for each run, and the allocation ledger proves that
// every object of the run was freed exactly once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "runtime/context.hpp"
#include "runtime/heap.hpp"
#include "runtime/metric.hpp"
#include "runtime/tally.hpp"
#include "strategies/strategy.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

class WorkerPool {
 public:
  // Starts the threads. Throws std::system_error naming the thread that
  // could not be started (the others are stopped and joined first).
  explicit WorkerPool(int workers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const noexcept { return static_cast<int>(threads_.size()); }

  // What run() measured.
  struct Timing {
    double seconds = 0;      // release of the workers .. the last one's finish
    double skew_seconds = 0; // first .. last worker starting its job
    double cpu_seconds = 0;  // CPU time of the workers' jobs, summed
    std::vector<double> worker_cpu_seconds;
  };

  // Runs job(i) on worker i for every worker and waits for all of them.
  // An exception thrown by a job is rethrown here (the first one).
  Timing run(const std::function<void(int)>& job);

 private:
  void loop(int index);
  void stop() noexcept;
  // Spins (yielding the CPU, which the releasing thread may need) until
  // `word` reaches `value`.
  static void spin_until(const std::atomic<std::uint64_t>& word, std::uint64_t value) noexcept;

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable work_cond_;  // main -> workers: a new generation
  std::condition_variable done_cond_;  // workers -> main: all finished
  // All guarded by mutex_.
  const std::function<void(int)>* job_ = nullptr;
  std::uint64_t generation_ = 0;
  int remaining_ = 0;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point last_finish_;
  std::exception_ptr error_;
  std::vector<std::chrono::steady_clock::time_point> started_;  // per worker, this run
  std::vector<double> cpu_seconds_;                              // per worker, this run
  // The start barrier: workers count themselves in, then spin until
  // release_ holds this run's generation.
  std::atomic<std::uint64_t> arrived_{0};
  std::atomic<std::uint64_t> release_{0};
};

// How evenly the workers of a run started (WorkerPool::Timing::skew_seconds):
// large values mean the start barrier could not hold them (more workers
// than CPUs) and part of the run was not parallel.
inline constexpr Metric kStartSkewUs{"start_skew_us", "us", Better::kLower,
                                     "time from the first worker starting its work to the last one (after the "
                                     "start barrier releases them all)"};
inline constexpr const Metric* kThreadsMetrics[] = {&kStartSkewUs};

// A worker's membership of the runtime: attach() now, detach() at scope exit,
// so a worker that throws still releases the GIL to the others.
template <Strategy S>
class Attached {
 public:
  Attached(typename S::Runtime& rt, typename S::Runtime::Worker& w) : rt_(rt), w_(w) { rt_.attach(w_); }
  ~Attached() { rt_.detach(w_); }
  Attached(const Attached&) = delete;
  Attached& operator=(const Attached&) = delete;

 private:
  typename S::Runtime& rt_;
  typename S::Runtime::Worker& w_;
};

// The main thread's membership of the runtime for a run, where the strategy
// has one (S::Runtime::attach_main): biased_rc registers it as the owner of
// the objects it builds (the shared state), so workers queue those objects to
// it and it merges them when the run ends, as brc.c does for a live owner.
// Declare it right after the runtime, before the shared state: it ends after
// the state is freed and every worker has detached.
template <Strategy S>
class MainThread {
  static constexpr bool kHas = requires(typename S::Runtime& r) { r.attach_main(); };

 public:
  explicit MainThread(typename S::Runtime& rt) : rt_(rt) {
    if constexpr (kHas) rt_.attach_main();
  }
  ~MainThread() {
    if constexpr (kHas) rt_.detach_main();
  }
  MainThread(const MainThread&) = delete;
  MainThread& operator=(const MainThread&) = delete;

 private:
  typename S::Runtime& rt_;
};

struct RunResult {
  double seconds = 0;
  double cpu_seconds = 0;  // of every worker (threads or processes), summed
  Tally tally;
  AllocCounts allocs;  // summed over every thread of the run
  RuntimeStats stats;
};

// The measured work of one worker, and nothing else: kept out of line so
// that valgrind --tool=callgrind --toggle-collect='*gilbench::measured_run*'
// counts the instructions of exactly this region (the deterministic lane of
// the regression gate). Runners call the workload only through it.
template <Strategy S, Runnable W>
[[gnu::noinline]] Tally measured_run(Context<S>& ctx, typename W::template State<S>& state, Shard shard) {
  return W::run(ctx, state, shard);
}

template <Strategy S, Runnable W>
RunResult run_threads(WorkerPool& pool, const RunConfig& config, const typename W::Params& params) {
  const int n = pool.size();
  RunResult result;
  AllocLedger ledger;
  {
    AllocLedger::Scope main_thread(ledger);
    typename S::Runtime runtime(config);
    MainThread<S> main_owner(runtime);
    {
      typename W::template State<S> state(params);
      std::vector<Tally> partial(static_cast<std::size_t>(n));
      const WorkerPool::Timing t = pool.run([&](int i) {
        AllocLedger::Scope worker_thread(ledger);
        typename S::Runtime::Worker worker(i);
        Attached<S> attached(runtime, worker);
        Context<S> ctx(runtime, worker, i, config.bytecode_steps);
        partial[static_cast<std::size_t>(i)] = measured_run<S, W>(ctx, state, Shard{i, n});
      });
      result.seconds = t.seconds;
      result.cpu_seconds = t.cpu_seconds;
      result.stats.add(kStartSkewUs, t.skew_seconds * 1e6);
      for (const Tally& part : partial) result.tally.merge(part);
      result.tally.merge(W::finish(state));
    }
    result.stats.append(runtime.stats());
  }
  result.allocs = ledger.total();
  return result;
}

// The serial result every run of W with these parameters must reproduce,
// computed on the calling thread.
template <Runnable W>
Tally serial_tally(const typename W::Params& params) {
  NoRuntime runtime{RunConfig{}};
  NoRuntime::Worker worker(0);
  typename W::template State<Serial> state(params);
  Context<Serial> ctx(runtime, worker, 0);
  Tally t = W::run(ctx, state, Shard{0, 1});
  t.merge(W::finish(state));
  return t;
}

}  // namespace gilbench
