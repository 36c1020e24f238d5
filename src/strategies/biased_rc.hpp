// Notes on biased_rc: biased reference counting, as in PEP 703 (free-threaded
// CPython) and Choi, Shull and Torrellas (PACT 2018).
//
// Protocol. Every object is biased to its owner, the thread that made it
// (`tid`). The owner counts its references in `local` with a relaxed load and
// a relaxed store: plain movs, no lock prefix. Every other thread counts in
// `shared` with atomic read-modify-writes; its low two bits are a state. A
// non-owner decref that would take `shared` below zero (state default, count
// 0: the reference it drops is counted in `local`) marks the object queued
// and hands it, with that reference, to the owner's queue; the owner merges
// its queue at its next checkpoint() (the eval breaker), on a blocking call
// and when it detaches. A merge moves `local` into `shared`, gives up
// ownership (tid = kUnowned) and sets the state to merged; from then on
// every thread is a non-owner. When the owner's `local` reaches zero it frees the object
// at once if `shared` is exactly 0 (default state, no other reference), else
// it merges. An object is freed exactly once, only from default (that fast
// path) or merged (count reaching zero). An object queued to a thread that is
// not attached (finished, idle in its pool, or the main thread, which builds
// and frees the shared state but never attaches) is merged by the thread that
// queues it, as CPython does when the owner is dead.
//
//   state (low 2 bits)  non-owner decref      owner local -> 0     merge (queue, actor)
//   00 default, n > 0   n - 1                 unowned, -> merged    -
//   00 default, n = 0   -> queued, push       free at once          -
//   01 weakrefs         never set here: this runtime has no weak references
//   10 queued           n - 1 (may go < 0)    unowned, -> merged    n + local - 1, -> merged
//   11 merged           n - 1, free at 0      (no owner)            n - 1, free at 0
//
// States only move down the table. Contract: a thread touches objects only
// while attached, or while no worker is attached (the main thread building or
// freeing the shared state); an unattached owner therefore writes no `local`
// while an actor merges for it.
//
// Hot-path cost: owner incref = a load of `tid`, a compare with the thread
// id in TLS, a plain `add` to `local` (no lock prefix: a test checks the
// machine code); owner decref the same with a `sub`, and its last decref adds
// an acquire load of `shared` (a plain mov on x86-64). Ownership is tested
// first: an immortal object has tid kImmortalTid, which no thread holds, as
// CPython 3.13 gives immortal objects no owner (_Py_SetImmortal stores
// _Py_UNOWNED_TID), so the owner path needs no immortal test and the
// non-owner path makes it (one compare of the `tid` already loaded).
// CPython's Py_INCREF tests immortality first (local + 1 == 0) and ownership
// second: the same protocol with one more load and compare on the owner path.
// Non-owner incref = a `lock add`; non-owner decref = an out-of-line
// `lock cmpxchg` loop. Objects the main thread builds (a workload's shared
// state) are non-owner objects to every worker. checkpoint() = one load of
// the worker's merge flag. The rare queue push takes a bucket mutex and may
// allocate.
//
// Containers (PEP 703). Writes take the container's lock (a critical
// section). Reads of list items take no lock for the list's owner, nor for
// any thread once the list is shared: load the size, the array, the slot,
// incref the item, and recheck that the slot still holds it (else give the
// reference back and take the lock); len() is one relaxed load. A thread
// that is not the owner marks a container shared the first time it takes
// its lock (gc_bits, as _PyObject_GC_SET_SHARED); from then on what the
// container gives up (an array it outgrew, a reference it moved out) is
// retired instead of freed or dropped: freed after every attached worker has
// passed a quiescent point (QSBR), so a reader that loaded the pointer
// before the change still finds it alive. Containers only their owner
// touches free at once (the plain path). The dict has no lock-free reader
// (no workload reads a dict item outside an update), so its slots stay
// under the lock.
//
// QSBR. A global write sequence; each attached worker has a slot in a static
// table with the sequence it last saw at a quiescent point, and an eval
// breaker byte that its checkpoint() polls (one load, shared with the merge
// request). Retired items wait in their thread's list; every 32 (or at a
// blocking call, or detach) the thread seals them with a new goal
// (sequence + 1) and sets the breaker of every other attached worker, whose
// next checkpoint reports the sequence; a thread frees what it retired once
// every other attached worker has seen its goal. A worker inside a blocking
// call, or detached, is offline (never waited for). What a thread has not
// freed when it detaches goes to an orphan list, freed when the run ends.
//
// The main thread, which builds the shared state and frees it, registers as
// an owner for the run (attach_main, CPython's main thread state): workers
// queue its objects to it, and it merges them when the run ends, as brc.c
// does for a live owner; it is offline for QSBR (it runs no object code
// while workers run).
//
// Statistics: the merge counters (queued, merges, actor merges) are bumped
// on the slow paths only; the non-owner operations, once a thread-local
// counter on every non-owner incref and decref, are counted by the counting
// pass instead (ops_foreign_refs), so timed runs pay nothing for them.
//
// Simplifications: owner ids are this runtime's dense thread ids (never
// reused) and the registry of attached owners is a fixed array of
// mutex-guarded buckets; no deferred counting, no weak references, no
// stop-the-world fallback when a push cannot allocate (it aborts); the
// worker table of QSBR has 256 slots (more attached workers abort).
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

