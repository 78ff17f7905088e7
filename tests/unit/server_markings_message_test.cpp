// Issue 19, finding 6: an over-long case reference or H3 text is refused by
// the hub with a message naming that field and the limit, not a generic
// "a field is invalid" or both fields at once.
#include "protocol/focal.capnp.h"
#include "protocol/limits.hpp"
#include "server/policy.hpp"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <string>

using namespace focal;

TEST_CASE("The hub names caseRef or handlingText, with the limit, when one is too long", "[unit][server][policy]") {
  const std::string tooLong(protocol::MaxTextFieldBytes + 1, 'x');
  const std::string limit = std::to_string(protocol::MaxTextFieldBytes);
  {
    capnp::MallocMessageBuilder m;
    auto h = m.initRoot<wire::BulletinHeader>();
    h.setCaseRef(tooLong);
    auto r = server::checkMarkings(h.asReader());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == wire::ErrorCode::INVALID_REQUEST);
    CHECK(r.error().message.rfind("caseRef", 0) == 0);
    CHECK(r.error().message.find("handlingText") == std::string::npos);
    CHECK(r.error().message.find(limit) != std::string::npos);
  }
  {
    capnp::MallocMessageBuilder m;
    auto h = m.initRoot<wire::BulletinHeader>();
    h.setHandling(wire::Handling::H3);
    h.setHandlingText(tooLong);
    auto r = server::checkMarkings(h.asReader());
    REQUIRE_FALSE(r);
    CHECK(r.error().message.rfind("handlingText", 0) == 0);
    CHECK(r.error().message.find("caseRef") == std::string::npos);
  }
  {
    capnp::MallocMessageBuilder m;
    auto h = m.initRoot<wire::BulletinHeader>();
    h.setCaseRef(std::string(protocol::MaxTextFieldBytes, 'x'));
    CHECK(server::checkMarkings(h.asReader()));
  }
}
