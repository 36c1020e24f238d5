#include "options.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "hooks.hpp"

namespace gilbench {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos - start));
    if (pos == std::string::npos) return parts;
    start = pos + 1;
  }
}

long parse_int(const std::string& text, const std::string& flag, long lo, long hi) {
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0)
    throw UsageError(flag + ": '" + text + "' is not an integer");
  if (v < lo || v > hi)
    throw UsageError(flag + ": " + text + " is out of range [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]");
  return v;
}

std::vector<std::string> parse_names(const std::string& text, const std::string& flag,
                                     const std::vector<std::string>& known) {
  std::vector<std::string> names = split(text, ',');
  for (const auto& n : names) {
    if (std::find(known.begin(), known.end(), n) == known.end()) {
      std::string all;
      for (const auto& k : known) all += (all.empty() ? "" : ", ") + k;
      throw UsageError(flag + ": unknown name '" + n + "' (known: " + all + ")");
    }
  }
  return names;
}

// Google Benchmark's flags that gilbench refuses, and why.
constexpr std::pair<std::string_view, std::string_view> kRefusedBenchmarkFlags[] = {
    {"--benchmark_min_time",
     "every gilbench repetition is one run of fixed work (Iterations(1)), so a minimum time does not apply; "
     "use --repetitions for more samples"},
    {"--benchmark_min_warmup_time", "gilbench builds each run's state before its timed region; there is no warm-up loop"},
    {"--benchmark_report_aggregates_only",
     "the result file must hold every repetition (plot.py computes its statistics from them)"},
    {"--benchmark_perf_counters",
     "gilbench times each run with its own clock; for instruction counts use plot.py instructions (callgrind)"},
    {"--benchmark_counters_tabular",
     "gilbench's console prints one line per benchmark; every counter is in --out or --benchmark_format=json|csv"},
};

// A list flag that takes one value: refuse "a,b".
std::string one_name(const std::string& text, const std::string& flag, const std::vector<std::string>& known) {
  const std::vector<std::string> names = parse_names(text, flag, known);
  if (names.size() != 1) throw UsageError(flag + ": takes one name, not a list ('" + text + "')");
  return names.front();
}

}  // namespace

std::chrono::nanoseconds parse_duration(const std::string& text, const std::string& flag,
                                        std::chrono::nanoseconds lo, std::chrono::nanoseconds hi) {
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
  for (const auto& [unit, scale] : kUnits) {
    if (text.size() > unit.size() && std::string_view(text).ends_with(unit)) {
      const std::string number = text.substr(0, text.size() - unit.size());
      if (unit == "s" && (number.ends_with('n') || number.ends_with('u') || number.ends_with('m')))
        continue;
      errno = 0;
      char* end = nullptr;
      const double v = std::strtod(number.c_str(), &end);
      if (*end != '\0' || errno != 0 || !std::isfinite(v) || number.empty())
        throw UsageError(flag + ": '" + text + "' is not a duration (e.g. 5ms, 100us)");
      const double ns = v * scale;
      if (ns < static_cast<double>(lo.count()) || ns > static_cast<double>(hi.count()))
        throw UsageError(flag + ": " + text + " is out of range [" + format_duration(lo) + ", " +
                         format_duration(hi) + "]");
      return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
    }
  }
  throw UsageError(flag + ": '" + text + "' needs a unit: ns, us, ms or s (e.g. 5ms)");
}

