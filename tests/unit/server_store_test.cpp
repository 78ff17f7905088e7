// The store: a bulletin is stored once and queued per recipient; resends
// are idempotent and conflicting resends refused; acknowledgements remove
// from the queue; fetch pages oldest first; everything survives a reopen;
// uploads resume, verify and stay private to their owner.
#include "server/store.hpp"
#include "server_test_support.hpp"

#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::server;
using namespace focal::server::testing;

namespace {

std::int64_t count(const std::filesystem::path& db, const char* sql) {
  auto c = sqlite::Database::open(db, sqlite::Database::Mode::ReadOnly);
  auto s = c.prepare(sql);
  REQUIRE(s->step());
  return s->columnInt(0);
}

Result<SendOutcome> insert(const std::filesystem::path& db, const NewBulletin& b) {
  return writeTxn(db, [&](sqlite::Database& c) { return Store::insertBulletin(c, b); });
}

std::vector<std::int64_t> seqsOf(const FetchPage& page) {
  std::vector<std::int64_t> out;
  for (const auto& i : page.items) out.push_back(i.seq);
  return out;
}

constexpr std::size_t Unlimited = 1 << 30;

// A forward record of bulletin `bulletinSeed` by `forwarder`, as the
// handler would store it (recipients added by the caller).
NewForward makeForward(std::uint8_t forwardSeed, std::uint8_t bulletinSeed, const std::string& forwarder) {
  NewForward f;
  f.forwardId = filled<crypto::BulletinId>(forwardSeed);
  f.bulletinId = filled<crypto::BulletinId>(bulletinSeed);
  f.forwarderId = forwarder;
  f.record = StoredRecord{crypto::Bytes{1}, crypto::Bytes(64, 2)};
  f.recordedAtMs = 2'000'000;
  return f;
}

}  // namespace

TEST_CASE("a bulletin is stored once and queued once per recipient", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  auto b = makeBulletin(1, "sg-poc", {"my-poc", "th-poc", "vn-poc"});
  auto r = insert(db, b);
  REQUIRE(r.ok());
  CHECK_FALSE(r->alreadyAccepted);
  REQUIRE(r->queued.size() == 3);
  CHECK(r->queued[0].memberId == "my-poc");
  CHECK(r->queued[0].seq < r->queued[1].seq);
  CHECK(count(db, "SELECT count(*) FROM bulletins") == 1);
  CHECK(count(db, "SELECT count(*) FROM deliveries") == 3);

  auto store = openStore(db);
  auto page = store.fetch("th-poc", 0, 10, Unlimited);
  REQUIRE(page.items.size() == 1);
  CHECK(page.items[0].header == b.header);
  CHECK(page.items[0].ciphertext == b.ciphertext);
  CHECK(page.items[0].signature == crypto::Bytes(b.signature.bytes.begin(), b.signature.bytes.end()));
  CHECK(store.fetch("sg-poc", 0, 10, Unlimited).items.empty());  // the sender is not a recipient
}

TEST_CASE("an identical resend is accepted again without a second copy", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  auto b = makeBulletin(2, "sg-poc", {"my-poc"}, 5000);
  REQUIRE(insert(db, b).ok());
  auto again = makeBulletin(2, "sg-poc", {"my-poc"}, 9000);  // same bytes, later arrival
  auto r = insert(db, again);
  REQUIRE(r.ok());
  CHECK(r->alreadyAccepted);
  CHECK(r->acceptedAtMs == 5000);  // the first acceptance time
  CHECK(r->queued.empty());
  CHECK(count(db, "SELECT count(*) FROM bulletins") == 1);
  CHECK(count(db, "SELECT count(*) FROM deliveries") == 1);
}

TEST_CASE("the same bulletin id with different bytes is refused as a duplicate", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  REQUIRE(insert(db, makeBulletin(3, "sg-poc", {"my-poc"})).ok());

  auto otherCiphertext = makeBulletin(3, "sg-poc", {"my-poc"});
  otherCiphertext.ciphertext.back() ^= 1;
  auto r = insert(db, otherCiphertext);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == wire::ErrorCode::DUPLICATE);

  auto otherSignature = makeBulletin(3, "sg-poc", {"my-poc"});
  otherSignature.signature.bytes[0] ^= 1;
  CHECK(insert(db, otherSignature).error().code == wire::ErrorCode::DUPLICATE);

  auto otherHeader = makeBulletin(3, "sg-poc", {"my-poc", "th-poc"});
  otherHeader.header.push_back(0);
  CHECK(insert(db, otherHeader).error().code == wire::ErrorCode::DUPLICATE);
  CHECK(count(db, "SELECT count(*) FROM deliveries") == 1);
}

