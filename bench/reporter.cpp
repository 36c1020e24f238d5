#include "reporter.hpp"

#include "gb_compat.hpp"
#include "report/sample_stats.hpp"
#include "run_spec.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <cstdio>
#include <set>
#include <sstream>

namespace gilbench {

std::vector<benchmark::BenchmarkReporter::Run> clean_runs(const std::vector<benchmark::BenchmarkReporter::Run>& runs) {
  using Run = benchmark::BenchmarkReporter::Run;
  std::vector<Run> out;
  for (Run r : runs) {
    r.run_name.iterations.clear();
    r.run_name.time_type.clear();
    r.run_name.repetitions.clear();
    if (auto it = r.counters.find(kCpuTimeCounter); it != r.counters.end()) {
      r.cpu_accumulated_time = it->second.value * static_cast<double>(r.iterations);
      r.counters.erase(it);
    }
    for (auto it = r.counters.begin(); it != r.counters.end();)
      it = std::isfinite(it->second.value) ? std::next(it) : r.counters.erase(it);
    if (r.run_type == Run::RT_Aggregate &&
        !(std::isfinite(r.real_accumulated_time) && std::isfinite(r.cpu_accumulated_time)))
      continue;
    out.push_back(std::move(r));
  }
  return out;
}

void Collector::add(const std::vector<Run>& runs) {
  for (const auto& r : runs) {
    if (r.run_type != Run::RT_Iteration) continue;  // aggregates: report_runs()
    const std::string name = r.run_name.str();
    if (!runs_.count(name)) order_.push_back(name);
    runs_[name].push_back(r);
    if (run_failed(r)) {
      errors_.try_emplace(name, run_message(r));  // the first is the cause
      continue;
    }
    times_ms_[name].push_back(r.real_accumulated_time * 1e3 / static_cast<double>(r.iterations));
    if (!counters_.count(name))
      for (const auto& [k, v] : r.counters) counters_[name][k] = v.value;
  }
}

namespace {
double median(const std::vector<double>& v) { return median_of(v); }

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}
}  // namespace

std::vector<Collector::Run> Collector::report_runs(const std::string& name) const {
  std::vector<Run> out = runs_.at(name);
  std::vector<const Run*> ok;
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].repetition_index = static_cast<int64_t>(i);
    out[i].repetitions = static_cast<int64_t>(out.size());
    if (!run_failed(out[i])) ok.push_back(&out[i]);
  }
  if (ok.size() < 2) return out;
  // One statistic of every successful repetition's times and counters.
  std::vector<double> real, cpu;
  std::map<std::string, std::vector<double>> counters;
  for (const Run* r : ok) {
    real.push_back(r->real_accumulated_time / static_cast<double>(r->iterations));
    cpu.push_back(r->cpu_accumulated_time / static_cast<double>(r->iterations));
    for (const auto& [k, c] : r->counters) counters[k].push_back(c.value);
  }
  const auto n = static_cast<double>(ok.size());
  struct Stat {
    const char* name;
    double (*f)(const std::vector<double>&);
    bool percentage;
  };
  static const Stat kStats[] = {
      {"mean", [](const std::vector<double>& v) { return mean(v); }, false},
      {"median", [](const std::vector<double>& v) { return median(v); }, false},
      {"stddev", [](const std::vector<double>& v) { return stddev(v); }, false},
      {"cv", [](const std::vector<double>& v) { return mean(v) > 0 ? stddev(v) / mean(v) : 0.0; }, true},
  };
  // A copy: `out` grows below, which would leave a reference into it dangling
  // (every aggregate after the first was named "_median", "_stddev", "_cv").
  const Run first = *ok.front();
  const std::size_t iterations_end = out.size();
  for (const Stat& stat : kStats) {
    Run a = first;
    a.run_type = Run::RT_Aggregate;
    a.aggregate_name = stat.name;
    a.aggregate_unit = stat.percentage ? benchmark::kPercentage : benchmark::kTime;
    a.repetition_index = Run::no_repetition_index;
    a.repetitions = static_cast<int64_t>(iterations_end);
    // Google Benchmark's layout: a time statistic as n "iterations" of it;
    // a percentage as is.
    a.iterations = static_cast<benchmark::IterationCount>(ok.size());
    a.real_accumulated_time = stat.f(real) * (stat.percentage ? 1 : n);
    a.cpu_accumulated_time = stat.f(cpu) * (stat.percentage ? 1 : n);
    if (!std::isfinite(a.real_accumulated_time) || !std::isfinite(a.cpu_accumulated_time)) continue;
    a.counters.clear();
    for (const auto& [k, v] : counters) {
      const double x = stat.f(v);
      if (std::isfinite(x) && v.size() == ok.size()) a.counters[k] = benchmark::Counter(x);
    }
    out.push_back(std::move(a));
  }
  return out;
}

