#include "server/frames.hpp"

#include "protocol/message.hpp"

#include <capnp/message.h>

#include <utility>

namespace focal::server::frames {

namespace {

using protocol::kjBytes;

// Exactly the bytes of `s` (never through strlen).
capnp::Text::Reader text(std::string_view s) { return protocol::asText(s); }

void setHead(wire::SignedLogHead::Builder out, const StoredHead& head) {
  out.setHead(kjBytes(head.head));
  out.setSignature(kjBytes(head.signature.view()));
  if (!head.cosignatures.empty()) {
    auto list = out.initCosignatures(static_cast<capnp::uint>(head.cosignatures.size()));
    for (capnp::uint i = 0; i < list.size(); ++i) protocol::writeCosignature(list[i], head.cosignatures[i]);
  }
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

// Every frame but a push: a ServerFrame with the request's id (0 for the
// challenge) whose body `fill` sets; `firstSegmentWords` sized for a large
// payload (wordsFor), so it is one segment and one allocation.
template <class Fill>
Bytes serverFrame(std::uint64_t id, capnp::uint firstSegmentWords, Fill&& fill) {
  capnp::MallocMessageBuilder m(firstSegmentWords);
  auto f = m.initRoot<wire::ServerFrame>();
  f.setId(id);
  fill(f);
  return protocol::toFrame(m);
}

template <class Fill>
Bytes serverFrame(std::uint64_t id, Fill&& fill) {
  return serverFrame(id, capnp::SUGGESTED_FIRST_SEGMENT_WORDS, std::forward<Fill>(fill));
}

}  // namespace

Bytes error(std::uint64_t id, const HubError& e) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
    auto err = f.initError();
    err.setCode(e.code);
    err.setMessage(text(e.message));
    err.setRetryAfterMs(e.retryAfterMs);
  });
}

Bytes challenge(std::string_view hubId, const crypto::SigningPublicKey& hubKey, const crypto::Challenge& nonce,
                std::int64_t nowMs) {
  return serverFrame(0, [&](wire::ServerFrame::Builder f) {
    auto c = f.initChallenge();
    c.setVersion(wire::PROTOCOL_VERSION);
    c.setHubId(text(hubId));
    c.setHubKey(kjBytes(hubKey.view()));
    c.setNonce(kjBytes(nonce.view()));
    c.setServerTimeMs(nowMs);
  });
}

Bytes authenticated(std::uint64_t id, std::string_view memberId, std::int64_t nowMs, const StoredHead& head) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
    auto a = f.initAuthenticated();
    a.setMemberId(text(memberId));
    a.setServerTimeMs(nowMs);
    setHead(a.initLogHead(), head);
  });
}

Bytes accepted(std::uint64_t id, const crypto::BulletinId& bulletinId, std::int64_t acceptedAtMs, bool already) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
    auto a = f.initAccepted();
    a.setBulletinId(kjBytes(bulletinId.view()));
    a.setAcceptedAtMs(acceptedAtMs);
    a.setAlreadyAccepted(already);
  });
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
  return serverFrame(id, wordsFor(bytes), [&](wire::ServerFrame::Builder f) {
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
  });
}

Bytes acked(std::uint64_t id, std::uint32_t removed) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
    f.initAcked().setRemoved(removed);
  });
}

Bytes status(std::uint64_t id, const crypto::BulletinId& bulletinId, const BulletinStatus& st) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
    auto s = f.initStatus();
    s.setBulletinId(kjBytes(bulletinId.view()));
    s.setPurgedAtMs(st.purgedAtMs);
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
      if (!r.ackHead.empty()) list[i].setAckHead(kjBytes(r.ackHead));
    }
  });
}

Bytes directory(std::uint64_t id, const Directory& dir) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
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
  });
}

Bytes logPage(std::uint64_t id, std::span<const StoredLogEntry> entries, const StoredHead& head) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
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
  });
}

Bytes auditPage(std::uint64_t id, std::span<const AuditRecord> rows) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
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
  });
}

Bytes adminResult(std::uint64_t id, std::uint64_t index, const StoredHead& head) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
    auto a = f.initAdmin();
    a.setIndex(index);
    setHead(a.initHead(), head);
  });
}

Bytes uploadReady(std::uint64_t id, std::uint64_t uploadId, std::uint64_t offset) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
    auto u = f.initUploadReady();
    u.setUploadId(uploadId);
    u.setOffset(offset);
  });
}

Bytes uploadProgress(std::uint64_t id, std::uint64_t uploadId, std::uint64_t received, bool complete) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
    auto u = f.initUploadProgress();
    u.setUploadId(uploadId);
    u.setReceived(received);
    u.setComplete(complete);
  });
}

Bytes blobChunk(std::uint64_t id, const crypto::Hash256& hash, const BlobSlice& slice) {
  return serverFrame(id, wordsFor(slice.data.size()), [&](wire::ServerFrame::Builder f) {
    auto c = f.initBlobChunk();
    c.setBlobHash(kjBytes(hash.view()));
    c.setOffset(slice.offset);
    c.setData(kjBytes(slice.data));
    c.setTotal(slice.total);
  });
}

Bytes subscribed(std::uint64_t id) {
  return serverFrame(id, [](wire::ServerFrame::Builder f) { f.setSubscribed(); });
}

