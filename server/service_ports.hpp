// The narrow interfaces the request services are given at construction, so
// that nothing below the Hub calls back up into it (ARCHITECTURE.md,
// "Services"): who is asking (Caller), the delivery side of the session
// registry (DeliveryNotifier), closing sessions the directory no longer
// allows (MemberSessions), the audit trail (AuditSink), and the count of
// requests in flight (RequestGauge). Hub implements the first two; the
// others are small concrete things it owns.
#pragma once

#include "crypto/types.hpp"
#include "server/store.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace focal::server {

// The authenticated member a request comes from (from the session, never
// from the request).
struct Caller {
  std::string memberId;
  crypto::SigningPublicKey identityKey;
  std::string remote;  // "address:port", for the audit trail
};

// A signed record as the wire layer checked it: its size, and its signature
// over these exact bytes under the caller's identity key.
struct SignedBody {
  crypto::Bytes body;
  crypto::Bytes signature;
  // A decision's sealed head (decideWithHead, PROTOCOL.md §11.4): opaque to
  // the hub, kept beside the record; empty = none.
  crypto::Bytes sealedHead{};
};

// What a record request answers: the record's id and when it was recorded.
struct Recorded {
  crypto::BulletinId id;
  std::int64_t atMs = 0;
};

// Pushes and delivered marks (implemented by the Hub's session registry).
class DeliveryNotifier {
 public:
  // Pushes a just-committed bulletin to every online, subscribed session of
  // its recipients and records the delivery. `forward` / `retraction`: the
  // records a forward or a retraction announcement carries (nullptr for a
  // plain bulletin).
  virtual void pushDeliveries(const std::vector<QueuedDelivery>& queued, std::int64_t queuedAtMs,
                              crypto::ByteView header, crypto::ByteView signature, crypto::ByteView ciphertext,
                              const StoredRecord* forward = nullptr, const StoredRecord* retraction = nullptr) = 0;
  // Sets delivered_at (now) for these queue entries, batched through the writer.
  virtual void markDelivered(const std::vector<std::int64_t>& seqs) = 0;
  // Fills in delivered times gathered or in the writer but not committed yet.
  virtual void mergeUncommittedMarks(BulletinStatus& status) const = 0;

 protected:
  ~DeliveryNotifier() = default;
};

// Closes the sessions of `memberId` that the directory no longer allows
// (member or key revoked, identity key replaced).
class MemberSessions {
 public:
  virtual void enforceDirectory(const std::string& memberId) = 0;

 protected:
  ~MemberSessions() = default;
};

// Appends a row to the hash-chained audit trail without waiting for it.
class AuditSink {
 public:
  virtual void audit(std::string event, std::string actor, std::string remote, std::string detail) = 0;

 protected:
  ~AuditSink() = default;
};

// Requests of sessions now being served (Session counts them): the send
// path verifies inline when its own is the only one, and shutdown waits
// for them. io thread only.
class RequestGauge {
 public:
  void started() { ++inFlight_; }
  void finished() { --inFlight_; }
  std::size_t inFlight() const { return inFlight_; }

 private:
  std::size_t inFlight_ = 0;
};

}  // namespace focal::server
