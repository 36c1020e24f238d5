// Notes on fine_lock_naive: fine_lock with two-object locks taken in call
// order, the mistake per-object locking invites.
//
// Everything is fine_lock's (the count lock, the contents lock, their costs)
// except lock(a, b): it locks a, then b, in the order the caller names them,
// where fine_lock locks the lower address first. Two workers that lock the
// same pair in opposite orders (the transfer workload: half of the workers
// move items from list a to list b, half from b to a) can each hold one lock
// and wait for the other: a deadlock. That is the seed's claim that
// per-object locks risk deadlock, turned into a result.
//
// Detection, not a hang. A worker that cannot take its second lock spins
// (try_lock, then yields) and registers in a wait-for table: "holding X,
// waiting for Y". It follows the table from Y (who holds
// Y, and what does that worker wait for?) every 100 us and, if the chain
// comes back to X on two checks in a row, the waits form a cycle: a deadlock. The worker that
// finds it records it (the run's `deadlocked`, `deadlocks` and
// `deadlock_detect_ms`, the time from the start of its wait to the finding),
// then breaks it from its side: it lets X go, takes both locks in address
// order (as fine_lock does), and goes on. Once it has backed off, a worker
// waits without backing off again, so two workers never back off from each
// other forever. After the first deadlock of a run every pair is taken in
// address order (the program "fixed"), so a run costs one detection, not one
// per collision. The run completes, its checksum holds, and the row reports
// the deadlock instead of failing or hanging.
//
// Only the transfer workload is run under it (kOnlyWorkload): every other
// workload takes one object lock at a time, where it is fine_lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>
#include <thread>

#include "strategies/fine_lock.hpp"
#include "strategies/strategy.hpp"

namespace gilbench {

inline constexpr Metric kDeadlocked{
    "deadlocked", "bool", Better::kLower,
    "fine_lock_naive: 1 if workers deadlocked in the run (each held one lock of a pair and waited for the other); "
    "detected and broken by the wait-for check, so the run still completed"};
inline constexpr Metric kDeadlocks{"deadlocks", "count", Better::kLower,
                                   "fine_lock_naive: deadlocks detected (and broken) in one run"};
inline constexpr Metric kDeadlockDetectMs{
    "deadlock_detect_ms", "ms", Better::kLower,
    "fine_lock_naive: the longest time from a worker starting to wait for its second lock to its wait-for check "
    "finding the cycle"};

// Who waits for what, for the naive pair locks (cold: only waiters use it).
class WaitForTable {
 public:
  static constexpr int kSlots = 64;

  // Registers "holding held, waiting for wanted". RETURNS the slot, or -1 if
  // all are taken (that waiter is then invisible to the check: a table this
  // size holds far more workers than a run has).
  int enter(const void* held, const void* wanted) noexcept {
    for (int i = 0; i < kSlots; ++i) {
      Slot& s = slots_[i];
      // Acquire: the slot's last user's clearing happens before our stores.
      if (!s.used.exchange(true, std::memory_order_acquire)) {
        // Release: a reader that sees these sees the slot claimed. A reader
        // may still see a half-written pair; a cycle must hold on two checks.
        s.held.store(held, std::memory_order_release);
        s.wanted.store(wanted, std::memory_order_release);
        return i;
      }
    }
    return -1;
  }
  void leave(int slot) noexcept {
    if (slot < 0) return;
    Slot& s = slots_[slot];
    s.wanted.store(nullptr, std::memory_order_relaxed);  // relaxed: ordered by the release below
    s.held.store(nullptr, std::memory_order_relaxed);
    s.used.store(false, std::memory_order_release);
  }
  // True if, from `wanted`, the chain "its holder waits for ..." leads back to `held`.
  bool cycle(const void* held, const void* wanted) const noexcept {
    const void* cur = wanted;
    for (int step = 0; step < kSlots; ++step) {
      const void* next = nullptr;
      for (const Slot& s : slots_)
        // Acquire: pairs with the release stores in enter().
        if (s.held.load(std::memory_order_acquire) == cur) {
          next = s.wanted.load(std::memory_order_acquire);
          break;
        }
      if (!next) return false;  // cur's holder (if any) waits for nothing: no cycle
      if (next == held) return true;
      cur = next;
    }
    return false;
  }

 private:
  struct Slot {
    std::atomic<bool> used{false};
    std::atomic<const void*> held{nullptr};
    std::atomic<const void*> wanted{nullptr};
  };
  Slot slots_[kSlots];
};

// The deadlocks found in this process, for the runtime's stats().
struct DeadlockLog {
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::int64_t> max_detect_ns{0};
  // Set by the first deadlock of a run: pairs are locked in address order
  // from then on. Relaxed everywhere: a hint that only changes lock order.
  std::atomic<bool> ordered{false};

