#include "client/terminal.hpp"

#include <unistd.h>

#include <cstdio>
#include <fmt/format.h>

namespace focal::client::cli {

bool stdinIsTerminal() { return ::isatty(STDIN_FILENO) == 1; }
bool stderrIsTerminal() { return ::isatty(STDERR_FILENO) == 1; }
bool stdoutIsTerminal() { return ::isatty(STDOUT_FILENO) == 1; }

std::optional<bool> confirmOnTerminal(const std::string& question) {
  if (!stdinIsTerminal() || !stderrIsTerminal()) return std::nullopt;
  std::fprintf(stderr, "%s [y/N] ", question.c_str());
  std::fflush(stderr);
  char line[64] = {};
  if (std::fgets(line, sizeof line, stdin) == nullptr) return false;
  const std::string answer(line);
  return answer == "y\n" || answer == "Y\n" || answer == "yes\n" || answer == "YES\n";
}

ProgressBar::ProgressBar(std::string label, bool enabled) : label_(std::move(label)), enabled_(enabled) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(std::uint64_t done, std::uint64_t total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && done < total && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  drawn_ = true;
  constexpr int Width = 30;
  const double frac = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  const int filled = static_cast<int>(frac * Width);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(Width, ' ');
  std::fputs(fmt::format("\r{} [{}] {:3.0f}% {:.1f}/{:.1f} MiB", label_, bar, frac * 100, done / 1048576.0,
                         total / 1048576.0)
                 .c_str(),
             stderr);
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (enabled_ && drawn_) {
    std::fputs("\n", stderr);
    std::fflush(stderr);
  }
  drawn_ = false;
  enabled_ = false;
}

}  // namespace focal::client::cli
