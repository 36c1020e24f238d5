// A row of the benchmark matrix bound to the code that runs it, and the one
// benchmark body every row is measured with.
//
// A Row is a RunSpec (bench/run_spec.hpp), its test hooks, the tally every
// run must reproduce, and start(): a factory for one repetition's runner
// (the worker pool, threads or processes, built before the timed region).
// The factory is where the templates are bound: it creates a
// ThreadsRunner<S, W> and the like (bench/bind.hpp), so binding costs one
// indirect call per repetition and none per operation.
//
// run_row() is the body: start the runner (a failure fails the repetition
// before its timed loop), one timed run, its checks (checksum, ledger,
// faults), its counters; then finish() (a process pool's shutdown, which
// can fail too). register_row() registers it with Google Benchmark.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "gb_compat.hpp"

#include "hooks.hpp"
#include "run_spec.hpp"
#include "runtime/heap.hpp"
#include "runtime/metric.hpp"
#include "runtime/tally.hpp"

namespace gilbench {

// What one timed run produced.
struct Outcome {
  double seconds = 0;          // real_time of the repetition
  std::optional<Tally> tally;  // the result; nullopt for rows that compute none (start-up)
  double items = 0;            // work items of the timed region (items_per_second)
  int workers = 0;             // workers that ran (convoy: K + 1), for per-worker-time metrics
  double cpu_seconds = -1;     // CPU time of every worker of the timed region (< 0: not measured)
  AllocCounts allocs;          // objects of the run: every one must be freed
  RuntimeStats stats;          // the strategy's, the runner's and the workload's counters
};

// One repetition's runner. Cold code: virtual, called once per repetition.
class RowRunner {
 public:
  virtual ~RowRunner() = default;
  virtual Outcome run() = 0;  // one timed run; throws on a fault
  virtual void finish() {}    // after the run (a pool's shutdown); throws on a fault
};

struct Row {
  RunSpec spec;
  Hooks hooks;
  // Prefix of a fault's message ("process runner: ", "run failed: ").
  std::string fault;
  std::function<std::unique_ptr<RowRunner>()> start;
  // The tally every run must reproduce (computed once, on first use), or
  // nullopt for rows without one.
  std::function<std::optional<Tally>()> expected;
  // The row's explained-overhead counters (bench/explain.hpp), computed on
  // first use outside the timed region; empty for rows without a model.
  std::function<RuntimeStats()> model;
};

// The counters every row reports (beside those of its Outcome).
inline constexpr Metric kWorkers{"workers", "count", Better::kNeither,
                                 "workers (threads or processes) of the run; convoy: K, the CPU workers beside its "
                                 "IO worker"};
inline constexpr Metric kItemsPerSecond{"items_per_second", "items/s", Better::kHigher,
                                        "work items (see each workload) per second of wall time, summed over workers"};
inline constexpr Metric kChecksumOk{"checksum_ok", "bool", Better::kHigher,
                                    "1 when the run's checksum equals the serial run's (a mismatch fails the run); "
                                    "process_startup: 1 when every worker started, answered and exited with status 0"};
inline constexpr Metric kChecksum{"checksum", "hash", Better::kNeither, "the run's checksum, low 52 bits"};
inline constexpr Metric kLiveObjects{"live_objects", "objects", Better::kLower,
                                     "objects left alive after the run (must be 0)"};
inline constexpr Metric kObjectsAllocated{"objects_allocated", "objects", Better::kNeither,
                                          "objects allocated in one run"};
inline constexpr Metric kBytesPerObject{"bytes_per_object", "bytes", Better::kLower,
                                        "mean allocation size of the run's objects, header included"};
inline constexpr const Metric* kRowMetrics[] = {&kWorkers,     &kItemsPerSecond,   &kChecksumOk,    &kChecksum,
                                                &kLiveObjects, &kObjectsAllocated, &kBytesPerObject};

// Why a finished run does not count, or "" if it does.
std::string check_outcome(const Outcome& o, const std::optional<Tally>& expected);

// The body of every benchmark.
void run_row(benchmark::State& state, const Row& row);

// Fails the current repetition: Google Benchmark's SkipWithError, and the
// message is kept for register_row(), which fails every later repetition of
// the same benchmark with it.
void fail_run(benchmark::State& state, const std::string& why);

// Fails a repetition before its timed loop began. The loop is still entered
// (it ends at once): Google Benchmark counts a repetition whose loop never
// started as 0 iterations, and when the repetitions of one benchmark
// disagree on that it aborts the whole run (ComputeStats' check), losing
// every result. Entered, the loop counts 1 like every other repetition.
void skip_before_loop(benchmark::State& state, const std::string& why);

// The benchmark filter (--benchmark_filter): a POSIX extended regex that
// must match somewhere in the clean name; a leading '-' selects the names it
// does not match; "", "all" and "." select every name. Throws UsageError if
// the regex is malformed.
void set_name_filter(const std::string& filter);
bool name_selected(const std::string& name);
// The time unit of every row registered from now on: ns, us, ms (default)
// or s (--benchmark_time_unit).
void set_time_unit(const std::string& unit);
benchmark::TimeUnit time_unit();  // the one set_time_unit() chose

// Registers `body` under row's name the way every gilbench run is
// measured: manual (wall) time, one iteration per repetition, in the time
// unit set by set_time_unit().
// Registers nothing if the filter does not select it.
//
// Once a repetition fails, every later repetition of the benchmark fails at
// once with the same message instead of running: a failed benchmark is
// failed (a hang is not waited for 11 times), and Google Benchmark 1.7.1
// can then never see a failed repetition before a good one, which crashes
// its statistics (ComputeStats reads the first repetition's statistics
// list, which a failed repetition does not have).
// RETURNS the registered benchmark (its repetitions are set per round), or
// nullptr when the filter does not select it.
GbBenchmark* register_benchmark(const RunSpec& spec, std::function<void(benchmark::State&)> body);
GbBenchmark* register_row(Row row);

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

}  // namespace gilbench
