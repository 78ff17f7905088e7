// Issue 21, "a local TAXII 2.1 endpoint": the real focald, the real
// `focal taxii` process, and a TAXII client (tests/integration/
// taxii_client.py: Python's urllib over ssl, verifying the endpoint's
// certificate and host name) that lists the member's collections, gets the
// indicator of a bulletin sent with a STIX bundle (focal send --stix), paginates, filters, gets
// 401 without credentials, 406 on a wrong Accept, 405 on POST, and does not
// see RED without --include-red; a bulletin that arrives while the endpoint
// runs is served at a later request, a retracted one is not. With the key
// agent's keys it answers 503 once the agent is locked and serves again after
// focal unlock. The endpoint
// refuses a non-loopback address, a password file others can read, and a
// short password.
#include "hub_fixture.hpp"
#include "tests/support/deadline.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <mutex>

using namespace focal;
using namespace focal::test;
using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

constexpr const char* TaxiiPassword = "correct horse battery staple 2026";
constexpr const char* GreenCollection = "0444c7cc-ebbc-4438-af69-cd86bca8bdc9";
constexpr const char* AmberCollection = "7787da32-b713-4f66-8430-1708ba04df18";
constexpr const char* RedCollection = "13411eb7-907a-48c0-a059-14d676bc122b";
const std::string IndicatorId = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

// A STIX 2.1 bundle with one indicator, as a member's MISP would export it.
std::string indicatorBundle() {
  return json{{"type", "bundle"},
              {"id", "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d"},
              {"objects",
               json::array({{{"type", "indicator"},
                             {"spec_version", "2.1"},
                             {"id", IndicatorId},
                             {"created", "2026-12-01T08:00:00.000Z"},
                             {"modified", "2026-12-01T08:00:00.000Z"},
                             {"name", "Phishing kit landing page"},
                             {"pattern", "[url:value = 'http://login-bank.example/kit']"},
                             {"pattern_type", "stix"},
                             {"valid_from", "2026-12-01T08:00:00Z"}}})}}
      .dump();
}

// `focal taxii` running in the background until stop(): its stdout so far
// (the first line is its --json start document).
class TaxiiProcess {
 public:
  // `env`: the environment of the process (default: the test passphrase).
  explicit TaxiiProcess(std::vector<std::string> args,
                        std::map<std::string, std::string> env = {{"FOCAL_PASSPHRASE", TestPassphrase}}) {
    thread_ = std::thread([this, args = std::move(args), env = std::move(env)] {
      auto argv = concat({FOCAL_CLI_PATH}, args);
      auto r = runProcess(argv, env, std::nullopt, std::chrono::seconds(240), [this](const ProcessResult& soFar) {
        std::lock_guard lock(mutex_);
        out_ = soFar.out;
        err_ = soFar.err;
        return stop_.load();
      });
      std::lock_guard lock(mutex_);
      result_ = std::move(r);
      done_ = true;
    });
  }
  ~TaxiiProcess() { stop(); }
  TaxiiProcess(const TaxiiProcess&) = delete;
  TaxiiProcess& operator=(const TaxiiProcess&) = delete;

  // The start document once printed (nullopt if the process ended first).
  std::optional<json> started() {
    std::optional<json> doc;
    test_support::waitUntil(
        [&] {
          std::lock_guard lock(mutex_);
          const auto eol = out_.find('\n');
          if (eol != std::string::npos) doc = json::parse(out_.substr(0, eol));
          return doc.has_value() || done_;
        },
        std::chrono::seconds(60));
    return doc;
  }
  std::string err() {
    std::lock_guard lock(mutex_);
    return done_ ? result_.err : err_;
  }
  ProcessResult stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return result_;
  }

 private:
  std::mutex mutex_;
  std::string out_, err_;
  ProcessResult result_;
  bool done_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Taxii {
  std::string base;  // https://127.0.0.1:PORT
  std::string cafile;

  // {"status", "headers", "body"} of one request through the Python client.
  json request(const std::string& path, bool withCredentials = true, const std::string& accept = "",
               const std::string& method = "GET", const std::string& password = TaxiiPassword) const {
    std::vector<std::string> argv{"/usr/bin/python3", FOCAL_TAXII_CLIENT, base + path, "--cafile", cafile, "--method", method};
    if (!accept.empty()) argv.insert(argv.end(), {"--accept", accept});
    if (withCredentials) argv.insert(argv.end(), {"--user", "misp", "--password", password});
    const auto r = runProcess(argv);
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    return json::parse(r.out);
  }
  json get(const std::string& path) const {
    auto r = request(path);
    INFO(r.dump());
    REQUIRE(r.at("status") == 200);
    CHECK(r.at("headers").at("content-type") == "application/taxii+json;version=2.1");
    return r.at("body");
  }
};

