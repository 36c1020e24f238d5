// Every workload of the suite, in the order runs and charts list them.
// Adding one: its header in this folder, one include and one entry here.
#pragma once

#include "runtime/typelist.hpp"
#include "workloads/binary_trees.hpp"
#include "workloads/c_call.hpp"
#include "workloads/countdown.hpp"
#include "workloads/list_sum.hpp"
#include "workloads/pipe_io.hpp"
#include "workloads/shared_dict.hpp"
#include "workloads/shared_read.hpp"
#include "workloads/shared_read_immortal.hpp"
#include "workloads/sleep_io.hpp"
#include "workloads/transfer.hpp"

namespace gilbench {

using AllWorkloads = TypeList<Countdown, BinaryTrees, ListSum, SharedRead, SharedReadImmortal, SharedDict, Transfer, CCall, SleepIo, PipeIo>;

}  // namespace gilbench