TEST_CASE("acknowledging removes a bulletin from that member's queue only", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  auto a = makeBulletin(10, "sg-poc", {"my-poc", "th-poc"});
  auto b = makeBulletin(11, "sg-poc", {"my-poc"});
  REQUIRE(insert(db, a).ok());
  REQUIRE(insert(db, b).ok());

  std::vector<crypto::BulletinId> ids{a.id, filled<crypto::BulletinId>(99)};  // one unknown id
  auto removed = writeTxn(db, [&](sqlite::Database& c) { return Store::acknowledge(c, "my-poc", ids, 7000); });
  CHECK(removed == 1);
  // Acknowledging again changes nothing.
  CHECK(writeTxn(db, [&](sqlite::Database& c) { return Store::acknowledge(c, "my-poc", ids, 7001); }) == 0);
  // Another member's ack of the same id does not touch my-poc's queue.
  std::vector<crypto::BulletinId> bIds{b.id};
  CHECK(writeTxn(db, [&](sqlite::Database& c) { return Store::acknowledge(c, "th-poc", bIds, 7002); }) == 0);

  auto store = openStore(db);
  auto mine = store.fetch("my-poc", 0, 10, Unlimited);
  REQUIRE(mine.items.size() == 1);
  CHECK(mine.items[0].header == b.header);
  CHECK(store.fetch("th-poc", 0, 10, Unlimited).items.size() == 1);  // th-poc has not acknowledged

  auto st = store.status(a.id);
  REQUIRE(st);
  CHECK(st->senderId == "sg-poc");
  REQUIRE(st->recipients.size() == 2);
  CHECK(st->recipients[0].memberId == "my-poc");
  CHECK(st->recipients[0].ackedAtMs == 7000);
  CHECK(st->recipients[1].ackedAtMs == 0);
}

TEST_CASE("a long ack list acknowledges every named entry, across its chunks, and nothing else", "[server][store]") {
  // 16 ids per statement, the rest one by one: the list below spans two
  // full chunks (each with a duplicate or an unknown id) and a remainder
  // that repeats an id of the first chunk.
  TempDir dir;
  const auto db = createHubDatabase(dir);
  std::vector<NewBulletin> a;
  for (std::uint8_t i = 0; i < 36; ++i) {
    a.push_back(makeBulletin(static_cast<std::uint8_t>(100 + i), "sg-poc", {"my-poc", "th-poc"}));
    REQUIRE(insert(db, a.back()).ok());
  }
  std::vector<crypto::BulletinId> ids;
  for (int i = 0; i < 15; ++i) ids.push_back(a[i].id);
  ids.push_back(a[2].id);  // a duplicate inside the first chunk
  for (int i = 15; i < 30; ++i) ids.push_back(a[i].id);
  ids.push_back(filled<crypto::BulletinId>(250));  // unknown, in the second chunk
  for (int i = 30; i < 34; ++i) ids.push_back(a[i].id);
  ids.push_back(a[0].id);                          // repeats an id of the first chunk
  ids.push_back(filled<crypto::BulletinId>(251));  // unknown, in the remainder
  REQUIRE(ids.size() == 38);

  CHECK(writeTxn(db, [&](sqlite::Database& c) { return Store::acknowledge(c, "my-poc", ids, 7000); }) == 34);
  CHECK(writeTxn(db, [&](sqlite::Database& c) { return Store::acknowledge(c, "my-poc", ids, 7001); }) == 0);

  auto store = openStore(db);
  auto mine = store.fetch("my-poc", 0, 100, Unlimited);
  REQUIRE(mine.items.size() == 2);  // a[34] and a[35], never named
  CHECK(mine.items[0].header == a[34].header);
  CHECK(mine.items[1].header == a[35].header);
  CHECK(store.fetch("th-poc", 0, 100, Unlimited).items.size() == 36);  // th-poc's queue untouched
  for (int i : {0, 15, 29, 33}) {
    auto st = store.status(a[i].id);
    REQUIRE(st);
    REQUIRE(st->recipients.size() == 2);
    CHECK(st->recipients[0].ackedAtMs == 7000);  // the first ack's time, not the repeat's
    CHECK(st->recipients[1].ackedAtMs == 0);
  }
}

TEST_CASE("fetch pages oldest first, after a sequence number, within a count and a byte budget", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  for (std::uint8_t i = 0; i < 7; ++i) REQUIRE(insert(db, makeBulletin(20 + i, "sg-poc", {"my-poc"})).ok());
  auto store = openStore(db);

  auto first = store.fetch("my-poc", 0, 3, Unlimited);
  REQUIRE(first.items.size() == 3);
  CHECK(first.more);
  CHECK(std::is_sorted(first.items.begin(), first.items.end(), [](auto& x, auto& y) { return x.seq < y.seq; }));
  CHECK(first.items[0].header == makeBulletin(20, "", {}).header);

  auto second = store.fetch("my-poc", first.items.back().seq, 3, Unlimited);
  REQUIRE(second.items.size() == 3);
  CHECK(second.items.front().seq > first.items.back().seq);
  CHECK(second.more);
  auto third = store.fetch("my-poc", second.items.back().seq, 3, Unlimited);
  CHECK(third.items.size() == 1);
  CHECK_FALSE(third.more);

  // Byte budget: each item is ~ 100 + 64 + 2xx bytes + overhead; 1000 bytes
  // hold two; the page still says more remain.
  auto budget = store.fetch("my-poc", 0, 100, 1000);
  CHECK(budget.items.size() == 2);
  CHECK(budget.more);
  // A budget smaller than one item still returns that item.
  CHECK(store.fetch("my-poc", 0, 100, 10).items.size() == 1);
}

