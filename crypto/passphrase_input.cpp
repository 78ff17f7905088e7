// Reading a key file's passphrase (passphrase_input.hpp).
#include "crypto/passphrase_input.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <stdexcept>

namespace focal::crypto {

std::optional<std::string> promptHidden(const std::string& prompt) {
  const int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  (void)!::write(fd, prompt.data(), prompt.size());
  termios old{};
  const bool haveTermios = ::tcgetattr(fd, &old) == 0;
  if (haveTermios) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  std::string line;
  char ch;
  while (::read(fd, &ch, 1) == 1 && ch != '\n' && ch != '\r') line.push_back(ch);
  if (haveTermios) ::tcsetattr(fd, TCSAFLUSH, &old);
  ::close(fd);
  return line;
}

std::string readPassphraseFd(int fd) {
  std::string text;
  char c = 0;
  for (;;) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    if (text.size() >= MaxPassphraseBytes) throw std::length_error("the passphrase read is over 4096 bytes");
    text.push_back(c);
  }
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

std::string readPassphraseFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read passphrase file " + file.string());
  std::string text;
  std::getline(in, text);
  if (text.size() > MaxPassphraseBytes) throw std::length_error("the passphrase file's first line is over 4096 bytes");
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

}  // namespace focal::crypto
