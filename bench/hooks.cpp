#include "hooks.hpp"

#include <stdexcept>

namespace gilbench {

std::vector<std::string> Hooks::worker_args() const {
  std::vector<std::string> args;
  if (inject_split > 0) args.push_back("--inject-split=" + std::to_string(inject_split));
  if (!misbehave.empty()) args.push_back("--misbehave=" + misbehave);
  return args;
}

Hooks Hooks::from_worker_args(const std::vector<std::string>& args) {
  Hooks h;
  for (const auto& arg : args) {
    if (arg.rfind("--inject-split=", 0) == 0) {
      h.inject_split = std::stoi(arg.substr(15));
      if (h.inject_split < 1) throw std::invalid_argument("bad " + arg);
    } else if (arg.rfind("--misbehave=", 0) == 0) {
      h.misbehave = arg.substr(12);
    } else {
      throw std::invalid_argument("unknown hook argument '" + arg + "'");
    }
  }
  return h;
}

}  // namespace gilbench
