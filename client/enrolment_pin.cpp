#include "client/enrolment_pin.hpp"

#include "client/client_error.hpp"
#include "client/profile.hpp"
#include "crypto/keyfile.hpp"
#include "crypto/primitives.hpp"
#include "crypto/secure_file.hpp"

#include <fmt/format.h>


namespace focal::client {

namespace fs = std::filesystem;

namespace {

constexpr const char* BundleFile = "bundle.json";
constexpr const char* CaFile = "hub-ca.pem";

std::string short16(const crypto::Hash256& h) { return crypto::toHex(h).substr(0, 16); }

// "k of [id key16, ...]" for the alarm.
std::string describePolicy(const protocol::WitnessPolicy& p) {
  std::string out = fmt::format("{} of [", p.threshold);
  for (std::size_t i = 0; i < p.witnesses.size(); ++i) {
    out += fmt::format("{}{} {}", i ? ", " : "", p.witnesses[i].memberId, crypto::toHex(p.witnesses[i].key).substr(0, 16));
  }
  return out + "]";
}

}  // namespace

std::optional<protocol::EnrolmentBundle> loadPinnedBundle(const fs::path& profileDir) {
  const fs::path file = profileDir / BundleFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  // Bounded like the bundle profile init accepted: a file grown or replaced
  // since is refused, never read whole.
  std::string text;
  std::string problem;
  try {
    const auto bytes = crypto::readFileLimited(file, protocol::MaxEnrolmentBundleBytes);
    text.assign(bytes.begin(), bytes.end());
  } catch (const std::runtime_error& e) {
    problem = e.what();
  }
  auto b = protocol::parseEnrolmentBundle(text);
  if (!problem.empty() || !b) {
    throw VerifyError(fmt::format("the enrolment bundle pinned in {} cannot be read ({}); restore it or enrol again",
                                  file.string(), !problem.empty() ? problem : b.error().message));
  }
  return std::move(b).value();
}

fs::path pinBundle(const fs::path& profileDir, const std::string& text, const protocol::EnrolmentBundle& bundle) {
  const fs::path ca = profileDir / CaFile;
  writeFileAtomic(ca, bundle.caPem, 0644);
  writeFileAtomic(profileDir / BundleFile, text, 0644);
  return ca;
}

Expected<Ok, std::string> checkPin(const protocol::EnrolmentBundle& pin, std::string_view hubId,
                                   const crypto::SigningPublicKey& hubKey, const LogVerifier& log, bool complete) {
  if (hubId != pin.hubId) {
    return unexpected(fmt::format("the hub calls itself '{}' but the enrolment bundle pins hub '{}'", hubId, pin.hubId));
  }
  if (!(hubKey == pin.hubKey)) {
    return unexpected(fmt::format("the hub presents signing key {} but the enrolment bundle pins hub key {}",
                                  crypto::fingerprint(hubId, hubKey),
                                  crypto::fingerprint(hubId, pin.hubKey)));
  }
  const auto& hashes = log.entryHashes();
  if (!hashes.empty() && !(hashes[0] == pin.genesisHash)) {
    return unexpected(fmt::format("the log's genesis entry has hash {} but the enrolment bundle pins genesis {} "
                                  "(another log than the one you enrolled with)",
                                  short16(hashes[0]), short16(pin.genesisHash)));
  }
  // SECURITY: a version-2 bundle pins the witness policy it names (and
  // whose cosignatures it carries): a log whose genesis names other
  // witnesses or another threshold is another log, whatever its hash.
  if (!hashes.empty() && pin.version >= 2 && !(log.witnessPolicy() == pin.witnesses)) {
    return unexpected(fmt::format("the log's genesis names a witness policy ({}) other than the one the enrolment "
                                  "bundle pins ({})",
                                  describePolicy(log.witnessPolicy()), describePolicy(pin.witnesses)));
  }
  if (!complete) return Ok{};
  if (log.size() < pin.headSize) {
    return unexpected(fmt::format("the hub shows {} entries, fewer than the {} of the head the enrolment bundle pins "
                                  "(rolled back or withheld)",
                                  log.size(), pin.headSize));
  }
  if (!(hashes[pin.headSize - 1] == pin.headRoot)) {
    return unexpected(fmt::format("the log does not extend the head the enrolment bundle pins: entry {} has hash {}, "
                                  "the bundle's head root is {}",
                                  pin.headSize - 1, short16(hashes[pin.headSize - 1]), short16(pin.headRoot)));
  }
  return Ok{};
}

}  // namespace focal::client
