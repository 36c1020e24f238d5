// biased_rc: the state machine step by step (default -> queued -> merged,
// the negative shared count, the owner's zero-local merge, detach and actor
// merges), the lifetime probe over cross-thread hand-offs, a race test, and a
// check that the owner's incref compiles to no lock-prefixed instruction.
#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "lifetime_probe.hpp"
#include "strategies/atomic_rc.hpp"
#include "strategies/biased_rc.hpp"

using gilbench::AtomicRc;
using gilbench::BiasedRc;

// Out of line and unmangled so the disassembly test can find them.
extern "C" [[gnu::noinline]] void gilbench_test_biased_incref(BiasedRc::Header& h) {
  BiasedRc::incref(h);
}
extern "C" [[gnu::noinline]] void gilbench_test_atomic_incref(AtomicRc::Header& h) {
  AtomicRc::incref(h);
}

namespace gilbench {
namespace {

using H = BiasedRc::Header;
using Int = IntObj<BiasedRc>;

std::int64_t state(const H& h) { return h.shared.load() & BiasedRc::kStateMask; }
std::int64_t shared_count(const H& h) { return h.shared.load() >> BiasedRc::kShift; }

// A thread that runs tasks on demand, so a test can order the owner's steps
// and a non-owner's (this test's thread) exactly. It can attach to a
// biased_rc runtime as one owner; its allocation counts are kept apart.
class OwnerThread {
 public:
  explicit OwnerThread(BiasedRc::Runtime& rt) : rt_(rt), thread_([this] { loop(); }) {}
  ~OwnerThread() {
    if (attached_) detach();  // a failed test must not leave it registered
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cond_.notify_all();
    thread_.join();
  }

  // Runs fn on the owner thread and waits for it.
  void run(const std::function<void()>& fn) {
    std::unique_lock lock(mutex_);
    task_ = &fn;
    cond_.notify_all();
    cond_.wait(lock, [this] { return task_ == nullptr; });
  }

  void attach() {
    run([this] { rt_.attach(worker_); });
    attached_ = true;
  }
  void detach() {
    run([this] { rt_.detach(worker_); });
    attached_ = false;
  }
  void checkpoint() { run([this] { rt_.checkpoint(worker_); }); }
  // A blocking call (release, then reacquire): seals what is retired.
  void blocking_call() {
    run([this] {
      rt_.release(worker_);
      rt_.reacquire(worker_);
    });
  }
  Int* make_int(std::int64_t v) {
    Int* p = nullptr;
    run([&] { p = make<Int>(v).leak(); });
    return p;
  }
  void incref(Int* p) { run([&] { BiasedRc::incref(p->header); }); }
  // The owner's decref; frees on the owner thread if it was the last.
  void decref(Int* p) {
    run([&] {
      if (BiasedRc::decref(p->header)) destroy<BiasedRc>(p);
    });
  }
  std::int64_t freed() {  // objects freed on the owner thread so far
    std::int64_t n = 0;
    run([&] { n = thread_alloc_counts().freed; });
    return n;
  }
  std::uint32_t id() {
    std::uint32_t id = 0;
    run([&] { id = current_thread_id(); });
    return id;
  }
  const BiasedRc::Runtime::Worker& worker() const { return worker_; }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cond_.wait(lock, [this] { return stopping_ || task_ != nullptr; });
      if (stopping_) return;
      (*task_)();
      task_ = nullptr;
      cond_.notify_all();
    }
  }

  BiasedRc::Runtime& rt_;
  BiasedRc::Runtime::Worker worker_{0};
  bool attached_ = false;  // this test thread only
  std::mutex mutex_;
  std::condition_variable cond_;
  const std::function<void()>* task_ = nullptr;  // guarded by mutex_
  bool stopping_ = false;                         // guarded by mutex_
  std::thread thread_;                            // last: starts after the rest
};

// The non-owner's decref (this thread); frees here if it was the last.
bool drop(Int* p) {
  if (!BiasedRc::decref(p->header)) return false;
  destroy<BiasedRc>(p);
  return true;
}

