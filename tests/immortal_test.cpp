// Immortal objects (PEP 683): incref and decref are no-ops under every
// strategy, the ImmortalSet frees what it made
// immortal (the ledger balances), and shared_read_immortal computes what
// shared_read does while writing no count.
#include <thread>

#include <gtest/gtest.h>

#include "runners/threads.hpp"
#include "runtime/object.hpp"
#include "strategies/all.hpp"
#include "test_support.hpp"
#include "workloads/shared_read.hpp"
#include "workloads/shared_read_immortal.hpp"

namespace gilbench {
namespace {

template <class List>
struct ToGTest;
template <class... Ts>
struct ToGTest<TypeList<Ts...>> {
  using type = ::testing::Types<Ts...>;
};

template <class S>
class ImmortalTest : public ::testing::Test {};
TYPED_TEST_SUITE(ImmortalTest, ToGTest<AllStrategies>::type);

TYPED_TEST(ImmortalTest, IncrefAndDecrefAreNoOps) {
  using S = TypeParam;
  AllocLedger ledger;
  {
    AllocLedger::Scope scope(ledger);
    ImmortalSet<S> immortals;
    auto x = make<IntObj<S>>(5);
    immortals.add(x);
    EXPECT_TRUE(S::is_immortal(x->header));
    for (int i = 0; i < 1000; ++i) {
      S::incref(x->header);
      EXPECT_FALSE(S::decref(x->header));
      EXPECT_FALSE(S::decref(x->header)) << "dropping more than was taken is harmless";
    }
    EXPECT_TRUE(S::is_immortal(x->header));
    const std::int64_t freed = thread_alloc_counts().freed;
    x.reset();
    EXPECT_EQ(thread_alloc_counts().freed, freed) << "nothing freed before the set goes";
    EXPECT_EQ(immortals.size(), 1u);
  }
  const AllocCounts c = ledger.total();
  EXPECT_EQ(c.allocated, 1);
  EXPECT_EQ(c.live(), 0) << "the set frees what it made immortal";
}

// Threads that share immortal objects only read their headers: no count
// changes, nothing freed, and (under ThreadSanitizer) no race.
TYPED_TEST(ImmortalTest, SharingWritesNothing) {
  using S = TypeParam;
  AllocLedger ledger;
  {
    AllocLedger::Scope scope(ledger);
    ImmortalSet<S> immortals;
    std::vector<AnyRef<S>> objects;
    for (int i = 0; i < 8; ++i) {
      objects.push_back(make<IntObj<S>>(i));
      immortals.add(objects.back());
    }
    std::atomic<int> frees{0};
    test::run_threads(S::kThreaded ? 4 : 1, ledger, [&](int t) {
      for (int i = 0; i < 5000; ++i) {
        Object<S>* o = objects[static_cast<std::size_t>((i + t) % 8)].get();
        S::incref(o->header);
        S::incref(o->header);
        for (int k = 0; k < 2; ++k)
          if (S::decref(o->header)) frees.fetch_add(1);
      }
    });
    EXPECT_EQ(frees.load(), 0);
    for (const auto& o : objects) {
      EXPECT_TRUE(S::is_immortal(o->header));
      EXPECT_EQ(cast<IntObj<S>>(o.get())->value, &o - objects.data());
    }
  }
  EXPECT_EQ(ledger.total().allocated, 8);
  EXPECT_EQ(ledger.total().live(), 0);
}

// An immortal container holding mortal objects releases them when the set
// frees it; an immortal tree goes newest (root) first.
TYPED_TEST(ImmortalTest, TheSetFreesContainersBeforeTheirItems) {
  using S = TypeParam;
  AllocLedger ledger;
  {
    AllocLedger::Scope scope(ledger);
    ImmortalSet<S> immortals;
    auto leaf_a = make<NodeObj<S>>(nullptr, nullptr, 1);
    auto leaf_b = make<NodeObj<S>>(nullptr, nullptr, 2);
    immortals.add(leaf_a);
    immortals.add(leaf_b);
    auto root = make<NodeObj<S>>(leaf_a, std::move(leaf_b), 3);
    immortals.add(root);
    auto holder = make<NodeObj<S>>(make<IntObj<S>>(4), make<IntObj<S>>(5), 6);  // mortal items
    immortals.add(holder);
    const std::int64_t freed = thread_alloc_counts().freed;
    root.reset();
    holder.reset();
    EXPECT_EQ(immortals.size(), 4u);
    EXPECT_EQ(thread_alloc_counts().freed, freed) << "nothing freed before the set goes";
  }
  const AllocCounts c = ledger.total();
  EXPECT_EQ(c.allocated, 6);
  EXPECT_EQ(c.live(), 0);
}

TEST(SharedReadImmortal, SameTallyAsSharedRead) {
  const auto p = SharedReadImmortal::params(Scale::kTiny);
  EXPECT_EQ(serial_tally<SharedReadImmortal>(p), serial_tally<SharedRead>(p));
  SharedReadImmortal::State<Serial> state(p);
  EXPECT_EQ(state.immortals.size(), (std::size_t{2} << p.depth) - 1) << "every node is immortal";
  EXPECT_TRUE(Serial::is_immortal(state.root->header));
}

// What immortality buys biased_rc: the workers' walks of the main thread's
// tree go through the shared count, unless the tree is immortal.
TEST(SharedReadImmortal, BiasedRcWritesNoSharedCount) {
  const auto p = SharedRead::params(Scale::kTiny);
  RunConfig config;
  config.workers = 2;
  WorkerPool pool(2);
  const RunResult mortal = run_threads<BiasedRc, SharedRead>(pool, config, p);
  const RunResult immortal = run_threads<BiasedRc, SharedReadImmortal>(pool, config, p);
  EXPECT_EQ(mortal.tally, immortal.tally);
  EXPECT_EQ(immortal.allocs.live(), 0);
  EXPECT_EQ(immortal.allocs.allocated, mortal.allocs.allocated);

  // A reference a non-owner takes to a node: counted in `shared`, or not at all.
  SharedRead::State<BiasedRc> mortal_state(p);
  SharedReadImmortal::State<BiasedRc> immortal_state(p);
  auto shared_after_incref = [](const AnyRef<BiasedRc>& root) {
    std::int64_t shared = -1;
    std::thread([&] {
      AnyRef<BiasedRc> child = cast<NodeObj<BiasedRc>>(root.get())->slots[0];  // incref by a non-owner
      if (Object<BiasedRc>* c = child.get()) shared = c->header.shared.load() >> BiasedRc::kShift;
    }).join();
    return shared;
  };
  EXPECT_EQ(shared_after_incref(mortal_state.root), 1);
  EXPECT_EQ(shared_after_incref(immortal_state.root), 0);
}

}  // namespace
}  // namespace gilbench
