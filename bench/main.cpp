// gilbench: the suite's one binary. Parses the command line, registers the
// benchmark matrix, stamps the context, runs Google Benchmark and writes the
// JSON result file atomically.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "convoy_bench.hpp"
#include "options.hpp"
#include "output_file.hpp"
#include "process_bench.hpp"
#include "report/build_info.hpp"
#include "report/metrics.hpp"
#include "reporter.hpp"
#include "strategies/all.hpp"
#include "suite.hpp"
#include "workloads/all.hpp"

namespace gilbench {
namespace {

std::vector<std::string> strategy_names() {
  std::vector<std::string> names;
  for_each_type(AllStrategies{}, [&]<Strategy S> { names.emplace_back(S::kName); });
  names.emplace_back(kProcessName);  // a runner over serial, not a policy: runners/processes.hpp
  return names;
}

std::vector<std::string> workload_names() {
  std::vector<std::string> names;
  for_each_type(AllWorkloads{}, [&]<Workload W> { names.emplace_back(W::kName); });
  names.emplace_back(kStartupWorkload);  // bench/process_bench.hpp
  names.emplace_back(Convoy::kName);      // bench/convoy_bench.hpp
  return names;
}

// The result files' layout: 2 added gilbench_runs (every name's fields).
constexpr const char* kSchemaVersion = "2";

// Every workload's parameters at every scale: {"default": {workload:
// Params}, "quick": ..., "tiny": ...} (gilbench --params). The CPython twin
// reads its sizes from here, so there is one copy of them.
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

Suite make_suite(const Options& o) {
  Suite s;
  s.scale = o.quick ? Scale::kQuick : Scale::kDefault;
  s.workers = !o.workers.empty() ? o.workers : o.quick ? std::vector<int>{1, 2} : std::vector<int>{1, 2, 4, 8};
  s.switch_intervals = o.switch_intervals.empty() ? std::vector<std::chrono::nanoseconds>{5ms}
                                                  : o.switch_intervals;
  s.check_interval = o.check_interval;
  s.repetitions = o.repetitions > 0 ? o.repetitions : 5;
  s.strategies = o.strategies;
  s.workloads = o.workloads;
  s.corrupt_checksum = o.corrupt_checksum;
  s.inject_workload = o.inject_workload;
  s.inject_strategy = o.inject_strategy;
  s.inject_fraction = o.inject_fraction;
  for_each_type(AllWorkloads{}, [&]<Workload W> { s.params[std::string(W::kName)] = W::params(s.scale); });
  s.params[std::string(Convoy::kName)] = Convoy::params(s.scale);
  // convoy's K: always 0 (the IO worker alone), then the given worker counts
  // or the CPU-thread counts of the published convoy table.
  s.convoy_cpu_workers = {0};
  const std::vector<int> ks = !o.workers.empty() ? o.workers : o.quick ? std::vector<int>{1, 2} : std::vector<int>{1, 2, 4};
  s.convoy_cpu_workers.insert(s.convoy_cpu_workers.end(), ks.begin(), ks.end());
  return s;
}

ProcessOptions process_options(const Options& o) {
  ProcessOptions p;
  p.timeout = o.worker_timeout;
  p.startup_timeout = o.worker_timeout;
  p.misbehave = o.worker_misbehave;
  return p;
}

std::vector<RunSpec> register_all(const Suite& suite, const ProcessOptions& process) {
  std::vector<RunSpec> runs;
  for_each_type(AllWorkloads{}, [&]<Workload W> {
    for_each_type(AllStrategies{}, [&]<Strategy S> { register_threads<S, W>(suite, runs); });
    register_process<W>(suite, process, runs);
  });
  register_process_startup(suite, process, runs);
  register_all_convoy(suite, runs, process.misbehave);
  return runs;
}

void add_context(const Suite& suite, const ProcessOptions& process, const std::vector<RunSpec>& runs,
                 const std::vector<std::string>& warnings) {
  const BuildInfo& b = build_info();
  const MachineInfo m = machine_info();
  auto add = [](const char* k, const std::string& v) { benchmark::AddCustomContext(k, v); };
  add("gilbench_schema_version", kSchemaVersion);
  add("gilbench_git_revision", b.git_revision);
  add("gilbench_compiler", b.compiler);
  add("gilbench_cxx_flags", b.cxx_flags);
  add("gilbench_build_type", b.build_type);
  add("gilbench_sanitizer", b.sanitizer.empty() ? "none" : b.sanitizer);
  add("gilbench_benchmark_library", b.benchmark_library);
  add("gilbench_mode", suite.scale == Scale::kQuick ? "quick" : "default");
  nlohmann::json workers = suite.workers;
  add("gilbench_workers", workers.dump());
  nlohmann::json intervals = nlohmann::json::array();
  for (auto d : suite.switch_intervals) intervals.push_back(format_duration(d));
  add("gilbench_switch_intervals", intervals.dump());
  add("gilbench_check_interval", std::to_string(suite.check_interval));
  add("gilbench_repetitions", std::to_string(suite.repetitions));
  add("gilbench_params", suite.params.dump());
  nlohmann::json run_fields = nlohmann::json::object();
  for (const RunSpec& r : runs) run_fields[r.name()] = r.fields();
  add("gilbench_runs", run_fields.dump());
  nlohmann::json kinds = nlohmann::json::object();
  for_each_type(AllWorkloads{}, [&]<Workload W> { kinds[std::string(W::kName)] = W::kKind; });
  kinds[std::string(kStartupWorkload)] = "startup";
  kinds[std::string(Convoy::kName)] = Convoy::kKind;
  add("gilbench_workloads", kinds.dump());
  add("gilbench_strategies", nlohmann::json(strategy_names()).dump());
  add("gilbench_reference_strategy", "serial");
  add("gilbench_metrics", metrics_json().dump());
  add("gilbench_time",
      "real_time = wall time of one run (release of the workers to the end of the last one), "
      "set with SetIterationTime; 1 iteration per repetition; shared state built outside it; "
      "process: first run request sent to last result merged (IPC, serialisation, merge inside)");
  add("gilbench_worker_timeout", format_duration(process.timeout));
  add("gilbench_nproc", std::to_string(m.nproc));
  add("gilbench_cpu_model", m.cpu_model);
  add("gilbench_kernel", m.kernel);
  add("gilbench_cpu_quota", m.cpu_quota);
  add("gilbench_governor", m.governor);
  add("gilbench_warnings", nlohmann::json(warnings).dump());
  if (!suite.inject_workload.empty()) {
    const Injection inj = suite.injection_for(suite.inject_workload, suite.inject_strategy);
    add("gilbench_injected_slowdown",
        suite.inject_workload + (suite.inject_strategy.empty() ? "" : "/" + suite.inject_strategy) + ":" +
            std::to_string(1.0 / inj.split));
  }
  if (!suite.corrupt_checksum.empty()) add("gilbench_corrupted_checksum", suite.corrupt_checksum);
}

bool has_flag(const std::vector<std::string>& args, const std::string& prefix) {
  for (const auto& a : args)
    if (a.rfind(prefix, 0) == 0) return true;
  return false;
}

// The file reporter of --benchmark_out_format, writing into `out`.
std::unique_ptr<benchmark::BenchmarkReporter> file_reporter(const std::string& format, std::ostream& out) {
  std::unique_ptr<benchmark::BenchmarkReporter> r;
  if (format == "csv") {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    r = std::make_unique<CleanNames<benchmark::CSVReporter>>();
#pragma GCC diagnostic pop
  } else if (format == "console") {
    r = std::make_unique<CleanNames<benchmark::ConsoleReporter>>(benchmark::ConsoleReporter::OO_Tabular);
  } else {
    r = std::make_unique<CleanNames<benchmark::JSONReporter>>();
  }
  r->SetOutputStream(&out);
  static std::ostream discard(nullptr);  // what the csv and console reporters print about the machine
  r->SetErrorStream(&discard);
  return r;
}

int run(int argc, char** argv) {
  install_cleanup_handlers();
  Options o;
  try {
    o = parse_options(argc, argv, strategy_names(), workload_names());
  } catch (const UsageError& e) {
    std::fprintf(stderr, "gilbench: %s\n", e.what());
    return 2;
  }
  if (o.help) {
    std::fputs(usage_text().c_str(), stdout);
    return 0;
  }
  if (o.worker_mode) return worker_main(o.worker_args);
  if (o.params) {
    std::printf("%s\n", all_params().dump(2).c_str());
    return 0;
  }

  const Suite suite = make_suite(o);
  try {
    set_name_filter(o.filter);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "gilbench: %s\n", e.what());
    return 2;
  }
  std::vector<std::string> gb_args = {argv[0]};
  gb_args.insert(gb_args.end(), o.benchmark_args.begin(), o.benchmark_args.end());
  if (!has_flag(o.benchmark_args, "--benchmark_repetitions="))
    gb_args.push_back("--benchmark_repetitions=" + std::to_string(suite.repetitions));
  if (!has_flag(o.benchmark_args, "--benchmark_enable_random_interleaving"))
    gb_args.push_back("--benchmark_enable_random_interleaving=true");

