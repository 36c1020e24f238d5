#include "run_spec.hpp"

#include <charconv>

namespace gilbench {

std::string RunSpec::name() const {
  std::string n = workload + "/" + strategy + "/workers:" + std::to_string(workers);
  for (const auto& [axis, value] : axes) n += "/" + axis + ":" + value;
  return n;  // variant() is the same without workload and workers
}

std::string RunSpec::variant() const {
  std::string v = strategy;
  for (const auto& [axis, value] : axes) v += "/" + axis + ":" + value;
  return v;
}

std::optional<RunSpec> RunSpec::parse(std::string_view name) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t slash = name.find('/', start);
    parts.push_back(name.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() < 3 || parts[0].empty() || parts[1].empty()) return std::nullopt;
  RunSpec s;
  s.workload = parts[0];
  s.strategy = parts[1];
  s.runner = s.strategy == "process" ? "process" : "threads";
  constexpr std::string_view kWorkers = "workers:";
  if (!parts[2].starts_with(kWorkers)) return std::nullopt;
  const std::string_view n = parts[2].substr(kWorkers.size());
  const auto [end, err] = std::from_chars(n.data(), n.data() + n.size(), s.workers);
  if (err != std::errc() || end != n.data() + n.size() || n.empty() || s.workers < 0) return std::nullopt;
  for (std::size_t i = 3; i < parts.size(); ++i) {
    const std::size_t colon = parts[i].find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == parts[i].size()) return std::nullopt;
    s.axes.emplace_back(parts[i].substr(0, colon), parts[i].substr(colon + 1));
  }
  return s;
}

nlohmann::json RunSpec::fields() const {
  nlohmann::json axes_json = nlohmann::json::object();
  for (const auto& [axis, value] : axes) axes_json[axis] = value;
  return {{"workload", workload}, {"strategy", strategy}, {"runner", runner}, {"workers", workers},
          {"axes", axes_json}};
}

}  // namespace gilbench
