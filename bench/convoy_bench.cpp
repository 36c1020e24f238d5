#include "convoy_bench.hpp"

#include <algorithm>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>

#include "runners/child.hpp"
#include "runners/processes.hpp"
#include "runtime/sys_error.hpp"

namespace gilbench {

Outcome ConvoyResult::outcome(int workers) const {
  Outcome o;
  o.seconds = loaded.seconds;
  o.tally = warmup.tally;
  o.tally->merge(alone.tally);
  o.tally->merge(loaded.tally);
  o.items = static_cast<double>(loaded.tally.items);
  o.workers = workers;
  o.cpu_seconds = cpu_seconds;
  o.allocs = allocs;
  auto rate = [](const Convoy::Phase& p) { return p.seconds > 0 ? static_cast<double>(p.tally.items) / p.seconds : 0; };
  const double rps = rate(loaded);
  const double rps_alone = rate(alone);
  o.stats.add(kIoRps, rps);
  o.stats.add(kIoRpsAlone, rps_alone);
  o.stats.add(kIoRpsRatio, rps_alone > 0 ? rps / rps_alone : 0);
  o.stats.add(kIoP50Us, static_cast<double>(latency.percentile(50)) / 1e3);
  o.stats.add(kIoP99Us, static_cast<double>(latency.percentile(99)) / 1e3);
  o.stats.add(kIoMaxUs, static_cast<double>(latency.max()) / 1e3);
  // The mechanism: what a round trip lost, in switch intervals, and how many
  // of its blocking calls found the lock taken when they came back.
  o.stats.add(kIoRetakesPerCall, retakes.calls ? static_cast<double>(retakes.contended) / static_cast<double>(retakes.calls) : 0);
  o.stats.add(kIoRetakeWaitUs, retakes.calls ? static_cast<double>(retakes.wait_ns) / static_cast<double>(retakes.calls) / 1e3 : 0);
  if (interval_s > 0) {
    o.stats.add(kIoP50Intervals, static_cast<double>(latency.percentile(50)) / 1e9 / interval_s);
    const double lost = rps > 0 && rps_alone > 0 ? std::max(0.0, 1 / rps - 1 / rps_alone) : 0;
    o.stats.add(kIoLostPerCall, lost / 2 / interval_s);  // two blocking calls per round trip
  }
  o.stats.append(stats);
  return o;
}

namespace {

// Reads child c's stdout until it holds `until` (or, for '\0', any byte),
// waiting at most 30 s in all. RETURNS what it read. Throws, naming `who`
// and its pid, with `silent` if the child said nothing in time, or with
// `exited` and its exit status if it closed its stdout first.
std::string await_output(Child& c, char until, const std::string& who, const char* silent, const char* exited) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (until == '\0' ? got.empty() : got.find(until) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{c.in_fd(), POLLIN, 0};
    const int n = left.count() > 0 ? ::poll(&pfd, 1, static_cast<int>(left.count())) : 0;
    if (n < 0 && errno == EINTR) continue;
    char buf[32];
    const ssize_t r = n > 0 ? ::read(c.in_fd(), buf, until == '\0' ? 1 : sizeof buf) : 0;
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (r > 0) {
      got.append(buf, static_cast<std::size_t>(r));
      continue;
    }
    std::string why = n == 0 ? silent : exited;
    if (n != 0) {
      for (int tries = 0; tries < 1000 && !c.try_reap(); ++tries) ::usleep(1000);
      if (c.reaped()) why += " (it " + describe_status(c.status()) + ")";
    }
    throw std::runtime_error(who + " (pid " + std::to_string(c.pid()) + ") " + why);
  }
  return got;
}

// K burner processes for one run. The destructor kills and reaps every one
// that was started, whatever happened, so no run leaves a process behind.
class Burners {
 public:
  Burners(int k, const std::string& exe, bool crash_last) {
    std::vector<std::string> args = {"--cpu-burner", std::to_string(getpid()),
                                     allocator() == Allocator::kGlibc ? "--allocator=glibc" : "--allocator=mimalloc"};
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

  // Kills and reaps every burner. RETURNS their CPU time, summed.
  double stop() {
    double cpu = 0;
    for (auto& b : burners_) {
      b->kill_and_reap();
      cpu += b->cpu_seconds();
    }
    return cpu;
  }

  // Stops every burner (SIGSTOP) and waits until each one is stopped, so
  // that an alone window runs with none of them. Throws if one died.
  void pause() {
    for (auto& b : burners_) ::kill(b->pid(), SIGSTOP);
    for (std::size_t i = 0; i < burners_.size(); ++i) await_state(i, 'T', "stop");
  }
  // Continues every burner (SIGCONT) and waits until each one runs again.
  void resume() {
    for (auto& b : burners_) ::kill(b->pid(), SIGCONT);
    for (std::size_t i = 0; i < burners_.size(); ++i) await_state(i, 'R', "run");
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
    (void)await_output(*burners_[i], '\0', "cpu burner " + std::to_string(i), "did not start within 30 s",
                       "exited before it was ready");
  }

  // Waits (at most 5 s) until burner i's state in /proc/PID/stat is `want`
  // ('T' stopped, 'R' running); throws if it died or never got there.
  void await_state(std::size_t i, char want, const char* what) {
    Child& b = *burners_[i];
    const std::string path = "/proc/" + std::to_string(b.pid()) + "/stat";
    char state = '?';
    for (int tries = 0; tries < 100'000; ++tries) {
      state = proc_state(path);
      if (state == want || (want == 'R' && state != 'T' && state != 't' && state != 'Z' && state != 'X'))
        return;
      if (state == 'Z' || state == 'X' || state == '?') break;
      ::usleep(50);
    }
    check_alive();
    throw std::runtime_error("cpu burner " + std::to_string(i) + " (pid " + std::to_string(b.pid()) +
                             ") did not " + what + " (state " + std::string(1, state) + ")");
  }
  // The state letter of /proc/PID/stat ('?' when it cannot be read): the
  // first character after the command's closing parenthesis and a space.
  static char proc_state(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return '?';
    char buf[512];
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = 0;
    const char* close = std::strrchr(buf, ')');
    return close && close[1] == ' ' && close[2] ? close[2] : '?';
  }

  std::vector<std::unique_ptr<Child>> burners_;  // destroyed: killed and reaped
};

}  // namespace

ConvoyPeer::ConvoyPeer(const Convoy::Params& p, const std::string& exe) {
  Convoy::check(p);
  if (p.peer == "thread") {
    fd_ = thread_.emplace(std::chrono::microseconds(p.peer_delay_us)).fd();
    return;
  }
  process_ = std::make_unique<Child>(exe.empty() ? self_executable() : exe,
                                     std::vector<std::string>{"--echo-peer", std::to_string(::getpid()),
                                                              std::to_string(p.peer_delay_us)});
  // Its port, one line on its stdout, within 30 s.
  const std::string line = await_output(*process_, '\n', "convoy echo peer gilbench --echo-peer",
                                        "did not say its port within 30 s", "exited before it said its port");
  const int port = std::atoi(line.c_str());
  if (port <= 0 || port > 65535) throw std::runtime_error("convoy echo peer: bad port line '" + line + "'");
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int one = 1;
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    const int e = errno;
    ::close(fd_);
    throw_errno("convoy echo peer: connect to 127.0.0.1:" + std::to_string(port), e);
  }
}

