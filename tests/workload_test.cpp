// Every strategy x workload x worker count reproduces the serial checksum
// and frees every object it made; the serial tallies match closed forms.
#include <gtest/gtest.h>

#include "runners/threads.hpp"
#include "strategies/all.hpp"
#include "workloads/all.hpp"

namespace gilbench {
namespace {

TEST(SerialTally, CountdownSumsEveryValue) {
  const auto p = Countdown::params(Scale::kTiny);
  const Tally t = serial_tally<Countdown>(p);
  EXPECT_EQ(t.items, static_cast<std::uint64_t>(p.n));
  EXPECT_EQ(t.sum, static_cast<std::uint64_t>(p.n * (p.n - 1) / 2));
}

TEST(SerialTally, BinaryTreesCountsEveryNode) {
  const auto p = BinaryTrees::params(Scale::kTiny);
  const Tally t = serial_tally<BinaryTrees>(p);
  std::uint64_t nodes = 0;
  for (int d = p.min_depth; d <= p.max_depth; d += 2)
    nodes += (std::uint64_t{1} << (p.max_depth - d + p.min_depth)) * ((std::uint64_t{2} << d) - 1);
  EXPECT_EQ(t.items, nodes);
  EXPECT_EQ(t.sum, nodes);
}

TEST(SerialTally, ListSumSumsEveryElement) {
  const auto p = ListSum::params(Scale::kTiny);
  const Tally t = serial_tally<ListSum>(p);
  const auto n = static_cast<std::uint64_t>(p.rounds * p.length);
  EXPECT_EQ(t.items, n);
  EXPECT_EQ(t.sum, n * (n - 1) / 2);
}

TEST(SerialTally, SharedReadVisitsTheWholeTreeEachWalk) {
  const auto p = SharedRead::params(Scale::kTiny);
  const Tally t = serial_tally<SharedRead>(p);
  const std::uint64_t nodes = (std::uint64_t{2} << p.depth) - 1;
  EXPECT_EQ(t.items, nodes * static_cast<std::uint64_t>(p.walks));
  EXPECT_EQ(t.sum, static_cast<std::uint64_t>(p.walks) * nodes * (nodes + 1) / 2);
}

TEST(SerialTally, SharedDictCountsEveryToken) {
  const auto p = SharedDict::params(Scale::kTiny);
  const Tally t = serial_tally<SharedDict>(p);
  std::int64_t total = 0;
  for (const auto& [word, n] : t.counts) total += n;
  EXPECT_EQ(total, p.tokens);
  EXPECT_EQ(t.items, static_cast<std::uint64_t>(p.tokens));
  EXPECT_EQ(t.counts.size(), static_cast<std::size_t>(p.vocabulary));
}

TEST(Tally, ChecksumSeesEveryField) {
  Tally a;
  a.items = 3;
  a.sum = 10;
  a.counts["x"] = 2;
  Tally b = a;
  EXPECT_EQ(a.checksum(), b.checksum());
  b.counts["x"] = 3;
  EXPECT_NE(a.checksum(), b.checksum());
  b = a;
  b.sum = 11;
  EXPECT_NE(a.checksum(), b.checksum());
  b = a;
  b.items = 4;
  EXPECT_NE(a.checksum(), b.checksum());
}

TEST(Shard, CoversTheRangeExactlyOnce) {
  for (int count = 1; count <= 9; ++count) {
    std::int64_t covered = 0;
    std::int64_t prev_end = 0;
    for (int i = 0; i < count; ++i) {
      Shard s{i, count};
      EXPECT_EQ(s.begin(1001), prev_end);
      covered += s.end(1001) - s.begin(1001);
      prev_end = s.end(1001);
    }
    EXPECT_EQ(covered, 1001);
  }
}

// One test per strategy x workload, each over workers {1, 2, 4}.
class MatrixTest : public ::testing::Test {
 public:
  explicit MatrixTest(std::function<void()> body) : body_(std::move(body)) {}
  void TestBody() override { body_(); }

 private:
  std::function<void()> body_;
};

template <Strategy S, Workload W>
void check_matrix_cell() {
  const auto params = W::params(Scale::kTiny);
  const Tally expected = serial_tally<W>(params);
  for (int workers : {1, 2, 4}) {
    if (!S::kThreaded && workers > 1) continue;
    SCOPED_TRACE("workers:" + std::to_string(workers));
    RunConfig config;
    config.workers = workers;
    config.switch_interval = std::chrono::microseconds(100);  // force hand-offs
    WorkerPool pool(workers);
    const RunResult r = run_threads<S, W>(pool, config, params);
    EXPECT_EQ(r.tally.checksum(), expected.checksum());
    EXPECT_EQ(r.tally.items, expected.items);
    EXPECT_EQ(r.tally.sum, expected.sum);
    EXPECT_EQ(r.allocs.live(), 0) << "allocated " << r.allocs.allocated << ", freed " << r.allocs.freed;
    EXPECT_GT(r.allocs.allocated, 0);
  }
}

const bool registered = [] {
  for_each_type(AllStrategies{}, []<Strategy S> {
    for_each_type(AllWorkloads{}, []<Workload W> {
      const std::string name = std::string(W::kName) + "_" + std::string(S::kName);
      ::testing::RegisterTest("Matrix", name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                              []() -> ::testing::Test* { return new MatrixTest(check_matrix_cell<S, W>); });
    });
  });
  return true;
}();

}  // namespace
}  // namespace gilbench
