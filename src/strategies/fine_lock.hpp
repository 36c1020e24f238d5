// Notes on fine_lock.
//
// The alternative the GIL was chosen over: every object carries its own lock
// (ObjectMutex, 4 bytes), and that lock guards both the reference count and
// the object's contents. An incref is lock + add + unlock, i.e. two atomic
// read-modify-writes where the GIL build pays one plain add; a container
// operation takes the container's lock; two-object operations lock in
// address order. Greg Stein's 1996 free-threading patch and Gilectomy's first
// stage took this shape, and paid for it on a single thread.
//
// Simplification: no deadlock-avoiding critical sections (PEP 703 suspends
// outer locks when an inner one blocks); the runtime never holds one object's
// lock while waiting for a second except through lock(a, b), which orders
// them, and incref/decref of another object inside a container's lock, which
// takes a leaf lock and releases it before anything else.
#pragma once

#include <atomic>
#include <cassert>
#include <cstdint>
#include <string_view>

#include "strategies/object_mutex.hpp"
#include "strategies/strategy.hpp"

namespace gilbench {

struct FineLock {
  static constexpr std::string_view kName = "fine_lock";
  static constexpr bool kThreaded = true;

  // The count of an immortal object (PEP 683): never changed, so incref and
  // decref test for it before taking the lock.
  static constexpr std::uint32_t kImmortal = UINT32_MAX;

  struct Header {
    ObjectMutex mutex;  // guards refcnt and the object's contents
    // Guarded by mutex. Atomic only so the immortal test may read it without
    // the lock; every access is relaxed (a plain mov), the mutex orders them.
    std::atomic<std::uint32_t> refcnt{1};
  };
  using Runtime = NoRuntime;
  // Every incref/decref the object's mutex; every container access too.
  static constexpr CostModel kCost{.ref_mutex = 1, .container_mutex = 1, .shares_header = true};

  static void incref(Header& h) noexcept {
    // Relaxed, unlocked: only tests for kImmortal, stored before sharing.
    if (h.refcnt.load(std::memory_order_relaxed) == kImmortal) [[unlikely]] return;
    h.mutex.lock();
    // Relaxed: the mutex orders this read-modify-write (two plain movs).
    h.refcnt.store(h.refcnt.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    h.mutex.unlock();
  }
  static bool decref(Header& h) noexcept {
    if (h.refcnt.load(std::memory_order_relaxed) == kImmortal) [[unlikely]]  // as in incref
      return false;
    h.mutex.lock();
    const std::uint32_t n = h.refcnt.load(std::memory_order_relaxed);  // relaxed: under the mutex
    assert(n > 0 && "decref of a dead object");
    h.refcnt.store(n - 1, std::memory_order_relaxed);
    h.mutex.unlock();
    return n == 1;
  }
  // PEP 683. Call before any other thread can see the object.
  static void make_immortal(Header& h) noexcept {
    h.refcnt.store(kImmortal, std::memory_order_relaxed);  // relaxed: sharing publishes it
  }
  static bool is_immortal(const Header& h) noexcept {
    return h.refcnt.load(std::memory_order_relaxed) == kImmortal;  // relaxed: as in incref
  }
  static ObjectGuard lock(Header& h) noexcept { return ObjectGuard(h.mutex); }
  static OrderedPairGuard lock(Header& a, Header& b) noexcept {
    return OrderedPairGuard(a.mutex, b.mutex);
  }
};

static_assert(Strategy<FineLock>);
static_assert(sizeof(FineLock::Header) == 8);

}  // namespace gilbench
