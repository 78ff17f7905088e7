// readFile and drainToFile (files.hpp).
#include "tests/support/files.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace focal::test_support {

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::thread drainToFile(int fd, std::filesystem::path file, std::string already) {
  return std::thread([fd, file = std::move(file), already = std::move(already)] {
    std::ofstream out(file, std::ios::app | std::ios::binary);
    out << already;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.write(buf, n);
    ::close(fd);
  });
}

}  // namespace focal::test_support
