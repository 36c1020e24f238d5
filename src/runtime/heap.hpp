// Object allocation and the live-object ledger.
//
// Every object comes from heap_alloc and goes back through heap_free. The
// counts are plain thread-local integers, so counting costs every strategy the
// same two non-atomic increments and adds no shared cache line. A run sums the
// per-thread deltas of all threads that took part (AllocLedger), and after
// the run "allocated - freed" must be zero: no leak, no double free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

namespace gilbench {

struct AllocCounts {
  std::int64_t allocated = 0;  // objects
  std::int64_t freed = 0;      // objects
  std::int64_t bytes = 0;      // bytes allocated for objects

  AllocCounts& operator+=(const AllocCounts& o) noexcept {
    allocated += o.allocated;
    freed += o.freed;
    bytes += o.bytes;
    return *this;
  }
  friend AllocCounts operator-(AllocCounts a, const AllocCounts& b) noexcept {
    a.allocated -= b.allocated;
    a.freed -= b.freed;
    a.bytes -= b.bytes;
    return a;
  }
  std::int64_t live() const noexcept { return allocated - freed; }
};

namespace detail {
inline thread_local AllocCounts tls_alloc_counts;
}

inline AllocCounts thread_alloc_counts() noexcept { return detail::tls_alloc_counts; }

inline void* heap_alloc(std::size_t size) {
  ++detail::tls_alloc_counts.allocated;
  detail::tls_alloc_counts.bytes += static_cast<std::int64_t>(size);
  return ::operator new(size);
}

inline void heap_free(void* p, std::size_t size) noexcept {
  ++detail::tls_alloc_counts.freed;
  ::operator delete(p, size);
}

// Sums the allocation deltas of every thread of a run. Each thread opens a
// Scope at its start and the scope adds the thread's delta when it closes.
class AllocLedger {
 public:
  class Scope {
   public:
    explicit Scope(AllocLedger& ledger) : ledger_(ledger), start_(thread_alloc_counts()) {}
    ~Scope() { ledger_.add(thread_alloc_counts() - start_); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    AllocLedger& ledger_;
    AllocCounts start_;
  };

  void add(const AllocCounts& delta) {
    std::lock_guard lock(mutex_);
    total_ += delta;
  }
  AllocCounts total() const {
    std::lock_guard lock(mutex_);
    return total_;
  }

 private:
  mutable std::mutex mutex_;
  AllocCounts total_;  // guarded by mutex_
};

}  // namespace gilbench
