// The parent side of the process runner: spawning, the per-run conversation,
// deadlines, and tearing the pool down on a fault (see processes.hpp).
#include "runners/processes.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <thread>

#include "runners/child.hpp"
#include "runners/process_protocol.hpp"
#include "runtime/cpu_time.hpp"

namespace gilbench {

using namespace std::chrono_literals;

const std::string& self_executable() {
  static const std::string path = [] {
    std::error_code ec;
    const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string("/proc/self/exe") : p.string();
  }();
  return path;
}
using Clock = std::chrono::steady_clock;

namespace {

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// "60s", "1.5s", "250ms": for messages.
std::string format_timeout(std::chrono::nanoseconds d) {
  char buf[32];
  const double s = std::chrono::duration<double>(d).count();
  if (s >= 1)
    std::snprintf(buf, sizeof buf, "%gs", s);
  else
    std::snprintf(buf, sizeof buf, "%gms", s * 1e3);
  return buf;
}

// A write to a worker that died must fail with EPIPE, not kill gilbench.
// Leaves a handler someone else installed alone.
void ignore_sigpipe() {
  struct sigaction old {};
  if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
}

int poll_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1'000'000));
}

}  // namespace

struct ProcessPool::Worker {
  Worker(int i, const std::string& exe, const std::vector<std::string>& args) : index(i), child(exe, args) {}

  int index = 0;
  Child child;
  wire::FrameReader reader;
  std::uint64_t bytes_in = 0;   // read from the child's stdout
  std::uint64_t bytes_out = 0;  // written to its stdin

  pid_t pid() const { return child.pid(); }
  int in_fd() const { return child.in_fd(); }
  int out_fd() const { return child.out_fd(); }
  bool try_reap() { return child.try_reap(); }
  void kill_and_reap() noexcept { child.kill_and_reap(); }
  int status() const { return child.status(); }

  // Reads what is there. true: end of file.
  bool drain() {
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(in_fd(), buf, sizeof buf);
      if (n > 0) {
        bytes_in += static_cast<std::uint64_t>(n);
        reader.feed(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) return true;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      throw std::system_error(errno, std::generic_category(), "read");
    }
  }
};

ProcessPool::ProcessPool(int workers, ProcessOptions options)
    : options_(std::move(options)), size_(workers), gate_(StartGate::create()) {
  if (workers < 1) throw ProcessError("a process pool needs at least one worker");
  ignore_sigpipe();
  startup_.assign(static_cast<std::size_t>(workers), 0.0);
  std::vector<Clock::time_point> spawned(static_cast<std::size_t>(workers));
  for (int i = 0; i < workers; ++i) {
    std::vector<std::string> args = {"--worker", "--index=" + std::to_string(i),
                                     "--parent=" + std::to_string(::getpid()), "--gate=" + gate_.name()};
    args.insert(args.end(), options_.worker_args.begin(), options_.worker_args.end());
    spawned[static_cast<std::size_t>(i)] = Clock::now();
    try {
      workers_.push_back(std::make_unique<Worker>(i, options_.executable, args));
    } catch (const std::exception& e) {
      kill_all();
      throw ProcessError("cannot start worker " + std::to_string(i) + " (" + options_.executable +
                         "): " + e.what());
    }
  }
  collect("start-up", "ready", options_.startup_timeout, [&](Worker& w, const nlohmann::json& m) {
    if (m.at("pid").get<pid_t>() != w.pid())
      throw ProcessError("says it is pid " + std::to_string(m.at("pid").get<pid_t>()));
    const Clock::time_point ready{Clock::duration(m.at("clock_ns").get<std::int64_t>())};
    startup_[static_cast<std::size_t>(w.index)] =
        std::max(0.0, seconds_between(spawned[static_cast<std::size_t>(w.index)], ready));
  });
  gate_.unlink();  // every worker has mapped it (each maps it before saying it is ready)
}

ProcessPool::~ProcessPool() {
  try {
    shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gilbench: process pool: %s\n", e.what());
  }
  kill_all();
}

std::vector<pid_t> ProcessPool::pids() const {
  std::vector<pid_t> p;
  for (const auto& w : workers_) p.push_back(w->pid());
  return p;
}

