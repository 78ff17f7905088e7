// mosquitto-bench: the MQTT reference beside focal-bench (bench/peers.sh):
// Debian 12's mosquitto 2.0 broker, QoS 1 over TLS, driven through
// libmosquitto. QoS 1 means the broker acknowledges each PUBLISH (PUBACK)
// and each subscriber acknowledges each delivery; the broker neither
// verifies a signature nor fsyncs a message.
//
//   ingest: P publishers, each on its own connection with at most WINDOW
//           unacknowledged messages (max_inflight), publish COUNT/P
//           messages of SIZE bytes; the figure is PUBACKs per second.
//   fanout: SUBSCRIBERS persistent sessions (clean session off) subscribe
//           at QoS 1 first; then the publishers publish; the figure is
//           deliveries per second until every subscriber has every message.
//
// One JSON line on stdout, as jetstream-bench. Exit 2 if a message is missing.
#include <mosquitto.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

struct Args {
  std::string host = "127.0.0.1";
  int port = 8883;
  std::string ca;
  std::string mode = "ingest";
  long count = 100000;
  int size = 1024;
  int publishers = 4;
  int subscribers = 10;
  int window = 64;
  // Unique per run: the subscribers' persistent sessions outlive the run in
  // the broker, and must not collect the next run's messages.
  std::string tag = std::to_string(::getpid());
  std::string topic() const { return "bench/" + tag; }
};

void check(const char* what, int rc) {
  if (rc != MOSQ_ERR_SUCCESS) {
    std::fprintf(stderr, "mosquitto-bench: %s: %s\n", what, mosquitto_strerror(rc));
    std::exit(1);
  }
}

// What a client's callbacks (on libmosquitto's loop thread) count.
struct Counter {
  long expected = 0;
  std::atomic<long> count{0};
  std::atomic<bool> connected{false};
  std::atomic<bool> subscribed{false};
  std::mutex mutex;
  std::condition_variable cv;

  void bump(std::atomic<long>& n) {
    if (n.fetch_add(1) + 1 == expected) {
      std::lock_guard lock(mutex);
      cv.notify_all();
    }
  }
  template <class Pred>
  bool waitFor(Pred pred, int seconds) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(seconds), pred);
  }
  void signal() {
    std::lock_guard lock(mutex);
    cv.notify_all();
  }
};

void onConnect(mosquitto*, void* obj, int rc) {
  auto* c = static_cast<Counter*>(obj);
  c->connected = rc == 0;
  c->signal();
}
void onPublish(mosquitto*, void* obj, int) {
  auto* c = static_cast<Counter*>(obj);
  c->bump(c->count);
}
void onSubscribe(mosquitto*, void* obj, int, int, const int*) {
  auto* c = static_cast<Counter*>(obj);
  c->subscribed = true;
  c->signal();
}
void onMessage(mosquitto*, void* obj, const mosquitto_message*) {
  auto* c = static_cast<Counter*>(obj);
  c->bump(c->count);
}

mosquitto* client(const Args& a, const std::string& id, bool cleanSession, Counter* counter) {
  mosquitto* m = mosquitto_new(id.c_str(), cleanSession, counter);
  if (m == nullptr) {
    std::fprintf(stderr, "mosquitto-bench: mosquitto_new failed\n");
    std::exit(1);
  }
  if (!a.ca.empty()) check("tls", mosquitto_tls_set(m, a.ca.c_str(), nullptr, nullptr, nullptr, nullptr));
  check("max inflight", mosquitto_max_inflight_messages_set(m, static_cast<unsigned>(a.window)));
  mosquitto_connect_callback_set(m, onConnect);
  mosquitto_publish_callback_set(m, onPublish);
  mosquitto_subscribe_callback_set(m, onSubscribe);
  mosquitto_message_callback_set(m, onMessage);
  check("connect", mosquitto_connect(m, a.host.c_str(), a.port, 60));
  check("loop", mosquitto_loop_start(m));
  if (!counter->waitFor([counter] { return counter->connected.load(); }, 30)) {
    std::fprintf(stderr, "mosquitto-bench: %s did not connect\n", id.c_str());
    std::exit(1);
  }
  return m;
}