benchmark::BenchmarkReporter::Run failed_run(const std::string& name, const std::string& why,
                                             benchmark::TimeUnit unit) {
  benchmark::BenchmarkReporter::Run r;
  r.run_name.function_name = name;
  r.run_type = benchmark::BenchmarkReporter::Run::RT_Iteration;
  r.iterations = 1;
  r.repetitions = 1;
  r.threads = 1;
  r.time_unit = unit;
#if GILBENCH_GB_SKIPPED_API
  r.skipped = benchmark::internal::SkippedWithError;
  r.skip_message = why;
#else
  r.error_occurred = true;
  r.error_message = why;
#endif
  return r;
}

void emit(benchmark::BenchmarkReporter& reporter, const benchmark::BenchmarkReporter::Context& context,
          const Collector& collector) {
  reporter.ReportContext(context);
  for (const std::string& name : collector.names()) reporter.ReportRuns(collector.report_runs(name));
  reporter.Finalize();
}

namespace {

std::string human(double v) {
  char buf[32];
  const char* suffix = "";
  if (v >= 1e9) {
    v /= 1e9;
    suffix = "G";
  } else if (v >= 1e6) {
    v /= 1e6;
    suffix = "M";
  } else if (v >= 1e3) {
    v /= 1e3;
    suffix = "k";
  }
  std::snprintf(buf, sizeof buf, "%.3g%s", v, suffix);
  return buf;
}
}  // namespace

bool ConsoleOut::ReportContext(const Context& context) {
  if (context_) return true;  // a later round
  context_.emplace(context);
  // Google Benchmark's header, less the long JSON values of the context
  // (counter registry, parameters), which belong in the result file.
  std::ostringstream basic;
  PrintBasicContext(&basic, context);
  std::istringstream lines(basic.str());
  constexpr std::size_t kWidth = 140;
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > kWidth) line = line.substr(0, kWidth - 20) + " ... (see the JSON)";
    GetErrorStream() << line << "\n";
    if (line.find("Library was built as DEBUG") != std::string::npos)
      GetErrorStream() << "gilbench: note: Debian builds Google Benchmark without NDEBUG, so it says DEBUG, but "
                          "optimised; gilbench times every run with its own clock, so this does not affect the "
                          "figures\n";
  }
  return true;
}

void ConsoleOut::ReportRuns(const std::vector<Run>& runs) {
  const auto clean = clean_runs(runs);
  collector_.add(clean);
  const Run* last = nullptr;
  for (const auto& r : clean) {
    if (r.run_type != Run::RT_Iteration) continue;
    if (run_failed(r)) {
      GetOutputStream() << r.run_name.str() << "  FAILED: " << run_message(r) << "\n";
      return;
    }
    last = &r;
  }
  if (!last) return;
  const std::vector<double>& ms = collector_.times_ms().at(last->run_name.str());  // every round's
  const double med = median(ms);
  const auto [lo, hi] = std::minmax_element(ms.begin(), ms.end());
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-48s %9.2f ms  [%.2f..%.2f] n=%zu", last->run_name.str().c_str(), med,
                *lo, *hi, ms.size());
  std::string line = buf;
  if (auto it = last->counters.find("items_per_second"); it != last->counters.end())
    line += "  " + human(it->second.value) + " items/s";
  for (const char* k : {"gil_switches", "gil_forced_switches", "gil_wait_frac"}) {
    if (auto it = last->counters.find(k); it != last->counters.end()) {
      std::snprintf(buf, sizeof buf, "  %s=%s", k + 4, human(it->second.value).c_str());
      line += buf;
    }
  }
  GetOutputStream() << line << "\n" << std::flush;
}

