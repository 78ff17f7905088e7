// The version of this build, for `focal --version` and `focald --version`:
// the project version from CMake, plus the git revision when built from a
// checkout. Defined in a source generated at build time
// (cmake/build_info.cmake), linked only by the two programs (focal_build_info).
#pragma once

#include <string_view>

namespace focal::protocol {

std::string_view buildVersion();

}  // namespace focal::protocol
