#include "client/profile.hpp"

#include "client/bulletin_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace focal::client {

namespace {
namespace fs = std::filesystem;

void ensureDir(const std::filesystem::path& d) {
  std::error_code ec;
  std::filesystem::create_directories(d, ec);
  if (ec) throw std::runtime_error("cannot create " + d.string() + ": " + ec.message());
  ::chmod(d.c_str(), 0700);
}

// Member ids as the hub admits them ([a-z0-9][a-z0-9.-]{1,62}): safe as one
// path component (no '/', never "." or "..").
bool memberIdOk(std::string_view id) {
  if (id.size() < 2 || id.size() > 63) return false;
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(id[0])) return false;
  return std::all_of(id.begin() + 1, id.end(), [&](char c) { return alnum(c) || c == '.' || c == '-'; });
}

std::uint64_t readSeq(const fs::path& file) {
  if (!fs::exists(file)) return 0;
  try {
    auto t = toml::parse_file(file.string());
    const auto v = t["last-seq"].value_or<std::int64_t>(0);
    return v > 0 ? static_cast<std::uint64_t>(v) : 0;
  } catch (const toml::parse_error&) {
    return 0;  // only an optimisation: refetching is always safe
  }
}

// A pre-member profile kept its cache and state at the top level. They are
// moved (renames: atomic) under legacy/ once, so a later first use of any
// member finds them in one place, and the top level is never read again.
void moveLegacyState(const fs::path& dir) {
  std::error_code ec;
  const bool oldCache = fs::is_directory(dir / "cache", ec);
  const bool oldState = fs::exists(dir / "state.toml", ec);
  if (!oldCache && !oldState) return;
  ensureDir(dir / "legacy");
  if (oldCache && !fs::exists(dir / "legacy" / "cache", ec)) fs::rename(dir / "cache", dir / "legacy" / "cache", ec);
  if (oldState && !fs::exists(dir / "legacy" / "state.toml", ec)) {
    fs::rename(dir / "state.toml", dir / "legacy" / "state.toml", ec);
  }
}

std::string hex(crypto::ByteView b) { return crypto::toHex(b); }

}  // namespace

std::filesystem::path Profile::defaultDir() {
  if (const char* h = std::getenv("FOCAL_HOME"); h != nullptr && *h != '\0') return h;
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".focal";
  }
  return ".focal";
}

Profile::Profile(std::filesystem::path dir) : dir_(std::move(dir)) { ensureDir(dir_); }

std::filesystem::path Profile::spoolDir() const {
  auto d = dir_ / "spool";
  ensureDir(d);
  return d;
}

ProfileSettings Profile::settings() const {
  const auto file = dir_ / "profile.toml";
  ProfileSettings s;
  if (!std::filesystem::exists(file)) return s;
  try {
    auto t = toml::parse_file(file.string());
    s.hub = t["hub"].value_or(std::string{});
    s.ca = t["ca"].value_or(std::string{});
    s.key = t["key"].value_or(std::string{});
    s.headMaxAge = t["head-max-age"].value_or(std::string{});
    s.hubKey = t["hub-key"].value_or(std::string{});
    s.archiveKeep = t["archive-keep"].value_or(std::string{});
  } catch (const toml::parse_error& e) {
    throw std::runtime_error("cannot parse " + file.string() + ": " + std::string(e.description()));
  }
  return s;
}

void Profile::saveSettings(const ProfileSettings& s) const {
  toml::table t;
  if (!s.hub.empty()) t.insert("hub", s.hub);
  if (!s.ca.empty()) t.insert("ca", s.ca);
  if (!s.key.empty()) t.insert("key", s.key);
  if (!s.headMaxAge.empty()) t.insert("head-max-age", s.headMaxAge);
  if (!s.hubKey.empty()) t.insert("hub-key", s.hubKey);
  if (!s.archiveKeep.empty()) t.insert("archive-keep", s.archiveKeep);
  std::ostringstream out;
  out << "# Focal client profile (focal profile set ...)\n" << t << "\n";
  writeFileAtomic(dir_ / "profile.toml", out.str(), 0600);
}

std::optional<std::string> canonicalFingerprint(std::string_view text) {
  std::string digits;
  for (char ch : text) {
    if (ch >= '0' && ch <= '9') digits += ch;
    else if (ch != ' ') return std::nullopt;
  }
  if (digits.size() != 30) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < digits.size(); i += 5) {
    if (i > 0) out += ' ';
    out += digits.substr(i, 5);
  }
  return out;
}

