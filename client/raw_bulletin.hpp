// A bulletin as received: still encrypted and not yet verified. Safe to keep
// at rest (the profile's cache stores exactly these bytes).
#pragma once

#include "crypto/types.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/focal.capnp.h"

#include <optional>
#include <string>

namespace focal::client {

struct RawBulletin {
  crypto::Bytes header;      // BulletinHeader bytes, as signed by the sender
  crypto::Bytes signature;   // should be 64 bytes; checked when opened
  crypto::Bytes ciphertext;

  static RawBulletin fromWire(wire::Bulletin::Reader b);
  static RawBulletin fromSealed(const protocol::SealedBulletin& s);

  // Standalone wire::Bulletin message bytes (the cache format).
  crypto::Bytes encode() const;
  // SECURITY: the bytes come from disk that another process could have
  // written; decoded under the protocol's reader limits. nullopt if damaged.
  static std::optional<RawBulletin> decode(crypto::ByteView bytes);

  // The bulletin id claimed by the (unverified) header, if it parses.
  std::optional<crypto::BulletinId> claimedId() const;
  // The sender the (unverified) header claims, if it parses.
  std::optional<std::string> claimedSender() const;
};

// Writes a RawBulletin into a wire::Bulletin builder.
void toWire(const RawBulletin& raw, wire::Bulletin::Builder out);

}  // namespace focal::client
