// Issue 19, findings 1 and 5, end to end with the real hub and CLI:
//  * a rotation from a stale key file (one an earlier rotation replaced) is
//    refused, naming the newer log entry, its date and the file holding the
//    current keys; rotate-key moves the profile on; every bulletin (sealed to
//    the first key, to the second, and the member's own sent copy) stays
//    readable with the current file; logins with a replaced or revoked key
//    say which and since when;
//  * one profile used by several key files: members send to each other,
//    read, reply and ack without a false verification failure, and a profile
//    in the pre-member layout keeps working after the upgrade.
#include "hub_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <regex>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

std::string errorMessage(const json& j) { return j.at("error").at("message").get<std::string>(); }

// Global options for a profile without --key (the profile's key, or one given after).
std::vector<std::string> profileArgs(const Hub& hub, const fs::path& profile) {
  return {"--hub", hub.address(), "--ca", hub.caFile().string(), "--profile-dir", profile.string(), "--timeout", "20"};
}

std::string sendTo(const std::vector<std::string>& senderArgs, const std::string& to, const std::string& text) {
  return runCliJson(concat(senderArgs, {"send", "--to", to, "--tlp", "green", "--category", "trend", "--title", text,
                                        "--body", text}))
      .at("bulletin_id")
      .get<std::string>();
}

