// Helpers shared by the unit tests that seal bulletins: the smallest draft
// a test starts from.
#pragma once

#include "crypto/keyfile.hpp"
#include "protocol/bulletin.hpp"

namespace focal::protocol::testing {

// A bulletin draft of `tlp` and `category`, title "t" and body "b",
// addressed by name to `to` alone (its current encryption key).
inline BulletinDraft draftTo(const crypto::MemberKeys& to, wire::Tlp tlp = wire::Tlp::GREEN,
                             wire::Category category = wire::Category::TREND) {
  BulletinDraft d;
  d.hubId = "focal-hub";  // the test hub (seal v2 binds its id)
  d.tlp = tlp;
  d.category = category;
  d.title = "t";
  d.body = "b";
  d.addresses = {to.memberId};
  d.recipients = {RecipientKey{to.memberId, to.encryption.publicKey}};
  return d;
}

}  // namespace focal::protocol::testing
