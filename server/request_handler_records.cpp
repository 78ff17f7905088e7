// Forward, permit and retract: signed working-group records about a stored
// bulletin (PROTOCOL.md §12.1-12.3, DESIGN.md §8).
//
// SECURITY: each record is checked in the same order: size, signature over
// the exact bytes under the SESSION's identity key (so the author is the
// authenticated member, whatever the record claims), structure, the author
// fields against the session, the clock, and only then the rules. A
// refusal names the rule and the member it concerns.
#include "server/request_handler.hpp"

#include "crypto/primitives.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/limits.hpp"
#include "protocol/signing.hpp"
#include "server/frames.hpp"
#include "server/hub.hpp"
#include "server/policy.hpp"
#include "server/session.hpp"

#include <spdlog/spdlog.h>

namespace focal::server {

namespace {

using crypto::Bytes;
using protocol::view;
using wire::ErrorCode;

struct SignedBytes {
  Bytes body;
  Bytes signature;
};

// Size, then signature over the exact body under the session's key.
Result<SignedBytes> checkRecord(wire::SignedRecord::Reader r, std::string_view context, const Session& session,
                                const char* what) {
  const auto body = view(r.getBody());
  if (body.empty()) return fail(ErrorCode::INVALID_REQUEST, std::string("empty ") + what);
  if (body.size() > RequestHandler::MaxRecordBytes) return fail(ErrorCode::TOO_LARGE, std::string(what) + " too large");
  const auto sig = crypto::Signature::fromBytes(view(r.getSignature()));
  if (!sig) return fail(ErrorCode::BAD_SIGNATURE, "the signature must be 64 bytes");
  if (!crypto::verify(context, body, *sig, session.identityKey())) {
    return fail(ErrorCode::BAD_SIGNATURE, std::string("the ") + what + "'s signature does not verify under your identity key");
  }
  return SignedBytes{Bytes(body.begin(), body.end()), Bytes(sig->bytes.begin(), sig->bytes.end())};
}

Result<Ok> checkClock(std::int64_t atMs, std::int64_t nowMs, const char* field) {
  const std::int64_t skew = atMs - nowMs;
  if (skew > protocol::MaxClockSkewMs || skew < -protocol::MaxClockSkewMs) {
    return fail(ErrorCode::STALE_TIMESTAMP, std::string(field) + " is more than " +
                                                std::to_string(protocol::MaxClockSkewMs / 60000) +
                                                " minutes from the hub's clock");
  }
  return Ok{};
}

template <class F>
std::optional<F> fixed(capnp::Data::Reader d) {
  return F::fromBytes(view(d));
}

}  // namespace

// ---- forward -------------------------------------------------------------------------------

net::awaitable<Result<Bytes>> RequestHandler::forward(std::shared_ptr<Session> session, std::uint64_t id,
                                                      wire::SignedRecord::Reader req) {
  auto checked = checkRecord(req, protocol::context::Forward, *session, "forward record");
  if (!checked) co_return fail(checked.error());
  auto parsed = protocol::decode<wire::ForwardRecord>(checked->body);
  if (!parsed) co_return fail(ErrorCode::INVALID_REQUEST, "the forward record does not parse: " + parsed.error().message);
  const auto f = parsed->root();
  const auto forwardId = fixed<crypto::BulletinId>(f.getForwardId());
  const auto bulletinId = fixed<crypto::BulletinId>(f.getBulletinId());
  const auto headerHash = fixed<crypto::Hash256>(f.getHeaderHash());
  if (!forwardId || !bulletinId || !headerHash) {
    co_return fail(ErrorCode::INVALID_REQUEST, "forwardId and bulletinId are 16 bytes, headerHash 32");
  }
  if (view(f.getForwarderId()) != session->memberId() ||
      !(fixed<crypto::SigningPublicKey>(f.getForwarderKey()) == std::optional(session->identityKey()))) {
    co_return fail(ErrorCode::FORBIDDEN, "a forward record names its forwarder: you, with your identity key");
  }
  const std::int64_t now = hub_.clock().nowMs();
  if (auto ok = checkClock(f.getForwardedAtMs(), now, "forwardedAtMs"); !ok) co_return fail(ok.error());
  const auto recipients = f.getRecipients();
  if (recipients.size() == 0) co_return fail(ErrorCode::INVALID_REQUEST, "a forward names at least one recipient");
  if (recipients.size() > protocol::MaxRecipients) co_return fail(ErrorCode::TOO_LARGE, "too many recipients");
  std::vector<std::string_view> ids;
  for (auto r : recipients) {
    const auto rid = view(r.getMemberId());
    if (!ids.empty() && !(ids.back() < rid)) {
      co_return fail(ErrorCode::INVALID_REQUEST, "forward recipients must be sorted by member id, without repeats");
    }
    if (r.getEncryptionKey().size() != crypto::BoxPublicKey::size || r.getWrappedKey().size() != crypto::WrappedKey::size) {
      co_return fail(ErrorCode::INVALID_REQUEST, "recipient keys are 32 bytes and wrapped keys 80");
    }
    ids.push_back(rid);
  }

  // The bulletin, as its forwarder holds it. Someone who does not hold it
  // learns nothing about whether it exists.
  const Directory& dir = hub_.directory();
  const MemberRecord* forwarder = dir.find(session->memberId());
  if (forwarder == nullptr || !forwarder->active()) co_return fail(ErrorCode::REVOKED_KEY, "your membership or key is revoked");
  auto held = hub_.store().heldThroughForward(session->memberId(), *bulletinId);
  auto row = hub_.store().bulletin(*bulletinId);
  // The originator forwards its own bulletin too: it holds the content key
  // (its client kept it sealed to itself) and decides who receives its
  // information, within the first-send rule (PROTOCOL.md §12.1).
  const bool originator = row && row->senderId == session->memberId();
  if (!row || (!held && !originator)) co_return fail(ErrorCode::NOT_FOUND, "no such bulletin addressed to you");
  if (!originator && *held) {
    co_return fail(ErrorCode::POLICY_DENIED,
                   "forwarding rule: only original recipients may forward; you received this bulletin through a "
                   "forward (ask its sender " + row->senderId + " or the member who forwarded it)");
  }
  if (!(crypto::hash256(row->header) == *headerHash)) {
    co_return fail(ErrorCode::INVALID_REQUEST, "headerHash is not the hash of the bulletin's signed header");
  }
  // A first answer without queueing anything; Store::insertForward checks it
  // again inside the transaction that commits the forward (the race with a
  // retraction committed meanwhile).
  if (row->retracted) {
    co_return fail(ErrorCode::POLICY_DENIED, "retraction rule: bulletin " + crypto::toHex(*bulletinId) +
                                                 " was retracted by its sender; it may not be forwarded");
  }
  auto header = protocol::decode<wire::BulletinHeader>(row->header);
  if (!header) co_return fail(ErrorCode::INTERNAL, "internal error");
  const auto h = header->root();

  // H2: no further dissemination without the originator's permission (the
  // originator needs none).
  if (!originator && h.getHandling() == wire::Handling::H2 &&
      !hub_.store().hasPermission(session->memberId(), *bulletinId)) {
    co_return fail(ErrorCode::POLICY_DENIED,
                   "handling code H2 rule: no further dissemination without the originator's permission; " +
                       row->senderId + " has not permitted " + session->memberId() + " to forward it");
  }

  auto bulletin = std::make_shared<NewForward>();
  for (auto r : recipients) {
    const auto rid = view(r.getMemberId());
    const MemberRecord* m = dir.find(rid);
    if (m == nullptr) co_return fail(ErrorCode::UNKNOWN_RECIPIENT, "unknown recipient " + std::string(rid));
    if (!m->active()) co_return fail(ErrorCode::REVOKED_KEY, "recipient " + m->id + " is revoked");
    const auto key = fixed<crypto::BoxPublicKey>(r.getEncryptionKey());
    if (!(*key == m->encryptionKey)) co_return fail(ErrorCode::POLICY_DENIED, "stale key for " + m->id);
    bulletin->recipients.push_back(NewBulletin::Recipient{m->id, *key});
  }
  std::vector<protocol::Address> parsedAddresses;
  auto resolution = matchAddresses(dir, session->memberId(), f.getAddresses(), ids, parsedAddresses);
  if (!resolution) co_return fail(resolution.error());
  if (originator) {
    if (auto refusal = protocol::checkFirstSend(h.getTlp(), parsedAddresses, *resolution)) {
      co_return fail(ErrorCode::POLICY_DENIED, *refusal);
    }
  } else {
    for (const auto& [rid, reached] : resolution->reached) {
      if (auto refusal = protocol::checkForward(h.getTlp(), viewOf(*forwarder), reached.member)) {
        co_return fail(ErrorCode::POLICY_DENIED, *refusal);
      }
    }
  }

  bulletin->forwardId = *forwardId;
  bulletin->bulletinId = *bulletinId;
  bulletin->forwarderId = session->memberId();
  bulletin->record = StoredRecord{std::move(checked->body), std::move(checked->signature)};
  bulletin->recordedAtMs = now;
  auto job = store::StoreForward{bulletin};
  auto outcome = co_await hub_.commits().submit(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  if (!outcome->already) {
    spdlog::info("bulletin {} forwarded by {} to {} new member(s)", crypto::toHex(*bulletinId), session->memberId(),
                 outcome->queued.size());
    hub_.pushDeliveries(outcome->queued, now, row->header, row->signature, row->ciphertext, &bulletin->record);
  }
  co_return frames::recorded(id, forwardId->view(), outcome->recordedAtMs);
}

// ---- permit --------------------------------------------------------------------------------

net::awaitable<Result<Bytes>> RequestHandler::permit(std::shared_ptr<Session> session, std::uint64_t id,
                                                     wire::SignedRecord::Reader req) {
  auto checked = checkRecord(req, protocol::context::Permission, *session, "permission");
  if (!checked) co_return fail(checked.error());
  auto parsed = protocol::decode<wire::Permission>(checked->body);
  if (!parsed) co_return fail(ErrorCode::INVALID_REQUEST, "the permission does not parse: " + parsed.error().message);
  const auto p = parsed->root();
  const auto bulletinId = fixed<crypto::BulletinId>(p.getBulletinId());
  if (!bulletinId) co_return fail(ErrorCode::INVALID_REQUEST, "bulletin ids are 16 bytes");
  const std::int64_t now = hub_.clock().nowMs();
  if (auto ok = checkClock(p.getGrantedAtMs(), now, "grantedAtMs"); !ok) co_return fail(ok.error());
  const auto granted = p.getGrantedTo();
  if (granted.size() == 0) co_return fail(ErrorCode::INVALID_REQUEST, "a permission names at least one member");
  if (granted.size() > protocol::MaxRecipients) co_return fail(ErrorCode::TOO_LARGE, "too many members");

  auto row = hub_.store().bulletin(*bulletinId);
  if (!row || (row->senderId != session->memberId() && !hub_.store().heldThroughForward(session->memberId(), *bulletinId))) {
    co_return fail(ErrorCode::NOT_FOUND, "no such bulletin of yours");
  }
  if (row->senderId != session->memberId()) {
    co_return fail(ErrorCode::FORBIDDEN, "only the originator (" + row->senderId + ") may permit further dissemination");
  }
  auto grantees = std::make_shared<std::vector<std::string>>();
  for (auto g : granted) {
    const std::string member(view(g));
    auto held = hub_.store().heldThroughForward(member, *bulletinId);
    if (!held || *held) {
      co_return fail(ErrorCode::INVALID_REQUEST,
                     "'" + member.substr(0, 64) + "' is not an original recipient; only they may forward");
    }
    grantees->push_back(member);
  }
  auto record = std::make_shared<StoredRecord>(StoredRecord{std::move(checked->body), std::move(checked->signature)});
  auto job = store::GrantPermission{*bulletinId, grantees, record, now};
  auto done = co_await hub_.commits().submit(std::move(job), net::use_awaitable);
  if (!done) co_return fail(done.error());
  spdlog::info("bulletin {}: {} permitted {} member(s) to forward", crypto::toHex(*bulletinId), session->memberId(),
               grantees->size());
  co_return frames::recorded(id, bulletinId->view(), now);
}

// ---- retract -------------------------------------------------------------------------------

net::awaitable<Result<Bytes>> RequestHandler::retract(std::shared_ptr<Session> session, std::uint64_t id,
                                                      wire::SignedRecord::Reader req) {
  auto checked = checkRecord(req, protocol::context::Retraction, *session, "retraction");
  if (!checked) co_return fail(checked.error());
  auto parsed = protocol::decode<wire::Retraction>(checked->body);
  if (!parsed) co_return fail(ErrorCode::INVALID_REQUEST, "the retraction does not parse: " + parsed.error().message);
  const auto r = parsed->root();
  const auto bulletinId = fixed<crypto::BulletinId>(r.getBulletinId());
  if (!bulletinId) co_return fail(ErrorCode::INVALID_REQUEST, "bulletin ids are 16 bytes");
  if (view(r.getSenderId()) != session->memberId()) {
    co_return fail(ErrorCode::FORBIDDEN, "a retraction names its author in senderId: you");
  }
  const auto reason = view(r.getReason());
  if (reason.empty() || reason.size() > protocol::MaxTextFieldBytes) {
    co_return fail(ErrorCode::INVALID_REQUEST,
                   "a retraction gives a reason of 1 to " + std::to_string(protocol::MaxTextFieldBytes) + " bytes");
  }
  // SECURITY: every recipient is shown the reason (PROTOCOL.md §3, "Text fields").
  if (const auto problem = protocol::checkSingleLineText(reason); problem != protocol::TextProblem::None) {
    co_return fail(ErrorCode::INVALID_REQUEST, std::string("the retraction reason ") + protocol::describe(problem));
  }
  const std::int64_t now = hub_.clock().nowMs();
  if (auto ok = checkClock(r.getRetractedAtMs(), now, "retractedAtMs"); !ok) co_return fail(ok.error());

  auto row = hub_.store().bulletin(*bulletinId);
  if (!row || (row->senderId != session->memberId() && !hub_.store().heldThroughForward(session->memberId(), *bulletinId))) {
    co_return fail(ErrorCode::NOT_FOUND, "no such bulletin visible to you");
  }
  if (row->senderId != session->memberId()) {
    co_return fail(ErrorCode::FORBIDDEN, "retraction rule: only the original sender (" + row->senderId +
                                             ") may retract this bulletin");
  }
  auto retraction = std::make_shared<NewRetraction>();
  retraction->bulletinId = *bulletinId;
  retraction->record = StoredRecord{std::move(checked->body), std::move(checked->signature)};
  retraction->recordedAtMs = now;
  auto job = store::StoreRetraction{retraction};
  auto outcome = co_await hub_.commits().submit(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  if (!outcome->already) {
    spdlog::info("bulletin {} retracted by {}; announced to {} member(s)", crypto::toHex(*bulletinId),
                 session->memberId(), outcome->queued.size());
    hub_.pushDeliveries(outcome->queued, now, row->header, row->signature, row->ciphertext, nullptr,
                        &retraction->record);
  }
  co_return frames::recorded(id, bulletinId->view(), outcome->recordedAtMs);
}

}  // namespace focal::server
