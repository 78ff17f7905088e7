// focald's log sinks and the JSON line formatter (logging.hpp).
#include "server/logging.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#ifdef FOCAL_SYSTEMD
#include <spdlog/sinks/systemd_sink.h>
#endif

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdlib>

namespace focal::server {

namespace {

// "session 12: ..." -> 12, the one field most lines carry.
std::optional<std::uint64_t> sessionOf(std::string_view message) {
  constexpr std::string_view prefix = "session ";
  if (message.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::uint64_t id = 0;
  const char* begin = message.data() + prefix.size();
  const char* end = message.data() + message.size();
  auto [p, ec] = std::from_chars(begin, end, id);
  if (ec != std::errc() || p == begin || p == end || *p != ':') return std::nullopt;
  return id;
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    const std::string_view message(msg.payload.data(), msg.payload.size());
    nlohmann::json j = {
        {"time", fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", fmt::gmtime(secs), static_cast<int>(ms % 1000))},
        {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                              spdlog::level::to_string_view(msg.level).size())},
        {"message", std::string(message)},
        {"logger", std::string(msg.logger_name.data(), msg.logger_name.size())},
        {"thread", msg.thread_id},
    };
    if (const auto session = sessionOf(message)) j["session"] = *session;
    // SECURITY: invalid UTF-8 replaced (dump would throw), control
    // characters escaped by the serializer: one line per event.
    const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

// systemd connects stderr to the journal and says so in JOURNAL_STREAM
// ("DEVICE:INODE" of that stream); a stderr redirected elsewhere (a file,
// a pipe a supervisor reads) does not match.
bool stderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  return dev == static_cast<unsigned long long>(st.st_dev) && ino == static_cast<unsigned long long>(st.st_ino);
}

}  // namespace

std::optional<LogFormat> parseLogFormat(std::string_view name) {
  if (name == "auto") return LogFormat::Auto;
  if (name == "text") return LogFormat::Text;
  if (name == "json") return LogFormat::Json;
  if (name == "journal") return LogFormat::Journal;
  return std::nullopt;
}

std::unique_ptr<spdlog::formatter> makeJsonLogFormatter() { return std::make_unique<JsonFormatter>(); }

LogFormat installLogger(LogFormat format) {
  if (format == LogFormat::Auto) format = stderrIsJournal() ? LogFormat::Journal : LogFormat::Text;
  std::shared_ptr<spdlog::logger> logger;
  bool noJournal = false;
#ifdef FOCAL_SYSTEMD
  if (format == LogFormat::Journal) {
    // The journal stamps time and priority itself: the message alone.
    logger = std::make_shared<spdlog::logger>("focald", std::make_shared<spdlog::sinks::systemd_sink_mt>("focald"));
  }
#else
  if (format == LogFormat::Journal) {
    format = LogFormat::Text;
    noJournal = true;
  }
#endif
  if (!logger) {
    logger = std::make_shared<spdlog::logger>("focald", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    if (format == LogFormat::Json) {
      logger->set_formatter(makeJsonLogFormatter());
    } else {
      logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    }
  }
  spdlog::set_default_logger(logger);
  if (noJournal) spdlog::warn("this focald is built without libsystemd: logging as text on stderr, not to journald");
  return format;
}

}  // namespace focal::server
