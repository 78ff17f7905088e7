// focal taxii: a local TAXII 2.1 endpoint over the member's archive
// (client/taxii.hpp, client/taxii_server.hpp, docs/cti.md "TAXII"), for MISP and
// OpenCTI on the member's own machine.
//
// What it serves: the STIX export (client/stix_export.hpp) of every bulletin
// in the local archive that still has its content and is not retracted,
// reopened from the encrypted bulletin cache and verified again against the
// directory log this profile verified last, exactly as an offline
// `focal read`. It never talks to the hub: new bulletins arrive through the
// archive, which `focal listen` (or inbox, read) fills; the endpoint checks
// the archive file at most once a second, when a request comes, and serves
// what is new. With keys from the key agent it stops serving (503) and drops
// what it decrypted as soon as the agent is locked or gone.
#include "client/agent_client.hpp"
#include "client/cli_context.hpp"
#include "client/client_error.hpp"
#include "client/stix_export.hpp"
#include "client/taxii_server.hpp"
#include "crypto/certificate.hpp"
#include "crypto/keyfile.hpp"
#include "crypto/secure_file.hpp"

#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

namespace focal::client::cli {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t MaxTaxiiPasswordBytes = 1024;
constexpr std::size_t MinTaxiiPasswordChars = 16;
constexpr std::chrono::milliseconds TaxiiRefreshEvery{1000};
constexpr int TaxiiCertificateDays = 825;

struct TaxiiArgs {
  std::string listen = "127.0.0.1:9443";
  std::string user;
  std::string passwordFile;
  std::string cert, key;
  bool includeRed = false;
  bool allowRemote = false;
};

// "127.0.0.1:9443", "[::1]:9443", "localhost:9443": an IP literal (or
// localhost) and a port. No name is resolved.
net::ip::tcp::endpoint taxiiListenArg(const std::string& text) {
  const auto colon = text.rfind(':');
  std::string host = colon == std::string::npos ? "" : text.substr(0, colon);
  const std::string portText = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  unsigned long port = 0;
  std::size_t used = 0;
  try {
    port = std::stoul(portText, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (ec || portText.empty() || used != portText.size() || port > 65535) {
    throw UsageError("bad-listen", "--listen takes IP:PORT (127.0.0.1:9443, [::1]:9443), got '" + safeLine(text) + "'");
  }
  return {address, static_cast<std::uint16_t>(port)};
}

// SECURITY: a file the endpoint's password or TLS key is read from must be
// the caller's and readable by nobody else.
void requireTaxiiPrivateFile(const std::string& file, const char* what) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) throw UsageError("no-file", fmt::format("cannot read the {} {}", what, file));
  if (!S_ISREG(st.st_mode)) throw UsageError("bad-file", fmt::format("the {} {} is not a regular file", what, file));
  if ((st.st_mode & 077) != 0 || st.st_uid != ::geteuid()) {
    throw UsageError("file-mode", fmt::format("the {} {} must be yours and readable by you only (chmod 600 {}); it "
                                              "is mode {:04o}",
                                              what, file, file, st.st_mode & 07777));
  }
}

// The first line of the password file, without its line end.
std::string readTaxiiPassword(const std::string& file) {
  requireTaxiiPrivateFile(file, "password file");
  auto bytes = crypto::readFileLimited(file, MaxTaxiiPasswordBytes);
  std::string text(bytes.begin(), bytes.end());
  sodium_memzero(bytes.data(), bytes.size());
  text = text.substr(0, text.find('\n'));
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (crypto::passphraseChars(text) < MinTaxiiPasswordChars) {
    throw UsageError("weak-password", fmt::format("the TAXII password must have at least {} characters (MISP or "
                                                  "OpenCTI keeps it for you: make it long and random, e.g. "
                                                  "openssl rand -base64 24)",
                                                  MinTaxiiPasswordChars));
  }
  return text;
}

// The endpoint's certificate: given (--cert/--cert-key), or PROFILE/taxii/
// cert.pem and key.pem, made on first use.
struct TaxiiCertificate {
  fs::path cert, key;
  bool made = false;
};

TaxiiCertificate taxiiCertificate(CliContext& ctx, const TaxiiArgs& a, const net::ip::address& listen) {
  if (a.cert.empty() != a.key.empty()) throw UsageError("usage", "--cert and --cert-key go together");
  if (!a.cert.empty()) {
    requireTaxiiPrivateFile(a.key, "TLS key");
    return {a.cert, a.key, false};
  }
  const auto dir = ctx.profile().dir() / "taxii";
  TaxiiCertificate c{dir / "cert.pem", dir / "key.pem", false};
  if (fs::exists(c.cert) && fs::exists(c.key)) {
    requireTaxiiPrivateFile(c.key.string(), "TLS key");
    const auto validity = crypto::certificateValidity(c.cert);
    if (validity.notAfter <= std::chrono::system_clock::now()) {
      throw UsageError("expired-certificate",
                       fmt::format("the TAXII certificate {} expired at {}: remove {} and {} for a new one (and give "
                                   "MISP or OpenCTI the new fingerprint)",
                                   c.cert.string(), crypto::formatUtc(validity.notAfter), c.cert.string(),
                                   c.key.string()));
    }
    return c;
  }
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  std::vector<std::string> hosts{"127.0.0.1", "::1", "localhost"};
  if (!listen.is_loopback()) hosts.push_back(listen.to_string());
  crypto::generateSelfSignedCertificate(c.cert, c.key, "focal-taxii", hosts, TaxiiCertificateDays, "Focal TAXII");
  c.made = true;
  return c;
}

// The content the endpoint serves, kept up to date with the archive.
class TaxiiFeed {
 public:
  TaxiiFeed(CliContext& ctx, crypto::Keyring keys, std::optional<fs::path> agentSocket, std::string keyFile,
            std::vector<taxii::CollectionInfo> collections)
      : ctx_(ctx),
        keys_(std::move(keys)),
        agentSocket_(std::move(agentSocket)),
        keyFile_(std::move(keyFile)),
        collections_(std::move(collections)),
        archiveFile_(ctx.profile().memberDir(keys_.memberId) / "archive.bin"),
        cache_(ctx.profile().cacheDir(keys_.memberId)) {
    for (const auto& c : collections_) tlps_.insert(c.tlp);
  }

