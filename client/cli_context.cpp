#include "client/cli_context.hpp"

#include "client/agent_client.hpp"
#include "client/bulletin_cache.hpp"
#include "client/client_error.hpp"
#include "client/head_freshness.hpp"
#include "client/self_monitor.hpp"
#include "client/terminal.hpp"
#include "client/verified_log.hpp"
#include "protocol/command_line.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace focal::client::cli {

Output& CliContext::out() {
  if (!out_) out_.emplace(options.json);
  return *out_;
}

Profile& CliContext::profile() {
  if (!profile_) {
    profile_.emplace(options.profileDir.empty() ? Profile::defaultDir() : std::filesystem::path(options.profileDir));
  }
  return *profile_;
}

void requireNewKeyPassphrase(std::string_view passphrase, std::string_view what) {
  if (crypto::longEnoughForNewKeyFile(passphrase)) return;
  throw UsageError("short-passphrase", fmt::format("{} needs a passphrase of at least {} characters; this one has {}",
                                                   what, crypto::MinNewPassphraseChars,
                                                   crypto::passphraseChars(passphrase)));
}

std::string CliContext::passphrase(bool confirm) {
  if (givenPassphrase_) return *givenPassphrase_;
  if (const char* env = std::getenv("FOCAL_PASSPHRASE"); env != nullptr) return env;
  auto first = promptHidden("Passphrase: ");
  if (!first) {
    throw UsageError("no-passphrase", "no terminal to ask for the passphrase: set FOCAL_PASSPHRASE");
  }
  if (confirm) {
    auto second = promptHidden("Passphrase again: ");
    if (!second || *second != *first) throw UsageError("passphrase-mismatch", "the passphrases differ");
  }
  return *first;
}

const std::string& CliContext::resolveKeyFile() {
  const std::string configured = profile().settings().key;
  std::string key = options.key.empty() ? configured : options.key;
  if (key.empty()) {
    throw UsageError("no-key", "no key file: pass --key FILE or run `focal profile set --key FILE`");
  }
  std::error_code ec;
  keyPath_ = std::filesystem::absolute(key, ec).lexically_normal().string();
  if (ec) keyPath_ = key;
  profileHasKey_ = !configured.empty();
  keyIsProfileKey_ = options.key.empty() || (!configured.empty() && std::filesystem::equivalent(key, configured, ec));
  return keyPath_;
}

std::filesystem::path CliContext::agentSocket() {
  return agent::socketPath(profile().dir(), resolveKeyFile());
}

crypto::Keyring CliContext::loadKeys() {
  std::string stale;
  auto keys = agent::agentKeyring(agentSocket(), keyPath_, &stale);
  if (!stale.empty()) out().warning(stale);
  if (!keys) return loadKeyFile();
  profile().rememberKeyFile(keys->memberId, {keyPath_, keys->identity.publicKey, keys->encryption.publicKey});
  return std::move(*keys);
}

crypto::MemberKeys CliContext::loadKeyFile() {
  const std::string key = resolveKeyFile();
  auto keys = crypto::readKeyFile(key, passphrase());
  if (!keys) {
    if (keys.error() == crypto::KeyFileError::NotFound) throw std::runtime_error("cannot read key file " + key);
    throw UsageError("key-file", key + ": " + crypto::describe(keys.error()));
  }
  profile().rememberKeyFile(keys->memberId, {keyPath_, keys->identity.publicKey, keys->encryption.publicKey});
  return std::move(keys).value();
}

VerifiedContacts CliContext::contacts(const crypto::Keyring& keys) {
  auto v = VerifiedContacts::load(profile().memberDir(keys.memberId) / "verified.json");
  if (!v.warning().empty()) out().warning(v.warning());
  return v;
}

BulletinCache CliContext::cache(const crypto::Keyring& keys) {
  // A pre-member profile's last-seq goes to the member of the profile's own
  // key file (or to the first member, when the profile names none).
  BulletinCache c(profile().cacheDir(keys.memberId, keyIsProfileKey_ || !profileHasKey_));
  c.onOpened([this, keys](const OpenedMessage& m) { archiveOpened(keys, m); });
  return c;
}

