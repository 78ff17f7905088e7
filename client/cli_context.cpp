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
  std::string key = options.key.empty() ? profile().settings().key : options.key;
  if (key.empty()) {
    throw UsageError("no-key", "no key file: pass --key FILE or run `focal profile set --key FILE`");
  }
  auto keys = crypto::readKeyFile(key, passphrase());
  if (!keys) {
    if (keys.error() == crypto::KeyFileError::NotFound) throw std::runtime_error("cannot read key file " + key);
    throw UsageError("key-file", key + ": " + crypto::describe(keys.error()));
  }
  return std::move(keys).value();
}

ConnectOptions CliContext::connectOptions() const {
  ConnectOptions o;
  o.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeoutSeconds * 1000));
  return o;
}

std::unique_ptr<Connection> CliContext::connect(const crypto::MemberKeys& keys) {
  const auto settings = (options.hub.empty() || options.ca.empty()) ? profile().settings() : ProfileSettings{};
  const std::string hub = options.hub.empty() ? settings.hub : options.hub;
  const std::string ca = options.ca.empty() ? settings.ca : options.ca;
  if (hub.empty()) throw UsageError("no-hub", "no hub: pass --hub HOST:PORT or run `focal profile set --hub HOST:PORT`");
  if (ca.empty()) throw UsageError("no-ca", "no hub certificate: pass --ca FILE or run `focal profile set --ca FILE`");
  auto hp = parseHostPort(hub);
  if (!hp) throw UsageError("bad-hub", "hub must be HOST:PORT, got '" + hub + "'");
  auto c = std::make_unique<Connection>(connectOptions());
  c->connect(hp->first, hp->second, ca);
  c->authenticate(keys);
  // Every connect checks that the hub's directory log only grew since the
  // head this profile verified last (VerifiedLog::sync); a fork, a rewrite,
  // a missing entry or a rollback stops the command here (VerifyError).
  auto log = std::make_shared<VerifiedLog>(VerifiedLog::load(profile().dir(), c->session().hubId));
  log->sync(*c);
  c->setVerifiedLog(std::move(log));
  return c;
}

std::optional<int> CommandTable::runParsed() const {
  for (const auto& c : commands_) {
    if (c.app->parsed()) return c.run();
  }
  return std::nullopt;
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
    throw UsageError("not-found", "no bulletin " + crypto::toHex(id) + " in your queue or local cache");
  }
  return openCached(conn, directory, *raw, id, keys, cache);
}

nlohmann::json summaryJson(const Delivery& d, const Expected<OpenedMessage, std::string>& opened) {
  nlohmann::json j;
  j["seq"] = d.seq;
  j["received_at"] = formatTime(d.queuedAtMs);
  if (opened) {
    const auto& m = opened.value();
    j["id"] = crypto::toHex(m.id);
    j["verified"] = true;
    if (!m.keyWarning.empty()) j["key_warning"] = m.keyWarning;
    j["sender"] = m.senderId;
    j["sender_name"] = m.senderName;
    j["tlp"] = tlpName(m.tlp);
    j["priority"] = priorityName(m.priority);
    j["category"] = categoryName(m.category);
    j["title"] = m.title;
    j["attachments"] = m.attachments.size();
    j["handling"] = handlingName(m.handling);
    if (m.forwardedBy) j["forwarded_by"] = m.forwardedBy->forwarderId;
    if (m.retraction) {
      j["retracted"] = true;
      j["retraction_reason"] = m.retraction->reason;
    }
    j["announces_retraction"] = d.retraction.has_value();
  } else {
    auto id = d.bulletin.claimedId();
    j["id"] = id ? crypto::toHex(*id) : "";
    j["verified"] = false;
    j["error"] = opened.error();
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
