// gilbench: the suite's one binary. Parses the command line, registers the
// benchmark matrix, stamps the context, runs Google Benchmark and writes the
// JSON result file atomically.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <chrono>
#include <cmath>
#include <limits>
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
#include "report/sample_stats.hpp"
#include "reporter.hpp"
#include "watchdog.hpp"
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
  add("gilbench_git_commit_date", b.git_commit_date);
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
  // --bytecode-cost: steps per checkpoint (the axis `bytecode`), and this
  // machine's ns per step when a cost was given.
  add("gilbench_bytecode_steps", nlohmann::json(suite.bytecode_steps).dump());
  if (suite.ns_per_step > 0) add("gilbench_ns_per_step", std::to_string(suite.ns_per_step));
  add("gilbench_repetitions", suite.repetitions.adaptive ? "auto" : std::to_string(suite.repetitions.fixed));
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

// A name as a POSIX extended regex that matches it literally (the filter of
// a round, given to Google Benchmark).
std::string ere_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view(".[]()*+?{}|^$\\").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// Runs the registered benchmarks, in rounds when the plan is adaptive
// (bench/adaptive.hpp). RETURNS what was done, for the context
// (gilbench_adaptive): the plan, the rounds, and each row's repetitions,
// median CI and bimodality.
nlohmann::json run_rounds(const RepetitionPlan& plan, const std::vector<RunSpec>& runs,
                          const std::vector<GbBenchmark*>& benches, ConsoleOut& console,
                          Collector& collector) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto reps_of = [&](std::size_t i) {
    const auto it = collector.times_ms().find(runs[i].name());
    return it == collector.times_ms().end() ? 0 : static_cast<int>(it->second.size());
  };
  auto ci_of = [&](std::size_t i) {
    const auto it = collector.times_ms().find(runs[i].name());
    return it == collector.times_ms().end() ? std::numeric_limits<double>::infinity() : median_ci_relative(it->second);
  };
  std::vector<std::size_t> todo(runs.size());
  for (std::size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  std::vector<int> per_round;  // repetitions added per row, each round
  int more = plan.adaptive ? plan.min : plan.fixed;
  int total = static_cast<int>(todo.size()) * more;
  std::string stop = "every row within the target or at the most repetitions";
  while (!todo.empty()) {
    std::string spec = "^(";
    for (std::size_t k = 0; k < todo.size(); ++k) {
      benches[todo[k]]->Repetitions(more);
      spec += (k ? "|" : "") + ere_escape(runs[todo[k]].name());
    }
    spec += ")/";
    progress().set_total(total);
    per_round.push_back(more);
    benchmark::RunSpecifiedBenchmarks(&console, todo.size() == runs.size() ? std::string(".") : spec);
    if (!plan.adaptive) break;
    // The rows not yet known to target (a failed row is not run again).
    std::vector<std::size_t> next;
    double round_ms = 0;
    int next_more = plan.max;
    for (std::size_t i : todo) {
      if (collector.errors().count(runs[i].name())) continue;
      const int reps = reps_of(i);
      if (reps >= plan.max || ci_of(i) <= plan.target) continue;
      next.push_back(i);
      next_more = std::min(next_more, plan.max - reps);
    }
    if (next.empty()) break;
    // As many again (doubling), within the maximum and the budget: a round
    // costs about its rows' median times x repetitions.
    next_more = std::min(next_more, std::max(2, reps_of(next.front())));
    for (std::size_t i : next) round_ms += median_of(collector.times_ms().at(runs[i].name())) * next_more;
    const double spent = std::chrono::duration<double>(Clock::now() - start).count();
    if (spent + round_ms * 1e-3 * 1.5 > plan.budget.count()) {
      stop = "time budget";
      break;
    }
    todo = std::move(next);
    more = next_more;
    total += static_cast<int>(todo.size()) * more;
  }
  nlohmann::json rows = nlohmann::json::object();
  int wide = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto it = collector.times_ms().find(runs[i].name());
    if (it == collector.times_ms().end()) continue;
    const double ci = median_ci_relative(it->second);
    wide += !(ci <= plan.target);
    rows[runs[i].name()] = {{"repetitions", it->second.size()},
                            {"median_ci_relative", std::isfinite(ci) ? nlohmann::json(ci) : nlohmann::json()},
                            {"bimodal", is_bimodal(it->second)}};
  }
  return {{"mode", plan.adaptive ? "auto" : "fixed"},
          {"statistic", "median"},
          {"min", plan.adaptive ? plan.min : plan.fixed},
          {"max", plan.adaptive ? plan.max : plan.fixed},
          {"target_ci_relative", plan.target},
          {"time_budget_s", plan.budget.count()},
          {"seconds", std::chrono::duration<double>(Clock::now() - start).count()},
          {"rounds", per_round},
          {"stopped", !plan.adaptive ? "fixed repetitions"
                      : wide == 0    ? "every row within the target"
                                     : stop + "; " + std::to_string(wide) + " rows not within the target"},
          {"rows", rows}};
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
  if (!o.list && !o.no_fingerprint) {
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
  std::vector<GbBenchmark*> benches;
  for (Row& row : build_rows(suite)) {
    const RunSpec spec = row.spec;
    if (auto* b = register_row(std::move(row))) {
      runs.push_back(spec);
      benches.push_back(b);
    }
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
  if (!suite.fingerprint.is_null()) benchmark::AddCustomContext("gilbench_fingerprint", suite.fingerprint.dump());
  const int max_workers = *std::max_element(suite.workers.begin(), suite.workers.end());
  const std::vector<std::string> warnings = environment_warnings(max_workers);
  for (const auto& w : warnings) std::fprintf(stderr, "gilbench: warning: %s\n", w.c_str());
  add_context(suite, runs, warnings);

  Collector collector;
  const bool machine_stdout = o.display_format != "console";
  ConsoleOut console(collector);
  if (machine_stdout) console.SetOutputStream(&std::cerr);  // --benchmark_format=json|csv owns stdout
  // No run hangs the suite (bench/watchdog.hpp): a repetition that outlives
  // --run-timeout cannot be stopped, so what was measured is written, that
  // run marked failed, and gilbench exits 1.
  const RunWatchdog watchdog(o.run_timeout, [&](const std::string& name, std::chrono::nanoseconds) {
    const std::string why = "did not finish within " + format_duration(o.run_timeout) +
                            " (--run-timeout): a deadlock or a worker that never returns; its threads cannot be "
                            "stopped, so gilbench stopped the suite here";
    collector.add({failed_run(name, why, time_unit())});
    progress().finish();
    std::fprintf(stderr, "\ngilbench: %s %s\n", name.c_str(), why.c_str());
    if (!out.empty() && console.context()) {
      std::ostringstream text;
      emit(*file_reporter(o.out_format, text), *console.context(), collector);
      if (const std::string err = out.write(text.str()); !err.empty())
        std::fprintf(stderr, "gilbench: %s\n", err.c_str());
      else
        std::fprintf(stderr, "gilbench: the runs made so far are in %s (the runs not yet made are not)\n",
                     o.out.c_str());
    }
    std::fflush(nullptr);
    std::_Exit(1);
  });
  const nlohmann::json plan = run_rounds(suite.repetitions, runs, benches, console, collector);
  benchmark::AddCustomContext("gilbench_adaptive", plan.dump());
  progress().finish();

  if (collector.names().empty()) {  // nothing measured: an existing result file stays as it was
    std::fprintf(stderr, "gilbench: no benchmark matched\n");
    return 2;
  }
  std::ostringstream file_text;
  if (!out.empty()) emit(*file_reporter(o.out_format, file_text), *console.context(), collector);
  if (machine_stdout) emit(*file_reporter(o.display_format, std::cout), *console.context(), collector);
  benchmark::Shutdown();
  const bool display = machine_stdout;
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
  // Resolve this binary's path before anything could replace the file; not
  // in a worker process, which starts no process, so that nothing on its heap
  // depends on where the binary lies: a path of another length puts the
  // worker's first objects elsewhere in mimalloc's pages, and the same code
  // then counts a few thousand instructions more or less (the A/B lane's
  // layout check and the instruction lane compare such counts exactly).
  if (!(argc > 1 && std::strcmp(argv[1], "--worker") == 0)) gilbench::self_executable();
  // Hidden: a CPU burner process of convoy/process (bench/convoy_bench.hpp).
  if (argc > 1 && std::strcmp(argv[1], "--cpu-burner") == 0) return gilbench::cpu_burner_main(argc, argv);
  if (argc > 1 && std::strcmp(argv[1], "--echo-peer") == 0) return gilbench::echo_peer_main(argc, argv);
  return gilbench::run(argc, argv);
}
