#include "matrix.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <utility>

#include "convoy_bench.hpp"
#include "explain.hpp"
#include "runtime/bytecode.hpp"
#include "strategies/all.hpp"
#include "workloads/all.hpp"

namespace gilbench {

namespace {

// Every cell, bound once per process.
template <std::size_t... I>
void bind_shards(Binders& b, std::index_sequence<I...>) {
  (bind_shard<static_cast<int>(I)>(b), ...);
}

const Binders& binders() {
  static const Binders b = [] {
    Binders t;
    bind_shards(t, std::make_index_sequence<GILBENCH_SHARDS>{});
    bind_process(t);
    return t;
  }();
  return b;
}

bool is_all_workload(const std::string& name) {
  bool found = false;
  for_each_type(AllWorkloads{}, [&]<Workload W> { found |= name == W::kName; });
  return found;
}

bool selected(const std::vector<std::string>& wanted, const std::string& name) {
  return wanted.empty() || std::find(wanted.begin(), wanted.end(), name) != wanted.end();
}

}  // namespace

std::vector<std::string> strategy_names() {
  std::vector<std::string> names;
  for_each_type(AllStrategies{}, [&]<Strategy S> { names.emplace_back(S::kName); });
  names.emplace_back(kProcessName);  // a runner over serial, not a policy: runners/processes.hpp
  return names;
}

std::vector<std::string> workload_names() {
  std::vector<std::string> names;
  for_each_type(AllWorkloads{}, [&]<Workload W> { names.emplace_back(W::kName); });
  names.emplace_back(Convoy::kName);
  names.emplace_back(kStartupWorkload);
  return names;
}

nlohmann::json workload_kinds() {
  nlohmann::json kinds = nlohmann::json::object();
  for_each_type(AllWorkloads{}, [&]<Workload W> { kinds[std::string(W::kName)] = W::kKind; });
  kinds[std::string(Convoy::kName)] = Convoy::kKind;
  kinds[std::string(kStartupWorkload)] = "startup";
  return kinds;
}

nlohmann::json all_params() {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [scale, label] : {std::pair{Scale::kDefault, "default"}, std::pair{Scale::kQuick, "quick"},
                                     std::pair{Scale::kTiny, "tiny"}}) {
    nlohmann::json& p = j[label];
    for_each_type(AllWorkloads{}, [&]<Workload W> { p[std::string(W::kName)] = W::params(scale); });
    p[std::string(Convoy::kName)] = Convoy::params(scale);
  }
  return j;
}

Hooks Suite::hooks_for(const std::string& workload, const std::string& strategy) const {
  Hooks h;
  if (workload == inject_workload && inject_fraction > 0 && (inject_strategy.empty() || strategy == inject_strategy))
    h.inject_split = static_cast<int>(1.0 / inject_fraction + 0.5);
  h.corrupt = workload == corrupt_checksum;
  h.misbehave = misbehave;
  h.hang = !hang.empty() && workload == hang;
  return h;
}

Suite make_suite(const Options& o) {
  Suite s;
  s.scale = o.quick ? Scale::kQuick : Scale::kDefault;
  s.workers = !o.workers.empty() ? o.workers : o.quick ? std::vector<int>{1, 2} : std::vector<int>{1, 2, 4, 8};
  // convoy's K: always 0 (the IO worker alone), then the given worker counts
  // or the CPU-thread counts of the published convoy table.
  s.convoy_ks = {0};
  const std::vector<int> ks = !o.workers.empty() ? o.workers : o.quick ? std::vector<int>{1, 2} : std::vector<int>{1, 2, 4};
  s.convoy_ks.insert(s.convoy_ks.end(), ks.begin(), ks.end());
  s.switch_intervals = o.switch_intervals.empty()
                           ? std::vector<std::chrono::nanoseconds>{std::chrono::milliseconds(5)}
                           : o.switch_intervals;
  s.check_interval = o.check_interval;
  if (!o.bytecode_costs.empty()) {
    bool any = false;
    for (const auto& c : o.bytecode_costs) any |= c.value > 0;
    if (any) s.ns_per_step = calibrate_ns_per_step();
    s.bytecode_steps.clear();
    for (const auto& c : o.bytecode_costs) {
      const double steps = c.ns ? (c.value > 0 ? c.value / s.ns_per_step : 0) : c.value;
      const auto n = static_cast<std::uint32_t>(std::lround(std::min(steps, 1e6)));
      if (std::find(s.bytecode_steps.begin(), s.bytecode_steps.end(), n) == s.bytecode_steps.end())
        s.bytecode_steps.push_back(n);
    }
  }
  s.repetitions.adaptive = o.repetitions == 0;
  s.repetitions.fixed = o.repetitions;
  s.repetitions.target = o.target_ci;
  s.repetitions.budget = o.time_budget.count() > 0 ? std::chrono::duration<double>(o.time_budget)
                                                   : std::chrono::duration<double>(o.quick ? 120 : 600);
  s.strategies = o.strategies;
  s.workloads = o.workloads;
  s.params = all_params()[o.quick ? "quick" : "default"];
  s.params[std::string(Convoy::kName)]["peer"] = o.convoy_peer;
  s.process.timeout = o.worker_timeout;
  // Worker processes and burners use the same object heap as this process.
  s.process.worker_args = {std::string("--allocator=") + (allocator() == Allocator::kGlibc ? "glibc" : "mimalloc")};
  s.process.startup_timeout = o.worker_timeout;
  s.inject_workload = o.inject_workload;
  s.inject_strategy = o.inject_strategy;
  s.inject_fraction = o.inject_fraction;
  s.corrupt_checksum = o.corrupt_checksum;
  s.misbehave = o.worker_misbehave;
  s.hang = o.test_hang;
  return s;
}