  // The content, brought up to date first (at most once per
  // TaxiiRefreshEvery); nullptr with why() set when nothing may be served.
  const taxii::Content* current() {
    const auto now = std::chrono::steady_clock::now();
    if (checked_ && now - lastCheck_ < TaxiiRefreshEvery) return unavailable_.empty() ? &content_ : nullptr;
    checked_ = true;
    lastCheck_ = now;
    try {
      if (agentSocket_ && !agent::agentKeyring(*agentSocket_, keyFile_)) {
        drop("the key agent was locked or stopped: run `focal unlock` to serve again");
        return nullptr;
      }
      refresh();
      unavailable_.clear();
    } catch (const std::exception& e) {
      drop(std::string("the local archive cannot be read: ") + e.what());
      return nullptr;
    }
    return &content_;
  }
  const std::string& why() const { return unavailable_; }
  std::size_t bulletins() const { return entries_.size(); }

 private:
  struct Stamp {
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t mtimeNs = 0;
    bool operator==(const Stamp&) const = default;
  };
  struct Entry {
    std::string tlp;
    std::int64_t addedAtMs = 0;
    std::vector<nlohmann::json> objects;
  };

  std::optional<Stamp> stamp() const {
    struct stat st {};
    if (::stat(archiveFile_.c_str(), &st) != 0) return std::nullopt;
    return Stamp{st.st_ino, st.st_size, static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
  }

  void drop(const std::string& why) {
    if (unavailable_ != why) ctx_.out().warning(why);
    unavailable_ = why;
    entries_.clear();
    content_ = taxii::Content();
    stamp_.reset();
    loaded_ = false;
  }

  void refresh() {
    const auto s = stamp();
    if (loaded_ && s == stamp_) return;
    auto archive = Archive::open(archiveFile_, keys_);
    archive.applyRetention(ctx_.archiveRetention(), nowMs());  // never saved here: the next command does
    std::map<std::string, Entry> next;
    std::size_t added = 0;
    for (const auto& row : archive.history({})) {
      if (row.retracted || !row.contentRemoved.empty() || !tlps_.contains(row.tlp)) continue;
      if (auto it = entries_.find(row.id); it != entries_.end()) {
        next.emplace(row.id, std::move(it->second));
        continue;
      }
      if (auto entry = open(row)) {
        next.emplace(row.id, std::move(*entry));
        ++added;
      }
    }
    const auto removed = entries_.size() > next.size() - added ? entries_.size() - (next.size() - added) : 0;
    entries_ = std::move(next);
    std::vector<taxii::BulletinObjects> bulletins;
    for (const auto& [id, e] : entries_) bulletins.push_back({id, e.tlp, e.addedAtMs, e.objects});
    content_ = taxii::Content(collections_, bulletins);
    if (loaded_ && (added > 0 || removed > 0)) {
      ctx_.out().note(fmt::format("serving {} bulletins ({} new, {} gone)", entries_.size(), added, removed));
    }
    stamp_ = s;
    loaded_ = true;
  }

  // A bulletin's STIX objects, opened and verified again from the cache.
  std::optional<Entry> open(const ArchiveRow& row) {
    try {
      auto m = openCachedOffline(ctx_.profile().dir(), cache_, parseBulletinId(row.id), keys_);
      if (!m) throw VerifyError(m.error());
      if (m->retraction) return std::nullopt;
      auto bundle = stixBundleFor(*m);
      Entry e{row.tlp, row.archivedAtMs, {}};
      for (auto& o : bundle["objects"]) e.objects.push_back(std::move(o));
      return e;
    } catch (const std::exception& e) {
      if (warned_.insert(row.id).second) {
        ctx_.out().warning(fmt::format("not serving bulletin {}: {}", row.id, safeLine(e.what())));
      }
      return std::nullopt;
    }
  }

  CliContext& ctx_;
  crypto::Keyring keys_;
  std::optional<fs::path> agentSocket_;
  std::string keyFile_;
  std::vector<taxii::CollectionInfo> collections_;
  std::set<std::string> tlps_;
  fs::path archiveFile_;
  BulletinCache cache_;
  std::map<std::string, Entry> entries_;
  std::set<std::string> warned_;
  taxii::Content content_;
  std::optional<Stamp> stamp_;
  bool loaded_ = false;
  bool checked_ = false;
  std::chrono::steady_clock::time_point lastCheck_{};
  std::string unavailable_;
};

int runTaxii(CliContext& ctx, const TaxiiArgs& a) {
  const auto endpoint = taxiiListenArg(a.listen);
  if (!endpoint.address().is_loopback() && !a.allowRemote) {
    throw UsageError("non-loopback",
                     "--listen " + safeLine(a.listen) +
                         " is not a loopback address: the endpoint serves decrypted TLP-marked bulletins, so by "
                         "default only programs on this machine may reach it. Put MISP or OpenCTI on this machine, "
                         "or pass --allow-remote to serve the network (TLS and the password then are all that "
                         "protects it)");
  }
  if (a.user.empty() || a.user.find(':') != std::string::npos || safeLine(a.user) != a.user) {
    throw UsageError("bad-user", "--user takes a name without ':' or control characters");
  }
  auto password = readTaxiiPassword(a.passwordFile);
  taxii::BasicAuth auth(a.user, password);
  sodium_memzero(password.data(), password.size());
  const auto certificate = taxiiCertificate(ctx, a, endpoint.address());
  auto tls = taxii::makeServerTlsContext(certificate.cert, certificate.key);

  // The keys: the key agent's when one runs for this key file (the endpoint
  // then serves only while it does), else the key file's (passphrase).
  const auto keyFile = ctx.resolveKeyFile();
  std::optional<fs::path> socket;
  std::string stale;
  crypto::Keyring keys = [&]() -> crypto::Keyring {
    if (auto k = agent::agentKeyring(ctx.agentSocket(), keyFile, &stale)) {
      socket = ctx.agentSocket();
      return std::move(*k);
    }
    if (!stale.empty()) ctx.out().warning(stale);
    return ctx.loadKeyFile();
  }();
  ctx.profile().memberDir(keys.memberId);
  const auto collections = taxii::collectionsFor(a.includeRed);
  TaxiiFeed feed(ctx, keys, socket, keyFile, collections);
  const auto* first = feed.current();
  if (first == nullptr) throw UsageError("archive-key", feed.why());

  // The router needs the bound port for its URLs, so the server is made
  // first and given its handler through a small indirection.
  std::function<taxii::Response(std::string_view, std::optional<std::string_view>)> route;
  auto server = [&] {
    try {
      return std::make_unique<taxii::TaxiiServer>(
          endpoint, std::move(tls), std::move(auth),
          [&route](std::string_view target, std::optional<std::string_view> accept) { return route(target, accept); });
    } catch (const boost::system::system_error& e) {
      throw TransportError(TransportError::Kind::Connect, "cannot listen on " + a.listen + ": " + e.what());
    }
  }();
  const auto local = server->endpoint();
  const auto host = local.address().is_v6() ? "[" + local.address().to_string() + "]" : local.address().to_string();
  const auto baseUrl = fmt::format("https://{}:{}", host, local.port());
  const taxii::Router router(baseUrl, "Focal TAXII for " + keys.memberId, collections);
  route = [&feed, &router](std::string_view target, std::optional<std::string_view> accept) {
    if (!taxii::acceptsTaxii(accept)) return router.get(target, accept, taxii::Content());
    const auto* content = feed.current();
    if (content == nullptr) return taxii::errorResponse(503, "Service Unavailable", feed.why());
    return router.get(target, accept, *content);
  };

  const auto fingerprint = crypto::certificateFingerprint(certificate.cert);
  const auto discovery = baseUrl + "/taxii2/";
  const auto apiRoot = baseUrl + std::string(taxii::ApiRootPath);
  if (ctx.out().json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : collections) {
      list.push_back({{"collection_id", c.id}, {"title", c.title}, {"tlp", jsonTlp(c.tlp)}});
    }
    ctx.out().jsonLine({{"member_id", keys.memberId},
                        {"discovery_url", discovery},
                        {"api_root_url", apiRoot},
                        {"certificate_file", certificate.cert.string()},
                        {"certificate_made", certificate.made},
                        {"certificate_sha256", fingerprint},
                        {"user", a.user},
                        {"key_agent", socket.has_value()},
                        {"bulletin_count", feed.bulletins()},
                        {"collections", list}});
  } else {
    auto& out = ctx.out();
    out.line(fmt::format("TAXII 2.1 endpoint of {} at {}", keys.memberId, discovery));
    out.line(fmt::format("  API root:     {}", apiRoot));
    out.line(fmt::format("  certificate:  {}{}", certificate.cert.string(), certificate.made ? " (made now)" : ""));
    out.line(fmt::format("  SHA-256:      {}", fingerprint));
    out.line(fmt::format("  user:         {}", a.user));
    for (const auto& c : collections) out.line(fmt::format("  collection:   {}  TLP:{}", c.id, c.tlp));
    out.line(fmt::format("serving {} bulletins from the local archive{}; Ctrl-C stops", feed.bulletins(),
                         socket ? " while the key agent runs" : ""));
  }
  std::fflush(stdout);
  server->run();
  return ExitOk;
}

}  // namespace

