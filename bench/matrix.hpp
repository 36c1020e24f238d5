// The benchmark matrix: the axis table, built once from the command line,
// and every row of it.
//
// A row is a cell (workload, strategy) of the matrix (bench/bind.hpp) at
// one value of each of its axes:
//
//   workers    the worker counts (--workers); convoy's axis is K instead,
//              its CPU workers beside the one IO worker (0 plus the worker
//              counts); a strategy that is not threaded (serial) runs at
//              one worker (convoy: K = 0) only
//   interval   the switch intervals (--switch-interval), for strategies
//              that have one; in the name only when the suite has several
//   bytecode   the interpretive work per checkpoint (--bytecode-cost), for
//              the workloads of AllWorkloads (not convoy, not start-up); in
//              the name unless it is 0 alone
//
// The process runner, convoy and start-up are cells like any other: which
// cells exist, and how each runs, is the data of bench/bind.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adaptive.hpp"
#include "bind.hpp"
#include "options.hpp"
#include "row.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

struct Suite {
  Scale scale = Scale::kDefault;
  std::vector<int> workers;                               // axis: workers
  std::vector<int> convoy_ks;                             // axis: convoy's K
  std::vector<std::chrono::nanoseconds> switch_intervals; // axis: interval
  int check_interval = 100;
  // axis: bytecode, the interpretive work per checkpoint in steps
  // (runtime/bytecode.hpp), for the CPU and IO workloads; in the name unless
  // it is just {0}. ns_per_step: this machine's, measured when a cost is
  // given (0 otherwise).
  std::vector<std::uint32_t> bytecode_steps{0};
  double ns_per_step = 0;
  RepetitionPlan repetitions;
  std::vector<std::string> strategies;  // selected (empty: all)
  std::vector<std::string> workloads;   // selected (empty: all)
  nlohmann::json params = nlohmann::json::object();  // workload -> Params at this scale
  ProcessOptions process;
  nlohmann::json fingerprint;  // the machine's (report/fingerprint.hpp): unit costs for the model
  // Test hooks (bench/hooks.hpp), as given on the command line.
  std::string inject_workload, inject_strategy;  // empty strategy: every strategy
  double inject_fraction = 0;
  std::string corrupt_checksum;
  std::string misbehave;
  std::string hang;  // --test-hang's workload

  Hooks hooks_for(const std::string& workload, const std::string& strategy) const;
};

Suite make_suite(const Options& o);

// Every row of the suite, in the order the matrix lists them (workloads,
// then strategies, then the axes).
std::vector<Row> build_rows(const Suite& suite);

// Every strategy token (the in-process ones, then `process`) and workload
// token (AllWorkloads, then convoy and process_startup): what the command
// line accepts and the context lists.
std::vector<std::string> strategy_names();
std::vector<std::string> workload_names();
nlohmann::json workload_kinds();  // {workload: "cpu" | "io" | "startup"}

// Strategy token -> whether its workers run one at a time (a GIL).
std::map<std::string, bool> one_at_a_time_strategies();

// Every metric a row can report, each declared where it is produced.
std::vector<const Metric*> all_metrics();
nlohmann::json metrics_json();  // {name: {unit, better, description}}
std::string metrics_markdown();  // the README's table

// Every workload's parameters at every scale (gilbench --params).
nlohmann::json all_params();

}  // namespace gilbench
