// Metric: a counter gilbench reports, declared beside the code that produces
// it (a strategy's runtime, a runner, a workload, the benchmark body), with
// its unit and which direction is better. Google Benchmark's JSON keeps only
// numbers, so the table of every metric goes into each result file's context
// (gilbench_metrics) and plot.py reads units and directions from there.
//
// A producer emits counters as (metric, value) pairs in RuntimeStats: the
// metric is the declaration itself, so a counter cannot be emitted without
// one. Each producer lists what it can emit (e.g. a runtime's kMetrics); one
// unit test runs every strategy and checks that list against what stats()
// emits, and that no two declarations share a name.
#pragma once

#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace gilbench {

enum class Better { kHigher, kLower, kNeither };

struct Metric {
  std::string_view name;
  std::string_view unit;
  Better better;
  std::string_view description;
  // true: the value emitted is a time in ns summed over the workers; the
  // counter reported is that time / (workers x wall time), a fraction.
  bool per_worker_time = false;
};

// Counters of one finished run.
struct RuntimeStats {
  std::vector<std::pair<const Metric*, double>> counters;
  void add(const Metric& m, double value) { counters.emplace_back(&m, value); }
  void append(const RuntimeStats& o) { counters.insert(counters.end(), o.counters.begin(), o.counters.end()); }
  // The value of `m`, or `missing` if it was not emitted.
  double value(const Metric& m, double missing = 0) const {
    for (const auto& [metric, v] : counters)
      if (metric == &m) return v;
    return missing;
  }
};

using MetricList = std::span<const Metric* const>;

}  // namespace gilbench
