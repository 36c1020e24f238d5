// ObjectMutex: a 4-byte lock that lives inside an object header.
//
// The per-object lock of fine_lock (and the per-container lock of atomic_rc
// and biased_rc). std::mutex is 40 bytes, which would make "lock every object"
// look worse than it has to; CPython's PyMutex is 1 byte. This is the classic
// three-state futex mutex (0 free, 1 locked, 2 locked with waiters), spinning
// briefly before it parks, so an uncontended lock+unlock is two atomic RMWs
// and a contended one sleeps in the kernel instead of burning the other core.
#pragma once

#include <atomic>
#include <functional>
#include <cstdint>

namespace gilbench {

// One step of a spin-wait: tells the core we are spinning (x86 `pause`).
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class ObjectMutex {
 public:
  void lock() noexcept {
    std::uint32_t expected = 0;
    // Acquire: the critical section must see what the last holder wrote.
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) [[likely]]
      return;
    lock_slow();
  }

  bool try_lock() noexcept {
    std::uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  void unlock() noexcept {
    // Release: publishes the critical section to the next holder.
    if (state_.exchange(0, std::memory_order_release) == 2) state_.notify_one();
  }

 private:
  void lock_slow() noexcept {
    for (int spin = 0; spin < kSpins; ++spin) {
      // Relaxed load: only a hint that it may be free, the CAS decides.
      if (state_.load(std::memory_order_relaxed) == 0 && try_lock()) return;
      spin_pause();
    }
    // Mark "locked with waiters" and sleep until the holder's unlock wakes us.
    while (state_.exchange(2, std::memory_order_acquire) != 0) state_.wait(2, std::memory_order_relaxed);
  }

  static constexpr int kSpins = 64;
  std::atomic<std::uint32_t> state_{0};
};

static_assert(sizeof(ObjectMutex) == 4);

// Locks two mutexes in address order, the rule that keeps two-object
// operations free of deadlock (PEP 703's two-object critical section).
// M is any lock with lock() and unlock() (ObjectMutex, FineLock's contents lock).
template <class M>
class BasicOrderedPairGuard {
 public:
  // std::less: a total order over unrelated pointers, which `<` is not.
  BasicOrderedPairGuard(M& a, M& b) noexcept
      : first_(std::less<M*>{}(&a, &b) ? &a : &b),
        second_(&a == &b ? nullptr : std::less<M*>{}(&a, &b) ? &b : &a) {
    first_->lock();
    if (second_) second_->lock();
  }
  ~BasicOrderedPairGuard() {
    if (second_) second_->unlock();
    first_->unlock();
  }
  BasicOrderedPairGuard(const BasicOrderedPairGuard&) = delete;
  BasicOrderedPairGuard& operator=(const BasicOrderedPairGuard&) = delete;

 private:
  M* first_;
  M* second_;  // null when both are the same object
};

// One-object guard; movable so S::lock(h) can return it.
template <class M>
class BasicObjectGuard {
 public:
  explicit BasicObjectGuard(M& m) noexcept : m_(&m) { m_->lock(); }
  BasicObjectGuard(BasicObjectGuard&& o) noexcept : m_(o.m_) { o.m_ = nullptr; }
  BasicObjectGuard& operator=(BasicObjectGuard&&) = delete;
  ~BasicObjectGuard() {
    if (m_) m_->unlock();
  }

 private:
  M* m_;
};

using OrderedPairGuard = BasicOrderedPairGuard<ObjectMutex>;
using ObjectGuard = BasicObjectGuard<ObjectMutex>;

}  // namespace gilbench
