// Names the calling thread for `top -H`, `ps -L`, perf (`--sort comm`) and
// the per-thread CPU lines of focal-bench, so that the hub's time can be
// told apart by what a thread does: focal-writer, focal-checkpt,
// focal-verify, focal-metrics. The io thread keeps the process's own name
// (focald), which `pkill focald` and service managers match on.
#pragma once
#include <string_view>

namespace focal::server {

// Linux keeps 15 bytes of a thread's name; a longer name is cut there.
// Best effort: a failure leaves the inherited name and is not an error.
void nameThisThread(std::string_view name);

}  // namespace focal::server
