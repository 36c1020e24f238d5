// The numbers behind the summary's judgements: the fingerprint's layout, the
// operation counts of the explained-overheads model and its arithmetic, and
// the statistics of the adaptive repetitions. Counts and states only.
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "explain.hpp"
#include "report/fingerprint.hpp"
#include "report/sample_stats.hpp"
#include "strategies/all.hpp"
#include "workloads/all.hpp"

namespace gilbench {
namespace {

TEST(Fingerprint, HoldsTheIdentityTheUnitCostsAndTheSpread) {
  const nlohmann::json fp = machine_fingerprint();
  for (const char* k : {"vendor", "family", "model", "stepping", "model_name", "online_cpus", "allowed_cpus",
                        "smt_siblings", "caches", "kernel", "clocksource"})
    EXPECT_TRUE(fp["cpu"].contains(k)) << k;
  for (const char* k : {"plain_increment", "atomic_rmw", "atomic_rmw_marginal", "cache_line_round_trip_min", "cache_line_round_trip_median",
                        "shared_ref_marginal", "mutex_uncontended", "mutex_contended", "futex_wake", "futex_wake_max", "pipe_round_trip",
                        "thread_start", "process_start"}) {
    ASSERT_TRUE(fp["unit_costs_ns"].contains(k)) << k;
    const double v = fp["unit_costs_ns"][k].get<double>();
    EXPECT_TRUE(v > 0 || v == -1) << k << " = " << v;  // -1: not measurable here (one CPU)
  }
  const std::size_t cpus = fp["cpu"]["allowed_cpus"].size();
  const std::size_t n = std::min<std::size_t>(cpus, 8);
  EXPECT_EQ(fp["cache_line_pairs"].size(), n * (n - 1) / 2);
  EXPECT_EQ(fp["speed_spread"]["runs"].get<int>(), 21);
  EXPECT_NE(describe_fingerprint(fp).find("unit costs:"), std::string::npos);
}

TEST(OpCounts, CountLocalAndForeignReferencesAndAccesses) {
  const auto countdown = Countdown::params(Scale::kTiny);
  const OpCounts c = count_ops<Countdown>(nlohmann::json(countdown));
  EXPECT_EQ(c.foreign_refs, 0) << "countdown makes all its objects";
  EXPECT_GT(c.local_refs, 0);
  EXPECT_GT(c.checkpoints, 0);
  // shared_read walks a tree the calling thread built: every count is foreign,
  // and its immortal twin writes none.
  const auto tree = SharedRead::params(Scale::kTiny);
  const OpCounts shared = count_ops<SharedRead>(nlohmann::json(tree));
  const auto nodes = static_cast<double>((std::int64_t{2} << tree.depth) - 1);
  EXPECT_EQ(shared.foreign_refs, 2 * nodes * static_cast<double>(tree.walks));
  EXPECT_EQ(shared.local_refs, 0);
  EXPECT_EQ(count_ops<SharedReadImmortal>(nlohmann::json(tree)).foreign_refs, 0);
  // list_sum reads and writes its own lists through their locks.
  const OpCounts lists = count_ops<ListSum>(nlohmann::json(ListSum::params(Scale::kTiny)));
  EXPECT_GT(lists.local_accesses, 0);
  EXPECT_EQ(lists.foreign_accesses, 0);
}

TEST(Explain, ThePredictionIsTheCostModelTimesTheUnitCosts) {
  OpCounts ops;
  ops.local_refs = 1e6;
  ops.foreign_refs = 2e6;
  ops.local_accesses = 1e5;
  ops.foreign_accesses = 3e5;
  ops.checkpoints = 5e5;
  UnitCosts u;
  u.plain = 0.5;
  u.atomic = 9.5;  // a chain on one object: not what a reference operation costs
  u.atomic_marginal = 5;
  u.mutex = 10;
  u.mutex_contended = 30;
  u.round_trip = 100;
  u.shared_ref = 4;  // two CPUs on the same objects: transfers overlap with other work
  auto value = [](const RuntimeStats& s, const Metric& m) { return s.value(m, -1); };
  // atomic_rc: every count an atomic (5 ns more), every access a mutex.
  const RuntimeStats a = explain(ops, cost_of<AtomicRc>(), false, 1, u);
  EXPECT_DOUBLE_EQ(value(a, kModelExtraMs), (3e6 * 5 + 4e5 * 10) * 1e-6);
  EXPECT_EQ(value(a, kModelContentionMs), -1) << "no contention at one worker";
  // biased_rc: only the foreign counts are atomic.
  EXPECT_DOUBLE_EQ(value(explain(ops, cost_of<BiasedRc>(), false, 1, u), kModelExtraMs), (2e6 * 5 + 4e5 * 10) * 1e-6);
  // serial and the GIL's plain counts cost nothing more.
  EXPECT_DOUBLE_EQ(value(explain(ops, cost_of<Serial>(), false, 1, u), kModelExtraMs), 0);
  // At 2 workers each worker moves the line of every foreign header it counts
  // (shared_ref), and every locked access to a shared container hands the
  // lock's line over, a round trip, one hand-over at a time (not divided by
  // the workers).
  const RuntimeStats two = explain(ops, cost_of<AtomicRc>(), false, 2, u);
  EXPECT_DOUBLE_EQ(value(two, kModelContentionMs), (2e6 / 2 * 4 + 3e5 * 100) * 1e-6);
  // biased_rc reads without the lock: only its writes hand the lock over.
  ops.foreign_reads = 1e5;
  EXPECT_DOUBLE_EQ(value(explain(ops, cost_of<BiasedRc>(), false, 2, u), kModelContentionMs),
                   (2e6 / 2 * 4 + 2e5 * 100) * 1e-6);
  EXPECT_DOUBLE_EQ(value(explain(ops, cost_of<AtomicRc>(), false, 2, u), kModelContentionMs),
                   (2e6 / 2 * 4 + 3e5 * 100) * 1e-6);
  EXPECT_DOUBLE_EQ(value(explain(ops, cost_of<Gil>(), false, 2, u), kModelContentionMs), 0);
}

TEST(UnitCosts, TheMarginalAtomicOrForOlderFilesTheChainLessAPlainIncrement) {
  nlohmann::json fp = {{"unit_costs_ns", {{"plain_increment", 0.3}, {"atomic_rmw", 8.3}, {"atomic_rmw_marginal", 3.8}}}};
  EXPECT_DOUBLE_EQ(UnitCosts::from(fp).atomic_marginal, 3.8);
  fp["unit_costs_ns"].erase("atomic_rmw_marginal");
  EXPECT_DOUBLE_EQ(UnitCosts::from(fp).atomic_marginal, 8.0);
}

TEST(UnitCosts, SharingsCostPerReferenceOrForOlderFilesHalfARoundTrip) {
  nlohmann::json fp = {{"unit_costs_ns", {{"cache_line_round_trip_median", 120.0}, {"shared_ref_marginal", 1.5}}}};
  EXPECT_DOUBLE_EQ(UnitCosts::from(fp).shared_ref, 1.5);
  fp["unit_costs_ns"]["shared_ref_marginal"] = -1;  // one CPU: not measured
  EXPECT_DOUBLE_EQ(UnitCosts::from(fp).shared_ref, 60);
  fp["unit_costs_ns"].erase("shared_ref_marginal");
  EXPECT_DOUBLE_EQ(UnitCosts::from(fp).shared_ref, 60);
}

TEST(SampleStats, TheMediansIntervalAndTwoClusters) {
  EXPECT_TRUE(std::isinf(median_ci_relative({1, 2, 3, 4, 5})));
  std::vector<double> flat(21, 10.0);
  EXPECT_DOUBLE_EQ(median_ci_relative(flat), 0);
  std::vector<double> spread;
  for (int i = 0; i < 21; ++i) spread.push_back(90 + i);  // 90..110, median 100
  const double ci = median_ci_relative(spread);
  EXPECT_GT(ci, 0.02);
  EXPECT_LT(ci, 0.06);
  EXPECT_FALSE(is_bimodal(spread));
  std::vector<double> two;
  for (int i = 0; i < 10; ++i) two.push_back(60 + i * 0.1);
  for (int i = 0; i < 11; ++i) two.push_back(120 + i * 0.1);
  EXPECT_TRUE(is_bimodal(two));
  EXPECT_FALSE(is_bimodal({100, 100, 100, 100, 100, 200}));  // one outlier is not a cluster
}

}  // namespace
}  // namespace gilbench
