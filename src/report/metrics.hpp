// The registry of every per-benchmark counter gilbench writes: its unit and
// which direction is better. Google Benchmark's JSON keeps only the numbers,
// so this table goes into each result file's context (key gilbench_metrics)
// and plot.py reads units and directions from there, never from a list of
// its own. A counter that is not registered here is a bug (tests check).
#pragma once

#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace gilbench {

enum class Better { kHigher, kLower, kNeither };

struct MetricInfo {
  std::string_view name;
  std::string_view unit;
  Better better;
  std::string_view description;
};

const std::vector<MetricInfo>& metrics();
const MetricInfo* find_metric(std::string_view name);
nlohmann::json metrics_json();

}  // namespace gilbench
