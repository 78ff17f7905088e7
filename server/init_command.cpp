#include "server/init_command.hpp"

#include "crypto/keyfile.hpp"
#include "protocol/iso3166.hpp"
#include "protocol/log.hpp"
#include "protocol/names.hpp"
#include "protocol/witness.hpp"
#include "server/certificate.hpp"
#include "server/config.hpp"
#include "server/directory.hpp"
#include "server/hub_lock.hpp"
#include "server/identifiers.hpp"
#include "crypto/secure_file.hpp"
#include "server/startup.hpp"
#include "server/sqlite.hpp"
#include "server/store.hpp"
#include "server/tls.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <capnp/message.h>
#include <sys/stat.h>

#include <stdexcept>

namespace focal::server {

namespace {

namespace fs = std::filesystem;
using protocol::kjBytes;


// Exactly the bytes of `s` (never through strlen).
capnp::Text::Reader text(std::string_view s) { return protocol::asText(s); }

wire::Institution parseInstitution(std::string_view s) {
  wire::Institution out = wire::Institution::UNSET;
  if (protocol::parseInstitution(s, out)) return out;
  throw std::runtime_error("unknown institution '" + std::string(s) +
                           "' (law-enforcement, policy-security, secretariat, dialogue-partner, resource-panel)");
}

// Checks, prepares and appends one entry (and its head) inside the caller's
// transaction, then applies it to `dir`.
void appendEntry(sqlite::Database& db, Directory& dir, const protocol::SignedEvent& signedEvent,
                 const std::string& authorId, const crypto::SigningPublicKey& authorKey,
                 const crypto::SigningSecretKey& hubSecret, std::int64_t nowMs) {
  if (auto ok = dir.check(signedEvent.event, signedEvent.signature, authorId, authorKey, nowMs); !ok) {
    throw std::runtime_error("log entry refused: " + ok.error().message);
  }
  auto entry = dir.prepare(signedEvent.event, signedEvent.signature, authorId, authorKey, nowMs);
  const std::string hubId = dir.size() == 0 ? authorId : dir.hubId();
  auto head = protocol::signLogHead(hubId, entry.index + 1, entry.entryHash, nowMs, hubSecret);
  StoredHead stored{entry.index + 1, std::move(head.head), head.signature};
  if (auto ok = Store::appendLogEntry(db, entry, stored); !ok) throw std::runtime_error(ok.error().message);
  dir.apply(entry);
  dir.setHead(std::move(stored));
}

// The witness policy --witness / --witness-threshold name, checked by the
// log's own rule (protocol::readWitnessPolicy), or no witnesses.
protocol::WitnessPolicy readWitnesses(const InitOptions& o) {
  if (o.witnessKeyFiles.empty()) {
    if (o.witnessThreshold.value_or(0) != 0) throw std::runtime_error("--witness-threshold needs --witness files");
    return {};
  }
  capnp::MallocMessageBuilder m;
  protocol::WitnessPolicy policy;
  for (const auto& file : o.witnessKeyFiles) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) throw std::runtime_error("--witness: cannot read " + file.string());
    auto keys = crypto::parsePublicKeys(text.str());
    if (!keys) throw std::runtime_error("--witness " + file.string() + ": " + crypto::describe(keys.error()));
    policy.witnesses.push_back(protocol::WitnessKey{keys->memberId, keys->identity});
  }
  policy.threshold = o.witnessThreshold.value_or(static_cast<std::uint32_t>(policy.witnesses.size()));
  protocol::writeWitnessPolicy(m.initRoot<wire::WitnessPolicy>(), policy);
  auto checked = protocol::readWitnessPolicy(m.getRoot<wire::WitnessPolicy>().asReader());
  if (!checked) throw std::runtime_error("--witness: " + checked.error());
  return *checked;
}

}  // namespace

std::optional<fs::path> legacyAdminKeyFile(const fs::path& dir) {
  std::error_code ec;
  const fs::path p = dir / "admin.key";
  if (fs::exists(p, ec)) return p;
  return std::nullopt;
}

// A first admin as init registers it.
struct FirstAdmin {
  crypto::PublicKeys keys;
  std::string name;
  std::string state;
  wire::Institution institution = wire::Institution::POLICY_SECURITY;
};