TEST_CASE("the queue survives closing and reopening the database", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  REQUIRE(insert(db, makeBulletin(30, "sg-poc", {"my-poc"})).ok());
  REQUIRE(insert(db, makeBulletin(31, "sg-poc", {"my-poc"})).ok());
  std::vector<std::int64_t> before;
  {
    auto store = openStore(db);
    before = seqsOf(store.fetch("my-poc", 0, 10, Unlimited));
  }
  auto reopened = openStore(db);
  Store::checkSchema(reopened.database());
  CHECK(seqsOf(reopened.fetch("my-poc", 0, 10, Unlimited)) == before);
  CHECK(before.size() == 2);
}

TEST_CASE("delivered marks are set once and reported by status", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  auto b = makeBulletin(40, "sg-poc", {"my-poc", "th-poc"});
  auto r = insert(db, b);
  REQUIRE(r.ok());
  std::vector<std::int64_t> seqs{r->queued[0].seq};
  writeTxn(db, [&](sqlite::Database& c) { Store::markDelivered(c, seqs, 100); return 0; });
  writeTxn(db, [&](sqlite::Database& c) { Store::markDelivered(c, seqs, 200); return 0; });
  auto st = openStore(db).status(b.id);
  REQUIRE(st);
  CHECK(st->recipients[0].deliveredAtMs == 100);  // the first delivery time is kept
  CHECK(st->recipients[1].deliveredAtMs == 0);
  CHECK_FALSE(openStore(db).status(filled<crypto::BulletinId>(77)));
}

TEST_CASE("a long list of delivered marks sets every named entry, across its chunks, and nothing else",
          "[server][store]") {
  // 16 seqs per statement, the rest one by one: two full chunks (one with a
  // repeated seq, one with a seq that does not exist) and a remainder that
  // repeats a seq of the first chunk, with one entry already marked.
  TempDir dir;
  const auto db = createHubDatabase(dir);
  std::vector<NewBulletin> a;
  std::vector<std::int64_t> mine, theirs;
  for (std::uint8_t i = 0; i < 36; ++i) {
    a.push_back(makeBulletin(static_cast<std::uint8_t>(100 + i), "sg-poc", {"my-poc", "th-poc"}));
    auto r = insert(db, a.back());
    REQUIRE(r.ok());
    mine.push_back(r->queued[0].seq);
    theirs.push_back(r->queued[1].seq);
  }
  const std::vector<std::int64_t> first{mine[5]};
  writeTxn(db, [&](sqlite::Database& c) { Store::markDelivered(c, first, 50); return 0; });

  std::vector<std::int64_t> seqs;
  for (int i = 0; i < 15; ++i) seqs.push_back(mine[i]);
  seqs.push_back(mine[3]);  // repeated inside the first chunk
  for (int i = 15; i < 30; ++i) seqs.push_back(mine[i]);
  seqs.push_back(theirs.back() + 1000);  // no such entry, in the second chunk
  for (int i = 30; i < 34; ++i) seqs.push_back(mine[i]);
  seqs.push_back(mine[0]);  // repeats a seq of the first chunk
  REQUIRE(seqs.size() == 37);
  writeTxn(db, [&](sqlite::Database& c) { Store::markDelivered(c, seqs, 100); return 0; });

  auto store = openStore(db);
  for (int i = 0; i < 36; ++i) {
    auto st = store.status(a[i].id);
    REQUIRE(st);
    REQUIRE(st->recipients.size() == 2);
    INFO("bulletin " << i);
    CHECK(st->recipients[0].deliveredAtMs == (i == 5 ? 50 : i < 34 ? 100 : 0));
    CHECK(st->recipients[1].deliveredAtMs == 0);  // th-poc's entries never named
  }
}

TEST_CASE("attachments must be completed uploads of the sender, of the declared size", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  const crypto::Bytes blob(1000, 0x42);
  const auto hash = crypto::hash256(blob);

  auto b = makeBulletin(50, "sg-poc", {"my-poc"});
  b.attachments.push_back(NewBulletin::Attachment{hash, blob.size()});
  CHECK(insert(db, b).error().code == wire::ErrorCode::NOT_FOUND);  // nothing uploaded

  auto up = writeTxn(db, [&](sqlite::Database& c) {
    return Store::beginUpload(c, "sg-poc", hash, blob.size(), 1, 16);
  });
  REQUIRE(up.ok());
  CHECK(insert(db, b).error().code == wire::ErrorCode::NOT_FOUND);  // not complete yet
  auto done = writeTxn(db, [&](sqlite::Database& c) {
    return Store::appendChunk(c, up->id, "sg-poc", 0, blob, true);
  });
  REQUIRE(done.ok());
  CHECK(done->complete);

  auto wrongSize = b;
  wrongSize.attachments[0].size = 999;
  CHECK(insert(db, wrongSize).error().code == wire::ErrorCode::INVALID_REQUEST);

  auto otherSender = makeBulletin(51, "th-poc", {"my-poc"});
  otherSender.attachments = b.attachments;
  CHECK(insert(db, otherSender).error().code == wire::ErrorCode::NOT_FOUND);  // someone else's upload

  REQUIRE(insert(db, b).ok());
  auto store = openStore(db);
  auto slice = store.download("my-poc", b.id, hash, 10, 20);
  REQUIRE(slice.ok());
  CHECK(slice->total == 1000);
  CHECK(slice->data == crypto::Bytes(20, 0x42));
  // Neither sender nor recipient: same answer as a missing bulletin.
  CHECK(store.download("vn-poc", b.id, hash, 0, 20).error().code == wire::ErrorCode::NOT_FOUND);
  CHECK(store.download("sg-poc", b.id, hash, 0, 20).ok());
  CHECK(store.download("my-poc", b.id, crypto::hash256(crypto::Bytes{1}), 0, 20).error().code ==
        wire::ErrorCode::NOT_FOUND);
  CHECK(store.download("my-poc", b.id, hash, 1001, 20).error().code == wire::ErrorCode::INVALID_REQUEST);
  CHECK(store.download("my-poc", b.id, hash, 1000, 20)->data.empty());
}

