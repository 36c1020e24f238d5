#include "runtime/thread_id.hpp"

#include <atomic>

namespace gilbench::detail {

std::uint32_t next_thread_id() noexcept {
  // Relaxed: the id only has to be unique, it orders nothing.
  static std::atomic<std::uint32_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace gilbench::detail
