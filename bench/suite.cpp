#include "suite.hpp"

#include <regex.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>

#include "report/metrics.hpp"

namespace gilbench {

bool Suite::wants_strategy(std::string_view s) const {
  return strategies.empty() || std::find(strategies.begin(), strategies.end(), s) != strategies.end();
}

bool Suite::wants_workload(std::string_view w) const {
  return workloads.empty() || std::find(workloads.begin(), workloads.end(), w) != workloads.end();
}

namespace {
std::string g_last_failure;
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
}  // namespace

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

bool name_selected(const std::string& name) {
  return !g_filter.active || (::regexec(&g_filter.re, name.c_str(), 0, nullptr, 0) == 0) != g_filter.negated;
}

void fail_run(benchmark::State& state, const std::string& why) {
  g_last_failure = why;
  state.SkipWithError(why.c_str());
}

const std::string& last_failure() { return g_last_failure; }

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
  std::fprintf(stderr, "%s[%5d/%d] %-60s%s", tty ? "\r" : "", done_, total_, name.c_str(),
               tty ? "" : "\n");
  std::fflush(stderr);
}

void Progress::finish() {
  if (isatty(STDERR_FILENO) && done_ > 0) std::fprintf(stderr, "\n");
}

std::string check_run(const RunResult& r, const Tally& expected) {
  char buf[256];
  if (r.tally != expected) {
    std::snprintf(buf, sizeof buf,
                  "checksum mismatch: got %016" PRIx64 " (items %" PRIu64 ", sum %" PRIu64
                  "), serial %016" PRIx64 " (items %" PRIu64 ", sum %" PRIu64 ")",
                  r.tally.checksum(), r.tally.items, r.tally.sum, expected.checksum(),
                  expected.items, expected.sum);
    return buf;
  }
  if (r.allocs.live() != 0) {
    std::snprintf(buf, sizeof buf, "%" PRId64 " objects %s after the run (allocated %" PRId64
                  ", freed %" PRId64 ")",
                  r.allocs.live() > 0 ? r.allocs.live() : -r.allocs.live(),
                  r.allocs.live() > 0 ? "leaked" : "freed twice", r.allocs.allocated, r.allocs.freed);
    return buf;
  }
  return "";
}

void RunCounters::add(const RunResult& r, std::uint64_t checksum) {
  ++runs_;
  seconds_ += r.seconds;
  items_ += static_cast<double>(r.tally.items);
  objects_ += static_cast<double>(r.allocs.allocated);
  bytes_ += static_cast<double>(r.allocs.bytes);
  live_ += static_cast<double>(r.allocs.live());
  checksum_ = checksum;
  for (const auto& [k, v] : r.stats.counters) stats_[k] += v;
}

void RunCounters::write(benchmark::State& state, int workers) const {
  if (runs_ == 0) return;
  auto set = [&state](const std::string& name, double v) {
    if (!find_metric(name)) {
      std::fprintf(stderr, "gilbench: internal error: counter '%s' is not in the metrics registry\n",
                   name.c_str());
      std::abort();
    }
    state.counters[name] = benchmark::Counter(v);
  };
  const double runs = runs_;
  set("workers", workers);
  set("items_per_second", seconds_ > 0 ? items_ / seconds_ : 0);
  set("checksum_ok", 1);
  // A double holds 53 bits exactly; the low 52 are enough to tell runs apart.
  set("checksum", static_cast<double>(checksum_ & ((std::uint64_t{1} << 52) - 1)));
  set("live_objects", live_ / runs);
  set("objects_allocated", objects_ / runs);
  set("bytes_per_object", objects_ > 0 ? bytes_ / objects_ : 0);
  for (const auto& [k, v] : stats_) set(k, v / runs);
  if (auto it = stats_.find("gil_wait_ns"); it != stats_.end() && seconds_ > 0)
    set("gil_wait_frac", it->second / (seconds_ * 1e9 * workers));
}

}  // namespace gilbench
