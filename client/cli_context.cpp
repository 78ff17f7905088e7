#include "client/cli_context.hpp"

#include "client/bulletin_cache.hpp"
#include "client/client_error.hpp"
#include "client/terminal.hpp"
#include "client/verified_log.hpp"

#include <fmt/format.h>

#include <cstdlib>

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

crypto::MemberKeys CliContext::loadKeys() {
  const std::string configured = profile().settings().key;
  std::string key = options.key.empty() ? configured : options.key;
  if (key.empty()) {
    throw UsageError("no-key", "no key file: pass --key FILE or run `focal profile set --key FILE`");
  }
  auto keys = crypto::readKeyFile(key, passphrase());
  if (!keys) {
    if (keys.error() == crypto::KeyFileError::NotFound) throw std::runtime_error("cannot read key file " + key);
    throw UsageError("key-file", key + ": " + crypto::describe(keys.error()));
  }
  std::error_code ec;
  keyPath_ = std::filesystem::absolute(key, ec).lexically_normal().string();
  if (ec) keyPath_ = key;
  profileHasKey_ = !configured.empty();
  keyIsProfileKey_ = options.key.empty() || (!configured.empty() && std::filesystem::equivalent(key, configured, ec));
  profile().rememberKeyFile(keys->memberId, {keyPath_, keys->identity.publicKey, keys->encryption.publicKey});
  return std::move(keys).value();
}

BulletinCache CliContext::cache(const crypto::MemberKeys& keys) {
  // A pre-member profile's last-seq goes to the member of the profile's own
  // key file (or to the first member, when the profile names none).
  return BulletinCache(profile().cacheDir(keys.memberId, keyIsProfileKey_ || !profileHasKey_));
}

std::uint64_t CliContext::lastSeq(const crypto::MemberKeys& keys) {
  profile().memberDir(keys.memberId, keyIsProfileKey_ || !profileHasKey_);
  return profile().lastSeq(keys.memberId);
}

void CliContext::setLastSeq(const crypto::MemberKeys& keys, std::uint64_t seq) {
  profile().memberDir(keys.memberId, keyIsProfileKey_ || !profileHasKey_);
  profile().setLastSeq(keys.memberId, seq);
}

