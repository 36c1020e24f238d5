#include "convoy_bench.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "process_bench.hpp"  // set_registered_counter
#include "runners/child.hpp"
#include "runners/processes.hpp"

namespace gilbench {

RunResult ConvoyResult::as_run() const {
  RunResult r;
  r.seconds = loaded.seconds;
  r.tally = warmup.tally;
  r.tally.merge(alone.tally);
  r.tally.merge(loaded.tally);
  r.allocs = allocs;
  r.stats = stats;
  return r;
}

bool report_convoy(benchmark::State& state, const ConvoyResult& r, const Tally& expected, int k) {
  const RunResult run = r.as_run();
  if (const std::string why = check_run(run, expected); !why.empty()) {
    fail_run(state, why);
    return false;
  }
  auto set = [&state](const std::string& name, double v) { set_registered_counter(state, name, v); };
  auto rate = [](const Convoy::Phase& p) { return p.seconds > 0 ? static_cast<double>(p.tally.items) / p.seconds : 0; };
  const double rps = rate(r.loaded);
  const double alone = rate(r.alone);
  set("workers", k);
  set("items_per_second", rps);
  set("io_rps", rps);
  set("io_rps_alone", alone);
  set("io_rps_ratio", alone > 0 ? rps / alone : 0);
  set("io_p50_us", static_cast<double>(r.latency.percentile(50)) / 1e3);
  set("io_p99_us", static_cast<double>(r.latency.percentile(99)) / 1e3);
  set("io_max_us", static_cast<double>(r.latency.max()) / 1e3);
  set("checksum_ok", 1);
  set("checksum", static_cast<double>(expected.checksum() & ((std::uint64_t{1} << 52) - 1)));
  set("live_objects", static_cast<double>(r.allocs.live()));
  for (const auto& [name, v] : r.stats.counters) set(name, v);
  return true;
}

namespace {

// K burner processes for one run. The destructor kills and reaps every one
// that was started, whatever happened, so no run leaves a process behind.
class Burners {
 public:
  Burners(int k, const std::string& exe, bool crash_last) {
    std::vector<std::string> args = {"--cpu-burner", std::to_string(getpid())};
    for (int i = 0; i < k; ++i) {
      if (crash_last && i == k - 1) args.push_back("crash");
      try {
        burners_.push_back(std::make_unique<Child>(exe, args));
      } catch (const std::exception& e) {
        throw std::runtime_error("cpu burner " + std::to_string(i) + ": " + e.what());
      }
    }
    for (std::size_t i = 0; i < burners_.size(); ++i) await_ready(i);
  }

  // Throws unless every burner is still running: one that died mid-run
  // took its share of the CPU load away, so the run does not count.
  void check_alive() {
    for (std::size_t i = 0; i < burners_.size(); ++i) {
      Child& b = *burners_[i];
      if (b.try_reap())
        throw std::runtime_error("cpu burner " + std::to_string(i) + " (pid " + std::to_string(b.pid()) +
                                 ") " + describe_status(b.status()) +
                                 " during the run: the CPU load was not there the whole time");
    }
  }

 private:
  // Waits (at most 30 s) for burner i's "running" byte.
  void await_ready(std::size_t i) {
    Child& b = *burners_[i];
    pollfd pfd{b.in_fd(), POLLIN, 0};
    int n;
    while ((n = ::poll(&pfd, 1, 30'000)) < 0 && errno == EINTR) {
    }
    char byte = 0;
    if (n == 1 && ::read(b.in_fd(), &byte, 1) == 1) return;
    std::string why = n == 0 ? "did not start within 30 s" : "exited before it was ready";
    if (n != 0) {
      for (int tries = 0; tries < 1000 && !b.try_reap(); ++tries) ::usleep(1000);
      if (b.reaped()) why += " (it " + describe_status(b.status()) + ")";
    }
    throw std::runtime_error("cpu burner " + std::to_string(i) + " (pid " + std::to_string(b.pid()) + ") " + why);
  }

  std::vector<std::unique_ptr<Child>> burners_;  // destroyed: killed and reaped
};

}  // namespace

ConvoyResult run_convoy_processes(int k, const Convoy::Params& params, const std::string& exe,
                                  bool crash_last_burner) {
  ConvoyResult result;
  AllocLedger ledger;
  {
    AllocLedger::Scope scope(ledger);
    NoRuntime runtime{RunConfig{}};
    NoRuntime::Worker worker(0);
    Context<Serial> ctx(runtime, worker, 0, 1);
    Convoy::State<Serial> state(params, 0);
    const int fd = state.peer.fd();
    std::tie(result.warmup, result.alone) = Convoy::io_alone(ctx, fd, params);
    {
      Burners burners(k, exe, crash_last_burner);
      result.loaded = Convoy::io_loaded(ctx, fd, params, &result.latency);
      burners.check_alive();
    }
  }
  result.allocs = ledger.total();
  return result;
}

void BM_ConvoyProcesses(benchmark::State& state, const Convoy::Params& params, int k, bool crash_last_burner) {
  const Tally expected = Convoy::expected_tally(params);
  for (auto _ : state) {
    ConvoyResult r;
    try {
      r = run_convoy_processes(k, params, self_executable(), crash_last_burner);
    } catch (const std::exception& e) {
      fail_run(state, "run failed: " + std::string(e.what()));
      break;
    }
    state.SetIterationTime(r.loaded.seconds);
    if (!report_convoy(state, r, expected, k)) break;
  }
}

void register_convoy_process(const Suite& suite, std::vector<RunSpec>& runs, const std::string& misbehave) {
  const bool crash = misbehave == "crash";
  if (!suite.wants_strategy(kProcessName) || !suite.wants_workload(Convoy::kName)) return;
  const auto params = suite.params.at(std::string(Convoy::kName)).get<Convoy::Params>();
  for (int k : suite.convoy_cpu_workers) {
    const RunSpec spec{std::string(Convoy::kName), std::string(kProcessName), "process", k, {}};
    register_run(spec, [=](benchmark::State& st) { BM_ConvoyProcesses(st, params, k, crash); }, runs);
  }
}

int cpu_burner_main(int argc, char** argv) {
  const bool crash = argc == 4 && std::strcmp(argv[3], "crash") == 0;
  if (argc != 3 && !crash) {
    std::fprintf(stderr, "usage: gilbench --cpu-burner PARENT_PID [crash] (internal)\n");
    return 2;
  }
  // Die with the parent; if it is already gone, do not start at all.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != std::atoi(argv[2])) return 3;
  const char ready = 'r';
  if (::write(STDOUT_FILENO, &ready, 1) != 1) return 4;
  if (crash) {
    ::usleep(1000);
    ::raise(SIGKILL);
  }
  static const std::atomic<bool> never{false};  // the parent kills us instead
  NoRuntime runtime{RunConfig{}};
  NoRuntime::Worker worker(0);
  Context<Serial> ctx(runtime, worker, 0, 1);
  (void)Convoy::cpu_loop(ctx, never);
  return 0;
}

}  // namespace gilbench