#include "runtime/thread_id.hpp"
#include "strategies/object_mutex.hpp"
#include "strategies/strategy.hpp"

namespace gilbench {

inline constexpr Metric kBrcQueued{"brc_queued", "count", Better::kNeither,
                                   "biased_rc: objects queued to their owner for a merge (shared count would go below 0)"};
inline constexpr Metric kBrcMerges{"brc_merges", "count", Better::kNeither,
                                   "biased_rc: merges of an object's local count into its shared count (owner gives it up)"};
inline constexpr Metric kBrcActorMerges{
    "brc_actor_merges", "count", Better::kNeither,
    "biased_rc: merges done by a non-owner because the owner was no longer attached"};

// What one thread did under biased_rc, cumulative over its life. Plain
// thread-local integers: only their own thread writes them.
struct BrcCounters {
  std::uint64_t queued = 0;        // objects this thread pushed onto an owner's queue
  std::uint64_t merges = 0;        // merges this thread did (any kind)
  std::uint64_t actor_merges = 0;  // of which for an owner that was not attached

  BrcCounters& operator-=(const BrcCounters& o) noexcept {
    queued -= o.queued;
    merges -= o.merges;
    actor_merges -= o.actor_merges;
    return *this;
  }
  BrcCounters& operator+=(const BrcCounters& o) noexcept {
    queued += o.queued;
    merges += o.merges;
    actor_merges += o.actor_merges;
    return *this;
  }
};

namespace detail {
inline thread_local BrcCounters tls_brc_counters;

// The calling thread's id, or 0 if it has none yet: such a thread has made
// no object, owns none, and 0 matches no header's tid (ids start at 1, and
// merged objects hold kUnowned), so it is rightly a non-owner. Unlike
// current_thread_id() this never assigns an id: one TLS load, no branch.
inline std::uint32_t tid_if_any() noexcept { return tls_thread_id; }
}  // namespace detail

struct BiasedRc {
  static constexpr std::string_view kName = "biased_rc";
  static constexpr bool kThreaded = true;

  // `local` of an immortal object (PEP 683 / PEP 703), whose `tid` is
  // kImmortalTid: incref and decref are no-ops. An owner that took 2^32 - 1
  // references would wrap `local` (CPython makes such an object immortal; no
  // workload comes near it, and a debug build asserts).
  static constexpr std::uint32_t kImmortal = UINT32_MAX;

  // `shared` = count << kShift | state.
  static constexpr int kShift = 2;
  static constexpr std::int64_t kOne = std::int64_t{1} << kShift;
  static constexpr std::int64_t kStateMask = kOne - 1;
  static constexpr std::int64_t kDefault = 0;
  static constexpr std::int64_t kMaybeWeakref = 1;  // in the encoding, never set here
  static constexpr std::int64_t kQueued = 2;
  static constexpr std::int64_t kMerged = 3;

  // `tid` of a merged object. CPython uses 0; here 0 is what tid_if_any()
  // reads on a thread without an id, which must never look like an owner.
  static constexpr std::uint32_t kUnowned = UINT32_MAX;
  // `tid` of an immortal object: no thread's id either, so every thread takes
  // the non-owner path, which tests for it before touching `shared`.
  static constexpr std::uint32_t kImmortalTid = UINT32_MAX - 1;

  struct Header {
    // ob_tid: the owner's thread id, kUnowned once the counts are merged,
    // kImmortalTid if immortal. Written by the creator (and make_immortal,
    // before sharing), then only to kUnowned, by a merging thread (the owner,
    // or an actor while the owner is not attached); read by every incref and
    // decref. Atomic (relaxed) because non-owners read it while it may change.
    std::atomic<std::uint32_t> tid;
    // ob_ref_local: the owner's references. A plain integer: only the owner
    // reads or writes it, or a merging actor while the owner is not attached
    // (ordered after the owner's last write by the registry bucket's mutex);
    // non-owners test immortality on `tid`, never here. So the owner's
    // increment is one plain `add` to memory.
    std::uint32_t local = 1;
    // ob_ref_shared: non-owner references (taken minus dropped, may be
    // negative while queued) << kShift | state. Written by non-owners and
    // mergers with atomic RMWs; decrements are CAS loops because the state
    // decides what they do.
    std::atomic<std::int64_t> shared{kDefault};
    // Guards a container's contents (list items, dict slots), not the counts.
    ObjectMutex mutex;
    // ob_gc_bits: kGcShared once a thread other than the owner has taken
    // the container's lock. Set under that lock; read without it by
    // optimistic readers (relaxed: a reader that misses it takes the lock).
    std::atomic<std::uint8_t> gc_bits{0};

