// The IO workloads and the convoy: closed-form tallies, the IO worker
// blocking in the kernel (not spinning) with the GIL released, the convoy
// runners under every strategy and under `process`, and no leftover child.
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <optional>
#include <string>
#include <thread>

#include "convoy_bench.hpp"
#include "runners/threads.hpp"
#include "strategies/all.hpp"
#include "test_support.hpp"
#include "workloads/convoy.hpp"
#include "workloads/pipe_io.hpp"
#include "workloads/sleep_io.hpp"

namespace gilbench {
namespace {

TEST(SerialTally, SleepIoSumsEveryListElement) {
  const auto p = SleepIo::params(Scale::kTiny);
  const Tally t = serial_tally<SleepIo>(p);
  const auto n = static_cast<std::uint64_t>(p.tasks * p.burst);
  EXPECT_EQ(t.items, static_cast<std::uint64_t>(p.tasks));
  EXPECT_EQ(t.sum, n * (n - 1) / 2);
}

TEST(SerialTally, PipeIoSumsEveryEchoDigest) {
  const auto p = PipeIo::params(Scale::kTiny);
  const Tally t = serial_tally<PipeIo>(p);
  std::uint64_t sum = 0;
  for (std::int64_t i = 0; i < p.round_trips; ++i)
    sum += expected_echo_digest(static_cast<std::uint64_t>(i), static_cast<std::size_t>(p.message_bytes)) >> 1;
  EXPECT_EQ(t.items, static_cast<std::uint64_t>(p.round_trips));
  EXPECT_EQ(t.sum, sum);
}

TEST(EchoPeer, EchoesAndDetectsAClosedPeer) {
  EchoPeer peer;
  NoRuntime rt{RunConfig{}};
  NoRuntime::Worker w(0);
  Context<Serial> ctx(rt, w, 0);
  EXPECT_EQ(echo_round_trip(ctx, peer.fd(), 7, kMaxMessageBytes), expected_echo_digest(7, kMaxMessageBytes));
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  ::close(fds[1]);
  EXPECT_THROW(echo_round_trip(ctx, fds[0], 1, 8), std::exception);
  ::close(fds[0]);
}

// What the kernel says a thread is doing: its state letter (R running, S
// sleeping), and the system call it is blocked in (-1 if running).
struct ThreadState {
  char state = '?';
  long syscall = -2;
};
ThreadState thread_state(pid_t tid) {
  ThreadState ts;
  const std::string dir = "/proc/self/task/" + std::to_string(tid);
  const std::string line = test::read_proc(dir + "/stat");
  if (auto close = line.rfind(')'); close != std::string::npos && close + 2 < line.size())
    ts.state = line[close + 2];
  std::istringstream sc(test::read_proc(dir + "/syscall"));
  std::string first;
  if (sc >> first) ts.syscall = first == "running" ? -1 : std::atol(first.c_str());
  return ts;
}

long voluntary_switches() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_nvcsw;
}

TEST(Convoy, TheIoWorkerBlocksInTheKernelWithTheGilReleased) {
  // The convoy's IO phase, one round trip, under the GIL, against a peer
  // that this test plays and that holds its reply back until it has seen
  // the IO thread asleep in recv(). A spinning IO loop would never show
  // state S in read; a loop that kept the GIL would block the attach
  // below.
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  GilState gil(RunConfig{});
  const Convoy::Params p = Convoy::params(Scale::kTiny);
  std::atomic<pid_t> io_tid{0};
  std::atomic<long> switches{-1};
  Convoy::Phase phase;
  LatencyHistogram latency;
  std::thread io([&] {
    io_tid.store(static_cast<pid_t>(::syscall(SYS_gettid)));
    GilState::Worker w(0);
    Attached<Gil> attached(gil, w);
    Context<Gil> ctx(gil, w, 0);
    const long before = voluntary_switches();
    phase = Convoy::io_phase(ctx, fds[0], p, 0, 1, &latency);
    switches.store(voluntary_switches() - before);
  });
  std::byte request[8];
  ASSERT_NO_THROW(recv_all(fds[1], request));
  // The request has arrived, the reply has not: the IO thread must go to
  // sleep in read (runtime/blocking_io.hpp reads sockets with read()) and
  // stay there.
  ThreadState ts;
  for (int i = 0; i < 100'000; ++i) {
    ts = thread_state(io_tid.load());
    if (ts.state == 'S' && ts.syscall == SYS_read) break;
    std::this_thread::yield();
  }
  EXPECT_EQ(ts.state, 'S');
  EXPECT_EQ(ts.syscall, SYS_read);
  // Meanwhile the GIL is free: another worker attaches without waiting.
  {
    GilState::Worker other(1);
    Attached<Gil> attached(gil, other);
  }
  for (const auto& [name, value] : gil.stats().counters)
    if (name->name == "gil_contended") {
      EXPECT_EQ(value, 0) << "nobody waited for the GIL";
    }
  ASSERT_NO_THROW(write_all(fds[1], request));
  io.join();
  EXPECT_GE(switches.load(), 1) << "the IO thread never slept";
  EXPECT_EQ(phase.tally.items, 1u);
  EXPECT_EQ(phase.tally.sum, expected_echo_digest(0, 8));
  EXPECT_EQ(latency.count(), 1u);
  ::close(fds[0]);
  ::close(fds[1]);
}

// The convoy runner under every in-process strategy: checksum, latency
// samples, no leak; K = 2 where the strategy is threaded.
template <class List>
struct ToGTest;
template <class... Ts>
struct ToGTest<TypeList<Ts...>> {
  using type = ::testing::Types<Ts...>;
};
template <class S>
class ConvoyStrategyTest : public ::testing::Test {};
TYPED_TEST_SUITE(ConvoyStrategyTest, ToGTest<AllStrategies>::type);

// One in-process convoy run of K CPU workers on a pool of K + 1 threads,
// at `interval` (the default: RunConfig's).
template <Strategy S>
ConvoyResult run_convoy(int k, const Convoy::Params& p, std::optional<std::chrono::nanoseconds> interval = {}) {
  RunConfig config;
  config.workers = k + 1;
  if (interval) config.switch_interval = *interval;
  WorkerPool pool(k + 1);
  return run_convoy_threads<S>(pool, config, p);
}

TYPED_TEST(ConvoyStrategyTest, RunsAndReproducesTheTally) {
  using S = TypeParam;
  const int k = S::kThreaded ? 2 : 0;
  const Convoy::Params p = Convoy::params(Scale::kTiny);
  const ConvoyResult r = run_convoy<S>(k, p, std::chrono::microseconds(100));
  EXPECT_EQ(check_outcome(r.outcome(1), Convoy::expected_tally(p)), "");
  EXPECT_EQ(r.latency.count(), static_cast<std::uint64_t>(p.round_trips));
  EXPECT_EQ(r.alone.tally.items, static_cast<std::uint64_t>(p.alone_round_trips));
  EXPECT_GT(r.loaded.seconds, 0);
  if (k > 0) {
    EXPECT_GT(r.allocs.allocated, 2 * p.round_trips) << "the CPU workers ran";
  }
}

TYPED_TEST(ConvoyStrategyTest, LogsTheRetakeOfEveryPhaseTwoCall) {
  using S = TypeParam;
  const int k = S::kThreaded ? 1 : 0;
  const Convoy::Params p = Convoy::params(Scale::kTiny);
  const ConvoyResult r = run_convoy<S>(k, p);
  EXPECT_EQ(r.retakes.calls, static_cast<std::uint64_t>(2 * p.round_trips)) << "two blocking calls per round trip";
  EXPECT_LE(r.retakes.contended, r.retakes.calls);
  const Outcome o = r.outcome(k + 1);
  auto has = [&](const Metric& m) { return o.stats.value(m, -1) != -1; };
  EXPECT_TRUE(has(kIoRetakesPerCall) && has(kIoRetakeWaitUs));
  // Intervals only where the strategy has one.
  constexpr bool kInterval = requires { S::kUsesSwitchInterval; };
  EXPECT_EQ(has(kIoP50Intervals), kInterval);
  EXPECT_EQ(has(kIoLostPerCall), kInterval);
}

// Alone and loaded windows alternate: uneven shares, the CPU workers parked
// (in-process) before each alone window but the first and released before
// each loaded one (a worker that did not park would hang the pause).
TYPED_TEST(ConvoyStrategyTest, AlternatesAloneAndLoadedWindows) {
  using S = TypeParam;
  const int k = S::kThreaded ? 2 : 0;
  Convoy::Params p = Convoy::params(Scale::kTiny);
  p.windows = 3;
  p.alone_round_trips = 7;
  p.round_trips = 5;
  const ConvoyResult r = run_convoy<S>(k, p, std::chrono::microseconds(100));
  EXPECT_EQ(check_outcome(r.outcome(1), Convoy::expected_tally(p)), "");
  EXPECT_EQ(r.alone.tally.items, 7u);
  EXPECT_EQ(r.loaded.tally.items, 5u);
  EXPECT_EQ(r.latency.count(), 5u);
}

TEST(ConvoySchedule, WindowsInOrderWithContiguousIdsAndShares) {
  EXPECT_EQ(Convoy::share(7, 3, 0) + Convoy::share(7, 3, 1) + Convoy::share(7, 3, 2), 7);
  EXPECT_EQ(Convoy::share(7, 3, 0), 3);
  EXPECT_EQ(Convoy::share(7, 3, 2), 2);
  EchoPeer peer;
  NoRuntime runtime{RunConfig{}};
  NoRuntime::Worker worker(0);
  Context<Serial> ctx(runtime, worker, 0);
  Convoy::Params p = Convoy::params(Scale::kTiny);
  p.windows = 3;
  p.alone_round_trips = 7;
  p.round_trips = 4;
  std::string calls;
  LatencyHistogram latency;
  const auto [warmup, alone, loaded] = Convoy::io_schedule(
      ctx, peer.fd(), p, &latency, nullptr, [&] { calls += 'p'; }, [&] { calls += 'r'; });
  EXPECT_EQ(calls, "rprpr") << "no pause before the first alone window";
  Tally all = warmup.tally;
  all.merge(alone.tally);
  all.merge(loaded.tally);
  EXPECT_EQ(all.sum, Convoy::expected_tally(p).sum) << "ids run on through every window";
  EXPECT_EQ(alone.tally.items, 7u);
  EXPECT_EQ(loaded.tally.items, 4u);
  EXPECT_EQ(latency.count(), 4u);
  p.windows = 0;
  EXPECT_THROW((void)Convoy::io_schedule(ctx, peer.fd(), p, nullptr, nullptr, [] {}, [] {}), std::invalid_argument);
}

TEST(ConvoyMechanism, FromTheRatesTheLatencyAndTheLog) {
  ConvoyResult r;
  r.interval_s = 0.005;
  r.alone.tally.items = 100;
  r.alone.seconds = 0.01;  // 10,000/s: 100 us a round trip alone
  r.loaded.tally.items = 10;
  r.loaded.seconds = 0.101;  // 10.1 ms a round trip: 10 ms lost, 1 interval per call
  for (int i = 0; i < 10; ++i) r.latency.record(10'000'000);
  RetakeLog log;
  log.note(std::chrono::microseconds(5));
  log.note(std::chrono::milliseconds(5));
  log.note(std::chrono::microseconds(RetakeLog::kContendedNs / 1000));  // not over the threshold
  log.note(std::chrono::milliseconds(6));
  r.retakes = log;
  const Outcome o = r.outcome(2);
  EXPECT_NEAR(o.stats.value(kIoLostPerCall), 1.0, 1e-9);
  EXPECT_NEAR(o.stats.value(kIoP50Intervals), 2.0, 2.0 / 64);  // a histogram bucket's width
  EXPECT_DOUBLE_EQ(o.stats.value(kIoRetakesPerCall), 0.5);
  EXPECT_NEAR(o.stats.value(kIoRetakeWaitUs), (5 + 5000 + 100 + 6000) / 4.0, 1e-9);
}

TEST(ConvoyProcess, BurnersRunAndAreReaped) {
  const Convoy::Params p = Convoy::params(Scale::kTiny);
  const ConvoyResult r = run_convoy_processes(2, p, GILBENCH_EXE);  // gilbench --cpu-burner
  EXPECT_EQ(check_outcome(r.outcome(1), Convoy::expected_tally(p)), "");
  EXPECT_EQ(r.latency.count(), static_cast<std::uint64_t>(p.round_trips));
  EXPECT_TRUE(test::child_pids().empty()) << "a burner outlived its run";
}

TEST(ConvoyProcess, BurnersAreStoppedAndContinuedBetweenWindows) {
  Convoy::Params p = Convoy::params(Scale::kTiny);
  p.windows = 4;
  const ConvoyResult r = run_convoy_processes(2, p, GILBENCH_EXE);  // SIGSTOP, SIGCONT, each awaited
  EXPECT_EQ(check_outcome(r.outcome(1), Convoy::expected_tally(p)), "");
  EXPECT_EQ(r.alone.tally.items, static_cast<std::uint64_t>(p.alone_round_trips));
  EXPECT_TRUE(test::child_pids().empty()) << "a stopped burner outlived its run";
}

// --convoy-peer=tcp: gilbench --echo-peer in its own process, over TCP
// loopback; it exits when the connection closes and is reaped.
TEST(ConvoyPeer, ATcpPeerProcessEchoesAndIsReaped) {
  Convoy::Params p = Convoy::params(Scale::kTiny);
  p.peer = "tcp";
  {
    const ConvoyPeer peer(p, GILBENCH_EXE);
    NoRuntime runtime{RunConfig{}};
    NoRuntime::Worker worker(0);
    Context<Serial> ctx(runtime, worker, 0);
    for (std::uint64_t id = 0; id < 5; ++id)
      EXPECT_EQ(echo_round_trip(ctx, peer.fd(), id, 8), expected_echo_digest(id, 8));
    EXPECT_EQ(test::child_pids().size(), 1u);
  }
  EXPECT_TRUE(test::child_pids().empty()) << "the echo peer process outlived its connection";
  const ConvoyResult r = run_convoy_processes(1, p, GILBENCH_EXE);
  EXPECT_EQ(check_outcome(r.outcome(1), Convoy::expected_tally(p)), "");
  EXPECT_TRUE(test::child_pids().empty());
}

TEST(ConvoyPeer, APeerThatCannotStartOrAnUnknownKindIsAClearError) {
  Convoy::Params p = Convoy::params(Scale::kTiny);
  p.peer = "tcp";
  try {
    const ConvoyPeer peer(p, "/bin/false");
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exited before it said its port (it exited with status 1)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(test::child_pids().empty());
  p.peer = "udp";
  EXPECT_THROW(ConvoyPeer(p, GILBENCH_EXE), std::invalid_argument);
}

TEST(ConvoyProcess, ABurnerThatDiesAtStartIsAClearError) {
  const Convoy::Params p = Convoy::params(Scale::kTiny);
  try {
    (void)run_convoy_processes(1, p, "/bin/false");
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exited before it was ready (it exited with status 1)"), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(test::child_pids().empty());
}

}  // namespace
}  // namespace gilbench
