// focal-archive-bench: what the local archive (client/archive.hpp) costs a
// command: opening it (read, decrypt, sqlite3_deserialize, quick_check),
// saving it after a change (serialise, seal, write atomically with fsync),
// and a search, for N archived bulletins of ~2 KiB bodies. Also the save
// after a retraction, which merges the full-text index and vacuums.
//
// Figures for the notes, never timed assertions.
//
//   focal-archive-bench [--bulletins N ...] [--vocabulary W] [--runs R] [--dir DIR] [--json]
#include "client/archive.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

namespace {

using namespace focal;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t Now = 1'800'000'000'000;

// Distinct words bodies are drawn from (--vocabulary): the index grows with it.
std::uint64_t vocabulary = 10000;

// Text of uniformly drawn words of the vocabulary (20 stems x suffix numbers).
std::string makeText(std::mt19937_64& rng, std::size_t bytes) {
  static const char* const Words[] = {"phishing", "mule", "account", "transfer", "indicator", "domain", "wallet",
                                      "ransomware", "botnet", "credential", "invoice", "suspect", "server", "bank",
                                      "victim", "report", "campaign", "malware", "payload", "network"};
  std::string out;
  while (out.size() < bytes) {
    out += Words[rng() % 20];
    out += std::to_string(rng() % std::max<std::uint64_t>(1, vocabulary / 20));
    out += ' ';
  }
  return out;
}

client::OpenedMessage bulletinNo(std::mt19937_64& rng, std::uint64_t n) {
  client::OpenedMessage m;
  crypto::Bytes id(16, 0);
  for (int i = 0; i < 8; ++i) id[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  m.id = *crypto::BulletinId::fromBytes(id);
  m.senderId = "sg-spf-cyber";
  m.senderName = "Singapore Police Force";
  m.senderFingerprint = "8a1f 3c2e 90d4 b7a6 5e0c 1f2b 3d4e 5a6b";
  m.createdAtMs = Now - static_cast<std::int64_t>(n) * 60'000;
  m.tlp = n % 3 == 0 ? wire::Tlp::AMBER : wire::Tlp::GREEN;
  m.category = wire::Category::ALERT;
  m.recipients = {"my-pdrm-cyber", "th-tcsd", "ph-nbi-cyber"};
  m.attackTechniques = {"T1566.002"};
  m.caseRef = "AWGC-2026-" + std::to_string(n % 50);
  m.title = makeText(rng, 60);
  m.body = makeText(rng, 2048);
  return m;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"focal-archive-bench: open, save and search the local archive"};
  std::vector<std::size_t> sizes{1000, 10000};
  int runs = 5;
  std::string dir = "/tmp/focal-archive-bench";
  bool json = false;
  app.add_option("--bulletins", sizes, "Archive sizes to measure");
  app.add_option("--vocabulary", vocabulary, "Distinct words in titles and bodies (default 10000)");
  app.add_option("--runs", runs, "Runs per figure (the median is printed)");
  app.add_option("--dir", dir, "Where the archive file is written");
  app.add_flag("--json", json, "One JSON document");
  CLI11_PARSE(app, argc, argv);
  crypto::initialize();
  std::filesystem::create_directories(dir);
  const crypto::Keyring keys(crypto::MemberKeys::generate("my-pdrm-cyber", Now));
  nlohmann::json out = nlohmann::json::array();
  for (const auto n : sizes) {
    const auto file = std::filesystem::path(dir) / ("archive-" + std::to_string(n) + ".bin");
    std::filesystem::remove(file);
    std::mt19937_64 rng(42);
    {
      auto a = client::Archive::open(file, keys);
      for (std::uint64_t i = 0; i < n; ++i) a.record(bulletinNo(rng, i), Now);
      a.save({}, Now);
    }
    std::vector<double> open, save, search, retract, known;
    for (int r = 0; r < runs; ++r) {
      auto t0 = Clock::now();
      const auto ids = client::Archive::knownIds(file);  // a command that opened nothing new
      known.push_back(ms(Clock::now() - t0));
      if (!ids || ids->retracted.size() < n) throw std::runtime_error("the id list does not match");
      t0 = Clock::now();
      auto a = client::Archive::open(file, keys);
      open.push_back(ms(Clock::now() - t0));
      t0 = Clock::now();
      const auto hits = a.search("phishing42 account7", {});
      search.push_back(ms(Clock::now() - t0));
      (void)hits;
      a.markAcknowledged(bulletinNo(rng, static_cast<std::uint64_t>(r)).id);  // one change, as an ack makes
      a.record(bulletinNo(rng, n + static_cast<std::uint64_t>(r)), Now);
      t0 = Clock::now();
      a.save({}, Now);
      save.push_back(ms(Clock::now() - t0));
      auto m = bulletinNo(rng, static_cast<std::uint64_t>(r) + 1);
      m.retraction = protocol::RetractionInfo{m.id, m.senderId, "bench", Now};
      a.record(m, Now);
      t0 = Clock::now();
      a.save({}, Now);
      retract.push_back(ms(Clock::now() - t0));
    }
    const auto size = std::filesystem::file_size(file);
    out.push_back({{"bulletins", n},
                   {"file_bytes", size},
                   {"open_ms", median(open)},
                   {"save_ms", median(save)},
                   {"search_ms", median(search)},
                   {"save_after_retraction_ms", median(retract)},
                   {"known_ids_ms", median(known)}});
    if (!json) {
      std::printf("%6zu bulletins  file %7.1f MiB  open %7.1f ms  save %7.1f ms  open+save %7.1f ms  search %5.2f ms  "
                  "save after a retraction %7.1f ms  nothing new (id list) %5.2f ms\n",
                  n, static_cast<double>(size) / (1024.0 * 1024.0), median(open), median(save),
                  median(open) + median(save), median(search), median(retract), median(known));
    }
  }
  if (json) std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
