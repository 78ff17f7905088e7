// One temporary directory helper for every test (unit, integration, fuzz,
// bench): a fresh directory under the system temp dir, removed with its
// contents on destruction.
#pragma once

#include <filesystem>
#include <string>

namespace focal::test_support {

class TempDir {
 public:
  // Also initialises libsodium (idempotent): tests that make a TempDir go on
  // to draw random keys and secrets. Throws when the directory cannot be made.
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace focal::test_support