Archive& CliContext::archive(const crypto::Keyring& keys) {
  if (archive_ && archiveMember_ == keys.memberId) return *archive_;
  saveArchive();  // another member's, opened earlier in this command
  archive_.reset();
  const auto file = profile().memberDir(keys.memberId) / "archive.bin";
  try {
    archive_.emplace(Archive::open(file, keys));
  } catch (const ArchiveError& e) {
    const auto code = e.code();
    if (code == ArchiveFileError::WrongKey || code == ArchiveFileError::OtherMember) {
      throw UsageError("archive-key", std::string(e.what()) +
                                          " (use the key file the archive was saved with, or one that keeps that "
                                          "key; if that key is lost, move the file away to start a new archive)");
    }
    if (code) throw VerifyError(e.what());
    throw;
  }
  archiveMember_ = keys.memberId;
  archive_->applyRetention(archiveRetention(), nowMs());  // history and search show no expired body
  return *archive_;
}

void CliContext::archiveOpened(const crypto::Keyring& keys, const OpenedMessage& m) {
  try {
    if (!archive_ || archiveMember_ != keys.memberId) {
      // Loading the archive costs ~25 ms per 1,000 bulletins (bench/RESULTS.md):
      // not for a bulletin it holds already in the same state.
      if (knownMember_ != keys.memberId) {
        knownIds_ = Archive::knownIds(profile().memberDir(keys.memberId) / "archive.bin");
        knownMember_ = keys.memberId;
        knownKeys_ = std::make_shared<const crypto::Keyring>(keys);
      }
      if (knownIds_) {
        const auto it = knownIds_->retracted.find(crypto::toHex(m.id));
        if (it != knownIds_->retracted.end() && (it->second || !m.retraction)) return;
      }
    }
    archive(keys).record(m, nowMs());
  } catch (const std::exception& e) {
    // (AgentError and VerifyError are std::exceptions too: the bulletin is
    // shown all the same, only not archived.)
    if (!archiveWarned_) out().warning(std::string("not kept in the local archive: ") + e.what());
    archiveWarned_ = true;
  }
}

void CliContext::archiveAcknowledged(const crypto::Keyring& keys, const std::vector<crypto::BulletinId>& ids) {
  try {
    auto& a = archive(keys);
    for (const auto& id : ids) a.markAcknowledged(id);
  } catch (const std::exception& e) {
    if (!archiveWarned_) out().warning(std::string("the local archive does not record the acknowledgement: ") + e.what());
    archiveWarned_ = true;
  }
}

ArchiveRetention CliContext::archiveRetention() {
  const auto text = profile().settings().archiveKeep;
  std::string why;
  auto r = parseArchiveRetention(text, &why);
  if (!r) {
    throw UsageError("bad-profile", fmt::format("{}: archive-keep must be TLP=DURATION,... (red=30d): {}",
                                                (profile().dir() / "profile.toml").string(), why));
  }
  return *r;
}

void CliContext::saveArchive() {
  // Nothing new was opened, but a body is past the profile's archive-keep:
  // the archive is loaded so that the save removes it.
  if (!archive_ && knownIds_ && knownKeys_ && knownIds_->retentionDue(archiveRetention(), nowMs())) {
    try {
      archive(*knownKeys_);
    } catch (const std::exception& e) {
      out().warning(std::string("the local archive's retention (archive-keep) is not applied: ") + e.what());
      return;
    }
  }
  if (!archive_ || !archive_->save(archiveRetention(), nowMs())) return;
  // Retention means the text is gone from the profile: the cached (still
  // encrypted, but openable) copies of those bulletins go too.
  const BulletinCache cache(profile().cacheDir(archiveMember_));
  for (const auto& hex : archive_->bodyRemovedIds()) cache.remove(parseBulletinId(hex));
}

HubDirectory& FoundBulletin::directory() {
  if (!dir) dir = std::make_unique<HubDirectory>(HubDirectory::fetch(*conn));
  return *dir;
}