TEST_CASE("an upload resumes at the stored offset and a download spans chunks", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  crypto::Bytes blob(3000);
  for (std::size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<std::uint8_t>(i * 7);
  const auto hash = crypto::hash256(blob);
  const crypto::ByteView all(blob);

  auto up = writeTxn(db, [&](sqlite::Database& c) { return Store::beginUpload(c, "sg-poc", hash, 3000, 1, 16); });
  REQUIRE(up.ok());
  REQUIRE(writeTxn(db, [&](sqlite::Database& c) {
            return Store::appendChunk(c, up->id, "sg-poc", 0, all.subspan(0, 1000), false);
          }).ok());
  // Resume: same owner and hash give the same upload with the stored offset.
  auto resumed = writeTxn(db, [&](sqlite::Database& c) { return Store::beginUpload(c, "sg-poc", hash, 3000, 2, 16); });
  REQUIRE(resumed.ok());
  CHECK(resumed->id == up->id);
  CHECK(resumed->received == 1000);
  // A different size for the same blob is refused.
  CHECK(writeTxn(db, [&](sqlite::Database& c) { return Store::beginUpload(c, "sg-poc", hash, 3001, 2, 16); })
            .error()
            .code == wire::ErrorCode::INVALID_REQUEST);
  // Out-of-order, foreign and overlong chunks are refused.
  CHECK(writeTxn(db, [&](sqlite::Database& c) {
          return Store::appendChunk(c, up->id, "sg-poc", 2000, all.subspan(2000, 1000), true);
        }).error().code == wire::ErrorCode::INVALID_REQUEST);
  CHECK(writeTxn(db, [&](sqlite::Database& c) {
          return Store::appendChunk(c, up->id, "th-poc", 1000, all.subspan(1000, 1000), false);
        }).error().code == wire::ErrorCode::NOT_FOUND);
  CHECK(writeTxn(db, [&](sqlite::Database& c) {
          crypto::Bytes tooMuch(2001, 0);
          return Store::appendChunk(c, up->id, "sg-poc", 1000, tooMuch, true);
        }).error().code == wire::ErrorCode::INVALID_REQUEST);

  REQUIRE(writeTxn(db, [&](sqlite::Database& c) {
            return Store::appendChunk(c, up->id, "sg-poc", 1000, all.subspan(1000, 1000), false);
          }).ok());
  auto last = writeTxn(db, [&](sqlite::Database& c) {
    return Store::appendChunk(c, up->id, "sg-poc", 2000, all.subspan(2000, 1000), true);
  });
  REQUIRE(last.ok());
  CHECK(last->complete);
  CHECK(last->received == 3000);

  auto b = makeBulletin(60, "sg-poc", {"my-poc"});
  b.attachments.push_back(NewBulletin::Attachment{hash, 3000});
  REQUIRE(insert(db, b).ok());
  auto store = openStore(db);
  auto slice = store.download("my-poc", b.id, hash, 900, 1200);  // chunk 0 tail, all of 1, head of 2
  REQUIRE(slice.ok());
  CHECK(slice->data == crypto::Bytes(blob.begin() + 900, blob.begin() + 2100));
  // Rebuilding the hash from stored chunks gives the blob hash.
  crypto::Hasher h;
  std::uint64_t off = 0;
  while (auto chunk = store.chunkAt(up->id, off)) {
    h.update(*chunk);
    off += chunk->size();
  }
  CHECK(off == 3000);
  CHECK(h.finish() == hash);
}

TEST_CASE("a finished upload that does not match its hash is deleted", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  const crypto::Bytes blob(100, 1);
  auto up = writeTxn(db, [&](sqlite::Database& c) {
    return Store::beginUpload(c, "sg-poc", crypto::hash256(blob), 100, 1, 16);
  });
  REQUIRE(up.ok());
  auto r = writeTxn(db, [&](sqlite::Database& c) { return Store::appendChunk(c, up->id, "sg-poc", 0, blob, false); });
  REQUIRE(r.ok());
  CHECK(r->rejected);
  CHECK_FALSE(r->complete);
  CHECK(count(db, "SELECT count(*) FROM blobs") == 0);
  CHECK(count(db, "SELECT count(*) FROM blob_chunks") == 0);
}

TEST_CASE("unfinished uploads per member are capped", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  for (std::uint8_t i = 0; i < 2; ++i) {
    REQUIRE(writeTxn(db, [&](sqlite::Database& c) {
              return Store::beginUpload(c, "sg-poc", filled<crypto::Hash256>(i), 10, 1, 2);
            }).ok());
  }
  CHECK(writeTxn(db, [&](sqlite::Database& c) {
          return Store::beginUpload(c, "sg-poc", filled<crypto::Hash256>(9), 10, 1, 2);
        }).error().code == wire::ErrorCode::RATE_LIMITED);
  // Another member has its own allowance.
  CHECK(writeTxn(db, [&](sqlite::Database& c) {
          return Store::beginUpload(c, "th-poc", filled<crypto::Hash256>(9), 10, 1, 2);
        }).ok());
}

TEST_CASE("garbage: old unfinished and unreferenced uploads are purged, attached ones kept", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  const crypto::Bytes blob(10, 3);
  const auto hash = crypto::hash256(blob);
  auto attached = writeTxn(db, [&](sqlite::Database& c) { return Store::beginUpload(c, "sg-poc", hash, 10, 0, 16); });
  REQUIRE(writeTxn(db, [&](sqlite::Database& c) {
            return Store::appendChunk(c, attached->id, "sg-poc", 0, blob, true);
          }).ok());
  auto b = makeBulletin(70, "sg-poc", {"my-poc"});
  b.attachments.push_back(NewBulletin::Attachment{hash, 10});
  REQUIRE(insert(db, b).ok());
  REQUIRE(writeTxn(db, [&](sqlite::Database& c) {
            return Store::beginUpload(c, "sg-poc", filled<crypto::Hash256>(1), 10, 0, 16);
          }).ok());
  REQUIRE(writeTxn(db, [&](sqlite::Database& c) {
            return Store::beginUpload(c, "sg-poc", filled<crypto::Hash256>(2), 10, Store::GarbageAgeMs, 16);
          }).ok());
  const std::int64_t now = Store::GarbageAgeMs + 1;
  auto purged = writeTxn(db, [&](sqlite::Database& c) { return Store::purgeGarbage(c, now); });
  CHECK(purged == 1);  // the old unfinished one; the attached and the young one stay
  CHECK(count(db, "SELECT count(*) FROM blobs") == 2);
}

TEST_CASE("log entries append only at the next index, with their head", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  StoredLogEntry e;
  e.index = 0;
  e.recordedAtMs = 5;
  e.authorId = "hub";
  e.authorKey = filled<crypto::SigningPublicKey>(1);
  e.event = {1, 2, 3};
  e.signature = filled<crypto::Signature>(2);
  e.entryHash = filled<crypto::Hash256>(3);
  StoredHead head{1, {9, 9}, filled<crypto::Signature>(4)};
  REQUIRE(writeTxn(db, [&](sqlite::Database& c) { return Store::appendLogEntry(c, e, head); }).ok());
  // Same index again, or a gap: refused.
  CHECK(writeTxn(db, [&](sqlite::Database& c) { return Store::appendLogEntry(c, e, head); }).error().code ==
        wire::ErrorCode::INTERNAL);
  auto gap = e;
  gap.index = 2;
  CHECK_FALSE(writeTxn(db, [&](sqlite::Database& c) {
                return Store::appendLogEntry(c, gap, StoredHead{3, {}, head.signature});
              }).ok());

  auto store = openStore(db);
  auto entries = store.logEntries(0, 10, Unlimited);
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].authorId == "hub");
  CHECK(entries[0].event == e.event);
  CHECK(entries[0].entryHash == e.entryHash);
  auto h = store.head(1);
  REQUIRE(h);
  CHECK(h->head == head.head);
  CHECK_FALSE(store.head(2));
}