class BiasedRcStates : public ::testing::Test {
 protected:
  BiasedRc::Runtime rt_{RunConfig{}};
  OwnerThread owner_{rt_};
  std::int64_t freed_here() const { return thread_alloc_counts().freed - freed_here_at_start_; }
  std::int64_t freed_here_at_start_ = thread_alloc_counts().freed;
};

TEST_F(BiasedRcStates, OwnerCountsLocallyAndFreesAtOnce) {
  owner_.attach();
  Int* p = owner_.make_int(7);
  EXPECT_EQ(p->header.tid.load(), owner_.id());
  owner_.incref(p);
  EXPECT_EQ(p->header.local, 2u);
  EXPECT_EQ(p->header.shared.load(), 0) << "the owner never touches the shared count";
  const std::int64_t before = owner_.freed();
  owner_.decref(p);
  owner_.decref(p);  // local 0, shared 0: the fast path frees at once
  EXPECT_EQ(owner_.freed(), before + 1);
  owner_.detach();
}

TEST_F(BiasedRcStates, NonOwnerCountsInShared) {
  owner_.attach();
  Int* p = owner_.make_int(7);
  BiasedRc::incref(p->header);
  BiasedRc::incref(p->header);
  EXPECT_EQ(shared_count(p->header), 2);
  EXPECT_EQ(state(p->header), BiasedRc::kDefault);
  EXPECT_EQ(p->header.local, 1u);
  EXPECT_FALSE(drop(p));
  EXPECT_FALSE(drop(p));
  EXPECT_EQ(p->header.shared.load(), 0);
  const std::int64_t before = owner_.freed();
  owner_.decref(p);
  EXPECT_EQ(owner_.freed(), before + 1);
  owner_.detach();
}

TEST_F(BiasedRcStates, DefaultQueuedMergedThenFreed) {
  owner_.attach();
  Int* p = owner_.make_int(7);
  owner_.incref(p);  // local 2: one of them is ours to drop
  const BrcCounters mine = detail::tls_brc_counters;

  EXPECT_FALSE(drop(p)) << "shared would go below zero: queued, not freed";
  EXPECT_EQ(state(p->header), BiasedRc::kQueued);
  EXPECT_EQ(shared_count(p->header), 0) << "the queue keeps the reference";
  EXPECT_EQ(p->header.tid.load(), owner_.id());
  EXPECT_EQ(owner_.worker().queue.size(), 1u);
  EXPECT_TRUE(owner_.worker().slot->breaker.load() & detail::BrcSlot::kMerge) << "the owner's eval breaker asks for a merge";
  EXPECT_EQ(detail::tls_brc_counters.queued, mine.queued + 1);

  owner_.checkpoint();  // merges: 0 + local 2 - 1 (the queue's) = 1
  EXPECT_EQ(state(p->header), BiasedRc::kMerged);
  EXPECT_EQ(shared_count(p->header), 1);
  EXPECT_EQ(p->header.tid.load(), BiasedRc::kUnowned) << "the owner gave up ownership";
  EXPECT_EQ(p->header.local, 0u);
  EXPECT_FALSE(owner_.worker().slot->breaker.load() & detail::BrcSlot::kMerge);

  // The owner's own reference is now a non-owner's like any other.
  const std::int64_t before = owner_.freed();
  owner_.decref(p);  // merged count 1 -> 0: freed, from the merged state
  EXPECT_EQ(owner_.freed(), before + 1);
  owner_.detach();
}

TEST_F(BiasedRcStates, SharedGoesNegativeWhileQueued) {
  owner_.attach();
  Int* p = owner_.make_int(7);
  owner_.incref(p);
  owner_.incref(p);  // local 3: two references handed to this thread
  EXPECT_FALSE(drop(p));
  EXPECT_EQ(state(p->header), BiasedRc::kQueued);
  EXPECT_FALSE(drop(p));
  EXPECT_EQ(state(p->header), BiasedRc::kQueued);
  EXPECT_EQ(shared_count(p->header), -1) << "queued objects may go below zero";
  EXPECT_LT(p->header.shared.load(), 0);
  EXPECT_EQ(owner_.worker().queue.size(), 1u) << "queued once only";

  owner_.decref(p);  // local 2: the owner's own reference is gone
  const std::int64_t before = owner_.freed();
  owner_.checkpoint();  // merge: -1 + 2 - 1 = 0, freed by the owner
  EXPECT_EQ(owner_.freed(), before + 1);
  EXPECT_EQ(freed_here(), 0);
  owner_.detach();
}

