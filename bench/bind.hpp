// Binding the rows of the matrix to their instantiations: the runners of
// each kind of row, and the tables of factories the matrix picks from.
//
// A factory turns a row's inputs into one repetition's RowRunner; it is the
// only place a row meets its templates (ThreadsRunner<S, W> ...). The
// threads factories are instantiated strategy by strategy in separate
// translation units (bench/bind_shard.cpp, compiled once per shard with
// GILBENCH_SHARD), so a clean build compiles them in parallel.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "convoy_bench.hpp"
#include "hooks.hpp"
#include "row.hpp"
#include "runners/processes.hpp"
#include "runners/threads.hpp"
#include "strategies/strategy.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

// What a factory gets: the row's settings.
struct RowInputs {
  RunConfig config;        // workers (convoy: K), switch interval, check interval
  nlohmann::json params;   // the workload's Params
  Hooks hooks;
  ProcessOptions process;  // the process runner's (worker binary, timeouts)
};

using RunnerFactory = std::unique_ptr<RowRunner> (*)(const RowInputs&);
using TallyFn = Tally (*)(const nlohmann::json& params);

// How a (workload, strategy) cell of the matrix runs.
struct Binding {
  RunnerFactory make;
  const char* fault;  // prefix of its fault messages
};

// What the matrix needs to know of a strategy token.
struct StrategyTraits {
  bool threaded = true;        // false: one worker only (serial)
  bool uses_interval = false;  // one row per --switch-interval
  CostModel cost;              // what its operations cost beyond serial
};

// The matrix as data: every cell that can run, and how.
struct Binders {
  std::map<std::pair<std::string, std::string>, Binding> cells;  // (workload, strategy)
  std::map<std::string, StrategyTraits> strategies;
  std::map<std::string, TallyFn> expected;  // workload; absent: its rows have no checksum
};

// The serial tally of W at these parameters, computed once per process.
template <Workload W>
Tally reference_tally(const nlohmann::json& params) {
  static std::map<std::string, Tally> cache;
  const std::string key = params.dump();
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, serial_tally<W>(params.get<typename W::Params>())).first;
  return it->second;
}

// W under S on a pool of threads (through the test hooks' Injected<W>).
template <Strategy S, Workload W>
class ThreadsRunner final : public RowRunner {
 public:
  explicit ThreadsRunner(const RowInputs& in)
      : pool_(in.config.workers),
        config_(in.config),
        params_{in.params.get<typename W::Params>(), in.hooks.inject_split},
        hang_(in.hooks.hang && in.config.workers >= 2) {}

  Outcome run() override {
    if (hang_)  // --test-hang: worker 0 never returns, as in a deadlock
      pool_.run([](int i) {
        while (i == 0) std::this_thread::sleep_for(std::chrono::hours(1));
      });
    RunResult r = run_threads<S, Injected<W>>(pool_, config_, params_);
    return {r.seconds, r.tally, static_cast<double>(r.tally.items), config_.workers, r.cpu_seconds, r.allocs,
            std::move(r.stats)};
  }

  static std::unique_ptr<RowRunner> make(const RowInputs& in) { return std::make_unique<ThreadsRunner>(in); }

 private:
  WorkerPool pool_;
  RunConfig config_;
  typename Injected<W>::Params params_;
  bool hang_;
};

// convoy under S: K + 1 threads, worker 0 the IO worker.
template <Strategy S>
class ConvoyThreadsRunner final : public RowRunner {
 public:
  explicit ConvoyThreadsRunner(const RowInputs& in)
      : k_(in.config.workers), pool_(k_ + 1), config_(in.config), params_(in.params.get<Convoy::Params>()) {
    config_.workers = k_ + 1;
  }

  Outcome run() override { return run_convoy_threads<S>(pool_, config_, params_).outcome(k_ + 1); }

  static std::unique_ptr<RowRunner> make(const RowInputs& in) { return std::make_unique<ConvoyThreadsRunner>(in); }

 private:
  int k_;
  WorkerPool pool_;
  RunConfig config_;
  Convoy::Params params_;
};

// Fills the tables with every strategy of shard I (bench/bind_shard.cpp).
template <int I>
void bind_shard(Binders& b);
// The rows of the process runner, convoy's burners and start-up, and every
// workload's expected tally (bench/bind_process.cpp).
void bind_process(Binders& b);

inline constexpr const char* kThreadsFault = "run failed: ";
// process_startup/process and /threads: start-up alone, no workload.
inline constexpr std::string_view kStartupWorkload = "process_startup";
inline constexpr const char* kProcessFault = "process runner: ";

}  // namespace gilbench
