// The bulletin load: C sending clients, max(N, C) subscribed receivers,
// M pre-sealed bulletins of one size, each to N receivers.
//
// What is timed, and what is not:
//  * Sealing (client CPU: signing, key wrapping, AEAD) and, for the raw
//    sender, serialising each SendBulletin frame happen before the clock
//    starts. Member registration and connection setup too.
//  * accepted/s: accepted bulletins / (last Accepted - first write).
//  * deliveries/s: pushes received by all receivers / (last push - first
//    write).
//  * latency: from just before the frame's write to the moment the
//    receiver's nextPush() returns it (one process, one steady clock). A
//    send time is stored per bulletin index in a lock-free table; receivers
//    find the index through an id -> index map built before the run and
//    read-only during it.
//  * Receivers ack in signed batches (>= ackEvery ids, sent when no push is
//    waiting, or at MaxAckBatch regardless) so an ack round trip does not sit
//    in front of a waiting push more than it has to.
//
// Two ways to send, same frames on the wire, window-limited pipelining:
//  * Raw (default): the pre-serialised SendBulletin frames are written with
//    Connection::sendRawBytes and answers read with receiveFrame, so each
//    frame can be time-stamped just before its write. This is the loop of
//    Connection::sendPipelined, which has no per-write hook.
//  * Library: Connection::sendPipelined on slices of `window` bulletins; the
//    send stamp of a slice is taken before the call, so latency includes the
//    client's own queueing (an upper bound) and the window drains between
//    slices.
#pragma once

#include "bench/load/hub_process.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>

namespace focal::bench {

enum class SenderApi { Raw, Library };

struct LoadConfig {
  std::size_t bodyBytes = 1024;
  std::size_t recipients = 1;
  std::size_t clients = 8;
  std::size_t count = 20000;
  double rate = 0;         // bulletins/s over all senders; 0 = as fast as possible
  std::size_t idle = 0;    // extra idle authenticated connections
  std::size_t window = 64; // requests in flight per sender
  std::size_t ackEvery = 256;
  SenderApi api = SenderApi::Raw;
  // After the last sender finished, receivers give up this long after their
  // last push (what is missing is then reported, not waited for forever).
  std::chrono::milliseconds drainTimeout{10'000};
  // Per-member connection cap to plan idle connections with when the hub's
  // configuration is unknown (--hub).
  std::size_t perMemberCap = 0;  // 0 = the hub's (or the default) limit
  // perf.data file for a `perf record` of the hub during the timed part
  // (our own hub only); empty = no profile.
  std::string perfOutput;
};

// Runs one load and returns the result document (see main.cpp for keys).
// Throws on setup failure; failures during the run are reported in the
// document's "errors".
nlohmann::json runBulletinLoad(const HubTarget& hub, const LoadConfig& config);

}  // namespace focal::bench
