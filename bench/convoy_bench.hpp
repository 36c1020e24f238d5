// The convoy benchmarks (src/workloads/convoy.hpp): one IO worker doing
// socket round trips beside K CPU-bound workers.
//
// Names: convoy/<strategy>/workers:<K>[/interval:<d>], where workers:<K>
// counts the CPU workers only; every run has the one IO worker besides, so
// workers:0 is the IO worker alone and a run uses K + 1 threads (or, under
// `process`, the IO worker in this process and K burner processes). K comes
// from Suite::convoy_cpu_workers: 0,1,2,4 by default, 0,1,2 with --quick,
// 0 plus the --workers list when one is given. `serial` runs K = 0 only.
//
// Per repetition: real time = phase 2 (K CPU workers running); counters
// io_rps, io_rps_alone (phase 1, the same IO worker alone just before),
// io_rps_ratio, io_p50_us / io_p99_us / io_max_us (phase 2, from a
// LatencyHistogram), items_per_second (= io_rps), the strategy's counters,
// and the checksum, which must be the parameters' expected tally.
//
// Under `process` the K CPU workers are `gilbench --cpu-burner PPID` (self_executable())
// processes (Skvortsov's "CPU work in a separate process" case). They run
// the same loop as the CPU threads under the serial policy, say they are
// ready on their stdout pipe, die with the parent (PR_SET_PDEATHSIG, which
// follows the spawning thread: Google Benchmark's main thread, alive for
// every run) if it dies, and are killed and reaped when the IO phase ends.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <benchmark/benchmark.h>

#include "report/histogram.hpp"
#include "runners/threads.hpp"
#include "strategies/all.hpp"
#include "suite.hpp"
#include "workloads/convoy.hpp"

namespace gilbench {

struct ConvoyResult {
  Convoy::Phase warmup;  // untimed, in the checksum only
  Convoy::Phase alone;   // phase 1: the IO worker alone
  Convoy::Phase loaded;  // phase 2: beside K CPU workers
  LatencyHistogram latency;  // phase 2 round trips, ns
  AllocCounts allocs;
  RuntimeStats stats;

  // The RunResult that check_run() validates: tally of every phase.
  RunResult as_run() const;
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
      Convoy::State<S> state(params, k);
      pool.run([&](int i) {
        AllocLedger::Scope scope(ledger);
        if (i > 0) Convoy::await_start(state);
        typename S::Runtime::Worker worker(i);
        Attached<S> attached(runtime, worker);
        Context<S> ctx(runtime, worker, i, k + 1);
        if (i == 0)
          std::tie(result.warmup, result.alone, result.loaded) = Convoy::io_worker(ctx, state);
        else
          (void)Convoy::cpu_worker(ctx, state);
      });
      result.latency = state.latency;
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

// Validates a finished run (SkipWithError and false if it does not count),
// else writes its counters.
bool report_convoy(benchmark::State& state, const ConvoyResult& r, const Tally& expected, int k);

template <Strategy S>
void BM_ConvoyThreads(benchmark::State& state, const Convoy::Params& params,
                      const RunConfig& config) {
  const Tally expected = Convoy::expected_tally(params);
  const int k = config.workers;
  RunConfig run_config = config;
  run_config.workers = k + 1;
  std::optional<WorkerPool> pool;
  try {
    pool.emplace(k + 1);
  } catch (const std::exception& e) {
    skip_before_loop(state, e.what());
    return;
  }
  for (auto _ : state) {
    ConvoyResult r;
    try {
      r = run_convoy_threads<S>(*pool, run_config, params);
    } catch (const std::exception& e) {
      fail_run(state, "run failed: " + std::string(e.what()));
      break;
    }
    state.SetIterationTime(r.loaded.seconds);
    if (!report_convoy(state, r, expected, k)) break;
  }
}

void BM_ConvoyProcesses(benchmark::State& state, const Convoy::Params& params, int k, bool crash_last_burner);

// Registers convoy under S for every K (and switch interval).
template <Strategy S>
void register_convoy(const Suite& suite, std::vector<RunSpec>& runs) {
  if (!suite.wants_strategy(S::kName) || !suite.wants_workload(Convoy::kName)) return;
  const auto params = suite.params.at(std::string(Convoy::kName)).template get<Convoy::Params>();
  for_each_run<S>(suite, Convoy::kName, suite.convoy_cpu_workers, 0,
                  [&](const RunSpec& spec, const RunConfig& config) {
                    register_run(
                        spec, [=](benchmark::State& st) { BM_ConvoyThreads<S>(st, params, config); }, runs);
                  });
}

// convoy/process/workers:<K> for every K.
// misbehave: --test-worker-misbehave ("crash" makes a burner die mid-run).
void register_convoy_process(const Suite& suite, std::vector<RunSpec>& runs, const std::string& misbehave);

// Every convoy benchmark: each strategy of AllStrategies, then `process`.
inline void register_all_convoy(const Suite& suite, std::vector<RunSpec>& runs, const std::string& misbehave) {
  for_each_type(AllStrategies{}, [&]<Strategy S> { register_convoy<S>(suite, runs); });
  register_convoy_process(suite, runs, misbehave);
}

// The hidden --cpu-burner mode of the gilbench binary:
// `gilbench --cpu-burner PARENT_PID [crash]`. Writes one byte to stdout
// when it runs, then burns CPU until killed (with `crash`, a test hook: it
// kills itself 1 ms later instead). RETURNS an exit status.
int cpu_burner_main(int argc, char** argv);

}  // namespace gilbench
