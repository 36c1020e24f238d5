// biased_rc's slow paths: merging, the owners' queues and their registry.
#include "strategies/biased_rc.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "runtime/object.hpp"

namespace gilbench {

namespace {

using Worker = BiasedRc::Runtime::Worker;

// The attached owners, by thread id (CPython's per-interpreter brc buckets).
// Constant-initialised, so usable from any static or thread at any time.
struct alignas(64) Bucket {
  std::mutex mutex;
  std::vector<Worker*> owners;  // guarded by mutex; a handful per bucket
};
constexpr std::size_t kBuckets = 64;
Bucket g_buckets[kBuckets];

Bucket& bucket_for(std::uint32_t tid) noexcept { return g_buckets[tid % kBuckets]; }

// The attached worker of thread tid, or null. Caller holds the bucket's mutex.
Worker* find_owner(Bucket& b, std::uint32_t tid) noexcept {
  for (Worker* w : b.owners)
    if (w->tid == tid) return w;
  return nullptr;
}

// ---- QSBR (see the notes in biased_rc.hpp) ----
using detail::BrcSlot;
using Retired = BiasedRc::Runtime::Retired;
constexpr std::size_t kSlots = 256;
BrcSlot g_slots[kSlots];
std::atomic<std::size_t> g_slots_used{0};    // slots [0, this) have ever been claimed
std::atomic<std::uint64_t> g_write_seq{1};   // goals are values of it
constexpr std::size_t kSealEvery = 32;       // retired entries per seal
thread_local Worker* tls_worker = nullptr;   // this thread's attached worker
std::mutex g_orphans_mutex;
std::vector<Retired> g_orphans;  // guarded by g_orphans_mutex: left by detached workers

BrcSlot* claim_slot() {
  for (std::size_t i = 0; i < kSlots; ++i) {
    bool expected = false;
    // acq_rel: the claim orders after the last owner's release of it.
    if (g_slots[i].used.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
      std::size_t high = g_slots_used.load(std::memory_order_relaxed);
      while (high < i + 1 && !g_slots_used.compare_exchange_weak(high, i + 1, std::memory_order_relaxed)) {
      }
      return &g_slots[i];
    }
  }
  BiasedRc::fatal("more than 256 workers attached at once (the QSBR table is full)");
}

// The oldest write sequence an attached worker other than `self` may still
// read under; BrcSlot::kOffline if none.
std::uint64_t min_seen(const BrcSlot* self) noexcept {
  std::uint64_t low = BrcSlot::kOffline;
  const std::size_t n = g_slots_used.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    const BrcSlot& s = g_slots[i];
    if (&s == self || !s.used.load(std::memory_order_acquire)) continue;
    // seq_cst: pairs with the report in quiescent(); what the reader loaded
    // before reporting happens before what we free after this.
    low = std::min(low, s.seen.load(std::memory_order_seq_cst));
  }
  return low;
}

void drop(const Retired& r) noexcept {
  if (r.object) {
    if (BiasedRc::decref(*r.object)) free_object<BiasedRc>(*r.object);
  } else {
    heap_raw_free(r.block);
  }
}

// Gives the unsealed entries of w a goal and asks every other attached worker
// to report a quiescent state.
void seal(Worker& w) noexcept {
  if (w.unsealed == 0) return;
  // seq_cst: the removals before it are visible to whoever loads the new
  // sequence (a reader that reports it reads the new slots afterwards).
  const std::uint64_t goal = g_write_seq.fetch_add(1, std::memory_order_seq_cst) + 1;
  for (auto it = w.retired.end() - static_cast<std::ptrdiff_t>(w.unsealed); it != w.retired.end(); ++it) it->goal = goal;
  w.unsealed = 0;
  const std::size_t n = g_slots_used.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    BrcSlot& s = g_slots[i];
    if (&s == w.slot || !s.used.load(std::memory_order_relaxed)) continue;  // relaxed: a stray bit is harmless
    if (s.seen.load(std::memory_order_relaxed) < goal)  // relaxed: only saves a signal
      s.breaker.fetch_or(BrcSlot::kQsbr, std::memory_order_relaxed);  // relaxed: only a hint to look
  }
}

