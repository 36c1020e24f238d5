#include "runtime/heap.hpp"

#include <gnu/libc-version.h>

namespace gilbench {

std::string allocator_description() {
#if GILBENCH_MIMALLOC
  if (allocator() == Allocator::kMimalloc) {
    const int v = mi_version();  // e.g. 209
    return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." + std::to_string(v % 10);
  }
  return std::string("glibc ") + gnu_get_libc_version();
#else
  return std::string("glibc ") + gnu_get_libc_version() + " (through the sanitizer's malloc)";
#endif
}

}  // namespace gilbench