std::vector<std::string> idsOf(const json& objects) {
  std::vector<std::string> ids;
  for (const auto& o : objects) ids.push_back(o.at("id"));
  return ids;
}

fs::path passwordFile(const fs::path& dir, const std::string& text, mode_t mode = 0600) {
  const auto file = dir / "taxii.pass";
  std::ofstream(file, std::ios::trunc) << text << "\n";
  ::chmod(file.c_str(), mode);
  return file;
}

// sg-spf-cyber sends, my-pdrm-cyber receives and runs the endpoint; both
// with key files and profiles under `home`.
struct TaxiiDay {
  Hub hub;
  TempDir home;
  TestMember sg = hub.createMember("sg-spf-cyber", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  TestMember my = hub.createMember("my-pdrm-cyber", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  std::vector<std::string> sgArgs = concat(hub.cliGlobals(sg.keyFile, home.path() / "sg"), {"--json"});
  std::vector<std::string> myArgs = concat(hub.cliGlobals(my.keyFile, home.path() / "my"), {"--json"});
};

}  // namespace

TEST_CASE_METHOD(TaxiiDay,
                 "a TAXII client lists the collections and gets the indicator of a received bulletin over HTTPS",
                 "[integration][taxii]") {

  // A GREEN bulletin that carries a STIX bundle with an indicator, an
  // AMBER one, a RED one, and a GREEN one that is retracted.
  const auto bundleFile = home.path() / "kit.stix.json";
  std::ofstream(bundleFile) << indicatorBundle();
  const std::string stixId =
      runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm-cyber", "--tlp", "green", "--category", "alert", "--title",
                                 "Phishing kit", "--body", "The kit's landing page", "--attack", "T1566.002",
                                 "--stix", bundleFile.string()}))
          .at("bulletin_id");
  const auto send = [&](const char* tlp, const std::string& title) {
    return runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm-cyber", "--tlp", tlp, "--category", "trend", "--title",
                                      title, "--body", "text of " + title}))
        .at("bulletin_id")
        .get<std::string>();
  };
  send("amber", "Amber trend");
  send("red", "Red alert for the named recipients");
  const auto retracted = send("green", "Wrong suspect");
  runCliJson(concat(myArgs, {"inbox"}));
  runCliJson(concat(sgArgs, {"retract", retracted, "--reason", "wrong suspect"}));
  runCliJson(concat(myArgs, {"inbox"}));

  const auto pass = passwordFile(home.path(), TaxiiPassword);
  TaxiiProcess taxii(concat(myArgs, {"taxii", "--listen", "127.0.0.1:0", "--user", "misp", "--password-file",
                                     pass.string()}));
  const auto start = taxii.started();
  INFO(taxii.err());
  REQUIRE(start.has_value());
  CHECK(start->at("member_id") == "my-pdrm-cyber");
  CHECK(start->at("certificate_made") == true);
  CHECK(start->at("bulletin_count") == 2);  // the GREEN with STIX and the AMBER: not RED, not the retracted one
  const std::string discovery = start->at("discovery_url");
  REQUIRE_THAT(discovery, Contains("https://127.0.0.1:"));
  const Taxii t{discovery.substr(0, discovery.find("/taxii2/")), start->at("certificate_file")};
  // The certificate was made in the profile; the fingerprint printed is
  // the certificate's.
  CHECK(fs::path(t.cafile).parent_path() == home.path() / "my" / "taxii");
  CHECK(std::string(start->at("certificate_sha256")).size() == 95);

  // Discovery, API root, collections: RED is not among them.
  const auto disc = t.get("/taxii2/");
  REQUIRE(disc.at("api_roots").size() == 1);
  CHECK(disc.at("api_roots")[0] == t.base + "/focal/");
  CHECK(t.get("/focal/").at("versions")[0] == "application/taxii+json;version=2.1");
  const auto collections = t.get("/focal/collections/").at("collections");
  std::vector<std::string> titles;
  for (const auto& c : collections) {
    titles.push_back(c.at("title"));
    CHECK(c.at("can_read") == true);
    CHECK(c.at("can_write") == false);
  }
  CHECK(titles == std::vector<std::string>{"Focal TLP:CLEAR", "Focal TLP:GREEN", "Focal TLP:AMBER",
                                           "Focal TLP:AMBER+STRICT"});
  CHECK(t.request(std::string("/focal/collections/") + RedCollection + "/objects/").at("status") == 404);

  // The indicator of the bulletin sent with a STIX bundle, in GREEN.
  const auto green = std::string("/focal/collections/") + GreenCollection;
  const auto objects = t.get(green + "/objects/").at("objects");
  const auto ids = idsOf(objects);
  CHECK(std::count(ids.begin(), ids.end(), IndicatorId) == 1);
  for (const auto& o : objects) CHECK(o.at("spec_version") == "2.1");
  // Nothing of the retracted bulletin, nothing of AMBER in GREEN.
  CHECK_THAT(objects.dump(), !Contains("Wrong suspect") && !Contains("Amber trend"));
  CHECK_THAT(t.get(std::string("/focal/collections/") + AmberCollection + "/objects/").dump(),
             Contains("Amber trend"));

  // The bulletin's export around it: its TLP 2.0 marking and its ATT&CK
  // technique.
  CHECK(std::count(ids.begin(), ids.end(), "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb") == 1);
  const auto patterns = t.get(green + "/objects/?match[type]=attack-pattern").at("objects");
  REQUIRE(patterns.size() == 1);
  CHECK_THAT(patterns[0].dump(), Contains("T1566.002"));

  // Filters: by type, by id; objects/{id} and its versions; the manifest.
  const auto indicators = t.get(green + "/objects/?match[type]=indicator").at("objects");
  REQUIRE(indicators.size() == 1);
  CHECK(indicators[0].at("pattern") == "[url:value = 'http://login-bank.example/kit']");
  CHECK(t.get(green + "/objects/?match%5Bid%5D=" + IndicatorId).at("objects").size() == 1);
  CHECK(t.get(green + "/objects/" + IndicatorId + "/").at("objects")[0].at("id") == IndicatorId);
  CHECK(t.get(green + "/objects/" + IndicatorId + "/versions/").at("versions") ==
        json::array({"2026-12-01T08:00:00.000Z"}));
  const auto manifest = t.get(green + "/manifest/").at("objects");
  CHECK(manifest.size() == objects.size());
  for (const auto& m : manifest) CHECK(m.at("media_type") == "application/stix+json;version=2.1");
  CHECK(t.request(green + "/objects/indicator--00000000-0000-4000-8000-000000000000/").at("status") == 404);
  CHECK(t.request(green + "/objects/?added_after=yesterday").at("status") == 400);

  // Pagination: one object a page, following `next`, gives every object
  // once, in the same order; added_after past the last gives nothing.
  std::vector<std::string> paged;
  std::string next;
  for (int guard = 0; guard < 100; ++guard) {
    auto r = t.request(green + "/objects/?limit=1" + (next.empty() ? "" : "&next=" + next));
    REQUIRE(r.at("status") == 200);
    const auto& page = r.at("body");
    REQUIRE(page.at("objects").size() == 1);
    paged.push_back(page.at("objects")[0].at("id"));
    CHECK(r.at("headers").contains("x-taxii-date-added-first"));
    if (!page.at("more").get<bool>()) {
      const std::string last = r.at("headers").at("x-taxii-date-added-last");
      CHECK(t.get(green + "/objects/?added_after=" + last).at("objects").empty());
      break;
    }
    next = page.at("next");
  }
  CHECK(paged == ids);

  // No credentials, wrong ones: 401 with WWW-Authenticate. A wrong Accept:
  // 406. POST and DELETE: 405.
  const auto anonymous = t.request("/taxii2/", false);
  CHECK(anonymous.at("status") == 401);
  CHECK_THAT(anonymous.at("headers").at("www-authenticate").get<std::string>(), Contains("Basic realm="));
  CHECK(anonymous.at("body").at("http_status") == "401");
  CHECK(t.request("/taxii2/", true, "", "GET", "correct horse battery staple 2025").at("status") == 401);
  CHECK(t.request(green + "/objects/", true, "text/html").at("status") == 406);
  CHECK(t.request(green + "/objects/", true, "application/taxii+json;version=2.0").at("status") == 406);
  const auto post = t.request(green + "/objects/", true, "", "POST");
  CHECK(post.at("status") == 405);
  CHECK(post.at("headers").at("allow") == "GET");
  CHECK(t.request(green + "/objects/" + IndicatorId + "/", true, "", "DELETE").at("status") == 405);

  // A bulletin that arrives while the endpoint runs: served once the
  // archive has it (focal inbox here; focal listen in practice).
  send("green", "Later trend");
  runCliJson(concat(myArgs, {"inbox"}));
  CHECK(test_support::waitUntil(
      [&] { return t.get(green + "/objects/?match[type]=report").dump().find("Later trend") != std::string::npos; },
      std::chrono::seconds(30), std::chrono::milliseconds(200)));
  const auto stopped = taxii.stop();
  CHECK(stopped.exitCode == 0);
  CHECK_THAT(stopped.err, !Contains(stixId));  // every bulletin was served, none refused

  // With --include-red: the RED collection and its bulletin.
  TaxiiProcess red(concat(myArgs, {"taxii", "--listen", "127.0.0.1:0", "--user", "misp", "--password-file",
                                   pass.string(), "--include-red"}));
  const auto redStart = red.started();
  INFO(red.err());
  REQUIRE(redStart.has_value());
  CHECK(redStart->at("certificate_made") == false);  // the profile's, made by the first run
  CHECK(redStart->at("certificate_sha256") == start->at("certificate_sha256"));
  const std::string redDiscovery = redStart->at("discovery_url");
  const Taxii r{redDiscovery.substr(0, redDiscovery.find("/taxii2/")), redStart->at("certificate_file")};
  CHECK(r.get("/focal/collections/").at("collections").size() == 5);
  CHECK_THAT(r.get(std::string("/focal/collections/") + RedCollection + "/objects/").dump(),
             Contains("Red alert for the named recipients"));
}

