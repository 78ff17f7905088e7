#include "bench/load/bulletin_load.hpp"

#include "bench/load/members.hpp"
#include "bench/load/proc_stats.hpp"
#include "bench/load/profiler.hpp"
#include "bench/load/stats.hpp"
#include "client/client_error.hpp"
#include "client/connection.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/limits.hpp"
#include "protocol/message.hpp"
#include "tests/support/raw_client.hpp"

#include <capnp/message.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <latch>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace focal::bench {

namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch()).count();
}

SteadyClock::time_point fromNs(std::int64_t ns) { return SteadyClock::time_point(std::chrono::nanoseconds(ns)); }

struct IdHash {
  std::size_t operator()(const crypto::BulletinId& id) const {
    std::uint64_t v = 0;
    std::memcpy(&v, id.data(), sizeof v);  // ids are random
    return static_cast<std::size_t>(v);
  }
};

struct SignatureHash {
  std::size_t operator()(const crypto::Signature& sig) const {
    std::uint64_t v = 0;
    std::memcpy(&v, sig.data() + 32, sizeof v);  // S half: uniformly spread
    return static_cast<std::size_t>(v);
  }
};

// Request ids of the raw sender, far from the ones the Connection hands out
// itself (authenticate is 1), so a stray answer cannot be mistaken.
constexpr std::uint64_t RawIdBase = 1'000'000;
// A sender that hears nothing for this long gives up (the hub is stuck).
constexpr auto AnswerTimeout = 30s;
// Threads that open idle connections (TLS handshakes + authentication).
constexpr std::size_t IdleOpeners = 4;

struct SenderPlan {
  std::size_t firstIndex = 0;          // global index of its first bulletin
  std::size_t count = 0;
  std::vector<std::size_t> receivers;  // receiver numbers it addresses
  std::vector<protocol::SealedBulletin> sealed;  // library sender
  std::vector<crypto::Bytes> frames;             // raw sender
};

struct SenderResult {
  std::size_t accepted = 0;
  std::map<std::string, std::size_t> refused;  // by error name
  std::int64_t firstWriteNs = 0;
  std::int64_t lastAcceptNs = 0;
  std::vector<std::int64_t> acceptLatencyNs;
};

struct ReceiverResult {
  std::size_t received = 0;
  std::size_t duplicates = 0;
  std::size_t foreign = 0;   // a push of a bulletin this run did not send
  std::size_t untimed = 0;   // pushed before its send stamp was visible (should not happen)
  std::size_t dropped = 0;   // client-side push buffer overflow
  std::size_t acks = 0;
  std::int64_t lastPushNs = 0;
  std::vector<std::int64_t> latencyNs;
};

struct Shared {
  std::size_t total = 0;
  std::unique_ptr<std::atomic<std::int64_t>[]> sendNs;        // per bulletin, 0 = not yet written
  // Read-only during the run. Receivers find a push by its signature
  // (unique per bulletin, and in the push as it is): reading the id out of
  // the header would decode every header a second time, a cost of the load
  // generator, not of the hub.
  std::unordered_map<crypto::Signature, std::uint32_t, SignatureHash> bySignature;
  std::vector<crypto::BulletinId> ids;  // by global index
  std::unique_ptr<std::atomic<std::int64_t>[]> expected;      // per receiver, minus refusals
  std::atomic<std::size_t> sendersDone{0};
  std::atomic<bool> abort{false};
  std::int64_t t0Ns = 0;
  std::mutex errorsMutex;
  std::vector<std::string> errors;

  void fail(const std::string& who, const std::string& what) {
    std::lock_guard lock(errorsMutex);
    errors.push_back(who + ": " + what);
    abort = true;
  }
};

std::string bodyText(std::size_t bytes) {
  std::string s(bytes, 'a');
  crypto::Bytes r(bytes);
  crypto::randomFill(r);
  for (std::size_t i = 0; i < bytes; ++i) s[i] = static_cast<char>('a' + r[i] % 26);
  return s;
}

