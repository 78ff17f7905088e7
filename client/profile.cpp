#include "client/profile.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace focal::client {

namespace {
void ensureDir(const std::filesystem::path& d) {
  std::error_code ec;
  std::filesystem::create_directories(d, ec);
  if (ec) throw std::runtime_error("cannot create " + d.string() + ": " + ec.message());
  ::chmod(d.c_str(), 0700);
}
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

void writeFileAtomic(const std::filesystem::path& path, std::string_view data, unsigned mode) {
  std::string tmpl = path.string() + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmpl.c_str());
      throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  ::fchmod(fd, mode);
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmpl.c_str());
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(err));
  }
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
  std::ostringstream out;
  out << "# Focal client profile (focal profile set ...)\n" << t << "\n";
  writeFileAtomic(dir_ / "profile.toml", out.str(), 0600);
}

std::uint64_t Profile::lastSeq() const {
  const auto file = dir_ / "state.toml";
  if (!std::filesystem::exists(file)) return 0;
  try {
    auto t = toml::parse_file(file.string());
    const auto v = t["last-seq"].value_or<std::int64_t>(0);
    return v > 0 ? static_cast<std::uint64_t>(v) : 0;
  } catch (const toml::parse_error&) {
    return 0;  // only an optimisation: refetching is always safe
  }
}

void Profile::setLastSeq(std::uint64_t seq) const {
  toml::table t;
  t.insert("last-seq", static_cast<std::int64_t>(seq));
  std::ostringstream out;
  out << t << "\n";
  writeFileAtomic(dir_ / "state.toml", out.str(), 0600);
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