  void record(std::chrono::nanoseconds waited) noexcept {
    ordered.store(true, std::memory_order_relaxed);
    count.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after the run's threads are joined
    std::int64_t seen = max_detect_ns.load(std::memory_order_relaxed);
    while (waited.count() > seen &&
           !max_detect_ns.compare_exchange_weak(seen, waited.count(), std::memory_order_relaxed)) {
    }
  }
};
inline WaitForTable g_wait_for;
inline DeadlockLog g_deadlock_log;

// lock(a, b) in call order, with the deadlock check. Not movable: returned
// by value (guaranteed elision), like the other guards.
class NaivePairGuard {
 public:
  NaivePairGuard(SplitLock& a, SplitLock& b) noexcept : a_(&a), b_(&a == &b ? nullptr : &b) {
    if (b_ && g_deadlock_log.ordered.load(std::memory_order_relaxed) && std::less<SplitLock*>{}(&b, &a))
      std::swap(a_, b_);  // after a deadlock: address order
    a_->lock();           // first, in the caller's order: the naive part
    if (b_) acquire_second(*a_, *b_, /*may_back_off=*/true);
  }
  ~NaivePairGuard() {
    if (b_) b_->unlock();
    a_->unlock();
  }
  NaivePairGuard(const NaivePairGuard&) = delete;
  NaivePairGuard& operator=(const NaivePairGuard&) = delete;

  // Takes `second` while holding `first`. If the waits form a cycle and
  // may_back_off, this worker breaks it: it lets `first` go and takes both in
  // address order (never backing off again). Public for the tests, which
  // build a certain deadlock from it. On return both are held.
  [[gnu::noinline]] static void acquire_second(SplitLock& first, SplitLock& second, bool may_back_off) noexcept {
    using Clock = std::chrono::steady_clock;
    if (second.try_lock()) return;
    const Clock::time_point start = Clock::now();
    Clock::time_point next_check = start + kCheckEvery;
    int slot = -1;
    int in_a_row = 0;
    for (int spin = 0; !second.try_lock(); ++spin) {
      if (spin < kSpins) {
        spin_pause();
        continue;
      }
      std::this_thread::yield();
      if (slot < 0) slot = g_wait_for.enter(&first, &second);
      const Clock::time_point now = Clock::now();
      if (now < next_check) continue;
      next_check = now + kCheckEvery;
      in_a_row = g_wait_for.cycle(&first, &second) ? in_a_row + 1 : 0;
      if (in_a_row < 2 || !may_back_off) continue;
      // A deadlock: record it, then break it from this side.
      g_deadlock_log.record(now - start);
      g_wait_for.leave(slot);
      first.unlock();
      const bool first_is_lower = std::less<SplitLock*>{}(&first, &second);
      SplitLock& lower = first_is_lower ? first : second;
      SplitLock& higher = first_is_lower ? second : first;
      lower.lock();  // holding nothing: this wait cannot close a cycle
      acquire_second(lower, higher, /*may_back_off=*/false);
      return;
    }
    g_wait_for.leave(slot);
  }

 private:
  static constexpr int kSpins = 256;
  static constexpr std::chrono::microseconds kCheckEvery{100};  // two checks in a row find a deadlock

  SplitLock* a_;
  SplitLock* b_;  // null when both are the same object
};

// fine_lock_naive's per-run state: nothing to schedule, the deadlock counters.
class NaiveLockRuntime : public NoRuntime {
 public:
  explicit NaiveLockRuntime(const RunConfig& config)
      : NoRuntime(config), count_at_start_(g_deadlock_log.count.load(std::memory_order_relaxed)) {
    // One run at a time per process: each starts naive, with no deadlock seen.
    g_deadlock_log.max_detect_ns.store(0, std::memory_order_relaxed);
    g_deadlock_log.ordered.store(false, std::memory_order_relaxed);
  }
  RuntimeStats stats() const {
    // Relaxed: the workers have been joined (which orders their writes).
    const std::uint64_t n = g_deadlock_log.count.load(std::memory_order_relaxed) - count_at_start_;
    RuntimeStats s;
    s.add(kDeadlocked, n > 0 ? 1.0 : 0.0);
    s.add(kDeadlocks, static_cast<double>(n));
    s.add(kDeadlockDetectMs, static_cast<double>(g_deadlock_log.max_detect_ns.load(std::memory_order_relaxed)) / 1e6);
    return s;
  }
  static constexpr const Metric* kMetrics[] = {&kDeadlocked, &kDeadlocks, &kDeadlockDetectMs};

 private:
  std::uint64_t count_at_start_;
};

struct FineLockNaive : FineLock {
  static constexpr std::string_view kName = "fine_lock_naive";
  static constexpr std::string_view kOnlyWorkload = "transfer";  // see the Notes
  using Runtime = NaiveLockRuntime;

  using FineLock::lock;  // one object: fine_lock's contents lock
  static NaivePairGuard lock(Header& a, Header& b) noexcept { return NaivePairGuard(a.mutex, b.mutex); }
};

static_assert(Strategy<FineLockNaive>);

}  // namespace gilbench
