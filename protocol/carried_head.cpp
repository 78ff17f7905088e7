#include "protocol/carried_head.hpp"

#include <sodium.h>

#include "protocol/limits.hpp"
#include "protocol/signing.hpp"

namespace focal::protocol {

std::string_view carriedHeadContext(HeadCarrier carrier) {
  return carrier == HeadCarrier::Ack ? context::AckHead : context::DecisionHead;
}

Bytes sealCarriedHead(HeadCarrier carrier, ByteView subjectId, const SignedHead& head,
                      const crypto::BoxPublicKey& checker, const crypto::Keyring& author) {
  capnp::MallocMessageBuilder m;
  auto c = m.initRoot<wire::CarriedHead>();
  c.setSubjectId(kjBytes(subjectId));
  c.setMemberId(asText(author.memberId));
  auto h = c.initLogHead();
  h.setHead(kjBytes(head.head));
  h.setSignature(kjBytes(head.signature.view()));
  const auto signed_ = signRecord(carriedHeadContext(carrier), m, author);
  capnp::MallocMessageBuilder r;
  auto rec = r.initRoot<wire::SignedRecord>();
  rec.setBody(kjBytes(signed_.body));
  rec.setSignature(kjBytes(signed_.signature.view()));
  const auto plain = toBytes(r);
  Bytes sealed(plain.size() + crypto_box_SEALBYTES);
  crypto_box_seal(sealed.data(), plain.data(), plain.size(), checker.data());
  return sealed;
}

Expected<SignedHead, CarriedHeadError> openCarriedHead(HeadCarrier carrier, ByteView sealed, ByteView subjectId,
                                                       std::string_view authorId,
                                                       const crypto::SigningPublicKey& authorKey,
                                                       const crypto::Keyring& checker) {
  if (sealed.size() > MaxSealedHeadBytes) return unexpected(CarriedHeadError::Malformed);
  auto opened = checker.openSealed(sealed, nullptr);
  if (!opened) return unexpected(CarriedHeadError::NotForMe);
  auto record = decode<wire::SignedRecord>(ByteView(opened->plaintext.data(), opened->plaintext.size()));
  if (!record) return unexpected(CarriedHeadError::Malformed);
  const auto body = view(record->root().getBody());
  const auto sig = crypto::Signature::fromBytes(view(record->root().getSignature()));
  if (!sig) return unexpected(CarriedHeadError::Malformed);
  // SECURITY: verify the exact bytes before parsing them.
  if (!crypto::verify(carriedHeadContext(carrier), body, *sig, authorKey)) {
    return unexpected(CarriedHeadError::BadSignature);
  }
  auto parsed = decode<wire::CarriedHead>(body);
  if (!parsed) return unexpected(CarriedHeadError::Malformed);
  const auto c = parsed->root();
  const auto subject = view(c.getSubjectId());
  if (!std::equal(subject.begin(), subject.end(), subjectId.begin(), subjectId.end()) ||
      view(c.getMemberId()) != authorId) {
    return unexpected(CarriedHeadError::WrongSubject);
  }
  const auto head = view(c.getLogHead().getHead());
  const auto headSig = crypto::Signature::fromBytes(view(c.getLogHead().getSignature()));
  if (!headSig || head.empty()) return unexpected(CarriedHeadError::Malformed);
  return SignedHead{Bytes(head.begin(), head.end()), *headSig};
}

}  // namespace focal::protocol
