// The benchmark matrix: every workload under every strategy and worker count,
// registered with Google Benchmark from AllStrategies x AllWorkloads.
#pragma once

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "options.hpp"
#include "runners/threads.hpp"
#include "runtime/tally.hpp"
#include "strategies/strategy.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

// The settings of one suite run (from the command line).
struct Suite {
  Scale scale = Scale::kDefault;
  std::vector<int> workers;
  std::vector<int> convoy_cpu_workers;  // convoy's K: CPU workers beside its IO worker
  std::vector<std::chrono::nanoseconds> switch_intervals;
  int check_interval = 100;
  int repetitions = 5;
  std::vector<std::string> strategies;  // empty: all
  std::vector<std::string> workloads;   // empty: all
  std::string corrupt_checksum;         // test only (--test-corrupt-checksum)
  std::string inject_workload;          // test only (--inject-slowdown)
  std::string inject_strategy;          // empty: every strategy
  double inject_fraction = 0;

  // The injection for workload w under strategy s: 1/split of the work
  // again, split = 1/fraction.
  Injection injection_for(std::string_view w, std::string_view s) const {
    if (w != inject_workload || inject_fraction <= 0) return {};
    if (!inject_strategy.empty() && s != inject_strategy) return {};
    return {static_cast<int>(1.0 / inject_fraction + 0.5)};
  }
  nlohmann::json params = nlohmann::json::object();  // workload -> Params

  bool wants_strategy(std::string_view s) const;
  bool wants_workload(std::string_view w) const;
};

// A "[ 12/145 ] name" line on stderr as runs finish: in place on a terminal,
// else at most every few seconds.
class Progress {
 public:
  void set_total(int runs) { total_ = runs; }
  void tick(const std::string& name);
  void finish();

 private:
  int total_ = 0;
  int done_ = 0;
  std::chrono::steady_clock::time_point last_print_{};
};
Progress& progress();

// Sums what the runs of one benchmark produced and writes its counters.
class RunCounters {
 public:
  void add(const RunResult& r, std::uint64_t checksum);
  void write(benchmark::State& state, int workers) const;

 private:
  int runs_ = 0;
  double seconds_ = 0;
  double items_ = 0;
  double objects_ = 0;
  double bytes_ = 0;
  double live_ = 0;
  std::uint64_t checksum_ = 0;
  std::map<std::string, double> stats_;
};

// Why a finished run does not count, or "" if it does.
std::string check_run(const RunResult& r, const Tally& expected);

// The serial tally for W at these parameters, computed once per process.
template <Workload W>
const Tally& reference_tally(const typename W::Params& params) {
  static std::map<std::string, Tally> cache;
  const std::string key = nlohmann::json(params).dump();
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, serial_tally<W>(params)).first;
  return it->second;
}

template <Strategy S, Workload W>
void BM_Threads(benchmark::State& state, const std::string& name,
                const typename W::Params& params, const RunConfig& config, bool corrupt,
                Injection inject) {
  const Tally& expected = reference_tally<W>(params);
  WorkerPool pool(config.workers);
  RunCounters counters;
  for (auto _ : state) {
    RunResult r;
    try {
      r = run_threads<S, W>(pool, config, params, inject);
    } catch (const std::exception& e) {
      state.SkipWithError(("run failed: " + std::string(e.what())).c_str());
      break;
    }
    state.SetIterationTime(r.seconds);
    if (corrupt) r.tally.sum += 1;
    if (const std::string why = check_run(r, expected); !why.empty()) {
      state.SkipWithError(why.c_str());
      break;
    }
    counters.add(r, expected.checksum());
  }
  counters.write(state, config.workers);
  progress().tick(name);
}

// Registers one benchmark the way every gilbench run is measured: manual
// (wall) time set by the run, one iteration per repetition, milliseconds.
// Appends the name to `names`.
template <class F>
void register_run(const std::string& name, F&& fn, std::vector<std::string>& names) {
  benchmark::RegisterBenchmark(name.c_str(), std::forward<F>(fn))
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  names.push_back(name);
}

// Calls fn(name, config) for every run of `workload` under S: each worker
// count of `worker_counts` (only `single` for a strategy that is not
// threaded) times each switch interval, for strategies that have one. Names
// are <workload>/<strategy>/workers:<n>, plus /interval:<d> when the suite
// has several intervals.
template <Strategy S, class F>
void for_each_run(const Suite& suite, std::string_view workload, const std::vector<int>& worker_counts,
                  int single, F&& fn) {
  constexpr bool kUsesInterval = requires { S::kUsesSwitchInterval; };
  std::vector<std::chrono::nanoseconds> intervals = suite.switch_intervals;
  if (!kUsesInterval) intervals.resize(1);
  for (int workers : worker_counts) {
    if (!S::kThreaded && workers != single) continue;
    for (auto interval : intervals) {
      RunConfig config;
      config.workers = workers;
      config.switch_interval = interval;
      config.check_interval = suite.check_interval;
      std::string name = std::string(workload) + "/" + std::string(S::kName) +
                         "/workers:" + std::to_string(workers);
      if (kUsesInterval && suite.switch_intervals.size() > 1)
        name += "/interval:" + format_duration(interval);
      fn(name, config);
    }
  }
}

// Registers W under S for every worker count (and switch interval, for
// strategies that have one), appending the names to `names`.
template <Strategy S, Workload W>
void register_threads(const Suite& suite, std::vector<std::string>& names) {
  if (!suite.wants_strategy(S::kName) || !suite.wants_workload(W::kName)) return;
  const auto params = suite.params.at(std::string(W::kName)).template get<typename W::Params>();
  for_each_run<S>(suite, W::kName, suite.workers, 1, [&](const std::string& name, const RunConfig& config) {
    const bool corrupt = suite.corrupt_checksum == W::kName;
    const Injection inject = suite.injection_for(W::kName, S::kName);
    register_run(
        name, [=](benchmark::State& st) { BM_Threads<S, W>(st, name, params, config, corrupt, inject); },
        names);
  });
}

}  // namespace gilbench