TEST_F(BiasedRcStates, NegativeSharedMergesToWhatTheOwnerStillHolds) {
  owner_.attach();
  Int* p = owner_.make_int(7);
  owner_.incref(p);
  owner_.incref(p);  // local 3
  drop(p);
  drop(p);  // queued, count -1
  owner_.checkpoint();  // merge: -1 + 3 - 1 = 1 (the owner's own)
  EXPECT_EQ(state(p->header), BiasedRc::kMerged);
  EXPECT_EQ(shared_count(p->header), 1);
  const std::int64_t before = owner_.freed();
  owner_.decref(p);
  EXPECT_EQ(owner_.freed(), before + 1);
  owner_.detach();
}

TEST_F(BiasedRcStates, OwnerLocalZeroWithOtherReferencesMerges) {
  owner_.attach();
  Int* p = owner_.make_int(7);
  BiasedRc::incref(p->header);  // a non-owner reference: shared 1
  const std::int64_t before = owner_.freed();
  owner_.decref(p);  // local 0 but shared 1: merge, do not free
  EXPECT_EQ(owner_.freed(), before);
  EXPECT_EQ(state(p->header), BiasedRc::kMerged);
  EXPECT_EQ(shared_count(p->header), 1);
  EXPECT_EQ(p->header.tid.load(), BiasedRc::kUnowned);
  EXPECT_TRUE(drop(p)) << "the last reference of a merged object frees it";
  owner_.detach();
}

// ob_tid of a merged object is kUnowned, not 0: a thread that has no id
// yet reads 0 and must not take the owner's path on it.
TEST_F(BiasedRcStates, AThreadWithoutAnIdIsNeverTheOwner) {
  owner_.attach();
  Int* p = owner_.make_int(7);
  BiasedRc::incref(p->header);  // shared 1
  owner_.decref(p);             // local 0: merged, unowned, count 1
  ASSERT_EQ(p->header.tid.load(), BiasedRc::kUnowned);
  std::thread([&] {
    EXPECT_EQ(detail::tid_if_any(), 0u) << "a fresh thread has no id";
    BiasedRc::incref(p->header);
    EXPECT_EQ(shared_count(p->header), 2) << "counted as a non-owner";
    EXPECT_EQ(p->header.local, 0u);
    EXPECT_FALSE(BiasedRc::decref(p->header));
  }).join();
  EXPECT_EQ(shared_count(p->header), 1);
  EXPECT_TRUE(drop(p));
  owner_.detach();
}

TEST_F(BiasedRcStates, DetachMergesWhatIsQueued) {
  owner_.attach();
  Int* p = owner_.make_int(7);
  owner_.incref(p);  // local 2
  owner_.decref(p);  // local 1: the reference this thread holds
  EXPECT_FALSE(drop(p));
  EXPECT_EQ(state(p->header), BiasedRc::kQueued);
  const std::int64_t before = owner_.freed();
  owner_.detach();  // no checkpoint: detach merges, 0 + 1 - 1 = 0
  EXPECT_EQ(owner_.freed(), before + 1);
}

TEST_F(BiasedRcStates, ActorMergesWhenTheOwnerIsNotAttached) {
  owner_.attach();
  Int* p = owner_.make_int(7);
  owner_.incref(p);  // local 2: both references go to this thread
  owner_.detach();
  const BrcCounters mine = detail::tls_brc_counters;
  EXPECT_FALSE(drop(p)) << "0 + 2 - 1 = 1 left";
  EXPECT_EQ(detail::tls_brc_counters.actor_merges, mine.actor_merges + 1);
  EXPECT_EQ(detail::tls_brc_counters.queued, mine.queued) << "nothing queued to a detached owner";
  EXPECT_EQ(state(p->header), BiasedRc::kMerged);
  EXPECT_EQ(p->header.tid.load(), BiasedRc::kUnowned);
  EXPECT_TRUE(drop(p));
  EXPECT_EQ(freed_here(), 1);
}

