// Reporters: Google Benchmark's console and JSON output, with gilbench's run
// names, plus a collector for the summary table and the exit status.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace gilbench {

// The counter that carries a run's cpu_time from the benchmark body to the
// reporters: Google Benchmark measures the CPU time of its own thread, which
// only waits for the workers, so the body measures the workers' (threads'
// and child processes') and the reporters put it in cpu_time. Aggregate rows
// carry the counter's statistic, which is the same statistic of cpu_time.
inline constexpr const char* kCpuTimeCounter = "gilbench_cpu_seconds";

// What every reporter gets instead of Google Benchmark's runs:
// - the clean names: gilbench's names are exactly
//   <workload>/<strategy>/workers:<n>[/...] (no "/iterations:1",
//   "/manual_time"; the iteration count and time type are fixed by the suite
//   and recorded in the context, gilbench_time);
// - cpu_time from kCpuTimeCounter, which is removed;
// - no value that is not a finite number: JSON has no NaN. Google Benchmark
//   1.7.1 computes 0/0 for the coefficient of variation of an all-zero
//   counter; such a counter is left out of that aggregate row, and an
//   aggregate row whose times are not finite is left out.
std::vector<benchmark::BenchmarkReporter::Run> clean_runs(const std::vector<benchmark::BenchmarkReporter::Run>& runs);

// Every repetition of every benchmark, across the rounds of an adaptive run
// (bench/adaptive.hpp): what the result file, the summary table and the
// exit status are made from. Google Benchmark's own aggregate rows (per
// round) are dropped; report_runs() computes them over all repetitions.
class Collector {
 public:
  using Run = benchmark::BenchmarkReporter::Run;
  void add(const std::vector<Run>& runs);  // clean runs
  bool any_error() const { return !errors_.empty(); }
  const std::map<std::string, std::string>& errors() const { return errors_; }
  // Per run name, the real time of each successful repetition, in ms.
  const std::map<std::string, std::vector<double>>& times_ms() const { return times_ms_; }
  // Per run name, the counters of its first successful repetition.
  const std::map<std::string, std::map<std::string, double>>& counters() const { return counters_; }
  // Run names in the order they first reported.
  const std::vector<std::string>& names() const { return order_; }
  // Every repetition of `name` (numbered 0..n-1 in the order they ran) and,
  // with two or more successful ones, the aggregate rows mean, median,
  // stddev and cv (Google Benchmark's set and layout).
  std::vector<Run> report_runs(const std::string& name) const;

 private:
  std::map<std::string, std::vector<Run>> runs_;
  std::vector<std::string> order_;
  std::map<std::string, std::vector<double>> times_ms_;
  std::map<std::string, std::map<std::string, double>> counters_;
  std::map<std::string, std::string> errors_;
};

// A failed repetition of `name` that Google Benchmark never reported (the
// run the watchdog gave up on), in `unit`, with `why` as its error message.
benchmark::BenchmarkReporter::Run failed_run(const std::string& name, const std::string& why, benchmark::TimeUnit unit);

// Writes the collected results through a file reporter (json, csv, console):
// the context once, every benchmark's runs, Finalize.
void emit(benchmark::BenchmarkReporter& reporter, const benchmark::BenchmarkReporter::Context& context,
          const Collector& collector);

// One line per benchmark, as its repetitions finish: the median wall time,
// its spread, the throughput and the strategy's own counters. (Google
// Benchmark's tabular console output is one column per counter of every
// strategy: too wide to read.)
//
// It feeds the Collector; the result file (and --benchmark_format=json|csv
// on stdout, when these lines go to stderr) is written from the Collector
// at the end (emit), never by Google Benchmark. The context is printed once
// and kept for emit(), however many rounds run.
class ConsoleOut : public benchmark::BenchmarkReporter {
 public:
  explicit ConsoleOut(Collector& c) : collector_(c) {}
  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
  const Context* context() const { return context_ ? &*context_ : nullptr; }

 private:
  Collector& collector_;
  std::optional<Context> context_;
};

// Google Benchmark's file reporters (json, csv, console) on clean_runs().
template <class Base>
class CleanNames : public Base {
 public:
  using Base::Base;
  void ReportRuns(const std::vector<benchmark::BenchmarkReporter::Run>& runs) override {
    Base::ReportRuns(clean_runs(runs));
  }
};

// The table printed at the end of a run: median speedup over serial per
// workload, strategy and worker count.
std::string summary_table(const Collector& c);

// The explained overheads (bench/explain.hpp): for each 1-worker row of a
// CPU workload, its measured extra time over serial against the model's, and
// for each shared-data row at 2 workers its measured time against the
// predicted one; then how many fall within 25% (1 worker) and 2x (shared).
std::string explained_table(const Collector& c, const std::map<std::string, bool>& serializes);

}  // namespace gilbench
