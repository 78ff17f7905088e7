// focal-store-bench: the writer's share of a fan-out, without the network.
//
// focal-bench measures the whole hub, but on a shared 2-vCPU machine the
// same code varies by 20 % between minutes, which hides a 5 % change in the
// writer. This runs the writer's work of a fan-out in process, through the
// real CommitQueue (grouped requests, one COMMIT and fsync per group,
// the checkpointer) on a real hub database: store the bulletins and queue
// them per recipient, mark them delivered, acknowledge them, in rounds of
// one ack's worth of bulletins. It prints the CPU time of each phase per
// bulletin. Ids are pseudo-random from a fixed seed, so that the runs are
// identical, and under `valgrind --tool=callgrind` two builds can be
// compared by instructions, which noise does not change.
//
// Figures for the notes, never timed assertions.
//
//   focal-store-bench [--bulletins N] [--recipients R] [--group G] [--ack-batch A] [--json]
#include "server/commit_queue.hpp"
#include "server/store.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace focal;
using namespace focal::server;
using Clock = std::chrono::steady_clock;

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// splitmix64: reproducible ids with the random spread of real ones.
struct Ids {
  std::uint64_t state = 0x5eed;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  template <class F>
  F fixed() {
    F f;
    for (std::size_t i = 0; i < F::size; i += 8) {
      const std::uint64_t v = next();
      for (std::size_t k = 0; k < 8 && i + k < F::size; ++k) f.bytes[i + k] = static_cast<std::uint8_t>(v >> (8 * k));
    }
    return f;
  }
};

struct Phase {
  std::string name;
  std::size_t requests = 0;
  double wallS = 0;
  double cpuS = 0;
};

// Submits the jobs `group` at a time and waits for each group's answers,
// so that each group is one commit, as under steady load; adds the time
// taken to `phase`.
template <class R>
void runPhase(Phase& phase, CommitQueue& queue, std::vector<std::function<Result<R>(sqlite::Database&)>> jobs,
              std::size_t group) {
  const double cpu0 = cpuSeconds();
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < jobs.size(); i += group) {
    net::io_context io;
    std::size_t failed = 0;
    for (std::size_t k = i; k < std::min(jobs.size(), i + group); ++k) {
      queue.submit<R>(std::move(jobs[k]), net::bind_executor(io, [&failed](Result<R> r) { failed += r.ok() ? 0 : 1; }));
    }
    io.run();
    if (failed != 0) throw std::runtime_error(phase.name + ": " + std::to_string(failed) + " requests failed");
  }
  phase.requests += jobs.size();
  phase.wallS += std::chrono::duration<double>(Clock::now() - t0).count();
  phase.cpuS += cpuSeconds() - cpu0;
}

}  // namespace

