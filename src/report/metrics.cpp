#include "report/metrics.hpp"

#include <string>

namespace gilbench {

const std::vector<MetricInfo>& metrics() {
  static const std::vector<MetricInfo> table = {
      {"real_time", "time_unit", Better::kLower,
       "wall time of one run: release of the workers to the end of the last one"},
      {"workers", "count", Better::kNeither, "workers (threads or processes) of the run"},
      {"items_per_second", "items/s", Better::kHigher,
       "work items (see each workload) per second of wall time, summed over workers"},
      {"checksum_ok", "bool", Better::kHigher,
       "1 when the run's checksum equals the serial run's (a mismatch fails the run)"},
      {"checksum", "hash", Better::kNeither, "the run's checksum, low 52 bits"},
      {"live_objects", "objects", Better::kLower, "objects left alive after the run (must be 0)"},
      {"objects_allocated", "objects", Better::kNeither, "objects allocated in one run"},
      {"bytes_per_object", "bytes", Better::kLower,
       "mean allocation size of the run's objects, header included"},
      {"gil_acquisitions", "count", Better::kNeither, "GIL acquisitions in one run"},
      {"gil_contended", "count", Better::kLower, "acquisitions that had to wait"},
      {"gil_drop_requests", "count", Better::kNeither,
       "drop requests posted after a full switch interval without a hand-off"},
      {"gil_switches", "count", Better::kNeither, "hand-offs of the GIL to a different worker"},
      {"gil_forced_switches", "count", Better::kNeither,
       "releases forced by a drop request that waited for another worker to take the GIL"},
      {"gil_wait_ns", "ns", Better::kLower, "total time workers waited for the GIL"},
      {"gil_wait_frac", "fraction", Better::kLower,
       "time waiting for the GIL / (workers x wall time)"},
  };
  return table;
}

const MetricInfo* find_metric(std::string_view name) {
  for (const auto& m : metrics())
    if (m.name == name) return &m;
  return nullptr;
}

nlohmann::json metrics_json() {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& m : metrics()) {
    const char* better = m.better == Better::kHigher  ? "higher"
                         : m.better == Better::kLower ? "lower"
                                                      : "neither";
    j[std::string(m.name)] = {
        {"unit", m.unit}, {"better", better}, {"description", m.description}};
  }
  return j;
}

}  // namespace gilbench