  std::vector<char*> gb_argv;
  for (auto& a : gb_args) gb_argv.push_back(a.data());
  gb_argv.push_back(nullptr);
  int gb_argc = static_cast<int>(gb_args.size());
  benchmark::Initialize(&gb_argc, gb_argv.data(), [] { std::fputs(usage_text().c_str(), stdout); });
  if (gb_argc > 1) {
    std::fprintf(stderr, "gilbench: unknown or malformed flag '%s' (see --help)\n", gb_argv[1]);
    return 2;
  }

  const ProcessOptions process = process_options(o);
  const std::vector<RunSpec> runs = register_all(suite, process);
  if (runs.empty()) {  // nothing to measure: an existing result file stays as it was
    std::fprintf(stderr, "gilbench: no benchmark matched\n");
    return 2;
  }
  if (o.list) {
    for (const auto& r : runs) std::printf("%s\n", r.name().c_str());
    return 0;
  }
  // The result file is checked now, before the first benchmark, and written
  // only at the end, only if something ran.
  OutputFile out;
  if (!o.out.empty()) {
    if (const std::string why = out.check(o.out); !why.empty()) {
      std::fprintf(stderr, "gilbench: --out=%s: %s\n", o.out.c_str(), why.c_str());
      return 2;
    }
  }
  const int max_workers = *std::max_element(suite.workers.begin(), suite.workers.end());
  const std::vector<std::string> warnings = environment_warnings(max_workers);
  for (const auto& w : warnings) std::fprintf(stderr, "gilbench: warning: %s\n", w.c_str());
  add_context(suite, process, runs, warnings);
  progress().set_total(static_cast<int>(runs.size()) * suite.repetitions);

