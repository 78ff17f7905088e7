#include "client/verified_contacts.hpp"

#include "crypto/secure_file.hpp"

#include <nlohmann/json.hpp>

#include <system_error>

namespace focal::client {

namespace fs = std::filesystem;

const char* standingName(ContactStanding s) {
  switch (s) {
    case ContactStanding::Unverified: return "unverified";
    case ContactStanding::Verified: return "verified";
    case ContactStanding::KeyChanged: return "key-changed";
  }
  return "unverified";
}

VerifiedContacts VerifiedContacts::load(const fs::path& file) {
  VerifiedContacts v;
  v.file_ = file;
  std::error_code ec;
  if (!fs::exists(file, ec)) return v;
  try {
    const auto bytes = crypto::readFileLimited(file, MaxVerifiedContactsBytes);
    const auto j = nlohmann::json::parse(bytes.begin(), bytes.end());
    for (const auto& [id, fp] : j.at("verified").items()) v.verified_[id] = fp.get<std::string>();
  } catch (const std::exception& e) {
    v.verified_.clear();
    v.warning_ = file.string() + " is damaged (" + e.what() + "): verify your contacts again (focal verify MEMBER)";
  }
  return v;
}

ContactStanding VerifiedContacts::standing(const std::string& memberId, const std::string& fingerprint) const {
  const auto it = verified_.find(memberId);
  if (it == verified_.end()) return ContactStanding::Unverified;
  return it->second == fingerprint ? ContactStanding::Verified : ContactStanding::KeyChanged;
}

void VerifiedContacts::markVerified(const std::string& memberId, const std::string& fingerprint) {
  verified_[memberId] = fingerprint;
  nlohmann::json j;
  j["verified"] = nlohmann::json::object();
  for (const auto& [id, fp] : verified_) j["verified"][id] = fp;
  crypto::writeFileAtomic(file_, j.dump(2) + "\n", 0600);
}

}  // namespace focal::client
