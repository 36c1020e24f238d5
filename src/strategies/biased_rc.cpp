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
  // Relaxed: the owner wrote `local` on this thread, or before it detached
  // (ordered by the registry bucket's mutex, which the actor holds).
  const std::uint32_t local = h.local.load(std::memory_order_relaxed);
  if (local == kImmortal) fatal("merge of an immortal object");
  // Give up ownership before the CAS publishes the merged count: from then
  // on another thread may drop the count to zero and free the object, so no
  // write to the header may follow it. Relaxed: non-owners read tid only to
  // learn they are not the owner, which kUnowned and the old id both tell them.
  h.local.store(0, std::memory_order_relaxed);
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
  ++detail::tls_brc_counters.shared_ops;
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
    // Relaxed: the owner reads the queue under the mutex; the flag only
    // tells it to look.
    w->merge_pending.store(true, std::memory_order_relaxed);
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

void BiasedRc::Runtime::attach(Worker& w) {
  w.tid = current_thread_id();
  w.at_attach = detail::tls_brc_counters;
  Bucket& b = bucket_for(w.tid);
  std::lock_guard lock(b.mutex);
  if (find_owner(b, w.tid)) fatal("a thread attached twice");
  b.owners.push_back(&w);
}

void BiasedRc::Runtime::merge_queue(Worker& w) noexcept {
  std::vector<Header*> objects;
  {
    std::lock_guard lock(bucket_for(w.tid).mutex);
    objects.swap(w.queue);
    w.merge_pending.store(false, std::memory_order_relaxed);  // relaxed: under the mutex
  }
  merge_all(objects);  // frees outside the mutex: a free may queue more
}

void BiasedRc::Runtime::detach(Worker& w) {
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
        w.merge_pending.store(false, std::memory_order_relaxed);  // relaxed: under the mutex
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
  s.add(kBrcSharedOps, static_cast<double>(totals_.shared_ops));
  s.add(kBrcQueued, static_cast<double>(totals_.queued));
  s.add(kBrcMerges, static_cast<double>(totals_.merges));
  s.add(kBrcActorMerges, static_cast<double>(totals_.actor_merges));
  return s;
}

}  // namespace gilbench
