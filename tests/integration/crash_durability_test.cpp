// Crash durability of the real focald: SIGKILL at random moments under
// concurrent senders and an admin changing the directory, restart, repeat.
//
// Uses only the public API of hub_fixture.hpp (the Hub, TestMember, sealTo)
// and of the client library. The fixture does not expose focald's pid, so
// the test finds it the way an operator would: the child process of this
// test whose command line is `focald run <the hub's directory>`; it SIGKILLs
// that pid and then calls Hub::restart(), which reaps it and starts focald
// again on the same directory (new port).
//
// Workload while the killer runs: three senders, each sealing bulletins to
// one or two of two recipients and sending them pipelined in batches; an
// admin registering members (each registration appends a log entry and a
// signed head). A client that loses its connection reconnects and resends
// every bulletin of the batch that it has no `accepted` for, byte for byte
// (the protocol's idempotent resend), and never resends one it has.
//
// After the last kill, with the hub up:
//  - every bulletin is accepted in the end, and each recipient's queue
//    holds every bulletin addressed to it exactly once and nothing else,
//    and each one opens (signature, hash, decryption): nothing half-written
//    or duplicated is visible;
//  - a bulletin accepted before a kill was never lost (its sender never
//    resent it, so the check above would catch it);
// then after a clean stop, on focal.db itself:
//  - PRAGMA integrity_check is ok; every bulletin row has one delivery row
//    per recipient named in its signed header, and no delivery row is
//    without its bulletin;
//  - the log chain verifies: entry hashes recomputed with
//    protocol::logEntryHash from index 0, contiguous indexes, and the newest
//    signed head has the right size and root and verifies under the hub key
//    from the genesis entry; every registration that was acknowledged is in
//    the log;
//  - the bulletins' canary (in title and body, which are encrypted) appears
//    in no file of the hub's directory: focal.db, WAL, focald's stdout and
//    stderr logs.
//
// Kills: FOCAL_CRASH_KILLS (default 20). The default run takes ~20 s.
#include "hub_fixture.hpp"
#include "tests/support/log_events.hpp"

#include "client/client_error.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/log.hpp"
#include "server/sqlite.hpp"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;

