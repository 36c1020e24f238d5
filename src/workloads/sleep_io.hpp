// sleep_io: tasks that compute a little and then wait, the shape of a
// thread pool serving requests whose latency is elsewhere (a database, a
// remote service):
//
//   for task in my_tasks:
//       xs = [task * burst + j for j in range(burst)]   # the CPU burst
//       total += sum(xs)
//       time.sleep(0.001)                                # releases the GIL
//
// Contention model: the burst runs under the strategy (objects, a list, a
// checkpoint per element); the sleep runs inside ctx.blocking(), so under a
// GIL the lock is free while a worker sleeps. With bursts much shorter than
// the sleep, N workers overlap their sleeps and finish ~N times faster than
// one, GIL or not: the "IO-bound threads are fine" half of the GIL story.
// Parameters: tasks (total, split over the shards), burst (list length per
// task), sleep_us (the blocking call). Tally: items = tasks, sum = sum of
// every element of every list = closed form of tasks * burst.
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/blocking_io.hpp"
#include "runtime/object.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

struct SleepIo {
  static constexpr std::string_view kName = "sleep_io";
  static constexpr std::string_view kKind = "io";

  struct Params {
    std::int64_t tasks = 0;
    std::int64_t burst = 0;
    std::int64_t sleep_us = 1000;
    NLOHMANN_DEFINE_TYPE_INTRUSIVE(Params, tasks, burst, sleep_us)
  };
  // Default: 128 tasks of ~1.1 ms, a serial run of ~0.14 s, 16 tasks per
  // worker at 8 workers; the burst (~10-20 us) is ~2% of a task.
  static Params params(Scale s) {
    return s == Scale::kDefault ? Params{128, 200, 1000}
           : s == Scale::kQuick ? Params{32, 200, 1000}
                                : Params{8, 20, 200};
  }

  template <Strategy S>
  struct State {
    explicit State(const Params& p) : params(p) {}
    Params params;
  };

  template <Strategy S>
  static Tally run(Context<S>& ctx, State<S>& st, Shard shard) {
    const Params& p = st.params;
    Tally t;
    for (std::int64_t task = shard.begin(p.tasks); task < shard.end(p.tasks); ++task) {
      Ref<ListObj<S>> xs = make<ListObj<S>>();
      for (std::int64_t j = 0; j < p.burst; ++j) {
        list_append(*xs, make<IntObj<S>>(task * p.burst + j));
        ctx.checkpoint();
      }
      for (std::size_t j = 0; j < static_cast<std::size_t>(p.burst); ++j) {
        AnyRef<S> x = list_get(*xs, j);
        t.sum += static_cast<std::uint64_t>(cast<IntObj<S>>(x.get())->value);
        ctx.checkpoint();
      }
      xs = nullptr;
      ctx.blocking([&] { sleep_us(static_cast<long>(p.sleep_us)); });
      ++t.items;
    }
    return t;
  }

  template <Strategy S>
  static Tally finish(State<S>&) {
    return {};
  }
};

}  // namespace gilbench
