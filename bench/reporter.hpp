// Reporters: Google Benchmark's console and JSON output, with gilbench's run
// names, plus a collector for the summary table and the exit status.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace gilbench {

// Strips Google Benchmark's decorations ("/iterations:1", "/manual_time"):
// gilbench's names are exactly <workload>/<strategy>/workers:<n>[/...], and
// the iteration count and time type are fixed by the suite and recorded in
// the context (gilbench_time).
std::vector<benchmark::BenchmarkReporter::Run> clean_names(
    const std::vector<benchmark::BenchmarkReporter::Run>& runs);

// What the summary table and the exit status need from every run.
class Collector {
 public:
  void add(const std::vector<benchmark::BenchmarkReporter::Run>& runs);
  bool any_error() const { return !errors_.empty(); }
  const std::map<std::string, std::string>& errors() const { return errors_; }
  // Per run name, the real time of each repetition, in milliseconds.
  const std::map<std::string, std::vector<double>>& times_ms() const { return times_ms_; }

 private:
  std::map<std::string, std::vector<double>> times_ms_;
  std::map<std::string, std::string> errors_;
};

// One line per benchmark, as its repetitions finish: the median wall time,
// its spread, the throughput and the strategy's own counters. (Google
// Benchmark's tabular console output is one column per counter of every
// strategy: too wide to read.)
//
// It also feeds `file`, when given, everything it gets: the result file is
// produced in memory by that reporter and written by gilbench at the end
// (bench/output_file.hpp), never opened by Google Benchmark.
class ConsoleOut : public benchmark::BenchmarkReporter {
 public:
  explicit ConsoleOut(Collector& c, benchmark::BenchmarkReporter* file = nullptr)
      : collector_(c), file_(file) {}
  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

 private:
  Collector& collector_;
  benchmark::BenchmarkReporter* file_;
};

// Google Benchmark's file reporters (json, csv, console) with gilbench's
// clean run names.
template <class Base>
class CleanNames : public Base {
 public:
  using Base::Base;
  void ReportRuns(const std::vector<benchmark::BenchmarkReporter::Run>& runs) override {
    Base::ReportRuns(clean_names(runs));
  }
};

// The table printed at the end of a run: median speedup over serial per
// workload, strategy and worker count.
std::string summary_table(const Collector& c);

}  // namespace gilbench
