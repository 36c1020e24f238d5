// shared_read_immortal: shared_read over a tree of immortal objects (PEP 683).
//
// The same walks, parameters and checksum as shared_read, but every node of
// the shared tree is made immortal when it is built, as CPython does for small
// ints, interned strings and shared constants: incref and decref become a
// load and a branch and write nothing, so the workers no longer fight over
// the cache lines of the counts. Next to shared_read this shows what
// immortality buys under contention (atomic_rc and biased_rc gain the most;
// under the GIL the walks still take turns). Strategies without immortal
// counts run it with ordinary counting (see ImmortalSet). The State's
// ImmortalSet frees the tree when the run's shared state goes.
#pragma once

#include <string_view>

#include "workloads/shared_read.hpp"

namespace gilbench {

struct SharedReadImmortal : SharedRead {
  static constexpr std::string_view kName = "shared_read_immortal";

  template <Strategy S>
  struct State : SharedRead::State<S> {
    explicit State(const Params& p) : SharedRead::State<S>(p, /*immortal=*/true) {}
  };
};

}  // namespace gilbench