Bytes pong(std::uint64_t id) {
  return serverFrame(id, [](wire::ServerFrame::Builder f) { f.setPong(); });
}

Bytes recorded(std::uint64_t id, ByteView recordId, std::int64_t atMs) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
    auto r = f.initRecorded();
    r.setId(kjBytes(recordId));
    r.setAtMs(atMs);
  });
}

Bytes meetings(std::uint64_t id, const std::vector<MeetingRow>& rows) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
    auto list = f.initMeetings().initMeetings(static_cast<unsigned>(rows.size()));
    for (unsigned i = 0; i < list.size(); ++i) {
      list[i].setBody(kjBytes(rows[i].record.body));
      list[i].setSignature(kjBytes(rows[i].record.signature));
    }
  });
}

Bytes recordStatus(std::uint64_t id, const SummaryRecordRow& row) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
    auto r = f.initRecordStatus();
    r.setRecordId(kjBytes(row.id.view()));
    r.setState(row.state);
    r.setDeadlineMs(row.deadlineMs);
    auto comments = r.initComments(static_cast<unsigned>(row.comments.size()));
    for (unsigned i = 0; i < row.comments.size(); ++i) setRecord(comments[i], row.comments[i].record);
    auto acked = r.initAcknowledgedBy(static_cast<unsigned>(row.acknowledgedBy.size()));
    for (unsigned i = 0; i < row.acknowledgedBy.size(); ++i) acked.set(i, text(row.acknowledgedBy[i]));
    r.setOutcomeIndex(row.outcomeIndex);
  });
}

Bytes proposals(std::uint64_t id, const std::vector<ProposalRow>& rows, std::int64_t nowMs,
                std::string_view requesterId) {
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
    auto items = f.initProposals().initItems(static_cast<unsigned>(rows.size()));
    for (unsigned i = 0; i < rows.size(); ++i) {
      const auto& row = rows[i];
      setRecord(items[i].initProposal(), row.record);
      auto d = items[i].initDecisions(static_cast<unsigned>(row.decisions.size()));
      for (unsigned j = 0; j < row.decisions.size(); ++j) setRecord(d[j], row.decisions[j].record);
      const bool expired = row.state == wire::ProposalState::OPEN && nowMs > row.expiresAtMs;
      // The sealed heads only to the one member who can open them, and
      // while the proposal is open (so the listing stays within a frame).
      if (row.proposerId == requesterId && row.state == wire::ProposalState::OPEN && !expired) {
        auto heads = items[i].initDecisionHeads(static_cast<unsigned>(row.decisions.size()));
        for (unsigned j = 0; j < row.decisions.size(); ++j) heads.set(j, kjBytes(row.decisions[j].sealedHead));
      }
      items[i].setState(expired ? wire::ProposalState::EXPIRED : row.state);
      items[i].setOutcomeIndex(row.outcomeIndex);
    }
  });
}

namespace {

void setSealed(wire::Bulletin::Builder out, const SealedText& t) {
  out.setHeader(kjBytes(t.header));
  out.setSignature(kjBytes(t.signature));
  out.setCiphertext(kjBytes(t.ciphertext));
}

std::size_t sealedSize(const SealedText& t) { return t.header.size() + t.signature.size() + t.ciphertext.size(); }

void setPost(wire::ActionPost::Builder out, const StoredRecord& record, const SealedText& sealed) {
  setRecord(out.initRecord(), record);
  if (!sealed.empty()) setSealed(out.initSealed(), sealed);
}

}  // namespace

Bytes actions(std::uint64_t id, const std::vector<ActionRow>& rows, std::size_t maxBytes) {
  std::size_t fit = 0;
  std::size_t bytes = 0;
  for (const auto& row : rows) {
    std::size_t size = row.record.body.size() + row.record.signature.size() + sealedSize(row.text) + 64;
    for (const auto& u : row.updates) size += u.record.body.size() + u.record.signature.size() + sealedSize(u.note) + 64;
    if (fit > 0 && bytes + size > maxBytes) break;
    bytes += size;
    ++fit;
  }
  return serverFrame(id, [&](wire::ServerFrame::Builder f) {
    auto a = f.initActions();
    auto items = a.initItems(static_cast<unsigned>(fit));
    for (unsigned i = 0; i < fit; ++i) {
      const auto& row = rows[i];
      setPost(items[i].initItem(), row.record, row.text);
      auto updates = items[i].initUpdates(static_cast<unsigned>(row.updates.size()));
      for (unsigned j = 0; j < row.updates.size(); ++j) setPost(updates[j], row.updates[j].record, row.updates[j].note);
    }
    a.setTruncated(fit < rows.size());
  });
}

Bytes actionReminder(const DueAction& a, std::string_view dueDay, bool overdue) {
  return serverFrame(0, [&](wire::ServerFrame::Builder f) {
    auto r = f.initActionReminder();
    r.setActionId(kjBytes(a.id.view()));
    r.setOwner(text(a.owner));
    r.setDueDay(text(dueDay));
    r.setStatus(static_cast<wire::ActionStatus>(a.status));
    r.setOverdue(overdue);
  });
}

}  // namespace focal::server::frames
