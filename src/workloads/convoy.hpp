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
// A run has two timed phases on the same IO worker, peer and runtime, after
// a few untimed warm-up round trips:
//   1. alone: `alone_round_trips` round trips with no CPU worker started
//      yet (the K = 0 figure, measured in the same run so the ratio
//      survives drift);
//   2. with K: the CPU workers start, the IO worker waits (inside a blocking
//      call) until all K are running, then does `round_trips` more, timing
//      each one into a histogram, and finally raises `stop`.
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
    std::int64_t round_trips = 0;           // phase 2: beside the K CPU workers
    std::int64_t alone_round_trips = 0;     // phase 1: alone (cheap, so more of them)
    std::int64_t warmup_round_trips = 10;   // untimed, before phase 1
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
    NLOHMANN_DEFINE_TYPE_INTRUSIVE(Params, round_trips, alone_round_trips, warmup_round_trips, message_bytes,
                                   peer_delay_us)
  };
  // Default: 100 round trips beside the CPU workers (up to ~1 s under the
  // GIL at 5 ms with K = 1, where a round trip can cost two intervals) and
  // 400 alone (~15-25 ms).
  static Params params(Scale s) {
    Params p;
    p.round_trips = s == Scale::kDefault ? 100 : s == Scale::kQuick ? 20 : 10;
    p.alone_round_trips = s == Scale::kDefault ? 400 : s == Scale::kQuick ? 100 : 10;
    p.warmup_round_trips = s == Scale::kTiny ? 2 : 10;
    return p;
  }

  // One timed phase of the IO worker.
  struct Phase {
    Tally tally;  // its round trips (items) and their echoes' digests
    double seconds = 0;
    double cpu_seconds = 0;  // the IO worker's CPU time in the phase
  };

  template <Strategy S>
  struct State {
    State(const Params& p, int k) : params(p), cpu_workers(k), peer(std::chrono::microseconds(p.peer_delay_us)) {}
    Params params;
    int cpu_workers;  // K
    EchoPeer peer;
    // IO worker -> CPU workers: start (they wait for it before attaching).
    std::atomic<bool> go{false};
    // CPU workers -> IO worker: how many are inside their loop.
    std::atomic<int> running{0};
    // IO worker -> CPU workers: done. Only a request to stop; the join at
    // the end of the run publishes everything else.
    std::atomic<bool> stop{false};
    LatencyHistogram latency;  // phase 2, written by the IO worker only
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

  // The IO worker of an in-process run: warm-up and phase 1, start the CPU
  // workers, phase 2, stop them. RETURNS {warm-up, phase 1, phase 2}, whose
  // tallies together hold every round trip.
  template <Strategy S>
  static std::tuple<Phase, Phase, Phase> io_worker(Context<S>& ctx, State<S>& st) {
    const Params& p = st.params;
    // However this ends, the CPU workers must not wait or spin forever.
    struct Release {
      State<S>& st;
      ~Release() {
        st.stop.store(true, std::memory_order_relaxed);  // relaxed: see State::stop
        st.go.store(true);
        st.go.notify_all();
      }
    } release{st};
    const auto [warmup, alone] = io_alone(ctx, st.peer.fd(), p);
    st.go.store(true);
    st.go.notify_all();
    // Wait without holding the GIL, or the CPU workers could never attach.
    ctx.blocking([&] {
      for (int n = st.running.load(); n < st.cpu_workers; n = st.running.load()) st.running.wait(n);
    });
    return {warmup, alone, io_loaded(ctx, st.peer.fd(), p, &st.latency, &st.retakes)};  // ~Release stops the CPU workers
  }

  // The warm-up (the peer thread's first run, first page faults) and phase
  // 1; then phase 2. The ids follow on, so the tally is fixed by Params.
  template <Strategy S>
  static std::pair<Phase, Phase> io_alone(Context<S>& ctx, int fd, const Params& p) {
    Phase warmup = io_phase(ctx, fd, p, 0, p.warmup_round_trips, nullptr);
    Phase alone = io_phase(ctx, fd, p, p.warmup_round_trips, p.alone_round_trips, nullptr);
    return {warmup, alone};
  }
  template <Strategy S>
  static Phase io_loaded(Context<S>& ctx, int fd, const Params& p, LatencyHistogram* latency,
                         RetakeLog* retakes) {
    return io_phase(ctx, fd, p, p.warmup_round_trips + p.alone_round_trips, p.round_trips, latency, retakes);
  }

  // A CPU worker, before it attaches to the runtime: wait for the start.
  template <Strategy S>
  static void await_start(State<S>& st) {
    st.go.wait(false);
  }

  // A CPU worker, attached: count up, a new int per step, until `stop`.
  // RETURNS the steps done. Also the loop of a --cpu-burner process.
  template <Strategy S>
  static std::uint64_t cpu_loop(Context<S>& ctx, const std::atomic<bool>& stop) {
    std::uint64_t steps = 0;
    Ref<IntObj<S>> n = make<IntObj<S>>(0);
    while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a request only
      n = make<IntObj<S>>(n->value + 1);
      ++steps;
      ctx.checkpoint();
    }
    return steps;
  }
  template <Strategy S>
  static std::uint64_t cpu_worker(Context<S>& ctx, State<S>& st) {
    st.running.fetch_add(1);
    st.running.notify_all();
    return cpu_loop(ctx, st.stop);
  }

  // The tally of both phases of every correct run.
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
