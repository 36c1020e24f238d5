// convoy: one IO worker doing socket round trips while K CPU-bound workers
// run, the convoy effect of bpo-7946 (Antoine Pitrou's report, Dave Beazley's measurements):
//
//   IO worker:                              K CPU workers:
//     for i in range(round_trips):            while not stop:
//         sock.sendall(req)  # GIL released       n = n + 1   # a new int
//         sock.recv(...)     # GIL released
//
// Under the 3.2+ GIL a return from a blocking call that finds a CPU worker
// holding the lock waits out the switch interval before it may even ask
// for it. Whether it finds one is a race: each release wakes a CPU worker,
// which takes the lock only if it runs before the IO worker is back. recv()
// sleeps while the peer answers, long enough for that; a send() that does
// not block is usually back first and retakes the lock at once (a futile
// wake-up also restarts the CPU worker's timed wait, so it never asks).
// When both calls lose, a ~33 us round trip becomes ~2 x 5 ms, 300x fewer
// round trips per second (Skvortsov, 2 cores: 30,000 -> 100 RPS with one
// CPU thread); with threads pinned to one core he measured 24k, 12k, 3k and
// 30 RPS for 0, 1, 2 and 4 CPU threads.
//
// A run alternates two kinds of timed window on the same IO worker, peer
// and runtime, after a few untimed warm-up round trips:
//   alone:  the IO worker with no CPU worker running (the K = 0 figure);
//   loaded: the K CPU workers run; the IO worker waits (inside a blocking
//           call) until all K are running, then does its round trips,
//           timing each one into a histogram.
// `windows` pairs of them, alone then loaded, share `alone_round_trips`
// and `round_trips`. The machine's state drifts within a run (an idle vCPU
// that wakes in 50 us or in 1 ms, a speed that flips 2x): a single alone
// phase before a single loaded phase can catch the two in different
// states, alternating windows average both over the same stretch. Between
// windows the CPU workers park inside a blocking call (in-process: the GIL
// released, as a Python thread waiting on an Event) or are stopped
// (SIGSTOP, burner processes), and the IO worker waits until all of them
// are parked before its next alone window. Finally it raises `stop`.
// The CPU workers' amount of work depends on timing, so it stays out of the
// tally: items = round trips of both phases, sum = digests of their echoes,
// fixed by the parameters (expected_tally).
//
// This is not one of AllWorkloads: its workers are not shards of one job,
// and its CPU workers stop on a flag in shared memory, which a worker
// process could not see. bench/convoy_bench.hpp runs it: K threads under an
// in-process strategy, or K burner processes under `process`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "runtime/histogram.hpp"
#include "runtime/blocking_io.hpp"
#include "runtime/cpu_time.hpp"
#include "runtime/object.hpp"
#include "workloads/echo_round_trip.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

struct Convoy {
  static constexpr std::string_view kName = "convoy";
  static constexpr std::string_view kKind = "io";

  struct Params {
    std::int64_t round_trips = 0;           // loaded windows: beside the K CPU workers
    std::int64_t alone_round_trips = 0;     // alone windows (cheap, so more of them)
    std::int64_t warmup_round_trips = 10;   // untimed, before the first window
    std::int64_t message_bytes = 8;
    // The peer's time per request (service + network). The published
    // convoy runs used a client in another process (~30 us per request
    // alone); a bare socketpair echo thread answers in ~10 us, often before
    // the CPU worker woken by the IO worker's release has run, so the IO
    // worker would mostly win the race for the GIL after recv() as well
    // (measured with one CPU worker under gil: ratio 0.78 at 0 us, 0.32 at
    // 10 us, 0.06 at 20 us). 20 us (slept with 1 ns timer slack) brings
    // the round trip to ~30 us on an idle machine, 50-70 us on a busy one.
    std::int64_t peer_delay_us = 20;
    // Alone/loaded window pairs the round trips are split into (>= 1).
    std::int64_t windows = 1;
    // The echo peer (bench/convoy_bench.hpp, ConvoyPeer): "thread", a
    // thread over an AF_UNIX socketpair, or "tcp", a separate process over
    // TCP loopback (--convoy-peer).
    std::string peer = "thread";
    NLOHMANN_DEFINE_TYPE_INTRUSIVE(Params, round_trips, alone_round_trips, warmup_round_trips, message_bytes,
                                   peer_delay_us, windows, peer)
  };
  // Default: 100 round trips beside the CPU workers (up to ~1 s under the
  // GIL at 5 ms with K = 1, where a round trip can cost two intervals) and
  // 400 alone (~15-25 ms), in 4 window pairs (2 at quick and tiny size).
  static Params params(Scale s) {
    Params p;
    p.round_trips = s == Scale::kDefault ? 100 : s == Scale::kQuick ? 20 : 10;
    p.alone_round_trips = s == Scale::kDefault ? 400 : s == Scale::kQuick ? 100 : 10;
    p.warmup_round_trips = s == Scale::kTiny ? 2 : 10;
    p.windows = s == Scale::kDefault ? 4 : 2;
    return p;
  }
  static void check(const Params& p) {
    if (p.windows < 1) throw std::invalid_argument("convoy: windows must be >= 1");
    if (p.peer != "thread" && p.peer != "tcp")
      throw std::invalid_argument("convoy: peer '" + p.peer + "' is not thread or tcp");
  }

