// Gossip of log heads inside bulletins, comments, and beside acks and
// decisions (PROTOCOL.md §11.4), and what this client does with a fork it
// catches (§11.5).
//
// Every bulletin this client seals carries its latest verified head in the
// encrypted Content, so the hub cannot tell which bulletin carries which
// head: it can only drop whole bulletins, which senders see in `status`.
// A receiver checks the carried head against its own verified log:
//   * signed by the hub key the own log's genesis names, for the same hub
//     id; otherwise "invalid" (no hub signature: no evidence against the
//     hub, only noted);
//   * size <= own size: own entryHash(size-1) must equal its root;
//   * larger: the log is synced from the hub first (VerifiedLog::sync); a
//     hub that still serves fewer entries leaves it "unconfirmed" (noted,
//     not a fork: the hub may be slow, or hiding entries from this view);
//   * a conflict of two hub-signed heads is a FORK: the proof (both heads
//     and the evidence, protocol/fork_proof.hpp) is written atomically to
//     PROFILE/log/HUBID/fork.json and VerifyError is thrown with the alarm.
// While fork.json exists VerifiedLog::sync refuses (VerifyError, exit 3),
// so no command seals to, or verifies a bulletin with, any key of that hub
// until a person runs `focal verify-log --clear-fork`.
#pragma once

#include "client/bulletin_reader.hpp"
#include "client/connection.hpp"
#include "client/member_record.hpp"
#include "client/verified_log.hpp"
#include "protocol/carried_head.hpp"
#include "protocol/fork_proof.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace focal::client {

// What a receiver found in a carried head (no value for a fork: that throws).
enum class CarriedHeadCheck { None, Consistent, Unconfirmed, Invalid };
const char* carriedHeadCheckName(CarriedHeadCheck c);  // "", "consistent", "unconfirmed", "invalid"

// Checks `m`'s carried head (see above) against the connection's verified
// log (syncing it when the head is larger), sets m.carriedHeadCheck and
// returns the verdict. On a fork: records it and throws VerifyError.
CarriedHeadCheck checkCarriedHead(Connection& c, OpenedMessage& m);

// The head this client carries in what it seals (a comment's payload,
// protocol::makeComment): the connection's verified head, as the hub signed
// it; nullopt when there is none.
std::optional<protocol::SignedHead> headToCarry(const Connection& c);

// headToCarry(c) signed for `subject` (the bulletin acknowledged, the
// proposal decided) and sealed to `checker` (its sender, the proposer):
// what an ack or decision carries beside it (protocol/carried_head.hpp).
// nullopt when the connection has no verified head.
std::optional<crypto::Bytes> sealedHeadFor(const Connection& c, protocol::HeadCarrier carrier, crypto::ByteView subject,
                                           const crypto::BoxPublicKey& checker, const crypto::Keyring& me);

// A sealed head `author` carried beside an ack or decision on `subject`,
// sealed to this client: opened with `me`, its signature checked under any
// identity key `author` held, then checked against `log` as
// checkCarriedHead below ("invalid" when it does not open or verify: no
// evidence against the hub). `carrier` names it in a fork proof. On a fork:
// records it and throws VerifyError.
CarriedHeadCheck checkSealedHead(const VerifiedLog& log, protocol::HeadCarrier carrier, crypto::ByteView sealed,
                                 crypto::ByteView subject, const MemberRecord& author, const crypto::Keyring& me,
                                 const std::string& carrierName);

// The same for a head another record carried (a comment's sealed payload,
// PROTOCOL.md §12.4) against `log` as just synced, without the network: a
// head larger than `log` is "unconfirmed". `carrier` names the record for
// the fork proof's note. On a fork: records it and throws VerifyError.
CarriedHeadCheck checkCarriedHead(const VerifiedLog& log, const SignedHeadBytes& carried, const std::string& carrier);

// The verdict of a carried head against `log` as it stands, without the
// network: nullopt when it is larger than `log`. When the heads conflict
// `fork` is set to the proof (and None returned). (The part of checkCarriedHead a benchmark
// measures.)
std::optional<CarriedHeadCheck> compareCarriedHead(const VerifiedLog& log, const SignedHeadBytes& carried,
                                                   std::optional<protocol::ForkProof>& fork);

// PROFILE/log/HUBID/fork.json, given the log's state directory.
std::filesystem::path forkFile(const std::filesystem::path& logStateDir);
// The recorded fork of this log (nullopt: none). A damaged record is
// reported as one (VerifyError): a person must look at it either way.
std::optional<protocol::ForkProof> loadRecordedFork(const std::filesystem::path& logStateDir);
// The alarm naming the two heads, the note (who carried the other head)
// and what to do.
std::string forkAlarm(const protocol::ForkProof& proof);
// Thrown by VerifiedLog::sync while a fork is recorded.
void refuseIfForked(const std::optional<std::filesystem::path>& logStateDir);

}  // namespace focal::client