ConvoyPeer::~ConvoyPeer() {
  if (!process_) return;  // ~EchoPeer closes the socketpair
  ::shutdown(fd_, SHUT_RDWR);  // the peer reads EOF and exits
  for (int tries = 0; tries < 1000 && !process_->try_reap(); ++tries) ::usleep(100);
  ::close(fd_);
  // ~Child kills and reaps it if it has not exited within 0.1 s
}

ConvoyResult run_convoy_processes(int k, const Convoy::Params& params, const std::string& exe,
                                  bool crash_last_burner) {
  ConvoyResult result;
  AllocLedger ledger;
  {
    AllocLedger::Scope scope(ledger);
    NoRuntime runtime{RunConfig{}};
    NoRuntime::Worker worker(0);
    Context<Serial> ctx(runtime, worker, 0);
    const ConvoyPeer peer(params, exe);
    std::optional<Burners> burners;  // started for the first loaded window
    std::tie(result.warmup, result.alone, result.loaded) = Convoy::io_schedule(
        ctx, peer.fd(), params, &result.latency, &result.retakes, [&] { burners->pause(); },
        [&] {
          if (burners)
            burners->resume();
          else
            burners.emplace(k, exe, crash_last_burner);
        });
    burners->check_alive();
    // The burners' whole lives (start-up included) against the loaded windows.
    result.cpu_seconds = result.loaded.cpu_seconds + burners->stop();
  }
  result.allocs = ledger.total();
  return result;
}

int echo_peer_main(int argc, char** argv) {
  // gilbench --echo-peer PARENT_PID DELAY_US
  char* end = nullptr;
  const long delay = argc == 4 ? std::strtol(argv[3], &end, 10) : -1;
  if (argc != 4 || !end || *end != '\0' || delay < 0 || delay > 1'000'000) {
    std::fprintf(stderr, "usage: gilbench --echo-peer PARENT_PID DELAY_US (internal)\n");
    return 2;
  }
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != std::atoi(argv[2])) return 3;
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener < 0 || ::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 1) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("gilbench --echo-peer: listen on 127.0.0.1");
    return 4;
  }
  std::printf("%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  pollfd pfd{listener, POLLIN, 0};
  int n;
  while ((n = ::poll(&pfd, 1, 30'000)) < 0 && errno == EINTR) {
  }
  const int fd = n == 1 ? ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC) : -1;
  ::close(listener);
  if (fd < 0) {
    std::fprintf(stderr, "gilbench --echo-peer: no connection within 30 s\n");
    return 5;
  }
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  echo_loop(fd, delay);
  ::close(fd);
  return 0;
}

int cpu_burner_main(int argc, char** argv) {
  // gilbench --cpu-burner PARENT_PID [--allocator=NAME] [crash]
  bool crash = false;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "crash") == 0) {
      crash = true;
    } else if (std::strcmp(argv[i], "--allocator=glibc") == 0) {
      set_allocator(Allocator::kGlibc);
    } else if (std::strcmp(argv[i], "--allocator=mimalloc") != 0 || !set_allocator(Allocator::kMimalloc)) {
      std::fprintf(stderr, "usage: gilbench --cpu-burner PARENT_PID [--allocator=NAME] [crash] (internal)\n");
      return 2;
    }
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: gilbench --cpu-burner PARENT_PID [--allocator=NAME] [crash] (internal)\n");
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
  static const std::atomic<int> forever{Convoy::kRun};  // the parent stops and kills us instead
  NoRuntime runtime{RunConfig{}};
  NoRuntime::Worker worker(0);
  Context<Serial> ctx(runtime, worker, 0);
  Ref<IntObj<Serial>> n = make<IntObj<Serial>>(0);
  (void)Convoy::cpu_loop(ctx, n, forever);
  return 0;
}

}  // namespace gilbench