FoundBulletin findVerifiedBulletin(CliContext& ctx, const crypto::BulletinId& id, std::string_view what,
                                   std::string_view typedId, bool allowOffline) {
  auto keys = ctx.loadKeys();
  std::unique_ptr<Connection> conn;
  try {
    conn = ctx.connect(keys);
  } catch (const TransportError& e) {
    if (!allowOffline || (e.kind() != TransportError::Kind::Connect && e.kind() != TransportError::Kind::Timeout)) throw;
    auto cache = ctx.cache(keys);
    auto m = openCachedOffline(ctx.profile().dir(), cache, id, keys);
    if (!m) throw VerifyError(fmt::format("{} {} does not verify: {}", what, typedId, m.error()));
    FoundBulletin found{std::move(keys), nullptr, std::move(cache), nullptr, std::move(m.value()), e.what()};
    return found;
  }
  auto cache = ctx.cache(keys);
  std::unique_ptr<HubDirectory> dir;
  auto m = findBulletin(*conn, dir, cache, id, keys);
  if (!m) throw VerifyError(fmt::format("{} {} does not verify: {}", what, typedId, m.error()));
  return FoundBulletin{std::move(keys), std::move(conn), std::move(cache), std::move(dir), std::move(m.value()), {}};
}

std::uint64_t CliContext::lastSeq(const crypto::Keyring& keys) {
  profile().memberDir(keys.memberId, keyIsProfileKey_ || !profileHasKey_);
  return profile().lastSeq(keys.memberId);
}

void CliContext::setLastSeq(const crypto::Keyring& keys, std::uint64_t seq) {
  profile().memberDir(keys.memberId, keyIsProfileKey_ || !profileHasKey_);
  profile().setLastSeq(keys.memberId, seq);
}

std::string CliContext::staleKeyMessage(const crypto::Keyring& keys, const KeyFileStatus& s) {
  std::string text = fmt::format("{} is not the current key file of {}: {}", keyPath_.empty() ? "this key file" : keyPath_,
                                 keys.memberId, describeKeyFileStatus(s));
  std::optional<std::string> current;
  if (s.currentIdentity && s.currentEncryption) {
    current = profile().keyFileWith(keys.memberId, *s.currentIdentity, *s.currentEncryption);
  }
  if (current && *current != keyPath_) {
    text += fmt::format(". The current keys are in {} (use it: --key {}, or focal profile set --key {})", *current,
                        *current, *current);
  } else if (s.currentIdentity) {
    text += ". This profile does not know which file holds the current keys";
  }
  return text;
}

void CliContext::explainLoginFailure(const Connection& c, const crypto::Keyring& keys, const HubError& e) {
  // SECURITY: only what this client verified itself is used here (the
  // profile's copy of the directory log, re-checked on load); the hub says
  // nothing more than "authentication failed" to anyone.
  std::optional<VerifiedLog> log;
  try {
    if (!c.session().hubId.empty()) log = VerifiedLog::load(profile().dir(), c.session().hubId);
  } catch (const std::exception&) {
    log.reset();  // a damaged or missing copy: nothing to explain with
  }
  if (!log || log->size() == 0) throw e;
  const auto s = keyFileStatus(log->entries(), keys.memberId, keys.identity.publicKey, keys.encryption.publicKey);
  std::string text = e.hubMessage().empty() ? std::string(e.codeName()) : e.hubMessage();
  if (s.identityEnded) {
    text += fmt::format(": {}", describeEnding(*s.identityEnded));
    std::optional<std::string> current;
    if (s.currentIdentity && s.currentEncryption) {
      current = profile().keyFileWith(keys.memberId, *s.currentIdentity, *s.currentEncryption);
    }
    if (current && *current != keyPath_) text += fmt::format(". The current keys are in {}", *current);
  } else if (s.identityCurrent) {
    text += fmt::format(" (the directory log this profile verified, up to entry {} of {}, still names this key as "
                        "current: it may have been replaced or revoked since)",
                        log->size() - 1, formatTime(log->headTimeMs()));
  } else {
    text += " (the directory log this profile verified never gave this member this key file's identity key)";
  }
  throw HubError(e.code(), text, e.retryAfterMs());
}

