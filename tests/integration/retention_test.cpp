// Retention through the real hub (focal.toml [retention], issue 22): with
// the hub's test clock moved past the limits, the hub's own purge pass
// removes exactly what the policy says, keeps the directory log and the
// audit trail (adding one audited row per batch), keeps an attachment blob
// another bulletin still refers to, tells the sender `expired`, and a
// recipient who had not fetched the bulletin no longer gets it; one who
// asks for its attachment is told it expired. `focald purge --dry-run`
// reports the same beforehand; `focald purge` refuses while the hub runs.
#include "hub_fixture.hpp"

#include "client/client_error.hpp"
#include "protocol/bulletin.hpp"
#include "tests/support/deadline.hpp"

#include <catch2/catch.hpp>

#include <ctime>
#include <fstream>

using namespace focal;
using namespace focal::test;

namespace {

constexpr std::int64_t DayMs = 24ll * 60 * 60 * 1000;

// focal.toml's [retention.LEVEL] as init wrote it (the defaults), replaced.
void setRetention(const fs::path& config, const std::string& level, std::uint32_t acknowledged,
                  std::uint32_t unacknowledged) {
  std::string text = slurp(config);
  const std::string from = "[retention." + level + "]\nacknowledged_days = 365\nunacknowledged_days = 730\n";
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(),
               "[retention." + level + "]\nacknowledged_days = " + std::to_string(acknowledged) +
                   "\nunacknowledged_days = " + std::to_string(unacknowledged) + "\n");
  std::ofstream(config, std::ios::binary | std::ios::trunc) << text;
}

