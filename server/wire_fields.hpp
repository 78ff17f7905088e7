// Fixed-size fields (ids, hashes, keys, signatures) read out of decoded,
// attacker-controlled wire messages: the length is checked before the
// type is made.
#pragma once

#include "protocol/message.hpp"

#include <optional>

namespace focal::server {

// The field as F (BulletinId, Hash256, SigningPublicKey, Signature, ...);
// nullopt when its length is not F's.
template <class F>
std::optional<F> fixedField(capnp::Data::Reader d) {
  return F::fromBytes(protocol::view(d));
}

}  // namespace focal::server
