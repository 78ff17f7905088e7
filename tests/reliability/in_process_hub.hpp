// The reliability tests' hub (tests/unit/durability_*_test.cpp): the
// in-process hub and raw client of tests/support, with the hub's log
// captured at trace level (the tests scan it) and a helper that registers
// a member through an admin session.
#pragma once

#include "tests/support/in_process_hub.hpp"
#include "tests/support/log_events.hpp"
#include "tests/support/raw_client.hpp"

#include <catch2/catch.hpp>

namespace focal::reliability {

using namespace std::chrono_literals;
using test_support::describe;

inline constexpr std::string_view HubPassphrase = "reliability test passphrase";

struct InProcessHub : test_support::InProcessHub {
  InProcessHub() : test_support::InProcessHub(options()) {}
  static test_support::InProcessHubOptions options() {
    test_support::InProcessHubOptions o;
    o.captureLog = true;
    return o;
  }
};

class RawClient : public test_support::RawClient {
 public:
  explicit RawClient(const InProcessHub& h) : test_support::RawClient(h) {}
  // Authenticates; returns the exact Authenticate bytes written (to be
  // replayed elsewhere).
  crypto::Bytes authenticate(const std::string& memberId, const crypto::SigningKeyPair& key) {
    crypto::Bytes sent;
    authenticated(memberId, key, &sent);
    return sent;
  }
};

// Registers a member (new random keys) through an admin session.
inline crypto::MemberKeys registerMember(InProcessHub& h, RawClient& adminSession, const std::string& id,
                                         const std::string& state) {
  return test_support::registerMember(h, adminSession, id, state, "Member " + id);
}

// A hub with an authenticated admin session and two members, sg-alice (SG)
// and th-bob (TH).
struct HubWithAliceAndBob {
  InProcessHub h;
  RawClient adminSession{h};
  crypto::MemberKeys alice;
  crypto::MemberKeys bob;
  HubWithAliceAndBob() {
    adminSession.authenticate("admin", h.admin.identity);
    alice = registerMember(h, adminSession, "sg-alice", "SG");
    bob = registerMember(h, adminSession, "th-bob", "TH");
  }
};

}  // namespace focal::reliability