std::string CliContext::staleKeyMessage(const crypto::MemberKeys& keys, const KeyFileStatus& s) {
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

void CliContext::explainLoginFailure(const Connection& c, const crypto::MemberKeys& keys, const HubError& e) {
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

std::unique_ptr<Connection> CliContext::connect(const crypto::MemberKeys& keys, StaleKeyFile stale) {
  const auto settings = (options.hub.empty() || options.ca.empty()) ? profile().settings() : ProfileSettings{};
  const std::string hub = options.hub.empty() ? settings.hub : options.hub;
  const std::string ca = options.ca.empty() ? settings.ca : options.ca;
  if (hub.empty()) throw UsageError("no-hub", "no hub: pass --hub HOST:PORT or run `focal profile set --hub HOST:PORT`");
  if (ca.empty()) throw UsageError("no-ca", "no hub certificate: pass --ca FILE or run `focal profile set --ca FILE`");
  auto hp = parseHostPort(hub);
  if (!hp) throw UsageError("bad-hub", "hub must be HOST:PORT, got '" + hub + "'");
  auto c = std::make_unique<Connection>(connectOptions());
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
  log->sync(*c);
  // The key file against the member's current keys in the log just
  // verified: a stale file still authenticates (same identity) but misses
  // the newer encryption key (PROTOCOL.md §13.1).
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

crypto::BulletinId parseBulletinId(const std::string& hex) {
  auto bytes = crypto::fromHex(hex);
  std::optional<crypto::BulletinId> id;
  if (bytes) id = crypto::BulletinId::fromBytes(*bytes);
  if (!id) throw UsageError("bad-id", "a bulletin id is 32 hex digits, got '" + hex + "'");
  return *id;
}

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<Delivery> fetchAll(Connection& c, std::uint64_t afterSeq) {
  std::vector<Delivery> all;
  for (;;) {
    auto page = c.fetch(afterSeq, protocol::MaxFetchPage);
    for (auto& d : page.items) {
      afterSeq = std::max(afterSeq, d.seq);
      all.push_back(std::move(d));
    }
    if (!page.more || page.items.empty()) break;
  }
  return all;
}

Expected<OpenedMessage, std::string> openWithDirectory(Connection& c, std::unique_ptr<HubDirectory>& dir,
                                                       const RawBulletin& raw, const crypto::MemberKeys& me) {
  if (!dir) dir = std::make_unique<HubDirectory>(HubDirectory::fetch(c));
  auto opened = openReceived(raw, *dir, me);
  if (!opened && opened.error().rfind("unknown sender", 0) == 0) {
    dir = std::make_unique<HubDirectory>(HubDirectory::fetch(c));
    return openReceived(raw, *dir, me);
  }
  return opened;
}

namespace {

// Refreshes the directory once when a member is unknown (registered after it was fetched).
template <class F>
auto withDirectory(Connection& c, std::unique_ptr<HubDirectory>& dir, F&& f) {
  if (!dir) dir = std::make_unique<HubDirectory>(HubDirectory::fetch(c));
  auto result = f(*dir);
  if (!result && result.error().find("unknown ") != std::string::npos) {
    dir = std::make_unique<HubDirectory>(HubDirectory::fetch(c));
    result = f(*dir);
  }
  return result;
}

void attachCachedRetraction(Connection& c, std::unique_ptr<HubDirectory>& dir, const RawBulletin& raw,
                            const crypto::BulletinId& id, const BulletinCache& cache, OpenedMessage& m) {
  auto rec = cache.getRecord(id, BulletinCache::Record::Retraction);
  if (!rec) return;
  auto r = withDirectory(c, dir, [&](const HubDirectory& d) { return verifyRetractionOf(raw, d, rec->first, rec->second); });
  if (r) m.retraction = std::move(r).value();
}

}  // namespace

Expected<OpenedMessage, std::string> openCached(Connection& c, std::unique_ptr<HubDirectory>& dir,
                                                const RawBulletin& raw, const crypto::BulletinId& id,
                                                const crypto::MemberKeys& me, const BulletinCache& cache) {
  auto forward = cache.getRecord(id, BulletinCache::Record::Forward);
  auto own = cache.getOwn(id);
  auto opened = withDirectory(c, dir, [&](const HubDirectory& d) {
    return openReceived(raw, d, me, forward ? &*forward : nullptr, own ? &*own : nullptr);
  });
  if (opened) attachCachedRetraction(c, dir, raw, id, cache, *opened);
  return opened;
}

Expected<OpenedMessage, std::string> openDelivery(Connection& c, std::unique_ptr<HubDirectory>& dir,
                                                  const Delivery& d, const crypto::MemberKeys& me,
                                                  const BulletinCache& cache) {
  using Result = Expected<OpenedMessage, std::string>;
  const auto claimed = d.bulletin.claimedId();
  if (!claimed) return Result(unexpected(std::string("malformed: the bulletin header does not parse")));
  std::optional<std::pair<crypto::Bytes, crypto::Bytes>> forward;
  if (d.forward) forward.emplace(d.forward->body, d.forward->signature);
  else forward = cache.getRecord(*claimed, BulletinCache::Record::Forward);

  if (d.retraction) {
    auto r = withDirectory(c, dir, [&](const HubDirectory& dd) {
      return verifyRetractionOf(d.bulletin, dd, d.retraction->body, d.retraction->signature);
    });
    if (!r) return Result(unexpected(r.error()));
    cache.put(*claimed, d.bulletin);
    cache.putRecord(*claimed, BulletinCache::Record::Retraction, d.retraction->body, d.retraction->signature);
  }
  auto opened = withDirectory(c, dir, [&](const HubDirectory& dd) {
    return openReceived(d.bulletin, dd, me, forward ? &*forward : nullptr);
  });
  if (!opened) return opened;
  cache.put(opened->id, d.bulletin);
  if (d.forward) cache.putRecord(opened->id, BulletinCache::Record::Forward, d.forward->body, d.forward->signature);
  attachCachedRetraction(c, dir, d.bulletin, opened->id, cache, *opened);
  return opened;
}

// Every queued delivery of `id` (the bulletin, a forward, a retraction
// announcement) is verified into the cache first, so a retraction that
// arrived since the last inbox is shown; then the cached copy is opened.
Expected<OpenedMessage, std::string> findBulletin(Connection& conn, std::unique_ptr<HubDirectory>& directory,
                                                  const BulletinCache& cache, const crypto::BulletinId& id,
                                                  const crypto::MemberKeys& keys) {
  std::optional<std::string> queuedError;
  for (auto& d : fetchAll(conn, 0)) {
    auto claimed = d.bulletin.claimedId();
    if (!claimed || !(*claimed == id)) continue;
    auto opened = openDelivery(conn, directory, d, keys, cache);
    if (!opened) queuedError = opened.error();
  }
  auto raw = cache.get(id);
  if (!raw) {
    if (queuedError) return Expected<OpenedMessage, std::string>(unexpected(*queuedError));
    throw NotFoundError("no bulletin " + crypto::toHex(id) + " in your queue or local cache");
  }
  return openCached(conn, directory, *raw, id, keys, cache);
}

nlohmann::json summaryJson(const Delivery& d, const Expected<OpenedMessage, std::string>& opened,
                           bool retractionQueued) {
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
  } else {
    auto id = d.bulletin.claimedId();
    j["bulletin_id"] = id ? nlohmann::json(crypto::toHex(*id)) : nullptr;
    j["verified"] = false;
    j["verification_error"] = opened.error();
    for (const char* k : {"key_warning", "sender", "tlp", "priority", "category", "title", "attachment_count",
                          "handling", "forwarded_by_id", "retraction_reason"}) {
      j[k] = nullptr;
    }
    j["retracted"] = false;
  }
  return j;
}

std::string summaryLine(const Delivery& d, const Expected<OpenedMessage, std::string>& opened) {
  if (opened) {
    const auto& m = opened.value();
    std::string marks;
    if (m.forwardedBy) marks += fmt::format("  [forwarded by {}]", safeLine(m.forwardedBy->forwarderId));
    if (m.retraction) marks += fmt::format("  [RETRACTED: {}]", safeLine(m.retraction->reason));
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
