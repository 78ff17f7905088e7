#include "server/frames.hpp"

#include "protocol/message.hpp"

#include <capnp/message.h>

namespace focal::server::frames {

namespace {

using protocol::kjBytes;

// Exactly the bytes of `s` (never through strlen).
capnp::Text::Reader text(std::string_view s) { return protocol::asText(s); }

void setHead(wire::SignedLogHead::Builder out, const StoredHead& head) {
  out.setHead(kjBytes(head.head));
  out.setSignature(kjBytes(head.signature.view()));
}

void setBulletin(wire::Bulletin::Builder out, ByteView header, ByteView signature, ByteView ciphertext) {
  out.setHeader(kjBytes(header));
  out.setSignature(kjBytes(signature));
  out.setCiphertext(kjBytes(ciphertext));
}

void setRecord(wire::SignedRecord::Builder out, const StoredRecord& r) {
  out.setBody(kjBytes(r.body));
  out.setSignature(kjBytes(r.signature));
}

// First segment sized for the expected payload, so a large frame is one
// segment and one allocation.
capnp::uint wordsFor(std::size_t bytes) { return static_cast<capnp::uint>(bytes / 8 + 64); }

}  // namespace

Bytes error(std::uint64_t id, const HubError& e) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto err = f.initError();
  err.setCode(e.code);
  err.setMessage(text(e.message));
  err.setRetryAfterMs(e.retryAfterMs);
  return protocol::toFrame(m);
}

Bytes challenge(std::string_view hubId, const crypto::SigningPublicKey& hubKey, const crypto::Challenge& nonce,
                std::int64_t nowMs) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(0);
  auto c = f.initChallenge();
  c.setVersion(wire::PROTOCOL_VERSION);
  c.setHubId(text(hubId));
  c.setHubKey(kjBytes(hubKey.view()));
  c.setNonce(kjBytes(nonce.view()));
  c.setServerTimeMs(nowMs);
  return protocol::toFrame(m);
}

Bytes authenticated(std::uint64_t id, std::string_view memberId, std::int64_t nowMs, const StoredHead& head) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto a = f.initAuthenticated();
  a.setMemberId(text(memberId));
  a.setServerTimeMs(nowMs);
  setHead(a.initLogHead(), head);
  return protocol::toFrame(m);
}

Bytes accepted(std::uint64_t id, const crypto::BulletinId& bulletinId, std::int64_t acceptedAtMs, bool already) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto a = f.initAccepted();
  a.setBulletinId(kjBytes(bulletinId.view()));
  a.setAcceptedAtMs(acceptedAtMs);
  a.setAlreadyAccepted(already);
  return protocol::toFrame(m);
}

struct PushFrames::State {
  explicit State(std::size_t bytes) : message(wordsFor(bytes)) {}
  capnp::MallocMessageBuilder message;
  wire::Delivery::Builder delivery{nullptr};
};

PushFrames::PushFrames(std::int64_t queuedAtMs, ByteView header, ByteView signature, ByteView ciphertext,
                       const StoredRecord* forward, const StoredRecord* retraction) {
  std::size_t bytes = header.size() + signature.size() + ciphertext.size();
  if (forward != nullptr) bytes += forward->body.size() + 64;
  if (retraction != nullptr) bytes += retraction->body.size() + 64;
  state_ = std::make_unique<State>(bytes);
  auto f = state_->message.initRoot<wire::ServerFrame>();
  f.setId(0);
  auto d = f.initPush();
  d.setQueuedAtMs(queuedAtMs);
  setBulletin(d.initBulletin(), header, signature, ciphertext);
  if (forward != nullptr && !forward->empty()) setRecord(d.initForward(), *forward);
  if (retraction != nullptr && !retraction->empty()) setRecord(d.initRetraction(), *retraction);
  state_->delivery = d;
}

PushFrames::~PushFrames() = default;

Bytes PushFrames::frame(std::int64_t seq) {
  state_->delivery.setSeq(static_cast<std::uint64_t>(seq));
  return protocol::toFrame(state_->message);
}

