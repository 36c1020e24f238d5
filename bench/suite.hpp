// The benchmark matrix: every workload under every strategy and worker count,
// registered with Google Benchmark from AllStrategies x AllWorkloads.
#pragma once

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "options.hpp"
#include "run_spec.hpp"
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

// Fails the current repetition: Google Benchmark's SkipWithError, and the
// message is kept for register_run(), which fails every later repetition of
// the same benchmark with it.
void fail_run(benchmark::State& state, const std::string& why);
// The message of the last fail_run() (the benchmarks run one at a time).
const std::string& last_failure();

// Fails a repetition before its timed loop began. The loop is still entered
// (it ends at once): Google Benchmark counts a repetition whose loop never
// started as 0 iterations, and when the repetitions of one benchmark
// disagree on that it aborts the whole run (ComputeStats' check), losing
// every result. Entered, the loop counts 1 like every other repetition.
inline void skip_before_loop(benchmark::State& state, const std::string& why) {
  fail_run(state, why);
  for (auto _ : state) {
  }
}

template <Strategy S, Workload W>
void BM_Threads(benchmark::State& state, const typename W::Params& params, const RunConfig& config, bool corrupt,
                Injection inject) {
  const Tally& expected = reference_tally<W>(params);
  std::optional<WorkerPool> pool;
  try {
    pool.emplace(config.workers);
  } catch (const std::exception& e) {
    skip_before_loop(state, e.what());
    return;
  }
  RunCounters counters;
  for (auto _ : state) {
    RunResult r;
    try {
      r = run_threads<S, W>(*pool, config, params, inject);
    } catch (const std::exception& e) {
      fail_run(state, "run failed: " + std::string(e.what()));
      break;
    }
    state.SetIterationTime(r.seconds);
    if (corrupt) r.tally.sum += 1;
    if (const std::string why = check_run(r, expected); !why.empty()) {
      fail_run(state, why);
      break;
    }
    counters.add(r, expected.checksum());
  }
  counters.write(state, config.workers);
}

// The benchmark filter (--benchmark_filter): a POSIX extended regex that
// must match somewhere in the clean name; a leading '-' selects the names it
// does not match; "", "all" and "." select every name. Throws UsageError if
// the regex is malformed.
void set_name_filter(const std::string& filter);
bool name_selected(const std::string& name);

// Registers one benchmark the way every gilbench run is measured: manual
// (wall) time set by the run, one iteration per repetition, milliseconds.
// Appends the spec to `runs`. Names the filter does not select are not
// registered at all.
//
// Once a repetition fails, every later repetition of the benchmark fails at
// once with the same message instead of running: a failed benchmark is
// failed (a hang is not waited for 11 times), and Google Benchmark 1.7.1
// can then never see a failed repetition before a good one, which crashes
// its statistics (ComputeStats reads the first repetition's statistics
// list, which a failed repetition does not have).
template <class F>
void register_run(const RunSpec& spec, F&& fn, std::vector<RunSpec>& runs) {
  const std::string name = spec.name();
  if (!name_selected(name)) return;
  auto failure = std::make_shared<std::string>();
  benchmark::RegisterBenchmark(name.c_str(),
                               [name, body = std::forward<F>(fn), failure](benchmark::State& st) {
                                 if (failure->empty()) {
                                   body(st);
                                   if (st.error_occurred()) *failure = last_failure();
                                 } else {
                                   skip_before_loop(st, "not run: an earlier repetition failed: " + *failure);
                                 }
                                 progress().tick(name);
                               })
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  runs.push_back(spec);
}

// Calls fn(spec, config) for every run of `workload` under S: each worker
// count of `worker_counts` (only `single` for a strategy that is not
// threaded) times each switch interval, for strategies that have one (an
// `interval` axis when the suite has several).
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
      RunSpec spec{std::string(workload), std::string(S::kName), "threads", workers, {}};
      if (kUsesInterval && suite.switch_intervals.size() > 1) spec.axes.emplace_back("interval", format_duration(interval));
      fn(spec, config);
    }
  }
}

// Registers W under S for every worker count (and switch interval, for
// strategies that have one), appending them to `runs`.
template <Strategy S, Workload W>
void register_threads(const Suite& suite, std::vector<RunSpec>& runs) {
  if (!suite.wants_strategy(S::kName) || !suite.wants_workload(W::kName)) return;
  const auto params = suite.params.at(std::string(W::kName)).template get<typename W::Params>();
  for_each_run<S>(suite, W::kName, suite.workers, 1, [&](const RunSpec& spec, const RunConfig& config) {
    const bool corrupt = suite.corrupt_checksum == W::kName;
    const Injection inject = suite.injection_for(W::kName, S::kName);
    register_run(
        spec, [=](benchmark::State& st) { BM_Threads<S, W>(st, params, config, corrupt, inject); }, runs);
  });
}

}  // namespace gilbench