void ProcessPool::kill_all() noexcept {
  for (auto& w : workers_)
    if (!w->try_reap()) ::kill(w->pid(), SIGKILL);
  for (auto& w : workers_) w->kill_and_reap();
  workers_.clear();
}

void ProcessPool::fail(Worker& w, const std::string& what, bool kill_now) {
  std::string msg = "worker " + std::to_string(w.index) + " (pid " + std::to_string(w.pid()) + ") " + what;
  if (!kill_now) {
    // It is ending (closed a pipe, or reported an error): wait for its status.
    const auto deadline = Clock::now() + std::min<std::chrono::nanoseconds>(options_.timeout, 10s);
    while (!w.try_reap() && Clock::now() < deadline) std::this_thread::sleep_for(200us);
  }
  if (w.try_reap()) {
    msg += "; it " + describe_status(w.status());
  } else {
    w.kill_and_reap();
    msg += kill_now ? "; killed it (SIGKILL)" : "; it was still running: killed it (SIGKILL)";
  }
  kill_all();
  throw ProcessError(msg);
}

void ProcessPool::send(Worker& w, const std::string& frame, std::string_view phase) {
  const auto deadline = Clock::now() + options_.timeout;
  std::string_view rest = frame;
  while (!rest.empty()) {
    const ssize_t n = ::write(w.out_fd(), rest.data(), rest.size());
    if (n > 0) {
      rest.remove_prefix(static_cast<std::size_t>(n));
      w.bytes_out += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{w.out_fd(), POLLOUT, 0};
      if (::poll(&p, 1, poll_ms(deadline)) == 0 && Clock::now() >= deadline)
        fail(w, "did not read its input within " + format_timeout(options_.timeout) + " in the " +
                    std::string(phase) + " phase",
             true);
      continue;
    }
    if (n < 0 && errno == EPIPE) fail(w, "ended in the " + std::string(phase) + " phase", false);
    fail(w, "cannot be written to in the " + std::string(phase) + " phase: " + strerror(errno), true);
  }
}

// Waits for one frame with op `expect` from every worker, calling
// on_frame(worker, message) as each arrives (in arrival order). A worker that
// answers anything else, or nothing before the deadline, fails the pool.
// RETURNS: seconds spent parsing the frames and in on_frame.
template <class OnFrame>
double ProcessPool::collect(std::string_view phase, std::string_view expect, std::chrono::nanoseconds timeout,
                          OnFrame&& on_frame) {
  const std::string in_phase = " in the " + std::string(phase) + " phase";
  const auto deadline = Clock::now() + timeout;
  std::vector<Worker*> pending;
  for (auto& w : workers_) pending.push_back(w.get());
  std::vector<pollfd> fds;
  double handling = 0;
  while (!pending.empty()) {
    fds.clear();
    for (Worker* w : pending) fds.push_back({w->in_fd(), POLLIN, 0});
    const int ready = ::poll(fds.data(), fds.size(), poll_ms(deadline));
    if (ready < 0 && errno != EINTR) {
      kill_all();
      throw ProcessError(std::string("poll failed: ") + strerror(errno));
    }
    if (ready == 0 && Clock::now() >= deadline)
      fail(*pending.front(), "did not answer within " + format_timeout(timeout) + in_phase, true);
    std::vector<Worker*> still;
    for (std::size_t k = 0; k < pending.size(); ++k) {
      Worker& w = *pending[k];
      if (fds[k].revents == 0) {
        still.push_back(&w);
        continue;
      }
      bool eof = false;
      try {
        eof = w.drain();
      } catch (const std::exception& e) {
        fail(w, "cannot be read from" + in_phase + ": " + e.what(), true);
      }
      std::optional<std::string> payload;
      try {
        payload = w.reader.next();
      } catch (const wire::FrameError& e) {
        fail(w, "sent garbage" + in_phase + " (" + e.what() + ")", true);
      }
      if (!payload) {
        if (eof)
          fail(w, "ended" + in_phase + (w.reader.pending() ? " in the middle of a frame" : ""), false);
        still.push_back(&w);
        continue;
      }
      const auto parse_start = Clock::now();
      nlohmann::json message;
      std::string op;
      try {
        message = nlohmann::json::parse(*payload);
        op = message.at("op").get<std::string>();
      } catch (const nlohmann::json::exception& e) {
        fail(w, "sent garbage" + in_phase + " (a frame that is not a message: " + e.what() + ")", true);
      }
      if (op == "error")
        fail(w, "failed" + in_phase + ": " + message.value("message", std::string("(no message)")), false);
      if (op != expect)
        fail(w, "sent '" + op + "'" + in_phase + " (expected '" + std::string(expect) + "')", true);
      if (w.reader.pending())
        fail(w, "sent garbage" + in_phase + " (bytes after its '" + op + "' frame)", true);
      try {
        on_frame(w, message);
      } catch (const std::exception& e) {
        fail(w, "sent a malformed '" + op + "' message" + in_phase + ": " + e.what(), true);
      }
      handling += seconds_between(parse_start, Clock::now());
    }
    pending.swap(still);
  }
  return handling;
}

