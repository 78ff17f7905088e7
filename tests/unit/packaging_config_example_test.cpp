// packaging/focal.toml.example, installed as the package's example
// configuration: it parses, and it is exactly what init writes for the
// defaults (after its header comment), so it cannot drift from config.cpp.
#include "server/config.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace focal::server;

TEST_CASE("the packaged example focal.toml is the default configuration init writes", "[server][config][packaging]") {
  std::ifstream in(FOCAL_CONFIG_EXAMPLE, std::ios::binary);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  const std::string example = text.str();
  const std::string rendered = renderConfig(Config{});
  INFO("regenerate packaging/focal.toml.example: its header comment, then what focald init writes by default");
  REQUIRE(example.size() > rendered.size());
  CHECK(example.substr(example.size() - rendered.size()) == rendered);
  const auto parsed = parseConfig(example, "focal.toml.example", "/var/lib/focal");
  REQUIRE(parsed.ok());
  CHECK(parsed->database == "/var/lib/focal/focal.db");
}
