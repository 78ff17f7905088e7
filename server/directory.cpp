// The hub's adapter over protocol::DirectoryLog: stored entries in, wire
// errors out (see directory.hpp).
#include "server/directory.hpp"

#include <stdexcept>

namespace focal::server {

namespace {

using wire::ErrorCode;
using protocol::LogRule;

ErrorCode codeOf(LogRule rule) {
  switch (rule) {
    case LogRule::BadSignature:
    case LogRule::GenesisNotByHubKey:
    case LogRule::FirstAdminWrongSigner:
    case LogRule::CertInvalid:
    case LogRule::NotCurrentIdentityKey: return ErrorCode::BAD_SIGNATURE;
    case LogRule::ClockSkew:
    case LogRule::IssuedOutsideWindow: return ErrorCode::STALE_TIMESTAMP;
    case LogRule::PositionMismatch: return ErrorCode::STALE_POSITION;
    case LogRule::DuplicateEvent: return ErrorCode::DUPLICATE;
    case LogRule::EventTooLarge: return ErrorCode::TOO_LARGE;
    case LogRule::OutcomeNotByHub:
    case LogRule::AuthorNotActive:
    case LogRule::NotAdmin:
    case LogRule::NotSecretariat:
    case LogRule::NotSelfOrAdmin: return ErrorCode::FORBIDDEN;
    case LogRule::RoleTaken:
    case LogRule::SecondFocalPoint:
    case LogRule::RoleNotHeld:
    case LogRule::UnknownDecision: return ErrorCode::POLICY_DENIED;
    case LogRule::AdoptionRefused:
    case LogRule::PanelByConsensus:
    case LogRule::QuorumRequired:
    case LogRule::QuorumNotMet:
    case LogRule::QuorumWouldBreak:
    case LogRule::RotationTooEarly: return ErrorCode::POLICY_DENIED;
    case LogRule::ProposalReplayed: return ErrorCode::DUPLICATE;
    case LogRule::UnknownMember: return ErrorCode::UNKNOWN_RECIPIENT;
    case LogRule::MemberRevoked: return ErrorCode::REVOKED_KEY;
    default: return ErrorCode::INVALID_REQUEST;
  }
}

protocol::LogEntryView viewOf(const StoredLogEntry& e) {
  return {e.event, e.signature, e.authorKey, e.authorId, e.index, e.recordedAtMs};
}

}  // namespace

HubError toHubError(const protocol::LogRefusal& refusal) {
  return HubError{codeOf(refusal.rule), protocol::describe(refusal)};
}

Result<Ok> Directory::checkProposedChange(wire::AdminChange::Reader change, std::string_view proposerId) const {
  if (auto ok = log_.checkProposedChange(change, proposerId); !ok) return fail(toHubError(ok.error()));
  return Ok{};
}

Result<Ok> Directory::check(crypto::ByteView event, const crypto::Signature& signature, std::string_view authorId,
                            const crypto::SigningPublicKey& authorKey, std::optional<std::int64_t> nowMs,
                            std::optional<std::int64_t> atMs, std::optional<std::int64_t> recordedAtMs) const {
  const protocol::LogEntryView entry{event,       signature,
                                     authorKey,   authorId,
                                     log_.size(), recordedAtMs.value_or(atMs.value_or(nowMs.value_or(0)))};
  protocol::DirectoryLog::CheckOptions options;
  options.nowMs = nowMs;
  options.adoptedAtMs = atMs ? atMs : nowMs;  // neither: judged at the proposal's expiry
  if (auto ok = log_.check(entry, options); !ok) return fail(toHubError(ok.error()));
  return Ok{};
}

StoredLogEntry Directory::prepare(crypto::Bytes event, const crypto::Signature& signature, std::string authorId,
                                  const crypto::SigningPublicKey& authorKey, std::int64_t recordedAtMs) const {
  StoredLogEntry e;
  e.index = log_.size();
  e.recordedAtMs = recordedAtMs;
  e.authorId = std::move(authorId);
  e.authorKey = authorKey;
  e.signature = signature;
  e.event = std::move(event);
  e.entryHash = log_.nextHash(viewOf(e));
  return e;
}

std::string Directory::apply(const StoredLogEntry& entry) { return log_.apply(viewOf(entry), entry.entryHash); }

void Directory::applyUnchecked(const StoredLogEntry& entry) {
  StoredLogEntry copy = entry;
  copy.index = log_.size();
  try {
    log_.apply(viewOf(copy), copy.entryHash);
  } catch (...) {  // a forged entry may not even read (kj::Exception)
    if (log_.size() == copy.index) log_.skip(copy.entryHash);
  }
}

Expected<Directory, std::string> Directory::replay(const std::vector<StoredLogEntry>& entries) {
  Directory d;
  protocol::DirectoryLog::CheckOptions options;
  for (const auto& entry : entries) {
    const auto view = viewOf(entry);
    options.adoptedAtMs = entry.recordedAtMs;
    if (auto ok = d.log_.check(view, options); !ok) return unexpected(protocol::describeAt(entry.index, ok.error()));
    if (!(d.log_.nextHash(view) == entry.entryHash)) {
      return unexpected("log entry " + std::to_string(entry.index) + ": hash chain broken");
    }
    d.log_.apply(view, entry.entryHash);
  }
  return d;
}

void Directory::setHead(StoredHead head) {
  if (head.size == head_.size && head.cosignatures.empty()) head.cosignatures = std::move(head_.cosignatures);
  head_ = std::move(head);
}

void Directory::addCosignature(protocol::Cosignature c) {
  auto& list = head_.cosignatures;
  std::erase_if(list, [&](const protocol::Cosignature& o) { return o.witnessId == c.witnessId; });
  list.push_back(std::move(c));
}

}  // namespace focal::server
