// focal-gossip-bench: what gossip of log heads (PROTOCOL.md §11.4) costs per
// bulletin. Bytes: the same 1 KiB bulletin sealed without and with the
// sender's signed head in its Content (the ciphertext grows by exactly the
// plaintext's growth). CPU at the receiver: opening that bulletin
// (protocol::openBulletin) without and with the head, and checking a
// carried head against a verified log of N entries (the check
// client::compareCarriedHead makes: the head's signature and one lookup
// in the kept entry hashes). Beside acks and decisions: sealing a head for
// one bulletin (protocol::sealCarriedHead: one signature, one
// crypto_box_seal) and opening it at the sender (openCarriedHead), and the
// sealed head's size.
//
//   focal-gossip-bench [ITERATIONS] [LOG_ENTRIES]
//
// Figures for bench/RESULTS.md, never assertions.
#include "client/log_verifier.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/carried_head.hpp"
#include "protocol/log.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace focal;

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::int64_t T0 = 1'700'000'000'000;

template <typename F>
double microsEach(int iterations, F&& f) {
  std::vector<double> runs;
  for (int r = 0; r < 5; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < iterations; ++i) f();
    runs.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count() / iterations);
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];  // the median of 5
}

}  // namespace

int main(int argc, char** argv) {
  crypto::initialize();
  const int iterations = argc > 1 ? std::max(1, std::atoi(argv[1])) : 2'000;
  const std::size_t logEntries = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1'000;

  // The entry hashes a receiver keeps for a log of `logEntries` entries
  // (their content does not matter to the check: only the chain).
  const std::string hubId = "asean-wgcc";  // a realistic id length
  auto hub = crypto::SigningKeyPair::generate();
  std::vector<crypto::Hash256> hashes;
  crypto::Hash256 prev = protocol::logGenesisPrev();
  const crypto::Bytes event(300, 0x42);
  for (std::size_t i = 0; i < logEntries; ++i) {
    prev = protocol::logEntryHash(i, prev, T0 + static_cast<std::int64_t>(i), event, hub.publicKey, crypto::Signature{});
    hashes.push_back(prev);
  }
  // The sender's head at 3/4 of the log (the receiver is ahead: a lookup).
  const std::uint64_t carriedSize = std::max<std::uint64_t>(1, logEntries * 3 / 4);
  const auto signedHead = protocol::signLogHead(hubId, carriedSize, hashes[carriedSize - 1], T0, hub.secretKey);
  const client::SignedHeadBytes carried{signedHead.head,
                                        crypto::Bytes(signedHead.signature.view().begin(), signedHead.signature.view().end())};

  // The same 1 KiB bulletin to one recipient, without and with the head.
  auto sender = crypto::MemberKeys::generate("sg-spf-cyber", T0);
  auto recipient = crypto::MemberKeys::generate("my-pdrm-cyber", T0);
  protocol::BulletinDraft draft;
  draft.hubId = hubId;  // seal v2 binds the hub id
  draft.tlp = wire::Tlp::AMBER;
  draft.category = wire::Category::TREND;
  draft.title = "Phishing kit targeting banks";
  draft.body = std::string(1024, 'x');
  draft.addresses = {recipient.memberId};
  draft.recipients = {protocol::RecipientKey{recipient.memberId, recipient.encryption.publicKey}};
  const auto key = crypto::ContentKey::random();
  auto plain = protocol::sealBulletin(draft, sender, key, T0);
  draft.logHead = carried.head;
  draft.logHeadSignature = carried.signature;
  auto gossip = protocol::sealBulletin(draft, sender, key, T0);
  if (!plain || !gossip) {
    std::fprintf(stderr, "sealing failed: %s\n", protocol::describe(!plain ? plain.error() : gossip.error()));
    return 1;
  }
  std::printf("content bytes: %zu without a head, %zu with (+%zu); LogHead %zu bytes + signature 64\n",
              plain->ciphertext.size(), gossip->ciphertext.size(), gossip->ciphertext.size() - plain->ciphertext.size(),
              carried.head.size());

  const auto open = [&](const protocol::SealedBulletin& s) {
    auto o = protocol::openBulletin(s.header, s.signature, s.ciphertext, sender.identity.publicKey, recipient);
    if (!o) std::abort();
  };
  const double openPlain = microsEach(iterations, [&] { open(*plain); });
  const double openGossip = microsEach(iterations, [&] { open(*gossip); });
  const double check = microsEach(iterations, [&] {
    auto info = client::parseSignedHead(carried, hub.publicKey);
    if (!info || !(hashes[info->size - 1] == info->root)) std::abort();
  });
  std::printf("open 1 KiB bulletin: %.1f us without a head, %.1f us with (median of 5 x %d)\n", openPlain, openGossip,
              iterations);
  std::printf("check a carried head against a %zu-entry verified log: %.1f us\n", logEntries, check);

  // An ack's sealed head: made by the recipient, opened by the sender.
  const crypto::Keyring acker(recipient);
  const crypto::Keyring checker(sender);
  const protocol::SignedHead head{signedHead.head, signedHead.signature};
  const auto subject = plain->id;
  const auto sealed = protocol::sealCarriedHead(protocol::HeadCarrier::Ack, subject.view(), head,
                                                sender.encryption.publicKey, acker);
  const double seal = microsEach(iterations, [&] {
    auto b = protocol::sealCarriedHead(protocol::HeadCarrier::Ack, subject.view(), head, sender.encryption.publicKey, acker);
    if (b.empty()) std::abort();
  });
  const double openSealed = microsEach(iterations, [&] {
    auto o = protocol::openCarriedHead(protocol::HeadCarrier::Ack, sealed, subject.view(), recipient.memberId,
                                       recipient.identity.publicKey, checker);
    if (!o) std::abort();
  });
  std::printf("ack head: %zu bytes sealed; seal %.1f us per acknowledged bulletin, open + verify %.1f us at the sender\n",
              sealed.size(), seal, openSealed);
  return 0;
}
