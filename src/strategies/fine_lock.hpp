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

#include <cassert>
#include <cstdint>
#include <string_view>

#include "strategies/object_mutex.hpp"
#include "strategies/strategy.hpp"

namespace gilbench {

struct FineLock {
  static constexpr std::string_view kName = "fine_lock";
  static constexpr bool kThreaded = true;

  struct Header {
    ObjectMutex mutex;         // guards refcnt and the object's contents
    std::uint32_t refcnt = 1;  // guarded by mutex
  };
  using Runtime = NoRuntime;

  static void incref(Header& h) noexcept {
    h.mutex.lock();
    ++h.refcnt;
    h.mutex.unlock();
  }
  static bool decref(Header& h) noexcept {
    h.mutex.lock();
    assert(h.refcnt > 0 && "decref of a dead object");
    const bool last = --h.refcnt == 0;
    h.mutex.unlock();
    return last;
  }
  static ObjectGuard lock(Header& h) noexcept { return ObjectGuard(h.mutex); }
  static OrderedPairGuard lock(Header& a, Header& b) noexcept {
    return OrderedPairGuard(a.mutex, b.mutex);
  }
};

static_assert(Strategy<FineLock>);
static_assert(sizeof(FineLock::Header) == 8);

}  // namespace gilbench
