// The lifetime probe of atomic_rc and biased_rc: references handed between
// threads, and a ledger that proves every object was freed exactly once.
//
// Each scenario builds a known number of objects, passes references across
// threads (producer -> consumer and back, non-owner drops, owners that
// detach before the others drop their objects) and checks, at the end:
//   - allocated == the objects the scenario made, and freed == allocated
//     (a leak or a double free shows here; ASan and TSan builds run it too);
//   - every object still held the value it was made with when it was last
//     read (a premature free shows as a wrong value, or as a sanitizer report).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "runners/threads.hpp"
#include "runtime/object.hpp"
#include "test_support.hpp"

namespace gilbench::test {

// Runs fn(ctx) on `workers` workers attached to one fresh runtime of S, as
// run_threads does. `detached` counts workers that have left the runtime, so
// a scenario can wait for owners to be gone before it drops their objects.
template <Strategy S>
struct Probe {
  AllocLedger ledger;
  RuntimeStats stats;
  std::atomic<int> detached{0};

  template <class F>
  void run(int workers, F&& fn) {
    RunConfig config;
    config.workers = workers;
    typename S::Runtime runtime(config);
    MainThread<S> main_owner(runtime);
    {
      WorkerPool pool(workers);
      pool.run([&](int i) {
        AllocLedger::Scope scope(ledger);
        typename S::Runtime::Worker worker(i);
        {
          Attached<S> attached(runtime, worker);
          Context<S> ctx(runtime, worker, i);
          fn(ctx);
        }
        detached.fetch_add(1);
      });
    }
    stats = runtime.stats();
  }

  double stat(const std::string& name) const {
    for (const auto& [k, v] : stats.counters)
      if (k->name == name) return v;
    return -1;
  }
};

// A mutex-guarded FIFO of references: the hand-off between threads.
template <Strategy S>
class Channel {
 public:
  void push(AnyRef<S> r) {
    std::lock_guard lock(mutex_);
    items_.push_back(std::move(r));
  }
  AnyRef<S> pop() {  // null if empty
    std::lock_guard lock(mutex_);
    if (items_.empty()) return nullptr;
    AnyRef<S> r = std::move(items_.front());
    items_.pop_front();
    return r;
  }

 private:
  std::mutex mutex_;
  std::deque<AnyRef<S>> items_;  // guarded by mutex_
};

inline std::int64_t probe_id(int producer, int seq) { return std::int64_t{producer} * 1'000'000 + seq; }

// Producers (even workers) make `per_producer` ints each, keep each one for
// a while in a ring and send a copy to the consumers (odd workers). A
// consumer checks the value, wraps it in a node it owns and sends the node
// back; producers drop the nodes they get back. Either side may drop last.
// Consumers drop the odd-numbered ints outright instead of wrapping them.
// With owners_leave_first, every producer detaches before any consumer drops
// anything, so the drops find no owner to queue to; without it, producers
// stay attached until every int is consumed.
// RETURNS: objects the scenario made (ints + nodes); per_producer even.
template <Strategy S>
std::int64_t producer_consumer(Probe<S>& probe, int pairs, int per_producer, bool owners_leave_first) {
  Channel<S> to_consumers;
  Channel<S> to_producers;
  std::atomic<int> consumed{0};
  std::atomic<int> bad_values{0};
  const int total = pairs * per_producer;
  probe.run(2 * pairs, [&](Context<S>& ctx) {
    const bool producer = ctx.index() % 2 == 0;
    if (producer) {
      const int me = ctx.index() / 2;
      std::vector<AnyRef<S>> ring(7);
      for (int i = 0; i < per_producer; ++i) {
        AnyRef<S> obj = make<IntObj<S>>(probe_id(me, i));
        to_consumers.push(obj);                // owner incref
        ring[static_cast<std::size_t>(i) % ring.size()] = std::move(obj);  // drops an older one
        if (!owners_leave_first) to_producers.pop();  // drop a consumer's node, maybe
        ctx.checkpoint();
      }
      if (owners_leave_first) return;  // keep nothing: the ring goes now
      while (consumed.load() < total) {
        to_producers.pop();
        ctx.checkpoint();
        std::this_thread::yield();
      }
      return;
    }
    if (owners_leave_first)
      while (probe.detached.load() < pairs) std::this_thread::yield();
    while (consumed.load() < total) {
      AnyRef<S> obj = to_consumers.pop();
      if (!obj) {
        ctx.checkpoint();
        std::this_thread::yield();
        continue;
      }
      const std::int64_t v = cast<IntObj<S>>(obj.get())->value;
      if (v % 1'000'000 >= per_producer || v / 1'000'000 >= pairs) bad_values.fetch_add(1);
      if (v % 2 == 1) {
        // Dropped outright: the reference is counted in the producer's
        // `local`, so biased_rc queues it to the producer (which waits for
        // every consumer) or, with owners_leave_first, merges it here.
        obj.reset();
      } else {
        AnyRef<S> copy = obj;  // a non-owner incref
        to_producers.push(make<NodeObj<S>>(std::move(copy), nullptr, v));
        obj.reset();  // a non-owner decref: may queue to the owner
      }
      consumed.fetch_add(1);
      ctx.checkpoint();
    }
  });
  EXPECT_EQ(bad_values.load(), 0);
  // Nodes still in the channels are dropped here, on the main thread (never
  // attached), after every worker has detached.
  return std::int64_t{total} + total / 2;
}

// Every worker replaces the values of a shared dict with ints it owns, so
// each old value is dropped by a thread that (usually) does not own it.
template <Strategy S>
std::int64_t shared_dict_churn(Probe<S>& probe, int workers, int updates) {
  auto dict = make<DictObj<S>>();
  std::vector<Ref<StrObj<S>>> keys;
  for (int i = 0; i < 4; ++i) keys.push_back(make<StrObj<S>>("k" + std::to_string(i)));
  probe.run(workers, [&](Context<S>& ctx) {
    for (int i = 0; i < updates; ++i) {
      dict_set(*dict, keys[static_cast<std::size_t>(i % 4)], make<IntObj<S>>(i));
      ctx.checkpoint();
    }
  });
  std::int64_t sum = 0;
  dict_for_each(*dict, [&](const StrObj<S>&, Object<S>& v) { sum += cast<IntObj<S>>(&v)->value; });
  EXPECT_EQ(sum, 4 * (updates - 1) - 6) << "each key ends with one of the last four values";
  return 1 + 4 + std::int64_t{workers} * updates;
}

}  // namespace gilbench::test
