// Whole-file helpers for tests and benchmarks: read what a process or the
// code under test wrote, and keep draining a child's output into a file.
#pragma once

#include <filesystem>
#include <string>
#include <thread>

namespace focal::test_support {

// The whole content of `path` ("" when it cannot be read).
std::string readFile(const std::filesystem::path& path);

// A thread that appends `already` and then everything read from `fd` to
// `file` until end of file, then closes `fd`: a child process writing to a
// pipe never blocks on it once the reader has what it waited for. Join it
// after the child exited.
std::thread drainToFile(int fd, std::filesystem::path file, std::string already);

}  // namespace focal::test_support
