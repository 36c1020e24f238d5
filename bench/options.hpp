// gilbench's command line: the suite's own flags, and Google Benchmark's
// --benchmark_* flags passed through to it.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace gilbench {

// A bad command line; main prints it and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  bool help = false;
  bool list = false;
  bool params = false;         // --params: print every workload's parameters
  bool list_counters = false;  // --list-counters: print every counter's unit and direction
  bool fingerprint = false;    // --fingerprint: measure the machine, print it, exit
  bool no_fingerprint = false; // --no-fingerprint: a run without the machine fingerprint (nor the model)
  std::string format = "json"; // of --params, --list-counters, --fingerprint: json or markdown
  bool format_given = false;
  bool quick = false;
  std::vector<int> workers;  // empty: the mode's default
  std::vector<std::chrono::nanoseconds> switch_intervals;  // empty: 5 ms
  int check_interval = 100;
  // --bytecode-cost: interpretive work per checkpoint, each entry in steps
  // (ns = false) or in ns on this machine (ns = true). Empty: 0 steps.
  struct BytecodeCost {
    double value = 0;
    bool ns = false;
    friend bool operator==(const BytecodeCost&, const BytecodeCost&) = default;
  };
  std::vector<BytecodeCost> bytecode_costs;
  std::string convoy_peer = "thread";  // --convoy-peer: thread (socketpair) or tcp (a process over loopback)
  int repetitions = 0;       // 0: adaptive (--repetitions=auto, the default)
  double target_ci = 0.03;   // adaptive: the median's 95% CI half-width / median to reach
  std::chrono::nanoseconds time_budget{0};  // adaptive: no new round after this (0: the mode's default)
  std::string out;           // result file, written atomically (bench/output_file.hpp)
  std::string out_format = "json";  // json, csv or console (--benchmark_out_format)
  std::string display_format = "console";  // stdout: console, json or csv (--benchmark_format)
  std::string time_unit = "ms";     // of every row (--benchmark_time_unit)
  std::string allocator;            // --allocator: mimalloc or glibc (empty: the build's default)
  std::vector<std::string> strategies;  // empty: all
  std::vector<std::string> workloads;   // empty: all
  std::string corrupt_checksum;             // test only: workload whose result is falsified
  std::string inject_workload;              // test only: workload made slower ...
  std::string inject_strategy;              // ... under this strategy only (empty: all) ...
  double inject_fraction = 0;               // ... by this fraction of extra work
  std::chrono::nanoseconds worker_timeout = std::chrono::seconds(60);  // process runner: any answer
  std::string worker_misbehave;             // test only: the process runner's last worker misbehaves
  std::chrono::nanoseconds run_timeout = std::chrono::minutes(5);  // one repetition, at most (RunWatchdog)
  std::string test_hang;                    // test only: threads rows of this workload at 2+ workers hang
  std::string filter;        // --benchmark_filter: a regex over the clean names
  std::vector<std::string> benchmark_args;  // other --benchmark_* flags, verbatim
  std::vector<std::string> worker_args;     // set when run as a process worker
  bool worker_mode = false;
};

// Parses argv[1..]. known_strategies / known_workloads validate the filters.
// Throws UsageError naming the offending flag or value.
Options parse_options(int argc, char** argv, const std::vector<std::string>& known_strategies,
                      const std::vector<std::string>& known_workloads);

// "5ms", "100us", "250ns", "0.005s" -> nanoseconds, within [lo, hi].
// Throws UsageError.
std::chrono::nanoseconds parse_duration(const std::string& text, const std::string& flag,
                                        std::chrono::nanoseconds lo = std::chrono::microseconds(1),
                                        std::chrono::nanoseconds hi = std::chrono::seconds(10));

// 5000000ns -> "5ms", 100000ns -> "100us": the form used in run names.
std::string format_duration(std::chrono::nanoseconds d);

std::string usage_text();

}  // namespace gilbench