fs::path Profile::memberDir(std::string_view memberId, bool claimLegacySeq) const {
  if (!memberIdOk(memberId)) {
    throw std::runtime_error("'" + std::string(memberId) + "' is not a member id: no profile state for it");
  }
  const fs::path member = dir_ / "members" / std::string(memberId);
  ensureDir(member);
  std::error_code ec;
  const fs::path legacy = dir_ / "legacy";
  // One member takes the old last-seq (a rename: never two).
  const auto claim = [&] {
    if (claimLegacySeq && !fs::exists(member / "state.toml", ec)) {
      ::rename((legacy / "state.toml").c_str(), (member / "state.toml").c_str());
    }
  };
  if (fs::is_directory(member / "cache", ec)) {
    claim();
    return member;
  }

  // First use by this member: take its share of a pre-member profile.
  moveLegacyState(dir_);
  std::string tmpl = (member / ".cache-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("cannot create a directory in " + member.string() + ": " + std::strerror(errno));
  }
  const fs::path tmp(tmpl);
  try {
    if (fs::is_directory(legacy / "cache", ec)) BulletinCache::copyMemberShare(legacy / "cache", tmp, memberId);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  ::chmod(tmp.c_str(), 0700);
  if (::rename(tmp.c_str(), (member / "cache").c_str()) != 0) {
    // A concurrent first use won the rename: its copy is as good as ours.
    fs::remove_all(tmp, ec);
    if (!fs::is_directory(member / "cache", ec)) {
      throw std::runtime_error("cannot create " + (member / "cache").string() + ": " + std::strerror(errno));
    }
  }
  claim();
  return member;
}

fs::path Profile::cacheDir(std::string_view memberId, bool claimLegacySeq) const {
  return memberDir(memberId, claimLegacySeq) / "cache";
}

std::uint64_t Profile::lastSeq(std::string_view memberId) const { return readSeq(memberDir(memberId) / "state.toml"); }

void Profile::setLastSeq(std::string_view memberId, std::uint64_t seq) const {
  toml::table t;
  t.insert("last-seq", static_cast<std::int64_t>(seq));
  std::ostringstream out;
  out << t << "\n";
  writeFileAtomic(memberDir(memberId) / "state.toml", out.str(), 0600);
}

std::vector<std::string> Profile::members() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ / "members", ec)) {
    const auto name = e.path().filename().string();
    if (memberIdOk(name) && e.is_directory(ec)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Profile::rememberKeyFile(std::string_view memberId, const KnownKeyFile& file) const {
  try {
    const fs::path path = memberDir(memberId) / "keys.toml";
    toml::table t;
    if (fs::exists(path)) t = toml::parse_file(path.string());
    toml::array kept;
    bool present = false;
    if (auto* files = t["file"].as_array()) {
      for (auto& node : *files) {
        auto* entry = node.as_table();
        if (entry == nullptr) continue;
        const bool samePath = (*entry)["path"].value_or(std::string{}) == file.path;
        const bool sameKeys = (*entry)["identity"].value_or(std::string{}) == hex(file.identity.view()) &&
                              (*entry)["encryption"].value_or(std::string{}) == hex(file.encryption.view());
        if (samePath && sameKeys) present = true;
        if (samePath && !sameKeys) continue;  // the path now holds other keys
        kept.push_back(*entry);
      }
    }
    if (present) return;
    toml::table entry;
    entry.insert("path", file.path);
    entry.insert("identity", hex(file.identity.view()));
    entry.insert("encryption", hex(file.encryption.view()));
    kept.push_back(std::move(entry));
    toml::table out;
    out.insert("file", std::move(kept));
    std::ostringstream text;
    text << "# Key files this profile saw for " << memberId << " (public keys only; newest last)\n" << out << "\n";
    writeFileAtomic(path, text.str(), 0600);
  } catch (const std::exception&) {
    // Only a hint for naming the current file; never fail a command for it.
  }
}

std::vector<Profile::KeyRow> Profile::keyRows(std::string_view memberId) const {
  std::vector<KeyRow> rows;
  try {
    const fs::path path = memberDir(memberId) / "keys.toml";
    if (!fs::exists(path)) return rows;
    auto t = toml::parse_file(path.string());
    auto* files = t["file"].as_array();
    if (files == nullptr) return rows;
    for (auto& node : *files) {
      auto* entry = node.as_table();
      if (entry == nullptr) continue;
      rows.push_back(KeyRow{(*entry)["path"].value_or(std::string{}), (*entry)["identity"].value_or(std::string{}),
                            (*entry)["encryption"].value_or(std::string{})});
    }
  } catch (const std::exception&) {
    rows.clear();
  }
  return rows;
}

std::optional<std::string> Profile::keyFileWith(std::string_view memberId, const crypto::SigningPublicKey& identity,
                                                const crypto::BoxPublicKey& encryption) const {
  std::optional<std::string> found;
  for (const auto& row : keyRows(memberId)) {
    std::error_code ec;
    if (row.identity == hex(identity.view()) && row.encryption == hex(encryption.view()) && !row.path.empty() &&
        fs::exists(row.path, ec)) {
      found = row.path;
    }
  }
  return found;
}

bool Profile::knowsKeys(std::string_view memberId, crypto::ByteView identity, crypto::ByteView encryption) const {
  const auto rows = keyRows(memberId);
  return std::any_of(rows.begin(), rows.end(),
                     [&](const KeyRow& r) { return r.identity == hex(identity) && r.encryption == hex(encryption); });
}

std::optional<std::pair<std::string, std::uint16_t>> parseHostPort(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || ec != std::errc() || p != port.data() + port.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return std::make_pair(std::string(host), static_cast<std::uint16_t>(value));
}

}  // namespace focal::client