ConnectOptions CliContext::connectOptions() const {
  ConnectOptions o;
  o.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeoutSeconds * 1000));
  return o;
}

std::unique_ptr<Connection> CliContext::connect(const crypto::Keyring& keys, StaleKeyFile stale) {
  const auto settings = profile().settings();
  const std::string hub = options.hub.empty() ? settings.hub : options.hub;
  const std::string ca = options.ca.empty() ? settings.ca : options.ca;
  if (hub.empty()) throw UsageError("no-hub", "no hub: pass --hub HOST:PORT or run `focal profile set --hub HOST:PORT`");
  if (ca.empty()) throw UsageError("no-ca", "no hub certificate: pass --ca FILE or run `focal profile set --ca FILE`");
  auto hp = parseHostPort(hub);
  if (!hp) throw UsageError("bad-hub", "hub must be HOST:PORT, got '" + hub + "'");
  auto connectWith = connectOptions();
  // The profile's hub key pin holds whatever --hub and --ca say: a profile
  // that pins a hub talks to that hub only.
  connectWith.pinnedHubKey = settings.hubKey;
  auto c = std::make_unique<Connection>(connectWith);
  c->connect(hp->first, hp->second, ca);
  try {
    c->authenticate(keys);
  } catch (const HubError& e) {
    if (e.code() == wire::ErrorCode::UNAUTHENTICATED || e.code() == wire::ErrorCode::REVOKED_KEY) {
      explainLoginFailure(*c, keys, e);
    }
    throw;
  }
  // Every connect checks that the hub's directory log only grew since the
  // head this profile verified last (VerifiedLog::sync); a fork, a rewrite,
  // a missing entry or a rollback stops the command here (VerifyError).
  auto log = std::make_shared<VerifiedLog>(VerifiedLog::load(profile().dir(), c->session().hubId));
  if (!logBeforeTaken_) {
    logBefore_ = LogBefore{log->size(), log->headTimeMs()};
    logBeforeTaken_ = true;
  }
  log->sync(*c);
  monitorSelf(*log, c->session().hubId, keys);
  // The key file against the member's current keys in the log just
  // verified: a stale file still authenticates (same identity) but misses
  // the newer encryption key (PROTOCOL.md §12.7).
  keyStatus_ = keyFileStatus(log->entries(), keys.memberId, keys.identity.publicKey, keys.encryption.publicKey);
  c->setVerifiedLog(std::move(log));
  if (keyStatus_.state != KeyFileStatus::State::Current) {
    const auto message = staleKeyMessage(keys, keyStatus_);
    if (stale == StaleKeyFile::Refuse) throw UsageError("stale-key-file", message);
    out().warning(keyStatus_.state == KeyFileStatus::State::Superseded
                      ? message + ". Bulletins sealed to the newer key do not open with this file"
                      : message);
  }
  return c;
}

void CliContext::monitorSelf(const VerifiedLog& log, const std::string& hubId, const crypto::Keyring& keys) {
  const auto& id = keys.memberId;
  AlarmStore alarms(profile().dir());
  alarms.check(log.entries(), hubId, id, [&](crypto::ByteView ik, crypto::ByteView ek) { return profile().knowsKeys(id, ik, ek); }, nowMs());
  for (const auto& a : alarms.list(id)) out().warning(describeAlarm(a));
}

void CliContext::recheckSelf(Connection& c, const crypto::Keyring& keys) {
  const auto& log = c.verifiedLog();
  if (!log) return;
  log->sync(c);
  const auto& id = keys.memberId;
  const auto raised = AlarmStore(profile().dir())
                          .check(log->entries(), c.session().hubId, id,
                                 [&](crypto::ByteView ik, crypto::ByteView ek) { return profile().knowsKeys(id, ik, ek); }, nowMs());
  for (const auto& a : raised) out().warning(describeAlarm(a));
}

