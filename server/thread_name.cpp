#include "server/thread_name.hpp"

#include <pthread.h>

#include <algorithm>
#include <string>

namespace focal::server {

void nameThisThread(std::string_view name) {
  constexpr std::size_t MaxBytes = 15;  // TASK_COMM_LEN - 1
  const std::string cut(name.substr(0, std::min(name.size(), MaxBytes)));
  (void)::pthread_setname_np(::pthread_self(), cut.c_str());
}

}  // namespace focal::server