  Collector collector;
  std::ostringstream file_text;
  const auto file = out.empty() ? nullptr : file_reporter(o.out_format, file_text);
  ConsoleOut console(collector, file.get());
  const std::size_t ran = benchmark::RunSpecifiedBenchmarks(&console);
  progress().finish();
  benchmark::Shutdown();

  if (ran == 0) {  // nothing measured: an existing result file stays as it was
    std::fprintf(stderr, "gilbench: no benchmark matched\n");
    return 2;
  }
  std::fputs(summary_table(collector).c_str(), stdout);
  int status = 0;
  if (!out.empty()) {
    if (const std::string why = out.write(file_text.str()); !why.empty()) {
      std::fprintf(stderr, "gilbench: %s\n", why.c_str());
      status = 1;
    } else {
      std::printf("\nresults: %s\n", o.out.c_str());
    }
  }
  std::fflush(stdout);
  if (std::ferror(stdout) && out.empty()) {
    std::fprintf(stderr, "gilbench: the results could not be written to stdout (closed?) and no --out was given\n");
    status = 1;
  }
  if (collector.any_error()) {
    std::fprintf(stderr, "\ngilbench: %zu benchmark(s) FAILED:\n", collector.errors().size());
    for (const auto& [name, msg] : collector.errors())
      std::fprintf(stderr, "  %s: %s\n", name.c_str(), msg.c_str());
    status = 1;
  }
  return status;
}

}  // namespace
}  // namespace gilbench

int main(int argc, char** argv) {
  gilbench::self_executable();  // resolve before anything could replace the file
  // Hidden: a CPU burner process of convoy/process (bench/convoy_bench.hpp).
  if (argc > 1 && std::strcmp(argv[1], "--cpu-burner") == 0) return gilbench::cpu_burner_main(argc, argv);
  return gilbench::run(argc, argv);
}
