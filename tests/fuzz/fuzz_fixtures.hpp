// Fixed keys, members and times shared by the fuzz harnesses and the seed
// generator (make_seeds.cpp), so that committed seeds stay valid: a seed
// bulletin is signed by FixedSender and addressed to FixedRecipient, both
// derived from constant seeds here, never from randomness.
//
// These keys are public test material. Nothing outside tests/fuzz uses them.
#pragma once

#include "crypto/keyfile.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace focal::fuzz {

// The hub clock of the handler harness and the createdAt of every seed
// bulletin: seeds never go stale (the harness's clock does not move).
inline constexpr std::int64_t FixedNowMs = 1'700'000'000'000;

// Passphrase of every key file in corpus/keyfile.
inline constexpr std::string_view KeyFilePassphrase = "fuzz passphrase";

inline crypto::SigningKeyPair fixedSigning(std::uint8_t seed) {
  crypto::SigningSecretKey sk;  // fromSecret reads the first 32 bytes (the seed)
  for (std::size_t i = 0; i < 32; ++i) sk.data()[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return crypto::SigningKeyPair::fromSecret(std::move(sk));
}

inline crypto::BoxKeyPair fixedBox(std::uint8_t seed) {
  crypto::BoxSecretKey sk;
  for (std::size_t i = 0; i < 32; ++i) sk.data()[i] = static_cast<std::uint8_t>(seed * 17 + 3 * i + 1);
  return crypto::BoxKeyPair::fromSecret(std::move(sk));
}

inline crypto::MemberKeys fixedMember(std::string id, std::uint8_t seed, int previousKeys = 0) {
  crypto::MemberKeys k;
  k.memberId = std::move(id);
  k.identity = fixedSigning(seed);
  k.encryption = fixedBox(seed);
  k.createdAtMs = FixedNowMs - 86'400'000;
  for (int i = 0; i < previousKeys; ++i) k.previousEncryption.push_back(fixedBox(static_cast<std::uint8_t>(seed + 100 + i)));
  return k;
}

// The sender of seed bulletins; in the handler harness also an admin, and
// the member the fuzzed session is authenticated as.
inline crypto::MemberKeys fixedSender() { return fixedMember("fz-alice", 1); }
// The recipient whose keys open bulletins in bulletin_fuzz; holds one
// encryption key from before a rotation, so both unwrap paths are reachable.
inline crypto::MemberKeys fixedRecipient() { return fixedMember("fz-bob", 2, 1); }
// A second recipient (the bulletin is not only for us).
inline crypto::MemberKeys fixedOther() { return fixedMember("fz-carol", 3); }

// A fourth member the handler harness registers at start, so that a seed
// can rotate its key whatever order the seeds run in.
inline crypto::MemberKeys fixedRotated() { return fixedMember("fz-dave", 4); }

// Fixed ids for bulletins of the seeds (n < 200) and of the handler
// harness's start-up (n >= 200).
inline crypto::BulletinId fixedId(std::uint8_t n) {
  crypto::BulletinId id;
  for (std::size_t i = 0; i < id.size; ++i) id.bytes[i] = static_cast<std::uint8_t>(n + 7 * i);
  return id;
}
// The blob that the handler harness uploads as fz-alice at start, and the
// bulletin (fixedId(HubBulletinWithBlob), to fz-alice and fz-bob) it sends with it: the
// download and send-with-attachment seeds refer to them, whatever order
// libFuzzer runs the seeds in (it sorts them by size).
inline crypto::Bytes fixedBlob() { return crypto::Bytes(1000, 0x42); }
inline constexpr std::uint8_t HubBulletinWithBlob = 200;

// The plaintext payload of a private key file (PROTOCOL.md §"Key files"):
//   u16 len(memberId) | memberId | i64 createdAtMs | identity sk (64)
//   | encryption sk (32) | u16 n | n x previous encryption sk (32)
inline crypto::Bytes keyFilePayload(const crypto::MemberKeys& k) {
  crypto::Bytes p;
  const auto u16 = [&p](std::size_t v) {
    p.push_back(static_cast<std::uint8_t>(v >> 8));
    p.push_back(static_cast<std::uint8_t>(v));
  };
  u16(k.memberId.size());
  p.insert(p.end(), k.memberId.begin(), k.memberId.end());
  for (int i = 0; i < 8; ++i) p.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(k.createdAtMs) >> (56 - 8 * i)));
  p.insert(p.end(), k.identity.secretKey.data(), k.identity.secretKey.data() + crypto::SigningSecretKey::size);
  p.insert(p.end(), k.encryption.secretKey.data(), k.encryption.secretKey.data() + crypto::BoxSecretKey::size);
  u16(k.previousEncryption.size());
  for (const auto& prev : k.previousEncryption) {
    p.insert(p.end(), prev.secretKey.data(), prev.secretKey.data() + crypto::BoxSecretKey::size);
  }
  return p;
}

}  // namespace focal::fuzz
