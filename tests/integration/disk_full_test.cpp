// Disk full: focald on a small filesystem that this test makes itself.
//
// focald is started through `unshare -m` in a private mount namespace, where
// a 40 MiB tmpfs is mounted over its hub directory (the directory's files
// copied in first), so ENOSPC is real: the kernel's, returned to SQLite's
// own write calls. The test reaches that filesystem through
// /proc/<focald pid>/root/<hub dir> and fills it with a filler file, then
// removes the filler ("space returns"). The mount dies with focald.
//
// Needs root (mount) and unshare(1); otherwise the test says why and skips.
//
// Required: with the disk full, a bulletin that does not fit is answered
// with the typed `unavailable` (retryAfterMs > 0) and is not stored; the
// session stays open; fetch, status and authentication keep working; acks
// succeed (written into the space the hub's 8 MiB reserve file gave back,
// see CommitQueue) while every new bulletin, even a small one, is still
// refused; the storage condition and the release of the reserve are each
// logged once however many writes fail in a row; when space returns the
// next bulletin is accepted with no restart, the reserve is re-created, and
// the recovery is logged once.
#include "hub_fixture.hpp"

#include "client/client_error.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;

namespace {

// Why a private tmpfs cannot be had here, or "" when it can.
std::string tmpfsUnavailableReason() {
  if (::geteuid() != 0) return "not root (mounting a tmpfs needs CAP_SYS_ADMIN)";
  if (::access("/usr/bin/unshare", X_OK) != 0) return "/usr/bin/unshare is missing (util-linux)";
  TempDir probe;
  const auto r = runProcess({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                             "mount -t tmpfs -o size=1m focal-probe \"$1\" && umount \"$1\"", "sh",
                             probe.path().string()},
                            {}, std::nullopt, 20s);
  if (r.exitCode != 0) return "unshare -m + mount tmpfs failed: " + r.err;
  return "";
}

// Writes a filler file until the filesystem refuses; returns its size.
std::uint64_t fill(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  std::vector<char> block(64 * 1024, 'x');
  std::uint64_t total = 0;
  int err = 0;
  for (;;) {
    const ssize_t n = ::write(fd, block.data(), block.size());
    if (n > 0) {
      total += static_cast<std::uint64_t>(n);
      continue;
    }
    err = errno;
    if (err == EINTR) continue;
    break;
  }
  ::close(fd);
  INFO("filler stopped with " << std::strerror(err));
  CHECK(err == ENOSPC);
  return total;
}

std::string bigBody(std::size_t bytes, int salt) {
  // Incompressible is irrelevant (SQLite stores it as is); vary it anyway.
  std::string body(bytes, 'a');
  for (std::size_t i = 0; i < bytes; ++i) body[i] = static_cast<char>('a' + (i * 7 + static_cast<std::size_t>(salt)) % 26);
  return body;
}

}  // namespace