bool hasDate(const std::string& text) { return std::regex_search(text, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)")); }

std::string abs(const fs::path& p) { return fs::absolute(p).lexically_normal().string(); }

// A --json refusal `code` whose message says which key (`which`: "identity"
// or "encryption") of the key file the log entry `entry` replaced, when, and
// where the current keys are (`current`).
void checkReplacedKey(const json& refusal, const std::string& code, const std::string& which, std::uint64_t entry,
                      const fs::path& current) {
  INFO(refusal.dump());
  CHECK(refusal.at("error").at("code") == code);
  const auto why = errorMessage(refusal);
  CHECK_THAT(why, Catch::Contains(which + " key of this key file was replaced at directory-log entry " +
                                  std::to_string(entry)));
  CHECK(hasDate(why));
  CHECK_THAT(why, Catch::Contains(abs(current)));
}

// Two members with key files who share one CLI profile directory: `base`
// addresses the hub with that profile and no --key, `aArgs` adds a's key.
struct SharedProfile {
  Hub hub;
  TempDir home;
  TestMember a = hub.createMember("sg-spf-cyber", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  TestMember b = hub.createMember("my-pdrm-cyber", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  fs::path profile = home.path() / "shared";
  std::vector<std::string> base = profileArgs(hub, profile);
  std::vector<std::string> aArgs = concat(base, {"--key", a.keyFile.string()});

  // Makes `key` the profile's own key file.
  void setProfileKey(const fs::path& key) const { runCliJson(concat(base, {"profile", "set", "--key", key.string()})); }
};

}  // namespace

TEST_CASE("Issue 19 finding 1: a stale key file cannot rotate, and every bulletin stays readable",
          "[integration][keys][rotation]") {
  Hub hub;
  TempDir home;
  auto th = hub.createMember("th-ttc", "TH", wire::Institution::LAW_ENFORCEMENT, true);
  auto sg = hub.createMember("sg-spf-cyber", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  const auto profile = home.path() / "th-profile";
  const auto thArgs = profileArgs(hub, profile);
  const auto sgArgs = hub.cliGlobals(sg.keyFile, home.path() / "sg");
  runCliJson(concat(thArgs, {"profile", "set", "--key", th.keyFile.string()}));

  const auto toFirst = sendTo(sgArgs, "th-ttc", "sealed to the first key");
  const auto ownFirst = sendTo(thArgs, "sg-spf-cyber", "sent by th with the first keys");

  // 1. rotate-key from the profile's key file: the profile now names the new file.
  const auto th2 = home.path() / "th-2.key";
  auto rot = runCliJson(concat(thArgs, {"rotate-key", "--out", th2.string(), "--kdf", "interactive"}));
  CHECK(rot.at("profile_updated") == true);
  CHECK(runCliJson(concat(thArgs, {"profile", "show"})).at("key_file") == abs(th2));
  const auto encRotation = rot.at("log_index").get<std::uint64_t>();

  // 2. a bulletin sealed to the th-2 key.
  const auto toSecond = sendTo(sgArgs, "th-ttc", "sealed to the second key");

  // 3. the old file cannot rotate: the entry, its date and th-2.key are named, nothing is written.
  const auto th3 = home.path() / "th-3.key";
  const auto staleArgs = concat(thArgs, {"--key", th.keyFile.string()});
  auto refused = runCliJson(concat(staleArgs, {"rotate-key", "--identity", "--out", th3.string(), "--kdf", "interactive"}), 1);
  checkReplacedKey(refused, "stale-key-file", "encryption", encRotation, th2);
  CHECK_FALSE(fs::exists(th3));
  CHECK_FALSE(fs::exists(th3.string() + ".pub"));
  // An encryption-only rotation from it is refused the same way.
  runCliJson(concat(staleArgs, {"rotate-key", "--out", th3.string(), "--kdf", "interactive"}), 1);
  // Nor can it acknowledge (the bulletin sealed to th-2 would leave the hub unread)...
  auto ack = runCliJson(concat(staleArgs, {"ack", toSecond}), 1);
  CHECK(ack.at("error").at("code") == "stale-key-file");
  // ...while other commands warn and go on.
  auto inbox = runCli(concat(staleArgs, {"--json", "inbox"}));
  CHECK(inbox.exitCode == 0);
  CHECK_THAT(inbox.err, Catch::Contains("warning") && Catch::Contains(abs(th2)));
  CHECK(json::parse(inbox.out).size() == 2);

  // 4. the current file rotates both keys; the profile follows.
  auto rot2 = runCliJson(concat(thArgs, {"rotate-key", "--identity", "--out", th3.string(), "--kdf", "interactive"}));
  CHECK(rot2.at("profile_updated") == true);
  const auto idRotation = rot2.at("log_index").get<std::uint64_t>();

  // 5. th-3 opens every bulletin: to the first key, to the second, its own copy.
  CHECK(runCliJson(concat(thArgs, {"read", toFirst})).at("body") == "sealed to the first key");
  CHECK(runCliJson(concat(thArgs, {"read", toSecond})).at("body") == "sealed to the second key");
  CHECK(runCliJson(concat(thArgs, {"read", ownFirst})).at("body") == "sent by th with the first keys");
  // Acknowledged, they stay readable from the cache.
  CHECK(runCliJson(concat(thArgs, {"ack", toFirst, toSecond})).at("removed") == 2);
  CHECK(runCliJson(concat(thArgs, {"read", toSecond})).at("body") == "sealed to the second key");
  CHECK(runCliJson(concat(thArgs, {"inbox"})).empty());

  // 6. logins with replaced identity keys say which entry replaced them, when, and where the current keys are.
  for (const auto& old : {th.keyFile, th2}) {
    auto login = runCliJson(concat(thArgs, {"--key", old.string(), "inbox"}), 2);
    checkReplacedKey(login, "unauthenticated", "identity", idRotation, th3);
  }
}

TEST_CASE("A login with a revoked key names the revocation, and a profile that has not seen it says so",
          "[integration][keys][rotation]") {
  Hub hub;
  TempDir home;
  auto my = hub.createMember("my-pdrm-cyber", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  // The member's own profile verified the log before the revocation...
  const auto own = hub.cliGlobals(my.keyFile, home.path() / "my");
  runCliJson(concat(own, {"directory"}));
  // ...an admin's profile, also used with the member's key file, sees it.
  const auto shared = home.path() / "shared";
  auto rev = runCliJson(concat(hub.cliGlobals(hub.adminKeyFile(), shared),
                               {"admin", "revoke", "my-pdrm-cyber", "--reason", "left the institution"}));
  const auto index = rev.at("log_index").get<std::uint64_t>();
  runCliJson(concat(hub.cliGlobals(hub.adminKeyFile(), shared), {"directory"}));  // the profile's log takes it in

  auto known = runCliJson(concat(hub.cliGlobals(my.keyFile, shared), {"inbox"}), 2);
  CHECK(known.at("error").at("code") == "revoked-key");
  const auto text = errorMessage(known);
  CHECK_THAT(text, Catch::Contains("the member was revoked at directory-log entry " + std::to_string(index)));
  CHECK_THAT(text, Catch::Contains("left the institution"));
  CHECK(hasDate(text));

  auto unseen = runCliJson(concat(own, {"inbox"}), 2);
  CHECK(unseen.at("error").at("code") == "revoked-key");
  CHECK_THAT(errorMessage(unseen), Catch::Contains("still names this key as current"));
}

TEST_CASE_METHOD(SharedProfile,
                 "Issue 19 finding 5: two members on one profile send, read, reply and ack without false failures",
                 "[integration][keys][profile]") {
  // The profile's own key is the admin's (an admin who is also a POC).
  setProfileKey(hub.adminKeyFile());
  const auto bArgs = concat(base, {"--key", b.keyFile.string()});

  const auto first = sendTo(aArgs, "my-pdrm-cyber", "from A to B");
  auto inbox = runCliJson(concat(bArgs, {"inbox"}));
  REQUIRE(inbox.size() == 1);
  CHECK(inbox[0].at("verified") == true);
  auto read = runCliJson(concat(bArgs, {"read", first}));
  CHECK(read.at("verified") == true);
  CHECK(read.at("body") == "from A to B");
  // The sender reads its own copy from the same profile.
  CHECK(runCliJson(concat(aArgs, {"read", first})).at("body") == "from A to B");

  auto reply = runCliJson(concat(bArgs, {"reply", first, "--body", "reply from B"}));
  const std::string replyId = reply.at("bulletin_id");
  auto aInbox = runCliJson(concat(aArgs, {"inbox"}));
  REQUIRE(aInbox.size() == 1);
  CHECK(aInbox[0].at("bulletin_id") == replyId);
  CHECK(aInbox[0].at("verified") == true);
  CHECK(runCliJson(concat(aArgs, {"read", replyId})).at("body") == "reply from B");
  CHECK(runCliJson(concat(bArgs, {"read", replyId})).at("body") == "reply from B");

  CHECK(runCliJson(concat(bArgs, {"ack", first})).at("removed") == 1);
  CHECK(runCliJson(concat(aArgs, {"ack", replyId})).at("removed") == 1);
  CHECK(runCliJson(concat(aArgs, {"status", first})).at("recipients")[0].at("state") == "acknowledged");
  // Acknowledged, both stay readable by both, each from its own cache.
  CHECK(runCliJson(concat(bArgs, {"read", first})).at("body") == "from A to B");
  CHECK(runCliJson(concat(aArgs, {"read", replyId})).at("body") == "reply from B");
  // The profile's own key (the admin) uses it too.
  const auto fromAdmin = sendTo(base, "sg-spf-cyber", "from the admin");
  CHECK(runCliJson(concat(aArgs, {"read", fromAdmin})).at("body") == "from the admin");

  auto show = runCliJson(concat(base, {"profile", "show"}));
  std::vector<std::string> members;
  for (const auto& m : show.at("members")) members.push_back(m.at("member_id"));
  CHECK(members.size() == 3);
}

TEST_CASE_METHOD(SharedProfile, "A profile in the pre-member layout keeps its cache and last-seq after the upgrade",
                 "[integration][keys][profile]") {
  setProfileKey(b.keyFile);

  const auto sent = sendTo(aArgs, "my-pdrm-cyber", "cached before the upgrade");
  CHECK(runCliJson(concat(base, {"read", sent})).at("body") == "cached before the upgrade");
  CHECK(runCliJson(concat(base, {"inbox"})).size() == 1);  // last-seq
  CHECK(runCliJson(concat(base, {"ack", sent})).at("removed") == 1);

  // Rebuild the old layout: one cache/ for every key file, state.toml at the top.
  const auto members = profile / "members";
  fs::create_directories(profile / "cache");
  for (const auto& m : {"sg-spf-cyber", "my-pdrm-cyber"}) {
    for (const auto& f : fs::directory_iterator(members / m / "cache")) {
      fs::copy_file(f.path(), profile / "cache" / f.path().filename(), fs::copy_options::overwrite_existing);
    }
  }
  REQUIRE(fs::exists(profile / "cache" / (sent + ".own")));
  fs::copy_file(members / "my-pdrm-cyber" / "state.toml", profile / "state.toml");
  const auto lastSeq = slurp(profile / "state.toml");
  fs::remove_all(members);

  // The acknowledged bulletin is only in the old cache: each member opens it.
  auto read = runCliJson(concat(base, {"read", sent}));
  CHECK(read.at("verified") == true);
  CHECK(read.at("body") == "cached before the upgrade");
  CHECK(runCliJson(concat(aArgs, {"read", sent})).at("body") == "cached before the upgrade");
  // The sender's own-copy record went to the sender only.
  CHECK(fs::exists(members / "sg-spf-cyber" / "cache" / (sent + ".own")));
  CHECK_FALSE(fs::exists(members / "my-pdrm-cyber" / "cache" / (sent + ".own")));
  // The old state moved under legacy/; last-seq went to the profile key's member.
  CHECK_FALSE(fs::exists(profile / "cache"));
  CHECK_FALSE(fs::exists(profile / "state.toml"));
  CHECK(fs::exists(profile / "legacy" / "cache"));
  CHECK(slurp(members / "my-pdrm-cyber" / "state.toml") == lastSeq);
}