TEST_CASE("signed acks are kept as proof of receipt", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  const crypto::Bytes body{1, 2, 3};
  writeTxn(db, [&](sqlite::Database& c) {
    Store::recordAck(c, "my-poc", body, filled<crypto::Signature>(5), 42);
    return 0;
  });
  auto c = sqlite::Database::open(db, sqlite::Database::Mode::ReadOnly);
  auto s = c.prepare("SELECT member_id, body, signature, received_at_ms FROM acks");
  REQUIRE(s->step());
  CHECK(s->columnText(0) == "my-poc");
  CHECK(s->columnBlob(1) == body);
  const auto sig = filled<crypto::Signature>(5);
  CHECK(s->columnBlob(2) == crypto::Bytes(sig.bytes.begin(), sig.bytes.end()));
  CHECK(s->columnInt(3) == 42);
  CHECK_FALSE(s->step());
}

TEST_CASE("a forward queues only the recipients who do not hold the bulletin yet", "[server][store]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  REQUIRE(insert(db, makeBulletin(70, "sg-poc", {"my-poc", "th-poc"})).ok());
  NewForward f = makeForward(71, 70, "my-poc");
  // A group that overlaps the original recipients (th-poc) and adds vn-poc.
  f.recipients = {NewBulletin::Recipient{"th-poc", filled<crypto::BoxPublicKey>(7)},
                  NewBulletin::Recipient{"vn-poc", filled<crypto::BoxPublicKey>(8)}};
  auto r = writeTxn(db, [&](sqlite::Database& c) { return Store::insertForward(c, f); });
  REQUIRE(r.ok());
  REQUIRE(r->queued.size() == 1);
  CHECK(r->queued[0].memberId == "vn-poc");
  CHECK(count(db, "SELECT count(*) FROM deliveries WHERE member_id = 'th-poc'") == 1);
  auto store = openStore(db);
  CHECK(store.heldThroughForward("th-poc", f.bulletinId) == std::optional<bool>(false));
  CHECK(store.heldThroughForward("vn-poc", f.bulletinId) == std::optional<bool>(true));

  // A second forward that reaches nobody new is refused.
  NewForward again = f;
  again.forwardId = filled<crypto::BulletinId>(72);
  auto refused = writeTxn(db, [&](sqlite::Database& c) { return Store::insertForward(c, again); });
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == wire::ErrorCode::INVALID_REQUEST);
  CHECK_THAT(refused.error().message, Catch::Contains("already received"));
}