Bytes push(std::int64_t seq, std::int64_t queuedAtMs, ByteView header, ByteView signature, ByteView ciphertext,
           const StoredRecord* forward, const StoredRecord* retraction) {
  return PushFrames(queuedAtMs, header, signature, ciphertext, forward, retraction).frame(seq);
}

Bytes deliveries(std::uint64_t id, const FetchPage& page) {
  std::size_t bytes = 0;
  for (const auto& i : page.items) {
    bytes += i.header.size() + i.signature.size() + i.ciphertext.size() + 64 + i.forward.body.size() +
             i.forward.signature.size() + i.retraction.body.size() + i.retraction.signature.size();
  }
  capnp::MallocMessageBuilder m(wordsFor(bytes));
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto d = f.initDeliveries();
  auto items = d.initItems(static_cast<capnp::uint>(page.items.size()));
  for (capnp::uint i = 0; i < items.size(); ++i) {
    const auto& src = page.items[i];
    items[i].setSeq(static_cast<std::uint64_t>(src.seq));
    items[i].setQueuedAtMs(src.queuedAtMs);
    setBulletin(items[i].initBulletin(), src.header, src.signature, src.ciphertext);
    if (!src.forward.empty()) setRecord(items[i].initForward(), src.forward);
    if (!src.retraction.empty()) setRecord(items[i].initRetraction(), src.retraction);
  }
  d.setMore(page.more);
  return protocol::toFrame(m);
}

Bytes acked(std::uint64_t id, std::uint32_t removed) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  f.initAcked().setRemoved(removed);
  return protocol::toFrame(m);
}

Bytes status(std::uint64_t id, const crypto::BulletinId& bulletinId, const BulletinStatus& st) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto s = f.initStatus();
  s.setBulletinId(kjBytes(bulletinId.view()));
  auto list = s.initRecipients(static_cast<capnp::uint>(st.recipients.size()));
  for (capnp::uint i = 0; i < list.size(); ++i) {
    const auto& r = st.recipients[i];
    list[i].setMemberId(text(r.memberId));
    list[i].setState(r.ackedAtMs != 0       ? wire::DeliveryState::ACKNOWLEDGED
                     : r.deliveredAtMs != 0 ? wire::DeliveryState::DELIVERED
                                            : wire::DeliveryState::QUEUED);
    list[i].setQueuedAtMs(r.queuedAtMs);
    list[i].setDeliveredAtMs(r.deliveredAtMs);
    list[i].setAckedAtMs(r.ackedAtMs);
  }
  return protocol::toFrame(m);
}

Bytes directory(std::uint64_t id, const Directory& dir) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto d = f.initDirectory();
  auto list = d.initMembers(static_cast<capnp::uint>(dir.members().size()));
  capnp::uint i = 0;
  for (const auto& [memberId, rec] : dir.members()) {
    auto out = list[i++];
    auto info = out.initInfo();
    info.setId(text(rec.id));
    info.setName(text(rec.name));
    info.setState(text(rec.state));
    info.setInstitution(rec.institution);
    info.setIsAdmin(rec.isAdmin);
    info.setIsSecretariat(rec.isSecretariat);
    auto keys = out.initKeys();
    keys.setIdentityKey(kjBytes(rec.identityKey.view()));
    keys.setEncryptionKey(kjBytes(rec.encryptionKey.view()));
    keys.setEncKeyCreatedAtMs(rec.encKeyCreatedAtMs);
    keys.setEncKeyCert(kjBytes(rec.encKeyCert.view()));
    out.setStatus(rec.active() ? wire::MemberStatus::ACTIVE : wire::MemberStatus::REVOKED);
    out.setLogIndex(rec.logIndex);
  }
  setHead(d.initHead(), dir.head());
  return protocol::toFrame(m);
}

Bytes logPage(std::uint64_t id, std::span<const StoredLogEntry> entries, const StoredHead& head) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto p = f.initLog();
  auto list = p.initEntries(static_cast<capnp::uint>(entries.size()));
  for (capnp::uint i = 0; i < list.size(); ++i) {
    const auto& e = entries[i];
    list[i].setIndex(e.index);
    list[i].setRecordedAtMs(e.recordedAtMs);
    list[i].setAuthorId(text(e.authorId));
    list[i].setAuthorKey(kjBytes(e.authorKey.view()));
    list[i].setEvent(kjBytes(e.event));
    list[i].setSignature(kjBytes(e.signature.view()));
  }
  setHead(p.initHead(), head);
  return protocol::toFrame(m);
}

