// protocol/names.hpp: one spelling per schema enumerant, the spellings the
// CLI's JSON (docs/json.md) and the hub's audit trail rely on, and parsing
// back what is printed.
#include "protocol/names.hpp"

#include <capnp/schema.h>
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace focal;

namespace {

// Every enumerant the schema declares, except the listed "unset" ones, has
// its own spelling (none falls back to the default, no two share one).
template <class E, class NameFn>
void everyEnumerantNamed(NameFn name, std::set<std::uint16_t> unnamed = {}) {
  std::set<std::string> seen;
  for (auto e : capnp::Schema::from<E>().getEnumerants()) {
    const auto ordinal = e.getOrdinal();
    if (unnamed.contains(ordinal)) continue;
    const std::string text = name(static_cast<E>(ordinal));
    INFO(e.getProto().getName().cStr());
    CHECK(!text.empty());
    CHECK(text != "unknown");
    CHECK(text != "unset");
    CHECK(text != "UNSET");
    CHECK(seen.insert(text).second);
  }
}

// Every field of a union (its Which values) has a spelling.
template <class S, class W, class NameFn>
void everyUnionMemberNamed(NameFn name) {
  std::set<std::string> seen;
  for (auto f : capnp::Schema::from<S>().getUnionFields()) {
    const std::string text = name(static_cast<W>(f.getProto().getDiscriminantValue()));
    INFO(f.getProto().getName().cStr());
    CHECK(text != "unknown");
    CHECK(seen.insert(text).second);
  }
}

}  // namespace

TEST_CASE("names: every schema enumerant has one spelling of its own", "[protocol][names]") {
  everyEnumerantNamed<wire::Institution>(protocol::institutionName, {0});
  everyEnumerantNamed<wire::Tlp>(protocol::tlpName, {0});
  everyEnumerantNamed<wire::Category>(protocol::categoryName, {0});
  everyEnumerantNamed<wire::Priority>(protocol::priorityName);
  everyEnumerantNamed<wire::Handling>(protocol::handlingName, {0});
  everyEnumerantNamed<wire::DeliveryState>(protocol::deliveryStateName);
  everyEnumerantNamed<wire::RecordState>(protocol::recordStateName);
  everyEnumerantNamed<wire::ProposalState>(protocol::proposalStateName);
  everyUnionMemberNamed<wire::Proposal, wire::Proposal::Which>(protocol::proposalKindName);
  everyUnionMemberNamed<wire::LogEvent, wire::LogEvent::Which>(protocol::logEventName);
  everyUnionMemberNamed<wire::ServerFrame, wire::ServerFrame::Which>(protocol::serverFrameName);
}

TEST_CASE("names: the spellings docs/json.md and the audit trail use", "[protocol][names]") {
  using wire::Institution;
  const std::vector<std::pair<std::string, std::string>> spelled{
      {protocol::institutionName(Institution::LAW_ENFORCEMENT), "law-enforcement"},
      {protocol::institutionName(Institution::RESOURCE_PANEL), "resource-panel"},
      {protocol::institutionName(Institution::UNSET), "unset"}, {protocol::tlpName(wire::Tlp::UNSET), "UNSET"},
      {protocol::tlpName(wire::Tlp::AMBER_STRICT), "AMBER+STRICT"}, {protocol::handlingName(wire::Handling::UNSET), ""},
      {protocol::categoryName(wire::Category::BEST_PRACTICE), "best-practice"},
      {protocol::recordStateName(wire::RecordState::SUPERSEDED), "superseded"},
      {protocol::proposalStateName(wire::ProposalState::ADOPTED), "adopted"},
      {protocol::deliveryStateName(wire::DeliveryState::ACKNOWLEDGED), "acknowledged"},
      {protocol::logEventName(wire::LogEvent::ROTATE_IDENTITY), "rotate-identity"},
      {protocol::logEventName(wire::LogEvent::RECORD_APPROVED), "record-approved"},
      {protocol::serverFrameName(wire::ServerFrame::UPLOAD_READY), "upload-ready"}};
  for (const auto& [got, want] : spelled) CHECK(got == want);
}

TEST_CASE("names: what is printed parses back, in the case each parser accepts", "[protocol][names]") {
  wire::Institution i = wire::Institution::UNSET;
  CHECK(protocol::parseInstitution("dialogue-partner", i));
  CHECK(i == wire::Institution::DIALOGUE_PARTNER);
  CHECK_FALSE(protocol::parseInstitution("Dialogue-Partner", i));
  CHECK_FALSE(protocol::parseInstitution("unset", i));
  CHECK(i == wire::Institution::DIALOGUE_PARTNER);

  wire::Tlp t = wire::Tlp::UNSET;
  CHECK(protocol::parseTlp("TLP:AMBER+STRICT", t));
  CHECK(t == wire::Tlp::AMBER_STRICT);
  CHECK(protocol::parseTlp("green", t));
  CHECK(t == wire::Tlp::GREEN);
  CHECK(protocol::parseTlp("tlp:Red", t));
  CHECK(t == wire::Tlp::RED);
  CHECK_FALSE(protocol::parseTlp("tlp:", t));
  CHECK_FALSE(protocol::parseTlp("unset", t));
  CHECK_FALSE(protocol::parseTlp("TLP", t));

  wire::Category c = wire::Category::UNSET;
  CHECK(protocol::parseCategory("summary-record", c));
  CHECK(c == wire::Category::SUMMARY_RECORD);
  CHECK_FALSE(protocol::parseCategory("Trend", c));

  wire::Handling h = wire::Handling::UNSET;
  CHECK(protocol::parseHandling("h2", h));
  CHECK(h == wire::Handling::H2);
  CHECK_FALSE(protocol::parseHandling("h4", h));
}