TEST_CASE_METHOD(TaxiiDay, "focal taxii refuses a non-loopback address a readable password file and a short password",
                 "[integration][taxii]") {
  const auto taxiiArgs = [&](const fs::path& pass, const std::string& listen) {
    return concat(myArgs, {"taxii", "--listen", listen, "--user", "misp", "--password-file", pass.string()});
  };
  const auto good = passwordFile(home.path(), TaxiiPassword);

  const auto remote = runCliJson(taxiiArgs(good, "0.0.0.0:0"), 1);
  CHECK(remote.at("error").at("code") == "non-loopback");
  CHECK_THAT(remote.at("error").at("message").get<std::string>(), Contains("--allow-remote"));
  CHECK(runCliJson(taxiiArgs(good, "127.0.0.1"), 1).at("error").at("code") == "bad-listen");

  const auto readable = passwordFile(home.path(), TaxiiPassword, 0644);
  CHECK(runCliJson(taxiiArgs(readable, "127.0.0.1:0"), 1).at("error").at("code") == "file-mode");
  const auto shortPass = passwordFile(home.path(), "short", 0600);
  CHECK(runCliJson(taxiiArgs(shortPass, "127.0.0.1:0"), 1).at("error").at("code") == "weak-password");
  // None of these made a certificate.
  CHECK_FALSE(fs::exists(home.path() / "my" / "taxii"));
}