std::vector<Row> build_rows(const Suite& suite) {
  const Binders& b = binders();
  std::vector<std::string> strategies = strategy_names();
  strategies.emplace_back("threads");  // process_startup's in-process cell
  std::vector<Row> rows;
  for (const std::string& workload : workload_names()) {
    if (!selected(suite.workloads, workload)) continue;
    const bool convoy = workload == Convoy::kName;
    const auto tally = b.expected.find(workload);
    for (const std::string& strategy : strategies) {
      const auto cell = b.cells.find({workload, strategy});
      if (cell == b.cells.end()) continue;
      // process_startup's two cells follow the selection of `process`.
      if (!selected(suite.strategies, workload == kStartupWorkload ? std::string(kProcessName) : strategy)) continue;
      const StrategyTraits traits = b.strategies.at(strategy);
      std::vector<std::chrono::nanoseconds> intervals = suite.switch_intervals;
      if (!traits.uses_interval) intervals.resize(1);
      const bool interpreted = is_all_workload(workload);  // the bytecode axis applies
      std::vector<std::uint32_t> costs = suite.bytecode_steps;
      if (!interpreted) costs = {0};
      const bool cost_axis = interpreted && !(suite.bytecode_steps.size() == 1 && suite.bytecode_steps[0] == 0);
      for (const int workers : convoy ? suite.convoy_ks : suite.workers) {
        if (!traits.threaded && workers != (convoy ? 0 : 1)) continue;
        for (const auto interval : intervals)
        for (const std::uint32_t steps : costs) {
          Row row;
          row.spec = {workload, strategy, strategy == kProcessName ? "process" : "threads", workers, {}};
          if (traits.uses_interval && suite.switch_intervals.size() > 1)
            row.spec.axes.emplace_back("interval", format_duration(interval));
          if (cost_axis) row.spec.axes.emplace_back("bytecode", std::to_string(steps));
          row.hooks = suite.hooks_for(workload, strategy);
          row.fault = cell->second.fault;
          RowInputs in;
          in.config.workers = workers;
          in.config.switch_interval = interval;
          in.config.check_interval = suite.check_interval;
          in.config.bytecode_steps = steps;
          if (suite.params.contains(workload)) in.params = suite.params.at(workload);
          in.hooks = row.hooks;
          in.process = suite.process;
          if (steps > 0) in.process.worker_args.push_back("--bytecode-steps=" + std::to_string(steps));
          row.start = [make = cell->second.make, in] { return make(in); };
          if (workload_kinds()[workload] == "cpu" && !suite.fingerprint.is_null()) {
            const CostModel cost = traits.cost;
            const bool process = strategy == kProcessName;
            const UnitCosts units = UnitCosts::from(suite.fingerprint);
            row.model = [workload, params = in.params, cost, process, workers, units] {
              return explain(count_ops_of(workload, params), cost, process, workers, units);
            };
          }
          if (tally != b.expected.end())
            row.expected = [fn = tally->second, params = in.params]() -> std::optional<Tally> { return fn(params); };
          else
            row.expected = [] { return std::optional<Tally>(); };
          rows.push_back(std::move(row));
        }
      }
    }
  }
  return rows;
}

std::map<std::string, bool> one_at_a_time_strategies() {
  std::map<std::string, bool> m;
  for (const auto& [name, traits] : binders().strategies) m[name] = traits.cost.one_at_a_time;
  return m;
}

std::vector<const Metric*> all_metrics() {
  std::vector<const Metric*> all;
  auto add = [&](MetricList list) {
    for (const Metric* m : list)
      if (std::find(all.begin(), all.end(), m) == all.end()) all.push_back(m);
  };
  add(kRowMetrics);
  for_each_type(AllStrategies{}, [&]<Strategy S> { add(metrics_of<S>()); });
  add(kThreadsMetrics);
  add(kExplainMetrics);
  add(kProcessMetrics);
  add(kConvoyMetrics);
  return all;
}

nlohmann::json metrics_json() {
  nlohmann::json j = nlohmann::json::object();
  j["real_time"] = {{"unit", "time_unit"},
                    {"better", "lower"},
                    {"description", "wall time of one run: release of the workers to the end of the last one"}};
  for (const Metric* m : all_metrics()) {
    const char* better = m->better == Better::kHigher ? "higher" : m->better == Better::kLower ? "lower" : "neither";
    j[std::string(m->name)] = {{"unit", m->unit}, {"better", better}, {"description", m->description}};
  }
  return j;
}

std::string metrics_markdown() {
  std::string md = "| counter | unit | better | what it is |\n|---|---|---|---|\n";
  const nlohmann::json all = metrics_json();
  for (const auto& [name, m] : all.items())
    md += "| `" + name + "` | " + m["unit"].get<std::string>() + " | " + m["better"].get<std::string>() + " | " +
          m["description"].get<std::string>() + " |\n";
  return md;
}

}  // namespace gilbench