// Drops or frees, oldest first, what every other attached worker has passed.
// RETURNS: whether entries are left.
bool poll(Worker& w) noexcept {
  if (w.retired.empty()) return false;
  const std::uint64_t low = min_seen(w.slot);
  std::size_t done = 0;
  while (done < w.retired.size() && w.retired[done].goal != 0 && w.retired[done].goal <= low) ++done;
  if (done == 0) return true;
  std::vector<Retired> ready(w.retired.begin(), w.retired.begin() + static_cast<std::ptrdiff_t>(done));
  w.retired.erase(w.retired.begin(), w.retired.begin() + static_cast<std::ptrdiff_t>(done));
  for (const Retired& r : ready) drop(r);  // a drop may retire more (onto w.retired)
  return !w.retired.empty();
}

// This worker holds no pointer it loaded optimistically: report it.
void quiescent(BrcSlot& slot) noexcept {
  // seq_cst (both): see min_seen() and seal().
  slot.seen.store(g_write_seq.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
}

void retire(Retired r) noexcept {
  Worker* w = tls_worker;
  if (!w) return drop(r);  // not attached: no worker is reading (the contract)
  w->retired.push_back(r);  // may allocate; a failure aborts (noexcept)
  if (++w->unsealed >= kSealEvery) w->slot->breaker.fetch_or(BrcSlot::kQsbr, std::memory_order_relaxed);
}

void drain_orphans() noexcept {
  std::vector<Retired> mine;
  {
    std::lock_guard lock(g_orphans_mutex);
    const std::uint64_t low = min_seen(nullptr);
    auto keep = std::stable_partition(g_orphans.begin(), g_orphans.end(),
                                      [low](const Retired& r) { return r.goal > low; });
    mine.assign(keep, g_orphans.end());
    g_orphans.erase(keep, g_orphans.end());
  }
  for (const Retired& r : mine) drop(r);
}

// Merges objects taken from an owner's queue; the caller is that owner.
void merge_all(const std::vector<BiasedRc::Header*>& objects) noexcept {
  for (BiasedRc::Header* h : objects) {
    // -1: the reference the queueing thread dropped, which the queue held.
    if (BiasedRc::merge(*h, -1) == 0) free_object<BiasedRc>(*h);
  }
}

}  // namespace

void BiasedRc::fatal(const char* what) noexcept {
  std::fprintf(stderr, "gilbench: fatal biased_rc error: %s\n", what);
  std::abort();
}

// _Py_ExplicitMergeRefcount
std::int64_t BiasedRc::merge(Header& h, std::int64_t extra) noexcept {
  if (h.tid.load(std::memory_order_relaxed) == kImmortalTid) fatal("merge of an immortal object");  // relaxed: set before sharing
  // A plain read: the owner wrote `local` on this thread, or before it
  // detached (ordered by the registry bucket's mutex, which the actor holds).
  const std::uint32_t local = h.local;
  // Give up ownership before the CAS publishes the merged count: from then
  // on another thread may drop the count to zero and free the object, so no
  // write to the header may follow it. Relaxed: non-owners read tid only to
  // learn they are not the owner, which kUnowned and the old id both tell them.
  h.local = 0;
  h.tid.store(kUnowned, std::memory_order_relaxed);
  std::int64_t shared = h.shared.load(std::memory_order_relaxed);  // relaxed: CAS guess
  std::int64_t count;
  std::int64_t desired;
  do {
    count = (shared >> kShift) + static_cast<std::int64_t>(local) + extra;
    desired = count * kOne + kMerged;
    // acq_rel. Release: the owner's uses (and the stores above) happen before
    // whoever later frees the object. Acquire: if the count is 0 the caller
    // frees it, after every non-owner's release decrement.
  } while (!h.shared.compare_exchange_weak(shared, desired, std::memory_order_acq_rel,
                                           std::memory_order_relaxed));
  if (count < 0) fatal("merged count below zero (a reference was dropped twice)");
  ++detail::tls_brc_counters.merges;
  return count;
}

