#include "convoy_bench.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "process_bench.hpp"  // set_registered_counter
#include "runners/processes.hpp"

extern char** environ;

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
    state.SkipWithError(why.c_str());
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

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// K burner processes for one run. The destructor kills and reaps every one
// that was started, whatever happened, so no run leaves a process behind.
class Burners {
 public:
  Burners(int k, const std::string& exe) {
    try {
      const std::string parent = std::to_string(getpid());
      for (int i = 0; i < k; ++i) spawn(exe, parent);
      for (std::size_t i = 0; i < pids_.size(); ++i) await_ready(i);
    } catch (...) {
      stop();
      throw;
    }
  }
  ~Burners() { stop(); }
  Burners(const Burners&) = delete;
  Burners& operator=(const Burners&) = delete;

 private:
  void stop() noexcept {
    for (pid_t pid : pids_)
      if (pid > 0) ::kill(pid, SIGKILL);
    for (pid_t pid : pids_) {
      if (pid <= 0) continue;
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    for (int fd : fds_) ::close(fd);
    pids_.clear();
    fds_.clear();
  }

  void spawn(const std::string& exe, const std::string& parent) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe2");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, p[1], STDOUT_FILENO);  // dup2 clears CLOEXEC
    std::string arg0 = exe, flag = "--cpu-burner", arg2 = parent;
    char* argv[] = {arg0.data(), flag.data(), arg2.data(), nullptr};
    pid_t pid = -1;
    const int err = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(p[1]);
    if (err != 0) {
      ::close(p[0]);
      throw std::system_error(err, std::generic_category(), "posix_spawn " + exe);
    }
    pids_.push_back(pid);
    fds_.push_back(p[0]);
  }

  // Waits (at most 30 s) for burner i's "running" byte.
  void await_ready(std::size_t i) {
    pollfd pfd{fds_[i], POLLIN, 0};
    int n;
    while ((n = ::poll(&pfd, 1, 30'000)) < 0 && errno == EINTR) {
    }
    char byte = 0;
    if (n == 1 && ::read(fds_[i], &byte, 1) == 1) return;
    int status = 0;
    std::string why = n == 0 ? "did not start within 30 s" : "exited before it was ready";
    if (n != 0 && ::waitpid(pids_[i], &status, 0) == pids_[i]) {
      pids_[i] = -pids_[i];  // reaped: do not wait for it again
      why += WIFEXITED(status) ? " (exit status " + std::to_string(WEXITSTATUS(status)) + ")"
                               : " (signal " + std::to_string(WTERMSIG(status)) + ")";
    }
    throw std::runtime_error("cpu burner " + std::to_string(i) + " (pid " +
                             std::to_string(pids_[i] < 0 ? -pids_[i] : pids_[i]) + ") " + why);
  }

  std::vector<pid_t> pids_;  // negative: already reaped
  std::vector<int> fds_;     // read ends of the burners' stdout
};

}  // namespace

ConvoyResult run_convoy_processes(int k, const Convoy::Params& params, const std::string& exe) {
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
      Burners burners(k, exe);
      result.loaded = Convoy::io_loaded(ctx, fd, params, &result.latency);
    }
  }
  result.allocs = ledger.total();
  return result;
}

void BM_ConvoyProcesses(benchmark::State& state, const std::string& name, const Convoy::Params& params,
                        int k) {
  const Tally expected = Convoy::expected_tally(params);
  for (auto _ : state) {
    ConvoyResult r;
    try {
      r = run_convoy_processes(k, params, self_executable());
    } catch (const std::exception& e) {
      state.SkipWithError(("run failed: " + std::string(e.what())).c_str());
      break;
    }
    state.SetIterationTime(r.loaded.seconds);
    if (!report_convoy(state, r, expected, k)) break;
  }
  progress().tick(name);
}

void register_convoy_process(const Suite& suite, std::vector<std::string>& names) {
  if (!suite.wants_strategy(kProcessName) || !suite.wants_workload(Convoy::kName)) return;
  const auto params = suite.params.at(std::string(Convoy::kName)).get<Convoy::Params>();
  for (int k : suite.convoy_cpu_workers) {
    const std::string name = std::string(Convoy::kName) + "/" + std::string(kProcessName) + "/workers:" + std::to_string(k);
    register_run(name, [=](benchmark::State& st) { BM_ConvoyProcesses(st, name, params, k); }, names);
  }
}

int cpu_burner_main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: gilbench --cpu-burner PARENT_PID (internal)\n");
    return 2;
  }
  // Die with the parent; if it is already gone, do not start at all.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != std::atoi(argv[2])) return 3;
  const char ready = 'r';
  if (::write(STDOUT_FILENO, &ready, 1) != 1) return 4;
  static const std::atomic<bool> never{false};  // the parent kills us instead
  NoRuntime runtime{RunConfig{}};
  NoRuntime::Worker worker(0);
  Context<Serial> ctx(runtime, worker, 0, 1);
  (void)Convoy::cpu_loop(ctx, never);
  return 0;
}

}  // namespace gilbench