namespace {

using SteadyClock = std::chrono::steady_clock;

int killsWanted() {
  if (const char* v = std::getenv("FOCAL_CRASH_KILLS")) {
    const int n = std::atoi(v);
    if (n > 0) return n;
  }
  return 20;
}

// The pid of this process's child `focald run <dir> ...`, or -1.
pid_t focaldPid(const fs::path& dir) {
  const pid_t self = ::getpid();
  pid_t found = -1;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return -1;
  while (dirent* e = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    const std::string stat = slurp(fs::path("/proc") / e->d_name / "stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != self || state == 'Z') continue;
    std::string cmdline = slurp(fs::path("/proc") / e->d_name / "cmdline");
    std::vector<std::string> args;
    std::string arg;
    for (char c : cmdline) {
      if (c == '\0') {
        args.push_back(arg);
        arg.clear();
      } else {
        arg += c;
      }
    }
    if (args.size() >= 3 && args[1] == "run" && fs::path(args[2]) == dir) found = pid;
  }
  ::closedir(proc);
  return found;
}

std::unique_ptr<client::Connection> connectTo(std::uint16_t port, const fs::path& ca, const crypto::MemberKeys& keys) {
  client::ConnectOptions o;
  o.timeout = 5s;
  auto c = std::make_unique<client::Connection>(o);
  c->connect("127.0.0.1", port, ca);
  c->authenticate(keys);
  return c;
}

struct SentBulletin {
  protocol::SealedBulletin sealed;
  std::vector<std::string> recipients;
  std::string title;
  bool accepted = false;
};

struct Stats {
  std::atomic<int> accepted{0};
  std::atomic<int> interrupted{0};      // batches cut by a connection loss
  std::atomic<int> resent{0};           // bulletins sent again after a loss
  std::atomic<int> alreadyAccepted{0};  // of those, the hub had committed before the kill
  std::atomic<int> unavailable{0};      // refused with `unavailable` (retried)
  std::atomic<int> registrations{0};
  std::atomic<int> registrationRetries{0};
};

}  // namespace

TEST_CASE("Crash durability: focald SIGKILLed under load loses no accepted bulletin and keeps its log chain",
          "[integration][durability][crash]") {
  const int kills = killsWanted();
  Hub hub;
  const fs::path ca = hub.caFile();
  auto members = hub.createMembers({"sg-send0", "sg-send1", "sg-send2", "my-recv0", "th-recv1"}, "SG");
  const std::vector<const TestMember*> senders{&members[0], &members[1], &members[2]};
  const std::vector<const TestMember*> recipients{&members[3], &members[4]};
  std::string canary;
  {
    crypto::Bytes r(12);
    crypto::randomFill(r);
    canary = "KILLCANARY-" + crypto::toHex(r);
  }

  std::atomic<std::uint16_t> port{hub.port()};
  std::atomic<bool> killing{true};
  std::atomic<bool> failed{false};
  std::mutex failureMutex;
  std::string failure;
  const auto fail = [&](const std::string& why) {
    std::lock_guard lock(failureMutex);
    if (!failed.exchange(true)) failure = why;
  };
  Stats stats;
  const auto giveUpAt = SteadyClock::now() + std::chrono::seconds(60 + kills * 3);

  // Connects (retrying while focald restarts) or gives up at the deadline.
  const auto connect = [&](const crypto::MemberKeys& keys) -> std::unique_ptr<client::Connection> {
    while (SteadyClock::now() < giveUpAt && !failed) {
      try {
        return connectTo(port.load(), ca, keys);
      } catch (const std::exception&) {
        std::this_thread::sleep_for(20ms);
      }
    }
    fail("could not reconnect to focald before the deadline");
    return nullptr;
  };

  std::vector<std::vector<SentBulletin>> sent(senders.size());
  std::vector<std::thread> threads;
  for (std::size_t s = 0; s < senders.size(); ++s) {
    threads.emplace_back([&, s] {
      std::mt19937 rng(static_cast<std::uint32_t>(s * 7919 + 1));
      const auto& me = senders[s]->keys;
      std::unique_ptr<client::Connection> c;
      std::vector<SentBulletin>& mine = sent[s];
      // Until the killer is done, then until everything sealed is accepted.
      for (int batchNo = 0; !failed; ++batchNo) {
        std::vector<std::size_t> batch;
        for (std::size_t i = 0; i < mine.size(); ++i) {
          if (!mine[i].accepted) batch.push_back(i);
        }
        if (batch.empty() && !killing) break;
        if (batch.empty()) {
          const std::size_t n = 1 + rng() % 8;
          for (std::size_t k = 0; k < n; ++k) {
            SentBulletin b;
            const int which = static_cast<int>(rng() % 3);  // 0, 1: one recipient; 2: both
            std::vector<const crypto::MemberKeys*> to;
            if (which != 1) to.push_back(&recipients[0]->keys);
            if (which != 0) to.push_back(&recipients[1]->keys);
            for (const auto* r : to) b.recipients.push_back(r->memberId);
            b.title = "s" + std::to_string(s) + "-" + std::to_string(mine.size());
            b.sealed = sealTo(me, to, b.title + " " + canary, "body of " + b.title + " " + canary);
            batch.push_back(mine.size());
            mine.push_back(std::move(b));
          }
        } else {
          stats.resent += static_cast<int>(batch.size());
        }
        if (!c && !(c = connect(me))) return;
        std::vector<protocol::SealedBulletin> bulletins;
        for (auto i : batch) bulletins.push_back(mine[i].sealed);
        try {
          const auto outcomes = c->sendPipelined(bulletins);
          for (std::size_t k = 0; k < outcomes.size(); ++k) {
            if (outcomes[k].accepted) {
              if (!(outcomes[k].accepted->id == mine[batch[k]].sealed.id)) fail("accepted names another bulletin id");
              if (outcomes[k].accepted->alreadyAccepted) ++stats.alreadyAccepted;
              mine[batch[k]].accepted = true;
              ++stats.accepted;
            } else if (outcomes[k].code == wire::ErrorCode::UNAVAILABLE) {
              ++stats.unavailable;
            } else {
              fail(std::string("a bulletin was refused: ") + protocol::errorName(outcomes[k].code) + " " +
                   outcomes[k].message);
            }
          }
        } catch (const client::TransportError&) {
          ++stats.interrupted;
          c.reset();
        } catch (const client::HubError& e) {
          // A connection-level refusal (e.g. `unavailable` while shutting down).
          ++stats.interrupted;
          c.reset();
        }
      }
    });
  }

  std::set<std::string> registered;  // acknowledged registrations
  std::mutex registeredMutex;
  threads.emplace_back([&] {
    std::unique_ptr<client::Connection> c;
    for (int n = 0; killing && !failed; ++n) {
      const std::string id = "ad-" + std::to_string(n);
      const auto keys = crypto::MemberKeys::generate(id, nowMs());
      const auto pk = keys.publicKeys();
      for (bool done = false; !done && !failed;) {
        if (!c && !(c = connect(hub.adminKeys()))) return;
        capnp::MallocMessageBuilder event;
        auto e = event.initRoot<wire::LogEvent>();
        e.setIssuedAtMs(nowMs());
        test_support::events::fillRegistration(e, {id, "SG", wire::Institution::LAW_ENFORCEMENT, false}, pk,
                                               "Registered under fire " + id);
        try {
          (void)c->admin(event);
          done = true;
          std::lock_guard lock(registeredMutex);
          registered.insert(id);
          ++stats.registrations;
        } catch (const client::HubError& e) {
          if (e.code() == wire::ErrorCode::INVALID_REQUEST && e.hubMessage().find("already exists") != std::string::npos) {
            done = true;  // an earlier attempt committed before the kill
            ++stats.registrationRetries;
          } else if (e.code() != wire::ErrorCode::UNAVAILABLE) {
            fail(std::string("a registration was refused: ") + e.codeName() + " " + e.hubMessage());
          } else {
            c.reset();
          }
        } catch (const client::TransportError&) {
          c.reset();
        }
      }
      std::this_thread::sleep_for(30ms);
    }
  });

  // The killer.
  std::mt19937 rng(20240601);
  int killed = 0;
  double restartSeconds = 0;
  const auto started = SteadyClock::now();
  for (; killed < kills && !failed; ++killed) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 500));
    const pid_t pid = focaldPid(hub.dir());
    if (pid <= 0) {
      fail("cannot find focald's pid");
      break;
    }
    REQUIRE(::kill(pid, SIGKILL) == 0);
    const auto t0 = SteadyClock::now();
    try {
      hub.restart();  // reaps the killed process, starts focald again on the same directory
    } catch (const std::exception& e) {
      fail(std::string("focald did not start again after kill ") + std::to_string(killed + 1) + ": " + e.what());
      break;
    }
    restartSeconds += std::chrono::duration<double>(SteadyClock::now() - t0).count();
    port = hub.port();
  }
  killing = false;
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  INFO(failure);
  REQUIRE_FALSE(failed);
  CHECK(killed == kills);

  // ---- with the hub up: every recipient's queue, exactly once, intact ----
  std::map<std::string, std::map<std::string, const SentBulletin*>> expected;  // recipient -> id hex -> bulletin
  std::map<std::string, const crypto::MemberKeys*> senderOf;
  int total = 0;
  for (std::size_t s = 0; s < sent.size(); ++s) {
    for (const auto& b : sent[s]) {
      REQUIRE(b.accepted);
      ++total;
      senderOf[crypto::toHex(b.sealed.id)] = &senders[s]->keys;
      for (const auto& r : b.recipients) expected[r][crypto::toHex(b.sealed.id)] = &b;
    }
  }
  for (const auto* r : recipients) {
    auto c = connectTo(hub.port(), ca, r->keys);
    std::map<std::string, int> seen;
    std::uint64_t after = 0;
    for (;;) {
      auto page = c->fetch(after);
      for (const auto& d : page.items) {
        after = d.seq;
        auto id = d.bulletin.claimedId();
        REQUIRE(id);
        const std::string hex = crypto::toHex(*id);
        ++seen[hex];
        INFO("bulletin " << hex << " in the queue of " << r->id());
        REQUIRE(senderOf.count(hex) == 1);  // nothing we did not send
        auto opened = protocol::openBulletin(d.bulletin.header, *crypto::Signature::fromBytes(d.bulletin.signature),
                                             d.bulletin.ciphertext, senderOf[hex]->identity.publicKey, r->keys);
        REQUIRE(opened.ok());
        auto it = expected[r->id()].find(hex);
        REQUIRE(it != expected[r->id()].end());
        CHECK(protocol::view(opened->content.root().getTitle()) == it->second->title + " " + canary);
      }
      if (!page.more) break;
    }
    INFO("recipient " << r->id());
    CHECK(seen.size() == expected[r->id()].size());
    for (const auto& [hex, n] : seen) {
      INFO("bulletin " << hex);
      CHECK(n == 1);
    }
    for (const auto& [hex, b] : expected[r->id()]) {
      INFO("bulletin " << hex << " (" << b->title << ") missing from the queue of " << r->id());
      CHECK(seen.count(hex) == 1);
    }
  }

  // ---- the files: canary ----
  const auto scanForCanary = [&](const char* when) {
    for (const auto& e : fs::recursive_directory_iterator(hub.dir())) {
      if (!e.is_regular_file()) continue;
      INFO(when << ": " << e.path());
      CHECK(slurp(e.path()).find(canary) == std::string::npos);
    }
  };
  scanForCanary("hub running");
  hub.stop();
  scanForCanary("hub stopped");
  REQUIRE(fs::exists(hub.dir() / "focald.err"));

  // ---- the database itself ----
  auto db = server::sqlite::Database::open(hub.dir() / "focal.db", server::sqlite::Database::Mode::ReadOnly);
  {
    auto s = db.prepare("PRAGMA integrity_check");
    REQUIRE(s->step());
    CHECK(s->columnText(0) == "ok");
  }
  int rows = 0;
  {
    auto s = db.prepare("SELECT b.id, b.header, (SELECT count(*) FROM deliveries d WHERE d.bulletin_id = b.id) "
                        "FROM bulletins b");
    while (s->step()) {
      ++rows;
      auto header = protocol::decode<wire::BulletinHeader>(s->columnBlob(1));
      REQUIRE(header.ok());
      INFO("bulletin " << crypto::toHex(s->columnBlob(0)));
      CHECK(s->columnInt(2) == static_cast<std::int64_t>(header->root().getRecipients().size()));
    }
  }
  CHECK(rows == total);
  {
    auto s = db.prepare("SELECT count(*) FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM bulletins b WHERE b.id = d.bulletin_id)");
    REQUIRE(s->step());
    CHECK(s->columnInt(0) == 0);
  }

  // ---- the log chain ----
  crypto::Hash256 prev = protocol::logGenesisPrev();
  std::optional<crypto::SigningPublicKey> hubKey;
  std::set<std::string> inLog;
  std::uint64_t entries = 0;
  {
    auto s = db.prepare("SELECT idx, recorded_at_ms, author_key, event, signature, entry_hash FROM log_entries ORDER BY idx");
    while (s->step()) {
      INFO("log entry " << entries);
      REQUIRE(static_cast<std::uint64_t>(s->columnInt(0)) == entries);
      const auto event = s->columnBlob(3);
      const auto authorKey = crypto::SigningPublicKey::fromBytes(s->columnBlob(2));
      const auto signature = crypto::Signature::fromBytes(s->columnBlob(4));
      REQUIRE(authorKey);
      REQUIRE(signature);
      CHECK(protocol::verifyLogEvent(event, *signature, *authorKey).ok());
      prev = protocol::logEntryHash(entries, prev, s->columnInt(1), event, *authorKey, *signature);
      REQUIRE(crypto::Hash256::fromBytes(s->columnBlob(5)) == std::optional(prev));
      auto parsed = protocol::decode<wire::LogEvent>(event);
      REQUIRE(parsed.ok());
      if (parsed->root().which() == wire::LogEvent::GENESIS) {
        hubKey = crypto::SigningPublicKey::fromBytes(protocol::view(parsed->root().getGenesis().getHubKey()));
      } else if (parsed->root().which() == wire::LogEvent::REGISTER) {
        inLog.insert(std::string(protocol::view(parsed->root().getRegister().getMember().getId())));
      }
      ++entries;
    }
  }
  REQUIRE(hubKey);
  {
    auto s = db.prepare("SELECT size, head, signature FROM log_heads ORDER BY size DESC LIMIT 1");
    REQUIRE(s->step());
    CHECK(static_cast<std::uint64_t>(s->columnInt(0)) == entries);
    auto head = protocol::verifyLogHead(s->columnBlob(1), *crypto::Signature::fromBytes(s->columnBlob(2)), *hubKey);
    REQUIRE(head.ok());
    CHECK(head->root().getSize() == entries);
    CHECK(crypto::Hash256::fromBytes(protocol::view(head->root().getRootHash())) == std::optional(prev));
  }
  for (const auto& id : registered) {
    INFO("acknowledged registration " << id);
    CHECK(inLog.count(id) == 1);
  }

  std::printf("crash-durability: %d SIGKILLs in %.1f s (mean restart %.0f ms); %d bulletins accepted, %d batches cut "
              "by a kill, %d bulletins resent, %d of them already committed before the kill (alreadyAccepted), %d "
              "`unavailable`; %d registrations acknowledged (+%d found committed on retry), log of %llu entries verified\n",
              killed, seconds, killed > 0 ? 1000 * restartSeconds / killed : 0.0, total, stats.interrupted.load(),
              stats.resent.load(), stats.alreadyAccepted.load(), stats.unavailable.load(), stats.registrations.load(),
              stats.registrationRetries.load(), static_cast<unsigned long long>(entries));
}
