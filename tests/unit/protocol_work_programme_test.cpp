// The work programme's records and the working group's day syntax
// (protocol/work_programme.hpp, PROTOCOL.md §12.9-12.8): what reads, what
// is refused as malformed, and signatures over the exact bytes.
#include "protocol/work_programme.hpp"

#include "crypto/primitives.hpp"
#include "protocol/signing.hpp"

#include <capnp/message.h>
#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::protocol;

namespace {

crypto::MemberKeys keysOf(const std::string& id) {
  crypto::initialize();
  return crypto::MemberKeys::generate(id, 1'700'000'000'000);
}

ActionItemDraft itemDraft() {
  ActionItemDraft d;
  d.actionId = crypto::randomFixed<crypto::BulletinId>();
  d.recordId = crypto::randomFixed<crypto::BulletinId>();
  d.owner = "state:MY";
  d.dueDay = "2027-03-31";
  d.textHash = crypto::hash256(crypto::ByteView(std::vector<std::uint8_t>{1, 2, 3}));
  return d;
}

// An ActionItem written by hand, for fields makeActionItem never writes.
crypto::Bytes rawItem(const std::function<void(wire::ActionItem::Builder)>& fill) {
  capnp::MallocMessageBuilder m;
  auto a = m.initRoot<wire::ActionItem>();
  const auto d = itemDraft();
  a.setActionId(kjBytes(d.actionId.view()));
  a.setAuthorId("sg-asean-sec");
  a.setAuthorKey(kjBytes(crypto::Bytes(32, 7)));
  a.setRecordId(kjBytes(d.recordId->view()));
  a.setOwner("state:MY");
  a.setDueDay("2027-03-31");
  a.setTextHash(kjBytes(d.textHash.view()));
  fill(a);
  return toBytes(m);
}

}  // namespace

TEST_CASE("Days are real calendar days in YYYY-MM-DD and event dates may be ranges", "[protocol][work-programme]") {
  CHECK(parseDay("2027-03-31") == 1'806'451'200'000);
  CHECK(dayText(1'806'451'200'000 + DayMs - 1) == "2027-03-31");
  CHECK(parseDay("2028-02-29").has_value());
  for (const char* bad : {"2027-02-29", "2027-13-01", "2027-00-10", "2027-3-31", "27-03-31", "2027/03/31", "1999-12-31",
                          "2027-03-31 ", "", "2027-03-3x"}) {
    INFO(bad);
    CHECK_FALSE(parseDay(bad).has_value());
  }
  CHECK(validEventDate("2027-03-08"));
  CHECK(validEventDate("2027-03-08..2027-03-12"));
  CHECK(validEventDate("2027-03-08..2027-03-08"));
  CHECK_FALSE(validEventDate("2027-03-12..2027-03-08"));
  CHECK_FALSE(validEventDate("2027-03-08..") );
  CHECK_FALSE(validEventDate("next spring"));
  wire::ActionStatus s{};
  CHECK(parseActionStatus("in-progress", s));
  CHECK(s == wire::ActionStatus::IN_PROGRESS);
  CHECK(std::string(actionStatusName(wire::ActionStatus::DROPPED)) == "dropped");
  CHECK_FALSE(parseActionStatus("finished", s));
}

TEST_CASE("An action item and an update read back and verify only over their exact bytes",
          "[protocol][work-programme]") {
  const auto sec = keysOf("sg-asean-sec");
  const auto poc = keysOf("my-pdrm-cyber");
  const auto d = itemDraft();
  const auto item = makeActionItem(d, sec, 1'800'000'000'000);
  auto info = readActionItem(item.body);
  REQUIRE(info);
  CHECK(info->actionId == d.actionId);
  CHECK(info->authorId == "sg-asean-sec");
  CHECK(info->owner == "state:MY");
  CHECK(info->dueEndMs == *parseDay("2027-03-31") + DayMs);
  CHECK(info->recordId == d.recordId);
  CHECK_FALSE(info->meetingId);
  CHECK(info->bodyHash == crypto::hash256(crypto::ByteView(item.body)));
  CHECK(verifyActionItem(item.body, item.signature, *info));
  CHECK(owningState(info->owner, [](std::string_view) { return std::string("XX"); }) == "MY");
  CHECK(owningState("my-pdrm-cyber", [](std::string_view) { return std::string("MY"); }) == "MY");

  // Another context, another key, a flipped byte: refused.
  auto tampered = item.body;
  tampered.back() ^= 1;
  CHECK_FALSE(verifyActionItem(tampered, item.signature, *info));
  const auto asUpdate = crypto::sign(context::ActionUpdate, item.body, sec.identity.secretKey);
  CHECK_FALSE(verifyActionItem(item.body, asUpdate, *info));

  const auto update = makeActionUpdate({d.actionId, wire::ActionStatus::DONE, info->bodyHash, std::nullopt}, poc,
                                       1'800'000'000'001);
  auto u = readActionUpdate(update.body);
  REQUIRE(u);
  CHECK(u->status == wire::ActionStatus::DONE);
  CHECK(u->previous == info->bodyHash);
  CHECK_FALSE(u->noteHash);
  CHECK(verifyActionUpdate(update.body, update.signature, *u));
  // The item's signature does not pass for an update (domain separation).
  CHECK_FALSE(verifyActionUpdate(update.body, item.signature, *u));
  // An update never sets a status back to open.
  const auto reopen = makeActionUpdate({d.actionId, wire::ActionStatus::OPEN, info->bodyHash, std::nullopt}, poc, 1);
  CHECK_FALSE(readActionUpdate(reopen.body));
}

TEST_CASE("Malformed action items are refused naming the field", "[protocol][work-programme]") {
  auto refusal = [](const crypto::Bytes& body) {
    auto r = readActionItem(body);
    REQUIRE_FALSE(r);
    return r.error();
  };
  CHECK_THAT(refusal(rawItem([](auto a) { a.setActionId(kjBytes(crypto::Bytes(15, 1))); })), Catch::Contains("actionId"));
  CHECK_THAT(refusal(rawItem([](auto a) { a.setAuthorKey(kjBytes(crypto::Bytes(31, 1))); })), Catch::Contains("authorKey"));
  CHECK_THAT(refusal(rawItem([](auto a) { a.setAuthorId("Not An Id"); })), Catch::Contains("authorId"));
  CHECK_THAT(refusal(rawItem([](auto a) { a.setMeetingId(kjBytes(crypto::Bytes(16, 2))); })),
             Catch::Contains("exactly one"));
  CHECK_THAT(refusal(rawItem([](auto a) { a.setRecordId(kjBytes(crypto::Bytes())); })), Catch::Contains("exactly one"));
  CHECK_THAT(refusal(rawItem([](auto a) { a.setRecordId(kjBytes(crypto::Bytes(17, 2))); })), Catch::Contains("16 bytes"));
  for (const char* owner : {"state:my", "state:MYS", "members", "MY", ""}) {
    INFO(owner);
    CHECK_THAT(refusal(rawItem([&](auto a) { a.setOwner(owner); })), Catch::Contains("owner"));
  }
  CHECK_THAT(refusal(rawItem([](auto a) { a.setDueDay("2027-02-30"); })), Catch::Contains("dueDay"));
  CHECK_THAT(refusal(rawItem([](auto a) { a.setTextHash(kjBytes(crypto::Bytes(31, 1))); })), Catch::Contains("textHash"));
  CHECK_THAT(refusal(crypto::Bytes{1, 2, 3}), Catch::Contains("does not parse"));
  CHECK(readActionItem(rawItem([](auto) {})));
}
