#include "explain.hpp"

#include <map>
#include <mutex>

#include "workloads/all.hpp"

namespace gilbench {

void Counted::Runtime::detach(Worker& w) noexcept {
  totals.local_refs += tls.local_refs - w.at_attach.local_refs;
  totals.foreign_refs += tls.foreign_refs - w.at_attach.foreign_refs;
  totals.local_accesses += tls.local_accesses - w.at_attach.local_accesses;
  totals.foreign_accesses += tls.foreign_accesses - w.at_attach.foreign_accesses;
  totals.local_reads += tls.local_reads - w.at_attach.local_reads;
  totals.foreign_reads += tls.foreign_reads - w.at_attach.foreign_reads;
  totals.checkpoints += tls.checkpoints - w.at_attach.checkpoints;
  totals.blocking += tls.blocking - w.at_attach.blocking;
}

namespace {
void add_counts(RuntimeStats& s, const OpCounts& c) {
  s.add(kOpsLocalRefs, c.local_refs);
  s.add(kOpsForeignRefs, c.foreign_refs);
  s.add(kOpsContainerAccesses, c.local_accesses + c.foreign_accesses);
  s.add(kOpsCheckpoints, c.checkpoints);
}
}  // namespace

RuntimeStats Counted::Runtime::stats() const {
  RuntimeStats s;
  add_counts(s, totals);
  return s;
}

template <Workload W>
OpCounts count_ops(const nlohmann::json& params) {
  static std::mutex mutex;
  static std::map<std::string, OpCounts> cache;
  const std::string key = params.dump();
  std::lock_guard lock(mutex);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  // As every run: the state built by this thread, the work on a pool thread.
  WorkerPool pool(1);
  Counted::Runtime runtime{RunConfig{}};
  {
    typename W::template State<Counted> state(params.get<typename W::Params>());
    pool.run([&](int i) {
      Counted::Runtime::Worker worker(i);
      Attached<Counted> attached(runtime, worker);
      Context<Counted> ctx(runtime, worker, i);
      (void)W::run(ctx, state, Shard{0, 1});
    });
  }
  cache.emplace(key, runtime.totals);
  return runtime.totals;
}

OpCounts count_ops_of(const std::string& workload, const nlohmann::json& params) {
  OpCounts counts;
  bool found = false;
  for_each_type(AllWorkloads{}, [&]<Workload W> {
    if (!found && workload == W::kName) {
      counts = count_ops<W>(params);
      found = true;
    }
  });
  return counts;
}

UnitCosts UnitCosts::from(const nlohmann::json& fp) {
  UnitCosts u;
  if (!fp.is_object() || !fp.contains("unit_costs_ns")) return u;
  const auto& c = fp["unit_costs_ns"];
  auto get = [&](const char* k) {
    const double v = c.value(k, -1.0);
    return v > 0 ? v : 0.0;
  };
  u.plain = get("plain_increment");
  u.atomic = get("atomic_rmw");
  // Files from before atomic_rmw_marginal: the chain on one object.
  u.atomic_marginal = c.contains("atomic_rmw_marginal") ? get("atomic_rmw_marginal") : std::max(0.0, u.atomic - u.plain);
  u.mutex = get("mutex_uncontended");
  u.mutex_contended = get("mutex_contended");
  u.round_trip = get("cache_line_round_trip_median");
  // Files from before shared_ref_marginal (or one CPU): a transfer waited out
  // in full, half a round trip.
  const double shared_ref = get("shared_ref_marginal");
  u.shared_ref = shared_ref > 0 ? shared_ref : u.round_trip / 2;
  u.futex_wake = get("futex_wake");
  u.pipe_round_trip = get("pipe_round_trip");
  return u;
}

RuntimeStats explain(const OpCounts& ops, const CostModel& c, bool process, int workers, const UnitCosts& u) {
  RuntimeStats s;
  add_counts(s, ops);
  double extra_ns;
  if (process) {
    extra_ns = u.pipe_round_trip / 2 + u.futex_wake;  // one result back, the parent woken
  } else {
    const double refs = ops.local_refs + ops.foreign_refs;
    const double locked = ops.local_accesses + ops.foreign_accesses -
                          (c.lock_free_reads ? ops.local_reads + ops.foreign_reads : 0);
    extra_ns = (ops.local_refs * c.local_ref_atomic + ops.foreign_refs * c.foreign_ref_atomic) * u.atomic_marginal +
               refs * c.ref_mutex * u.mutex + locked * c.container_mutex * u.mutex +
               ops.checkpoints * c.checkpoint_mutex * u.mutex + ops.blocking * c.blocking_mutex * u.mutex;
  }
  s.add(kModelExtraMs, extra_ns * 1e-6);
  if (workers >= 2) {
    double contention_ns = 0;
    if (!process) {
      const double n = workers;
      if (c.shares_header) contention_ns += ops.foreign_refs / n * u.shared_ref;
      // Every worker takes the shared containers' locks between two
      // checkpoints, so the lock goes from CPU to CPU on (nearly) every
      // access: each hand-over waits for the lock's line, a round trip, and
      // the hand-overs happen one at a time, not divided over the workers. A
      // lower bound: the lines the section writes move too.
      if (c.container_mutex > 0)
        contention_ns += (ops.foreign_accesses - (c.lock_free_reads ? ops.foreign_reads : 0)) * u.round_trip;
    }
    s.add(kModelContentionMs, contention_ns * 1e-6);
  }
  return s;
}

}  // namespace gilbench