TEST_CASE("a forward is refused in the writer's transaction once the bulletin is retracted, and a retraction reaches "
          "every forward committed before it",
          "[server][store][race]") {
  // The request handler checks for a retraction on the read connection
  // first; this is the state it cannot see: a retraction committed after
  // that read and before the forward's job runs.
  TempDir dir;
  const auto db = createHubDatabase(dir);
  REQUIRE(insert(db, makeBulletin(80, "sg-poc", {"my-poc"})).ok());
  NewForward first = makeForward(81, 80, "my-poc");
  first.recipients = {NewBulletin::Recipient{"my-poc2", filled<crypto::BoxPublicKey>(9)}};
  REQUIRE(writeTxn(db, [&](sqlite::Database& c) { return Store::insertForward(c, first); }).ok());

  NewRetraction r;
  r.bulletinId = filled<crypto::BulletinId>(80);
  r.record = StoredRecord{crypto::Bytes{7}, crypto::Bytes(64, 3)};
  r.recordedAtMs = 2'000'001;
  auto retracted = writeTxn(db, [&](sqlite::Database& c) { return Store::insertRetraction(c, r); });
  REQUIRE(retracted.ok());
  // The original recipient and the forward recipient are both told.
  REQUIRE(retracted->queued.size() == 2);
  CHECK(retracted->queued[0].memberId == "my-poc");
  CHECK(retracted->queued[1].memberId == "my-poc2");

  NewForward late = first;
  late.forwardId = filled<crypto::BulletinId>(82);
  late.recipients = {NewBulletin::Recipient{"my-poc3", filled<crypto::BoxPublicKey>(10)}};
  auto refused = writeTxn(db, [&](sqlite::Database& c) { return Store::insertForward(c, late); });
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == wire::ErrorCode::POLICY_DENIED);
  CHECK_THAT(refused.error().message, Catch::Contains("retracted") && Catch::Contains("may not be forwarded"));
  CHECK(count(db, "SELECT count(*) FROM deliveries WHERE member_id = 'my-poc3'") == 0);
  // The forward committed before the retraction is still answered as the
  // idempotent success it was.
  auto again = writeTxn(db, [&](sqlite::Database& c) { return Store::insertForward(c, first); });
  REQUIRE(again.ok());
  CHECK(again->already);
}

TEST_CASE("Delivered marks keep each entry's own time, 16 per statement, and the first mark wins",
          "[server][store]") {
  // The hub gathers marks of many pushes, each with the time of its push,
  // and writes them in one request (Hub::flushDelivered); status reports
  // the same times before the commit (Hub::mergeUncommittedMarks).
  TempDir dir;
  const auto db = createHubDatabase(dir);
  std::vector<NewBulletin> a;
  std::vector<std::int64_t> mine;
  for (std::uint8_t i = 0; i < 20; ++i) {
    a.push_back(makeBulletin(static_cast<std::uint8_t>(160 + i), "sg-poc", {"my-poc"}));
    auto r = insert(db, a.back());
    REQUIRE(r.ok());
    mine.push_back(r->queued[0].seq);
  }
  std::vector<DeliveredMark> marks;
  for (int i = 0; i < 15; ++i) marks.push_back(DeliveredMark{mine[i], 1000 + i});
  marks.push_back(DeliveredMark{mine[2], 5000});  // a second delivery in the same chunk
  for (int i = 15; i < 19; ++i) marks.push_back(DeliveredMark{mine[i], 1000 + i});  // one by one
  marks.push_back(DeliveredMark{mine[0], 6000});  // a second delivery, outside the chunk
  writeTxn(db, [&](sqlite::Database& c) { Store::markDelivered(c, marks); return 0; });
  // A later round: only the entry never marked takes its time.
  const std::vector<DeliveredMark> later{{mine[1], 7000}, {mine[19], 7001}};
  writeTxn(db, [&](sqlite::Database& c) { Store::markDelivered(c, later); return 0; });

  auto store = openStore(db);
  for (int i = 0; i < 20; ++i) {
    INFO("bulletin " << i);
    auto st = store.status(a[i].id);
    REQUIRE(st);
    REQUIRE(st->recipients.size() == 1);
    CHECK(st->recipients[0].seq == mine[i]);
    CHECK(st->recipients[0].deliveredAtMs == (i == 19 ? 7001 : 1000 + i));
  }
}