Bytes auditPage(std::uint64_t id, std::span<const AuditRecord> rows) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto list = f.initAudit().initEntries(static_cast<capnp::uint>(rows.size()));
  for (capnp::uint i = 0; i < list.size(); ++i) {
    const auto& r = rows[i];
    list[i].setIndex(r.index);
    list[i].setTimeMs(r.timeMs);
    list[i].setEvent(text(r.event));
    list[i].setActor(text(r.actor));
    list[i].setRemote(text(r.remote));
    list[i].setDetail(text(r.detail));
    list[i].setHash(kjBytes(r.hash.view()));
  }
  return protocol::toFrame(m);
}

Bytes adminResult(std::uint64_t id, std::uint64_t index, const StoredHead& head) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto a = f.initAdmin();
  a.setIndex(index);
  setHead(a.initHead(), head);
  return protocol::toFrame(m);
}

Bytes uploadReady(std::uint64_t id, std::uint64_t uploadId, std::uint64_t offset) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto u = f.initUploadReady();
  u.setUploadId(uploadId);
  u.setOffset(offset);
  return protocol::toFrame(m);
}

Bytes uploadProgress(std::uint64_t id, std::uint64_t uploadId, std::uint64_t received, bool complete) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto u = f.initUploadProgress();
  u.setUploadId(uploadId);
  u.setReceived(received);
  u.setComplete(complete);
  return protocol::toFrame(m);
}

Bytes blobChunk(std::uint64_t id, const crypto::Hash256& hash, const BlobSlice& slice) {
  capnp::MallocMessageBuilder m(wordsFor(slice.data.size()));
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto c = f.initBlobChunk();
  c.setBlobHash(kjBytes(hash.view()));
  c.setOffset(slice.offset);
  c.setData(kjBytes(slice.data));
  c.setTotal(slice.total);
  return protocol::toFrame(m);
}

Bytes subscribed(std::uint64_t id) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  f.setSubscribed();
  return protocol::toFrame(m);
}

Bytes pong(std::uint64_t id) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  f.setPong();
  return protocol::toFrame(m);
}

Bytes recorded(std::uint64_t id, ByteView recordId, std::int64_t atMs) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto r = f.initRecorded();
  r.setId(kjBytes(recordId));
  r.setAtMs(atMs);
  return protocol::toFrame(m);
}

Bytes recordStatus(std::uint64_t id, const SummaryRecordRow& row) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto r = f.initRecordStatus();
  r.setRecordId(kjBytes(row.id.view()));
  r.setState(row.state);
  r.setDeadlineMs(row.deadlineMs);
  auto comments = r.initComments(static_cast<unsigned>(row.comments.size()));
  for (unsigned i = 0; i < row.comments.size(); ++i) setRecord(comments[i], row.comments[i].record);
  auto acked = r.initAcknowledgedBy(static_cast<unsigned>(row.acknowledgedBy.size()));
  for (unsigned i = 0; i < row.acknowledgedBy.size(); ++i) acked.set(i, text(row.acknowledgedBy[i]));
  r.setOutcomeIndex(row.outcomeIndex);
  return protocol::toFrame(m);
}

Bytes proposals(std::uint64_t id, const std::vector<ProposalRow>& rows, std::int64_t nowMs) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  auto items = f.initProposals().initItems(static_cast<unsigned>(rows.size()));
  for (unsigned i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    setRecord(items[i].initProposal(), row.record);
    auto d = items[i].initDecisions(static_cast<unsigned>(row.decisions.size()));
    for (unsigned j = 0; j < row.decisions.size(); ++j) setRecord(d[j], row.decisions[j].record);
    const bool expired = row.state == wire::ProposalState::OPEN && nowMs > row.expiresAtMs;
    items[i].setState(expired ? wire::ProposalState::EXPIRED : row.state);
    items[i].setOutcomeIndex(row.outcomeIndex);
  }
  return protocol::toFrame(m);
}

}  // namespace focal::server::frames