    Header() noexcept : tid(current_thread_id()) {}
  };

  class Runtime;

  // The owner's incref/decref are plain; another thread's an atomic RMW on
  // `shared`; every container write takes the container's mutex, reads none.
  static constexpr CostModel kCost{
      .foreign_ref_atomic = 1, .container_mutex = 1, .lock_free_reads = true, .shares_header = true};

  // Always inlined, as CPython's Py_INCREF/Py_DECREF are: GCC's heuristics
  // otherwise keep them out of line in recursive walks, a call per count.
  [[gnu::always_inline]] static void incref(Header& h) noexcept {
    // Relaxed: `tid` changes from the owner's id (to kUnowned) only by the
    // owner or while it is not attached, so reading our own id in it is never
    // stale; any other value sends us to the non-owner path, which is right
    // for it too.
    const std::uint32_t tid = h.tid.load(std::memory_order_relaxed);
    if (tid == detail::tid_if_any()) [[likely]] {
      assert(h.local != kImmortal - 1 && "an owner's count would wrap");
      ++h.local;  // ours alone: a plain add, no lock prefix
      return;
    }
    if (tid == kImmortalTid) [[unlikely]] return;
    // Relaxed: taking a reference orders nothing (the caller holds one).
    h.shared.fetch_add(kOne, std::memory_order_relaxed);
  }

  // The owner's path inline; a non-owner's (a CAS loop) and the owner's merge
  // out of line, as _Py_DecRefShared and _Py_MergeZeroLocalRefcount are.
  [[gnu::always_inline]] static bool decref(Header& h) noexcept {
    const std::uint32_t tid = h.tid.load(std::memory_order_relaxed);  // relaxed: as in incref
    if (tid == detail::tid_if_any()) [[likely]] {
      assert(h.local > 0 && "owner decref of a dead object");
      if (--h.local != 0) [[likely]] return false;
      // Acquire: if we free, every non-owner's use of the object (ended by
      // its release decrement of `shared`) must happen before the free.
      if (h.shared.load(std::memory_order_acquire) == kDefault) [[likely]]
        return true;  // the fast path: default state, no other reference
      return merge_zero_local(h);
    }
    if (tid == kImmortalTid) [[unlikely]] return false;
    return decref_shared(h);
  }

  // PEP 683. Call before any other thread can see the object.
  static void make_immortal(Header& h) noexcept {
    h.local = kImmortal;
    h.tid.store(kImmortalTid, std::memory_order_relaxed);  // relaxed: sharing publishes it
  }
  static bool is_immortal(const Header& h) noexcept {
    return h.tid.load(std::memory_order_relaxed) == kImmortalTid;  // relaxed: as in incref
  }

  static ObjectGuard lock(Header& h) noexcept { return ObjectGuard(h.mutex); }

  // Optimistic reads of list items (runtime/object.hpp's OptimisticReads).
  static constexpr bool kOptimisticReads = true;
  static constexpr std::uint8_t kGcShared = 1;
  static bool owned_by_current_thread(const Header& h) noexcept {
    return h.tid.load(std::memory_order_relaxed) == detail::tid_if_any();  // relaxed: as in incref
  }
  static bool is_shared(const Header& h) noexcept {
    return (h.gc_bits.load(std::memory_order_relaxed) & kGcShared) != 0;  // relaxed: see gc_bits
  }
  static void mark_shared(Header& h) noexcept {
    h.gc_bits.fetch_or(kGcShared, std::memory_order_relaxed);  // relaxed: under the container's lock
  }
  // Drop one reference once no optimistic reader can hold a pointer to h
  // that it loaded before now (QSBR); at once on a thread that is not
  // attached (no worker can be reading then).
  static void retire_ref(Header& h) noexcept;
  // Free p (heap_raw_alloc'd, `bytes` long) likewise.
  static void retire_block(void* p, std::size_t bytes) noexcept;
  static OrderedPairGuard lock(Header& a, Header& b) noexcept {
    return OrderedPairGuard(a.mutex, b.mutex);
  }

  // Moves `local` (and `extra`) into `shared`, gives up ownership, sets the
  // state to merged. RETURNS: the object's count after the merge; the caller
  // frees it at 0. The caller is the owner, or the owner is not attached.
  static std::int64_t merge(Header& h, std::int64_t extra) noexcept;