ProcessRun ProcessPool::run(std::string_view workload, const nlohmann::json& params) {
  if (workers_.empty()) throw ProcessError("the process pool is gone (torn down by an earlier fault)");
  const int n = size_;
  ProcessRun out;
  out.workers.resize(static_cast<std::size_t>(n));
  for (auto& w : workers_) {
    auto& r = out.workers[static_cast<std::size_t>(w->index)];
    r.index = w->index;
    r.pid = w->pid();
  }

  // Prepare, untimed: each worker builds its own state from the Params.
  for (auto& w : workers_) {
    const nlohmann::json prepare = {{"op", "prepare"},
                                    {"workload", workload},
                                    {"params", params},
                                    {"shard", {{"index", w->index}, {"count", n}}}};
    send(*w, wire::encode(prepare), "prepare");
  }
  collect("prepare", "prepared", options_.timeout, [&](Worker& w, const nlohmann::json& m) {
    out.workers[static_cast<std::size_t>(w.index)].state_bytes = m.at("state_bytes").get<std::int64_t>();
  });

  // Run: the request out, every worker armed at the start gate (untimed);
  // then, timed, the gate opens, the work, the result back, parsed and merged.
  std::uint64_t bytes_before = 0;
  for (auto& w : workers_) bytes_before += w->bytes_in + w->bytes_out;
  const std::string run_frame = wire::encode({{"op", "run"}});
  for (auto& w : workers_) send(*w, run_frame, "run");
  collect("run", "armed", options_.timeout, [](Worker&, const nlohmann::json&) {});
  bool first = true;
  const double parent_cpu = thread_cpu_seconds();
  const auto start = Clock::now();
  gate_.open_for(++runs_);
  out.merge_seconds = collect("run", "result", options_.timeout, [&](Worker& w, const nlohmann::json& m) {
    Tally t = m.at("tally").get<Tally>();
    if (first)
      out.tally = std::move(t);
    else
      out.tally.merge(t);
    first = false;
    auto& r = out.workers[static_cast<std::size_t>(w.index)];
    r.busy_seconds = m.at("busy_ns").get<double>() * 1e-9;
    r.cpu_seconds = m.at("cpu_ns").get<double>() * 1e-9;
    r.start_ns = m.at("start_ns").get<std::int64_t>();
  });
  out.seconds = seconds_between(start, Clock::now());
  out.cpu_seconds = thread_cpu_seconds() - parent_cpu;
  std::int64_t first_start = INT64_MAX, last_start = INT64_MIN;
  for (const WorkerReport& r : out.workers) {
    out.cpu_seconds += r.cpu_seconds;
    first_start = std::min(first_start, r.start_ns);
    last_start = std::max(last_start, r.start_ns);
  }
  out.skew_seconds = static_cast<double>(last_start - first_start) * 1e-9;
  for (auto& w : workers_) out.ipc_bytes += w->bytes_in + w->bytes_out;
  out.ipc_bytes -= bytes_before;

  // Release, untimed: states dropped, the ledger and memory read back.
  const std::string release_frame = wire::encode({{"op", "release"}});
  for (auto& w : workers_) send(*w, release_frame, "release");
  collect("release", "released", options_.timeout, [&](Worker& w, const nlohmann::json& m) {
    auto& r = out.workers[static_cast<std::size_t>(w.index)];
    r.allocs.allocated = m.at("allocated").get<std::int64_t>();
    r.allocs.freed = m.at("freed").get<std::int64_t>();
    r.allocs.bytes = m.at("bytes").get<std::int64_t>();
    r.rss_peak_kb = m.at("rss_kb").get<std::int64_t>();
  });
  return out;
}