void sealPlan(SenderPlan& plan, const std::string& hubId, const crypto::MemberKeys& sender,
              const std::vector<crypto::MemberKeys>& receivers, const std::string& body, SenderApi api) {
  protocol::BulletinDraft draft;
  draft.hubId = hubId;
  draft.tlp = wire::Tlp::AMBER;
  draft.category = wire::Category::TREND;
  draft.body = body;
  for (auto r : plan.receivers) {
    draft.addresses.push_back(receivers[r].memberId);
    draft.recipients.push_back(protocol::RecipientKey{receivers[r].memberId, receivers[r].encryption.publicKey});
  }
  std::sort(draft.recipients.begin(), draft.recipients.end(),
            [](const auto& a, const auto& b) { return a.memberId < b.memberId; });
  plan.sealed.reserve(plan.count);
  for (std::size_t k = 0; k < plan.count; ++k) {
    draft.title = "focal-bench " + std::to_string(plan.firstIndex + k);
    const auto key = crypto::ContentKey::random();
    auto sealed = protocol::sealBulletin(draft, sender, key, wallMs());
    if (!sealed) throw std::runtime_error(std::string("sealBulletin: ") + protocol::describe(sealed.error()));
    plan.sealed.push_back(std::move(sealed).value());
  }
  if (api == SenderApi::Raw) {
    plan.frames.reserve(plan.count);
    for (std::size_t k = 0; k < plan.count; ++k) {
      capnp::MallocMessageBuilder mb;
      auto frame = mb.initRoot<wire::ClientFrame>();
      frame.setId(RawIdBase + k);
      protocol::toWire(plan.sealed[k], frame.initSend().initBulletin());
      plan.frames.push_back(protocol::toFrame(mb));
    }
  }
}

// When bulletin k of sender `c` is due under --rate (per-client schedule,
// staggered so the C senders interleave evenly).
std::int64_t dueNs(const Shared& shared, const LoadConfig& config, std::size_t c, std::size_t k) {
  const double interval = 1e9 / config.rate;
  return shared.t0Ns + static_cast<std::int64_t>(static_cast<double>(k * config.clients + c) * interval);
}

void refuse(Shared& shared, const SenderPlan& plan, SenderResult& out, const std::string& code) {
  ++out.refused[code];
  for (auto r : plan.receivers) shared.expected[r].fetch_sub(1);
}

void runRawSender(Shared& shared, const LoadConfig& config, std::size_t c, const SenderPlan& plan,
                  client::Connection& conn, SenderResult& out) {
  const std::size_t n = plan.frames.size();
  std::vector<std::uint8_t> answered(n, 0);
  std::vector<std::int64_t> sentAt(n, 0);
  std::size_t inFlight = 0;
  out.acceptLatencyNs.reserve(n);

  // Reads one answer, waiting until `until`; false if none came.
  auto collect = [&](SteadyClock::time_point until) -> bool {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - SteadyClock::now());
    auto f = conn.receiveFrame(std::max(left, 1ms));
    if (!f) return false;
    const std::int64_t t = nowNs();
    const auto root = f->root();
    const std::uint64_t id = root.getId();
    if (id == 0) {
      if (root.isError()) {
        throw client::HubError(root.getError().getCode(), std::string(protocol::view(root.getError().getMessage())));
      }
      throw std::runtime_error("unexpected push on a sending connection");
    }
    const std::uint64_t k = id - RawIdBase;
    if (id < RawIdBase || k >= n || answered[k] != 0) throw std::runtime_error("answer to an unknown request id");
    answered[k] = 1;
    --inFlight;
    if (root.isAccepted()) {
      ++out.accepted;
      out.lastAcceptNs = std::max(out.lastAcceptNs, t);
      out.acceptLatencyNs.push_back(t - sentAt[k]);
    } else if (root.isError()) {
      refuse(shared, plan, out, protocol::errorName(root.getError().getCode()));
    } else {
      throw std::runtime_error("send answered with an unexpected frame");
    }
    return true;
  };
  auto collectBlocking = [&] {
    if (!collect(SteadyClock::now() + AnswerTimeout)) {
      throw std::runtime_error("no answer from the hub within " + std::to_string(AnswerTimeout.count()) + " s");
    }
  };

  for (std::size_t k = 0; k < n && !shared.abort; ++k) {
    if (config.rate > 0) {
      const auto due = fromNs(dueNs(shared, config, c, k));
      while (SteadyClock::now() < due) {
        if (inFlight > 0) {
          (void)collect(due);
        } else {
          std::this_thread::sleep_until(due);
        }
      }
    }
    while (inFlight >= config.window) collectBlocking();
    const std::int64_t t = nowNs();
    sentAt[k] = t;
    shared.sendNs[plan.firstIndex + k].store(t, std::memory_order_release);
    if (out.firstWriteNs == 0) out.firstWriteNs = t;
    conn.sendRawBytes(plan.frames[k]);
    ++inFlight;
  }
  while (inFlight > 0 && !shared.abort) collectBlocking();
}

