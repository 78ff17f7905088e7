// The enrolment bundle (PROTOCOL.md §11.3): the public material an operator
// hands a new point of contact so that its first connect does not trust the
// log it is shown (issue 26, "Enrolment pins the genesis"). `focald bundle`
// renders it, `focal profile init --bundle` parses and pins it; both use this
// one definition of the format.
//
// parseEnrolmentBundle checks everything that can be checked without the hub:
// size, syntax, version, the head's signature under the bundle's hub key and
// that the head's fields are the ones the JSON states, the genesis hash
// against the head of a one-entry log, and (version 2) the witness policy's
// syntax and every cosignature of the head under the policy's keys. It does
// NOT check the CA certificate
// (the TLS layer loads it) nor that the hub's log extends the head (that
// needs the hub: client/verified_log.cpp, on every verification).
#pragma once

#include "crypto/types.hpp"
#include "protocol/message.hpp"
#include "protocol/witness.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace focal::protocol {

inline constexpr std::string_view EnrolmentBundleFormat = "focal-enrolment-bundle";
// Version written; version 1 (no witnesses) is still read.
inline constexpr int EnrolmentBundleVersion = 2;
// A bundle is a few KiB (the CA certificate is most of it); anything larger
// is refused before it is parsed.
inline constexpr std::size_t MaxEnrolmentBundleBytes = 64 * 1024;

struct EnrolmentBundle {
  int version = EnrolmentBundleVersion;  // as read; rendering always writes the current one
  std::string hubId;
  std::string hubAddress;  // HOST:PORT clients connect to
  crypto::SigningPublicKey hubKey;
  std::string caPem;  // the TLS certificate (or CA) clients pin
  crypto::Hash256 genesisHash;  // entryHash(0)
  // The latest signed head when the bundle was made: the floor the client's
  // log must reach and extend.
  Bytes headBytes;  // LogHead bytes as signed
  crypto::Signature headSignature;
  std::uint64_t headSize = 0;
  crypto::Hash256 headRoot;
  std::int64_t headTimeMs = 0;
  // Version 2: the witness policy the genesis names (PROTOCOL.md §11.6),
  // pinned, and the hub's stored cosignatures of heads of headSize entries
  // and root headRoot (possibly fewer than the threshold). Version 1: none.
  WitnessPolicy witnesses;
  std::vector<Cosignature> headCosignatures;
};

enum class BundleError {
  TooLarge,          // over MaxEnrolmentBundleBytes
  Malformed,         // not JSON, a field missing, of the wrong type or length, an unknown field
  UnsupportedFormat,  // another format name or version
  BadHeadSignature,  // the head does not verify under the bundle's hub key
  HeadMismatch,      // the signed head says other things than the JSON fields
  GenesisMismatch,   // a one-entry head whose root is not the genesis hash
  WitnessesUnsupported,  // a version-1 bundle naming witness keys or a threshold
  BadCosignature,    // a cosignature not by a policy witness, not verifying, of another head, or twice
};
// "bundle-too-large", "bundle-malformed", ...: the typed error names.
const char* bundleErrorName(BundleError e);

struct BundleRefusal {
  BundleError code;
  std::string message;
};

// JSON, two-space indented, ending in a newline.
std::string renderEnrolmentBundle(const EnrolmentBundle& b);
Expected<EnrolmentBundle, BundleRefusal> parseEnrolmentBundle(std::string_view text);

}  // namespace focal::protocol
