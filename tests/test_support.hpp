// Helpers shared by the tests.
#pragma once

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "runtime/heap.hpp"

namespace gilbench::test {

// Runs fn(i) on n threads at once and joins them; every thread's
// allocations are added to `ledger`.
inline void run_threads(int n, AllocLedger& ledger, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      AllocLedger::Scope scope(ledger);
      ready.fetch_add(1);
      while (ready.load() < n) std::this_thread::yield();
      fn(i);
    });
  for (auto& t : threads) t.join();
}

}  // namespace gilbench::test
