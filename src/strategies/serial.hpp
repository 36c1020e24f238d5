// Notes on serial.
//
// One worker, no synchronisation at all: counts are plain integers and
// containers have no lock. It is the per-core ceiling that every speedup and
// every single-worker overhead in the suite is measured against, and the
// policy each worker process of the `process` runner uses on its own heap.
#pragma once

#include <cassert>
#include <cstdint>
#include <string_view>

#include "strategies/strategy.hpp"

namespace gilbench {

// A count that something outside the object (one thread, or the GIL) keeps
// safe. Signed, like Py_ssize_t, so a decref below zero is visible.
struct PlainHeader {
  std::int64_t refcnt = 1;
};

// incref/decref on a PlainHeader: CPython's default-build Py_INCREF/Py_DECREF,
// with PEP 683's immortal objects (a count of kImmortal is never changed).
struct PlainCount {
  using Header = PlainHeader;
  // The count of an immortal object. No mortal count gets near it, and it
  // fits a 32-bit immediate, so the test is one cmp with no constant to keep
  // in a register (INT64_MAX cost ~4 instructions a step on countdown).
  static constexpr std::int64_t kImmortal = INT32_MAX;
  static void incref(Header& h) noexcept {
    if (h.refcnt == kImmortal) [[unlikely]] return;
    ++h.refcnt;
  }
  static bool decref(Header& h) noexcept {
    if (h.refcnt == kImmortal) [[unlikely]] return false;
    assert(h.refcnt > 0 && "decref of a dead object");
    return --h.refcnt == 0;
  }
  static void make_immortal(Header& h) noexcept { h.refcnt = kImmortal; }
  static bool is_immortal(const Header& h) noexcept { return h.refcnt == kImmortal; }
  static NoGuard lock(Header&) noexcept { return {}; }
  static NoGuard lock(Header&, Header&) noexcept { return {}; }
};

struct Serial : PlainCount {
  static constexpr std::string_view kName = "serial";
  static constexpr bool kThreaded = false;
  using Runtime = NoRuntime;
};

static_assert(Strategy<Serial>);

}  // namespace gilbench
