// The store boundary's write half: typed commands submitted to the commit
// queue run in the writer's transaction, reply with their typed result only
// after COMMIT, carry their own write class, and a refused command rolls
// back only itself.
#include "server/commit_queue.hpp"
#include "server/store_commands.hpp"
#include "server_test_support.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <optional>

using namespace focal;
using namespace focal::server;
using namespace focal::server::testing;

namespace {

constexpr std::size_t Unlimited = 1 << 30;

static_assert(store::writeClassOf<store::Acknowledge>() == store::WriteClass::Essential);
static_assert(store::writeClassOf<store::MarkDelivered>() == store::WriteClass::Essential);
static_assert(store::writeClassOf<store::StoreBulletin>() == store::WriteClass::Normal);
static_assert(std::is_same_v<CommitQueue::WriteClass, store::WriteClass>);

// A hub database, its writer (not started) and an io-thread reader.
struct StoreUnderTest {
  TempDir dir;
  std::filesystem::path path = createHubDatabase(dir);
  CommitQueue queue{path, CommitQueue::Options{}};
  Store reader = openStore(path);
};

// Submits one command and runs `io` until its reply arrives.
template <class C>
Result<typename C::Reply> run(CommitQueue& queue, C command) {
  net::io_context io;
  std::optional<Result<typename C::Reply>> reply;
  queue.submit(std::move(command), net::bind_executor(io, [&reply](Result<typename C::Reply> r) {
                 reply.emplace(std::move(r));
               }));
  io.run();
  REQUIRE(reply.has_value());
  return std::move(*reply);
}

}  // namespace

TEST_CASE("store commands through the commit queue: typed replies after commit, visible to the reader",
          "[server][store][commit]") {
  StoreUnderTest t;
  auto& queue = t.queue;
  queue.start();

  auto bulletin = std::make_shared<const NewBulletin>(makeBulletin(1, "sg-poc", {"my-poc", "th-poc"}));
  auto sent = run(queue, store::StoreBulletin{bulletin});
  REQUIRE(sent.ok());
  CHECK_FALSE(sent->alreadyAccepted);
  REQUIRE(sent->queued.size() == 2);
  // The reply came after COMMIT: the io thread's read connection sees it.
  auto page = t.reader.fetch("my-poc", 0, 10, Unlimited);
  REQUIRE(page.items.size() == 1);
  CHECK(page.items[0].seq == sent->queued[0].seq);

  auto marks = std::make_shared<const std::vector<DeliveredMark>>(
      std::vector<DeliveredMark>{{sent->queued[0].seq, 1'000'100}});
  REQUIRE(run(queue, store::MarkDelivered{marks}).ok());

  auto acked = run(queue, store::Acknowledge{"my-poc", {bulletin->id}, {}, crypto::Bytes{1, 2, 3},
                                             filled<crypto::Signature>(4), 1'000'200});
  REQUIRE(acked.ok());
  CHECK(*acked == 1);
  // A replay removes nothing (and keeps no second proof).
  auto again = run(queue, store::Acknowledge{"my-poc", {bulletin->id}, {}, crypto::Bytes{1, 2, 3},
                                             filled<crypto::Signature>(4), 1'000'300});
  REQUIRE(again.ok());
  CHECK(*again == 0);

  auto status = t.reader.status(bulletin->id);
  REQUIRE(status);
  REQUIRE(status->recipients.size() == 2);
  CHECK(status->recipients[0].memberId == "my-poc");
  CHECK(status->recipients[0].deliveredAtMs == 1'000'100);
  CHECK(status->recipients[0].ackedAtMs == 1'000'200);
  CHECK(status->recipients[1].ackedAtMs == 0);
  queue.stop();
  auto db = sqlite::Database::open(t.path, sqlite::Database::Mode::ReadOnly);
  auto s = db.prepare("SELECT count(*) FROM acks");
  REQUIRE(s->step());
  CHECK(s->columnInt(0) == 1);
}

TEST_CASE("a refused store command rolls back only itself and replies with its refusal",
          "[server][store][commit]") {
  StoreUnderTest t;
  net::io_context io;
  std::optional<Result<SendOutcome>> first, clash, other;
  auto b1 = std::make_shared<const NewBulletin>(makeBulletin(1, "sg-poc", {"my-poc"}));
  auto changed = makeBulletin(1, "sg-poc", {"th-poc"});
  changed.ciphertext.push_back(0);  // the same id with other bytes
  auto b1Changed = std::make_shared<const NewBulletin>(std::move(changed));
  auto b2 = std::make_shared<const NewBulletin>(makeBulletin(2, "sg-poc", {"th-poc"}));
  // Queued before the writer starts: one group, one transaction.
  t.queue.submit(store::StoreBulletin{b1}, net::bind_executor(io, [&](Result<SendOutcome> r) { first.emplace(r); }));
  t.queue.submit(store::StoreBulletin{b1Changed}, net::bind_executor(io, [&](Result<SendOutcome> r) { clash.emplace(r); }));
  t.queue.submit(store::StoreBulletin{b2}, net::bind_executor(io, [&](Result<SendOutcome> r) { other.emplace(r); }));
  t.queue.start();
  io.run();
  REQUIRE(first);
  REQUIRE(clash);
  REQUIRE(other);
  CHECK(first->ok());
  REQUIRE_FALSE(clash->ok());
  CHECK(clash->error().code == wire::ErrorCode::DUPLICATE);
  CHECK(other->ok());
  CHECK(t.queue.commits() == 1);
  CHECK(t.reader.fetch("my-poc", 0, 10, Unlimited).items.size() == 1);
  CHECK(t.reader.fetch("th-poc", 0, 10, Unlimited).items.size() == 1);  // bulletin 2 only
}
