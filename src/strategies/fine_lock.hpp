// Notes on fine_lock.
//
// The alternative the GIL was chosen over: every object carries its own
// lock, taken for every reference count change and every container access.
// An incref is lock + add + unlock, i.e. two atomic read-modify-writes where
// the GIL build pays one plain add. This is "fine-grained locking" as the
// Python FAQ describes Greg Stein's 1996 free-threading patches (at least 30%
// slower on one thread); Gilectomy counted with atomic instructions instead,
// which is atomic_rc.
//
// Two locks in one 4-byte word (SplitLock). One lock guarding both the count
// and the contents deadlocks on the runtime's own data: reading an item takes
// a reference to it while the container is locked, so `l.append(l); l[0]`
// would lock l twice, and two containers that hold each other, read by two
// threads, would lock in opposite orders. So, as PEP 703 splits the count
// from the lock that guards contents, the word holds two locks:
//   - the count lock (bit 0) guards refcnt and nothing else. It is a leaf:
//     its holder takes no other lock and never blocks, so anyone may wait
//     for it while holding other locks;
//   - the contents lock (bit 1) guards a container's items. A thread holds
//     at most two, taken together in address order (lock(a, b)); holding
//     them it takes only count locks.
// Every wait is for a leaf or for a higher address than any contents lock
// held, so no cycle of waits can form. PEP 703's critical sections get the
// same guarantee differently: a thread that would block suspends the locks it
// holds, which also allows opposite nesting; here the API never nests two
// contents locks except in one ordered step.
//
// Hot-path cost: incref/decref = a relaxed load (the immortal test), a
// `lock cmpxchg` to take the count lock, a plain load and store, a `lock
// cmpxchg` to release it; a container access the same pair on the contents
// lock. Contended: spin briefly, then sleep on the word (futex).
//
// Simplifications: one waiters bit for both locks, so an unlock wakes every
// sleeper of the word and those still blocked sleep again (fine for the
// handful of workers here; PyMutex keeps a queue per lock).
#pragma once

#include <atomic>
#include <cassert>
#include <cstdint>
#include <string_view>

#include "strategies/object_mutex.hpp"
#include "strategies/strategy.hpp"

namespace gilbench {

// The count lock and the contents lock of one object, in 4 bytes. lock() and
// unlock() are the contents lock, so the object guards can take it.
class SplitLock {
 public:
  static constexpr std::uint32_t kCountBit = 1;
  static constexpr std::uint32_t kContentsBit = 2;
  static constexpr std::uint32_t kWaitersBit = 4;  // someone sleeps on the word

  void lock_count() noexcept { lock_bit(kCountBit); }
  void unlock_count() noexcept { unlock_bit(kCountBit); }
  void lock() noexcept { lock_bit(kContentsBit); }
  void unlock() noexcept { unlock_bit(kContentsBit); }
  bool try_lock() noexcept {
    std::uint32_t v = word_.load(std::memory_order_relaxed);  // relaxed: a guess for the CAS
    // Acquire: the critical section sees what the last holder wrote.
    return !(v & kContentsBit) &&
           word_.compare_exchange_strong(v, v | kContentsBit, std::memory_order_acquire, std::memory_order_relaxed);
  }
  // For tests: the raw word.
  std::uint32_t bits() const noexcept { return word_.load(std::memory_order_relaxed); }

 private:
  [[gnu::always_inline]] void lock_bit(std::uint32_t bit) noexcept {
    std::uint32_t v = 0;
    // Acquire: the critical section sees what the last holder of this bit
    // wrote. The common case: the word is free.
    if (word_.compare_exchange_strong(v, bit, std::memory_order_acquire, std::memory_order_relaxed)) [[likely]]
      return;
    lock_slow(bit);
  }
  [[gnu::always_inline]] void unlock_bit(std::uint32_t bit) noexcept {
    std::uint32_t v = bit;
    // Release: publishes the critical section to the next holder. The common
    // case: only our bit set, nobody asleep.
    if (word_.compare_exchange_strong(v, 0, std::memory_order_release, std::memory_order_relaxed)) [[likely]]
      return;
    unlock_slow(bit);
  }