void runLibrarySender(Shared& shared, const LoadConfig& config, std::size_t c, const SenderPlan& plan,
                      client::Connection& conn, SenderResult& out) {
  const std::span<const protocol::SealedBulletin> all(plan.sealed);
  std::size_t i = 0;
  while (i < all.size() && !shared.abort) {
    std::size_t j = std::min(all.size(), i + config.window);
    if (config.rate > 0) {
      std::this_thread::sleep_until(fromNs(dueNs(shared, config, c, i)));
      j = i + 1;
      while (j < all.size() && j - i < config.window && dueNs(shared, config, c, j) <= nowNs()) ++j;
    }
    const std::int64_t t = nowNs();
    for (std::size_t k = i; k < j; ++k) shared.sendNs[plan.firstIndex + k].store(t, std::memory_order_release);
    if (out.firstWriteNs == 0) out.firstWriteNs = t;
    const auto outcomes = conn.sendPipelined(all.subspan(i, j - i));
    const std::int64_t t2 = nowNs();
    for (const auto& o : outcomes) {
      if (o.accepted) {
        ++out.accepted;
        out.lastAcceptNs = t2;
        out.acceptLatencyNs.push_back(t2 - t);
      } else {
        refuse(shared, plan, out, protocol::errorName(o.code));
      }
    }
    i = j;
  }
}

void runReceiver(Shared& shared, const LoadConfig& config, std::size_t r, std::size_t senders,
                 client::Connection& conn, ReceiverResult& out) {
  std::vector<std::uint8_t> seen(shared.total, 0);
  std::vector<crypto::BulletinId> pending;
  pending.reserve(protocol::MaxAckBatch);
  auto flush = [&] {
    if (pending.empty()) return;
    (void)conn.ack(pending);
    ++out.acks;
    pending.clear();
  };
  std::optional<client::Delivery> lookahead;
  std::int64_t lookaheadNs = 0;
  auto lastActivity = SteadyClock::now();
  out.latencyNs.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, shared.expected[r].load())));

  while (!shared.abort && static_cast<std::int64_t>(out.received) < shared.expected[r].load()) {
    std::optional<client::Delivery> d;
    std::int64_t t = 0;
    if (lookahead) {
      d = std::move(lookahead);
      t = lookaheadNs;
      lookahead.reset();
    } else {
      d = conn.nextPush(50ms);
      t = nowNs();
    }
    if (!d) {
      flush();  // an idle moment: the ack costs nobody any latency
      if (shared.sendersDone.load() == senders && SteadyClock::now() - lastActivity > config.drainTimeout) break;
      continue;
    }
    lastActivity = SteadyClock::now();
    const auto sig = crypto::Signature::fromBytes(d->bulletin.signature);
    const auto it = sig ? shared.bySignature.find(*sig) : shared.bySignature.end();
    if (it == shared.bySignature.end()) {
      ++out.foreign;
      continue;
    }
    const std::uint32_t g = it->second;
    const crypto::BulletinId& id = shared.ids[g];
    if (seen[g] != 0) {
      ++out.duplicates;
      continue;
    }
    seen[g] = 1;
    ++out.received;
    out.lastPushNs = std::max(out.lastPushNs, t);
    const std::int64_t sent = shared.sendNs[g].load(std::memory_order_acquire);
    if (sent > 0) {
      out.latencyNs.push_back(t - sent);
    } else {
      ++out.untimed;
    }
    pending.push_back(id);
    if (pending.size() >= protocol::MaxAckBatch) {
      flush();
    } else if (pending.size() >= config.ackEvery) {
      lookahead = conn.nextPush(0ms);  // ack now only if no push is waiting
      lookaheadNs = nowNs();
      if (!lookahead) flush();
    }
  }
  if (lookahead) {
    // Counted on the next loop only if the run went on; it ended, so ack it.
    if (auto id = lookahead->bulletin.claimedId()) pending.push_back(*id);
  }
  if (!shared.abort) flush();
  out.dropped = conn.droppedPushes();
}

