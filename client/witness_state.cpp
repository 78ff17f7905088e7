// The witness's memory of what it cosigned (client/witness_state.hpp).
#include "client/witness_state.hpp"

#include "client/client_error.hpp"
#include "client/verified_log.hpp"
#include "crypto/secure_file.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace focal::client {

std::filesystem::path witnessStatePath(const std::filesystem::path& profileDir, std::string_view hubId) {
  // logStateDir checks the hub id as an identifier (no path tricks).
  (void)logStateDir(profileDir, hubId);
  return profileDir / "witness" / (std::string(hubId) + ".json");
}

std::optional<WitnessState> loadWitnessState(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    if (!std::filesystem::exists(file)) return std::nullopt;
    throw VerifyError("cannot read the witness state " + file.string());
  }
  std::stringstream text;
  text << in.rdbuf();
  const auto damaged = [&] {
    return VerifyError("the witness state " + file.string() +
                       " is damaged; it records the last head this witness cosigned, so the witness stops "
                       "rather than risk cosigning a conflicting head (restore it from a backup)");
  };
  try {
    const auto j = nlohmann::json::parse(text.str());
    WitnessState s;
    s.hubId = j.at("hub_id").get<std::string>();
    s.size = j.at("size").get<std::uint64_t>();
    auto root = crypto::fromHex(j.at("root").get<std::string>());
    auto head = crypto::fromHex(j.at("head").get<std::string>());
    if (!root || !head) throw damaged();
    auto r = crypto::Hash256::fromBytes(*root);
    if (!r) throw damaged();
    s.root = *r;
    s.head = std::move(*head);
    s.cosignedAtMs = j.at("cosigned_at_ms").get<std::int64_t>();
    return s;
  } catch (const nlohmann::json::exception&) {
    throw damaged();
  }
}

void saveWitnessState(const std::filesystem::path& file, const WitnessState& s) {
  std::filesystem::create_directories(file.parent_path());
  const nlohmann::json j = {{"hub_id", s.hubId},
                            {"size", s.size},
                            {"root", crypto::toHex(s.root)},
                            {"head", crypto::toHex(s.head)},
                            {"cosigned_at_ms", s.cosignedAtMs}};
  crypto::writeFileAtomic(file, j.dump(2) + "\n", 0600);  // fsyncs the file and its directory
}

Expected<Ok, std::string> extendsCosigned(const WitnessState& last, const LogVerifier& log) {
  const auto& hashes = log.entryHashes();
  if (log.hubId() != last.hubId) {
    return unexpected(fmt::format("the log belongs to hub '{}', the state to '{}'", log.hubId(), last.hubId));
  }
  if (last.size == 0) return Ok{};
  if (log.size() < last.size) {
    return unexpected(fmt::format("the hub now shows a log of {} entries (root {}), but this witness cosigned a head of "
                                  "{} entries (root {}): a rolled-back or second view of the log",
                                  log.size(), crypto::toHex(log.root()), last.size, crypto::toHex(last.root)));
  }
  if (!(hashes.at(last.size - 1) == last.root)) {
    return unexpected(fmt::format("the hub now shows a log of {} entries (root {}) whose entry {} has hash {}, but this "
                                  "witness cosigned a head of {} entries with root {}: a second, conflicting view of "
                                  "the log",
                                  log.size(), crypto::toHex(log.root()), last.size - 1,
                                  crypto::toHex(hashes.at(last.size - 1)), last.size, crypto::toHex(last.root)));
  }
  return Ok{};
}

}  // namespace focal::client