std::int64_t CliContext::maxHeadAgeMs() {
  const std::string text = profile().settings().headMaxAge;
  if (text.empty()) return DefaultMaxHeadAgeMs;
  const auto ms = protocol::parseDurationMs(text);
  if (!ms || *ms > MaxHeadAgeWindowMs) {
    throw UsageError("bad-profile", fmt::format("{}: head-max-age must be a duration up to 30d (24h, 3d), got '{}'",
                                                (profile().dir() / "profile.toml").string(), text));
  }
  return *ms;
}

void CliContext::requireFreshHead(const Connection& c) {
  const auto& log = c.verifiedLog();
  const std::int64_t headTime = log ? log->headTimeMs() : 0;  // connect() always verifies one
  if (auto ok = checkHeadFresh(c.session().hubId, headTime, nowMs(), maxHeadAgeMs()); !ok) {
    throw StaleHeadError(ok.error());
  }
}

std::optional<int> CommandTable::runParsed() const {
  for (const auto& c : commands_) {
    if (c.app->parsed()) return c.run();
  }
  return std::nullopt;
}

CLI::Validator tlpValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        wire::Tlp t{};
        if (parseTlp(text, t)) return {};
        return "unknown TLP '" + text + "': clear, green, amber, amber+strict or red (or TLP:AMBER+STRICT etc.)";
      },
      "TLP");
}

nlohmann::json memberRolesJson(const MemberRecord& m) {
  nlohmann::json wgRoles = nlohmann::json::array();
  for (const auto& r : m.wgRoles) {
    wgRoles.push_back({{"role", protocol::wgRoleText(r.role, "")}, {"term", r.term}, {"log_index", r.logIndex}});
  }
  std::vector<std::string> meetingIds;
  for (const auto& id : m.meetings) meetingIds.push_back(crypto::toHex(id.view()));
  return {{"member_id", m.id},
          {"wg_roles", wgRoles},
          {"meeting_ids", meetingIds},
          {"name", m.name},
          {"state", jsonText(m.state)},
          {"institution", institutionName(m.institution)},
          {"admin", m.isAdmin},
          {"secretariat", m.isSecretariat},
          {"status", m.active ? "active" : "revoked"},
          {"log_index", m.logIndex}};
}

crypto::PublicKeys readPublicKeys(const std::string& file) {
  auto pk = crypto::readPublicKeyFile(file);
  if (!pk && pk.error() == crypto::KeyFileError::NotFound) throw std::runtime_error("cannot read " + file);
  if (!pk) throw UsageError("bad-public-key", file + ": " + crypto::describe(pk.error()));
  return *pk;
}

crypto::BulletinId parseBulletinId(const std::string& hex) {
  auto bytes = crypto::fromHex(hex);
  std::optional<crypto::BulletinId> id;
  if (bytes) id = crypto::BulletinId::fromBytes(*bytes);
  if (!id) throw UsageError("bad-id", "a bulletin id is 32 hex digits, got '" + hex + "'");
  return *id;
}

std::string idArg(const std::string& text, const std::vector<std::string>& known, std::string_view what) {
  auto id = resolveIdPrefix(text, known, what);
  if (!id) throw UsageError(id.error().code, id.error().message);
  return *id;
}

crypto::BulletinId bulletinIdArg(CliContext& ctx, const std::string& text) {
  if (text.size() == 32) return parseBulletinId(text);
  std::vector<std::string> known;
  if (text.size() >= MinIdPrefixDigits && text.size() < 32) {
    // Read only: listing another member's cache creates nothing.
    std::error_code ec;
    for (const auto& m : ctx.profile().members()) {
      const auto dir = ctx.profile().dir() / "members" / m / "cache";
      if (!std::filesystem::is_directory(dir, ec)) continue;
      for (const auto& id : BulletinCache(dir).ids()) known.push_back(crypto::toHex(id));
    }
  }
  return parseBulletinId(idArg(text, known, "bulletin"));
}

