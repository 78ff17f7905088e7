// focald run --log-format json (server/logging.hpp): every line of the log
// is one JSON object with the documented keys.
#include "hub_fixture.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace focal;
using namespace focal::test;

TEST_CASE("focald run --log-format json writes one JSON object per line", "[integration][logs]") {
  HubOptions options;
  options.runArgs = {"--log-format", "json", "--log-level", "debug"};
  Hub hub(options);
  auto a = hub.createMember("sg-spf", "SG");
  hub.connect(a.keys)->ping();
  hub.stop();
  const std::string log = slurp(hub.dir() / "focald.err");
  std::istringstream lines(log);
  std::string line;
  std::size_t parsed = 0;
  std::size_t withSession = 0;
  bool sawShutdown = false;
  while (std::getline(lines, line)) {
    INFO(line);
    const auto j = nlohmann::json::parse(line);  // throws (test failure) when a line is not JSON
    REQUIRE(j.is_object());
    REQUIRE(j.at("time").is_string());
    CHECK(j.at("time").get<std::string>().size() == 24);  // 2026-12-07T07:07:55.337Z
    CHECK(j.at("time").get<std::string>().back() == 'Z');
    const auto level = j.at("level").get<std::string>();
    CHECK((level == "trace" || level == "debug" || level == "info" || level == "warning" || level == "error" ||
           level == "critical"));
    REQUIRE(j.at("message").is_string());
    CHECK(j.at("logger") == "focald");
    if (j.contains("session")) {
      CHECK(j.at("session").is_number_unsigned());
      CHECK(j.at("message").get<std::string>().rfind("session " + std::to_string(j.at("session").get<std::uint64_t>()) +
                                                     ":", 0) == 0);
      ++withSession;
    }
    sawShutdown = sawShutdown || j.at("message") == "shutdown complete";
    ++parsed;
  }
  CHECK(parsed >= 5);
  CHECK(withSession >= 2);  // accepted, authenticated, closed
  CHECK(sawShutdown);
}