int main(int argc, char** argv) {
  sqlite::configureProcess();  // as focald does
  std::size_t bulletins = 20'000, recipients = 10, group = 32, ackBatch = 256;
  bool json = false;
  CLI::App app{"The hub writer's CPU per bulletin for a fan-out: store and queue, mark delivered, acknowledge"};
  app.add_option("--bulletins", bulletins, "Bulletins")->capture_default_str()->check(CLI::Range(1, 10'000'000));
  app.add_option("--recipients", recipients, "Recipients per bulletin")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--group", group, "Requests per commit")->capture_default_str()->check(CLI::Range(1, 512));
  app.add_option("--ack-batch", ackBatch, "Ids per ack (and per delivered-marks round)")
      ->capture_default_str()
      ->check(CLI::Range(1, 512));
  app.add_flag("--json", json, "Print one JSON object");
  CLI11_PARSE(app, argc, argv);

  const auto dir = std::filesystem::temp_directory_path() / ("focal-store-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto dbPath = dir / "focal.db";
  int rc = 0;
  try {
    {
      auto db = sqlite::Database::open(dbPath, sqlite::Database::Mode::ReadWriteCreate);
      Store::createSchema(db);
    }
    CommitQueue queue(dbPath, CommitQueue::Options{});
    queue.start();

    Ids ids;
    std::vector<std::string> members;
    for (std::size_t r = 0; r < recipients; ++r) members.push_back("bench-poc-" + std::to_string(r));
    const auto senderKey = ids.fixed<crypto::SigningPublicKey>();
    const auto encKey = ids.fixed<crypto::BoxPublicKey>();
    const crypto::Bytes ackBody(ackBatch * 16 + 64, 0x41);
    const auto ackSig = ids.fixed<crypto::Signature>();
    std::vector<Phase> phases{{"store and queue"}, {"mark delivered"}, {"acknowledge"}};
    // Rounds of ackBatch bulletins, as the hub sees them under steady load:
    // the bulletins stored (group by group), then each recipient's
    // delivered marks and ack for them, while their pages are still cached.
    for (std::size_t first = 0; first < bulletins; first += ackBatch) {
      const std::size_t n = std::min(ackBatch, bulletins - first);
      std::vector<crypto::BulletinId> roundIds;
      auto seqs = std::make_shared<std::vector<std::vector<std::int64_t>>>(recipients);
      std::vector<std::function<Result<SendOutcome>(sqlite::Database&)>> sends;
      for (std::size_t i = 0; i < n; ++i) {
        auto b = std::make_shared<NewBulletin>();
        b->id = ids.fixed<crypto::BulletinId>();
        b->senderId = "bench-sender";
        b->senderKey = senderKey;
        b->header = crypto::Bytes(300, 0x48);            // about a real header's size
        b->signature = ids.fixed<crypto::Signature>();
        b->ciphertext = crypto::Bytes(1024 + 40, 0x43);  // a 1 KiB body, sealed
        b->createdAtMs = b->acceptedAtMs = 1'000'000 + static_cast<std::int64_t>(first + i);
        b->tlp = 2;
        for (const auto& m : members) b->recipients.push_back(NewBulletin::Recipient{m, encKey});
        roundIds.push_back(b->id);
        sends.emplace_back([b, seqs](sqlite::Database& db) {
          auto r = Store::insertBulletin(db, *b);
          if (r) {
            for (std::size_t k = 0; k < r->queued.size(); ++k) (*seqs)[k].push_back(r->queued[k].seq);
          }
          return r;
        });
      }
      runPhase<SendOutcome>(phases[0], queue, std::move(sends), group);

      std::vector<std::function<Result<Ok>(sqlite::Database&)>> marks;
      for (std::size_t m = 0; m < recipients; ++m) {
        marks.emplace_back([seqs, m](sqlite::Database& db) -> Result<Ok> {
          Store::markDelivered(db, (*seqs)[m], 2'000'000);
          return Ok{};
        });
      }
      runPhase<Ok>(phases[1], queue, std::move(marks), group);

      std::vector<std::function<Result<std::uint32_t>(sqlite::Database&)>> acks;
      for (const auto& m : members) {
        acks.emplace_back([roundIds, m, ackBody, ackSig](sqlite::Database& db) -> Result<std::uint32_t> {
          const auto removed = Store::acknowledge(db, m, roundIds, 3'000'000);
          if (removed != roundIds.size()) throw std::runtime_error("an ack removed fewer entries than it named");
          Store::recordAck(db, m, ackBody, ackSig, 3'000'000);
          return removed;
        });
      }
      runPhase<std::uint32_t>(phases[2], queue, std::move(acks), group);
    }
    queue.stop();

    double cpuTotal = 0;
    nlohmann::json out{{"bulletins", bulletins}, {"recipients", recipients}, {"group", group}, {"ack_batch", ackBatch}};
    if (!json) {
      std::printf("focal-store-bench: %zu bulletins to %zu recipients, %zu requests per commit, %zu ids per ack\n",
                  bulletins, recipients, group, ackBatch);
    }
    for (const auto& p : phases) {
      cpuTotal += p.cpuS;
      const double usPerBulletin = p.cpuS * 1e6 / static_cast<double>(bulletins);
      out["phases"].push_back({{"phase", p.name},
                               {"requests", p.requests},
                               {"wall_s", p.wallS},
                               {"cpu_s", p.cpuS},
                               {"cpu_us_per_bulletin", usPerBulletin}});
      if (!json) {
        std::printf("  %-16s %6zu requests  wall %6.3f s  CPU %6.3f s = %6.1f us per bulletin\n", p.name.c_str(),
                    p.requests, p.wallS, p.cpuS, usPerBulletin);
      }
    }
    const double total = cpuTotal * 1e6 / static_cast<double>(bulletins);
    out["cpu_us_per_bulletin"] = total;
    if (json) {
      std::printf("%s\n", out.dump().c_str());
    } else {
      std::printf("  %-16s %6s           %6s     CPU %6.3f s = %6.1f us per bulletin (%.1f per delivery)\n", "all", "",
                  "", cpuTotal, total, total / static_cast<double>(recipients));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "focal-store-bench: %s\n", e.what());
    rc = 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
