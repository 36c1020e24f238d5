// The one way this code turns a failed system call into an exception.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace gilbench {

// Throws std::system_error for `err` (errno by default): "<what>: <strerror>".
[[noreturn]] inline void throw_errno(const std::string& what, int err = errno) {
  throw std::system_error(err, std::generic_category(), what);
}

}  // namespace gilbench
