// The forms in which a canary secret could leak into a file, a log or a
// process's memory: raw, hex (both cases), and base64 at each of the three
// byte alignments (the stable middle of each encoding). Shared by the
// at-rest canary test (unit) and the memory canary test (integration).
#pragma once

#include "crypto/types.hpp"

#include <cctype>
#include <string>
#include <vector>

namespace focal::reliability {

inline std::vector<std::string> canaryForms(const std::string& secret) {
  std::vector<std::string> out{secret, crypto::toHex(crypto::asBytes(secret))};
  std::string upper = out[1];
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  out.push_back(upper);
  for (int pad = 0; pad < 3; ++pad) {
    const std::string shifted = std::string(static_cast<std::size_t>(pad), 'x') + secret;
    const std::string b64 = crypto::toBase64(crypto::asBytes(shifted));
    out.push_back(b64.substr(4, b64.size() - 8));
  }
  return out;
}

}  // namespace focal::reliability
