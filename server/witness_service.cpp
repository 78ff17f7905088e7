// The hub's side of witnessing (server/witness_service.hpp).
#include "server/witness_service.hpp"

#include "protocol/signing.hpp"
#include "server/policy.hpp"

#include <spdlog/spdlog.h>

namespace focal::server {

using wire::ErrorCode;

Result<Ok> WitnessService::check(const Caller& caller, const protocol::Cosignature& c, std::int64_t nowMs) const {
  const auto& policy = directory_.witnessPolicy();
  const protocol::WitnessKey* witness = policy.find(caller.memberId);
  if (witness == nullptr) return fail(ErrorCode::FORBIDDEN, "member " + caller.memberId + " is not a witness of this log");
  if (c.witnessId != caller.memberId) {
    return fail(ErrorCode::FORBIDDEN, "a witness submits only its own cosignatures");
  }
  if (!crypto::verify(protocol::context::Cosign, protocol::cosignMessage(c.head, c.cosignedAtMs), c.signature,
                      witness->key)) {
    return fail(ErrorCode::BAD_SIGNATURE, "the cosignature does not verify under the witness key the log names");
  }
  auto head = protocol::checkCosignature(policy, directory_.hubId(), directory_.hubKey(), c);
  if (!head) return fail(ErrorCode::INVALID_REQUEST, "not a head this hub signed: " + head.error());
  if (head->size != directory_.size() || !(head->root == directory_.root())) {
    return fail(ErrorCode::STALE_POSITION, "the cosigned head (" + std::to_string(head->size) +
                                               " entries) is not this hub's current head (" +
                                               std::to_string(directory_.size()) + "): re-sync and cosign again");
  }
  return checkClockSkew(c.cosignedAtMs, nowMs, "cosignedAtMs");
}

net::awaitable<Result<std::int64_t>> WitnessService::cosign(Caller caller, protocol::Cosignature c) {
  const std::int64_t now = clock_.nowMs();
  if (auto ok = check(caller, c, now); !ok) {
    audit_.audit("witness.refused", caller.memberId, caller.remote, ok.error().message);
    co_return fail(ok.error());
  }
  const std::uint64_t size = directory_.size();
  auto shared = std::make_shared<const protocol::Cosignature>(c);
  auto done = co_await commits_.submit(store::StoreCosignature{size, shared}, net::use_awaitable);
  if (!done) co_return fail(done.error());
  // The head may have grown while the write ran: the cosignature is kept,
  // but served only with a head of the size it cosigns.
  if (directory_.size() == size) directory_.addCosignature(std::move(c));
  spdlog::info("witness {} cosigned the head of {} entries", caller.memberId, size);
  co_return now;
}

}  // namespace focal::server
