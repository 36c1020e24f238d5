#include "runners/process_protocol.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <span>
#include <system_error>

#include "runtime/blocking_io.hpp"

namespace gilbench::wire {

namespace {

// The first bytes of a bad header, as hex and as text, for the error message.
std::string show_bytes(std::string_view bytes) {
  std::string hex;
  std::string text;
  for (unsigned char c : bytes.substr(0, kHeaderBytes)) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%02x ", c);
    hex += buf;
    text += std::isprint(c) ? static_cast<char>(c) : '.';
  }
  if (!hex.empty()) hex.pop_back();
  return hex + " (\"" + text + "\")";
}

// Throws unless the bytes so far are the start of a frame header.
void check_magic(std::string_view header) {
  const std::size_t k = std::min(header.size(), kMagic.size());
  if (header.substr(0, k) != std::string_view(kMagic.data(), k))
    throw FrameError("bad frame header " + show_bytes(header));
}

// The payload length in a complete header (kHeaderBytes long).
std::uint32_t payload_length(std::string_view header) {
  check_magic(header);
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= std::uint32_t{static_cast<unsigned char>(header[4 + i])} << (8 * i);
  if (n > kMaxPayloadBytes)
    throw FrameError("frame length " + std::to_string(n) + " exceeds the limit of " +
                     std::to_string(kMaxPayloadBytes) + " bytes");
  return n;
}

}  // namespace

std::string encode(const nlohmann::json& message) {
  const std::string payload = message.dump();
  if (payload.size() > kMaxPayloadBytes) throw FrameError("message too large for one frame");
  std::string frame(kMagic.data(), kMagic.size());
  const auto n = static_cast<std::uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) frame.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  frame += payload;
  return frame;
}

void FrameReader::feed(const char* data, std::size_t n) {
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  buffer_.append(data, n);
}

std::optional<std::string> FrameReader::next() {
  const std::string_view rest = std::string_view(buffer_).substr(start_);
  if (rest.size() < kHeaderBytes) {
    // Garbage shows at its first byte, not after a header that never completes.
    check_magic(rest);
    return std::nullopt;
  }
  const std::uint32_t n = payload_length(rest);
  if (rest.size() < kHeaderBytes + n) return std::nullopt;
  std::string payload(rest.substr(kHeaderBytes, n));
  start_ += kHeaderBytes + n;
  return payload;
}

std::optional<std::string> read_frame(int fd) {
  char header[kHeaderBytes];
  const std::size_t got = read_full(fd, std::as_writable_bytes(std::span(header)));
  if (got == 0) return std::nullopt;
  if (got < sizeof header) {
    check_magic(std::string_view(header, got));
    throw FrameError("end of file inside a frame header");
  }
  const std::uint32_t n = payload_length(std::string_view(header, sizeof header));
  std::string payload(n, '\0');
  if (read_full(fd, std::as_writable_bytes(std::span(payload))) < n) throw FrameError("end of file inside a frame");
  return payload;
}

}  // namespace gilbench::wire