crypto::PublicKeys readAdminPub(const fs::path& file, std::string_view option) {
  auto pub = crypto::readPublicKeyFile(file);
  if (!pub) throw std::runtime_error(std::string(option) + " " + file.string() + ": " + crypto::describe(pub.error()));
  if (!validMemberId(pub->memberId) || isGroupAddress(pub->memberId)) {
    throw std::runtime_error("admin id must match [a-z0-9][a-z0-9.-]{1,62} and not be a group address");
  }
  return *pub;
}

void checkAdminState(const std::string& state, const std::vector<std::string>& memberStates) {
  if (state.empty()) return;
  if (!protocol::isIso3166Alpha2(state)) {
    throw std::runtime_error("admin state must be an ISO 3166-1 alpha-2 code in upper case, e.g. SG");
  }
  if (!std::binary_search(memberStates.begin(), memberStates.end(), state)) {
    throw std::runtime_error("admin state " + state + " is not one of the member states (--member-states)");
  }
}

// The co-admins and the quorum: checked here so that init fails with the
// operator's words before anything is written (the log's rule checks again).
protocol::AdminPolicy adminPolicy(const InitOptions& o, const std::vector<FirstAdmin>& admins) {
  protocol::AdminPolicy p;
  p.named = true;
  p.firstAdmins = static_cast<std::uint32_t>(admins.size());
  p.quorum = o.adminQuorum.value_or(admins.size() > 1 ? 2U : 1U);
  p.forcedRotationDelayMs = o.forcedRotationDelayMs;
  if (p.quorum < 1 || p.quorum > p.firstAdmins) {
    throw std::runtime_error("--admin-quorum must be 1.." + std::to_string(p.firstAdmins) +
                             " (the first admins: --admin-pub and each --co-admin)");
  }
  std::set<std::string> ids;
  std::set<std::string> states;
  for (const auto& a : admins) {
    if (!ids.insert(a.keys.memberId).second) throw std::runtime_error("admin " + a.keys.memberId + " is named twice");
    if (!a.state.empty()) states.insert(a.state);
  }
  if (p.quorum >= 2 && states.size() < 2) {
    throw std::runtime_error("an admin quorum of " + std::to_string(p.quorum) +
                             " needs first admins from at least two member states (--admin-state, --co-admin FILE.pub:CC)");
  }
  if (auto checked = [&] {
        capnp::MallocMessageBuilder m;
        auto b = m.initRoot<wire::AdminPolicy>();
        protocol::writeAdminPolicy(b, p);
        return protocol::readAdminPolicy(b.asReader());
      }();
      !checked) {
    throw std::runtime_error(checked.error());
  }
  return p;
}

