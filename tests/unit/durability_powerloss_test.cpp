// Power loss under the commit queue: an acknowledged bulletin survives a
// power cut at any fsync, and nothing half-written is ever visible.
//
// The disk is simulated by tests/reliability/power_loss_vfs.hpp (a SQLite
// VFS over the default one). The hub's own CommitQueue opens the database
// through it, under the WAL batching shim as in focald (URI filename
// "file:PATH?vfs=focal-wal-batch-powerloss": server/wal_batch_vfs.hpp over
// focal-powerloss; Debian's SQLite
// enables URIs for every open; without that, the shim becomes the default
// VFS for the experiment). Concurrent submitters send bulletins with
// Store::insertBulletin; a bulletin is *acknowledged* when its completion
// reported success, which CommitQueue promises only after COMMIT returned,
// exactly when focald replies `accepted`.
//
// One experiment: arm the shim to cut power at its K-th xSync, run the
// workload, cut power at the end if it has not happened, then reopen the
// database with the normal VFS (SQLite runs WAL recovery) and check:
//   - PRAGMA integrity_check says ok;
//   - every acknowledged bulletin is present with exactly the bytes sent,
//     with one delivery row per recipient and the recipient's key;
//   - no bulletin at all (acknowledged or not) is present without all its
//     delivery rows, and no delivery row lacks its bulletin.
// The sweep runs K over every sync point of a dry run, in Drop mode (unsynced
// writes lost), Garble mode (unsynced writes reach the disk as random bytes)
// and Subset mode (each unsynced write kept or lost at random), once with
// small bulletins and once with large ones, whose WAL passes SQLite's
// automatic checkpoint so that cuts also land inside checkpoints. The hub's
// connection settings are untouched throughout.
//
// Negative controls prove the checker can see loss: the same workload on a
// disk that lies about fsync, and with PRAGMA synchronous=OFF forced on the
// hub's connection, must lose acknowledged bulletins, and the test requires
// that the checker reports it.
//
// Budget: the sweep stops early when it has used PowerLossBudget (the
// figure is printed); FOCAL_POWERLOSS_FULL=1 removes the budget.
#include "server/commit_queue.hpp"
#include "server/wal_batch_vfs.hpp"
#include "server/store.hpp"
#include "server_test_support.hpp"
#include "tests/reliability/power_loss_vfs.hpp"

#include <catch2/catch.hpp>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <thread>

using namespace focal;
using namespace focal::server;
using namespace focal::server::testing;
using focal::reliability::DefaultVfs;
using focal::reliability::PowerLossVfs;