TEST_CASE_METHOD(TaxiiDay,
                 "focal taxii with the key agent's keys stops serving when the agent is locked and serves again after "
                 "unlock",
                 "[integration][taxii]") {
  TempDir runtime;
  runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm-cyber", "--tlp", "green", "--category", "trend", "--title",
                             "Agent trend", "--body", "served while unlocked"}));
  const std::map<std::string, std::string> withPassphrase{{"XDG_RUNTIME_DIR", runtime.path().string()},
                                                          {"FOCAL_PASSPHRASE", TestPassphrase}};
  const std::map<std::string, std::string> withoutPassphrase{{"XDG_RUNTIME_DIR", runtime.path().string()}};
  const auto my_ = [&](const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
    const auto r = runProcess(concat({FOCAL_CLI_PATH}, concat(myArgs, args)), env);
    INFO(r.out << r.err);
    CHECK(r.exitCode == 0);
  };
  my_({"unlock", "--for", "10m"}, withPassphrase);
  my_({"inbox"}, withoutPassphrase);

  const auto pass = passwordFile(home.path(), TaxiiPassword);
  // No passphrase in its environment: the keys can only be the agent's.
  TaxiiProcess taxii(concat(myArgs, {"taxii", "--listen", "127.0.0.1:0", "--user", "misp", "--password-file",
                                     pass.string()}),
                     withoutPassphrase);
  const auto start = taxii.started();
  INFO(taxii.err());
  REQUIRE(start.has_value());
  CHECK(start->at("key_agent") == true);
  CHECK(start->at("bulletin_count") == 1);
  const std::string discovery = start->at("discovery_url");
  const Taxii t{discovery.substr(0, discovery.find("/taxii2/")), start->at("certificate_file")};
  const auto objects = std::string("/focal/collections/") + GreenCollection + "/objects/";
  CHECK_THAT(t.get(objects).dump(), Contains("Agent trend"));

  my_({"lock"}, withoutPassphrase);
  json locked;
  CHECK(test_support::waitUntil(
      [&] {
        locked = t.request(objects);
        return locked.at("status") == 503;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(200)));
  CHECK_THAT(locked.at("body").at("description").get<std::string>(), Contains("focal unlock"));
  CHECK_THAT(locked.dump(), !Contains("Agent trend"));

  my_({"unlock", "--for", "10m"}, withPassphrase);
  CHECK(test_support::waitUntil([&] { return t.request(objects).at("status") == 200; }, std::chrono::seconds(30),
                                std::chrono::milliseconds(200)));
  CHECK_THAT(t.get(objects).dump(), Contains("Agent trend"));
  CHECK(taxii.stop().exitCode == 0);
  my_({"lock"}, withoutPassphrase);
}
