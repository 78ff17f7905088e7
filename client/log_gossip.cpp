// Checking carried log heads, recording a fork and refusing while one is
// recorded (client/log_gossip.hpp).
#include "client/log_gossip.hpp"

#include "client/client_error.hpp"
#include "client/log_verifier.hpp"
#include "crypto/secure_file.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <ctime>

namespace focal::client {

namespace fs = std::filesystem;

namespace {

std::string shortHex(const crypto::Hash256& h) { return crypto::toHex(h).substr(0, 16); }

std::string utcTime(std::int64_t ms) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(static_cast<std::time_t>(ms / 1000)));
}

protocol::SignedHead signedHead(const SignedHeadBytes& h) {
  return protocol::SignedHead{h.head, crypto::Signature::fromBytes(h.signature).value_or(crypto::Signature{})};
}

// The proof that `carried` (size <= own size) conflicts with the own
// log: the own head is the larger, the own entries from carried's size on
// chain from the own entryHash(size - 1) to the own root.
protocol::ForkProof proofAgainstOwn(const VerifiedLog& log, const SignedHeadBytes& carried, std::uint64_t size) {
  protocol::ForkProof p;
  p.hubId = log.verifier().hubId();
  p.hubKey = log.verifier().hubKey();
  p.smaller = signedHead(carried);
  p.larger = signedHead(*log.head());
  p.largerHashAtSmallerSize = log.verifier().entryHashes()[size - 1];
  for (std::uint64_t i = size; i < log.size(); ++i) {
    const auto& e = log.entries()[i];
    p.entries.push_back(protocol::ProofEntry{e.index, e.recordedAtMs,
                                             crypto::SigningPublicKey::fromBytes(e.authorKey).value_or(crypto::SigningPublicKey{}), e.event,
                                             crypto::Signature::fromBytes(e.signature).value_or(crypto::Signature{})});
  }
  return p;
}

[[noreturn]] void raiseFork(const VerifiedLog& log, protocol::ForkProof proof, const std::string& carrier) {
  proof.note = fmt::format("the smaller head was carried by {}; detected by the receiver", carrier);
  // The proof must hold before it is kept: both heads were checked, so this
  // only guards against a bug here.
  if (auto ok = protocol::checkForkProof(proof); !ok) {
    throw VerifyError("a conflicting log head was found but its proof does not check (" + ok.error() + ")");
  }
  if (const auto& dir = log.stateDir(); dir && !fs::exists(forkFile(*dir))) {
    fs::create_directories(*dir);
    crypto::writeFileAtomic(forkFile(*dir), protocol::renderForkProof(proof), 0600);
  }
  throw VerifyError(forkAlarm(proof));
}

}  // namespace

const char* carriedHeadCheckName(CarriedHeadCheck c) {
  switch (c) {
    case CarriedHeadCheck::None: return "";
    case CarriedHeadCheck::Consistent: return "consistent";
    case CarriedHeadCheck::Unconfirmed: return "unconfirmed";
    case CarriedHeadCheck::Invalid: return "invalid";
  }
  return "";
}

std::optional<CarriedHeadCheck> compareCarriedHead(const VerifiedLog& log, const SignedHeadBytes& carried,
                                                   std::optional<protocol::ForkProof>& fork) {
  if (log.size() == 0 || !log.head()) return CarriedHeadCheck::Invalid;  // nothing verified to compare with
  auto info = parseSignedHead(carried, log.verifier().hubKey());
  if (!info || info->hubId != log.verifier().hubId() || info->size == 0) return CarriedHeadCheck::Invalid;
  if (info->size > log.size()) return std::nullopt;
  if (log.verifier().entryHashes()[info->size - 1] == info->root) return CarriedHeadCheck::Consistent;
  fork = proofAgainstOwn(log, carried, info->size);
  return CarriedHeadCheck::None;  // the caller acts on `fork`
}

CarriedHeadCheck checkCarriedHead(Connection& c, OpenedMessage& m) {
  auto verdict = CarriedHeadCheck::None;
  const auto log = c.verifiedLog();
  if (!m.carriedHead.empty() && log) {
    const SignedHeadBytes carried{m.carriedHead, m.carriedHeadSignature};
    std::optional<protocol::ForkProof> fork;
    auto found = compareCarriedHead(*log, carried, fork);
    if (!found && !fork) {
      log->sync(c);  // fetch and verify up to the hub's head; a bad log throws here
      found = compareCarriedHead(*log, carried, fork);
    }
    if (fork) {
      raiseFork(*log, std::move(*fork),
                fmt::format("bulletin {} from {}{}", crypto::toHex(m.id), m.senderId,
                            m.forwardedBy ? " (forwarded by " + m.forwardedBy->forwarderId + ")" : ""));
    }
    verdict = found.value_or(CarriedHeadCheck::Unconfirmed);
  }
  m.carriedHeadCheck = carriedHeadCheckName(verdict);
  return verdict;
}