namespace {

constexpr int BulletinCount = 200;
constexpr int Submitters = 4;
// Small groups: more commits, so more sync points to cut power at.
constexpr std::size_t MaxBatch = 8;
constexpr auto PowerLossBudget = std::chrono::seconds(30);
const std::vector<std::string> Members{"bn-itpss", "kh-ncsc", "id-bssn", "la-mpt", "my-nacsa",
                                       "mm-mcis", "ph-dict", "sg-csa", "th-ncsa", "vn-a05"};

// `large`: every ciphertext 12..40 KB, so the WAL passes SQLite's automatic
// checkpoint (1000 pages) during the run and power cuts also land inside
// checkpoints (database-file writes and syncs).
std::vector<NewBulletin> makeWorkload(std::uint64_t seed, bool large = false) {
  std::mt19937_64 rng(seed);
  const auto bytes = [&](std::size_t n) {
    crypto::Bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
  };
  std::vector<NewBulletin> out;
  for (int i = 0; i < BulletinCount; ++i) {
    NewBulletin b;
    const auto id = bytes(16);
    std::copy(id.begin(), id.end(), b.id.bytes.begin());
    b.senderId = Members[rng() % Members.size()];
    const auto sk = bytes(32);
    std::copy(sk.begin(), sk.end(), b.senderKey.bytes.begin());
    b.header = bytes(120 + rng() % 400);
    const auto sig = bytes(64);
    std::copy(sig.begin(), sig.end(), b.signature.bytes.begin());
    // Some bulletins span several pages (overflow chains), most do not.
    b.ciphertext = bytes(large ? 12'000 + rng() % 28'000 : i % 10 == 0 ? 9000 + rng() % 8000 : 200 + rng() % 1500);
    b.createdAtMs = 1'700'000'000'000 + i;
    b.acceptedAtMs = b.createdAtMs + 5;
    b.tlp = 1 + static_cast<int>(rng() % 4);
    const std::size_t n = 1 + rng() % 3;
    const std::size_t first = rng() % Members.size();
    for (std::size_t r = 0; r < n; ++r) {
      NewBulletin::Recipient rec;
      rec.memberId = Members[(first + r) % Members.size()];
      const auto k = bytes(32);
      std::copy(k.begin(), k.end(), rec.encryptionKey.bytes.begin());
      b.recipients.push_back(rec);
    }
    out.push_back(std::move(b));
  }
  return out;
}

// Runs the workload against `openPath` (the URI or plain path); returns
// which bulletins were acknowledged. Cuts power at the end if the shim did
// not cut it earlier.
std::vector<bool> runWorkload(const std::string& openPath, const std::vector<NewBulletin>& work, PowerLossVfs& vfs,
                              std::uint64_t seed) {
  std::vector<std::atomic<bool>> acked(work.size());
  {
    CommitQueue queue(openPath, queueOptions(65536, MaxBatch));
    queue.start();
    net::io_context io;
    auto guard = net::make_work_guard(io);
    std::thread ioThread([&] { io.run(); });
    std::vector<std::thread> submitters;
    for (int s = 0; s < Submitters; ++s) {
      submitters.emplace_back([&, s] {
        std::mt19937 rng(static_cast<std::uint32_t>(seed * 31 + s));
        for (std::size_t i = s; i < work.size(); i += Submitters) {
          auto job = [b = work[i]](sqlite::Database& db) { return Store::insertBulletin(db, b); };
          queue.submit<SendOutcome>(std::move(job), net::bind_executor(io, [&acked, i](Result<SendOutcome> r) {
                                      acked[i] = r.ok();
                                    }));
          std::this_thread::sleep_for(std::chrono::microseconds(rng() % 400));
        }
      });
    }
    for (auto& t : submitters) t.join();
    guard.reset();
    ioThread.join();  // every completion has run (each holds work on io)
    // A checkpoint runs on its own thread: let one that was asked for run
    // (or be cut) before the power goes, so that the sync points of a run
    // include its database syncs.
    for (int i = 0; i < 200 && queue.checkpointInProgress(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    vfs.crashNow();   // the power cut after the last acknowledgement, if not earlier
  }  // the queue closes its connection; every I/O fails now, as on a dead machine
  std::vector<bool> out;
  for (auto& a : acked) out.push_back(a.load());
  return out;
}

struct Verdict {
  bool integrityOk = false;
  std::string integrity;
  int acked = 0;
  int lost = 0;        // acknowledged, but absent
  int damaged = 0;     // acknowledged, present with other bytes or other deliveries
  int partial = 0;     // any bulletin present without all its delivery rows
  int orphans = 0;     // delivery rows whose bulletin is absent
  int unackedKept = 0; // committed but never acknowledged (allowed)
  bool clean() const { return integrityOk && lost == 0 && damaged == 0 && partial == 0 && orphans == 0; }
  std::string describe() const {
    return "integrity=" + integrity + " acked=" + std::to_string(acked) + " lost=" + std::to_string(lost) +
           " damaged=" + std::to_string(damaged) + " partial=" + std::to_string(partial) +
           " orphans=" + std::to_string(orphans) + " unackedKept=" + std::to_string(unackedKept);
  }
};

// Reopens with the normal VFS (WAL recovery) and checks everything.
Verdict verify(const std::filesystem::path& path, const std::vector<NewBulletin>& work, const std::vector<bool>& acked) {
  Verdict v;
  auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWrite);
  {
    auto s = db.prepare("PRAGMA integrity_check");
    v.integrity = s->step() ? s->columnText(0) : "no row";
    v.integrityOk = v.integrity == "ok";
  }
  for (std::size_t i = 0; i < work.size(); ++i) {
    const NewBulletin& b = work[i];
    if (acked[i]) ++v.acked;
    bool present = false;
    bool same = false;
    {
      auto s = db.prepare("SELECT sender_id, sender_key, header, signature, ciphertext, created_at_ms, "
                          "accepted_at_ms, tlp FROM bulletins WHERE id = ?1");
      s->bind(1, b.id.view());
      if (s->step()) {
        present = true;
        same = s->columnText(0) == b.senderId && s->columnBlob(1) == crypto::Bytes(b.senderKey.bytes.begin(), b.senderKey.bytes.end()) &&
               s->columnBlob(2) == b.header &&
               s->columnBlob(3) == crypto::Bytes(b.signature.bytes.begin(), b.signature.bytes.end()) &&
               s->columnBlob(4) == b.ciphertext && s->columnInt(5) == b.createdAtMs &&
               s->columnInt(6) == b.acceptedAtMs && s->columnInt(7) == b.tlp;
      }
    }
    std::map<std::string, crypto::Bytes> deliveries;
    int rows = 0;
    {
      auto s = db.prepare("SELECT member_id, enc_key FROM deliveries WHERE bulletin_id = ?1");
      s->bind(1, b.id.view());
      while (s->step()) {
        deliveries[s->columnText(0)] = s->columnBlob(1);
        ++rows;
      }
    }
    bool deliveriesRight = rows == static_cast<int>(b.recipients.size());
    for (const auto& r : b.recipients) {
      auto it = deliveries.find(r.memberId);
      deliveriesRight = deliveriesRight && it != deliveries.end() &&
                        it->second == crypto::Bytes(r.encryptionKey.bytes.begin(), r.encryptionKey.bytes.end());
    }
    if (present && !deliveriesRight) ++v.partial;
    if (!present && rows > 0) v.orphans += rows;
    if (acked[i]) {
      if (!present) {
        ++v.lost;
      } else if (!same || !deliveriesRight) {
        ++v.damaged;
      }
    } else if (present) {
      ++v.unackedKept;
    }
  }
  return v;
}

constexpr const char* BatchOverPowerLoss = "focal-wal-batch-powerloss";

// One experiment on a fresh copy of the template database.
struct Experiment {
  Verdict verdict;
  bool crashedEarly = false;  // the cut happened at sync K, before the workload ended
  std::uint64_t syncs = 0;
};

Experiment experiment(const TempDir& dir, const std::filesystem::path& templ, const std::vector<NewBulletin>& work,
                      PowerLossVfs& vfs, PowerLossVfs::Mode mode, std::uint64_t crashAt, std::uint64_t seed) {
  const auto path = dir / ("run-" + std::to_string(seed) + ".db");
  std::filesystem::copy_file(templ, path, std::filesystem::copy_options::overwrite_existing);
  vfs.arm(mode, crashAt, seed);
  Experiment e;
  std::vector<bool> acked;
  if (PowerLossVfs::urisEnabled()) {
    // As focald writes: the WAL batching shim (server/wal_batch_vfs.hpp)
    // over the disk model, so the cuts also land between its buffered
    // writes and the syncs.
    REQUIRE(sqlite::registerWalBatchVfs(BatchOverPowerLoss, PowerLossVfs::Name));
    acked = runWorkload(std::string("file:") + path.string() + "?vfs=" + BatchOverPowerLoss, work, vfs, seed);
  } else {
    DefaultVfs scope(vfs.vfs(), vfs.realVfs());
    acked = runWorkload(path.string(), work, vfs, seed);
  }
  e.syncs = vfs.syncs();
  e.crashedEarly = crashAt != 0 && e.syncs >= crashAt;
  e.verdict = verify(path, work, acked);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  return e;
}

std::filesystem::path templateDatabase(const TempDir& dir) {
  const auto path = createHubDatabase(dir);  // schema; closing checkpoints and removes the WAL
  REQUIRE_FALSE(std::filesystem::exists(path.string() + "-wal"));
  return path;
}

// Sweeps K over every sync point of a dry run (and a few beyond: grouping
// varies from run to run), in all three modes, within `budget`.
void sweep(const char* label, bool large, std::chrono::steady_clock::duration budget) {
  TempDir dir;
  const auto templ = templateDatabase(dir);
  PowerLossVfs vfs;
  const auto work = makeWorkload(1, large);

  // Dry run: how many sync points does the workload have?
  const auto dry = experiment(dir, templ, work, vfs, PowerLossVfs::Mode::Drop, 0, 1000);
  const auto dryDatabaseSyncs = vfs.databaseSyncs();
  INFO(dry.verdict.describe());
  REQUIRE(dry.verdict.clean());
  REQUIRE(dry.verdict.acked == BulletinCount);
  REQUIRE(dry.syncs >= 10);  // grouped, but not one transaction: many points to cut at
  if (large) REQUIRE(dryDatabaseSyncs > 0);  // checkpoints happened: cuts land in them too

  const bool full = std::getenv("FOCAL_POWERLOSS_FULL") != nullptr;
  const auto start = std::chrono::steady_clock::now();
  int experiments = 0;
  int cutsAtSync = 0;
  int ackedChecked = 0;
  int unackedKept = 0;
  std::uint64_t highestK = 0;
  std::uint64_t seed = 2000;
  bool outOfTime = false;
  for (std::uint64_t k = 1; k <= dry.syncs + 5 && !outOfTime; ++k) {
    for (auto mode : {PowerLossVfs::Mode::Drop, PowerLossVfs::Mode::Garble, PowerLossVfs::Mode::Subset}) {
      const auto e = experiment(dir, templ, work, vfs, mode, k, ++seed);
      INFO(label << ", mode " << static_cast<int>(mode) << " (0 drop, 1 garble, 2 subset), cut at sync " << k
                 << " of " << e.syncs << ": " << e.verdict.describe());
      REQUIRE(e.verdict.clean());
      ++experiments;
      if (e.crashedEarly) ++cutsAtSync;
      ackedChecked += e.verdict.acked;
      unackedKept += e.verdict.unackedKept;
      highestK = k;
    }
    outOfTime = !full && std::chrono::steady_clock::now() - start > budget;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("durability-powerloss [%s]: %d experiments (drop/garble/subset) in %.1f s, %d power cuts at a sync "
              "point, K = 1..%llu; dry run: %llu sync points (%llu on the database file); %d acknowledged bulletins "
              "checked, all present and intact; %d committed-but-unacknowledged found (allowed)\n",
              label, experiments, seconds, cutsAtSync, static_cast<unsigned long long>(highestK),
              static_cast<unsigned long long>(dry.syncs), static_cast<unsigned long long>(dryDatabaseSyncs),
              ackedChecked, unackedKept);
  CHECK(cutsAtSync >= 20);
  if (highestK < dry.syncs) WARN("power-loss sweep stopped at K=" << highestK << " of " << dry.syncs << " (budget)");
}

// The CommitQueue logs every failed commit; hundreds of power cuts would
// bury the test output. Restores the level on every path out.
struct QuietLogs {
  spdlog::level::level_enum saved = spdlog::get_level();
  QuietLogs() { spdlog::set_level(spdlog::level::off); }
  ~QuietLogs() { spdlog::set_level(saved); }
};

}  // namespace

TEST_CASE("durability: a power cut at any fsync keeps every acknowledged bulletin whole",
          "[durability][powerloss]") {
  QuietLogs quiet;
  SECTION("small bulletins: cuts land in WAL appends") { sweep("small bulletins", false, PowerLossBudget / 2); }
  SECTION("large bulletins: the WAL is checkpointed during the run, cuts land inside checkpoints too") {
    sweep("large bulletins", true, PowerLossBudget / 2);
  }
}

// A negative control: the workload of `workloadSeed` run (seed `runSeed`,
// no cut at a sync) with `fault` switched on in the disk model; the check
// must see acknowledged bulletins lost.
Experiment negativeControl(std::uint64_t workloadSeed, std::uint64_t runSeed, void (PowerLossVfs::*fault)(bool)) {
  TempDir dir;
  const auto templ = templateDatabase(dir);
  PowerLossVfs vfs;
  const auto work = makeWorkload(workloadSeed);
  QuietLogs quiet;
  (vfs.*fault)(true);
  const auto e = experiment(dir, templ, work, vfs, PowerLossVfs::Mode::Drop, 0, runSeed);
  (vfs.*fault)(false);
  INFO(e.verdict.describe());
  CHECK(e.verdict.acked == BulletinCount);
  CHECK(e.verdict.lost > 0);
  CHECK_FALSE(e.verdict.clean());
  return e;
}

TEST_CASE("durability (negative control): a disk that lies about fsync loses acknowledged bulletins, and the check "
          "sees it",
          "[durability][powerloss]") {
  const auto e = negativeControl(2, 3000, &PowerLossVfs::lieAboutSync);
  std::printf("durability-powerloss [negative control, lying fsync]: %s\n", e.verdict.describe().c_str());
}

TEST_CASE("durability (negative control): synchronous=OFF loses acknowledged bulletins, and the check sees it",
          "[durability][powerloss]") {
  const auto e = negativeControl(3, 4000, &PowerLossVfs::forceSynchronousOff);
  std::printf("durability-powerloss [negative control, synchronous=OFF]: %llu syncs, %s\n",
              static_cast<unsigned long long>(e.syncs), e.verdict.describe().c_str());
  CHECK(e.syncs == 0);  // the hub's synchronous=FULL really was overridden: SQLite never synced
}