std::string summary_table(const Collector& c) {
  // (workload) -> (strategy+rest) -> workers -> median ms
  std::map<std::string, std::map<std::string, std::map<int, double>>> table;
  std::map<std::string, std::map<std::string, std::set<int>>> bimodal;
  std::map<std::string, std::vector<std::string>> order;  // strategies in first-seen order
  std::set<int> all_workers;
  auto note = [&](const RunSpec& n, double ms) {
    const std::string key = n.variant();
    auto& rows = order[n.workload];
    if (std::find(rows.begin(), rows.end(), key) == rows.end()) rows.push_back(key);
    table[n.workload][key][n.workers] = ms;
    all_workers.insert(n.workers);
  };
  for (const auto& [name, times] : c.times_ms())
    if (const auto n = RunSpec::parse(name); n && !times.empty()) {
      note(*n, median(times));
      if (is_bimodal(times)) bimodal[n->workload][n->variant()].insert(n->workers);
    }
  for (const auto& [name, msg] : c.errors())
    if (const auto n = RunSpec::parse(name)) note(*n, -1.0);
  std::ostringstream os;
  os << "\nSpeedup over serial (median wall time of serial at 1 worker / median of the run;\n"
        ">1 = faster than one serial worker, FAIL = the run failed, - = not run, ~ = bimodal)\n\n";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%-20s %-28s", "workload", "strategy");
  os << buf;
  for (int w : all_workers) {
    std::snprintf(buf, sizeof buf, " %7s", ("w=" + std::to_string(w)).c_str());
    os << buf;
  }
  os << "   serial ms\n";
  for (const auto& [workload, rows] : table) {
    // Each row against serial at the same bytecode cost (the axis, if any).
    auto serial_of = [&rows](const std::string& key) {
      const auto at = key.find("/bytecode:");
      const std::string ref = "serial" + (at == std::string::npos ? "" : key.substr(at));
      auto it = rows.find(ref);
      return it != rows.end() && it->second.count(1) ? it->second.at(1) : -1.0;
    };
    bool first = true;
    double shown = -2;  // the serial ms printed last in this workload
    for (const auto& key : order[workload]) {
      const double serial = serial_of(key);
      const auto& cells = rows.at(key);
      std::snprintf(buf, sizeof buf, "%-20s %-28s", first ? workload.c_str() : "", key.c_str());
      os << buf;
      for (int w : all_workers) {
        auto it = cells.find(w);
        if (it == cells.end()) {
          std::snprintf(buf, sizeof buf, " %7s", "-");
        } else if (it->second < 0) {
          std::snprintf(buf, sizeof buf, " %7s", "FAIL");
        } else if (serial <= 0) {
          std::snprintf(buf, sizeof buf, " %6.1fms", it->second);
        } else {
          std::snprintf(buf, sizeof buf, " %6.2fx", serial / it->second);
        }
        if (bimodal[workload][key].count(w)) buf[0] = '~';
        os << buf;
      }
      if (serial > 0 && serial != shown) {
        std::snprintf(buf, sizeof buf, "   %8.1f", serial);
        os << buf;
        shown = serial;
      }
      os << "\n";
      first = false;
    }
  }
  return os.str();
}

namespace {
double finite_or_zero(double v) { return std::isfinite(v) ? v : 0; }
}  // namespace

std::string explained_table(const Collector& c, const std::map<std::string, bool>& serializes) {
  std::ostringstream os;
  char buf[256];
  int one = 0, one_ok = 0, shared = 0, shared_ok = 0;
  std::string lines;
  for (const auto& [name, times] : c.times_ms()) {
    const auto spec = RunSpec::parse(name);
    const auto counters = c.counters().find(name);
    if (!spec || times.empty() || counters == c.counters().end() || !counters->second.count("model_extra_ms")) continue;
    if (spec->strategy == "serial") continue;
    RunSpec serial_spec = *spec;
    serial_spec.strategy = "serial";
    serial_spec.workers = 1;
    serial_spec.axes.clear();
    const auto serial = c.times_ms().find(serial_spec.name());
    if (serial == c.times_ms().end() || serial->second.empty()) continue;
    const double t_serial = median(serial->second);
    const double t = median(times);
    const double extra = counters->second.at("model_extra_ms");
    if (spec->workers == 1) {
      const double measured = t - t_serial;
      // Within 25%, or within what the two medians are known to (their 95%
      // CIs): an extra smaller than the noise cannot be explained any closer.
      const double noise = finite_or_zero(median_ci_relative(times)) * t +
                           finite_or_zero(median_ci_relative(serial->second)) * t_serial;
      const bool ok = std::abs(measured - extra) <= std::max(0.25 * std::abs(measured), noise);
      ++one;
      one_ok += ok;
      std::snprintf(buf, sizeof buf, "  %-44s extra %8.2f ms measured, %8.2f ms predicted  %s\n", name.c_str(),
                    measured, extra, ok ? "ok" : "--");
      lines += buf;
    } else if (spec->workers == 2 && counters->second.count("model_contention_ms") &&
               spec->workload.rfind("shared_", 0) == 0) {
      const auto s = serializes.find(spec->strategy);
      const bool one_at_a_time = s != serializes.end() && s->second;
      const double predicted = one_at_a_time ? t_serial + extra
                                             : (t_serial + extra) / spec->workers + counters->second.at("model_contention_ms");
      const double ratio = t / predicted;
      const bool ok = ratio <= 2 && ratio >= 0.5;
      ++shared;
      shared_ok += ok;
      std::snprintf(buf, sizeof buf, "  %-44s time  %8.2f ms measured, %8.2f ms predicted  %s\n", name.c_str(), t,
                    predicted, ok ? "ok" : "--");
      lines += buf;
    }
  }
  if (one + shared == 0) return "";
  os << "\nExplained overheads (op counts x each strategy's cost model x this machine's unit costs;\n"
        "1 worker: extra time over serial, ok within 25% or within the medians' 95% CIs;\n"
        "shared data at 2 workers: time, ok within 2x)\n"
     << lines;
  std::snprintf(buf, sizeof buf, "  explained: %d of %d 1-worker rows within 25%%, %d of %d shared 2-worker rows within 2x\n",
                one_ok, one, shared_ok, shared);
  os << buf;
  return os.str();
}

}  // namespace gilbench
