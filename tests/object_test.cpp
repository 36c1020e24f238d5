// The object model under the serial policy: Ref semantics, freeing of
// children, containers, and the allocation ledger.
#include <gtest/gtest.h>

#include "runtime/object.hpp"
#include "test_support.hpp"
#include "strategies/serial.hpp"

namespace gilbench {
namespace {

using S = Serial;

TEST(Ref, CopyIncrefsAndDestructionFrees) {
  AllocLedger ledger;
  {
    AllocLedger::Scope scope(ledger);
    auto a = make<IntObj<S>>(7);
    EXPECT_EQ(a->header.refcnt, 1);
    {
      Ref<IntObj<S>> b = a;
      EXPECT_EQ(a->header.refcnt, 2);
      Ref<IntObj<S>> c = std::move(b);
      EXPECT_FALSE(b);
      EXPECT_EQ(a->header.refcnt, 2) << "a move transfers, it does not count";
    }
    EXPECT_EQ(a->header.refcnt, 1);
  }
  EXPECT_EQ(ledger.total().allocated, 1);
  EXPECT_EQ(ledger.total().live(), 0);
}

TEST(Ref, AssignmentDropsTheOldObject) {
  AllocLedger ledger;
  {
    AllocLedger::Scope scope(ledger);
    auto a = make<IntObj<S>>(1);
    a = make<IntObj<S>>(2);
    EXPECT_EQ(a->value, 2);
    a = a;  // self-assignment keeps the object alive
    EXPECT_EQ(a->value, 2);
    EXPECT_EQ(a->header.refcnt, 1);
  }
  EXPECT_EQ(ledger.total().allocated, 2);
  EXPECT_EQ(ledger.total().live(), 0);
}

TEST(Ref, FreeingAContainerDropsItsChildren) {
  AllocLedger ledger;
  {
    AllocLedger::Scope scope(ledger);
    auto shared_leaf = make<IntObj<S>>(5);
    {
      auto list = make<ListObj<S>>();
      for (int i = 0; i < 10; ++i) list_append(*list, make<IntObj<S>>(i));
      list_append(*list, shared_leaf);
      EXPECT_EQ(shared_leaf->header.refcnt, 2);
      auto tree = make<NodeObj<S>>(AnyRef<S>(list), make<IntObj<S>>(15), 3);
      EXPECT_EQ(list->header.refcnt, 2);
    }
    EXPECT_EQ(shared_leaf->header.refcnt, 1) << "the list released its reference when freed";
  }
  EXPECT_EQ(ledger.total().allocated, 14);
  EXPECT_EQ(ledger.total().live(), 0);
}

TEST(Ref, BorrowMakesANewReference) {
  auto a = make<StrObj<S>>("hello");
  StrObj<S>* borrowed = a.get();
  EXPECT_EQ(a->header.refcnt, 1);
  auto b = Ref<StrObj<S>>::borrow(borrowed);
  EXPECT_EQ(a->header.refcnt, 2);
  EXPECT_EQ(b->view(), "hello");
}

TEST(Dict, SetGetUpdateAndGrow) {
  AllocLedger ledger;
  {
    AllocLedger::Scope scope(ledger);
    auto d = make<DictObj<S>>();
    std::vector<Ref<StrObj<S>>> keys;
    for (int i = 0; i < 100; ++i) keys.push_back(make<StrObj<S>>("k" + std::to_string(i)));
    for (int i = 0; i < 100; ++i) dict_set(*d, keys[i], make<IntObj<S>>(i));
    // An equal key that is a different object finds the same slot.
    auto k7 = make<StrObj<S>>("k7");
    auto v = dict_get(*d, *k7);
    ASSERT_TRUE(v);
    EXPECT_EQ(cast<IntObj<S>>(v.get())->value, 7);
    EXPECT_FALSE(dict_get(*d, *make<StrObj<S>>("absent")));
    for (int round = 0; round < 3; ++round)
      dict_update(*d, k7, [](Object<S>* old) {
        return AnyRef<S>(make<IntObj<S>>(cast<IntObj<S>>(old)->value + 1));
      });
    EXPECT_EQ(cast<IntObj<S>>(dict_get(*d, *k7).get())->value, 10);
    std::int64_t n = 0;
    dict_for_each(*d, [&](const StrObj<S>&, Object<S>&) { ++n; });
    EXPECT_EQ(n, 100);
    EXPECT_EQ(d->used, 100u);
  }
  EXPECT_EQ(ledger.total().live(), 0);
}

TEST(Str, HashIsDeterministic) {
  auto a = make<StrObj<S>>("w42");
  EXPECT_EQ(a->hash, hash_bytes("w42"));
  EXPECT_EQ(hash_bytes(""), 1469598103934665603ULL);
}

}  // namespace
}  // namespace gilbench
