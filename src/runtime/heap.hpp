// Object allocation and the live-object ledger.
//
// Every object comes from heap_alloc and goes back through heap_free, and the
// containers' storage (list items, dict slots) through HeapAllocator: all the
// memory of the object model, on one allocator for every strategy and runner.
//
// The allocator (--allocator, set once before anything is allocated):
//   mimalloc  (default) Debian's mimalloc 2.0, whose default heap is per
//             thread: a thread allocates and frees without a lock whether the
//             process has one thread or many, as free-threaded CPython does.
//   glibc     the C library's malloc. It skips its locks while a process has
//             one thread, so a single-threaded `process` worker allocated
//             faster than the one thread of `serial` (measured 1.5x on the
//             allocating workloads): kept to show that difference.
// Linking Debian's libmimalloc replaces malloc for the whole process, so the
// glibc choice calls the C library's own entry points (__libc_malloc). The
// sanitizer builds link no mimalloc: their malloc is the sanitizer's, which
// must see every object to check it.
//
// The counts are plain thread-local integers, so counting costs every strategy
// the same two non-atomic increments and adds no shared cache line. A run sums
// the per-thread deltas of all threads that took part (AllocLedger), and after
// the run "allocated - freed" must be zero: no leak, no double free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>

#if GILBENCH_MIMALLOC
#include <mimalloc.h>
extern "C" void* __libc_malloc(std::size_t size);
extern "C" void __libc_free(void* p);
#endif

namespace gilbench {

enum class Allocator { kMimalloc, kGlibc };

namespace detail {
#if GILBENCH_MIMALLOC
inline Allocator g_allocator = Allocator::kMimalloc;
#else
inline Allocator g_allocator = Allocator::kGlibc;
#endif
}  // namespace detail

// Chooses the allocator; only before the first allocation of the process.
// RETURNS false if this build does not have it (sanitizer builds: glibc only).
inline bool set_allocator(Allocator a) noexcept {
#if !GILBENCH_MIMALLOC
  if (a == Allocator::kMimalloc) return false;
#endif
  detail::g_allocator = a;
  return true;
}
inline Allocator allocator() noexcept { return detail::g_allocator; }
// "mimalloc 2.0.9" or "glibc 2.36" (the sanitizer's malloc in those builds).
std::string allocator_description();

// Raw memory of the chosen allocator (objects and container storage).
inline void* heap_raw_alloc(std::size_t size) {
  void* p;
#if GILBENCH_MIMALLOC
  p = detail::g_allocator == Allocator::kMimalloc ? mi_malloc(size) : __libc_malloc(size);
#else
  p = std::malloc(size);
#endif
  if (!p) throw std::bad_alloc();
  return p;
}
inline void heap_raw_free(void* p) noexcept {
#if GILBENCH_MIMALLOC
  if (detail::g_allocator == Allocator::kMimalloc)
    mi_free(p);
  else
    __libc_free(p);
#else
  std::free(p);
#endif
}

// std::allocator for the object model's containers, on the same heap.
template <class T>
struct HeapAllocator {
  using value_type = T;
  HeapAllocator() noexcept = default;
  template <class U>
  HeapAllocator(const HeapAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(heap_raw_alloc(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { heap_raw_free(p); }
  friend bool operator==(const HeapAllocator&, const HeapAllocator&) noexcept { return true; }
};

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
  void* p = heap_raw_alloc(size);
  ++detail::tls_alloc_counts.allocated;
  detail::tls_alloc_counts.bytes += static_cast<std::int64_t>(size);
  return p;
}

inline void heap_free(void* p, std::size_t /*size*/) noexcept {
  ++detail::tls_alloc_counts.freed;
  heap_raw_free(p);
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
