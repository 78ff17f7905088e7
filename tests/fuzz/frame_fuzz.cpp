// libFuzzer harness for the frame decoder: the input is a frame as it comes
// off the socket (4-byte big-endian length, then a Cap'n Proto message).
//
// Properties checked (any violation is a crash the fuzzer reports):
//  - frameLength and decode never crash, hang or trip a sanitizer;
//  - once decode() accepted a message, reading every field of it through the
//    generated accessors never throws: decode() promised that structural
//    damage is found at decode time, never later in a handler.
#include "protocol/message.hpp"

#include <kj/exception.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace focal;
using namespace focal::protocol;

namespace {

// Everything read is summed into `sink` and published through a volatile
// store, so the reads cannot be optimised away.
std::size_t sink = 0;
volatile std::size_t published = 0;
void touch(capnp::Text::Reader t) { sink += t.size() + (t.size() ? static_cast<unsigned char>(t[0]) : 0); }
void touch(capnp::Data::Reader d) { sink += d.size() + (d.size() ? d[d.size() - 1] : 0); }
template <class N>
void touchNum(N n) { sink += static_cast<std::size_t>(n); }

[[noreturn]] void contractBroken(const kj::Exception& e) {
  std::fprintf(stderr, "decode() accepted a message that throws on read: %s\n", e.getDescription().cStr());
  std::abort();
}

void walkRecipient(wire::Recipient::Reader r);

void walk(wire::SignedLogHead::Reader h) {
  touch(h.getHead());
  touch(h.getSignature());
  (void)decode<wire::LogHead>(view(h.getHead()));  // nested message: its own decode, its own limits
}

void walk(wire::Bulletin::Reader b) {
  touch(b.getHeader());
  touch(b.getSignature());
  touch(b.getCiphertext());
  auto header = decode<wire::BulletinHeader>(view(b.getHeader()));
  if (!header.ok()) return;
  auto h = header->root();
  touchNum(h.getVersion());
  touchNum(h.getSuite());
  touch(h.getBulletinId());
  touch(h.getSenderId());
  touch(h.getSenderKey());
  touchNum(h.getCreatedAtMs());
  touchNum(static_cast<std::uint16_t>(h.getTlp()));
  touchNum(static_cast<std::uint16_t>(h.getHandling()));
  touch(h.getHandlingText());
  touchNum(static_cast<std::uint16_t>(h.getSourceReliability()));
  touchNum(h.getInfoAccuracy());
  touchNum(static_cast<std::uint16_t>(h.getPriority()));
  touch(h.getCaseRef());
  touchNum(static_cast<std::uint16_t>(h.getKind()));
  touchNum(h.getCommentDeadlineMs());
  touch(h.getReplyTo());
  for (auto a : h.getAddresses()) touch(a);
  for (auto r : h.getRecipients()) walkRecipient(r);
  touch(h.getContentNonce());
  touch(h.getContentHash());
  touchNum(h.getContentSize());
  for (auto a : h.getAttachments()) {
    touch(a.getBlobHash());
    touchNum(a.getSize());
  }
  touch(h.getRevises());
}

void walkRecipient(wire::Recipient::Reader r) {
  touch(r.getMemberId());
  touch(r.getEncryptionKey());
  touch(r.getWrappedKey());
}

// Signed working-group records: each body is its own message with its own limits.
void walkForward(wire::SignedRecord::Reader r) {
  touch(r.getSignature());
  auto p = decode<wire::ForwardRecord>(view(r.getBody()));
  if (!p.ok()) return;
  auto f = p->root();
  touch(f.getForwardId());
  touch(f.getBulletinId());
  touch(f.getHeaderHash());
  touch(f.getForwarderId());
  touch(f.getForwarderKey());
  touchNum(f.getForwardedAtMs());
  for (auto a : f.getAddresses()) touch(a);
  for (auto x : f.getRecipients()) walkRecipient(x);
}
void walkPermission(wire::SignedRecord::Reader r) {
  touch(r.getSignature());
  auto p = decode<wire::Permission>(view(r.getBody()));
  if (!p.ok()) return;
  touch(p->root().getBulletinId());
  for (auto g : p->root().getGrantedTo()) touch(g);
  touchNum(p->root().getGrantedAtMs());
}
void walkRetraction(wire::SignedRecord::Reader r) {
  touch(r.getSignature());
  auto p = decode<wire::Retraction>(view(r.getBody()));
  if (!p.ok()) return;
  touch(p->root().getBulletinId());
  touch(p->root().getSenderId());
  touch(p->root().getReason());
  touchNum(p->root().getRetractedAtMs());
}
void walkComment(wire::SignedRecord::Reader r) {
  touch(r.getSignature());
  auto p = decode<wire::Comment>(view(r.getBody()));
  if (!p.ok()) return;
  touch(p->root().getRecordId());
  touch(p->root().getMemberId());
  touchNum(p->root().getObjection());
  touch(p->root().getSealedText());
  touchNum(p->root().getCommentedAtMs());
}
void walk(wire::MemberInfo::Reader m);
void walk(wire::KeySet::Reader k);
void walkProposal(wire::SignedRecord::Reader r) {
  touch(r.getSignature());
  auto p = decode<wire::Proposal>(view(r.getBody()));
  if (!p.ok()) return;
  auto x = p->root();
  touch(x.getProposalId());
  touch(x.getProposerId());
  touchNum(x.getCreatedAtMs());
  touchNum(x.getExpiresAtMs());
  switch (x.which()) {
    case wire::Proposal::ADMISSION:
      walk(x.getAdmission().getMember());
      walk(x.getAdmission().getKeys());
      break;
    case wire::Proposal::AMENDMENT:
      touch(x.getAmendment());
      break;
    default:
      break;
  }
}
void walkDecision(wire::SignedRecord::Reader r) {
  touch(r.getSignature());
  auto p = decode<wire::Decision>(view(r.getBody()));
  if (!p.ok()) return;
  touch(p->root().getProposalId());
  touch(p->root().getProposalHash());
  touch(p->root().getMemberId());
  touchNum(p->root().getApprove());
  touchNum(p->root().getDecidedAtMs());
}

void walk(wire::Delivery::Reader d) {
  touchNum(d.getSeq());
  touchNum(d.getQueuedAtMs());
  walk(d.getBulletin());
  if (d.hasForward()) walkForward(d.getForward());
  if (d.hasRetraction()) walkRetraction(d.getRetraction());
}

void walk(wire::MemberInfo::Reader m) {
  touch(m.getId());
  touch(m.getName());
  touch(m.getState());
  touchNum(static_cast<std::uint16_t>(m.getInstitution()));
  touchNum(m.getIsAdmin());
  touchNum(m.getIsSecretariat());
}

void walk(wire::KeySet::Reader k) {
  touch(k.getIdentityKey());
  touch(k.getEncryptionKey());
  touchNum(k.getEncKeyCreatedAtMs());
  touch(k.getEncKeyCert());
}

void walkLogEvent(capnp::Data::Reader bytes) {
  auto parsed = decode<wire::LogEvent>(view(bytes));
  if (!parsed.ok()) return;
  auto e = parsed->root();
  touchNum(e.getIssuedAtMs());
  switch (e.which()) {
    case wire::LogEvent::GENESIS:
      touch(e.getGenesis().getHubId());
      touch(e.getGenesis().getHubKey());
      break;
    case wire::LogEvent::REGISTER:
      walk(e.getRegister().getMember());
      walk(e.getRegister().getKeys());
      break;
    case wire::LogEvent::ROTATE_ENCRYPTION:
    case wire::LogEvent::ROTATE_IDENTITY: {
      auto r = e.which() == wire::LogEvent::ROTATE_ENCRYPTION ? e.getRotateEncryption() : e.getRotateIdentity();
      touch(r.getMemberId());
      touch(r.getPreviousKey());
      walk(r.getKeys());
      break;
    }
    case wire::LogEvent::REVOKE:
      touch(e.getRevoke().getMemberId());
      touch(e.getRevoke().getKey());
      touch(e.getRevoke().getReason());
      break;
    case wire::LogEvent::ROLE_CHANGE:
      touch(e.getRoleChange().getMemberId());
      touchNum(e.getRoleChange().getIsAdmin());
      touchNum(e.getRoleChange().getIsSecretariat());
      break;
    case wire::LogEvent::RECORD_APPROVED: {
      auto r = e.getRecordApproved();
      touch(r.getRecordId());
      touch(r.getHeaderHash());
      touchNum(r.getDeadlineMs());
      for (auto m : r.getAcknowledgedBy()) touch(m);
      for (auto m : r.getCommentedBy()) touch(m);
      break;
    }
    case wire::LogEvent::ADMISSION:
      walkProposal(e.getAdmission().getProposal());
      for (auto d : e.getAdmission().getApprovals()) walkDecision(d);
      break;
    case wire::LogEvent::AMENDMENT:
      walkProposal(e.getAmendment().getProposal());
      for (auto d : e.getAmendment().getApprovals()) walkDecision(d);
      break;
    default:  // a member from a newer schema
      break;
  }
}

void walk(wire::ClientFrame::Reader f) {
  touchNum(f.getId());
  switch (f.which()) {
    case wire::ClientFrame::AUTHENTICATE: {
      auto a = f.getAuthenticate();
      touchNum(a.getVersion());
      touch(a.getMemberId());
      touch(a.getIdentityKey());
      touch(a.getSignature());
      break;
    }
    case wire::ClientFrame::SEND:
      walk(f.getSend().getBulletin());
      break;
    case wire::ClientFrame::FETCH:
      touchNum(f.getFetch().getAfterSeq());
      touchNum(f.getFetch().getLimit());
      break;
    case wire::ClientFrame::ACK: {
      touch(f.getAck().getBody());
      touch(f.getAck().getSignature());
      auto body = decode<wire::AckBody>(view(f.getAck().getBody()));
      if (body.ok()) {
        touch(body->root().getMemberId());
        for (auto id : body->root().getBulletinIds()) touch(id);
        touchNum(body->root().getAckedAtMs());
      }
      break;
    }
    case wire::ClientFrame::STATUS:
      touch(f.getStatus().getBulletinId());
      break;
    case wire::ClientFrame::DIRECTORY:
      (void)f.getDirectory();
      break;
    case wire::ClientFrame::LOG:
      touchNum(f.getLog().getFrom());
      touchNum(f.getLog().getLimit());
      break;
    case wire::ClientFrame::ADMIN:
      touch(f.getAdmin().getSignature());
      walkLogEvent(f.getAdmin().getEvent());
      break;
    case wire::ClientFrame::BEGIN_UPLOAD:
      touchNum(f.getBeginUpload().getSize());
      touch(f.getBeginUpload().getBlobHash());
      break;
    case wire::ClientFrame::UPLOAD_CHUNK:
      touchNum(f.getUploadChunk().getUploadId());
      touchNum(f.getUploadChunk().getOffset());
      touch(f.getUploadChunk().getData());
      break;
    case wire::ClientFrame::DOWNLOAD:
      touch(f.getDownload().getBulletinId());
      touch(f.getDownload().getBlobHash());
      touchNum(f.getDownload().getOffset());
      touchNum(f.getDownload().getLength());
      break;
    case wire::ClientFrame::SUBSCRIBE:
    case wire::ClientFrame::PING:
    case wire::ClientFrame::LIST_PROPOSALS:
      break;
    case wire::ClientFrame::FORWARD:
      walkForward(f.getForward());
      break;
    case wire::ClientFrame::RETRACT:
      walkRetraction(f.getRetract());
      break;
    case wire::ClientFrame::COMMENT:
      walkComment(f.getComment());
      break;
    case wire::ClientFrame::RECORD_STATUS:
      touch(f.getRecordStatus().getRecordId());
      break;
    case wire::ClientFrame::PROPOSE:
      walkProposal(f.getPropose());
      break;
    case wire::ClientFrame::DECIDE:
      walkDecision(f.getDecide());
      break;
    case wire::ClientFrame::PERMIT:
      walkPermission(f.getPermit());
      break;
    case wire::ClientFrame::AUDIT:
      touchNum(f.getAudit().getFrom());
      touchNum(f.getAudit().getLimit());
      break;
    default:  // a member from a newer schema: the hub answers invalidRequest
      break;
  }
}

void walk(wire::ServerFrame::Reader f) {
  touchNum(f.getId());
  switch (f.which()) {
    case wire::ServerFrame::CHALLENGE: {
      auto c = f.getChallenge();
      touchNum(c.getVersion());
      touch(c.getHubId());
      touch(c.getHubKey());
      touch(c.getNonce());
      touchNum(c.getServerTimeMs());
      break;
    }
    case wire::ServerFrame::ERROR:
      touchNum(static_cast<std::uint16_t>(f.getError().getCode()));
      touch(f.getError().getMessage());
      touchNum(f.getError().getRetryAfterMs());
      sink += std::strlen(errorName(f.getError().getCode()));
      break;
    case wire::ServerFrame::AUTHENTICATED:
      touch(f.getAuthenticated().getMemberId());
      touchNum(f.getAuthenticated().getServerTimeMs());
      walk(f.getAuthenticated().getLogHead());
      break;
    case wire::ServerFrame::ACCEPTED:
      touch(f.getAccepted().getBulletinId());
      touchNum(f.getAccepted().getAcceptedAtMs());
      touchNum(f.getAccepted().getAlreadyAccepted());
      break;
    case wire::ServerFrame::DELIVERIES:
      for (auto d : f.getDeliveries().getItems()) walk(d);
      touchNum(f.getDeliveries().getMore());
      break;
    case wire::ServerFrame::PUSH:
      walk(f.getPush());
      break;
    case wire::ServerFrame::ACKED:
      touchNum(f.getAcked().getRemoved());
      break;
    case wire::ServerFrame::STATUS:
      touch(f.getStatus().getBulletinId());
      for (auto r : f.getStatus().getRecipients()) {
        touch(r.getMemberId());
        touchNum(static_cast<std::uint16_t>(r.getState()));
        touchNum(r.getQueuedAtMs());
        touchNum(r.getDeliveredAtMs());
        touchNum(r.getAckedAtMs());
      }
      break;
    case wire::ServerFrame::DIRECTORY:
      for (auto m : f.getDirectory().getMembers()) {
        walk(m.getInfo());
        walk(m.getKeys());
        touchNum(static_cast<std::uint16_t>(m.getStatus()));
        touchNum(m.getLogIndex());
      }
      walk(f.getDirectory().getHead());
      break;
    case wire::ServerFrame::LOG:
      for (auto e : f.getLog().getEntries()) {
        touchNum(e.getIndex());
        touchNum(e.getRecordedAtMs());
        touch(e.getAuthorId());
        touch(e.getAuthorKey());
        touch(e.getSignature());
        walkLogEvent(e.getEvent());
      }
      walk(f.getLog().getHead());
      break;
    case wire::ServerFrame::ADMIN:
      touchNum(f.getAdmin().getIndex());
      walk(f.getAdmin().getHead());
      break;
    case wire::ServerFrame::UPLOAD_READY:
      touchNum(f.getUploadReady().getUploadId());
      touchNum(f.getUploadReady().getOffset());
      break;
    case wire::ServerFrame::UPLOAD_PROGRESS:
      touchNum(f.getUploadProgress().getUploadId());
      touchNum(f.getUploadProgress().getReceived());
      touchNum(f.getUploadProgress().getComplete());
      break;
    case wire::ServerFrame::BLOB_CHUNK:
      touch(f.getBlobChunk().getBlobHash());
      touchNum(f.getBlobChunk().getOffset());
      touch(f.getBlobChunk().getData());
      touchNum(f.getBlobChunk().getTotal());
      break;
    case wire::ServerFrame::SUBSCRIBED:
    case wire::ServerFrame::PONG:
      break;
    case wire::ServerFrame::RECORD_STATUS: {
      auto r = f.getRecordStatus();
      touch(r.getRecordId());
      touchNum(static_cast<std::uint16_t>(r.getState()));
      touchNum(r.getDeadlineMs());
      for (auto c : r.getComments()) walkComment(c);
      for (auto m : r.getAcknowledgedBy()) touch(m);
      touchNum(r.getOutcomeIndex());
      break;
    }
    case wire::ServerFrame::PROPOSALS:
      for (auto p : f.getProposals().getItems()) {
        walkProposal(p.getProposal());
        for (auto d : p.getDecisions()) walkDecision(d);
        touchNum(static_cast<std::uint16_t>(p.getState()));
        touchNum(p.getOutcomeIndex());
      }
      break;
    case wire::ServerFrame::AUDIT:
      for (auto e : f.getAudit().getEntries()) {
        touchNum(e.getIndex());
        touchNum(e.getTimeMs());
        touch(e.getEvent());
        touch(e.getActor());
        touch(e.getRemote());
        touch(e.getDetail());
        touch(e.getHash());
      }
      break;
    case wire::ServerFrame::RECORDED:
      touch(f.getRecorded().getId());
      touchNum(f.getRecorded().getAtMs());
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < FrameHeaderBytes) return 0;
  // A reader stops at a refused length prefix; the body is decoded anyway so
  // the fuzzer does not have to keep the prefix consistent to go deeper.
  auto length = frameLength(std::span<const std::uint8_t, FrameHeaderBytes>(data, FrameHeaderBytes));
  if (length.ok()) sink += length.value();
  const ByteView body(data + FrameHeaderBytes, size - FrameHeaderBytes);

  try {
    if (auto c = decode<wire::ClientFrame>(body); c.ok()) walk(c->root());
    if (auto s = decode<wire::ServerFrame>(body); s.ok()) walk(s->root());
  } catch (const kj::Exception& e) {
    contractBroken(e);
  }
  published = sink;
  return 0;
}