std::optional<protocol::SignedHead> headToCarry(const Connection& c) {
  const auto& log = c.verifiedLog();
  if (!log || !log->head()) return std::nullopt;
  auto sig = crypto::Signature::fromBytes(log->head()->signature);
  if (!sig) return std::nullopt;
  return protocol::SignedHead{log->head()->head, *sig};
}

std::optional<crypto::Bytes> sealedHeadFor(const Connection& c, protocol::HeadCarrier carrier, crypto::ByteView subject,
                                           const crypto::BoxPublicKey& checker, const crypto::Keyring& me) {
  const auto head = headToCarry(c);
  if (!head) return std::nullopt;
  return protocol::sealCarriedHead(carrier, subject, *head, checker, me);
}

CarriedHeadCheck checkSealedHead(const VerifiedLog& log, protocol::HeadCarrier carrier, crypto::ByteView sealed,
                                 crypto::ByteView subject, const MemberRecord& author, const crypto::Keyring& me,
                                 const std::string& carrierName) {
  // Any identity key the author held: it may have rotated since it signed.
  std::vector<crypto::SigningPublicKey> keys;
  for (const auto& p : author.identityHistory) keys.push_back(p.key);
  if (keys.empty()) keys.push_back(author.identityKey);
  for (const auto& key : keys) {
    auto opened = protocol::openCarriedHead(carrier, sealed, subject, author.id, key, me);
    if (opened) {
      const SignedHeadBytes carried{opened->head,
                                    crypto::Bytes(opened->signature.view().begin(), opened->signature.view().end())};
      return checkCarriedHead(log, carried, carrierName);
    }
    if (opened.error() != protocol::CarriedHeadError::BadSignature) break;  // another key cannot help
  }
  return CarriedHeadCheck::Invalid;
}

CarriedHeadCheck checkCarriedHead(const VerifiedLog& log, const SignedHeadBytes& carried, const std::string& carrier) {
  std::optional<protocol::ForkProof> fork;
  const auto found = compareCarriedHead(log, carried, fork);
  if (fork) raiseFork(log, std::move(*fork), carrier);
  return found.value_or(CarriedHeadCheck::Unconfirmed);
}

fs::path forkFile(const fs::path& logStateDir) { return logStateDir / "fork.json"; }

std::optional<protocol::ForkProof> loadRecordedFork(const fs::path& logStateDir) {
  const auto file = forkFile(logStateDir);
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  std::string text;
  try {
    const auto bytes = crypto::readFileLimited(file, protocol::MaxForkProofBytes);
    text.assign(bytes.begin(), bytes.end());
  } catch (const std::exception& e) {
    throw VerifyError(fmt::format("a fork of the directory log is recorded in {} but it cannot be read ({}); look "
                                  "at it, then move it away",
                                  file.string(), e.what()));
  }
  auto proof = protocol::parseForkProof(text);
  if (!proof) {
    throw VerifyError(fmt::format("a fork of the directory log is recorded in {} but it is damaged ({}); look at "
                                  "it, then move it away",
                                  file.string(), proof.error()));
  }
  return std::move(proof).value();
}

std::string forkAlarm(const protocol::ForkProof& proof) {
  auto facts = protocol::checkForkProof(proof);
  if (!facts) return "FORK recorded, but its proof does not check: " + facts.error();
  const auto& s = facts->smaller;
  const auto& l = facts->larger;
  return fmt::format(
      "FORK: hub '{}' signed two conflicting heads of its directory log. Head A: {} entries, root {}, signed {}. "
      "Head B: {} entries, root {}, signed {}; in B's log entry {} has hash {}, not A's root. ({}). The hub is "
      "showing members different histories (a split view): a key it shows you may be one it hides a revocation "
      "of. Focal will not seal to anyone, or accept bulletins as verified, until you act: export the proof "
      "(focal verify-log --proof-out FILE), send it to your administrators and the other members' points of "
      "contact over another channel, then run focal verify-log --clear-fork",
      proof.hubId, s.size, shortHex(s.root), utcTime(s.timeMs), l.size, shortHex(l.root), utcTime(l.timeMs),
      s.size - 1, shortHex(facts->largerHashAtSmallerSize), proof.note.empty() ? "no note" : proof.note);
}

void refuseIfForked(const std::optional<fs::path>& logStateDir) {
  if (!logStateDir) return;
  if (auto fork = loadRecordedFork(*logStateDir)) throw VerifyError(forkAlarm(*fork));
}

}  // namespace focal::client
