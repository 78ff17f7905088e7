// TempDir: mkdtemp under the system temp dir (unique even across processes).
#include "tests/support/temp_dir.hpp"

#include "crypto/primitives.hpp"

#include <cstdlib>
#include <stdexcept>
#include <system_error>

namespace focal::test_support {

TempDir::TempDir() {
  crypto::initialize();
  std::string tmpl = (std::filesystem::temp_directory_path() / "focal-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace focal::test_support
