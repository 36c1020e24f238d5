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
#include "matrix.hpp"
#include "options.hpp"
#include "output_file.hpp"
#include "report/build_info.hpp"
#include "report/fingerprint.hpp"
#include "reporter.hpp"
#include "worker_main.hpp"

namespace gilbench {
namespace {

// The result files' layout: 2 added gilbench_runs (every name's fields).
constexpr const char* kSchemaVersion = "2";

void add_context(const Suite& suite, const std::vector<RunSpec>& runs, const std::vector<std::string>& warnings) {
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
  add("gilbench_workloads", workload_kinds().dump());
  add("gilbench_strategies", nlohmann::json(strategy_names()).dump());
  add("gilbench_reference_strategy", "serial");
  add("gilbench_metrics", metrics_json().dump());
  add("gilbench_time",
      "real_time = wall time of one run (release of the workers to the end of the last one), "
      "set with SetIterationTime; 1 iteration per repetition; shared state built outside it; "
      "process: first run request sent to last result merged (IPC, serialisation, merge inside)");
  add("gilbench_worker_timeout", format_duration(suite.process.timeout));
  add("gilbench_allocator", allocator_description());
  add("gilbench_nproc", std::to_string(m.nproc));
  add("gilbench_cpu_model", m.cpu_model);
  add("gilbench_kernel", m.kernel);
  add("gilbench_cpu_quota", m.cpu_quota);
  add("gilbench_governor", m.governor);
  add("gilbench_warnings", nlohmann::json(warnings).dump());
  if (!suite.inject_workload.empty()) {
    const Hooks h = suite.hooks_for(suite.inject_workload, suite.inject_strategy);
    add("gilbench_injected_slowdown",
        suite.inject_workload + (suite.inject_strategy.empty() ? "" : "/" + suite.inject_strategy) + ":" +
            std::to_string(1.0 / h.inject_split));
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
  // The object heap, before the first object (the serial tallies) is made.
  if (!o.allocator.empty() && !set_allocator(o.allocator == "glibc" ? Allocator::kGlibc : Allocator::kMimalloc)) {
    std::fprintf(stderr, "gilbench: --allocator=%s: this build has no mimalloc (sanitizer builds use the "
                         "sanitizer's malloc)\n", o.allocator.c_str());
    return 2;
  }
  if (o.params) {
    std::printf("%s\n", all_params().dump(2).c_str());
    return 0;
  }
  if (o.fingerprint) {
    const nlohmann::json fp = machine_fingerprint();
    std::fputs(o.format == "json" && o.format_given ? (fp.dump(2) + "\n").c_str() : describe_fingerprint(fp).c_str(),
               stdout);
    return 0;
  }
  if (o.list_counters) {
    std::fputs(o.format == "markdown" ? metrics_markdown().c_str() : (metrics_json().dump(2) + "\n").c_str(), stdout);
    return 0;
  }

  // The machine, measured before anything else: its unit costs explain the
  // results (the model of each row) and tell whether two files compare.
  Suite suite = make_suite(o);
  if (!o.list) {
    suite.fingerprint = machine_fingerprint();
    std::fputs(describe_fingerprint(suite.fingerprint).c_str(), stderr);
  }
  try {
    set_name_filter(o.filter);
    set_time_unit(o.time_unit);
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

  std::vector<RunSpec> runs;
  for (Row& row : build_rows(suite)) {
    const RunSpec spec = row.spec;
    if (register_row(std::move(row))) runs.push_back(spec);
  }
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
  benchmark::AddCustomContext("gilbench_fingerprint", suite.fingerprint.dump());
  const int max_workers = *std::max_element(suite.workers.begin(), suite.workers.end());
  const std::vector<std::string> warnings = environment_warnings(max_workers);
  for (const auto& w : warnings) std::fprintf(stderr, "gilbench: warning: %s\n", w.c_str());
  add_context(suite, runs, warnings);
  progress().set_total(static_cast<int>(runs.size()) * suite.repetitions);

  Collector collector;
  std::ostringstream file_text;
  const auto file = out.empty() ? nullptr : file_reporter(o.out_format, file_text);
  // --benchmark_format=json|csv: that format on stdout, the console lines on stderr.
  const auto display = o.display_format == "console" ? nullptr : file_reporter(o.display_format, std::cout);
  std::vector<benchmark::BenchmarkReporter*> forward;
  if (file) forward.push_back(file.get());
  if (display) forward.push_back(display.get());
  ConsoleOut console(collector, forward);
  if (display) console.SetOutputStream(&std::cerr);
  const std::size_t ran = benchmark::RunSpecifiedBenchmarks(&console);
  progress().finish();
  benchmark::Shutdown();

  if (ran == 0) {  // nothing measured: an existing result file stays as it was
    std::fprintf(stderr, "gilbench: no benchmark matched\n");
    return 2;
  }
  std::fputs((summary_table(collector) + explained_table(collector, one_at_a_time_strategies())).c_str(),
             display ? stderr : stdout);
  int status = 0;
  if (!out.empty()) {
    if (const std::string why = out.write(file_text.str()); !why.empty()) {
      std::fprintf(stderr, "gilbench: %s\n", why.c_str());
      status = 1;
    } else {
      std::fprintf(display ? stderr : stdout, "\nresults: %s\n", o.out.c_str());
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