void ProcessPool::shutdown() {
  if (workers_.empty()) return;
  const std::string exit_frame = wire::encode({{"op", "exit"}});
  for (auto& w : workers_) send(*w, exit_frame, "exit");
  const auto deadline = Clock::now() + options_.timeout;
  const std::string limit = format_timeout(options_.timeout);
  for (auto& w : workers_) {
    // A worker that exits closes its stdout: wait for that end of file, then
    // for the exit status (the two are a few microseconds apart).
    for (;;) {
      pollfd p{w->in_fd(), POLLIN, 0};
      const int ready = ::poll(&p, 1, poll_ms(deadline));
      if (ready == 0 && Clock::now() >= deadline)
        fail(*w, "did not exit within " + limit + " of the exit request", true);
      if (ready <= 0) continue;
      bool eof = false;
      try {
        eof = w->drain();
      } catch (const std::exception& e) {
        fail(*w, std::string("cannot be read from in the exit phase: ") + e.what(), true);
      }
      if (w->reader.pending()) fail(*w, "sent garbage in the exit phase", true);
      if (eof) break;
    }
    while (!w->try_reap()) {
      if (Clock::now() >= deadline) fail(*w, "closed its output but did not exit within " + limit, true);
      std::this_thread::sleep_for(50us);
    }
    if (!WIFEXITED(w->status()) || WEXITSTATUS(w->status()) != 0) {
      const std::string msg = "worker " + std::to_string(w->index) + " (pid " + std::to_string(w->pid()) +
                              ") " + describe_status(w->status()) + " at the end of the pool";
      kill_all();
      throw ProcessError(msg);
    }
  }
  workers_.clear();
}

RunResult process_run_result(const ProcessRun& run, const ProcessPool& pool) {
  RunResult r;
  r.seconds = run.seconds;
  r.tally = run.tally;
  double slowest = 0;
  double rss_peak = 0;
  double rss_total = 0;
  double state_bytes = 0;
  for (const WorkerReport& w : run.workers) {
    if (const std::int64_t live = w.allocs.live(); live != 0) {
      throw std::runtime_error("worker " + std::to_string(w.index) + " (pid " + std::to_string(w.pid) +
                               "): " + std::to_string(live > 0 ? live : -live) + " objects " +
                               (live > 0 ? "leaked" : "freed twice") + " after its run (allocated " +
                               std::to_string(w.allocs.allocated) + ", freed " +
                               std::to_string(w.allocs.freed) + ")");
    }
    r.allocs += w.allocs;
    slowest = std::max(slowest, w.busy_seconds);
    rss_peak = std::max(rss_peak, static_cast<double>(w.rss_peak_kb));
    rss_total += static_cast<double>(w.rss_peak_kb);
    state_bytes += static_cast<double>(w.state_bytes);
  }
  double startup = 0;
  for (double s : pool.startup_seconds()) startup += s;
  if (!pool.startup_seconds().empty()) startup /= static_cast<double>(pool.startup_seconds().size());
  r.cpu_seconds = run.cpu_seconds;
  r.stats.add(kStartSkewUs, run.skew_seconds * 1e6);
  r.stats.add(kStartupMs, startup * 1e3);
  r.stats.add(kIpcBytes, static_cast<double>(run.ipc_bytes));
  r.stats.add(kIpcFrac, run.seconds > 0 ? std::max(0.0, run.seconds - slowest) / run.seconds : 0);
  r.stats.add(kMergeFrac, run.seconds > 0 ? run.merge_seconds / run.seconds : 0);
  r.stats.add(kRssPeakKb, rss_peak);
  r.stats.add(kRssTotalKb, rss_total);
  r.stats.add(kStateCopyKb, state_bytes / 1024);
  return r;
}

}  // namespace gilbench