bool BiasedRc::merge_zero_local(Header& h) noexcept {
  // Before the CAS, as in merge(): afterwards the object may already be gone.
  h.tid.store(kUnowned, std::memory_order_relaxed);  // relaxed: see merge()
  // Relaxed: a first guess for the CAS, which reloads on failure.
  std::int64_t shared = h.shared.load(std::memory_order_relaxed);
  std::int64_t desired;
  do {
    desired = (shared & ~kStateMask) | kMerged;
    // acq_rel: as in merge().
  } while (!h.shared.compare_exchange_weak(shared, desired, std::memory_order_acq_rel,
                                           std::memory_order_relaxed));
  if (desired < kMerged) fatal("owner merged a negative count");
  ++detail::tls_brc_counters.merges;
  return desired == kMerged;  // only with a weakref bit and no count: never here
}

bool BiasedRc::decref_shared(Header& h) noexcept {
  // Relaxed: a first guess for the CAS, which reloads on failure.
  std::int64_t shared = h.shared.load(std::memory_order_relaxed);
  std::int64_t desired;
  bool queue;
  do {
    // Count 0 and neither queued nor merged: the reference we drop is counted
    // in the owner's `local`. Keep it and let the owner merge.
    queue = shared == kDefault || shared == kMaybeWeakref;
    desired = queue ? kQueued : shared - kOne;
    // acq_rel on success. Release: our uses of the object happen before the
    // decrement, so before whoever frees it. Acquire: if we free (a merged
    // count reaching 0), everyone else's uses happen before our free.
    // Relaxed on failure: the loop only recomputes from the new value.
  } while (!h.shared.compare_exchange_weak(shared, desired, std::memory_order_acq_rel,
                                           std::memory_order_relaxed));
  if (queue) [[unlikely]] return queue_object(h);
  if (desired == kMerged) return true;  // merged, and that was the last reference
  if ((desired & kStateMask) == kMerged && desired < kMerged) [[unlikely]]
    fatal("decref of a dead object (merged count below zero)");
  return false;
}

// _Py_brc_queue_object
bool BiasedRc::queue_object(Header& h) noexcept {
  // Relaxed: the object is in the default state, so no merge has run on it
  // and tid still holds its owner (merges clear it and set "merged" first).
  const std::uint32_t owner = h.tid.load(std::memory_order_relaxed);
  if (owner == kUnowned) fatal("queued an object that has no owner");
  Bucket& b = bucket_for(owner);
  std::unique_lock lock(b.mutex);
  if (Worker* w = find_owner(b, owner)) {
    w->queue.push_back(&h);  // the rare allocation of the protocol
    // Relaxed: the owner reads the queue under the mutex; the bit only
    // tells it to look.
    w->slot->breaker.fetch_or(BrcSlot::kMerge, std::memory_order_relaxed);
    ++detail::tls_brc_counters.queued;
    return false;
  }
  // The owner is not attached: it has finished (or is idle in its pool, or
  // is the main thread), so it touches no object and we merge for it. Under
  // the bucket's mutex, so it cannot attach meanwhile; its last writes to
  // `local` happen before this through the same mutex (detach) or the start
  // of the run (the main thread). -1: the reference this decref drops.
  const std::int64_t count = merge(h, -1);
  ++detail::tls_brc_counters.actor_merges;
  lock.unlock();
  return count == 0;  // the caller frees, outside the mutex
}

void BiasedRc::retire_ref(Header& h) noexcept { retire(Retired{0, &h, nullptr, 0}); }
void BiasedRc::retire_block(void* p, std::size_t bytes) noexcept { retire(Retired{0, nullptr, p, bytes}); }

void BiasedRc::Runtime::attach(Worker& w) {
  if (tls_worker) fatal("a thread attached twice");
  w.tid = current_thread_id();
  w.at_attach = detail::tls_brc_counters;
  // The QSBR slot first: pushers read w.slot once w is in the registry.
  BrcSlot* slot = claim_slot();
  slot->breaker.store(0, std::memory_order_relaxed);  // relaxed: stray bits only cost a look
  quiescent(*slot);
  w.slot = slot;
  tls_worker = &w;
  Bucket& b = bucket_for(w.tid);
  std::lock_guard lock(b.mutex);
  if (find_owner(b, w.tid)) fatal("a thread attached twice");
  b.owners.push_back(&w);
}