TEST_F(BiasedRcStates, ActorMergeFreesWhenItDropsTheLastReference) {
  owner_.attach();
  Int* p = owner_.make_int(7);
  owner_.detach();  // the owner leaves; its one reference is ours now
  EXPECT_TRUE(drop(p)) << "actor merge: 0 + 1 - 1 = 0";
  EXPECT_EQ(freed_here(), 1);
}

TEST_F(BiasedRcStates, MainThreadObjectsAreMergedByTheirActors) {
  // The main thread builds shared state but never attaches: objects it owns
  // and that a worker drops last are merged by the worker.
  Int* p = make<Int>(7).leak();  // owned by this (never attached) thread
  BiasedRc::incref(p->header);   // local 2: one for the owner thread below
  owner_.attach();
  const std::int64_t before = owner_.freed();
  owner_.decref(p);  // non-owner, shared 0, owner not attached: merge, 1 left
  EXPECT_EQ(state(p->header), BiasedRc::kMerged);
  EXPECT_EQ(shared_count(p->header), 1);
  EXPECT_TRUE(drop(p));
  EXPECT_EQ(owner_.freed(), before);
  owner_.detach();
}

TEST_F(BiasedRcStates, ImmortalObjectsAreNeverCountedOrQueued) {
  owner_.attach();
  Int* p = owner_.make_int(7);
  owner_.run([&] { BiasedRc::make_immortal(p->header); });
  for (int i = 0; i < 3; ++i) {
    owner_.incref(p);
    owner_.decref(p);
    owner_.decref(p);
    BiasedRc::incref(p->header);
    EXPECT_FALSE(drop(p));
    EXPECT_FALSE(drop(p));
  }
  EXPECT_EQ(p->header.local, BiasedRc::kImmortal);
  EXPECT_EQ(p->header.shared.load(), 0);
  EXPECT_TRUE(owner_.worker().queue.empty());
  destroy<BiasedRc>(p);  // what an ImmortalSet does at the end
  owner_.detach();
}

// ---- lifetime probe ---------------------------------------------------------

TEST(BiasedRcLifetime, ProducerConsumerQueuesToLiveOwners) {
  test::Probe<BiasedRc> probe;
  std::int64_t made;
  {
    AllocLedger::Scope main_thread(probe.ledger);
    made = test::producer_consumer(probe, /*pairs=*/2, /*per_producer=*/3000, /*owners_leave_first=*/false);
  }
  const AllocCounts c = probe.ledger.total();
  EXPECT_EQ(c.allocated, made);
  EXPECT_EQ(c.live(), 0) << "allocated " << c.allocated << ", freed " << c.freed;
  EXPECT_GE(probe.stat("brc_queued"), 2 * 3000 / 2)
      << "consumers drop the odd ints outright while their producers run";
  EXPECT_GT(probe.stat("brc_merges"), 0);
  EXPECT_EQ(probe.stat("brc_shared_ops"), -1) << "non-owner operations are counted by the counting pass, not in runs";
}

TEST(BiasedRcLifetime, OwnersThatLeaveFirstStrandNothing) {
  test::Probe<BiasedRc> probe;
  std::int64_t made;
  {
    AllocLedger::Scope main_thread(probe.ledger);
    made = test::producer_consumer(probe, 2, 3000, /*owners_leave_first=*/true);
  }
  const AllocCounts c = probe.ledger.total();
  EXPECT_EQ(c.allocated, made);
  EXPECT_EQ(c.live(), 0) << "allocated " << c.allocated << ", freed " << c.freed;
  EXPECT_GE(probe.stat("brc_actor_merges"), 2 * 3000 / 2)
      << "the odd ints are dropped outright after their producer detached";
}

