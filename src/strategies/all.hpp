// Every in-process strategy of the suite, in the order runs and charts list
// them. Adding one: its header in this folder, one include and one entry here.
// (`process` is a runner over Serial, see src/runners/processes.hpp.)
#pragma once

#include "runtime/typelist.hpp"
#include "strategies/atomic_rc.hpp"
#include "strategies/biased_rc.hpp"
#include "strategies/fine_lock.hpp"
#include "strategies/fine_lock_naive.hpp"
#include "strategies/gil.hpp"
#include "strategies/gil_legacy.hpp"
#include "strategies/gil_priority.hpp"
#include "strategies/serial.hpp"

namespace gilbench {

using AllStrategies = TypeList<Serial, Gil, GilPriority, GilLegacy, FineLock, FineLockNaive, AtomicRc, BiasedRc>;

}  // namespace gilbench
