// The local TAXII endpoint's resources without the network (client/taxii.hpp):
// Accept negotiation, timestamps, the content per TLP collection with its
// de-duplication, filters, versions, pagination with `next` and
// `added_after`, and the TAXII errors for malformed queries.
#include "client/taxii.hpp"
#include "client/taxii_server.hpp"

#include <catch2/catch.hpp>
#include "crypto/types.hpp"

using namespace focal::client::taxii;
using nlohmann::json;

namespace {

const std::string Green = "0444c7cc-ebbc-4438-af69-cd86bca8bdc9";
const std::string Amber = "7787da32-b713-4f66-8430-1708ba04df18";

json object(const std::string& type, const std::string& id, const std::string& modified) {
  return {{"type", type}, {"spec_version", "2.1"}, {"id", type + "--" + id}, {"created", modified}, {"modified", modified}};
}

// Two GREEN bulletins sharing a marking definition, one with two versions
// of an indicator across them, and one AMBER bulletin.
Content sample() {
  const auto marking = json{{"type", "marking-definition"},
                            {"spec_version", "2.1"},
                            {"id", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"},
                            {"created", "2022-10-01T00:00:00.000Z"}};
  std::vector<BulletinObjects> b{
      {std::string(32, 'a'),
       "GREEN",
       1'000'000,
       {object("report", "11111111-1111-4111-8111-111111111111", "2026-12-01T00:00:00.000Z"), marking,
        object("indicator", "22222222-2222-4222-8222-222222222222", "2026-12-01T00:00:00.000Z")}},
      {std::string(32, 'b'),
       "GREEN",
       2'000'000,
       {object("report", "33333333-3333-4333-8333-333333333333", "2026-12-02T00:00:00.000Z"), marking,
        object("indicator", "22222222-2222-4222-8222-222222222222", "2026-12-02T00:00:00Z")}},
      {std::string(32, 'c'), "AMBER", 3'000'000, {object("report", "44444444-4444-4444-8444-444444444444", "2026-12-03T00:00:00Z")}},
  };
  return Content(collectionsFor(false), b);
}

json body(const Response& r) {
  INFO(r.body);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

}  // namespace

TEST_CASE("taxii Accept admits taxii+json 2.1 and refuses other types", "[taxii]") {
  CHECK(acceptsTaxii(std::nullopt));
  CHECK(acceptsTaxii("application/taxii+json;version=2.1"));
  CHECK(acceptsTaxii("application/taxii+json; version=\"2.1\""));
  CHECK(acceptsTaxii("application/taxii+json"));
  CHECK(acceptsTaxii("text/html, */*;q=0.1"));
  CHECK(acceptsTaxii("APPLICATION/TAXII+JSON;VERSION=2.1"));
  CHECK_FALSE(acceptsTaxii("text/html"));
  CHECK_FALSE(acceptsTaxii("application/taxii+json;version=2.0"));
  CHECK_FALSE(acceptsTaxii("application/stix+json;version=2.1"));
  CHECK_FALSE(acceptsTaxii("application/taxii+json;q=0"));
  CHECK_FALSE(acceptsTaxii(""));
}

TEST_CASE("taxii timestamps parse RFC 3339 and print microseconds", "[taxii]") {
  CHECK(parseTimestampMicros("2026-12-07T10:00:00Z") == 1'796'637'600'000'000);
  CHECK(parseTimestampMicros("2026-12-07T10:00:00.5Z") == 1'796'637'600'500'000);
  CHECK(parseTimestampMicros("2026-12-07T12:00:00.000001+02:00") == 1'796'637'600'000'001);
  CHECK(formatMicros(1'796'637'600'000'001) == "2026-12-07T10:00:00.000001Z");
  for (const char* bad : {"", "yesterday", "2026-12-07", "2026-12-07T10:00:00", "2026-13-07T10:00:00Z",
                          "2026-12-07T10:00:00.Z", "2026-12-07T10:00:00Zjunk", "2026-12-07T10:00:00+2:00"}) {
    INFO(bad);
    CHECK_FALSE(parseTimestampMicros(bad));
  }
}

TEST_CASE("taxii collections hold each TLP's objects once per version in date_added order", "[taxii]") {
  const auto content = sample();
  const Router router("https://127.0.0.1:9443", "Focal TAXII for my-pdrm-cyber", collectionsFor(false));
  const auto green = "/focal/collections/" + Green;

  const auto all = body(router.get(green + "/objects/?match[version]=all", std::nullopt, content)).at("objects");
  // The marking definition once (same version in both bulletins), both
  // versions of the indicator, both reports.
  CHECK(all.size() == 5);
  const auto latest = body(router.get(green + "/objects/", std::nullopt, content)).at("objects");
  CHECK(latest.size() == 4);  // the indicator's last version only
  const auto indicator = body(router.get(green + "/objects/?match%5Btype%5D=indicator", std::nullopt, content));
  REQUIRE(indicator.at("objects").size() == 1);
  CHECK(indicator.at("objects")[0].at("modified") == "2026-12-02T00:00:00Z");
  CHECK(body(router.get(green + "/objects/?match[type]=indicator&match[version]=first", std::nullopt, content))
            .at("objects")[0]
            .at("modified") == "2026-12-01T00:00:00.000Z");
  const auto versions = body(router.get(green + "/objects/indicator--22222222-2222-4222-8222-222222222222/versions/",
                                        std::nullopt, content));
  CHECK(versions.at("versions") == json::array({"2026-12-01T00:00:00.000Z", "2026-12-02T00:00:00Z"}));
  CHECK(body(router.get(green + "/objects/?match[type]=report,indicator&match[id]=report--33333333-3333-4333-8333-"
                                "333333333333",
                        std::nullopt, content))
            .at("objects")
            .size() == 1);
  // AMBER content is not in GREEN, and the other way round.
  CHECK(body(router.get("/focal/collections/" + Amber + "/objects/", std::nullopt, content)).at("objects").size() == 1);
  CHECK(router.get(green + "/objects/report--44444444-4444-4444-8444-444444444444/", std::nullopt, content).status ==
        404);
  // The manifest: date_added of the marking is its first bulletin's.
  const auto manifest = body(router.get(green + "/manifest/?match[type]=marking-definition", std::nullopt, content));
  CHECK(manifest.at("objects")[0].at("date_added") == formatMicros(1'000'000'000 + 1));
  CHECK(manifest.at("objects")[0].at("version") == "2022-10-01T00:00:00.000Z");
}

TEST_CASE("taxii pages follow next and added_after without loss or repetition", "[taxii]") {
  const auto content = sample();
  const Router router("https://127.0.0.1:9443", "t", collectionsFor(false));
  const auto green = "/focal/collections/" + Green + "/objects/?match[version]=all&limit=2";
  std::vector<std::string> ids;
  std::string next;
  std::string lastAdded;
  for (int i = 0; i < 10; ++i) {
    const auto r = router.get(green + (next.empty() ? "" : "&next=" + next), std::nullopt, content);
    const auto page = body(r);
    for (const auto& o : page.at("objects")) ids.push_back(o.at("id"));
    for (const auto& [name, value] : r.headers) {
      if (name == "X-TAXII-Date-Added-Last") lastAdded = value;
    }
    if (!page.at("more").get<bool>()) break;
    next = page.at("next");
  }
  CHECK(ids.size() == 5);
  const auto after = body(router.get("/focal/collections/" + Green + "/objects/?match[version]=all&added_after=" +
                                         formatMicros(1'000'000'000 + 2),
                                     std::nullopt, content));
  CHECK(after.at("objects").size() == 2);  // the second bulletin's report and indicator
  CHECK(body(router.get("/focal/collections/" + Green + "/objects/?added_after=" + lastAdded, std::nullopt, content))
            .at("objects")
            .empty());
}

TEST_CASE("taxii answers malformed queries and unknown resources with TAXII errors", "[taxii]") {
  const auto content = sample();
  const Router router("https://127.0.0.1:9443", "t", collectionsFor(false));
  const auto objects = "/focal/collections/" + Green + "/objects/";
  for (const char* q : {"?limit=0", "?limit=-1", "?limit=x", "?added_after=yesterday", "?next=garbage",
                        "?match[version]=latest", "?limit=%zz"}) {
    INFO(q);
    const auto r = router.get(objects + q, std::nullopt, content);
    CHECK(r.status == 400);
    CHECK(json::parse(r.body).at("http_status") == "400");
  }
  CHECK(router.get("/focal/collections/13411eb7-907a-48c0-a059-14d676bc122b/", std::nullopt, content).status == 404);
  CHECK(router.get("/other/", std::nullopt, content).status == 404);
  CHECK(router.get("/focal/status/abc/", std::nullopt, content).status == 404);
  CHECK(router.get(objects, "text/html", content).status == 406);
  CHECK(body(router.get("/taxii2", std::nullopt, content)).at("default") == "https://127.0.0.1:9443/focal/");
  CHECK(body(router.get("/focal/collections/", std::nullopt, content)).at("collections").size() == 4);
  CHECK(collectionsFor(true).size() == 5);
}

TEST_CASE("taxii Basic authentication takes only the exact user and password", "[taxii]") {
  focal::crypto::initialize();
  const BasicAuth auth("misp", "correct horse battery staple");
  CHECK(auth.check("Basic bWlzcDpjb3JyZWN0IGhvcnNlIGJhdHRlcnkgc3RhcGxl"));
  CHECK(auth.check("basic   bWlzcDpjb3JyZWN0IGhvcnNlIGJhdHRlcnkgc3RhcGxl"));
  CHECK_FALSE(auth.check("Basic bWlzcDpjb3JyZWN0IGhvcnNlIGJhdHRlcnkgc3RhcGxm"));  // ...staplf
  CHECK_FALSE(auth.check("Basic bWlzcA=="));                                      // no colon
  CHECK_FALSE(auth.check("Bearer bWlzcDpjb3JyZWN0IGhvcnNlIGJhdHRlcnkgc3RhcGxl"));
  CHECK_FALSE(auth.check("Basic !!!"));
  CHECK_FALSE(auth.check(""));
}
