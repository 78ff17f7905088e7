// Nothing readable in the hub's memory (issue 6, "... or a core dump").
// focald disables core dumps at start (RLIMIT_CORE 0, not dumpable), so
// instead of a core file the test reads what one would hold: every readable
// mapping of the running focald through /proc/PID/mem (root may, even for a
// process that is not dumpable). Canary plaintexts go through the hub in
// titles and bodies, are pushed, fetched and acknowledged; none may appear
// in its memory raw, as hex or as base64. Positive controls: the bulletin
// ids and the case reference, which the hub handles in clear (signed
// header), must be found, so a search that sees nothing is caught.
#include "hub_fixture.hpp"

#include "tests/reliability/canary_forms.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

using namespace focal;
using namespace focal::test;

namespace {

// The readable memory of a process, mapping by mapping (skips what cannot
// be read: guard pages, [vvar]).
std::vector<std::string> readMemory(pid_t pid) {
  std::vector<std::string> regions;
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  const int fd = ::open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY);
  if (fd < 0) return regions;
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms;
    in >> range >> perms;
    if (perms.empty() || perms[0] != 'r') continue;
    const auto dash = range.find('-');
    const auto begin = std::stoull(range.substr(0, dash), nullptr, 16);
    const auto end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (end - begin > (1ull << 31)) continue;  // reserved, not resident (ASan shadow)
    std::string region(end - begin, '\0');
    const ssize_t n = ::pread(fd, region.data(), region.size(), static_cast<off_t>(begin));
    if (n > 0) {
      region.resize(static_cast<std::size_t>(n));
      regions.push_back(std::move(region));
    }
  }
  ::close(fd);
  return regions;
}

int countFound(const std::vector<std::string>& memory, const std::string& value) {
  int found = 0;
  for (const auto& f : reliability::canaryForms(value)) {
    for (const auto& region : memory) {
      if (region.find(f) != std::string::npos) {
        ++found;
        break;
      }
    }
  }
  return found;
}

std::string randomToken(const char* prefix) {
  crypto::Bytes r(12);
  crypto::randomFill(r);
  return prefix + crypto::toHex(r);
}

}  // namespace

TEST_CASE("No bulletin plaintext is ever in the hub's memory, while its ids and case references are",
          "[integration][canary]") {
  if (::geteuid() != 0) {
    WARN("skipped: reading another process's memory needs root (focald is not dumpable)");
    return;
  }
  Hub hub;
  auto sg = hub.createMember("sg-spf", "SG");
  auto my = hub.createMember("my-pdrm", "MY");
  auto sender = hub.connect(sg.keys);
  auto receiver = hub.connect(my.keys);
  receiver->subscribe();

  std::vector<std::string> canaries;
  std::vector<std::string> ids;
  const std::string caseRef = randomToken("AWGC-CASE-");
  for (int i = 0; i < 8; ++i) {
    canaries.push_back(randomToken("TITLE-CANARY-"));
    canaries.push_back(randomToken("BODY-CANARY-") + std::string(2000, 'b'));
    protocol::BulletinDraft d;
    d.hubId = "focal-hub";  // the test hub (seal v2 binds its id)
    d.tlp = wire::Tlp::AMBER;
    d.category = wire::Category::ALERT;
    d.title = canaries[canaries.size() - 2];
    d.body = canaries.back();
    d.caseRef = caseRef;
    d.addresses = {my.id()};
    d.recipients = {protocol::RecipientKey{my.id(), my.keys.encryption.publicKey}};
    auto sealed = protocol::sealBulletin(d, sg.keys, crypto::ContentKey::random(), nowMs());
    REQUIRE(sealed.ok());
    sender->send(*sealed);
    ids.emplace_back(reinterpret_cast<const char*>(sealed->id.bytes.data()), sealed->id.bytes.size());
  }
  // Pushed, then fetched again (read back from the store), half acknowledged.
  for (int i = 0; i < 8; ++i) REQUIRE(receiver->nextPush(std::chrono::seconds(10)).has_value());
  auto fetcher = hub.connect(my.keys);
  const auto page = fetcher->fetch(0);
  REQUIRE(page.items.size() == 8);
  std::vector<crypto::BulletinId> half;
  for (std::size_t i = 0; i < 4; ++i) half.push_back(*page.items[i].bulletin.claimedId());
  CHECK(fetcher->ack(half) == 4);

  const auto memory = readMemory(hub.pid());
  std::size_t bytes = 0;
  for (const auto& r : memory) bytes += r.size();
  REQUIRE(bytes > 1024 * 1024);  // it did read the process

  int plaintextFound = 0;
  for (const auto& c : canaries) plaintextFound += countFound(memory, c.substr(0, 40));
  int idsFound = 0;
  for (const auto& id : ids) idsFound += countFound(memory, id) > 0 ? 1 : 0;
  const int caseFound = countFound(memory, caseRef);
  std::printf("memory-canary: focald %zu readable mappings, %.1f MiB read; %zu canaries x %zu forms: %d found; "
              "positive controls: %d of %zu bulletin ids, case reference in %d forms\n",
              memory.size(), static_cast<double>(bytes) / (1024 * 1024), canaries.size(), reliability::canaryForms("x").size(),
              plaintextFound, idsFound, ids.size(), caseFound);
  CHECK(plaintextFound == 0);
  CHECK(idsFound == static_cast<int>(ids.size()));
  CHECK(caseFound >= 1);
}
