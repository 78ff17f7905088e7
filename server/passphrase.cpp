#include "server/passphrase.hpp"

#include <sodium.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <stdexcept>
#include <termios.h>
#include <unistd.h>

namespace focal::server {

namespace {

// Longest passphrase read from the terminal; a line beyond it is refused
// rather than silently cut.
constexpr std::size_t MaxPassphraseBytes = 1024;

std::string readLineNoEcho(int fd, std::string_view prompt) {
  (void)!::write(fd, prompt.data(), prompt.size());
  termios old {};
  const bool isTty = ::tcgetattr(fd, &old) == 0;
  if (isTty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    if (::tcsetattr(fd, TCSAFLUSH, &quiet) != 0) throw std::runtime_error("cannot turn off terminal echo");
  }
  std::string line;
  char c = 0;
  bool tooLong = false;
  for (;;) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    if (line.size() >= MaxPassphraseBytes) tooLong = true;
    else line.push_back(c);
  }
  if (isTty) ::tcsetattr(fd, TCSAFLUSH, &old);
  if (tooLong) {
    wipe(line);
    throw std::runtime_error("passphrase too long");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

void wipe(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

std::string obtainNewPassphrase(std::string_view prompt) {
  if (const char* env = std::getenv("FOCAL_PASSPHRASE"); env != nullptr) {
    std::string p(env);
    if (p.empty()) throw std::runtime_error("FOCAL_PASSPHRASE is empty");
    return p;
  }
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) throw std::runtime_error("no terminal to ask for a passphrase; set FOCAL_PASSPHRASE");
  std::string first;
  std::string second;
  try {
    first = readLineNoEcho(fd, prompt);
    second = readLineNoEcho(fd, "Repeat the passphrase: ");
  } catch (...) {
    ::close(fd);
    wipe(first);
    throw;
  }
  ::close(fd);
  const bool match = first.size() == second.size() && sodium_memcmp(first.data(), second.data(), first.size()) == 0;
  wipe(second);
  if (!match) {
    wipe(first);
    throw std::runtime_error("the passphrases differ");
  }
  if (first.empty()) throw std::runtime_error("the passphrase is empty");
  return first;
}

}  // namespace focal::server