void addTaxiiCommand(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto a = std::make_shared<TaxiiArgs>();
  auto* cmd = app.add_subcommand("taxii", "Serve your received bulletins as STIX 2.1 over a local TAXII 2.1 endpoint");
  cmd->add_option("--listen", a->listen, "IP:PORT to listen on (default 127.0.0.1:9443; port 0: any free port)");
  cmd->add_option("--user", a->user, "The HTTP Basic user name TAXII clients give")->required();
  cmd->add_option("--password-file", a->passwordFile,
                  "File whose first line is the password (mode 0600, at least 16 characters)")
      ->required();
  cmd->add_option("--cert", a->cert, "Your own TLS certificate (PEM) instead of the one made in the profile");
  // Not --key: that is the global option naming your key file, which may
  // follow the command (focal taxii ... --key sg.key).
  cmd->add_option("--cert-key", a->key, "The private key of --cert (PEM, mode 0600)");
  cmd->add_flag("--include-red", a->includeRed, "Also serve TLP:RED bulletins (a collection of their own)");
  cmd->add_flag("--allow-remote", a->allowRemote,
                "Allow a --listen address that is not loopback (other machines could then connect)");
  cmd->footer(R"(Serves over HTTPS, with HTTP Basic authentication, the STIX 2.1 export (as
focal export --format stix) of every bulletin in your local archive, decrypted
and verified here, never on the hub: one collection per TLP level (RED only
with --include-red), read-only. The first run makes a self-signed certificate
in the profile (PROFILE/taxii/) and prints its SHA-256 fingerprint: give
MISP or OpenCTI the certificate or compare the fingerprint. New bulletins reach
the endpoint through the archive: run `focal listen` beside it. With the key
agent (focal unlock) it stops serving when the agent is locked.
docs/cti.md (TAXII) shows how to point MISP's and OpenCTI's TAXII feeds at it.

Example:
  openssl rand -base64 24 > ~/.focal/taxii.pass; chmod 600 ~/.focal/taxii.pass
  focal taxii --listen 127.0.0.1:9443 --user misp --password-file ~/.focal/taxii.pass)");
  table.add(cmd, [&ctx, a] { return runTaxii(ctx, *a); });
}

}  // namespace focal::client::cli