TEST_CASE_METHOD(TwoMembersStopped,
                 "Disk full: new bulletins get `unavailable`, reads and acks go on, logged once, recovers by itself",
                 "[integration][diskfull]") {
  if (skipped("disk-full test", tmpfsUnavailableReason())) return;
  const std::string dir = hub.dir().string();
  const std::string script =
      "set -e; d=\"$1\"; shift; s=\"$d.seed\"; rm -rf \"$s\"; cp -a \"$d\" \"$s\"; "
      "mount -t tmpfs -o size=40m,mode=0700 focal-diskfull \"$d\"; cp -a \"$s/.\" \"$d/\"; rm -rf \"$s\"; "
      "exec \"$@\"";
  hub.setLauncher({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script, "sh", dir});
  hub.start();
  const fs::path inside = fs::path("/proc") / std::to_string(hub.pid()) / "root" / fs::path(dir).relative_path();
  REQUIRE(fs::exists(inside / "focal.db"));

  auto sc = hub.connect(a.keys);
  auto rc = hub.connect(b.keys);
  // Two bulletins before the disk fills: one to read, one to ack later.
  const auto before1 = sealTo(a.keys, {&b.keys}, "before 1");
  const auto before2 = sealTo(a.keys, {&b.keys}, "before 2");
  sc->send(before1);
  sc->send(before2);

  const auto filler = inside / "filler";
  const auto filled = fill(filler);
  INFO("filler " << filled << " bytes");

  // Bulletins of ~400 KiB until one does not fit (a little space can remain
  // in pages SQLite already owns).
  int acceptedWhileFull = 0;
  std::optional<client::HubError> refusal;
  std::vector<protocol::SealedBulletin> refused;
  for (int i = 0; i < 40 && !refusal; ++i) {
    auto s = sealTo(a.keys, {&b.keys}, "full " + std::to_string(i), bigBody(400 * 1024, i));
    try {
      sc->send(s);
      ++acceptedWhileFull;
    } catch (const client::HubError& e) {
      refusal = e;
      refused.push_back(s);
    }
  }
  REQUIRE(refusal.has_value());
  CHECK(refusal->code() == wire::ErrorCode::UNAVAILABLE);
  CHECK(refusal->retryAfterMs() > 0);
  INFO("accepted while filling: " << acceptedWhileFull);
  // More refusals of the same size: each typed, the session stays open.
  for (int i = 0; i < 5; ++i) {
    auto s = sealTo(a.keys, {&b.keys}, "still full " + std::to_string(i), bigBody(400 * 1024, 100 + i));
    try {
      sc->send(s);
      FAIL("a 400 KiB bulletin was accepted on a full disk");
    } catch (const client::HubError& e) {
      CHECK(e.code() == wire::ErrorCode::UNAVAILABLE);
      refused.push_back(s);
    }
  }
  CHECK(sc->isOpen());

  // Logged once, however many writes failed.
  const auto logWhileFull = slurp(hub.dir() / "focald.err");
  INFO("focald log:\n" << logWhileFull);
  CHECK(countOf(logWhileFull, "writes refused until") + countOf(logWhileFull, "cannot begin a write transaction") +
            countOf(logWhileFull, "aborted a write transaction") ==
        1);
  CHECK(countOf(logWhileFull, "commits succeed again") == 0);
  CHECK(countOf(logWhileFull, "released the 8 MiB space reserve") == 1);

  // Reads and acks go on.
  sc->ping();
  auto page = rc->fetch(0);
  REQUIRE(page.items.size() >= 2);
  CHECK(*page.items.at(0).bulletin.claimedId() == before1.id);
  CHECK(sc->status(before1.id).size() == 1);
  // An ack is a write too (it deletes queue rows and keeps a small proof
  // row, appending WAL frames): the hub gave up its space reserve at the
  // first refusal, and acks are written into that space (CommitQueue,
  // docs/reliability.md "Disk full"). Two acks in two commits.
  CHECK_FALSE(fs::exists(inside / "focal.reserve"));
  CHECK(rc->ack(std::vector<crypto::BulletinId>{before1.id}) == 1);
  CHECK(rc->ack(std::vector<crypto::BulletinId>{before2.id}) == 1);
  // A small bulletin is refused too: the reserve is for acks, not for new data.
  try {
    sc->send(sealTo(a.keys, {&b.keys}, "small while full"));
    FAIL("a bulletin was accepted while the hub was out of space");
  } catch (const client::HubError& e) {
    CHECK(e.code() == wire::ErrorCode::UNAVAILABLE);
  }
  for (const auto& s : refused) {
    try {
      (void)sc->status(s.id);
      FAIL("a refused bulletin has a status");
    } catch (const client::HubError& e) {
      CHECK(e.code() == wire::ErrorCode::NOT_FOUND);
    }
  }
  // A new connection authenticates and reads while the disk is full.
  CHECK(hub.connect(b.keys)->fetch(0).items.size() == page.items.size() - 2);  // before1, before2 acked

  // Space returns: the next bulletin is accepted without a restart.
  fs::remove(filler);
  const auto after = sealTo(a.keys, {&b.keys}, "after", bigBody(400 * 1024, 999));
  const auto acc = sc->send(after);
  CHECK(acc.id == after.id);
  CHECK_FALSE(acc.alreadyAccepted);
  // A refused bulletin, resent now, is stored (it was never half-kept).
  const auto again = sc->send(refused.front());
  CHECK_FALSE(again.alreadyAccepted);
  CHECK(rc->ack(std::vector<crypto::BulletinId>{before1.id, before2.id}) == 0);  // already acked while full
  CHECK(rc->fetch(0).items.size() == page.items.size());  // minus before1 and before2, plus after and again
  const auto logAfter = slurp(hub.dir() / "focald.err");
  // Recovery is logged once, and the reserve is back at its full size.
  CHECK(countOf(logAfter, "commits succeed again") == 1);
  CHECK(countOf(logAfter, "released the 8 MiB space reserve") == 1);
  REQUIRE(fs::exists(inside / "focal.reserve"));
  CHECK(fs::file_size(inside / "focal.reserve") == 8u * 1024 * 1024);
  CHECK(hub.running());
}