// Runs work(w) for w = 0 .. workers-1, each on a thread of its own, and
// joins them; when any threw, throws std::runtime_error with `context`
// followed by the (last caught) message.
void inParallel(std::size_t workers, const std::string& context, const std::function<void(std::size_t)>& work) {
  std::vector<std::thread> threads;
  std::mutex m;
  std::string error;
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      try {
        work(w);
      } catch (const std::exception& e) {
        std::lock_guard lock(m);
        error = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  if (!error.empty()) throw std::runtime_error(context + error);
}

// One participant of the run, on its own thread: connects as `who` with
// `options` (subscribed when `subscribe`), counts down `ready`, waits for
// `go`, then `run`s. A failure is recorded in `shared`, and `ready` is
// counted down all the same, so the run never waits for a dead participant.
void takePart(Shared& shared, std::latch& ready, std::latch& go, const HubTarget& hub, const crypto::MemberKeys& who,
              const client::ConnectOptions& options, bool subscribe,
              const std::function<void(client::Connection&)>& run) {
  std::unique_ptr<client::Connection> conn;
  bool counted = false;
  try {
    conn = connectAs(hub, who, options);
    if (subscribe) conn->subscribe();
    ready.count_down();
    counted = true;
    go.wait();
    run(*conn);
  } catch (const std::exception& e) {
    shared.fail(who.memberId, e.what());
    if (!counted) ready.count_down();
  }
}

nlohmann::json latencyJson(std::vector<std::int64_t>& ns) {
  if (ns.empty()) return {{"p50", nullptr}, {"p99", nullptr}, {"max", nullptr}, {"samples", 0}};
  auto q = quantiles(ns);
  return {{"p50", q.p50 / 1e6}, {"p99", q.p99 / 1e6}, {"max", q.max / 1e6}, {"samples", ns.size()}};
}

nlohmann::json cpuDelta(const std::map<pid_t, ThreadCpu>& before, const std::map<pid_t, ThreadCpu>& after,
                        double& total) {
  nlohmann::json threads = nlohmann::json::array();
  total = 0;
  for (const auto& [tid, t] : after) {
    const auto b = before.find(tid);
    const double d = t.seconds - (b == before.end() ? 0.0 : b->second.seconds);
    total += d;
    if (d >= 0.01) threads.push_back({{"tid", tid}, {"name", t.name}, {"cpu_s", d}});
  }
  return threads;
}

}  // namespace