  // The owner's `local` reached zero and others hold references or the
  // object is queued (_Py_MergeZeroLocalRefcount's slow path): merge the
  // state, keep the count. RETURNS: true if the caller must free the object.
  static bool merge_zero_local(Header& h) noexcept;

  // A non-owner's decref (_Py_DecRefShared). RETURNS: true if the caller frees.
  static bool decref_shared(Header& h) noexcept;

  [[noreturn]] static void fatal(const char* what) noexcept;

 private:
  // Pushes h, with the reference being dropped, onto its owner's queue, or
  // merges it here if the owner is not attached. RETURNS: true if the caller
  // must free it (the merge here left no reference).
  static bool queue_object(Header& h) noexcept;
};

namespace detail {
// A worker's entry in the QSBR table (static storage, so another thread may
// read or signal it at any time, even after its worker is gone).
struct alignas(64) BrcSlot {
  static constexpr std::uint64_t kOffline = UINT64_MAX;  // never waited for
  static constexpr std::uint8_t kMerge = 1;  // its queue has objects to merge
  static constexpr std::uint8_t kQsbr = 2;   // report a quiescent state / poll
  std::atomic<bool> used{false};
  // The eval breaker: checkpoint() polls it (one relaxed load); pushers and
  // retirers set bits with fetch_or; the worker clears it with exchange.
  std::atomic<std::uint8_t> breaker{0};
  // The write sequence this worker saw at its last quiescent point.
  std::atomic<std::uint64_t> seen{kOffline};
};
// The slot of a worker that is not attached (and of the main thread): in no
// table, so no one waits for it; bits set on it are ignored.
inline BrcSlot idle_brc_slot;
}  // namespace detail

// Per-run state: the merge statistics and the main thread's membership. The
// owners' queues live in their Workers, which attach() registers in a
// process-wide table keyed by thread id, so a non-owner's decref (a static
// function that sees only the header) can find the owner of an object from
// its `tid`; their QSBR state lives in the static slot table.
class BiasedRc::Runtime {
 public:
  // An object reference (object) or an array (block, bytes) to drop or free
  // once every attached worker has seen `goal` (0: not sealed yet).
  struct Retired {
    std::uint64_t goal = 0;
    Header* object = nullptr;
    void* block = nullptr;
    std::size_t bytes = 0;
  };

  struct Worker {
    explicit Worker(int worker) noexcept : index(worker) {}
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    int index;              // the worker index, for messages
    std::uint32_t tid = 0;  // this worker's thread id while attached; written by attach()
    // Objects other threads queued to this owner, each with one reference
    // for it to drop. Guarded by the mutex of this worker's registry bucket.
    std::vector<Header*> queue;
    BrcCounters at_attach;  // this thread's counters at attach(); owner only
    // Its slot in the QSBR table while attached (a slot no one polls
    // before). checkpoint() reads the breaker through it.
    detail::BrcSlot* slot = &detail::idle_brc_slot;
    // What this thread retired, oldest first (goals never decrease); owner only.
    std::vector<Retired> retired;
    std::size_t unsealed = 0;  // entries at the end of `retired` with goal 0
  };

  explicit Runtime(const RunConfig&) {}
  ~Runtime();  // frees what detached workers left to free (all are gone)
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  void attach(Worker& w);
  void detach(Worker& w);  // merges what is queued, then leaves the registry
  void checkpoint(Worker& w) noexcept {
    // Relaxed: only a hint; service() reads the queue under the mutex and
    // the QSBR state with its own ordering.
    if (w.slot->breaker.load(std::memory_order_relaxed)) [[unlikely]] service(w);
  }
  // A blocking call: merge first, so nothing waits on the queue meanwhile,
  // seal what is retired, and go offline for QSBR until reacquire().
  void release(Worker& w) noexcept;
  void reacquire(Worker& w) noexcept;
  // The main thread as an owner for the run (see the notes): attach_main()
  // before it builds the shared state, detach_main() after it has freed it
  // and every worker has detached (merges its queue, frees the orphans).
  void attach_main();
  void detach_main();
  RuntimeStats stats() const;
  static constexpr const Metric* kMetrics[] = {&kBrcQueued, &kBrcMerges, &kBrcActorMerges};

 private:
  static void service(Worker& w) noexcept;
  static void merge_queue(Worker& w) noexcept;

  mutable std::mutex mutex_;  // guards totals_
  BrcCounters totals_;        // the workers' counters between attach and detach
  Worker main_{-1};           // the main thread's registration (attach_main)
  bool main_attached_ = false;
};

static_assert(Strategy<BiasedRc>);
static_assert(sizeof(BiasedRc::Header) <= 24);

}  // namespace gilbench
