// atomic_rc: the count's arithmetic, the immortal state, and the lifetime
// probe (every object freed exactly once) over cross-thread hand-offs.
#include <gtest/gtest.h>

#include "lifetime_probe.hpp"
#include "strategies/atomic_rc.hpp"
#include "test_support.hpp"

namespace gilbench {
namespace {

using H = AtomicRc::Header;

TEST(AtomicRc, LastDecrefFrees) {
  H h;
  EXPECT_EQ(h.refcnt.load(), 1u);
  AtomicRc::incref(h);
  AtomicRc::incref(h);
  EXPECT_EQ(h.refcnt.load(), 3u);
  EXPECT_FALSE(AtomicRc::decref(h));
  EXPECT_FALSE(AtomicRc::decref(h));
  EXPECT_TRUE(AtomicRc::decref(h)) << "the drop of the last reference frees";
}

TEST(AtomicRc, ImmortalCountsNeverChange) {
  H h;
  AtomicRc::make_immortal(h);
  EXPECT_TRUE(AtomicRc::is_immortal(h));
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(AtomicRc::decref(h));
  AtomicRc::incref(h);
  EXPECT_EQ(h.refcnt.load(), AtomicRc::kImmortal);
}

TEST(AtomicRc, ConcurrentIncrefDecrefKeepTheCount) {
  H h;
  AllocLedger ledger;
  test::run_threads(4, ledger, [&](int) {
    for (int i = 0; i < 20000; ++i) {
      AtomicRc::incref(h);
      EXPECT_FALSE(AtomicRc::decref(h));
    }
  });
  EXPECT_EQ(h.refcnt.load(), 1u);
  EXPECT_TRUE(AtomicRc::decref(h));
}

TEST(AtomicRcLifetime, ProducerConsumer) {
  test::Probe<AtomicRc> probe;
  std::int64_t made;
  {
    AllocLedger::Scope main_thread(probe.ledger);
    made = test::producer_consumer(probe, /*pairs=*/2, /*per_producer=*/3000, /*owners_leave_first=*/false);
  }
  const AllocCounts c = probe.ledger.total();
  EXPECT_EQ(c.allocated, made);
  EXPECT_EQ(c.live(), 0) << "allocated " << c.allocated << ", freed " << c.freed;
}

TEST(AtomicRcLifetime, CreatorsLeaveBeforeTheOthersDrop) {
  test::Probe<AtomicRc> probe;
  std::int64_t made;
  {
    AllocLedger::Scope main_thread(probe.ledger);
    made = test::producer_consumer(probe, 2, 3000, /*owners_leave_first=*/true);
  }
  const AllocCounts c = probe.ledger.total();
  EXPECT_EQ(c.allocated, made);
  EXPECT_EQ(c.live(), 0) << "allocated " << c.allocated << ", freed " << c.freed;
}

TEST(AtomicRcLifetime, SharedDictChurn) {
  test::Probe<AtomicRc> probe;
  std::int64_t made;
  {
    AllocLedger::Scope main_thread(probe.ledger);
    made = test::shared_dict_churn(probe, 4, 3000);
  }
  const AllocCounts c = probe.ledger.total();
  EXPECT_EQ(c.allocated, made);
  EXPECT_EQ(c.live(), 0);
}

}  // namespace
}  // namespace gilbench