void close(mosquitto* m) {
  mosquitto_disconnect(m);
  mosquitto_loop_stop(m, false);
  mosquitto_destroy(m);
}

// All publishers, each publishing its share; returns whether every PUBACK came.
bool runPublishers(const Args& a) {
  std::vector<std::thread> threads;
  std::atomic<bool> ok{true};
  for (int p = 0; p < a.publishers; ++p) {
    const long share = a.count / a.publishers + (p < a.count % a.publishers ? 1 : 0);
    threads.emplace_back([&a, &ok, p, share] {
      Counter counter;
      counter.expected = share;
      mosquitto* m = client(a, "pub" + std::to_string(p) + "-" + a.tag, true, &counter);
      std::vector<char> body(static_cast<size_t>(a.size), 'x');
      for (long i = 0; i < share; ++i) check("publish", mosquitto_publish(m, nullptr, a.topic().c_str(), a.size, body.data(), 1, false));
      if (!counter.waitFor([&] { return counter.count.load() >= share; }, 120)) ok = false;
      close(m);
    });
  }
  for (auto& t : threads) t.join();
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--host") a.host = v;
    else if (k == "--port") a.port = std::atoi(v);
    else if (k == "--ca") a.ca = v;
    else if (k == "--mode") a.mode = v;
    else if (k == "--count") a.count = std::atol(v);
    else if (k == "--size") a.size = std::atoi(v);
    else if (k == "--publishers") a.publishers = std::atoi(v);
    else if (k == "--subscribers") a.subscribers = std::atoi(v);
    else if (k == "--window") a.window = std::atoi(v);
    else {
      std::fprintf(stderr, "mosquitto-bench: unknown option %s\n", k.c_str());
      return 1;
    }
  }
  if ((argc - 1) % 2 != 0 || a.count <= 0 || a.size <= 0 || a.publishers <= 0 || a.subscribers <= 0 ||
      a.window <= 0 || (a.mode != "ingest" && a.mode != "fanout")) {
    std::fprintf(stderr,
                 "usage: mosquitto-bench [--host H] [--port P] [--ca FILE] [--mode ingest|fanout] [--count N]\n"
                 "         [--size BYTES] [--publishers P] [--subscribers S] [--window W]\n");
    return 1;
  }
  mosquitto_lib_init();
  std::vector<std::unique_ptr<Counter>> counters;
  std::vector<mosquitto*> subs;
  if (a.mode == "fanout") {
    for (int s = 0; s < a.subscribers; ++s) {
      auto counter = std::make_unique<Counter>();
      counter->expected = a.count;
      mosquitto* m = client(a, "sub" + std::to_string(s) + "-" + a.tag, false, counter.get());
      check("subscribe", mosquitto_subscribe(m, nullptr, a.topic().c_str(), 1));
      Counter* c = counter.get();
      if (!c->waitFor([c] { return c->subscribed.load(); }, 30)) {
        std::fprintf(stderr, "mosquitto-bench: subscription %d not confirmed\n", s);
        return 1;
      }
      counters.push_back(std::move(counter));
      subs.push_back(m);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  bool ok = runPublishers(a);
  long deliveries = 0;
  for (auto& c : counters) {
    Counter* cp = c.get();
    ok = cp->waitFor([cp] { return cp->count.load() >= cp->expected; }, 120) && ok;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto& c : counters) deliveries += c->count.load();
  for (auto* m : subs) close(m);
  mosquitto_lib_cleanup();
  if (a.mode == "ingest") {
    std::printf("{\"mode\":\"ingest\",\"count\":%ld,\"seconds\":%.4f,\"rate\":%.0f}\n", a.count, seconds,
                static_cast<double>(a.count) / seconds);
  } else {
    std::printf("{\"mode\":\"fanout\",\"count\":%ld,\"subscribers\":%d,\"deliveries\":%ld,\"seconds\":%.4f,\"rate\":%.0f}\n",
                a.count, a.subscribers, deliveries, seconds, static_cast<double>(deliveries) / seconds);
  }
  return ok ? 0 : 2;
}
