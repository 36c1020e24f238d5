// Small, process-unique thread ids: the "ob_tid" of this runtime.
//
// CPython's free-threaded build reads the thread id from the TLS base register
// (_Py_ThreadId). Here every thread gets a dense id on first use; 0 means "no
// thread" (an unowned object in biased_rc). Reading it is one TLS load.
#pragma once

#include <cstdint>

namespace gilbench {

namespace detail {
std::uint32_t next_thread_id() noexcept;
inline thread_local std::uint32_t tls_thread_id = 0;
}  // namespace detail

inline std::uint32_t current_thread_id() noexcept {
  std::uint32_t id = detail::tls_thread_id;
  if (id == 0) [[unlikely]] {
    id = detail::next_thread_id();
    detail::tls_thread_id = id;
  }
  return id;
}

}  // namespace gilbench