namespace {

constexpr std::int64_t DayMs = 24ll * 60 * 60 * 1000;

// A completed upload of `owner` holding `size` bytes of `fill`.
NewBulletin::Attachment uploaded(const std::filesystem::path& db, const std::string& owner, std::size_t size,
                                 std::uint8_t fill) {
  const crypto::Bytes blob(size, fill);
  const auto hash = crypto::hash256(blob);
  auto up = writeTxn(db, [&](sqlite::Database& c) { return Store::beginUpload(c, owner, hash, size, 1, 16); });
  REQUIRE(up.ok());
  REQUIRE(writeTxn(db, [&](sqlite::Database& c) { return Store::appendChunk(c, up->id, owner, 0, blob, true); }).ok());
  return NewBulletin::Attachment{hash, size};
}

RetentionPolicy neverExcept(std::size_t level, RetentionRule rule) {
  RetentionPolicy p;
  for (auto& r : p.rules) r = RetentionRule{0, 0};
  p.rules[level] = rule;
  return p;
}

}  // namespace

TEST_CASE("retention purges exactly the bulletins its policy says are due and everything tied to them",
          "[server][store][retention]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  const std::int64_t now = 1'000'000 + 200 * DayMs;
  // AMBER (wire 3): acknowledged after 30 days, unacknowledged after 90.
  // GREEN (wire 2): acknowledged after 30 days, unacknowledged after 60.
  RetentionPolicy policy = neverExcept(2, RetentionRule{30, 90});
  policy.rules[1] = RetentionRule{30, 60};

  const auto shared = uploaded(db, "sg-poc", 3000, 0x11);   // on A and D
  const auto onlyA = uploaded(db, "sg-poc", 5000, 0x22);    // on A alone
  auto a = makeBulletin(1, "sg-poc", {"my-poc", "th-poc"}, now - 31 * DayMs);  // AMBER, acknowledged, past 30
  a.tlp = 3;
  a.attachments = {shared, onlyA};
  auto b = makeBulletin(2, "sg-poc", {"my-poc"}, now - 61 * DayMs);  // GREEN, unacknowledged, past 60
  auto c = makeBulletin(3, "sg-poc", {"my-poc"}, now - 59 * DayMs);  // GREEN, unacknowledged, inside 60
  auto e = makeBulletin(5, "sg-poc", {"my-poc"}, now - 31 * DayMs);  // AMBER, unacknowledged, inside 90
  e.tlp = 3;
  auto f = makeBulletin(6, "sg-poc", {"my-poc"}, now - 61 * DayMs);  // GREEN summary record, procedure open
  f.summaryRecord = NewBulletin::SummaryRecord{now + DayMs, std::nullopt};
  auto d = makeBulletin(4, "sg-poc", {"my-poc"}, now - 29 * DayMs);  // AMBER, acknowledged, inside 30
  d.tlp = 3;
  d.attachments = {shared};
  for (const auto* x : {&a, &b, &c, &e, &f, &d}) REQUIRE(insert(db, *x).ok());
  const std::vector<crypto::Bytes> heads{crypto::Bytes(80, 9)};
  for (const char* m : {"my-poc", "th-poc"}) {
    std::vector<crypto::BulletinId> ids{a.id};
    CHECK(writeTxn(db, [&](sqlite::Database& x) { return Store::acknowledge(x, m, ids, heads, now - 30 * DayMs); }) == 1);
  }
  std::vector<crypto::BulletinId> dIds{d.id};
  writeTxn(db, [&](sqlite::Database& x) { return Store::acknowledge(x, "my-poc", dIds, now - 28 * DayMs); });
  REQUIRE(writeTxn(db, [&](sqlite::Database& x) {
            return Store::appendAudit(x, AuditRecord{0, now - DayMs, "admin.register", "sg-admin", "", "x", {}});
          }).ok());
  CHECK(count(db, "SELECT count(*) FROM ack_heads") == 2);
  const auto blobsBefore = count(db, "SELECT count(*) FROM blobs");

  // The dry run sees what the purge then removes.
  {
    auto reader = sqlite::Database::open(db, sqlite::Database::Mode::ReadOnly);
    const auto due = Store::retentionDue(reader, policy, now);
    CHECK(due.bulletins() == 2);
    CHECK(due.levels[2].bulletins == 1);
    CHECK(due.levels[2].acknowledged == 1);
    CHECK(due.levels[2].oldestAcceptedMs == a.acceptedAtMs);
    CHECK(due.levels[2].attachmentBytes == 5000);  // the shared blob stays
    CHECK(due.levels[1].bulletins == 1);
    CHECK(due.levels[1].acknowledged == 0);
    CHECK(due.blobs == 1);
  }
  const auto t = writeTxn(db, [&](sqlite::Database& x) { return Store::purgeExpired(x, policy, now); });
  CHECK(t.bulletins() == 2);
  CHECK_FALSE(t.more);

  CHECK(count(db, "SELECT count(*) FROM bulletins") == 4);
  for (const auto* gone : {&a, &b}) {
    INFO(crypto::toHex(gone->id));
    auto r = sqlite::Database::open(db, sqlite::Database::Mode::ReadOnly);
    for (const char* table : {"deliveries", "ack_heads", "bulletin_blobs"}) {
      const std::string sql = std::string("SELECT count(*) FROM ") + table + " WHERE bulletin_id = ?1";
      auto s = r.prepare(sql.c_str());
      s->bind(1, gone->id.view());
      REQUIRE(s->step());
      CHECK(s->columnInt(0) == 0);
    }
  }
  CHECK(count(db, "SELECT count(*) FROM ack_heads") == 0);
  CHECK(count(db, "SELECT count(*) FROM blobs") == blobsBefore - 1);
  CHECK(count(db, "SELECT count(*) FROM blob_chunks WHERE blob_id NOT IN (SELECT id FROM blobs)") == 0);
  CHECK(count(db, "SELECT count(*) FROM summary_records") == 1);  // the open procedure stays
  // The audit trail keeps its rows and gains one for the batch, counts only.
  CHECK(count(db, "SELECT count(*) FROM audit") == 2);
  {
    auto r = sqlite::Database::open(db, sqlite::Database::Mode::ReadOnly);
    auto s = r.prepare("SELECT event, detail FROM audit ORDER BY idx DESC LIMIT 1");
    REQUIRE(s->step());
    CHECK(s->columnText(0) == Store::RetentionAuditEvent);
    CHECK_THAT(s->columnText(1), Catch::Contains("green=1") && Catch::Contains("amber=1") &&
                                     Catch::Contains("acknowledged=1") && Catch::Contains("attachment_bytes=5000"));
  }
  // Tombstones: status says expired, the id is never accepted again, a
  // download says why the attachment is gone.
  auto store = openStore(db);
  const auto st = store.status(a.id);
  REQUIRE(st);
  CHECK(st->purgedAtMs == now);
  CHECK(st->senderId == "sg-poc");
  CHECK(st->recipients.empty());
  CHECK(Store::expiredBulletin(store.database(), a.id)->acknowledged);
  CHECK_FALSE(Store::expiredBulletin(store.database(), b.id)->acknowledged);
  CHECK_FALSE(Store::expiredBulletin(store.database(), c.id));
  CHECK(insert(db, a).error().code == wire::ErrorCode::EXPIRED);
  CHECK(store.download("my-poc", a.id, shared.blobHash, 0, 10).error().code == wire::ErrorCode::EXPIRED);
  CHECK(store.download("my-poc", d.id, shared.blobHash, 0, 10).ok());  // the shared blob serves D
  CHECK(store.fetch("my-poc", 0, 10, Unlimited).items.size() == 3);     // c, e, f (d acknowledged)
  // Nothing more is due; a second pass writes nothing (no audit row).
  CHECK(writeTxn(db, [&](sqlite::Database& x) { return Store::purgeExpired(x, policy, now); }).bulletins() == 0);
  CHECK(count(db, "SELECT count(*) FROM audit") == 2);
}