std::string format_duration(std::chrono::nanoseconds d) {
  const auto ns = d.count();
  if (ns % 1'000'000'000 == 0) return std::to_string(ns / 1'000'000'000) + "s";
  if (ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + "ms";
  if (ns % 1'000 == 0) return std::to_string(ns / 1'000) + "us";
  return std::to_string(ns) + "ns";
}

Options parse_options(int argc, char** argv, const std::vector<std::string>& known_strategies,
                      const std::vector<std::string>& known_workloads) {
  Options o;
  std::string out_flag;            // the first of --out / --benchmark_out that was given
  std::string benchmark_reps;      // --benchmark_repetitions, if given
  auto set_out = [&](const std::string& flag, const std::string& value) {
    if (value.empty()) throw UsageError(flag + ": empty file name");
    if (!out_flag.empty() && value != o.out)
      throw UsageError(flag + "=" + value + " disagrees with " + out_flag + "=" + o.out +
                       " (give one, or the same file to both)");
    out_flag = flag;
    o.out = value;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--benchmark_out=", 0) == 0) {
      set_out("--benchmark_out", arg.substr(16));
      continue;
    }
    if (arg.rfind("--benchmark_out_format=", 0) == 0) {
      o.out_format = arg.substr(23);
      if (o.out_format != "json" && o.out_format != "csv" && o.out_format != "console")
        throw UsageError("--benchmark_out_format: '" + o.out_format + "' is not json, csv or console");
      continue;
    }
    // gilbench applies the filter itself, to its clean names: Google
    // Benchmark's would see "<name>/iterations:1/manual_time".
    if (arg.rfind("--benchmark_filter=", 0) == 0) {
      o.filter = arg.substr(19);
      continue;
    }
    if (arg == "--benchmark_list_tests" || arg.rfind("--benchmark_list_tests=", 0) == 0) {
      const std::string v = arg.size() > 22 ? arg.substr(23) : "true";
      if (v == "true" || v == "1" || v == "yes") {
        o.list = true;
      } else if (v != "false" && v != "0" && v != "no") {
        throw UsageError("--benchmark_list_tests: '" + v + "' is not true or false");
      }
      continue;
    }
    if (arg.rfind("--benchmark_format=", 0) == 0) {
      o.display_format = arg.substr(19);
      if (o.display_format != "json" && o.display_format != "csv" && o.display_format != "console")
        throw UsageError("--benchmark_format: '" + o.display_format + "' is not console, json or csv");
      continue;
    }
    if (arg.rfind("--benchmark_time_unit=", 0) == 0) {
      o.time_unit = arg.substr(22);
      if (o.time_unit != "ns" && o.time_unit != "us" && o.time_unit != "ms" && o.time_unit != "s")
        throw UsageError("--benchmark_time_unit: '" + o.time_unit + "' is not ns, us, ms or s");
      continue;
    }
    // Google Benchmark flags that cannot mean what they say here: refused,
    // with the reason, rather than silently ignored.
    for (const auto& [flag, why] : kRefusedBenchmarkFlags)
      if (arg == flag || arg.rfind(std::string(flag) + "=", 0) == 0) throw UsageError(std::string(flag) + ": " + std::string(why));
    if (arg.rfind("--benchmark_repetitions=", 0) == 0) {
      benchmark_reps = arg.substr(24);
      parse_int(benchmark_reps, "--benchmark_repetitions", 1, 1000);
      o.benchmark_args.push_back(arg);
      continue;
    }
    if (arg.rfind("--benchmark_", 0) == 0) {
      o.benchmark_args.push_back(arg);
      continue;
    }
    if (arg == "--worker") {  // internal: a process-runner worker (src/runners)
      o.worker_mode = true;
      o.worker_args.assign(argv + i + 1, argv + argc);
      return o;
    }
    std::string name = arg;
    std::string value;
    bool has_value = false;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    auto need_value = [&]() -> std::string {
      if (has_value) return value;
      if (i + 1 >= argc) throw UsageError(name + ": missing value");
      return argv[++i];
    };
    auto no_value = [&] {
      if (has_value) throw UsageError(name + ": takes no value");
    };
    if (name == "--help" || name == "-h") {
      no_value();
      o.help = true;
    } else if (name == "--list") {
      no_value();
      o.list = true;
    } else if (name == "--params") {
      no_value();
      o.params = true;
    } else if (name == "--fingerprint") {
      no_value();
      o.fingerprint = true;
    } else if (name == "--no-fingerprint") {
      no_value();
      o.no_fingerprint = true;
    } else if (name == "--list-counters") {
      no_value();
      o.list_counters = true;
    } else if (name == "--format") {
      o.format = need_value();
      o.format_given = true;
      if (o.format != "json" && o.format != "markdown")
        throw UsageError("--format: '" + o.format + "' is not json or markdown");
    } else if (name == "--quick") {
      no_value();
      o.quick = true;
    } else if (name == "--workers") {
      o.workers.clear();
      for (const auto& w : split(need_value(), ','))
        o.workers.push_back(static_cast<int>(parse_int(w, name, 1, 256)));
      std::sort(o.workers.begin(), o.workers.end());
      o.workers.erase(std::unique(o.workers.begin(), o.workers.end()), o.workers.end());
    } else if (name == "--switch-interval") {
      // Equal durations written differently (5ms, 5000us) are one value:
      // each would otherwise register the same benchmark name again.
      o.switch_intervals.clear();
      for (const auto& d : split(need_value(), ',')) {
        const auto v = parse_duration(d, name);
        if (std::find(o.switch_intervals.begin(), o.switch_intervals.end(), v) == o.switch_intervals.end())
          o.switch_intervals.push_back(v);
      }
    } else if (name == "--bytecode-cost") {
      o.bytecode_costs.clear();
      for (const auto& c : split(need_value(), ',')) {
        Options::BytecodeCost cost;
        const bool ns = c.size() > 2 && c.compare(c.size() - 2, 2, "ns") == 0;
        const bool us = c.size() > 2 && c.compare(c.size() - 2, 2, "us") == 0;
        if (ns || us) {
          const std::string number = c.substr(0, c.size() - 2);
          errno = 0;
          char* end = nullptr;
          cost.value = std::strtod(number.c_str(), &end) * (us ? 1000 : 1);
          cost.ns = true;
          if (number.empty() || *end != '\0' || errno != 0 || !(cost.value >= 0) || cost.value > 1e6)
            throw UsageError(name + ": '" + c + "' is not a time in [0ns, 1ms] (e.g. 40ns)");
        } else {
          errno = 0;
          char* end = nullptr;
          const long steps = std::strtol(c.c_str(), &end, 10);
          if (c.empty() || *end != '\0' || errno != 0)
            throw UsageError(name + ": '" + c + "' is not a step count or a time in ns or us (e.g. 32 or 40ns)");
          if (steps < 0 || steps > 1'000'000)
            throw UsageError(name + ": " + c + " steps is out of range [0, 1000000]");
          cost.value = static_cast<double>(steps);
        }
        if (std::find(o.bytecode_costs.begin(), o.bytecode_costs.end(), cost) == o.bytecode_costs.end())
          o.bytecode_costs.push_back(cost);
      }
    } else if (name == "--convoy-peer") {
      o.convoy_peer = need_value();
      if (o.convoy_peer != "thread" && o.convoy_peer != "tcp")
        throw UsageError(name + ": '" + o.convoy_peer + "' is not thread or tcp");
    } else if (name == "--check-interval") {
      o.check_interval = static_cast<int>(parse_int(need_value(), name, 1, 1'000'000));
    } else if (name == "--repetitions") {
      const std::string v = need_value();
      o.repetitions = v == "auto" ? 0 : static_cast<int>(parse_int(v, name, 1, 1000));
    } else if (name == "--target-ci") {
      const std::string v = need_value();
      errno = 0;
      char* end = nullptr;
      o.target_ci = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || errno != 0 || !(o.target_ci > 0) || o.target_ci >= 1)
        throw UsageError(name + ": '" + v + "' is not a fraction in (0, 1), e.g. 0.03");
    } else if (name == "--time-budget") {
      o.time_budget = parse_duration(need_value(), name, std::chrono::seconds(1), std::chrono::hours(24));
    } else if (name == "--out") {
      set_out("--out", need_value());
    } else if (name == "--strategies") {
      o.strategies = parse_names(need_value(), name, known_strategies);
    } else if (name == "--workloads") {
      o.workloads = parse_names(need_value(), name, known_workloads);
    } else if (name == "--inject-slowdown") {
      const std::string v = need_value();
      const auto colon = v.find(':');
      if (colon == std::string::npos)
        throw UsageError(name + ": '" + v + "' is not WORKLOAD[/STRATEGY]:FRACTION (e.g. countdown:0.05)");
      const std::string target = v.substr(0, colon);
      const auto slash = target.find('/');
      o.inject_workload = one_name(target.substr(0, slash), name, known_workloads);
      if (slash != std::string::npos) o.inject_strategy = one_name(target.substr(slash + 1), name, known_strategies);
      errno = 0;
      char* end = nullptr;
      const std::string f = v.substr(colon + 1);
      o.inject_fraction = std::strtod(f.c_str(), &end);
      if (f.empty() || *end != '\0' || errno != 0 || !(o.inject_fraction > 0) || o.inject_fraction > 1)
        throw UsageError(name + ": fraction '" + f + "' is not in (0, 1]");
    } else if (name == "--allocator") {
      o.allocator = need_value();
      if (o.allocator != "mimalloc" && o.allocator != "glibc")
        throw UsageError(name + ": '" + o.allocator + "' is not mimalloc or glibc");
    } else if (name == "--run-timeout") {
      o.run_timeout = parse_duration(need_value(), name, std::chrono::milliseconds(1), std::chrono::hours(24));
    } else if (name == "--test-hang") {
      o.test_hang = one_name(need_value(), name, known_workloads);
    } else if (name == "--worker-timeout") {
      o.worker_timeout = parse_duration(need_value(), name, std::chrono::milliseconds(1),
                                        std::chrono::hours(1));
    } else if (name == "--test-worker-misbehave") {
      const std::string v = need_value();
      if (std::find(std::begin(kMisbehaviours), std::end(kMisbehaviours), v) == std::end(kMisbehaviours)) {
        std::string all;
        for (auto m : kMisbehaviours) all += (all.empty() ? "" : ", ") + std::string(m);
        throw UsageError(name + ": unknown mode '" + v + "' (known: " + all + ")");
      }
      o.worker_misbehave = v;
    } else if (name == "--test-corrupt-checksum") {
      o.corrupt_checksum = one_name(need_value(), name, known_workloads);
    } else {
      throw UsageError("unknown flag '" + arg + "' (see --help)");
    }
  }
  // Google Benchmark's repetition flag decides what runs; record that.
  if (!benchmark_reps.empty()) {
    const int reps = static_cast<int>(parse_int(benchmark_reps, "--benchmark_repetitions", 1, 1000));
    if (o.repetitions > 0 && o.repetitions != reps)
      throw UsageError("--repetitions=" + std::to_string(o.repetitions) + " disagrees with --benchmark_repetitions=" +
                       benchmark_reps + " (give one)");
    o.repetitions = reps;
  }
  return o;
}

