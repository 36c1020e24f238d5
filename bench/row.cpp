#include "row.hpp"

#include <regex.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <exception>

#include "options.hpp"  // UsageError
#include "reporter.hpp"  // kCpuTimeCounter
#include "watchdog.hpp"

namespace gilbench {

namespace {

std::string g_last_failure;  // the message of the last fail_run() (benchmarks run one at a time)

// The compiled filter (POSIX extended, as Google Benchmark's own filter).
struct NameFilter {
  regex_t re{};
  bool active = false;
  bool negated = false;
  ~NameFilter() { reset(); }
  void reset() {
    if (active) ::regfree(&re);
    active = false;
  }
} g_filter;

benchmark::TimeUnit g_time_unit = benchmark::kMillisecond;

double low52(std::uint64_t checksum) {
  // A double holds 53 bits exactly; the low 52 are enough to tell runs apart.
  return static_cast<double>(checksum & ((std::uint64_t{1} << 52) - 1));
}

void write_counters(benchmark::State& state, const RunSpec& spec, const Outcome& o,
                    const std::optional<Tally>& expected) {
  auto set = [&state](const Metric& m, double v) { state.counters[std::string(m.name)] = benchmark::Counter(v); };
  set(kWorkers, spec.workers);
  set(kItemsPerSecond, o.seconds > 0 ? o.items / o.seconds : 0);
  set(kChecksumOk, 1);
  if (expected) {
    set(kChecksum, low52(expected->checksum()));
    set(kLiveObjects, static_cast<double>(o.allocs.live()));
    set(kObjectsAllocated, static_cast<double>(o.allocs.allocated));
    set(kBytesPerObject,
        o.allocs.allocated > 0 ? static_cast<double>(o.allocs.bytes) / static_cast<double>(o.allocs.allocated) : 0);
  }
  // cpu_time: the workers' CPU time, not the waiting main thread's; carried
  // to the reporters in this counter (bench/reporter.hpp).
  if (o.cpu_seconds >= 0) state.counters[kCpuTimeCounter] = benchmark::Counter(o.cpu_seconds);
  for (const auto& [metric, value] : o.stats.counters) {
    if (!metric->per_worker_time) {
      set(*metric, value);
    } else {
      const double worker_ns = o.seconds * 1e9 * o.workers;
      set(*metric, worker_ns > 0 ? value / worker_ns : 0);
    }
  }
}

}  // namespace

std::string check_outcome(const Outcome& o, const std::optional<Tally>& expected) {
  char buf[256];
  if (expected && (!o.tally || *o.tally != *expected)) {
    const Tally got = o.tally.value_or(Tally{});
    std::snprintf(buf, sizeof buf,
                  "checksum mismatch: got %016" PRIx64 " (items %" PRIu64 ", sum %" PRIu64
                  "), serial %016" PRIx64 " (items %" PRIu64 ", sum %" PRIu64 ")",
                  got.checksum(), got.items, got.sum, expected->checksum(), expected->items, expected->sum);
    return buf;
  }
  if (const std::int64_t live = o.allocs.live(); live != 0) {
    std::snprintf(buf, sizeof buf, "%" PRId64 " objects %s after the run (allocated %" PRId64 ", freed %" PRId64 ")",
                  live > 0 ? live : -live, live > 0 ? "leaked" : "freed twice", o.allocs.allocated, o.allocs.freed);
    return buf;
  }
  return "";
}

void fail_run(benchmark::State& state, const std::string& why) {
  g_last_failure = why;
  state.SkipWithError(why.c_str());
}

void skip_before_loop(benchmark::State& state, const std::string& why) {
  fail_run(state, why);
  for (auto _ : state) {
  }
}

void run_row(benchmark::State& state, const Row& row) {
  std::optional<Tally> expected;
  std::unique_ptr<RowRunner> runner;
  try {
    expected = row.expected();
    runner = row.start();
  } catch (const std::exception& e) {
    skip_before_loop(state, row.fault + e.what());
    return;
  }
  for (auto _ : state) {
    Outcome o;
    try {
      o = runner->run();
    } catch (const std::exception& e) {
      fail_run(state, row.fault + e.what());
      break;
    }
    state.SetIterationTime(o.seconds);
    if (row.hooks.corrupt && o.tally) o.tally->sum += 1;
    if (const std::string why = check_outcome(o, expected); !why.empty()) {
      fail_run(state, why);
      break;
    }
    if (row.model) o.stats.append(row.model());
    write_counters(state, row.spec, o, expected);
  }
  try {
    runner->finish();
  } catch (const std::exception& e) {
    if (!state.error_occurred()) fail_run(state, row.fault + e.what());
  }
}

void set_name_filter(const std::string& filter) {
  g_filter.reset();
  g_filter.negated = !filter.empty() && filter[0] == '-';
  if (filter.empty() || filter == "all" || filter == ".") return;
  const std::string pattern = g_filter.negated ? filter.substr(1) : filter;
  if (const int err = ::regcomp(&g_filter.re, pattern.c_str(), REG_EXTENDED | REG_NOSUB); err != 0) {
    char why[256];
    ::regerror(err, &g_filter.re, why, sizeof why);
    throw UsageError("--benchmark_filter: '" + filter + "' is not a valid regular expression (" + why + ")");
  }
  g_filter.active = true;
}

benchmark::TimeUnit time_unit() { return g_time_unit; }

void set_time_unit(const std::string& unit) {
  g_time_unit = unit == "ns"   ? benchmark::kNanosecond
                : unit == "us" ? benchmark::kMicrosecond
                : unit == "s"  ? benchmark::kSecond
                               : benchmark::kMillisecond;
}

bool name_selected(const std::string& name) {
  return !g_filter.active || (::regexec(&g_filter.re, name.c_str(), 0, nullptr, 0) == 0) != g_filter.negated;
}

GbBenchmark* register_benchmark(const RunSpec& spec, std::function<void(benchmark::State&)> body) {
  const std::string name = spec.name();
  if (!name_selected(name)) return nullptr;
  auto failure = std::make_shared<std::string>();
  return benchmark::RegisterBenchmark(name.c_str(),
                               [name, body = std::move(body), failure](benchmark::State& st) {
                                 if (failure->empty()) {
                                   RunWatchdog::begin(name);
                                   body(st);
                                   RunWatchdog::end();
                                   if (st.error_occurred()) *failure = g_last_failure;
                                 } else {
                                   skip_before_loop(st, "not run: an earlier repetition failed: " + *failure);
                                 }
                                 progress().tick(name);
                               })
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(g_time_unit);
}

GbBenchmark* register_row(Row row) {
  const RunSpec spec = row.spec;
  auto shared = std::make_shared<const Row>(std::move(row));
  return register_benchmark(spec, [shared](benchmark::State& st) { run_row(st, *shared); });
}

Progress& progress() {
  static Progress p;
  return p;
}

void Progress::tick(const std::string& name) {
  ++done_;
  const bool tty = isatty(STDERR_FILENO);
  const auto now = std::chrono::steady_clock::now();
  if (!tty && done_ != total_ && now - last_print_ < std::chrono::seconds(5)) return;
  last_print_ = now;
  std::fprintf(stderr, "%s[%5d/%d] %-60s%s", tty ? "\r" : "", done_, total_, name.c_str(), tty ? "" : "\n");
  std::fflush(stderr);
}

void Progress::finish() {
  if (isatty(STDERR_FILENO) && done_ > 0) std::fprintf(stderr, "\n");
}

}  // namespace gilbench
