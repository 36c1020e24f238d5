// gilbench: the suite's one binary. Parses the command line, registers the
// benchmark matrix, stamps the context, runs Google Benchmark and writes the
// JSON result file atomically.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "convoy_bench.hpp"
#include "options.hpp"
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

std::vector<std::string> register_all(const Suite& suite, const ProcessOptions& process) {
  std::vector<std::string> names;
  for_each_type(AllWorkloads{}, [&]<Workload W> {
    for_each_type(AllStrategies{}, [&]<Strategy S> { register_threads<S, W>(suite, names); });
    register_process<W>(suite, process, names);
  });
  register_process_startup(suite, process, names);
  register_all_convoy(suite, names);
  return names;
}

void add_context(const Suite& suite, const ProcessOptions& process, const std::vector<std::string>& warnings) {
  const BuildInfo& b = build_info();
  const MachineInfo m = machine_info();
  auto add = [](const char* k, const std::string& v) { benchmark::AddCustomContext(k, v); };
  add("gilbench_schema_version", "1");
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

int count_matching(const std::vector<std::string>& names, const std::vector<std::string>& args) {
  std::string filter;
  for (const auto& a : args)
    if (a.rfind("--benchmark_filter=", 0) == 0) filter = a.substr(19);
  if (filter.empty() || filter == "all" || filter == ".") return static_cast<int>(names.size());
  const bool negate = filter[0] == '-';
  try {
    const std::regex re(negate ? filter.substr(1) : filter, std::regex::extended);
    int n = 0;
    for (const auto& name : names) n += std::regex_search(name, re) != negate;
    return n;
  } catch (const std::regex_error&) {
    return static_cast<int>(names.size());
  }
}

// The temp file of the JSON output, removed if the run is interrupted.
char g_temp_path[4096];
extern "C" void on_interrupt(int sig) {
  if (g_temp_path[0]) unlink(g_temp_path);
  signal(sig, SIG_DFL);
  raise(sig);
}

int run(int argc, char** argv) {
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

  const Suite suite = make_suite(o);
  std::vector<std::string> gb_args = {argv[0]};
  gb_args.insert(gb_args.end(), o.benchmark_args.begin(), o.benchmark_args.end());
  if (!has_flag(o.benchmark_args, "--benchmark_repetitions="))
    gb_args.push_back("--benchmark_repetitions=" + std::to_string(suite.repetitions));
  if (!has_flag(o.benchmark_args, "--benchmark_enable_random_interleaving"))
    gb_args.push_back("--benchmark_enable_random_interleaving=true");

  std::string temp_path;
  if (!o.out.empty()) {
    const std::filesystem::path out(o.out);
    std::error_code ec;
    if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path(), ec);
    if (ec) {
      std::fprintf(stderr, "gilbench: --out: cannot create directory %s: %s\n",
                   out.parent_path().c_str(), ec.message().c_str());
      return 2;
    }
    temp_path = (out.has_parent_path() ? out.parent_path() / "" : std::filesystem::path()).string() +
                "." + out.filename().string() + ".tmp." + std::to_string(getpid());
    if (temp_path.size() >= sizeof g_temp_path) {
      std::fprintf(stderr, "gilbench: --out: path too long\n");
      return 2;
    }
    std::strcpy(g_temp_path, temp_path.c_str());
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    signal(SIGHUP, on_interrupt);
    gb_args.push_back("--benchmark_out=" + temp_path);
    if (!has_flag(o.benchmark_args, "--benchmark_out_format="))
      gb_args.push_back("--benchmark_out_format=json");
  }

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
  const std::vector<std::string> names = register_all(suite, process);
  if (o.list) {
    for (const auto& n : names) std::printf("%s\n", n.c_str());
    return 0;
  }
  const int max_workers = *std::max_element(suite.workers.begin(), suite.workers.end());
  const std::vector<std::string> warnings = environment_warnings(max_workers);
  for (const auto& w : warnings) std::fprintf(stderr, "gilbench: warning: %s\n", w.c_str());
  add_context(suite, process, warnings);
  progress().set_total(count_matching(names, o.benchmark_args) * suite.repetitions);

  Collector collector;
  ConsoleOut console(collector);
  JsonOut json;
  const std::size_t ran = temp_path.empty() ? benchmark::RunSpecifiedBenchmarks(&console)
                                            : benchmark::RunSpecifiedBenchmarks(&console, &json);
  progress().finish();
  benchmark::Shutdown();

  if (!temp_path.empty()) {
    std::error_code ec;
    std::filesystem::rename(temp_path, o.out, ec);
    g_temp_path[0] = '\0';
    if (ec) {
      std::fprintf(stderr, "gilbench: cannot write %s: %s\n", o.out.c_str(), ec.message().c_str());
      return 1;
    }
  }
  if (ran == 0) {
    std::fprintf(stderr, "gilbench: no benchmark matched\n");
    return 2;
  }
  std::fputs(summary_table(collector).c_str(), stdout);
  if (!o.out.empty()) std::printf("\nresults: %s\n", o.out.c_str());
  if (collector.any_error()) {
    std::fprintf(stderr, "\ngilbench: %zu benchmark(s) FAILED:\n", collector.errors().size());
    for (const auto& [name, msg] : collector.errors())
      std::fprintf(stderr, "  %s: %s\n", name.c_str(), msg.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace gilbench

int main(int argc, char** argv) {
  gilbench::self_executable();  // resolve before anything could replace the file
  // Hidden: a CPU burner process of convoy/process (bench/convoy_bench.hpp).
  if (argc > 1 && std::strcmp(argv[1], "--cpu-burner") == 0) return gilbench::cpu_burner_main(argc, argv);
  return gilbench::run(argc, argv);
}