void BiasedRc::Runtime::attach_main() {
  main_.tid = current_thread_id();
  Bucket& b = bucket_for(main_.tid);
  std::lock_guard lock(b.mutex);
  if (find_owner(b, main_.tid)) fatal("the main thread is attached already");
  b.owners.push_back(&main_);
  main_attached_ = true;
}

void BiasedRc::Runtime::detach_main() {
  if (!main_attached_) return;
  drain_orphans();
  Bucket& b = bucket_for(main_.tid);
  for (;;) {
    std::vector<Header*> objects;
    {
      std::lock_guard lock(b.mutex);
      if (main_.queue.empty()) {
        b.owners.erase(std::find(b.owners.begin(), b.owners.end(), &main_));
        break;
      }
      objects.swap(main_.queue);
    }
    merge_all(objects);
  }
  main_attached_ = false;
}

BiasedRc::Runtime::~Runtime() {
  detach_main();
  drain_orphans();
}

void BiasedRc::Runtime::service(Worker& w) noexcept {
  // Acquire: pairs with nothing in particular; the queue is read under its
  // mutex and the QSBR state with seq_cst.
  const std::uint8_t bits = w.slot->breaker.exchange(0, std::memory_order_acquire);
  if (bits & BrcSlot::kMerge) merge_queue(w);
  if (bits & BrcSlot::kQsbr) {
    quiescent(*w.slot);
    seal(w);
    if (poll(w)) w.slot->breaker.fetch_or(BrcSlot::kQsbr, std::memory_order_relaxed);  // look again next time
  }
}

void BiasedRc::Runtime::release(Worker& w) noexcept {
  checkpoint(w);
  seal(w);
  poll(w);
  // seq_cst: as in quiescent(); offline, a blocked worker holds up no one.
  w.slot->seen.store(BrcSlot::kOffline, std::memory_order_seq_cst);
}

void BiasedRc::Runtime::reacquire(Worker& w) noexcept {
  quiescent(*w.slot);
  if (!w.retired.empty()) w.slot->breaker.fetch_or(BrcSlot::kQsbr, std::memory_order_relaxed);
}

void BiasedRc::Runtime::merge_queue(Worker& w) noexcept {
  std::vector<Header*> objects;
  {
    std::lock_guard lock(bucket_for(w.tid).mutex);
    objects.swap(w.queue);
  }
  merge_all(objects);  // frees outside the mutex: a free may queue more
}

void BiasedRc::Runtime::detach(Worker& w) {
  // QSBR first: offline (this worker reads nothing more), what it retired
  // sealed and, if not yet free to go, left to the orphan list.
  seal(w);
  poll(w);
  w.slot->seen.store(BrcSlot::kOffline, std::memory_order_seq_cst);  // seq_cst: as in quiescent()
  if (!w.retired.empty()) {
    std::lock_guard lock(g_orphans_mutex);
    g_orphans.insert(g_orphans.end(), w.retired.begin(), w.retired.end());
    w.retired.clear();
  }
  tls_worker = nullptr;
  Bucket& b = bucket_for(w.tid);
  // Merge until the queue is empty and leave the registry in the same
  // critical section, so nothing is pushed after the last merge: from then
  // on, threads that drop our objects merge them themselves.
  for (;;) {
    std::vector<Header*> objects;
    {
      std::lock_guard lock(b.mutex);
      if (w.queue.empty()) {
        b.owners.erase(std::find(b.owners.begin(), b.owners.end(), &w));
        // Under the mutex: pushers read w.slot under it while w is listed.
        w.slot->used.store(false, std::memory_order_release);  // release: pairs with claim_slot()
        w.slot = &detail::idle_brc_slot;
        break;
      }
      objects.swap(w.queue);
    }
    merge_all(objects);
  }
  BrcCounters delta = detail::tls_brc_counters;
  delta -= w.at_attach;
  std::lock_guard lock(mutex_);
  totals_ += delta;
}

RuntimeStats BiasedRc::Runtime::stats() const {
  std::lock_guard lock(mutex_);
  RuntimeStats s;
  s.add(kBrcQueued, static_cast<double>(totals_.queued));
  s.add(kBrcMerges, static_cast<double>(totals_.merges));
  s.add(kBrcActorMerges, static_cast<double>(totals_.actor_merges));
  return s;
}

}  // namespace gilbench