TEST_CASE("retention purges in bounded batches and never the bulletin holding the newest queue entry",
          "[server][store][retention]") {
  TempDir dir;
  const auto db = createHubDatabase(dir);
  const std::int64_t now = 1'000'000 + 100 * DayMs;
  const auto policy = neverExcept(1, RetentionRule{1, 1});  // GREEN: one day
  for (std::uint8_t i = 1; i <= 3; ++i) REQUIRE(insert(db, makeBulletin(i, "sg-poc", {"my-poc"}, now - 2 * DayMs)).ok());
  // Batches of one: two due (the third holds the newest entry), so two batches.
  auto first = writeTxn(db, [&](sqlite::Database& x) { return Store::purgeExpired(x, policy, now, 1); });
  CHECK(first.bulletins() == 1);
  CHECK(first.more);
  auto second = writeTxn(db, [&](sqlite::Database& x) { return Store::purgeExpired(x, policy, now, 1); });
  CHECK(second.bulletins() == 1);
  CHECK_FALSE(second.more);
  CHECK(count(db, "SELECT count(*) FROM bulletins") == 1);
  const auto newest = count(db, "SELECT max(seq) FROM deliveries");
  // A newer entry: the third one goes, and seqs keep rising.
  REQUIRE(insert(db, makeBulletin(9, "sg-poc", {"my-poc"}, now)).ok());
  CHECK(writeTxn(db, [&](sqlite::Database& x) { return Store::purgeExpired(x, policy, now); }).bulletins() == 1);
  CHECK(count(db, "SELECT min(seq) FROM deliveries") > newest);
  CHECK(count(db, "SELECT count(*) FROM audit") == 3);
  // A policy of 0 days everywhere purges nothing.
  RetentionPolicy never;
  for (auto& r : never.rules) r = RetentionRule{0, 0};
  REQUIRE(insert(db, makeBulletin(10, "sg-poc", {"my-poc"}, now)).ok());
  CHECK(writeTxn(db, [&](sqlite::Database& x) { return Store::purgeExpired(x, never, now + 9000 * DayMs); }).bulletins() ==
        0);
}