std::string isoUtc(std::int64_t ms) {
  const auto t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

TEST_CASE("Retention purges exactly what the policy says and the sender's status says expired",
          "[integration][retention]") {
  Hub hub{HubOptions{.limits = {}, .testClock = true}};
  TempDir home;
  auto a = hub.createMember("sg-spf", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  auto b = hub.createMember("my-pdrm", "MY");
  auto c = hub.createMember("th-tcsd", "TH");
  // AMBER: acknowledged after 30 days, unacknowledged after 90.
  // GREEN: acknowledged or not, after 30 days.
  hub.stop();
  setRetention(hub.dir() / "focal.toml", "amber", 30, 90);
  setRetention(hub.dir() / "focal.toml", "green", 30, 30);
  hub.start();
  const std::int64_t t0 = hub.clockMs();

  auto sc = hub.connect(a.keys);
  const auto file = randomAttachment(home.path(), "iocs.bin", 300 * 1024, 3);
  sc->uploadBlob(file.blob.reader(), file.blob.size(), file.blob.hash());
  // A: AMBER with the attachment, acknowledged by its recipient: purged after 30 days.
  auto draftA = draftTo({&b.keys}, "acknowledged amber", wire::Tlp::AMBER);
  draftA.attachments.push_back(file.entry("application/octet-stream"));
  const auto sealedA = sealDraft(draftA, a.keys, file.contentKey);
  sc->send(sealedA);
  // D: AMBER with the same attachment blob, unacknowledged: kept (90 days), and so is the blob.
  auto draftD = draftTo({&b.keys}, "unacknowledged amber", wire::Tlp::AMBER);
  draftD.attachments.push_back(file.entry("application/octet-stream"));
  const auto sealedD = sealDraft(draftD, a.keys, file.contentKey);
  sc->send(sealedD);
  // B: GREEN to b and c, never acknowledged, and c never fetches it: purged after 30 days.
  const auto sealedB = sealTo(a.keys, {&b.keys, &c.keys}, "unacknowledged green", "body", wire::Tlp::GREEN);
  sc->send(sealedB);
  {
    auto rc = hub.connect(b.keys);
    REQUIRE(rc->fetch(0).items.size() == 3);
    const std::vector<crypto::BulletinId> ack{sealedA.id};
    CHECK(rc->ack(ack) == 1);
  }
  // C: GREEN, sent a day later: one day inside the limit when A and B go.
  hub.advanceClock(DayMs);
  auto keyC = crypto::ContentKey::random();
  auto sealedC = protocol::sealBulletin(draftTo({&b.keys}, "green inside the limit", wire::Tlp::GREEN), a.keys, keyC,
                                        hub.clockMs());
  REQUIRE(sealedC);
  sc->send(*sealedC);

  auto admin = hub.connect(hub.adminKeys());
  const auto logBefore = admin->log(0).entries.size();
  const auto auditBefore = admin->audit(0).size();
  const std::int64_t purgeAt = t0 + 30 * DayMs + DayMs / 2;

  // The dry run (the hub may run) shows what will go at that time, per level.
  const auto dry = runProcess({FOCALD_PATH, "purge", hub.dir().string(), "--dry-run", "--as-of", isoUtc(purgeAt), "--json"});
  INFO(dry.out << dry.err);
  REQUIRE(dry.exitCode == 0);
  const auto due = nlohmann::json::parse(dry.out);
  CHECK(due.at("dry_run") == true);
  CHECK(due.at("bulletins") == 2);
  CHECK(due.at("attachments") == 0);  // D still refers to the blob
  for (const auto& level : due.at("levels")) {
    const std::string name = level.at("level");
    CHECK(level.at("bulletins") == (name == "amber" || name == "green" ? 1 : 0));
    if (name == "amber") CHECK(level.at("acknowledged") == 1);
    if (name == "green") CHECK(level.at("acknowledged") == 0);
  }
  // The real purge is the running hub's; offline it refuses.
  const auto refused = runProcess({FOCALD_PATH, "purge", hub.dir().string()});
  CHECK(refused.exitCode == 2);
  CHECK_THAT(refused.err, Catch::Contains("needs the hub stopped"));

  // Past the limits: the hub's own pass purges A and B.
  hub.setClockMs(purgeAt);
  std::int64_t purgedAt = 0;
  const bool expired = test_support::waitUntil(
      [&] {
        (void)sc->status(sealedB.id, &purgedAt);
        return purgedAt != 0;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(50));
  REQUIRE(expired);
  CHECK(purgedAt == purgeAt);
  std::int64_t aPurged = 0;
  CHECK(sc->status(sealedA.id, &aPurged).empty());
  CHECK(aPurged == purgeAt);
  std::int64_t kept = -1;
  CHECK(sc->status(sealedC->id, &kept).size() == 1);
  CHECK(kept == 0);
  CHECK(sc->status(sealedD.id, &kept).size() == 1);
  CHECK(kept == 0);

  // The sender's focal status says expired.
  const auto args = hub.cliGlobals(a.keyFile, home.path() / "sg-profile");
  const auto st = runCliJson(concat(args, {"status", crypto::toHex(sealedA.id)}));
  CHECK(st.at("expired") == true);
  CHECK(st.at("purged_at").is_string());
  CHECK(st.at("recipients").empty());
  const auto text = runCli(concat(args, {"status", crypto::toHex(sealedA.id)}));
  CHECK(text.exitCode == 0);
  CHECK_THAT(text.out, Catch::Contains("expired") && Catch::Contains("retention policy"));

  // c, who never fetched B, does not get it anymore.
  CHECK(hub.connect(c.keys)->fetch(0).items.empty());
  // b's queue: D and C; A's attachment is gone and b is told why; D's (the
  // same blob) still downloads.
  auto rb = hub.connect(b.keys);
  CHECK(rb->fetch(0).items.size() == 2);
  const auto gone = hubRefusal([&] {
    rb->downloadBlob(sealedA.id, file.blob.hash(), file.blob.size(), [](crypto::ByteView) {});
  });
  CHECK(gone.code() == wire::ErrorCode::EXPIRED);
  CHECK_THAT(gone.hubMessage(), Catch::Contains("retention policy"));
  std::uint64_t got = 0;
  rb->downloadBlob(sealedD.id, file.blob.hash(), file.blob.size(), [&](crypto::ByteView bytes) { got += bytes.size(); });
  CHECK(got == file.blob.size());
  // A purged id is never accepted again (the hub's clock back where A's
  // createdAt is fresh, so the only reason left is the tombstone).
  hub.setClockMs(t0 + 1000);
  CHECK(hubRefusal([&] { sc->send(sealedA); }).code() == wire::ErrorCode::EXPIRED);
  hub.setClockMs(purgeAt);

  // The log is untouched; the audit trail keeps every row and adds the batch, counts only.
  CHECK(admin->log(0).entries.size() == logBefore);
  const auto audit = admin->audit(0);
  REQUIRE(audit.size() > auditBefore);
  std::size_t purges = 0;
  for (const auto& row : audit) {
    if (row.event != "retention.purge") continue;
    ++purges;
    CHECK_THAT(row.detail, Catch::Contains("amber=1") && Catch::Contains("green=1"));
    CHECK_THAT(row.detail, !Catch::Contains(crypto::toHex(sealedA.id)));
  }
  CHECK(purges == 1);
  const auto verify = runCliJson(concat(args, {"verify-log"}));
  CHECK(verify.at("verified") == true);

  // Offline on the stopped hub: nothing more is due now.
  rb.reset();
  sc.reset();
  admin.reset();
  hub.stop();
  const auto offline = runProcess({FOCALD_PATH, "purge", hub.dir().string(), "--json"});
  INFO(offline.out << offline.err);
  CHECK(offline.exitCode == 0);
  CHECK(nlohmann::json::parse(offline.out).at("bulletins") == 0);
}