std::string usage_text() {
  return R"(usage: gilbench [flags] [--benchmark_* flags]

Runs every workload under every strategy and worker count, checks each run's
checksum against the serial one, and reports Google Benchmark results named
<workload>/<strategy>/workers:<n>.

  --quick                  small sizes, workers 1,2: the CI run (< 1 minute)
  --workers=LIST           worker counts, e.g. 1,2,4,8 (default; --quick: 1,2)
  --switch-interval=LIST   GIL switch interval(s), e.g. 5ms or 5ms,1ms,100us
                           (default 5ms, CPython's); with several, the GIL runs
                           are named .../interval:<d>
  --check-interval=N       gil_legacy: checkpoints between releases (default 100)
  --bytecode-cost=LIST     interpretive work at every checkpoint (a bytecode
                           boundary): N steps of a dependent integer chain
                           (about 4 instructions each), or a time such as 40ns
                           (converted to steps with this machine's ns per
                           step, measured at start); default 0, the C++ work
                           alone. With a value other than 0 the runs of
                           CPU and IO workloads are named .../bytecode:<steps>
  --convoy-peer=thread|tcp convoy's echo peer: a thread over an AF_UNIX
                           socketpair (default), or a separate process
                           (gilbench --echo-peer) over TCP loopback, as the
                           published convoy measurements used; the twin uses
                           the same process with the same flag
  --repetitions=N|auto     runs per benchmark. auto (default): 5 each, then
                           more (at most 41) for the benchmarks whose median is
                           not yet known to --target-ci, round after round,
                           until all are or --time-budget is spent. N: exactly
                           N (odd keeps the median exact; CI uses 11)
  --target-ci=F            auto: the median's 95% confidence interval must be
                           within F of it on each side (default 0.03)
  --time-budget=D          auto: start no new round after D (default 10min,
                           --quick 2min)
  --strategies=LIST        only these strategies
  --workloads=LIST         only these workloads
  --out=FILE               write the results to FILE (same as --benchmark_out;
                           format: --benchmark_out_format=json|csv|console).
                           Checked before the first benchmark; written once,
                           at the end, through an exclusive temp file renamed
                           over it (a link is followed; a device, a FIFO or
                           /dev/stdout is written in place); left alone when
                           nothing ran
  --allocator=NAME         the object heap of every runner: mimalloc (default:
                           per-thread heaps, as free-threaded CPython) or glibc
                           (whose malloc skips its locks in a process with one
                           thread, which favours `process` workers)
  --run-timeout=D          the longest one repetition may take (default 5min):
                           a run whose threads deadlock cannot be stopped, so
                           gilbench then writes what it measured (that run
                           marked failed; the runs not yet made are absent)
                           and exits 1, instead of hanging
  --worker-timeout=D       process runner: how long to wait for any answer
                           from a worker before it counts as hung (default
                           60s); the benchmark then fails, the others run
  --list                   print the benchmark names and exit
  --params                 print every workload's parameters at every scale
                           (default, quick, tiny) as JSON and exit
  --fingerprint [--format=json]
                           measure the machine (CPU, caches, the unit costs the
                           workloads are made of, its speed spread right now;
                           every run does this first, < 3 s) and print it
  --no-fingerprint         skip that measurement: the result has no
                           gilbench_fingerprint and its rows no model_* counters
                           (for instruction counting under callgrind, where the
                           fingerprint's child processes cost minutes)
  --list-counters [--format=json|markdown]
                           print every counter a row can report (unit, better
                           direction, meaning) and exit
  --help                   this text

Testing the suite itself:
  --inject-slowdown=WORKLOAD[/STRATEGY]:FRACTION
                           every run of WORKLOAD (under STRATEGY only, if
                           given) also redoes FRACTION of its
                           work (rounded to 1/k) on a separate copy of its data,
                           result discarded: a known slowdown for testing the
                           regression gate (plot.py compare)
  --test-corrupt-checksum=WORKLOAD
                           add 1 to every run's sum for WORKLOAD, to prove a
                           wrong result fails loudly (exit 1, error in the JSON)
  --test-hang=WORKLOAD     every threads run of WORKLOAD at 2 or more workers
                           blocks forever (a worker never returns), to prove
                           that --run-timeout ends the suite
  --test-worker-misbehave=MODE
                           the last worker of every process-runner pool acts
                           out MODE in the run phase: crash (SIGKILL), exit
                           (status 3), garbage (bytes that are not a frame),
                           hang (until --worker-timeout), leak (one object
                           never freed); with crash, the last CPU burner of
                           every convoy/process run dies just after it is
                           ready; each must fail its benchmark clearly

Google Benchmark's own flags pass through. --benchmark_filter=REGEX selects by
the names above (POSIX extended; a leading '-' excludes), and --list honours it.
gilbench sets --benchmark_enable_random_interleaving=true unless you set it
(repetitions of different benchmarks are interleaved, so a drift in machine
speed spreads over all of them instead of biasing one).
A benchmark whose run fails is marked failed in the JSON (error_message) and
its later repetitions are not run; every other benchmark runs and is written.
Exit status: 0 all runs passed; 1 a run failed (checksum, leak, worker
error: see its error_message) or the result file could not be written (the
previous one is left intact); 2 bad command line or --out target.
)";
}

}  // namespace gilbench
