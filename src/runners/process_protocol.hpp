// The wire format between the process runner and its workers; the
// conversation itself is described in the Notes of runners/processes.hpp.
//
// A frame is an 8-byte header followed by its payload:
//
//   bytes 0..3   magic "GBF1"
//   bytes 4..7   payload length, unsigned 32-bit, little-endian
//   payload      one JSON object (UTF-8) with an "op" member
//
// JSON rather than a binary layout: the messages are few per run (three round
// trips per worker) and small except shared_dict's partial counts, which is
// exactly the serialise-send-parse cost multiprocessing pays with pickle, so
// it belongs in the measurement. A reader that sees another magic, or a length
// above kMaxPayloadBytes, stops: the peer is writing garbage, and no attempt
// is made to resynchronise.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gilbench::wire {

inline constexpr std::array<char, 4> kMagic = {'G', 'B', 'F', '1'};
inline constexpr std::size_t kHeaderBytes = 8;
inline constexpr std::uint32_t kMaxPayloadBytes = 64u << 20;

// A byte stream that is not a sequence of frames.
struct FrameError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Header + payload for one message.
std::string encode(const nlohmann::json& message);

// Collects bytes as they arrive (in any chunks) and cuts them into payloads.
class FrameReader {
 public:
  void feed(const char* data, std::size_t n);
  // The next complete payload, if one has arrived. Throws FrameError on a bad
  // header (the reader is then unusable).
  std::optional<std::string> next();
  // Bytes received but not yet returned by next().
  std::size_t pending() const noexcept { return buffer_.size() - start_; }

 private:
  std::string buffer_;
  std::size_t start_ = 0;  // first byte of buffer_ not yet consumed
};

// Reads exactly one frame from a blocking descriptor. nullopt: end of file
// before the first byte. Throws FrameError on garbage or a truncated frame,
// std::system_error on a read error.
std::optional<std::string> read_frame(int fd);


}  // namespace gilbench::wire
