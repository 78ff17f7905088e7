// A fork proof (PROTOCOL.md §11.5): two heads of one hub's directory log,
// both signed by the hub key, that cannot both be true. Anyone holding only
// the hub's public key (which the proof names, to compare with a pinned one)
// can check it: `focal verify-log --proof FILE`; a client that caught a fork
// (client/log_gossip.hpp) writes one.
//
// Let S be the smaller head (sizes s <= l), L the larger. The proof carries
// X = entryHash(s - 1) of L's log and L's entries s .. l-1 (the fields the
// entry hash covers). The checker recomputes the chain from X over those
// entries; it must give L's root, so L committed to a log whose entry s-1
// hashes to X. The proof holds iff X differs from S's root. Equal sizes:
// no entries, X = L's root. The entries' author signatures are not checked:
// the claim rests on the hub's two signatures and the hash chain alone.
//
// SECURITY: the file is attacker-supplied: read bounded (MaxForkProofBytes),
// every field of a fixed type and length, unknown fields refused.
#pragma once

#include "crypto/types.hpp"
#include "protocol/log.hpp"
#include "protocol/message.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace focal::protocol {

inline constexpr std::string_view ForkProofFormat = "focal-fork-proof";
inline constexpr int ForkProofVersion = 1;
// A proof over a few hundred entries is well under 1 MiB (an event is at
// most 64 KiB, hex doubles it); larger files are refused unread.
inline constexpr std::size_t MaxForkProofBytes = 16u * 1024 * 1024;
// Entries between the two sizes a proof may carry.
inline constexpr std::size_t MaxForkProofEntries = 65536;
// The free-text note (who carried the other head, when): not verified.
inline constexpr std::size_t MaxForkProofNoteBytes = 4096;

// The fields entryHash (§11) covers, for entry `index`.
struct ProofEntry {
  std::uint64_t index = 0;
  std::int64_t recordedAtMs = 0;
  crypto::SigningPublicKey authorKey;
  Bytes event;  // LogEvent bytes
  crypto::Signature signature;
};

struct ForkProof {
  std::string hubId;
  crypto::SigningPublicKey hubKey;
  SignedHead smaller;  // LogHead bytes + the hub's signature
  SignedHead larger;   // size >= smaller's
  crypto::Hash256 largerHashAtSmallerSize;  // X above
  std::vector<ProofEntry> entries;          // larger's entries smaller.size .. larger.size-1
  std::string note;                         // for people; not part of the proof
};

// One head of a checked proof.
struct ProofHeadFacts {
  std::uint64_t size = 0;
  crypto::Hash256 root;
  std::int64_t timeMs = 0;
};
struct ForkFacts {
  std::string hubId;
  crypto::SigningPublicKey hubKey;
  ProofHeadFacts smaller;
  ProofHeadFacts larger;
  crypto::Hash256 largerHashAtSmallerSize;
};

// JSON, two-space indented, ending in a newline.
std::string renderForkProof(const ForkProof& proof);
// Syntax only (sizes, types, lengths, no unknown field). Error: what is wrong.
Expected<ForkProof, std::string> parseForkProof(std::string_view text);
// The proof itself: both heads verify under hubKey and name hubId, the
// chain recomputes to the larger root, and the two heads conflict. Error:
// why this is not a proof of a fork.
[[nodiscard]] Expected<ForkFacts, std::string> checkForkProof(const ForkProof& proof);

}  // namespace focal::protocol