TEST(BiasedRcLifetime, SharedDictChurn) {
  test::Probe<BiasedRc> probe;
  std::int64_t made;
  {
    AllocLedger::Scope main_thread(probe.ledger);
    made = test::shared_dict_churn(probe, 4, 3000);
  }
  const AllocCounts c = probe.ledger.total();
  EXPECT_EQ(c.allocated, made);
  EXPECT_EQ(c.live(), 0);
}

// One owner hands every object to all the other workers, then everyone,
// owner included, drops at once while the owner keeps merging: each object
// is freed exactly once, whichever path (fast, merge, queue, actor) wins.
TEST(BiasedRcLifetime, EveryoneDropsAtOnce) {
  constexpr int kWorkers = 4;
  constexpr int kObjects = 2000;
  test::Probe<BiasedRc> probe;
  std::vector<std::vector<AnyRef<BiasedRc>>> handed(kWorkers);
  std::atomic<bool> ready{false};
  std::atomic<int> done{0};
  {
    AllocLedger::Scope main_thread(probe.ledger);
    probe.run(kWorkers, [&](Context<BiasedRc>& ctx) {
      const auto me = static_cast<std::size_t>(ctx.index());
      if (me == 0) {
        std::vector<AnyRef<BiasedRc>> mine;
        for (int i = 0; i < kObjects; ++i) {
          mine.push_back(make<Int>(i));
          for (int w = 1; w < kWorkers; ++w) handed[static_cast<std::size_t>(w)].push_back(mine.back());
        }
        ready.store(true);
        for (auto& r : mine) {
          r.reset();
          ctx.checkpoint();
        }
        while (done.load() < kWorkers - 1) {
          ctx.checkpoint();
          std::this_thread::yield();
        }
        return;
      }
      while (!ready.load()) std::this_thread::yield();
      for (auto& r : handed[me]) r.reset();
      done.fetch_add(1);
    });
  }
  const AllocCounts c = probe.ledger.total();
  EXPECT_EQ(c.allocated, kObjects);
  EXPECT_EQ(c.live(), 0) << "allocated " << c.allocated << ", freed " << c.freed;
}

// ---- optimistic reads, QSBR and the main thread -------------------------------

using List = ListObj<BiasedRc>;

// A list only its owner touches takes the plain path: its outgrown arrays are
// freed at once, nothing is retired, and it is never marked shared.
TEST_F(BiasedRcStates, AnOwnersOwnListRetiresNothing) {
  owner_.attach();
  std::int64_t sum = 0;
  owner_.run([&] {
    Ref<List> list = make<List>();
    for (int i = 0; i < 100; ++i) list_append(*list, make<Int>(i));  // grows 8 -> 16 -> ... -> 128
    for (std::size_t i = 0; i < list_size(*list); ++i) sum += cast<Int>(list_get(*list, i).get())->value;
    EXPECT_FALSE(BiasedRc::is_shared(list->header));
  });
  EXPECT_EQ(sum, 99 * 100 / 2);
  EXPECT_TRUE(owner_.worker().retired.empty()) << "no array retired";
  owner_.detach();
}

// A non-owner's locked read marks the list shared; from then on an outgrown
// array is retired, and freed only after every other attached worker has
// passed a quiescent point (a checkpoint).
TEST_F(BiasedRcStates, ASharedListsOldArrayWaitsForEveryWorker) {
  OwnerThread other{rt_};
  owner_.attach();
  other.attach();
  List* list = nullptr;
  owner_.run([&] {
    list = make<List>().leak();
    for (int i = 0; i < 8; ++i) list_append(*list, make<Int>(i));  // full: capacity 8
  });
  other.run([&] {
    EXPECT_EQ(cast<Int>(list_get(*list, 3).get())->value, 3);  // not shared yet: under the lock
  });
  EXPECT_TRUE(BiasedRc::is_shared(list->header)) << "a non-owner took the list's lock";
  owner_.run([&] { list_append(*list, make<Int>(8)); });  // grows: the old array is retired
  EXPECT_EQ(owner_.worker().retired.size(), 1u);

  owner_.blocking_call();  // seals it (goal = sequence + 1) and signals `other`
  EXPECT_EQ(owner_.worker().retired.size(), 1u) << "`other` has not passed a quiescent point";
  EXPECT_TRUE(other.worker().slot->breaker.load() & detail::BrcSlot::kQsbr) << "asked to report";
  other.checkpoint();  // reports
  owner_.checkpoint();  // polls: freed
  EXPECT_TRUE(owner_.worker().retired.empty());

  other.run([&] {  // a shared list: the non-owner reads without the lock
    EXPECT_EQ(list_size(*list), 9u);
    EXPECT_EQ(cast<Int>(list_get(*list, 8).get())->value, 8);
  });
  owner_.run([&] { Ref<List>::adopt(list).reset(); });
  other.detach();
  owner_.detach();
}

