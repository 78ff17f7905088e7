#include "server/clock.hpp"

#include <charconv>
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

namespace focal::server {

std::int64_t SystemClock::nowMs() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

std::optional<std::int64_t> readMs(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::string text;
  std::getline(in, text);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r' || text.back() == '\t')) text.pop_back();
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

FileClock::FileClock(std::filesystem::path file) : file_(std::move(file)) {
  auto v = readMs(file_);
  if (!v) throw std::runtime_error("--test-clock: " + file_.string() + " does not hold a time in milliseconds");
  last_.store(*v);
}

std::int64_t FileClock::nowMs() const {
  if (auto v = readMs(file_)) last_.store(*v);
  return last_.load();
}

}  // namespace focal::server