  // One kind of timed window of the IO worker, summed over the run.
  struct Phase {
    Tally tally;  // its round trips (items) and their echoes' digests
    double seconds = 0;
    double cpu_seconds = 0;  // the IO worker's CPU time in the phase
    void add(const Phase& o) {
      tally.merge(o.tally);
      seconds += o.seconds;
      cpu_seconds += o.cpu_seconds;
    }
  };

  // What the CPU workers do (State::cpu): run, park, return.
  enum CpuState : int { kPause = 0, kRun = 1, kStop = 2 };

  // Window w's share of `total` round trips split into `windows`.
  static std::int64_t share(std::int64_t total, std::int64_t windows, std::int64_t w) {
    return total / windows + (w < total % windows ? 1 : 0);
  }

  template <Strategy S>
  struct State {
    // peer_fd: the IO worker's end of its connection to the echo peer.
    State(const Params& p, int k, int fd) : params(p), cpu_workers(k), peer_fd(fd) {}
    Params params;
    int cpu_workers;  // K
    int peer_fd;
    // IO worker -> CPU workers: kPause (park; before the first loaded
    // window they wait for kRun before attaching), kRun, kStop. A request
    // only; the join at the end of the run publishes everything else.
    std::atomic<int> cpu{kPause};
    // CPU workers -> IO worker: how many are inside their loop.
    std::atomic<int> running{0};
    LatencyHistogram latency;  // loaded windows, written by the IO worker only
    RetakeLog retakes;         // likewise
  };