// A reference a shared list gives up (moved out) is kept for a grace period:
// taken and retired, so a reader that loaded the pointer finds it alive.
TEST_F(BiasedRcStates, AnItemMovedOutOfASharedListIsRetired) {
  OwnerThread other{rt_};
  owner_.attach();
  other.attach();
  List* from = nullptr;
  List* to = nullptr;
  owner_.run([&] {
    from = make<List>().leak();
    to = make<List>().leak();
    list_append(*from, make<Int>(42));
  });
  other.run([&] { EXPECT_EQ(list_size(*from), 1u); });
  other.run([&] { (void)list_get(*from, 0); });  // marks `from` shared
  Object<BiasedRc>* item = nullptr;
  owner_.run([&] {
    item = list_get(*from, 0).get();
    EXPECT_TRUE(list_move_last(*from, *to));
  });
  EXPECT_EQ(owner_.worker().retired.size(), 1u);
  EXPECT_EQ(owner_.worker().retired.front().object, &item->header) << "the extra reference, retired";
  owner_.blocking_call();
  other.checkpoint();
  owner_.checkpoint();
  EXPECT_TRUE(owner_.worker().retired.empty());
  owner_.run([&] {
    EXPECT_EQ(cast<Int>(list_get(*to, 0).get())->value, 42);
    Ref<List>::adopt(from).reset();
    Ref<List>::adopt(to).reset();
  });
  other.detach();
  owner_.detach();
}

// Readers on one thread, a writer that appends (growing the array) and moves
// items between two shared lists on another: every read sees an item that
// is alive and was in the list, and everything is freed once (ThreadSanitizer
// and AddressSanitizer check the rest).
TEST(BiasedRcLifetime, OptimisticReadersBesideAWriter) {
  constexpr int kRounds = 3000;
  test::Probe<BiasedRc> probe;
  std::atomic<bool> writing{true};
  std::atomic<bool> reading{false};  // the reader has done its first pass
  // Sizes neither list goes below any more, published after each round.
  std::atomic<std::size_t> floor_a{4};
  std::atomic<std::size_t> floor_b{0};
  std::atomic<std::int64_t> bad{0};
  std::atomic<std::int64_t> reads{0};
  {
    AllocLedger::Scope main_thread(probe.ledger);
    Ref<List> a = make<List>();  // the main thread's: a non-owner to both workers
    Ref<List> b = make<List>();
    for (int i = 0; i < 4; ++i) list_append(*a, make<Int>(i));
    probe.run(2, [&](Context<BiasedRc>& ctx) {
      if (ctx.index() == 0) {
        while (!reading.load()) std::this_thread::yield();  // overlap the reader, whatever the scheduler does
        for (int r = 0; r < kRounds; ++r) {
          // a: n -> n+2 -> n+1; b: m -> m+1 (a move out, and the arrays grow).
          list_append(*a, make<Int>(r));
          list_append(*a, make<Int>(r));
          list_move_last(*a, *b);
          floor_a.store(list_size(*a));
          floor_b.store(list_size(*b));
          ctx.checkpoint();
        }
        writing.store(false);
        return;
      }
      do {
        for (auto [l, floor] : {std::pair{a.get(), &floor_a}, std::pair{b.get(), &floor_b}}) {
          const std::size_t n = floor->load();
          for (std::size_t i = 0; i < n; i += 7) {
            AnyRef<BiasedRc> x = list_get(*l, i);
            if (!x || x->type != Type::kInt || cast<Int>(x.get())->value < 0) bad.fetch_add(1);
            reads.fetch_add(1, std::memory_order_relaxed);
          }
        }
        reading.store(true);
        ctx.checkpoint();
      } while (writing.load());
    });
    EXPECT_EQ(list_size(*a), static_cast<std::size_t>(4 + kRounds));
    EXPECT_EQ(list_size(*b), static_cast<std::size_t>(kRounds));
  }
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
  const AllocCounts c = probe.ledger.total();
  EXPECT_EQ(c.live(), 0) << "allocated " << c.allocated << ", freed " << c.freed;
}