InitResult initHub(const InitOptions& o, const Clock& clock) {
  if (!validMemberId(o.hubId)) throw std::runtime_error("hub id must match [a-z0-9][a-z0-9.-]{1,62}");
  if (o.adminPublicKeyFile.empty()) {
    throw std::runtime_error("--admin-pub FILE.pub is required: the first admin runs `focal keygen` on their own "
                             "machine and gives you the .pub file (no admin private key is made on the hub)");
  }
  const crypto::PublicKeys adminPublic = readAdminPub(o.adminPublicKeyFile, "--admin-pub");
  const std::string adminId = o.adminId.empty() ? adminPublic.memberId : o.adminId;
  if (adminId != adminPublic.memberId) {
    throw std::runtime_error("--admin-id " + o.adminId + " differs from the member id in " +
                             o.adminPublicKeyFile.string() + " (" + adminPublic.memberId + ")");
  }
  std::vector<std::string> memberStates = o.memberStates.empty() ? Config::defaultMemberStates() : o.memberStates;
  for (auto& st : memberStates) {
    if (!protocol::isIso3166Alpha2(st)) {
      throw std::runtime_error("member state '" + st + "' is not an ISO 3166-1 alpha-2 code in upper case, e.g. SG");
    }
  }
  std::sort(memberStates.begin(), memberStates.end());
  memberStates.erase(std::unique(memberStates.begin(), memberStates.end()), memberStates.end());
  checkAdminState(o.adminState, memberStates);
  if (o.adminName.size() > protocol::MaxTextFieldBytes) throw std::runtime_error("admin name too long");
  std::vector<FirstAdmin> admins{{adminPublic, o.adminName.empty() ? adminId : o.adminName, o.adminState,
                                  parseInstitution(o.adminInstitution)}};
  for (const auto& co : o.coAdmins) {
    checkAdminState(co.state, memberStates);
    auto keys = readAdminPub(co.publicKeyFile, "--co-admin");
    const std::string name = keys.memberId;
    // A state's admin speaks for its police or policy agency; one without a
    // state, for the secretariat.
    admins.push_back(FirstAdmin{std::move(keys), name, co.state,
                                co.state.empty() ? wire::Institution::SECRETARIAT : wire::Institution::POLICY_SECURITY});
  }
  for (const auto& a : admins) {
    if (a.keys.memberId == o.hubId) throw std::runtime_error("the admin id must differ from the hub id");
  }
  const protocol::AdminPolicy admin = adminPolicy(o, admins);
  auto listen = parseListenAddress(o.listen);
  if (!listen) throw std::runtime_error("--listen: " + listen.error());
  std::optional<ListenAddress> metricsAddress;
  if (o.metrics.empty()) {
    metricsAddress = ListenAddress{"127.0.0.1", listen->port == 0 ? std::uint16_t{0} : Config::DefaultMetricsPort};
  } else if (o.metrics != "off") {
    auto parsed = parseListenAddress(o.metrics);
    if (!parsed) throw std::runtime_error("--metrics: " + parsed.error() + " (or give off)");
    metricsAddress = *parsed;
  }
  if (o.tlsCertificate.has_value() != o.tlsPrivateKey.has_value()) {
    throw std::runtime_error("--tls-cert and --tls-key go together");
  }

  const fs::path dir = fs::absolute(o.dir);
  const fs::path configFile = dir / "focal.toml";
  // A running hub's directory is refused naming its pid, before anything
  // else is looked at; the lock is then held until init is done.
  HubLock::requireFree(dir);
  if (fs::exists(configFile)) throw std::runtime_error(dir.string() + " already holds a hub (focal.toml exists)");
  for (const char* name : {"focal.db", "hub.key"}) {
    if (fs::exists(dir / name)) {
      throw std::runtime_error(dir.string() + " holds a partial hub (" + name +
                               " exists without focal.toml); remove it or choose another directory");
    }
  }
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  const HubLock lock = HubLock::acquire(dir);
  if (fs::exists(configFile)) throw std::runtime_error(dir.string() + " already holds a hub (focal.toml exists)");

  Config config;
  config.hubId = o.hubId;
  config.listenHost = listen->host;
  config.listenPort = listen->port;
  config.metricsEnabled = metricsAddress.has_value();
  if (metricsAddress) {
    config.metricsHost = metricsAddress->host;
    config.metricsPort = metricsAddress->port;
  }
  config.database = "focal.db";
  config.signingKey = "hub.key";
  config.memberStates = memberStates;

  // TLS certificate: brought by the operator, or self-signed here.
  fs::path certFile;
  fs::path keyFile;
  if (o.tlsCertificate) {
    certFile = fs::absolute(*o.tlsCertificate);
    keyFile = fs::absolute(*o.tlsPrivateKey);
    (void)makeServerTlsContext(certFile, keyFile);  // loads and matches, or throws
    config.tlsCertificate = certFile;
    config.tlsPrivateKey = keyFile;
  } else {
    fs::create_directories(dir / "tls");
    fs::permissions(dir / "tls", fs::perms::owner_all, fs::perm_options::replace);
    certFile = dir / "tls" / "cert.pem";
    keyFile = dir / "tls" / "key.pem";
    generateSelfSignedCertificate(certFile, keyFile, o.hubId, {"localhost", "127.0.0.1", "::1", listen->host},
                                  CertificateValidDays);
    config.tlsCertificate = "tls/cert.pem";
    config.tlsPrivateKey = "tls/key.pem";
  }

  const protocol::WitnessPolicy witnesses = readWitnesses(o);

  // Hub signing key (unencrypted by design; see the header).
  auto hubKey = crypto::SigningKeyPair::generate();
  crypto::writeFileAtomic(dir / "hub.key", hubKey.secretKey.view(), 0600);

  const std::int64_t now = clock.nowMs();

  // Database with the first two log entries, in one transaction.
  {
    auto db = sqlite::Database::open(dir / "focal.db", sqlite::Database::Mode::ReadWriteCreate);
    ::chmod((dir / "focal.db").c_str(), 0600);
    Store::createSchema(db);
    Directory directory;
    sqlite::Transaction txn(db);

    capnp::MallocMessageBuilder genesis;
    {
      auto e = genesis.initRoot<wire::LogEvent>();
      e.setIssuedAtMs(now);
      auto g = e.initGenesis();
      g.setHubId(text(o.hubId));
      g.setHubKey(kjBytes(hubKey.publicKey.view()));
      g.setLogVersion(protocol::CurrentLogVersion);  // entries bound to their place from here on
      if (witnesses.active()) protocol::writeWitnessPolicy(g.initWitnesses(), witnesses);
      protocol::writeAdminPolicy(g.initAdmins(), admin);
      protocol::setLogPosition(e, protocol::LogPosition{o.hubId, 0, protocol::logGenesisPrev()});
    }
    appendEntry(db, directory, protocol::signLogEvent(genesis, hubKey.secretKey), o.hubId, hubKey.publicKey,
                hubKey.secretKey, now);

    // Signed by the hub key: init is the authority for the first admins,
    // and their private keys are not here (PROTOCOL.md §11.1, entries 1..n).
    for (const auto& a : admins) {
      capnp::MallocMessageBuilder reg;
      auto e = reg.initRoot<wire::LogEvent>();
      e.setIssuedAtMs(now);
      auto r = e.initRegister();
      auto m = r.initMember();
      m.setId(text(a.keys.memberId));
      m.setName(text(a.name));
      m.setState(text(a.state));
      m.setInstitution(a.institution);
      m.setIsAdmin(true);
      m.setIsSecretariat(false);
      auto k = r.initKeys();
      k.setIdentityKey(kjBytes(a.keys.identity.view()));
      k.setEncryptionKey(kjBytes(a.keys.encryption.view()));
      k.setEncKeyCreatedAtMs(a.keys.createdAtMs);
      k.setEncKeyCert(kjBytes(a.keys.encCert.view()));
      protocol::setLogPosition(e, protocol::LogPosition{o.hubId, directory.size(), directory.root()});
      appendEntry(db, directory, protocol::signLogEvent(reg, hubKey.secretKey), o.hubId, hubKey.publicKey,
                  hubKey.secretKey, now);
    }
    txn.commit();
  }

  crypto::writeFileAtomic(configFile, crypto::asBytes(renderConfig(config)), 0640);

  InitResult r;
  r.configFile = configFile;
  r.hubId = o.hubId;
  r.address = formatListenAddress(listen->host, listen->port);
  r.caFile = certFile;
  r.certificateFingerprint = certificateFingerprint(certFile);
  r.hubKeyFingerprint = crypto::fingerprint(o.hubId, hubKey.publicKey);
  r.adminId = adminId;
  r.adminPublicKeyFile = fs::absolute(o.adminPublicKeyFile);
  r.adminFingerprint = crypto::fingerprint(adminId, adminPublic.identity);
  for (const auto& a : admins) r.admins.emplace_back(a.keys.memberId, crypto::fingerprint(a.keys.memberId, a.keys.identity));
  r.adminQuorum = admin.quorum;
  r.forcedRotationDelayMs = admin.forcedRotationDelayMs;
  return r;
}