nlohmann::json runBulletinLoad(const HubTarget& hub, const LoadConfig& config) {
  if (config.clients == 0 || config.count == 0 || config.recipients == 0) {
    throw std::invalid_argument("--clients, --count and --recipients must be at least 1");
  }
  if (config.recipients > protocol::MaxRecipients) throw std::invalid_argument("--recipients is over the protocol limit");
  const std::size_t C = config.clients;
  const std::size_t R = std::max(config.recipients, C);
  const std::size_t M = config.count;
  nlohmann::json setup;

  // ---- members ----
  const std::string prefix = runPrefix();
  auto t = SteadyClock::now();
  const auto senders = generateMembers(prefix, "s", C);
  const auto receivers = generateMembers(prefix, "r", R);
  const std::size_t cap =
      config.perMemberCap != 0 ? config.perMemberCap : std::max<std::size_t>(1, hub.limits.maxConnectionsPerMember);
  const std::size_t idleMemberCount = (config.idle + cap - 1) / cap;
  const auto idleMembers = generateMembers(prefix, "i", idleMemberCount);
  registerMembers(hub, senders);
  registerMembers(hub, receivers);
  registerMembers(hub, idleMembers);
  setup["register_s"] = std::chrono::duration<double>(SteadyClock::now() - t).count();
  setup["members"] = C + R + idleMemberCount;

  // ---- plan and pre-seal ----
  Shared shared;
  shared.total = M;
  shared.sendNs = std::make_unique<std::atomic<std::int64_t>[]>(M);
  shared.expected = std::make_unique<std::atomic<std::int64_t>[]>(R);
  for (std::size_t i = 0; i < M; ++i) shared.sendNs[i].store(0);
  for (std::size_t r = 0; r < R; ++r) shared.expected[r].store(0);
  std::vector<SenderPlan> plans(C);
  std::size_t next = 0;
  for (std::size_t c = 0; c < C; ++c) {
    plans[c].firstIndex = next;
    plans[c].count = M / C + (c < M % C ? 1 : 0);
    next += plans[c].count;
    for (std::size_t k = 0; k < config.recipients; ++k) plans[c].receivers.push_back((c + k) % R);
    for (auto r : plans[c].receivers) shared.expected[r] += static_cast<std::int64_t>(plans[c].count);
  }
  t = SteadyClock::now();
  {
    const std::string body = bodyText(config.bodyBytes);
    const std::size_t workers = std::max<std::size_t>(1, std::min<std::size_t>(C, std::thread::hardware_concurrency()));
    inParallel(workers, "", [&](std::size_t w) {
      for (std::size_t c = w; c < C; c += workers) sealPlan(plans[c], hub.hubId, senders[c], receivers, body, config.api);
    });
  }
  shared.ids.resize(M);
  std::unordered_set<crypto::BulletinId, IdHash> distinctIds;  // every id once, or the counts lie
  for (auto& plan : plans) {
    for (std::size_t k = 0; k < plan.count; ++k) {
      const auto g = static_cast<std::uint32_t>(plan.firstIndex + k);
      distinctIds.insert(plan.sealed[k].id);
      shared.bySignature.emplace(plan.sealed[k].signature, g);
      shared.ids[g] = plan.sealed[k].id;
    }
    if (config.api == SenderApi::Raw) {
      plan.sealed.clear();
      plan.sealed.shrink_to_fit();
    }
  }
  if (distinctIds.size() != M) throw std::runtime_error("two sealed bulletins share an id");
  if (shared.bySignature.size() != M) throw std::runtime_error("two sealed bulletins share a signature");
  setup["seal_s"] = std::chrono::duration<double>(SteadyClock::now() - t).count();

  // ---- idle connections ----
  nlohmann::json idle = nullptr;
  // For a hub on 127.0.0.1 an idle connection is a blocking socket with
  // OpenSSL on it (test_support::RawClient: one descriptor), not a
  // client::Connection (an io_context each: a socket, an epoll instance and
  // an eventfd), so that 10,000 fit in this container's 20,000 descriptors.
  const bool rawIdle = hub.host == "127.0.0.1";
  std::vector<std::unique_ptr<client::Connection>> idleConnections(rawIdle ? 0 : config.idle);
  std::vector<std::unique_ptr<test_support::RawClient>> idleRaw(rawIdle ? config.idle : 0);
  if (config.idle > 0) {
    // -1: unknown (not our hub, or /proc unreadable).
    const double rssBefore = hub.pid ? currentRssMib(*hub.pid).value_or(-1) : -1;
    t = SteadyClock::now();
    inParallel(IdleOpeners, "opening idle connections: ", [&](std::size_t w) {
      for (std::size_t j = w; j < config.idle; j += IdleOpeners) {
        if (!rawIdle) {
          idleConnections[j] = connectAs(hub, idleMembers[j / cap]);
          continue;
        }
        idleRaw[j] = std::make_unique<test_support::RawClient>(hub.port, hub.caFile, 60s);
        if (!idleRaw[j]->authenticate(idleMembers[j / cap])) {
          throw std::runtime_error("idle connection " + std::to_string(j) + " was not authenticated");
        }
      }
    });
    const double openSeconds = std::chrono::duration<double>(SteadyClock::now() - t).count();
    std::this_thread::sleep_for(500ms);  // let the hub settle (handshake buffers freed)
    const double rssWith = hub.pid ? currentRssMib(*hub.pid).value_or(-1) : -1;
    const auto known = [](double v) { return v >= 0 ? nlohmann::json(v) : nlohmann::json(nullptr); };
    idle = {{"connections", config.idle},
            {"members", idleMemberCount},
            {"per_member_cap", cap},
            {"open_s", openSeconds},
            {"server_rss_before_mib", known(rssBefore)},
            {"server_rss_with_idle_mib", known(rssWith)}};
    if (rssBefore >= 0 && rssWith >= 0) {
      idle["server_kib_per_idle_connection"] = (rssWith - rssBefore) * 1024.0 / static_cast<double>(config.idle);
    }
  }

  // ---- connect, subscribe, go ----
  std::vector<SenderResult> sent(C);
  std::vector<ReceiverResult> got(R);
  std::latch ready(static_cast<std::ptrdiff_t>(C + R));
  std::latch go(1);
  client::ConnectOptions receiverOptions;
  receiverOptions.maxBufferedPushes = 1u << 20;  // the client buffer is not what is measured
  client::ConnectOptions senderOptions;
  senderOptions.pipelineWindow = config.window;
  std::vector<std::thread> threads;
  for (std::size_t r = 0; r < R; ++r) {
    threads.emplace_back([&, r] {
      takePart(shared, ready, go, hub, receivers[r], receiverOptions, true,
               [&](client::Connection& conn) { runReceiver(shared, config, r, C, conn, got[r]); });
    });
  }
  for (std::size_t c = 0; c < C; ++c) {
    threads.emplace_back([&, c] {
      takePart(shared, ready, go, hub, senders[c], senderOptions, false, [&](client::Connection& conn) {
        if (config.api == SenderApi::Raw) {
          runRawSender(shared, config, c, plans[c], conn, sent[c]);
        } else {
          runLibrarySender(shared, config, c, plans[c], conn, sent[c]);
        }
      });
      ++shared.sendersDone;
    });
  }
  ready.wait();
  std::optional<HubProfiler> profiler;
  if (hub.pid && !config.perfOutput.empty()) profiler.emplace(*hub.pid, config.perfOutput);
  const auto hubCpuBefore = hub.pid ? threadCpu(*hub.pid) : std::map<pid_t, ThreadCpu>{};
  const double selfCpuBefore = selfCpuSeconds();
  shared.t0Ns = nowNs() + 1'000'000;  // schedules start 1 ms from now
  go.count_down();
  for (auto& th : threads) th.join();
  if (profiler) profiler->stop();
  const double selfCpu = selfCpuSeconds() - selfCpuBefore;
  const auto hubCpuAfter = hub.pid ? threadCpu(*hub.pid) : std::map<pid_t, ThreadCpu>{};

  // ---- results ----
  std::size_t accepted = 0;
  std::map<std::string, std::size_t> refused;
  std::int64_t firstWrite = 0, lastAccept = 0, lastPush = 0;
  std::vector<std::int64_t> acceptLatency, latency;
  for (auto& s : sent) {
    accepted += s.accepted;
    for (const auto& [code, n] : s.refused) refused[code] += n;
    if (s.firstWriteNs != 0) firstWrite = firstWrite == 0 ? s.firstWriteNs : std::min(firstWrite, s.firstWriteNs);
    lastAccept = std::max(lastAccept, s.lastAcceptNs);
    acceptLatency.insert(acceptLatency.end(), s.acceptLatencyNs.begin(), s.acceptLatencyNs.end());
  }
  std::size_t delivered = 0, duplicates = 0, foreign = 0, untimed = 0, dropped = 0, acks = 0;
  std::int64_t expectedDeliveries = 0;
  for (std::size_t r = 0; r < R; ++r) {
    auto& g = got[r];
    delivered += g.received;
    duplicates += g.duplicates;
    foreign += g.foreign;
    untimed += g.untimed;
    dropped += g.dropped;
    acks += g.acks;
    lastPush = std::max(lastPush, g.lastPushNs);
    latency.insert(latency.end(), g.latencyNs.begin(), g.latencyNs.end());
    expectedDeliveries += shared.expected[r].load();
  }
  const double acceptSeconds = (lastAccept - firstWrite) / 1e9;
  const double deliverSeconds = (lastPush - firstWrite) / 1e9;

  nlohmann::json doc;
  doc["mode"] = "bulletins";
  doc["accepted"] = accepted;
  doc["refused"] = refused;
  doc["delivered"] = delivered;
  doc["expected_deliveries"] = expectedDeliveries;
  doc["missing_deliveries"] = std::max<std::int64_t>(0, expectedDeliveries - static_cast<std::int64_t>(delivered));
  doc["duplicate_deliveries"] = duplicates;
  doc["foreign_deliveries"] = foreign;
  doc["untimed_deliveries"] = untimed;
  doc["client_dropped_pushes"] = dropped;
  doc["acks"] = acks;
  doc["accept_seconds"] = acceptSeconds;
  doc["deliver_seconds"] = deliverSeconds;
  doc["accepted_per_s"] = accepted > 0 && acceptSeconds > 0 ? nlohmann::json(accepted / acceptSeconds) : nullptr;
  doc["deliveries_per_s"] = delivered > 0 && deliverSeconds > 0 ? nlohmann::json(delivered / deliverSeconds) : nullptr;
  doc["latency_ms"] = latencyJson(latency);
  doc["accept_latency_ms"] = latencyJson(acceptLatency);
  doc["setup"] = setup;
  doc["idle"] = idle;
  nlohmann::json cpu;
  cpu["bench_s"] = selfCpu;
  if (hub.pid) {
    double total = 0;
    cpu["hub_threads"] = cpuDelta(hubCpuBefore, hubCpuAfter, total);
    cpu["hub_s"] = total;
    if (accepted > 0) cpu["hub_us_per_accepted"] = total * 1e6 / static_cast<double>(accepted);
  } else {
    cpu["hub_s"] = nullptr;
  }
  doc["cpu"] = cpu;
  std::lock_guard lock(shared.errorsMutex);
  doc["errors"] = shared.errors;
  return doc;  // idle connections close here; the hub's VmHWM keeps their peak
}

}  // namespace focal::bench
