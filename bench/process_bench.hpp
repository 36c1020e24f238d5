// The `process` benchmarks: every workload under the process runner
// (<workload>/process/workers:<n>), and start-up on its own:
//
//   process_startup/process/workers:<n>  spawn N workers, wait for each one's
//                                        first frame, ask them to exit, reap
//   process_startup/threads/workers:<n>  start N threads, each signals that it
//                                        runs, join them
//
// Both report real_time = spawn-to-exit of all N (mean of kStartupRounds
// rounds per repetition) and startup_ms = spawn to first reply per worker.
// They have no checksum; checksum_ok = 1 says every worker started, answered
// and exited with status 0. They are registered when `process` is wanted and
// the workload filter admits "process_startup".
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "report/metrics.hpp"
#include "runners/processes.hpp"
#include "suite.hpp"

namespace gilbench {

inline constexpr std::string_view kStartupWorkload = "process_startup";
inline constexpr int kStartupRounds = 5;

// Sets a counter that must be in the metrics registry (as RunCounters does).
inline void set_registered_counter(benchmark::State& state, const std::string& name, double v) {
  if (!find_metric(name)) {
    std::fprintf(stderr, "gilbench: internal error: counter '%s' is not in the metrics registry\n",
                 name.c_str());
    std::abort();
  }
  state.counters[name] = benchmark::Counter(v);
}

template <Workload W>
void BM_Process(benchmark::State& state, const typename W::Params& params,
                int workers, const ProcessOptions& options, bool corrupt, Injection inject) {
  const Tally& expected = reference_tally<W>(params);
  std::optional<ProcessPool> pool;
  try {
    pool.emplace(workers, options);  // before the timed loop: startup is its own figure
  } catch (const std::exception& e) {
    skip_before_loop(state, "process runner: " + std::string(e.what()));
    return;
  }
  RunCounters counters;
  for (auto _ : state) {
    RunResult r;
    try {
      r = run_processes<W>(*pool, params, inject);
    } catch (const std::exception& e) {
      fail_run(state, "process runner: " + std::string(e.what()));
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
  try {
    pool->shutdown();
  } catch (const std::exception& e) {
    if (!state.error_occurred()) fail_run(state, "process runner: " + std::string(e.what()));
  }
  if (!state.error_occurred()) counters.write(state, workers);
}

// Spawn-to-exit of `workers` processes (one round). RETURNS: seconds; adds
// each worker's spawn-to-first-reply to startup_sum.
inline double process_startup_round(int workers, const ProcessOptions& options, double& startup_sum) {
  const auto start = std::chrono::steady_clock::now();
  ProcessPool pool(workers, options);
  pool.shutdown();
  const auto end = std::chrono::steady_clock::now();
  for (double s : pool.startup_seconds()) startup_sum += s;
  return std::chrono::duration<double>(end - start).count();
}

// The same for threads: creation to running is the thread's "first reply".
inline double thread_startup_round(int workers, double& startup_sum) {
  using Clock = std::chrono::steady_clock;
  std::vector<Clock::time_point> created(static_cast<std::size_t>(workers));
  std::vector<Clock::time_point> running(static_cast<std::size_t>(workers));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(workers));
  const auto start = Clock::now();
  for (int i = 0; i < workers; ++i) {
    created[static_cast<std::size_t>(i)] = Clock::now();
    try {
      threads.emplace_back([&running, i] { running[static_cast<std::size_t>(i)] = Clock::now(); });
    } catch (const std::system_error& e) {
      for (auto& t : threads) t.join();  // else their destructors would terminate()
      throw std::system_error(e.code(), "cannot start thread " + std::to_string(i) + " of " +
                                            std::to_string(workers));
    }
  }
  for (auto& t : threads) t.join();
  const auto end = Clock::now();
  for (int i = 0; i < workers; ++i)
    startup_sum += std::chrono::duration<double>(running[static_cast<std::size_t>(i)] -
                                                 created[static_cast<std::size_t>(i)])
                       .count();
  return std::chrono::duration<double>(end - start).count();
}

template <bool kProcesses>
void BM_Startup(benchmark::State& state, int workers, const ProcessOptions& options) {
  double startup_sum = 0;
  for (auto _ : state) {
    double total = 0;
    try {
      for (int round = 0; round < kStartupRounds; ++round)
        total += kProcesses ? process_startup_round(workers, options, startup_sum)
                            : thread_startup_round(workers, startup_sum);
    } catch (const std::exception& e) {
      fail_run(state, "process runner: " + std::string(e.what()));
      break;
    }
    state.SetIterationTime(total / kStartupRounds);
  }
  if (!state.error_occurred()) {
    set_registered_counter(state, "workers", workers);
    set_registered_counter(state, "checksum_ok", 1);
    set_registered_counter(state, "startup_ms", startup_sum * 1e3 / (kStartupRounds * workers));
  }
}

template <Workload W>
void register_process(const Suite& suite, const ProcessOptions& options, std::vector<RunSpec>& runs) {
  if (!suite.wants_strategy(kProcessName) || !suite.wants_workload(W::kName)) return;
  const auto params = suite.params.at(std::string(W::kName)).template get<typename W::Params>();
  const bool corrupt = suite.corrupt_checksum == W::kName;
  const Injection inject = suite.injection_for(W::kName, kProcessName);
  for (int workers : suite.workers) {
    const RunSpec spec{std::string(W::kName), std::string(kProcessName), "process", workers, {}};
    register_run(
        spec, [=](benchmark::State& st) { BM_Process<W>(st, params, workers, options, corrupt, inject); }, runs);
  }
}

inline void register_process_startup(const Suite& suite, const ProcessOptions& options,
                                     std::vector<RunSpec>& runs) {
  if (!suite.wants_strategy(kProcessName) || !suite.wants_workload(kStartupWorkload)) return;
  for (int workers : suite.workers) {
    for (const bool processes : {true, false}) {
      const std::string runner = processes ? "process" : "threads";
      const RunSpec spec{std::string(kStartupWorkload), runner, runner, workers, {}};
      if (processes)
        register_run(spec, [=](benchmark::State& st) { BM_Startup<true>(st, workers, options); }, runs);
      else
        register_run(spec, [=](benchmark::State& st) { BM_Startup<false>(st, workers, options); }, runs);
    }
  }
}

}  // namespace gilbench
