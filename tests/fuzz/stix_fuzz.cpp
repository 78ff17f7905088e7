// libFuzzer harness for what a member's client parses of another member's
// STIX: client::stix::validateBundle (a carried bundle, under each TLP
// level) and client::stix::checkPattern (the patterning grammar) on the same
// bytes.
//
// Properties:
//  - no crash, hang, leak, stack exhaustion or sanitizer report on any
//    input (the validator bounds JSON nesting before parsing and pattern
//    nesting while parsing, and never throws);
//  - a verdict is either a bundle or a problem, never both or neither;
//  - an accepted bundle is accepted again when re-serialised (its verdict
//    does not depend on formatting; within the size limit), and at every TLP level at least as
//    permissive (TLP consistency is monotonic in the bulletin's level).
#include "client/stix.hpp"
#include "protocol/limits.hpp"

#include <cstdlib>
#include <string_view>

using namespace focal;
using namespace focal::client;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)stix::checkPattern(text);
  bool acceptedBelow = false;
  for (auto tlp : {wire::Tlp::CLEAR, wire::Tlp::GREEN, wire::Tlp::AMBER, wire::Tlp::AMBER_STRICT, wire::Tlp::RED}) {
    const auto v = stix::validateBundle(text, tlp);
    if (v.bundle.has_value() == v.problem.has_value()) std::abort();
    if (acceptedBelow && !v.bundle) std::abort();  // a stricter bulletin refused what a laxer one took
    if (v.bundle) {
      acceptedBelow = true;
      // (A re-serialisation can be longer than the input: 1e2 dumps as
      // 100.0; past the content limit the size check alone refuses it.)
      const auto redumped = v.bundle->dump();
      if (redumped.size() <= protocol::MaxContentBytes && !stix::validateBundle(redumped, tlp).bundle) std::abort();
    }
  }
  return 0;
}