// The main thread is an owner for the run: workers that drop the last
// non-owner reference to its objects queue them to it (merged when the run
// ends), as brc.c does for a live owner, instead of merging them themselves.
TEST(BiasedRcLifetime, TheMainThreadIsAnOwnerDuringARun) {
  constexpr int kObjects = 500;
  test::Probe<BiasedRc> probe;
  std::vector<AnyRef<BiasedRc>> handed;
  {
    AllocLedger::Scope main_thread(probe.ledger);
    for (int i = 0; i < kObjects; ++i) handed.push_back(make<Int>(i));
    probe.run(1, [&](Context<BiasedRc>&) {
      for (auto& r : handed) r.reset();  // a non-owner drops main's only reference
    });
  }
  EXPECT_EQ(probe.stat("brc_queued"), kObjects);
  EXPECT_EQ(probe.stat("brc_actor_merges"), 0);
  const AllocCounts c = probe.ledger.total();
  EXPECT_EQ(c.allocated, kObjects);
  EXPECT_EQ(c.live(), 0) << "merged and freed by the main thread when the run ended";
}

// ---- code generation ---------------------------------------------------------

// The disassembly of one function of this binary, one instruction a line.
[[maybe_unused]] std::string disassemble(const char* symbol) {
  // The path of this binary: in the command, /proc/self/exe would be objdump.
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  self[n] = '\0';
  const std::string cmd = std::string("objdump -d --no-show-raw-insn --disassemble=") + symbol +
                          " '" + self + "' 2>/dev/null";
  std::string out;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, f)) out += buf;
    pclose(f);
  }
  return out;
}

[[maybe_unused]] int count_lock_prefixes(const std::string& text) {
  int n = 0;
  for (std::size_t pos = 0; (pos = text.find("lock ", pos)) != std::string::npos; ++pos) ++n;
  return n;
}

// The owner's incref must be a plain load and store ("plain add vs
// lock xadd" is the gap under study). incref as a whole has exactly one
// lock-prefixed instruction, the non-owner's add to `shared`; an owner path
// written as an atomic increment of `local` would add a second.
TEST(BiasedRcCodegen, OwnerIncrefHasNoLockPrefix) {
#if !defined(__x86_64__) || !defined(__OPTIMIZE__) || defined(__SANITIZE_THREAD__) || \
    defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "needs an optimised, uninstrumented x86-64 build";
#else
  const std::string biased = disassemble("gilbench_test_biased_incref");
  if (biased.find("gilbench_test_biased_incref>:") == std::string::npos)
    GTEST_SKIP() << "objdump is not available";
  EXPECT_EQ(count_lock_prefixes(biased), 1) << biased;
  char shared_operand[32];
  std::snprintf(shared_operand, sizeof shared_operand, "0x%zx(%%rdi)", offsetof(H, shared));
  const std::size_t lock = biased.find("lock ");
  ASSERT_NE(lock, std::string::npos) << biased;
  const std::string lock_line = biased.substr(lock, biased.find('\n', lock) - lock);
  EXPECT_NE(lock_line.find(shared_operand), std::string::npos)
      << "the one locked instruction must be the add to `shared`: " << lock_line;
  const std::string atomic = disassemble("gilbench_test_atomic_incref");
  EXPECT_EQ(count_lock_prefixes(atomic), 1) << "atomic_rc: every incref is locked\n" << atomic;
#endif
}

}  // namespace
}  // namespace gilbench