  // Out of line: the hot path is the two CASes above.
  [[gnu::noinline]] void lock_slow(std::uint32_t bit) noexcept {
    for (int spin = 0;; ++spin) {
      std::uint32_t v = word_.load(std::memory_order_relaxed);  // relaxed: the CAS decides
      if (!(v & bit)) {
        // Acquire: as in lock_bit. The other bits (the other lock, waiters)
        // are kept: a failed CAS (either changed) just retries.
        if (word_.compare_exchange_weak(v, v | bit, std::memory_order_acquire, std::memory_order_relaxed)) return;
        continue;
      }
      if (spin < kSpins) {
        spin_pause();
        continue;
      }
      // Held: say that someone sleeps, then sleep until the word changes.
      // Relaxed: the flag orders nothing; the futex compares the value.
      if (!(v & kWaitersBit) &&
          !word_.compare_exchange_weak(v, v | kWaitersBit, std::memory_order_relaxed, std::memory_order_relaxed))
        continue;
      word_.wait(v | kWaitersBit, std::memory_order_relaxed);
    }
  }
  [[gnu::noinline]] void unlock_slow(std::uint32_t bit) noexcept {
    // Clears the waiters bit with ours and wakes every sleeper: those whose
    // lock is still held set it again before they sleep. Release: as in unlock_bit.
    const std::uint32_t old = word_.fetch_and(~(bit | kWaitersBit), std::memory_order_release);
    assert((old & bit) && "unlock of a lock not held");
    if (old & kWaitersBit) word_.notify_all();
  }

  static constexpr int kSpins = 64;
  std::atomic<std::uint32_t> word_{0};
};

static_assert(sizeof(SplitLock) == 4);

struct FineLock {
  static constexpr std::string_view kName = "fine_lock";
  static constexpr bool kThreaded = true;

  // The count of an immortal object (PEP 683): never changed, so incref and
  // decref test for it before taking the lock.
  static constexpr std::uint32_t kImmortal = UINT32_MAX;

  struct Header {
    SplitLock mutex;  // count lock: refcnt; contents lock: a container's items
    // Guarded by the count lock. Atomic only so the immortal test may read it
    // without the lock; every access is relaxed (a plain mov), the lock orders them.
    std::atomic<std::uint32_t> refcnt{1};
  };
  using Runtime = NoRuntime;
  // Every incref/decref the object's count lock; every container access its contents lock.
  static constexpr CostModel kCost{.ref_mutex = 1, .container_mutex = 1, .shares_header = true};

  static void incref(Header& h) noexcept {
    // Relaxed, unlocked: only tests for kImmortal, stored before sharing.
    if (h.refcnt.load(std::memory_order_relaxed) == kImmortal) [[unlikely]] return;
    h.mutex.lock_count();
    // Relaxed: the count lock orders this read-modify-write (two plain movs).
    h.refcnt.store(h.refcnt.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    h.mutex.unlock_count();
  }
  static bool decref(Header& h) noexcept {
    if (h.refcnt.load(std::memory_order_relaxed) == kImmortal) [[unlikely]]  // as in incref
      return false;
    h.mutex.lock_count();
    const std::uint32_t n = h.refcnt.load(std::memory_order_relaxed);  // relaxed: under the count lock
    assert(n > 0 && "decref of a dead object");
    h.refcnt.store(n - 1, std::memory_order_relaxed);
    h.mutex.unlock_count();
    return n == 1;
  }
  // PEP 683. Call before any other thread can see the object.
  static void make_immortal(Header& h) noexcept {
    h.refcnt.store(kImmortal, std::memory_order_relaxed);  // relaxed: sharing publishes it
  }
  static bool is_immortal(const Header& h) noexcept {
    return h.refcnt.load(std::memory_order_relaxed) == kImmortal;  // relaxed: as in incref
  }
  static BasicObjectGuard<SplitLock> lock(Header& h) noexcept { return BasicObjectGuard<SplitLock>(h.mutex); }
  static BasicOrderedPairGuard<SplitLock> lock(Header& a, Header& b) noexcept {
    return BasicOrderedPairGuard<SplitLock>(a.mutex, b.mutex);
  }
};

static_assert(Strategy<FineLock>);
static_assert(sizeof(FineLock::Header) == 8);

}  // namespace gilbench
