// RunSpec: one row of the benchmark matrix, as data. The run-name grammar
// lives here and nowhere else:
//
//   <workload>/<strategy>/workers:<n>[/<axis>:<value>]...
//
// e.g. countdown/gil/workers:2/interval:1ms. `workers` counts the workers
// of the run (threads or processes); for convoy it is K, the CPU workers
// beside its one IO worker. Further axes (the switch interval when a suite
// sweeps it) follow in a fixed order. Every result file's context holds
// gilbench_runs: each name mapped to fields(), so no reader parses a name.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace gilbench {

struct RunSpec {
  std::string workload;
  std::string strategy;            // a strategy token, `process`, or process_startup's `threads`
  std::string runner = "threads";  // threads (one process) or process (worker processes)
  int workers = 1;
  std::vector<std::pair<std::string, std::string>> axes;  // further axes, in name order

  std::string name() const;
  // The strategy and the further axes, without workload and workers
  // ("gil/interval:1ms"): one line of a table over worker counts.
  std::string variant() const;
  // The spec of a name, or nullopt if it does not follow the grammar. The
  // runner is `process` for strategy `process`, else `threads`.
  static std::optional<RunSpec> parse(std::string_view name);
  // {"workload", "strategy", "runner", "workers", "axes": {axis: value}}
  nlohmann::json fields() const;

  friend bool operator==(const RunSpec&, const RunSpec&) = default;
};

}  // namespace gilbench
