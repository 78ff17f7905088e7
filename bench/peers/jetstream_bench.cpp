// jetstream-bench: the reference a user would pick instead of Focal for
// "publish durably, deliver to N consumers with per-consumer acks" — NATS
// JetStream (Debian 12's nats-server 2.9, file store, TLS), driven through
// the NATS C client (libnats 3.4). bench/peers.sh runs it beside
// focal-bench in one go, so RESULTS.md compares ratios measured in one run.
//
//   ingest: P publishers, each on its own connection, publish COUNT/P
//           messages of SIZE bytes asynchronously with at most WINDOW
//           unacknowledged each; the figure is messages acknowledged by the
//           server (stored) per second.
//   fanout: CONSUMERS durable push consumers (explicit acks, each on its own
//           connection) are subscribed first; then the publishers publish;
//           the figure is deliveries (messages received by a consumer) per
//           second until every consumer has every message. Consumers ack
//           every ACK_EVERY-th message and their last (AckAll policy: one ack
//           covers the ones before it, as a Focal receiver acks a batch).
//
// One JSON line on stdout: {"mode":..,"count":..,"seconds":..,"rate":..}.
// Exit 2 if a message is missing or the server refused one.
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Args {
  std::string url = "tls://127.0.0.1:4222";
  std::string ca;
  std::string mode = "ingest";
  long count = 100000;
  int size = 1024;
  int publishers = 4;
  int consumers = 10;
  int window = 64;
  int ackEvery = 256;
};

[[noreturn]] void fail(const char* what, natsStatus s) {
  std::fprintf(stderr, "jetstream-bench: %s: %s\n", what, natsStatus_GetText(s));
  nats_PrintLastErrorStack(stderr);
  std::exit(1);
}

void check(const char* what, natsStatus s) {
  if (s != NATS_OK) fail(what, s);
}

natsConnection* connect(const Args& a) {
  natsOptions* opts = nullptr;
  check("options", natsOptions_Create(&opts));
  check("url", natsOptions_SetURL(opts, a.url.c_str()));
  if (!a.ca.empty()) {
    check("tls", natsOptions_SetSecure(opts, true));
    check("ca", natsOptions_LoadCATrustedCertificates(opts, a.ca.c_str()));
  }
  natsConnection* nc = nullptr;
  check("connect", natsConnection_Connect(&nc, opts));
  natsOptions_Destroy(opts);
  return nc;
}

std::atomic<long> refused{0};

void onPubError(jsCtx*, jsPubAckErr*, void*) { refused.fetch_add(1); }