  // `count` round trips with ids [first, first + count), each one timed
  // into `latency` if given.
  template <Strategy S>
  static Phase io_phase(Context<S>& ctx, int fd, const Params& p, std::int64_t first, std::int64_t count,
                        LatencyHistogram* latency, RetakeLog* retakes = nullptr) {
    Phase ph;
    const double cpu_start = thread_cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    auto before = start;
    for (std::int64_t i = first; i < first + count; ++i) {
      Ref<IntObj<S>> request = make<IntObj<S>>(i);  // the handler's bit of Python
      ctx.checkpoint();
      const auto id = static_cast<std::uint64_t>(request->value);
      const auto bytes = static_cast<std::size_t>(p.message_bytes);
      const std::uint64_t digest =
          retakes ? echo_round_trip(ctx, fd, id, bytes, *retakes) : echo_round_trip(ctx, fd, id, bytes);
      const auto after = std::chrono::steady_clock::now();
      if (latency)
        latency->record(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(after - before).count()));
      before = after;
      ph.tally.sum += digest;
      ++ph.tally.items;
    }
    ph.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ph.cpu_seconds = thread_cpu_seconds() - cpu_start;
    return ph;
  }

  // The IO worker's schedule, for both runners: the warm-up, then
  // `windows` pairs of an alone and a loaded window; pause() comes before
  // every alone window but the first (the CPU workers have not started
  // yet), resume() before every loaded one; each returns when the CPU
  // workers are parked, or all running. The ids run on, so the tally is
  // fixed by Params. RETURNS {warm-up, alone, loaded}.
  template <Strategy S, class Pause, class Resume>
  static std::tuple<Phase, Phase, Phase> io_schedule(Context<S>& ctx, int fd, const Params& p,
                                                     LatencyHistogram* latency, RetakeLog* retakes,
                                                     Pause&& pause, Resume&& resume) {
    check(p);
    Phase warmup = io_phase(ctx, fd, p, 0, p.warmup_round_trips, nullptr);
    Phase alone, loaded;
    std::int64_t id = p.warmup_round_trips;
    for (std::int64_t w = 0; w < p.windows; ++w) {
      if (w > 0) pause();
      const std::int64_t a = share(p.alone_round_trips, p.windows, w);
      alone.add(io_phase(ctx, fd, p, id, a, nullptr));
      id += a;
      resume();
      const std::int64_t l = share(p.round_trips, p.windows, w);
      loaded.add(io_phase(ctx, fd, p, id, l, latency, retakes));
      id += l;
    }
    return {warmup, alone, loaded};
  }

  // The IO worker of an in-process run. RETURNS {warm-up, alone, loaded},
  // whose tallies together hold every round trip.
  template <Strategy S>
  static std::tuple<Phase, Phase, Phase> io_worker(Context<S>& ctx, State<S>& st) {
    // However this ends, the CPU workers must not wait or spin forever.
    struct Release {
      State<S>& st;
      ~Release() {
        st.cpu.store(kStop);
        st.cpu.notify_all();
      }
    } release{st};
    // Wait without holding the GIL, or the CPU workers could never attach
    // or park.
    auto await_running = [&](int want) {
      ctx.blocking([&] {
        for (int n = st.running.load(); n != want; n = st.running.load()) st.running.wait(n);
      });
    };
    return io_schedule(
        ctx, st.peer_fd, st.params, &st.latency, &st.retakes,
        [&] {
          st.cpu.store(kPause);
          await_running(0);
        },
        [&] {
          st.cpu.store(kRun);
          st.cpu.notify_all();
          await_running(st.cpu_workers);
        });  // ~Release stops the CPU workers
  }

  // A CPU worker, before it attaches to the runtime: wait for the first
  // loaded window (or the stop).
  template <Strategy S>
  static void await_start(State<S>& st) {
    st.cpu.wait(kPause);
  }

  // Count up, a new int per step, while `cpu` says kRun. RETURNS the steps
  // done. Also the loop of a --cpu-burner process.
  template <Strategy S>
  static std::uint64_t cpu_loop(Context<S>& ctx, Ref<IntObj<S>>& n, const std::atomic<int>& cpu) {
    std::uint64_t steps = 0;
    while (cpu.load(std::memory_order_relaxed) == kRun) {  // relaxed: a request only
      n = make<IntObj<S>>(n->value + 1);
      ++steps;
      ctx.checkpoint();
    }
    return steps;
  }

  // A CPU worker, attached: the loop in every loaded window, parked (inside
  // a blocking call) between them, until the stop. RETURNS the steps done.
  template <Strategy S>
  static std::uint64_t cpu_worker(Context<S>& ctx, State<S>& st) {
    std::uint64_t steps = 0;
    Ref<IntObj<S>> n = make<IntObj<S>>(0);
    for (;;) {
      st.running.fetch_add(1);
      st.running.notify_all();
      steps += cpu_loop(ctx, n, st.cpu);
      st.running.fetch_sub(1);
      st.running.notify_all();
      if (st.cpu.load() == kStop) return steps;
      ctx.blocking([&] { st.cpu.wait(kPause); });
      if (st.cpu.load() == kStop) return steps;
    }
  }

  // The tally of every round trip of every correct run.
  static Tally expected_tally(const Params& p) {
    Tally t;
    for (std::int64_t i = 0; i < p.warmup_round_trips + p.alone_round_trips + p.round_trips; ++i) {
      t.sum += expected_echo_digest(static_cast<std::uint64_t>(i), static_cast<std::size_t>(p.message_bytes));
      ++t.items;
    }
    return t;
  }
};

}  // namespace gilbench