RenewResult renewCertificate(const fs::path& dirArg, int validDays) {
  const fs::path dir = fs::absolute(dirArg);
  const fs::path configFile = dir / "focal.toml";
  if (!fs::exists(configFile)) throw std::runtime_error(dir.string() + " holds no hub (no focal.toml)");
  const HubLock lock = HubLock::acquire(dir);
  auto config = loadConfig(configFile);
  if (!config) throw std::runtime_error(config.error());
  if (!hubMadeCertificate(dir, *config)) {
    throw std::runtime_error("the TLS certificate " + config->tlsCertificate.string() +
                             " is not the one focald init made (" + (dir / "tls" / "cert.pem").string() +
                             "); it is yours to replace");
  }
  RenewResult r;
  r.certificate = config->tlsCertificate;
  try {
    r.previousFingerprint = certificateFingerprint(config->tlsCertificate);
  } catch (const std::exception&) {
    // Unreadable or missing: replaced all the same.
  }
  // The same subject and hosts init uses. A new key too: a renewal is the
  // moment to stop using a key that served for years.
  generateSelfSignedCertificate(config->tlsCertificate, config->tlsPrivateKey, config->hubId,
                                {"localhost", "127.0.0.1", "::1", config->listenHost}, validDays);
  r.fingerprint = certificateFingerprint(config->tlsCertificate);
  r.notAfter = formatUtc(certificateValidity(config->tlsCertificate).notAfter);
  return r;
}

}  // namespace focal::server
