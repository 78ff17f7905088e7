// A log head carried beside an ack or a decision (gossip, PROTOCOL.md
// §11.4): the author's latest verified head in a CarriedHead record signed
// by the author and bound to one subject (the bulletin acknowledged, or the
// proposal decided), sealed (crypto_box_seal) to the one member who checks
// it: the bulletin's sender, or the proposer. The hub stores and relays the
// sealed bytes; it cannot read them, and it cannot make up one (the
// signature is the author's, inside the seal) nor move one to another
// subject or author (both are signed).
#pragma once

#include "crypto/key_ops.hpp"
#include "protocol/log.hpp"
#include "protocol/records.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace focal::protocol {

enum class HeadCarrier { Ack, Decision };
std::string_view carriedHeadContext(HeadCarrier carrier);  // context::AckHead / context::DecisionHead

// Signs CarriedHead{subjectId, author.memberId, head} under the carrier's
// context and seals the SignedRecord bytes to `checker`.
Bytes sealCarriedHead(HeadCarrier carrier, ByteView subjectId, const SignedHead& head,
                      const crypto::BoxPublicKey& checker, const crypto::Keyring& author);

// Why a sealed head gives no head (none of them is evidence against the
// hub: anyone can seal bytes to the checker; the checker reports each as
// "invalid").
enum class CarriedHeadError { NotForMe, Malformed, BadSignature, WrongSubject };

// Opens `sealed` with the checker's keys, verifies the record under
// `authorKey` (the verified directory's identity key of `authorId`) and
// checks it names `subjectId` and `authorId`; the head as carried,
// unchecked against any log.
Expected<SignedHead, CarriedHeadError> openCarriedHead(HeadCarrier carrier, ByteView sealed, ByteView subjectId,
                                                       std::string_view authorId,
                                                       const crypto::SigningPublicKey& authorKey,
                                                       const crypto::Keyring& checker);

}  // namespace focal::protocol