std::string keyChangedMark(const VerifiedContacts* contacts, const std::string& memberId, const std::string& fingerprint) {
  if (contacts == nullptr || contacts->standing(memberId, fingerprint) != ContactStanding::KeyChanged) return {};
  return fmt::format("  [KEY CHANGED since you verified {}: focal verify {}]", safeLine(memberId), safeLine(memberId));
}

nlohmann::json summaryJson(const Delivery& d, const Expected<OpenedMessage, std::string>& opened,
                           bool retractionQueued, const VerifiedContacts* contacts) {
  // Every key is present in both shapes (docs/json.md, focal inbox): what a
  // bulletin that does not verify cannot tell is null.
  nlohmann::json j;
  j["seq"] = d.seq;
  j["received_at"] = jsonTime(d.queuedAtMs);
  j["announces_retraction"] = retractionQueued || d.retraction.has_value();
  if (opened) {
    const auto& m = opened.value();
    j["bulletin_id"] = crypto::toHex(m.id);
    j["verified"] = true;
    j["verification_error"] = nullptr;
    j["key_warning"] = jsonText(m.keyWarning);
    j["seal"] = m.seal;
    j["sender"] = senderJson(m.senderId, m.senderName, m.senderFingerprint);
    j["tlp"] = jsonTlp(tlpName(m.tlp));
    j["priority"] = priorityName(m.priority);
    j["category"] = categoryName(m.category);
    j["title"] = m.title;
    j["attachment_count"] = m.attachments.size();
    j["handling"] = jsonText(handlingName(m.handling));
    j["forwarded_by_id"] = m.forwardedBy ? nlohmann::json(m.forwardedBy->forwarderId) : nullptr;
    j["retracted"] = m.retraction.has_value();
    j["retraction_reason"] = m.retraction ? nlohmann::json(m.retraction->reason) : nullptr;
    j["sender_verification"] =
        contacts != nullptr ? nlohmann::json(standingName(contacts->standing(m.senderId, m.senderFingerprint))) : nullptr;
  } else {
    auto id = d.bulletin.claimedId();
    j["bulletin_id"] = id ? nlohmann::json(crypto::toHex(*id)) : nullptr;
    j["verified"] = false;
    j["verification_error"] = opened.error();
    for (const char* k : {"key_warning", "seal", "sender", "tlp", "priority", "category", "title", "attachment_count",
                          "handling", "forwarded_by_id", "retraction_reason", "sender_verification"}) {
      j[k] = nullptr;
    }
    j["retracted"] = false;
  }
  return j;
}

std::string summaryLine(const Delivery& d, const Expected<OpenedMessage, std::string>& opened,
                        const VerifiedContacts* contacts) {
  if (opened) {
    const auto& m = opened.value();
    std::string marks = keyChangedMark(contacts, m.senderId, m.senderFingerprint);
    if (m.forwardedBy) marks += fmt::format("  [forwarded by {}]", safeLine(m.forwardedBy->forwarderId));
    if (m.retraction) marks += fmt::format("  [RETRACTED: {}]", safeLine(m.retraction->reason));
    if (m.seal == 1) marks += "  [seal v1]";
    return fmt::format("{}  {:<20} TLP:{:<12} {:<6}  {}  {}{}{}", crypto::toHex(m.id), safeLine(m.senderId),
                       tlpName(m.tlp), priorityName(m.priority), formatTime(d.queuedAtMs), safeLine(m.title),
                       m.attachments.empty() ? "" : fmt::format("  [{} attachment(s)]", m.attachments.size()),
                       marks + (m.keyWarning.empty() ? "" : "  [" + safeLine(m.keyWarning) + "]"));
  }
  // The reason may quote the header's claims (an unknown sender id).
  auto id = d.bulletin.claimedId();
  return fmt::format("{}  [CANNOT VERIFY: {}]  {}", id ? crypto::toHex(*id) : std::string(32, '?'),
                     safeLine(opened.error()), formatTime(d.queuedAtMs));
}

}  // namespace focal::client::cli
