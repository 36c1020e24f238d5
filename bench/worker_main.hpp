// gilbench --worker ARGS: a process-runner worker (src/runners/processes.hpp).
#pragma once

#include <string>
#include <vector>

namespace gilbench {

// Talks the process runner's protocol on stdin and stdout, running the
// workloads of AllWorkloads by name. RETURNS the process exit status.
int worker_main(const std::vector<std::string>& args);

}  // namespace gilbench