// Publishes `count` messages on its own connection; returns when the
// server acknowledged all of them.
void publish(const Args& a, long count) {
  natsConnection* nc = connect(a);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = a.window;
  jo.PublishAsync.ErrHandler = onPubError;
  jsCtx* js = nullptr;
  check("jetstream", natsConnection_JetStream(&js, nc, &jo));
  std::vector<char> body(static_cast<size_t>(a.size), 'x');
  for (long i = 0; i < count; ++i) {
    check("publish", js_PublishAsync(js, "bench.m", body.data(), a.size, nullptr));
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 120000;
  check("publish complete", js_PublishAsyncComplete(js, &po));
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

struct Consumer {
  long expected = 0;
  int ackEvery = 256;
  long received = 0;
  std::mutex* mutex = nullptr;
  std::condition_variable* done = nullptr;
  long* finished = nullptr;
};

void onMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* c = static_cast<Consumer*>(closure);
  ++c->received;
  if (c->received % c->ackEvery == 0 || c->received == c->expected) natsMsg_Ack(msg, nullptr);
  natsMsg_Destroy(msg);
  if (c->received == c->expected) {
    std::lock_guard lock(*c->mutex);
    ++*c->finished;
    c->done->notify_all();
  }
}

void freshStream(const Args& a) {
  natsConnection* nc = connect(a);
  jsCtx* js = nullptr;
  check("jetstream", natsConnection_JetStream(&js, nc, nullptr));
  jsErrCode err{};
  js_DeleteStream(js, "BENCH", nullptr, &err);  // absent the first time
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = "BENCH";
  const char* subjects[] = {"bench.m"};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  jsStreamInfo* si = nullptr;
  check("add stream", js_AddStream(&si, js, &cfg, nullptr, &err));
  jsStreamInfo_Destroy(si);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

double runPublishers(const Args& a) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int p = 0; p < a.publishers; ++p) {
    const long share = a.count / a.publishers + (p < a.count % a.publishers ? 1 : 0);
    threads.emplace_back([&a, share] { publish(a, share); });
  }
  for (auto& t : threads) t.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--url") a.url = v;
    else if (k == "--ca") a.ca = v;
    else if (k == "--mode") a.mode = v;
    else if (k == "--count") a.count = std::atol(v);
    else if (k == "--size") a.size = std::atoi(v);
    else if (k == "--publishers") a.publishers = std::atoi(v);
    else if (k == "--consumers") a.consumers = std::atoi(v);
    else if (k == "--window") a.window = std::atoi(v);
    else if (k == "--ack-every") a.ackEvery = std::atoi(v);
    else {
      std::fprintf(stderr, "jetstream-bench: unknown option %s\n", k.c_str());
      return 1;
    }
  }
  if ((argc - 1) % 2 != 0 || a.count <= 0 || a.size <= 0 || a.publishers <= 0 || a.consumers <= 0 ||
      a.window <= 0 || a.ackEvery <= 0 || (a.mode != "ingest" && a.mode != "fanout")) {
    std::fprintf(stderr,
                 "usage: jetstream-bench [--url tls://HOST:PORT] [--ca FILE] [--mode ingest|fanout] [--count N]\n"
                 "         [--size BYTES] [--publishers P] [--consumers C] [--window W] [--ack-every K]\n");
    return 1;
  }
  freshStream(a);

  if (a.mode == "ingest") {
    const double seconds = runPublishers(a);
    std::printf("{\"mode\":\"ingest\",\"count\":%ld,\"seconds\":%.4f,\"rate\":%.0f,\"refused\":%ld}\n", a.count,
                seconds, static_cast<double>(a.count) / seconds, refused.load());
    return refused.load() == 0 ? 0 : 2;
  }

  std::mutex mutex;
  std::condition_variable done;
  long finished = 0;
  std::vector<std::unique_ptr<Consumer>> consumers;
  std::vector<natsConnection*> connections;
  std::vector<natsSubscription*> subs;
  std::vector<jsCtx*> contexts;
  for (int c = 0; c < a.consumers; ++c) {
    auto consumer = std::make_unique<Consumer>();
    consumer->expected = a.count;
    consumer->ackEvery = a.ackEvery;
    consumer->mutex = &mutex;
    consumer->done = &done;
    consumer->finished = &finished;
    natsConnection* nc = connect(a);
    jsCtx* js = nullptr;
    check("jetstream", natsConnection_JetStream(&js, nc, nullptr));
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.ManualAck = true;
    const std::string durable = "c" + std::to_string(c);
    so.Config.Durable = durable.c_str();
    so.Config.AckPolicy = js_AckAll;
    so.Config.MaxAckPending = 20000;
    natsSubscription* sub = nullptr;
    jsErrCode err{};
    check("subscribe", js_Subscribe(&sub, js, "bench.m", onMessage, consumer.get(), nullptr, &so, &err));
    check("pending limits", natsSubscription_SetPendingLimits(sub, -1, -1));
    consumers.push_back(std::move(consumer));
    connections.push_back(nc);
    subs.push_back(sub);
    contexts.push_back(js);
  }
  const auto start = std::chrono::steady_clock::now();
  runPublishers(a);
  bool complete = false;
  {
    std::unique_lock lock(mutex);
    complete = done.wait_for(lock, std::chrono::seconds(120), [&] { return finished == a.consumers; });
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  long deliveries = 0;
  for (int c = 0; c < a.consumers; ++c) {
    natsSubscription_Unsubscribe(subs[static_cast<size_t>(c)]);
    natsSubscription_Destroy(subs[static_cast<size_t>(c)]);
  }
  for (auto& c : consumers) deliveries += c->received;
  for (auto* js : contexts) jsCtx_Destroy(js);
  for (auto* nc : connections) natsConnection_Destroy(nc);
  std::printf("{\"mode\":\"fanout\",\"count\":%ld,\"consumers\":%d,\"deliveries\":%ld,\"seconds\":%.4f,\"rate\":%.0f,"
              "\"refused\":%ld}\n",
              a.count, a.consumers, deliveries, seconds, static_cast<double>(deliveries) / seconds, refused.load());
  return complete && refused.load() == 0 ? 0 : 2;
}
